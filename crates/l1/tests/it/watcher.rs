//! The L1 watcher against a real anvil: commits, blobs, reorgs, reverts, outages, resume.

use crate::common::*;
use alloy_consensus::Sealed;
use alloy_primitives::{Address, Bytes, U256};
use alloy_provider::{DynProvider, Provider};
use based_beacon::{DevBeacon, DevBeaconConfig};
use based_contracts::{DEPOSIT_UNIT, FORCED_INCLUSION_FEE, InboxEvent};
use based_l1::{
    BeaconClient, BeaconClientConfig, Chain, FinishedHeight, InboxFilter, L1Notification,
    L1Watcher, L1WatcherConfig, L1WatcherHandle, StartFrom,
};
use std::{sync::Arc, time::Duration};
use tokio::time::timeout;

/// Watcher config without a beacon API (enough when no selected log needs blobs).
fn config(anvil_url: alloy_transport_http::reqwest::Url) -> L1WatcherConfig {
    let mut c = L1WatcherConfig::new(anvil_url);
    c.poll_interval = Duration::from_millis(50);
    c.request_timeout = Duration::from_secs(2);
    c.backoff_initial = Duration::from_millis(50);
    c.backoff_max = Duration::from_millis(400);
    c
}

/// Starts the devnet beacon API service in front of `anvil` and points `cfg` at it.
async fn with_beacon(cfg: &mut L1WatcherConfig, anvil: &Anvil) -> DevBeacon {
    // Automine gives consecutive blocks equal timestamps; the service shifts them to own slots.
    let beacon = DevBeacon::start(
        DevBeaconConfig { seconds_per_slot: 1, ..DevBeaconConfig::default() },
        anvil.url(),
    )
    .await
    .unwrap();
    let mut bc = BeaconClientConfig::new(vec![beacon.url().parse().unwrap()]);
    bc.timeout = Duration::from_secs(5);
    cfg.beacon = Some(BeaconClient::new(bc));
    beacon
}

fn url_for_port(port: u16) -> alloy_transport_http::reqwest::Url {
    format!("http://127.0.0.1:{port}/").parse().unwrap()
}

async fn next(h: &mut L1WatcherHandle) -> L1Notification {
    timeout(Duration::from_secs(20), h.notifications.recv())
        .await
        .expect("notification in time")
        .expect("open")
}

/// Receives committed chains (acknowledging them) until the tip reaches `number`; returns all blocks.
async fn commit_until(h: &mut L1WatcherHandle, number: u64) -> Vec<Arc<based_l1::L1Block>> {
    let mut blocks = Vec::new();
    while blocks.last().is_none_or(|b: &Arc<based_l1::L1Block>| b.number() < number) {
        match next(h).await {
            L1Notification::ChainCommitted { new } => {
                h.acks.send(FinishedHeight(new.tip().num_hash())).unwrap();
                blocks.extend(new.iter().cloned());
            }
            other => panic!("expected a commit, got {other:?}"),
        }
    }
    Chain::new(blocks.clone()).expect("commits are contiguous");
    blocks
}

/// A consumer that applies notifications to the chain it holds and checks their consistency.
struct Model {
    held: Vec<Arc<based_l1::L1Block>>,
    /// Hashes of reverted blocks, ascending per notification.
    reverted: Vec<alloy_primitives::B256>,
}

impl Model {
    fn apply(&mut self, n: &L1Notification) {
        if let Some(old) = n.reverted_chain() {
            let keep = self.held.len() - old.len();
            assert_eq!(self.held[keep..], old.blocks()[..], "old chain is exactly the held suffix");
            self.held.truncate(keep);
            self.reverted.extend(old.iter().map(|b| b.hash));
        }
        if let Some(new) = n.committed_chain() {
            if let Some(tip) = self.held.last() {
                assert_eq!(
                    new.fork_block().unwrap(),
                    tip.num_hash(),
                    "new chain extends what is held"
                );
            }
            self.held.extend(new.iter().cloned());
        }
    }
}

async fn assert_canonical(p: &DynProvider, blocks: &[Arc<based_l1::L1Block>]) {
    for b in blocks {
        assert_eq!(block_hash(p, b.number()).await, b.hash, "block {}", b.number());
    }
}

#[tokio::test]
async fn commits_heads_and_ack_backpressure() {
    let anvil = Anvil::spawn(&["--slots-in-an-epoch", "2"]).unwrap();
    let p = wallet_provider(&anvil, 0);
    let mut cfg = config(anvil.url());
    cfg.max_unacked_blocks = 3;
    cfg.max_blocks_per_notification = 2;
    let mut h =
        L1Watcher::spawn(cfg, InboxFilter::new(Address::repeat_byte(1)), StartFrom::Block(0))
            .unwrap();
    mine(&p, 9).await;

    // Without acks the watcher stops after 3 unacknowledged blocks (0, 1, 2).
    let mut got = Vec::new();
    while got.len() < 3 {
        let L1Notification::ChainCommitted { new } = next(&mut h).await else {
            panic!("commit expected")
        };
        assert!(new.len() <= 2);
        got.extend(new.iter().cloned());
    }
    assert_eq!(got.iter().map(|b| b.number()).collect::<Vec<_>>(), vec![0, 1, 2]);
    assert!(
        timeout(Duration::from_millis(400), h.notifications.recv()).await.is_err(),
        "no 4th block before ack"
    );

    h.acks.send(FinishedHeight(got[2].num_hash())).unwrap();
    got.extend(commit_until(&mut h, 9).await);
    assert_eq!(got.len(), 10);
    Chain::new(got.clone()).unwrap();
    assert_canonical(&p, &got).await;

    // anvil reports safe = latest - slots_in_epoch and finalized = latest - 2 * slots_in_epoch.
    let mut heads = h.heads.clone();
    timeout(Duration::from_secs(5), heads.wait_for(|hd| hd.latest.is_some_and(|l| l.number == 9)))
        .await
        .unwrap()
        .unwrap();
    let hd = *heads.borrow();
    assert_eq!(hd.safe.unwrap().number, 7);
    assert_eq!(hd.finalized.unwrap().number, 5);
    assert_eq!(hd.finalized.unwrap().hash, got[5].hash);
}

#[tokio::test]
async fn inbox_logs_and_verified_blobs() {
    let anvil = Anvil::spawn(&[]).unwrap();
    let p = wallet_provider(&anvil, 0);
    let inbox = deploy_inbox(&p).await;
    let data: Vec<u8> = (0..150_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let sc = sidecar(&data);
    let receipt = propose(&p, inbox, sc.clone()).await;
    let prop_block = receipt.block_number.unwrap();
    let dep = deposit(&p, inbox, Address::repeat_byte(9), DEPOSIT_UNIT * U256::from(3)).await;
    let fi =
        force_include(&p, inbox, Bytes::from_static(&[0x02, 0x01]), FORCED_INCLUSION_FEE).await;
    let last = fi.block_number.unwrap();

    let mut cfg = config(anvil.url());
    let beacon = with_beacon(&mut cfg, &anvil).await;
    let mut h = L1Watcher::spawn(cfg, InboxFilter::new(inbox), StartFrom::Block(0)).unwrap();
    let blocks = commit_until(&mut h, last).await;
    assert!(beacon.hits("blob_sidecars") >= 1, "blobs come from the beacon API by slot");
    let with_logs: Vec<_> = blocks.iter().filter(|b| !b.logs.is_empty()).collect();
    assert_eq!(with_logs.len(), 3, "propose, deposit and forceInclude blocks");

    let b = &blocks[prop_block as usize];
    assert_eq!(b.logs.len(), 1);
    let Some(InboxEvent::Proposed(prop)) = InboxEvent::decode(inbox, &b.logs[0].inner).unwrap()
    else {
        panic!("proposed")
    };
    let hashes: Vec<_> = sc.versioned_hashes().collect();
    assert_eq!(prop.blob_hashes, hashes);
    assert_eq!(b.blob_txs.get(&receipt.transaction_hash), Some(&hashes));
    assert_eq!(b.blobs.len(), 2);
    for (hash, blob) in hashes.iter().zip(&sc.blobs) {
        assert_eq!(b.blob(hash).unwrap(), blob, "blob content equals the sidecar's");
        assert_eq!(based_l1::versioned_hash(b.blob(hash).unwrap().as_slice()), Some(*hash));
    }
    // Deposit and forced-inclusion blocks carry their logs but need no blobs.
    let d = &blocks[dep.block_number.unwrap() as usize];
    assert!(matches!(
        InboxEvent::decode(inbox, &d.logs[0].inner).unwrap(),
        Some(InboxEvent::Deposited(_))
    ));
    assert!(d.blobs.is_empty());
    let f = &blocks[last as usize];
    assert!(matches!(
        InboxEvent::decode(inbox, &f.logs[0].inner).unwrap(),
        Some(InboxEvent::ForcedInclusionQueued(_))
    ));
}

#[tokio::test]
async fn blobs_missing_stall_instead_of_skipping() {
    // No beacon configured: the proposal block cannot be completed, so it is never emitted.
    let anvil = Anvil::spawn(&[]).unwrap();
    let p = wallet_provider(&anvil, 0);
    let inbox = deploy_inbox(&p).await;
    let receipt = propose(&p, inbox, sidecar(b"batch")).await;
    let n = receipt.block_number.unwrap();
    let mut cfg = config(anvil.url());
    cfg.beacon = None;
    let mut h = L1Watcher::spawn(cfg, InboxFilter::new(inbox), StartFrom::Block(0)).unwrap();
    let blocks = commit_until(&mut h, n - 1).await;
    assert_eq!(blocks.last().unwrap().number(), n - 1);
    assert!(timeout(Duration::from_millis(500), h.notifications.recv()).await.is_err());
    assert!(!h.task.is_finished());
}

#[tokio::test]
async fn reorg_and_revert() {
    let anvil = Anvil::spawn(&[]).unwrap();
    let p = wallet_provider(&anvil, 0);
    mine(&p, 10).await;
    let mut h =
        L1Watcher::spawn(config(anvil.url()), InboxFilter::new(Address::ZERO), StartFrom::Block(1))
            .unwrap();
    let before = commit_until(&mut h, 10).await;
    assert_eq!(before.first().unwrap().number(), 1);

    // Replace the last 3 blocks. The watcher may see the replacement at once (ChainReorged) or the
    // shortened chain first (ChainReverted, then ChainCommitted): check with a consumer model.
    let mut model = Model { held: before.clone(), reverted: Vec::new() };
    let _: serde_json::Value =
        p.raw_request("anvil_reorg".into(), (3u64, Vec::<serde_json::Value>::new())).await.unwrap();
    while model.held.last().unwrap().number() < 10 || model.reverted.is_empty() {
        let n = next(&mut h).await;
        assert!(!matches!(n, L1Notification::ChainCommitted { .. }) || !model.reverted.is_empty());
        model.apply(&n);
        h.acks.send(FinishedHeight(model.held.last().unwrap().num_hash())).unwrap();
    }
    let orphaned: Vec<_> = before[7..].iter().map(|b| b.hash).collect();
    assert_eq!(model.reverted, orphaned, "exactly blocks 8..=10 were reverted");
    assert_eq!(model.held[..7], before[..7], "blocks 1..=7 kept");
    assert_canonical(&p, &model.held).await;
    let tip = model.held.last().unwrap().num_hash();

    // Revert to a snapshot taken at 10 after mining 3 more: head goes back with no replacement.
    let snap: U256 = p.raw_request("evm_snapshot".into(), ()).await.unwrap();
    mine(&p, 3).await;
    let after = commit_until(&mut h, 13).await;
    assert_eq!(after.first().unwrap().parent_hash(), tip.hash);
    let reverted: bool = p.raw_request("evm_revert".into(), (snap,)).await.unwrap();
    assert!(reverted);
    let L1Notification::ChainReverted { old } = next(&mut h).await else {
        panic!("revert expected")
    };
    assert_eq!(old.iter().map(|b| b.number()).collect::<Vec<_>>(), vec![11, 12, 13]);
    assert_eq!(old.fork_block().unwrap(), tip);

    // Mining again continues from the fork.
    mine(&p, 2).await;
    let again = commit_until(&mut h, 12).await;
    assert_eq!(again.first().unwrap().number(), 11);
    assert_eq!(again.first().unwrap().parent_hash(), tip.hash);
    assert_canonical(&p, &again).await;
}

#[tokio::test]
async fn survives_outages_with_backoff() {
    let port = free_port().unwrap();
    // Nothing listens yet: the watcher retries with backoff and must not die.
    let mut h = L1Watcher::spawn(
        config(url_for_port(port)),
        InboxFilter::new(Address::ZERO),
        StartFrom::Block(0),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(!h.task.is_finished());
    assert!(h.notifications.try_recv().is_err());

    // Fixed genesis timestamp so a restarted anvil has the same genesis block.
    let args = ["--timestamp", "1700000000"];
    let mut anvil = Anvil::spawn_on_port(port, &args).unwrap();
    let p = wallet_provider(&anvil, 0);
    mine(&p, 3).await;
    let first = commit_until(&mut h, 3).await;
    assert_eq!(first[0].number(), 0);

    // Kill anvil: outage. Restart it with a fresh chain (same genesis, different blocks): reorg to 0.
    anvil.kill();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!h.task.is_finished());
    let anvil = Anvil::spawn_on_port(port, &args).unwrap();
    let p = wallet_provider(&anvil, 0);
    let _: serde_json::Value =
        p.raw_request("evm_setNextBlockTimestamp".into(), (1_700_000_100u64,)).await.unwrap();
    mine(&p, 5).await;
    let mut held = first.last().unwrap().number();
    loop {
        match next(&mut h).await {
            L1Notification::ChainReorged { old, new } => {
                assert_eq!(
                    old.fork_block().unwrap().hash,
                    first[0].hash,
                    "genesis is the fork point"
                );
                assert_eq!(old.tip().number(), held);
                assert_canonical(&p, new.blocks()).await;
                held = new.tip().number();
                h.acks.send(FinishedHeight(new.tip().num_hash())).unwrap();
                break;
            }
            L1Notification::ChainReverted { old } => {
                // The restarted chain was still shorter than ours when polled.
                assert_eq!(old.tip().number(), held);
                assert_eq!(
                    old.fork_block().unwrap().hash,
                    first[0].hash,
                    "genesis is the fork point"
                );
                held = old.fork_block().unwrap().number;
            }
            L1Notification::ChainCommitted { new } if held == 0 => {
                // After the revert, the restarted chain's blocks extend genesis.
                assert_eq!(new.first().parent_hash(), first[0].hash);
                assert_canonical(&p, new.blocks()).await;
                held = new.tip().number();
                h.acks.send(FinishedHeight(new.tip().num_hash())).unwrap();
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    if held < 5 {
        commit_until(&mut h, 5).await;
    }
}

#[tokio::test]
async fn resume_from_persisted_headers() {
    let anvil = Anvil::spawn(&[]).unwrap();
    let p = wallet_provider(&anvil, 0);
    mine(&p, 8).await;
    let mut h =
        L1Watcher::spawn(config(anvil.url()), InboxFilter::new(Address::ZERO), StartFrom::Block(0))
            .unwrap();
    let blocks = commit_until(&mut h, 8).await;
    drop(h); // "restart": the consumer persisted these headers.
    let persisted: Vec<_> =
        blocks.iter().map(|b| Sealed::new_unchecked(b.header.clone(), b.hash)).collect();

    // Tip still canonical: the stream continues with block 9.
    mine(&p, 1).await;
    let mut h = L1Watcher::spawn(
        config(anvil.url()),
        InboxFilter::new(Address::ZERO),
        StartFrom::Resume(persisted.clone()),
    )
    .unwrap();
    let more = commit_until(&mut h, 9).await;
    assert_eq!(more.first().unwrap().number(), 9);
    assert_eq!(more.first().unwrap().parent_hash(), blocks[8].hash);
    drop(h);

    // While "down", L1 reorgs blocks 7..=9; resuming from the headers up to 8 reverts 7..=8.
    let _: serde_json::Value =
        p.raw_request("anvil_reorg".into(), (3u64, Vec::<serde_json::Value>::new())).await.unwrap();
    let mut h = L1Watcher::spawn(
        config(anvil.url()),
        InboxFilter::new(Address::ZERO),
        StartFrom::Resume(persisted),
    )
    .unwrap();
    let L1Notification::ChainReorged { old, new } = next(&mut h).await else {
        panic!("reorg expected")
    };
    assert_eq!(
        old.iter().map(|b| b.hash).collect::<Vec<_>>(),
        vec![blocks[7].hash, blocks[8].hash]
    );
    assert_eq!(old.fork_block().unwrap().hash, blocks[6].hash);
    assert_eq!(new.first().number(), 7);
    assert_canonical(&p, new.blocks()).await;
}
