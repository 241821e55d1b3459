//! The blob client for real consensus clients.
//!
//! For an execution block `(number, hash, timestamp)` it computes the beacon slot
//! `(timestamp - genesis_time) / SECONDS_PER_SLOT` (genesis from `GET /eth/v1/beacon/genesis`,
//! `SECONDS_PER_SLOT`/`SLOTS_PER_EPOCH` from `GET /eth/v1/config/spec`, both read once), confirms it
//! with `GET /eth/v2/beacon/blocks/{slot}` (`execution_payload.block_hash` must be the execution
//! hash), then fetches the blobs by slot from each source in order until all wanted blobs are found:
//! `GET /eth/v1/beacon/blob_sidecars/{slot}` first (commitments and proofs come with the blobs: one
//! batch KZG proof verification), else `GET /eth/v1/beacon/blobs/{slot}?versioned_hashes=...`
//! (commitments recomputed). Every blob is kept only if its commitment hashes to a wanted versioned
//! hash, so no source is trusted.

use crate::{
    BeaconError,
    state::{BeaconState, FULU, StateParams},
    types::{ApiError, Envelope, GenesisData, HeaderData, SidecarData, SignedBlock},
};
use alloy_eips::eip4844::{BYTES_PER_BLOB, Blob, kzg_to_versioned_hash};
use alloy_primitives::{B256, Bytes};
use alloy_transport_http::reqwest::{self, Url};
use serde::de::DeserializeOwned;
use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::Arc,
    time::Duration,
};
use tokio::sync::OnceCell;
use tracing::{debug, warn};

const TARGET: &str = "based_beacon::client";

/// Upper bound on the blobs (or sidecars) one response may carry.
pub const MAX_BLOBS_PER_RESPONSE: usize = 128;
/// Largest accepted blob or sidecar response: [`MAX_BLOBS_PER_RESPONSE`] hex blobs plus overhead.
pub const MAX_BLOB_RESPONSE_BYTES: usize =
    MAX_BLOBS_PER_RESPONSE * (2 * BYTES_PER_BLOB + 4096) + 64 * 1024;
/// Largest accepted beacon block response.
pub const MAX_BLOCK_RESPONSE_BYTES: usize = 32 << 20;
/// Largest accepted small response (genesis, spec, header).
const MAX_SMALL_RESPONSE_BYTES: usize = 1 << 20;
/// Largest `BeaconState` read (a mainnet state with ~2M validators is ~300 MB of SSZ).
pub const MAX_STATE_RESPONSE_BYTES: usize = 1 << 30;
/// Least time allowed to download a `BeaconState` (the configured timeout, if longer, applies).
pub const STATE_TIMEOUT: Duration = Duration::from_secs(300);
/// The SSZ media type.
const SSZ: &str = "application/octet-stream";
/// Beacon blocks probed to locate one execution block (see [`BeaconClient::locate`]).
pub const MAX_LOCATE_PROBES: usize = 8;

/// An execution (L1) block as the client needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElBlock {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// Block timestamp.
    pub timestamp: u64,
}

/// Slot timing of a beacon chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Unix time of slot 0.
    pub genesis_time: u64,
    /// `SECONDS_PER_SLOT`.
    pub seconds_per_slot: u64,
    /// `SLOTS_PER_EPOCH`.
    pub slots_per_epoch: u64,
}

impl Timing {
    /// The slot of a block with this timestamp: `(timestamp - genesis_time) / seconds_per_slot`.
    pub fn slot_at(&self, timestamp: u64) -> Result<u64, BeaconError> {
        let elapsed = timestamp
            .checked_sub(self.genesis_time)
            .ok_or(BeaconError::BeforeGenesis { timestamp, genesis_time: self.genesis_time })?;
        Ok(elapsed.checked_div(self.seconds_per_slot).unwrap_or(elapsed))
    }
}

/// Configuration of a [`BeaconClient`].
#[derive(Debug, Clone)]
pub struct BeaconClientConfig {
    /// Beacon nodes, tried in order (locate the slot, then blobs).
    pub beacon_urls: Vec<Url>,
    /// Blob archives (beacon-API compatible `blob_sidecars`/`blobs` by slot), tried after the
    /// beacon nodes: blobs older than the beacon nodes' retention (~18 days on mainnet).
    pub archive_urls: Vec<Url>,
    /// Timeout of one request.
    pub timeout: Duration,
    /// Ask `blob_sidecars` before `blobs` (cheaper to verify).
    pub prefer_sidecars: bool,
}

impl BeaconClientConfig {
    /// Defaults for these beacon nodes: no archive, 10 s timeout, sidecars preferred.
    pub fn new(beacon_urls: Vec<Url>) -> Self {
        Self {
            beacon_urls,
            archive_urls: Vec::new(),
            timeout: Duration::from_secs(10),
            prefer_sidecars: true,
        }
    }
}

/// Client for the beacon API of real consensus clients (see the module docs). Cheap to clone.
#[derive(Debug, Clone)]
pub struct BeaconClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    beacons: Vec<Url>,
    archives: Vec<Url>,
    timeout: Duration,
    prefer_sidecars: bool,
    timing: OnceCell<Timing>,
}

/// A verified blob found by one source.
type Found = BTreeMap<B256, Arc<Blob>>;

impl BeaconClient {
    /// A client for `config` (base URLs get a trailing `/` so paths join below them).
    pub fn new(config: BeaconClientConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                http: reqwest::Client::new(),
                beacons: config.beacon_urls.into_iter().map(with_slash).collect(),
                archives: config.archive_urls.into_iter().map(with_slash).collect(),
                timeout: config.timeout,
                prefer_sidecars: config.prefer_sidecars,
                timing: OnceCell::new(),
            }),
        }
    }

    /// The beacon node URLs.
    pub fn beacon_urls(&self) -> &[Url] {
        &self.inner.beacons
    }

    /// The archive URLs.
    pub fn archive_urls(&self) -> &[Url] {
        &self.inner.archives
    }

    /// Genesis time and slot durations, read once from the first source that answers.
    pub async fn timing(&self) -> Result<Timing, BeaconError> {
        self.inner
            .timing
            .get_or_try_init(|| async {
                let mut last = BeaconError::NoSources;
                for base in self.inner.beacons.iter().chain(&self.inner.archives) {
                    match self.fetch_timing(base).await {
                        Ok(t) => {
                            debug!(target: TARGET, %base, genesis_time = t.genesis_time, seconds_per_slot = t.seconds_per_slot, "beacon timing");
                            return Ok(t);
                        }
                        Err(e) => {
                            debug!(target: TARGET, %base, error = %e, "no beacon timing from source");
                            last = e;
                        }
                    }
                }
                Err(last)
            })
            .await
            .copied()
    }

    async fn fetch_timing(&self, base: &Url) -> Result<Timing, BeaconError> {
        let genesis: Envelope<GenesisData> =
            self.get_json(base, "eth/v1/beacon/genesis", &[], MAX_SMALL_RESPONSE_BYTES).await?;
        let spec: Envelope<HashMap<String, serde_json::Value>> =
            self.get_json(base, "eth/v1/config/spec", &[], MAX_SMALL_RESPONSE_BYTES).await?;
        let number = |key: &str| -> Result<u64, BeaconError> {
            crate::types::spec_number(&spec.data, key)
                .and_then(|n| if n > 0 { Ok(n) } else { Err(format!("bad {key}: 0")) })
                .map_err(|reason| BeaconError::Malformed { url: base.to_string(), reason })
        };
        Ok(Timing {
            genesis_time: genesis.data.genesis_time,
            seconds_per_slot: number("SECONDS_PER_SLOT")?,
            slots_per_epoch: number("SLOTS_PER_EPOCH")?,
        })
    }

    /// The beacon slot holding `block`, confirmed on the first beacon node that can.
    ///
    /// Starts at the slot computed from the timestamp; the beacon block there must carry `block`'s
    /// hash. Real consensus clients always put it there. If that slot holds an *ancestor* (lower
    /// execution block number), the block is looked for `number - ancestor_number` slots later
    /// (each block needs a slot of its own; the devnet beacon service shifts blocks whose
    /// timestamps collide), at most [`MAX_LOCATE_PROBES`] times. A 404 is a missed slot
    /// ([`BeaconError::MissedSlot`], or [`BeaconError::Behind`] above the beacon head); another
    /// block at or above `number` is [`BeaconError::NotCanonical`]. All are temporary.
    pub async fn locate(&self, block: ElBlock) -> Result<u64, BeaconError> {
        let timing = self.timing().await?;
        let from = timing.slot_at(block.timestamp)?;
        let mut last = BeaconError::NoSources;
        for base in &self.inner.beacons {
            match self.locate_on(base, block, from).await {
                Ok(slot) => return Ok(slot),
                Err(e) => {
                    debug!(target: TARGET, %base, number = block.number, error = %e, "cannot locate block");
                    last = e;
                }
            }
        }
        Err(last)
    }

    async fn locate_on(&self, base: &Url, block: ElBlock, from: u64) -> Result<u64, BeaconError> {
        let mut slot = from;
        for _ in 0..MAX_LOCATE_PROBES {
            let path = format!("eth/v2/beacon/blocks/{slot}");
            let found: Envelope<SignedBlock> =
                match self.get_json(base, &path, &[], MAX_BLOCK_RESPONSE_BYTES).await {
                    Ok(b) => b,
                    Err(e) if e.is_not_found() => {
                        let head_slot = self.head_slot(base).await?;
                        return Err(if slot > head_slot {
                            BeaconError::Behind { slot, head_slot, number: block.number }
                        } else {
                            BeaconError::MissedSlot { slot, number: block.number, hash: block.hash }
                        });
                    }
                    Err(e) => return Err(e),
                };
            let payload = found.data.message.body.execution_payload.ok_or_else(|| {
                BeaconError::Malformed {
                    url: base.to_string(),
                    reason: format!("beacon block at slot {slot} has no execution payload"),
                }
            })?;
            if payload.block_hash == block.hash {
                return Ok(slot);
            }
            if payload.block_number >= block.number {
                return Err(BeaconError::NotCanonical {
                    slot,
                    number: block.number,
                    hash: block.hash,
                    found_number: payload.block_number,
                    found: payload.block_hash,
                });
            }
            slot = slot.saturating_add(block.number.saturating_sub(payload.block_number));
        }
        Err(BeaconError::NotLocated { number: block.number, hash: block.hash, from_slot: from })
    }

    /// The proposer duties of `epoch` (`GET /eth/v1/validator/duties/proposer/{epoch}`) from the
    /// first beacon node that answers. Consensus clients serve the current and the next epoch
    /// (since Fulu the next one is fixed, EIP-7917). Duties without a 48-byte key are refused as
    /// malformed.
    pub async fn proposer_duties(
        &self,
        epoch: u64,
    ) -> Result<Vec<crate::types::ProposerDuty>, BeaconError> {
        let path = format!("eth/v1/validator/duties/proposer/{epoch}");
        let mut last = BeaconError::NoSources;
        for base in &self.inner.beacons {
            match self
                .get_json::<Envelope<Vec<crate::types::ProposerDuty>>>(
                    base,
                    &path,
                    &[],
                    MAX_SMALL_RESPONSE_BYTES,
                )
                .await
            {
                Ok(found) => {
                    if let Some(bad) = found.data.iter().find(|d| d.pubkey.len() != 48) {
                        last = BeaconError::Malformed {
                            url: base.to_string(),
                            reason: format!("duty of slot {} has a bad pubkey", bad.slot),
                        };
                        continue;
                    }
                    return Ok(found.data);
                }
                Err(e) => {
                    debug!(target: TARGET, %base, epoch, error = %e, "no proposer duties from source");
                    last = e;
                }
            }
        }
        Err(last)
    }

    /// The header and root of block `block_id` (`GET /eth/v1/beacon/headers/{block_id}`) from the
    /// first beacon node that has it; `None` when every node answers 404 (a missed slot).
    pub async fn header(
        &self,
        block_id: &str,
    ) -> Result<Option<crate::types::FullHeaderData>, BeaconError> {
        self.first_found(&format!("eth/v1/beacon/headers/{block_id}"), MAX_SMALL_RESPONSE_BYTES)
            .await
    }

    /// Slot, parent root and execution timestamp of block `block_id`
    /// (`GET /eth/v2/beacon/blocks/{block_id}`); `None` when every node answers 404.
    pub async fn block_summary(
        &self,
        block_id: &str,
    ) -> Result<Option<crate::types::ChildBlock>, BeaconError> {
        self.first_found(&format!("eth/v2/beacon/blocks/{block_id}"), MAX_BLOCK_RESPONSE_BYTES)
            .await
    }

    /// The state sizes of the chain ([`StateParams`], from `GET /eth/v1/config/spec` of the first
    /// beacon node that answers).
    pub async fn state_params(&self) -> Result<StateParams, BeaconError> {
        let mut last = BeaconError::NoSources;
        for base in &self.inner.beacons {
            let spec: Envelope<HashMap<String, serde_json::Value>> = match self
                .get_json(base, "eth/v1/config/spec", &[], MAX_SMALL_RESPONSE_BYTES)
                .await
            {
                Ok(spec) => spec,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            return StateParams::from_spec(&spec.data).map_err(|e| BeaconError::Malformed {
                url: base.to_string(),
                reason: e.to_string(),
            });
        }
        Err(last)
    }

    /// The `BeaconState` `state_id` (a state root, a slot or a named id) in SSZ
    /// (`GET /eth/v2/debug/beacon/states/{state_id}`, `Accept: application/octet-stream`) from the
    /// first beacon node that has it, decoded with `params`; `None` when every node answers 404.
    /// Only Fulu states are read (`Eth-Consensus-Version: fulu`); a state is at most
    /// [`MAX_STATE_RESPONSE_BYTES`] and may take [`STATE_TIMEOUT`] to download.
    pub async fn state(
        &self,
        state_id: &str,
        params: &StateParams,
    ) -> Result<Option<BeaconState>, BeaconError> {
        let path = format!("eth/v2/debug/beacon/states/{state_id}");
        let mut last = None;
        for base in &self.inner.beacons {
            let url =
                base.join(&path).map_err(|e| BeaconError::Url(format!("{base}{path}: {e}")))?;
            let shown = format!("{base}{path}");
            let timeout = self.inner.timeout.max(STATE_TIMEOUT);
            let answer = tokio::time::timeout(
                timeout,
                self.fetch_as(url, &shown, MAX_STATE_RESPONSE_BYTES, SSZ),
            )
            .await
            .map_err(|_| BeaconError::Timeout { url: shown.clone() })
            .and_then(|r| r);
            let (body, version, content_type) = match answer {
                Ok(found) => found,
                Err(e) if e.is_not_found() => continue,
                Err(e) => {
                    debug!(target: TARGET, %base, state_id, error = %e, "beacon state request failed");
                    last = Some(e);
                    continue;
                }
            };
            let decoded = match (version.as_deref(), content_type.as_deref()) {
                (_, Some(ct)) if !ct.starts_with(SSZ) => {
                    Err(format!("Content-Type {ct}: the node did not answer in SSZ"))
                }
                (Some(v), _) if v.eq_ignore_ascii_case(FULU) => {
                    let params = *params;
                    // Decoding a mainnet-sized state takes a while: off the async workers.
                    tokio::task::spawn_blocking(move || BeaconState::from_ssz_bytes(&body, &params))
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|r| r.map_err(|e| e.to_string()))
                }
                (other, _) => Err(format!(
                    "Eth-Consensus-Version {}: only {FULU} states are read",
                    other.unwrap_or("missing")
                )),
            };
            match decoded {
                Ok(state) => return Ok(Some(state)),
                Err(reason) => last = Some(BeaconError::Malformed { url: shown, reason }),
            }
        }
        match last {
            Some(e) => Err(e),
            None if self.inner.beacons.is_empty() => Err(BeaconError::NoSources),
            None => Ok(None),
        }
    }

    /// `data` of `path` from the first beacon node that has it (`None`: every node answered 404;
    /// an error if some node failed otherwise and none had it).
    async fn first_found<T: DeserializeOwned>(
        &self,
        path: &str,
        limit: usize,
    ) -> Result<Option<T>, BeaconError> {
        let mut last = None;
        for base in &self.inner.beacons {
            match self.get_json::<Envelope<T>>(base, path, &[], limit).await {
                Ok(found) => return Ok(Some(found.data)),
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    debug!(target: TARGET, %base, path, error = %e, "beacon request failed");
                    last = Some(e);
                }
            }
        }
        match last {
            Some(e) => Err(e),
            None if self.inner.beacons.is_empty() => Err(BeaconError::NoSources),
            None => Ok(None),
        }
    }

    /// The head slot of one beacon node (`GET /eth/v1/beacon/headers/head`).
    pub async fn head_slot(&self, base: &Url) -> Result<u64, BeaconError> {
        let head: Envelope<HeaderData> = self
            .get_json(base, "eth/v1/beacon/headers/head", &[], MAX_SMALL_RESPONSE_BYTES)
            .await?;
        Ok(head.data.header.message.slot)
    }

    /// Fetches and verifies the blobs with the given versioned hashes of execution block `block`.
    ///
    /// Returns exactly the wanted blobs, each verified against its versioned hash. Sources are
    /// tried in order (beacon nodes, then archives) until every blob is found. If the slot cannot
    /// be confirmed on any beacon node, archives (if any) are still asked at the slot computed
    /// from the timestamp (their blobs are verified all the same).
    pub async fn blobs(
        &self,
        block: ElBlock,
        wanted: &BTreeSet<B256>,
    ) -> Result<BTreeMap<B256, Arc<Blob>>, BeaconError> {
        let mut found = Found::new();
        if wanted.is_empty() {
            return Ok(found);
        }
        if self.inner.beacons.is_empty() && self.inner.archives.is_empty() {
            return Err(BeaconError::NoSources);
        }
        let mut attempts = Vec::new();
        let mut transient = false;
        let (slot, sources): (u64, Vec<&Url>) = match self.locate(block).await {
            Ok(slot) => (slot, self.inner.beacons.iter().chain(&self.inner.archives).collect()),
            Err(e)
                if !self.inner.archives.is_empty() && e.severity() != crate::Severity::Critical =>
            {
                let slot = self.timing().await?.slot_at(block.timestamp)?;
                warn!(target: TARGET, number = block.number, slot, error = %e, "slot not confirmed by a beacon node; asking the archives at the computed slot");
                attempts.push(format!("locate: {e}"));
                transient = true;
                (slot, self.inner.archives.iter().collect())
            }
            Err(e) => return Err(e),
        };
        for base in sources {
            let missing: BTreeSet<B256> =
                wanted.iter().filter(|h| !found.contains_key(*h)).copied().collect();
            if missing.is_empty() {
                break;
            }
            match self.blobs_from(base, slot, &missing).await {
                Ok(got) => {
                    debug!(target: TARGET, %base, slot, number = block.number, got = got.len(), wanted = missing.len(), "blobs from source");
                    attempts.push(format!("{base}: {} of {}", got.len(), missing.len()));
                    found.extend(got);
                }
                Err(e) => {
                    debug!(target: TARGET, %base, slot, number = block.number, error = %e, "no blobs from source");
                    transient |= is_transient(&e);
                    attempts.push(format!("{base}: {e}"));
                }
            }
        }
        let missing: Vec<B256> =
            wanted.iter().filter(|h| !found.contains_key(*h)).copied().collect();
        if let Some(first) = missing.first() {
            return Err(BeaconError::BlobsNotFound {
                number: block.number,
                slot,
                wanted: wanted.len(),
                missing: missing.len(),
                first: *first,
                attempts: attempts.join("; "),
                transient,
            });
        }
        Ok(found)
    }

    /// Wanted blobs one source has at `slot`: sidecars first (if preferred), then `blobs`.
    async fn blobs_from(
        &self,
        base: &Url,
        slot: u64,
        wanted: &BTreeSet<B256>,
    ) -> Result<Found, BeaconError> {
        let mut got = Found::new();
        let mut sidecar_error = None;
        if self.inner.prefer_sidecars {
            match self.sidecars(base, slot, wanted).await {
                Ok(found) => got = found,
                // The source is down: do not ask it again.
                Err(e @ (BeaconError::Http { .. } | BeaconError::Timeout { .. })) => return Err(e),
                Err(e) => {
                    debug!(target: TARGET, %base, slot, error = %e, "no blob sidecars; trying blobs");
                    sidecar_error = Some(e);
                }
            }
        }
        let rest: Vec<B256> = wanted.iter().filter(|h| !got.contains_key(*h)).copied().collect();
        if rest.is_empty() {
            return Ok(got);
        }
        match self.plain_blobs(base, slot, &rest).await {
            Ok(found) => got.extend(found),
            Err(e) if got.is_empty() => {
                return Err(sidecar_error.filter(is_transient).unwrap_or(e));
            }
            Err(e) => debug!(target: TARGET, %base, slot, error = %e, "blobs endpoint failed"),
        }
        Ok(got)
    }

    /// `GET /eth/v1/beacon/blob_sidecars/{slot}`: wanted sidecars, batch-verified with their proofs.
    async fn sidecars(
        &self,
        base: &Url,
        slot: u64,
        wanted: &BTreeSet<B256>,
    ) -> Result<Found, BeaconError> {
        let path = format!("eth/v1/beacon/blob_sidecars/{slot}");
        let response: Envelope<Vec<SidecarData>> =
            self.get_json(base, &path, &[], MAX_BLOB_RESPONSE_BYTES).await?;
        if response.data.len() > MAX_BLOBS_PER_RESPONSE {
            return Err(BeaconError::TooLarge {
                url: base.to_string(),
                limit: MAX_BLOBS_PER_RESPONSE,
            });
        }
        let mut selected: Vec<(B256, SidecarData)> = Vec::new();
        for sidecar in response.data {
            if sidecar.kzg_commitment.len() != 48
                || sidecar.kzg_proof.len() != 48
                || sidecar.blob.len() != BYTES_PER_BLOB
            {
                return Err(BeaconError::Malformed {
                    url: base.to_string(),
                    reason: format!("sidecar {} has bad field lengths", sidecar.index),
                });
            }
            let hash = kzg_to_versioned_hash(&sidecar.kzg_commitment);
            if wanted.contains(&hash) && !selected.iter().any(|(h, _)| *h == hash) {
                selected.push((hash, sidecar));
            }
        }
        if selected.is_empty() {
            return Ok(Found::new());
        }
        let url = base.to_string();
        tokio::task::spawn_blocking(move || verify_sidecars(selected))
            .await
            .map_err(|e| BeaconError::Malformed { url: url.clone(), reason: e.to_string() })?
            .map_err(|reason| BeaconError::Malformed { url, reason })
    }

    /// `GET /eth/v1/beacon/blobs/{slot}?versioned_hashes=...`: wanted blobs, commitments recomputed.
    async fn plain_blobs(
        &self,
        base: &Url,
        slot: u64,
        wanted: &[B256],
    ) -> Result<Found, BeaconError> {
        let path = format!("eth/v1/beacon/blobs/{slot}");
        let hashes: Vec<String> = wanted.iter().map(|h| h.to_string()).collect();
        let query = [("versioned_hashes", hashes.join(","))];
        let response: Envelope<Vec<Bytes>> =
            self.get_json(base, &path, &query, MAX_BLOB_RESPONSE_BYTES).await?;
        if response.data.len() > MAX_BLOBS_PER_RESPONSE {
            return Err(BeaconError::TooLarge {
                url: base.to_string(),
                limit: MAX_BLOBS_PER_RESPONSE,
            });
        }
        let wanted: BTreeSet<B256> = wanted.iter().copied().collect();
        let url = base.to_string();
        tokio::task::spawn_blocking(move || {
            let mut found = Found::new();
            for raw in response.data {
                let Some(hash) = versioned_hash(&raw) else { continue };
                if wanted.contains(&hash)
                    && !found.contains_key(&hash)
                    && let Ok(blob) = Blob::try_from(raw.as_ref())
                {
                    found.insert(hash, Arc::new(blob));
                }
            }
            found
        })
        .await
        .map_err(|e| BeaconError::Malformed { url, reason: e.to_string() })
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        base: &Url,
        path: &str,
        query: &[(&str, String)],
        limit: usize,
    ) -> Result<T, BeaconError> {
        let mut url =
            base.join(path).map_err(|e| BeaconError::Url(format!("{base}{path}: {e}")))?;
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        let shown = format!("{base}{path}");
        let body = tokio::time::timeout(self.inner.timeout, self.fetch(url, &shown, limit))
            .await
            .map_err(|_| BeaconError::Timeout { url: shown.clone() })??;
        serde_json::from_slice(&body)
            .map_err(|e| BeaconError::Malformed { url: shown, reason: e.to_string() })
    }

    async fn fetch(&self, url: Url, shown: &str, limit: usize) -> Result<Vec<u8>, BeaconError> {
        self.fetch_as(url, shown, limit, "application/json").await.map(|(body, _, _)| body)
    }

    /// The body of a successful GET with this `Accept`, its `Eth-Consensus-Version` and its
    /// `Content-Type`.
    async fn fetch_as(
        &self,
        url: Url,
        shown: &str,
        limit: usize,
        accept: &str,
    ) -> Result<(Vec<u8>, Option<String>, Option<String>), BeaconError> {
        let http =
            |e: reqwest::Error| BeaconError::Http { url: shown.to_string(), reason: e.to_string() };
        let mut response = self
            .inner
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, accept)
            .send()
            .await
            .map_err(http)?;
        let status = response.status();
        if !status.is_success() {
            // Error bodies are small (`{"code","message"}`); read at most 4 KiB of them.
            let mut head = Vec::new();
            while head.len() < 4096
                && let Ok(Some(chunk)) = response.chunk().await
            {
                head.extend_from_slice(&chunk);
            }
            let text = String::from_utf8_lossy(&head);
            let message = serde_json::from_str::<ApiError>(&text)
                .map(|e| e.message)
                .unwrap_or_else(|_| text.chars().take(256).collect());
            return Err(BeaconError::Status {
                url: shown.to_string(),
                status: status.as_u16(),
                message,
            });
        }
        if response.content_length().is_some_and(|len| len > limit as u64) {
            return Err(BeaconError::TooLarge { url: shown.to_string(), limit });
        }
        let header = |name: &str| {
            response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
        };
        let version = header("eth-consensus-version");
        let content_type = header("content-type");
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http)? {
            if body.len().saturating_add(chunk.len()) > limit {
                return Err(BeaconError::TooLarge { url: shown.to_string(), limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, version, content_type))
    }
}

/// Batch-verifies sidecars' KZG proofs; returns the blobs by versioned hash.
fn verify_sidecars(selected: Vec<(B256, SidecarData)>) -> Result<Found, String> {
    let mut blobs = Vec::with_capacity(selected.len());
    let mut commitments = Vec::with_capacity(selected.len());
    let mut proofs = Vec::with_capacity(selected.len());
    for (_, sidecar) in &selected {
        blobs.push(c_kzg::Blob::from_bytes(&sidecar.blob).map_err(|e| format!("blob: {e:?}"))?);
        commitments.push(
            c_kzg::Bytes48::from_bytes(&sidecar.kzg_commitment)
                .map_err(|e| format!("commitment: {e:?}"))?,
        );
        proofs.push(
            c_kzg::Bytes48::from_bytes(&sidecar.kzg_proof).map_err(|e| format!("proof: {e:?}"))?,
        );
    }
    let ok = c_kzg::ethereum_kzg_settings(0)
        .verify_blob_kzg_proof_batch(&blobs, &commitments, &proofs)
        .map_err(|e| format!("KZG verification error: {e:?}"))?;
    if !ok {
        return Err("KZG proof batch verification failed".to_string());
    }
    let mut found = Found::new();
    for (hash, sidecar) in selected {
        let blob = Blob::try_from(sidecar.blob.as_ref()).map_err(|_| "blob length".to_string())?;
        found.insert(hash, Arc::new(blob));
    }
    Ok(found)
}

/// Whether an error is worth retrying against the same source (transport, timeout, 5xx).
fn is_transient(e: &BeaconError) -> bool {
    match e {
        BeaconError::Http { .. } | BeaconError::Timeout { .. } => true,
        BeaconError::Status { status, .. } => *status >= 500,
        _ => false,
    }
}

fn with_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
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

    fn blob_bytes(seed: u8) -> Vec<u8> {
        let mut b = vec![0u8; BYTES_PER_BLOB];
        for i in (0..BYTES_PER_BLOB).step_by(32) {
            b[i + 1] = seed;
            b[i + 2] = (i / 32) as u8;
        }
        b
    }

    fn sidecar(blob: &[u8], proof_of: &[u8]) -> (B256, SidecarData) {
        let settings = c_kzg::ethereum_kzg_settings(0);
        let commit = |bytes: &[u8]| {
            let b = c_kzg::Blob::from_bytes(bytes).unwrap();
            let c = settings.blob_to_kzg_commitment(&b).unwrap().to_bytes();
            let p = settings.compute_blob_kzg_proof(&b, &c).unwrap().to_bytes();
            (c, p)
        };
        let (commitment, _) = commit(blob);
        let (_, proof) = commit(proof_of);
        (
            kzg_to_versioned_hash(commitment.as_slice()),
            SidecarData {
                index: 0,
                blob: Bytes::copy_from_slice(blob),
                kzg_commitment: Bytes::copy_from_slice(commitment.as_slice()),
                kzg_proof: Bytes::copy_from_slice(proof.as_slice()),
            },
        )
    }

    #[test]
    fn slot_from_timestamp() {
        let t = Timing { genesis_time: 1000, seconds_per_slot: 12, slots_per_epoch: 32 };
        assert_eq!(t.slot_at(1000).unwrap(), 0);
        assert_eq!(t.slot_at(1000 + 12 * 7 + 5).unwrap(), 7);
        assert!(matches!(t.slot_at(999), Err(BeaconError::BeforeGenesis { .. })));
    }

    #[test]
    fn sidecar_proofs_are_batch_verified() {
        let (a, b) = (blob_bytes(1), blob_bytes(2));
        let good = vec![sidecar(&a, &a), sidecar(&b, &b)];
        let hashes: Vec<B256> = good.iter().map(|(h, _)| *h).collect();
        let found = verify_sidecars(good).unwrap();
        assert_eq!(found.keys().copied().collect::<BTreeSet<_>>(), hashes.into_iter().collect());
        // A proof of another blob fails the whole batch.
        assert!(verify_sidecars(vec![sidecar(&a, &a), sidecar(&b, &a)]).is_err());
    }

    #[test]
    fn versioned_hash_rejects_bad_blobs() {
        let zero = vec![0u8; BYTES_PER_BLOB];
        assert_eq!(versioned_hash(&zero).unwrap()[0], 0x01);
        assert!(versioned_hash(&zero[1..]).is_none());
        let mut bad = zero;
        bad[..32].fill(0xff);
        assert!(versioned_hash(&bad).is_none());
    }

    #[test]
    fn base_urls_get_a_trailing_slash() {
        let u = with_slash("http://h:1/beacon".parse().unwrap());
        assert_eq!(
            u.join("eth/v1/beacon/genesis").unwrap().as_str(),
            "http://h:1/beacon/eth/v1/beacon/genesis"
        );
        let u = with_slash("http://h:1".parse().unwrap());
        assert_eq!(u.as_str(), "http://h:1/");
    }
}
