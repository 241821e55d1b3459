//! Preconfirmation slashing on L1 (spec: `docs/slashing.md`, "Contracts"): Rust bindings of
//! `contracts/src/PreconfSlasher.sol`, the Merkle tree of the `Inbox`'s promised records, and an L1
//! client ([`SlasherClient`]) for watchtowers and `based slash`.
//!
//! - [`PreconfSlasher`] are the `sol!` bindings generated from the committed artifact
//!   `contracts/out/PreconfSlasher.json` (`make contracts`; `make check-contracts` fails when stale);
//!   [`slasher_creation_code`] builds its deployment bytecode for a [`SlasherConfig`].
//! - [`merkle`]: [`promised_root`], [`promised_proof`], [`verify_promised`], identical to
//!   `Inbox.promisedRoot` / `Inbox.verifyPromised` (golden vectors in `testdata/`, checked against the
//!   contract on anvil).
//! - [`SlasherClient`]: open a challenge, defend it (from a proposal's promised transaction hashes),
//!   slash a lost challenge or a not-owned promise through `Registry.slashCommitment`, read a
//!   challenge, find the proposal that kept a transaction (from `Inbox.Promised` logs).
//!
//! The two faults the slasher judges (an inclusion commitment, type 1, says "`signed_tx` is
//! included on L2 by L1 slot `slot`"):
//! - **broken promise** ([`EvidenceKind::LostChallenge`]): a challenge opened with a bond between
//!   `slot + challengeDelay` (exclusive) and `slot + challengeDelay + challengeWindow` (inclusive) that
//!   nobody defended within `defenceWindow` seconds by showing the transaction hash in the promised
//!   record of a proposal included by an L1 block of a slot `<= slot`;
//! - **promise for a slot the signer did not own** ([`EvidenceKind::NotOwned`]): the slot's preconfer
//!   committer is not the signer, yet the slashed validator had delegated to the signer at that slot.
//!
//! Invariants:
//! - [`promised_root`] / [`verify_promised`] agree with the `Inbox` for every input (same pairing,
//!   zero padding of odd levels, proof length `ceil(log2(count))`).
//! - A challenge id is the commitment digest `keccak256(abi.encode(commitment))`
//!   ([`based_commitments::Commitment::digest`]).
//! - Evidence is `abi.encode(uint8 kind)` ([`EvidenceKind::evidence`]); the Registry puts the slashed
//!   key in `delegation.metadata = abi.encode(bytes32 pubkeyHash)`.
//! - Nothing here panics on bad input: decoding and arithmetic are checked and errors are
//!   [`SlasherError`]s.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

pub mod client;
pub mod merkle;

pub use client::{
    ChallengeState, ChallengeStatus, KeptPromise, SlasherClient, inclusion_of, revert_name,
};
pub use merkle::{promised_proof, promised_root, proof_depth, verify_promised};

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::{SolConstructor, SolValue};

#[allow(missing_docs, unreachable_pub, clippy::all)]
mod bindings {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        PreconfSlasher,
        "../../contracts/out/PreconfSlasher.json"
    );
}

/// `ISlasher.Commitment` / `ISlasher.Delegation` as the `PreconfSlasher` ABI names them.
pub use bindings::{ISlasher, PreconfSlasher};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum SlasherError {
    /// A contract refused the call with this named error (e.g. `DefenceWindowOpen`), or with
    /// unnamed revert data (hex).
    #[error("the contract refused the call: {0}")]
    Reverted(String),
    /// The transaction was mined but reverted (state changed between simulation and inclusion).
    #[error("transaction {0} reverted")]
    Failed(B256),
    /// The L1 RPC failed or returned something unexpected.
    #[error("L1 RPC: {0}")]
    Rpc(String),
    /// The transaction to prove is not among the proposal's promised transactions.
    #[error("transaction {0} is not among the promised transactions")]
    NotPromised(B256),
    /// The commitment's payload is not an inclusion payload.
    #[error("commitment payload: {0}")]
    Payload(String),
    /// A log could not be decoded.
    #[error("log decoding: {0}")]
    Decode(String),
}

impl From<based_contracts::client::CallError> for SlasherError {
    fn from(e: based_contracts::client::CallError) -> Self {
        use based_contracts::client::CallError;
        match e {
            CallError::Reverted(name) => Self::Reverted(name),
            CallError::Failed(hash) => Self::Failed(hash),
            CallError::Rpc(reason) => Self::Rpc(reason),
        }
    }
}

/// What `Registry.slashCommitment` asks the `PreconfSlasher` to judge: the evidence kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EvidenceKind {
    /// 0: the challenge of this commitment was not defended by its deadline.
    LostChallenge = 0,
    /// 1: the signer did not own the promised slot.
    NotOwned = 1,
}

impl EvidenceKind {
    /// `abi.encode(uint8 kind)`: the `evidence` argument of `slashCommitment`.
    pub fn evidence(self) -> Bytes {
        Bytes::from(U256::from(self as u8).to_be_bytes::<32>().to_vec())
    }
}

/// `abi.encode(bytes32 pubkeyHash)`: what the Registry puts in `delegation.metadata`.
pub fn delegation_metadata(pubkey_hash: B256) -> Bytes {
    Bytes::from(pubkey_hash.abi_encode())
}

/// Deployment parameters of the `PreconfSlasher` (its constructor's `Config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlasherConfig {
    /// The validator `Registry` (the only caller of `slash`).
    pub registry: Address,
    /// The `Lookahead` (slot clock, preconfers, epoch records).
    pub preconfer_source: Address,
    /// The `Inbox` (promised records).
    pub inbox: Address,
    /// Exact bond of `openChallenge` (wei).
    pub challenge_bond: U256,
    /// Slots after the promised slot before a challenge may open (L1 finality margin).
    pub challenge_delay: u64,
    /// Slots during which a challenge may open after that (`> 0`).
    pub challenge_window: u64,
    /// Seconds a challenge stays open to a defence (`> 0`).
    pub defence_window: u64,
    /// Wei a successful slash asks the Registry to take.
    pub slash_amount: U256,
}

impl SlasherConfig {
    /// The ABI value of the constructor argument.
    pub fn to_sol(&self) -> PreconfSlasher::Config {
        PreconfSlasher::Config {
            registry: self.registry,
            preconferSource: self.preconfer_source,
            inbox: self.inbox,
            challengeBond: self.challenge_bond,
            challengeDelay: self.challenge_delay,
            challengeWindow: self.challenge_window,
            defenceWindow: self.defence_window,
            slashAmount: self.slash_amount,
        }
    }
}

/// Creation bytecode of `PreconfSlasher` with the ABI-encoded `config` appended.
pub fn slasher_creation_code(config: &SlasherConfig) -> Bytes {
    let args = PreconfSlasher::constructorCall { config: config.to_sol() }.abi_encode();
    let mut code = PreconfSlasher::BYTECODE.to_vec();
    code.extend_from_slice(&args);
    Bytes::from(code)
}

/// The `ISlasher.Commitment` ABI value of a commitment (for `openChallenge` and the views).
pub fn commitment_to_sol(commitment: &based_commitments::Commitment) -> ISlasher::Commitment {
    ISlasher::Commitment {
        commitmentType: commitment.commitment_type,
        payload: commitment.payload.clone(),
        requestHash: commitment.request_hash,
        slasher: commitment.slasher,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::keccak256;

    #[test]
    fn evidence_and_metadata_encoding() {
        assert_eq!(EvidenceKind::LostChallenge.evidence().as_ref(), &[0u8; 32]);
        let mut one = [0u8; 32];
        one[31] = 1;
        assert_eq!(EvidenceKind::NotOwned.evidence().as_ref(), &one);
        let h = B256::repeat_byte(7);
        assert_eq!(delegation_metadata(h).as_ref(), h.as_slice());
    }

    #[test]
    fn creation_code_appends_config() {
        let cfg = SlasherConfig {
            registry: Address::repeat_byte(1),
            preconfer_source: Address::repeat_byte(2),
            inbox: Address::repeat_byte(3),
            challenge_bond: U256::from(5),
            challenge_delay: 2,
            challenge_window: 8,
            defence_window: 60,
            slash_amount: U256::from(9),
        };
        let code = slasher_creation_code(&cfg);
        assert_eq!(code.len(), PreconfSlasher::BYTECODE.len() + 8 * 32);
        assert_eq!(&code[code.len() - 32..], U256::from(9).to_be_bytes::<32>().as_slice());
    }

    /// The Solidity `Commitment` struct encodes as the gateway's `Commitment`: same digest.
    #[test]
    fn commitment_digest_matches_the_gateway_type() {
        let c = based_commitments::Commitment {
            commitment_type: 1,
            payload: Bytes::from_static(b"\x01\x02"),
            request_hash: B256::repeat_byte(3),
            slasher: Address::repeat_byte(4),
        };
        assert_eq!(keccak256(commitment_to_sol(&c).abi_encode()), c.digest());
    }

    /// The Rust tree against the committed golden vectors (`testdata/promised_roots.json`; the
    /// anvil test checks the same file against `Inbox.promisedRoot`).
    #[test]
    fn golden_vectors() {
        let text = include_str!("../testdata/promised_roots.json");
        let golden: serde_json::Value = serde_json::from_str(text).unwrap();
        let cases = golden["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 10);
        for case in cases {
            let count = case["count"].as_u64().unwrap() as usize;
            let leaves = golden_leaves(count);
            let root: B256 = case["root"].as_str().unwrap().parse().unwrap();
            assert_eq!(promised_root(&leaves), root, "count {count}");
            let last: Vec<B256> = serde_json::from_value(case["proofOfLast"].clone()).unwrap();
            assert_eq!(promised_proof(&leaves, count - 1).unwrap(), last, "count {count}");
            assert!(verify_promised(
                root,
                count as u64,
                count as u64 - 1,
                leaves[count - 1],
                &last
            ));
        }
    }

    /// Leaves of the golden vectors: `keccak256("based promised tx " || decimal i)`.
    pub(crate) fn golden_leaves(count: usize) -> Vec<B256> {
        (0..count).map(|i| keccak256(format!("based promised tx {i}"))).collect()
    }

    /// Regenerates the golden file: `BASED_UPDATE_GOLDEN=1 cargo test -p based-slasher golden`.
    #[test]
    fn write_golden_when_asked() {
        if std::env::var_os("BASED_UPDATE_GOLDEN").is_none() {
            return;
        }
        let cases: Vec<serde_json::Value> = (1..=9usize)
            .chain([33])
            .map(|count| {
                let leaves = golden_leaves(count);
                serde_json::json!({
                    "count": count,
                    "root": promised_root(&leaves),
                    "proofOfLast": promised_proof(&leaves, count - 1).unwrap(),
                })
            })
            .collect();
        let doc = serde_json::json!({
            "description": "Inbox promised-record Merkle roots: leaves keccak256(\"based promised tx \" || decimal i), i = 0..count; proofOfLast = siblings of leaf count-1 from the leaf level up",
            "cases": cases,
        });
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/promised_roots.json");
        std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
    }
}
