//! Client compatibility: the JavaScript suite `tests/js/compat.mjs` drives the devnet's L2 node
//! with the pinned ethers v6 and viem (package-lock.json, installed by `make tools`) the way a
//! dapp does: transfers, a contract deployment, `contract.on` / `watchContractEvent` /
//! `watchBlocks` / block filters, logs, revert reasons, gas and fee estimation and
//! `eth_getProof`. Every check must pass.

use std::time::Duration;

use based_tests::{TestNet, based_devnet::DEV_KEYS, eyre};

/// Dev account the suite signs with (funded on L2; used by no devnet service).
const COMPAT_KEY: usize = 3;

/// The checks `compat.mjs` runs; each prints `ok - <name>` when it passes.
const EXPECTED_CHECKS: usize = 17;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ethers_and_viem_drive_the_devnet() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let root = based_tests::repo_root();
    for package in ["ethers", "viem", "solc"] {
        eyre::ensure!(
            root.join("node_modules").join(package).join("package.json").is_file(),
            "node_modules/{package} is missing: run `make tools` (scripts/install-tools.sh)"
        );
    }
    let key = DEV_KEYS.get(COMPAT_KEY).ok_or_else(|| eyre::eyre!("no dev key {COMPAT_KEY}"))?;

    let net = TestNet::start().await?;
    let run = tokio::process::Command::new("node")
        .arg(root.join("tests/js/compat.mjs"))
        .env("BASED_L2_RPC_URL", net.l2_url())
        .env("BASED_COMPAT_KEY", key)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(180), run).await;
    net.stop().await;
    let out = out.map_err(|_| eyre::eyre!("compat.mjs did not finish within 180 s"))??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    based_tests::check_tap_output("compat.mjs", &stdout, &stderr, out.status, EXPECTED_CHECKS)?;
    Ok(())
}
