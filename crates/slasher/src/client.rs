//! An L1 client of a deployed `PreconfSlasher` (and the `Registry` and `Inbox` it judges with): what
//! a watchtower and `based slash` need.
//!
//! Every state-changing call is simulated with `eth_call` first, so a call a contract would refuse
//! is reported with the contract's named error ([`SlasherError::Reverted`]) and costs no gas.

use crate::{
    EvidenceKind, PreconfSlasher, SlasherConfig, SlasherError, commitment_to_sol, promised_proof,
    promised_root,
};
use alloy_eips::BlockNumberOrTag;
use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::{Filter, TransactionReceipt};
use alloy_sol_types::{SolCall, SolEvent};
use based_commitments::{InclusionPayload, SignedCommitment};
use based_contracts::Inbox;
use based_registry::{ISlasher as RegistryISlasher, Registry};

fn rpc(e: impl std::fmt::Display) -> SlasherError {
    SlasherError::Rpc(e.to_string())
}

/// The name of the error a contract reverted with (the slasher's, the Registry's or the Inbox's), or
/// the hex of the revert data.
pub fn revert_name(data: &[u8]) -> String {
    based_contracts::client::revert_name(data, error_name)
}

/// The name of an error of the `PreconfSlasher`, the `Registry` or the `Inbox` by its selector.
fn error_name(selector: [u8; 4]) -> Option<&'static str> {
    PreconfSlasher::PreconfSlasherErrors::name_by_selector(selector)
        .or_else(|| Registry::RegistryErrors::name_by_selector(selector))
        .or_else(|| Inbox::InboxErrors::name_by_selector(selector))
}

/// State of a challenge (`PreconfSlasher.Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChallengeStatus {
    /// No such challenge.
    None,
    /// Open: defensible until its deadline, slashable after it.
    Open,
    /// Defended: the bond went to the committer.
    Defended,
    /// Slashed: the bond went back to the challenger.
    Slashed,
}

/// A challenge as stored by the slasher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeState {
    /// Who opened it.
    pub challenger: Address,
    /// The promised slot.
    pub slot: u64,
    /// State.
    pub status: ChallengeStatus,
    /// The signer (the slot's preconfer committer).
    pub committer: Address,
    /// Last timestamp at which a defence is accepted.
    pub deadline: u64,
    /// The slot's preconfer key (the one slashed).
    pub pubkey_hash: B256,
    /// The promised transaction's hash.
    pub tx_hash: B256,
    /// The bond held (wei).
    pub bond: U256,
}

/// The proposal whose promised record holds a transaction (from `Inbox.Promised` logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptPromise {
    /// The proposal id.
    pub proposal_id: U256,
    /// The transaction's position among the proposal's promised transactions.
    pub index: u64,
    /// All promised transaction hashes of the proposal, in order.
    pub tx_hashes: Vec<B256>,
    /// The Merkle root the log announced (equal to [`promised_root`] of `tx_hashes`).
    pub root: B256,
    /// The L1 block that included the proposal.
    pub block_number: u64,
}

/// A `PreconfSlasher` at `slasher`, with its `Registry` and `Inbox`, reached through `provider`
/// (which signs the transactions).
#[derive(Debug, Clone)]
pub struct SlasherClient<P> {
    provider: P,
    slasher: Address,
    registry: Address,
    inbox: Address,
}

impl<P: Provider> SlasherClient<P> {
    /// A client of the slasher at `slasher`, judging with `registry` and `inbox`.
    pub const fn new(provider: P, slasher: Address, registry: Address, inbox: Address) -> Self {
        Self { provider, slasher, registry, inbox }
    }

    /// A client of the slasher at `slasher`; its Registry and Inbox are read from the contract.
    pub async fn connect(provider: P, slasher: Address) -> Result<Self, SlasherError> {
        let mut client = Self::new(provider, slasher, Address::ZERO, Address::ZERO);
        client.registry = client.view(client.slasher, PreconfSlasher::registryCall {}).await?;
        client.inbox = client.view(client.slasher, PreconfSlasher::inboxCall {}).await?;
        Ok(client)
    }

    /// The slasher's address.
    pub const fn address(&self) -> Address {
        self.slasher
    }

    /// The Registry's address.
    pub const fn registry(&self) -> Address {
        self.registry
    }

    /// The Inbox's address.
    pub const fn inbox(&self) -> Address {
        self.inbox
    }

    async fn view<C: SolCall>(&self, to: Address, call: C) -> Result<C::Return, SlasherError> {
        Ok(based_contracts::client::view(&self.provider, to, call).await?)
    }

    /// Simulates, then sends `call` to `to` with `value` and waits for the receipt.
    async fn send<C: SolCall>(
        &self,
        to: Address,
        call: C,
        value: U256,
    ) -> Result<TransactionReceipt, SlasherError> {
        let tx = based_contracts::client::call_request(to, &call).with_value(value);
        let receipt = based_contracts::client::send_checked(&self.provider, tx, error_name).await?;
        tracing::info!(
            target: "slasher",
            call = C::SIGNATURE,
            tx = %receipt.transaction_hash,
            gas = receipt.gas_used,
            "slasher call mined"
        );
        Ok(receipt)
    }

    /// The slasher's immutables (read back from the deployed contract).
    pub async fn config(&self) -> Result<SlasherConfig, SlasherError> {
        let s = self.slasher;
        Ok(SlasherConfig {
            registry: self.view(s, PreconfSlasher::registryCall {}).await?,
            preconfer_source: self.view(s, PreconfSlasher::preconferSourceCall {}).await?,
            inbox: self.view(s, PreconfSlasher::inboxCall {}).await?,
            challenge_bond: self.view(s, PreconfSlasher::challengeBondCall {}).await?,
            challenge_delay: self.view(s, PreconfSlasher::challengeDelayCall {}).await?,
            challenge_window: self.view(s, PreconfSlasher::challengeWindowCall {}).await?,
            defence_window: self.view(s, PreconfSlasher::defenceWindowCall {}).await?,
            slash_amount: self.view(s, PreconfSlasher::slashAmountCall {}).await?,
        })
    }

    /// Opens a challenge of `signed` (a broken promise), paying the on-chain bond. Returns the
    /// challenge id (the commitment digest) and the receipt.
    pub async fn open_challenge(
        &self,
        signed: &SignedCommitment,
    ) -> Result<(B256, TransactionReceipt), SlasherError> {
        let bond = self.view(self.slasher, PreconfSlasher::challengeBondCall {}).await?;
        let call = PreconfSlasher::openChallengeCall {
            commitment: commitment_to_sol(&signed.commitment),
            signature: Bytes::from(signed.signature_bytes().to_vec()),
        };
        let receipt = self.send(self.slasher, call, bond).await?;
        Ok((signed.commitment.digest(), receipt))
    }

    /// Defends challenge `id` with proposal `proposal_id`, whose promised transaction hashes are
    /// `tx_hashes` (all of them, in order): finds the challenged hash among them and proves it.
    pub async fn defend(
        &self,
        id: B256,
        proposal_id: U256,
        tx_hashes: &[B256],
    ) -> Result<TransactionReceipt, SlasherError> {
        let challenge = self.challenge(id).await?;
        let index = tx_hashes
            .iter()
            .position(|h| *h == challenge.tx_hash)
            .ok_or(SlasherError::NotPromised(challenge.tx_hash))?;
        let proof =
            promised_proof(tx_hashes, index).ok_or(SlasherError::NotPromised(challenge.tx_hash))?;
        let call = PreconfSlasher::defendCall {
            id,
            proposalId: proposal_id,
            index: U256::from(index),
            proof,
        };
        self.send(self.slasher, call, U256::ZERO).await
    }

    /// Slashes `pubkey_hash` through `Registry.slashCommitment` for `signed`, with `kind`'s evidence.
    pub async fn slash(
        &self,
        pubkey_hash: B256,
        signed: &SignedCommitment,
        kind: EvidenceKind,
    ) -> Result<TransactionReceipt, SlasherError> {
        let c = &signed.commitment;
        let call = Registry::slashCommitmentCall {
            pubkeyHash: pubkey_hash,
            commitment: RegistryISlasher::Commitment {
                commitmentType: c.commitment_type,
                payload: c.payload.clone(),
                requestHash: c.request_hash,
                slasher: c.slasher,
            },
            signature: Bytes::from(signed.signature_bytes().to_vec()),
            evidence: kind.evidence(),
        };
        self.send(self.registry, call, U256::ZERO).await
    }

    /// Slashes the challenged preconfer's key for the undefended challenge of `signed` (after its
    /// deadline; the key is read from the challenge).
    pub async fn slash_lost_challenge(
        &self,
        signed: &SignedCommitment,
    ) -> Result<TransactionReceipt, SlasherError> {
        let challenge = self.challenge(signed.commitment.digest()).await?;
        self.slash(challenge.pubkey_hash, signed, EvidenceKind::LostChallenge).await
    }

    /// Slashes `pubkey_hash` (a key that delegated to the signer) for `signed`, a promise for a
    /// slot the signer did not own.
    pub async fn slash_not_owned(
        &self,
        pubkey_hash: B256,
        signed: &SignedCommitment,
    ) -> Result<TransactionReceipt, SlasherError> {
        self.slash(pubkey_hash, signed, EvidenceKind::NotOwned).await
    }

    /// The challenge `id` (status [`ChallengeStatus::None`] if there is none).
    pub async fn challenge(&self, id: B256) -> Result<ChallengeState, SlasherError> {
        let c = self.view(self.slasher, PreconfSlasher::challengeCall { id }).await?;
        let status = match c.status {
            0 => ChallengeStatus::None,
            1 => ChallengeStatus::Open,
            2 => ChallengeStatus::Defended,
            3 => ChallengeStatus::Slashed,
            other => return Err(SlasherError::Decode(format!("challenge status {other}"))),
        };
        Ok(ChallengeState {
            challenger: c.challenger,
            slot: c.slot,
            status,
            committer: c.committer,
            deadline: c.deadline,
            pubkey_hash: c.pubkeyHash,
            tx_hash: c.txHash,
            bond: c.bond,
        })
    }

    /// The first proposal (in L1 order) in blocks `from..=to` whose promised transactions include
    /// `tx_hash`, from the Inbox's `Promised` logs; `None` if there is none.
    pub async fn find_kept(
        &self,
        tx_hash: B256,
        from: BlockNumberOrTag,
        to: BlockNumberOrTag,
    ) -> Result<Option<KeptPromise>, SlasherError> {
        let filter = Filter::new()
            .address(self.inbox)
            .event_signature(Inbox::Promised::SIGNATURE_HASH)
            .from_block(from)
            .to_block(to);
        let mut logs = self.provider.get_logs(&filter).await.map_err(rpc)?;
        logs.sort_by_key(|l| (l.block_number, l.log_index));
        for log in logs {
            let event = Inbox::Promised::decode_log_data(log.data())
                .map_err(|e| SlasherError::Decode(e.to_string()))?;
            let tx_hashes: Vec<B256> = event.txs.iter().map(keccak256).collect();
            let Some(index) = tx_hashes.iter().position(|h| *h == tx_hash) else { continue };
            if promised_root(&tx_hashes) != event.root {
                return Err(SlasherError::Decode(format!(
                    "Promised log of proposal {} has a root that is not its transactions'",
                    event.id
                )));
            }
            return Ok(Some(KeptPromise {
                proposal_id: event.id,
                index: u64::try_from(index).unwrap_or(u64::MAX),
                tx_hashes,
                root: event.root,
                block_number: log.block_number.unwrap_or_default(),
            }));
        }
        Ok(None)
    }

    /// Defends challenge `id` with a proposal found by [`Self::find_kept`].
    pub async fn defend_with(
        &self,
        id: B256,
        kept: &KeptPromise,
    ) -> Result<TransactionReceipt, SlasherError> {
        self.defend(id, kept.proposal_id, &kept.tx_hashes).await
    }
}

/// The inclusion payload of `signed` (slot and signed transaction), and the promised
/// transaction's hash.
pub fn inclusion_of(signed: &SignedCommitment) -> Result<(InclusionPayload, B256), SlasherError> {
    let payload = InclusionPayload::abi_decode(&signed.commitment.payload)
        .map_err(|e| SlasherError::Payload(e.to_string()))?;
    let hash = keccak256(&payload.signed_tx);
    Ok((payload, hash))
}
