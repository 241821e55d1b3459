//! Block execution for `based` (revm 43 through alloy-evm 0.39).
//!
//! Two modes share one EVM setup:
//! - **L2 mode** ([`execute_l2_block`]): executes a derived L2 block ([`BlockInput`]) under Prague
//!   rules, as specified in `docs/protocol.md` section 5: deposits are credited first, then the L1
//!   anchor system call, then the EIP-2935 / EIP-4788 system calls, then the transactions in order.
//!   A transaction that is invalid at its position is **skipped** (left out of the block body, with a
//!   [`SkipReason`]) and the block still builds. The header is produced by the executor (except the
//!   state root, which the caller computes from the returned `BundleState`).
//! - **Strict Ethereum mode** ([`execute_strict_block`]): validates and executes a full Ethereum block
//!   (conformance fixtures): header fields are taken as given and checked, an invalid transaction makes
//!   the block invalid, withdrawals are applied after the transactions (EIP-4895), EIP-4788 / EIP-2935
//!   / EIP-7002 / EIP-7251 system calls run when their fork is active.
//!
//! Invariants: execution is deterministic and never panics on bad input; the only hard errors are
//! database failures and (L2) malformed [`BlockInput`] that derivation must never produce.
#![cfg_attr(
    not(test),
    deny(
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

mod l2;
mod spec;
mod strict;

pub use l2::{
    BlockInput, Deposit, L2_BLOCK_MAX_DEPOSITS, L2_MAX_GAS_LIMIT, L2_MIN_GAS_LIMIT,
    L2BlockExecutor, RecoveredTx, SealedHeader, TxOutcome, anchor_calldata, deposit_credits,
    execute_l2_block, execute_l2_block_recovered, gas_limit_bounds, l2_prevrandao,
    recover_transaction, recover_transactions,
};
pub use spec::{ForkSpec, spec_id_from_network};
pub use strict::{BlockError, execute_strict_block, validate_header_against_parent};

pub use based_primitives::L1Anchor;

use alloy_consensus::{Header, ReceiptEnvelope, TxEnvelope};
use alloy_eips::eip4895::Withdrawal;
use alloy_primitives::{Address, B256};
use revm::database::BundleState;

/// Why a transaction was skipped (L2 mode). The list is normative (protocol section 5.4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    /// Not a valid EIP-2718 encoding (or trailing bytes).
    #[error("undecodable transaction")]
    Undecodable,
    /// EIP-4844 blob transactions are not valid on the L2.
    #[error("blob transactions are not allowed on L2")]
    BlobTransaction,
    /// The signature does not recover a sender (invalid or high-s).
    #[error("invalid signature")]
    InvalidSignature,
    /// The transaction names another chain id.
    #[error("wrong chain id")]
    WrongChainId,
    /// The nonce does not equal the sender's account nonce.
    #[error("bad nonce: tx {tx}, account {account}")]
    BadNonce {
        /// Nonce of the transaction.
        tx: u64,
        /// Nonce of the sender account.
        account: u64,
    },
    /// The sender cannot pay `gas_limit * max_fee + value`.
    #[error("insufficient funds for gas * price + value")]
    InsufficientFunds,
    /// The transaction's gas limit exceeds the gas left in the block.
    #[error("gas limit {tx_gas_limit} exceeds remaining block gas {available}")]
    GasLimitExceedsBlock {
        /// Gas limit of the transaction.
        tx_gas_limit: u64,
        /// Gas still available in the block.
        available: u64,
    },
    /// `max_fee_per_gas` (or gas price) is below the block base fee.
    #[error("fee cap below base fee")]
    FeeCapBelowBaseFee,
    /// `max_priority_fee_per_gas` exceeds `max_fee_per_gas`.
    #[error("priority fee above fee cap")]
    PriorityFeeAboveFeeCap,
    /// The gas limit does not cover the intrinsic gas (or the EIP-7623 floor).
    #[error("intrinsic gas too low")]
    IntrinsicGasTooLow,
    /// The sender is a contract (EIP-3607; EIP-7702 delegated accounts are allowed).
    #[error("sender has code")]
    SenderHasCode,
    /// Contract creation with init code above the EIP-3860 limit.
    #[error("init code too large")]
    InitCodeTooLarge,
    /// Any other validity failure reported by revm (e.g. empty EIP-7702 authorization list).
    #[error("invalid transaction: {0}")]
    Other(String),
}

/// A transaction left out of an L2 block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedTx {
    /// Position in the input transaction list.
    pub index: usize,
    /// Hash of the raw bytes (`keccak256` of the EIP-2718 encoding).
    pub hash: B256,
    /// Why it was skipped.
    pub reason: SkipReason,
}

/// The result of executing a block (either mode).
#[derive(Debug, Clone)]
pub struct ExecutedBlock {
    /// The block header. In L2 mode `state_root` is `B256::ZERO` until the caller seals it; in strict
    /// mode it is the header as given (the caller compares its computed root with it).
    pub header: Header,
    /// Included transactions, in order.
    pub transactions: Vec<TxEnvelope>,
    /// Recovered senders, parallel to `transactions`.
    pub senders: Vec<Address>,
    /// Receipts, parallel to `transactions`.
    pub receipts: Vec<ReceiptEnvelope>,
    /// The block's withdrawals (L2: the deposits in EIP-4895 shape).
    pub withdrawals: Vec<Withdrawal>,
    /// Transactions left out (L2 mode only; always empty in strict mode).
    pub skipped: Vec<SkippedTx>,
    /// State changes with reverts (`BundleRetention::Reverts`).
    pub bundle: BundleState,
}

/// Execution failures that are not "skip the transaction".
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The state database failed.
    #[error("database error: {0}")]
    Database(String),
    /// The L2 block input breaks a rule derivation must enforce (never produced by honest derivation).
    #[error("invalid block input: {0}")]
    Input(String),
    /// A system call failed (e.g. the anchor predeploy reverted).
    #[error("system call failed: {0}")]
    SystemCall(String),
}

#[cfg(test)]
mod tests;
