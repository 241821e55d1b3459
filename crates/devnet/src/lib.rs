//! The local devnet: an anvil L1, a beacon API service in front of it ([`DevBeacon`], devnet-only:
//! one L1 block per slot, real consensus-client semantics), the posting-rights contracts of the
//! chain spec's sequencing mode (`Registry` + `Lookahead` in opt-in mode, with some devnet
//! validators opted in and some not; see [`sequencing`]), the `Inbox`, a proposer, a based node
//! and a preconfirmation gateway, started and stopped together, and a live page showing them
//! ([`page`]). `based devnet` runs it for people; the end-to-end tests run it on free ports.
//!
//! In a restricted mode the gateway's committer is the opted-in validators' committer: the gateway
//! promises only in its slots, and the proposer signs with its key, posts each next epoch's
//! lookahead from the beacon duties and proposes only in its own slots or open ones.
//!
//! Invariants:
//! - Every process and task the devnet starts is stopped by [`Devnet::stop`] (and the anvil
//!   process is killed on drop), so nothing outlives it.
//! - The Inbox is deployed by dev account 0 as its first transaction, so its address is the
//!   well-known [`based_node::args::DEVNET_INBOX`] on a fresh anvil.

use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::Address;
use alloy_provider::{Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer_local::PrivateKeySigner;
use based_anvil::{Anvil, AnvilOptions};
use based_beacon::{DevBeacon, DevBeaconConfig};
use based_gateway::GatewayServer;
use based_node::{NodeConfig, NodeHandle};
use based_proposer::{ProposerConfig, ProposerHandle};
use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

pub mod page;
pub mod sequencing;

pub use based_anvil::DEV_KEYS;
pub use based_beacon;
pub use based_chainspec::SequencingMode;
pub use page::{DEFAULT_PAGE_PORT, PageServer};
pub use sequencing::{SEQUENCING_KEY, SequencingContracts};

/// Index in [`DEV_KEYS`] of the account that deploys the Inbox.
pub const DEPLOYER_KEY: usize = 0;
/// Index in [`DEV_KEYS`] of the account that signs and pays for proposals.
pub const PROPOSER_KEY: usize = 9;
/// Index in [`DEV_KEYS`] of the node's watchtower account (pays challenge bonds, sends
/// challenges, defences and slashes; docs/slashing.md).
pub const WATCHTOWER_KEY: usize = 7;
/// The dev key that sends the blob transaction warming up anvil's KZG verifier
/// ([`warm_up_blob_verifier`]).
pub const WARM_UP_KEY: usize = 1;

/// The signer of dev account `index` (0..10).
pub fn dev_signer(index: usize) -> Option<PrivateKeySigner> {
    DEV_KEYS.get(index).and_then(|k| k.parse().ok())
}

/// Devnet errors.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// Starting anvil failed.
    #[error(transparent)]
    Anvil(#[from] based_anvil::AnvilError),
    /// Starting the beacon API service failed.
    #[error("beacon API service: {0}")]
    Beacon(#[from] based_beacon::DevBeaconError),
    /// An L1 call failed.
    #[error("L1: {0}")]
    L1(String),
    /// The node failed to start.
    #[error("node: {0}")]
    Node(String),
    /// The proposer failed to start.
    #[error("proposer: {0}")]
    Proposer(String),
    /// The gateway failed to start.
    #[error("gateway: {0}")]
    Gateway(String),
    /// Bad configuration.
    #[error("config: {0}")]
    Config(String),
    /// The live page failed to start.
    #[error(transparent)]
    Page(#[from] page::PageError),
}

/// Devnet options.
#[derive(Debug, Clone)]
pub struct DevnetConfig {
    /// L1 (anvil) port; `None` picks a free one.
    pub l1_port: Option<u16>,
    /// L2 node JSON-RPC port (0 picks a free one).
    pub l2_port: u16,
    /// Proposer JSON-RPC port (0 picks a free one).
    pub proposer_port: u16,
    /// Beacon API service port (0 picks a free one).
    pub beacon_port: u16,
    /// Preconfirmation gateway port (0 picks a free one).
    pub gateway_port: u16,
    /// L1 slot time in seconds.
    pub block_time: u64,
    /// Node data directory (wiped at start: the L1 is fresh every run).
    pub datadir: PathBuf,
    /// Show anvil's own output.
    pub anvil_output: bool,
    /// L1 poll interval of the node and the proposer.
    pub poll_interval: Duration,
    /// Run another sequencing mode than the chain spec's (a whitelist mode gets the committer as
    /// its only operator).
    pub sequencing: Option<SequencingMode>,
    /// The one metrics endpoint of all the devnet's services (`/metrics`, `/health`, `/ready`;
    /// port 0 picks a free one).
    pub metrics_addr: SocketAddr,
    /// The live devnet page (`/` and `/api/state`; port 0 picks a free one).
    pub page_addr: SocketAddr,
    /// The gateway hands a transaction it has no slot to promise for to the proposer as an
    /// ordinary one instead of refusing it (`--gateway.forward-unpromised`).
    pub forward_unpromised: bool,
    /// The L1's hardfork (anvil `--hardfork`): `prague`, or `osaka` to run the L1 past Fusaka.
    pub l1_hardfork: String,
    /// The proposer's blob sidecar format (`--l1.blob-sidecar`).
    pub blob_sidecar: based_proposer::sidecar::SidecarMode,
}

impl Default for DevnetConfig {
    fn default() -> Self {
        Self {
            l1_port: Some(8545),
            l2_port: 8546,
            proposer_port: 8547,
            beacon_port: 5052,
            gateway_port: 8548,
            block_time: 2,
            datadir: PathBuf::from(".devnet"),
            anvil_output: false,
            poll_interval: Duration::from_millis(250),
            sequencing: None,
            metrics_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            page_addr: SocketAddr::from(([127, 0, 0, 1], page::DEFAULT_PAGE_PORT)),
            forward_unpromised: false,
            l1_hardfork: "prague".into(),
            blob_sidecar: based_proposer::sidecar::SidecarMode::Auto,
        }
    }
}

/// A running devnet.
#[derive(Debug)]
pub struct Devnet {
    /// The L1.
    pub anvil: Anvil,
    /// The beacon API service in front of the L1 (devnet-only).
    pub beacon: DevBeacon,
    /// Inbox address on L1.
    pub inbox: Address,
    /// L1 block that deployed the Inbox.
    pub inbox_block: u64,
    /// The chain spec the devnet's nodes run: the embedded `devnet` spec with the `Inbox` deployed
    /// at run time, the L1's chain id and the start block filled in (`config.based.l1`).
    pub chain: Arc<based_chainspec::ChainSpec>,
    /// Where that chain spec is written (`<datadir>/chain-spec.json`): `based node --chain <it>`
    /// follows this devnet.
    pub chain_spec_path: PathBuf,
    /// The proposer.
    pub proposer: ProposerHandle,
    /// The node.
    pub node: NodeHandle,
    /// The preconfirmation gateway (signs inclusion promises, hands them to the proposer).
    pub gateway: GatewayServer,
    /// The gateway's committer address (the key that signs promises).
    pub committer: Address,
    /// The posting-rights contracts.
    pub sequencing: SequencingContracts,
    /// The L1 slot clock (the beacon service's and the contracts').
    pub clock: based_lookahead::SlotClock,
    /// Background tasks (schedule refresher, lookahead poster), aborted by [`Devnet::stop`].
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The gateway's fault switch (see [`Devnet::withhold_promises`]).
    withhold: Arc<std::sync::atomic::AtomicBool>,
    /// The metrics endpoint (ready when the node is synced).
    pub metrics: based_metrics::MetricsServer,
    /// The live devnet page ([`page`]).
    pub page: PageServer,
}

/// The devnet gateway's committer key: `keccak256("based devnet committer")` (devnet-only; it
/// holds no funds, it only signs promises).
pub fn devnet_committer() -> PrivateKeySigner {
    let secret = alloy_primitives::keccak256(b"based devnet committer");
    PrivateKeySigner::from_bytes(&secret).unwrap_or_else(|_| PrivateKeySigner::random())
}

/// Deploys a permissionless Inbox from `signer`; returns its address and the deployment block.
pub async fn deploy_inbox(
    l1_url: &str,
    signer: PrivateKeySigner,
) -> Result<(Address, u64), DevnetError> {
    deploy_inbox_with(l1_url, signer, &based_contracts::InboxConfig::default()).await
}

/// Deploys an Inbox with posting rights `config` from `signer`; returns its address and the
/// deployment block number.
pub async fn deploy_inbox_with(
    l1_url: &str,
    signer: PrivateKeySigner,
    config: &based_contracts::InboxConfig,
) -> Result<(Address, u64), DevnetError> {
    let url = l1_url.parse().map_err(|e| DevnetError::Config(format!("L1 URL: {e}")))?;
    let provider = ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(url);
    let tx = TransactionRequest::default()
        .with_deploy_code(based_contracts::inbox_creation_code_with(config));
    let receipt = provider
        .send_transaction(tx)
        .await
        .map_err(|e| DevnetError::L1(e.to_string()))?
        .with_timeout(Some(Duration::from_secs(60)))
        .get_receipt()
        .await
        .map_err(|e| DevnetError::L1(e.to_string()))?;
    let address = receipt
        .contract_address
        .filter(|_| receipt.status())
        .ok_or_else(|| DevnetError::L1("Inbox deployment failed".into()))?;
    Ok((address, receipt.block_number.unwrap_or_default()))
}

/// Waits until the committer is the preconfer of a slot in the next two epochs (opt-in: the
/// validators' opt-in took effect and the first lookahead is posted), so the gateway can promise as
/// soon as the devnet is announced.
async fn wait_for_first_slot(
    schedule: &dyn based_gateway::Schedule,
    clock: &based_lookahead::SlotClock,
    slots_per_epoch: u64,
) -> Result<(), DevnetError> {
    tracing::info!(target: "devnet", "waiting for the opted-in validators' first slots (opt-in delay, first lookahead)");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let now = based_gateway::service::unix_now();
        let current = clock.slot_at(now);
        let window = current..current.saturating_add(slots_per_epoch.saturating_mul(2));
        if let Some(slot) = window.into_iter().find(|s| schedule.is_preconfer(*s)) {
            tracing::info!(target: "devnet", slot, "the committer has preconfer slots");
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(DevnetError::Gateway(
                "no preconfer slot for the committer after 180 s".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the gateway at `url` offers a slot (its `slots`: an own slot far enough ahead to
/// be kept), so that the devnet's first promise request is not refused.
async fn wait_for_promisable_slot(url: &str) -> Result<(), DevnetError> {
    let gateway = ProviderBuilder::new()
        .connect_http(url.parse().map_err(|e| DevnetError::Config(format!("gateway URL: {e}")))?);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let offered: Result<based_gateway::service::SlotInfoResponse, _> =
            gateway.raw_request("slots".into(), ()).await;
        if let Ok(Some(first)) = offered.map(|o| o.slots.first().map(|s| s.slot)) {
            tracing::info!(target: "devnet", slot = first, "the gateway offers preconfirmations");
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(DevnetError::Gateway("the gateway offered no slot in 180 s".into()));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl Devnet {
    /// Starts anvil, deploys the Inbox, starts the proposer and the node.
    pub async fn start(cfg: DevnetConfig) -> Result<Self, DevnetError> {
        let mut chain = based_chainspec::ChainSpec::load("devnet")
            .map_err(|e| DevnetError::Config(e.to_string()))?;
        let key = devnet_committer();
        let committer = key.address();
        if let Some(mode) = cfg.sequencing {
            let mut seq = chain.sequencing().clone();
            seq.mode = mode;
            if seq.whitelist.is_empty() {
                seq.whitelist = vec![committer];
            }
            chain = chain.with_sequencing(seq).map_err(|e| DevnetError::Config(e.to_string()))?;
        }
        let seq = chain.sequencing().clone();
        let chain_id = chain.chain_id();
        let metrics = based_metrics::serve(cfg.metrics_addr)
            .await
            .map_err(|e| DevnetError::Config(e.to_string()))?;

        let anvil = Anvil::spawn(&AnvilOptions {
            port: cfg.l1_port,
            block_time: Some(cfg.block_time),
            inherit_output: cfg.anvil_output,
            // anvil's `safe`/`finalized` tags trail the head by one and two epochs: the same
            // epoch as the devnet beacon service and the contracts' slot clock.
            extra_args: vec!["--slots-in-an-epoch".into(), seq.slots_per_epoch.to_string()],
            hardfork: cfg.l1_hardfork.clone(),
            ..AnvilOptions::default()
        })?;
        let l1_url = anvil.endpoint();
        let warm_up = tokio::spawn(warm_up_blob_verifier(l1_url.clone()));
        let beacon_defaults = DevBeaconConfig::default();
        let validator_seed = beacon_defaults.validator_seed;
        let beacon = DevBeacon::start(
            DevBeaconConfig {
                addr: SocketAddr::from(([127, 0, 0, 1], cfg.beacon_port)),
                seconds_per_slot: cfg.block_time.max(1),
                slots_per_epoch: seq.slots_per_epoch,
                validator_count: seq
                    .devnet_validators
                    .as_ref()
                    .map_or(beacon_defaults.validator_count, |v| v.count),
                // Its block roots in anvil's EIP-4788 contract: lookahead contests run on the
                // devnet exactly as on L1.
                beacon_roots: true,
                ..beacon_defaults
            },
            l1_url.parse().map_err(|e| DevnetError::Config(format!("L1 URL: {e}")))?,
        )
        .await?;
        let clock = based_lookahead::SlotClock::new(
            beacon.genesis_time(),
            cfg.block_time.max(1),
            seq.slots_per_epoch,
        )
        .map_err(|e| DevnetError::Config(e.to_string()))?;

        let contracts =
            sequencing::deploy(&l1_url, &seq, &clock, validator_seed, committer).await?;
        let deployer =
            dev_signer(DEPLOYER_KEY).ok_or_else(|| DevnetError::Config("dev key".into()))?;
        let (inbox, inbox_block) = deploy_inbox_with(
            &l1_url,
            deployer,
            &based_contracts::InboxConfig {
                preconfer_source: contracts.preconfer_source(),
                // The chain spec's window: the Inbox and the derivation use the same value.
                forced_inclusion_window: chain.derivation().forced_inclusion_window,
                forced_escape_window: seq.forced_escape_window,
                max_proposal_gap: seq.max_proposal_gap,
            },
        )
        .await?;
        tracing::info!(target: "devnet", %inbox, inbox_block, mode = ?seq.mode, "Inbox deployed");
        // The chain spec handed to the nodes names this Inbox, this L1 and the block before the
        // deployment as the derivation start (no Inbox event precedes it).
        let l1_chain_id = ProviderBuilder::new()
            .connect_http(l1_url.parse().map_err(|e| DevnetError::Config(format!("L1 URL: {e}")))?)
            .get_chain_id()
            .await
            .map_err(|e| DevnetError::L1(e.to_string()))?;
        let chain = Arc::new(
            chain
                .with_l1(based_chainspec::L1Params {
                    chain_id: l1_chain_id,
                    inbox_address: inbox,
                    start_block: inbox_block.saturating_sub(1),
                })
                .map_err(|e| DevnetError::Config(e.to_string()))?,
        );

        // In a restricted mode the committer posts (its slots and open ones); else dev key 9.
        let proposer_signer = if seq.is_restricted() {
            key.clone()
        } else {
            dev_signer(PROPOSER_KEY).ok_or_else(|| DevnetError::Config("dev key".into()))?
        };

        if cfg.datadir.exists() {
            std::fs::remove_dir_all(&cfg.datadir).map_err(|e| {
                DevnetError::Config(format!("wiping {}: {e}", cfg.datadir.display()))
            })?;
        }
        let chain_spec_path = cfg.datadir.join("chain-spec.json");
        std::fs::create_dir_all(&cfg.datadir)
            .and_then(|()| {
                let json = chain.to_json().map_err(std::io::Error::other)?;
                std::fs::write(&chain_spec_path, json)
            })
            .map_err(|e| {
                DevnetError::Config(format!("writing {}: {e}", chain_spec_path.display()))
            })?;
        let node = based_node::launch(NodeConfig {
            chain: chain.clone(),
            datadir: cfg.datadir.join("node"),
            trie_cache_bytes: based_node::DEFAULT_TRIE_CACHE_BYTES,
            l1_rpc_url: l1_url.clone(),
            l1_beacon_urls: vec![beacon.url()],
            l1_blob_archive_urls: Vec::new(),
            poll_interval: cfg.poll_interval,
            confirmations: 2,
            http_addr: SocketAddr::from(([127, 0, 0, 1], cfg.l2_port)),
            proposer_url: None,
            // Every node a watchtower: the devnet's acts (challenges, defends, slashes).
            watchtower: match contracts.slasher {
                Some(slasher) => Some(based_watchtower::WatchtowerConfig {
                    l1_rpc_url: l1_url.clone(),
                    slasher,
                    store_path: cfg
                        .datadir
                        .join("node")
                        .join("watchtower")
                        .join("commitments.jsonl"),
                    key: dev_signer(WATCHTOWER_KEY),
                    poll_interval: cfg.poll_interval.max(Duration::from_millis(250)),
                    max_watched: based_watchtower::DEFAULT_MAX_WATCHED,
                    from_block: inbox_block,
                    // The gateway starts after the node: its feed is followed once it runs.
                    gateway_urls: Vec::new(),
                }),
                None => None,
            },
        })
        .await
        .map_err(|e| DevnetError::Node(e.to_string()))?;
        let backend = node.backend().clone();
        metrics
            .set_ready(Arc::new(move || backend.readiness(based_metrics::DEFAULT_READY_MAX_LAG)));

        let proposer = based_proposer::spawn(ProposerConfig {
            l1_rpc_url: l1_url.clone(),
            l2_rpc_url: Some(node.rpc_url()),
            inbox,
            signer: proposer_signer.clone(),
            l2_chain_id: chain_id,
            fee_recipient: proposer_signer.address(),
            default_gas_limit: chain.genesis_header().gas_limit,
            poll_interval: cfg.poll_interval,
            rpc_addr: SocketAddr::from(([127, 0, 0, 1], cfg.proposer_port)),
            pool_capacity: 10_000,
            max_blobs: 6,
            beacon_urls: vec![beacon.url()],
            blob_sidecar: cfg.blob_sidecar,
        })
        .await
        .map_err(|e| DevnetError::Proposer(e.to_string()))?;
        node.set_forwarder(&format!("http://{}", proposer.rpc_addr()))
            .map_err(|e| DevnetError::Node(e.to_string()))?;

        let mut tasks = Vec::new();
        let schedule: Arc<dyn based_gateway::Schedule> = match contracts.preconfer_source() {
            Some(source) => {
                let schedule = Arc::new(based_gateway::SourceSchedule::new(source, committer));
                // Two epochs ahead: the posted lookahead of the next epoch is seen at once.
                let window = seq.slots_per_epoch.saturating_mul(2);
                tasks.push(
                    based_gateway::spawn_refresher(
                        schedule.clone(),
                        l1_url.clone(),
                        clock,
                        window,
                        Duration::from_millis(500).min(Duration::from_secs(cfg.block_time.max(1))),
                    )
                    .map_err(DevnetError::Gateway)?,
                );
                schedule
            }
            None => Arc::new(based_gateway::EverySlot),
        };
        if seq.is_restricted() {
            wait_for_first_slot(schedule.as_ref(), &clock, seq.slots_per_epoch).await?;
        }
        // No promise before anvil verifies blobs at full speed.
        match warm_up.await {
            Ok(Ok(ms)) => {
                tracing::debug!(target: "devnet", elapsed_ms = ms, "anvil's blob verifier warmed up")
            }
            Ok(Err(e)) => {
                tracing::warn!(target: "devnet", error = %e, "warming up anvil's blob verifier failed")
            }
            Err(e) => {
                tracing::warn!(target: "devnet", error = %e, "warming up anvil's blob verifier failed")
            }
        }
        let withhold = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let gateway = based_gateway::launch(
            based_gateway::LaunchConfig {
                gateway: based_gateway::GatewayConfig {
                    chain_id,
                    // The PreconfSlasher in opt-in mode, so the devnet's promises are slashable.
                    slasher: contracts.slasher.unwrap_or(Address::ZERO),
                    clock,
                    limits: based_gateway::Limits::default(),
                },
                log_path: cfg.datadir.join("gateway").join("commitments.log"),
                node_url: node.rpc_url(),
                proposer_url: Some(format!("http://{}", proposer.rpc_addr())),
                addr: SocketAddr::from(([127, 0, 0, 1], cfg.gateway_port)),
                max_request_bytes: 1024 * 1024,
                max_connections: 1_000,
                withhold_promises: Some(withhold.clone()),
                forward_unpromised: cfg.forward_unpromised,
            },
            key,
            committer,
            schedule,
        )
        .await
        .map_err(|e| DevnetError::Gateway(e.to_string()))?;
        // Promises only once the proposer can post them (its blob encoder warmed up).
        if !gateway.wait_posting_ready(std::time::Duration::from_secs(120)).await {
            return Err(DevnetError::Gateway("the proposer never became ready to post".into()));
        }
        if seq.is_restricted() {
            wait_for_promisable_slot(&gateway.url()).await?;
        }
        // The node's watchtower watches every promise the gateway signs (its commitment feed).
        if let Some(watchtower) = node.watchtower() {
            watchtower.follow(&gateway.url());
        }
        let page = PageServer::start(
            cfg.page_addr,
            page::PageSources {
                l1_url: l1_url.clone(),
                l2_url: node.rpc_url(),
                beacon_url: beacon.url(),
                gateway_url: gateway.url(),
                clock,
                mode: seq.mode,
                committer,
                commitments: gateway.recent(),
            },
        )
        .await?;

        Ok(Self {
            anvil,
            beacon,
            inbox,
            inbox_block,
            chain,
            chain_spec_path,
            proposer,
            node,
            gateway,
            committer,
            sequencing: contracts,
            clock,
            tasks,
            withhold,
            metrics,
            page,
        })
    }

    /// The live page's URL (`http://<addr>/`; its JSON snapshot is at `api/state`).
    pub fn page_url(&self) -> String {
        self.page.url()
    }

    /// Fault injection for slashing tests: while `on`, the gateway keeps signing promises but
    /// never hands the promised transactions to the proposer, so they break.
    pub fn withhold_promises(&self, on: bool) {
        self.withhold.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Stops the page, the gateway, the node, the proposer, the beacon API service and anvil.
    pub async fn stop(mut self) {
        for task in &self.tasks {
            task.abort();
        }
        self.page.stop().await;
        self.gateway.stop().await;
        self.node.stop().await;
        self.proposer.stop().await;
        self.beacon.stop().await;
        self.metrics.stop().await;
        self.anvil.kill();
    }

    /// A human-readable summary: endpoints and funded dev keys.
    pub fn banner(&self) -> String {
        let mut out = String::new();
        out.push_str("based devnet is running\n\n");
        out.push_str(&format!("  L1 RPC (anvil, chain id 31337): {}\n", self.anvil.endpoint()));
        out.push_str(&format!("  L1 beacon API (devnet-only):    {}\n", self.beacon.url()));
        out.push_str(&format!("  L1 Inbox:                       {}\n", self.inbox));
        out.push_str(&format!(
            "  Chain spec (--chain):           {}\n",
            self.chain_spec_path.display()
        ));
        out.push_str(&format!("  Sequencing mode:                {:?}\n", self.sequencing.mode));
        if let Some(registry) = self.sequencing.registry {
            out.push_str(&format!("  L1 Registry (validator opt-in): {registry}\n"));
        }
        if let Some(lookahead) = self.sequencing.lookahead {
            out.push_str(&format!(
                "  L1 Lookahead:                   {lookahead}  (see based_lookahead on the L2 RPC)\n"
            ));
        }
        if let Some(slasher) = self.sequencing.slasher {
            out.push_str(&format!("  L1 PreconfSlasher:              {slasher}\n"));
        }
        if let Some(whitelist) = self.sequencing.whitelist {
            out.push_str(&format!("  L1 Whitelist:                   {whitelist}\n"));
        }
        out.push_str(&format!("  L2 RPC (based node):            {}\n", self.node.rpc_url()));
        out.push_str(&format!(
            "  Proposer RPC:                   http://{}\n",
            self.proposer.rpc_addr()
        ));
        out.push_str(&format!(
            "  Preconf gateway (JSON-RPC + Commitments API): {}  committer {}\n",
            self.gateway.url(),
            self.committer
        ));
        out.push_str(&format!(
            "  Metrics (Prometheus; /health, /ready): {}/metrics\n",
            self.metrics.url()
        ));
        out.push_str(&format!(
            "  Devnet page (live: L1 slots and preconfers, L2 blocks, promises, sync): {}\n",
            self.page_url()
        ));
        out.push_str(if self.sequencing.preconfer_source().is_some() {
            "\nFunded dev accounts (L1 and L2; the committer pays for proposals and lookahead posts, account 8 owns the devnet validators' registrations):\n"
        } else {
            "\nFunded dev accounts (L1 and L2; account 9 pays for proposals):\n"
        });
        // Addresses only: private keys never go to logs or terminals (`based devnet` writes them
        // to a file in its data directory).
        for i in 0..DEV_KEYS.len() {
            let addr = dev_signer(i).map(|s| s.address()).unwrap_or_default();
            out.push_str(&format!("  ({i}) {addr}\n"));
        }
        out.push_str(&format!(
            "\nTry (preconfirmed: the gateway answers with a signed promise at once):\n  cast send --rpc-url {} --private-key <key> <to> --value 1ether\n",
            self.gateway.url()
        ));
        out.push_str("Ctrl-C stops everything.\n");
        out
    }
}

/// Sends one blob transaction (an empty batch for no chain, to a burn address; derivation ignores
/// it) from [`WARM_UP_KEY`] and answers how long anvil took to accept it, in ms. anvil loads its
/// KZG trusted setup on the first blob transaction it verifies, which takes seconds: without this
/// the proposer's first proposal, often carrying the first promises, would pay for it and land
/// slots late.
pub async fn warm_up_blob_verifier(l1_url: String) -> Result<u64, String> {
    use alloy_network::TransactionBuilder4844;
    let started = std::time::Instant::now();
    let signer = dev_signer(WARM_UP_KEY).ok_or("no warm-up dev key")?;
    let url = l1_url.parse().map_err(|e| format!("L1 URL: {e}"))?;
    let l1 = ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(url);
    let sidecar = tokio::task::spawn_blocking(based_proposer::warm_up_sidecar)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let blob_fee = l1.get_blob_base_fee().await.map_err(|e| e.to_string())?;
    let mut tx = TransactionRequest::default()
        .with_to(Address::repeat_byte(0xde))
        .with_gas_limit(21_000)
        .with_blob_sidecar_4844(sidecar);
    tx.max_fee_per_blob_gas = Some(blob_fee.saturating_mul(2).max(1));
    tx.populate_blob_hashes();
    let _accepted = l1.send_transaction(tx).await.map_err(|e| e.to_string())?;
    Ok(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX))
}
