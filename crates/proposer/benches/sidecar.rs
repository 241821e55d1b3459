//! What EIP-7594 cell proofs cost a proposal: converting a batch's EIP-4844 sidecar (one proof per
//! blob) into the EIP-7594 form (128 cell proofs per blob) that L1s past Osaka require.
//!
//! `cargo bench -p based-proposer --bench sidecar` (runs: `BENCH_RUNS`, default 5). Prints the
//! median per blob count, next to the EIP-4844 encoding of the same batch (the anchor).

#![allow(clippy::print_stdout, missing_docs)]

use based_proposer::sidecar::{SidecarFormat, in_format};
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn main() {
    let runs = std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(5usize);
    let _ = based_proposer::warm_up_sidecar();
    println!(
        "| blobs | EIP-4844 sidecar (encode, commit, prove) | + EIP-7594 cell proofs | cell proofs per blob |"
    );
    println!("| ---: | ---: | ---: | ---: |");
    for blobs in [1usize, 3, 6] {
        let b = based_primitives::test_utils::incompressible_batch(1, blobs as u32 * 1_300);
        let (mut encode, mut convert) = (Vec::new(), Vec::new());
        let mut count = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let sidecar = based_proposer::encode_sidecar(&b).expect("encodes");
            encode.push(t.elapsed());
            count = sidecar.blobs.len();
            let t = Instant::now();
            let _ = in_format(sidecar, SidecarFormat::Eip7594).expect("cell proofs");
            convert.push(t.elapsed());
        }
        let c = median(convert);
        println!(
            "| {count} | {:.0} ms | {:.0} ms | {:.0} ms |",
            median(encode).as_secs_f64() * 1e3,
            c.as_secs_f64() * 1e3,
            c.as_secs_f64() * 1e3 / count.max(1) as f64
        );
    }
}
