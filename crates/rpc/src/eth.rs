//! Implementation of the `eth_`, `net_`, `web3_` and `based_` namespaces.

use std::{sync::Arc, time::Instant};

use alloy_consensus::{Transaction as _, TxEnvelope, TxType, transaction::SignerRecoverable};
use alloy_eips::{
    BlockHashOrNumber, eip2718::Decodable2718, eip2930::AccessListResult, eip7840::BlobParams,
};
use alloy_primitives::{Address, B256, Bytes, U64, U128, U256, keccak256};
use alloy_rpc_types_eth::{
    Block, BlockId, BlockNumberOrTag, EIP1186AccountProofResponse, FeeHistory, Filter,
    FilterBlockOption, FilterChanges, Log, SyncInfo, SyncStatus, Transaction, TransactionReceipt,
    TransactionRequest,
};
use jsonrpsee::core::{RpcResult, async_trait};
use revm::{database_interface::DatabaseRef, primitives::KECCAK_EMPTY};
use tokio::sync::Semaphore;
use tracing::{debug, warn};

use crate::{
    api::{BasedApiServer, EthApiServer, NetApiServer, Web3ApiServer},
    backend::{BasedSyncStatus, BlockBody, L1Origin, SealedHeader, StateView, StorageKey},
    convert::{TxMeta, rpc_block, rpc_receipts, rpc_transaction},
    error::{self, RpcError},
    evm::{self, CallParams},
    filters::{FilterLimits, Filters},
    forwarded::Forwarded,
    preconf::{PendingBlock, PreconfError, PreconfList, PreconfStatus, Preconfirmation},
    server::RpcDeps,
    trace,
};

/// The block a request resolved to: a canonical block, or the node's pending block.
enum BlockRef {
    Canonical(Box<SealedHeader>),
    Pending(Arc<PendingBlock>),
}

impl BlockRef {
    fn header(&self) -> &SealedHeader {
        match self {
            Self::Canonical(h) => h,
            Self::Pending(p) => &p.header,
        }
    }

    /// The hash transactions, receipts and logs of the block carry (`None` when pending).
    const fn tx_block_hash(&self) -> Option<B256> {
        match self {
            Self::Canonical(h) => Some(h.hash),
            Self::Pending(_) => None,
        }
    }
}

/// Largest raw transaction accepted by `eth_sendRawTransaction` (geth's limit).
pub const MAX_RAW_TX_SIZE: usize = 128 * 1024;

/// How many times a state read re-resolves its block when the block it resolved stopped being
/// canonical before its state snapshot was opened (an unwind in between).
const STATE_RESOLVE_ATTEMPTS: usize = 3;

/// Shared handler state; cheap to clone.
#[derive(Clone)]
pub(crate) struct EthHandler {
    pub(crate) deps: Arc<RpcDeps>,
    filters: Arc<Filters>,
    /// Transactions forwarded to the proposer, for the `pending` nonce.
    forwarded: Arc<Forwarded>,
    /// Slots for expensive requests ([`crate::RpcConfig::max_concurrent_calls`]).
    expensive: Arc<Semaphore>,
}

impl std::fmt::Debug for EthHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EthHandler").field("config", &self.deps.config).finish_non_exhaustive()
    }
}

/// How long `eth_getTransactionCount(.., "pending")` waits for the proposer's queued nonces.
const POOL_NONCES_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

impl EthHandler {
    /// The nonces of `address`'s transactions the proposer still holds (none if it does not
    /// answer within [`POOL_NONCES_TIMEOUT`]).
    async fn pool_nonces(&self, address: Address) -> Vec<u64> {
        match tokio::time::timeout(POOL_NONCES_TIMEOUT, self.deps.forwarder.pool_nonces(address))
            .await
        {
            Ok(Ok(nonces)) => nonces,
            Ok(Err(err)) => {
                debug!(target: "rpc::eth", %address, %err, "proposer's queued nonces unavailable");
                Vec::new()
            }
            Err(_) => {
                debug!(target: "rpc::eth", %address, "proposer's queued nonces timed out");
                Vec::new()
            }
        }
    }

    pub(crate) fn new(deps: Arc<RpcDeps>) -> Self {
        let config = &deps.config;
        let limits = FilterLimits {
            max_filters: config.max_filters,
            timeout: config.filter_timeout,
            max_logs: config.max_logs,
        };
        let filters = Filters::new(deps.events.clone(), limits);
        let expensive = Arc::new(Semaphore::new(config.max_concurrent_calls.max(1)));
        Self { deps, filters, expensive, forwarded: Arc::default() }
    }

    /// `eth_getProof` at a block (`pending` has no state root: answered at `latest`).
    fn proof(
        &self,
        address: Address,
        keys: &[StorageKey],
        block: Option<BlockId>,
    ) -> error::RpcResult<EIP1186AccountProofResponse> {
        let config = &self.deps.config;
        if keys.len() > config.max_proof_keys {
            return Err(RpcError::TooManyProofKeys(config.max_proof_keys));
        }
        let block = match block {
            Some(BlockId::Number(BlockNumberOrTag::Pending)) | None => {
                BlockId::Number(BlockNumberOrTag::Latest)
            }
            Some(other) => other,
        };
        let header = self.header_by_id(Some(block))?;
        let number = header.header.number;
        let head = self.head()?;
        if head.saturating_sub(number) > config.proof_window {
            return Err(RpcError::ProofWindow { block: number, head, window: config.proof_window });
        }
        self.deps.chain.proof(number, address, keys)?.ok_or(RpcError::ProofUnavailable)
    }

    pub(crate) fn call_params(&self) -> CallParams {
        let config = &self.deps.config;
        CallParams {
            chain_id: config.chain_id,
            gas_cap: config.gas_cap,
            timeout: config.call_timeout,
        }
    }

    fn head(&self) -> error::RpcResult<u64> {
        Ok(self.deps.chain.head_number()?)
    }

    /// The node's pending block, if it keeps one and it builds on the current head.
    pub(crate) fn pending(&self) -> error::RpcResult<Option<Arc<PendingBlock>>> {
        let Some(pending) = self.deps.based.preconf().and_then(|p| p.pending_block()) else {
            return Ok(None);
        };
        let head = self.head()?;
        if pending.header.header.number != head.saturating_add(1) {
            return Ok(None);
        }
        let parent = self.deps.chain.header_by_number(head)?.map(|h| h.hash);
        Ok((parent == Some(pending.header.header.parent_hash)).then_some(pending))
    }

    /// Resolves a tag to a block: `pending` is the pending block when there is one, else the head.
    fn block_by_tag(&self, tag: BlockNumberOrTag) -> error::RpcResult<Option<BlockRef>> {
        if tag == BlockNumberOrTag::Pending
            && let Some(pending) = self.pending()?
        {
            return Ok(Some(BlockRef::Pending(pending)));
        }
        Ok(Self::canonical(self.header_by_tag(tag)?))
    }

    fn canonical(header: Option<SealedHeader>) -> Option<BlockRef> {
        header.map(|h| BlockRef::Canonical(Box::new(h)))
    }

    /// The block's body; `None` if the block is gone (or was replaced) since it was resolved.
    fn body_of(&self, block: &BlockRef) -> error::RpcResult<Option<BlockBody>> {
        match block {
            BlockRef::Canonical(h) => {
                let body = self.deps.chain.body(h.header.number)?;
                Ok(if self.still_canonical(h)? { body } else { None })
            }
            BlockRef::Pending(p) => Ok(Some(p.body.clone())),
        }
    }

    /// Resolves a tag or number to a block number; `None` if the number is beyond the head.
    fn resolve_number(&self, tag: BlockNumberOrTag) -> error::RpcResult<Option<u64>> {
        let head = self.head()?;
        let n = match tag {
            BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => head,
            BlockNumberOrTag::Earliest => 0,
            BlockNumberOrTag::Safe => self.deps.based.sync_status().l2_safe.to::<u64>().min(head),
            BlockNumberOrTag::Finalized => {
                self.deps.based.sync_status().l2_finalized.to::<u64>().min(head)
            }
            BlockNumberOrTag::Number(n) => n,
        };
        Ok((n <= head).then_some(n))
    }

    pub(crate) fn header_by_tag(
        &self,
        tag: BlockNumberOrTag,
    ) -> error::RpcResult<Option<SealedHeader>> {
        match self.resolve_number(tag)? {
            Some(n) => Ok(self.deps.chain.header_by_number(n)?),
            None => Ok(None),
        }
    }

    fn header_by_hash_or_number(
        &self,
        id: BlockHashOrNumber,
    ) -> error::RpcResult<Option<SealedHeader>> {
        match id {
            BlockHashOrNumber::Hash(h) => Ok(self.deps.chain.header_by_hash(h)?),
            BlockHashOrNumber::Number(n) => Ok(self.deps.chain.header_by_number(n)?),
        }
    }

    /// Resolves an EIP-1898 block id to an existing header (errors if there is none).
    fn header_by_id(&self, id: Option<BlockId>) -> error::RpcResult<SealedHeader> {
        match id.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest)) {
            BlockId::Hash(h) => match self.deps.chain.header_by_hash(h.block_hash)? {
                Some(header) => Ok(header),
                None if h.require_canonical == Some(true) => {
                    Err(RpcError::NonCanonicalBlock(h.block_hash))
                }
                None => Err(RpcError::HeaderNotFound),
            },
            BlockId::Number(tag) => self.header_by_tag(tag)?.ok_or(RpcError::HeaderNotFound),
        }
    }

    /// Header and state for a state query (`pending`: the pending block and its state).
    ///
    /// The state is the post-state of exactly the returned header: the provider opens it by
    /// number *and hash* in one snapshot and refuses if that block is no longer canonical (an
    /// unwind between resolving the tag and opening the snapshot); the id is then resolved
    /// again, so a request never pairs one head's header with another head's state.
    pub(crate) fn state_at(
        &self,
        id: Option<BlockId>,
    ) -> error::RpcResult<(SealedHeader, StateView)> {
        if id == Some(BlockId::Number(BlockNumberOrTag::Pending))
            && let Some(pending) = self.pending()?
        {
            return Ok((pending.header.clone(), pending.state_view()));
        }
        let mut last = None;
        for _ in 0..STATE_RESOLVE_ATTEMPTS {
            let header = self.header_by_id(id)?;
            let number = header.header.number;
            if let Some(state) = self.deps.chain.state_at(number, header.hash)? {
                return Ok((header, state));
            }
            last = Some(number);
        }
        Err(match last {
            Some(number) => RpcError::StateUnavailable(number),
            None => RpcError::HeaderNotFound,
        })
    }

    /// Whether `header` is still the canonical block at its height: checked after reading a
    /// block's body or receipts (separate read transactions) so that a block is never served
    /// with the body or receipts of another block at the same height (an unwind in between).
    pub(crate) fn still_canonical(&self, header: &SealedHeader) -> error::RpcResult<bool> {
        Ok(self
            .deps
            .chain
            .header_by_number(header.header.number)?
            .is_some_and(|h| h.hash == header.hash))
    }

    fn block(&self, block: Option<BlockRef>, full: bool) -> error::RpcResult<Option<Block>> {
        let Some(block) = block else { return Ok(None) };
        let Some(body) = self.body_of(&block)? else { return Ok(None) };
        Ok(Some(rpc_block(block.header(), body, full, block.tx_block_hash())))
    }

    fn tx_count(&self, block: Option<BlockRef>) -> error::RpcResult<Option<U64>> {
        let Some(block) = block else { return Ok(None) };
        Ok(self.body_of(&block)?.map(|b| U64::from(b.transactions.len())))
    }

    fn tx_by_block_and_index(
        &self,
        block: Option<BlockRef>,
        index: U64,
    ) -> error::RpcResult<Option<Transaction>> {
        let Some(block) = block else { return Ok(None) };
        let Some(body) = self.body_of(&block)? else { return Ok(None) };
        let index: u64 = index.to();
        let i = usize::try_from(index).unwrap_or(usize::MAX);
        let (Some(tx), Some(sender)) = (body.transactions.get(i), body.senders.get(i)) else {
            return Ok(None);
        };
        let header = block.header();
        let meta = TxMeta {
            block_hash: block.tx_block_hash(),
            block_number: header.header.number,
            index,
            base_fee: header.header.base_fee_per_gas,
            timestamp: header.header.timestamp,
        };
        Ok(Some(rpc_transaction(tx.clone(), *sender, meta)))
    }

    fn block_receipts_of(
        &self,
        block: &BlockRef,
    ) -> error::RpcResult<Option<Vec<TransactionReceipt>>> {
        let header = block.header();
        let (body, receipts) = match block {
            BlockRef::Canonical(h) => {
                let n = h.header.number;
                let (Some(body), Some(receipts)) =
                    (self.deps.chain.body(n)?, self.deps.chain.receipts(n)?)
                else {
                    return Ok(None);
                };
                if !self.still_canonical(h)? {
                    return Ok(None);
                }
                (body, receipts)
            }
            BlockRef::Pending(p) => (p.body.clone(), p.receipts.clone()),
        };
        Ok(Some(rpc_receipts(header, block.tx_block_hash(), &body, receipts)))
    }

    /// A canonical transaction's block and index, else a pending one's.
    fn locate(&self, hash: B256) -> error::RpcResult<Option<(BlockRef, u64)>> {
        if let Some(loc) = self.deps.chain.transaction_by_hash(hash)? {
            let Some(header) = self.deps.chain.header_by_number(loc.block_number)? else {
                return Ok(None);
            };
            return Ok(Some((BlockRef::Canonical(Box::new(header)), loc.index)));
        }
        let Some(pending) = self.pending()? else { return Ok(None) };
        let Some(index) = pending.position(hash) else { return Ok(None) };
        Ok(Some((BlockRef::Pending(pending), index as u64)))
    }

    fn receipt(&self, hash: B256) -> error::RpcResult<Option<TransactionReceipt>> {
        let Some((block, index)) = self.locate(hash)? else { return Ok(None) };
        let Some(receipts) = self.block_receipts_of(&block)? else { return Ok(None) };
        let index = usize::try_from(index).unwrap_or(usize::MAX);
        Ok(receipts.into_iter().nth(index))
    }

    fn logs(&self, filter: &Filter) -> error::RpcResult<Vec<Log>> {
        let config = &self.deps.config;
        let (from, to) = match filter.block_option {
            FilterBlockOption::AtBlockHash(hash) => {
                let header = self
                    .deps
                    .chain
                    .header_by_hash(hash)?
                    .ok_or_else(|| RpcError::InvalidParams(format!("unknown block {hash}")))?;
                (header.header.number, header.header.number)
            }
            FilterBlockOption::Range { from_block, to_block } => {
                let head = self.head()?;
                let resolve = |tag: Option<BlockNumberOrTag>| -> error::RpcResult<u64> {
                    match tag.unwrap_or(BlockNumberOrTag::Latest) {
                        BlockNumberOrTag::Number(n) => Ok(n),
                        other => Ok(self.resolve_number(other)?.unwrap_or(head)),
                    }
                };
                let from = resolve(from_block)?;
                let to = resolve(to_block)?;
                if from > to {
                    return Err(RpcError::InvalidParams(
                        "invalid block range: fromBlock is greater than toBlock".into(),
                    ));
                }
                if from > head {
                    return Ok(Vec::new());
                }
                (from, to.min(head))
            }
        };
        if to - from >= config.max_logs_block_range {
            return Err(RpcError::LogsBlockRangeTooLarge(config.max_logs_block_range));
        }
        let mut out = Vec::new();
        for number in from..=to {
            let Some(header) = self.deps.chain.header_by_number(number)? else { break };
            if !filter.matches_bloom(header.header.logs_bloom) {
                continue;
            }
            let Some(receipts) = self.block_receipts_of(&BlockRef::Canonical(Box::new(header)))?
            else {
                continue;
            };
            for receipt in receipts {
                for log in receipt.inner.logs() {
                    if filter.matches(&log.inner) {
                        if out.len() >= config.max_logs {
                            return Err(RpcError::TooManyLogs(config.max_logs));
                        }
                        out.push(log.clone());
                    }
                }
            }
        }
        Ok(out)
    }

    fn fee_history(
        &self,
        block_count: u64,
        newest: BlockNumberOrTag,
        percentiles: Option<Vec<f64>>,
    ) -> error::RpcResult<FeeHistory> {
        let config = &self.deps.config;
        let percentiles = percentiles.unwrap_or_default();
        if percentiles.len() > config.max_fee_history_percentiles {
            return Err(RpcError::InvalidParams(format!(
                "at most {} reward percentiles, got {}",
                config.max_fee_history_percentiles,
                percentiles.len()
            )));
        }
        // Strictly increasing in [0, 100], as geth requires (no repeated percentile).
        let mut prev: Option<f64> = None;
        for p in &percentiles {
            if !(0.0..=100.0).contains(p) || prev.is_some_and(|q| *p <= q) {
                return Err(RpcError::InvalidParams(
                    "reward percentiles must be strictly increasing values in [0, 100]".into(),
                ));
            }
            prev = Some(*p);
        }
        let mut block_count = block_count.min(config.max_fee_history_blocks);
        // Budget of blocks × percentiles: fewer (the newest) blocks, like the block cap.
        if config.max_fee_history_budget > 0 && !percentiles.is_empty() {
            let per_block = u64::try_from(percentiles.len()).unwrap_or(u64::MAX);
            block_count = block_count.min(config.max_fee_history_budget / per_block);
            if block_count == 0 {
                return Err(RpcError::InvalidParams(format!(
                    "{} reward percentiles exceed the eth_feeHistory budget of {} blocks x percentiles",
                    percentiles.len(),
                    config.max_fee_history_budget
                )));
            }
        }
        if block_count == 0 {
            return Ok(FeeHistory::default());
        }
        let newest = self.resolve_number(newest)?.ok_or(RpcError::HeaderNotFound)?;
        let oldest = newest.saturating_add(1).saturating_sub(block_count);
        let blob_params = BlobParams::prague();

        let mut history = FeeHistory { oldest_block: oldest, ..Default::default() };
        let mut rewards = Vec::new();
        let mut last = None;
        for number in oldest..=newest {
            let header =
                self.deps.chain.header_by_number(number)?.ok_or(RpcError::HeaderNotFound)?;
            let h = &header.header;
            history.base_fee_per_gas.push(u128::from(h.base_fee_per_gas.unwrap_or_default()));
            history.gas_used_ratio.push(if h.gas_limit == 0 {
                0.0
            } else {
                h.gas_used as f64 / h.gas_limit as f64
            });
            history.base_fee_per_blob_gas.push(h.blob_fee(blob_params).unwrap_or_default());
            history.blob_gas_used_ratio.push(0.0);
            if !percentiles.is_empty() {
                rewards.push(self.block_rewards(&header, &percentiles)?);
            }
            last = Some(header);
        }
        if let Some(last) = last {
            let next = last.header.next_block_base_fee(config.base_fee_params).unwrap_or_default();
            history.base_fee_per_gas.push(u128::from(next));
            history
                .base_fee_per_blob_gas
                .push(last.header.next_block_blob_fee(blob_params).unwrap_or_default());
        }
        if !percentiles.is_empty() {
            history.reward = Some(rewards);
        }
        Ok(history)
    }

    /// Effective tips at the given gas-weighted percentiles of one block (geth's algorithm).
    fn block_rewards(
        &self,
        header: &SealedHeader,
        percentiles: &[f64],
    ) -> error::RpcResult<Vec<u128>> {
        let n = header.header.number;
        let (Some(body), Some(receipts)) = (self.deps.chain.body(n)?, self.deps.chain.receipts(n)?)
        else {
            return Ok(vec![0; percentiles.len()]);
        };
        if body.transactions.is_empty() {
            return Ok(vec![0; percentiles.len()]);
        }
        let base_fee = header.header.base_fee_per_gas.unwrap_or_default();
        let mut prev = 0u64;
        let mut txs: Vec<(u128, u64)> = body
            .transactions
            .iter()
            .zip(&receipts)
            .map(|(tx, r)| {
                let cumulative = r.cumulative_gas_used();
                let used = cumulative.saturating_sub(prev);
                prev = cumulative;
                (tx.effective_tip_per_gas(base_fee).unwrap_or_default(), used)
            })
            .collect();
        txs.sort_unstable_by_key(|(tip, _)| *tip);
        let total = header.header.gas_used as f64;
        let mut out = Vec::with_capacity(percentiles.len());
        let mut idx = 0usize;
        let mut sum = txs.first().map(|t| t.1).unwrap_or_default();
        for p in percentiles {
            let threshold = total * p / 100.0;
            while (sum as f64) < threshold && idx + 1 < txs.len() {
                idx += 1;
                sum += txs[idx].1;
            }
            out.push(txs[idx].0);
        }
        Ok(out)
    }

    fn next_base_fee(&self) -> error::RpcResult<u128> {
        let head = self.head()?;
        let header = self.deps.chain.header_by_number(head)?.ok_or(RpcError::HeaderNotFound)?;
        Ok(u128::from(
            header.header.next_block_base_fee(self.deps.config.base_fee_params).unwrap_or_default(),
        ))
    }

    /// Decodes and checks a raw transaction; returns its hash, sender and nonce.
    fn check_raw_transaction(&self, bytes: &Bytes) -> error::RpcResult<(B256, Address, u64)> {
        if bytes.len() > MAX_RAW_TX_SIZE {
            return Err(RpcError::InvalidTransaction("oversized data".into()));
        }
        if bytes.is_empty() {
            return Err(RpcError::DecodeTransaction("empty input".into()));
        }
        let mut buf = bytes.as_ref();
        let tx = TxEnvelope::decode_2718(&mut buf)
            .map_err(|e| RpcError::DecodeTransaction(e.to_string()))?;
        if !buf.is_empty() {
            return Err(RpcError::DecodeTransaction("trailing bytes".into()));
        }
        if tx.tx_type() == TxType::Eip4844 {
            return Err(RpcError::TxTypeNotSupported);
        }
        let expected = self.deps.config.chain_id;
        match tx.chain_id() {
            Some(id) if id == expected => {}
            // Pre-EIP-155 legacy transactions are valid on L2 (spec §4.4), as on Ethereum.
            None if tx.tx_type() == TxType::Legacy => {}
            got => return Err(RpcError::InvalidChainId { expected, got }),
        }
        let sender = tx.recover_signer().map_err(|_| RpcError::InvalidSignature)?;
        Ok((*tx.tx_hash(), sender, tx.nonce()))
    }

    /// [`Self::run_blocking`] for an expensive request: waits at most
    /// [`crate::RpcConfig::call_queue_timeout`] for one of the
    /// [`crate::RpcConfig::max_concurrent_calls`] slots, else answers [`RpcError::Busy`]. The
    /// slot is held until the blocking work ends, even if the client goes away first.
    pub(crate) fn run_expensive<T, F>(
        &self,
        f: F,
    ) -> impl Future<Output = error::RpcResult<T>> + use<T, F>
    where
        T: Send + 'static,
        F: FnOnce(Self) -> error::RpcResult<T> + Send + 'static,
    {
        let this = self.clone();
        async move {
            let config = &this.deps.config;
            let started = Instant::now();
            let permit = match tokio::time::timeout(
                config.call_queue_timeout,
                Arc::clone(&this.expensive).acquire_owned(),
            )
            .await
            {
                Ok(Ok(permit)) => permit,
                Ok(Err(_closed)) => return Err(RpcError::Internal("call slots closed".into())),
                Err(_elapsed) => {
                    let waited_ms = started.elapsed().as_millis();
                    debug!(target: "rpc::eth", limit = config.max_concurrent_calls, waited_ms, "expensive request refused: busy");
                    return Err(RpcError::Busy { limit: config.max_concurrent_calls, waited_ms });
                }
            };
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                f(this)
            })
            .await
            .map_err(|e| RpcError::Internal(format!("task failed: {e}")))?
        }
    }

    fn run_blocking<T, F>(&self, f: F) -> impl Future<Output = error::RpcResult<T>> + use<T, F>
    where
        T: Send + 'static,
        F: FnOnce(Self) -> error::RpcResult<T> + Send + 'static,
    {
        let this = self.clone();
        async move {
            tokio::task::spawn_blocking(move || f(this))
                .await
                .map_err(|e| RpcError::Internal(format!("task failed: {e}")))?
        }
    }
}

fn ok<T>(res: error::RpcResult<T>) -> RpcResult<T> {
    res.map_err(Into::into)
}

#[async_trait]
impl EthApiServer for EthHandler {
    async fn chain_id(&self) -> RpcResult<U64> {
        Ok(U64::from(self.deps.config.chain_id))
    }

    async fn block_number(&self) -> RpcResult<U64> {
        ok(self.head().map(U64::from))
    }

    async fn syncing(&self) -> RpcResult<SyncStatus> {
        if !self.deps.based.is_syncing() {
            return Ok(SyncStatus::None);
        }
        let status = self.deps.based.sync_status();
        Ok(SyncStatus::Info(Box::new(SyncInfo {
            starting_block: U256::ZERO,
            current_block: U256::from(status.l2_head),
            highest_block: U256::from(status.l2_head),
            warp_chunks_amount: None,
            warp_chunks_processed: None,
            stages: None,
        })))
    }

    async fn accounts(&self) -> RpcResult<Vec<Address>> {
        Ok(Vec::new())
    }

    async fn block_by_number(
        &self,
        number: BlockNumberOrTag,
        full: bool,
    ) -> RpcResult<Option<Block>> {
        ok(self.block_by_tag(number).and_then(|b| self.block(b, full)))
    }

    async fn block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<Block>> {
        ok(self
            .header_by_hash_or_number(BlockHashOrNumber::Hash(hash))
            .and_then(|h| self.block(Self::canonical(h), full)))
    }

    async fn block_transaction_count_by_number(
        &self,
        number: BlockNumberOrTag,
    ) -> RpcResult<Option<U64>> {
        ok(self.block_by_tag(number).and_then(|b| self.tx_count(b)))
    }

    async fn block_transaction_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>> {
        ok(self
            .header_by_hash_or_number(hash.into())
            .and_then(|h| self.tx_count(Self::canonical(h))))
    }

    async fn uncle_count_by_number(&self, number: BlockNumberOrTag) -> RpcResult<Option<U64>> {
        ok(self.block_by_tag(number).map(|b| b.map(|_| U64::ZERO)))
    }

    async fn uncle_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>> {
        ok(self.header_by_hash_or_number(hash.into()).map(|h| h.map(|_| U64::ZERO)))
    }

    async fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256> {
        ok(self.state_at(block).and_then(|(_, state)| {
            Ok(state
                .basic_ref(address)
                .map_err(|e| RpcError::Internal(e.to_string()))?
                .map(|a| a.balance)
                .unwrap_or_default())
        }))
    }

    async fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64> {
        let pending = matches!(block, Some(BlockId::Number(BlockNumberOrTag::Pending)));
        // `pending` also counts what this node forwarded and what the proposer holds for the
        // sender, as geth counts its pool: a wallet sending several transactions in a row gets
        // consecutive nonces (crate::forwarded). A proposer that does not answer quickly only
        // leaves out what it holds from other sources.
        let queued = if pending { self.pool_nonces(address).await } else { Vec::new() };
        ok(self.state_at(block).and_then(|(_, state)| {
            let nonce = state
                .basic_ref(address)
                .map_err(|e| RpcError::Internal(e.to_string()))?
                .map(|a| a.nonce)
                .unwrap_or_default();
            let nonce = if pending {
                let executed =
                    nonce.max(self.deps.based.pending_nonce(address).unwrap_or_default());
                self.forwarded.next_nonce(address, executed, &queued, std::time::Instant::now())
            } else {
                nonce
            };
            Ok(U64::from(nonce))
        }))
    }

    async fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes> {
        ok(self.state_at(block).and_then(|(_, state)| {
            let internal =
                |e: revm::database_interface::ErasedError| RpcError::Internal(e.to_string());
            let Some(account) = state.basic_ref(address).map_err(internal)? else {
                return Ok(Bytes::new());
            };
            if account.code_hash == KECCAK_EMPTY {
                return Ok(Bytes::new());
            }
            let code = match account.code {
                Some(code) if !code.is_empty() => code,
                _ => state.code_by_hash_ref(account.code_hash).map_err(internal)?,
            };
            Ok(code.original_bytes())
        }))
    }

    async fn storage_at(
        &self,
        address: Address,
        slot: U256,
        block: Option<BlockId>,
    ) -> RpcResult<B256> {
        ok(self.state_at(block).and_then(|(_, state)| {
            let value =
                state.storage_ref(address, slot).map_err(|e| RpcError::Internal(e.to_string()))?;
            Ok(B256::from(value))
        }))
    }

    async fn call(&self, request: TransactionRequest, block: Option<BlockId>) -> RpcResult<Bytes> {
        let params = self.call_params();
        ok(self
            .run_expensive(move |this| {
                let (header, state) = this.state_at(block)?;
                evm::call(state, &header.header, request, params)
            })
            .await)
    }

    async fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
    ) -> RpcResult<U64> {
        let params = self.call_params();
        ok(self
            .run_expensive(move |this| {
                let (header, state) = this.state_at(block)?;
                evm::estimate_gas(state, &header.header, request, params).map(U64::from)
            })
            .await)
    }

    async fn create_access_list(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
    ) -> RpcResult<AccessListResult> {
        let params = self.call_params();
        ok(self
            .run_expensive(move |this| {
                let (header, state) = this.state_at(block)?;
                trace::create_access_list(state, &header.header, request, params)
            })
            .await)
    }

    async fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>> {
        let res = (|| -> error::RpcResult<Option<Transaction>> {
            if let Some(loc) = self.deps.chain.transaction_by_hash(hash)? {
                let header = self.deps.chain.header_by_number(loc.block_number)?;
                let meta = TxMeta {
                    block_hash: Some(loc.block_hash),
                    block_number: loc.block_number,
                    index: loc.index,
                    base_fee: header.as_ref().and_then(|h| h.header.base_fee_per_gas),
                    timestamp: header.map_or(0, |h| h.header.timestamp),
                };
                return Ok(Some(rpc_transaction(loc.transaction, loc.sender, meta)));
            }
            let Some((block, index)) = self.locate(hash)? else { return Ok(None) };
            self.tx_by_block_and_index(Some(block), U64::from(index))
        })();
        ok(res)
    }

    async fn transaction_by_block_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: U64,
    ) -> RpcResult<Option<Transaction>> {
        ok(self.block_by_tag(number).and_then(|b| self.tx_by_block_and_index(b, index)))
    }

    async fn transaction_by_block_hash_and_index(
        &self,
        hash: B256,
        index: U64,
    ) -> RpcResult<Option<Transaction>> {
        ok(self
            .header_by_hash_or_number(hash.into())
            .and_then(|h| self.tx_by_block_and_index(Self::canonical(h), index)))
    }

    async fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<TransactionReceipt>> {
        ok(self.receipt(hash))
    }

    async fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<TransactionReceipt>>> {
        let block = match block {
            BlockId::Hash(h) => {
                self.header_by_hash_or_number(h.block_hash.into()).map(Self::canonical)
            }
            BlockId::Number(tag) => self.block_by_tag(tag),
        };
        ok(block.and_then(|b| match b {
            Some(b) => self.block_receipts_of(&b),
            None => Ok(None),
        }))
    }

    async fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>> {
        ok(self.run_expensive(move |this| this.logs(&filter)).await)
    }

    async fn new_filter(&self, filter: Filter) -> RpcResult<U128> {
        ok(self.filters.new_log_filter(filter))
    }

    async fn new_block_filter(&self) -> RpcResult<U128> {
        ok(self.filters.new_block_filter())
    }

    async fn new_pending_transaction_filter(&self) -> RpcResult<U128> {
        ok(self.filters.new_pending_transaction_filter())
    }

    async fn filter_changes(&self, id: U128) -> RpcResult<FilterChanges> {
        ok(self.filters.changes(id))
    }

    async fn filter_logs(&self, id: U128) -> RpcResult<Vec<Log>> {
        let filter = match self.filters.log_query(id) {
            Ok(filter) => filter,
            Err(e) => return Err(e.into()),
        };
        ok(self.run_expensive(move |this| this.logs(&filter)).await)
    }

    async fn uninstall_filter(&self, id: U128) -> RpcResult<bool> {
        Ok(self.filters.uninstall(id))
    }

    async fn proof(
        &self,
        address: Address,
        keys: Vec<StorageKey>,
        block: Option<BlockId>,
    ) -> RpcResult<EIP1186AccountProofResponse> {
        ok(self.run_expensive(move |this| this.proof(address, &keys, block)).await)
    }

    async fn fee_history(
        &self,
        block_count: U64,
        newest_block: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory> {
        let count: u64 = block_count.to();
        ok(self
            .run_expensive(move |this| this.fee_history(count, newest_block, reward_percentiles))
            .await)
    }

    async fn gas_price(&self) -> RpcResult<U256> {
        ok(self
            .next_base_fee()
            .map(|base| U256::from(base.saturating_add(self.deps.config.suggested_priority_fee))))
    }

    async fn max_priority_fee_per_gas(&self) -> RpcResult<U256> {
        Ok(U256::from(self.deps.config.suggested_priority_fee))
    }

    async fn send_raw_transaction(&self, bytes: Bytes) -> RpcResult<B256> {
        let (hash, sender, nonce) = match self.check_raw_transaction(&bytes) {
            Ok(checked) => checked,
            Err(err) => {
                debug!(target: "rpc::eth", %err, "rejected raw transaction");
                return Err(err.into());
            }
        };
        match self.deps.forwarder.forward(bytes).await {
            Ok(returned) => {
                if returned != hash {
                    warn!(target: "rpc::eth", %hash, %returned, "proposer returned a different tx hash");
                }
                debug!(target: "rpc::eth", %hash, "forwarded transaction");
                self.forwarded.record(sender, nonce, std::time::Instant::now());
                self.deps.events.publish_pending(hash);
                Ok(hash)
            }
            Err(err) => {
                debug!(target: "rpc::eth", %hash, %err, "proposer rejected transaction");
                Err(RpcError::Forward(err).into())
            }
        }
    }
}

impl NetApiServer for EthHandler {
    fn version(&self) -> RpcResult<String> {
        Ok(self.deps.config.chain_id.to_string())
    }

    fn listening(&self) -> RpcResult<bool> {
        Ok(true)
    }
}

/// The `web3_clientVersion` string.
pub fn client_version() -> String {
    format!("based/v{}", env!("CARGO_PKG_VERSION"))
}

impl Web3ApiServer for EthHandler {
    fn client_version(&self) -> RpcResult<String> {
        Ok(client_version())
    }

    fn sha3(&self, input: Bytes) -> RpcResult<B256> {
        Ok(keccak256(input))
    }
}

#[async_trait]
impl BasedApiServer for EthHandler {
    async fn sync_status(&self) -> RpcResult<BasedSyncStatus> {
        Ok(self.deps.based.sync_status())
    }

    async fn l1_origin(&self, block: BlockNumberOrTag) -> RpcResult<Option<L1Origin>> {
        let res = (|| -> error::RpcResult<Option<L1Origin>> {
            match self.resolve_number(block)? {
                Some(n) => Ok(self.deps.based.l1_origin(n)?),
                None => Ok(None),
            }
        })();
        ok(res)
    }

    async fn preconfirm(
        &self,
        raw: Bytes,
        slot: U64,
        deadline: Option<U64>,
    ) -> RpcResult<Preconfirmation> {
        let slot: u64 = slot.to();
        let deadline = deadline.map(|d| d.to::<u64>());
        ok(self
            .run_blocking(move |this| {
                // Pending-transaction filters hear of it only when it newly enters the pending
                // block. (No snapshot of the pending block here: building one is linear in its
                // size, and this is the gateway's hot path.)
                let done = this.preconf_backend()?.preconfirm(raw, slot, deadline)?;
                if done.added {
                    this.deps.events.publish_pending(done.answer.tx_hash);
                }
                Ok(done.answer)
            })
            .await)
    }

    async fn drop_preconfirmed(&self, tx_hash: B256) -> RpcResult<bool> {
        ok(self
            .run_blocking(move |this| Ok(this.preconf_backend()?.drop_preconfirmed(tx_hash)?))
            .await)
    }

    async fn preconfirmations(&self) -> RpcResult<PreconfList> {
        ok(self.preconf_backend().map(|p| p.preconfirmations()))
    }

    async fn preconfirm_status(&self) -> RpcResult<PreconfStatus> {
        ok(self.preconf_backend().map(|p| p.status()))
    }
}

impl EthHandler {
    fn preconf_backend(&self) -> error::RpcResult<&dyn crate::PreconfBackend> {
        self.deps.based.preconf().ok_or_else(|| {
            RpcError::Preconf(PreconfError::Unavailable(
                "this node keeps no preconfirmed state".into(),
            ))
        })
    }
}
