//! The node reads blobs the way it would from a real consensus client (slots, not execution
//! hashes), skips a dead beacon node and gets blobs its beacon node pruned from an archive.

use alloy_primitives::{Address, U256};
use alloy_provider::Provider;
use based_tests::{
    TestNet,
    based_devnet::based_beacon::{DevBeacon, DevBeaconConfig},
    chain_digest, eyre, provider, send_transfer, wait_for_block, wait_for_receipt,
};

/// `GET url` over plain HTTP/1.1 (the scenario crate has no HTTP client); status and JSON body.
async fn get(url: &str) -> eyre::Result<(u16, serde_json::Value)> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").ok_or_else(|| eyre::eyre!("not http: {url}"))?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, path) = (host.to_string(), path.to_string());
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&host)?;
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        Ok((status, serde_json::from_str(body).unwrap_or_default()))
    })
    .await?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_by_slot_with_fallback_sources() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let net = TestNet::start().await?;
    let l2 = net.l2_url();
    let hash = send_transfer(&l2, 2, Address::repeat_byte(0x22), U256::from(2_222)).await?;
    let head = wait_for_receipt(&l2, hash).await?.block_number.expect("block number");

    // The proposal's L1 block: the devnet beacon knows it by slot and root, not by its hash.
    let origin: serde_json::Value =
        provider(&l2)?.raw_request("based_l1Origin".into(), (format!("{head:#x}"),)).await?;
    let l1_hash: alloy_primitives::B256 =
        origin["l1BlockHash"].as_str().expect("l1BlockHash").parse()?;
    let beacon = net.beacon_url();
    let (status, body) = get(&format!("{beacon}/eth/v1/beacon/blobs/{l1_hash}")).await?;
    assert_eq!(status, 404, "execution hash is no block id: {body}");
    let slot = net.devnet.beacon.slot_of(l1_hash).await.expect("proposal block has a slot");
    let (status, block) = get(&format!("{beacon}/eth/v2/beacon/blocks/{slot}")).await?;
    assert_eq!(status, 200);
    assert_eq!(
        block["data"]["message"]["body"]["execution_payload"]["block_hash"],
        l1_hash.to_string()
    );
    let (_, blobs) = get(&format!("{beacon}/eth/v1/beacon/blob_sidecars/{slot}")).await?;
    assert!(!blobs["data"].as_array().expect("sidecars").is_empty());

    // A second node: its first beacon node is down, its second prunes every blob below its head,
    // and the devnet beacon is its archive.
    let pruning = DevBeacon::start(
        DevBeaconConfig {
            seconds_per_slot: 1,
            blob_retention_slots: Some(0),
            ..Default::default()
        },
        net.l1_url().parse()?,
    )
    .await?;
    // Two more L1 blocks, so the proposal's block is below the pruning beacon node's head.
    net.devnet.anvil.rpc("anvil_mine", "[\"0x2\", \"0x1\"]")?;
    let (status, _) = get(&format!("{}/eth/v1/beacon/blob_sidecars/{slot}", pruning.url())).await?;
    assert_eq!(status, 404, "pruned");
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        format!("http://{}", l.local_addr()?)
    };
    let dir = tempfile::tempdir()?;
    let mut cfg = net.node_config(dir.path());
    cfg.l1_beacon_urls = vec![dead, pruning.url()];
    cfg.l1_blob_archive_urls = vec![net.beacon_url()];
    let archive_hits = net.devnet.beacon.hits("blob_sidecars");
    let node = based_node::launch(cfg).await?;
    wait_for_block(&node.rpc_url(), head).await?;
    assert_eq!(chain_digest(&l2, head).await?, chain_digest(&node.rpc_url(), head).await?);
    assert!(pruning.hits("blocks") >= 1, "the pruning beacon node located the blocks");
    assert!(net.devnet.beacon.hits("blob_sidecars") > archive_hits, "blobs came from the archive");
    assert_eq!(
        provider(&node.rpc_url())?.get_balance(Address::repeat_byte(0x22)).await?,
        U256::from(2_222)
    );

    node.stop().await;
    pruning.stop().await;
    net.stop().await;
    Ok(())
}
