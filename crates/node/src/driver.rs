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
    /// A fresh store needs the L1 blocks ending at the spec's start block (protocol §7.1), and none
    /// were given.
    #[error("a fresh store needs the L1 history ending at the chain spec's start block {0}")]
    NoL1History(u64),
    /// The given L1 history does not end at the chain spec's start block or is not consecutive.
    #[error("L1 history for the start block {start}: {reason}")]
    BadL1History {
        /// The chain spec's `config.based.l1.startBlock`.
        start: u64,
        /// What is wrong.
        reason: String,
    },
}

/// What the node does about a [`DriverError`] (kona-style severities, docs/node.md "Driver
/// states"). Every error has one; none is silently ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Temporary (store I/O): retry the same notification after a backoff. The driver has already
    /// unwound to its last consistent state ([`Driver::repair`]).
    Retry,
    /// The notification itself cannot be applied (its blobs are missing or unverifiable, or it does
    /// not extend the processed L1 chain: a gap or a reorg the follower has not reported): drop it
    /// and ask the L1 follower for the blocks again from the last processed one, after a backoff.
    Refetch,
    /// Critical (the L1 source broke the `Inbox`'s invariants, corrupt metadata, a reorg deeper
    /// than the kept history, an executor rejecting derived input): stop the driver loudly.
    Halt,
}

impl DriverError {
    /// How the node recovers from this error.
    pub const fn recovery(&self) -> Recovery {
        match self {
            Self::Store(_)
            | Self::Import { source: based_engine::EngineError::Store(_), .. }
            | Self::Import {
                source: based_engine::EngineError::Exec(based_evm::ExecError::Database(_)),
                ..
            }
            // The store head moved under the import: repaired before the retry.
            | Self::Import { source: based_engine::EngineError::NotOnHead { .. }, .. } => {
                Recovery::Retry
            }
            Self::Derive { severity: Severity::Temporary | Severity::Reset, .. } => {
                Recovery::Refetch
            }
            Self::Derive { severity: Severity::Critical, .. }
            | Self::Import { .. }
            | Self::Adapter(_)
            | Self::Meta(_)
            | Self::ReorgTooDeep(_)
            | Self::NoL1History(_)
            | Self::BadL1History { .. } => Recovery::Halt,
        }
    }
}

/// Applies L1 notifications to the store.
#[derive(Debug)]
pub struct Driver {
    store: Store,
    spec: Arc<ChainSpec>,
    derive: DeriveConfig,
    /// The chain spec's `Inbox` (`config.based.l1.inboxAddress`).
    inbox: Address,
    state: DerivationState,
    cadence: CommitCadence,
    events: Option<based_rpc::ChainEvents>,
    /// Test-only fault hook: the import of this L2 block number fails (once it is reached).
    #[cfg(test)]
    fail_import: Option<u64>,
}

impl Driver {
    /// Whether [`Driver::open`] on `store` needs the L1 history (a fresh store: no derivation state
    /// persisted yet).
    pub fn needs_l1_history(store: &Store) -> Result<bool, DriverError> {
        Ok(meta::load_progress(store)?.is_none())
    }

    /// The L1 blocks a fresh store's derivation starts with (protocol §7.1): the up to
    /// `maxAnchorAge` blocks ending at the spec's start block `S`, i.e. numbers
    /// `S + 1 - maxAnchorAge ..= S` (from 0 if `S` is smaller).
    pub fn l1_history_range(spec: &ChainSpec) -> std::ops::RangeInclusive<u64> {
        let start = spec.l1().start_block;
        let first = start.saturating_add(1).saturating_sub(spec.derivation().max_anchor_age);
        first..=start
    }

    /// Opens the driver on `store`: writes genesis if needed, loads the persisted derivation
    /// state, and repairs an interrupted L1 block (L2 blocks committed past the persisted
    /// derivation state are unwound).
    ///
    /// A fresh store starts exactly as protocol §7.1 says, from the chain spec alone: after the
    /// spec's start block `S`, on genesis with anchor number 0, with the anchor window seeded from
    /// `l1_history` ([`DerivationState::with_l1_history`]): the L1 blocks
    /// [`Driver::l1_history_range`], oldest first. `l1_history` is only read for a fresh store.
    pub fn open(
        store: Store,
        spec: Arc<ChainSpec>,
        l1_history: Option<Vec<based_derive::L1Head>>,
    ) -> Result<Self, DriverError> {
        based_engine::init_genesis(&store, &spec)
            .map_err(|source| DriverError::Import { number: 0, source })?;
        let derive = DeriveConfig::from_spec(&spec);
        let state = match meta::load_progress(&store)? {
            Some(state) => state,
            None => {
                let start = spec.l1().start_block;
                let history = l1_history.ok_or(DriverError::NoL1History(start))?;
                let range = Self::l1_history_range(&spec);
                let numbers: Vec<u64> = history.iter().map(|h| h.number).collect();
                if numbers != range.clone().collect::<Vec<_>>() {
                    return Err(DriverError::BadL1History {
                        start,
                        reason: format!(
                            "expected L1 blocks {range:?}, got {:?}..={:?}",
                            numbers.first(),
                            numbers.last()
                        ),
                    });
                }
                let genesis = spec.genesis_header();
                let state = DerivationState::with_l1_history(
                    history,
                    based_derive::L2Head {
                        number: 0,
                        timestamp: genesis.timestamp,
                        gas_limit: genesis.gas_limit,
                        // Protocol §4.3 rule 5: genesis' anchor number is 0.
                        anchor: based_primitives::L1Anchor::default(),
                    },
                )
                .map_err(|e| DriverError::BadL1History { start, reason: e.to_string() })?;
                store.put_meta_entries(&meta::progress_entries(&state, None))?;
                state
            }
        };
        let inbox = spec.l1().inbox_address;
        let cadence = CommitCadence::new(DURABLE_EVERY);
        let driver = Self {
            store,
            spec,
            derive,
            inbox,
            state,
            cadence,
            events: None,
            #[cfg(test)]
            fail_import: None,
        };
        driver.repair()?;
        Ok(driver)
    }

    /// Unwinds L2 blocks past the derivation state (a crash, or a failure, between the imports of
    /// one L1 block's L2 blocks leaves such blocks behind), so the store is back at the last
    /// consistent state before anything is retried. A store head *below* the state is corruption.
    pub fn repair(&self) -> Result<(), DriverError> {
        let expected = self.state.l2_head().number;
        match self.store.head()? {
            Some(head) if head.number > expected => {
                warn!(target: "based::node", store_head = head.number, expected, "unwinding L2 blocks of an interrupted L1 block");
                self.store.unwind_to(expected)?;
            }
            Some(head) if head.number < expected => {
                return Err(DriverError::Meta(format!(
                    "store head {} is below the derivation state's L2 head {expected}",
                    head.number
                )));
            }
            _ => {}
        }
        Ok(())
    }

    /// Publishes every import (`Committed`) and unwind (`Unwound`, with the unwound blocks'
    /// logs read before the unwind) to `events`, for the RPC's filters and subscriptions. The
    /// blocks are read from the store only while someone listens.
    pub fn set_events(&mut self, events: based_rpc::ChainEvents) {
        self.events = Some(events);
    }

    /// Reads canonical blocks `from ..= to` for an event, if anyone listens. A read failure
    /// only costs the event (logged): it never stops the driver.
    fn event_blocks(&self, from: u64, to: u64) -> Option<Vec<Arc<based_rpc::ChainBlock>>> {
        if from > to || !self.events.as_ref().is_some_and(|e| e.has_listeners()) {
            return None;
        }
        match based_rpc::ChainBlock::load_range(&self.store, from, to) {
            Ok(blocks) => Some(blocks),
            Err(error) => {
                warn!(target: "based::node", %error, from, to, "reading blocks for RPC chain events failed");
                None
            }
        }
    }

    fn publish(&self, event: based_rpc::ChainEvent) {
        if let Some(events) = &self.events {
            events.publish(event);
        }
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
        let head = self.store.head()?.map_or(target, |h| h.number);
        metrics::counter!(based_metrics::names::L1_REORGS).increment(1);
        metrics::histogram!(based_metrics::names::L2_UNWIND_DEPTH)
            .record(head.saturating_sub(target) as f64);
        let unwound = self.event_blocks(target.saturating_add(1), head);
        self.store.unwind_to_with_meta(target, &meta::progress_entries(&state, None))?;
        self.state = state;
        if let Some(blocks) = unwound {
            self.publish(based_rpc::ChainEvent::Unwound(blocks));
        }
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
    ///
    /// A failure while importing one L1 block's L2 blocks unwinds the ones already imported
    /// ([`Self::repair`]) before the error is returned, so the store and the derivation state agree
    /// and a retry starts from a consistent point.
    pub fn process_all<B: Borrow<L1Block>>(&mut self, blocks: &[B]) -> Result<(), DriverError> {
        let before = self.store.head()?.map_or(0, |h| h.number);
        let mut result = self.process_all_inner(blocks);
        if result.is_err()
            && let Err(repair) = self.repair()
        {
            warn!(target: "based::node", error = %repair, "unwinding after a failed import failed");
            // The repair error decides: the store is not where the state says.
            result = Err(repair);
        }
        // Publish what was imported, also when a later block failed.
        if let Some(after) = self.store.head()?.map(|h| h.number)
            && let Some(blocks) = self.event_blocks(before.saturating_add(1), after)
        {
            self.publish(based_rpc::ChainEvent::Committed(blocks));
        }
        result
    }

    fn process_all_inner<B: Borrow<L1Block>>(&mut self, blocks: &[B]) -> Result<(), DriverError> {
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
            metrics::counter!(
                based_metrics::names::BATCHES_SKIPPED,
                based_metrics::names::LABEL_REASON => batch_skip_label(&s.reason)
            )
            .increment(1);
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
        #[cfg(test)]
        if self.fail_import == Some(number) {
            return Err(DriverError::Store(based_storage::StoreError::Corrupt {
                table: "test",
                reason: "injected fault".into(),
            }));
        }
        let imported = importer
            .import_next(&self.store, &self.spec, derived, meta, durability)
            .map_err(|source| DriverError::Import { number, source })?;
        if imported.header.inner().number != number {
            return Err(DriverError::Meta(format!(
                "derived block {number} imported as {}",
                imported.header.inner().number
            )));
        }
        metrics::counter!(based_metrics::names::L2_BLOCKS_IMPORTED).increment(1);
        metrics::counter!(based_metrics::names::L2_GAS_IMPORTED)
            .increment(imported.header.inner().gas_used);
        metrics::counter!(based_metrics::names::L2_TRANSACTIONS_IMPORTED)
            .increment(imported.transactions.len() as u64);
        for skipped in &imported.skipped {
            metrics::counter!(
                based_metrics::names::TRANSACTIONS_SKIPPED,
                based_metrics::names::LABEL_REASON => based_metrics::reason_label(&skipped.reason)
            )
            .increment(1);
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

/// The bounded `reason` label of a skipped proposal or manifest: `proposal_<rule>` or
/// `manifest_<rule>` (the rule's variant name, without its values).
fn batch_skip_label(reason: &based_derive::SkipReason) -> String {
    match reason {
        based_derive::SkipReason::Proposal(p) => {
            format!("proposal_{}", based_metrics::reason_label(p))
        }
        based_derive::SkipReason::Manifest { reason, .. } => {
            format!("manifest_{}", based_metrics::reason_label(reason))
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloy_primitives::B256;
    use based_derive::{L1Head, L2Head};
    use based_evm::BlockInput;
    use based_evm::L1Anchor;

    const ANCHOR: L1Anchor = L1Anchor { number: 7, hash: B256::repeat_byte(7) };

    fn l1(number: u64) -> L1Head {
        L1Head { number, hash: B256::with_last_byte(number as u8), timestamp: number * 12 }
    }

    /// The devnet spec with derivation starting after L1 block `start`.
    pub(crate) fn spec_at(start: u64) -> Arc<ChainSpec> {
        let spec = ChainSpec::devnet().unwrap();
        let l1 = based_chainspec::L1Params { start_block: start, ..*spec.l1() };
        Arc::new(spec.with_l1(l1).unwrap())
    }

    /// The L1 history a fresh store of `spec` starts with ([`l1`] blocks).
    pub(crate) fn history(spec: &ChainSpec) -> Vec<L1Head> {
        Driver::l1_history_range(spec).map(l1).collect()
    }

    fn log(
        data: alloy_primitives::LogData,
        inbox: Address,
        tx: u64,
        li: u64,
    ) -> alloy_rpc_types_eth::Log {
        alloy_rpc_types_eth::Log {
            inner: alloy_primitives::Log { address: inbox, data },
            transaction_index: Some(tx),
            log_index: Some(li),
            ..Default::default()
        }
    }

    /// L1 block `number` (child of [`l1`]`(number - 1)`) whose proposals `ids` carry one promised
    /// transaction each and no blobs: each derives one (carrier) L2 block. `blob` adds a blob hash
    /// to the first proposal without its blob (unavailable: temporary).
    pub(crate) fn block_with(spec: &ChainSpec, number: u64, ids: &[u64], blob: bool) -> L1Block {
        use alloy_sol_types::SolEvent;
        let inbox = spec.l1().inbox_address;
        let parent = l1(number - 1);
        let header = alloy_consensus::Header {
            number,
            parent_hash: parent.hash,
            timestamp: l1(number).timestamp,
            ..Default::default()
        };
        let mut block = L1Block::header_only(header, l1(number).hash);
        for (i, id) in ids.iter().enumerate() {
            let i = i as u64;
            let proposed = based_contracts::Inbox::Proposed {
                id: alloy_primitives::U256::from(*id),
                proposer: Address::repeat_byte(0xaa),
                blobHashes: if blob && i == 0 { vec![B256::repeat_byte(1)] } else { vec![] },
            };
            let promised = based_contracts::Inbox::Promised {
                id: alloy_primitives::U256::from(*id),
                root: B256::ZERO,
                txs: vec![alloy_primitives::Bytes::from_static(b"\x02not a transaction")],
            };
            block.logs.push(log(proposed.encode_log_data(), inbox, i, 2 * i));
            block.logs.push(log(promised.encode_log_data(), inbox, i, 2 * i + 1));
        }
        block
    }

    #[test]
    fn a_fresh_store_starts_as_protocol_7_1_says() {
        let spec = spec_at(100);
        assert_eq!(Driver::l1_history_range(&spec), 37..=100);
        let store = Store::open_in_memory().unwrap();
        assert!(matches!(
            Driver::open(store.clone(), spec.clone(), None),
            Err(DriverError::NoL1History(100))
        ));
        let short = history(&spec)[1..].to_vec();
        assert!(matches!(
            Driver::open(store.clone(), spec.clone(), Some(short)),
            Err(DriverError::BadL1History { start: 100, .. })
        ));
        let driver = Driver::open(store.clone(), spec.clone(), Some(history(&spec))).unwrap();
        let state = driver.state();
        assert_eq!(*state.l1_head(), l1(100));
        assert_eq!(state.l2_head().anchor, based_primitives::L1Anchor::default());
        assert_eq!(state.l2_head().number, 0);
        // The anchor window holds the 64 blocks ending at the start block.
        assert_eq!(state.recent_l1(37), Some(&l1(37)));
        assert_eq!(state.recent_l1(36), None);
        assert_eq!(driver.derive_config().max_anchor_age, spec.derivation().max_anchor_age);
        assert_eq!(driver.inbox, spec.l1().inbox_address);
        // A reopened store needs no history: the state is persisted.
        drop(driver);
        let again = Driver::open(store, spec, None).unwrap();
        assert_eq!(*again.state().l1_head(), l1(100));
        // Near L1 genesis the window starts at block 0.
        assert_eq!(Driver::l1_history_range(&spec_at(5)), 0..=5);
    }

    #[test]
    fn a_failure_mid_l1_block_unwinds_before_the_retry() {
        let spec = spec_at(0);
        let store = Store::open_in_memory().unwrap();
        let mut driver = Driver::open(store.clone(), spec.clone(), Some(history(&spec))).unwrap();
        let block = block_with(&spec, 1, &[0, 1], false);
        // L1 block 1 derives L2 blocks 1 and 2; importing 2 fails after 1 was committed.
        driver.fail_import = Some(2);
        let err = driver.process(&block).unwrap_err();
        assert_eq!(err.recovery(), Recovery::Retry, "{err}");
        assert_eq!(store.head().unwrap().unwrap().number, 0, "block 1 was unwound");
        assert_eq!(driver.state().l1_head().number, 0);
        // The retry starts from a consistent store and succeeds.
        driver.fail_import = None;
        driver.process(&block).unwrap();
        assert_eq!(store.head().unwrap().unwrap().number, 2);
        assert_eq!(driver.state().l1_head().number, 1);
        assert_eq!(driver.state().l2_head().number, 2);
    }

    #[test]
    fn a_failure_in_a_later_l1_block_keeps_the_earlier_ones() {
        let spec = spec_at(0);
        let store = Store::open_in_memory().unwrap();
        let mut driver = Driver::open(store.clone(), spec.clone(), Some(history(&spec))).unwrap();
        let blocks = [block_with(&spec, 1, &[0], false), block_with(&spec, 2, &[1, 2], false)];
        driver.fail_import = Some(3);
        assert!(driver.process_all(&blocks).is_err());
        // L1 block 1 (L2 block 1) stays; L1 block 2's first L2 block (2) is unwound.
        assert_eq!(store.head().unwrap().unwrap().number, 1);
        assert_eq!(driver.state().l1_head().number, 1);
        driver.fail_import = None;
        // The follower re-sends both blocks: the processed one is skipped.
        driver.process_all(&blocks).unwrap();
        assert_eq!(store.head().unwrap().unwrap().number, 3);
    }

    #[test]
    fn repair_unwinds_past_the_state_and_refuses_a_store_behind_it() {
        let spec = spec_at(0);
        let store = Store::open_in_memory().unwrap();
        let driver = Driver::open(store.clone(), spec.clone(), Some(history(&spec))).unwrap();
        drop(driver);
        // A crash between the imports of one L1 block's L2 blocks: blocks past the progress.
        import_empty(&store, &spec);
        import_empty(&store, &spec);
        assert_eq!(store.head().unwrap().unwrap().number, 2);
        let mut driver = Driver::open(store.clone(), spec, None).unwrap();
        assert_eq!(store.head().unwrap().unwrap().number, 0);
        // A store head below the derivation state is corruption, not something to retry.
        driver.state =
            DerivationState::new(l1(0), L2Head { number: 5, ..*driver.state().l2_head() });
        let err = driver.repair().unwrap_err();
        assert!(matches!(err, DriverError::Meta(_)), "{err}");
        assert_eq!(err.recovery(), Recovery::Halt);
    }

    #[test]
    fn each_error_has_its_recovery() {
        let spec = spec_at(0);
        let store = Store::open_in_memory().unwrap();
        let mut driver = Driver::open(store.clone(), spec.clone(), Some(history(&spec))).unwrap();
        // Does not extend the processed L1 chain (a gap): refetch.
        let gap = driver.process(&block_with(&spec, 2, &[], false)).unwrap_err();
        assert_eq!(gap.recovery(), Recovery::Refetch, "{gap}");
        // A blob the notification lacks: refetch (the blobs are baked into the notification).
        let missing = driver.process(&block_with(&spec, 1, &[0], true)).unwrap_err();
        assert_eq!(missing.recovery(), Recovery::Refetch, "{missing}");
        // A proposal id gap: the L1 source is broken.
        let id_gap = driver.process(&block_with(&spec, 1, &[3], false)).unwrap_err();
        assert_eq!(id_gap.recovery(), Recovery::Halt, "{id_gap}");
        assert_eq!(DriverError::ReorgTooDeep(3).recovery(), Recovery::Halt);
        // None of them changed anything.
        assert_eq!(store.head().unwrap().unwrap().number, 0);
        assert_eq!(driver.state().l1_head().number, 0);
        driver.process(&block_with(&spec, 1, &[0], false)).unwrap();
        assert_eq!(store.head().unwrap().unwrap().number, 1);
    }

    /// Imports an empty L2 block on the store's head (as derivation would) and returns its hash.
    fn import_empty(store: &Store, spec: &ChainSpec) -> B256 {
        let parent = based_engine::head(store).unwrap();
        let input = BlockInput {
            timestamp: parent.timestamp + 2,
            fee_recipient: parent.beneficiary,
            gas_limit: parent.gas_limit,
            anchor: ANCHOR,
            deposits: Vec::new(),
            transactions: Vec::new(),
            parent,
        };
        based_engine::import(store, spec, &input, vec![]).unwrap().header.hash()
    }

    #[test]
    fn an_unwind_publishes_the_unwound_blocks_read_before_the_unwind() {
        let store = Store::open_in_memory().unwrap();
        let spec = spec_at(10);
        let mut driver = Driver::open(store.clone(), spec.clone(), Some(history(&spec))).unwrap();
        let events = based_rpc::ChainEvents::default();
        driver.set_events(events.clone());
        let mut rx = events.subscribe();
        // L1 block 11 derived L2 blocks 1 and 2.
        let hashes = [import_empty(&store, &spec), import_empty(&store, &spec)];
        let genesis = spec.genesis_header();
        driver.state = DerivationState::new(
            l1(11),
            L2Head {
                number: 2,
                timestamp: genesis.timestamp + 4,
                gas_limit: genesis.gas_limit,
                anchor: ANCHOR,
            },
        );
        // L1 block 11 is reorged out: back to the state after L1 block 10 (L2 genesis).
        driver.revert_to(10).unwrap();
        assert_eq!(store.head().unwrap().unwrap().number, 0);
        let event = rx.try_recv().unwrap();
        let based_rpc::ChainEvent::Unwound(blocks) = &*event else { panic!("{event:?}") };
        let got: Vec<(u64, B256)> =
            blocks.iter().map(|b| (b.header.header.number, b.header.hash)).collect();
        assert_eq!(got, vec![(1, hashes[0]), (2, hashes[1])]);
        assert!(rx.try_recv().is_err(), "one event per unwind");
        // Nothing is published for a no-op revert.
        driver.revert_to(10).unwrap();
        assert!(rx.try_recv().is_err());
    }
}
