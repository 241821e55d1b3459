//! A wallet pointed at the devnet's preconfirmation gateway: `eth_sendRawTransaction` answers at
//! once with the hash, the signed promise (Commitments API) is retrievable by it and verifies
//! against the devnet committer, identical sends are idempotent, and the promised transactions
//! land on L2 in promise order. As soon as a promise is answered the node's `pending` state and
//! its receipt lookups show the executed transaction (blockHash null, its pending position);
//! once the batch lands, `latest` shows the same status, gas used and logs.

use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, B256, Bytes, U256, hex};
use alloy_provider::Provider;
use alloy_rpc_types_eth::TransactionRequest;
use based_commitments::{InclusionPayload, SignedCommitment};
use based_tests::{
    TestNet, WAIT, eyre, provider, sign_l2_transfer, wait_for, wait_for_receipt, wallet_provider,
};
use serde_json::{Value, json};

async fn rpc(url: &str, method: &str, params: Value) -> eyre::Result<Value> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    Ok(reqwest::Client::new().post(url).json(&body).send().await?.json().await?)
}

async fn balance(url: &str, who: Address, tag: &str) -> eyre::Result<U256> {
    let resp = rpc(url, "eth_getBalance", json!([who, tag])).await?;
    serde_json::from_value(resp["result"].clone()).map_err(|e| eyre::eyre!("{e}: {resp}"))
}

/// Waits until `hash` is in a canonical L2 block (its receipt has a block hash).
async fn wait_landed(url: &str, hash: B256) -> eyre::Result<Value> {
    wait_for(&format!("{hash} on L2"), WAIT, || async move {
        let resp = rpc(url, "eth_getTransactionReceipt", json!([hash])).await?;
        Ok(resp["result"]["blockHash"].is_string().then(|| resp["result"].clone()))
    })
    .await
}

/// Init code: `log1(0, 32, TOPIC)` with 42 in memory, deploys nothing.
fn logging_init_code() -> Bytes {
    let mut code = hex!("602a5f527f").to_vec();
    code.extend_from_slice(B256::repeat_byte(0x77).as_slice());
    code.extend_from_slice(&hex!("60205fa100"));
    code.into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_gets_signed_promises_from_the_gateway() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let net = TestNet::start().await?;
    let gateway = net.devnet.gateway.url();
    let l2 = net.l2_url();
    let committer = net.devnet.committer;

    // An unmodified wallet (alloy provider with fillers) using the gateway as its RPC.
    let wallet = wallet_provider(&gateway, 5)?;
    let recipient = Address::repeat_byte(0x50);
    let before = balance(&l2, recipient, "latest").await?;
    let mut hashes = Vec::new();
    let mut pending_receipts = Vec::new();
    for i in 0..3u64 {
        let tx = TransactionRequest::default().with_to(recipient).with_value(U256::from(1 + i));
        let hash = *wallet.send_transaction(tx).await?.tx_hash();
        // The promise is answered: the node already executed it in its pending block.
        let receipt = rpc(&l2, "eth_getTransactionReceipt", json!([hash])).await?["result"].clone();
        assert!(receipt.is_object(), "no receipt right after the promise for {hash}");
        assert_eq!(receipt["status"], json!("0x1"), "{receipt}");
        hashes.push(hash);
        pending_receipts.push(receipt);
    }
    // `pending` shows all three transfers at once (6 wei); `latest` catches up when they land.
    assert_eq!(balance(&l2, recipient, "pending").await?, before + U256::from(6));
    // The pending receipts sit in the pending block (blockHash null) unless already landed.
    for receipt in &pending_receipts {
        if receipt["blockHash"].is_null() {
            let pending_block = rpc(&l2, "eth_getBlockByNumber", json!(["pending", false])).await?;
            assert!(receipt["blockNumber"].is_string(), "{receipt}");
            assert!(receipt["transactionIndex"].is_string(), "{receipt}");
            assert!(pending_block["result"]["number"].is_string(), "{pending_block}");
        }
    }
    // A contract creation that logs: its receipt (logs included) is there before it lands.
    let deploy = TransactionRequest::default().with_deploy_code(logging_init_code());
    let deploy_hash = *wallet.send_transaction(deploy).await?.tx_hash();
    let deploy_pending =
        rpc(&l2, "eth_getTransactionReceipt", json!([deploy_hash])).await?["result"].clone();
    assert_eq!(deploy_pending["logs"][0]["topics"], json!([B256::repeat_byte(0x77)]));
    let listed = rpc(&l2, "based_preconfirmations", json!([])).await?;
    let listed: Vec<Value> = listed["result"]["pending"].as_array().cloned().unwrap_or_default();
    assert!(
        listed.iter().any(|e| e["txHash"] == json!(deploy_hash))
            || deploy_pending["blockHash"].is_string(),
        "the node lists the promised transaction: {listed:?}"
    );
    let mut slots = Vec::new();
    for hash in &hashes {
        let resp = rpc(&gateway, "commitmentResult", json!([hash])).await?;
        let signed: SignedCommitment = serde_json::from_value(resp["result"].clone())
            .map_err(|e| eyre::eyre!("{e}: {resp}"))?;
        signed.verify(committer)?;
        let payload = InclusionPayload::abi_decode(&signed.commitment.payload)?;
        assert_eq!(payload.decode_tx()?.tx_hash, *hash);
        slots.push(payload.slot);
    }
    assert!(slots.windows(2).all(|w| w[0] <= w[1]), "promised slots in order: {slots:?}");

    // The same signed transaction sent again: the same hash, no second promise.
    let (raw, hash) = sign_l2_transfer(4, 0, Address::repeat_byte(0x51), U256::from(7))?;
    for _ in 0..2 {
        let resp = rpc(&gateway, "eth_sendRawTransaction", json!([raw])).await?;
        assert_eq!(resp["result"], json!(hash), "{resp}");
    }
    // A different transaction for the promised nonce would equivocate: refused.
    let (other, _) = sign_l2_transfer(4, 0, Address::repeat_byte(0x52), U256::from(8))?;
    let resp = rpc(&gateway, "eth_sendRawTransaction", json!([other])).await?;
    assert_eq!(resp["error"]["code"], json!(-32015), "{resp}");

    // Every promise lands on L2, in promise order.
    let mut positions = Vec::new();
    for hash in hashes.iter().chain([&hash]) {
        let receipt = wait_for_receipt(&l2, *hash).await?;
        assert!(receipt.status());
        positions.push((
            receipt.block_number.unwrap_or_default(),
            receipt.transaction_index.unwrap_or_default(),
        ));
    }
    assert!(
        positions[..3].windows(2).all(|w| w[0] < w[1]),
        "landed in promise order: {positions:?}"
    );
    let receipt = wallet.get_transaction_receipt(hashes[0]).await?;
    assert!(receipt.is_some(), "receipts are readable through the gateway");

    // Landed: `latest` has the same outcome the pending state promised.
    for (hash, pending) in
        hashes.iter().zip(&pending_receipts).chain([(&deploy_hash, &deploy_pending)])
    {
        let landed = wait_landed(&l2, *hash).await?;
        for field in ["status", "gasUsed", "contractAddress", "from", "to"] {
            assert_eq!(landed[field], pending[field], "{field} of {hash}");
        }
        let logs = |r: &Value| -> Vec<(Value, Value, Value)> {
            r["logs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| (l["address"].clone(), l["topics"].clone(), l["data"].clone()))
                .collect()
        };
        assert_eq!(logs(&landed), logs(pending), "logs of {hash}");
    }
    assert_eq!(balance(&l2, recipient, "latest").await?, before + U256::from(6));
    let p = provider(&l2)?;
    assert!(p.get_block_number().await? > 0);
    let status = rpc(&l2, "based_preconfirmations", json!([])).await?;
    assert_eq!(status["result"]["broken"], json!([]), "no promise broken: {status}");

    // Every promise was kept in the slashing sense (docs/protocol.md §11.1): its transaction was
    // posted on L1 in an `Inbox.Promised` record (provable inclusion, not only inside a blob) in
    // the promised slot or earlier.
    let posted =
        based_tests::promised_on_l1(&net.l1_url(), net.devnet.inbox, &net.devnet.clock).await?;
    for hash in hashes.iter().chain([&deploy_hash]) {
        let resp = rpc(&gateway, "commitmentResult", json!([hash])).await?;
        let signed: SignedCommitment = serde_json::from_value(resp["result"].clone())
            .map_err(|e| eyre::eyre!("{e}: {resp}"))?;
        let promised = InclusionPayload::abi_decode(&signed.commitment.payload)?.slot;
        let landed = posted.get(hash).ok_or_else(|| eyre::eyre!("{hash} in no Promised record"))?;
        assert!(*landed <= promised, "{hash} promised for slot {promised}, posted in {landed}");
    }
    net.stop().await;
    Ok(())
}
