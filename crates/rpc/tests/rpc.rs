//! End-to-end tests: a real server on 127.0.0.1:0 over an in-memory chain, queried with an alloy
//! provider and with a raw JSON-RPC client (exact field names, encodings and error codes).

use std::{net::SocketAddr, sync::Arc};

use alloy_consensus::{
    SignableTransaction, TxEip1559, TxEip4844, TxEnvelope, TxLegacy, TypedTransaction,
};
use alloy_eips::{BlockId, BlockNumberOrTag, eip2718::Encodable2718};
use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, B256, Bytes, TxKind, U64, U256, address, b256, hex};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_rpc_types_eth::{Filter, TransactionRequest};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{Revert, SolError};
use based_rpc::{
    BasedSyncStatus, ForwardError, L1Origin, RpcConfig, RpcDeps, RpcServer, RpcServerHandle,
    test_utils::{MemoryChain, MockBased, MockForwarder, TEST_CHAIN_ID},
};
use jsonrpsee::{
    core::{ClientError, client::ClientT, params::ArrayParams},
    http_client::{HttpClient, HttpClientBuilder},
    rpc_params,
};
use revm::state::AccountInfo;
use serde_json::{Value, json};

/// anvil's first dev key.
const DEV_KEY: B256 = b256!("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
const RECIPIENT: Address = address!("0x00000000000000000000000000000000000000b0");
const LOG_TOPIC: B256 = b256!("0x1111111111111111111111111111111111111111111111111111111111111111");

/// Runtime: empty calldata => `mstore(0, 42); log1(0, 32, LOG_TOPIC); return(0, 32)`;
/// otherwise revert with the calldata as revert data.
fn runtime_code() -> Vec<u8> {
    let mut code = hex!("3615600c57365f5f37365ffd").to_vec();
    code.extend_from_slice(&hex!("5b602a5f527f"));
    code.extend_from_slice(LOG_TOPIC.as_slice());
    code.extend_from_slice(&hex!("60205fa160205ff3"));
    assert_eq!(code.len(), 58);
    code
}

/// Init: `sstore(0, 42)`, then return the runtime.
fn init_code() -> Bytes {
    let mut code = hex!("602a5f55603a600e5f39603a5ff3").to_vec();
    assert_eq!(code.len(), 14);
    code.extend_from_slice(&runtime_code());
    code.into()
}

fn sign(tx: impl Into<TypedTransaction>) -> TxEnvelope {
    let signer = PrivateKeySigner::from_bytes(&DEV_KEY).unwrap();
    let typed: TypedTransaction = tx.into();
    let sig = signer.sign_hash_sync(&typed.signature_hash()).unwrap();
    typed.into_signed(sig).into()
}

fn eip1559(nonce: u64, to: TxKind, value: u64, input: Bytes) -> TxEnvelope {
    sign(TxEip1559 {
        chain_id: TEST_CHAIN_ID,
        nonce,
        gas_limit: 500_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value: U256::from(value),
        access_list: Default::default(),
        input,
    })
}

fn dev() -> Address {
    PrivateKeySigner::from_bytes(&DEV_KEY).unwrap().address()
}

struct Fixture {
    chain: MemoryChain,
    based: Arc<MockBased>,
    forwarder: Arc<MockForwarder>,
    handle: RpcServerHandle,
    contract: Address,
    deploy_hash: B256,
    call_hash: B256,
    legacy_hash: B256,
    client: HttpClient,
}

/// Block 1: deploy + transfer; block 2: contract call (log) + legacy transfer; block 3: call.
async fn setup(config: impl FnOnce(&mut RpcConfig)) -> Fixture {
    let chain = MemoryChain::new([(
        dev(),
        AccountInfo { balance: U256::from(10u128.pow(21)), ..Default::default() },
    )]);
    let deploy = eip1559(0, TxKind::Create, 0, init_code());
    let transfer = eip1559(1, TxKind::Call(RECIPIENT), 1_000, Bytes::new());
    let b1 = chain.mine(vec![deploy.clone(), transfer]);
    assert!(b1.skipped.is_empty(), "{:?}", b1.skipped);
    let contract = dev().create(0);

    let call = eip1559(2, TxKind::Call(contract), 0, Bytes::new());
    let legacy = sign(TxLegacy {
        chain_id: Some(TEST_CHAIN_ID),
        nonce: 3,
        gas_price: 5_000_000_000,
        gas_limit: 21_000,
        to: TxKind::Call(RECIPIENT),
        value: U256::from(7),
        input: Bytes::new(),
    });
    let b2 = chain.mine(vec![call.clone(), legacy.clone()]);
    assert!(b2.skipped.is_empty(), "{:?}", b2.skipped);
    let b3 = chain.mine(vec![eip1559(4, TxKind::Call(contract), 0, Bytes::new())]);
    assert_eq!(b3.included.len(), 1);

    let based = Arc::new(MockBased::default());
    *based.status.lock().unwrap() = BasedSyncStatus {
        l1_head: U64::from(100),
        l1_processed: U64::from(99),
        l2_head: U64::from(3),
        l2_safe: U64::from(1),
        l2_finalized: U64::from(0),
        ..Default::default()
    };
    let forwarder = Arc::new(MockForwarder::default());
    let mut cfg = RpcConfig::new(TEST_CHAIN_ID);
    config(&mut cfg);
    let deps = RpcDeps {
        chain: Arc::new(chain.clone()),
        based: based.clone(),
        forwarder: forwarder.clone(),
        events: Default::default(),
        config: cfg,
    };
    let handle = RpcServer::start(SocketAddr::from(([127, 0, 0, 1], 0)), deps).await.unwrap();
    assert_ne!(handle.local_addr().port(), 0);
    let client = HttpClientBuilder::default().build(handle.http_url()).unwrap();
    Fixture {
        chain,
        based,
        forwarder,
        handle,
        contract,
        deploy_hash: *deploy.tx_hash(),
        call_hash: *call.tx_hash(),
        legacy_hash: *legacy.tx_hash(),
        client,
    }
}

async fn raw(
    client: &HttpClient,
    method: &str,
    params: ArrayParams,
) -> Result<Value, (i32, String, Option<Value>)> {
    client.request::<Value, _>(method, params).await.map_err(|e| match e {
        ClientError::Call(obj) => (
            obj.code(),
            obj.message().to_string(),
            obj.data().map(|d| serde_json::from_str(d.get()).unwrap()),
        ),
        other => panic!("transport error: {other}"),
    })
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn alloy_provider_reads_chain() {
    let f = setup(|_| {}).await;
    let provider = ProviderBuilder::new().connect(&f.handle.http_url()).await.unwrap();

    assert_eq!(provider.get_chain_id().await.unwrap(), TEST_CHAIN_ID);
    assert_eq!(provider.get_block_number().await.unwrap(), 3);
    assert_eq!(provider.get_balance(RECIPIENT).await.unwrap(), U256::from(1_007));
    assert_eq!(provider.get_transaction_count(dev()).await.unwrap(), 5);
    assert_eq!(
        provider.get_transaction_count(dev()).block_id(BlockId::number(1)).await.unwrap(),
        2
    );
    assert_eq!(provider.get_code_at(f.contract).await.unwrap(), Bytes::from(runtime_code()));
    assert_eq!(provider.get_code_at(RECIPIENT).await.unwrap(), Bytes::new());
    assert_eq!(provider.get_storage_at(f.contract, U256::ZERO).await.unwrap(), U256::from(42));

    // Blocks, full and hashes.
    let block =
        provider.get_block_by_number(BlockNumberOrTag::Number(2)).full().await.unwrap().unwrap();
    assert_eq!(block.header.number, 2);
    assert_eq!(block.header.hash, f.chain.head().header.parent_hash);
    let txs = block.transactions.as_transactions().unwrap();
    assert_eq!(txs.len(), 2);
    assert_eq!(*txs[0].inner.tx_hash(), f.call_hash);
    assert_eq!(txs[1].inner.signer(), dev());
    let by_hash = provider.get_block_by_hash(block.header.hash).await.unwrap().unwrap();
    assert_eq!(by_hash.transactions.hashes().collect::<Vec<_>>(), vec![f.call_hash, f.legacy_hash]);

    // Tags: safe = 1 and finalized = 0 from the backend, earliest = 0, pending = latest.
    for (tag, want) in [
        (BlockNumberOrTag::Safe, 1),
        (BlockNumberOrTag::Finalized, 0),
        (BlockNumberOrTag::Earliest, 0),
        (BlockNumberOrTag::Pending, 3),
        (BlockNumberOrTag::Latest, 3),
    ] {
        let b = provider.get_block_by_number(tag).await.unwrap().unwrap();
        assert_eq!(b.header.number, want, "{tag:?}");
    }
    assert!(provider.get_block_by_number(BlockNumberOrTag::Number(4)).await.unwrap().is_none());

    // Transactions and receipts.
    let tx = provider.get_transaction_by_hash(f.legacy_hash).await.unwrap().unwrap();
    assert_eq!((tx.block_number, tx.transaction_index), (Some(2), Some(1)));
    let deploy = provider.get_transaction_receipt(f.deploy_hash).await.unwrap().unwrap();
    assert!(deploy.inner.status());
    assert_eq!(deploy.contract_address, Some(f.contract));
    assert_eq!(deploy.block_number, Some(1));
    let call = provider.get_transaction_receipt(f.call_hash).await.unwrap().unwrap();
    assert_eq!(call.contract_address, None);
    assert_eq!(call.to, Some(f.contract));
    let logs = call.inner.logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].topics(), &[LOG_TOPIC]);
    assert_eq!(logs[0].log_index, Some(0));
    assert_eq!(logs[0].transaction_hash, Some(f.call_hash));
    let legacy = provider.get_transaction_receipt(f.legacy_hash).await.unwrap().unwrap();
    assert_eq!(legacy.gas_used, 21_000);
    assert_eq!(legacy.inner.cumulative_gas_used(), call.gas_used + 21_000);
    assert_eq!(legacy.effective_gas_price, 5_000_000_000);
    assert!(provider.get_transaction_receipt(B256::ZERO).await.unwrap().is_none());
    let receipts = provider.get_block_receipts(BlockId::number(2)).await.unwrap().unwrap();
    assert_eq!(receipts.len(), 2);

    // Logs: by address, by topic, by block hash; none for another topic.
    let all = provider.get_logs(&Filter::new().from_block(0).address(f.contract)).await.unwrap();
    assert_eq!(all.iter().map(|l| l.block_number.unwrap()).collect::<Vec<_>>(), vec![2, 3]);
    let at_hash = provider
        .get_logs(&Filter::new().at_block_hash(block.header.hash).event_signature(LOG_TOPIC))
        .await
        .unwrap();
    assert_eq!(at_hash.len(), 1);
    let none =
        provider.get_logs(&Filter::new().from_block(0).event_signature(B256::ZERO)).await.unwrap();
    assert!(none.is_empty());

    // eth_call / eth_estimateGas.
    let req = TransactionRequest::default().with_to(f.contract);
    let out = provider.call(req.clone()).await.unwrap();
    assert_eq!(out, Bytes::from(U256::from(42).to_be_bytes::<32>().to_vec()));
    let gas = provider.estimate_gas(req.clone()).await.unwrap();
    let used = call.gas_used;
    assert_eq!(gas, used, "estimate must equal the gas the same call used on chain");
    let transfer_gas = provider
        .estimate_gas(
            TransactionRequest::default()
                .with_from(dev())
                .with_to(RECIPIENT)
                .with_value(U256::from(1)),
        )
        .await
        .unwrap();
    assert_eq!(transfer_gas, 21_000);
    let revert_data = Bytes::from(Revert::from("nope").abi_encode());
    let err = provider.call(req.clone().with_input(revert_data.clone())).await.unwrap_err();
    let payload = err.as_error_resp().expect("json-rpc error");
    assert_eq!(payload.code, 3);
    assert_eq!(payload.message, "execution reverted: nope");
    assert_eq!(payload.as_revert_data(), Some(revert_data.clone()));
    let err = provider.estimate_gas(req.with_input(revert_data.clone())).await.unwrap_err();
    assert_eq!(err.as_error_resp().unwrap().as_revert_data(), Some(revert_data));

    // Fees.
    let head_base_fee = f.chain.head().header.base_fee_per_gas.unwrap() as u128;
    let history = provider.get_fee_history(2, BlockNumberOrTag::Latest, &[50.0]).await.unwrap();
    assert_eq!(history.oldest_block, 2);
    assert_eq!(history.base_fee_per_gas.len(), 3);
    assert_eq!(history.base_fee_per_gas[1], head_base_fee);
    assert_eq!(history.reward.as_ref().unwrap().len(), 2);
    // block 3's only tx pays its full 1 gwei tip (fee cap 10 gwei > base fee + tip).
    assert_eq!(history.reward.unwrap()[1], vec![1_000_000_000]);
    let next = history.base_fee_per_gas[2];
    assert_eq!(provider.get_gas_price().await.unwrap(), next + 1_000_000);
    assert_eq!(provider.get_max_priority_fee_per_gas().await.unwrap(), 1_000_000);
    let fees = provider.estimate_eip1559_fees().await.unwrap();
    assert!(fees.max_fee_per_gas >= next);

    // eth_sendRawTransaction reaches the forwarder, hash returned.
    let tx = eip1559(5, TxKind::Call(RECIPIENT), 1, Bytes::new());
    let raw_tx = tx.encoded_2718();
    let pending = provider.send_raw_transaction(&raw_tx).await.unwrap();
    assert_eq!(*pending.tx_hash(), *tx.tx_hash());
    assert_eq!(f.forwarder.received.lock().unwrap().as_slice(), &[Bytes::from(raw_tx)]);

    // The same port serves WebSocket.
    let ws = ProviderBuilder::new().connect(&f.handle.ws_url()).await.unwrap();
    assert_eq!(ws.get_block_number().await.unwrap(), 3);
    assert_eq!(ws.get_chain_id().await.unwrap(), TEST_CHAIN_ID);

    f.handle.stop().await;
}

#[tokio::test]
async fn wire_format_matches_execution_apis() {
    let f = setup(|_| {}).await;
    let c = &f.client;

    assert_eq!(raw(c, "eth_chainId", rpc_params![]).await.unwrap(), json!("0x1092"));
    assert_eq!(raw(c, "net_version", rpc_params![]).await.unwrap(), json!("4242"));
    assert_eq!(raw(c, "eth_blockNumber", rpc_params![]).await.unwrap(), json!("0x3"));
    assert_eq!(
        raw(c, "web3_clientVersion", rpc_params![]).await.unwrap(),
        json!(format!("based/v{}", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(raw(c, "eth_syncing", rpc_params![]).await.unwrap(), json!(false));
    *f.based.syncing.lock().unwrap() = true;
    let syncing = raw(c, "eth_syncing", rpc_params![]).await.unwrap();
    assert_eq!(syncing["currentBlock"], json!("0x3"));

    let block = raw(c, "eth_getBlockByNumber", rpc_params!["0x1", false]).await.unwrap();
    assert_eq!(
        keys(&block),
        [
            "baseFeePerGas",
            "blobGasUsed",
            "difficulty",
            "excessBlobGas",
            "extraData",
            "gasLimit",
            "gasUsed",
            "hash",
            "logsBloom",
            "miner",
            "mixHash",
            "nonce",
            "number",
            "parentBeaconBlockRoot",
            "parentHash",
            "receiptsRoot",
            "requestsHash",
            "sha3Uncles",
            "size",
            "stateRoot",
            "timestamp",
            "transactions",
            "transactionsRoot",
            "uncles",
            "withdrawals",
            "withdrawalsRoot",
        ]
    );
    assert_eq!(block["number"], json!("0x1"));
    assert_eq!(block["blobGasUsed"], json!("0x0"));
    assert_eq!(block["difficulty"], json!("0x0"));
    assert_eq!(block["nonce"], json!("0x0000000000000000"));
    assert_eq!(block["uncles"], json!([]));
    assert_eq!(block["withdrawals"], json!([]));
    assert_eq!(block["transactions"][0], json!(f.deploy_hash));
    let size = block["size"].as_str().unwrap();
    assert!(size.starts_with("0x") && !size.starts_with("0x0"), "{size}");

    let full = raw(c, "eth_getBlockByNumber", rpc_params!["0x2", true]).await.unwrap();
    let tx0 = &full["transactions"][0];
    assert_eq!(
        keys(tx0),
        [
            "accessList",
            "blockHash",
            "blockNumber",
            "blockTimestamp",
            "chainId",
            "from",
            "gas",
            "gasPrice",
            "hash",
            "input",
            "maxFeePerGas",
            "maxPriorityFeePerGas",
            "nonce",
            "r",
            "s",
            "to",
            "transactionIndex",
            "type",
            "v",
            "value",
            "yParity",
        ]
    );
    assert_eq!(tx0["type"], json!("0x2"));
    assert_eq!(tx0["nonce"], json!("0x2"));
    assert_eq!(tx0["transactionIndex"], json!("0x0"));
    assert_eq!(tx0["from"], json!(dev()));
    let legacy = &full["transactions"][1];
    assert_eq!(legacy["type"], json!("0x0"));
    assert_eq!(legacy["gasPrice"], json!("0x12a05f200"));
    assert_eq!(legacy["chainId"], json!("0x1092"));
    assert!(legacy.get("maxFeePerGas").is_none());

    let receipt = raw(c, "eth_getTransactionReceipt", rpc_params![f.call_hash]).await.unwrap();
    assert_eq!(
        keys(&receipt),
        [
            "blockHash",
            "blockNumber",
            "contractAddress",
            "cumulativeGasUsed",
            "effectiveGasPrice",
            "from",
            "gasUsed",
            "logs",
            "logsBloom",
            "status",
            "to",
            "transactionHash",
            "transactionIndex",
            "type",
        ]
    );
    assert_eq!(receipt["status"], json!("0x1"));
    assert_eq!(receipt["type"], json!("0x2"));
    assert_eq!(receipt["contractAddress"], Value::Null);
    assert_eq!(receipt["blockHash"], full["hash"]);
    let log = &receipt["logs"][0];
    assert_eq!(
        keys(log),
        [
            "address",
            "blockHash",
            "blockNumber",
            "blockTimestamp",
            "data",
            "logIndex",
            "removed",
            "topics",
            "transactionHash",
            "transactionIndex",
        ]
    );
    assert_eq!(log["logIndex"], json!("0x0"));
    assert_eq!(log["removed"], json!(false));
    assert_eq!(log["data"], json!(format!("0x{:064x}", 42)));
    let deploy = raw(c, "eth_getTransactionReceipt", rpc_params![f.deploy_hash]).await.unwrap();
    assert_eq!(deploy["to"], Value::Null);
    assert_eq!(deploy["contractAddress"], json!(f.contract));

    // Missing things are null.
    assert_eq!(
        raw(c, "eth_getTransactionByHash", rpc_params![B256::ZERO]).await.unwrap(),
        Value::Null
    );
    assert_eq!(
        raw(c, "eth_getBlockByHash", rpc_params![B256::ZERO, false]).await.unwrap(),
        Value::Null
    );
    assert_eq!(
        raw(c, "eth_getBlockByNumber", rpc_params!["0x64", false]).await.unwrap(),
        Value::Null
    );

    // Quantities without leading zeros; storage word padded to 32 bytes.
    assert_eq!(
        raw(c, "eth_getBalance", rpc_params![RECIPIENT, "latest"]).await.unwrap(),
        json!("0x3ef")
    );
    assert_eq!(
        raw(c, "eth_getTransactionCount", rpc_params![dev(), "0x0"]).await.unwrap(),
        json!("0x0")
    );
    assert_eq!(
        raw(c, "eth_getStorageAt", rpc_params![f.contract, "0x0", "latest"]).await.unwrap(),
        json!(format!("0x{:064x}", 42))
    );
    // EIP-1898 block objects.
    let b1 = raw(c, "eth_getBlockByNumber", rpc_params!["0x1", false]).await.unwrap();
    let by_hash = json!({ "blockHash": b1["hash"], "requireCanonical": true });
    assert_eq!(
        raw(c, "eth_getBalance", rpc_params![RECIPIENT, by_hash]).await.unwrap(),
        json!("0x3e8")
    );
    let by_num = json!({ "blockNumber": "0x0" });
    assert_eq!(
        raw(c, "eth_getBalance", rpc_params![RECIPIENT, by_num]).await.unwrap(),
        json!("0x0")
    );
    let unknown = json!({ "blockHash": B256::ZERO, "requireCanonical": true });
    let (code, _, _) = raw(c, "eth_getBalance", rpc_params![RECIPIENT, unknown]).await.unwrap_err();
    assert_eq!(code, -32000);

    // pending nonce includes what the proposer holds.
    f.based.pending_nonces.lock().unwrap().insert(dev(), 9);
    assert_eq!(
        raw(c, "eth_getTransactionCount", rpc_params![dev(), "pending"]).await.unwrap(),
        json!("0x9")
    );
    assert_eq!(
        raw(c, "eth_getTransactionCount", rpc_params![dev(), "latest"]).await.unwrap(),
        json!("0x5")
    );

    // based_ namespace.
    let status = raw(c, "based_syncStatus", rpc_params![]).await.unwrap();
    assert_eq!(
        status,
        json!({"l1Head": "0x64", "l1Processed": "0x63", "l2Head": "0x3", "l2Safe": "0x1", "l2Finalized": "0x0", "driver": {"state": "running"}})
    );
    let origin = L1Origin {
        l2_block_number: U64::from(1),
        l2_block_hash: B256::repeat_byte(1),
        l1_block_number: U64::from(90),
        l1_block_hash: B256::repeat_byte(2),
        proposal_id: U64::from(7),
        anchor_number: U64::from(88),
        anchor_hash: B256::repeat_byte(3),
    };
    f.based.origins.lock().unwrap().insert(1, origin);
    let got = raw(c, "based_l1Origin", rpc_params!["safe"]).await.unwrap();
    assert_eq!(got["l1BlockNumber"], json!("0x5a"));
    assert_eq!(got["proposalId"], json!("0x7"));
    assert_eq!(got["anchorHash"], json!(B256::repeat_byte(3)));
    assert_eq!(raw(c, "based_l1Origin", rpc_params!["0x2"]).await.unwrap(), Value::Null);

    f.handle.stop().await;
}

#[tokio::test]
async fn errors_and_limits() {
    let f = setup(|cfg| {
        cfg.max_logs_block_range = 2;
        cfg.max_logs = 1;
    })
    .await;
    let c = &f.client;

    // Unknown method and malformed params.
    let (code, _, _) = raw(c, "eth_fooBar", rpc_params![]).await.unwrap_err();
    assert_eq!(code, -32601);

    // eth_feeHistory: at most 100 strictly increasing percentiles (a request repeating one
    // percentile a million times must not make the node compute a million rewards per block).
    let hundred: Vec<f64> = (0..100).map(f64::from).collect();
    assert!(raw(c, "eth_feeHistory", rpc_params!["0x2", "latest", hundred]).await.is_ok());
    let too_many: Vec<f64> = (0..101).map(|i| f64::from(i) * 0.5).collect();
    let (code, msg, _) =
        raw(c, "eth_feeHistory", rpc_params!["0x2", "latest", too_many]).await.unwrap_err();
    assert_eq!(code, -32602, "{msg}");
    let repeated = vec![50.0f64; 100_000];
    let (code, _, _) =
        raw(c, "eth_feeHistory", rpc_params!["0x2", "latest", repeated]).await.unwrap_err();
    assert_eq!(code, -32602);
    let (code, _, _) =
        raw(c, "eth_feeHistory", rpc_params!["0x2", "latest", [10.0, 10.0]]).await.unwrap_err();
    assert_eq!(code, -32602);

    // A batch longer than the limit (geth's 1,000) is refused as a whole; one at the limit is served.
    let batch = |n: usize| {
        let calls: Vec<Value> = (0..n)
            .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "eth_chainId", "params": []}))
            .collect();
        Value::Array(calls)
    };
    let http = reqwest::Client::new();
    let ok: Value = http
        .post(f.handle.http_url())
        .json(&batch(1_000))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ok.as_array().map(Vec::len), Some(1_000));
    let refused: Value = http
        .post(f.handle.http_url())
        .json(&batch(1_001))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(refused.get("error").is_some(), "batch over the limit served: {refused}");
    let (code, _, _) = raw(c, "eth_getBalance", rpc_params!["0x12", "latest"]).await.unwrap_err();
    assert_eq!(code, -32602);
    let (code, _, _) =
        raw(c, "eth_getBlockByNumber", rpc_params!["nope", false]).await.unwrap_err();
    assert_eq!(code, -32602);
    let (code, _, _) = raw(c, "eth_getBalance", rpc_params![RECIPIENT, "0x64"]).await.unwrap_err();
    assert_eq!(code, -32000);

    // Reverted call: code 3, revert data in `data`.
    let data = Bytes::from(Revert::from("boom").abi_encode());
    let call = json!({ "to": f.contract, "data": data });
    let (code, msg, err_data) = raw(c, "eth_call", rpc_params![call, "latest"]).await.unwrap_err();
    assert_eq!((code, msg.as_str()), (3, "execution reverted: boom"));
    assert_eq!(err_data, Some(json!(data)));
    // A call from an address with code (the contract itself) is executed, not refused (EIP-3607
    // applies to signed transactions only).
    let from_code = json!({ "from": f.contract, "to": RECIPIENT, "value": "0x0" });
    assert_eq!(
        raw(c, "eth_call", rpc_params![from_code.clone(), "latest"]).await.unwrap(),
        json!("0x")
    );
    assert!(raw(c, "eth_estimateGas", rpc_params![from_code, "latest"]).await.is_ok());
    // Call at an older block sees older state: the contract did not exist at genesis.
    let call0 = json!({ "to": f.contract });
    assert_eq!(
        raw(c, "eth_call", rpc_params![call0.clone(), "earliest"]).await.unwrap(),
        json!("0x")
    );
    // Out of gas.
    let low = json!({ "to": f.contract, "gas": "0x5300" });
    let (code, msg, _) = raw(c, "eth_call", rpc_params![low, "latest"]).await.unwrap_err();
    assert_eq!((code, msg.as_str()), (-32000, "out of gas"));
    // Fee-paying call from an empty account: insufficient funds.
    let poor = json!({ "from": Address::repeat_byte(9), "to": RECIPIENT, "value": "0x1", "gasPrice": "0x3b9aca00" });
    let (code, msg, _) = raw(c, "eth_call", rpc_params![poor, "latest"]).await.unwrap_err();
    assert_eq!(code, -32000);
    assert!(msg.contains("insufficient funds"), "{msg}");

    // eth_getLogs caps.
    let wide = json!({ "fromBlock": "0x0", "toBlock": "0x3" });
    let (code, msg, _) = raw(c, "eth_getLogs", rpc_params![wide]).await.unwrap_err();
    assert_eq!(code, -32005);
    assert!(msg.contains("block range"), "{msg}");
    let two = json!({ "fromBlock": "0x2", "toBlock": "0x3" });
    let (code, msg, _) = raw(c, "eth_getLogs", rpc_params![two]).await.unwrap_err();
    assert_eq!(code, -32005);
    assert!(msg.contains("max results"), "{msg}");
    let one = json!({ "fromBlock": "0x2", "toBlock": "0x2" });
    assert_eq!(raw(c, "eth_getLogs", rpc_params![one]).await.unwrap().as_array().unwrap().len(), 1);
    let backwards = json!({ "fromBlock": "0x3", "toBlock": "0x2" });
    assert_eq!(raw(c, "eth_getLogs", rpc_params![backwards]).await.unwrap_err().0, -32602);

    // eth_sendRawTransaction checks.
    let (code, _, _) =
        raw(c, "eth_sendRawTransaction", rpc_params!["0x01deadbeef"]).await.unwrap_err();
    assert_eq!(code, -32602);
    let wrong_chain = sign(TxEip1559 {
        chain_id: 1,
        gas_limit: 21_000,
        to: TxKind::Call(RECIPIENT),
        ..Default::default()
    });
    let (code, msg, _) =
        raw(c, "eth_sendRawTransaction", rpc_params![Bytes::from(wrong_chain.encoded_2718())])
            .await
            .unwrap_err();
    assert_eq!(code, -32000);
    assert!(msg.contains("chain id"), "{msg}");
    let blob = sign(TxEip4844 {
        chain_id: TEST_CHAIN_ID,
        gas_limit: 21_000,
        to: RECIPIENT,
        blob_versioned_hashes: vec![B256::repeat_byte(1)],
        max_fee_per_blob_gas: 1,
        ..Default::default()
    });
    let (code, msg, _) =
        raw(c, "eth_sendRawTransaction", rpc_params![Bytes::from(blob.encoded_2718())])
            .await
            .unwrap_err();
    assert_eq!((code, msg.as_str()), (-32000, "transaction type not supported"));
    assert!(f.forwarder.received.lock().unwrap().is_empty(), "nothing invalid is forwarded");
    // Pre-EIP-155 legacy transactions are valid on L2 (spec §4.4): forwarded.
    let unprotected = sign(TxLegacy {
        chain_id: None,
        gas_limit: 21_000,
        to: TxKind::Call(RECIPIENT),
        ..Default::default()
    });
    let hash =
        raw(c, "eth_sendRawTransaction", rpc_params![Bytes::from(unprotected.encoded_2718())])
            .await
            .unwrap();
    assert_eq!(hash, json!(unprotected.tx_hash()));
    assert_eq!(f.forwarder.received.lock().unwrap().len(), 1);
    f.forwarder.received.lock().unwrap().clear();

    // Proposer errors pass through unchanged.
    *f.forwarder.reject_with.lock().unwrap() =
        Some(ForwardError::Rejected { code: -32000, message: "nonce too low".into(), data: None });
    let ok_tx = eip1559(5, TxKind::Call(RECIPIENT), 1, Bytes::new());
    let (code, msg, _) =
        raw(c, "eth_sendRawTransaction", rpc_params![Bytes::from(ok_tx.encoded_2718())])
            .await
            .unwrap_err();
    assert_eq!((code, msg.as_str()), (-32000, "nonce too low"));

    // Without historical state: older blocks error clearly, latest still works.
    f.chain.set_latest_state_only(true);
    let (code, msg, _) = raw(c, "eth_getBalance", rpc_params![RECIPIENT, "0x1"]).await.unwrap_err();
    assert_eq!(code, -32000);
    assert!(msg.contains("historical state"), "{msg}");
    assert_eq!(
        raw(c, "eth_getBalance", rpc_params![RECIPIENT, "latest"]).await.unwrap(),
        json!("0x3ef")
    );

    f.handle.stop().await;
    assert!(raw_is_down(c).await, "server must be stopped");
}

async fn raw_is_down(c: &HttpClient) -> bool {
    c.request::<Value, _>("eth_chainId", rpc_params![]).await.is_err()
}

#[tokio::test]
async fn http_forwarder_forwards_to_upstream() {
    // The "proposer" is another instance of the server with a recording forwarder.
    let upstream = setup(|_| {}).await;
    let fwd = based_rpc::HttpForwarder::new(&upstream.handle.http_url()).unwrap();
    let tx = eip1559(5, TxKind::Call(RECIPIENT), 1, Bytes::new());
    let raw_tx = Bytes::from(tx.encoded_2718());
    let hash = based_rpc::TxForwarder::forward(&fwd, raw_tx.clone()).await.unwrap();
    assert_eq!(hash, *tx.tx_hash());
    assert_eq!(
        upstream.forwarder.received.lock().unwrap().as_slice(),
        std::slice::from_ref(&raw_tx)
    );

    // Upstream JSON-RPC errors keep their code and message.
    let bad = Bytes::from(
        eip1559(5, TxKind::Call(RECIPIENT), 1, Bytes::new()).encoded_2718()[..10].to_vec(),
    );
    match based_rpc::TxForwarder::forward(&fwd, bad).await.unwrap_err() {
        ForwardError::Rejected { code, .. } => assert_eq!(code, -32602),
        other => panic!("unexpected {other:?}"),
    }
    upstream.handle.stop().await;
    // Unreachable upstream => transport error.
    let err = based_rpc::TxForwarder::forward(&fwd, raw_tx).await.unwrap_err();
    assert!(matches!(err, ForwardError::Transport(_)), "{err:?}");
}

/// The `pending` tag and lookups by hash read the node's pending block (preconfirmed
/// transactions on top of the head) until the real block lands; `based_preconfirm*` on the wire.
#[tokio::test]
async fn pending_tag_reads_the_preconfirmed_state() {
    let f = setup(|_| {}).await;
    let c = &f.client;
    // Without a pending block, `pending` is `latest`.
    let latest_balance = raw(c, "eth_getBalance", rpc_params![RECIPIENT, "latest"]).await.unwrap();
    assert_eq!(
        raw(c, "eth_getBalance", rpc_params![RECIPIENT, "pending"]).await.unwrap(),
        latest_balance
    );
    f.based.preconf.attach(f.chain.clone());

    // Preconfirm a transfer and a contract creation (nonces 5 and 6 of the dev account).
    let transfer = eip1559(5, TxKind::Call(RECIPIENT), 500, Bytes::new());
    let deploy = eip1559(6, TxKind::Create, 0, init_code());
    let created = dev().create(6);
    let mut answers = Vec::new();
    for tx in [&transfer, &deploy] {
        let raw_tx = Bytes::from(tx.encoded_2718());
        answers.push(raw(c, "based_preconfirm", rpc_params![raw_tx, "0x9"]).await.unwrap());
    }
    assert_eq!(answers[0]["txHash"], json!(transfer.tx_hash()));
    assert_eq!(answers[0]["pending"], json!(true));
    assert_eq!(answers[0]["blockNumber"], json!("0x4"));
    assert_eq!(answers[0]["transactionIndex"], json!("0x0"));
    assert_eq!(answers[0]["gasUsed"], json!("0x5208"));
    assert_eq!(answers[1]["transactionIndex"], json!("0x1"));
    assert_eq!(answers[1]["status"], json!(true));

    // State reads at `pending` see them; `latest` does not.
    let pending_balance: U256 = serde_json::from_value(
        raw(c, "eth_getBalance", rpc_params![RECIPIENT, "pending"]).await.unwrap(),
    )
    .unwrap();
    let latest: U256 = serde_json::from_value(latest_balance).unwrap();
    assert_eq!(pending_balance, latest + U256::from(500));
    assert_eq!(
        raw(c, "eth_getTransactionCount", rpc_params![dev(), "pending"]).await.unwrap(),
        json!("0x7")
    );
    assert_eq!(
        raw(c, "eth_getTransactionCount", rpc_params![dev(), "latest"]).await.unwrap(),
        json!("0x5")
    );
    assert_eq!(
        raw(c, "eth_getCode", rpc_params![created, "pending"]).await.unwrap(),
        json!(hex::encode_prefixed(runtime_code()))
    );
    assert_eq!(raw(c, "eth_getCode", rpc_params![created, "latest"]).await.unwrap(), json!("0x"));
    assert_eq!(
        raw(c, "eth_getStorageAt", rpc_params![created, "0x0", "pending"]).await.unwrap(),
        json!(B256::with_last_byte(42))
    );
    let call = json!({"to": created});
    assert_eq!(
        raw(c, "eth_call", rpc_params![call.clone(), "pending"]).await.unwrap(),
        json!(B256::with_last_byte(42))
    );
    assert_eq!(raw(c, "eth_call", rpc_params![call.clone(), "latest"]).await.unwrap(), json!("0x"));
    let pending_gas: U64 = serde_json::from_value(
        raw(c, "eth_estimateGas", rpc_params![call.clone(), "pending"]).await.unwrap(),
    )
    .unwrap();
    assert!(pending_gas > U64::from(21_000), "the pending call runs the new code: {pending_gas}");
    assert_eq!(
        raw(c, "eth_estimateGas", rpc_params![call, "latest"]).await.unwrap(),
        json!("0x5208")
    );

    // The pending block.
    let head = f.chain.head();
    let block = raw(c, "eth_getBlockByNumber", rpc_params!["pending", false]).await.unwrap();
    assert_eq!(block["number"], json!("0x4"));
    assert_eq!(block["parentHash"], json!(head.hash));
    assert_eq!(block["transactions"], json!([transfer.tx_hash(), deploy.tx_hash()]));
    let latest_block = raw(c, "eth_getBlockByNumber", rpc_params!["latest", false]).await.unwrap();
    assert_eq!(latest_block["number"], json!("0x3"));
    assert_eq!(
        raw(c, "eth_getBlockTransactionCountByNumber", rpc_params!["pending"]).await.unwrap(),
        json!("0x2")
    );

    // Receipts and transactions by hash: pending position, blockHash null.
    let receipt = raw(c, "eth_getTransactionReceipt", rpc_params![deploy.tx_hash()]).await.unwrap();
    assert_eq!(receipt["blockHash"], Value::Null);
    assert_eq!(receipt["blockNumber"], json!("0x4"));
    assert_eq!(receipt["transactionIndex"], json!("0x1"));
    assert_eq!(receipt["status"], json!("0x1"));
    assert_eq!(receipt["contractAddress"], json!(created));
    let tx = raw(c, "eth_getTransactionByHash", rpc_params![transfer.tx_hash()]).await.unwrap();
    assert_eq!((tx["blockHash"].clone(), tx["blockNumber"].clone()), (Value::Null, json!("0x4")));
    assert_eq!(tx["transactionIndex"], json!("0x0"));
    // An alloy provider accepts the pending receipt.
    let provider = ProviderBuilder::new().connect(&f.handle.http_url()).await.unwrap();
    let typed = provider.get_transaction_receipt(*transfer.tx_hash()).await.unwrap().unwrap();
    assert_eq!((typed.block_hash, typed.block_number), (None, Some(4)));
    assert!(typed.status());

    // The listing and the status.
    let list = raw(c, "based_preconfirmations", rpc_params![]).await.unwrap();
    assert_eq!(list["pending"][1]["txHash"], json!(deploy.tx_hash()));
    assert_eq!(list["pending"][1]["slot"], json!("0x9"));
    let status = raw(c, "based_preconfirmStatus", rpc_params![]).await.unwrap();
    assert_eq!(status["pending"], json!("0x2"));

    // The block lands: the canonical receipt replaces the pending one, same fields.
    let mined = f.chain.mine(vec![transfer.clone(), deploy.clone()]);
    f.based.preconf.rebuild();
    let landed = raw(c, "eth_getTransactionReceipt", rpc_params![deploy.tx_hash()]).await.unwrap();
    assert_eq!(landed["blockHash"], json!(mined.header.hash));
    for field in ["blockNumber", "transactionIndex", "status", "gasUsed", "contractAddress"] {
        assert_eq!(landed[field], receipt[field], "{field}");
    }
    // Landed transaction objects carry their block's timestamp (`blockTimestamp`), by hash and
    // in a full block.
    let by_hash =
        raw(c, "eth_getTransactionByHash", rpc_params![transfer.tx_hash()]).await.unwrap();
    let full = raw(c, "eth_getBlockByHash", rpc_params![mined.header.hash, true]).await.unwrap();
    let timestamp = json!(format!("{:#x}", mined.header.header.timestamp));
    assert_eq!(by_hash["blockTimestamp"], timestamp);
    assert_eq!(full["transactions"][0]["blockTimestamp"], timestamp);
    assert_eq!(full["timestamp"], timestamp);
    let block = raw(c, "eth_getBlockByNumber", rpc_params!["pending", false]).await.unwrap();
    assert_eq!((block["number"].clone(), block["transactions"].clone()), (json!("0x5"), json!([])));

    // Dropping and refusals.
    assert_eq!(
        raw(c, "based_dropPreconfirmed", rpc_params![B256::repeat_byte(1)]).await.unwrap(),
        json!(false)
    );
    *f.based.preconf.refuse_with.lock().unwrap() =
        Some(based_rpc::PreconfError::Nonce { got: 9, expected: 7 });
    let raw_tx = Bytes::from(eip1559(9, TxKind::Call(RECIPIENT), 1, Bytes::new()).encoded_2718());
    let (code, _, data) = raw(c, "based_preconfirm", rpc_params![raw_tx, "0x9"]).await.unwrap_err();
    assert_eq!((code, data), (-32013, Some(json!({"got": 9, "expected": 7}))));
    f.handle.stop().await;
}

/// `eth_getTransactionCount(.., "pending")` counts what this node forwarded to the proposer (and
/// what the proposer reports holding), as geth counts its pool: a wallet sending several
/// transactions in a row gets consecutive nonces before any of them is in a block.
#[tokio::test]
async fn pending_nonce_counts_forwarded_transactions() {
    let f = setup(|_| {}).await;
    let c = &f.client;
    let count = |tag: &'static str| {
        let c = c.clone();
        async move { raw(&c, "eth_getTransactionCount", rpc_params![dev(), tag]).await.unwrap() }
    };
    assert_eq!(count("pending").await, json!("0x5"));
    for nonce in [5, 6] {
        let tx = eip1559(nonce, TxKind::Call(RECIPIENT), 1, Bytes::new());
        raw(c, "eth_sendRawTransaction", rpc_params![Bytes::from(tx.encoded_2718())])
            .await
            .unwrap();
    }
    assert_eq!(count("pending").await, json!("0x7"));
    assert_eq!(count("latest").await, json!("0x5"), "latest is the chain's");
    // A transaction after a gap does not count; what the proposer holds fills the gap.
    let after_gap = eip1559(8, TxKind::Call(RECIPIENT), 1, Bytes::new());
    raw(c, "eth_sendRawTransaction", rpc_params![Bytes::from(after_gap.encoded_2718())])
        .await
        .unwrap();
    assert_eq!(count("pending").await, json!("0x7"));
    *f.forwarder.pool.lock().unwrap() = vec![7];
    assert_eq!(count("pending").await, json!("0x9"));
    *f.forwarder.pool.lock().unwrap() = Vec::new();
    // A refused forward counts nothing.
    *f.forwarder.reject_with.lock().unwrap() =
        Some(ForwardError::Transport("proposer down".into()));
    let refused = eip1559(7, TxKind::Call(RECIPIENT), 1, Bytes::new());
    raw(c, "eth_sendRawTransaction", rpc_params![Bytes::from(refused.encoded_2718())])
        .await
        .unwrap_err();
    assert_eq!(count("pending").await, json!("0x7"));
    // Once executed, the chain's nonce is the answer again.
    let mined: Vec<TxEnvelope> =
        [5, 6].map(|n| eip1559(n, TxKind::Call(RECIPIENT), 1, Bytes::new())).to_vec();
    assert!(f.chain.mine(mined).skipped.is_empty());
    assert_eq!(count("latest").await, json!("0x7"));
    assert_eq!(count("pending").await, json!("0x7"));
    f.handle.stop().await;
}

/// [`based_rpc::HttpForwarder`] reads the proposer's `based_poolNonces`; an endpoint without the
/// method holds nothing it reports.
#[tokio::test]
async fn http_forwarder_reads_the_proposers_queued_nonces() {
    let mut module = jsonrpsee::RpcModule::new(());
    module
        .register_method("based_poolNonces", |params, _, _| {
            let (address,): (Address,) = params.parse().unwrap();
            if address == dev() { vec![U64::from(5), U64::from(6)] } else { Vec::new() }
        })
        .unwrap();
    let server =
        jsonrpsee::server::Server::builder().build(SocketAddr::from(([127, 0, 0, 1], 0))).await;
    let server = server.unwrap();
    let addr = server.local_addr().unwrap();
    let handle = server.start(module);
    let fwd = based_rpc::HttpForwarder::new(&format!("http://{addr}")).unwrap();
    assert_eq!(based_rpc::TxForwarder::pool_nonces(&fwd, dev()).await.unwrap(), vec![5, 6]);
    assert!(based_rpc::TxForwarder::pool_nonces(&fwd, RECIPIENT).await.unwrap().is_empty());
    handle.stop().unwrap();
    handle.stopped().await;

    let upstream = setup(|_| {}).await; // serves no based_poolNonces
    let fwd = based_rpc::HttpForwarder::new(&upstream.handle.http_url()).unwrap();
    assert!(based_rpc::TxForwarder::pool_nonces(&fwd, dev()).await.unwrap().is_empty());
    upstream.handle.stop().await;
    let err = based_rpc::TxForwarder::pool_nonces(&fwd, dev()).await.unwrap_err();
    assert!(matches!(err, ForwardError::Transport(_)), "{err:?}");
}
