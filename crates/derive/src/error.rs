//! Derivation errors and their severity.
//!
//! Bad *data* (a malformed blob, an undecodable batch, an invalid manifest) is never an error: it is
//! skipped per protocol §4/§7 and reported as a [`crate::SkipReason`]. Errors are only for
//! conditions where continuing would make this node diverge from honest nodes.

use alloy_primitives::B256;

/// What the driver must do after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// Retry the same L1 block with the same state later (e.g. a blob is not available yet).
    Temporary,
    /// The input does not extend the state's L1 chain (reorg or inconsistent source): reload the
    /// state stored at the common ancestor and feed the new canonical blocks from there.
    Reset,
    /// Unrecoverable (bug, misconfiguration, or an L1 source violating contract invariants).
    Critical,
}

/// Error returned by a [`crate::BlobProvider`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobProviderError {
    /// The blob is not (yet) available; the derivation of this L1 block is retried.
    #[error("blob {0} not available: {1}")]
    Unavailable(B256, String),
    /// The provider failed in a way retrying will not fix.
    #[error("blob provider failure: {0}")]
    Fatal(String),
}

/// Error returned by a [`crate::QueueProvider`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueProviderError {
    /// The entry cannot be read now (storage I/O); the derivation of this L1 block is retried.
    #[error("queue entry unavailable: {0}")]
    Unavailable(String),
    /// The stored entry is unreadable (corrupt storage).
    #[error("queue entry corrupt: {0}")]
    Corrupt(String),
}

/// A derivation error. See [`DeriveError::severity`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeriveError {
    /// The input block is not the successor (by number) of the state's last L1 block.
    #[error("L1 block {got} does not follow the last derived L1 block {last}")]
    NotNextBlock {
        /// Number of the state's last L1 block.
        last: u64,
        /// Number of the input block.
        got: u64,
    },
    /// The input block's parent hash is not the state's last L1 block hash (reorg).
    #[error("L1 block {number} parent {got} != last derived L1 block hash {expected}")]
    ParentHashMismatch {
        /// Number of the input block.
        number: u64,
        /// Hash of the state's last L1 block.
        expected: B256,
        /// Parent hash of the input block.
        got: B256,
    },
    /// The input block's timestamp is below its parent's.
    #[error("L1 block {number} timestamp {got} before parent timestamp {parent}")]
    L1TimestampDecreasing {
        /// Number of the input block.
        number: u64,
        /// Parent timestamp.
        parent: u64,
        /// Input block timestamp.
        got: u64,
    },
    /// An `Inbox` event id is not the next of its kind (missed or duplicated logs).
    #[error("{kind} event id {got}, expected {expected}")]
    EventIdGap {
        /// Event kind.
        kind: &'static str,
        /// Next expected id.
        expected: u64,
        /// Id found.
        got: u64,
    },
    /// A deposit amount is not a multiple of 1 gwei or does not fit in u64 gwei.
    #[error("deposit {id}: invalid amount")]
    InvalidDepositAmount {
        /// Deposit id.
        id: u64,
    },
    /// A blob provider error (severity follows the provider error).
    #[error("proposal {proposal_id}: {source}")]
    Blob {
        /// Proposal whose blobs were requested.
        proposal_id: u64,
        /// Provider error.
        #[source]
        source: BlobProviderError,
    },
    /// The decoder found the blobs do not match L1's commitments (faulty blob source).
    #[error("proposal {proposal_id}: blob source fault: {reason}")]
    BlobSource {
        /// Proposal id.
        proposal_id: u64,
        /// Decoder message.
        reason: String,
    },
    /// The blob provider returned a number of blobs different from the number requested: a blob
    /// source fault (temporary: refetched), not a batch rule.
    #[error("proposal {proposal_id}: provider returned {got} blobs, expected {expected}")]
    BlobCountMismatch {
        /// Proposal id.
        proposal_id: u64,
        /// Requested.
        expected: usize,
        /// Returned.
        got: usize,
    },
    /// Reading a queued deposit or forced transaction failed (severity follows the provider
    /// error).
    #[error("{kind} queue entry {id}: {source}")]
    Queue {
        /// `"deposit"` or `"forced"`.
        kind: &'static str,
        /// Entry id.
        id: u64,
        /// Provider error.
        #[source]
        source: QueueProviderError,
    },
    /// A queued entry the state counts as pending is not stored (or is stored under another id,
    /// or out of L1 order): the node's storage lost or mixed up queue entries.
    #[error("{kind} queue entry {id}: {reason}")]
    QueueEntry {
        /// `"deposit"` or `"forced"`.
        kind: &'static str,
        /// Entry id.
        id: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// An L2 block number or L1 block number overflowed u64.
    #[error("numeric overflow: {0}")]
    Overflow(&'static str),
    /// The configuration is unusable.
    #[error("invalid derivation config: {0}")]
    InvalidConfig(&'static str),
}

impl DeriveError {
    /// How the driver must react to this error.
    pub const fn severity(&self) -> Severity {
        match self {
            Self::NotNextBlock { .. } | Self::ParentHashMismatch { .. } => Severity::Reset,
            Self::Blob { source: BlobProviderError::Unavailable(..), .. }
            | Self::BlobSource { .. }
            // A blob count that differs from the proposal's hashes cannot be on L1: the source is
            // wrong, so refetch (spec §3.6 and §5), never halt.
            | Self::BlobCountMismatch { .. }
            | Self::Queue { source: QueueProviderError::Unavailable(_), .. } => Severity::Temporary,
            Self::Blob { source: BlobProviderError::Fatal(_), .. }
            | Self::L1TimestampDecreasing { .. }
            | Self::EventIdGap { .. }
            | Self::InvalidDepositAmount { .. }
            | Self::Queue { source: QueueProviderError::Corrupt(_), .. }
            | Self::QueueEntry { .. }
            | Self::Overflow(_)
            | Self::InvalidConfig(_) => Severity::Critical,
        }
    }

    /// Shorthand for `severity() == Severity::Temporary`.
    pub const fn is_temporary(&self) -> bool {
        matches!(self.severity(), Severity::Temporary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blob source faults (spec §3.6) are refetched, never a reason to halt or skip.
    #[test]
    fn blob_source_faults_are_temporary() {
        let count = DeriveError::BlobCountMismatch { proposal_id: 1, expected: 2, got: 1 };
        assert_eq!(count.severity(), Severity::Temporary);
        let source = DeriveError::BlobSource { proposal_id: 1, reason: "bad proof".into() };
        assert_eq!(source.severity(), Severity::Temporary);
        assert_eq!(DeriveError::Overflow("x").severity(), Severity::Critical);
    }
}
