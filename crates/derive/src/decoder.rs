//! The production [`BatchDecoder`]: the `based-blob` codec (protocol §3).

use crate::traits::{BatchDecoder, DecodeFailure};
use alloy_eips::eip4844::Blob;
use alloy_primitives::B256;
use based_blob::{DecodeError, ErrorClass};
use based_primitives::Batch;
use std::sync::Arc;

/// Decodes proposals with `based_blob`, mapping its error classes: `InvalidData` → skip,
/// `Source` → temporary error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobCodecDecoder {
    verify_commitments: bool,
}

impl BlobCodecDecoder {
    /// Recomputes every blob's KZG commitment and checks it against the versioned hash before
    /// decoding (use when the [`crate::BlobProvider`] does not verify).
    pub const fn verifying() -> Self {
        Self { verify_commitments: true }
    }

    /// Trusts the [`crate::BlobProvider`] to have verified the blobs against their versioned
    /// hashes (it must, per its contract); only the blob count is checked.
    pub const fn trusting() -> Self {
        Self { verify_commitments: false }
    }
}

impl Default for BlobCodecDecoder {
    fn default() -> Self {
        Self::verifying()
    }
}

fn classify(e: DecodeError) -> DecodeFailure {
    match e.class() {
        ErrorClass::InvalidData => DecodeFailure::InvalidData(e.to_string()),
        ErrorClass::Source => DecodeFailure::Source(e.to_string()),
    }
}

impl BatchDecoder for BlobCodecDecoder {
    /// Same steps and error classes as `based_blob::decode_batch_from_blobs` (verifying) and
    /// `based_blob::decode_batch_unverified`, but reading the shared blobs in place.
    fn decode_batch(&self, hashes: &[B256], blobs: &[Arc<Blob>]) -> Result<Batch, DecodeFailure> {
        based_blob::packing::check_blob_count(hashes.len()).map_err(classify)?;
        if blobs.len() != hashes.len() {
            return Err(classify(DecodeError::CountMismatch {
                blobs: blobs.len(),
                expected: hashes.len(),
            }));
        }
        if self.verify_commitments {
            for (blob, hash) in blobs.iter().zip(hashes) {
                based_blob::kzg::verify_blobs_by_commitment(
                    std::slice::from_ref(&**blob),
                    std::slice::from_ref(hash),
                )
                .map_err(classify)?;
            }
        }
        let mut stream = Vec::new();
        for (i, blob) in blobs.iter().enumerate() {
            based_blob::packing::unpack_blob(blob, i, &mut stream).map_err(classify)?;
        }
        based_blob::decode_stream(&stream).map_err(classify)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use based_blob::encode_batch;
    use based_primitives::test_utils::realistic_batch;

    #[test]
    fn verifying_decoder_roundtrips_and_flags_source_faults() {
        let batch = realistic_batch(1, 3, 4);
        let enc = encode_batch(&batch).unwrap();
        let blobs: Vec<Arc<Blob>> = enc.sidecar.blobs.iter().map(|b| Arc::new(*b)).collect();
        let dec = BlobCodecDecoder::verifying();
        assert_eq!(dec.decode_batch(&enc.versioned_hashes, &blobs), Ok(batch.clone()));
        assert_eq!(
            BlobCodecDecoder::trusting().decode_batch(&enc.versioned_hashes, &blobs),
            Ok(batch)
        );

        let mut wrong = enc.versioned_hashes;
        wrong[0] = B256::repeat_byte(1);
        assert!(matches!(dec.decode_batch(&wrong, &blobs), Err(DecodeFailure::Source(_))));
        assert!(matches!(
            BlobCodecDecoder::trusting().decode_batch(&vec![B256::ZERO; blobs.len() + 1], &blobs),
            Err(DecodeFailure::Source(_))
        ));
    }

    #[test]
    fn matches_the_blob_crate_on_valid_and_invalid_input() {
        let batch = realistic_batch(2, 2, 3);
        let blobs = based_blob::encode_batch_to_blobs(&batch, 3).unwrap();
        let arcs: Vec<Arc<Blob>> = blobs.iter().map(|b| Arc::new(*b)).collect();
        let hashes = vec![B256::ZERO; blobs.len()];
        assert_eq!(BlobCodecDecoder::trusting().decode_batch(&hashes, &arcs), Ok(batch));
        // Corrupt a byte of the payload area: both paths agree on the outcome.
        let mut bad = blobs;
        bad[0][40] ^= 0x01;
        let ours = BlobCodecDecoder::trusting().decode_batch(&hashes, &[Arc::new(bad[0])]);
        let theirs = based_blob::decode_batch_unverified(&bad);
        assert_eq!(ours.is_ok(), theirs.is_ok());
        // Too many blobs is a data error.
        let seven: Vec<Arc<Blob>> =
            (0..=based_blob::MAX_BLOBS_PER_BATCH).map(|_| Arc::new(Blob::ZERO)).collect();
        let r = BlobCodecDecoder::trusting().decode_batch(&vec![B256::ZERO; seven.len()], &seven);
        assert!(matches!(r, Err(DecodeFailure::InvalidData(_))));
    }

    #[test]
    fn garbage_is_invalid_data() {
        let mut blob = Blob::ZERO;
        blob[1] = 0x77; // unknown payload version / garbage
        let r = BlobCodecDecoder::trusting().decode_batch(&[B256::ZERO], &[Arc::new(blob)]);
        assert!(matches!(r, Err(DecodeFailure::InvalidData(_))), "{r:?}");
    }
}
