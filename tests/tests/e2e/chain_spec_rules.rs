//! The chain spec is the only consensus input, and it is checked: a spec that breaks a rule is
//! refused at start with an error naming the field, and a node refuses an L1 whose chain id is not
//! the spec's (`config.based.l1.chainId`).

use based_chainspec::{ChainSpec, DEVNET_GENESIS_JSON};
use based_tests::{based_bin, eyre};
use std::{net::SocketAddr, process::Command, sync::Arc, time::Duration};

/// An edit of a chain spec JSON.
type Edit = dyn Fn(&mut serde_json::Value);

/// `based node --chain <file>` with a spec breaking one rule exits non-zero, naming the field.
#[test]
fn a_spec_breaking_a_rule_is_refused_naming_the_field() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let dir = tempfile::tempdir()?;
    let cases: [(&str, &Edit, &str); 4] = [
        (
            "anchor age",
            &|j| j["config"]["based"]["derivation"]["maxAnchorAge"] = 0.into(),
            "config.based.derivation.maxAnchorAge",
        ),
        ("gas limit", &|j| j["gasLimit"] = "0x10".into(), "gasLimit 16"),
        (
            "no L1 section",
            &|j| {
                j["config"]["based"].as_object_mut().map(|b| b.remove("l1"));
            },
            "config.based.l1 is missing",
        ),
        (
            "L1 chain id = L2 chain id",
            &|j| j["config"]["based"]["l1"]["chainId"] = 4242.into(),
            "config.based.l1.chainId",
        ),
    ];
    for (name, edit, field) in cases {
        let mut json: serde_json::Value = serde_json::from_str(DEVNET_GENESIS_JSON)?;
        edit(&mut json);
        let path = dir.path().join(format!("{}.json", name.replace(' ', "-")));
        std::fs::write(&path, json.to_string())?;
        let out = Command::new(based_bin()?)
            .arg("node")
            .arg("--chain")
            .arg(&path)
            .arg("--datadir")
            .arg(dir.path().join("data"))
            // Nothing listens here: the spec must be refused before any L1 contact.
            .arg("--l1.rpc-url")
            .arg("http://127.0.0.1:9")
            .env("RUST_LOG", "off")
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: accepted");
        assert!(stderr.contains(field), "{name}: the error does not name {field}: {stderr}");
    }
    Ok(())
}

/// A node pointed at an L1 with another chain id stops at start with both ids in the error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_refuses_an_l1_with_another_chain_id() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    based_tests::init_tracing();
    let anvil = based_anvil::Anvil::spawn(&based_anvil::AnvilOptions {
        chain_id: 1,
        ..Default::default()
    })?;
    let dir = tempfile::tempdir()?;
    // The devnet spec names chain id 31337 for its L1; this anvil is chain 1.
    let chain = Arc::new(ChainSpec::devnet()?);
    let cfg = based_node::NodeConfig {
        chain,
        datadir: dir.path().to_path_buf(),
        trie_cache_bytes: 0,
        l1_rpc_url: anvil.endpoint(),
        l1_beacon_urls: vec!["http://127.0.0.1:9".into()],
        l1_blob_archive_urls: Vec::new(),
        poll_interval: Duration::from_millis(100),
        confirmations: 2,
        http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        proposer_url: None,
        watchtower: None,
    };
    let err = based_node::launch(cfg).await.err().ok_or_else(|| eyre::eyre!("node started"))?;
    assert!(
        matches!(err, based_node::NodeError::L1ChainIdMismatch { spec: 31337, l1: 1 }),
        "{err}"
    );
    assert!(err.to_string().contains("config.based.l1.chainId is 31337"), "{err}");
    Ok(())
}
