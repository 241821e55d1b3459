//! Installed filters (`eth_newFilter`, `eth_newBlockFilter`, `eth_newPendingTransactionFilter`,
//! `eth_getFilterChanges`, `eth_getFilterLogs`, `eth_uninstallFilter`).
//!
//! Each filter holds its own receiver of the [`ChainEvents`] channels and turns the events into
//! changes when it is polled, so nothing runs between polls and the memory a filter can pin is
//! the channel's fixed capacity.
//!
//! Semantics (geth's):
//! - A log filter reports the matching logs of blocks committed after it was installed, and the
//!   matching logs of unwound blocks again with `removed: true`. Numeric `fromBlock`/`toBlock`
//!   bound the blocks it reports; tags do not. `eth_getFilterLogs` runs the filter's query like
//!   `eth_getLogs` (same limits).
//! - A block filter reports the hashes of blocks committed after it was installed (after an
//!   unwind: the new canonical blocks).
//! - A pending-transaction filter reports the hashes of transactions this node accepted since it
//!   was installed ([`ChainEvents::publish_pending`]).
//! - Ids are random 128-bit hex quantities. A filter not polled for `timeout` is removed.
//!
//! Refusals: too many filters, a poll with more than `max_logs` logs, or a poll that fell behind
//! the event channel (events lost) answer `-32005`; the filter stays installed and continues
//! from the current chain position, so the client can fill the gap with `eth_getLogs`.

use std::{
    collections::HashMap,
    hash::{BuildHasher, RandomState},
    sync::{
        Arc, Mutex, MutexGuard, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use alloy_primitives::{B256, U128};
use alloy_rpc_types_eth::{BlockNumberOrTag, Filter, FilterBlockOption, FilterChanges, Log};
use tokio::sync::broadcast::{self, error::TryRecvError};

use crate::{
    error::RpcError,
    events::{ChainEvent, ChainEvents},
};

/// What a filter watches.
enum Kind {
    Logs {
        filter: Box<Filter>,
        from: Option<u64>,
        to: Option<u64>,
        rx: broadcast::Receiver<Arc<ChainEvent>>,
    },
    Blocks {
        rx: broadcast::Receiver<Arc<ChainEvent>>,
    },
    PendingTransactions {
        rx: broadcast::Receiver<B256>,
    },
}

struct Installed {
    kind: Kind,
    last_poll: Instant,
}

/// Limits of the filter table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FilterLimits {
    /// Most filters installed at once (all clients together).
    pub(crate) max_filters: usize,
    /// A filter not polled for this long is removed.
    pub(crate) timeout: Duration,
    /// Most logs one poll may return.
    pub(crate) max_logs: usize,
}

/// The table of installed filters.
pub(crate) struct Filters {
    events: ChainEvents,
    limits: FilterLimits,
    table: Mutex<HashMap<u128, Installed>>,
    ids: RandomState,
    counter: AtomicU64,
}

impl std::fmt::Debug for Filters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filters").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl Filters {
    /// An empty table; when called inside a tokio runtime it also starts a task that removes
    /// expired filters (otherwise they are removed on the next filter call).
    pub(crate) fn new(events: ChainEvents, limits: FilterLimits) -> Arc<Self> {
        let this = Arc::new(Self {
            events,
            limits,
            table: Mutex::new(HashMap::new()),
            ids: RandomState::new(),
            counter: AtomicU64::new(0),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&this);
            let period = (limits.timeout / 4).max(Duration::from_millis(10));
            runtime.spawn(sweep_task(weak, period));
        }
        this
    }

    fn table(&self) -> MutexGuard<'_, HashMap<u128, Installed>> {
        // A panic while the lock was held cannot leave an entry half-updated in a way that
        // matters (entries are replaced whole), so poisoning is ignored.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sweep_locked(&self, table: &mut HashMap<u128, Installed>) {
        let timeout = self.limits.timeout;
        table.retain(|_, f| f.last_poll.elapsed() < timeout);
    }

    /// Removes expired filters; returns how many remain.
    pub(crate) fn sweep(&self) -> usize {
        let mut table = self.table();
        self.sweep_locked(&mut table);
        table.len()
    }

    fn next_id(&self) -> u128 {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let hi = self.ids.hash_one((n, 0u8));
        let lo = self.ids.hash_one((n, 1u8));
        (u128::from(hi) << 64) | u128::from(lo)
    }

    fn install(&self, kind: Kind) -> Result<U128, RpcError> {
        let mut table = self.table();
        self.sweep_locked(&mut table);
        if table.len() >= self.limits.max_filters {
            return Err(RpcError::TooManyFilters(self.limits.max_filters));
        }
        let mut id = self.next_id();
        while id == 0 || table.contains_key(&id) {
            id = self.next_id();
        }
        table.insert(id, Installed { kind, last_poll: Instant::now() });
        Ok(U128::from(id))
    }

    /// `eth_newFilter`.
    pub(crate) fn new_log_filter(&self, filter: Filter) -> Result<U128, RpcError> {
        let (from, to) = match filter.block_option {
            FilterBlockOption::AtBlockHash(_) => {
                return Err(RpcError::InvalidParams(
                    "eth_newFilter does not take blockHash; use eth_getLogs".into(),
                ));
            }
            FilterBlockOption::Range { from_block, to_block } => {
                let number = |b: Option<BlockNumberOrTag>| b.and_then(|b| b.as_number());
                (number(from_block), number(to_block))
            }
        };
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            return Err(RpcError::InvalidParams(
                "invalid block range: fromBlock is greater than toBlock".into(),
            ));
        }
        let rx = self.events.subscribe();
        self.install(Kind::Logs { filter: Box::new(filter), from, to, rx })
    }

    /// `eth_newBlockFilter`.
    pub(crate) fn new_block_filter(&self) -> Result<U128, RpcError> {
        let rx = self.events.subscribe();
        self.install(Kind::Blocks { rx })
    }

    /// `eth_newPendingTransactionFilter`.
    pub(crate) fn new_pending_transaction_filter(&self) -> Result<U128, RpcError> {
        let rx = self.events.subscribe_pending();
        self.install(Kind::PendingTransactions { rx })
    }

    /// `eth_uninstallFilter`: whether the filter existed.
    pub(crate) fn uninstall(&self, id: U128) -> bool {
        let mut table = self.table();
        self.sweep_locked(&mut table);
        table.remove(&id.to::<u128>()).is_some()
    }

    /// The query of log filter `id` (`eth_getFilterLogs`); refreshes its expiry.
    pub(crate) fn log_query(&self, id: U128) -> Result<Filter, RpcError> {
        let mut table = self.table();
        self.sweep_locked(&mut table);
        let installed = table.get_mut(&id.to::<u128>()).ok_or(RpcError::FilterNotFound)?;
        installed.last_poll = Instant::now();
        match &installed.kind {
            Kind::Logs { filter, .. } => Ok((**filter).clone()),
            _ => Err(RpcError::FilterNotFound),
        }
    }

    /// `eth_getFilterChanges`: everything since the previous poll.
    pub(crate) fn changes(&self, id: U128) -> Result<FilterChanges, RpcError> {
        let mut table = self.table();
        self.sweep_locked(&mut table);
        let installed = table.get_mut(&id.to::<u128>()).ok_or(RpcError::FilterNotFound)?;
        installed.last_poll = Instant::now();
        let max_logs = self.limits.max_logs;
        match &mut installed.kind {
            Kind::Logs { filter, from, to, rx } => {
                let mut logs = Vec::new();
                let mut lost = 0u64;
                let mut too_many = false;
                drain(rx, &mut lost, |event| {
                    for log in matching_logs(&event, filter, *from, *to) {
                        if logs.len() >= max_logs {
                            too_many = true;
                            return;
                        }
                        logs.push(log);
                    }
                });
                if lost > 0 {
                    return Err(RpcError::FilterLagged(lost));
                }
                if too_many {
                    return Err(RpcError::TooManyLogs(max_logs));
                }
                Ok(if logs.is_empty() { FilterChanges::Empty } else { FilterChanges::Logs(logs) })
            }
            Kind::Blocks { rx } => {
                let mut hashes = Vec::new();
                let mut lost = 0u64;
                drain(rx, &mut lost, |event| {
                    if let ChainEvent::Committed(blocks) = &*event {
                        hashes.extend(blocks.iter().map(|b| b.header.hash));
                    }
                });
                if lost > 0 {
                    return Err(RpcError::FilterLagged(lost));
                }
                Ok(hashes_or_empty(hashes))
            }
            Kind::PendingTransactions { rx } => {
                let mut hashes = Vec::new();
                let mut lost = 0u64;
                drain(rx, &mut lost, |hash| hashes.push(hash));
                if lost > 0 {
                    return Err(RpcError::FilterLagged(lost));
                }
                Ok(hashes_or_empty(hashes))
            }
        }
    }
}

fn hashes_or_empty(hashes: Vec<B256>) -> FilterChanges {
    if hashes.is_empty() { FilterChanges::Empty } else { FilterChanges::Hashes(hashes) }
}

/// Takes every queued item of `rx`, counting items lost to lag in `lost`.
fn drain<T: Clone>(rx: &mut broadcast::Receiver<T>, lost: &mut u64, mut each: impl FnMut(T)) {
    loop {
        match rx.try_recv() {
            Ok(item) => each(item),
            Err(TryRecvError::Lagged(n)) => *lost = lost.saturating_add(n),
            Err(TryRecvError::Empty | TryRecvError::Closed) => return,
        }
    }
}

/// The logs of `event` matching `filter` (address and topics) within the numeric block bounds:
/// committed blocks' logs as they are, unwound blocks' logs with `removed: true`.
pub(crate) fn matching_logs(
    event: &ChainEvent,
    filter: &Filter,
    from: Option<u64>,
    to: Option<u64>,
) -> Vec<Log> {
    let (blocks, removed) = match event {
        ChainEvent::Committed(blocks) => (blocks, false),
        ChainEvent::Unwound(blocks) => (blocks, true),
    };
    let mut out = Vec::new();
    for block in blocks {
        let number = block.header.header.number;
        if from.is_some_and(|f| number < f) || to.is_some_and(|t| number > t) {
            continue;
        }
        if !filter.matches_bloom(block.header.header.logs_bloom) {
            continue;
        }
        out.extend(
            block
                .logs
                .iter()
                .filter(|log| filter.matches(&log.inner))
                .map(|log| Log { removed, ..log.clone() }),
        );
    }
    out
}

async fn sweep_task(filters: Weak<Filters>, period: Duration) {
    loop {
        tokio::time::sleep(period).await;
        let Some(filters) = filters.upgrade() else { return };
        filters.sweep();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{backend::SealedHeader, events::ChainBlock};
    use alloy_primitives::{Address, Bloom, LogData};

    fn block(number: u64, address: Address) -> Arc<ChainBlock> {
        let inner = alloy_primitives::Log {
            address,
            data: LogData::new_unchecked(vec![B256::repeat_byte(7)], Default::default()),
        };
        let mut bloom = Bloom::default();
        bloom.accrue_log(&inner);
        let header = alloy_consensus::Header { number, logs_bloom: bloom, ..Default::default() };
        let hash = B256::with_last_byte(number as u8);
        let log =
            Log { inner, block_number: Some(number), block_hash: Some(hash), ..Default::default() };
        Arc::new(ChainBlock { header: SealedHeader { header, hash }, logs: vec![log] })
    }

    fn limits(max_filters: usize, timeout: Duration, max_logs: usize) -> FilterLimits {
        FilterLimits { max_filters, timeout, max_logs }
    }

    #[test]
    fn log_filter_reports_new_and_removed_logs_within_its_bounds() {
        let events = ChainEvents::new(8, 8);
        let filters = Filters::new(events.clone(), limits(10, Duration::from_secs(60), 100));
        let a = Address::repeat_byte(0xaa);
        let filter = Filter::new().address(a).from_block(2u64);
        let id = filters.new_log_filter(filter).unwrap();
        assert_eq!(filters.changes(id).unwrap(), FilterChanges::Empty);
        events.publish(ChainEvent::Committed(vec![
            block(1, a),
            block(2, a),
            block(3, Address::repeat_byte(0xbb)),
        ]));
        let FilterChanges::Logs(logs) = filters.changes(id).unwrap() else { panic!("logs") };
        assert_eq!(logs.len(), 1);
        assert_eq!((logs[0].block_number, logs[0].removed), (Some(2), false));
        events.publish(ChainEvent::Unwound(vec![block(2, a)]));
        let FilterChanges::Logs(logs) = filters.changes(id).unwrap() else { panic!("logs") };
        assert_eq!((logs[0].block_number, logs[0].removed), (Some(2), true));
        // Polled: nothing new.
        assert_eq!(filters.changes(id).unwrap(), FilterChanges::Empty);
        assert!(filters.uninstall(id));
        assert!(!filters.uninstall(id));
        assert!(matches!(filters.changes(id), Err(RpcError::FilterNotFound)));
    }

    #[test]
    fn limits_refuse_with_errors_and_the_filter_continues() {
        let events = ChainEvents::new(2, 2);
        let filters = Filters::new(events.clone(), limits(2, Duration::from_secs(60), 1));
        let a = Address::repeat_byte(0xaa);
        let logs = filters.new_log_filter(Filter::new()).unwrap();
        let blocks = filters.new_block_filter().unwrap();
        assert!(matches!(
            filters.new_pending_transaction_filter(),
            Err(RpcError::TooManyFilters(2))
        ));
        // Two logs in one poll with max_logs = 1.
        events.publish(ChainEvent::Committed(vec![block(1, a), block(2, a)]));
        assert!(matches!(filters.changes(logs), Err(RpcError::TooManyLogs(1))));
        assert_eq!(filters.changes(logs).unwrap(), FilterChanges::Empty);
        // Three events into a ring of two: the block filter lost one.
        for n in 3..6 {
            events.publish(ChainEvent::Committed(vec![block(n, a)]));
        }
        assert!(matches!(filters.changes(blocks), Err(RpcError::FilterLagged(_))));
        assert_eq!(filters.changes(blocks).unwrap(), FilterChanges::Empty);
        assert!(matches!(
            filters.new_log_filter(Filter::new().at_block_hash(B256::ZERO)),
            Err(RpcError::InvalidParams(_))
        ));
    }

    #[test]
    fn idle_filters_expire_and_polling_keeps_them() {
        let events = ChainEvents::new(8, 8);
        let filters = Filters::new(events.clone(), limits(10, Duration::from_millis(100), 10));
        let polled = filters.new_pending_transaction_filter().unwrap();
        let idle = filters.new_block_filter().unwrap();
        assert_ne!(polled, idle);
        events.publish_pending(B256::repeat_byte(9));
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(40));
            filters.changes(polled).unwrap();
        }
        assert!(matches!(filters.changes(idle), Err(RpcError::FilterNotFound)));
        assert_eq!(filters.sweep(), 1);
        assert!(matches!(filters.log_query(polled), Err(RpcError::FilterNotFound)));
    }
}
