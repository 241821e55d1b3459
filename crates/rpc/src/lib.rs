//! L2 Ethereum JSON-RPC server of the based node (jsonrpsee, HTTP + WebSocket on one port).
//!
//! Serves the `eth_`, `net_`, `web3_` namespaces with the execution-apis wire format (alloy RPC
//! types), geth's `debug_trace*` methods (revm-inspectors' tracers, on blocks re-executed from
//! their start state: [`ChainProvider::block_start_state`]), `txpool_*` (the node's pending
//! block; it keeps no pool of its own), plus `based_syncStatus` / `based_l1Origin` and the
//! preconfirmation methods
//! `based_preconfirm`, `based_dropPreconfirmed`, `based_preconfirmations`,
//! `based_preconfirmStatus` (docs/protocol.md §10.5).
//!
//! The node plugs in three trait objects ([`RpcDeps`]):
//! - [`ChainProvider`]: canonical headers, bodies, receipts, tx lookup and state readers
//!   (implemented here for `based_storage::Store`, historical state included);
//! - [`BasedBackend`]: L1/L2 sync status (resolves the `safe` / `finalized` tags), L1 origins, and
//!   optionally the node's preconfirmed state ([`PreconfBackend`]: the `pending` tag);
//! - [`TxForwarder`]: where `eth_sendRawTransaction` sends transactions ([`HttpForwarder`]
//!   forwards to the proposer's JSON-RPC endpoint);
//!
//! and a [`ChainEvents`] publisher (its driver publishes committed and unwound blocks) that
//! feeds the filters (`eth_newFilter` & co) and WebSocket subscriptions (`eth_subscribe`).
//! `eth_getProof` is answered by [`ChainProvider::proof`] (the store walks its state trie).
//!
//! Invariants:
//! - Read-only: the server never writes chain data; `eth_call` / `eth_estimateGas` run revm on a
//!   cached view whose changes are discarded. Only `based_preconfirm` / `based_dropPreconfirmed`
//!   change anything: the node's pending block, through [`PreconfBackend`].
//! - Only canonical blocks are visible (the provider holds only canonical blocks), plus the
//!   pending block under the `pending` tag when the backend keeps one ([`PendingBlock`]: the
//!   preconfirmed transactions executed on the head); without one `pending` is `latest`. Pending
//!   transactions and receipts (by hash) carry `blockNumber = head + 1`, their position as
//!   `transactionIndex` and `blockHash: null`; a canonical inclusion always wins.
//! - A raw transaction is forwarded only if it decodes as EIP-2718, is not a blob transaction,
//!   carries this chain's id (EIP-155 replay protection required) and has a valid signature.
//! - Bounded work per request: gas cap and wall-clock timeout on calls, access lists and traces,
//!   struct-log and recorded-size caps on traces, block range and result
//!   caps on `eth_getLogs`, block and blocks × percentiles caps on `eth_feeHistory`, size cap on
//!   raw transactions and request bodies, key and block-window caps on `eth_getProof`; at most
//!   `max_concurrent_calls` expensive requests run at once (the others wait briefly, then are
//!   refused), so RPC load cannot starve derivation.
//! - One snapshot per state read: the header a request resolved and the state it reads belong to
//!   the same block in the same store read transaction ([`ChainProvider::state_at`] takes the
//!   block hash and answers `None` if that block is no longer canonical; the handler then
//!   re-resolves). Block bodies and receipts are read in their own transactions and re-checked
//!   against the canonical hash of the header they are served with.
//! - Filters and subscriptions follow the canonical chain through [`ChainEvents`] (published by
//!   the node's driver): logs of unwound blocks are reported again with `removed: true`, and
//!   `newHeads` announces the new canonical heads after an unwind. Bounded state: at most
//!   `max_filters` filters (idle ones expire), `max_subscriptions_per_connection` per
//!   connection, and fixed-capacity event channels; a consumer that falls behind gets an error
//!   (filters) or is closed (subscriptions), never a silent gap.

mod api;
mod backend;
mod convert;
mod debug;
mod error;
mod eth;
mod events;
mod evm;
mod filters;
mod forwarded;
mod forwarder;
mod preconf;
mod server;
mod store;
mod subscriptions;
#[cfg(any(test, feature = "test-utils"))]
pub mod test_utils;
mod trace;
mod txpool;

pub use api::{
    BasedApiServer, DebugApiServer, EthApiServer, EthPubSubApiServer, NetApiServer,
    TxpoolApiServer, Web3ApiServer,
};
pub use backend::{
    BasedBackend, BasedSyncStatus, BlockBody, ChainProvider, DriverStatus, ForwardError, L1Origin,
    ProviderError, SealedHeader, StateView, StorageKey, TxForwarder, TxLocation, erase_state,
    share_state,
};
pub use error::{
    EXECUTION_REVERTED_CODE, INVALID_INPUT_CODE, LIMIT_EXCEEDED_CODE, RpcError,
    decode_revert_reason,
};
pub use eth::{MAX_RAW_TX_SIZE, client_version};
pub use events::{
    ChainBlock, ChainEvent, ChainEvents, DEFAULT_CHAIN_EVENT_CAPACITY, DEFAULT_PENDING_TX_CAPACITY,
};
pub use forwarder::HttpForwarder;
pub use preconf::{
    BrokenKind, BrokenPromise, PendingBlock, PreconfBackend, PreconfEntry, PreconfError,
    PreconfList, PreconfStatus, Preconfirmation, Preconfirmed, codes as preconf_codes,
};
pub use server::{
    DEFAULT_CALL_QUEUE_TIMEOUT, DEFAULT_CALL_TIMEOUT, DEFAULT_FILTER_TIMEOUT, DEFAULT_GAS_CAP,
    DEFAULT_MAX_BATCH_LEN, DEFAULT_MAX_CONCURRENT_CALLS, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_FEE_HISTORY_BLOCKS, DEFAULT_MAX_FEE_HISTORY_BUDGET,
    DEFAULT_MAX_FEE_HISTORY_PERCENTILES, DEFAULT_MAX_FILTERS, DEFAULT_MAX_LOGS,
    DEFAULT_MAX_LOGS_BLOCK_RANGE, DEFAULT_MAX_PROOF_KEYS, DEFAULT_MAX_REQUEST_BODY_SIZE,
    DEFAULT_MAX_RESPONSE_BODY_SIZE, DEFAULT_MAX_STRUCT_LOGS,
    DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION, DEFAULT_PROOF_WINDOW, DEFAULT_SUGGESTED_PRIORITY_FEE,
    RpcConfig, RpcDeps, RpcServer, RpcServerError, RpcServerHandle, rpc_module,
};
