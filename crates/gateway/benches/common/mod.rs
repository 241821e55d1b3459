//! Helpers shared by the gateway benchmarks (`commit_log`, `gateway_http`).

use std::{
    error::Error,
    io::Write,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

/// The benchmarks' error type.
pub(crate) type BoxError = Box<dyn Error + Send + Sync>;

/// A progress or result line on stderr.
pub(crate) fn log(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The `p`-th percentile (nearest rank) of `sorted`.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Milliseconds with two decimals.
pub(crate) fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

/// The repository's target directory: the same disk as the repository (not tmpfs).
pub(crate) fn bench_dir() -> Result<PathBuf, BoxError> {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tmp");
    std::fs::create_dir_all(&base)?;
    Ok(base)
}

/// `fdatasync` latency of `n` 512-byte appends to a fresh file in `dir`, sorted.
pub(crate) fn time_fsyncs(dir: &Path, n: usize) -> Result<Vec<Duration>, BoxError> {
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    let mut file = tmp.as_file().try_clone()?;
    let record = [0xabu8; 512];
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        file.write_all(&record)?;
        file.sync_data()?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times)
}

/// Latency of `n` secp256k1 signatures of distinct 32-byte digests by `signer`, sorted.
pub(crate) fn time_signs(
    signer: &dyn alloy_signer::SignerSync,
    n: u64,
) -> Result<Vec<Duration>, BoxError> {
    let mut times = Vec::with_capacity(usize::try_from(n).unwrap_or_default());
    for i in 0..n {
        let digest = alloy_primitives::keccak256(i.to_be_bytes());
        let start = Instant::now();
        let sig = signer.sign_hash_sync(&digest)?;
        times.push(start.elapsed());
        std::hint::black_box(sig);
    }
    times.sort();
    Ok(times)
}

/// The 1-minute load average (the machine is shared).
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default()
}
