//! JSON-RPC of the watchtower (namespace `based_`, served by the node).
//!
//! - `based_watchCommitment(signedCommitment)`: starts watching a signed inclusion commitment
//!   (Commitments API JSON, as `commitmentResult` returns it); answers
//!   `{digest, committer, slot, txHash, added}`; -32602 for a commitment that cannot be watched
//!   (not inclusion, another slasher, bad signature or payload), -32005 when full, -32603 if it
//!   could not be stored.
//! - `based_watchedCommitments()`: `{watched, kept, broken, pending, commitments: [...]}` (the last
//!   1000), each `{digest, committer, slot, txHash, verdict}`.
//! - `based_brokenCommitments()`: the broken ones, each with its `fault` and the `action` taken.
//! - `based_commitmentFeeds()`: the followed gateways' feeds, each
//!   `{url, next, received, watched, skipped, lastError}` ([`crate::FeedStatus`]).

use crate::{Verdict, Watched, WatchtowerError, tower::Watchtower};
use alloy_primitives::{Address, B256};
use based_commitments::SignedCommitment;
use jsonrpsee::{RpcModule, types::ErrorObjectOwned};
use serde::Serialize;
use std::sync::Arc;

/// Most commitments `based_watchedCommitments` lists.
const MAX_LISTED: usize = 1000;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct WatchedJson {
    digest: B256,
    committer: Address,
    slot: u64,
    tx_hash: B256,
    verdict: Verdict,
}

impl From<&Watched> for WatchedJson {
    fn from(w: &Watched) -> Self {
        Self {
            digest: w.digest,
            committer: w.committer,
            slot: w.slot,
            tx_hash: w.tx_hash,
            verdict: w.verdict.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct WatchAnswer {
    digest: B256,
    committer: Address,
    slot: u64,
    tx_hash: B256,
    added: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    watched: usize,
    kept: usize,
    broken: usize,
    pending: usize,
    commitments: Vec<WatchedJson>,
}

fn rpc_error(e: &WatchtowerError) -> ErrorObjectOwned {
    let code = match e {
        WatchtowerError::Invalid(_) => -32602,
        WatchtowerError::Full(_) => -32005,
        _ => -32603,
    };
    ErrorObjectOwned::owned(code, e.to_string(), None::<()>)
}

pub(crate) fn module(tower: Arc<Watchtower>) -> RpcModule<Arc<Watchtower>> {
    let mut m = RpcModule::new(tower);
    let results = [
        m.register_method("based_watchCommitment", |params, tower, _| {
            let (signed,): (SignedCommitment,) = params.parse()?;
            let (w, added) = tower.watch(signed, true).map_err(|e| rpc_error(&e))?;
            Ok::<_, ErrorObjectOwned>(WatchAnswer {
                digest: w.digest,
                committer: w.committer,
                slot: w.slot,
                tx_hash: w.tx_hash,
                added,
            })
        })
        .map(|_| ()),
        m.register_method("based_watchedCommitments", |_, tower, _| {
            let store = tower.lock();
            let mut summary = Summary {
                watched: store.len(),
                kept: 0,
                broken: 0,
                pending: 0,
                commitments: Vec::new(),
            };
            for w in store.iter() {
                match w.verdict {
                    Verdict::Watching => summary.pending = summary.pending.saturating_add(1),
                    Verdict::Kept { .. } => summary.kept = summary.kept.saturating_add(1),
                    Verdict::Broken { .. } => summary.broken = summary.broken.saturating_add(1),
                }
            }
            let skip = store.len().saturating_sub(MAX_LISTED);
            summary.commitments = store.iter().skip(skip).map(WatchedJson::from).collect();
            Ok::<_, ErrorObjectOwned>(summary)
        })
        .map(|_| ()),
        m.register_method("based_brokenCommitments", |_, tower, _| {
            let broken: Vec<WatchedJson> = tower
                .lock()
                .iter()
                .filter(|w| matches!(w.verdict, Verdict::Broken { .. }))
                .map(WatchedJson::from)
                .collect();
            Ok::<_, ErrorObjectOwned>(broken)
        })
        .map(|_| ()),
        m.register_method("based_commitmentFeeds", |_, tower, _| {
            Ok::<_, ErrorObjectOwned>(tower.feed_statuses())
        })
        .map(|_| ()),
    ];
    for r in results {
        if let Err(e) = r {
            tracing::error!(target: "watchtower", error = %e, "watchtower method not registered");
        }
    }
    m
}
