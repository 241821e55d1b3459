//! The names, kinds, labels and help texts of every metric the `based` binary exports.
//!
//! Every `metrics::counter!/gauge!/histogram!` call in the workspace names one of these
//! constants, and [`ALL`] lists them all: the recorder describes them from it, and the Kurtosis
//! test checks the Grafana dashboard against it. Names follow the Prometheus conventions: the
//! `based_` prefix, the unit in the name (`_blocks`, `_seconds`, `_gas`), `_total` for counters.

/// What a metric is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (Prometheus counter; `rate()` gives a per-second value).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A distribution in buckets (Prometheus histogram: `_bucket`, `_sum`, `_count`).
    Histogram,
}

/// One exported metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    /// The Prometheus name.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: Kind,
    /// Its label names (each with a bounded set of values).
    pub labels: &'static [&'static str],
    /// Its help text (`# HELP`).
    pub help: &'static str,
}

/// Label naming the RPC server of a request: `node`, `proposer` or `gateway`.
pub const LABEL_SERVER: &str = "server";
/// Label naming an RPC method (a registered one, or [`OTHER_METHOD`]).
pub const LABEL_METHOD: &str = "method";
/// Label naming why something was skipped or refused.
pub const LABEL_REASON: &str = "reason";
/// The `method` label of requests for methods the server does not have (bounded cardinality).
pub const OTHER_METHOD: &str = "other";

// --- node: L1 and L2 heads -------------------------------------------------------------------

/// Gauge: the L1 head block number the node knows.
pub const L1_HEAD: &str = "based_l1_head_block";
/// Gauge: the highest L1 block fully processed (derived, imported, persisted).
pub const L1_PROCESSED: &str = "based_l1_processed_block";
/// Gauge: the L2 head (`latest`) block number.
pub const L2_HEAD: &str = "based_l2_head_block";
/// Gauge: the L2 `safe` block number.
pub const L2_SAFE: &str = "based_l2_safe_block";
/// Gauge: the L2 `finalized` block number.
pub const L2_FINALIZED: &str = "based_l2_finalized_block";
/// Gauge: L1 head minus L1 processed, in L1 blocks.
pub const DERIVATION_LAG: &str = "based_derivation_lag_blocks";

// --- node: import, reorgs, blobs, skips -------------------------------------------------------

/// Counter: L2 blocks imported.
pub const L2_BLOCKS_IMPORTED: &str = "based_l2_blocks_imported_total";
/// Counter: gas used by imported L2 blocks.
pub const L2_GAS_IMPORTED: &str = "based_l2_gas_imported_total";
/// Counter: transactions in imported L2 blocks.
pub const L2_TRANSACTIONS_IMPORTED: &str = "based_l2_transactions_imported_total";
/// Counter: L1 reorgs that unwound the node's processed L1 blocks.
pub const L1_REORGS: &str = "based_l1_reorgs_total";
/// Histogram: L2 blocks unwound per L1 reorg.
pub const L2_UNWIND_DEPTH: &str = "based_l2_unwind_depth_blocks";
/// Counter: blobs fetched and verified against their versioned hashes.
pub const BLOBS_FETCHED: &str = "based_blobs_fetched_total";
/// Counter: failed blob fetches of a proposal (every source tried; retried later).
pub const BLOB_FETCH_FAILURES: &str = "based_blob_fetch_failures_total";
/// Counter: proposals (batches) skipped by derivation, by `reason`.
pub const BATCHES_SKIPPED: &str = "based_batches_skipped_total";
/// Counter: transactions of derived batches skipped at execution, by `reason`.
pub const TRANSACTIONS_SKIPPED: &str = "based_transactions_skipped_total";

// --- JSON-RPC servers -------------------------------------------------------------------------

/// Counter: JSON-RPC calls, by `server` and `method` (batch entries included).
pub const RPC_REQUESTS: &str = "based_rpc_requests_total";
/// Histogram: JSON-RPC call latency in seconds, by `server` and `method` (single calls).
pub const RPC_REQUEST_DURATION: &str = "based_rpc_request_duration_seconds";

// --- proposer ---------------------------------------------------------------------------------

/// Counter: proposal transactions sent to the L1 Inbox.
pub const PROPOSALS_SENT: &str = "based_proposer_proposals_sent_total";
/// Counter: proposals included on L1 (successful receipt).
pub const PROPOSALS_INCLUDED: &str = "based_proposer_proposals_included_total";
/// Counter: proposals that failed (send error, revert or no receipt).
pub const PROPOSALS_FAILED: &str = "based_proposer_proposals_failed_total";
/// Counter: promised (gateway) transactions in included proposals.
pub const PROMISED_TXS_POSTED: &str = "based_proposer_promised_transactions_posted_total";
/// Histogram: seconds from a promised transaction's arrival at the proposer to the timestamp of
/// the L1 block its proposal landed in (what the gateway's promise lead must cover).
pub const PROMISE_POSTING_LATENCY: &str = "based_proposer_promise_posting_latency_seconds";

// --- gateway ----------------------------------------------------------------------------------

/// Counter: signed inclusion promises issued.
pub const COMMITMENTS_ISSUED: &str = "based_gateway_commitments_issued_total";
/// Counter: commitment requests refused, by `reason`.
pub const COMMITMENTS_REFUSED: &str = "based_gateway_commitments_refused_total";
/// Histogram: seconds from a request to its answer (promise signed and durable, or refusal).
pub const ADMISSION_DURATION: &str = "based_gateway_admission_duration_seconds";
/// Counter: `eth_sendRawTransaction`s the gateway had no slot to promise for, handed to the
/// proposer as ordinary transactions.
pub const GATEWAY_UNPROMISED_FORWARDED: &str = "based_gateway_unpromised_forwarded_total";

// --- watchtower -------------------------------------------------------------------------------

/// Counter: signed promises the watchtower started watching.
pub const WT_PROMISES_WATCHED: &str = "based_watchtower_promises_watched_total";
/// Counter: watched promises found kept on L2.
pub const WT_PROMISES_KEPT: &str = "based_watchtower_promises_kept_total";
/// Counter: watched promises found broken.
pub const WT_PROMISES_BROKEN: &str = "based_watchtower_promises_broken_total";
/// Counter: kept promises whose transaction was then skipped by execution (not slashable).
pub const WT_PROMISES_SKIPPED: &str = "based_watchtower_promises_skipped_total";
/// Counter: challenges the watchtower opened on L1.
pub const WT_CHALLENGES_OPENED: &str = "based_watchtower_challenges_opened_total";
/// Counter: challenges the watchtower defended (its committer's promise was kept).
pub const WT_CHALLENGES_DEFENDED: &str = "based_watchtower_challenges_defended_total";
/// Counter: slashes the watchtower executed on L1.
pub const WT_SLASHES: &str = "based_watchtower_slashes_total";
/// Counter: signed commitments the watchtower read from gateways' commitment feeds.
pub const WT_FEED_RECEIVED: &str = "based_watchtower_feed_commitments_received_total";
/// Counter: feed commitments skipped (malformed, bad signature, another slasher, store full).
pub const WT_FEED_SKIPPED: &str = "based_watchtower_feed_commitments_skipped_total";

const NONE: &[&str] = &[];
const REASON: &[&str] = &[LABEL_REASON];
const RPC: &[&str] = &[LABEL_SERVER, LABEL_METHOD];

const fn def(
    name: &'static str,
    kind: Kind,
    labels: &'static [&'static str],
    help: &'static str,
) -> MetricDef {
    MetricDef { name, kind, labels, help }
}

/// Every metric the binary exports.
pub const ALL: &[MetricDef] = &[
    def(L1_HEAD, Kind::Gauge, NONE, "L1 head block number known to the node"),
    def(L1_PROCESSED, Kind::Gauge, NONE, "Highest L1 block fully processed by the node"),
    def(L2_HEAD, Kind::Gauge, NONE, "L2 head (latest) block number"),
    def(L2_SAFE, Kind::Gauge, NONE, "L2 safe block number"),
    def(L2_FINALIZED, Kind::Gauge, NONE, "L2 finalized block number"),
    def(DERIVATION_LAG, Kind::Gauge, NONE, "L1 head minus L1 processed, in L1 blocks"),
    def(L2_BLOCKS_IMPORTED, Kind::Counter, NONE, "L2 blocks imported"),
    def(L2_GAS_IMPORTED, Kind::Counter, NONE, "Gas used by imported L2 blocks"),
    def(L2_TRANSACTIONS_IMPORTED, Kind::Counter, NONE, "Transactions in imported L2 blocks"),
    def(L1_REORGS, Kind::Counter, NONE, "L1 reorgs that reverted processed L1 blocks"),
    def(L2_UNWIND_DEPTH, Kind::Histogram, NONE, "L2 blocks unwound per L1 reorg"),
    def(BLOBS_FETCHED, Kind::Counter, NONE, "Blobs fetched and verified"),
    def(BLOB_FETCH_FAILURES, Kind::Counter, NONE, "Failed blob fetches (retried)"),
    def(BATCHES_SKIPPED, Kind::Counter, REASON, "Proposals skipped by derivation, by reason"),
    def(TRANSACTIONS_SKIPPED, Kind::Counter, REASON, "Batch transactions skipped, by reason"),
    def(RPC_REQUESTS, Kind::Counter, RPC, "JSON-RPC calls by server and method"),
    def(RPC_REQUEST_DURATION, Kind::Histogram, RPC, "JSON-RPC call latency in seconds"),
    def(PROPOSALS_SENT, Kind::Counter, NONE, "Proposal transactions sent to the L1 Inbox"),
    def(PROPOSALS_INCLUDED, Kind::Counter, NONE, "Proposals included on L1"),
    def(PROPOSALS_FAILED, Kind::Counter, NONE, "Proposals that failed"),
    def(PROMISED_TXS_POSTED, Kind::Counter, NONE, "Promised transactions in included proposals"),
    def(
        PROMISE_POSTING_LATENCY,
        Kind::Histogram,
        NONE,
        "Seconds from a promised transaction's arrival to its proposal's L1 block",
    ),
    def(COMMITMENTS_ISSUED, Kind::Counter, NONE, "Signed inclusion promises issued"),
    def(COMMITMENTS_REFUSED, Kind::Counter, REASON, "Commitment requests refused, by reason"),
    def(
        GATEWAY_UNPROMISED_FORWARDED,
        Kind::Counter,
        NONE,
        "Transactions without a slot to promise for, handed to the proposer unpromised",
    ),
    def(
        ADMISSION_DURATION,
        Kind::Histogram,
        NONE,
        "Seconds from a commitment request to its answer",
    ),
    def(WT_PROMISES_WATCHED, Kind::Counter, NONE, "Signed promises watched"),
    def(WT_PROMISES_KEPT, Kind::Counter, NONE, "Watched promises kept"),
    def(
        WT_PROMISES_SKIPPED,
        Kind::Counter,
        NONE,
        "Kept promises whose transaction was skipped by execution (not slashable)",
    ),
    def(WT_PROMISES_BROKEN, Kind::Counter, NONE, "Watched promises broken"),
    def(WT_CHALLENGES_OPENED, Kind::Counter, NONE, "Challenges opened on L1"),
    def(WT_CHALLENGES_DEFENDED, Kind::Counter, NONE, "Challenges defended on L1"),
    def(WT_SLASHES, Kind::Counter, NONE, "Slashes executed on L1"),
    def(WT_FEED_RECEIVED, Kind::Counter, NONE, "Commitments read from gateways' feeds"),
    def(WT_FEED_SKIPPED, Kind::Counter, NONE, "Feed commitments skipped as unwatchable"),
];

/// The metric called `name`, if the binary exports it. The `_bucket`, `_sum` and `_count` series
/// of a histogram resolve to the histogram.
pub fn lookup(name: &str) -> Option<&'static MetricDef> {
    let exact = ALL.iter().find(|m| m.name == name);
    exact.or_else(|| {
        ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
            let base = name.strip_suffix(suffix)?;
            ALL.iter().find(|m| m.name == base && m.kind == Kind::Histogram)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_prefixed_and_conventional() {
        let mut seen = std::collections::HashSet::new();
        for m in ALL {
            assert!(seen.insert(m.name), "{} twice", m.name);
            assert!(m.name.starts_with("based_"), "{}", m.name);
            assert!(
                m.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{}",
                m.name
            );
            assert_eq!(m.kind == Kind::Counter, m.name.ends_with("_total"), "{}", m.name);
            assert!(!m.help.is_empty());
        }
    }

    #[test]
    fn histogram_series_resolve_to_their_histogram() {
        assert_eq!(
            lookup("based_rpc_request_duration_seconds_bucket").map(|m| m.name),
            Some(RPC_REQUEST_DURATION)
        );
        assert_eq!(lookup(L2_HEAD).map(|m| m.kind), Some(Kind::Gauge));
        assert!(lookup("based_l2_head_block_bucket").is_none(), "a gauge has no buckets");
        assert!(lookup("based_nonexistent_total").is_none());
    }
}
