//! Stage 2: `Inbox` event extraction — queues deposits and forced-inclusion transactions and checks
//! that every event kind's ids are contiguous (a gap means the L1 source lost or duplicated logs).

use crate::{
    error::DeriveError,
    input::{DepositedEvent, ForcedInclusionQueuedEvent, L1BlockRef, ProposedEvent},
    state::{DerivationState, PendingDeposit, PendingForcedTx},
};
use alloy_primitives::U256;

/// 1 gwei in wei.
const GWEI: U256 = U256::from_limbs([1_000_000_000, 0, 0, 0]);

fn next_id(counter: &mut u64, got: u64, kind: &'static str) -> Result<(), DeriveError> {
    if got != *counter {
        return Err(DeriveError::EventIdGap { kind, expected: *counter, got });
    }
    *counter = counter.checked_add(1).ok_or(DeriveError::Overflow("event id"))?;
    Ok(())
}

/// Accounts for a `Proposed` event's id.
pub fn accept_proposal(state: &mut DerivationState, ev: &ProposedEvent) -> Result<(), DeriveError> {
    next_id(&mut state.next_proposal_id, ev.id, "Proposed")
}

/// Queues a deposit emitted by L1 block `l1`: advances the state's next deposit id and returns the
/// entry to store (protocol §6.2).
pub fn queue_deposit(
    state: &mut DerivationState,
    l1: &L1BlockRef,
    ev: &DepositedEvent,
) -> Result<PendingDeposit, DeriveError> {
    let (gwei, rem) = ev.amount.div_rem(GWEI);
    if !rem.is_zero() {
        return Err(DeriveError::InvalidDepositAmount { id: ev.id });
    }
    let amount_gwei =
        u64::try_from(gwei).map_err(|_| DeriveError::InvalidDepositAmount { id: ev.id })?;
    next_id(&mut state.next_deposit_id, ev.id, "Deposited")?;
    Ok(PendingDeposit { id: ev.id, l1_block: l1.number, to: ev.to, amount_gwei })
}

/// Queues a forced-inclusion transaction emitted by L1 block `l1`: advances the state's next
/// forced id and returns the entry to store (protocol §6.3).
pub fn queue_forced(
    state: &mut DerivationState,
    l1: &L1BlockRef,
    ev: &ForcedInclusionQueuedEvent,
) -> Result<PendingForcedTx, DeriveError> {
    next_id(&mut state.next_forced_id, ev.id, "ForcedInclusionQueued")?;
    Ok(PendingForcedTx { id: ev.id, l1_block: l1.number, tx: ev.signed_tx.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        Severity,
        state::{L1Head, L2Head},
    };
    use alloy_primitives::{Address, B256, Bytes};

    fn setup() -> (DerivationState, L1BlockRef) {
        let s = DerivationState::new(L1Head::default(), L2Head::default());
        (s, L1BlockRef { number: 1, ..Default::default() })
    }

    fn dep(id: u64, wei: U256) -> DepositedEvent {
        DepositedEvent { id, from: Address::ZERO, to: Address::repeat_byte(7), amount: wei }
    }

    #[test]
    fn deposits_queue_in_id_order_with_gwei_amounts() {
        let (mut s, l1) = setup();
        let a = queue_deposit(&mut s, &l1, &dep(0, U256::from(3_000_000_000u64))).unwrap();
        let b = queue_deposit(&mut s, &l1, &dep(1, U256::from(1_000_000_000u64))).unwrap();
        assert_eq!(s.next_deposit_id, 2);
        assert_eq!(s.pending_deposit_ids(), 0..2);
        let amounts: Vec<_> = [a, b].iter().map(|d| (d.id, d.l1_block, d.amount_gwei)).collect();
        assert_eq!(amounts, vec![(0, 1, 3), (1, 1, 1)]);
    }

    #[test]
    fn deposit_id_gap_is_critical() {
        let (mut s, l1) = setup();
        let e = queue_deposit(&mut s, &l1, &dep(1, GWEI)).unwrap_err();
        assert_eq!(e, DeriveError::EventIdGap { kind: "Deposited", expected: 0, got: 1 });
        assert_eq!(e.severity(), Severity::Critical);
        assert!(s.pending_deposit_ids().is_empty());
    }

    #[test]
    fn deposit_amount_must_be_whole_gwei_in_u64() {
        let (mut s, l1) = setup();
        let e = queue_deposit(&mut s, &l1, &dep(0, GWEI + U256::from(1))).unwrap_err();
        assert_eq!(e, DeriveError::InvalidDepositAmount { id: 0 });
        let too_big = U256::from(u64::MAX) * GWEI + GWEI;
        assert!(queue_deposit(&mut s, &l1, &dep(0, too_big)).is_err());
        let max = U256::from(u64::MAX) * GWEI;
        assert_eq!(queue_deposit(&mut s, &l1, &dep(0, max)).unwrap().amount_gwei, u64::MAX);
    }

    #[test]
    fn forced_and_proposal_ids_are_contiguous() {
        let (mut s, l1) = setup();
        let f = |id| ForcedInclusionQueuedEvent {
            id,
            sender: Address::ZERO,
            signed_tx: Bytes::from_static(b"x"),
        };
        queue_forced(&mut s, &l1, &f(0)).unwrap();
        assert!(queue_forced(&mut s, &l1, &f(0)).is_err(), "duplicate");
        let entry = queue_forced(&mut s, &l1, &f(1)).unwrap();
        assert_eq!((entry.id, entry.l1_block), (1, 1));
        assert_eq!(s.pending_forced_ids(), 0..2);

        let p = |id| ProposedEvent { id, blob_hashes: vec![B256::ZERO], ..Default::default() };
        accept_proposal(&mut s, &p(0)).unwrap();
        assert_eq!(accept_proposal(&mut s, &p(2)).unwrap_err().severity(), Severity::Critical);
        accept_proposal(&mut s, &p(1)).unwrap();
        assert_eq!(s.next_proposal_id, 2);
    }
}
