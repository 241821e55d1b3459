//! The `based` preconfirmation gateway (docs/protocol.md §10).
//!
//! - [`service`]: admission of inclusion requests (form, slot, preconfer, capacity, then execution
//!   on the L2 node's pending block: nonce, funds, gas, validity), signing, the durable log,
//!   hand-off for posting: [`Gateway`].
//! - [`server`]: the Commitments API over JSON-RPC and REST on one port, `eth_sendRawTransaction`,
//!   and the reads a wallet needs forwarded to the L2 node: [`GatewayServer`], [`launch`].
//! - [`log`]: the durable, group-committed, non-equivocating commitment log.
//! - [`CommitSigner`]: what signs the commitments: an in-process key ([`CommitterKey`], a fast
//!   libsecp256k1 signer, or any alloy `SignerSync`) or a signer service ([`RemoteSigner`], the
//!   Commit-Boost signer API; [`remote`]).
//!
//! # Invariants
//!
//! - **Never equivocate.** Every promise the gateway makes carries a caller-chosen conflict key (the
//!   gateway uses `sender ‖ nonce`) and value (`keccak256(tx_hash ‖ slot)`). The log refuses a second,
//!   different value for a key ([`log::LogError::Conflict`]), and the check is made by the single
//!   writer in log order, so of two concurrent conflicting requests exactly one wins.
//! - **Durable before answered.** A signed commitment is released only after the group-commit
//!   `fdatasync` covering its record returned ([`log::CommitmentLog::append`]). A signature that
//!   the log refused or failed to persist must never leave the process.
//! - **Executed before answered.** A promise is answered only once the L2 node's pending block
//!   holds its transaction ([`PendingNode::preconfirm`]); a transaction whose promise could not
//!   be made durable is dropped from it again.
//! - **Idempotent.** The same `request_hash` yields the same stored signed commitment
//!   ([`log::AppendOutcome::Existing`]).
//! - **Restart safety (the role EIP-3076 plays for validators).** On open the log is replayed and
//!   the conflict index rebuilt before any new request is accepted. A torn tail (the last,
//!   never-acknowledged batch) is truncated; any other damage refuses to start
//!   ([`log::LogError::Corrupt`]) rather than forget a signed promise.
//! - No panics on bad input: the crate denies `unwrap`, `expect`, `panic`, indexing and unchecked
//!   arithmetic outside tests.
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

pub mod log;
pub mod remote;
pub mod schedule;
pub mod server;
pub mod service;
mod signer;

pub use log::{AppendOutcome, CommitmentLog, LogEntry, LogError, LogStats, Recovered};
pub use remote::{EitherSigner, RemoteSigner, RemoteSignerConfig};
pub use schedule::{SourceSchedule, spawn_refresher};
pub use server::{GatewayServer, LaunchConfig, NodePending, ServerSettings, launch};
pub use service::{
    CommitmentFeed, EverySlot, FEED_MAX_LIMIT, Gateway, GatewayConfig, GatewayError, Limits,
    NodeError, PendingNode, Promise, RECENT_COMMITMENTS, RecentCommitment, RecentCommitments,
    Schedule,
};
pub use signer::{CommitSigner, CommitterKey, KeyError, SignerError};
