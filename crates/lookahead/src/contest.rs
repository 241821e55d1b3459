//! Evidence for `Lookahead.proveIncorrectLookahead` (docs/lookahead.md §5): the SSZ branches of
//! [`based_beacon::ssz`] and the header whose root the EIP-4788 contract returns, as the contract's
//! ABI value.

pub use alloy_eips::eip4788::BEACON_ROOTS_ADDRESS;
use alloy_primitives::B256;
pub use based_beacon::ssz::*;
use based_contracts::{Lookahead, LookaheadBLS, SSZ};
use based_registry::BlsPublicKey;

/// The ABI value of a header.
pub const fn header_to_sol(h: &BeaconBlockHeader) -> SSZ::BeaconBlockHeader {
    SSZ::BeaconBlockHeader {
        slot: h.slot,
        proposerIndex: h.proposer_index,
        parentRoot: h.parent_root,
        stateRoot: h.state_root,
        bodyRoot: h.body_root,
    }
}

/// Everything `proveIncorrectLookahead` takes, built from a state of the epoch before `slot`'s
/// epoch and the header of a block with that post-state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContestEvidence {
    /// The contested slot.
    pub slot: u64,
    /// The L1 timestamp whose EIP-4788 root is `header.root()`.
    pub beacon_timestamp: u64,
    /// The beacon block header.
    pub header: BeaconBlockHeader,
    /// The `proposer_lookahead` branch.
    pub lookahead: LookaheadProof,
    /// The proposer's key (decompressed from the proven key).
    pub proposer: BlsPublicKey,
    /// The pubkey branch.
    pub pubkey: PubkeyProof,
}

impl ContestEvidence {
    /// Builds the evidence that `slot` is wrongly posted, from `state` (the post-state of `header`,
    /// whose slot is in the epoch before `slot`'s).
    pub fn build(
        state: &StateProver,
        header: BeaconBlockHeader,
        beacon_timestamp: u64,
        slot: u64,
    ) -> Result<Self, crate::LookaheadError> {
        let spe = state.slots_per_epoch();
        let first = header
            .slot
            .checked_div(spe)
            .and_then(|e| e.checked_mul(spe))
            .ok_or(crate::LookaheadError::Overflow)?;
        let position = slot.checked_sub(first).ok_or(crate::LookaheadError::Overflow)?;
        let lookahead = state.lookahead_proof(position)?;
        let pubkey = state.pubkey_proof(lookahead.validator_index)?;
        let proposer = BlsPublicKey::from_compressed(&pubkey.pubkey)?;
        Ok(Self { slot, beacon_timestamp, header, lookahead, proposer, pubkey })
    }

    /// The ABI value of `proveIncorrectLookahead`'s argument.
    pub fn to_sol(&self) -> Lookahead::ContestProof {
        Lookahead::ContestProof {
            slot: alloy_primitives::U256::from(self.slot),
            beaconTimestamp: alloy_primitives::U256::from(self.beacon_timestamp),
            header: header_to_sol(&self.header),
            lookaheadChunk: self.lookahead.chunk,
            lookaheadProof: self.lookahead.branch.clone(),
            proposerPubkey: {
                let p = self.proposer.to_sol();
                LookaheadBLS::G1Point {
                    x: LookaheadBLS::Fp { a: p.x.a, b: p.x.b },
                    y: LookaheadBLS::Fp { a: p.y.a, b: p.y.b },
                }
            },
            pubkeyProof: self.pubkey.branch.clone(),
        }
    }
}

/// Beacon slots searched after a block for its child (the child's execution timestamp is the
/// EIP-4788 key of the block's root; slots in between may be missed).
pub const MAX_CHILD_SEARCH: u64 = 32;

/// Why contest evidence could not be found or sent.
#[derive(Debug, thiserror::Error)]
pub enum ContestError {
    /// Slots of epoch 0 have no previous epoch to prove them from.
    #[error("slot {0} is in epoch 0: no state of a previous epoch proves it")]
    FirstEpoch(u64),
    /// The beacon API failed.
    #[error("beacon API: {0}")]
    Beacon(#[from] based_beacon::BeaconError),
    /// The L1 failed.
    #[error("L1: {0}")]
    L1(String),
    /// No block of the previous epoch has its root in the L1's EIP-4788 contract.
    #[error(
        "no block of epoch {epoch} has a child whose EIP-4788 root is on the L1 (ring buffer expired, child not yet produced, or another chain)"
    )]
    NoBeaconRoot {
        /// The previous epoch.
        epoch: u64,
    },
    /// No beacon node serves the state (`GET /eth/v2/debug/beacon/states/{id}` answered 404, by
    /// slot and by root).
    #[error(
        "no beacon node serves state {0}: its debug API may be off (Prysm: --enable-debug-rpc-endpoints) or the state pruned (Lighthouse: --reconstruct-historic-states keeps old ones)"
    )]
    NoState(B256),
    /// The beacon chain's epoch length differs from the chain spec's.
    #[error("the beacon chain has {beacon} slots per epoch, the chain spec {spec}")]
    SlotsPerEpoch {
        /// `SLOTS_PER_EPOCH` of the beacon node.
        beacon: u64,
        /// The chain spec's.
        spec: u64,
    },
    /// The state cannot be read or hashed.
    #[error(transparent)]
    State(#[from] based_beacon::state::StateError),
    /// The state does not hash to the header's state root.
    #[error("state of slot {slot} hashes to {got}, not the header's state root {expected}")]
    StateMismatch {
        /// The state's slot.
        slot: u64,
        /// Root of the inputs.
        got: B256,
        /// The header's state root.
        expected: B256,
    },
    /// A proof could not be built.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// Evidence could not be assembled.
    #[error(transparent)]
    Lookahead(#[from] crate::LookaheadError),
    /// The contract refuses the contest (named `Lookahead` error, e.g. `NoFault`).
    #[error("Lookahead refuses the contest: {0}")]
    Refused(String),
    /// The transaction was mined but reverted.
    #[error("contest transaction {0} reverted")]
    Failed(B256),
}

fn l1_err(e: impl std::fmt::Display) -> ContestError {
    ContestError::L1(e.to_string())
}

/// The root the L1's EIP-4788 contract holds for `timestamp` (`None`: none, or outside its ring).
pub async fn beacon_root_at<P: alloy_provider::Provider>(
    l1: &P,
    timestamp: u64,
) -> Result<Option<B256>, ContestError> {
    use alloy_network::TransactionBuilder;
    let tx = alloy_rpc_types_eth::TransactionRequest::default()
        .with_to(BEACON_ROOTS_ADDRESS)
        .with_input(alloy_primitives::U256::from(timestamp).to_be_bytes::<32>().to_vec());
    match l1.call(tx).await {
        Ok(out) if out.len() == 32 => Ok(Some(B256::from_slice(&out)).filter(|r| !r.is_zero())),
        Ok(_) => Ok(None),
        // The contract reverts for timestamps it does not hold.
        Err(e) if e.as_error_resp().is_some() => Ok(None),
        Err(e) => Err(l1_err(e)),
    }
}

/// Finds the evidence that the posted lookahead is wrong at `slot`: a block of the previous epoch
/// (the latest one first) whose root the L1's EIP-4788 contract holds under its child's execution
/// timestamp, and that block's post-state (`proposer_lookahead`, `validators`), checked against the
/// header's `state_root`. The state is read in SSZ from the beacon API as every consensus client
/// serves it (`GET /eth/v2/debug/beacon/states/{slot}`, then by state root; sizes from
/// `/eth/v1/config/spec`; [`based_beacon::BeaconClient::state`]); a node must still hold that
/// state (the previous epoch's).
/// Whether the entry is actually wrong is the contract's call: see [`submit`], which simulates
/// first.
pub async fn find_evidence<P: alloy_provider::Provider>(
    beacon: &based_beacon::BeaconClient,
    l1: &P,
    slots_per_epoch: u64,
    slot: u64,
) -> Result<ContestEvidence, ContestError> {
    let params = beacon.state_params().await?;
    if params.slots_per_epoch as u64 != slots_per_epoch {
        return Err(ContestError::SlotsPerEpoch {
            beacon: params.slots_per_epoch as u64,
            spec: slots_per_epoch,
        });
    }
    let epoch = slot.checked_div(slots_per_epoch).ok_or(crate::LookaheadError::Overflow)?;
    let prev = epoch.checked_sub(1).ok_or(ContestError::FirstEpoch(slot))?;
    let first = prev.checked_mul(slots_per_epoch).ok_or(crate::LookaheadError::Overflow)?;
    let end = first.checked_add(slots_per_epoch).ok_or(crate::LookaheadError::Overflow)?;
    for s in (first..end).rev() {
        let Some(found) = beacon.header(&s.to_string()).await? else { continue };
        let h = &found.header.message;
        let header = BeaconBlockHeader {
            slot: h.slot,
            proposer_index: h.proposer_index,
            parent_root: h.parent_root,
            state_root: h.state_root,
            body_root: h.body_root,
        };
        if header.root() != found.root {
            continue;
        }
        // The child: the next block on the chain.
        let mut key = None;
        for c in s.saturating_add(1)..=s.saturating_add(MAX_CHILD_SEARCH) {
            let Some(child) = beacon.block_summary(&c.to_string()).await? else { continue };
            if child.message.parent_root == found.root {
                key = Some(child.message.body.execution_payload.timestamp);
            }
            break;
        }
        let Some(timestamp) = key else { continue };
        if beacon_root_at(l1, timestamp).await? != Some(found.root) {
            continue;
        }
        // By slot first (every client resolves a slot; Nimbus resolves a state root only for its
        // head), by root if the slot is not served; the root check below catches a reorg.
        let mut state = beacon.state(&header.slot.to_string(), &params).await?;
        if state.as_ref().is_none_or(|s| s.latest_block_header.body_root != header.body_root) {
            state = beacon.state(&header.state_root.to_string(), &params).await?;
        }
        let state = state.ok_or(ContestError::NoState(header.state_root))?;
        let state = tokio::task::spawn_blocking(move || state.into_prover(&params))
            .await
            .map_err(|e| ContestError::L1(format!("state hashing task: {e}")))??;
        let got = state.state_root();
        if got != header.state_root {
            return Err(ContestError::StateMismatch {
                slot: header.slot,
                got,
                expected: header.state_root,
            });
        }
        return Ok(ContestEvidence::build(&state, header, timestamp, slot)?);
    }
    Err(ContestError::NoBeaconRoot { epoch: prev })
}

fn contest_tx(
    lookahead: alloy_primitives::Address,
    evidence: &ContestEvidence,
) -> alloy_rpc_types_eth::TransactionRequest {
    let call = Lookahead::proveIncorrectLookaheadCall { proof: evidence.to_sol() };
    based_contracts::client::call_request(lookahead, &call)
}

/// Simulates `proveIncorrectLookahead(evidence)` on the `Lookahead` at `lookahead` (`eth_call`):
/// `Ok` if the contest would succeed, else [`ContestError::Refused`] with the contract's error
/// name (e.g. `NoFault`: the entry is right).
pub async fn simulate<P: alloy_provider::Provider>(
    l1: &P,
    lookahead: alloy_primitives::Address,
    evidence: &ContestEvidence,
) -> Result<(), ContestError> {
    let tx = contest_tx(lookahead, evidence);
    based_contracts::client::simulate(l1, &tx, Lookahead::LookaheadErrors::name_by_selector)
        .await
        .map_err(ContestError::from)
}

/// [`simulate`]s the contest, then sends it from `l1`'s wallet and waits for the receipt.
pub async fn submit<P: alloy_provider::Provider>(
    l1: &P,
    lookahead: alloy_primitives::Address,
    evidence: &ContestEvidence,
) -> Result<alloy_rpc_types_eth::TransactionReceipt, ContestError> {
    let tx = contest_tx(lookahead, evidence);
    based_contracts::client::send_checked(l1, tx, Lookahead::LookaheadErrors::name_by_selector)
        .await
        .map_err(ContestError::from)
}

impl From<based_contracts::client::CallError> for ContestError {
    fn from(e: based_contracts::client::CallError) -> Self {
        use based_contracts::client::CallError;
        match e {
            CallError::Reverted(name) => Self::Refused(name),
            CallError::Failed(hash) => Self::Failed(hash),
            CallError::Rpc(reason) => Self::L1(reason),
        }
    }
}
