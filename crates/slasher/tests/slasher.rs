//! The `PreconfSlasher` with the `Registry`, `Lookahead` and `Inbox` on anvil (Prague): two BLS
//! validators opted in with committers A and B, a posted lookahead (slots 8-9: A, 10-13: B, 14-15:
//! open), signed inclusion promises, and both faults: a broken promise (challenge, no defence,
//! slash), a kept one (challenge defended with a Merkle proof from the promised record), and a
//! promise for a slot the signer did not own (slashed at once); every refusal by its named error;
//! and a validator that opts out and in again with another committer, which does not change who
//! owned its past slots (the Registry's history).
//! Prints the gas of each call (docs/benchmarks.md, "Slashing gas":
//! `cargo test -p based-slasher --test slasher -- --nocapture --test-threads 1 | grep gas`).
#![allow(clippy::print_stdout, missing_docs)]

use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_provider::{DynProvider, Provider};
use alloy_rpc_types_eth::{TransactionReceipt, TransactionRequest};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolEvent};
use based_anvil::{
    Anvil, AnvilOptions, DEV_KEYS,
    contract::{call_tx, dev_address as address, send, view, wallet as provider},
};
use based_commitments::{Commitment, InclusionPayload, SignedCommitment};
use based_contracts::{Inbox, InboxConfig, Lookahead, inbox_creation_code};
use based_lookahead::{
    LookaheadConfig, LookaheadEntry, SlotClock, inbox_creation_code_with, lookahead_creation_code,
};
use based_registry::{BlsSecretKey, Registry, RegistryConfig, registry_creation_code_with};
use based_slasher::{
    ChallengeStatus, EvidenceKind, PreconfSlasher, SlasherClient, SlasherConfig, commitment_to_sol,
    promised_proof, promised_root, revert_name, slasher_creation_code, verify_promised,
};

const CHAIN_ID: u64 = 31337;
const SECONDS_PER_SLOT: u64 = 12;
const SLOTS_PER_EPOCH: u64 = 8;
const CHALLENGE_DELAY: u64 = 2;
const CHALLENGE_WINDOW: u64 = 8;
const DEFENCE_WINDOW: u64 = 60;
/// The promised slot of most commitments: A's (entry at slot 9 covers 8 and 9).
const SLOT: u64 = 9;

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

fn bond() -> U256 {
    ether(1) / U256::from(10)
}

struct Env {
    _anvil: Anvil,
    p0: DynProvider,
    /// Committer A (dev account 2): key 1, preconfer of slots 8-9.
    a: (DynProvider, PrivateKeySigner),
    /// Committer B (dev account 3): key 2, preconfer of slots 10-13.
    b: (DynProvider, PrivateKeySigner),
    /// Dev account 4.
    challenger: DynProvider,
    /// Dev account 5.
    stranger: DynProvider,
    /// Dev account 1: the owner of both keys.
    owner: DynProvider,
    registry: Address,
    inbox: Address,
    slasher: Address,
    clock: SlotClock,
    key1: B256,
    key2: B256,
}

impl Env {
    fn slot_time(&self, slot: u64) -> u64 {
        self.clock.slot_timestamp(slot).unwrap()
    }

    /// A promise by `signer` that `tx` is included by `slot`, for this slasher.
    fn promise(&self, signer: &PrivateKeySigner, slot: u64, tx: &Bytes) -> SignedCommitment {
        let request = InclusionPayload { slot, signed_tx: tx.clone() }.into_request(self.slasher);
        Commitment::for_request(&request).sign(signer).unwrap()
    }

    fn client(&self, p: &DynProvider) -> SlasherClient<DynProvider> {
        SlasherClient::new(p.clone(), self.slasher, self.registry, self.inbox)
    }

    async fn collateral(&self, key: B256) -> U256 {
        view(&self.p0, self.registry, Registry::getOperatorCall { pubkeyHash: key })
            .await
            .collateral
    }

    async fn balance(&self, who: Address) -> U256 {
        self.p0.get_balance(who).await.unwrap()
    }
}

/// Mines one empty block at `timestamp`.
async fn warp(p: &DynProvider, timestamp: u64) {
    let _: serde_json::Value =
        p.raw_request("evm_setNextBlockTimestamp".into(), (timestamp,)).await.unwrap();
    let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await.unwrap();
}

async fn latest_timestamp(p: &DynProvider) -> u64 {
    p.get_block_by_number(Default::default()).await.unwrap().unwrap().header.timestamp
}

/// Moves to one second into `slot`.
async fn at_slot(env: &Env, slot: u64) {
    warp(&env.p0, env.slot_time(slot) + 1).await;
}

/// `eth_call`s then sends `tx`: the receipt, or the name of the error it reverts with.
async fn try_send(p: &DynProvider, tx: TransactionRequest) -> Result<TransactionReceipt, String> {
    if let Err(e) = p.call(tx.clone()).await {
        let data = e.as_error_resp().and_then(|r| r.as_revert_data()).expect("revert data");
        return Err(revert_name(&data));
    }
    Ok(send(p, tx).await)
}

/// A stand-in for a signed L2 transaction: 112 bytes (an EIP-1559 transfer's size), distinct per tag.
fn fake_tx(tag: &str) -> Bytes {
    let mut out = vec![0x02];
    let mut h = keccak256(tag);
    while out.len() < 112 {
        out.extend_from_slice(h.as_slice());
        h = keccak256(h);
    }
    out.truncate(112);
    Bytes::from(out)
}

fn propose_promised(inbox: Address, txs: &[Bytes]) -> TransactionRequest {
    call_tx(inbox, Inbox::proposePromisedCall { txs: txs.to_vec() }.abi_encode(), U256::ZERO)
}

fn open_call(c: &Commitment, signature: Vec<u8>) -> Vec<u8> {
    PreconfSlasher::openChallengeCall {
        commitment: commitment_to_sol(c),
        signature: Bytes::from(signature),
    }
    .abi_encode()
}

/// The same signature with `s` replaced by `n - s` (and the parity flipped): valid, but malleable.
fn high_s(signed: &SignedCommitment) -> Vec<u8> {
    const N: U256 = U256::from_be_bytes(alloy_primitives::hex!(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141"
    ));
    let mut bytes = signed.signature_bytes().to_vec();
    let s = U256::from_be_slice(&bytes[32..64]);
    bytes[32..64].copy_from_slice(&(N - s).to_be_bytes::<32>());
    bytes[64] = if bytes[64] == 27 { 28 } else { 27 };
    bytes
}

async fn setup() -> Env {
    let anvil = Anvil::spawn(&AnvilOptions::default()).expect("anvil (run `make tools`)");
    let p0 = provider(&anvil, 0);
    let owner_p = provider(&anvil, 1);
    let owner = address(1);
    let signer = |i: usize| DEV_KEYS[i].parse::<PrivateKeySigner>().unwrap();
    let a = (provider(&anvil, 2), signer(2));
    let b = (provider(&anvil, 3), signer(3));
    let deployer = address(0);
    // Deployment order from account 0: Registry (0), Lookahead (1), Inbox (2), slasher (3).
    let (registry, lookahead, inbox, slasher) =
        (deployer.create(0), deployer.create(1), deployer.create(2), deployer.create(3));

    let reg_cfg = RegistryConfig {
        min_collateral: ether(1),
        opt_in_delay: 10,
        opt_out_delay: 10,
        unregistration_delay: 20,
        slasher: lookahead,
    };
    let deploy = |code: Bytes| TransactionRequest::default().with_deploy_code(code);
    let r = send(&p0, deploy(registry_creation_code_with(&reg_cfg, slasher))).await;
    assert_eq!(r.contract_address, Some(registry));
    let genesis = latest_timestamp(&p0).await + 40;
    let la_cfg = LookaheadConfig {
        registry,
        fallback_source: None,
        genesis_timestamp: genesis,
        seconds_per_slot: SECONDS_PER_SLOT,
        slots_per_epoch: SLOTS_PER_EPOCH,
        beacon_roots: None,
        slash_amount: ether(1),
        contester_reward: U256::ZERO,
    };
    send(&p0, deploy(lookahead_creation_code(&la_cfg))).await;
    let inbox_cfg =
        InboxConfig { max_proposal_gap: 100_000, ..InboxConfig::with_source(lookahead, 32) };
    send(&p0, deploy(inbox_creation_code_with(&inbox_cfg))).await;
    let cfg = SlasherConfig {
        registry,
        preconfer_source: lookahead,
        inbox,
        challenge_bond: bond(),
        challenge_delay: CHALLENGE_DELAY,
        challenge_window: CHALLENGE_WINDOW,
        defence_window: DEFENCE_WINDOW,
        slash_amount: ether(1),
    };
    let r = send(&p0, deploy(slasher_creation_code(&cfg))).await;
    assert_eq!(r.contract_address, Some(slasher));
    println!("gas: deploy PreconfSlasher {}", r.gas_used);
    // A zero address or window is refused.
    for bad in [
        SlasherConfig { inbox: Address::ZERO, ..cfg },
        SlasherConfig { challenge_window: 0, ..cfg },
        SlasherConfig { defence_window: 0, ..cfg },
    ] {
        let err = try_send(&p0, deploy(slasher_creation_code(&bad))).await.unwrap_err();
        assert_eq!(err, "InvalidConfig");
    }
    assert_eq!(view(&p0, registry, Registry::commitmentSlasherCall {}).await, slasher);

    let mut keys = Vec::new();
    for (i, committer) in [(1u8, a.1.address()), (2, b.1.address())] {
        let sk = BlsSecretKey::from_ikm(&[i; 32]).unwrap();
        let sig = sk.sign_registration(CHAIN_ID, registry, owner);
        let input = Registry::registerCall {
            pubkey: sk.public_key().to_sol(),
            signature: sig.to_sol(),
            owner,
        }
        .abi_encode();
        send(&p0, call_tx(registry, input, ether(2))).await;
        let key = sk.public_key().hash();
        let input = Registry::optInCall { pubkeyHash: key, committer }.abi_encode();
        send(&owner_p, call_tx(registry, input, U256::ZERO)).await;
        keys.push(key);
    }
    let clock = SlotClock::from_config(&la_cfg).unwrap();
    let (challenger, stranger) = (provider(&anvil, 4), provider(&anvil, 5));
    let env = Env {
        _anvil: anvil,
        p0,
        a,
        b,
        challenger,
        stranger,
        owner: owner_p,
        registry,
        inbox,
        slasher,
        clock,
        key1: keys[0],
        key2: keys[1],
    };
    // In epoch 0, A posts epoch 1: slot 9 -> key 1 (A), slot 13 -> key 2 (B).
    at_slot(&env, 1).await;
    let entries = [(9u64, env.key1), (13, env.key2)].map(|(slot, key)| {
        LookaheadEntry { slot, validator_index: slot, pubkey_hash: key }.to_sol()
    });
    let input = Lookahead::postLookaheadCall {
        epoch: U256::from(1),
        posterPubkeyHash: env.key1,
        entries: entries.to_vec(),
    }
    .abi_encode();
    send(&env.a.0, call_tx(lookahead, input, U256::ZERO)).await;
    for (slot, committer) in [
        (8, env.a.1.address()),
        (9, env.a.1.address()),
        (10, env.b.1.address()),
        (14, Address::ZERO),
    ] {
        let got =
            view(&env.p0, lookahead, Lookahead::preconferAtCall { slot: U256::from(slot) }).await;
        assert_eq!(got.committer, committer, "slot {slot}");
    }
    env
}

/// `Inbox.promisedRoot` / `verifyPromised` agree with the Rust tree and the golden vectors.
#[tokio::test]
async fn promised_root_matches_the_inbox() {
    let anvil = Anvil::spawn(&AnvilOptions::default()).expect("anvil (run `make tools`)");
    let p = provider(&anvil, 0);
    let r = send(&p, TransactionRequest::default().with_deploy_code(inbox_creation_code())).await;
    let inbox = r.contract_address.unwrap();
    let golden: serde_json::Value =
        serde_json::from_str(include_str!("../testdata/promised_roots.json")).unwrap();
    let cases = golden["cases"].as_array().unwrap();
    let counts: Vec<u64> = cases.iter().map(|c| c["count"].as_u64().unwrap()).collect();
    assert_eq!(counts, [1, 2, 3, 4, 5, 6, 7, 8, 9, 33]);
    for case in cases {
        let count = case["count"].as_u64().unwrap() as usize;
        let leaves: Vec<B256> =
            (0..count).map(|i| keccak256(format!("based promised tx {i}"))).collect();
        let root: B256 = case["root"].as_str().unwrap().parse().unwrap();
        assert_eq!(promised_root(&leaves), root);
        let on_chain = view(&p, inbox, Inbox::promisedRootCall { leaves: leaves.clone() }).await;
        assert_eq!(on_chain, root, "count {count}");
        for (i, leaf) in leaves.iter().enumerate() {
            let proof = promised_proof(&leaves, i).unwrap();
            let verify = |index: usize, leaf: B256, proof: Vec<B256>| Inbox::verifyPromisedCall {
                root,
                count: U256::from(count),
                index: U256::from(index),
                leaf,
                proof,
            };
            assert!(view(&p, inbox, verify(i, *leaf, proof.clone())).await, "count {count} i {i}");
            assert!(verify_promised(root, count as u64, i as u64, *leaf, &proof));
            // Another leaf, another index, a tampered or truncated proof: refused on both sides.
            let other = keccak256(leaf);
            assert!(!view(&p, inbox, verify(i, other, proof.clone())).await);
            if count > 1 {
                let j = (i + 1) % count;
                assert!(!view(&p, inbox, verify(j, *leaf, proof.clone())).await);
                assert!(!verify_promised(root, count as u64, j as u64, *leaf, &proof));
                let mut bad = proof.clone();
                bad[0] = keccak256(bad[0]);
                assert!(!view(&p, inbox, verify(i, *leaf, bad.clone())).await);
                assert!(!verify_promised(root, count as u64, i as u64, *leaf, &bad));
                assert!(!view(&p, inbox, verify(i, *leaf, proof[1..].to_vec())).await);
            }
        }
    }
}

/// (a) A broken promise: challenged, not defended, slashed after the deadline; and every refusal
/// of `openChallenge`, `defend` and a lost-challenge slash.
#[tokio::test]
async fn broken_promise_is_slashed() {
    let env = setup().await;
    let (s, a) = (env.slasher, &env.a.1);
    let client = env.client(&env.challenger);
    let promise = env.promise(a, SLOT, &fake_tx("broken"));
    let c = &promise.commitment;
    let sig = promise.signature_bytes().to_vec();
    let open = |input: Vec<u8>, value: U256| call_tx(s, input, value);

    // Too early: the current slot must be > SLOT + CHALLENGE_DELAY.
    at_slot(&env, SLOT + CHALLENGE_DELAY).await;
    let err = try_send(&env.challenger, open(open_call(c, sig.clone()), bond())).await;
    assert_eq!(err.unwrap_err(), "TooEarly");

    at_slot(&env, SLOT + CHALLENGE_DELAY + 1).await;
    for value in [U256::ZERO, bond() - U256::from(1), bond() + U256::from(1)] {
        let err = try_send(&env.challenger, open(open_call(c, sig.clone()), value)).await;
        assert_eq!(err.unwrap_err(), "WrongBond");
    }
    let mut bad_v = sig.clone();
    bad_v[64] = 29;
    let other_slasher = {
        let req = InclusionPayload { slot: SLOT, signed_tx: fake_tx("broken") }
            .into_request(Address::repeat_byte(0x5e));
        Commitment::for_request(&req).sign(a).unwrap()
    };
    let other_type = Commitment { commitment_type: 2, ..c.clone() }.sign(a).unwrap();
    let garbage =
        Commitment { payload: Bytes::from_static(b"not abi"), ..c.clone() }.sign(a).unwrap();
    let by_b = env.promise(&env.b.1, SLOT, &fake_tx("by b"));
    let refusals: [(&str, Vec<u8>, &str); 8] = [
        ("high s", open_call(c, high_s(&promise)), "InvalidSignatureS"),
        ("64 bytes", open_call(c, sig[..64].to_vec()), "InvalidSignatureLength"),
        ("v = 29", open_call(c, bad_v), "InvalidSignature"),
        (
            "wrong slasher",
            open_call(&other_slasher.commitment, other_slasher.signature_bytes().to_vec()),
            "WrongSlasher",
        ),
        (
            "type 2",
            open_call(&other_type.commitment, other_type.signature_bytes().to_vec()),
            "WrongCommitmentType",
        ),
        (
            "payload not abi",
            open_call(&garbage.commitment, garbage.signature_bytes().to_vec()),
            "InvalidPayload",
        ),
        (
            "signer not the slot's committer",
            open_call(&by_b.commitment, by_b.signature_bytes().to_vec()),
            "NotSlotCommitter",
        ),
        (
            "signature of another commitment",
            open_call(&by_b.commitment, sig.clone()),
            "NotSlotCommitter",
        ),
    ];
    for (what, input, error) in refusals {
        let err = try_send(&env.challenger, open(input, bond())).await;
        assert_eq!(err.unwrap_err(), error, "{what}");
    }

    // The challenge.
    let before = env.balance(s).await;
    let (id, receipt) = client.open_challenge(&promise).await.unwrap();
    println!("gas: openChallenge {}", receipt.gas_used);
    assert_eq!(id, c.digest());
    assert_eq!(env.balance(s).await - before, bond());
    let opened_at = latest_timestamp(&env.p0).await;
    let ev = PreconfSlasher::ChallengeOpened::decode_log(&receipt.inner.logs()[0].inner).unwrap();
    assert_eq!((ev.id, ev.committer, ev.pubkeyHash, ev.slot), (id, a.address(), env.key1, SLOT));
    let state = client.challenge(id).await.unwrap();
    assert_eq!(state.status, ChallengeStatus::Open);
    assert_eq!(state.challenger, address(4));
    assert_eq!(state.tx_hash, keccak256(fake_tx("broken")));
    assert_eq!(state.deadline, opened_at + DEFENCE_WINDOW);
    assert_eq!(state.bond, bond());
    let err = try_send(&env.challenger, open(open_call(c, sig.clone()), bond())).await;
    assert_eq!(err.unwrap_err(), "ChallengeExists");

    // Not slashable before the deadline; the registry alone may call `slash`.
    let err = client.slash_lost_challenge(&promise).await.unwrap_err();
    assert_eq!(err.to_string(), "the contract refused the call: DefenceWindowOpen");
    let direct = PreconfSlasher::slashCall {
        delegation: Default::default(),
        commitment: commitment_to_sol(c),
        committer: a.address(),
        evidence: EvidenceKind::LostChallenge.evidence(),
        challenger: address(5),
    };
    let err = try_send(&env.stranger, call_tx(s, direct.abi_encode(), U256::ZERO)).await;
    assert_eq!(err.unwrap_err(), "NotRegistry");
    // No proposal carries it.
    let err = env.client(&env.stranger).defend(id, U256::ZERO, &[state.tx_hash]).await.unwrap_err();
    assert_eq!(err.to_string(), "the contract refused the call: NoPromisedRecord");

    // After the deadline: no defence; the challenged key only; then the slash.
    warp(&env.p0, state.deadline + 1).await;
    let defend =
        PreconfSlasher::defendCall { id, proposalId: U256::ZERO, index: U256::ZERO, proof: vec![] };
    let err = try_send(&env.stranger, call_tx(s, defend.abi_encode(), U256::ZERO)).await;
    assert_eq!(err.unwrap_err(), "DefenceWindowClosed");
    let err = client.slash(env.key2, &promise, EvidenceKind::LostChallenge).await.unwrap_err();
    assert_eq!(err.to_string(), "the contract refused the call: WrongValidator");

    let (collateral, challenger, registry) = (
        env.collateral(env.key1).await,
        env.balance(address(4)).await,
        env.balance(env.registry).await,
    );
    let receipt = client.slash_lost_challenge(&promise).await.unwrap();
    println!("gas: slashCommitment (lost challenge) {}", receipt.gas_used);
    let fee = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    let half = ether(1) / U256::from(2);
    assert_eq!(env.collateral(env.key1).await, collateral - ether(1));
    assert_eq!(env.balance(address(4)).await + fee - challenger, half + bond());
    assert_eq!(registry - env.balance(env.registry).await, half, "the other half stays locked");
    assert_eq!(env.balance(s).await, U256::ZERO);
    assert_eq!(client.challenge(id).await.unwrap().status, ChallengeStatus::Slashed);
    let logs = receipt.inner.logs();
    assert!(
        logs.iter().any(|l| l.topic0() == Some(&PreconfSlasher::ChallengeSlashed::SIGNATURE_HASH))
    );
    let ev = logs
        .iter()
        .find_map(|l| Registry::CommitmentSlashed::decode_log(&l.inner).ok())
        .expect("CommitmentSlashed");
    assert_eq!(
        (ev.pubkeyHash, ev.committer, ev.taken, ev.reward),
        (env.key1, a.address(), ether(1), half)
    );

    // Once: the Registry refuses the repeat; another key hits the closed challenge.
    let err = client.slash_lost_challenge(&promise).await.unwrap_err();
    assert_eq!(err.to_string(), "the contract refused the call: AlreadySlashed");
    let err = client.slash(env.key2, &promise, EvidenceKind::LostChallenge).await.unwrap_err();
    assert_eq!(err.to_string(), "the contract refused the call: ChallengeClosed");

    // Too late: the window ended at SLOT + CHALLENGE_DELAY + CHALLENGE_WINDOW.
    at_slot(&env, SLOT + CHALLENGE_DELAY + CHALLENGE_WINDOW + 1).await;
    let late = env.promise(a, SLOT, &fake_tx("late challenge"));
    let err = client.open_challenge(&late).await.unwrap_err();
    assert_eq!(err.to_string(), "the contract refused the call: TooLate");
}

/// (b) Kept promises survive false challenges: defended with the proof from the promised record
/// (by anyone; the bond goes to the committer), not slashable afterwards; a transaction posted in a
/// slot after the promised one does not defend. Gas of `proposePromised` and `defend` for 1, 16
/// and 256 promised transactions.
#[tokio::test]
async fn kept_promise_survives_a_false_challenge() {
    let env = setup().await;
    let (a, inbox) = (&env.a.1, env.inbox);
    let challenger = env.client(&env.challenger);
    let defender = env.client(&env.stranger);

    // Slots 3-5 (epoch 0, open): proposals of 1, 16 and 256 transactions, each ending with one
    // promised by A for SLOT (an earlier slot keeps the promise too).
    let mut sized = Vec::new();
    for (slot, n) in [(3u64, 1usize), (4, 16), (5, 256)] {
        at_slot(&env, slot).await;
        let txs: Vec<Bytes> = (0..n).map(|i| fake_tx(&format!("p{n}/{i}"))).collect();
        let receipt = send(&env.stranger, propose_promised(inbox, &txs)).await;
        println!("gas: proposePromised {n} txs {}", receipt.gas_used);
        sized.push((n, env.promise(a, SLOT, &txs[n - 1])));
    }
    // SLOT (A's): A proposes the kept transaction; slot 10 (B's): B posts one A promised for SLOT.
    at_slot(&env, SLOT).await;
    let kept_tx = fake_tx("kept");
    let txs = [fake_tx("before"), kept_tx.clone(), fake_tx("after")];
    let err = try_send(&env.stranger, propose_promised(inbox, &txs)).await.unwrap_err();
    assert_eq!(err, "NotPreconfer", "A's slot");
    send(&env.a.0, propose_promised(inbox, &txs)).await;
    let kept = env.promise(a, SLOT, &kept_tx);
    at_slot(&env, SLOT + 1).await;
    let late_tx = fake_tx("late");
    send(&env.b.0, propose_promised(inbox, std::slice::from_ref(&late_tx))).await;
    let late = env.promise(a, SLOT, &late_tx);

    at_slot(&env, SLOT + CHALLENGE_DELAY + 1).await;
    let (id, _) = challenger.open_challenge(&kept).await.unwrap();
    let (late_id, _) = challenger.open_challenge(&late).await.unwrap();
    let found = defender
        .find_kept(keccak256(&kept_tx), 0u64.into(), alloy_eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .expect("the kept transaction's proposal");
    assert_eq!((found.proposal_id, found.index), (U256::from(3), 1));
    assert_eq!(found.root, promised_root(&found.tx_hashes));

    // Wrong proofs and indices; the proposal of a later slot; a proposal without the transaction.
    let s = env.slasher;
    let mut proof = promised_proof(&found.tx_hashes, 1).unwrap();
    let defend = |id: B256, proposal: u64, index: u64, proof: Vec<B256>| {
        let call = PreconfSlasher::defendCall {
            id,
            proposalId: U256::from(proposal),
            index: U256::from(index),
            proof,
        };
        call_tx(s, call.abi_encode(), U256::ZERO)
    };
    for (what, tx) in [
        ("other index", defend(id, 3, 0, proof.clone())),
        ("other proposal", defend(id, 2, 1, proof.clone())),
        ("short proof", defend(id, 3, 1, proof[..1].to_vec())),
        ("tampered proof", {
            proof[0] = keccak256(proof[0]);
            defend(id, 3, 1, proof.clone())
        }),
    ] {
        assert_eq!(try_send(&env.stranger, tx).await.unwrap_err(), "InvalidProof", "{what}");
    }
    let err = try_send(&env.stranger, defend(id, 99, 0, vec![])).await.unwrap_err();
    assert_eq!(err, "NoPromisedRecord");
    let late_found = defender
        .find_kept(keccak256(&late_tx), 0u64.into(), alloy_eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap();
    let err = defender.defend_with(late_id, &late_found).await.unwrap_err();
    assert_eq!(err.to_string(), "the contract refused the call: ProposalTooLate");

    // The defence (by a stranger): the committer gets the bond.
    let committer_before = env.balance(a.address()).await;
    let receipt = defender.defend_with(id, &found).await.unwrap();
    println!("gas: defend (3 promised txs) {}", receipt.gas_used);
    assert_eq!(env.balance(a.address()).await - committer_before, bond());
    assert_eq!(challenger.challenge(id).await.unwrap().status, ChallengeStatus::Defended);
    let err = defender.defend_with(id, &found).await.unwrap_err();
    assert_eq!(err.to_string(), "the contract refused the call: ChallengeClosed");

    // Defences of 1, 16 and 256 promised transactions (proposals 0, 1, 2).
    for (proposal, (n, promise)) in sized.iter().enumerate() {
        let (cid, _) = challenger.open_challenge(promise).await.unwrap();
        let hashes: Vec<B256> = (0..*n).map(|i| keccak256(fake_tx(&format!("p{n}/{i}")))).collect();
        let receipt = defender.defend(cid, U256::from(proposal), &hashes).await.unwrap();
        println!("gas: defend {n} promised txs {}", receipt.gas_used);
    }
    assert_eq!(env.balance(a.address()).await - committer_before, bond() * U256::from(4));

    // After the deadline the defended challenge cannot slash; the late one (undefended) does.
    let deadline = challenger.challenge(late_id).await.unwrap().deadline;
    warp(&env.p0, deadline + 1).await;
    let collateral = env.collateral(env.key1).await;
    let err = challenger.slash_lost_challenge(&kept).await.unwrap_err();
    assert_eq!(err.to_string(), "the contract refused the call: ChallengeClosed");
    assert_eq!(env.collateral(env.key1).await, collateral);
    challenger.slash_lost_challenge(&late).await.unwrap();
    assert_eq!(env.collateral(env.key1).await, collateral - ether(1));
}

/// (c) A promise for a slot the signer did not own is slashed at once, from the key that delegated
/// to the signer; refusals of that fault and of the Registry's own checks.
#[tokio::test]
async fn not_owned_slot_is_slashed() {
    let env = setup().await;
    let (a, b) = (&env.a.1, &env.b.1);
    let client = env.client(&env.stranger);
    // B promises for SLOT, which is A's.
    let promise = env.promise(b, SLOT, &fake_tx("not owned"));

    at_slot(&env, SLOT + CHALLENGE_DELAY).await;
    let err = client.slash_not_owned(env.key2, &promise).await.unwrap_err();
    assert_eq!(err.to_string(), "the contract refused the call: TooEarly");

    at_slot(&env, SLOT + CHALLENGE_DELAY + 1).await;
    let refused = |e: based_slasher::SlasherError| e.to_string();
    // Key 1 delegated to A, not B.
    let err = client.slash_not_owned(env.key1, &promise).await.unwrap_err();
    assert_eq!(refused(err), "the contract refused the call: NotDelegated");
    // A owned SLOT: no such fault (a broken promise is challenged instead).
    let owned = env.promise(a, SLOT, &fake_tx("owned"));
    let err = client.slash_not_owned(env.key1, &owned).await.unwrap_err();
    assert_eq!(refused(err), "the contract refused the call: SlotOwnedBySigner");
    // Not challengeable either (the signer is not the slot's committer).
    let err = env.client(&env.challenger).open_challenge(&promise).await.unwrap_err();
    assert_eq!(refused(err), "the contract refused the call: NotSlotCommitter");
    // The Registry's checks: evidence kind, signature, slasher address.
    let mut sol = Registry::slashCommitmentCall {
        pubkeyHash: env.key2,
        commitment: based_registry::ISlasher::Commitment {
            commitmentType: 1,
            payload: promise.commitment.payload.clone(),
            requestHash: promise.commitment.request_hash,
            slasher: env.slasher,
        },
        signature: Bytes::from(promise.signature_bytes().to_vec()),
        evidence: Bytes::from(U256::from(2).to_be_bytes::<32>().to_vec()),
    };
    let r = env.registry;
    let err = try_send(&env.stranger, call_tx(r, sol.abi_encode(), U256::ZERO)).await;
    assert_eq!(err.unwrap_err(), "InvalidEvidence");
    sol.evidence = EvidenceKind::NotOwned.evidence();
    let good_signature = sol.signature.clone();
    sol.signature = Bytes::from(high_s(&promise));
    let err = try_send(&env.stranger, call_tx(r, sol.abi_encode(), U256::ZERO)).await;
    assert_eq!(err.unwrap_err(), "InvalidCommitmentSignature");
    sol.signature = good_signature;
    sol.commitment.slasher = Address::repeat_byte(0x5e);
    let err = try_send(&env.stranger, call_tx(r, sol.abi_encode(), U256::ZERO)).await;
    assert_eq!(err.unwrap_err(), "WrongCommitmentSlasher");

    // The slash: half of it to the caller, at once.
    let (collateral, caller) = (env.collateral(env.key2).await, env.balance(address(5)).await);
    let receipt = client.slash_not_owned(env.key2, &promise).await.unwrap();
    println!("gas: slashCommitment (not owned) {}", receipt.gas_used);
    let fee = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    assert_eq!(env.collateral(env.key2).await, collateral - ether(1));
    assert_eq!(env.balance(address(5)).await + fee - caller, ether(1) / U256::from(2));
    assert!(
        receipt
            .inner
            .logs()
            .iter()
            .any(|l| l.topic0() == Some(&PreconfSlasher::NotOwnedSlashed::SIGNATURE_HASH))
    );
    let err = client.slash_not_owned(env.key2, &promise).await.unwrap_err();
    assert_eq!(refused(err), "the contract refused the call: AlreadySlashed");

    // A slot without a preconfer (14) is not B's either; its own slot (13) is.
    at_slot(&env, 17).await;
    let own = env.promise(b, 13, &fake_tx("own slot"));
    let err = client.slash_not_owned(env.key2, &own).await.unwrap_err();
    assert_eq!(refused(err), "the contract refused the call: SlotOwnedBySigner");
    let open_slot = env.promise(b, 14, &fake_tx("open slot"));
    client.slash_not_owned(env.key2, &open_slot).await.unwrap();
    assert_eq!(env.collateral(env.key2).await, U256::ZERO);

    // Below the minimum collateral the key loses its rights from the second after the slash on,
    // not for the past: slot 13 stays B's (so B's honest promise for it is still not slashable as
    // "not owned").
    let committer_at = |t: u64| {
        let call = Registry::committerAtCall { pubkeyHash: env.key2, timestamp: U256::from(t) };
        view(&env.p0, env.registry, call)
    };
    let slashed_at = latest_timestamp(&env.p0).await;
    assert_eq!(committer_at(env.slot_time(13)).await, b.address());
    assert_eq!(
        committer_at(slashed_at).await,
        b.address(),
        "the slash's own block keeps its answer"
    );
    assert_eq!(committer_at(slashed_at + 1).await, Address::ZERO);
    let err = client.slash_not_owned(env.key2, &own).await.unwrap_err();
    assert_eq!(refused(err), "the contract refused the call: SlotOwnedBySigner");
    // A top-up restores them from the next second on; the gap stays.
    at_slot(&env, 19).await;
    let top_up = Registry::addCollateralCall { pubkeyHash: env.key2 }.abi_encode();
    send(&env.p0, call_tx(env.registry, top_up, ether(2))).await;
    let restored_at = latest_timestamp(&env.p0).await;
    assert!(restored_at > slashed_at + 1);
    assert_eq!(committer_at(restored_at).await, Address::ZERO);
    assert_eq!(committer_at(restored_at + 1).await, b.address());
    assert_eq!(committer_at(slashed_at + 1).await, Address::ZERO);
    assert_eq!(committer_at(env.slot_time(13)).await, b.address());
}

/// (d) A committer that broke a promise cannot erase it from the Registry's past: its validator
/// opts out before the promised slot (rights run out just after it) and opts in again with another
/// committer before the challenge window opens. The slot's preconfer stays A, so the broken promise
/// is still challenged and slashed, and A's promise for a slot it did not own (an open slot of
/// epoch 0, while key 1 delegated to A) is still slashable from key 1.
#[tokio::test]
async fn a_new_opt_in_does_not_erase_a_broken_promise() {
    let env = setup().await;
    let a = &env.a.1;
    let other = address(6);
    let lookahead = address(0).create(1);
    let broken = env.promise(a, SLOT, &fake_tx("broken before re-opt-in"));
    let open_slot = env.promise(a, 7, &fake_tx("open slot of epoch 0"));

    // Opt out 5 s before SLOT (effective 5 s into it: A keeps SLOT), then opt in again with another
    // committer as soon as the opt-out is in effect, before the challenge window opens.
    warp(&env.p0, env.slot_time(SLOT) - 5).await;
    let opt_out = Registry::optOutCall { pubkeyHash: env.key1 }.abi_encode();
    send(&env.owner, call_tx(env.registry, opt_out, U256::ZERO)).await;
    let opted_out_at = latest_timestamp(&env.p0).await;
    assert!(opted_out_at + 10 > env.slot_time(SLOT), "A keeps SLOT");
    warp(&env.p0, opted_out_at + 10).await;
    let opt_in = Registry::optInCall { pubkeyHash: env.key1, committer: other }.abi_encode();
    send(&env.owner, call_tx(env.registry, opt_in, U256::ZERO)).await;
    let opted_in_at = latest_timestamp(&env.p0).await;
    assert!(opted_in_at < env.slot_time(SLOT + CHALLENGE_DELAY + 1));

    // The past is unchanged: key 1 delegated to A at SLOT and at slot 7; SLOT is A's.
    let committer_at = |slot: u64| {
        let t = U256::from(env.slot_time(slot));
        view(
            &env.p0,
            env.registry,
            Registry::committerAtCall { pubkeyHash: env.key1, timestamp: t },
        )
    };
    assert_eq!(committer_at(SLOT).await, a.address());
    assert_eq!(committer_at(7).await, a.address());
    let preconfer =
        view(&env.p0, lookahead, Lookahead::preconferAtCall { slot: U256::from(SLOT) }).await;
    assert_eq!((preconfer.pubkeyHash, preconfer.committer), (env.key1, a.address()));

    // The broken promise is challenged and, undefended, slashed from key 1.
    at_slot(&env, SLOT + CHALLENGE_DELAY + 1).await;
    let client = env.client(&env.challenger);
    let (id, _) = client.open_challenge(&broken).await.unwrap();
    let state = client.challenge(id).await.unwrap();
    assert_eq!((state.committer, state.pubkey_hash), (a.address(), env.key1));
    // The not-owned promise too, at once.
    let before = env.collateral(env.key1).await;
    client.slash_not_owned(env.key1, &open_slot).await.unwrap();
    assert_eq!(env.collateral(env.key1).await, before - ether(1));
    warp(&env.p0, state.deadline + 1).await;
    client.slash_lost_challenge(&broken).await.unwrap();
    assert_eq!(env.collateral(env.key1).await, before - ether(2));
    assert_eq!(client.challenge(id).await.unwrap().status, ChallengeStatus::Slashed);
    // The new committer has the key's rights from its own opt-in on.
    assert_eq!(
        view(
            &env.p0,
            env.registry,
            Registry::committerAtCall {
                pubkeyHash: env.key1,
                timestamp: U256::from(opted_in_at + 10),
            }
        )
        .await,
        other
    );
}
