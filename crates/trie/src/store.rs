//! Node-store abstraction, the update set and an in-memory store for tests.

use crate::{Nibbles, TrieError};
use alloy_primitives::B256;
use std::collections::{BTreeMap, BTreeSet};

/// Identifies one trie of the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TrieId {
    /// The account trie.
    Account,
    /// The storage trie of the account with this hashed address.
    Storage(B256),
}

/// Read access to persisted trie nodes (canonical node RLP keyed by trie and path).
pub trait NodeReader {
    /// Returns the RLP of the node at `path` in trie `id`, if any.
    fn node(&self, id: TrieId, path: &Nibbles) -> Result<Option<Vec<u8>>, TrieError>;
}

impl<T: NodeReader + ?Sized> NodeReader for &T {
    fn node(&self, id: TrieId, path: &Nibbles) -> Result<Option<Vec<u8>>, TrieError> {
        (**self).node(id, path)
    }
}

/// Changes to the node store produced by a root computation.
///
/// Apply [`Self::wiped_storage`] first (delete every node of those storage tries), then
/// [`Self::nodes`] (`Some` = put, `None` = delete).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrieUpdates {
    /// Hashed addresses whose whole storage trie must be deleted before applying `nodes`.
    pub wiped_storage: BTreeSet<B256>,
    /// Node puts (`Some(rlp)`) and deletions (`None`), keyed by trie and path.
    pub nodes: BTreeMap<(TrieId, Nibbles), Option<Vec<u8>>>,
}

impl TrieUpdates {
    /// True if applying these updates changes nothing.
    pub fn is_empty(&self) -> bool {
        self.wiped_storage.is_empty() && self.nodes.is_empty()
    }

    /// Number of node puts plus deletions (wipes not counted).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }
}

/// A `HashMap`-like in-memory node store, for tests and tooling.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryNodeStore {
    /// All nodes, keyed by trie and path.
    pub nodes: BTreeMap<(TrieId, Nibbles), Vec<u8>>,
}

impl MemoryNodeStore {
    /// Applies `updates` (wipes, then puts/deletes).
    pub fn apply(&mut self, updates: &TrieUpdates) {
        for owner in &updates.wiped_storage {
            self.nodes.retain(|(id, _), _| *id != TrieId::Storage(*owner));
        }
        for (key, value) in &updates.nodes {
            match value {
                Some(v) => {
                    self.nodes.insert(*key, v.clone());
                }
                None => {
                    self.nodes.remove(key);
                }
            }
        }
    }
}

impl NodeReader for MemoryNodeStore {
    fn node(&self, id: TrieId, path: &Nibbles) -> Result<Option<Vec<u8>>, TrieError> {
        Ok(self.nodes.get(&(id, *path)).cloned())
    }
}
