//! Import throughput (execute + state root + commit, redb on a temp dir) in Mgas/s for three
//! workloads, next to the floor: revm executing the same (decoded, sender-recovered) transactions on
//! an in-memory `CacheDB` with no state root and no persistence.
//!
//! Throughput is reported by criterion as "elem/s" where one element is one unit of gas:
//! `Melem/s` = Mgas/s.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::{collections::BTreeMap, time::Duration};

use alloy_consensus::{TxEip1559, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::eip2718::Decodable2718;
use alloy_evm::FromRecoveredTx;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, hex, keccak256};
use alloy_sol_types::SolValue;
use based_chainspec::{
    ChainSpec, DEVNET_GENESIS_JSON,
    alloy_genesis::{Genesis, GenesisAccount},
};
use based_engine::{
    based_evm::{BlockInput, L1Anchor, SealedHeader},
    based_storage::Store,
    import, init_genesis, unwind_to,
};
use based_primitives::test_utils::{sign_eip1559, test_signer};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use revm::{
    Context, ExecuteCommitEvm, MainBuilder, MainContext,
    context::TxEnv,
    database::{CacheDB, EmptyDB},
    primitives::hardfork::SpecId,
    state::{AccountInfo, Bytecode},
};

const CHAIN: u64 = 4242;
const SENDERS: u64 = 1000;
const TOKEN: Address = Address::new([0x70; 20]);
const STORER: Address = Address::new([0x57; 20]);
/// Minimal ERC-20 `transfer(address,uint256)`: balances at `keccak256(abi.encode(owner, 0))`,
/// checks the balance, updates both slots, emits `Transfer`, returns true.
const ERC20_CODE: &str = "602435335f525f60205260405f20805480831161005e5782900390556004355f5260405f208054820190555f52600435337fddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef60205fa360015f5260205ff35b5f5ffd";
/// Writes 16 fresh slots `base..base+16` (base = calldata word at offset 4).
const STORER_CODE: &str = "6004355f5b8060010181830155600101806010116100045700";

struct Workload {
    name: &'static str,
    txs: Vec<Bytes>,
}

fn genesis() -> Genesis {
    let mut g: Genesis = serde_json_from(DEVNET_GENESIS_JSON);
    let mut token_storage = BTreeMap::new();
    for i in 0..SENDERS {
        let a = test_signer(7, i).address();
        g.alloc.insert(
            a,
            GenesisAccount { balance: U256::from(10u64).pow(U256::from(20)), ..Default::default() },
        );
        token_storage.insert(
            keccak256((a, U256::ZERO).abi_encode()),
            B256::from(U256::from(1_000_000_000u64)),
        );
    }
    g.alloc.insert(
        TOKEN,
        GenesisAccount {
            code: Some(hex::decode(ERC20_CODE).unwrap().into()),
            storage: Some(token_storage),
            nonce: Some(1),
            ..Default::default()
        },
    );
    g.alloc.insert(
        STORER,
        GenesisAccount {
            code: Some(hex::decode(STORER_CODE).unwrap().into()),
            nonce: Some(1),
            ..Default::default()
        },
    );
    g
}

fn serde_json_from(s: &str) -> Genesis {
    // The devnet JSON is a valid genesis (checked by based-chainspec tests).
    ChainSpec::from_json(s).unwrap().genesis().clone()
}

fn tx(i: u64, gas_limit: u64, to: Address, value: U256, input: Bytes) -> Bytes {
    sign_eip1559(
        &test_signer(7, i),
        TxEip1559 {
            chain_id: CHAIN,
            nonce: 0,
            gas_limit,
            max_fee_per_gas: 10_000_000_000,
            max_priority_fee_per_gas: 1,
            to: TxKind::Call(to),
            value,
            access_list: Default::default(),
            input,
        },
    )
}

fn workloads() -> Vec<Workload> {
    let transfers = (0..SENDERS)
        .map(|i| {
            tx(
                i,
                21_000,
                Address::from_word(keccak256(i.to_be_bytes())),
                U256::from(1u64),
                Bytes::new(),
            )
        })
        .collect();
    let erc20 = (0..SENDERS)
        .map(|i| {
            let to = Address::from_word(keccak256(i.to_be_bytes()));
            let mut data = vec![0xa9, 0x05, 0x9c, 0xbb];
            data.extend((to, U256::from(5u64)).abi_encode());
            tx(i, 60_000, TOKEN, U256::ZERO, data.into())
        })
        .take(500)
        .collect();
    let storage = (0..70u64)
        .map(|i| {
            let mut data = vec![0, 0, 0, 0];
            data.extend(U256::from(i * 1000).to_be_bytes::<32>());
            tx(i, 400_000, STORER, U256::ZERO, data.into())
        })
        .collect();
    vec![
        Workload { name: "eth_transfers", txs: transfers },
        Workload { name: "erc20_transfers", txs: erc20 },
        Workload { name: "storage_heavy", txs: storage },
    ]
}

fn cache_db(g: &Genesis) -> CacheDB<EmptyDB> {
    let mut db = CacheDB::new(EmptyDB::default());
    for (addr, acct) in &g.alloc {
        let bytecode = Bytecode::new_raw(acct.code.clone().unwrap_or_default());
        db.insert_account_info(
            *addr,
            AccountInfo {
                balance: acct.balance,
                nonce: acct.nonce.unwrap_or_default(),
                code_hash: bytecode.hash_slow(),
                code: Some(bytecode),
                ..Default::default()
            },
        );
        for (k, v) in acct.storage.iter().flatten() {
            db.insert_account_storage(*addr, U256::from_be_bytes(k.0), U256::from_be_bytes(v.0))
                .unwrap();
        }
    }
    db
}

fn bench_import(c: &mut Criterion) {
    let g = genesis();
    let spec = ChainSpec::from_genesis(g.clone()).unwrap();
    let dir = tempdir();
    let store = Store::open(dir.join("bench.redb")).unwrap();
    init_genesis(&store, &spec).unwrap();
    let parent = SealedHeader::new(spec.genesis_header().clone());
    let base_fee =
        parent.next_block_base_fee(alloy_eips::eip1559::BaseFeeParams::ethereum()).unwrap();

    let mut group = c.benchmark_group("import");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(2));
    for w in workloads() {
        let input = BlockInput {
            parent: parent.clone(),
            timestamp: 2,
            fee_recipient: Address::new([0xfe; 20]),
            gas_limit: 30_000_000,
            anchor: L1Anchor { number: 1, hash: B256::repeat_byte(1) },
            deposits: vec![],
            transactions: w.txs.clone(),
        };
        // One untimed import to learn the gas used (and check nothing is skipped).
        unwind_to(&store, 0).unwrap();
        let probe = import(&store, &spec, &input, vec![]).unwrap();
        assert!(probe.skipped.is_empty(), "{}: {:?}", w.name, probe.skipped.first());
        let gas = probe.header.inner().gas_used;
        unwind_to(&store, 0).unwrap();
        // Where an import spends its time (mean of a few untimed runs), for docs/benchmarks.md.
        let mut t = based_engine::ImportTimings::default();
        const RUNS: u32 = 5;
        for _ in 0..RUNS {
            let p = import(&store, &spec, &input, vec![]).unwrap().timings;
            (t.recover, t.execute) = (t.recover + p.recover, t.execute + p.execute);
            (t.state_root, t.commit) = (t.state_root + p.state_root, t.commit + p.commit);
            unwind_to(&store, 0).unwrap();
        }
        eprintln!(
            "[bench] {}: recover {:?}, execute {:?}, state root {:?}, commit {:?} (mean of {RUNS})",
            w.name,
            t.recover / RUNS,
            t.execute / RUNS,
            t.state_root / RUNS,
            t.commit / RUNS
        );
        group.throughput(Throughput::Elements(gas));

        group.bench_function(format!("{}/import", w.name), |b| {
            b.iter_batched(
                || unwind_to(&store, 0).unwrap(),
                |()| import(&store, &spec, &input, vec![]).unwrap(),
                BatchSize::PerIteration,
            )
        });

        // Floor: decode + recover (parallel) + revm on CacheDB (no state root, no persistence).
        let db = cache_db(&g);
        group.bench_function(format!("{}/revm_floor", w.name), |b| {
            b.iter_batched(
                || db.clone(),
                |db| {
                    let mut evm = Context::mainnet()
                        .modify_cfg_chained(|c| {
                            c.spec = SpecId::PRAGUE;
                            c.chain_id = CHAIN;
                        })
                        .modify_block_chained(|blk| {
                            blk.number = U256::from(1);
                            blk.timestamp = U256::from(2);
                            blk.gas_limit = 30_000_000;
                            blk.basefee = base_fee;
                        })
                        .with_db(db)
                        .build_mainnet();
                    let mut used = 0u64;
                    // Decode + recover exactly as the import does (in parallel on the rayon
                    // pool), so the floor gets the same parallelism.
                    for recovered in based_engine::based_evm::recover_transactions(&w.txs) {
                        let (tx, sender) = recovered.unwrap();
                        let r = evm.transact_commit(TxEnv::from_recovered_tx(&tx, sender)).unwrap();
                        used += r.tx_gas_used();
                    }
                    assert_eq!(used, gas);
                },
                BatchSize::PerIteration,
            )
        });

        // Pure EVM: transactions decoded and senders recovered beforehand (untimed).
        let envs: Vec<TxEnv> = w
            .txs
            .iter()
            .map(|raw| {
                let tx = TxEnvelope::decode_2718_exact(raw.as_ref()).unwrap();
                let sender = tx.recover_signer().unwrap();
                TxEnv::from_recovered_tx(&tx, sender)
            })
            .collect();
        group.bench_function(format!("{}/revm_exec_only", w.name), |b| {
            b.iter_batched(
                || (db.clone(), envs.clone()),
                |(db, envs)| {
                    let mut evm = Context::mainnet()
                        .modify_cfg_chained(|c| {
                            c.spec = SpecId::PRAGUE;
                            c.chain_id = CHAIN;
                        })
                        .modify_block_chained(|blk| {
                            blk.number = U256::from(1);
                            blk.timestamp = U256::from(2);
                            blk.gas_limit = 30_000_000;
                            blk.basefee = base_fee;
                        })
                        .with_db(db)
                        .build_mainnet();
                    let mut used = 0u64;
                    for env in envs {
                        used += evm.transact_commit(env).unwrap().tx_gas_used();
                    }
                    assert_eq!(used, gas);
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("based-import-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

criterion_group!(benches, bench_import);
criterion_main!(benches);
