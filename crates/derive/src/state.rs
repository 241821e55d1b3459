//! The derivation state: a small value snapshot taken after each L1 block.
//!
//! The node persists [`DerivationState::encode`] keyed by L1 block number **and hash** after every
//! derived L1 block. On an L1 reorg it reloads the state stored for the common ancestor and feeds
//! the new canonical blocks again; nothing else is needed because the state (with the queue
//! entries it points to, see below) is the *only* input carried from one L1 block to the next. The
//! encoding is canonical RLP (deterministic, bit-identical for equal states).
//!
//! The deposit and forced-inclusion queues are not copied into the state: every entry is queued
//! once ([`crate::DeriveOutput::queued`]), stored by the node append-only keyed by id, and read back
//! through a [`crate::QueueProvider`]. The state holds only the cursors: the queue of pending
//! deposits is the ids `first_pending_deposit .. next_deposit_id`, the forced queue
//! `first_pending_forced .. next_forced_id`. So the state's size does not depend on the queues'.

use alloy_primitives::{Address, B256, Bytes};
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};
use based_primitives::L1Anchor;
use std::ops::Range;

/// Version byte prefixed to the state encoding. Version 1 (before the queues were stored apart)
/// copied both queues into every state; it is refused with [`StateDecodeError::Outdated`].
pub const STATE_ENCODING_VERSION: u8 = 2;

/// The last L1 block the state has consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, RlpEncodable, RlpDecodable)]
pub struct L1Head {
    /// Number.
    pub number: u64,
    /// Hash.
    pub hash: B256,
    /// Timestamp.
    pub timestamp: u64,
}

/// The last derived L2 block, i.e. the parent of the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, RlpEncodable, RlpDecodable)]
pub struct L2Head {
    /// L2 block number.
    pub number: u64,
    /// L2 block timestamp.
    pub timestamp: u64,
    /// L2 block gas limit.
    pub gas_limit: u64,
    /// L1 anchor of the block (for the genesis block: the L1 block derivation starts after).
    pub anchor: L1Anchor,
}

/// A deposit seen on L1 and not yet credited on L2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, RlpEncodable, RlpDecodable)]
pub struct PendingDeposit {
    /// Deposit id.
    pub id: u64,
    /// L1 block that emitted the deposit.
    pub l1_block: u64,
    /// L2 recipient.
    pub to: Address,
    /// Amount in gwei.
    pub amount_gwei: u64,
}

/// A forced-inclusion transaction queued on L1 and not yet carried by an L2 block.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, RlpEncodable, RlpDecodable)]
pub struct PendingForcedTx {
    /// Forced-inclusion id.
    pub id: u64,
    /// L1 block that queued it.
    pub l1_block: u64,
    /// Signed transaction bytes (EIP-2718).
    pub tx: Bytes,
}

/// Everything the derivation carries from one L1 block to the next.
///
/// Invariants (checked by [`DerivationState::decode`]): `recent_l1` is non-empty, has consecutive
/// numbers and ends with `l1_head`; each queue cursor is at most the next expected id of its kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, RlpEncodable, RlpDecodable)]
pub struct DerivationState {
    pub(crate) l1_head: L1Head,
    /// The L1 blocks `l1_head.number + 1 - len ..= l1_head.number`, oldest first (anchor window).
    pub(crate) recent_l1: Vec<L1Head>,
    pub(crate) l2_head: L2Head,
    pub(crate) next_proposal_id: u64,
    pub(crate) next_deposit_id: u64,
    /// The first deposit id not credited yet (pending: `first_pending_deposit..next_deposit_id`).
    pub(crate) first_pending_deposit: u64,
    pub(crate) next_forced_id: u64,
    /// The first forced id not included yet (pending: `first_pending_forced..next_forced_id`).
    pub(crate) first_pending_forced: u64,
}

/// Why bytes are not a valid state encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateDecodeError {
    /// Empty input or unknown version byte.
    #[error("unknown state encoding version")]
    Version,
    /// A state written by an older release in a format this one no longer reads (version 1 held
    /// copies of the queues). The store must be resynced from L1.
    #[error(
        "derivation state encoding version {0} was written by an older release (this one writes \
         version {STATE_ENCODING_VERSION}); the data directory must be resynced from L1"
    )]
    Outdated(u8),
    /// Malformed RLP.
    #[error("state RLP: {0}")]
    Rlp(#[from] alloy_rlp::Error),
    /// Bytes after the state.
    #[error("trailing bytes after the state")]
    TrailingBytes,
    /// The decoded state violates an invariant.
    #[error("inconsistent state: {0}")]
    Inconsistent(&'static str),
}

impl DerivationState {
    /// Initial state: derivation starts with the L1 block after `l1_start` (the chain's configured
    /// start block, at or after the `Inbox` deployment), on top of the L2 block `l2_head` (genesis).
    ///
    /// Only `l1_start` is known as an anchor target; use [`DerivationState::with_l1_history`] to
    /// also make the up to `MAX_ANCHOR_AGE - 1` blocks before it valid anchors (protocol §7.1).
    /// The genesis anchor number is 0 (protocol §4.3 rule 5); it is a lower bound for every derived
    /// anchor (anchors never decrease).
    pub fn new(l1_start: L1Head, l2_head: L2Head) -> Self {
        Self {
            l1_head: l1_start,
            recent_l1: vec![l1_start],
            l2_head,
            next_proposal_id: 0,
            next_deposit_id: 0,
            first_pending_deposit: 0,
            next_forced_id: 0,
            first_pending_forced: 0,
        }
    }

    /// Initial state like [`DerivationState::new`] with `l1_history` = the L1 blocks up to and
    /// including the start block, oldest first, consecutive (the last one is the start block).
    pub fn with_l1_history(
        l1_history: Vec<L1Head>,
        l2_head: L2Head,
    ) -> Result<Self, StateDecodeError> {
        let l1_head =
            *l1_history.last().ok_or(StateDecodeError::Inconsistent("empty L1 history"))?;
        let state = Self { l1_head, recent_l1: l1_history, ..Self::new(l1_head, l2_head) };
        state.check()?;
        Ok(state)
    }

    /// The last L1 block consumed.
    pub const fn l1_head(&self) -> &L1Head {
        &self.l1_head
    }

    /// The last derived L2 block (parent of the next one).
    pub const fn l2_head(&self) -> &L2Head {
        &self.l2_head
    }

    /// Next expected proposal id.
    pub const fn next_proposal_id(&self) -> u64 {
        self.next_proposal_id
    }

    /// Next expected deposit id (from L1 events).
    pub const fn next_deposit_id(&self) -> u64 {
        self.next_deposit_id
    }

    /// Next expected forced-inclusion id (from L1 events).
    pub const fn next_forced_id(&self) -> u64 {
        self.next_forced_id
    }

    /// Ids of the deposits seen on L1 and not yet credited (their entries are read through a
    /// [`crate::QueueProvider`]); entries below `start` are no longer needed by this state.
    pub const fn pending_deposit_ids(&self) -> Range<u64> {
        self.first_pending_deposit..self.next_deposit_id
    }

    /// Ids of the forced transactions queued and not yet included (their entries are read through
    /// a [`crate::QueueProvider`]); entries below `start` are no longer needed by this state.
    pub const fn pending_forced_ids(&self) -> Range<u64> {
        self.first_pending_forced..self.next_forced_id
    }

    /// The recent L1 block `number`, if it is within the retained window.
    pub fn recent_l1(&self, number: u64) -> Option<&L1Head> {
        let back = self.l1_head.number.checked_sub(number)?;
        let len = self.recent_l1.len();
        let idx = len.checked_sub(1)?.checked_sub(usize::try_from(back).ok()?)?;
        self.recent_l1.get(idx)
    }

    /// Appends `head` as the new last L1 block, keeping at most `keep` recent hashes.
    pub(crate) fn push_l1(&mut self, head: L1Head, keep: u64) {
        self.l1_head = head;
        self.recent_l1.push(head);
        let keep = usize::try_from(keep).unwrap_or(usize::MAX).max(1);
        let excess = self.recent_l1.len().saturating_sub(keep);
        if excess > 0 {
            self.recent_l1.drain(..excess);
        }
    }

    /// Deterministic encoding: `STATE_ENCODING_VERSION || rlp(state)`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.length().saturating_add(1));
        out.push(STATE_ENCODING_VERSION);
        Encodable::encode(self, &mut out);
        out
    }

    /// Decodes and checks a state produced by [`DerivationState::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, StateDecodeError> {
        let (&version, mut rest) = bytes.split_first().ok_or(StateDecodeError::Version)?;
        match version {
            STATE_ENCODING_VERSION => {}
            1 => return Err(StateDecodeError::Outdated(version)),
            _ => return Err(StateDecodeError::Version),
        }
        let state = <Self as Decodable>::decode(&mut rest)?;
        if !rest.is_empty() {
            return Err(StateDecodeError::TrailingBytes);
        }
        state.check()?;
        Ok(state)
    }

    /// Checks the structural invariants.
    pub fn check(&self) -> Result<(), StateDecodeError> {
        use StateDecodeError::Inconsistent;
        if self.recent_l1.last() != Some(&self.l1_head) {
            return Err(Inconsistent("recent L1 blocks must end with the L1 head"));
        }
        if self.recent_l1.windows(2).any(|w| {
            // Equal timestamps are valid (protocol §7.3: only a decreasing L1 timestamp is
            // rejected; anvil mines several blocks in one second).
            matches!(w, [a, b] if a.number.checked_add(1) != Some(b.number) || a.timestamp > b.timestamp)
        }) {
            return Err(Inconsistent("recent L1 blocks not consecutive"));
        }
        if self.first_pending_deposit > self.next_deposit_id {
            return Err(Inconsistent("deposit cursor beyond the next deposit id"));
        }
        if self.first_pending_forced > self.next_forced_id {
            return Err(Inconsistent("forced cursor beyond the next forced id"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DerivationState {
        let mut s = DerivationState::new(
            L1Head { number: 10, hash: B256::repeat_byte(10), timestamp: 120 },
            L2Head {
                number: 0,
                timestamp: 100,
                gas_limit: 30_000_000,
                anchor: L1Anchor::default(),
            },
        );
        for n in 11..=20u8 {
            s.push_l1(
                L1Head {
                    number: u64::from(n),
                    hash: B256::repeat_byte(n),
                    timestamp: 12 * u64::from(n),
                },
                4,
            );
        }
        s.next_deposit_id = 3;
        s.first_pending_deposit = 1;
        s.next_forced_id = 1;
        s
    }

    #[test]
    fn window_keeps_last_n_hashes() {
        let s = sample();
        assert_eq!(s.recent_l1.len(), 4);
        assert_eq!(s.recent_l1(20).map(|b| b.hash), Some(B256::repeat_byte(20)));
        assert_eq!(
            s.recent_l1(17).map(|b| (b.hash, b.timestamp)),
            Some((B256::repeat_byte(17), 204))
        );
        assert_eq!(s.recent_l1(16), None, "trimmed");
        assert_eq!(s.recent_l1(21), None, "future");
        assert_eq!(s.l1_head().number, 20);
    }

    #[test]
    fn history_seeds_the_anchor_window() {
        let hist: Vec<L1Head> = (5..=9u8)
            .map(|n| L1Head {
                number: u64::from(n),
                hash: B256::repeat_byte(n),
                timestamp: u64::from(n),
            })
            .collect();
        let s = DerivationState::with_l1_history(hist.clone(), L2Head::default()).unwrap();
        assert_eq!(s.l1_head().number, 9);
        assert_eq!(s.recent_l1(5), Some(&hist[0]));
        let mut gap = hist;
        gap.remove(2);
        assert!(DerivationState::with_l1_history(gap, L2Head::default()).is_err());
        assert!(DerivationState::with_l1_history(vec![], L2Head::default()).is_err());
    }

    #[test]
    fn encoding_roundtrips_and_is_canonical() {
        let s = sample();
        let enc = s.encode();
        assert_eq!(enc.first(), Some(&STATE_ENCODING_VERSION));
        let back = DerivationState::decode(&enc).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.encode(), enc, "bit-identical re-encoding");
    }

    #[test]
    fn queues_are_cursors_and_do_not_grow_the_encoding() {
        let s = sample();
        assert_eq!(s.pending_deposit_ids(), 1..3);
        assert_eq!(s.pending_forced_ids(), 0..1);
        // A million queued forced transactions cost a state a few bytes of cursor.
        let mut big = sample();
        big.next_forced_id = 1_000_000;
        big.next_deposit_id = 1_000_000;
        assert!(big.encode().len() <= s.encode().len() + 8, "{}", big.encode().len());
        assert_eq!(DerivationState::decode(&big.encode()), Ok(big));
    }

    #[test]
    fn decode_rejects_bad_input() {
        let enc = sample().encode();
        assert_eq!(DerivationState::decode(&[]), Err(StateDecodeError::Version));
        let mut v3 = enc.clone();
        v3[0] = 3;
        assert_eq!(DerivationState::decode(&v3), Err(StateDecodeError::Version));
        // A version-1 state (queues copied into it) is refused with a resync message.
        let mut v1 = enc.clone();
        v1[0] = 1;
        let err = DerivationState::decode(&v1).unwrap_err();
        assert_eq!(err, StateDecodeError::Outdated(1));
        assert!(err.to_string().contains("resynced"), "{err}");
        let mut trailing = enc.clone();
        trailing.push(0);
        assert_eq!(DerivationState::decode(&trailing), Err(StateDecodeError::TrailingBytes));
        assert!(matches!(
            DerivationState::decode(&enc[..enc.len() - 1]),
            Err(StateDecodeError::Rlp(_))
        ));
    }

    #[test]
    fn check_rejects_inconsistent_states() {
        let mut s = sample();
        s.recent_l1.pop();
        assert!(matches!(s.check(), Err(StateDecodeError::Inconsistent(_))));

        let mut s = sample();
        s.recent_l1[1].number = 99;
        assert!(matches!(s.check(), Err(StateDecodeError::Inconsistent(_))));

        // A decreasing L1 timestamp is inconsistent; an equal one is not (§7.3).
        let mut s = sample();
        s.recent_l1[1].timestamp = s.recent_l1[0].timestamp.saturating_sub(1);
        assert!(matches!(s.check(), Err(StateDecodeError::Inconsistent(_))));
        let mut s = sample();
        s.recent_l1[1].timestamp = s.recent_l1[0].timestamp;
        assert_eq!(DerivationState::decode(&s.encode()), Ok(s));

        let mut s = sample();
        s.next_deposit_id = 0;
        assert!(matches!(s.check(), Err(StateDecodeError::Inconsistent(_))));

        let mut s = sample();
        s.first_pending_forced = 2;
        assert!(matches!(s.check(), Err(StateDecodeError::Inconsistent(_))));
        assert!(DerivationState::decode(&s.encode()).is_err());

        assert_eq!(sample().check(), Ok(()));
    }
}
