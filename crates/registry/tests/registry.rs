//! Registry contract behaviour on anvil (Prague, EIP-2537 precompiles): BLS registration checked on L1,
//! collateral, delayed opt-in / opt-out, unregistration and delayed claim. Prints the gas of each call
//! (docs/benchmarks.md, "Registry gas").
#![allow(clippy::print_stdout, missing_docs)]

use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, B256, U256};
use alloy_provider::{DynProvider, Provider};
use alloy_rpc_types_eth::{TransactionReceipt, TransactionRequest};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolError, SolEvent};
use based_anvil::{
    Anvil, AnvilOptions, DEV_KEYS,
    contract::{call_tx, revert_selector, send, view, wallet as provider},
};
use based_registry::{
    BLS, BlsSecretKey, BlsSignature, DST, REGISTRATION_DOMAIN, Registry, RegistryConfig,
    bls::hash_to_g2, registration_message, registry_creation_code,
};

const CHAIN_ID: u64 = 31337;
const OPT_IN_DELAY: u64 = 100;
const OPT_OUT_DELAY: u64 = 50;
const UNREGISTRATION_DELAY: u64 = 200;

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

fn config() -> RegistryConfig {
    RegistryConfig {
        min_collateral: ether(1),
        opt_in_delay: OPT_IN_DELAY,
        opt_out_delay: OPT_OUT_DELAY,
        unregistration_delay: UNREGISTRATION_DELAY,
        slasher: Address::repeat_byte(0x5e),
    }
}

struct Env {
    _anvil: Anvil,
    /// Dev account 0: deployer and relayer of registrations.
    p0: DynProvider,
    /// Dev account 1: the owner of the keys.
    p1: DynProvider,
    owner: Address,
    registry: Address,
}

async fn setup() -> Env {
    let anvil = Anvil::spawn(&AnvilOptions::default()).expect("anvil (run `make tools`)");
    let p0 = provider(&anvil, 0);
    let p1 = provider(&anvil, 1);
    let owner: Address = DEV_KEYS[1].parse::<PrivateKeySigner>().unwrap().address();
    let tx = TransactionRequest::default().with_deploy_code(registry_creation_code(&config()));
    let receipt = p0.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status(), "deploy failed");
    println!("registry deploy gas: {}", receipt.gas_used);
    Env { _anvil: anvil, p0, p1, owner, registry: receipt.contract_address.unwrap() }
}

async fn increase_time(p: &DynProvider, seconds: u64) {
    let _: serde_json::Value =
        p.raw_request("evm_increaseTime".into(), (U256::from(seconds),)).await.unwrap();
    let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await.unwrap();
}

async fn block_timestamp(p: &DynProvider, receipt: &TransactionReceipt) -> u64 {
    let n = receipt.block_number.unwrap();
    p.get_block_by_number(n.into()).await.unwrap().unwrap().header.timestamp
}

async fn latest_timestamp(p: &DynProvider) -> u64 {
    p.get_block_by_number(Default::default()).await.unwrap().unwrap().header.timestamp
}

fn register_call(pubkey: BLS::G1Point, signature: BLS::G2Point, owner: Address) -> Vec<u8> {
    Registry::registerCall { pubkey, signature, owner }.abi_encode()
}

/// Registers key `sk` for `env.owner` through account 0 with `collateral`; returns (hash, receipt).
async fn register(env: &Env, sk: &BlsSecretKey, collateral: U256) -> (B256, TransactionReceipt) {
    let sig = sk.sign_registration(CHAIN_ID, env.registry, env.owner);
    let input = register_call(sk.public_key().to_sol(), sig.to_sol(), env.owner);
    let receipt = send(&env.p0, call_tx(env.registry, input, collateral)).await;
    (sk.public_key().hash(), receipt)
}

fn key(i: u8) -> BlsSecretKey {
    BlsSecretKey::from_ikm(&[i; 32]).unwrap()
}

#[tokio::test]
async fn views_agree_with_rust() {
    let env = setup().await;
    let (p, r) = (&env.p0, env.registry);
    assert_eq!(view(p, r, Registry::minCollateralCall {}).await, ether(1));
    assert_eq!(view(p, r, Registry::optInDelayCall {}).await, OPT_IN_DELAY);
    assert_eq!(view(p, r, Registry::optOutDelayCall {}).await, OPT_OUT_DELAY);
    assert_eq!(view(p, r, Registry::unregistrationDelayCall {}).await, UNREGISTRATION_DELAY);
    assert_eq!(view(p, r, Registry::slasherCall {}).await, Address::repeat_byte(0x5e));
    // `registry_creation_code` leaves commitment slashing disabled.
    assert_eq!(view(p, r, Registry::commitmentSlasherCall {}).await, Address::ZERO);
    let slash = Registry::slashCommitmentCall {
        pubkeyHash: B256::repeat_byte(1),
        commitment: based_registry::ISlasher::Commitment {
            commitmentType: 1,
            payload: Default::default(),
            requestHash: B256::ZERO,
            slasher: Address::ZERO,
        },
        signature: Default::default(),
        evidence: Default::default(),
    };
    assert_eq!(
        revert_selector(p, call_tx(r, slash.abi_encode(), U256::ZERO)).await,
        Registry::CommitmentSlashingDisabled::SELECTOR
    );
    assert_eq!(view(p, r, Registry::REGISTRATION_DOMAINCall {}).await, REGISTRATION_DOMAIN);

    let owner = Address::repeat_byte(0x42);
    let msg = view(p, r, Registry::registrationMessageCall { owner }).await;
    assert_eq!(msg.as_ref(), registration_message(CHAIN_ID, r, owner).as_slice());

    // The Solidity hash to G2 (expand_message_xmd + modexp + MAP_FP2_TO_G2 + G2ADD) equals blst's.
    let point = view(p, r, Registry::registrationMessagePointCall { owner }).await;
    let expected = hash_to_g2(&registration_message(CHAIN_ID, r, owner), DST).unwrap();
    assert_eq!(BlsSignature::from_sol(&point).unwrap(), expected);

    let pk = key(1).public_key();
    assert_eq!(view(p, r, Registry::pubkeyHashOfCall { pubkey: pk.to_sol() }).await, pk.hash());

    // Constructor rejects unregistrationDelay < optOutDelay.
    let bad = RegistryConfig { unregistration_delay: OPT_OUT_DELAY - 1, ..config() };
    let tx = TransactionRequest::default().with_deploy_code(registry_creation_code(&bad));
    assert_eq!(revert_selector(p, tx).await, Registry::InvalidConfig::SELECTOR);
}

#[tokio::test]
async fn register_checks_bls_signature_and_collateral() {
    let env = setup().await;
    let (p, r, owner) = (&env.p0, env.registry, env.owner);
    let sk = key(1);
    let pk = sk.public_key().to_sol();
    let good = sk.sign_registration(CHAIN_ID, r, owner);

    // Every wrong binding is an invalid signature on L1.
    let wrong: [(&str, BlsSignature); 5] = [
        ("other key", key(2).sign_registration(CHAIN_ID, r, owner)),
        ("other owner", sk.sign_registration(CHAIN_ID, r, Address::repeat_byte(7))),
        ("other chain", sk.sign_registration(1, r, owner)),
        ("other registry", sk.sign_registration(CHAIN_ID, Address::repeat_byte(8), owner)),
        ("raw message without domain", sk.sign(&owner.into_word().0)),
    ];
    for (what, sig) in wrong {
        let tx = call_tx(r, register_call(pk.clone(), sig.to_sol(), owner), ether(1));
        assert_eq!(revert_selector(p, tx).await, Registry::InvalidSignature::SELECTOR, "{what}");
    }
    // The right signature submitted for another owner.
    let tx =
        call_tx(r, register_call(pk.clone(), good.to_sol(), Address::repeat_byte(7)), ether(1));
    assert_eq!(revert_selector(p, tx).await, Registry::InvalidSignature::SELECTOR);
    // A signature that is not a G2 point at all (pairing precompile error).
    let mut garbage = good.to_sol();
    garbage.x.c0.b ^= U256::from(1);
    let tx = call_tx(r, register_call(pk.clone(), garbage, owner), ether(1));
    assert_eq!(revert_selector(p, tx).await, Registry::InvalidSignature::SELECTOR);
    // The infinity key.
    let zero = BLS::Fp { a: U256::ZERO, b: U256::ZERO };
    let inf = BLS::G1Point { x: zero.clone(), y: zero };
    let tx = call_tx(r, register_call(inf, good.to_sol(), owner), ether(1));
    assert_eq!(revert_selector(p, tx).await, Registry::InvalidPubkey::SELECTOR);
    // Too little collateral.
    let tx = call_tx(r, register_call(pk.clone(), good.to_sol(), owner), ether(1) - U256::from(1));
    assert_eq!(revert_selector(p, tx).await, Registry::InsufficientCollateral::SELECTOR);
    // Zero owner.
    let tx = call_tx(r, register_call(pk.clone(), good.to_sol(), Address::ZERO), ether(1));
    assert_eq!(revert_selector(p, tx).await, Registry::InvalidOwner::SELECTOR);

    // The valid registration, relayed by account 0 for owner account 1.
    let (hash, receipt) = register(&env, &sk, ether(2)).await;
    println!("register gas: {}", receipt.gas_used);
    let logs = receipt.inner.logs();
    assert_eq!(logs.len(), 1);
    let ev = Registry::Registered::decode_log(&logs[0].inner).unwrap();
    assert_eq!((ev.pubkeyHash, ev.owner, ev.collateral), (hash, owner, ether(2)));
    assert_eq!(ev.pubkey, pk);
    let op = view(p, r, Registry::getOperatorCall { pubkeyHash: hash }).await;
    assert_eq!(op.owner, owner);
    assert_eq!(op.collateral, ether(2));
    assert_eq!(u64::try_from(op.registeredAt).unwrap(), block_timestamp(p, &receipt).await);
    assert_eq!(p.get_balance(r).await.unwrap(), ether(2));

    // Duplicate.
    let tx = call_tx(r, register_call(pk, good.to_sol(), owner), ether(1));
    assert_eq!(revert_selector(p, tx).await, Registry::AlreadyRegistered::SELECTOR);

    // A second key costs the same path: record its gas too.
    let (_, receipt) = register(&env, &key(3), ether(1)).await;
    println!("register gas (second key): {}", receipt.gas_used);
}

#[tokio::test]
async fn opt_in_out_unregister_claim() {
    let env = setup().await;
    let (p0, p1, r, owner) = (&env.p0, &env.p1, env.registry, env.owner);
    let committer = Address::repeat_byte(0xc0);
    let (h, _) = register(&env, &key(1), ether(1)).await;
    let committer_at =
        |t: u64| view(p0, r, Registry::committerAtCall { pubkeyHash: h, timestamp: U256::from(t) });

    // Only the owner may opt in; not to the zero address.
    let opt_in = Registry::optInCall { pubkeyHash: h, committer }.abi_encode();
    assert_eq!(
        revert_selector(p0, call_tx(r, opt_in.clone(), U256::ZERO)).await,
        Registry::NotOwner::SELECTOR
    );
    let zero = Registry::optInCall { pubkeyHash: h, committer: Address::ZERO }.abi_encode();
    assert_eq!(
        revert_selector(p1, call_tx(r, zero, U256::ZERO)).await,
        Registry::InvalidCommitter::SELECTOR
    );
    let unknown = Registry::optInCall { pubkeyHash: B256::repeat_byte(1), committer }.abi_encode();
    assert_eq!(
        revert_selector(p1, call_tx(r, unknown, U256::ZERO)).await,
        Registry::NotRegistered::SELECTOR
    );
    // Opt-out without opt-in.
    let opt_out = Registry::optOutCall { pubkeyHash: h }.abi_encode();
    assert_eq!(
        revert_selector(p1, call_tx(r, opt_out.clone(), U256::ZERO)).await,
        Registry::NotOptedIn::SELECTOR
    );

    // Opt in: effective only after OPT_IN_DELAY.
    let receipt = send(p1, call_tx(r, opt_in.clone(), U256::ZERO)).await;
    println!("optIn gas: {}", receipt.gas_used);
    let t_in = block_timestamp(p0, &receipt).await;
    let ev = Registry::OptedIn::decode_log(&receipt.inner.logs()[0].inner).unwrap();
    assert_eq!((ev.pubkeyHash, ev.committer), (h, committer));
    assert_eq!(ev.effectiveAt, U256::from(t_in + OPT_IN_DELAY));
    assert_eq!(committer_at(t_in).await, Address::ZERO);
    assert_eq!(committer_at(t_in + OPT_IN_DELAY - 1).await, Address::ZERO);
    assert_eq!(committer_at(t_in + OPT_IN_DELAY).await, committer);
    assert_eq!(view(p0, r, Registry::currentCommitterCall { pubkeyHash: h }).await, Address::ZERO);
    // A second opt-in (e.g. to change the committer) is refused while one is active.
    assert_eq!(
        revert_selector(p1, call_tx(r, opt_in.clone(), U256::ZERO)).await,
        Registry::AlreadyOptedIn::SELECTOR
    );
    increase_time(p0, OPT_IN_DELAY).await;
    assert_eq!(view(p0, r, Registry::currentCommitterCall { pubkeyHash: h }).await, committer);

    // Opt out: the committer keeps its rights until OPT_OUT_DELAY has passed.
    let receipt = send(p1, call_tx(r, opt_out.clone(), U256::ZERO)).await;
    println!("optOut gas: {}", receipt.gas_used);
    let t_out = block_timestamp(p0, &receipt).await;
    let ev = Registry::OptedOut::decode_log(&receipt.inner.logs()[0].inner).unwrap();
    assert_eq!((ev.committer, ev.effectiveAt), (committer, U256::from(t_out + OPT_OUT_DELAY)));
    assert_eq!(committer_at(t_out + OPT_OUT_DELAY - 1).await, committer);
    assert_eq!(committer_at(t_out + OPT_OUT_DELAY).await, Address::ZERO);
    assert_eq!(
        revert_selector(p1, call_tx(r, opt_out.clone(), U256::ZERO)).await,
        Registry::NotOptedIn::SELECTOR
    );
    // Re-opt-in only once the opt-out took effect.
    let committer2 = Address::repeat_byte(0xc2);
    let opt_in2 = Registry::optInCall { pubkeyHash: h, committer: committer2 }.abi_encode();
    assert_eq!(
        revert_selector(p1, call_tx(r, opt_in2.clone(), U256::ZERO)).await,
        Registry::AlreadyOptedIn::SELECTOR
    );
    increase_time(p0, OPT_OUT_DELAY).await;
    let receipt = send(p1, call_tx(r, opt_in2, U256::ZERO)).await;
    let t_in2 = block_timestamp(p0, &receipt).await;
    assert_eq!(committer_at(t_in2 + OPT_IN_DELAY).await, committer2);
    increase_time(p0, OPT_IN_DELAY).await;

    // Anyone may add collateral.
    let add = Registry::addCollateralCall { pubkeyHash: h }.abi_encode();
    let receipt = send(p0, call_tx(r, add.clone(), ether(1))).await;
    let ev = Registry::CollateralAdded::decode_log(&receipt.inner.logs()[0].inner).unwrap();
    assert_eq!((ev.amount, ev.collateral), (ether(1), ether(2)));
    assert_eq!(
        revert_selector(p0, call_tx(r, add.clone(), U256::ZERO)).await,
        Registry::NoValue::SELECTOR
    );

    // Claim before unregister.
    let claim = Registry::claimCollateralCall { pubkeyHash: h }.abi_encode();
    assert_eq!(
        revert_selector(p1, call_tx(r, claim.clone(), U256::ZERO)).await,
        Registry::NotUnregistered::SELECTOR
    );
    // Unregister (owner only): rights end after OPT_OUT_DELAY, claim after UNREGISTRATION_DELAY.
    let unregister = Registry::unregisterCall { pubkeyHash: h }.abi_encode();
    assert_eq!(
        revert_selector(p0, call_tx(r, unregister.clone(), U256::ZERO)).await,
        Registry::NotOwner::SELECTOR
    );
    let receipt = send(p1, call_tx(r, unregister.clone(), U256::ZERO)).await;
    println!("unregister gas: {}", receipt.gas_used);
    let t_un = block_timestamp(p0, &receipt).await;
    let ev = Registry::Unregistered::decode_log(&receipt.inner.logs()[0].inner).unwrap();
    assert_eq!(ev.effectiveAt, U256::from(t_un + OPT_OUT_DELAY));
    assert_eq!(ev.claimableAt, U256::from(t_un + UNREGISTRATION_DELAY));
    assert_eq!(committer_at(t_un + OPT_OUT_DELAY - 1).await, committer2);
    assert_eq!(committer_at(t_un + OPT_OUT_DELAY).await, Address::ZERO);
    for (input, selector) in [
        (unregister.clone(), Registry::AlreadyUnregistered::SELECTOR),
        (opt_in.clone(), Registry::AlreadyUnregistered::SELECTOR),
    ] {
        assert_eq!(revert_selector(p1, call_tx(r, input, U256::ZERO)).await, selector);
    }
    assert_eq!(
        revert_selector(p0, call_tx(r, add, ether(1))).await,
        Registry::AlreadyUnregistered::SELECTOR
    );

    // Early claim, then a claim exactly at the deadline pays the whole collateral to the owner.
    increase_time(p0, UNREGISTRATION_DELAY - 10).await;
    assert!(latest_timestamp(p0).await < t_un + UNREGISTRATION_DELAY);
    assert_eq!(
        revert_selector(p1, call_tx(r, claim.clone(), U256::ZERO)).await,
        Registry::EarlyClaim::SELECTOR
    );
    assert_eq!(
        revert_selector(p0, call_tx(r, claim.clone(), U256::ZERO)).await,
        Registry::NotOwner::SELECTOR
    );
    let _: serde_json::Value = p0
        .raw_request("evm_setNextBlockTimestamp".into(), (U256::from(t_un + UNREGISTRATION_DELAY),))
        .await
        .unwrap();
    let before = p1.get_balance(owner).await.unwrap();
    let receipt = send(p1, call_tx(r, claim.clone(), U256::ZERO)).await;
    println!("claimCollateral gas: {}", receipt.gas_used);
    assert_eq!(block_timestamp(p0, &receipt).await, t_un + UNREGISTRATION_DELAY);
    let after = p1.get_balance(owner).await.unwrap();
    let fee = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    assert_eq!(after + fee - before, ether(2));
    let ev = Registry::CollateralClaimed::decode_log(&receipt.inner.logs()[0].inner).unwrap();
    assert_eq!((ev.pubkeyHash, ev.owner, ev.amount), (h, owner, ether(2)));
    assert_eq!(p0.get_balance(r).await.unwrap(), U256::ZERO);
    let op = view(p0, r, Registry::getOperatorCall { pubkeyHash: h }).await;
    assert_eq!(op.owner, Address::ZERO);
    assert_eq!(
        revert_selector(p1, call_tx(r, claim, U256::ZERO)).await,
        Registry::NotRegistered::SELECTOR
    );
    // The key may register again.
    register(&env, &key(1), ether(1)).await;
}

#[tokio::test]
async fn slash_by_slasher_only() {
    let env = setup().await;
    let (p0, r) = (&env.p0, env.registry);
    let slasher = config().slasher;
    let (h, _) = register(&env, &key(1), ether(2)).await;
    let recipient = Address::repeat_byte(0xee);
    let slash = |amount: U256, recipient: Address| {
        Registry::slashCall { pubkeyHash: h, amount, recipient }.abi_encode()
    };
    assert_eq!(
        revert_selector(p0, call_tx(r, slash(ether(1), recipient), U256::ZERO)).await,
        Registry::NotSlasher::SELECTOR
    );

    // The slasher (impersonated) takes 1.5 ether to `recipient`, then more than is left, burned.
    let _: serde_json::Value =
        p0.raw_request("anvil_impersonateAccount".into(), (slasher,)).await.unwrap();
    let _: serde_json::Value =
        p0.raw_request("anvil_setBalance".into(), (slasher, ether(1))).await.unwrap();
    let from_slasher = |input: Vec<u8>| {
        let tx = call_tx(r, input, U256::ZERO).with_from(slasher);
        async move {
            let hash: B256 = p0.raw_request("eth_sendTransaction".into(), (tx,)).await.unwrap();
            let receipt = loop {
                if let Some(receipt) = p0.get_transaction_receipt(hash).await.unwrap() {
                    break receipt;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            };
            assert!(receipt.status(), "slash reverted");
            receipt
        }
    };
    let half = ether(1) / U256::from(2);
    let receipt = from_slasher(slash(ether(1) + half, recipient)).await;
    println!("slash gas: {}", receipt.gas_used);
    let ev = Registry::Slashed::decode_log(&receipt.inner.logs()[0].inner).unwrap();
    assert_eq!(
        (ev.pubkeyHash, ev.recipient, ev.amount, ev.collateral),
        (h, recipient, ether(1) + half, half)
    );
    assert_eq!(p0.get_balance(recipient).await.unwrap(), ether(1) + half);
    // Below minCollateral: no commit rights any more (see committerAt); the rest is burned.
    let receipt = from_slasher(slash(ether(5), Address::ZERO)).await;
    let ev = Registry::Slashed::decode_log(&receipt.inner.logs()[0].inner).unwrap();
    assert_eq!((ev.amount, ev.collateral), (half, U256::ZERO));
    assert_eq!(p0.get_balance(r).await.unwrap(), half);
    let op = view(p0, r, Registry::getOperatorCall { pubkeyHash: h }).await;
    assert_eq!((op.owner, op.collateral), (env.owner, U256::ZERO));
}
