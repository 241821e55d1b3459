//! Import of derived L2 blocks, with sender recovery running ahead of execution.
//!
//! Signature recovery is the largest per-transaction cost of an L2 block and needs no state, so
//! [`DerivedImporter`] recovers the senders of later blocks on the rayon pool while the caller
//! executes, roots and commits earlier ones. Results are identical to [`crate::import`]: only
//! *when* the recovery runs changes.

use crate::{EngineError, ImportedBlock, head, import_recovered};
use alloy_primitives::Bytes;
use based_chainspec::ChainSpec;
use based_derive::DerivedBlock;
use based_evm::{BlockInput, Deposit, RecoveredTx, SealedHeader, recover_transactions};
use based_storage::{Durability, Store};
use std::{
    sync::mpsc::{Receiver, sync_channel},
    time::{Duration, Instant},
};

/// How many blocks sender recovery may run ahead of the import (bounds memory).
const LOOKAHEAD: usize = 2;

/// Which commits of a run of imports are made durable.
///
/// Within a run (e.g. one L1 notification during catch-up), a commit that ends a group (the last
/// L2 block of an L1 block, carrying that L1 block's progress) is durable when it is the last of
/// the run or when `every` has passed since the last durable commit; every other commit is
/// [`Durability::Deferred`]. A crash then loses at most `every` worth of work, which is re-derived
/// from L1, and fsyncs are not paid per L1 block while catching up. At the L1 tip a run is one L1
/// block, so every L1 block is durable.
#[derive(Debug, Clone)]
pub struct CommitCadence {
    every: Duration,
    last_durable: Instant,
}

impl CommitCadence {
    /// A cadence making group ends durable at least every `every`.
    pub fn new(every: Duration) -> Self {
        Self { every, last_durable: Instant::now() }
    }

    /// Durability of a commit: `group_end` = it carries the progress of a finished group,
    /// `last_of_run` = nothing follows it in this run.
    pub fn durability(&mut self, group_end: bool, last_of_run: bool) -> Durability {
        let due = self.last_durable.elapsed() >= self.every;
        if last_of_run || (group_end && due) {
            self.last_durable = Instant::now();
            Durability::Immediate
        } else {
            Durability::Deferred
        }
    }
}

/// The execution input of a derived block on top of `parent`.
pub fn block_input(derived: &DerivedBlock, parent: SealedHeader) -> BlockInput {
    BlockInput {
        parent,
        timestamp: derived.timestamp,
        fee_recipient: derived.fee_recipient,
        gas_limit: derived.gas_limit,
        anchor: derived.anchor,
        deposits: derived
            .deposits
            .iter()
            .map(|w| Deposit { id: w.index, to: w.address, amount_gwei: w.amount })
            .collect(),
        transactions: derived.transactions.clone(),
    }
}

/// Imports a sequence of derived blocks in order, recovering senders ahead of execution.
///
/// [`DerivedImporter::start`] takes the whole sequence and starts recovering it in the
/// background; [`DerivedImporter::import_next`] must then be called with the same blocks in the
/// same order. A block out of sequence is still imported correctly (its senders are recovered
/// inline and the look-ahead stops).
#[derive(Debug)]
pub struct DerivedImporter {
    ahead: Option<Receiver<(u64, Vec<RecoveredTx>)>>,
}

impl DerivedImporter {
    /// Starts recovering the senders of `blocks` in the background.
    pub fn start<'a>(blocks: impl IntoIterator<Item = &'a DerivedBlock>) -> Self {
        let work: Vec<(u64, Vec<Bytes>)> =
            blocks.into_iter().map(|b| (b.number, b.transactions.clone())).collect();
        if work.is_empty() {
            return Self { ahead: None };
        }
        let (tx, rx) = sync_channel(LOOKAHEAD);
        let spawned = std::thread::Builder::new().name("sender-recovery".into()).spawn(move || {
            for (number, raw) in work {
                // The importer was dropped (error or early stop): nothing left to do.
                if tx.send((number, recover_transactions(&raw))).is_err() {
                    return;
                }
            }
        });
        match spawned {
            Ok(_) => Self { ahead: Some(rx) },
            Err(error) => {
                tracing::warn!(target: "based::engine", %error, "no recovery thread; recovering inline");
                Self { ahead: None }
            }
        }
    }

    /// Imports `derived`, the next block of the sequence, on the store head.
    pub fn import_next(
        &mut self,
        store: &Store,
        spec: &ChainSpec,
        derived: &DerivedBlock,
        meta: Vec<(Vec<u8>, Vec<u8>)>,
        durability: Durability,
    ) -> Result<ImportedBlock, EngineError> {
        let waited = Instant::now();
        let recovered = match self.ahead.as_ref().map(Receiver::recv) {
            Some(Ok((number, recovered))) if number == derived.number => recovered,
            _ => {
                self.ahead = None;
                recover_transactions(&derived.transactions)
            }
        };
        let recover = waited.elapsed();
        let input = block_input(derived, head(store)?);
        let mut imported = import_recovered(store, spec, &input, recovered, meta, durability)?;
        imported.timings.recover = recover;
        Ok(imported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cadence_is_durable_at_run_end_and_when_due() {
        let mut c = CommitCadence::new(Duration::from_secs(3600));
        assert_eq!(c.durability(false, false), Durability::Deferred);
        assert_eq!(c.durability(true, false), Durability::Deferred, "not due yet");
        assert_eq!(c.durability(true, true), Durability::Immediate);
        assert_eq!(c.durability(false, true), Durability::Immediate);
        let mut c = CommitCadence::new(Duration::ZERO);
        assert_eq!(c.durability(false, false), Durability::Deferred, "mid-group never durable");
        assert_eq!(c.durability(true, false), Durability::Immediate, "due group end");
    }
}
