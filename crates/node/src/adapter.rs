//! Adapters from the L1 notification stream to the derivation's inputs.
//!
//! The derivation does no I/O: the node hands it each L1 block with its decoded `Inbox` events and
//! a [`BlobProvider`] over the blobs the L1 source already fetched and checked.

use alloy_eips::eip4844::Blob;
use alloy_primitives::{Address, B256, U256};
use based_contracts::InboxEvent as RawEvent;
use based_derive::{
    BlobProvider, BlobProviderError, DepositedEvent, ForcedInclusionQueuedEvent, InboxEvent,
    L1BlockInput, L1BlockRef, ProposedEvent,
};
use based_l1::L1Block;
use std::sync::Arc;

/// Why an L1 block could not be turned into derivation input. Always fatal for the node: the L1
/// source broke its contract (it only hands out Inbox logs of successful transactions).
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// A log of the Inbox could not be decoded as an Inbox event.
    #[error("L1 block {block}: undecodable inbox log: {reason}")]
    BadLog {
        /// L1 block number.
        block: u64,
        /// Decoder message.
        reason: String,
    },
    /// A `Promised` log that does not directly follow the `Proposed` of the same id and
    /// transaction, or carries more than `MAX_PROMISED_TXS` transactions: the `Inbox` never emits
    /// one.
    #[error("L1 block {block}: promised transactions of proposal {id} without their proposal")]
    OrphanPromised {
        /// L1 block number.
        block: u64,
        /// The id.
        id: U256,
    },
    /// An event id does not fit in 64 bits.
    #[error("L1 block {block}: event id {id} out of range")]
    IdOutOfRange {
        /// L1 block number.
        block: u64,
        /// The id.
        id: U256,
    },
}

/// The derivation's reference to an L1 block.
pub fn block_ref(block: &L1Block) -> L1BlockRef {
    L1BlockRef {
        number: block.number(),
        hash: block.hash,
        parent_hash: block.parent_hash(),
        timestamp: block.header.timestamp,
    }
}

/// Decodes the Inbox events of `block`, in log order. A `Promised` log is attached to the
/// `Proposed` event right before it (same id, same transaction) as its promised transactions.
pub fn block_input(inbox: Address, block: &L1Block) -> Result<L1BlockInput, AdapterError> {
    let number = block.number();
    let id64 =
        |id: U256| u64::try_from(id).map_err(|_| AdapterError::IdOutOfRange { block: number, id });
    let mut events = Vec::new();
    for log in &block.logs {
        if log.inner.address != inbox {
            continue;
        }
        let decoded = RawEvent::decode(inbox, &log.inner)
            .map_err(|e| AdapterError::BadLog { block: number, reason: e.to_string() })?;
        let event = match decoded {
            None => continue,
            Some(RawEvent::Promised(p)) => {
                let orphan = || AdapterError::OrphanPromised { block: number, id: p.id };
                let tx_index = log.transaction_index.unwrap_or_default();
                match events.last_mut() {
                    Some(InboxEvent::Proposed(prev))
                        if U256::from(prev.id) == p.id
                            && prev.tx_index == tx_index
                            && prev.promised.is_empty()
                            && !p.txs.is_empty()
                            && p.txs.len() <= based_contracts::MAX_PROMISED_TXS =>
                    {
                        prev.promised = p.txs;
                    }
                    _ => return Err(orphan()),
                }
                continue;
            }
            Some(RawEvent::Proposed(p)) => InboxEvent::Proposed(ProposedEvent {
                id: id64(p.id)?,
                proposer: p.proposer,
                blob_hashes: p.blob_hashes,
                promised: Vec::new(),
                tx_index: log.transaction_index.unwrap_or_default(),
                log_index: log.log_index.unwrap_or_default(),
            }),
            Some(RawEvent::Deposited(d)) => InboxEvent::Deposited(DepositedEvent {
                id: id64(d.id)?,
                from: d.from,
                to: d.to,
                amount: d.amount,
            }),
            Some(RawEvent::ForcedInclusionQueued(f)) => {
                InboxEvent::ForcedInclusionQueued(ForcedInclusionQueuedEvent {
                    id: id64(f.id)?,
                    sender: f.sender,
                    signed_tx: f.signed_tx,
                })
            }
        };
        events.push(event);
    }
    Ok(L1BlockInput { block: block_ref(block), events })
}

/// Serves the blobs an [`L1Block`] carries.
#[derive(Debug, Clone, Copy)]
pub struct BlockBlobs<'a>(pub &'a L1Block);

impl BlobProvider for BlockBlobs<'_> {
    fn blobs(
        &self,
        block: &L1BlockRef,
        hashes: &[B256],
    ) -> Result<Vec<Arc<Blob>>, BlobProviderError> {
        if block.hash != self.0.hash {
            return Err(BlobProviderError::Fatal(format!(
                "asked for blobs of {} while serving {}",
                block.hash, self.0.hash
            )));
        }
        hashes
            .iter()
            .map(|h| {
                self.0.blobs.get(h).cloned().ok_or_else(|| {
                    BlobProviderError::Unavailable(
                        *h,
                        format!("not fetched for L1 block {}", block.number),
                    )
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::Header;
    use alloy_primitives::{Bytes, Log as PrimLog};
    use alloy_rpc_types_eth::Log;
    use alloy_sol_types::SolEvent;
    use based_contracts::Inbox;

    const INBOX: Address = Address::repeat_byte(0x11);

    fn log(data: alloy_primitives::LogData, tx_index: u64, log_index: u64) -> Log {
        Log {
            inner: PrimLog { address: INBOX, data },
            transaction_index: Some(tx_index),
            log_index: Some(log_index),
            ..Default::default()
        }
    }

    fn proposed(id: u64, tx: u64, li: u64) -> Log {
        let ev = Inbox::Proposed {
            id: U256::from(id),
            proposer: Address::repeat_byte(0xaa),
            blobHashes: vec![],
        };
        log(ev.encode_log_data(), tx, li)
    }

    fn promised(id: u64, txs: Vec<Bytes>, tx: u64, li: u64) -> Log {
        let ev = Inbox::Promised { id: U256::from(id), root: B256::ZERO, txs };
        log(ev.encode_log_data(), tx, li)
    }

    fn block(logs: Vec<Log>) -> L1Block {
        let mut b = L1Block::header_only(Header { number: 7, ..Default::default() }, B256::ZERO);
        b.logs = logs;
        b
    }

    #[test]
    fn promised_attaches_to_its_proposal() {
        let txs = vec![Bytes::from_static(b"\x02a"), Bytes::from_static(b"\x02b")];
        let input = block_input(
            INBOX,
            &block(vec![proposed(0, 0, 0), promised(0, txs.clone(), 0, 1), proposed(1, 1, 2)]),
        )
        .unwrap();
        assert_eq!(input.events.len(), 2);
        let InboxEvent::Proposed(p0) = &input.events[0] else { panic!() };
        let InboxEvent::Proposed(p1) = &input.events[1] else { panic!() };
        assert_eq!(p0.promised, txs);
        assert!(p1.promised.is_empty());
    }

    #[test]
    fn orphan_promised_is_an_error() {
        let txs = vec![Bytes::from_static(b"\x02a")];
        for logs in [
            vec![promised(0, txs.clone(), 0, 0)],
            vec![proposed(0, 0, 0), promised(1, txs.clone(), 0, 1)],
            vec![proposed(0, 0, 0), promised(0, txs.clone(), 1, 1)],
            vec![proposed(0, 0, 0), promised(0, txs.clone(), 0, 1), promised(0, txs, 0, 2)],
            vec![proposed(0, 0, 0), promised(0, vec![], 0, 1)],
        ] {
            let err = block_input(INBOX, &block(logs)).unwrap_err();
            assert!(matches!(err, AdapterError::OrphanPromised { .. }), "{err}");
        }
    }
}
