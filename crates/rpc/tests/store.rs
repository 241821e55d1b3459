//! The server over the real `based_storage::Store` (in memory): head, blocks, latest and
//! historical state.

use std::{collections::BTreeMap, net::SocketAddr, sync::Arc};

use alloy_genesis::GenesisAccount;
use alloy_primitives::{Address, U256};
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
