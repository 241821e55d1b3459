//! Server assembly: configuration, dependencies, start/stop.

use std::{net::SocketAddr, sync::Arc};

use alloy_eips::eip1559::BaseFeeParams;
use jsonrpsee::{
    RpcModule,
    server::{Server, ServerConfig, ServerHandle},
};
use tracing::info;

use crate::{
    api::{BasedApiServer, EthApiServer, NetApiServer, Web3ApiServer},
    backend::{BasedBackend, ChainProvider, TxForwarder},
    eth::EthHandler,
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
/// Default suggested priority fee (0.001 gwei).
pub const DEFAULT_SUGGESTED_PRIORITY_FEE: u128 = 1_000_000;

/// RPC server configuration.
#[derive(Debug, Clone)]
pub struct RpcConfig {
    /// The L2 chain id (`eth_chainId`, `net_version`, raw transaction check, call environment).
    pub chain_id: u64,
    /// Gas cap (and default gas) for `eth_call` / `eth_estimateGas`.
    pub gas_cap: u64,
    /// Widest block range of one `eth_getLogs` (number of blocks).
    pub max_logs_block_range: u64,
    /// Most logs one `eth_getLogs` may return; more is an error (-32005).
    pub max_logs: usize,
    /// Most blocks one `eth_feeHistory` covers (larger requests are truncated, like geth).
    pub max_fee_history_blocks: u64,
    /// Most reward percentiles one `eth_feeHistory` may ask for (more is `-32602`): with
    /// `max_fee_history_blocks` it bounds the rewards computed per request.
    pub max_fee_history_percentiles: usize,
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
    /// Maximum response body size in bytes.
    pub max_response_body_size: u32,
}

impl RpcConfig {
    /// Defaults for a chain id.
    pub fn new(chain_id: u64) -> Self {
        Self {
            chain_id,
            gas_cap: DEFAULT_GAS_CAP,
            max_logs_block_range: DEFAULT_MAX_LOGS_BLOCK_RANGE,
            max_logs: DEFAULT_MAX_LOGS,
            max_fee_history_blocks: DEFAULT_MAX_FEE_HISTORY_BLOCKS,
            max_fee_history_percentiles: DEFAULT_MAX_FEE_HISTORY_PERCENTILES,
            max_batch_len: DEFAULT_MAX_BATCH_LEN,
            suggested_priority_fee: DEFAULT_SUGGESTED_PRIORITY_FEE,
            base_fee_params: BaseFeeParams::ethereum(),
            max_connections: 256,
            max_request_body_size: 10 * 1024 * 1024,
            max_response_body_size: 64 * 1024 * 1024,
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
    let handler = EthHandler::new(Arc::new(deps));
    let mut module = RpcModule::new(());
    module.merge(EthApiServer::into_rpc(handler.clone()))?;
    module.merge(NetApiServer::into_rpc(handler.clone()))?;
    module.merge(Web3ApiServer::into_rpc(handler.clone()))?;
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
            .set_batch_request_config(jsonrpsee::server::BatchRequestConfig::Limit(
                deps.config.max_batch_len,
            ))
            .build();
        let mut module = rpc_module(deps)?;
        module.merge(extra)?;
        let server = Server::builder().set_config(server_config).build(addr).await?;
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
