//! The gateway signing through a remote signer ([`RemoteSigner`], the Commit-Boost signer API)
//! against a stub signer service on port 0 that checks JWTs as Commit-Boost does (HS256 with the
//! module's secret; `module`, `route` and `payload_hash` claims): commitments verify against the
//! proxy address; every refusal (bad JWT, signer down, wrong key, unknown proxy, a stock
//! Commit-Boost signing root) gives no commitment, an internal error, and the transaction is
//! dropped from the node's pending block again.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U64, U256, address, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use based_commitments::{InclusionPayload, SignedCommitment};
use based_gateway::{
    CommitmentLog, EverySlot, Gateway, GatewayConfig, GatewayServer, Limits, NodeError,
    PendingNode, RemoteSigner, RemoteSignerConfig, ServerSettings, SignerError,
    remote::{
        self, EcdsaSignResponse, GET_PUBKEYS_PATH, JwtClaims, REQUEST_SIGNATURE_PROXY_ECDSA_PATH,
        SignProxyRequest,
    },
    service::codes,
};
use based_lookahead::SlotClock;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode, body::Incoming};
use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

const CHAIN: u64 = 4242;
const SLASHER: Address = address!("0x00000000000000000000000000000000005a5e00");
/// `now` = 1188 s with 12 s slots from 0: slot 99; requests are for slot 101, the first starting
/// after the default promise lead (18 s).
const NOW: u64 = 1188;
const SLOT: u64 = 101;
const MODULE: &str = "BASED_GATEWAY";
const SECRET: &str = "module-jwt-secret-0123456789";
/// The stub's chain (Hoodi) and the module's signing id, as a Commit-Boost signer reports them.
const SIGNER_CHAIN: u64 = 560_048;
const HOODI_FORK: [u8; 4] = [0x10, 0x00, 0x09, 0x10];
const SIGNING_ID: B256 = B256::repeat_byte(0x5d);

/// What the stub signs when asked to sign `object_root`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `object_root` itself as the ECDSA prehash (a raw-root signer).
    Raw,
    /// Commit-Boost v0.11's signing root of `object_root` (what a stock Commit-Boost signer does).
    CommitBoost,
}

/// The stub signer service.
struct Stub {
    secret: String,
    /// Proxy address offered → the key that actually signs for it.
    keys: Vec<(Address, PrivateKeySigner)>,
    mode: Mode,
    /// Requests that passed the JWT check, and that failed it.
    authorized: AtomicUsize,
    unauthorized: AtomicUsize,
}

fn json(status: StatusCode, body: String) -> Response<Full<hyper::body::Bytes>> {
    let mut resp = Response::new(Full::new(hyper::body::Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

fn error(status: StatusCode, message: &str) -> Response<Full<hyper::body::Bytes>> {
    json(status, serde_json::json!({"code": status.as_u16(), "message": message}).to_string())
}

impl Stub {
    /// Commit-Boost's `check_jwt_auth` + `validate_jwt`: HS256 with the module's secret, not
    /// expired, the module known, the route this path, the payload hash that of the body (none
    /// for an empty body).
    fn authorize(&self, auth: Option<&str>, path: &str, body: &[u8]) -> Result<(), String> {
        let token = auth.and_then(|a| a.strip_prefix("Bearer ")).ok_or("no bearer token")?;
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.leeway = 10;
        let claims = jsonwebtoken::decode::<JwtClaims>(
            token,
            &jsonwebtoken::DecodingKey::from_secret(self.secret.as_bytes()),
            &validation,
        )
        .map_err(|e| e.to_string())?
        .claims;
        if claims.module != MODULE {
            return Err("unknown module".into());
        }
        if claims.route != path {
            return Err("route mismatch".into());
        }
        let expected = (!body.is_empty()).then(|| keccak256(body));
        if claims.payload_hash != expected {
            return Err("payload hash mismatch".into());
        }
        Ok(())
    }

    fn handle(
        &self,
        method: &hyper::Method,
        path: &str,
        auth: Option<&str>,
        body: &[u8],
    ) -> Response<Full<hyper::body::Bytes>> {
        if let Err(e) = self.authorize(auth, path, body) {
            self.unauthorized.fetch_add(1, Ordering::SeqCst);
            return error(StatusCode::UNAUTHORIZED, &format!("Unauthorized: {e}"));
        }
        self.authorized.fetch_add(1, Ordering::SeqCst);
        match (method, path) {
            (&hyper::Method::GET, GET_PUBKEYS_PATH) => {
                let proxies: Vec<Address> = self.keys.iter().map(|(a, _)| *a).collect();
                let consensus = format!("0x{}", "a1".repeat(48));
                let body = serde_json::json!({"keys": [
                    {"consensus": consensus, "proxy_bls": [], "proxy_ecdsa": proxies}
                ]});
                json(StatusCode::OK, body.to_string())
            }
            (&hyper::Method::POST, REQUEST_SIGNATURE_PROXY_ECDSA_PATH) => {
                let Ok(req) = serde_json::from_slice::<SignProxyRequest>(body) else {
                    return error(StatusCode::BAD_REQUEST, "bad request");
                };
                let Some((_, key)) = self.keys.iter().find(|(a, _)| *a == req.proxy) else {
                    return error(StatusCode::NOT_FOUND, "Unknown pubkey");
                };
                let root = match self.mode {
                    Mode::Raw => req.object_root,
                    Mode::CommitBoost => remote::commit_boost_signing_root(
                        HOODI_FORK,
                        U256::from(SIGNER_CHAIN),
                        &req.object_root,
                        &SIGNING_ID,
                        req.nonce,
                    ),
                };
                let signature = key.sign_hash_sync(&root).unwrap();
                let answer = EcdsaSignResponse {
                    address: req.proxy,
                    object_root: req.object_root,
                    module_signing_id: SIGNING_ID,
                    nonce: req.nonce,
                    chain_id: U256::from(SIGNER_CHAIN),
                    signature: alloy_primitives::hex::encode_prefixed(signature.as_bytes()),
                };
                json(StatusCode::OK, serde_json::to_string(&answer).unwrap())
            }
            _ => error(StatusCode::NOT_FOUND, "no such route"),
        }
    }
}

/// Serves `stub` on 127.0.0.1:0 until the test ends.
async fn serve(stub: Arc<Stub>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let stub = stub.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let stub = stub.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await?.to_bytes();
                        let auth = parts
                            .headers
                            .get(hyper::header::AUTHORIZATION)
                            .and_then(|v| v.to_str().ok());
                        Ok::<_, hyper::Error>(stub.handle(
                            &parts.method,
                            parts.uri.path(),
                            auth,
                            &body,
                        ))
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            });
        }
    });
    addr
}

fn stub(keys: Vec<(Address, PrivateKeySigner)>, mode: Mode) -> Arc<Stub> {
    Arc::new(Stub {
        secret: SECRET.into(),
        keys,
        mode,
        authorized: AtomicUsize::new(0),
        unauthorized: AtomicUsize::new(0),
    })
}

fn proxy_key() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(0xcc)).unwrap()
}

fn signer(url: String, secret: &str, proxy: Address) -> RemoteSigner {
    RemoteSigner::new(RemoteSignerConfig {
        url,
        module_id: MODULE.into(),
        jwt_secret: secret.into(),
        proxy,
        timeout: Duration::from_secs(2),
    })
    .unwrap()
}

/// A node whose pending block takes every transaction and records the drops.
#[derive(Clone, Default)]
struct Node {
    drops: Arc<Mutex<Vec<B256>>>,
}

impl PendingNode for Node {
    async fn preconfirm(
        &self,
        raw: Bytes,
        _slot: u64,
        _deadline: Option<u64>,
    ) -> Result<based_rpc::Preconfirmation, NodeError> {
        Ok(based_rpc::Preconfirmation {
            tx_hash: keccak256(&raw),
            pending: true,
            block_number: U64::from(1),
            transaction_index: U64::ZERO,
            gas_used: U64::from(21_000),
            status: true,
            session: U64::from(1),
        })
    }

    async fn drop_preconfirmed(&self, tx_hash: B256) -> Result<bool, NodeError> {
        self.drops.lock().unwrap().push(tx_hash);
        Ok(true)
    }

    async fn session(&self) -> Result<u64, NodeError> {
        Ok(1)
    }
}

fn transfer(i: u8, nonce: u64) -> Bytes {
    let user = PrivateKeySigner::from_bytes(&B256::repeat_byte(i)).unwrap();
    let tx = TxEip1559 {
        chain_id: CHAIN,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(Address::repeat_byte(0xde)),
        value: U256::from(1u64),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let sig = user.sign_hash_sync(&tx.signature_hash()).unwrap();
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

fn gateway(dir: &std::path::Path, signer: RemoteSigner, node: Node) -> Gateway<Node, RemoteSigner> {
    let (log, recovered) = CommitmentLog::open(dir.join("commitments.log")).unwrap();
    let config = GatewayConfig {
        chain_id: CHAIN,
        slasher: SLASHER,
        clock: SlotClock::new(0, 12, 32).unwrap(),
        limits: Limits::default(),
    };
    let committer = signer.proxy();
    Gateway::new(config, signer, committer, log, &recovered, node, Arc::new(EverySlot), None)
        .with_clock(|| NOW)
}

fn request(raw: Bytes) -> based_commitments::CommitmentRequest {
    InclusionPayload { slot: SLOT, signed_tx: raw }.into_request(SLASHER)
}

#[tokio::test]
async fn commitments_signed_remotely_verify_against_the_proxy() {
    let proxy = proxy_key();
    let service = stub(vec![(proxy.address(), proxy.clone())], Mode::Raw);
    let url = format!("http://{}", serve(service.clone()).await);
    let remote = signer(url, SECRET, proxy.address());
    assert_eq!(remote.proxy_keys().await.unwrap(), vec![proxy.address()]);
    remote.check().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let g = Arc::new(gateway(dir.path(), remote, Node::default()));
    assert_eq!(g.committer(), proxy.address());
    for i in 1..=3u8 {
        let signed = g.request(request(transfer(i, 0))).await.unwrap();
        signed.verify(proxy.address()).unwrap();
        assert_eq!(signed.recover_signer().unwrap(), proxy.address());
        // The same bytes a local key would give (RFC 6979: deterministic).
        let local = signed.commitment.clone().sign(&proxy).unwrap();
        assert_eq!(signed, local);
    }
    assert_eq!(g.promises(), 3);

    // Over the gateway's HTTP face too (JSON-RPC `eth_sendRawTransaction` + `commitmentResult`).
    let server = GatewayServer::start(
        g.clone(),
        ServerSettings {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            node_url: None,
            max_request_bytes: 1 << 20,
            max_connections: 100,
            unpromised_url: None,
        },
    )
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let call = |method: &str, params: serde_json::Value| {
        let body =
            serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (client, url) = (client.clone(), server.url());
        async move {
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let raw = transfer(4, 0);
    let answer = call("eth_sendRawTransaction", serde_json::json!([raw])).await;
    assert_eq!(answer["result"], serde_json::json!(keccak256(&raw)), "{answer}");
    let answer = call("commitmentResult", serde_json::json!([keccak256(&raw)])).await;
    let signed: SignedCommitment = serde_json::from_value(answer["result"].clone()).unwrap();
    signed.verify(proxy.address()).unwrap();
    server.stop().await;

    // get_pubkeys twice, the probe, four signatures: every one carried a valid JWT.
    assert_eq!(service.authorized.load(Ordering::SeqCst), 7);
    assert_eq!(service.unauthorized.load(Ordering::SeqCst), 0);
}

/// Requests one commitment through `remote` and checks the refusal: an internal error, no
/// commitment (nothing logged, nothing to fetch), the transaction dropped from the node again.
async fn refused(remote: RemoteSigner) -> String {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::default();
    let g = gateway(dir.path(), remote, node.clone());
    let raw = transfer(1, 0);
    let err = g.request(request(raw.clone())).await.unwrap_err();
    assert_eq!(err.code(), codes::INTERNAL, "{err}");
    assert_eq!(err.http_status(), 500);
    assert_eq!(g.promises(), 0);
    assert!(g.result(keccak256(&raw)).is_err());
    assert_eq!(*node.drops.lock().unwrap(), vec![keccak256(&raw)]);
    // The nonce is free again: nothing was promised for it.
    err.to_string()
}

#[tokio::test]
async fn a_bad_jwt_secret_is_refused() {
    let proxy = proxy_key();
    let service = stub(vec![(proxy.address(), proxy.clone())], Mode::Raw);
    let url = format!("http://{}", serve(service.clone()).await);
    let remote = signer(url.clone(), "not-the-secret", proxy.address());
    let err = remote.check().await.unwrap_err();
    assert!(matches!(err, SignerError::Refused { status: 401, .. }), "{err}");
    let msg = refused(remote).await;
    assert!(msg.contains("401"), "{msg}");
    assert!(!msg.contains("not-the-secret"), "the secret leaked: {msg}");
    assert_eq!(service.authorized.load(Ordering::SeqCst), 0);
    assert_eq!(service.unauthorized.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_signer_that_is_down_is_refused() {
    // A port nothing listens on.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let remote = signer(format!("http://{closed}"), SECRET, proxy_key().address());
    let err = remote.check().await.unwrap_err();
    assert!(matches!(err, SignerError::Unreachable(_)), "{err}");
    let msg = refused(remote).await;
    assert!(msg.contains("unreachable"), "{msg}");
}

#[tokio::test]
async fn a_signer_with_the_wrong_key_or_no_key_is_refused() {
    let proxy = proxy_key();
    let other = PrivateKeySigner::from_bytes(&B256::repeat_byte(0xdd)).unwrap();
    // The signer claims the proxy address but signs with another key.
    let service = stub(vec![(proxy.address(), other.clone())], Mode::Raw);
    let url = format!("http://{}", serve(service).await);
    let remote = signer(url, SECRET, proxy.address());
    let err = remote.check().await.unwrap_err();
    assert!(
        matches!(err, SignerError::WrongSigner { recovered, expected, .. }
            if recovered == other.address() && expected == proxy.address()),
        "{err}"
    );
    let msg = refused(remote).await;
    assert!(msg.contains(&other.address().to_string()), "{msg}");

    // The signer does not hold the proxy at all: 404, and `check` names the keys it has.
    let service = stub(vec![(other.address(), other.clone())], Mode::Raw);
    let url = format!("http://{}", serve(service).await);
    let remote = signer(url, SECRET, proxy.address());
    let err = remote.check().await.unwrap_err();
    assert!(
        matches!(err, SignerError::Config(ref m) if m.contains(&other.address().to_string())),
        "{err}"
    );
    let msg = refused(remote).await;
    assert!(msg.contains("404"), "{msg}");
}

/// A stock Commit-Boost signer signs its own signing root of the digest: the signature is valid
/// for the proxy, but not over `keccak256(abi.encode(commitment))`, so it cannot be a commitment
/// URC can slash. The gateway says exactly that and makes none.
#[tokio::test]
async fn a_stock_commit_boost_signing_root_is_recognised_and_refused() {
    let proxy = proxy_key();
    let service = stub(vec![(proxy.address(), proxy.clone())], Mode::CommitBoost);
    let url = format!("http://{}", serve(service).await);
    let remote = signer(url, SECRET, proxy.address());
    let err = remote.check().await.unwrap_err();
    let SignerError::WrongSigner { expected, hint, .. } = &err else { panic!("{err}") };
    assert_eq!(*expected, proxy.address());
    assert!(hint.contains("stock Commit-Boost signer"), "{err}");
    assert!(hint.contains(&SIGNING_ID.to_string()), "{err}");
    let msg = refused(remote).await;
    assert!(msg.contains("stock Commit-Boost signer"), "{msg}");
}
