//! The durable, append-only commitment log with group commit.
//!
//! # File format
//!
//! ```text
//! file   = MAGIC ("BGWCLOG1", 8 bytes) batch*
//! batch  = body_len: u32 LE | crc: u32 LE = crc32(body_len LE ‖ body) | body
//! body   = (record_len: u32 LE | record)+
//! record = version: u8 (= 1)
//!        | conflict_value: 32 bytes
//!        | key_len: u16 LE | conflict_key: key_len bytes
//!        | signature: 65 bytes (r ‖ s ‖ v, v = 27/28)
//!        | commitment: abi.encode(commitment) (rest of the record)
//! ```
//!
//! One batch is written per group commit. The single writer writes batch `n + 1` only after the
//! `fdatasync` of batch `n` returned, so after a crash only the **last** batch can be damaged, and
//! none of its records was acknowledged. Recovery therefore truncates a bad or incomplete last
//! batch (logging a warning), and refuses to start ([`LogError::Corrupt`]) when a bad batch is
//! followed by a valid one or by more bytes than one batch can hold (damage to acknowledged data),
//! or when a batch with a valid checksum does not decode or contradicts an earlier one.
//!
//! Limitation: damage confined to the last batch *after* it was acknowledged (media corruption, not
//! a crash) cannot be told apart from a torn write, and is truncated with a warning too.
//!
//! # Concurrency
//!
//! Callers send entries to one writer thread through a channel. The writer drains what is pending
//! (up to [`MAX_BATCH_ENTRIES`] entries and 8 MiB of records per batch), checks each entry against the index (duplicate `request_hash` → the stored commitment;
//! conflict key with another value → [`LogError::Conflict`]), reserves the keys of the new entries,
//! writes them as one batch, calls `File::sync_data` once, and only then answers each caller. The
//! check, the reservation and the position in the log are decided by that one thread, so two
//! concurrent conflicting requests cannot both win. If a write or sync fails, the log stops accepting
//! entries ([`LogError::Failed`]): after a failed `fsync` the file's state is unknown, and only a
//! restart (replay) can tell what is durable.

use std::{
    collections::{HashMap, VecDeque},
    fs::{File, OpenOptions},
    io::{Read, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
        mpsc,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use alloy_primitives::{B256, Bytes};
use based_commitments::{Commitment, CommitmentError, SignedCommitment};
use tokio::sync::oneshot;
use tracing::{error, info, warn};

/// First bytes of a log file.
pub const MAGIC: &[u8; 8] = b"BGWCLOG1";
/// Most bytes of commitments (payloads plus a fixed overhead each) one [`CommitmentLog::since`]
/// answer holds beyond its first commitment, so a feed page stays well under the JSON-RPC
/// server's response limit (hex doubles it).
pub const FEED_MAX_BYTES: usize = 2 * 1024 * 1024;
/// Largest record accepted (conflict key, signature and ABI-encoded commitment together).
pub const MAX_RECORD_LEN: usize = 256 * 1024;
/// Most entries written in one group commit.
pub const MAX_BATCH_ENTRIES: usize = 4096;

const RECORD_VERSION: u8 = 1;
const BATCH_HEADER_LEN: usize = 8;
/// version + value + key length + signature.
const RECORD_FIXED_LEN: usize = 1 + 32 + 2 + 65;
/// Largest batch body: a full batch of maximal records.
/// Largest batch body. The writer starts a new batch rather than exceed it; recovery relies on it to
/// bound the torn tail (anything longer after a bad batch is damage, not a torn write).
const MAX_BATCH_LEN: usize = 8 * 1024 * 1024;

/// One promise recorded in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Key of the promise: at most one `conflict_value` is ever promised per key (for inclusion:
    /// `InclusionTx::conflict_key`, i.e. slot, sender and nonce). At most 65535 bytes.
    pub conflict_key: Bytes,
    /// What is promised for the key (for inclusion: the transaction hash). Another entry with the
    /// same key and value (e.g. the same transaction with another slasher) is accepted.
    pub conflict_value: B256,
    /// The signed commitment; `signed.commitment.request_hash` is the idempotency key.
    pub signed: SignedCommitment,
}

impl LogEntry {
    /// The idempotency key: the hash of the request the commitment answers.
    pub fn request_hash(&self) -> B256 {
        self.signed.commitment.request_hash
    }
}

/// Result of a successful [`CommitmentLog::append`]; in both cases the commitment is durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendOutcome {
    /// The entry was new and is now durable: its signature may be released.
    Appended(SignedCommitment),
    /// A commitment for the same `request_hash` was already logged: release this one (the stored
    /// signature), never the newly produced one.
    Existing(SignedCommitment),
}

impl AppendOutcome {
    /// The durable signed commitment to answer with.
    pub fn signed(&self) -> &SignedCommitment {
        match self {
            Self::Appended(signed) | Self::Existing(signed) => signed,
        }
    }

    /// Consumes the outcome into the durable signed commitment.
    pub fn into_signed(self) -> SignedCommitment {
        match self {
            Self::Appended(signed) | Self::Existing(signed) => signed,
        }
    }
}

/// What [`CommitmentLog::open`] recovered from an existing file.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Every logged entry, in log order.
    pub entries: Vec<LogEntry>,
    /// Bytes of a torn last batch that were truncated away (0 if the file was clean).
    pub truncated_bytes: u64,
}

/// Errors of the commitment log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// An I/O operation failed.
    #[error("commitment log {op}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the log's lock.
    #[error("commitment log {0} is locked by another process")]
    Locked(PathBuf),
    /// A different promise was already made for the entry's conflict key.
    #[error("conflicts with the commitment for request {existing_request_hash} (key {key})")]
    Conflict {
        /// The conflict key.
        key: Bytes,
        /// The value already promised for the key.
        existing_value: B256,
        /// Request hash of the commitment already made for the key.
        existing_request_hash: B256,
    },
    /// The file is damaged somewhere other than its last batch, or holds undecodable or
    /// contradictory records: refusing to start rather than forget a signed promise.
    #[error("commitment log corrupt at byte {offset}: {reason}")]
    Corrupt {
        /// Byte offset of the damage.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The entry cannot be logged (too large a record or conflict key).
    #[error("entry too large: {0}")]
    TooLarge(String),
    /// An earlier write or sync failed; the log accepts nothing more until restarted.
    #[error("commitment log failed earlier and accepts no more entries; restart to recover")]
    Failed,
    /// The log's writer has stopped.
    #[error("commitment log closed")]
    Closed,
}

fn io(op: &'static str) -> impl FnOnce(std::io::Error) -> LogError {
    move |source| LogError::Io { op, source }
}

/// A durable commitment log with group commit; see the [module docs](self).
///
/// Share it between tasks behind an `Arc`. Dropping it stops the writer after the entries already
/// queued are written and answered.
#[derive(Debug)]
pub struct CommitmentLog {
    tx: Option<mpsc::Sender<Request>>,
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Request {
    entry: LogEntry,
    reply: oneshot::Sender<Result<AppendOutcome, LogError>>,
}

#[derive(Debug)]
struct Shared {
    index: Mutex<Index>,
    batches: AtomicU64,
    written: AtomicU64,
    /// Histogram of batch `write` + `fdatasync` durations, [`SYNC_BUCKET_MICROS`]-wide buckets, the
    /// last one open.
    sync_histogram: Box<[AtomicU64]>,
}

/// Width of a bucket of the write + `fdatasync` latency histogram
/// ([`CommitmentLog::sync_latency`]).
pub const SYNC_BUCKET_MICROS: u64 = 100;
const SYNC_BUCKETS: usize = 1000;

/// Counters of the writer since the log was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogStats {
    /// Group commits (one write and one `fdatasync` each).
    pub batches: u64,
    /// New entries made durable.
    pub entries: u64,
}

impl Shared {
    fn index(&self) -> MutexGuard<'_, Index> {
        // The index holds no invariant a panicking holder could break halfway (the writer never
        // panics); recover from poisoning rather than propagate it.
        self.index.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[derive(Debug, Default)]
struct Index {
    by_request: HashMap<B256, Stored>,
    by_key: HashMap<Bytes, (B256, B256)>,
    durable: usize,
    failed: bool,
    /// Request hashes of the durable entries in log order: the feed's sequence numbers
    /// ([`CommitmentLog::since`]) are positions in it.
    order: Vec<B256>,
}

#[derive(Debug)]
struct Stored {
    signed: SignedCommitment,
    durable: bool,
}

enum Check {
    New,
    Existing(SignedCommitment),
    ExistingPending(SignedCommitment),
    Conflict(LogError),
}

impl Index {
    fn check(&self, entry: &LogEntry) -> Check {
        if let Some(stored) = self.by_request.get(&entry.request_hash()) {
            return if stored.durable {
                Check::Existing(stored.signed.clone())
            } else {
                Check::ExistingPending(stored.signed.clone())
            };
        }
        match self.by_key.get(&entry.conflict_key) {
            Some((value, request_hash)) if *value != entry.conflict_value => {
                Check::Conflict(LogError::Conflict {
                    key: entry.conflict_key.clone(),
                    existing_value: *value,
                    existing_request_hash: *request_hash,
                })
            }
            _ => Check::New,
        }
    }

    fn insert(&mut self, entry: &LogEntry, durable: bool) {
        let request_hash = entry.request_hash();
        self.by_key
            .entry(entry.conflict_key.clone())
            .or_insert((entry.conflict_value, request_hash));
        self.by_request.insert(request_hash, Stored { signed: entry.signed.clone(), durable });
        if durable {
            self.durable = self.durable.saturating_add(1);
            self.order.push(request_hash);
        }
    }

    /// Removes a reserved (pending) entry after a failed write.
    fn remove_pending(&mut self, entry: &LogEntry) {
        let request_hash = entry.request_hash();
        if self.by_request.get(&request_hash).is_some_and(|stored| !stored.durable) {
            self.by_request.remove(&request_hash);
        }
        if self.by_key.get(&entry.conflict_key).is_some_and(|(_, hash)| *hash == request_hash) {
            self.by_key.remove(&entry.conflict_key);
        }
    }

    fn mark_durable(&mut self, request_hash: &B256) {
        if let Some(stored) = self.by_request.get_mut(request_hash)
            && !stored.durable
        {
            stored.durable = true;
            self.durable = self.durable.saturating_add(1);
            self.order.push(*request_hash);
        }
    }
}

impl CommitmentLog {
    /// Opens (or creates) the log at `path`, replays it and starts the writer.
    ///
    /// Takes an exclusive lock on the file, so two gateways cannot share one log. A torn last
    /// batch is truncated (and reported in [`Recovered::truncated_bytes`]); any other damage is
    /// [`LogError::Corrupt`].
    pub fn open(path: impl AsRef<Path>) -> Result<(Self, Recovered), LogError> {
        let path = path.as_ref();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io("open"))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(LogError::Locked(path.into())),
            Err(std::fs::TryLockError::Error(err)) => return Err(io("lock")(err)),
        }
        let mut data = Vec::new();
        file.read_to_end(&mut data).map_err(io("read"))?;

        let recovered = if data.len() < MAGIC.len() && MAGIC.starts_with(&data) {
            // New file, or a crash while creating it: nothing was ever acknowledged.
            file.set_len(0).map_err(io("truncate"))?;
            file.seek(SeekFrom::Start(0)).map_err(io("seek"))?;
            file.write_all(MAGIC).map_err(io("write"))?;
            file.sync_data().map_err(io("sync"))?;
            sync_parent_dir(path)?;
            Recovered::default()
        } else {
            let scan = scan(&data)?;
            let valid_len =
                u64::try_from(scan.valid_len).map_err(|_| corrupt(0, "file too large"))?;
            let total_len = u64::try_from(data.len()).map_err(|_| corrupt(0, "file too large"))?;
            let truncated_bytes = total_len.saturating_sub(valid_len);
            if truncated_bytes > 0 {
                warn!(
                    target: "gateway::log",
                    path = %path.display(),
                    offset = valid_len,
                    truncated_bytes,
                    reason = scan.torn_reason.unwrap_or("incomplete"),
                    "truncating the torn last batch of the commitment log (never acknowledged)"
                );
                file.set_len(valid_len).map_err(io("truncate"))?;
                file.sync_data().map_err(io("sync"))?;
            }
            Recovered { entries: scan.entries, truncated_bytes }
        };
        file.seek(SeekFrom::End(0)).map_err(io("seek"))?;

        let mut index = Index::default();
        for entry in &recovered.entries {
            match index.check(entry) {
                Check::New => index.insert(entry, true),
                Check::Existing(_) | Check::ExistingPending(_) => {
                    return Err(corrupt(0, "duplicate request_hash in the log"));
                }
                Check::Conflict(err) => {
                    return Err(corrupt(0, &format!("the log holds conflicting promises: {err}")));
                }
            }
        }
        info!(
            target: "gateway::log",
            path = %path.display(),
            entries = recovered.entries.len(),
            "commitment log opened"
        );

        let shared = Arc::new(Shared {
            index: Mutex::new(index),
            batches: AtomicU64::new(0),
            written: AtomicU64::new(0),
            sync_histogram: (0..SYNC_BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        });
        let (tx, rx) = mpsc::channel();
        let writer_shared = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("commitment-log".into())
            .spawn(move || writer_loop(file, rx, &writer_shared))
            .map_err(io("spawn writer"))?;
        Ok((Self { tx: Some(tx), shared, writer: Some(writer) }, recovered))
    }

    /// Appends `entry` and waits until it is durable (or refused).
    ///
    /// The signature inside `entry` must have been produced before this call and must not be
    /// released unless this returns [`AppendOutcome::Appended`]; on
    /// [`AppendOutcome::Existing`] release the stored commitment instead.
    ///
    /// If the future is dropped before it completes, the entry may still be logged; a retry with
    /// the same request then returns it as [`AppendOutcome::Existing`].
    pub async fn append(&self, entry: LogEntry) -> Result<AppendOutcome, LogError> {
        let rx = self.submit(entry)?;
        rx.await.map_err(|_| LogError::Closed)?
    }

    /// Blocking form of [`Self::append`]. Must not be called from within a tokio runtime (tokio
    /// panics on a blocking receive there); use [`Self::append`] instead.
    pub fn append_blocking(&self, entry: LogEntry) -> Result<AppendOutcome, LogError> {
        let rx = self.submit(entry)?;
        rx.blocking_recv().map_err(|_| LogError::Closed)?
    }

    fn submit(
        &self,
        entry: LogEntry,
    ) -> Result<oneshot::Receiver<Result<AppendOutcome, LogError>>, LogError> {
        let (reply, rx) = oneshot::channel();
        let tx = self.tx.as_ref().ok_or(LogError::Closed)?;
        tx.send(Request { entry, reply }).map_err(|_| LogError::Closed)?;
        Ok(rx)
    }

    /// The durable signed commitment for `request_hash`, if any (spec: `getCommitmentResult`).
    pub fn get(&self, request_hash: &B256) -> Option<SignedCommitment> {
        self.shared
            .index()
            .by_request
            .get(request_hash)
            .filter(|stored| stored.durable)
            .map(|stored| stored.signed.clone())
    }

    /// The durable signed commitments from sequence number `from` on (the position in the log,
    /// from 0, in the order they became durable, which is the file's order and survives a
    /// restart), at most `limit` of them and, beyond the first, at most [`FEED_MAX_BYTES`] of
    /// ABI-encoded commitments; and the sequence number to ask for next (`from` plus the count,
    /// or the log's length when `from` is beyond it).
    pub fn since(&self, from: u64, limit: usize) -> (Vec<SignedCommitment>, u64) {
        let index = self.shared.index();
        let len = index.order.len();
        let start = usize::try_from(from).unwrap_or(usize::MAX).min(len);
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for hash in index.order.iter().skip(start).take(limit) {
            let Some(stored) = index.by_request.get(hash) else { break };
            let size = stored.signed.commitment.payload.len().saturating_add(RECORD_FIXED_LEN);
            if !out.is_empty() && bytes.saturating_add(size) > FEED_MAX_BYTES {
                break;
            }
            bytes = bytes.saturating_add(size);
            out.push(stored.signed.clone());
        }
        let next = start.saturating_add(out.len());
        (out, u64::try_from(next).unwrap_or(u64::MAX))
    }

    /// Number of durable entries.
    pub fn len(&self) -> usize {
        self.shared.index().durable
    }

    /// Writer counters: group commits and entries written since open.
    pub fn stats(&self) -> LogStats {
        LogStats {
            batches: self.shared.batches.load(Ordering::Relaxed),
            entries: self.shared.written.load(Ordering::Relaxed),
        }
    }

    /// Upper bound (to [`SYNC_BUCKET_MICROS`]) of the `permille`-th per-mille quantile of the time
    /// the writer spent writing and `fdatasync`ing a batch, since open (e.g. 990 = p99); `None`
    /// before the first batch.
    /// Syncs of 100 ms or more all count as 100 ms.
    pub fn sync_latency(&self, permille: u64) -> Option<Duration> {
        let counts: Vec<u64> =
            self.shared.sync_histogram.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let total = counts.iter().fold(0u64, |sum, c| sum.saturating_add(*c));
        if total == 0 {
            return None;
        }
        // Rank of the quantile, rounded up, at least 1.
        let rank = total.saturating_mul(permille.min(1000)).div_ceil(1000).max(1);
        let mut seen = 0u64;
        for (bucket, count) in (1u64..).zip(&counts) {
            seen = seen.saturating_add(*count);
            if seen >= rank {
                return Some(Duration::from_micros(bucket.saturating_mul(SYNC_BUCKET_MICROS)));
            }
        }
        None
    }

    /// Whether the log holds no durable entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for CommitmentLog {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            error!(target: "gateway::log", "commitment log writer panicked");
        }
    }
}

fn sync_parent_dir(path: &Path) -> Result<(), LogError> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(parent).and_then(|dir| dir.sync_all()).map_err(io("sync directory"))
}

fn writer_loop(mut file: File, rx: mpsc::Receiver<Request>, shared: &Shared) {
    let mut buf = Vec::new();
    let mut queue = VecDeque::new();
    loop {
        if queue.is_empty() {
            match rx.recv() {
                Ok(request) => queue.push_back(request),
                Err(_) => break,
            }
        }
        while queue.len() < MAX_BATCH_ENTRIES {
            match rx.try_recv() {
                Ok(request) => queue.push_back(request),
                Err(_) => break,
            }
        }
        commit_batch(&mut file, &mut queue, shared, &mut buf);
    }
}

/// Answer owed to a caller once the batch is durable.
enum Owed {
    Appended(LogEntry),
    Existing(SignedCommitment),
}

/// Takes up to [`MAX_BATCH_ENTRIES`] requests (and at most [`MAX_BATCH_LEN`] bytes of records) from
/// the front of `queue`, writes them as one batch and answers them; the rest stays queued.
fn commit_batch(
    file: &mut File,
    queue: &mut VecDeque<Request>,
    shared: &Shared,
    buf: &mut Vec<u8>,
) {
    buf.clear();
    buf.extend_from_slice(&[0u8; BATCH_HEADER_LEN]);
    let mut owed = Vec::new();
    let mut new_entries = 0usize;
    {
        let mut index = shared.index();
        for _ in 0..MAX_BATCH_ENTRIES {
            let Some(Request { entry, reply }) = queue.pop_front() else { break };
            if index.failed {
                let _ = reply.send(Err(LogError::Failed));
                continue;
            }
            match index.check(&entry) {
                Check::Existing(signed) => {
                    let _ = reply.send(Ok(AppendOutcome::Existing(signed)));
                }
                Check::Conflict(err) => {
                    let _ = reply.send(Err(err));
                }
                Check::ExistingPending(signed) => owed.push((reply, Owed::Existing(signed))),
                Check::New => match encode_record(&entry, buf) {
                    Ok(())
                        if new_entries > 0
                            && buf.len() > BATCH_HEADER_LEN.saturating_add(MAX_BATCH_LEN) =>
                    {
                        // Full: this entry opens the next batch.
                        buf.truncate(buf.len().saturating_sub(record_size(&entry)));
                        queue.push_front(Request { entry, reply });
                        break;
                    }
                    Ok(()) => {
                        index.insert(&entry, false);
                        new_entries = new_entries.saturating_add(1);
                        owed.push((reply, Owed::Appended(entry)));
                    }
                    Err(err) => {
                        let _ = reply.send(Err(err));
                    }
                },
            }
        }
    }
    if owed.is_empty() {
        return;
    }
    let written = if new_entries == 0 { Ok(()) } else { write_batch(file, buf, shared) };
    if new_entries > 0 && written.is_ok() {
        shared.batches.fetch_add(1, Ordering::Relaxed);
        shared.written.fetch_add(new_entries as u64, Ordering::Relaxed);
    }
    let mut index = shared.index();
    match written {
        Ok(()) => {
            for (reply, owed) in owed {
                let outcome = match owed {
                    Owed::Appended(entry) => {
                        index.mark_durable(&entry.request_hash());
                        AppendOutcome::Appended(entry.signed)
                    }
                    Owed::Existing(signed) => AppendOutcome::Existing(signed),
                };
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(err) => {
            error!(target: "gateway::log", %err, "commitment log write failed; refusing further entries");
            index.failed = true;
            for (reply, owed) in owed {
                if let Owed::Appended(entry) = &owed {
                    index.remove_pending(entry);
                }
                let _ = reply.send(Err(LogError::Failed));
            }
        }
    }
}

/// Fills in the batch header of `buf` (body after the header), writes and syncs it.
fn write_batch(file: &mut File, buf: &mut [u8], shared: &Shared) -> Result<(), LogError> {
    let body_len = buf.len().saturating_sub(BATCH_HEADER_LEN);
    let body_len = u32::try_from(body_len).map_err(|_| LogError::TooLarge("batch".into()))?;
    let (header, body) = buf.split_at_mut(BATCH_HEADER_LEN);
    let crc = batch_crc(body_len, body);
    let (len_bytes, crc_bytes) = header.split_at_mut(4);
    len_bytes.copy_from_slice(&body_len.to_le_bytes());
    crc_bytes.copy_from_slice(&crc.to_le_bytes());
    let started = Instant::now();
    file.write_all(buf).map_err(io("write"))?;
    file.sync_data().map_err(io("sync"))?;
    let bucket =
        started.elapsed().as_micros().checked_div(u128::from(SYNC_BUCKET_MICROS)).unwrap_or(0);
    let bucket = usize::try_from(bucket).unwrap_or(usize::MAX).min(SYNC_BUCKETS.saturating_sub(1));
    if let Some(count) = shared.sync_histogram.get(bucket) {
        count.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

fn batch_crc(body_len: u32, body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&body_len.to_le_bytes());
    hasher.update(body);
    hasher.finalize()
}

/// Bytes `encode_record` appends for `entry` (when it succeeds).
fn record_size(entry: &LogEntry) -> usize {
    let commitment = entry.signed.commitment.abi_encode().len();
    4usize
        .saturating_add(RECORD_FIXED_LEN)
        .saturating_add(entry.conflict_key.len())
        .saturating_add(commitment)
}

/// Appends `record_len | record` for `entry` to `buf`; leaves `buf` unchanged on error.
fn encode_record(entry: &LogEntry, buf: &mut Vec<u8>) -> Result<(), LogError> {
    let key_len = u16::try_from(entry.conflict_key.len())
        .map_err(|_| LogError::TooLarge("conflict key longer than 65535 bytes".into()))?;
    let commitment = entry.signed.commitment.abi_encode();
    let record_len = RECORD_FIXED_LEN
        .checked_add(entry.conflict_key.len())
        .and_then(|len| len.checked_add(commitment.len()))
        .filter(|len| *len <= MAX_RECORD_LEN)
        .ok_or_else(|| LogError::TooLarge(format!("record longer than {MAX_RECORD_LEN} bytes")))?;
    let record_len =
        u32::try_from(record_len).map_err(|_| LogError::TooLarge("record length".into()))?;
    buf.extend_from_slice(&record_len.to_le_bytes());
    buf.push(RECORD_VERSION);
    buf.extend_from_slice(entry.conflict_value.as_slice());
    buf.extend_from_slice(&key_len.to_le_bytes());
    buf.extend_from_slice(&entry.conflict_key);
    buf.extend_from_slice(&entry.signed.signature_bytes());
    buf.extend_from_slice(&commitment);
    Ok(())
}

fn corrupt(offset: usize, reason: &str) -> LogError {
    LogError::Corrupt { offset: offset as u64, reason: reason.to_owned() }
}

/// A cursor over a byte slice that never panics.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.data.len() {
            return None;
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N).and_then(|bytes| bytes.try_into().ok())
    }
}

/// A batch at `offset` with a plausible length and a matching checksum: its body and end offset.
fn read_batch(data: &[u8], offset: usize) -> Option<(&[u8], usize)> {
    let mut reader = Reader { data: data.get(offset..)? };
    let body_len = u32::from_le_bytes(reader.array()?);
    let crc = u32::from_le_bytes(reader.array()?);
    let len = usize::try_from(body_len).ok()?;
    // An empty or oversized body is never written; refusing them also keeps zero-filled space
    // (crc32 of eight zero bytes is not zero, but a zero length is refused first) from parsing.
    if len < RECORD_FIXED_LEN.saturating_add(4) || len > MAX_BATCH_LEN {
        return None;
    }
    let body = reader.take(len)?;
    if batch_crc(body_len, body) != crc {
        return None;
    }
    let end = offset.checked_add(BATCH_HEADER_LEN)?.checked_add(len)?;
    Some((body, end))
}

struct Scan {
    entries: Vec<LogEntry>,
    valid_len: usize,
    torn_reason: Option<&'static str>,
}

/// Parses a whole log file.
fn scan(data: &[u8]) -> Result<Scan, LogError> {
    if data.get(..MAGIC.len()) != Some(MAGIC.as_slice()) {
        return Err(corrupt(0, "not a commitment log (bad magic)"));
    }
    let mut entries = Vec::new();
    let mut offset = MAGIC.len();
    while offset < data.len() {
        let Some((body, end)) = read_batch(data, offset) else {
            // Bad or incomplete batch: fine only if it is the last one. A torn last batch is at
            // most one batch long, and no valid batch starts anywhere after it (its length field
            // may itself be damaged, so search every offset).
            let tail = data.len().saturating_sub(offset);
            if tail > BATCH_HEADER_LEN.saturating_add(MAX_BATCH_LEN) {
                return Err(corrupt(
                    offset,
                    &format!("damaged batch followed by {tail} bytes, more than one batch"),
                ));
            }
            let next_valid = (offset.saturating_add(1)..data.len())
                .find(|candidate| read_batch(data, *candidate).is_some());
            if let Some(next) = next_valid {
                return Err(corrupt(
                    offset,
                    &format!("damaged batch followed by a valid batch at byte {next}"),
                ));
            }
            let reason = if data.len().saturating_sub(offset) < BATCH_HEADER_LEN {
                "incomplete batch header"
            } else {
                "incomplete batch or checksum mismatch"
            };
            return Ok(Scan { entries, valid_len: offset, torn_reason: Some(reason) });
        };
        decode_batch(body, offset, &mut entries)?;
        offset = end;
    }
    Ok(Scan { entries, valid_len: offset, torn_reason: None })
}

fn decode_batch(body: &[u8], offset: usize, entries: &mut Vec<LogEntry>) -> Result<(), LogError> {
    let mut reader = Reader { data: body };
    while !reader.data.is_empty() {
        let record = reader
            .array::<4>()
            .and_then(|len| usize::try_from(u32::from_le_bytes(len)).ok())
            .and_then(|len| reader.take(len))
            .ok_or_else(|| corrupt(offset, "record overruns its batch"))?;
        let entry = decode_record(record).map_err(|reason| corrupt(offset, &reason))?;
        entries.push(entry);
    }
    Ok(())
}

fn decode_record(record: &[u8]) -> Result<LogEntry, String> {
    let mut reader = Reader { data: record };
    let short = || "record too short".to_owned();
    let [version] = reader.array::<1>().ok_or_else(short)?;
    if version != RECORD_VERSION {
        return Err(format!("unknown record version {version}"));
    }
    let conflict_value = B256::from(reader.array::<32>().ok_or_else(short)?);
    let key_len = u16::from_le_bytes(reader.array::<2>().ok_or_else(short)?);
    let conflict_key = Bytes::copy_from_slice(reader.take(usize::from(key_len)).ok_or_else(short)?);
    let signature = reader.array::<65>().ok_or_else(short)?;
    let commitment = Commitment::abi_decode(reader.data)
        .map_err(|err: CommitmentError| format!("bad commitment: {err}"))?;
    let signed = SignedCommitment::from_parts(commitment, &signature)
        .map_err(|err| format!("bad signature: {err}"))?;
    Ok(LogEntry { conflict_key, conflict_value, signed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::Address;
    use alloy_signer_local::PrivateKeySigner;
    use based_commitments::{CommitmentRequest, InclusionPayload};
    use std::sync::LazyLock;

    static SIGNER: LazyLock<PrivateKeySigner> =
        LazyLock::new(|| PrivateKeySigner::from_bytes(&B256::repeat_byte(0x42)).unwrap());

    /// An entry for `key` promising `value`, with a request made unique by `salt`.
    fn entry(key: u64, value: u8, salt: u64) -> LogEntry {
        let request: CommitmentRequest =
            InclusionPayload { slot: salt, signed_tx: Bytes::from(vec![value; 40]) }
                .into_request(Address::repeat_byte(0x5a));
        let signed = Commitment::for_request(&request).sign(&*SIGNER).unwrap();
        LogEntry {
            conflict_key: Bytes::copy_from_slice(&key.to_be_bytes()),
            conflict_value: B256::repeat_byte(value),
            signed,
        }
    }

    fn dir() -> tempfile::TempDir {
        // Same disk as the repository (not tmpfs), so syncs are real.
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tmp");
        std::fs::create_dir_all(&base).unwrap();
        tempfile::tempdir_in(base).unwrap()
    }

    #[test]
    fn append_reopen_and_idempotence() {
        let dir = dir();
        let path = dir.path().join("log");
        let entries: Vec<_> = (0..20).map(|i| entry(i, 1, i)).collect();
        {
            let (log, recovered) = CommitmentLog::open(&path).unwrap();
            assert!(recovered.entries.is_empty());
            for e in &entries {
                let outcome = log.append_blocking(e.clone()).unwrap();
                assert_eq!(outcome, AppendOutcome::Appended(e.signed.clone()));
            }
            // Same request again (even with another signature object) → the stored one.
            let again = log.append_blocking(entries[3].clone()).unwrap();
            assert_eq!(again, AppendOutcome::Existing(entries[3].signed.clone()));
            assert_eq!(log.len(), 20);
            // One group commit per blocking append; the duplicate wrote nothing.
            assert_eq!(log.stats(), LogStats { batches: 20, entries: 20 });
            let (p50, p100) = (log.sync_latency(500).unwrap(), log.sync_latency(1000).unwrap());
            assert!(p50 >= Duration::from_micros(SYNC_BUCKET_MICROS) && p50 <= p100);
            assert_eq!(log.get(&entries[5].request_hash()), Some(entries[5].signed.clone()));
        }
        let (log, recovered) = CommitmentLog::open(&path).unwrap();
        assert_eq!(recovered.entries, entries);
        assert_eq!(recovered.truncated_bytes, 0);
        assert_eq!(log.len(), 20);
        for e in &entries {
            assert_eq!(log.get(&e.request_hash()), Some(e.signed.clone()));
            e.signed.verify(SIGNER.address()).unwrap();
        }
        // Replay rebuilt the conflict index: a different value for key 0 is refused after restart.
        let err = log.append_blocking(entry(0, 2, 1000)).unwrap_err();
        assert!(
            matches!(err, LogError::Conflict { existing_value, .. } if existing_value == B256::repeat_byte(1))
        );
        // Same key and value with another request (e.g. another slasher) is fine.
        assert!(matches!(log.append_blocking(entry(0, 1, 1000)), Ok(AppendOutcome::Appended(_))));
    }

    #[test]
    fn second_open_is_refused_while_locked() {
        let dir = dir();
        let path = dir.path().join("log");
        let (_log, _) = CommitmentLog::open(&path).unwrap();
        assert!(matches!(CommitmentLog::open(&path), Err(LogError::Locked(_))));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_conflicts_exactly_one_wins() {
        let dir = dir();
        let path = dir.path().join("log");
        let (log, _) = CommitmentLog::open(&path).unwrap();
        let log = Arc::new(log);
        for key in 0..20u64 {
            let mut tasks = Vec::new();
            for value in 1..=8u8 {
                let log = Arc::clone(&log);
                tasks.push(tokio::spawn(async move { log.append(entry(key, value, key)).await }));
            }
            let mut winners = 0;
            for task in tasks {
                match task.await.unwrap() {
                    Ok(AppendOutcome::Appended(_)) => winners += 1,
                    Err(LogError::Conflict { .. }) => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
            assert_eq!(winners, 1, "key {key}");
        }
        // Identical concurrent requests: one appended, the rest get the same commitment.
        let same = entry(99, 9, 99);
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (log, same) = (Arc::clone(&log), same.clone());
            tasks.push(tokio::spawn(async move { log.append(same).await }));
        }
        let mut appended = 0;
        for task in tasks {
            let outcome = task.await.unwrap().unwrap();
            assert_eq!(outcome.signed(), &same.signed);
            appended += usize::from(matches!(outcome, AppendOutcome::Appended(_)));
        }
        assert_eq!(appended, 1);
        drop(log);
        let (_, recovered) = CommitmentLog::open(&path).unwrap();
        assert_eq!(recovered.entries.len(), 21);
    }

    /// Writes `batches` batches and returns the file bytes and the entries.
    fn written_log(path: &Path, batches: u64) -> (Vec<u8>, Vec<Vec<LogEntry>>) {
        let (log, _) = CommitmentLog::open(path).unwrap();
        let mut all = Vec::new();
        for b in 0..batches {
            // Each append_blocking is its own group commit (one batch each).
            let batch = vec![entry(b, 1, b)];
            for e in &batch {
                log.append_blocking(e.clone()).unwrap();
            }
            all.push(batch);
        }
        drop(log);
        (std::fs::read(path).unwrap(), all)
    }

    #[test]
    fn torn_tail_at_every_offset_is_truncated_and_acked_records_survive() {
        let dir = dir();
        let path = dir.path().join("log");
        let (full, batches) = written_log(&path, 4);
        let acked: Vec<LogEntry> = batches[..3].concat();
        // Start of the last batch = length of the file holding the first three.
        let (last_start, _) = {
            let p = dir.path().join("three");
            let (bytes, _) = written_log(&p, 3);
            (bytes.len(), ())
        };
        assert!(last_start < full.len());
        for cut in last_start..full.len() {
            std::fs::write(&path, &full[..cut]).unwrap();
            let (log, recovered) = CommitmentLog::open(&path).unwrap();
            assert_eq!(recovered.entries, acked, "cut at {cut}");
            assert_eq!(recovered.truncated_bytes as usize, cut - last_start);
            assert_eq!(log.len(), 3);
            drop(log);
            assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, last_start);
        }
        // Garbage (zeros, as some file systems leave after a crash) instead of the last batch.
        let mut zeros = full[..last_start].to_vec();
        zeros.extend_from_slice(&[0u8; 300]);
        std::fs::write(&path, &zeros).unwrap();
        let (_, recovered) = CommitmentLog::open(&path).unwrap();
        assert_eq!(recovered.entries, acked);
        // A corrupted byte inside the last batch is also a torn tail.
        let mut flipped = full.clone();
        flipped[full.len() - 10] ^= 0xff;
        std::fs::write(&path, &flipped).unwrap();
        let (_, recovered) = CommitmentLog::open(&path).unwrap();
        assert_eq!(recovered.entries, acked);
        // A torn header of a brand-new file.
        std::fs::write(&path, &MAGIC[..3]).unwrap();
        let (_, recovered) = CommitmentLog::open(&path).unwrap();
        assert!(recovered.entries.is_empty());
    }

    #[test]
    fn damage_before_a_valid_batch_refuses_to_start() {
        let dir = dir();
        let path = dir.path().join("log");
        let (full, _) = written_log(&path, 4);
        // Flip each byte of the first batch in turn (header and body): always Corrupt.
        let first_end = {
            let (_, end) = read_batch(&full, MAGIC.len()).unwrap();
            end
        };
        for at in MAGIC.len()..first_end {
            let mut bad = full.clone();
            bad[at] ^= 0x01;
            std::fs::write(&path, &bad).unwrap();
            let err = CommitmentLog::open(&path).unwrap_err();
            assert!(matches!(err, LogError::Corrupt { offset: 8, .. }), "byte {at}: {err}");
        }
        // Bad magic.
        let mut bad = full;
        bad[0] = b'X';
        std::fs::write(&path, &bad).unwrap();
        assert!(matches!(CommitmentLog::open(&path), Err(LogError::Corrupt { offset: 0, .. })));
    }

    #[test]
    fn valid_checksum_with_undecodable_record_is_corrupt() {
        let dir = dir();
        let path = dir.path().join("log");
        let mut file = MAGIC.to_vec();
        let mut buf = vec![0u8; BATCH_HEADER_LEN];
        let body = vec![0xeeu8; 200];
        buf.extend_from_slice(&(body.len() as u32).to_le_bytes());
        buf.extend_from_slice(&body);
        let body_len = (buf.len() - BATCH_HEADER_LEN) as u32;
        let crc = batch_crc(body_len, &buf[BATCH_HEADER_LEN..]);
        buf[..4].copy_from_slice(&body_len.to_le_bytes());
        buf[4..8].copy_from_slice(&crc.to_le_bytes());
        file.extend_from_slice(&buf);
        std::fs::write(&path, &file).unwrap();
        assert!(matches!(CommitmentLog::open(&path), Err(LogError::Corrupt { offset: 8, .. })));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn large_groups_are_split_into_bounded_batches() {
        let dir = dir();
        let path = dir.path().join("log");
        let (log, _) = CommitmentLog::open(&path).unwrap();
        let log = Arc::new(log);
        // 60 records of ~200 KB = ~12 MB, submitted at once: more than one batch.
        let entries: Vec<LogEntry> = (0..60u64)
            .map(|i| {
                let request = InclusionPayload { slot: i, signed_tx: vec![7u8; 200_000].into() }
                    .into_request(Address::ZERO);
                LogEntry {
                    conflict_key: Bytes::copy_from_slice(&i.to_be_bytes()),
                    conflict_value: B256::ZERO,
                    signed: Commitment::for_request(&request).sign(&*SIGNER).unwrap(),
                }
            })
            .collect();
        let tasks: Vec<_> = entries
            .iter()
            .cloned()
            .map(|e| {
                let log = Arc::clone(&log);
                tokio::spawn(async move { log.append(e).await })
            })
            .collect();
        for task in tasks {
            assert!(matches!(task.await.unwrap(), Ok(AppendOutcome::Appended(_))));
        }
        assert!(log.stats().batches >= 2);
        assert_eq!(log.stats().entries, 60);
        drop(log);
        let data = std::fs::read(&path).unwrap();
        let mut offset = MAGIC.len();
        while offset < data.len() {
            let (body, end) = read_batch(&data, offset).unwrap();
            assert!(body.len() <= MAX_BATCH_LEN);
            offset = end;
        }
        let (_, recovered) = CommitmentLog::open(&path).unwrap();
        assert_eq!(recovered.entries.len(), 60);
    }

    #[test]
    fn too_large_entries_are_refused_without_poisoning() {
        let dir = dir();
        let path = dir.path().join("log");
        let (log, _) = CommitmentLog::open(&path).unwrap();
        let mut big = entry(1, 1, 1);
        big.conflict_key = Bytes::from(vec![0u8; 70_000]);
        assert!(matches!(log.append_blocking(big), Err(LogError::TooLarge(_))));
        assert!(log.append_blocking(entry(1, 1, 1)).is_ok());
    }

    const CRASH_CHILD_ENV: &str = "BASED_GATEWAY_LOG_CRASH_CHILD";

    /// Kills (SIGKILL) a child process in the middle of concurrent group commits, then checks that
    /// every entry the child saw acknowledged is recovered.
    #[test]
    fn crash_child_keeps_every_acknowledged_entry() {
        use std::io::{BufRead, BufReader};
        if let Ok(path) = std::env::var(CRASH_CHILD_ENV) {
            crash_child(Path::new(&path));
            return;
        }
        let dir = dir();
        let path = dir.path().join("log");
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "log::tests::crash_child_keeps_every_acknowledged_entry"])
            .args(["--nocapture", "--test-threads=1"])
            .env(CRASH_CHILD_ENV, &path)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut acked = Vec::new();
        while acked.len() < 400 {
            let Some(line) = lines.next() else { break };
            if let Some(i) = line.unwrap().strip_prefix("ack ") {
                acked.push(i.parse::<u64>().unwrap());
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // Acknowledgements printed before the kill are acknowledged too.
        for line in lines {
            if let Some(i) = line.unwrap().strip_prefix("ack ") {
                acked.push(i.parse::<u64>().unwrap());
            }
        }
        assert!(acked.len() >= 400, "child stopped early");
        let (_, recovered) = CommitmentLog::open(&path).unwrap();
        let keys: std::collections::HashSet<Bytes> =
            recovered.entries.iter().map(|e| e.conflict_key.clone()).collect();
        for i in &acked {
            assert!(keys.contains(&Bytes::copy_from_slice(&i.to_be_bytes())), "lost acked {i}");
        }
    }

    fn crash_child(path: &Path) {
        let (log, _) = CommitmentLog::open(path).unwrap();
        let out = Mutex::new(std::io::stdout());
        std::thread::scope(|scope| {
            for t in 0..4u64 {
                let (log, out) = (&log, &out);
                scope.spawn(move || {
                    for i in (t..100_000).step_by(4) {
                        log.append_blocking(entry(i, 1, i)).unwrap();
                        let mut out = out.lock().unwrap();
                        writeln!(out, "ack {i}").unwrap();
                        out.flush().unwrap();
                    }
                });
            }
        });
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn scan_never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let mut file = MAGIC.to_vec();
            file.extend_from_slice(&data);
            let _ = scan(&file);
            let _ = scan(&data);
        }

        #[test]
        fn record_round_trip(key in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100), salt in 0u64..1000) {
            let mut e = entry(0, 3, salt);
            e.conflict_key = key.into();
            let mut buf = Vec::new();
            encode_record(&e, &mut buf).unwrap();
            let mut reader = Reader { data: &buf };
            let len = u32::from_le_bytes(reader.array().unwrap()) as usize;
            proptest::prop_assert_eq!(len, buf.len() - 4);
            proptest::prop_assert_eq!(decode_record(reader.data).unwrap(), e);
        }
    }
}
