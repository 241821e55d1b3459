//! The node's preconfirmed state as the RPC server sees it: the pending block the `pending` tag
//! reads ([`PendingBlock`]) and the `based_preconfirm*` methods a gateway drives
//! ([`PreconfBackend`]). The node implements [`PreconfBackend`]; the server only reads snapshots.

use std::sync::Arc;

use alloy_consensus::ReceiptEnvelope;
use alloy_primitives::{Address, B256, Bytes, U64};
use revm::database_interface::{DatabaseRef, ErasedError};
use serde::{Deserialize, Serialize};

use crate::backend::{BlockBody, SealedHeader, StateView, erase_state};

/// JSON-RPC error codes of `based_preconfirm` (the gateway's codes, docs/protocol.md §10.3).
pub mod codes {
    /// Malformed or invalid transaction (decoding, signature, type, fees, intrinsic gas, ...).
    pub const INVALID: i32 = -32602;
    /// Internal: the node cannot build its pending block now (store failure, no head yet).
    pub const UNAVAILABLE: i32 = -32603;
    /// The pending block has no gas left for the transaction's gas limit.
    pub const GAS: i32 = -32012;
    /// The nonce is not exactly the sender's next pending nonce.
    pub const NONCE: i32 = -32013;
    /// The sender's pending balance does not cover `gas_limit * max_fee_per_gas + value`.
    pub const FUNDS: i32 = -32014;
    /// The transaction names another chain.
    pub const CHAIN_ID: i32 = -32016;
}

/// A snapshot of the node's pending block: the preconfirmed transactions executed in order on
/// top of the L2 head, with the same executor as derived blocks.
///
/// `header` is provisional: `number = head + 1`, `parent_hash = head`, timestamp, gas limit and
/// base fee as the node would build the block, `gas_used`, transaction and receipt roots and bloom
/// of the pending transactions, `state_root` zero (not computed). Its hash is the hash of that
/// header and is never canonical.
#[derive(Clone)]
pub struct PendingBlock {
    /// The provisional header and its hash.
    pub header: SealedHeader,
    /// The pending transactions and their senders (withdrawals: empty).
    pub body: BlockBody,
    /// Their receipts, in order.
    pub receipts: Vec<ReceiptEnvelope>,
    /// The state after the pending transactions.
    pub state: Arc<dyn DatabaseRef<Error = ErasedError> + Send + Sync>,
}

impl std::fmt::Debug for PendingBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingBlock")
            .field("number", &self.header.header.number)
            .field("parent", &self.header.header.parent_hash)
            .field("transactions", &self.body.transactions.len())
            .finish_non_exhaustive()
    }
}

impl PendingBlock {
    /// A revm view of the state after the pending transactions.
    pub fn state_view(&self) -> StateView {
        erase_state(Arc::clone(&self.state))
    }

    /// Position of the transaction `hash` in the pending block.
    pub fn position(&self, hash: B256) -> Option<usize> {
        self.body.transactions.iter().position(|tx| *tx.tx_hash() == hash)
    }
}

/// Answer of `based_preconfirm`: where the transaction stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preconfirmation {
    /// The transaction hash.
    pub tx_hash: B256,
    /// `true`: in the pending block at `transactionIndex`; `false`: already in canonical block
    /// `blockNumber` (sent again after it landed).
    pub pending: bool,
    /// `head + 1` for a pending transaction, else the including block.
    pub block_number: U64,
    /// Position in that block.
    pub transaction_index: U64,
    /// Gas used (after refunds).
    pub gas_used: U64,
    /// Receipt status: `true` = success, `false` = reverted or halted (still included).
    pub status: bool,
    /// Identity of the node's pending state (changes when the node restarts).
    pub session: U64,
}

/// What [`PreconfBackend::preconfirm`] did: where the transaction stands, and whether this call
/// put it in the pending block (`false`: it was there already, or is on L2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preconfirmed {
    /// The answer `based_preconfirm` returns.
    pub answer: Preconfirmation,
    /// `true` when this call appended the transaction to the pending block.
    pub added: bool,
}

/// One transaction of the pending block, as listed by `based_preconfirmations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreconfEntry {
    /// Transaction hash.
    pub tx_hash: B256,
    /// The L1 slot it was promised for.
    pub slot: U64,
    /// Position in the pending block.
    pub transaction_index: U64,
    /// Sender.
    pub sender: Address,
    /// Nonce.
    pub nonce: U64,
    /// Gas used (after refunds).
    pub gas_used: U64,
    /// Receipt status.
    pub status: bool,
}

/// Why a preconfirmed transaction left the pending block without landing on L2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BrokenKind {
    /// Re-executed on a new L2 head (new blocks or an L1 reorg) it was no longer valid.
    Invalidated,
    /// Its deadline passed on L1 (a processed L1 block is later) and it is not on L2.
    Overdue,
}

/// A promise the node can no longer keep (listed by `based_preconfirmations`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BrokenPromise {
    /// Transaction hash.
    pub tx_hash: B256,
    /// The L1 slot it was promised for.
    pub slot: U64,
    /// Sender.
    pub sender: Address,
    /// Nonce.
    pub nonce: U64,
    /// What broke it.
    pub kind: BrokenKind,
    /// Human-readable reason (the skip reason of re-execution, or the deadline).
    pub reason: String,
    /// The L2 head when it broke.
    pub l2_head: U64,
    /// The last processed L1 block when it broke.
    pub l1_block: U64,
}

/// Answer of `based_preconfirmations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreconfList {
    /// Identity of the node's pending state.
    pub session: U64,
    /// The L2 head the pending block builds on.
    pub l2_head: U64,
    /// Gas used by the pending block.
    pub gas_used: U64,
    /// Its gas limit.
    pub gas_limit: U64,
    /// The pending transactions, in order.
    pub pending: Vec<PreconfEntry>,
    /// Broken promises, oldest first (the most recent ones are kept).
    pub broken: Vec<BrokenPromise>,
}

/// Answer of `based_preconfirmStatus` (cheap: for periodic checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreconfStatus {
    /// Identity of the node's pending state (random per node process).
    pub session: U64,
    /// The L2 head the pending block builds on.
    pub l2_head: U64,
    /// Pending transactions.
    pub pending: U64,
    /// Broken promises recorded so far.
    pub broken: U64,
}

/// Why `based_preconfirm` refused a transaction (nothing changed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreconfError {
    /// Not exactly the sender's next nonce in the pending state.
    #[error("nonce {got}, expected {expected}")]
    Nonce {
        /// The transaction's nonce.
        got: u64,
        /// The sender's pending nonce.
        expected: u64,
    },
    /// The pending balance does not cover `gas_limit * max_fee_per_gas + value`.
    #[error("insufficient funds for gas * price + value")]
    Funds,
    /// The pending block has not enough gas left.
    #[error("gas limit {tx_gas_limit} exceeds the pending block's remaining gas {available}")]
    Gas {
        /// The transaction's gas limit.
        tx_gas_limit: u64,
        /// Gas left in the pending block.
        available: u64,
    },
    /// Wrong chain id.
    #[error("wrong chain id")]
    ChainId,
    /// Any other invalidity (decoding, signature, blob type, fee cap, intrinsic gas, ...).
    #[error("invalid transaction: {0}")]
    Invalid(String),
    /// The node cannot preconfirm now.
    #[error("pending state unavailable: {0}")]
    Unavailable(String),
}

impl PreconfError {
    /// The JSON-RPC error code ([`codes`]).
    pub const fn code(&self) -> i32 {
        match self {
            Self::Nonce { .. } => codes::NONCE,
            Self::Funds => codes::FUNDS,
            Self::Gas { .. } => codes::GAS,
            Self::ChainId => codes::CHAIN_ID,
            Self::Invalid(_) => codes::INVALID,
            Self::Unavailable(_) => codes::UNAVAILABLE,
        }
    }

    /// The JSON-RPC error's `data`: `{got, expected}` for a nonce, `{txGasLimit, available}` for
    /// gas, none otherwise.
    pub fn data(&self) -> Option<serde_json::Value> {
        match self {
            Self::Nonce { got, expected } => {
                Some(serde_json::json!({ "got": got, "expected": expected }))
            }
            Self::Gas { tx_gas_limit, available } => {
                Some(serde_json::json!({ "txGasLimit": tx_gas_limit, "available": available }))
            }
            _ => None,
        }
    }
}

/// The node's preconfirmed state (docs/protocol.md §10.5).
pub trait PreconfBackend: Send + Sync + 'static {
    /// A snapshot of the pending block, if it builds on the current head.
    fn pending_block(&self) -> Option<Arc<PendingBlock>>;

    /// Executes `raw` on top of the pending block; if valid, appends it (`based_preconfirm`).
    /// `slot` is the L1 slot it is promised for; `deadline` (Unix seconds, L1 time) when it must
    /// be on L2 at the latest. Idempotent: a transaction already pending (or on L2) answers where
    /// it is (`added: false`).
    fn preconfirm(
        &self,
        raw: Bytes,
        slot: u64,
        deadline: Option<u64>,
    ) -> Result<Preconfirmed, PreconfError>;

    /// Removes a pending transaction and re-executes the ones after it
    /// (`based_dropPreconfirmed`); `false` if it was not pending.
    fn drop_preconfirmed(&self, tx_hash: B256) -> Result<bool, PreconfError>;

    /// The pending transactions and the broken promises (`based_preconfirmations`).
    fn preconfirmations(&self) -> PreconfList;

    /// Counts and session (`based_preconfirmStatus`).
    fn status(&self) -> PreconfStatus;
}
