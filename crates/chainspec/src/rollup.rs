//! The consensus parameters of a chain that are not geth genesis: the chain spec's `config.based.l1`
//! and `config.based.derivation` sections (docs/protocol.md §2, §7.1; docs/node.md "Chain spec").
//!
//! ```json
//! "config": { ..., "based": {
//!     "l1": { "chainId": 1, "inboxAddress": "0x...", "startBlock": 21000000 },
//!     "derivation": { "maxAnchorAge": 64, "forcedInclusionWindow": 32 },
//!     "sequencing": { ... }
//! } }
//! ```
//!
//! Every node of a chain must use exactly these values: two nodes that differ in any of them can
//! derive different L2 chains from the same L1. They therefore live only in the chain spec, never
//! in a node flag, and are checked at load (typed errors naming the field).
//!
//! Invariants (checked by [`Rollup::validate`]):
//! - `l1.chainId` is non-zero and differs from the L2 chain id (a transaction signed for one chain
//!   is never valid on the other);
//! - `l1.inboxAddress` is not the zero address;
//! - `derivation.maxAnchorAge` is in `1..=`[`MAX_ANCHOR_AGE_LIMIT`] (the derivation state keeps that
//!   many L1 blocks, and the node reads them at its first start);
//! - `derivation.forcedInclusionWindow` is in `1..=`[`MAX_FORCED_INCLUSION_WINDOW`].
//!
//! `l1.startBlock` `S` is the last L1 block *before* derivation: it must precede the first `Inbox`
//! event (the deployment block minus one, or earlier). Any such `S` derives the same L2 chain (the
//! anchor window is seeded with the `maxAnchorAge` L1 blocks ending at `S` and genesis' anchor
//! number is 0, protocol §7.1), but all nodes use the spec's so that their stored states agree.

use alloy_primitives::Address;
use serde::{Deserialize, Serialize};

/// Limits that are protocol constants (the same for every chain), defined once here and used by the
/// derivation (`based-derive`) and the executor (`based-evm`).
pub mod limits {
    /// Minimum gas limit of a kept manifest and of every L2 block (protocol §4.3 rule 7).
    pub const MIN_L2_GAS_LIMIT: u64 = based_primitives::MIN_L2_GAS_LIMIT;
    /// Maximum gas limit of a kept manifest and of every L2 block (protocol §4.3 rule 7).
    pub const MAX_L2_GAS_LIMIT: u64 = based_primitives::MAX_L2_GAS_LIMIT;
    /// Deposits credited by one L2 block at most (protocol §6.2).
    pub const MAX_DEPOSITS_PER_BLOCK: usize = 256;
}

/// Largest `derivation.maxAnchorAge` a spec may set: the L1 anchor predeploy's ring size (protocol
/// §5.3), so every anchor a block may name is still readable on L2.
pub const MAX_ANCHOR_AGE_LIMIT: u64 = crate::L1_ANCHOR_RING_SIZE;

/// Largest `derivation.forcedInclusionWindow` a spec may set (about a week of 12 s L1 blocks): a
/// longer window would let proposers censor forced transactions for longer than any user waits.
pub const MAX_FORCED_INCLUSION_WINDOW: u64 = 50_400;

/// The L1 the chain derives from: `config.based.l1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct L1Params {
    /// The L1's chain id (`eth_chainId` of the L1 execution client; 1 = Ethereum mainnet).
    pub chain_id: u64,
    /// The L1 `Inbox` contract whose events the chain is derived from.
    pub inbox_address: Address,
    /// The last L1 block before derivation (`S`, protocol §7.1): the `Inbox` deployment block minus
    /// one, or earlier.
    pub start_block: u64,
}

/// Derivation windows: `config.based.derivation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DerivationParams {
    /// `MAX_ANCHOR_AGE`: oldest allowed anchor, in L1 blocks before the inclusion block (protocol
    /// §4.3 rule 4).
    pub max_anchor_age: u64,
    /// `FORCED_INCLUSION_WINDOW`: L1 blocks after which a queued forced transaction is due (protocol
    /// §6.3). The `Inbox` is deployed with the same value.
    pub forced_inclusion_window: u64,
}

/// The chain's L1 and derivation parameters (both sections are required).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rollup {
    /// `config.based.l1`.
    pub l1: L1Params,
    /// `config.based.derivation`.
    pub derivation: DerivationParams,
}

/// A chain spec field that breaks a rule; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RollupError {
    /// A required section is absent.
    #[error("config.based.{0} is missing (every chain spec names its L1 and derivation windows)")]
    Missing(&'static str),
    /// `l1.chainId` is zero.
    #[error("config.based.l1.chainId must be non-zero")]
    ZeroL1ChainId,
    /// `l1.chainId` equals the L2 chain id.
    #[error("config.based.l1.chainId ({0}) must differ from the L2 chain id config.chainId")]
    SameChainId(u64),
    /// `l1.inboxAddress` is zero.
    #[error("config.based.l1.inboxAddress must not be the zero address")]
    ZeroInbox,
    /// `derivation.maxAnchorAge` is out of range.
    #[error("config.based.derivation.maxAnchorAge must be in 1..={MAX_ANCHOR_AGE_LIMIT}, got {0}")]
    MaxAnchorAge(u64),
    /// `derivation.forcedInclusionWindow` is out of range.
    #[error(
        "config.based.derivation.forcedInclusionWindow must be in 1..={MAX_FORCED_INCLUSION_WINDOW}, got {0}"
    )]
    ForcedInclusionWindow(u64),
}

impl Rollup {
    /// Checks the rules of the module docs; `l2_chain_id` is the spec's `config.chainId`.
    pub fn validate(&self, l2_chain_id: u64) -> Result<(), RollupError> {
        if self.l1.chain_id == 0 {
            return Err(RollupError::ZeroL1ChainId);
        }
        if self.l1.chain_id == l2_chain_id {
            return Err(RollupError::SameChainId(l2_chain_id));
        }
        if self.l1.inbox_address.is_zero() {
            return Err(RollupError::ZeroInbox);
        }
        let age = self.derivation.max_anchor_age;
        if !(1..=MAX_ANCHOR_AGE_LIMIT).contains(&age) {
            return Err(RollupError::MaxAnchorAge(age));
        }
        let window = self.derivation.forced_inclusion_window;
        if !(1..=MAX_FORCED_INCLUSION_WINDOW).contains(&window) {
            return Err(RollupError::ForcedInclusionWindow(window));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Rollup {
        Rollup {
            l1: L1Params { chain_id: 1, inbox_address: Address::repeat_byte(1), start_block: 9 },
            derivation: DerivationParams { max_anchor_age: 64, forced_inclusion_window: 32 },
        }
    }

    #[test]
    fn rules_are_enforced_and_name_the_field() {
        good().validate(4242).unwrap();
        let bad = |f: fn(&mut Rollup)| {
            let mut r = good();
            f(&mut r);
            r.validate(4242).unwrap_err()
        };
        assert_eq!(bad(|r| r.l1.chain_id = 0), RollupError::ZeroL1ChainId);
        assert_eq!(bad(|r| r.l1.chain_id = 4242), RollupError::SameChainId(4242));
        assert_eq!(bad(|r| r.l1.inbox_address = Address::ZERO), RollupError::ZeroInbox);
        assert_eq!(bad(|r| r.derivation.max_anchor_age = 0), RollupError::MaxAnchorAge(0));
        assert_eq!(
            bad(|r| r.derivation.max_anchor_age = MAX_ANCHOR_AGE_LIMIT + 1),
            RollupError::MaxAnchorAge(MAX_ANCHOR_AGE_LIMIT + 1)
        );
        assert_eq!(
            bad(|r| r.derivation.forced_inclusion_window = 0),
            RollupError::ForcedInclusionWindow(0)
        );
        assert!(bad(|r| r.derivation.max_anchor_age = 0).to_string().contains("maxAnchorAge"));
        assert!(bad(|r| r.l1.inbox_address = Address::ZERO).to_string().contains("inboxAddress"));
        // The edges are valid.
        let mut edge = good();
        edge.derivation = DerivationParams {
            max_anchor_age: 1,
            forced_inclusion_window: MAX_FORCED_INCLUSION_WINDOW,
        };
        edge.validate(4242).unwrap();
        edge.derivation.max_anchor_age = MAX_ANCHOR_AGE_LIMIT;
        edge.validate(4242).unwrap();
    }

    #[test]
    fn sections_refuse_unknown_and_missing_keys() {
        let l1: L1Params = serde_json::from_str(
            r#"{"chainId":1,"inboxAddress":"0x0101010101010101010101010101010101010101","startBlock":9}"#,
        )
        .unwrap();
        assert_eq!(l1, good().l1);
        assert!(
            serde_json::from_str::<L1Params>(
                r#"{"chainId":1,"inboxAddress":"0x0101010101010101010101010101010101010101"}"#
            )
            .unwrap_err()
            .to_string()
            .contains("startBlock")
        );
        assert!(
            serde_json::from_str::<DerivationParams>(
                r#"{"maxAnchorAge":1,"forcedInclusionWindow":1,"maxAnchorAges":2}"#
            )
            .is_err()
        );
    }
}
