//! Promises hold when the machine is busy: with every core spinning (as during a CI build), the
//! devnet gateway still promises only slots its proposer meets. Each promise's transaction is
//! posted in an `Inbox.Promised` record in the promised slot or earlier (kept, docs/protocol.md
//! §11.1), the node records no broken promise, and no promise is refused for lack of a slot.
//!
//! The gateway's promise lead (§10.2 rule 3) covers a proposal already in flight plus the
//! proposer's measured posting latency (`based_postingStatus`): before it did, a promise made while
//! a proposal was in flight, on a loaded machine, landed one or two slots late and the devnet's
//! watchtower slashed an honest validator.

use alloy_primitives::{Address, B256, U256};
use based_commitments::{InclusionPayload, SignedCommitment};
use based_tests::{TestNet, WAIT, eyre, sign_l2_transfer, wait_for, wait_for_receipt};
use serde_json::{Value, json};
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

async fn rpc(url: &str, method: &str, params: Value) -> eyre::Result<Value> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    Ok(reqwest::Client::new().post(url).json(&body).send().await?.json().await?)
}

/// Spins every core until dropped.
struct Burners(Arc<AtomicBool>, Vec<std::thread::JoinHandle<()>>);

impl Burners {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let cores = 2 * std::thread::available_parallelism().map_or(2, |n| n.get());
        let threads = (0..cores)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                })
            })
            .collect();
        Self(stop, threads)
    }
}

impl Drop for Burners {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        for t in self.1.drain(..) {
            let _ = t.join();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promises_are_kept_with_every_core_busy() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    // Permissionless: every slot is the gateway's, so the first promisable slot (the lead) is what
    // every promise gets; in opt-in mode own slots are sparse and usually further ahead anyway.
    let net = TestNet::start_with(Some(based_tests::based_devnet::SequencingMode::Permissionless))
        .await?;
    let gateway = net.devnet.gateway.url();
    let l2 = net.l2_url();

    // Promises keep coming while every core spins, 700 ms apart (with the scenarios' 1 s L1 slots
    // most arrive while a proposal is in flight), from two senders, until ten are made.
    // A refusal is allowed (the proposer's status not read in time: -32603); a promise that is
    // made must be kept.
    let mut promised: Vec<(B256, u64)> = Vec::new();
    let mut refused = Vec::new();
    let mut nonces = [0u64; 2];
    {
        let _busy = Burners::start();
        for i in 0..40usize {
            if promised.len() >= 10 {
                break;
            }
            let (key, nonce) = (6 + i % 2, nonces[i % 2]);
            let (raw, hash) =
                sign_l2_transfer(key, nonce, Address::repeat_byte(0x60), U256::from(1))?;
            let resp = rpc(&gateway, "eth_sendRawTransaction", json!([raw])).await?;
            if resp["result"] != json!(hash) {
                let code = resp["error"]["code"].as_i64();
                assert_eq!(code, Some(-32603), "promise {i}: {resp}");
                refused.push(resp);
                tokio::time::sleep(std::time::Duration::from_millis(700)).await;
                continue;
            }
            nonces[i % 2] += 1;
            let resp = rpc(&gateway, "commitmentResult", json!([hash])).await?;
            let signed: SignedCommitment = serde_json::from_value(resp["result"].clone())
                .map_err(|e| eyre::eyre!("{e}: {resp}"))?;
            promised.push((hash, InclusionPayload::abi_decode(&signed.commitment.payload)?.slot));
            tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        }
    }
    assert!(promised.len() >= 8, "only {} promises made; refused: {refused:#?}", promised.len());
    for (hash, _) in &promised {
        assert!(wait_for_receipt(&l2, *hash).await?.status());
    }
    let clock = net.devnet.clock;
    let posted = wait_for("every promise in a Promised record", WAIT, || {
        let (l1, inbox, promised) = (net.l1_url(), net.devnet.inbox, promised.clone());
        async move {
            let posted = based_tests::promised_on_l1(&l1, inbox, &clock).await?;
            Ok(promised.iter().all(|(h, _)| posted.contains_key(h)).then_some(posted))
        }
    })
    .await?;
    let late: Vec<String> = promised
        .iter()
        .filter(|(h, slot)| posted.get(h).is_none_or(|landed| landed > slot))
        .map(|(h, slot)| format!("{h}: promised for slot {slot}, posted in {:?}", posted.get(h)))
        .collect();
    assert!(late.is_empty(), "promises broken (posted after their slot): {late:#?}");
    let status = rpc(&l2, "based_preconfirmations", json!([])).await?;
    assert_eq!(status["result"]["broken"], json!([]), "no promise broken: {status}");

    // The proposer stalls (paused: what a machine too slow to post looks like). A promise made
    // before the gateway can know is for the usual first slot; once the proposer reports its
    // oldest promised transaction waiting, the gateway promises only slots at least that much
    // further ahead, and that promise is kept once posting resumes.
    let current_slot = || {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        clock.slot_at(now.map_or(0, |d| d.as_secs()))
    };
    net.devnet.proposer.set_paused(true);
    let (raw, first) = sign_l2_transfer(6, nonces[0], Address::repeat_byte(0x61), U256::from(1))?;
    let resp = rpc(&gateway, "eth_sendRawTransaction", json!([raw])).await?;
    assert_eq!(resp["result"], json!(first), "{resp}");
    let stalled = std::time::Duration::from_secs(4);
    tokio::time::sleep(stalled).await;
    let (raw, second) = sign_l2_transfer(7, nonces[1], Address::repeat_byte(0x61), U256::from(1))?;
    let at = current_slot();
    let resp = rpc(&gateway, "eth_sendRawTransaction", json!([raw])).await?;
    assert_eq!(resp["result"], json!(second), "{resp}");
    let resp = rpc(&gateway, "commitmentResult", json!([second])).await?;
    let signed: SignedCommitment =
        serde_json::from_value(resp["result"].clone()).map_err(|e| eyre::eyre!("{e}: {resp}"))?;
    let second_slot = InclusionPayload::abi_decode(&signed.commitment.payload)?.slot;
    // 1 s slots: the default lead is 2 s; the stall adds its 4 s.
    assert!(
        second_slot >= at + 1 + stalled.as_secs(),
        "promised for slot {second_slot} at slot {at}: the stall did not raise the lead"
    );
    net.devnet.proposer.set_paused(false);
    assert!(wait_for_receipt(&l2, second).await?.status());
    let posted = wait_for("the second promise in a Promised record", WAIT, || {
        let (l1, inbox) = (net.l1_url(), net.devnet.inbox);
        async move {
            let posted = based_tests::promised_on_l1(&l1, inbox, &clock).await?;
            Ok(posted.get(&second).copied())
        }
    })
    .await?;
    assert!(posted <= second_slot, "promised for {second_slot}, posted in {posted}");
    net.stop().await;
    Ok(())
}
