//! Who may post batches: the chain spec's `config.based.sequencing` section (docs/lookahead.md).
//!
//! ```json
//! "config": { ..., "based": { "sequencing": {
//!     "mode": "opt-in",                 // "permissionless" | "whitelist" | "opt-in"
//!     "fallback": "permissionless",     // opt-in only: "permissionless" | "whitelist"
//!     "whitelist": ["0x..."],           // whitelist mode, or the whitelist fallback
//!     "slotsPerEpoch": 4,
//!     "optInDelayEpochs": 2, "optOutDelayEpochs": 2, "unregistrationDelayEpochs": 4,
//!     "minCollateral": "0xde0b6b3a7640000",
//!     "lookaheadSlash": "0x...", "contesterReward": "0x...",
//!     "forcedEscapeWindow": 8, "maxProposalGap": 64,
//!     "challengeBond": "0x...", "challengeDelaySlots": 64, "challengeWindowSlots": 7200,
//!     "defenceWindowSeconds": 3600, "commitmentSlashAmount": "0x...",
//!     "devnetValidators": { "count": 64, "registered": [1, 3], "optedIn": [1] }
//! } } }
//! ```
//!
//! Without the section the chain is `permissionless` (protocol v0). Posting rights are not
//! consensus (derivation reads only successful proposals), but every deployment of the contracts
//! for the chain takes its parameters from here, so they are validated at load like the rest.
//!
//! Invariants (checked by [`Sequencing::validate`]):
//! - `slotsPerEpoch` is in `1..=256` (the `Lookahead` bound); `maxProposalGap > 0` when posting is
//!   restricted (the `Inbox` requires it);
//! - opt-out takes effect no sooner than two epochs after it is sent, so the lookahead of an epoch
//!   (posted during the previous one) cannot lose a preconfer under anyone's feet; opt-in after at
//!   least one epoch; claiming collateral no sooner than opt-out takes effect;
//! - a whitelist (mode or fallback) is non-empty and has no zero or repeated address;
//! - `contesterReward <= lookaheadSlash`;
//! - commitment slashing (the `PreconfSlasher`, docs/slashing.md): `challengeWindowSlots > 0` and
//!   `defenceWindowSeconds > 0`; a promise stays judgeable while the promising key's collateral is
//!   bonded: `challengeDelaySlots + challengeWindowSlots <= (unregistrationDelayEpochs -
//!   optOutDelayEpochs) * slotsPerEpoch` (the defence window must fit the rest of that margin too);
//! - devnet validator indices are below `count`, unique, and every opted-in one is registered.

use alloy_primitives::{Address, U256};
use serde::{Deserialize, Serialize};

/// Which posting rule the `Inbox` enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SequencingMode {
    /// Anyone may post at any time (protocol v0).
    #[default]
    Permissionless,
    /// A fixed operator set rotating per epoch (`Whitelist`).
    Whitelist,
    /// Opted-in L1 proposers through the `Registry` and the posted `Lookahead`.
    OptIn,
}

/// What covers the slots of an opt-in chain that no opted-in proposer covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fallback {
    /// Such slots are open to anyone (pure based sequencing).
    #[default]
    Permissionless,
    /// The whitelist's operator of the epoch.
    Whitelist,
}

/// The devnet's deterministic validator set (devnet-only; a real network's comes from its beacon
/// chain): `count` validators whose keys derive from a seed, proposer of slot `s` = `s % count`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DevnetValidators {
    /// Number of validators.
    pub count: u64,
    /// Indices registered in the `Registry` at devnet start.
    #[serde(default)]
    pub registered: Vec<u64>,
    /// Indices (a subset of `registered`) opted in with the devnet gateway's committer.
    #[serde(default)]
    pub opted_in: Vec<u64>,
}

/// The `config.based.sequencing` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sequencing {
    /// The posting rule.
    pub mode: SequencingMode,
    /// Opt-in mode: who covers slots without an opted-in proposer.
    #[serde(default)]
    pub fallback: Fallback,
    /// Whitelist mode, or the whitelist fallback: the operators, rotating per epoch.
    #[serde(default)]
    pub whitelist: Vec<Address>,
    /// L1 slots per epoch as the contracts count them (32 on Ethereum).
    #[serde(default = "default_slots_per_epoch")]
    pub slots_per_epoch: u64,
    /// Epochs from `optIn` until the committer may commit.
    #[serde(default = "default_opt_in_delay")]
    pub opt_in_delay_epochs: u64,
    /// Epochs from `optOut`/`unregister` until the committer loses commit rights.
    #[serde(default = "default_opt_out_delay")]
    pub opt_out_delay_epochs: u64,
    /// Epochs from `unregister` until `claimCollateral`.
    #[serde(default = "default_unregistration_delay")]
    pub unregistration_delay_epochs: u64,
    /// Minimum collateral (wei) of a registration with commit rights.
    #[serde(default = "default_min_collateral")]
    pub min_collateral: U256,
    /// Collateral (wei) a successful lookahead contest takes from the poster's key.
    #[serde(default = "default_min_collateral")]
    pub lookahead_slash: U256,
    /// Part of `lookahead_slash` paid to the contester.
    #[serde(default)]
    pub contester_reward: U256,
    /// L1 blocks a due forced-inclusion transaction may stay unserved before posting opens to
    /// anyone.
    #[serde(default = "default_escape_window")]
    pub forced_escape_window: u64,
    /// L1 blocks without a successful proposal after which posting opens to anyone.
    #[serde(default = "default_max_proposal_gap")]
    pub max_proposal_gap: u64,
    /// Exact bond (wei) of a broken-promise challenge (`PreconfSlasher.challengeBond`).
    #[serde(default = "default_challenge_bond")]
    pub challenge_bond: U256,
    /// Slots after a promised slot before it may be challenged or judged (L1 finality margin).
    #[serde(default = "default_challenge_delay")]
    pub challenge_delay_slots: u64,
    /// Slots (after the delay) during which a challenge may be opened.
    #[serde(default = "default_challenge_window")]
    pub challenge_window_slots: u64,
    /// Seconds a challenge stays open to a defence.
    #[serde(default = "default_defence_window")]
    pub defence_window_seconds: u64,
    /// Collateral (wei) a slashed commitment takes from the validator's key (half of what is taken
    /// goes to the caller of `Registry.slashCommitment`, the rest is burned).
    #[serde(default = "default_min_collateral")]
    pub commitment_slash_amount: U256,
    /// Devnet only: the beacon validator set `based devnet` simulates and registers.
    #[serde(default)]
    pub devnet_validators: Option<DevnetValidators>,
}

const fn default_slots_per_epoch() -> u64 {
    32
}
const fn default_opt_in_delay() -> u64 {
    2
}
const fn default_opt_out_delay() -> u64 {
    2
}
const fn default_unregistration_delay() -> u64 {
    // About 27 h of 32-slot, 12 s epochs: past the EIP-4788 ring buffer (8191 slots), so a
    // lookahead contest against any root the chain still holds can reach the collateral.
    256
}
fn default_min_collateral() -> U256 {
    U256::from(1_000_000_000_000_000_000u128)
}
fn default_challenge_bond() -> U256 {
    U256::from(100_000_000_000_000_000u128)
}
const fn default_challenge_delay() -> u64 {
    // Two 32-slot epochs: the promised slot's L1 blocks are final.
    64
}
const fn default_challenge_window() -> u64 {
    // A day of 12 s slots.
    7200
}
const fn default_defence_window() -> u64 {
    3600
}
const fn default_escape_window() -> u64 {
    32
}
const fn default_max_proposal_gap() -> u64 {
    64
}

impl Default for Sequencing {
    fn default() -> Self {
        Self {
            mode: SequencingMode::Permissionless,
            fallback: Fallback::Permissionless,
            whitelist: Vec::new(),
            slots_per_epoch: default_slots_per_epoch(),
            opt_in_delay_epochs: default_opt_in_delay(),
            opt_out_delay_epochs: default_opt_out_delay(),
            unregistration_delay_epochs: default_unregistration_delay(),
            min_collateral: default_min_collateral(),
            lookahead_slash: default_min_collateral(),
            contester_reward: U256::ZERO,
            forced_escape_window: default_escape_window(),
            max_proposal_gap: default_max_proposal_gap(),
            challenge_bond: default_challenge_bond(),
            challenge_delay_slots: default_challenge_delay(),
            challenge_window_slots: default_challenge_window(),
            defence_window_seconds: default_defence_window(),
            commitment_slash_amount: default_min_collateral(),
            devnet_validators: None,
        }
    }
}

/// A sequencing section that breaks a rule of the module docs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SequencingError {
    /// `slotsPerEpoch` outside `1..=256`.
    #[error("sequencing.slotsPerEpoch must be in 1..=256, got {0}")]
    SlotsPerEpoch(u64),
    /// `maxProposalGap` is zero with restricted posting.
    #[error("sequencing.maxProposalGap must be positive when posting is restricted")]
    ZeroProposalGap,
    /// A delay breaks the ordering rules.
    #[error("sequencing delays: {0}")]
    Delays(&'static str),
    /// The whitelist is empty, has a zero address or a repeated one.
    #[error("sequencing.whitelist: {0}")]
    Whitelist(String),
    /// `contesterReward > lookaheadSlash`.
    #[error("sequencing.contesterReward exceeds sequencing.lookaheadSlash")]
    Reward,
    /// A commitment-slashing window breaks a rule.
    #[error("sequencing commitment slashing: {0}")]
    Slashing(&'static str),
    /// A devnet validator index is out of range, repeated, or opted in without registration.
    #[error("sequencing.devnetValidators: {0}")]
    DevnetValidators(String),
}

impl Sequencing {
    /// Checks the rules of the module docs.
    pub fn validate(&self) -> Result<(), SequencingError> {
        if !(1..=256).contains(&self.slots_per_epoch) {
            return Err(SequencingError::SlotsPerEpoch(self.slots_per_epoch));
        }
        if self.mode != SequencingMode::Permissionless && self.max_proposal_gap == 0 {
            return Err(SequencingError::ZeroProposalGap);
        }
        if self.opt_in_delay_epochs < 1 {
            return Err(SequencingError::Delays("optInDelayEpochs must be at least 1"));
        }
        if self.opt_out_delay_epochs < 2 {
            return Err(SequencingError::Delays(
                "optOutDelayEpochs must be at least 2 (a posted lookahead must not change)",
            ));
        }
        if self.unregistration_delay_epochs < self.opt_out_delay_epochs {
            return Err(SequencingError::Delays(
                "unregistrationDelayEpochs must be at least optOutDelayEpochs",
            ));
        }
        let needs_whitelist = self.mode == SequencingMode::Whitelist
            || (self.mode == SequencingMode::OptIn && self.fallback == Fallback::Whitelist);
        if needs_whitelist {
            if self.whitelist.is_empty() {
                return Err(SequencingError::Whitelist("must not be empty".into()));
            }
            let mut seen = std::collections::HashSet::new();
            for a in &self.whitelist {
                if a.is_zero() || !seen.insert(*a) {
                    return Err(SequencingError::Whitelist(format!("bad or repeated address {a}")));
                }
            }
        }
        if self.contester_reward > self.lookahead_slash {
            return Err(SequencingError::Reward);
        }
        if self.challenge_window_slots == 0 {
            return Err(SequencingError::Slashing("challengeWindowSlots must be positive"));
        }
        if self.defence_window_seconds == 0 {
            return Err(SequencingError::Slashing("defenceWindowSeconds must be positive"));
        }
        let bonded_slots = self
            .unregistration_delay_epochs
            .saturating_sub(self.opt_out_delay_epochs)
            .saturating_mul(self.slots_per_epoch);
        if self.challenge_delay_slots.saturating_add(self.challenge_window_slots) > bonded_slots {
            return Err(SequencingError::Slashing(
                "challengeDelaySlots + challengeWindowSlots must not exceed \
                 (unregistrationDelayEpochs - optOutDelayEpochs) * slotsPerEpoch",
            ));
        }
        if let Some(v) = &self.devnet_validators {
            if v.count == 0 {
                return Err(SequencingError::DevnetValidators("count must be positive".into()));
            }
            let mut registered = std::collections::HashSet::new();
            for i in &v.registered {
                if *i >= v.count || !registered.insert(*i) {
                    return Err(SequencingError::DevnetValidators(format!(
                        "registered index {i} out of range or repeated"
                    )));
                }
            }
            let mut opted = std::collections::HashSet::new();
            for i in &v.opted_in {
                if !registered.contains(i) || !opted.insert(*i) {
                    return Err(SequencingError::DevnetValidators(format!(
                        "opted-in index {i} not registered or repeated"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Seconds of `epochs` epochs of `seconds_per_slot`-second slots (saturating).
    pub const fn epochs_to_seconds(&self, epochs: u64, seconds_per_slot: u64) -> u64 {
        epochs.saturating_mul(self.slots_per_epoch).saturating_mul(seconds_per_slot)
    }

    /// Whether posting is restricted at all.
    pub fn is_restricted(&self) -> bool {
        self.mode != SequencingMode::Permissionless
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt_in() -> Sequencing {
        Sequencing {
            mode: SequencingMode::OptIn,
            devnet_validators: Some(DevnetValidators {
                count: 8,
                registered: vec![1, 3],
                opted_in: vec![1],
            }),
            ..Sequencing::default()
        }
    }

    #[test]
    fn parses_kebab_modes_and_defaults() {
        let s: Sequencing = serde_json::from_str(r#"{"mode":"opt-in"}"#).unwrap();
        assert_eq!(s.mode, SequencingMode::OptIn);
        assert_eq!(s.fallback, Fallback::Permissionless);
        assert_eq!(s.slots_per_epoch, 32);
        assert_eq!((s.challenge_delay_slots, s.challenge_window_slots), (64, 7200));
        assert_eq!(s.defence_window_seconds, 3600);
        assert_eq!(s.challenge_bond, U256::from(10u64).pow(U256::from(17u64)));
        assert_eq!(s.commitment_slash_amount, U256::from(10u64).pow(U256::from(18u64)));
        s.validate().unwrap();
        assert!(serde_json::from_str::<Sequencing>(r#"{"mode":"optin"}"#).is_err());
        // A misspelled key is refused, not ignored.
        assert!(
            serde_json::from_str::<Sequencing>(r#"{"mode":"opt-in","slotPerEpoch":4}"#).is_err()
        );
    }

    #[test]
    fn rules_are_enforced() {
        opt_in().validate().unwrap();
        let bad = |f: fn(&mut Sequencing)| {
            let mut s = opt_in();
            f(&mut s);
            s.validate().unwrap_err()
        };
        assert_eq!(bad(|s| s.slots_per_epoch = 0), SequencingError::SlotsPerEpoch(0));
        assert_eq!(bad(|s| s.slots_per_epoch = 257), SequencingError::SlotsPerEpoch(257));
        assert_eq!(bad(|s| s.max_proposal_gap = 0), SequencingError::ZeroProposalGap);
        assert!(matches!(bad(|s| s.opt_out_delay_epochs = 1), SequencingError::Delays(_)));
        assert!(matches!(bad(|s| s.opt_in_delay_epochs = 0), SequencingError::Delays(_)));
        assert!(matches!(bad(|s| s.unregistration_delay_epochs = 1), SequencingError::Delays(_)));
        assert!(matches!(bad(|s| s.fallback = Fallback::Whitelist), SequencingError::Whitelist(_)));
        assert!(matches!(
            bad(|s| {
                s.fallback = Fallback::Whitelist;
                s.whitelist = vec![Address::repeat_byte(1), Address::repeat_byte(1)];
            }),
            SequencingError::Whitelist(_)
        ));
        assert_eq!(bad(|s| s.contester_reward = U256::MAX), SequencingError::Reward);
        assert!(matches!(bad(|s| s.challenge_window_slots = 0), SequencingError::Slashing(_)));
        assert!(matches!(bad(|s| s.defence_window_seconds = 0), SequencingError::Slashing(_)));
        // 254 bonded epochs of 32 slots = 8128 slots.
        assert!(matches!(bad(|s| s.challenge_window_slots = 8128), SequencingError::Slashing(_)));
        let mut edge = opt_in();
        edge.challenge_delay_slots = 0;
        edge.challenge_window_slots = 8128;
        edge.validate().unwrap();
        let devnet = |f: fn(&mut DevnetValidators)| {
            let mut s = opt_in();
            if let Some(v) = s.devnet_validators.as_mut() {
                f(v);
            }
            s.validate().unwrap_err()
        };
        assert!(matches!(devnet(|v| v.count = 0), SequencingError::DevnetValidators(_)));
        assert!(matches!(devnet(|v| v.registered.push(8)), SequencingError::DevnetValidators(_)));
        assert!(matches!(devnet(|v| v.registered.push(1)), SequencingError::DevnetValidators(_)));
        assert!(matches!(devnet(|v| v.opted_in.push(2)), SequencingError::DevnetValidators(_)));
        // Permissionless needs no gap.
        let s = Sequencing { max_proposal_gap: 0, ..Sequencing::default() };
        s.validate().unwrap();
    }

    #[test]
    fn delays_in_seconds() {
        let s = Sequencing { slots_per_epoch: 4, ..Sequencing::default() };
        assert_eq!(s.epochs_to_seconds(2, 12), 96);
        assert_eq!(s.epochs_to_seconds(u64::MAX, 12), u64::MAX);
    }
}
