//! The watchtower task: judges watched promises, acts on broken ones, defends false challenges.

use crate::{
    Action, Fault, FeedCursors, FeedStatus, Verdict, Watched, WatchtowerConfig, WatchtowerError,
    store::Store,
};
use alloy_eips::BlockNumberOrTag;
use alloy_network::EthereumWallet;
use alloy_primitives::{Address, B256, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::Filter;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolEvent};
use based_commitments::{INCLUSION_COMMITMENT_TYPE, SignedCommitment};
use based_contracts::Lookahead;
use based_lookahead::SlotClock;
use based_registry::Registry;
use based_slasher::{
    ChallengeStatus, KeptPromise, PreconfSlasher, SlasherClient, SlasherConfig, inclusion_of,
};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};
use tokio::sync::watch;
use tracing::{debug, info, warn};

/// How many slots before a promised slot a keeping proposal is searched for (promises are made at
/// most 64 slots ahead; a transaction posted earlier still keeps it).
const LOOKBACK_SLOTS: u64 = 256;
/// Most L1 blocks scanned for challenges in one request.
const MAX_SCAN_BLOCKS: u64 = 10_000;

/// An open challenge seen on L1 that the watchtower may defend.
#[derive(Debug, Clone, Copy)]
struct OpenChallenge {
    slot: u64,
    tx_hash: B256,
    deadline: u64,
}

/// Judges promises against one `PreconfSlasher` from L1, as it would (also used by
/// `based slash`).
pub struct Judge {
    client: SlasherClient<DynProvider>,
    provider: DynProvider,
    onchain: SlasherConfig,
    clock: SlotClock,
    slasher: Address,
}

impl std::fmt::Debug for Judge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Judge").field("slasher", &self.slasher).finish_non_exhaustive()
    }
}

/// The shared state behind the task and the RPC methods.
pub struct Watchtower {
    judge: Judge,
    pub(crate) acting: bool,
    pub(crate) store: Mutex<Store>,
    open_challenges: Mutex<HashMap<B256, OpenChallenge>>,
    next_scan: Mutex<u64>,
    /// The followed commitment feeds' statuses (`based_commitmentFeeds`).
    pub(crate) feeds: Mutex<Vec<Arc<Mutex<FeedStatus>>>>,
    /// The node's derived chain (what became of kept promises' transactions), if any.
    l2: Option<Arc<dyn crate::L2Chain>>,
}

impl std::fmt::Debug for Watchtower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watchtower")
            .field("slasher", &self.judge.slasher)
            .field("acting", &self.acting)
            .finish_non_exhaustive()
    }
}

/// A running watchtower.
#[derive(Debug)]
pub struct WatchtowerHandle {
    tower: Arc<Watchtower>,
    task: tokio::task::JoinHandle<()>,
    shutdown: watch::Sender<bool>,
    cursors: Arc<FeedCursors>,
    poll_interval: std::time::Duration,
    followers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl WatchtowerHandle {
    /// The shared state (for the RPC methods).
    pub fn tower(&self) -> Arc<Watchtower> {
        self.tower.clone()
    }

    /// `based_watchCommitment`, `based_watchedCommitments`, `based_brokenCommitments`.
    pub fn into_rpc(&self) -> jsonrpsee::RpcModule<Arc<Watchtower>> {
        crate::rpc::module(self.tower.clone())
    }

    /// Also follows the commitment feed of the gateway at `url` (docs/slashing.md, "Following
    /// gateways"): every commitment it issued from its cursor on is watched. Following a URL
    /// already followed does nothing.
    pub fn follow(&self, url: &str) {
        let key = url.trim().trim_end_matches('/');
        let mut feeds = self.tower.feeds.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if feeds
            .iter()
            .any(|f| f.lock().unwrap_or_else(std::sync::PoisonError::into_inner).url == key)
        {
            return;
        }
        let follower = crate::feed::follow(
            url,
            self.tower.clone(),
            self.cursors.clone(),
            self.poll_interval,
            self.shutdown.subscribe(),
        );
        feeds.push(follower.status);
        self.followers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(follower.task);
    }

    /// The followed feeds' statuses (as `based_commitmentFeeds` lists them).
    pub fn feeds(&self) -> Vec<FeedStatus> {
        self.tower.feed_statuses()
    }

    /// Stops the task and the feed followers.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        let followers = std::mem::take(
            &mut *self.followers.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for follower in followers {
            let _ = follower.await;
        }
    }
}

fn l1_err(e: impl std::fmt::Display) -> WatchtowerError {
    WatchtowerError::L1(e.to_string())
}

impl Judge {
    /// Connects to the L1 at `l1_rpc_url` (signing with `key`, if any) and reads the slasher's
    /// configuration and its preconfer source's slot clock.
    pub async fn connect(
        l1_rpc_url: &str,
        slasher: Address,
        key: Option<PrivateKeySigner>,
    ) -> Result<Self, WatchtowerError> {
        let url = l1_rpc_url.parse().map_err(|e| WatchtowerError::Url(format!("{e}")))?;
        let provider = match key {
            Some(key) => {
                ProviderBuilder::new().wallet(EthereumWallet::from(key)).connect_http(url).erased()
            }
            None => ProviderBuilder::new().connect_http(url).erased(),
        };
        let client = SlasherClient::connect(provider.clone(), slasher).await?;
        let onchain = client.config().await?;
        let source = onchain.preconfer_source;
        let genesis: U256 = view(&provider, source, Lookahead::genesisTimestampCall {}).await?;
        let seconds: U256 = view(&provider, source, Lookahead::secondsPerSlotCall {}).await?;
        let per_epoch: U256 = view(&provider, source, Lookahead::slotsPerEpochCall {}).await?;
        let as_u64 =
            |v: U256| u64::try_from(v).map_err(|_| WatchtowerError::L1(format!("clock {v}")));
        let clock = SlotClock::new(as_u64(genesis)?, as_u64(seconds)?, as_u64(per_epoch)?)
            .map_err(l1_err)?;
        Ok(Self { client, provider, onchain, clock, slasher })
    }

    /// The slasher client (challenge, defend, slash).
    pub const fn client(&self) -> &SlasherClient<DynProvider> {
        &self.client
    }

    /// The slasher's on-chain configuration.
    pub const fn config(&self) -> &SlasherConfig {
        &self.onchain
    }

    /// A watchable entry for `signed` (checks type, slasher, signature and payload:
    /// [`watchable`]).
    pub fn entry(&self, signed: SignedCommitment) -> Result<Watched, WatchtowerError> {
        watchable(self.slasher, signed)
    }

    /// The L1 head (number, timestamp).
    pub async fn head(&self) -> Result<(u64, u64), WatchtowerError> {
        let head = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(l1_err)?
            .ok_or_else(|| WatchtowerError::L1("no L1 head".into()))?;
        Ok((head.header.number, head.header.timestamp))
    }

    /// The verdict on `w` now: [`Verdict::Watching`] until its slot is `challengeDelay` slots
    /// old, then kept or broken (with [`Action::Reported`]).
    pub async fn verdict(&self, w: &Watched) -> Result<Verdict, WatchtowerError> {
        let (head_number, now) = self.head().await?;
        let current_slot = self.clock.slot_at(now);
        if current_slot <= w.slot.saturating_add(self.onchain.challenge_delay) {
            return Ok(Verdict::Watching);
        }
        self.judge(w, head_number, current_slot).await
    }

    /// Decides `w` (its slot is final enough).
    async fn judge(
        &self,
        w: &Watched,
        head_number: u64,
        current_slot: u64,
    ) -> Result<Verdict, WatchtowerError> {
        let source = self.onchain.preconfer_source;
        let preconfer =
            view(&self.provider, source, Lookahead::preconferAtCall { slot: U256::from(w.slot) })
                .await?;
        if preconfer.committer != w.committer {
            return Ok(Verdict::Broken {
                fault: Fault::NotOwned { slot_committer: preconfer.committer },
                action: Action::Reported,
            });
        }
        match self.kept_by(w.tx_hash, w.slot, head_number, current_slot).await? {
            Some((kept, l1_slot)) => Ok(Verdict::Kept {
                proposal_id: kept.proposal_id,
                l1_block: kept.block_number,
                l1_slot,
                execution: crate::Execution::Unchecked,
            }),
            None => Ok(Verdict::Broken { fault: Fault::NotIncluded, action: Action::Reported }),
        }
    }

    /// The proposal that kept `tx_hash` by `slot`, with its L1 slot, if any.
    async fn kept_by(
        &self,
        tx_hash: B256,
        slot: u64,
        head_number: u64,
        current_slot: u64,
    ) -> Result<Option<(KeptPromise, u64)>, WatchtowerError> {
        // At most one L1 block per slot: the block of slot `slot - LOOKBACK_SLOTS` is no lower.
        let back = current_slot.saturating_sub(slot).saturating_add(LOOKBACK_SLOTS);
        let from = head_number.saturating_sub(back);
        let Some(kept) = self
            .client
            .find_kept(tx_hash, BlockNumberOrTag::Number(from), BlockNumberOrTag::Latest)
            .await?
        else {
            return Ok(None);
        };
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(kept.block_number))
            .await
            .map_err(l1_err)?
            .ok_or_else(|| WatchtowerError::L1(format!("no block {}", kept.block_number)))?;
        let l1_slot = self.clock.slot_at(block.header.timestamp);
        // `find_kept` returns the first proposal in L1 order: a later one cannot be earlier.
        Ok((l1_slot <= slot).then_some((kept, l1_slot)))
    }

    /// The proposal that kept `w` (in a promised record of a slot `<= w.slot`) and its L1 slot.
    pub async fn keeping(
        &self,
        w: &Watched,
    ) -> Result<Option<(KeptPromise, u64)>, WatchtowerError> {
        let (head_number, now) = self.head().await?;
        self.kept_by(w.tx_hash, w.slot, head_number, self.clock.slot_at(now)).await
    }

    /// A validator key that had `committer` as its committer at `slot` (from `OptedIn` events).
    pub async fn delegating_key(
        &self,
        committer: Address,
        slot: u64,
    ) -> Result<Option<B256>, WatchtowerError> {
        let registry = self.onchain.registry;
        let filter = Filter::new()
            .address(registry)
            .event_signature(Registry::OptedIn::SIGNATURE_HASH)
            .topic2(committer.into_word())
            .from_block(0);
        let logs = self.provider.get_logs(&filter).await.map_err(l1_err)?;
        let at = self.clock.slot_timestamp(slot).map_err(l1_err)?;
        for log in logs {
            let Ok(ev) = Registry::OptedIn::decode_log_data(log.data()) else { continue };
            let call =
                Registry::committerAtCall { pubkeyHash: ev.pubkeyHash, timestamp: U256::from(at) };
            if view(&self.provider, registry, call).await? == committer {
                return Ok(Some(ev.pubkeyHash));
            }
        }
        Ok(None)
    }
}

/// A watchable entry for `signed` judged against `slasher`: an inclusion commitment naming
/// `slasher`, with a signature that recovers (its signer is the committer) and a decodable
/// payload; else [`WatchtowerError::Invalid`]. The one check of `based_watchCommitment` and the
/// commitment feeds.
pub fn watchable(slasher: Address, signed: SignedCommitment) -> Result<Watched, WatchtowerError> {
    let c = &signed.commitment;
    if c.commitment_type != INCLUSION_COMMITMENT_TYPE {
        return Err(WatchtowerError::Invalid(format!(
            "commitment type {} is not inclusion (1)",
            c.commitment_type
        )));
    }
    if c.slasher != slasher {
        return Err(WatchtowerError::Invalid(format!(
            "slasher {} is not the watched slasher {slasher}",
            c.slasher
        )));
    }
    let committer = signed.recover_signer().map_err(|e| WatchtowerError::Invalid(e.to_string()))?;
    let (payload, tx_hash) =
        inclusion_of(&signed).map_err(|e| WatchtowerError::Invalid(e.to_string()))?;
    Ok(Watched {
        digest: c.digest(),
        signed,
        committer,
        slot: payload.slot,
        tx_hash,
        verdict: Verdict::Watching,
    })
}

/// Connects to L1, reads the slasher's configuration and clock, loads the store, starts the
/// task and follows the feeds of `cfg.gateway_urls`.
/// Starts the watchtower; with `l2` (the node's derived chain) kept promises also report their
/// transaction's execution ([`crate::Execution`]).
pub async fn spawn(
    cfg: WatchtowerConfig,
    l2: Option<Arc<dyn crate::L2Chain>>,
) -> Result<WatchtowerHandle, WatchtowerError> {
    let judge = Judge::connect(&cfg.l1_rpc_url, cfg.slasher, cfg.key.clone()).await?;
    let (store, loaded) = Store::open(&cfg.store_path, cfg.max_watched)?;
    let tower = Arc::new(Watchtower {
        judge,
        acting: cfg.key.is_some(),
        store: Mutex::new(store),
        open_challenges: Mutex::new(HashMap::new()),
        next_scan: Mutex::new(cfg.from_block),
        feeds: Mutex::new(Vec::new()),
        l2,
    });
    let cursors =
        Arc::new(FeedCursors::open(&cfg.store_path.with_file_name(crate::feed::CURSORS_FILE))?);
    for signed in loaded {
        if let Err(e) = tower.watch(signed, false) {
            warn!(target: "watchtower", error = %e, "stored commitment not watched");
        }
    }
    info!(
        target: "watchtower",
        slasher = %cfg.slasher,
        acting = tower.acting,
        watched = tower.lock().len(),
        "watchtower started"
    );
    let (shutdown, mut stop) = watch::channel(false);
    let t = tower.clone();
    let task = tokio::spawn(async move {
        loop {
            if let Err(e) = t.tick().await {
                warn!(target: "watchtower", error = %e, "watchtower tick failed; retrying");
            }
            tokio::select! {
                _ = tokio::time::sleep(cfg.poll_interval) => {}
                _ = stop.changed() => return,
            }
        }
    });
    let handle = WatchtowerHandle {
        tower,
        task,
        shutdown,
        cursors,
        poll_interval: cfg.poll_interval,
        followers: Mutex::new(Vec::new()),
    };
    for url in &cfg.gateway_urls {
        handle.follow(url);
    }
    Ok(handle)
}

async fn view<C: SolCall>(
    provider: &DynProvider,
    to: Address,
    call: C,
) -> Result<C::Return, WatchtowerError> {
    based_contracts::client::view(provider, to, call).await.map_err(l1_err)
}

impl std::ops::Deref for Watchtower {
    type Target = Judge;

    fn deref(&self) -> &Judge {
        &self.judge
    }
}

impl Watchtower {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The followed feeds' statuses.
    pub(crate) fn feed_statuses(&self) -> Vec<FeedStatus> {
        self.feeds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|f| f.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone())
            .collect()
    }

    /// Starts watching `signed` (durably if `persist`). Returns the entry and whether it is new.
    pub fn watch(
        &self,
        signed: SignedCommitment,
        persist: bool,
    ) -> Result<(Watched, bool), WatchtowerError> {
        let watched = self.judge.entry(signed)?;
        let (tx_hash, committer) = (watched.tx_hash, watched.committer);
        let added = self.lock().insert(watched.clone(), persist)?;
        if added {
            metrics::counter!(based_metrics::names::WT_PROMISES_WATCHED).increment(1);
            debug!(target: "watchtower", digest = %watched.digest, slot = watched.slot, tx = %tx_hash, %committer, "watching a promise");
        }
        Ok((watched, added))
    }

    /// One pass: judge, act, defend.
    async fn tick(&self) -> Result<(), WatchtowerError> {
        let (head_number, now) = self.head().await?;
        let current_slot = self.clock.slot_at(now);
        let digests = self.lock().digests();
        for digest in digests {
            let entry = self.lock().get_mut(&digest).cloned();
            let Some(w) = entry else { continue };
            let next = match self.step(&w, head_number, now, current_slot).await {
                Ok(next) => next,
                Err(e) => {
                    debug!(target: "watchtower", %digest, error = %e, "step failed; retrying later");
                    continue;
                }
            };
            if next != w.verdict {
                count_change(&w.verdict, &next);
                log_change(&w, &next);
                if let Some(entry) = self.lock().get_mut(&digest) {
                    entry.verdict = next;
                }
            }
        }
        self.defend_challenges(head_number, now).await
    }

    /// The next verdict of `w`.
    async fn step(
        &self,
        w: &Watched,
        head_number: u64,
        now: u64,
        current_slot: u64,
    ) -> Result<Verdict, WatchtowerError> {
        let delay = self.onchain.challenge_delay;
        match &w.verdict {
            Verdict::Watching if current_slot > w.slot.saturating_add(delay) => {
                let verdict = self.judge(w, head_number, current_slot).await?;
                Ok(self.with_execution(w, verdict))
            }
            Verdict::Kept { execution: crate::Execution::Pending, .. } => {
                Ok(self.with_execution(w, w.verdict.clone()))
            }
            Verdict::Broken { fault, action } if self.acting => {
                let action = match fault {
                    Fault::NotIncluded => self.pursue(w, action, now, current_slot).await,
                    Fault::NotOwned { .. } => self.slash_not_owned(w, action).await,
                };
                Ok(Verdict::Broken { fault: fault.clone(), action })
            }
            _ => Ok(w.verdict.clone()),
        }
    }

    /// A kept verdict with what the L2 chain did with the transaction.
    fn with_execution(&self, w: &Watched, verdict: Verdict) -> Verdict {
        match verdict {
            Verdict::Kept { proposal_id, l1_block, l1_slot, .. } => Verdict::Kept {
                proposal_id,
                l1_block,
                l1_slot,
                execution: crate::execution_of(self.l2.as_deref(), l1_block, w.tx_hash),
            },
            other => other,
        }
    }

    /// Challenge, then slash once the deadline passed undefended.
    async fn pursue(&self, w: &Watched, action: &Action, now: u64, current_slot: u64) -> Action {
        let window_end = w
            .slot
            .saturating_add(self.onchain.challenge_delay)
            .saturating_add(self.onchain.challenge_window);
        let state = match self.client.challenge(w.digest).await {
            Ok(state) => state,
            Err(e) => return Action::Failed { reason: e.to_string() },
        };
        match state.status {
            ChallengeStatus::Defended => Action::Defended,
            ChallengeStatus::Slashed => match action {
                Action::Slashed { .. } => action.clone(),
                _ => Action::Slashed { pubkey_hash: state.pubkey_hash, tx: B256::ZERO },
            },
            ChallengeStatus::Open if now > state.deadline => {
                match self.client.slash_lost_challenge(&w.signed).await {
                    Ok(receipt) => {
                        metrics::counter!(based_metrics::names::WT_SLASHES).increment(1);
                        Action::Slashed {
                            pubkey_hash: state.pubkey_hash,
                            tx: receipt.transaction_hash,
                        }
                    }
                    Err(e) => Action::Failed { reason: e.to_string() },
                }
            }
            ChallengeStatus::Open => Action::Challenged { deadline: state.deadline },
            ChallengeStatus::None if current_slot <= window_end => {
                match self.client.open_challenge(&w.signed).await {
                    Ok(_) => {
                        metrics::counter!(based_metrics::names::WT_CHALLENGES_OPENED).increment(1);
                        match self.client.challenge(w.digest).await {
                            Ok(s) => Action::Challenged { deadline: s.deadline },
                            Err(e) => Action::Failed { reason: e.to_string() },
                        }
                    }
                    Err(e) => Action::Failed { reason: e.to_string() },
                }
            }
            ChallengeStatus::None => match action {
                Action::Failed { .. } | Action::Reported => Action::Reported,
                other => other.clone(),
            },
        }
    }

    /// Slashes a validator that delegated to the signer of a not-owned promise.
    async fn slash_not_owned(&self, w: &Watched, action: &Action) -> Action {
        if matches!(action, Action::Slashed { .. }) {
            return action.clone();
        }
        let key = match self.delegating_key(w.committer, w.slot).await {
            Ok(Some(key)) => key,
            Ok(None) => return Action::Failed { reason: "no key delegated to the signer".into() },
            Err(e) => return Action::Failed { reason: e.to_string() },
        };
        match self.client.slash_not_owned(key, &w.signed).await {
            Ok(receipt) => {
                metrics::counter!(based_metrics::names::WT_SLASHES).increment(1);
                Action::Slashed { pubkey_hash: key, tx: receipt.transaction_hash }
            }
            Err(e) => Action::Failed { reason: e.to_string() },
        }
    }

    /// Scans new `ChallengeOpened` events and defends every open challenge it can prove wrong.
    async fn defend_challenges(&self, head_number: u64, now: u64) -> Result<(), WatchtowerError> {
        let from = *self.next_scan.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if from <= head_number {
            let to = head_number.min(from.saturating_add(MAX_SCAN_BLOCKS));
            let filter = Filter::new()
                .address(self.slasher)
                .event_signature(PreconfSlasher::ChallengeOpened::SIGNATURE_HASH)
                .from_block(from)
                .to_block(to);
            let logs = self.provider.get_logs(&filter).await.map_err(l1_err)?;
            let mut open =
                self.open_challenges.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            for log in logs {
                let Ok(ev) = PreconfSlasher::ChallengeOpened::decode_log_data(log.data()) else {
                    continue;
                };
                let deadline = u64::try_from(ev.deadline).unwrap_or(u64::MAX);
                open.insert(ev.id, OpenChallenge { slot: ev.slot, tx_hash: ev.txHash, deadline });
            }
            drop(open);
            *self.next_scan.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                to.saturating_add(1);
        }
        if !self.acting {
            return Ok(());
        }
        let pending: Vec<(B256, OpenChallenge)> = self
            .open_challenges
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(id, c)| (*id, *c))
            .collect();
        let current_slot = self.clock.slot_at(now);
        for (id, c) in pending {
            let done = if now > c.deadline {
                true
            } else {
                match self.client.challenge(id).await.map(|s| s.status) {
                    Ok(ChallengeStatus::Open) => {
                        match self.kept_by(c.tx_hash, c.slot, head_number, current_slot).await? {
                            Some((kept, _)) => match self.client.defend_with(id, &kept).await {
                                Ok(receipt) => {
                                    metrics::counter!(based_metrics::names::WT_CHALLENGES_DEFENDED)
                                        .increment(1);
                                    info!(target: "watchtower", challenge = %id, tx = %c.tx_hash, proposal = %kept.proposal_id, l1_tx = %receipt.transaction_hash, "defended a false challenge");
                                    true
                                }
                                Err(e) => {
                                    warn!(target: "watchtower", challenge = %id, error = %e, "defence failed; retrying");
                                    false
                                }
                            },
                            // Not provable (yet): the promise may be broken; nothing to defend.
                            None => false,
                        }
                    }
                    Ok(_) => true,
                    Err(_) => false,
                }
            };
            if done {
                self.open_challenges
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&id);
            }
        }
        Ok(())
    }
}

/// Counts a promise's first verdict (kept or broken).
fn count_change(previous: &Verdict, next: &Verdict) {
    use based_metrics::names;
    match (previous, next) {
        (Verdict::Watching, Verdict::Kept { .. }) => {
            metrics::counter!(names::WT_PROMISES_KEPT).increment(1);
        }
        (Verdict::Watching | Verdict::Kept { .. }, Verdict::Broken { .. }) => {
            metrics::counter!(names::WT_PROMISES_BROKEN).increment(1);
        }
        _ => {}
    }
    let skipped =
        |v: &Verdict| matches!(v, Verdict::Kept { execution: crate::Execution::Skipped, .. });
    if skipped(next) && !skipped(previous) {
        metrics::counter!(names::WT_PROMISES_SKIPPED).increment(1);
    }
}

fn log_change(w: &Watched, next: &Verdict) {
    match next {
        Verdict::Broken { fault, action } => warn!(
            target: "watchtower",
            digest = %w.digest,
            committer = %w.committer,
            slot = w.slot,
            tx = %w.tx_hash,
            fault = ?fault,
            action = ?action,
            "broken promise"
        ),
        Verdict::Kept { proposal_id, l1_block, execution: crate::Execution::Skipped, .. } => warn!(
            target: "watchtower",
            digest = %w.digest,
            committer = %w.committer,
            slot = w.slot,
            tx = %w.tx_hash,
            %proposal_id,
            l1_block,
            "promise kept on L1 but its transaction was skipped by execution (not slashable)"
        ),
        Verdict::Kept { proposal_id, l1_block, .. } => debug!(
            target: "watchtower",
            digest = %w.digest,
            slot = w.slot,
            tx = %w.tx_hash,
            %proposal_id,
            l1_block,
            "promise kept"
        ),
        Verdict::Watching => {}
    }
}
