//! Stage 4: contextual manifest validation (protocol §4.3, §7.3).
//!
//! A manifest is checked against its would-be parent (the last *derived* L2 block, so a skipped
//! manifest does not advance the parent), the proposal's L1 inclusion block and the window of
//! recent L1 block hashes.

use crate::{config::DeriveConfig, input::L1BlockRef, state::DerivationState};
use based_primitives::BlockManifest;

/// Why a manifest is skipped. Each variant is one rule of protocol §4.3 (numbered as there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ManifestInvalid {
    /// Rule 1: timestamp not strictly greater than the parent's.
    #[error("timestamp {timestamp} not after parent timestamp {parent}")]
    TimestampNotIncreasing {
        /// Manifest timestamp.
        timestamp: u64,
        /// Parent timestamp.
        parent: u64,
    },
    /// Rule 2: timestamp later than the L1 inclusion block's.
    #[error("timestamp {timestamp} after L1 inclusion block timestamp {l1}")]
    TimestampInFuture {
        /// Manifest timestamp.
        timestamp: u64,
        /// L1 inclusion block timestamp.
        l1: u64,
    },
    /// Rule 3: anchor not strictly before the L1 inclusion block.
    #[error("anchor {anchor} not before inclusion block {inclusion}")]
    AnchorNotBeforeInclusion {
        /// Anchor number.
        anchor: u64,
        /// Inclusion block number.
        inclusion: u64,
    },
    /// Rule 3: anchor hash is not the canonical L1 block hash at that number (or the block is not
    /// in the state's anchor window, §7.1).
    #[error("anchor {0} hash is not the canonical L1 block hash")]
    AnchorHashMismatch(u64),
    /// Rule 4: anchor older than `max_anchor_age` blocks before the inclusion block.
    #[error("anchor {anchor} older than the anchor window of inclusion block {inclusion}")]
    AnchorTooOld {
        /// Anchor number.
        anchor: u64,
        /// Inclusion block number.
        inclusion: u64,
    },
    /// Rule 5: anchor lower than the parent's anchor.
    #[error("anchor {anchor} below parent anchor {parent}")]
    AnchorDecreasing {
        /// Anchor number.
        anchor: u64,
        /// Parent anchor number.
        parent: u64,
    },
    /// Rule 6: timestamp before the anchor L1 block's timestamp.
    #[error("timestamp {timestamp} before anchor block timestamp {anchor}")]
    TimestampBeforeAnchor {
        /// Manifest timestamp.
        timestamp: u64,
        /// Anchor block timestamp.
        anchor: u64,
    },
    /// Rule 7: gas limit outside `[min_gas_limit, max_gas_limit]`.
    #[error("gas limit {0} out of range")]
    GasLimitOutOfRange(u64),
}

/// Checks `manifest` as the next L2 block after `state.l2_head()`, proposed in L1 block `l1`
/// (protocol §4.3). `state` must not yet contain `l1` (its L1 head is `l1`'s parent), so its anchor
/// window holds exactly the ancestors of `l1` an anchor may name.
pub fn validate_manifest(
    cfg: &DeriveConfig,
    state: &DerivationState,
    l1: &L1BlockRef,
    manifest: &BlockManifest,
) -> Result<(), ManifestInvalid> {
    let parent = state.l2_head();
    let timestamp = manifest.timestamp;
    let anchor = manifest.anchor;

    // 1, 2: timestamps strictly increase and never pass the L1 inclusion block.
    if timestamp <= parent.timestamp {
        return Err(ManifestInvalid::TimestampNotIncreasing {
            timestamp,
            parent: parent.timestamp,
        });
    }
    if timestamp > l1.timestamp {
        return Err(ManifestInvalid::TimestampInFuture { timestamp, l1: l1.timestamp });
    }

    // 3: the anchor is a canonical ancestor of the inclusion block.
    if anchor.number >= l1.number {
        return Err(ManifestInvalid::AnchorNotBeforeInclusion {
            anchor: anchor.number,
            inclusion: l1.number,
        });
    }
    // 4: not older than the window (checked before the lookup: the window may retain more).
    if anchor.number < l1.number.saturating_sub(cfg.max_anchor_age) {
        return Err(ManifestInvalid::AnchorTooOld { anchor: anchor.number, inclusion: l1.number });
    }
    let anchor_block = match state.recent_l1(anchor.number) {
        Some(b) if b.hash == anchor.hash => b,
        _ => return Err(ManifestInvalid::AnchorHashMismatch(anchor.number)),
    };
    // 5: anchors never decrease.
    if anchor.number < parent.anchor.number {
        return Err(ManifestInvalid::AnchorDecreasing {
            anchor: anchor.number,
            parent: parent.anchor.number,
        });
    }
    // 6: not before the anchor block.
    if timestamp < anchor_block.timestamp {
        return Err(ManifestInvalid::TimestampBeforeAnchor {
            timestamp,
            anchor: anchor_block.timestamp,
        });
    }

    // 7: gas limit bounds.
    if manifest.gas_limit < cfg.min_gas_limit || manifest.gas_limit > cfg.max_gas_limit {
        return Err(ManifestInvalid::GasLimitOutOfRange(manifest.gas_limit));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        config::{MAX_L2_GAS_LIMIT, MIN_L2_GAS_LIMIT},
        state::{L1Head, L2Head},
    };
    use alloy_primitives::{Address, B256, Bytes};
    use based_primitives::L1Anchor;

    const GAS: u64 = 30_000_000;

    /// State with L1 head 100 (all of 0..=100 retained), L2 parent at t=1000 anchored to 90.
    fn setup() -> (DeriveConfig, DerivationState, L1BlockRef) {
        let cfg = DeriveConfig::devnet(4242);
        let mut s = DerivationState::new(
            L1Head { number: 0, hash: hash(0), timestamp: 0 },
            L2Head {
                number: 7,
                timestamp: 1000,
                gas_limit: GAS,
                anchor: L1Anchor { number: 90, hash: hash(90) },
            },
        );
        for n in 1..=100 {
            // Retain more than the anchor window so that rule 4 is tested on its own.
            s.push_l1(L1Head { number: n, hash: hash(n), timestamp: n * 12 }, 1000);
        }
        let l1 =
            L1BlockRef { number: 101, hash: hash(101), parent_hash: hash(100), timestamp: 1212 };
        (cfg, s, l1)
    }

    fn hash(n: u64) -> B256 {
        B256::left_padding_from(&n.wrapping_add(1).to_be_bytes())
    }

    fn good() -> BlockManifest {
        BlockManifest {
            timestamp: 1200,
            fee_recipient: Address::repeat_byte(1),
            gas_limit: GAS,
            anchor: L1Anchor { number: 95, hash: hash(95) },
            transactions: vec![Bytes::from_static(b"tx")],
        }
    }

    fn check(m: &BlockManifest) -> Result<(), ManifestInvalid> {
        let (cfg, s, l1) = setup();
        validate_manifest(&cfg, &s, &l1, m)
    }

    #[test]
    fn baseline_is_valid() {
        assert_eq!(check(&good()), Ok(()));
    }

    #[test]
    fn timestamp_strictly_after_parent() {
        let (cfg, mut s, l1) = setup();
        s.l2_head.timestamp = 1200;
        let m = good();
        assert!(matches!(
            validate_manifest(&cfg, &s, &l1, &m),
            Err(ManifestInvalid::TimestampNotIncreasing { timestamp: 1200, parent: 1200 })
        ));
        s.l2_head.timestamp = 1199;
        assert_eq!(validate_manifest(&cfg, &s, &l1, &m), Ok(()));
        let m = BlockManifest { timestamp: 0, ..good() };
        assert!(matches!(check(&m), Err(ManifestInvalid::TimestampNotIncreasing { .. })));
    }

    #[test]
    fn timestamp_not_after_l1_inclusion() {
        assert_eq!(check(&BlockManifest { timestamp: 1212, ..good() }), Ok(()));
        let m = BlockManifest { timestamp: 1213, ..good() };
        assert_eq!(
            check(&m),
            Err(ManifestInvalid::TimestampInFuture { timestamp: 1213, l1: 1212 })
        );
    }

    #[test]
    fn anchor_before_inclusion() {
        let at = |n| BlockManifest { anchor: L1Anchor { number: n, hash: hash(n) }, ..good() };
        assert_eq!(check(&at(100)), Ok(()));
        assert!(matches!(check(&at(101)), Err(ManifestInvalid::AnchorNotBeforeInclusion { .. })));
        assert!(matches!(
            check(&at(u64::MAX)),
            Err(ManifestInvalid::AnchorNotBeforeInclusion { .. })
        ));
    }

    #[test]
    fn anchor_age_window() {
        let (cfg, mut s, l1) = setup();
        s.l2_head.anchor = L1Anchor { number: 0, hash: hash(0) };
        let at = |n| BlockManifest { anchor: L1Anchor { number: n, hash: hash(n) }, ..good() };
        assert_eq!(validate_manifest(&cfg, &s, &l1, &at(101 - 64)), Ok(()));
        assert_eq!(
            validate_manifest(&cfg, &s, &l1, &at(101 - 65)),
            Err(ManifestInvalid::AnchorTooOld { anchor: 36, inclusion: 101 })
        );
    }

    #[test]
    fn anchor_never_decreases() {
        let at = |n| BlockManifest { anchor: L1Anchor { number: n, hash: hash(n) }, ..good() };
        assert_eq!(check(&at(90)), Ok(()), "equal to parent anchor is fine");
        assert_eq!(
            check(&at(89)),
            Err(ManifestInvalid::AnchorDecreasing { anchor: 89, parent: 90 })
        );
    }

    #[test]
    fn anchor_outside_the_retained_window_is_unknown() {
        let (cfg, mut s, l1) = setup();
        s.recent_l1.drain(..60); // keeps 60..=100
        s.l2_head.anchor = L1Anchor::default();
        let m = BlockManifest { anchor: L1Anchor { number: 59, hash: hash(59) }, ..good() };
        assert_eq!(
            validate_manifest(&cfg, &s, &l1, &m),
            Err(ManifestInvalid::AnchorHashMismatch(59))
        );
    }

    #[test]
    fn anchor_hash_must_be_canonical() {
        let m = BlockManifest { anchor: L1Anchor { number: 95, hash: hash(96) }, ..good() };
        assert_eq!(check(&m), Err(ManifestInvalid::AnchorHashMismatch(95)));
    }

    #[test]
    fn timestamp_not_before_anchor_block() {
        // Anchor 95 has timestamp 95 * 12 = 1140 in `setup`; parent timestamp 1000.
        assert_eq!(check(&BlockManifest { timestamp: 1140, ..good() }), Ok(()));
        assert_eq!(
            check(&BlockManifest { timestamp: 1139, ..good() }),
            Err(ManifestInvalid::TimestampBeforeAnchor { timestamp: 1139, anchor: 1140 })
        );
    }

    #[test]
    fn gas_limit_bounds() {
        let (cfg, mut s, l1) = setup();
        let with = |parent: u64, g: u64, s: &mut DerivationState| {
            s.l2_head.gas_limit = parent;
            validate_manifest(&cfg, s, &l1, &BlockManifest { gas_limit: g, ..good() })
        };
        assert_eq!(with(MIN_L2_GAS_LIMIT, MIN_L2_GAS_LIMIT, &mut s), Ok(()));
        assert_eq!(with(MAX_L2_GAS_LIMIT, MAX_L2_GAS_LIMIT, &mut s), Ok(()));
        assert_eq!(
            with(MIN_L2_GAS_LIMIT, MIN_L2_GAS_LIMIT - 1, &mut s),
            Err(ManifestInvalid::GasLimitOutOfRange(4999))
        );
        assert_eq!(
            with(MAX_L2_GAS_LIMIT, MAX_L2_GAS_LIMIT + 1, &mut s),
            Err(ManifestInvalid::GasLimitOutOfRange(MAX_L2_GAS_LIMIT + 1))
        );
    }

    #[test]
    fn gas_limit_is_independent_of_the_parent() {
        let (cfg, mut s, l1) = setup();
        s.l2_head.gas_limit = MIN_L2_GAS_LIMIT;
        let m = BlockManifest { gas_limit: MAX_L2_GAS_LIMIT, ..good() };
        assert_eq!(validate_manifest(&cfg, &s, &l1, &m), Ok(()));
    }

    #[test]
    fn constants_match_the_executor() {
        let cfg = DeriveConfig::devnet(4242);
        assert_eq!((cfg.min_gas_limit, cfg.max_gas_limit), based_evm::gas_limit_bounds());
        assert_eq!(cfg.max_deposits_per_block, based_evm::L2_BLOCK_MAX_DEPOSITS);
    }
}
