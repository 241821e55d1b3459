//! What the node persists in the store's meta table, and how.
//!
//! Keys:
//! - `derive/state/<u64be l1 number>`: [`DerivationState::encode`] after that L1 block;
//! - `derive/progress`: `u64be` number of the last fully processed L1 block (its state is the
//!   current one);
//! - `l1origin/<u64be l2 number>`: the L1 origin of that L2 block (see [`encode_origin`]);
//! - `l1/header/<u64be l1 number>`: RLP header of a processed L1 block (resume after restart).
//!
//! The progress entries of an L1 block are written in the same store transaction as its last L2
//! block, or in one transaction of their own when it derived no block. Origin entries of unwound blocks stay behind but are
//! never read above the head and are overwritten, in the same transaction, by the next block of
//! that number.

use crate::driver::DriverError;
use alloy_consensus::Header;
use alloy_primitives::B256;
use alloy_rlp::Decodable;
use based_derive::{DerivationState, DerivedBlock};
use based_storage::Store;

const STATE_PREFIX: &[u8] = b"derive/state/";
const PROGRESS_KEY: &[u8] = b"derive/progress";
const ORIGIN_PREFIX: &[u8] = b"l1origin/";
const L1_HEADER_PREFIX: &[u8] = b"l1/header/";

fn key(prefix: &[u8], n: u64) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(&n.to_be_bytes());
    k
}

/// The entries recording `state` as the state after its L1 head, with that L1 block's header
/// (kept so a restarted node can hand the L1 source the headers it processed).
pub fn progress_entries(
    state: &DerivationState,
    l1_header: Option<&Header>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let n = state.l1_head().number;
    let mut entries = Vec::with_capacity(3);
    if let Some(h) = l1_header {
        entries.push((key(L1_HEADER_PREFIX, n), alloy_rlp::encode(h)));
    }
    entries.push((key(STATE_PREFIX, n), state.encode()));
    entries.push((PROGRESS_KEY.to_vec(), n.to_be_bytes().to_vec()));
    entries
}

/// The persisted headers of the processed L1 blocks `tip - max + 1 ..= tip`, ascending and
/// contiguous, ending at `tip` (empty when the tip's header is not stored, e.g. the start block).
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

/// The derivation state stored for L1 block `l1_number`.
pub fn load_state(store: &Store, l1_number: u64) -> Result<Option<DerivationState>, DriverError> {
    store
        .get_meta(&key(STATE_PREFIX, l1_number))?
        .map(|bytes| DerivationState::decode(&bytes).map_err(|e| DriverError::Meta(e.to_string())))
        .transpose()
}

/// The current derivation state, if the node has run before.
pub fn load_progress(store: &Store) -> Result<Option<DerivationState>, DriverError> {
    let Some(raw) = store.get_meta(PROGRESS_KEY)? else { return Ok(None) };
    let bytes: [u8; 8] =
        raw.as_slice().try_into().map_err(|_| DriverError::Meta("progress".into()))?;
    let n = u64::from_be_bytes(bytes);
    load_state(store, n)?
        .map(Some)
        .ok_or_else(|| DriverError::Meta(format!("no state for L1 block {n}")))
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
