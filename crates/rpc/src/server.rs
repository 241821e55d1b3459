//! Server assembly: configuration, dependencies, start/stop.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use alloy_eips::eip1559::BaseFeeParams;
use jsonrpsee::{
    RpcModule,
    server::{Server, ServerConfig, ServerHandle},
};
use tracing::info;

use crate::{
    api::{
        BasedApiServer, DebugApiServer, EthApiServer, EthPubSubApiServer, NetApiServer,
        TxpoolApiServer, Web3ApiServer,
    },
    backend::{BasedBackend, ChainProvider, TxForwarder},
    eth::EthHandler,
    events::ChainEvents,
    subscriptions::PubSub,
};

/// Default `eth_call` / `eth_estimateGas` gas cap (geth's default).
pub const DEFAULT_GAS_CAP: u64 = 50_000_000;
/// Default widest `eth_getLogs` block range.
pub const DEFAULT_MAX_LOGS_BLOCK_RANGE: u64 = 10_000;
/// Default most logs one `eth_getLogs` returns.
pub const DEFAULT_MAX_LOGS: usize = 10_000;
/// Default most blocks one `eth_feeHistory` covers.
pub const DEFAULT_MAX_FEE_HISTORY_BLOCKS: u64 = 1024;
/// Default [`RpcConfig::max_fee_history_percentiles`].
pub const DEFAULT_MAX_FEE_HISTORY_PERCENTILES: usize = 100;
/// Default [`RpcConfig::max_batch_len`] (geth's `BatchRequestLimit`).
pub const DEFAULT_MAX_BATCH_LEN: u32 = 1_000;
/// Default [`RpcConfig::max_filters`].
pub const DEFAULT_MAX_FILTERS: usize = 1_024;
/// Default [`RpcConfig::filter_timeout`] (geth's: 5 minutes).
pub const DEFAULT_FILTER_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Default [`RpcConfig::max_subscriptions_per_connection`] (jsonrpsee's default).
pub const DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION: u32 = 1_024;
/// Default [`RpcConfig::max_proof_keys`].
pub const DEFAULT_MAX_PROOF_KEYS: usize = 1_024;
/// Default [`RpcConfig::proof_window`].
pub const DEFAULT_PROOF_WINDOW: u64 = 256;
/// Default [`RpcConfig::max_struct_logs`].
pub const DEFAULT_MAX_STRUCT_LOGS: u64 = 100_000;
/// Default suggested priority fee (0.001 gwei).
pub const DEFAULT_SUGGESTED_PRIORITY_FEE: u128 = 1_000_000;
/// Default [`RpcConfig::call_timeout`] (geth's `--rpc.evmtimeout`: 5 s).
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Default [`RpcConfig::max_concurrent_calls`]: leaves cores to derivation on a small machine.
pub const DEFAULT_MAX_CONCURRENT_CALLS: usize = 4;
/// Default [`RpcConfig::call_queue_timeout`].
pub const DEFAULT_CALL_QUEUE_TIMEOUT: Duration = Duration::from_secs(1);
/// Default [`RpcConfig::max_fee_history_budget`]: 1,024 blocks with 10 percentiles, or 102
/// blocks with 100.
pub const DEFAULT_MAX_FEE_HISTORY_BUDGET: u64 = 10_240;
/// Default [`RpcConfig::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: u32 = 256;
/// Default [`RpcConfig::max_request_body_size`] (10 MiB).
pub const DEFAULT_MAX_REQUEST_BODY_SIZE: u32 = 10 * 1024 * 1024;
/// Default [`RpcConfig::max_response_body_size`] (64 MiB).
pub const DEFAULT_MAX_RESPONSE_BODY_SIZE: u32 = 64 * 1024 * 1024;

/// RPC server configuration.
#[derive(Debug, Clone)]
pub struct RpcConfig {
    /// The L2 chain id (`eth_chainId`, `net_version`, raw transaction check, call environment).
    pub chain_id: u64,
    /// Gas cap (and default gas) for `eth_call` / `eth_estimateGas` / `eth_createAccessList` /
    /// `debug_traceCall`: a larger requested gas limit is lowered to it (as geth and reth do).
    pub gas_cap: u64,
    /// Wall-clock budget of one `eth_call` / `eth_estimateGas` (all probes of an estimate
    /// together) / `eth_createAccessList` / `debug_trace*` (every transaction traced or
    /// re-executed together); execution still running then is aborted and the request answers
    /// `-32000` "execution aborted (timeout = ...)".
    pub call_timeout: Duration,
    /// Most expensive requests (`eth_call`, `eth_estimateGas`, `eth_createAccessList`,
    /// `eth_getLogs`, `eth_getFilterLogs`, `eth_feeHistory`, `eth_getProof`, `debug_trace*`)
    /// running at once, all clients together, so RPC load cannot take every core from
    /// derivation.
    pub max_concurrent_calls: usize,
    /// How long an expensive request waits for a free slot (see `max_concurrent_calls`) before
    /// it is refused with `-32005`.
    pub call_queue_timeout: Duration,
    /// Widest block range of one `eth_getLogs` (number of blocks).
    pub max_logs_block_range: u64,
    /// Most logs one `eth_getLogs` may return; more is an error (-32005).
    pub max_logs: usize,
    /// Most blocks one `eth_feeHistory` covers (larger requests are truncated, like geth).
    pub max_fee_history_blocks: u64,
    /// Most reward percentiles one `eth_feeHistory` may ask for (more is `-32602`): with
    /// `max_fee_history_blocks` it bounds the rewards computed per request.
    pub max_fee_history_percentiles: usize,
    /// Most blocks × reward percentiles one `eth_feeHistory` computes: a request asking for
    /// more gets fewer (the newest) blocks, like the block cap; `0` disables the budget.
    pub max_fee_history_budget: u64,
    /// Most calls in one JSON-RPC batch (geth's default: 1,000); a longer batch is refused.
    pub max_batch_len: u32,
    /// Priority fee suggested by `eth_maxPriorityFeePerGas` and added by `eth_gasPrice`.
    pub suggested_priority_fee: u128,
    /// EIP-1559 parameters used to predict the next block's base fee.
    pub base_fee_params: BaseFeeParams,
    /// Maximum concurrent connections.
    pub max_connections: u32,
    /// Maximum request body size in bytes.
    pub max_request_body_size: u32,
    /// Maximum response body size in bytes. A trace also stops (`-32005`) once what it recorded
    /// (an estimate of its stack, memory and input copies) passes this size.
    pub max_response_body_size: u32,
    /// Most struct logs one `debug_trace*` request records (all its transactions together);
    /// more is refused with `-32005` while the trace runs.
    pub max_struct_logs: u64,
    /// Most filters installed at once, all clients together (`eth_newFilter` & co answer
    /// `-32005` beyond).
    pub max_filters: usize,
    /// A filter not polled (`eth_getFilterChanges` / `eth_getFilterLogs`) for this long is
    /// removed.
    pub filter_timeout: Duration,
    /// Most `eth_subscribe` subscriptions open on one WebSocket connection.
    pub max_subscriptions_per_connection: u32,
    /// Most storage keys in one `eth_getProof`.
    pub max_proof_keys: usize,
    /// How many blocks behind the head `eth_getProof` serves (a proof at an older block costs
    /// work proportional to the state changed since it); `0`: the head only.
    pub proof_window: u64,
}

impl RpcConfig {
    /// Defaults for a chain id.
    pub fn new(chain_id: u64) -> Self {
        Self {
            chain_id,
            gas_cap: DEFAULT_GAS_CAP,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            max_concurrent_calls: DEFAULT_MAX_CONCURRENT_CALLS,
            call_queue_timeout: DEFAULT_CALL_QUEUE_TIMEOUT,
            max_fee_history_budget: DEFAULT_MAX_FEE_HISTORY_BUDGET,
            max_logs_block_range: DEFAULT_MAX_LOGS_BLOCK_RANGE,
            max_logs: DEFAULT_MAX_LOGS,
            max_fee_history_blocks: DEFAULT_MAX_FEE_HISTORY_BLOCKS,
            max_fee_history_percentiles: DEFAULT_MAX_FEE_HISTORY_PERCENTILES,
            max_batch_len: DEFAULT_MAX_BATCH_LEN,
            suggested_priority_fee: DEFAULT_SUGGESTED_PRIORITY_FEE,
            base_fee_params: BaseFeeParams::ethereum(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_request_body_size: DEFAULT_MAX_REQUEST_BODY_SIZE,
            max_response_body_size: DEFAULT_MAX_RESPONSE_BODY_SIZE,
            max_struct_logs: DEFAULT_MAX_STRUCT_LOGS,
            max_filters: DEFAULT_MAX_FILTERS,
            filter_timeout: DEFAULT_FILTER_TIMEOUT,
            max_subscriptions_per_connection: DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION,
            max_proof_keys: DEFAULT_MAX_PROOF_KEYS,
            proof_window: DEFAULT_PROOF_WINDOW,
        }
    }
}

/// Everything the server needs from the node.
pub struct RpcDeps {
    /// Canonical chain and state reads.
    pub chain: Arc<dyn ChainProvider>,
    /// Rollup status (`safe`/`finalized` tags, `based_` namespace, `eth_syncing`).
    pub based: Arc<dyn BasedBackend>,
    /// Where `eth_sendRawTransaction` sends accepted transactions.
    pub forwarder: Arc<dyn TxForwarder>,
    /// New and unwound blocks (published by the node) and pending transactions (published by
    /// the server): what filters and subscriptions report.
    pub events: ChainEvents,
    /// Configuration.
    pub config: RpcConfig,
}

impl std::fmt::Debug for RpcDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcDeps").field("config", &self.config).finish_non_exhaustive()
    }
}

/// Error starting the server.
#[derive(Debug, thiserror::Error)]
pub enum RpcServerError {
    /// Binding the listen address failed.
    #[error("failed to bind RPC server: {0}")]
    Bind(#[from] std::io::Error),
    /// Registering methods failed (duplicate method name).
    #[error("failed to register RPC methods: {0}")]
    Register(#[from] jsonrpsee::core::RegisterMethodError),
}

/// Builds the module holding every served method (also usable for in-process calls).
pub fn rpc_module(deps: RpcDeps) -> Result<RpcModule<()>, RpcServerError> {
    let deps = Arc::new(deps);
    let pubsub = PubSub::new(deps.events.clone());
    let handler = EthHandler::new(deps);
    let mut module = RpcModule::new(());
    module.merge(EthApiServer::into_rpc(handler.clone()))?;
    module.merge(EthPubSubApiServer::into_rpc(pubsub))?;
    module.merge(NetApiServer::into_rpc(handler.clone()))?;
    module.merge(Web3ApiServer::into_rpc(handler.clone()))?;
    module.merge(DebugApiServer::into_rpc(handler.clone()))?;
    module.merge(TxpoolApiServer::into_rpc(handler.clone()))?;
    module.merge(BasedApiServer::into_rpc(handler))?;
    Ok(module)
}

/// The L2 JSON-RPC server (HTTP and WebSocket on one port).
#[derive(Debug, Clone, Copy)]
pub struct RpcServer;

impl RpcServer {
    /// Binds `addr` (port 0 picks a free port) and starts serving. Must be called within a
    /// tokio runtime.
    pub async fn start(addr: SocketAddr, deps: RpcDeps) -> Result<RpcServerHandle, RpcServerError> {
        Self::start_with(addr, deps, RpcModule::new(())).await
    }

    /// [`Self::start`] with more methods served beside the built-in ones (e.g. the node's
    /// `based_lookahead`); a method name already served is an error.
    pub async fn start_with(
        addr: SocketAddr,
        deps: RpcDeps,
        extra: impl Into<jsonrpsee::Methods>,
    ) -> Result<RpcServerHandle, RpcServerError> {
        let server_config = ServerConfig::builder()
            .max_connections(deps.config.max_connections)
            .max_request_body_size(deps.config.max_request_body_size)
            .max_response_body_size(deps.config.max_response_body_size)
            .max_subscriptions_per_connection(deps.config.max_subscriptions_per_connection)
            .set_batch_request_config(jsonrpsee::server::BatchRequestConfig::Limit(
                deps.config.max_batch_len,
            ))
            .build();
        let mut module = rpc_module(deps)?;
        module.merge(extra)?;
        let metrics = based_metrics::RpcMetricsLayer::new("node", module.method_names());
        let server = Server::builder()
            .set_config(server_config)
            .set_rpc_middleware(
                jsonrpsee::server::middleware::rpc::RpcServiceBuilder::new().layer(metrics),
            )
            .build(addr)
            .await?;
        let local_addr = server.local_addr()?;
        let handle = server.start(module);
        info!(target: "rpc", %local_addr, "JSON-RPC server started");
        Ok(RpcServerHandle { local_addr, handle })
    }
}

/// Handle of a running server. Dropping it does not stop the server; call [`Self::stop`].
#[derive(Debug, Clone)]
pub struct RpcServerHandle {
    local_addr: SocketAddr,
    handle: ServerHandle,
}

impl RpcServerHandle {
    /// The bound address.
    pub const fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://<addr>` URL of the server.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// `ws://<addr>` URL of the server.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.local_addr)
    }

    /// Signals the server to stop and waits until it has.
    pub async fn stop(self) {
        // Already stopped is fine.
        let _ = self.handle.stop();
        self.handle.stopped().await;
        info!(target: "rpc", local_addr = %self.local_addr, "JSON-RPC server stopped");
    }

    /// Waits until the server has stopped.
    pub async fn stopped(self) {
        self.handle.stopped().await;
    }
}
