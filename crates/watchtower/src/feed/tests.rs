//! Feed followers against a fake gateway feed (a jsonrpsee server answering `commitments_since`
//! from a list) and a [`MemorySink`] that checks like the watchtower.

use super::*;
use alloy_primitives::{Address, B256, Bytes};
use alloy_signer_local::PrivateKeySigner;
use based_commitments::{Commitment, InclusionPayload};
use jsonrpsee::server::{RpcModule, Server, ServerHandle};
use std::sync::atomic::{AtomicBool, Ordering};

const SLASHER: Address = Address::repeat_byte(0x5a);

/// The fake gateway: its commitments (raw JSON, so malformed ones can be served) and every
/// `from` it was asked for.
#[derive(Default)]
struct Feed {
    items: Mutex<Vec<serde_json::Value>>,
    asked: Mutex<Vec<u64>>,
}

/// The fake gateway's `commitments_since`.
fn feed_module(feed: Arc<Feed>) -> RpcModule<Arc<Feed>> {
    let mut module = RpcModule::new(feed);
    module
        .register_method("commitments_since", |params, feed, _| {
            let (from, limit): (u64, u64) = params.parse()?;
            feed.asked.lock().unwrap().push(from);
            let items = feed.items.lock().unwrap();
            let start = (from as usize).min(items.len());
            let page: Vec<_> = items.iter().skip(start).take(limit as usize).cloned().collect();
            let next = start + page.len();
            Ok::<_, jsonrpsee::types::ErrorObjectOwned>(
                serde_json::json!({"commitments": page, "next": next}),
            )
        })
        .unwrap();
    module
}

async fn serve(feed: Arc<Feed>) -> (String, ServerHandle) {
    let module = feed_module(feed);
    let server = Server::builder().build("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", server.local_addr().unwrap());
    (url, server.start(module))
}

fn signed(n: u64, slasher: Address) -> SignedCommitment {
    let key = PrivateKeySigner::from_bytes(&B256::repeat_byte(7)).unwrap();
    let request = InclusionPayload { slot: n, signed_tx: Bytes::from(n.to_be_bytes().to_vec()) }
        .into_request(slasher);
    Commitment::for_request(&request).sign(&key).unwrap()
}

fn json(c: &SignedCommitment) -> serde_json::Value {
    serde_json::to_value(c).unwrap()
}

fn sink() -> Arc<MemorySink> {
    Arc::new(MemorySink {
        slasher: SLASHER,
        watched: Mutex::new(Vec::new()),
        fail_store: AtomicBool::new(false),
    })
}

/// Waits until `cond` holds (5 s at most).
async fn until(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

fn status(f: &Follower) -> FeedStatus {
    f.status.lock().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_watches_every_commitment_skips_bad_ones_and_keeps_its_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let cursors_path = dir.path().join("watchtower").join(CURSORS_FILE);
    let feed = Arc::new(Feed::default());
    let good: Vec<SignedCommitment> = (0..4).map(|n| signed(n, SLASHER)).collect();
    // A signature that does not recover (r = s = 0), another slasher, and garbage.
    let mut no_signer = json(&signed(100, SLASHER));
    no_signer["signature"] = serde_json::json!(format!("0x{}1b", "00".repeat(64)));
    {
        let mut items = feed.items.lock().unwrap();
        items.push(json(&good[0]));
        items.push(no_signer);
        items.push(json(&good[1]));
        items.push(json(&signed(101, Address::repeat_byte(0x99))));
        items.push(serde_json::json!({"commitment": 1}));
        items.push(json(&good[2]));
    }
    let (url, server) = serve(feed.clone()).await;
    let (stop_tx, stop) = watch::channel(false);
    let cursors = Arc::new(FeedCursors::open(&cursors_path).unwrap());
    let first = sink();
    // A trailing slash names the same feed (and cursor).
    let f =
        follow(&format!("{url}/"), first.clone(), cursors.clone(), Duration::from_millis(20), stop);
    until("the first page", || status(&f).next == 6).await;
    let digests = |s: &MemorySink| -> Vec<B256> {
        s.watched.lock().unwrap().iter().map(|w| w.digest).collect()
    };
    let want =
        |n: usize| -> Vec<B256> { good[..n].iter().map(|c| c.commitment.digest()).collect() };
    assert_eq!(digests(&first), want(3), "the good ones, in feed order");
    let st = status(&f);
    assert_eq!((st.received, st.watched, st.skipped, st.next), (6, 3, 3, 6), "{st:?}");
    assert_eq!(st.url, url);
    assert_eq!(FeedCursors::open(&cursors_path).unwrap().get(&url), 6, "cursor durable");

    // A new commitment on the feed is watched at the next poll.
    feed.items.lock().unwrap().push(json(&good[3]));
    until("the new commitment", || first.watched.lock().unwrap().len() == 4).await;
    assert_eq!(digests(&first), want(4));
    until("the cursor", || status(&f).next == 7).await;

    // A store failure stops at that commitment, without moving the cursor past it; retried.
    first.fail_store.store(true, Ordering::SeqCst);
    feed.items.lock().unwrap().push(json(&signed(4, SLASHER)));
    until("the store error", || status(&f).last_error.is_some()).await;
    assert_eq!(status(&f).next, 7);
    assert_eq!(FeedCursors::open(&cursors_path).unwrap().get(&url), 7);
    first.fail_store.store(false, Ordering::SeqCst);
    until("the retry", || status(&f).next == 8).await;
    assert_eq!(first.watched.lock().unwrap().len(), 5);
    assert!(status(&f).last_error.is_none());

    stop_tx.send(true).unwrap();
    f.task.await.unwrap();

    // Restart: the cursor is read back; the feed is read on from 8, nothing is read twice.
    feed.items.lock().unwrap().push(json(&signed(5, SLASHER)));
    feed.asked.lock().unwrap().clear();
    let cursors = Arc::new(FeedCursors::open(&cursors_path).unwrap());
    let second = sink();
    let (stop_tx, stop) = watch::channel(false);
    let f = follow(&url, second.clone(), cursors, Duration::from_millis(20), stop);
    until("the commitment after the restart", || status(&f).next == 9).await;
    assert_eq!(feed.asked.lock().unwrap()[0], 8, "asked from the durable cursor");
    assert_eq!(digests(&second), vec![signed(5, SLASHER).commitment.digest()]);
    assert_eq!(status(&f).received, 1);

    // The gateway's log replaced (its feed now shorter than the cursor): read again from 0.
    feed.items.lock().unwrap().truncate(2);
    until("the rewind", || second.watched.lock().unwrap().len() == 2).await;
    until("the cursor after the rewind", || status(&f).next == 2).await;
    stop_tx.send(true).unwrap();
    f.task.await.unwrap();
    server.stop().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_feed_is_retried_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let cursors = Arc::new(FeedCursors::open(&dir.path().join(CURSORS_FILE)).unwrap());
    // A port nothing listens on (bound, then closed).
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (stop_tx, stop) = watch::channel(false);
    let f = follow(&format!("http://{addr}"), sink(), cursors, Duration::from_millis(20), stop);
    until("the error", || status(&f).last_error.is_some()).await;
    assert_eq!(status(&f).next, 0);
    stop_tx.send(true).unwrap();
    f.task.await.unwrap();
}

#[test]
fn damaged_cursor_file_reads_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(CURSORS_FILE);
    std::fs::write(&path, "{not json").unwrap();
    let cursors = FeedCursors::open(&path).unwrap();
    assert_eq!(cursors.get("http://x"), 0);
    cursors.set("http://x", 5).unwrap();
    assert_eq!(FeedCursors::open(&path).unwrap().get("http://x"), 5);
}

/// A gateway with the WebSocket feed: a new commitment is read at once, not at the next poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_wakes_the_follower_before_its_next_poll() {
    let feed = Arc::new(Feed::default());
    feed.items.lock().unwrap().push(json(&signed(0, SLASHER)));
    let announce = Arc::new(tokio::sync::Notify::new());
    let mut module = feed_module(feed.clone());
    let on_new = announce.clone();
    module
        .register_subscription(
            "commitments_subscribe",
            "commitments_subscription",
            "commitments_unsubscribe",
            move |_, pending, _, _| {
                let on_new = on_new.clone();
                async move {
                    let sink = pending.accept().await?;
                    loop {
                        on_new.notified().await;
                        let item =
                            serde_json::value::to_raw_value(&serde_json::json!({"number": 1}))?;
                        if sink.send(item).await.is_err() {
                            return Ok(());
                        }
                    }
                }
            },
        )
        .unwrap();
    let server = Server::builder().build("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", server.local_addr().unwrap());
    let handle = server.start(module);

    let dir = tempfile::tempdir().unwrap();
    let cursors = Arc::new(FeedCursors::open(&dir.path().join(CURSORS_FILE)).unwrap());
    let sink = sink();
    let (_stop_tx, stop) = watch::channel(false);
    // A poll interval far beyond the test's patience: only the subscription can wake it.
    let follower = follow(&url, sink.clone(), cursors, Duration::from_secs(600), stop);
    until("the first commitment", || status(&follower).watched == 1).await;
    // Give the subscription time to be set up, then announce a new commitment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    feed.items.lock().unwrap().push(json(&signed(1, SLASHER)));
    announce.notify_waiters();
    until("the announced commitment", || status(&follower).watched == 2).await;
    follower.task.abort();
    handle.stop().unwrap();
}
