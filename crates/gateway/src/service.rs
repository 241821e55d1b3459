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
//! 3. the slot is the current L1 slot or one of the next `max_slots_ahead`, and this gateway's
//!    committer is its preconfer ([`Schedule`]);
//! 4. the sender's nonce is exactly the next one: the account's nonce on L2 plus the transactions
//!    of the sender already promised and not yet on L2 (a lower nonce already promised for another
//!    transaction is a conflict, never a second promise);
//! 5. the balance covers `gas_limit * max_fee_per_gas + value` of this and every outstanding
//!    promised transaction of the sender;
//! 6. the slot has room: at most `max_txs_per_slot` promises and `max_gas_per_slot` gas (sum of
//!    gas limits);
//! 7. sign `keccak256(abi.encode(commitment))`, append to the log under the conflict key
//!    `sender ‖ nonce` with value `keccak256(tx_hash ‖ slot)`: the log refuses a different
//!    transaction or slot for a nonce already promised, also across restarts;
//! 8. answer only once the log's group commit made the record durable.

use crate::{AppendOutcome, CommitmentLog, LogEntry, LogError, Recovered};
use alloy_consensus::Transaction;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_signer::SignerSync;
use based_commitments::{
    Commitment, CommitmentRequest, INCLUSION_COMMITMENT_TYPE, InclusionPayload, InclusionTx,
    SignedCommitment,
};
use based_lookahead::SlotClock;
use serde::{Deserialize, Serialize};
use std::{
    collections::{BTreeMap, HashMap},
    future::Future,
    sync::{Arc, Mutex},
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
    /// Nonce too low or a gap.
    #[error("nonce {got}, expected {expected}")]
    Nonce {
        /// The transaction's nonce.
        got: u64,
        /// The next nonce the gateway can promise for the sender.
        expected: u64,
    },
    /// Balance too low.
    #[error("insufficient funds: balance {balance}, needed {needed}")]
    Funds {
        /// Balance on L2.
        balance: U256,
        /// Cost of this and the outstanding promised transactions.
        needed: U256,
    },
    /// Would equivocate.
    #[error("conflicts with a promise already made: {0}")]
    Conflict(String),
    /// Not found.
    #[error("no commitment for {0}")]
    NotFound(B256),
    /// The L2 state could not be read (node unreachable): temporary.
    #[error("L2 state unavailable: {0}")]
    State(String),
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
            Self::Capacity(_) => codes::CAPACITY,
            Self::Nonce { .. } => codes::NONCE,
            Self::Funds { .. } => codes::FUNDS,
            Self::Conflict(_) => codes::CONFLICT,
            Self::NotFound(_) => codes::NOT_FOUND,
            Self::State(_) | Self::Internal(_) => codes::INTERNAL,
        }
    }

    /// The HTTP status of the REST form.
    pub const fn http_status(&self) -> u16 {
        match self {
            Self::Invalid(_) | Self::ChainId { .. } | Self::WrongSlot { .. } => 400,
            Self::Nonce { .. } | Self::Funds { .. } => 400,
            Self::NotPreconfer(_) => 403,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::Capacity(_) => 429,
            Self::State(_) => 503,
            Self::Internal(_) => 500,
        }
    }
}

/// Reads an L2 account (nonce, balance) at the node's latest block.
pub trait AccountSource: Send + Sync + 'static {
    /// `(nonce, balance)` of `address`.
    fn account(&self, address: Address)
    -> impl Future<Output = Result<(u64, U256), String>> + Send;
}

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
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_txs_per_slot: 2_000,
            max_gas_per_slot: 30_000_000,
            max_tx_bytes: 128 * 1024,
            max_slots_ahead: 64,
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

#[derive(Debug, Default)]
struct SenderPromises {
    /// Outstanding promised nonces → max cost (wei).
    outstanding: BTreeMap<u64, U256>,
}

#[derive(Debug, Default, Clone, Copy)]
struct SlotUse {
    count: usize,
    gas: u64,
}

#[derive(Debug, Default)]
struct Promised {
    senders: HashMap<Address, SenderPromises>,
    slots: BTreeMap<u64, SlotUse>,
    /// Transaction hash → request hash of its commitment.
    by_tx: HashMap<B256, B256>,
}

impl Promised {
    fn record(&mut self, itx: &InclusionTx, request_hash: B256) {
        self.senders
            .entry(itx.sender)
            .or_default()
            .outstanding
            .insert(itx.nonce, max_cost(&itx.tx));
        let slot = self.slots.entry(itx.slot).or_default();
        slot.count = slot.count.saturating_add(1);
        slot.gas = slot.gas.saturating_add(itx.tx.gas_limit());
        self.by_tx.insert(itx.tx_hash, request_hash);
    }

    fn release(&mut self, itx: &InclusionTx) {
        if let Some(s) = self.senders.get_mut(&itx.sender) {
            s.outstanding.remove(&itx.nonce);
        }
        if let Some(slot) = self.slots.get_mut(&itx.slot) {
            slot.count = slot.count.saturating_sub(1);
            slot.gas = slot.gas.saturating_sub(itx.tx.gas_limit());
        }
    }
}

fn max_cost(tx: &alloy_consensus::TxEnvelope) -> U256 {
    U256::from(tx.gas_limit())
        .saturating_mul(U256::from(tx.max_fee_per_gas()))
        .saturating_add(tx.value())
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

/// The gateway: admission, signing, durable log, hand-off.
pub struct Gateway<A, K> {
    config: GatewayConfig,
    key: K,
    committer: Address,
    log: CommitmentLog,
    accounts: A,
    schedule: Arc<dyn Schedule>,
    promised: Mutex<Promised>,
    now: Arc<dyn Fn() -> u64 + Send + Sync>,
    posting: Option<tokio::sync::mpsc::UnboundedSender<Promise>>,
    /// Promises replayed from the log, until [`Gateway::resend_recovered`] hands them on.
    recovered: Mutex<Vec<Promise>>,
}

impl<A, K> std::fmt::Debug for Gateway<A, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("committer", &self.committer)
            .field("chain_id", &self.config.chain_id)
            .finish_non_exhaustive()
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

impl<A: AccountSource, K: SignerSync + Send + Sync + 'static> Gateway<A, K> {
    /// A gateway over an opened log (`recovered` = what [`CommitmentLog::open`] replayed, which
    /// rebuilds the promised state). `committer` is `key`'s address.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: GatewayConfig,
        key: K,
        committer: Address,
        log: CommitmentLog,
        recovered: &Recovered,
        accounts: A,
        schedule: Arc<dyn Schedule>,
        posting: Option<tokio::sync::mpsc::UnboundedSender<Promise>>,
    ) -> Self {
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
            accounts,
            schedule,
            promised: Mutex::new(promised),
            now: Arc::new(unix_now),
            posting,
            recovered: Mutex::new(recovered_promises),
        }
    }

    /// Hands the recovered promises of recent slots (at most `max_slots_ahead` before the current
    /// one) to the proposer again, once; returns how many. A crash between the log's fsync and the
    /// hand-off must not leave a signed promise unposted; the proposer's pool drops duplicates and
    /// execution skips what L2 already included. [`crate::launch`] calls it at start.
    pub fn resend_recovered(&self) -> usize {
        let Some(posting) = &self.posting else { return 0 };
        let recent = self.current_slot().saturating_sub(self.config.limits.max_slots_ahead);
        let promises = match self.recovered.lock() {
            Ok(mut r) => std::mem::take(&mut *r),
            Err(_) => return 0,
        };
        let mut sent = 0usize;
        for promise in promises.into_iter().filter(|p| p.slot >= recent) {
            if posting.send(promise).is_ok() {
                sent = sent.saturating_add(1);
            }
        }
        tracing::info!(target: "gateway", resent = sent, "recovered promises handed to the proposer");
        sent
    }

    /// Replaces the wall clock (tests).
    pub fn with_clock(mut self, now: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.now = Arc::new(now);
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
        self.config.clock.slot_at((self.now)())
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

    /// Checks the payload's transaction (rule 2: size, decoding, signature, not a blob
    /// transaction, chain id) and decodes it.
    fn decode_tx(&self, payload: &InclusionPayload) -> Result<InclusionTx, GatewayError> {
        if payload.signed_tx.len() > self.config.limits.max_tx_bytes {
            return Err(GatewayError::Invalid(format!(
                "transaction of {} bytes > {}",
                payload.signed_tx.len(),
                self.config.limits.max_tx_bytes
            )));
        }
        let itx = payload.decode_tx().map_err(|e| GatewayError::Invalid(e.to_string()))?;
        if itx.tx.is_eip4844() {
            return Err(GatewayError::Invalid("blob transactions are invalid on L2".into()));
        }
        if let Some(id) = itx.tx.chain_id()
            && id != self.config.chain_id
        {
            return Err(GatewayError::ChainId { got: Some(id), expected: self.config.chain_id });
        }
        Ok(itx)
    }

    fn check_slot(&self, slot: u64) -> Result<(), GatewayError> {
        let current = self.current_slot();
        let last = current.saturating_add(self.config.limits.max_slots_ahead);
        if slot < current || slot > last {
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
        let request_hash = request.request_hash();
        if let Some(existing) = self.log.get(&request_hash) {
            return Ok(existing);
        }
        let payload = self.decode_request(&request)?;
        let itx = self.decode_tx(&payload)?;
        self.admit(&request, request_hash, itx, payload.signed_tx).await
    }

    /// Rules 3-8 for a request whose form was checked: `itx` is its decoded transaction and `raw`
    /// the signed transaction bytes.
    async fn admit(
        &self,
        request: &CommitmentRequest,
        request_hash: B256,
        itx: InclusionTx,
        raw: Bytes,
    ) -> Result<SignedCommitment, GatewayError> {
        self.check_slot(itx.slot)?;
        let (account_nonce, balance) =
            self.accounts.account(itx.sender).await.map_err(GatewayError::State)?;

        // Rules 4-6 and the reservation, under one lock (no await inside).
        {
            let mut promised = self.lock()?;
            let sender = promised.senders.entry(itx.sender).or_default();
            // Promises the L2 chain already passed are done.
            sender.outstanding = sender.outstanding.split_off(&account_nonce);
            let expected = sender
                .outstanding
                .last_key_value()
                .map_or(account_nonce, |(n, _)| n.saturating_add(1));
            if itx.nonce != expected {
                if sender.outstanding.contains_key(&itx.nonce) {
                    return Err(GatewayError::Conflict(format!(
                        "nonce {} of {} is already promised",
                        itx.nonce, itx.sender
                    )));
                }
                return Err(GatewayError::Nonce { got: itx.nonce, expected });
            }
            let needed = sender
                .outstanding
                .values()
                .fold(max_cost(&itx.tx), |acc, c| acc.saturating_add(*c));
            if balance < needed {
                return Err(GatewayError::Funds { balance, needed });
            }
            let used = promised.slots.get(&itx.slot).copied().unwrap_or_default();
            let limits = &self.config.limits;
            if used.count >= limits.max_txs_per_slot
                || used.gas.saturating_add(itx.tx.gas_limit()) > limits.max_gas_per_slot
            {
                return Err(GatewayError::Capacity(itx.slot));
            }
            promised.record(&itx, request_hash);
        }

        let signed = Commitment::for_request(request)
            .sign(&self.key)
            .map_err(|e| GatewayError::Internal(e.to_string()));
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
                self.lock()?.release(&itx);
                return Err(e);
            }
        };
        match outcome {
            Ok(AppendOutcome::Appended(signed)) => {
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
                self.lock()?.release(&itx);
                Err(match e {
                    LogError::Conflict { .. } => GatewayError::Conflict(e.to_string()),
                    other => GatewayError::Internal(other.to_string()),
                })
            }
        }
    }

    /// `eth_sendRawTransaction`: promises `raw` for the earliest slot from now on that this
    /// gateway may promise for; answers the transaction hash.
    pub async fn send_raw_transaction(&self, raw: Bytes) -> Result<B256, GatewayError> {
        let current = self.current_slot();
        let last = current.saturating_add(self.config.limits.max_slots_ahead);
        let slot = (current..=last)
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
            self.admit(&request, request_hash, itx, raw).await?;
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

    /// `slots`: this gateway's slots from the current one to the end of the next epoch.
    pub fn slots(&self) -> SlotInfoResponse {
        let clock = &self.config.clock;
        let current = self.current_slot();
        let next_epoch = clock.epoch_of(current).saturating_add(1);
        let end = clock
            .first_slot(next_epoch.saturating_add(1))
            .unwrap_or(u64::MAX)
            .min(current.saturating_add(self.config.limits.max_slots_ahead).saturating_add(1));
        let slots = (current..end)
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

    /// Promises made so far (durable), for metrics and tests.
    pub fn promises(&self) -> usize {
        self.log.len()
    }
}

#[cfg(test)]
mod tests;
