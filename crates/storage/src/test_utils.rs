//! Test helpers (feature `test-utils`): build `BundleState`s by committing EVM-style account
//! changes into revm's `State` (with bundle update), and commit blocks on top of a [`Store`].
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing
)]

use crate::{BlockCommit, Store, StoreError, genesis_state_root};
use alloy_consensus::Header;
use alloy_genesis::GenesisAccount;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use revm::{
    Database, DatabaseCommit, DatabaseRef,
    database::{BundleState, State, states::bundle_state::BundleRetention},
    primitives::AddressMap,
    state::{Account, Bytecode, EvmStorageSlot},
};
use std::collections::BTreeMap;

/// One EVM-level state change inside a test transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestChange {
    /// Set balance and nonce (creates the account if absent).
    Account {
        /// Account.
        address: Address,
        /// New balance.
        balance: U256,
        /// New nonce.
        nonce: u64,
    },
    /// Contract creation with `code` (storage starts empty).
    Create {
        /// Account.
        address: Address,
        /// Deployed code.
        code: Bytes,
    },
    /// Set a storage slot (zero clears it).
    Slot {
        /// Account.
        address: Address,
        /// Slot.
        slot: U256,
        /// New value.
        value: U256,
    },
    /// SELFDESTRUCT: the account and its storage disappear.
    Destroy {
        /// Account.
        address: Address,
    },
}

impl TestChange {
    /// The account the change applies to.
    pub fn address(&self) -> Address {
        match self {
            Self::Account { address, .. }
            | Self::Create { address, .. }
            | Self::Slot { address, .. }
            | Self::Destroy { address } => *address,
        }
    }
}

/// Runs `txs` (each a list of changes committed as one transaction) through revm's `State`
/// over `db` and returns the block's bundle (`merge_transitions(Reverts)` + `take_bundle`).
pub fn bundle_from_changes<DB: DatabaseRef>(db: DB, txs: &[Vec<TestChange>]) -> BundleState
where
    DB::Error: std::fmt::Debug,
{
    let mut state = State::builder().with_database_ref(db).with_bundle_update().build();
    for tx in txs {
        let mut changed: AddressMap<Account> = AddressMap::default();
        for change in tx {
            let address = change.address();
            if let std::collections::hash_map::Entry::Vacant(entry) = changed.entry(address) {
                let mut account = match state.basic(address).expect("db") {
                    Some(info) => Account::from(info),
                    None => Account::new_not_existing(Default::default()),
                };
                account.mark_touch();
                entry.insert(account);
            }
            let original = match change {
                TestChange::Slot { slot, .. } => {
                    let account = &changed[&address];
                    if account.is_created() || account.is_selfdestructed() {
                        U256::ZERO
                    } else {
                        state.storage(address, *slot).expect("db")
                    }
                }
                _ => U256::ZERO,
            };
            let account = changed.get_mut(&address).expect("inserted above");
            match change {
                TestChange::Account { balance, nonce, .. } => {
                    account.info.balance = *balance;
                    account.info.nonce = *nonce;
                }
                TestChange::Create { code, .. } => {
                    let bytecode = Bytecode::new_raw(code.clone());
                    account.info.code_hash = keccak256(code);
                    account.info.code = Some(bytecode);
                    account.info.nonce = account.info.nonce.max(1);
                    account.storage.clear();
                    account.mark_created();
                }
                TestChange::Slot { slot, value, .. } => {
                    let original = account.storage.get(slot).map_or(original, |s| s.original_value);
                    account.storage.insert(
                        *slot,
                        EvmStorageSlot::new_changed(original, *value, Default::default()),
                    );
                }
                TestChange::Destroy { .. } => {
                    account.mark_selfdestruct();
                }
            }
        }
        state.commit(changed);
    }
    state.merge_transitions(BundleRetention::Reverts);
    state.take_bundle()
}

/// A genesis header (number 0) whose state root matches `alloc`.
pub fn genesis_header(alloc: &BTreeMap<Address, GenesisAccount>) -> Header {
    Header {
        number: 0,
        gas_limit: 30_000_000,
        state_root: genesis_state_root(alloc).expect("genesis root"),
        ..Default::default()
    }
}

/// `count` funded accounts with a little storage on every third one.
pub fn sample_alloc(count: u64) -> BTreeMap<Address, GenesisAccount> {
    (0..count)
        .map(|i| {
            let address = Address::from_word(keccak256(i.to_be_bytes()));
            let mut account = GenesisAccount::default()
                .with_balance(U256::from(i + 1) * U256::from(1_000_000_000u64));
            if i % 3 == 0 {
                account.storage = Some(
                    (0..3u64)
                        .map(|s| {
                            (B256::from(U256::from(s)), B256::from(U256::from(i * 10 + s + 1)))
                        })
                        .collect(),
                );
                account.code =
                    Some(Bytes::from(vec![0x60, 0x00, 0x54, u8::try_from(i % 200).unwrap()]));
                account.nonce = Some(1);
            }
            (address, account)
        })
        .collect()
}

/// Builds the next block on top of the store head from `bundle` (empty body), computing the
/// state root with [`Store::state_root_with`]. Does not commit.
pub fn next_block(store: &Store, bundle: BundleState) -> Result<BlockCommit, StoreError> {
    let parent = store.head_header()?.ok_or(StoreError::NoGenesis)?;
    let (state_root, trie_updates) = store.state_root_with(&bundle)?;
    let header = Header {
        parent_hash: parent.hash_slow(),
        number: parent.number + 1,
        timestamp: parent.timestamp + 2,
        gas_limit: parent.gas_limit,
        state_root,
        ..Default::default()
    };
    Ok(BlockCommit {
        hash: header.hash_slow(),
        header,
        transactions: vec![],
        senders: vec![],
        receipts: vec![],
        withdrawals: None,
        bundle,
        trie_updates,
        meta: vec![],
    })
}

/// Executes `txs` against the head state and commits the resulting block; returns its header.
pub fn commit_changes(store: &Store, txs: &[Vec<TestChange>]) -> Result<Header, StoreError> {
    let bundle = bundle_from_changes(store.latest()?, txs);
    let block = next_block(store, bundle)?;
    let header = block.header.clone();
    store.commit_block(block)?;
    Ok(header)
}
