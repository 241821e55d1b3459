//! The L1 notification types: blocks, contiguous chains and the ExEx-shaped notifications.

use alloy_consensus::Header;
use alloy_eips::{BlockNumHash, eip4844::Blob};
use alloy_primitives::{B256, BlockNumber, TxHash};
use alloy_rpc_types_eth::Log;
use std::{collections::BTreeMap, sync::Arc};

/// One L1 block as seen by the rollup: its header, the logs of interest and the verified blobs they need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L1Block {
    /// The block header.
    pub header: Header,
    /// The block hash (`keccak256(rlp(header))`, checked when the block was fetched).
    pub hash: B256,
    /// Logs selected by the [`L1Filter`](crate::L1Filter), in log-index order. Empty for blocks
    /// rebuilt from persisted headers on resume (see [`StartFrom::Resume`](crate::StartFrom)).
    pub logs: Vec<Log>,
    /// Versioned hash → blob for every blob a selected log needs. Each blob was verified against its
    /// versioned hash (KZG commitment → `0x01 || sha256(commitment)[1..]`).
    pub blobs: BTreeMap<B256, Arc<Blob>>,
    /// Transaction hash → the versioned hashes it needs, in blob order.
    pub blob_txs: BTreeMap<TxHash, Vec<B256>>,
}

impl L1Block {
    /// A block with only a header (no logs, no blobs).
    pub fn header_only(header: Header, hash: B256) -> Self {
        Self { header, hash, logs: Vec::new(), blobs: BTreeMap::new(), blob_txs: BTreeMap::new() }
    }

    /// Block number.
    pub const fn number(&self) -> BlockNumber {
        self.header.number
    }

    /// Parent hash.
    pub const fn parent_hash(&self) -> B256 {
        self.header.parent_hash
    }

    /// Number and hash.
    pub const fn num_hash(&self) -> BlockNumHash {
        BlockNumHash { number: self.header.number, hash: self.hash }
    }

    /// The verified blob with this versioned hash, if it was needed by a selected log.
    pub fn blob(&self, versioned_hash: &B256) -> Option<&Blob> {
        self.blobs.get(versioned_hash).map(|b| &**b)
    }
}

/// Why a list of blocks is not a [`Chain`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// A chain holds at least one block.
    #[error("empty chain")]
    Empty,
    /// Consecutive blocks are not parent and child.
    #[error("block {number} ({hash}) does not extend the previous block")]
    NotContiguous {
        /// Number of the offending block.
        number: BlockNumber,
        /// Hash of the offending block.
        hash: B256,
    },
}

/// A non-empty, contiguous, ascending run of L1 blocks (each block's parent is the previous one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    blocks: Vec<Arc<L1Block>>,
}

impl Chain {
    /// Builds a chain, checking that it is non-empty and contiguous (numbers and parent hashes).
    pub fn new(blocks: Vec<Arc<L1Block>>) -> Result<Self, ChainError> {
        if blocks.is_empty() {
            return Err(ChainError::Empty);
        }
        for pair in blocks.windows(2) {
            if let [prev, next] = pair
                && (Some(next.number()) != prev.number().checked_add(1)
                    || next.parent_hash() != prev.hash)
            {
                return Err(ChainError::NotContiguous { number: next.number(), hash: next.hash });
            }
        }
        Ok(Self { blocks })
    }

    /// The blocks, ascending.
    pub fn blocks(&self) -> &[Arc<L1Block>] {
        &self.blocks
    }

    /// Iterates over the blocks, ascending.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<L1Block>> {
        self.blocks.iter()
    }

    /// Number of blocks (at least 1).
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Always false: a chain is non-empty.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// The lowest block.
    pub fn first(&self) -> &Arc<L1Block> {
        // Invariant: non-empty (checked in `new`).
        &self.blocks[0]
    }

    /// The highest block.
    pub fn tip(&self) -> &Arc<L1Block> {
        &self.blocks[self.blocks.len() - 1]
    }

    /// The block this chain extends (the parent of [`Self::first`]); `None` for a chain starting at genesis.
    pub fn fork_block(&self) -> Option<BlockNumHash> {
        let first = self.first();
        first
            .number()
            .checked_sub(1)
            .map(|number| BlockNumHash { number, hash: first.parent_hash() })
    }

    /// The block with this number, if in range.
    pub fn block(&self, number: BlockNumber) -> Option<&Arc<L1Block>> {
        let offset = number.checked_sub(self.first().number())?;
        self.blocks.get(usize::try_from(offset).ok()?)
    }

    /// Consumes the chain into its blocks.
    pub fn into_blocks(self) -> Vec<Arc<L1Block>> {
        self.blocks
    }
}

/// A change of the canonical L1 chain, shaped like reth's ExEx notifications.
///
/// The consumer applies notifications in order: first it reverts the `old` chain (tip first, back to
/// `old.fork_block()`), then it applies the `new` chain (lowest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum L1Notification {
    /// New blocks extend the chain the consumer holds.
    ChainCommitted {
        /// The new blocks.
        new: Arc<Chain>,
    },
    /// Blocks the consumer holds were replaced: `old` is no longer canonical, `new` is, and both
    /// extend the same fork block.
    ChainReorged {
        /// The orphaned blocks.
        old: Arc<Chain>,
        /// Their canonical replacement.
        new: Arc<Chain>,
    },
    /// Blocks the consumer holds are no longer canonical and nothing replaced them (yet).
    ChainReverted {
        /// The orphaned blocks.
        old: Arc<Chain>,
    },
}

impl L1Notification {
    /// The chain that became canonical, if any.
    pub fn committed_chain(&self) -> Option<Arc<Chain>> {
        match self {
            Self::ChainCommitted { new } | Self::ChainReorged { new, .. } => Some(new.clone()),
            Self::ChainReverted { .. } => None,
        }
    }

    /// The chain that stopped being canonical, if any.
    pub fn reverted_chain(&self) -> Option<Arc<Chain>> {
        match self {
            Self::ChainReorged { old, .. } | Self::ChainReverted { old } => Some(old.clone()),
            Self::ChainCommitted { .. } => None,
        }
    }
}

/// Acknowledgement sent back by the consumer: every block up to and including this one is processed
/// (and, for a restartable consumer, persisted). The watcher never runs more than
/// [`L1WatcherConfig::max_unacked_blocks`](crate::L1WatcherConfig) ahead of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinishedHeight(pub BlockNumHash);

/// The L1 heads as last reported by the execution client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct L1Heads {
    /// `latest` block.
    pub latest: Option<BlockNumHash>,
    /// `safe` block (None if the client does not report one).
    pub safe: Option<BlockNumHash>,
    /// `finalized` block (None if the client does not report one).
    pub finalized: Option<BlockNumHash>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(number: u64, parent: B256, tag: u8) -> Arc<L1Block> {
        let header = Header {
            number,
            parent_hash: parent,
            extra_data: vec![tag].into(),
            ..Default::default()
        };
        let hash = header.hash_slow();
        Arc::new(L1Block::header_only(header, hash))
    }

    #[test]
    fn chain_checks_contiguity() {
        let a = block(5, B256::repeat_byte(1), 0);
        let b = block(6, a.hash, 0);
        let c = block(7, b.hash, 0);
        let chain = Chain::new(vec![a.clone(), b.clone(), c.clone()]).unwrap();
        assert_eq!(chain.len(), 3);
        assert_eq!(chain.first().number(), 5);
        assert_eq!(chain.tip().hash, c.hash);
        assert_eq!(
            chain.fork_block(),
            Some(BlockNumHash { number: 4, hash: B256::repeat_byte(1) })
        );
        assert_eq!(chain.block(6).unwrap().hash, b.hash);
        assert!(chain.block(8).is_none());
        assert!(chain.block(4).is_none());

        assert_eq!(Chain::new(vec![]), Err(ChainError::Empty));
        // Gap in numbers.
        let d = block(8, b.hash, 0);
        assert!(matches!(
            Chain::new(vec![b.clone(), d]),
            Err(ChainError::NotContiguous { number: 8, .. })
        ));
        // Right number, wrong parent.
        let c2 = block(7, B256::ZERO, 1);
        assert!(matches!(
            Chain::new(vec![a, b, c2]),
            Err(ChainError::NotContiguous { number: 7, .. })
        ));
    }

    #[test]
    fn notification_accessors() {
        let a = block(0, B256::ZERO, 0);
        let chain = Arc::new(Chain::new(vec![a]).unwrap());
        assert_eq!(chain.fork_block(), None);
        let c = L1Notification::ChainCommitted { new: chain.clone() };
        assert!(c.committed_chain().is_some() && c.reverted_chain().is_none());
        let r = L1Notification::ChainReorged { old: chain.clone(), new: chain.clone() };
        assert!(r.committed_chain().is_some() && r.reverted_chain().is_some());
        let v = L1Notification::ChainReverted { old: chain };
        assert!(v.committed_chain().is_none() && v.reverted_chain().is_some());
    }
}
