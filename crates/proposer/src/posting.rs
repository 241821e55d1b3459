//! How fast promised transactions reach L1: the measure a gateway needs to promise only slots its
//! proposer can meet (docs/protocol.md §10.2 rule 3).
//!
//! For each promised transaction the proposer records when it arrived
//! (`based_sendPromisedTransaction`); when a proposal carrying it lands, the **posting latency** is
//! the landing L1 block's timestamp minus the arrival time (a promise for slot `S` is kept iff that
//! block is in slot `S` or earlier, so this is exactly the margin a promise needs). The last
//! [`SAMPLES`] latencies and the age of the oldest promised transaction still waiting are served as
//! `based_postingStatus` ([`PostingStatus`]).
//!
//! Invariants: bounded memory (at most [`MAX_TRACKED`] arrivals, [`SAMPLES`] latencies); an arrival
//! not landed within [`FORGET_AFTER_MS`] is forgotten (its promise is long broken or it was dropped).

use alloy_primitives::B256;
use serde::{Deserialize, Serialize};
use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
    time::Duration,
};

/// Latencies kept (the most recent proposals' promised transactions).
pub const SAMPLES: usize = 64;
/// Most arrivals tracked at once (the oldest is forgotten beyond it).
pub const MAX_TRACKED: usize = 16_384;
/// An arrival older than this (ms) is forgotten.
pub const FORGET_AFTER_MS: u64 = 300_000;

/// `based_postingStatus`: the proposer's measured posting latency of promised transactions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostingStatus {
    /// Latencies measured (at most [`SAMPLES`]).
    pub samples: u64,
    /// Largest of them, in ms (arrival to the landing L1 block's timestamp).
    pub max_latency_ms: u64,
    /// The most recent one, in ms.
    pub last_latency_ms: u64,
    /// Promised transactions received and not landed yet.
    pub waiting: u64,
    /// Age of the oldest of them, in ms (0: none waiting).
    pub oldest_waiting_ms: u64,
    /// The proposer can post (its blob encoder is warmed up): a gateway promises nothing before.
    pub ready: bool,
}

#[derive(Debug, Default)]
struct Inner {
    arrivals: HashMap<B256, u64>,
    samples: VecDeque<u64>,
}

/// Shared between the RPC server (arrivals) and the proposal loop (landings).
#[derive(Debug, Default)]
pub struct PostingStats {
    inner: Mutex<Inner>,
    ready: std::sync::atomic::AtomicBool,
}

impl PostingStats {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The proposer is ready to post.
    pub fn set_ready(&self) {
        self.ready.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// A promised transaction arrived at `now_ms` (a repeat keeps the first arrival).
    pub fn arrived(&self, hash: B256, now_ms: u64) {
        let mut inner = self.lock();
        if inner.arrivals.len() >= MAX_TRACKED && !inner.arrivals.contains_key(&hash) {
            inner.arrivals.retain(|_, at| now_ms.saturating_sub(*at) <= FORGET_AFTER_MS);
            if inner.arrivals.len() >= MAX_TRACKED {
                let oldest = inner.arrivals.iter().min_by_key(|(_, at)| **at).map(|(h, _)| *h);
                if let Some(oldest) = oldest {
                    inner.arrivals.remove(&oldest);
                }
            }
        }
        inner.arrivals.entry(hash).or_insert(now_ms);
    }

    /// A proposal carrying `hashes` landed in an L1 block with timestamp `l1_timestamp` (seconds):
    /// records one latency per promised transaction it tracked.
    pub fn landed(&self, hashes: impl IntoIterator<Item = B256>, l1_timestamp: u64) {
        let landed_ms = l1_timestamp.saturating_mul(1000);
        let mut inner = self.lock();
        for hash in hashes {
            if let Some(at) = inner.arrivals.remove(&hash) {
                if inner.samples.len() >= SAMPLES {
                    inner.samples.pop_front();
                }
                let latency_ms = landed_ms.saturating_sub(at);
                inner.samples.push_back(latency_ms);
                metrics::histogram!(based_metrics::names::PROMISE_POSTING_LATENCY)
                    .record(Duration::from_millis(latency_ms).as_secs_f64());
            }
        }
    }

    /// The status at `now_ms`.
    pub fn status(&self, now_ms: u64) -> PostingStatus {
        let inner = self.lock();
        let live = inner
            .arrivals
            .values()
            .filter(|at| now_ms.saturating_sub(**at) <= FORGET_AFTER_MS)
            .copied();
        let (waiting, oldest) = live.fold((0u64, None::<u64>), |(n, o), at| {
            (n.saturating_add(1), Some(o.map_or(at, |o| o.min(at))))
        });
        PostingStatus {
            samples: u64::try_from(inner.samples.len()).unwrap_or(u64::MAX),
            max_latency_ms: inner.samples.iter().copied().max().unwrap_or(0),
            last_latency_ms: inner.samples.back().copied().unwrap_or(0),
            waiting,
            oldest_waiting_ms: oldest.map_or(0, |at| now_ms.saturating_sub(at)),
            ready: self.ready.load(std::sync::atomic::Ordering::Relaxed),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_is_landing_block_time_minus_arrival() {
        let stats = PostingStats::default();
        let (a, b, c) = (B256::repeat_byte(1), B256::repeat_byte(2), B256::repeat_byte(3));
        stats.arrived(a, 10_000);
        stats.arrived(b, 10_500);
        stats.arrived(a, 11_000); // a repeat keeps the first arrival
        stats.arrived(c, 13_000);
        assert_eq!(
            stats.status(13_000),
            PostingStatus {
                samples: 0,
                max_latency_ms: 0,
                last_latency_ms: 0,
                waiting: 3,
                oldest_waiting_ms: 3_000,
                ready: false,
            }
        );
        // a and b land in the L1 block of t = 14 s; an unknown hash is ignored.
        stats.landed([a, b, B256::repeat_byte(9)], 14);
        stats.set_ready();
        let s = stats.status(14_200);
        assert!(s.ready);
        assert_eq!((s.samples, s.max_latency_ms, s.last_latency_ms), (2, 4_000, 3_500));
        assert_eq!((s.waiting, s.oldest_waiting_ms), (1, 1_200));
        // c waits too long: forgotten, no longer counted as waiting.
        let s = stats.status(13_000 + FORGET_AFTER_MS + 1);
        assert_eq!((s.waiting, s.oldest_waiting_ms), (0, 0));
    }

    #[test]
    fn memory_is_bounded() {
        let stats = PostingStats::default();
        for i in 0..(SAMPLES as u64 + 10) {
            let h = B256::from(alloy_primitives::U256::from(i));
            stats.arrived(h, 1_000 + i);
            stats.landed([h], 2);
        }
        assert_eq!(stats.status(2_000).samples, SAMPLES as u64);
        for i in 0..(MAX_TRACKED as u64 + 5) {
            stats.arrived(B256::from(alloy_primitives::U256::from(i + 1_000_000)), 5_000);
        }
        assert_eq!(stats.status(5_000).waiting, MAX_TRACKED as u64);
    }
}
