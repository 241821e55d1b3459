//! Proposals whose blobs hold garbage, a corrupted compressed payload or a batch for another chain
//! are skipped by the spec's rules, and the chain goes on.

use alloy_eips::eip4844::BlobTransactionSidecar;
use alloy_network::{TransactionBuilder, TransactionBuilder4844};
use alloy_primitives::{Address, Bytes, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::SolCall;
use based_contracts::Inbox;
use based_primitives::{Batch, BlockManifest, L1Anchor};
use based_tests::{TestNet, eyre, provider, send_transfer, wait_for_receipt, wallet_provider};

async fn propose_raw(
    net: &TestNet,
    key: usize,
    sidecar: BlobTransactionSidecar,
) -> eyre::Result<()> {
    let l1 = wallet_provider(&net.l1_url(), key)?;
    let mut tx = TransactionRequest::default()
        .with_to(net.devnet.inbox)
        .with_input(Bytes::from(Inbox::proposeCall {}.abi_encode()))
        .with_blob_sidecar_4844(sidecar);
    tx.max_fee_per_blob_gas = Some(l1.get_blob_base_fee().await?.saturating_mul(2).max(1));
    tx.populate_blob_hashes();
    let r = l1.send_transaction(tx).await?.get_receipt().await?;
    eyre::ensure!(r.status(), "propose reverted");
    Ok(())
}

fn sidecar(blobs: Vec<based_blob::Blob>) -> eyre::Result<BlobTransactionSidecar> {
    based_blob::kzg::sidecar_from_blobs(blobs).map_err(|e| eyre::eyre!("{e:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_proposals_are_skipped() -> eyre::Result<()> {
    // Permissionless: a stranger's proposals must land whatever the slot (opt-in mode is covered by
    // opt_in_sequencing.rs and escape_hatch.rs).
    let net = TestNet::start_with(Some(based_tests::based_devnet::SequencingMode::Permissionless))
        .await?;
    let l2 = net.l2_url();

    // 1. Random bytes (canonical field elements, but not a payload).
    let garbage: Vec<u8> =
        (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    propose_raw(&net, 7, sidecar(vec![based_blob::packing::pack_blob(&garbage)])?).await?;
    // 2. A well-framed zstd payload whose body is corrupt.
    let payload =
        based_blob::payload::payload_from_body(based_blob::payload::PAYLOAD_VERSION_ZSTD, &garbage)
            .map_err(|e| eyre::eyre!("{e}"))?;
    propose_raw(&net, 7, sidecar(based_blob::packing::stream_to_blobs(&payload))?).await?;
    // 3. A valid batch for another chain.
    let l1 = provider(&net.l1_url())?;
    let head =
        l1.get_block_by_number(alloy_eips::BlockNumberOrTag::Latest).await?.expect("L1 head");
    let wrong_chain = Batch {
        chain_id: 1,
        manifests: vec![BlockManifest {
            timestamp: head.header.timestamp,
            fee_recipient: Address::ZERO,
            gas_limit: 30_000_000,
            anchor: L1Anchor { number: head.header.number, hash: head.header.hash },
            transactions: vec![],
        }],
    };
    let encoded = based_blob::encode_batch(&wrong_chain).map_err(|e| eyre::eyre!("{e}"))?;
    propose_raw(&net, 7, encoded.sidecar).await?;

    // The chain goes on: a valid transfer lands, and no L2 block comes from the bad proposals.
    let hash = send_transfer(&l2, 9, Address::repeat_byte(0x99), U256::from(9)).await?;
    let receipt = wait_for_receipt(&l2, hash).await?;
    assert!(receipt.status());
    let head = receipt.block_number.expect("block number");
    let p = provider(&l2)?;
    for n in 1..=head {
        let o: serde_json::Value =
            p.raw_request("based_l1Origin".into(), (format!("{n:#x}"),)).await?;
        let id = u64::from_str_radix(
            o["proposalId"].as_str().unwrap_or("0x0").trim_start_matches("0x"),
            16,
        )?;
        assert!(id >= 3, "L2 block {n} derived from bad proposal {id}");
    }
    let status: serde_json::Value = p.raw_request("based_syncStatus".into(), ()).await?;
    assert!(status["l2Head"].as_str().is_some());

    net.stop().await;
    Ok(())
}
