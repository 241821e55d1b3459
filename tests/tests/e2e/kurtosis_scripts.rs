//! The Kurtosis package's shell steps, run for real against anvil: `kurtosis/src/contracts.star`'s
//! `DEPLOY_SCRIPT` with the cast release of the package's foundry image (package.json pins the
//! same one), then `kurtosis/src/validators.star`'s `REGISTER_SCRIPT` with the built `based`.
//! Docker (hence Kurtosis) is not available here; this runs the package's own scripts, read out of
//! the `.star` files, so an error in them fails here instead of in an enclave. Checked: the four
//! contracts name each other as the package says (the Inbox in opt-in mode, enforcing the
//! Lookahead, with the chain spec's forced-inclusion window), and the ethereum-package's first
//! validators, derived from its mnemonic, end up delegating to the committer.

use super::kurtosis_package::{constants, read, repo, string_constant};
use alloy_primitives::Address;
use alloy_provider::{Provider, ProviderBuilder};
use alloy_signer_local::PrivateKeySigner;
use based_anvil::{Anvil, AnvilOptions, DEV_KEYS};
use based_contracts::client::view;
use based_registry::{BlsSecretKey, Registry, RegistryClient};
use based_tests::{based_bin, eyre};
use std::{collections::BTreeMap, path::PathBuf, process::Command};

/// The ethereum-package's default `preregistered_validator_keys_mnemonic` (public, test-only).
const MNEMONIC: &str = "giant issue aisle success illegal bike spike question tent bar rely arctic \
                        volcano long crawl hungry vocal artwork sniff fantasy very lucky have athlete";
const SECONDS_PER_SLOT: u64 = 12;
const SLOTS_PER_EPOCH: u64 = 32;

alloy_sol_types::sol! {
    function slasher() external view returns (address);
    function commitmentSlasher() external view returns (address);
    function registry() external view returns (address);
    function preconferSource() external view returns (address);
    function inbox() external view returns (address);
    function forcedInclusionWindow() external view returns (uint64);
    function forcedEscapeWindow() external view returns (uint64);
    function maxProposalGap() external view returns (uint64);
}

/// cast: `$BASED_CAST`, else the one `make tools` installs (package.json).
fn cast_bin() -> eyre::Result<PathBuf> {
    if let Ok(path) = std::env::var("BASED_CAST") {
        return Ok(path.into());
    }
    let path = repo().join("node_modules/@foundry-rs/cast-linux-amd64/bin/cast");
    eyre::ensure!(path.exists(), "{} missing: run `make tools`", path.display());
    Ok(path)
}

/// Runs `script` with `sh -c` and `env` (plus PATH with `tools_dirs` first); fails with its output.
fn run_sh(
    what: &str,
    script: &str,
    env: &BTreeMap<String, String>,
    tools_dirs: &[PathBuf],
) -> eyre::Result<String> {
    let mut path = tools_dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>();
    path.push(std::env::var("PATH").unwrap_or_default());
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .env_clear()
        .envs(env)
        .env("PATH", path.join(":"))
        .env("HOME", std::env::temp_dir())
        .output()?;
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eyre::ensure!(out.status.success(), "{what} failed ({}):\n{text}", out.status);
    Ok(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kurtosis_deploy_and_register_scripts_run_against_anvil() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let anvil = Anvil::spawn(&AnvilOptions::default())?;
    let l1 = ProviderBuilder::new().connect_http(anvil.endpoint().parse()?);
    let cast = cast_bin()?;
    let cast_dir = cast.parent().map(PathBuf::from).unwrap_or_default();
    let based = based_bin()?;
    let based_dir = based.parent().map(PathBuf::from).unwrap_or_default();

    // 1. DEPLOY_SCRIPT, with the environment contracts.star gives it: its constants, and what
    //    Kurtosis knows at run time (the L1, the deployer, the slot clock).
    let contracts_src = read(&repo().join("kurtosis/src/contracts.star"))?;
    let deploy = string_constant(&contracts_src, "DEPLOY_SCRIPT")?;
    let mut env: BTreeMap<String, String> = constants(&contracts_src)
        .into_iter()
        .filter(|(name, _)| !name.ends_with("_SCRIPT"))
        .collect();
    let deployer: PrivateKeySigner = DEV_KEYS[2].parse()?;
    let deployment = tempfile::tempdir()?;
    let genesis_time = l1
        .get_block_by_number(alloy_eips::BlockNumberOrTag::Earliest)
        .await?
        .map(|b| b.header.timestamp)
        .ok_or_else(|| eyre::eyre!("no genesis block"))?;
    let delay = 2 * SLOTS_PER_EPOCH * SECONDS_PER_SLOT;
    for (key, value) in [
        ("L1_RPC_URL", anvil.endpoint()),
        ("DEPLOYER_KEY", DEV_KEYS[2].to_owned()),
        ("DEPLOYER_ADDRESS", deployer.address().to_string()),
        ("CONTRACTS_DIR", repo().join("contracts/out").display().to_string()),
        ("DEPLOYMENT_DIR", deployment.path().display().to_string()),
        ("DELAY_SECONDS", delay.to_string()),
        ("UNREGISTRATION_DELAY_SECONDS", (2 * delay).to_string()),
        ("GENESIS_TIME", genesis_time.to_string()),
        ("SECONDS_PER_SLOT", SECONDS_PER_SLOT.to_string()),
        ("SLOTS_PER_EPOCH", SLOTS_PER_EPOCH.to_string()),
    ] {
        env.insert(key.to_owned(), value);
    }
    // The script waits for the L1's first block (a real L1 makes one every slot; anvil on demand).
    anvil.rpc("evm_mine", "[]")?;
    run_sh("DEPLOY_SCRIPT", &deploy, &env, &[cast_dir])?;
    let address = |name: &str| -> eyre::Result<Address> {
        Ok(std::fs::read_to_string(deployment.path().join(name))?.trim().parse()?)
    };
    let (registry, lookahead, slasher, inbox) = (
        address("Registry")?,
        address("Lookahead")?,
        address("PreconfSlasher")?,
        address("Inbox")?,
    );

    // The contracts name each other as the package's comments say.
    assert_eq!(view(&l1, registry, slasherCall {}).await?, lookahead);
    assert_eq!(view(&l1, registry, commitmentSlasherCall {}).await?, slasher);
    assert_eq!(view(&l1, lookahead, registryCall {}).await?, registry);
    assert_eq!(view(&l1, slasher, registryCall {}).await?, registry);
    assert_eq!(view(&l1, slasher, preconferSourceCall {}).await?, lookahead);
    assert_eq!(view(&l1, slasher, inboxCall {}).await?, inbox);
    // The Inbox in opt-in mode, its forced-inclusion window the nodes' chain spec's (consensus).
    assert_eq!(view(&l1, inbox, preconferSourceCall {}).await?, lookahead);
    let spec = based_chainspec::ChainSpec::load("devnet")?;
    assert_eq!(
        view(&l1, inbox, forcedInclusionWindowCall {}).await?,
        spec.derivation().forced_inclusion_window
    );
    assert_eq!(view(&l1, inbox, forcedEscapeWindowCall {}).await?, SLOTS_PER_EPOCH);
    assert_eq!(view(&l1, inbox, maxProposalGapCall {}).await?, 2 * SLOTS_PER_EPOCH);

    // 2. REGISTER_SCRIPT, with the environment validators.star gives it.
    let validators_src = read(&repo().join("kurtosis/src/validators.star"))?;
    let register = string_constant(&validators_src, "REGISTER_SCRIPT")?;
    let committer = Address::repeat_byte(0xc7);
    let last = 2u32;
    let env: BTreeMap<String, String> = [
        ("BASED_L1_RPC_URL", anvil.endpoint()),
        ("BASED_REGISTRY_ADDRESS", registry.to_string()),
        ("BASED_OWNER_KEY", DEV_KEYS[3].to_owned()),
        ("BASED_VALIDATOR_COMMITTER", committer.to_string()),
        ("MNEMONIC", MNEMONIC.to_owned()),
        ("FIRST_VALIDATOR", "0".to_owned()),
        ("LAST_VALIDATOR", last.to_string()),
        ("RUST_LOG", "warn".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let out = run_sh("REGISTER_SCRIPT", &register, &env, &[based_dir])?;
    assert!(!out.contains(MNEMONIC), "the mnemonic was printed:\n{out}");

    // Each validator is registered by the owner and, after the opt-in delay, delegates to the
    // committer.
    anvil.rpc("evm_increaseTime", &format!("[{}]", delay + 1))?;
    anvil.rpc("evm_mine", "[]")?;
    let owner = DEV_KEYS[3].parse::<PrivateKeySigner>()?.address();
    let client = RegistryClient::new(&l1, registry);
    for index in 0..=last {
        let secret = based_keystore::mnemonic::validator_secret(MNEMONIC, "", index)?;
        let pubkey = BlsSecretKey::from_bytes(&secret)?.public_key();
        let status = client.status(&pubkey).await?;
        assert_eq!(status.owner, Some(owner), "validator {index}");
        assert_eq!(status.current_committer, Some(committer), "validator {index}");
        let current =
            view(&l1, registry, Registry::currentCommitterCall { pubkeyHash: pubkey.hash() })
                .await?;
        assert_eq!(current, committer, "validator {index}");
    }
    // The next one was not part of the range.
    let secret = based_keystore::mnemonic::validator_secret(MNEMONIC, "", last + 1)?;
    let status = client.status(&BlsSecretKey::from_bytes(&secret)?.public_key()).await?;
    assert_eq!(status.owner, None);
    Ok(())
}
