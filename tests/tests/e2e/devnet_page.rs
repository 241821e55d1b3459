//! The live devnet page in a real browser: `tests/js/devnet_page.mjs` drives Debian's chromium
//! (`/usr/bin/chromium`, installed by `scripts/install-browser.sh`) with the pinned playwright-core
//! (package-lock.json, installed by `make tools`) against a running devnet's page. It checks the L1
//! head, the slots of two epochs with their proposer, opt-in status and preconfer, the current
//! preconfer, the sync status and the L2 blocks; then, while the page stays open, this test sends
//! an L2 transaction and the page shows the new L2 block with its L1 origin without a reload; then
//! it sends a transaction through the gateway and the page lists the signed promise with its
//! latency, and later the block it landed in. A missing chromium or playwright-core fails the test.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use alloy_primitives::{Address, B256, U256};
use alloy_provider::Provider;
use based_tests::{TestNet, eyre, send_transfer};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// The browser the script drives (Debian's package; `BASED_CHROMIUM` overrides).
const CHROMIUM: &str = "/usr/bin/chromium";
/// Dev account whose transfer, sent to the node, makes the new L2 block.
const BLOCK_KEY: usize = 2;
/// Dev account whose transfer is sent through the gateway (a promise).
const PROMISE_KEY: usize = 6;
/// The checks `devnet_page.mjs` runs; each prints `ok - <name>` when it passes.
const EXPECTED_CHECKS: usize = 9;
/// Everything the script does, browser start included.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

/// Fails unless node, playwright-core and chromium are installed: the test never skips.
fn check_prerequisites(root: &Path, chromium: &Path) -> eyre::Result<()> {
    eyre::ensure!(
        root.join("node_modules/playwright-core/package.json").is_file(),
        "node_modules/playwright-core is missing: run `make tools` (scripts/install-tools.sh)"
    );
    eyre::ensure!(
        chromium.is_file(),
        "{} is missing: run scripts/install-browser.sh (`make test` does) or \
         `apt-get install --no-install-recommends chromium`",
        chromium.display()
    );
    let node = std::process::Command::new("node").arg("--version").output();
    eyre::ensure!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "`node` is not runnable (install Node.js >= 20): {node:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_devnet_page_shows_the_devnet_live_in_chromium() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let root = based_tests::repo_root();
    let chromium =
        std::env::var_os("BASED_CHROMIUM").map_or_else(|| PathBuf::from(CHROMIUM), PathBuf::from);
    check_prerequisites(&root, &chromium)?;

    let net = TestNet::start().await?;
    let result = tokio::time::timeout(SCRIPT_TIMEOUT, drive(&net, &root, &chromium)).await;
    net.stop().await;
    let (stdout, stderr, status) = result
        .map_err(|_| eyre::eyre!("devnet_page.mjs did not finish within {SCRIPT_TIMEOUT:?}"))??;

    based_tests::check_tap_output("devnet_page.mjs", &stdout, &stderr, status, EXPECTED_CHECKS)?;
    Ok(())
}

/// Sends a transfer from [`PROMISE_KEY`] through the gateway; returns its hash once promised.
/// With 1-second slots the next epoch's lookahead is posted late in the epoch, so for a moment
/// the gateway may know no slot of its own far enough ahead (-32011, not the preconfer): the same
/// signed transaction is sent again.
async fn send_promised(gateway: &str) -> eyre::Result<B256> {
    let (raw, hash) =
        based_tests::sign_l2_transfer(PROMISE_KEY, 0, Address::repeat_byte(0x62), U256::from(2))?;
    let gateway = based_tests::provider(gateway)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let sent: Result<B256, _> =
            gateway.raw_request("eth_sendRawTransaction".into(), (raw.clone(),)).await;
        match sent {
            Ok(answered) => {
                eyre::ensure!(answered == hash, "the gateway answered {answered}, not {hash}");
                return Ok(hash);
            }
            Err(e)
                if e.to_string().contains("not the preconfer")
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(eyre::eyre!("sending through the gateway: {e}")),
        }
    }
}

/// Runs the script against `net`'s page and answers its requests; returns its stdout, stderr and
/// exit status.
async fn drive(
    net: &TestNet,
    root: &Path,
    chromium: &Path,
) -> eyre::Result<(String, String, std::process::ExitStatus)> {
    let mut child = tokio::process::Command::new("node")
        .arg(root.join("tests/js/devnet_page.mjs"))
        .env("BASED_PAGE_URL", net.devnet.page_url())
        .env("BASED_CHROMIUM", chromium)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = child.stdin.take().ok_or_else(|| eyre::eyre!("no stdin"))?;
    let stdout = child.stdout.take().ok_or_else(|| eyre::eyre!("no stdout"))?;
    let mut stderr = child.stderr.take().ok_or_else(|| eyre::eyre!("no stderr"))?;
    let stderr_task = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });

    let mut lines = BufReader::new(stdout).lines();
    let mut out = String::new();
    while let Some(line) = lines.next_line().await? {
        out.push_str(&line);
        out.push('\n');
        match line.as_str() {
            // A plain L2 transfer to the node: the proposer posts it, a new L2 block follows.
            "ready-for-block" => {
                send_transfer(&net.l2_url(), BLOCK_KEY, Address::repeat_byte(0x61), U256::from(1))
                    .await?;
            }
            // A transfer through the gateway: answered with a signed promise.
            "ready-for-tx" => {
                let hash = send_promised(&net.devnet.gateway.url()).await?;
                stdin.write_all(format!("tx {hash}\n").as_bytes()).await?;
                stdin.flush().await?;
            }
            _ => {}
        }
    }
    let status = child.wait().await?;
    let stderr = stderr_task.await.unwrap_or_default();
    Ok((out, stderr, status))
}
