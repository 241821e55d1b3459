//! Merkle proofs (EIP-1186 shape) read from the path-keyed node store, and an overlay reader
//! that shows a persisted trie with [`TrieUpdates`] applied (without writing them).
//!
//! A proof is the list of node encodings met on the way from the root to a key, root first,
//! leaving out nodes embedded in their parent (RLP shorter than 32 bytes, except the root), as
//! geth's `trie.Prove` does. Because every node is stored under its path, walking to a key reads
//! at most one node per level: `O(depth)` reads.

use crate::{
    Nibbles, NodeReader, TrieError, TrieId, TrieUpdates,
    incremental::{MAX_DEPTH, concat, decode_node},
};
use alloy_primitives::Bytes;
use alloy_trie::nodes::TrieNode;

/// The result of walking a trie to one key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyProof {
    /// Node encodings from the root to the last node visited (embedded nodes left out).
    pub proof: Vec<Bytes>,
    /// The leaf value stored under the key (`None` when the key is absent: the proof then ends
    /// where the key's path leaves the trie).
    pub value: Option<Vec<u8>>,
}

/// Walks trie `id` from its root towards `key` (64 nibbles) and returns the proof and the value.
///
/// An empty trie gives an empty proof. Corrupt or missing nodes are errors, never panics.
pub fn prove_key<R: NodeReader + ?Sized>(
    reader: &R,
    id: TrieId,
    key: &Nibbles,
) -> Result<KeyProof, TrieError> {
    if key.len() != MAX_DEPTH {
        return Err(TrieError::Corrupt { id, path: Nibbles::new(), reason: "key is not 32 bytes" });
    }
    let mut out = KeyProof::default();
    let mut path = Nibbles::new();
    loop {
        let Some(bytes) = reader.node(id, &path)? else {
            if path.is_empty() {
                // Empty trie.
                return Ok(out);
            }
            return Err(TrieError::MissingNode { id, path });
        };
        let node = decode_node(id, &path, &bytes)?;
        if path.is_empty() || bytes.len() >= 32 {
            out.proof.push(Bytes::from(bytes));
        }
        let rest = key.slice(path.len()..);
        match node {
            TrieNode::Branch(branch) => {
                let Some(nibble) = rest.first() else {
                    return Err(TrieError::Corrupt { id, path, reason: "branch at full depth" });
                };
                if !branch.state_mask.is_bit_set(nibble) {
                    return Ok(out);
                }
                path = concat(id, &path, &Nibbles::from_nibbles([nibble]))?;
            }
            TrieNode::Extension(ext) => {
                if !rest.starts_with(&ext.key) {
                    return Ok(out);
                }
                path = concat(id, &path, &ext.key)?;
            }
            TrieNode::Leaf(leaf) => {
                if rest == leaf.key {
                    out.value = Some(leaf.value);
                }
                return Ok(out);
            }
            TrieNode::EmptyRoot => {
                return Err(TrieError::Corrupt { id, path, reason: "stored empty node" });
            }
        }
    }
}

/// A [`NodeReader`] showing `base` with `updates` applied: wiped storage tries are empty, then
/// node puts and deletions win over the base. Nothing is written.
#[derive(Debug)]
pub struct OverlayReader<'a, R: ?Sized> {
    base: &'a R,
    updates: &'a TrieUpdates,
}

impl<'a, R: NodeReader + ?Sized> OverlayReader<'a, R> {
    /// The overlay of `updates` on `base`.
    pub const fn new(base: &'a R, updates: &'a TrieUpdates) -> Self {
        Self { base, updates }
    }
}

impl<R: NodeReader + ?Sized> NodeReader for OverlayReader<'_, R> {
    fn node(&self, id: TrieId, path: &Nibbles) -> Result<Option<Vec<u8>>, TrieError> {
        if let Some(change) = self.updates.nodes.get(&(id, *path)) {
            return Ok(change.clone());
        }
        if let TrieId::Storage(owner) = id
            && self.updates.wiped_storage.contains(&owner)
        {
            return Ok(None);
        }
        self.base.node(id, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        AccountState, AccountUpdate, MemoryNodeStore, StateChanges, compute_state_root, hash_key,
    };
    use alloy_primitives::{Address, B256, U256};
    use alloy_trie::{KECCAK_EMPTY, TrieAccount, proof::verify_proof};

    fn account(n: u64) -> AccountState {
        AccountState { nonce: n, balance: U256::from(n * 1000), code_hash: KECCAK_EMPTY }
    }

    fn changes(range: std::ops::Range<u64>) -> StateChanges {
        let mut c = StateChanges::default();
        for n in range {
            let mut storage = std::collections::BTreeMap::new();
            if n % 3 == 0 {
                storage.insert(hash_key(U256::from(n).to_be_bytes::<32>()), U256::from(n + 1));
            }
            c.accounts.insert(
                hash_key(Address::with_last_byte(n as u8)),
                AccountUpdate { info: Some(account(n)), wipe_storage: false, storage },
            );
        }
        c
    }

    #[test]
    fn proofs_verify_against_the_root_for_present_and_absent_keys() {
        let mut store = MemoryNodeStore::default();
        let (root, updates) = compute_state_root(&store, &changes(1..40)).unwrap();
        store.apply(&updates);
        for n in 0..60u64 {
            let hashed = hash_key(Address::with_last_byte(n as u8));
            let key = Nibbles::unpack(hashed);
            let p = prove_key(&store, TrieId::Account, &key).unwrap();
            assert!(!p.proof.is_empty());
            if (1..40).contains(&n) {
                let value = p.value.clone().expect("present");
                let decoded: TrieAccount = alloy_rlp::decode_exact(&value).unwrap();
                assert_eq!(decoded.nonce, n);
                verify_proof(root, key, Some(value), &p.proof).unwrap();
            } else {
                assert_eq!(p.value, None);
                verify_proof(root, key, None, &p.proof).unwrap();
                // A proof of absence does not prove a made-up value.
                assert!(verify_proof(root, key, Some(vec![1]), &p.proof).is_err());
            }
        }
    }

    #[test]
    fn empty_trie_gives_an_empty_proof() {
        let store = MemoryNodeStore::default();
        let key = Nibbles::unpack(B256::repeat_byte(1));
        let p = prove_key(&store, TrieId::Account, &key).unwrap();
        assert!(p.proof.is_empty() && p.value.is_none());
        verify_proof(crate::EMPTY_ROOT_HASH, key, None, &p.proof).unwrap();
    }

    #[test]
    fn overlay_shows_the_trie_after_updates() {
        let mut store = MemoryNodeStore::default();
        let (_, first) = compute_state_root(&store, &changes(1..20)).unwrap();
        store.apply(&first);
        let (root2, second) = compute_state_root(&store, &changes(20..30)).unwrap();
        let overlay = OverlayReader::new(&store, &second);
        let key = Nibbles::unpack(hash_key(Address::with_last_byte(25)));
        let p = prove_key(&overlay, TrieId::Account, &key).unwrap();
        verify_proof(root2, key, p.value.clone(), &p.proof).unwrap();
        assert!(p.value.is_some());
        // The base alone does not hold the key.
        assert_eq!(prove_key(&store, TrieId::Account, &key).unwrap().value, None);
    }

    #[test]
    fn corrupt_nodes_are_errors() {
        let mut store = MemoryNodeStore::default();
        store.nodes.insert((TrieId::Account, Nibbles::new()), vec![0xc3, 0x01]);
        let key = Nibbles::unpack(B256::ZERO);
        assert!(prove_key(&store, TrieId::Account, &key).is_err());
        assert!(prove_key(&store, TrieId::Account, &Nibbles::new()).is_err());
    }
}
