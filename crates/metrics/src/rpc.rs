//! A jsonrpsee RPC middleware counting calls and their latency per method.
//!
//! The `method` label is a method the server registered, or [`crate::names::OTHER_METHOD`] for
//! anything else, so a client cannot grow the label set.

use crate::names::{LABEL_METHOD, LABEL_SERVER, OTHER_METHOD, RPC_REQUEST_DURATION, RPC_REQUESTS};
use jsonrpsee::core::middleware::{Batch, BatchEntry, Notification, RpcServiceT};
use jsonrpsee::types::Request;
use std::{collections::HashSet, future::Future, sync::Arc, time::Instant};

/// A `tower::Layer` for `jsonrpsee::server::RpcServiceBuilder` that records
/// [`RPC_REQUESTS`] and [`RPC_REQUEST_DURATION`].
#[derive(Debug, Clone)]
pub struct RpcMetricsLayer {
    server: &'static str,
    methods: Arc<HashSet<&'static str>>,
}

impl RpcMetricsLayer {
    /// A layer for the server called `server` (`node`, `proposer`, `gateway`) whose registered
    /// methods are `methods` (e.g. `RpcModule::method_names()`).
    pub fn new(server: &'static str, methods: impl IntoIterator<Item = &'static str>) -> Self {
        Self { server, methods: Arc::new(methods.into_iter().collect()) }
    }

    /// The `method` label of a call to `name`.
    pub fn label(&self, name: &str) -> &'static str {
        self.methods.get(name).copied().unwrap_or(OTHER_METHOD)
    }
}

impl<S> tower::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics { inner, layer: self.clone() }
    }
}

/// The service [`RpcMetricsLayer`] wraps around the server's RPC service.
#[derive(Debug, Clone)]
pub struct RpcMetrics<S> {
    inner: S,
    layer: RpcMetricsLayer,
}

impl<S> RpcServiceT for RpcMetrics<S>
where
    S: RpcServiceT + Send + Sync + Clone + 'static,
{
    type MethodResponse = S::MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(
        &self,
        request: Request<'a>,
    ) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        let method = self.layer.label(request.method_name());
        let server = self.layer.server;
        let started = Instant::now();
        let call = self.inner.call(request);
        async move {
            let response = call.await;
            let labels = [(LABEL_SERVER, server), (LABEL_METHOD, method)];
            metrics::counter!(RPC_REQUESTS, &labels).increment(1);
            metrics::histogram!(RPC_REQUEST_DURATION, &labels)
                .record(started.elapsed().as_secs_f64());
            response
        }
    }

    fn batch<'a>(
        &self,
        requests: Batch<'a>,
    ) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        // The root service answers the batch's calls itself (not through `call`): count them here.
        for entry in requests.iter() {
            if let Ok(BatchEntry::Call(request)) = entry {
                let method = self.layer.label(request.method_name());
                let labels = [(LABEL_SERVER, self.layer.server), (LABEL_METHOD, method)];
                metrics::counter!(RPC_REQUESTS, &labels).increment(1);
            }
        }
        self.inner.batch(requests)
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.inner.notification(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        let layer = RpcMetricsLayer::new("node", ["eth_chainId", "eth_blockNumber"]);
        assert_eq!(layer.label("eth_chainId"), "eth_chainId");
        assert_eq!(layer.label("eth_blockNumber"), "eth_blockNumber");
        assert_eq!(layer.label("eth_doesNotExist"), OTHER_METHOD);
        assert_eq!(layer.label(&"x".repeat(10_000)), OTHER_METHOD);
    }
}
