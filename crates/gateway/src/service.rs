//! The gateway's decision logic: admit an inclusion request, sign the promise, make it durable,
//! hand the transaction on for posting. Transport-free (the JSON-RPC and REST servers in
//! [`crate::server`] call it), so every rule is unit-tested without a network.
//!
//! Admission of an inclusion request (commitment type 1, `payload = abi.encode((slot, signed_tx))`),
//! in this order; the first failing rule answers with its [`GatewayError`] and **no** commitment:
//!
//! 1. an identical request (same `request_hash`) already promised: the stored signed commitment;
//! 2. type 1, the configured slasher, a canonical payload, a decodable signed transaction of at
//!    most `max_tx_bytes`, not a blob transaction, a recoverable signature, this chain's id;
//! 3. the slot is one of the next `max_slots_ahead` L1 slots (not the current one: its L1 block
//!    is built at the slot's start, so a batch posted now lands in a later slot), and this
//!    gateway's committer is its preconfer ([`Schedule`]);
//! 4. no other transaction or slot is promised for the sender and nonce (a conflict, never a
//!    second promise);
//! 5. the slot has room: at most `max_txs_per_slot` promises and `max_gas_per_slot` gas (sum of
//!    gas limits);
//! 6. the L2 node **executes** the transaction on top of its pending block (the preconfirmed
//!    transactions on its head, `based_preconfirm`, [`PendingNode`]) and appends it: nonce exactly
//!    the sender's next pending one, balance for `gas_limit * max_fee_per_gas + value`, gas left
//!    in the pending block, every other validity rule of execution;
//! 7. sign `keccak256(abi.encode(commitment))` ([`CommitSigner`]: an in-process key or a remote
//!    signer), append to the log under the conflict key `sender ‖ nonce` with value
//!    `keccak256(tx_hash ‖ slot)`: the log refuses a different transaction or slot for a nonce
//!    already promised, also across restarts; if signing fails, or the log refuses or fails, the
//!    transaction is dropped from the node's pending block again and no commitment is made;
//! 8. answer only once the log's group commit made the record durable — and the node's pending
//!    state holds the transaction, so a `pending` read made after the answer sees it.
//!
//! Before rule 1, a request beyond the `max_in_flight` admissions already in progress is refused
//! at once with the capacity error ([`GatewayError::Busy`], -32012 / HTTP 429) instead of
//! queueing: under overload the excess is refused and the admitted keep their latency.
//!
//! The gateway keeps its outstanding promises (recent slots, not yet on L2) in order and pushes
//! them to the node again when the node's session changes (a node restart empties its pending
//! block): on start ([`Gateway::resend_recovered`]), on a periodic check
//! ([`Gateway::check_node`]) and when the node refuses a nonce.

use crate::{AppendOutcome, CommitSigner, CommitmentLog, LogEntry, LogError, Recovered};
use alloy_consensus::Transaction;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use based_commitments::{
    Commitment, CommitmentRequest, INCLUSION_COMMITMENT_TYPE, InclusionPayload, InclusionTx,
    SignedCommitment,
};
use based_lookahead::SlotClock;
use based_rpc::{Preconfirmation, preconf_codes};
use serde::{Deserialize, Serialize};
use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    future::Future,
    sync::{Arc, Mutex},
    time::Instant,
};

/// JSON-RPC error codes of the gateway (docs/protocol.md, preconfirmations chapter).
pub mod codes {
    /// Malformed request: bad JSON, ABI, RLP, signature, size, unknown type or slasher.
    pub const INVALID_PARAMS: i32 = -32602;
    /// Internal error (the log failed; the gateway stops promising).
    pub const INTERNAL: i32 = -32603;
    /// The slot is in the past or too far ahead.
    pub const WRONG_SLOT: i32 = -32010;
    /// This gateway's committer is not the slot's preconfer.
    pub const NOT_PRECONFER: i32 = -32011;
    /// The slot has no room left (count or gas).
    pub const CAPACITY: i32 = -32012;
    /// The nonce is below the account's or leaves a gap.
    pub const NONCE: i32 = -32013;
    /// The balance does not cover the transaction and the sender's outstanding promises.
    pub const FUNDS: i32 = -32014;
    /// Another transaction (or slot) is already promised for this sender and nonce.
    pub const CONFLICT: i32 = -32015;
    /// Wrong chain id.
    pub const CHAIN_ID: i32 = -32016;
    /// No commitment for the hash.
    pub const NOT_FOUND: i32 = -32001;
}

/// Why a request got no commitment.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Malformed request.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The transaction's chain id is not this chain's.
    #[error("wrong chain id {got:?}, expected {expected}")]
    ChainId {
        /// The transaction's chain id.
        got: Option<u64>,
        /// This chain's id.
        expected: u64,
    },
    /// Slot outside the window the gateway promises for.
    #[error("slot {slot} is outside [{current}, {last}]")]
    WrongSlot {
        /// Requested slot.
        slot: u64,
        /// Current L1 slot.
        current: u64,
        /// Last slot accepted.
        last: u64,
    },
    /// Not this gateway's slot.
    #[error("not the preconfer of slot {0}")]
    NotPreconfer(u64),
    /// The slot is full.
    #[error("slot {0} is full")]
    Capacity(u64),
    /// Already `max_in_flight` admissions in progress: refused at once, try again.
    #[error("gateway busy: {0} admissions in flight, try again")]
    Busy(usize),
    /// Nonce too low or a gap.
    #[error("nonce {got}, expected {expected}")]
    Nonce {
        /// The transaction's nonce.
        got: u64,
        /// The next nonce the gateway can promise for the sender.
        expected: u64,
    },
    /// The sender's pending balance does not cover `gas_limit * max_fee_per_gas + value`.
    #[error("insufficient funds: {0}")]
    Funds(String),
    /// Would equivocate.
    #[error("conflicts with a promise already made: {0}")]
    Conflict(String),
    /// Not found.
    #[error("no commitment for {0}")]
    NotFound(B256),
    /// The L2 state could not be read (node unreachable): temporary.
    #[error("L2 state unavailable: {0}")]
    State(String),
    /// The proposer that posts the promises is not ready or unreachable: no promise could be kept.
    #[error("posting unavailable: {0}")]
    Posting(String),
    /// Internal failure (log, signer).
    #[error("internal: {0}")]
    Internal(String),
}

impl GatewayError {
    /// The JSON-RPC error code.
    pub const fn code(&self) -> i32 {
        match self {
            Self::Invalid(_) => codes::INVALID_PARAMS,
            Self::ChainId { .. } => codes::CHAIN_ID,
            Self::WrongSlot { .. } => codes::WRONG_SLOT,
            Self::NotPreconfer(_) => codes::NOT_PRECONFER,
            Self::Capacity(_) | Self::Busy(_) => codes::CAPACITY,
            Self::Nonce { .. } => codes::NONCE,
            Self::Funds(_) => codes::FUNDS,
            Self::Conflict(_) => codes::CONFLICT,
            Self::NotFound(_) => codes::NOT_FOUND,
            Self::State(_) | Self::Posting(_) | Self::Internal(_) => codes::INTERNAL,
        }
    }

    /// The HTTP status of the REST form.
    pub const fn http_status(&self) -> u16 {
        match self {
            Self::Invalid(_) | Self::ChainId { .. } | Self::WrongSlot { .. } => 400,
            Self::Nonce { .. } | Self::Funds(_) => 400,
            Self::NotPreconfer(_) => 403,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::Capacity(_) | Self::Busy(_) => 429,
            Self::State(_) | Self::Posting(_) => 503,
            Self::Internal(_) => 500,
        }
    }
}

/// A failed call to the L2 node's preconfirmed state.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NodeError {
    /// The node answered with a JSON-RPC error (`based_preconfirm` codes,
    /// [`based_rpc::preconf_codes`]); `data` carries details (e.g. the expected nonce).
    #[error("L2 node refused ({code}): {message}")]
    Refused {
        /// JSON-RPC error code.
        code: i32,
        /// Message.
        message: String,
        /// Error data.
        data: Option<serde_json::Value>,
    },
    /// The node could not be reached or answered garbage.
    #[error("L2 node unreachable: {0}")]
    Unreachable(String),
}

/// The L2 node's preconfirmed (pending) state, as the gateway drives it (`based_preconfirm`,
/// `based_dropPreconfirmed`, `based_preconfirmStatus`; docs/protocol.md §10.5). A trait so tests
/// can fake the node.
pub trait PendingNode: Send + Sync + 'static {
    /// Executes `raw` on top of the node's pending block and appends it if valid; `deadline`
    /// (Unix seconds): when the node reports it overdue if it is not on L2.
    fn preconfirm(
        &self,
        raw: Bytes,
        slot: u64,
        deadline: Option<u64>,
    ) -> impl Future<Output = Result<Preconfirmation, NodeError>> + Send;

    /// Removes a pending transaction (its promise could not be made durable).
    fn drop_preconfirmed(
        &self,
        tx_hash: B256,
    ) -> impl Future<Output = Result<bool, NodeError>> + Send;

    /// The node's session id (a new one after a restart: its pending block is empty then).
    fn session(&self) -> impl Future<Output = Result<u64, NodeError>> + Send;
}

/// A promise for slot `s` is reported overdue by the node if its transaction is not on L2 once
/// L1 time passes the start of slot `s + OVERDUE_AFTER_SLOTS` (one mainnet epoch of grace: the
/// proposer may post the slot's batch late).
pub const OVERDUE_AFTER_SLOTS: u64 = 32;

/// Which L1 slots this gateway's committer may promise for.
pub trait Schedule: Send + Sync + 'static {
    /// Whether the committer is the preconfer of `slot`.
    fn is_preconfer(&self, slot: u64) -> bool;
}

/// Every slot (permissionless posting: whoever posts first includes; the devnet's default).
#[derive(Debug, Clone, Copy, Default)]
pub struct EverySlot;

impl Schedule for EverySlot {
    fn is_preconfer(&self, _slot: u64) -> bool {
        true
    }
}

/// Bounds on what the gateway promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Promises per slot.
    pub max_txs_per_slot: usize,
    /// Sum of promised gas limits per slot.
    pub max_gas_per_slot: u64,
    /// Largest signed transaction (bytes).
    pub max_tx_bytes: usize,
    /// Slots after the current one that may be requested.
    pub max_slots_ahead: u64,
    /// Most admissions (`commitmentRequest`, `eth_sendRawTransaction`) in progress at once; one
    /// more is refused at once with [`GatewayError::Busy`] (-32012 / 429) instead of queueing.
    /// `0`: no cap. Default [`default_max_in_flight`].
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// The least time, in ms, between a promise and the start of the slot it is for
    /// ([`Gateway::promise_lead_ms`]; docs/protocol.md §10.2 rule 3). `0`: derived from the slot
    /// clock ([`default_promise_lead_ms`]).
    #[serde(default)]
    pub promise_lead_ms: u64,
}

/// The default least time between a promise and the start of its slot: one slot (a proposal
/// already in flight lands in the next L1 block, and only then can the next one be sent) plus half
/// a slot, at least 1 s (the proposer's poll, building the batch, blob commitments and sending).
pub const fn default_promise_lead_ms(clock: &SlotClock) -> u64 {
    let slot_ms = clock.seconds_per_slot().saturating_mul(1000);
    let half = slot_ms / 2;
    slot_ms.saturating_add(if half > 1000 { half } else { 1000 })
}

/// Margin added to the proposer's measured posting latency (ms) when it sets the promise lead.
pub const MEASURED_LEAD_MARGIN_MS: u64 = 1_000;

/// What the gateway learned about its proposer's posting speed (`based_postingStatus`), in ms: it
/// raises the promise lead when posting is slower than the configured lead allows.
#[derive(Debug, Default)]
pub struct PostingLag {
    /// The largest recent posting latency (promise handed over → landing L1 block's timestamp).
    pub max_latency_ms: std::sync::atomic::AtomicU64,
    /// Age of the oldest promised transaction the proposer has not posted yet.
    pub oldest_waiting_ms: std::sync::atomic::AtomicU64,
    /// Set while the proposer is not ready to post (warming up) or does not answer: the gateway
    /// promises nothing meanwhile ([`GatewayError::Posting`]).
    pub not_ready: std::sync::atomic::AtomicBool,
}

/// Admissions in flight per CPU core by default ([`default_max_in_flight`]).
pub const MAX_IN_FLIGHT_PER_CORE: usize = 16;

/// The default cap on admissions in flight, sized for the machine: [`MAX_IN_FLIGHT_PER_CORE`] per
/// available core (32 on 2 cores; docs/benchmarks.md "Gateway over HTTP").
pub fn default_max_in_flight() -> usize {
    std::thread::available_parallelism()
        .map_or(2, std::num::NonZeroUsize::get)
        .saturating_mul(MAX_IN_FLIGHT_PER_CORE)
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_txs_per_slot: 2_000,
            max_gas_per_slot: 30_000_000,
            max_tx_bytes: 128 * 1024,
            max_slots_ahead: 64,
            max_in_flight: default_max_in_flight(),
            promise_lead_ms: 0,
        }
    }
}

/// Static configuration of a [`Gateway`].
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// L2 chain id.
    pub chain_id: u64,
    /// The slasher the gateway's promises are enforced by (requests naming another are refused).
    pub slasher: Address,
    /// L1 slot timing.
    pub clock: SlotClock,
    /// Bounds.
    pub limits: Limits,
}

/// One `slots` entry (Commitments API `SlotInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotInfo {
    /// L1 slot.
    pub slot: u64,
    /// What is offered in it.
    pub offerings: Vec<Offering>,
}

/// Commitments API `Offering`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offering {
    /// Chain the commitments are about (the L2).
    pub chain_id: u64,
    /// Commitment types offered.
    pub commitment_types: Vec<u64>,
}

/// Commitments API `SlotInfoResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotInfoResponse {
    /// Upcoming slots of this gateway.
    pub slots: Vec<SlotInfo>,
}

/// Commitments API `FeeInfo`. This gateway charges nothing beyond the transaction's own fees:
/// `payload = abi.encode(uint256 0)` (extra wei). `fee_payload` repeats it for clients of
/// eth-fabric's reference gateway, which names the field so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeInfo {
    /// Opaque fee information.
    pub payload: Bytes,
    /// The same bytes under the reference gateway's name.
    pub fee_payload: Bytes,
    /// The commitment type the fee is for.
    pub commitment_type: u64,
}

#[derive(Debug, Default, Clone, Copy)]
struct SlotUse {
    count: usize,
    gas: u64,
}

#[derive(Debug, Default)]
struct Promised {
    /// Conflict key (`sender ‖ nonce`) → promised value, for promises made or in flight.
    keys: HashMap<Bytes, B256>,
    slots: BTreeMap<u64, SlotUse>,
    /// Transaction hash → request hash of its commitment.
    by_tx: HashMap<B256, B256>,
    /// Promised transactions not known to be on L2, in the order the node accepted them: what is
    /// pushed to the node again after it restarted.
    outstanding: Vec<Promise>,
}

impl Promised {
    /// Reserves the key and the slot capacity; `false` if an identical promise is already
    /// recorded (nothing reserved).
    fn record(&mut self, itx: &InclusionTx, request_hash: B256) -> bool {
        let value = conflict_value(itx);
        if self.keys.insert(conflict_key(itx), value) == Some(value) {
            return false;
        }
        let slot = self.slots.entry(itx.slot).or_default();
        slot.count = slot.count.saturating_add(1);
        slot.gas = slot.gas.saturating_add(itx.tx.gas_limit());
        self.by_tx.insert(itx.tx_hash, request_hash);
        true
    }

    fn release(&mut self, itx: &InclusionTx) {
        self.keys.remove(&conflict_key(itx));
        self.by_tx.remove(&itx.tx_hash);
        self.outstanding.retain(|p| p.tx_hash != itx.tx_hash);
        if let Some(slot) = self.slots.get_mut(&itx.slot) {
            slot.count = slot.count.saturating_sub(1);
            slot.gas = slot.gas.saturating_sub(itx.tx.gas_limit());
        }
    }
}

/// The conflict key of an inclusion promise: `sender ‖ nonce` (28 bytes).
pub fn conflict_key(itx: &InclusionTx) -> Bytes {
    let mut key = Vec::with_capacity(28);
    key.extend_from_slice(itx.sender.as_slice());
    key.extend_from_slice(&itx.nonce.to_be_bytes());
    key.into()
}

/// The promised value for the key: `keccak256(tx_hash ‖ u64be(slot))`.
pub fn conflict_value(itx: &InclusionTx) -> B256 {
    let mut buf = [0u8; 40];
    let (hash, slot) = buf.split_at_mut(32);
    hash.copy_from_slice(itx.tx_hash.as_slice());
    slot.copy_from_slice(&itx.slot.to_be_bytes());
    keccak256(buf)
}

/// A promised transaction handed on for posting, in promise order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promise {
    /// The slot it is promised for.
    pub slot: u64,
    /// Its hash.
    pub tx_hash: B256,
    /// The signed transaction (EIP-2718).
    pub raw: Bytes,
}

/// Most commitments one page of the commitment feed holds ([`Gateway::commitments_since`]); a
/// larger `limit` is clamped to it, and it is the default.
pub const FEED_MAX_LIMIT: u64 = 1000;

/// One page of the gateway's commitment feed (`commitments_since`, docs/gateway.md "Commitment
/// feed"): the signed commitments from a sequence number on, in issue order, and the sequence
/// number of the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentFeed {
    /// The signed commitments, in the order the gateway made them durable.
    pub commitments: Vec<SignedCommitment>,
    /// The sequence number to ask for next: the requested one plus the count (or the feed's
    /// length when the request was beyond it).
    pub next: u64,
}

/// One item of the live commitment feed (`commitments_subscribe`): a signed commitment with its
/// number in the feed (ask `commitments_since(number + 1)` or subscribe from it to resume).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedItem {
    /// Its position in the feed (0-based, the order the gateway made promises durable).
    pub number: u64,
    /// The signed commitment.
    pub commitment: SignedCommitment,
}

/// How many of the latest promises [`RecentCommitments`] keeps.
pub const RECENT_COMMITMENTS: usize = 64;

/// A promise the gateway made, with its timing: what a live view (the devnet page) lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecentCommitment {
    /// The commitment's request hash.
    pub request_hash: B256,
    /// The promised transaction.
    pub tx_hash: B256,
    /// The L1 slot it is promised for.
    pub slot: u64,
    /// Its sender.
    pub sender: Address,
    /// Its nonce.
    pub nonce: u64,
    /// When the request arrived (Unix milliseconds).
    pub received_ms: u64,
    /// When the signed promise was durable in the log and released to the caller (Unix
    /// milliseconds).
    pub signed_ms: u64,
    /// From arrival to the durable signed promise (admission, execution on the node, signing,
    /// log sync), in microseconds.
    pub latency_us: u64,
}

/// The last [`RECENT_COMMITMENTS`] promises of a [`Gateway`] (new ones only: an identical request
/// answered from the log is not listed again). A cheap shared handle ([`Gateway::recent`],
/// [`crate::GatewayServer::recent`]); in memory only, empty after a restart.
#[derive(Debug, Clone, Default)]
pub struct RecentCommitments(Arc<Mutex<VecDeque<RecentCommitment>>>);

impl RecentCommitments {
    /// Records a promise, forgetting the oldest beyond [`RECENT_COMMITMENTS`].
    fn push(&self, commitment: RecentCommitment) {
        if let Ok(mut recent) = self.0.lock() {
            while recent.len() >= RECENT_COMMITMENTS {
                recent.pop_front();
            }
            recent.push_back(commitment);
        }
    }

    /// The latest `n` promises (at most [`RECENT_COMMITMENTS`]), newest first.
    pub fn latest(&self, n: usize) -> Vec<RecentCommitment> {
        self.0.lock().map(|r| r.iter().rev().take(n).cloned().collect()).unwrap_or_default()
    }
}

/// Milliseconds since the Unix epoch.
fn unix_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

/// The gateway: admission, signing, durable log, hand-off.
pub struct Gateway<N, K> {
    config: GatewayConfig,
    key: K,
    committer: Address,
    log: CommitmentLog,
    node: N,
    schedule: Arc<dyn Schedule>,
    promised: Mutex<Promised>,
    now: Arc<dyn Fn() -> u64 + Send + Sync>,
    posting: Option<tokio::sync::mpsc::UnboundedSender<Promise>>,
    /// Promises replayed from the log, until [`Gateway::resend_recovered`] hands them on.
    recovered: Mutex<Vec<Promise>>,
    /// The node session the outstanding promises were last pushed to (`None`: not yet / lost).
    node_session: Mutex<Option<u64>>,
    /// One re-push at a time.
    resync: tokio::sync::Mutex<()>,
    /// Permits for admissions in flight ([`Limits::max_in_flight`]).
    admissions: tokio::sync::Semaphore,
    /// The latest promises with their latency.
    recent: RecentCommitments,
    /// The proposer's measured posting speed.
    posting_lag: Arc<PostingLag>,
    /// Notified after every new durable promise (the commitment feed's live subscribers).
    feed_grew: Arc<tokio::sync::Notify>,
}

impl<N, K> std::fmt::Debug for Gateway<N, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("committer", &self.committer)
            .field("chain_id", &self.config.chain_id)
            .finish_non_exhaustive()
    }
}

/// Records the answer to a commitment request (`commitmentRequest` or `eth_sendRawTransaction`):
/// its latency, and the refusal's reason (the error's variant: a bounded label).
fn observe_admission<T>(started: std::time::Instant, result: &Result<T, GatewayError>) {
    use based_metrics::names;
    metrics::histogram!(names::ADMISSION_DURATION).record(started.elapsed().as_secs_f64());
    if let Err(e) = result {
        metrics::counter!(names::COMMITMENTS_REFUSED, names::LABEL_REASON => based_metrics::reason_label(e))
            .increment(1);
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

impl<N: PendingNode, K: CommitSigner> Gateway<N, K> {
    /// A gateway over an opened log (`recovered` = what [`CommitmentLog::open`] replayed, which
    /// rebuilds the promised state). `committer` is `key`'s address.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: GatewayConfig,
        key: K,
        committer: Address,
        log: CommitmentLog,
        recovered: &Recovered,
        node: N,
        schedule: Arc<dyn Schedule>,
        posting: Option<tokio::sync::mpsc::UnboundedSender<Promise>>,
    ) -> Self {
        let config_in_flight = config.limits.max_in_flight;
        let mut promised = Promised::default();
        let mut recovered_promises = Vec::new();
        for entry in &recovered.entries {
            let request = CommitmentRequest {
                commitment_type: entry.signed.commitment.commitment_type,
                payload: entry.signed.commitment.payload.clone(),
                slasher: entry.signed.commitment.slasher,
            };
            match InclusionTx::from_request(&request) {
                Ok(itx) => {
                    promised.record(&itx, entry.request_hash());
                    // Slot use is only needed for slots still promisable; the log's own index
                    // keeps every key.
                    let raw = InclusionPayload::abi_decode(&request.payload)
                        .map(|p| p.signed_tx)
                        .unwrap_or_default();
                    recovered_promises.push(Promise { slot: itx.slot, tx_hash: itx.tx_hash, raw });
                }
                Err(e) => {
                    tracing::warn!(target: "gateway", error = %e, "unreadable logged promise")
                }
            }
        }
        tracing::info!(
            target: "gateway",
            %committer,
            promises = recovered.entries.len(),
            "gateway state rebuilt from the commitment log"
        );
        Self {
            config,
            key,
            committer,
            log,
            node,
            schedule,
            promised: Mutex::new(promised),
            now: Arc::new(unix_now_ms),
            posting,
            recovered: Mutex::new(recovered_promises),
            node_session: Mutex::new(None),
            resync: tokio::sync::Mutex::new(()),
            admissions: tokio::sync::Semaphore::new(match config_in_flight {
                0 => tokio::sync::Semaphore::MAX_PERMITS,
                n => n.min(tokio::sync::Semaphore::MAX_PERMITS),
            }),
            recent: RecentCommitments::default(),
            posting_lag: Arc::default(),
            feed_grew: Arc::default(),
        }
    }

    /// Notified (`notify_waiters`) after every new durable promise: the commitment feed grew.
    pub fn feed_grew(&self) -> Arc<tokio::sync::Notify> {
        self.feed_grew.clone()
    }

    /// The number the next promise will have in the commitment feed (the feed's length).
    pub fn feed_len(&self) -> u64 {
        u64::try_from(self.log.len()).unwrap_or(u64::MAX)
    }

    /// The proposer's measured posting speed, shared: the poster task updates it from the
    /// proposer's `based_postingStatus`.
    pub fn posting_lag(&self) -> Arc<PostingLag> {
        self.posting_lag.clone()
    }

    /// The least time (ms) between a promise made now and the start of its slot: the configured
    /// (or default) lead, raised to the proposer's largest recent posting latency plus
    /// [`MEASURED_LEAD_MARGIN_MS`], and to the age of its oldest unposted promise plus the
    /// configured lead (a new promise queues behind it).
    pub fn promise_lead_ms(&self) -> u64 {
        use std::sync::atomic::Ordering::Relaxed;
        let base = match self.config.limits.promise_lead_ms {
            0 => default_promise_lead_ms(&self.config.clock),
            ms => ms,
        };
        let measured =
            self.posting_lag.max_latency_ms.load(Relaxed).saturating_add(MEASURED_LEAD_MARGIN_MS);
        let queued = self.posting_lag.oldest_waiting_ms.load(Relaxed).saturating_add(base);
        base.max(measured).max(queued)
    }

    /// The latest promises this gateway made, with their latency (a shared handle: it sees the
    /// promises made after it was taken too).
    pub fn recent(&self) -> RecentCommitments {
        self.recent.clone()
    }

    /// A permit for one admission, or [`GatewayError::Busy`] at once if `max_in_flight` are in
    /// progress.
    fn admission_permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, GatewayError> {
        self.admissions
            .try_acquire()
            .map_err(|_| GatewayError::Busy(self.config.limits.max_in_flight))
    }

    /// Hands the recovered promises of recent slots (at most `max_slots_ahead` before the current
    /// one) to the proposer again, once, and pushes them to the node's pending block in log
    /// order; returns how many were handed to the proposer. A crash between the log's fsync and
    /// the hand-off must not leave a signed promise unposted; the proposer's pool drops duplicates
    /// and execution skips what L2 already included; the node answers a transaction it already
    /// holds (or that is on L2) with where it is. [`crate::launch`] calls it at start.
    pub async fn resend_recovered(&self) -> usize {
        let recent = self.current_slot().saturating_sub(self.config.limits.max_slots_ahead);
        let promises: Vec<Promise> = match self.recovered.lock() {
            Ok(mut r) => std::mem::take(&mut *r).into_iter().filter(|p| p.slot >= recent).collect(),
            Err(_) => return 0,
        };
        if let Ok(mut promised) = self.lock() {
            let known: std::collections::HashSet<B256> =
                promised.outstanding.iter().map(|p| p.tx_hash).collect();
            let mut restored: Vec<Promise> =
                promises.iter().filter(|p| !known.contains(&p.tx_hash)).cloned().collect();
            restored.append(&mut promised.outstanding);
            promised.outstanding = restored;
        }
        if !promises.is_empty()
            && let Err(e) = self.resync_node().await
        {
            tracing::warn!(target: "gateway", error = %e, "recovered promises not pushed to the node yet");
        }
        let Some(posting) = &self.posting else { return 0 };
        let mut sent = 0usize;
        for promise in promises {
            if posting.send(promise).is_ok() {
                sent = sent.saturating_add(1);
            }
        }
        tracing::info!(target: "gateway", resent = sent, "recovered promises handed to the proposer");
        sent
    }

    /// The node's pending-state deadline for a promise for `slot` ([`OVERDUE_AFTER_SLOTS`]).
    fn deadline(&self, slot: u64) -> Option<u64> {
        self.config.clock.slot_timestamp(slot.saturating_add(OVERDUE_AFTER_SLOTS)).ok()
    }

    fn set_session(&self, session: u64) -> Option<u64> {
        self.node_session.lock().ok().and_then(|mut s| s.replace(session))
    }

    /// Checks the node's session; if it changed since the outstanding promises were pushed (the
    /// node restarted and lost its pending block), pushes them again in order. Returns whether it
    /// re-pushed. [`crate::launch`] runs it periodically.
    pub async fn check_node(&self) -> Result<bool, NodeError> {
        let session = self.node.session().await?;
        let known = self.node_session.lock().ok().and_then(|s| *s);
        if known == Some(session) {
            return Ok(false);
        }
        if known.is_some() {
            tracing::warn!(target: "gateway", session, "L2 node restarted: pushing outstanding promises again");
        }
        self.resync_node().await?;
        Ok(true)
    }

    /// Pushes every outstanding promise of recent slots to the node again, in order (those the
    /// node refuses for their nonce are retried after the others, since the order of concurrent
    /// promises of one sender may differ from their nonce order). Promises already on L2 are
    /// forgotten; those the node refuses for good are reported (`warn`) and forgotten.
    pub async fn resync_node(&self) -> Result<usize, NodeError> {
        let _one = self.resync.lock().await;
        let recent = self.current_slot().saturating_sub(self.config.limits.max_slots_ahead);
        let mut todo: Vec<Promise> = {
            let mut promised = self.lock().map_err(|e| NodeError::Unreachable(e.to_string()))?;
            promised.outstanding.retain(|p| p.slot >= recent);
            promised.outstanding.clone()
        };
        let mut pushed = 0usize;
        let mut session = None;
        let mut forget = Vec::new();
        loop {
            let mut retry = Vec::new();
            let before = todo.len();
            for promise in todo {
                let deadline = self.deadline(promise.slot);
                match self.node.preconfirm(promise.raw.clone(), promise.slot, deadline).await {
                    Ok(answer) => {
                        session = Some(answer.session.to::<u64>());
                        pushed = pushed.saturating_add(1);
                        if !answer.pending {
                            forget.push(promise.tx_hash);
                        }
                    }
                    Err(NodeError::Refused { code, .. }) if code == preconf_codes::NONCE => {
                        retry.push(promise);
                    }
                    Err(NodeError::Refused { message, .. }) => {
                        tracing::warn!(target: "gateway", tx = %promise.tx_hash, slot = promise.slot, reason = %message, "outstanding promise refused by the node: broken");
                        forget.push(promise.tx_hash);
                    }
                    Err(e) => return Err(e),
                }
            }
            if retry.is_empty() || retry.len() == before {
                for promise in &retry {
                    tracing::warn!(target: "gateway", tx = %promise.tx_hash, slot = promise.slot, "outstanding promise's nonce no longer fits the node's state: broken");
                    forget.push(promise.tx_hash);
                }
                break;
            }
            todo = retry;
        }
        if let Ok(mut promised) = self.lock() {
            promised.outstanding.retain(|p| !forget.contains(&p.tx_hash));
        }
        let session = match session {
            Some(s) => s,
            None => self.node.session().await?,
        };
        self.set_session(session);
        tracing::info!(target: "gateway", pushed, session, "outstanding promises pushed to the node");
        Ok(pushed)
    }

    /// Replaces the wall clock (tests): `now` answers Unix seconds.
    pub fn with_clock(mut self, now: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.now = Arc::new(move || now().saturating_mul(1000));
        self
    }

    /// The committer address that signs the promises.
    pub const fn committer(&self) -> Address {
        self.committer
    }

    /// The configuration.
    pub const fn config(&self) -> &GatewayConfig {
        &self.config
    }

    fn current_slot(&self) -> u64 {
        self.config.clock.slot_at((self.now)() / 1000)
    }

    /// The first slot a promise can still be kept in: the first one starting after `now +`
    /// [`Gateway::promise_lead_ms`]. Never the current slot (its L1 block is built at its start),
    /// and only as soon as the proposer can post into it: a promise it cannot meet would be broken
    /// (docs/protocol.md §10.2 rule 3).
    pub fn first_promisable_slot(&self) -> u64 {
        let at = (self.now)().saturating_add(self.promise_lead_ms()) / 1000;
        self.config.clock.slot_at(at).saturating_add(1)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Promised>, GatewayError> {
        self.promised.lock().map_err(|_| GatewayError::Internal("state lock poisoned".into()))
    }

    /// Checks the request's form (rule 2: type, slasher, canonical payload) and decodes its payload.
    fn decode_request(
        &self,
        request: &CommitmentRequest,
    ) -> Result<InclusionPayload, GatewayError> {
        if request.commitment_type != INCLUSION_COMMITMENT_TYPE {
            return Err(GatewayError::Invalid(format!(
                "unknown commitment type {}",
                request.commitment_type
            )));
        }
        if request.slasher != self.config.slasher {
            return Err(GatewayError::Invalid(format!(
                "slasher {} is not this gateway's ({})",
                request.slasher, self.config.slasher
            )));
        }
        InclusionPayload::abi_decode(&request.payload)
            .map_err(|e| GatewayError::Invalid(format!("payload: {e}")))
    }

    /// Checks the payload's transaction (rule 2: the shared stateless admission rule of
    /// `based-admission`: size, decoding, supported type, chain id, fee caps, signature; gas
    /// limit and base fee are left to the node's execution, rule 6) and decodes it.
    fn decode_tx(&self, payload: &InclusionPayload) -> Result<InclusionTx, GatewayError> {
        let rules = based_admission::Rules {
            max_tx_size: self.config.limits.max_tx_bytes,
            base_fee_floor: 0,
            ..based_admission::Rules::new(self.config.chain_id)
        };
        based_admission::check_tx(&payload.signed_tx, &rules).map_err(|e| match e {
            based_admission::AdmissionError::ChainId { got, expected } => {
                GatewayError::ChainId { got: Some(got), expected }
            }
            other => GatewayError::Invalid(other.to_string()),
        })?;
        payload.decode_tx().map_err(|e| GatewayError::Invalid(e.to_string()))
    }

    fn check_slot(&self, slot: u64) -> Result<(), GatewayError> {
        if self.posting_lag.not_ready.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(GatewayError::Posting("the proposer is not ready or unreachable".into()));
        }
        let current = self.current_slot();
        let last = current.saturating_add(self.config.limits.max_slots_ahead);
        if slot < self.first_promisable_slot() || slot > last {
            return Err(GatewayError::WrongSlot { slot, current, last });
        }
        if !self.schedule.is_preconfer(slot) {
            return Err(GatewayError::NotPreconfer(slot));
        }
        Ok(())
    }

    /// `commitmentRequest`: admits, signs, logs durably and answers (module docs).
    pub async fn request(
        &self,
        request: CommitmentRequest,
    ) -> Result<SignedCommitment, GatewayError> {
        let started = Instant::now();
        let result = match self.admission_permit() {
            Ok(_permit) => self.request_inner(request, started).await,
            Err(busy) => Err(busy),
        };
        observe_admission(started, &result);
        result
    }

    async fn request_inner(
        &self,
        request: CommitmentRequest,
        received: Instant,
    ) -> Result<SignedCommitment, GatewayError> {
        let request_hash = request.request_hash();
        if let Some(existing) = self.log.get(&request_hash) {
            return Ok(existing);
        }
        let payload = self.decode_request(&request)?;
        let itx = self.decode_tx(&payload)?;
        self.admit(&request, request_hash, itx, payload.signed_tx, received).await
    }

    /// The node's refusal as the gateway's error.
    fn node_refusal(&self, itx: &InclusionTx, e: NodeError) -> GatewayError {
        let NodeError::Refused { code, message, data } = e else {
            return GatewayError::State(e.to_string());
        };
        let field = |name: &str| {
            data.as_ref().and_then(|d| d.get(name)).and_then(serde_json::Value::as_u64)
        };
        match code {
            preconf_codes::NONCE => GatewayError::Nonce {
                got: itx.nonce,
                expected: field("expected").unwrap_or_default(),
            },
            preconf_codes::FUNDS => GatewayError::Funds(message),
            preconf_codes::GAS => GatewayError::Capacity(itx.slot),
            preconf_codes::CHAIN_ID => {
                GatewayError::ChainId { got: itx.tx.chain_id(), expected: self.config.chain_id }
            }
            preconf_codes::INVALID => GatewayError::Invalid(message),
            _ => GatewayError::State(message),
        }
    }

    /// Rule 6: the node executes `raw` on its pending block. A nonce refusal from a node that
    /// restarted (new session) pushes the outstanding promises again and retries once; a new
    /// session seen in an answer pushes the others again too.
    async fn preconfirm(&self, itx: &InclusionTx, raw: &Bytes) -> Result<(), GatewayError> {
        let state = |e: NodeError| GatewayError::State(e.to_string());
        let deadline = self.deadline(itx.slot);
        let answer = match self.node.preconfirm(raw.clone(), itx.slot, deadline).await {
            Err(refused @ NodeError::Refused { code: preconf_codes::NONCE, .. }) => {
                // Maybe the node restarted and lost the sender's earlier promises.
                if !self.check_node().await.map_err(state)? {
                    return Err(self.node_refusal(itx, refused));
                }
                self.node
                    .preconfirm(raw.clone(), itx.slot, deadline)
                    .await
                    .map_err(|e| self.node_refusal(itx, e))?
            }
            other => other.map_err(|e| self.node_refusal(itx, e))?,
        };
        let session = answer.session.to::<u64>();
        if self.set_session(session) != Some(session) {
            self.resync_node().await.map_err(state)?;
        }
        Ok(())
    }

    /// Rules 3-8 for a request whose form was checked: `itx` is its decoded transaction, `raw`
    /// the signed transaction bytes and `received` when the request arrived.
    async fn admit(
        &self,
        request: &CommitmentRequest,
        request_hash: B256,
        itx: InclusionTx,
        raw: Bytes,
        received: Instant,
    ) -> Result<SignedCommitment, GatewayError> {
        self.check_slot(itx.slot)?;

        // Rules 4-5 and the reservation, under one lock (no await inside).
        let reserved = {
            let mut promised = self.lock()?;
            if promised.keys.get(&conflict_key(&itx)).is_some_and(|v| *v != conflict_value(&itx)) {
                return Err(GatewayError::Conflict(format!(
                    "nonce {} of {} is already promised (the sender's next nonce is \
                     eth_getTransactionCount(\"{}\", \"pending\"); `latest` lags until the \
                     promised transaction lands)",
                    itx.nonce, itx.sender, itx.sender
                )));
            }
            let used = promised.slots.get(&itx.slot).copied().unwrap_or_default();
            let limits = &self.config.limits;
            if used.count >= limits.max_txs_per_slot
                || used.gas.saturating_add(itx.tx.gas_limit()) > limits.max_gas_per_slot
            {
                return Err(GatewayError::Capacity(itx.slot));
            }
            promised.record(&itx, request_hash)
        };
        let release = |gateway: &Self| {
            if reserved && let Ok(mut promised) = gateway.lock() {
                promised.release(&itx);
            }
        };

        // Rule 6: the node's pending block takes it (or refuses: nothing promised).
        if let Err(e) = self.preconfirm(&itx, &raw).await {
            release(self);
            return Err(e);
        }
        if reserved && let Ok(mut promised) = self.lock() {
            // Forget promises of slots long past from the front (amortised; `resync_node`
            // prunes the rest).
            let recent = self.current_slot().saturating_sub(self.config.limits.max_slots_ahead);
            let old = promised.outstanding.iter().take_while(|p| p.slot < recent).count();
            promised.outstanding.drain(..old);
            promised.outstanding.push(Promise {
                slot: itx.slot,
                tx_hash: itx.tx_hash,
                raw: raw.clone(),
            });
        }

        // Rule 7: sign. A signer failure (remote signer down, JWT refused, wrong key) makes no
        // commitment and rolls back like a log failure.
        let commitment = Commitment::for_request(request);
        let signed = match self.key.sign_digest(commitment.digest()).await {
            Ok(signature) => {
                Ok(SignedCommitment { commitment, signature: signature.normalized_s() })
            }
            Err(e) => {
                tracing::warn!(target: "gateway", tx = %itx.tx_hash, error = %e, "signing failed: no commitment");
                Err(GatewayError::Internal(format!("signer: {e}")))
            }
        };
        let outcome = match signed {
            Ok(signed) => {
                let entry = LogEntry {
                    conflict_key: conflict_key(&itx),
                    conflict_value: conflict_value(&itx),
                    signed,
                };
                self.log.append(entry).await
            }
            Err(e) => {
                self.roll_back(&itx, reserved).await;
                return Err(e);
            }
        };
        match outcome {
            Ok(AppendOutcome::Appended(signed)) => {
                metrics::counter!(based_metrics::names::COMMITMENTS_ISSUED).increment(1);
                let latency = received.elapsed();
                let signed_ms = unix_now_ms();
                let latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
                self.recent.push(RecentCommitment {
                    request_hash,
                    tx_hash: itx.tx_hash,
                    slot: itx.slot,
                    sender: itx.sender,
                    nonce: itx.nonce,
                    received_ms: signed_ms.saturating_sub(latency_ms),
                    signed_ms,
                    latency_us: u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
                });
                self.feed_grew.notify_waiters();
                if let Some(posting) = &self.posting {
                    let _ = posting.send(Promise { slot: itx.slot, tx_hash: itx.tx_hash, raw });
                }
                tracing::debug!(
                    target: "gateway",
                    slot = itx.slot,
                    tx = %itx.tx_hash,
                    sender = %itx.sender,
                    nonce = itx.nonce,
                    "promised"
                );
                Ok(signed)
            }
            Ok(AppendOutcome::Existing(signed)) => Ok(signed),
            Err(e) => {
                self.roll_back(&itx, reserved).await;
                Err(match e {
                    LogError::Conflict { .. } => GatewayError::Conflict(e.to_string()),
                    other => GatewayError::Internal(other.to_string()),
                })
            }
        }
    }

    /// Undoes an admission whose promise could not be made durable: releases the reservation
    /// and drops the transaction from the node's pending block (if this request put it there).
    async fn roll_back(&self, itx: &InclusionTx, reserved: bool) {
        if !reserved {
            return;
        }
        if let Ok(mut promised) = self.lock() {
            promised.release(itx);
        }
        match self.node.drop_preconfirmed(itx.tx_hash).await {
            Ok(_) => {
                tracing::debug!(target: "gateway", tx = %itx.tx_hash, "dropped from the node's pending block")
            }
            Err(e) => tracing::warn!(
                target: "gateway",
                tx = %itx.tx_hash,
                error = %e,
                "could not drop an unpromised transaction from the node's pending block (it will be reported overdue)"
            ),
        }
    }

    /// `eth_sendRawTransaction`: promises `raw` for the earliest slot from now on that this
    /// gateway may promise for; answers the transaction hash.
    pub async fn send_raw_transaction(&self, raw: Bytes) -> Result<B256, GatewayError> {
        let started = Instant::now();
        let result = match self.admission_permit() {
            Ok(_permit) => self.send_raw_transaction_inner(raw, started).await,
            Err(busy) => Err(busy),
        };
        observe_admission(started, &result);
        result
    }

    async fn send_raw_transaction_inner(
        &self,
        raw: Bytes,
        received: Instant,
    ) -> Result<B256, GatewayError> {
        let current = self.current_slot();
        let last = current.saturating_add(self.config.limits.max_slots_ahead);
        let slot = (self.first_promisable_slot()..=last)
            .find(|s| self.schedule.is_preconfer(*s))
            .ok_or(GatewayError::NotPreconfer(current))?;
        let payload = InclusionPayload { slot, signed_tx: raw };
        let itx = self.decode_tx(&payload)?;
        let tx_hash = itx.tx_hash;
        // The same transaction sent again is already promised (maybe for an earlier slot).
        if self.lock()?.by_tx.contains_key(&tx_hash) {
            return Ok(tx_hash);
        }
        let raw = payload.signed_tx.clone();
        let request = payload.into_request(self.config.slasher);
        let request_hash = request.request_hash();
        if self.log.get(&request_hash).is_none() {
            self.admit(&request, request_hash, itx, raw, received).await?;
        }
        Ok(tx_hash)
    }

    /// `commitmentResult`: the signed commitment for a request hash, or for a transaction hash.
    pub fn result(&self, hash: B256) -> Result<SignedCommitment, GatewayError> {
        if let Some(found) = self.log.get(&hash) {
            return Ok(found);
        }
        let request_hash = self.lock()?.by_tx.get(&hash).copied();
        request_hash.and_then(|h| self.log.get(&h)).ok_or(GatewayError::NotFound(hash))
    }

    /// `slots`: this gateway's slots from the next one to the end of the next epoch.
    pub fn slots(&self) -> SlotInfoResponse {
        let clock = &self.config.clock;
        let current = self.current_slot();
        let next_epoch = clock.epoch_of(current).saturating_add(1);
        let end = clock
            .first_slot(next_epoch.saturating_add(1))
            .unwrap_or(u64::MAX)
            .min(current.saturating_add(self.config.limits.max_slots_ahead).saturating_add(1));
        let slots = (self.first_promisable_slot()..end)
            .filter(|s| self.schedule.is_preconfer(*s))
            .map(|slot| SlotInfo {
                slot,
                offerings: vec![Offering {
                    chain_id: self.config.chain_id,
                    commitment_types: vec![INCLUSION_COMMITMENT_TYPE],
                }],
            })
            .collect();
        SlotInfoResponse { slots }
    }

    /// `fee`: what a request costs beyond its transaction's own fees (nothing).
    pub fn fee(&self, request: &CommitmentRequest) -> Result<FeeInfo, GatewayError> {
        if request.commitment_type != INCLUSION_COMMITMENT_TYPE {
            return Err(GatewayError::Invalid(format!(
                "unknown commitment type {}",
                request.commitment_type
            )));
        }
        let payload: Bytes = U256::ZERO.to_be_bytes::<32>().to_vec().into();
        Ok(FeeInfo {
            payload: payload.clone(),
            fee_payload: payload,
            commitment_type: request.commitment_type,
        })
    }

    /// The commitment feed: every signed commitment of the log from sequence number `from` on
    /// (0 = the first the log holds; sequence numbers are log positions and survive a restart),
    /// at most `limit` (clamped to [`FEED_MAX_LIMIT`]; `None`: that maximum) and a bounded number
    /// of bytes ([`crate::log::FEED_MAX_BYTES`]).
    pub fn commitments_since(&self, from: u64, limit: Option<u64>) -> CommitmentFeed {
        let limit = limit.unwrap_or(FEED_MAX_LIMIT).min(FEED_MAX_LIMIT);
        let (commitments, next) =
            self.log.since(from, usize::try_from(limit).unwrap_or(usize::MAX));
        CommitmentFeed { commitments, next }
    }

    /// Promises made so far (durable), for metrics and tests.
    pub fn promises(&self) -> usize {
        self.log.len()
    }
}

#[cfg(test)]
mod tests;
