//! Two nodes following the same L1 derive identical L2 chains: every block hash and state root.
//!
//! The second node runs with other non-consensus settings (poll interval, confirmation margin, no
//! trie cache) and the same chain spec (the devnet's, with the `Inbox`, L1 chain id and start block
//! it deployed): only the chain spec decides the chain.

use alloy_primitives::{Address, U256};
use alloy_provider::Provider;
use based_tests::{TestNet, chain_digest, eyre, send_transfer, wait_for_block, wait_for_receipt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_agree_on_every_block() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let net = TestNet::start().await?;
    let l2 = net.l2_url();
    let dir = tempfile::tempdir()?;
    let mut cfg = net.node_config(dir.path());
    cfg.poll_interval = std::time::Duration::from_millis(700);
    cfg.confirmations = 7;
    cfg.trie_cache_bytes = 0;
    assert_eq!(cfg.chain.l1().inbox_address, net.devnet.inbox);
    assert_eq!(cfg.chain.l1().start_block, net.devnet.inbox_block.saturating_sub(1));
    let second = based_node::launch(cfg).await?;

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
    // Both drivers run (neither stalled nor halted).
    for url in [l2.as_str(), second.rpc_url().as_str()] {
        let status: serde_json::Value =
            based_tests::provider(url)?.raw_request("based_syncStatus".into(), ()).await?;
        assert_eq!(status["driver"]["state"], "running", "{url}: {status}");
    }

    second.stop().await;
    net.stop().await;
    Ok(())
}
