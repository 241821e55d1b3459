//! [`ChainProvider`] for the node's store ([`based_storage::Store`]).
//!
//! The store keeps only canonical blocks and serves historical state through change sets, so
//! every block up to the head has state (`latest` uses the cheaper head reader).

use alloy_consensus::ReceiptEnvelope;
use alloy_primitives::B256;
use based_storage::{Store, StoreError};

use crate::backend::{
    BlockBody, ChainProvider, ProviderError, SealedHeader, StateView, TxLocation, erase_state,
};

impl From<StoreError> for ProviderError {
    fn from(err: StoreError) -> Self {
        Self::other(err)
    }
}

impl ChainProvider for Store {
    fn head_number(&self) -> Result<u64, ProviderError> {
        Self::head(self)?
            .map(|h| h.number)
            .ok_or_else(|| ProviderError("store has no genesis".into()))
    }

    fn header_by_number(&self, number: u64) -> Result<Option<SealedHeader>, ProviderError> {
        Ok(Self::header_by_number(self, number)?.map(|header| {
            let hash = header.hash_slow();
            SealedHeader { header, hash }
        }))
    }

    fn header_by_hash(&self, hash: B256) -> Result<Option<SealedHeader>, ProviderError> {
        Ok(Self::header_by_hash(self, hash)?.map(|header| SealedHeader { header, hash }))
    }

    fn body(&self, number: u64) -> Result<Option<BlockBody>, ProviderError> {
        Ok(Self::body(self, number)?.map(|b| BlockBody {
            transactions: b.transactions,
            senders: b.senders,
            withdrawals: b.withdrawals,
        }))
    }

    fn receipts(&self, number: u64) -> Result<Option<Vec<ReceiptEnvelope>>, ProviderError> {
        Ok(Self::receipts(self, number)?)
    }

    fn transaction_by_hash(&self, hash: B256) -> Result<Option<TxLocation>, ProviderError> {
        Ok(Self::transaction_by_hash(self, hash)?.map(|t| TxLocation {
            transaction: t.tx,
            sender: t.sender,
            block_number: t.block_number,
            block_hash: t.block_hash,
            index: t.index,
        }))
    }

    fn state_at(&self, number: u64) -> Result<Option<StateView>, ProviderError> {
        let Some(head) = Self::head(self)? else { return Ok(None) };
        if number > head.number {
            return Ok(None);
        }
        if number == head.number {
            let reader = self.latest()?;
            // The head may have advanced between the two reads; the reader is a snapshot of
            // whatever head it saw, so only use it if it is the block asked for.
            if reader.head_number() == Some(number) {
                return Ok(Some(erase_state(reader)));
            }
        }
        Ok(Some(erase_state(Self::state_at(self, number)?)))
    }
}
