//! The based proposer: collects L2 transactions and posts them to the L1 `Inbox` in blob
//! transactions, one batch per proposal (docs/protocol.md §3).
//!
//! The proposer is untrusted by design: nodes re-check every rule of the spec and skip what is
//! invalid, so a proposer bug can waste L1 gas but never break the L2.
//!
//! Posting rights (docs/lookahead.md §4): if the `Inbox` has a preconfer source (`Lookahead` or
//! `Whitelist`), the proposer posts only when the next L1 slot is its own (its signer is the slot
//! preconfer's committer), has no preconfer, or the escape hatch is open ([`may_propose`]); else it
//! keeps its transactions for a later slot. A proposal that still lands in a slot it may not use
//! reverts and is requeued (gas lost, nothing else).
//!
//! Invariants:
//! - Every manifest it builds satisfies the contextual rules it can check locally (timestamps
//!   non-decreasing and not after the L1 head it anchors to, anchor = a recent L1 block, the L2
//!   block gas limit respected by the sum of declared transaction gas limits).
//! - Transactions taken from the pool are put back (in order) when a proposal fails to land.
//! - No landed transaction is lost: the proposer remembers what each landed proposal carried
//!   ([`Posted`]) until it is settled ([`settle`]); a proposal whose L1 block leaves the canonical
//!   chain, or whose transactions the node did not derive once it processed that L1 block (the
//!   manifest or batch was skipped), puts its transactions whose nonce is not used on L2 yet back
//!   at the front of the pool. While waiting for a proposal's receipt it watches its anchor block:
//!   if the anchor is reorged out (derivation would skip the manifest) it requeues at once instead
//!   of waiting [`RECEIPT_TIMEOUT`].

pub mod accounts;
pub mod lookahead;
pub mod pool;
pub mod posting;
mod rpc;
pub mod sidecar;

use accounts::{AccountSource, L2Accounts};
use alloy_eips::{BlockNumberOrTag, eip4844::BlobTransactionSidecar};
use alloy_network::{EthereumWallet, TransactionBuilder, TransactionBuilder4844};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use alloy_sol_types::sol;
use based_contracts::Inbox;
use based_primitives::{Batch, BlockManifest, L1Anchor};
use pool::{PoolConfig, PooledTx, TxPool};
use std::{collections::VecDeque, net::SocketAddr, sync::Arc, time::Duration};
use tokio::sync::watch;
use tracing::{debug, info, warn};

pub use rpc::ProposerRpcClient;

/// Gas limit of a `propose` transaction. Fixed, not estimated: an estimate is made in the current
/// slot, the transaction runs in the next one, whose posting-rights check may cost more (a preconfer
/// lookup through the `Lookahead` and the `Registry`; up to `MAX_SERVED_PER_PROPOSAL` forced
/// transactions marked served). Only gas used is paid.
pub const PROPOSE_GAS_LIMIT: u64 = 1_000_000;

/// Extra gas of `proposePromised` per byte of promised transactions (calldata at the EIP-7623 floor,
/// the `Promised` log's data, hashing and copies), on top of [`PROPOSE_GAS_LIMIT`].
pub const PROMISED_GAS_PER_BYTE: u64 = 80;
/// Extra gas of `proposePromised` per promised transaction (Merkle nodes, ABI offsets).
pub const PROMISED_GAS_PER_TX: u64 = 2_000;

/// Gas limit of a proposal carrying `promised` (none: [`PROPOSE_GAS_LIMIT`]).
pub fn propose_gas_limit(promised: &[Bytes]) -> u64 {
    promised.iter().fold(PROPOSE_GAS_LIMIT, |gas, tx| {
        let bytes = u64::try_from(tx.len()).unwrap_or(u64::MAX);
        gas.saturating_add(PROMISED_GAS_PER_TX)
            .saturating_add(bytes.saturating_mul(PROMISED_GAS_PER_BYTE))
    })
}

/// How long the proposer waits for its blob transaction to be included before requeueing.
pub const RECEIPT_TIMEOUT: Duration = Duration::from_secs(30);

/// How many L1 blocks deep a landed proposal is watched for reorgs (when the node's derivation
/// progress cannot be read); deeper ones are forgotten.
pub const REORG_WATCH_DEPTH: u64 = 64;

/// The lowest base fee the block after one with `base_fee` can have (EIP-1559 lowers it by at
/// most 1/8, and never below [`based_admission::MIN_BASE_FEE`] from above it): the pool's base fee
/// floor.
pub fn next_base_fee_floor(base_fee: u64) -> u64 {
    if base_fee <= based_admission::MIN_BASE_FEE {
        return base_fee;
    }
    base_fee.saturating_sub(base_fee / 8).saturating_sub(1).max(based_admission::MIN_BASE_FEE)
}

/// A landed proposal the proposer still watches: the L1 block it landed in and the L2
/// transactions it carried (promised and in the manifest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    /// Number of the L1 block the proposal landed in.
    pub l1_block: u64,
    /// Hash of that block.
    pub l1_hash: B256,
    /// The transactions it carried, in order.
    pub txs: Vec<PooledTx>,
}

/// What becomes of a [`Posted`] proposal at an L1 head ([`settle`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Its L1 block is no longer canonical: requeue its transactions not yet on L2.
    Orphaned,
    /// The node processed its L1 block: requeue those of its transactions it did not derive
    /// (the manifest or batch was skipped) and whose nonce is unused.
    Derived,
    /// Deeper than [`REORG_WATCH_DEPTH`] and not known to be derived: forget it.
    Forget,
    /// Still canonical, not processed yet: keep watching.
    Wait,
}

/// The fate of `posted` given the canonical hash of its L1 block (`None`: no such block any
/// more), the node's last processed L1 block (`None`: unknown) and the L1 head.
pub fn fate(
    posted: &Posted,
    canonical: Option<B256>,
    l1_processed: Option<u64>,
    head: u64,
) -> Fate {
    if canonical != Some(posted.l1_hash) {
        return Fate::Orphaned;
    }
    if l1_processed.is_some_and(|p| p >= posted.l1_block) {
        return Fate::Derived;
    }
    if head.saturating_sub(posted.l1_block) > REORG_WATCH_DEPTH {
        return Fate::Forget;
    }
    Fate::Wait
}

/// Proposer configuration.
#[derive(Debug, Clone)]
pub struct ProposerConfig {
    /// L1 execution client JSON-RPC URL.
    pub l1_rpc_url: String,
    /// L2 node JSON-RPC URL (to read the L2 head's timestamp and gas limit); optional.
    pub l2_rpc_url: Option<String>,
    /// The L1 `Inbox` address.
    pub inbox: Address,
    /// Key that signs and pays for the L1 blob transactions.
    pub signer: PrivateKeySigner,
    /// L2 chain id (transactions for another chain are refused).
    pub l2_chain_id: u64,
    /// L2 fee recipient written into every manifest.
    pub fee_recipient: Address,
    /// L2 block gas limit used when the L2 head cannot be read.
    pub default_gas_limit: u64,
    /// How often to poll L1 for a new head.
    pub poll_interval: Duration,
    /// Where to serve `eth_sendRawTransaction`.
    pub rpc_addr: SocketAddr,
    /// Maximum number of queued transactions.
    pub pool_capacity: usize,
    /// Maximum blobs per proposal.
    pub max_blobs: usize,
    /// Beacon API URLs for the proposer duties: with them, and an `Inbox` in opt-in mode, the
    /// proposer posts each next epoch's lookahead when its signer is an opted-in committer
    /// ([`lookahead::post_next_epoch`]). Empty: it never posts a lookahead.
    pub beacon_urls: Vec<String>,
    /// How the blob sidecar format is chosen (EIP-4844 before Osaka, EIP-7594 from it on).
    pub blob_sidecar: sidecar::SidecarMode,
}

/// Errors of one proposal attempt.
#[derive(Debug, thiserror::Error)]
pub enum ProposerError {
    /// L1 or L2 RPC failure.
    #[error("rpc: {0}")]
    Rpc(String),
    /// The batch could not be encoded into blobs.
    #[error("encode: {0}")]
    Encode(String),
    /// The proposal transaction reverted or was dropped.
    #[error("proposal not included: {0}")]
    NotIncluded(String),
    /// Starting the JSON-RPC server failed.
    #[error("rpc server: {0}")]
    Server(String),
}

/// What the proposer needs to know about the chain to build one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchContext {
    /// L2 chain id.
    pub chain_id: u64,
    /// The L1 block to anchor to (the current L1 head: the proposal lands after it).
    pub anchor: L1Anchor,
    /// Timestamp of the anchor block.
    pub anchor_timestamp: u64,
    /// Timestamp of the latest L2 block known (or proposed).
    pub parent_timestamp: u64,
    /// L2 block gas limit.
    pub gas_limit: u64,
    /// L2 fee recipient.
    pub fee_recipient: Address,
}

/// The result of [`build_batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltBatch {
    /// The batch: one L2 block manifest (its transactions: the ordinary ones).
    pub batch: Batch,
    /// The promised transactions, in promise order: posted with `Inbox.proposePromised`, so that
    /// they are included whatever the blobs hold and their inclusion is provable on L1
    /// (protocol §11); derivation puts them first in the manifest's block.
    pub promised: Vec<Bytes>,
    /// Transactions that can never fit a block (declared gas above the block gas limit).
    pub dropped: Vec<B256>,
    /// Transactions that did not fit this block, in order (to be put back in the pool).
    pub leftover: Vec<PooledTx>,
}

/// Builds a one-block batch from the front of `txs` while their summed declared gas limits fit the
/// block gas limit. Promised transactions (`PooledTx::promised`, at the front of the pool) go to
/// [`BuiltBatch::promised`] (at most `MAX_PROMISED_TXS`), the others into the manifest; both count
/// against the block's gas.
///
/// The timestamp is `max(anchor_timestamp, parent_timestamp + 1)`: strictly after the parent
/// (protocol §4.3) and, because the parent landed no later than the current L1 head, no later than
/// the L1 block the proposal lands in. A transaction whose own gas limit exceeds the block gas
/// limit can never be included and is dropped.
pub fn build_batch(txs: Vec<PooledTx>, ctx: &BatchContext) -> BuiltBatch {
    let mut manifest = BlockManifest {
        timestamp: ctx.anchor_timestamp.max(ctx.parent_timestamp.saturating_add(1)),
        fee_recipient: ctx.fee_recipient,
        gas_limit: ctx.gas_limit,
        anchor: ctx.anchor,
        transactions: Vec::new(),
    };
    let mut dropped = Vec::new();
    let mut leftover = Vec::new();
    let mut promised = Vec::new();
    let mut gas = 0u64;
    for tx in txs {
        if tx.gas_limit > ctx.gas_limit {
            dropped.push(tx.hash);
            continue;
        }
        let next = gas.saturating_add(tx.gas_limit);
        let lane_full = tx.promised && promised.len() >= based_contracts::MAX_PROMISED_TXS;
        if next > ctx.gas_limit || !leftover.is_empty() || lane_full {
            leftover.push(tx);
            continue;
        }
        gas = next;
        if tx.promised {
            promised.push(tx.raw);
        } else {
            manifest.transactions.push(tx.raw);
        }
    }
    BuiltBatch {
        batch: Batch { chain_id: ctx.chain_id, manifests: vec![manifest] },
        promised,
        dropped,
        leftover,
    }
}

/// A running proposer.
#[derive(Debug)]
pub struct ProposerHandle {
    rpc_addr: SocketAddr,
    pool: Arc<TxPool>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    server: jsonrpsee::server::ServerHandle,
    paused: Arc<std::sync::atomic::AtomicBool>,
}

impl ProposerHandle {
    /// Address of the transaction-submission JSON-RPC server.
    pub fn rpc_addr(&self) -> SocketAddr {
        self.rpc_addr
    }

    /// The transaction pool.
    pub fn pool(&self) -> &Arc<TxPool> {
        &self.pool
    }

    /// Pauses (`true`) or resumes proposing; transactions keep queueing meanwhile. A paused proposer
    /// is what a silent (censoring) preconfer looks like from L1.
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, std::sync::atomic::Ordering::Relaxed);
    }

    /// Stops the proposal loop and the RPC server and waits for both.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.server.stop();
        self.server.stopped().await;
        let _ = self.task.await;
    }
}

sol! {
    /// What the proposer asks the `Inbox`'s preconfer source (contracts/src/IPreconferSource.sol,
    /// SlotClock.sol).
    interface IPreconferClock {
        function genesisTimestamp() external view returns (uint256);
        function secondsPerSlot() external view returns (uint256);
        function slotsPerEpoch() external view returns (uint256);
        function preconferAt(uint256 slot) external view returns (bytes32 pubkeyHash, address committer);
    }
}

async fn view<P: Provider, C: SolCall>(
    l1: &P,
    to: Address,
    call: C,
) -> Result<C::Return, ProposerError> {
    based_contracts::client::view(l1, to, call).await.map_err(|e| ProposerError::Rpc(e.to_string()))
}

/// The `Inbox`'s preconfer source and its slot clock, both immutable: read once at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostingRights {
    /// The `Lookahead` or `Whitelist` the Inbox asks.
    pub source: Address,
    /// The source's slot clock (`SlotClock.sol`, same arithmetic).
    pub clock: based_lookahead::SlotClock,
}

/// The `Inbox`'s posting rights (`None`: permissionless).
pub async fn posting_rights<P: Provider>(
    l1: &P,
    inbox: Address,
) -> Result<Option<PostingRights>, ProposerError> {
    let source = view(l1, inbox, Inbox::preconferSourceCall {}).await?;
    if source.is_zero() {
        return Ok(None);
    }
    let number = |v: U256| u64::try_from(v).map_err(|e| ProposerError::Rpc(e.to_string()));
    let clock = based_lookahead::SlotClock::new(
        number(view(l1, source, IPreconferClock::genesisTimestampCall {}).await?)?,
        number(view(l1, source, IPreconferClock::secondsPerSlotCall {}).await?)?,
        number(view(l1, source, IPreconferClock::slotsPerEpochCall {}).await?)?,
    )
    .map_err(|e| ProposerError::Rpc(format!("preconfer source clock: {e}")))?;
    Ok(Some(PostingRights { source, clock }))
}

/// Whether `me` may propose in the L1 block after one with timestamp `head_timestamp` (the next
/// slot): the Inbox is permissionless, its escape hatch is open, or the next slot's preconfer is
/// none or has `me` as committer. Returns the slot checked and the answer.
pub async fn may_propose<P: Provider>(
    l1: &P,
    inbox: Address,
    rights: Option<&PostingRights>,
    me: Address,
    head_timestamp: u64,
) -> Result<(Option<u64>, bool), ProposerError> {
    let Some(rights) = rights else { return Ok((None, true)) };
    let clock = &rights.clock;
    let slot = clock.slot_at(head_timestamp.saturating_add(clock.seconds_per_slot()));
    if view(l1, inbox, Inbox::escapeHatchOpenCall {}).await? {
        return Ok((Some(slot), true));
    }
    let preconfer =
        view(l1, rights.source, IPreconferClock::preconferAtCall { slot: U256::from(slot) })
            .await?;
    Ok((Some(slot), preconfer.committer.is_zero() || preconfer.committer == me))
}

/// The lookahead poster of a `Lookahead` preconfer source (`None` if the source is a `Whitelist`
/// or a URL is malformed).
async fn lookahead_poster<P: Provider>(
    l1: &P,
    rights: &PostingRights,
    beacon_urls: &[String],
) -> Option<lookahead::PosterConfig> {
    // Only a `Lookahead` has a registry.
    view(l1, rights.source, based_contracts::Lookahead::registryCall {}).await.ok()?;
    let urls = beacon_urls
        .iter()
        .map(|u| u.parse())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| warn!(target: "proposer", error = %e, "bad beacon URL: no lookahead posting"))
        .ok()?;
    info!(target: "proposer", lookahead = %rights.source, "posting the lookahead of each next epoch when ours");
    Some(lookahead::PosterConfig {
        lookahead: rights.source,
        clock: rights.clock,
        beacon: based_beacon::BeaconClient::new(based_beacon::BeaconClientConfig::new(urls)),
    })
}

/// Aborts a spawned task when dropped (the lookahead poster ends with the proposal loop).
struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

/// One lookahead post attempt per L1 head until the next epoch is done (posted by anyone, or not
/// ours); failures are retried at the next head.
async fn post_lookahead<P: Provider>(
    l1: &P,
    poster: &lookahead::PosterConfig,
    me: Address,
    done: &mut Option<u64>,
    send_lock: &tokio::sync::Mutex<()>,
) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let next = poster.clock.epoch_of(poster.clock.slot_at(now)).saturating_add(1);
    if *done == Some(next) {
        return;
    }
    match lookahead::post_next_epoch(l1, poster, me, now, send_lock).await {
        Ok(lookahead::PostOutcome::Posted { epoch, entries, poster_key, tx }) => {
            info!(target: "proposer::lookahead", epoch, entries, %poster_key, %tx, "lookahead posted");
            *done = Some(epoch);
        }
        Ok(lookahead::PostOutcome::AlreadyPosted { epoch })
        | Ok(lookahead::PostOutcome::NotOurs { epoch, .. }) => {
            debug!(target: "proposer::lookahead", epoch, "lookahead not ours to post or already posted");
            *done = Some(epoch);
        }
        Err(e) => {
            warn!(target: "proposer::lookahead", error = %e, "lookahead post failed; retrying")
        }
    }
}

/// Starts the RPC server and the proposal loop, with the default pool limits
/// ([`PoolConfig::new`]: `pool_capacity`, 16 per sender, 10% replacement bump).
pub async fn spawn(config: ProposerConfig) -> Result<ProposerHandle, ProposerError> {
    let pool = PoolConfig::new(config.l2_chain_id, config.pool_capacity);
    spawn_with_pool(config, pool).await
}

/// Starts the RPC server and the proposal loop with the pool limits `pool` (its chain id is
/// `config.l2_chain_id`).
pub async fn spawn_with_pool(
    config: ProposerConfig,
    pool: PoolConfig,
) -> Result<ProposerHandle, ProposerError> {
    // Load the KZG trusted setup and the compressor now, not in the first proposal (seconds in a
    // debug build: long enough to miss the slot a first promise was made for). Until it is done
    // `based_postingStatus` says not ready, and a gateway promises nothing.
    let stats = Arc::new(posting::PostingStats::default());
    let warmed = stats.clone();
    let cell_proofs = config.blob_sidecar == sidecar::SidecarMode::Eip7594;
    tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let warm = warm_up_sidecar();
        // Pinned to cell proofs: build their tables now too, not in the first proposal.
        if let Ok(warm) = warm
            && cell_proofs
        {
            let _ = sidecar::in_format(warm, sidecar::SidecarFormat::Eip7594);
        }
        warmed.set_ready();
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        debug!(target: "proposer", elapsed_ms, "blob encoder warmed up");
    });
    let pool = Arc::new(TxPool::with_config(PoolConfig { chain_id: config.l2_chain_id, ..pool }));
    pool.set_block_limits(config.default_gas_limit, based_admission::MIN_BASE_FEE);
    // Without an L2 node the account rule (nonce, balance) cannot be applied: stateless only.
    let accounts: Option<Arc<dyn AccountSource>> = match config.l2_rpc_url.as_ref() {
        Some(url) => match url.parse() {
            Ok(url) => Some(Arc::new(L2Accounts::new(ProviderBuilder::new().connect_http(url)))),
            Err(e) => {
                warn!(target: "proposer", error = %e, "invalid L2 RPC URL: account checks off");
                None
            }
        },
        None => {
            warn!(target: "proposer", "no L2 RPC URL: nonce and balance are not checked on admission");
            None
        }
    };
    let wake = Arc::new(tokio::sync::Notify::new());
    let (rpc_addr, server) = rpc::start(
        config.rpc_addr,
        pool.clone(),
        config.l2_chain_id,
        accounts.clone(),
        stats.clone(),
        wake.clone(),
    )
    .await
    .map_err(|e| ProposerError::Server(e.to_string()))?;
    info!(target: "proposer", %rpc_addr, inbox = %config.inbox, "proposer listening");
    let (shutdown, rx) = watch::channel(false);
    let paused = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let signals = Signals { paused: paused.clone(), stats, wake };
    let task = tokio::spawn(run(config, pool.clone(), accounts, rx, signals));
    Ok(ProposerHandle { rpc_addr, pool, shutdown, task, server, paused })
}

/// What the proposal loop shares with its handle and its RPC server.
struct Signals {
    /// Set: do not propose.
    paused: Arc<std::sync::atomic::AtomicBool>,
    /// Promised transactions' arrivals and posting latency.
    stats: Arc<posting::PostingStats>,
    /// Notified when a promised transaction arrives: propose now, not at the next poll.
    wake: Arc<tokio::sync::Notify>,
}

async fn run(
    config: ProposerConfig,
    pool: Arc<TxPool>,
    accounts: Option<Arc<dyn AccountSource>>,
    mut shutdown: watch::Receiver<bool>,
    signals: Signals,
) {
    let Signals { paused, stats, wake } = signals;
    let wallet = EthereumWallet::from(config.signer.clone());
    let l1 = match config.l1_rpc_url.parse() {
        // Nonces are read from L1 for every proposal (no cache): after an L1 reorg a cached
        // nonce would leave a gap and every later proposal would hang.
        Ok(url) => ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_gas_estimation()
            .filler(alloy_provider::fillers::BlobGasFiller::default())
            .with_simple_nonce_management()
            .fetch_chain_id()
            .wallet(wallet)
            .connect_http(url),
        Err(e) => {
            warn!(target: "proposer", error = %e, "invalid L1 RPC URL; proposer idle");
            return;
        }
    };
    let l2 = config
        .l2_rpc_url
        .as_ref()
        .and_then(|u| u.parse().ok())
        .map(|url| ProviderBuilder::new().connect_http(url));
    let me = config.signer.address();
    // The Inbox's preconfer source is immutable: read once (retried until L1 answers).
    let rights = loop {
        match posting_rights(&l1, config.inbox).await {
            Ok(rights) => break rights,
            Err(e) => {
                warn!(target: "proposer", error = %e, "cannot read the Inbox's preconfer source; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(config.poll_interval.max(Duration::from_millis(200))) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    };
    if let Some(rights) = &rights {
        info!(target: "proposer", source = %rights.source, committer = %me, "posting rights enforced: proposing only in own or open slots");
    }
    let poster = match &rights {
        Some(rights) if !config.beacon_urls.is_empty() => {
            lookahead_poster(&l1, rights, &config.beacon_urls).await
        }
        _ => None,
    };
    // Proposals and lookahead posts sign with the same key: one send at a time (nonce read +
    // submission), receipts awaited outside the lock.
    let send_lock = Arc::new(tokio::sync::Mutex::new(()));
    let blob_sidecar = sidecar::SidecarChooser::new(config.blob_sidecar);
    // The lookahead is posted by its own task, so that waiting for a post's receipt never delays
    // a proposal (with short slots that wait alone can miss the slot a promise was made for).
    let poster_task = poster.map(|poster| {
        let (l1, lock, mut stop) = (l1.clone(), send_lock.clone(), shutdown.clone());
        let interval = config.poll_interval;
        tokio::spawn(async move {
            let mut posted_epoch: Option<u64> = None;
            let mut last_post_head = 0u64;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = stop.changed() => return,
                }
                if let Ok(head) = l1.get_block_number().await
                    && head != last_post_head
                {
                    last_post_head = head;
                    post_lookahead(&l1, &poster, me, &mut posted_epoch, &lock).await;
                }
            }
        })
    });
    let _poster_guard = AbortOnDrop(poster_task);
    let mut last_l1 = 0u64;
    // Timestamp of our last landed proposal and the L1 block it landed in: it counts as the L2
    // parent (the node may not have derived it yet) only while that L1 block is canonical.
    let mut last: Option<(u64, B256, u64)> = None;
    // Landed proposals not settled yet (oldest first).
    let mut posted: VecDeque<Posted> = VecDeque::new();
    let mut seen_head = 0u64;
    let mut backoff = config.poll_interval;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = wake.notified() => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        let head = match l1.get_block_number().await {
            Ok(n) => n,
            Err(e) => {
                warn!(target: "proposer", error = %e, "L1 head unavailable");
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        backoff = config.poll_interval;
        if head != seen_head {
            seen_head = head;
            if let Some(l2) = &l2 {
                refresh_limits(l2, &pool).await;
            }
            settle(&l1, l2.as_ref(), accounts.as_deref(), &mut posted, &pool, head).await;
        }
        if head == last_l1 || pool.is_empty() || paused.load(std::sync::atomic::Ordering::Relaxed) {
            continue;
        }
        debug!(target: "proposer", head, pool = pool.len(), "new L1 head with transactions waiting");
        last_l1 = head;
        if rights.is_some() {
            let head_ts = match l1.get_block_by_number(head.into()).await {
                Ok(Some(b)) => b.header.timestamp,
                _ => continue,
            };
            match may_propose(&l1, config.inbox, rights.as_ref(), me, head_ts).await {
                Ok((_, true)) => {}
                Ok((slot, false)) => {
                    debug!(target: "proposer", ?slot, "next slot belongs to another preconfer; waiting");
                    continue;
                }
                Err(e) => {
                    warn!(target: "proposer", error = %e, "posting rights unavailable; waiting");
                    continue;
                }
            }
        }
        let budget = config.max_blobs.saturating_mul(based_blob::USABLE_BYTES_PER_BLOB) / 10 * 9;
        let txs = pool.take(budget, based_primitives::MAX_TXS_PER_BATCH);
        if txs.is_empty() {
            continue;
        }
        let count = txs.len();
        let last_timestamp = match last {
            Some((ts, hash, number)) => match l1.get_block_by_number(number.into()).await {
                Ok(Some(b)) if b.header.hash == hash => ts,
                _ => 0,
            },
            None => 0,
        };
        let sent = propose_once(
            &config,
            &l1,
            l2.as_ref(),
            txs.clone(),
            last_timestamp,
            &pool,
            Submit { lock: &send_lock, sidecar: &blob_sidecar },
        )
        .await;
        match sent {
            Ok(Landed { timestamp, tx_hash, l1_block, l1_hash, included }) => {
                // The posting latency of its promised transactions, by the landing block's time
                // (the clock a promise is judged by).
                let promised = included.iter().filter(|t| t.promised).map(|t| t.hash);
                let l1_time = match l1.get_block_by_number(l1_block.into()).await {
                    Ok(Some(b)) => b.header.timestamp,
                    _ => posting::unix_now_ms() / 1000,
                };
                stats.landed(promised, l1_time);
                last = Some((timestamp, l1_hash, l1_block));
                posted.push_back(Posted { l1_block, l1_hash, txs: included });
                metrics::counter!(based_metrics::names::PROPOSALS_INCLUDED).increment(1);
                info!(target: "proposer", txs = count, %tx_hash, l1_block, "proposal included");
            }
            Err(e) => {
                metrics::counter!(based_metrics::names::PROPOSALS_FAILED).increment(1);
                warn!(target: "proposer", error = %e, txs = count, "proposal failed; requeued");
                pool.requeue_front(txs);
            }
        }
    }
}

/// Updates the pool's block gas limit and base fee floor from the L2 head.
async fn refresh_limits<Q: Provider>(l2: &Q, pool: &TxPool) {
    if let Ok(Some(b)) = l2.get_block_by_number(BlockNumberOrTag::Latest).await {
        let floor = b.header.base_fee_per_gas.map_or(0, next_base_fee_floor);
        pool.set_block_limits(b.header.gas_limit, floor);
    }
}

/// The node's last processed L1 block (`based_syncStatus`), if it answers.
async fn l1_processed<Q: Provider>(l2: &Q) -> Option<u64> {
    let status: serde_json::Value = l2.raw_request("based_syncStatus".into(), ()).await.ok()?;
    let processed = status.get("l1Processed")?;
    match processed {
        serde_json::Value::String(s) => u64::from_str_radix(s.trim_start_matches("0x"), 16).ok(),
        other => other.as_u64(),
    }
}

/// Settles the landed proposals at L1 head `head` ([`fate`]): requeues (at the front of the pool,
/// in order) the transactions of orphaned proposals, and those of derived proposals the node does
/// not have, whose nonce is not used on L2 yet; forgets settled and deep ones.
async fn settle<P: Provider, Q: Provider>(
    l1: &P,
    l2: Option<&Q>,
    accounts: Option<&dyn AccountSource>,
    posted: &mut VecDeque<Posted>,
    pool: &TxPool,
    head: u64,
) {
    if posted.is_empty() {
        return;
    }
    let processed = match l2 {
        Some(l2) => l1_processed(l2).await,
        None => None,
    };
    let mut requeue = Vec::new();
    let mut keep = VecDeque::new();
    while let Some(p) = posted.pop_front() {
        let canonical = match l1.get_block_by_number(p.l1_block.into()).await {
            Ok(block) => block.map(|b| b.header.hash),
            // L1 unreachable: decide later.
            Err(_) => {
                keep.push_back(p);
                continue;
            }
        };
        match fate(&p, canonical, processed, head) {
            Fate::Orphaned => {
                warn!(target: "proposer", l1_block = p.l1_block, l1_hash = %p.l1_hash, txs = p.txs.len(), "proposal orphaned by an L1 reorg: requeueing its transactions");
                metrics::counter!(based_metrics::names::PROPOSALS_FAILED).increment(1);
                requeue.extend(p.txs);
            }
            Fate::Derived => {
                let Some(l2) = l2 else { continue };
                for tx in p.txs {
                    match l2.get_transaction_receipt(tx.hash).await {
                        Ok(Some(_)) => {}
                        Ok(None) => {
                            debug!(target: "proposer", hash = %tx.hash, l1_block = p.l1_block, "posted transaction not derived: requeueing");
                            requeue.push(tx);
                        }
                        // Unknown: keep it (execution skips a used nonce).
                        Err(_) => requeue.push(tx),
                    }
                }
            }
            Fate::Forget => {}
            Fate::Wait => keep.push_back(p),
        }
    }
    *posted = keep;
    if requeue.is_empty() {
        return;
    }
    let mut nonces = std::collections::HashMap::new();
    if let Some(accounts) = accounts {
        for tx in &requeue {
            if !nonces.contains_key(&tx.sender)
                && let Ok(account) = accounts.account(tx.sender).await
            {
                nonces.insert(tx.sender, account.nonce);
            }
        }
    }
    let count = requeue.len();
    let requeue = pool::unused_nonces(requeue, |a| nonces.get(a).copied());
    info!(target: "proposer", requeued = requeue.len(), already_on_l2 = count.saturating_sub(requeue.len()), "transactions of unsettled proposals back in the pool");
    pool.requeue_front(requeue);
}

/// A proposal that landed ([`propose_once`]).
#[derive(Debug)]
struct Landed {
    /// Timestamp of its (last) manifest.
    timestamp: u64,
    /// The L1 transaction.
    tx_hash: B256,
    /// The L1 block it landed in.
    l1_block: u64,
    /// That block's hash.
    l1_hash: B256,
    /// The L2 transactions it carried, in order.
    included: Vec<PooledTx>,
}

async fn propose_once<P: Provider, Q: Provider>(
    config: &ProposerConfig,
    l1: &P,
    l2: Option<&Q>,
    txs: Vec<PooledTx>,
    last_timestamp: u64,
    pool: &TxPool,
    submit: Submit<'_>,
) -> Result<Landed, ProposerError> {
    let Submit { lock: send_lock, sidecar: blob_sidecar } = submit;
    let rpc = |e: alloy_transport::TransportError| ProposerError::Rpc(e.to_string());
    let started = std::time::Instant::now();
    let ms =
        |since: std::time::Instant| u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX);
    let l1_head = l1
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .map_err(rpc)?
        .ok_or_else(|| ProposerError::Rpc("no L1 head".into()))?;
    let (parent_timestamp, gas_limit) = match l2 {
        Some(l2) => match l2.get_block_by_number(BlockNumberOrTag::Latest).await {
            Ok(Some(b)) => (b.header.timestamp, b.header.gas_limit),
            Ok(None) | Err(_) => (0, config.default_gas_limit),
        },
        None => (0, config.default_gas_limit),
    };
    let ctx = BatchContext {
        chain_id: config.l2_chain_id,
        anchor: L1Anchor { number: l1_head.header.number, hash: l1_head.header.hash },
        anchor_timestamp: l1_head.header.timestamp,
        parent_timestamp: parent_timestamp.max(last_timestamp),
        gas_limit,
        fee_recipient: config.fee_recipient,
    };
    let taken = txs.clone();
    let BuiltBatch { batch, promised, dropped, leftover } = build_batch(txs, &ctx);
    let included: Vec<PooledTx> = taken
        .into_iter()
        .filter(|t| !dropped.contains(&t.hash) && !leftover.iter().any(|l| l.hash == t.hash))
        .collect();
    for hash in dropped {
        debug!(target: "proposer", %hash, "dropped: gas limit above block gas limit");
    }
    // Leftovers go back now; on failure the caller requeues the whole set (dedup keeps one copy).
    pool.requeue_front(leftover);
    let sidecar = encode_sidecar(&batch)?;
    let blob_fee = l1.get_blob_base_fee().await.map_err(rpc)?;
    let gas_limit = propose_gas_limit(&promised);
    let promised_count = promised.len();
    let input = if promised.is_empty() {
        Inbox::proposeCall {}.abi_encode()
    } else {
        Inbox::proposePromisedCall { txs: promised }.abi_encode()
    };
    let mut request = TransactionRequest::default()
        .with_to(config.inbox)
        .with_input(Bytes::from(input))
        .with_gas_limit(gas_limit);
    request.max_fee_per_blob_gas = Some(blob_fee.saturating_mul(2).max(1));
    let built_ms = ms(started);
    let sending = std::time::Instant::now();
    let lock_ms = std::sync::atomic::AtomicU64::new(0);
    let send = |format: sidecar::SidecarFormat| {
        let (sidecar, mut request) = (sidecar.clone(), request.clone());
        let lock_ms = &lock_ms;
        async move {
            // Cell proofs cost CPU: computed off the async workers, before taking the lock.
            let variant = tokio::task::spawn_blocking(move || sidecar::in_format(sidecar, format))
                .await
                .map_err(|e| SendFailure::Encode(e.to_string()))?
                .map_err(SendFailure::Encode)?;
            request.set_blob_sidecar(variant);
            request.populate_blob_hashes();
            let waiting = std::time::Instant::now();
            let _sending = send_lock.lock().await;
            lock_ms.store(ms(waiting), std::sync::atomic::Ordering::Relaxed);
            l1.send_transaction(request).await.map_err(SendFailure::Rpc)
        }
    };
    let pending = blob_sidecar
        .send(send, |e| matches!(e, SendFailure::Rpc(e) if e.as_error_resp().is_some()))
        .await
        .map_err(|e| match e {
            SendFailure::Rpc(e) => rpc(e),
            SendFailure::Encode(e) => ProposerError::Encode(e),
        })?;
    let lock_ms = lock_ms.load(std::sync::atomic::Ordering::Relaxed);
    metrics::counter!(based_metrics::names::PROPOSALS_SENT).increment(1);
    let tx_hash = *pending.tx_hash();
    debug!(target: "proposer", %tx_hash, l1_head = l1_head.header.number, promised = promised_count, built_ms, lock_ms, send_ms = ms(sending), "proposal sent");
    // Poll for the receipt ourselves: a block-watching waiter can miss a receipt whose block is
    // reorged out right away, and then never return.
    let deadline = tokio::time::Instant::now() + RECEIPT_TIMEOUT;
    // After an L1 reorg that removes the anchor the manifest would be skipped by derivation
    // (and the transaction may be gone from L1's mempool): requeue at once, not after the timeout.
    let receipt = loop {
        if let Ok(Some(r)) = l1.get_transaction_receipt(tx_hash).await {
            break r;
        }
        if let Ok(block) = l1.get_block_by_number(ctx.anchor.number.into()).await
            && block.map(|b| b.header.hash) != Some(ctx.anchor.hash)
        {
            return Err(ProposerError::NotIncluded(format!(
                "anchor L1 block {} reorged out while waiting for {tx_hash}",
                ctx.anchor.number
            )));
        }
        if tokio::time::Instant::now() > deadline {
            return Err(ProposerError::NotIncluded(format!("no receipt for {tx_hash} in time")));
        }
        tokio::time::sleep(config.poll_interval).await;
    };
    if !receipt.status() {
        return Err(ProposerError::NotIncluded(format!("reverted: {}", receipt.transaction_hash)));
    }
    metrics::counter!(based_metrics::names::PROMISED_TXS_POSTED)
        .increment(u64::try_from(promised_count).unwrap_or(u64::MAX));
    let timestamp = batch.manifests.last().map_or(ctx.parent_timestamp, |m| m.timestamp);
    Ok(Landed {
        timestamp,
        tx_hash: receipt.transaction_hash,
        l1_block: receipt.block_number.unwrap_or_default(),
        l1_hash: receipt.block_hash.unwrap_or_default(),
        included,
    })
}

/// How proposals reach the L1: one send at a time (shared with the lookahead posts), in the
/// chosen sidecar format.
#[derive(Debug, Clone, Copy)]
struct Submit<'a> {
    lock: &'a tokio::sync::Mutex<()>,
    sidecar: &'a sidecar::SidecarChooser,
}

/// Why a proposal could not be sent.
#[derive(Debug)]
enum SendFailure {
    /// The sidecar could not be put in the wanted format.
    Encode(String),
    /// The L1 refused the transaction or could not be reached.
    Rpc(alloy_transport::TransportError),
}

impl std::fmt::Display for SendFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Encode(e) => write!(f, "encode: {e}"),
            Self::Rpc(e) => write!(f, "rpc: {e}"),
        }
    }
}

/// The sidecar of an empty one-block batch for no chain (chain id 0: derivation of any chain
/// skips it). Encoding it loads the KZG trusted setup and the compressor: the proposer's warm-up,
/// and the devnet's blob transaction warming up anvil's verifier.
pub fn warm_up_sidecar() -> Result<BlobTransactionSidecar, ProposerError> {
    encode_sidecar(&Batch {
        chain_id: 0,
        manifests: vec![BlockManifest {
            timestamp: 1,
            fee_recipient: Address::ZERO,
            gas_limit: 30_000_000,
            anchor: L1Anchor { number: 0, hash: B256::ZERO },
            transactions: Vec::new(),
        }],
    })
}

/// Encodes a batch into the blob sidecar of a proposal transaction.
pub fn encode_sidecar(batch: &Batch) -> Result<BlobTransactionSidecar, ProposerError> {
    let encoded =
        based_blob::encode_batch(batch).map_err(|e| ProposerError::Encode(e.to_string()))?;
    Ok(encoded.sidecar)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::keccak256;

    fn tx(n: u8, gas_limit: u64) -> PooledTx {
        let raw = Bytes::from(vec![n; 10]);
        PooledTx {
            hash: keccak256(&raw),
            sender: Address::ZERO,
            nonce: u64::from(n),
            gas_limit,
            max_fee_per_gas: 1,
            priority_fee: 1,
            raw,
            promised: false,
        }
    }

    fn ctx(parent_timestamp: u64) -> BatchContext {
        BatchContext {
            chain_id: 4242,
            anchor: L1Anchor { number: 7, hash: B256::repeat_byte(7) },
            anchor_timestamp: 100,
            parent_timestamp,
            gas_limit: 100_000,
            fee_recipient: Address::repeat_byte(0xfe),
        }
    }

    #[test]
    fn fills_one_block_drops_oversized_and_returns_leftovers() {
        let txs = vec![tx(1, 60_000), tx(2, 40_000), tx(3, 1), tx(4, 200_000), tx(5, 99_999)];
        let built = build_batch(txs.clone(), &ctx(0));
        assert_eq!(built.dropped, vec![txs[3].hash]);
        assert_eq!(built.batch.manifests.len(), 1);
        let m = &built.batch.manifests[0];
        assert_eq!(m.transactions, vec![txs[0].raw.clone(), txs[1].raw.clone()]);
        // Order is kept: once one transaction does not fit, the rest wait too.
        assert_eq!(built.leftover, vec![txs[2].clone(), txs[4].clone()]);
        assert_eq!((m.timestamp, m.anchor.number), (100, 7));
        assert!(built.batch.check_limits().is_ok());
    }

    #[test]
    fn promised_txs_go_to_the_promised_lane_and_count_gas() {
        let mut p1 = tx(1, 30_000);
        p1.promised = true;
        let mut p2 = tx(2, 30_000);
        p2.promised = true;
        let txs = vec![p1.clone(), p2.clone(), tx(3, 30_000), tx(4, 30_000)];
        let built = build_batch(txs.clone(), &ctx(0));
        assert_eq!(built.promised, vec![p1.raw, p2.raw]);
        assert_eq!(built.batch.manifests[0].transactions, vec![txs[2].raw.clone()]);
        assert_eq!(built.leftover, vec![txs[3].clone()]);
        // A proposal with promised transactions gets more gas, growing with their size.
        assert_eq!(propose_gas_limit(&[]), PROPOSE_GAS_LIMIT);
        assert!(propose_gas_limit(&built.promised) > PROPOSE_GAS_LIMIT);
        assert!(
            propose_gas_limit(&[Bytes::from(vec![1u8; 1000])])
                > propose_gas_limit(&[Bytes::from(vec![1u8; 10])])
        );
    }

    #[test]
    fn timestamp_strictly_after_parent() {
        let built = build_batch(vec![tx(1, 21_000)], &ctx(150));
        assert_eq!(built.batch.manifests[0].timestamp, 151);
        let built = build_batch(vec![tx(1, 21_000)], &ctx(99));
        assert_eq!(built.batch.manifests[0].timestamp, 100);
    }

    #[test]
    fn fate_of_a_landed_proposal() {
        let p = Posted { l1_block: 10, l1_hash: B256::repeat_byte(1), txs: vec![tx(1, 21_000)] };
        let other = Some(B256::repeat_byte(2));
        assert_eq!(fate(&p, other, Some(100), 11), Fate::Orphaned);
        assert_eq!(fate(&p, None, None, 11), Fate::Orphaned);
        assert_eq!(fate(&p, Some(p.l1_hash), Some(10), 11), Fate::Derived);
        assert_eq!(fate(&p, Some(p.l1_hash), Some(9), 11), Fate::Wait);
        assert_eq!(fate(&p, Some(p.l1_hash), None, 10 + REORG_WATCH_DEPTH), Fate::Wait);
        assert_eq!(fate(&p, Some(p.l1_hash), None, 11 + REORG_WATCH_DEPTH), Fate::Forget);
    }

    #[test]
    fn base_fee_floor_follows_eip1559() {
        assert_eq!(next_base_fee_floor(0), 0);
        assert_eq!(next_base_fee_floor(7), 7);
        assert_eq!(next_base_fee_floor(1_000_000_000), 874_999_999);
        assert_eq!(next_base_fee_floor(9), 7);
    }

    /// Next nonce 2 for every sender.
    #[derive(Debug)]
    struct NonceTwo;

    #[jsonrpsee::core::async_trait]
    impl AccountSource for NonceTwo {
        async fn account(&self, _: Address) -> Result<based_admission::Account, String> {
            Ok(based_admission::Account { nonce: 2, balance: U256::ZERO })
        }
    }

    fn mocked() -> (alloy_transport::mock::Asserter, impl Provider) {
        let asserter = alloy_transport::mock::Asserter::new();
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_mocked_client(asserter.clone());
        (asserter, provider)
    }

    #[tokio::test]
    async fn orphaned_proposal_goes_back_to_the_pool_without_used_nonces() {
        let (l1, l1_provider) = mocked();
        let pool = TxPool::new(4242, 10);
        let carried = vec![tx(1, 21_000), tx(2, 21_000), tx(3, 21_000)];
        let mut posted = VecDeque::from([
            Posted { l1_block: 10, l1_hash: B256::repeat_byte(1), txs: carried.clone() },
            Posted { l1_block: 11, l1_hash: B256::repeat_byte(2), txs: vec![tx(4, 21_000)] },
        ]);
        // L1 block 10 is no longer there (reorged to a shorter chain), block 11 has another hash.
        l1.push_success(&serde_json::Value::Null);
        let mut replaced =
            alloy_rpc_types_eth::Block::<alloy_rpc_types_eth::Transaction>::default();
        replaced.header.hash = B256::repeat_byte(9);
        replaced.header.inner.number = 11;
        l1.push_success(&replaced);
        settle(
            &l1_provider,
            None::<&alloy_provider::RootProvider>,
            Some(&NonceTwo),
            &mut posted,
            &pool,
            12,
        )
        .await;
        assert!(posted.is_empty());
        // Nonce 1 was used on L2 meanwhile: not requeued; the others are, in order, at the front.
        let back = pool.take(usize::MAX, 10);
        assert_eq!(back.iter().map(|t| t.nonce).collect::<Vec<_>>(), vec![2, 3, 4]);
    }

    #[tokio::test]
    async fn canonical_proposal_is_kept_until_derived_and_undelivered_txs_requeued() {
        let (l1, l1_provider) = mocked();
        let (l2, l2_provider) = mocked();
        let pool = TxPool::new(4242, 10);
        let hash = B256::repeat_byte(1);
        let mut block = alloy_rpc_types_eth::Block::<alloy_rpc_types_eth::Transaction>::default();
        block.header.hash = hash;
        block.header.inner.number = 10;
        let mut posted = VecDeque::from([Posted {
            l1_block: 10,
            l1_hash: hash,
            txs: vec![tx(2, 21_000), tx(3, 21_000)],
        }]);
        // Not processed by the node yet: kept.
        l2.push_success(&serde_json::json!({ "l1Processed": "0x9" }));
        l1.push_success(&block);
        settle(&l1_provider, Some(&l2_provider), Some(&NonceTwo), &mut posted, &pool, 11).await;
        assert_eq!(posted.len(), 1);
        assert!(pool.is_empty());
        // Processed, and the node has neither transaction (the manifest was skipped): requeued.
        l2.push_success(&serde_json::json!({ "l1Processed": "0xa" }));
        l1.push_success(&block);
        l2.push_success(&serde_json::Value::Null);
        l2.push_success(&serde_json::Value::Null);
        settle(&l1_provider, Some(&l2_provider), Some(&NonceTwo), &mut posted, &pool, 12).await;
        assert!(posted.is_empty());
        assert_eq!(
            pool.take(usize::MAX, 10).iter().map(|t| t.nonce).collect::<Vec<_>>(),
            vec![2, 3]
        );
    }
}
