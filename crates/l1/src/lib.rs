//! `based-l1`: follows the L1 chain and hands the rollup an ExEx-shaped notification stream.
//!
//! The [`L1Watcher`] polls any execution client over JSON-RPC (alloy provider), and for every new L1
//! block builds an [`L1Block`]: the header (hash verified as `keccak256(rlp(header))`), the logs selected
//! by an [`L1Filter`] (by default [`InboxFilter`]: all `Inbox` events) and the blobs those logs need
//! (for `Proposed`: the blobs it names), fetched from the beacon API with [`BeaconClient`]
//! (`based-beacon`: the block's slot from its timestamp, confirmed by the beacon block, then
//! `blob_sidecars` or `blobs` by slot, with fallback beacon nodes and blob archives) and verified
//! against their versioned hashes with KZG.
//!
//! It emits [`L1Notification`]s on a channel:
//! - `ChainCommitted { new }` when blocks extend the chain the consumer holds;
//! - `ChainReorged { old, new }` when blocks it holds were replaced (fork point found by walking back
//!   through a bounded window of remembered blocks, comparing hashes with the canonical chain);
//! - `ChainReverted { old }` when the canonical head went back without replacement.
//!
//! Invariants:
//! - Notifications are consistent: every `new` chain extends the previous tip or the fork block of
//!   the `old` chain sent with it; `old` chains are exactly blocks previously emitted (or, on resume,
//!   persisted by the consumer).
//! - A block is only emitted once all the blobs its logs need are fetched and verified: the stream
//!   stalls (retrying) rather than skipping data. A reorg deeper than the window also stalls (error log).
//! - Failures (endpoint down, timeouts, bad data) never crash the watcher: each step is retried with
//!   bounded exponential backoff and logged with `tracing` (target `based_l1::watcher`).
//! - The consumer acknowledges processed blocks with [`FinishedHeight`]; the watcher stays at most
//!   `max_unacked_blocks` ahead. To resume after a restart the consumer persists the headers of the
//!   blocks it processed (back to the L1 finalized block) and passes them as [`StartFrom::Resume`].
//! - Safe and finalized heads are published on a `watch` channel ([`L1Heads`]).

mod filter;
mod types;
mod watcher;

pub use based_beacon::{
    BeaconClient, BeaconClientConfig, BeaconError, ElBlock, MAX_BLOBS_PER_RESPONSE, Severity,
    versioned_hash,
};
pub use filter::{FilterError, InboxFilter, L1Filter};
pub use types::{Chain, ChainError, FinishedHeight, L1Block, L1Heads, L1Notification};
pub use watcher::{L1Watcher, L1WatcherConfig, L1WatcherHandle, StartFrom, WatcherError};
