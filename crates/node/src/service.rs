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
        let l2_at = |l1: u64| -> u64 {
            meta::load_state(&self.store, l1.min(processed))
                .ok()
                .flatten()
                .map_or(0, |s| s.l2_head().number)
        };
        let safe_l1 = l1_head.saturating_sub(self.confirmations);
        let finalized_l1 = heads.finalized.map(|f| f.number);
        let status = BasedSyncStatus {
            l1_head: U64::from(l1_head),
            l1_processed: U64::from(processed),
            l2_head: U64::from(state.l2_head().number),
            l2_safe: U64::from(l2_at(safe_l1)),
            l2_finalized: U64::from(finalized_l1.map_or(0, l2_at)),
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
