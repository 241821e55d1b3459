//! A bounded FIFO pool of L2 transactions waiting to be proposed.

use alloy_consensus::{Transaction, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, B256, Bytes};
use std::{
    collections::{HashSet, VecDeque},
    sync::Mutex,
};

/// Largest single transaction the pool accepts (bytes of its EIP-2718 encoding).
pub const MAX_TX_SIZE: usize = 128 * 1024;

/// Why the pool refused a transaction. Each maps to a JSON-RPC error for the sender.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PoolError {
    /// Not a valid EIP-2718 transaction encoding.
    #[error("invalid transaction encoding: {0}")]
    Decode(String),
    /// Bytes after the transaction.
    #[error("trailing bytes after transaction")]
    TrailingBytes,
    /// The transaction names another chain (or none: pre-EIP-155 legacy).
    #[error("wrong chain id: expected {expected}, got {got:?}")]
    WrongChain {
        /// The L2 chain id.
        expected: u64,
        /// The transaction's chain id.
        got: Option<u64>,
    },
    /// EIP-4844 blob transactions are not valid on the L2.
    #[error("blob transactions are not supported on L2")]
    BlobTransaction,
    /// The signature does not recover to a sender.
    #[error("invalid signature")]
    InvalidSignature,
    /// Larger than [`MAX_TX_SIZE`].
    #[error("transaction of {0} bytes exceeds the {MAX_TX_SIZE} byte limit")]
    TooLarge(usize),
    /// Already queued.
    #[error("already known")]
    AlreadyKnown,
    /// The pool is at its capacity.
    #[error("transaction pool is full")]
    Full,
}

/// A transaction accepted by the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PooledTx {
    /// Transaction hash.
    pub hash: B256,
    /// Recovered sender.
    pub sender: Address,
    /// Gas limit the transaction declares.
    pub gas_limit: u64,
    /// Raw EIP-2718 bytes, exactly as submitted.
    pub raw: Bytes,
    /// Handed over by the preconfirmation gateway: it goes before every ordinary transaction.
    pub promised: bool,
}

#[derive(Debug, Default)]
struct Inner {
    /// Promised transactions, in promise order (taken first).
    promised: VecDeque<PooledTx>,
    queue: VecDeque<PooledTx>,
    known: HashSet<B256>,
}

/// A bounded transaction pool with two FIFO lanes: promised transactions (from the gateway, in
/// promise order) are always taken before ordinary ones, so a batch carries every promise first and
/// in the order the gateway's pending block executed them (docs/protocol.md §10).
///
/// Invariant: every queued transaction decoded as a signed, non-blob EIP-2718 transaction for the
/// configured chain; `known` holds exactly the hashes in both lanes; a hash is in one lane only.
#[derive(Debug)]
pub struct TxPool {
    chain_id: u64,
    capacity: usize,
    inner: Mutex<Inner>,
}

impl TxPool {
    /// An empty pool for `chain_id` holding at most `capacity` transactions.
    pub fn new(chain_id: u64, capacity: usize) -> Self {
        Self { chain_id, capacity, inner: Mutex::default() }
    }

    /// Validates and queues a raw transaction; returns its hash.
    pub fn add_raw(&self, raw: &[u8]) -> Result<B256, PoolError> {
        let tx = self.validate(raw)?;
        let hash = tx.hash;
        let mut inner = self.lock();
        if inner.known.contains(&hash) {
            return Err(PoolError::AlreadyKnown);
        }
        if inner.queue.len().saturating_add(inner.promised.len()) >= self.capacity {
            return Err(PoolError::Full);
        }
        inner.known.insert(hash);
        inner.queue.push_back(tx);
        Ok(hash)
    }

    /// Validates and queues a raw transaction in the promised lane (after earlier promises, before
    /// every ordinary transaction); one already queued as ordinary moves to the promised lane.
    pub fn add_promised(&self, raw: &[u8]) -> Result<B256, PoolError> {
        let mut tx = self.validate(raw)?;
        tx.promised = true;
        let hash = tx.hash;
        let mut inner = self.lock();
        if inner.known.contains(&hash) {
            if inner.promised.iter().any(|t| t.hash == hash) {
                return Err(PoolError::AlreadyKnown);
            }
            inner.queue.retain(|t| t.hash != hash);
        } else if inner.queue.len().saturating_add(inner.promised.len()) >= self.capacity {
            return Err(PoolError::Full);
        }
        inner.known.insert(hash);
        inner.promised.push_back(tx);
        Ok(hash)
    }

    /// Checks a raw transaction without queueing it.
    pub fn validate(&self, raw: &[u8]) -> Result<PooledTx, PoolError> {
        if raw.len() > MAX_TX_SIZE {
            return Err(PoolError::TooLarge(raw.len()));
        }
        let mut buf = raw;
        let tx = TxEnvelope::decode_2718(&mut buf).map_err(|e| PoolError::Decode(e.to_string()))?;
        if !buf.is_empty() {
            return Err(PoolError::TrailingBytes);
        }
        if tx.is_eip4844() {
            return Err(PoolError::BlobTransaction);
        }
        if tx.chain_id() != Some(self.chain_id) {
            return Err(PoolError::WrongChain { expected: self.chain_id, got: tx.chain_id() });
        }
        let sender = tx.recover_signer().map_err(|_| PoolError::InvalidSignature)?;
        Ok(PooledTx {
            hash: *tx.tx_hash(),
            sender,
            gas_limit: tx.gas_limit(),
            raw: Bytes::copy_from_slice(raw),
            promised: false,
        })
    }

    /// Removes and returns queued transactions from the front, in order, while the total raw size
    /// stays within `max_bytes` and the count within `max_txs`.
    pub fn take(&self, max_bytes: usize, max_txs: usize) -> Vec<PooledTx> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let mut out = Vec::new();
        let mut size = 0usize;
        for lane in [&mut inner.promised, &mut inner.queue] {
            while let Some(front) = lane.front() {
                let next = size.saturating_add(front.raw.len());
                if out.len() >= max_txs || next > max_bytes {
                    return out;
                }
                size = next;
                if let Some(tx) = lane.pop_front() {
                    inner.known.remove(&tx.hash);
                    out.push(tx);
                }
            }
        }
        out
    }

    /// Puts transactions back at the front, in their order (after a failed proposal).
    pub fn requeue_front(&self, txs: Vec<PooledTx>) {
        let mut inner = self.lock();
        for tx in txs.into_iter().rev() {
            if inner.known.insert(tx.hash) {
                if tx.promised {
                    inner.promised.push_front(tx);
                } else {
                    inner.queue.push_front(tx);
                }
            }
        }
    }

    /// Number of queued transactions.
    pub fn len(&self) -> usize {
        let inner = self.lock();
        inner.queue.len().saturating_add(inner.promised.len())
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock only means another thread panicked mid-operation; the queue itself is
        // always left consistent by the methods above, so keep serving.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{SignableTransaction, TxEip1559, TxLegacy};
    use alloy_eips::eip2718::Encodable2718;
    use alloy_network::TxSignerSync;
    use alloy_primitives::{TxKind, U256};
    use alloy_signer_local::PrivateKeySigner;

    fn signed(chain_id: Option<u64>, nonce: u64) -> Vec<u8> {
        let signer = PrivateKeySigner::from_bytes(&B256::repeat_byte(7)).unwrap();
        match chain_id {
            Some(id) => {
                let mut tx = TxEip1559 {
                    chain_id: id,
                    nonce,
                    gas_limit: 21_000,
                    max_fee_per_gas: 2_000_000_000,
                    max_priority_fee_per_gas: 1,
                    to: TxKind::Call(Address::repeat_byte(1)),
                    value: U256::from(1),
                    ..Default::default()
                };
                let sig = signer.sign_transaction_sync(&mut tx).unwrap();
                TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
            }
            None => {
                let mut tx = TxLegacy {
                    chain_id: None,
                    nonce,
                    gas_price: 2_000_000_000,
                    gas_limit: 21_000,
                    to: TxKind::Call(Address::repeat_byte(1)),
                    ..Default::default()
                };
                let sig = signer.sign_transaction_sync(&mut tx).unwrap();
                TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
            }
        }
    }

    #[test]
    fn accepts_valid_and_rejects_duplicates_and_wrong_chain() {
        let pool = TxPool::new(4242, 10);
        let raw = signed(Some(4242), 0);
        let hash = pool.add_raw(&raw).unwrap();
        assert_eq!(hash, alloy_primitives::keccak256(&raw));
        assert_eq!(pool.add_raw(&raw), Err(PoolError::AlreadyKnown));
        assert!(matches!(
            pool.add_raw(&signed(Some(1), 0)),
            Err(PoolError::WrongChain { expected: 4242, got: Some(1) })
        ));
        assert!(matches!(pool.add_raw(&signed(None, 0)), Err(PoolError::WrongChain { .. })));
        assert!(matches!(pool.add_raw(&[0x02, 0xc0]), Err(PoolError::Decode(_))));
        let mut trailing = raw;
        trailing.push(0);
        assert!(pool.add_raw(&trailing).is_err());
        assert_eq!(pool.len(), 1);
    }

    #[test]
    fn capacity_and_fifo_take_requeue() {
        let pool = TxPool::new(4242, 3);
        let raws: Vec<_> = (0..4).map(|n| signed(Some(4242), n)).collect();
        for raw in &raws[..3] {
            pool.add_raw(raw).unwrap();
        }
        assert_eq!(pool.add_raw(&raws[3]), Err(PoolError::Full));
        let first_two = pool.take(usize::MAX, 2);
        assert_eq!(first_two.len(), 2);
        assert_eq!(first_two[0].raw.as_ref(), raws[0].as_slice());
        assert_eq!(first_two[1].raw.as_ref(), raws[1].as_slice());
        pool.requeue_front(first_two);
        let all = pool.take(usize::MAX, 10);
        let got: Vec<_> = all.iter().map(|t| t.raw.to_vec()).collect();
        assert_eq!(got, raws[..3].to_vec());
        assert!(pool.is_empty());
        // Byte budget: nothing fits in fewer bytes than one transaction.
        pool.add_raw(&raws[0]).unwrap();
        assert!(pool.take(raws[0].len() - 1, 10).is_empty());
        assert_eq!(pool.take(raws[0].len(), 10).len(), 1);
    }

    #[test]
    fn promised_lane_goes_first_and_survives_requeue() {
        let pool = TxPool::new(4242, 10);
        let ordinary = pool.add_raw(&signed(Some(4242), 0)).unwrap();
        let p1 = pool.add_promised(&signed(Some(4242), 1)).unwrap();
        let p2 = pool.add_promised(&signed(Some(4242), 2)).unwrap();
        // Promising a transaction already queued as ordinary moves it; twice is refused.
        let moved = pool.add_promised(&signed(Some(4242), 0)).unwrap();
        assert_eq!(moved, ordinary);
        assert!(matches!(pool.add_promised(&signed(Some(4242), 1)), Err(PoolError::AlreadyKnown)));
        let later = pool.add_raw(&signed(Some(4242), 3)).unwrap();
        assert_eq!(pool.len(), 4);

        let taken = pool.take(usize::MAX, 2);
        assert_eq!(taken.iter().map(|t| t.hash).collect::<Vec<_>>(), vec![p1, p2]);
        assert!(taken.iter().all(|t| t.promised));
        // A failed proposal puts them back in their lane, still ahead of ordinary transactions.
        pool.requeue_front(taken);
        let all = pool.take(usize::MAX, 10);
        assert_eq!(all.iter().map(|t| t.hash).collect::<Vec<_>>(), vec![p1, p2, ordinary, later]);
        assert_eq!(all.iter().map(|t| t.promised).collect::<Vec<_>>(), [true, true, true, false]);
        assert!(pool.is_empty());
    }
}
