//! Posting the proposer lookahead (`Lookahead.postLookahead`, docs/lookahead.md §3): during epoch
//! `e`, a committer with commit rights posts the opted-in proposers of epoch `e + 1`, read from the
//! beacon API's proposer duties and the `Registry`'s commit rights. The committer's proposer does
//! it, in its proposal loop: it is the one process that sends L1 transactions with the committer's
//! key (two senders of one key would race for nonces), so an opted-in validator set needs nothing
//! else running.
//!
//! One attempt ([`post_next_epoch`]):
//! 1. nothing to do if `e + 1` is already posted;
//! 2. duties of `e + 1` from the beacon nodes (consensus clients serve the next epoch's; fixed one
//!    epoch ahead since Fulu, EIP-7917); each key's Registry identity is `keccak256` of its
//!    EIP-2537 encoding;
//! 3. the entries are [`based_lookahead::lookahead_entries`]: the duties whose key has a committer
//!    at the start of its slot (`Registry.committerAt`), exactly what a contest checks against;
//! 4. the poster key is the first entry whose committer at the start of `e + 1` is this
//!    gateway's; if none, another committer's job: nothing is posted (posting for keys that are not
//!    ours would stake collateral we do not own).
//!
//! A post sent too late in the epoch reverts (`NotNextEpoch`) and costs only gas; the next attempt
//! computes the new next epoch. Entries are correct by construction, so the poster's collateral is
//! never at risk from an honest gateway unless its beacon node lies; use a trusted one.

use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::SolCall;
use based_beacon::BeaconClient;
use based_contracts::Lookahead;
use based_lookahead::{FnLookup, ProposerDuty, SlotClock, lookahead_entries};
use based_registry::Registry;
use std::{collections::HashMap, time::Duration};

/// Why an attempt failed (all temporary: the next attempt starts over).
#[derive(Debug, thiserror::Error)]
pub enum PosterError {
    /// An L1 call or transaction failed.
    #[error("L1: {0}")]
    L1(String),
    /// The beacon API did not answer the duties.
    #[error("beacon: {0}")]
    Beacon(#[from] based_beacon::BeaconError),
    /// Slot arithmetic failed.
    #[error("lookahead: {0}")]
    Lookahead(#[from] based_lookahead::LookaheadError),
    /// The post transaction reverted.
    #[error("postLookahead reverted in tx {0}")]
    Reverted(B256),
}

/// What one attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostOutcome {
    /// The epoch already has a lookahead on L1.
    AlreadyPosted {
        /// The next epoch.
        epoch: u64,
    },
    /// None of the epoch's opted-in proposers delegates to this committer.
    NotOurs {
        /// The next epoch.
        epoch: u64,
        /// Entries the epoch would have.
        entries: usize,
    },
    /// Posted.
    Posted {
        /// The posted epoch.
        epoch: u64,
        /// Number of entries.
        entries: usize,
        /// The key whose commit rights authorised the post.
        poster_key: B256,
        /// The transaction.
        tx: B256,
    },
}

/// Where and how to post.
#[derive(Debug, Clone)]
pub struct PosterConfig {
    /// The `Lookahead` contract.
    pub lookahead: Address,
    /// The L1 slot clock (the contract's).
    pub clock: SlotClock,
    /// Beacon nodes for the proposer duties.
    pub beacon: BeaconClient,
}

async fn call<P: Provider, C: SolCall>(
    l1: &P,
    to: Address,
    call: C,
) -> Result<C::Return, PosterError> {
    crate::view(l1, to, call).await.map_err(|e| PosterError::L1(e.to_string()))
}

/// One attempt to post the lookahead of the epoch after the one of `now` (see the module docs).
/// `l1` must sign with the committer's key; `send_lock` serialises its sends with the proposals'.
pub async fn post_next_epoch<P: Provider>(
    l1: &P,
    config: &PosterConfig,
    committer: Address,
    now: u64,
    send_lock: &tokio::sync::Mutex<()>,
) -> Result<PostOutcome, PosterError> {
    let clock = &config.clock;
    let epoch = clock.epoch_of(clock.slot_at(now)).saturating_add(1);
    let record =
        call(l1, config.lookahead, Lookahead::epochRecordCall { epoch: U256::from(epoch) }).await?;
    if !record.poster.is_zero() {
        return Ok(PostOutcome::AlreadyPosted { epoch });
    }
    let registry = call(l1, config.lookahead, Lookahead::registryCall {}).await?;

    let mut duties = Vec::new();
    for d in config.beacon.proposer_duties(epoch).await? {
        match based_lookahead::pubkey_hash_of_compressed(&d.pubkey) {
            Ok(pubkey_hash) => duties.push(ProposerDuty {
                slot: d.slot,
                validator_index: d.validator_index,
                pubkey_hash,
            }),
            Err(e) => {
                tracing::warn!(target: "proposer::lookahead", slot = d.slot, error = %e, "duty with an invalid key skipped");
            }
        }
    }
    // Commit rights at the start of each duty's slot and of the epoch (for the poster key).
    let epoch_start = clock.epoch_timestamp(epoch)?;
    let mut rights: HashMap<(B256, u64), Address> = HashMap::new();
    for d in &duties {
        for time in [clock.slot_timestamp(d.slot)?, epoch_start] {
            if rights.contains_key(&(d.pubkey_hash, time)) {
                continue;
            }
            let committer = call(
                l1,
                registry,
                Registry::committerAtCall {
                    pubkeyHash: d.pubkey_hash,
                    timestamp: U256::from(time),
                },
            )
            .await?;
            rights.insert((d.pubkey_hash, time), committer);
        }
    }
    let lookup = FnLookup(|hash: B256, time: u64| rights.get(&(hash, time)).copied());
    let entries = lookahead_entries(clock, epoch, &duties, &lookup)?;
    let Some(poster_key) = entries
        .iter()
        .map(|e| e.pubkey_hash)
        .find(|h| rights.get(&(*h, epoch_start)) == Some(&committer))
    else {
        return Ok(PostOutcome::NotOurs { epoch, entries: entries.len() });
    };
    let post = Lookahead::postLookaheadCall {
        epoch: U256::from(epoch),
        posterPubkeyHash: poster_key,
        entries: entries.iter().map(|e| e.to_sol()).collect(),
    };
    let tx = TransactionRequest::default()
        .with_to(config.lookahead)
        .with_input(Bytes::from(post.abi_encode()));
    let pending = {
        let _sending = send_lock.lock().await;
        l1.send_transaction(tx).await.map_err(|e| PosterError::L1(e.to_string()))?
    };
    let receipt = pending
        .with_timeout(Some(Duration::from_secs(60)))
        .get_receipt()
        .await
        .map_err(|e| PosterError::L1(e.to_string()))?;
    if !receipt.status() {
        return Err(PosterError::Reverted(receipt.transaction_hash));
    }
    Ok(PostOutcome::Posted {
        epoch,
        entries: entries.len(),
        poster_key,
        tx: receipt.transaction_hash,
    })
}
