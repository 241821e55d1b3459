//! An L1 client of a deployed `Registry`: the validator's actions (register, opt in / out,
//! unregister, claim) and a status read, as used by `based validator`.
//!
//! Every state-changing call is simulated with `eth_call` first, so a call the contract would
//! refuse is reported with the contract's named error ([`ClientError::Reverted`]) and costs no gas.

use crate::{BlsPublicKey, BlsSecretKey, Registry};
use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, B256, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::TransactionReceipt;
use alloy_sol_types::SolCall;

/// Client errors.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The contract refused the call with this named error (e.g. `EarlyClaim`).
    #[error("the Registry refused the call: {0}")]
    Reverted(String),
    /// The transaction was mined but reverted (state changed between simulation and inclusion).
    #[error("transaction {0} reverted")]
    Failed(B256),
    /// The L1 RPC failed or returned something unexpected.
    #[error("L1 RPC: {0}")]
    Rpc(String),
}

fn rpc(e: impl std::fmt::Display) -> ClientError {
    ClientError::Rpc(e.to_string())
}

impl From<based_contracts::client::CallError> for ClientError {
    fn from(e: based_contracts::client::CallError) -> Self {
        use based_contracts::client::CallError;
        match e {
            CallError::Reverted(name) => Self::Reverted(name),
            CallError::Failed(hash) => Self::Failed(hash),
            CallError::Rpc(reason) => Self::Rpc(reason),
        }
    }
}

/// The on-chain windows and minimum collateral of a `Registry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnChainConfig {
    /// Minimum collateral (wei).
    pub min_collateral: U256,
    /// Seconds from `optIn` to an effective committer.
    pub opt_in_delay: u64,
    /// Seconds from `optOut` / `unregister` to losing commit rights.
    pub opt_out_delay: u64,
    /// Seconds from `unregister` to `claimCollateral`.
    pub unregistration_delay: u64,
}

/// A validator key's record, with its effective times computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorStatus {
    /// The key's identity.
    pub pubkey_hash: B256,
    /// The owner; `None` if the key is not registered.
    pub owner: Option<Address>,
    /// Collateral held (wei).
    pub collateral: U256,
    /// The registry's windows.
    pub config: OnChainConfig,
    /// Timestamp of the latest L1 block (the time the status was read at).
    pub now: u64,
    /// `register` time.
    pub registered_at: u64,
    /// `unregister` time, if unregistered.
    pub unregistered_at: Option<u64>,
    /// The delegated committer, if ever opted in.
    pub committer: Option<Address>,
    /// When the last opt-in takes / took effect.
    pub opt_in_effective_at: Option<u64>,
    /// When the opt-out (or unregistration) ends / ended commit rights.
    pub opt_out_effective_at: Option<u64>,
    /// When the collateral can be claimed (after unregistering).
    pub claimable_at: Option<u64>,
    /// The committer with rights now (`Registry.currentCommitter`), if any.
    pub current_committer: Option<Address>,
}

fn nonzero(t: u64) -> Option<u64> {
    (t != 0).then_some(t)
}

impl std::fmt::Display for ValidatorStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let when = |t: Option<u64>| match t {
            None => "-".to_owned(),
            Some(t) if t <= self.now => format!("{t} (passed)"),
            Some(t) => format!("{t} (in {} s)", t.saturating_sub(self.now)),
        };
        writeln!(f, "pubkey hash:        {}", self.pubkey_hash)?;
        let Some(owner) = self.owner else {
            return writeln!(f, "registered:         no");
        };
        writeln!(f, "registered:         yes, at {}", self.registered_at)?;
        writeln!(f, "owner:              {owner}")?;
        writeln!(
            f,
            "collateral:         {} wei (minimum {}{})",
            self.collateral,
            self.config.min_collateral,
            if self.collateral < self.config.min_collateral {
                ", BELOW: no commit rights"
            } else {
                ""
            }
        )?;
        match self.committer {
            Some(c) => writeln!(f, "committer:          {c}")?,
            None => writeln!(f, "committer:          none (not opted in)")?,
        }
        writeln!(f, "opt-in effective:   {}", when(self.opt_in_effective_at))?;
        writeln!(f, "opt-out effective:  {}", when(self.opt_out_effective_at))?;
        writeln!(f, "unregistered:       {}", when(self.unregistered_at))?;
        writeln!(f, "claimable:          {}", when(self.claimable_at))?;
        match self.current_committer {
            Some(c) => writeln!(f, "commit rights now:  yes, committer {c}"),
            None => writeln!(f, "commit rights now:  no"),
        }
    }
}

/// A `Registry` at `address`, reached through `provider` (which signs the transactions).
#[derive(Debug, Clone)]
pub struct RegistryClient<P> {
    provider: P,
    address: Address,
}

impl<P: Provider> RegistryClient<P> {
    /// A client of the registry at `address`.
    pub const fn new(provider: P, address: Address) -> Self {
        Self { provider, address }
    }

    /// The registry's address.
    pub const fn address(&self) -> Address {
        self.address
    }

    async fn view<C: SolCall>(&self, call: C) -> Result<C::Return, ClientError> {
        Ok(based_contracts::client::view(&self.provider, self.address, call).await?)
    }

    /// Simulates, then sends `call` with `value` and waits for the receipt.
    async fn send<C: SolCall>(
        &self,
        call: C,
        value: U256,
    ) -> Result<TransactionReceipt, ClientError> {
        let tx = based_contracts::client::call_request(self.address, &call).with_value(value);
        let receipt = based_contracts::client::send_checked(
            &self.provider,
            tx,
            Registry::RegistryErrors::name_by_selector,
        )
        .await?;
        tracing::info!(
            target: "registry",
            call = C::SIGNATURE,
            tx = %receipt.transaction_hash,
            gas = receipt.gas_used,
            "registry call mined"
        );
        Ok(receipt)
    }

    /// The registry's windows and minimum collateral.
    pub async fn config(&self) -> Result<OnChainConfig, ClientError> {
        Ok(OnChainConfig {
            min_collateral: self.view(Registry::minCollateralCall {}).await?,
            opt_in_delay: self.view(Registry::optInDelayCall {}).await?,
            opt_out_delay: self.view(Registry::optOutDelayCall {}).await?,
            unregistration_delay: self.view(Registry::unregistrationDelayCall {}).await?,
        })
    }

    /// Registers `key` for `owner` with `collateral` wei: signs the registration message bound to
    /// this chain and registry, and submits it (from the provider's signer, who pays).
    pub async fn register(
        &self,
        key: &BlsSecretKey,
        owner: Address,
        collateral: U256,
    ) -> Result<TransactionReceipt, ClientError> {
        let chain_id = self.provider.get_chain_id().await.map_err(rpc)?;
        let signature = key.sign_registration(chain_id, self.address, owner);
        let call = Registry::registerCall {
            pubkey: key.public_key().to_sol(),
            signature: signature.to_sol(),
            owner,
        };
        self.send(call, collateral).await
    }

    /// Delegates `pubkey_hash` to `committer` (effective after the opt-in delay). Owner only.
    pub async fn opt_in(
        &self,
        pubkey_hash: B256,
        committer: Address,
    ) -> Result<TransactionReceipt, ClientError> {
        self.send(Registry::optInCall { pubkeyHash: pubkey_hash, committer }, U256::ZERO).await
    }

    /// Ends the delegation (effective after the opt-out delay). Owner only.
    pub async fn opt_out(&self, pubkey_hash: B256) -> Result<TransactionReceipt, ClientError> {
        self.send(Registry::optOutCall { pubkeyHash: pubkey_hash }, U256::ZERO).await
    }

    /// Starts unregistration. Owner only.
    pub async fn unregister(&self, pubkey_hash: B256) -> Result<TransactionReceipt, ClientError> {
        self.send(Registry::unregisterCall { pubkeyHash: pubkey_hash }, U256::ZERO).await
    }

    /// Claims the collateral back after the unregistration delay. Owner only.
    pub async fn claim(&self, pubkey_hash: B256) -> Result<TransactionReceipt, ClientError> {
        self.send(Registry::claimCollateralCall { pubkeyHash: pubkey_hash }, U256::ZERO).await
    }

    /// The status of `pubkey` at the latest L1 block.
    pub async fn status(&self, pubkey: &BlsPublicKey) -> Result<ValidatorStatus, ClientError> {
        let pubkey_hash = pubkey.hash();
        let config = self.config().await?;
        let op = self.view(Registry::getOperatorCall { pubkeyHash: pubkey_hash }).await?;
        let current = self.view(Registry::currentCommitterCall { pubkeyHash: pubkey_hash }).await?;
        let now = self
            .provider
            .get_block_by_number(alloy_eips::BlockNumberOrTag::Latest)
            .await
            .map_err(rpc)?
            .map(|b| b.header.timestamp)
            .ok_or_else(|| rpc("no latest block"))?;
        let registered_at = u64::try_from(op.registeredAt).unwrap_or(u64::MAX);
        let unregistered_at = nonzero(u64::try_from(op.unregisteredAt).unwrap_or(u64::MAX));
        let opted_in_at = nonzero(u64::try_from(op.optedInAt).unwrap_or(u64::MAX));
        let opted_out_at = nonzero(u64::try_from(op.optedOutAt).unwrap_or(u64::MAX));
        let opt_out_effective_at = [opted_out_at, unregistered_at]
            .into_iter()
            .flatten()
            .map(|t| t.saturating_add(config.opt_out_delay))
            .min();
        Ok(ValidatorStatus {
            pubkey_hash,
            owner: (op.owner != Address::ZERO).then_some(op.owner),
            collateral: op.collateral,
            now,
            registered_at,
            unregistered_at,
            committer: (op.committer != Address::ZERO).then_some(op.committer),
            opt_in_effective_at: opted_in_at.map(|t| t.saturating_add(config.opt_in_delay)),
            opt_out_effective_at,
            claimable_at: unregistered_at.map(|t| t.saturating_add(config.unregistration_delay)),
            current_committer: (current != Address::ZERO).then_some(current),
            config,
        })
    }
}
