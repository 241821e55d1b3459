//! In-memory implementations of the RPC traits for tests (feature `test-utils`).
//!
//! [`MemoryChain`] is a tiny block builder: it executes signed transactions with revm (Prague,
//! no state root: headers carry `state_root = 0`) and keeps headers, bodies, receipts and a state
//! snapshot per block. It is a test double, not a consensus implementation.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, RwLock},
};

use alloy_consensus::{
    EMPTY_OMMER_ROOT_HASH, EMPTY_ROOT_HASH, Header, Receipt, ReceiptEnvelope, ReceiptWithBloom,
    Transaction as _, TxEnvelope, TxType,
    proofs::{calculate_receipt_root, calculate_transaction_root},
    transaction::SignerRecoverable,
};
use alloy_eips::{eip1559::BaseFeeParams, eip4895::Withdrawals, eip7685::EMPTY_REQUESTS_HASH};
use alloy_primitives::{Address, B256, Bloom, Bytes, U256, keccak256};
use jsonrpsee::core::async_trait;
use revm::{
    Context, ExecuteCommitEvm, MainBuilder, MainContext,
    context::{BlockEnv, CfgEnv, TxEnv, result::ExecutionResult},
    database::{CacheDB, EmptyDB},
    primitives::hardfork::SpecId,
    state::AccountInfo,
};

use crate::{
    BasedBackend, BasedSyncStatus, BlockBody, ChainBlock, ChainEvent, ChainEvents, ChainProvider,
    ForwardError, L1Origin, PendingBlock, PreconfBackend, PreconfEntry, PreconfError, PreconfList,
    PreconfStatus, Preconfirmation, Preconfirmed, ProviderError, SealedHeader, StateView,
    TxForwarder, TxLocation, erase_state, share_state,
};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::U64;

/// Chain id used by the test chain.
pub const TEST_CHAIN_ID: u64 = 4242;
/// Coinbase of test blocks.
pub const TEST_COINBASE: Address = Address::repeat_byte(0xc0);
/// Base fee of the genesis block.
pub const GENESIS_BASE_FEE: u64 = 1_000_000_000;
/// Gas limit of test blocks.
pub const TEST_GAS_LIMIT: u64 = 30_000_000;

type Db = CacheDB<EmptyDB>;

#[derive(Debug)]
struct StoredBlock {
    header: SealedHeader,
    body: BlockBody,
    receipts: Vec<ReceiptEnvelope>,
    state: Arc<Db>,
}

#[derive(Debug, Default)]
struct Inner {
    blocks: Vec<StoredBlock>,
    by_hash: HashMap<B256, u64>,
    txs: HashMap<B256, (u64, u64)>,
    latest_state_only: bool,
    events: Option<ChainEvents>,
}

/// Result of [`MemoryChain::mine`].
#[derive(Debug, Clone)]
pub struct MinedBlock {
    /// The new head.
    pub header: SealedHeader,
    /// Hashes of transactions that were included.
    pub included: Vec<B256>,
    /// Transactions that failed validation and were left out (hash, reason).
    pub skipped: Vec<(B256, String)>,
}

/// In-memory chain implementing [`ChainProvider`].
#[derive(Debug, Clone, Default)]
pub struct MemoryChain {
    inner: Arc<RwLock<Inner>>,
}

impl MemoryChain {
    /// A chain with a genesis block whose state holds `alloc`.
    pub fn new(alloc: impl IntoIterator<Item = (Address, AccountInfo)>) -> Self {
        let mut db = Db::new(EmptyDB::default());
        for (address, info) in alloc {
            db.insert_account_info(address, info);
        }
        let header = Header {
            parent_hash: B256::ZERO,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: Address::ZERO,
            state_root: B256::ZERO,
            transactions_root: EMPTY_ROOT_HASH,
            receipts_root: EMPTY_ROOT_HASH,
            withdrawals_root: Some(EMPTY_ROOT_HASH),
            gas_limit: TEST_GAS_LIMIT,
            timestamp: 1_700_000_000,
            base_fee_per_gas: Some(GENESIS_BASE_FEE),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            parent_beacon_block_root: Some(B256::ZERO),
            requests_hash: Some(EMPTY_REQUESTS_HASH),
            ..Default::default()
        };
        let hash = header.hash_slow();
        let chain = Self::default();
        {
            let mut inner = chain.inner.write().expect("lock");
            inner.by_hash.insert(hash, 0);
            inner.blocks.push(StoredBlock {
                header: SealedHeader { header, hash },
                body: BlockBody { withdrawals: Some(Withdrawals::default()), ..Default::default() },
                receipts: Vec::new(),
                state: Arc::new(db),
            });
        }
        chain
    }

    /// Serve only the head state (older blocks answer `state_at` with `None`), like a store
    /// without history.
    pub fn set_latest_state_only(&self, on: bool) {
        self.inner.write().expect("lock").latest_state_only = on;
    }

    /// The head header.
    pub fn head(&self) -> SealedHeader {
        self.inner.read().expect("lock").blocks.last().expect("genesis").header.clone()
    }

    /// Executes `txs` in order on top of the head and appends the resulting block. Invalid
    /// transactions are skipped.
    pub fn mine(&self, txs: Vec<TxEnvelope>) -> MinedBlock {
        let mut inner = self.inner.write().expect("lock");
        let (block, mined) = Self::build(&inner, txs);
        for (i, h) in mined.included.iter().enumerate() {
            inner.txs.insert(*h, (block.header.header.number, i as u64));
        }
        inner.by_hash.insert(block.header.hash, block.header.header.number);
        inner.blocks.push(block);
        let events = inner.events.clone();
        drop(inner);
        if let Some(events) = events {
            let number = mined.header.header.number;
            let blocks = ChainBlock::load_range(self, number, number).expect("memory chain");
            events.publish(ChainEvent::Committed(blocks));
        }
        mined
    }

    /// Publishes [`ChainEvent`]s to `events` from now on, as the node's driver does: every
    /// mined block as `Committed`, every [`Self::unwind_to`] as `Unwound`.
    pub fn publish_to(&self, events: ChainEvents) {
        self.inner.write().expect("lock").events = Some(events);
    }

    /// Removes the blocks above `number` (an L2 unwind) and returns their hashes.
    pub fn unwind_to(&self, number: u64) -> Vec<B256> {
        let head = self.head().header.number;
        let unwound = ChainBlock::load_range(self, number + 1, head).expect("memory chain");
        let mut inner = self.inner.write().expect("lock");
        let keep = usize::try_from(number + 1).expect("small chain");
        let keep = keep.min(inner.blocks.len());
        let removed: Vec<StoredBlock> = inner.blocks.drain(keep..).collect();
        for block in &removed {
            inner.by_hash.remove(&block.header.hash);
            for tx in &block.body.transactions {
                inner.txs.remove(tx.tx_hash());
            }
        }
        let events = inner.events.clone();
        drop(inner);
        if let Some(events) = events {
            events.publish(ChainEvent::Unwound(unwound));
        }
        removed.iter().map(|b| b.header.hash).collect()
    }

    /// Executes `txs` in order on top of the head without appending: the node's pending block
    /// for them (invalid ones are skipped and listed in the second value).
    pub fn pending_block(&self, txs: Vec<TxEnvelope>) -> (PendingBlock, MinedBlock) {
        let inner = self.inner.read().expect("lock");
        let (block, mined) = Self::build(&inner, txs);
        let state = share_state(block.state);
        (
            PendingBlock {
                header: block.header,
                body: block.body,
                receipts: block.receipts,
                state,
            },
            mined,
        )
    }

    fn build(inner: &Inner, txs: Vec<TxEnvelope>) -> (StoredBlock, MinedBlock) {
        let parent = inner.blocks.last().expect("genesis");
        let parent_header = parent.header.header.clone();
        let parent_hash = parent.header.hash;
        let mut db: Db = (*parent.state).clone();

        let number = parent_header.number + 1;
        let base_fee =
            parent_header.next_block_base_fee(BaseFeeParams::ethereum()).unwrap_or_default();
        let mix_hash = keccak256(number.to_be_bytes());
        let timestamp = parent_header.timestamp + 2;
        let block_env = BlockEnv {
            number: U256::from(number),
            beneficiary: TEST_COINBASE,
            timestamp: U256::from(timestamp),
            gas_limit: TEST_GAS_LIMIT,
            basefee: base_fee,
            difficulty: U256::ZERO,
            prevrandao: Some(mix_hash),
            blob_excess_gas_and_price: Some(
                revm::context_interface::block::BlobExcessGasAndPrice::new(
                    0,
                    revm::primitives::eip4844::BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE,
                ),
            ),
            slot_num: 0,
        };
        let mut cfg = CfgEnv::new_with_spec(SpecId::PRAGUE);
        cfg.chain_id = TEST_CHAIN_ID;

        let mut included = Vec::new();
        let mut senders = Vec::new();
        let mut receipts = Vec::new();
        let mut skipped = Vec::new();
        let mut cumulative = 0u64;
        let mut bloom = Bloom::default();
        for tx in txs {
            let hash = *tx.tx_hash();
            let sender = match tx.recover_signer() {
                Ok(s) => s,
                Err(e) => {
                    skipped.push((hash, e.to_string()));
                    continue;
                }
            };
            let tx_env = tx_env(&tx, sender);
            let mut evm = Context::mainnet()
                .with_db(&mut db)
                .with_block(block_env.clone())
                .with_cfg(cfg.clone())
                .build_mainnet();
            let result = match evm.transact_commit(tx_env) {
                Ok(r) => r,
                Err(e) => {
                    skipped.push((hash, e.to_string()));
                    continue;
                }
            };
            cumulative += result.tx_gas_used();
            let success = matches!(result, ExecutionResult::Success { .. });
            let receipt = Receipt {
                status: success.into(),
                cumulative_gas_used: cumulative,
                logs: result.into_logs(),
            };
            let with_bloom: ReceiptWithBloom<Receipt> = receipt.into();
            bloom |= with_bloom.logs_bloom;
            receipts.push(ReceiptEnvelope::from_typed(tx.tx_type(), with_bloom));
            senders.push(sender);
            included.push(tx);
        }

        let header = Header {
            parent_hash,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: TEST_COINBASE,
            state_root: B256::ZERO,
            transactions_root: calculate_transaction_root(&included),
            receipts_root: calculate_receipt_root(&receipts),
            withdrawals_root: Some(EMPTY_ROOT_HASH),
            logs_bloom: bloom,
            difficulty: U256::ZERO,
            number,
            gas_limit: TEST_GAS_LIMIT,
            gas_used: cumulative,
            timestamp,
            mix_hash,
            base_fee_per_gas: Some(base_fee),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            parent_beacon_block_root: Some(B256::ZERO),
            requests_hash: Some(EMPTY_REQUESTS_HASH),
            ..Default::default()
        };
        let hash = header.hash_slow();
        let sealed = SealedHeader { header, hash };
        let included_hashes: Vec<B256> = included.iter().map(|t| *t.tx_hash()).collect();
        let block = StoredBlock {
            header: sealed.clone(),
            body: BlockBody {
                transactions: included,
                senders,
                withdrawals: Some(Withdrawals::default()),
            },
            receipts,
            state: Arc::new(db),
        };
        (block, MinedBlock { header: sealed, included: included_hashes, skipped })
    }
}

/// revm transaction environment of a signed transaction.
pub fn tx_env(tx: &TxEnvelope, sender: Address) -> TxEnv {
    let mut env = TxEnv {
        tx_type: tx.tx_type() as u8,
        caller: sender,
        gas_limit: tx.gas_limit(),
        gas_price: tx.max_fee_per_gas(),
        kind: tx.kind(),
        value: tx.value(),
        data: tx.input().clone(),
        nonce: tx.nonce(),
        chain_id: tx.chain_id(),
        access_list: tx.access_list().cloned().unwrap_or_default(),
        gas_priority_fee: tx.max_priority_fee_per_gas(),
        blob_hashes: Vec::new(),
        max_fee_per_blob_gas: 0,
        authorization_list: Vec::new(),
    };
    if tx.tx_type() == TxType::Eip7702
        && let Some(list) = tx.authorization_list()
    {
        env.set_signed_authorization(list.to_vec());
    }
    env
}

impl ChainProvider for MemoryChain {
    fn head_number(&self) -> Result<u64, ProviderError> {
        Ok(self.inner.read().expect("lock").blocks.len() as u64 - 1)
    }

    fn header_by_number(&self, number: u64) -> Result<Option<SealedHeader>, ProviderError> {
        let inner = self.inner.read().expect("lock");
        Ok(usize::try_from(number).ok().and_then(|n| inner.blocks.get(n)).map(|b| b.header.clone()))
    }

    fn header_by_hash(&self, hash: B256) -> Result<Option<SealedHeader>, ProviderError> {
        let number = self.inner.read().expect("lock").by_hash.get(&hash).copied();
        match number {
            Some(n) => self.header_by_number(n),
            None => Ok(None),
        }
    }

    fn body(&self, number: u64) -> Result<Option<BlockBody>, ProviderError> {
        let inner = self.inner.read().expect("lock");
        Ok(usize::try_from(number).ok().and_then(|n| inner.blocks.get(n)).map(|b| b.body.clone()))
    }

    fn receipts(&self, number: u64) -> Result<Option<Vec<ReceiptEnvelope>>, ProviderError> {
        let inner = self.inner.read().expect("lock");
        Ok(usize::try_from(number)
            .ok()
            .and_then(|n| inner.blocks.get(n))
            .map(|b| b.receipts.clone()))
    }

    fn transaction_by_hash(&self, hash: B256) -> Result<Option<TxLocation>, ProviderError> {
        let inner = self.inner.read().expect("lock");
        let Some(&(number, index)) = inner.txs.get(&hash) else { return Ok(None) };
        let block = &inner.blocks[number as usize];
        Ok(Some(TxLocation {
            transaction: block.body.transactions[index as usize].clone(),
            sender: block.body.senders[index as usize],
            block_number: number,
            block_hash: block.header.hash,
            index,
        }))
    }

    fn state_at(&self, number: u64, hash: B256) -> Result<Option<StateView>, ProviderError> {
        let inner = self.inner.read().expect("lock");
        let head = inner.blocks.len() as u64 - 1;
        if inner.latest_state_only && number != head {
            return Ok(None);
        }
        Ok(usize::try_from(number)
            .ok()
            .and_then(|n| inner.blocks.get(n))
            .filter(|b| b.header.hash == hash)
            .map(|b| erase_state(Arc::clone(&b.state))))
    }
}

/// [`BasedBackend`] with settable status and L1 origins.
#[derive(Debug, Default)]
pub struct MockBased {
    /// Returned by `sync_status`.
    pub status: Mutex<BasedSyncStatus>,
    /// Returned by `l1_origin`, keyed by L2 block number.
    pub origins: Mutex<HashMap<u64, L1Origin>>,
    /// Returned by `is_syncing`.
    pub syncing: Mutex<bool>,
    /// Returned by `pending_nonce`.
    pub pending_nonces: Mutex<HashMap<Address, u64>>,
    /// The preconfirmed state (`pending` tag, `based_preconfirm*`).
    pub preconf: MockPreconf,
}

impl BasedBackend for MockBased {
    fn sync_status(&self) -> BasedSyncStatus {
        self.status.lock().expect("lock").clone()
    }

    fn l1_origin(&self, l2_block: u64) -> Result<Option<L1Origin>, ProviderError> {
        Ok(self.origins.lock().expect("lock").get(&l2_block).copied())
    }

    fn is_syncing(&self) -> bool {
        *self.syncing.lock().expect("lock")
    }

    fn pending_nonce(&self, address: Address) -> Option<u64> {
        self.pending_nonces.lock().expect("lock").get(&address).copied()
    }

    fn preconf(&self) -> Option<&dyn PreconfBackend> {
        Some(&self.preconf)
    }
}

/// [`PreconfBackend`] over a [`MemoryChain`]: preconfirmed transactions are executed on the
/// chain's head with [`MemoryChain::pending_block`] (rebuilt on every change). Without a chain
/// ([`MockPreconf::attach`]) it keeps no pending block.
#[derive(Debug, Default)]
pub struct MockPreconf {
    chain: Mutex<Option<MemoryChain>>,
    accepted: Mutex<Vec<(TxEnvelope, u64)>>,
    block: Mutex<Option<Arc<PendingBlock>>>,
    /// If set, every `preconfirm` fails with this error.
    pub refuse_with: Mutex<Option<PreconfError>>,
}

/// Session reported by [`MockPreconf`].
pub const MOCK_SESSION: u64 = 7;

impl MockPreconf {
    /// Keeps the pending block on top of `chain`'s head.
    pub fn attach(&self, chain: MemoryChain) {
        *self.chain.lock().expect("lock") = Some(chain);
        self.rebuild();
    }

    /// Re-executes the accepted transactions on the current head; drops the ones now included
    /// or invalid. Returns the hashes skipped.
    pub fn rebuild(&self) -> Vec<B256> {
        let Some(chain) = self.chain.lock().expect("lock").clone() else { return Vec::new() };
        let mut accepted = self.accepted.lock().expect("lock");
        accepted
            .retain(|(tx, _)| chain.transaction_by_hash(*tx.tx_hash()).ok().flatten().is_none());
        let (block, mined) =
            chain.pending_block(accepted.iter().map(|(tx, _)| tx.clone()).collect());
        let skipped: Vec<B256> = mined.skipped.iter().map(|(h, _)| *h).collect();
        accepted.retain(|(tx, _)| !skipped.contains(tx.tx_hash()));
        *self.block.lock().expect("lock") = Some(Arc::new(block));
        skipped
    }
}

impl PreconfBackend for MockPreconf {
    fn pending_block(&self) -> Option<Arc<PendingBlock>> {
        self.block.lock().expect("lock").clone()
    }

    fn preconfirm(
        &self,
        raw: Bytes,
        slot: u64,
        _deadline: Option<u64>,
    ) -> Result<Preconfirmed, PreconfError> {
        if let Some(err) = self.refuse_with.lock().expect("lock").clone() {
            return Err(err);
        }
        let tx = TxEnvelope::decode_2718(&mut raw.as_ref())
            .map_err(|e| PreconfError::Invalid(e.to_string()))?;
        let hash = *tx.tx_hash();
        let known = self.accepted.lock().expect("lock").iter().any(|(t, _)| *t.tx_hash() == hash);
        if !known {
            self.accepted.lock().expect("lock").push((tx, slot));
            if self.rebuild().contains(&hash) {
                return Err(PreconfError::Invalid("skipped by the test chain".into()));
            }
        }
        let block = self.pending_block().ok_or(PreconfError::Unavailable("no chain".into()))?;
        let index = block.position(hash).ok_or(PreconfError::Unavailable("lost".into()))?;
        let receipt = &block.receipts[index];
        let before = index
            .checked_sub(1)
            .map_or(0, |i| alloy_consensus::TxReceipt::cumulative_gas_used(&block.receipts[i]));
        let answer = Preconfirmation {
            tx_hash: hash,
            pending: true,
            block_number: U64::from(block.header.header.number),
            transaction_index: U64::from(index),
            gas_used: U64::from(alloy_consensus::TxReceipt::cumulative_gas_used(receipt) - before),
            status: alloy_consensus::TxReceipt::status(receipt),
            session: U64::from(MOCK_SESSION),
        };
        Ok(Preconfirmed { answer, added: !known })
    }

    fn drop_preconfirmed(&self, tx_hash: B256) -> Result<bool, PreconfError> {
        let mut accepted = self.accepted.lock().expect("lock");
        let before = accepted.len();
        accepted.retain(|(tx, _)| *tx.tx_hash() != tx_hash);
        let dropped = accepted.len() != before;
        drop(accepted);
        self.rebuild();
        Ok(dropped)
    }

    fn preconfirmations(&self) -> PreconfList {
        let block = self.pending_block();
        let accepted = self.accepted.lock().expect("lock");
        let pending = block
            .iter()
            .flat_map(|b| {
                b.body.transactions.iter().zip(&b.body.senders).enumerate().map(
                    |(i, (tx, sender))| PreconfEntry {
                        tx_hash: *tx.tx_hash(),
                        slot: U64::from(
                            accepted
                                .iter()
                                .find(|(t, _)| t.tx_hash() == tx.tx_hash())
                                .map_or(0, |(_, s)| *s),
                        ),
                        transaction_index: U64::from(i),
                        sender: *sender,
                        nonce: U64::from(tx.nonce()),
                        gas_used: U64::ZERO,
                        status: true,
                    },
                )
            })
            .collect();
        PreconfList {
            session: U64::from(MOCK_SESSION),
            l2_head: U64::from(block.as_ref().map_or(0, |b| b.header.header.number - 1)),
            gas_used: U64::from(block.as_ref().map_or(0, |b| b.header.header.gas_used)),
            gas_limit: U64::from(TEST_GAS_LIMIT),
            pending,
            broken: Vec::new(),
        }
    }

    fn status(&self) -> PreconfStatus {
        PreconfStatus {
            session: U64::from(MOCK_SESSION),
            l2_head: U64::ZERO,
            pending: U64::from(self.accepted.lock().expect("lock").len()),
            broken: U64::ZERO,
        }
    }
}

/// [`TxForwarder`] that records what it receives and optionally rejects.
#[derive(Debug, Default)]
pub struct MockForwarder {
    /// Raw transactions received, in order.
    pub received: Mutex<Vec<Bytes>>,
    /// If set, every forward fails with this error.
    pub reject_with: Mutex<Option<ForwardError>>,
    /// Nonces answered by `pool_nonces` (default none).
    pub pool: Mutex<Vec<u64>>,
}

#[async_trait]
impl TxForwarder for MockForwarder {
    /// [`Self::pool`]: what the "proposer" reports holding (for any address).
    async fn pool_nonces(&self, _address: Address) -> Result<Vec<u64>, ForwardError> {
        Ok(self.pool.lock().expect("lock").clone())
    }

    async fn forward(&self, raw: Bytes) -> Result<B256, ForwardError> {
        if let Some(err) = self.reject_with.lock().expect("lock").clone() {
            return Err(err);
        }
        let hash = keccak256(&raw);
        self.received.lock().expect("lock").push(raw);
        Ok(hash)
    }
}
