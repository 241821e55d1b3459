//! An L1 past Fusaka (anvil with Osaka rules): the proposer sends its blobs with EIP-7594 cell
//! proofs (128 per blob, network wrapper version 1), and the rollup runs unchanged: a transfer is
//! posted, its blobs fetched by slot from the beacon API and verified against the versioned
//! hashes, and derived.

use alloy_primitives::{Address, U256};
use alloy_provider::Provider;
use based_tests::{TestNet, eyre, provider, send_transfer, wait_for_receipt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_with_cell_proofs_on_an_osaka_l1() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let net = TestNet::start_configured(None, |c| {
        c.l1_hardfork = "osaka".into();
        c.blob_sidecar = based_proposer::sidecar::SidecarMode::Eip7594;
    })
    .await?;
    let l1 = provider(&net.l1_url())?;
    let version: String = l1.raw_request("web3_clientVersion".into(), ()).await?;
    assert!(version.contains("anvil"), "{version}");

    let (l2, to) = (net.l2_url(), Address::repeat_byte(0x75));
    let hash = send_transfer(&l2, 1, to, U256::from(7_594u64)).await?;
    let receipt = wait_for_receipt(&l2, hash).await?;
    assert!(receipt.status(), "transfer reverted");
    assert_eq!(provider(&l2)?.get_balance(to).await?, U256::from(7_594u64));
    Ok(())
}
