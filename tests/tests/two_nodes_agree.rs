//! Two nodes following the same L1 derive identical L2 chains: every block hash and state root.

use alloy_primitives::{Address, U256};
use based_tests::{TestNet, chain_digest, eyre, send_transfer, wait_for_block, wait_for_receipt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_agree_on_every_block() -> eyre::Result<()> {
    let net = TestNet::start().await?;
    let l2 = net.l2_url();
    let dir = tempfile::tempdir()?;
    let second = net.start_node(dir.path()).await?;

    let mut last = None;
    for i in 0..3u8 {
        let hash =
            send_transfer(&l2, 2, Address::repeat_byte(0x10 + i), U256::from(1000 + u64::from(i)))
                .await?;
        last = Some(wait_for_receipt(&l2, hash).await?);
    }
    let head = last.and_then(|r| r.block_number).expect("receipt has a block");
    wait_for_block(&second.rpc_url(), head).await?;

    let a = chain_digest(&l2, head).await?;
    let b = chain_digest(&second.rpc_url(), head).await?;
    assert_eq!(a.len() as u64, head + 1);
    assert_eq!(a, b, "the two nodes disagree");

    second.stop().await;
    net.stop().await;
    Ok(())
}
