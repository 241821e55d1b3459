//! A [`Schedule`] read from an L1 preconfer source (`Lookahead` in opt-in mode, or `Whitelist`;
//! both implement `IPreconferSource`): the gateway may promise for `slot` iff
//! `preconferAt(slot).committer` is its committer. Without it, a gateway in front of an opt-in or
//! whitelist `Inbox` would promise for slots it cannot post in.
//!
//! `is_preconfer` is answered from a cache that [`SourceSchedule::refresh`] fills for a window of
//! slots (a background task refreshes it, since a lookahead is posted during the previous epoch);
//! an unknown slot is **not** the gateway's (refusing is always safe, promising is not).

use crate::Schedule;
use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, Bytes, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::{SolCall, sol};
use std::{collections::BTreeMap, sync::RwLock};

sol! {
    /// The interface the `Inbox` asks (contracts/src/IPreconferSource.sol).
    interface IPreconferSource {
        /// The preconfer of `slot` (both zero if none).
        function preconferAt(uint256 slot) external view returns (bytes32 pubkeyHash, address committer);
    }
}

/// The gateway's slots, read from a preconfer source on L1.
#[derive(Debug)]
pub struct SourceSchedule {
    source: Address,
    committer: Address,
    /// slot → committer of its preconfer (zero if none), as last read.
    slots: RwLock<BTreeMap<u64, Address>>,
}

impl SourceSchedule {
    /// A schedule for `committer` from the source contract at `source` (empty until refreshed).
    pub const fn new(source: Address, committer: Address) -> Self {
        Self { source, committer, slots: RwLock::new(BTreeMap::new()) }
    }

    /// Reads `preconferAt` for every slot in `from..=to` from L1 and forgets slots before `from`.
    pub async fn refresh<P: Provider>(&self, l1: &P, from: u64, to: u64) -> Result<(), String> {
        let mut read = BTreeMap::new();
        for slot in from..=to {
            let call = IPreconferSource::preconferAtCall { slot: U256::from(slot) };
            let tx = TransactionRequest::default()
                .with_to(self.source)
                .with_input(Bytes::from(call.abi_encode()));
            let out = l1.call(tx).await.map_err(|e| e.to_string())?;
            let ret = IPreconferSource::preconferAtCall::abi_decode_returns(&out)
                .map_err(|e| e.to_string())?;
            read.insert(slot, ret.committer);
        }
        let mut slots = self.slots.write().map_err(|_| "schedule lock poisoned".to_owned())?;
        *slots = slots.split_off(&from);
        slots.extend(read);
        Ok(())
    }

    /// The committer of `slot`'s preconfer as last read (`None`: not read).
    pub fn committer_of(&self, slot: u64) -> Option<Address> {
        self.slots.read().ok().and_then(|s| s.get(&slot).copied())
    }
}

impl Schedule for SourceSchedule {
    fn is_preconfer(&self, slot: u64) -> bool {
        self.committer_of(slot) == Some(self.committer)
    }
}

/// Keeps `schedule` current: every `every`, re-reads the slots from the current one (by `clock`)
/// to `window` slots ahead from the L1 node at `l1_url`. Stops when the handle is aborted.
pub fn spawn_refresher(
    schedule: std::sync::Arc<SourceSchedule>,
    l1_url: String,
    clock: based_lookahead::SlotClock,
    window: u64,
    every: std::time::Duration,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let url = l1_url.parse().map_err(|e| format!("L1 URL: {e}"))?;
    let l1 = alloy_provider::ProviderBuilder::new().connect_http(url);
    Ok(tokio::spawn(async move {
        loop {
            let from = clock.slot_at(crate::service::unix_now());
            if let Err(e) = schedule.refresh(&l1, from, from.saturating_add(window)).await {
                tracing::warn!(target: "gateway", error = %e, "preconfer schedule refresh failed");
            }
            tokio::time::sleep(every).await;
        }
    }))
}
