//! A `based node` process killed at controlled points of its write path (the test-only fault hook
//! `BASED_TEST_CRASH_AT=<point>:<n>`, crates/node/src/fault.rs: `std::process::abort()` right
//! before or after a store commit) restarts on its data directory and ends with exactly the chain
//! of a node that never crashed: same block hashes and state roots, no block lost or duplicated,
//! and `based_syncStatus` running. One devnet for every point: the points hit while catching up
//! run as parallel child nodes, the two around an L1 reorg's unwind commit on two more, and
//! `mid-l1-block` on one more, between the two L2 blocks of an L1 block carrying two proposals.

use alloy_primitives::{Address, B256, U256};
use alloy_provider::Provider;
use based_tests::{
    NodeProcess, TestNet, WAIT, chain_digest, eyre, provider, send_transfer, wait_for,
    wait_for_block, wait_for_receipt,
};
use std::{os::unix::process::ExitStatusExt, path::Path, process::Stdio};

/// Points hit while a fresh node catches up with the devnet's history, and which hit crashes it.
const SYNC_POINTS: [(&str, u64); 6] = [
    ("after-genesis", 1),
    ("before-l2-commit", 2),
    ("after-l2-commit", 1),
    ("before-progress-commit", 10),
    ("after-progress-commit", 50),
    ("after-prune", 1),
];

/// Points hit only by an L1 reorg.
const REORG_POINTS: [(&str, u64); 2] = [("before-unwind", 1), ("after-unwind", 1)];

/// SIGABRT: what `std::process::abort` dies of.
const SIGABRT: i32 = 6;

/// A child node and where it keeps its data and its stderr.
struct Child {
    point: &'static str,
    dir: tempfile::TempDir,
    port: u16,
    node: NodeProcess,
}

impl Child {
    fn spawn(net: &TestNet, point: &'static str, nth: u64) -> eyre::Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = based_anvil::free_port()?;
        let node = spawn(net, dir.path(), port, Some(format!("{point}:{nth}")))?;
        Ok(Self { point, dir, port, node })
    }

    /// Waits for the armed crash: the process dies of SIGABRT after saying where.
    async fn wait_crash(&mut self) -> eyre::Result<()> {
        let status = self.node.wait_exit(WAIT).await?;
        let log = std::fs::read_to_string(self.dir.path().join("stderr.log"))?;
        eyre::ensure!(
            status.signal() == Some(SIGABRT),
            "{}: the node exited with {status}, not by the injected abort; stderr:\n{log}",
            self.point
        );
        eyre::ensure!(
            log.contains(&format!("crashing at {}", self.point)),
            "{}: the abort was not the armed point; stderr:\n{log}",
            self.point
        );
        Ok(())
    }

    /// Restarts the node on its data directory, unarmed.
    fn restart(&mut self, net: &TestNet) -> eyre::Result<()> {
        self.node = spawn(net, self.dir.path(), self.port, None)?;
        Ok(())
    }
}

fn spawn(net: &TestNet, dir: &Path, port: u16, crash: Option<String>) -> eyre::Result<NodeProcess> {
    let cfg = net.node_config(dir);
    std::fs::create_dir_all(dir)?;
    let stderr = std::fs::File::options().create(true).append(true).open(dir.join("stderr.log"))?;
    let env: Vec<(&str, &str)> =
        crash.as_deref().map(|c| ("BASED_TEST_CRASH_AT", c)).into_iter().collect();
    NodeProcess::spawn_with(&cfg, port, &env, Stdio::from(stderr))
}

/// The node at `url` holds the reference's chain up to `head` (block hashes and state roots of
/// every block from genesis: none lost or twice), has each transfer of `txs` in the reference's
/// block, and reports its driver running.
async fn agrees(
    what: &str,
    url: &str,
    reference: &str,
    head: u64,
    txs: &[B256],
) -> eyre::Result<()> {
    wait_for_block(url, head).await?;
    let want = chain_digest(reference, head).await?;
    // A node restarted around an L1 reorg may still be unwinding and re-deriving when it first
    // reports the head: what must hold is the chain it settles on.
    let settled = wait_for(&format!("{what}: the reference's chain"), WAIT, || {
        let want = want.clone();
        async move {
            Ok(match chain_digest(url, head).await {
                Ok(got) if got == want => Some(()),
                _ => None,
            })
        }
    })
    .await;
    if settled.is_err() {
        let got = chain_digest(url, head).await;
        eyre::bail!("{what}: chain differs from the reference node's: {got:?} vs {want:?}");
    }
    let (p, r) = (provider(url)?, provider(reference)?);
    for tx in txs {
        let a = p.get_transaction_receipt(*tx).await?.map(|r| r.block_hash);
        let b = r.get_transaction_receipt(*tx).await?.map(|r| r.block_hash);
        eyre::ensure!(a == b, "{what}: transaction {tx} in {a:?}, the reference has {b:?}");
    }
    let status: serde_json::Value = p.raw_request("based_syncStatus".into(), ()).await?;
    eyre::ensure!(
        status["driver"]["state"] == "running",
        "{what}: based_syncStatus reports {status}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_at_each_commit_point_restarts_to_the_same_chain() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    // Permissionless: the test posts proposals of its own (the write path does not depend on who
    // may post).
    let net = TestNet::start_with(Some(based_tests::based_devnet::SequencingMode::Permissionless))
        .await?;
    let l2 = net.l2_url();

    // History: two transfers (L2 block commits) separated by many empty L1 blocks (progress-only
    // commits, and more than the 256 recent L1 blocks always kept: pruning commits).
    let mut txs = vec![];
    let mut head = 0;
    for i in 0..2u8 {
        let hash =
            send_transfer(&l2, 5 + usize::from(i), Address::repeat_byte(0x70 + i), U256::from(7))
                .await?;
        head = wait_for_receipt(&l2, hash).await?.block_number.expect("block number");
        txs.push(hash);
        net.devnet.anvil.rpc("anvil_mine", "[\"0x90\", \"0x1\"]")?;
    }

    // Every point at once, one child node each; the reorg points' nodes sync normally for now.
    let mut synced = vec![];
    for (point, nth) in SYNC_POINTS {
        synced.push(Child::spawn(&net, point, nth)?);
    }
    let mut reorged = vec![];
    for (point, nth) in REORG_POINTS {
        reorged.push(Child::spawn(&net, point, nth)?);
    }
    for child in &mut synced {
        child.wait_crash().await?;
        child.restart(&net)?;
    }
    for child in synced.iter().chain(&reorged) {
        agrees(child.point, &child.node.url, &l2, head, &txs).await?;
    }

    // An L1 reorg orphans a proposal: the reference and every child unwind it, the two armed ones
    // die before and after their unwind commit.
    let snapshot = net.devnet.anvil.rpc("evm_snapshot", "[]")?;
    let orphaned = send_transfer(&l2, 3, Address::repeat_byte(0x33), U256::from(777)).await?;
    let orphaned_block = wait_for_receipt(&l2, orphaned).await?.block_number.expect("number");
    for child in &reorged {
        wait_for_block(&child.node.url, orphaned_block).await?;
    }
    let reverted = net.devnet.anvil.rpc("evm_revert", &format!("[{snapshot}]"))?;
    eyre::ensure!(reverted == serde_json::json!(true), "evm_revert: {reverted}");
    for child in &mut reorged {
        child.wait_crash().await?;
        child.restart(&net)?;
    }
    // The chain goes on: every node, crashed or not, holds the reference's chain.
    let after = send_transfer(&l2, 4, Address::repeat_byte(0x44), U256::from(888)).await?;
    let head = wait_for_receipt(&l2, after).await?.block_number.expect("block number");
    txs.push(after);
    // The orphaned transfer is wherever the reference has it (re-proposed or dropped), once.
    txs.push(orphaned);
    for child in synced.iter().chain(&reorged) {
        agrees(child.point, &child.node.url, &l2, head, &txs).await?;
    }

    // One L1 block carrying two proposals derives two L2 blocks. A node killed between their
    // commits (mid-l1-block) restarts and ends with the reference's chain. (Whether the first
    // block survived the crash depends on the commit cadence: a deferred commit is lost, a
    // durable one is unwound by the repair at start; the repair itself is covered by the
    // driver's unit tests, `after-repair` included.)
    let mut mid = Child::spawn(&net, "mid-l1-block", 1)?;
    agrees("before the double proposal", &mid.node.url, &l2, head, &txs).await?;
    let head = two_proposals_in_one_l1_block(&net).await?;
    mid.wait_crash().await?;
    mid.restart(&net)?;
    agrees("mid-l1-block", &mid.node.url, &l2, head, &txs).await?;
    drop((synced, reorged, mid));
    net.stop().await;
    Ok(())
}

/// Stops L1 mining, sends two proposals (empty one-block batches anchored to the head) from one
/// dev key, mines them in one L1 block and resumes mining; answers the L2 block number the second
/// one derives (the reference node's head once it processed that L1 block).
async fn two_proposals_in_one_l1_block(net: &TestNet) -> eyre::Result<u64> {
    use alloy_network::TransactionBuilder;
    const KEY: usize = 2;
    let l1_url = net.l1_url();
    net.devnet.anvil.rpc("anvil_setIntervalMining", "[0]")?;
    let sent = async {
        let l1 = based_tests::wallet_provider(&l1_url, KEY)?;
        let from = based_tests::based_devnet::dev_signer(KEY).expect("dev key").address();
        let nonce = l1.get_transaction_count(from).pending().await?;
        // Two one-block batches anchored to the head, with timestamps strictly increasing (§4.3)
        // and not after the L1 block that will carry them (its timestamp is set below).
        let head = l1
            .get_block_by_number(alloy_eips::BlockNumberOrTag::Latest)
            .await?
            .ok_or_else(|| eyre::eyre!("no L1 head"))?;
        let anchor =
            based_primitives::L1Anchor { number: head.header.number, hash: head.header.hash };
        net.devnet
            .anvil
            .rpc("evm_setNextBlockTimestamp", &format!("[{}]", head.header.timestamp + 2))?;
        let mut hashes = Vec::new();
        for i in 0..2 {
            let sidecar = based_tests::empty_batch_sidecar_at(
                based_chainspec::DEVNET_CHAIN_ID,
                anchor,
                head.header.timestamp + 1 + i,
            )?;
            let tx = based_tests::proposal_request(&l1, net.devnet.inbox, sidecar)
                .await?
                .with_nonce(nonce + i);
            hashes.push(*l1.send_transaction(tx).await?.tx_hash());
        }
        eyre::Ok((l1, hashes))
    }
    .await;
    net.devnet.anvil.rpc("anvil_mine", "[\"0x1\"]")?;
    net.devnet.anvil.rpc("anvil_setIntervalMining", "[1]")?;
    let (l1, hashes) = sent?;
    let mut blocks = Vec::new();
    for hash in hashes {
        let receipt = wait_for(&format!("proposal {hash}"), WAIT, || {
            let l1 = l1.clone();
            async move { Ok(l1.get_transaction_receipt(hash).await?) }
        })
        .await?;
        eyre::ensure!(receipt.status(), "proposal {hash} reverted");
        blocks.push(receipt.block_number);
    }
    eyre::ensure!(blocks[0] == blocks[1], "the proposals landed in L1 blocks {blocks:?}");
    // The reference derives them: its head passes the L2 blocks of that L1 block.
    let l1_block = blocks[0].unwrap_or_default();
    wait_for("the reference node to process the double proposal", WAIT, || async move {
        let status: serde_json::Value =
            provider(&net.l2_url())?.raw_request("based_syncStatus".into(), ()).await?;
        let processed = status["l1Processed"]
            .as_str()
            .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok());
        Ok(processed.filter(|p| *p >= l1_block).map(|_| ()))
    })
    .await?;
    Ok(provider(&net.l2_url())?.get_block_number().await?)
}
