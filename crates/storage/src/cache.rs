//! In-memory cache of persisted trie nodes, so state-root computation rarely touches redb.
//!
//! # Invariant
//!
//! Every cached entry equals the `trie_nodes` row (or its absence, for a negative entry) in the
//! committed state whose head hash is [`TrieCache::version`]. The store upholds it by holding the
//! cache lock across every write transaction that changes trie nodes and then either applying
//! that transaction's [`TrieUpdates`] (a commit or an unwind starting from `version`) or clearing
//! the cache (genesis, anything unexpected). Readers use the cache only for a snapshot whose head
//! is `version`.
//!
//! # Bound
//!
//! Entries are charged `key + value + ENTRY_OVERHEAD` bytes. When the total exceeds the capacity,
//! the deepest level of paths is dropped and no longer admitted, so what stays cached is always
//! the upper part of every trie (the nodes every block re-reads), whatever the state size.

use crate::state::NodeTable;
use alloy_primitives::B256;
use alloy_primitives::map::HashMap;
use based_trie::{Nibbles, NodeReader, TrieError, TrieId, TrieUpdates};
use redb::ReadableTable;
use std::cell::RefCell;

/// Default capacity of the trie-node cache (bytes).
pub const DEFAULT_TRIE_CACHE_BYTES: usize = 512 * 1024 * 1024;

/// Bytes charged per entry beyond key and value (hash-map slot, allocation headers).
const ENTRY_OVERHEAD: usize = 96;
/// Path lengths are 0..=64 nibbles.
const LEVELS: usize = 65;

type Entries = HashMap<Nibbles, Option<Vec<u8>>>;

/// Cached trie nodes of one committed state version (see the module docs).
#[derive(Debug)]
pub(crate) struct TrieCache {
    version: Option<B256>,
    tries: HashMap<TrieId, Entries>,
    level_bytes: [usize; LEVELS],
    bytes: usize,
    capacity: usize,
    /// Paths longer than this are not admitted (lowered when the cache overflows).
    max_depth: usize,
}

fn charge(value: &Option<Vec<u8>>) -> usize {
    ENTRY_OVERHEAD.saturating_add(value.as_ref().map_or(0, Vec::len))
}

impl TrieCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            version: None,
            tries: HashMap::default(),
            level_bytes: [0; LEVELS],
            bytes: 0,
            capacity,
            max_depth: LEVELS.saturating_sub(1),
        }
    }

    /// Empties the cache; it describes no version until [`Self::use_version`].
    pub(crate) fn clear(&mut self) {
        self.version = None;
        self.tries.clear();
        self.level_bytes = [0; LEVELS];
        self.bytes = 0;
        self.max_depth = LEVELS.saturating_sub(1);
    }

    /// Makes the cache describe the committed state with head `head`: kept if it already does,
    /// emptied otherwise.
    pub(crate) fn use_version(&mut self, head: B256) {
        if self.version != Some(head) {
            self.clear();
            self.version = Some(head);
        }
    }

    /// After a write transaction that moved the head from `parent` to `hash` applying `updates`
    /// (a block commit or an unwind): applies them if the cache described `parent`, otherwise
    /// empties it.
    pub(crate) fn committed(&mut self, parent: B256, hash: B256, updates: &TrieUpdates) {
        if self.version != Some(parent) {
            self.clear();
            return;
        }
        for owner in &updates.wiped_storage {
            if let Some(entries) = self.tries.remove(&TrieId::Storage(*owner)) {
                for (path, value) in &entries {
                    self.uncharge(path.len(), charge(value));
                }
            }
        }
        for ((id, path), value) in &updates.nodes {
            // Only entries already cached are refreshed: the nodes every block re-reads (the upper
            // levels) were read, hence cached, by the root computation that produced `updates`;
            // a node written for the first time (mostly new leaves) is admitted on its first read.
            if self.remove(*id, path) && value.is_some() {
                self.admit(*id, *path, value.clone());
            }
        }
        self.version = Some(hash);
    }

    pub(crate) fn get(&self, id: TrieId, path: &Nibbles) -> Option<&Option<Vec<u8>>> {
        self.tries.get(&id)?.get(path)
    }

    /// Removes the entry of `path`; returns whether there was one.
    fn remove(&mut self, id: TrieId, path: &Nibbles) -> bool {
        let removed = self.tries.get_mut(&id).and_then(|entries| entries.remove(path));
        if let Some(value) = &removed {
            self.uncharge(path.len(), charge(value));
        }
        removed.is_some()
    }

    fn uncharge(&mut self, depth: usize, bytes: usize) {
        self.bytes = self.bytes.saturating_sub(bytes);
        if let Some(level) = self.level_bytes.get_mut(depth) {
            *level = level.saturating_sub(bytes);
        }
    }

    /// Caches `value` as the content of `path` in trie `id` (if within depth and capacity).
    pub(crate) fn admit(&mut self, id: TrieId, path: Nibbles, value: Option<Vec<u8>>) {
        let depth = path.len();
        if depth > self.max_depth || self.capacity == 0 {
            return;
        }
        let cost = charge(&value);
        if let Some(old) = self.tries.entry(id).or_default().insert(path, value) {
            self.uncharge(depth, charge(&old));
        }
        self.bytes = self.bytes.saturating_add(cost);
        if let Some(level) = self.level_bytes.get_mut(depth) {
            *level = level.saturating_add(cost);
        }
        while self.bytes > self.capacity && self.max_depth > 0 {
            self.drop_deepest_level();
        }
    }

    /// Drops every entry of the deepest non-empty level and stops admitting that level.
    fn drop_deepest_level(&mut self) {
        let Some(deepest) = self.level_bytes.iter().rposition(|b| *b > 0) else {
            return;
        };
        for entries in self.tries.values_mut() {
            entries.retain(|path, _| path.len() != deepest);
        }
        self.tries.retain(|_, entries| !entries.is_empty());
        if let Some(level) = self.level_bytes.get_mut(deepest) {
            self.bytes = self.bytes.saturating_sub(*level);
            *level = 0;
        }
        self.max_depth = deepest.saturating_sub(1);
    }

    #[cfg(test)]
    pub(crate) const fn bytes(&self) -> usize {
        self.bytes
    }
}

/// A [`NodeReader`] that answers from the cache and fills it from a redb table on a miss.
pub(crate) struct CachedNodes<'a, T> {
    pub(crate) cache: RefCell<&'a mut TrieCache>,
    pub(crate) table: NodeTable<'a, T>,
}

impl<T: ReadableTable<&'static [u8], &'static [u8]>> NodeReader for CachedNodes<'_, T> {
    fn node(&self, id: TrieId, path: &Nibbles) -> Result<Option<Vec<u8>>, TrieError> {
        if let Some(hit) = self.cache.borrow().get(id, path) {
            return Ok(hit.clone());
        }
        let value = self.table.node(id, path)?;
        self.cache.borrow_mut().admit(id, *path, value.clone());
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(nibbles: &[u8]) -> Nibbles {
        Nibbles::from_nibbles(nibbles)
    }

    #[test]
    fn overflow_drops_deepest_level_first() {
        let mut c = TrieCache::new(3 * (ENTRY_OVERHEAD + 10));
        c.use_version(B256::ZERO);
        c.admit(TrieId::Account, path(&[]), Some(vec![0; 10]));
        c.admit(TrieId::Account, path(&[1]), Some(vec![0; 10]));
        c.admit(TrieId::Account, path(&[1, 2]), Some(vec![0; 10]));
        assert!(c.get(TrieId::Account, &path(&[1, 2])).is_some());
        // A fourth entry overflows: the deepest level (2) goes and is no longer admitted.
        c.admit(TrieId::Account, path(&[1, 3]), Some(vec![0; 10]));
        assert!(c.get(TrieId::Account, &path(&[1, 2])).is_none());
        assert!(c.get(TrieId::Account, &path(&[1, 3])).is_none());
        assert!(c.get(TrieId::Account, &path(&[1])).is_some());
        c.admit(TrieId::Account, path(&[4, 4]), Some(vec![0; 10]));
        assert!(c.get(TrieId::Account, &path(&[4, 4])).is_none());
        assert_eq!(c.bytes(), 2 * (ENTRY_OVERHEAD + 10));
    }

    #[test]
    fn commit_applies_updates_only_on_its_parent_version() {
        let (a, b) = (B256::repeat_byte(1), B256::repeat_byte(2));
        let owner = B256::repeat_byte(9);
        let mut c = TrieCache::new(usize::MAX);
        c.use_version(a);
        c.admit(TrieId::Account, path(&[]), Some(vec![1]));
        c.admit(TrieId::Account, path(&[5]), Some(vec![2]));
        c.admit(TrieId::Storage(owner), path(&[]), Some(vec![3]));
        let mut updates = TrieUpdates::default();
        updates.wiped_storage.insert(owner);
        updates.nodes.insert((TrieId::Account, path(&[])), Some(vec![7]));
        updates.nodes.insert((TrieId::Account, path(&[5])), None);
        updates.nodes.insert((TrieId::Account, path(&[6])), Some(vec![8]));
        c.committed(a, b, &updates);
        assert_eq!(c.get(TrieId::Account, &path(&[])), Some(&Some(vec![7])));
        assert_eq!(c.get(TrieId::Account, &path(&[6])), None, "new nodes wait for a read");
        assert_eq!(c.get(TrieId::Account, &path(&[5])), None);
        assert_eq!(c.get(TrieId::Storage(owner), &path(&[])), None);
        assert_eq!(c.bytes(), ENTRY_OVERHEAD + 1);
        // A commit on another parent empties the cache.
        c.committed(a, B256::repeat_byte(3), &TrieUpdates::default());
        assert_eq!(c.get(TrieId::Account, &path(&[])), None);
        assert_eq!(c.bytes(), 0);
    }
}
