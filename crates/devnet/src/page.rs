//! The devnet's live page: one small web page (`GET /`, plain HTML and JavaScript embedded in the
//! binary, no build step and no external resources) and the JSON snapshot it polls about once a
//! second (`GET /api/state`), aggregated here in the devnet process so the browser talks to one
//! origin only (no CORS).
//!
//! A snapshot ([`PageServer`], built on demand) holds:
//! - the L1 head (number, hash, its slot and epoch) and the wall-clock slot;
//! - every slot of the current and the next epoch with its proposer (validator index, from the
//!   beacon API's proposer duties or the posted lookahead), whether the proposer is opted in, its
//!   committer and the slot's preconfer (the node's `based_lookahead`, docs/lookahead.md §8), and
//!   whose it is: `ours` (the devnet gateway's committer), `other`, `open` (anyone may post) or
//!   `unknown` (the lookahead could not be read);
//! - the current slot's preconfer;
//! - the latest [`L2_BLOCKS`] L2 blocks (number, hash, transaction count, gas used) with their L1
//!   origin (`based_l1Origin`);
//! - the latest [`COMMITMENTS`] promises the gateway signed, with their latency
//!   ([`based_gateway::RecentCommitments`]) and the L2 block each landed in, if any;
//! - the node's `based_syncStatus`;
//! - `errors`: what could not be read this time (a source that is down shows up here; the rest of
//!   the snapshot is still served).
//!
//! Invariants:
//! - Nothing is polled while nobody looks: a snapshot is built when `/api/state` is asked for and
//!   reused for [`CACHE_FOR`] (one build at a time however many pages poll).
//! - Requests are bounded: `GET`/`HEAD` only, no request body is read, headers at most
//!   [`MAX_HEADER_BYTES`] and read within [`HEADER_TIMEOUT`], at most [`MAX_CONNECTIONS`] open
//!   connections (more are closed at once). Every source call has [`RPC_TIMEOUT`].
//! - No panics: bad or missing answers of a source become entries of `errors`.

use alloy_primitives::Address;
use based_chainspec::SequencingMode;
use based_gateway::RecentCommitments;
use based_lookahead::SlotClock;
use http_body_util::Full;
use hyper::{
    Method, Request, Response, StatusCode,
    body::Bytes,
    header::{self, HeaderValue},
    server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{Value, json};
use std::{
    collections::HashMap,
    convert::Infallible,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::net::TcpListener;

/// The page's port for `based devnet` (`--page.addr`).
pub const DEFAULT_PAGE_PORT: u16 = 8549;
/// L2 blocks listed.
pub const L2_BLOCKS: u64 = 10;
/// Promises listed.
pub const COMMITMENTS: usize = 10;
/// How long a snapshot is reused.
pub const CACHE_FOR: Duration = Duration::from_millis(500);
/// Timeout of every call to a source (L1, node, beacon API).
pub const RPC_TIMEOUT: Duration = Duration::from_secs(3);
/// Most open connections; more are closed at once.
pub const MAX_CONNECTIONS: usize = 64;
/// Largest request head (request line and headers).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Time to send a request head.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The page itself.
const PAGE: &str = include_str!("page.html");

/// Nothing but the page's own origin: no external script, style, font or request.
const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                   connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'";

/// Errors of the page server.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The listen address could not be bound.
    #[error("devnet page on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Where a snapshot's data comes from.
#[derive(Debug, Clone)]
pub struct PageSources {
    /// L1 JSON-RPC.
    pub l1_url: String,
    /// The node's L2 JSON-RPC (`based_lookahead`, `based_syncStatus`, `based_l1Origin`, blocks).
    pub l2_url: String,
    /// The beacon API (proposer duties).
    pub beacon_url: String,
    /// The gateway (shown on the page).
    pub gateway_url: String,
    /// The L1 slot clock.
    pub clock: SlotClock,
    /// The sequencing mode.
    pub mode: SequencingMode,
    /// The gateway's committer (its slots are `ours`).
    pub committer: Address,
    /// The gateway's latest promises.
    pub commitments: RecentCommitments,
}

/// A running page server; dropping it stops it.
#[derive(Debug)]
pub struct PageServer {
    local_addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl PageServer {
    /// Serves the page on `addr` (port 0 picks a free one).
    pub async fn start(addr: SocketAddr, sources: PageSources) -> Result<Self, PageError> {
        let bind = |source| PageError::Bind { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(bind)?;
        let local_addr = listener.local_addr().map_err(bind)?;
        let client = reqwest::Client::builder()
            .timeout(RPC_TIMEOUT)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let shared = Arc::new(Shared {
            snapshots: Snapshots { sources, client },
            cache: tokio::sync::Mutex::new(None),
        });
        let task = tokio::spawn(accept_loop(listener, shared));
        tracing::info!(target: "devnet::page", %local_addr, "devnet page listening (/, /api/state)");
        Ok(Self { local_addr, task })
    }

    /// The bound address.
    pub const fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://<addr>/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.local_addr)
    }

    /// Stops serving (open connections are dropped).
    pub async fn stop(self) {
        drop(self);
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    snapshots: Snapshots,
    /// The last snapshot and when it was built; the lock makes builds one at a time.
    cache: tokio::sync::Mutex<Option<(Instant, Bytes)>>,
}

impl Shared {
    async fn state(&self) -> Bytes {
        let mut cache = self.cache.lock().await;
        if let Some((at, body)) = cache.as_ref()
            && at.elapsed() < CACHE_FOR
        {
            return body.clone();
        }
        let started = Instant::now();
        let snapshot = self.snapshots.build().await;
        let errors = snapshot["errors"].as_array().map_or(0, Vec::len);
        tracing::debug!(
            target: "devnet::page",
            elapsed_ms = started.elapsed().as_millis() as u64,
            errors,
            "snapshot built"
        );
        let body = Bytes::from(snapshot.to_string());
        *cache = Some((Instant::now(), body.clone()));
        body
    }

    async fn answer(&self, method: &Method, path: &str) -> Response<Full<Bytes>> {
        if method != Method::GET && method != Method::HEAD {
            return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n");
        }
        match path {
            "/" | "/index.html" => {
                let mut response = Response::new(Full::new(Bytes::from_static(PAGE.as_bytes())));
                set(&mut response, header::CONTENT_TYPE, "text/html; charset=utf-8");
                set(&mut response, header::CONTENT_SECURITY_POLICY, CSP);
                response
            }
            "/api/state" => {
                let mut response = Response::new(Full::new(self.state().await));
                set(&mut response, header::CONTENT_TYPE, "application/json");
                response
            }
            _ => text(StatusCode::NOT_FOUND, "not found: / and /api/state\n"),
        }
    }
}

fn set(response: &mut Response<Full<Bytes>>, name: header::HeaderName, value: &'static str) {
    response.headers_mut().insert(name, HeaderValue::from_static(value));
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    set(&mut response, header::CONTENT_TYPE, "text/plain; charset=utf-8");
    response
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(target: "devnet::page", %error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!(target: "devnet::page", %peer, max = MAX_CONNECTIONS, "too many connections: closed");
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                let shared = shared.clone();
                async move {
                    let method = req.method().clone();
                    let path = req.uri().path().to_owned();
                    let response = shared.answer(&method, &path).await;
                    tracing::debug!(
                        target: "devnet::page",
                        %method,
                        path,
                        status = response.status().as_u16(),
                        "request"
                    );
                    Ok::<_, Infallible>(response)
                }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_HEADER_BYTES)
                .serve_connection(TokioIo::new(stream), svc);
            if let Err(error) = conn.await {
                tracing::debug!(target: "devnet::page", %peer, %error, "connection ended");
            }
        });
    }
}

/// Milliseconds since the Unix epoch.
fn unix_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

/// A JSON-RPC quantity (`"0x1f"`), a decimal string (`"31"`, the beacon API's) or a number.
fn quantity(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => match s.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => s.parse().ok(),
        },
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn hex_quantity(n: u64) -> String {
    format!("{n:#x}")
}

/// Builds snapshots.
struct Snapshots {
    sources: PageSources,
    client: reqwest::Client,
}

impl Snapshots {
    /// One JSON-RPC call; its `result`.
    async fn call(&self, url: &str, method: &str, params: Value) -> Result<Value, String> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let answer: Value = self
            .client
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("{method}: {e}"))?
            .json()
            .await
            .map_err(|e| format!("{method}: {e}"))?;
        rpc_result(method, &answer)
    }

    /// One JSON-RPC batch; the `result` of each call, in the calls' order.
    async fn batch(
        &self,
        url: &str,
        calls: &[(&str, Value)],
    ) -> Result<Vec<Result<Value, String>>, String> {
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        let body: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(id, (method, params))| {
                json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
            })
            .collect();
        let answers: Vec<Value> = self
            .client
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("batch: {e}"))?
            .json()
            .await
            .map_err(|e| format!("batch: {e}"))?;
        let by_id: HashMap<u64, &Value> =
            answers.iter().filter_map(|a| Some((a.get("id")?.as_u64()?, a))).collect();
        Ok(calls
            .iter()
            .enumerate()
            .map(|(id, (method, _))| match by_id.get(&(id as u64)) {
                Some(answer) => rpc_result(method, answer),
                None => Err(format!("{method}: no answer in the batch")),
            })
            .collect())
    }

    /// The beacon API's proposer duties of `epoch`: slot → validator index.
    async fn duties(&self, epoch: u64) -> Result<HashMap<u64, u64>, String> {
        let url = format!(
            "{}/eth/v1/validator/duties/proposer/{epoch}",
            self.sources.beacon_url.trim_end_matches('/')
        );
        let answer: Value = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("proposer duties of epoch {epoch}: {e}"))?
            .json()
            .await
            .map_err(|e| format!("proposer duties of epoch {epoch}: {e}"))?;
        let duties = answer["data"]
            .as_array()
            .ok_or_else(|| format!("proposer duties of epoch {epoch}: {answer}"))?;
        Ok(duties
            .iter()
            .filter_map(|d| Some((quantity(&d["slot"])?, quantity(&d["validator_index"])?)))
            .collect())
    }

    /// `based_lookahead(epoch)`, or `None` without a lookahead (permissionless mode: every slot is
    /// open).
    async fn lookahead(&self, epoch: u64) -> Result<Option<Value>, String> {
        if self.sources.mode == SequencingMode::Permissionless {
            return Ok(None);
        }
        self.call(&self.sources.l2_url, "based_lookahead", json!([epoch])).await.map(Some)
    }

    /// The whole snapshot (module docs).
    async fn build(&self) -> Value {
        let src = &self.sources;
        let clock = &src.clock;
        let mut errors: Vec<String> = Vec::new();
        let now_ms = unix_now_ms();
        let current_slot = clock.slot_at(now_ms / 1000);
        let current_epoch = clock.epoch_of(current_slot);
        let next_epoch = current_epoch.saturating_add(1);

        let (l1, sync) = tokio::join!(
            self.call(&src.l1_url, "eth_getBlockByNumber", json!(["latest", false])),
            self.call(&src.l2_url, "based_syncStatus", json!([])),
        );
        let l1 = match l1 {
            Ok(block) => {
                let timestamp = quantity(&block["timestamp"]);
                let slot = timestamp.map(|t| clock.slot_at(t));
                json!({
                    "number": quantity(&block["number"]),
                    "hash": block["hash"],
                    "timestamp": timestamp,
                    "slot": slot,
                    "epoch": slot.map(|s| clock.epoch_of(s)),
                })
            }
            Err(e) => {
                errors.push(format!("L1: {e}"));
                Value::Null
            }
        };
        let sync = match sync {
            Ok(status) => sync_json(&status),
            Err(e) => {
                errors.push(format!("node: {e}"));
                Value::Null
            }
        };
        let l2_head = sync["l2Head"].as_u64();

        let commitments = src.commitments.latest(COMMITMENTS);
        let (l2, la_current, la_next, duties_current, duties_next) = tokio::join!(
            self.l2(l2_head, &commitments),
            self.lookahead(current_epoch),
            self.lookahead(next_epoch),
            self.duties(current_epoch),
            self.duties(next_epoch),
        );
        let (blocks, landed) = match l2 {
            Ok(l2) => l2,
            Err(e) => {
                errors.push(format!("L2 blocks: {e}"));
                (Vec::new(), HashMap::new())
            }
        };

        let mut slots = Vec::new();
        for (epoch, lookahead, duties) in
            [(current_epoch, la_current, duties_current), (next_epoch, la_next, duties_next)]
        {
            let lookahead = lookahead.unwrap_or_else(|e| {
                errors.push(format!("lookahead of epoch {epoch}: {e}"));
                Some(Value::Null)
            });
            let duties = duties.unwrap_or_else(|e| {
                errors.push(e);
                HashMap::new()
            });
            slots.extend(epoch_slots(
                clock,
                epoch,
                lookahead.as_ref(),
                &duties,
                src.committer,
                current_slot,
            ));
        }
        let preconfer = slots.iter().find(|s| s["slot"].as_u64() == Some(current_slot)).map_or(
            Value::Null,
            |s| {
                json!({
                    "slot": current_slot,
                    "rights": s["rights"],
                    "committer": s["preconfer"],
                    "proposer": s["proposer"],
                })
            },
        );
        let next_ours = slots
            .iter()
            .filter(|s| s["slot"].as_u64() >= Some(current_slot) && s["rights"] == "ours")
            .find_map(|s| s["slot"].as_u64());

        let commitments: Vec<Value> = commitments
            .iter()
            .map(|c| {
                let mut entry = serde_json::to_value(c).unwrap_or(Value::Null);
                if let Some(obj) = entry.as_object_mut() {
                    obj.insert("l2Block".into(), json!(landed.get(&c.tx_hash)));
                }
                entry
            })
            .collect();

        json!({
            "updatedMs": now_ms,
            "devnet": {
                "mode": src.mode,
                "committer": src.committer,
                "gateway": src.gateway_url,
                "l2Rpc": src.l2_url,
                "secondsPerSlot": clock.seconds_per_slot(),
                "slotsPerEpoch": clock.slots_per_epoch(),
            },
            "currentSlot": current_slot,
            "currentEpoch": current_epoch,
            "l1": l1,
            "preconfer": preconfer,
            "nextOurSlot": next_ours,
            "slots": slots,
            "l2": { "head": l2_head, "blocks": blocks },
            "commitments": commitments,
            "sync": sync,
            "errors": errors,
        })
    }

    /// The latest L2 blocks up to `head` with their L1 origins, and the L2 block each of
    /// `commitments` landed in (one batch).
    async fn l2(
        &self,
        head: Option<u64>,
        commitments: &[based_gateway::RecentCommitment],
    ) -> Result<(Vec<Value>, HashMap<alloy_primitives::B256, u64>), String> {
        let numbers: Vec<u64> = match head {
            Some(head) => (head.saturating_sub(L2_BLOCKS.saturating_sub(1))..=head).rev().collect(),
            None => Vec::new(),
        };
        let mut calls = Vec::new();
        for n in &numbers {
            calls.push(("eth_getBlockByNumber", json!([hex_quantity(*n), false])));
            calls.push(("based_l1Origin", json!([hex_quantity(*n)])));
        }
        for c in commitments {
            calls.push(("eth_getTransactionReceipt", json!([c.tx_hash])));
        }
        let mut answers = self.batch(&self.sources.l2_url, &calls).await?.into_iter();
        let mut blocks = Vec::new();
        for n in numbers {
            let (block, origin) = (answers.next(), answers.next());
            let Some(Ok(block)) = block else { continue };
            if block.is_null() {
                continue;
            }
            let origin = match origin {
                Some(Ok(o)) if o.is_object() => json!({
                    "l1BlockNumber": quantity(&o["l1BlockNumber"]),
                    "l1BlockHash": o["l1BlockHash"],
                    "proposalId": quantity(&o["proposalId"]),
                    "anchorNumber": quantity(&o["anchorNumber"]),
                }),
                _ => Value::Null,
            };
            blocks.push(json!({
                "number": quantity(&block["number"]).unwrap_or(n),
                "hash": block["hash"],
                "timestamp": quantity(&block["timestamp"]),
                "txCount": block["transactions"].as_array().map_or(0, Vec::len),
                "gasUsed": quantity(&block["gasUsed"]),
                "l1Origin": origin,
            }));
        }
        let mut landed = HashMap::new();
        for c in commitments {
            if let Some(Ok(receipt)) = answers.next()
                && receipt["blockHash"].is_string()
                && let Some(n) = quantity(&receipt["blockNumber"])
            {
                landed.insert(c.tx_hash, n);
            }
        }
        Ok((blocks, landed))
    }
}

/// A JSON-RPC answer's `result`, or its error as text.
fn rpc_result(method: &str, answer: &Value) -> Result<Value, String> {
    if let Some(error) = answer.get("error") {
        return Err(format!("{method}: {error}"));
    }
    answer.get("result").cloned().ok_or_else(|| format!("{method}: no result in {answer}"))
}

/// `based_syncStatus` with plain numbers and the L1 lag.
fn sync_json(status: &Value) -> Value {
    let l1_head = quantity(&status["l1Head"]);
    let l1_processed = quantity(&status["l1Processed"]);
    json!({
        "l1Head": l1_head,
        "l1Processed": l1_processed,
        "l2Head": quantity(&status["l2Head"]),
        "l2Safe": quantity(&status["l2Safe"]),
        "l2Finalized": quantity(&status["l2Finalized"]),
        "lagL1Blocks": l1_head.zip(l1_processed).map(|(h, p)| h.saturating_sub(p)),
        "driver": status.get("driver").cloned().unwrap_or_else(|| json!({"state": "running"})),
    })
}

/// The slots of `epoch`: the proposer (posted lookahead, else the beacon duties), whether it is
/// opted in, its committer and who may post. `lookahead`: `None` in permissionless mode (every
/// slot open), `Some(Null)` when it could not be read.
fn epoch_slots(
    clock: &SlotClock,
    epoch: u64,
    lookahead: Option<&Value>,
    duties: &HashMap<u64, u64>,
    committer: Address,
    current_slot: u64,
) -> Vec<Value> {
    let Ok(range) = clock.slots(epoch) else { return Vec::new() };
    let entries: HashMap<u64, &Value> = lookahead
        .and_then(|l| l["slots"].as_array())
        .map(|slots| slots.iter().filter_map(|s| Some((quantity(&s["slot"])?, s))).collect())
        .unwrap_or_default();
    let known = lookahead.is_none_or(|l| l["slots"].is_array());
    range
        .map(|slot| {
            let entry = entries.get(&slot).copied();
            let proposer = entry
                .and_then(|e| quantity(&e["proposer"]["validatorIndex"]))
                .or_else(|| duties.get(&slot).copied());
            let preconfer = entry.and_then(|e| {
                e["preconfer"]["committer"].as_str().and_then(|c| c.parse::<Address>().ok())
            });
            let rights = match (known, preconfer) {
                (false, _) => "unknown",
                (true, None) => "open",
                (true, Some(c)) if c == committer => "ours",
                (true, Some(_)) => "other",
            };
            json!({
                "slot": slot,
                "epoch": epoch,
                "timestamp": clock.slot_timestamp(slot).ok(),
                "proposer": proposer,
                "pubkeyHash": entry.map_or(Value::Null, |e| e["proposer"]["pubkeyHash"].clone()),
                "optedIn": entry.and_then(|e| e["optedIn"].as_bool()).unwrap_or(false),
                "committer": entry.map_or(Value::Null, |e| e["committer"].clone()),
                "preconfer": preconfer,
                "rights": rights,
                "posted": lookahead.and_then(|l| l["posted"].as_bool()),
                "current": slot == current_slot,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(l1_url: String, l2_url: String, beacon_url: String) -> PageSources {
        PageSources {
            l1_url,
            l2_url,
            beacon_url,
            gateway_url: "http://127.0.0.1:1".into(),
            clock: SlotClock::new(1_000, 2, 4).unwrap(),
            mode: SequencingMode::OptIn,
            committer: Address::repeat_byte(0xcc),
            commitments: RecentCommitments::default(),
        }
    }

    #[test]
    fn quantities() {
        assert_eq!(quantity(&json!("0x1f")), Some(31));
        assert_eq!(quantity(&json!("31")), Some(31));
        assert_eq!(quantity(&json!(31)), Some(31));
        assert_eq!(quantity(&json!("0xzz")), None);
        assert_eq!(quantity(&json!(null)), None);
    }

    #[test]
    fn slots_merge_the_lookahead_and_the_duties() {
        let clock = SlotClock::new(1_000, 2, 4).unwrap();
        let ours = Address::repeat_byte(0xcc);
        let other = Address::repeat_byte(0xdd);
        let lookahead = json!({
            "posted": true,
            "slots": [
                {"slot": "0x8", "proposer": {"validatorIndex": "0x8", "pubkeyHash": "0x01"},
                 "optedIn": false, "committer": null, "preconfer": {"pubkeyHash": "0x02", "committer": ours}},
                {"slot": "0x9", "proposer": {"validatorIndex": "0x9", "pubkeyHash": "0x02"},
                 "optedIn": true, "committer": ours, "preconfer": {"pubkeyHash": "0x02", "committer": ours}},
                {"slot": "0xa", "proposer": null, "optedIn": false, "committer": null, "preconfer": null},
                {"slot": "0xb", "proposer": {"validatorIndex": "0xb", "pubkeyHash": "0x03"},
                 "optedIn": true, "committer": other, "preconfer": {"pubkeyHash": "0x03", "committer": other}},
            ]
        });
        let duties: HashMap<u64, u64> = [(10, 10)].into();
        let slots = epoch_slots(&clock, 2, Some(&lookahead), &duties, ours, 9);
        let get = |i: usize, k: &str| slots[i][k].clone();
        assert_eq!(slots.len(), 4);
        assert_eq!(
            (get(0, "slot"), get(0, "rights"), get(0, "optedIn")),
            (json!(8), json!("ours"), json!(false))
        );
        assert_eq!(
            (get(1, "proposer"), get(1, "optedIn"), get(1, "current")),
            (json!(9), json!(true), json!(true))
        );
        assert_eq!(get(1, "committer"), json!(ours));
        // No proposer in the lookahead: the beacon duties'; no preconfer: open.
        assert_eq!((get(2, "proposer"), get(2, "rights")), (json!(10), json!("open")));
        assert_eq!((get(3, "rights"), get(3, "preconfer")), (json!("other"), json!(other)));
        assert_eq!(get(3, "timestamp"), json!(1_000 + 11 * 2));
        // Permissionless: every slot open, proposers from the duties.
        let open = epoch_slots(&clock, 2, None, &duties, ours, 9);
        assert!(open.iter().all(|s| s["rights"] == "open" && !s["optedIn"].as_bool().unwrap()));
        // Unreadable lookahead: unknown, not open.
        let unknown = epoch_slots(&clock, 2, Some(&Value::Null), &duties, ours, 9);
        assert!(unknown.iter().all(|s| s["rights"] == "unknown"));
        assert_eq!(unknown[2]["proposer"], json!(10));
    }

    #[test]
    fn sync_status_numbers_and_lag() {
        let s = sync_json(&json!({"l1Head": "0x10", "l1Processed": "0xe", "l2Head": "0x5",
            "l2Safe": "0x4", "l2Finalized": "0x3", "driver": {"state": "running"}}));
        assert_eq!(s["l2Head"], json!(5));
        assert_eq!(s["lagL1Blocks"], json!(2));
        assert_eq!(s["driver"]["state"], json!("running"));
    }

    /// A closed local port: every source call fails fast.
    async fn closed_url() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        url
    }

    #[tokio::test]
    async fn serves_the_page_and_a_state_with_errors_when_sources_are_down() {
        let down = closed_url().await;
        let server = PageServer::start(
            "127.0.0.1:0".parse().unwrap(),
            sources(down.clone(), down.clone(), down),
        )
        .await
        .unwrap();
        let client = reqwest::Client::new();
        let page = client.get(server.url()).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        assert!(page.headers().contains_key("content-security-policy"));
        let html = page.text().await.unwrap();
        for id in ["l2-head", "sync-status", "slots", "preconfer", "l2-blocks", "commitments"] {
            assert!(html.contains(&format!("id=\"{id}\"")), "page has #{id}");
        }
        assert!(!html.contains("http://") && !html.contains("https://"), "no external resource");

        let state: Value = client
            .get(format!("{}api/state", server.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let errors = state["errors"].as_array().unwrap();
        assert!(errors.iter().any(|e| e.as_str().unwrap().starts_with("L1:")), "{state}");
        assert!(errors.iter().any(|e| e.as_str().unwrap().starts_with("node:")), "{state}");
        assert!(state["l1"].is_null() && state["sync"].is_null(), "{state}");
        // The slots are still listed, their rights unknown.
        assert_eq!(state["slots"].as_array().unwrap().len(), 8, "{state}");
        assert!(state["slots"].as_array().unwrap().iter().all(|s| s["rights"] == "unknown"));
        assert_eq!(state["devnet"]["mode"], json!("opt-in"));

        let status = |r: reqwest::Response| r.status().as_u16();
        assert_eq!(status(client.get(format!("{}nope", server.url())).send().await.unwrap()), 404);
        assert_eq!(
            status(
                client.post(format!("{}api/state", server.url())).body("x").send().await.unwrap()
            ),
            405
        );
        // A request head beyond the bound is refused, and the server keeps serving.
        let huge = "a".repeat(MAX_HEADER_BYTES * 2);
        let refused = client.get(server.url()).header("x-big", huge).send().await;
        assert!(refused.map(|r| r.status().as_u16() == 431).unwrap_or(true));
        assert_eq!(status(client.get(server.url()).send().await.unwrap()), 200);
        server.stop().await;
    }

    #[tokio::test]
    async fn a_busy_address_is_an_error() {
        let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = taken.local_addr().unwrap();
        let down = closed_url().await;
        let err =
            PageServer::start(addr, sources(down.clone(), down.clone(), down)).await.unwrap_err();
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
    }
}
