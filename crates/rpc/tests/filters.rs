//! Filters (`eth_newFilter` & co, over HTTP) and subscriptions (`eth_subscribe`, over
//! WebSocket) on a real server at 127.0.0.1:0 over an in-memory chain that publishes chain
//! events like the node's driver, including L2 unwinds.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TypedTransaction};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, b256, hex};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use based_rpc::{
    ChainEvents, RpcConfig, RpcDeps, RpcServer, RpcServerHandle,
    test_utils::{MemoryChain, MockBased, MockForwarder, TEST_CHAIN_ID},
};
use jsonrpsee::{
    core::{
        ClientError,
        client::{ClientT, Subscription, SubscriptionClientT},
        params::ArrayParams,
    },
    http_client::{HttpClient, HttpClientBuilder},
    rpc_params,
    ws_client::{WsClient, WsClientBuilder},
};
use revm::state::AccountInfo;
use serde_json::{Value, json};

/// anvil's first dev key.
const DEV_KEY: B256 = b256!("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
const TOPIC: B256 = b256!("0x2222222222222222222222222222222222222222222222222222222222222222");

/// Runtime: `log1(0, 0, TOPIC); stop`. Init: return that runtime.
fn init_code() -> Bytes {
    let mut runtime = vec![0x7f];
    runtime.extend_from_slice(TOPIC.as_slice());
    runtime.extend_from_slice(&hex!("5f5fa100"));
    assert_eq!(runtime.len(), 37);
    // PUSH1 37 PUSH1 10 PUSH0 CODECOPY PUSH1 37 PUSH0 RETURN (10 bytes)
    let mut code = hex!("6025600a5f3960255ff3").to_vec();
    assert_eq!(code.len(), 10);
    code.extend_from_slice(&runtime);
    code.into()
}

fn signer() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&DEV_KEY).unwrap()
}

fn tx(nonce: u64, to: TxKind, input: Bytes) -> TxEnvelope {
    let typed: TypedTransaction = TxEip1559 {
        chain_id: TEST_CHAIN_ID,
        nonce,
        gas_limit: 200_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value: U256::ZERO,
        access_list: Default::default(),
        input,
    }
    .into();
    let sig = signer().sign_hash_sync(&typed.signature_hash()).unwrap();
    typed.into_signed(sig).into()
}

struct Fixture {
    chain: MemoryChain,
    based: Arc<MockBased>,
    contract: Address,
    nonce: u64,
    handle: RpcServerHandle,
    http: HttpClient,
}

impl Fixture {
    /// Mines one block calling the contract (one log); returns its hash.
    fn mine_call(&mut self) -> B256 {
        self.mine_call_with(Bytes::new())
    }

    /// [`Self::mine_call`] with calldata (the contract ignores it): another transaction, so
    /// another block than before an unwind.
    fn mine_call_with(&mut self, input: Bytes) -> B256 {
        let mined = self.chain.mine(vec![tx(self.nonce, TxKind::Call(self.contract), input)]);
        assert_eq!(mined.included.len(), 1, "{:?}", mined.skipped);
        self.nonce += 1;
        mined.header.hash
    }

    /// Unwinds to block `number` (every block holds one transaction of the dev account, so its
    /// next nonce is `number` again); returns the unwound hashes.
    fn unwind_to(&mut self, number: u64) -> Vec<B256> {
        self.nonce = number;
        self.chain.unwind_to(number)
    }
}

/// Block 1 deploys the logging contract; the chain publishes to the server's events.
async fn setup(config: impl FnOnce(&mut RpcConfig)) -> Fixture {
    let chain = MemoryChain::new([(
        signer().address(),
        AccountInfo { balance: U256::from(10u128.pow(21)), ..Default::default() },
    )]);
    let deployed = chain.mine(vec![tx(0, TxKind::Create, init_code())]);
    assert_eq!(deployed.included.len(), 1, "{:?}", deployed.skipped);
    let events = ChainEvents::default();
    chain.publish_to(events.clone());
    let mut cfg = RpcConfig::new(TEST_CHAIN_ID);
    config(&mut cfg);
    let based = Arc::new(MockBased::default());
    let deps = RpcDeps {
        chain: Arc::new(chain.clone()),
        based: based.clone(),
        forwarder: Arc::new(MockForwarder::default()),
        events,
        config: cfg,
    };
    let handle = RpcServer::start(SocketAddr::from(([127, 0, 0, 1], 0)), deps).await.unwrap();
    let http = HttpClientBuilder::default().build(handle.http_url()).unwrap();
    Fixture { chain, based, contract: signer().address().create(0), nonce: 1, handle, http }
}

async fn call(c: &HttpClient, method: &str, params: ArrayParams) -> Result<Value, (i32, String)> {
    c.request::<Value, _>(method, params).await.map_err(|e| match e {
        ClientError::Call(obj) => (obj.code(), obj.message().to_string()),
        other => panic!("transport error: {other}"),
    })
}

#[tokio::test]
async fn filters_follow_new_blocks_unwinds_and_pending_transactions() {
    let mut f = setup(|_| {}).await;
    let c = f.http.clone();
    let log_filter = call(
        &c,
        "eth_newFilter",
        rpc_params![json!({"fromBlock": "0x0", "address": f.contract, "topics": [TOPIC]})],
    )
    .await
    .unwrap();
    let other_filter =
        call(&c, "eth_newFilter", rpc_params![json!({"address": Address::repeat_byte(1)})])
            .await
            .unwrap();
    let block_filter = call(&c, "eth_newBlockFilter", rpc_params![]).await.unwrap();
    let pending_filter = call(&c, "eth_newPendingTransactionFilter", rpc_params![]).await.unwrap();
    // Ids are hex quantities, all different.
    for id in [&log_filter, &other_filter, &block_filter, &pending_filter] {
        assert!(id.as_str().unwrap().starts_with("0x"), "{id}");
    }
    assert_ne!(log_filter, block_filter);
    assert_eq!(
        call(&c, "eth_getFilterChanges", rpc_params![&log_filter]).await.unwrap(),
        json!([])
    );

    let b2 = f.mine_call();
    let b3 = f.mine_call();
    let changes = call(&c, "eth_getFilterChanges", rpc_params![&log_filter]).await.unwrap();
    let logs = changes.as_array().unwrap();
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[0]["blockHash"], json!(b2));
    assert_eq!(logs[1]["blockHash"], json!(b3));
    assert_eq!(logs[0]["removed"], json!(false));
    assert_eq!(logs[0]["topics"], json!([TOPIC]));
    assert_eq!(
        call(&c, "eth_getFilterChanges", rpc_params![&log_filter]).await.unwrap(),
        json!([])
    );
    assert_eq!(
        call(&c, "eth_getFilterChanges", rpc_params![&other_filter]).await.unwrap(),
        json!([])
    );
    assert_eq!(
        call(&c, "eth_getFilterChanges", rpc_params![&block_filter]).await.unwrap(),
        json!([b2, b3])
    );

    // An L2 unwind of block 3: its log again with `removed: true`; the replacement block's
    // hash reaches the block filter.
    assert_eq!(f.unwind_to(2), vec![b3]);
    let b3_new = f.mine_call_with(Bytes::from_static(b"reorg"));
    assert_ne!(b3_new, b3);
    let changes = call(&c, "eth_getFilterChanges", rpc_params![&log_filter]).await.unwrap();
    let logs = changes.as_array().unwrap();
    assert_eq!(logs.len(), 2);
    assert_eq!((&logs[0]["blockHash"], &logs[0]["removed"]), (&json!(b3), &json!(true)));
    assert_eq!((&logs[1]["blockHash"], &logs[1]["removed"]), (&json!(b3_new), &json!(false)));
    assert_eq!(
        call(&c, "eth_getFilterChanges", rpc_params![&block_filter]).await.unwrap(),
        json!([b3_new])
    );

    // eth_getFilterLogs: the filter's whole query (blocks 0..=latest) over the canonical chain.
    let all = call(&c, "eth_getFilterLogs", rpc_params![&log_filter]).await.unwrap();
    let hashes: Vec<&Value> = all.as_array().unwrap().iter().map(|l| &l["blockHash"]).collect();
    assert_eq!(hashes, vec![&json!(b2), &json!(b3_new)]);
    assert_eq!(
        call(&c, "eth_getFilterLogs", rpc_params![&block_filter]).await,
        Err((-32000, "filter not found".into()))
    );

    // A transaction accepted by eth_sendRawTransaction reaches the pending filter.
    let raw = Bytes::from(tx(f.nonce, TxKind::Call(f.contract), Bytes::new()).encoded_2718());
    let hash = call(&c, "eth_sendRawTransaction", rpc_params![raw]).await.unwrap();
    assert_eq!(
        call(&c, "eth_getFilterChanges", rpc_params![&pending_filter]).await.unwrap(),
        json!([hash])
    );
    // So does one newly appended to the pending block by based_preconfirm, once: the same
    // transaction sent again is already pending and is not reported twice.
    f.based.preconf.attach(f.chain.clone());
    let preconfirmed =
        Bytes::from(tx(f.nonce, TxKind::Call(f.contract), Bytes::from_static(b"p")).encoded_2718());
    for _ in 0..2 {
        let answer = call(&c, "based_preconfirm", rpc_params![&preconfirmed, "0x9"]).await.unwrap();
        assert_eq!(answer["pending"], json!(true));
    }
    assert_eq!(
        call(&c, "eth_getFilterChanges", rpc_params![&pending_filter]).await.unwrap(),
        json!([alloy_primitives::keccak256(&preconfirmed)])
    );

    assert_eq!(
        call(&c, "eth_uninstallFilter", rpc_params![&log_filter]).await.unwrap(),
        json!(true)
    );
    assert_eq!(
        call(&c, "eth_uninstallFilter", rpc_params![&log_filter]).await.unwrap(),
        json!(false)
    );
    assert_eq!(
        call(&c, "eth_getFilterChanges", rpc_params![&log_filter]).await,
        Err((-32000, "filter not found".into()))
    );
    assert_eq!(
        call(&c, "eth_getFilterChanges", rpc_params!["0x1234"]).await.unwrap_err().0,
        -32000
    );
    assert_eq!(call(&c, "eth_getFilterChanges", rpc_params!["nope"]).await.unwrap_err().0, -32602);
    f.handle.stop().await;
}

#[tokio::test]
async fn filter_limits_and_expiry() {
    let mut f = setup(|c| {
        c.max_filters = 2;
        c.max_logs = 2;
        c.filter_timeout = Duration::from_millis(300);
    })
    .await;
    let c = f.http.clone();
    let logs = call(&c, "eth_newFilter", rpc_params![json!({})]).await.unwrap();
    let blocks = call(&c, "eth_newBlockFilter", rpc_params![]).await.unwrap();
    let (code, message) =
        call(&c, "eth_newPendingTransactionFilter", rpc_params![]).await.unwrap_err();
    assert_eq!(code, -32005);
    assert!(message.contains("at most 2"), "{message}");
    // More logs since the last poll than one response may carry: refused, then continues.
    for _ in 0..3 {
        f.mine_call();
    }
    let (code, message) = call(&c, "eth_getFilterChanges", rpc_params![&logs]).await.unwrap_err();
    assert_eq!(code, -32005);
    assert!(message.contains("max results 2"), "{message}");
    assert_eq!(call(&c, "eth_getFilterChanges", rpc_params![&logs]).await.unwrap(), json!([]));
    // Range checks at install time.
    assert_eq!(call(&c, "eth_uninstallFilter", rpc_params![&blocks]).await.unwrap(), json!(true));
    let (code, _) =
        call(&c, "eth_newFilter", rpc_params![json!({"fromBlock": "0x5", "toBlock": "0x1"})])
            .await
            .unwrap_err();
    assert_eq!(code, -32602);
    // Idle filters expire; a polled one stays.
    let idle = call(&c, "eth_newBlockFilter", rpc_params![]).await.unwrap();
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(120)).await;
        call(&c, "eth_getFilterChanges", rpc_params![&logs]).await.unwrap();
    }
    assert_eq!(
        call(&c, "eth_getFilterChanges", rpc_params![&idle]).await,
        Err((-32000, "filter not found".into()))
    );
    // Its slot is free again.
    call(&c, "eth_newBlockFilter", rpc_params![]).await.unwrap();
    f.handle.stop().await;
}

async fn next(sub: &mut Subscription<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("notification in time")
        .expect("subscription open")
        .expect("valid notification")
}

#[tokio::test]
async fn websocket_subscriptions_see_logs_removed_after_an_unwind_and_new_heads() {
    let mut f = setup(|c| c.max_subscriptions_per_connection = 3).await;
    let ws: WsClient = WsClientBuilder::default().build(f.handle.ws_url()).await.unwrap();
    let mut logs: Subscription<Value> = ws
        .subscribe(
            "eth_subscribe",
            rpc_params!["logs", json!({"address": f.contract, "topics": [[TOPIC]]})],
            "eth_unsubscribe",
        )
        .await
        .unwrap();
    let mut heads: Subscription<Value> =
        ws.subscribe("eth_subscribe", rpc_params!["newHeads"], "eth_unsubscribe").await.unwrap();
    let mut pending: Subscription<Value> = ws
        .subscribe("eth_subscribe", rpc_params!["newPendingTransactions"], "eth_unsubscribe")
        .await
        .unwrap();
    // The per-connection limit.
    let err = ws
        .subscribe::<Value, _>("eth_subscribe", rpc_params!["newHeads"], "eth_unsubscribe")
        .await
        .unwrap_err();
    assert!(matches!(&err, ClientError::Call(e) if e.code() == -32006), "{err:?}");
    // Unsupported kinds and params are refused with -32602.
    let other = WsClientBuilder::default().build(f.handle.ws_url()).await.unwrap();
    for params in
        [rpc_params!["syncing"], rpc_params!["newPendingTransactions", true], rpc_params!["bogus"]]
    {
        let err = other
            .subscribe::<Value, _>("eth_subscribe", params, "eth_unsubscribe")
            .await
            .unwrap_err();
        assert!(matches!(&err, ClientError::Call(e) if e.code() == -32602), "{err:?}");
    }

    let b2 = f.mine_call();
    let log = next(&mut logs).await;
    assert_eq!((&log["blockHash"], &log["removed"]), (&json!(b2), &json!(false)));
    assert_eq!(log["address"], json!(f.contract));
    let head = next(&mut heads).await;
    assert_eq!((&head["hash"], &head["number"]), (&json!(b2), &json!("0x2")));

    // L1 reorg: block 2 is unwound and replaced.
    assert_eq!(f.unwind_to(1), vec![b2]);
    let b2_new = f.mine_call_with(Bytes::from_static(b"reorg"));
    assert_ne!(b2_new, b2);
    let removed = next(&mut logs).await;
    assert_eq!((&removed["blockHash"], &removed["removed"]), (&json!(b2), &json!(true)));
    assert_eq!(removed["transactionHash"], log["transactionHash"]);
    assert_eq!(removed["logIndex"], log["logIndex"]);
    let again = next(&mut logs).await;
    assert_eq!((&again["blockHash"], &again["removed"]), (&json!(b2_new), &json!(false)));
    let head = next(&mut heads).await;
    assert_eq!((&head["hash"], &head["number"]), (&json!(b2_new), &json!("0x2")));

    let raw = Bytes::from(tx(f.nonce, TxKind::Call(f.contract), Bytes::new()).encoded_2718());
    let hash = call(&f.http, "eth_sendRawTransaction", rpc_params![raw]).await.unwrap();
    assert_eq!(next(&mut pending).await, hash);

    // Unsubscribing frees a slot on the connection.
    heads.unsubscribe().await.unwrap();
    let _heads: Subscription<Value> =
        ws.subscribe("eth_subscribe", rpc_params!["newHeads"], "eth_unsubscribe").await.unwrap();
    // Over HTTP there are no subscriptions.
    assert!(call(&f.http, "eth_subscribe", rpc_params!["newHeads"]).await.is_err());
    f.handle.stop().await;
}
