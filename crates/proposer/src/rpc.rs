//! The proposer's transaction-submission JSON-RPC endpoint (`eth_sendRawTransaction`).

use crate::{
    accounts::AccountSource,
    pool::{PoolError, TxPool},
    posting::{PostingStats, PostingStatus, unix_now_ms},
};
use alloy_primitives::{Address, B256, Bytes, U64};
use jsonrpsee::{
    core::RpcResult,
    proc_macros::rpc,
    server::{Server, ServerHandle},
    types::ErrorObjectOwned,
};
use std::{net::SocketAddr, sync::Arc};

/// JSON-RPC methods served by the proposer.
#[rpc(server, client)]
pub trait ProposerRpc {
    /// Queues a signed EIP-2718 transaction for the next proposal; returns its hash.
    #[method(name = "eth_sendRawTransaction")]
    async fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256>;

    /// Queues a transaction the preconfirmation gateway promised: it goes into the batch before
    /// every ordinary transaction, in the order promises are handed over; returns its hash.
    #[method(name = "based_sendPromisedTransaction")]
    async fn send_promised_transaction(&self, raw: Bytes) -> RpcResult<B256>;

    /// The L2 chain id the proposer accepts transactions for.
    #[method(name = "eth_chainId")]
    async fn chain_id(&self) -> RpcResult<U64>;

    /// Number of transactions waiting for a proposal.
    #[method(name = "based_pendingTransactionCount")]
    async fn pending_count(&self) -> RpcResult<U64>;

    /// The nonces of `address`'s transactions waiting for a proposal, ascending: what a node adds
    /// to its `pending` nonce (`eth_getTransactionCount(.., "pending")`), as geth counts its pool.
    #[method(name = "based_poolNonces")]
    async fn pool_nonces(&self, address: Address) -> RpcResult<Vec<U64>>;

    /// The measured posting latency of promised transactions ([`PostingStatus`]): what a gateway
    /// needs to promise only slots this proposer can meet.
    #[method(name = "based_postingStatus")]
    async fn posting_status(&self) -> RpcResult<PostingStatus>;
}

struct Api {
    pool: Arc<TxPool>,
    chain_id: u64,
    /// The senders' L2 accounts (`None`: no L2 node configured, the account rule is skipped).
    accounts: Option<Arc<dyn AccountSource>>,
    /// Arrivals of promised transactions and their posting latency.
    stats: Arc<PostingStats>,
    /// Wakes the proposal loop when a promised transaction arrives.
    wake: Arc<tokio::sync::Notify>,
}

/// The pool's refusal as a JSON-RPC error (geth's wording and codes, `based-admission`).
fn to_rpc_error(e: PoolError) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(e.code(), e.to_string(), None::<()>)
}

#[jsonrpsee::core::async_trait]
impl ProposerRpcServer for Api {
    async fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256> {
        // The stateless rule first (no L2 read for garbage), then the sender's account.
        let tx = self.pool.check(&raw).map_err(to_rpc_error)?;
        let account = match &self.accounts {
            Some(accounts) => Some(
                accounts.account(tx.sender).await.map_err(|e| to_rpc_error(PoolError::State(e)))?,
            ),
            None => None,
        };
        let hash = self.pool.add_checked(&tx, &raw, account.as_ref()).map_err(|e| {
            tracing::debug!(target: "proposer::rpc", hash = %tx.hash, error = %e, "transaction refused");
            to_rpc_error(e)
        })?;
        tracing::debug!(target: "proposer::rpc", %hash, "transaction queued");
        Ok(hash)
    }

    async fn send_promised_transaction(&self, raw: Bytes) -> RpcResult<B256> {
        let hash = self.pool.add_promised(&raw).map_err(to_rpc_error)?;
        self.stats.arrived(hash, unix_now_ms());
        self.wake.notify_one();
        tracing::debug!(target: "proposer::rpc", %hash, "promised transaction queued");
        Ok(hash)
    }

    async fn chain_id(&self) -> RpcResult<U64> {
        Ok(U64::from(self.chain_id))
    }

    async fn pending_count(&self) -> RpcResult<U64> {
        Ok(U64::from(self.pool.len()))
    }

    async fn pool_nonces(&self, address: Address) -> RpcResult<Vec<U64>> {
        Ok(self.pool.nonces_of(address).into_iter().map(U64::from).collect())
    }

    async fn posting_status(&self) -> RpcResult<PostingStatus> {
        Ok(self.stats.status(unix_now_ms()))
    }
}

pub(crate) async fn start(
    addr: SocketAddr,
    pool: Arc<TxPool>,
    chain_id: u64,
    accounts: Option<Arc<dyn AccountSource>>,
    stats: Arc<PostingStats>,
    wake: Arc<tokio::sync::Notify>,
) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let module = Api { pool, chain_id, accounts, stats, wake }.into_rpc();
    let metrics = based_metrics::RpcMetricsLayer::new("proposer", module.method_names());
    let server = Server::builder()
        .set_rpc_middleware(
            jsonrpsee::server::middleware::rpc::RpcServiceBuilder::new().layer(metrics),
        )
        .build(addr)
        .await?;
    let local = server.local_addr()?;
    let handle = server.start(module);
    Ok((local, handle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
    use alloy_eips::eip2718::Encodable2718;
    use alloy_network::TxSignerSync;
    use alloy_primitives::{Address, TxKind, U256};
    use alloy_signer_local::PrivateKeySigner;
    use based_admission::Account;
    use jsonrpsee::http_client::HttpClientBuilder;
    use std::collections::HashMap;

    /// Accounts from a map; absent ones are empty (fresh keys).
    #[derive(Debug, Default)]
    struct FakeAccounts(HashMap<Address, Account>);

    #[jsonrpsee::core::async_trait]
    impl AccountSource for FakeAccounts {
        async fn account(&self, address: Address) -> Result<Account, String> {
            Ok(self.0.get(&address).copied().unwrap_or_default())
        }
    }

    fn tx(key: u8, nonce: u64, gas_limit: u64) -> (Address, Bytes) {
        let signer = PrivateKeySigner::from_bytes(&B256::repeat_byte(key)).unwrap();
        let mut tx = TxEip1559 {
            chain_id: 4242,
            nonce,
            gas_limit,
            max_fee_per_gas: 1_000_000_000,
            max_priority_fee_per_gas: 1,
            to: TxKind::Call(Address::repeat_byte(1)),
            ..Default::default()
        };
        let sig = signer.sign_transaction_sync(&mut tx).unwrap();
        (signer.address(), TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into())
    }

    fn call_error(err: jsonrpsee::core::client::Error) -> (i32, String) {
        match err {
            jsonrpsee::core::client::Error::Call(obj) => (obj.code(), obj.message().to_string()),
            other => panic!("unexpected error {other:?}"),
        }
    }

    /// A proposer RPC over `pool` (no account source) on 127.0.0.1:0 and a client of it.
    async fn serve(pool: Arc<TxPool>) -> (jsonrpsee::http_client::HttpClient, ServerHandle) {
        let (addr, handle) = start(
            "127.0.0.1:0".parse().unwrap(),
            pool,
            4242,
            None,
            Default::default(),
            Default::default(),
        )
        .await
        .unwrap();
        (HttpClientBuilder::default().build(format!("http://{addr}")).unwrap(), handle)
    }

    #[tokio::test]
    async fn rejects_garbage_with_invalid_params_and_counts_pending() {
        let (client, handle) = serve(Arc::new(TxPool::new(4242, 8))).await;
        assert_eq!(client.chain_id().await.unwrap(), U64::from(4242));
        let err = client.send_raw_transaction(Bytes::from_static(&[0x02, 0x01])).await.unwrap_err();
        assert_eq!(call_error(err).0, based_admission::INVALID_PARAMS);
        assert_eq!(client.pending_count().await.unwrap(), U64::ZERO);
        handle.stop().unwrap();
        handle.stopped().await;
    }

    #[tokio::test]
    async fn reports_the_queued_nonces_of_a_sender() {
        let pool = Arc::new(TxPool::new(4242, 8));
        let (client, handle) = serve(Arc::clone(&pool)).await;
        let (sender, first) = tx(1, 0, 21_000);
        assert!(client.pool_nonces(sender).await.unwrap().is_empty());
        client.send_raw_transaction(tx(1, 1, 21_000).1).await.unwrap();
        client.send_raw_transaction(first).await.unwrap();
        client.send_promised_transaction(tx(1, 2, 21_000).1).await.unwrap();
        client.send_raw_transaction(tx(2, 7, 21_000).1).await.unwrap();
        assert_eq!(
            client.pool_nonces(sender).await.unwrap(),
            vec![U64::from(0), U64::from(1), U64::from(2)]
        );
        // Taken for a proposal: no longer waiting.
        pool.take(usize::MAX, usize::MAX);
        assert!(client.pool_nonces(sender).await.unwrap().is_empty());
        handle.stop().unwrap();
        handle.stopped().await;
    }

    #[tokio::test]
    async fn refuses_low_nonce_gas_above_block_and_unfunded_with_json_rpc_errors() {
        let pool = Arc::new(TxPool::new(4242, 8));
        pool.set_block_limits(1_000_000, 7);
        let (sender, _) = tx(1, 0, 21_000);
        let accounts = FakeAccounts(HashMap::from([(
            sender,
            Account { nonce: 5, balance: U256::from(10u128.pow(18)) },
        )]));
        let (addr, handle) = start(
            "127.0.0.1:0".parse().unwrap(),
            pool,
            4242,
            Some(Arc::new(accounts)),
            Default::default(),
            Default::default(),
        )
        .await
        .unwrap();
        let client = HttpClientBuilder::default().build(format!("http://{addr}")).unwrap();
        let (code, message) =
            call_error(client.send_raw_transaction(tx(1, 4, 21_000).1).await.unwrap_err());
        assert_eq!(code, -32000);
        assert!(message.starts_with("nonce too low"), "{message}");
        let (_, message) =
            call_error(client.send_raw_transaction(tx(1, 5, 1_000_001).1).await.unwrap_err());
        assert!(message.starts_with("exceeds block gas limit"), "{message}");
        let (_, message) =
            call_error(client.send_raw_transaction(tx(2, 0, 21_000).1).await.unwrap_err());
        assert!(message.starts_with("insufficient funds for gas * price + value"), "{message}");
        let (_, raw) = tx(1, 5, 21_000);
        assert_eq!(client.send_raw_transaction(raw.clone()).await.unwrap(), keccak(&raw));
        assert_eq!(client.pending_count().await.unwrap(), U64::from(1));
        handle.stop().unwrap();
        handle.stopped().await;
    }

    fn keccak(raw: &Bytes) -> B256 {
        alloy_primitives::keccak256(raw)
    }
}
