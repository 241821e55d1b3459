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

// ---- Deposits to repeated addresses (protocol §5.2; issue: only the last credit survived) ----

const GWEI_WEI: u64 = 1_000_000_000;

/// Balance of `address` after the block (from the bundle), or its pre-block balance if untouched.
fn balance_after(db: &CacheDB<EmptyDB>, out: &ExecutedBlock, address: Address) -> U256 {
    match out.bundle.account(&address) {
        Some(account) => account.info.as_ref().map_or(U256::ZERO, |i| i.balance),
        None => db.basic_ref(address).unwrap().map_or(U256::ZERO, |i| i.balance),
    }
}

fn pre_balance(db: &CacheDB<EmptyDB>, address: Address) -> U256 {
    db.basic_ref(address).unwrap().map_or(U256::ZERO, |i| i.balance)
}

fn deposits(list: &[(Address, u64)]) -> Vec<Deposit> {
    list.iter()
        .enumerate()
        .map(|(i, &(to, amount_gwei))| Deposit { id: i as u64, to, amount_gwei })
        .collect()
}

fn gwei(n: u64) -> U256 {
    U256::from(n) * U256::from(GWEI_WEI)
}

#[test]
fn repeated_deposit_address_is_credited_every_deposit() {
    let (spec, db) = devnet();
    let a = address!("0x00000000000000000000000000000000000000a1");
    let out =
        execute_l2_block(CHAIN, &db, &input(&spec, vec![], deposits(&[(a, 1), (a, 2), (a, 4)])))
            .unwrap();
    assert_eq!(balance_after(&db, &out, a), gwei(7));
    assert_eq!(out.withdrawals.len(), 3, "every deposit stays in the withdrawals list");
}

#[test]
fn several_repeated_addresses_interleaved_with_others() {
    let (spec, db) = devnet();
    let a = address!("0x00000000000000000000000000000000000000a1");
    let b = address!("0x00000000000000000000000000000000000000b2");
    let c = address!("0x00000000000000000000000000000000000000c3");
    // ANVIL0 is funded in genesis: its credits add to the existing balance.
    let list = [(a, 1), (b, 10), (ANVIL0, 100), (a, 2), (c, 1000), (b, 20), (ANVIL0, 200), (a, 4)];
    let out = execute_l2_block(CHAIN, &db, &input(&spec, vec![], deposits(&list))).unwrap();
    assert_eq!(balance_after(&db, &out, a), gwei(7));
    assert_eq!(balance_after(&db, &out, b), gwei(30));
    assert_eq!(balance_after(&db, &out, c), gwei(1000));
    assert_eq!(balance_after(&db, &out, ANVIL0), pre_balance(&db, ANVIL0) + gwei(300));
    assert_eq!(
        deposit_credits(&deposits(&list)),
        vec![
            (a, 7 * u128::from(GWEI_WEI)),
            (b, 30 * u128::from(GWEI_WEI)),
            (ANVIL0, 300 * u128::from(GWEI_WEI)),
            (c, 1000 * u128::from(GWEI_WEI)),
        ],
        "one credit per address, in first-deposit order"
    );
}

#[test]
fn max_deposit_twice_to_one_address() {
    let (spec, db) = devnet();
    let a = address!("0x00000000000000000000000000000000000000a1");
    let out = execute_l2_block(
        CHAIN,
        &db,
        &input(&spec, vec![], deposits(&[(a, u64::MAX), (a, u64::MAX)])),
    )
    .unwrap();
    assert_eq!(balance_after(&db, &out, a), gwei(u64::MAX) * U256::from(2u64));
    // A full block of maximal deposits to one address cannot saturate the u128 sum.
    let full = vec![(a, u64::MAX); L2_BLOCK_MAX_DEPOSITS];
    let out = execute_l2_block(CHAIN, &db, &input(&spec, vec![], deposits(&full))).unwrap();
    assert_eq!(
        balance_after(&db, &out, a),
        gwei(u64::MAX) * U256::from(L2_BLOCK_MAX_DEPOSITS as u64)
    );
}

#[test]
fn deposit_credit_saturates_at_max_balance() {
    let (spec, mut db) = devnet();
    let rich = address!("0x00000000000000000000000000000000000000d4");
    db.insert_account_info(
        rich,
        AccountInfo { balance: U256::MAX - gwei(3), ..Default::default() },
    );
    let out =
        execute_l2_block(CHAIN, &db, &input(&spec, vec![], deposits(&[(rich, 2), (rich, 2)])))
            .unwrap();
    assert_eq!(balance_after(&db, &out, rich), U256::MAX);
}

#[test]
fn transaction_can_spend_the_sum_of_repeated_deposits() {
    let (spec, db) = devnet();
    let fresh: PrivateKeySigner =
        "0x0123456789012345678901234567890123456789012345678901234567890123".parse().unwrap();
    // The transfer costs 21000 * 2 gwei max fee + 1000 wei value: neither deposit alone covers it.
    let half = 21_000 * 2 / 2 + 1;
    let to = address!("0x0000000000000000000000000000000000001234");
    let inp = input(
        &spec,
        vec![tx1559(&fresh, CHAIN, 0, 21_000, 2_000_000_000, to)],
        deposits(&[(fresh.address(), half), (fresh.address(), half)]),
    );
    let out = execute_l2_block(CHAIN, &db, &inp).unwrap();
    assert!(out.skipped.is_empty(), "{:?}", out.skipped);
    assert_eq!(out.transactions.len(), 1);
}

proptest::proptest! {
    /// The executor's balances after a block of deposits equal a plain model: pre-block balance
    /// plus the sum of every deposit to the address, for random lists over a small address pool
    /// (so addresses repeat), including a genesis-funded account.
    #[test]
    fn deposit_balances_match_model(
        list in proptest::collection::vec((0usize..5, proptest::num::u64::ANY), 0..=40)
    ) {
        let (spec, db) = devnet();
        let pool = [
            address!("0x00000000000000000000000000000000000000a1"),
            address!("0x00000000000000000000000000000000000000b2"),
            address!("0x00000000000000000000000000000000000000c3"),
            ANVIL0,
            address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"),
        ];
        let list: Vec<(Address, u64)> = list.into_iter().map(|(i, a)| (pool[i], a.max(1))).collect();
        let out = execute_l2_block(CHAIN, &db, &input(&spec, vec![], deposits(&list))).unwrap();
        proptest::prop_assert_eq!(out.withdrawals.len(), list.len());
        for address in pool {
            let model = list
                .iter()
                .filter(|(to, _)| *to == address)
                .fold(pre_balance(&db, address), |acc, (_, amount)| acc + gwei(*amount));
            proptest::prop_assert_eq!(balance_after(&db, &out, address), model, "{}", address);
        }
    }
}

/// Strict mode (EIP-4895): withdrawals to a repeated address are all applied (the same rule as L2
/// deposits, aggregated per address before revm's read-then-write `increment_balances`).
#[test]
fn strict_withdrawals_to_repeated_address_are_all_applied() {
    use alloy_consensus::{BlockBody, EMPTY_OMMER_ROOT_HASH, EMPTY_ROOT_HASH, Header};
    use alloy_eips::eip4895::{Withdrawal, Withdrawals};
    let a = address!("0x00000000000000000000000000000000000000a1");
    let b = address!("0x00000000000000000000000000000000000000b2");
    let withdrawals: Vec<Withdrawal> = [(a, 1), (b, 10), (a, 2), (a, 4), (b, 20)]
        .iter()
        .enumerate()
        .map(|(i, &(address, amount))| Withdrawal {
            index: i as u64,
            validator_index: 0,
            address,
            amount,
        })
        .collect();
    let parent = Header {
        gas_limit: 30_000_000,
        base_fee_per_gas: Some(7),
        withdrawals_root: Some(EMPTY_ROOT_HASH),
        ..Default::default()
    };
    let parent = SealedHeader::new(parent);
    let header = Header {
        parent_hash: parent.hash(),
        number: 1,
        timestamp: 12,
        gas_limit: 30_000_000,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        base_fee_per_gas: parent.next_block_base_fee(BaseFeeParams::ethereum()),
        withdrawals_root: Some(calculate_withdrawals_root(&withdrawals)),
        ..Default::default()
    };
    let block = alloy_consensus::Block {
        header,
        body: BlockBody {
            transactions: vec![],
            ommers: vec![],
            withdrawals: Some(Withdrawals::new(withdrawals)),
        },
    };
    let db = CacheDB::new(EmptyDB::default());
    let out = execute_strict_block(
        &ForkSpec::ethereum(revm::primitives::hardfork::SpecId::SHANGHAI),
        1,
        &db,
        &parent,
        &block,
    )
    .unwrap();
    assert_eq!(balance_after(&db, &out, a), gwei(7));
    assert_eq!(balance_after(&db, &out, b), gwei(30));
}

/// Fees to the coinbase go through revm's journal, not a read-then-write list: a fee recipient
/// that also receives repeated deposits keeps both its deposits and every transaction's tip.
#[test]
fn fee_recipient_with_repeated_deposits_keeps_deposits_and_tips() {
    let (spec, db) = devnet();
    let to = address!("0x0000000000000000000000000000000000001234");
    let mut inp = input(
        &spec,
        vec![
            tx1559(&key(), CHAIN, 0, 21_000, 2_000_000_000, to),
            tx1559(&key(), CHAIN, 1, 21_000, 2_000_000_000, to),
        ],
        vec![],
    );
    let coinbase = inp.fee_recipient;
    inp.deposits = deposits(&[(coinbase, 3), (to, 1), (coinbase, 5)]);
    let out = execute_l2_block(CHAIN, &db, &inp).unwrap();
    assert_eq!(out.transactions.len(), 2);
    // Each transfer tips 1 wei/gas (max priority fee) on 21,000 gas.
    assert_eq!(balance_after(&db, &out, coinbase), gwei(8) + U256::from(2 * 21_000u64));
    assert_eq!(balance_after(&db, &out, to), gwei(1) + U256::from(2_000u64));
}

/// A Cancun block with one blob transaction, in the canonical form or in the network form (with
/// its sidecar), and the pre-state that funds the sender. The header commits to the body as given.
fn strict_blob_block(
    with_sidecar: bool,
) -> (SealedHeader, alloy_consensus::Block<TxEnvelope>, CacheDB<EmptyDB>) {
    use alloy_consensus::{
        BlockBody, EMPTY_OMMER_ROOT_HASH, EMPTY_ROOT_HASH, Eip658Value, Header, Receipt,
        ReceiptEnvelope, ReceiptWithBloom, TxEip4844Variant, TxEip4844WithSidecar,
        proofs::{calculate_receipt_root, calculate_transaction_root},
    };
    use alloy_eips::eip4844::{BlobTransactionSidecar, DATA_GAS_PER_BLOB};
    use alloy_primitives::Bloom;

    let mut versioned_hash = B256::repeat_byte(0x11);
    versioned_hash.0[0] = 0x01; // VERSIONED_HASH_VERSION_KZG
    let tx = TxEip4844 {
        chain_id: 1,
        nonce: 0,
        gas_limit: 21_000,
        max_fee_per_gas: 100,
        max_priority_fee_per_gas: 1,
        to: address!("0x00000000000000000000000000000000000000c3"),
        value: U256::from(1u64),
        access_list: Default::default(),
        blob_versioned_hashes: vec![versioned_hash],
        max_fee_per_blob_gas: 10,
        input: Bytes::new(),
    };
    let sig = key().sign_hash_sync(&tx.signature_hash()).unwrap();
    let variant: TxEip4844Variant = if with_sidecar {
        let sidecar = BlobTransactionSidecar {
            blobs: vec![Default::default()],
            commitments: vec![Default::default()],
            proofs: vec![Default::default()],
        };
        TxEip4844WithSidecar::from_tx_and_sidecar(tx, sidecar).into()
    } else {
        tx.into()
    };
    let envelope = TxEnvelope::Eip4844(variant.into_signed(sig));

    let parent = SealedHeader::new(Header {
        gas_limit: 30_000_000,
        base_fee_per_gas: Some(7),
        withdrawals_root: Some(EMPTY_ROOT_HASH),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::ZERO),
        ..Default::default()
    });
    let receipt = ReceiptEnvelope::Eip4844(ReceiptWithBloom::new(
        Receipt { status: Eip658Value::Eip658(true), cumulative_gas_used: 21_000, logs: vec![] },
        Bloom::ZERO,
    ));
    let transactions = vec![envelope];
    let header = Header {
        parent_hash: parent.hash(),
        number: 1,
        timestamp: 12,
        gas_limit: 30_000_000,
        gas_used: 21_000,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        transactions_root: calculate_transaction_root(&transactions),
        receipts_root: calculate_receipt_root(&[receipt]),
        base_fee_per_gas: parent.next_block_base_fee(BaseFeeParams::ethereum()),
        withdrawals_root: Some(EMPTY_ROOT_HASH),
        blob_gas_used: Some(DATA_GAS_PER_BLOB),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::repeat_byte(0xbe)),
        ..Default::default()
    };
    let block = alloy_consensus::Block {
        header,
        body: BlockBody { transactions, ommers: vec![], withdrawals: Some(Default::default()) },
    };
    let mut db = CacheDB::new(EmptyDB::default());
    db.insert_account_info(
        ANVIL0,
        AccountInfo { balance: U256::from(10u64).pow(U256::from(18u64)), ..Default::default() },
    );
    (parent, block, db)
}

/// EIP-4844: only the canonical form of a blob transaction (no blobs, commitments or proofs) is
/// valid in a block body. The same block, with the transaction in its network form and a header
/// committing to that body, decodes from RLP but is rejected with a typed error.
#[test]
fn strict_rejects_blob_transaction_in_network_form() {
    use alloy_rlp::{Decodable, Encodable};
    let fork = ForkSpec::ethereum(revm::primitives::hardfork::SpecId::CANCUN);

    let (parent, canonical, db) = strict_blob_block(false);
    let out = execute_strict_block(&fork, 1, &db, &parent, &canonical).unwrap();
    assert_eq!(out.receipts.len(), 1);
    assert!(out.receipts[0].status());

    let (parent, network, db) = strict_blob_block(true);
    // The wire form survives a block RLP round trip: block decoding alone does not reject it.
    let mut rlp = Vec::new();
    network.encode(&mut rlp);
    let decoded = alloy_consensus::Block::<TxEnvelope>::decode(&mut rlp.as_slice()).unwrap();
    assert!(decoded.body.transactions[0].as_eip4844().unwrap().tx().as_with_sidecar().is_some());
    let err = execute_strict_block(&fork, 1, &db, &parent, &decoded).unwrap_err();
    assert!(matches!(err, BlockError::BlobSidecarInBody { index: 0 }), "{err}");
}
