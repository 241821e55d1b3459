//! EIP-1186 account and storage proofs from the stored trie, at the head or a recent block.
//!
//! The store keeps the trie nodes of the head state only. A proof at the head walks them
//! directly: `O(depth)` node reads per key. A proof at an older block `n` first rebuilds, in
//! memory and read-only, the trie changes that revert blocks `n + 1 ..= head` (the same
//! computation an unwind does, from the change sets) and walks the head trie with those changes
//! overlaid: the cost grows with the number of accounts and slots changed since `n` (times the
//! trie depth), so callers bound how far back they allow proofs. Everything is read in one read
//! transaction, so the proof, the header and the state describe the same block.

use crate::{
    StoreError,
    state::{NodeTable, account_state, hash_slot, read_account, read_head},
    tables::*,
};
use alloy_consensus::Header;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use based_trie::{
    AccountUpdate, Nibbles, OverlayReader, StateChanges, TrieAccount, TrieId, TrieUpdates,
    compute_state_root, prove_key, trie_root,
};
use redb::{ReadTransaction, ReadableDatabase, ReadableTable};
use revm::state::AccountInfo;
use std::collections::{BTreeMap, BTreeSet};

/// An account proof with its storage proofs (EIP-1186).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountProof {
    /// The account.
    pub address: Address,
    /// The account's trie leaf (`None`: the account does not exist at that block).
    pub account: Option<TrieAccount>,
    /// Account-trie nodes from the state root to the account's leaf (or to where its path
    /// leaves the trie).
    pub account_proof: Vec<Bytes>,
    /// One proof per requested slot, in request order.
    pub storage: Vec<StorageProof>,
    /// The state root the proofs verify against (the block's `stateRoot`).
    pub state_root: B256,
}

/// A storage-slot proof against the account's storage root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageProof {
    /// The slot (unhashed key).
    pub slot: B256,
    /// Its value (zero when absent).
    pub value: U256,
    /// Storage-trie nodes from the storage root towards `keccak256(slot)`.
    pub proof: Vec<Bytes>,
}

/// Builds the proof of `address` and `slots` in the state after block `number` (`<=` head).
pub(crate) fn account_proof(
    db: &redb::Database,
    number: u64,
    address: Address,
    slots: &[B256],
) -> Result<AccountProof, StoreError> {
    let tx = db.begin_read()?;
    let (head, _) = read_head(&tx.open_table(CHAIN)?)?;
    if number > head {
        return Err(StoreError::MissingBlock(number));
    }
    let header = {
        let headers = tx.open_table(HEADERS)?;
        let row = headers.get(number)?.ok_or(StoreError::MissingBlock(number))?;
        <Header as alloy_rlp::Decodable>::decode(&mut row.value())?
    };
    let nodes = tx.open_table(TRIE_NODES)?;
    let base = NodeTable(&nodes);
    let updates = if number < head {
        revert_updates(&tx, &base, number, head)?
    } else {
        TrieUpdates::default()
    };
    let reader = OverlayReader::new(&base, &updates);
    let root = trie_root(&reader, TrieId::Account)?;
    if root != header.state_root {
        return Err(StoreError::StateRootMismatch {
            number,
            expected: header.state_root,
            computed: root,
        });
    }
    let hashed = keccak256(address);
    let walked = prove_key(&reader, TrieId::Account, &Nibbles::unpack(hashed))?;
    let account = walked
        .value
        .map(|v| alloy_rlp::decode_exact::<TrieAccount>(&v))
        .transpose()
        .map_err(|e| corrupt("trie_nodes", format!("account leaf: {e}")))?;
    let mut storage = Vec::with_capacity(slots.len());
    for slot in slots {
        let key = Nibbles::unpack(keccak256(slot));
        let walked = prove_key(&reader, TrieId::Storage(hashed), &key)?;
        let value = walked
            .value
            .map(|v| alloy_rlp::decode_exact::<U256>(&v))
            .transpose()
            .map_err(|e| corrupt("trie_nodes", format!("storage leaf: {e}")))?
            .unwrap_or_default();
        storage.push(StorageProof { slot: *slot, value, proof: walked.proof });
    }
    Ok(AccountProof { address, account, account_proof: walked.proof, storage, state_root: root })
}

/// The trie updates that turn the head trie into the trie after block `target`, computed
/// read-only from the change sets of blocks `target + 1 ..= head` (as an unwind does).
fn revert_updates<T: ReadableTable<&'static [u8], &'static [u8]>>(
    tx: &ReadTransaction,
    base: &NodeTable<'_, T>,
    target: u64,
    head: u64,
) -> Result<TrieUpdates, StoreError> {
    let mut account_targets: BTreeMap<Address, Option<AccountInfo>> = BTreeMap::new();
    let mut slot_targets: BTreeMap<Address, BTreeMap<U256, U256>> = BTreeMap::new();
    let mut wiped: BTreeSet<Address> = BTreeSet::new();
    let account_changes = tx.open_table(ACCOUNT_CHANGES)?;
    let storage_changes = tx.open_table(STORAGE_CHANGES)?;
    let wipes = tx.open_table(STORAGE_WIPES)?;
    for block in (target.saturating_add(1)..=head).rev() {
        let lo = block_address_key(block, &Address::ZERO);
        let hi = block_address_key(block, &Address::repeat_byte(0xff));
        for row in wipes.range(lo..=hi)? {
            let (k, _) = row?;
            let (_, address) = split_block_address(&k.value());
            wiped.insert(address);
            slot_targets.entry(address).or_default().clear();
        }
        for row in account_changes.range(lo..=hi)? {
            let (k, v) = row?;
            let (_, address) = split_block_address(&k.value());
            let prev = v.value();
            let prev =
                if prev.is_empty() { None } else { Some(decode_account("account_changes", prev)?) };
            account_targets.insert(address, prev);
        }
        let slo = block_slot_key(block, &Address::ZERO, &U256::ZERO);
        let shi = block_slot_key(block, &Address::repeat_byte(0xff), &U256::MAX);
        for row in storage_changes.range(slo..=shi)? {
            let (k, v) = row?;
            let (_, address, slot) = split_block_slot(&k.value());
            slot_targets.entry(address).or_default().insert(slot, U256::from_be_bytes(v.value()));
        }
    }
    let accounts = tx.open_table(ACCOUNTS)?;
    let touched: BTreeSet<Address> =
        account_targets.keys().chain(slot_targets.keys()).chain(wiped.iter()).copied().collect();
    let mut trie = StateChanges::default();
    for address in touched {
        let info = match account_targets.get(&address) {
            Some(info) => info.clone(),
            None => read_account(&accounts, &address)?,
        };
        let update = match info {
            None => AccountUpdate::default(),
            Some(info) => AccountUpdate {
                info: Some(account_state(&info)),
                wipe_storage: wiped.contains(&address),
                storage: slot_targets
                    .get(&address)
                    .map(|s| s.iter().map(|(k, v)| (hash_slot(k), *v)).collect())
                    .unwrap_or_default(),
            },
        };
        trie.accounts.insert(keccak256(address), update);
    }
    Ok(compute_state_root(base, &trie)?.1)
}
