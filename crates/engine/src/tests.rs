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
