//! Commitment latency and throughput of the gateway's durable log (issue 10 benchmark).
//!
//! `cargo bench -p based-gateway --bench commit_log`
//!
//! 1. Floor, measured in the same run on the same disk: `fdatasync` latency of a small append to a
//!    file in the log's directory, and one ECDSA signature of a 32-byte digest.
//! 2. Open-loop load at 1,000 / 5,000 / 10,000 requests/s. Each request is an inclusion
//!    `CommitmentRequest` carrying a pre-generated signed EIP-1559 transfer; serving it = decode the
//!    payload and the transaction, recover the sender, build the commitment, sign it, append it to
//!    the log (group commit) and wait until it is durable. Latency runs from the request's
//!    scheduled arrival time (no coordinated omission) to the durable answer.
//!
//! Environment: `BENCH_SECONDS` (default 3) per rate, `BENCH_RATES` (default `1000,5000,10000`),
//! `BENCH_WORKERS` (tokio worker threads, default 2).
#![allow(missing_docs)]

mod common;

use common::{BoxError, bench_dir, load_average, log, ms, percentile, time_fsyncs, time_signs};
use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use based_commitments::{Commitment, CommitmentRequest, InclusionPayload, InclusionTx};
use based_gateway::{AppendOutcome, CommitmentLog, CommitterKey, LogEntry};

struct Floor {
    fsync: Vec<Duration>,
    sign: Vec<Duration>,
    sign_k256: Vec<Duration>,
}

fn measure_floor(dir: &std::path::Path, key: &B256) -> Result<Floor, BoxError> {
    let fsync = time_fsyncs(dir, 400)?;
    let sign = time_signs(&CommitterKey::from_bytes(key)?, 2000)?;
    let sign_k256 = time_signs(&PrivateKeySigner::from_bytes(key)?, 2000)?;
    Ok(Floor { fsync, sign, sign_k256 })
}

/// Pre-generated inclusion requests: signed EIP-1559 transfers from `senders` keys.
fn generate_requests(n: usize) -> Result<Vec<CommitmentRequest>, BoxError> {
    let senders: Vec<PrivateKeySigner> = (0..256).map(|_| PrivateKeySigner::random()).collect();
    let slasher = Address::repeat_byte(0x51);
    let mut requests = Vec::with_capacity(n);
    for i in 0..n {
        let signer = &senders[i % senders.len()];
        let tx = TxEip1559 {
            chain_id: 31337,
            nonce: (i / senders.len()) as u64,
            gas_limit: 21_000,
            max_fee_per_gas: 2_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(Address::repeat_byte(0xde)),
            value: U256::from(1_000_000_000_000_000u64),
            access_list: Default::default(),
            input: Bytes::new(),
        };
        let sig = signer.sign_hash_sync(&tx.signature_hash())?;
        let signed_tx: Bytes = TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into();
        requests.push(InclusionPayload { slot: 1000, signed_tx }.into_request(slasher));
    }
    Ok(requests)
}

/// Serves one request: decode, build, sign, log durably.
async fn serve(
    log: &CommitmentLog,
    committer: &CommitterKey,
    request: &CommitmentRequest,
) -> Result<(AppendOutcome, Instant), BoxError> {
    let tx = InclusionTx::from_request(request)?;
    let signed = Commitment::for_request(request).sign(committer)?;
    let entry = LogEntry {
        conflict_key: Bytes::copy_from_slice(&tx.conflict_key()),
        conflict_value: tx.tx_hash,
        signed,
    };
    let appending = Instant::now();
    Ok((log.append(entry).await?, appending))
}

/// CPU time (user + system) of this process so far, from `/proc/self/stat` (Linux; 10 ms ticks).
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

struct RunResult {
    /// The log writer's own write + `fdatasync` p50 and p99 during the run (100 us buckets, upper
    /// bound).
    log_sync: (Duration, Duration),
    /// Time from calling `append` to the durable answer (the log's share of the latency).
    in_log: Vec<Duration>,
    /// Process CPU time per request during the run.
    cpu_per_request: Option<Duration>,
    /// 1-minute load average at the end of the run (the machine is shared).
    load: String,
    rate: u64,
    /// `fdatasync` latencies measured just before this run (the disk's latency drifts).
    fsync_before: Vec<Duration>,
    batches: u64,
    requests: usize,
    achieved: f64,
    latencies: Vec<Duration>,
    errors: usize,
}

fn run_rate(
    dir: &std::path::Path,
    rate: u64,
    requests: Arc<Vec<CommitmentRequest>>,
    committer: Arc<CommitterKey>,
) -> Result<RunResult, BoxError> {
    let fsync_before = time_fsyncs(dir, 200)?;
    let tmp = tempfile::tempdir_in(dir)?;
    let (log, _) = CommitmentLog::open(tmp.path().join("commitments.log"))?;
    let log = Arc::new(log);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let n = requests.len();
    let results: Arc<Mutex<Vec<(Duration, Duration, bool)>>> =
        Arc::new(Mutex::new(Vec::with_capacity(n)));
    let (done_tx, done_rx) = std::sync::mpsc::channel::<Instant>();
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let cpu_before = process_cpu();
    let start = Instant::now() + Duration::from_millis(20);
    // Generator on its own thread (fine-grained `thread::sleep`), spawning one task per request.
    for i in 0..n {
        let scheduled = start + interval * i as u32;
        let now = Instant::now();
        if scheduled > now + Duration::from_micros(50) {
            std::thread::sleep(scheduled - now);
        }
        let (log, committer, requests, results, done_tx) = (
            Arc::clone(&log),
            Arc::clone(&committer),
            Arc::clone(&requests),
            Arc::clone(&results),
            done_tx.clone(),
        );
        runtime.spawn(async move {
            let served = serve(&log, &committer, &requests[i]).await;
            let finished = Instant::now();
            let (ok, in_log) = match served {
                Ok((AppendOutcome::Appended(_), appending)) => (true, finished - appending),
                _ => (false, Duration::ZERO),
            };
            results.lock().map(|mut r| r.push((finished - scheduled, in_log, ok))).ok();
            let _ = done_tx.send(finished);
        });
    }
    drop(done_tx);
    let last = done_rx.iter().max().unwrap_or(start);
    let cpu_per_request = process_cpu()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before) / n.max(1) as u32);
    let load = load_average();
    runtime.shutdown_timeout(Duration::from_secs(5));
    let results = std::mem::take(&mut *results.lock().map_err(|_| "poisoned")?);
    let errors = results.iter().filter(|(_, _, ok)| !ok).count();
    let mut in_log: Vec<Duration> = results.iter().map(|(_, l, _)| *l).collect();
    in_log.sort();
    let mut latencies: Vec<Duration> = results.into_iter().map(|(d, _, _)| d).collect();
    latencies.sort();
    let elapsed = last.saturating_duration_since(start).as_secs_f64();
    let batches = log.stats().batches;
    let log_sync =
        (log.sync_latency(500).unwrap_or_default(), log.sync_latency(990).unwrap_or_default());
    drop(log);
    Ok(RunResult {
        cpu_per_request,
        load,
        in_log,
        log_sync,
        rate,
        fsync_before,
        batches,
        requests: n,
        achieved: n as f64 / elapsed,
        latencies,
        errors,
    })
}

type Steps = Vec<(&'static str, Vec<Duration>)>;

/// CPU cost of each serving step on one thread (no I/O).
fn cpu_breakdown(
    requests: &[CommitmentRequest],
    committer: &CommitterKey,
) -> Result<Steps, BoxError> {
    let (mut decode, mut build, mut sign, mut total) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for request in requests {
        let t0 = Instant::now();
        let tx = InclusionTx::from_request(request)?;
        let t1 = Instant::now();
        let commitment = Commitment::for_request(request);
        let t2 = Instant::now();
        let signed = commitment.sign(committer)?;
        let t3 = Instant::now();
        std::hint::black_box((tx, signed));
        decode.push(t1 - t0);
        build.push(t2 - t1);
        sign.push(t3 - t2);
        total.push(t3 - t0);
    }
    let mut steps = vec![
        ("decode payload + tx, recover sender", decode),
        ("request_hash + commitment", build),
        ("digest + sign", sign),
        ("total", total),
    ];
    for (_, times) in &mut steps {
        times.sort();
    }
    Ok(steps)
}

fn main() -> Result<(), BoxError> {
    // `cargo bench` passes `--bench`; ignore arguments.
    let seconds: f64 =
        std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let rates: Vec<u64> = std::env::var("BENCH_RATES")
        .ok()
        .map(|s| s.split(',').filter_map(|r| r.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1000, 5000, 10000]);
    let dir = bench_dir()?;
    let key = B256::repeat_byte(0x42);
    let committer = Arc::new(CommitterKey::from_bytes(&key)?);

    log(&format!("floor: fdatasync (400 x 512 B appends) in {} and ECDSA signing", dir.display()));
    let floor = measure_floor(&dir, &key)?;
    let max_requests = rates.iter().map(|r| (*r as f64 * seconds) as usize).max().unwrap_or(0);
    log(&format!("generating {max_requests} signed EIP-1559 transfers"));
    let all = generate_requests(max_requests)?;
    let cpu = cpu_breakdown(&all[..all.len().min(3000)], &committer)?;

    let mut runs = Vec::new();
    for rate in &rates {
        let n = (*rate as f64 * seconds) as usize;
        log(&format!("open-loop {rate} req/s for {seconds} s ({n} requests)"));
        let requests = Arc::new(all[..n].to_vec());
        runs.push(run_rate(&dir, *rate, requests, Arc::clone(&committer))?);
    }

    let fsync_p50 = percentile(&floor.fsync, 50.0);
    let fsync_p99 = percentile(&floor.fsync, 99.0);
    let sign_p50 = percentile(&floor.sign, 50.0);
    let sign_p99 = percentile(&floor.sign, 99.0);
    let floor_p99 = fsync_p99 + sign_p99;
    let target = floor_p99 * 2 + Duration::from_millis(1);
    let mut out = std::io::stdout().lock();
    writeln!(out, "\n| floor | p50 (ms) | p99 (ms) |")?;
    writeln!(out, "| --- | ---: | ---: |")?;
    writeln!(out, "| fdatasync (512 B append) | {} | {} |", ms(fsync_p50), ms(fsync_p99))?;
    writeln!(out, "| ECDSA sign (libsecp256k1, used) | {} | {} |", ms(sign_p50), ms(sign_p99))?;
    writeln!(
        out,
        "| ECDSA sign (k256, for comparison) | {} | {} |",
        ms(percentile(&floor.sign_k256, 50.0)),
        ms(percentile(&floor.sign_k256, 99.0))
    )?;
    writeln!(
        out,
        "| floor = fdatasync + sign | {} | {} |",
        ms(fsync_p50 + sign_p50),
        ms(floor_p99)
    )?;
    writeln!(out, "\n| CPU per request, one thread | p50 (us) |")?;
    writeln!(out, "| --- | ---: |")?;
    for (step, times) in &cpu {
        writeln!(out, "| {step} | {:.1} |", percentile(times, 50.0).as_secs_f64() * 1e6)?;
    }
    writeln!(
        out,
        "\ntarget: p99 <= 2 x floor p99 + 1 ms = {} ms, >= 5,000 promises/s\n",
        ms(target)
    )?;
    writeln!(
        out,
        "| offered (req/s) | requests | achieved (req/s) | entries/fsync | p50 (ms) | p99 (ms) | p99.9 (ms) | max (ms) | errors | in-log p50 / p99 (ms) | CPU/request (us) | load avg | fsync p99 just before (ms) | log's write+fsync p50 / p99 during run (ms) | p99 target met (vs floor at start / just before / during) |"
    )?;
    writeln!(
        out,
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    )?;
    for run in &runs {
        let p99 = percentile(&run.latencies, 99.0);
        let local_fsync_p99 = percentile(&run.fsync_before, 99.0);
        let local_target = (local_fsync_p99 + sign_p99) * 2 + Duration::from_millis(1);
        let yes = |met: bool| if met { "yes" } else { "no" };
        writeln!(
            out,
            "| {} | {} | {:.0} | {:.1} | {} | {} | {} | {} | {} | {} / {} | {:.0} | {} | {} | {} / {} | {} / {} / {} |",
            run.rate,
            run.requests,
            run.achieved,
            run.requests as f64 / run.batches.max(1) as f64,
            ms(percentile(&run.latencies, 50.0)),
            ms(p99),
            ms(percentile(&run.latencies, 99.9)),
            ms(run.latencies.last().copied().unwrap_or_default()),
            run.errors,
            ms(percentile(&run.in_log, 50.0)),
            ms(percentile(&run.in_log, 99.0)),
            run.cpu_per_request.unwrap_or_default().as_secs_f64() * 1e6,
            run.load,
            ms(local_fsync_p99),
            ms(run.log_sync.0),
            ms(run.log_sync.1),
            yes(p99 <= target),
            yes(p99 <= local_target),
            yes(p99 <= (run.log_sync.1 + sign_p99) * 2 + Duration::from_millis(1)),
        )?;
    }
    Ok(())
}
