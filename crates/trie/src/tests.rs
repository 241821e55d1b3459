//! Property tests against alloy-trie's `HashBuilder` and golden roots from Ethereum fixtures.

use super::*;
use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_trie::HashBuilder;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// Plain model of the state keyed by hashed address / hashed slot.
type Model = BTreeMap<B256, (AccountState, BTreeMap<B256, U256>)>;

fn hb_root(entries: impl IntoIterator<Item = (B256, Vec<u8>)>) -> B256 {
    let mut hb = HashBuilder::default();
    for (k, v) in entries {
        hb.add_leaf(Nibbles::unpack(k), &v);
    }
    hb.root()
}

fn reference_storage_root(storage: &BTreeMap<B256, U256>) -> B256 {
    hb_root(storage.iter().filter(|(_, v)| !v.is_zero()).map(|(k, v)| (*k, encode_slot_value(*v))))
}

/// From-scratch root with alloy-trie's `HashBuilder`.
fn reference_root(model: &Model) -> B256 {
    hb_root(model.iter().map(|(k, (info, storage))| {
        let acc = TrieAccount::new(
            info.nonce,
            info.balance,
            reference_storage_root(storage),
            info.code_hash,
        );
        (*k, alloy_rlp::encode(acc))
    }))
}

/// Fresh node set built with [`build_trie`] (the canonical node set for `model`).
fn fresh_store(model: &Model) -> MemoryNodeStore {
    let mut store = MemoryNodeStore::default();
    let mut accounts = Vec::new();
    for (hashed, (info, storage)) in model {
        let slots: Vec<_> = storage
            .iter()
            .filter(|(_, v)| !v.is_zero())
            .map(|(k, v)| (Nibbles::unpack(k), encode_slot_value(*v)))
            .collect();
        let id = TrieId::Storage(*hashed);
        let storage_root = build_trie(&slots, |p, n| {
            store.nodes.insert((id, *p), n);
            Ok(())
        })
        .unwrap();
        let acc = TrieAccount::new(info.nonce, info.balance, storage_root, info.code_hash);
        accounts.push((Nibbles::unpack(hashed), alloy_rlp::encode(acc)));
    }
    build_trie(&accounts, |p, n| {
        store.nodes.insert((TrieId::Account, *p), n);
        Ok(())
    })
    .unwrap();
    store
}

/// Changes turning `from` into `to`. Accounts in `wipe` that exist in `to` are re-created with
/// a storage wipe (full storage listed); `noise` adds no-op deletions.
fn diff(from: &Model, to: &Model, wipe: &BTreeSet<B256>, noise: &[B256]) -> StateChanges {
    let mut changes = StateChanges::default();
    let keys: BTreeSet<B256> = from.keys().chain(to.keys()).copied().collect();
    for k in keys {
        let old = from.get(&k);
        let new = to.get(&k);
        if old == new && !wipe.contains(&k) {
            continue;
        }
        let update = match new {
            None => AccountUpdate { info: None, ..Default::default() },
            Some((info, storage)) if wipe.contains(&k) => {
                AccountUpdate { info: Some(*info), wipe_storage: true, storage: storage.clone() }
            }
            Some((info, storage)) => {
                let empty = BTreeMap::new();
                let old_storage = old.map_or(&empty, |(_, s)| s);
                let mut slots = BTreeMap::new();
                for slot in old_storage.keys().chain(storage.keys()) {
                    let nv = storage.get(slot).copied().unwrap_or_default();
                    if old_storage.get(slot).copied().unwrap_or_default() != nv {
                        slots.insert(*slot, nv);
                    }
                }
                AccountUpdate { info: Some(*info), wipe_storage: false, storage: slots }
            }
        };
        changes.accounts.insert(k, update);
    }
    for n in noise {
        // Deleting a slot that is absent (zero) is a no-op; deleting an absent account too.
        if let Some((info, storage)) = to.get(n) {
            let entry = changes
                .accounts
                .entry(*n)
                .or_insert_with(|| AccountUpdate { info: Some(*info), ..Default::default() });
            let absent = keccak256(n);
            if !storage.contains_key(&absent) && !entry.wipe_storage {
                entry.storage.entry(absent).or_insert(U256::ZERO);
            }
        } else if !from.contains_key(n) {
            changes.accounts.entry(*n).or_insert_with(AccountUpdate::default);
        }
    }
    changes
}

/// Key pool mixing random hashes with keys sharing long prefixes (to create extensions).
fn key_pool() -> Vec<B256> {
    let mut keys: Vec<B256> = (0u8..12).map(|i| keccak256([i])).collect();
    let base = keccak256(b"base");
    for i in 0u8..6 {
        let mut k = base;
        k.0[31] = i;
        keys.push(k);
        let mut k = base;
        k.0[3] ^= i.wrapping_mul(17);
        keys.push(k);
    }
    keys
}

#[derive(Debug, Clone)]
enum Op {
    SetAccount(usize, u64, u64),
    DeleteAccount(usize),
    SetSlot(usize, usize, u64),
    Wipe(usize),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0usize..24, 0u64..4, 0u64..1000).prop_map(|(a, n, b)| Op::SetAccount(a, n, b)),
        1 => (0usize..24).prop_map(Op::DeleteAccount),
        6 => (0usize..24, 0usize..24, 0u64..4).prop_map(|(a, s, v)| Op::SetSlot(a, s, v)),
        1 => (0usize..24).prop_map(Op::Wipe),
    ]
}

/// Applies a block of ops; returns the accounts whose storage was wiped.
fn apply_ops(model: &mut Model, ops: &[Op], keys: &[B256]) -> BTreeSet<B256> {
    let mut wiped = BTreeSet::new();
    let key = |i: usize| keys[i % keys.len()];
    for op in ops {
        match op {
            Op::SetAccount(a, nonce, balance) => {
                let e = model.entry(key(*a)).or_insert_with(|| {
                    (
                        AccountState { nonce: 0, balance: U256::ZERO, code_hash: KECCAK_EMPTY },
                        BTreeMap::new(),
                    )
                });
                e.0.nonce = *nonce;
                e.0.balance = U256::from(*balance);
                e.0.code_hash = if nonce % 2 == 0 { KECCAK_EMPTY } else { keccak256([*a as u8]) };
            }
            Op::DeleteAccount(a) => {
                model.remove(&key(*a));
                wiped.remove(&key(*a));
            }
            Op::SetSlot(a, s, v) => {
                if let Some(e) = model.get_mut(&key(*a)) {
                    if *v == 0 {
                        e.1.remove(&key(*s));
                    } else {
                        e.1.insert(key(*s), U256::from(*v));
                    }
                }
            }
            Op::Wipe(a) => {
                if let Some(e) = model.get_mut(&key(*a)) {
                    e.1.clear();
                    wiped.insert(key(*a));
                }
            }
        }
    }
    wiped
}

fn check_step(store: &mut MemoryNodeStore, changes: &StateChanges, expected: &Model) -> B256 {
    let before = store.clone();
    let (root, updates) = compute_state_root(&*store, changes).unwrap();
    assert_eq!(*store, before, "computing a root must not mutate the store");
    assert_eq!(root, reference_root(expected), "incremental root != HashBuilder root");
    store.apply(&updates);
    assert_eq!(trie_root(&*store, TrieId::Account).unwrap(), root);
    assert_eq!(*store, fresh_store(expected), "node set differs from a fresh build");
    root
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn incremental_matches_hash_builder_with_unwinds(
        blocks in prop::collection::vec(prop::collection::vec(op_strategy(), 1..14), 1..7),
        unwind_to in 0usize..7,
        noise in prop::collection::vec(0usize..24, 0..3),
    ) {
        let keys = key_pool();
        let noise: Vec<B256> = noise.into_iter().map(|i| keys[i]).collect();
        let mut model = Model::new();
        let mut store = MemoryNodeStore::default();
        let mut snapshots = vec![(model.clone(), store.clone(), EMPTY_ROOT_HASH)];
        let mut block_changes = Vec::new();
        for ops in &blocks {
            let prev = model.clone();
            let wiped = apply_ops(&mut model, ops, &keys);
            let changes = diff(&prev, &model, &wiped, &noise);
            let root = check_step(&mut store, &changes, &model);
            block_changes.push(changes);
            snapshots.push((model.clone(), store.clone(), root));
        }
        // Unwind to an earlier block by applying the reverse changes.
        let target = unwind_to % snapshots.len();
        let (old_model, old_store, old_root) = snapshots[target].clone();
        let wipe_back: BTreeSet<B256> = old_model.keys().step_by(3).copied().collect();
        let reverse = diff(&model, &old_model, &wipe_back, &[]);
        let root = check_step(&mut store, &reverse, &old_model);
        prop_assert_eq!(root, old_root);
        prop_assert_eq!(&store, &old_store);
        // Re-applying the same blocks reproduces the same roots and node sets.
        for (i, changes) in block_changes.iter().enumerate().skip(target) {
            let (expected, expected_store, expected_root) = &snapshots[i + 1];
            let root = check_step(&mut store, changes, expected);
            prop_assert_eq!(root, *expected_root);
            prop_assert_eq!(&store, expected_store);
        }
    }
}

#[test]
fn empty_trie_root() {
    let store = MemoryNodeStore::default();
    let (root, updates) = compute_state_root(&store, &StateChanges::default()).unwrap();
    assert_eq!(root, EMPTY_ROOT_HASH);
    assert!(updates.is_empty());
    assert_eq!(build_trie(&[], |_, _| Ok(())).unwrap(), EMPTY_ROOT_HASH);
}

/// Parses a blockchain-test state (`pre` / `postState`) into a model.
fn fixture_state(state: &serde_json::Value) -> Model {
    let u = |v: &serde_json::Value| v.as_str().unwrap().parse::<U256>().unwrap();
    let mut model = Model::new();
    for (addr, acc) in state.as_object().unwrap() {
        let addr: Address = addr.parse().unwrap();
        let code = alloy_primitives::hex::decode(acc["code"].as_str().unwrap()).unwrap();
        let code_hash = if code.is_empty() { KECCAK_EMPTY } else { keccak256(&code) };
        let mut storage = BTreeMap::new();
        for (slot, value) in acc["storage"].as_object().unwrap() {
            let slot = B256::from(u(&serde_json::Value::String(slot.clone())));
            let value = u(value);
            if !value.is_zero() {
                storage.insert(keccak256(slot), value);
            }
        }
        let info =
            AccountState { nonce: u(&acc["nonce"]).to(), balance: u(&acc["balance"]), code_hash };
        model.insert(keccak256(addr), (info, storage));
    }
    model
}

#[test]
fn golden_fixture_roots() {
    for name in ["shanghaiExample.json", "StoreClearsAndInternalCallStoreClearsSuccess.json"] {
        let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        for test in json.as_object().unwrap().values() {
            let genesis_root: B256 =
                test["genesisBlockHeader"]["stateRoot"].as_str().unwrap().parse().unwrap();
            let post_root: B256 = test["blocks"].as_array().unwrap().last().unwrap()["blockHeader"]
                ["stateRoot"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            let pre = fixture_state(&test["pre"]);
            let post = fixture_state(&test["postState"]);

            // From scratch (bulk build) and incrementally from an empty store.
            let mut store = MemoryNodeStore::default();
            let root =
                check_step(&mut store, &diff(&Model::new(), &pre, &BTreeSet::new(), &[]), &pre);
            assert_eq!(root, genesis_root, "{name}: genesis root");
            assert_eq!(trie_root(&fresh_store(&pre), TrieId::Account).unwrap(), genesis_root);

            // Genesis -> post state incrementally gives the last block's state root.
            let root = check_step(&mut store, &diff(&pre, &post, &BTreeSet::new(), &[]), &post);
            assert_eq!(root, post_root, "{name}: post-state root");
        }
    }
}

#[test]
fn corrupt_nodes_are_errors_not_panics() {
    let mut store = MemoryNodeStore::default();
    store.nodes.insert((TrieId::Account, Nibbles::new()), vec![0xc1, 0xff, 0x00]);
    let mut changes = StateChanges::default();
    changes.accounts.insert(
        keccak256([1u8]),
        AccountUpdate {
            info: Some(AccountState { nonce: 1, balance: U256::ZERO, code_hash: KECCAK_EMPTY }),
            ..Default::default()
        },
    );
    assert!(compute_state_root(&store, &changes).is_err());

    // A branch that references a child missing from the store.
    let mut model = Model::new();
    for i in 0u8..40 {
        model.insert(
            keccak256([i]),
            (
                AccountState { nonce: 1, balance: U256::from(i), code_hash: KECCAK_EMPTY },
                BTreeMap::new(),
            ),
        );
    }
    let mut store = fresh_store(&model);
    let victim =
        *store.nodes.keys().find(|(id, p)| *id == TrieId::Account && p.len() == 1).unwrap();
    store.nodes.remove(&victim);
    let mut changes = StateChanges::default();
    let mut key = B256::ZERO;
    key.0[0] = victim.1.get(0).unwrap() << 4;
    changes.accounts.insert(
        key,
        AccountUpdate {
            info: Some(AccountState { nonce: 9, balance: U256::ZERO, code_hash: KECCAK_EMPTY }),
            ..Default::default()
        },
    );
    assert!(matches!(compute_state_root(&store, &changes), Err(TrieError::MissingNode { .. })));
}

#[test]
fn touched_nodes_scale_with_changes_not_state() {
    // 3000 accounts; updating 5 of them touches only nodes along their paths.
    let mut model = Model::new();
    for i in 0u32..3000 {
        model.insert(
            keccak256(i.to_be_bytes()),
            (
                AccountState { nonce: 1, balance: U256::from(i), code_hash: KECCAK_EMPTY },
                BTreeMap::new(),
            ),
        );
    }
    let store = fresh_store(&model);
    let mut changes = StateChanges::default();
    let mut next = model.clone();
    for i in 0u32..5 {
        let k = keccak256(i.to_be_bytes());
        let info = AccountState { nonce: 2, balance: U256::from(7), code_hash: KECCAK_EMPTY };
        next.get_mut(&k).unwrap().0 = info;
        changes.accounts.insert(k, AccountUpdate { info: Some(info), ..Default::default() });
    }
    let (root, updates) = compute_state_root(&store, &changes).unwrap();
    assert_eq!(root, reference_root(&next));
    // depth of a 3000-leaf trie is ~3-4 levels: at most 5 paths × 5 nodes (+ storage roots).
    assert!(updates.len() <= 25, "too many node updates: {}", updates.len());
}
