//! Command-line parsing and dispatch; each subcommand hands off to its crate.

use alloy_primitives::Address;
use alloy_signer_local::PrivateKeySigner;
use based_chainspec::ChainSpec;
use based_devnet::{Devnet, DevnetConfig};
use based_node::{NodeConfig, args::NodeArgs};
use based_proposer::ProposerConfig;
use clap::{Args, Parser, Subcommand};
use eyre::WrapErr;
use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "based", version, about = "based rollup: node, proposer and local devnet")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info,based::derive=debug`.
    #[arg(long = "log.filter", env = "RUST_LOG", default_value = "info", global = true)]
    log_filter: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Follow L1, derive and execute the L2 chain, serve L2 JSON-RPC.
    Node(NodeArgs),
    /// Collect L2 transactions and post them to the L1 Inbox in blob transactions.
    Proposer(ProposerArgs),
    /// Run a local devnet: anvil L1, its beacon API service, Inbox, proposer and node.
    Devnet(DevnetArgs),
    /// Validator opt-in on the L1 Registry: register, opt-in, opt-out, unregister, claim, status.
    Validator(crate::validator::ValidatorArgs),
    /// Preconfirmation gateway: signed inclusion promises (Commitments API, eth_sendRawTransaction).
    Gateway(crate::gateway::GatewayArgs),
}

#[derive(Debug, Args)]
struct ProposerArgs {
    /// Chain: `devnet` or a path to an alloy genesis JSON file.
    #[arg(long = "chain", env = "BASED_CHAIN", default_value = "devnet")]
    chain: String,
    /// L1 execution client JSON-RPC URL.
    #[arg(long = "l1.rpc-url", env = "BASED_L1_RPC_URL", default_value = "http://127.0.0.1:8545")]
    l1_rpc_url: String,
    /// Address of the L1 Inbox.
    #[arg(long = "l1.inbox-address", env = "BASED_L1_INBOX_ADDRESS", default_value_t = based_node::args::DEVNET_INBOX)]
    inbox: Address,
    /// Private key paying for proposals (hex).
    #[arg(long = "proposer.key", env = "BASED_PROPOSER_KEY")]
    key: String,
    /// L2 node JSON-RPC URL (head timestamp and gas limit).
    #[arg(long = "l2.rpc-url", env = "BASED_L2_RPC_URL")]
    l2_rpc_url: Option<String>,
    /// L2 fee recipient (defaults to the proposer's address).
    #[arg(long = "proposer.fee-recipient", env = "BASED_PROPOSER_FEE_RECIPIENT")]
    fee_recipient: Option<Address>,
    /// Transaction-submission JSON-RPC listen address.
    #[arg(long = "http.addr", env = "BASED_PROPOSER_HTTP_ADDR", default_value = "127.0.0.1:8547")]
    http_addr: SocketAddr,
    /// L1 poll interval in milliseconds.
    #[arg(long = "l1.poll-interval-ms", env = "BASED_L1_POLL_INTERVAL_MS", default_value_t = 500)]
    poll_interval_ms: u64,
    /// Maximum blobs per proposal.
    #[arg(long = "proposer.max-blobs", env = "BASED_PROPOSER_MAX_BLOBS", default_value_t = 6)]
    max_blobs: usize,
    /// L1 beacon node API URLs (proposer duties), comma-separated or repeated. With an Inbox in
    /// opt-in mode, the proposer posts the next epoch's lookahead when its key is an opted-in
    /// validator's committer.
    #[arg(long = "l1.beacon-url", env = "BASED_L1_BEACON_URL", value_delimiter = ',')]
    beacon_urls: Vec<String>,
}

#[derive(Debug, Args)]
struct DevnetArgs {
    /// L1 (anvil) port.
    #[arg(long = "l1.port", env = "BASED_DEVNET_L1_PORT", default_value_t = 8545)]
    l1_port: u16,
    /// L2 node JSON-RPC port.
    #[arg(long = "http.port", env = "BASED_DEVNET_L2_PORT", default_value_t = 8546)]
    l2_port: u16,
    /// Proposer JSON-RPC port.
    #[arg(long = "proposer.port", env = "BASED_DEVNET_PROPOSER_PORT", default_value_t = 8547)]
    proposer_port: u16,
    /// Preconfirmation gateway port.
    #[arg(long = "gateway.port", env = "BASED_DEVNET_GATEWAY_PORT", default_value_t = 8548)]
    gateway_port: u16,
    /// Port of the devnet's beacon API service (devnet-only; one L1 block per slot).
    #[arg(long = "beacon.port", env = "BASED_DEVNET_BEACON_PORT", default_value_t = 5052)]
    beacon_port: u16,
    /// L1 slot time in seconds.
    #[arg(long = "l1.block-time", env = "BASED_DEVNET_BLOCK_TIME", default_value_t = 2)]
    block_time: u64,
    /// Data directory (wiped at start).
    #[arg(long = "datadir", env = "BASED_DEVNET_DATADIR", default_value = ".devnet")]
    datadir: PathBuf,
    /// Show anvil's output.
    #[arg(long = "l1.show-output", default_value_t = false)]
    anvil_output: bool,
    /// Sequencing mode, overriding the devnet chain spec's (`opt-in`): `permissionless`,
    /// `whitelist` (the gateway's committer as the only operator) or `opt-in`.
    #[arg(long = "sequencing.mode", env = "BASED_DEVNET_SEQUENCING_MODE", value_parser = parse_mode)]
    sequencing_mode: Option<based_devnet::SequencingMode>,
}

fn parse_mode(s: &str) -> Result<based_devnet::SequencingMode, String> {
    match s {
        "permissionless" => Ok(based_devnet::SequencingMode::Permissionless),
        "whitelist" => Ok(based_devnet::SequencingMode::Whitelist),
        "opt-in" => Ok(based_devnet::SequencingMode::OptIn),
        other => Err(format!("unknown mode {other:?}: permissionless, whitelist or opt-in")),
    }
}

pub(crate) fn load_chain(chain: &str) -> eyre::Result<Arc<ChainSpec>> {
    Ok(Arc::new(ChainSpec::load(chain).wrap_err_with(|| format!("loading chain {chain}"))?))
}

pub(crate) fn run() -> eyre::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&cli.log_filter).wrap_err("bad --log.filter")?)
        .with_target(true)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Node(args) => node(args).await,
            Command::Proposer(args) => proposer(args).await,
            Command::Devnet(args) => devnet(args).await,
            Command::Validator(args) => crate::validator::run(args).await,
            Command::Gateway(args) => crate::gateway::run(args).await,
        }
    })
}

async fn node(args: NodeArgs) -> eyre::Result<()> {
    let chain = load_chain(&args.chain)?;
    let node = based_node::launch(NodeConfig {
        chain,
        datadir: args.datadir.clone(),
        trie_cache_bytes: args.db.trie_cache_bytes(),
        l1_beacon_urls: args.l1.beacon_urls.clone(),
        l1_blob_archive_urls: args.l1.blob_archive_urls.clone(),
        l1_rpc_url: args.l1.rpc_url.clone(),
        inbox: args.l1.inbox_address,
        l1_start_block: args.l1.start_block,
        poll_interval: args.l1.poll_interval(),
        confirmations: args.l1.confirmations,
        http_addr: SocketAddr::new(args.http.addr, args.http.port),
        proposer_url: args.forward.proposer_url.clone(),
    })
    .await?;
    tokio::signal::ctrl_c().await?;
    tracing::info!("shutting down");
    node.stop().await;
    Ok(())
}

async fn proposer(args: ProposerArgs) -> eyre::Result<()> {
    let chain = load_chain(&args.chain)?;
    let signer: PrivateKeySigner = args.key.parse().wrap_err("bad --proposer.key")?;
    let handle = based_proposer::spawn(ProposerConfig {
        l1_rpc_url: args.l1_rpc_url,
        l2_rpc_url: args.l2_rpc_url,
        inbox: args.inbox,
        fee_recipient: args.fee_recipient.unwrap_or_else(|| signer.address()),
        signer,
        l2_chain_id: chain.chain_id(),
        default_gas_limit: chain.genesis_header().gas_limit,
        poll_interval: Duration::from_millis(args.poll_interval_ms),
        rpc_addr: args.http_addr,
        pool_capacity: 10_000,
        max_blobs: args.max_blobs,
        beacon_urls: args.beacon_urls,
    })
    .await?;
    tokio::signal::ctrl_c().await?;
    handle.stop().await;
    Ok(())
}

async fn devnet(args: DevnetArgs) -> eyre::Result<()> {
    let devnet = Devnet::start(DevnetConfig {
        l1_port: Some(args.l1_port),
        l2_port: args.l2_port,
        proposer_port: args.proposer_port,
        beacon_port: args.beacon_port,
        gateway_port: args.gateway_port,
        block_time: args.block_time,
        datadir: args.datadir,
        anvil_output: args.anvil_output,
        poll_interval: Duration::from_millis(250),
        sequencing: args.sequencing_mode,
    })
    .await?;
    #[allow(clippy::print_stdout)]
    {
        println!("{}", devnet.banner());
    }
    tokio::signal::ctrl_c().await?;
    tracing::info!("stopping devnet");
    devnet.stop().await;
    Ok(())
}
