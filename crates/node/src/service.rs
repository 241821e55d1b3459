//! The node's long-running pieces: the driver thread, the status backend served over RPC and the
//! swappable transaction forwarder.

use crate::{
    driver::Driver,
    meta,
    preconf::{ChainPosition, Preconfirmations},
};
use alloy_primitives::{B256, Bytes, U64};
use based_derive::DerivationState;
use based_l1::{FinishedHeight, L1Heads, L1Notification};
use based_rpc::{
    BasedBackend, BasedSyncStatus, ForwardError, HttpForwarder, L1Origin, PreconfBackend,
    ProviderError, TxForwarder,
};
use based_storage::Store;
use std::{
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

/// Runs the driver until shutdown: applies each notification, then acknowledges it.
///
/// A failing notification is retried with backoff (store I/O can be transient); the driver
/// state is only replaced on success, so a retry starts from the same point.
pub(crate) fn run_driver(
    mut driver: Driver,
    mut notifications: mpsc::Receiver<L1Notification>,
    acks: mpsc::UnboundedSender<FinishedHeight>,
    backend: Arc<NodeBackend>,
    mut shutdown: watch::Receiver<bool>,
    runtime: tokio::runtime::Handle,
) {
    let mut last_log = Instant::now();
    let mut processed_since_log = 0u64;
    while !*shutdown.borrow() {
        // Block (this is the driver's own thread) until a notification or shutdown. Either way
        // out of the select without a notification ends the loop: the L1 source is gone, or
        // shutdown was requested (or its sender dropped).
        let next = runtime.block_on(async {
            tokio::select! {
                n = notifications.recv() => n,
                _ = shutdown.changed() => None,
            }
        });
        let Some(notification) = next else { break };
        let mut delay = Duration::from_millis(100);
        loop {
            match driver.apply(&notification) {
                Ok(()) => break,
                Err(e) => {
                    if matches!(
                        e,
                        crate::DriverError::Derive {
                            severity: based_derive::Severity::Critical,
                            ..
                        }
                    ) || matches!(e, crate::DriverError::ReorgTooDeep(_))
                    {
                        crate::report_fatal(&e);
                        backend.set_halted(e.to_string());
                        return;
                    }
                    warn!(target: "based::node", error = %e, retry_in_ms = delay.as_millis() as u64, "notification failed; retrying");
                    if *shutdown.borrow() {
                        return;
                    }
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
            }
        }
        let head = driver.state().l1_head();
        let _ = acks.send(FinishedHeight(alloy_eips::BlockNumHash {
            number: head.number,
            hash: head.hash,
        }));
        backend.refresh(driver.state());
        processed_since_log = processed_since_log.saturating_add(1);
        if last_log.elapsed() >= Duration::from_secs(5) {
            let status = backend.sync_status();
            info!(
                target: "based::node",
                l1_processed = status.l1_processed.to::<u64>(),
                l1_head = status.l1_head.to::<u64>(),
                l2_head = status.l2_head.to::<u64>(),
                l2_safe = status.l2_safe.to::<u64>(),
                notifications = processed_since_log,
                "sync progress"
            );
            last_log = Instant::now();
            processed_since_log = 0;
        }
    }
}

/// An L1 block that bounds the `safe` or `finalized` L2 head: its number, and its hash when it comes
/// from an L1 block tag (the `--l1.confirmations` margin has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct L1Point {
    number: u64,
    hash: Option<B256>,
}

/// The L1 blocks at or below which derived L2 blocks are `safe` and `finalized` (docs/node.md,
/// "Block tags"): `safe` is the L1 client's `safe` (justified) block, `finalized` its `finalized`
/// block. `confirmations` is only an extra margin for L1s without (real) finality: neither may be
/// closer than `confirmations` blocks to the L1 head `l1_head`, and an L1 that reports no `safe`
/// block falls back to `l1_head - confirmations`. An L1 that reports no `finalized` block finalizes
/// nothing (`None`). `finalized` is never above `safe`.
pub(crate) fn safe_and_finalized_l1(
    heads: &L1Heads,
    l1_head: u64,
    confirmations: u64,
) -> (Option<L1Point>, Option<L1Point>) {
    let margin = l1_head.saturating_sub(confirmations);
    let capped = |tag: alloy_eips::BlockNumHash, cap: u64| {
        if tag.number <= cap {
            L1Point { number: tag.number, hash: Some(tag.hash) }
        } else {
            L1Point { number: cap, hash: None }
        }
    };
    let safe = heads.safe.map_or(L1Point { number: margin, hash: None }, |s| capped(s, margin));
    let finalized = heads.finalized.map(|f| capped(f, safe.number));
    (Some(safe), finalized)
}

/// The highest L2 block derived from L1 blocks at or below `point`. `tip` is the node's processed
/// L1 block (number, hash) and its L2 head; `lookup(n)` the stored state after L1 block `n` (its L1
/// hash and L2 head). Above the tip everything derived so far counts; a point the node holds with
/// another hash gives `None` (the node's branch is not the L1's); a point without a stored state
/// (before the derivation start) gives genesis.
pub(crate) fn l2_derived_by(
    point: L1Point,
    tip: (u64, B256, u64),
    lookup: impl Fn(u64) -> Option<(B256, u64)>,
) -> Option<u64> {
    let (tip_number, tip_hash, tip_l2) = tip;
    let (hash, l2) = match point.number.cmp(&tip_number) {
        std::cmp::Ordering::Greater => return Some(tip_l2),
        std::cmp::Ordering::Equal => (tip_hash, tip_l2),
        std::cmp::Ordering::Less => match lookup(point.number) {
            Some(found) => found,
            None => return Some(0),
        },
    };
    match point.hash {
        Some(want) if want != hash => None,
        _ => Some(l2),
    }
}

/// Serves rollup status (`based_syncStatus`, `based_l1Origin`, the `safe`/`finalized` tags) and
/// the preconfirmed state (`pending`, `based_preconfirm*`).
#[derive(Debug)]
pub struct NodeBackend {
    store: Store,
    confirmations: u64,
    heads: watch::Receiver<L1Heads>,
    status: RwLock<BasedSyncStatus>,
    halted: RwLock<Option<String>>,
    preconf: Arc<Preconfirmations>,
}

impl NodeBackend {
    /// A backend over `store` with the L1 heads from the watcher and the preconfirmed state.
    pub fn new(
        store: Store,
        confirmations: u64,
        heads: watch::Receiver<L1Heads>,
        preconf: Arc<Preconfirmations>,
    ) -> Self {
        Self {
            store,
            confirmations,
            heads,
            status: RwLock::new(BasedSyncStatus::default()),
            halted: RwLock::new(None),
            preconf,
        }
    }

    /// The preconfirmed state.
    pub const fn preconfirmations(&self) -> &Arc<Preconfirmations> {
        &self.preconf
    }

    /// Recomputes the status after the driver reached `state`, and rebases the pending block on
    /// the new head.
    pub fn refresh(&self, state: &DerivationState) {
        self.preconf.rebase(ChainPosition::of(state));
        let heads = *self.heads.borrow();
        let processed = state.l1_head().number;
        let l1_head = heads.latest.map_or(processed, |h| h.number).max(processed);
        let l2_head = state.l2_head().number;
        let tip = (processed, state.l1_head().hash, l2_head);
        let lookup = |l1: u64| -> Option<(B256, u64)> {
            meta::load_state(&self.store, l1)
                .ok()
                .flatten()
                .map(|s| (s.l1_head().hash, s.l2_head().number))
        };
        let (safe_l1, finalized_l1) = safe_and_finalized_l1(&heads, l1_head, self.confirmations);
        let previous = self.sync_status();
        // A tagged L1 block the node holds with another hash (it is on a branch the L1 is leaving):
        // keep the previous value until the node follows the L1's chain again.
        let resolve = |point: Option<L1Point>, previous: U64| -> u64 {
            point.map_or(0, |p| {
                l2_derived_by(p, tip, lookup).unwrap_or_else(|| previous.to::<u64>()).min(l2_head)
            })
        };
        let l2_safe = resolve(safe_l1, previous.l2_safe);
        let l2_finalized = resolve(finalized_l1, previous.l2_finalized).min(l2_safe);
        let status = BasedSyncStatus {
            l1_head: U64::from(l1_head),
            l1_processed: U64::from(processed),
            l2_head: U64::from(l2_head),
            l2_safe: U64::from(l2_safe),
            l2_finalized: U64::from(l2_finalized),
        };
        if let Ok(mut s) = self.status.write() {
            *s = status;
        }
    }

    /// Marks the driver as stopped by a fatal error.
    pub fn set_halted(&self, reason: String) {
        if let Ok(mut h) = self.halted.write() {
            *h = Some(reason);
        }
    }

    /// The fatal error that stopped the driver, if any.
    pub fn halted(&self) -> Option<String> {
        self.halted.read().ok().and_then(|h| h.clone())
    }
}

impl BasedBackend for NodeBackend {
    fn sync_status(&self) -> BasedSyncStatus {
        self.status.read().map(|s| *s).unwrap_or_default()
    }

    fn l1_origin(&self, l2_block: u64) -> Result<Option<L1Origin>, ProviderError> {
        let Some(hash) = self.store.block_hash(l2_block).map_err(ProviderError::other)? else {
            return Ok(None);
        };
        let origin = meta::load_origin(&self.store, l2_block).map_err(ProviderError::other)?;
        Ok(origin.map(|o| L1Origin {
            l2_block_number: U64::from(l2_block),
            l2_block_hash: hash,
            l1_block_number: U64::from(o.l1_number),
            l1_block_hash: o.l1_hash,
            proposal_id: U64::from(o.proposal_id),
            anchor_number: U64::from(o.anchor_number),
            anchor_hash: o.anchor_hash,
        }))
    }

    fn is_syncing(&self) -> bool {
        let s = self.sync_status();
        s.l1_head.saturating_sub(s.l1_processed) > U64::from(self.confirmations.max(2))
    }

    fn preconf(&self) -> Option<&dyn PreconfBackend> {
        Some(&*self.preconf)
    }
}

/// A forwarder whose target can be set after the RPC server started (the devnet starts the node
/// before the proposer whose URL it forwards to).
#[derive(Debug, Default)]
pub struct SwappableForwarder {
    inner: RwLock<Option<Arc<HttpForwarder>>>,
}

impl SwappableForwarder {
    /// Forwards to `url` from now on.
    pub fn set(&self, url: &str) -> Result<(), ForwardError> {
        let f = Arc::new(HttpForwarder::new(url)?);
        if let Ok(mut inner) = self.inner.write() {
            *inner = Some(f);
        }
        Ok(())
    }
}

#[jsonrpsee::core::async_trait]
impl TxForwarder for SwappableForwarder {
    async fn forward(&self, raw: Bytes) -> Result<B256, ForwardError> {
        let target = self.inner.read().ok().and_then(|i| i.clone());
        match target {
            Some(f) => f.forward(raw).await,
            None => Err(ForwardError::Transport("no proposer configured (--proposer.url)".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_eips::BlockNumHash;

    fn tag(number: u64) -> Option<BlockNumHash> {
        Some(BlockNumHash { number, hash: B256::with_last_byte(number as u8) })
    }

    fn point(number: u64, tagged: bool) -> L1Point {
        L1Point { number, hash: tagged.then(|| B256::with_last_byte(number as u8)) }
    }

    #[test]
    fn safe_and_finalized_follow_the_l1_tags() {
        // Ethereum: the tags lie epochs behind the head; the margin does not matter.
        let heads = L1Heads { latest: tag(200), safe: tag(136), finalized: tag(104) };
        let (safe, finalized) = safe_and_finalized_l1(&heads, 200, 2);
        assert_eq!(safe, Some(point(136, true)));
        assert_eq!(finalized, Some(point(104, true)));
    }

    #[test]
    fn confirmations_are_a_margin_below_the_tags() {
        // An L1 whose tags follow the head closely (anvil with 1-slot epochs): capped at head - 2.
        let heads = L1Heads { latest: tag(100), safe: tag(100), finalized: tag(99) };
        let (safe, finalized) = safe_and_finalized_l1(&heads, 100, 2);
        assert_eq!(safe, Some(point(98, false)));
        assert_eq!(finalized, Some(point(98, false)));
        // Anvil's defaults (32-slot epochs): safe = head - 32, finalized = head - 64.
        let heads = L1Heads { latest: tag(100), safe: tag(68), finalized: tag(36) };
        let (safe, finalized) = safe_and_finalized_l1(&heads, 100, 2);
        assert_eq!((safe, finalized), (Some(point(68, true)), Some(point(36, true))));
    }

    #[test]
    fn without_tags_safe_is_the_margin_and_nothing_is_finalized() {
        let heads = L1Heads { latest: tag(50), safe: None, finalized: None };
        assert_eq!(safe_and_finalized_l1(&heads, 50, 2), (Some(point(48, false)), None));
        assert_eq!(safe_and_finalized_l1(&heads, 1, 2), (Some(point(0, false)), None));
    }

    #[test]
    fn l2_head_derived_by_an_l1_block() {
        // L1 blocks 10..=20 processed; L2 block k derived in L1 block 10 + k.
        let lookup =
            |n: u64| (10..=20).contains(&n).then(|| (B256::with_last_byte(n as u8), n - 10));
        let tip = (20, B256::with_last_byte(20), 10);
        assert_eq!(l2_derived_by(point(15, true), tip, lookup), Some(5));
        assert_eq!(l2_derived_by(point(15, false), tip, lookup), Some(5));
        assert_eq!(l2_derived_by(point(20, true), tip, lookup), Some(10));
        // The L1 is ahead of the node: everything derived so far is at or below the tag.
        assert_eq!(l2_derived_by(point(30, true), tip, lookup), Some(10));
        // Before the derivation start: genesis.
        assert_eq!(l2_derived_by(point(3, true), tip, lookup), Some(0));
        // The node holds L1 block 15 with another hash (a branch the L1 left): unknown.
        let other = L1Point { number: 15, hash: Some(B256::repeat_byte(0xee)) };
        assert_eq!(l2_derived_by(other, tip, lookup), None);
        let other_tip = L1Point { number: 20, hash: Some(B256::repeat_byte(0xee)) };
        assert_eq!(l2_derived_by(other_tip, tip, lookup), None);
    }
}
