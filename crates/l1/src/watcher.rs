//! The L1 watcher: polls an execution client, builds [`L1Block`]s, detects reorgs and emits
//! [`L1Notification`]s.

use crate::{Chain, FinishedHeight, L1Block, L1Filter, L1Heads, L1Notification};
use alloy_consensus::{Header, Sealed};
use alloy_eips::{BlockNumHash, BlockNumberOrTag};
use alloy_primitives::{B256, BlockNumber};
use alloy_provider::{Provider, RootProvider};
use alloy_rpc_types_eth::{Filter, Log};
use alloy_transport::TransportError;
use alloy_transport_http::reqwest::Url;
use based_beacon::{BeaconClient, BeaconError, ElBlock, Severity};
use std::{
    collections::{BTreeMap, BTreeSet, VecDeque},
    future::Future,
    sync::Arc,
    time::Duration,
};
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};
use tracing::{debug, error, info, warn};

const TARGET: &str = "based_l1::watcher";

/// Configuration of the [`L1Watcher`].
#[derive(Debug, Clone)]
pub struct L1WatcherConfig {
    /// Execution client JSON-RPC endpoint (HTTP).
    pub rpc_url: Url,
    /// Beacon API client for blobs; `None` is fine as long as no selected log needs blobs.
    pub beacon: Option<BeaconClient>,
    /// Pause between polls when the watcher is at the head.
    pub poll_interval: Duration,
    /// Timeout of one JSON-RPC request.
    pub request_timeout: Duration,
    /// First retry delay after a failure.
    pub backoff_initial: Duration,
    /// Largest retry delay (the delay doubles per consecutive failure up to this).
    pub backoff_max: Duration,
    /// Most blocks in one notification.
    pub max_blocks_per_notification: u64,
    /// How many emitted blocks the watcher remembers to find the fork point of a reorg. A reorg
    /// deeper than this is reported as an error and retried (it stalls the stream, never skips).
    pub reorg_window: usize,
    /// The watcher does not fetch new blocks while this many emitted blocks are unacknowledged.
    pub max_unacked_blocks: u64,
    /// Capacity of the notification channel.
    pub channel_capacity: usize,
}

impl L1WatcherConfig {
    /// Defaults for an execution client at `rpc_url`, without a beacon API.
    pub fn new(rpc_url: Url) -> Self {
        Self {
            rpc_url,
            beacon: None,
            poll_interval: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
            backoff_initial: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            max_blocks_per_notification: 64,
            reorg_window: 256,
            max_unacked_blocks: 1024,
            channel_capacity: 64,
        }
    }
}

/// Where the watcher starts.
#[derive(Debug, Clone)]
pub enum StartFrom {
    /// Emit blocks from this number on (the consumer holds nothing yet). If the number is above
    /// zero, its parent is used as the base for reorg detection but is never emitted.
    Block(BlockNumber),
    /// Resume after a restart. The consumer passes the headers of the blocks it processed and
    /// persisted, ascending and contiguous, the last one being its acknowledged tip. They should
    /// reach back at least to the L1 finalized block (or [`L1WatcherConfig::reorg_window`] blocks).
    ///
    /// If the tip is still canonical the stream continues with its child. Otherwise the watcher finds
    /// the highest persisted block that is still canonical and emits `ChainReorged` (or
    /// `ChainReverted` if nothing replaced them yet) whose `old` chain holds the orphaned persisted
    /// blocks, header-only (no logs, no blobs): the consumer reverts what it derived from them.
    Resume(Vec<Sealed<Header>>),
}

/// Errors of one watcher step. All are retried with backoff; none ends the watcher.
#[derive(Debug, thiserror::Error)]
pub enum WatcherError {
    /// JSON-RPC transport or server error.
    #[error("rpc: {0}")]
    Rpc(#[from] TransportError),
    /// A JSON-RPC request timed out.
    #[error("rpc request {0} timed out")]
    Timeout(&'static str),
    /// Blob retrieval or verification failed (see [`BeaconError::severity`]).
    #[error("blobs: {0}")]
    Blobs(#[from] BeaconError),
    /// The client returned inconsistent data (hash mismatch, wrong block, removed logs ...).
    #[error("bad rpc data: {0}")]
    BadData(String),
    /// A reorg reaches below every block the watcher remembers.
    #[error(
        "reorg deeper than the reorg window: no remembered block down to {lowest} is canonical"
    )]
    ReorgBeyondWindow {
        /// The lowest remembered block number.
        lowest: BlockNumber,
    },
    /// `StartFrom::Resume` headers are not ascending and contiguous.
    #[error("invalid resume headers: {0}")]
    InvalidResume(String),
}

/// The consumer's side of a running watcher.
#[derive(Debug)]
pub struct L1WatcherHandle {
    /// Notifications, in order. The watcher stops when this receiver is dropped.
    pub notifications: mpsc::Receiver<L1Notification>,
    /// Acknowledgements: send one after processing (and persisting) a notification.
    pub acks: mpsc::UnboundedSender<FinishedHeight>,
    /// Latest / safe / finalized L1 heads, updated every poll.
    pub heads: watch::Receiver<L1Heads>,
    /// The watcher task.
    pub task: JoinHandle<()>,
}

/// Follows an L1 execution client and emits [`L1Notification`]s. See the crate docs.
#[derive(Debug)]
pub struct L1Watcher<F> {
    config: L1WatcherConfig,
    provider: RootProvider,
    filter: F,
    /// Emitted blocks still remembered (ascending, contiguous).
    window: VecDeque<Arc<L1Block>>,
    /// The block below `window` (its parent), if known and canonical when last seen.
    base: Option<BlockNumHash>,
    /// Whether the consumer holds `base` (false for the parent of `StartFrom::Block`).
    base_held: bool,
    /// Next block number to fetch when `window` is empty.
    next: BlockNumber,
    /// `Block(n)` with n > 0: `base` is fetched lazily on the first step.
    needs_base: bool,
    /// Highest acknowledged block.
    acked: Option<BlockNumHash>,
    /// Lowest emitted block number not yet acknowledged.
    ack_floor: BlockNumber,
    tx: mpsc::Sender<L1Notification>,
    acks: mpsc::UnboundedReceiver<FinishedHeight>,
    heads: watch::Sender<L1Heads>,
}

/// Outcome of one step.
enum Step {
    /// Emitted something; poll again at once.
    Progress,
    /// Nothing new; wait `poll_interval`.
    Idle,
    /// The consumer is gone.
    Closed,
}

impl<F: L1Filter> L1Watcher<F> {
    /// Spawns the watcher on the current tokio runtime.
    pub fn spawn(
        config: L1WatcherConfig,
        filter: F,
        start: StartFrom,
    ) -> Result<L1WatcherHandle, WatcherError> {
        let (watcher, handle) = Self::new(config, filter, start)?;
        let task = tokio::spawn(watcher.run());
        let (notifications, acks, heads) = handle;
        Ok(L1WatcherHandle { notifications, acks, heads, task })
    }

    /// Builds a watcher without spawning it (drive it with [`Self::run`]).
    #[allow(clippy::type_complexity)]
    pub fn new(
        config: L1WatcherConfig,
        filter: F,
        start: StartFrom,
    ) -> Result<
        (
            Self,
            (
                mpsc::Receiver<L1Notification>,
                mpsc::UnboundedSender<FinishedHeight>,
                watch::Receiver<L1Heads>,
            ),
        ),
        WatcherError,
    > {
        let provider = RootProvider::new_http(config.rpc_url.clone());
        let (tx, rx) = mpsc::channel(config.channel_capacity.max(1));
        let (ack_tx, ack_rx) = mpsc::unbounded_channel();
        let (heads_tx, heads_rx) = watch::channel(L1Heads::default());
        let mut watcher = Self {
            config,
            provider,
            filter,
            window: VecDeque::new(),
            base: None,
            base_held: false,
            next: 0,
            needs_base: false,
            acked: None,
            ack_floor: 0,
            tx,
            acks: ack_rx,
            heads: heads_tx,
        };
        match start {
            StartFrom::Block(n) => {
                watcher.next = n;
                watcher.ack_floor = n;
                watcher.needs_base = n > 0;
            }
            StartFrom::Resume(headers) => {
                let mut blocks = Vec::with_capacity(headers.len());
                for sealed in headers {
                    let (header, hash) = sealed.into_parts();
                    blocks.push(Arc::new(L1Block::header_only(header, hash)));
                }
                let chain =
                    Chain::new(blocks).map_err(|e| WatcherError::InvalidResume(e.to_string()))?;
                watcher.acked = Some(chain.tip().num_hash());
                watcher.next = chain.tip().number().saturating_add(1);
                watcher.ack_floor = watcher.next;
                watcher.window = chain.into_blocks().into();
                watcher.trim_window();
            }
        }
        Ok((watcher, (rx, ack_tx, heads_rx)))
    }

    /// Runs until the notification receiver is dropped. Never returns early on errors: failures are
    /// logged and retried with bounded exponential backoff.
    pub async fn run(mut self) {
        let mut delay = self.config.backoff_initial;
        loop {
            if self.tx.is_closed() {
                break;
            }
            self.drain_acks();
            let wait = match self.step().await {
                Ok(Step::Progress) => {
                    delay = self.config.backoff_initial;
                    continue;
                }
                Ok(Step::Idle) => {
                    delay = self.config.backoff_initial;
                    self.config.poll_interval
                }
                Ok(Step::Closed) => break,
                Err(error) => {
                    let wait = delay;
                    let retry_in_ms = wait.as_millis() as u64;
                    match &error {
                        WatcherError::Blobs(e) if e.severity() != Severity::Temporary => {
                            error!(target: TARGET, %error, severity = ?e.severity(), retry_in_ms, "no blob source can serve this block (pruned, misconfigured or another network?): check --l1.beacon-url, add --l1.blob-archive-url");
                        }
                        _ => warn!(target: TARGET, %error, retry_in_ms, "L1 watcher step failed"),
                    }
                    delay = delay.saturating_mul(2).min(self.config.backoff_max);
                    wait
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.tx.closed() => break,
            }
        }
        info!(target: TARGET, "L1 notification receiver dropped; watcher stopped");
    }

    fn drain_acks(&mut self) {
        while let Ok(FinishedHeight(ack)) = self.acks.try_recv() {
            if self.acked.is_none_or(|a| ack.number >= a.number) {
                self.acked = Some(ack);
            }
            self.ack_floor = self.ack_floor.max(ack.number.saturating_add(1));
        }
    }

    fn tip(&self) -> Option<BlockNumHash> {
        self.window.back().map(|b| b.num_hash()).or(self.base)
    }

    async fn step(&mut self) -> Result<Step, WatcherError> {
        let latest = self.update_heads().await?;
        if self.needs_base {
            let parent = self.next.saturating_sub(1);
            let (header, hash) = self.header_by_number(parent).await?.ok_or_else(|| {
                WatcherError::BadData(format!("start block parent {parent} not found"))
            })?;
            self.base = Some(BlockNumHash { number: header.number, hash });
            self.needs_base = false;
        }
        if let Some(tip) = self.tip() {
            let canonical = self.header_by_number(tip.number).await?.map(|(_, hash)| hash);
            if canonical != Some(tip.hash) {
                if self.window.is_empty() && !self.base_held {
                    // Only the start block's parent changed; the consumer holds nothing yet.
                    debug!(target: TARGET, number = tip.number, "start base reorged; refetching it");
                    self.needs_base = true;
                    self.base = None;
                    return Ok(Step::Progress);
                }
                return self.handle_reorg(latest).await;
            }
        }
        let next = self.tip().map_or(self.next, |t| t.number.saturating_add(1));
        if next > latest {
            return Ok(Step::Idle);
        }
        if next.saturating_sub(self.ack_floor) >= self.config.max_unacked_blocks {
            debug!(target: TARGET, next, ack_floor = self.ack_floor, "waiting for acknowledgements");
            return Ok(Step::Idle);
        }
        // Never run more than `max_unacked_blocks` ahead of the consumer.
        let budget =
            self.config.max_unacked_blocks.saturating_sub(next.saturating_sub(self.ack_floor));
        let to = latest.min(next.saturating_add(budget.saturating_sub(1)));
        let blocks = self.fetch_range(next, to, self.tip().map(|t| t.hash)).await?;
        if blocks.is_empty() {
            // The chain changed under us; the next step sees the reorg.
            return Ok(Step::Idle);
        }
        let new = Arc::new(Chain::new(blocks).map_err(|e| WatcherError::BadData(e.to_string()))?);
        debug!(target: TARGET, first = new.first().number(), tip = new.tip().number(), "chain committed");
        self.window.extend(new.iter().cloned());
        self.trim_window();
        self.emit(L1Notification::ChainCommitted { new }).await
    }

    async fn handle_reorg(&mut self, latest: BlockNumber) -> Result<Step, WatcherError> {
        // Walk back through the remembered blocks to the highest one that is still canonical.
        let mut fork: Option<(usize, BlockNumHash)> = None;
        for (i, block) in self.window.iter().enumerate().rev() {
            let canonical = self.header_by_number(block.number()).await?.map(|(_, h)| h);
            if canonical == Some(block.hash) {
                fork = Some((i.saturating_add(1), block.num_hash()));
                break;
            }
        }
        if fork.is_none()
            && let Some(base) = self.base
        {
            let canonical = self.header_by_number(base.number).await?.map(|(_, h)| h);
            if canonical == Some(base.hash) {
                fork = Some((0, base));
            }
        }
        let Some((keep, fork)) = fork else {
            let lowest = self
                .window
                .front()
                .map(|b| b.number())
                .or(self.base.map(|b| b.number))
                .unwrap_or(0);
            return Err(WatcherError::ReorgBeyondWindow { lowest });
        };
        let new_blocks = if fork.number < latest {
            self.fetch_range(fork.number.saturating_add(1), latest, Some(fork.hash)).await?
        } else {
            Vec::new()
        };
        let orphaned: Vec<Arc<L1Block>> = self.window.iter().skip(keep).cloned().collect();
        if orphaned.is_empty() {
            // The tip became canonical again while we looked (flapping client); start over.
            return Ok(Step::Idle);
        }
        let old = Arc::new(Chain::new(orphaned).map_err(|e| WatcherError::BadData(e.to_string()))?);
        self.window.truncate(keep);
        // When every remembered block was orphaned (`keep == 0`) the fork is `base`, which stays.
        if let Some(acked) = self.acked
            && acked.number > fork.number
        {
            self.acked = Some(fork);
        }
        self.ack_floor = self.ack_floor.min(fork.number.saturating_add(1));
        let notification = if new_blocks.is_empty() {
            warn!(target: TARGET, fork = fork.number, reverted = old.len(), "L1 chain reverted");
            L1Notification::ChainReverted { old }
        } else {
            let new =
                Arc::new(Chain::new(new_blocks).map_err(|e| WatcherError::BadData(e.to_string()))?);
            warn!(target: TARGET, fork = fork.number, reverted = old.len(), committed = new.len(), "L1 reorg");
            self.window.extend(new.iter().cloned());
            self.trim_window();
            L1Notification::ChainReorged { old, new }
        };
        self.emit(notification).await
    }

    /// Fetches blocks `from..=min(to, from + max - 1)`, stopping early (without error) where a block
    /// does not extend the previous one (a reorg in progress).
    async fn fetch_range(
        &self,
        from: BlockNumber,
        to: BlockNumber,
        mut parent: Option<B256>,
    ) -> Result<Vec<Arc<L1Block>>, WatcherError> {
        let count = to
            .saturating_sub(from)
            .saturating_add(1)
            .min(self.config.max_blocks_per_notification.max(1));
        let mut blocks = Vec::new();
        for number in (from..).take(usize::try_from(count).unwrap_or(usize::MAX)) {
            let Some((header, hash)) = self.header_by_number(number).await? else { break };
            if parent.is_some_and(|p| p != header.parent_hash) {
                debug!(target: TARGET, number, "block does not extend the previous one; reorg in progress");
                break;
            }
            parent = Some(hash);
            match self.build_block(header, hash).await {
                Ok(block) => blocks.push(Arc::new(block)),
                // Emit what is complete; the failing block is retried (with backoff) next step.
                Err(error) if !blocks.is_empty() => {
                    warn!(target: TARGET, %error, number, "cannot complete block; emitting the blocks before it");
                    break;
                }
                Err(error) => return Err(error),
            }
        }
        Ok(blocks)
    }

    async fn build_block(&self, header: Header, hash: B256) -> Result<L1Block, WatcherError> {
        let number = header.number;
        let mut block = L1Block::header_only(header, hash);
        // Logs are only possible if the bloom admits one of our addresses.
        let addresses = self.filter.addresses();
        if !addresses.iter().any(|a| {
            block.header.logs_bloom.contains_input(alloy_primitives::BloomInput::Raw(a.as_slice()))
        }) {
            return Ok(block);
        }
        let mut filter = Filter::new().at_block_hash(hash).address(addresses);
        let topics = self.filter.topics();
        if !topics.is_empty() {
            filter = filter.event_signature(topics);
        }
        let mut logs: Vec<Log> = self.timed("eth_getLogs", self.provider.get_logs(&filter)).await?;
        for log in &logs {
            if log.block_hash != Some(hash)
                || log.removed
                || log.log_index.is_none()
                || log.transaction_hash.is_none()
            {
                return Err(WatcherError::BadData(format!(
                    "unexpected log in block {number}: {log:?}"
                )));
            }
        }
        logs.sort_by_key(|l| l.log_index);
        let mut wanted = BTreeSet::new();
        let mut blob_txs: BTreeMap<B256, Vec<B256>> = BTreeMap::new();
        for log in &logs {
            let hashes = self
                .filter
                .required_blobs(log)
                .map_err(|e| WatcherError::BadData(e.to_string()))?;
            if hashes.is_empty() {
                continue;
            }
            let tx = log.transaction_hash.unwrap_or_default();
            wanted.extend(hashes.iter().copied());
            blob_txs.entry(tx).or_default().extend(hashes);
        }
        if !wanted.is_empty() {
            let beacon = self.config.beacon.as_ref().ok_or(BeaconError::NoSources)?;
            let el = ElBlock { number, hash, timestamp: block.header.timestamp };
            block.blobs = match beacon.blobs(el, &wanted).await {
                Ok(blobs) => blobs,
                Err(e) => {
                    metrics::counter!(based_metrics::names::BLOB_FETCH_FAILURES).increment(1);
                    return Err(e.into());
                }
            };
            metrics::counter!(based_metrics::names::BLOBS_FETCHED)
                .increment(block.blobs.len() as u64);
            debug!(target: TARGET, number, blobs = block.blobs.len(), "fetched and verified blobs");
        }
        block.logs = logs;
        block.blob_txs = blob_txs;
        Ok(block)
    }

    /// The header and its verified hash, or `None` if the client has no such block.
    async fn header_by_number(
        &self,
        number: BlockNumber,
    ) -> Result<Option<(Header, B256)>, WatcherError> {
        self.header_by_tag(BlockNumberOrTag::Number(number))
            .await
            .map(|h| h.filter(|(h, _)| h.number == number))
    }

    async fn header_by_tag(
        &self,
        tag: BlockNumberOrTag,
    ) -> Result<Option<(Header, B256)>, WatcherError> {
        let block = self
            .timed("eth_getBlockByNumber", async { self.provider.get_block_by_number(tag).await })
            .await?;
        let Some(block) = block else { return Ok(None) };
        let reported = block.header.hash;
        let header = block.header.inner;
        let hash = header.hash_slow();
        if hash != reported {
            return Err(WatcherError::BadData(format!(
                "block {} hash mismatch: reported {reported}, computed {hash}",
                header.number
            )));
        }
        if let BlockNumberOrTag::Number(n) = tag
            && header.number != n
        {
            return Err(WatcherError::BadData(format!(
                "asked for block {n}, got {}",
                header.number
            )));
        }
        Ok(Some((header, hash)))
    }

    /// Refreshes the heads watch channel and returns the latest block number.
    async fn update_heads(&self) -> Result<BlockNumber, WatcherError> {
        let (latest, latest_hash) = self
            .header_by_tag(BlockNumberOrTag::Latest)
            .await?
            .map(|(h, hash)| (h.number, hash))
            .ok_or_else(|| WatcherError::BadData("no latest block".to_string()))?;
        // Not every client serves safe/finalized (pre-merge devnets); treat errors as "unknown".
        let safe = self.header_by_tag(BlockNumberOrTag::Safe).await.ok().flatten();
        let finalized = self.header_by_tag(BlockNumberOrTag::Finalized).await.ok().flatten();
        let heads = L1Heads {
            latest: Some(BlockNumHash { number: latest, hash: latest_hash }),
            safe: safe.map(|(h, hash)| BlockNumHash { number: h.number, hash }),
            finalized: finalized.map(|(h, hash)| BlockNumHash { number: h.number, hash }),
        };
        self.heads.send_if_modified(|old| {
            let changed = *old != heads;
            *old = heads;
            changed
        });
        Ok(latest)
    }

    async fn timed<T>(
        &self,
        what: &'static str,
        fut: impl Future<Output = Result<T, TransportError>>,
    ) -> Result<T, WatcherError> {
        match tokio::time::timeout(self.config.request_timeout, fut).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(WatcherError::Timeout(what)),
        }
    }

    fn trim_window(&mut self) {
        while self.window.len() > self.config.reorg_window.max(1) {
            if let Some(b) = self.window.pop_front() {
                self.base = Some(b.num_hash());
                self.base_held = true;
            }
        }
    }

    async fn emit(&self, notification: L1Notification) -> Result<Step, WatcherError> {
        match self.tx.send(notification).await {
            Ok(()) => Ok(Step::Progress),
            Err(_) => Ok(Step::Closed),
        }
    }
}
