//! The devnet in opt-in mode: the gateway's committer posts each epoch's lookahead from the beacon
//! duties; the node's `based_lookahead` works out the same preconfer as the `Lookahead` contract
//! for every slot of several epochs; the committer's proposals land (in its slots among others);
//! a stranger's proposal reverts in a preconfer's slot and lands in an open one.

use alloy_primitives::{Address, U256};
use alloy_provider::Provider;
use alloy_sol_types::SolCall;
use based_contracts::{Inbox, Lookahead};
use based_tests::{
    TestNet, WAIT, empty_batch_sidecar, eyre, preconfer_committer, preconfer_committer_at,
    propose_blob, provider, send_transfer, wait_for, wait_for_receipt,
};
use std::time::Duration;

async fn call<C: SolCall>(l1: &impl Provider, to: Address, c: C) -> eyre::Result<C::Return> {
    use alloy_network::TransactionBuilder;
    let tx = alloy_rpc_types_eth::TransactionRequest::default()
        .with_to(to)
        .with_input(alloy_primitives::Bytes::from(c.abi_encode()));
    Ok(C::abi_decode_returns(&l1.call(tx).await?)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_in_devnet_restricts_posting_to_the_preconfer() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let net = TestNet::start().await?;
    let l1_url = net.l1_url();
    let l2 = net.l2_url();
    let l1 = provider(&l1_url)?;
    let lookahead = net.devnet.sequencing.lookahead.ok_or_else(|| eyre::eyre!("not opt-in"))?;
    let clock = net.devnet.clock;
    let committer = net.devnet.committer;
    let spe = clock.slots_per_epoch();
    let chain = based_chainspec::ChainSpec::devnet()?;
    let validators = chain.sequencing().devnet_validators.clone().expect("devnet validators");

    // 1. The gateway posts lookaheads: wait for two consecutive posted epochs.
    let epoch = wait_for("two posted lookaheads", WAIT, || {
        let l1 = l1.clone();
        async move {
            let head = l1.get_block_by_number(alloy_eips::BlockNumberOrTag::Latest).await?;
            let now = head.map(|b| b.header.timestamp).unwrap_or_default();
            let e = clock.epoch_of(clock.slot_at(now));
            let this =
                call(&l1, lookahead, Lookahead::epochRecordCall { epoch: U256::from(e) }).await?;
            let next =
                call(&l1, lookahead, Lookahead::epochRecordCall { epoch: U256::from(e + 1) })
                    .await?;
            Ok((this.poster == committer && next.poster == committer).then_some(e))
        }
    })
    .await?;

    // 2. The node's lookahead agrees with the contract for every slot of three epochs, and both
    //    kinds of slot exist.
    let (mut own, mut open) = (0, 0);
    for e in [epoch.saturating_sub(1), epoch, epoch + 1] {
        let info: serde_json::Value =
            provider(&l2)?.raw_request("based_lookahead".into(), (format!("{e:#x}"),)).await?;
        assert_eq!(info["mode"], "opt-in");
        let at =
            u64::from_str_radix(info["l1Block"].as_str().unwrap().trim_start_matches("0x"), 16)?;
        let slots = info["slots"].as_array().expect("slots");
        assert_eq!(slots.len() as u64, spe);
        for s in slots {
            let slot =
                u64::from_str_radix(s["slot"].as_str().unwrap().trim_start_matches("0x"), 16)?;
            let want = preconfer_committer_at(&l1_url, lookahead, slot, at.into()).await?;
            let got =
                s["preconfer"]["committer"].as_str().map(|a| a.parse::<Address>()).transpose()?;
            assert_eq!(got.unwrap_or(Address::ZERO), want, "slot {slot}: node {info} vs contract");
            if want == committer {
                own += 1;
            } else if want.is_zero() {
                open += 1;
            }
            // Current and next epoch: the proposer comes from the beacon duties; opted in iff the
            // chain spec opts its validator in.
            if e >= epoch {
                let index = s["proposer"]["validatorIndex"].as_str().expect("proposer known");
                let index = u64::from_str_radix(index.trim_start_matches("0x"), 16)?;
                assert_eq!(index, slot % validators.count, "devnet proposer rule");
                assert_eq!(
                    s["optedIn"].as_bool(),
                    Some(validators.opted_in.contains(&index)),
                    "slot {slot}: {s}"
                );
            }
        }
    }
    assert!(own > 0 && open > 0, "both kinds of slot: own {own}, open {open}");
    // Too far ahead is refused with a clear error.
    let far: Result<serde_json::Value, _> =
        provider(&l2)?.raw_request("based_lookahead".into(), (format!("{:#x}", epoch + 10),)).await;
    assert!(far.is_err());

    // 3. Transfers land; every proposal so far came from the committer, in slots it may use.
    for i in 0..6u64 {
        let hash = send_transfer(&l2, 3, Address::repeat_byte(0x3a), U256::from(1 + i)).await?;
        wait_for_receipt(&l2, hash).await?;
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    // 4. A stranger (dev account 7): reverts in the preconfer's slots, lands in open ones. Keep the
    //    committer busy so the escape hatch (proposal gap) stays shut.
    let busy = {
        let l2 = l2.clone();
        tokio::spawn(async move {
            for i in 0..60u64 {
                let _ = send_transfer(&l2, 4, Address::repeat_byte(0x4b), U256::from(1 + i)).await;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        })
    };
    let (mut reverted, mut landed_open) = (0, 0);
    for _ in 0..24 {
        if reverted > 0 && landed_open > 0 {
            break;
        }
        let r =
            propose_blob(&l1_url, net.devnet.inbox, 7, empty_batch_sidecar(&l1_url).await?).await?;
        let block = l1.get_block_by_number(r.block_number.unwrap().into()).await?.unwrap();
        let slot = clock.slot_at(block.header.timestamp);
        let owner = preconfer_committer(&l1_url, lookahead, slot).await?;
        if r.status() {
            if owner.is_zero() {
                landed_open += 1;
            }
        } else {
            reverted += 1;
            assert!(
                !owner.is_zero() && owner == committer,
                "a stranger's proposal may revert only in a preconfer's slot (slot {slot}, {owner})"
            );
        }
    }
    busy.abort();
    assert!(reverted > 0, "no stranger proposal was refused");
    assert!(landed_open > 0, "no stranger proposal landed in an open slot");

    // 5. Every proposal of the committer landed in its own slot or an open one, some in its own.
    let filter = alloy_rpc_types_eth::Filter::new()
        .address(net.devnet.inbox)
        .event_signature(<Inbox::Proposed as alloy_sol_types::SolEvent>::SIGNATURE_HASH)
        .from_block(0);
    let logs = l1.get_logs(&filter).await?;
    assert!(!logs.is_empty());
    let mut in_own_slot = 0;
    for log in &logs {
        let block = l1.get_block_by_number(log.block_number.unwrap().into()).await?.unwrap();
        let slot = clock.slot_at(block.header.timestamp);
        let owner = preconfer_committer(&l1_url, lookahead, slot).await?;
        let proposer = Address::from_word(log.topics()[2]);
        if proposer != committer {
            continue;
        }
        if owner == committer {
            in_own_slot += 1;
        } else {
            assert!(owner.is_zero(), "proposal in slot {slot} of another preconfer {owner}");
        }
    }
    assert!(in_own_slot > 0, "the committer never posted in its own slots");

    net.stop().await;
    Ok(())
}
