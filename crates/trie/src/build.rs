//! From-scratch construction of a path-keyed trie from sorted entries (bulk genesis import).

use crate::{
    EMPTY_ROOT_HASH, Nibbles, TrieError, TrieId,
    incremental::{MAX_DEPTH, child_path},
};
use alloy_primitives::{B256, keccak256};
use alloy_trie::{
    TrieMask,
    nodes::{BranchNode, ExtensionNode, LeafNode, RlpNode, TrieNode},
};

/// Builds the trie over `entries` (keys of 64 nibbles, strictly ascending; values already
/// RLP-encoded) and streams every node to `sink(path, rlp)`, root (path `[]`) last.
///
/// Produces exactly the node set that [`crate::compute_state_root`] maintains incrementally,
/// and the same root as alloy-trie's `HashBuilder`. Memory is `O(depth)` beyond the input.
pub fn build_trie<F>(entries: &[(Nibbles, Vec<u8>)], mut sink: F) -> Result<B256, TrieError>
where
    F: FnMut(&Nibbles, Vec<u8>) -> Result<(), TrieError>,
{
    for pair in entries.windows(2) {
        if let [(a, _), (b, _)] = pair
            && a >= b
        {
            return Err(TrieError::DuplicateKey);
        }
    }
    if entries.iter().any(|(k, _)| k.len() != MAX_DEPTH) {
        return Err(TrieError::Corrupt {
            id: TrieId::Account,
            path: Nibbles::new(),
            reason: "key is not 32 bytes",
        });
    }
    let root_path = Nibbles::new();
    match build(&root_path, entries, &mut sink)? {
        None => Ok(EMPTY_ROOT_HASH),
        Some(node) => {
            let enc = alloy_rlp::encode(&node);
            let hash = keccak256(&enc);
            sink(&root_path, enc)?;
            Ok(hash)
        }
    }
}

fn corrupt(path: &Nibbles, reason: &'static str) -> TrieError {
    TrieError::Corrupt { id: TrieId::Account, path: *path, reason }
}

fn emit<F>(path: &Nibbles, node: &TrieNode, sink: &mut F) -> Result<RlpNode, TrieError>
where
    F: FnMut(&Nibbles, Vec<u8>) -> Result<(), TrieError>,
{
    let enc = alloy_rlp::encode(node);
    let reference = RlpNode::from_rlp(&enc);
    sink(path, enc)?;
    Ok(reference)
}

/// Returns the (unwritten) node at `path` for `entries`, writing all its descendants.
fn build<F>(
    path: &Nibbles,
    entries: &[(Nibbles, Vec<u8>)],
    sink: &mut F,
) -> Result<Option<TrieNode>, TrieError>
where
    F: FnMut(&Nibbles, Vec<u8>) -> Result<(), TrieError>,
{
    let (Some((first, value)), Some((last, _))) = (entries.first(), entries.last()) else {
        return Ok(None);
    };
    if path.len() > first.len() {
        return Err(corrupt(path, "key shorter than path"));
    }
    if entries.len() == 1 {
        return Ok(Some(TrieNode::Leaf(LeafNode::new(first.slice(path.len()..), value.clone()))));
    }
    let common = first.common_prefix_length(last);
    if common < path.len() {
        return Err(corrupt(path, "entries do not share the path"));
    }
    if common > path.len() {
        let below = first.slice(..common);
        let branch = build_branch(&below, entries, sink)?;
        let r = emit(&below, &branch, sink)?;
        let key = first.slice(path.len()..common);
        return Ok(Some(TrieNode::Extension(ExtensionNode::new(key, r))));
    }
    build_branch(path, entries, sink).map(Some)
}

fn build_branch<F>(
    path: &Nibbles,
    entries: &[(Nibbles, Vec<u8>)],
    sink: &mut F,
) -> Result<TrieNode, TrieError>
where
    F: FnMut(&Nibbles, Vec<u8>) -> Result<(), TrieError>,
{
    let depth = path.len();
    let mut stack = Vec::new();
    let mut mask = TrieMask::default();
    let mut rest = entries;
    while let Some((key, _)) = rest.first() {
        let Some(nibble) = key.get(depth) else {
            return Err(corrupt(path, "branch at full depth"));
        };
        let count = rest.iter().take_while(|(k, _)| k.get(depth) == Some(nibble)).count();
        let Some((group, tail)) = rest.split_at_checked(count) else {
            return Err(corrupt(path, "grouping"));
        };
        rest = tail;
        let below = child_path(TrieId::Account, path, nibble)?;
        let Some(child) = build(&below, group, sink)? else {
            return Err(corrupt(path, "empty group"));
        };
        stack.push(emit(&below, &child, sink)?);
        mask.set_bit(nibble);
    }
    Ok(TrieNode::Branch(BranchNode::new(stack, mask)))
}
