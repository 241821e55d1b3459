//! Incremental application of a sorted change list to one persisted trie.
//!
//! Every recursive step returns the new node that belongs at its `path` *without* writing it;
//! the caller decides whether it stays there (and writes it) or is merged into its parent (a
//! branch left with one child collapses). Each node read from the store is remembered, so at the
//! end every remembered path that was not re-written is deleted and re-writes of identical bytes
//! are dropped.

use crate::{EMPTY_ROOT_HASH, Nibbles, NodeReader, TrieError, TrieId};
use alloy_primitives::map::HashMap;
use alloy_primitives::{B256, keccak256};
use alloy_rlp::Decodable;
use alloy_trie::{
    TrieMask,
    nodes::{BranchNode, ExtensionNode, LeafNode, RlpNode, TrieNode},
};
use std::collections::BTreeMap;

/// One change: full key (64 nibbles) and the new RLP value, `None` = delete.
pub(crate) type Change = (Nibbles, Option<Vec<u8>>);

/// Maximum key length in nibbles.
pub(crate) const MAX_DEPTH: usize = 64;

/// A child slot of a branch while it is being rebuilt.
enum Child {
    Empty,
    /// Unchanged child that lives in the store at `path + nibble`, with its reference.
    Stored(RlpNode),
    /// A node held in memory (new, modified, or split off an extension/leaf); must be written.
    Node(TrieNode),
}

fn empty_children() -> [Child; 16] {
    std::array::from_fn(|_| Child::Empty)
}

/// Concatenates two paths, failing (instead of panicking) beyond 64 nibbles.
pub(crate) fn concat(id: TrieId, a: &Nibbles, b: &Nibbles) -> Result<Nibbles, TrieError> {
    match a.len().checked_add(b.len()) {
        Some(n) if n <= MAX_DEPTH => Ok(a.join(b)),
        _ => Err(TrieError::Corrupt { id, path: *a, reason: "path longer than 64 nibbles" }),
    }
}

/// `path` extended by one nibble (`nibble < 16`).
pub(crate) fn child_path(id: TrieId, path: &Nibbles, nibble: u8) -> Result<Nibbles, TrieError> {
    concat(id, path, &Nibbles::from_nibbles([nibble & 0x0f]))
}

/// Decodes a stored node.
pub(crate) fn decode_node(id: TrieId, path: &Nibbles, bytes: &[u8]) -> Result<TrieNode, TrieError> {
    let node = TrieNode::decode(&mut &bytes[..]).map_err(|source| TrieError::Decode {
        id,
        path: *path,
        source,
    })?;
    if matches!(node, TrieNode::EmptyRoot) {
        return Err(TrieError::Corrupt { id, path: *path, reason: "stored empty node" });
    }
    Ok(node)
}

/// Applies one sorted change list to the trie `id`.
pub(crate) struct TrieApplier<'a, R: ?Sized> {
    reader: &'a R,
    id: TrieId,
    /// The trie was wiped: nothing is read from the store.
    wiped: bool,
    loaded: HashMap<Nibbles, Vec<u8>>,
    writes: BTreeMap<Nibbles, Vec<u8>>,
}

/// Result of [`TrieApplier::run`]: new root and node puts/deletes for this trie.
pub(crate) struct TrieDiff {
    pub(crate) root: B256,
    pub(crate) nodes: BTreeMap<Nibbles, Option<Vec<u8>>>,
}

impl<'a, R: NodeReader + ?Sized> TrieApplier<'a, R> {
    pub(crate) fn new(reader: &'a R, id: TrieId, wiped: bool) -> Self {
        Self { reader, id, wiped, loaded: HashMap::default(), writes: BTreeMap::new() }
    }

    /// Applies `changes` (sorted by key, unique keys of 64 nibbles).
    pub(crate) fn run(mut self, changes: &[Change]) -> Result<TrieDiff, TrieError> {
        for pair in changes.windows(2) {
            if let [(a, _), (b, _)] = pair
                && a >= b
            {
                return Err(TrieError::DuplicateKey);
            }
        }
        if changes.iter().any(|(k, _)| k.len() != MAX_DEPTH) {
            return Err(TrieError::Corrupt {
                id: self.id,
                path: Nibbles::new(),
                reason: "key is not 32 bytes",
            });
        }
        let root_path = Nibbles::new();
        let root = self.load(&root_path)?;
        let new_root = self.apply(root_path, root, changes)?;
        let root = match new_root {
            Some(node) => {
                let enc = alloy_rlp::encode(&node);
                let hash = keccak256(&enc);
                self.writes.insert(root_path, enc);
                hash
            }
            None => EMPTY_ROOT_HASH,
        };
        let mut nodes = BTreeMap::new();
        for path in self.loaded.keys() {
            if !self.writes.contains_key(path) {
                nodes.insert(*path, None);
            }
        }
        for (path, enc) in self.writes {
            if self.loaded.get(&path) != Some(&enc) {
                nodes.insert(path, Some(enc));
            }
        }
        Ok(TrieDiff { root, nodes })
    }

    fn corrupt(&self, path: &Nibbles, reason: &'static str) -> TrieError {
        TrieError::Corrupt { id: self.id, path: *path, reason }
    }

    /// Reads the node at `path` and remembers it (it is deleted unless re-written).
    fn load(&mut self, path: &Nibbles) -> Result<Option<TrieNode>, TrieError> {
        if self.wiped {
            return Ok(None);
        }
        let Some(bytes) = self.reader.node(self.id, path)? else {
            return Ok(None);
        };
        let node = decode_node(self.id, path, &bytes)?;
        self.loaded.insert(*path, bytes);
        Ok(Some(node))
    }

    fn load_existing(&mut self, path: &Nibbles) -> Result<TrieNode, TrieError> {
        self.load(path)?.ok_or(TrieError::MissingNode { id: self.id, path: *path })
    }

    /// Records `node` at `path` and returns its reference for the parent.
    fn write(&mut self, path: Nibbles, node: &TrieNode) -> RlpNode {
        let enc = alloy_rlp::encode(node);
        let reference = RlpNode::from_rlp(&enc);
        self.writes.insert(path, enc);
        reference
    }

    /// Returns the new node for `path` after applying `changes` (all prefixed by `path`) to
    /// `node`, the current node there.
    fn apply(
        &mut self,
        path: Nibbles,
        node: Option<TrieNode>,
        changes: &[Change],
    ) -> Result<Option<TrieNode>, TrieError> {
        if changes.is_empty() {
            return Ok(node);
        }
        match node {
            None => {
                let inserts: Vec<Change> =
                    changes.iter().filter(|(_, v)| v.is_some()).cloned().collect();
                match inserts.as_slice() {
                    [] => Ok(None),
                    [(key, value)] => {
                        if key.len() < path.len() {
                            return Err(self.corrupt(&path, "key shorter than path"));
                        }
                        let rest = key.slice(path.len()..);
                        Ok(value.as_ref().map(|v| TrieNode::Leaf(LeafNode::new(rest, v.clone()))))
                    }
                    [(first, _), .., (last, _)] => {
                        let common = first.common_prefix_length(last);
                        if common > path.len() {
                            let prefix = first.slice(path.len()..common);
                            self.descend(path, prefix, None, &inserts)
                        } else {
                            self.apply_branch(path, empty_children(), &inserts)
                        }
                    }
                }
            }
            Some(TrieNode::Leaf(leaf)) => {
                let full = concat(self.id, &path, &leaf.key)?;
                if let [(key, value)] = changes
                    && *key == full
                {
                    return Ok(value
                        .as_ref()
                        .map(|v| TrieNode::Leaf(LeafNode::new(leaf.key, v.clone()))));
                }
                let common = common_len(&full, changes);
                if common > path.len() {
                    if common >= full.len() {
                        return Err(self.corrupt(&path, "full-depth leaf with diverging keys"));
                    }
                    let prefix = full.slice(path.len()..common);
                    let rest = full.slice(common..);
                    let leaf = TrieNode::Leaf(LeafNode::new(rest, leaf.value));
                    return self.descend(path, prefix, Some(leaf), changes);
                }
                let Some(first) = leaf.key.first() else {
                    return Err(self.corrupt(&path, "full-depth leaf with diverging keys"));
                };
                let mut children = empty_children();
                let rest = leaf.key.slice(1..);
                set_child(
                    &mut children,
                    first,
                    Child::Node(TrieNode::Leaf(LeafNode::new(rest, leaf.value))),
                );
                self.apply_branch(path, children, changes)
            }
            Some(TrieNode::Extension(ext)) => {
                let Some(first) = ext.key.first() else {
                    return Err(self.corrupt(&path, "empty extension key"));
                };
                let below = concat(self.id, &path, &ext.key)?;
                let common = common_len(&below, changes);
                if common >= below.len() {
                    let child = self.load_existing(&below)?;
                    let new = self.apply(below, Some(child), changes)?;
                    return self.wrap(below, ext.key, new);
                }
                if common > path.len() {
                    let prefix = below.slice(path.len()..common);
                    let rest = below.slice(common..);
                    let ext = TrieNode::Extension(ExtensionNode::new(rest, ext.child));
                    return self.descend(path, prefix, Some(ext), changes);
                }
                let mut children = empty_children();
                let child = if ext.key.len() == 1 {
                    Child::Stored(ext.child)
                } else {
                    Child::Node(TrieNode::Extension(ExtensionNode::new(
                        ext.key.slice(1..),
                        ext.child,
                    )))
                };
                set_child(&mut children, first, child);
                self.apply_branch(path, children, changes)
            }
            Some(TrieNode::Branch(branch)) => {
                let mut children = empty_children();
                let mut stack = branch.stack.into_iter();
                for nibble in 0..16u8 {
                    if branch.state_mask.is_bit_set(nibble) {
                        let Some(r) = stack.next() else {
                            return Err(self.corrupt(&path, "branch mask/stack mismatch"));
                        };
                        set_child(&mut children, nibble, Child::Stored(r));
                    }
                }
                self.apply_branch(path, children, changes)
            }
            Some(TrieNode::EmptyRoot) => Err(self.corrupt(&path, "empty node")),
        }
    }

    /// Applies `changes` at `path + prefix` (where `node` is the current node) and returns the
    /// node for `path`: the result prefixed by the non-empty `prefix`.
    fn descend(
        &mut self,
        path: Nibbles,
        prefix: Nibbles,
        node: Option<TrieNode>,
        changes: &[Change],
    ) -> Result<Option<TrieNode>, TrieError> {
        let below = concat(self.id, &path, &prefix)?;
        let new = self.apply(below, node, changes)?;
        self.wrap(below, prefix, new)
    }

    /// Turns the node `new` living at `below` into the node one `prefix` (non-empty) above it:
    /// leaves and extensions absorb the prefix, a branch stays at `below` behind an extension.
    fn wrap(
        &mut self,
        below: Nibbles,
        prefix: Nibbles,
        new: Option<TrieNode>,
    ) -> Result<Option<TrieNode>, TrieError> {
        Ok(match new {
            None => None,
            Some(TrieNode::Branch(branch)) => {
                let r = self.write(below, &TrieNode::Branch(branch));
                Some(TrieNode::Extension(ExtensionNode::new(prefix, r)))
            }
            Some(TrieNode::Leaf(leaf)) => Some(TrieNode::Leaf(LeafNode::new(
                concat(self.id, &prefix, &leaf.key)?,
                leaf.value,
            ))),
            Some(TrieNode::Extension(e)) => Some(TrieNode::Extension(ExtensionNode::new(
                concat(self.id, &prefix, &e.key)?,
                e.child,
            ))),
            Some(TrieNode::EmptyRoot) => return Err(self.corrupt(&below, "empty node")),
        })
    }

    /// Applies `changes` below a (possibly virtual) branch at `path` and normalises the result.
    fn apply_branch(
        &mut self,
        path: Nibbles,
        mut children: [Child; 16],
        changes: &[Change],
    ) -> Result<Option<TrieNode>, TrieError> {
        let depth = path.len();
        let mut rest = changes;
        while let Some((first_key, _)) = rest.first() {
            let Some(nibble) = first_key.get(depth) else {
                return Err(self.corrupt(&path, "branch at full depth"));
            };
            let count = rest.iter().take_while(|(k, _)| k.get(depth) == Some(nibble)).count();
            let Some((group, tail)) = rest.split_at_checked(count) else {
                return Err(self.corrupt(&path, "change grouping"));
            };
            rest = tail;
            let below = child_path(self.id, &path, nibble)?;
            let Some(slot) = children.get_mut(usize::from(nibble)) else {
                return Err(self.corrupt(&path, "nibble out of range"));
            };
            let current = match std::mem::replace(slot, Child::Empty) {
                Child::Empty => None,
                Child::Stored(_) => Some(self.load_existing(&below)?),
                Child::Node(node) => Some(node),
            };
            let new = self.apply(below, current, group)?;
            if let Some(node) = new {
                set_child(&mut children, nibble, Child::Node(node));
            }
        }

        let present: Vec<u8> = (0..16u8)
            .zip(children.iter())
            .filter(|(_, c)| !matches!(c, Child::Empty))
            .map(|(n, _)| n)
            .collect();
        match present.as_slice() {
            [] => Ok(None),
            [nibble] => {
                let nibble = *nibble;
                let below = child_path(self.id, &path, nibble)?;
                let child = children
                    .into_iter()
                    .nth(usize::from(nibble))
                    .ok_or_else(|| self.corrupt(&path, "nibble out of range"))?;
                let node = match child {
                    Child::Empty => return Err(self.corrupt(&path, "lost child")),
                    Child::Stored(_) => self.load_existing(&below)?,
                    Child::Node(node) => node,
                };
                self.wrap(below, Nibbles::from_nibbles([nibble]), Some(node))
            }
            _ => {
                let mut stack = Vec::with_capacity(present.len());
                let mut mask = TrieMask::default();
                for (nibble, child) in (0..16u8).zip(children) {
                    match child {
                        Child::Empty => {}
                        Child::Stored(r) => {
                            stack.push(r);
                            mask.set_bit(nibble);
                        }
                        Child::Node(node) => {
                            let below = child_path(self.id, &path, nibble)?;
                            stack.push(self.write(below, &node));
                            mask.set_bit(nibble);
                        }
                    }
                }
                Ok(Some(TrieNode::Branch(BranchNode::new(stack, mask))))
            }
        }
    }
}

/// Length of the prefix that `base` shares with every key in `changes`.
fn common_len(base: &Nibbles, changes: &[Change]) -> usize {
    changes.iter().map(|(k, _)| base.common_prefix_length(k)).min().unwrap_or(base.len())
}

fn set_child(children: &mut [Child; 16], nibble: u8, child: Child) {
    if let Some(slot) = children.get_mut(usize::from(nibble)) {
        *slot = child;
    }
}
