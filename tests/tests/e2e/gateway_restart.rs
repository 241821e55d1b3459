//! `based gateway` as an operator runs it (its own process, the committer key from the
//! environment), killed with SIGKILL after promising and restarted: every earlier promise comes
//! back byte for byte, a conflicting request for a promised nonce is refused, the same transaction
//! is not promised twice, the next nonce continues, and all promised transactions land on L2.

use alloy_primitives::{Address, B256, Bytes, U256};
use based_commitments::SignedCommitment;
use based_tests::{TestNet, based_bin, eyre, sign_l2_transfer, wait_for, wait_for_receipt};
use serde_json::{Value, json};
use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

/// A committer key for this test only (no funds needed: it only signs promises).
const COMMITTER_KEY: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";

fn spawn_gateway(net: &TestNet, datadir: &Path, port: u16) -> eyre::Result<Child> {
    Ok(Command::new(based_bin()?)
        .arg("gateway")
        .args(["--chain", "devnet", "--l2.rpc-url", &net.l2_url()])
        .args(["--proposer.url", &format!("http://{}", net.devnet.proposer.rpc_addr())])
        .arg("--datadir")
        .arg(datadir)
        .args(["--http.addr", &format!("127.0.0.1:{port}")])
        .args(["--l1.genesis-time", &net.devnet.beacon.genesis_time().to_string()])
        .args(["--l1.seconds-per-slot", "1"])
        .env("BASED_COMMITTER_KEY", COMMITTER_KEY)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?)
}

async fn rpc(url: &str, method: &str, params: Value) -> eyre::Result<Value> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    Ok(reqwest::Client::new().post(url).json(&body).send().await?.json().await?)
}

async fn wait_ready(url: &str) -> eyre::Result<()> {
    wait_for("gateway", Duration::from_secs(30), || async {
        Ok(rpc(url, "eth_chainId", json!([])).await.ok().map(|_| ()))
    })
    .await
}

async fn promise(url: &str, raw: &Bytes) -> eyre::Result<(B256, SignedCommitment)> {
    let resp = rpc(url, "eth_sendRawTransaction", json!([raw])).await?;
    let hash: B256 =
        serde_json::from_value(resp["result"].clone()).map_err(|e| eyre::eyre!("{e}: {resp}"))?;
    let resp = rpc(url, "commitmentResult", json!([hash])).await?;
    let signed =
        serde_json::from_value(resp["result"].clone()).map_err(|e| eyre::eyre!("{e}: {resp}"))?;
    Ok((hash, signed))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_gateway_keeps_every_promise_and_never_equivocates() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let net = TestNet::start().await?;
    let dir = tempfile::tempdir()?;
    let port = based_anvil::free_port()?;
    let url = format!("http://127.0.0.1:{port}");
    let committer: alloy_signer_local::PrivateKeySigner = COMMITTER_KEY.parse()?;

    let mut gateway = spawn_gateway(&net, dir.path(), port)?;
    wait_ready(&url).await?;
    let mut promised = Vec::new();
    for nonce in 0..3u64 {
        let (raw, hash) = sign_l2_transfer(3, nonce, Address::repeat_byte(0x70), U256::from(1))?;
        let (answered, signed) = promise(&url, &raw).await?;
        assert_eq!(answered, hash);
        signed.verify(committer.address())?;
        promised.push((raw, hash, signed));
    }
    // SIGKILL right after the last answer: every answered promise must survive.
    gateway.kill()?;
    gateway.wait()?;

    let mut gateway = spawn_gateway(&net, dir.path(), port)?;
    wait_ready(&url).await?;
    for (raw, hash, signed) in &promised {
        let resp = rpc(&url, "commitmentResult", json!([hash])).await?;
        let again: SignedCommitment = serde_json::from_value(resp["result"].clone())
            .map_err(|e| eyre::eyre!("{e}: {resp}"))?;
        assert_eq!(&again, signed, "promise for {hash} changed across the restart");
        // Sending the same transaction again answers the same hash, no new promise.
        let resp = rpc(&url, "eth_sendRawTransaction", json!([raw])).await?;
        assert_eq!(resp["result"], json!(hash), "{resp}");
    }
    // Another transaction for a promised nonce would equivocate: refused after the restart too
    // (as a conflict, or as a nonce below the account's once the promised one is on L2), and no
    // commitment exists for it.
    let (conflicting, conflicting_hash) =
        sign_l2_transfer(3, 1, Address::repeat_byte(0x71), U256::from(2))?;
    let resp = rpc(&url, "eth_sendRawTransaction", json!([conflicting])).await?;
    let code = resp["error"]["code"].as_i64();
    assert!(code == Some(-32015) || code == Some(-32013), "{resp}");
    let resp = rpc(&url, "commitmentResult", json!([conflicting_hash])).await?;
    assert_eq!(resp["error"]["code"], json!(-32001), "{resp}");
    // The next nonce continues after the recovered promises.
    let (next, next_hash) = sign_l2_transfer(3, 3, Address::repeat_byte(0x70), U256::from(1))?;
    let (answered, _) = promise(&url, &next).await?;
    assert_eq!(answered, next_hash);

    for hash in promised.iter().map(|p| p.1).chain([next_hash]) {
        assert!(wait_for_receipt(&net.l2_url(), hash).await?.status());
    }
    gateway.kill()?;
    gateway.wait()?;
    net.stop().await;
    Ok(())
}
