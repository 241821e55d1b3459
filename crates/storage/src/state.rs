//! Genesis import, block commit, state-root computation and unwind.

use crate::{
    BlockCommit, Durability, StoreError, UnsealedBlock,
    cache::{CachedNodes, TrieCache},
    encode_body, encode_receipts,
    tables::*,
};
use alloy_consensus::Header;
use alloy_genesis::GenesisAccount;
use alloy_primitives::{Address, B256, U256, keccak256};
use based_trie::{
    AccountState, AccountUpdate, EMPTY_ROOT_HASH, KECCAK_EMPTY, Nibbles, NodeReader, StateChanges,
    TrieAccount, TrieError, TrieId, TrieUpdates, build_trie, compute_state_root, encode_slot_value,
};
use redb::{ReadableDatabase, ReadableTable, Table};
use revm::{
    database::{BundleState, OriginalValuesKnown},
    state::{AccountInfo, Bytecode},
};
use std::{
    cell::RefCell,
    collections::{BTreeMap, BTreeSet, HashSet},
};
use tracing::{debug, info};

const TARGET: &str = "based::storage";

/// Trie nodes read through any redb table handle (read or write transaction).
pub(crate) struct NodeTable<'a, T>(pub(crate) &'a T);

impl<T: ReadableTable<&'static [u8], &'static [u8]>> NodeReader for NodeTable<'_, T> {
    fn node(&self, id: TrieId, path: &Nibbles) -> Result<Option<Vec<u8>>, TrieError> {
        let key = node_key(id, path);
        self.0
            .get(key.as_slice())
            .map(|row| row.map(|v| v.value().to_vec()))
            .map_err(|e| TrieError::Store(Box::new(e)))
    }
}

/// The change of one address in a block, derived from a `BundleState`.
#[derive(Debug, Default)]
struct AccountDelta {
    /// `Some(new)` if the account info changed (`Some(None)` = deleted).
    info: Option<Option<AccountInfo>>,
    /// Storage wiped (selfdestruct / re-creation).
    wipe: bool,
    /// Slot → new value (zero = cleared).
    storage: BTreeMap<U256, U256>,
}

struct BlockChanges {
    accounts: BTreeMap<Address, AccountDelta>,
    contracts: Vec<(B256, Bytecode)>,
}

fn derive_changes(bundle: &BundleState) -> BlockChanges {
    let plain = bundle.to_plain_state(OriginalValuesKnown::Yes);
    let mut accounts: BTreeMap<Address, AccountDelta> = BTreeMap::new();
    for (address, info) in plain.accounts {
        accounts.entry(address).or_default().info = Some(info);
    }
    for change in plain.storage {
        let delta = accounts.entry(change.address).or_default();
        delta.wipe |= change.wipe_storage;
        delta.storage.extend(change.storage);
    }
    BlockChanges { accounts, contracts: plain.contracts }
}

pub(crate) fn read_account<T: ReadableTable<[u8; 20], &'static [u8]>>(
    table: &T,
    address: &Address,
) -> Result<Option<AccountInfo>, StoreError> {
    table.get(address.0.0)?.map(|v| decode_account("accounts", v.value())).transpose()
}

pub(crate) fn hash_slot(slot: &U256) -> B256 {
    keccak256(slot.to_be_bytes::<32>())
}

pub(crate) fn account_state(info: &AccountInfo) -> AccountState {
    AccountState { nonce: info.nonce, balance: info.balance, code_hash: info.code_hash }
}

/// Trie-level changes of a block; the final account comes from the delta or the current row.
fn trie_changes<T: ReadableTable<[u8; 20], &'static [u8]>>(
    changes: &BlockChanges,
    accounts: &T,
) -> Result<StateChanges, StoreError> {
    let mut out = StateChanges::default();
    for (address, delta) in &changes.accounts {
        let info = match &delta.info {
            Some(info) => info.clone(),
            None => read_account(accounts, address)?,
        };
        let update = match info {
            None => AccountUpdate::default(),
            Some(info) => AccountUpdate {
                info: Some(account_state(&info)),
                wipe_storage: delta.wipe,
                storage: delta.storage.iter().map(|(k, v)| (hash_slot(k), *v)).collect(),
            },
        };
        out.accounts.insert(keccak256(address), update);
    }
    Ok(out)
}

pub(crate) fn state_root_with(
    db: &redb::Database,
    cache: &mut TrieCache,
    bundle: &BundleState,
) -> Result<(B256, TrieUpdates), StoreError> {
    state_root_of(db, cache, &derive_changes(bundle))
}

/// [`state_root_with`] for changes already derived from the bundle.
fn state_root_of(
    db: &redb::Database,
    cache: &mut TrieCache,
    changes: &BlockChanges,
) -> Result<(B256, TrieUpdates), StoreError> {
    let tx = db.begin_read()?;
    let accounts = tx.open_table(ACCOUNTS)?;
    let nodes = tx.open_table(TRIE_NODES)?;
    let trie = trie_changes(changes, &accounts)?;
    match tx.open_table(CHAIN)?.get(HEAD_KEY)? {
        Some(head) => {
            let (_, head) = decode_head(head.value())?;
            cache.use_version(head);
            let reader = CachedNodes { cache: RefCell::new(cache), table: NodeTable(&nodes) };
            Ok(compute_state_root(&reader, &trie)?)
        }
        // No genesis yet: nothing worth caching.
        None => Ok(compute_state_root(&NodeTable(&nodes), &trie)?),
    }
}

fn apply_trie_updates(
    nodes: &mut Table<'_, &'static [u8], &'static [u8]>,
    updates: &TrieUpdates,
) -> Result<(), StoreError> {
    for owner in &updates.wiped_storage {
        let (start, end) = storage_trie_range(owner);
        nodes.retain_in(start.as_slice()..end.as_slice(), |_, _| false)?;
    }
    for ((id, path), value) in &updates.nodes {
        let key = node_key(*id, path);
        match value {
            Some(v) => {
                nodes.insert(key.as_slice(), v.as_slice())?;
            }
            None => {
                nodes.remove(key.as_slice())?;
            }
        }
    }
    Ok(())
}

fn current_root<T: ReadableTable<&'static [u8], &'static [u8]>>(
    nodes: &T,
) -> Result<B256, StoreError> {
    Ok(based_trie::trie_root(&NodeTable(nodes), TrieId::Account)?)
}

pub(crate) fn read_head(
    chain: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<(u64, B256), StoreError> {
    let row = chain.get(HEAD_KEY)?.ok_or(StoreError::NoGenesis)?;
    decode_head(row.value())
}

/// Storage rows of `address` (slot, value).
fn account_storage<T: ReadableTable<[u8; 52], [u8; 32]>>(
    table: &T,
    address: &Address,
) -> Result<Vec<(U256, [u8; 32])>, StoreError> {
    let (start, end) = storage_range(address);
    let mut out = Vec::new();
    for row in table.range(start..=end)? {
        let (k, v) = row?;
        let (_, slot) = split_storage_key(&k.value());
        out.push((slot, v.value()));
    }
    Ok(out)
}

/// Computes the genesis state root, streaming every trie node to `sink`.
pub(crate) fn genesis_root<F>(
    alloc: &BTreeMap<Address, GenesisAccount>,
    mut sink: F,
) -> Result<B256, StoreError>
where
    F: FnMut(TrieId, &Nibbles, Vec<u8>) -> Result<(), TrieError>,
{
    let mut account_entries = Vec::with_capacity(alloc.len());
    for (i, (address, account)) in alloc.iter().enumerate() {
        let hashed = keccak256(address);
        let mut slots: Vec<(Nibbles, Vec<u8>)> = account
            .storage
            .iter()
            .flatten()
            .map(|(k, v)| (U256::from_be_bytes(k.0), U256::from_be_bytes(v.0)))
            .filter(|(_, v)| !v.is_zero())
            .map(|(k, v)| (Nibbles::unpack(hash_slot(&k)), encode_slot_value(v)))
            .collect();
        slots.sort_unstable_by_key(|a| a.0);
        let id = TrieId::Storage(hashed);
        let storage_root = if slots.is_empty() {
            EMPTY_ROOT_HASH
        } else {
            build_trie(&slots, |path, node| sink(id, path, node))?
        };
        let code_hash =
            account.code.as_ref().filter(|c| !c.is_empty()).map_or(KECCAK_EMPTY, keccak256);
        let trie_account = TrieAccount::new(
            account.nonce.unwrap_or_default(),
            account.balance,
            storage_root,
            code_hash,
        );
        account_entries.push((Nibbles::unpack(hashed), alloy_rlp::encode(trie_account)));
        if i % 100_000 == 0 && i > 0 {
            info!(target: TARGET, accounts = i, total = alloc.len(), "genesis: hashed storage tries");
        }
    }
    account_entries.sort_unstable_by_key(|a| a.0);
    info!(target: TARGET, accounts = account_entries.len(), "genesis: building account trie");
    Ok(build_trie(&account_entries, |path, node| sink(TrieId::Account, path, node))?)
}

pub(crate) fn init_genesis(
    db: &redb::Database,
    header: &Header,
    alloc: &BTreeMap<Address, GenesisAccount>,
) -> Result<B256, StoreError> {
    let hash = header.hash_slow();
    let tx = db.begin_write()?;
    {
        let chain = tx.open_table(CHAIN)?;
        if let Some(stored) = chain.get(GENESIS_KEY)? {
            let stored = B256::from_slice(stored.value());
            if stored != hash {
                return Err(StoreError::GenesisMismatch { stored, given: hash });
            }
            let nodes = tx.open_table(TRIE_NODES)?;
            return current_root(&nodes);
        }
    }
    {
        let mut accounts = tx.open_table(ACCOUNTS)?;
        let mut storage = tx.open_table(STORAGE)?;
        let mut bytecode = tx.open_table(BYTECODE)?;
        for (i, (address, account)) in alloc.iter().enumerate() {
            let mut info = AccountInfo {
                nonce: account.nonce.unwrap_or_default(),
                balance: account.balance,
                ..Default::default()
            };
            if let Some(code) = account.code.as_ref().filter(|c| !c.is_empty()) {
                info.code_hash = keccak256(code);
                bytecode.insert(info.code_hash.0, code.as_ref())?;
            }
            accounts.insert(address.0.0, encode_account(&info).as_slice())?;
            for (slot, value) in account.storage.iter().flatten() {
                let value = U256::from_be_bytes(value.0);
                if !value.is_zero() {
                    storage.insert(
                        storage_key(address, &U256::from_be_bytes(slot.0)),
                        value.to_be_bytes::<32>(),
                    )?;
                }
            }
            if i % 100_000 == 0 && i > 0 {
                info!(target: TARGET, accounts = i, total = alloc.len(), "genesis: wrote plain state");
            }
        }
    }
    let root = {
        let mut nodes = tx.open_table(TRIE_NODES)?;
        genesis_root(alloc, |id, path, node| {
            let key = node_key(id, path);
            nodes
                .insert(key.as_slice(), node.as_slice())
                .map(|_| ())
                .map_err(|e| TrieError::Store(Box::new(e)))
        })?
    };
    if root != header.state_root {
        return Err(StoreError::StateRootMismatch {
            number: header.number,
            expected: header.state_root,
            computed: root,
        });
    }
    write_header(&tx, header, hash)?;
    write_body(
        &tx,
        header.number,
        &BodyParts { transactions: &[], senders: &[], receipts: &[], withdrawals: None },
    )?;
    {
        let mut chain = tx.open_table(CHAIN)?;
        chain.insert(GENESIS_KEY, hash.as_slice())?;
        chain.insert(HEAD_KEY, head_value(header.number, &hash).as_slice())?;
    }
    tx.commit()?;
    info!(target: TARGET, %hash, %root, accounts = alloc.len(), "genesis initialised");
    Ok(root)
}

fn write_header(
    tx: &redb::WriteTransaction,
    header: &Header,
    hash: B256,
) -> Result<(), StoreError> {
    let number = header.number;
    tx.open_table(HEADERS)?.insert(number, alloy_rlp::encode(header).as_slice())?;
    tx.open_table(CANONICAL)?.insert(number, hash.0)?;
    tx.open_table(HEADER_NUMBERS)?.insert(hash.0, number)?;
    Ok(())
}

/// The parts of a block keyed by its number: body, receipts and the transaction index.
fn write_body(
    tx: &redb::WriteTransaction,
    number: u64,
    body: &BodyParts<'_>,
) -> Result<(), StoreError> {
    tx.open_table(BODIES)?.insert(
        number,
        encode_body(body.transactions, body.senders, body.withdrawals).as_slice(),
    )?;
    tx.open_table(RECEIPTS)?.insert(number, encode_receipts(body.receipts).as_slice())?;
    let mut index = tx.open_table(TX_INDEX)?;
    for (i, t) in body.transactions.iter().enumerate() {
        let i = u32::try_from(i).map_err(|_| corrupt("bodies", "too many transactions"))?;
        index.insert(t.tx_hash().0, tx_location(number, i))?;
    }
    Ok(())
}

/// Borrowed body of a block being committed.
struct BodyParts<'a> {
    transactions: &'a [alloy_consensus::TxEnvelope],
    senders: &'a [Address],
    receipts: &'a [alloy_consensus::ReceiptEnvelope],
    withdrawals: Option<&'a alloy_eips::eip4895::Withdrawals>,
}

impl BodyParts<'_> {
    fn check_lengths(&self) -> Result<(), StoreError> {
        if self.transactions.len() != self.senders.len()
            || self.transactions.len() != self.receipts.len()
        {
            return Err(StoreError::LengthMismatch {
                transactions: self.transactions.len(),
                senders: self.senders.len(),
                receipts: self.receipts.len(),
            });
        }
        Ok(())
    }
}

/// Opens a write transaction committed with `durability`.
pub(crate) fn begin_write(
    db: &redb::Database,
    durability: Durability,
) -> Result<redb::WriteTransaction, StoreError> {
    let mut tx = db.begin_write()?;
    if durability == Durability::Deferred {
        tx.set_durability(redb::Durability::None)?;
    }
    Ok(tx)
}

/// Opens the write transaction of block `number` with parent `parent` and checks it extends the head.
fn begin_block(
    db: &redb::Database,
    number: u64,
    parent: B256,
    hash: B256,
    durability: Durability,
) -> Result<redb::WriteTransaction, StoreError> {
    let tx = begin_write(db, durability)?;
    let (head_number, head_hash) = read_head(&tx.open_table(CHAIN)?)?;
    if head_number.checked_add(1) != Some(number) || parent != head_hash {
        return Err(StoreError::NotChild { number, hash, head_number, head_hash });
    }
    Ok(tx)
}

/// Plain state, change set, history index and bytecode of block `number`.
fn write_state_changes(
    tx: &redb::WriteTransaction,
    number: u64,
    changes: &BlockChanges,
) -> Result<(), StoreError> {
    {
        let mut accounts = tx.open_table(ACCOUNTS)?;
        let mut storage = tx.open_table(STORAGE)?;
        let mut bytecode = tx.open_table(BYTECODE)?;
        let mut account_changes = tx.open_table(ACCOUNT_CHANGES)?;
        let mut account_history = tx.open_table(ACCOUNT_HISTORY)?;
        let mut storage_changes = tx.open_table(STORAGE_CHANGES)?;
        let mut storage_history = tx.open_table(STORAGE_HISTORY)?;
        let mut wipes = tx.open_table(STORAGE_WIPES)?;
        for (address, delta) in &changes.accounts {
            let prev_row: Option<Vec<u8>> = accounts.get(address.0.0)?.map(|v| v.value().to_vec());
            let new_info = match &delta.info {
                Some(info) => info.clone(),
                None => prev_row.as_deref().map(|r| decode_account("accounts", r)).transpose()?,
            };
            let deleted = new_info.is_none();
            let mut recorded: HashSet<U256> = HashSet::new();
            if delta.wipe || deleted {
                for (slot, value) in account_storage(&storage, address)? {
                    storage_changes.insert(block_slot_key(number, address, &slot), value)?;
                    storage_history.insert(slot_block_key(address, &slot, number), ())?;
                    storage.remove(storage_key(address, &slot))?;
                    recorded.insert(slot);
                }
                wipes.insert(block_address_key(number, address), ())?;
            }
            if !deleted {
                for (slot, value) in &delta.storage {
                    let key = storage_key(address, slot);
                    if !recorded.contains(slot) {
                        let prev = storage.get(key)?.map(|v| v.value()).unwrap_or([0u8; 32]);
                        storage_changes.insert(block_slot_key(number, address, slot), prev)?;
                        storage_history.insert(slot_block_key(address, slot, number), ())?;
                    }
                    if value.is_zero() {
                        storage.remove(key)?;
                    } else {
                        storage.insert(key, value.to_be_bytes::<32>())?;
                    }
                }
            }
            if delta.info.is_some() || deleted {
                account_changes.insert(
                    block_address_key(number, address),
                    prev_row.as_deref().unwrap_or(&[]),
                )?;
                account_history.insert(address_block_key(address, number), ())?;
                match &new_info {
                    Some(info) => {
                        accounts.insert(address.0.0, encode_account(info).as_slice())?;
                    }
                    None => {
                        accounts.remove(address.0.0)?;
                    }
                }
            }
        }
        for (code_hash, code) in &changes.contracts {
            if bytecode.get(code_hash.0)?.is_none() {
                bytecode.insert(code_hash.0, code.original_bytes().as_ref())?;
            }
        }
    }
    Ok(())
}

/// Applies the trie updates (checking the root against `header`), writes the header, `meta` and
/// the new head, and commits.
fn finish_block(
    tx: redb::WriteTransaction,
    header: &Header,
    hash: B256,
    trie_updates: &TrieUpdates,
    meta: &[(Vec<u8>, Vec<u8>)],
) -> Result<(), StoreError> {
    {
        let mut nodes = tx.open_table(TRIE_NODES)?;
        apply_trie_updates(&mut nodes, trie_updates)?;
        let root = current_root(&nodes)?;
        if root != header.state_root {
            return Err(StoreError::StateRootMismatch {
                number: header.number,
                expected: header.state_root,
                computed: root,
            });
        }
    }
    write_header(&tx, header, hash)?;
    {
        let mut meta_table = tx.open_table(META)?;
        for (k, v) in meta {
            meta_table.insert(k.as_slice(), v.as_slice())?;
        }
        tx.open_table(CHAIN)?.insert(HEAD_KEY, head_value(header.number, &hash).as_slice())?;
    }
    tx.commit()?;
    Ok(())
}

/// Commits `commit`; returns the trie updates it applied (for the node cache).
pub(crate) fn commit_block(
    db: &redb::Database,
    commit: BlockCommit,
    durability: Durability,
) -> Result<TrieUpdates, StoreError> {
    let BlockCommit {
        header,
        hash,
        transactions,
        senders,
        receipts,
        withdrawals,
        bundle,
        trie_updates,
        meta,
    } = commit;
    let computed = header.hash_slow();
    if computed != hash {
        return Err(StoreError::HashMismatch { given: hash, computed });
    }
    let body = BodyParts {
        transactions: &transactions,
        senders: &senders,
        receipts: &receipts,
        withdrawals: withdrawals.as_ref(),
    };
    body.check_lengths()?;
    let number = header.number;
    let tx = begin_block(db, number, header.parent_hash, hash, durability)?;
    let changes = derive_changes(&bundle);
    write_state_changes(&tx, number, &changes)?;
    write_body(&tx, number, &body)?;
    finish_block(tx, &header, hash, &trie_updates, &meta)?;
    debug!(
        target: TARGET,
        number,
        %hash,
        accounts = changes.accounts.len(),
        trie_nodes = trie_updates.len(),
        txs = transactions.len(),
        "committed block"
    );
    Ok(trie_updates)
}

/// A block sealed and committed by [`seal_and_commit`].
pub(crate) struct SealedCommit {
    pub(crate) header: Header,
    pub(crate) hash: B256,
    pub(crate) trie_updates: TrieUpdates,
    pub(crate) state_root_time: std::time::Duration,
}

/// Computes the state root of `block` on a second thread while this one writes everything that
/// does not depend on it (plain state, change set, body, receipts, transaction index) into the
/// block's write transaction; then seals the header with `seal(root)`, applies the trie updates
/// and commits. The result is identical to [`state_root_with`] followed by [`commit_block`].
pub(crate) fn seal_and_commit<F>(
    db: &redb::Database,
    cache: &mut TrieCache,
    block: UnsealedBlock,
    seal: F,
    durability: Durability,
) -> Result<SealedCommit, StoreError>
where
    F: FnOnce(B256) -> Header,
{
    let UnsealedBlock {
        number,
        parent_hash,
        transactions,
        senders,
        receipts,
        withdrawals,
        bundle,
        meta,
    } = block;
    let body = BodyParts {
        transactions: &transactions,
        senders: &senders,
        receipts: &receipts,
        withdrawals: withdrawals.as_ref(),
    };
    body.check_lengths()?;
    // Derived once, read by both threads.
    let changes = derive_changes(&bundle);
    let compute_root = |cache: &mut TrieCache| {
        let started = std::time::Instant::now();
        state_root_of(db, cache, &changes).map(|r| (r, started.elapsed()))
    };
    let write = || {
        begin_block(db, number, parent_hash, B256::ZERO, durability).and_then(|tx| {
            write_state_changes(&tx, number, &changes)?;
            write_body(&tx, number, &body)?;
            Ok(tx)
        })
    };
    let (root, written) = std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("state-root".into())
            .spawn_scoped(scope, || compute_root(cache))
            .map_err(|e| StoreError::RootWorker(format!("spawn: {e}")))?;
        let written = write();
        let root = worker.join().map_err(|_| StoreError::RootWorker("panicked".into()))?;
        Ok::<_, StoreError>((root, written))
    })?;
    let ((state_root, trie_updates), state_root_time) = root?;
    let tx = written?;
    let mut header = seal(state_root);
    header.state_root = state_root;
    if header.number != number || header.parent_hash != parent_hash {
        return Err(StoreError::SealMismatch { number: header.number, expected: number });
    }
    let hash = header.hash_slow();
    finish_block(tx, &header, hash, &trie_updates, &meta)?;
    debug!(
        target: TARGET,
        number,
        %hash,
        trie_nodes = trie_updates.len(),
        txs = transactions.len(),
        "sealed and committed block"
    );
    Ok(SealedCommit { header, hash, trie_updates, state_root_time })
}

/// What an unwind did to the trie: from the head `from` to the block `to`, with `updates`.
pub(crate) struct Unwound {
    pub(crate) from: B256,
    pub(crate) to: B256,
    pub(crate) updates: TrieUpdates,
}

/// Deletes the rows of `meta` with keys in the half-open ranges `ranges`, at most `max` in all;
/// returns how many.
pub(crate) fn delete_meta_ranges(
    meta: &mut Table<'_, &'static [u8], &'static [u8]>,
    ranges: &[(Vec<u8>, Vec<u8>)],
    max: usize,
) -> Result<usize, StoreError> {
    let mut deleted = 0usize;
    for (start, end) in ranges {
        if deleted >= max {
            break;
        }
        if start >= end {
            continue;
        }
        let keys = meta
            .range::<&[u8]>(start.as_slice()..end.as_slice())?
            .take(max.saturating_sub(deleted))
            .map(|row| row.map(|(k, _)| k.value().to_vec()))
            .collect::<Result<Vec<_>, _>>()?;
        for key in &keys {
            meta.remove(key.as_slice())?;
        }
        deleted = deleted.saturating_add(keys.len());
    }
    Ok(deleted)
}

pub(crate) fn unwind_to(
    db: &redb::Database,
    target: u64,
    meta: &[(Vec<u8>, Vec<u8>)],
    deletes: &[(Vec<u8>, Vec<u8>)],
) -> Result<Unwound, StoreError> {
    let tx = db.begin_write()?;
    let (head, head_hash) = read_head(&tx.open_table(CHAIN)?)?;
    if target > head {
        return Err(StoreError::UnwindAboveHead { target, head });
    }
    let genesis_number = {
        let chain = tx.open_table(CHAIN)?;
        let genesis = chain.get(GENESIS_KEY)?.ok_or(StoreError::NoGenesis)?;
        let genesis = B256::from_slice(genesis.value());
        tx.open_table(HEADER_NUMBERS)?
            .get(genesis.0)?
            .map(|v| v.value())
            .ok_or_else(|| corrupt("header_numbers", "genesis missing"))?
    };
    if target < genesis_number {
        return Err(StoreError::UnwindBelowGenesis { genesis: genesis_number });
    }
    let target_header = {
        let headers = tx.open_table(HEADERS)?;
        let row = headers.get(target)?.ok_or(StoreError::MissingBlock(target))?;
        <Header as alloy_rlp::Decodable>::decode(&mut row.value())?
    };
    let target_hash = target_header.hash_slow();

    // Combine the change sets of blocks head..=target+1 (newest first, older overrides).
    let mut account_targets: BTreeMap<Address, Option<AccountInfo>> = BTreeMap::new();
    let mut slot_targets: BTreeMap<Address, BTreeMap<U256, U256>> = BTreeMap::new();
    let mut wiped: BTreeSet<Address> = BTreeSet::new();
    let first = target.saturating_add(1);
    {
        let mut account_changes = tx.open_table(ACCOUNT_CHANGES)?;
        let mut account_history = tx.open_table(ACCOUNT_HISTORY)?;
        let mut storage_changes = tx.open_table(STORAGE_CHANGES)?;
        let mut storage_history = tx.open_table(STORAGE_HISTORY)?;
        let mut wipes = tx.open_table(STORAGE_WIPES)?;
        for block in (first..=head).rev() {
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
                let prev = if prev.is_empty() {
                    None
                } else {
                    Some(decode_account("account_changes", prev)?)
                };
                account_targets.insert(address, prev);
                account_history.remove(address_block_key(&address, block))?;
            }
            let slo = block_slot_key(block, &Address::ZERO, &U256::ZERO);
            let shi = block_slot_key(block, &Address::repeat_byte(0xff), &U256::MAX);
            for row in storage_changes.range(slo..=shi)? {
                let (k, v) = row?;
                let (_, address, slot) = split_block_slot(&k.value());
                slot_targets
                    .entry(address)
                    .or_default()
                    .insert(slot, U256::from_be_bytes(v.value()));
                storage_history.remove(slot_block_key(&address, &slot, block))?;
            }
            wipes.retain_in(lo..=hi, |_, _| false)?;
            account_changes.retain_in(lo..=hi, |_, _| false)?;
            storage_changes.retain_in(slo..=shi, |_, _| false)?;
        }
    }

    // Restore the plain state.
    let mut trie = StateChanges::default();
    {
        let mut accounts = tx.open_table(ACCOUNTS)?;
        let mut storage = tx.open_table(STORAGE)?;
        for address in &wiped {
            for (slot, _) in account_storage(&storage, address)? {
                storage.remove(storage_key(address, &slot))?;
            }
        }
        for (address, slots) in &slot_targets {
            for (slot, value) in slots {
                let key = storage_key(address, slot);
                if value.is_zero() {
                    storage.remove(key)?;
                } else {
                    storage.insert(key, value.to_be_bytes::<32>())?;
                }
            }
        }
        for (address, info) in &account_targets {
            match info {
                Some(info) => {
                    accounts.insert(address.0.0, encode_account(info).as_slice())?;
                }
                None => {
                    accounts.remove(address.0.0)?;
                }
            }
        }
        let touched: BTreeSet<Address> = account_targets
            .keys()
            .chain(slot_targets.keys())
            .chain(wiped.iter())
            .copied()
            .collect();
        for address in touched {
            let update = match read_account(&accounts, &address)? {
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
    }
    let updates = {
        let mut nodes = tx.open_table(TRIE_NODES)?;
        let (root, updates) = compute_state_root(&NodeTable(&nodes), &trie)?;
        if root != target_header.state_root {
            return Err(StoreError::StateRootMismatch {
                number: target,
                expected: target_header.state_root,
                computed: root,
            });
        }
        apply_trie_updates(&mut nodes, &updates)?;
        updates
    };

    // Drop the chain data above the target.
    {
        let mut headers = tx.open_table(HEADERS)?;
        let mut canonical = tx.open_table(CANONICAL)?;
        let mut numbers = tx.open_table(HEADER_NUMBERS)?;
        let mut bodies = tx.open_table(BODIES)?;
        let mut receipts = tx.open_table(RECEIPTS)?;
        let mut index = tx.open_table(TX_INDEX)?;
        for block in first..=head {
            if let Some(body) = bodies.remove(block)? {
                for t in crate::decode_body(body.value())?.transactions {
                    index.remove(t.tx_hash().0)?;
                }
            }
            if let Some(hash) = canonical.remove(block)? {
                numbers.remove(hash.value())?;
            }
            headers.remove(block)?;
            receipts.remove(block)?;
        }
        let mut meta_table = tx.open_table(META)?;
        delete_meta_ranges(&mut meta_table, deletes, usize::MAX)?;
        for (k, v) in meta {
            meta_table.insert(k.as_slice(), v.as_slice())?;
        }
        tx.open_table(CHAIN)?.insert(HEAD_KEY, head_value(target, &target_hash).as_slice())?;
    }
    tx.commit()?;
    info!(target: TARGET, from = head, to = target, accounts = trie.accounts.len(), "unwound");
    Ok(Unwound { from: head_hash, to: target_hash, updates })
}
