//! Store tests: genesis, commit/unwind against a model, history, chain data, atomicity, crashes.

use super::*;
use crate::test_utils::*;
use alloy_consensus::{Receipt, SignableTransaction, TxLegacy};
use alloy_primitives::{Bytes, Signature, TxKind, U256, keccak256};
use proptest::prelude::*;
use revm::DatabaseRef;

/// Plain model: address → (nonce, balance, code, storage).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ModelAccount {
    nonce: u64,
    balance: U256,
    code: Option<Bytes>,
    storage: BTreeMap<U256, U256>,
}
type Model = BTreeMap<Address, ModelAccount>;

fn to_alloc(model: &Model) -> BTreeMap<Address, GenesisAccount> {
    model
        .iter()
        .map(|(a, m)| {
            let storage = m.storage.iter().map(|(k, v)| (B256::from(*k), B256::from(*v))).collect();
            let acc = GenesisAccount::default()
                .with_nonce(Some(m.nonce))
                .with_balance(m.balance)
                .with_code(m.code.clone())
                .with_storage(Some(storage));
            (*a, acc)
        })
        .collect()
}

fn address(i: u8) -> Address {
    Address::with_last_byte(i)
}

/// Applies one change to the model; returns false if it must be skipped (see generator notes).
fn apply_to_model(model: &mut Model, change: &TestChange) -> bool {
    match change {
        TestChange::Account { address, balance, nonce } => {
            let acc = model.entry(*address).or_default();
            acc.balance = *balance;
            acc.nonce = *nonce;
            // EIP-161: a touched account left empty (no code, nonce 0, balance 0) is deleted
            // with its storage, which is what the EVM's state clear does.
            if acc.nonce == 0 && acc.balance.is_zero() && acc.code.is_none() {
                model.remove(address);
            }
        }
        TestChange::Create { address, code } => {
            // EVM creation never targets an existing account (EIP-684/7610).
            if model.contains_key(address) {
                return false;
            }
            let acc = model.entry(*address).or_default();
            acc.code = Some(code.clone());
            acc.nonce = acc.nonce.max(1);
            acc.storage.clear();
        }
        TestChange::Slot { address, slot, value } => {
            let Some(acc) = model.get_mut(address) else { return false };
            if value.is_zero() {
                acc.storage.remove(slot);
            } else {
                acc.storage.insert(*slot, *value);
            }
        }
        TestChange::Destroy { address } => {
            if model.remove(address).is_none() {
                return false;
            }
        }
    }
    true
}

fn change_strategy() -> impl Strategy<Value = TestChange> {
    prop_oneof![
        3 => (0u8..12, 0u64..1_000, 0u64..5).prop_map(|(a, b, n)| TestChange::Account {
            address: address(a), balance: U256::from(b), nonce: n
        }),
        1 => (0u8..12, any::<u8>()).prop_map(|(a, c)| TestChange::Create {
            address: address(a), code: Bytes::from(vec![0x60, c, 0x00])
        }),
        6 => (0u8..12, 0u64..10, 0u64..4).prop_map(|(a, s, v)| TestChange::Slot {
            address: address(a), slot: U256::from(s), value: U256::from(v)
        }),
        1 => (0u8..12).prop_map(|a| TestChange::Destroy { address: address(a) }),
    ]
}

/// Checks every account/slot of the pool through `db` against `model`.
fn assert_state<DB: DatabaseRef<Error = StoreError>>(db: &DB, model: &Model) {
    for i in 0u8..12 {
        let a = address(i);
        let got = db.basic_ref(a).unwrap();
        match model.get(&a) {
            None => assert!(got.is_none(), "account {a} should not exist, got {got:?}"),
            Some(m) => {
                let got = got.unwrap_or_else(|| panic!("account {a} missing"));
                assert_eq!((got.nonce, got.balance), (m.nonce, m.balance), "account {a}");
                let code_hash = m.code.as_ref().map_or(KECCAK_EMPTY, keccak256);
                assert_eq!(got.code_hash, code_hash);
                let code = db.code_by_hash_ref(code_hash).unwrap();
                assert_eq!(code.original_bytes(), m.code.clone().unwrap_or_default());
            }
        }
        for s in 0u64..10 {
            let expected = model
                .get(&a)
                .and_then(|m| m.storage.get(&U256::from(s)))
                .copied()
                .unwrap_or_default();
            assert_eq!(db.storage_ref(a, U256::from(s)).unwrap(), expected, "slot {s} of {a}");
        }
    }
}

use based_trie::KECCAK_EMPTY;

fn genesis_model() -> Model {
    let mut model = Model::new();
    for i in 0u8..6 {
        let mut acc = ModelAccount {
            nonce: 1,
            balance: U256::from(1000 + u64::from(i)),
            ..Default::default()
        };
        if i % 2 == 0 {
            acc.code = Some(Bytes::from(vec![0x60, i, 0x55]));
            acc.storage.insert(U256::from(1), U256::from(u64::from(i) + 7));
            acc.storage.insert(U256::from(2), U256::from(9));
        }
        model.insert(address(i), acc);
    }
    model
}

fn new_store(model: &Model) -> (Store, Header) {
    new_store_with_cache(model, DEFAULT_TRIE_CACHE_BYTES)
}

fn new_store_with_cache(model: &Model, trie_cache_bytes: usize) -> (Store, Header) {
    let store = Store::open_in_memory_with_cache(trie_cache_bytes).unwrap();
    let alloc = to_alloc(model);
    let header = genesis_header(&alloc);
    assert_eq!(store.init_genesis(&header, &alloc).unwrap(), header.state_root);
    (store, header)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Commit random blocks, check state + root against a from-scratch model root and history
    /// readers, unwind the last N blocks and check the earlier state, root and head come back
    /// exactly, then re-apply the same bundles and get the same roots.
    #[test]
    fn commit_unwind_reapply(
        blocks in prop::collection::vec(prop::collection::vec(change_strategy(), 0..8), 1..6),
        unwind_by in 1usize..6,
        // No cache, one small enough to overflow and drop levels, and an unbounded one.
        trie_cache_bytes in prop_oneof![Just(0usize), Just(1500), Just(usize::MAX)],
    ) {
        let mut model = genesis_model();
        let (store, genesis) = new_store_with_cache(&model, trie_cache_bytes);
        let mut snapshots = vec![(model.clone(), genesis)];
        let mut commits = Vec::new();
        for changes in &blocks {
            let txs: Vec<Vec<TestChange>> = changes
                .iter()
                .filter(|c| apply_to_model(&mut model, c))
                .map(|c| vec![c.clone()])
                .collect();
            let bundle = bundle_from_changes(store.latest().unwrap(), &txs);
            let block = next_block(&store, bundle).unwrap();
            prop_assert_eq!(block.header.state_root, genesis_state_root(&to_alloc(&model)).unwrap());
            commits.push(block.clone());
            store.commit_block(block.clone()).unwrap();
            prop_assert_eq!(store.head().unwrap().unwrap().hash, block.hash);
            assert_state(&store.latest().unwrap(), &model);
            snapshots.push((model.clone(), block.header.clone()));
        }
        // Historical readers see every earlier state.
        for (n, (m, _)) in snapshots.iter().enumerate() {
            assert_state(&store.state_at(n as u64).unwrap(), m);
        }
        // Proofs at every block (head and historical) verify against its state root and
        // prove the model's values, for present and absent accounts and slots.
        for (n, (m, header)) in snapshots.iter().enumerate() {
            check_proofs(&store, n as u64, header, m);
        }

        let head = snapshots.len() - 1;
        let target = head.saturating_sub(unwind_by);
        store.unwind_to(target as u64).unwrap();
        let (old_model, old_header) = &snapshots[target];
        let head_now = store.head().unwrap().unwrap();
        prop_assert_eq!(head_now.number, target as u64);
        prop_assert_eq!(head_now.hash, old_header.hash_slow());
        assert_state(&store.latest().unwrap(), old_model);
        for n in (target + 1)..=head {
            prop_assert!(store.header_by_number(n as u64).unwrap().is_none());
        }
        // The trie is back to the target root: an empty bundle reproduces it.
        let (root, updates) = store.state_root_with(&BundleState::default()).unwrap();
        prop_assert_eq!(root, old_header.state_root);
        prop_assert!(updates.is_empty());

        // Re-applying the same bundles reproduces the same roots (and trie updates).
        for block in &commits[target..] {
            let (root, updates) = store.state_root_with(&block.bundle).unwrap();
            prop_assert_eq!(root, block.header.state_root);
            prop_assert_eq!(&updates, &block.trie_updates);
            store.commit_block(block.clone()).unwrap();
        }
        assert_state(&store.latest().unwrap(), &model);
    }
}

/// Checks the proofs of every model address (plus an absent one) and of slots 0..4 at block
/// `number` against `header.state_root` with alloy-trie's independent verifier.
fn check_proofs(store: &Store, number: u64, header: &Header, model: &Model) {
    use alloy_trie::proof::verify_proof;
    let slots: Vec<B256> = (0u64..4).map(|i| B256::from(U256::from(i))).collect();
    let mut addresses: Vec<Address> = model.keys().copied().collect();
    addresses.push(address(0xee));
    for a in addresses {
        let p = store.account_proof(number, a, &slots).unwrap();
        assert_eq!(p.state_root, header.state_root);
        let key = based_trie::Nibbles::unpack(keccak256(a));
        let leaf = p.account.map(alloy_rlp::encode);
        verify_proof(header.state_root, key, leaf, &p.account_proof).unwrap();
        let expected = model.get(&a);
        assert_eq!(p.account.is_some(), expected.is_some(), "account {a} at {number}");
        let storage_root = p.account.map_or(based_trie::EMPTY_ROOT_HASH, |acc| acc.storage_root);
        if let (Some(acc), Some(m)) = (p.account, expected) {
            assert_eq!((acc.nonce, acc.balance), (m.nonce, m.balance));
        }
        for sp in &p.storage {
            let slot = U256::from_be_bytes(sp.slot.0);
            let want = expected.and_then(|m| m.storage.get(&slot)).copied().unwrap_or_default();
            assert_eq!(sp.value, want, "slot {slot} of {a} at {number}");
            let key = based_trie::Nibbles::unpack(keccak256(sp.slot));
            let value = (!sp.value.is_zero()).then(|| alloy_rlp::encode(sp.value));
            verify_proof(storage_root, key, value, &sp.proof).unwrap();
        }
    }
    assert!(matches!(
        store.account_proof(number + 100, address(1), &[]),
        Err(StoreError::MissingBlock(_))
    ));
}

#[test]
fn genesis_is_idempotent_and_checked() {
    let model = genesis_model();
    let (store, header) = new_store(&model);
    let alloc = to_alloc(&model);
    assert_eq!(store.init_genesis(&header, &alloc).unwrap(), header.state_root);
    let other = Header { gas_limit: 1, ..header.clone() };
    assert!(matches!(store.init_genesis(&other, &alloc), Err(StoreError::GenesisMismatch { .. })));
    assert_state(&store.latest().unwrap(), &model);
    assert_eq!(store.head().unwrap().unwrap().number, 0);
    assert_eq!(store.latest().unwrap().block_hash_ref(0).unwrap(), header.hash_slow());
    assert!(store.latest().unwrap().block_hash_ref(1).is_err());

    let fresh = Store::open_in_memory().unwrap();
    let wrong = Header { state_root: B256::repeat_byte(1), ..header };
    assert!(matches!(
        fresh.init_genesis(&wrong, &alloc),
        Err(StoreError::StateRootMismatch { .. })
    ));
    assert!(fresh.head().unwrap().is_none());
}

#[test]
fn genesis_root_matches_fixture() {
    // Ethereum fixture genesis (shanghaiExample, Cancun): its header carries the state root.
    let path = format!("{}/../trie/testdata/shanghaiExample.json", env!("CARGO_MANIFEST_DIR"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let u = |v: &str| v.parse::<U256>().unwrap();
    for test in json.as_object().unwrap().values() {
        let expected: B256 =
            test["genesisBlockHeader"]["stateRoot"].as_str().unwrap().parse().unwrap();
        let mut alloc = BTreeMap::new();
        for (a, acc) in test["pre"].as_object().unwrap() {
            let storage = acc["storage"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (B256::from(u(k)), B256::from(u(v.as_str().unwrap()))))
                .collect();
            let code: Bytes = acc["code"].as_str().unwrap().parse().unwrap();
            let account = GenesisAccount::default()
                .with_nonce(Some(u(acc["nonce"].as_str().unwrap()).to()))
                .with_balance(u(acc["balance"].as_str().unwrap()))
                .with_code(Some(code))
                .with_storage(Some(storage));
            alloc.insert(a.parse::<Address>().unwrap(), account);
        }
        assert_eq!(genesis_state_root(&alloc).unwrap(), expected);
        let store = Store::open_in_memory().unwrap();
        let header = Header { state_root: expected, ..Default::default() };
        assert_eq!(store.init_genesis(&header, &alloc).unwrap(), expected);
        let (root, _) = store.state_root_with(&BundleState::default()).unwrap();
        assert_eq!(root, expected);
    }
}

fn signed_tx(nonce: u64) -> TxEnvelope {
    let tx = TxLegacy {
        chain_id: Some(4242),
        nonce,
        gas_price: 1,
        gas_limit: 21_000,
        to: TxKind::Call(address(1)),
        value: U256::from(5),
        input: Bytes::new(),
    };
    let sig =
        Signature::from_scalars_and_parity(B256::with_last_byte(1), B256::with_last_byte(2), false);
    TxEnvelope::Legacy(tx.into_signed(sig))
}

#[test]
fn chain_data_roundtrip_and_unwind() {
    let model = genesis_model();
    let (store, genesis) = new_store(&model);
    let bundle = bundle_from_changes(
        store.latest().unwrap(),
        &[vec![TestChange::Account { address: address(1), balance: U256::from(1), nonce: 2 }]],
    );
    let mut block = next_block(&store, bundle).unwrap();
    let txs = vec![signed_tx(0), signed_tx(1)];
    let receipts: Vec<ReceiptEnvelope> = (0..2)
        .map(|i| {
            ReceiptEnvelope::Legacy(
                Receipt {
                    status: true.into(),
                    cumulative_gas_used: 21_000 * (i + 1),
                    logs: vec![],
                }
                .with_bloom(),
            )
        })
        .collect();
    let withdrawals = Withdrawals(vec![Withdrawal {
        index: 0,
        validator_index: 0,
        address: address(3),
        amount: 7,
    }]);
    block.transactions = txs.clone();
    block.senders = vec![address(9), address(9)];
    block.receipts = receipts.clone();
    block.withdrawals = Some(withdrawals.clone());
    block.meta = vec![(b"l1".to_vec(), b"42".to_vec())];
    let hash = block.hash;
    store.commit_block(block).unwrap();

    let body = store.body(1).unwrap().unwrap();
    assert_eq!(body.transactions, txs);
    assert_eq!(body.withdrawals, Some(withdrawals));
    assert_eq!(store.receipts(1).unwrap().unwrap(), receipts);
    let found = store.transaction_by_hash(*txs[1].tx_hash()).unwrap().unwrap();
    assert_eq!(
        (found.block_number, found.block_hash, found.index, found.sender),
        (1, hash, 1, address(9))
    );
    assert_eq!(store.header_by_hash(hash).unwrap().unwrap().number, 1);
    assert_eq!(store.get_meta(b"l1").unwrap(), Some(b"42".to_vec()));
    assert_eq!(store.latest().unwrap().block_hash_ref(1).unwrap(), hash);

    store.unwind_to_with_meta(0, &[(b"l1".to_vec(), b"41".to_vec())]).unwrap();
    assert!(store.transaction_by_hash(*txs[1].tx_hash()).unwrap().is_none());
    assert!(store.body(1).unwrap().is_none());
    assert!(store.header_by_hash(hash).unwrap().is_none());
    assert_eq!(store.get_meta(b"l1").unwrap(), Some(b"41".to_vec()));
    assert_eq!(store.head().unwrap().unwrap().hash, genesis.hash_slow());
    assert_state(&store.latest().unwrap(), &model);
    assert!(matches!(store.unwind_to(5), Err(StoreError::UnwindAboveHead { .. })));
}

#[test]
fn meta_ranges_are_read_and_deleted_in_bounded_transactions() {
    let (store, _) = new_store(&genesis_model());
    let key = |p: &[u8], i: u8| [p, &[i]].concat();
    let mut rows: Vec<(Vec<u8>, Vec<u8>)> = (0..10).map(|i| (key(b"a/", i), vec![i; 3])).collect();
    rows.extend((0..5).map(|i| (key(b"b/", i), vec![i])));
    store.put_meta_entries(&rows).unwrap();
    let before = store.meta_usage().unwrap();
    assert_eq!(before.rows, 15);
    assert_eq!(before.bytes, 10 * (3 + 3) + 5 * (3 + 1));

    // Reads: half-open, ordered, limited.
    let got = store.meta_range(&key(b"a/", 2), &key(b"a/", 5), 100).unwrap();
    assert_eq!(got, rows[2..5].to_vec());
    assert_eq!(store.meta_range(b"a/", b"a0", 4).unwrap(), rows[..4].to_vec());
    assert!(store.meta_range(b"b0", b"b/", 10).unwrap().is_empty(), "empty range");

    // Deletes: at most `max_deletes` per transaction, across ranges, with puts in the same one.
    let ranges = vec![(key(b"a/", 0), key(b"a/", 8)), (b"b/".to_vec(), b"b0".to_vec())];
    let put = vec![(b"marker".to_vec(), b"1".to_vec())];
    assert_eq!(store.update_meta(&put, &ranges, 6, Durability::Deferred).unwrap(), 6);
    assert_eq!(store.get_meta(b"marker").unwrap(), Some(b"1".to_vec()));
    assert_eq!(store.get_meta(&key(b"a/", 5)).unwrap(), None);
    assert_eq!(store.get_meta(&key(b"a/", 6)).unwrap(), Some(vec![6; 3]));
    assert_eq!(store.update_meta(&[], &ranges, 6, Durability::Immediate).unwrap(), 6);
    assert_eq!(store.update_meta(&[], &ranges, 6, Durability::Immediate).unwrap(), 1);
    assert_eq!(store.update_meta(&[], &ranges, 6, Durability::Immediate).unwrap(), 0);
    let left: Vec<Vec<u8>> =
        store.meta_range(b"", b"\xff", 100).unwrap().into_iter().map(|(k, _)| k).collect();
    assert_eq!(left, vec![key(b"a/", 8), key(b"a/", 9), b"marker".to_vec()]);

    // An unwind deletes ranges in its own transaction, before writing its rows.
    store
        .unwind_to_with_meta_changes(
            0,
            &[(key(b"a/", 9), b"new".to_vec())],
            &[(b"a/".to_vec(), b"a0".to_vec())],
        )
        .unwrap();
    assert_eq!(store.get_meta(&key(b"a/", 8)).unwrap(), None);
    assert_eq!(store.get_meta(&key(b"a/", 9)).unwrap(), Some(b"new".to_vec()));
    assert_eq!(store.meta_usage().unwrap().rows, 2);
}

#[test]
fn failed_commit_writes_nothing() {
    let model = genesis_model();
    let (store, genesis) = new_store(&model);
    let bundle = bundle_from_changes(
        store.latest().unwrap(),
        &[vec![TestChange::Slot {
            address: address(0),
            slot: U256::from(1),
            value: U256::from(99),
        }]],
    );
    let mut block = next_block(&store, bundle).unwrap();
    block.header.state_root = B256::repeat_byte(7);
    block.hash = block.header.hash_slow();
    assert!(matches!(store.commit_block(block.clone()), Err(StoreError::StateRootMismatch { .. })));
    assert_eq!(store.head().unwrap().unwrap().hash, genesis.hash_slow());
    assert_state(&store.latest().unwrap(), &model);
    // Not a child of the head.
    block.header.parent_hash = B256::repeat_byte(1);
    block.hash = block.header.hash_slow();
    assert!(matches!(store.commit_block(block), Err(StoreError::NotChild { .. })));
    assert_state(&store.latest().unwrap(), &model);
}

#[test]
fn seal_and_commit_matches_root_then_commit() {
    let model = genesis_model();
    let (a, _) = new_store(&model);
    let (b, _) = new_store(&model);
    for n in 1..=4u64 {
        let txs = crash_block_changes(n);
        let block = next_block(&a, bundle_from_changes(a.latest().unwrap(), &txs)).unwrap();
        a.commit_block(block.clone()).unwrap();
        let sealed = b
            .seal_and_commit(
                UnsealedBlock {
                    number: block.header.number,
                    parent_hash: block.header.parent_hash,
                    transactions: vec![],
                    senders: vec![],
                    receipts: vec![],
                    withdrawals: None,
                    bundle: bundle_from_changes(b.latest().unwrap(), &txs),
                    meta: vec![(b"k".to_vec(), n.to_be_bytes().to_vec())],
                },
                |root| Header { state_root: root, ..block.header.clone() },
                Durability::Immediate,
            )
            .unwrap();
        assert_eq!(sealed.hash, block.hash, "block {n}");
        assert_eq!(b.head().unwrap().unwrap().hash, block.hash);
        assert_eq!(b.get_meta(b"k").unwrap(), Some(n.to_be_bytes().to_vec()));
    }
    // A block that does not extend the head writes nothing.
    let head = b.head().unwrap().unwrap();
    let wrong = UnsealedBlock {
        number: head.number + 1,
        parent_hash: B256::repeat_byte(1),
        transactions: vec![],
        senders: vec![],
        receipts: vec![],
        withdrawals: None,
        bundle: BundleState::default(),
        meta: vec![],
    };
    let err = b.seal_and_commit(wrong, |_| Header::default(), Durability::Immediate);
    assert!(matches!(err, Err(StoreError::NotChild { .. })));
    assert_eq!(b.head().unwrap().unwrap(), head);
}

#[test]
fn deferred_commits_are_visible_and_persisted_by_a_clean_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let alloc = sample_alloc(50);
    let deferred = {
        let store = Store::open(&path).unwrap();
        store.init_genesis(&genesis_header(&alloc), &alloc).unwrap();
        let bundle = bundle_from_changes(store.latest().unwrap(), &crash_block_changes(1));
        let block = next_block(&store, bundle).unwrap();
        let hash = block.hash;
        store.commit_block_with(block, Durability::Deferred).unwrap();
        // Visible to readers at once, like any commit.
        assert_eq!(store.head().unwrap().unwrap().hash, hash);
        hash
    };
    let store = Store::open(&path).unwrap();
    assert_eq!(store.head().unwrap().unwrap().hash, deferred);
}

/// Deterministic change list for block `n` of the crash test.
fn crash_block_changes(n: u64) -> Vec<Vec<TestChange>> {
    (0..20u64)
        .map(|i| {
            let a = Address::from_word(keccak256(((n * 7 + i) % 50).to_be_bytes()));
            vec![TestChange::Account { address: a, balance: U256::from(n * 1000 + i), nonce: n }]
        })
        .chain(std::iter::once(vec![TestChange::Slot {
            address: Address::from_word(keccak256((n % 50).to_be_bytes())),
            slot: U256::from(n % 5),
            value: U256::from(n),
        }]))
        .collect()
}

/// Child half of [`crash_recovery`]: commits blocks forever until killed.
#[test]
#[ignore = "run by crash_recovery in a child process"]
fn crash_child() {
    let Ok(dir) = std::env::var("BASED_STORAGE_CRASH_DIR") else { return };
    let store = Store::open(format!("{dir}/db")).unwrap();
    if store.head().unwrap().is_none() {
        let alloc = sample_alloc(50);
        store.init_genesis(&genesis_header(&alloc), &alloc).unwrap();
    }
    loop {
        let n = store.head().unwrap().unwrap().number + 1;
        // Odd blocks are deferred (no fsync), even ones durable: a kill may lose a deferred block
        // but never a durable one, and never leaves half a block.
        let durability = if n % 2 == 1 { Durability::Deferred } else { Durability::Immediate };
        let bundle = bundle_from_changes(store.latest().unwrap(), &crash_block_changes(n));
        store.commit_block_with(next_block(&store, bundle).unwrap(), durability).unwrap();
        if durability == Durability::Immediate {
            std::fs::write(format!("{dir}/committed"), n.to_string()).unwrap();
        }
    }
}

#[test]
fn crash_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "tests::crash_child", "--ignored", "--nocapture"])
        .env("BASED_STORAGE_CRASH_DIR", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let marker = dir.path().join("committed");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_to_string(&marker).ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0) < 5
    {
        assert!(std::time::Instant::now() < deadline, "child made no progress");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL, most likely in the middle of a commit
    child.wait().unwrap();
    let acknowledged: u64 = std::fs::read_to_string(&marker).unwrap().parse().unwrap();

    let store = Store::open(dir.path().join("db")).unwrap();
    let head = store.head().unwrap().unwrap();
    assert!(head.number >= acknowledged, "lost an acknowledged commit");
    let header = store.header_by_number(head.number).unwrap().unwrap();
    assert_eq!(header.hash_slow(), head.hash);
    // Trie and head agree, and the plain state matches a replay of blocks 1..=head.
    let (root, updates) = store.state_root_with(&BundleState::default()).unwrap();
    assert_eq!(root, header.state_root);
    assert!(updates.is_empty());
    let replay = Store::open_in_memory().unwrap();
    let alloc = sample_alloc(50);
    replay.init_genesis(&genesis_header(&alloc), &alloc).unwrap();
    for n in 1..=head.number {
        let h = commit_changes(&replay, &crash_block_changes(n)).unwrap();
        assert_eq!(h.state_root, store.header_by_number(n).unwrap().unwrap().state_root);
    }
    // The recovered store keeps working.
    commit_changes(&store, &crash_block_changes(head.number + 1)).unwrap();
    store.unwind_to(head.number.saturating_sub(3)).unwrap();
}
