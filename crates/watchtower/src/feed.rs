//! Following gateways' commitment feeds (docs/slashing.md, "Following gateways"): every signed
//! commitment a gateway issues is watched, without anyone calling `based_watchCommitment`.
//!
//! A follower polls one gateway's `commitments_since(from, limit)` (docs/gateway.md, "Commitment
//! feed"); a WebSocket subscription to the same feed (`commitments_subscribe`, on the gateway's
//! port), when the gateway offers one, wakes it at once on each new commitment, so the poll
//! interval is only the fallback. It hands each commitment to the watchtower exactly as `based_watchCommitment` would (same
//! checks: inclusion type, this slasher, a signature that recovers, a decodable payload) and keeps
//! its cursor, the sequence number of the next commitment to read, durably in `feeds.json` next
//! to the watchtower's store.
//!
//! Invariants:
//! - A commitment is stored (appended and `fdatasync`ed by the store) **before** the cursor moves
//!   past it; the cursor file is replaced atomically (write, `fsync`, rename). A crash in between
//!   reads a commitment again, which the store ignores (same digest).
//! - A commitment that cannot be watched (malformed, wrong signature, another slasher, the store
//!   full) is skipped with a warning and counted: never fatal, never retried. A store failure
//!   (disk) stops the page there and is retried on the next poll, the cursor left before it.
//! - A feed whose `next` is below the cursor (the gateway's log was replaced) is read again from
//!   0; repeats are ignored by digest.

use crate::WatchtowerError;
use based_commitments::SignedCommitment;
use serde::{Deserialize, Serialize};
use std::{
    collections::BTreeMap,
    fs::File,
    io::Write,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::sync::watch;
use tracing::{debug, info, warn};

/// File name of the feed cursors, next to the watchtower's store.
pub const CURSORS_FILE: &str = "feeds.json";
/// Commitments asked for per poll (the gateway's maximum).
pub const FEED_PAGE: u64 = 1000;
/// Timeout of one feed request.
const FEED_TIMEOUT: Duration = Duration::from_secs(10);
/// Wait before subscribing again after the feed's WebSocket failed or closed.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(2);

/// The WebSocket URL of a gateway's HTTP URL (same host and port).
fn ws_url(url: &str) -> Option<String> {
    if let Some(rest) = url.strip_prefix("http://") {
        Some(format!("ws://{rest}"))
    } else {
        url.strip_prefix("https://").map(|rest| format!("wss://{rest}"))
    }
}

/// Wakes `wake` on every item of the gateway's `commitments_subscribe` feed (new commitments
/// only), subscribing again after a failure. Only a signal: the poll reads and checks the items.
async fn wake_on_new_commitments(url: String, wake: Arc<tokio::sync::Notify>) {
    use jsonrpsee::core::client::SubscriptionClientT;
    let Some(ws) = ws_url(&url) else { return };
    loop {
        let subscribed = async {
            let client = jsonrpsee::ws_client::WsClientBuilder::default()
                .connection_timeout(FEED_TIMEOUT)
                .build(&ws)
                .await?;
            let mut sub = client
                .subscribe::<serde_json::Value, _>(
                    "commitments_subscribe",
                    jsonrpsee::rpc_params![],
                    "commitments_unsubscribe",
                )
                .await?;
            debug!(target: "watchtower", gateway = %url, "subscribed to the commitment feed");
            // Anything missed while subscribing is read by the poll that follows.
            wake.notify_one();
            while let Some(item) = sub.next().await {
                if item.is_err() {
                    break;
                }
                wake.notify_one();
            }
            Ok::<(), jsonrpsee::core::client::Error>(())
        };
        if let Err(e) = subscribed.await {
            debug!(target: "watchtower", gateway = %url, error = %e, "no commitment feed subscription; polling");
        }
        tokio::time::sleep(RESUBSCRIBE_AFTER).await;
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Where feed commitments go: the watchtower ([`crate::Watchtower`]), or a fake in tests.
pub trait FeedSink: Send + Sync + 'static {
    /// Watches `signed` durably, as `based_watchCommitment` does; `Ok(false)` if it was already
    /// watched.
    fn watch_from_feed(&self, signed: SignedCommitment) -> Result<bool, WatchtowerError>;
}

/// What a follower did so far (`based_commitmentFeeds`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedStatus {
    /// The gateway's URL.
    pub url: String,
    /// The sequence number of the next commitment to read (durable).
    pub next: u64,
    /// Commitments read from the feed since start (watched, repeated or skipped).
    pub received: u64,
    /// Of those, the ones newly watched.
    pub watched: u64,
    /// Of those, the ones skipped (cannot be watched).
    pub skipped: u64,
    /// The last failure to read the feed or store a commitment, until the next success.
    pub last_error: Option<String>,
}

/// The durable cursors of every followed feed: `{ "<url>": next, ... }` in `feeds.json`.
#[derive(Debug)]
pub struct FeedCursors {
    path: PathBuf,
    cursors: Mutex<BTreeMap<String, u64>>,
}

impl FeedCursors {
    /// Loads the cursors at `path` (none if absent; a damaged file is reported and read as empty:
    /// the feeds are read again from 0 and repeats ignored).
    pub fn open(path: &Path) -> Result<Self, WatchtowerError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| WatchtowerError::Store(e.to_string()))?;
        }
        let cursors = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                warn!(target: "watchtower", path = %path.display(), error = %e, "damaged feed cursors; reading the feeds from 0");
                BTreeMap::new()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(WatchtowerError::Store(format!("{}: {e}", path.display()))),
        };
        Ok(Self { path: path.to_path_buf(), cursors: Mutex::new(cursors) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u64>> {
        self.cursors.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cursor of `url` (0 if never read).
    pub fn get(&self, url: &str) -> u64 {
        self.lock().get(url).copied().unwrap_or(0)
    }

    /// Sets the cursor of `url` and replaces the file atomically before returning.
    pub fn set(&self, url: &str, next: u64) -> Result<(), WatchtowerError> {
        let mut cursors = self.lock();
        cursors.insert(url.to_owned(), next);
        let json = serde_json::to_vec_pretty(&*cursors)
            .map_err(|e| WatchtowerError::Store(e.to_string()))?;
        let tmp = self.path.with_extension("json.tmp");
        let store = |e: std::io::Error| WatchtowerError::Store(format!("{}: {e}", tmp.display()));
        let mut file = File::create(&tmp).map_err(store)?;
        file.write_all(&json).and_then(|()| file.sync_all()).map_err(store)?;
        std::fs::rename(&tmp, &self.path).map_err(store)?;
        if let Some(dir) = self.path.parent() {
            // Make the rename durable; a file system that cannot sync a directory still renamed.
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }
}

/// One page of a gateway's feed, each commitment still raw JSON (a malformed one is skipped alone).
#[derive(Debug, Deserialize)]
struct Page {
    commitments: Vec<serde_json::Value>,
    next: u64,
}

/// A running follower of one gateway's feed.
#[derive(Debug)]
pub(crate) struct Follower {
    pub(crate) status: Arc<Mutex<FeedStatus>>,
    pub(crate) task: tokio::task::JoinHandle<()>,
}

/// The URL as the cursor key: without trailing slashes.
fn normalize(url: &str) -> String {
    url.trim().trim_end_matches('/').to_owned()
}

/// Starts following the feed of the gateway at `url` into `sink` until `stop` turns true (or its
/// sender is dropped), polling every `interval` when caught up, and at once when the gateway's
/// WebSocket feed announces a new commitment.
pub(crate) fn follow(
    url: &str,
    sink: Arc<dyn FeedSink>,
    cursors: Arc<FeedCursors>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) -> Follower {
    let url = normalize(url);
    let status = Arc::new(Mutex::new(FeedStatus {
        url: url.clone(),
        next: cursors.get(&url),
        ..FeedStatus::default()
    }));
    let state = status.clone();
    let task = tokio::spawn(async move {
        let client = reqwest::Client::builder().timeout(FEED_TIMEOUT).build().unwrap_or_default();
        info!(target: "watchtower", gateway = %url, from = cursors.get(&url), "following a gateway's commitment feed");
        let wake = Arc::new(tokio::sync::Notify::new());
        let _subscription =
            AbortOnDrop(tokio::spawn(wake_on_new_commitments(url.clone(), wake.clone())));
        loop {
            let more = match poll(&client, &url, sink.as_ref(), &cursors, &state).await {
                Ok(more) => {
                    set_status(&state, |s| s.last_error = None);
                    more
                }
                Err(e) => {
                    debug!(target: "watchtower", gateway = %url, error = %e, "commitment feed poll failed; retrying");
                    set_status(&state, |s| s.last_error = Some(e.to_string()));
                    false
                }
            };
            if *stop.borrow() {
                return;
            }
            if !more {
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = wake.notified() => {}
                    _ = stop.changed() => return,
                }
            }
        }
    });
    Follower { status, task }
}

fn set_status(status: &Mutex<FeedStatus>, f: impl FnOnce(&mut FeedStatus)) {
    f(&mut status.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
}

/// Reads one page from the cursor on and watches it; `Ok(true)` if the page was not empty (read
/// on at once).
async fn poll(
    client: &reqwest::Client,
    url: &str,
    sink: &dyn FeedSink,
    cursors: &FeedCursors,
    status: &Mutex<FeedStatus>,
) -> Result<bool, WatchtowerError> {
    use based_metrics::names;
    let from = cursors.get(url);
    let page = fetch(client, url, from).await?;
    let count = u64::try_from(page.commitments.len()).unwrap_or(u64::MAX);
    if page.next < from {
        warn!(target: "watchtower", gateway = %url, cursor = from, feed_end = page.next, "the gateway's feed is shorter than the cursor (its log was replaced?); reading it again from 0");
        cursors.set(url, 0)?;
        set_status(status, |s| s.next = 0);
        return Ok(true);
    }
    let base = page.next.checked_sub(count).ok_or_else(|| {
        WatchtowerError::Feed(format!("page of {count} commitments ending at {}", page.next))
    })?;
    let mut next = base.max(from);
    for (seq, raw) in (base..).zip(page.commitments) {
        if seq < from {
            continue;
        }
        let outcome = serde_json::from_value::<SignedCommitment>(raw)
            .map_err(|e| WatchtowerError::Invalid(format!("not a signed commitment: {e}")))
            .and_then(|signed| sink.watch_from_feed(signed));
        metrics::counter!(names::WT_FEED_RECEIVED).increment(1);
        match outcome {
            Ok(added) => set_status(status, |s| {
                s.received = s.received.saturating_add(1);
                s.watched = s.watched.saturating_add(u64::from(added));
            }),
            Err(e @ (WatchtowerError::Invalid(_) | WatchtowerError::Full(_))) => {
                metrics::counter!(names::WT_FEED_SKIPPED).increment(1);
                warn!(target: "watchtower", gateway = %url, seq, error = %e, "skipping a commitment of the feed");
                set_status(status, |s| {
                    s.received = s.received.saturating_add(1);
                    s.skipped = s.skipped.saturating_add(1);
                });
            }
            Err(e) => {
                // Not stored (disk): keep the cursor before it and retry on the next poll.
                if next != from {
                    cursors.set(url, next)?;
                    set_status(status, |s| s.next = next);
                }
                return Err(e);
            }
        }
        next = seq.saturating_add(1);
    }
    if next != from {
        cursors.set(url, next)?;
        set_status(status, |s| s.next = next);
    }
    Ok(count > 0)
}

/// `commitments_since(from, FEED_PAGE)` over JSON-RPC.
async fn fetch(client: &reqwest::Client, url: &str, from: u64) -> Result<Page, WatchtowerError> {
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "commitments_since", "params": [from, FEED_PAGE],
    });
    let feed = |e: &dyn std::fmt::Display| WatchtowerError::Feed(format!("{url}: {e}"));
    let resp: serde_json::Value = client
        .post(url)
        .json(&body)
        .send()
        .await
        .map_err(|e| feed(&e))?
        .json()
        .await
        .map_err(|e| feed(&e))?;
    if let Some(err) = resp.get("error") {
        return Err(feed(&err));
    }
    serde_json::from_value(resp.get("result").cloned().unwrap_or_default()).map_err(|e| feed(&e))
}

impl FeedSink for crate::Watchtower {
    fn watch_from_feed(&self, signed: SignedCommitment) -> Result<bool, WatchtowerError> {
        self.watch(signed, true).map(|(_, added)| added)
    }
}

/// A sink that checks like the watchtower ([`crate::watchable`]) and keeps what it watched, in
/// order: for tests of feed followers without L1.
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct MemorySink {
    pub(crate) slasher: alloy_primitives::Address,
    pub(crate) watched: Mutex<Vec<crate::Watched>>,
    pub(crate) fail_store: std::sync::atomic::AtomicBool,
}

#[cfg(test)]
impl FeedSink for MemorySink {
    fn watch_from_feed(&self, signed: SignedCommitment) -> Result<bool, WatchtowerError> {
        if self.fail_store.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(WatchtowerError::Store("disk full".into()));
        }
        let w = crate::watchable(self.slasher, signed)?;
        let mut watched = self.watched.lock().unwrap();
        if watched.iter().any(|x| x.digest == w.digest) {
            return Ok(false);
        }
        watched.push(w);
        Ok(true)
    }
}

#[cfg(test)]
mod tests;
