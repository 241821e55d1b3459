//! Lookahead and posting rights on anvil (Prague): validators register and opt in through the
//! `Registry`, a committer posts the next epoch's lookahead, and the `Inbox` lets only the slot's
//! preconfer propose, anyone in slots without one, and anyone once the escape hatch opens. The Rust
//! preconfer rule is checked against `Lookahead.preconferAt` for every slot of several epochs. Prints
//! the gas of each call (docs/benchmarks.md, "Lookahead and posting rights gas"). `contest` proves a
//! wrong lookahead against a BeaconState built in the test, served through a mock EIP-4788 contract
//! (docs/benchmarks.md, "Lookahead contest gas").
#![allow(clippy::print_stdout, missing_docs)]

use std::collections::HashMap;

use alloy_consensus::{SidecarBuilder, SimpleCoder};
use alloy_network::{TransactionBuilder, TransactionBuilder4844};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_provider::{DynProvider, Provider};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::{SolCall, SolError, SolEvent};
use based_anvil::{
    Anvil, AnvilOptions,
    contract::{call_tx, dev_address as address, revert_data, send, view, wallet as provider},
};
use based_contracts::{Inbox, InboxConfig, Lookahead, Whitelist, inbox_creation_code};
use based_lookahead::contest::{BeaconBlockHeader, ContestEvidence, StateProver, Validator};
use based_lookahead::{
    LookaheadConfig, LookaheadEntry, Preconfer, SlotClock, inbox_creation_code_with,
    lookahead_creation_code, preconfer_at, whitelist_creation_code, whitelist_preconfer,
};
use based_registry::{BlsSecretKey, Registry, RegistryConfig, registry_creation_code};

const CHAIN_ID: u64 = 31337;
const SECONDS_PER_SLOT: u64 = 12;
const SLOTS_PER_EPOCH: u64 = 8;
const FORCED_INCLUSION_WINDOW: u64 = 2;
const FORCED_ESCAPE_WINDOW: u64 = 3;
/// Account that deploys the `Lookahead` first thing (nonce 0), so the Registry's `slasher` is known.
const LOOKAHEAD_DEPLOYER: usize = 6;
/// The mock EIP-4788 contract: `get(t)` returns storage slot `t` (zero = no root).
const BEACON_ROOTS: Address = Address::repeat_byte(0x47);
/// PUSH1 0 CALLDATALOAD SLOAD PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN.
const BEACON_ROOTS_CODE: [u8; 12] = [0x60, 0, 0x35, 0x54, 0x60, 0, 0x52, 0x60, 0x20, 0x60, 0, 0xf3];

fn slash_amount() -> U256 {
    ether(1) / U256::from(2)
}

fn contester_reward() -> U256 {
    ether(1) / U256::from(5)
}

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

async fn deploy(p: &DynProvider, code: Bytes) -> (Address, u64) {
    let receipt = send(p, TransactionRequest::default().with_deploy_code(code)).await;
    (receipt.contract_address.unwrap(), receipt.gas_used)
}

async fn latest(p: &DynProvider) -> (u64, u64) {
    let b = p.get_block_by_number(Default::default()).await.unwrap().unwrap();
    (b.header.number, b.header.timestamp)
}

/// Mines one empty block at `timestamp`.
async fn warp(p: &DynProvider, timestamp: u64) {
    let _: serde_json::Value =
        p.raw_request("evm_setNextBlockTimestamp".into(), (timestamp,)).await.unwrap();
    let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await.unwrap();
}

/// Mines `n` empty blocks (one second apart).
async fn mine(p: &DynProvider, n: u64) {
    let _: serde_json::Value = p.raw_request("anvil_mine".into(), (U256::from(n),)).await.unwrap();
}

/// `propose()` in a blob transaction.
fn blob_propose(inbox: Address) -> TransactionRequest {
    let sidecar = SidecarBuilder::<SimpleCoder>::from_slice(b"batch").build_4844().unwrap();
    TransactionRequest::default()
        .with_to(inbox)
        .with_input(Bytes::from(Inbox::proposeCall {}.abi_encode()))
        .with_max_fee_per_blob_gas(10_000_000_000)
        .with_blob_sidecar_4844(sidecar)
}

/// Whether the posting-rights check of `propose` passes for `p`'s account now: a blob-less
/// `propose()` call then reverts `NoBlobs` (the check runs first); otherwise it reverts
/// `NotPreconfer`, whose (slot, committer) is returned.
async fn propose_check(p: &DynProvider, inbox: Address) -> Result<(), (u64, Address)> {
    let data = revert_data(p, call_tx(inbox, Inbox::proposeCall {}.abi_encode(), U256::ZERO)).await;
    if data[..4] == Inbox::NoBlobs::SELECTOR {
        return Ok(());
    }
    let e = Inbox::NotPreconfer::abi_decode(&data).unwrap();
    Err((e.slot.to(), e.committer))
}

struct Env {
    _anvil: Anvil,
    /// Account 0: deployer.
    p0: DynProvider,
    /// Accounts 2, 3, 4: committers of keys 1, 2, 3.
    committers: Vec<(DynProvider, Address)>,
    /// Account 5: no rights.
    stranger: DynProvider,
    registry: Address,
    lookahead: Address,
    clock: SlotClock,
    /// Keys 1..=4 (key 4 registered, never opted in).
    keys: Vec<B256>,
}

impl Env {
    fn rights(&self) -> HashMap<B256, Address> {
        (0..3).map(|i| (self.keys[i], self.committers[i].1)).collect()
    }

    fn slot_time(&self, slot: u64) -> u64 {
        self.clock.slot_timestamp(slot).unwrap()
    }
}

async fn setup() -> Env {
    let anvil = Anvil::spawn(&AnvilOptions::default()).expect("anvil (run `make tools`)");
    let p0 = provider(&anvil, 0);
    let owner_p = provider(&anvil, 1);
    let owner = address(1);
    let committers: Vec<(DynProvider, Address)> =
        (2..5).map(|i| (provider(&anvil, i), address(i))).collect();
    let stranger = provider(&anvil, 5);

    let reg_cfg = RegistryConfig {
        min_collateral: ether(1),
        opt_in_delay: 10,
        opt_out_delay: 10,
        unregistration_delay: 20,
        slasher: address(LOOKAHEAD_DEPLOYER).create(0),
    };
    let (registry, _) = deploy(&p0, registry_creation_code(&reg_cfg)).await;
    let mut keys = Vec::new();
    for i in 1..=4u8 {
        let sk = BlsSecretKey::from_ikm(&[i; 32]).unwrap();
        let sig = sk.sign_registration(CHAIN_ID, registry, owner);
        let input = Registry::registerCall {
            pubkey: sk.public_key().to_sol(),
            signature: sig.to_sol(),
            owner,
        }
        .abi_encode();
        send(&p0, call_tx(registry, input, ether(1))).await;
        keys.push(sk.public_key().hash());
    }
    for (i, (_, committer)) in committers.iter().enumerate() {
        let input = Registry::optInCall { pubkeyHash: keys[i], committer: *committer }.abi_encode();
        send(&owner_p, call_tx(registry, input, U256::ZERO)).await;
    }
    // Slot 0 starts after the opt-ins are effective.
    let genesis = latest(&p0).await.1 + 20;
    warp(&p0, genesis).await;
    let config = LookaheadConfig {
        registry,
        fallback_source: None,
        genesis_timestamp: genesis,
        seconds_per_slot: SECONDS_PER_SLOT,
        slots_per_epoch: SLOTS_PER_EPOCH,
        beacon_roots: Some(BEACON_ROOTS),
        slash_amount: slash_amount(),
        contester_reward: contester_reward(),
    };
    let deployer = provider(&anvil, LOOKAHEAD_DEPLOYER);
    let (lookahead, gas) = deploy(&deployer, lookahead_creation_code(&config)).await;
    assert_eq!(lookahead, address(LOOKAHEAD_DEPLOYER).create(0));
    println!("deploy Lookahead gas: {gas}");
    let clock = SlotClock::from_config(&config).unwrap();
    Env { _anvil: anvil, p0, committers, stranger, registry, lookahead, clock, keys }
}

fn entry(env: &Env, slot: u64, key: usize) -> LookaheadEntry {
    LookaheadEntry { slot, validator_index: 100 + key as u64, pubkey_hash: env.keys[key] }
}

fn post_call(epoch: u64, poster_key: B256, entries: &[LookaheadEntry]) -> Vec<u8> {
    Lookahead::postLookaheadCall {
        epoch: U256::from(epoch),
        posterPubkeyHash: poster_key,
        entries: entries.iter().map(LookaheadEntry::to_sol).collect(),
    }
    .abi_encode()
}

#[tokio::test]
async fn lookahead_and_posting_rights() {
    let env = setup().await;
    let (la, p0) = (env.lookahead, &env.p0);
    let (c1, c2, c3) = (env.committers[0].1, env.committers[1].1, env.committers[2].1);
    let (poster, poster_key) = (&env.committers[2].0, env.keys[2]);
    assert_eq!(view(p0, la, Lookahead::slotsPerEpochCall {}).await, U256::from(SLOTS_PER_EPOCH));
    assert_eq!(view(p0, la, Lookahead::registryCall {}).await, env.registry);

    // Inboxes: lookahead mode with a large gap (A) and a small one (B); permissionless (P).
    let mut cfg = InboxConfig::with_source(la, FORCED_INCLUSION_WINDOW);
    cfg.forced_escape_window = FORCED_ESCAPE_WINDOW;
    cfg.max_proposal_gap = 1000;
    let (inbox_a, gas) = deploy(p0, inbox_creation_code_with(&cfg)).await;
    println!("deploy Inbox (lookahead mode) gas: {gas}");
    cfg.max_proposal_gap = 4;
    let (inbox_b, _) = deploy(p0, inbox_creation_code_with(&cfg)).await;
    let (inbox_p, _) = deploy(p0, inbox_creation_code()).await;
    assert_eq!(view(p0, inbox_a, Inbox::preconferSourceCall {}).await, la);
    assert_eq!(view(p0, inbox_a, Inbox::maxProposalGapCall {}).await, 1000);
    // A source without code is refused.
    let bad = InboxConfig::with_source(Address::repeat_byte(1), 2);
    let data = revert_data(
        p0,
        TransactionRequest::default().with_deploy_code(inbox_creation_code_with(&bad)),
    )
    .await;
    assert_eq!(data[..4], Inbox::InvalidConfig::SELECTOR);

    // Epoch 0 has no lookahead: anyone proposes (also warms the counters, so the gas below compares
    // steady-state proposals). Likewise a forced transaction on the permissionless inbox.
    warp(p0, env.slot_time(2) + 1).await;
    assert_eq!(propose_check(&env.stranger, inbox_a).await, Ok(()));
    let r = send(&env.stranger, blob_propose(inbox_a)).await;
    println!(
        "propose (lookahead mode, first proposal, slot without preconfer) gas: {}",
        r.gas_used
    );
    let r = send(&env.stranger, blob_propose(inbox_p)).await;
    println!("propose (permissionless, first proposal) gas: {}", r.gas_used);
    let fi = Inbox::forceIncludeCall { signedTx: Bytes::from_static(&[0x02, 0x01]) }.abi_encode();
    let fee = ether(1) / U256::from(1000);
    send(&env.stranger, call_tx(inbox_p, fi.clone(), fee)).await;
    let r = send(&env.stranger, call_tx(inbox_p, fi.clone(), fee)).await;
    println!("forceInclude (permissionless, not the first) gas: {}", r.gas_used);

    // Epoch 0: post epoch 1. Key 4 (index 3) is registered but not opted in: ignored.
    let e1 = vec![entry(&env, 9, 0), entry(&env, 11, 3), entry(&env, 13, 1)];
    // Not a committer of the poster key.
    let data =
        revert_data(&env.stranger, call_tx(la, post_call(1, poster_key, &e1), U256::ZERO)).await;
    let err = Lookahead::NotCommitter::abi_decode(&data).unwrap();
    assert_eq!((err.posterPubkeyHash, err.committer), (poster_key, c3));
    // Key 4 has no committer at all.
    let data = revert_data(poster, call_tx(la, post_call(1, env.keys[3], &e1), U256::ZERO)).await;
    assert_eq!(data[..4], Lookahead::NotCommitter::SELECTOR);
    // Wrong epochs.
    for epoch in [0, 2] {
        let data =
            revert_data(poster, call_tx(la, post_call(epoch, poster_key, &e1), U256::ZERO)).await;
        let err = Lookahead::NotNextEpoch::abi_decode(&data).unwrap();
        assert_eq!((err.epoch, err.expected), (U256::from(epoch), U256::from(1)));
    }
    // Entries outside the epoch or out of order.
    let bad = [
        vec![entry(&env, 7, 0)],
        vec![entry(&env, 16, 0)],
        vec![entry(&env, 9, 0), entry(&env, 9, 1)],
    ];
    for entries in bad {
        let data =
            revert_data(poster, call_tx(la, post_call(1, poster_key, &entries), U256::ZERO)).await;
        assert_eq!(data[..4], Lookahead::InvalidEntry::SELECTOR);
    }
    let receipt = send(poster, call_tx(la, post_call(1, poster_key, &e1), U256::ZERO)).await;
    println!("postLookahead (3 entries) gas: {}", receipt.gas_used);
    let ev = Lookahead::LookaheadPosted::decode_log(&receipt.inner.logs()[0].inner).unwrap();
    assert_eq!((ev.epoch, ev.poster, ev.posterPubkeyHash), (U256::from(1), c3, poster_key));
    let posted: Vec<LookaheadEntry> = ev.entries.iter().map(LookaheadEntry::from_sol).collect();
    assert_eq!(posted, e1);
    let rec = view(p0, la, Lookahead::epochRecordCall { epoch: U256::from(1) }).await;
    assert_eq!(rec.poster, c3);
    assert_eq!(rec.slotMask, U256::from(0b0010_1010u64));
    let data = revert_data(poster, call_tx(la, post_call(1, poster_key, &e1), U256::ZERO)).await;
    assert_eq!(data[..4], Lookahead::AlreadyPosted::SELECTOR);

    // Epoch 1, slot 8: the preconfer is key 1 (entry at slot 9).
    warp(p0, env.slot_time(8) + 1).await;
    assert_eq!(propose_check(&env.stranger, inbox_a).await, Err((8, c1)));
    assert_eq!(propose_check(&env.committers[1].0, inbox_a).await, Err((8, c1)));
    assert_eq!(propose_check(&env.committers[0].0, inbox_a).await, Ok(()));
    assert!(!view(p0, inbox_a, Inbox::canProposeCall { who: c2 }).await);
    assert!(view(p0, inbox_a, Inbox::canProposeCall { who: c1 }).await);
    let r = send(&env.committers[0].0, blob_propose(inbox_a)).await;
    println!("propose (lookahead mode, preconfer at the next slot) gas: {}", r.gas_used);
    let ev = Inbox::Proposed::decode_log(&r.inner.logs()[0].inner).unwrap();
    assert_eq!(ev.proposer, c1);
    let r = send(&env.stranger, blob_propose(inbox_p)).await;
    println!("propose (permissionless) gas: {}", r.gas_used);

    // Slot 10: key 4's entry (slot 11) is skipped; key 2 (slot 13) is the preconfer.
    warp(p0, env.slot_time(10) + 1).await;
    assert_eq!(propose_check(&env.committers[0].0, inbox_a).await, Err((10, c2)));
    let r = send(&env.committers[1].0, blob_propose(inbox_a)).await;
    println!("propose (lookahead mode, preconfer after a skipped entry) gas: {}", r.gas_used);

    // Slot 14: no entry left in the epoch: anyone.
    warp(p0, env.slot_time(14) + 1).await;
    assert_eq!(propose_check(&env.stranger, inbox_a).await, Ok(()));
    let r = send(&env.stranger, blob_propose(inbox_a)).await;
    println!("propose (lookahead mode, slot without preconfer) gas: {}", r.gas_used);

    // Post epoch 2 (key 3 at slot 16, key 1 at slot 20) by key 1's committer.
    let e2 = vec![entry(&env, 16, 2), entry(&env, 20, 0)];
    let r =
        send(&env.committers[0].0, call_tx(la, post_call(2, env.keys[0], &e2), U256::ZERO)).await;
    println!("postLookahead (2 entries) gas: {}", r.gas_used);

    // The Rust rule equals the contract's for every slot of epochs 0..=4.
    let rights = env.rights();
    let posted: Vec<LookaheadEntry> = e1.iter().chain(&e2).copied().collect();
    for slot in 0..5 * SLOTS_PER_EPOCH {
        let (key, committer) = {
            let r = view(p0, la, Lookahead::preconferAtCall { slot: U256::from(slot) }).await;
            (r.pubkeyHash, r.committer)
        };
        let rust = preconfer_at(&env.clock, &posted, slot, &rights, |_| None).unwrap();
        let contract = (!committer.is_zero()).then_some(Preconfer { pubkey_hash: key, committer });
        assert_eq!(rust, contract, "slot {slot}");
    }

    // Escape hatch 1: an overdue forced transaction. Slot 16 belongs to key 3.
    warp(p0, env.slot_time(16) + 1).await;
    assert_eq!(propose_check(&env.stranger, inbox_a).await, Err((16, c3)));
    let r = send(&env.stranger, call_tx(inbox_a, fi, fee)).await;
    println!("forceInclude (lookahead mode, first) gas: {}", r.gas_used);
    let queued = r.block_number.unwrap();
    // Due at queued + 2, overdue at queued + 5: still closed one block before.
    let (n, _) = latest(p0).await;
    mine(p0, queued + FORCED_INCLUSION_WINDOW + FORCED_ESCAPE_WINDOW - 2 - n).await;
    assert_eq!(propose_check(&env.stranger, inbox_a).await, Err((16, c3)));
    mine(p0, 2).await;
    assert!(view(p0, inbox_a, Inbox::escapeHatchOpenCall {}).await);
    assert_eq!(propose_check(&env.stranger, inbox_a).await, Ok(()));
    let r = send(&env.stranger, blob_propose(inbox_a)).await;
    println!("propose (escape hatch, serves 1 forced tx) gas: {}", r.gas_used);
    assert_eq!(view(p0, inbox_a, Inbox::nextUnservedForcedIdCall {}).await, 1);
    // Served: closed again.
    assert_eq!(propose_check(&env.stranger, inbox_a).await, Err((16, c3)));

    // Escape hatch 2: no proposal for max_proposal_gap (4) blocks on inbox B.
    send(&env.committers[2].0, blob_propose(inbox_b)).await;
    assert_eq!(propose_check(&env.stranger, inbox_b).await, Err((16, c3)));
    mine(p0, 4).await;
    assert!(latest(p0).await.1 < env.slot_time(17), "still slot 16");
    assert_eq!(propose_check(&env.stranger, inbox_b).await, Ok(()));
    send(&env.stranger, blob_propose(inbox_b)).await;
    assert_eq!(propose_check(&env.stranger, inbox_b).await, Err((16, c3)));
}

#[tokio::test]
async fn whitelist_mode() {
    let env = setup().await;
    let p0 = &env.p0;
    let ops = vec![env.committers[0].1, env.committers[1].1];
    let genesis = env.clock.genesis_timestamp();
    let code = whitelist_creation_code(ops.clone(), genesis, SECONDS_PER_SLOT, SLOTS_PER_EPOCH);
    let (wl, gas) = deploy(p0, code).await;
    println!("deploy Whitelist (2 operators) gas: {gas}");
    let bad = whitelist_creation_code(vec![], genesis, SECONDS_PER_SLOT, SLOTS_PER_EPOCH);
    let data = revert_data(p0, TransactionRequest::default().with_deploy_code(bad)).await;
    assert_eq!(data[..4], Whitelist::InvalidOperators::SELECTOR);
    for slot in 0..4 * SLOTS_PER_EPOCH {
        let r = view(p0, wl, Whitelist::preconferAtCall { slot: U256::from(slot) }).await;
        let rust = whitelist_preconfer(&env.clock, &ops, slot).unwrap();
        assert_eq!((r.pubkeyHash, r.committer), (rust.pubkey_hash, rust.committer));
    }
    let (inbox, _) = deploy(p0, inbox_creation_code_with(&InboxConfig::with_source(wl, 2))).await;
    // Epoch 1: operator 1 (index 1).
    warp(p0, env.slot_time(SLOTS_PER_EPOCH) + 1).await;
    assert_eq!(propose_check(&env.committers[0].0, inbox).await, Err((SLOTS_PER_EPOCH, ops[1])));
    let r = send(&env.committers[1].0, blob_propose(inbox)).await;
    println!("propose (whitelist mode) gas: {}", r.gas_used);

    // A lookahead with the whitelist as fallback: slots without an opted-in preconfer use it.
    let config = LookaheadConfig {
        registry: env.registry,
        fallback_source: Some(wl),
        genesis_timestamp: genesis,
        seconds_per_slot: SECONDS_PER_SLOT,
        slots_per_epoch: SLOTS_PER_EPOCH,
        beacon_roots: None,
        slash_amount: U256::ZERO,
        contester_reward: U256::ZERO,
    };
    let (la, _) = deploy(p0, lookahead_creation_code(&config)).await;
    let e2 = vec![entry(&env, 2 * SLOTS_PER_EPOCH + 3, 2)];
    send(&env.committers[2].0, call_tx(la, post_call(2, env.keys[2], &e2), U256::ZERO)).await;
    let rights = env.rights();
    for slot in 0..4 * SLOTS_PER_EPOCH {
        let r = view(p0, la, Lookahead::preconferAtCall { slot: U256::from(slot) }).await;
        let rust = preconfer_at(&env.clock, &e2, slot, &rights, |s| {
            whitelist_preconfer(&env.clock, &ops, s)
        })
        .unwrap()
        .unwrap();
        assert_eq!((r.pubkeyHash, r.committer), (rust.pubkey_hash, rust.committer), "slot {slot}");
    }
}

/// The validators of the test BeaconState: index `100 + k` holds registered key `k + 1` (as in
/// [`entry`]), every other index an unregistered key.
fn beacon_validators() -> Vec<Validator> {
    (0..110u8)
        .map(|i| {
            // Registered keys use ikm [k; 32] (setup); the others a distinct pattern.
            let mut ikm = [i ^ 0xa5; 32];
            if (100..104).contains(&i) {
                ikm = [i - 99; 32];
            } else {
                ikm[31] = 0x5a;
            }
            Validator::active(BlsSecretKey::from_ikm(&ikm).unwrap().public_key().compressed())
        })
        .collect()
}

/// A Fulu BeaconState after a block at `slot` with the given `proposer_lookahead` (`slot`'s epoch
/// and the next), its header, and the header's root served by the mock 4788 contract for
/// `timestamp`.
async fn beacon_state(
    p: &DynProvider,
    slot: u64,
    lookahead: Vec<u64>,
    timestamp: u64,
) -> (StateProver, BeaconBlockHeader) {
    let others: Vec<B256> = (0..38u8).map(|i| B256::repeat_byte(i ^ slot as u8)).collect();
    let state = StateProver::new(others, SLOTS_PER_EPOCH, lookahead, beacon_validators()).unwrap();
    let header = BeaconBlockHeader {
        slot,
        proposer_index: 7,
        parent_root: B256::repeat_byte(0xaa),
        state_root: state.state_root(),
        body_root: B256::repeat_byte(0xbb),
    };
    let _: serde_json::Value = p
        .raw_request(
            "anvil_setStorageAt".into(),
            (BEACON_ROOTS, B256::from(U256::from(timestamp)), header.root()),
        )
        .await
        .unwrap();
    (state, header)
}

fn contest_call(evidence: &ContestEvidence) -> Vec<u8> {
    Lookahead::proveIncorrectLookaheadCall { proof: evidence.to_sol() }.abi_encode()
}

async fn contest_error(p: &DynProvider, la: Address, evidence: &ContestEvidence) -> Bytes {
    revert_data(p, call_tx(la, contest_call(evidence), U256::ZERO)).await
}

async fn collateral(p: &DynProvider, registry: Address, key: B256) -> U256 {
    view(p, registry, Registry::getOperatorCall { pubkeyHash: key }).await.collateral
}

#[tokio::test]
async fn contest() {
    let env = setup().await;
    let (la, p0, reg) = (env.lookahead, &env.p0, env.registry);
    let contester = &env.stranger;
    let _: serde_json::Value = p0
        .raw_request("anvil_setCode".into(), (BEACON_ROOTS, Bytes::from(BEACON_ROOTS_CODE)))
        .await
        .unwrap();
    assert_eq!(view(p0, reg, Registry::slasherCall {}).await, la);
    // Only the Lookahead may slash.
    let slash =
        Registry::slashCall { pubkeyHash: env.keys[0], amount: ether(1), recipient: address(5) };
    let data = revert_data(contester, call_tx(reg, slash.abi_encode(), U256::ZERO)).await;
    assert_eq!(data[..4], Registry::NotSlasher::SELECTOR);

    // Proposers: epoch 0 = indices 0..8, epoch 1 = slot 9 key 1 (100), 11 key 4 (103, not opted
    // in), 13 key 2 (101), the other slots unregistered validators; epoch 2 = slot 16 key 3 (102),
    // 20 key 2 (101), 22 key 1 (100).
    let epoch1 = [8, 100, 10, 103, 12, 101, 14, 15];
    let epoch2 = [102, 17, 18, 19, 101, 21, 100, 23];
    let la1: Vec<u64> = (0..8).chain(epoch1).collect();
    let la2: Vec<u64> = epoch1.into_iter().chain(epoch2).collect();
    let (t1, t2) = (env.slot_time(3), env.slot_time(11));
    let (state1, header1) = beacon_state(p0, 2, la1, t1).await;
    let (state2, header2) = beacon_state(p0, 10, la2, t2).await;
    let evidence = |state: &StateProver, header: BeaconBlockHeader, t: u64, slot: u64| {
        ContestEvidence::build(state, header, t, slot).unwrap()
    };

    // Epoch 1 posted correctly (key 4's entry has no rights: harmless): nothing can be proven.
    let (poster, poster_key) = (&env.committers[2].0, env.keys[2]);
    let e1 = vec![entry(&env, 9, 0), entry(&env, 11, 3), entry(&env, 13, 1)];
    let data = contest_error(contester, la, &evidence(&state1, header1, t1, 9)).await;
    assert_eq!(Lookahead::NotPosted::abi_decode(&data).unwrap().epoch, U256::from(1));
    send(poster, call_tx(la, post_call(1, poster_key, &e1), U256::ZERO)).await;
    let before = collateral(p0, reg, poster_key).await;
    for slot in 8..16 {
        let data = contest_error(contester, la, &evidence(&state1, header1, t1, slot)).await;
        let err = Lookahead::NoFault::abi_decode(&data).unwrap();
        assert_eq!(err.slot, U256::from(slot));
    }
    assert_eq!(collateral(p0, reg, poster_key).await, before);
    // Those 8 keys passed the pubkey check with both compression sign flags (`y > (p - 1) / 2`).
    let vals = beacon_validators();
    let flags: std::collections::BTreeSet<u8> =
        epoch1.iter().map(|&i| vals[i as usize].pubkey[0] & 0xe0).collect();
    assert_eq!(flags, [0x80, 0xa0].into());

    // Evidence that does not chain up to the beacon root.
    let good = evidence(&state1, header1, t1, 9);
    let mut bad = good.clone();
    bad.beacon_timestamp = t1 + 1;
    let data = contest_error(contester, la, &bad).await;
    assert_eq!(data[..4], Lookahead::BeaconRootUnavailable::SELECTOR);
    let mut bad = good.clone();
    bad.header.body_root = B256::ZERO;
    let data = contest_error(contester, la, &bad).await;
    assert_eq!(data[..4], Lookahead::InvalidBeaconHeader::SELECTOR);
    // A state of the contested epoch itself (its lookahead no longer covers it).
    let data = contest_error(contester, la, &evidence(&state2, header2, t2, 9)).await;
    assert_eq!(data[..4], Lookahead::WrongBeaconEpoch::SELECTOR);
    // Branches of another state against this root.
    let other = evidence(&state2, header2, t2, 9);
    let mut bad = good.clone();
    bad.lookahead = other.lookahead.clone();
    bad.lookahead.chunk = B256::repeat_byte(1);
    let data = contest_error(contester, la, &bad).await;
    assert_eq!(data[..4], Lookahead::InvalidLookaheadProof::SELECTOR);
    let mut bad = good.clone();
    bad.pubkey.branch.reverse();
    let data = contest_error(contester, la, &bad).await;
    assert_eq!(data[..4], Lookahead::InvalidPubkeyProof::SELECTOR);
    // Another (registered) key than the proven one.
    let mut bad = good.clone();
    bad.proposer = BlsSecretKey::from_ikm(&[2; 32]).unwrap().public_key();
    let data = contest_error(contester, la, &bad).await;
    assert_eq!(data[..4], Lookahead::InvalidPubkeyProof::SELECTOR);
    assert_eq!(collateral(p0, reg, poster_key).await, before);

    // Epoch 2 posted wrongly by key 1's committer: slot 20 names key 1 (its proposer is key 2) and
    // key 1's own slot 22 is left out.
    warp(p0, env.slot_time(9) + 1).await;
    let (poster, poster_key) = (&env.committers[0].0, env.keys[0]);
    let e2 = vec![entry(&env, 16, 2), entry(&env, 20, 0)];
    send(poster, call_tx(la, post_call(2, poster_key, &e2), U256::ZERO)).await;
    for slot in [16, 17, 23] {
        let data = contest_error(contester, la, &evidence(&state2, header2, t2, slot)).await;
        assert_eq!(data[..4], Lookahead::NoFault::SELECTOR, "slot {slot}");
    }
    // The missing entry is provable too (eth_call succeeds).
    let missing = evidence(&state2, header2, t2, 22);
    contester.call(call_tx(la, contest_call(&missing), U256::ZERO)).await.unwrap();

    let wrong = evidence(&state2, header2, t2, 20);
    assert_eq!(wrong.lookahead.validator_index, 101);
    let before = collateral(p0, reg, poster_key).await;
    let balance = contester.get_balance(address(5)).await.unwrap();
    let registry_balance = p0.get_balance(reg).await.unwrap();
    assert!(
        view(p0, la, Lookahead::preconferAtCall { slot: U256::from(17) }).await.committer
            != Address::ZERO
    );
    let r = send(contester, call_tx(la, contest_call(&wrong), U256::ZERO)).await;
    println!("proveIncorrectLookahead (wrong entry, 8 + 50 siblings) gas: {}", r.gas_used);
    let ev =
        Lookahead::LookaheadContested::decode_log(&r.inner.logs().last().unwrap().inner).unwrap();
    assert_eq!(
        (ev.epoch, ev.posterPubkeyHash, ev.contester),
        (U256::from(2), poster_key, address(5))
    );
    assert_eq!(
        (ev.slot, ev.slashed, ev.reward),
        (U256::from(20), slash_amount(), contester_reward())
    );
    assert_eq!(collateral(p0, reg, poster_key).await, before - slash_amount());
    let fee = U256::from(r.gas_used) * U256::from(r.effective_gas_price);
    assert_eq!(
        contester.get_balance(address(5)).await.unwrap(),
        balance + contester_reward() - fee
    );
    assert_eq!(p0.get_balance(reg).await.unwrap(), registry_balance - contester_reward());
    // The epoch is void: no preconfer in any slot (no fallback configured); no second contest.
    let rec = view(p0, la, Lookahead::epochRecordCall { epoch: U256::from(2) }).await;
    assert!(rec.contested);
    assert_eq!(rec.slotMask, U256::ZERO);
    for slot in 16..24 {
        let r = view(p0, la, Lookahead::preconferAtCall { slot: U256::from(slot) }).await;
        assert_eq!(r.committer, Address::ZERO, "slot {slot}");
    }
    let data = contest_error(contester, la, &missing).await;
    assert_eq!(data[..4], Lookahead::AlreadyContested::SELECTOR);
    // Epoch 1 is untouched.
    assert!(!view(p0, la, Lookahead::epochRecordCall { epoch: U256::from(1) }).await.contested);
}
