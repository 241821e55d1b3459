//! Chain events the node publishes and the RPC consumes (filters and subscriptions).
//!
//! The node's driver publishes [`ChainEvent::Committed`] after importing L2 blocks and
//! [`ChainEvent::Unwound`] (with the unwound blocks' logs, read *before* the unwind) when an L1
//! reorg unwinds L2 blocks; the server publishes the hashes of transactions that become pending
//! (see [`ChainEvents::publish_pending`]). Channels are `tokio::sync::broadcast` rings of fixed
//! capacity: a consumer that falls more than `capacity` events behind loses the oldest ones and
//! learns it (`Lagged`); the filters and subscriptions then answer or close with an error, never
//! silently skip.
//!
//! Invariants:
//! - Events are published in chain order: an `Unwound` lists exactly the blocks above the new
//!   head, ascending, and every later `Committed` extends that head.
//! - Publishing is free when nobody listens ([`ChainEvents::has_listeners`]): the driver then
//!   reads nothing extra from the store.

use std::sync::Arc;

use alloy_primitives::B256;
use alloy_rpc_types_eth::Log;
use tokio::sync::broadcast;

use crate::{
    backend::{ChainProvider, ProviderError, SealedHeader},
    convert::rpc_receipts,
};

/// Default capacity of the chain-event channel (events, not blocks).
pub const DEFAULT_CHAIN_EVENT_CAPACITY: usize = 256;
/// Default capacity of the pending-transaction channel (hashes).
pub const DEFAULT_PENDING_TX_CAPACITY: usize = 4096;

/// One canonical block as filters and subscriptions need it: its header and its logs (with
/// block hash, number, transaction hash and indexes filled in, `removed: false`).
#[derive(Debug, Clone, PartialEq)]
pub struct ChainBlock {
    /// The header and its hash.
    pub header: SealedHeader,
    /// Every log of the block, in block order.
    pub logs: Vec<Log>,
}

impl ChainBlock {
    /// Reads canonical block `number` from `chain` (`None` if it is not stored).
    pub fn load(chain: &dyn ChainProvider, number: u64) -> Result<Option<Self>, ProviderError> {
        let (Some(header), Some(body), Some(receipts)) =
            (chain.header_by_number(number)?, chain.body(number)?, chain.receipts(number)?)
        else {
            return Ok(None);
        };
        let logs = rpc_receipts(&header, Some(header.hash), &body, receipts)
            .into_iter()
            .flat_map(|r| r.inner.logs().to_vec())
            .collect();
        Ok(Some(Self { header, logs }))
    }

    /// Reads canonical blocks `from ..= to` (stops at the first missing one).
    pub fn load_range(
        chain: &dyn ChainProvider,
        from: u64,
        to: u64,
    ) -> Result<Vec<Arc<Self>>, ProviderError> {
        let mut out = Vec::new();
        for number in from..=to {
            match Self::load(chain, number)? {
                Some(block) => out.push(Arc::new(block)),
                None => break,
            }
        }
        Ok(out)
    }
}

/// A change of the canonical L2 chain.
#[derive(Debug, Clone, PartialEq)]
pub enum ChainEvent {
    /// Blocks appended to the head, ascending.
    Committed(Vec<Arc<ChainBlock>>),
    /// Blocks removed from the head by an unwind, ascending (their logs are re-delivered with
    /// `removed: true`).
    Unwound(Vec<Arc<ChainBlock>>),
}

/// The publishing side of the chain and pending-transaction channels; cheap to clone. The node
/// keeps one and hands a clone to the server ([`crate::RpcDeps::events`]).
#[derive(Debug, Clone)]
pub struct ChainEvents {
    chain: broadcast::Sender<Arc<ChainEvent>>,
    pending: broadcast::Sender<B256>,
}

impl Default for ChainEvents {
    fn default() -> Self {
        Self::new(DEFAULT_CHAIN_EVENT_CAPACITY, DEFAULT_PENDING_TX_CAPACITY)
    }
}

impl ChainEvents {
    /// Channels holding at most `chain_capacity` chain events and `pending_capacity` pending
    /// transaction hashes not yet taken by the slowest consumer (each at least 1).
    pub fn new(chain_capacity: usize, pending_capacity: usize) -> Self {
        Self {
            chain: broadcast::channel(chain_capacity.max(1)).0,
            pending: broadcast::channel(pending_capacity.max(1)).0,
        }
    }

    /// Whether any filter or subscription listens to chain events (if not, the node can skip
    /// reading the blocks it would publish).
    pub fn has_listeners(&self) -> bool {
        self.chain.receiver_count() > 0
    }

    /// Publishes a chain event (dropped if nobody listens).
    pub fn publish(&self, event: ChainEvent) {
        let empty = match &event {
            ChainEvent::Committed(b) | ChainEvent::Unwound(b) => b.is_empty(),
        };
        if !empty {
            // An error only means there is no receiver.
            let _ = self.chain.send(Arc::new(event));
        }
    }

    /// Publishes the hash of a transaction that became pending at this node.
    pub fn publish_pending(&self, hash: B256) {
        let _ = self.pending.send(hash);
    }

    /// A new receiver of chain events (sees events published from now on).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<ChainEvent>> {
        self.chain.subscribe()
    }

    /// A new receiver of pending transaction hashes.
    pub fn subscribe_pending(&self) -> broadcast::Receiver<B256> {
        self.pending.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_reach_subscribers_and_lag_is_reported() {
        let events = ChainEvents::new(2, 2);
        assert!(!events.has_listeners());
        let mut rx = events.subscribe();
        assert!(events.has_listeners());
        let block = Arc::new(ChainBlock {
            header: SealedHeader { header: Default::default(), hash: B256::repeat_byte(1) },
            logs: Vec::new(),
        });
        events.publish(ChainEvent::Committed(Vec::new()));
        assert!(rx.try_recv().is_err(), "empty events are not published");
        for _ in 0..3 {
            events.publish(ChainEvent::Committed(vec![block.clone()]));
        }
        assert!(matches!(rx.try_recv(), Err(broadcast::error::TryRecvError::Lagged(1))));
        assert_eq!(*rx.try_recv().unwrap(), ChainEvent::Committed(vec![block]));
    }
}
