//! Every node a watchtower (docs/slashing.md, docs/protocol.md §11).
//!
//! A [`Watchtower`] holds signed inclusion promises (submitted over JSON-RPC with
//! `based_watchCommitment`, or read from gateways' commitment feeds: [`feed`]), and once a promise's slot is `challengeDelay` slots old (the slasher's
//! L1 finality margin) judges it from L1 exactly as the `PreconfSlasher` would:
//! - **not owned**: the slot's preconfer (the slasher's preconfer source) has another committer
//!   than the signer;
//! - **kept**: the transaction is in the `Inbox.Promised` record of a proposal included in an L1
//!   block of a slot `<=` the promised one;
//! - otherwise **not included** (broken).
//!
//! A broken promise is logged (`warn`) and listed by `based_brokenCommitments`. With a key, the
//! watchtower also acts: it opens a challenge (paying the bond) while the challenge window is open
//! and slashes the undefended challenge after its deadline, or slashes a not-owned promise at once
//! (a validator that had delegated to the signer, found from the `Registry`'s `OptedIn` events). It
//! also **defends** every open challenge it can answer (a false challenge of a kept promise,
//! whoever challenged), so an honest committer is protected by any node that runs one.
//!
//! Invariants:
//! - A verdict is a function of canonical L1 state; the watched commitments are durable (appended
//!   and `fdatasync`ed before `based_watchCommitment` answers) and their verdicts are recomputed
//!   after a restart.
//! - The watchtower never challenges a promise it could defend, and never defends one it could
//!   not prove: both use the same lookup ([`based_slasher::SlasherClient::find_kept`]).
//! - Bad input (a malformed commitment, a wrong signature, another slasher) is refused with a
//!   typed error, never a panic.

pub mod feed;
mod rpc;
mod store;
mod tower;

pub use feed::{FeedCursors, FeedSink, FeedStatus};
pub use store::{Action, Execution, Fault, Verdict, Watched};
pub use tower::{Judge, Watchtower, WatchtowerHandle, spawn, watchable};

use alloy_primitives::Address;
use alloy_signer_local::PrivateKeySigner;
use std::{path::PathBuf, time::Duration};

/// The node's derived L2 chain, as the watchtower reads it to report what happened to a kept
/// promise's transaction ([`Execution`]).
pub trait L2Chain: Send + Sync + 'static {
    /// The highest L1 block whose proposals are derived and executed.
    fn l1_processed(&self) -> u64;
    /// The canonical L2 block, index and receipt status of transaction `tx_hash`, if executed.
    fn executed(&self, tx_hash: alloy_primitives::B256) -> Option<(u64, u64, bool)>;
}

/// What `l2` says of a transaction kept by a proposal in L1 block `l1_block`.
pub fn execution_of(
    l2: Option<&dyn L2Chain>,
    l1_block: u64,
    tx_hash: alloy_primitives::B256,
) -> Execution {
    let Some(l2) = l2 else { return Execution::Unchecked };
    // Progress first: a transaction derived between the two reads is then found, not skipped.
    let derived = l2.l1_processed() >= l1_block;
    if let Some((l2_block, index, success)) = l2.executed(tx_hash) {
        return Execution::Executed { l2_block, index, success };
    }
    if derived { Execution::Skipped } else { Execution::Pending }
}

/// Default cap on watched promises.
pub const DEFAULT_MAX_WATCHED: usize = 100_000;

/// What a [`Watchtower`] needs.
#[derive(Clone)]
pub struct WatchtowerConfig {
    /// L1 execution JSON-RPC URL.
    pub l1_rpc_url: String,
    /// The `PreconfSlasher` the watched promises name (its Registry, Inbox and preconfer source
    /// are read from it).
    pub slasher: Address,
    /// The file of watched commitments (JSON lines; created if absent).
    pub store_path: PathBuf,
    /// Key that pays challenge bonds and sends challenges, defences and slashes; `None` = report
    /// only.
    pub key: Option<PrivateKeySigner>,
    /// How often L1 is polled.
    pub poll_interval: Duration,
    /// Most promises watched at once (`based_watchCommitment` refuses more).
    pub max_watched: usize,
    /// First L1 block scanned for challenges to defend (e.g. the slasher's deployment block).
    pub from_block: u64,
    /// Gateways whose commitment feeds are followed ([`feed`]; more can be added later with
    /// [`WatchtowerHandle::follow`]); their cursors live in [`feed::CURSORS_FILE`] next to
    /// `store_path`. Polled every `poll_interval` when caught up.
    pub gateway_urls: Vec<String>,
}

impl std::fmt::Debug for WatchtowerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchtowerConfig")
            .field("l1_rpc_url", &self.l1_rpc_url)
            .field("slasher", &self.slasher)
            .field("store_path", &self.store_path)
            .field("key", &self.key.as_ref().map(|k| k.address()))
            .field("poll_interval", &self.poll_interval)
            .field("max_watched", &self.max_watched)
            .field("from_block", &self.from_block)
            .field("gateway_urls", &self.gateway_urls)
            .finish()
    }
}

/// Errors of the watchtower.
#[derive(Debug, thiserror::Error)]
pub enum WatchtowerError {
    /// The L1 RPC URL does not parse.
    #[error("bad L1 RPC URL: {0}")]
    Url(String),
    /// An L1 read or transaction failed.
    #[error("L1: {0}")]
    L1(String),
    /// A slasher call failed.
    #[error(transparent)]
    Slasher(#[from] based_slasher::SlasherError),
    /// The commitment cannot be watched (not an inclusion commitment, bad signature, another
    /// slasher).
    #[error("invalid commitment: {0}")]
    Invalid(String),
    /// The store is full.
    #[error("already watching the maximum of {0} commitments")]
    Full(usize),
    /// The store file failed.
    #[error("watchtower store: {0}")]
    Store(String),
    /// A gateway's commitment feed could not be read (retried).
    #[error("commitment feed: {0}")]
    Feed(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::B256;

    struct Fake {
        processed: u64,
        executed: Option<(B256, u64, u64, bool)>,
    }

    impl L2Chain for Fake {
        fn l1_processed(&self) -> u64 {
            self.processed
        }
        fn executed(&self, tx_hash: B256) -> Option<(u64, u64, bool)> {
            self.executed.filter(|e| e.0 == tx_hash).map(|(_, b, i, ok)| (b, i, ok))
        }
    }

    /// A chain that derives the keeping L1 block (and executes every transaction, in block 8) as
    /// soon as its progress is read.
    struct Racing(std::sync::atomic::AtomicBool);

    impl L2Chain for Racing {
        fn l1_processed(&self) -> u64 {
            self.0.swap(true, std::sync::atomic::Ordering::SeqCst);
            10
        }
        fn executed(&self, _: B256) -> Option<(u64, u64, bool)> {
            self.0.load(std::sync::atomic::Ordering::SeqCst).then_some((8, 0, true))
        }
    }

    /// Executed if the chain has it; otherwise pending until the keeping L1 block is derived,
    /// then skipped; unchecked without a view of the chain.
    #[test]
    fn execution_of_a_kept_promise() {
        let tx = B256::repeat_byte(1);
        let other = B256::repeat_byte(2);
        assert_eq!(execution_of(None, 10, tx), Execution::Unchecked);
        let chain = Fake { processed: 9, executed: Some((tx, 7, 3, false)) };
        assert_eq!(
            execution_of(Some(&chain), 10, tx),
            Execution::Executed { l2_block: 7, index: 3, success: false }
        );
        assert_eq!(execution_of(Some(&chain), 10, other), Execution::Pending);
        let chain = Fake { processed: 10, executed: None };
        assert_eq!(execution_of(Some(&chain), 10, other), Execution::Skipped);
        assert_eq!(execution_of(Some(&chain), 11, other), Execution::Pending);
        // Derived between the reads: found, not skipped.
        let racing = Racing(std::sync::atomic::AtomicBool::new(false));
        assert_eq!(
            execution_of(Some(&racing), 10, tx),
            Execution::Executed { l2_block: 8, index: 0, success: true }
        );
        let json =
            serde_json::to_value(Execution::Executed { l2_block: 7, index: 3, success: true })
                .unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({"state": "executed", "l2Block": 7, "index": 3, "success": true})
        );
    }
}
