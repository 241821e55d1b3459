//! Commitments API types for the `based` preconfirmation gateway.
//!
//! The types follow eth-fabric's Commitments API (`commitments-specs`, `specs/commitments-api.md`
//! and `commitments-oapi.yml`): [`CommitmentRequest`], [`Commitment`] and [`SignedCommitment`], with
//! snake_case JSON field names, `commitment_type` as a JSON number, byte strings and hashes as
//! `0x`-prefixed hex, and the signature as a `0x`-prefixed 65-byte `r || s || v` hex string with
//! `v ∈ {27, 28}`.
//!
//! Each type also has its Solidity ABI form ([`sol`]), so the bytes hashed and signed here are the
//! bytes a Solidity contract hashes:
//! - `request_hash = keccak256(abi.encode(request))` ([`CommitmentRequest::request_hash`]);
//! - the committer signs `keccak256(abi.encode(commitment))` ([`Commitment::digest`]), the digest
//!   the Universal Registry Contract's `slashCommitment` recovers with OpenZeppelin's `ECDSA.recover`
//!   (which also rejects high-`s` signatures, as [`SignedCommitment::recover_signer`] does).
//!
//! Inclusion commitments ([`INCLUSION_COMMITMENT_TYPE`] = 1) carry
//! `payload = abi.encode((uint64 slot, bytes signed_tx))` ([`InclusionPayload`]), where `signed_tx` is
//! an EIP-2718 encoded signed transaction; the commitment's payload equals the request's payload.
//!
//! Invariants: nothing in this crate panics on bad input; every decoder returns a typed
//! [`CommitmentError`]. ABI decoding is canonical: bytes that decode but do not re-encode to exactly
//! the same bytes are refused ([`CommitmentError::NonCanonical`]), so one value has one encoding and
//! one hash.
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

mod error;
mod inclusion;
mod signature;
pub mod sol;
mod types;

pub use error::CommitmentError;
pub use inclusion::{INCLUSION_COMMITMENT_TYPE, InclusionPayload, InclusionTx};
pub use types::{Commitment, CommitmentRequest, SignedCommitment};
