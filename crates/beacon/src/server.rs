//! `DevBeacon`: the devnet's own beacon API service (**devnet-only**; not a consensus client).
//!
//! It gives the devnet's anvil L1 a beacon chain with the semantics of real consensus clients
//! (Lighthouse, Prysm, Teku) so the node's beacon code runs the way it does on a real network:
//!
//! - **Slots.** One L1 block is one beacon block. Block 0 is slot 0 and `genesis_time` is its
//!   timestamp; `SECONDS_PER_SLOT` is configured (the devnet block time). A block's slot is
//!   `max((timestamp - genesis_time) / SECONDS_PER_SLOT, parent_slot + 1)`: the timestamp slot,
//!   shifted forward when anvil gives several blocks timestamps in one slot (`anvil_mine`,
//!   `evm_mine`), since a real chain has at most one block per slot. Slots without a block are
//!   missed slots (404). Slots are recomputed from the fork point when anvil reorgs.
//! - **Roots.** The root of a slot's block is the SSZ `hash_tree_root` of the
//!   `BeaconBlockHeader { slot, proposer_index, parent_root, state_root, body_root }` where
//!   `parent_root` is the previous block's root (zero at genesis), `state_root` is the root of the
//!   block's synthetic post-state (below) and `body_root` is the execution block hash (a real body
//!   root commits to the whole body; this keeps roots unique per execution block and slot).
//! - **States.** Each block's post-state is a complete Fulu `BeaconState` ([`crate::state`]) with
//!   the minimal preset's sizes and the configured `SLOTS_PER_EPOCH` (all sizes are in
//!   `/eth/v1/config/spec`): real `validators` (the devnet keys, active, 32 ETH),
//!   `proposer_lookahead` (EIP-7917: the proposers of the block's epoch and the next),
//!   `latest_block_header` (its `state_root` zero, as after block processing) and execution payload
//!   header (the execution block's hash, parent, number and timestamp); every other field holds a
//!   quiet chain's value. Its root is the header's `state_root`, so `proposer_lookahead` and
//!   `validators[i].pubkey` can be proven against a block root exactly as on a real network.
//!   `GET /eth/v2/debug/beacon/states/{state_id}` serves it in SSZ as consensus clients do
//!   (`head`, `genesis`, `finalized`, `justified`, a slot with a block, or a `0x` state root; an
//!   `Accept` asking for JSON only: 406).
//! - **EIP-4788** (with [`DevBeaconConfig::beacon_roots`]): anvil has no beacon roots contract,
//!   so the service installs the EIP-4788 code at its address and, for every execution block it
//!   indexes, writes the parent beacon block root under the block's timestamp in the contract's
//!   ring buffer (`anvil_setStorageAt`), following the chain in the background. Contracts then read
//!   the devnet's beacon roots at the real address, as on L1 (a lookahead contest runs unchanged).
//!   anvil's own `parentBeaconBlockRoot` header field stays zero.
//! - **Block ids** are a decimal slot, a `0x` root of a block it made, `head`, `genesis`,
//!   `finalized` or `justified` (anvil's `finalized` block). Anything else is 400; an unknown root
//!   (e.g. an execution block hash) or an empty slot is 404 `{"code":404,"message":"NOT_FOUND: ..."}`.
//! - **Validators.** `validator_count` BLS keys derived from a seed: secret key `i` is
//!   `KeyGen(sha256(seed || i as u64 little-endian))` (EIP-2333 `KeyGen`), and the proposer of
//!   slot `s` is validator `s % validator_count`. Proposer duties are served for the current and
//!   the next epoch only (the current epoch follows the wall clock, or the head if it is ahead).
//!   Fault injection ([`DevBeacon::set_duty_shift`]): the duties may name the proposer of
//!   `slot + shift` instead; states and headers keep the true schedule, so a lookahead posted from
//!   such duties is provably wrong.
//! - **Blobs.** Read from anvil's lenient blob endpoint by execution block hash; commitments and
//!   proofs are computed here (cached). `blob_sidecars` (with a zero inclusion proof: devnet-only)
//!   and `blobs` (`versioned_hashes` filter) are served by block id. With a retention window,
//!   blobs of blocks more than `blob_retention_slots` below the head are pruned (404).
//!
//! Served: `GET /eth/v1/beacon/genesis`, `/eth/v1/config/spec`, `/eth/v1/node/syncing`,
//! `/eth/v1/beacon/headers/{block_id}`, `/eth/v2/beacon/blocks/{block_id}` (minimal body:
//! `execution_payload.{parent_hash, block_hash, block_number, timestamp}`),
//! `/eth/v1/beacon/blob_sidecars/{block_id}`, `/eth/v1/beacon/blobs/{block_id}`,
//! `/eth/v1/validator/duties/proposer/{epoch}` and `/eth/v2/debug/beacon/states/{state_id}` (SSZ).

use crate::{
    client::MAX_BLOB_RESPONSE_BYTES,
    ssz::{self, Validator},
    state::{BeaconState, ExecutionPayloadHeader, FULU, Fork, StateParams, SyncCommittee},
};
use alloy_eips::{
    eip4788::{BEACON_ROOTS_ADDRESS, BEACON_ROOTS_CODE},
    eip4844::{Blob, kzg_to_versioned_hash},
};
use alloy_primitives::{B256, Bytes, FixedBytes, U256, hex};
use alloy_provider::{Provider, RootProvider};
use alloy_rpc_types_eth::BlockNumberOrTag;
use alloy_transport_http::reqwest::{self, Url};
use http_body_util::Full;
use hyper::{
    Method, Request, Response, StatusCode, body::Incoming, server::conn::http1, service::service_fn,
};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::{
    collections::{BTreeSet, HashMap, VecDeque},
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc, Mutex as StdMutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use tokio::{net::TcpListener, sync::Mutex, task::JoinHandle};
use tracing::{debug, info, warn};

const TARGET: &str = "based_beacon::devbeacon";
/// Cached blob sets (per execution block).
const BLOB_CACHE: usize = 256;
/// Blocks indexed per refresh at most (bounds the latency of one request).
const MAX_INDEX_PER_REFRESH: u64 = 4096;
/// Length of the EIP-4788 ring buffer (`HISTORY_BUFFER_LENGTH`).
pub const BEACON_ROOTS_HISTORY: u64 = 8191;
/// Follow interval of the background indexer (EIP-4788 writes).
const FOLLOW_INTERVAL: Duration = Duration::from_millis(200);

/// Configuration of a [`DevBeacon`].
#[derive(Debug, Clone)]
pub struct DevBeaconConfig {
    /// Listen address (port 0 picks a free one).
    pub addr: SocketAddr,
    /// `SECONDS_PER_SLOT` (the devnet's L1 block time).
    pub seconds_per_slot: u64,
    /// `SLOTS_PER_EPOCH`.
    pub slots_per_epoch: u64,
    /// Number of validators.
    pub validator_count: u64,
    /// Seed of the validator keys.
    pub validator_seed: B256,
    /// Blobs of blocks more than this many slots below the head are pruned (`None`: kept).
    pub blob_retention_slots: Option<u64>,
    /// Serve `blob_sidecars`; `false` answers 410 like clients after Fusaka.
    pub serve_blob_sidecars: bool,
    /// Install the EIP-4788 contract on anvil and write every block's parent beacon root into it
    /// (follow mode only; see the module docs).
    pub beacon_roots: bool,
}

impl Default for DevBeaconConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            seconds_per_slot: 12,
            slots_per_epoch: 32,
            validator_count: 64,
            validator_seed: B256::from(*b"based devnet validator seed v0\0\0"),
            blob_retention_slots: None,
            serve_blob_sidecars: true,
            beacon_roots: false,
        }
    }
}

/// Errors starting a [`DevBeacon`].
#[derive(Debug, thiserror::Error)]
pub enum DevBeaconError {
    /// Binding the listener failed.
    #[error("bind: {0}")]
    Io(#[from] std::io::Error),
    /// The execution client could not be read.
    #[error("L1: {0}")]
    L1(String),
    /// Bad configuration or static chain.
    #[error("config: {0}")]
    Config(String),
}

/// A block of a static chain (tests: a beacon stub with chosen slots, missed slots and blobs).
#[derive(Debug, Clone)]
pub struct StaticBlock {
    /// Its slot (strictly increasing along the chain; gaps are missed slots).
    pub slot: u64,
    /// Execution block number.
    pub number: u64,
    /// Execution block hash.
    pub hash: B256,
    /// Execution parent hash.
    pub parent_hash: B256,
    /// Execution timestamp.
    pub timestamp: u64,
    /// The block's blobs, in order.
    pub blobs: Vec<Arc<Blob>>,
}

/// A static chain for [`DevBeacon::start_static`].
#[derive(Debug, Clone, Default)]
pub struct StaticChain {
    /// Genesis time.
    pub genesis_time: u64,
    /// The blocks, ascending by slot; the first is the genesis block.
    pub blocks: Vec<StaticBlock>,
    /// Slots up to this one are finalized.
    pub finalized_slot: u64,
}

/// One beacon block of the index.
#[derive(Debug, Clone)]
struct SlotBlock {
    slot: u64,
    root: B256,
    parent_root: B256,
    proposer_index: u64,
    state_root: B256,
    el_number: u64,
    el_hash: B256,
    el_parent: B256,
    el_timestamp: u64,
}

/// The canonical beacon chain: blocks ascending by slot.
#[derive(Debug, Default)]
struct Index {
    blocks: Vec<SlotBlock>,
    by_root: HashMap<B256, usize>,
    finalized_slot: u64,
}

impl Index {
    fn push(&mut self, block: SlotBlock) {
        self.by_root.insert(block.root, self.blocks.len());
        self.blocks.push(block);
    }

    fn pop(&mut self) {
        if let Some(b) = self.blocks.pop() {
            self.by_root.remove(&b.root);
        }
    }

    fn at_slot(&self, slot: u64) -> Option<&SlotBlock> {
        self.blocks.binary_search_by_key(&slot, |b| b.slot).ok().and_then(|i| self.blocks.get(i))
    }

    /// The last block at or before `slot`.
    fn at_or_before(&self, slot: u64) -> Option<&SlotBlock> {
        let i = self.blocks.partition_point(|b| b.slot <= slot);
        i.checked_sub(1).and_then(|i| self.blocks.get(i))
    }

    fn head_slot(&self) -> u64 {
        self.blocks.last().map_or(0, |b| b.slot)
    }

    /// The block `id` names; a root is a block root, or a state root if `state_root` (the ids of
    /// `/eth/v2/debug/beacon/states`).
    fn find(&self, id: BlockId, state_root: bool) -> Option<&SlotBlock> {
        match id {
            BlockId::Head => self.blocks.last(),
            BlockId::Genesis => self.blocks.first(),
            BlockId::Finalized => self.at_or_before(self.finalized_slot),
            BlockId::Slot(s) => self.at_slot(s),
            BlockId::Root(r) if state_root => self.blocks.iter().rev().find(|b| b.state_root == r),
            BlockId::Root(r) => self.by_root.get(&r).and_then(|i| self.blocks.get(*i)),
        }
    }
}

enum Backend {
    /// Follows an execution client (anvil) and reads blobs from its lenient beacon endpoint.
    Follow { provider: RootProvider, blob_base: Url, http: reqwest::Client },
    /// A fixed chain (tests).
    Static { blobs: HashMap<B256, Vec<Arc<Blob>>> },
}

/// A blob with its commitment and proof.
struct BlobEntry {
    blob: Arc<Blob>,
    commitment: [u8; 48],
    proof: [u8; 48],
    versioned_hash: B256,
}

/// Blob sets by execution block hash, with their insertion order (FIFO eviction).
type BlobCache = (HashMap<B256, Arc<Vec<BlobEntry>>>, VecDeque<B256>);

struct Shared {
    cfg: DevBeaconConfig,
    genesis_time: u64,
    /// The validator set and its states (the duties' keys come from here too).
    states: DevStates,
    /// Fault injection: duties name the proposer of `slot + duty_shift`.
    duty_shift: AtomicU64,
    backend: Backend,
    index: Mutex<Index>,
    blob_cache: StdMutex<BlobCache>,
    hits: StdMutex<HashMap<&'static str, u64>>,
}

/// The devnet beacon API service (see the module docs). Stops on [`DevBeacon::stop`] or drop.
pub struct DevBeacon {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
    /// Background indexer (follow mode with EIP-4788 writes).
    follower: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for DevBeacon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevBeacon").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl DevBeacon {
    /// Starts the service in front of the execution client at `el_url` (anvil: it also serves
    /// the blobs by execution block hash). `genesis_time` is block 0's timestamp.
    pub async fn start(cfg: DevBeaconConfig, el_url: Url) -> Result<Self, DevBeaconError> {
        let provider = RootProvider::new_http(el_url.clone());
        let genesis = provider
            .get_block_by_number(BlockNumberOrTag::Number(0))
            .await
            .map_err(|e| DevBeaconError::L1(e.to_string()))?
            .ok_or_else(|| DevBeaconError::L1("no block 0".into()))?;
        if cfg.beacon_roots {
            install_beacon_roots(&provider).await.map_err(DevBeaconError::L1)?;
        }
        let backend = Backend::Follow { provider, blob_base: el_url, http: reqwest::Client::new() };
        let shared = Shared::new(cfg, genesis.header.timestamp, backend, Index::default())?;
        shared.refresh().await;
        Self::serve(shared).await
    }

    /// Starts the service over a fixed chain (a beacon stub with real semantics, for tests).
    pub async fn start_static(
        cfg: DevBeaconConfig,
        chain: StaticChain,
    ) -> Result<Self, DevBeaconError> {
        let mut index = Index { finalized_slot: chain.finalized_slot, ..Index::default() };
        let mut blobs = HashMap::new();
        let states = DevStates::new(&cfg, chain.genesis_time)?;
        for b in chain.blocks {
            if index.blocks.last().is_some_and(|p| p.slot >= b.slot) {
                return Err(DevBeaconError::Config("static slots must increase".into()));
            }
            let parent_root = index.blocks.last().map_or(B256::ZERO, |p| p.root);
            let state_root = states.root(b.slot, parent_root, &b);
            index.push(make_block(&cfg, b.slot, parent_root, state_root, &b));
            blobs.insert(b.hash, b.blobs);
        }
        let shared = Shared::new(cfg, chain.genesis_time, Backend::Static { blobs }, index)?;
        Self::serve(shared).await
    }

    async fn serve(shared: Shared) -> Result<Self, DevBeaconError> {
        let listener = TcpListener::bind(shared.cfg.addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(shared);
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        let follower = (shared.cfg.beacon_roots
            && matches!(shared.backend, Backend::Follow { .. }))
        .then(|| {
            let shared = shared.clone();
            tokio::spawn(async move {
                loop {
                    shared.refresh().await;
                    tokio::time::sleep(FOLLOW_INTERVAL).await;
                }
            })
        });
        info!(target: TARGET, %addr, seconds_per_slot = shared.cfg.seconds_per_slot, genesis_time = shared.genesis_time, beacon_roots = shared.cfg.beacon_roots, "devnet beacon API listening");
        Ok(Self { addr, shared, task, follower })
    }

    /// The listen address.
    pub const fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL, e.g. `http://127.0.0.1:5052`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Genesis time.
    pub fn genesis_time(&self) -> u64 {
        self.shared.genesis_time
    }

    /// How many requests hit an endpoint kind (`genesis`, `spec`, `headers`, `blocks`,
    /// `blob_sidecars`, `blobs`, `duties`).
    pub fn hits(&self, kind: &str) -> u64 {
        self.shared.hits.lock().map(|h| h.get(kind).copied().unwrap_or(0)).unwrap_or(0)
    }

    /// The slot the service assigned to execution block `hash`, if it is canonical.
    pub async fn slot_of(&self, hash: B256) -> Option<u64> {
        self.shared.refresh().await;
        let index = self.shared.index.lock().await;
        index.blocks.iter().rev().find(|b| b.el_hash == hash).map(|b| b.slot)
    }

    /// Fault injection (tests): from now on the proposer duties name the proposer of
    /// `slot + shift` (0 = the truth). Block headers and states keep the true schedule.
    pub fn set_duty_shift(&self, shift: u64) {
        self.shared.duty_shift.store(shift, Ordering::SeqCst);
    }

    /// The post-state of the block at `slot` (as `/eth/v2/debug/beacon/states/{slot}` serves it),
    /// if the slot has a block.
    pub async fn state(&self, slot: u64) -> Option<BeaconState> {
        self.shared.refresh().await;
        let index = self.shared.index.lock().await;
        index.at_slot(slot).map(|b| self.shared.states.state_of(b))
    }

    /// The sizes of the states served.
    pub fn state_params(&self) -> StateParams {
        self.shared.states.params
    }

    /// Stops serving.
    pub async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
        if let Some(mut follower) = self.follower.take() {
            follower.abort();
            let _ = (&mut follower).await;
        }
    }
}

impl Drop for DevBeacon {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(follower) = &self.follower {
            follower.abort();
        }
    }
}

/// The devnet's synthetic beacon states (see the module docs).
#[derive(Debug)]
struct DevStates {
    genesis_time: u64,
    genesis_validators_root: B256,
    params: StateParams,
    validator_count: u64,
    validators: Vec<Validator>,
}

impl DevStates {
    fn new(cfg: &DevBeaconConfig, genesis_time: u64) -> Result<Self, DevBeaconError> {
        let validators = (0..cfg.validator_count)
            .map(|i| validator_pubkey(cfg.validator_seed, i).map(Validator::active))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| DevBeaconError::Config("validator key derivation failed".into()))?;
        let slots_per_epoch = usize::try_from(cfg.slots_per_epoch)
            .map_err(|_| DevBeaconError::Config("slots_per_epoch too large".into()))?;
        let states = Self {
            genesis_time,
            genesis_validators_root: genesis_validators_root(cfg.validator_seed),
            params: dev_state_params(slots_per_epoch),
            validator_count: cfg.validator_count,
            validators,
        };
        // Every state is built to these sizes; one that does not hash is a configuration error.
        let probe = StaticBlock {
            slot: 0,
            number: 0,
            hash: B256::ZERO,
            parent_hash: B256::ZERO,
            timestamp: genesis_time,
            blobs: Vec::new(),
        };
        states
            .state(0, B256::ZERO, &probe)
            .root(&states.params)
            .map_err(|e| DevBeaconError::Config(format!("devnet beacon state: {e}")))?;
        Ok(states)
    }

    /// `proposer_lookahead` of the post-state of a block at `slot`: the true proposers of its
    /// epoch and the next.
    fn lookahead(&self, slot: u64) -> Vec<u64> {
        let spe = self.params.slots_per_epoch as u64;
        let first = slot.checked_div(spe).unwrap_or(0).saturating_mul(spe);
        (first..first.saturating_add(spe.saturating_mul(2)))
            .map(|s| proposer_index(s, self.validator_count))
            .collect()
    }

    /// The post-state of the block at `slot` (child of `parent_root`) carrying execution block
    /// `el`: real `validators`, `proposer_lookahead`, `latest_block_header` (its `state_root`
    /// zero, as after `process_block`) and execution payload header; everything else the value a
    /// quiet chain would have (balances of 32 ETH, empty histories and queues).
    fn state(&self, slot: u64, parent_root: B256, el: &StaticBlock) -> BeaconState {
        let p = &self.params;
        let n = self.validators.len();
        let spe = p.slots_per_epoch as u64;
        let committee = SyncCommittee {
            pubkeys: (0..p.sync_committee_size)
                .filter_map(|i| self.validators.get(i.checked_rem(n)?))
                .map(|v| FixedBytes(v.pubkey))
                .collect(),
            aggregate_pubkey: FixedBytes::ZERO,
        };
        let mut payload = ExecutionPayloadHeader {
            parent_hash: el.parent_hash,
            block_number: el.number,
            timestamp: el.timestamp,
            block_hash: el.hash,
            gas_limit: 30_000_000,
            ..ExecutionPayloadHeader::default()
        };
        payload.base_fee_per_gas = U256::from(1_000_000_000u64);
        BeaconState {
            genesis_time: self.genesis_time,
            genesis_validators_root: self.genesis_validators_root,
            slot,
            fork: Fork {
                previous_version: FULU_FORK_VERSION,
                current_version: FULU_FORK_VERSION,
                epoch: 0,
            },
            latest_block_header: ssz::BeaconBlockHeader {
                slot,
                proposer_index: proposer_index(slot, self.validator_count),
                parent_root,
                state_root: B256::ZERO,
                body_root: el.hash,
            },
            block_roots: vec![B256::ZERO; p.slots_per_historical_root],
            state_roots: vec![B256::ZERO; p.slots_per_historical_root],
            validators: self.validators.clone(),
            balances: vec![32_000_000_000; n],
            randao_mixes: vec![B256::ZERO; p.epochs_per_historical_vector],
            slashings: vec![0; p.epochs_per_slashings_vector],
            previous_epoch_participation: vec![0; n],
            current_epoch_participation: vec![0; n],
            inactivity_scores: vec![0; n],
            current_sync_committee: committee.clone(),
            next_sync_committee: committee,
            latest_execution_payload_header: payload,
            earliest_exit_epoch: slot.checked_div(spe).unwrap_or(0),
            earliest_consolidation_epoch: slot.checked_div(spe).unwrap_or(0),
            proposer_lookahead: self.lookahead(slot),
            ..BeaconState::default()
        }
    }

    /// The post-state of an indexed block.
    fn state_of(&self, b: &SlotBlock) -> BeaconState {
        let el = StaticBlock {
            slot: b.slot,
            number: b.el_number,
            hash: b.el_hash,
            parent_hash: b.el_parent,
            timestamp: b.el_timestamp,
            blobs: Vec::new(),
        };
        self.state(b.slot, b.parent_root, &el)
    }

    /// The root of [`Self::state`].
    fn root(&self, slot: u64, parent_root: B256, el: &StaticBlock) -> B256 {
        // The state is built to the configured sizes, so `root` cannot fail; zero if it did.
        self.state(slot, parent_root, el).root(&self.params).unwrap_or_default()
    }
}

/// The fork version the devnet's states carry (Fulu's on mainnet).
const FULU_FORK_VERSION: [u8; 4] = [6, 0, 0, 0];

/// The devnet's state sizes: the minimal preset with the devnet's epoch length.
pub const fn dev_state_params(slots_per_epoch: usize) -> StateParams {
    let minimal = StateParams::minimal();
    StateParams { slots_per_epoch, ..minimal }
}

/// `genesis_validators_root` of the devnet (also served by `/eth/v1/beacon/genesis`).
fn genesis_validators_root(seed: B256) -> B256 {
    B256::from(<[u8; 32]>::from(Sha256::digest(seed)))
}

/// Installs the EIP-4788 contract's code on anvil (if its address has none).
async fn install_beacon_roots(provider: &RootProvider) -> Result<(), String> {
    let code = provider.get_code_at(BEACON_ROOTS_ADDRESS).await.map_err(|e| e.to_string())?;
    if !code.is_empty() {
        return Ok(());
    }
    let _: serde_json::Value = provider
        .raw_request("anvil_setCode".into(), (BEACON_ROOTS_ADDRESS, BEACON_ROOTS_CODE.clone()))
        .await
        .map_err(|e| format!("anvil_setCode (EIP-4788 contract): {e}"))?;
    info!(target: TARGET, address = %BEACON_ROOTS_ADDRESS, "EIP-4788 beacon roots contract installed on the L1");
    Ok(())
}

/// Writes `root` as the parent beacon block root of the execution block with `timestamp` into the
/// EIP-4788 ring buffer (`timestamp % 8191` holds the timestamp, `+ 8191` the root).
async fn write_beacon_root(
    provider: &RootProvider,
    timestamp: u64,
    root: B256,
) -> Result<(), String> {
    let key = timestamp % BEACON_ROOTS_HISTORY;
    let slots = [
        (U256::from(key), B256::from(U256::from(timestamp))),
        (U256::from(key.saturating_add(BEACON_ROOTS_HISTORY)), root),
    ];
    for (slot, value) in slots {
        let _: serde_json::Value = provider
            .raw_request("anvil_setStorageAt".into(), (BEACON_ROOTS_ADDRESS, slot, value))
            .await
            .map_err(|e| format!("anvil_setStorageAt (EIP-4788): {e}"))?;
    }
    Ok(())
}

/// The input key material of devnet validator `index`: `sha256(seed || index as u64 LE)`; its
/// secret key is EIP-2333 `KeyGen(ikm)` with empty key info (devnet-only keys: public).
pub fn validator_ikm(seed: B256, index: u64) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(seed);
    hasher.update(index.to_le_bytes());
    hasher.finalize().into()
}

/// The BLS public key of devnet validator `index` derived from `seed` (see the module docs).
pub fn validator_pubkey(seed: B256, index: u64) -> Option<[u8; 48]> {
    let ikm = validator_ikm(seed, index);
    let sk = blst::min_pk::SecretKey::key_gen(&ikm, &[]).ok()?;
    Some(sk.sk_to_pk().compress())
}

/// The proposer of `slot` among `validator_count` validators: `slot % validator_count`.
pub const fn proposer_index(slot: u64, validator_count: u64) -> u64 {
    if validator_count == 0 { 0 } else { slot % validator_count }
}

/// SSZ `hash_tree_root` of a `BeaconBlockHeader`.
pub fn header_root(
    slot: u64,
    proposer_index: u64,
    parent_root: B256,
    state_root: B256,
    body_root: B256,
) -> B256 {
    ssz::BeaconBlockHeader { slot, proposer_index, parent_root, state_root, body_root }.root()
}

fn make_block(
    cfg: &DevBeaconConfig,
    slot: u64,
    parent_root: B256,
    state_root: B256,
    b: &StaticBlock,
) -> SlotBlock {
    let proposer = proposer_index(slot, cfg.validator_count);
    SlotBlock {
        slot,
        root: header_root(slot, proposer, parent_root, state_root, b.hash),
        parent_root,
        proposer_index: proposer,
        state_root,
        el_number: b.number,
        el_hash: b.hash,
        el_parent: b.parent_hash,
        el_timestamp: b.timestamp,
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let shared = shared.clone();
                    conns.spawn(async move {
                        let svc = service_fn(move |req| {
                            let shared = shared.clone();
                            async move { Ok::<_, Infallible>(shared.handle(req).await) }
                        });
                        if let Err(error) =
                            http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await
                        {
                            debug!(target: TARGET, %error, "connection ended");
                        }
                    });
                }
                Err(error) => {
                    warn!(target: TARGET, %error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// A handler's answer: status and JSON body.
type Answer = (StatusCode, Value);

fn error(status: StatusCode, message: impl std::fmt::Display) -> Answer {
    (status, json!({ "code": status.as_u16(), "message": message.to_string() }))
}

fn not_found(what: impl std::fmt::Display) -> Answer {
    error(StatusCode::NOT_FOUND, format!("NOT_FOUND: {what}"))
}

fn quoted(n: u64) -> Value {
    Value::String(n.to_string())
}

fn hex_bytes(b: &[u8]) -> Value {
    Value::String(hex::encode_prefixed(b))
}

/// Parsed `block_id`.
enum BlockId {
    Head,
    Genesis,
    Finalized,
    Slot(u64),
    Root(B256),
}

fn parse_block_id(id: &str) -> Option<BlockId> {
    match id {
        "head" => Some(BlockId::Head),
        "genesis" => Some(BlockId::Genesis),
        "finalized" | "justified" => Some(BlockId::Finalized),
        _ if id.starts_with("0x") => {
            (id.len() == 66).then(|| id.parse::<B256>().ok().map(BlockId::Root)).flatten()
        }
        _ if !id.is_empty() && id.bytes().all(|c| c.is_ascii_digit()) => {
            id.parse().ok().map(BlockId::Slot)
        }
        _ => None,
    }
}

/// A JSON answer.
fn json_response(status: StatusCode, body: &Value) -> Response<Full<hyper::body::Bytes>> {
    let mut response = Response::new(Full::new(hyper::body::Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// Whether an `Accept` header admits SSZ: absent, `*/*`, `application/*` or
/// `application/octet-stream` among its media ranges (parameters such as `q` ignored).
fn accepts_ssz(accept: &str) -> bool {
    accept.trim().is_empty()
        || accept.split(',').any(|range| {
            let media = range.split(';').next().unwrap_or("").trim();
            matches!(media, "*/*" | "application/*" | "application/octet-stream")
        })
}

/// Decodes `%XX` escapes and `+` of a query component.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        let decoded = (c == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(if c == b'+' { b' ' } else { c });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Values of a (possibly repeated, possibly comma-separated) query parameter.
fn query_list(query: Option<&str>, key: &str) -> Option<Vec<String>> {
    let query = query?;
    let mut values = Vec::new();
    let mut seen = false;
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if percent_decode(k) == key {
            seen = true;
            values
                .extend(percent_decode(v).split(',').filter(|s| !s.is_empty()).map(str::to_owned));
        }
    }
    seen.then_some(values)
}

impl Shared {
    fn new(
        cfg: DevBeaconConfig,
        genesis_time: u64,
        backend: Backend,
        index: Index,
    ) -> Result<Self, DevBeaconError> {
        if cfg.seconds_per_slot == 0 || cfg.slots_per_epoch == 0 || cfg.validator_count == 0 {
            return Err(DevBeaconError::Config(
                "seconds_per_slot, slots_per_epoch and validator_count must be positive".into(),
            ));
        }
        let states = DevStates::new(&cfg, genesis_time)?;
        Ok(Self {
            cfg,
            genesis_time,
            states,
            duty_shift: AtomicU64::new(0),
            backend,
            index: Mutex::new(index),
            blob_cache: StdMutex::new((HashMap::new(), VecDeque::new())),
            hits: StdMutex::new(HashMap::new()),
        })
    }

    /// Brings the index up to the execution client's canonical chain (follow mode).
    async fn refresh(&self) {
        let Backend::Follow { provider, .. } = &self.backend else { return };
        let mut index = self.index.lock().await;
        if let Err(error) = self.refresh_locked(provider, &mut index).await {
            debug!(target: TARGET, %error, "refresh from L1 failed; serving the last known chain");
        }
    }

    async fn refresh_locked(
        &self,
        provider: &RootProvider,
        index: &mut Index,
    ) -> Result<(), String> {
        fn rpc(e: impl std::fmt::Display) -> String {
            e.to_string()
        }
        let latest = provider.get_block_number().await.map_err(rpc)?;
        // Drop the blocks anvil no longer has on its canonical chain (reorg, `evm_revert`).
        while let Some(tip) = index.blocks.last() {
            let number = tip.el_number;
            let canonical = provider
                .get_block_by_number(BlockNumberOrTag::Number(number))
                .await
                .map_err(rpc)?
                .map(|b| b.header.hash);
            if canonical == Some(tip.el_hash) {
                break;
            }
            debug!(target: TARGET, number, slot = tip.slot, "L1 block orphaned; dropping its beacon block");
            index.pop();
        }
        let mut next = index.blocks.last().map_or(0, |b| b.el_number.saturating_add(1));
        let end = latest.min(next.saturating_add(MAX_INDEX_PER_REFRESH - 1));
        while next <= end {
            let Some(block) =
                provider.get_block_by_number(BlockNumberOrTag::Number(next)).await.map_err(rpc)?
            else {
                break;
            };
            let header = &block.header;
            let parent = index.blocks.last();
            if parent.is_some_and(|p| p.el_hash != header.parent_hash) {
                // Reorg while indexing; the next refresh drops the orphaned blocks.
                break;
            }
            let timestamp_slot =
                header.timestamp.saturating_sub(self.genesis_time) / self.cfg.seconds_per_slot;
            let slot = parent.map_or(0, |p| timestamp_slot.max(p.slot.saturating_add(1)));
            let parent_root = parent.map_or(B256::ZERO, |p| p.root);
            if self.cfg.beacon_roots && parent.is_some() {
                write_beacon_root(provider, header.timestamp, parent_root).await?;
            }
            let el = StaticBlock {
                slot,
                number: header.number,
                hash: header.hash,
                parent_hash: header.parent_hash,
                timestamp: header.timestamp,
                blobs: Vec::new(),
            };
            let state_root = self.states.root(slot, parent_root, &el);
            index.push(make_block(&self.cfg, slot, parent_root, state_root, &el));
            next = next.saturating_add(1);
        }
        if let Ok(Some(finalized)) = provider.get_block_by_number(BlockNumberOrTag::Finalized).await
            && let Some(b) =
                usize::try_from(finalized.header.number).ok().and_then(|i| index.blocks.get(i))
            && b.el_hash == finalized.header.hash
        {
            index.finalized_slot = b.slot;
        }
        Ok(())
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<hyper::body::Bytes>> {
        let path = req.uri().path().to_string();
        let query = req.uri().query().map(str::to_owned);
        if req.method() == Method::GET
            && let Some(id) = path.strip_prefix("/eth/v2/debug/beacon/states/")
        {
            self.hit("states");
            let accept = req.headers().get(hyper::header::ACCEPT).and_then(|v| v.to_str().ok());
            return self.debug_state(id, accept.unwrap_or("")).await;
        }
        let (status, body, version) = if req.method() != Method::GET {
            let (s, b) = error(StatusCode::METHOD_NOT_ALLOWED, "only GET is served");
            (s, b, false)
        } else {
            self.route(&path, query.as_deref()).await
        };
        debug!(target: TARGET, %path, status = status.as_u16(), "request");
        let mut response = json_response(status, &body);
        if version {
            response
                .headers_mut()
                .insert("eth-consensus-version", hyper::header::HeaderValue::from_static(FULU));
        }
        response
    }

    /// `GET /eth/v2/debug/beacon/states/{state_id}`: the post-state of a block in SSZ (for any
    /// `Accept` admitting it; JSON alone is not served: 406). State ids as real clients
    /// take them: `head`, `genesis`, `finalized`, `justified`, a slot (404 if the slot has no
    /// block: the devnet does not advance states through empty slots) or a `0x` state root.
    async fn debug_state(&self, id: &str, accept: &str) -> Response<Full<hyper::body::Bytes>> {
        let json_answer = |(status, body): Answer| json_response(status, &body);
        let Some(parsed) = parse_block_id(id) else {
            return json_answer(error(StatusCode::BAD_REQUEST, format!("Invalid state ID: {id}")));
        };
        if !accepts_ssz(accept) {
            return json_answer(error(
                StatusCode::NOT_ACCEPTABLE,
                "the devnet beacon serves states in SSZ only (Accept: application/octet-stream)",
            ));
        }
        self.refresh().await;
        let block = self.index.lock().await.find(parsed, true).cloned();
        let Some(block) = block else {
            return json_answer(not_found(format!("state {id}")));
        };
        let bytes = match self.states.state_of(&block).to_ssz_bytes(&self.states.params) {
            Ok(bytes) => bytes,
            Err(e) => return json_answer(error(StatusCode::INTERNAL_SERVER_ERROR, e)),
        };
        let mut response = Response::new(Full::new(hyper::body::Bytes::from(bytes)));
        let headers = response.headers_mut();
        headers.insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/octet-stream"),
        );
        headers.insert("eth-consensus-version", hyper::header::HeaderValue::from_static(FULU));
        response
    }

    fn hit(&self, kind: &'static str) {
        if let Ok(mut h) = self.hits.lock() {
            *h.entry(kind).or_default() += 1;
        }
    }

    async fn route(&self, path: &str, query: Option<&str>) -> (StatusCode, Value, bool) {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (status, body) = match segments.as_slice() {
            ["eth", "v1", "beacon", "genesis"] => {
                self.hit("genesis");
                (StatusCode::OK, self.genesis())
            }
            ["eth", "v1", "config", "spec"] => {
                self.hit("spec");
                (StatusCode::OK, self.spec())
            }
            ["eth", "v1", "node", "syncing"] => {
                self.refresh().await;
                let head = self.index.lock().await.head_slot();
                (
                    StatusCode::OK,
                    json!({ "data": {
                    "head_slot": quoted(head), "sync_distance": "0", "is_syncing": false,
                    "is_optimistic": false, "el_offline": false } }),
                )
            }
            ["eth", "v1", "beacon", "headers", id] => {
                self.hit("headers");
                self.header(id).await
            }
            ["eth", "v2", "beacon", "blocks", id] => {
                self.hit("blocks");
                let (s, b) = self.block(id).await;
                return (s, b, s == StatusCode::OK);
            }
            ["eth", "v1", "beacon", "blob_sidecars", id] => {
                self.hit("blob_sidecars");
                if self.cfg.serve_blob_sidecars {
                    let indices = query_list(query, "indices");
                    self.sidecars(id, indices).await
                } else {
                    error(
                        StatusCode::GONE,
                        "This endpoint is deprecated. Use `GET /eth/v1/beacon/blobs/{block_id}` instead.",
                    )
                }
            }
            ["eth", "v1", "beacon", "blobs", id] => {
                self.hit("blobs");
                self.blobs(id, query_list(query, "versioned_hashes")).await
            }
            ["eth", "v1", "validator", "duties", "proposer", epoch] => {
                self.hit("duties");
                self.duties(epoch).await
            }
            _ => not_found(format!("route {path}")),
        };
        (status, body, false)
    }

    fn genesis(&self) -> Value {
        json!({ "data": {
            "genesis_time": quoted(self.genesis_time),
            "genesis_validators_root": self.states.genesis_validators_root,
            "genesis_fork_version": "0x00000000",
        } })
    }

    fn spec(&self) -> Value {
        let retention_epochs = self
            .cfg
            .blob_retention_slots
            .map_or(u64::MAX, |s| s.div_ceil(self.cfg.slots_per_epoch));
        let mut data = serde_json::Map::new();
        for (key, value) in self.states.params.spec_entries() {
            data.insert(key.to_string(), Value::String(value));
        }
        for (key, value) in [
            ("CONFIG_NAME", "based-devnet".to_string()),
            ("PRESET_BASE", "minimal".to_string()),
            ("SECONDS_PER_SLOT", self.cfg.seconds_per_slot.to_string()),
            ("MIN_EPOCHS_FOR_BLOB_SIDECARS_REQUESTS", retention_epochs.to_string()),
        ] {
            data.insert(key.to_string(), Value::String(value));
        }
        json!({ "data": data })
    }

    /// Resolves a block id against the refreshed index: `Ok(None)` is 404, `Err` is 400.
    async fn resolve(&self, id: &str) -> Result<Option<(SlotBlock, bool, u64)>, Answer> {
        let parsed = parse_block_id(id)
            .ok_or_else(|| error(StatusCode::BAD_REQUEST, format!("Invalid block ID: {id}")))?;
        self.refresh().await;
        let index = self.index.lock().await;
        let block = index.find(parsed, false);
        Ok(block.map(|b| (b.clone(), b.slot <= index.finalized_slot, index.head_slot())))
    }

    fn header_json(&self, b: &SlotBlock) -> Value {
        json!({
            "message": {
                "slot": quoted(b.slot),
                "proposer_index": quoted(b.proposer_index),
                "parent_root": b.parent_root,
                "state_root": b.state_root,
                "body_root": b.el_hash,
            },
            "signature": hex_bytes(&[0u8; 96]),
        })
    }

    async fn header(&self, id: &str) -> Answer {
        match self.resolve(id).await {
            Err(answer) => answer,
            Ok(None) => not_found(format!("beacon block {id}")),
            Ok(Some((b, finalized, _))) => (
                StatusCode::OK,
                json!({
                    "execution_optimistic": false,
                    "finalized": finalized,
                    "data": { "root": b.root, "canonical": true, "header": self.header_json(&b) },
                }),
            ),
        }
    }

    async fn block(&self, id: &str) -> Answer {
        match self.resolve(id).await {
            Err(answer) => answer,
            Ok(None) => not_found(format!("beacon block {id}")),
            Ok(Some((b, finalized, _))) => (
                StatusCode::OK,
                json!({
                    "version": FULU,
                    "execution_optimistic": false,
                    "finalized": finalized,
                    "data": {
                        "message": {
                            "slot": quoted(b.slot),
                            "proposer_index": quoted(b.proposer_index),
                            "parent_root": b.parent_root,
                            "state_root": b.state_root,
                            "body": { "execution_payload": {
                                "parent_hash": b.el_parent,
                                "block_hash": b.el_hash,
                                "block_number": quoted(b.el_number),
                                "timestamp": quoted(b.el_timestamp),
                            } },
                        },
                        "signature": hex_bytes(&[0u8; 96]),
                    },
                }),
            ),
        }
    }

    /// The block's blobs (404 answers for unknown or pruned blocks).
    async fn blob_entries(
        &self,
        id: &str,
    ) -> Result<(SlotBlock, bool, Arc<Vec<BlobEntry>>), Answer> {
        let (b, finalized, head) = match self.resolve(id).await? {
            Some(found) => found,
            None => return Err(not_found(format!("beacon block {id}"))),
        };
        if let Some(retention) = self.cfg.blob_retention_slots
            && head > b.slot.saturating_add(retention)
        {
            return Err(not_found(format!(
                "blobs of slot {} pruned (retention {retention} slots, head {head})",
                b.slot
            )));
        }
        let entries = self.entries_for(b.el_hash).await.map_err(|e| {
            error(StatusCode::INTERNAL_SERVER_ERROR, format!("reading blobs from L1: {e}"))
        })?;
        Ok((b, finalized, entries))
    }

    async fn entries_for(&self, el_hash: B256) -> Result<Arc<Vec<BlobEntry>>, String> {
        if let Some(hit) = self.blob_cache.lock().ok().and_then(|c| c.0.get(&el_hash).cloned()) {
            return Ok(hit);
        }
        let blobs: Vec<Arc<Blob>> = match &self.backend {
            Backend::Static { blobs } => blobs.get(&el_hash).cloned().unwrap_or_default(),
            Backend::Follow { blob_base, http, .. } => {
                fetch_el_blobs(http, blob_base, el_hash).await?
            }
        };
        let entries = tokio::task::spawn_blocking(move || {
            let settings = c_kzg::ethereum_kzg_settings(0);
            let mut out = Vec::with_capacity(blobs.len());
            for blob in blobs {
                let kzg_blob =
                    c_kzg::Blob::from_bytes(blob.as_slice()).map_err(|e| format!("{e:?}"))?;
                let commitment = settings
                    .blob_to_kzg_commitment(&kzg_blob)
                    .map_err(|e| format!("{e:?}"))?
                    .to_bytes();
                let proof = settings
                    .compute_blob_kzg_proof(&kzg_blob, &commitment)
                    .map_err(|e| format!("{e:?}"))?
                    .to_bytes();
                let mut c = [0u8; 48];
                c.copy_from_slice(commitment.as_slice());
                let mut p = [0u8; 48];
                p.copy_from_slice(proof.as_slice());
                out.push(BlobEntry {
                    blob,
                    commitment: c,
                    proof: p,
                    versioned_hash: kzg_to_versioned_hash(&c),
                });
            }
            Ok::<_, String>(out)
        })
        .await
        .map_err(|e| e.to_string())??;
        let entries = Arc::new(entries);
        // Empty answers are not cached (cheap to ask again, and never stale).
        if !entries.is_empty()
            && let Ok(mut cache) = self.blob_cache.lock()
        {
            let (map, order) = &mut *cache;
            if map.insert(el_hash, entries.clone()).is_none() {
                order.push_back(el_hash);
            }
            while order.len() > BLOB_CACHE {
                if let Some(old) = order.pop_front() {
                    map.remove(&old);
                }
            }
        }
        Ok(entries)
    }

    async fn sidecars(&self, id: &str, indices: Option<Vec<String>>) -> Answer {
        let (b, finalized, entries) = match self.blob_entries(id).await {
            Ok(found) => found,
            Err(answer) => return answer,
        };
        let wanted: Option<BTreeSet<u64>> = match indices {
            None => None,
            Some(list) => match list.iter().map(|s| s.parse::<u64>()).collect() {
                Ok(set) => Some(set),
                Err(_) => return error(StatusCode::BAD_REQUEST, "Invalid indices"),
            },
        };
        let header = self.header_json(&b);
        let zero_proof: Vec<Value> = (0..17).map(|_| Value::from(B256::ZERO.to_string())).collect();
        let data: Vec<Value> = entries
            .iter()
            .enumerate()
            .filter(|(i, _)| wanted.as_ref().is_none_or(|w| w.contains(&(*i as u64))))
            .map(|(i, e)| {
                json!({
                    "index": quoted(i as u64),
                    "blob": hex_bytes(e.blob.as_slice()),
                    "kzg_commitment": hex_bytes(&e.commitment),
                    "kzg_proof": hex_bytes(&e.proof),
                    "signed_block_header": header,
                    "kzg_commitment_inclusion_proof": zero_proof,
                })
            })
            .collect();
        (
            StatusCode::OK,
            json!({ "version": FULU, "execution_optimistic": false, "finalized": finalized, "data": data }),
        )
    }

    async fn blobs(&self, id: &str, versioned_hashes: Option<Vec<String>>) -> Answer {
        let wanted: Option<BTreeSet<B256>> = match versioned_hashes {
            None => None,
            Some(list) => match list.iter().map(|s| s.parse::<B256>()).collect() {
                Ok(set) => Some(set),
                Err(_) => return error(StatusCode::BAD_REQUEST, "Invalid versioned_hashes"),
            },
        };
        let (_, finalized, entries) = match self.blob_entries(id).await {
            Ok(found) => found,
            Err(answer) => return answer,
        };
        let data: Vec<Value> = entries
            .iter()
            .filter(|e| wanted.as_ref().is_none_or(|w| w.contains(&e.versioned_hash)))
            .map(|e| hex_bytes(e.blob.as_slice()))
            .collect();
        (
            StatusCode::OK,
            json!({ "execution_optimistic": false, "finalized": finalized, "data": data }),
        )
    }

    async fn duties(&self, epoch: &str) -> Answer {
        let Ok(epoch) = epoch.parse::<u64>() else {
            return error(StatusCode::BAD_REQUEST, format!("Invalid epoch: {epoch}"));
        };
        self.refresh().await;
        let index = self.index.lock().await;
        let spe = self.cfg.slots_per_epoch;
        let wall_slot = match self.backend {
            Backend::Follow { .. } => {
                now().saturating_sub(self.genesis_time) / self.cfg.seconds_per_slot
            }
            Backend::Static { .. } => 0,
        };
        let current = wall_slot.max(index.head_slot()) / spe;
        if epoch != current && epoch != current.saturating_add(1) {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "Proposer duties are served for the current epoch {current} and the next only, not {epoch}"
                ),
            );
        }
        let start = epoch.saturating_mul(spe);
        let dependent_root = start
            .checked_sub(spe.saturating_add(1))
            .and_then(|s| index.at_or_before(s))
            .or(index.blocks.first())
            .map_or(B256::ZERO, |b| b.root);
        let shift = self.duty_shift.load(Ordering::SeqCst);
        let data: Vec<Value> = (start..start.saturating_add(spe))
            .map(|slot| {
                let v = proposer_index(slot.saturating_add(shift), self.cfg.validator_count);
                let pubkey = usize::try_from(v)
                    .ok()
                    .and_then(|i| self.states.validators.get(i))
                    .map(|v| &v.pubkey);
                json!({
                    "pubkey": hex_bytes(pubkey.map_or(&[0u8; 48][..], |p| &p[..])),
                    "validator_index": quoted(v),
                    "slot": quoted(slot),
                })
            })
            .collect();
        (
            StatusCode::OK,
            json!({ "dependent_root": dependent_root, "execution_optimistic": false, "data": data }),
        )
    }
}

/// Blobs of execution block `hash` from anvil's lenient endpoint (`/eth/v1/beacon/blobs/{hash}`).
async fn fetch_el_blobs(
    http: &reqwest::Client,
    base: &Url,
    hash: B256,
) -> Result<Vec<Arc<Blob>>, String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        data: Vec<Bytes>,
    }
    let url = base.join(&format!("eth/v1/beacon/blobs/{hash}")).map_err(|e| e.to_string())?;
    let response = http.get(url).send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if body.len() > MAX_BLOB_RESPONSE_BYTES {
        return Err("response too large".into());
    }
    let answer: Answer = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    answer
        .data
        .into_iter()
        .map(|b| Blob::try_from(b.as_ref()).map(Arc::new).map_err(|_| "blob length".to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The devnet's states are Fulu states of its sizes whose branches prove the true proposer of
    /// every slot of the block's epoch and the next, and its key; roots differ per block.
    #[test]
    fn dev_states_are_provable() {
        let cfg = DevBeaconConfig { slots_per_epoch: 4, validator_count: 16, ..Default::default() };
        let states = DevStates::new(&cfg, 1_000).unwrap();
        let el = |hash: u8| StaticBlock {
            slot: 0,
            number: 9,
            hash: B256::repeat_byte(hash),
            parent_hash: B256::repeat_byte(1),
            timestamp: 1_050,
            blobs: Vec::new(),
        };
        let parent = B256::repeat_byte(3);
        for slot in [0u64, 5, 13] {
            let state = states.state(slot, parent, &el(7));
            let root = states.root(slot, parent, &el(7));
            assert_ne!(root, states.root(slot, parent, &el(8)));
            assert_ne!(root, states.root(slot, B256::ZERO, &el(7)));
            // What is served decodes to the same state and root.
            let bytes = state.to_ssz_bytes(&states.params).unwrap();
            let decoded = BeaconState::from_ssz_bytes(&bytes, &states.params).unwrap();
            assert_eq!(decoded, state);
            let prover = decoded.into_prover(&states.params).unwrap();
            assert_eq!(prover.state_root(), root);
            let first = slot / 4 * 4;
            for position in 0..8u64 {
                let proof = prover.lookahead_proof(position).unwrap();
                assert_eq!(proof.validator_index, proposer_index(first + position, 16));
                assert!(ssz::verify_branch(
                    root,
                    proof.chunk,
                    ssz::proposer_lookahead_gindex(4, position),
                    &proof.branch
                ));
                let key = prover.pubkey_proof(proof.validator_index).unwrap();
                assert_eq!(
                    Some(key.pubkey),
                    validator_pubkey(cfg.validator_seed, proof.validator_index)
                );
            }
        }
    }

    #[test]
    fn accept_headers() {
        for yes in ["", "*/*", "application/octet-stream", "application/json;q=0.9, */*;q=0.1"] {
            assert!(accepts_ssz(yes), "{yes}");
        }
        for no in ["application/json", "text/html, application/json;q=0.5"] {
            assert!(!accepts_ssz(no), "{no}");
        }
    }

    #[test]
    fn block_ids() {
        assert!(matches!(parse_block_id("head"), Some(BlockId::Head)));
        assert!(matches!(parse_block_id("finalized"), Some(BlockId::Finalized)));
        assert!(matches!(parse_block_id("42"), Some(BlockId::Slot(42))));
        assert!(matches!(parse_block_id(&B256::ZERO.to_string()), Some(BlockId::Root(_))));
        for bad in ["", "latest", "-1", "0x12", "1e3", "99999999999999999999999"] {
            assert!(parse_block_id(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn query_lists() {
        let q = Some("versioned_hashes=0xaa%2C0xbb&versioned_hashes=0xcc&other=1");
        assert_eq!(query_list(q, "versioned_hashes").unwrap(), vec!["0xaa", "0xbb", "0xcc"]);
        assert_eq!(query_list(q, "indices"), None);
        assert_eq!(query_list(Some("indices="), "indices"), Some(vec![]));
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn roots_and_validators_are_deterministic() {
        let r = header_root(1, 1, B256::ZERO, B256::ZERO, B256::repeat_byte(1));
        assert_eq!(r, header_root(1, 1, B256::ZERO, B256::ZERO, B256::repeat_byte(1)));
        assert_ne!(r, header_root(2, 1, B256::ZERO, B256::ZERO, B256::repeat_byte(1)));
        let seed = DevBeaconConfig::default().validator_seed;
        assert_eq!(validator_pubkey(seed, 3), validator_pubkey(seed, 3));
        assert_ne!(validator_pubkey(seed, 3), validator_pubkey(seed, 4));
        assert_eq!(proposer_index(70, 64), 6);
        assert_eq!(proposer_index(70, 0), 0);
    }
}
