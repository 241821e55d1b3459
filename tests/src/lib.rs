//! Harness for the end-to-end scenarios in `tests/tests/e2e/*.rs` (one scenario per file, one
//! test binary: `tests/tests/e2e/main.rs`).
//!
//! Every scenario starts its own anvil on a free port, its own proposer and node(s) on free ports
//! with temporary data directories, and stops all of them at the end (anvil is also killed on
//! drop, so a failing test leaves nothing running).

use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_rpc_types_eth::{TransactionReceipt, TransactionRequest};
use alloy_signer_local::PrivateKeySigner;
use based_devnet::{Devnet, DevnetConfig, dev_signer};
use based_node::{NodeConfig, NodeHandle};
use std::{
    future::Future,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

pub use based_devnet;
pub use eyre;

/// Held by a running scenario: see [`serial`].
#[derive(Debug)]
pub struct SerialGuard(());

static SERIAL: (std::sync::Mutex<bool>, std::sync::Condvar) =
    (std::sync::Mutex::new(false), std::sync::Condvar::new());

/// Waits until no other scenario of this test binary runs, and marks one running until the guard
/// drops (also when the scenario panics). Scenarios start anvil, nodes, gateways: two at once on a
/// 2-core machine would race their timeouts, so each holds this for its whole run.
pub fn serial() -> SerialGuard {
    let (lock, cv) = &SERIAL;
    let mut busy = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    while *busy {
        busy = cv.wait(busy).unwrap_or_else(std::sync::PoisonError::into_inner);
    }
    *busy = true;
    SerialGuard(())
}

impl Drop for SerialGuard {
    fn drop(&mut self) {
        let (lock, cv) = &SERIAL;
        *lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = false;
        cv.notify_one();
    }
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Checks the output of a script that prints one `ok - <name>` / `not ok - <name>` line per check
/// (the JavaScript suites in `tests/js`): no failed check, a successful exit, and exactly
/// `expected` passed checks.
pub fn check_tap_output(
    script: &str,
    stdout: &str,
    stderr: &str,
    status: std::process::ExitStatus,
    expected: usize,
) -> eyre::Result<()> {
    let passed = stdout.lines().filter(|l| l.starts_with("ok - ")).count();
    let failed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("not ok - ")).collect();
    eyre::ensure!(
        failed.is_empty(),
        "{script}: failed checks:\n{}\n\nfull output:\n{stdout}\n{stderr}",
        failed.join("\n")
    );
    eyre::ensure!(status.success(), "{script} exited with {status}:\n{stdout}\n{stderr}");
    eyre::ensure!(
        passed == expected,
        "{script}: {passed} checks passed, expected {expected}:\n{stdout}\n{stderr}"
    );
    Ok(())
}

/// Default time a scenario waits for something to happen on L2.
pub const WAIT: Duration = Duration::from_secs(90);

/// Installs a test log subscriber once (`RUST_LOG` controls it; quiet by default).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

/// A devnet for one scenario: anvil with 1 s blocks, Inbox, proposer, node; all on free ports.
pub struct TestNet {
    /// The devnet.
    pub devnet: Devnet,
    /// Keeps the data directory alive.
    pub dir: tempfile::TempDir,
}

impl TestNet {
    /// Starts a devnet with 1-second L1 blocks in the chain spec's sequencing mode (opt-in).
    pub async fn start() -> eyre::Result<Self> {
        Self::start_with(None).await
    }

    /// Starts a devnet with 1-second L1 blocks in sequencing `mode` (`None`: the chain spec's).
    pub async fn start_with(mode: Option<based_devnet::SequencingMode>) -> eyre::Result<Self> {
        Self::start_configured(mode, |_| {}).await
    }

    /// [`Self::start_with`], with `adjust` applied to the devnet's configuration last.
    pub async fn start_configured(
        mode: Option<based_devnet::SequencingMode>,
        adjust: impl FnOnce(&mut DevnetConfig),
    ) -> eyre::Result<Self> {
        init_tracing();
        let dir = tempfile::tempdir()?;
        let mut config = DevnetConfig {
            l1_port: None,
            l2_port: 0,
            proposer_port: 0,
            gateway_port: 0,
            beacon_port: 0,
            block_time: 1,
            datadir: dir.path().join("devnet"),
            anvil_output: false,
            poll_interval: Duration::from_millis(100),
            sequencing: mode,
            metrics_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            page_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            // An answered hash means a promise: what the scenarios check.
            forward_unpromised: false,
            ..DevnetConfig::default()
        };
        adjust(&mut config);
        let devnet = Devnet::start(config).await?;
        Ok(Self { devnet, dir })
    }

    /// L1 JSON-RPC URL.
    pub fn l1_url(&self) -> String {
        self.devnet.anvil.endpoint()
    }

    /// The devnet's beacon API URL (the L1 beacon chain of the scenario).
    pub fn beacon_url(&self) -> String {
        self.devnet.beacon.url()
    }

    /// The first node's L2 JSON-RPC URL.
    pub fn l2_url(&self) -> String {
        self.devnet.node.rpc_url()
    }

    /// Node configuration for another node following the same L1.
    pub fn node_config(&self, datadir: &Path) -> NodeConfig {
        NodeConfig {
            // The devnet's spec: its Inbox, L1 chain id and start block (the only consensus input).
            chain: self.devnet.chain.clone(),
            datadir: datadir.to_path_buf(),
            trie_cache_bytes: based_storage::DEFAULT_TRIE_CACHE_BYTES,
            l1_rpc_url: self.l1_url(),
            l1_beacon_urls: vec![self.beacon_url()],
            l1_blob_archive_urls: Vec::new(),
            poll_interval: Duration::from_millis(100),
            confirmations: 2,
            http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            proposer_url: None,
            watchtower: None,
        }
    }

    /// Starts another in-process node following the same L1.
    pub async fn start_node(&self, datadir: &Path) -> eyre::Result<NodeHandle> {
        Ok(based_node::launch(self.node_config(datadir)).await?)
    }

    /// Stops everything.
    pub async fn stop(self) {
        self.devnet.stop().await;
    }
}

/// A provider for `url` signing with dev account `key`.
pub fn wallet_provider(url: &str, key: usize) -> eyre::Result<impl Provider + Clone + use<>> {
    let signer = dev_signer(key).ok_or_else(|| eyre::eyre!("no dev key {key}"))?;
    Ok(ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(url.parse()?))
}

/// A read-only provider for `url`.
pub fn provider(url: &str) -> eyre::Result<impl Provider + Clone + use<>> {
    Ok(ProviderBuilder::new().connect_http(url.parse()?))
}

/// Polls `f` every 200 ms until it returns `Some`, or fails after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> eyre::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = eyre::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f().await? {
            return Ok(v);
        }
        if tokio::time::Instant::now() > deadline {
            eyre::bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits for the receipt of `hash` in a block of the chain behind `url` (a preconfirmed receipt
/// from the node's pending block, without a block hash, does not count).
pub async fn wait_for_receipt(url: &str, hash: B256) -> eyre::Result<TransactionReceipt> {
    let p = provider(url)?;
    wait_for(&format!("receipt of {hash}"), WAIT, || {
        let p = p.clone();
        async move {
            Ok(p.get_transaction_receipt(hash)
                .await
                .ok()
                .flatten()
                .filter(|r| r.block_hash.is_some()))
        }
    })
    .await
}

/// Waits until the L2 head behind `url` is at least `number`.
pub async fn wait_for_block(url: &str, number: u64) -> eyre::Result<()> {
    let p = provider(url)?;
    wait_for(&format!("L2 block {number}"), WAIT, || {
        let p = p.clone();
        async move { Ok(p.get_block_number().await.ok().filter(|n| *n >= number).map(|_| ())) }
    })
    .await
}

/// Sends `value` wei from dev account `key` to `to` on L2 through the node at `url`; returns the hash.
pub async fn send_transfer(url: &str, key: usize, to: Address, value: U256) -> eyre::Result<B256> {
    let p = wallet_provider(url, key)?;
    let tx = TransactionRequest::default().with_to(to).with_value(value);
    Ok(*p.send_transaction(tx).await?.tx_hash())
}

/// Signs an EIP-1559 transfer for the devnet L2 without sending it; returns raw bytes and hash.
pub fn sign_l2_transfer(
    key: usize,
    nonce: u64,
    to: Address,
    value: U256,
) -> eyre::Result<(Bytes, B256)> {
    use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
    use alloy_eips::eip2718::Encodable2718;
    use alloy_network::TxSignerSync;
    let signer: PrivateKeySigner =
        dev_signer(key).ok_or_else(|| eyre::eyre!("no dev key {key}"))?;
    let mut tx = TxEip1559 {
        chain_id: based_chainspec::DEVNET_CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: alloy_primitives::TxKind::Call(to),
        value,
        ..Default::default()
    };
    let sig = signer.sign_transaction_sync(&mut tx)?;
    let env = TxEnvelope::from(tx.into_signed(sig));
    Ok((Bytes::from(env.encoded_2718()), *env.tx_hash()))
}

/// Every L2 block hash and state root from genesis to `to` on the node at `url`.
pub async fn chain_digest(url: &str, to: u64) -> eyre::Result<Vec<(u64, B256, B256)>> {
    let p = provider(url)?;
    let mut out = Vec::new();
    for n in 0..=to {
        let b = p
            .get_block_by_number(n.into())
            .await?
            .ok_or_else(|| eyre::eyre!("block {n} missing at {url}"))?;
        out.push((n, b.header.hash, b.header.state_root));
    }
    Ok(out)
}

/// Path of the `based` binary built next to the test executable.
pub fn based_bin() -> eyre::Result<PathBuf> {
    if let Some(p) = std::env::var_os("BASED_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    let dir = exe.parent().and_then(Path::parent).ok_or_else(|| eyre::eyre!("no target dir"))?;
    let bin = dir.join("based");
    if !bin.is_file() {
        eyre::bail!(
            "{} not built (run `cargo build -p based` first; `make test` does)",
            bin.display()
        );
    }
    Ok(bin)
}

/// A `based node` child process, killed on drop.
pub struct NodeProcess {
    child: Child,
    /// Its L2 JSON-RPC URL.
    pub url: String,
}

impl NodeProcess {
    /// Starts `based node` for `cfg` on `port`, with `cfg.chain` written to
    /// `<datadir>/chain-spec.json` as its `--chain`.
    pub fn spawn(cfg: &NodeConfig, port: u16) -> eyre::Result<Self> {
        Self::spawn_with(cfg, port, &[], Stdio::inherit())
    }

    /// [`Self::spawn`] with extra environment variables `env` and the child's stderr to `stderr`.
    pub fn spawn_with(
        cfg: &NodeConfig,
        port: u16,
        env: &[(&str, &str)],
        stderr: Stdio,
    ) -> eyre::Result<Self> {
        std::fs::create_dir_all(&cfg.datadir)?;
        let spec = cfg.datadir.join("chain-spec.json");
        std::fs::write(&spec, cfg.chain.to_json()?)?;
        let child = Command::new(based_bin()?)
            .envs(env.iter().copied())
            .arg("node")
            .arg("--chain")
            .arg(&spec)
            .arg("--datadir")
            .arg(&cfg.datadir)
            .arg("--l1.rpc-url")
            .arg(&cfg.l1_rpc_url)
            .arg("--l1.beacon-url")
            .arg(cfg.l1_beacon_urls.join(","))
            .arg("--l1.poll-interval-ms")
            .arg("100")
            .arg("--http.port")
            .arg(port.to_string())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()?;
        Ok(Self { child, url: format!("http://127.0.0.1:{port}") })
    }

    /// Waits up to `timeout` for the process to exit by itself; returns its exit status.
    pub async fn wait_exit(&mut self, timeout: Duration) -> eyre::Result<std::process::ExitStatus> {
        let child = &mut self.child;
        wait_for("the node process to exit", timeout, || {
            let status = child.try_wait();
            async move { Ok(status?) }
        })
        .await
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill9(&mut self) -> eyre::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `Inbox.propose` with `sidecar` from dev account `key` on the L1 at `l1_url`, with explicit
/// gas (no estimation, so a proposal that will revert is still sent and mined); returns the receipt.
pub async fn propose_blob(
    l1_url: &str,
    inbox: Address,
    key: usize,
    sidecar: alloy_eips::eip4844::BlobTransactionSidecar,
) -> eyre::Result<TransactionReceipt> {
    let l1 = wallet_provider(l1_url, key)?;
    let tx = proposal_request(&l1, inbox, sidecar).await?;
    Ok(l1.send_transaction(tx).await?.get_receipt().await?)
}

/// An `Inbox.propose` transaction carrying `sidecar`, with explicit gas and fees read from `l1`
/// (no estimation, so a proposal that will revert is still sent and mined); the nonce is left to
/// the provider.
pub async fn proposal_request<P: Provider>(
    l1: &P,
    inbox: Address,
    sidecar: alloy_eips::eip4844::BlobTransactionSidecar,
) -> eyre::Result<TransactionRequest> {
    use alloy_network::TransactionBuilder4844;
    use alloy_sol_types::SolCall;
    let fee = l1.get_gas_price().await?.saturating_mul(2).saturating_add(1_000_000_000);
    let mut tx = TransactionRequest::default()
        .with_to(inbox)
        .with_input(Bytes::from(based_contracts::Inbox::proposeCall {}.abi_encode()))
        .with_blob_sidecar_4844(sidecar)
        .with_gas_limit(300_000)
        .with_max_fee_per_gas(fee)
        .with_max_priority_fee_per_gas(1_000_000_000);
    tx.max_fee_per_blob_gas = Some(l1.get_blob_base_fee().await?.saturating_mul(2).max(1));
    tx.populate_blob_hashes();
    Ok(tx)
}

/// A valid one-block batch for the devnet L2 with no transactions, anchored to the L1 head (a
/// stranger's proposal that derives an L2 block: forced transactions due are included with it).
pub async fn empty_batch_sidecar(
    l1_url: &str,
) -> eyre::Result<alloy_eips::eip4844::BlobTransactionSidecar> {
    empty_batch_sidecar_for(l1_url, based_chainspec::DEVNET_CHAIN_ID).await
}

/// [`empty_batch_sidecar`] for L2 chain `chain_id` (another chain's batch is skipped by derivation).
pub async fn empty_batch_sidecar_for(
    l1_url: &str,
    chain_id: u64,
) -> eyre::Result<alloy_eips::eip4844::BlobTransactionSidecar> {
    use based_primitives::L1Anchor;
    let l1 = provider(l1_url)?;
    let head = l1
        .get_block_by_number(alloy_eips::BlockNumberOrTag::Latest)
        .await?
        .ok_or_else(|| eyre::eyre!("no L1 head"))?;
    let anchor = L1Anchor { number: head.header.number, hash: head.header.hash };
    empty_batch_sidecar_at(chain_id, anchor, head.header.timestamp)
}

/// The sidecar of a one-block batch for L2 chain `chain_id` with no transactions, anchored to
/// `anchor`, with L2 timestamp `timestamp`.
pub fn empty_batch_sidecar_at(
    chain_id: u64,
    anchor: based_primitives::L1Anchor,
    timestamp: u64,
) -> eyre::Result<alloy_eips::eip4844::BlobTransactionSidecar> {
    use based_primitives::{Batch, BlockManifest};
    let batch = Batch {
        chain_id,
        manifests: vec![BlockManifest {
            timestamp,
            fee_recipient: Address::ZERO,
            gas_limit: 30_000_000,
            anchor,
            transactions: vec![],
        }],
    };
    Ok(based_blob::encode_batch(&batch).map_err(|e| eyre::eyre!("{e}"))?.sidecar)
}

/// `preconferAt(slot)`'s committer on the preconfer source `source` (zero: open to anyone), at the
/// latest L1 block.
pub async fn preconfer_committer(
    l1_url: &str,
    source: Address,
    slot: u64,
) -> eyre::Result<Address> {
    preconfer_committer_at(l1_url, source, slot, alloy_eips::BlockNumberOrTag::Latest).await
}

/// [`preconfer_committer`] at L1 block `block`.
pub async fn preconfer_committer_at(
    l1_url: &str,
    source: Address,
    slot: u64,
    block: alloy_eips::BlockNumberOrTag,
) -> eyre::Result<Address> {
    use alloy_sol_types::SolCall;
    let call = based_contracts::Lookahead::preconferAtCall { slot: U256::from(slot) };
    let tx =
        TransactionRequest::default().with_to(source).with_input(Bytes::from(call.abi_encode()));
    let out = provider(l1_url)?.call(tx).block(block.into()).await?;
    Ok(based_contracts::Lookahead::preconferAtCall::abi_decode_returns(&out)?.committer)
}

/// For every transaction posted in an `Inbox.Promised` record (docs/protocol.md §11.2) of `inbox`
/// on the L1 at `l1_url`: the L1 slot (by `clock`) of the earliest block that posted it. A promise
/// for slot `S` is kept iff its transaction is here with a slot `<= S` (§11.1).
pub async fn promised_on_l1(
    l1_url: &str,
    inbox: Address,
    clock: &based_lookahead::SlotClock,
) -> eyre::Result<std::collections::HashMap<B256, u64>> {
    use alloy_sol_types::SolEvent;
    let l1 = provider(l1_url)?;
    let filter = alloy_rpc_types_eth::Filter::new()
        .address(inbox)
        .event_signature(based_contracts::Inbox::Promised::SIGNATURE_HASH)
        .from_block(0);
    let mut slots = std::collections::HashMap::new();
    for log in l1.get_logs(&filter).await? {
        let Some(based_contracts::InboxEvent::Promised(p)) =
            based_contracts::InboxEvent::decode(inbox, &log.inner)?
        else {
            eyre::bail!("not a Promised log: {log:?}");
        };
        let number = log.block_number.ok_or_else(|| eyre::eyre!("log without a block"))?;
        let block = l1
            .get_block_by_number(number.into())
            .await?
            .ok_or_else(|| eyre::eyre!("no L1 block {number}"))?;
        let slot = clock.slot_at(block.header.timestamp);
        for tx in &p.txs {
            let hash = alloy_primitives::keccak256(tx);
            let entry = slots.entry(hash).or_insert(slot);
            *entry = (*entry).min(slot);
        }
    }
    Ok(slots)
}
