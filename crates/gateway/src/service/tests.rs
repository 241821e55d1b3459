//! Admission rules of [`Gateway::request`], one by one, against a fake L2 node (its pending
//! block modelled by nonces, balances and a gas budget).

use super::*;
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{TxKind, address};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;

const CHAIN: u64 = 4242;
const SLASHER: Address = address!("0x00000000000000000000000000000000005a5e00");
/// `now` = 1176 s with 12 s slots from 0: the start of slot 98. With the default promise lead
/// (one and a half slots, 18 s) the first promisable slot is 100, the first starting after 1194 s:
/// 99 starts too soon for a proposer that may have a proposal in flight.
const NOW: u64 = 1176;
const SLOT: u64 = 100;

/// One transaction in the fake node's pending block.
#[derive(Debug, Clone)]
struct Pending {
    hash: B256,
    sender: Address,
    nonce: u64,
    cost: U256,
    gas: u64,
}

#[derive(Default)]
struct NodeState {
    /// Head state: nonce and balance.
    accounts: HashMap<Address, (u64, U256)>,
    pending: Vec<Pending>,
    /// Hashes on L2.
    landed: Vec<B256>,
    session: u64,
    gas_limit: u64,
    reachable: bool,
    /// Every `preconfirm` call (hash), in order, and every drop.
    calls: Vec<B256>,
    drops: Vec<B256>,
    /// If set, `preconfirm` first waits for a permit of it (`entered` counts the waiters).
    gate: Option<Arc<tokio::sync::Semaphore>>,
    entered: usize,
}

/// A fake L2 node: `preconfirm` applies the nonce, funds and gas rules to its pending list.
#[derive(Clone)]
struct FakeNode(Arc<Mutex<NodeState>>);

impl Default for FakeNode {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(NodeState {
            session: 1,
            gas_limit: 30_000_000,
            reachable: true,
            ..Default::default()
        })))
    }
}

fn refused(code: i32, data: Option<serde_json::Value>) -> NodeError {
    NodeError::Refused { code, message: format!("refused {code}"), data }
}

impl FakeNode {
    fn set(&self, a: Address, nonce: u64, balance: U256) {
        self.0.lock().unwrap().accounts.insert(a, (nonce, balance));
    }

    fn pending(&self) -> Vec<B256> {
        self.0.lock().unwrap().pending.iter().map(|p| p.hash).collect()
    }

    /// The node restarts: its pending block is gone, its session new.
    fn restart(&self) {
        let mut s = self.0.lock().unwrap();
        s.pending.clear();
        s.session += 1;
    }

    /// The pending transactions of `sender` below `nonce` land on L2.
    fn land(&self, sender: Address, nonce: u64) {
        let mut s = self.0.lock().unwrap();
        let landed: Vec<Pending> =
            s.pending.iter().filter(|p| p.sender == sender && p.nonce < nonce).cloned().collect();
        s.pending.retain(|p| !(p.sender == sender && p.nonce < nonce));
        let entry = s.accounts.entry(sender).or_default();
        entry.0 = nonce;
        for p in &landed {
            entry.1 = entry.1.saturating_sub(p.cost);
        }
        s.landed.extend(landed.iter().map(|p| p.hash));
    }
}

impl PendingNode for FakeNode {
    async fn preconfirm(
        &self,
        raw: Bytes,
        _slot: u64,
        deadline: Option<u64>,
    ) -> Result<Preconfirmation, NodeError> {
        use alloy_consensus::transaction::SignerRecoverable;
        assert!(deadline.is_some(), "the gateway always names a deadline");
        let gate = {
            let mut s = self.0.lock().unwrap();
            s.entered += usize::from(s.gate.is_some());
            s.gate.clone()
        };
        if let Some(gate) = gate {
            gate.acquire().await.unwrap().forget();
        }
        let mut s = self.0.lock().unwrap();
        if !s.reachable {
            return Err(NodeError::Unreachable("down".into()));
        }
        let tx = alloy_consensus::TxEnvelope::decode_2718(&mut raw.as_ref())
            .map_err(|_| refused(preconf_codes::INVALID, None))?;
        let hash = *tx.tx_hash();
        s.calls.push(hash);
        let answer = |pending: bool, index: usize, session: u64| Preconfirmation {
            tx_hash: hash,
            pending,
            block_number: alloy_primitives::U64::from(1),
            transaction_index: alloy_primitives::U64::from(index),
            gas_used: alloy_primitives::U64::from(21_000),
            status: true,
            session: alloy_primitives::U64::from(session),
        };
        if let Some(i) = s.pending.iter().position(|p| p.hash == hash) {
            return Ok(answer(true, i, s.session));
        }
        if s.landed.contains(&hash) {
            return Ok(answer(false, 0, s.session));
        }
        let sender = tx.recover_signer().unwrap();
        let (nonce, balance) = s.accounts.get(&sender).copied().unwrap_or_default();
        let mine: Vec<&Pending> = s.pending.iter().filter(|p| p.sender == sender).collect();
        let expected = mine.last().map_or(nonce, |p| p.nonce + 1);
        if tx.nonce() != expected {
            let data = serde_json::json!({"got": tx.nonce(), "expected": expected});
            return Err(refused(preconf_codes::NONCE, Some(data)));
        }
        let cost = U256::from(tx.gas_limit()) * U256::from(tx.max_fee_per_gas()) + tx.value();
        let spent = mine.iter().fold(U256::ZERO, |acc, p| acc + p.cost);
        if balance < spent + cost {
            return Err(refused(preconf_codes::FUNDS, None));
        }
        let used: u64 = s.pending.iter().map(|p| p.gas).sum();
        if used + tx.gas_limit() > s.gas_limit {
            return Err(refused(preconf_codes::GAS, None));
        }
        s.pending.push(Pending { hash, sender, nonce: tx.nonce(), cost, gas: tx.gas_limit() });
        Ok(answer(true, s.pending.len() - 1, s.session))
    }

    async fn drop_preconfirmed(&self, tx_hash: B256) -> Result<bool, NodeError> {
        let mut s = self.0.lock().unwrap();
        s.drops.push(tx_hash);
        let before = s.pending.len();
        s.pending.retain(|p| p.hash != tx_hash);
        Ok(s.pending.len() != before)
    }

    async fn session(&self) -> Result<u64, NodeError> {
        let s = self.0.lock().unwrap();
        if !s.reachable {
            return Err(NodeError::Unreachable("down".into()));
        }
        Ok(s.session)
    }
}

/// A committer key that cannot sign (an HSM that went away).
struct BrokenKey;
impl alloy_signer::SignerSync for BrokenKey {
    fn sign_hash_sync(&self, _hash: &B256) -> alloy_signer::Result<alloy_primitives::Signature> {
        Err(alloy_signer::Error::message("key unavailable"))
    }
    fn chain_id_sync(&self) -> Option<u64> {
        None
    }
}

/// Odd slots belong to someone else.
struct EvenSlots;
impl Schedule for EvenSlots {
    fn is_preconfer(&self, slot: u64) -> bool {
        slot.is_multiple_of(2)
    }
}

fn user(i: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(i)).unwrap()
}

fn committer() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(0xcc)).unwrap()
}

fn tx(signer: &PrivateKeySigner, chain_id: u64, nonce: u64, value: u64, input: usize) -> Bytes {
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 21_000 + 16 * input as u64,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(Address::repeat_byte(0xde)),
        value: U256::from(value),
        access_list: Default::default(),
        input: vec![1u8; input].into(),
    };
    let sig = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

fn request(slot: u64, raw: Bytes) -> CommitmentRequest {
    InclusionPayload { slot, signed_tx: raw }.into_request(SLASHER)
}

struct Fixture {
    dir: tempfile::TempDir,
    node: FakeNode,
    limits: Limits,
}

impl Fixture {
    fn new() -> Self {
        let node = FakeNode::default();
        for i in 1..=3 {
            node.set(user(i).address(), 0, U256::from(10u64).pow(U256::from(18u64)));
        }
        Self { dir: tempfile::tempdir().unwrap(), node, limits: Limits::default() }
    }

    fn gateway(
        &self,
        schedule: Arc<dyn Schedule>,
    ) -> (Gateway<FakeNode, PrivateKeySigner>, tokio::sync::mpsc::UnboundedReceiver<Promise>) {
        self.gateway_with(committer(), schedule)
    }

    fn gateway_with<K: CommitSigner>(
        &self,
        key: K,
        schedule: Arc<dyn Schedule>,
    ) -> (Gateway<FakeNode, K>, tokio::sync::mpsc::UnboundedReceiver<Promise>) {
        let (log, recovered) =
            CommitmentLog::open(self.dir.path().join("commitments.log")).unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let address = committer().address();
        let config = GatewayConfig {
            chain_id: CHAIN,
            slasher: SLASHER,
            clock: SlotClock::new(0, 12, 32).unwrap(),
            limits: self.limits,
        };
        let g = Gateway::new(
            config,
            key,
            address,
            log,
            &recovered,
            self.node.clone(),
            schedule,
            Some(tx),
        )
        .with_clock(|| NOW);
        (g, rx)
    }
}

#[tokio::test]
async fn promise_is_signed_by_the_committer_and_handed_on() {
    let f = Fixture::new();
    let (g, mut rx) = f.gateway(Arc::new(EverySlot));
    let raw = tx(&user(1), CHAIN, 0, 1, 0);
    let req = request(SLOT, raw.clone());
    let signed = g.request(req.clone()).await.unwrap();
    signed.verify(committer().address()).unwrap();
    assert_eq!(signed.commitment.request_hash, req.request_hash());
    assert_eq!(signed.commitment.payload, req.payload);
    let promise = rx.try_recv().unwrap();
    assert_eq!((promise.slot, promise.raw), (SLOT, raw));
    // The node's pending block holds it by the time the answer leaves.
    assert_eq!(f.node.pending(), vec![promise.tx_hash]);
    // Identical request: the same signed commitment, nothing new logged or posted.
    assert_eq!(g.request(req).await.unwrap(), signed);
    assert_eq!(g.promises(), 1);
    assert!(rx.try_recv().is_err());
}

#[tokio::test]
async fn recent_commitments_list_new_promises_newest_first_with_latency() {
    let f = Fixture::new();
    let (g, _rx) = f.gateway(Arc::new(EverySlot));
    let recent = g.recent();
    assert!(recent.latest(10).is_empty());
    let a = user(1);
    let first = g.request(request(SLOT, tx(&a, CHAIN, 0, 1, 0))).await.unwrap();
    let second = g.send_raw_transaction(tx(&a, CHAIN, 1, 1, 0)).await.unwrap();
    // Refused and repeated requests list nothing new.
    g.request(request(SLOT, tx(&a, CHAIN, 1, 2, 0))).await.unwrap_err();
    g.request(request(SLOT, tx(&a, CHAIN, 0, 1, 0))).await.unwrap();
    let listed = recent.latest(10);
    assert_eq!(listed.len(), 2, "{listed:?}");
    let (newest, oldest) = (&listed[0], &listed[1]);
    assert_eq!((newest.tx_hash, newest.nonce, newest.slot), (second, 1, SLOT));
    assert_eq!(oldest.request_hash, first.commitment.request_hash);
    assert_eq!((oldest.sender, oldest.nonce), (a.address(), 0));
    for c in &listed {
        assert!(c.received_ms <= c.signed_ms && c.signed_ms > 0, "{c:?}");
        assert!(c.latency_us > 0, "{c:?}");
        assert!(c.signed_ms - c.received_ms <= c.latency_us / 1000 + 1, "{c:?}");
    }
    assert_eq!(recent.latest(1), vec![newest.clone()]);
    let json = serde_json::to_value(newest).unwrap();
    assert!(json["latencyUs"].is_u64() && json["txHash"].is_string(), "{json}");
    // Bounded: only the latest RECENT_COMMITMENTS are kept.
    let b = user(2);
    for nonce in 0..RECENT_COMMITMENTS as u64 {
        g.request(request(SLOT + 1, tx(&b, CHAIN, nonce, 1, 0))).await.unwrap();
    }
    let listed = recent.latest(usize::MAX);
    assert_eq!(listed.len(), RECENT_COMMITMENTS);
    assert_eq!(listed[0].nonce, RECENT_COMMITMENTS as u64 - 1);
    assert!(listed.iter().all(|c| c.sender == b.address()));
}

#[tokio::test]
async fn malformed_requests_get_no_commitment() {
    let f = Fixture::new();
    let (g, _rx) = f.gateway(Arc::new(EverySlot));
    let good = tx(&user(1), CHAIN, 0, 1, 0);
    let mut wrong_type = request(SLOT, good.clone());
    wrong_type.commitment_type = 7;
    let mut other_slasher = request(SLOT, good.clone());
    other_slasher.slasher = Address::repeat_byte(1);
    let mut garbage_payload = request(SLOT, good.clone());
    garbage_payload.payload = Bytes::from_static(b"not abi");
    let mut bad_sig = good.to_vec();
    let n = bad_sig.len();
    bad_sig[n - 40..n - 8].fill(0); // zero most of r/s
    let cases: Vec<(&str, CommitmentRequest, i32)> = vec![
        ("unknown type", wrong_type, codes::INVALID_PARAMS),
        ("other slasher", other_slasher, codes::INVALID_PARAMS),
        ("bad ABI", garbage_payload, codes::INVALID_PARAMS),
        ("bad RLP", request(SLOT, Bytes::from_static(&[0x02, 0xf8, 0x01])), codes::INVALID_PARAMS),
        ("bad signature", request(SLOT, bad_sig.into()), codes::INVALID_PARAMS),
        ("wrong chain", request(SLOT, tx(&user(1), 1, 0, 1, 0)), codes::CHAIN_ID),
        ("oversize", request(SLOT, tx(&user(1), CHAIN, 0, 1, 200_000)), codes::INVALID_PARAMS),
        ("too soon", request(SLOT - 1, good.clone()), codes::WRONG_SLOT),
        ("current slot", request(SLOT - 2, good.clone()), codes::WRONG_SLOT),
        ("past slot", request(SLOT - 3, good.clone()), codes::WRONG_SLOT),
        ("far slot", request(SLOT + 65, good.clone()), codes::WRONG_SLOT),
        ("nonce gap", request(SLOT, tx(&user(1), CHAIN, 1, 1, 0)), codes::NONCE),
        ("no funds", request(SLOT, tx(&user(9), CHAIN, 0, 1, 0)), codes::FUNDS),
    ];
    for (name, req, code) in cases {
        let err = g.request(req).await.expect_err(name);
        assert_eq!(err.code(), code, "{name}: {err}");
    }
    assert_eq!(g.promises(), 0, "no commitment for any malformed request");
    assert!(f.node.pending().is_empty(), "nothing pending on the node");
    // The node's refusal details reach the user.
    let err = g.request(request(SLOT, tx(&user(1), CHAIN, 4, 1, 0))).await.unwrap_err();
    assert!(matches!(err, GatewayError::Nonce { got: 4, expected: 0 }), "{err}");
}

#[tokio::test]
async fn not_the_preconfer_refuses_and_send_raw_picks_own_slot() {
    let f = Fixture::new();
    let (g, _rx) = f.gateway(Arc::new(EvenSlots));
    let err = g.request(request(SLOT + 1, tx(&user(1), CHAIN, 0, 1, 0))).await.unwrap_err();
    assert_eq!(err.code(), codes::NOT_PRECONFER);
    // eth_sendRawTransaction promises for the first own slot (100 is even) and is idempotent.
    let raw = tx(&user(2), CHAIN, 0, 1, 0);
    let hash = g.send_raw_transaction(raw.clone()).await.unwrap();
    assert_eq!(g.send_raw_transaction(raw).await.unwrap(), hash);
    assert_eq!(g.promises(), 1);
    let signed = g.result(hash).unwrap();
    let payload = InclusionPayload::abi_decode(&signed.commitment.payload).unwrap();
    assert_eq!(payload.slot, SLOT);
    assert!(g.slots().slots.iter().all(|s| s.slot % 2 == 0));
    assert_eq!(g.slots().slots.first().map(|s| s.slot), Some(SLOT));
}

#[tokio::test]
async fn nonces_funds_and_capacity() {
    let mut f = Fixture::new();
    f.limits.max_txs_per_slot = 3;
    let (g, _rx) = f.gateway(Arc::new(EverySlot));
    let a = user(1);
    g.request(request(SLOT, tx(&a, CHAIN, 0, 1, 0))).await.unwrap();
    // Next nonce follows the pending one, not the L2 account (still 0).
    g.request(request(SLOT, tx(&a, CHAIN, 1, 1, 0))).await.unwrap();
    // Another transaction for a promised nonce would equivocate (refused before the node).
    let calls = f.node.0.lock().unwrap().calls.len();
    let err = g.request(request(SLOT, tx(&a, CHAIN, 1, 2, 0))).await.unwrap_err();
    assert_eq!(err.code(), codes::CONFLICT, "{err}");
    assert_eq!(f.node.0.lock().unwrap().calls.len(), calls);
    // The pending balance must cover this transaction after the pending ones.
    let rich = user(2);
    f.node.set(rich.address(), 0, U256::from(21_000u64 * 2_000_000_000 + 5));
    g.request(request(SLOT, tx(&rich, CHAIN, 0, 5, 0))).await.unwrap();
    let err = g.request(request(SLOT + 1, tx(&rich, CHAIN, 1, 0, 0))).await.unwrap_err();
    assert_eq!(err.code(), codes::FUNDS, "{err}");
    // Slot capacity (3 promises).
    let err = g.request(request(SLOT, tx(&user(3), CHAIN, 0, 1, 0))).await.unwrap_err();
    assert_eq!(err.code(), codes::CAPACITY, "{err}");
    g.request(request(SLOT + 1, tx(&user(3), CHAIN, 0, 1, 0))).await.unwrap();
    // Once L2 includes nonce 0 and 1 of `a`, the next promise starts at 2; a new transaction
    // for an old nonce is still a conflict with the promise.
    f.node.land(a.address(), 2);
    let err = g.request(request(SLOT + 1, tx(&a, CHAIN, 1, 9, 0))).await.unwrap_err();
    assert_eq!(err.code(), codes::CONFLICT, "{err}");
    g.request(request(SLOT + 1, tx(&a, CHAIN, 2, 1, 0))).await.unwrap();
    // The node's pending block is out of gas: capacity, nothing reserved.
    f.node.0.lock().unwrap().gas_limit = 0;
    let err = g.request(request(SLOT + 2, tx(&a, CHAIN, 3, 1, 0))).await.unwrap_err();
    assert_eq!(err.code(), codes::CAPACITY, "{err}");
    f.node.0.lock().unwrap().gas_limit = 30_000_000;
    g.request(request(SLOT + 2, tx(&a, CHAIN, 3, 1, 0))).await.unwrap();
    // An unreachable node: temporarily unavailable, no promise.
    f.node.0.lock().unwrap().reachable = false;
    let err = g.request(request(SLOT + 2, tx(&a, CHAIN, 4, 1, 0))).await.unwrap_err();
    assert_eq!((err.code(), err.http_status()), (codes::INTERNAL, 503), "{err}");
}

#[tokio::test]
async fn restart_keeps_promises_and_refuses_conflicts() {
    let f = Fixture::new();
    let a = user(1);
    let first = request(SLOT, tx(&a, CHAIN, 0, 1, 0));
    let signed = {
        let (g, _rx) = f.gateway(Arc::new(EverySlot));
        g.request(first.clone()).await.unwrap()
    };
    let (g, mut rx) = f.gateway(Arc::new(EverySlot));
    assert_eq!(g.promises(), 1);
    // The recovered promise is handed to the proposer again, once, and the node (which kept it:
    // only the gateway restarted) answers where it is.
    let calls = f.node.0.lock().unwrap().calls.len();
    assert_eq!(g.resend_recovered().await, 1);
    assert_eq!(
        rx.try_recv().unwrap().raw,
        InclusionPayload::abi_decode(&first.payload).unwrap().signed_tx
    );
    assert_eq!(g.resend_recovered().await, 0);
    assert_eq!(f.node.0.lock().unwrap().calls.len(), calls + 1, "pushed to the node once");
    assert_eq!(f.node.pending().len(), 1, "not appended twice");
    assert_eq!(g.request(first).await.unwrap(), signed, "idempotent across restarts");
    // A different transaction for the promised nonce, or the same one for another slot.
    let err = g.request(request(SLOT, tx(&a, CHAIN, 0, 2, 0))).await.unwrap_err();
    assert_eq!(err.code(), codes::CONFLICT, "{err}");
    let err = g.request(request(SLOT + 2, tx(&a, CHAIN, 0, 1, 0))).await.unwrap_err();
    assert_eq!(err.code(), codes::CONFLICT, "{err}");
    // Next nonce continues after the recovered promise.
    g.request(request(SLOT, tx(&a, CHAIN, 1, 1, 0))).await.unwrap();
}

#[tokio::test]
async fn concurrent_conflicting_requests_one_wins() {
    let f = Fixture::new();
    let (g, _rx) = f.gateway(Arc::new(EverySlot));
    let g = Arc::new(g);
    let a = user(1);
    let mut tasks = Vec::new();
    for v in 0..8u64 {
        let g = g.clone();
        let req = request(SLOT, tx(&a, CHAIN, 0, v, 0));
        tasks.push(tokio::spawn(async move { g.request(req).await }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert_eq!(e.code(), codes::CONFLICT, "{e}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(g.promises(), 1);
}

#[tokio::test]
async fn node_restart_gets_outstanding_promises_again_in_order() {
    let f = Fixture::new();
    let (g, _rx) = f.gateway(Arc::new(EverySlot));
    let (a, b) = (user(1), user(2));
    let mut hashes = Vec::new();
    for (signer, nonce) in [(&a, 0), (&b, 0), (&a, 1)] {
        let raw = tx(signer, CHAIN, nonce, 1, 0);
        hashes.push(keccak256(&raw));
        g.request(request(SLOT, raw)).await.unwrap();
    }
    assert_eq!(f.node.pending(), hashes);
    assert!(!g.check_node().await.unwrap(), "same session: nothing to do");

    // The node restarts: the periodic check pushes everything again, in promise order.
    f.node.restart();
    assert!(f.node.pending().is_empty());
    assert!(g.check_node().await.unwrap());
    assert_eq!(f.node.pending(), hashes);

    // It restarts again and `a` asks for nonce 2 before any check: the node refuses the nonce
    // (it lost 0 and 1), the gateway notices the new session, restores, and admits.
    f.node.restart();
    let raw = tx(&a, CHAIN, 2, 1, 0);
    g.request(request(SLOT, raw.clone())).await.unwrap();
    hashes.push(keccak256(&raw));
    assert_eq!(f.node.pending(), hashes);

    // Once landed, a promise is no longer pushed: a restart restores only the rest.
    f.node.land(a.address(), 3);
    f.node.restart();
    assert!(g.check_node().await.unwrap());
    assert_eq!(f.node.pending(), vec![hashes[1]]);
}

#[tokio::test]
async fn recovered_promises_are_pushed_to_a_restarted_node() {
    let f = Fixture::new();
    let a = user(1);
    let raws: Vec<Bytes> = (0..3).map(|n| tx(&a, CHAIN, n, 1, 0)).collect();
    {
        let (g, _rx) = f.gateway(Arc::new(EverySlot));
        for raw in &raws {
            g.request(request(SLOT, raw.clone())).await.unwrap();
        }
    }
    // Both restart: the node's pending block is empty, the gateway replays its log.
    f.node.restart();
    let (g, _rx) = f.gateway(Arc::new(EverySlot));
    g.resend_recovered().await;
    assert_eq!(f.node.pending(), raws.iter().map(keccak256).collect::<Vec<_>>());
    // The next nonce continues after them.
    g.request(request(SLOT, tx(&a, CHAIN, 3, 1, 0))).await.unwrap();
}

#[tokio::test]
async fn a_promise_that_cannot_be_made_durable_is_dropped_from_the_node() {
    let f = Fixture::new();
    let (g, mut rx) = f.gateway_with(BrokenKey, Arc::new(EverySlot));
    let raw = tx(&user(1), CHAIN, 0, 1, 0);
    let err = g.request(request(SLOT, raw.clone())).await.unwrap_err();
    assert_eq!(err.code(), codes::INTERNAL, "{err}");
    assert_eq!(g.promises(), 0);
    assert!(rx.try_recv().is_err(), "nothing handed to the proposer");
    let state = f.node.0.lock().unwrap();
    assert_eq!(state.calls, vec![keccak256(&raw)], "the node had preconfirmed it");
    assert_eq!(state.drops, vec![keccak256(&raw)], "and was told to drop it");
    assert!(state.pending.is_empty());
}

#[tokio::test]
async fn admissions_beyond_max_in_flight_are_refused_at_once() {
    let mut f = Fixture::new();
    f.limits.max_in_flight = 2;
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    f.node.0.lock().unwrap().gate = Some(gate.clone());
    let (g, _rx) = f.gateway(Arc::new(EverySlot));
    let g = Arc::new(g);
    // `SLOT + 1`: a slot promisable whether or not the current slot is.

    // Two admissions wait inside the node: the cap is reached.
    let held: Vec<_> = [user(1), user(2)]
        .iter()
        .map(|u| {
            let (g, req) = (g.clone(), request(SLOT + 1, tx(u, CHAIN, 0, 1, 0)));
            tokio::spawn(async move { g.request(req).await })
        })
        .collect();
    while f.node.0.lock().unwrap().entered < 2 {
        tokio::task::yield_now().await;
    }

    // A third is refused at once with the capacity error (-32012 / 429), by either method, and
    // never reaches the node.
    let third = tx(&user(3), CHAIN, 0, 1, 0);
    let err = g.request(request(SLOT + 1, third.clone())).await.unwrap_err();
    assert!(matches!(err, GatewayError::Busy(2)), "{err}");
    assert_eq!((err.code(), err.http_status()), (codes::CAPACITY, 429));
    let err = g.send_raw_transaction(third.clone()).await.unwrap_err();
    assert!(matches!(err, GatewayError::Busy(2)), "{err}");
    assert_eq!(f.node.0.lock().unwrap().entered, 2);
    assert_eq!(g.promises(), 0);

    // The held ones complete; their permits come back and the third is admitted.
    gate.add_permits(3);
    for h in held {
        h.await.unwrap().unwrap();
    }
    let signed = g.request(request(SLOT + 1, third)).await.unwrap();
    signed.verify(committer().address()).unwrap();
    assert_eq!(g.promises(), 3);
}

#[tokio::test]
async fn commitment_feed_is_in_issue_order_bounded_and_continues_after_restart() {
    let f = Fixture::new();
    let a = user(1);
    let mut issued = Vec::new();
    {
        let (g, _rx) = f.gateway(Arc::new(EverySlot));
        assert_eq!(g.commitments_since(0, None), CommitmentFeed { commitments: vec![], next: 0 });
        for nonce in 0..5 {
            issued.push(g.request(request(SLOT, tx(&a, CHAIN, nonce, 1, 0))).await.unwrap());
        }
        // A repeated request and a refused one add nothing to the feed.
        g.request(request(SLOT, tx(&a, CHAIN, 0, 1, 0))).await.unwrap();
        g.request(request(SLOT, tx(&a, CHAIN, 0, 2, 0))).await.unwrap_err();
        let all = g.commitments_since(0, None);
        assert_eq!((all.commitments, all.next), (issued.clone(), 5));
        // The cursor: pages of two, in order, and an empty page at the end.
        let page = g.commitments_since(0, Some(2));
        assert_eq!((page.commitments.as_slice(), page.next), (&issued[..2], 2));
        let page = g.commitments_since(page.next, Some(2));
        assert_eq!((page.commitments.as_slice(), page.next), (&issued[2..4], 4));
        let page = g.commitments_since(page.next, Some(2));
        assert_eq!((page.commitments.as_slice(), page.next), (&issued[4..], 5));
        assert_eq!(g.commitments_since(5, Some(2)).commitments, vec![]);
        // Beyond the end: nothing, and `next` says where the feed ends.
        assert_eq!(
            g.commitments_since(1000, None),
            CommitmentFeed { commitments: vec![], next: 5 }
        );
        assert_eq!(g.commitments_since(u64::MAX, Some(u64::MAX)).next, 5);
        // Limit 0: an empty page that does not move the cursor.
        assert_eq!(
            g.commitments_since(3, Some(0)),
            CommitmentFeed { commitments: vec![], next: 3 }
        );
    }
    // After a restart the sequence numbers are the same and new commitments continue them.
    let (g, _rx) = f.gateway(Arc::new(EverySlot));
    assert_eq!(g.commitments_since(0, None).commitments, issued);
    issued.push(g.request(request(SLOT, tx(&a, CHAIN, 5, 1, 0))).await.unwrap());
    let page = g.commitments_since(5, None);
    assert_eq!((page.commitments.as_slice(), page.next), (&issued[5..], 6));
    // The limit is clamped to FEED_MAX_LIMIT.
    let b = user(2);
    for nonce in 0..FEED_MAX_LIMIT + 5 {
        g.request(request(SLOT + 1, tx(&b, CHAIN, nonce, 1, 0))).await.unwrap();
    }
    let page = g.commitments_since(0, Some(u64::MAX));
    assert_eq!(page.commitments.len() as u64, FEED_MAX_LIMIT);
    assert_eq!(page.next, FEED_MAX_LIMIT);
    let json = serde_json::to_value(g.commitments_since(0, Some(1))).unwrap();
    assert!(json["commitments"][0]["commitment"]["request_hash"].is_string(), "{json}");
    assert_eq!(json["next"], 1);
}

#[tokio::test]
async fn promise_lead_follows_config_and_the_proposers_measured_latency() {
    use std::sync::atomic::Ordering::Relaxed;
    let mut f = Fixture::new();
    let (g, _rx) = f.gateway(Arc::new(EverySlot));
    // Default: 18 s with 12 s slots; from the start of slot 98, 100 is the first.
    assert_eq!(g.promise_lead_ms(), 18_000);
    assert_eq!(g.first_promisable_slot(), SLOT);
    // The proposer reports slow posting (a promise took 30 s to land): the lead becomes 31 s, the
    // first promisable slot the first one starting after 1207 s, and a request for 100 is refused.
    let lag = g.posting_lag();
    lag.max_latency_ms.store(30_000, Relaxed);
    assert_eq!(g.promise_lead_ms(), 31_000);
    assert_eq!(g.first_promisable_slot(), SLOT + 1);
    let err = g.request(request(SLOT, tx(&user(1), CHAIN, 0, 1, 0))).await.unwrap_err();
    assert_eq!(err.code(), codes::WRONG_SLOT, "{err}");
    assert_eq!(g.slots().slots.first().map(|s| s.slot), Some(SLOT + 1));
    // eth_sendRawTransaction picks the later slot by itself.
    let hash = g.send_raw_transaction(tx(&user(1), CHAIN, 0, 1, 0)).await.unwrap();
    let payload =
        InclusionPayload::abi_decode(&g.result(hash).unwrap().commitment.payload).unwrap();
    assert_eq!(payload.slot, SLOT + 1);
    // A promise waiting unposted for 20 s: a new one queues behind it (20 s + the 18 s lead).
    lag.max_latency_ms.store(0, Relaxed);
    lag.oldest_waiting_ms.store(20_000, Relaxed);
    assert_eq!(g.promise_lead_ms(), 38_000);
    assert_eq!(g.first_promisable_slot(), SLOT + 2);
    // Posting is fast again: back to the configured lead, which an operator may shorten.
    lag.oldest_waiting_ms.store(0, Relaxed);
    drop(g);
    f.limits.promise_lead_ms = 5_000;
    let dir = tempfile::tempdir().unwrap();
    f.dir = dir;
    let (g, _rx) = f.gateway(Arc::new(EverySlot));
    assert_eq!(g.promise_lead_ms(), 5_000);
    assert_eq!(g.first_promisable_slot(), SLOT - 1);
}
