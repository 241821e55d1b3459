//! Derivation pipeline of the `based` rollup (protocol §6–§7): turns L1 blocks — their `Inbox`
//! events and the blobs of their proposals — into the ordered list of L2 blocks to execute.
//!
//! Design (kona-style, but a pure step function):
//! - [`derive_l1_block_with`]`(config, state, l1 block, blob provider, batch decoder, queue
//!   provider)` returns the new [`DerivationState`], the [`DerivedBlock`]s of that L1 block and the
//!   queue entries it queued. It does no I/O: the node hands in the L1 block ([`L1BlockInput`]),
//!   implements [`BlobProvider`] over data it already fetched and [`QueueProvider`] over its store.
//!   [`derive_l1_block`] is the same without stored queue entries.
//! - Stages: [`traversal`] (L1 linkage) → [`events`] (deposits, forced inclusions, proposal ids) →
//!   [`batch`] (blobs → batch) → [`validate`] (manifest rules) → [`attributes`] (deposits and forced
//!   transactions attached, L2 head advanced).
//! - Reorgs: the state is a value with a canonical encoding ([`DerivationState::encode`]). The node
//!   stores it after every L1 block; on a reorg it reloads the state of the fork point and re-derives.
//! - Queues: deposits and forced transactions are queued once ([`DeriveOutput::queued`]) and read
//!   back by id through a [`QueueProvider`] (the node's store; [`MemoryQueues`] in memory); the
//!   state holds only cursors, so its size does not grow with the queues.
//!
//! Invariants:
//! - Determinism: equal inputs give equal outputs and bit-identical state encodings.
//! - Bad data (missing/undecodable batch, wrong chain id, invalid manifest) is skipped and reported
//!   in [`DeriveOutput::skipped`], never an error. Errors are only [`Severity::Temporary`] (data not
//!   available yet), [`Severity::Reset`] (input does not extend the state) or
//!   [`Severity::Critical`] (L1 source violating contract invariants, misconfiguration).
//! - On error the input state is untouched; a retry with the same arguments is safe.
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

pub mod attributes;
pub mod batch;
pub mod config;
pub mod decoder;
pub mod error;
pub mod events;
pub mod input;
pub mod pipeline;
pub mod queue;
pub mod state;
pub mod traits;
pub mod traversal;
pub mod validate;

#[cfg(any(test, feature = "test-utils"))]
pub mod test_utils;

pub use attributes::{DerivedBlock, L1Origin};
pub use batch::ProposalInvalid;
pub use config::DeriveConfig;
pub use decoder::BlobCodecDecoder;
pub use error::{BlobProviderError, DeriveError, QueueProviderError, Severity};
pub use input::{
    DepositedEvent, ForcedInclusionQueuedEvent, InboxEvent, L1BlockInput, L1BlockRef, ProposedEvent,
};
pub use pipeline::{DeriveOutput, SkipReason, Skipped, derive_l1_block, derive_l1_block_with};
pub use queue::{MemoryQueues, QueuedEntries};
pub use state::{
    DerivationState, L1Head, L2Head, PendingDeposit, PendingForcedTx, StateDecodeError,
};
pub use traits::{BatchDecoder, BlobProvider, DecodeFailure, QueueProvider};
pub use validate::ManifestInvalid;
