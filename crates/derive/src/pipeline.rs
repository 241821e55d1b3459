//! The step function: one L1 block in, the new state and the derived L2 blocks out.

use crate::{
    attributes::{self, BlockTemplate, DerivedBlock, L1Origin},
    batch::{self, ProposalInvalid},
    config::DeriveConfig,
    error::DeriveError,
    events,
    input::{InboxEvent, L1BlockInput, L1BlockRef, ProposedEvent},
    queue::{MemoryQueues, QueueReader, QueuedEntries},
    state::{DerivationState, L1Head},
    traits::{BatchDecoder, BlobProvider, QueueProvider},
    traversal,
    validate::{self, ManifestInvalid},
};
use tracing::{debug, warn};

const TARGET: &str = "based::derive";

/// Why some proposal data was skipped (never an error: derivation goes on).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    /// The whole proposal was skipped.
    #[error("proposal skipped: {0}")]
    Proposal(ProposalInvalid),
    /// One manifest was skipped; the rest of the batch was still considered.
    #[error("manifest {index} skipped: {reason}")]
    Manifest {
        /// Index of the manifest in the batch.
        index: u32,
        /// Rule violated.
        reason: ManifestInvalid,
    },
}

/// A skipped proposal or manifest, for logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Proposal id.
    pub proposal_id: u64,
    /// What was skipped and why.
    pub reason: SkipReason,
}

/// Result of deriving one L1 block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeriveOutput {
    /// State after the L1 block; persist it keyed by the L1 block (number and hash).
    pub state: DerivationState,
    /// L2 blocks derived from the L1 block, in order (possibly none).
    pub blocks: Vec<DerivedBlock>,
    /// Skipped data, in derivation order.
    pub skipped: Vec<Skipped>,
    /// Deposits and forced transactions the L1 block queued: persist them (keyed by id, with the
    /// state) so that the [`QueueProvider`] of later L1 blocks returns them.
    pub queued: QueuedEntries,
}

/// [`derive_l1_block_with`] without stored queue entries: for inputs whose derivation never reads
/// an entry queued by an earlier L1 block (e.g. benchmarks without deposits or forced
/// transactions). Reading one is a critical [`DeriveError::QueueEntry`] error.
pub fn derive_l1_block<B: BlobProvider, D: BatchDecoder>(
    cfg: &DeriveConfig,
    state: &DerivationState,
    input: &L1BlockInput,
    blobs: &B,
    decoder: &D,
) -> Result<DeriveOutput, DeriveError> {
    derive_l1_block_with(cfg, state, input, blobs, decoder, &MemoryQueues::new())
}

/// Derives the L2 blocks of one L1 block (protocol §7). Pure: the result depends only on the
/// arguments; `state` is not modified (on error the caller still holds the previous state).
/// `queues` returns the deposits and forced transactions earlier L1 blocks queued (their
/// [`DeriveOutput::queued`]) that `state` counts as pending.
///
/// Errors carry a [`crate::Severity`]: `Temporary` — retry the same call later; `Reset` — `input`
/// does not extend `state` (reload the state stored at the fork point); `Critical` — stop.
pub fn derive_l1_block_with<B: BlobProvider, D: BatchDecoder, Q: QueueProvider + ?Sized>(
    cfg: &DeriveConfig,
    state: &DerivationState,
    input: &L1BlockInput,
    blobs: &B,
    decoder: &D,
    queues: &Q,
) -> Result<DeriveOutput, DeriveError> {
    cfg.validate().map_err(DeriveError::InvalidConfig)?;
    let l1 = &input.block;
    traversal::check_next(state, l1)?;

    let mut next = state.clone();
    let mut blocks = Vec::new();
    let mut skipped = Vec::new();
    let mut queued = QueuedEntries::default();
    for event in &input.events {
        match event {
            InboxEvent::Deposited(ev) => {
                queued.deposits.push(events::queue_deposit(&mut next, l1, ev)?);
            }
            InboxEvent::ForcedInclusionQueued(ev) => {
                queued.forced.push(events::queue_forced(&mut next, l1, ev)?);
            }
            InboxEvent::Proposed(ev) => {
                events::accept_proposal(&mut next, ev)?;
                let reader = QueueReader {
                    base: queues,
                    fresh: &queued,
                    first_fresh_deposit: state.next_deposit_id(),
                    first_fresh_forced: state.next_forced_id(),
                };
                let out = (&mut blocks, &mut skipped);
                derive_proposal(cfg, &mut next, l1, ev, blobs, decoder, &reader, out)?;
            }
        }
    }
    next.push_l1(
        L1Head { number: l1.number, hash: l1.hash, timestamp: l1.timestamp },
        cfg.max_anchor_age,
    );
    debug!(
        target: TARGET,
        l1_number = l1.number,
        l1_hash = %l1.hash,
        derived = blocks.len(),
        skipped = skipped.len(),
        l2_head = next.l2_head().number,
        "derived L1 block"
    );
    Ok(DeriveOutput { state: next, blocks, skipped, queued })
}

#[allow(clippy::too_many_arguments)]
fn derive_proposal<B: BlobProvider, D: BatchDecoder, Q: QueueProvider + ?Sized>(
    cfg: &DeriveConfig,
    state: &mut DerivationState,
    l1: &L1BlockRef,
    proposal: &ProposedEvent,
    blobs: &B,
    decoder: &D,
    queues: &QueueReader<'_, Q>,
    (blocks, skipped): (&mut Vec<DerivedBlock>, &mut Vec<Skipped>),
) -> Result<(), DeriveError> {
    let mut skip = |reason: SkipReason| {
        warn!(target: TARGET, proposal_id = proposal.id, l1_number = l1.number, %reason, "skipping");
        skipped.push(Skipped { proposal_id: proposal.id, reason });
    };
    // Forced transactions due at this inclusion block go in front of the proposal's first block.
    let mut forced_due = attributes::due_forced(cfg, state, l1, queues)?;
    // Promised transactions follow the forced ones in the same (first) block, whatever the blobs hold.
    let mut promised = proposal.promised.clone();
    let mut derived_any = false;

    match batch::load_batch(cfg, l1, proposal, blobs, decoder)? {
        Err(reason) => skip(SkipReason::Proposal(reason)),
        Ok(batch) => {
            for (index, manifest) in batch.manifests.into_iter().enumerate() {
                let index = u32::try_from(index).unwrap_or(u32::MAX);
                if let Err(reason) = validate::validate_manifest(cfg, state, l1, &manifest) {
                    skip(SkipReason::Manifest { index, reason });
                    continue;
                }
                let template = BlockTemplate {
                    timestamp: manifest.timestamp,
                    fee_recipient: manifest.fee_recipient,
                    gas_limit: manifest.gas_limit,
                    anchor: manifest.anchor,
                    transactions: manifest.transactions,
                    origin: L1Origin {
                        block_number: l1.number,
                        block_hash: l1.hash,
                        proposal_id: proposal.id,
                        manifest_index: Some(index),
                    },
                };
                blocks.push(attributes::build_block(
                    cfg,
                    state,
                    template,
                    std::mem::take(&mut forced_due),
                    std::mem::take(&mut promised),
                    queues,
                )?);
                derived_any = true;
            }
        }
    }

    if !derived_any && (!forced_due.is_empty() || !promised.is_empty()) {
        let template = attributes::carrier_template(state, l1, proposal.id, proposal.proposer)?;
        debug!(
            target: TARGET,
            proposal_id = proposal.id,
            forced = forced_due.len(),
            promised = promised.len(),
            "deriving carrier block"
        );
        blocks.push(attributes::build_block(cfg, state, template, forced_due, promised, queues)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        DecodeFailure, Severity,
        decoder::BlobCodecDecoder,
        test_utils::{MemoryBlobs, TestL1},
    };
    use crate::{PendingForcedTx, QueueProvider};
    use alloy_eips::eip4844::Blob;
    use alloy_primitives::{Address, B256, Bytes};
    use based_primitives::{Batch, BlockManifest, L1Anchor, test_utils::BatchGenerator};

    const CHAIN: u64 = 4242;
    const GAS: u64 = 30_000_000;
    const T0: u64 = 1_700_000_000;
    const PROPOSER: Address = Address::repeat_byte(0xaa);

    struct Harness {
        l1: TestL1,
        state: DerivationState,
        /// The queue entries of every derived L1 block (what the node stores by id).
        queues: MemoryQueues,
        cfg: DeriveConfig,
        /// States after each L1 block, by number (what the node persists).
        history: Vec<DerivationState>,
        txs: BatchGenerator,
    }

    impl Harness {
        fn new() -> Self {
            let l1 = TestL1::new(T0);
            let state = l1.genesis_state(T0, GAS);
            Self {
                history: vec![state.clone()],
                l1,
                state,
                queues: MemoryQueues::new(),
                cfg: DeriveConfig::devnet(CHAIN),
                txs: BatchGenerator::new(7, CHAIN),
            }
        }

        fn derive(&self, input: &L1BlockInput) -> Result<DeriveOutput, DeriveError> {
            derive_l1_block_with(
                &self.cfg,
                &self.state,
                input,
                &self.l1.blobs,
                &BlobCodecDecoder::trusting(),
                &self.queues,
            )
        }

        /// Builds the next L1 block with the events `f` returns and derives it.
        fn step(&mut self, f: impl FnOnce(&mut Self) -> Vec<InboxEvent>) -> DeriveOutput {
            let events = f(self);
            let input = self.l1.next_block(events);
            let out = self.derive(&input).unwrap();
            self.state = out.state.clone();
            self.queues.insert(&out.queued);
            self.history.push(out.state.clone());
            out
        }

        fn empty_blocks(&mut self, n: u64) {
            for _ in 0..n {
                assert!(self.step(|_| vec![]).blocks.is_empty());
            }
        }

        /// A valid manifest for a proposal in the next L1 block: anchored to the current L1 head,
        /// timestamp `back` seconds before the inclusion block's.
        fn manifest(&mut self, back: u64, txs: usize) -> BlockManifest {
            BlockManifest {
                timestamp: self.l1.next_timestamp() - back,
                fee_recipient: Address::repeat_byte(0xfe),
                gas_limit: GAS,
                anchor: self.l1.anchor(self.l1.head.number),
                transactions: (0..txs).map(|_| self.txs.next_tx()).collect(),
            }
        }

        fn propose(&mut self, manifests: Vec<BlockManifest>) -> InboxEvent {
            self.l1.propose(PROPOSER, &Batch { chain_id: CHAIN, manifests })
        }
    }

    #[test]
    fn happy_path_derives_every_manifest_in_order() {
        let mut h = Harness::new();
        h.empty_blocks(3);
        let (m0, m1) = (h.manifest(4, 3), h.manifest(2, 0));
        let out = h.step(|h| {
            let p = h.propose(vec![m0.clone(), m1.clone()]);
            vec![p]
        });
        assert!(out.skipped.is_empty(), "{:?}", out.skipped);
        assert_eq!(out.blocks.len(), 2);
        let (b0, b1) = (&out.blocks[0], &out.blocks[1]);
        assert_eq!((b0.number, b1.number), (1, 2));
        assert_eq!(b0.timestamp, m0.timestamp);
        assert_eq!(b0.fee_recipient, m0.fee_recipient);
        assert_eq!(b0.gas_limit, GAS);
        assert_eq!(b0.anchor, m0.anchor);
        assert_eq!(b0.transactions, m0.transactions);
        assert!(b0.forced_inclusion_ids.is_empty() && b0.deposits.is_empty());
        assert_eq!(
            b1.origin,
            L1Origin {
                block_number: 4,
                block_hash: h.l1.head.hash,
                proposal_id: 0,
                manifest_index: Some(1)
            }
        );
        let head = out.state.l2_head();
        assert_eq!((head.number, head.timestamp, head.anchor), (2, m1.timestamp, m1.anchor));
        assert_eq!(out.state.l1_head().number, 4);
        assert_eq!(out.state.next_proposal_id(), 1);
    }

    #[test]
    fn invalid_manifest_is_skipped_and_the_rest_kept() {
        let mut h = Harness::new();
        h.empty_blocks(2);
        let good0 = h.manifest(6, 1);
        let mut bad = h.manifest(4, 1);
        bad.anchor.hash = B256::repeat_byte(0x66);
        let good2 = h.manifest(2, 1);
        let out = h.step(|h| vec![h.propose(vec![good0.clone(), bad.clone(), good2.clone()])]);
        assert_eq!(out.blocks.len(), 2);
        assert_eq!(out.blocks[0].origin.manifest_index, Some(0));
        assert_eq!(out.blocks[1].origin.manifest_index, Some(2));
        assert_eq!(out.blocks[1].number, 2, "skipped manifest does not consume a block number");
        assert_eq!(out.blocks[1].transactions, good2.transactions);
        assert_eq!(
            out.skipped,
            vec![Skipped {
                proposal_id: 0,
                reason: SkipReason::Manifest {
                    index: 1,
                    reason: ManifestInvalid::AnchorHashMismatch(2)
                }
            }]
        );
    }

    #[test]
    fn later_manifest_is_checked_against_last_accepted_block() {
        let mut h = Harness::new();
        h.empty_blocks(2);
        let a = h.manifest(2, 0);
        // Valid after genesis, but not after `a` (same timestamp).
        let b = BlockManifest { transactions: vec![], ..a.clone() };
        let out = h.step(|h| vec![h.propose(vec![a.clone(), b.clone()])]);
        assert_eq!(out.blocks.len(), 1);
        assert!(matches!(
            out.skipped[0].reason,
            SkipReason::Manifest {
                index: 1,
                reason: ManifestInvalid::TimestampNotIncreasing { .. }
            }
        ));
    }

    #[test]
    fn bad_proposals_are_skipped_not_errors() {
        let mut h = Harness::new();
        h.empty_blocks(2);
        let m = h.manifest(2, 1);

        // Wrong chain id.
        let out = h.step(|h| {
            vec![h.l1.propose(PROPOSER, &Batch { chain_id: 1, manifests: vec![m.clone()] })]
        });
        assert!(out.blocks.is_empty());
        assert_eq!(out.skipped[0].reason, SkipReason::Proposal(ProposalInvalid::WrongChainId(1)));

        // Garbage blob.
        let mut garbage = Blob::ZERO;
        garbage[0] = 0x3f;
        garbage[1] = 0xff;
        let out = h.step(|h| vec![h.l1.propose_blobs(PROPOSER, vec![garbage])]);
        assert!(out.blocks.is_empty());
        assert!(matches!(out.skipped[0].reason, SkipReason::Proposal(ProposalInvalid::Batch(_))));

        // No blobs at all.
        let out = h.step(|h| vec![h.l1.propose_blobs(PROPOSER, vec![])]);
        assert_eq!(out.skipped[0].reason, SkipReason::Proposal(ProposalInvalid::NoBlobs));

        // Skipped proposals still consume their ids; a valid one afterwards derives normally.
        assert_eq!(h.state.next_proposal_id(), 3);
        let m = h.manifest(1, 1);
        let out = h.step(|h| vec![h.propose(vec![m.clone()])]);
        assert_eq!(out.blocks.len(), 1);
        assert_eq!(out.blocks[0].origin.proposal_id, 3);
    }

    #[test]
    fn missing_blob_is_temporary_and_retry_is_identical() {
        let mut h = Harness::new();
        h.empty_blocks(1);
        let m = h.manifest(1, 2);
        let ev = h.propose(vec![m]);
        let input = h.l1.next_block(vec![ev.clone()]);
        let InboxEvent::Proposed(p) = &ev else { unreachable!() };
        let stored = h.l1.blobs.blobs.remove(&p.blob_hashes[0]).unwrap();

        let err = h.derive(&input).unwrap_err();
        assert_eq!(err.severity(), Severity::Temporary, "{err}");
        assert!(err.is_temporary());

        h.l1.blobs.insert_arc(p.blob_hashes[0], stored);
        let out = h.derive(&input).unwrap();
        assert_eq!(out.blocks.len(), 1);
    }

    #[test]
    fn blob_source_fault_is_temporary() {
        let mut h = Harness::new();
        h.empty_blocks(1);
        let m = h.manifest(1, 0);
        let ev = h.propose(vec![m]);
        let input = h.l1.next_block(vec![ev]);
        // Fake versioned hashes never match the real KZG commitments.
        let err =
            derive_l1_block(&h.cfg, &h.state, &input, &h.l1.blobs, &BlobCodecDecoder::verifying())
                .unwrap_err();
        assert!(matches!(err, DeriveError::BlobSource { .. }));
        assert_eq!(err.severity(), Severity::Temporary);

        struct Short;
        impl crate::BlobProvider for Short {
            fn blobs(
                &self,
                _: &L1BlockRef,
                _: &[B256],
            ) -> Result<Vec<std::sync::Arc<Blob>>, crate::BlobProviderError> {
                Ok(vec![])
            }
        }
        let err = derive_l1_block(&h.cfg, &h.state, &input, &Short, &BlobCodecDecoder::trusting())
            .unwrap_err();
        // A short answer is the source's fault too (spec §3.6): refetched, never a halt.
        assert!(matches!(err, DeriveError::BlobCountMismatch { .. }));
        assert_eq!(err.severity(), Severity::Temporary);
        let _ = DecodeFailure::Source(String::new());
    }

    #[test]
    fn deposits_wait_for_an_anchor_at_or_after_their_block() {
        let mut h = Harness::new();
        let to = Address::repeat_byte(0x11);
        h.step(|h| vec![h.l1.deposit(to, 5), h.l1.deposit(Address::repeat_byte(0x12), 6)]); // block 1
        h.step(|h| vec![h.l1.deposit(to, 7)]); // block 2
        h.empty_blocks(1); // block 3
        let mut m0 = h.manifest(6, 0);
        m0.anchor = h.l1.anchor(0);
        let mut m1 = h.manifest(4, 0);
        m1.anchor = h.l1.anchor(1);
        let mut m2 = h.manifest(2, 0);
        m2.anchor = h.l1.anchor(1);
        let mut m3 = h.manifest(0, 0);
        m3.anchor = h.l1.anchor(3);
        let out = h.step(|h| vec![h.propose(vec![m0, m1, m2, m3])]);
        assert_eq!(out.blocks.len(), 4);
        let deps: Vec<Vec<(u64, u64, Address, u64)>> = out
            .blocks
            .iter()
            .map(|b| {
                b.deposits
                    .iter()
                    .map(|w| (w.index, w.validator_index, w.address, w.amount))
                    .collect()
            })
            .collect();
        assert_eq!(
            deps,
            vec![
                vec![],
                vec![(0, 0, to, 5), (1, 0, Address::repeat_byte(0x12), 6)],
                vec![],
                vec![(2, 0, to, 7)],
            ]
        );
        assert!(out.state.pending_deposit_ids().is_empty());
    }

    #[test]
    fn deposits_are_capped_per_block_and_keep_id_order() {
        let mut h = Harness::new();
        h.step(|h| {
            (0..300).map(|i| h.l1.deposit(Address::with_last_byte(i as u8), 1 + i)).collect()
        });
        h.empty_blocks(1);
        let (m0, m1) = (h.manifest(2, 0), h.manifest(1, 0));
        let out = h.step(|h| vec![h.propose(vec![m0, m1])]);
        assert_eq!(out.blocks[0].deposits.len(), 256);
        assert_eq!(out.blocks[1].deposits.len(), 44);
        let ids: Vec<u64> =
            out.blocks.iter().flat_map(|b| b.deposits.iter().map(|d| d.index)).collect();
        assert_eq!(ids, (0..300).collect::<Vec<_>>());
        assert_eq!(out.blocks[1].deposits[43].amount, 300);
    }

    /// Forced txs queued at block 1 (ids 0, 1) and block 5 (id 2); window 32.
    fn forced_setup() -> (Harness, Vec<Bytes>) {
        let mut h = Harness::new();
        let txs: Vec<Bytes> = (0..3).map(|_| h.txs.next_tx()).collect();
        let (t0, t1, t2) = (txs[0].clone(), txs[1].clone(), txs[2].clone());
        h.step(|h| vec![h.l1.force(t0), h.l1.force(t1)]); // block 1
        h.empty_blocks(3);
        h.step(|h| vec![h.l1.force(t2)]); // block 5
        (h, txs)
    }

    #[test]
    fn forced_txs_are_prepended_once_due() {
        let (mut h, txs) = forced_setup();
        h.empty_blocks(32 - 5 - 1); // head = 31
        // Proposal in block 32 = 1 + 32 - 1: nothing due yet.
        let m = h.manifest(2, 1);
        let out = h.step(|h| vec![h.propose(vec![m])]);
        assert_eq!(h.l1.head.number, 32);
        assert!(out.blocks[0].forced_inclusion_ids.is_empty());

        // Block 33 = 1 + 32: ids 0 and 1 are due, in the first block of the proposal only.
        let (a, b) = (h.manifest(2, 2), h.manifest(1, 1));
        let out = h.step(|h| vec![h.propose(vec![a.clone(), b.clone()])]);
        assert_eq!(out.blocks[0].forced_inclusion_ids, vec![0, 1]);
        let mut expected = vec![txs[0].clone(), txs[1].clone()];
        expected.extend(a.transactions.clone());
        assert_eq!(out.blocks[0].transactions, expected);
        assert!(out.blocks[1].forced_inclusion_ids.is_empty());
        assert_eq!(out.blocks[1].transactions, b.transactions);
        assert_eq!(out.state.pending_forced_ids(), 2..3);

        // A second proposal in the same block finds nothing more due (id 2 is due at 37).
        h.empty_blocks(3); // head 36
        let m = h.manifest(1, 0);
        let out = h.step(|h| vec![h.propose(vec![m])]); // block 37
        assert_eq!(out.blocks[0].forced_inclusion_ids, vec![2]);
        assert!(out.state.pending_forced_ids().is_empty());
    }

    #[test]
    fn forced_txs_get_a_carrier_block_when_the_proposal_yields_none() {
        let (mut h, txs) = forced_setup();
        h.empty_blocks(33 - 5 - 1); // head 32
        let parent = *h.state.l2_head();
        let out = h.step(|h| vec![h.l1.propose_raw_garbage()]); // block 33
        assert_eq!(out.blocks.len(), 1, "{:?}", out.skipped);
        let b = &out.blocks[0];
        assert_eq!(b.number, parent.number + 1);
        // Parent is genesis (T0): the carrier takes the anchor block's timestamp (§4.3 rule 6).
        assert_eq!(b.timestamp, h.l1.genesis_time + 32 * 12);
        assert!(b.timestamp > parent.timestamp);
        assert_eq!(b.gas_limit, parent.gas_limit);
        assert_eq!(b.fee_recipient, PROPOSER);
        assert_eq!(b.anchor, L1Anchor { number: 32, hash: h.l1.hashes[32] });
        assert_eq!(b.transactions, vec![txs[0].clone(), txs[1].clone()]);
        assert_eq!(b.forced_inclusion_ids, vec![0, 1]);
        assert_eq!(b.origin.manifest_index, None);
        assert_eq!(out.skipped.len(), 1);

        // Nothing due: an invalid proposal derives nothing.
        let out = h.step(|h| vec![h.l1.propose_raw_garbage()]); // block 34
        assert!(out.blocks.is_empty());
    }

    #[test]
    fn carrier_timestamp_follows_a_recent_parent() {
        let (mut h, _) = forced_setup();
        h.empty_blocks(32 - 5 - 1); // head 31
        let m = h.manifest(0, 0); // timestamp = ts(32)
        h.step(|h| vec![h.propose(vec![m])]); // block 32: nothing due yet
        let parent = *h.state.l2_head();
        assert_eq!(parent.timestamp, h.l1.head.timestamp);
        let out = h.step(|h| vec![h.l1.propose_raw_garbage()]); // block 33
        assert_eq!(out.blocks.len(), 1);
        assert_eq!(out.blocks[0].timestamp, parent.timestamp + 1);
        assert!(out.blocks[0].timestamp <= h.l1.head.timestamp);
    }

    #[test]
    fn carrier_block_when_every_manifest_is_invalid() {
        let (mut h, _) = forced_setup();
        h.empty_blocks(33 - 5 - 1);
        let mut m = h.manifest(0, 1);
        m.gas_limit = crate::config::MAX_L2_GAS_LIMIT + 1;
        let out = h.step(|h| vec![h.propose(vec![m])]);
        assert_eq!(out.blocks.len(), 1);
        assert_eq!(out.blocks[0].origin.manifest_index, None);
        assert_eq!(out.blocks[0].forced_inclusion_ids, vec![0, 1]);
    }

    /// Attaches `promised` to a `Proposed` event (what the node's adapter does with `Inbox.Promised`).
    fn with_promised(ev: InboxEvent, promised: &[Bytes]) -> InboxEvent {
        let InboxEvent::Proposed(mut p) = ev else { panic!("not a proposal") };
        p.promised = promised.to_vec();
        InboxEvent::Proposed(p)
    }

    #[test]
    fn promised_txs_follow_the_forced_ones_in_the_first_block() {
        let (mut h, forced) = forced_setup();
        h.empty_blocks(33 - 5 - 1); // head 32: forced ids 0 and 1 due at 33
        let promised: Vec<Bytes> = (0..3).map(|_| h.txs.next_tx()).collect();
        let (a, b) = (h.manifest(2, 2), h.manifest(1, 1));
        let out = h.step(|h| {
            let p = h.propose(vec![a.clone(), b.clone()]);
            vec![with_promised(p, &promised)]
        });
        assert_eq!(out.blocks.len(), 2);
        let first = &out.blocks[0];
        let mut expected = vec![forced[0].clone(), forced[1].clone()];
        expected.extend(promised.iter().cloned());
        expected.extend(a.transactions.clone());
        assert_eq!(first.transactions, expected);
        assert_eq!(first.forced_inclusion_ids, vec![0, 1]);
        assert_eq!(first.promised_count, 3);
        assert_eq!(first.origin.manifest_index, Some(0));
        // Only the first block carries them.
        assert_eq!(out.blocks[1].promised_count, 0);
        assert_eq!(out.blocks[1].transactions, b.transactions);
    }

    #[test]
    fn promised_txs_are_included_whatever_the_blobs_hold() {
        let mut h = Harness::new();
        h.empty_blocks(3);
        let parent = *h.state.l2_head();
        let promised: Vec<Bytes> = (0..2).map(|_| h.txs.next_tx()).collect();
        // An undecodable batch: skipped, but its promised transactions get a carrier block.
        let out = h.step(|h| vec![with_promised(h.l1.propose_raw_garbage(), &promised)]);
        assert_eq!(out.skipped.len(), 1);
        assert_eq!(out.blocks.len(), 1);
        let b = &out.blocks[0];
        assert_eq!(b.number, parent.number + 1);
        assert_eq!(b.transactions, promised);
        assert_eq!(b.promised_count, 2);
        assert!(b.forced_inclusion_ids.is_empty());
        assert_eq!(b.origin.manifest_index, None);
        assert_eq!(b.fee_recipient, PROPOSER);

        // No blobs at all (`proposePromised` without blobs): a carrier block too.
        let more: Vec<Bytes> = vec![h.txs.next_tx()];
        let out = h.step(|h| {
            let InboxEvent::Proposed(mut p) = h.propose(vec![]) else { unreachable!() };
            p.blob_hashes.clear();
            p.promised = more.clone();
            vec![InboxEvent::Proposed(p)]
        });
        assert_eq!(out.blocks.len(), 1);
        assert_eq!(out.blocks[0].transactions, more);

        // Every manifest invalid: the carrier again; without promised transactions: nothing.
        let mut m = h.manifest(0, 1);
        m.gas_limit = crate::config::MAX_L2_GAS_LIMIT + 1;
        let out = h.step(|h| vec![with_promised(h.propose(vec![m.clone()]), &promised)]);
        assert_eq!(out.blocks.len(), 1);
        assert_eq!(out.blocks[0].transactions, promised);
        let out = h.step(|h| vec![h.propose(vec![m])]);
        assert!(out.blocks.is_empty());
    }

    #[test]
    fn anchor_window_through_the_pipeline() {
        let mut h = Harness::new();
        h.empty_blocks(70);
        let p = h.l1.head.number + 1;
        let mut old_ok = h.manifest(3, 0);
        old_ok.anchor = h.l1.anchor(p - 64);
        let mut too_old = h.manifest(2, 0);
        too_old.anchor = h.l1.anchor(p - 65);
        let mut foreign = h.manifest(1, 0);
        foreign.anchor = L1Anchor { number: p - 1, hash: B256::repeat_byte(0x42) };
        let out = h.step(|h| vec![h.propose(vec![too_old, old_ok, foreign])]);
        assert_eq!(out.blocks.len(), 1);
        assert_eq!(out.blocks[0].origin.manifest_index, Some(1));
        let reasons: Vec<_> = out.skipped.iter().map(|s| s.reason.clone()).collect();
        assert!(matches!(
            reasons[0],
            SkipReason::Manifest { index: 0, reason: ManifestInvalid::AnchorTooOld { .. } }
        ));
        assert!(matches!(
            reasons[1],
            SkipReason::Manifest { index: 2, reason: ManifestInvalid::AnchorHashMismatch(_) }
        ));
    }

    #[test]
    fn reorg_resets_and_reloaded_state_rederives() {
        let mut h = Harness::new();
        h.empty_blocks(2);
        let m = h.manifest(1, 1);
        h.step(|h| vec![h.propose(vec![m])]); // block 3: L2 block 1 (proposal 0)
        let m = h.manifest(1, 1);
        h.step(|h| vec![h.propose(vec![m])]); // block 4: L2 block 2 (proposal 1)
        assert_eq!(h.state.l2_head().number, 2);

        // Fork at block 3: an alternative block 4 without the proposal.
        h.l1.fork_at(3, 1);
        h.l1.next_ids.0 = 1;
        let alt4 = h.l1.next_block(vec![]);
        let err = h.derive(&alt4).unwrap_err();
        assert_eq!(err.severity(), Severity::Reset, "{err}");

        // A gap is a reset too.
        let mut gap = alt4.clone();
        gap.block.number = 6;
        assert_eq!(h.derive(&gap).unwrap_err().severity(), Severity::Reset);

        // Reload the persisted state at the fork point (through its encoding) and continue.
        let at3 = DerivationState::decode(&h.history[3].encode()).unwrap();
        assert_eq!(at3.l1_head().number, 3);
        h.state = at3;
        let out = h.derive(&alt4).unwrap();
        assert!(out.blocks.is_empty());
        assert_eq!(out.state.l2_head().number, 1);
        assert_eq!(out.state.l1_head().hash, alt4.block.hash);
    }

    #[test]
    fn queue_entries_are_queued_once_and_a_reorg_rewrites_them() {
        let mut h = Harness::new();
        let (a, b) = (h.txs.next_tx(), h.txs.next_tx());
        let to = Address::repeat_byte(0x11);
        let out = h.step(|h| vec![h.l1.deposit(to, 5), h.l1.force(a.clone())]); // block 1
        assert_eq!(out.queued.deposits.len(), 1);
        assert_eq!(out.queued.forced, vec![PendingForcedTx { id: 0, l1_block: 1, tx: a }]);
        assert_eq!(out.state.pending_forced_ids(), 0..1);
        let out = h.step(|_| vec![]);
        assert!(out.queued.is_empty(), "an L1 block without events queues nothing");

        // Block 1 is reorged out: its replacement queues another transaction under id 0.
        h.l1.fork_at(0, 1);
        h.l1.next_ids = (0, 0, 0);
        h.state = h.history[0].clone();
        h.history.truncate(1);
        h.step(|h| vec![h.l1.force(b.clone())]); // block 1'
        assert_eq!(h.queues.forced_tx(0).unwrap().map(|f| f.tx), Some(b.clone()));
        h.empty_blocks(31);
        // Block 33': the forced transaction of the new branch is included, the deposit is gone.
        let m = h.manifest(1, 0);
        let out = h.step(|h| vec![h.propose(vec![m])]);
        assert_eq!(out.blocks[0].forced_inclusion_ids, vec![0]);
        assert_eq!(out.blocks[0].transactions, vec![b]);
        assert!(out.blocks[0].deposits.is_empty());
        assert!(out.state.pending_forced_ids().is_empty());
        assert!(out.queued.is_empty());
    }

    #[test]
    fn a_pending_entry_the_provider_lacks_is_critical() {
        let (mut h, _) = forced_setup();
        h.empty_blocks(33 - 5 - 1); // head 32: ids 0 and 1 due at 33
        let m = h.manifest(1, 0);
        let ev = h.propose(vec![m]);
        let input = h.l1.next_block(vec![ev]);
        // No stored entries: the due forced transactions cannot be read.
        let err =
            derive_l1_block(&h.cfg, &h.state, &input, &h.l1.blobs, &BlobCodecDecoder::trusting())
                .unwrap_err();
        assert!(matches!(err, DeriveError::QueueEntry { kind: "forced", id: 0, .. }), "{err}");
        assert_eq!(err.severity(), Severity::Critical);
        // With them, the same input derives.
        assert_eq!(h.derive(&input).unwrap().blocks[0].forced_inclusion_ids, vec![0, 1]);
    }

    /// A scripted scenario mixing everything; returns all outputs.
    fn scenario(persist_and_reload: bool) -> Vec<DeriveOutput> {
        let mut h = Harness::new();
        let mut outs = Vec::new();
        for n in 0..80u64 {
            let out = h.step(|h| {
                let mut evs = Vec::new();
                if n % 3 == 0 {
                    evs.push(h.l1.deposit(Address::with_last_byte(n as u8), n + 1));
                }
                if n % 7 == 1 {
                    let tx = h.txs.next_tx();
                    evs.push(h.l1.force(tx));
                }
                if n % 2 == 0 && n > 0 {
                    let ms = vec![h.manifest(5, 2), h.manifest(3, 0), h.manifest(1, 1)];
                    evs.push(h.propose(ms));
                }
                if n % 11 == 5 {
                    evs.push(h.l1.propose_raw_garbage());
                }
                evs
            });
            if persist_and_reload {
                h.state = DerivationState::decode(&h.state.encode()).unwrap();
            }
            outs.push(out);
        }
        outs
    }

    #[test]
    fn derivation_is_deterministic_and_state_reload_is_transparent() {
        let a = scenario(false);
        let b = scenario(false);
        let c = scenario(true);
        assert_eq!(a, b);
        assert_eq!(a, c);
        for (x, y) in a.iter().zip(&c) {
            assert_eq!(x.state.encode(), y.state.encode());
        }
        let blocks: usize = a.iter().map(|o| o.blocks.len()).sum();
        let forced: usize =
            a.iter().flat_map(|o| &o.blocks).map(|b| b.forced_inclusion_ids.len()).sum();
        let deposits: usize = a.iter().flat_map(|o| &o.blocks).map(|b| b.deposits.len()).sum();
        assert!(blocks >= 100, "{blocks}");
        assert!(forced >= 5, "{forced}");
        assert!(deposits >= 20, "{deposits}");
        // L2 numbers are consecutive, timestamps and anchors monotonic.
        let all: Vec<&DerivedBlock> = a.iter().flat_map(|o| &o.blocks).collect();
        for w in all.windows(2) {
            assert_eq!(w[1].number, w[0].number + 1);
            assert!(w[1].timestamp > w[0].timestamp);
            assert!(w[1].anchor.number >= w[0].anchor.number);
        }
    }

    /// A long pseudo-random run with every kind of event (deposits beyond the per-block cap,
    /// forced transactions with carrier blocks, garbage, promised transactions); returns the
    /// derived blocks and skips of every L1 block.
    fn stress_scenario() -> Vec<(Vec<DerivedBlock>, Vec<Skipped>)> {
        let mut h = Harness::new();
        let mut outs = Vec::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for n in 0..400u64 {
            let r = rnd();
            let out = h.step(|h| {
                let mut evs = Vec::new();
                for i in 0..(r % 5) {
                    evs.push(h.l1.deposit(Address::with_last_byte((n + i) as u8), n * 10 + i + 1));
                }
                if n % 50 == 3 {
                    for i in 0..300u64 {
                        evs.push(h.l1.deposit(Address::with_last_byte(i as u8), i + 1));
                    }
                }
                for _ in 0..((r >> 8) % 3) {
                    let tx = h.txs.next_tx();
                    evs.push(h.l1.force(tx));
                }
                match (r >> 16) % 6 {
                    0 | 1 if n > 2 => {
                        let ms = vec![h.manifest(5, 1), h.manifest(2, 0)];
                        evs.push(h.propose(ms));
                    }
                    2 => evs.push(h.l1.propose_raw_garbage()),
                    3 if n > 2 => {
                        let mut m = h.manifest(1, 1);
                        if (r >> 24) % 2 == 0 {
                            m.anchor = h.l1.anchor(n.saturating_sub(2));
                        }
                        let promised = vec![h.txs.next_tx()];
                        evs.push(with_promised(h.propose(vec![m]), &promised));
                    }
                    _ => {}
                }
                evs
            });
            outs.push((out.blocks, out.skipped));
        }
        outs
    }

    /// Derivation results are pinned: any change to what is derived (not to how the state is
    /// stored) changes these digests.
    #[test]
    fn derived_blocks_match_the_golden_digests() {
        let digest = |v: &dyn std::fmt::Debug| alloy_primitives::keccak256(format!("{v:?}"));
        let scenario: Vec<_> = scenario(false).into_iter().map(|o| (o.blocks, o.skipped)).collect();
        let stress = stress_scenario();
        let blocks: usize = stress.iter().map(|(b, _)| b.len()).sum();
        let forced: usize =
            stress.iter().flat_map(|(b, _)| b).map(|b| b.forced_inclusion_ids.len()).sum();
        let deposits: usize = stress.iter().flat_map(|(b, _)| b).map(|b| b.deposits.len()).sum();
        let carriers = stress
            .iter()
            .flat_map(|(b, _)| b)
            .filter(|b| b.origin.manifest_index.is_none())
            .count();
        // Computed with the state format that copied both queues into every state (version 1).
        assert_eq!(
            digest(&scenario),
            alloy_primitives::b256!(
                "0x11850f482e0259aec5372db22551d911e3127887b932c1112547a85db8f9e851"
            )
        );
        assert_eq!((blocks, forced, deposits, carriers), (406, 387, 3207, 64));
        assert_eq!(
            digest(&stress),
            alloy_primitives::b256!(
                "0x8cd90aff5cfd5593f4c067ce7155516d77445654950c587f4505449aa62faa6e"
            )
        );
    }

    #[test]
    fn invalid_config_is_critical() {
        let h = Harness::new();
        let mut l1 = h.l1.clone();
        let input = l1.next_block(vec![]);
        let cfg = DeriveConfig { max_anchor_age: 0, ..h.cfg };
        let err =
            derive_l1_block(&cfg, &h.state, &input, &h.l1.blobs, &BlobCodecDecoder::trusting())
                .unwrap_err();
        assert_eq!(err.severity(), Severity::Critical);
        let _ = MemoryBlobs::default();
    }
}

#[cfg(test)]
mod prop_tests {
    use super::*;
    use crate::{
        DepositedEvent, ForcedInclusionQueuedEvent, Severity, decoder::BlobCodecDecoder,
        test_utils::TestL1,
    };
    use alloy_eips::eip4844::Blob;
    use alloy_primitives::{Address, B256, Bytes, U256};
    use based_primitives::{Batch, BlockManifest, L1Anchor};
    use proptest::prelude::*;
    use std::sync::Arc;

    /// One fuzzed event; offsets are relative to the inclusion block / parent so that a good share
    /// of the manifests is valid.
    #[derive(Debug, Clone)]
    enum Ev {
        Deposit(u8, u64),
        Force(Vec<u8>),
        Garbage(Vec<(u16, u8)>),
        Manifests(u64, Vec<(u8, u8, i32, bool, u8)>),
    }

    fn ev() -> impl Strategy<Value = Ev> {
        prop_oneof![
            (any::<u8>(), 1u64..1_000_000).prop_map(|(a, g)| Ev::Deposit(a, g)),
            proptest::collection::vec(any::<u8>(), 1..64).prop_map(Ev::Force),
            proptest::collection::vec((any::<u16>(), any::<u8>()), 0..16).prop_map(Ev::Garbage),
            (
                prop_oneof![9 => Just(4242u64), 1 => any::<u64>()],
                proptest::collection::vec(
                    (0u8..30, 0u8..70, -40_000i32..40_000, any::<bool>(), 0u8..3),
                    1..5
                )
            )
                .prop_map(|(c, ms)| Ev::Manifests(c, ms)),
        ]
    }

    fn build(l1: &mut TestL1, parent_time: u64, e: &Ev) -> InboxEvent {
        match e {
            Ev::Deposit(a, g) => l1.deposit(Address::with_last_byte(*a), *g),
            Ev::Force(tx) => l1.force(Bytes::from(tx.clone())),
            Ev::Garbage(bytes) => {
                let mut blob = Blob::ZERO;
                for (pos, b) in bytes {
                    blob[usize::from(*pos) * 2] = *b;
                }
                l1.propose_arcs(Address::repeat_byte(1), vec![Arc::new(blob)])
            }
            Ev::Manifests(chain_id, ms) => {
                let p = l1.head.number + 1;
                let p_time = l1.next_timestamp();
                let manifests = ms
                    .iter()
                    .enumerate()
                    .map(|(i, &(back, age, dgas, bad_hash, ntx))| {
                        let n = p.saturating_sub(u64::from(age) + 1);
                        let mut anchor = l1.anchor(n);
                        if bad_hash && age % 7 == 0 {
                            anchor.hash = B256::repeat_byte(0x99);
                        }
                        BlockManifest {
                            timestamp: (parent_time + 1 + i as u64)
                                .max(p_time.saturating_sub(u64::from(back))),
                            fee_recipient: Address::with_last_byte(ntx),
                            gas_limit: (30_000_000i64 + i64::from(dgas)) as u64,
                            anchor,
                            transactions: (0..ntx).map(|k| Bytes::from(vec![k; 3])).collect(),
                        }
                    })
                    .collect();
                l1.propose(Address::repeat_byte(2), &Batch { chain_id: *chain_id, manifests })
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Arbitrary proposals (garbage blobs, invalid manifests) never produce an error or a panic,
        /// and the derived chain always satisfies the protocol invariants.
        #[test]
        fn garbage_never_errors_and_invariants_hold(blocks in proptest::collection::vec(proptest::collection::vec(ev(), 0..4), 1..50)) {
            let cfg = DeriveConfig::devnet(4242);
            let mut l1 = TestL1::new(1_700_000_000);
            let mut state = l1.genesis_state(1_700_000_000, 30_000_000);
            let mut queues = crate::MemoryQueues::new();
            let mut last: Option<DerivedBlock> = None;
            let mut queued_forced: Vec<(u64, u64)> = Vec::new();
            for evs in &blocks {
                let events: Vec<InboxEvent> =
                    evs.iter().map(|e| build(&mut l1, state.l2_head().timestamp, e)).collect();
                let input = l1.next_block(events);
                for e in &input.events {
                    if let InboxEvent::ForcedInclusionQueued(f) = e {
                        queued_forced.push((f.id, input.block.number));
                    }
                }
                let out = derive_l1_block_with(&cfg, &state, &input, &l1.blobs, &BlobCodecDecoder::trusting(), &queues);
                let out = match out {
                    Ok(o) => o,
                    Err(e) => return Err(TestCaseError::fail(format!("unexpected error {e}"))),
                };
                prop_assert_eq!(out.state.check(), Ok(()));
                for b in &out.blocks {
                    if let Some(prev) = &last {
                        prop_assert_eq!(b.number, prev.number + 1);
                        prop_assert!(b.timestamp > prev.timestamp);
                        prop_assert!(b.anchor.number >= prev.anchor.number);
                        if let (Some(x), Some(y)) = (prev.forced_inclusion_ids.last(), b.forced_inclusion_ids.first()) {
                            prop_assert!(y > x);
                        }
                    }
                    prop_assert!(b.anchor.number < input.block.number);
                    prop_assert!(b.deposits.len() <= cfg.max_deposits_per_block);
                    prop_assert!(b.deposits.windows(2).all(|w| w[1].index == w[0].index + 1));
                    for id in &b.forced_inclusion_ids {
                        let q = queued_forced.iter().find(|(i, _)| i == id).map(|(_, q)| *q);
                        prop_assert!(q.is_some_and(|q| q + cfg.forced_inclusion_window <= input.block.number));
                    }
                    prop_assert!(b.timestamp <= input.block.timestamp || b.origin.manifest_index.is_none());
                    last = Some(b.clone());
                }
                // Nothing due may remain after a proposal was processed in this block.
                // Entries below the cursors are never read again: drop them.
                queues.insert(&out.queued);
                queues.prune(&out.state);
                if input.events.iter().any(|e| matches!(e, InboxEvent::Proposed(_))) {
                    let none = crate::QueuedEntries::default();
                    let reader = QueueReader { base: &queues, fresh: &none, first_fresh_deposit: 0, first_fresh_forced: 0 };
                    let due = crate::attributes::due_forced(&cfg, &out.state, &input.block, &reader);
                    prop_assert_eq!(due.map(|d| d.len()), Ok(0));
                }
                state = out.state;
            }
        }

        /// Arbitrary event ids and amounts: either accepted or a critical error, never a panic,
        /// and an error never mutates the caller's state.
        #[test]
        fn raw_events_error_only_as_critical(
            raw in proptest::collection::vec((0u8..3, 0u64..4, any::<u128>()), 0..12)
        ) {
            let cfg = DeriveConfig::devnet(4242);
            let mut l1 = TestL1::new(1_700_000_000);
            let state = l1.genesis_state(1_700_000_000, 30_000_000);
            let before = state.encode();
            let events = raw
                .iter()
                .map(|&(kind, id, amount)| match kind {
                    0 => InboxEvent::Deposited(DepositedEvent { id, from: Address::ZERO, to: Address::ZERO, amount: U256::from(amount) }),
                    1 => InboxEvent::ForcedInclusionQueued(ForcedInclusionQueuedEvent { id, sender: Address::ZERO, signed_tx: Bytes::new() }),
                    _ => InboxEvent::Proposed(ProposedEvent { id, proposer: Address::ZERO, blob_hashes: vec![B256::with_last_byte(amount as u8)], promised: Vec::new(), tx_index: 0, log_index: 0 }),
                })
                .collect();
            let input = l1.next_block(events);
            match derive_l1_block(&cfg, &state, &input, &l1.blobs, &BlobCodecDecoder::trusting()) {
                Ok(out) => prop_assert_eq!(out.state.check(), Ok(())),
                Err(e) => prop_assert!(matches!(e.severity(), Severity::Critical | Severity::Temporary), "{e}"),
            }
            prop_assert_eq!(state.encode(), before);
            let _ = L1Anchor::default();
        }
    }
}
