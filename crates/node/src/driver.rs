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
    BlobCodecDecoder, DerivationState, DeriveConfig, DerivedBlock, Severity, derive_l1_block,
};
use based_evm::{BlockInput, Deposit};
use based_l1::{L1Block, L1Notification};
use based_storage::Store;
use std::sync::Arc;
use tracing::{debug, info, warn};

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
                meta::put_progress(&store, &state, None)?;
                state
            }
        };
        let driver = Self { store, spec, derive, inbox, state };
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
            for block in new.blocks() {
                self.process(block)?;
            }
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
        let head = self.state.l1_head();
        if block.number() <= head.number {
            // Already processed (e.g. re-sent after a restart).
            return Ok(());
        }
        let input = adapter::block_input(self.inbox, block)?;
        // The L1 source verified every blob against its versioned hash: decode without a second
        // (expensive) KZG pass.
        let decoder = BlobCodecDecoder::trusting();
        let out = derive_l1_block(&self.derive, &self.state, &input, &BlockBlobs(block), &decoder)
            .map_err(|source| DriverError::Derive { severity: source.severity(), source })?;
        for s in &out.skipped {
            warn!(target: "based::node", l1_block = block.number(), proposal = s.proposal_id, reason = %s.reason, "skipped");
        }
        let count = out.blocks.len();
        let progress = meta::progress_entries(&out.state, Some(&block.header));
        if count == 0 {
            meta::put_progress(&self.store, &out.state, Some(&block.header))?;
        }
        for (i, derived) in out.blocks.iter().enumerate() {
            let mut entries = vec![meta::origin_entry(derived)];
            if i + 1 == count {
                entries.extend(progress.iter().cloned());
            }
            self.import(derived, entries)?;
        }
        debug!(target: "based::node", l1_block = block.number(), l2_blocks = count, "processed L1 block");
        self.state = out.state;
        Ok(())
    }

    fn import(
        &self,
        derived: &DerivedBlock,
        meta: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> Result<(), DriverError> {
        let number = derived.number;
        let parent = based_engine::head(&self.store)
            .map_err(|source| DriverError::Import { number, source })?;
        let input = BlockInput {
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
        };
        let imported = based_engine::import(&self.store, &self.spec, &input, meta)
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
            "L2 block"
        );
        Ok(())
    }
}
