//! The proposer crosses the Osaka (Fusaka) fork by itself: behind a proxy that refuses EIP-4844
//! sidecars as execution clients' pools do after Osaka, its first proposal is refused, sent again
//! with EIP-7594 cell proofs, lands on the L1 (anvil, Osaka rules), and every later proposal goes
//! out in that format at once.

use alloy_consensus::{EthereumTxEnvelope, SignableTransaction, TxEip1559, TxEip4844WithSidecar};
use alloy_eips::{
    eip2718::Decodable2718, eip2718::Encodable2718, eip7594::BlobTransactionSidecarVariant,
};
use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_rpc_types_eth::{Filter, TransactionRequest};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use based_proposer::{
    ProposerConfig,
    sidecar::{SidecarFormat, SidecarMode},
};
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use std::{
    convert::Infallible,
    sync::{Arc, Mutex},
    time::Duration,
};

const L2_CHAIN_ID: u64 = 167_001;

/// Sidecar formats of the blob transactions the proxy saw, and whether it let each through.
type Seen = Arc<Mutex<Vec<(SidecarFormat, bool)>>>;

/// A JSON-RPC proxy to `upstream` that answers an `eth_sendRawTransaction` carrying an EIP-4844
/// sidecar with an error (a post-Osaka pool) and forwards everything else.
async fn refusing_proxy(upstream: String, seen: Seen) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let http = reqwest::Client::new();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (http, upstream, seen) = (http.clone(), upstream.clone(), seen.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let (http, upstream, seen) = (http.clone(), upstream.clone(), seen.clone());
                    async move {
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let call: serde_json::Value =
                            serde_json::from_slice(&body).unwrap_or_default();
                        if call["method"] == "eth_sendRawTransaction" {
                            let raw: Bytes =
                                serde_json::from_value(call["params"][0].clone()).unwrap();
                            type Pooled = EthereumTxEnvelope<
                                TxEip4844WithSidecar<BlobTransactionSidecarVariant>,
                            >;
                            if let Ok(Pooled::Eip4844(tx)) = Pooled::decode_2718(&mut raw.as_ref())
                            {
                                let format = match tx.tx().sidecar {
                                    BlobTransactionSidecarVariant::Eip4844(_) => {
                                        SidecarFormat::Eip4844
                                    }
                                    BlobTransactionSidecarVariant::Eip7594(_) => {
                                        SidecarFormat::Eip7594
                                    }
                                };
                                let pass = format == SidecarFormat::Eip7594;
                                seen.lock().unwrap().push((format, pass));
                                if !pass {
                                    let refusal = serde_json::json!({
                                        "jsonrpc": "2.0", "id": call["id"],
                                        "error": {"code": -32000, "message": "unexpected blob sidecar version 0"},
                                    });
                                    return Ok::<_, Infallible>(Response::new(Full::new(
                                        hyper::body::Bytes::from(refusal.to_string()),
                                    )));
                                }
                            }
                        }
                        let answer = http
                            .post(&upstream)
                            .header("content-type", "application/json")
                            .body(body)
                            .send()
                            .await
                            .unwrap()
                            .bytes()
                            .await
                            .unwrap();
                        let mut response = Response::new(Full::new(answer));
                        response.headers_mut().insert(
                            hyper::header::CONTENT_TYPE,
                            hyper::header::HeaderValue::from_static("application/json"),
                        );
                        Ok(response)
                    }
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    format!("http://{addr}")
}

/// Waits until the Inbox has `n` proposals (its event logs).
async fn wait_for_proposals(l1: &impl Provider, inbox: Address, seen: &Seen, n: usize) {
    let filter = Filter::new().address(inbox).from_block(0);
    for _ in 0..300 {
        if l1.get_logs(&filter).await.unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no proposal {n} on L1; the proxy saw {:?}", seen.lock().unwrap());
}

/// A signed L2 transfer from `key` with `nonce`, in its network encoding.
fn transfer(key: &PrivateKeySigner, nonce: u64) -> Bytes {
    let tx = TxEip1559 {
        chain_id: L2_CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(Address::repeat_byte(0x76)),
        value: U256::from(1),
        input: Bytes::new(),
        access_list: Default::default(),
    };
    let signature = key.sign_hash_sync(&tx.signature_hash()).unwrap();
    let signed: alloy_consensus::TxEnvelope = tx.into_signed(signature).into();
    Bytes::from(signed.encoded_2718())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_mode_switches_to_cell_proofs_when_the_l1_refuses_4844_sidecars() {
    let anvil = based_anvil::Anvil::spawn(&based_anvil::AnvilOptions {
        hardfork: "osaka".into(),
        block_time: Some(1),
        ..Default::default()
    })
    .unwrap();
    let deployer: PrivateKeySigner = based_anvil::DEV_KEYS[0].parse().unwrap();
    let l1 = ProviderBuilder::new()
        .wallet(EthereumWallet::from(deployer))
        .connect_http(anvil.endpoint().parse().unwrap());
    let deploy =
        TransactionRequest::default().with_deploy_code(based_contracts::inbox_creation_code());
    let inbox = l1
        .send_transaction(deploy)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap()
        .contract_address
        .unwrap();

    let seen: Seen = Arc::default();
    let proxy = refusing_proxy(anvil.endpoint(), seen.clone()).await;
    let proposer = based_proposer::spawn(ProposerConfig {
        l1_rpc_url: proxy,
        l2_rpc_url: None,
        inbox,
        signer: based_anvil::DEV_KEYS[9].parse().unwrap(),
        l2_chain_id: L2_CHAIN_ID,
        fee_recipient: Address::repeat_byte(0xfe),
        default_gas_limit: 30_000_000,
        poll_interval: Duration::from_millis(100),
        rpc_addr: "127.0.0.1:0".parse().unwrap(),
        pool_capacity: 100,
        max_blobs: 6,
        beacon_urls: Vec::new(),
        blob_sidecar: SidecarMode::Auto,
    })
    .await
    .unwrap();
    let rpc = format!("http://{}", proposer.rpc_addr());
    let user: PrivateKeySigner = based_anvil::DEV_KEYS[3].parse().unwrap();
    let submit = |nonce: u64| {
        let (rpc, raw) = (rpc.clone(), transfer(&user, nonce));
        async move {
            let answer: serde_json::Value = reqwest::Client::new()
                .post(rpc)
                .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": [raw]}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert!(answer["result"].is_string(), "{answer}");
        }
    };
    submit(0).await;
    wait_for_proposals(&l1, inbox, &seen, 1).await;
    // Refused as EIP-4844, sent again with cell proofs, landed.
    use SidecarFormat::{Eip4844, Eip7594};
    assert_eq!(seen.lock().unwrap().clone(), vec![(Eip4844, false), (Eip7594, true)]);
    // The next proposal goes out with cell proofs at once.
    submit(1).await;
    wait_for_proposals(&l1, inbox, &seen, 2).await;
    assert_eq!(seen.lock().unwrap().last(), Some(&(Eip7594, true)));
    assert_eq!(seen.lock().unwrap().len(), 3);
    proposer.stop().await;
}
