//! Stage 1: L1 traversal — checks that the input block extends the state's L1 chain.

use crate::{error::DeriveError, input::L1BlockRef, state::DerivationState};

/// Checks that `block` is the child of the state's last L1 block.
///
/// A different number or parent hash is a [`crate::Severity::Reset`]: the driver reorged (or
/// skipped) L1 blocks and must reload the state of the common ancestor.
pub fn check_next(state: &DerivationState, block: &L1BlockRef) -> Result<(), DeriveError> {
    let head = state.l1_head();
    if head.number.checked_add(1) != Some(block.number) {
        return Err(DeriveError::NotNextBlock { last: head.number, got: block.number });
    }
    if block.parent_hash != head.hash {
        return Err(DeriveError::ParentHashMismatch {
            number: block.number,
            expected: head.hash,
            got: block.parent_hash,
        });
    }
    // Ethereum L1 strictly increases timestamps; development chains (anvil mining in bulk) can
    // repeat one, which changes nothing for derivation. Going backwards is a broken source.
    if block.timestamp < head.timestamp {
        return Err(DeriveError::L1TimestampDecreasing {
            number: block.number,
            parent: head.timestamp,
            got: block.timestamp,
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
    use alloy_primitives::B256;

    fn state() -> DerivationState {
        DerivationState::new(
            L1Head { number: 5, hash: B256::repeat_byte(5), timestamp: 60 },
            L2Head::default(),
        )
    }

    fn child() -> L1BlockRef {
        L1BlockRef {
            number: 6,
            hash: B256::repeat_byte(6),
            parent_hash: B256::repeat_byte(5),
            timestamp: 72,
        }
    }

    #[test]
    fn accepts_child() {
        assert_eq!(check_next(&state(), &child()), Ok(()));
    }

    #[test]
    fn wrong_number_is_reset() {
        for number in [5, 7, 0, u64::MAX] {
            let b = L1BlockRef { number, ..child() };
            let e = check_next(&state(), &b).unwrap_err();
            assert_eq!(e.severity(), Severity::Reset, "{e}");
        }
    }

    #[test]
    fn wrong_parent_is_reset() {
        let b = L1BlockRef { parent_hash: B256::repeat_byte(9), ..child() };
        let e = check_next(&state(), &b).unwrap_err();
        assert!(matches!(e, DeriveError::ParentHashMismatch { .. }));
        assert_eq!(e.severity(), Severity::Reset);
    }

    #[test]
    fn decreasing_timestamp_is_critical_equal_is_accepted() {
        let b = L1BlockRef { timestamp: 59, ..child() };
        assert_eq!(check_next(&state(), &b).unwrap_err().severity(), Severity::Critical);
        assert!(check_next(&state(), &L1BlockRef { timestamp: 60, ..child() }).is_ok());
    }
}
