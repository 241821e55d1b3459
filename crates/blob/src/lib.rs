//! Consensus-critical blob codec of the `based` rollup (protocol §3, §4.1).
//!
//! Encoding: [`Batch`] → canonical RLP → versioned, compressed payload
//! (`version || u24be(len) || body`) → zero-padded byte stream → EIP-4844 blobs with 254 bits per
//! field element (130048 bytes per blob) → sidecar (KZG commitments, proofs, versioned hashes).
//!
//! Decoding runs the same steps backwards and is strict: every byte of every blob is determined by
//! the batch payload (canonical field elements, minimal blob count, zero padding, one zstd frame
//! with nothing after it, canonical RLP with nothing after it), sizes are capped by the protocol
//! constants before any allocation, and no input makes it panic.
//!
//! Errors say who is at fault ([`DecodeError::class`]): [`ErrorClass::InvalidData`] means the
//! proposer posted a bad batch and derivation skips it (protocol §4.1); [`ErrorClass::Source`]
//! means the blobs do not match what L1 committed to (wrong versioned hash, bad KZG proof, wrong
//! count) — that cannot happen for blobs really included on L1, so the blob source is faulty and
//! the caller must retry elsewhere, never skip.
#![cfg_attr(
    not(test),
    deny(
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

pub mod kzg;
pub mod packing;
pub mod payload;

pub use alloy_eips::eip4844::{Blob, BlobTransactionSidecar, Bytes48};
use alloy_primitives::B256;
pub use based_primitives::{Batch, BatchDecodeError, BlockManifest, L1Anchor};
pub use payload::{
    DEFAULT_ZSTD_LEVEL, MAX_PAYLOAD_BODY_BYTES, PAYLOAD_VERSION_RAW, PAYLOAD_VERSION_ZSTD,
    STREAM_HEADER_BYTES, decode_payload, decode_stream, encode_payload,
};

/// Bytes in an EIP-4844 blob.
pub const BYTES_PER_BLOB: usize = 131_072;
/// Stream bytes carried per blob: 4096 field elements × 254 bits.
pub const USABLE_BYTES_PER_BLOB: usize = 130_048;
/// Maximum blobs one batch may span (the EIP-7594 per-transaction blob limit).
pub const MAX_BLOBS_PER_BATCH: usize = 6;
/// Maximum size of the (decompressed) batch RLP: 8 MiB.
pub const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

/// Who is at fault for a [`DecodeError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The posted data is invalid: skip the batch as protocol §4.1 says.
    InvalidData,
    /// The blobs handed to the decoder are not the ones L1 committed to, or the KZG library
    /// failed: retry with another source; never skip.
    Source,
}

/// Strict zstd decoding failures (all [`ErrorClass::InvalidData`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecompressError {
    /// The body does not start with the zstd frame magic number.
    #[error("body is not a zstd frame")]
    NotAZstdFrame,
    /// zstd rejected the frame (corrupt data, window above the limit, dictionary required, ...).
    #[error("corrupt zstd frame: {0}")]
    Corrupt(&'static str),
    /// The frame ends before it is complete.
    #[error("truncated zstd frame")]
    Truncated,
    /// Bytes follow the end of the frame.
    #[error("{bytes} bytes after the zstd frame")]
    TrailingData {
        /// Number of trailing bytes.
        bytes: usize,
    },
    /// The frame decompresses to more than the maximum batch size.
    #[error("decompressed batch exceeds {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// zstd context setup failed (should not happen).
    #[error("zstd internal error: {0}")]
    Internal(&'static str),
}

/// Why blobs could not be decoded into a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// No blobs.
    #[error("no blobs")]
    NoBlobs,
    /// More than [`MAX_BLOBS_PER_BATCH`] blobs.
    #[error("{count} blobs exceed the maximum of {MAX_BLOBS_PER_BATCH}")]
    TooManyBlobs {
        /// Number of blobs.
        count: usize,
    },
    /// A field element has one of its two top bits set.
    #[error("blob {blob} field element {index} has its top bits set")]
    NonCanonicalFieldElement {
        /// Blob index.
        blob: usize,
        /// Field element index in the blob.
        index: usize,
    },
    /// Unknown payload version byte.
    #[error("unknown payload version {0:#04x}")]
    UnknownVersion(u8),
    /// The payload length is zero.
    #[error("empty payload")]
    EmptyPayload,
    /// The payload length does not fit the blobs (or the exact payload).
    #[error("payload length {len} does not fit the available {capacity} bytes")]
    PayloadLengthOutOfRange {
        /// Declared length.
        len: usize,
        /// Available bytes.
        capacity: usize,
    },
    /// More blobs than the payload needs.
    #[error("{blobs} blobs but the payload needs {needed}")]
    NonMinimalBlobCount {
        /// Blobs given.
        blobs: usize,
        /// Blobs needed.
        needed: usize,
    },
    /// A non-zero byte after the payload.
    #[error("non-zero padding at stream offset {offset}")]
    NonZeroPadding {
        /// Offset in the stream.
        offset: usize,
    },
    /// Decompression failed.
    #[error("decompression failed: {0}")]
    Decompress(DecompressError),
    /// The decompressed bytes are not a valid batch.
    #[error("invalid batch: {0}")]
    Batch(BatchDecodeError),
    /// Source: the number of blobs (or commitments, proofs) differs from the versioned hashes.
    #[error("got {blobs} items for {expected} versioned hashes")]
    CountMismatch {
        /// Items given.
        blobs: usize,
        /// Versioned hashes.
        expected: usize,
    },
    /// Source: a blob's commitment does not match the versioned hash L1 committed to.
    #[error("blob {index} does not match its versioned hash")]
    VersionedHashMismatch {
        /// Blob index.
        index: usize,
    },
    /// Source: the KZG proofs do not verify.
    #[error("invalid KZG proof")]
    InvalidKzgProof,
    /// Source: the KZG library rejected its input (e.g. a field element >= the modulus).
    #[error("kzg: {0}")]
    Kzg(String),
}

impl DecodeError {
    /// Whether the data is bad (skip per spec) or the blob source/environment is.
    pub const fn class(&self) -> ErrorClass {
        match self {
            Self::CountMismatch { .. }
            | Self::VersionedHashMismatch { .. }
            | Self::InvalidKzgProof
            | Self::Kzg(_) => ErrorClass::Source,
            Self::Decompress(DecompressError::Internal(_)) => ErrorClass::Source,
            _ => ErrorClass::InvalidData,
        }
    }

    /// `true` if derivation must skip the batch (protocol §4.1).
    pub const fn is_invalid_data(&self) -> bool {
        matches!(self.class(), ErrorClass::InvalidData)
    }
}

/// Why a batch could not be encoded (the proposer must change the batch).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// Structural limits (empty, too many manifests or transactions).
    #[error("batch violates limits: {0}")]
    Limits(BatchDecodeError),
    /// The batch RLP exceeds [`MAX_BATCH_BYTES`].
    #[error("batch RLP of {len} bytes exceeds {MAX_BATCH_BYTES}")]
    BatchTooLarge {
        /// RLP length.
        len: usize,
    },
    /// The compressed payload does not fit [`MAX_BLOBS_PER_BATCH`] blobs.
    #[error("payload body of {len} bytes exceeds {max}")]
    PayloadTooLarge {
        /// Body length.
        len: usize,
        /// Maximum body length.
        max: usize,
    },
    /// The compressor failed.
    #[error("compression: {0}")]
    Compression(String),
    /// The KZG library failed.
    #[error("kzg: {0}")]
    Kzg(String),
}

/// A batch encoded for posting: the blob sidecar and its versioned hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedBatch {
    /// Blobs, commitments and proofs, ready for an EIP-4844 transaction.
    pub sidecar: BlobTransactionSidecar,
    /// Versioned hashes, in blob order.
    pub versioned_hashes: Vec<B256>,
    /// Length of the payload (header and body).
    pub payload_len: usize,
    /// Length of the uncompressed batch RLP.
    pub rlp_len: usize,
}

/// Encodes a batch into blobs with the default zstd level.
pub fn encode_batch(batch: &Batch) -> Result<EncodedBatch, EncodeError> {
    encode_batch_with_level(batch, DEFAULT_ZSTD_LEVEL)
}

/// Encodes a batch into blobs, compressing with zstd at `level`.
pub fn encode_batch_with_level(batch: &Batch, level: i32) -> Result<EncodedBatch, EncodeError> {
    let payload = encode_payload(batch, level)?;
    let blobs = packing::stream_to_blobs(&payload);
    let sidecar = kzg::sidecar_from_blobs(blobs).map_err(|e| EncodeError::Kzg(format!("{e:?}")))?;
    let versioned_hashes = sidecar.commitments.iter().map(kzg::versioned_hash).collect();
    tracing::debug!(
        target: "based::blob",
        blobs = sidecar.blobs.len(),
        payload_len = payload.len(),
        "encoded batch"
    );
    Ok(EncodedBatch {
        sidecar,
        versioned_hashes,
        payload_len: payload.len(),
        rlp_len: batch.encode_rlp().len(),
    })
}

/// Encodes a batch into blobs only (no KZG work), e.g. for size estimation and tests.
pub fn encode_batch_to_blobs(batch: &Batch, level: i32) -> Result<Vec<Blob>, EncodeError> {
    Ok(packing::stream_to_blobs(&encode_payload(batch, level)?))
}

/// Decodes blobs without any KZG check (the caller has verified them against L1).
pub fn decode_batch_unverified(blobs: &[Blob]) -> Result<Batch, DecodeError> {
    let stream = packing::blobs_to_stream(blobs)?;
    decode_stream(&stream)
}

/// Decodes blobs given only the versioned hashes from the L1 transaction: computes each blob's
/// commitment and checks it against its versioned hash, then decodes.
pub fn decode_batch_from_blobs(
    blobs: &[Blob],
    versioned_hashes: &[B256],
) -> Result<Batch, DecodeError> {
    packing::check_blob_count(versioned_hashes.len())?;
    kzg::verify_blobs_by_commitment(blobs, versioned_hashes)?;
    decode_batch_unverified(blobs)
}

/// Decodes blobs with their commitments and proofs (as the beacon API's blob sidecars carry):
/// checks the commitments against the versioned hashes, batch-verifies the proofs, then decodes.
pub fn decode_batch_from_sidecar(
    blobs: &[Blob],
    commitments: &[Bytes48],
    proofs: &[Bytes48],
    versioned_hashes: &[B256],
) -> Result<Batch, DecodeError> {
    packing::check_blob_count(versioned_hashes.len())?;
    kzg::verify_sidecar(blobs, commitments, proofs, versioned_hashes)?;
    decode_batch_unverified(blobs)
}

#[cfg(test)]
mod tests;
