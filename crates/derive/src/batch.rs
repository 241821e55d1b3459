//! Stage 3: proposal data — fetches a proposal's blobs and decodes its batch (protocol §7.3).

use crate::{
    config::DeriveConfig,
    error::DeriveError,
    input::{L1BlockRef, ProposedEvent},
    traits::{BatchDecoder, BlobProvider, DecodeFailure},
};
use based_primitives::Batch;

/// Why a whole proposal yields no manifests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposalInvalid {
    /// The event names no blobs.
    #[error("proposal has no blobs")]
    NoBlobs,
    /// The blobs do not decode to a batch (protocol §3/§4.1).
    #[error("batch rejected: {0}")]
    Batch(String),
    /// The batch is for another L2 chain.
    #[error("batch for chain {0}")]
    WrongChainId(u64),
}

/// Fetches and decodes the batch of `proposal`.
///
/// Outer `Err`: the node cannot proceed (e.g. blob not available: temporary). Inner `Err`: the data
/// is invalid and the proposal is skipped.
pub fn load_batch<B: BlobProvider, D: BatchDecoder>(
    cfg: &DeriveConfig,
    l1: &L1BlockRef,
    proposal: &ProposedEvent,
    blobs: &B,
    decoder: &D,
) -> Result<Result<Batch, ProposalInvalid>, DeriveError> {
    if proposal.blob_hashes.is_empty() {
        return Ok(Err(ProposalInvalid::NoBlobs));
    }
    let data = blobs
        .blobs(l1, &proposal.blob_hashes)
        .map_err(|source| DeriveError::Blob { proposal_id: proposal.id, source })?;
    if data.len() != proposal.blob_hashes.len() {
        return Err(DeriveError::BlobCountMismatch {
            proposal_id: proposal.id,
            expected: proposal.blob_hashes.len(),
            got: data.len(),
        });
    }
    let batch = match decoder.decode_batch(&proposal.blob_hashes, &data) {
        Ok(batch) => batch,
        Err(DecodeFailure::InvalidData(reason)) => return Ok(Err(ProposalInvalid::Batch(reason))),
        Err(DecodeFailure::Source(reason)) => {
            return Err(DeriveError::BlobSource { proposal_id: proposal.id, reason });
        }
    };
    if batch.chain_id != cfg.l2_chain_id {
        return Ok(Err(ProposalInvalid::WrongChainId(batch.chain_id)));
    }
    Ok(Ok(batch))
}
