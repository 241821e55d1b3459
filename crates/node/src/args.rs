//! Command-line arguments of `based node` (clap groups with dotted names and env fallbacks).

use alloy_primitives::Address;
use clap::Args;
use std::{net::IpAddr, path::PathBuf, time::Duration};

/// The devnet Inbox address: the first contract deployed by anvil's first dev account (the embedded
/// devnet chain spec's `config.based.l1.inboxAddress`; the proposer's default).
pub const DEVNET_INBOX: Address =
    alloy_primitives::address!("0x5FbDB2315678afecb367f032d93F642f64180aa3");

/// Default beacon API URL: the usual consensus-client HTTP port, where `based devnet` serves its
/// beacon API service.
pub const DEFAULT_BEACON_URL: &str = "http://127.0.0.1:5052";

/// L1 connection. None of these is consensus: the `Inbox`, the L1 chain id and the derivation
/// start block come from the chain spec (`--chain`, `config.based.l1`) only.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "L1")]
pub struct L1Args {
    /// L1 execution client JSON-RPC URL.
    #[arg(long = "l1.rpc-url", env = "BASED_L1_RPC_URL", default_value = "http://127.0.0.1:8545")]
    pub rpc_url: String,
    /// L1 beacon node API URLs (blobs), comma-separated or repeated; tried in order. Any
    /// consensus client (Lighthouse, Prysm, Teku, Nimbus, Lodestar) or the devnet's beacon service.
    #[arg(
        long = "l1.beacon-url",
        env = "BASED_L1_BEACON_URL",
        value_delimiter = ',',
        default_value = DEFAULT_BEACON_URL
    )]
    pub beacon_urls: Vec<String>,
    /// Blob archive URLs (beacon-API compatible `blob_sidecars`/`blobs` by slot), comma-separated
    /// or repeated; asked after the beacon nodes, e.g. for blobs older than their ~18-day retention.
    #[arg(long = "l1.blob-archive-url", env = "BASED_L1_BLOB_ARCHIVE_URL", value_delimiter = ',')]
    pub blob_archive_urls: Vec<String>,
    /// Poll interval for new L1 blocks, in milliseconds.
    #[arg(long = "l1.poll-interval-ms", env = "BASED_L1_POLL_INTERVAL_MS", default_value_t = 500)]
    pub poll_interval_ms: u64,
    /// Extra margin for L1s without finality: the `safe`/`finalized` L2 heads (from the L1 `safe`/
    /// `finalized` blocks) never count L1 blocks closer than this to the L1 head.
    #[arg(long = "l1.confirmations", env = "BASED_L1_CONFIRMATIONS", default_value_t = 2)]
    pub confirmations: u64,
}

impl L1Args {
    /// The poll interval as a duration.
    pub const fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
}

/// L2 JSON-RPC server.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "HTTP JSON-RPC")]
pub struct HttpArgs {
    /// Listen address.
    #[arg(long = "http.addr", env = "BASED_HTTP_ADDR", default_value = "127.0.0.1")]
    pub addr: IpAddr,
    /// Listen port (0 picks a free one).
    #[arg(long = "http.port", env = "BASED_HTTP_PORT", default_value_t = 8546)]
    pub port: u16,
}

/// Limits of the L2 JSON-RPC server (docs/node.md, "RPC limits"). Every refused request gets a
/// JSON-RPC error; none crashes the server or is dropped silently.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "RPC limits")]
pub struct RpcArgs {
    /// Gas cap of `eth_call` / `eth_estimateGas` (and their default gas): a larger gas limit is
    /// lowered to it.
    #[arg(long = "rpc.gas-cap", env = "BASED_RPC_GAS_CAP", default_value_t = based_rpc::DEFAULT_GAS_CAP)]
    pub gas_cap: u64,
    /// Wall-clock timeout of one `eth_call` / `eth_estimateGas` / `eth_createAccessList` /
    /// `debug_trace*` request, in milliseconds; execution is aborted then (`-32000 execution
    /// aborted (timeout = ...)`).
    #[arg(
        long = "rpc.call-timeout-ms",
        env = "BASED_RPC_CALL_TIMEOUT_MS",
        default_value_t = 5_000
    )]
    pub call_timeout_ms: u64,
    /// Most expensive requests (`eth_call`, `eth_estimateGas`, `eth_createAccessList`,
    /// `eth_getLogs`, `eth_getFilterLogs`, `eth_feeHistory`, `eth_getProof`, `debug_trace*`)
    /// running at once (0 counts as 1).
    #[arg(
        long = "rpc.max-concurrent-calls",
        env = "BASED_RPC_MAX_CONCURRENT_CALLS",
        default_value_t = based_rpc::DEFAULT_MAX_CONCURRENT_CALLS
    )]
    pub max_concurrent_calls: usize,
    /// How long an expensive request waits for a free slot before it is refused (`-32005`
    /// server busy), in milliseconds.
    #[arg(
        long = "rpc.call-queue-timeout-ms",
        env = "BASED_RPC_CALL_QUEUE_TIMEOUT_MS",
        default_value_t = 1_000
    )]
    pub call_queue_timeout_ms: u64,
    /// Most calls in one JSON-RPC batch; a longer batch is refused whole.
    #[arg(long = "rpc.max-batch-len", env = "BASED_RPC_MAX_BATCH_LEN", default_value_t = based_rpc::DEFAULT_MAX_BATCH_LEN)]
    pub max_batch_len: u32,
    /// Most simultaneous connections (HTTP and WebSocket).
    #[arg(long = "rpc.max-connections", env = "BASED_RPC_MAX_CONNECTIONS", default_value_t = based_rpc::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: u32,
    /// Largest request body, in MiB.
    #[arg(
        long = "rpc.max-request-size-mb",
        env = "BASED_RPC_MAX_REQUEST_SIZE_MB",
        default_value_t = 10
    )]
    pub max_request_size_mb: u32,
    /// Largest response body, in MiB.
    #[arg(
        long = "rpc.max-response-size-mb",
        env = "BASED_RPC_MAX_RESPONSE_SIZE_MB",
        default_value_t = 64
    )]
    pub max_response_size_mb: u32,
    /// Widest block range of one `eth_getLogs` / log filter query.
    #[arg(
        long = "rpc.max-logs-block-range",
        env = "BASED_RPC_MAX_LOGS_BLOCK_RANGE",
        default_value_t = based_rpc::DEFAULT_MAX_LOGS_BLOCK_RANGE
    )]
    pub max_logs_block_range: u64,
    /// Most logs one `eth_getLogs` / `eth_getFilterLogs` / `eth_getFilterChanges` returns.
    #[arg(long = "rpc.max-logs", env = "BASED_RPC_MAX_LOGS", default_value_t = based_rpc::DEFAULT_MAX_LOGS)]
    pub max_logs: usize,
    /// Most blocks one `eth_feeHistory` covers (more are truncated to the newest).
    #[arg(
        long = "rpc.max-fee-history-blocks",
        env = "BASED_RPC_MAX_FEE_HISTORY_BLOCKS",
        default_value_t = based_rpc::DEFAULT_MAX_FEE_HISTORY_BLOCKS
    )]
    pub max_fee_history_blocks: u64,
    /// Most reward percentiles of one `eth_feeHistory`.
    #[arg(
        long = "rpc.max-fee-history-percentiles",
        env = "BASED_RPC_MAX_FEE_HISTORY_PERCENTILES",
        default_value_t = based_rpc::DEFAULT_MAX_FEE_HISTORY_PERCENTILES
    )]
    pub max_fee_history_percentiles: usize,
    /// Most blocks × reward percentiles of one `eth_feeHistory` (fewer blocks are answered; 0:
    /// no budget).
    #[arg(
        long = "rpc.max-fee-history-budget",
        env = "BASED_RPC_MAX_FEE_HISTORY_BUDGET",
        default_value_t = based_rpc::DEFAULT_MAX_FEE_HISTORY_BUDGET
    )]
    pub max_fee_history_budget: u64,
    /// Most installed filters (`eth_newFilter` & co), all clients together.
    #[arg(long = "rpc.max-filters", env = "BASED_RPC_MAX_FILTERS", default_value_t = based_rpc::DEFAULT_MAX_FILTERS)]
    pub max_filters: usize,
    /// A filter not polled for this many seconds is removed.
    #[arg(
        long = "rpc.filter-timeout-secs",
        env = "BASED_RPC_FILTER_TIMEOUT_SECS",
        default_value_t = 300
    )]
    pub filter_timeout_secs: u64,
    /// Most `eth_subscribe` subscriptions on one WebSocket connection.
    #[arg(
        long = "rpc.max-subscriptions-per-connection",
        env = "BASED_RPC_MAX_SUBSCRIPTIONS_PER_CONNECTION",
        default_value_t = based_rpc::DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION
    )]
    pub max_subscriptions_per_connection: u32,
    /// Most storage keys of one `eth_getProof`.
    #[arg(long = "rpc.max-proof-keys", env = "BASED_RPC_MAX_PROOF_KEYS", default_value_t = based_rpc::DEFAULT_MAX_PROOF_KEYS)]
    pub max_proof_keys: usize,
    /// How many blocks behind the head `eth_getProof` serves (0: the head only).
    #[arg(long = "rpc.proof-window", env = "BASED_RPC_PROOF_WINDOW", default_value_t = based_rpc::DEFAULT_PROOF_WINDOW)]
    pub proof_window: u64,
    /// Most struct logs one `debug_trace*` request records (all its transactions together);
    /// more is refused (`-32005`) while the trace runs.
    #[arg(
        long = "rpc.max-struct-logs",
        env = "BASED_RPC_MAX_STRUCT_LOGS",
        default_value_t = based_rpc::DEFAULT_MAX_STRUCT_LOGS
    )]
    pub max_struct_logs: u64,
}

impl RpcArgs {
    /// Sets the limits of `config` (chain id and fee parameters are left alone).
    pub fn apply(&self, config: &mut based_rpc::RpcConfig) {
        const MIB: u32 = 1 << 20;
        config.gas_cap = self.gas_cap;
        config.call_timeout = Duration::from_millis(self.call_timeout_ms);
        config.max_concurrent_calls = self.max_concurrent_calls.max(1);
        config.call_queue_timeout = Duration::from_millis(self.call_queue_timeout_ms);
        config.max_batch_len = self.max_batch_len;
        config.max_connections = self.max_connections;
        config.max_request_body_size = self.max_request_size_mb.saturating_mul(MIB);
        config.max_response_body_size = self.max_response_size_mb.saturating_mul(MIB);
        config.max_logs_block_range = self.max_logs_block_range;
        config.max_logs = self.max_logs;
        config.max_fee_history_blocks = self.max_fee_history_blocks;
        config.max_fee_history_percentiles = self.max_fee_history_percentiles;
        config.max_fee_history_budget = self.max_fee_history_budget;
        config.max_filters = self.max_filters;
        config.filter_timeout = Duration::from_secs(self.filter_timeout_secs);
        config.max_subscriptions_per_connection = self.max_subscriptions_per_connection;
        config.max_proof_keys = self.max_proof_keys;
        config.proof_window = self.proof_window;
        config.max_struct_logs = self.max_struct_logs;
    }
}

/// Where `eth_sendRawTransaction` is forwarded.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Proposer")]
pub struct ForwardArgs {
    /// JSON-RPC URL of a proposer (or gateway) that accepts L2 transactions.
    #[arg(long = "proposer.url", env = "BASED_PROPOSER_URL")]
    pub proposer_url: Option<String>,
}

/// Store settings.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Store")]
pub struct DbArgs {
    /// Memory for the in-memory cache of state-trie nodes, in MiB (0 disables it). It holds the
    /// upper levels of the tries so state roots rarely read the database; speed only, never results.
    #[arg(long = "db.trie-cache-mb", env = "BASED_DB_TRIE_CACHE_MB", default_value_t = 512)]
    pub trie_cache_mb: usize,
}

impl DbArgs {
    /// The trie cache size in bytes.
    pub const fn trie_cache_bytes(&self) -> usize {
        self.trie_cache_mb.saturating_mul(1 << 20)
    }
}

/// The node's watchtower (docs/slashing.md): off unless `--watchtower.slasher` is given. Its key
/// (optional: without one it only reports) comes from a keystore with a password file or the
/// `BASED_WATCHTOWER_KEY` environment variable, never a flag value.
#[derive(Debug, Clone, Args)]
pub struct WatchtowerArgs {
    /// The `PreconfSlasher` whose promises the node watches (`based_watchCommitment`).
    #[arg(long = "watchtower.slasher", env = "BASED_WATCHTOWER_SLASHER")]
    pub slasher: Option<Address>,
    /// Web3 Secret Storage keystore of the key that challenges, defends and slashes (else
    /// `BASED_WATCHTOWER_KEY`; neither: report only).
    #[arg(long = "watchtower.keystore", env = "BASED_WATCHTOWER_KEYSTORE")]
    pub keystore: Option<PathBuf>,
    /// File holding the watchtower keystore's password.
    #[arg(long = "watchtower.password-file", env = "BASED_WATCHTOWER_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// First L1 block scanned for challenges to defend (e.g. the slasher's deployment block).
    #[arg(
        long = "watchtower.from-block",
        env = "BASED_WATCHTOWER_FROM_BLOCK",
        default_value_t = 0
    )]
    pub from_block: u64,
    /// Gateways whose commitment feeds the watchtower follows (`commitments_since`): every
    /// promise they sign is watched, without `based_watchCommitment`. Repeatable or
    /// comma-separated; the cursors are kept in `<datadir>/watchtower/feeds.json`.
    #[arg(
        long = "watchtower.gateway-url",
        env = "BASED_WATCHTOWER_GATEWAY_URL",
        value_delimiter = ',',
        value_name = "URL"
    )]
    pub gateway_urls: Vec<String>,
}

/// The Prometheus endpoint of a service (`/metrics`, `/health`, `/ready`; docs/node.md, "Metrics
/// and health").
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Metrics")]
pub struct MetricsArgs {
    /// Serve Prometheus metrics (`/metrics`) and health checks (`/health`, `/ready`) on this
    /// address, e.g. `127.0.0.1:9001` (port 0 picks a free one). Off when unset.
    #[arg(
        id = "metrics_addr",
        long = "metrics.addr",
        env = "BASED_METRICS_ADDR",
        value_name = "IP:PORT"
    )]
    pub addr: Option<std::net::SocketAddr>,
}

/// The node's metrics endpoint and its readiness rule.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Metrics")]
pub struct NodeMetricsArgs {
    /// The endpoint.
    #[command(flatten)]
    pub metrics: MetricsArgs,
    /// `/ready` answers 200 when the L2 head is derived from an L1 block at most this many blocks
    /// behind the L1 head (else 503 with the reason).
    #[arg(
        long = "metrics.ready-max-lag",
        env = "BASED_METRICS_READY_MAX_LAG",
        default_value_t = based_metrics::DEFAULT_READY_MAX_LAG
    )]
    pub ready_max_lag: u64,
}

/// `based node` arguments.
#[derive(Debug, Clone, Args)]
pub struct NodeArgs {
    /// Chain: a known name (`devnet`) or a path to an alloy genesis JSON file.
    #[arg(long = "chain", env = "BASED_CHAIN", default_value = "devnet")]
    pub chain: String,
    /// Data directory (the store lives in `<datadir>/db`).
    #[arg(long = "datadir", env = "BASED_DATADIR", default_value = "./data")]
    pub datadir: PathBuf,
    /// Store.
    #[command(flatten)]
    pub db: DbArgs,
    /// L1 connection.
    #[command(flatten)]
    pub l1: L1Args,
    /// L2 JSON-RPC server.
    #[command(flatten)]
    pub http: HttpArgs,
    /// L2 JSON-RPC limits.
    #[command(flatten)]
    pub rpc: RpcArgs,
    /// Transaction forwarding.
    #[command(flatten)]
    pub forward: ForwardArgs,
    /// Watchtower.
    #[command(flatten)]
    pub watchtower: WatchtowerArgs,
    /// Metrics and health endpoint.
    #[command(flatten)]
    pub metrics: NodeMetricsArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        rpc: RpcArgs,
    }

    #[test]
    fn rpc_defaults_match_the_server_defaults() {
        let cli = Cli::try_parse_from(["x"]).expect("defaults parse");
        let mut config = based_rpc::RpcConfig::new(1);
        let defaults = format!("{config:?}");
        cli.rpc.apply(&mut config);
        assert_eq!(format!("{config:?}"), defaults);
    }

    #[test]
    fn rpc_flags_set_the_limits() {
        let cli = Cli::try_parse_from([
            "x",
            "--rpc.gas-cap=1000000",
            "--rpc.call-timeout-ms=250",
            "--rpc.max-concurrent-calls=0",
            "--rpc.max-fee-history-budget=50",
            "--rpc.max-request-size-mb=1",
            "--rpc.max-struct-logs=7",
        ])
        .expect("flags parse");
        let mut config = based_rpc::RpcConfig::new(1);
        cli.rpc.apply(&mut config);
        assert_eq!(config.gas_cap, 1_000_000);
        assert_eq!(config.call_timeout, Duration::from_millis(250));
        assert_eq!(config.max_concurrent_calls, 1);
        assert_eq!(config.max_fee_history_budget, 50);
        assert_eq!(config.max_request_body_size, 1 << 20);
        assert_eq!(config.max_struct_logs, 7);
    }
}
