//! The deposit and forced-inclusion queues, stored apart from the state (protocol §7.2).
//!
//! An entry is produced once, by the L1 block whose event queued it ([`QueuedEntries`], part of
//! [`crate::DeriveOutput`]), and read back by id through a [`QueueProvider`] while it is pending
//! (between the state's cursor and next id). [`MemoryQueues`] is an in-memory provider (tests,
//! tools, and the node's entries of L1 blocks derived but not yet persisted).

use crate::{
    error::{DeriveError, QueueProviderError},
    state::{DerivationState, PendingDeposit, PendingForcedTx},
    traits::QueueProvider,
};
use std::collections::BTreeMap;

/// The entries one L1 block queued, in id order (consecutive ids, continuing the state's next
/// ids before the block).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueuedEntries {
    /// Deposits queued by the block's `Deposited` events.
    pub deposits: Vec<PendingDeposit>,
    /// Forced transactions queued by the block's `ForcedInclusionQueued` events.
    pub forced: Vec<PendingForcedTx>,
}

impl QueuedEntries {
    /// Whether the block queued nothing.
    pub fn is_empty(&self) -> bool {
        self.deposits.is_empty() && self.forced.is_empty()
    }
}

/// An in-memory [`QueueProvider`]: entries by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryQueues {
    deposits: BTreeMap<u64, PendingDeposit>,
    forced: BTreeMap<u64, PendingForcedTx>,
}

impl MemoryQueues {
    /// No entries.
    pub const fn new() -> Self {
        Self { deposits: BTreeMap::new(), forced: BTreeMap::new() }
    }

    /// Stores the entries an L1 block queued (replacing entries with the same ids, as after a
    /// reorg).
    pub fn insert(&mut self, queued: &QueuedEntries) {
        for d in &queued.deposits {
            self.deposits.insert(d.id, *d);
        }
        for f in &queued.forced {
            self.forced.insert(f.id, f.clone());
        }
    }

    /// Drops the entries `state` no longer needs (below its cursors: credited or included).
    pub fn prune(&mut self, state: &DerivationState) {
        self.deposits = self.deposits.split_off(&state.pending_deposit_ids().start);
        self.forced = self.forced.split_off(&state.pending_forced_ids().start);
    }

    /// Drops the entries `state` has not queued yet (at or above its next ids: queued by L1
    /// blocks after it, e.g. of an abandoned branch).
    pub fn truncate(&mut self, state: &DerivationState) {
        let _ = self.deposits.split_off(&state.pending_deposit_ids().end);
        let _ = self.forced.split_off(&state.pending_forced_ids().end);
    }

    /// Number of entries held (both queues).
    pub fn len(&self) -> usize {
        self.deposits.len().saturating_add(self.forced.len())
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.deposits.is_empty() && self.forced.is_empty()
    }
}

impl QueueProvider for MemoryQueues {
    fn deposit(&self, id: u64) -> Result<Option<PendingDeposit>, QueueProviderError> {
        Ok(self.deposits.get(&id).copied())
    }

    fn forced_tx(&self, id: u64) -> Result<Option<PendingForcedTx>, QueueProviderError> {
        Ok(self.forced.get(&id).cloned())
    }
}

/// What the pipeline reads entries through: the entries the L1 block being derived queued so far
/// (not persisted yet), then the provider.
pub(crate) struct QueueReader<'a, Q: ?Sized> {
    pub(crate) base: &'a Q,
    pub(crate) fresh: &'a QueuedEntries,
    /// Id of `fresh.deposits[0]` (the state's next deposit id before the block).
    pub(crate) first_fresh_deposit: u64,
    /// Id of `fresh.forced[0]`.
    pub(crate) first_fresh_forced: u64,
}

fn fresh<T>(entries: &[T], first: u64, id: u64) -> Option<&T> {
    let index = usize::try_from(id.checked_sub(first)?).ok()?;
    entries.get(index)
}

impl<Q: QueueProvider + ?Sized> QueueReader<'_, Q> {
    /// The pending deposit `id`; `after_l1_block` is the L1 block of the entry read before it in
    /// the same pass, if any (entries' L1 blocks never decrease with their ids).
    pub(crate) fn deposit(
        &self,
        id: u64,
        after_l1_block: Option<u64>,
    ) -> Result<PendingDeposit, DeriveError> {
        const KIND: &str = "deposit";
        let entry = match fresh(&self.fresh.deposits, self.first_fresh_deposit, id) {
            Some(d) => Some(*d),
            None => self.base.deposit(id).map_err(|source| DeriveError::Queue {
                kind: KIND,
                id,
                source,
            })?,
        };
        let entry = entry.ok_or(DeriveError::QueueEntry { kind: KIND, id, reason: "missing" })?;
        check_entry(KIND, id, entry.id, entry.l1_block, after_l1_block)?;
        Ok(entry)
    }

    /// The pending forced transaction `id` (see [`Self::deposit`] for `after_l1_block`).
    pub(crate) fn forced(
        &self,
        id: u64,
        after_l1_block: Option<u64>,
    ) -> Result<PendingForcedTx, DeriveError> {
        const KIND: &str = "forced";
        let entry = match fresh(&self.fresh.forced, self.first_fresh_forced, id) {
            Some(f) => Some(f.clone()),
            None => self.base.forced_tx(id).map_err(|source| DeriveError::Queue {
                kind: KIND,
                id,
                source,
            })?,
        };
        let entry = entry.ok_or(DeriveError::QueueEntry { kind: KIND, id, reason: "missing" })?;
        check_entry(KIND, id, entry.id, entry.l1_block, after_l1_block)?;
        Ok(entry)
    }
}

fn check_entry(
    kind: &'static str,
    id: u64,
    got_id: u64,
    l1_block: u64,
    after_l1_block: Option<u64>,
) -> Result<(), DeriveError> {
    if got_id != id {
        return Err(DeriveError::QueueEntry { kind, id, reason: "stored under another id" });
    }
    if after_l1_block.is_some_and(|before| l1_block < before) {
        return Err(DeriveError::QueueEntry {
            kind,
            id,
            reason: "L1 block before its predecessor's",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        Severity,
        state::{L1Head, L2Head},
    };
    use alloy_primitives::{Address, Bytes};

    fn dep(id: u64, l1_block: u64) -> PendingDeposit {
        PendingDeposit { id, l1_block, to: Address::repeat_byte(1), amount_gwei: id }
    }

    fn forced(id: u64, l1_block: u64) -> PendingForcedTx {
        PendingForcedTx { id, l1_block, tx: Bytes::from(vec![id as u8]) }
    }

    #[test]
    fn memory_queues_insert_prune_and_truncate() {
        let mut q = MemoryQueues::new();
        q.insert(&QueuedEntries {
            deposits: (0..5).map(|i| dep(i, 1)).collect(),
            forced: (0..3).map(|i| forced(i, 2)).collect(),
        });
        assert_eq!(q.len(), 8);
        let mut state = DerivationState::new(L1Head::default(), L2Head::default());
        state.next_deposit_id = 4;
        state.first_pending_deposit = 2;
        state.next_forced_id = 2;
        state.first_pending_forced = 1;
        q.prune(&state);
        q.truncate(&state);
        assert_eq!(q.deposit(1), Ok(None));
        assert_eq!(q.deposit(2), Ok(Some(dep(2, 1))));
        assert_eq!(q.deposit(4), Ok(None), "not queued by this state's chain");
        assert_eq!(q.forced_tx(1), Ok(Some(forced(1, 2))));
        assert_eq!(q.len(), 3);
        // A reorg's new branch replaces an id.
        q.insert(&QueuedEntries { deposits: vec![dep(2, 9)], forced: vec![] });
        assert_eq!(q.deposit(2), Ok(Some(dep(2, 9))));
        assert!(!q.is_empty());
    }

    #[test]
    fn reader_prefers_fresh_entries_and_checks_what_it_reads() {
        let mut base = MemoryQueues::new();
        base.insert(&QueuedEntries { deposits: vec![dep(0, 1), dep(1, 3)], forced: vec![] });
        let fresh = QueuedEntries { deposits: vec![dep(2, 5)], forced: vec![forced(0, 5)] };
        let r = QueueReader {
            base: &base,
            fresh: &fresh,
            first_fresh_deposit: 2,
            first_fresh_forced: 0,
        };
        assert_eq!(r.deposit(0, None), Ok(dep(0, 1)));
        assert_eq!(r.deposit(2, Some(3)), Ok(dep(2, 5)));
        assert_eq!(r.forced(0, None), Ok(forced(0, 5)));
        let missing = r.deposit(3, None).unwrap_err();
        assert_eq!(missing.severity(), Severity::Critical, "{missing}");
        let order = r.deposit(0, Some(2)).unwrap_err();
        assert!(matches!(order, DeriveError::QueueEntry { id: 0, .. }), "{order}");

        // A provider storing an entry under the wrong id, or failing to read.
        struct Bad;
        impl QueueProvider for Bad {
            fn deposit(&self, _: u64) -> Result<Option<PendingDeposit>, QueueProviderError> {
                Ok(Some(dep(7, 1)))
            }
            fn forced_tx(&self, _: u64) -> Result<Option<PendingForcedTx>, QueueProviderError> {
                Err(QueueProviderError::Unavailable("disk".into()))
            }
        }
        let empty = QueuedEntries::default();
        let r = QueueReader {
            base: &Bad,
            fresh: &empty,
            first_fresh_deposit: 0,
            first_fresh_forced: 0,
        };
        assert_eq!(r.deposit(3, None).unwrap_err().severity(), Severity::Critical);
        assert_eq!(r.forced(3, None).unwrap_err().severity(), Severity::Temporary);
    }
}
