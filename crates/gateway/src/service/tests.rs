//! Admission rules of [`Gateway::request`], one by one, against a fake L2 state.

use super::*;
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{TxKind, address};
use alloy_signer_local::PrivateKeySigner;

const CHAIN: u64 = 4242;
const SLASHER: Address = address!("0x00000000000000000000000000000000005a5e00");
/// `now` = 1200 s with 12 s slots from 0: slot 100.
const NOW: u64 = 1200;
const SLOT: u64 = 100;

#[derive(Default, Clone)]
struct FakeAccounts(Arc<Mutex<HashMap<Address, (u64, U256)>>>);

impl FakeAccounts {
    fn set(&self, a: Address, nonce: u64, balance: U256) {
        self.0.lock().unwrap().insert(a, (nonce, balance));
    }
}

impl AccountSource for FakeAccounts {
    async fn account(&self, address: Address) -> Result<(u64, U256), String> {
        Ok(self.0.lock().unwrap().get(&address).copied().unwrap_or_default())
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
    accounts: FakeAccounts,
    limits: Limits,
}

impl Fixture {
    fn new() -> Self {
        let accounts = FakeAccounts::default();
        for i in 1..=3 {
            accounts.set(user(i).address(), 0, U256::from(10u64).pow(U256::from(18u64)));
        }
        Self { dir: tempfile::tempdir().unwrap(), accounts, limits: Limits::default() }
    }

    fn gateway(
        &self,
        schedule: Arc<dyn Schedule>,
    ) -> (Gateway<FakeAccounts, PrivateKeySigner>, tokio::sync::mpsc::UnboundedReceiver<Promise>)
    {
        let (log, recovered) =
            CommitmentLog::open(self.dir.path().join("commitments.log")).unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let key = committer();
        let address = key.address();
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
            self.accounts.clone(),
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
    // Identical request: the same signed commitment, nothing new logged or posted.
    assert_eq!(g.request(req).await.unwrap(), signed);
    assert_eq!(g.promises(), 1);
    assert!(rx.try_recv().is_err());
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
        ("past slot", request(SLOT - 1, good.clone()), codes::WRONG_SLOT),
        ("far slot", request(SLOT + 65, good.clone()), codes::WRONG_SLOT),
        ("nonce gap", request(SLOT, tx(&user(1), CHAIN, 1, 1, 0)), codes::NONCE),
        ("no funds", request(SLOT, tx(&user(9), CHAIN, 0, 1, 0)), codes::FUNDS),
    ];
    for (name, req, code) in cases {
        let err = g.request(req).await.expect_err(name);
        assert_eq!(err.code(), code, "{name}: {err}");
    }
    assert_eq!(g.promises(), 0, "no commitment for any malformed request");
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
    // Next nonce follows the promised one, not the L2 account (still 0).
    g.request(request(SLOT, tx(&a, CHAIN, 1, 1, 0))).await.unwrap();
    // Another transaction for a promised nonce would equivocate.
    let err = g.request(request(SLOT, tx(&a, CHAIN, 1, 2, 0))).await.unwrap_err();
    assert_eq!(err.code(), codes::CONFLICT, "{err}");
    // The balance must cover every outstanding promise: 1 ETH minus two promised costs.
    let rich = user(2);
    f.accounts.set(rich.address(), 0, U256::from(21_000u64 * 2_000_000_000 + 5));
    g.request(request(SLOT, tx(&rich, CHAIN, 0, 5, 0))).await.unwrap();
    let err = g.request(request(SLOT + 1, tx(&rich, CHAIN, 1, 0, 0))).await.unwrap_err();
    assert_eq!(err.code(), codes::FUNDS, "{err}");
    // Slot capacity (3 promises).
    let err = g.request(request(SLOT, tx(&user(3), CHAIN, 0, 1, 0))).await.unwrap_err();
    assert_eq!(err.code(), codes::CAPACITY, "{err}");
    g.request(request(SLOT + 1, tx(&user(3), CHAIN, 0, 1, 0))).await.unwrap();
    // Once L2 includes nonce 0 and 1 of `a`, the next promise starts at 2.
    f.accounts.set(a.address(), 2, U256::from(10u64).pow(U256::from(18u64)));
    let err = g.request(request(SLOT + 1, tx(&a, CHAIN, 1, 9, 0))).await.unwrap_err();
    assert_eq!(err.code(), codes::NONCE, "{err}");
    g.request(request(SLOT + 1, tx(&a, CHAIN, 2, 1, 0))).await.unwrap();
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
    // The recovered promise is handed to the proposer again, once.
    assert_eq!(g.resend_recovered(), 1);
    assert_eq!(
        rx.try_recv().unwrap().raw,
        InclusionPayload::abi_decode(&first.payload).unwrap().signed_tx
    );
    assert_eq!(g.resend_recovered(), 0);
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
