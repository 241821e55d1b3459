//! Shared helpers: providers, contract deployment, blob transactions.

use alloy_consensus::{SidecarBuilder, SimpleCoder};
use alloy_eips::eip4844::BlobTransactionSidecar;
use alloy_network::{EthereumWallet, TransactionBuilder, TransactionBuilder4844};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::{TransactionReceipt, TransactionRequest};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
pub(crate) use based_anvil::{DEV_KEYS, free_port};
use based_contracts::Inbox;

/// A test L1: anvil (Prague rules) on a free or given port, killed on drop.
pub(crate) struct Anvil(based_anvil::Anvil);

impl Anvil {
    /// Starts anvil on a free port with `extra` arguments.
    pub(crate) fn spawn(extra: &[&str]) -> Result<Self, based_anvil::AnvilError> {
        Self::start(None, extra)
    }

    /// Starts anvil on `port` with `extra` arguments.
    pub(crate) fn spawn_on_port(
        port: u16,
        extra: &[&str],
    ) -> Result<Self, based_anvil::AnvilError> {
        Self::start(Some(port), extra)
    }

    fn start(port: Option<u16>, extra: &[&str]) -> Result<Self, based_anvil::AnvilError> {
        let opts = based_anvil::AnvilOptions {
            port,
            extra_args: extra.iter().map(|a| (*a).to_string()).collect(),
            ..Default::default()
        };
        based_anvil::Anvil::spawn(&opts).map(Self)
    }

    /// JSON-RPC URL, also the beacon API base URL.
    pub(crate) fn url(&self) -> alloy_transport_http::reqwest::Url {
        self.0.endpoint().parse().expect("anvil endpoint is a URL")
    }

    /// Kills anvil now (also done on drop).
    pub(crate) fn kill(&mut self) {
        self.0.kill();
    }
}

/// A provider signing with dev account `index`.
pub(crate) fn wallet_provider(anvil: &Anvil, index: usize) -> DynProvider {
    let signer: PrivateKeySigner = DEV_KEYS[index].parse().unwrap();
    ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(anvil.url()).erased()
}

/// Deploys the Inbox from dev account 0 and returns its address.
pub(crate) async fn deploy_inbox(provider: &DynProvider) -> Address {
    let tx = TransactionRequest::default().with_deploy_code(based_contracts::inbox_creation_code());
    let receipt = provider.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status(), "deploy failed");
    receipt.contract_address.unwrap()
}

/// A sidecar carrying `data` (SimpleCoder encoding).
pub(crate) fn sidecar(data: &[u8]) -> BlobTransactionSidecar {
    SidecarBuilder::<SimpleCoder>::from_slice(data).build_4844().unwrap()
}

/// Sends `propose()` in a blob transaction carrying `sidecar`; returns the receipt.
pub(crate) async fn propose(
    provider: &DynProvider,
    inbox: Address,
    sidecar: BlobTransactionSidecar,
) -> TransactionReceipt {
    let tx = TransactionRequest::default()
        .with_to(inbox)
        .with_input(Bytes::from(Inbox::proposeCall {}.abi_encode()))
        .with_max_fee_per_blob_gas(10_000_000_000)
        .with_blob_sidecar_4844(sidecar);
    provider.send_transaction(tx).await.unwrap().get_receipt().await.unwrap()
}

/// Sends `deposit(to)` with `value` wei.
pub(crate) async fn deposit(
    provider: &DynProvider,
    inbox: Address,
    to: Address,
    value: U256,
) -> TransactionReceipt {
    let tx = TransactionRequest::default()
        .with_to(inbox)
        .with_value(value)
        .with_input(Bytes::from(Inbox::depositCall { to }.abi_encode()));
    provider.send_transaction(tx).await.unwrap().get_receipt().await.unwrap()
}

/// Sends `forceInclude(signed_tx)` with `fee` wei.
pub(crate) async fn force_include(
    provider: &DynProvider,
    inbox: Address,
    signed_tx: Bytes,
    fee: U256,
) -> TransactionReceipt {
    let tx = TransactionRequest::default()
        .with_to(inbox)
        .with_value(fee)
        .with_input(Bytes::from(Inbox::forceIncludeCall { signedTx: signed_tx }.abi_encode()));
    provider.send_transaction(tx).await.unwrap().get_receipt().await.unwrap()
}

/// Mines `n` empty blocks.
pub(crate) async fn mine(provider: &DynProvider, n: u64) {
    let _: serde_json::Value =
        provider.raw_request("anvil_mine".into(), (U256::from(n),)).await.unwrap();
}

/// Hash of canonical block `n`.
pub(crate) async fn block_hash(provider: &DynProvider, n: u64) -> B256 {
    provider.get_block_by_number(n.into()).await.unwrap().unwrap().header.hash
}
