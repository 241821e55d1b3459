//! KZG commitments, proofs and versioned hashes (EIP-4844) with c-kzg and the Ethereum trusted
//! setup (protocol §3.5).

use crate::DecodeError;
use alloy_eips::eip4844::{Blob, BlobTransactionSidecar, Bytes48, kzg_to_versioned_hash};
use alloy_primitives::B256;
use c_kzg::KzgSettings;

/// The Ethereum mainnet KZG trusted setup (loaded once, shared).
pub fn kzg_settings() -> &'static KzgSettings {
    c_kzg::ethereum_kzg_settings(0)
}

fn to_ckzg(blob: &Blob) -> c_kzg::Blob {
    c_kzg::Blob::new(blob.0)
}

fn to_ckzg_blobs(blobs: &[Blob]) -> Vec<c_kzg::Blob> {
    blobs.iter().map(to_ckzg).collect()
}

/// Computes commitments and blob proofs for `blobs`.
pub fn sidecar_from_blobs(blobs: Vec<Blob>) -> Result<BlobTransactionSidecar, c_kzg::Error> {
    let settings = kzg_settings();
    let mut commitments = Vec::with_capacity(blobs.len());
    let mut proofs = Vec::with_capacity(blobs.len());
    for blob in &blobs {
        let b = to_ckzg(blob);
        let commitment = settings.blob_to_kzg_commitment(&b)?.to_bytes();
        let proof = settings.compute_blob_kzg_proof(&b, &commitment)?.to_bytes();
        commitments.push(Bytes48::from(commitment.into_inner()));
        proofs.push(Bytes48::from(proof.into_inner()));
    }
    Ok(BlobTransactionSidecar { blobs, commitments, proofs })
}

/// The versioned hash of a commitment: `0x01 || sha256(commitment)[1..]`.
pub fn versioned_hash(commitment: &Bytes48) -> B256 {
    kzg_to_versioned_hash(commitment.as_slice())
}

/// Computes the commitment of each blob and checks it against the versioned hashes
/// (the path for sources that return blobs only, e.g. beacon `/eth/v1/beacon/blobs/{id}`).
/// All failures are source errors.
pub fn verify_blobs_by_commitment(
    blobs: &[Blob],
    versioned_hashes: &[B256],
) -> Result<(), DecodeError> {
    if blobs.len() != versioned_hashes.len() {
        return Err(DecodeError::CountMismatch {
            blobs: blobs.len(),
            expected: versioned_hashes.len(),
        });
    }
    let settings = kzg_settings();
    for (index, (blob, hash)) in blobs.iter().zip(versioned_hashes).enumerate() {
        let c = settings
            .blob_to_kzg_commitment(&to_ckzg(blob))
            .map_err(|e| DecodeError::Kzg(format!("blob {index}: {e:?}")))?;
        if versioned_hash(&Bytes48::from(c.to_bytes().into_inner())) != *hash {
            return Err(DecodeError::VersionedHashMismatch { index });
        }
    }
    Ok(())
}

/// Checks each commitment against its versioned hash, then batch-verifies the blob proofs
/// (`verify_blob_kzg_proof_batch`): the path for sidecars (beacon `blob_sidecars`).
/// All failures are source errors.
pub fn verify_sidecar(
    blobs: &[Blob],
    commitments: &[Bytes48],
    proofs: &[Bytes48],
    versioned_hashes: &[B256],
) -> Result<(), DecodeError> {
    let n = versioned_hashes.len();
    for len in [blobs.len(), commitments.len(), proofs.len()] {
        if len != n {
            return Err(DecodeError::CountMismatch { blobs: len, expected: n });
        }
    }
    for (index, (c, hash)) in commitments.iter().zip(versioned_hashes).enumerate() {
        if versioned_hash(c) != *hash {
            return Err(DecodeError::VersionedHashMismatch { index });
        }
    }
    verify_proofs(blobs, commitments, proofs)
}

/// Batch-verifies blob KZG proofs against commitments (no versioned-hash check).
pub fn verify_proofs(
    blobs: &[Blob],
    commitments: &[Bytes48],
    proofs: &[Bytes48],
) -> Result<(), DecodeError> {
    let cb = to_ckzg_blobs(blobs);
    let cc: Vec<c_kzg::Bytes48> = commitments.iter().map(|c| c_kzg::Bytes48::new(c.0)).collect();
    let cp: Vec<c_kzg::Bytes48> = proofs.iter().map(|p| c_kzg::Bytes48::new(p.0)).collect();
    match kzg_settings().verify_blob_kzg_proof_batch(&cb, &cc, &cp) {
        Ok(true) => Ok(()),
        Ok(false) => Err(DecodeError::InvalidKzgProof),
        Err(e) => Err(DecodeError::Kzg(format!("{e:?}"))),
    }
}
