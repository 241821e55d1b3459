//! The node's preconfirmed state (docs/protocol.md §10.5): an ordered list of promised
//! transactions executed on top of the L2 head — the **pending block** the `pending` tag reads.
//!
//! - [`Preconfirmations::preconfirm`] executes one transaction on top of the pending block with
//!   the executor derived blocks use ([`based_evm::L2BlockExecutor`], the same skip rules): a
//!   valid one (chain id, signature, nonce exactly next, balance for `gas_limit * max_fee +
//!   value`, gas left in the block) is appended at the next position; an invalid one changes
//!   nothing and gets a typed [`PreconfError`].
//! - [`Preconfirmations::rebase`] runs after the driver imported or unwound L2 blocks: the list is
//!   re-executed in order on the new head; transactions now on L2 leave it, transactions that are
//!   no longer valid (an L1 reorg, a batch posted without them, a conflicting transaction) and
//!   transactions whose deadline passed on L1 are recorded as **broken** ([`BrokenPromise`],
//!   `tracing` warning) — never dropped silently.
//! - [`Preconfirmations::drop_preconfirmed`] removes a transaction a gateway could not make durable.
//!
//! The pending block's environment is the one the node derives with, on top of head `H`: number
//! `H + 1`, timestamp `max(H.timestamp + 1, now)`, `H`'s gas limit and fee recipient, the
//! EIP-1559 base fee from `H`, `H`'s L1 anchor, no deposits (they are credited when derived).
//!
//! The pending block lives on one thread of its own (the EVM is not `Send`): every call is a
//! request to it, answered in order.
//!
//! Invariants: every pending transaction is valid at its position on the current head (the list
//! is exactly what the executor included); requests are applied one at a time, in arrival order;
//! a snapshot ([`PendingBlock`]) never mixes two heads.

use alloy_consensus::{
    Header, Sealed, Transaction as _, TxEnvelope, TxReceipt,
    proofs::{calculate_receipt_root, calculate_transaction_root},
};
use alloy_eips::eip4895::Withdrawals;
use alloy_primitives::{Address, B256, Bloom, Bytes, U64};
use based_evm::{BlockInput, L1Anchor, L2BlockExecutor, SkipReason, TxOutcome};
use based_rpc::{
    BlockBody, BrokenKind, BrokenPromise, PendingBlock, PreconfBackend, PreconfEntry, PreconfError,
    PreconfList, PreconfStatus, Preconfirmation, Preconfirmed, SealedHeader, share_state,
};
use based_storage::{StateReader, Store};
use revm::{
    DatabaseRef,
    database::CacheState,
    primitives::{StorageKey, StorageValue},
    state::{AccountInfo, Bytecode},
};
use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, mpsc},
};
use tracing::{debug, info, warn};

/// Broken promises kept for `based_preconfirmations` (the oldest are forgotten first).
pub const MAX_BROKEN: usize = 1024;

/// Where the chain stands after the driver's last step: the L2 head and its L1 anchor, and the
/// last processed L1 block (its timestamp is the clock of deadlines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainPosition {
    /// L2 head number.
    pub l2_head: u64,
    /// The L1 anchor of the L2 head (the pending block keeps it).
    pub anchor: L1Anchor,
    /// Last processed L1 block number.
    pub l1_number: u64,
    /// Its timestamp.
    pub l1_timestamp: u64,
}

impl ChainPosition {
    /// The position of a derivation state.
    pub fn of(state: &based_derive::DerivationState) -> Self {
        let l2 = state.l2_head();
        let l1 = state.l1_head();
        Self {
            l2_head: l2.number,
            anchor: l2.anchor,
            l1_number: l1.number,
            l1_timestamp: l1.timestamp,
        }
    }
}

type Executor = L2BlockExecutor<Arc<StateReader>>;

/// The state after the pending transactions, frozen for readers: the executor's account cache
/// over the head snapshot it executes on. Reads follow revm's `State` exactly (an account the
/// block touched is answered from the cache; a slot it did not load is read from the head unless
/// the account's storage is known, i.e. created or destroyed in the block).
#[derive(Debug)]
struct PendingState {
    cache: CacheState,
    base: Arc<StateReader>,
}

impl DatabaseRef for PendingState {
    type Error = based_storage::StoreError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        match self.cache.accounts.get(&address) {
            Some(account) => Ok(account.account_info()),
            None => self.base.basic_ref(address),
        }
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        match self.cache.contracts.get(&code_hash) {
            Some(code) => Ok(code.clone()),
            None => self.base.code_by_hash_ref(code_hash),
        }
    }

    fn storage_ref(
        &self,
        address: Address,
        index: StorageKey,
    ) -> Result<StorageValue, Self::Error> {
        let Some(account) = self.cache.accounts.get(&address) else {
            return self.base.storage_ref(address, index);
        };
        let Some(plain) = &account.account else { return Ok(StorageValue::ZERO) };
        if let Some(value) = plain.storage.get(&index) {
            return Ok(*value);
        }
        if account.status.is_storage_known() {
            return Ok(StorageValue::ZERO);
        }
        self.base.storage_ref(address, index)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        self.base.block_hash_ref(number)
    }
}

/// The pending block under construction on one head.
struct Building {
    parent: Sealed<Header>,
    base: Arc<StateReader>,
    timestamp: u64,
    executor: Executor,
}

impl Building {
    /// Starts the pending block on `parent` over the state snapshot `base`.
    fn start(
        chain_id: u64,
        parent: Sealed<Header>,
        base: Arc<StateReader>,
        anchor: L1Anchor,
        timestamp: u64,
    ) -> Result<Self, PreconfError> {
        let input = BlockInput {
            timestamp,
            fee_recipient: parent.beneficiary,
            gas_limit: parent.gas_limit,
            anchor,
            deposits: Vec::new(),
            transactions: Vec::new(),
            parent: parent.clone(),
        };
        let executor = L2BlockExecutor::new(chain_id, Arc::clone(&base), &input)
            .map_err(|e| PreconfError::Unavailable(e.to_string()))?;
        Ok(Self { parent, base, timestamp, executor })
    }

    /// A fresh block on the same head, snapshot and timestamp (to re-execute after a drop).
    fn restart(&self, chain_id: u64, anchor: L1Anchor) -> Result<Self, PreconfError> {
        Self::start(chain_id, self.parent.clone(), Arc::clone(&self.base), anchor, self.timestamp)
    }
}

/// One pending transaction.
#[derive(Debug, Clone)]
struct Entry {
    tx: TxEnvelope,
    sender: Address,
    slot: u64,
    deadline: Option<u64>,
    index: usize,
    gas_used: u64,
    status: bool,
}

impl Entry {
    fn hash(&self) -> B256 {
        *self.tx.tx_hash()
    }
}

#[derive(Default)]
struct Inner {
    position: Option<ChainPosition>,
    head_hash: Option<B256>,
    block: Option<Building>,
    entries: Vec<Entry>,
    /// Position in `entries` of each pending transaction, by hash.
    by_hash: HashMap<B256, usize>,
    broken: VecDeque<BrokenPromise>,
    broken_total: u64,
    snapshot: Option<Arc<PendingBlock>>,
}

type Reply<T> = mpsc::SyncSender<T>;

/// A request to the pending block's thread.
enum Request {
    /// A transaction whose sender the caller's thread recovered (recovery is the costliest step
    /// and needs no state, so it runs in parallel, outside the pending block's thread).
    Preconfirm {
        tx: Box<TxEnvelope>,
        sender: Address,
        slot: u64,
        deadline: Option<u64>,
        reply: Reply<Result<Preconfirmed, PreconfError>>,
    },
    Drop {
        hash: B256,
        reply: Reply<Result<bool, PreconfError>>,
    },
    Rebase {
        position: ChainPosition,
        reply: Reply<()>,
    },
    Snapshot {
        reply: Reply<Option<Arc<PendingBlock>>>,
    },
    List {
        reply: Reply<PreconfList>,
    },
    Status {
        reply: Reply<PreconfStatus>,
    },
}

/// The node's preconfirmed state; see the module docs. A handle to the thread owning the
/// pending block (the thread ends when the handle is dropped).
pub struct Preconfirmations {
    chain_id: u64,
    session: u64,
    requests: mpsc::Sender<Request>,
}

impl std::fmt::Debug for Preconfirmations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Preconfirmations")
            .field("chain_id", &self.chain_id)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

/// The pending block's thread.
struct Worker {
    store: Store,
    chain_id: u64,
    session: u64,
    now: Box<dyn Fn() -> u64 + Send>,
    inner: Inner,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// A per-process random session id (changes when the node restarts: the gateway then re-pushes).
fn new_session() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.write_u32(std::process::id());
    h.finish()
}

fn store_err(e: impl std::fmt::Display) -> PreconfError {
    PreconfError::Unavailable(e.to_string())
}

/// The `based_preconfirm` error of a skip reason.
fn refusal(reason: SkipReason) -> PreconfError {
    match reason {
        SkipReason::BadNonce { tx, account } => PreconfError::Nonce { got: tx, expected: account },
        SkipReason::InsufficientFunds => PreconfError::Funds,
        SkipReason::GasLimitExceedsBlock { tx_gas_limit, available } => {
            PreconfError::Gas { tx_gas_limit, available }
        }
        SkipReason::WrongChainId => PreconfError::ChainId,
        other => PreconfError::Invalid(other.to_string()),
    }
}

impl Preconfirmations {
    /// An empty preconfirmed state over `store` for chain `chain_id` (pending timestamps from the
    /// wall clock). Call [`Self::rebase`] with the driver's position before serving.
    pub fn new(store: Store, chain_id: u64) -> Self {
        Self::with_clock(store, chain_id, unix_now)
    }

    /// [`Self::new`] with another clock for pending timestamps (Unix seconds; tests).
    pub fn with_clock(store: Store, chain_id: u64, now: impl Fn() -> u64 + Send + 'static) -> Self {
        let session = new_session();
        let (requests, rx) = mpsc::channel();
        let now: Box<dyn Fn() -> u64 + Send> = Box::new(now);
        let spawned = std::thread::Builder::new().name("based-preconf".into()).spawn(move || {
            let worker = Worker { store, chain_id, session, now, inner: Inner::default() };
            worker.run(&rx);
        });
        if let Err(e) = spawned {
            // Every request then answers `Unavailable` (the receiver is gone).
            warn!(target: "based::preconf", error = %e, "cannot start the pending block's thread");
        }
        Self { chain_id, session, requests }
    }

    /// The session id (random per process).
    pub const fn session(&self) -> u64 {
        self.session
    }

    /// Sends a request and waits for its answer (`None`: the thread is gone).
    fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Option<T> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.requests.send(make(reply)).ok()?;
        answer.recv().ok()
    }

    /// Re-executes the pending list on the store's current head (after the driver imported or
    /// unwound blocks, or reached L1 time past a deadline). Transactions now on L2 leave the
    /// list; the rest are re-executed in order; those invalid now or overdue are recorded as
    /// broken. On a store failure the list is kept and the next call retries. Returns once done.
    pub fn rebase(&self, position: ChainPosition) {
        let _ = self.ask(|reply| Request::Rebase { position, reply });
    }
}

fn gone() -> PreconfError {
    PreconfError::Unavailable("the pending block's thread stopped".into())
}

impl Worker {
    fn run(mut self, requests: &mpsc::Receiver<Request>) {
        while let Ok(request) = requests.recv() {
            // A requester that gave up is not an error.
            match request {
                Request::Preconfirm { tx, sender, slot, deadline, reply } => {
                    let _ = reply.send(self.preconfirm(*tx, sender, slot, deadline));
                }
                Request::Drop { hash, reply } => {
                    let _ = reply.send(self.drop_preconfirmed(hash));
                }
                Request::Rebase { position, reply } => {
                    self.rebase(position);
                    let _ = reply.send(());
                }
                Request::Snapshot { reply } => {
                    let _ = reply.send(self.snapshot());
                }
                Request::List { reply } => {
                    let _ = reply.send(self.list());
                }
                Request::Status { reply } => {
                    let _ = reply.send(self.status());
                }
            }
        }
    }

    /// Starts a pending block on the store's head.
    fn start_block(&self, anchor: L1Anchor) -> Result<Building, PreconfError> {
        let base = Arc::new(self.store.latest().map_err(store_err)?);
        let head = self.store.head_header().map_err(store_err)?;
        let parent = Sealed::new(head.ok_or_else(|| store_err("store has no genesis"))?);
        // The snapshot and the header are two reads: rebuild if a commit came in between.
        if base.head_number() != Some(parent.number) {
            return Err(PreconfError::Unavailable("the head moved; retry".into()));
        }
        let timestamp = parent.timestamp.saturating_add(1).max((self.now)());
        Building::start(self.chain_id, parent, base, anchor, timestamp)
    }

    /// See [`Preconfirmations::rebase`].
    fn rebase(&mut self, position: ChainPosition) {
        let head_hash = match self.store.head() {
            Ok(head) => head.map(|h| h.hash),
            Err(e) => {
                warn!(target: "based::preconf", error = %e, "cannot read the L2 head; pending block kept");
                return;
            }
        };
        let inner = &mut self.inner;
        let overdue =
            inner.entries.iter().any(|e| e.deadline.is_some_and(|d| position.l1_timestamp > d));
        if inner.head_hash == head_hash && inner.block.is_some() && !overdue {
            inner.position = Some(position);
            return;
        }
        let mut block = None;
        for _ in 0..3 {
            match self.start_block(position.anchor) {
                Ok(b) => {
                    block = Some(b);
                    break;
                }
                Err(e) => {
                    warn!(target: "based::preconf", error = %e, "cannot start the pending block");
                }
            }
        }
        let Some(block) = block else { return };
        let l2_head = block.parent.number;
        let inner = &mut self.inner;
        inner.position = Some(position);
        inner.head_hash = Some(block.parent.hash());
        let entries = std::mem::take(&mut inner.entries);
        let before = entries.len();
        inner.block = Some(block);
        Self::reexecute(&self.store, inner, entries, &position);
        let left = before.saturating_sub(inner.entries.len());
        if before > 0 {
            info!(target: "based::preconf", l2_head, pending = inner.entries.len(), left, "pending block rebased");
        } else {
            debug!(target: "based::preconf", l2_head, "pending block started");
        }
    }

    /// Executes `entries` in order on `inner.block` (freshly started), keeping what is included.
    fn reexecute(store: &Store, inner: &mut Inner, entries: Vec<Entry>, position: &ChainPosition) {
        inner.snapshot = None;
        inner.by_hash.clear();
        for entry in entries {
            let hash = entry.hash();
            match store.transaction_by_hash(hash) {
                Ok(Some(landed)) => {
                    debug!(target: "based::preconf", tx = %hash, block = landed.block_number, "preconfirmed transaction landed");
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    // Cannot tell whether it landed: keep it if it still executes.
                    warn!(target: "based::preconf", tx = %hash, error = %e, "transaction lookup failed");
                }
            }
            if let Some(deadline) = entry.deadline
                && position.l1_timestamp > deadline
            {
                let reason = format!(
                    "not on L2 by its deadline {deadline}: L1 block {} is at {}",
                    position.l1_number, position.l1_timestamp
                );
                Self::record_broken(inner, &entry, BrokenKind::Overdue, reason, position);
                continue;
            }
            let Some(block) = inner.block.as_mut() else { return };
            match block.executor.execute(Ok((entry.tx.clone(), entry.sender))) {
                Ok(TxOutcome::Included { index, gas_used }) => {
                    let status = block.executor.receipts().get(index).is_some_and(|r| r.status());
                    inner.by_hash.insert(hash, inner.entries.len());
                    inner.entries.push(Entry { index, gas_used, status, ..entry });
                }
                Ok(TxOutcome::Skipped(reason)) => {
                    Self::record_broken(
                        inner,
                        &entry,
                        BrokenKind::Invalidated,
                        reason.to_string(),
                        position,
                    );
                }
                Err(e) => {
                    let reason = format!("execution failed: {e}");
                    Self::record_broken(inner, &entry, BrokenKind::Invalidated, reason, position);
                }
            }
        }
    }

    fn record_broken(
        inner: &mut Inner,
        entry: &Entry,
        kind: BrokenKind,
        reason: String,
        position: &ChainPosition,
    ) {
        warn!(
            target: "based::preconf",
            tx = %entry.hash(),
            slot = entry.slot,
            sender = %entry.sender,
            nonce = entry.tx.nonce(),
            ?kind,
            %reason,
            l2_head = position.l2_head,
            "preconfirmed transaction broken"
        );
        if inner.broken.len() >= MAX_BROKEN {
            inner.broken.pop_front();
        }
        inner.broken.push_back(BrokenPromise {
            tx_hash: entry.hash(),
            slot: U64::from(entry.slot),
            sender: entry.sender,
            nonce: U64::from(entry.tx.nonce()),
            kind,
            reason,
            l2_head: U64::from(position.l2_head),
            l1_block: U64::from(position.l1_number),
        });
        inner.broken_total = inner.broken_total.saturating_add(1);
    }

    fn answer(session: u64, entry: &Entry, block_number: u64) -> Preconfirmation {
        Preconfirmation {
            tx_hash: entry.hash(),
            pending: true,
            block_number: U64::from(block_number),
            transaction_index: U64::from(entry.index),
            gas_used: U64::from(entry.gas_used),
            status: entry.status,
            session: U64::from(session),
        }
    }

    /// Where a canonical transaction is (`pending: false`).
    fn landed(&self, landed: &based_storage::IndexedTransaction) -> Preconfirmation {
        let receipts = self.store.receipts(landed.block_number).ok().flatten().unwrap_or_default();
        let index = usize::try_from(landed.index).unwrap_or(usize::MAX);
        let cumulative = |i: usize| receipts.get(i).map_or(0, |r| r.cumulative_gas_used());
        let before = index.checked_sub(1).map_or(0, cumulative);
        Preconfirmation {
            tx_hash: *landed.tx.tx_hash(),
            pending: false,
            block_number: U64::from(landed.block_number),
            transaction_index: U64::from(landed.index),
            gas_used: U64::from(cumulative(index).saturating_sub(before)),
            status: receipts.get(index).is_some_and(|r| r.status()),
            session: U64::from(self.session),
        }
    }

    /// Builds (or returns the cached) snapshot of the pending block.
    fn snapshot(&mut self) -> Option<Arc<PendingBlock>> {
        let inner = &mut self.inner;
        if let Some(s) = &inner.snapshot {
            return Some(Arc::clone(s));
        }
        let block = inner.block.as_ref()?;
        let executor = &block.executor;
        let transactions = executor.transactions().to_vec();
        let receipts = executor.receipts().to_vec();
        let mut bloom = Bloom::ZERO;
        for r in &receipts {
            bloom.accrue_bloom(&r.bloom());
        }
        let header = Header {
            gas_used: executor.gas_used(),
            transactions_root: calculate_transaction_root(&transactions),
            receipts_root: calculate_receipt_root(&receipts),
            logs_bloom: bloom,
            ..executor.header().clone()
        };
        let hash = header.hash_slow();
        let state =
            PendingState { cache: executor.state().cache.clone(), base: Arc::clone(&block.base) };
        let snapshot = Arc::new(PendingBlock {
            header: SealedHeader { header, hash },
            body: BlockBody {
                transactions,
                senders: executor.senders().to_vec(),
                withdrawals: Some(Withdrawals::default()),
            },
            receipts,
            state: share_state(state),
        });
        inner.snapshot = Some(Arc::clone(&snapshot));
        Some(snapshot)
    }

    fn preconfirm(
        &mut self,
        tx: TxEnvelope,
        sender: Address,
        slot: u64,
        deadline: Option<u64>,
    ) -> Result<Preconfirmed, PreconfError> {
        let hash = *tx.tx_hash();
        if let Some(landed) = self.store.transaction_by_hash(hash).map_err(store_err)? {
            return Ok(Preconfirmed { answer: self.landed(&landed), added: false });
        }
        if self.inner.block.is_none() {
            let position = self.inner.position.ok_or_else(|| store_err("not synced yet"))?;
            let block = self.start_block(position.anchor)?;
            self.inner.head_hash = Some(block.parent.hash());
            self.inner.block = Some(block);
        }
        let inner = &mut self.inner;
        if let Some(entry) = inner.by_hash.get(&hash).and_then(|&at| inner.entries.get(at)) {
            let number = inner.block.as_ref().map_or(0, |b| b.parent.number.saturating_add(1));
            return Ok(Preconfirmed {
                answer: Self::answer(self.session, entry, number),
                added: false,
            });
        }
        let Some(block) = inner.block.as_mut() else {
            return Err(store_err("no pending block"));
        };
        let number = block.parent.number.saturating_add(1);
        let nonce = tx.nonce();
        let outcome = block.executor.execute(Ok((tx.clone(), sender))).map_err(store_err)?;
        match outcome {
            TxOutcome::Included { index, gas_used } => {
                let status = block.executor.receipts().get(index).is_some_and(|r| r.status());
                let entry = Entry { tx, sender, slot, deadline, index, gas_used, status };
                let answer = Self::answer(self.session, &entry, number);
                inner.by_hash.insert(hash, inner.entries.len());
                inner.entries.push(entry);
                inner.snapshot = None;
                debug!(target: "based::preconf", tx = %hash, %sender, nonce, slot, index, gas_used, "preconfirmed");
                Ok(Preconfirmed { answer, added: true })
            }
            TxOutcome::Skipped(reason) => {
                debug!(target: "based::preconf", tx = %hash, %sender, nonce, %reason, "preconfirmation refused");
                Err(refusal(reason))
            }
        }
    }

    fn drop_preconfirmed(&mut self, tx_hash: B256) -> Result<bool, PreconfError> {
        let inner = &mut self.inner;
        let Some(&at) = inner.by_hash.get(&tx_hash).filter(|&&at| at < inner.entries.len()) else {
            return Ok(false);
        };
        let (Some(position), Some(block)) = (inner.position, inner.block.as_ref()) else {
            return Err(store_err("no pending block"));
        };
        let fresh = block.restart(self.chain_id, position.anchor)?;
        let mut entries = std::mem::take(&mut inner.entries);
        let dropped = entries.remove(at);
        inner.block = Some(fresh);
        Self::reexecute(&self.store, inner, entries, &position);
        info!(target: "based::preconf", tx = %tx_hash, slot = dropped.slot, pending = inner.entries.len(), "preconfirmed transaction dropped");
        Ok(true)
    }

    fn list(&self) -> PreconfList {
        let inner = &self.inner;
        let (l2_head, gas_used, gas_limit) = inner.block.as_ref().map_or((0, 0, 0), |b| {
            (b.parent.number, b.executor.gas_used(), b.executor.header().gas_limit)
        });
        PreconfList {
            session: U64::from(self.session),
            l2_head: U64::from(l2_head),
            gas_used: U64::from(gas_used),
            gas_limit: U64::from(gas_limit),
            pending: inner
                .entries
                .iter()
                .map(|e| PreconfEntry {
                    tx_hash: e.hash(),
                    slot: U64::from(e.slot),
                    transaction_index: U64::from(e.index),
                    sender: e.sender,
                    nonce: U64::from(e.tx.nonce()),
                    gas_used: U64::from(e.gas_used),
                    status: e.status,
                })
                .collect(),
            broken: inner.broken.iter().cloned().collect(),
        }
    }

    fn status(&self) -> PreconfStatus {
        let inner = &self.inner;
        PreconfStatus {
            session: U64::from(self.session),
            l2_head: U64::from(inner.block.as_ref().map_or(0, |b| b.parent.number)),
            pending: U64::from(inner.entries.len()),
            broken: U64::from(inner.broken_total),
        }
    }
}

impl PreconfBackend for Preconfirmations {
    fn pending_block(&self) -> Option<Arc<PendingBlock>> {
        self.ask(|reply| Request::Snapshot { reply }).flatten()
    }

    fn preconfirm(
        &self,
        raw: Bytes,
        slot: u64,
        deadline: Option<u64>,
    ) -> Result<Preconfirmed, PreconfError> {
        // Decoding and sender recovery need no state: done on the caller's thread.
        let (tx, sender) = based_evm::recover_transaction(&raw).map_err(refusal)?;
        self.ask(|reply| Request::Preconfirm { tx: Box::new(tx), sender, slot, deadline, reply })
            .unwrap_or_else(|| Err(gone()))
    }

    fn drop_preconfirmed(&self, tx_hash: B256) -> Result<bool, PreconfError> {
        self.ask(|reply| Request::Drop { hash: tx_hash, reply }).unwrap_or_else(|| Err(gone()))
    }

    fn preconfirmations(&self) -> PreconfList {
        self.ask(|reply| Request::List { reply }).unwrap_or_else(|| PreconfList {
            session: U64::from(self.session),
            l2_head: U64::ZERO,
            gas_used: U64::ZERO,
            gas_limit: U64::ZERO,
            pending: Vec::new(),
            broken: Vec::new(),
        })
    }

    fn status(&self) -> PreconfStatus {
        self.ask(|reply| Request::Status { reply }).unwrap_or(PreconfStatus {
            session: U64::from(self.session),
            l2_head: U64::ZERO,
            pending: U64::ZERO,
            broken: U64::ZERO,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{SignableTransaction, TxEip1559};
    use alloy_eips::eip2718::Encodable2718;
    use alloy_primitives::{TxKind, U256};
    use alloy_signer::SignerSync;
    use alloy_signer_local::PrivateKeySigner;
    use based_chainspec::ChainSpec;
    use based_rpc::BrokenKind;

    /// anvil's first dev key: funded in the devnet genesis.
    const DEV: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    const NOW: u64 = 1_000;
    const TO: Address = Address::repeat_byte(0x0b);
    const ANCHOR: L1Anchor = L1Anchor { number: 7, hash: B256::repeat_byte(7) };

    fn dev() -> PrivateKeySigner {
        DEV.parse().unwrap()
    }

    fn sign(signer: &PrivateKeySigner, nonce: u64, to: Address, value: u128, gas: u64) -> Bytes {
        let tx = TxEip1559 {
            chain_id: 4242,
            nonce,
            gas_limit: gas,
            max_fee_per_gas: 10_000_000_000,
            max_priority_fee_per_gas: 1,
            to: TxKind::Call(to),
            value: U256::from(value),
            access_list: Default::default(),
            input: Bytes::new(),
        };
        let sig = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
        TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
    }

    fn hash(raw: &Bytes) -> B256 {
        alloy_primitives::keccak256(raw)
    }

    fn position(l2_head: u64, l1_timestamp: u64) -> ChainPosition {
        ChainPosition { l2_head, anchor: ANCHOR, l1_number: 10 + l2_head, l1_timestamp }
    }

    struct Fixture {
        store: Store,
        spec: ChainSpec,
        preconf: Preconfirmations,
    }

    fn setup() -> Fixture {
        let store = Store::open_in_memory().unwrap();
        let spec = ChainSpec::devnet().unwrap();
        based_engine::init_genesis(&store, &spec).unwrap();
        let preconf = Preconfirmations::with_clock(store.clone(), spec.chain_id(), || NOW);
        preconf.rebase(position(0, 0));
        Fixture { store, spec, preconf }
    }

    impl Fixture {
        /// Imports the next L2 block holding `txs` (as derivation would) and rebases.
        fn import(&self, txs: Vec<Bytes>, l1_timestamp: u64) {
            let parent = based_engine::head(&self.store).unwrap();
            let input = BlockInput {
                timestamp: parent.timestamp + 2,
                fee_recipient: parent.beneficiary,
                gas_limit: parent.gas_limit,
                anchor: ANCHOR,
                deposits: Vec::new(),
                transactions: txs,
                parent,
            };
            let imported = based_engine::import(&self.store, &self.spec, &input, vec![]).unwrap();
            self.preconf.rebase(position(imported.header.number, l1_timestamp));
        }

        fn balance(&self, who: Address) -> U256 {
            let pending = self.preconf.pending_block().unwrap();
            pending.state.basic_ref(who).unwrap().map(|a| a.balance).unwrap_or_default()
        }

        fn pending_hashes(&self) -> Vec<B256> {
            self.preconf.preconfirmations().pending.iter().map(|e| e.tx_hash).collect()
        }
    }

    #[test]
    fn nonce_chain_positions_and_pending_state() {
        let f = setup();
        let a = dev();
        let tx0 = sign(&a, 0, TO, 5, 21_000);
        let tx1 = sign(&a, 1, TO, 7, 21_000);
        let p0 = f.preconf.preconfirm(tx0.clone(), 3, None).unwrap();
        assert!(p0.added);
        let p0 = p0.answer;
        assert_eq!(
            (p0.pending, p0.block_number.to::<u64>(), p0.transaction_index.to::<u64>()),
            (true, 1, 0)
        );
        assert_eq!((p0.gas_used.to::<u64>(), p0.status), (21_000, true));
        assert_eq!(p0.session.to::<u64>(), f.preconf.session());
        let p1 = f.preconf.preconfirm(tx1, 3, None).unwrap().answer;
        assert_eq!(p1.transaction_index.to::<u64>(), 1);
        // The same transaction again: where it is, nothing appended.
        assert_eq!(
            f.preconf.preconfirm(tx0, 3, None).unwrap(),
            Preconfirmed { answer: p0.clone(), added: false }
        );
        assert_eq!(f.preconf.status().pending.to::<u64>(), 2);
        // A gap, and a different transaction for a used nonce: refused with the pending nonce.
        let gap = f.preconf.preconfirm(sign(&a, 3, TO, 1, 21_000), 3, None).unwrap_err();
        assert_eq!(gap, PreconfError::Nonce { got: 3, expected: 2 });
        let reused = f.preconf.preconfirm(sign(&a, 1, TO, 9, 21_000), 3, None).unwrap_err();
        assert_eq!(reused, PreconfError::Nonce { got: 1, expected: 2 });
        assert_eq!(f.pending_hashes(), vec![p0.tx_hash, p1.tx_hash]);

        // The pending block: head + 1, parent = head, the two transfers executed.
        let pending = f.preconf.pending_block().unwrap();
        let head = based_engine::head(&f.store).unwrap();
        assert_eq!(pending.header.header.number, 1);
        assert_eq!(pending.header.header.parent_hash, head.hash());
        assert_eq!(pending.header.header.timestamp, NOW);
        assert_eq!(pending.header.header.gas_used, 42_000);
        assert_eq!(pending.body.transactions.len(), 2);
        assert_eq!(f.balance(TO), U256::from(12));
        let nonce = pending.state.basic_ref(a.address()).unwrap().unwrap().nonce;
        assert_eq!(nonce, 2);
        // The head state is untouched.
        assert_eq!(f.store.latest().unwrap().basic_ref(TO).unwrap(), None);
    }

    #[test]
    fn pending_state_serves_created_code_and_storage() {
        let f = setup();
        // Init code: `sstore(0, 42)`, then return the one-byte runtime `0x00` (STOP).
        let init = alloy_primitives::hex!("602a5f556001600e5f3960015ff300");
        let tx = TxEip1559 {
            chain_id: 4242,
            nonce: 0,
            gas_limit: 200_000,
            max_fee_per_gas: 10_000_000_000,
            to: TxKind::Create,
            input: Bytes::copy_from_slice(&init),
            ..Default::default()
        };
        let sig = dev().sign_hash_sync(&tx.signature_hash()).unwrap();
        let raw = Bytes::from(TxEnvelope::from(tx.into_signed(sig)).encoded_2718());
        let answer = f.preconf.preconfirm(raw, 1, None).unwrap().answer;
        assert!(answer.status);
        let created = dev().address().create(0);
        let pending = f.preconf.pending_block().unwrap();
        let account = pending.state.basic_ref(created).unwrap().expect("created");
        let code = pending.state.code_by_hash_ref(account.code_hash).unwrap();
        assert_eq!(code.original_bytes().as_ref(), &[0u8]);
        assert_eq!(pending.state.storage_ref(created, U256::ZERO).unwrap(), U256::from(42));
        assert_eq!(pending.state.storage_ref(created, U256::from(1)).unwrap(), U256::ZERO);
        assert_eq!(f.store.latest().unwrap().basic_ref(created).unwrap(), None);
    }

    #[test]
    fn funds_chain_id_garbage_and_gas_are_refused_without_change() {
        let f = setup();
        let poor = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x42)).unwrap();
        let err = f.preconf.preconfirm(sign(&poor, 0, TO, 1, 21_000), 1, None).unwrap_err();
        assert_eq!(err, PreconfError::Funds);
        let err = f.preconf.preconfirm(Bytes::from_static(b"junk"), 1, None).unwrap_err();
        assert!(matches!(err, PreconfError::Invalid(_)), "{err:?}");
        let other_chain = {
            let tx = TxEip1559 {
                chain_id: 1,
                gas_limit: 21_000,
                max_fee_per_gas: 10_000_000_000,
                to: TxKind::Call(TO),
                ..Default::default()
            };
            let sig = dev().sign_hash_sync(&tx.signature_hash()).unwrap();
            Bytes::from(TxEnvelope::from(tx.into_signed(sig)).encoded_2718())
        };
        assert_eq!(f.preconf.preconfirm(other_chain, 1, None).unwrap_err(), PreconfError::ChainId);

        // Gas: a transaction may take the whole block's gas limit; after it, one needing the
        // whole limit again no longer fits (only what the first one used is consumed).
        let limit = based_engine::head(&f.store).unwrap().gas_limit;
        f.preconf.preconfirm(sign(&dev(), 0, TO, 1, limit), 1, None).unwrap();
        let err = f.preconf.preconfirm(sign(&dev(), 1, TO, 1, limit), 1, None).unwrap_err();
        assert_eq!(err, PreconfError::Gas { tx_gas_limit: limit, available: limit - 21_000 });
        assert_eq!(f.preconf.status().pending.to::<u64>(), 1, "refusals change nothing");
    }

    #[test]
    fn rebase_drops_included_and_keeps_the_rest_in_order() {
        let f = setup();
        let a = dev();
        let txs: Vec<Bytes> = (0..3).map(|n| sign(&a, n, TO, 1, 21_000)).collect();
        for tx in &txs {
            f.preconf.preconfirm(tx.clone(), 5, None).unwrap();
        }
        // The batch lands with the first transaction only.
        f.import(vec![txs[0].clone()], 0);
        let list = f.preconf.preconfirmations();
        assert_eq!(list.l2_head.to::<u64>(), 1);
        assert_eq!(f.pending_hashes(), vec![hash(&txs[1]), hash(&txs[2])]);
        assert_eq!(list.pending[0].transaction_index.to::<u64>(), 0, "positions move up");
        assert!(list.broken.is_empty(), "{:?}", list.broken);
        assert_eq!(f.preconf.pending_block().unwrap().header.header.number, 2);
        // Preconfirming the landed one again answers where it landed.
        let landed = f.preconf.preconfirm(txs[0].clone(), 5, None).unwrap();
        assert!(!landed.added);
        let landed = landed.answer;
        assert_eq!((landed.pending, landed.block_number.to::<u64>()), (false, 1));
        // The rest land: the list empties, nothing broken.
        f.import(vec![txs[1].clone(), txs[2].clone()], 0);
        assert!(f.pending_hashes().is_empty());
        assert_eq!(f.preconf.status().broken.to::<u64>(), 0);
    }

    #[test]
    fn reorg_that_removes_funding_breaks_the_promise() {
        let f = setup();
        let b = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x43)).unwrap();
        // Block 1 funds B; B's transfer is preconfirmed on top of it.
        f.import(vec![sign(&dev(), 0, b.address(), 10u128.pow(18), 21_000)], 0);
        let spend = sign(&b, 0, TO, 1, 21_000);
        f.preconf.preconfirm(spend.clone(), 9, None).unwrap();
        // An L1 reorg unwinds block 1: B has nothing; the promise is broken, and reported.
        f.store.unwind_to(0).unwrap();
        f.preconf.rebase(position(0, 0));
        let list = f.preconf.preconfirmations();
        assert!(list.pending.is_empty());
        let broken = &list.broken[0];
        assert_eq!((broken.tx_hash, broken.slot.to::<u64>()), (hash(&spend), 9));
        assert_eq!(broken.kind, BrokenKind::Invalidated);
        assert!(broken.reason.contains("insufficient funds"), "{}", broken.reason);
        assert_eq!(f.preconf.status().broken.to::<u64>(), 1);
    }

    #[test]
    fn overdue_promises_are_reported() {
        let f = setup();
        let tx = sign(&dev(), 0, TO, 1, 21_000);
        f.preconf.preconfirm(tx.clone(), 4, Some(500)).unwrap();
        // L1 time reaches the deadline: still fine.
        f.preconf.rebase(position(0, 500));
        assert_eq!(f.pending_hashes(), vec![hash(&tx)]);
        // L1 time passes it without the transaction on L2: overdue, out of the pending block.
        f.preconf.rebase(position(0, 501));
        let list = f.preconf.preconfirmations();
        assert!(list.pending.is_empty());
        assert_eq!(list.broken[0].kind, BrokenKind::Overdue);
        assert_eq!(f.balance(TO), U256::ZERO);
    }

    #[test]
    fn drop_reexecutes_the_rest() {
        let f = setup();
        let a = dev();
        let other = PrivateKeySigner::from_bytes(&B256::repeat_byte(0x44)).unwrap();
        let fund = sign(&a, 0, other.address(), 10u128.pow(18), 21_000);
        let spend = sign(&other, 0, TO, 3, 21_000);
        let unrelated = sign(&a, 1, TO, 4, 21_000);
        for tx in [&fund, &spend, &unrelated] {
            f.preconf.preconfirm(tx.clone(), 2, None).unwrap();
        }
        assert!(!f.preconf.drop_preconfirmed(B256::repeat_byte(1)).unwrap());
        // Dropping the funding breaks the spend that relied on it; the nonce chain of `a` now
        // has a gap, so its next one breaks too. Both are reported.
        assert!(f.preconf.drop_preconfirmed(hash(&fund)).unwrap());
        let list = f.preconf.preconfirmations();
        assert!(list.pending.is_empty(), "{:?}", list.pending);
        let broken: Vec<B256> = list.broken.iter().map(|b| b.tx_hash).collect();
        assert_eq!(broken, vec![hash(&spend), hash(&unrelated)]);
        assert_eq!(f.balance(TO), U256::ZERO);
        // Dropping the last of a chain keeps the ones before it.
        let tx0 = sign(&a, 0, TO, 1, 21_000);
        let tx1 = sign(&a, 1, TO, 1, 21_000);
        f.preconf.preconfirm(tx0.clone(), 2, None).unwrap();
        f.preconf.preconfirm(tx1.clone(), 2, None).unwrap();
        assert!(f.preconf.drop_preconfirmed(hash(&tx1)).unwrap());
        assert_eq!(f.pending_hashes(), vec![hash(&tx0)]);
        // Gone from the index too: dropped again is `false`; sent again it is appended anew,
        // while the one kept answers where it is.
        assert!(!f.preconf.drop_preconfirmed(hash(&tx1)).unwrap());
        let again = f.preconf.preconfirm(tx1, 2, None).unwrap();
        assert!(again.added);
        assert_eq!(again.answer.transaction_index.to::<u64>(), 1);
        let kept = f.preconf.preconfirm(tx0, 2, None).unwrap();
        assert!(!kept.added);
        assert_eq!(kept.answer.transaction_index.to::<u64>(), 0);
    }
}
