//! Capability traits: the only way the derivation reaches data it was not handed directly.

use crate::{
    error::{BlobProviderError, QueueProviderError},
    input::L1BlockRef,
    state::{PendingDeposit, PendingForcedTx},
};
use alloy_eips::eip4844::Blob;
use alloy_primitives::B256;
use based_primitives::Batch;
use std::sync::Arc;

/// Supplies the blobs of a proposal. Blobs are shared (`Arc`): they are 128 KiB each and must not be
/// copied through the stack.
///
/// Implementations MUST return exactly one blob per requested versioned hash, in request order, and
/// MUST only return blobs whose KZG commitment hashes to the requested versioned hash (verified by
/// the provider, e.g. with the blob sidecar's commitment and proof). A blob that is not available
/// (yet) is [`BlobProviderError::Unavailable`] — never "skip": skipping is decided by the protocol,
/// not by data availability at one node.
pub trait BlobProvider {
    /// Blobs with the given versioned hashes, carried by a transaction of L1 block `block`.
    fn blobs(
        &self,
        block: &L1BlockRef,
        hashes: &[B256],
    ) -> Result<Vec<Arc<Blob>>, BlobProviderError>;
}

impl<T: BlobProvider + ?Sized> BlobProvider for &T {
    fn blobs(
        &self,
        block: &L1BlockRef,
        hashes: &[B256],
    ) -> Result<Vec<Arc<Blob>>, BlobProviderError> {
        (**self).blobs(block, hashes)
    }
}

/// Why a proposal's blobs did not yield a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeFailure {
    /// The posted data is invalid (protocol §3/§4.1): the proposal is skipped.
    #[error("invalid batch data: {0}")]
    InvalidData(String),
    /// The blobs are not the ones L1 committed to (or the KZG library failed): the blob source is
    /// faulty; the L1 block is retried ([`crate::Severity::Temporary`]), never skipped.
    #[error("blob source fault: {0}")]
    Source(String),
}

/// Decodes the (already verified) blobs of one proposal into a [`Batch`] (protocol §3).
///
/// Must be a pure, deterministic function of its input. [`DecodeFailure::InvalidData`] makes the
/// derivation skip the proposal; [`DecodeFailure::Source`] makes it fail with a temporary error.
pub trait BatchDecoder {
    /// Decodes `blobs` (in blob order; `hashes` are their versioned hashes) into a batch.
    fn decode_batch(&self, hashes: &[B256], blobs: &[Arc<Blob>]) -> Result<Batch, DecodeFailure>;
}

impl<T: BatchDecoder + ?Sized> BatchDecoder for &T {
    fn decode_batch(&self, hashes: &[B256], blobs: &[Arc<Blob>]) -> Result<Batch, DecodeFailure> {
        (**self).decode_batch(hashes, blobs)
    }
}

/// Reads the queued deposits and forced transactions (protocol §6.2, §6.3) that the state's
/// cursors point to ([`crate::DerivationState::pending_deposit_ids`],
/// [`crate::DerivationState::pending_forced_ids`]).
///
/// Entries are queued once, by the L1 block that emitted them ([`crate::DeriveOutput::queued`]);
/// the node stores them append-only keyed by id (an L1 reorg rewrites the ids the new branch
/// queues again) and implements this trait over its store, so the derivation itself does no I/O.
/// Implementations MUST return the entry stored under `id` (`None` if there is none): the
/// derivation checks ids and order and treats a missing pending entry as critical.
pub trait QueueProvider {
    /// The deposit with id `id`.
    fn deposit(&self, id: u64) -> Result<Option<PendingDeposit>, QueueProviderError>;

    /// The forced-inclusion transaction with id `id`.
    fn forced_tx(&self, id: u64) -> Result<Option<PendingForcedTx>, QueueProviderError>;
}

impl<T: QueueProvider + ?Sized> QueueProvider for &T {
    fn deposit(&self, id: u64) -> Result<Option<PendingDeposit>, QueueProviderError> {
        (**self).deposit(id)
    }

    fn forced_tx(&self, id: u64) -> Result<Option<PendingForcedTx>, QueueProviderError> {
        (**self).forced_tx(id)
    }
}
