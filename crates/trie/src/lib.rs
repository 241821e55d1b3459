//! Incremental, path-keyed Merkle-Patricia trie for the Ethereum state.
//!
//! # Model
//!
//! The state is one *account trie* (key `keccak256(address)`, value
//! `rlp(TrieAccount { nonce, balance, storage_root, code_hash })`) plus one *storage trie* per
//! account (key `keccak256(slot)`, value `rlp(U256)`, zero values absent). Every trie node is
//! persisted under its **path**: the trie it belongs to ([`TrieId`]) and the nibbles consumed from
//! the root to reach it. The stored bytes are the node's canonical RLP (alloy-trie's
//! [`BranchNode`](alloy_trie::nodes::BranchNode) / `ExtensionNode` / `LeafNode` encodings), so a
//! branch carries the references (hash or inline RLP) of all its children and the hash of any
//! subtree can be recomputed from the nodes along one path.
//!
//! # Invariants
//!
//! - The Merkle-Patricia trie over a key set is canonical, so the set of `(path, node)` pairs in
//!   the store is a pure function of the key/value set. [`compute_state_root`] returns updates
//!   that keep exactly that set: every node that disappears is deleted, nothing stale remains.
//!   Reverting a change set therefore restores the byte-identical node set (this is how the
//!   store unwinds).
//! - Applying a change set reads and writes `O(touched keys × depth)` nodes; nothing proportional
//!   to the size of the state is touched, except deleting the nodes of a wiped storage trie
//!   ([`TrieUpdates::wiped_storage`], a prefix deletion done by the store).
//! - Computing a root never mutates the store: the result is a [`TrieUpdates`] that the caller
//!   applies (wipes first, then node puts/deletes) in its own transaction.
//! - Corrupt or inconsistent stored nodes produce [`TrieError`], never a panic.
#![cfg_attr(
    not(test),
    deny(
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

mod build;
mod incremental;
mod proof;
mod state;
mod store;

pub use alloy_trie::{EMPTY_ROOT_HASH, KECCAK_EMPTY, Nibbles, TrieAccount};
pub use build::build_trie;
pub use proof::{KeyProof, OverlayReader, prove_key};
pub use state::{
    AccountState, AccountUpdate, StateChanges, compute_state_root, encode_slot_value, hash_key,
    trie_root,
};
pub use store::{MemoryNodeStore, NodeReader, TrieId, TrieUpdates};

/// Errors produced while reading or updating the trie.
#[derive(Debug, thiserror::Error)]
pub enum TrieError {
    /// The backing node store failed.
    #[error("node store: {0}")]
    Store(#[source] Box<dyn core::error::Error + Send + Sync>),
    /// A stored node could not be decoded.
    #[error("decoding trie node at {id:?}/{path:?}: {source}")]
    Decode {
        /// Trie of the node.
        id: TrieId,
        /// Path of the node.
        path: Nibbles,
        /// Underlying RLP error.
        source: alloy_rlp::Error,
    },
    /// The structure references a node that is not in the store.
    #[error("missing trie node at {id:?}/{path:?}")]
    MissingNode {
        /// Trie of the node.
        id: TrieId,
        /// Path of the node.
        path: Nibbles,
    },
    /// The stored structure is inconsistent (e.g. a path longer than 64 nibbles).
    #[error("corrupt trie at {id:?}/{path:?}: {reason}")]
    Corrupt {
        /// Trie of the node.
        id: TrieId,
        /// Path where the inconsistency was found.
        path: Nibbles,
        /// What is wrong.
        reason: &'static str,
    },
    /// Input keys were not unique.
    #[error("duplicate key in trie input")]
    DuplicateKey,
}

#[cfg(test)]
mod tests;
