//! The gateway's network face, on one port:
//!
//! - JSON-RPC (jsonrpsee): `commitmentRequest`, `commitmentResult`, `slots`, `fee` (eth-fabric
//!   Commitments API), `eth_sendRawTransaction` (promise for the next own slot; answers the hash),
//!   `eth_chainId`, and the read methods a wallet needs, forwarded to the L2 node
//!   ([`FORWARDED_METHODS`]).
//! - REST (the same handlers through [`RestLayer`]): `POST /commitments/v0/gateway/commitment`
//!   (also `.../commitmentRequest`), `GET /commitments/v0/gateway/commitment/{hash}` (also
//!   `.../commitmentResult/{hash}`), `GET /commitments/v0/gateway/slots`,
//!   `POST /commitments/v0/gateway/fee`, and the commitment feed
//!   `GET /commitments/v0/gateway/commitments?from=<seq>&limit=<n>` (JSON-RPC
//!   `commitments_since(from, limit)`, [`Gateway::commitments_since`]). Errors answer `{"code", "message"}` with an HTTP status
//!   ([`GatewayError::http_status`]).

use crate::service::{Gateway, GatewayError, NodeError, PendingNode, Promise};
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use based_commitments::CommitmentRequest;
use jsonrpsee::{
    RpcModule,
    server::{HttpBody, HttpRequest, HttpResponse, Server, ServerConfig, ServerHandle},
    types::{ErrorObjectOwned, Params},
};
use std::{
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

/// Read methods forwarded unchanged to the L2 node, so a wallet can use the gateway as its RPC.
pub const FORWARDED_METHODS: &[&str] = &[
    "eth_blockNumber",
    "eth_getBalance",
    "eth_getTransactionCount",
    "eth_getCode",
    "eth_getStorageAt",
    "eth_call",
    "eth_estimateGas",
    "eth_gasPrice",
    "eth_maxPriorityFeePerGas",
    "eth_feeHistory",
    "eth_getBlockByNumber",
    "eth_getBlockByHash",
    "eth_getTransactionByHash",
    "eth_getTransactionReceipt",
    "eth_getLogs",
    "net_version",
    "web3_clientVersion",
];

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Listen address (port 0 picks a free port).
    pub addr: SocketAddr,
    /// L2 node JSON-RPC URL for [`FORWARDED_METHODS`] (none: not served).
    pub node_url: Option<String>,
    /// Largest request body (bytes), JSON-RPC and REST.
    pub max_request_bytes: u32,
    /// Most concurrent connections.
    pub max_connections: u32,
    /// Where `eth_sendRawTransaction` hands a transaction it cannot promise because the gateway
    /// has no slot to promise for (an `eth_sendRawTransaction` endpoint: [`launch`] uses the
    /// node's, which forwards it to its proposer; posted as an ordinary transaction, no promise).
    /// `None`: refused with -32011.
    pub unpromised_url: Option<String>,
}

fn rpc_error(e: &GatewayError) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(e.code(), e.to_string(), None::<()>)
}

fn invalid(msg: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(crate::service::codes::INVALID_PARAMS, msg.to_string(), None::<()>)
}

/// An HTTP client for calls to the L2 node, bounded by [`NODE_TIMEOUT`] so a hung node cannot
/// hang admission or forwarded reads.
fn node_client() -> reqwest::Client {
    reqwest::Client::builder().timeout(NODE_TIMEOUT).build().unwrap_or_default()
}

/// Timeout of one call to the L2 node.
pub const NODE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Forwards a raw JSON-RPC call to the node.
async fn forward(
    client: &reqwest::Client,
    url: &str,
    method: &str,
    params: Option<&str>,
) -> Result<serde_json::Value, ErrorObjectOwned> {
    let params: serde_json::Value = match params {
        Some(p) => serde_json::from_str(p).map_err(invalid)?,
        None => serde_json::Value::Array(vec![]),
    };
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let internal = |e: String| {
        ErrorObjectOwned::owned(
            crate::service::codes::INTERNAL,
            format!("L2 node: {e}"),
            None::<()>,
        )
    };
    let resp: serde_json::Value = client
        .post(url)
        .json(&body)
        .send()
        .await
        .map_err(|e| internal(e.to_string()))?
        .json()
        .await
        .map_err(|e| internal(e.to_string()))?;
    if let Some(err) = resp.get("error") {
        let code = err.get("code").and_then(serde_json::Value::as_i64).unwrap_or(-32603);
        let message = err.get("message").and_then(serde_json::Value::as_str).unwrap_or("error");
        return Err(ErrorObjectOwned::owned(
            i32::try_from(code).unwrap_or(-32603),
            message.to_owned(),
            err.get("data").cloned(),
        ));
    }
    Ok(resp.get("result").cloned().unwrap_or(serde_json::Value::Null))
}

/// A sequence number or limit of `commitments_since`: a JSON number or a `0x` quantity.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(untagged)]
enum FeedNumber {
    Number(u64),
    Quantity(U64),
}

impl FeedNumber {
    fn get(self) -> u64 {
        match self {
            Self::Number(n) => n,
            Self::Quantity(q) => q.to(),
        }
    }
}

/// Sends the commitment feed from number `from` to `sink` ([`crate::service::FeedItem`]s, in feed
/// order, backlog first), then every new durable promise as it is made, until the client leaves.
/// Read from the commitment log itself, so a subscriber never misses or reorders one; a slow one
/// is paced by its socket (jsonrpsee's bounded sink), not dropped.
async fn stream_feed<A, K>(
    gateway: &Gateway<A, K>,
    sink: jsonrpsee::SubscriptionSink,
    from: u64,
) -> jsonrpsee::core::SubscriptionResult
where
    A: PendingNode,
    K: crate::CommitSigner,
{
    let grew = gateway.feed_grew();
    let mut next = from;
    loop {
        // Registered before reading, so a promise made in between still wakes us.
        let notified = grew.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let feed = gateway.commitments_since(next, Some(crate::service::FEED_MAX_LIMIT));
        let got = u64::try_from(feed.commitments.len()).unwrap_or(u64::MAX);
        for (i, commitment) in (0u64..).zip(feed.commitments) {
            let item = crate::service::FeedItem { number: next.saturating_add(i), commitment };
            let message = serde_json::value::to_raw_value(&item)?;
            if sink.send(message).await.is_err() {
                return Ok(());
            }
        }
        next = next.saturating_add(got);
        if got > 0 {
            continue;
        }
        tokio::select! {
            () = sink.closed() => return Ok(()),
            () = &mut notified => {}
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}

/// Builds the JSON-RPC module over `gateway`.
pub fn rpc_module<A, K>(
    gateway: Arc<Gateway<A, K>>,
    node_url: Option<String>,
    unpromised_url: Option<String>,
) -> Result<RpcModule<()>, jsonrpsee::core::RegisterMethodError>
where
    A: PendingNode,
    K: crate::CommitSigner,
{
    let mut module = RpcModule::new(());
    let g = gateway.clone();
    module.register_async_method("commitmentRequest", move |params: Params<'static>, _, _| {
        let g = g.clone();
        async move {
            let request: CommitmentRequest = params.one().map_err(|e| invalid(e.message()))?;
            g.request(request).await.map_err(|e| rpc_error(&e))
        }
    })?;
    let g = gateway.clone();
    module.register_method("commitmentResult", move |params, _, _| {
        let hash: B256 = params.one().map_err(|e| invalid(e.message()))?;
        g.result(hash).map_err(|e| rpc_error(&e))
    })?;
    let g = gateway.clone();
    module.register_method("slots", move |_, _, _| Ok::<_, ErrorObjectOwned>(g.slots()))?;
    let g = gateway.clone();
    module.register_method("fee", move |params, _, _| {
        let request: CommitmentRequest = params.one().map_err(|e| invalid(e.message()))?;
        g.fee(&request).map_err(|e| rpc_error(&e))
    })?;
    let g = gateway.clone();
    let unpromised = unpromised_url.map(|url| (node_client(), Arc::new(url)));
    module.register_async_method(
        "eth_sendRawTransaction",
        move |params: Params<'static>, _, _| {
            let (g, unpromised) = (g.clone(), unpromised.clone());
            async move {
                let raw: Bytes = params.one().map_err(|e| invalid(e.message()))?;
                match g.send_raw_transaction(raw.clone()).await {
                    Ok(hash) => Ok(serde_json::json!(hash)),
                    Err(GatewayError::NotPreconfer(slot)) if unpromised.is_some() => {
                        let Some((client, url)) = unpromised else {
                            return Err(rpc_error(&GatewayError::NotPreconfer(slot)));
                        };
                        // No slot of ours to promise for: the transaction still reaches L1,
                        // posted as an ordinary one (no commitment).
                        let params = serde_json::json!([raw]).to_string();
                        let hash = forward(&client, &url, "eth_sendRawTransaction", Some(&params))
                            .await?;
                        metrics::counter!(based_metrics::names::GATEWAY_UNPROMISED_FORWARDED)
                            .increment(1);
                        tracing::debug!(target: "gateway", %hash, current_slot = slot, "no slot to promise for: forwarded as an ordinary transaction");
                        Ok(hash)
                    }
                    Err(e) => Err(rpc_error(&e)),
                }
            }
        },
    )?;
    let g = gateway.clone();
    module.register_method("commitments_since", move |params, _, _| {
        let mut seq = params.sequence();
        let from: Option<FeedNumber> = seq.optional_next().map_err(|e| invalid(e.message()))?;
        let limit: Option<FeedNumber> = seq.optional_next().map_err(|e| invalid(e.message()))?;
        Ok::<_, ErrorObjectOwned>(
            g.commitments_since(from.map_or(0, FeedNumber::get), limit.map(FeedNumber::get)),
        )
    })?;
    let g = gateway.clone();
    module.register_subscription(
        "commitments_subscribe",
        "commitments_subscription",
        "commitments_unsubscribe",
        move |params, pending, _, _| {
            let g = g.clone();
            async move {
                let from: Option<FeedNumber> = match params.sequence().optional_next() {
                    Ok(from) => from,
                    Err(e) => {
                        pending.reject(invalid(e.message())).await;
                        return Ok(());
                    }
                };
                let sink = pending.accept().await?;
                let from = from.map_or_else(|| g.feed_len(), FeedNumber::get);
                stream_feed(&g, sink, from).await
            }
        },
    )?;
    let chain_id = gateway.config().chain_id;
    module.register_method("eth_chainId", move |_, _, _| {
        Ok::<_, ErrorObjectOwned>(U256::from(chain_id))
    })?;
    let committer = gateway.committer();
    module.register_method("gateway_committer", move |_, _, _| {
        Ok::<Address, ErrorObjectOwned>(committer)
    })?;
    if let Some(url) = node_url {
        let client = node_client();
        let url = Arc::new(url);
        for method in FORWARDED_METHODS {
            let client = client.clone();
            let url = url.clone();
            module.register_async_method(method, move |params: Params<'static>, _, _| {
                let client = client.clone();
                let url = url.clone();
                async move { forward(&client, &url, method, params.as_str()).await }
            })?;
        }
    }
    Ok(module)
}

/// A running gateway server.
#[derive(Debug)]
pub struct GatewayServer {
    addr: SocketAddr,
    handle: ServerHandle,
    recent: crate::service::RecentCommitments,
    poster: Option<tokio::task::JoinHandle<()>>,
    checker: Option<tokio::task::JoinHandle<()>>,
    lag_reader: Option<tokio::task::JoinHandle<()>>,
    lag: Option<Arc<crate::service::PostingLag>>,
}

/// How often the gateway reads its proposer's posting status.
pub const POSTING_STATUS_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// Keeps `lag` equal to the proposer's `based_postingStatus` (the last answer stays when it does
/// not answer; a proposer without the method leaves it at zero: the configured lead alone).
async fn read_posting_lag(
    client: reqwest::Client,
    proposer_url: String,
    lag: Arc<crate::service::PostingLag>,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let mut warned = false;
    loop {
        match forward(&client, &proposer_url, "based_postingStatus", None).await {
            Ok(status) => {
                let field = |name: &str| status.get(name).and_then(serde_json::Value::as_u64);
                let (latency, waiting) =
                    (field("maxLatencyMs").unwrap_or(0), field("oldestWaitingMs").unwrap_or(0));
                let ready = status.get("ready").and_then(serde_json::Value::as_bool) != Some(false);
                let before = lag.max_latency_ms.swap(latency, Relaxed);
                lag.oldest_waiting_ms.store(waiting, Relaxed);
                if lag.not_ready.swap(!ready, Relaxed) == ready {
                    tracing::info!(target: "gateway", ready, "proposer readiness changed");
                }
                if latency != before {
                    tracing::debug!(target: "gateway", max_latency_ms = latency, oldest_waiting_ms = waiting, "proposer posting latency");
                }
                warned = false;
            }
            Err(e) => {
                // Promises it cannot hand over would break: none until it answers again.
                lag.not_ready.store(true, Relaxed);
                if !warned {
                    tracing::warn!(target: "gateway", error = %e.message(), "proposer unreachable: not promising");
                    warned = true;
                }
            }
        }
        tokio::time::sleep(POSTING_STATUS_INTERVAL).await;
    }
}

impl GatewayServer {
    /// Serves `gateway` (JSON-RPC and REST on one port).
    pub async fn start<A, K>(
        gateway: Arc<Gateway<A, K>>,
        settings: ServerSettings,
    ) -> Result<Self, std::io::Error>
    where
        A: PendingNode,
        K: crate::CommitSigner,
    {
        let recent = gateway.recent();
        let module =
            rpc_module(gateway, settings.node_url.clone(), settings.unpromised_url.clone())
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        let config = ServerConfig::builder()
            .max_request_body_size(settings.max_request_bytes)
            .max_connections(settings.max_connections)
            .build();
        let metrics = based_metrics::RpcMetricsLayer::new("gateway", module.method_names());
        let server = Server::builder()
            .set_config(config)
            .set_rpc_middleware(
                jsonrpsee::server::middleware::rpc::RpcServiceBuilder::new().layer(metrics),
            )
            .set_http_middleware(
                tower::ServiceBuilder::new()
                    .layer(RestLayer { max_body: settings.max_request_bytes }),
            )
            .build(settings.addr)
            .await?;
        let addr = server.local_addr()?;
        let handle = server.start(module);
        tracing::info!(target: "gateway", %addr, "gateway listening (JSON-RPC and REST)");
        Ok(Self { addr, handle, recent, poster: None, checker: None, lag_reader: None, lag: None })
    }

    /// Also runs a task that hands promised transactions to `proposer_url`
    /// (`based_sendPromisedTransaction`: the proposer's promised lane, ahead of ordinary
    /// transactions), in promise order, with the node call timeout.
    ///
    /// `withhold` is a fault switch for tests of slashing (docs/slashing.md): while it is set,
    /// promised transactions are dropped instead of handed to the proposer, so the promises
    /// break. Production code passes `None`.
    ///
    /// A second task reads the proposer's `based_postingStatus` every [`POSTING_STATUS_INTERVAL`]
    /// into `lag` ([`Gateway::posting_lag`]), which raises the promise lead when posting is slow.
    pub fn with_poster(
        mut self,
        mut promises: tokio::sync::mpsc::UnboundedReceiver<Promise>,
        proposer_url: String,
        withhold: Option<Arc<std::sync::atomic::AtomicBool>>,
        lag: Arc<crate::service::PostingLag>,
    ) -> Result<Self, std::io::Error> {
        let client = node_client();
        self.lag = Some(lag.clone());
        self.lag_reader =
            Some(tokio::spawn(read_posting_lag(client.clone(), proposer_url.clone(), lag)));
        self.poster = Some(tokio::spawn(async move {
            while let Some(p) = promises.recv().await {
                if withhold.as_ref().is_some_and(|w| w.load(std::sync::atomic::Ordering::SeqCst)) {
                    tracing::warn!(
                        target: "gateway",
                        tx = %p.tx_hash,
                        slot = p.slot,
                        "fault injection: withholding a promised transaction from the proposer"
                    );
                    continue;
                }
                let params = serde_json::json!([p.raw]).to_string();
                if let Err(e) =
                    forward(&client, &proposer_url, "based_sendPromisedTransaction", Some(&params))
                        .await
                {
                    tracing::warn!(
                        target: "gateway",
                        tx = %p.tx_hash,
                        slot = p.slot,
                        error = %e.message(),
                        "proposer refused a promised transaction"
                    );
                }
            }
        }));
        Ok(self)
    }

    /// Whether the gateway promises: its proposer (if it has one) said it is ready to post.
    pub fn posting_ready(&self) -> bool {
        self.lag
            .as_ref()
            .is_none_or(|lag| !lag.not_ready.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Waits until [`GatewayServer::posting_ready`], at most `timeout`; answers whether it is.
    pub async fn wait_posting_ready(&self, timeout: std::time::Duration) -> bool {
        let started = tokio::time::Instant::now();
        while !self.posting_ready() {
            if started.elapsed() >= timeout {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        true
    }

    /// The bound address.
    pub const fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The latest promises of the served gateway, with their latency ([`Gateway::recent`]).
    pub fn recent(&self) -> crate::service::RecentCommitments {
        self.recent.clone()
    }

    /// Stops the server.
    pub async fn stop(self) {
        let _ = self.handle.stop();
        self.handle.stopped().await;
        if let Some(poster) = self.poster {
            poster.abort();
        }
        if let Some(checker) = self.checker {
            checker.abort();
        }
        if let Some(reader) = self.lag_reader {
            reader.abort();
        }
    }

    /// Also runs a task that checks the node's preconfirmed state every `every`
    /// ([`Gateway::check_node`]): after a node restart the outstanding promises are pushed again.
    pub fn with_node_check<A, K>(
        mut self,
        gateway: Arc<Gateway<A, K>>,
        every: std::time::Duration,
    ) -> Self
    where
        A: PendingNode,
        K: crate::CommitSigner,
    {
        self.checker = Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = gateway.check_node().await {
                    tracing::debug!(target: "gateway", error = %e, "L2 node check failed");
                }
            }
        }));
        self
    }
}

/// Tower layer translating the Commitments API's REST form into the JSON-RPC methods.
#[derive(Debug, Clone, Copy)]
pub struct RestLayer {
    max_body: u32,
}

impl<S> tower::Layer<S> for RestLayer {
    type Service = Rest<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Rest { inner, max_body: self.max_body }
    }
}

/// See [`RestLayer`].
#[derive(Debug, Clone)]
pub struct Rest<S> {
    inner: S,
    max_body: u32,
}

const PREFIX: &str = "/commitments/v0/gateway/";

/// The JSON-RPC method of a REST route and whether it carries a body or a path hash.
fn route(method: &http::Method, path: &str) -> Option<(&'static str, Option<String>)> {
    let rest = path.strip_prefix(PREFIX)?;
    match (method, rest) {
        (&http::Method::POST, "commitment" | "commitmentRequest") => {
            Some(("commitmentRequest", None))
        }
        (&http::Method::GET, "slots") => Some(("slots", None)),
        (&http::Method::POST, "fee") => Some(("fee", None)),
        (&http::Method::GET, "commitments") => Some(("commitments_since", None)),
        (&http::Method::GET, r) => {
            let hash =
                r.strip_prefix("commitment/").or_else(|| r.strip_prefix("commitmentResult/"))?;
            Some(("commitmentResult", Some(hash.to_owned())))
        }
        _ => None,
    }
}

/// The `commitments_since` parameters of `GET .../commitments?from=<seq>&limit=<n>` (both
/// optional decimal numbers; other keys are ignored).
fn feed_query(query: Option<&str>) -> Result<serde_json::Value, String> {
    let (mut from, mut limit) = (0u64, None);
    for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let parse = || value.parse::<u64>().map_err(|e| format!("invalid `{key}` {value:?}: {e}"));
        match key {
            "from" => from = parse()?,
            "limit" => limit = Some(parse()?),
            _ => {}
        }
    }
    Ok(serde_json::json!([from, limit]))
}

fn json_response(status: u16, body: String) -> HttpResponse {
    let mut resp = HttpResponse::new(HttpBody::from(body));
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    resp.headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    resp
}

fn error_status(code: i64) -> u16 {
    use crate::service::codes;
    match i32::try_from(code).unwrap_or(codes::INTERNAL) {
        codes::NOT_PRECONFER => 403,
        codes::NOT_FOUND => 404,
        codes::CONFLICT => 409,
        codes::CAPACITY => 429,
        codes::INTERNAL => 500,
        -32700 | -32600 | -32601 | codes::INVALID_PARAMS => 400,
        _ => 400,
    }
}

impl<S> tower::Service<HttpRequest<HttpBody>> for Rest<S>
where
    S: tower::Service<HttpRequest<HttpBody>, Response = HttpResponse> + Clone + Send + 'static,
    S::Error: Into<jsonrpsee::core::BoxError> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = jsonrpsee::core::BoxError;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: HttpRequest<HttpBody>) -> Self::Future {
        let Some((method, path_hash)) = route(req.method(), req.uri().path()) else {
            if req.uri().path().starts_with(PREFIX) {
                return Box::pin(async {
                    Ok(json_response(404, r#"{"code":404,"message":"no such endpoint"}"#.into()))
                });
            }
            let fut = self.inner.call(req);
            return Box::pin(async move { fut.await.map_err(Into::into) });
        };
        let feed_params = if method == "commitments_since" {
            match feed_query(req.uri().query()) {
                Ok(params) => Some(params),
                Err(message) => {
                    let body = serde_json::json!({"code": 400, "message": message});
                    return Box::pin(async move { Ok(json_response(400, body.to_string())) });
                }
            }
        } else {
            None
        };
        let mut inner = self.inner.clone();
        let max_body = usize::try_from(self.max_body).unwrap_or(usize::MAX);
        Box::pin(async move {
            use http_body_util::BodyExt;
            let (mut parts, body) = req.into_parts();
            let limited = http_body_util::Limited::new(body, max_body);
            let bytes = match limited.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(_) => {
                    return Ok(json_response(
                        413,
                        r#"{"code":413,"message":"request body too large"}"#.into(),
                    ));
                }
            };
            let params = match (path_hash, feed_params) {
                (_, Some(params)) => params,
                (Some(hash), None) => serde_json::json!([hash]),
                (None, None) if method == "slots" => serde_json::json!([]),
                (None, None) => match serde_json::from_slice::<serde_json::Value>(&bytes) {
                    Ok(v) => serde_json::json!([v]),
                    Err(e) => {
                        let body = serde_json::json!({"code": 400, "message": format!("invalid JSON: {e}")});
                        return Ok(json_response(400, body.to_string()));
                    }
                },
            };
            let rpc =
                serde_json::json!({"jsonrpc": "2.0", "id": 0, "method": method, "params": params});
            parts.method = http::Method::POST;
            parts.uri = http::Uri::from_static("/");
            parts.headers.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            parts.headers.remove(http::header::CONTENT_LENGTH);
            let req = HttpRequest::from_parts(parts, HttpBody::from(rpc.to_string()));
            let resp = inner.call(req).await.map_err(Into::into)?;
            let bytes = resp.into_body().collect().await?.to_bytes();
            let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            if let Some(result) = value.get("result") {
                return Ok(json_response(200, result.to_string()));
            }
            let err = value.get("error").cloned().unwrap_or_default();
            let code = err.get("code").and_then(serde_json::Value::as_i64).unwrap_or(-32603);
            Ok(json_response(error_status(code), err.to_string()))
        })
    }
}

/// [`PendingNode`] over the L2 node's JSON-RPC (`based_preconfirm`, `based_dropPreconfirmed`,
/// `based_preconfirmStatus`), each call bounded by [`NODE_TIMEOUT`].
#[derive(Debug, Clone)]
pub struct NodePending {
    client: reqwest::Client,
    url: String,
}

impl NodePending {
    /// Drives the pending state of the node at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self { client: node_client(), url: url.into() }
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<T, NodeError> {
        let body =
            serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let unreachable = |e: &dyn std::fmt::Display| NodeError::Unreachable(e.to_string());
        let resp: serde_json::Value = self
            .client
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .map_err(|e| unreachable(&e))?
            .json()
            .await
            .map_err(|e| unreachable(&e))?;
        if let Some(err) = resp.get("error") {
            let code = err.get("code").and_then(serde_json::Value::as_i64).unwrap_or(-32603);
            return Err(NodeError::Refused {
                code: i32::try_from(code).unwrap_or(-32603),
                message: err
                    .get("message")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("error")
                    .to_owned(),
                data: err.get("data").cloned(),
            });
        }
        serde_json::from_value(resp.get("result").cloned().unwrap_or_default())
            .map_err(|e| unreachable(&e))
    }
}

impl PendingNode for NodePending {
    async fn preconfirm(
        &self,
        raw: Bytes,
        slot: u64,
        deadline: Option<u64>,
    ) -> Result<based_rpc::Preconfirmation, NodeError> {
        let params = serde_json::json!([raw, U64::from(slot), deadline.map(U64::from)]);
        self.call("based_preconfirm", params).await
    }

    async fn drop_preconfirmed(&self, tx_hash: B256) -> Result<bool, NodeError> {
        self.call("based_dropPreconfirmed", serde_json::json!([tx_hash])).await
    }

    async fn session(&self) -> Result<u64, NodeError> {
        let status: based_rpc::PreconfStatus =
            self.call("based_preconfirmStatus", serde_json::json!([])).await?;
        Ok(status.session.to())
    }
}

/// How often [`launch`]ed gateways check the node's session ([`Gateway::check_node`]).
pub const NODE_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Everything [`launch`] needs.
#[derive(Debug, Clone)]
pub struct LaunchConfig {
    /// Admission rules and limits.
    pub gateway: crate::GatewayConfig,
    /// The commitment log file (created if absent; replayed if present).
    pub log_path: std::path::PathBuf,
    /// The L2 node (its preconfirmed state, and the reads forwarded for wallets).
    pub node_url: String,
    /// Where promised transactions are handed for posting (`eth_sendRawTransaction`), if anywhere.
    pub proposer_url: Option<String>,
    /// Listen address (port 0 picks a free port).
    pub addr: SocketAddr,
    /// Largest request body.
    pub max_request_bytes: u32,
    /// Most concurrent connections.
    pub max_connections: u32,
    /// Test-only fault switch: while set, promised transactions are not handed to the proposer
    /// (the promises break; see [`GatewayServer::with_poster`]). `None` in production.
    pub withhold_promises: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// `eth_sendRawTransaction` of a transaction the gateway has no slot to promise for hands it
    /// to the node (which forwards it to its proposer) as an ordinary one instead of refusing it
    /// ([`ServerSettings::unpromised_url`]).
    pub forward_unpromised: bool,
}

/// Opens (and replays) the log, rebuilds the promised state, and serves a gateway signing with
/// `key` for every slot of `schedule`.
pub async fn launch<K>(
    cfg: LaunchConfig,
    key: K,
    committer: Address,
    schedule: Arc<dyn crate::Schedule>,
) -> Result<GatewayServer, std::io::Error>
where
    K: crate::CommitSigner,
{
    if let Some(dir) = cfg.log_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let (log, recovered) = crate::CommitmentLog::open(&cfg.log_path)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let posting = cfg.proposer_url.as_ref().map(|_| tx);
    let gateway = Gateway::new(
        cfg.gateway,
        key,
        committer,
        log,
        &recovered,
        NodePending::new(cfg.node_url.clone()),
        schedule,
        posting,
    );
    gateway.resend_recovered().await;
    let lag = gateway.posting_lag();
    if cfg.proposer_url.is_some() {
        // Not promising until the proposer says it is ready ([`read_posting_lag`]).
        lag.not_ready.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let gateway = Arc::new(gateway);
    let settings = ServerSettings {
        addr: cfg.addr,
        // Through the node, which forwards it to its proposer and counts it in the sender's
        // `pending` nonce (the wallet's next transaction gets the next nonce).
        unpromised_url: cfg.forward_unpromised.then(|| cfg.node_url.clone()),
        node_url: Some(cfg.node_url),
        max_request_bytes: cfg.max_request_bytes,
        max_connections: cfg.max_connections,
    };
    let server = GatewayServer::start(gateway.clone(), settings)
        .await?
        .with_node_check(gateway, NODE_CHECK_INTERVAL);
    Ok(match cfg.proposer_url {
        Some(url) => server.with_poster(rx, url, cfg.withhold_promises, lag)?,
        None => server,
    })
}
