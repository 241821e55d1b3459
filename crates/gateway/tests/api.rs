//! The gateway's JSON-RPC and REST faces on a real socket (port 0): the Commitments API methods
//! and routes, `eth_sendRawTransaction`, error codes and HTTP statuses, body limits.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, address};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use based_commitments::{CommitmentRequest, InclusionPayload, SignedCommitment};
use based_gateway::{
    CommitmentLog, EverySlot, Gateway, GatewayConfig, GatewayServer, Limits, NodeError,
    PendingNode, ServerSettings, service::FeedItem,
};
use based_lookahead::SlotClock;
use serde_json::{Value, json};
use std::{net::SocketAddr, sync::Arc};

const CHAIN: u64 = 4242;
const SLASHER: Address = address!("0x00000000000000000000000000000000005a5e00");

/// A node whose pending block takes every transaction (the API surface is under test here; the
/// admission rules are unit-tested in `service`).
struct Funded;
impl PendingNode for Funded {
    async fn preconfirm(
        &self,
        raw: Bytes,
        _slot: u64,
        _deadline: Option<u64>,
    ) -> Result<based_rpc::Preconfirmation, NodeError> {
        Ok(based_rpc::Preconfirmation {
            tx_hash: alloy_primitives::keccak256(&raw),
            pending: true,
            block_number: alloy_primitives::U64::from(1),
            transaction_index: alloy_primitives::U64::ZERO,
            gas_used: alloy_primitives::U64::from(21_000),
            status: true,
            session: alloy_primitives::U64::from(1),
        })
    }

    async fn drop_preconfirmed(&self, _tx_hash: B256) -> Result<bool, NodeError> {
        Ok(true)
    }

    async fn session(&self) -> Result<u64, NodeError> {
        Ok(1)
    }
}

fn user(i: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(i)).unwrap()
}

fn transfer(signer: &PrivateKeySigner, nonce: u64, value: u64) -> Bytes {
    let tx = TxEip1559 {
        chain_id: CHAIN,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(Address::repeat_byte(0xde)),
        value: U256::from(value),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let sig = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

async fn start(dir: &std::path::Path) -> (GatewayServer, Address, u64) {
    start_with(dir, Arc::new(EverySlot), None).await
}

async fn start_with(
    dir: &std::path::Path,
    schedule: Arc<dyn based_gateway::Schedule>,
    unpromised_url: Option<String>,
) -> (GatewayServer, Address, u64) {
    let (log, recovered) = CommitmentLog::open(dir.join("log")).unwrap();
    let key = PrivateKeySigner::from_bytes(&B256::repeat_byte(0xcc)).unwrap();
    let committer = key.address();
    let clock = SlotClock::new(0, 12, 32).unwrap();
    // Three slots ahead: at least 24 s away, beyond the default promise lead (18 s) even if a
    // slot boundary passes during the test.
    let slot = clock.slot_at(based_gateway::service::unix_now()) + 3;
    let config =
        GatewayConfig { chain_id: CHAIN, slasher: SLASHER, clock, limits: Limits::default() };
    let gateway = Gateway::new(config, key, committer, log, &recovered, Funded, schedule, None);
    let settings = ServerSettings {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        node_url: None,
        max_request_bytes: 64 * 1024,
        max_connections: 100,
        unpromised_url,
    };
    let server = GatewayServer::start(Arc::new(gateway), settings).await.unwrap();
    (server, committer, slot)
}

async fn rpc(url: &str, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    reqwest::Client::new().post(url).json(&body).send().await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_rpc_and_rest_serve_the_commitments_api() {
    let dir = tempfile::tempdir().unwrap();
    let (server, committer, slot) = start(dir.path()).await;
    let url = server.url();
    let http = reqwest::Client::new();

    // JSON-RPC commitmentRequest: a signed commitment from the committer.
    let request =
        InclusionPayload { slot, signed_tx: transfer(&user(1), 0, 1) }.into_request(SLASHER);
    let resp = rpc(&url, "commitmentRequest", json!([request])).await;
    let signed: SignedCommitment = serde_json::from_value(resp["result"].clone()).unwrap();
    signed.verify(committer).unwrap();
    assert_eq!(signed.commitment.request_hash, request.request_hash());

    // commitmentResult by request hash, over JSON-RPC and both REST paths.
    let resp = rpc(&url, "commitmentResult", json!([request.request_hash()])).await;
    assert_eq!(serde_json::from_value::<SignedCommitment>(resp["result"].clone()).unwrap(), signed);
    for path in ["commitment", "commitmentResult"] {
        let r = http
            .get(format!("{url}/commitments/v0/gateway/{path}/{}", request.request_hash()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<SignedCommitment>().await.unwrap(), signed);
    }

    // REST POST of a new request (both route names), slots, fee.
    for (i, path) in ["commitment", "commitmentRequest"].iter().enumerate() {
        let req: CommitmentRequest =
            InclusionPayload { slot, signed_tx: transfer(&user(2), i as u64, 1) }
                .into_request(SLASHER);
        let r = http
            .post(format!("{url}/commitments/v0/gateway/{path}"))
            .json(&req)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        r.json::<SignedCommitment>().await.unwrap().verify(committer).unwrap();
    }
    let slots: Value = http
        .get(format!("{url}/commitments/v0/gateway/slots"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let own: Vec<u64> =
        slots["slots"].as_array().unwrap().iter().map(|s| s["slot"].as_u64().unwrap()).collect();
    assert!(own.contains(&slot), "{slots}");
    assert_eq!(
        slots["slots"][0]["offerings"][0],
        json!({"chain_id": CHAIN, "commitment_types": [1]})
    );
    let fee: Value = http
        .post(format!("{url}/commitments/v0/gateway/fee"))
        .json(&request)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fee["commitment_type"], json!(1));

    // eth_sendRawTransaction answers the hash; the commitment is retrievable by it.
    let raw = transfer(&user(3), 0, 1);
    let resp = rpc(&url, "eth_sendRawTransaction", json!([raw])).await;
    let hash: B256 = serde_json::from_value(resp["result"].clone()).unwrap();
    let resp = rpc(&url, "commitmentResult", json!([hash])).await;
    assert!(resp["result"]["signature"].is_string(), "{resp}");
    assert_eq!(rpc(&url, "eth_chainId", json!([])).await["result"], json!("0x1092"));

    // Errors: codes over JSON-RPC, statuses over REST, and no commitment.
    let conflict =
        InclusionPayload { slot, signed_tx: transfer(&user(1), 0, 2) }.into_request(SLASHER);
    let resp = rpc(&url, "commitmentRequest", json!([conflict])).await;
    assert_eq!(resp["error"]["code"], json!(-32015), "{resp}");
    let r = http
        .post(format!("{url}/commitments/v0/gateway/commitment"))
        .json(&conflict)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let past = InclusionPayload { slot: slot - 2, signed_tx: transfer(&user(4), 0, 1) }
        .into_request(SLASHER);
    assert_eq!(rpc(&url, "commitmentRequest", json!([past])).await["error"]["code"], json!(-32010));
    let r = http
        .post(format!("{url}/commitments/v0/gateway/commitment"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = http
        .get(format!("{url}/commitments/v0/gateway/commitment/{}", B256::ZERO))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let resp = rpc(&url, "commitmentRequest", json!([{"commitment_type": 1}])).await;
    assert_eq!(resp["error"]["code"], json!(-32602), "{resp}");
    let big = "a".repeat(70 * 1024);
    let r = http
        .post(format!("{url}/commitments/v0/gateway/commitment"))
        .header("content-type", "application/json")
        .body(format!("\"{big}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    server.stop().await;
}

/// The commitment feed over JSON-RPC (`commitments_since`) and REST
/// (`GET .../commitments?from=&limit=`): issue order, the cursor, the limit, bad parameters, and
/// the same sequence after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commitment_feed_over_json_rpc_and_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (server, committer, slot) = start(dir.path()).await;
    let url = server.url();
    let http = reqwest::Client::new();
    let mut issued = Vec::new();
    for nonce in 0..3 {
        let request = InclusionPayload { slot, signed_tx: transfer(&user(1), nonce, 1) }
            .into_request(SLASHER);
        let resp = rpc(&url, "commitmentRequest", json!([request])).await;
        issued.push(serde_json::from_value::<SignedCommitment>(resp["result"].clone()).unwrap());
    }
    let page = |v: &Value| -> (Vec<SignedCommitment>, u64) {
        (serde_json::from_value(v["commitments"].clone()).unwrap(), v["next"].as_u64().unwrap())
    };
    let resp = rpc(&url, "commitments_since", json!([0])).await;
    assert_eq!(page(&resp["result"]), (issued.clone(), 3));
    for c in &issued {
        c.verify(committer).unwrap();
    }
    let resp = rpc(&url, "commitments_since", json!([1, 1])).await;
    assert_eq!(page(&resp["result"]), (issued[1..2].to_vec(), 2));
    let resp = rpc(&url, "commitments_since", json!(["0x2", "0x5"])).await;
    assert_eq!(page(&resp["result"]), (issued[2..].to_vec(), 3));
    let resp = rpc(&url, "commitments_since", json!([])).await;
    assert_eq!(page(&resp["result"]).1, 3, "no parameters: from 0");
    let resp = rpc(&url, "commitments_since", json!(["nope"])).await;
    assert_eq!(resp["error"]["code"], -32602, "{resp}");

    let feed = format!("{url}/commitments/v0/gateway/commitments");
    let r = http.get(format!("{feed}?from=1&limit=2")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(page(&r.json::<Value>().await.unwrap()), (issued[1..].to_vec(), 3));
    let r = http.get(&feed).send().await.unwrap();
    assert_eq!(page(&r.json::<Value>().await.unwrap()), (issued.clone(), 3));
    let r = http.get(format!("{feed}?from=7")).send().await.unwrap();
    assert_eq!(page(&r.json::<Value>().await.unwrap()), (vec![], 3));
    let r = http.get(format!("{feed}?from=-1")).send().await.unwrap();
    assert_eq!(r.status(), 400);

    // Over WebSocket: `commitments_subscribe(from)` sends the backlog from `from`, then each new
    // promise as it becomes durable; without `from`, only new ones. Items carry their number.
    use jsonrpsee::core::client::{Subscription, SubscriptionClientT};
    let ws = jsonrpsee::ws_client::WsClientBuilder::default()
        .build(format!("ws://{}", server.addr()))
        .await
        .unwrap();
    let mut from_one: Subscription<FeedItem> = ws
        .subscribe("commitments_subscribe", jsonrpsee::rpc_params![1], "commitments_unsubscribe")
        .await
        .unwrap();
    let mut only_new: Subscription<FeedItem> = ws
        .subscribe("commitments_subscribe", jsonrpsee::rpc_params![], "commitments_unsubscribe")
        .await
        .unwrap();
    for (number, want) in [(1, &issued[1]), (2, &issued[2])] {
        let item = next_item(&mut from_one).await;
        assert_eq!((item.number, &item.commitment), (number, want));
    }
    let request =
        InclusionPayload { slot, signed_tx: transfer(&user(1), 3, 1) }.into_request(SLASHER);
    let resp = rpc(&url, "commitmentRequest", json!([request])).await;
    let live: SignedCommitment = serde_json::from_value(resp["result"].clone()).unwrap();
    for sub in [&mut from_one, &mut only_new] {
        let item = next_item(sub).await;
        assert_eq!((item.number, &item.commitment), (3, &live));
    }
    issued.push(live);
    let bad: Result<Subscription<FeedItem>, _> = ws
        .subscribe("commitments_subscribe", jsonrpsee::rpc_params!["x"], "commitments_unsubscribe")
        .await;
    assert!(bad.is_err(), "a bad `from` is refused");
    drop((from_one, only_new, ws));
    server.stop().await;
    // The stopped server's connections release the gateway (and the log's lock) shortly after.
    for _ in 0..500 {
        match CommitmentLog::open(dir.path().join("log")) {
            Ok(_) => break,
            Err(based_gateway::LogError::Locked(_)) => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }

    // A restarted gateway serves the same sequence and continues it.
    let (server, _, slot) = start(dir.path()).await;
    let url = server.url();
    let request =
        InclusionPayload { slot, signed_tx: transfer(&user(1), 4, 1) }.into_request(SLASHER);
    let resp = rpc(&url, "commitmentRequest", json!([request])).await;
    issued.push(serde_json::from_value(resp["result"].clone()).unwrap());
    let resp = rpc(&url, "commitments_since", json!([0])).await;
    assert_eq!(page(&resp["result"]), (issued.clone(), 5));
    let resp = rpc(&url, "commitments_since", json!([4])).await;
    assert_eq!(page(&resp["result"]), (issued[4..].to_vec(), 5));
    server.stop().await;
}

/// The next item of a feed subscription (at most 10 s).
async fn next_item(
    sub: &mut jsonrpsee::core::client::Subscription<based_gateway::service::FeedItem>,
) -> based_gateway::service::FeedItem {
    tokio::time::timeout(std::time::Duration::from_secs(10), sub.next())
        .await
        .expect("a feed item in time")
        .expect("subscription open")
        .expect("a feed item")
}

/// A schedule without a single slot of the gateway's.
struct NoSlots;
impl based_gateway::Schedule for NoSlots {
    fn is_preconfer(&self, _slot: u64) -> bool {
        false
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_without_a_slot_to_promise_for_goes_to_the_proposer_unpromised() {
    // A stub proposer that records what it is sent.
    let received = Arc::new(std::sync::Mutex::new(Vec::<Bytes>::new()));
    let mut module = jsonrpsee::RpcModule::new(received.clone());
    module
        .register_method("eth_sendRawTransaction", |params, seen, _| {
            let raw: Bytes = params.one()?;
            seen.lock().unwrap().push(raw.clone());
            Ok::<_, jsonrpsee::types::ErrorObjectOwned>(alloy_primitives::keccak256(&raw))
        })
        .unwrap();
    let stub = jsonrpsee::server::Server::builder().build("127.0.0.1:0").await.unwrap();
    let stub_url = format!("http://{}", stub.local_addr().unwrap());
    let stub = stub.start(module);

    let dir = tempfile::tempdir().unwrap();
    let (server, _, _) = start_with(dir.path(), Arc::new(NoSlots), Some(stub_url)).await;
    let url = server.url();
    let raw = transfer(&user(1), 0, 1);
    let resp = rpc(&url, "eth_sendRawTransaction", json!([raw])).await;
    let hash = alloy_primitives::keccak256(&raw);
    assert_eq!(resp["result"], json!(hash), "{resp}");
    assert_eq!(*received.lock().unwrap(), vec![raw.clone()], "handed to the proposer as is");
    // No promise was made for it.
    let resp = rpc(&url, "commitmentResult", json!([hash])).await;
    assert_eq!(resp["error"]["code"], json!(-32001), "{resp}");
    // An explicit commitmentRequest still gets the refusal: it asks for a promise.
    let slot = SlotClock::new(0, 12, 32).unwrap().slot_at(based_gateway::service::unix_now()) + 3;
    let request = InclusionPayload { slot, signed_tx: raw.clone() }.into_request(SLASHER);
    let resp = rpc(&url, "commitmentRequest", json!([request])).await;
    assert_eq!(resp["error"]["code"], json!(-32011), "{resp}");
    server.stop().await;

    // Without a proposer to hand it to, the wallet path refuses as before.
    let dir = tempfile::tempdir().unwrap();
    let (server, _, _) = start_with(dir.path(), Arc::new(NoSlots), None).await;
    let resp = rpc(&server.url(), "eth_sendRawTransaction", json!([raw])).await;
    assert_eq!(resp["error"]["code"], json!(-32011), "{resp}");
    server.stop().await;
    let _ = stub.stop();
}
