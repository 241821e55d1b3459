//! Deploys the posting-rights contracts the chain spec's sequencing section asks for, and opts the
//! devnet's validators in (devnet-only).
//!
//! Dev account [`SEQUENCING_KEY`] deploys, with its first transactions on a fresh anvil: the
//! `Registry` (its slasher is the `Lookahead`'s precomputed address, its commitment slasher the
//! `PreconfSlasher`'s), the `Lookahead` (contests enabled: the devnet beacon service writes its
//! block roots into the EIP-4788 contract it installs on anvil), a `Whitelist` if the mode or the fallback uses one, and in opt-in mode
//! the `PreconfSlasher` (windows and amounts from the chain spec's sequencing section; its `Inbox` is
//! the address dev account [`crate::DEPLOYER_KEY`]'s next transaction creates, the devnet's
//! well-known Inbox deployment); then funds the committer, registers the `registered` validators (BLS
//! keys of the devnet beacon service, owner = [`SEQUENCING_KEY`], minimum collateral) and opts the
//! `optedIn` ones in with the committer. Everything is sent at once with explicit nonces and gas,
//! then awaited: a handful of blocks.

use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use based_chainspec::{Fallback, Sequencing, SequencingMode};
use based_contracts::{LookaheadConfig, lookahead_creation_code, whitelist_creation_code};
use based_lookahead::SlotClock;
use based_registry::{BlsSecretKey, Registry, RegistryConfig, registry_creation_code_with};
use based_slasher::{SlasherConfig, slasher_creation_code};
use std::time::Duration;

use crate::DevnetError;

/// Index in [`crate::DEV_KEYS`] of the account that deploys the posting-rights contracts and owns
/// the devnet validators' registrations.
pub const SEQUENCING_KEY: usize = 8;

/// ETH the devnet sends the committer on L1 (it pays for proposals and lookahead posts).
pub const COMMITTER_FUNDING: u128 = 1_000_000_000_000_000_000_000;

/// The posting-rights contracts of a devnet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SequencingContracts {
    /// The mode deployed.
    pub mode: SequencingMode,
    /// The validator `Registry` (opt-in mode).
    pub registry: Option<Address>,
    /// The `Lookahead` (opt-in mode).
    pub lookahead: Option<Address>,
    /// The `Whitelist` (whitelist mode or fallback).
    pub whitelist: Option<Address>,
    /// The `PreconfSlasher` (opt-in mode): the `Registry`'s commitment slasher, and the slasher the
    /// devnet gateway names in its commitments.
    pub slasher: Option<Address>,
}

impl SequencingContracts {
    /// The `Inbox`'s preconfer source (`None`: permissionless).
    pub const fn preconfer_source(&self) -> Option<Address> {
        match self.mode {
            SequencingMode::Permissionless => None,
            SequencingMode::Whitelist => self.whitelist,
            SequencingMode::OptIn => self.lookahead,
        }
    }
}

fn l1_err(e: impl std::fmt::Display) -> DevnetError {
    DevnetError::L1(e.to_string())
}

/// Deploys what `seq` needs (nothing for permissionless) on the L1 at `l1_url`, with the slot clock
/// of the devnet beacon service, and opts the devnet validators (keys from `validator_seed`) in
/// with `committer`.
pub async fn deploy(
    l1_url: &str,
    seq: &Sequencing,
    clock: &SlotClock,
    validator_seed: B256,
    committer: Address,
) -> Result<SequencingContracts, DevnetError> {
    let mut out = SequencingContracts { mode: seq.mode, ..SequencingContracts::default() };
    if seq.mode == SequencingMode::Permissionless {
        return Ok(out);
    }
    let signer: PrivateKeySigner = crate::dev_signer(SEQUENCING_KEY)
        .ok_or_else(|| DevnetError::Config("sequencing dev key".into()))?;
    let me = signer.address();
    let url = l1_url.parse().map_err(|e| DevnetError::Config(format!("L1 URL: {e}")))?;
    let l1 = ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(url);
    let chain_id = l1.get_chain_id().await.map_err(l1_err)?;
    let mut nonce = l1.get_transaction_count(me).await.map_err(l1_err)?;
    let gas_price = l1.get_gas_price().await.map_err(l1_err)?;
    let max_fee = gas_price.saturating_mul(2).saturating_add(1_000_000_000);

    let uses_whitelist =
        seq.mode == SequencingMode::Whitelist || seq.fallback == Fallback::Whitelist;
    let opt_in = seq.mode == SequencingMode::OptIn;
    // Registry first (nonce n), Lookahead second (n + 1), Whitelist next, PreconfSlasher last.
    let registry_address = me.create(nonce);
    let lookahead_address = me.create(nonce.saturating_add(1));
    let whitelist_address = me.create(if opt_in { nonce.saturating_add(2) } else { nonce });
    let slasher_address =
        me.create(nonce.saturating_add(2).saturating_add(u64::from(uses_whitelist)));
    // The Inbox is the deployer's next creation (see `Devnet::start`).
    let deployer = crate::dev_signer(crate::DEPLOYER_KEY)
        .ok_or_else(|| DevnetError::Config("deployer dev key".into()))?
        .address();
    let inbox_address = deployer.create(l1.get_transaction_count(deployer).await.map_err(l1_err)?);
    let seconds = clock.seconds_per_slot();

    let mut txs: Vec<(&'static str, TransactionRequest)> = Vec::new();
    let mut next = |what: &'static str, tx: TransactionRequest, gas: u64| {
        let tx = tx
            .with_from(me)
            .with_nonce(nonce)
            .with_chain_id(chain_id)
            .with_gas_limit(gas)
            .with_max_fee_per_gas(max_fee)
            .with_max_priority_fee_per_gas(1_000_000_000);
        nonce = nonce.saturating_add(1);
        txs.push((what, tx));
    };

    if opt_in {
        let registry_config = RegistryConfig {
            min_collateral: seq.min_collateral,
            opt_in_delay: seq.epochs_to_seconds(seq.opt_in_delay_epochs, seconds),
            opt_out_delay: seq.epochs_to_seconds(seq.opt_out_delay_epochs, seconds),
            unregistration_delay: seq.epochs_to_seconds(seq.unregistration_delay_epochs, seconds),
            slasher: lookahead_address,
        };
        next(
            "deploy Registry",
            TransactionRequest::default()
                .with_deploy_code(registry_creation_code_with(&registry_config, slasher_address)),
            4_000_000,
        );
        let lookahead_config = LookaheadConfig {
            registry: registry_address,
            fallback_source: uses_whitelist.then_some(whitelist_address),
            genesis_timestamp: clock.genesis_timestamp(),
            seconds_per_slot: seconds,
            slots_per_epoch: clock.slots_per_epoch(),
            // The devnet beacon service writes its roots into the EIP-4788 contract it installs
            // on anvil, so contests read them at the real address.
            beacon_roots: Some(based_lookahead::contest::BEACON_ROOTS_ADDRESS),
            slash_amount: seq.lookahead_slash,
            contester_reward: seq.contester_reward,
        };
        next(
            "deploy Lookahead",
            TransactionRequest::default()
                .with_deploy_code(lookahead_creation_code(&lookahead_config)),
            3_000_000,
        );
        out.registry = Some(registry_address);
        out.lookahead = Some(lookahead_address);
    }
    if uses_whitelist {
        next(
            "deploy Whitelist",
            TransactionRequest::default().with_deploy_code(whitelist_creation_code(
                seq.whitelist.clone(),
                clock.genesis_timestamp(),
                seconds,
                clock.slots_per_epoch(),
            )),
            2_000_000,
        );
        out.whitelist = Some(whitelist_address);
    }
    if opt_in {
        let slasher_config = SlasherConfig {
            registry: registry_address,
            preconfer_source: lookahead_address,
            inbox: inbox_address,
            challenge_bond: seq.challenge_bond,
            challenge_delay: seq.challenge_delay_slots,
            challenge_window: seq.challenge_window_slots,
            defence_window: seq.defence_window_seconds,
            slash_amount: seq.commitment_slash_amount,
        };
        next(
            "deploy PreconfSlasher",
            TransactionRequest::default().with_deploy_code(slasher_creation_code(&slasher_config)),
            4_000_000,
        );
        out.slasher = Some(slasher_address);
    }
    next(
        "fund committer",
        TransactionRequest::default().with_to(committer).with_value(U256::from(COMMITTER_FUNDING)),
        21_000,
    );
    if let (Some(registry), Some(validators)) = (out.registry, seq.devnet_validators.as_ref()) {
        for index in &validators.registered {
            let key = BlsSecretKey::from_ikm(&based_beacon::server::validator_ikm(
                validator_seed,
                *index,
            ))
            .map_err(|e| DevnetError::Config(format!("validator {index} key: {e}")))?;
            let signature = key.sign_registration(chain_id, registry, me);
            let call = Registry::registerCall {
                pubkey: key.public_key().to_sol(),
                signature: signature.to_sol(),
                owner: me,
            };
            next(
                "register validator",
                TransactionRequest::default()
                    .with_to(registry)
                    .with_input(Bytes::from(call.abi_encode()))
                    .with_value(seq.min_collateral),
                500_000,
            );
            if validators.opted_in.contains(index) {
                let call = Registry::optInCall { pubkeyHash: key.public_key().hash(), committer };
                next(
                    "opt in validator",
                    TransactionRequest::default()
                        .with_to(registry)
                        .with_input(Bytes::from(call.abi_encode())),
                    150_000,
                );
            }
        }
    }

    let mut pending = Vec::with_capacity(txs.len());
    for (what, tx) in txs {
        let sent = l1.send_transaction(tx).await.map_err(|e| l1_err(format!("{what}: {e}")))?;
        pending.push((what, *sent.tx_hash()));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    for (what, hash) in pending {
        let receipt = loop {
            if let Some(r) = l1.get_transaction_receipt(hash).await.map_err(l1_err)? {
                break r;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(l1_err(format!("{what}: no receipt for {hash}")));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        if !receipt.status() {
            return Err(l1_err(format!("{what} reverted ({hash})")));
        }
    }
    tracing::info!(
        target: "devnet",
        mode = ?seq.mode,
        registry = ?out.registry,
        lookahead = ?out.lookahead,
        whitelist = ?out.whitelist,
        slasher = ?out.slasher,
        "posting-rights contracts deployed"
    );
    Ok(out)
}
