//! `based validator` against a Registry on anvil, as a validator would run it: the BLS key from an
//! EIP-2335 keystore with a password file, the owner key from the environment (never a flag).
//! register -> status -> opt-in (delayed) -> refused early claim -> unregister -> claim.

use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, U256};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer_local::PrivateKeySigner;
use based_anvil::{Anvil, AnvilOptions, DEV_KEYS};
use based_keystore::Keystore;
use based_registry::{BlsSecretKey, RegistryConfig, registry_creation_code};
use based_tests::{based_bin, eyre};
use std::{path::Path, process::Command};

const OPT_IN_DELAY: u64 = 60;
const UNREGISTRATION_DELAY: u64 = 120;

/// Runs `based validator <args>`; returns (success, stdout + stderr).
fn validator(anvil: &Anvil, registry: Address, dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(based_bin().unwrap())
        .arg("validator")
        .args(args)
        .args(["--l1.rpc-url", &anvil.endpoint(), "--registry.address", &registry.to_string()])
        .arg("--validator.keystore")
        .arg(dir.join("keystore.json"))
        .arg("--validator.password-file")
        .arg(dir.join("password.txt"))
        .env("BASED_OWNER_KEY", DEV_KEYS[1])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validator_lifecycle_through_the_cli() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let anvil = Anvil::spawn(&AnvilOptions::default())?;
    let deployer: PrivateKeySigner = DEV_KEYS[0].parse()?;
    let l1 = ProviderBuilder::new()
        .wallet(EthereumWallet::from(deployer))
        .connect_http(anvil.endpoint().parse()?);
    let config = RegistryConfig {
        min_collateral: U256::from(10u64).pow(U256::from(18u64)),
        opt_in_delay: OPT_IN_DELAY,
        opt_out_delay: OPT_IN_DELAY,
        unregistration_delay: UNREGISTRATION_DELAY,
        slasher: Address::ZERO,
    };
    let tx = TransactionRequest::default().with_deploy_code(registry_creation_code(&config));
    let registry = l1.send_transaction(tx).await?.get_receipt().await?.contract_address.unwrap();

    // The validator's BLS key in an EIP-2335 keystore, its password in a file.
    let dir = tempfile::tempdir()?;
    let key = BlsSecretKey::from_ikm(&[9u8; 32])?;
    let keystore = Keystore::encrypt(
        &key.to_bytes(),
        "correct horse",
        &key.public_key().compressed(),
        "m/12381/3600/0/0/0",
        4,
    )?;
    std::fs::write(dir.path().join("keystore.json"), serde_json::to_string(&keystore)?)?;
    std::fs::write(dir.path().join("password.txt"), "wrong\n")?;
    let (ok, out) = validator(&anvil, registry, dir.path(), &["register"]);
    assert!(!ok && out.contains("wrong password"), "{out}");
    std::fs::write(dir.path().join("password.txt"), "correct horse\n")?;

    let (ok, out) = validator(&anvil, registry, dir.path(), &["status"]);
    assert!(ok && out.contains("registered:         no"), "{out}");

    let (ok, out) = validator(&anvil, registry, dir.path(), &["register"]);
    assert!(ok, "{out}");
    assert!(out.contains(&key.public_key().hash().to_string()), "{out}");
    let owner: Address = DEV_KEYS[1].parse::<PrivateKeySigner>()?.address();
    let (ok, out) = validator(&anvil, registry, dir.path(), &["status"]);
    assert!(
        ok && out.contains(&owner.to_string()) && out.contains("committer:          none"),
        "{out}"
    );
    // Registering twice is refused with the contract's named error.
    let (ok, out) = validator(&anvil, registry, dir.path(), &["register"]);
    assert!(!ok && out.contains("AlreadyRegistered"), "{out}");

    let committer = Address::repeat_byte(0xc0);
    let (ok, out) =
        validator(&anvil, registry, dir.path(), &["opt-in", "--committer", &committer.to_string()]);
    assert!(ok, "{out}");
    let (_, out) = validator(&anvil, registry, dir.path(), &["status"]);
    assert!(
        out.contains(&committer.to_string()) && out.contains("commit rights now:  no"),
        "{out}"
    );
    anvil.rpc("evm_increaseTime", &format!("[{OPT_IN_DELAY}]"))?;
    anvil.rpc("evm_mine", "[]")?;
    let (_, out) = validator(&anvil, registry, dir.path(), &["status"]);
    assert!(out.contains("commit rights now:  yes"), "{out}");

    let (ok, out) = validator(&anvil, registry, dir.path(), &["claim"]);
    assert!(!ok && out.contains("NotUnregistered"), "{out}");
    let (ok, out) = validator(&anvil, registry, dir.path(), &["unregister"]);
    assert!(ok, "{out}");
    let (ok, out) = validator(&anvil, registry, dir.path(), &["claim"]);
    assert!(!ok && out.contains("EarlyClaim"), "{out}");
    anvil.rpc("evm_increaseTime", &format!("[{UNREGISTRATION_DELAY}]"))?;
    anvil.rpc("evm_mine", "[]")?;
    let before = l1.get_balance(owner).await?;
    let (ok, out) = validator(&anvil, registry, dir.path(), &["claim"]);
    assert!(ok, "{out}");
    let after = l1.get_balance(owner).await?;
    // The collateral (1 ether) came back, less the claim's gas.
    assert!(
        after > before + config.min_collateral - U256::from(10u64.pow(16)),
        "{before} -> {after}"
    );
    let (_, out) = validator(&anvil, registry, dir.path(), &["status"]);
    assert!(out.contains("registered:         no"), "{out}");
    Ok(())
}
