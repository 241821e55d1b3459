//! The proposer's transaction-submission JSON-RPC endpoint (`eth_sendRawTransaction`).

use crate::pool::{PoolError, TxPool};
use alloy_primitives::{B256, Bytes, U64};
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
}

struct Api {
    pool: Arc<TxPool>,
    chain_id: u64,
}

/// JSON-RPC error code for a rejected transaction (geth's and execution-apis' convention).
const TX_REJECTED: i32 = -32000;
/// JSON-RPC error code for invalid params.
const INVALID_PARAMS: i32 = -32602;

fn to_rpc_error(e: PoolError) -> ErrorObjectOwned {
    let code = match e {
        PoolError::Decode(_) | PoolError::TrailingBytes => INVALID_PARAMS,
        _ => TX_REJECTED,
    };
    ErrorObjectOwned::owned(code, e.to_string(), None::<()>)
}

#[jsonrpsee::core::async_trait]
impl ProposerRpcServer for Api {
    async fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256> {
        let hash = self.pool.add_raw(&raw).map_err(to_rpc_error)?;
        tracing::debug!(target: "proposer::rpc", %hash, "transaction queued");
        Ok(hash)
    }

    async fn send_promised_transaction(&self, raw: Bytes) -> RpcResult<B256> {
        let hash = self.pool.add_promised(&raw).map_err(to_rpc_error)?;
        tracing::debug!(target: "proposer::rpc", %hash, "promised transaction queued");
        Ok(hash)
    }

    async fn chain_id(&self) -> RpcResult<U64> {
        Ok(U64::from(self.chain_id))
    }

    async fn pending_count(&self) -> RpcResult<U64> {
        Ok(U64::from(self.pool.len()))
    }
}

pub(crate) async fn start(
    addr: SocketAddr,
    pool: Arc<TxPool>,
    chain_id: u64,
) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let module = Api { pool, chain_id }.into_rpc();
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
    use jsonrpsee::http_client::HttpClientBuilder;

    #[tokio::test]
    async fn rejects_garbage_with_invalid_params_and_counts_pending() {
        let pool = Arc::new(TxPool::new(4242, 8));
        let (addr, handle) = start("127.0.0.1:0".parse().unwrap(), pool, 4242).await.unwrap();
        let client = HttpClientBuilder::default().build(format!("http://{addr}")).unwrap();
        assert_eq!(client.chain_id().await.unwrap(), U64::from(4242));
        let err = client.send_raw_transaction(Bytes::from_static(&[0x02, 0x01])).await.unwrap_err();
        match err {
            jsonrpsee::core::client::Error::Call(obj) => assert_eq!(obj.code(), INVALID_PARAMS),
            other => panic!("unexpected error {other:?}"),
        }
        assert_eq!(client.pending_count().await.unwrap(), U64::ZERO);
        handle.stop().unwrap();
        handle.stopped().await;
    }
}
