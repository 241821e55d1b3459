//! End-to-end check of the derivation output against the executor: a derived block (deposit,
//! forced transaction, proposer transaction) executes on the devnet genesis with the forced
//! transaction first and the deposits as the block's withdrawals.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, U256, address};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use based_chainspec::ChainSpec;
use based_derive::{
    BlobCodecDecoder, DeriveConfig, InboxEvent, L1Head, L2Head, MemoryQueues, derive_l1_block_with,
    test_utils::TestL1,
};
use based_evm::{BlockInput, Deposit, SealedHeader, execute_l2_block};
use based_primitives::{Batch, BlockManifest, L1Anchor};
use revm::{
    database::{CacheDB, EmptyDB},
    state::{AccountInfo, Bytecode},
};

const ANVIL0_KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

fn tx(signer: &PrivateKeySigner, nonce: u64, to: Address) -> Bytes {
    let tx = TxEip1559 {
        chain_id: 4242,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 2_000_000_000,
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

#[test]
fn derived_block_executes_with_forced_tx_first_and_deposits() {
    let spec = ChainSpec::devnet().unwrap();
    let genesis = spec.genesis_header().clone();
    let mut db = CacheDB::new(EmptyDB::default());
    for (addr, acct) in spec.alloc() {
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
    }

    // L1 starts well after the L2 genesis timestamp.
    let mut l1 = TestL1::new(genesis.timestamp + 1_000);
    let mut state = based_derive::DerivationState::new(
        L1Head { number: 0, hash: l1.hashes[0], timestamp: l1.genesis_time },
        L2Head {
            number: 0,
            timestamp: genesis.timestamp,
            gas_limit: genesis.gas_limit,
            anchor: L1Anchor { number: 0, hash: l1.hashes[0] },
        },
    );
    let cfg = DeriveConfig { forced_inclusion_window: 2, ..DeriveConfig::devnet(4242) };
    let signer: PrivateKeySigner = ANVIL0_KEY.parse().unwrap();
    let recipient = address!("0x0000000000000000000000000000000000001234");
    let depositee = address!("0x00000000000000000000000000000000000d0d0d");

    let mut queues = MemoryQueues::new();
    let mut run = |l1: &mut TestL1, events: Vec<InboxEvent>| {
        let input = l1.next_block(events);
        let decoder = BlobCodecDecoder::trusting();
        let out = derive_l1_block_with(&cfg, &state, &input, &l1.blobs, &decoder, &queues).unwrap();
        state = out.state.clone();
        queues.insert(&out.queued);
        out
    };
    let forced = tx(&signer, 0, recipient);
    let ev = vec![l1.deposit(depositee, 5), l1.force(forced)];
    run(&mut l1, ev); // block 1
    run(&mut l1, vec![]); // block 2
    let manifest = BlockManifest {
        timestamp: l1.next_timestamp(),
        fee_recipient: address!("0x00000000000000000000000000000000000fee00"),
        gas_limit: genesis.gas_limit,
        anchor: l1.anchor(2),
        transactions: vec![tx(&signer, 1, recipient)],
    };
    let ev =
        vec![l1.propose(
            Address::repeat_byte(0xaa),
            &Batch { chain_id: 4242, manifests: vec![manifest] },
        )];
    let out = run(&mut l1, ev); // block 3: forced (queued at 1, window 2) is due
    assert!(out.skipped.is_empty(), "{:?}", out.skipped);
    let [block] = out.blocks.as_slice() else { panic!("expected one block, got {:?}", out.blocks) };
    assert_eq!(block.forced_inclusion_ids, vec![0]);

    let input = BlockInput {
        parent: SealedHeader::new(genesis),
        timestamp: block.timestamp,
        fee_recipient: block.fee_recipient,
        gas_limit: block.gas_limit,
        anchor: block.anchor,
        deposits: block
            .deposits
            .iter()
            .map(|w| Deposit { id: w.index, to: w.address, amount_gwei: w.amount })
            .collect(),
        transactions: block.transactions.clone(),
    };
    let executed = execute_l2_block(4242, &db, &input).unwrap();
    assert!(executed.skipped.is_empty(), "{:?}", executed.skipped);
    assert_eq!(executed.header.number, block.number);
    assert_eq!(executed.withdrawals, block.deposits);
    let nonces: Vec<u64> =
        executed.transactions.iter().map(alloy_consensus::Transaction::nonce).collect();
    assert_eq!(nonces, vec![0, 1], "forced transaction executes first");
    let credited =
        executed.bundle.account(&depositee).and_then(|a| a.info.as_ref()).map(|i| i.balance);
    assert_eq!(credited, Some(U256::from(5_000_000_000u64)));
}
