//! [`ChainProvider`] for the node's store ([`based_storage::Store`]).
//!
//! The store keeps only canonical blocks and serves historical state through change sets, so
//! every block up to the head has state (`latest` uses the cheaper head reader).

use alloy_consensus::ReceiptEnvelope;
use alloy_primitives::{Address, B256};
use alloy_rpc_types_eth::{EIP1186AccountProofResponse, EIP1186StorageProof};
use based_storage::{Store, StoreError};
use revm::{database_interface::DatabaseRef, primitives::KECCAK_EMPTY};

use crate::backend::{
    BlockBody, ChainProvider, ProviderError, SealedHeader, StateView, StorageKey, TxLocation,
    erase_state,
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

    fn state_at(&self, number: u64, hash: B256) -> Result<Option<StateView>, ProviderError> {
        // Each reader is one redb read transaction (a snapshot). The block asked for is checked
        // *inside* that snapshot: the reader's own `block_hash_ref(number)` reads the canonical
        // table of the same transaction, and fails when `number` is above the snapshot's head.
        // So the state answered is the post-state of exactly block (`number`, `hash`), even if
        // the head moved or an unwind replaced that block between the caller resolving the
        // header and this call (then: `None`, and the caller resolves again).
        let reader = self.latest()?;
        if reader.head_number() == Some(number) {
            return Ok(snapshot_has(&reader, number, hash).then(|| erase_state(reader)));
        }
        let reader = match Self::state_at(self, number) {
            Ok(reader) => reader,
            Err(StoreError::MissingBlock(_) | StoreError::NoGenesis) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(snapshot_has(&reader, number, hash).then(|| erase_state(reader)))
    }

    fn proof(
        &self,
        number: u64,
        address: Address,
        keys: &[StorageKey],
    ) -> Result<Option<EIP1186AccountProofResponse>, ProviderError> {
        let slots: Vec<B256> = keys.iter().map(StorageKey::as_b256).collect();
        let proof = self.account_proof(number, address, &slots)?;
        let (nonce, balance, code_hash, storage_hash) = match proof.account {
            Some(a) => (a.nonce, a.balance, a.code_hash, a.storage_root),
            None => (0, Default::default(), KECCAK_EMPTY, alloy_consensus::EMPTY_ROOT_HASH),
        };
        let storage_proof = proof
            .storage
            .into_iter()
            .zip(keys)
            .map(|(p, key)| EIP1186StorageProof {
                key: match key {
                    StorageKey::Hash(h) => (*h).into(),
                    StorageKey::Number(n) => (*n).into(),
                },
                value: p.value,
                proof: p.proof,
            })
            .collect();
        Ok(Some(EIP1186AccountProofResponse {
            address,
            balance,
            code_hash,
            nonce,
            storage_hash,
            account_proof: proof.account_proof,
            storage_proof,
        }))
    }
}

/// Whether canonical block `number` is `hash` in `reader`'s snapshot (`false` if `number` is
/// above that snapshot's head).
fn snapshot_has<R: DatabaseRef>(reader: &R, number: u64, hash: B256) -> bool {
    reader.block_hash_ref(number).is_ok_and(|h| h == hash)
}
