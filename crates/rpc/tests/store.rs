//! The server over the real `based_storage::Store` (in memory): head, blocks, latest and
//! historical state.

use std::{collections::BTreeMap, net::SocketAddr, sync::Arc};

use alloy_genesis::GenesisAccount;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use based_rpc::{
    ChainProvider, RpcConfig, RpcDeps, RpcServer,
    test_utils::{MockBased, MockForwarder, TEST_CHAIN_ID},
};
use based_storage::{
    Store,
    test_utils::{TestChange, commit_changes, genesis_header},
};
use jsonrpsee::{core::client::ClientT, http_client::HttpClientBuilder, rpc_params};
use serde_json::{Value, json};

#[tokio::test]
async fn serves_store_with_history() {
    let alice = Address::repeat_byte(0xa1);
    let alloc: BTreeMap<Address, GenesisAccount> =
        [(alice, GenesisAccount::default().with_balance(U256::from(1_000)))].into();
    let store = Store::open_in_memory().unwrap();
    let genesis = genesis_header(&alloc);
    store.init_genesis(&genesis, &alloc).unwrap();
    let h1 = commit_changes(
        &store,
        &[vec![TestChange::Account { address: alice, balance: U256::from(500), nonce: 1 }]],
    )
    .unwrap();
    let h2 = commit_changes(
        &store,
        &[vec![TestChange::Slot { address: alice, slot: U256::from(1), value: U256::from(7) }]],
    )
    .unwrap();
    assert_eq!(ChainProvider::head_number(&store).unwrap(), 2);

    let deps = RpcDeps {
        chain: Arc::new(store.clone()),
        based: Arc::new(MockBased::default()),
        forwarder: Arc::new(MockForwarder::default()),
        events: Default::default(),
        config: RpcConfig::new(TEST_CHAIN_ID),
    };
    let handle = RpcServer::start(SocketAddr::from(([127, 0, 0, 1], 0)), deps).await.unwrap();
    let c = HttpClientBuilder::default().build(handle.http_url()).unwrap();
    let call = |m: &'static str, p| {
        let c = c.clone();
        async move { c.request::<Value, _>(m, p).await.unwrap() }
    };

    assert_eq!(call("eth_blockNumber", rpc_params![]).await, json!("0x2"));
    let b1 = call("eth_getBlockByNumber", rpc_params!["0x1", false]).await;
    assert_eq!(b1["hash"], json!(h1.hash_slow()));
    assert_eq!(b1["parentHash"], json!(genesis.hash_slow()));
    let by_hash = call("eth_getBlockByHash", rpc_params![h2.hash_slow(), false]).await;
    assert_eq!(by_hash["number"], json!("0x2"));
    assert_eq!(call("eth_getBalance", rpc_params![alice, "latest"]).await, json!("0x1f4"));
    assert_eq!(call("eth_getBalance", rpc_params![alice, "0x0"]).await, json!("0x3e8"));
    assert_eq!(call("eth_getTransactionCount", rpc_params![alice, "0x1"]).await, json!("0x1"));
    assert_eq!(
        call("eth_getStorageAt", rpc_params![alice, "0x1", "0x1"]).await,
        json!(format!("0x{:064x}", 0))
    );
    assert_eq!(
        call("eth_getStorageAt", rpc_params![alice, "0x1", "latest"]).await,
        json!(format!("0x{:064x}", 7))
    );
    handle.stop().await;
}

/// Decodes an `eth_getProof` answer and checks every proof with alloy-trie's independent
/// verifier against `state_root`; returns the answer.
fn verify_answer(
    answer: &Value,
    state_root: B256,
) -> alloy_rpc_types_eth::EIP1186AccountProofResponse {
    use alloy_trie::{Nibbles, TrieAccount, proof::verify_proof};
    let proof: alloy_rpc_types_eth::EIP1186AccountProofResponse =
        serde_json::from_value(answer.clone()).unwrap();
    let exists = !proof.is_empty();
    let leaf = exists.then(|| {
        alloy_rlp::encode(TrieAccount {
            nonce: proof.nonce,
            balance: proof.balance,
            storage_root: proof.storage_hash,
            code_hash: proof.code_hash,
        })
    });
    let key = Nibbles::unpack(keccak256(proof.address));
    verify_proof(state_root, key, leaf, &proof.account_proof).unwrap();
    for sp in &proof.storage_proof {
        let key = Nibbles::unpack(keccak256(sp.key.as_b256()));
        let value = (!sp.value.is_zero()).then(|| alloy_rlp::encode(sp.value));
        verify_proof(proof.storage_hash, key, value, &sp.proof).unwrap();
        // The proof does not also prove another value.
        assert!(
            verify_proof(
                proof.storage_hash,
                key,
                Some(alloy_rlp::encode(U256::from(12345))),
                &sp.proof
            )
            .is_err()
        );
    }
    proof
}

#[tokio::test]
async fn get_proof_verifies_against_the_state_root() {
    let alice = Address::repeat_byte(0xa1);
    let bob = Address::repeat_byte(0xb0);
    let contract = Address::repeat_byte(0xcc);
    let code = Bytes::from_static(&[0x60, 0x01, 0x60, 0x00, 0x55]);
    let storage: BTreeMap<B256, B256> = [
        (B256::from(U256::from(1)), B256::from(U256::from(7))),
        (B256::from(U256::from(2)), B256::from(U256::from(9))),
    ]
    .into();
    let alloc: BTreeMap<Address, GenesisAccount> = [
        (alice, GenesisAccount::default().with_balance(U256::from(1_000))),
        (
            contract,
            GenesisAccount::default()
                .with_nonce(Some(1))
                .with_code(Some(code.clone()))
                .with_storage(Some(storage)),
        ),
    ]
    .into();
    let store = Store::open_in_memory().unwrap();
    store.init_genesis(&genesis_header(&alloc), &alloc).unwrap();
    commit_changes(
        &store,
        &[vec![
            TestChange::Account { address: alice, balance: U256::from(500), nonce: 1 },
            TestChange::Slot { address: contract, slot: U256::from(1), value: U256::from(8) },
            TestChange::Slot { address: contract, slot: U256::from(2), value: U256::ZERO },
        ]],
    )
    .unwrap();
    commit_changes(
        &store,
        &[vec![TestChange::Account { address: bob, balance: U256::from(3), nonce: 0 }]],
    )
    .unwrap();

    let mut config = RpcConfig::new(TEST_CHAIN_ID);
    config.proof_window = 1;
    config.max_proof_keys = 3;
    let deps = RpcDeps {
        chain: Arc::new(store.clone()),
        based: Arc::new(MockBased::default()),
        forwarder: Arc::new(MockForwarder::default()),
        events: Default::default(),
        config,
    };
    let handle = RpcServer::start(SocketAddr::from(([127, 0, 0, 1], 0)), deps).await.unwrap();
    let c = HttpClientBuilder::default().build(handle.http_url()).unwrap();
    let root = |block: &'static str| {
        let c = c.clone();
        async move {
            let b: Value =
                c.request("eth_getBlockByNumber", rpc_params![block, false]).await.unwrap();
            serde_json::from_value::<B256>(b["stateRoot"].clone()).unwrap()
        }
    };
    let (root1, root2) = (root("0x1").await, root("0x2").await);
    assert_ne!(root1, root2);
    let proof = |address: Address, keys: Value, block: &'static str| {
        let c = c.clone();
        async move { c.request::<Value, _>("eth_getProof", rpc_params![address, keys, block]).await }
    };

    // An existing account at the head.
    let p = verify_answer(&proof(alice, json!([]), "latest").await.unwrap(), root2);
    assert_eq!((p.balance, p.nonce), (U256::from(500), 1));
    // A missing account: a proof of absence (and empty storage proofs).
    let answer = proof(Address::repeat_byte(0xdd), json!(["0x1"]), "latest").await.unwrap();
    assert_eq!(answer["storageHash"], json!(alloy_trie::EMPTY_ROOT_HASH));
    assert_eq!(answer["codeHash"], json!(alloy_trie::KECCAK_EMPTY));
    let p = verify_answer(&answer, root2);
    assert!(p.is_empty() && !p.account_proof.is_empty());
    assert_eq!(p.storage_proof[0].value, U256::ZERO);
    // A contract with storage: a present slot, a cleared slot and a never-set slot; keys are
    // echoed in the form they were sent.
    let slot1 = B256::from(U256::from(1));
    let answer = proof(contract, json!([slot1, "0x2", "0x5"]), "latest").await.unwrap();
    assert_eq!(answer["storageProof"][0]["key"], json!(slot1));
    assert_eq!(answer["storageProof"][1]["key"], json!("0x2"));
    let p = verify_answer(&answer, root2);
    assert_eq!(p.code_hash, keccak256(&code));
    let values: Vec<U256> = p.storage_proof.iter().map(|s| s.value).collect();
    assert_eq!(values, vec![U256::from(8), U256::ZERO, U256::ZERO]);
    // One block back (within the window): the state of block 1, against block 1's root; bob
    // did not exist yet.
    let p = verify_answer(&proof(bob, json!([]), "0x1").await.unwrap(), root1);
    assert!(p.is_empty());
    let p = verify_answer(&proof(contract, json!(["0x1", "0x2"]), "0x1").await.unwrap(), root1);
    assert_eq!(p.storage_proof[0].value, U256::from(8));
    // Limits: beyond the window, too many keys, an unknown block.
    let err = |r: Result<Value, jsonrpsee::core::ClientError>| match r {
        Err(jsonrpsee::core::ClientError::Call(e)) => (e.code(), e.message().to_string()),
        other => panic!("expected an error, got {other:?}"),
    };
    let (code, message) = err(proof(alice, json!([]), "0x0").await);
    assert_eq!(code, -32005);
    assert!(message.contains("more than 1 blocks behind"), "{message}");
    assert_eq!(err(proof(alice, json!(["0x1", "0x2", "0x3", "0x4"]), "latest").await).0, -32005);
    assert_eq!(err(proof(alice, json!([]), "0x9").await), (-32000, "header not found".into()));
    handle.stop().await;
}
