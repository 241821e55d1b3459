//! Errors of the beacon client, each with a [`Severity`] the L1 follower acts on.

use alloy_primitives::B256;

/// What the caller should do about a [`BeaconError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Transient (transport failure, timeout, 5xx, beacon node behind, reorg in progress):
    /// retry with backoff.
    Temporary,
    /// Every source answered and none has the data (blobs pruned beyond the retention window or
    /// never seen): retrying the same sources is unlikely to help; an operator must add a source
    /// (`--l1.blob-archive-url`). Callers still retry (slowly) rather than skip data.
    Unavailable,
    /// Misconfiguration (no source, bad URL, beacon chain of another network).
    Critical,
}

/// Why the beacon API could not give what was asked.
#[derive(Debug, thiserror::Error)]
pub enum BeaconError {
    /// No beacon URL or archive is configured.
    #[error("no beacon API configured")]
    NoSources,
    /// A URL could not be built.
    #[error("bad beacon URL: {0}")]
    Url(String),
    /// Transport failure.
    #[error("beacon request to {url} failed: {reason}")]
    Http {
        /// The request URL (without query).
        url: String,
        /// Transport error text.
        reason: String,
    },
    /// The request timed out.
    #[error("beacon request to {url} timed out")]
    Timeout {
        /// The request URL (without query).
        url: String,
    },
    /// Unexpected HTTP status.
    #[error("beacon {url} answered HTTP {status}: {message}")]
    Status {
        /// The request URL (without query).
        url: String,
        /// HTTP status code.
        status: u16,
        /// The error message (from the `{"code","message"}` body) or the start of the body.
        message: String,
    },
    /// The response exceeded the size limit.
    #[error("beacon response from {url} too large (> {limit} bytes)")]
    TooLarge {
        /// The request URL (without query).
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The response was not the expected JSON.
    #[error("malformed beacon response from {url}: {reason}")]
    Malformed {
        /// The request URL (without query).
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// The block timestamp is before the beacon genesis (wrong network?).
    #[error("block timestamp {timestamp} is before the beacon genesis time {genesis_time}")]
    BeforeGenesis {
        /// Execution block timestamp.
        timestamp: u64,
        /// Beacon genesis time.
        genesis_time: u64,
    },
    /// The beacon node has no block at a slot where the execution block should be (a missed slot
    /// on its chain): the beacon and execution clients disagree (one is behind or on another fork).
    #[error(
        "missed slot {slot}: no beacon block where execution block {number} ({hash}) should be"
    )]
    MissedSlot {
        /// The slot probed.
        slot: u64,
        /// Execution block number.
        number: u64,
        /// Execution block hash.
        hash: B256,
    },
    /// The beacon node's head is below the slot of the execution block (not synced yet).
    #[error("beacon head slot {head_slot} is behind slot {slot} of execution block {number}")]
    Behind {
        /// The slot wanted.
        slot: u64,
        /// The beacon node's head slot.
        head_slot: u64,
        /// Execution block number.
        number: u64,
    },
    /// The beacon chain holds another execution block where this one should be (reorg).
    #[error(
        "beacon block at slot {slot} carries execution block {found_number} ({found}), not {number} ({hash})"
    )]
    NotCanonical {
        /// The slot probed.
        slot: u64,
        /// Execution block number wanted.
        number: u64,
        /// Execution block hash wanted.
        hash: B256,
        /// Execution block number found.
        found_number: u64,
        /// Execution block hash found.
        found: B256,
    },
    /// The execution block could not be located within the probe budget.
    #[error(
        "execution block {number} ({hash}) not found on the beacon chain near slot {from_slot}"
    )]
    NotLocated {
        /// Execution block number.
        number: u64,
        /// Execution block hash.
        hash: B256,
        /// The slot computed from the timestamp.
        from_slot: u64,
    },
    /// Some wanted blobs are in no source.
    #[error(
        "{missing} of {wanted} blobs of block {number} (slot {slot}) not found (first missing {first}); sources: {attempts}"
    )]
    BlobsNotFound {
        /// Execution block number.
        number: u64,
        /// The beacon slot.
        slot: u64,
        /// How many blobs were wanted.
        wanted: usize,
        /// How many are missing.
        missing: usize,
        /// The first missing versioned hash.
        first: B256,
        /// What each source answered.
        attempts: String,
        /// Whether some source failed transiently (then this is [`Severity::Temporary`]).
        transient: bool,
    },
}

impl BeaconError {
    /// What the caller should do about this error.
    pub const fn severity(&self) -> Severity {
        match self {
            Self::NoSources | Self::Url(_) | Self::BeforeGenesis { .. } => Severity::Critical,
            Self::BlobsNotFound { transient: false, .. } => Severity::Unavailable,
            Self::Http { .. }
            | Self::Timeout { .. }
            | Self::Status { .. }
            | Self::TooLarge { .. }
            | Self::Malformed { .. }
            | Self::MissedSlot { .. }
            | Self::Behind { .. }
            | Self::NotCanonical { .. }
            | Self::NotLocated { .. }
            | Self::BlobsNotFound { .. } => Severity::Temporary,
        }
    }

    /// Whether this is a "not found" answer (HTTP 404) rather than a failure.
    pub const fn is_not_found(&self) -> bool {
        matches!(self, Self::Status { status: 404, .. })
    }
}
