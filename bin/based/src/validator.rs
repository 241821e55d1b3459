//! `based validator`: a validator's actions on the L1 `Registry` (docs/registry.md).
//!
//! The BLS key comes from an EIP-2335 keystore (password from a file or a prompt), or on a
//! devnet from its BIP-39 mnemonic file and the validator's index (EIP-2333/2334); the L1
//! sender (the owner, who pays and controls the key) from a Web3 Secret Storage keystore with a
//! password file, or the `BASED_OWNER_KEY` environment variable. No key is ever a flag value.

use alloy_network::EthereumWallet;
use alloy_primitives::{Address, B256, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use based_keystore::{Keystore, ecdsa_signer, password};
use based_registry::{BlsPublicKey, BlsSecretKey, RegistryClient};
use clap::{Args, Subcommand};
use eyre::{WrapErr, eyre};
use std::path::PathBuf;

/// `based validator` arguments.
#[derive(Debug, Args)]
pub(crate) struct ValidatorArgs {
    #[command(subcommand)]
    action: Action,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Args)]
struct Common {
    /// L1 execution client JSON-RPC URL.
    #[arg(
        long = "l1.rpc-url",
        env = "BASED_L1_RPC_URL",
        default_value = "http://127.0.0.1:8545",
        global = true
    )]
    l1_rpc_url: String,
    /// Address of the L1 validator `Registry`.
    #[arg(long = "registry.address", env = "BASED_REGISTRY_ADDRESS", global = true)]
    registry: Option<Address>,
    /// EIP-2335 keystore of the validator's BLS key.
    #[arg(long = "validator.keystore", env = "BASED_VALIDATOR_KEYSTORE", global = true)]
    keystore: Option<PathBuf>,
    /// File holding the EIP-2335 keystore's password (else: prompt on a terminal).
    #[arg(long = "validator.password-file", env = "BASED_VALIDATOR_PASSWORD_FILE", global = true)]
    password_file: Option<PathBuf>,
    /// BIP-39 mnemonic file to derive the validator's BLS key from (EIP-2334 path
    /// `m/12381/3600/<index>/0/0`, the deposit tools' signing key), instead of a keystore: for
    /// devnets whose validator mnemonic is public (Kurtosis). Needs `--validator.index`.
    #[arg(
        long = "validator.mnemonic-file",
        env = "BASED_VALIDATOR_MNEMONIC_FILE",
        global = true,
        conflicts_with = "keystore"
    )]
    mnemonic_file: Option<PathBuf>,
    /// Index of the validator's key in the mnemonic's key tree (`--validator.mnemonic-file`).
    #[arg(long = "validator.index", env = "BASED_VALIDATOR_INDEX", global = true)]
    index: Option<u32>,
    /// The validator's BLS public key (48-byte compressed hex), instead of a keystore, for
    /// actions that need no signature (`status`, and owner actions).
    #[arg(long = "validator.pubkey", env = "BASED_VALIDATOR_PUBKEY", global = true)]
    pubkey: Option<String>,
    /// Web3 Secret Storage keystore of the owner / L1 sender (else `BASED_OWNER_KEY`).
    #[arg(long = "owner.keystore", env = "BASED_OWNER_KEYSTORE", global = true)]
    owner_keystore: Option<PathBuf>,
    /// File holding the owner keystore's password (else: prompt on a terminal).
    #[arg(long = "owner.password-file", env = "BASED_OWNER_PASSWORD_FILE", global = true)]
    owner_password_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Register the BLS key with collateral (signs the registration message for `--owner`).
    Register {
        /// Owner of the registration (defaults to the sender).
        #[arg(long = "owner")]
        owner: Option<Address>,
        /// Collateral in wei (defaults to the registry's minimum).
        #[arg(long = "collateral")]
        collateral: Option<U256>,
    },
    /// Delegate to a committer (the gateway's ECDSA address); effective after the opt-in delay.
    OptIn {
        /// The committer address.
        #[arg(long = "committer", env = "BASED_VALIDATOR_COMMITTER")]
        committer: Address,
    },
    /// End the delegation; effective after the opt-out delay.
    OptOut,
    /// Start unregistration (commit rights end after the opt-out delay).
    Unregister,
    /// Claim the collateral back after the unregistration delay.
    Claim,
    /// Show registration, collateral, committer and every window.
    Status,
}

impl Common {
    fn registry(&self) -> eyre::Result<Address> {
        self.registry
            .ok_or_else(|| eyre!("--registry.address (or BASED_REGISTRY_ADDRESS) is required"))
    }

    /// The validator's public key: from `--validator.pubkey`, else the keystore's `pubkey` field
    /// (no password needed).
    fn pubkey(&self) -> eyre::Result<BlsPublicKey> {
        if self.pubkey.is_none() && self.mnemonic_file.is_some() {
            return Ok(self.secret()?.public_key());
        }
        let bytes = if let Some(hex) = &self.pubkey {
            alloy_primitives::hex::decode(hex).wrap_err("--validator.pubkey is not hex")?
        } else {
            let path = self
                .keystore
                .as_ref()
                .ok_or_else(|| eyre!("give --validator.keystore or --validator.pubkey"))?;
            Keystore::from_file(path)?
                .pubkey_bytes()
                .ok_or_else(|| eyre!("keystore {} has no pubkey field", path.display()))?
        };
        Ok(BlsPublicKey::from_compressed(&bytes)?)
    }

    /// Decrypts the validator's BLS secret key and checks it against the keystore's pubkey.
    fn secret(&self) -> eyre::Result<BlsSecretKey> {
        if let Some(path) = &self.mnemonic_file {
            let index = self
                .index
                .ok_or_else(|| eyre!("--validator.mnemonic-file needs --validator.index"))?;
            let mnemonic = based_keystore::mnemonic::read_mnemonic_file(path)?;
            let secret = based_keystore::mnemonic::validator_secret(&mnemonic, "", index)?;
            return Ok(BlsSecretKey::from_bytes(&secret)?);
        }
        let path = self.keystore.as_ref().ok_or_else(|| {
            eyre!("--validator.keystore (or --validator.mnemonic-file) is required")
        })?;
        let keystore = Keystore::from_file(path)?;
        let pw = password(self.password_file.as_deref(), &path.display().to_string())?;
        let secret = keystore.decrypt(&pw)?;
        let bytes: [u8; 32] = secret
            .as_slice()
            .try_into()
            .map_err(|_| eyre!("keystore secret is {} bytes, expected 32", secret.len()))?;
        let key = BlsSecretKey::from_bytes(&bytes)?;
        if let Some(stored) = keystore.pubkey_bytes()
            && stored != key.public_key().compressed()
        {
            return Err(eyre!("keystore pubkey does not match its secret key"));
        }
        Ok(key)
    }

    fn client(&self, signing: bool) -> eyre::Result<(RegistryClient<DynProvider>, Address)> {
        let url = self.l1_rpc_url.parse().wrap_err("bad --l1.rpc-url")?;
        if !signing {
            let provider = ProviderBuilder::new().connect_http(url).erased();
            return Ok((RegistryClient::new(provider, self.registry()?), Address::ZERO));
        }
        let signer = ecdsa_signer(
            self.owner_keystore.as_deref(),
            self.owner_password_file.as_deref(),
            "BASED_OWNER_KEY",
        )?;
        let sender = signer.address();
        let provider =
            ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(url).erased();
        Ok((RegistryClient::new(provider, self.registry()?), sender))
    }
}

#[allow(clippy::print_stdout)]
fn mined(what: &str, hash: B256) {
    println!("{what}: transaction {hash}");
}

/// Runs `based validator`.
#[allow(clippy::print_stdout)]
pub(crate) async fn run(args: ValidatorArgs) -> eyre::Result<()> {
    let common = &args.common;
    match args.action {
        Action::Register { owner, collateral } => {
            let key = common.secret()?;
            let (client, sender) = common.client(true)?;
            let collateral = match collateral {
                Some(c) => c,
                None => client.config().await?.min_collateral,
            };
            let owner = owner.unwrap_or(sender);
            let receipt = client.register(&key, owner, collateral).await?;
            mined("registered", receipt.transaction_hash);
            println!("pubkey hash: {}", key.public_key().hash());
        }
        Action::OptIn { committer } => {
            let hash = common.pubkey()?.hash();
            let (client, _) = common.client(true)?;
            mined("opted in", client.opt_in(hash, committer).await?.transaction_hash);
        }
        Action::OptOut => {
            let hash = common.pubkey()?.hash();
            let (client, _) = common.client(true)?;
            mined("opted out", client.opt_out(hash).await?.transaction_hash);
        }
        Action::Unregister => {
            let hash = common.pubkey()?.hash();
            let (client, _) = common.client(true)?;
            mined("unregistered", client.unregister(hash).await?.transaction_hash);
        }
        Action::Claim => {
            let hash = common.pubkey()?.hash();
            let (client, _) = common.client(true)?;
            mined("claimed", client.claim(hash).await?.transaction_hash);
        }
        Action::Status => {
            let pubkey = common.pubkey()?;
            let (client, _) = common.client(false)?;
            print!("{}", client.status(&pubkey).await?);
        }
    }
    Ok(())
}
