//! State-level changes (accounts + storage) and the incremental state-root computation.

use crate::{
    EMPTY_ROOT_HASH, Nibbles, NodeReader, TrieAccount, TrieError, TrieId, TrieUpdates,
    incremental::{Change, TrieApplier},
};
use alloy_primitives::{B256, U256, keccak256};
use std::collections::BTreeMap;

/// Account fields committed in the account trie (the storage root is derived).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountState {
    /// Nonce.
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// `keccak256(code)`, [`crate::KECCAK_EMPTY`] for no code.
    pub code_hash: B256,
}

/// The change of one account in a block (or any batch).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountUpdate {
    /// New account fields; `None` deletes the account (and its whole storage).
    pub info: Option<AccountState>,
    /// Delete all existing storage before applying `storage` (selfdestruct / re-creation).
    pub wipe_storage: bool,
    /// Slot changes keyed by `keccak256(slot)`; a zero value deletes the slot.
    pub storage: BTreeMap<B256, U256>,
}

/// A batch of state changes keyed by `keccak256(address)`.
///
/// Every account whose fields or storage change must be present with its *full* new
/// [`AccountState`] (the trie needs it to re-encode the leaf).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateChanges {
    /// Account changes keyed by hashed address.
    pub accounts: BTreeMap<B256, AccountUpdate>,
}

/// RLP encoding of a storage value as stored in a storage-trie leaf.
pub fn encode_slot_value(value: U256) -> Vec<u8> {
    alloy_rlp::encode(value)
}

/// Root of the persisted trie `id` (hash of its root node, or the empty root).
pub fn trie_root<R: NodeReader + ?Sized>(reader: &R, id: TrieId) -> Result<B256, TrieError> {
    Ok(reader.node(id, &Nibbles::new())?.map_or(EMPTY_ROOT_HASH, keccak256))
}

/// Computes the new state root after `changes` and the node updates that produce it.
///
/// Reads `O(touched keys × depth)` nodes from `reader` and never mutates it. Storage roots of
/// accounts whose storage is untouched are taken from their persisted storage-trie root node.
pub fn compute_state_root<R: NodeReader + ?Sized>(
    reader: &R,
    changes: &StateChanges,
) -> Result<(B256, TrieUpdates), TrieError> {
    let mut updates = TrieUpdates::default();
    let mut account_changes: Vec<Change> = Vec::with_capacity(changes.accounts.len());
    for (hashed, update) in &changes.accounts {
        let key = Nibbles::unpack(hashed);
        let Some(info) = update.info else {
            updates.wiped_storage.insert(*hashed);
            account_changes.push((key, None));
            continue;
        };
        let id = TrieId::Storage(*hashed);
        let storage_root = if update.wipe_storage || !update.storage.is_empty() {
            if update.wipe_storage {
                updates.wiped_storage.insert(*hashed);
            }
            let slot_changes: Vec<Change> = update
                .storage
                .iter()
                .map(|(slot, value)| {
                    (Nibbles::unpack(slot), (!value.is_zero()).then(|| encode_slot_value(*value)))
                })
                .collect();
            let diff = TrieApplier::new(reader, id, update.wipe_storage).run(&slot_changes)?;
            updates.nodes.extend(diff.nodes.into_iter().map(|(p, n)| ((id, p), n)));
            diff.root
        } else {
            trie_root(reader, id)?
        };
        let account = TrieAccount::new(info.nonce, info.balance, storage_root, info.code_hash);
        account_changes.push((key, Some(alloy_rlp::encode(account))));
    }
    let diff = TrieApplier::new(reader, TrieId::Account, false).run(&account_changes)?;
    updates.nodes.extend(diff.nodes.into_iter().map(|(p, n)| ((TrieId::Account, p), n)));
    Ok((diff.root, updates))
}

/// Convenience for callers holding plain keys: `keccak256` of an address or slot.
pub fn hash_key(key: impl AsRef<[u8]>) -> B256 {
    keccak256(key)
}
