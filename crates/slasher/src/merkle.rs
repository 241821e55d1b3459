//! The Merkle tree of a proposal's promised transactions, exactly as `Inbox.promisedRoot` and
//! `Inbox.verifyPromised` compute it (docs/slashing.md, "Contracts").
//!
//! Leaves are the L2 transaction hashes `keccak256(tx_i)` in order. Levels are hashed pairwise,
//! `keccak256(left || right)`, the last node of a level with an odd count paired with
//! `bytes32(0)`, until one node is left; one leaf is its own root; no leaves give zero. A proof is
//! the list of siblings from the leaf level up, exactly `ceil(log2(count))` of them.

use alloy_primitives::{B256, keccak256};

fn hash_pair(left: &B256, right: &B256) -> B256 {
    let mut buf = [0u8; 64];
    let (l, r) = buf.split_at_mut(32);
    l.copy_from_slice(left.as_slice());
    r.copy_from_slice(right.as_slice());
    keccak256(buf)
}

/// The next level: pairs hashed, an odd last node paired with zero.
fn next_level(level: &[B256]) -> Vec<B256> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [left, right] => hash_pair(left, right),
            [left] => hash_pair(left, &B256::ZERO),
            _ => B256::ZERO, // chunks(2) yields one or two items
        })
        .collect()
}

/// `Inbox.promisedRoot(leaves)`: zero for no leaves, the leaf for one.
pub fn promised_root(leaves: &[B256]) -> B256 {
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = next_level(&level);
    }
    level.first().copied().unwrap_or(B256::ZERO)
}

/// The proof of leaf `index` (siblings from the leaf level up, zero for a missing right sibling),
/// or `None` if `index` is out of range.
pub fn promised_proof(leaves: &[B256], index: usize) -> Option<Vec<B256>> {
    if index >= leaves.len() {
        return None;
    }
    let mut proof = Vec::new();
    let mut level = leaves.to_vec();
    let mut i = index;
    while level.len() > 1 {
        let sibling = level.get(i ^ 1).copied().unwrap_or(B256::ZERO);
        proof.push(sibling);
        level = next_level(&level);
        i >>= 1;
    }
    Some(proof)
}

/// The proof depth for `count` leaves: `ceil(log2(count))` (0 for 0 or 1).
pub fn proof_depth(count: u64) -> u32 {
    if count <= 1 { 0 } else { u64::BITS.saturating_sub(count.saturating_sub(1).leading_zeros()) }
}

/// `Inbox.verifyPromised(root, count, index, leaf, proof)`: whether `leaf` is the `index`-th of
/// `count` leaves under `root`, with exactly [`proof_depth`]`(count)` siblings.
pub fn verify_promised(root: B256, count: u64, index: u64, leaf: B256, proof: &[B256]) -> bool {
    if index >= count {
        return false;
    }
    let depth = proof_depth(count);
    if u32::try_from(proof.len()).ok() != Some(depth) {
        return false;
    }
    let mut node = leaf;
    for (level, sibling) in proof.iter().enumerate() {
        let right_child =
            index.checked_shr(u32::try_from(level).unwrap_or(u32::MAX)).unwrap_or(0) & 1;
        node = if right_child == 0 { hash_pair(&node, sibling) } else { hash_pair(sibling, &node) };
    }
    node == root
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaves(n: usize) -> Vec<B256> {
        (0..n).map(|i| keccak256(format!("promised tx {i}"))).collect()
    }

    #[test]
    fn small_trees_by_hand() {
        assert_eq!(promised_root(&[]), B256::ZERO);
        let l = leaves(3);
        assert_eq!(promised_root(&l[..1]), l[0]);
        assert_eq!(promised_root(&l[..2]), hash_pair(&l[0], &l[1]));
        let expected = hash_pair(&hash_pair(&l[0], &l[1]), &hash_pair(&l[2], &B256::ZERO));
        assert_eq!(promised_root(&l), expected);
        assert_eq!(promised_proof(&l, 2), Some(vec![B256::ZERO, hash_pair(&l[0], &l[1])]));
        assert_eq!(promised_proof(&l, 3), None);
        assert_eq!(promised_proof(&l[..1], 0), Some(vec![]));
    }

    #[test]
    fn depth_is_ceil_log2() {
        for (count, depth) in [(0, 0), (1, 0), (2, 1), (3, 2), (4, 2), (5, 3), (8, 3), (9, 4)] {
            assert_eq!(proof_depth(count), depth, "count {count}");
        }
        assert_eq!(proof_depth(1024), 10);
        assert_eq!(proof_depth(1025), 11);
        assert_eq!(proof_depth(u64::MAX), 64);
    }

    #[test]
    fn wrong_inputs_do_not_verify() {
        let l = leaves(5);
        let root = promised_root(&l);
        let proof = promised_proof(&l, 3).unwrap();
        assert!(verify_promised(root, 5, 3, l[3], &proof));
        assert!(!verify_promised(root, 5, 2, l[3], &proof), "other index");
        assert!(!verify_promised(root, 5, 3, l[2], &proof), "other leaf");
        assert!(!verify_promised(root, 4, 3, l[3], &proof), "other count");
        assert!(!verify_promised(root, 5, 5, l[3], &proof), "index out of range");
        assert!(!verify_promised(root, 5, 3, l[3], &proof[..2]), "short proof");
        let mut long = proof.clone();
        long.push(B256::ZERO);
        assert!(!verify_promised(root, 5, 3, l[3], &long), "long proof");
        let mut bad = proof;
        bad[0] ^= B256::with_last_byte(1);
        assert!(!verify_promised(root, 5, 3, l[3], &bad), "tampered sibling");
    }

    proptest! {
        #[test]
        fn every_proof_verifies(n in 1usize..80, seed in any::<u64>()) {
            let l: Vec<B256> = (0..n).map(|i| keccak256(format!("{seed}/{i}"))).collect();
            let root = promised_root(&l);
            for (i, leaf) in l.iter().enumerate() {
                let proof = promised_proof(&l, i).unwrap();
                prop_assert!(verify_promised(root, n as u64, i as u64, *leaf, &proof));
            }
        }

        #[test]
        fn verify_never_panics(
            root in any::<[u8; 32]>(), count in any::<u64>(), index in any::<u64>(),
            leaf in any::<[u8; 32]>(), proof in proptest::collection::vec(any::<[u8; 32]>(), 0..70),
        ) {
            let proof: Vec<B256> = proof.into_iter().map(B256::from).collect();
            let _ = verify_promised(B256::from(root), count, index, B256::from(leaf), &proof);
        }
    }
}
