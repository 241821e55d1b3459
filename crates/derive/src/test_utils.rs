//! Test helpers: an in-memory blob store, a simple framing decoder and an L1 chain builder.

use crate::{
    error::BlobProviderError,
    input::{
        DepositedEvent, ForcedInclusionQueuedEvent, InboxEvent, L1BlockInput, L1BlockRef,
        ProposedEvent,
    },
    state::{DerivationState, L1Head, L2Head},
    traits::BlobProvider,
};
use alloy_eips::eip4844::Blob;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use based_primitives::{Batch, L1Anchor};
use std::{collections::HashMap, sync::Arc};

/// In-memory [`BlobProvider`] keyed by versioned hash (no KZG: the "hash" is chosen by the test).
#[derive(Debug, Default, Clone)]
pub struct MemoryBlobs {
    /// Stored blobs.
    pub blobs: HashMap<B256, Arc<Blob>>,
}

impl MemoryBlobs {
    /// Stores `blob` under `hash`.
    pub fn insert(&mut self, hash: B256, blob: Blob) {
        self.insert_arc(hash, Arc::new(blob));
    }

    /// Stores a shared `blob` under `hash`.
    pub fn insert_arc(&mut self, hash: B256, blob: Arc<Blob>) {
        self.blobs.insert(hash, blob);
    }
}

impl BlobProvider for MemoryBlobs {
    fn blobs(
        &self,
        _block: &L1BlockRef,
        hashes: &[B256],
    ) -> Result<Vec<Arc<Blob>>, BlobProviderError> {
        hashes
            .iter()
            .map(|h| {
                self.blobs
                    .get(h)
                    .cloned()
                    .ok_or_else(|| BlobProviderError::Unavailable(*h, "not in memory store".into()))
            })
            .collect()
    }
}

/// Deterministic fake L1 chain builder producing linked [`L1BlockInput`]s and matching states.
#[derive(Debug, Clone)]
pub struct TestL1 {
    /// The last block built.
    pub head: L1BlockRef,
    /// Hashes of all blocks built, by number.
    pub hashes: Vec<B256>,
    /// Next proposal, deposit and forced ids.
    pub next_ids: (u64, u64, u64),
    /// Blobs of the proposals built.
    pub blobs: MemoryBlobs,
    /// Seconds between L1 blocks.
    pub block_time: u64,
    /// Salt mixed into block hashes (different salts = different forks).
    pub salt: u64,
    /// Timestamp of block 0.
    pub genesis_time: u64,
}

impl TestL1 {
    /// A chain whose block 0 has timestamp `genesis_time`.
    pub fn new(genesis_time: u64) -> Self {
        let hash = keccak256(b"l1 genesis");
        Self {
            head: L1BlockRef { number: 0, hash, parent_hash: B256::ZERO, timestamp: genesis_time },
            hashes: vec![hash],
            next_ids: (0, 0, 0),
            blobs: MemoryBlobs::default(),
            block_time: 12,
            salt: 0,
            genesis_time,
        }
    }

    /// Initial derivation state after L1 block 0, on top of an L2 genesis block at `l2_time` with
    /// `gas_limit`, anchored to L1 block 0.
    pub fn genesis_state(&self, l2_time: u64, gas_limit: u64) -> DerivationState {
        let l1 = self.hashes.first().copied().unwrap_or_default();
        DerivationState::new(
            L1Head { number: 0, hash: l1, timestamp: self.genesis_time },
            L2Head {
                number: 0,
                timestamp: l2_time,
                gas_limit,
                anchor: L1Anchor { number: 0, hash: l1 },
            },
        )
    }

    /// Anchor for L1 block `number` (must have been built).
    pub fn anchor(&self, number: u64) -> L1Anchor {
        let hash = usize::try_from(number)
            .ok()
            .and_then(|n| self.hashes.get(n))
            .copied()
            .unwrap_or_default();
        L1Anchor { number, hash }
    }

    /// Event builder: a proposal carrying `batch`, encoded with the real blob codec (no KZG: the
    /// versioned hashes are fake, use a non-verifying decoder).
    pub fn propose(&mut self, proposer: Address, batch: &Batch) -> InboxEvent {
        let blobs = based_blob::encode_batch_to_blobs(batch, based_blob::DEFAULT_ZSTD_LEVEL)
            .unwrap_or_default();
        self.propose_blobs(proposer, blobs)
    }

    /// Event builder: a proposal whose single blob is garbage (an unknown payload version).
    pub fn propose_raw_garbage(&mut self) -> InboxEvent {
        let mut blob = Blob::ZERO;
        if let Some(b) = blob.get_mut(..4) {
            b.copy_from_slice(&[0x00, 0xee, 0x12, 0x34]);
        }
        self.propose_blobs(Address::repeat_byte(0xaa), vec![blob])
    }

    /// Event builder: a proposal with the given raw blobs.
    pub fn propose_blobs(&mut self, proposer: Address, blobs: Vec<Blob>) -> InboxEvent {
        let blobs: Vec<Arc<Blob>> = blobs.into_iter().map(Arc::new).collect();
        self.propose_arcs(proposer, blobs)
    }

    /// Event builder: a proposal with the given shared raw blobs.
    pub fn propose_arcs(&mut self, proposer: Address, blobs: Vec<Arc<Blob>>) -> InboxEvent {
        let id = self.next_ids.0;
        self.next_ids.0 = id.saturating_add(1);
        let mut blob_hashes = Vec::new();
        for (i, blob) in blobs.into_iter().enumerate() {
            let mut h = keccak256(blob.as_slice());
            if let Some(b) = h.first_mut() {
                *b = 0x01;
            }
            // Distinct per proposal and index even for equal blob contents.
            let h =
                keccak256([h.as_slice(), &id.to_be_bytes(), &(i as u64).to_be_bytes()].concat());
            self.blobs.insert_arc(h, blob);
            blob_hashes.push(h);
        }
        InboxEvent::Proposed(ProposedEvent {
            id,
            proposer,
            blob_hashes,
            promised: Vec::new(),
            tx_index: 0,
            log_index: 0,
        })
    }

    /// Event builder: a deposit of `gwei` to `to`.
    pub fn deposit(&mut self, to: Address, gwei: u64) -> InboxEvent {
        let id = self.next_ids.1;
        self.next_ids.1 = id.saturating_add(1);
        InboxEvent::Deposited(DepositedEvent {
            id,
            from: Address::repeat_byte(0xdd),
            to,
            amount: U256::from(gwei).saturating_mul(U256::from(1_000_000_000u64)),
        })
    }

    /// Event builder: a forced-inclusion transaction.
    pub fn force(&mut self, tx: Bytes) -> InboxEvent {
        let id = self.next_ids.2;
        self.next_ids.2 = id.saturating_add(1);
        InboxEvent::ForcedInclusionQueued(ForcedInclusionQueuedEvent {
            id,
            sender: Address::repeat_byte(0xfe),
            signed_tx: tx,
        })
    }

    /// Timestamp the next L1 block will have.
    pub fn next_timestamp(&self) -> u64 {
        self.head.timestamp.saturating_add(self.block_time)
    }

    /// Forks: rewinds the builder to block `number` (keeping its hashes) and changes the salt so
    /// that the blocks built next differ from the abandoned branch.
    pub fn fork_at(&mut self, number: u64, salt: u64) {
        let keep = usize::try_from(number).unwrap_or(usize::MAX).saturating_add(1);
        self.hashes.truncate(keep);
        let hash = self.hashes.last().copied().unwrap_or_default();
        let parent_hash = number
            .checked_sub(1)
            .and_then(|p| usize::try_from(p).ok())
            .and_then(|p| self.hashes.get(p))
            .copied()
            .unwrap_or_default();
        let timestamp = self.genesis_time.saturating_add(number.saturating_mul(self.block_time));
        self.head = L1BlockRef { number, hash, parent_hash, timestamp };
        self.salt = salt;
    }

    /// Builds the next L1 block carrying `events`.
    pub fn next_block(&mut self, events: Vec<InboxEvent>) -> L1BlockInput {
        let number = self.head.number.saturating_add(1);
        let hash = keccak256(
            [&number.to_be_bytes()[..], self.head.hash.as_slice(), &self.salt.to_be_bytes()]
                .concat(),
        );
        let block = L1BlockRef {
            number,
            hash,
            parent_hash: self.head.hash,
            timestamp: self.next_timestamp(),
        };
        self.head = block;
        self.hashes.push(hash);
        L1BlockInput { block, events }
    }
}
