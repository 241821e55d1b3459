//! `eth_subscribe` / `eth_unsubscribe` over WebSocket: `newHeads`, `logs`,
//! `newPendingTransactions`.
//!
//! Each subscription owns a receiver of the [`ChainEvents`] channels taken *before* it is
//! accepted, so nothing published after the answer is missed.
//! - `newHeads`: the header of every committed block, in order; after an unwind the new
//!   canonical blocks follow (several heads can share a number, as on Ethereum).
//! - `logs`: the logs of committed blocks matching the address/topics filter (block bounds are
//!   ignored, as in geth), and the logs of unwound blocks again with `removed: true`.
//! - `newPendingTransactions`: hashes of transactions this node accepted (see
//!   [`ChainEvents::publish_pending`]); full transactions (`true`) are refused.
//!
//! A subscription that falls more than the channel's capacity behind is closed with an error
//! notification rather than skipping events silently. The per-connection count is bounded by
//! the server ([`crate::RpcConfig::max_subscriptions_per_connection`]).

use std::sync::Arc;

use alloy_rpc_types_eth::{
    Filter, Header,
    pubsub::{Params, SubscriptionKind},
};
use jsonrpsee::{
    PendingSubscriptionSink, SubscriptionSink,
    core::{SubscriptionResult, async_trait, to_json_raw_value},
    types::{ErrorObjectOwned, error::INVALID_PARAMS_CODE},
};
use serde::Serialize;
use tokio::sync::broadcast::{self, error::RecvError};
use tracing::debug;

use crate::{
    api::EthPubSubApiServer,
    events::{ChainEvent, ChainEvents},
    filters::matching_logs,
};

/// The `eth_subscribe` handler.
#[derive(Debug, Clone)]
pub(crate) struct PubSub {
    events: ChainEvents,
}

impl PubSub {
    pub(crate) const fn new(events: ChainEvents) -> Self {
        Self { events }
    }
}

fn invalid(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INVALID_PARAMS_CODE, message.into(), None::<()>)
}

/// Forwards the items `map` makes of each received value until the client leaves.
async fn pipe<T, I, F>(
    sink: SubscriptionSink,
    mut rx: broadcast::Receiver<T>,
    mut map: F,
) -> SubscriptionResult
where
    T: Clone,
    I: Serialize,
    F: FnMut(T) -> Vec<I>,
{
    loop {
        let received = tokio::select! {
            () = sink.closed() => return Ok(()),
            received = rx.recv() => received,
        };
        match received {
            Ok(value) => {
                for item in map(value) {
                    let message = to_json_raw_value(&item)?;
                    if sink.send(message).await.is_err() {
                        return Ok(());
                    }
                }
            }
            Err(RecvError::Lagged(lost)) => {
                debug!(target: "rpc::pubsub", lost, "closing a subscription that fell behind");
                return Err(format!(
                    "subscription fell {lost} events behind and was closed; subscribe again"
                )
                .into());
            }
            Err(RecvError::Closed) => return Ok(()),
        }
    }
}

#[async_trait]
impl EthPubSubApiServer for PubSub {
    async fn subscribe(
        &self,
        pending: PendingSubscriptionSink,
        kind: SubscriptionKind,
        params: Option<serde_json::Value>,
    ) -> SubscriptionResult {
        let params = match params.map(Params::from_json_value).transpose() {
            Ok(p) => p.unwrap_or_default(),
            Err(e) => {
                pending.reject(invalid(format!("invalid subscription params: {e}"))).await;
                return Ok(());
            }
        };
        match (kind, params) {
            (SubscriptionKind::NewHeads, Params::None) => {
                let rx = self.events.subscribe();
                let sink = pending.accept().await?;
                pipe(sink, rx, |event: Arc<ChainEvent>| match &*event {
                    ChainEvent::Committed(blocks) => blocks
                        .iter()
                        .map(|b| Header {
                            hash: b.header.hash,
                            inner: b.header.header.clone(),
                            total_difficulty: None,
                            size: None,
                        })
                        .collect(),
                    ChainEvent::Unwound(_) => Vec::new(),
                })
                .await
            }
            (SubscriptionKind::Logs, params @ (Params::None | Params::Logs(_))) => {
                let filter = match params {
                    Params::Logs(filter) => *filter,
                    _ => Filter::default(),
                };
                let rx = self.events.subscribe();
                let sink = pending.accept().await?;
                pipe(sink, rx, move |event: Arc<ChainEvent>| {
                    matching_logs(&event, &filter, None, None)
                })
                .await
            }
            (SubscriptionKind::NewPendingTransactions, Params::None | Params::Bool(false)) => {
                let rx = self.events.subscribe_pending();
                let sink = pending.accept().await?;
                pipe(sink, rx, |hash| vec![hash]).await
            }
            (SubscriptionKind::NewPendingTransactions, Params::Bool(true)) => {
                pending
                    .reject(invalid(
                        "full pending transactions are not supported: subscribe without `true` for hashes",
                    ))
                    .await;
                Ok(())
            }
            (SubscriptionKind::Syncing, _) => {
                pending.reject(invalid("`syncing` subscriptions are not supported")).await;
                Ok(())
            }
            (kind, _) => {
                pending
                    .reject(invalid(format!("invalid params for a {kind:?} subscription")))
                    .await;
                Ok(())
            }
        }
    }
}
