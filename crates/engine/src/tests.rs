//! Import / unwind tests over an in-memory store with the devnet genesis.

use super::*;
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, U256, address};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use based_evm::{Deposit, L1Anchor};
use revm::DatabaseRef;

const KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

fn transfer(nonce: u64, to: Address) -> Bytes {
    let signer: PrivateKeySigner = KEY.parse().unwrap();
    let tx = TxEip1559 {
        chain_id: 4242,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(to),
        value: U256::from(1u64),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let sig = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    let env: TxEnvelope = tx.into_signed(sig).into();
    env.encoded_2718().into()
}

fn setup() -> (Store, ChainSpec) {
    let store = Store::open_in_memory().unwrap();
    let spec = ChainSpec::devnet().unwrap();
    assert_eq!(init_genesis(&store, &spec).unwrap(), spec.genesis_hash());
    (store, spec)
}

fn block_input(parent: SealedHeader, n: u64) -> BlockInput {
    let to = address!("0x0000000000000000000000000000000000000abc");
    BlockInput {
        timestamp: parent.timestamp + 2,
        parent,
        fee_recipient: address!("0x00000000000000000000000000000000000fee00"),
        gas_limit: 30_000_000,
        anchor: L1Anchor { number: 10 + n, hash: B256::with_last_byte(n as u8) },
        deposits: vec![Deposit { id: n, to, amount_gwei: 5 }],
        transactions: vec![
            transfer(2 * n, to),
            transfer(2 * n + 1, to),
            Bytes::from_static(b"junk"),
        ],
    }
}

#[test]
fn import_unwind_reimport_reproduces_hashes() {
    let (store, spec) = setup();
    let mut inputs = Vec::new();
    let mut hashes = Vec::new();
    let mut headers = Vec::new();
    for n in 0..4u64 {
        let input = block_input(head(&store).unwrap(), n);
        let meta = vec![(b"progress".to_vec(), n.to_be_bytes().to_vec())];
        let imported = import(&store, &spec, &input, meta).unwrap();
        assert_eq!(imported.transactions.len(), 2);
        assert_eq!(imported.skipped.len(), 1);
        assert_eq!(store.head().unwrap().unwrap().hash, imported.header.hash());
        assert_eq!(imported.header.hash(), imported.header.inner().hash_slow());
        inputs.push(input);
        hashes.push(imported.header.hash());
        headers.push(imported.header.inner().clone());
    }
    assert_eq!(store.get_meta(b"progress").unwrap(), Some(3u64.to_be_bytes().to_vec()));
    let to = address!("0x0000000000000000000000000000000000000abc");
    let bal = store.latest().unwrap().basic_ref(to).unwrap().unwrap().balance;
    assert_eq!(bal, U256::from(8u64 + 4 * 5_000_000_000u64));

    // Block numbers start at 1 (genesis is 0): hashes[1] is block 2.
    unwind_to(&store, 2).unwrap();
    assert_eq!(store.head().unwrap().unwrap().hash, hashes[1]);
    let bal = store.latest().unwrap().basic_ref(to).unwrap().unwrap().balance;
    assert_eq!(bal, U256::from(4u64 + 2 * 5_000_000_000u64));
    for (n, input) in inputs.iter().enumerate().skip(2) {
        let imported = import(&store, &spec, input, vec![]).unwrap();
        assert_eq!(imported.header.inner(), &headers[n]);
        assert_eq!(imported.header.hash(), hashes[n]);
    }
    assert_eq!(store.head().unwrap().unwrap().hash, hashes[3]);
}

#[test]
fn import_rejects_block_not_on_head() {
    let (store, spec) = setup();
    let genesis = head(&store).unwrap();
    import(&store, &spec, &block_input(genesis.clone(), 0), vec![]).unwrap();
    let head_before = store.head().unwrap();
    let err = import(&store, &spec, &block_input(genesis, 0), vec![]).unwrap_err();
    assert!(matches!(err, EngineError::NotOnHead { .. }));
    assert_eq!(store.head().unwrap(), head_before);
}

#[test]
fn bad_input_leaves_store_unchanged() {
    let (store, spec) = setup();
    let mut input = block_input(head(&store).unwrap(), 0);
    input.gas_limit = 1;
    assert!(matches!(import(&store, &spec, &input, vec![]), Err(EngineError::Exec(_))));
    assert_eq!(store.head().unwrap().unwrap().number, 0);
}

/// Golden vector (protocol §5.2): one L2 block on the devnet genesis crediting repeated deposits,
/// the table (A: 1 + 2 + 4 gwei in one L1 block; B: 8 + 16 gwei), interleaved with a
/// deposit to a genesis-funded account, plus one transfer. The expected balances, state root and
/// block hash are pinned in `testdata/repeated_deposits.json`, so the deposit rule cannot drift;
/// unwinding the block restores the pre-block state.
#[test]
fn repeated_deposits_golden_vector() {
    #[derive(serde::Deserialize)]
    struct Golden {
        deposits: Vec<(u64, Address, u64)>,
        balances: Vec<(Address, U256)>,
        withdrawals_root: B256,
        state_root: B256,
        hash: B256,
    }
    let golden: Golden =
        serde_json::from_str(include_str!("../testdata/repeated_deposits.json")).unwrap();
    let (store, spec) = setup();
    let genesis = head(&store).unwrap();
    let before: Vec<U256> = golden
        .balances
        .iter()
        .map(|(a, _)| {
            store.latest().unwrap().basic_ref(*a).unwrap().map_or(U256::ZERO, |i| i.balance)
        })
        .collect();
    let input = BlockInput {
        timestamp: genesis.timestamp + 12,
        parent: genesis,
        fee_recipient: address!("0x00000000000000000000000000000000000fee00"),
        gas_limit: 30_000_000,
        anchor: L1Anchor { number: 7, hash: B256::repeat_byte(0x77) },
        deposits: golden
            .deposits
            .iter()
            .map(|&(id, to, amount_gwei)| Deposit { id, to, amount_gwei })
            .collect(),
        transactions: vec![transfer(0, address!("0x0000000000000000000000000000000000000abc"))],
    };
    let imported = import(&store, &spec, &input, vec![]).unwrap();
    assert_eq!(imported.transactions.len(), 1);
    for (address, expected) in &golden.balances {
        let got =
            store.latest().unwrap().basic_ref(*address).unwrap().map_or(U256::ZERO, |i| i.balance);
        assert_eq!(got, *expected, "balance of {address}");
    }
    let header = imported.header.inner();
    assert_eq!(header.withdrawals_root, Some(golden.withdrawals_root));
    assert_eq!(header.state_root, golden.state_root);
    assert_eq!(imported.header.hash(), golden.hash);

    unwind_to(&store, 0).unwrap();
    for ((address, _), before) in golden.balances.iter().zip(before) {
        let got =
            store.latest().unwrap().basic_ref(*address).unwrap().map_or(U256::ZERO, |i| i.balance);
        assert_eq!(got, before, "balance of {address} after unwind");
    }
}
