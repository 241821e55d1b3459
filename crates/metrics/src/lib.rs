//! Prometheus metrics and health endpoints of the based services.
//!
//! Libraries record with the [`metrics`] facade (`metrics::counter!(names::X)`), which is a no-op
//! until a recorder is installed, so they stay free of any exporter. A service that is started
//! with `--metrics.addr` calls [`serve`]: it installs the Prometheus recorder
//! ([`metrics_exporter_prometheus`]; no hand-written exposition format) and starts one HTTP
//! server with:
//!
//! - `GET /metrics`: the Prometheus text exposition of every metric recorded so far;
//! - `GET /health`: `200` while the process runs;
//! - `GET /ready`: `200` when the service's readiness check passes (set with
//!   [`MetricsServer::set_ready`]; the node's is [`sync_readiness`]), else `503` with a JSON
//!   reason. Before a check is set the service is still starting: `503`.
//!
//! Invariants:
//! - One recorder per process ([`install`] is idempotent and returns the same handle), so the
//!   devnet, which runs every service in one process, has one registry; every server started in
//!   the process renders it.
//! - Every metric recorded in the workspace is one of [`names::ALL`]; label values come from
//!   bounded sets (registered RPC methods or `other`, fixed reason strings).
//! - Histograms are exported as Prometheus histograms with fixed buckets ([`LATENCY_BUCKETS`],
//!   [`DEPTH_BUCKETS`], [`POSTING_BUCKETS`]), never as summaries, so they aggregate across instances.

pub mod names;
pub mod rpc;

pub use rpc::{RpcMetrics, RpcMetricsLayer};

use http_body_util::Full;
use hyper::{
    Method, Request, Response, StatusCode, body::Bytes, server::conn::http1, service::service_fn,
};
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, OnceLock, RwLock},
    time::Duration,
};
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

/// Buckets of the latency histograms, in seconds (100 µs to 10 s).
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
/// Buckets of [`names::PROMISE_POSTING_LATENCY`], in seconds: up to five mainnet slots.
pub const POSTING_BUCKETS: &[f64] =
    &[0.25, 0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 18.0, 24.0, 36.0, 48.0, 60.0];
/// Buckets of [`names::L2_UNWIND_DEPTH`], in L2 blocks.
pub const DEPTH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0];
/// Default `--metrics.ready-max-lag`: L1 blocks the node may be behind the L1 head and be ready.
pub const DEFAULT_READY_MAX_LAG: u64 = 8;

/// Errors of the metrics endpoint.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// Building or installing the recorder failed (another recorder is installed).
    #[error("metrics recorder: {0}")]
    Recorder(String),
    /// Binding or serving the HTTP endpoint failed.
    #[error("metrics endpoint: {0}")]
    Io(#[from] std::io::Error),
}

static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// Installs the process's Prometheus recorder (once; later calls return the same handle) and
/// describes every metric of [`names::ALL`].
pub fn install() -> Result<PrometheusHandle, MetricsError> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(names::L2_UNWIND_DEPTH.into()),
                        DEPTH_BUCKETS,
                    )
                })
                // A full-name matcher wins over the `_seconds` suffix.
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(names::PROMISE_POSTING_LATENCY.into()),
                        POSTING_BUCKETS,
                    )
                })
                .map_err(|e| e.to_string())?;
            let handle = builder.install_recorder().map_err(|e| e.to_string())?;
            describe();
            Ok(handle)
        })
        .clone()
        .map_err(MetricsError::Recorder)
}

fn describe() {
    for m in names::ALL {
        match m.kind {
            names::Kind::Counter => metrics::describe_counter!(m.name, m.help),
            names::Kind::Gauge => metrics::describe_gauge!(m.name, m.help),
            names::Kind::Histogram => metrics::describe_histogram!(m.name, m.help),
        }
    }
}

/// A bounded label value for a reason enum: the variant name of its `Debug` form in snake case,
/// without the values it carries (`BadNonce { tx: 3, account: 1 }` → `bad_nonce`). An enum
/// has finitely many variants, so the label set is bounded.
pub fn reason_label(reason: &impl std::fmt::Debug) -> String {
    let debug = format!("{reason:?}");
    let mut out = String::new();
    for c in debug.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_') {
        if c.is_ascii_uppercase() {
            if !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    if out.is_empty() { "other".into() } else { out }
}

/// Why a service is not ready: a reason and numbers, answered by `/ready` as JSON with `503`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady {
    /// Human-readable reason.
    pub reason: String,
    /// Named numbers explaining it (e.g. `lagBlocks`).
    pub fields: Vec<(&'static str, u64)>,
}

impl NotReady {
    /// A reason without numbers.
    pub fn new(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), fields: Vec::new() }
    }

    fn to_json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        map.insert("ready".into(), false.into());
        map.insert("reason".into(), self.reason.clone().into());
        for (k, v) in &self.fields {
            map.insert((*k).into(), (*v).into());
        }
        serde_json::Value::Object(map)
    }
}

/// The node's readiness rule: ready when its L2 head is derived from an L1 block (`l1_processed`)
/// within `max_lag` blocks of the L1 head. Not ready while the L1 head is unknown (`None`) or the
/// driver halted on a fatal error (`halted`).
pub fn sync_readiness(
    l1_head: Option<u64>,
    l1_processed: u64,
    halted: Option<&str>,
    max_lag: u64,
) -> Result<(), NotReady> {
    if let Some(error) = halted {
        return Err(NotReady::new(format!("driver halted: {error}")));
    }
    let Some(l1_head) = l1_head else {
        return Err(NotReady::new("L1 head not known yet"));
    };
    let lag = l1_head.saturating_sub(l1_processed);
    if lag > max_lag {
        return Err(NotReady {
            reason: format!("syncing: {lag} L1 blocks behind the L1 head (ready at {max_lag})"),
            fields: vec![
                ("l1Head", l1_head),
                ("l1Processed", l1_processed),
                ("lagBlocks", lag),
                ("maxLagBlocks", max_lag),
            ],
        });
    }
    Ok(())
}

/// A readiness check (`/ready`).
pub type ReadyCheck = Arc<dyn Fn() -> Result<(), NotReady> + Send + Sync>;

struct Shared {
    handle: PrometheusHandle,
    ready: RwLock<Option<ReadyCheck>>,
}

impl Shared {
    fn answer(&self, req: &Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n".into());
        }
        match req.uri().path() {
            "/metrics" => {
                let mut response = text(StatusCode::OK, self.handle.render());
                response.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("text/plain; version=0.0.4"),
                );
                response
            }
            "/health" => json(StatusCode::OK, &serde_json::json!({ "status": "ok" })),
            "/ready" => {
                let check = self.ready.read().ok().and_then(|r| r.clone());
                let verdict = check.map_or_else(|| Err(NotReady::new("starting")), |check| check());
                match verdict {
                    Ok(()) => json(StatusCode::OK, &serde_json::json!({ "ready": true })),
                    Err(not) => json(StatusCode::SERVICE_UNAVAILABLE, &not.to_json()),
                }
            }
            _ => text(StatusCode::NOT_FOUND, "not found: /metrics, /health, /ready\n".into()),
        }
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}

fn json(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = text(status, body.to_string());
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// A running `/metrics`, `/health`, `/ready` endpoint; dropping it stops it.
pub struct MetricsServer {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer").field("local_addr", &self.local_addr).finish()
    }
}

/// Installs the recorder ([`install`]) and serves it on `addr` (port 0 picks a free one).
pub async fn serve(addr: SocketAddr) -> Result<MetricsServer, MetricsError> {
    let handle = install()?;
    MetricsServer::start(addr, handle).await
}

impl MetricsServer {
    /// Serves `handle`'s metrics on `addr`; `/ready` answers `503 starting` until
    /// [`Self::set_ready`].
    pub async fn start(addr: SocketAddr, handle: PrometheusHandle) -> Result<Self, MetricsError> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let shared = Arc::new(Shared { handle, ready: RwLock::new(None) });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        info!(target: "based::metrics", %local_addr, "metrics endpoint listening (/metrics, /health, /ready)");
        Ok(Self { local_addr, shared, task })
    }

    /// Sets the readiness check `/ready` answers with.
    pub fn set_ready(&self, check: ReadyCheck) {
        if let Ok(mut ready) = self.shared.ready.write() {
            *ready = Some(check);
        }
    }

    /// Marks the service ready for good (the proposer and the gateway, once started).
    pub fn set_started(&self) {
        self.set_ready(Arc::new(|| Ok(())));
    }

    /// The bound address.
    pub const fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://<addr>` (append `/metrics`, `/health` or `/ready`).
    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// Stops serving (open connections are dropped).
    pub async fn stop(self) {
        drop(self);
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut conns = tokio::task::JoinSet::new();
    // Histograms keep raw samples until upkeep folds them into buckets.
    let mut upkeep = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let shared = shared.clone();
                    conns.spawn(async move {
                        let svc = service_fn(move |req| {
                            let answer = shared.answer(&req);
                            async move { Ok::<_, Infallible>(answer) }
                        });
                        if let Err(error) =
                            http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await
                        {
                            debug!(target: "based::metrics", %error, "connection ended");
                        }
                    });
                }
                Err(error) => {
                    warn!(target: "based::metrics", %error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = upkeep.tick() => shared.handle.run_upkeep(),
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_labels_drop_the_values() {
        #[derive(Debug)]
        #[allow(dead_code)]
        enum Reason {
            BadNonce { tx: u64, account: u64 },
            WrongChainId(u64),
            Undecodable,
        }
        assert_eq!(reason_label(&Reason::BadNonce { tx: 3, account: 1 }), "bad_nonce");
        assert_eq!(reason_label(&Reason::WrongChainId(7)), "wrong_chain_id");
        assert_eq!(reason_label(&Reason::Undecodable), "undecodable");
        assert_eq!(reason_label(&"quoted"), "other");
    }

    #[test]
    fn ready_when_within_the_lag() {
        assert_eq!(sync_readiness(Some(100), 100, None, 8), Ok(()));
        assert_eq!(sync_readiness(Some(108), 100, None, 8), Ok(()));
        // The node can be ahead of a stale L1 head reading.
        assert_eq!(sync_readiness(Some(90), 100, None, 8), Ok(()));
        assert_eq!(sync_readiness(Some(5), 5, None, 0), Ok(()));
    }

    #[test]
    fn not_ready_when_behind_unknown_or_halted() {
        let behind = sync_readiness(Some(109), 100, None, 8).unwrap_err();
        assert!(behind.reason.contains("9 L1 blocks behind"), "{}", behind.reason);
        assert!(behind.fields.contains(&("lagBlocks", 9)));
        assert_eq!(behind.to_json()["lagBlocks"], 9);
        assert_eq!(behind.to_json()["ready"], false);
        assert!(sync_readiness(Some(6), 5, None, 0).is_err());
        let unknown = sync_readiness(None, 0, None, 8).unwrap_err();
        assert!(unknown.reason.contains("not known"));
        let halted = sync_readiness(Some(100), 100, Some("store: broken"), 8).unwrap_err();
        assert!(halted.reason.contains("store: broken"));
    }

    #[tokio::test]
    async fn serves_metrics_health_and_ready() {
        let server = serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        metrics::counter!(names::L2_BLOCKS_IMPORTED).increment(3);
        metrics::histogram!(names::RPC_REQUEST_DURATION, names::LABEL_SERVER => "node", names::LABEL_METHOD => "eth_chainId").record(0.002);
        let get = |path: &str| {
            let url = format!("{}{path}", server.url());
            async move {
                let r = reqwest::get(url).await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        let (status, body) = get("/metrics").await;
        assert_eq!(status, 200);
        assert!(body.contains("based_l2_blocks_imported_total 3"), "{body}");
        assert!(
            body.contains("# HELP based_l2_blocks_imported_total L2 blocks imported"),
            "{body}"
        );
        assert!(
            body.contains(r#"based_rpc_request_duration_seconds_bucket{server="node",method="eth_chainId",le="0.0025"} 1"#),
            "a histogram with buckets, not a summary: {body}"
        );
        assert_eq!(get("/health").await.0, 200);
        let (status, body) = get("/ready").await;
        assert_eq!((status, body.contains("starting")), (503, true), "{body}");
        server.set_ready(Arc::new(|| sync_readiness(Some(20), 1, None, 8)));
        let (status, body) = get("/ready").await;
        assert_eq!(status, 503);
        assert!(body.contains("\"lagBlocks\":19"), "{body}");
        server.set_started();
        assert_eq!(get("/ready").await.0, 200);
        assert_eq!(get("/nope").await.0, 404);
        // A second install is the same recorder.
        assert!(install().is_ok());
        server.stop().await;
    }
}
