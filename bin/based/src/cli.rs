//! Command-line parsing and dispatch; each subcommand hands off to its crate.
//!
//! Before clap parses the command line, [`prepare`] refuses private keys given as flag values
//! ([`crate::secrets`]) and merges the `--config` file of a service subcommand in as defaults
//! ([`crate::config`]), so the precedence is flags > environment variables > file > defaults.

use crate::config::{ConfigArgs, SERVICES};
use alloy_primitives::Address;
use based_chainspec::ChainSpec;
use based_devnet::{Devnet, DevnetConfig};
use based_keystore::ecdsa_signer;
use based_node::{NodeConfig, args::NodeArgs};
use based_proposer::ProposerConfig;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use eyre::WrapErr;
use std::{
    collections::BTreeSet, ffi::OsString, net::SocketAddr, path::PathBuf, sync::Arc, time::Duration,
};
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
    Node(NodeCommand),
    /// Collect L2 transactions and post them to the L1 Inbox in blob transactions.
    Proposer(ProposerArgs),
    /// Run a local devnet: anvil L1, its beacon API service, Inbox, proposer and node.
    Devnet(DevnetArgs),
    /// Validator opt-in on the L1 Registry: register, opt-in, opt-out, unregister, claim, status.
    Validator(crate::validator::ValidatorArgs),
    /// Preconfirmation gateway: signed inclusion promises (Commitments API, eth_sendRawTransaction).
    Gateway(crate::gateway::GatewayArgs),
    /// Config files: print a commented example, or the configuration a service would run with.
    Config(ConfigCommand),
    /// Broken promises: judge a signed commitment, challenge, defend, slash (docs/slashing.md).
    Slash(crate::slash::SlashArgs),
}

/// `based node`: its config file and its arguments (defined in `based_node::args`).
#[derive(Debug, Args)]
struct NodeCommand {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(flatten)]
    args: NodeArgs,
}

#[derive(Debug, Args)]
struct ConfigCommand {
    #[command(subcommand)]
    action: ConfigAction,
}

#[derive(Debug, Subcommand)]
enum ConfigAction {
    /// Print a commented config file (TOML) with every key of a service and its default.
    Example {
        /// The service.
        #[arg(value_parser = SERVICES)]
        service: String,
    },
    /// Print the configuration a service would run with, and where each value comes from,
    /// without starting it: `based config show <service> [--config <file>] [<flags>...]`.
    Show {
        /// The service.
        #[arg(value_parser = SERVICES)]
        service: String,
        /// The service's command-line flags, `--config <file>` included.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
}

#[derive(Debug, Args)]
struct ProposerArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Chain: `devnet` or a path to a chain spec file; its `config.based.l1.inboxAddress` is the
    /// Inbox the proposer posts to (the one the nodes derive from: never a flag).
    #[arg(long = "chain", env = "BASED_CHAIN", default_value = "devnet")]
    chain: String,
    /// L1 execution client JSON-RPC URL.
    #[arg(long = "l1.rpc-url", env = "BASED_L1_RPC_URL", default_value = "http://127.0.0.1:8545")]
    l1_rpc_url: String,
    /// Web3 Secret Storage keystore of the key that signs and pays for proposals (else the hex
    /// key in `BASED_PROPOSER_KEY`; never a flag value).
    #[arg(long = "proposer.keystore", env = "BASED_PROPOSER_KEYSTORE")]
    keystore: Option<PathBuf>,
    /// File holding the proposer keystore's password (else: prompt on a terminal).
    #[arg(long = "proposer.password-file", env = "BASED_PROPOSER_PASSWORD_FILE")]
    password_file: Option<PathBuf>,
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
    /// Blob sidecar format of proposals: `eip4844` (before Osaka), `eip7594` (cell proofs, from
    /// Osaka on) or `auto` (the last format the L1 accepted; a refused send is retried once in the
    /// other format).
    #[arg(
        long = "l1.blob-sidecar",
        env = "BASED_L1_BLOB_SIDECAR",
        default_value = "auto",
        value_parser = parse_blob_sidecar
    )]
    blob_sidecar: based_proposer::sidecar::SidecarMode,
    /// Most transactions queued in the pool (promised and ordinary); a full pool evicts its
    /// worst-paying ordinary transaction for a better-paying one.
    #[arg(
        long = "txpool.pending-max-count",
        env = "BASED_TXPOOL_PENDING_MAX_COUNT",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(1..=1_000_000)
    )]
    pool_capacity: u64,
    /// Most ordinary transactions queued per sender.
    #[arg(
        long = "txpool.max-account-slots",
        env = "BASED_TXPOOL_MAX_ACCOUNT_SLOTS",
        default_value_t = based_proposer::pool::DEFAULT_MAX_PER_SENDER as u64,
        value_parser = clap::value_parser!(u64).range(1..=100_000)
    )]
    max_account_slots: u64,
    /// Fee increase in percent a replacement (same sender and nonce) must pay over the queued one.
    #[arg(
        long = "txpool.pricebump",
        env = "BASED_TXPOOL_PRICEBUMP",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(0..=1_000)
    )]
    price_bump: u64,
    #[command(flatten)]
    metrics: based_node::args::MetricsArgs,
}

#[derive(Debug, Args)]
struct DevnetArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// L1 (anvil) port (0 picks a free one).
    #[arg(long = "l1.port", env = "BASED_DEVNET_L1_PORT", default_value_t = 8545)]
    l1_port: u16,
    /// L2 node JSON-RPC port (0 picks a free one).
    #[arg(long = "http.port", env = "BASED_DEVNET_L2_PORT", default_value_t = 8546)]
    l2_port: u16,
    /// Proposer JSON-RPC port (0 picks a free one).
    #[arg(long = "proposer.port", env = "BASED_DEVNET_PROPOSER_PORT", default_value_t = 8547)]
    proposer_port: u16,
    /// Preconfirmation gateway port (0 picks a free one).
    #[arg(long = "gateway.port", env = "BASED_DEVNET_GATEWAY_PORT", default_value_t = 8548)]
    gateway_port: u16,
    /// Port of the devnet's beacon API service (devnet-only; one L1 block per slot; 0 picks a
    /// free one).
    #[arg(long = "beacon.port", env = "BASED_DEVNET_BEACON_PORT", default_value_t = 5052)]
    beacon_port: u16,
    /// L1 slot time in seconds.
    #[arg(long = "l1.block-time", env = "BASED_DEVNET_BLOCK_TIME", default_value_t = 2)]
    block_time: u64,
    /// Data directory (wiped at start). The dev accounts' private keys are written to
    /// `<datadir>/dev-keys.txt`, never printed.
    #[arg(long = "datadir", env = "BASED_DEVNET_DATADIR", default_value = ".devnet")]
    datadir: PathBuf,
    /// Show anvil's output.
    #[arg(long = "l1.show-output", default_value_t = false)]
    anvil_output: bool,
    /// Sequencing mode, overriding the devnet chain spec's (`opt-in`): `permissionless`,
    /// `whitelist` (the gateway's committer as the only operator) or `opt-in`.
    #[arg(long = "sequencing.mode", env = "BASED_DEVNET_SEQUENCING_MODE", value_parser = parse_mode)]
    sequencing_mode: Option<based_devnet::SequencingMode>,
    /// Metrics endpoint of the devnet (all its services run in one process); default: a free
    /// port on 127.0.0.1, printed in the banner.
    #[command(flatten)]
    metrics: based_node::args::MetricsArgs,
    /// Address of the live devnet page (L1 slots with their proposers and preconfers, L2 blocks,
    /// the gateway's promises, sync status; printed in the banner; port 0 picks a free one).
    #[arg(long = "page.addr", env = "BASED_DEVNET_PAGE_ADDR", default_value_t = SocketAddr::from(([127, 0, 0, 1], based_devnet::DEFAULT_PAGE_PORT)))]
    page_addr: SocketAddr,
    /// The devnet gateway hands a transaction it has no slot to promise for to the proposer as an
    /// ordinary one (the wallet gets its hash, no promise) instead of refusing it with -32011. On
    /// by default here: with 4-slot epochs and one opted-in proposer per epoch, the gateway has no
    /// promisable slot about a third of the time.
    #[arg(
        long = "gateway.forward-unpromised",
        env = "BASED_DEVNET_GATEWAY_FORWARD_UNPROMISED",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    forward_unpromised: bool,
    /// The L1's hardfork (anvil's `--hardfork`): `prague`, or `osaka` for an L1 past Fusaka
    /// (where blob transactions carry EIP-7594 cell proofs).
    #[arg(
        long = "l1.hardfork",
        env = "BASED_DEVNET_L1_HARDFORK",
        default_value = "prague",
        value_parser = ["prague", "osaka"]
    )]
    l1_hardfork: String,
    /// Blob sidecar format of the devnet proposer: `auto`, `eip4844` or `eip7594` (see
    /// `based proposer --help`).
    #[arg(
        long = "l1.blob-sidecar",
        env = "BASED_DEVNET_BLOB_SIDECAR",
        default_value = "auto",
        value_parser = parse_blob_sidecar
    )]
    blob_sidecar: based_proposer::sidecar::SidecarMode,
}

/// `auto`, `eip4844` or `eip7594` (`--l1.blob-sidecar`).
fn parse_blob_sidecar(s: &str) -> Result<based_proposer::sidecar::SidecarMode, String> {
    s.parse()
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

/// The `based` command as clap defines it (before any config file is merged in).
pub(crate) fn command() -> clap::Command {
    Cli::command()
}

/// The command to parse `argv` (program name first) with: refuses private keys given as flags,
/// and merges in the `--config` file of a service subcommand. Returns the keys the file set.
fn prepare(argv: &[OsString]) -> eyre::Result<(clap::Command, BTreeSet<String>)> {
    crate::secrets::refuse_key_flags(argv)?;
    let cmd = command();
    match crate::config::requested(&cmd, argv) {
        Some((service, path)) => {
            let applied = crate::config::apply(cmd, &service, &path)?;
            Ok((applied.cmd, applied.keys))
        }
        None => Ok((cmd, BTreeSet::new())),
    }
}

#[allow(clippy::print_stdout)]
fn config(cmd: ConfigCommand) -> eyre::Result<()> {
    match cmd.action {
        ConfigAction::Example { service } => {
            print!("{}", crate::config::example(&command(), &service)?);
        }
        ConfigAction::Show { service, args } => {
            let argv: Vec<OsString> = [OsString::from("based"), OsString::from(&service)]
                .into_iter()
                .chain(args)
                .collect();
            let (cmd, keys) = prepare(&argv)?;
            print!("{}", crate::config::show(cmd, &service, &keys, &argv)?);
        }
    }
    Ok(())
}

pub(crate) fn run() -> eyre::Result<()> {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let (cmd, _) = prepare(&argv)?;
    let matches = cmd.get_matches_from(&argv);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
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
            Command::Config(cmd) => config(cmd),
            Command::Slash(args) => crate::slash::run(args).await,
        }
    })
}

async fn node(cmd: NodeCommand) -> eyre::Result<()> {
    cmd.config.log();
    let args = cmd.args;
    let chain = load_chain(&args.chain)?;
    let metrics = start_metrics(&args.metrics.metrics).await?;
    let node = based_node::launch_with_rpc(
        NodeConfig {
            chain,
            datadir: args.datadir.clone(),
            trie_cache_bytes: args.db.trie_cache_bytes(),
            l1_beacon_urls: args.l1.beacon_urls.clone(),
            l1_blob_archive_urls: args.l1.blob_archive_urls.clone(),
            l1_rpc_url: args.l1.rpc_url.clone(),
            poll_interval: args.l1.poll_interval(),
            confirmations: args.l1.confirmations,
            http_addr: SocketAddr::new(args.http.addr, args.http.port),
            proposer_url: args.forward.proposer_url.clone(),
            watchtower: watchtower_config(&args)?,
        },
        Some(args.rpc.clone()),
    )
    .await?;
    if let Some(metrics) = &metrics {
        let backend = node.backend().clone();
        let max_lag = args.metrics.ready_max_lag;
        metrics.set_ready(Arc::new(move || backend.readiness(max_lag)));
    }
    tokio::signal::ctrl_c().await?;
    tracing::info!("shutting down");
    node.stop().await;
    stop_metrics(metrics).await;
    Ok(())
}

/// Starts the `/metrics`, `/health`, `/ready` endpoint when `--metrics.addr` is set.
pub(crate) async fn start_metrics(
    args: &based_node::args::MetricsArgs,
) -> eyre::Result<Option<based_metrics::MetricsServer>> {
    let Some(addr) = args.addr else { return Ok(None) };
    let server = based_metrics::serve(addr).await.wrap_err("--metrics.addr")?;
    tracing::info!(url = %format!("{}/metrics", server.url()), "metrics endpoint");
    Ok(Some(server))
}

/// Stops the metrics endpoint, if any.
pub(crate) async fn stop_metrics(metrics: Option<based_metrics::MetricsServer>) {
    if let Some(metrics) = metrics {
        metrics.stop().await;
    }
}

/// The node's watchtower, if `--watchtower.slasher` is set; its key is optional.
fn watchtower_config(
    args: &based_node::args::NodeArgs,
) -> eyre::Result<Option<based_watchtower::WatchtowerConfig>> {
    let w = &args.watchtower;
    let Some(slasher) = w.slasher else { return Ok(None) };
    let key = if w.keystore.is_some() || std::env::var_os("BASED_WATCHTOWER_KEY").is_some() {
        let key =
            ecdsa_signer(w.keystore.as_deref(), w.password_file.as_deref(), "BASED_WATCHTOWER_KEY")
                .wrap_err("watchtower key")?;
        tracing::info!(target: "watchtower", address = %key.address(), "watchtower key loaded");
        Some(key)
    } else {
        tracing::info!(target: "watchtower", "no watchtower key: reporting only");
        None
    };
    Ok(Some(based_watchtower::WatchtowerConfig {
        l1_rpc_url: args.l1.rpc_url.clone(),
        slasher,
        store_path: args.datadir.join("watchtower").join("commitments.jsonl"),
        key,
        poll_interval: args.l1.poll_interval(),
        max_watched: based_watchtower::DEFAULT_MAX_WATCHED,
        from_block: w.from_block,
        gateway_urls: w.gateway_urls.clone(),
    }))
}

async fn proposer(args: ProposerArgs) -> eyre::Result<()> {
    args.config.log();
    let chain = load_chain(&args.chain)?;
    let signer =
        ecdsa_signer(args.keystore.as_deref(), args.password_file.as_deref(), "BASED_PROPOSER_KEY")
            .wrap_err("proposer key")?;
    tracing::info!(target: "proposer", address = %signer.address(), "proposer key loaded");
    let metrics = start_metrics(&args.metrics).await?;
    let pool_capacity = usize::try_from(args.pool_capacity)?;
    let pool = based_proposer::pool::PoolConfig {
        chain_id: chain.chain_id(),
        capacity: pool_capacity,
        max_per_sender: usize::try_from(args.max_account_slots)?,
        price_bump_percent: u128::from(args.price_bump),
    };
    let config = ProposerConfig {
        l1_rpc_url: args.l1_rpc_url,
        l2_rpc_url: args.l2_rpc_url,
        inbox: chain.l1().inbox_address,
        fee_recipient: args.fee_recipient.unwrap_or_else(|| signer.address()),
        signer,
        l2_chain_id: chain.chain_id(),
        default_gas_limit: chain.genesis_header().gas_limit,
        poll_interval: Duration::from_millis(args.poll_interval_ms),
        rpc_addr: args.http_addr,
        pool_capacity,
        max_blobs: args.max_blobs,
        beacon_urls: args.beacon_urls,
        blob_sidecar: args.blob_sidecar,
    };
    let handle = based_proposer::spawn_with_pool(config, pool).await?;
    if let Some(metrics) = &metrics {
        metrics.set_started();
    }
    tokio::signal::ctrl_c().await?;
    handle.stop().await;
    stop_metrics(metrics).await;
    Ok(())
}

async fn devnet(args: DevnetArgs) -> eyre::Result<()> {
    args.config.log();
    let datadir = args.datadir.clone();
    let devnet = Devnet::start(DevnetConfig {
        l1_port: (args.l1_port != 0).then_some(args.l1_port),
        l2_port: args.l2_port,
        proposer_port: args.proposer_port,
        beacon_port: args.beacon_port,
        gateway_port: args.gateway_port,
        block_time: args.block_time,
        datadir: args.datadir,
        anvil_output: args.anvil_output,
        poll_interval: Duration::from_millis(250),
        sequencing: args.sequencing_mode,
        metrics_addr: args.metrics.addr.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0))),
        page_addr: args.page_addr,
        forward_unpromised: args.forward_unpromised,
        l1_hardfork: args.l1_hardfork,
        blob_sidecar: args.blob_sidecar,
    })
    .await?;
    let keys_file = write_dev_keys(&datadir)?;
    #[allow(clippy::print_stdout)]
    {
        println!("{}", devnet.banner());
        println!(
            "Private keys of the dev accounts (anvil's well-known test keys): {}\n",
            keys_file.display()
        );
    }
    tokio::signal::ctrl_c().await?;
    tracing::info!("stopping devnet");
    devnet.stop().await;
    Ok(())
}

/// Writes the dev accounts' private keys to `<datadir>/dev-keys.txt` (owner-only on Unix), where
/// `based devnet` points to instead of printing them.
fn write_dev_keys(datadir: &std::path::Path) -> eyre::Result<PathBuf> {
    use std::io::Write as _;
    let path = datadir.join("dev-keys.txt");
    let mut text =
        String::from("# based devnet: the funded dev accounts (index, address, private key)\n");
    for (i, key) in based_devnet::DEV_KEYS.iter().enumerate() {
        let address = based_devnet::dev_signer(i).map(|s| s.address()).unwrap_or_default();
        text.push_str(&format!("{i} {address} {key}\n"));
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).wrap_err_with(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes()).wrap_err_with(|| format!("writing {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn proposer_args(extra: &[&str]) -> Result<ProposerArgs, clap::Error> {
        let mut argv = vec!["based", "proposer"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv)?.command {
            Command::Proposer(args) => Ok(args),
            _ => unreachable!("parsed the proposer subcommand"),
        }
    }

    #[test]
    fn pool_flags_set_the_pool_and_refuse_nonsense() {
        let args = proposer_args(&[]).unwrap();
        assert_eq!((args.pool_capacity, args.max_account_slots, args.price_bump), (10_000, 16, 10));
        let args = proposer_args(&[
            "--txpool.pending-max-count=500",
            "--txpool.max-account-slots=4",
            "--txpool.pricebump=25",
        ])
        .unwrap();
        assert_eq!((args.pool_capacity, args.max_account_slots, args.price_bump), (500, 4, 25));
        for bad in [
            "--txpool.pending-max-count=0",
            "--txpool.max-account-slots=0",
            "--txpool.pricebump=-1",
        ] {
            let err = proposer_args(&[bad]).map(|_| ()).unwrap_err();
            assert!(err.to_string().contains(bad.split('=').next().unwrap()), "{bad}: {err}");
        }
    }
}
