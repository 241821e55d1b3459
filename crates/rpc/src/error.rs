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
            Self::LogsBlockRangeTooLarge(_) | Self::TooManyLogs(_) => LIMIT_EXCEEDED_CODE,
            Self::Forward(ForwardError::Rejected { code, .. }) => *code,
            Self::Preconf(e) => e.code(),
            Self::Provider(_) | Self::Internal(_) => INTERNAL_ERROR_CODE,
            Self::HeaderNotFound
            | Self::NonCanonicalBlock(_)
            | Self::StateUnavailable(_)
            | Self::Halted(_)
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
            RpcError::Preconf(err) => {
                let data = match &err {
                    PreconfError::Nonce { got, expected } => {
                        Some(serde_json::json!({ "got": got, "expected": expected }))
                    }
                    PreconfError::Gas { tx_gas_limit, available } => Some(
                        serde_json::json!({ "txGasLimit": tx_gas_limit, "available": available }),
                    ),
                    _ => None,
                };
                Self::owned(code, err.to_string(), data)
            }
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
        assert_eq!(RpcError::Internal("x".into()).code(), -32603);
        let fwd = RpcError::Forward(ForwardError::Rejected {
            code: -32010,
            message: "nonce too low".into(),
            data: None,
        });
        let obj = ErrorObjectOwned::from(fwd);
        assert_eq!((obj.code(), obj.message()), (-32010, "nonce too low"));
    }
}
