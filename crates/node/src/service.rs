//! The node's long-running pieces: the driver thread, the status backend served over RPC and the
//! swappable transaction forwarder.

use crate::{
    driver::{Driver, Recovery},
    meta,
    preconf::{ChainPosition, Preconfirmations},
};
use alloy_primitives::{B256, Bytes, U64};
use based_derive::DerivationState;
use based_l1::{FinishedHeight, L1Heads, L1Notification, StartFrom};
use based_rpc::{
    BasedBackend, BasedSyncStatus, DriverStatus, ForwardError, HttpForwarder, L1Origin,
    PreconfBackend, ProviderError, TxForwarder,
};
use based_storage::Store;
use std::{
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

/// First delay before retrying a failed driver step; it doubles per consecutive failure.
pub(crate) const RETRY_INITIAL: Duration = Duration::from_millis(100);
/// Longest delay between two attempts of a failing driver step.
pub(crate) const RETRY_MAX: Duration = Duration::from_secs(10);
/// A driver that has processed nothing for this long while the L1 head is ahead reports itself
/// stalled (the L1 follower is retrying something: blobs, an unreachable L1, ...).
pub(crate) const STALL_AFTER: Duration = Duration::from_secs(60);

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The L1 follower as the driver sees it: the notification stream, the acknowledgements, and a
/// way to start it again from a given point (dropping the old one).
pub(crate) struct L1Source {
    /// Notifications, in order.
    pub(crate) notifications: mpsc::Receiver<L1Notification>,
    /// Acknowledgements of processed L1 blocks.
    pub(crate) acks: mpsc::UnboundedSender<FinishedHeight>,
    /// Starts a new follower at a resume point and returns its stream and acknowledgements.
    #[allow(clippy::type_complexity)]
    pub(crate) restart: Box<
        dyn FnMut(
                StartFrom,
            ) -> Result<
                (mpsc::Receiver<L1Notification>, mpsc::UnboundedSender<FinishedHeight>),
                String,
            > + Send,
    >,
}

impl std::fmt::Debug for L1Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L1Source").finish_non_exhaustive()
    }
}

/// A failing driver step: since when, and how many attempts.
#[derive(Debug, Clone, Copy)]
struct Stall {
    since: u64,
    attempts: u64,
    delay: Duration,
}

impl Stall {
    fn new() -> Self {
        Self { since: unix_now(), attempts: 0, delay: RETRY_INITIAL }
    }

    /// Counts one more failure and returns the delay before the next attempt.
    fn next_delay(&mut self) -> Duration {
        self.attempts = self.attempts.saturating_add(1);
        let delay = self.delay;
        self.delay = self.delay.saturating_mul(2).min(RETRY_MAX);
        delay
    }
}

/// Runs the driver until shutdown: applies each notification, then acknowledges it.
///
/// Every failure takes one of three paths ([`crate::driver::Recovery`]), and the driver's state
/// is published in `based_syncStatus` (`driver`) meanwhile, so a wedge is never silent:
/// - **retry** (temporary, store I/O): the driver has unwound to its last consistent state; the
///   same notification is applied again after a backoff (`stalled` meanwhile);
/// - **refetch** (the notification's blobs are missing or unverifiable, or it does not extend the
///   processed L1 chain): the notification is dropped and the L1 follower restarted after a
///   backoff from the last processed L1 block, which fetches the blocks (and blobs) again
///   (`stalled` meanwhile);
/// - **halt** (critical): the driver stops, `halted` with the error, logged at error level.
///
/// The L1 follower ending (its stream closes without a shutdown) is a halt too.
pub(crate) fn run_driver(
    mut driver: Driver,
    mut source: L1Source,
    backend: Arc<NodeBackend>,
    mut shutdown: watch::Receiver<bool>,
    runtime: tokio::runtime::Handle,
) {
    let mut last_log = Instant::now();
    let mut processed_since_log = 0u64;
    let mut stall: Option<Stall> = None;
    // Sleeps `delay`; false if shutdown was requested meanwhile.
    let pause = |delay: Duration, shutdown: &mut watch::Receiver<bool>| -> bool {
        runtime.block_on(async {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.changed() => {}
            }
        });
        !*shutdown.borrow()
    };
    'notifications: while !*shutdown.borrow() {
        // Block (this is the driver's own thread) until a notification or shutdown.
        let next = runtime.block_on(async {
            tokio::select! {
                n = source.notifications.recv() => n,
                _ = shutdown.changed() => None,
            }
        });
        let Some(notification) = next else {
            if !*shutdown.borrow() {
                let reason = "the L1 follower stopped delivering notifications".to_string();
                tracing::error!(target: "based::node", %reason, "driver stopped");
                backend.set_halted(reason);
            }
            break;
        };
        loop {
            let error = match driver.apply(&notification) {
                Ok(()) => break,
                Err(e) => e,
            };
            let recovery = error.recovery();
            if recovery == Recovery::Halt {
                crate::report_fatal(&error);
                backend.set_halted(error.to_string());
                return;
            }
            let s = stall.get_or_insert_with(Stall::new);
            let delay = s.next_delay();
            backend.set_stalled(error.to_string(), s.since, s.attempts);
            backend.refresh(driver.state());
            warn!(
                target: "based::node",
                %error,
                ?recovery,
                attempts = s.attempts,
                retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "driver step failed"
            );
            if !pause(delay, &mut shutdown) {
                return;
            }
            if let Err(e) = driver.repair() {
                warn!(target: "based::node", error = %e, "repair before retry failed");
            }
            if recovery == Recovery::Refetch {
                // Acknowledge what was processed, then follow L1 again from there.
                let head = driver.state().l1_head();
                let _ = source.acks.send(FinishedHeight(alloy_eips::BlockNumHash {
                    number: head.number,
                    hash: head.hash,
                }));
                match crate::resume_point(&driver)
                    .map_err(|e| e.to_string())
                    .and_then(|start| (source.restart)(start))
                {
                    Ok((notifications, acks)) => {
                        info!(target: "based::node", l1_processed = head.number, "L1 follower restarted to fetch the blocks again");
                        source.notifications = notifications;
                        source.acks = acks;
                    }
                    Err(e) => {
                        warn!(target: "based::node", error = %e, "restarting the L1 follower failed; retrying");
                    }
                }
                continue 'notifications;
            }
        }
        if stall.take().is_some() {
            info!(target: "based::node", "driver running again");
        }
        backend.set_running();
        let head = driver.state().l1_head();
        let _ = source.acks.send(FinishedHeight(alloy_eips::BlockNumHash {
            number: head.number,
            hash: head.hash,
        }));
        backend.refresh(driver.state());
        // Bounded disk: drop what nothing can need below the L1 finalized block (a failure only
        // leaves the rows for the next step).
        let point = backend.prune_point(driver.state().l1_head().number);
        if let Err(error) = driver.prune(point.number, point.hash) {
            warn!(target: "based::node", %error, "pruning derivation metadata failed");
        }
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

/// The L1 block below which the node may prune its derivation metadata ([`Driver::prune`]): the
/// `finalized` block of [`safe_and_finalized_l1`] (the L1's finalized block, capped by the
/// `confirmations` margin), or on an L1 that reports no finalized block its `safe` one (the L1's
/// safe block capped by the margin, or the margin `l1_head - confirmations` where there is none:
/// what the operator deems final on such an L1; the driver keeps the last
/// [`crate::driver::KEEP_RECENT_L1`] blocks anyway).
pub(crate) fn prune_point(heads: &L1Heads, l1_head: u64, confirmations: u64) -> L1Point {
    let (safe, finalized) = safe_and_finalized_l1(heads, l1_head, confirmations);
    let margin = L1Point { number: l1_head.saturating_sub(confirmations), hash: None };
    finalized.or(safe).unwrap_or(margin)
}

/// What the store holds for a processed L1 block number below the tip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoredAt {
    /// Its state: the L1 block's hash and the L2 head derived by it.
    State(B256, u64),
    /// Nothing: the block precedes the derivation start.
    BeforeStart,
    /// Nothing any more (pruned), or unreadable: unknown.
    Unknown,
}

/// The highest L2 block derived from L1 blocks at or below `point`. `tip` is the node's processed
/// L1 block (number, hash) and its L2 head; `lookup(n)` what is stored after L1 block `n`. Above
/// the tip everything derived so far counts; a point the node holds with another hash gives `None`
/// (the node's branch is not the L1's), as does a point whose state is unknown (pruned); a point
/// before the derivation start gives genesis.
pub(crate) fn l2_derived_by(
    point: L1Point,
    tip: (u64, B256, u64),
    lookup: impl Fn(u64) -> StoredAt,
) -> Option<u64> {
    let (tip_number, tip_hash, tip_l2) = tip;
    let (hash, l2) = match point.number.cmp(&tip_number) {
        std::cmp::Ordering::Greater => return Some(tip_l2),
        std::cmp::Ordering::Equal => (tip_hash, tip_l2),
        std::cmp::Ordering::Less => match lookup(point.number) {
            StoredAt::State(hash, l2) => (hash, l2),
            StoredAt::BeforeStart => return Some(0),
            StoredAt::Unknown => return None,
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
    /// The L1 follower's heads (replaced when the follower is restarted).
    heads: RwLock<watch::Receiver<L1Heads>>,
    status: RwLock<BasedSyncStatus>,
    /// The driver's state, served as `based_syncStatus.driver`.
    driver: RwLock<DriverStatus>,
    /// Unix time of the last driver step that advanced (or of the start).
    last_progress: std::sync::atomic::AtomicU64,
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
            heads: RwLock::new(heads),
            status: RwLock::new(BasedSyncStatus::default()),
            driver: RwLock::new(DriverStatus::Running),
            last_progress: std::sync::atomic::AtomicU64::new(unix_now()),
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
        let heads = self.l1_heads();
        let processed = state.l1_head().number;
        if processed != self.sync_status().l1_processed.to::<u64>() {
            self.last_progress.store(unix_now(), std::sync::atomic::Ordering::Relaxed);
        }
        let l1_head = heads.latest.map_or(processed, |h| h.number).max(processed);
        let l2_head = state.l2_head().number;
        let tip = (processed, state.l1_head().hash, l2_head);
        let pruned_below = meta::pruned_below(&self.store).unwrap_or(u64::MAX);
        let lookup = |l1: u64| -> StoredAt {
            match meta::load_state_at(&self.store, l1) {
                Ok(Some(s)) => StoredAt::State(s.l1_head().hash, s.l2_head().number),
                Ok(None) if l1 >= pruned_below => StoredAt::BeforeStart,
                Ok(None) | Err(_) => StoredAt::Unknown,
            }
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
            driver: DriverStatus::Running,
        };
        if let Ok(mut s) = self.status.write() {
            *s = status;
        }
        use based_metrics::names;
        metrics::gauge!(names::L1_HEAD).set(l1_head as f64);
        metrics::gauge!(names::L1_PROCESSED).set(processed as f64);
        metrics::gauge!(names::L2_HEAD).set(l2_head as f64);
        metrics::gauge!(names::L2_SAFE).set(l2_safe as f64);
        metrics::gauge!(names::L2_FINALIZED).set(l2_finalized as f64);
        metrics::gauge!(names::DERIVATION_LAG).set(l1_head.saturating_sub(processed) as f64);
    }

    /// `/ready` of the node ([`based_metrics::sync_readiness`]): its L2 head is derived from an L1
    /// block within `max_lag` blocks of the L1 head, which the watcher has read, and the driver
    /// has not halted.
    pub fn readiness(&self, max_lag: u64) -> Result<(), based_metrics::NotReady> {
        let known = self.l1_heads().latest.is_some();
        let status = self.sync_status();
        let l1_head = known.then(|| status.l1_head.to::<u64>());
        let halted = self.halted();
        based_metrics::sync_readiness(
            l1_head,
            status.l1_processed.to::<u64>(),
            halted.as_deref(),
            max_lag,
        )
    }

    /// The latest L1 heads the follower reported.
    fn l1_heads(&self) -> L1Heads {
        self.heads.read().map(|h| *h.borrow()).unwrap_or_default()
    }

    /// The L1 block below which the driver may prune ([`prune_point`]), for the processed L1
    /// block `processed`.
    pub(crate) fn prune_point(&self, processed: u64) -> L1Point {
        let heads = self.l1_heads();
        let l1_head = heads.latest.map_or(processed, |h| h.number).max(processed);
        prune_point(&heads, l1_head, self.confirmations)
    }

    /// Follows the heads of a restarted L1 follower.
    pub fn set_heads(&self, heads: watch::Receiver<L1Heads>) {
        if let Ok(mut h) = self.heads.write() {
            *h = heads;
        }
    }

    /// The driver's state as served (see [`NodeBackend::sync_status`] for the stall rule).
    pub fn driver_status(&self) -> DriverStatus {
        self.driver.read().map(|d| d.clone()).unwrap_or_default()
    }

    fn set_driver(&self, status: DriverStatus) {
        if let Ok(mut d) = self.driver.write() {
            // A halt is final.
            if !matches!(*d, DriverStatus::Halted { .. }) {
                *d = status;
            }
        }
    }

    /// Marks the driver as stopped by a fatal error (final).
    pub fn set_halted(&self, reason: String) {
        self.set_driver(DriverStatus::Halted { reason, since: unix_now() });
    }

    /// Marks the driver as failing a step since `since` (unix seconds), `attempts` times so far.
    pub fn set_stalled(&self, reason: String, since: u64, attempts: u64) {
        self.set_driver(DriverStatus::Stalled { reason, since, attempts });
    }

    /// Marks the driver as advancing again.
    pub fn set_running(&self) {
        self.last_progress.store(unix_now(), std::sync::atomic::Ordering::Relaxed);
        self.set_driver(DriverStatus::Running);
    }

    /// The fatal error that stopped the driver, if any.
    pub fn halted(&self) -> Option<String> {
        match self.driver_status() {
            DriverStatus::Halted { reason, .. } => Some(reason),
            _ => None,
        }
    }
}

impl BasedBackend for NodeBackend {
    /// The status of the last driver step with the driver's state. A running driver that has not
    /// advanced for [`STALL_AFTER`] while the L1 head is more than the confirmation margin ahead
    /// is reported `stalled` (the L1 follower keeps retrying something and delivers nothing).
    fn sync_status(&self) -> BasedSyncStatus {
        let mut status = self.status.read().map(|s| s.clone()).unwrap_or_default();
        let l1_head = self.l1_heads().latest.map_or(0, |h| h.number);
        status.l1_head = status.l1_head.max(U64::from(l1_head));
        status.driver = stall_rule(
            self.driver_status(),
            status.l1_head.to::<u64>().saturating_sub(status.l1_processed.to::<u64>()),
            self.confirmations.max(2),
            self.last_progress.load(std::sync::atomic::Ordering::Relaxed),
            unix_now(),
        );
        status
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

    /// Syncing while behind L1, and whenever the driver is stalled or halted: a wedged node never
    /// says it is up to date.
    fn is_syncing(&self) -> bool {
        let s = self.sync_status();
        s.driver != DriverStatus::Running
            || s.l1_head.saturating_sub(s.l1_processed) > U64::from(self.confirmations.max(2))
    }

    fn preconf(&self) -> Option<&dyn PreconfBackend> {
        Some(&*self.preconf)
    }
}

/// The driver state to serve: `driver` as the driver set it, except that a running driver whose
/// last progress (`last_progress`, unix seconds) is [`STALL_AFTER`] old at `now` while L1 is
/// more than `margin` blocks ahead (`lag`) is stalled since then.
pub(crate) fn stall_rule(
    driver: DriverStatus,
    lag: u64,
    margin: u64,
    last_progress: u64,
    now: u64,
) -> DriverStatus {
    let idle = now.saturating_sub(last_progress);
    if driver == DriverStatus::Running && lag > margin && idle >= STALL_AFTER.as_secs() {
        return DriverStatus::Stalled {
            reason: format!(
                "no L1 block processed for {idle} s while the L1 head is {lag} blocks ahead \
                 (the L1 follower is retrying: see its log, e.g. blobs unavailable or L1 \
                 unreachable)"
            ),
            since: last_progress,
            attempts: 0,
        };
    }
    driver
}

/// A forwarder whose target can be set after the RPC server started (the devnet starts the node
/// before the proposer whose URL it forwards to).
#[derive(Debug, Default)]
pub struct SwappableForwarder {
    inner: RwLock<Option<Arc<HttpForwarder>>>,
}

impl SwappableForwarder {
    /// The current target, if set.
    fn target(&self) -> Option<Arc<HttpForwarder>> {
        self.inner.read().ok().and_then(|i| i.clone())
    }

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
        match self.target() {
            Some(f) => f.forward(raw).await,
            None => Err(ForwardError::Transport("no proposer configured (--proposer.url)".into())),
        }
    }

    async fn pool_nonces(
        &self,
        address: alloy_primitives::Address,
    ) -> Result<Vec<u64>, ForwardError> {
        match self.target() {
            Some(f) => f.pool_nonces(address).await,
            None => Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_eips::BlockNumHash;
    use based_l1::{Chain, L1Block};

    #[test]
    fn stall_rule_reports_a_silent_follower() {
        let now = 10_000;
        let stalled = |lag, idle| stall_rule(DriverStatus::Running, lag, 2, now - idle, now);
        assert_eq!(stalled(50, 30), DriverStatus::Running, "not long enough");
        assert_eq!(stalled(2, 600), DriverStatus::Running, "within the margin: at the head");
        let DriverStatus::Stalled { since, attempts, reason } = stalled(50, 60) else {
            panic!("a silent follower with L1 ahead is a stall")
        };
        assert_eq!((since, attempts), (now - 60, 0));
        assert!(reason.contains("50 blocks ahead"), "{reason}");
        // A state the driver set is kept.
        let halted = DriverStatus::Halted { reason: "x".into(), since: 1 };
        assert_eq!(stall_rule(halted.clone(), 50, 2, 0, now), halted);
    }

    #[test]
    fn stall_backoff_doubles_up_to_the_cap() {
        let mut s = Stall::new();
        let delays: Vec<Duration> = (0..10).map(|_| s.next_delay()).collect();
        assert_eq!(delays[0], RETRY_INITIAL);
        assert_eq!(delays[1], RETRY_INITIAL * 2);
        assert_eq!(*delays.last().unwrap(), RETRY_MAX);
        assert_eq!(s.attempts, 10);
    }

    /// A driver thread over a fake L1 follower whose restarts are recorded.
    struct Harness {
        backend: Arc<NodeBackend>,
        tx: mpsc::Sender<L1Notification>,
        restarts: Arc<std::sync::Mutex<Vec<mpsc::Sender<L1Notification>>>>,
        shutdown: watch::Sender<bool>,
        thread: std::thread::JoinHandle<()>,
        store: Store,
    }

    fn committed(block: L1Block) -> L1Notification {
        L1Notification::ChainCommitted { new: Arc::new(Chain::new(vec![Arc::new(block)]).unwrap()) }
    }

    fn harness() -> Harness {
        let spec = crate::driver::tests::spec_at(0);
        let store = Store::open_in_memory().unwrap();
        let history = crate::driver::tests::history(&spec);
        let driver = Driver::open(store.clone(), spec.clone(), Some(history)).unwrap();
        let (_heads_tx, heads) = watch::channel(L1Heads::default());
        let preconf = Arc::new(Preconfirmations::new(store.clone(), spec.chain_id()));
        let backend = Arc::new(NodeBackend::new(store.clone(), 2, heads, preconf));
        let (tx, notifications) = mpsc::channel(8);
        let (acks, _) = mpsc::unbounded_channel();
        let restarts = Arc::new(std::sync::Mutex::new(Vec::new()));
        let recorded = restarts.clone();
        let restart = move |_start: StartFrom| {
            let (tx, rx) = mpsc::channel(8);
            recorded.lock().unwrap().push(tx);
            let (acks, _) = mpsc::unbounded_channel();
            Ok((rx, acks))
        };
        let source = L1Source { notifications, acks, restart: Box::new(restart) };
        let (shutdown, shutdown_rx) = watch::channel(false);
        let runtime = tokio::runtime::Handle::current();
        let b = backend.clone();
        let thread =
            std::thread::spawn(move || run_driver(driver, source, b, shutdown_rx, runtime));
        Harness { backend, tx, restarts, shutdown, thread, store }
    }

    async fn until(what: &str, f: impl Fn() -> bool) {
        for _ in 0..200 {
            if f() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("timed out waiting for {what}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_notification_that_cannot_apply_is_refetched_and_shown_as_stalled() {
        let h = harness();
        let spec = crate::driver::tests::spec_at(0);
        // A blob the notification lacks: the follower must fetch the block again.
        let bad = crate::driver::tests::block_with(&spec, 1, &[0], true);
        h.tx.send(committed(bad)).await.unwrap();
        until("a restart", || !h.restarts.lock().unwrap().is_empty()).await;
        let status = h.backend.sync_status();
        let DriverStatus::Stalled { reason, attempts, .. } = &status.driver else {
            panic!("{status:?}")
        };
        assert!(reason.contains("blob"), "{reason}");
        assert_eq!(*attempts, 1);
        assert!(h.backend.is_syncing(), "a stalled node is not up to date");
        // The restarted follower delivers the block with its blob... here: a good block.
        let next = h.restarts.lock().unwrap()[0].clone();
        let good = crate::driver::tests::block_with(&spec, 1, &[0], false);
        next.send(committed(good)).await.unwrap();
        until("running again", || h.backend.driver_status() == DriverStatus::Running).await;
        assert_eq!(h.store.head().unwrap().unwrap().number, 1);
        h.shutdown.send(true).unwrap();
        tokio::task::spawn_blocking(move || h.thread.join()).await.unwrap().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_critical_error_halts_loudly_and_for_good() {
        let h = harness();
        let spec = crate::driver::tests::spec_at(0);
        let broken = crate::driver::tests::block_with(&spec, 1, &[7], false);
        h.tx.send(committed(broken)).await.unwrap();
        until("halted", || h.backend.halted().is_some()).await;
        let status = h.backend.sync_status();
        assert!(
            matches!(&status.driver, DriverStatus::Halted { reason, .. } if reason.contains("id")),
            "{status:?}"
        );
        assert!(h.backend.is_syncing());
        // The driver thread ended; nothing resets a halt.
        tokio::task::spawn_blocking(move || h.thread.join()).await.unwrap().unwrap();
        h.backend.set_running();
        assert!(h.backend.halted().is_some());
        // The JSON answer names the state.
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["driver"]["state"], "halted");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_follower_that_ends_halts_the_driver() {
        let h = harness();
        drop(h.tx);
        until("halted", || h.backend.halted().is_some()).await;
        assert!(h.backend.halted().unwrap().contains("L1 follower"));
        tokio::task::spawn_blocking(move || h.thread.join()).await.unwrap().unwrap();
    }

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
        // L1 blocks 10..=20 processed; L2 block k derived in L1 block 10 + k; 10..=12 pruned.
        let lookup = |n: u64| match n {
            13..=20 => StoredAt::State(B256::with_last_byte(n as u8), n - 10),
            10..=12 => StoredAt::Unknown,
            _ => StoredAt::BeforeStart,
        };
        let tip = (20, B256::with_last_byte(20), 10);
        assert_eq!(l2_derived_by(point(15, true), tip, lookup), Some(5));
        assert_eq!(l2_derived_by(point(15, false), tip, lookup), Some(5));
        assert_eq!(l2_derived_by(point(20, true), tip, lookup), Some(10));
        // The L1 is ahead of the node: everything derived so far is at or below the tag.
        assert_eq!(l2_derived_by(point(30, true), tip, lookup), Some(10));
        // Before the derivation start: genesis.
        assert_eq!(l2_derived_by(point(3, true), tip, lookup), Some(0));
        // A pruned state is unknown (the caller keeps its previous value), never genesis.
        assert_eq!(l2_derived_by(point(11, true), tip, lookup), None);
        // The node holds L1 block 15 with another hash (a branch the L1 left): unknown.
        let other = L1Point { number: 15, hash: Some(B256::repeat_byte(0xee)) };
        assert_eq!(l2_derived_by(other, tip, lookup), None);
        let other_tip = L1Point { number: 20, hash: Some(B256::repeat_byte(0xee)) };
        assert_eq!(l2_derived_by(other_tip, tip, lookup), None);
    }

    #[test]
    fn pruning_follows_the_finalized_block_or_the_margin() {
        // Ethereum: the finalized tag.
        let heads = L1Heads { latest: tag(200), safe: tag(136), finalized: tag(104) };
        assert_eq!(prune_point(&heads, 200, 2), point(104, true));
        // Tags closer to the head than the margin: capped at it.
        let heads = L1Heads { latest: tag(100), safe: tag(100), finalized: tag(99) };
        assert_eq!(prune_point(&heads, 100, 2), point(98, false));
        // An L1 without finality: its safe block, or the confirmation margin.
        let heads = L1Heads { latest: tag(50), safe: tag(30), finalized: None };
        assert_eq!(prune_point(&heads, 50, 2), point(30, true));
        let heads = L1Heads { latest: tag(50), safe: None, finalized: None };
        assert_eq!(prune_point(&heads, 50, 2), point(48, false));
        assert_eq!(prune_point(&heads, 1, 2), point(0, false));
    }
}
