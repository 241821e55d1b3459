//! RPC errors and their JSON-RPC encoding.
//!
//! Codes follow geth / EIP-1474 so that wallets, `cast` and alloy interpret them as usual:
//! `-32602` invalid params, `-32603` internal, `3` execution reverted (revert data in `data`),
//! `-32000` invalid input / rejected transaction, `-32005` limit exceeded.

use alloy_primitives::{Bytes, hex};
use alloy_sol_types::{Panic, Revert, SolError};
use jsonrpsee::types::{
    ErrorObjectOwned,
    error::{INTERNAL_ERROR_CODE, INVALID_PARAMS_CODE},
};

use crate::{
    backend::{ForwardError, ProviderError},
    preconf::PreconfError,
};

/// geth's code for a reverted `eth_call` / `eth_estimateGas`.
pub const EXECUTION_REVERTED_CODE: i32 = 3;
/// EIP-1474 "invalid input"; geth uses it for most request-level failures.
pub const INVALID_INPUT_CODE: i32 = -32000;
/// EIP-1474 "limit exceeded".
pub const LIMIT_EXCEEDED_CODE: i32 = -32005;

/// Errors returned by the RPC handlers.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// A parameter is well formed JSON but semantically invalid.
    #[error("invalid params: {0}")]
    InvalidParams(String),
    /// The block a state or block query refers to does not exist (or is not canonical).
    #[error("header not found")]
    HeaderNotFound,
    /// A block hash given with `requireCanonical: true` is not canonical (or unknown).
    #[error("block {0} is not canonical")]
    NonCanonicalBlock(alloy_primitives::B256),
    /// The state of an older block was requested but only recent state is kept.
    #[error("historical state for block {0} is not available (only the latest state is kept)")]
    StateUnavailable(u64),
    /// The call reverted. `output` is the raw revert data.
    #[error("execution reverted{}", revert_suffix(output))]
    Reverted {
        /// Raw revert data.
        output: Bytes,
    },
    /// The call halted exceptionally (out of gas, invalid opcode, ...).
    #[error("{0}")]
    Halted(String),
    /// The transaction is invalid at the block (nonce, fees, intrinsic gas, ...).
    #[error("{0}")]
    InvalidTransaction(String),
    /// `eth_estimateGas` could not find a gas limit within the allowance.
    #[error("gas required exceeds allowance ({0})")]
    GasRequiredExceedsAllowance(u64),
    /// A raw transaction could not be decoded.
    #[error("failed to decode signed transaction: {0}")]
    DecodeTransaction(String),
    /// A raw transaction's signature is invalid.
    #[error("invalid sender signature")]
    InvalidSignature,
    /// A raw transaction targets another chain (or is pre-EIP-155 without replay protection).
    #[error("invalid chain id: expected {expected}, got {got:?}")]
    InvalidChainId {
        /// This chain's id.
        expected: u64,
        /// The transaction's chain id (`None` = no replay protection).
        got: Option<u64>,
    },
    /// The transaction type is not accepted on this chain (EIP-4844 blob transactions).
    #[error("transaction type not supported")]
    TxTypeNotSupported,
    /// `eth_getLogs` block range too large.
    #[error("query exceeds max block range {0}")]
    LogsBlockRangeTooLarge(u64),
    /// `eth_getLogs` matched too many logs.
    #[error("query exceeds max results {0}, retry with a smaller block range")]
    TooManyLogs(usize),
    /// No installed filter has this id (never installed, uninstalled, or expired).
    #[error("filter not found")]
    FilterNotFound,
    /// `eth_newFilter` & co: the filter table is full.
    #[error("too many installed filters (at most {0}); uninstall unused ones")]
    TooManyFilters(usize),
    /// The filter was not polled fast enough and chain events it should have seen were lost.
    #[error(
        "filter missed {0} chain events since its last poll (polled too rarely); it continues from the current head, fill the gap with eth_getLogs"
    )]
    FilterLagged(u64),
    /// Every slot for expensive requests stayed busy for the whole queue wait
    /// ([`crate::RpcConfig::max_concurrent_calls`], [`crate::RpcConfig::call_queue_timeout`]).
    #[error(
        "server busy: {limit} expensive requests (eth_call, eth_estimateGas, eth_createAccessList, eth_getLogs, eth_feeHistory, eth_getProof, debug_trace*) already running and none finished within {waited_ms} ms; retry later"
    )]
    Busy {
        /// [`crate::RpcConfig::max_concurrent_calls`].
        limit: usize,
        /// How long the request waited, in milliseconds.
        waited_ms: u128,
    },
    /// `eth_call` / `eth_estimateGas` / `eth_createAccessList` / a trace ran past
    /// [`crate::RpcConfig::call_timeout`] (or a tracer's shorter `timeout`) and was aborted (geth's
    /// message).
    #[error("execution aborted (timeout = {})", format_timeout(*.0))]
    Timeout(std::time::Duration),
    /// `eth_getProof` for a block older than the proof window.
    #[error(
        "block {block} is more than {window} blocks behind the head {head}: proofs are not served that far back"
    )]
    ProofWindow {
        /// Requested block.
        block: u64,
        /// The head.
        head: u64,
        /// [`crate::RpcConfig::proof_window`].
        window: u64,
    },
    /// `eth_getProof` with too many storage keys.
    #[error("too many storage keys: at most {0}")]
    TooManyProofKeys(usize),
    /// The chain provider serves no proofs (e.g. a store without a state trie).
    #[error("proofs are not available from this node")]
    ProofUnavailable,
    /// A trace recorded more struct logs than [`crate::RpcConfig::max_struct_logs`] allows.
    #[error(
        "trace exceeds {0} struct logs (the node's limit): set the tracer's `limit`, trace a smaller call, or use the callTracer"
    )]
    TooManyStructLogs(u64),
    /// A trace recorded more data than a response may hold
    /// ([`crate::RpcConfig::max_response_body_size`]).
    #[error(
        "trace exceeds the response size limit ({0} bytes): disable memory or stack, set the tracer's `limit`, or use the callTracer"
    )]
    TraceTooLarge(u64),
    /// `debug_traceTransaction` of a transaction that is in no canonical block.
    #[error("transaction {0} not found")]
    TransactionNotFound(alloy_primitives::B256),
    /// The proposer rejected a forwarded transaction, or could not be reached.
    #[error(transparent)]
    Forward(#[from] ForwardError),
    /// `based_preconfirm` / `based_dropPreconfirmed` refused (codes of [`PreconfError::code`]).
    #[error(transparent)]
    Preconf(#[from] PreconfError),
    /// Storage failure.
    #[error("internal error: {0}")]
    Provider(#[from] ProviderError),
    /// Any other internal failure.
    #[error("internal error: {0}")]
    Internal(String),
}

/// `5s`, `500ms`: a timeout as geth prints it.
fn format_timeout(d: std::time::Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn revert_suffix(output: &Bytes) -> String {
    decode_revert_reason(output).map(|r| format!(": {r}")).unwrap_or_default()
}

/// Decodes `Error(string)` and `Panic(uint256)` revert payloads into a human readable reason.
pub fn decode_revert_reason(output: &[u8]) -> Option<String> {
    if let Ok(revert) = Revert::abi_decode(output) {
        return Some(revert.reason);
    }
    if let Ok(panic) = Panic::abi_decode(output) {
        return Some(panic.to_string());
    }
    None
}

impl RpcError {
    /// The JSON-RPC error code this error maps to.
    pub const fn code(&self) -> i32 {
        match self {
            Self::InvalidParams(_) | Self::DecodeTransaction(_) => INVALID_PARAMS_CODE,
            Self::Reverted { .. } => EXECUTION_REVERTED_CODE,
            Self::LogsBlockRangeTooLarge(_)
            | Self::TooManyLogs(_)
            | Self::TooManyFilters(_)
            | Self::FilterLagged(_)
            | Self::ProofWindow { .. }
            | Self::Busy { .. }
            | Self::TooManyProofKeys(_)
            | Self::TooManyStructLogs(_)
            | Self::TraceTooLarge(_) => LIMIT_EXCEEDED_CODE,
            Self::Forward(ForwardError::Rejected { code, .. }) => *code,
            Self::Preconf(e) => e.code(),
            Self::Provider(_) | Self::Internal(_) => INTERNAL_ERROR_CODE,
            Self::HeaderNotFound
            | Self::FilterNotFound
            | Self::ProofUnavailable
            | Self::TransactionNotFound(_)
            | Self::NonCanonicalBlock(_)
            | Self::StateUnavailable(_)
            | Self::Halted(_)
            | Self::Timeout(_)
            | Self::InvalidTransaction(_)
            | Self::GasRequiredExceedsAllowance(_)
            | Self::InvalidSignature
            | Self::InvalidChainId { .. }
            | Self::TxTypeNotSupported
            | Self::Forward(ForwardError::Transport(_)) => INVALID_INPUT_CODE,
        }
    }
}

impl From<RpcError> for ErrorObjectOwned {
    fn from(err: RpcError) -> Self {
        let code = err.code();
        match err {
            RpcError::Reverted { output } => {
                let message = format!("execution reverted{}", revert_suffix(&output));
                Self::owned(code, message, Some(hex::encode_prefixed(&output)))
            }
            RpcError::Forward(ForwardError::Rejected { message, data, .. }) => {
                Self::owned(code, message, data)
            }
            RpcError::Preconf(err) => Self::owned(code, err.to_string(), err.data()),
            other => Self::owned(code, other.to_string(), None::<()>),
        }
    }
}

/// Result alias for handler internals.
pub(crate) type RpcResult<T> = Result<T, RpcError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revert_maps_to_code_3_with_data_and_reason() {
        let output = Bytes::from(Revert::from("nope").abi_encode());
        let obj = ErrorObjectOwned::from(RpcError::Reverted { output: output.clone() });
        assert_eq!(obj.code(), 3);
        assert_eq!(obj.message(), "execution reverted: nope");
        let data: String = serde_json::from_str(obj.data().unwrap().get()).unwrap();
        assert_eq!(data, hex::encode_prefixed(&output));
    }

    #[test]
    fn empty_revert_has_plain_message_and_0x_data() {
        let obj = ErrorObjectOwned::from(RpcError::Reverted { output: Bytes::new() });
        assert_eq!(obj.code(), 3);
        assert_eq!(obj.message(), "execution reverted");
        assert_eq!(obj.data().unwrap().get(), "\"0x\"");
    }

    #[test]
    fn codes() {
        assert_eq!(RpcError::InvalidParams("x".into()).code(), -32602);
        assert_eq!(RpcError::HeaderNotFound.code(), -32000);
        assert_eq!(RpcError::TooManyLogs(1).code(), -32005);
        assert_eq!(RpcError::TooManyFilters(1).code(), -32005);
        assert_eq!(RpcError::FilterLagged(1).code(), -32005);
        assert_eq!(RpcError::TooManyProofKeys(1).code(), -32005);
        assert_eq!(RpcError::TooManyStructLogs(1).code(), -32005);
        assert_eq!(RpcError::TraceTooLarge(1).code(), -32005);
        assert_eq!(RpcError::TransactionNotFound(Default::default()).code(), -32000);
        assert_eq!(RpcError::ProofWindow { block: 1, head: 9, window: 2 }.code(), -32005);
        assert_eq!(
            (RpcError::FilterNotFound.code(), RpcError::FilterNotFound.to_string()),
            (-32000, "filter not found".to_string())
        );
        assert_eq!(RpcError::Internal("x".into()).code(), -32603);
        assert_eq!(RpcError::Busy { limit: 4, waited_ms: 1000 }.code(), -32005);
        let timeout = RpcError::Timeout(std::time::Duration::from_secs(5));
        assert_eq!(
            (timeout.code(), timeout.to_string()),
            (-32000, "execution aborted (timeout = 5s)".to_string())
        );
        assert_eq!(
            RpcError::Timeout(std::time::Duration::from_millis(300)).to_string(),
            "execution aborted (timeout = 300ms)"
        );
        let fwd = RpcError::Forward(ForwardError::Rejected {
            code: -32010,
            message: "nonce too low".into(),
            data: None,
        });
        let obj = ErrorObjectOwned::from(fwd);
        assert_eq!((obj.code(), obj.message()), (-32010, "nonce too low"));
    }
}
