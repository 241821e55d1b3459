//! The driver: applies L1 notifications to the L2 chain.
//!
//! For every committed L1 block it runs the derivation step, imports the derived L2 blocks and
//! persists the derivation state *in the same store transaction* as the last L2 block of that L1
//! block (or alone when the L1 block derived nothing). For a reverted L1 segment it reloads the
//! derivation state stored for the fork point and unwinds the L2 blocks derived after it.

use crate::{
    adapter::{self, BlockBlobs},
    meta,
};
use alloy_primitives::Address;
use based_chainspec::ChainSpec;
use based_derive::{
    BlobCodecDecoder, DerivationState, DeriveConfig, DeriveOutput, DerivedBlock, Severity,
    derive_l1_block,
};
use based_engine::{CommitCadence, DerivedImporter};
use based_l1::{L1Block, L1Notification};
use based_storage::Store;
use std::{borrow::Borrow, sync::Arc, time::Duration};
use tracing::{debug, info, warn};

/// Longest stretch of catch-up work a crash can lose (it is re-derived from L1 on restart).
pub const DURABLE_EVERY: Duration = Duration::from_secs(5);

/// Errors that stop the driver. Bad L1 *data* never gets here (it is skipped by derivation).
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] based_storage::StoreError),
    /// Importing a derived block failed.
    #[error("import of L2 block {number}: {source}")]
    Import {
        /// L2 block number.
        number: u64,
        /// Cause.
        #[source]
        source: based_engine::EngineError,
    },
    /// Derivation failed with the given severity.
    #[error("derivation ({severity:?}): {source}")]
    Derive {
        /// Severity reported by the pipeline.
        severity: Severity,
        /// Cause.
        #[source]
        source: based_derive::DeriveError,
    },
    /// The L1 source broke its contract.
    #[error(transparent)]
    Adapter(#[from] adapter::AdapterError),
    /// Persisted node metadata is unreadable.
    #[error("corrupt metadata: {0}")]
    Meta(String),
    /// A reorg reaches below the oldest derivation state kept.
    #[error("reorg to L1 block {0} is deeper than the retained history")]
    ReorgTooDeep(u64),
}

/// Applies L1 notifications to the store.
#[derive(Debug)]
pub struct Driver {
    store: Store,
    spec: Arc<ChainSpec>,
    derive: DeriveConfig,
    inbox: Address,
    state: DerivationState,
    cadence: CommitCadence,
}

impl Driver {
    /// Opens the driver on `store`: writes genesis if needed, loads the persisted derivation
    /// state (or starts after `l1_start`), and repairs an interrupted L1 block (L2 blocks committed
    /// past the persisted derivation state are unwound).
    pub fn open(
        store: Store,
        spec: Arc<ChainSpec>,
        inbox: Address,
        l1_start: based_derive::L1Head,
    ) -> Result<Self, DriverError> {
        based_engine::init_genesis(&store, &spec)
            .map_err(|source| DriverError::Import { number: 0, source })?;
        let derive = DeriveConfig::devnet(spec.chain_id());
        let state = match meta::load_progress(&store)? {
            Some(state) => state,
            None => {
                let genesis = spec.genesis_header();
                let state = DerivationState::new(
                    l1_start,
                    based_derive::L2Head {
                        number: 0,
                        timestamp: genesis.timestamp,
                        gas_limit: genesis.gas_limit,
                        anchor: based_primitives::L1Anchor {
                            number: l1_start.number,
                            hash: l1_start.hash,
                        },
                    },
                );
                store.put_meta_entries(&meta::progress_entries(&state, None))?;
                state
            }
        };
        let cadence = CommitCadence::new(DURABLE_EVERY);
        let driver = Self { store, spec, derive, inbox, state, cadence };
        driver.repair()?;
        Ok(driver)
    }

    /// Unwinds L2 blocks past the persisted derivation state (a crash between the imports of one
    /// L1 block's L2 blocks leaves such blocks behind).
    fn repair(&self) -> Result<(), DriverError> {
        let expected = self.state.l2_head().number;
        if let Some(head) = self.store.head()?
            && head.number > expected
        {
            warn!(target: "based::node", store_head = head.number, expected, "unwinding L2 blocks of an interrupted L1 block");
            self.store.unwind_to(expected)?;
        }
        Ok(())
    }

    /// The current derivation state.
    pub const fn state(&self) -> &DerivationState {
        &self.state
    }

    /// The store.
    pub const fn store(&self) -> &Store {
        &self.store
    }

    /// The derivation configuration.
    pub const fn derive_config(&self) -> &DeriveConfig {
        &self.derive
    }

    /// Applies one notification. Returns the L1 block now fully processed.
    pub fn apply(&mut self, notification: &L1Notification) -> Result<(), DriverError> {
        if let Some(old) = notification.reverted_chain() {
            let fork = old.first().number().saturating_sub(1);
            self.revert_to(fork)?;
        }
        if let Some(new) = notification.committed_chain() {
            self.process_all(new.blocks())?;
        }
        Ok(())
    }

    /// Rewinds to the state after L1 block `l1_number`.
    pub fn revert_to(&mut self, l1_number: u64) -> Result<(), DriverError> {
        if l1_number >= self.state.l1_head().number {
            return Ok(());
        }
        let state = meta::load_state(&self.store, l1_number)?
            .ok_or(DriverError::ReorgTooDeep(l1_number))?;
        let target = state.l2_head().number;
        info!(
            target: "based::node",
            l1_fork = l1_number,
            l1_head = self.state.l1_head().number,
            l2_unwind_to = target,
            "L1 reorg: unwinding"
        );
        self.store.unwind_to_with_meta(target, &meta::progress_entries(&state, None))?;
        self.state = state;
        Ok(())
    }

    /// Derives and imports the L2 blocks of one L1 block.
    pub fn process(&mut self, block: &L1Block) -> Result<(), DriverError> {
        self.process_all(std::slice::from_ref(block))
    }

    /// Derives and imports the L2 blocks of consecutive L1 blocks.
    ///
    /// Derivation needs no execution results, so all blocks are derived first; the L2 blocks are
    /// then imported in order with sender recovery running ahead ([`DerivedImporter`]). Each L1
    /// block's progress is committed in the same store transaction as its last L2 block (or alone
    /// when it derived nothing). Commits are durable per [`CommitCadence`]: always at the end of
    /// the run, and at least every [`DURABLE_EVERY`] in between; the rest are deferred. A crash
    /// reopens the store at the last durable commit, whose progress matches its L2 head (and
    /// [`Self::open`] repairs any L2 block past the progress). A derivation error is returned after
    /// the L1 blocks before it are imported.
    pub fn process_all<B: Borrow<L1Block>>(&mut self, blocks: &[B]) -> Result<(), DriverError> {
        let mut derived = Vec::with_capacity(blocks.len());
        let mut failure = None;
        let mut state = self.state.clone();
        for block in blocks.iter().map(Borrow::borrow) {
            if block.number() <= state.l1_head().number {
                // Already processed (e.g. re-sent after a restart).
                continue;
            }
            match self.derive_one(&state, block) {
                Ok(out) => {
                    state = out.state.clone();
                    derived.push((block, out));
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let mut importer = DerivedImporter::start(derived.iter().flat_map(|(_, out)| &out.blocks));
        let runs = derived.len();
        for (n, (block, out)) in derived.into_iter().enumerate() {
            let last_l1 = n + 1 == runs;
            let count = out.blocks.len();
            let progress = meta::progress_entries(&out.state, Some(&block.header));
            if count == 0 {
                let durability = self.cadence.durability(true, last_l1);
                self.store.put_meta_entries_with(&progress, durability)?;
            }
            for (i, l2) in out.blocks.iter().enumerate() {
                let mut entries = vec![meta::origin_entry(l2)];
                let group_end = i + 1 == count;
                if group_end {
                    entries.extend(progress.iter().cloned());
                }
                let durability = self.cadence.durability(group_end, group_end && last_l1);
                self.import(&mut importer, l2, entries, durability)?;
            }
            debug!(target: "based::node", l1_block = block.number(), l2_blocks = count, "processed L1 block");
            self.state = out.state;
        }
        failure.map_or(Ok(()), Err)
    }

    /// Runs the derivation step of one L1 block on `state`.
    fn derive_one(
        &self,
        state: &DerivationState,
        block: &L1Block,
    ) -> Result<DeriveOutput, DriverError> {
        let input = adapter::block_input(self.inbox, block)?;
        // The L1 source verified every blob against its versioned hash: decode without a second
        // (expensive) KZG pass.
        let decoder = BlobCodecDecoder::trusting();
        let out = derive_l1_block(&self.derive, state, &input, &BlockBlobs(block), &decoder)
            .map_err(|source| DriverError::Derive { severity: source.severity(), source })?;
        for s in &out.skipped {
            warn!(target: "based::node", l1_block = block.number(), proposal = s.proposal_id, reason = %s.reason, "skipped");
        }
        Ok(out)
    }

    fn import(
        &self,
        importer: &mut DerivedImporter,
        derived: &DerivedBlock,
        meta: Vec<(Vec<u8>, Vec<u8>)>,
        durability: based_storage::Durability,
    ) -> Result<(), DriverError> {
        let number = derived.number;
        let imported = importer
            .import_next(&self.store, &self.spec, derived, meta, durability)
            .map_err(|source| DriverError::Import { number, source })?;
        if imported.header.inner().number != number {
            return Err(DriverError::Meta(format!(
                "derived block {number} imported as {}",
                imported.header.inner().number
            )));
        }
        for skipped in &imported.skipped {
            debug!(target: "based::node", l2_block = number, tx = %skipped.hash, reason = %skipped.reason, "transaction skipped");
        }
        info!(
            target: "based::node",
            l2_block = number,
            hash = %imported.header.hash(),
            txs = imported.transactions.len(),
            skipped = imported.skipped.len(),
            l1_origin = derived.origin.block_number,
            recover_wait_ms = imported.timings.recover.as_millis(),
            execute_ms = imported.timings.execute.as_millis(),
            state_root_ms = imported.timings.state_root.as_millis(),
            commit_ms = imported.timings.commit.as_millis(),
            "L2 block"
        );
        Ok(())
    }
}
