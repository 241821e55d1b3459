//! The based node: follows L1, derives L2 blocks from the blobs of `Inbox` proposals, executes and
//! persists them, unwinds on L1 reorgs and serves L2 JSON-RPC.
//!
//! Wiring: [`based_l1::L1Watcher`] (ExEx-shaped notifications) → [`driver::Driver`] (derivation
//! with [`based_derive`], import with [`based_engine`] into [`based_storage::Store`]) → the
//! acknowledgement of the highest L1 block fully processed. [`based_rpc`] serves the store, and
//! [`preconf::Preconfirmations`] the preconfirmed (pending) block on top of it, rebased after
//! every driver step.
//!
//! Invariants:
//! - The derivation state after an L1 block is persisted atomically with the last L2 block derived
//!   from it, so after a crash the node resumes exactly after the last fully processed L1 block
//!   (L2 blocks of a half-processed L1 block are unwound at start).
//! - An L1 block is acknowledged to the L1 source only after it is persisted.
//! - L1 reorgs unwind exactly the L2 blocks derived from orphaned L1 blocks, then re-derive.
//! - After every driver step the pending block is re-executed on the new head; a preconfirmed
//!   transaction leaves it only by landing on L2 or by being recorded as broken.

pub mod adapter;
pub mod args;
pub mod chain_guard;
pub mod driver;
pub mod fault;
pub mod lookahead;
pub mod meta;
pub mod preconf;
mod service;
#[cfg(feature = "test-utils")]
pub mod test_utils;

pub use based_storage::DEFAULT_TRIE_CACHE_BYTES;
pub use driver::{Driver, DriverError};
pub use preconf::{ChainPosition, Preconfirmations};
pub use service::{NodeBackend, SwappableForwarder};

use alloy_consensus::{Header, Sealed};
use alloy_eips::BlockNumberOrTag;
use based_chainspec::ChainSpec;
use based_l1::{
    BeaconClient, BeaconClientConfig, InboxFilter, L1Watcher, L1WatcherConfig, StartFrom,
};
use based_rpc::{RpcConfig, RpcDeps, RpcServer, RpcServerHandle};
use based_storage::Store;
use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};
use tokio::sync::watch;
use tracing::{error, info, warn};

/// Everything `launch` needs. Nothing here but `chain` is consensus: the `Inbox`, the L1 chain id,
/// the derivation start block and the windows come from the chain spec only.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The L2 chain (and its L1: `config.based.l1`).
    pub chain: Arc<ChainSpec>,
    /// Data directory; the store is `<datadir>/db`.
    pub datadir: PathBuf,
    /// Bytes of trie nodes the store caches in memory.
    pub trie_cache_bytes: usize,
    /// L1 execution client JSON-RPC URL.
    pub l1_rpc_url: String,
    /// L1 beacon API base URLs (blobs), tried in order.
    pub l1_beacon_urls: Vec<String>,
    /// Blob archive base URLs, asked after the beacon nodes (blobs past their retention).
    pub l1_blob_archive_urls: Vec<String>,
    /// L1 poll interval.
    pub poll_interval: Duration,
    /// Margin below the L1 head for the `safe`/`finalized` L2 heads (which follow the L1 `safe`/
    /// `finalized` blocks); only matters on L1s without finality.
    pub confirmations: u64,
    /// L2 JSON-RPC listen address.
    pub http_addr: SocketAddr,
    /// Proposer URL for `eth_sendRawTransaction` forwarding.
    pub proposer_url: Option<String>,
    /// Watch signed promises against a `PreconfSlasher` (docs/slashing.md); `None` = off.
    pub watchtower: Option<based_watchtower::WatchtowerConfig>,
}

/// Errors starting the node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Store failure.
    #[error("store: {0}")]
    Store(#[from] based_storage::StoreError),
    /// Driver failure.
    #[error(transparent)]
    Driver(#[from] DriverError),
    /// L1 failure at start-up.
    #[error("L1: {0}")]
    L1(String),
    /// RPC server failure.
    #[error("rpc: {0}")]
    Rpc(String),
    /// Bad configuration.
    #[error("config: {0}")]
    Config(String),
    /// The L1 client serves another chain than the chain spec's `config.based.l1.chainId`.
    #[error(
        "the L1 client at --l1.rpc-url serves chain id {l1}, but the chain spec's \
         config.based.l1.chainId is {spec}: wrong L1 endpoint or wrong --chain"
    )]
    L1ChainIdMismatch {
        /// The chain spec's L1 chain id.
        spec: u64,
        /// `eth_chainId` of the L1 client.
        l1: u64,
    },
}

/// A running node.
#[derive(Debug)]
pub struct NodeHandle {
    rpc: RpcServerHandle,
    forwarder: Arc<SwappableForwarder>,
    shutdown: watch::Sender<bool>,
    driver: Option<std::thread::JoinHandle<()>>,
    /// The current L1 follower task (replaced when the driver restarts the follower).
    watcher: Arc<std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
    backend: Arc<NodeBackend>,
    store: Store,
    watchtower: Option<based_watchtower::WatchtowerHandle>,
}

impl NodeHandle {
    /// HTTP URL of the L2 JSON-RPC server.
    pub fn rpc_url(&self) -> String {
        self.rpc.http_url()
    }

    /// The node's store (read access for tests and tools).
    pub const fn store(&self) -> &Store {
        &self.store
    }

    /// The node's status backend.
    pub const fn backend(&self) -> &Arc<NodeBackend> {
        &self.backend
    }

    /// The node's watchtower, if it runs one (e.g. to follow a gateway's commitment feed started
    /// after the node: [`based_watchtower::WatchtowerHandle::follow`]).
    pub const fn watchtower(&self) -> Option<&based_watchtower::WatchtowerHandle> {
        self.watchtower.as_ref()
    }

    /// Points `eth_sendRawTransaction` forwarding at `url`.
    pub fn set_forwarder(&self, url: &str) -> Result<(), NodeError> {
        self.forwarder.set(url).map_err(|e| NodeError::Config(e.to_string()))
    }

    /// Stops the RPC server, the driver and the L1 watcher, and waits for them.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        self.rpc.stop().await;
        if let Some(w) = self.watchtower.take() {
            w.stop().await;
        }
        let watcher = self.watcher.lock().ok().and_then(|mut w| w.take());
        if let Some(mut watcher) = watcher {
            watcher.abort();
            let _ = (&mut watcher).await;
        }
        if let Some(driver) = self.driver.take() {
            let _ = tokio::task::spawn_blocking(move || driver.join()).await;
        }
    }
}

fn url(s: &str) -> Result<alloy_transport_http::reqwest::Url, NodeError> {
    s.parse().map_err(|e| NodeError::Config(format!("bad URL {s}: {e}")))
}

/// Starts the node: opens the store, starts the L1 watcher, the driver thread and the RPC server
/// (with the default RPC limits).
pub async fn launch(cfg: NodeConfig) -> Result<NodeHandle, NodeError> {
    launch_with_rpc(cfg, None).await
}

/// [`launch`] with the RPC limits of `rpc` (the `--rpc.*` flags); `None`: the defaults.
pub async fn launch_with_rpc(
    cfg: NodeConfig,
    rpc: Option<args::RpcArgs>,
) -> Result<NodeHandle, NodeError> {
    // Test builds only (see `fault`): a crash armed by `BASED_TEST_CRASH_AT`.
    fault::arm_from_env().map_err(|e| NodeError::Config(e.to_string()))?;
    std::fs::create_dir_all(&cfg.datadir)
        .map_err(|e| NodeError::Config(format!("datadir {}: {e}", cfg.datadir.display())))?;
    let store = Store::open_with_cache(cfg.datadir.join("db"), cfg.trie_cache_bytes)?;
    chain_guard::check_or_record(&store, &cfg.chain)
        .map_err(|e| NodeError::Config(e.to_string()))?;
    let l1 =
        alloy_provider::RootProvider::<alloy_network::Ethereum>::new_http(url(&cfg.l1_rpc_url)?);

    check_l1_chain_id(&l1, cfg.chain.l1().chain_id).await?;
    let history = if Driver::needs_l1_history(&store)? {
        Some(fetch_l1_history(&l1, Driver::l1_history_range(&cfg.chain)).await?)
    } else {
        None
    };
    let inbox = cfg.chain.l1().inbox_address;
    let mut driver = Driver::open(store.clone(), cfg.chain.clone(), history)?;
    let events = based_rpc::ChainEvents::default();
    driver.set_events(events.clone());
    let start = resume_point(&driver)?;
    info!(
        target: "based::node",
        chain_id = cfg.chain.chain_id(),
        l1_processed = driver.state().l1_head().number,
        l2_head = driver.state().l2_head().number,
        "node starting"
    );

    let mut wcfg = L1WatcherConfig::new(url(&cfg.l1_rpc_url)?);
    wcfg.poll_interval = cfg.poll_interval;
    let mut beacon = BeaconClientConfig::new(
        cfg.l1_beacon_urls.iter().map(|u| url(u)).collect::<Result<_, _>>()?,
    );
    beacon.archive_urls =
        cfg.l1_blob_archive_urls.iter().map(|u| url(u)).collect::<Result<_, _>>()?;
    beacon.timeout = Duration::from_secs(10);
    if beacon.beacon_urls.is_empty() && beacon.archive_urls.is_empty() {
        return Err(NodeError::Config("no L1 beacon API URL".into()));
    }
    info!(
        target: "based::node",
        beacons = ?cfg.l1_beacon_urls,
        archives = ?cfg.l1_blob_archive_urls,
        "L1 blob sources"
    );
    let beacon = BeaconClient::new(beacon);
    wcfg.beacon = Some(beacon.clone());
    let watcher = L1Watcher::spawn(wcfg.clone(), InboxFilter::new(inbox), start)
        .map_err(|e| NodeError::L1(e.to_string()))?;

    let preconf = Arc::new(Preconfirmations::new(store.clone(), cfg.chain.chain_id()));
    let backend = Arc::new(NodeBackend::new(
        store.clone(),
        cfg.confirmations,
        watcher.heads.clone(),
        preconf,
    ));
    backend.refresh(driver.state());
    let forwarder = Arc::new(SwappableForwarder::default());
    if let Some(u) = &cfg.proposer_url {
        forwarder.set(u).map_err(|e| NodeError::Config(e.to_string()))?;
    }
    let lookahead = lookahead::LookaheadReader::new(
        alloy_provider::RootProvider::new_http(url(&cfg.l1_rpc_url)?),
        inbox,
        cfg.chain.l1().start_block,
        Some(beacon),
    );
    let mut extra = lookahead.into_rpc().remove_context();
    let watchtower = match cfg.watchtower.clone() {
        Some(wcfg) => {
            let l2 = Arc::new(WatchtowerL2 { store: store.clone(), backend: backend.clone() });
            let handle = based_watchtower::spawn(wcfg, Some(l2))
                .await
                .map_err(|e| NodeError::Config(format!("watchtower: {e}")))?;
            extra.merge(handle.into_rpc()).map_err(|e| NodeError::Rpc(e.to_string()))?;
            Some(handle)
        }
        None => None,
    };
    let rpc = RpcServer::start_with(
        cfg.http_addr,
        RpcDeps {
            chain: Arc::new(store.clone()),
            based: backend.clone(),
            forwarder: forwarder.clone(),
            events,
            config: {
                let mut config = RpcConfig::new(cfg.chain.chain_id());
                if let Some(rpc) = &rpc {
                    rpc.apply(&mut config);
                }
                config
            },
        },
        extra,
    )
    .await
    .map_err(|e| NodeError::Rpc(e.to_string()))?;
    info!(target: "based::node", url = %rpc.http_url(), "L2 JSON-RPC listening");

    let (shutdown, shutdown_rx) = watch::channel(false);
    let based_l1::L1WatcherHandle { notifications, acks, task, .. } = watcher;
    let watcher_task = Arc::new(std::sync::Mutex::new(Some(task)));
    let runtime = tokio::runtime::Handle::current();
    let restart = {
        let (task, backend, runtime) = (watcher_task.clone(), backend.clone(), runtime.clone());
        move |start: StartFrom| {
            let _guard = runtime.enter();
            let handle = L1Watcher::spawn(wcfg.clone(), InboxFilter::new(inbox), start)
                .map_err(|e| e.to_string())?;
            if let Ok(mut current) = task.lock()
                && let Some(old) = current.replace(handle.task)
            {
                old.abort();
            }
            backend.set_heads(handle.heads);
            Ok((handle.notifications, handle.acks))
        }
    };
    let source = service::L1Source { notifications, acks, restart: Box::new(restart) };
    let driver_backend = backend.clone();
    let driver = std::thread::Builder::new()
        .name("based-driver".into())
        .spawn(move || {
            let panic_backend = driver_backend.clone();
            let run = std::panic::AssertUnwindSafe(move || {
                service::run_driver(driver, source, driver_backend, shutdown_rx, runtime)
            });
            if std::panic::catch_unwind(run).is_err() {
                error!(target: "based::node", "driver thread panicked");
                panic_backend.set_halted("the driver thread panicked (see the log)".into());
            }
        })
        .map_err(|e| NodeError::Config(format!("spawning driver thread: {e}")))?;

    Ok(NodeHandle {
        rpc,
        forwarder,
        shutdown,
        driver: Some(driver),
        watcher: watcher_task,
        backend,
        store,
        watchtower,
    })
}

/// Runs `f` until it answers, retrying with backoff while L1 is unreachable (20 attempts).
async fn with_l1_retries<T, F, Fut>(what: &str, mut f: F) -> Result<T, NodeError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, alloy_transport::TransportError>>,
{
    let mut delay = Duration::from_millis(200);
    for attempt in 0..20 {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                warn!(target: "based::node", attempt, error = %e, what, "L1 unreachable; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
    Err(NodeError::L1(format!("L1 unreachable at start-up ({what})")))
}

/// Refuses an L1 client whose `eth_chainId` is not the chain spec's `config.based.l1.chainId`.
async fn check_l1_chain_id(l1: &alloy_provider::RootProvider, spec: u64) -> Result<(), NodeError> {
    use alloy_provider::Provider;
    let got = with_l1_retries("eth_chainId", || l1.get_chain_id()).await?;
    if got != spec {
        return Err(NodeError::L1ChainIdMismatch { spec, l1: got });
    }
    Ok(())
}

/// Reads the L1 blocks `range` (the anchor window a fresh store starts with, protocol §7.1),
/// oldest first, and checks they are one chain (refetching if L1 reorged meanwhile).
async fn fetch_l1_history(
    l1: &alloy_provider::RootProvider,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Vec<based_derive::L1Head>, NodeError> {
    use alloy_provider::Provider;
    for _ in 0..5 {
        let mut history = Vec::new();
        let mut parent = None;
        let mut linked = true;
        for number in range.clone() {
            let block = with_l1_retries("eth_getBlockByNumber", || async move {
                l1.get_block_by_number(BlockNumberOrTag::Number(number)).await
            })
            .await?
            .ok_or_else(|| {
                NodeError::L1(format!(
                    "L1 block {number} does not exist (the chain spec's config.based.l1.startBlock \
                     is {}: is the L1 client synced, and is it the chain spec's L1?)",
                    range.end()
                ))
            })?;
            if parent.is_some_and(|p| p != block.header.parent_hash) {
                linked = false;
                break;
            }
            parent = Some(block.header.hash);
            history.push(based_derive::L1Head {
                number,
                hash: block.header.hash,
                timestamp: block.header.timestamp,
            });
        }
        if linked {
            return Ok(history);
        }
        warn!(target: "based::node", "L1 reorged while reading the start blocks; reading again");
    }
    Err(NodeError::L1("the L1 start blocks keep changing (reorgs); try again later".into()))
}

/// Where the L1 watcher resumes: after the last processed L1 block, with the persisted headers of
/// recent processed blocks so a reorg that happened while the node was down is detected.
pub(crate) fn resume_point(driver: &Driver) -> Result<StartFrom, NodeError> {
    let head = driver.state().l1_head().number;
    let headers = meta::load_l1_headers(driver.store(), head, driver::KEEP_RECENT_L1)?;
    if headers.is_empty() {
        return Ok(StartFrom::Block(head.saturating_add(1)));
    }
    let sealed: Vec<Sealed<Header>> = headers.into_iter().map(Sealed::new).collect();
    Ok(StartFrom::Resume(sealed))
}

/// Logs a fatal driver error (the driver thread stops; RPC keeps serving what is stored).
pub(crate) fn report_fatal(e: &DriverError) {
    error!(target: "based::node", error = %e, "driver stopped");
}

/// The node's derived chain as its watchtower reads it: what became of a kept promise's
/// transaction (executed, with its receipt status, or skipped once its L1 block is derived).
struct WatchtowerL2 {
    store: Store,
    backend: Arc<service::NodeBackend>,
}

impl based_watchtower::L2Chain for WatchtowerL2 {
    fn l1_processed(&self) -> u64 {
        use based_rpc::BasedBackend;
        self.backend.sync_status().l1_processed.to::<u64>()
    }

    fn executed(&self, tx_hash: alloy_primitives::B256) -> Option<(u64, u64, bool)> {
        let found = self.store.transaction_by_hash(tx_hash).ok()??;
        let receipts = self.store.receipts(found.block_number).ok()??;
        let receipt = receipts.get(usize::try_from(found.index).ok()?)?;
        Some((found.block_number, found.index, receipt.status()))
    }
}
