//! An L1 reorg that removes a proposal unwinds the L2 blocks derived from it; the node then holds
//! exactly the chain of a node that never saw the orphaned L1 blocks.

use alloy_primitives::{Address, U256};
use alloy_provider::Provider;
use based_tests::{
    TestNet, WAIT, chain_digest, eyre, provider, send_transfer, wait_for, wait_for_block,
    wait_for_receipt,
};

async fn origin_hash(url: &str, block: u64) -> eyre::Result<Option<String>> {
    let p = provider(url)?;
    let origin: serde_json::Value =
        p.raw_request("based_l1Origin".into(), (format!("{block:#x}"),)).await?;
    Ok(origin["l1BlockHash"].as_str().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorged_proposal_is_unwound_and_rederived() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let net = TestNet::start().await?;
    let l2 = net.l2_url();
    let l1 = provider(&net.l1_url())?;

    // Snapshot L1 before the proposal; reverting to it later orphans the proposal's block.
    // (anvil_reorg would also do, but it gives the replacement blocks equal timestamps, which
    // real L1 never does and the derivation rejects.)
    let snapshot = net.devnet.anvil.rpc("evm_snapshot", "[]")?;
    let hash = send_transfer(&l2, 3, Address::repeat_byte(0x33), U256::from(777)).await?;
    let receipt = wait_for_receipt(&l2, hash).await?;
    let l2_block = receipt.block_number.expect("block number");
    let orphaned = origin_hash(&l2, l2_block).await?.expect("origin of the derived block");
    let origin_number = {
        let p = provider(&l2)?;
        let o: serde_json::Value =
            p.raw_request("based_l1Origin".into(), (format!("{l2_block:#x}"),)).await?;
        u64::from_str_radix(
            o["l1BlockNumber"].as_str().unwrap_or("0x0").trim_start_matches("0x"),
            16,
        )?
    };

    // Reorg L1 back to before the proposal's block; the interval miner then builds a new branch.
    let head = l1.get_block_number().await?;
    assert!(head >= origin_number);
    let reverted = net.devnet.anvil.rpc("evm_revert", &format!("[{snapshot}]"))?;
    assert_eq!(reverted, serde_json::json!(true));
    assert!(l1.get_block_number().await? < origin_number, "revert did not orphan the proposal");

    // The node drops (or re-derives under another L1 origin) every L2 block of the orphaned block.
    wait_for("unwind of the orphaned proposal", WAIT, || {
        let l2 = l2.clone();
        let orphaned = orphaned.clone();
        async move {
            let now = origin_hash(&l2, l2_block).await.ok().flatten();
            Ok((now.as_deref() != Some(orphaned.as_str())).then_some(()))
        }
    })
    .await?;

    // The chain goes on: a new transfer lands.
    let hash2 = send_transfer(&l2, 4, Address::repeat_byte(0x44), U256::from(888)).await?;
    let r2 = wait_for_receipt(&l2, hash2).await?;
    let head2 = r2.block_number.expect("block number");

    // A node that never saw the orphaned blocks derives exactly the same chain.
    let dir = tempfile::tempdir()?;
    let fresh = net.start_node(dir.path()).await?;
    wait_for_block(&fresh.rpc_url(), head2).await?;
    let a = chain_digest(&l2, head2).await?;
    let b = chain_digest(&fresh.rpc_url(), head2).await?;
    assert_eq!(a, b, "reorged node differs from a fresh node");
    assert_ne!(origin_hash(&fresh.rpc_url(), l2_block).await?.as_deref(), Some(orphaned.as_str()));

    fresh.stop().await;
    net.stop().await;
    Ok(())
}
