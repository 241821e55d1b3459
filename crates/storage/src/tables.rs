//! redb table definitions and row encodings (layouts documented in the crate docs).

use crate::StoreError;
use alloy_primitives::{Address, B256, U256};
use based_trie::{Nibbles, TrieId};
use redb::TableDefinition;
use revm::state::AccountInfo;

pub(crate) const ACCOUNTS: TableDefinition<'static, [u8; 20], &[u8]> =
    TableDefinition::new("accounts");
pub(crate) const STORAGE: TableDefinition<'static, [u8; 52], [u8; 32]> =
    TableDefinition::new("storage");
pub(crate) const BYTECODE: TableDefinition<'static, [u8; 32], &[u8]> =
    TableDefinition::new("bytecode");
pub(crate) const HEADERS: TableDefinition<'static, u64, &[u8]> = TableDefinition::new("headers");
pub(crate) const CANONICAL: TableDefinition<'static, u64, [u8; 32]> =
    TableDefinition::new("canonical");
pub(crate) const HEADER_NUMBERS: TableDefinition<'static, [u8; 32], u64> =
    TableDefinition::new("header_numbers");
pub(crate) const BODIES: TableDefinition<'static, u64, &[u8]> = TableDefinition::new("bodies");
pub(crate) const RECEIPTS: TableDefinition<'static, u64, &[u8]> = TableDefinition::new("receipts");
pub(crate) const TX_INDEX: TableDefinition<'static, [u8; 32], [u8; 12]> =
    TableDefinition::new("tx_index");
pub(crate) const ACCOUNT_CHANGES: TableDefinition<'static, [u8; 28], &[u8]> =
    TableDefinition::new("account_changes");
pub(crate) const ACCOUNT_HISTORY: TableDefinition<'static, [u8; 28], ()> =
    TableDefinition::new("account_history");
pub(crate) const STORAGE_CHANGES: TableDefinition<'static, [u8; 60], [u8; 32]> =
    TableDefinition::new("storage_changes");
pub(crate) const STORAGE_HISTORY: TableDefinition<'static, [u8; 60], ()> =
    TableDefinition::new("storage_history");
pub(crate) const STORAGE_WIPES: TableDefinition<'static, [u8; 28], ()> =
    TableDefinition::new("storage_wipes");
pub(crate) const TRIE_NODES: TableDefinition<'static, &[u8], &[u8]> =
    TableDefinition::new("trie_nodes");
pub(crate) const META: TableDefinition<'static, &[u8], &[u8]> = TableDefinition::new("meta");
pub(crate) const CHAIN: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("chain");

/// `CHAIN` key of the head: `number (8 BE) ‖ hash (32)`.
pub(crate) const HEAD_KEY: &str = "head";
/// `CHAIN` key of the genesis hash.
pub(crate) const GENESIS_KEY: &str = "genesis";

/// Length of an encoded account row.
pub(crate) const ACCOUNT_LEN: usize = 72;

pub(crate) fn corrupt(table: &'static str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt { table, reason: reason.into() }
}

/// `nonce (8 BE) ‖ balance (32 BE) ‖ code_hash (32)`.
pub(crate) fn encode_account(info: &AccountInfo) -> [u8; ACCOUNT_LEN] {
    let mut out = [0u8; ACCOUNT_LEN];
    let (nonce, rest) = out.split_at_mut(8);
    let (balance, code_hash) = rest.split_at_mut(32);
    nonce.copy_from_slice(&info.nonce.to_be_bytes());
    balance.copy_from_slice(&info.balance.to_be_bytes::<32>());
    code_hash.copy_from_slice(info.code_hash.as_slice());
    out
}

pub(crate) fn decode_account(table: &'static str, bytes: &[u8]) -> Result<AccountInfo, StoreError> {
    if bytes.len() != ACCOUNT_LEN {
        return Err(corrupt(table, format!("account row of {} bytes", bytes.len())));
    }
    let (nonce, rest) = bytes.split_at(8);
    let (balance, code_hash) = rest.split_at(32);
    let mut nonce_bytes = [0u8; 8];
    nonce_bytes.copy_from_slice(nonce);
    Ok(AccountInfo {
        nonce: u64::from_be_bytes(nonce_bytes),
        balance: U256::from_be_slice(balance),
        code_hash: B256::from_slice(code_hash),
        code: None,
        ..Default::default()
    })
}

pub(crate) fn storage_key(address: &Address, slot: &U256) -> [u8; 52] {
    let mut k = [0u8; 52];
    let (a, s) = k.split_at_mut(20);
    a.copy_from_slice(address.as_slice());
    s.copy_from_slice(&slot.to_be_bytes::<32>());
    k
}

pub(crate) fn split_storage_key(k: &[u8; 52]) -> (Address, U256) {
    let (a, s) = k.split_at(20);
    (Address::from_slice(a), U256::from_be_slice(s))
}

/// Range bounds covering every storage row of `address`.
pub(crate) fn storage_range(address: &Address) -> ([u8; 52], [u8; 52]) {
    (storage_key(address, &U256::ZERO), storage_key(address, &U256::MAX))
}

/// `block (8 BE) ‖ address (20)`.
pub(crate) fn block_address_key(block: u64, address: &Address) -> [u8; 28] {
    let mut k = [0u8; 28];
    let (b, a) = k.split_at_mut(8);
    b.copy_from_slice(&block.to_be_bytes());
    a.copy_from_slice(address.as_slice());
    k
}

/// `address (20) ‖ block (8 BE)`.
pub(crate) fn address_block_key(address: &Address, block: u64) -> [u8; 28] {
    let mut k = [0u8; 28];
    let (a, b) = k.split_at_mut(20);
    a.copy_from_slice(address.as_slice());
    b.copy_from_slice(&block.to_be_bytes());
    k
}

pub(crate) fn split_block_address(k: &[u8; 28]) -> (u64, Address) {
    let (b, a) = k.split_at(8);
    let mut bb = [0u8; 8];
    bb.copy_from_slice(b);
    (u64::from_be_bytes(bb), Address::from_slice(a))
}

pub(crate) fn block_of_address_block(k: &[u8; 28]) -> u64 {
    let (_, b) = k.split_at(20);
    let mut bb = [0u8; 8];
    bb.copy_from_slice(b);
    u64::from_be_bytes(bb)
}

/// `block (8 BE) ‖ address (20) ‖ slot (32 BE)`.
pub(crate) fn block_slot_key(block: u64, address: &Address, slot: &U256) -> [u8; 60] {
    let mut k = [0u8; 60];
    let (b, rest) = k.split_at_mut(8);
    b.copy_from_slice(&block.to_be_bytes());
    rest.copy_from_slice(&storage_key(address, slot));
    k
}

pub(crate) fn split_block_slot(k: &[u8; 60]) -> (u64, Address, U256) {
    let (b, rest) = k.split_at(8);
    let mut bb = [0u8; 8];
    bb.copy_from_slice(b);
    let mut sk = [0u8; 52];
    sk.copy_from_slice(rest);
    let (a, s) = split_storage_key(&sk);
    (u64::from_be_bytes(bb), a, s)
}

/// `address (20) ‖ slot (32 BE) ‖ block (8 BE)`.
pub(crate) fn slot_block_key(address: &Address, slot: &U256, block: u64) -> [u8; 60] {
    let mut k = [0u8; 60];
    let (s, b) = k.split_at_mut(52);
    s.copy_from_slice(&storage_key(address, slot));
    b.copy_from_slice(&block.to_be_bytes());
    k
}

pub(crate) fn block_of_slot_block(k: &[u8; 60]) -> u64 {
    let (_, b) = k.split_at(52);
    let mut bb = [0u8; 8];
    bb.copy_from_slice(b);
    u64::from_be_bytes(bb)
}

/// Trie node key: `0x00 ‖ packed path ‖ len` (account trie) or
/// `0x01 ‖ hashed address ‖ packed path ‖ len` (storage trie).
pub(crate) fn node_key(id: TrieId, path: &Nibbles) -> Vec<u8> {
    let packed = path.pack();
    let mut k = Vec::with_capacity(34usize.saturating_add(packed.len()));
    match id {
        TrieId::Account => k.push(0),
        TrieId::Storage(owner) => {
            k.push(1);
            k.extend_from_slice(owner.as_slice());
        }
    }
    k.extend_from_slice(&packed);
    // A path has at most 64 nibbles.
    k.push(u8::try_from(path.len()).unwrap_or(u8::MAX));
    k
}

/// Key range `[start, end)` covering every node of the storage trie of `owner`.
pub(crate) fn storage_trie_range(owner: &B256) -> (Vec<u8>, Vec<u8>) {
    let mut start = Vec::with_capacity(33);
    start.push(1);
    start.extend_from_slice(owner.as_slice());
    let mut end = start.clone();
    // Append 0xff.. past any packed path (max 32 bytes + len byte).
    end.extend_from_slice(&[0xff; 34]);
    (start, end)
}

pub(crate) fn head_value(number: u64, hash: &B256) -> [u8; 40] {
    let mut v = [0u8; 40];
    let (n, h) = v.split_at_mut(8);
    n.copy_from_slice(&number.to_be_bytes());
    h.copy_from_slice(hash.as_slice());
    v
}

pub(crate) fn decode_head(bytes: &[u8]) -> Result<(u64, B256), StoreError> {
    if bytes.len() != 40 {
        return Err(corrupt("chain", "head row length"));
    }
    let (n, h) = bytes.split_at(8);
    let mut nb = [0u8; 8];
    nb.copy_from_slice(n);
    Ok((u64::from_be_bytes(nb), B256::from_slice(h)))
}

pub(crate) fn tx_location(number: u64, index: u32) -> [u8; 12] {
    let mut v = [0u8; 12];
    let (n, i) = v.split_at_mut(8);
    n.copy_from_slice(&number.to_be_bytes());
    i.copy_from_slice(&index.to_be_bytes());
    v
}

pub(crate) fn split_tx_location(v: &[u8; 12]) -> (u64, u32) {
    let (n, i) = v.split_at(8);
    let mut nb = [0u8; 8];
    nb.copy_from_slice(n);
    let mut ib = [0u8; 4];
    ib.copy_from_slice(i);
    (u64::from_be_bytes(nb), u32::from_be_bytes(ib))
}
