//! Registry contract behaviour on anvil (Prague, EIP-2537 precompiles): BLS registration checked on L1,
//! collateral, delayed opt-in / opt-out, unregistration and delayed claim, and the history behind
//! `committerAt` (an answer for a past time never changes: slashes, top-ups, opt-outs, new opt-ins
//! and new registrations only act after their block). Prints the gas of each call
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

/// Sends `input` to the registry from `from` (impersonated, funded with 1 ether); asserts success.
async fn send_as(env: &Env, from: Address, input: Vec<u8>) -> TransactionReceipt {
    let p = &env.p0;
    let _: serde_json::Value =
        p.raw_request("anvil_impersonateAccount".into(), (from,)).await.unwrap();
    let _: serde_json::Value =
        p.raw_request("anvil_setBalance".into(), (from, ether(1))).await.unwrap();
    let tx = call_tx(env.registry, input, U256::ZERO).with_from(from);
    let hash: B256 = p.raw_request("eth_sendTransaction".into(), (tx,)).await.unwrap();
    let receipt = loop {
        if let Some(receipt) = p.get_transaction_receipt(hash).await.unwrap() {
            break receipt;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(receipt.status(), "call from {from} reverted");
    receipt
}

/// `Registry.slash(h, amount, burn)` by the configured slasher; the block's timestamp.
async fn slash_key(env: &Env, h: B256, amount: U256) -> u64 {
    let input =
        Registry::slashCall { pubkeyHash: h, amount, recipient: Address::ZERO }.abi_encode();
    let receipt = send_as(env, config().slasher, input).await;
    block_timestamp(&env.p0, &receipt).await
}

/// Sends `input` as the owner (account 1); the block's timestamp.
async fn owner_sends(env: &Env, input: Vec<u8>, value: U256) -> u64 {
    let receipt = send(&env.p1, call_tx(env.registry, input, value)).await;
    block_timestamp(&env.p0, &receipt).await
}

/// `Registry.committerAt(h, t)`.
async fn committer_at(env: &Env, h: B256, t: u64) -> Address {
    view(
        &env.p0,
        env.registry,
        Registry::committerAtCall { pubkeyHash: h, timestamp: U256::from(t) },
    )
    .await
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

    // Constructor rejects unregistrationDelay < optOutDelay and zero opt-in / opt-out delays (a
    // change effective in its own block would change `committerAt(now)` after it was read).
    for bad in [
        RegistryConfig { unregistration_delay: OPT_OUT_DELAY - 1, ..config() },
        RegistryConfig { opt_in_delay: 0, ..config() },
        RegistryConfig { opt_out_delay: 0, ..config() },
    ] {
        let tx = TransactionRequest::default().with_deploy_code(registry_creation_code(&bad));
        assert_eq!(revert_selector(p, tx).await, Registry::InvalidConfig::SELECTOR, "{bad:?}");
    }
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
    // Unregistering ended the delegation: no opt-out left to make.
    for (input, selector) in [
        (unregister.clone(), Registry::AlreadyUnregistered::SELECTOR),
        (opt_in.clone(), Registry::AlreadyUnregistered::SELECTOR),
        (opt_out.clone(), Registry::NotOptedIn::SELECTOR),
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
    let from_slasher = |input: Vec<u8>| send_as(&env, slasher, input);
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

/// A uint48 time of the ABI as seconds.
fn secs<T: TryInto<u64>>(t: T) -> u64
where
    T::Error: std::fmt::Debug,
{
    t.try_into().unwrap()
}

fn opt_in_call(h: B256, committer: Address) -> Vec<u8> {
    Registry::optInCall { pubkeyHash: h, committer }.abi_encode()
}

/// (a) Slashed below the minimum, topped up, slashed again: the first period without rights still
/// answers zero and the time between the two periods the committer. A slash or a top-up acts from
/// the second after its block.
#[tokio::test]
async fn every_period_without_collateral_is_remembered() {
    let env = setup().await;
    let committer = Address::repeat_byte(0xc0);
    let (h, _) = register(&env, &key(1), ether(2)).await;
    let t_in = owner_sends(&env, opt_in_call(h, committer), U256::ZERO).await;
    increase_time(&env.p0, OPT_IN_DELAY + 5).await;
    let add = Registry::addCollateralCall { pubkeyHash: h }.abi_encode();
    let half = ether(1) / U256::from(2);

    // 2 -> 0.5 ether (first gap), top-up to 1.5, 1.5 -> 0.5 (second gap).
    let t1 = slash_key(&env, h, ether(1) + half).await;
    increase_time(&env.p0, 10).await;
    let receipt = send(&env.p0, call_tx(env.registry, add.clone(), ether(1))).await;
    let t2 = block_timestamp(&env.p0, &receipt).await;
    increase_time(&env.p0, 10).await;
    let t3 = slash_key(&env, h, ether(1)).await;
    increase_time(&env.p0, 10).await;
    assert!(t_in + OPT_IN_DELAY < t1 && t1 + 5 < t2 && t2 + 5 < t3);

    assert_eq!(committer_at(&env, h, t1 + 5).await, Address::ZERO, "inside the first gap");
    assert_eq!(committer_at(&env, h, t2 + 5).await, committer, "between the gaps");
    assert_eq!(committer_at(&env, h, t3 + 5).await, Address::ZERO, "inside the second gap");
    let now = latest_timestamp(&env.p0).await;
    let expected = [
        (t_in + OPT_IN_DELAY, committer),
        (t1, committer),
        (t1 + 1, Address::ZERO),
        (t2, Address::ZERO),
        (t2 + 1, committer),
        (t3, committer),
        (t3 + 1, Address::ZERO),
        (now, Address::ZERO),
    ];
    for (t, want) in expected {
        assert_eq!(committer_at(&env, h, t).await, want, "at {t}");
    }

    // A second top-up ends the second gap; every earlier answer stays.
    increase_time(&env.p0, 10).await;
    let receipt = send(&env.p0, call_tx(env.registry, add, ether(1))).await;
    let t4 = block_timestamp(&env.p0, &receipt).await;
    increase_time(&env.p0, 1).await;
    for (t, want) in expected {
        assert_eq!(committer_at(&env, h, t).await, want, "at {t} after the top-up");
    }
    assert_eq!(committer_at(&env, h, t4).await, Address::ZERO);
    assert_eq!(committer_at(&env, h, t4 + 1).await, committer);
    assert_eq!(
        view(&env.p0, env.registry, Registry::currentCommitterCall { pubkeyHash: h }).await,
        committer
    );
    let op = view(&env.p0, env.registry, Registry::getOperatorCall { pubkeyHash: h }).await;
    assert_eq!(op.collateral, ether(1) + half);
    assert_eq!(
        (secs(op.undercollateralizedFrom), secs(op.undercollateralizedUntil)),
        (t3 + 1, t4 + 1),
        "the record shows the last gap"
    );
}

/// (b) Opt in, opt out, opt in again with another committer: a time in the first period still
/// answers the first committer, the time between the periods zero, the new period the new one.
#[tokio::test]
async fn a_new_opt_in_keeps_the_past_delegation() {
    let env = setup().await;
    let (c1, c2) = (Address::repeat_byte(0xc1), Address::repeat_byte(0xc2));
    let (h, _) = register(&env, &key(1), ether(1)).await;
    let t1 = owner_sends(&env, opt_in_call(h, c1), U256::ZERO).await;
    increase_time(&env.p0, OPT_IN_DELAY + 5).await;
    let t2 =
        owner_sends(&env, Registry::optOutCall { pubkeyHash: h }.abi_encode(), U256::ZERO).await;
    increase_time(&env.p0, OPT_OUT_DELAY + 5).await;
    let t3 = owner_sends(&env, opt_in_call(h, c2), U256::ZERO).await;
    increase_time(&env.p0, OPT_IN_DELAY).await;
    assert!(t1 + OPT_IN_DELAY < t2 && t2 + OPT_OUT_DELAY < t3);

    assert_eq!(committer_at(&env, h, t1 + OPT_IN_DELAY + 1).await, c1, "the first period");
    assert_eq!(committer_at(&env, h, t3).await, Address::ZERO, "between the periods");
    assert_eq!(committer_at(&env, h, t3 + OPT_IN_DELAY).await, c2, "the new period");
    for (t, want) in [
        (t1 + OPT_IN_DELAY - 1, Address::ZERO),
        (t1 + OPT_IN_DELAY, c1),
        (t2 + OPT_OUT_DELAY - 1, c1),
        (t2 + OPT_OUT_DELAY, Address::ZERO),
        (t3 + OPT_IN_DELAY - 1, Address::ZERO),
    ] {
        assert_eq!(committer_at(&env, h, t).await, want, "at {t}");
    }
    let op = view(&env.p0, env.registry, Registry::getOperatorCall { pubkeyHash: h }).await;
    assert_eq!((op.committer, secs(op.optedInAt), secs(op.optedOutAt)), (c2, t3, 0));
}

/// Unregister, claim and register the same key again: the past answers stay (the record is
/// deleted, the history is not), and a period without collateral left open by the old registration
/// does not reach the new one.
#[tokio::test]
async fn a_new_registration_keeps_the_past() {
    let env = setup().await;
    let (c1, c2) = (Address::repeat_byte(0xc1), Address::repeat_byte(0xc2));
    let (h, _) = register(&env, &key(1), ether(1)).await;
    let t1 = owner_sends(&env, opt_in_call(h, c1), U256::ZERO).await;
    increase_time(&env.p0, OPT_IN_DELAY + 5).await;
    let unregister = Registry::unregisterCall { pubkeyHash: h }.abi_encode();
    let tu = owner_sends(&env, unregister, U256::ZERO).await;
    // Slashed below the minimum while the rights are still running out.
    increase_time(&env.p0, 10).await;
    let ts = slash_key(&env, h, ether(1)).await;
    assert!(ts + 1 < tu + OPT_OUT_DELAY);
    let past = [
        (t1 + OPT_IN_DELAY - 1, Address::ZERO),
        (t1 + OPT_IN_DELAY, c1),
        (ts, c1),
        (ts + 1, Address::ZERO),
        (tu + OPT_OUT_DELAY, Address::ZERO),
    ];
    let mut before_claim = Vec::new();
    for (t, _) in past {
        before_claim.push(committer_at(&env, h, t).await);
    }

    increase_time(&env.p0, UNREGISTRATION_DELAY).await;
    let claim = Registry::claimCollateralCall { pubkeyHash: h }.abi_encode();
    owner_sends(&env, claim, U256::ZERO).await;
    assert_eq!(committer_at(&env, h, t1 + OPT_IN_DELAY).await, c1, "after the claim");
    for ((t, want), before) in past.into_iter().zip(before_claim) {
        assert_eq!(before, want, "at {t} before the claim");
        assert_eq!(committer_at(&env, h, t).await, want, "at {t} after the claim");
    }

    increase_time(&env.p0, 10).await;
    let (_, receipt) = register(&env, &key(1), ether(1)).await;
    let tr = block_timestamp(&env.p0, &receipt).await;
    let op = view(&env.p0, env.registry, Registry::getOperatorCall { pubkeyHash: h }).await;
    assert_eq!((op.owner, op.committer, secs(op.optedInAt)), (env.owner, Address::ZERO, 0));
    assert_eq!(secs(op.undercollateralizedFrom), 0, "the old registration's gap is not shown");
    increase_time(&env.p0, 10).await;
    let t3 = owner_sends(&env, opt_in_call(h, c2), U256::ZERO).await;
    increase_time(&env.p0, OPT_IN_DELAY).await;
    assert_eq!(committer_at(&env, h, t3 + OPT_IN_DELAY).await, c2, "the new registration's rights");
    let op = view(&env.p0, env.registry, Registry::getOperatorCall { pubkeyHash: h }).await;
    assert_eq!((op.committer, secs(op.optedInAt), secs(op.optedOutAt)), (c2, t3, 0));
    assert_eq!(committer_at(&env, h, tr).await, Address::ZERO);
    for (t, want) in past {
        assert_eq!(committer_at(&env, h, t).await, want, "at {t} after registering again");
    }
}
