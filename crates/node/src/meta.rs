//! What the node persists in the store's meta table, and how.
//!
//! Keys (integers big-endian, so keys sort numerically):
//! - `derive/state/<u64be l1 number><l1 hash>`: [`DerivationState::encode`] after that L1 block
//!   (protocol §7.5: keyed by number **and hash**, so a state of an abandoned block of the same
//!   number is never read);
//! - `derive/progress`: `u64be number || hash` of the last fully processed L1 block (its state is
//!   the current one);
//! - `derive/deposit/<u64be id>`, `derive/forced/<u64be id>`: the queued deposits and forced
//!   transactions (RLP of [`PendingDeposit`] / [`PendingForcedTx`]), each written once, by the L1
//!   block that queued it; states hold only cursors into them ([`StoreQueues`] reads them back);
//! - `l1origin/<u64be l2 number>`: the L1 origin of that L2 block (see [`encode_origin`]);
//! - `l1/header/<u64be l1 number>`: RLP header of a processed L1 block (resume after restart);
//! - `derive/pruned`: `u64be` L1 number below which states and headers may have been pruned.
//!
//! The progress entries of an L1 block (state, header, queued entries, progress) are written in
//! the same store transaction as its last L2 block, or in one transaction of their own when it
//! derived no block. A revert to a fork point deletes, in its unwind transaction, the states and
//! headers above the fork and the queue entries the fork's state has not queued, so at most one
//! state per L1 number exists ([`load_state_at`]). Pruning ([`prune_changes`]) deletes states and
//! headers below a kept L1 block and the queue entries below its cursors, in bounded
//! transactions. Origin entries of unwound blocks stay behind but are never read above the head
//! and are overwritten, in the same transaction, by the next block of that number.

use crate::driver::DriverError;
use alloy_consensus::Header;
use alloy_primitives::B256;
use alloy_rlp::Decodable;
use based_derive::{
    DerivationState, DerivedBlock, MemoryQueues, PendingDeposit, PendingForcedTx, QueueProvider,
    QueueProviderError, QueuedEntries, StateDecodeError,
};
use based_storage::{MetaRow, Store};

const STATE_PREFIX: &[u8] = b"derive/state/";
const PROGRESS_KEY: &[u8] = b"derive/progress";
const DEPOSIT_PREFIX: &[u8] = b"derive/deposit/";
const FORCED_PREFIX: &[u8] = b"derive/forced/";
const PRUNED_KEY: &[u8] = b"derive/pruned";
const ORIGIN_PREFIX: &[u8] = b"l1origin/";
const L1_HEADER_PREFIX: &[u8] = b"l1/header/";

/// What an operator must do with a data directory written by an older release.
const RESYNC: &str = "stop the node, delete the data directory's `db` and start it again to \
                      resync from L1";

fn key(prefix: &[u8], n: u64) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(&n.to_be_bytes());
    k
}

fn state_key(number: u64, hash: &B256) -> Vec<u8> {
    let mut k = key(STATE_PREFIX, number);
    k.extend_from_slice(hash.as_slice());
    k
}

/// The first key after every key starting with `prefix` (whose last byte is `/`).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    if let Some(last) = end.last_mut() {
        *last = last.saturating_add(1);
    }
    end
}

/// A half-open range of meta keys `(start, end)`: `start <= key < end`.
pub type KeyRange = (Vec<u8>, Vec<u8>);

/// Keys `prefix || u64be(n)` for `from <= n < to` (`to` = `None`: no upper bound), as a range.
fn numbered(prefix: &[u8], from: u64, to: Option<u64>) -> KeyRange {
    (key(prefix, from), to.map_or_else(|| prefix_end(prefix), |to| key(prefix, to)))
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> DriverError {
    DriverError::Meta(format!("{what}: {e}"))
}

fn decode_state(bytes: &[u8]) -> Result<DerivationState, DriverError> {
    DerivationState::decode(bytes).map_err(|e| match e {
        StateDecodeError::Outdated(_) => DriverError::OldDatabase(format!("{e}: {RESYNC}")),
        e => corrupt("derivation state", e),
    })
}

/// The entries recording `state` as the state after its L1 head, with that L1 block's header
/// (kept so a restarted node can hand the L1 source the headers it processed) and the queue
/// entries the block queued.
pub fn progress_entries(
    state: &DerivationState,
    l1_header: Option<&Header>,
    queued: &QueuedEntries,
) -> Vec<MetaRow> {
    let head = state.l1_head();
    let mut entries = Vec::with_capacity(
        3usize.saturating_add(queued.deposits.len()).saturating_add(queued.forced.len()),
    );
    if let Some(h) = l1_header {
        entries.push((key(L1_HEADER_PREFIX, head.number), alloy_rlp::encode(h)));
    }
    for d in &queued.deposits {
        entries.push((key(DEPOSIT_PREFIX, d.id), alloy_rlp::encode(d)));
    }
    for f in &queued.forced {
        entries.push((key(FORCED_PREFIX, f.id), alloy_rlp::encode(f)));
    }
    entries.push((state_key(head.number, &head.hash), state.encode()));
    let mut progress = head.number.to_be_bytes().to_vec();
    progress.extend_from_slice(head.hash.as_slice());
    entries.push((PROGRESS_KEY.to_vec(), progress));
    entries
}

/// What reverting to the state `fork` (after the fork point of a reorg) deletes: the states and
/// headers of the L1 blocks above it, and the queue entries with ids it has not queued (queued
/// by abandoned blocks). Deleted in the unwind's transaction, with [`progress_entries`] of `fork`.
pub fn revert_deletes(fork: &DerivationState) -> Vec<KeyRange> {
    let above = fork.l1_head().number.saturating_add(1);
    vec![
        numbered(STATE_PREFIX, above, None),
        numbered(L1_HEADER_PREFIX, above, None),
        numbered(DEPOSIT_PREFIX, fork.pending_deposit_ids().end, None),
        numbered(FORCED_PREFIX, fork.pending_forced_ids().end, None),
    ]
}

/// What pruning below the kept state `keep` (the state after the oldest L1 block still kept)
/// deletes and writes: the states and headers of older L1 blocks, the queue entries below its
/// cursors (credited or included at or before it, so no kept state reads them), and the
/// `derive/pruned` marker.
pub fn prune_changes(keep: &DerivationState) -> (Vec<KeyRange>, Vec<MetaRow>) {
    let below = keep.l1_head().number;
    let deletes = vec![
        numbered(STATE_PREFIX, 0, Some(below)),
        numbered(L1_HEADER_PREFIX, 0, Some(below)),
        numbered(DEPOSIT_PREFIX, 0, Some(keep.pending_deposit_ids().start)),
        numbered(FORCED_PREFIX, 0, Some(keep.pending_forced_ids().start)),
    ];
    (deletes, vec![(PRUNED_KEY.to_vec(), below.to_be_bytes().to_vec())])
}

/// The L1 number below which states and headers may have been pruned (0: nothing pruned).
pub fn pruned_below(store: &Store) -> Result<u64, DriverError> {
    match store.get_meta(PRUNED_KEY)? {
        None => Ok(0),
        Some(raw) => {
            let bytes: [u8; 8] =
                raw.as_slice().try_into().map_err(|_| DriverError::Meta("pruned marker".into()))?;
            Ok(u64::from_be_bytes(bytes))
        }
    }
}

/// The persisted headers of the processed L1 blocks `tip - max + 1 ..= tip`, ascending and
/// contiguous, ending at `tip` (empty when the tip's header is not stored, e.g. the start block;
/// shorter when older ones were pruned).
pub fn load_l1_headers(store: &Store, tip: u64, max: u64) -> Result<Vec<Header>, DriverError> {
    let mut out: Vec<Header> = Vec::new();
    let mut n = tip;
    while (out.len() as u64) < max {
        let Some(raw) = store.get_meta(&key(L1_HEADER_PREFIX, n))? else { break };
        let header =
            Header::decode(&mut raw.as_slice()).map_err(|e| DriverError::Meta(e.to_string()))?;
        if let Some(child) = out.last()
            && (header.number.checked_add(1) != Some(child.number)
                || header.hash_slow() != child.parent_hash)
        {
            break;
        }
        out.push(header);
        let Some(prev) = n.checked_sub(1) else { break };
        n = prev;
    }
    out.reverse();
    Ok(out)
}

/// The derivation state stored for L1 block `l1_number` with hash `l1_hash`.
pub fn load_state(
    store: &Store,
    l1_number: u64,
    l1_hash: &B256,
) -> Result<Option<DerivationState>, DriverError> {
    store.get_meta(&state_key(l1_number, l1_hash))?.map(|bytes| decode_state(&bytes)).transpose()
}

/// The derivation state stored for the processed L1 block `l1_number`, whatever its hash: there is
/// at most one (states above a reorg's fork point are deleted with the unwind).
pub fn load_state_at(
    store: &Store,
    l1_number: u64,
) -> Result<Option<DerivationState>, DriverError> {
    let (start, end) = numbered(STATE_PREFIX, l1_number, l1_number.checked_add(1));
    let rows = store.meta_range(&start, &end, 2)?;
    match rows.as_slice() {
        [] => Ok(None),
        [(_, bytes)] => decode_state(bytes).map(Some),
        _ => Err(DriverError::Meta(format!("two derivation states for L1 block {l1_number}"))),
    }
}

/// The current derivation state, if the node has run before. A store written by a release that
/// copied the queues into every state is refused ([`DriverError::OldDatabase`]).
pub fn load_progress(store: &Store) -> Result<Option<DerivationState>, DriverError> {
    let Some(raw) = store.get_meta(PROGRESS_KEY)? else { return Ok(None) };
    if raw.len() == 8 {
        return Err(DriverError::OldDatabase(format!(
            "the derivation progress was written by an older release (derivation states keyed by \
             L1 number only, with the queues copied into each): {RESYNC}"
        )));
    }
    let (n, hash) = match raw.split_first_chunk::<8>() {
        Some((n, hash)) if hash.len() == 32 => (u64::from_be_bytes(*n), B256::from_slice(hash)),
        _ => return Err(DriverError::Meta("progress".into())),
    };
    let state = load_state(store, n, &hash)?
        .ok_or_else(|| DriverError::Meta(format!("no state for L1 block {n} ({hash})")))?;
    Ok(Some(state))
}

/// The queue entries of the store, with `pending` (entries of L1 blocks derived but not yet
/// written) in front: what derivation reads queued deposits and forced transactions through.
#[derive(Debug)]
pub struct StoreQueues<'a> {
    /// The store.
    pub store: &'a Store,
    /// Entries not persisted yet; they shadow stored ones with the same ids.
    pub pending: &'a MemoryQueues,
}

impl StoreQueues<'_> {
    fn read<T: Decodable>(&self, prefix: &[u8], id: u64) -> Result<Option<T>, QueueProviderError> {
        let raw = self
            .store
            .get_meta(&key(prefix, id))
            .map_err(|e| QueueProviderError::Unavailable(e.to_string()))?;
        raw.map(|raw| {
            alloy_rlp::decode_exact(raw.as_slice())
                .map_err(|e| QueueProviderError::Corrupt(e.to_string()))
        })
        .transpose()
    }
}

impl QueueProvider for StoreQueues<'_> {
    fn deposit(&self, id: u64) -> Result<Option<PendingDeposit>, QueueProviderError> {
        match self.pending.deposit(id)? {
            Some(d) => Ok(Some(d)),
            None => self.read(DEPOSIT_PREFIX, id),
        }
    }

    fn forced_tx(&self, id: u64) -> Result<Option<PendingForcedTx>, QueueProviderError> {
        match self.pending.forced_tx(id)? {
            Some(f) => Ok(Some(f)),
            None => self.read(FORCED_PREFIX, id),
        }
    }
}

/// The L1 origin of an L2 block as persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredOrigin {
    /// L1 block that included the proposal.
    pub l1_number: u64,
    /// Its hash.
    pub l1_hash: B256,
    /// Inbox proposal id.
    pub proposal_id: u64,
    /// Anchor block number.
    pub anchor_number: u64,
    /// Anchor block hash.
    pub anchor_hash: B256,
}

/// `u64be(l1 number) || l1 hash || u64be(proposal id) || u64be(anchor number) || anchor hash`.
pub fn encode_origin(o: &StoredOrigin) -> Vec<u8> {
    let mut v = Vec::with_capacity(88);
    v.extend_from_slice(&o.l1_number.to_be_bytes());
    v.extend_from_slice(o.l1_hash.as_slice());
    v.extend_from_slice(&o.proposal_id.to_be_bytes());
    v.extend_from_slice(&o.anchor_number.to_be_bytes());
    v.extend_from_slice(o.anchor_hash.as_slice());
    v
}

/// Inverse of [`encode_origin`].
pub fn decode_origin(v: &[u8]) -> Option<StoredOrigin> {
    let u64_at =
        |at: usize| v.get(at..at + 8).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes);
    let hash_at = |at: usize| v.get(at..at + 32).map(B256::from_slice);
    if v.len() != 88 {
        return None;
    }
    Some(StoredOrigin {
        l1_number: u64_at(0)?,
        l1_hash: hash_at(8)?,
        proposal_id: u64_at(40)?,
        anchor_number: u64_at(48)?,
        anchor_hash: hash_at(56)?,
    })
}

/// The origin entry of a derived block.
pub fn origin_entry(block: &DerivedBlock) -> (Vec<u8>, Vec<u8>) {
    let o = StoredOrigin {
        l1_number: block.origin.block_number,
        l1_hash: block.origin.block_hash,
        proposal_id: block.origin.proposal_id,
        anchor_number: block.anchor.number,
        anchor_hash: block.anchor.hash,
    };
    (key(ORIGIN_PREFIX, block.number), encode_origin(&o))
}

/// The stored origin of L2 block `number`.
pub fn load_origin(store: &Store, number: u64) -> Result<Option<StoredOrigin>, DriverError> {
    Ok(store.get_meta(&key(ORIGIN_PREFIX, number))?.and_then(|v| decode_origin(&v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_round_trip_and_rejects_bad_lengths() {
        let o = StoredOrigin {
            l1_number: 7,
            l1_hash: B256::repeat_byte(1),
            proposal_id: 3,
            anchor_number: 6,
            anchor_hash: B256::repeat_byte(2),
        };
        let enc = encode_origin(&o);
        assert_eq!(decode_origin(&enc), Some(o));
        assert_eq!(decode_origin(&enc[..87]), None);
        assert_eq!(decode_origin(&[enc, vec![0]].concat()), None);
    }
}
