//! Which L1 logs (and therefore which transactions and blobs) matter to the rollup.

use alloy_primitives::{Address, B256};
use alloy_rpc_types_eth::Log;
use based_contracts::{INBOX_EVENT_TOPICS, InboxEvent};

/// A log selected by the filter could not be interpreted (bad RPC data; the watcher retries).
#[derive(Debug, thiserror::Error)]
#[error("malformed log at index {log_index:?}: {reason}")]
pub struct FilterError {
    /// Index of the log in its block.
    pub log_index: Option<u64>,
    /// What was wrong.
    pub reason: String,
}

/// Decides which logs the watcher fetches for each block and which blobs they need.
pub trait L1Filter: Send + Sync + 'static {
    /// Contract addresses whose logs are fetched (`eth_getLogs` address filter; never empty).
    fn addresses(&self) -> Vec<Address>;

    /// Accepted topic-0 values (`eth_getLogs` topic filter); empty accepts every topic.
    fn topics(&self) -> Vec<B256>;

    /// The versioned hashes of the blobs this log needs, in blob order (empty when it needs none).
    /// The watcher fetches them from the beacon API and verifies them before emitting the block.
    fn required_blobs(&self, log: &Log) -> Result<Vec<B256>, FilterError>;
}

/// The rollup's filter: all `Inbox` events; `Proposed` needs the blobs it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboxFilter {
    /// Address of the deployed `Inbox`.
    pub inbox: Address,
}

impl InboxFilter {
    /// Filter for the inbox deployed at `inbox`.
    pub const fn new(inbox: Address) -> Self {
        Self { inbox }
    }
}

impl L1Filter for InboxFilter {
    fn addresses(&self) -> Vec<Address> {
        vec![self.inbox]
    }

    fn topics(&self) -> Vec<B256> {
        INBOX_EVENT_TOPICS.to_vec()
    }

    fn required_blobs(&self, log: &Log) -> Result<Vec<B256>, FilterError> {
        match InboxEvent::decode(self.inbox, &log.inner) {
            Ok(Some(InboxEvent::Proposed(p))) => Ok(p.blob_hashes),
            Ok(_) => Ok(Vec::new()),
            Err(e) => Err(FilterError { log_index: log.log_index, reason: e.to_string() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{LogData, U256};
    use alloy_sol_types::SolEvent;
    use based_contracts::Inbox;

    fn rpc_log(address: Address, data: LogData) -> Log {
        Log {
            inner: alloy_primitives::Log { address, data },
            log_index: Some(3),
            ..Default::default()
        }
    }

    #[test]
    fn proposed_needs_its_blobs_others_none() {
        let inbox = Address::repeat_byte(0x11);
        let f = InboxFilter::new(inbox);
        assert_eq!(f.addresses(), vec![inbox]);
        assert_eq!(f.topics().len(), 4);
        let hashes = vec![B256::repeat_byte(1), B256::repeat_byte(2)];
        let ev =
            Inbox::Proposed { id: U256::ZERO, proposer: Address::ZERO, blobHashes: hashes.clone() };
        assert_eq!(f.required_blobs(&rpc_log(inbox, ev.encode_log_data())).unwrap(), hashes);
        let dep = Inbox::Deposited {
            id: U256::ZERO,
            from: Address::ZERO,
            to: Address::ZERO,
            amount: U256::from(1),
        };
        assert!(f.required_blobs(&rpc_log(inbox, dep.encode_log_data())).unwrap().is_empty());
        // Promised transactions travel in the log itself: no blobs.
        let promised = Inbox::Promised {
            id: U256::ZERO,
            root: B256::ZERO,
            txs: vec![alloy_primitives::Bytes::from_static(b"\x02")],
        };
        assert!(f.required_blobs(&rpc_log(inbox, promised.encode_log_data())).unwrap().is_empty());
        // Malformed Proposed: an error naming the log, not a panic.
        let bad = LogData::new_unchecked(vec![Inbox::Proposed::SIGNATURE_HASH], Default::default());
        let err = f.required_blobs(&rpc_log(inbox, bad)).unwrap_err();
        assert_eq!(err.log_index, Some(3));
        // A log from another address is an error too (the RPC returned something we did not ask for).
        assert!(f.required_blobs(&rpc_log(Address::ZERO, ev.encode_log_data())).is_err());
    }
}
