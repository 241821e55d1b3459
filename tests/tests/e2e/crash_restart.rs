//! A node killed with SIGKILL in the middle of syncing restarts from its store and reaches the same
//! head with identical block hashes.

use alloy_primitives::{Address, U256};
use alloy_provider::Provider;
use based_tests::{
    NodeProcess, TestNet, WAIT, chain_digest, eyre, provider, send_transfer, wait_for,
    wait_for_block, wait_for_receipt,
};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_sync_then_restart() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let net = TestNet::start().await?;
    let l2 = net.l2_url();
    // Some history: a few proposals separated by many empty L1 blocks.
    let mut head = 0;
    for i in 0..3u8 {
        let hash =
            send_transfer(&l2, 5, Address::repeat_byte(0x50 + i), U256::from(5 + u64::from(i)))
                .await?;
        head = wait_for_receipt(&l2, hash).await?.block_number.expect("block number");
        net.devnet.anvil.rpc("anvil_mine", "[\"0x60\", \"0x1\"]")?;
    }

    let dir = tempfile::tempdir()?;
    let cfg = net.node_config(dir.path());
    let port = based_anvil::free_port()?;
    let mut node = NodeProcess::spawn(&cfg, port)?;
    // Kill it as soon as it has made some progress but before it is done.
    let url = node.url.clone();
    wait_for("first progress of the child node", WAIT, || {
        let url = url.clone();
        async move {
            let Ok(p) = provider(&url) else { return Ok(None) };
            Ok(p.get_block_number().await.ok().filter(|n| *n >= 1).map(|_| ()))
        }
    })
    .await?;
    node.kill9()?;
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Restart on the same data directory.
    let node = NodeProcess::spawn(&cfg, port)?;
    wait_for_block(&node.url, head).await?;
    let a = chain_digest(&l2, head).await?;
    let b = chain_digest(&node.url, head).await?;
    assert_eq!(a, b, "restarted node differs");
    drop(node);
    net.stop().await;
    Ok(())
}
