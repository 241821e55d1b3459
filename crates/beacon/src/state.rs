//! The Fulu `BeaconState` as consensus clients serve it in SSZ
//! (`GET /eth/v2/debug/beacon/states/{state_id}` with `Accept: application/octet-stream`), with
//! every size read at run time from the chain's configuration ([`StateParams`], from
//! `GET /eth/v1/config/spec`), so one reader serves mainnet, minimal and custom presets.
//!
//! [`BeaconState::from_ssz_bytes`] decodes a state; [`BeaconState::field_roots`] gives the 38
//! `hash_tree_root`s of its fields, from which [`crate::ssz::StateProver`] builds the branches of a
//! lookahead contest (and whose Merkle root is the state root, checked against the block header's
//! `state_root` before any proof is trusted). [`BeaconState::to_ssz_bytes`] encodes one (the devnet
//! beacon service serves its states with it).
//!
//! Invariants: decoding never panics on any input; a state whose fixed vectors differ from the
//! configured sizes, whose lists exceed their limits or whose `justification_bits` has bits set
//! past the 4th is refused with a [`StateError`]. Containers whose shape does not depend on the
//! preset derive their SSZ and tree hash (`ethereum_ssz_derive`, `tree_hash_derive`); the
//! preset-sized fields are hashed with `tree_hash`'s Merkle functions.

use crate::ssz::{BEACON_STATE_DEPTH, BEACON_STATE_FIELDS, BeaconBlockHeader, Validator};
use alloy_primitives::{Address, B256, FixedBytes, U256};
use ssz::{DecodeError, Encode, SszDecoderBuilder, SszEncoder};
use ssz_derive::{Decode, Encode};
use ssz_types::{VariableList, typenum::U32};
use std::collections::HashMap;
use tree_hash::{BYTES_PER_CHUNK, TreeHash, merkle_root, mix_in_length};
use tree_hash_derive::TreeHash;

/// The consensus version this module reads (`Eth-Consensus-Version` of a state response).
pub const FULU: &str = "fulu";

/// Errors of reading or writing a state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Not a valid SSZ encoding of a Fulu `BeaconState` of these sizes.
    #[error("invalid SSZ BeaconState: {0}")]
    Ssz(String),
    /// A fixed-size vector with another length than configured.
    #[error("{field} has {got} elements, expected {expected}")]
    VectorLength {
        /// The field.
        field: &'static str,
        /// Configured length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// A list longer than its limit.
    #[error("{field} has {got} elements, limit {limit}")]
    ListTooLong {
        /// The field.
        field: &'static str,
        /// The limit.
        limit: usize,
        /// Actual length.
        got: usize,
    },
    /// `justification_bits` with bits set past `JUSTIFICATION_BITS_LENGTH` (4).
    #[error("justification_bits {0:#04x} has bits set past the 4th")]
    JustificationBits(u8),
    /// A configuration value missing, malformed or out of range.
    #[error("chain configuration: {0}")]
    Config(String),
}

impl From<DecodeError> for StateError {
    fn from(e: DecodeError) -> Self {
        Self::Ssz(format!("{e:?}"))
    }
}

/// The preset sizes of a `BeaconState` (names as in the consensus specs' presets and in
/// `/eth/v1/config/spec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateParams {
    /// `SLOTS_PER_EPOCH`.
    pub slots_per_epoch: usize,
    /// `MIN_SEED_LOOKAHEAD`.
    pub min_seed_lookahead: usize,
    /// `SLOTS_PER_HISTORICAL_ROOT` (`block_roots`, `state_roots`).
    pub slots_per_historical_root: usize,
    /// `HISTORICAL_ROOTS_LIMIT` (`historical_roots`, `historical_summaries`).
    pub historical_roots_limit: usize,
    /// `EPOCHS_PER_ETH1_VOTING_PERIOD` (`eth1_data_votes` holds this times `SLOTS_PER_EPOCH`).
    pub epochs_per_eth1_voting_period: usize,
    /// `VALIDATOR_REGISTRY_LIMIT`.
    pub validator_registry_limit: usize,
    /// `EPOCHS_PER_HISTORICAL_VECTOR` (`randao_mixes`).
    pub epochs_per_historical_vector: usize,
    /// `EPOCHS_PER_SLASHINGS_VECTOR` (`slashings`).
    pub epochs_per_slashings_vector: usize,
    /// `SYNC_COMMITTEE_SIZE`.
    pub sync_committee_size: usize,
    /// `PENDING_DEPOSITS_LIMIT`.
    pub pending_deposits_limit: usize,
    /// `PENDING_PARTIAL_WITHDRAWALS_LIMIT`.
    pub pending_partial_withdrawals_limit: usize,
    /// `PENDING_CONSOLIDATIONS_LIMIT`.
    pub pending_consolidations_limit: usize,
}

/// `BYTES_PER_LOGS_BLOOM` (the same in every preset; checked when read from a spec).
pub const BYTES_PER_LOGS_BLOOM: usize = 256;
/// `MAX_EXTRA_DATA_BYTES` (the same in every preset; checked when read from a spec).
pub const MAX_EXTRA_DATA_BYTES: usize = 32;

impl StateParams {
    /// The mainnet preset.
    pub const fn mainnet() -> Self {
        Self {
            slots_per_epoch: 32,
            min_seed_lookahead: 1,
            slots_per_historical_root: 8192,
            historical_roots_limit: 1 << 24,
            epochs_per_eth1_voting_period: 64,
            validator_registry_limit: 1 << 40,
            epochs_per_historical_vector: 65_536,
            epochs_per_slashings_vector: 8192,
            sync_committee_size: 512,
            pending_deposits_limit: 1 << 27,
            pending_partial_withdrawals_limit: 1 << 27,
            pending_consolidations_limit: 1 << 18,
        }
    }

    /// The minimal preset.
    pub const fn minimal() -> Self {
        Self {
            slots_per_epoch: 8,
            min_seed_lookahead: 1,
            slots_per_historical_root: 64,
            historical_roots_limit: 1 << 24,
            epochs_per_eth1_voting_period: 4,
            validator_registry_limit: 1 << 40,
            epochs_per_historical_vector: 64,
            epochs_per_slashings_vector: 64,
            sync_committee_size: 32,
            pending_deposits_limit: 1 << 27,
            pending_partial_withdrawals_limit: 64,
            pending_consolidations_limit: 64,
        }
    }

    /// Length of `proposer_lookahead`: `(MIN_SEED_LOOKAHEAD + 1) * SLOTS_PER_EPOCH`.
    pub const fn lookahead_len(&self) -> usize {
        self.min_seed_lookahead.saturating_add(1).saturating_mul(self.slots_per_epoch)
    }

    /// The sizes from a `/eth/v1/config/spec` answer (`data`: names to decimal strings).
    ///
    /// Every size must be present and positive (vectors and list limits at most 2^40);
    /// `BYTES_PER_LOGS_BLOOM` and `MAX_EXTRA_DATA_BYTES`, if present, must have their only values.
    pub fn from_spec(spec: &HashMap<String, serde_json::Value>) -> Result<Self, StateError> {
        // Every size in `min..=2^40` (only `MIN_SEED_LOOKAHEAD` may be 0).
        let within = |key: &str, min: usize| -> Result<usize, StateError> {
            let n = crate::types::spec_number(spec, key).map_err(StateError::Config)?;
            usize::try_from(n)
                .ok()
                .filter(|n| (min..=1usize << 40).contains(n))
                .ok_or_else(|| StateError::Config(format!("bad {key}: {n}")))
        };
        let get = |key: &str| within(key, 1);
        for (key, only) in [
            ("BYTES_PER_LOGS_BLOOM", BYTES_PER_LOGS_BLOOM),
            ("MAX_EXTRA_DATA_BYTES", MAX_EXTRA_DATA_BYTES),
        ] {
            if spec.contains_key(key) && get(key)? != only {
                return Err(StateError::Config(format!("{key} must be {only}")));
            }
        }
        let min_seed_lookahead = within("MIN_SEED_LOOKAHEAD", 0)?;
        Ok(Self {
            slots_per_epoch: get("SLOTS_PER_EPOCH")?,
            min_seed_lookahead,
            slots_per_historical_root: get("SLOTS_PER_HISTORICAL_ROOT")?,
            historical_roots_limit: get("HISTORICAL_ROOTS_LIMIT")?,
            epochs_per_eth1_voting_period: get("EPOCHS_PER_ETH1_VOTING_PERIOD")?,
            validator_registry_limit: get("VALIDATOR_REGISTRY_LIMIT")?,
            epochs_per_historical_vector: get("EPOCHS_PER_HISTORICAL_VECTOR")?,
            epochs_per_slashings_vector: get("EPOCHS_PER_SLASHINGS_VECTOR")?,
            sync_committee_size: get("SYNC_COMMITTEE_SIZE")?,
            pending_deposits_limit: get("PENDING_DEPOSITS_LIMIT")?,
            pending_partial_withdrawals_limit: get("PENDING_PARTIAL_WITHDRAWALS_LIMIT")?,
            pending_consolidations_limit: get("PENDING_CONSOLIDATIONS_LIMIT")?,
        })
    }

    /// These sizes as `/eth/v1/config/spec` entries (decimal strings).
    pub fn spec_entries(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SLOTS_PER_EPOCH", self.slots_per_epoch.to_string()),
            ("MIN_SEED_LOOKAHEAD", self.min_seed_lookahead.to_string()),
            ("SLOTS_PER_HISTORICAL_ROOT", self.slots_per_historical_root.to_string()),
            ("HISTORICAL_ROOTS_LIMIT", self.historical_roots_limit.to_string()),
            ("EPOCHS_PER_ETH1_VOTING_PERIOD", self.epochs_per_eth1_voting_period.to_string()),
            ("VALIDATOR_REGISTRY_LIMIT", self.validator_registry_limit.to_string()),
            ("EPOCHS_PER_HISTORICAL_VECTOR", self.epochs_per_historical_vector.to_string()),
            ("EPOCHS_PER_SLASHINGS_VECTOR", self.epochs_per_slashings_vector.to_string()),
            ("SYNC_COMMITTEE_SIZE", self.sync_committee_size.to_string()),
            ("PENDING_DEPOSITS_LIMIT", self.pending_deposits_limit.to_string()),
            (
                "PENDING_PARTIAL_WITHDRAWALS_LIMIT",
                self.pending_partial_withdrawals_limit.to_string(),
            ),
            ("PENDING_CONSOLIDATIONS_LIMIT", self.pending_consolidations_limit.to_string()),
            ("BYTES_PER_LOGS_BLOOM", BYTES_PER_LOGS_BLOOM.to_string()),
            ("MAX_EXTRA_DATA_BYTES", MAX_EXTRA_DATA_BYTES.to_string()),
        ]
    }

    /// `eth1_data_votes`' limit.
    const fn eth1_votes_limit(&self) -> usize {
        self.epochs_per_eth1_voting_period.saturating_mul(self.slots_per_epoch)
    }
}

/// `Fork`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct Fork {
    /// Previous fork version.
    pub previous_version: [u8; 4],
    /// Current fork version.
    pub current_version: [u8; 4],
    /// Epoch of the current fork.
    pub epoch: u64,
}

/// `Checkpoint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct Checkpoint {
    /// Epoch.
    pub epoch: u64,
    /// Block root.
    pub root: B256,
}

/// `Eth1Data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct Eth1Data {
    /// Deposit contract root.
    pub deposit_root: B256,
    /// Deposit count.
    pub deposit_count: u64,
    /// Execution block hash.
    pub block_hash: B256,
}

/// `HistoricalSummary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct HistoricalSummary {
    /// Root of the block roots.
    pub block_summary_root: B256,
    /// Root of the state roots.
    pub state_summary_root: B256,
}

/// `PendingDeposit` (Electra).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct PendingDeposit {
    /// BLS public key.
    pub pubkey: FixedBytes<48>,
    /// Withdrawal credentials.
    pub withdrawal_credentials: B256,
    /// Amount (gwei).
    pub amount: u64,
    /// BLS signature.
    pub signature: FixedBytes<96>,
    /// Slot.
    pub slot: u64,
}

/// `PendingPartialWithdrawal` (Electra).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct PendingPartialWithdrawal {
    /// Validator index.
    pub validator_index: u64,
    /// Amount (gwei).
    pub amount: u64,
    /// Withdrawable epoch.
    pub withdrawable_epoch: u64,
}

/// `PendingConsolidation` (Electra).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct PendingConsolidation {
    /// Source validator index.
    pub source_index: u64,
    /// Target validator index.
    pub target_index: u64,
}

/// `ExecutionPayloadHeader` (Deneb; unchanged through Fulu).
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct ExecutionPayloadHeader {
    /// Parent hash.
    pub parent_hash: B256,
    /// Fee recipient.
    pub fee_recipient: Address,
    /// State root.
    pub state_root: B256,
    /// Receipts root.
    pub receipts_root: B256,
    /// Logs bloom.
    pub logs_bloom: FixedBytes<BYTES_PER_LOGS_BLOOM>,
    /// `prevRandao`.
    pub prev_randao: B256,
    /// Block number.
    pub block_number: u64,
    /// Gas limit.
    pub gas_limit: u64,
    /// Gas used.
    pub gas_used: u64,
    /// Timestamp.
    pub timestamp: u64,
    /// Extra data (at most 32 bytes).
    pub extra_data: VariableList<u8, U32>,
    /// Base fee.
    pub base_fee_per_gas: U256,
    /// Block hash.
    pub block_hash: B256,
    /// Root of the transactions.
    pub transactions_root: B256,
    /// Root of the withdrawals.
    pub withdrawals_root: B256,
    /// Blob gas used.
    pub blob_gas_used: u64,
    /// Excess blob gas.
    pub excess_blob_gas: u64,
}

/// `SyncCommittee` (`SYNC_COMMITTEE_SIZE` keys, a run-time size).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncCommittee {
    /// Member keys.
    pub pubkeys: Vec<FixedBytes<48>>,
    /// Aggregate key.
    pub aggregate_pubkey: FixedBytes<48>,
}

impl SyncCommittee {
    fn root(&self) -> B256 {
        let roots: Vec<u8> =
            self.pubkeys.iter().flat_map(|k| k.tree_hash_root().0).collect::<Vec<u8>>();
        let pubkeys = merkle_root(&roots, 0);
        crate::ssz::hash_pair(&pubkeys, &self.aggregate_pubkey.tree_hash_root())
    }
}

/// A Fulu `BeaconState`, fields in their SSZ order. Preset-sized vectors and lists are `Vec`s
/// whose lengths [`StateParams`] checks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct BeaconState {
    pub genesis_time: u64,
    pub genesis_validators_root: B256,
    pub slot: u64,
    pub fork: Fork,
    pub latest_block_header: BeaconBlockHeader,
    pub block_roots: Vec<B256>,
    pub state_roots: Vec<B256>,
    pub historical_roots: Vec<B256>,
    pub eth1_data: Eth1Data,
    pub eth1_data_votes: Vec<Eth1Data>,
    pub eth1_deposit_index: u64,
    pub validators: Vec<Validator>,
    pub balances: Vec<u64>,
    pub randao_mixes: Vec<B256>,
    pub slashings: Vec<u64>,
    pub previous_epoch_participation: Vec<u8>,
    pub current_epoch_participation: Vec<u8>,
    /// `Bitvector[4]`: bit `i` is `1 << i`.
    pub justification_bits: u8,
    pub previous_justified_checkpoint: Checkpoint,
    pub current_justified_checkpoint: Checkpoint,
    pub finalized_checkpoint: Checkpoint,
    pub inactivity_scores: Vec<u64>,
    pub current_sync_committee: SyncCommittee,
    pub next_sync_committee: SyncCommittee,
    pub latest_execution_payload_header: ExecutionPayloadHeader,
    pub next_withdrawal_index: u64,
    pub next_withdrawal_validator_index: u64,
    pub historical_summaries: Vec<HistoricalSummary>,
    pub deposit_requests_start_index: u64,
    pub deposit_balance_to_consume: u64,
    pub exit_balance_to_consume: u64,
    pub earliest_exit_epoch: u64,
    pub consolidation_balance_to_consume: u64,
    pub earliest_consolidation_epoch: u64,
    pub pending_deposits: Vec<PendingDeposit>,
    pub pending_partial_withdrawals: Vec<PendingPartialWithdrawal>,
    pub pending_consolidations: Vec<PendingConsolidation>,
    /// `Vector[ValidatorIndex, (MIN_SEED_LOOKAHEAD + 1) * SLOTS_PER_EPOCH]` (EIP-7917).
    pub proposer_lookahead: Vec<u64>,
}

/// How one field is laid out: fixed with this many bytes, or variable (an offset).
#[derive(Debug, Clone, Copy)]
enum Part {
    Fixed(usize),
    Variable,
}

fn fixed<T: Encode>() -> Part {
    Part::Fixed(<T as Encode>::ssz_fixed_len())
}

/// The 38 fields' SSZ layout for `p` (shared by the decoder and the encoder).
fn layout(p: &StateParams) -> [Part; BEACON_STATE_FIELDS] {
    let roots = |n: usize| Part::Fixed(n.saturating_mul(32));
    let words = |n: usize| Part::Fixed(n.saturating_mul(8));
    let committee = Part::Fixed(p.sync_committee_size.saturating_add(1).saturating_mul(48));
    let v = Part::Variable;
    let u = fixed::<u64>();
    [
        u,                                     // genesis_time
        fixed::<B256>(),                       // genesis_validators_root
        u,                                     // slot
        fixed::<Fork>(),                       // fork
        fixed::<BeaconBlockHeader>(),          // latest_block_header
        roots(p.slots_per_historical_root),    // block_roots
        roots(p.slots_per_historical_root),    // state_roots
        v,                                     // historical_roots
        fixed::<Eth1Data>(),                   // eth1_data
        v,                                     // eth1_data_votes
        u,                                     // eth1_deposit_index
        v,                                     // validators
        v,                                     // balances
        roots(p.epochs_per_historical_vector), // randao_mixes
        words(p.epochs_per_slashings_vector),  // slashings
        v,                                     // previous_epoch_participation
        v,                                     // current_epoch_participation
        Part::Fixed(1),                        // justification_bits
        fixed::<Checkpoint>(),                 // previous_justified_checkpoint
        fixed::<Checkpoint>(),                 // current_justified_checkpoint
        fixed::<Checkpoint>(),                 // finalized_checkpoint
        v,                                     // inactivity_scores
        committee,                             // current_sync_committee
        committee,                             // next_sync_committee
        v,                                     // latest_execution_payload_header
        u,                                     // next_withdrawal_index
        u,                                     // next_withdrawal_validator_index
        v,                                     // historical_summaries
        u,                                     // deposit_requests_start_index
        u,                                     // deposit_balance_to_consume
        u,                                     // exit_balance_to_consume
        u,                                     // earliest_exit_epoch
        u,                                     // consolidation_balance_to_consume
        u,                                     // earliest_consolidation_epoch
        v,                                     // pending_deposits
        v,                                     // pending_partial_withdrawals
        v,                                     // pending_consolidations
        words(p.lookahead_len()),              // proposer_lookahead
    ]
}

fn chunks32(bytes: &[u8]) -> Vec<B256> {
    bytes.chunks_exact(32).map(B256::from_slice).collect()
}

fn words8(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(<[u8; 8]>::try_from(c).unwrap_or_default()))
        .collect()
}

fn committee_from(bytes: &[u8]) -> SyncCommittee {
    let mut keys: Vec<FixedBytes<48>> =
        bytes.chunks_exact(48).map(FixedBytes::<48>::from_slice).collect();
    let aggregate_pubkey = keys.pop().unwrap_or_default();
    SyncCommittee { pubkeys: keys, aggregate_pubkey }
}

fn check_len(field: &'static str, expected: usize, got: usize) -> Result<(), StateError> {
    if expected == got { Ok(()) } else { Err(StateError::VectorLength { field, expected, got }) }
}

fn check_limit(field: &'static str, limit: usize, got: usize) -> Result<(), StateError> {
    if got <= limit { Ok(()) } else { Err(StateError::ListTooLong { field, limit, got }) }
}

/// Root of a `Vector[B256, n]` (`n = roots.len()`).
fn roots_vector_root(roots: &[B256]) -> B256 {
    let bytes: Vec<u8> = roots.iter().flat_map(|r| r.0).collect();
    merkle_root(&bytes, 0)
}

/// Root of a `List` whose elements have these `hash_tree_root`s, with `limit` elements at most.
fn composite_list_root(roots: &[B256], limit: usize) -> B256 {
    let bytes: Vec<u8> = roots.iter().flat_map(|r| r.0).collect();
    mix_in_length(&merkle_root(&bytes, limit), roots.len())
}

/// Root of a `List` of a basic type (`packed` = its elements' little-endian bytes), `limit`
/// elements of `size` bytes at most.
fn basic_list_root(packed: &[u8], len: usize, size: usize, limit: usize) -> B256 {
    let limit_chunks = limit.saturating_mul(size).div_ceil(BYTES_PER_CHUNK);
    mix_in_length(&merkle_root(packed, limit_chunks), len)
}

fn le_words(values: &[u64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

impl BeaconState {
    /// Decodes the SSZ encoding of a Fulu `BeaconState` with the sizes `p`.
    pub fn from_ssz_bytes(bytes: &[u8], p: &StateParams) -> Result<Self, StateError> {
        let parts = layout(p);
        let mut builder = SszDecoderBuilder::new(bytes);
        for part in parts {
            match part {
                Part::Fixed(n) => builder.register_type_parameterized(true, n)?,
                Part::Variable => builder.register_anonymous_variable_length_item()?,
            }
        }
        let mut d = builder.build()?;
        let raw = |b: &[u8]| -> Result<Vec<u8>, DecodeError> { Ok(b.to_vec()) };
        let state = Self {
            genesis_time: d.decode_next()?,
            genesis_validators_root: d.decode_next()?,
            slot: d.decode_next()?,
            fork: d.decode_next()?,
            latest_block_header: d.decode_next()?,
            block_roots: chunks32(&d.decode_next_with(raw)?),
            state_roots: chunks32(&d.decode_next_with(raw)?),
            historical_roots: d.decode_next()?,
            eth1_data: d.decode_next()?,
            eth1_data_votes: d.decode_next()?,
            eth1_deposit_index: d.decode_next()?,
            validators: d.decode_next()?,
            balances: d.decode_next()?,
            randao_mixes: chunks32(&d.decode_next_with(raw)?),
            slashings: words8(&d.decode_next_with(raw)?),
            previous_epoch_participation: d.decode_next()?,
            current_epoch_participation: d.decode_next()?,
            justification_bits: d.decode_next()?,
            previous_justified_checkpoint: d.decode_next()?,
            current_justified_checkpoint: d.decode_next()?,
            finalized_checkpoint: d.decode_next()?,
            inactivity_scores: d.decode_next()?,
            current_sync_committee: committee_from(&d.decode_next_with(raw)?),
            next_sync_committee: committee_from(&d.decode_next_with(raw)?),
            latest_execution_payload_header: d.decode_next()?,
            next_withdrawal_index: d.decode_next()?,
            next_withdrawal_validator_index: d.decode_next()?,
            historical_summaries: d.decode_next()?,
            deposit_requests_start_index: d.decode_next()?,
            deposit_balance_to_consume: d.decode_next()?,
            exit_balance_to_consume: d.decode_next()?,
            earliest_exit_epoch: d.decode_next()?,
            consolidation_balance_to_consume: d.decode_next()?,
            earliest_consolidation_epoch: d.decode_next()?,
            pending_deposits: d.decode_next()?,
            pending_partial_withdrawals: d.decode_next()?,
            pending_consolidations: d.decode_next()?,
            proposer_lookahead: words8(&d.decode_next_with(raw)?),
        };
        state.check(p)?;
        Ok(state)
    }

    /// Checks every size against `p` (fixed vectors exact, lists within their limits).
    pub fn check(&self, p: &StateParams) -> Result<(), StateError> {
        check_len("block_roots", p.slots_per_historical_root, self.block_roots.len())?;
        check_len("state_roots", p.slots_per_historical_root, self.state_roots.len())?;
        check_len("randao_mixes", p.epochs_per_historical_vector, self.randao_mixes.len())?;
        check_len("slashings", p.epochs_per_slashings_vector, self.slashings.len())?;
        for (field, committee) in [
            ("current_sync_committee", &self.current_sync_committee),
            ("next_sync_committee", &self.next_sync_committee),
        ] {
            check_len(field, p.sync_committee_size, committee.pubkeys.len())?;
        }
        check_len("proposer_lookahead", p.lookahead_len(), self.proposer_lookahead.len())?;
        let registry = p.validator_registry_limit;
        check_limit("historical_roots", p.historical_roots_limit, self.historical_roots.len())?;
        check_limit("eth1_data_votes", p.eth1_votes_limit(), self.eth1_data_votes.len())?;
        check_limit("validators", registry, self.validators.len())?;
        check_limit("balances", registry, self.balances.len())?;
        check_limit(
            "previous_epoch_participation",
            registry,
            self.previous_epoch_participation.len(),
        )?;
        check_limit(
            "current_epoch_participation",
            registry,
            self.current_epoch_participation.len(),
        )?;
        check_limit("inactivity_scores", registry, self.inactivity_scores.len())?;
        check_limit(
            "historical_summaries",
            p.historical_roots_limit,
            self.historical_summaries.len(),
        )?;
        check_limit("pending_deposits", p.pending_deposits_limit, self.pending_deposits.len())?;
        check_limit(
            "pending_partial_withdrawals",
            p.pending_partial_withdrawals_limit,
            self.pending_partial_withdrawals.len(),
        )?;
        check_limit(
            "pending_consolidations",
            p.pending_consolidations_limit,
            self.pending_consolidations.len(),
        )?;
        if self.justification_bits & 0xf0 != 0 {
            return Err(StateError::JustificationBits(self.justification_bits));
        }
        Ok(())
    }

    /// The SSZ encoding (after [`Self::check`]).
    pub fn to_ssz_bytes(&self, p: &StateParams) -> Result<Vec<u8>, StateError> {
        self.check(p)?;
        let parts = layout(p);
        let fixed_len = parts
            .iter()
            .map(|part| match part {
                Part::Fixed(n) => *n,
                Part::Variable => ssz::BYTES_PER_LENGTH_OFFSET,
            })
            .fold(0usize, usize::saturating_add);
        let mut buf = Vec::new();
        let mut e = SszEncoder::container(&mut buf, fixed_len);
        let roots = |rs: &[B256]| -> Vec<u8> { rs.iter().flat_map(|r| r.0).collect() };
        let committee = |c: &SyncCommittee| -> Vec<u8> {
            c.pubkeys.iter().chain([&c.aggregate_pubkey]).flat_map(|k| k.0).collect()
        };
        let raw = |e: &mut SszEncoder<'_>, bytes: Vec<u8>| {
            e.append_parameterized(true, |buf| buf.extend_from_slice(&bytes));
        };
        e.append(&self.genesis_time);
        e.append(&self.genesis_validators_root);
        e.append(&self.slot);
        e.append(&self.fork);
        e.append(&self.latest_block_header);
        raw(&mut e, roots(&self.block_roots));
        raw(&mut e, roots(&self.state_roots));
        e.append(&self.historical_roots);
        e.append(&self.eth1_data);
        e.append(&self.eth1_data_votes);
        e.append(&self.eth1_deposit_index);
        e.append(&self.validators);
        e.append(&self.balances);
        raw(&mut e, roots(&self.randao_mixes));
        raw(&mut e, le_words(&self.slashings));
        e.append(&self.previous_epoch_participation);
        e.append(&self.current_epoch_participation);
        e.append(&self.justification_bits);
        e.append(&self.previous_justified_checkpoint);
        e.append(&self.current_justified_checkpoint);
        e.append(&self.finalized_checkpoint);
        e.append(&self.inactivity_scores);
        raw(&mut e, committee(&self.current_sync_committee));
        raw(&mut e, committee(&self.next_sync_committee));
        e.append(&self.latest_execution_payload_header);
        e.append(&self.next_withdrawal_index);
        e.append(&self.next_withdrawal_validator_index);
        e.append(&self.historical_summaries);
        e.append(&self.deposit_requests_start_index);
        e.append(&self.deposit_balance_to_consume);
        e.append(&self.exit_balance_to_consume);
        e.append(&self.earliest_exit_epoch);
        e.append(&self.consolidation_balance_to_consume);
        e.append(&self.earliest_consolidation_epoch);
        e.append(&self.pending_deposits);
        e.append(&self.pending_partial_withdrawals);
        e.append(&self.pending_consolidations);
        raw(&mut e, le_words(&self.proposer_lookahead));
        e.finalize();
        Ok(buf)
    }

    /// The `hash_tree_root`s of the 38 fields, in order (after [`Self::check`]).
    pub fn field_roots(&self, p: &StateParams) -> Result<Vec<B256>, StateError> {
        self.roots(p, true)
    }

    /// The field roots; that of `validators` zero unless `with_validators` (the prover hashes the
    /// validators itself, once).
    fn roots(&self, p: &StateParams, with_validators: bool) -> Result<Vec<B256>, StateError> {
        self.check(p)?;
        let registry = p.validator_registry_limit;
        let list = |roots: Vec<B256>, limit: usize| composite_list_root(&roots, limit);
        let u = |v: u64| v.tree_hash_root();
        let mut bits = [0u8; 32];
        bits[0] = self.justification_bits;
        Ok(vec![
            u(self.genesis_time),
            self.genesis_validators_root,
            u(self.slot),
            self.fork.tree_hash_root(),
            self.latest_block_header.tree_hash_root(),
            roots_vector_root(&self.block_roots),
            roots_vector_root(&self.state_roots),
            composite_list_root(&self.historical_roots, p.historical_roots_limit),
            self.eth1_data.tree_hash_root(),
            list(
                self.eth1_data_votes.iter().map(TreeHash::tree_hash_root).collect(),
                p.eth1_votes_limit(),
            ),
            u(self.eth1_deposit_index),
            if with_validators {
                list(self.validators.iter().map(TreeHash::tree_hash_root).collect(), registry)
            } else {
                B256::ZERO
            },
            basic_list_root(&le_words(&self.balances), self.balances.len(), 8, registry),
            roots_vector_root(&self.randao_mixes),
            merkle_root(&le_words(&self.slashings), 0),
            basic_list_root(
                &self.previous_epoch_participation,
                self.previous_epoch_participation.len(),
                1,
                registry,
            ),
            basic_list_root(
                &self.current_epoch_participation,
                self.current_epoch_participation.len(),
                1,
                registry,
            ),
            B256::from(bits),
            self.previous_justified_checkpoint.tree_hash_root(),
            self.current_justified_checkpoint.tree_hash_root(),
            self.finalized_checkpoint.tree_hash_root(),
            basic_list_root(
                &le_words(&self.inactivity_scores),
                self.inactivity_scores.len(),
                8,
                registry,
            ),
            self.current_sync_committee.root(),
            self.next_sync_committee.root(),
            self.latest_execution_payload_header.tree_hash_root(),
            u(self.next_withdrawal_index),
            u(self.next_withdrawal_validator_index),
            list(
                self.historical_summaries.iter().map(TreeHash::tree_hash_root).collect(),
                p.historical_roots_limit,
            ),
            u(self.deposit_requests_start_index),
            u(self.deposit_balance_to_consume),
            u(self.exit_balance_to_consume),
            u(self.earliest_exit_epoch),
            u(self.consolidation_balance_to_consume),
            u(self.earliest_consolidation_epoch),
            list(
                self.pending_deposits.iter().map(TreeHash::tree_hash_root).collect(),
                p.pending_deposits_limit,
            ),
            list(
                self.pending_partial_withdrawals.iter().map(TreeHash::tree_hash_root).collect(),
                p.pending_partial_withdrawals_limit,
            ),
            list(
                self.pending_consolidations.iter().map(TreeHash::tree_hash_root).collect(),
                p.pending_consolidations_limit,
            ),
            merkle_root(&le_words(&self.proposer_lookahead), 0),
        ])
    }

    /// The state root (`hash_tree_root`).
    pub fn root(&self, p: &StateParams) -> Result<B256, StateError> {
        let roots = self.field_roots(p)?;
        Ok(crate::ssz::merkle_branch(&roots, BEACON_STATE_DEPTH, 0).0)
    }

    /// The prover of a lookahead contest over this state (its field roots, `proposer_lookahead`
    /// and `validators`). The contest's proofs (and the `Lookahead` contract) assume
    /// `MIN_SEED_LOOKAHEAD = 1` and `VALIDATOR_REGISTRY_LIMIT = 2^40`, as every preset has them;
    /// other sizes are refused here.
    pub fn into_prover(self, p: &StateParams) -> Result<crate::ssz::StateProver, StateError> {
        if p.min_seed_lookahead != 1 {
            return Err(StateError::Config(format!(
                "MIN_SEED_LOOKAHEAD {} (the contest proves a lookahead of 2 epochs)",
                p.min_seed_lookahead
            )));
        }
        if p.validator_registry_limit != 1usize << crate::ssz::VALIDATOR_REGISTRY_DEPTH {
            return Err(StateError::Config(format!(
                "VALIDATOR_REGISTRY_LIMIT {} (the contest's proofs assume 2^40)",
                p.validator_registry_limit
            )));
        }
        // `StateProver::new` computes the validators' root (and keeps their leaves for the branch).
        let roots = self.roots(p, false)?;
        crate::ssz::StateProver::new(
            roots,
            p.slots_per_epoch as u64,
            self.proposer_lookahead,
            self.validators,
        )
        .map_err(|e| StateError::Ssz(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssz::{proposer_lookahead_gindex, validator_pubkey_gindex, verify_branch};
    use ssz::Decode as _;
    use ssz_types::{
        BitVector, FixedVector,
        typenum::{self, Unsigned},
    };

    /// The preset sizes as types, for an independent `ssz_types` + derive encoding of the state.
    trait TypedPreset: Clone + std::fmt::Debug + PartialEq {
        type SlotsPerHistoricalRoot: Unsigned + Clone + std::fmt::Debug + PartialEq;
        type HistoricalRootsLimit: Unsigned + Clone + std::fmt::Debug + PartialEq;
        type Eth1VotesLimit: Unsigned + Clone + std::fmt::Debug + PartialEq;
        type EpochsPerHistoricalVector: Unsigned + Clone + std::fmt::Debug + PartialEq;
        type EpochsPerSlashingsVector: Unsigned + Clone + std::fmt::Debug + PartialEq;
        type SyncCommitteeSize: Unsigned + Clone + std::fmt::Debug + PartialEq;
        type PendingDepositsLimit: Unsigned + Clone + std::fmt::Debug + PartialEq;
        type PendingPartialWithdrawalsLimit: Unsigned + Clone + std::fmt::Debug + PartialEq;
        type PendingConsolidationsLimit: Unsigned + Clone + std::fmt::Debug + PartialEq;
        type LookaheadLen: Unsigned + Clone + std::fmt::Debug + PartialEq;
        fn params() -> StateParams;
    }

    #[derive(Debug, Clone, PartialEq)]
    struct Mainnet;
    impl TypedPreset for Mainnet {
        type SlotsPerHistoricalRoot = typenum::U8192;
        type HistoricalRootsLimit = typenum::U16777216;
        type Eth1VotesLimit = typenum::U2048;
        type EpochsPerHistoricalVector = typenum::U65536;
        type EpochsPerSlashingsVector = typenum::U8192;
        type SyncCommitteeSize = typenum::U512;
        type PendingDepositsLimit = typenum::U134217728;
        type PendingPartialWithdrawalsLimit = typenum::U134217728;
        type PendingConsolidationsLimit = typenum::U262144;
        type LookaheadLen = typenum::U64;
        fn params() -> StateParams {
            StateParams::mainnet()
        }
    }

    /// Minimal sizes with 4-slot epochs (the devnet's).
    #[derive(Debug, Clone, PartialEq)]
    struct Devnet;
    impl TypedPreset for Devnet {
        type SlotsPerHistoricalRoot = typenum::U64;
        type HistoricalRootsLimit = typenum::U16777216;
        type Eth1VotesLimit = typenum::U16;
        type EpochsPerHistoricalVector = typenum::U64;
        type EpochsPerSlashingsVector = typenum::U64;
        type SyncCommitteeSize = typenum::U32;
        type PendingDepositsLimit = typenum::U134217728;
        type PendingPartialWithdrawalsLimit = typenum::U64;
        type PendingConsolidationsLimit = typenum::U64;
        type LookaheadLen = typenum::U8;
        fn params() -> StateParams {
            StateParams { slots_per_epoch: 4, ..StateParams::minimal() }
        }
    }

    type Registry = typenum::U1099511627776;

    #[derive(Debug, Clone, PartialEq, Encode, ssz_derive::Decode, TreeHash)]
    struct TypedCommittee<P: TypedPreset> {
        pubkeys: FixedVector<FixedBytes<48>, P::SyncCommitteeSize>,
        aggregate_pubkey: FixedBytes<48>,
    }

    /// The Fulu `BeaconState` as the consensus specs write it, with `ssz_types`.
    #[derive(Debug, Clone, PartialEq, Encode, ssz_derive::Decode, TreeHash)]
    struct TypedState<P: TypedPreset> {
        genesis_time: u64,
        genesis_validators_root: B256,
        slot: u64,
        fork: Fork,
        latest_block_header: BeaconBlockHeader,
        block_roots: FixedVector<B256, P::SlotsPerHistoricalRoot>,
        state_roots: FixedVector<B256, P::SlotsPerHistoricalRoot>,
        historical_roots: VariableList<B256, P::HistoricalRootsLimit>,
        eth1_data: Eth1Data,
        eth1_data_votes: VariableList<Eth1Data, P::Eth1VotesLimit>,
        eth1_deposit_index: u64,
        validators: VariableList<Validator, Registry>,
        balances: VariableList<u64, Registry>,
        randao_mixes: FixedVector<B256, P::EpochsPerHistoricalVector>,
        slashings: FixedVector<u64, P::EpochsPerSlashingsVector>,
        previous_epoch_participation: VariableList<u8, Registry>,
        current_epoch_participation: VariableList<u8, Registry>,
        justification_bits: BitVector<typenum::U4>,
        previous_justified_checkpoint: Checkpoint,
        current_justified_checkpoint: Checkpoint,
        finalized_checkpoint: Checkpoint,
        inactivity_scores: VariableList<u64, Registry>,
        current_sync_committee: TypedCommittee<P>,
        next_sync_committee: TypedCommittee<P>,
        latest_execution_payload_header: ExecutionPayloadHeader,
        next_withdrawal_index: u64,
        next_withdrawal_validator_index: u64,
        historical_summaries: VariableList<HistoricalSummary, P::HistoricalRootsLimit>,
        deposit_requests_start_index: u64,
        deposit_balance_to_consume: u64,
        exit_balance_to_consume: u64,
        earliest_exit_epoch: u64,
        consolidation_balance_to_consume: u64,
        earliest_consolidation_epoch: u64,
        pending_deposits: VariableList<PendingDeposit, P::PendingDepositsLimit>,
        pending_partial_withdrawals:
            VariableList<PendingPartialWithdrawal, P::PendingPartialWithdrawalsLimit>,
        pending_consolidations: VariableList<PendingConsolidation, P::PendingConsolidationsLimit>,
        proposer_lookahead: FixedVector<u64, P::LookaheadLen>,
    }

    /// Deterministic distinct values: every field differs from every other, so a field read in
    /// the wrong place changes a root.
    struct Gen(u64);
    impl Gen {
        fn u(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            self.0 >> 3
        }
        fn b<const N: usize>(&mut self) -> FixedBytes<N> {
            let mut out = [0u8; N];
            for chunk in out.chunks_mut(8) {
                let v = self.u().to_le_bytes();
                chunk.copy_from_slice(&v[..chunk.len()]);
            }
            FixedBytes(out)
        }
        fn vec<T>(&mut self, n: usize, mut f: impl FnMut(&mut Self) -> T) -> Vec<T> {
            (0..n).map(|_| f(self)).collect()
        }
    }

    fn sample(p: &StateParams, validators: usize, seed: u64) -> BeaconState {
        let mut g = Gen(seed);
        let committee = |g: &mut Gen| SyncCommittee {
            pubkeys: g.vec(p.sync_committee_size, |g| g.b::<48>()),
            aggregate_pubkey: g.b::<48>(),
        };
        BeaconState {
            genesis_time: g.u(),
            genesis_validators_root: g.b(),
            slot: g.u(),
            fork: Fork {
                previous_version: [5, 0, 0, 0],
                current_version: [6, 0, 0, 0],
                epoch: g.u(),
            },
            latest_block_header: BeaconBlockHeader {
                slot: g.u(),
                proposer_index: g.u(),
                parent_root: g.b(),
                state_root: B256::ZERO,
                body_root: g.b(),
            },
            block_roots: g.vec(p.slots_per_historical_root, |g| g.b()),
            state_roots: g.vec(p.slots_per_historical_root, |g| g.b()),
            historical_roots: g.vec(3, |g| g.b()),
            eth1_data: Eth1Data { deposit_root: g.b(), deposit_count: g.u(), block_hash: g.b() },
            eth1_data_votes: g.vec(2, |g| Eth1Data {
                deposit_root: g.b(),
                deposit_count: g.u(),
                block_hash: g.b(),
            }),
            eth1_deposit_index: g.u(),
            validators: g.vec(validators, |g| Validator {
                pubkey: g.b::<48>().0,
                withdrawal_credentials: g.b(),
                effective_balance: g.u(),
                slashed: g.u() % 2 == 1,
                activation_eligibility_epoch: g.u(),
                activation_epoch: g.u(),
                exit_epoch: g.u(),
                withdrawable_epoch: g.u(),
            }),
            balances: g.vec(validators, Gen::u),
            randao_mixes: g.vec(p.epochs_per_historical_vector, |g| g.b()),
            slashings: g.vec(p.epochs_per_slashings_vector, Gen::u),
            previous_epoch_participation: g.vec(validators, |g| g.u() as u8),
            current_epoch_participation: g.vec(validators, |g| g.u() as u8),
            justification_bits: 0b1011,
            previous_justified_checkpoint: Checkpoint { epoch: g.u(), root: g.b() },
            current_justified_checkpoint: Checkpoint { epoch: g.u(), root: g.b() },
            finalized_checkpoint: Checkpoint { epoch: g.u(), root: g.b() },
            inactivity_scores: g.vec(validators, Gen::u),
            current_sync_committee: committee(&mut g),
            next_sync_committee: committee(&mut g),
            latest_execution_payload_header: ExecutionPayloadHeader {
                parent_hash: g.b(),
                fee_recipient: Address::from(g.b::<20>()),
                state_root: g.b(),
                receipts_root: g.b(),
                logs_bloom: g.b(),
                prev_randao: g.b(),
                block_number: g.u(),
                gas_limit: g.u(),
                gas_used: g.u(),
                timestamp: g.u(),
                extra_data: VariableList::new(b"based".to_vec()).unwrap(),
                base_fee_per_gas: U256::from(g.u()),
                block_hash: g.b(),
                transactions_root: g.b(),
                withdrawals_root: g.b(),
                blob_gas_used: g.u(),
                excess_blob_gas: g.u(),
            },
            next_withdrawal_index: g.u(),
            next_withdrawal_validator_index: g.u(),
            historical_summaries: g.vec(2, |g| HistoricalSummary {
                block_summary_root: g.b(),
                state_summary_root: g.b(),
            }),
            deposit_requests_start_index: g.u(),
            deposit_balance_to_consume: g.u(),
            exit_balance_to_consume: g.u(),
            earliest_exit_epoch: g.u(),
            consolidation_balance_to_consume: g.u(),
            earliest_consolidation_epoch: g.u(),
            pending_deposits: g.vec(2, |g| PendingDeposit {
                pubkey: g.b(),
                withdrawal_credentials: g.b(),
                amount: g.u(),
                signature: g.b(),
                slot: g.u(),
            }),
            pending_partial_withdrawals: g.vec(3, |g| PendingPartialWithdrawal {
                validator_index: g.u(),
                amount: g.u(),
                withdrawable_epoch: g.u(),
            }),
            pending_consolidations: g
                .vec(1, |g| PendingConsolidation { source_index: g.u(), target_index: g.u() }),
            proposer_lookahead: g.vec(p.lookahead_len(), |g| g.u() % validators as u64),
        }
    }

    fn typed<P: TypedPreset>(s: &BeaconState) -> TypedState<P> {
        let committee = |c: &SyncCommittee| TypedCommittee::<P> {
            pubkeys: FixedVector::new(c.pubkeys.clone()).unwrap(),
            aggregate_pubkey: c.aggregate_pubkey,
        };
        let mut bits = BitVector::new();
        for i in 0..4 {
            bits.set(i, s.justification_bits & (1 << i) != 0).unwrap();
        }
        TypedState {
            genesis_time: s.genesis_time,
            genesis_validators_root: s.genesis_validators_root,
            slot: s.slot,
            fork: s.fork,
            latest_block_header: s.latest_block_header,
            block_roots: FixedVector::new(s.block_roots.clone()).unwrap(),
            state_roots: FixedVector::new(s.state_roots.clone()).unwrap(),
            historical_roots: VariableList::new(s.historical_roots.clone()).unwrap(),
            eth1_data: s.eth1_data,
            eth1_data_votes: VariableList::new(s.eth1_data_votes.clone()).unwrap(),
            eth1_deposit_index: s.eth1_deposit_index,
            validators: VariableList::new(s.validators.clone()).unwrap(),
            balances: VariableList::new(s.balances.clone()).unwrap(),
            randao_mixes: FixedVector::new(s.randao_mixes.clone()).unwrap(),
            slashings: FixedVector::new(s.slashings.clone()).unwrap(),
            previous_epoch_participation: VariableList::new(s.previous_epoch_participation.clone())
                .unwrap(),
            current_epoch_participation: VariableList::new(s.current_epoch_participation.clone())
                .unwrap(),
            justification_bits: bits,
            previous_justified_checkpoint: s.previous_justified_checkpoint,
            current_justified_checkpoint: s.current_justified_checkpoint,
            finalized_checkpoint: s.finalized_checkpoint,
            inactivity_scores: VariableList::new(s.inactivity_scores.clone()).unwrap(),
            current_sync_committee: committee(&s.current_sync_committee),
            next_sync_committee: committee(&s.next_sync_committee),
            latest_execution_payload_header: s.latest_execution_payload_header.clone(),
            next_withdrawal_index: s.next_withdrawal_index,
            next_withdrawal_validator_index: s.next_withdrawal_validator_index,
            historical_summaries: VariableList::new(s.historical_summaries.clone()).unwrap(),
            deposit_requests_start_index: s.deposit_requests_start_index,
            deposit_balance_to_consume: s.deposit_balance_to_consume,
            exit_balance_to_consume: s.exit_balance_to_consume,
            earliest_exit_epoch: s.earliest_exit_epoch,
            consolidation_balance_to_consume: s.consolidation_balance_to_consume,
            earliest_consolidation_epoch: s.earliest_consolidation_epoch,
            pending_deposits: VariableList::new(s.pending_deposits.clone()).unwrap(),
            pending_partial_withdrawals: VariableList::new(s.pending_partial_withdrawals.clone())
                .unwrap(),
            pending_consolidations: VariableList::new(s.pending_consolidations.clone()).unwrap(),
            proposer_lookahead: FixedVector::new(s.proposer_lookahead.clone()).unwrap(),
        }
    }

    /// Our run-time reader and writer agree with the typed encoding and root, and the contest's
    /// branches verify against that root.
    fn agrees_with_typed<P: TypedPreset>() {
        let p = P::params();
        let state = sample(&p, 37, 7);
        let t = typed::<P>(&state);
        let bytes = t.as_ssz_bytes();
        assert_eq!(state.to_ssz_bytes(&p).unwrap(), bytes, "encoding");
        let decoded = BeaconState::from_ssz_bytes(&bytes, &p).unwrap();
        assert_eq!(decoded, state, "decoding");
        assert_eq!(TypedState::<P>::from_ssz_bytes(&bytes).unwrap(), t);
        let root = t.tree_hash_root();
        assert_eq!(decoded.root(&p).unwrap(), root, "state root");
        let prover = decoded.into_prover(&p).unwrap();
        assert_eq!(prover.state_root(), root);
        let spe = p.slots_per_epoch as u64;
        for position in [0, spe - 1, spe, 2 * spe - 1] {
            let proof = prover.lookahead_proof(position).unwrap();
            assert_eq!(proof.validator_index, state.proposer_lookahead[position as usize]);
            let gindex = proposer_lookahead_gindex(spe, position);
            assert!(
                verify_branch(root, proof.chunk, gindex, &proof.branch),
                "lookahead {position}"
            );
        }
        for index in [0u64, 20, 36] {
            let proof = prover.pubkey_proof(index).unwrap();
            let leaf = proof.pubkey.tree_hash_root();
            let gindex = validator_pubkey_gindex(index);
            assert!(verify_branch(root, leaf, gindex, &proof.branch), "pubkey {index}");
        }
    }

    #[test]
    fn mainnet_state_agrees_with_ssz_types() {
        agrees_with_typed::<Mainnet>();
    }

    #[test]
    fn devnet_state_agrees_with_ssz_types() {
        agrees_with_typed::<Devnet>();
    }

    #[test]
    fn wrong_sizes_are_refused() {
        let p = Devnet::params();
        let state = sample(&p, 5, 1);
        let bytes = state.to_ssz_bytes(&p).unwrap();
        // Read with mainnet sizes: the fixed part does not fit.
        assert!(matches!(
            BeaconState::from_ssz_bytes(&bytes, &StateParams::mainnet()),
            Err(StateError::Ssz(_))
        ));
        // Truncated anywhere, or with a byte more: an error, never a panic.
        for cut in [0, 1, 100, bytes.len() / 2, bytes.len() - 1] {
            assert!(BeaconState::from_ssz_bytes(&bytes[..cut], &p).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(BeaconState::from_ssz_bytes(&longer, &p).is_err());
        // A list past its limit, a vector of another length, stray justification bits.
        let mut s = state.clone();
        s.pending_consolidations = vec![PendingConsolidation::default(); 65];
        assert_eq!(
            s.to_ssz_bytes(&p),
            Err(StateError::ListTooLong { field: "pending_consolidations", limit: 64, got: 65 })
        );
        let mut s = state.clone();
        s.proposer_lookahead.pop();
        assert!(matches!(
            s.root(&p),
            Err(StateError::VectorLength { field: "proposer_lookahead", .. })
        ));
        let mut s = state;
        s.justification_bits = 0x10;
        let bad = {
            let mut b = bytes;
            // justification_bits sits after the fixed fields before it; find it by re-encoding.
            let offset = layout(&p)
                .iter()
                .take(17)
                .map(|part| match part {
                    Part::Fixed(n) => *n,
                    Part::Variable => 4,
                })
                .sum::<usize>();
            b[offset] = 0x10;
            b
        };
        assert_eq!(BeaconState::from_ssz_bytes(&bad, &p), Err(StateError::JustificationBits(0x10)));
        assert_eq!(s.to_ssz_bytes(&p), Err(StateError::JustificationBits(0x10)));
    }

    /// The contest's proofs assume a 2-epoch lookahead and a 2^40 registry: other sizes are refused
    /// by name, not reported as a state root mismatch.
    #[test]
    fn prover_refuses_sizes_the_proofs_do_not_fit() {
        let p = Devnet::params();
        let state = sample(&p, 4, 3);
        let odd = StateParams { min_seed_lookahead: 2, ..p };
        let three_epochs = BeaconState { proposer_lookahead: vec![0; 12], ..state.clone() };
        assert!(matches!(three_epochs.into_prover(&odd), Err(StateError::Config(_))));
        let small = StateParams { validator_registry_limit: 1 << 20, ..p };
        assert!(matches!(state.into_prover(&small), Err(StateError::Config(_))));
    }

    #[test]
    fn random_bytes_never_panic() {
        let p = Devnet::params();
        let good = sample(&p, 3, 9).to_ssz_bytes(&p).unwrap();
        let mut g = Gen(42);
        for _ in 0..2000 {
            let mut b = good.clone();
            for _ in 0..(g.u() % 8 + 1) {
                let i = (g.u() as usize) % b.len();
                b[i] = g.u() as u8;
            }
            let cut = (g.u() as usize) % (b.len() + 1);
            let _ = BeaconState::from_ssz_bytes(&b, &p);
            let _ = BeaconState::from_ssz_bytes(&b[..cut], &p);
        }
    }

    #[test]
    fn params_from_a_spec() {
        let p = StateParams { slots_per_epoch: 4, ..StateParams::minimal() };
        let spec: HashMap<String, serde_json::Value> = p
            .spec_entries()
            .into_iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v)))
            .collect();
        assert_eq!(StateParams::from_spec(&spec).unwrap(), p);
        let mut missing = spec.clone();
        missing.remove("SYNC_COMMITTEE_SIZE");
        assert!(matches!(StateParams::from_spec(&missing), Err(StateError::Config(_))));
        let mut bloom = spec.clone();
        bloom.insert("BYTES_PER_LOGS_BLOOM".into(), "512".into());
        assert!(matches!(StateParams::from_spec(&bloom), Err(StateError::Config(_))));
        let mut zero = spec;
        zero.insert("SLOTS_PER_HISTORICAL_ROOT".into(), "0".into());
        assert!(matches!(StateParams::from_spec(&zero), Err(StateError::Config(_))));
    }
}
