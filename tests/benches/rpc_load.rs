//! L2 JSON-RPC under load: does derivation keep pace and does the node stay responsive?
//!
//! `cargo build --profile bench -p based --bin based && cargo bench -p based-tests --bench rpc_load`
//! (`BASED_RPC_LOAD_SECS` per phase, default 15). It starts the devnet in this process (anvil with
//! 1 s L1 blocks, proposer, the devnet's own node) and, as the node under test, a separate `based
//! node` process following the same L1 with default RPC limits. A traffic generator sends 20 L2
//! transfers per second through the proposer the whole time, so every L1 block carries a batch to
//! derive. Then, one phase after the other, it loads the node under test:
//!
//! - `idle`: no load (the reference);
//! - `connections`: 200 clients, each on its own TCP connection, looping `eth_getBalance` /
//!   `eth_getBlockByNumber` / `eth_blockNumber`;
//! - `batches`: 8 clients looping batches of 1,000 `eth_getBalance` (geth's maximum batch length);
//! - `expensive`: 32 clients looping `eth_call` of an endless loop (capped by the gas cap, the
//!   call timeout and the concurrency limit: most are refused at once, which is the point);
//! - `tracing`: 8 clients looping `debug_traceBlockByNumber` (struct logger) on recent blocks.
//!
//! Meanwhile a probe asks `eth_blockNumber` every 50 ms on its own connection (the node's
//! responsiveness) and a monitor samples the derivation lag every 250 ms (L1 head minus the node's
//! `based_syncStatus.l1Processed`). One table row per phase, markdown, on stdout.

#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

use alloy_primitives::{Address, U256};
use based_tests::{TestNet, eyre, sign_l2_transfer};
use serde_json::{Value, json};
use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// Latencies and outcomes of one kind of request.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    ok: u64,
    errors: BTreeMap<String, u64>,
}

impl Tally {
    fn record(&mut self, started: Instant, outcome: Result<(), String>) {
        self.latencies_us.push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
        match outcome {
            Ok(()) => self.ok += 1,
            Err(e) => *self.errors.entry(e).or_default() += 1,
        }
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        let mut v = self.latencies_us.clone();
        v.sort_unstable();
        if v.is_empty() {
            return 0.0;
        }
        let i = ((v.len() as f64 - 1.0) * p).round() as usize;
        v[i.min(v.len() - 1)] as f64 / 1000.0
    }

    fn errors(&self) -> String {
        if self.errors.is_empty() {
            return "none".into();
        }
        self.errors.iter().map(|(k, n)| format!("{n} x {k}")).collect::<Vec<_>>().join(", ")
    }
}

/// One JSON-RPC call (or batch): `Ok` if every answer has a result.
async fn call(client: &reqwest::Client, url: &str, body: &Value) -> Result<(), String> {
    let resp = client.post(url).json(body).send().await.map_err(|e| {
        if e.is_timeout() { "client timeout".to_owned() } else { "transport".to_owned() }
    })?;
    let status = resp.status();
    let value: Value = resp.json().await.map_err(|_| format!("HTTP {status}, no JSON"))?;
    let answers = match &value {
        Value::Array(a) => a.iter().collect::<Vec<_>>(),
        one => vec![one],
    };
    for a in answers {
        if let Some(code) = a.get("error").and_then(|e| e.get("code")) {
            return Err(format!("error {code}"));
        }
    }
    Ok(())
}

fn request(id: u64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// Runs `clients` loops of `make(i, n)` against `url` until `stop`; returns their tally.
async fn load(
    url: &str,
    clients: usize,
    stop: Arc<AtomicBool>,
    make: impl Fn(usize, u64) -> Value + Send + Sync + Clone + 'static,
) -> Tally {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let (url, stop, tally, make) =
                (url.to_owned(), stop.clone(), tally.clone(), make.clone());
            tokio::spawn(async move {
                let client = new_client();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let body = make(i, n);
                    let started = Instant::now();
                    let outcome = call(&client, &url, &body).await;
                    tally.lock().expect("tally").record(started, outcome);
                    n += 1;
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    Arc::try_unwrap(tally).map_or_else(|_| Tally::default(), |m| m.into_inner().unwrap_or_default())
}

fn hex_u64(v: &Value) -> Option<u64> {
    v.as_str().and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
}

/// Samples the derivation lag (L1 head minus the node's last processed L1 block) until `stop`:
/// (max lag, mean lag, L2 blocks gained).
async fn monitor(l1: String, node: String, stop: Arc<AtomicBool>) -> (u64, f64, u64) {
    let client = new_client();
    let (mut max, mut sum, mut n) = (0u64, 0u64, 0u64);
    let mut first_l2 = None;
    let mut last_l2 = 0;
    while !stop.load(Ordering::Relaxed) {
        let head = client.post(&l1).json(&request(1, "eth_blockNumber", json!([]))).send().await;
        let status =
            client.post(&node).json(&request(1, "based_syncStatus", json!([]))).send().await;
        if let (Ok(head), Ok(status)) = (head, status)
            && let (Ok(head), Ok(status)) =
                (head.json::<Value>().await, status.json::<Value>().await)
            && let (Some(h), Some(p)) =
                (hex_u64(&head["result"]), hex_u64(&status["result"]["l1Processed"]))
        {
            let lag = h.saturating_sub(p);
            max = max.max(lag);
            sum += lag;
            n += 1;
            if let Some(l2) = hex_u64(&status["result"]["l2Head"]) {
                first_l2.get_or_insert(l2);
                last_l2 = l2;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mean = if n == 0 { 0.0 } else { sum as f64 / n as f64 };
    (max, mean, last_l2.saturating_sub(first_l2.unwrap_or(last_l2)))
}

/// Asks `eth_blockNumber` every 50 ms until `stop`.
async fn probe(node: String, stop: Arc<AtomicBool>) -> Tally {
    let client = new_client();
    let mut tally = Tally::default();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let outcome = call(&client, &node, &request(1, "eth_blockNumber", json!([]))).await;
        tally.record(started, outcome);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tally
}

/// Sends 20 L2 transfers per second through the proposer from dev keys 2..=5 until `stop`.
async fn traffic(proposer: String, stop: Arc<AtomicBool>, sent: Arc<AtomicU64>) {
    let client = new_client();
    let mut nonces = [0u64; 4];
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let k = i % 4;
        i += 1;
        let Ok((raw, _)) =
            sign_l2_transfer(2 + k, nonces[k], Address::repeat_byte(0x70), U256::from(1))
        else {
            continue;
        };
        let body = request(1, "eth_sendRawTransaction", json!([raw]));
        if call(&client, &proposer, &body).await.is_ok() {
            nonces[k] += 1;
            sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn free_port() -> eyre::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> eyre::Result<()> {
    let secs: u64 =
        std::env::var("BASED_RPC_LOAD_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(15);
    let phase_time = Duration::from_secs(secs);
    let net = TestNet::start_with(Some(based_tests::based_devnet::SequencingMode::Permissionless))
        .await?;
    let dir = tempfile::tempdir()?;
    let node = based_tests::NodeProcess::spawn(&net.node_config(dir.path()), free_port()?)?;
    let url = node.url.clone();
    // Wait for the node under test to answer and catch up.
    based_tests::wait_for("the node under test", based_tests::WAIT, || {
        let url = url.clone();
        async move {
            let c = new_client();
            Ok(call(&c, &url, &request(1, "eth_blockNumber", json!([]))).await.ok())
        }
    })
    .await?;
    let proposer = format!("http://{}", net.devnet.proposer.rpc_addr());
    let (traffic_stop, sent) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let traffic_task = tokio::spawn(traffic(proposer, traffic_stop.clone(), sent.clone()));
    tokio::time::sleep(Duration::from_secs(5)).await;

    type Make = Arc<dyn Fn(usize, u64) -> Value + Send + Sync>;
    let balance: Make = Arc::new(|i, n| {
        let who = Address::with_last_byte((i as u8).wrapping_add(n as u8));
        match n % 3 {
            0 => request(n, "eth_getBalance", json!([who, "latest"])),
            1 => request(n, "eth_getBlockByNumber", json!(["latest", true])),
            _ => request(n, "eth_blockNumber", json!([])),
        }
    });
    let batch: Make = Arc::new(|i, n| {
        Value::Array(
            (0..1000u64)
                .map(|k| {
                    let who = Address::with_last_byte(((i as u64 + n + k) % 251) as u8);
                    request(k, "eth_getBalance", json!([who, "latest"]))
                })
                .collect(),
        )
    });
    // JUMPDEST PUSH0 JUMP: loops until the gas cap or the call timeout stops it.
    let expensive: Make = Arc::new(|_, n| {
        request(n, "eth_call", json!([{"data": "0x5b5f56", "gas": "0x2faf080"}, "latest"]))
    });
    let tracing: Make = Arc::new(|_, n| {
        request(n, "debug_traceBlockByNumber", json!(["latest", {"disableStorage": false}]))
    });
    let phases: Vec<(&str, usize, Option<Make>)> = vec![
        ("idle", 0, None),
        ("connections (200 clients)", 200, Some(balance)),
        ("batches (8 x 1,000 requests)", 8, Some(batch)),
        ("expensive eth_call (32 clients)", 32, Some(expensive)),
        ("tracing (8 clients)", 8, Some(tracing)),
    ];
    println!(
        "| phase | client requests/s | client p50 / p99 ms | client errors | probe p50 / p99 / max ms | derivation lag max / mean (L1 blocks) | L2 blocks derived |"
    );
    println!("| --- | ---: | ---: | --- | ---: | ---: | ---: |");
    for (name, clients, make) in phases {
        eprintln!("phase {name}: {secs} s");
        let stop = Arc::new(AtomicBool::new(false));
        let mon = tokio::spawn(monitor(net.l1_url(), url.clone(), stop.clone()));
        let pr = tokio::spawn(probe(url.clone(), stop.clone()));
        let ld = make.map(|make| {
            let (url, stop) = (url.clone(), stop.clone());
            tokio::spawn(async move { load(&url, clients, stop, move |i, n| make(i, n)).await })
        });
        let started = Instant::now();
        tokio::time::sleep(phase_time).await;
        stop.store(true, Ordering::Relaxed);
        let elapsed = started.elapsed().as_secs_f64();
        let (max_lag, mean_lag, l2_blocks) = mon.await?;
        let probe = pr.await?;
        let (rate, latency, errors) = match ld {
            Some(ld) => {
                let t = ld.await?;
                let n = t.latencies_us.len() as f64;
                let latency = format!("{:.1} / {:.1}", t.percentile_ms(0.5), t.percentile_ms(0.99));
                (format!("{:.0}", n / elapsed), latency, t.errors())
            }
            None => ("-".into(), "-".into(), "-".into()),
        };
        println!(
            "| {name} | {rate} | {latency} | {errors} | {:.1} / {:.1} / {:.1} | {max_lag} / {mean_lag:.1} | {l2_blocks} |",
            probe.percentile_ms(0.5),
            probe.percentile_ms(0.99),
            probe.percentile_ms(1.0),
        );
        if !probe.errors.is_empty() {
            println!("|   probe errors | {} |", probe.errors());
        }
        // Let the node settle between phases.
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    traffic_stop.store(true, Ordering::Relaxed);
    let _ = traffic_task.await;
    eprintln!("transfers sent through the proposer: {}", sent.load(Ordering::Relaxed));
    drop(node);
    net.stop().await;
    Ok(())
}
