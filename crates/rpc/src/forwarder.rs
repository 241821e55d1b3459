//! [`TxForwarder`] over HTTP JSON-RPC: sends `eth_sendRawTransaction` to the proposer.

use std::time::Duration;

use alloy_primitives::{Address, B256, Bytes, U64};
use jsonrpsee::{
    core::{ClientError, async_trait, client::ClientT},
    http_client::{HttpClient, HttpClientBuilder},
    rpc_params,
};

use crate::backend::{ForwardError, TxForwarder};

/// Forwards raw transactions to a JSON-RPC endpoint (the proposer's) with
/// `eth_sendRawTransaction`. JSON-RPC errors from the endpoint are passed through unchanged.
#[derive(Debug, Clone)]
pub struct HttpForwarder {
    url: String,
    client: HttpClient,
}

impl HttpForwarder {
    /// Creates a forwarder for `url` (e.g. `http://127.0.0.1:9545`) with a 10 s request timeout.
    pub fn new(url: &str) -> Result<Self, ForwardError> {
        Self::with_timeout(url, Duration::from_secs(10))
    }

    /// Creates a forwarder with a custom request timeout.
    pub fn with_timeout(url: &str, timeout: Duration) -> Result<Self, ForwardError> {
        let client = HttpClientBuilder::default()
            .request_timeout(timeout)
            .build(url)
            .map_err(|e| ForwardError::Transport(e.to_string()))?;
        Ok(Self { url: url.to_string(), client })
    }

    /// The target URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

#[async_trait]
impl TxForwarder for HttpForwarder {
    /// `based_poolNonces` of the proposer; a proposer without the method (`-32601`) holds none
    /// that it reports.
    async fn pool_nonces(&self, address: Address) -> Result<Vec<u64>, ForwardError> {
        match self.client.request::<Vec<U64>, _>("based_poolNonces", rpc_params![address]).await {
            Ok(nonces) => Ok(nonces.into_iter().map(|n| n.to::<u64>()).collect()),
            Err(ClientError::Call(obj)) if obj.code() == -32601 => Ok(Vec::new()),
            Err(other) => Err(ForwardError::Transport(other.to_string())),
        }
    }

    async fn forward(&self, raw: Bytes) -> Result<B256, ForwardError> {
        self.client.request::<B256, _>("eth_sendRawTransaction", rpc_params![raw]).await.map_err(
            |err| match err {
                ClientError::Call(obj) => ForwardError::Rejected {
                    code: obj.code(),
                    message: obj.message().to_string(),
                    data: obj.data().and_then(|d| serde_json::from_str(d.get()).ok()),
                },
                other => ForwardError::Transport(other.to_string()),
            },
        )
    }
}
