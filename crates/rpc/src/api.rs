//! JSON-RPC method definitions (jsonrpsee). Parameter and result types are the alloy RPC types,
//! so the wire format is the execution-apis one.

use alloy_eips::eip2930::AccessListResult;
use alloy_primitives::{Address, B256, Bytes, U64, U128, U256};
use alloy_rpc_types_eth::{
    Block, BlockId, BlockNumberOrTag, EIP1186AccountProofResponse, FeeHistory, Filter,
    FilterChanges, Log, SyncStatus, Transaction, TransactionReceipt, TransactionRequest,
    pubsub::SubscriptionKind,
};
use alloy_rpc_types_trace::geth::{
    GethDebugTracingCallOptions, GethDebugTracingOptions, GethTrace, TraceResult,
};
use alloy_rpc_types_txpool::{TxpoolContent, TxpoolContentFrom, TxpoolInspect, TxpoolStatus};
use jsonrpsee::{
    core::{RpcResult, SubscriptionResult},
    proc_macros::rpc,
};

use crate::{
    backend::{BasedSyncStatus, L1Origin, StorageKey},
    preconf::{PreconfList, PreconfStatus, Preconfirmation},
};

/// The `eth_` namespace.
#[rpc(server, namespace = "eth")]
pub trait EthApi {
    /// `eth_chainId`.
    #[method(name = "chainId")]
    async fn chain_id(&self) -> RpcResult<U64>;

    /// `eth_blockNumber`.
    #[method(name = "blockNumber")]
    async fn block_number(&self) -> RpcResult<U64>;

    /// `eth_syncing`: `false`, or progress while catching up with L1.
    #[method(name = "syncing")]
    async fn syncing(&self) -> RpcResult<SyncStatus>;

    /// `eth_accounts`: the node holds no keys.
    #[method(name = "accounts")]
    async fn accounts(&self) -> RpcResult<Vec<Address>>;

    /// `eth_getBlockByNumber`.
    #[method(name = "getBlockByNumber")]
    async fn block_by_number(
        &self,
        number: BlockNumberOrTag,
        full: bool,
    ) -> RpcResult<Option<Block>>;

    /// `eth_getBlockByHash`.
    #[method(name = "getBlockByHash")]
    async fn block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<Block>>;

    /// `eth_getBlockTransactionCountByNumber`.
    #[method(name = "getBlockTransactionCountByNumber")]
    async fn block_transaction_count_by_number(
        &self,
        number: BlockNumberOrTag,
    ) -> RpcResult<Option<U64>>;

    /// `eth_getBlockTransactionCountByHash`.
    #[method(name = "getBlockTransactionCountByHash")]
    async fn block_transaction_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>>;

    /// `eth_getUncleCountByBlockNumber`: always 0 for existing blocks.
    #[method(name = "getUncleCountByBlockNumber")]
    async fn uncle_count_by_number(&self, number: BlockNumberOrTag) -> RpcResult<Option<U64>>;

    /// `eth_getUncleCountByBlockHash`: always 0 for existing blocks.
    #[method(name = "getUncleCountByBlockHash")]
    async fn uncle_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>>;

    /// `eth_getBalance`.
    #[method(name = "getBalance")]
    async fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256>;

    /// `eth_getTransactionCount`.
    #[method(name = "getTransactionCount")]
    async fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64>;

    /// `eth_getCode`.
    #[method(name = "getCode")]
    async fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes>;

    /// `eth_getStorageAt`.
    #[method(name = "getStorageAt")]
    async fn storage_at(
        &self,
        address: Address,
        slot: U256,
        block: Option<BlockId>,
    ) -> RpcResult<B256>;

    /// `eth_call`.
    #[method(name = "call")]
    async fn call(&self, request: TransactionRequest, block: Option<BlockId>) -> RpcResult<Bytes>;

    /// `eth_estimateGas`.
    #[method(name = "estimateGas")]
    async fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
    ) -> RpcResult<U64>;

    /// `eth_createAccessList`: the accounts and storage slots the call touches (sender, recipient
    /// and precompiles excluded) and the gas it uses with that list; `error` when it reverts.
    #[method(name = "createAccessList")]
    async fn create_access_list(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
    ) -> RpcResult<AccessListResult>;

    /// `eth_getTransactionByHash`.
    #[method(name = "getTransactionByHash")]
    async fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>>;

    /// `eth_getTransactionByBlockNumberAndIndex`.
    #[method(name = "getTransactionByBlockNumberAndIndex")]
    async fn transaction_by_block_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: U64,
    ) -> RpcResult<Option<Transaction>>;

    /// `eth_getTransactionByBlockHashAndIndex`.
    #[method(name = "getTransactionByBlockHashAndIndex")]
    async fn transaction_by_block_hash_and_index(
        &self,
        hash: B256,
        index: U64,
    ) -> RpcResult<Option<Transaction>>;

    /// `eth_getTransactionReceipt`.
    #[method(name = "getTransactionReceipt")]
    async fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<TransactionReceipt>>;

    /// `eth_getBlockReceipts`.
    #[method(name = "getBlockReceipts")]
    async fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<TransactionReceipt>>>;

    /// `eth_getLogs`.
    #[method(name = "getLogs")]
    async fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>>;

    /// `eth_newFilter`: installs a log filter; returns its id.
    #[method(name = "newFilter")]
    async fn new_filter(&self, filter: Filter) -> RpcResult<U128>;

    /// `eth_newBlockFilter`: installs a filter of new block hashes; returns its id.
    #[method(name = "newBlockFilter")]
    async fn new_block_filter(&self) -> RpcResult<U128>;

    /// `eth_newPendingTransactionFilter`: installs a filter of the hashes of transactions this
    /// node accepts; returns its id.
    #[method(name = "newPendingTransactionFilter")]
    async fn new_pending_transaction_filter(&self) -> RpcResult<U128>;

    /// `eth_getFilterChanges`: what the filter saw since its last poll.
    #[method(name = "getFilterChanges")]
    async fn filter_changes(&self, id: U128) -> RpcResult<FilterChanges>;

    /// `eth_getFilterLogs`: every log matching a log filter's query (as `eth_getLogs`).
    #[method(name = "getFilterLogs")]
    async fn filter_logs(&self, id: U128) -> RpcResult<Vec<Log>>;

    /// `eth_uninstallFilter`: whether the filter existed.
    #[method(name = "uninstallFilter")]
    async fn uninstall_filter(&self, id: U128) -> RpcResult<bool>;

    /// `eth_getProof` (EIP-1186): account and storage proofs against a block's state root.
    #[method(name = "getProof")]
    async fn proof(
        &self,
        address: Address,
        keys: Vec<StorageKey>,
        block: Option<BlockId>,
    ) -> RpcResult<EIP1186AccountProofResponse>;

    /// `eth_feeHistory`.
    #[method(name = "feeHistory")]
    async fn fee_history(
        &self,
        block_count: U64,
        newest_block: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory>;

    /// `eth_gasPrice`: next block's base fee plus the suggested tip.
    #[method(name = "gasPrice")]
    async fn gas_price(&self) -> RpcResult<U256>;

    /// `eth_maxPriorityFeePerGas`: the suggested tip.
    #[method(name = "maxPriorityFeePerGas")]
    async fn max_priority_fee_per_gas(&self) -> RpcResult<U256>;

    /// `eth_sendRawTransaction`: validates and forwards to the proposer; returns the tx hash.
    #[method(name = "sendRawTransaction")]
    async fn send_raw_transaction(&self, bytes: Bytes) -> RpcResult<B256>;
}

/// `eth_subscribe` / `eth_unsubscribe` (WebSocket only).
#[rpc(server, namespace = "eth")]
pub trait EthPubSubApi {
    /// `eth_subscribe(kind, params?)`: `newHeads`, `logs` (with an address/topics filter) or
    /// `newPendingTransactions` (hashes).
    #[subscription(
        name = "subscribe" => "subscription",
        unsubscribe = "unsubscribe",
        item = serde_json::Value
    )]
    async fn subscribe(
        &self,
        kind: SubscriptionKind,
        params: Option<serde_json::Value>,
    ) -> SubscriptionResult;
}

/// The `debug_` namespace: geth-style transaction tracing (the struct logger by default, or a
/// built-in tracer such as `callTracer`).
#[rpc(server, namespace = "debug")]
pub trait DebugApi {
    /// `debug_traceTransaction(hash, options?)`: re-executes the transaction's block up to it and
    /// traces it.
    #[method(name = "traceTransaction")]
    async fn trace_transaction(
        &self,
        hash: B256,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<GethTrace>;

    /// `debug_traceCall(call, block?, options?)`: traces a call (as `eth_call`) on a block's
    /// state. State and block overrides are refused.
    #[method(name = "traceCall")]
    async fn trace_call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        options: Option<GethDebugTracingCallOptions>,
    ) -> RpcResult<GethTrace>;

    /// `debug_traceBlockByNumber(block, options?)`: every transaction of the block, in order
    /// (`[{txHash, result}]`).
    #[method(name = "traceBlockByNumber")]
    async fn trace_block_by_number(
        &self,
        block: BlockNumberOrTag,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>>;

    /// `debug_traceBlockByHash(hash, options?)`: as `debug_traceBlockByNumber`.
    #[method(name = "traceBlockByHash")]
    async fn trace_block_by_hash(
        &self,
        hash: B256,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>>;
}

/// The `txpool_` namespace. The node keeps no transaction pool (`eth_sendRawTransaction`
/// forwards to the proposer): what it holds that is not in a block yet is its pending block (the
/// preconfirmed transactions), reported as `pending`; `queued` is always empty.
#[rpc(server, namespace = "txpool")]
pub trait TxpoolApi {
    /// `txpool_status`: `{pending, queued}` counts.
    #[method(name = "status")]
    async fn txpool_status(&self) -> RpcResult<TxpoolStatus>;

    /// `txpool_content`: the transactions by sender and nonce.
    #[method(name = "content")]
    async fn txpool_content(&self) -> RpcResult<TxpoolContent>;

    /// `txpool_contentFrom(address)`: the transactions of one sender by nonce.
    #[method(name = "contentFrom")]
    async fn txpool_content_from(&self, from: Address) -> RpcResult<TxpoolContentFrom>;

    /// `txpool_inspect`: a one-line summary of each transaction by sender and nonce.
    #[method(name = "inspect")]
    async fn txpool_inspect(&self) -> RpcResult<TxpoolInspect>;
}

/// The `net_` namespace.
#[rpc(server, namespace = "net")]
pub trait NetApi {
    /// `net_version`: the chain id in decimal.
    #[method(name = "version")]
    fn version(&self) -> RpcResult<String>;

    /// `net_listening`: always `true`.
    #[method(name = "listening")]
    fn listening(&self) -> RpcResult<bool>;
}

/// The `web3_` namespace.
#[rpc(server, namespace = "web3")]
pub trait Web3Api {
    /// `web3_clientVersion`: `based/v<version>`.
    #[method(name = "clientVersion")]
    fn client_version(&self) -> RpcResult<String>;

    /// `web3_sha3`: keccak256 of the input.
    #[method(name = "sha3")]
    fn sha3(&self, input: Bytes) -> RpcResult<B256>;
}

/// The `based_` namespace: rollup status.
#[rpc(server, namespace = "based")]
pub trait BasedApi {
    /// `based_syncStatus`: L1 head, L1 processed height, L2 head/safe/finalized.
    #[method(name = "syncStatus")]
    async fn sync_status(&self) -> RpcResult<BasedSyncStatus>;

    /// `based_l1Origin`: the L1 inclusion block, proposal id and anchor of an L2 block.
    #[method(name = "l1Origin")]
    async fn l1_origin(&self, block: BlockNumberOrTag) -> RpcResult<Option<L1Origin>>;

    /// `based_preconfirm(rawTx, slot, deadline?)`: executes a signed transaction on top of the
    /// pending block and, if valid, appends it; answers its position, gas used and status. Errors
    /// (nothing changed): -32013 nonce, -32014 funds, -32012 no gas left in the pending block,
    /// -32016 chain id, -32602 invalid, -32603 unavailable. `deadline` (Unix seconds): the L1 time
    /// after which the node reports the promise as overdue if it is not on L2.
    #[method(name = "preconfirm")]
    async fn preconfirm(
        &self,
        raw: Bytes,
        slot: U64,
        deadline: Option<U64>,
    ) -> RpcResult<Preconfirmation>;

    /// `based_dropPreconfirmed(txHash)`: removes a pending transaction (the gateway could not make
    /// its promise durable) and re-executes the rest; `false` if it was not pending.
    #[method(name = "dropPreconfirmed")]
    async fn drop_preconfirmed(&self, tx_hash: B256) -> RpcResult<bool>;

    /// `based_preconfirmations`: the pending transactions in order and the broken promises.
    #[method(name = "preconfirmations")]
    async fn preconfirmations(&self) -> RpcResult<PreconfList>;

    /// `based_preconfirmStatus`: session, L2 head and counts (cheap).
    #[method(name = "preconfirmStatus")]
    async fn preconfirm_status(&self) -> RpcResult<PreconfStatus>;
}
