//! State-root and commit latency per block at 10k vs 1M pre-existing accounts.
//!
//! A block touches 200 existing accounts (balance + nonce) and sets 50 slots spread over 10
//! contracts. Stores are file-backed (redb, fsync on commit) in a temp dir and built once per
//! run with the bulk genesis path (`init_genesis`: plain rows + from-scratch trie build).
//!
//! Run: `cargo bench -p based-storage --bench state_root` (set `BASED_BENCH_SIZES=10000` to skip 1M,
//! `BASED_BENCH_TRIE_CACHE_MB=0` to disable the store's trie-node cache).
#![allow(missing_docs, clippy::print_stderr, clippy::unwrap_used, clippy::arithmetic_side_effects)]

use alloy_genesis::GenesisAccount;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use based_storage::{
    Store,
    test_utils::{TestChange, bundle_from_changes, genesis_header, next_block},
};
use criterion::{Criterion, criterion_group, criterion_main};
use revm::database::BundleState;
use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

const TOUCHED: u64 = 200;
const CONTRACTS: u64 = 10;
const SLOTS: u64 = 50;

fn account(i: u64) -> Address {
    Address::from_word(keccak256(i.to_be_bytes()))
}

fn contract(i: u64) -> Address {
    Address::from_word(keccak256((u64::MAX - i).to_be_bytes()))
}

fn alloc(size: u64) -> BTreeMap<Address, GenesisAccount> {
    let mut alloc: BTreeMap<Address, GenesisAccount> = (0..size)
        .map(|i| {
            (
                account(i),
                GenesisAccount::default().with_nonce(Some(1)).with_balance(U256::from(i + 1)),
            )
        })
        .collect();
    for c in 0..CONTRACTS {
        let storage = (0..100u64)
            .map(|s| (B256::from(U256::from(s)), B256::from(U256::from(s + 1))))
            .collect();
        alloc.insert(
            contract(c),
            GenesisAccount::default()
                .with_nonce(Some(1))
                .with_code(Some(Bytes::from(vec![0x60, c as u8, 0x54])))
                .with_storage(Some(storage)),
        );
    }
    alloc
}

/// Block `n`'s changes: pseudo-random existing accounts and slots.
fn block_changes(size: u64, n: u64) -> Vec<Vec<TestChange>> {
    let mut txs = Vec::new();
    for i in 0..TOUCHED {
        let seed_bytes = [n.to_be_bytes(), i.to_be_bytes()].concat();
        let seed = u64::from_be_bytes(keccak256(seed_bytes)[..8].try_into().unwrap());
        txs.push(vec![TestChange::Account {
            address: account(seed % size),
            balance: U256::from(n * 1_000_000 + i),
            nonce: n + 2,
        }]);
    }
    for s in 0..SLOTS {
        txs.push(vec![TestChange::Slot {
            address: contract(s % CONTRACTS),
            slot: U256::from((n * 31 + s) % 200),
            value: U256::from(n + s + 1),
        }]);
    }
    txs
}

struct Setup {
    _dir: tempfile::TempDir,
    store: Store,
    size: u64,
}

fn build(size: u64) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let cache = std::env::var("BASED_BENCH_TRIE_CACHE_MB")
        .ok()
        .map_or(based_storage::DEFAULT_TRIE_CACHE_BYTES, |mb| mb.parse::<usize>().unwrap() << 20);
    eprintln!("[bench] trie-node cache: {} MiB", cache >> 20);
    let store = Store::open_with_cache(dir.path().join("db"), cache).unwrap();
    eprintln!("[bench] building genesis alloc of {size} accounts");
    let started = Instant::now();
    let alloc = alloc(size);
    let header = genesis_header(&alloc);
    eprintln!("[bench] alloc + root in {:?}; writing store", started.elapsed());
    store.init_genesis(&header, &alloc).unwrap();
    eprintln!("[bench] store with {size} accounts ready in {:?}", started.elapsed());
    Setup { _dir: dir, store, size }
}

fn bench(c: &mut Criterion) {
    let sizes: Vec<u64> = std::env::var("BASED_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').map(|x| x.trim().parse().unwrap()).collect())
        .unwrap_or_else(|| vec![10_000, 1_000_000]);
    let mut group = c.benchmark_group("storage");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(2));
    for size in sizes {
        let setup = build(size);
        // State root: read-only, so cycle over a few prepared bundles.
        let bundles: Vec<BundleState> = (1..=16)
            .map(|n| {
                bundle_from_changes(setup.store.latest().unwrap(), &block_changes(setup.size, n))
            })
            .collect();
        // The work a block implies at this size: trie nodes re-encoded and re-hashed (puts) per
        // block. The MPT gets deeper with more accounts, so this grows with the state; the time
        // ratio between sizes is compared against this ratio in docs/benchmarks.md.
        let (mut puts, mut bytes) = (0usize, 0usize);
        for b in &bundles {
            let (_, updates) = setup.store.state_root_with(b).unwrap();
            for node in updates.nodes.values().flatten() {
                puts += 1;
                bytes += node.len();
            }
        }
        let n = bundles.len() as f64;
        eprintln!(
            "[bench] {size} accounts: per block {:.1} trie nodes re-encoded, {:.0} bytes of node RLP hashed",
            puts as f64 / n,
            bytes as f64 / n
        );
        let mut i = 0;
        group.bench_function(format!("state_root_with/{size}"), |b| {
            b.iter(|| {
                i = (i + 1) % bundles.len();
                setup.store.state_root_with(&bundles[i]).unwrap()
            })
        });
        // Commit: one new block per iteration; preparation is not timed.
        group.bench_function(format!("commit_block/{size}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let n = setup.store.head().unwrap().unwrap().number + 1;
                    let bundle = bundle_from_changes(
                        setup.store.latest().unwrap(),
                        &block_changes(setup.size, n),
                    );
                    let block = next_block(&setup.store, bundle).unwrap();
                    let started = Instant::now();
                    setup.store.commit_block(block).unwrap();
                    total += started.elapsed();
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
