//! The devnet's metrics endpoint (`/metrics`, `/health`, `/ready`; port 0): after a transfer
//! lands on L2, the scrape shows the L2 head, imported blocks and gas, blobs fetched, the
//! proposer's included proposal and the RPC calls made; `/health` is 200 and `/ready` is 200
//! once the node is synced.

use alloy_primitives::{Address, U256};
use alloy_provider::Provider;
use based_tests::{TestNet, eyre, provider, send_transfer, wait_for, wait_for_receipt};
use std::time::Duration;

/// The value of the sample `series` (its name and labels, exactly as exposed) in `body`.
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn get(url: &str) -> eyre::Result<(u16, String)> {
    let response = reqwest::get(url).await?;
    Ok((response.status().as_u16(), response.text().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_health_and_readiness_of_a_running_devnet() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let net = TestNet::start_with(Some(based_tests::based_devnet::SequencingMode::Permissionless))
        .await?;
    let base = net.devnet.metrics.url();
    assert!(net.devnet.banner().contains(&format!("{base}/metrics")), "banner names the URL");
    assert_eq!(get(&format!("{base}/health")).await?.0, 200);

    let l2 = net.l2_url();
    let hash = send_transfer(&l2, 1, Address::repeat_byte(0x42), U256::from(1_000u64)).await?;
    let receipt = wait_for_receipt(&l2, hash).await?;
    let block = receipt.block_number.unwrap_or_default();
    assert!(block >= 1);
    // RPC calls the test makes itself: counted per method.
    let p = provider(&l2)?;
    for _ in 0..3 {
        p.get_chain_id().await?;
    }

    let body = wait_for("metrics after the transfer", Duration::from_secs(30), || {
        let url = format!("{base}/metrics");
        async move {
            let (status, body) = get(&url).await?;
            assert_eq!(status, 200);
            let head = sample(&body, "based_l2_head_block").unwrap_or(0.0);
            Ok((head >= block as f64).then_some(body))
        }
    })
    .await?;
    let value = |series: &str| sample(&body, series).unwrap_or(0.0);
    assert!(value("based_l2_head_block") >= 1.0, "{body}");
    assert!(value("based_l2_blocks_imported_total") >= 1.0, "{body}");
    assert!(value("based_l2_gas_imported_total") >= 21_000.0, "{body}");
    assert!(value("based_l2_transactions_imported_total") >= 1.0, "{body}");
    assert!(value("based_l1_head_block") >= value("based_l1_processed_block"), "{body}");
    assert!(value("based_l1_processed_block") > 0.0, "{body}");
    assert!(value("based_blobs_fetched_total") >= 1.0, "{body}");
    assert!(value("based_proposer_proposals_sent_total") >= 1.0, "{body}");
    assert!(value("based_proposer_proposals_included_total") >= 1.0, "{body}");
    assert!(
        value(r#"based_rpc_requests_total{server="node",method="eth_chainId"}"#) >= 3.0,
        "three eth_chainId calls to the node: {body}"
    );
    assert!(
        value(r#"based_rpc_requests_total{server="node",method="eth_sendRawTransaction"}"#) >= 1.0,
        "{body}"
    );
    assert!(
        value(r#"based_rpc_requests_total{server="proposer",method="eth_sendRawTransaction"}"#)
            >= 1.0,
        "the node forwarded the transfer to the proposer: {body}"
    );
    assert!(
        body.contains(
            r#"based_rpc_request_duration_seconds_bucket{server="node",method="eth_chainId",le="+Inf"}"#
        ),
        "RPC latency is a histogram: {body}"
    );
    // Every exported series is one the binary declares.
    for line in body.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let name = line.split(['{', ' ']).next().unwrap_or_default();
        assert!(based_metrics::names::lookup(name).is_some(), "undeclared metric {name}");
    }

    // An unknown method is counted under one label, whatever its name.
    let _ = p.raw_request::<_, serde_json::Value>("no_suchMethod123".into(), ()).await;
    let (_, body) = get(&format!("{base}/metrics")).await?;
    assert!(!body.contains("no_suchMethod123"), "unknown methods are not labels");
    assert!(
        sample(&body, r#"based_rpc_requests_total{server="node",method="other"}"#) >= Some(1.0)
    );

    // Synced: the node's L2 head is derived from an L1 block close to the L1 head.
    let (status, ready) = wait_for("/ready", Duration::from_secs(30), || {
        let url = format!("{base}/ready");
        async move {
            let (status, body) = get(&url).await?;
            Ok((status == 200).then_some((status, body)))
        }
    })
    .await?;
    assert_eq!(status, 200);
    assert!(ready.contains("\"ready\":true"), "{ready}");
    assert_eq!(get(&format!("{base}/health")).await?.0, 200);

    net.stop().await;
    Ok(())
}
