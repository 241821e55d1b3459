//! A wallet pointed at the devnet's preconfirmation gateway: `eth_sendRawTransaction` answers at
//! once with the hash, the signed promise (Commitments API) is retrievable by it and verifies
//! against the devnet committer, identical sends are idempotent, and the promised transactions
//! land on L2 in promise order.

use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::TransactionRequest;
use based_commitments::{InclusionPayload, SignedCommitment};
use based_tests::{TestNet, eyre, sign_l2_transfer, wait_for_receipt, wallet_provider};
use serde_json::{Value, json};

async fn rpc(url: &str, method: &str, params: Value) -> eyre::Result<Value> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    Ok(reqwest::Client::new().post(url).json(&body).send().await?.json().await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_gets_signed_promises_from_the_gateway() -> eyre::Result<()> {
    let net = TestNet::start().await?;
    let gateway = net.devnet.gateway.url();
    let l2 = net.l2_url();
    let committer = net.devnet.committer;

    // An unmodified wallet (alloy provider with fillers) using the gateway as its RPC.
    let wallet = wallet_provider(&gateway, 5)?;
    let mut hashes = Vec::new();
    for i in 0..3u64 {
        let tx = TransactionRequest::default()
            .with_to(Address::repeat_byte(0x50))
            .with_value(U256::from(1 + i));
        hashes.push(*wallet.send_transaction(tx).await?.tx_hash());
    }
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
    net.stop().await;
    Ok(())
}
