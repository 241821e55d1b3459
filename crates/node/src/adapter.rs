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

/// Decodes the Inbox events of `block`, in log order.
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
            Some(RawEvent::Proposed(p)) => InboxEvent::Proposed(ProposedEvent {
                id: id64(p.id)?,
                proposer: p.proposer,
                blob_hashes: p.blob_hashes,
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
