//! An L2 transfer sent to the node is forwarded to the proposer, posted to L1 in a blob, derived
//! into an L2 block and answered for with the right receipt and balances.

use alloy_primitives::{Address, U256};
use alloy_provider::Provider;
use based_tests::{TestNet, eyre, provider, send_transfer, wait_for_receipt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_lands_in_a_derived_block() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let net = TestNet::start().await?;
    let l2 = net.l2_url();
    let to = Address::repeat_byte(0x42);
    let value = U256::from(1_234_567_890_000_000u64);

    let hash = send_transfer(&l2, 1, to, value).await?;
    let receipt = wait_for_receipt(&l2, hash).await?;
    assert!(receipt.status(), "transfer reverted");
    assert_eq!(receipt.transaction_hash, hash);
    assert_eq!(receipt.gas_used, 21_000);
    let block = receipt.block_number.expect("mined receipt has a block number");
    assert!(block >= 1);

    let p = provider(&l2)?;
    assert_eq!(p.get_balance(to).await?, value);
    let tx = p.get_transaction_by_hash(hash).await?.expect("transaction is indexed");
    assert_eq!(tx.block_number, Some(block));

    // The block's L1 origin is the L1 block holding the proposal.
    let origin: serde_json::Value =
        p.raw_request("based_l1Origin".into(), (format!("{block:#x}"),)).await?;
    let l1_block = u64::from_str_radix(
        origin["l1BlockNumber"].as_str().expect("l1BlockNumber").trim_start_matches("0x"),
        16,
    )?;
    assert!(l1_block > net.devnet.inbox_block, "origin {l1_block} not after the Inbox deployment");
    let l1 = provider(&net.l1_url())?;
    let l1_blk = l1.get_block_by_number(l1_block.into()).await?.expect("L1 origin block exists");
    assert_eq!(
        format!("{:#x}", l1_blk.header.hash),
        origin["l1BlockHash"].as_str().unwrap_or_default()
    );

    // A wallet sending several transactions in a row asks the node for the `pending` nonce before
    // each: it counts the ones still on their way to a proposal, so each gets the next nonce and
    // all of them land.
    let sender = based_devnet::dev_signer(1).expect("dev key 1").address();
    let first_nonce = p.get_transaction_count(sender).pending().await?;
    let mut hashes = Vec::new();
    for i in 1..=3u64 {
        hashes.push(send_transfer(&l2, 1, to, U256::from(i)).await?);
    }
    assert_eq!(p.get_transaction_count(sender).pending().await?, first_nonce + 3);
    for (i, hash) in hashes.into_iter().enumerate() {
        let receipt = wait_for_receipt(&l2, hash).await?;
        assert!(receipt.status(), "transfer {i} reverted");
        let tx = p.get_transaction_by_hash(hash).await?.expect("transaction is indexed");
        assert_eq!(alloy_consensus::Transaction::nonce(&tx), first_nonce + i as u64);
    }
    assert_eq!(p.get_transaction_count(sender).await?, first_nonce + 3);

    net.stop().await;
    Ok(())
}
