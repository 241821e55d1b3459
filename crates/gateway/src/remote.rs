//! A remote committer signer speaking the Commit-Boost signer API (`api/signer-api.yml` of
//! commit-boost-client, v0.11): the committer key stays in a signer service, the gateway asks it
//! for each commitment's signature over HTTP.
//!
//! # What the gateway sends
//!
//! - `POST {url}/signer/v1/request_signature/proxy-ecdsa` with the JSON body
//!   `{"proxy": <committer address>, "object_root": <digest>, "nonce": 0}`, where
//!   `digest = keccak256(abi.encode(commitment))` (docs/protocol.md §10.1) and `nonce` 0 (the API's
//!   value for modules without replay protection: the gateway's log is its replay protection).
//! - `GET {url}/signer/v1/get_pubkeys` once at start ([`RemoteSigner::check`]): the committer must
//!   be one of the module's `proxy_ecdsa` keys.
//! - Auth: `Authorization: Bearer <JWT>`, a fresh HS256 JWT per request signed with the module's
//!   JWT secret (Commit-Boost's `CB_SIGNER_JWT`), claims `{exp: now + 300, module: <module id>,
//!   route: <the request path>, payload_hash: keccak256(<the exact body bytes>) | null}`, as
//!   Commit-Boost's `SignerClient` makes them.
//! - No retries (a commitment request is on the hot path; the user may ask again), one
//!   [`RemoteSignerConfig::timeout`] per call.
//!
//! # What comes back, and the mismatch with a stock Commit-Boost signer
//!
//! The answer `{"address", "object_root", "module_signing_id", "nonce", "chain_id", "signature"}`
//! is accepted only if `address` is the committer, `object_root` the digest, and the 65-byte
//! `signature` (`r ‖ s ‖ v`) **recovers to the committer over the digest itself** — what
//! `SignedCommitment::verify(committer)`, URC's `slashCommitment` and the `PreconfSlasher` check.
//!
//! A stock Commit-Boost signer never signs `object_root` as is: it signs
//! `SigningData { object_root: PropCommitSigningInfo { data: object_root, module_signing_id,
//! nonce, chain_id }.tree_hash_root(), signing_domain: compute_domain(chain, "mmoC") }
//! .tree_hash_root()` ([`commit_boost_signing_root`]; SSZ, SHA-256). That signature cannot recover
//! to the proxy over `keccak256(abi.encode(commitment))`, so it cannot make a commitment URC can
//! slash, and the gateway refuses it ([`SignerError::WrongSigner`], naming the Commit-Boost
//! signing root when it recognises it) instead of issuing an unverifiable promise. A signer that
//! serves this API but signs the object root as the ECDSA prehash (a "raw root" signer) works.
//! docs/gateway.md "Remote signer" says what to run.

use crate::signer::{CommitSigner, SignerError};
use alloy_primitives::{Address, B256, Signature, U256, keccak256};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Commit-Boost's route listing the keys a module may use.
pub const GET_PUBKEYS_PATH: &str = "/signer/v1/get_pubkeys";
/// Commit-Boost's route for a signature by an ECDSA proxy key.
pub const REQUEST_SIGNATURE_PROXY_ECDSA_PATH: &str = "/signer/v1/request_signature/proxy-ecdsa";
/// Lifetime of the JWTs the gateway makes (Commit-Boost's `SIGNER_JWT_EXPIRATION`).
pub const JWT_EXPIRATION_SECS: u64 = 300;
/// The module id the gateway presents unless configured otherwise.
pub const DEFAULT_MODULE_ID: &str = "BASED_GATEWAY";
/// Default timeout of one call to the signer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Commit-Boost's signing domain mask (`COMMIT_BOOST_DOMAIN`, "mmoC").
pub const COMMIT_BOOST_DOMAIN: [u8; 4] = [109, 109, 111, 67];

/// The digest signed by [`RemoteSigner::check`]'s probe: `keccak256` of a fixed text, not an
/// `abi.encode(commitment)`, so the probe signature commits to nothing.
pub fn probe_digest() -> B256 {
    keccak256(b"based gateway: remote signer probe (not a commitment)")
}

/// Where and how to reach the signer.
#[derive(Clone)]
pub struct RemoteSignerConfig {
    /// Base URL of the signer service (`http://host:port`).
    pub url: String,
    /// Module id the JWTs name (Commit-Boost's `CB_MODULE_ID`).
    pub module_id: String,
    /// The module's JWT secret (Commit-Boost's `CB_SIGNER_JWT`). Never logged.
    pub jwt_secret: String,
    /// The committer: the ECDSA proxy key's address.
    pub proxy: Address,
    /// Timeout of one call.
    pub timeout: Duration,
}

impl std::fmt::Debug for RemoteSignerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSignerConfig")
            .field("url", &self.url)
            .field("module_id", &self.module_id)
            .field("jwt_secret", &"<redacted>")
            .field("proxy", &self.proxy)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// JWT claims of a signer API request (Commit-Boost's `JwtClaims`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtClaims {
    /// Expiry (Unix seconds).
    pub exp: u64,
    /// The module id.
    pub module: String,
    /// The request's path.
    pub route: String,
    /// `keccak256` of the request body, `None` for a request without one.
    pub payload_hash: Option<B256>,
}

/// Body of `request_signature/proxy-ecdsa`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignProxyRequest {
    /// The proxy key's address.
    pub proxy: Address,
    /// The 32 bytes to sign.
    pub object_root: B256,
    /// Replay-protection nonce (the gateway sends 0).
    pub nonce: u64,
}

/// Answer of `request_signature/proxy-ecdsa`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EcdsaSignResponse {
    /// The proxy key's address.
    pub address: Address,
    /// The 32 bytes requested.
    pub object_root: B256,
    /// The module's signing id (mixed into Commit-Boost's signing root).
    pub module_signing_id: B256,
    /// The nonce requested.
    pub nonce: u64,
    /// The signer's chain id (mixed into Commit-Boost's signing root).
    pub chain_id: U256,
    /// `0x` + 65 bytes `r ‖ s ‖ v`.
    pub signature: String,
}

/// One entry of `get_pubkeys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsensusProxyMap {
    /// The validator's BLS key (hex).
    pub consensus: String,
    /// Its BLS proxies (hex).
    #[serde(default)]
    pub proxy_bls: Vec<String>,
    /// Its ECDSA proxies.
    #[serde(default)]
    pub proxy_ecdsa: Vec<Address>,
}

/// Answer of `get_pubkeys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetPubkeysResponse {
    /// The keys the module may use.
    pub keys: Vec<ConsensusProxyMap>,
}

/// A committer key held by a signer service (module docs).
pub struct RemoteSigner {
    client: reqwest::Client,
    base: String,
    module_id: String,
    key: jsonwebtoken::EncodingKey,
    proxy: Address,
}

impl std::fmt::Debug for RemoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSigner")
            .field("url", &self.base)
            .field("module_id", &self.module_id)
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

fn now_secs() -> u64 {
    crate::service::unix_now()
}

/// The first 200 characters of an error body.
fn excerpt(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).chars().take(200).collect()
}

impl RemoteSigner {
    /// A client for the signer at `config.url` (nothing is sent yet; see [`Self::check`]).
    pub fn new(config: RemoteSignerConfig) -> Result<Self, SignerError> {
        let base = config.url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(SignerError::Config(format!("signer URL `{base}` is not http(s)")));
        }
        if config.jwt_secret.trim().is_empty() {
            return Err(SignerError::Config("empty JWT secret".into()));
        }
        if config.module_id.is_empty() {
            return Err(SignerError::Config("empty module id".into()));
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| SignerError::Config(e.to_string()))?;
        Ok(Self {
            client,
            base,
            module_id: config.module_id,
            key: jsonwebtoken::EncodingKey::from_secret(config.jwt_secret.trim().as_bytes()),
            proxy: config.proxy,
        })
    }

    /// The committer address (the proxy key).
    pub const fn proxy(&self) -> Address {
        self.proxy
    }

    /// A JWT for one request to `route` with body `payload`.
    fn jwt(&self, route: &str, payload: Option<&[u8]>) -> Result<String, SignerError> {
        let claims = JwtClaims {
            exp: now_secs().saturating_add(JWT_EXPIRATION_SECS),
            module: self.module_id.clone(),
            route: route.to_owned(),
            payload_hash: payload.map(keccak256),
        };
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &self.key)
            .map_err(|e| SignerError::Config(format!("JWT: {e}")))
    }

    /// Sends a request and returns the body of a 2xx answer.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        route: &str,
    ) -> Result<alloy_primitives::bytes::Bytes, SignerError> {
        let resp = request.send().await.map_err(|e| {
            SignerError::Unreachable(format!("{}{route}: {}", self.base, error_chain(&e)))
        })?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| {
            SignerError::Unreachable(format!("{}{route}: {}", self.base, error_chain(&e)))
        })?;
        if !status.is_success() {
            return Err(SignerError::Refused { status: status.as_u16(), message: excerpt(&body) });
        }
        Ok(body)
    }

    /// The ECDSA proxy addresses the signer offers this module (`get_pubkeys`).
    pub async fn proxy_keys(&self) -> Result<Vec<Address>, SignerError> {
        let jwt = self.jwt(GET_PUBKEYS_PATH, None)?;
        let url = format!("{}{GET_PUBKEYS_PATH}", self.base);
        let body = self.send(self.client.get(url).bearer_auth(jwt), GET_PUBKEYS_PATH).await?;
        let keys: GetPubkeysResponse = serde_json::from_slice(&body)
            .map_err(|e| SignerError::BadResponse(format!("get_pubkeys: {e}")))?;
        Ok(keys.keys.into_iter().flat_map(|k| k.proxy_ecdsa).collect())
    }

    /// Checks the set-up before serving: the committer is one of the module's ECDSA proxy keys,
    /// and a probe digest ([`probe_digest`]) comes back signed so that it recovers to the
    /// committer over the digest itself (a stock Commit-Boost signer fails here, see the module
    /// docs).
    pub async fn check(&self) -> Result<(), SignerError> {
        let proxies = self.proxy_keys().await?;
        if !proxies.contains(&self.proxy) {
            let offered: Vec<String> = proxies.iter().map(Address::to_string).collect();
            return Err(SignerError::Config(format!(
                "{} is not among the ECDSA proxy keys the signer offers module `{}`: [{}]",
                self.proxy,
                self.module_id,
                offered.join(", ")
            )));
        }
        self.sign(probe_digest()).await.map(|_| ())
    }

    /// Asks the signer to sign `digest` with the proxy key; returns the signature only if it
    /// recovers to the proxy over `digest` (module docs).
    pub async fn sign(&self, digest: B256) -> Result<Signature, SignerError> {
        let route = REQUEST_SIGNATURE_PROXY_ECDSA_PATH;
        let body = serde_json::to_vec(&SignProxyRequest {
            proxy: self.proxy,
            object_root: digest,
            nonce: 0,
        })
        .map_err(|e| SignerError::Config(e.to_string()))?;
        let jwt = self.jwt(route, Some(&body))?;
        let request = self
            .client
            .post(format!("{}{route}", self.base))
            .bearer_auth(jwt)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        let answer = self.send(request, route).await?;
        let answer: EcdsaSignResponse = serde_json::from_slice(&answer)
            .map_err(|e| SignerError::BadResponse(format!("request_signature: {e}")))?;
        if answer.address != self.proxy || answer.object_root != digest {
            return Err(SignerError::BadResponse(format!(
                "answer for {} / {}, asked {} / {digest}",
                answer.address, answer.object_root, self.proxy
            )));
        }
        let signature = parse_signature(&answer.signature)?;
        let recovered = signature
            .recover_address_from_prehash(&digest)
            .map_err(|e| SignerError::BadResponse(format!("unrecoverable signature: {e}")))?;
        if recovered != self.proxy {
            return Err(SignerError::WrongSigner {
                recovered,
                expected: self.proxy,
                hint: commit_boost_hint(&answer, &signature, self.proxy),
            });
        }
        Ok(signature.normalized_s())
    }
}

impl CommitSigner for RemoteSigner {
    async fn sign_digest(&self, digest: B256) -> Result<Signature, SignerError> {
        self.sign(digest).await
    }
}

/// The committer's signer chosen at start: an in-process key or a [`RemoteSigner`] (`based
/// gateway --signer.url ...`).
#[derive(Debug)]
pub enum EitherSigner<L> {
    /// An in-process key (e.g. from a keystore).
    Local(L),
    /// A signer service.
    Remote(RemoteSigner),
}

impl<L: alloy_signer::SignerSync<Signature> + Send + Sync + 'static> CommitSigner
    for EitherSigner<L>
{
    async fn sign_digest(&self, digest: B256) -> Result<Signature, SignerError> {
        match self {
            Self::Local(key) => key.sign_digest(digest).await,
            Self::Remote(remote) => remote.sign(digest).await,
        }
    }
}

/// An error and its sources, one line (reqwest's top-level message omits the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Parses `0x` + 65 bytes `r ‖ s ‖ v` (`v` 27/28 or 0/1).
fn parse_signature(text: &str) -> Result<Signature, SignerError> {
    let bytes = alloy_primitives::hex::decode(text)
        .map_err(|e| SignerError::BadResponse(format!("signature hex: {e}")))?;
    if bytes.len() != 65 {
        return Err(SignerError::BadResponse(format!("signature of {} bytes", bytes.len())));
    }
    Signature::from_raw(&bytes).map_err(|e| SignerError::BadResponse(format!("signature: {e}")))
}

/// Genesis fork versions of the chains Commit-Boost knows by name, by chain id.
const KNOWN_CHAINS: [(u64, [u8; 4]); 4] = [
    (1, [0x00, 0x00, 0x00, 0x00]),
    (17_000, [0x01, 0x01, 0x70, 0x00]),
    (11_155_111, [0x90, 0x00, 0x00, 0x69]),
    (560_048, [0x10, 0x00, 0x09, 0x10]),
];

/// Why a remote signature did not recover to the proxy over the digest, when it can be told.
fn commit_boost_hint(answer: &EcdsaSignResponse, signature: &Signature, proxy: Address) -> String {
    let fork = KNOWN_CHAINS
        .iter()
        .find(|(id, _)| U256::from(*id) == answer.chain_id)
        .map(|(_, fork)| *fork);
    let Some(fork) = fork else {
        return "; a stock Commit-Boost signer signs its domain-separated signing root, not the \
                digest, and cannot sign commitments URC can check (docs/gateway.md)"
            .into();
    };
    let root = commit_boost_signing_root(
        fork,
        answer.chain_id,
        &answer.object_root,
        &answer.module_signing_id,
        answer.nonce,
    );
    match signature.recover_address_from_prehash(&root) {
        Ok(a) if a == proxy => format!(
            "; the signer is a stock Commit-Boost signer: it signed Commit-Boost's signing root \
             {root} of the digest (module signing id {}, nonce {}, chain id {}), not the digest \
             that URC and the slasher recover over (docs/gateway.md)",
            answer.module_signing_id, answer.nonce, answer.chain_id
        ),
        _ => String::new(),
    }
}

fn sha256_pair(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    Sha256::new().chain_update(a).chain_update(b).finalize().into()
}

/// Commit-Boost's `compute_domain(chain, mask)`: `mask ‖ fork_data_root[..28]`, with
/// `fork_data_root = hash_tree_root(ForkData { genesis_fork_version, genesis_validators_root: 0 })`.
pub fn commit_boost_domain(genesis_fork_version: [u8; 4], mask: [u8; 4]) -> B256 {
    let mut version = [0u8; 32];
    version.split_at_mut(4).0.copy_from_slice(&genesis_fork_version);
    let fork_data_root = sha256_pair(&version, &[0u8; 32]);
    let mut domain = [0u8; 32];
    let (head, tail) = domain.split_at_mut(4);
    head.copy_from_slice(&mask);
    tail.copy_from_slice(fork_data_root.split_at(28).0);
    B256::from(domain)
}

/// What a stock Commit-Boost signer (v0.11) signs with a proxy key when asked to sign
/// `object_root`: `hash_tree_root(SigningData { object_root: hash_tree_root(PropCommitSigningInfo
/// { data: object_root, module_signing_id, nonce: u64, chain_id: U256 }), signing_domain:
/// commit_boost_domain(fork, COMMIT_BOOST_DOMAIN) })` (`compute_prop_commit_signing_root`).
pub fn commit_boost_signing_root(
    genesis_fork_version: [u8; 4],
    chain_id: U256,
    object_root: &B256,
    module_signing_id: &B256,
    nonce: u64,
) -> B256 {
    let mut nonce_chunk = [0u8; 32];
    nonce_chunk.split_at_mut(8).0.copy_from_slice(&nonce.to_le_bytes());
    let chain_chunk: [u8; 32] = chain_id.to_le_bytes();
    let info_root = sha256_pair(
        &sha256_pair(&object_root.0, &module_signing_id.0),
        &sha256_pair(&nonce_chunk, &chain_chunk),
    );
    let domain = commit_boost_domain(genesis_fork_version, COMMIT_BOOST_DOMAIN);
    B256::from(sha256_pair(&info_root, &domain.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::b256;

    /// Commit-Boost's own vectors (`crates/common/src/types.rs` builder domains,
    /// `crates/common/src/signer/schemes/ecdsa.rs` `test_ecdsa_signer_prop_commit`).
    #[test]
    fn commit_boost_roots_match_its_vectors() {
        let builder = [0, 0, 0, 1];
        assert_eq!(
            commit_boost_domain([0, 0, 0, 0], builder),
            b256!("0x00000001f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a9")
        );
        assert_eq!(
            commit_boost_domain([0x10, 0x00, 0x09, 0x10], builder),
            b256!("0x00000001719103511efa4f1362ff2a50996cccf329cc84cb410c5e5c7d351d03")
        );
        assert_eq!(
            commit_boost_signing_root(
                [0x10, 0x00, 0x09, 0x10],
                U256::from(560_048u64),
                &B256::repeat_byte(1),
                &B256::repeat_byte(2),
                42,
            ),
            b256!("0x0b95fcdb3f003fc6f0fd3238d906f359809e97fe7ec71f56771cb05bee4150bd")
        );
    }

    #[test]
    fn signatures_parse_with_either_v() {
        let key = crate::CommitterKey::from_bytes(&B256::repeat_byte(7)).unwrap();
        let digest = probe_digest();
        let sig = alloy_signer::SignerSync::sign_hash_sync(&key, &digest).unwrap();
        let mut raw = sig.as_bytes();
        let text = alloy_primitives::hex::encode_prefixed(raw);
        assert_eq!(parse_signature(&text).unwrap(), sig);
        raw[64] -= 27;
        assert_eq!(parse_signature(&alloy_primitives::hex::encode(raw)).unwrap(), sig);
        assert!(parse_signature("0x1234").is_err());
        assert!(parse_signature("zz").is_err());
    }

    #[test]
    fn config_is_checked_and_the_secret_never_printed() {
        let config = RemoteSignerConfig {
            url: "http://127.0.0.1:1".into(),
            module_id: DEFAULT_MODULE_ID.into(),
            jwt_secret: "s3cret-value".into(),
            proxy: Address::repeat_byte(1),
            timeout: DEFAULT_TIMEOUT,
        };
        assert!(!format!("{config:?}").contains("s3cret"));
        let signer = RemoteSigner::new(config.clone()).unwrap();
        assert!(!format!("{signer:?}").contains("s3cret"));
        assert!(
            RemoteSigner::new(RemoteSignerConfig { url: "127.0.0.1:1".into(), ..config.clone() })
                .is_err()
        );
        assert!(
            RemoteSigner::new(RemoteSignerConfig { jwt_secret: " ".into(), ..config }).is_err()
        );
    }
}
