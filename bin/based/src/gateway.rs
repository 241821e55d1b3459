//! `based gateway`: the preconfirmation gateway (Commitments API + `eth_sendRawTransaction`).
//!
//! The committer key comes from a Web3 Secret Storage keystore with a password file, or the
//! `BASED_COMMITTER_KEY` environment variable: never a flag value. Or it stays in a signer service
//! speaking the Commit-Boost signer API (`--signer.url`, `--signer.proxy`, the module's JWT secret
//! from `--signer.jwt-file` or `CB_SIGNER_JWT`; docs/gateway.md "Remote signer").

use alloy_primitives::Address;
use based_gateway::{
    EitherSigner, EverySlot, GatewayConfig, LaunchConfig, Limits, RemoteSigner, RemoteSignerConfig,
    SourceSchedule, spawn_refresher,
};
use based_keystore::ecdsa_signer;
use based_lookahead::SlotClock;
use clap::Args;
use eyre::{WrapErr, eyre};
use std::{net::SocketAddr, path::PathBuf, sync::Arc};

/// `based gateway` arguments.
#[derive(Debug, Args)]
pub(crate) struct GatewayArgs {
    #[command(flatten)]
    config: crate::config::ConfigArgs,
    /// Chain: `devnet` or a path to an alloy genesis JSON file.
    #[arg(long = "chain", env = "BASED_CHAIN", default_value = "devnet")]
    chain: String,
    /// L2 node JSON-RPC URL (account state; reads forwarded for wallets).
    #[arg(long = "l2.rpc-url", env = "BASED_L2_RPC_URL", default_value = "http://127.0.0.1:8546")]
    l2_rpc_url: String,
    /// Proposer JSON-RPC URL promised transactions are handed to, in promise order.
    #[arg(long = "proposer.url", env = "BASED_PROPOSER_URL")]
    proposer_url: Option<String>,
    /// Web3 Secret Storage keystore of the committer key (else `BASED_COMMITTER_KEY`).
    #[arg(long = "committer.keystore", env = "BASED_COMMITTER_KEYSTORE")]
    committer_keystore: Option<PathBuf>,
    /// File holding the committer keystore's password (else: prompt on a terminal).
    #[arg(long = "committer.password-file", env = "BASED_COMMITTER_PASSWORD_FILE")]
    committer_password_file: Option<PathBuf>,
    /// Signer service (Commit-Boost signer API) holding the committer key, instead of a committer
    /// keystore: the committer is its ECDSA proxy key `--signer.proxy`.
    #[arg(long = "signer.url", env = "CB_SIGNER_URL", conflicts_with = "committer_keystore")]
    signer_url: Option<String>,
    /// File holding the module's JWT secret for the signer (else `CB_SIGNER_JWT`).
    #[arg(long = "signer.jwt-file", env = "BASED_SIGNER_JWT_FILE")]
    signer_jwt_file: Option<PathBuf>,
    /// The committer address: the signer's ECDSA proxy key to sign with.
    #[arg(long = "signer.proxy", env = "BASED_SIGNER_PROXY")]
    signer_proxy: Option<Address>,
    /// Module id the signer's JWTs name.
    #[arg(long = "signer.module-id", env = "CB_MODULE_ID", default_value = based_gateway::remote::DEFAULT_MODULE_ID)]
    signer_module_id: String,
    /// Timeout of one call to the signer, in milliseconds (no retries: the request fails).
    #[arg(long = "signer.timeout-ms", env = "BASED_SIGNER_TIMEOUT_MS", default_value_t = 2_000)]
    signer_timeout_ms: u64,
    /// Data directory (the commitment log lives in `<datadir>/commitments.log`).
    #[arg(long = "datadir", env = "BASED_GATEWAY_DATADIR", default_value = ".based-gateway")]
    datadir: PathBuf,
    /// Listen address (JSON-RPC and REST on one port).
    #[arg(long = "http.addr", env = "BASED_GATEWAY_HTTP_ADDR", default_value = "127.0.0.1:8548")]
    http_addr: SocketAddr,
    /// L1 execution client JSON-RPC URL (read for the preconfer schedule).
    #[arg(long = "l1.rpc-url", env = "BASED_L1_RPC_URL", default_value = "http://127.0.0.1:8545")]
    l1_rpc_url: String,
    /// The L1 preconfer source the Inbox enforces (`Lookahead` or `Whitelist`): the gateway promises
    /// only for slots whose preconfer's committer is its own. Without it, it promises for every
    /// slot, which is right only in front of a permissionless Inbox.
    #[arg(long = "gateway.preconfer-source", env = "BASED_GATEWAY_PRECONFER_SOURCE")]
    preconfer_source: Option<Address>,
    /// Slasher contract the promises are enforced by (requests naming another are refused).
    #[arg(long = "gateway.slasher", env = "BASED_GATEWAY_SLASHER", default_value_t = Address::ZERO)]
    slasher: Address,
    /// L1 beacon genesis time (Unix seconds): slot 0 of the slot clock.
    #[arg(long = "l1.genesis-time", env = "BASED_L1_GENESIS_TIME")]
    genesis_time: u64,
    /// L1 seconds per slot.
    #[arg(long = "l1.seconds-per-slot", env = "BASED_L1_SECONDS_PER_SLOT", default_value_t = 12)]
    seconds_per_slot: u64,
    /// L1 slots per epoch.
    #[arg(long = "l1.slots-per-epoch", env = "BASED_L1_SLOTS_PER_EPOCH", default_value_t = 32)]
    slots_per_epoch: u64,
    /// Most promises per slot.
    #[arg(
        long = "gateway.max-txs-per-slot",
        env = "BASED_GATEWAY_MAX_TXS_PER_SLOT",
        default_value_t = 2_000
    )]
    max_txs_per_slot: usize,
    /// Most promised gas (sum of gas limits) per slot.
    #[arg(
        long = "gateway.max-gas-per-slot",
        env = "BASED_GATEWAY_MAX_GAS_PER_SLOT",
        default_value_t = 30_000_000
    )]
    max_gas_per_slot: u64,
    /// Largest request body in bytes.
    #[arg(long = "gateway.max-request-bytes", env = "BASED_GATEWAY_MAX_REQUEST_BYTES", default_value_t = 1024 * 1024)]
    max_request_bytes: u32,
    /// Most admissions in progress at once; more are refused at once (-32012 / HTTP 429).
    /// 0: no cap. Default: 16 per CPU core.
    #[arg(long = "gateway.max-in-flight", env = "BASED_GATEWAY_MAX_IN_FLIGHT")]
    max_in_flight: Option<usize>,
    /// Least time in ms between a promise and the start of its slot (raised at run time to the
    /// proposer's measured posting latency). 0: one slot plus half a slot, at least 1 s more.
    #[arg(
        long = "gateway.promise-lead-ms",
        env = "BASED_GATEWAY_PROMISE_LEAD_MS",
        default_value_t = 0
    )]
    promise_lead_ms: u64,
    /// `eth_sendRawTransaction` of a transaction the gateway has no slot to promise for (none of
    /// the next slots is its committer's) hands it to the node (which forwards it to its
    /// proposer) as an ordinary transaction and answers its hash (no commitment). Off: refused with -32011, so an answered hash always
    /// means a promise.
    #[arg(
        long = "gateway.forward-unpromised",
        env = "BASED_GATEWAY_FORWARD_UNPROMISED",
        default_value_t = false,
        action = clap::ArgAction::Set
    )]
    forward_unpromised: bool,
    #[command(flatten)]
    metrics: based_node::args::MetricsArgs,
}

/// The remote signer of `--signer.url`, checked (the proxy is offered, a probe signature
/// recovers to it over the digest itself).
async fn remote_signer(args: &GatewayArgs, url: &str) -> eyre::Result<RemoteSigner> {
    let proxy = args
        .signer_proxy
        .ok_or_else(|| eyre!("--signer.url needs --signer.proxy (the committer address)"))?;
    let jwt_secret = match &args.signer_jwt_file {
        Some(path) => std::fs::read_to_string(path)
            .wrap_err_with(|| format!("signer JWT secret file {}", path.display()))?,
        None => std::env::var("CB_SIGNER_JWT").map_err(|_| {
            eyre!("--signer.url needs the module's JWT secret: --signer.jwt-file <file> or CB_SIGNER_JWT")
        })?,
    };
    let signer = RemoteSigner::new(RemoteSignerConfig {
        url: url.to_owned(),
        module_id: args.signer_module_id.clone(),
        jwt_secret,
        proxy,
        timeout: std::time::Duration::from_millis(args.signer_timeout_ms.max(1)),
    })?;
    signer.check().await.wrap_err_with(|| format!("remote signer {url}"))?;
    tracing::info!(%url, %proxy, module = %args.signer_module_id, "signing with the remote signer");
    Ok(signer)
}

/// Runs `based gateway` until Ctrl-C.
pub(crate) async fn run(args: GatewayArgs) -> eyre::Result<()> {
    args.config.log();
    let chain = crate::cli::load_chain(&args.chain)?;
    let (key, committer) = match &args.signer_url {
        Some(url) => {
            let remote = remote_signer(&args, url).await?;
            let committer = remote.proxy();
            (EitherSigner::Remote(remote), committer)
        }
        None => {
            let local = ecdsa_signer(
                args.committer_keystore.as_deref(),
                args.committer_password_file.as_deref(),
                "BASED_COMMITTER_KEY",
            )
            .wrap_err("committer key")?;
            let committer = local.address();
            (EitherSigner::Local(local), committer)
        }
    };
    let metrics = crate::cli::start_metrics(&args.metrics).await?;
    let clock = SlotClock::new(args.genesis_time, args.seconds_per_slot, args.slots_per_epoch)
        .map_err(|e| eyre!("slot clock: {e}"))?;
    let limits = Limits {
        max_txs_per_slot: args.max_txs_per_slot,
        max_gas_per_slot: args.max_gas_per_slot,
        max_in_flight: args
            .max_in_flight
            .unwrap_or_else(based_gateway::service::default_max_in_flight),
        promise_lead_ms: args.promise_lead_ms,
        ..Limits::default()
    };
    let mut refresher = None;
    let schedule: Arc<dyn based_gateway::Schedule> = match args.preconfer_source {
        Some(source) => {
            let schedule = Arc::new(SourceSchedule::new(source, committer));
            refresher = Some(
                spawn_refresher(
                    schedule.clone(),
                    args.l1_rpc_url.clone(),
                    clock,
                    limits.max_slots_ahead,
                    std::time::Duration::from_secs(args.seconds_per_slot.max(1)),
                )
                .map_err(|e| eyre!(e))?,
            );
            schedule
        }
        None => {
            tracing::warn!(
                "no --gateway.preconfer-source: promising for every slot (permissionless Inbox only)"
            );
            Arc::new(EverySlot)
        }
    };
    let server = based_gateway::launch(
        LaunchConfig {
            gateway: GatewayConfig {
                chain_id: chain.chain_id(),
                slasher: args.slasher,
                clock,
                limits,
            },
            log_path: args.datadir.join("commitments.log"),
            node_url: args.l2_rpc_url,
            proposer_url: args.proposer_url,
            addr: args.http_addr,
            max_request_bytes: args.max_request_bytes,
            max_connections: 1_000,
            withhold_promises: None,
            forward_unpromised: args.forward_unpromised,
        },
        key,
        committer,
        schedule,
    )
    .await?;
    tracing::info!(url = %server.url(), %committer, "gateway running");
    if let Some(metrics) = &metrics {
        metrics.set_started();
    }
    tokio::signal::ctrl_c().await?;
    server.stop().await;
    crate::cli::stop_metrics(metrics).await;
    if let Some(refresher) = refresher {
        refresher.abort();
    }
    Ok(())
}
