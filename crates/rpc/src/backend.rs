//! What the RPC server needs from the rest of the node: chain data ([`ChainProvider`]), rollup
//! status ([`BasedBackend`]) and a way to hand transactions to the proposer ([`TxForwarder`]).
//!
//! The traits are object safe so the node can plug in its store, derivation status and proposer
//! client as `Arc<dyn _>`; tests plug in in-memory implementations.

use alloy_consensus::{Header, ReceiptEnvelope, TxEnvelope};
use alloy_eips::eip4895::Withdrawals;
use alloy_primitives::{Address, B256, Bytes, U64};
use alloy_rpc_types_eth::EIP1186AccountProofResponse;
use jsonrpsee::core::async_trait;
use revm::database_interface::{DatabaseRef, ErasedError};
use serde::{Deserialize, Serialize};

/// A state view usable by revm: account, code, storage and block-hash reads at one block.
pub type StateView = Box<dyn DatabaseRef<Error = ErasedError> + Send + Sync>;

/// Error of a [`ChainProvider`] read (storage failure, corruption). Surfaces as an internal
/// JSON-RPC error (-32603).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProviderError(pub String);

impl ProviderError {
    /// Wraps any error as a provider error.
    pub fn other(err: impl std::fmt::Display) -> Self {
        Self(err.to_string())
    }
}

/// A header together with its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedHeader {
    /// The block header.
    pub header: Header,
    /// `keccak256(rlp(header))`.
    pub hash: B256,
}

/// The body of a stored (canonical) block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockBody {
    /// Included transactions in block order.
    pub transactions: Vec<TxEnvelope>,
    /// Recovered sender of each transaction (same length and order as `transactions`).
    pub senders: Vec<Address>,
    /// The block's withdrawals list (on this L2: the deposits credited in the block). `None` when
    /// the header has no `withdrawals_root`.
    pub withdrawals: Option<Withdrawals>,
}

/// Where a transaction was included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxLocation {
    /// The transaction.
    pub transaction: TxEnvelope,
    /// Its recovered sender.
    pub sender: Address,
    /// Number of the including block.
    pub block_number: u64,
    /// Hash of the including block.
    pub block_hash: B256,
    /// Index of the transaction within the block.
    pub index: u64,
}

/// Read access to the canonical L2 chain. Only canonical blocks are visible: a hash that resolves
/// to a header is canonical.
pub trait ChainProvider: Send + Sync + 'static {
    /// Number of the latest (head) L2 block.
    fn head_number(&self) -> Result<u64, ProviderError>;

    /// Header of canonical block `number`.
    fn header_by_number(&self, number: u64) -> Result<Option<SealedHeader>, ProviderError>;

    /// Header of the canonical block with `hash`.
    fn header_by_hash(&self, hash: B256) -> Result<Option<SealedHeader>, ProviderError>;

    /// Body (transactions, senders, withdrawals) of canonical block `number`.
    fn body(&self, number: u64) -> Result<Option<BlockBody>, ProviderError>;

    /// Receipts of canonical block `number`, one per transaction, in order.
    fn receipts(&self, number: u64) -> Result<Option<Vec<ReceiptEnvelope>>, ProviderError>;

    /// Looks up an included transaction by hash.
    fn transaction_by_hash(&self, hash: B256) -> Result<Option<TxLocation>, ProviderError>;

    /// State after executing canonical block `number` whose hash is `hash`, read from one
    /// consistent snapshot in which that block is canonical; `Ok(None)` when that state is not
    /// available (e.g. the store keeps only the latest state and `number` is older) or when
    /// `hash` is not (or no longer) the canonical block at `number`. Checking the hash in the
    /// same snapshot as the state is what keeps a request from pairing one block's header with
    /// another block's state across an unwind.
    fn state_at(&self, number: u64, hash: B256) -> Result<Option<StateView>, ProviderError>;

    /// The state at the start of the transactions of canonical block (`number`, `hash`): the
    /// parent block's state with the block's pre-transaction steps applied, so that executing
    /// the block's transactions on it, in order, reproduces the block (`debug_trace*`).
    /// `Ok(None)` as for [`Self::state_at`] (not available, or the block is not canonical).
    ///
    /// The default is the parent's state, right for blocks without pre-transaction steps (the
    /// in-memory test chain). The store's implementation also replays this L2's steps: deposits,
    /// the L1 anchor call and the EIP-2935 / EIP-4788 system calls (docs/protocol.md §5.2).
    fn block_start_state(
        &self,
        chain_id: u64,
        number: u64,
        hash: B256,
    ) -> Result<Option<StateView>, ProviderError> {
        let _ = chain_id;
        let Some(header) = self.header_by_hash(hash)? else { return Ok(None) };
        if header.header.number != number {
            return Ok(None);
        }
        match number.checked_sub(1) {
            Some(parent) => self.state_at(parent, header.header.parent_hash),
            None => self.state_at(number, hash),
        }
    }

    /// EIP-1186 proof of `address` and the storage `keys` in the state after canonical block
    /// `number` (`eth_getProof`), verifiable against that block's `stateRoot`. `Ok(None)`: this
    /// provider serves no proofs (the default).
    fn proof(
        &self,
        _number: u64,
        _address: Address,
        _keys: &[StorageKey],
    ) -> Result<Option<EIP1186AccountProofResponse>, ProviderError> {
        Ok(None)
    }
}

/// A storage key of `eth_getProof` as the client sent it: a 32-byte hash or a quantity (the
/// answer echoes the form it was given in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StorageKey {
    /// A 32-byte hex string.
    Hash(B256),
    /// A hex quantity.
    Number(alloy_primitives::U256),
}

impl StorageKey {
    /// The slot as 32 bytes.
    pub fn as_b256(&self) -> B256 {
        match self {
            Self::Hash(h) => *h,
            Self::Number(n) => B256::from(*n),
        }
    }
}

/// What the node's driver (derivation and import) is doing, as served in `based_syncStatus`.
///
/// JSON: `{"state": "running"}`, `{"state": "stalled", "reason": "...", "since": <unix seconds>,
/// "attempts": n}` or `{"state": "halted", "reason": "...", "since": <unix seconds>}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum DriverStatus {
    /// Applying L1 blocks as they come (or waiting for the next one at the L1 head).
    #[default]
    Running,
    /// Not advancing: a step keeps failing and is retried (or the L1 follower delivers nothing
    /// while L1 is ahead). The node serves its last head meanwhile.
    Stalled {
        /// The last error, or why no progress is made.
        reason: String,
        /// Unix time (seconds) since when the driver has not advanced.
        since: u64,
        /// Failed attempts so far (0 when nothing was delivered to fail).
        attempts: u64,
    },
    /// Stopped on a critical error: the node needs an operator. It serves its last head.
    Halted {
        /// The error.
        reason: String,
        /// Unix time (seconds) of the stop.
        since: u64,
    },
}

/// Rollup-level sync status, as served by `based_syncStatus`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BasedSyncStatus {
    /// Latest L1 block number the node has seen.
    pub l1_head: U64,
    /// Highest L1 block number whose proposals have been fully derived and executed.
    pub l1_processed: U64,
    /// Latest L2 block number.
    pub l2_head: U64,
    /// Latest safe L2 block (derived from L1 blocks the node considers safe).
    pub l2_safe: U64,
    /// Latest finalized L2 block (derived from finalized L1 blocks).
    pub l2_finalized: U64,
    /// The driver's state: running, stalled (with the reason and since when) or halted.
    #[serde(default)]
    pub driver: DriverStatus,
}

/// The L1 origin of an L2 block, as served by `based_l1Origin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct L1Origin {
    /// The L2 block number.
    pub l2_block_number: U64,
    /// The L2 block hash.
    pub l2_block_hash: B256,
    /// Number of the L1 block that included the proposal deriving this L2 block.
    pub l1_block_number: U64,
    /// Hash of that L1 block.
    pub l1_block_hash: B256,
    /// Inbox proposal id.
    pub proposal_id: U64,
    /// L1 anchor block number named by the L2 block.
    pub anchor_number: U64,
    /// L1 anchor block hash named by the L2 block.
    pub anchor_hash: B256,
}

/// Rollup status the node provides to the RPC server.
pub trait BasedBackend: Send + Sync + 'static {
    /// Current sync status. `l2_safe`/`l2_finalized` also resolve the `safe`/`finalized` tags.
    fn sync_status(&self) -> BasedSyncStatus;

    /// L1 origin of canonical L2 block `l2_block`, if known (`None` for genesis or unknown).
    fn l1_origin(&self, l2_block: u64) -> Result<Option<L1Origin>, ProviderError>;

    /// Whether the node is catching up with L1 (drives `eth_syncing`). Default: never.
    fn is_syncing(&self) -> bool {
        false
    }

    /// Next nonce of `address` counting transactions accepted by the proposer but not yet in a
    /// block, used for `eth_getTransactionCount(.., "pending")`. Default: unknown (`None`), in
    /// which case `pending` equals `latest`.
    fn pending_nonce(&self, _address: Address) -> Option<u64> {
        None
    }

    /// The node's preconfirmed state: the `pending` tag reads its pending block and the
    /// `based_preconfirm*` methods drive it. Default: none (`pending` equals `latest`, the
    /// methods answer that preconfirmations are unavailable).
    fn preconf(&self) -> Option<&dyn crate::PreconfBackend> {
        None
    }
}

/// Error returned by a [`TxForwarder`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum ForwardError {
    /// The proposer answered with a JSON-RPC error; it is passed through to the caller unchanged.
    #[error("{message}")]
    Rejected {
        /// JSON-RPC error code.
        code: i32,
        /// Error message.
        message: String,
        /// Optional error data.
        data: Option<serde_json::Value>,
    },
    /// The proposer could not be reached or answered garbage.
    #[error("failed to forward transaction to the proposer: {0}")]
    Transport(String),
}

/// Hands a signed transaction (EIP-2718 bytes, already decoded and checked by the server) to the
/// proposer / sequencer. Returns the hash the proposer reports.
#[async_trait]
pub trait TxForwarder: Send + Sync + 'static {
    /// Forwards the raw transaction.
    async fn forward(&self, raw: Bytes) -> Result<B256, ForwardError>;

    /// The nonces of `address`'s transactions the proposer holds but has not proposed yet,
    /// ascending (the `pending` nonce counts them). Default: none known.
    async fn pool_nonces(&self, _address: Address) -> Result<Vec<u64>, ForwardError> {
        Ok(Vec::new())
    }
}

/// Adapts any revm [`DatabaseRef`] (e.g. the store's state reader) into a [`StateView`].
pub fn erase_state<D>(db: D) -> StateView
where
    D: DatabaseRef + Send + Sync + 'static,
{
    Box::new(Erased(db))
}

/// Adapts any revm [`DatabaseRef`] into a shareable state (what [`crate::PendingBlock::state`]
/// holds).
pub fn share_state<D>(db: D) -> std::sync::Arc<dyn DatabaseRef<Error = ErasedError> + Send + Sync>
where
    D: DatabaseRef + Send + Sync + 'static,
{
    std::sync::Arc::new(Erased(db))
}

struct Erased<D>(D);

impl<D: DatabaseRef> DatabaseRef for Erased<D> {
    type Error = ErasedError;

    fn basic_ref(&self, address: Address) -> Result<Option<revm::state::AccountInfo>, Self::Error> {
        self.0.basic_ref(address).map_err(ErasedError::new)
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<revm::state::Bytecode, Self::Error> {
        self.0.code_by_hash_ref(code_hash).map_err(ErasedError::new)
    }

    fn storage_ref(
        &self,
        address: Address,
        index: alloy_primitives::U256,
    ) -> Result<alloy_primitives::U256, Self::Error> {
        self.0.storage_ref(address, index).map_err(ErasedError::new)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        self.0.block_hash_ref(number).map_err(ErasedError::new)
    }
}
