//! Inputs of the derivation: one L1 block with its decoded `Inbox` events.
//!
//! The node builds these from its L1 source (execution extension notifications, RPC, ...); the
//! derivation never performs I/O itself.

use alloy_primitives::{Address, B256, Bytes, U256};

/// Identity and linkage of an L1 block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct L1BlockRef {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// Parent block hash.
    pub parent_hash: B256,
    /// Block timestamp (seconds).
    pub timestamp: u64,
}

/// One L1 block as the derivation consumes it: its header fields and the `Inbox` events it emitted,
/// in log order (transaction index, then log index).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct L1BlockInput {
    /// The L1 block.
    pub block: L1BlockRef,
    /// `Inbox` events of the block in log order. Logs of other contracts must not be included.
    pub events: Vec<InboxEvent>,
}

/// A decoded `Inbox` event (protocol §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboxEvent {
    /// `Proposed(uint256 indexed id, address indexed proposer, bytes32[] blobHashes)`.
    Proposed(ProposedEvent),
    /// `Deposited(uint256 indexed id, address indexed from, address indexed to, uint256 amount)`.
    Deposited(DepositedEvent),
    /// `ForcedInclusionQueued(uint256 indexed id, address indexed sender, bytes signedTx)`.
    ForcedInclusionQueued(ForcedInclusionQueuedEvent),
}

/// A proposal: binds the blobs of the emitting blob transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProposedEvent {
    /// Proposal id (per-kind sequence number starting at 0).
    pub id: u64,
    /// Proposer (the `propose` caller).
    pub proposer: Address,
    /// Versioned hashes of the blobs of the proposing transaction, in blob order (may be empty for
    /// a proposal with promised transactions).
    pub blob_hashes: Vec<B256>,
    /// The promised transactions of the proposal (`Inbox.Promised`, emitted by `proposePromised`
    /// right after `Proposed`), in order; empty for `propose`. Always included (protocol §7.3).
    pub promised: Vec<Bytes>,
    /// Index of the proposing transaction in its L1 block.
    pub tx_index: u64,
    /// Index of the log in its L1 block.
    pub log_index: u64,
}

/// A deposit of ETH from L1 to an L2 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DepositedEvent {
    /// Deposit id (per-kind sequence number starting at 0).
    pub id: u64,
    /// L1 sender.
    pub from: Address,
    /// L2 recipient.
    pub to: Address,
    /// Amount in wei; the contract guarantees a positive multiple of 1 gwei.
    pub amount: U256,
}

/// A transaction queued for forced inclusion.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ForcedInclusionQueuedEvent {
    /// Forced-inclusion id (per-kind sequence number starting at 0).
    pub id: u64,
    /// L1 sender who paid the fee.
    pub sender: Address,
    /// The signed L2 transaction (EIP-2718 bytes), opaque to the derivation.
    pub signed_tx: Bytes,
}
