//! Request limits: the gas cap and the wall-clock timeout of `eth_call` / `eth_estimateGas`, the
//! concurrency limit of expensive requests, the `eth_feeHistory` budget, and one consistent
//! snapshot per state read (store provider across an unwind).

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_genesis::GenesisAccount;
use alloy_primitives::{Address, Bytes, U256, address, hex, keccak256};
use based_rpc::{
    ChainProvider, LIMIT_EXCEEDED_CODE, RpcConfig, RpcDeps, RpcServer, RpcServerHandle,
    test_utils::{MemoryChain, MockBased, MockForwarder, TEST_CHAIN_ID},
};
use based_storage::{
    Store,
    test_utils::{TestChange, commit_changes, genesis_header},
};
use jsonrpsee::{
    core::{ClientError, client::ClientT, params::ArrayParams},
    http_client::{HttpClient, HttpClientBuilder},
    rpc_params,
};
use revm::state::{AccountInfo, Bytecode};
use serde_json::{Value, json};

/// `JUMPDEST; PUSH0; JUMP`: loops until it runs out of gas (or time).
const LOOP: Address = address!("0x000000000000000000000000000000000000100f");
/// `GAS; PUSH0; MSTORE; PUSH1 32; PUSH0; RETURN`: returns the gas left when it starts.
const GAS_LEFT: Address = address!("0x0000000000000000000000000000000000006a5f");

fn contract(code: &[u8]) -> AccountInfo {
    let code = Bytecode::new_raw(Bytes::copy_from_slice(code));
    AccountInfo { code_hash: code.hash_slow(), code: Some(code), ..Default::default() }
}

struct Fixture {
    handle: RpcServerHandle,
    client: HttpClient,
}

/// A chain of 4 empty blocks over a genesis holding the two contracts.
async fn setup(config: impl FnOnce(&mut RpcConfig)) -> Fixture {
    let chain = MemoryChain::new([
        (LOOP, contract(&hex!("5b5f56"))),
        (GAS_LEFT, contract(&hex!("5a5f5260205ff3"))),
    ]);
    for _ in 0..4 {
        chain.mine(Vec::new());
    }
    let mut cfg = RpcConfig::new(TEST_CHAIN_ID);
    config(&mut cfg);
    let deps = RpcDeps {
        chain: Arc::new(chain),
        based: Arc::new(MockBased::default()),
        forwarder: Arc::new(MockForwarder::default()),
        events: Default::default(),
        config: cfg,
    };
    let handle = RpcServer::start(SocketAddr::from(([127, 0, 0, 1], 0)), deps).await.unwrap();
    let client = HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(60))
        .build(handle.http_url())
        .unwrap();
    Fixture { handle, client }
}

async fn raw(
    client: &HttpClient,
    method: &str,
    params: ArrayParams,
) -> Result<Value, (i32, String)> {
    client.request::<Value, _>(method, params).await.map_err(|e| match e {
        ClientError::Call(obj) => (obj.code(), obj.message().to_string()),
        other => panic!("transport error: {other}"),
    })
}

fn call_to(to: Address, gas: Option<u64>) -> Value {
    match gas {
        Some(gas) => json!({ "to": to, "gas": format!("{gas:#x}") }),
        None => json!({ "to": to }),
    }
}

fn gas_left(answer: &Value) -> u64 {
    let bytes = hex::decode(answer.as_str().unwrap()).unwrap();
    U256::from_be_slice(&bytes).to::<u64>()
}

#[tokio::test]
async fn gas_cap_lowers_the_gas_of_calls_and_bounds_estimates() {
    let cap = 100_000;
    let f = setup(|c| c.gas_cap = cap).await;
    let c = &f.client;

    // Asking for far more than the cap runs with the cap (minus the intrinsic 21,000).
    let left = gas_left(
        &raw(c, "eth_call", rpc_params![call_to(GAS_LEFT, Some(10_000_000)), "latest"])
            .await
            .unwrap(),
    );
    assert!(left < cap - 21_000 && left > cap - 21_100, "gas left {left} with cap {cap}");
    // No gas given: the cap is the default.
    let left = gas_left(
        &raw(c, "eth_call", rpc_params![call_to(GAS_LEFT, None), "latest"]).await.unwrap(),
    );
    assert!(left < cap - 21_000 && left > cap - 21_100, "gas left {left} with cap {cap}");

    // An endless loop stops at the cap: out of gas, quickly.
    let started = Instant::now();
    let err = raw(c, "eth_call", rpc_params![call_to(LOOP, Some(u64::MAX / 2)), "latest"])
        .await
        .unwrap_err();
    assert_eq!(err, (-32000, "out of gas".to_string()));
    assert!(started.elapsed() < Duration::from_secs(2));
    let err =
        raw(c, "eth_estimateGas", rpc_params![call_to(LOOP, None), "latest"]).await.unwrap_err();
    assert_eq!(err, (-32000, format!("gas required exceeds allowance ({cap})")));
    f.handle.stop().await;

    // With the default cap (50M) the same call gets far more gas.
    let f = setup(|_| {}).await;
    let left = gas_left(
        &raw(&f.client, "eth_call", rpc_params![call_to(GAS_LEFT, None), "latest"]).await.unwrap(),
    );
    assert!(left > 49_000_000, "gas left {left} with the default cap");
    f.handle.stop().await;
}

#[tokio::test]
async fn endless_call_is_aborted_at_the_timeout() {
    let timeout = Duration::from_millis(400);
    let f = setup(|c| {
        // A cap this high would let the loop run for hours: only the timeout stops it.
        c.gas_cap = 1_000_000_000_000_000;
        c.call_timeout = timeout;
    })
    .await;
    let c = &f.client;
    for method in ["eth_call", "eth_estimateGas"] {
        let started = Instant::now();
        let err = raw(c, method, rpc_params![call_to(LOOP, None), "latest"]).await.unwrap_err();
        let elapsed = started.elapsed();
        assert_eq!(err, (-32000, "execution aborted (timeout = 400ms)".to_string()), "{method}");
        assert!(elapsed >= timeout, "{method}: answered after {elapsed:?}, before the timeout");
        assert!(elapsed < timeout * 5, "{method}: answered after {elapsed:?}");
    }
    // The server is still fine, and quick calls are unaffected.
    let left = gas_left(
        &raw(c, "eth_call", rpc_params![call_to(GAS_LEFT, Some(50_000)), "latest"]).await.unwrap(),
    );
    assert!(left > 28_000);
    f.handle.stop().await;
}

#[tokio::test]
async fn saturated_expensive_requests_are_refused_after_the_queue_wait() {
    let f = setup(|c| {
        c.gas_cap = 1_000_000_000_000_000;
        c.call_timeout = Duration::from_millis(1_500);
        c.max_concurrent_calls = 1;
        c.call_queue_timeout = Duration::from_millis(200);
    })
    .await;
    let busy = {
        let c = f.client.clone();
        tokio::spawn(async move {
            raw(&c, "eth_call", rpc_params![call_to(LOOP, None), "latest"]).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let c = &f.client;
    // Every expensive method shares the slot; cheap ones are never queued.
    for (method, params) in [
        ("eth_call", rpc_params![call_to(GAS_LEFT, None), "latest"]),
        ("eth_estimateGas", rpc_params![call_to(GAS_LEFT, None), "latest"]),
        ("eth_getLogs", rpc_params![json!({ "fromBlock": "0x0" })]),
        ("eth_feeHistory", rpc_params!["0x2", "latest", [50.0]]),
    ] {
        let started = Instant::now();
        let (code, message) = raw(c, method, params).await.unwrap_err();
        assert_eq!(code, LIMIT_EXCEEDED_CODE, "{method}: {message}");
        assert!(message.starts_with("server busy: 1 expensive requests"), "{method}: {message}");
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(200) && elapsed < Duration::from_millis(1_000),
            "{method}: {elapsed:?}"
        );
    }
    assert_eq!(raw(c, "eth_blockNumber", rpc_params![]).await.unwrap(), json!("0x4"));
    // The running call ends at its timeout and frees the slot.
    assert_eq!(busy.await.unwrap().unwrap_err().0, -32000);
    let left = gas_left(
        &raw(c, "eth_call", rpc_params![call_to(GAS_LEFT, None), "latest"]).await.unwrap(),
    );
    assert!(left > 1_000_000);
    f.handle.stop().await;
}

#[tokio::test]
async fn fee_history_budget_truncates_blocks() {
    let f = setup(|c| c.max_fee_history_budget = 6).await;
    let c = &f.client;
    // 3 blocks × 2 percentiles = 6: served whole.
    let h = raw(c, "eth_feeHistory", rpc_params!["0x3", "latest", [10.0, 90.0]]).await.unwrap();
    assert_eq!(
        (h["oldestBlock"].clone(), h["reward"].as_array().unwrap().len()),
        (json!("0x2"), 3)
    );
    // 4 blocks × 3 percentiles = 12 > 6: the newest 2 blocks.
    let h =
        raw(c, "eth_feeHistory", rpc_params!["0x4", "latest", [10.0, 50.0, 90.0]]).await.unwrap();
    assert_eq!(h["oldestBlock"], json!("0x3"));
    assert_eq!(h["reward"].as_array().unwrap().len(), 2);
    assert_eq!(h["baseFeePerGas"].as_array().unwrap().len(), 3);
    // Without percentiles only the block cap applies.
    let h = raw(c, "eth_feeHistory", rpc_params!["0x4", "latest"]).await.unwrap();
    assert_eq!(h["oldestBlock"], json!("0x1"));
    // More percentiles than the whole budget: refused.
    let err =
        raw(c, "eth_feeHistory", rpc_params!["0x1", "latest", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]])
            .await
            .unwrap_err();
    assert_eq!(err.0, -32602, "{}", err.1);
    assert!(err.1.contains("budget of 6"), "{}", err.1);
    f.handle.stop().await;
}

/// The store provider opens state by number *and hash* in one snapshot: the state of a block
/// that an unwind replaced is never served under the old header.
#[tokio::test]
async fn store_state_is_read_from_the_snapshot_of_the_resolved_block() {
    let alice = Address::repeat_byte(0xa1);
    let alloc: BTreeMap<Address, GenesisAccount> =
        [(alice, GenesisAccount::default().with_balance(U256::from(1_000)))].into();
    let store = Store::open_in_memory().unwrap();
    store.init_genesis(&genesis_header(&alloc), &alloc).unwrap();
    let set = |balance: u64| {
        vec![vec![TestChange::Account { address: alice, balance: U256::from(balance), nonce: 0 }]]
    };
    let h1 = commit_changes(&store, &set(500)).unwrap();
    let h2 = commit_changes(&store, &set(400)).unwrap();
    let (h1, h2) = (h1.hash_slow(), h2.hash_slow());
    let balance = |state: based_rpc::StateView| {
        use revm::database_interface::DatabaseRef;
        state.basic_ref(alice).unwrap().unwrap().balance
    };
    // Head and history, with the right hash.
    assert_eq!(balance(ChainProvider::state_at(&store, 2, h2).unwrap().unwrap()), U256::from(400));
    assert_eq!(balance(ChainProvider::state_at(&store, 1, h1).unwrap().unwrap()), U256::from(500));
    // A wrong hash, a block above the head: no state.
    assert!(ChainProvider::state_at(&store, 2, h1).unwrap().is_none());
    assert!(ChainProvider::state_at(&store, 3, keccak256("x")).unwrap().is_none());

    // An unwind replaces block 2: the old (number, hash) no longer opens any state, the new one
    // opens the new block's state.
    store.unwind_to(1).unwrap();
    assert!(ChainProvider::state_at(&store, 2, h2).unwrap().is_none());
    let h2b = commit_changes(&store, &set(300)).unwrap().hash_slow();
    assert_ne!(h2b, h2);
    assert!(ChainProvider::state_at(&store, 2, h2).unwrap().is_none());
    assert_eq!(balance(ChainProvider::state_at(&store, 2, h2b).unwrap().unwrap()), U256::from(300));
    assert_eq!(ChainProvider::head_number(&store).unwrap(), 2);
}
