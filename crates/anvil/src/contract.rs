//! Helpers for contract tests against an [`Anvil`] (feature `test-utils`): a wallet provider per dev
//! account, sending with a status check, views and revert data. Test code: it panics on failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use crate::{Anvil, DEV_KEYS};
use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, Bytes, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::{TransactionReceipt, TransactionRequest};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;

/// A provider for `anvil` signing with dev account `index`.
pub fn wallet(anvil: &Anvil, index: usize) -> DynProvider {
    let signer: PrivateKeySigner = DEV_KEYS[index].parse().unwrap();
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(anvil.endpoint().parse().unwrap())
        .erased()
}

/// The address of dev account `index`.
pub fn dev_address(index: usize) -> Address {
    DEV_KEYS[index].parse::<PrivateKeySigner>().unwrap().address()
}

/// A call of `input` to `to` with `value` wei.
pub fn call_tx(to: Address, input: Vec<u8>, value: U256) -> TransactionRequest {
    TransactionRequest::default().with_to(to).with_input(Bytes::from(input)).with_value(value)
}

/// Sends `tx`, waits for the receipt and asserts it succeeded.
pub async fn send(p: &DynProvider, tx: TransactionRequest) -> TransactionReceipt {
    let receipt = p.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status(), "transaction reverted: {receipt:?}");
    receipt
}

/// `eth_call`s `tx` and returns its revert data (panics if it did not revert).
pub async fn revert_data(p: &DynProvider, tx: TransactionRequest) -> Bytes {
    let err = p.call(tx).await.expect_err("call should revert");
    err.as_error_resp()
        .and_then(|e| e.as_revert_data())
        .unwrap_or_else(|| panic!("no revert data: {err:?}"))
}

/// `eth_call`s `tx` and returns the 4-byte selector of its revert (panics if it did not revert).
pub async fn revert_selector(p: &DynProvider, tx: TransactionRequest) -> [u8; 4] {
    revert_data(p, tx).await[..4].try_into().unwrap()
}

/// Calls the view `call` on `to` and decodes its return value.
pub async fn view<C: SolCall>(p: &DynProvider, to: Address, call: C) -> C::Return {
    let out = p.call(call_tx(to, call.abi_encode(), U256::ZERO)).await.unwrap();
    C::abi_decode_returns(&out).unwrap()
}
