//! revm `DatabaseRef` views of the store: latest state and state at a past block.

use crate::{StoreError, tables::*};
use alloy_primitives::{Address, B256, Bytes, U256};
use based_trie::KECCAK_EMPTY;
use redb::{ReadOnlyTable, ReadTransaction};
use revm::{
    database_interface::DatabaseRef,
    state::{AccountInfo, Bytecode},
};

/// Read-only view of the latest committed state, on one consistent snapshot.
///
/// Implements revm's `DatabaseRef`. Accounts are returned with `code: None`; revm then loads
/// code through `code_by_hash_ref`. `block_hash_ref` answers from the stored canonical headers and
/// fails with [`StoreError::MissingBlock`] for unknown numbers.
#[derive(Debug)]
pub struct StateReader {
    accounts: ReadOnlyTable<[u8; 20], &'static [u8]>,
    storage: ReadOnlyTable<[u8; 52], [u8; 32]>,
    bytecode: ReadOnlyTable<[u8; 32], &'static [u8]>,
    canonical: ReadOnlyTable<u64, [u8; 32]>,
    head: Option<u64>,
}

impl StateReader {
    pub(crate) fn new(tx: ReadTransaction) -> Result<Self, StoreError> {
        let chain = tx.open_table(CHAIN)?;
        let head =
            chain.get(HEAD_KEY)?.map(|v| decode_head(v.value())).transpose()?.map(|(n, _)| n);
        Ok(Self {
            accounts: tx.open_table(ACCOUNTS)?,
            storage: tx.open_table(STORAGE)?,
            bytecode: tx.open_table(BYTECODE)?,
            canonical: tx.open_table(CANONICAL)?,
            head,
        })
    }

    /// Number of the head block this snapshot reflects (`None` before genesis).
    pub fn head_number(&self) -> Option<u64> {
        self.head
    }

    /// Raw code bytes by hash.
    pub fn code(&self, code_hash: B256) -> Result<Option<Bytes>, StoreError> {
        Ok(self.bytecode.get(code_hash.0)?.map(|v| Bytes::copy_from_slice(v.value())))
    }
}

impl DatabaseRef for StateReader {
    type Error = StoreError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, StoreError> {
        self.accounts.get(address.0.0)?.map(|v| decode_account("accounts", v.value())).transpose()
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, StoreError> {
        if code_hash == KECCAK_EMPTY || code_hash == B256::ZERO {
            return Ok(Bytecode::default());
        }
        let bytes = self.code(code_hash)?.ok_or(StoreError::MissingCode(code_hash))?;
        Bytecode::new_raw_checked(bytes).map_err(|e| corrupt("bytecode", e.to_string()))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, StoreError> {
        Ok(self
            .storage
            .get(storage_key(&address, &index))?
            .map_or(U256::ZERO, |v| U256::from_be_bytes(v.value())))
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, StoreError> {
        if self.head.is_none_or(|h| number > h) {
            return Err(StoreError::MissingBlock(number));
        }
        self.canonical
            .get(number)?
            .map(|v| B256::from(v.value()))
            .ok_or(StoreError::MissingBlock(number))
    }
}

/// Read-only view of the state right after block `number`, answered from the change sets
/// (first change of the key in a later block holds its value at `number`; none = unchanged).
#[derive(Debug)]
pub struct HistoricalStateReader {
    latest: StateReader,
    number: u64,
    account_changes: ReadOnlyTable<[u8; 28], &'static [u8]>,
    account_history: ReadOnlyTable<[u8; 28], ()>,
    storage_changes: ReadOnlyTable<[u8; 60], [u8; 32]>,
    storage_history: ReadOnlyTable<[u8; 60], ()>,
}

impl HistoricalStateReader {
    pub(crate) fn new(tx: ReadTransaction, number: u64) -> Result<Self, StoreError> {
        Ok(Self {
            account_changes: tx.open_table(ACCOUNT_CHANGES)?,
            account_history: tx.open_table(ACCOUNT_HISTORY)?,
            storage_changes: tx.open_table(STORAGE_CHANGES)?,
            storage_history: tx.open_table(STORAGE_HISTORY)?,
            latest: StateReader::new(tx)?,
            number,
        })
    }

    /// The block whose post-state this reader shows.
    pub fn block_number(&self) -> u64 {
        self.number
    }
}

impl DatabaseRef for HistoricalStateReader {
    type Error = StoreError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, StoreError> {
        let Some(next) = self.number.checked_add(1) else {
            return self.latest.basic_ref(address);
        };
        let lo = address_block_key(&address, next);
        let hi = address_block_key(&address, u64::MAX);
        let Some(row) = self.account_history.range(lo..=hi)?.next() else {
            return self.latest.basic_ref(address);
        };
        let block = block_of_address_block(&row?.0.value());
        let prev = self
            .account_changes
            .get(block_address_key(block, &address))?
            .ok_or_else(|| corrupt("account_history", "change set row missing"))?;
        let prev = prev.value();
        if prev.is_empty() { Ok(None) } else { decode_account("account_changes", prev).map(Some) }
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, StoreError> {
        self.latest.code_by_hash_ref(code_hash)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, StoreError> {
        let Some(next) = self.number.checked_add(1) else {
            return self.latest.storage_ref(address, index);
        };
        let lo = slot_block_key(&address, &index, next);
        let hi = slot_block_key(&address, &index, u64::MAX);
        let Some(row) = self.storage_history.range(lo..=hi)?.next() else {
            return self.latest.storage_ref(address, index);
        };
        let block = block_of_slot_block(&row?.0.value());
        let prev = self
            .storage_changes
            .get(block_slot_key(block, &address, &index))?
            .ok_or_else(|| corrupt("storage_history", "change set row missing"))?;
        Ok(U256::from_be_bytes(prev.value()))
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, StoreError> {
        if number > self.number {
            return Err(StoreError::MissingBlock(number));
        }
        self.latest.block_hash_ref(number)
    }
}
