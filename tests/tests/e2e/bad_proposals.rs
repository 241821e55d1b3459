//! Proposals whose blobs hold garbage, a corrupted compressed payload or a batch for another chain
//! are skipped by the spec's rules, and the chain goes on.

use alloy_eips::eip4844::BlobTransactionSidecar;
use alloy_primitives::{Address, U256};
use alloy_provider::Provider;
use based_contracts::Inbox;
use based_tests::{
    TestNet, empty_batch_sidecar_for, eyre, propose_blob, provider, send_transfer, wait_for,
    wait_for_receipt,
};
use std::time::Duration;

/// Posts `sidecar` to the Inbox from L1 dev account `key`; returns the proposal id (from the
/// `Proposed` event) and the L1 block that includes it.
async fn propose_raw(
    net: &TestNet,
    key: usize,
    sidecar: BlobTransactionSidecar,
) -> eyre::Result<(u64, u64)> {
    let r = propose_blob(&net.l1_url(), net.devnet.inbox, key, sidecar).await?;
    eyre::ensure!(r.status(), "propose reverted");
    let ids: Vec<u64> = r
        .inner
        .logs()
        .iter()
        .filter_map(|l| l.log_decode::<Inbox::Proposed>().ok())
        .map(|l| l.inner.data.id.to::<u64>())
        .collect();
    eyre::ensure!(ids.len() == 1, "expected one Proposed event, got {ids:?}");
    Ok((ids[0], r.block_number.ok_or_else(|| eyre::eyre!("receipt without block"))?))
}

fn hex_u64(v: &serde_json::Value) -> eyre::Result<u64> {
    let s = v.as_str().ok_or_else(|| eyre::eyre!("not a hex quantity: {v}"))?;
    Ok(u64::from_str_radix(s.trim_start_matches("0x"), 16)?)
}

fn sidecar(blobs: Vec<based_blob::Blob>) -> eyre::Result<BlobTransactionSidecar> {
    based_blob::kzg::sidecar_from_blobs(blobs).map_err(|e| eyre::eyre!("{e:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_proposals_are_skipped() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    // Permissionless: a stranger's proposals must land whatever the slot (opt-in mode is covered by
    // opt_in_sequencing.rs and escape_hatch.rs).
    let net = TestNet::start_with(Some(based_tests::based_devnet::SequencingMode::Permissionless))
        .await?;
    let l2 = net.l2_url();
    let p = provider(&l2)?;
    // The proposer only proposes when it holds transactions, so nothing is derived before ours.
    let l2_before = p.get_block_number().await?;
    assert_eq!(l2_before, 0, "L2 blocks before any proposal");

    // 1. Random bytes (canonical field elements, but not a payload).
    let garbage: Vec<u8> =
        (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let mut bad = Vec::new();
    bad.push(propose_raw(&net, 7, sidecar(vec![based_blob::packing::pack_blob(&garbage)])?).await?);
    // 2. A well-framed zstd payload whose body is corrupt.
    let payload =
        based_blob::payload::payload_from_body(based_blob::payload::PAYLOAD_VERSION_ZSTD, &garbage)
            .map_err(|e| eyre::eyre!("{e}"))?;
    bad.push(propose_raw(&net, 7, sidecar(based_blob::packing::stream_to_blobs(&payload))?).await?);
    // 3. A valid batch for another chain.
    let wrong_chain = empty_batch_sidecar_for(&net.l1_url(), 1).await?;
    bad.push(propose_raw(&net, 7, wrong_chain).await?);
    // The first three proposals of a fresh Inbox: ids 0, 1, 2, each consumed although skipped.
    let bad_ids: Vec<u64> = bad.iter().map(|(id, _)| *id).collect();
    assert_eq!(bad_ids, vec![0, 1, 2]);
    let last_bad_l1 = bad.iter().map(|(_, n)| *n).max().unwrap_or_default();

    // Once the node has processed the L1 blocks carrying them, no L2 block came from them and the
    // node is neither halted nor behind.
    let status = wait_for("node past the bad proposals", Duration::from_secs(60), || {
        let p = p.clone();
        async move {
            let s: serde_json::Value = p.raw_request("based_syncStatus".into(), ()).await?;
            Ok((hex_u64(&s["l1Processed"])? >= last_bad_l1).then_some(s))
        }
    })
    .await?;
    assert_eq!(hex_u64(&status["l2Head"])?, l2_before, "L2 block derived from a bad proposal");
    assert_eq!(p.get_block_number().await?, l2_before);

    // The chain goes on: a valid transfer lands in the next L2 block, from the next proposal id.
    let to = Address::repeat_byte(0x99);
    let hash = send_transfer(&l2, 9, to, U256::from(9)).await?;
    let receipt = wait_for_receipt(&l2, hash).await?;
    assert!(receipt.status());
    let block = receipt.block_number.expect("block number");
    assert_eq!(block, l2_before + 1);
    let origin: serde_json::Value =
        p.raw_request("based_l1Origin".into(), (format!("{block:#x}"),)).await?;
    assert_eq!(
        hex_u64(&origin["proposalId"])?,
        3,
        "transfer not from the proposal after the bad ones"
    );
    assert!(hex_u64(&origin["l1BlockNumber"])? > last_bad_l1);
    assert_eq!(p.get_balance(to).await?, U256::from(9));
    let sender = based_tests::based_devnet::dev_signer(9).expect("dev key 9").address();
    assert_eq!(p.get_transaction_count(sender).await?, 1);
    let status: serde_json::Value = p.raw_request("based_syncStatus".into(), ()).await?;
    assert_eq!(hex_u64(&status["l2Head"])?, block);

    net.stop().await;
    Ok(())
}
