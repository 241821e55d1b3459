//! `based_lookahead(epoch?)`: who may post in each L1 slot of an epoch (docs/lookahead.md).
//!
//! The node works the answer out itself, the way a watcher should, rather than asking the contract:
//! the `Inbox`'s preconfer source (read once), the epoch's `LookaheadPosted` event (opt-in mode),
//! the `Registry`'s commit rights at each slot's start, and the rule of `Lookahead.preconferAt`
//! in Rust ([`based_lookahead::preconfer_at`]); slots no opted-in proposer covers ask the
//! fallback source. The beacon API's proposer duties (current and next epoch only, as consensus
//! clients serve them) name the proposers of the slots without an entry. Whitelist mode asks the
//! `Whitelist`'s `preconferAt` (its rule has no inputs worth re-deriving).
//!
//! Every read of one answer is made at the same L1 block (`l1Block` in the answer), so the event
//! and the calls agree even while a post is being mined.
//!
//! Answer (camelCase JSON): `l1Block`, `mode` (`permissionless` | `whitelist` | `opt-in`), `source`, `epoch`,
//! `firstSlot`, `posted`, `poster`, `posterPubkeyHash`, `contested`, and `slots[]` with `slot`,
//! `timestamp`, `proposer` (`validatorIndex`, `pubkeyHash`; `null` if unknown), `optedIn` (the
//! proposer's key has a committer at the slot's start), `committer` (that committer) and
//! `preconfer` (`pubkeyHash`, `committer` of the slot's preconfer; `null` = open to anyone).

use alloy_eips::BlockNumberOrTag;
use alloy_primitives::{Address, B256, U64, U256};
use alloy_provider::{Provider, RootProvider};
use alloy_rpc_types_eth::Filter;
use alloy_sol_types::{SolCall, SolEvent, sol};
use based_contracts::{Inbox, Lookahead};
use based_l1::BeaconClient;
use based_lookahead::{FnLookup, LookaheadEntry, Preconfer, SlotClock, preconfer_at};
use jsonrpsee::{RpcModule, types::ErrorObjectOwned};
use serde::Serialize;
use std::collections::HashMap;
use tokio::sync::OnceCell;

sol! {
    interface IClockSource {
        function genesisTimestamp() external view returns (uint256);
        function secondsPerSlot() external view returns (uint256);
        function slotsPerEpoch() external view returns (uint256);
        function preconferAt(uint256 slot) external view returns (bytes32 pubkeyHash, address committer);
    }
    interface ICommitRights {
        function committerAt(bytes32 pubkeyHash, uint256 timestamp) external view returns (address);
    }
}

/// Most epochs ahead of the L1 head one may ask for (nothing is known further ahead).
const MAX_EPOCHS_AHEAD: u64 = 2;

/// The posting rule the `Inbox` enforces.
#[derive(Debug, Clone, Copy)]
enum Source {
    Permissionless,
    Whitelist { source: Address, clock: SlotClock },
    OptIn { source: Address, clock: SlotClock, registry: Address, fallback: Option<Address> },
}

/// Reads the lookahead from L1 (see the module docs).
#[derive(Debug)]
pub struct LookaheadReader {
    l1: RootProvider,
    inbox: Address,
    from_block: u64,
    beacon: Option<BeaconClient>,
    source: OnceCell<Source>,
}

/// `proposer` of a slot.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SlotProposer {
    /// Beacon validator index.
    pub validator_index: U64,
    /// The key's Registry identity.
    pub pubkey_hash: B256,
}

/// `preconfer` of a slot.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SlotPreconfer {
    /// The preconfer's key (zero in whitelist mode).
    pub pubkey_hash: B256,
    /// The committer that may post.
    pub committer: Address,
}

/// One slot of the answer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SlotInfo {
    /// The slot.
    pub slot: U64,
    /// Its start time.
    pub timestamp: U64,
    /// Its proposer, if known.
    pub proposer: Option<SlotProposer>,
    /// The proposer's key has commit rights at the slot's start.
    pub opted_in: bool,
    /// The proposer's committer, if opted in.
    pub committer: Option<Address>,
    /// Who may post (`None`: anyone).
    pub preconfer: Option<SlotPreconfer>,
}

/// The answer of `based_lookahead`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LookaheadInfo {
    /// The L1 block every read of this answer was made at.
    pub l1_block: U64,
    /// `permissionless`, `whitelist` or `opt-in`.
    pub mode: &'static str,
    /// The Inbox's preconfer source.
    pub source: Option<Address>,
    /// The epoch.
    pub epoch: U64,
    /// Its first slot.
    pub first_slot: U64,
    /// A lookahead was posted for it (opt-in mode).
    pub posted: bool,
    /// Who posted it.
    pub poster: Option<Address>,
    /// The key that authorised the post.
    pub poster_pubkey_hash: Option<B256>,
    /// It was proven wrong (every slot falls back).
    pub contested: bool,
    /// One entry per slot.
    pub slots: Vec<SlotInfo>,
}

fn l1_error(e: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(-32000, format!("L1 unavailable: {e}"), None::<()>)
}

fn invalid(msg: String) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(-32602, msg, None::<()>)
}

async fn view<C: SolCall>(
    l1: &RootProvider,
    to: Address,
    call: C,
) -> Result<C::Return, ErrorObjectOwned> {
    view_at(l1, to, call, BlockNumberOrTag::Latest).await
}

/// A view call at `block` (every read of one answer uses the same block: calls and logs agree).
async fn view_at<C: SolCall>(
    l1: &RootProvider,
    to: Address,
    call: C,
    block: BlockNumberOrTag,
) -> Result<C::Return, ErrorObjectOwned> {
    based_contracts::client::view_at(l1, to, call, block.into()).await.map_err(l1_error)
}

fn to_u64(v: U256) -> Result<u64, ErrorObjectOwned> {
    u64::try_from(v).map_err(|_| l1_error("value out of range"))
}

impl LookaheadReader {
    /// A reader of the posting rights of `inbox` on `l1` (events searched from `from_block`),
    /// with proposer duties from `beacon` if given.
    pub const fn new(
        l1: RootProvider,
        inbox: Address,
        from_block: u64,
        beacon: Option<BeaconClient>,
    ) -> Self {
        Self { l1, inbox, from_block, beacon, source: OnceCell::const_new() }
    }

    async fn source(&self) -> Result<Source, ErrorObjectOwned> {
        self.source
            .get_or_try_init(|| async {
                let source = view(&self.l1, self.inbox, Inbox::preconferSourceCall {}).await?;
                if source.is_zero() {
                    return Ok(Source::Permissionless);
                }
                let clock = SlotClock::new(
                    to_u64(view(&self.l1, source, IClockSource::genesisTimestampCall {}).await?)?,
                    to_u64(view(&self.l1, source, IClockSource::secondsPerSlotCall {}).await?)?,
                    to_u64(view(&self.l1, source, IClockSource::slotsPerEpochCall {}).await?)?,
                )
                .map_err(l1_error)?;
                // A `Lookahead` has a registry; a `Whitelist` does not answer that call.
                match view(&self.l1, source, Lookahead::registryCall {}).await {
                    Ok(registry) => {
                        let fallback =
                            view(&self.l1, source, Lookahead::fallbackSourceCall {}).await?;
                        Ok(Source::OptIn {
                            source,
                            clock,
                            registry,
                            fallback: (!fallback.is_zero()).then_some(fallback),
                        })
                    }
                    Err(_) => Ok(Source::Whitelist { source, clock }),
                }
            })
            .await
            .copied()
    }

    /// The lookahead of `epoch` (default: the epoch of the L1 head).
    pub async fn lookahead(&self, epoch: Option<u64>) -> Result<LookaheadInfo, ErrorObjectOwned> {
        let head = self
            .l1
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(l1_error)?
            .ok_or_else(|| l1_error("no L1 head"))?;
        let source = self.source().await?;
        let clock = match source {
            Source::Permissionless => SlotClock::new(0, 12, 32).map_err(l1_error)?,
            Source::Whitelist { clock, .. } | Source::OptIn { clock, .. } => clock,
        };
        let head_epoch = clock.epoch_of(clock.slot_at(head.header.timestamp));
        let epoch = epoch.unwrap_or(head_epoch);
        if epoch > head_epoch.saturating_add(MAX_EPOCHS_AHEAD) {
            return Err(invalid(format!(
                "epoch {epoch} is more than {MAX_EPOCHS_AHEAD} epochs after the L1 head's {head_epoch}"
            )));
        }
        let slots = clock.slots(epoch).map_err(|e| invalid(e.to_string()))?;
        let first_slot = slots.start;
        let at = BlockNumberOrTag::Number(head.header.number);
        let mut info = LookaheadInfo {
            l1_block: U64::from(head.header.number),
            mode: "permissionless",
            source: None,
            epoch: U64::from(epoch),
            first_slot: U64::from(first_slot),
            posted: false,
            poster: None,
            poster_pubkey_hash: None,
            contested: false,
            slots: Vec::new(),
        };
        let timestamps: Vec<(u64, u64)> = slots
            .clone()
            .map(|s| clock.slot_timestamp(s).map(|t| (s, t)))
            .collect::<Result<_, _>>()
            .map_err(|e| invalid(e.to_string()))?;
        let blank = |slot: u64, timestamp: u64| SlotInfo {
            slot: U64::from(slot),
            timestamp: U64::from(timestamp),
            proposer: None,
            opted_in: false,
            committer: None,
            preconfer: None,
        };
        match source {
            Source::Permissionless => {
                info.slots = timestamps.iter().map(|(s, t)| blank(*s, *t)).collect();
            }
            Source::Whitelist { source, .. } => {
                info.mode = "whitelist";
                info.source = Some(source);
                for (slot, time) in timestamps {
                    let p = view_at(
                        &self.l1,
                        source,
                        IClockSource::preconferAtCall { slot: U256::from(slot) },
                        at,
                    )
                    .await?;
                    let mut s = blank(slot, time);
                    s.preconfer = (!p.committer.is_zero()).then_some(SlotPreconfer {
                        pubkey_hash: p.pubkeyHash,
                        committer: p.committer,
                    });
                    info.slots.push(s);
                }
            }
            Source::OptIn { source, registry, fallback, .. } => {
                info.mode = "opt-in";
                info.source = Some(source);
                self.opt_in(&mut info, &clock, &timestamps, (source, registry, fallback), at)
                    .await?;
            }
        }
        Ok(info)
    }

    async fn opt_in(
        &self,
        info: &mut LookaheadInfo,
        clock: &SlotClock,
        timestamps: &[(u64, u64)],
        (source, registry, fallback): (Address, Address, Option<Address>),
        at: BlockNumberOrTag,
    ) -> Result<(), ErrorObjectOwned> {
        let epoch = info.epoch.to::<u64>();
        let record =
            view_at(&self.l1, source, Lookahead::epochRecordCall { epoch: U256::from(epoch) }, at)
                .await?;
        info.posted = !record.poster.is_zero();
        info.poster = info.posted.then_some(record.poster);
        info.poster_pubkey_hash = info.posted.then_some(record.posterPubkeyHash);
        info.contested = record.contested;

        let mut entries: Vec<LookaheadEntry> = Vec::new();
        if info.posted {
            let filter = Filter::new()
                .address(source)
                .event_signature(Lookahead::LookaheadPosted::SIGNATURE_HASH)
                .topic1(B256::from(U256::from(epoch)))
                .from_block(self.from_block)
                .to_block(at);
            let logs = self.l1.get_logs(&filter).await.map_err(l1_error)?;
            for log in logs {
                if let Ok(Some(posted)) = based_lookahead::PostedLookahead::decode(&log.inner)
                    && posted.epoch == epoch
                {
                    entries = posted.entries;
                }
            }
        }
        // A contested epoch has no entries left (`slotMask` cleared): every slot falls back.
        if info.contested {
            entries.clear();
        }

        // Proposers: the posted entries, then the beacon duties (current and next epoch only).
        let mut proposers: HashMap<u64, SlotProposer> = entries
            .iter()
            .map(|e| {
                (
                    e.slot,
                    SlotProposer {
                        validator_index: U64::from(e.validator_index),
                        pubkey_hash: e.pubkey_hash,
                    },
                )
            })
            .collect();
        if let Some(beacon) = &self.beacon
            && let Ok(duties) = beacon.proposer_duties(epoch).await
        {
            for d in duties {
                if let Ok(pubkey_hash) = based_lookahead::pubkey_hash_of_compressed(&d.pubkey) {
                    proposers.entry(d.slot).or_insert(SlotProposer {
                        validator_index: U64::from(d.validator_index),
                        pubkey_hash,
                    });
                }
            }
        }

        // Commit rights at every slot's start of every key that matters.
        let mut keys: Vec<B256> = entries.iter().map(|e| e.pubkey_hash).collect();
        keys.extend(proposers.values().map(|p| p.pubkey_hash));
        keys.sort_unstable();
        keys.dedup();
        let mut rights: HashMap<(B256, u64), Address> = HashMap::new();
        for key in &keys {
            for (_, time) in timestamps {
                let committer = view(
                    &self.l1,
                    registry,
                    ICommitRights::committerAtCall {
                        pubkeyHash: *key,
                        timestamp: U256::from(*time),
                    },
                )
                .await?;
                rights.insert((*key, *time), committer);
            }
        }
        let lookup = FnLookup(|key: B256, time: u64| rights.get(&(key, time)).copied());

        for (slot, time) in timestamps {
            let fallback_answer = match fallback {
                Some(f) => {
                    let p = view(
                        &self.l1,
                        f,
                        IClockSource::preconferAtCall { slot: U256::from(*slot) },
                    )
                    .await?;
                    (!p.committer.is_zero())
                        .then_some(Preconfer { pubkey_hash: p.pubkeyHash, committer: p.committer })
                }
                None => None,
            };
            let preconfer = preconfer_at(clock, &entries, *slot, &lookup, |_| fallback_answer)
                .map_err(|e| invalid(e.to_string()))?;
            let proposer = proposers.get(slot).cloned();
            let committer = proposer
                .as_ref()
                .and_then(|p| rights.get(&(p.pubkey_hash, *time)).copied())
                .filter(|c| !c.is_zero());
            info.slots.push(SlotInfo {
                slot: U64::from(*slot),
                timestamp: U64::from(*time),
                proposer,
                opted_in: committer.is_some(),
                committer,
                preconfer: preconfer
                    .map(|p| SlotPreconfer { pubkey_hash: p.pubkey_hash, committer: p.committer }),
            });
        }
        Ok(())
    }

    /// The JSON-RPC module serving `based_lookahead`.
    pub fn into_rpc(self) -> RpcModule<Self> {
        let mut module = RpcModule::new(self);
        let registered =
            module.register_async_method("based_lookahead", |params, reader, _| async move {
                let epoch: Option<U64> = if params.is_object() {
                    params.parse::<HashMap<String, Option<U64>>>()?.remove("epoch").flatten()
                } else {
                    params.sequence().optional_next::<U64>()?
                };
                reader.lookahead(epoch.map(|e| e.to::<u64>())).await
            });
        if let Err(e) = registered {
            tracing::error!(target: "based::node", error = %e, "based_lookahead not registered");
        }
        module
    }
}
