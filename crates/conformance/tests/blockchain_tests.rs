//! Ethereum BlockchainTests conformance run (custom harness).
//!
//! Fixture directory: first non-flag argument, else `$BASED_FIXTURES`, else
//! `<repo>/../shared/fixtures/blockchain-tests`. Threads: `$BASED_CONFORMANCE_THREADS` (default 2).
//! Fails (exit 1) on any failure not listed in `crates/conformance/excluded.txt`, and when it
//! executed fewer tests than `crates/conformance/expected.txt` requires for the set it ran (`full`
//! for an explicit directory, `subset` otherwise; `$BASED_CONFORMANCE_MIN_TESTS` overrides, never
//! below 1), so an empty or missing fixture directory never prints "ok".
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::{collections::BTreeMap, path::PathBuf, process::ExitCode, time::Instant};

use based_conformance::{
    FixtureSet, Outcome, check_count, executed_count, load_exclusions, parse_expected, run_dir,
};

#[cfg(unix)]
fn symlink_dir(src: &std::path::Path, dst: &std::path::Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(src, dst)
}

#[cfg(not(unix))]
fn symlink_dir(_src: &std::path::Path, _dst: &std::path::Path) -> std::io::Result<()> {
    Err(std::io::Error::other("subset run needs unix symlinks"))
}

fn main() -> ExitCode {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let arg = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let explicit =
        arg.map(PathBuf::from).or_else(|| std::env::var_os("BASED_FIXTURES").map(PathBuf::from));
    let default_dir = manifest.join("../../../shared/fixtures/blockchain-tests");
    // Unoptimised builds (plain `cargo test`) without an explicit directory run only the multi-block
    // ValidBlocks/InvalidBlocks sets; `make conformance` (profile ci) runs everything.
    let mut subset_dir = None;
    let dir = match explicit {
        Some(d) => d,
        None if cfg!(debug_assertions)
            && default_dir.join("BlockchainTests/ValidBlocks").is_dir() =>
        {
            let sub = std::env::temp_dir()
                .join(format!("based-conformance-subset-{}", std::process::id()));
            let _ = std::fs::create_dir_all(&sub);
            for set in ["ValidBlocks", "InvalidBlocks"] {
                let _ = symlink_dir(&default_dir.join("BlockchainTests").join(set), &sub.join(set));
            }
            subset_dir = Some(sub.clone());
            sub
        }
        None => default_dir,
    };
    if !dir.is_dir() {
        eprintln!(
            "conformance: fixture directory {} not found (set BASED_FIXTURES)",
            dir.display()
        );
        return ExitCode::FAILURE;
    }
    let threads =
        std::env::var("BASED_CONFORMANCE_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(2);
    let excluded = load_exclusions(&manifest.join("excluded.txt"));
    let set = if subset_dir.is_some() { FixtureSet::Subset } else { FixtureSet::Full };
    let minimum = match std::env::var("BASED_CONFORMANCE_MIN_TESTS") {
        Ok(v) => match v.parse::<usize>() {
            Ok(n) => n,
            Err(e) => {
                eprintln!("conformance: BASED_CONFORMANCE_MIN_TESTS={v}: {e}");
                return ExitCode::FAILURE;
            }
        },
        Err(_) => match std::fs::read_to_string(manifest.join("expected.txt"))
            .map_err(|e| e.to_string())
            .and_then(|t| parse_expected(&t))
        {
            Ok(counts) => counts.minimum(set),
            Err(e) => {
                eprintln!("conformance: crates/conformance/expected.txt: {e}");
                return ExitCode::FAILURE;
            }
        },
    };

    let start = Instant::now();
    let results = run_dir(&dir, threads);
    if let Some(sub) = subset_dir {
        let _ = std::fs::remove_dir_all(sub);
    }
    let results = match results {
        Ok(r) => r,
        Err(e) => {
            eprintln!("conformance: reading {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    };
    // network -> (pass, total, excluded failures, unsupported)
    let mut per_fork: BTreeMap<String, (usize, usize, usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for r in &results {
        let e = per_fork.entry(r.network.clone()).or_default();
        match &r.outcome {
            Outcome::Pass => {
                e.0 += 1;
                e.1 += 1;
            }
            Outcome::Unsupported(_) => e.3 += 1,
            Outcome::Fail(msg) => {
                e.1 += 1;
                if excluded.contains(&r.name) {
                    e.2 += 1;
                } else {
                    failures.push(format!("{} :: {}: {msg}", r.file.display(), r.name));
                }
            }
        }
    }
    println!(
        "conformance: {} tests from {} in {:.1?}",
        results.len(),
        dir.display(),
        start.elapsed()
    );
    for (fork, (pass, total, excl, unsup)) in &per_fork {
        println!("  {fork}: {pass}/{total} passed ({excl} excluded failures, {unsup} unsupported)");
    }
    for f in &failures {
        println!("FAIL {f}");
    }
    let executed = executed_count(&results);
    if let Err(e) = check_count(executed, minimum) {
        println!("conformance: {e} ({set:?} set, {})", dir.display());
        return ExitCode::FAILURE;
    }
    if failures.is_empty() {
        println!("conformance: ok ({executed} executed, minimum {minimum})");
        ExitCode::SUCCESS
    } else {
        println!("conformance: {} unexpected failures", failures.len());
        ExitCode::FAILURE
    }
}
