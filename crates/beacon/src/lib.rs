//! `based-beacon`: the beacon API as the node uses it, and the devnet's own beacon API service.
//!
//! - [`BeaconClient`] fetches the blobs of an L1 execution block from real consensus clients
//!   (Lighthouse, Prysm, Teku, Nimbus, Lodestar), which name blocks by slot, beacon block root or a
//!   named id (`head`, `finalized`, ...), never by execution block hash. It maps the execution
//!   block to its slot (`(timestamp - genesis_time) / SECONDS_PER_SLOT`, from
//!   `/eth/v1/beacon/genesis` and `/eth/v1/config/spec`), confirms the slot with the beacon block's
//!   `execution_payload.block_hash`, prefers `blob_sidecars` (commitments and proofs: one batch
//!   KZG verification) over `blobs` (commitments recomputed), and tries several sources in order
//!   (beacon nodes, then blob archives for blobs past the retention window).
//! - [`DevBeacon`] (**devnet-only**) serves a beacon API with real consensus-client semantics in
//!   front of anvil: one L1 block per slot, synthetic roots, missed slots, proposer duties of a
//!   deterministic validator set, blobs by slot, a Fulu `BeaconState` per block (served in SSZ)
//!   whose `proposer_lookahead` and `validators` can be proven, and (optionally) its block roots in
//!   anvil's EIP-4788 contract. See [`server`].
//! - [`state`]: the Fulu `BeaconState` in SSZ with run-time preset sizes, as consensus clients
//!   serve it (`BeaconClient::state`), and its field roots.
//! - [`ssz`]: `BeaconBlockHeader`, `Validator` and SSZ Merkle branches of a Fulu `BeaconState`
//!   (the evidence of a lookahead contest).
//!
//! Invariants:
//! - A blob is returned only if its KZG commitment hashes to a wanted versioned hash (sidecar
//!   proofs are batch-verified; plain blobs get their commitment recomputed): no source is trusted.
//! - Every failure is a typed [`BeaconError`] with a [`Severity`]; the client never loops: one call
//!   makes a bounded number of requests (at most [`MAX_LOCATE_PROBES`] to locate a block).
//! - Responses are size-capped before parsing; no input makes the client or the server panic.

mod client;
mod error;
pub mod server;
pub mod ssz;
pub mod state;
pub mod types;

pub use client::{
    BeaconClient, BeaconClientConfig, ElBlock, MAX_BLOB_RESPONSE_BYTES, MAX_BLOBS_PER_RESPONSE,
    MAX_BLOCK_RESPONSE_BYTES, MAX_LOCATE_PROBES, MAX_STATE_RESPONSE_BYTES, STATE_TIMEOUT, Timing,
    versioned_hash,
};
pub use error::{BeaconError, Severity};
pub use server::{DevBeacon, DevBeaconConfig, DevBeaconError, StaticBlock, StaticChain};
