//! The proposer lookahead and posting rights (spec: `docs/lookahead.md`), Rust side of
//! `contracts/src/{SlotClock,Lookahead,Whitelist}.sol`.
//!
//! - [`SlotClock`]: slot / epoch / timestamp arithmetic, identical to the contracts' `SlotClock`.
//! - [`lookahead_entries`]: the entries a committer posts for an epoch (`Lookahead.postLookahead`),
//!   computed from the beacon proposer duties and the Registry's commit rights.
//! - [`preconfer_at`] / [`epoch_preconfers`]: the preconfer of a slot from posted entries, with the
//!   same rule as `Lookahead.preconferAt`; the gateway and node use them to know who may propose.
//! - [`whitelist_preconfer`]: the `Whitelist` rule; [`PostedLookahead`] decodes `LookaheadPosted`.
//! - [`contest`]: SSZ Merkle evidence (Fulu `BeaconState`, EIP-7917 `proposer_lookahead`) for
//!   `Lookahead.proveIncorrectLookahead`.
//!
//! Invariants:
//! - For the same entries, commit rights and fallback, [`preconfer_at`] returns what
//!   `Lookahead.preconferAt` returns (tested against the contract on anvil, `tests/lookahead.rs`).
//! - Nothing panics: arithmetic is checked or saturating, as in consensus-critical crates.

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

pub mod contest;

use std::collections::{BTreeMap, HashMap};

use alloy_primitives::{Address, B256};
use based_contracts::Lookahead;
use based_registry::BlsPublicKey;

pub use based_contracts::{
    InboxConfig, LookaheadConfig, Whitelist, inbox_creation_code_with, lookahead_creation_code,
    whitelist_creation_code,
};

/// Errors of this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookaheadError {
    /// `seconds_per_slot` is zero or `slots_per_epoch` is not in `1..=256` (the contract's bound).
    #[error("invalid slot clock: {seconds_per_slot} s per slot, {slots_per_epoch} slots per epoch")]
    InvalidClock {
        /// Seconds per slot.
        seconds_per_slot: u64,
        /// Slots per epoch.
        slots_per_epoch: u64,
    },
    /// A slot or timestamp computation overflowed `u64`.
    #[error("slot arithmetic overflow")]
    Overflow,
    /// A log had a `Lookahead` topic but malformed data.
    #[error("malformed lookahead event: {0}")]
    Abi(String),
    /// A validator public key could not be decoded.
    #[error("bad validator pubkey: {0}")]
    Pubkey(#[from] based_registry::RegistryError),
    /// Contest evidence could not be built.
    #[error("contest proof: {0}")]
    Proof(#[from] contest::ProofError),
}

/// Beacon-chain slot timing (`SlotClock.sol`): `slot(t) = (t - genesis) / seconds_per_slot` (0 before
/// genesis), `epoch(s) = s / slots_per_epoch`, `timestamp(s) = genesis + s * seconds_per_slot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotClock {
    genesis_timestamp: u64,
    seconds_per_slot: u64,
    slots_per_epoch: u64,
}

impl SlotClock {
    /// Mainnet timing (12 s slots, 32 slots per epoch) from `genesis_timestamp`.
    pub const fn mainnet(genesis_timestamp: u64) -> Self {
        Self { genesis_timestamp, seconds_per_slot: 12, slots_per_epoch: 32 }
    }

    /// A clock; rejects `seconds_per_slot == 0` and `slots_per_epoch` outside `1..=256`.
    pub const fn new(
        genesis_timestamp: u64,
        seconds_per_slot: u64,
        slots_per_epoch: u64,
    ) -> Result<Self, LookaheadError> {
        if seconds_per_slot == 0 || slots_per_epoch == 0 || slots_per_epoch > 256 {
            return Err(LookaheadError::InvalidClock { seconds_per_slot, slots_per_epoch });
        }
        Ok(Self { genesis_timestamp, seconds_per_slot, slots_per_epoch })
    }

    /// The clock of a `Lookahead` deployment.
    pub const fn from_config(config: &LookaheadConfig) -> Result<Self, LookaheadError> {
        Self::new(config.genesis_timestamp, config.seconds_per_slot, config.slots_per_epoch)
    }

    /// Timestamp of slot 0.
    pub const fn genesis_timestamp(&self) -> u64 {
        self.genesis_timestamp
    }

    /// Seconds per slot.
    pub const fn seconds_per_slot(&self) -> u64 {
        self.seconds_per_slot
    }

    /// Slots per epoch.
    pub const fn slots_per_epoch(&self) -> u64 {
        self.slots_per_epoch
    }

    /// The slot containing `timestamp` (0 before genesis).
    pub const fn slot_at(&self, timestamp: u64) -> u64 {
        // `seconds_per_slot > 0` by construction; the fallback is unreachable.
        match timestamp.saturating_sub(self.genesis_timestamp).checked_div(self.seconds_per_slot) {
            Some(slot) => slot,
            None => 0,
        }
    }

    /// The epoch of `slot`.
    pub const fn epoch_of(&self, slot: u64) -> u64 {
        // `slots_per_epoch > 0` by construction; the fallback is unreachable.
        match slot.checked_div(self.slots_per_epoch) {
            Some(epoch) => epoch,
            None => 0,
        }
    }

    /// The first slot of `epoch`.
    pub const fn first_slot(&self, epoch: u64) -> Result<u64, LookaheadError> {
        match epoch.checked_mul(self.slots_per_epoch) {
            Some(s) => Ok(s),
            None => Err(LookaheadError::Overflow),
        }
    }

    /// The slots of `epoch`.
    pub fn slots(&self, epoch: u64) -> Result<std::ops::Range<u64>, LookaheadError> {
        let first = self.first_slot(epoch)?;
        let end = first.checked_add(self.slots_per_epoch).ok_or(LookaheadError::Overflow)?;
        Ok(first..end)
    }

    /// The start timestamp of `slot`.
    pub const fn slot_timestamp(&self, slot: u64) -> Result<u64, LookaheadError> {
        match slot.checked_mul(self.seconds_per_slot) {
            Some(d) => match d.checked_add(self.genesis_timestamp) {
                Some(t) => Ok(t),
                None => Err(LookaheadError::Overflow),
            },
            None => Err(LookaheadError::Overflow),
        }
    }

    /// The start timestamp of `epoch`.
    pub fn epoch_timestamp(&self, epoch: u64) -> Result<u64, LookaheadError> {
        self.slot_timestamp(self.first_slot(epoch)?)
    }
}

/// Commit rights as the `Registry` answers them: the committer of a key at a timestamp.
pub trait CommitterLookup {
    /// `Registry.committerAt(pubkey_hash, timestamp)`, `None` for the zero address.
    fn committer_at(&self, pubkey_hash: B256, timestamp: u64) -> Option<Address>;
}

/// A time-independent set of opted-in keys (pubkey hash to committer).
impl CommitterLookup for HashMap<B256, Address> {
    fn committer_at(&self, pubkey_hash: B256, _timestamp: u64) -> Option<Address> {
        self.get(&pubkey_hash).copied().filter(|a| !a.is_zero())
    }
}

/// A time-independent set of opted-in keys (pubkey hash to committer).
impl CommitterLookup for BTreeMap<B256, Address> {
    fn committer_at(&self, pubkey_hash: B256, _timestamp: u64) -> Option<Address> {
        self.get(&pubkey_hash).copied().filter(|a| !a.is_zero())
    }
}

/// Commit rights from a closure `(pubkey_hash, timestamp) -> committer`.
#[derive(Debug, Clone, Copy)]
pub struct FnLookup<F>(pub F);

impl<F: Fn(B256, u64) -> Option<Address>> CommitterLookup for FnLookup<F> {
    fn committer_at(&self, pubkey_hash: B256, timestamp: u64) -> Option<Address> {
        (self.0)(pubkey_hash, timestamp).filter(|a| !a.is_zero())
    }
}

/// One beacon proposer duty (`GET /eth/v1/validator/duties/proposer/{epoch}`, or EIP-7917's
/// `proposer_lookahead` with the validators' keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProposerDuty {
    /// The slot.
    pub slot: u64,
    /// The proposer's validator index.
    pub validator_index: u64,
    /// The proposer key's identity ([`pubkey_hash_of_compressed`]).
    pub pubkey_hash: B256,
}

/// The Registry identity of a validator key given in its 48-byte compressed form (as the beacon API
/// and the BeaconState hold it): keccak-256 of its 128-byte EIP-2537 encoding.
pub fn pubkey_hash_of_compressed(pubkey: &[u8]) -> Result<B256, LookaheadError> {
    Ok(BlsPublicKey::from_compressed(pubkey)?.hash())
}

/// One entry of a posted lookahead (`Lookahead.Entry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookaheadEntry {
    /// The slot.
    pub slot: u64,
    /// The proposer's validator index.
    pub validator_index: u64,
    /// The proposer key's identity.
    pub pubkey_hash: B256,
}

impl LookaheadEntry {
    /// The ABI value.
    pub const fn to_sol(&self) -> Lookahead::Entry {
        Lookahead::Entry {
            slot: self.slot,
            validatorIndex: self.validator_index,
            pubkeyHash: self.pubkey_hash,
        }
    }

    /// From the ABI value (e.g. a `LookaheadPosted` event).
    pub const fn from_sol(entry: &Lookahead::Entry) -> Self {
        Self {
            slot: entry.slot,
            validator_index: entry.validatorIndex,
            pubkey_hash: entry.pubkeyHash,
        }
    }
}

impl From<ProposerDuty> for LookaheadEntry {
    fn from(d: ProposerDuty) -> Self {
        Self { slot: d.slot, validator_index: d.validator_index, pubkey_hash: d.pubkey_hash }
    }
}

/// A decoded `Lookahead.LookaheadPosted` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedLookahead {
    /// The posted epoch.
    pub epoch: u64,
    /// The committer that posted.
    pub poster: Address,
    /// The key whose commit rights authorised the poster.
    pub poster_pubkey_hash: B256,
    /// The entries, in slot order.
    pub entries: Vec<LookaheadEntry>,
}

impl PostedLookahead {
    /// Decodes `log` if it is a `LookaheadPosted` event (`Ok(None)` for any other topic-0).
    pub fn decode(log: &alloy_primitives::Log) -> Result<Option<Self>, LookaheadError> {
        use alloy_sol_types::SolEvent;
        if log.topics().first() != Some(&Lookahead::LookaheadPosted::SIGNATURE_HASH) {
            return Ok(None);
        }
        let ev = Lookahead::LookaheadPosted::decode_log_data(&log.data)
            .map_err(|e| LookaheadError::Abi(e.to_string()))?;
        Ok(Some(Self {
            epoch: u64::try_from(ev.epoch).map_err(|_| LookaheadError::Overflow)?,
            poster: ev.poster,
            poster_pubkey_hash: ev.posterPubkeyHash,
            entries: ev.entries.iter().map(LookaheadEntry::from_sol).collect(),
        }))
    }
}

/// The correct lookahead of `epoch` (what `postLookahead(epoch, ..)` must carry; a contest proves a
/// deviation from it): the duties of `epoch` whose key has a committer at the start of its own slot,
/// in slot order, one per slot (the first duty given for a slot wins; duties outside `epoch` are
/// ignored).
pub fn lookahead_entries(
    clock: &SlotClock,
    epoch: u64,
    duties: &[ProposerDuty],
    rights: &impl CommitterLookup,
) -> Result<Vec<LookaheadEntry>, LookaheadError> {
    let slots = clock.slots(epoch)?;
    let mut by_slot: BTreeMap<u64, ProposerDuty> = BTreeMap::new();
    for duty in duties.iter().filter(|d| slots.contains(&d.slot)) {
        by_slot.entry(duty.slot).or_insert(*duty);
    }
    let mut entries = Vec::with_capacity(by_slot.len());
    for (slot, duty) in by_slot {
        if rights.committer_at(duty.pubkey_hash, clock.slot_timestamp(slot)?).is_some() {
            entries.push(duty.into());
        }
    }
    Ok(entries)
}

/// The preconfer of a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preconfer {
    /// The validator key's identity (zero in whitelist mode).
    pub pubkey_hash: B256,
    /// The committer allowed to propose in the slot.
    pub committer: Address,
}

/// The preconfer of `slot` (the rule of `Lookahead.preconferAt`): among the posted `entries` of
/// `slot`'s epoch (any order; entries of other epochs are ignored), the first at a slot `>= slot`
/// whose key has a committer at `slot_timestamp(slot)`; else `fallback(slot)`; else `None`.
pub fn preconfer_at(
    clock: &SlotClock,
    entries: &[LookaheadEntry],
    slot: u64,
    rights: &impl CommitterLookup,
    fallback: impl Fn(u64) -> Option<Preconfer>,
) -> Result<Option<Preconfer>, LookaheadError> {
    let slots = clock.slots(clock.epoch_of(slot))?;
    let time = clock.slot_timestamp(slot)?;
    let mut candidates: Vec<&LookaheadEntry> =
        entries.iter().filter(|e| e.slot >= slot && slots.contains(&e.slot)).collect();
    candidates.sort_by_key(|e| e.slot);
    for entry in candidates {
        if let Some(committer) = rights.committer_at(entry.pubkey_hash, time) {
            return Ok(Some(Preconfer { pubkey_hash: entry.pubkey_hash, committer }));
        }
    }
    Ok(fallback(slot))
}

/// [`preconfer_at`] for every slot of `epoch`, in slot order.
pub fn epoch_preconfers(
    clock: &SlotClock,
    epoch: u64,
    entries: &[LookaheadEntry],
    rights: &impl CommitterLookup,
    fallback: impl Fn(u64) -> Option<Preconfer>,
) -> Result<Vec<(u64, Option<Preconfer>)>, LookaheadError> {
    clock
        .slots(epoch)?
        .map(|slot| Ok((slot, preconfer_at(clock, entries, slot, rights, &fallback)?)))
        .collect()
}

/// The `Whitelist` rule: `operators[epoch(slot) % len]`, `None` for an empty set.
pub fn whitelist_preconfer(
    clock: &SlotClock,
    operators: &[Address],
    slot: u64,
) -> Option<Preconfer> {
    let len = u64::try_from(operators.len()).ok().filter(|l| *l > 0)?;
    let index = usize::try_from(clock.epoch_of(slot).checked_rem(len)?).ok()?;
    operators
        .get(index)
        .map(|committer| Preconfer { pubkey_hash: B256::ZERO, committer: *committer })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(i: u8) -> B256 {
        B256::repeat_byte(i)
    }

    fn a(i: u8) -> Address {
        Address::repeat_byte(i)
    }

    fn duty(slot: u64, i: u8) -> ProposerDuty {
        ProposerDuty { slot, validator_index: u64::from(i), pubkey_hash: h(i) }
    }

    #[test]
    fn clock_arithmetic() {
        let c = SlotClock::new(1000, 2, 8).unwrap();
        assert_eq!(c.slot_at(0), 0);
        assert_eq!(c.slot_at(1000), 0);
        assert_eq!(c.slot_at(1001), 0);
        assert_eq!(c.slot_at(1002), 1);
        assert_eq!(c.epoch_of(15), 1);
        assert_eq!(c.slot_timestamp(3).unwrap(), 1006);
        assert_eq!(c.epoch_timestamp(2).unwrap(), 1032);
        assert_eq!(c.slots(1).unwrap(), 8..16);
        assert!(SlotClock::new(0, 0, 32).is_err());
        assert!(SlotClock::new(0, 12, 257).is_err());
        assert!(SlotClock::new(0, 12, 256).is_ok());
        assert_eq!(SlotClock::mainnet(7).slot_timestamp(u64::MAX), Err(LookaheadError::Overflow));
    }

    #[test]
    fn entries_keep_only_opted_in_proposers_of_the_epoch() {
        let c = SlotClock::new(0, 12, 8).unwrap();
        let rights: HashMap<B256, Address> = [(h(1), a(1)), (h(3), a(3))].into();
        let duties = [duty(7, 1), duty(8, 1), duty(9, 2), duty(11, 3), duty(11, 1), duty(16, 3)];
        let entries = lookahead_entries(&c, 1, &duties, &rights).unwrap();
        assert_eq!(entries, vec![duty(8, 1).into(), duty(11, 3).into()]);
    }

    #[test]
    fn preconfer_is_next_opted_in_entry_of_the_same_epoch() {
        let c = SlotClock::new(0, 12, 8).unwrap();
        // Key 2 is posted but has no rights: ignored.
        let rights: HashMap<B256, Address> = [(h(1), a(1)), (h(3), a(3))].into();
        let entries: Vec<LookaheadEntry> =
            [duty(9, 1), duty(10, 2), duty(12, 3)].into_iter().map(Into::into).collect();
        let none = |_| None;
        let got: Vec<Option<Address>> = epoch_preconfers(&c, 1, &entries, &rights, none)
            .unwrap()
            .into_iter()
            .map(|(_, p)| p.map(|p| p.committer))
            .collect();
        let want = [1, 1, 3, 3, 3, 0, 0, 0].map(|i| (i != 0).then(|| a(i)));
        assert_eq!(got, want);
        // The next epoch does not see this epoch's entries; the fallback answers.
        let wl = [a(7), a(8)];
        let p = preconfer_at(&c, &entries, 16, &rights, |s| whitelist_preconfer(&c, &wl, s));
        assert_eq!(p.unwrap().unwrap().committer, a(7));
        let p = preconfer_at(&c, &entries, 13, &rights, |s| whitelist_preconfer(&c, &wl, s));
        assert_eq!(p.unwrap().unwrap().committer, a(8));
    }

    #[test]
    fn time_dependent_rights() {
        let c = SlotClock::new(0, 10, 4).unwrap();
        // Key 1 gains rights at t = 20 (slot 2), key 2 has them always.
        let rights = FnLookup(|k: B256, t: u64| {
            (k == h(2) || t >= 20).then(|| if k == h(1) { a(1) } else { a(2) })
        });
        let entries: Vec<LookaheadEntry> =
            [duty(2, 1), duty(3, 2)].into_iter().map(Into::into).collect();
        let got: Vec<Address> = epoch_preconfers(&c, 0, &entries, &rights, |_| None)
            .unwrap()
            .into_iter()
            .map(|(_, p)| p.unwrap().committer)
            .collect();
        assert_eq!(got, vec![a(2), a(2), a(1), a(2)]);
        // The posted entries are judged at their own slot.
        assert_eq!(lookahead_entries(&c, 0, &[duty(1, 1), duty(2, 1)], &rights).unwrap().len(), 1);
    }

    #[test]
    fn posted_event_roundtrip() {
        use alloy_sol_types::SolEvent;
        let entries = vec![LookaheadEntry::from(duty(9, 1))];
        let ev = Lookahead::LookaheadPosted {
            epoch: alloy_primitives::U256::from(3),
            poster: a(1),
            posterPubkeyHash: h(2),
            entries: entries.iter().map(LookaheadEntry::to_sol).collect(),
        };
        let log = alloy_primitives::Log { address: a(9), data: ev.encode_log_data() };
        let got = PostedLookahead::decode(&log).unwrap().unwrap();
        assert_eq!(
            got,
            PostedLookahead { epoch: 3, poster: a(1), poster_pubkey_hash: h(2), entries }
        );
        let mut other = log.clone();
        other.data = alloy_primitives::LogData::new_unchecked(vec![B256::ZERO], Default::default());
        assert_eq!(PostedLookahead::decode(&other).unwrap(), None);
        let mut bad = log;
        bad.data = alloy_primitives::LogData::new_unchecked(
            vec![Lookahead::LookaheadPosted::SIGNATURE_HASH],
            Default::default(),
        );
        assert!(PostedLookahead::decode(&bad).is_err());
    }

    #[test]
    fn whitelist_rotates_per_epoch() {
        let c = SlotClock::new(0, 12, 32).unwrap();
        let ops = [a(1), a(2), a(3)];
        let at = |s| whitelist_preconfer(&c, &ops, s).unwrap().committer;
        assert_eq!((at(0), at(31), at(32), at(95), at(96)), (a(1), a(1), a(2), a(3), a(1)));
        assert_eq!(whitelist_preconfer(&c, &[], 0), None);
    }

    proptest! {
        #[test]
        fn preconfer_rule_matches_naive(
            mask in any::<u16>(),
            opted in any::<u16>(),
            slot in 0u64..48,
        ) {
            let c = SlotClock::new(100, 2, 16).unwrap();
            let entries: Vec<LookaheadEntry> = (0..48u64)
                .filter(|s| mask & (1 << (s % 16)) != 0)
                .map(|s| duty(s, (s % 16) as u8).into())
                .collect();
            let rights: HashMap<B256, Address> = (0..16u8)
                .filter(|i| opted & (1 << i) != 0)
                .map(|i| (h(i), a(i + 1)))
                .collect();
            let got = preconfer_at(&c, &entries, slot, &rights, |_| None).unwrap();
            let end = (slot / 16 + 1) * 16;
            let naive = (slot..end)
                .find(|s| mask & (1 << (s % 16)) != 0 && opted & (1 << (s % 16)) != 0)
                .map(|s| a((s % 16) as u8 + 1));
            prop_assert_eq!(got.map(|p| p.committer), naive);
        }
    }
}
