//! Command-line arguments of `based node` (clap groups with dotted names and env fallbacks).

use alloy_primitives::Address;
use clap::Args;
use std::{net::IpAddr, path::PathBuf, time::Duration};

/// The devnet Inbox address: the first contract deployed by anvil's first dev account.
pub const DEVNET_INBOX: Address =
    alloy_primitives::address!("0x5FbDB2315678afecb367f032d93F642f64180aa3");

/// Default beacon API URL: the usual consensus-client HTTP port, where `based devnet` serves its
/// beacon API service.
pub const DEFAULT_BEACON_URL: &str = "http://127.0.0.1:5052";

/// L1 connection.
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
    /// Address of the L1 Inbox contract.
    #[arg(long = "l1.inbox-address", env = "BASED_L1_INBOX_ADDRESS", default_value_t = DEVNET_INBOX)]
    pub inbox_address: Address,
    /// L1 block after which derivation starts (the Inbox deployment block or earlier).
    #[arg(long = "l1.start-block", env = "BASED_L1_START_BLOCK", default_value_t = 0)]
    pub start_block: u64,
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
    /// Transaction forwarding.
    #[command(flatten)]
    pub forward: ForwardArgs,
}
