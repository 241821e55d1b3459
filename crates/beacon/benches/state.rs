//! What a lookahead contest costs on a mainnet-sized `BeaconState`: decode the SSZ a consensus
//! client serves, hash its 38 fields into the prover, build the two branches (the contest's path:
//! decode + `into_prover` + branches).
//!
//! `cargo bench -p based-beacon --bench state` (validators: `BENCH_VALIDATORS`, default 1,000,000;
//! runs: `BENCH_RUNS`, default 3). Prints the median of each step.

#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

use alloy_primitives::{B256, FixedBytes};
use based_beacon::{
    ssz::Validator,
    state::{BeaconState, StateParams, SyncCommittee},
};
use std::time::{Duration, Instant};

fn env_or(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A mainnet-preset state with `n` active validators (distinct keys) and a full lookahead.
fn state(p: &StateParams, n: usize) -> BeaconState {
    let key = |i: usize| {
        let mut k = [0u8; 48];
        k[..8].copy_from_slice(&(i as u64).to_le_bytes());
        k[47] = 0xaa;
        k
    };
    let committee = SyncCommittee {
        pubkeys: (0..p.sync_committee_size).map(|i| FixedBytes(key(i))).collect(),
        aggregate_pubkey: FixedBytes::ZERO,
    };
    BeaconState {
        slot: 12_345_678,
        block_roots: (0..p.slots_per_historical_root)
            .map(|i| B256::with_last_byte(i as u8))
            .collect(),
        state_roots: vec![B256::repeat_byte(2); p.slots_per_historical_root],
        randao_mixes: vec![B256::repeat_byte(3); p.epochs_per_historical_vector],
        slashings: vec![0; p.epochs_per_slashings_vector],
        validators: (0..n).map(|i| Validator::active(key(i))).collect(),
        balances: vec![32_000_000_000; n],
        previous_epoch_participation: vec![7; n],
        current_epoch_participation: vec![7; n],
        inactivity_scores: vec![0; n],
        current_sync_committee: committee.clone(),
        next_sync_committee: committee,
        proposer_lookahead: (0..p.lookahead_len() as u64).map(|i| i * 7919 % n as u64).collect(),
        ..BeaconState::default()
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn main() {
    let n = env_or("BENCH_VALIDATORS", 1_000_000);
    let runs = env_or("BENCH_RUNS", 3).max(1);
    let p = StateParams::mainnet();
    eprintln!("building a mainnet-preset state with {n} validators");
    let bytes = state(&p, n).to_ssz_bytes(&p).expect("encodes");
    let (mut decode, mut roots, mut prover, mut proofs) = (vec![], vec![], vec![], vec![]);
    for run in 1..=runs {
        eprintln!("run {run}/{runs}");
        let t = Instant::now();
        let s = BeaconState::from_ssz_bytes(&bytes, &p).expect("decodes");
        decode.push(t.elapsed());
        let t = Instant::now();
        let root = s.root(&p).expect("hashes");
        roots.push(t.elapsed());
        let t = Instant::now();
        let pr = s.into_prover(&p).expect("prover");
        prover.push(t.elapsed());
        assert_eq!(pr.state_root(), root);
        let t = Instant::now();
        let l = pr.lookahead_proof(40).expect("lookahead proof");
        let k = pr.pubkey_proof(l.validator_index).expect("pubkey proof");
        proofs.push(t.elapsed());
        assert_eq!(k.branch.len(), 50);
    }
    println!("| step ({n} validators, {} MB of SSZ) | median of {runs} |", bytes.len() >> 20);
    println!("| --- | ---: |");
    for (name, times) in [
        ("decode the SSZ", decode),
        ("`root()`: hash the 38 fields (for reference; the contest does not call it)", roots),
        ("`into_prover()`: the 38 field roots, validators hashed once", prover),
        ("lookahead + pubkey branches", proofs),
    ] {
        println!("| {name} | {:.2} s |", median(times).as_secs_f64());
    }
}
