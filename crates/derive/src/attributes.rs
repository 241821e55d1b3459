//! Stage 5: block attributes — turns an accepted manifest (or a forced-inclusion carrier) into a
//! [`DerivedBlock`], taking due deposits and forced transactions off the queues (reading the
//! entries, advancing the state's cursors).

use crate::{
    config::DeriveConfig,
    error::DeriveError,
    input::L1BlockRef,
    queue::QueueReader,
    state::{DerivationState, PendingForcedTx},
    traits::QueueProvider,
};
use alloy_eips::eip4895::Withdrawal;
use alloy_primitives::{Address, B256, Bytes};
use based_primitives::L1Anchor;

/// Where an L2 block comes from on L1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct L1Origin {
    /// L1 block that included the proposal.
    pub block_number: u64,
    /// Hash of that L1 block.
    pub block_hash: B256,
    /// Proposal id.
    pub proposal_id: u64,
    /// Index of the manifest in the proposal's batch; `None` for a forced-inclusion carrier block
    /// derived because the proposal yielded no valid block (protocol §6.3).
    pub manifest_index: Option<u32>,
}

/// Everything the executor needs for one L2 block (maps 1:1 onto `based_evm::BlockInput` given the
/// parent header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedBlock {
    /// L2 block number (parent + 1).
    pub number: u64,
    /// Timestamp.
    pub timestamp: u64,
    /// Fee recipient (coinbase).
    pub fee_recipient: Address,
    /// Gas limit.
    pub gas_limit: u64,
    /// L1 anchor.
    pub anchor: L1Anchor,
    /// Deposits credited before the anchor call and the transactions, as EIP-4895 withdrawals
    /// (`index` = deposit id, `validator_index` = 0, `address` = recipient, `amount` in gwei).
    pub deposits: Vec<Withdrawal>,
    /// Ordered EIP-2718 transactions: the forced ones first (`forced_inclusion_ids.len()` of them),
    /// then the proposal's promised ones (`promised_count` of them), then the manifest's.
    pub transactions: Vec<Bytes>,
    /// Ids of the forced-inclusion transactions at the front of `transactions`, in order.
    pub forced_inclusion_ids: Vec<u64>,
    /// Number of promised transactions (`Inbox.Promised`) right after the forced ones.
    pub promised_count: usize,
    /// L1 origin.
    pub origin: L1Origin,
}

/// The proposer-chosen part of a block.
pub(crate) struct BlockTemplate {
    pub(crate) timestamp: u64,
    pub(crate) fee_recipient: Address,
    pub(crate) gas_limit: u64,
    pub(crate) anchor: L1Anchor,
    pub(crate) transactions: Vec<Bytes>,
    pub(crate) origin: L1Origin,
}

/// The forced transactions at the front of the queue that are due in L1 block `l1` (protocol
/// §6.3: due ones form a prefix, ids and queueing blocks increase together), in id order. Reads
/// every due entry and the first one not due, if any.
pub(crate) fn due_forced<Q: QueueProvider + ?Sized>(
    cfg: &DeriveConfig,
    state: &DerivationState,
    l1: &L1BlockRef,
    queues: &QueueReader<'_, Q>,
) -> Result<Vec<PendingForcedTx>, DeriveError> {
    let mut due = Vec::new();
    let mut last_block = None;
    for id in state.pending_forced_ids() {
        let f = queues.forced(id, last_block)?;
        if f.l1_block.saturating_add(cfg.forced_inclusion_window) > l1.number {
            break;
        }
        last_block = Some(f.l1_block);
        due.push(f);
    }
    Ok(due)
}

/// Template of the carrier block derived when a proposal yields no valid block but forced
/// transactions are due or it carries promised transactions (protocol §6.3, §7.3): anchored to the inclusion block's parent `P - 1`,
/// timestamp `max(parent.timestamp + 1, timestamp of P - 1)`, parent gas limit, the proposer as
/// fee recipient, no proposer transactions.
pub(crate) fn carrier_template(
    state: &DerivationState,
    l1: &L1BlockRef,
    proposal_id: u64,
    proposer: Address,
) -> Result<BlockTemplate, DeriveError> {
    let parent = state.l2_head();
    // The state's L1 head is P - 1 (checked by the traversal stage).
    let anchor_time = state.l1_head().timestamp;
    let after_parent =
        parent.timestamp.checked_add(1).ok_or(DeriveError::Overflow("L2 timestamp"))?;
    Ok(BlockTemplate {
        timestamp: after_parent.max(anchor_time),
        fee_recipient: proposer,
        gas_limit: parent.gas_limit,
        anchor: L1Anchor {
            number: l1.number.checked_sub(1).ok_or(DeriveError::Overflow("L1 block number"))?,
            hash: l1.parent_hash,
        },
        transactions: Vec::new(),
        origin: L1Origin {
            block_number: l1.number,
            block_hash: l1.hash,
            proposal_id,
            manifest_index: None,
        },
    })
}

/// Seals `template` as the next L2 block: prepends `forced` (the due forced transactions, the
/// front of the queue) and then `promised`, credits up to `max_deposits_per_block` deposits from
/// L1 blocks `<= anchor`, advances the queue cursors and the L2 head.
pub(crate) fn build_block<Q: QueueProvider + ?Sized>(
    cfg: &DeriveConfig,
    state: &mut DerivationState,
    template: BlockTemplate,
    forced: Vec<PendingForcedTx>,
    promised: Vec<Bytes>,
    queues: &QueueReader<'_, Q>,
) -> Result<DerivedBlock, DeriveError> {
    let number =
        state.l2_head.number.checked_add(1).ok_or(DeriveError::Overflow("L2 block number"))?;

    let promised_count = promised.len();
    let mut transactions = Vec::with_capacity(
        forced.len().saturating_add(promised_count).saturating_add(template.transactions.len()),
    );
    let mut forced_inclusion_ids = Vec::with_capacity(forced.len());
    for f in forced {
        if f.id != state.first_pending_forced || f.id >= state.next_forced_id {
            return Err(DeriveError::QueueEntry {
                kind: "forced",
                id: f.id,
                reason: "not the front of the queue",
            });
        }
        state.first_pending_forced =
            f.id.checked_add(1).ok_or(DeriveError::Overflow("forced id"))?;
        forced_inclusion_ids.push(f.id);
        transactions.push(f.tx);
    }
    transactions.extend(promised);
    transactions.extend(template.transactions);

    let anchor = template.anchor;
    let mut deposits = Vec::new();
    let mut last_block = None;
    for id in state.pending_deposit_ids() {
        if deposits.len() >= cfg.max_deposits_per_block {
            break;
        }
        let d = queues.deposit(id, last_block)?;
        if d.l1_block > anchor.number {
            break;
        }
        last_block = Some(d.l1_block);
        deposits.push(Withdrawal {
            index: d.id,
            validator_index: 0,
            address: d.to,
            amount: d.amount_gwei,
        });
        state.first_pending_deposit =
            id.checked_add(1).ok_or(DeriveError::Overflow("deposit id"))?;
    }

    state.l2_head.number = number;
    state.l2_head.timestamp = template.timestamp;
    state.l2_head.gas_limit = template.gas_limit;
    state.l2_head.anchor = anchor;

    Ok(DerivedBlock {
        number,
        timestamp: template.timestamp,
        fee_recipient: template.fee_recipient,
        gas_limit: template.gas_limit,
        anchor,
        deposits,
        transactions,
        forced_inclusion_ids,
        promised_count,
        origin: template.origin,
    })
}
