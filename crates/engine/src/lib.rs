//! Block import for `based`: execute a block on the store's latest state, compute the state root,
//! seal the header and commit everything in one atomic store transaction; unwind on L1 reorgs.
//!
//! Invariants:
//! - a block is only imported on top of the store head (its parent hash is the head hash);
//! - import is all-or-nothing: a failure leaves the store unchanged;
//! - execution is deterministic, so unwinding and re-importing the same inputs reproduces the same
//!   block hashes and state roots;
//! - work that needs no state runs off the critical path without changing results: senders are
//!   recovered in parallel on the rayon pool (for derived blocks, ahead of execution by
//!   [`DerivedImporter`]), and the state root is computed alongside the store writes that do not
//!   depend on it ([`based_storage::Store::seal_and_commit`]).

use alloy_consensus::{Block, Header, ReceiptEnvelope, TxEnvelope};
use alloy_eips::eip4895::Withdrawals;
use alloy_primitives::B256;
use based_chainspec::ChainSpec;
use based_evm::{
    BlockError, BlockInput, ExecError, ForkSpec, RecoveredTx, SealedHeader, SkippedTx,
};
use based_storage::{BlockCommit, Durability, Store, StoreError, UnsealedBlock};
use std::time::{Duration, Instant};

mod derived;
pub use derived::{CommitCadence, DerivedImporter, block_input};

pub use based_evm;
pub use based_storage;

/// Import errors.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// L2 execution failed (bad input or database).
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// Strict-mode block is invalid.
    #[error(transparent)]
    Invalid(#[from] BlockError),
    /// The block does not build on the store head.
    #[error("parent {parent} is not the head {head}")]
    NotOnHead {
        /// The block's parent hash.
        parent: B256,
        /// The store head hash.
        head: B256,
    },
    /// The store has no genesis.
    #[error("store has no genesis")]
    NoGenesis,
    /// Strict mode: computed state root differs from the header.
    #[error("state root mismatch: header {header}, computed {computed}")]
    StateRoot {
        /// Root in the header.
        header: B256,
        /// Computed root.
        computed: B256,
    },
}

impl EngineError {
    /// True when the error is a verdict on the block (invalid), not an infrastructure failure.
    pub const fn is_invalid_block(&self) -> bool {
        match self {
            Self::Invalid(e) => !matches!(e, BlockError::Database(_)),
            Self::StateRoot { .. } => true,
            _ => false,
        }
    }
}

/// A block imported by [`import`].
#[derive(Debug, Clone)]
pub struct ImportedBlock {
    /// Sealed header.
    pub header: SealedHeader,
    /// Included transactions.
    pub transactions: Vec<TxEnvelope>,
    /// Receipts.
    pub receipts: Vec<ReceiptEnvelope>,
    /// Skipped transactions with reasons.
    pub skipped: Vec<SkippedTx>,
    /// Where the import spent its time.
    pub timings: ImportTimings,
}

/// Wall-clock time of the phases of one import (for logs and benchmarks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportTimings {
    /// Sender recovery done inside the import (zero when recovered ahead of time).
    pub recover: Duration,
    /// EVM execution, receipts and header fields.
    pub execute: Duration,
    /// Incremental state root. It runs on a second thread alongside the store writes, so it is
    /// part of (not added to) `commit`.
    pub state_root: Duration,
    /// Sealing and committing: state root and store writes (overlapped), then trie updates,
    /// header and fsync for durable commits.
    pub commit: Duration,
}

/// Writes the chain spec's genesis into `store` (idempotent for the same genesis); returns its hash.
pub fn init_genesis(store: &Store, spec: &ChainSpec) -> Result<B256, EngineError> {
    store.init_genesis(spec.genesis_header(), spec.alloc())?;
    Ok(spec.genesis_hash())
}

fn head_header(store: &Store) -> Result<SealedHeader, EngineError> {
    let header = store.head_header()?.ok_or(EngineError::NoGenesis)?;
    Ok(SealedHeader::new(header))
}

/// Executes an L2 block on the store head, seals it and commits it atomically and durably with
/// `meta`.
pub fn import(
    store: &Store,
    spec: &ChainSpec,
    input: &BlockInput,
    meta: Vec<(Vec<u8>, Vec<u8>)>,
) -> Result<ImportedBlock, EngineError> {
    let started = Instant::now();
    let recovered = based_evm::recover_transactions(&input.transactions);
    let recover = started.elapsed();
    let mut imported =
        import_recovered(store, spec, input, recovered, meta, Durability::Immediate)?;
    imported.timings.recover = recover;
    Ok(imported)
}

/// [`import`] with the transactions already recovered ([`based_evm::recover_transactions`] of
/// `input.transactions`) and a choice of commit [`Durability`].
pub fn import_recovered(
    store: &Store,
    spec: &ChainSpec,
    input: &BlockInput,
    recovered: Vec<RecoveredTx>,
    meta: Vec<(Vec<u8>, Vec<u8>)>,
    durability: Durability,
) -> Result<ImportedBlock, EngineError> {
    let head = store.head()?.ok_or(EngineError::NoGenesis)?;
    if input.parent.hash() != head.hash {
        return Err(EngineError::NotOnHead { parent: input.parent.hash(), head: head.hash });
    }
    let mut timings = ImportTimings::default();
    let started = Instant::now();
    let executed =
        based_evm::execute_l2_block_recovered(spec.chain_id(), store.latest()?, input, recovered)?;
    timings.execute = started.elapsed();
    let started = Instant::now();
    let header = executed.header;
    let committed = store.seal_and_commit(
        UnsealedBlock {
            number: header.number,
            parent_hash: header.parent_hash,
            transactions: executed.transactions.clone(),
            senders: executed.senders,
            receipts: executed.receipts.clone(),
            withdrawals: Some(Withdrawals::new(executed.withdrawals)),
            bundle: executed.bundle,
            meta,
        },
        |state_root| Header { state_root, ..header },
        durability,
    )?;
    timings.commit = started.elapsed();
    timings.state_root = committed.state_root_time;
    let sealed = SealedHeader::new_unchecked(committed.header, committed.hash);
    tracing::debug!(
        target: "based::engine",
        number = sealed.inner().number,
        hash = %sealed.hash(),
        txs = executed.transactions.len(),
        skipped = executed.skipped.len(),
        gas_used = sealed.inner().gas_used,
        execute_ms = timings.execute.as_millis(),
        state_root_ms = timings.state_root.as_millis(),
        commit_ms = timings.commit.as_millis(),
        "imported L2 block"
    );
    Ok(ImportedBlock {
        header: sealed,
        transactions: executed.transactions,
        receipts: executed.receipts,
        skipped: executed.skipped,
        timings,
    })
}

/// Validates, executes and commits a full Ethereum block in strict mode (conformance fixtures).
///
/// An invalid block leaves the store unchanged and returns an error for which
/// [`EngineError::is_invalid_block`] is true.
pub fn import_strict(
    store: &Store,
    fork: &ForkSpec,
    chain_id: u64,
    block: &Block<TxEnvelope>,
) -> Result<B256, EngineError> {
    let parent = head_header(store)?;
    let executed =
        based_evm::execute_strict_block(fork, chain_id, store.latest()?, &parent, block)?;
    let (state_root, trie_updates) = store.state_root_with(&executed.bundle)?;
    if state_root != block.header.state_root {
        return Err(EngineError::StateRoot {
            header: block.header.state_root,
            computed: state_root,
        });
    }
    let hash = block.header.hash_slow();
    store.commit_block(BlockCommit {
        header: block.header.clone(),
        hash,
        transactions: executed.transactions,
        senders: executed.senders,
        receipts: executed.receipts,
        withdrawals: block.body.withdrawals.clone(),
        bundle: executed.bundle,
        trie_updates,
        meta: Vec::new(),
    })?;
    Ok(hash)
}

/// Unwinds the store to block `number` (blocks above it are removed, state restored), atomically.
pub fn unwind_to(store: &Store, number: u64) -> Result<(), EngineError> {
    store.unwind_to(number)?;
    Ok(())
}

/// The head header of the store, sealed.
pub fn head(store: &Store) -> Result<SealedHeader, EngineError> {
    head_header(store)
}

#[cfg(test)]
mod tests;
