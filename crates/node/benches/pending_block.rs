//! The node's pending block (preconfirmed state) under a full block of promises.
//!
//! `cargo bench -p based-node --features test-utils --bench pending_block`
//!
//! An in-memory store at the devnet genesis with the largest L2 gas limit (60M: 2,857 transfers
//! fit one block) funds `BENCH_TXS` senders (default 2,800); each sends one signed EIP-1559
//! transfer, prepared beforehand. Measured, in one process:
//!
//! 1. **Fill, one caller**: `preconfirm` of every transfer in turn from one thread (what
//!    `based_preconfirm` does: decode and recover the sender on the caller's thread, then execute on
//!    the pending block's thread), latency per call by how full the block already was.
//! 2. **Snapshot**: at fill levels along the way, the time to build the pending block's snapshot
//!    (what every `pending`-tag read needs after a change: header with transaction and receipt
//!    roots, and the state) and to get it again unchanged (cached).
//! 3. **Fill, `BENCH_CALLERS` callers** (default 2): the same transfers on a fresh block from
//!    that many threads at once; throughput beside the one-caller run (sender recovery runs in
//!    parallel; execution stays one at a time, in arrival order).
#![allow(missing_docs, clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use based_rpc::PreconfBackend as _;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const CHAIN_ID: u64 = 4242;
const TO: Address = Address::repeat_byte(0x77);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// One signed transfer per sender, and the senders.
fn transfers(n: usize) -> Result<(Vec<Bytes>, Vec<Address>), BoxError> {
    let mut raws = Vec::with_capacity(n);
    let mut senders = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let signer = PrivateKeySigner::from_bytes(&keccak256((i + 1).to_be_bytes()))?;
        let tx = TxEip1559 {
            chain_id: CHAIN_ID,
            nonce: 0,
            gas_limit: 21_000,
            max_fee_per_gas: 10_000_000_000,
            max_priority_fee_per_gas: 1,
            to: TxKind::Call(TO),
            value: U256::from(1u64),
            ..Default::default()
        };
        let sig = signer.sign_hash_sync(&tx.signature_hash())?;
        raws.push(TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into());
        senders.push(signer.address());
    }
    Ok((raws, senders))
}

fn main() -> Result<(), BoxError> {
    let n: usize = env_or("BENCH_TXS", 2_800);
    let callers: usize = env_or("BENCH_CALLERS", 2).max(1);
    eprintln!("signing {n} transfers");
    let (raws, senders) = transfers(n)?;
    let balance = U256::from(10u64).pow(U256::from(21u64));

    // 1 and 2: one caller, snapshots along the way.
    let (_store, preconf) =
        based_node::test_utils::funded_preconf(CHAIN_ID, senders.clone(), balance)?;
    let checkpoints = [1usize, 10, 100, 500, 1_000, 1_500, 2_000, 2_500, n];
    let mut latencies = Vec::with_capacity(n);
    let mut snapshots = Vec::new();
    let started = Instant::now();
    let mut in_calls = Duration::ZERO;
    for (i, raw) in raws.iter().enumerate() {
        let t = Instant::now();
        let done = preconf.preconfirm(raw.clone(), 1, None)?;
        let took = t.elapsed();
        in_calls += took;
        if !done.added {
            return Err(format!("transfer {i} was not added").into());
        }
        latencies.push(took);
        if checkpoints.contains(&(i + 1)) {
            let t = Instant::now();
            let block = preconf.pending_block().ok_or("no pending block")?;
            let build = t.elapsed();
            let t = Instant::now();
            let _again = preconf.pending_block();
            let cached = t.elapsed();
            if block.body.transactions.len() != i + 1 {
                return Err("snapshot lost transactions".into());
            }
            snapshots.push((i + 1, build, cached));
            eprintln!("  {} / {n} preconfirmed", i + 1);
        }
    }
    let one_caller_wall = started.elapsed() - snapshots.iter().map(|s| s.1 + s.2).sum::<Duration>();
    let one_caller_rate = n as f64 / in_calls.as_secs_f64();
    drop(preconf);

    // 3: several callers on a fresh block.
    let (_store, preconf) = based_node::test_utils::funded_preconf(CHAIN_ID, senders, balance)?;
    let preconf = std::sync::Arc::new(preconf);
    let started = Instant::now();
    let handles: Vec<_> = (0..callers)
        .map(|c| {
            let preconf = std::sync::Arc::clone(&preconf);
            let mine: Vec<Bytes> = raws.iter().skip(c).step_by(callers).cloned().collect();
            std::thread::spawn(move || -> usize {
                mine.into_iter()
                    .filter(|raw| preconf.preconfirm(raw.clone(), 1, None).is_ok_and(|d| d.added))
                    .count()
            })
        })
        .collect();
    let mut added = 0;
    for h in handles {
        added += h.join().map_err(|_| "caller panicked")?;
    }
    let parallel_wall = started.elapsed();
    if added != n {
        return Err(format!("{callers} callers added {added} of {n}").into());
    }

    println!("\n## Pending block: {n} transfers into one 60M-gas block\n");
    println!("| block already holding | calls | p50 (ms) | p99 (ms) | max (ms) |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for lo in (0..n).step_by(500) {
        let hi = (lo + 500).min(n);
        let mut part = latencies[lo..hi].to_vec();
        part.sort();
        println!(
            "| {lo}-{} | {} | {} | {} | {} |",
            hi - 1,
            part.len(),
            ms(percentile(&part, 50.0)),
            ms(percentile(&part, 99.0)),
            ms(part.last().copied().unwrap_or_default())
        );
    }
    println!(
        "\nOne caller: {:.0} preconfirmations/s in calls ({:.0}/s wall, snapshots excluded); \
         {callers} callers: {:.0}/s wall.\n",
        one_caller_rate,
        n as f64 / one_caller_wall.as_secs_f64(),
        n as f64 / parallel_wall.as_secs_f64()
    );
    println!("| pending transactions | snapshot build (ms) | cached (ms) |");
    println!("| ---: | ---: | ---: |");
    for (size, build, cached) in snapshots {
        println!("| {size} | {} | {} |", ms(build), ms(cached));
    }
    Ok(())
}
