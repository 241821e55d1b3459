//! End-to-end commitment latency and throughput of the gateway over HTTP (issue 10 benchmark).
//!
//! `cargo bench -p based-gateway --bench gateway_http`
//!
//! 1. Floor, measured in the same run on the same disk: `fdatasync` latency of a small append to a
//!    file in the log's directory (at the start and again just before each load run), and one
//!    ECDSA signature of a 32-byte digest with the committer key the gateway uses.
//! 2. The real gateway server (`GatewayServer::start`: jsonrpsee JSON-RPC + REST on one port) on
//!    127.0.0.1:0, with a real `CommitmentLog` on the repository's disk (`target/tmp`) and an
//!    in-process fake L2 node ([`BenchNode`]: the nonce and funds rules of `based_preconfirm` on a
//!    map prepared beforehand; no execution, no sender recovery unless `BENCH_NODE_RECOVER=1`), or
//!    with `BENCH_NODE=real` the real node's preconfirmed state ([`Node::Real`]: revm execution on
//!    a pending block over an in-memory store funding the senders; at most 2,857 transfers fit a
//!    pending block, so keep `rate x BENCH_SECONDS` below that), called in process; or with
//!    `BENCH_NODE=rpc` the same node behind its own JSON-RPC server on loopback, reached with the
//!    gateway's HTTP node client (`NodePending`), as `based gateway` reaches `based node`. A fresh
//!    log, node and server for every run.
//! 3. Open-loop load at fixed rates: signed EIP-1559 transfers for the devnet chain id from 1,000
//!    senders (request `i` = sender `i % 1000`, nonce `i / 1000`, so a sender's next nonce arrives
//!    1,000 requests later), sent as JSON-RPC over at most `BENCH_CONNECTIONS` keep-alive HTTP/1.1
//!    connections (reqwest pool, opened before each run; at most that many requests in flight, the
//!    others wait in FIFO order). Latency runs from each request's *scheduled* send time (no
//!    coordinated omission: waiting for a connection counts) to the parsed response.
//!    Methods: `eth_sendRawTransaction`, `commitmentRequest`, and `eth_chainId` (no admission, no
//!    log: the cost of the HTTP + JSON-RPC round trip alone on this machine).
//!
//! Environment: `BENCH_SECONDS` (default 3) per rate, `BENCH_RATES` (default `1000,5000,10000`),
//! `BENCH_METHODS` (default `eth_chainId,eth_sendRawTransaction,commitmentRequest`),
//! `BENCH_WORKERS` (server tokio workers, default 2), `BENCH_CLIENT_WORKERS` (load generator's
//! tokio workers, default 1), `BENCH_CONNECTIONS` (default 64), `BENCH_NODE` (`fake`, `real` or
//! `rpc`, above), `BENCH_NODE_RECOVER` (`1`: the fake node recovers each sender too),
//! `BENCH_MAX_IN_FLIGHT` (the gateway's `Limits::max_in_flight`, default its machine-sized
//! default; `0`: no cap). Requests beyond the cap are refused at once (-32012): the table gives
//! their share and the latency of the promised requests alone beside that of all answers.
#![allow(missing_docs)]

mod common;

use common::{BoxError, bench_dir, load_average, log, ms, percentile, time_fsyncs, time_signs};
use std::{
    collections::HashMap,
    io::Write,
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, B256, Bytes, TxKind, U64, U256, keccak256};
use alloy_signer::SignerSync;
use based_commitments::InclusionPayload;
use based_gateway::{
    CommitmentLog, CommitterKey, EverySlot, Gateway, GatewayConfig, GatewayServer, Limits,
    NodeError, NodePending, PendingNode, ServerSettings,
};
use based_lookahead::SlotClock;
use based_rpc::{Preconfirmation, preconf_codes};

/// The gateway's clock is pinned: `now` = 1188 s with 12 s slots from 0 is slot 99.
const NOW: u64 = 1188;
/// `eth_sendRawTransaction` and `commitmentRequest` both promise for slot 101, the first starting
/// after the default promise lead (18 s).
const REQUEST_SLOT: u64 = 101;
const SENDERS: usize = 1000;
const SLASHER: Address = Address::repeat_byte(0x51);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(default)
}

/// What the fake node knows of a prepared transaction.
#[derive(Debug, Clone, Copy)]
struct TxInfo {
    sender: Address,
    nonce: u64,
    cost: U256,
}

/// The pre-signed load: JSON-RPC bodies per method and the fake node's index.
struct Prepared {
    raw_bodies: Vec<Bytes>,
    request_bodies: Vec<Bytes>,
    txs: Arc<HashMap<B256, TxInfo>>,
}

fn prepare(n: usize, chain_id: u64) -> Result<Prepared, BoxError> {
    let senders: Vec<CommitterKey> = (0..SENDERS as u64)
        .map(|i| CommitterKey::from_bytes(&keccak256((i + 1).to_be_bytes())))
        .collect::<Result<_, _>>()?;
    let (mut raw_bodies, mut request_bodies) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut txs = HashMap::with_capacity(n);
    for i in 0..n {
        let signer = &senders[i % SENDERS];
        let nonce = (i / SENDERS) as u64;
        let tx = TxEip1559 {
            chain_id,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: 2_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(Address::repeat_byte(0xde)),
            value: U256::from(1_000_000_000_000_000u64),
            access_list: Default::default(),
            input: Bytes::new(),
        };
        let cost = U256::from(tx.gas_limit) * U256::from(tx.max_fee_per_gas) + tx.value;
        let sig = signer.sign_hash_sync(&tx.signature_hash())?;
        let raw: Bytes = TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into();
        txs.insert(keccak256(&raw), TxInfo { sender: signer.address(), nonce, cost });
        let request =
            InclusionPayload { slot: REQUEST_SLOT, signed_tx: raw.clone() }.into_request(SLASHER);
        let body = |method: &str, param: serde_json::Value| -> Bytes {
            serde_json::json!({"jsonrpc": "2.0", "id": i, "method": method, "params": [param]})
                .to_string()
                .into_bytes()
                .into()
        };
        raw_bodies.push(body("eth_sendRawTransaction", serde_json::to_value(&raw)?));
        request_bodies.push(body("commitmentRequest", serde_json::to_value(&request)?));
    }
    Ok(Prepared { raw_bodies, request_bodies, txs: Arc::new(txs) })
}

#[derive(Default)]
struct NodeState {
    /// Sender → (next nonce, spent).
    accounts: HashMap<Address, (u64, U256)>,
    /// Pending transaction → index in the pending block.
    pending: HashMap<B256, u64>,
}

/// A fake L2 node: the nonce and funds rules of `based_preconfirm` over the prepared index, so
/// the run measures the gateway, HTTP, signing and the durable log rather than execution.
#[derive(Clone)]
struct BenchNode {
    txs: Arc<HashMap<B256, TxInfo>>,
    state: Arc<Mutex<NodeState>>,
    balance: U256,
    recover: bool,
}

fn refused(code: i32, data: Option<serde_json::Value>) -> NodeError {
    NodeError::Refused { code, message: format!("refused {code}"), data }
}

impl PendingNode for BenchNode {
    async fn preconfirm(
        &self,
        raw: Bytes,
        _slot: u64,
        _deadline: Option<u64>,
    ) -> Result<Preconfirmation, NodeError> {
        let hash = keccak256(&raw);
        let mut info = *self.txs.get(&hash).ok_or_else(|| refused(preconf_codes::INVALID, None))?;
        if self.recover {
            let tx = TxEnvelope::decode_2718(&mut raw.as_ref())
                .map_err(|_| refused(preconf_codes::INVALID, None))?;
            info.sender = tx.recover_signer().map_err(|_| refused(preconf_codes::INVALID, None))?;
        }
        let mut state = self.state.lock().map_err(|_| NodeError::Unreachable("poisoned".into()))?;
        let index = match state.pending.get(&hash) {
            Some(index) => *index,
            None => {
                let account = state.accounts.entry(info.sender).or_default();
                if info.nonce != account.0 {
                    let data = serde_json::json!({"got": info.nonce, "expected": account.0});
                    return Err(refused(preconf_codes::NONCE, Some(data)));
                }
                if account.1 + info.cost > self.balance {
                    return Err(refused(preconf_codes::FUNDS, None));
                }
                account.0 += 1;
                account.1 += info.cost;
                let index = state.pending.len() as u64;
                state.pending.insert(hash, index);
                index
            }
        };
        Ok(Preconfirmation {
            tx_hash: hash,
            pending: true,
            block_number: U64::from(1),
            transaction_index: U64::from(index),
            gas_used: U64::from(21_000),
            status: true,
            session: U64::from(1),
        })
    }

    async fn drop_preconfirmed(&self, tx_hash: B256) -> Result<bool, NodeError> {
        let mut state = self.state.lock().map_err(|_| NodeError::Unreachable("poisoned".into()))?;
        Ok(state.pending.remove(&tx_hash).is_some())
    }

    async fn session(&self) -> Result<u64, NodeError> {
        Ok(1)
    }
}

/// Which node the gateway drives (`BENCH_NODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeMode {
    /// `fake` (default): [`BenchNode`].
    Fake,
    /// `real`: the real node's preconfirmed state, called in process.
    Real,
    /// `rpc`: the real node behind its JSON-RPC server on loopback.
    Rpc,
}

/// The node behind the gateway: the fake one, or the real node's preconfirmed state
/// (`based_node::preconf::Preconfirmations`: revm execution of each transaction on a pending block
/// over an in-memory store), in process (`BENCH_NODE=real`) or over HTTP (`BENCH_NODE=rpc`).
#[derive(Clone)]
enum Node {
    Fake(BenchNode),
    Real(Arc<based_node::preconf::Preconfirmations>),
    Rpc(Arc<NodePending>),
}

/// The node's JSON-RPC server (`BENCH_NODE=rpc`) and the runtime it runs on ("node-rpc" threads,
/// as many workers as the gateway's).
struct NodeRpc {
    runtime: tokio::runtime::Runtime,
    handle: based_rpc::RpcServerHandle,
}

impl NodeRpc {
    /// Serves `preconf` over a store-backed RPC server, as `based node` does.
    fn start(
        store: based_storage::Store,
        preconf: Arc<based_node::preconf::Preconfirmations>,
        chain_id: u64,
        workers: usize,
    ) -> Result<Self, BoxError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("node-rpc")
            .enable_all()
            .build()?;
        let (_heads, heads) = tokio::sync::watch::channel(based_l1::L1Heads::default());
        let backend = Arc::new(based_node::NodeBackend::new(store.clone(), 0, heads, preconf));
        let deps = based_rpc::RpcDeps {
            chain: Arc::new(store),
            based: backend,
            forwarder: Arc::new(based_node::SwappableForwarder::default()),
            events: based_rpc::ChainEvents::new(
                based_rpc::DEFAULT_CHAIN_EVENT_CAPACITY,
                based_rpc::DEFAULT_PENDING_TX_CAPACITY,
            ),
            config: based_rpc::RpcConfig::new(chain_id),
        };
        let handle = runtime
            .block_on(based_rpc::RpcServer::start(SocketAddr::from(([127, 0, 0, 1], 0)), deps))?;
        Ok(Self { runtime, handle })
    }

    fn stop(self) {
        let Self { runtime, handle } = self;
        runtime.block_on(handle.stop());
        runtime.shutdown_timeout(Duration::from_secs(5));
    }
}

/// A node store with genesis funding the bench's senders and the largest L2 block gas limit
/// (60M: 2,857 transfers fit in one pending block), and its preconfirmed state on that genesis.
fn real_node(
    chain_id: u64,
) -> Result<(based_storage::Store, Arc<based_node::preconf::Preconfirmations>), BoxError> {
    let senders = (0..SENDERS as u64).map(|i| {
        CommitterKey::from_bytes(&keccak256((i + 1).to_be_bytes())).map(|key| key.address())
    });
    let senders = senders.collect::<Result<Vec<_>, _>>()?;
    let balance = U256::from(1_000_000u64) * U256::from(10u64).pow(U256::from(18u64));
    let (store, preconf) = based_node::test_utils::funded_preconf(chain_id, senders, balance)?;
    Ok((store, Arc::new(preconf)))
}

impl PendingNode for Node {
    async fn preconfirm(
        &self,
        raw: Bytes,
        slot: u64,
        deadline: Option<u64>,
    ) -> Result<Preconfirmation, NodeError> {
        use based_rpc::PreconfBackend as _;
        match self {
            Self::Fake(node) => node.preconfirm(raw, slot, deadline).await,
            Self::Real(node) => {
                node.preconfirm(raw, slot, deadline).map(|done| done.answer).map_err(|e| {
                    NodeError::Refused { code: e.code(), message: e.to_string(), data: e.data() }
                })
            }
            Self::Rpc(node) => node.preconfirm(raw, slot, deadline).await,
        }
    }

    async fn drop_preconfirmed(&self, tx_hash: B256) -> Result<bool, NodeError> {
        use based_rpc::PreconfBackend as _;
        match self {
            Self::Fake(node) => node.drop_preconfirmed(tx_hash).await,
            Self::Real(node) => {
                node.drop_preconfirmed(tx_hash).map_err(|e| NodeError::Unreachable(e.to_string()))
            }
            Self::Rpc(node) => node.drop_preconfirmed(tx_hash).await,
        }
    }

    async fn session(&self) -> Result<u64, NodeError> {
        use based_rpc::PreconfBackend as _;
        match self {
            Self::Fake(node) => node.session().await,
            Self::Real(node) => Ok(node.status().session.to()),
            Self::Rpc(node) => node.session().await,
        }
    }
}

/// CPU time (user + system) of each live thread of this process by thread id, with its name,
/// from `/proc/self/task` (Linux, 10 ms ticks). The kernel truncates names to 15 bytes.
fn thread_cpu() -> HashMap<String, (String, Duration)> {
    let mut out = HashMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return out };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let name = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
        let cpu = Duration::from_millis((ticks(11) + ticks(12)) * 10);
        out.insert(task.file_name().to_string_lossy().into_owned(), (name, cpu));
    }
    out
}

/// Process CPU time (all threads, also those that exited).
fn process_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return Duration::ZERO };
    let Some((_, rest)) = stat.rsplit_once(')') else { return Duration::ZERO };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn open_sockets() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|fds| {
            fds.flatten()
                .filter(|fd| {
                    std::fs::read_link(fd.path())
                        .is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
                })
                .count()
        })
        .unwrap_or(0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Outcome {
    Ok,
    Rpc(i64),
    Transport,
}

#[derive(serde::Deserialize)]
struct RpcResponse {
    result: Option<serde::de::IgnoredAny>,
    error: Option<RpcErrorBody>,
}

#[derive(serde::Deserialize)]
struct RpcErrorBody {
    code: i64,
}

async fn call(client: &reqwest::Client, url: &str, body: Bytes) -> Outcome {
    let sent = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.0)
        .send()
        .await;
    let Ok(resp) = sent else { return Outcome::Transport };
    let Ok(bytes) = resp.bytes().await else { return Outcome::Transport };
    match serde_json::from_slice::<RpcResponse>(&bytes) {
        Ok(RpcResponse { result: Some(_), .. }) => Outcome::Ok,
        Ok(RpcResponse { error: Some(e), .. }) => Outcome::Rpc(e.code),
        _ => Outcome::Transport,
    }
}

struct RunResult {
    method: String,
    rate: u64,
    requests: usize,
    achieved: f64,
    latencies: Vec<Duration>,
    /// Latencies of the requests answered with a promise.
    ok_latencies: Vec<Duration>,
    outcomes: HashMap<Outcome, usize>,
    promises: usize,
    cpu_per_request: Duration,
    /// Share of one core per thread group during the run: server workers, log writer, client +
    /// generator, real node (its pending block's thread and RPC server).
    cpu_split: (f64, f64, f64, f64),
    /// Keep-alive connections open at the end of the run.
    connections: usize,
    load: String,
    fsync_before: Vec<Duration>,
}

struct Setup {
    dir: PathBuf,
    chain_id: u64,
    workers: usize,
    client_workers: usize,
    /// Most requests in flight, hence most client connections.
    connections: usize,
    recover: bool,
    /// `BENCH_NODE`: the fake node, or the real node's preconfirmed state in process or over
    /// HTTP.
    node: NodeMode,
    committer_secret: B256,
    /// The gateway's cap on admissions in flight.
    max_in_flight: usize,
}

fn server_settings() -> ServerSettings {
    ServerSettings {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        node_url: None,
        max_request_bytes: 1 << 20,
        max_connections: 10_000,
        unpromised_url: None,
    }
}

fn run_rate(
    setup: &Setup,
    method: &str,
    rate: u64,
    bodies: Arc<Vec<Bytes>>,
    txs: &Arc<HashMap<B256, TxInfo>>,
) -> Result<RunResult, BoxError> {
    let fsync_before = time_fsyncs(&setup.dir, 200)?;
    let tmp = tempfile::tempdir_in(&setup.dir)?;
    let (commit_log, recovered) = CommitmentLog::open(tmp.path().join("commitments.log"))?;
    let key = CommitterKey::from_bytes(&setup.committer_secret)?;
    let committer = key.address();
    let mut node_rpc = None;
    let node = match setup.node {
        NodeMode::Fake => Node::Fake(BenchNode {
            txs: Arc::clone(txs),
            state: Arc::default(),
            balance: U256::from(1000u64) * U256::from(10u64).pow(U256::from(18u64)),
            recover: setup.recover,
        }),
        NodeMode::Real => Node::Real(real_node(setup.chain_id)?.1),
        NodeMode::Rpc => {
            let (store, preconf) = real_node(setup.chain_id)?;
            let rpc = NodeRpc::start(store, preconf, setup.chain_id, setup.workers)?;
            let url = rpc.handle.http_url();
            node_rpc = Some(rpc);
            Node::Rpc(Arc::new(NodePending::new(url)))
        }
    };
    let config = GatewayConfig {
        chain_id: setup.chain_id,
        slasher: SLASHER,
        clock: SlotClock::mainnet(0),
        limits: Limits {
            max_txs_per_slot: usize::MAX,
            max_gas_per_slot: u64::MAX,
            max_in_flight: setup.max_in_flight,
            ..Limits::default()
        },
    };
    let gateway = Arc::new(
        Gateway::new(
            config,
            key,
            committer,
            commit_log,
            &recovered,
            node,
            Arc::new(EverySlot),
            None,
        )
        .with_clock(|| NOW),
    );
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(setup.workers)
        .thread_name("gw-server")
        .enable_all()
        .build()?;
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(setup.client_workers)
        .thread_name("load-client")
        .enable_all()
        .build()?;
    let server =
        server_rt.block_on(GatewayServer::start(Arc::clone(&gateway), server_settings()))?;
    let url = Arc::new(server.url());
    let sockets_before = open_sockets();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .pool_idle_timeout(None)
        .tcp_nodelay(true)
        .build()?;

    // Warm-up: open the pool of keep-alive connections (and wake the server's workers).
    let warm: Bytes = r#"{"jsonrpc":"2.0","id":0,"method":"eth_chainId","params":[]}"#.into();
    let permits = Arc::new(tokio::sync::Semaphore::new(setup.connections));
    client_rt.block_on(async {
        let calls: Vec<_> = (0..setup.connections)
            .map(|_| {
                let (client, url, warm) = (client.clone(), Arc::clone(&url), warm.clone());
                tokio::spawn(async move { call(&client, &url, warm).await })
            })
            .collect();
        for c in calls {
            let _ = c.await;
        }
    });

    let n = bodies.len();
    let results: Arc<Mutex<Vec<(Duration, Outcome)>>> = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let (done_tx, done_rx) = std::sync::mpsc::channel::<Instant>();
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let threads_before = thread_cpu();
    let cpu_before = process_cpu();
    let start = Instant::now() + Duration::from_millis(20);
    // The generator runs on this thread (fine-grained `thread::sleep`), spawning one client task
    // per request at its scheduled time.
    for (i, body) in bodies.iter().enumerate() {
        let scheduled = start + interval * i as u32;
        let now = Instant::now();
        if scheduled > now + Duration::from_micros(50) {
            std::thread::sleep(scheduled - now);
        }
        let (client, url, body, results, done_tx, permits) = (
            client.clone(),
            Arc::clone(&url),
            body.clone(),
            Arc::clone(&results),
            done_tx.clone(),
            Arc::clone(&permits),
        );
        client_rt.spawn(async move {
            // At most `connections` requests in flight (FIFO): overload queues here, in the
            // measured latency, instead of opening ever more connections.
            let Ok(_permit) = permits.acquire().await else { return };
            let outcome = call(&client, &url, body).await;
            let finished = Instant::now();
            results.lock().map(|mut r| r.push((finished - scheduled, outcome))).ok();
            let _ = done_tx.send(finished);
        });
    }
    drop(done_tx);
    let mut last = start;
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Ok(finished) =
        done_rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
    {
        last = last.max(finished);
    }
    let cpu = process_cpu().saturating_sub(cpu_before);
    let threads_after = thread_cpu();
    // Each loopback connection is two sockets of this process (client and server end).
    let connections = open_sockets().saturating_sub(sockets_before) / 2;
    let load = load_average();
    let wall = Instant::now().saturating_duration_since(start).as_secs_f64().max(1e-9);
    let group = |prefixes: &[&str]| -> f64 {
        threads_after
            .iter()
            .filter(|(_, (name, _))| prefixes.iter().any(|p| name.starts_with(p)))
            .map(|(tid, (_, after))| {
                let before = threads_before.get(tid).map(|(_, cpu)| *cpu).unwrap_or_default();
                after.saturating_sub(before)
            })
            .sum::<Duration>()
            .as_secs_f64()
            / wall
    };
    // The main thread (named after the bench binary) is the generator.
    let cpu_split = (
        group(&["gw-server"]),
        group(&["commitment-log"]),
        group(&["load-client", "gateway_http"]),
        group(&["based-preconf", "node-rpc"]),
    );
    server_rt.block_on(server.stop());
    if let Some(rpc) = node_rpc {
        rpc.stop();
    }
    client_rt.shutdown_timeout(Duration::from_secs(5));
    server_rt.shutdown_timeout(Duration::from_secs(5));
    let promises = gateway.promises();
    drop(gateway);
    let results = std::mem::take(&mut *results.lock().map_err(|_| "poisoned")?);
    let mut outcomes = HashMap::new();
    for (_, outcome) in &results {
        *outcomes.entry(*outcome).or_insert(0) += 1;
    }
    *outcomes.entry(Outcome::Transport).or_insert(0) += n - results.len();
    let mut ok_latencies: Vec<Duration> =
        results.iter().filter(|(_, o)| *o == Outcome::Ok).map(|(d, _)| *d).collect();
    ok_latencies.sort();
    let mut latencies: Vec<Duration> = results.into_iter().map(|(d, _)| d).collect();
    latencies.sort();
    let elapsed = last.saturating_duration_since(start).as_secs_f64().max(1e-9);
    Ok(RunResult {
        method: method.to_owned(),
        rate,
        requests: n,
        achieved: latencies.len() as f64 / elapsed,
        latencies,
        ok_latencies,
        outcomes,
        promises,
        cpu_per_request: cpu / n.max(1) as u32,
        cpu_split,
        connections,
        load,
        fsync_before,
    })
}

fn main() -> Result<(), BoxError> {
    // `cargo bench` passes `--bench`; ignore arguments.
    let seconds: f64 = env_or("BENCH_SECONDS", 3.0);
    let rates: Vec<u64> = std::env::var("BENCH_RATES")
        .ok()
        .map(|s| s.split(',').filter_map(|r| r.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1000, 5000, 10000]);
    let methods: Vec<String> = std::env::var("BENCH_METHODS")
        .ok()
        .map(|s| s.split(',').map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()).collect())
        .unwrap_or_else(|| {
            ["eth_chainId", "eth_sendRawTransaction", "commitmentRequest"]
                .map(str::to_owned)
                .to_vec()
        });
    let setup = Setup {
        dir: bench_dir()?,
        chain_id: based_chainspec::DEVNET_CHAIN_ID,
        workers: env_or("BENCH_WORKERS", 2),
        client_workers: env_or("BENCH_CLIENT_WORKERS", 1),
        connections: env_or("BENCH_CONNECTIONS", 64),
        recover: env_or("BENCH_NODE_RECOVER", 0u8) == 1,
        node: match std::env::var("BENCH_NODE").as_deref() {
            Err(_) | Ok("" | "fake") => NodeMode::Fake,
            Ok("real") => NodeMode::Real,
            Ok("rpc") => NodeMode::Rpc,
            Ok(other) => return Err(format!("BENCH_NODE={other}: one of fake, real, rpc").into()),
        },
        committer_secret: B256::repeat_byte(0x42),
        max_in_flight: env_or(
            "BENCH_MAX_IN_FLIGHT",
            based_gateway::service::default_max_in_flight(),
        ),
    };
    log(&format!("gateway max_in_flight: {} (0: no cap)", setup.max_in_flight));
    let committer = CommitterKey::from_bytes(&setup.committer_secret)?;

    log(&format!(
        "floor: fdatasync (400 x 512 B appends) in {} and ECDSA signing (libsecp256k1)",
        setup.dir.display()
    ));
    let fsync = time_fsyncs(&setup.dir, 400)?;
    let sign = time_signs(&committer, 2000)?;
    let max_requests = rates.iter().map(|r| (*r as f64 * seconds) as usize).max().unwrap_or(0);
    log(&format!(
        "pre-signing {max_requests} EIP-1559 transfers (chain {}, {SENDERS} senders)",
        setup.chain_id
    ));
    let prepared = prepare(max_requests, setup.chain_id)?;
    let chain_id_body: Bytes =
        r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#.into();

    let mut runs = Vec::new();
    for method in &methods {
        for rate in &rates {
            let n = (*rate as f64 * seconds) as usize;
            let bodies = match method.as_str() {
                "eth_sendRawTransaction" => prepared.raw_bodies[..n].to_vec(),
                "commitmentRequest" => prepared.request_bodies[..n].to_vec(),
                "eth_chainId" => vec![chain_id_body.clone(); n],
                other => return Err(format!("unknown method {other}").into()),
            };
            log(&format!("{method}: open-loop {rate} req/s for {seconds} s ({n} requests)"));
            let run = run_rate(&setup, method, *rate, Arc::new(bodies), &prepared.txs)?;
            log(&format!(
                "  achieved {:.0}/s, p50 {} ms, p99 {} ms, p99.9 {} ms, ok {}, promises {}, refused (busy) {}, promised p50/p99 {} / {} ms",
                run.achieved,
                ms(percentile(&run.latencies, 50.0)),
                ms(percentile(&run.latencies, 99.0)),
                ms(percentile(&run.latencies, 99.9)),
                run.outcomes.get(&Outcome::Ok).copied().unwrap_or(0),
                run.promises,
                run.outcomes.get(&Outcome::Rpc(-32012)).copied().unwrap_or(0),
                ms(percentile(&run.ok_latencies, 50.0)),
                ms(percentile(&run.ok_latencies, 99.0)),
            ));
            runs.push(run);
        }
    }

    let fsync_p99 = percentile(&fsync, 99.0);
    let sign_p99 = percentile(&sign, 99.0);
    let floor_p99 = fsync_p99 + sign_p99;
    let target = floor_p99 * 2 + Duration::from_millis(1);
    let mut out = std::io::stdout().lock();
    writeln!(out, "\n| floor | p50 (ms) | p99 (ms) | p99.9 (ms) |")?;
    writeln!(out, "| --- | ---: | ---: | ---: |")?;
    for (name, times) in
        [("fdatasync (512 B append)", &fsync), ("ECDSA sign (libsecp256k1)", &sign)]
    {
        writeln!(
            out,
            "| {name} | {} | {} | {} |",
            ms(percentile(times, 50.0)),
            ms(percentile(times, 99.0)),
            ms(percentile(times, 99.9))
        )?;
    }
    writeln!(
        out,
        "| floor = fdatasync + sign | {} | {} | {} |",
        ms(percentile(&fsync, 50.0) + percentile(&sign, 50.0)),
        ms(floor_p99),
        ms(percentile(&fsync, 99.9) + percentile(&sign, 99.9))
    )?;
    writeln!(
        out,
        "\ntarget: p99 <= 2 x floor p99 + 1 ms = {} ms, >= 5,000 promises/s; node: {:?}; fake \
         node recovers senders: {}\n",
        ms(target),
        setup.node,
        setup.recover
    )?;
    writeln!(
        out,
        "| method | offered (req/s) | requests | achieved (req/s) | ok | errors | refused busy (%) | p50 (ms) | p99 (ms) | p99.9 (ms) | max (ms) | promised p50 / p99 (ms) | CPU/request (us) | cores: server / log / client / node | connections | load avg | fsync p99 before (ms) | p99 target met (floor at start / before) |"
    )?;
    writeln!(
        out,
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |"
    )?;
    for run in &runs {
        let p99 = percentile(&run.latencies, 99.0);
        let local_target =
            (percentile(&run.fsync_before, 99.0) + sign_p99) * 2 + Duration::from_millis(1);
        let yes = |met: bool| if met { "yes" } else { "no" };
        let ok = run.outcomes.get(&Outcome::Ok).copied().unwrap_or(0);
        let mut errors: Vec<(Outcome, usize)> = run
            .outcomes
            .iter()
            .filter(|(o, c)| **o != Outcome::Ok && **c > 0)
            .map(|(o, c)| (*o, *c))
            .collect();
        errors.sort();
        let errors = if errors.is_empty() {
            "0".to_owned()
        } else {
            errors
                .iter()
                .map(|(o, c)| match o {
                    Outcome::Rpc(code) => format!("{c} x {code}"),
                    _ => format!("{c} x transport"),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            out,
            "| {} | {} | {} | {:.0} | {} | {} | {:.2} | {} | {} | {} | {} | {} / {} | {:.0} | {:.2} / {:.2} / {:.2} / {:.2} | {} | {} | {} | {} / {} |",
            run.method,
            run.rate,
            run.requests,
            run.achieved,
            ok,
            errors,
            100.0 * run.outcomes.get(&Outcome::Rpc(-32012)).copied().unwrap_or(0) as f64
                / run.requests.max(1) as f64,
            ms(percentile(&run.latencies, 50.0)),
            ms(p99),
            ms(percentile(&run.latencies, 99.9)),
            ms(run.latencies.last().copied().unwrap_or_default()),
            ms(percentile(&run.ok_latencies, 50.0)),
            ms(percentile(&run.ok_latencies, 99.0)),
            run.cpu_per_request.as_secs_f64() * 1e6,
            run.cpu_split.0,
            run.cpu_split.1,
            run.cpu_split.2,
            run.cpu_split.3,
            run.connections,
            run.load,
            ms(percentile(&run.fsync_before, 99.0)),
            yes(p99 <= target),
            yes(p99 <= local_target),
        )?;
    }
    Ok(())
}
