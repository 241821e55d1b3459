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

/// Runs `based validator <args>` with the keystore in `dir`; returns (success, stdout + stderr).
fn validator(anvil: &Anvil, registry: Address, dir: &Path, args: &[&str]) -> (bool, String) {
    let keystore = dir.join("keystore.json");
    let password = dir.join("password.txt");
    let key: [&std::ffi::OsStr; 4] = [
        "--validator.keystore".as_ref(),
        keystore.as_os_str(),
        "--validator.password-file".as_ref(),
        password.as_os_str(),
    ];
    based_validator(anvil, registry, &key, args)
}

/// Runs `based validator <args> <key_args>`, the owner key from the environment.
fn based_validator(
    anvil: &Anvil,
    registry: Address,
    key_args: &[&std::ffi::OsStr],
    args: &[&str],
) -> (bool, String) {
    let out = Command::new(based_bin().unwrap())
        .arg("validator")
        .args(args)
        .args(["--l1.rpc-url", &anvil.endpoint(), "--registry.address", &registry.to_string()])
        .args(key_args)
        .env("BASED_OWNER_KEY", DEV_KEYS[1])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Deploys a Registry (1 ether collateral, the delays above) from dev key 0.
async fn deploy_registry(anvil: &Anvil) -> eyre::Result<(Address, RegistryConfig)> {
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
    Ok((registry, config))
}

/// A devnet's validators registered and opted in from its public mnemonic (what the Kurtosis
/// package does for the ethereum-package's validators): `--validator.mnemonic-file` with
/// `--validator.index` derives the deposit tools' signing key `m/12381/3600/<index>/0/0`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validator_keys_from_a_devnet_mnemonic() -> eyre::Result<()> {
    const MNEMONIC: &str = "giant issue aisle success illegal bike spike question tent bar rely \
                            arctic volcano long crawl hungry vocal artwork sniff fantasy very \
                            lucky have athlete";
    let _serial = based_tests::serial();
    let anvil = Anvil::spawn(&AnvilOptions::default())?;
    let (registry, _) = deploy_registry(&anvil).await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("mnemonic.txt");
    std::fs::write(&file, format!("{MNEMONIC}\n"))?;
    let mnemonic_args = |index: &'static str| -> Vec<std::ffi::OsString> {
        vec![
            "--validator.mnemonic-file".into(),
            file.clone().into(),
            "--validator.index".into(),
            index.into(),
        ]
    };
    let run = |index: &'static str, args: &[&str]| {
        let key_args = mnemonic_args(index);
        let key_args: Vec<&std::ffi::OsStr> = key_args.iter().map(|a| a.as_os_str()).collect();
        based_validator(&anvil, registry, &key_args, args)
    };

    // Without an index the key is unknown.
    let file_only = [std::ffi::OsStr::new("--validator.mnemonic-file"), file.as_os_str()];
    let (ok, out) = based_validator(&anvil, registry, &file_only, &["register"]);
    assert!(!ok && out.contains("--validator.index"), "{out}");

    let committer = Address::repeat_byte(0xc1);
    for index in ["0", "1"] {
        let secret = based_keystore::mnemonic::validator_secret(MNEMONIC, "", index.parse()?)?;
        let pubkey = BlsSecretKey::from_bytes(&secret)?.public_key();
        let (ok, out) = run(index, &["register"]);
        assert!(ok && out.contains(&pubkey.hash().to_string()), "{out}");
        let (ok, out) = run(index, &["opt-in", "--committer", &committer.to_string()]);
        assert!(ok, "{out}");
        let (ok, out) = run(index, &["status"]);
        assert!(ok && out.contains(&committer.to_string()), "{out}");
    }
    // Validator 0 is the ethereum-package's first genesis validator.
    let secret = based_keystore::mnemonic::validator_secret(MNEMONIC, "", 0)?;
    assert_eq!(
        alloy_primitives::hex::encode(BlsSecretKey::from_bytes(&secret)?.public_key().compressed()),
        "aaf6c1251e73fb600624937760fef218aace5b253bf068ed45398aeb29d821e4d2899343ddcbbe37cb3f6cf500dff26c"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validator_lifecycle_through_the_cli() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let anvil = Anvil::spawn(&AnvilOptions::default())?;
    let deployer: PrivateKeySigner = DEV_KEYS[0].parse()?;
    let l1 = ProviderBuilder::new()
        .wallet(EthereumWallet::from(deployer))
        .connect_http(anvil.endpoint().parse()?);
    let (registry, config) = deploy_registry(&anvil).await?;

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
