//! Calling contracts over JSON-RPC (feature `client`): typed views, and sends that are simulated
//! first so a refusal comes back as the contract's error name rather than as a mined, reverted
//! transaction that cost gas.

use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, B256, Bytes, hex};
use alloy_provider::Provider;
use alloy_rpc_types_eth::{BlockId, TransactionReceipt, TransactionRequest};
use alloy_sol_types::SolCall;

/// Why a contract call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The contract refused the call: its error's name (e.g. `NoFault`), or the revert data in hex
    /// when no known interface names it.
    #[error("the contract refused the call: {0}")]
    Reverted(String),
    /// The transaction was mined but reverted (state changed between simulation and inclusion).
    #[error("transaction {0} reverted")]
    Failed(B256),
    /// The RPC failed or returned something that does not decode.
    #[error("L1 RPC: {0}")]
    Rpc(String),
}

fn rpc(e: impl std::fmt::Display) -> CallError {
    CallError::Rpc(e.to_string())
}

/// A call of `call` to `to`.
pub fn call_request<C: SolCall>(to: Address, call: &C) -> TransactionRequest {
    TransactionRequest::default().with_to(to).with_input(Bytes::from(call.abi_encode()))
}

/// Runs the view `call` on `to` at the latest block and decodes its return value.
pub async fn view<P: Provider, C: SolCall>(
    provider: &P,
    to: Address,
    call: C,
) -> Result<C::Return, CallError> {
    view_at(provider, to, call, BlockId::latest()).await
}

/// Runs the view `call` on `to` at `block` and decodes its return value.
pub async fn view_at<P: Provider, C: SolCall>(
    provider: &P,
    to: Address,
    call: C,
    block: BlockId,
) -> Result<C::Return, CallError> {
    let out = provider.call(call_request(to, &call)).block(block).await.map_err(rpc)?;
    C::abi_decode_returns(&out).map_err(rpc)
}

/// Simulates `tx` (`eth_call`): `Ok` if it would succeed; a revert is [`CallError::Reverted`] with
/// the name `name_of` finds for the 4-byte selector (else the revert data in hex).
pub async fn simulate<P: Provider>(
    provider: &P,
    tx: &TransactionRequest,
    name_of: impl Fn([u8; 4]) -> Option<&'static str>,
) -> Result<(), CallError> {
    let Err(e) = provider.call(tx.clone()).await else { return Ok(()) };
    match e.as_error_resp().and_then(|r| r.as_revert_data()) {
        Some(data) => Err(CallError::Reverted(revert_name(&data, name_of))),
        None => Err(rpc(e)),
    }
}

/// The name of the error in revert `data` (by its selector), else the data in hex.
pub fn revert_name(data: &[u8], name_of: impl Fn([u8; 4]) -> Option<&'static str>) -> String {
    data.get(..4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .and_then(name_of)
        .map_or_else(|| hex::encode_prefixed(data), str::to_owned)
}

/// [`simulate`]s `tx`, then sends it from the provider's wallet and waits for a successful
/// receipt.
pub async fn send_checked<P: Provider>(
    provider: &P,
    tx: TransactionRequest,
    name_of: impl Fn([u8; 4]) -> Option<&'static str>,
) -> Result<TransactionReceipt, CallError> {
    simulate(provider, &tx, name_of).await?;
    let receipt =
        provider.send_transaction(tx).await.map_err(rpc)?.get_receipt().await.map_err(rpc)?;
    if !receipt.status() {
        return Err(CallError::Failed(receipt.transaction_hash));
    }
    Ok(receipt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revert_names() {
        let known = |s: [u8; 4]| (s == [1, 2, 3, 4]).then_some("Known");
        assert_eq!(revert_name(&[1, 2, 3, 4, 9], known), "Known");
        assert_eq!(revert_name(&[1, 2, 3, 5], known), "0x01020305");
        assert_eq!(revert_name(&[1, 2], known), "0x0102");
        assert_eq!(revert_name(&[], known), "0x");
    }
}
