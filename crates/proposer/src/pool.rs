//! The proposer's pool of L2 transactions waiting to be proposed.
//!
//! Admission is the shared rule of `based-admission` ([`based_admission::check_tx`], then
//! [`based_admission::check_account`] with the sender's L2 account when the proposer can read
//! it), then the pool's own limits:
//! - a transaction already queued is refused (`already known`);
//! - a transaction with the `(sender, nonce)` of a queued ordinary one replaces it only if it pays
//!   at least [`PoolConfig::price_bump_percent`] more in both max fee and priority fee
//!   (`replacement transaction underpriced`), in its place in the queue;
//! - at most [`PoolConfig::max_per_sender`] ordinary transactions per sender
//!   (`account limit exceeded`);
//! - at most [`PoolConfig::capacity`] transactions in all: when full, a transaction paying more
//!   (priority fee, then max fee) than the worst-paying ordinary one evicts it, one paying no more
//!   is refused (`transaction underpriced`).
//!
//! Two FIFO lanes: promised transactions (handed over by the preconfirmation gateway, in promise
//! order) are always taken before ordinary ones, so a batch carries every promise first and in the
//! order the gateway's pending block executed them (docs/protocol.md §10). Promised transactions
//! pass the stateless rule only (the gateway had the node execute them), are not counted against
//! the per-sender limit and evict the worst-paying ordinary transaction when the pool is full.

use alloy_primitives::{Address, B256, Bytes};
use based_admission::{Account, AdmissionError, CheckedTx, Rules};
use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::Mutex,
};

/// Largest single transaction the pool accepts (bytes of its EIP-2718 encoding).
pub const MAX_TX_SIZE: usize = based_admission::DEFAULT_MAX_TX_SIZE;

/// Default most ordinary transactions queued per sender.
pub const DEFAULT_MAX_PER_SENDER: usize = 16;

/// Default fee increase (percent) a replacement of the same sender and nonce must pay (geth's).
pub const DEFAULT_PRICE_BUMP_PERCENT: u128 = 10;

/// Limits of a [`TxPool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// The L2 chain id.
    pub chain_id: u64,
    /// Most transactions queued (both lanes).
    pub capacity: usize,
    /// Most ordinary transactions queued per sender.
    pub max_per_sender: usize,
    /// Fee increase (percent) a replacement must pay over the transaction it replaces.
    pub price_bump_percent: u128,
}

impl PoolConfig {
    /// A configuration with the default per-sender limit and price bump.
    pub const fn new(chain_id: u64, capacity: usize) -> Self {
        Self {
            chain_id,
            capacity,
            max_per_sender: DEFAULT_MAX_PER_SENDER,
            price_bump_percent: DEFAULT_PRICE_BUMP_PERCENT,
        }
    }
}

/// Why the pool refused a transaction. `Display` is the JSON-RPC message, [`PoolError::code`] the
/// code.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PoolError {
    /// The shared admission rule refused it.
    #[error(transparent)]
    Admission(#[from] AdmissionError),
    /// Already queued.
    #[error("already known")]
    AlreadyKnown,
    /// A queued transaction has the same sender and nonce and this one does not pay enough more.
    #[error("replacement transaction underpriced")]
    ReplaceUnderpriced,
    /// The gateway promised another transaction with this sender and nonce.
    #[error("nonce already promised: {sender} nonce {nonce}")]
    NoncePromised {
        /// The sender.
        sender: Address,
        /// The nonce.
        nonce: u64,
    },
    /// The sender already has the most ordinary transactions queued.
    #[error("account limit exceeded: {0} pending transactions")]
    AccountLimit(usize),
    /// The pool is full and this transaction pays no more than the worst-paying one.
    #[error("transaction underpriced: the pool is full of better-paying transactions")]
    Underpriced,
    /// The pool is full of promised transactions.
    #[error("txpool is full")]
    Full,
    /// The sender's account could not be read (L2 node unreachable): try again.
    #[error("cannot read the sender's account: {0}")]
    State(String),
}

impl PoolError {
    /// The JSON-RPC error code (`-32602` for undecodable bytes, `-32000` otherwise).
    pub const fn code(&self) -> i32 {
        match self {
            Self::Admission(e) => e.code(),
            _ => based_admission::TX_REJECTED,
        }
    }
}

/// A transaction accepted by the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PooledTx {
    /// Transaction hash.
    pub hash: B256,
    /// Recovered sender.
    pub sender: Address,
    /// The transaction's nonce.
    pub nonce: u64,
    /// Gas limit the transaction declares.
    pub gas_limit: u64,
    /// Max fee per gas (gas price of legacy and EIP-2930 transactions).
    pub max_fee_per_gas: u128,
    /// Max priority fee per gas (gas price of legacy and EIP-2930 transactions).
    pub priority_fee: u128,
    /// Raw EIP-2718 bytes, exactly as submitted.
    pub raw: Bytes,
    /// Handed over by the preconfirmation gateway: it goes before every ordinary transaction.
    pub promised: bool,
}

impl PooledTx {
    /// A pool entry for a checked transaction and its raw bytes.
    pub fn new(tx: &CheckedTx, raw: &[u8], promised: bool) -> Self {
        Self {
            hash: tx.hash,
            sender: tx.sender,
            nonce: tx.nonce(),
            gas_limit: tx.gas_limit(),
            max_fee_per_gas: tx.max_fee_per_gas(),
            priority_fee: tx.priority_fee(),
            raw: Bytes::copy_from_slice(raw),
            promised,
        }
    }

    /// What eviction compares: priority fee, then max fee.
    const fn score(&self) -> (u128, u128) {
        (self.priority_fee, self.max_fee_per_gas)
    }
}

/// Whether `new` pays at least `bump` percent more than `old` in both fee fields.
fn bumps(new: &PooledTx, old: &PooledTx, bump: u128) -> bool {
    let min = |fee: u128| fee.saturating_mul(bump.saturating_add(100)) / 100;
    new.max_fee_per_gas >= min(old.max_fee_per_gas) && new.priority_fee >= min(old.priority_fee)
}

#[derive(Debug, Default)]
struct Inner {
    /// Promised transactions, in promise order (taken first).
    promised: VecDeque<PooledTx>,
    queue: VecDeque<PooledTx>,
    known: HashSet<B256>,
    /// Ordinary transactions queued per sender.
    per_sender: HashMap<Address, usize>,
}

impl Inner {
    fn len(&self) -> usize {
        self.queue.len().saturating_add(self.promised.len())
    }

    fn count(&mut self, sender: Address, up: bool) {
        let n = self.per_sender.entry(sender).or_default();
        *n = if up { n.saturating_add(1) } else { n.saturating_sub(1) };
        if *n == 0 {
            self.per_sender.remove(&sender);
        }
    }

    fn push_ordinary(&mut self, tx: PooledTx, front: bool) {
        self.known.insert(tx.hash);
        self.count(tx.sender, true);
        if front { self.queue.push_front(tx) } else { self.queue.push_back(tx) }
    }

    fn remove_ordinary_at(&mut self, index: usize) -> Option<PooledTx> {
        let tx = self.queue.remove(index)?;
        self.known.remove(&tx.hash);
        self.count(tx.sender, false);
        Some(tx)
    }

    /// Index of the worst-paying ordinary transaction (the latest among equals).
    fn worst(&self) -> Option<usize> {
        let mut worst: Option<(usize, (u128, u128))> = None;
        for (i, tx) in self.queue.iter().enumerate() {
            if worst.is_none_or(|(_, score)| tx.score() <= score) {
                worst = Some((i, tx.score()));
            }
        }
        worst.map(|(i, _)| i)
    }
}

/// A bounded transaction pool (module docs).
///
/// Invariant: every queued transaction passed the stateless admission rule for the configured
/// chain; `known` holds exactly the hashes in both lanes; a hash is in one lane only;
/// `per_sender` counts the ordinary lane.
#[derive(Debug)]
pub struct TxPool {
    config: PoolConfig,
    rules: Mutex<Rules>,
    inner: Mutex<Inner>,
}

impl TxPool {
    /// An empty pool for `chain_id` holding at most `capacity` transactions (default per-sender
    /// limit and price bump).
    pub fn new(chain_id: u64, capacity: usize) -> Self {
        Self::with_config(PoolConfig::new(chain_id, capacity))
    }

    /// An empty pool with `config`.
    pub fn with_config(config: PoolConfig) -> Self {
        Self { rules: Mutex::new(Rules::new(config.chain_id)), config, inner: Mutex::default() }
    }

    /// The pool's limits.
    pub const fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// The stateless rule the pool applies now.
    pub fn rules(&self) -> Rules {
        *self.rules.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Updates the L2 block gas limit and base fee floor (from the L2 head) the pool admits by.
    pub fn set_block_limits(&self, block_gas_limit: u64, base_fee_floor: u64) {
        let mut rules = self.rules.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        rules.block_gas_limit = block_gas_limit;
        rules.base_fee_floor = base_fee_floor;
    }

    /// Checks a raw transaction against the stateless rule without queueing it.
    pub fn check(&self, raw: &[u8]) -> Result<CheckedTx, PoolError> {
        Ok(based_admission::check_tx(raw, &self.rules())?)
    }

    /// Checks and queues a raw ordinary transaction; `account` is the sender's L2 account (`None`:
    /// not known, the account rule is skipped). Returns its hash.
    pub fn add_raw(&self, raw: &[u8], account: Option<&Account>) -> Result<B256, PoolError> {
        let tx = self.check(raw)?;
        self.add_checked(&tx, raw, account)
    }

    /// Queues an ordinary transaction that passed [`Self::check`] (module docs); `account` as for
    /// [`Self::add_raw`].
    pub fn add_checked(
        &self,
        tx: &CheckedTx,
        raw: &[u8],
        account: Option<&Account>,
    ) -> Result<B256, PoolError> {
        if let Some(account) = account {
            based_admission::check_account(tx, account)?;
        }
        let new = PooledTx::new(tx, raw, false);
        let hash = new.hash;
        let mut inner = self.lock();
        if inner.known.contains(&hash) {
            return Err(PoolError::AlreadyKnown);
        }
        if inner.promised.iter().any(|t| t.sender == new.sender && t.nonce == new.nonce) {
            return Err(PoolError::NoncePromised { sender: new.sender, nonce: new.nonce });
        }
        if let Some(i) =
            inner.queue.iter().position(|t| t.sender == new.sender && t.nonce == new.nonce)
        {
            let Some(old) = inner.queue.get(i) else { return Err(PoolError::ReplaceUnderpriced) };
            if !bumps(&new, old, self.config.price_bump_percent) {
                return Err(PoolError::ReplaceUnderpriced);
            }
            let old_hash = old.hash;
            inner.known.remove(&old_hash);
            inner.known.insert(hash);
            if let Some(slot) = inner.queue.get_mut(i) {
                *slot = new;
            }
            return Ok(hash);
        }
        if inner.per_sender.get(&new.sender).copied().unwrap_or_default()
            >= self.config.max_per_sender
        {
            return Err(PoolError::AccountLimit(self.config.max_per_sender));
        }
        if inner.len() >= self.config.capacity {
            let Some(worst) = inner.worst() else { return Err(PoolError::Full) };
            let worse = inner.queue.get(worst).is_some_and(|w| w.score() < new.score());
            if !worse {
                return Err(PoolError::Underpriced);
            }
            if let Some(evicted) = inner.remove_ordinary_at(worst) {
                tracing::debug!(target: "proposer::pool", hash = %evicted.hash, by = %hash, "evicted by a better-paying transaction");
            }
        }
        inner.push_ordinary(new, false);
        Ok(hash)
    }

    /// Checks (stateless rule) and queues a raw transaction in the promised lane (after earlier
    /// promises, before every ordinary transaction); an ordinary one with the same hash or the
    /// same sender and nonce leaves the ordinary lane.
    pub fn add_promised(&self, raw: &[u8]) -> Result<B256, PoolError> {
        let tx = self.check(raw)?;
        let new = PooledTx::new(&tx, raw, true);
        let hash = new.hash;
        let mut inner = self.lock();
        if inner.promised.iter().any(|t| t.hash == hash) {
            return Err(PoolError::AlreadyKnown);
        }
        while let Some(i) = inner
            .queue
            .iter()
            .position(|t| t.hash == hash || (t.sender == new.sender && t.nonce == new.nonce))
        {
            inner.remove_ordinary_at(i);
        }
        if inner.len() >= self.config.capacity {
            let Some(worst) = inner.worst() else { return Err(PoolError::Full) };
            inner.remove_ordinary_at(worst);
        }
        inner.known.insert(hash);
        inner.promised.push_back(new);
        Ok(hash)
    }

    /// Removes and returns queued transactions from the front, in order, while the total raw size
    /// stays within `max_bytes` and the count within `max_txs`.
    pub fn take(&self, max_bytes: usize, max_txs: usize) -> Vec<PooledTx> {
        let mut inner = self.lock();
        let mut out = Vec::new();
        let mut size = 0usize;
        while let Some(front) = inner.promised.front() {
            let next = size.saturating_add(front.raw.len());
            if out.len() >= max_txs || next > max_bytes {
                return out;
            }
            size = next;
            if let Some(tx) = inner.promised.pop_front() {
                inner.known.remove(&tx.hash);
                out.push(tx);
            }
        }
        while let Some(front) = inner.queue.front() {
            let next = size.saturating_add(front.raw.len());
            if out.len() >= max_txs || next > max_bytes {
                return out;
            }
            size = next;
            if let Some(tx) = inner.remove_ordinary_at(0) {
                out.push(tx);
            }
        }
        out
    }

    /// Puts transactions back at the front, in their order (after a failed or orphaned proposal).
    /// Capacity is not enforced (they were in the pool before); hashes already queued are skipped.
    pub fn requeue_front(&self, txs: Vec<PooledTx>) {
        let mut inner = self.lock();
        for tx in txs.into_iter().rev() {
            if inner.known.contains(&tx.hash) {
                continue;
            }
            if tx.promised {
                inner.known.insert(tx.hash);
                inner.promised.push_front(tx);
            } else {
                inner.push_ordinary(tx, true);
            }
        }
    }

    /// The nonces of `sender`'s queued transactions (both lanes), ascending, without repeats.
    pub fn nonces_of(&self, sender: Address) -> Vec<u64> {
        let inner = self.lock();
        let mut nonces: Vec<u64> = inner
            .promised
            .iter()
            .chain(inner.queue.iter())
            .filter(|tx| tx.sender == sender)
            .map(|tx| tx.nonce)
            .collect();
        nonces.sort_unstable();
        nonces.dedup();
        nonces
    }

    /// Number of queued transactions.
    pub fn len(&self) -> usize {
        self.lock().len()
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

/// The transactions of `txs` whose nonce is not used on L2 yet (`nonce_of(sender)` is the
/// sender's next L2 nonce; `None`, unknown: kept, execution skips a used nonce anyway), in order.
pub fn unused_nonces(
    txs: Vec<PooledTx>,
    nonce_of: impl Fn(&Address) -> Option<u64>,
) -> Vec<PooledTx> {
    txs.into_iter().filter(|tx| nonce_of(&tx.sender).is_none_or(|next| tx.nonce >= next)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
    use alloy_eips::eip2718::Encodable2718;
    use alloy_network::TxSignerSync;
    use alloy_primitives::{TxKind, U256};
    use alloy_signer_local::PrivateKeySigner;

    const CHAIN: u64 = 4242;

    fn key(n: u8) -> PrivateKeySigner {
        PrivateKeySigner::from_bytes(&B256::repeat_byte(n)).unwrap()
    }

    fn tx_from(signer: &PrivateKeySigner, nonce: u64, max_fee: u128, tip: u128) -> Vec<u8> {
        let mut tx = TxEip1559 {
            chain_id: CHAIN,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(Address::repeat_byte(1)),
            value: U256::from(1),
            ..Default::default()
        };
        let sig = signer.sign_transaction_sync(&mut tx).unwrap();
        TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
    }

    fn signed(chain_id: Option<u64>, nonce: u64) -> Vec<u8> {
        let signer = key(7);
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

    fn funded(nonce: u64) -> Account {
        Account { nonce, balance: U256::from(10u128.pow(20)) }
    }

    #[test]
    fn accepts_valid_pre_eip155_and_rejects_duplicates_and_wrong_chain() {
        let pool = TxPool::new(CHAIN, 10);
        let raw = signed(Some(CHAIN), 0);
        let hash = pool.add_raw(&raw, None).unwrap();
        assert_eq!(hash, alloy_primitives::keccak256(&raw));
        assert_eq!(pool.add_raw(&raw, None), Err(PoolError::AlreadyKnown));
        assert_eq!(
            pool.add_raw(&signed(Some(1), 0), None),
            Err(PoolError::Admission(AdmissionError::ChainId { got: 1, expected: CHAIN }))
        );
        // Pre-EIP-155 legacy transactions are valid (docs/protocol.md §4.4).
        pool.add_raw(&signed(None, 1), None).unwrap();
        let err = pool.add_raw(&[0x02, 0xc0], None).unwrap_err();
        assert!(matches!(err, PoolError::Admission(AdmissionError::Decode(_))));
        assert_eq!(err.code(), based_admission::INVALID_PARAMS);
        let mut trailing = raw;
        trailing.push(0);
        assert!(pool.add_raw(&trailing, None).is_err());
        assert_eq!(pool.len(), 2);
    }

    #[test]
    fn refuses_low_nonce_and_gas_above_the_block_at_once() {
        let pool = TxPool::new(CHAIN, 10);
        pool.set_block_limits(20_000, 7);
        let err = pool.add_raw(&signed(Some(CHAIN), 3), Some(&funded(0))).unwrap_err();
        assert!(matches!(err, PoolError::Admission(AdmissionError::GasLimit { .. })));
        assert_eq!(err.code(), -32000);
        pool.set_block_limits(30_000_000, 7);
        let err = pool.add_raw(&signed(Some(CHAIN), 3), Some(&funded(4))).unwrap_err();
        assert!(matches!(err, PoolError::Admission(AdmissionError::NonceTooLow { .. })));
        assert!(err.to_string().starts_with("nonce too low"));
        pool.add_raw(&signed(Some(CHAIN), 4), Some(&funded(4))).unwrap();
        assert_eq!(pool.len(), 1);
    }

    #[test]
    fn per_sender_limit() {
        let pool =
            TxPool::with_config(PoolConfig { max_per_sender: 3, ..PoolConfig::new(CHAIN, 100) });
        let alice = key(1);
        for nonce in 0..3 {
            pool.add_raw(&tx_from(&alice, nonce, 100, 10), Some(&funded(0))).unwrap();
        }
        assert_eq!(
            pool.add_raw(&tx_from(&alice, 3, 100, 10), Some(&funded(0))),
            Err(PoolError::AccountLimit(3))
        );
        // Another sender is not affected; a replacement of a queued nonce is not a new slot.
        pool.add_raw(&tx_from(&key(2), 0, 100, 10), Some(&funded(0))).unwrap();
        pool.add_raw(&tx_from(&alice, 2, 200, 20), Some(&funded(0))).unwrap();
        // Taking one frees a slot.
        assert_eq!(pool.take(usize::MAX, 1).len(), 1);
        pool.add_raw(&tx_from(&alice, 3, 100, 10), Some(&funded(0))).unwrap();
    }

    #[test]
    fn replacement_needs_a_ten_percent_fee_bump() {
        let pool = TxPool::new(CHAIN, 10);
        let alice = key(1);
        let first = pool.add_raw(&tx_from(&alice, 0, 1_000, 100), None).unwrap();
        let next = pool.add_raw(&tx_from(&alice, 1, 1_000, 100), None).unwrap();
        // +9% is not enough, nor a bump of one field only.
        for (fee, tip) in [(1_090, 109), (1_100, 100), (2_000, 109)] {
            assert_eq!(
                pool.add_raw(&tx_from(&alice, 0, fee, tip), None),
                Err(PoolError::ReplaceUnderpriced)
            );
        }
        let replaced = pool.add_raw(&tx_from(&alice, 0, 1_100, 110), None).unwrap();
        assert_ne!(replaced, first);
        assert_eq!(pool.len(), 2);
        // The replacement keeps the replaced transaction's place; the old one is gone.
        let all = pool.take(usize::MAX, 10);
        assert_eq!(all.iter().map(|t| t.hash).collect::<Vec<_>>(), vec![replaced, next]);
        pool.add_raw(&tx_from(&alice, 0, 1_000, 100), None).unwrap();
    }

    #[test]
    fn full_pool_evicts_the_worst_paying_for_a_better_one() {
        let pool = TxPool::new(CHAIN, 3);
        let cheap = pool.add_raw(&tx_from(&key(1), 0, 1_000, 1), None).unwrap();
        let mid = pool.add_raw(&tx_from(&key(2), 0, 1_000, 5), None).unwrap();
        let high = pool.add_raw(&tx_from(&key(3), 0, 1_000, 9), None).unwrap();
        // Paying no more than the worst: refused.
        assert_eq!(pool.add_raw(&tx_from(&key(4), 0, 1_000, 1), None), Err(PoolError::Underpriced));
        let better = pool.add_raw(&tx_from(&key(5), 0, 1_000, 7), None).unwrap();
        assert_eq!(pool.len(), 3);
        let all: Vec<_> = pool.take(usize::MAX, 10).iter().map(|t| t.hash).collect();
        assert_eq!(all, vec![mid, high, better]);
        assert!(!all.contains(&cheap));
        // A promised transaction evicts the worst ordinary one even when it pays less.
        pool.add_raw(&tx_from(&key(1), 0, 1_000, 1), None).unwrap();
        let keep = pool.add_raw(&tx_from(&key(2), 0, 1_000, 5), None).unwrap();
        pool.add_raw(&tx_from(&key(3), 0, 1_000, 9), None).unwrap();
        let promised = pool.add_promised(&tx_from(&key(6), 0, 8, 0)).unwrap();
        let all: Vec<_> = pool.take(usize::MAX, 10).iter().map(|t| t.hash).collect();
        assert_eq!(all.first(), Some(&promised));
        assert!(all.contains(&keep) && all.len() == 3);
    }

    #[test]
    fn unfunded_flood_from_fresh_keys_cannot_fill_the_pool() {
        let pool = TxPool::new(CHAIN, 8);
        let empty = Account::default();
        for n in 1..=50u8 {
            // Fresh keys, high fees, no balance: each refused by the balance check.
            let raw = tx_from(&key(n), 0, 1_000_000_000_000, 1_000_000_000_000);
            let err = pool.add_raw(&raw, Some(&empty)).unwrap_err();
            assert!(matches!(err, PoolError::Admission(AdmissionError::InsufficientFunds { .. })));
        }
        assert!(pool.is_empty());
        let ok = pool.add_raw(&tx_from(&key(99), 0, 1_000, 1), Some(&funded(0))).unwrap();
        assert_eq!(pool.take(usize::MAX, 10).first().map(|t| t.hash), Some(ok));
    }

    #[test]
    fn capacity_and_fifo_take_requeue() {
        let pool = TxPool::new(CHAIN, 3);
        let raws: Vec<_> = (0..4).map(|n| signed(Some(CHAIN), n)).collect();
        for raw in &raws[..3] {
            pool.add_raw(raw, None).unwrap();
        }
        // Same fees as the worst: not admitted.
        assert_eq!(pool.add_raw(&raws[3], None), Err(PoolError::Underpriced));
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
        pool.add_raw(&raws[0], None).unwrap();
        assert!(pool.take(raws[0].len() - 1, 10).is_empty());
        assert_eq!(pool.take(raws[0].len(), 10).len(), 1);
    }

    #[test]
    fn promised_lane_goes_first_and_survives_requeue() {
        let pool = TxPool::new(CHAIN, 10);
        let ordinary = pool.add_raw(&signed(Some(CHAIN), 0), None).unwrap();
        let p1 = pool.add_promised(&signed(Some(CHAIN), 1)).unwrap();
        let p2 = pool.add_promised(&signed(Some(CHAIN), 2)).unwrap();
        // Promising a transaction already queued as ordinary moves it; twice is refused.
        let moved = pool.add_promised(&signed(Some(CHAIN), 0)).unwrap();
        assert_eq!(moved, ordinary);
        assert!(matches!(pool.add_promised(&signed(Some(CHAIN), 1)), Err(PoolError::AlreadyKnown)));
        // An ordinary transaction cannot take a promised nonce.
        assert!(matches!(
            pool.add_raw(&tx_from(&key(7), 1, 10u128.pow(12), 10u128.pow(12)), None),
            Err(PoolError::NoncePromised { nonce: 1, .. })
        ));
        let later = pool.add_raw(&signed(Some(CHAIN), 3), None).unwrap();
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

    #[test]
    fn unused_nonces_keeps_only_transactions_not_yet_on_l2() {
        let pool = TxPool::new(CHAIN, 10);
        for nonce in 0..4 {
            pool.add_raw(&signed(Some(CHAIN), nonce), None).unwrap();
        }
        pool.add_raw(&tx_from(&key(1), 0, 1_000, 1), None).unwrap();
        let txs = pool.take(usize::MAX, 10);
        let sender = txs[0].sender;
        // Nonces 0 and 1 of the first sender were used on L2; the other sender is unknown.
        let kept = unused_nonces(txs, |a| (*a == sender).then_some(2));
        assert_eq!(kept.iter().map(|t| t.nonce).collect::<Vec<_>>(), vec![2, 3, 0]);
    }
}
