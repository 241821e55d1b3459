//! Transactions this node forwarded to the proposer and has not seen executed yet. The `pending`
//! nonce counts them, as geth counts its pool: a wallet sending several transactions in a row
//! (each asking `eth_getTransactionCount(.., "pending")`) gets consecutive nonces while the
//! earlier ones wait in the proposer's pool, ride in a proposal or wait for derivation.
//!
//! Invariants: at most [`MAX_TRACKED`] entries (the oldest are forgotten first); an entry stops
//! counting once its nonce is below the sender's executed (pending-state) nonce, or after
//! [`FORWARDED_TTL`] (a transaction the proposer dropped stops counting then). Expired entries of
//! other senders are swept at most once per [`FORWARDED_TTL`], so recording stays O(log n).

use alloy_primitives::Address;
use std::{
    collections::{BTreeMap, HashMap},
    sync::Mutex,
    time::{Duration, Instant},
};

/// How long a forwarded transaction counts for the `pending` nonce if it is not executed.
pub(crate) const FORWARDED_TTL: Duration = Duration::from_secs(120);
/// Most forwarded transactions tracked.
pub(crate) const MAX_TRACKED: usize = 10_000;

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Forwarded {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Per sender: nonce -> when it was forwarded.
    by_sender: HashMap<Address, BTreeMap<u64, Instant>>,
    count: usize,
    /// When expired entries were last swept ([`Inner::forget_older_than`]).
    last_sweep: Option<Instant>,
}

impl Inner {
    fn forget_older_than(&mut self, cutoff: Instant) {
        let mut removed = 0usize;
        self.by_sender.retain(|_, nonces| {
            let before = nonces.len();
            nonces.retain(|_, at| *at >= cutoff);
            removed = removed.saturating_add(before.saturating_sub(nonces.len()));
            !nonces.is_empty()
        });
        self.count = self.count.saturating_sub(removed);
    }

    /// Forgets the oldest entry.
    fn forget_oldest(&mut self) {
        let oldest = self
            .by_sender
            .iter()
            .flat_map(|(sender, nonces)| nonces.iter().map(move |(n, at)| (*at, *sender, *n)))
            .min();
        if let Some((_, sender, nonce)) = oldest
            && let Some(nonces) = self.by_sender.get_mut(&sender)
        {
            nonces.remove(&nonce);
            self.count = self.count.saturating_sub(1);
            if nonces.is_empty() {
                self.by_sender.remove(&sender);
            }
        }
    }
}

impl Forwarded {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records that `sender`'s transaction with `nonce` was handed to the proposer at `now`.
    pub(crate) fn record(&self, sender: Address, nonce: u64, now: Instant) {
        let mut inner = self.lock();
        let sweep_due = inner
            .last_sweep
            .is_none_or(|last| now.saturating_duration_since(last) >= FORWARDED_TTL);
        if sweep_due || inner.count >= MAX_TRACKED {
            if let Some(cutoff) = now.checked_sub(FORWARDED_TTL) {
                inner.forget_older_than(cutoff);
            }
            inner.last_sweep = Some(now);
        }
        if inner.count >= MAX_TRACKED {
            inner.forget_oldest();
        }
        if inner.by_sender.entry(sender).or_default().insert(nonce, now).is_none() {
            inner.count = inner.count.saturating_add(1);
        }
    }

    /// `sender`'s next nonce: `executed` (its nonce in the pending state) carried past every
    /// nonce forwarded (or in `queued`, what the proposer reports holding) without a gap.
    /// Forgets the sender's entries below `executed`.
    pub(crate) fn next_nonce(
        &self,
        sender: Address,
        executed: u64,
        queued: &[u64],
        now: Instant,
    ) -> u64 {
        let mut inner = self.lock();
        let cutoff = now.checked_sub(FORWARDED_TTL);
        let mut nonces = inner.by_sender.remove(&sender).unwrap_or_default();
        let before = nonces.len();
        nonces.retain(|n, at| *n >= executed && cutoff.is_none_or(|c| *at >= c));
        inner.count = inner.count.saturating_sub(before.saturating_sub(nonces.len()));
        let mut next = executed;
        while nonces.contains_key(&next) || queued.contains(&next) {
            next = next.saturating_add(1);
        }
        if !nonces.is_empty() {
            inner.by_sender.insert(sender, nonces);
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Address = Address::repeat_byte(0xa);
    const B: Address = Address::repeat_byte(0xb);

    #[test]
    fn counts_forwarded_nonces_without_gaps_until_executed_or_expired() {
        let f = Forwarded::default();
        let t0 = Instant::now();
        assert_eq!(f.next_nonce(A, 3, &[], t0), 3);
        f.record(A, 3, t0);
        f.record(A, 4, t0);
        f.record(A, 6, t0); // a gap: does not count
        f.record(B, 0, t0);
        assert_eq!(f.next_nonce(A, 3, &[], t0), 5);
        // The proposer's queue fills the gap.
        assert_eq!(f.next_nonce(A, 3, &[5], t0), 7);
        assert_eq!(f.next_nonce(B, 0, &[], t0), 1);
        // Nonce 3 and 4 executed: forgotten; 6 still waits behind the gap at 5.
        assert_eq!(f.next_nonce(A, 5, &[], t0), 5);
        assert_eq!(f.lock().count, 2);
        // Past the TTL nothing counts any more.
        let later = t0 + FORWARDED_TTL + Duration::from_secs(1);
        assert_eq!(f.next_nonce(A, 5, &[], later), 5);
        assert_eq!(f.next_nonce(A, 6, &[], later), 6);
        f.record(A, 9, later);
        assert_eq!(f.lock().count, 1, "B's expired entry went at the next record");
    }

    #[test]
    fn bounded() {
        let f = Forwarded::default();
        let t0 = Instant::now();
        for i in 0..(MAX_TRACKED as u64 + 10) {
            f.record(Address::with_last_byte((i % 200) as u8), i, t0 + Duration::from_millis(i));
        }
        assert_eq!(f.lock().count, MAX_TRACKED);
        // The oldest (nonce 0 of sender 0) went first.
        assert_eq!(f.next_nonce(Address::with_last_byte(0), 0, &[], t0), 0);
    }
}
