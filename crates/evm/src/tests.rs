//! L2-mode executor tests against an in-memory `CacheDB` loaded with the devnet genesis.

use super::*;
use alloy_consensus::{
    SignableTransaction, TxEip1559, TxEip4844, TxEnvelope, proofs::calculate_withdrawals_root,
};
use alloy_eips::{eip1559::BaseFeeParams, eip2718::Encodable2718};
use alloy_primitives::{Bytes, TxKind, U256, address, b256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use based_chainspec::{ChainSpec, L1_ANCHOR_ADDRESS, L1_ANCHOR_LATEST_SLOT, L1_ANCHOR_RING_SIZE};
use revm::{
    DatabaseRef,
    database::{CacheDB, EmptyDB},
    state::{AccountInfo, Bytecode},
};

const ANVIL0_KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ANVIL0: Address = address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
const CHAIN: u64 = 4242;

fn devnet() -> (ChainSpec, CacheDB<EmptyDB>) {
    let spec = ChainSpec::devnet().unwrap();
    let mut db = CacheDB::new(EmptyDB::default());
    for (addr, acct) in spec.alloc() {
        let code = acct.code.clone().unwrap_or_default();
        let bytecode = Bytecode::new_raw(code);
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
    }
    (spec, db)
}

fn key() -> PrivateKeySigner {
    ANVIL0_KEY.parse().unwrap()
}

fn tx1559(
    signer: &PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    gas_limit: u64,
    max_fee: u128,
    to: Address,
) -> Bytes {
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(to),
        value: U256::from(1_000u64),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let sig = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    let env: TxEnvelope = tx.into_signed(sig).into();
    env.encoded_2718().into()
}

fn input(spec: &ChainSpec, transactions: Vec<Bytes>, deposits: Vec<Deposit>) -> BlockInput {
    BlockInput {
        parent: SealedHeader::new(spec.genesis_header().clone()),
        timestamp: 12,
        fee_recipient: address!("0x00000000000000000000000000000000000fee00"),
        gas_limit: spec.genesis_header().gas_limit,
        anchor: L1Anchor {
            number: 100,
            hash: b256!("0x1111111111111111111111111111111111111111111111111111111111111111"),
        },
        deposits,
        transactions,
    }
}

#[test]
fn anvil_key_matches_devnet_account() {
    assert_eq!(key().address(), ANVIL0);
}

#[test]
fn valid_transfer_is_included_and_header_is_complete() {
    let (spec, db) = devnet();
    let to = address!("0x0000000000000000000000000000000000001234");
    let inp = input(&spec, vec![tx1559(&key(), CHAIN, 0, 21_000, 2_000_000_000, to)], vec![]);
    let out = execute_l2_block(CHAIN, &db, &inp).unwrap();
    assert!(out.skipped.is_empty(), "{:?}", out.skipped);
    assert_eq!(out.transactions.len(), 1);
    assert_eq!(out.senders, vec![ANVIL0]);
    let h = &out.header;
    assert_eq!(h.number, 1);
    assert_eq!(h.parent_hash, spec.genesis_hash());
    assert_eq!(h.gas_used, 21_000);
    assert_eq!(
        h.base_fee_per_gas,
        spec.genesis_header().next_block_base_fee(BaseFeeParams::ethereum())
    );
    assert_eq!(h.base_fee_per_gas, Some(875_000_000));
    assert_eq!(h.parent_beacon_block_root, Some(inp.anchor.hash));
    assert_eq!(h.mix_hash, l2_prevrandao(&inp.anchor, 1));
    assert_eq!(h.blob_gas_used, Some(0));
    assert_eq!(h.requests_hash, Some(alloy_eips::eip7685::EMPTY_REQUESTS_HASH));
    assert_eq!(h.receipts_root, alloy_consensus::proofs::calculate_receipt_root(&out.receipts));
    let acct = out.bundle.account(&to).unwrap().info.clone().unwrap();
    assert_eq!(acct.balance, U256::from(1_000u64));
}

#[test]
fn invalid_transactions_are_skipped_with_reasons() {
    let (spec, db) = devnet();
    let to = address!("0x0000000000000000000000000000000000001234");
    let k = key();
    let poor: PrivateKeySigner =
        "0x0123456789012345678901234567890123456789012345678901234567890123".parse().unwrap();
    let blob = {
        let tx = TxEip4844 {
            chain_id: CHAIN,
            nonce: 1,
            gas_limit: 50_000,
            max_fee_per_gas: 2_000_000_000,
            max_priority_fee_per_gas: 1,
            to,
            value: U256::ZERO,
            access_list: Default::default(),
            blob_versioned_hashes: vec![b256!(
                "0x0100000000000000000000000000000000000000000000000000000000000000"
            )],
            max_fee_per_blob_gas: 1,
            input: Bytes::new(),
        };
        let sig = k.sign_hash_sync(&tx.signature_hash()).unwrap();
        let env: TxEnvelope = tx.into_signed(sig).into();
        Bytes::from(env.encoded_2718())
    };
    let txs = vec![
        Bytes::from_static(&[0x02, 0xc0]),               // 0 undecodable
        tx1559(&k, CHAIN, 0, 21_000, 2_000_000_000, to), // 1 ok
        tx1559(&k, CHAIN, 0, 21_000, 2_000_000_000, to), // 2 nonce reused
        tx1559(&k, 1, 1, 21_000, 2_000_000_000, to),     // 3 wrong chain
        blob,                                            // 4 blob tx
        tx1559(&k, CHAIN, 1, 21_000, 1, to),             // 5 fee cap below base fee
        tx1559(&k, CHAIN, 1, 20_000, 2_000_000_000, to), // 6 intrinsic gas
        tx1559(&k, CHAIN, 1, 40_000_000, 2_000_000_000, to), // 7 over block gas
        tx1559(&poor, CHAIN, 0, 21_000, 2_000_000_000, to), // 8 no funds
        tx1559(&k, CHAIN, 1, 21_000, 2_000_000_000, to), // 9 ok
    ];
    let out = execute_l2_block(CHAIN, &db, &input(&spec, txs, vec![])).unwrap();
    assert_eq!(out.transactions.len(), 2);
    let reasons: Vec<(usize, SkipReason)> =
        out.skipped.iter().map(|s| (s.index, s.reason.clone())).collect();
    assert_eq!(reasons.len(), 8, "{reasons:?}");
    assert_eq!(reasons[0], (0, SkipReason::Undecodable));
    assert_eq!(reasons[1], (2, SkipReason::BadNonce { tx: 0, account: 1 }));
    assert_eq!(reasons[2], (3, SkipReason::WrongChainId));
    assert_eq!(reasons[3], (4, SkipReason::BlobTransaction));
    assert_eq!(reasons[4], (5, SkipReason::FeeCapBelowBaseFee));
    assert_eq!(reasons[5], (6, SkipReason::IntrinsicGasTooLow));
    assert!(matches!(reasons[6], (7, SkipReason::GasLimitExceedsBlock { .. })));
    assert_eq!(reasons[7], (8, SkipReason::InsufficientFunds));
    assert_eq!(out.header.gas_used, 42_000);
    assert_eq!(
        out.header.transactions_root,
        alloy_consensus::proofs::calculate_transaction_root(&out.transactions)
    );
}

#[test]
fn deposits_are_credited_before_transactions() {
    let (spec, db) = devnet();
    let fresh: PrivateKeySigner =
        "0x0123456789012345678901234567890123456789012345678901234567890123".parse().unwrap();
    let deposit = Deposit { id: 7, to: fresh.address(), amount_gwei: 1_000_000_000 }; // 1 ETH
    let to = address!("0x0000000000000000000000000000000000001234");
    let inp =
        input(&spec, vec![tx1559(&fresh, CHAIN, 0, 21_000, 2_000_000_000, to)], vec![deposit]);
    let out = execute_l2_block(CHAIN, &db, &inp).unwrap();
    assert!(out.skipped.is_empty(), "{:?}", out.skipped);
    assert_eq!(out.withdrawals, vec![deposit.to_withdrawal()]);
    assert_eq!(out.header.withdrawals_root, Some(calculate_withdrawals_root(&out.withdrawals)));
    let bal = out.bundle.account(&fresh.address()).unwrap().info.clone().unwrap().balance;
    let spent = U256::from(21_000u64 * 875_000_001u64 + 1_000);
    assert_eq!(bal, U256::from(10u64).pow(U256::from(18)) - spent);
}

#[test]
fn anchor_system_call_writes_ring_buffer() {
    let (spec, db) = devnet();
    let inp = input(&spec, vec![], vec![]);
    let out = execute_l2_block(CHAIN, &db, &inp).unwrap();
    let acct = out.bundle.account(&L1_ANCHOR_ADDRESS).unwrap();
    let slot = |s: u64| acct.storage.get(&U256::from(s)).map(|v| v.present_value);
    assert_eq!(slot(100), Some(U256::from_be_bytes(inp.anchor.hash.0)));
    assert_eq!(slot(100 + L1_ANCHOR_RING_SIZE), Some(U256::from(100)));
    assert_eq!(slot(L1_ANCHOR_LATEST_SLOT), Some(U256::from(100)));
    // EIP-4788 stored the anchor hash as the beacon root of this timestamp.
    let beacon = out.bundle.account(&alloy_eips::eip4788::BEACON_ROOTS_ADDRESS).unwrap();
    let root_slot = U256::from(inp.timestamp % 8191 + 8191);
    assert_eq!(
        beacon.storage.get(&root_slot).map(|v| v.present_value),
        Some(U256::from_be_bytes(inp.anchor.hash.0))
    );
}

/// Calls the anchor predeploy as a normal contract on a state where anchor 100 is stored.
fn call_anchor(data: Vec<u8>) -> revm::context::result::ExecutionResult {
    use revm::{Context, ExecuteEvm, MainBuilder, MainContext, context::TxEnv};
    let (_, mut db) = devnet();
    let h = U256::from(0xabcdu64);
    db.insert_account_storage(L1_ANCHOR_ADDRESS, U256::from(100), h).unwrap();
    db.insert_account_storage(
        L1_ANCHOR_ADDRESS,
        U256::from(100 + L1_ANCHOR_RING_SIZE),
        U256::from(100),
    )
    .unwrap();
    db.insert_account_storage(
        L1_ANCHOR_ADDRESS,
        U256::from(L1_ANCHOR_LATEST_SLOT),
        U256::from(100),
    )
    .unwrap();
    let evm = Context::mainnet().with_db(db).build_mainnet();
    let tx = TxEnv::builder()
        .caller(ANVIL0)
        .kind(TxKind::Call(L1_ANCHOR_ADDRESS))
        .data(Bytes::from(data))
        .gas_limit(100_000)
        .gas_price(0)
        .build()
        .unwrap();
    let mut evm_cfg = evm;
    evm_cfg.ctx.cfg.disable_nonce_check = true;
    evm_cfg.ctx.block.basefee = 0;
    evm_cfg.transact(tx).unwrap().result
}

#[test]
fn anchor_getter_reads_and_rejects() {
    let hit = call_anchor(U256::from(100).to_be_bytes::<32>().to_vec());
    assert!(hit.is_success());
    assert_eq!(
        hit.output().unwrap().as_ref(),
        U256::from(0xabcdu64).to_be_bytes::<32>().as_slice()
    );
    // Number 100 + RING maps to the same slot but the stored number differs: revert.
    assert!(
        !call_anchor(U256::from(100 + L1_ANCHOR_RING_SIZE).to_be_bytes::<32>().to_vec())
            .is_success()
    );
    // Never-stored number: revert.
    assert!(!call_anchor(U256::from(5).to_be_bytes::<32>().to_vec()).is_success());
    // Empty calldata: (latest number, its hash).
    let latest = call_anchor(vec![]);
    let out = latest.output().unwrap();
    assert_eq!(out.len(), 64);
    assert_eq!(&out[..32], U256::from(100).to_be_bytes::<32>().as_slice());
    assert_eq!(&out[32..], U256::from(0xabcdu64).to_be_bytes::<32>().as_slice());
    // A non-system caller cannot write (64-byte calldata takes the getter path and reverts).
    assert!(!call_anchor(vec![0u8; 64]).is_success());
}

#[test]
fn execution_is_deterministic_and_input_rules_enforced() {
    let (spec, db) = devnet();
    let to = address!("0x0000000000000000000000000000000000001234");
    let inp = input(&spec, vec![tx1559(&key(), CHAIN, 0, 21_000, 2_000_000_000, to)], vec![]);
    let a = execute_l2_block(CHAIN, &db, &inp).unwrap();
    let b = execute_l2_block(CHAIN, &db, &inp).unwrap();
    assert_eq!(a.header, b.header);
    assert_eq!(a.bundle, b.bundle);

    let (lo, hi) = gas_limit_bounds();
    let mut bad = inp.clone();
    bad.gas_limit = hi + 1;
    assert!(matches!(execute_l2_block(CHAIN, &db, &bad), Err(ExecError::Input(_))));
    bad.gas_limit = lo - 1;
    assert!(matches!(execute_l2_block(CHAIN, &db, &bad), Err(ExecError::Input(_))));
    let mut ok = inp.clone();
    ok.gas_limit = hi;
    assert!(execute_l2_block(CHAIN, &db, &ok).is_ok());
    ok.gas_limit = lo;
    let small = execute_l2_block(CHAIN, &db, &ok).unwrap();
    assert!(matches!(small.skipped[0].reason, SkipReason::GasLimitExceedsBlock { .. }));
    let mut same_time = inp.clone();
    same_time.timestamp = inp.parent.timestamp;
    assert!(matches!(execute_l2_block(CHAIN, &db, &same_time), Err(ExecError::Input(_))));
    let mut many = inp;
    many.deposits = vec![Deposit { id: 0, to, amount_gwei: 1 }; L2_BLOCK_MAX_DEPOSITS + 1];
    assert!(matches!(execute_l2_block(CHAIN, &db, &many), Err(ExecError::Input(_))));
    assert!(db.basic_ref(to).unwrap().is_none());
}

#[test]
fn gas_limit_bounds_match_protocol_constants() {
    assert_eq!(gas_limit_bounds(), (5000, 60_000_000));
}
