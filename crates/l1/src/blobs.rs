//! Blob retrieval from a beacon node (`GET /eth/v1/beacon/blobs/{block_id}`) and verification against
//! versioned hashes.
//!
//! Response format (beacon-APIs, JSON): `{"execution_optimistic": bool, "finalized": bool,
//! "data": ["0x<131072 bytes hex>", ...]}`; the optional query `?versioned_hashes=0x..,0x..` restricts
//! the answer to those blobs. Blobs are not trusted: each one is committed with KZG and only kept if
//! its versioned hash is one we asked for.

use alloy_consensus::Header;
use alloy_eips::eip4844::{BYTES_PER_BLOB, Blob, kzg_to_versioned_hash};
use alloy_primitives::B256;
use alloy_transport_http::reqwest::{self, Url};
use serde::Deserialize;
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Duration,
};
use tracing::debug;

/// Upper bound on the blobs a response may carry (a block holds far fewer; the cap bounds memory).
pub const MAX_BLOBS_PER_RESPONSE: usize = 128;

/// Largest accepted response body: [`MAX_BLOBS_PER_RESPONSE`] hex-encoded blobs plus JSON overhead.
pub const MAX_RESPONSE_BYTES: usize = MAX_BLOBS_PER_RESPONSE * (2 * BYTES_PER_BLOB + 8) + 64 * 1024;

/// How an L1 execution block is named in the beacon API path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeaconBlockId {
    /// The execution block hash (what anvil's beacon API accepts: it resolves `block_id` with the
    /// execution-layer `BlockId` rules: a 32-byte hash, a decimal/hex block number or a tag).
    ExecutionBlockHash,
    /// The beacon slot computed from the execution timestamp:
    /// `(timestamp - genesis_time) / seconds_per_slot` (real beacon nodes).
    Slot {
        /// Beacon genesis time (`GET /eth/v1/beacon/genesis` → `genesis_time`).
        genesis_time: u64,
        /// Seconds per slot (12 on Ethereum mainnet).
        seconds_per_slot: u64,
    },
}

/// Why blobs could not be retrieved or verified.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// No beacon URL configured but a block needs blobs.
    #[error("block needs blobs but no beacon API is configured")]
    NoBeacon,
    /// The URL could not be built.
    #[error("bad beacon URL: {0}")]
    Url(String),
    /// Transport failure or timeout.
    #[error("beacon request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The request timed out.
    #[error("beacon request timed out")]
    Timeout,
    /// Non-success status.
    #[error("beacon returned HTTP {status}: {body}")]
    Status {
        /// HTTP status code.
        status: u16,
        /// Start of the response body.
        body: String,
    },
    /// The response exceeded [`MAX_RESPONSE_BYTES`].
    #[error("beacon response too large (> {MAX_RESPONSE_BYTES} bytes)")]
    TooLarge,
    /// The response was not the expected JSON.
    #[error("malformed beacon response: {0}")]
    Malformed(String),
    /// The slot could not be computed from the block timestamp.
    #[error("block timestamp {timestamp} is before the beacon genesis time {genesis_time}")]
    BeforeGenesis {
        /// Execution block timestamp.
        timestamp: u64,
        /// Beacon genesis time.
        genesis_time: u64,
    },
    /// Some requested blobs were not in the response (not available yet, pruned, or wrong data).
    #[error("{missing} of {wanted} blobs missing for block {block} (first missing {first})")]
    Missing {
        /// Block number.
        block: u64,
        /// How many were requested.
        wanted: usize,
        /// How many are missing.
        missing: usize,
        /// First missing versioned hash.
        first: B256,
    },
}

#[derive(Deserialize)]
struct GetBlobsResponse {
    data: Vec<alloy_primitives::Bytes>,
}

/// Client for the beacon blob API.
#[derive(Debug, Clone)]
pub struct BeaconClient {
    http: reqwest::Client,
    base: Url,
    block_id: BeaconBlockId,
    timeout: Duration,
}

impl BeaconClient {
    /// A client for the beacon API at `base` (e.g. `http://127.0.0.1:8545/` for anvil).
    pub fn new(base: Url, block_id: BeaconBlockId, timeout: Duration) -> Self {
        Self { http: reqwest::Client::new(), base, block_id, timeout }
    }

    /// The path segment naming this block.
    pub fn block_id(&self, header: &Header, hash: B256) -> Result<String, BlobError> {
        match self.block_id {
            BeaconBlockId::ExecutionBlockHash => Ok(hash.to_string()),
            BeaconBlockId::Slot { genesis_time, seconds_per_slot } => {
                let elapsed =
                    header.timestamp.checked_sub(genesis_time).ok_or(BlobError::BeforeGenesis {
                        timestamp: header.timestamp,
                        genesis_time,
                    })?;
                let slot = elapsed
                    .checked_div(seconds_per_slot)
                    .ok_or_else(|| BlobError::Malformed("seconds_per_slot is zero".to_string()))?;
                Ok(slot.to_string())
            }
        }
    }

    /// Fetches and verifies the blobs with the given versioned hashes from the block `hash`.
    ///
    /// Returns exactly the requested blobs (deduplicated), each verified; fails with
    /// [`BlobError::Missing`] if any is absent. Extra or unverifiable blobs in the response are ignored.
    pub async fn blobs(
        &self,
        header: &Header,
        hash: B256,
        wanted: &BTreeSet<B256>,
    ) -> Result<BTreeMap<B256, Arc<Blob>>, BlobError> {
        let mut found = BTreeMap::new();
        if wanted.is_empty() {
            return Ok(found);
        }
        let id = self.block_id(header, hash)?;
        let mut url = self
            .base
            .join(&format!("eth/v1/beacon/blobs/{id}"))
            .map_err(|e| BlobError::Url(e.to_string()))?;
        let hashes: Vec<String> = wanted.iter().map(|h| h.to_string()).collect();
        url.query_pairs_mut().append_pair("versioned_hashes", &hashes.join(","));

        let body = tokio::time::timeout(self.timeout, self.fetch(url))
            .await
            .map_err(|_| BlobError::Timeout)??;
        let response: GetBlobsResponse =
            serde_json::from_slice(&body).map_err(|e| BlobError::Malformed(e.to_string()))?;
        drop(body);
        if response.data.len() > MAX_BLOBS_PER_RESPONSE {
            return Err(BlobError::TooLarge);
        }
        for raw in response.data {
            let Some(versioned_hash) = versioned_hash(&raw) else {
                debug!(target: "based_l1::blobs", len = raw.len(), "ignoring invalid blob in beacon response");
                continue;
            };
            if wanted.contains(&versioned_hash) && !found.contains_key(&versioned_hash) {
                let blob = Blob::try_from(raw.as_ref())
                    .map_err(|_| BlobError::Malformed("blob length".to_string()))?;
                found.insert(versioned_hash, Arc::new(blob));
            }
        }
        if found.len() != wanted.len() {
            let missing: Vec<&B256> = wanted.iter().filter(|h| !found.contains_key(*h)).collect();
            return Err(BlobError::Missing {
                block: header.number,
                wanted: wanted.len(),
                missing: missing.len(),
                first: missing.first().map(|h| **h).unwrap_or_default(),
            });
        }
        Ok(found)
    }

    async fn fetch(&self, url: Url) -> Result<Vec<u8>, BlobError> {
        let mut response =
            self.http.get(url).header(reqwest::header::ACCEPT, "application/json").send().await?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            let body: String = text.chars().take(256).collect();
            return Err(BlobError::Status { status: status.as_u16(), body });
        }
        if response.content_length().is_some_and(|len| len > MAX_RESPONSE_BYTES as u64) {
            return Err(BlobError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len().saturating_add(chunk.len()) > MAX_RESPONSE_BYTES {
                return Err(BlobError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// The EIP-4844 versioned hash of a blob (`None` if the bytes are not a valid blob).
pub fn versioned_hash(blob: &[u8]) -> Option<B256> {
    let blob = c_kzg::Blob::from_bytes(blob).ok()?;
    let commitment = c_kzg::ethereum_kzg_settings(0).blob_to_kzg_commitment(&blob).ok()?;
    Some(kzg_to_versioned_hash(commitment.as_slice()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_hash_of_zero_blob_and_rejects() {
        let zero = vec![0u8; BYTES_PER_BLOB];
        let h = versioned_hash(&zero).unwrap();
        assert_eq!(h[0], 0x01);
        // The commitment of the zero blob is the point at infinity (0xc0 followed by zeros).
        let mut infinity = [0u8; 48];
        infinity[0] = 0xc0;
        assert_eq!(h, kzg_to_versioned_hash(&infinity));
        // Wrong length, and a field element >= the BLS modulus.
        assert!(versioned_hash(&zero[1..]).is_none());
        let mut bad = zero;
        bad[..32].fill(0xff);
        assert!(versioned_hash(&bad).is_none());
    }

    #[test]
    fn slot_block_id() {
        let c = BeaconClient::new(
            Url::parse("http://127.0.0.1:1/").unwrap(),
            BeaconBlockId::Slot { genesis_time: 1000, seconds_per_slot: 12 },
            Duration::from_secs(1),
        );
        let header = Header { timestamp: 1000 + 12 * 7 + 5, ..Default::default() };
        assert_eq!(c.block_id(&header, B256::ZERO).unwrap(), "7");
        let early = Header { timestamp: 999, ..Default::default() };
        assert!(matches!(c.block_id(&early, B256::ZERO), Err(BlobError::BeforeGenesis { .. })));
        let c = BeaconClient::new(
            Url::parse("http://127.0.0.1:1/").unwrap(),
            BeaconBlockId::ExecutionBlockHash,
            Duration::from_secs(1),
        );
        assert_eq!(
            c.block_id(&header, B256::repeat_byte(0xab)).unwrap(),
            B256::repeat_byte(0xab).to_string()
        );
    }
}
