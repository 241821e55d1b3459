//! Broken promises cost collateral (docs/slashing.md), on the opt-in devnet, whose node runs a
//! watchtower acting with dev account 7:
//! - a gateway made to withhold a promised transaction from its proposer (fault switch): the
//!   watchtower judges the promise broken, challenges it, slashes it after the defence window; the
//!   preconfer's key loses `commitmentSlashAmount`, the watchtower gets half of it and its bond;
//! - a kept promise challenged by a stranger: the watchtower defends it with the Merkle proof of its
//!   promised record, the committer gets the bond, the challenge can no longer slash;
//! - the committer's key signs a promise for a slot it does not own: slashed at once.
//!
//! The node's watchtower follows the devnet gateway's commitment feed: every promise the gateway
//! signs is watched without `based_watchCommitment`.

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::SolCall;
use based_commitments::{Commitment, InclusionPayload, SignedCommitment};
use based_registry::Registry;
use based_slasher::{ChallengeStatus, SlasherClient};
use based_tests::{
    TestNet, WAIT, eyre, provider, sign_l2_transfer, wait_for, wait_for_receipt, wallet_provider,
};
use serde_json::{Value, json};

async fn rpc(url: &str, method: &str, params: Value) -> eyre::Result<Value> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    Ok(reqwest::Client::new().post(url).json(&body).send().await?.json().await?)
}

async fn collateral(l1: &str, registry: Address, key: B256) -> eyre::Result<U256> {
    let call = Registry::getOperatorCall { pubkeyHash: key };
    let tx =
        TransactionRequest::default().to(registry).input(Bytes::from(call.abi_encode()).into());
    let out = provider(l1)?.call(tx).await?;
    Ok(Registry::getOperatorCall::abi_decode_returns(&out)?.collateral)
}

/// The watchtower's entry for `digest` in `based_watchedCommitments`.
async fn verdict(l2: &str, digest: B256) -> eyre::Result<Value> {
    let resp = rpc(l2, "based_watchedCommitments", json!([])).await?;
    let list = resp["result"]["commitments"].as_array().cloned().unwrap_or_default();
    Ok(list
        .into_iter()
        .find(|c| c["digest"] == json!(digest))
        .map(|c| c["verdict"].clone())
        .unwrap_or(Value::Null))
}

/// Sends `raw` through the gateway (until it has a slot to promise for) and returns the signed
/// promise.
async fn promise(gateway: &str, raw: &Bytes, hash: B256) -> eyre::Result<SignedCommitment> {
    wait_for("the gateway to promise", WAIT, || async {
        let resp = rpc(gateway, "eth_sendRawTransaction", json!([raw])).await?;
        if resp["result"] == json!(hash) {
            return Ok(Some(()));
        }
        // Between the committer's slots (the next lookahead not posted yet): try again.
        eyre::ensure!(resp["error"]["code"] == json!(-32011), "gateway refused: {resp}");
        Ok(None)
    })
    .await?;
    let resp = rpc(gateway, "commitmentResult", json!([hash])).await?;
    serde_json::from_value(resp["result"].clone()).map_err(|e| eyre::eyre!("{e}: {resp}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_promises_are_slashed_and_kept_ones_defended() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let net = TestNet::start().await?;
    let (l1, l2, gateway) = (net.l1_url(), net.l2_url(), net.devnet.gateway.url());
    let slasher = net.devnet.sequencing.slasher.ok_or_else(|| eyre::eyre!("no slasher"))?;
    let registry = net.devnet.sequencing.registry.ok_or_else(|| eyre::eyre!("no registry"))?;
    let watchtower = based_devnet::dev_signer(based_devnet::WATCHTOWER_KEY)
        .ok_or_else(|| eyre::eyre!("dev key"))?
        .address();
    let committer = net.devnet.committer;
    let l1p = provider(&l1)?;

    // A first promise lands (the pipeline is warm: the first proposal of a process loads the KZG
    // setup, which in a debug build takes longer than the devnet's 1 s slots).
    let (raw, warm) = sign_l2_transfer(2, 0, Address::repeat_byte(0x21), U256::from(1))?;
    let warm_signed = promise(&gateway, &raw, warm).await?;
    assert!(wait_for_receipt(&l2, warm).await?.status());
    // Watched through the gateway's commitment feed: nobody called based_watchCommitment.
    wait_for("the feed to bring the first promise", WAIT, || async {
        let v = verdict(&l2, warm_signed.commitment.digest()).await?;
        Ok((!v.is_null()).then_some(()))
    })
    .await?;

    // (a) Broken: the gateway promises but withholds the transaction from its proposer.
    net.devnet.withhold_promises(true);
    let (raw, hash) = sign_l2_transfer(3, 0, Address::repeat_byte(0x31), U256::from(1))?;
    let broken = promise(&gateway, &raw, hash).await?;
    net.devnet.withhold_promises(false);
    broken.verify(committer)?;
    let digest = broken.commitment.digest();
    wait_for("the feed to bring the broken promise", WAIT, || async {
        Ok((!verdict(&l2, digest).await?.is_null()).then_some(()))
    })
    .await?;
    // Submitting it as well changes nothing: already watched.
    let watched = rpc(&l2, "based_watchCommitment", json!([broken])).await?;
    assert_eq!(watched["result"]["added"], json!(false), "{watched}");
    assert_eq!(watched["result"]["digest"], json!(digest));
    let feeds = rpc(&l2, "based_commitmentFeeds", json!([])).await?;
    assert_eq!(feeds["result"][0]["url"], json!(gateway), "{feeds}");
    assert!(feeds["result"][0]["received"].as_u64().unwrap_or(0) >= 2, "{feeds}");
    assert_eq!(feeds["result"][0]["skipped"], json!(0), "{feeds}");

    // (b) Kept: promised and posted; watched too.
    let (raw, kept_hash) = sign_l2_transfer(4, 0, Address::repeat_byte(0x41), U256::from(1))?;
    let kept = promise(&gateway, &raw, kept_hash).await?;
    let kept_receipt = wait_for_receipt(&l2, kept_hash).await?;
    assert!(kept_receipt.status());

    // A stranger challenges the kept promise as soon as it may (its slot + challengeDelay).
    let kept_slot = InclusionPayload::abi_decode(&kept.commitment.payload)?.slot;
    let stranger = SlasherClient::connect(wallet_provider(&l1, 6)?, slasher).await?;
    let cfg = stranger.config().await?;
    let clock = net.devnet.clock;
    wait_for("the kept promise's challenge window", WAIT, || async {
        let head = l1p.get_block_by_number(alloy_eips::BlockNumberOrTag::Latest).await?;
        let now = head.map(|b| b.header.timestamp).unwrap_or_default();
        Ok((clock.slot_at(now) > kept_slot + cfg.challenge_delay).then_some(()))
    })
    .await?;
    let (kept_id, _) = stranger.open_challenge(&kept).await?;
    assert_eq!(kept_id, kept.commitment.digest());
    // The watchtower defends it: the bond goes to the committer.
    wait_for("the false challenge to be defended", WAIT, || async {
        let status = stranger.challenge(kept_id).await?.status;
        Ok((status == ChallengeStatus::Defended).then_some(()))
    })
    .await?;
    // Paid to the committer (its balance also pays for proposals: read the event).
    let filter = alloy_rpc_types_eth::Filter::new()
        .address(slasher)
        .event_signature(
            <based_slasher::PreconfSlasher::ChallengeDefended as alloy_sol_types::SolEvent>::SIGNATURE_HASH,
        )
        .topic1(kept_id)
        .from_block(0);
    let logs = wait_for("the ChallengeDefended event", WAIT, || async {
        let logs = l1p.get_logs(&filter).await?;
        Ok((!logs.is_empty()).then_some(logs))
    })
    .await?;
    let defended = <based_slasher::PreconfSlasher::ChallengeDefended as alloy_sol_types::SolEvent>::decode_log_data(
        logs.first().ok_or_else(|| eyre::eyre!("no ChallengeDefended"))?.data(),
    )?;
    assert_eq!((defended.defender, defended.bond), (watchtower, cfg.challenge_bond));

    let err = stranger.slash_lost_challenge(&kept).await.unwrap_err();
    assert!(err.to_string().contains("ChallengeClosed"), "{err}");
    let v = wait_for("the kept verdict", WAIT, || async {
        let v = verdict(&l2, kept.commitment.digest()).await?;
        Ok((v["status"] == json!("kept")).then_some(v))
    })
    .await?;
    assert!(v["l1Slot"].as_u64().unwrap_or(u64::MAX) <= kept_slot, "{v}");
    // The node's watchtower also reports what the derived chain did with it.
    let v = wait_for("the kept promise's execution", WAIT, || async {
        let v = verdict(&l2, kept.commitment.digest()).await?;
        Ok((v["execution"]["state"] == json!("executed")).then_some(v))
    })
    .await?;
    assert_eq!(v["execution"]["l2Block"].as_u64(), kept_receipt.block_number, "{v}");
    assert_eq!(v["execution"]["index"].as_u64(), kept_receipt.transaction_index, "{v}");
    assert_eq!(v["execution"]["success"], json!(true), "{v}");

    // Back to (a): the watchtower challenges, waits out the defence window, slashes. Its balance
    // is read once the challenge is open (its bond paid), so the gain below is the slash payout
    // and the bond coming back.
    wait_for("the watchtower's challenge", WAIT, || async {
        let v = verdict(&l2, digest).await?;
        let state = v["action"]["state"].clone();
        eyre::ensure!(state != json!("slashed"), "slashed before the challenge was seen: {v}");
        Ok((state == json!("challenged")).then_some(()))
    })
    .await?;
    let tower_before = l1p.get_balance(watchtower).await?;
    let slashed = wait_for("the broken promise to be slashed", WAIT * 2, || async {
        let v = verdict(&l2, digest).await?;
        Ok((v["action"]["state"] == json!("slashed")).then_some(v))
    })
    .await?;
    assert_eq!(slashed["status"], json!("broken"), "{slashed}");
    assert_eq!(slashed["fault"]["kind"], json!("notIncluded"), "{slashed}");
    let challenge = stranger.challenge(digest).await?;
    assert_eq!(challenge.status, ChallengeStatus::Slashed);
    assert_eq!(challenge.challenger, watchtower);
    let key = challenge.pubkey_hash;
    let min_collateral = U256::from(10u64).pow(U256::from(18u64));
    // Every opted-in devnet validator registered with the minimum (1 ether): all of it is gone.
    assert!(collateral(&l1, registry, key).await? < min_collateral);
    // Paid: half the slash (0.5 ether) and the bond back, minus gas (far below 0.1 ether).
    let gain = l1p.get_balance(watchtower).await?.saturating_sub(tower_before);
    let half = cfg.slash_amount / U256::from(2);
    assert!(gain > half + cfg.challenge_bond - U256::from(10u64).pow(U256::from(17u64)), "{gain}");
    let broken_list = rpc(&l2, "based_brokenCommitments", json!([])).await?;
    assert!(
        broken_list["result"]
            .as_array()
            .is_some_and(|l| l.iter().any(|c| c["digest"] == json!(digest))),
        "{broken_list}"
    );
    // The promise never landed.
    assert!(
        rpc(&l2, "eth_getTransactionReceipt", json!([hash])).await?["result"]["blockHash"]
            .as_str()
            .is_none()
    );

    // (c) The committer signs for a slot whose preconfer is not itself: slashed at once.
    let source = net.devnet.sequencing.lookahead.ok_or_else(|| eyre::eyre!("no lookahead"))?;
    let head = l1p.get_block_by_number(alloy_eips::BlockNumberOrTag::Latest).await?;
    let now_slot = clock.slot_at(head.map(|b| b.header.timestamp).unwrap_or_default());
    let mut foreign = None;
    for slot in
        (now_slot.saturating_sub(12)..now_slot.saturating_sub(cfg.challenge_delay + 1)).rev()
    {
        if based_tests::preconfer_committer(&l1, source, slot).await? != committer {
            foreign = Some(slot);
            break;
        }
    }
    let foreign = foreign.ok_or_else(|| eyre::eyre!("no slot without the committer"))?;
    let key_signer = based_devnet::devnet_committer();
    let (tx, _) = sign_l2_transfer(5, 0, Address::repeat_byte(0x51), U256::from(1))?;
    let request = InclusionPayload { slot: foreign, signed_tx: tx }.into_request(slasher);
    let not_owned = Commitment::for_request(&request).sign(&key_signer)?;
    let resp = rpc(&l2, "based_watchCommitment", json!([not_owned])).await?;
    assert_eq!(resp["result"]["added"], json!(true), "{resp}");
    let v = wait_for("the not-owned promise to be slashed", WAIT, || async {
        let v = verdict(&l2, not_owned.commitment.digest()).await?;
        Ok((v["action"]["state"] == json!("slashed")).then_some(v))
    })
    .await?;
    assert_eq!(v["fault"]["kind"], json!("notOwned"), "{v}");
    let slashed_key: B256 = serde_json::from_value(v["action"]["pubkeyHash"].clone())?;
    assert!(collateral(&l1, registry, slashed_key).await? < min_collateral);

    // Refused input: another slasher, a bad signature.
    let mut other = kept.clone();
    other.commitment.slasher = Address::repeat_byte(0x99);
    let resp = rpc(&l2, "based_watchCommitment", json!([other])).await?;
    assert_eq!(resp["error"]["code"], json!(-32602), "{resp}");
    let mut bad = serde_json::to_value(&kept)?;
    bad["signature"] = json!("0x1234");
    let resp = rpc(&l2, "based_watchCommitment", json!([bad])).await?;
    assert_eq!(resp["error"]["code"], json!(-32602), "{resp}");
    net.stop().await;
    Ok(())
}
