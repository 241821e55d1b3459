//! The blob sidecar format of proposal transactions.
//!
//! Until Osaka (the Fusaka upgrade) execution clients take blob transactions with an EIP-4844
//! sidecar: one KZG proof per blob. From Osaka on their pools take only the EIP-7594 form (network
//! wrapper version 1): 128 cell proofs per blob (PeerDAS). The blobs, commitments and versioned
//! hashes are the same, so what lands on L1, and derivation, do not change; only the proofs travel
//! differently.
//!
//! [`SidecarMode::Auto`] (the default) needs no fork schedule: it sends the format that worked
//! last (EIP-4844 at start) and, when the L1 answers the send with an error, converts the sidecar
//! and sends it once in the other format, keeping that format if it is accepted. So a proposer
//! crosses the fork without a restart, and on an L1 already past it pays one refused send.
//! `Eip4844` / `Eip7594` pin the format (no retry).

use alloy_eips::{eip4844::BlobTransactionSidecar, eip7594::BlobTransactionSidecarVariant};
use std::{
    fmt,
    future::Future,
    str::FromStr,
    sync::atomic::{AtomicU8, Ordering},
};
use tracing::warn;

/// How the proposer chooses the sidecar format (`--l1.blob-sidecar`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SidecarMode {
    /// The format that worked last, switching once when the L1 refuses a send.
    #[default]
    Auto,
    /// Always EIP-4844 (before Osaka).
    Eip4844,
    /// Always EIP-7594 cell proofs (from Osaka on).
    Eip7594,
}

impl FromStr for SidecarMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "eip4844" => Ok(Self::Eip4844),
            "eip7594" => Ok(Self::Eip7594),
            other => Err(format!("unknown blob sidecar format {other:?} (auto, eip4844, eip7594)")),
        }
    }
}

/// One sidecar format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SidecarFormat {
    /// One KZG proof per blob.
    Eip4844,
    /// `CELLS_PER_EXT_BLOB` (128) cell proofs per blob.
    Eip7594,
}

impl SidecarFormat {
    const fn other(self) -> Self {
        match self {
            Self::Eip4844 => Self::Eip7594,
            Self::Eip7594 => Self::Eip4844,
        }
    }
}

impl fmt::Display for SidecarFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Eip4844 => "EIP-4844",
            Self::Eip7594 => "EIP-7594",
        })
    }
}

/// The proposer's current choice (shared by its proposals).
#[derive(Debug)]
pub struct SidecarChooser {
    mode: SidecarMode,
    /// 0 = EIP-4844, 1 = EIP-7594.
    current: AtomicU8,
}

impl SidecarChooser {
    /// A chooser in `mode` (`Auto` starts with EIP-4844).
    pub const fn new(mode: SidecarMode) -> Self {
        let start = match mode {
            SidecarMode::Auto | SidecarMode::Eip4844 => 0,
            SidecarMode::Eip7594 => 1,
        };
        Self { mode, current: AtomicU8::new(start) }
    }

    /// The format the next send uses first.
    pub fn current(&self) -> SidecarFormat {
        if self.current.load(Ordering::Relaxed) == 0 {
            SidecarFormat::Eip4844
        } else {
            SidecarFormat::Eip7594
        }
    }

    fn set(&self, format: SidecarFormat) {
        let v = match format {
            SidecarFormat::Eip4844 => 0,
            SidecarFormat::Eip7594 => 1,
        };
        self.current.store(v, Ordering::Relaxed);
    }

    /// Sends with the current format (`send(format)`). In `Auto` mode, an error for which
    /// `refused` holds (the L1 answered, rather than failed to) is retried once in the other
    /// format; if that is accepted it becomes the current format. If both fail, the first error
    /// is returned.
    pub async fn send<T, E, F, Fut>(
        &self,
        mut send: F,
        refused: impl Fn(&E) -> bool,
    ) -> Result<T, E>
    where
        F: FnMut(SidecarFormat) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: fmt::Display,
    {
        let first = self.current();
        let error = match send(first).await {
            Ok(sent) => return Ok(sent),
            Err(e) if self.mode == SidecarMode::Auto && refused(&e) => e,
            Err(e) => return Err(e),
        };
        let other = first.other();
        match send(other).await {
            Ok(sent) => {
                warn!(target: "proposer", refused = %first, error = %error, now = %other, "the L1 refused the blob sidecar format; switched");
                self.set(other);
                Ok(sent)
            }
            Err(_) => Err(error),
        }
    }
}

/// Precomputation level of the KZG settings for cell proofs (c-kzg: 8 trades ~100 MB of tables,
/// built once, for proofs ~1.5x faster; `BASED_KZG_PRECOMPUTE` overrides it, 0..=15).
fn cell_settings() -> &'static c_kzg::KzgSettings {
    let precompute = std::env::var("BASED_KZG_PRECOMPUTE")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|p| *p <= 15)
        .unwrap_or(8);
    c_kzg::ethereum_kzg_settings(precompute)
}

/// `sidecar` in `format` (EIP-7594: the cell proofs computed with the Ethereum trusted setup, one
/// blob per core; ~0.1-0.5 s of CPU per blob, so callers run it off the async workers).
pub fn in_format(
    sidecar: BlobTransactionSidecar,
    format: SidecarFormat,
) -> Result<BlobTransactionSidecarVariant, String> {
    if format == SidecarFormat::Eip4844 {
        return Ok(BlobTransactionSidecarVariant::Eip4844(sidecar));
    }
    let settings = cell_settings();
    let BlobTransactionSidecar { blobs, commitments, proofs } = sidecar;
    let singles: Vec<BlobTransactionSidecar> = blobs
        .iter()
        .zip(&commitments)
        .zip(&proofs)
        .map(|((b, c), p)| BlobTransactionSidecar::new(vec![*b], vec![*c], vec![*p]))
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let per_thread = singles.len().div_ceil(threads.max(1)).max(1);
    let converted: Vec<Result<Vec<_>, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = singles
            .chunks(per_thread)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|one| {
                            one.clone()
                                .try_into_7594(settings)
                                .map(|s| s.cell_proofs)
                                .map_err(|e| format!("EIP-7594 cell proofs: {e}"))
                        })
                        .collect::<Result<Vec<_>, String>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("cell proof thread panicked".into())))
            .collect()
    });
    let mut cell_proofs = Vec::with_capacity(blobs.len().saturating_mul(128));
    for chunk in converted {
        for proofs in chunk? {
            cell_proofs.extend(proofs);
        }
    }
    Ok(BlobTransactionSidecarVariant::Eip7594(
        alloy_eips::eip7594::BlobTransactionSidecarEip7594::new(blobs, commitments, cell_proofs),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// An L1 that accepts only `accepts` (or fails to answer at all).
    async fn send_to(
        chooser: &SidecarChooser,
        accepts: Option<SidecarFormat>,
        log: &Mutex<Vec<SidecarFormat>>,
    ) -> Result<SidecarFormat, String> {
        chooser
            .send(
                |format| {
                    log.lock().unwrap().push(format);
                    async move {
                        match accepts {
                            Some(ok) if ok == format => Ok(format),
                            Some(_) => Err(format!("refused {format}")),
                            None => Err("connection refused".to_string()),
                        }
                    }
                },
                |e: &String| e.starts_with("refused"),
            )
            .await
    }

    #[tokio::test]
    async fn auto_switches_once_and_stays() {
        let chooser = SidecarChooser::new(SidecarMode::Auto);
        let log = Mutex::new(Vec::new());
        // Before the fork: EIP-4844, one send.
        assert_eq!(
            send_to(&chooser, Some(SidecarFormat::Eip4844), &log).await.unwrap(),
            SidecarFormat::Eip4844
        );
        // The fork: 4844 refused, 7594 accepted and kept.
        assert_eq!(
            send_to(&chooser, Some(SidecarFormat::Eip7594), &log).await.unwrap(),
            SidecarFormat::Eip7594
        );
        assert_eq!(chooser.current(), SidecarFormat::Eip7594);
        // After: 7594 first, no refused send.
        assert_eq!(
            send_to(&chooser, Some(SidecarFormat::Eip7594), &log).await.unwrap(),
            SidecarFormat::Eip7594
        );
        use SidecarFormat::{Eip4844 as A, Eip7594 as B};
        assert_eq!(*log.lock().unwrap(), vec![A, A, B, B]);
    }

    #[tokio::test]
    async fn transport_failures_and_double_refusals_do_not_switch() {
        let chooser = SidecarChooser::new(SidecarMode::Auto);
        let log = Mutex::new(Vec::new());
        // No answer: no retry in the other format.
        assert_eq!(send_to(&chooser, None, &log).await.unwrap_err(), "connection refused");
        assert_eq!(log.lock().unwrap().len(), 1);
        // Both refused (e.g. a nonce error): the first error, and no switch.
        let both = chooser
            .send(
                |f| async move { Err::<(), _>(format!("refused {f}")) },
                |e: &String| e.starts_with("refused"),
            )
            .await;
        assert_eq!(both.unwrap_err(), "refused EIP-4844");
        assert_eq!(chooser.current(), SidecarFormat::Eip4844);
    }

    #[tokio::test]
    async fn pinned_modes_never_retry() {
        for (mode, format) in [
            (SidecarMode::Eip4844, SidecarFormat::Eip4844),
            (SidecarMode::Eip7594, SidecarFormat::Eip7594),
        ] {
            let chooser = SidecarChooser::new(mode);
            let log = Mutex::new(Vec::new());
            assert!(send_to(&chooser, Some(format.other()), &log).await.is_err());
            assert_eq!(*log.lock().unwrap(), vec![format]);
        }
        assert_eq!("eip7594".parse(), Ok(SidecarMode::Eip7594));
        assert!("osaka".parse::<SidecarMode>().is_err());
    }

    /// The EIP-7594 form keeps blobs, commitments and versioned hashes (in order) and carries 128
    /// cell proofs per blob that verify, for a sidecar of several blobs split across threads.
    #[test]
    fn cell_proofs_verify() {
        let batch = based_primitives::test_utils::incompressible_batch(1, 4_000);
        let sidecar = crate::encode_sidecar(&batch).unwrap();
        assert!(sidecar.blobs.len() >= 3, "{} blobs", sidecar.blobs.len());
        let hashes: Vec<_> = sidecar.versioned_hashes().collect();
        let blobs = sidecar.blobs.clone();
        let BlobTransactionSidecarVariant::Eip7594(s) =
            in_format(sidecar, SidecarFormat::Eip7594).unwrap()
        else {
            panic!("not EIP-7594");
        };
        assert_eq!(s.blobs, blobs);
        assert_eq!(s.versioned_hashes().collect::<Vec<_>>(), hashes);
        assert_eq!(s.cell_proofs.len(), s.blobs.len() * 128);
        s.validate(&hashes, c_kzg::ethereum_kzg_settings(0)).unwrap();
        // Proofs in another blob order do not verify: the order is checked.
        let mut swapped = s;
        swapped.cell_proofs.rotate_left(128);
        assert!(swapped.validate(&hashes, c_kzg::ethereum_kzg_settings(0)).is_err());
    }
}
