//! A wrong lookahead is contested on the devnet and its poster loses collateral (issue 9,
//! docs/lookahead.md §5): the devnet beacon service writes its block roots into the EIP-4788
//! contract it installs on anvil, and the `Lookahead` reads them at the real address.
//!
//! - An honestly posted epoch cannot be contested: `based slash lookahead --dry-run` finds the
//!   evidence (a block of the previous epoch whose root is on L1, its state's `proposer_lookahead`
//!   and the proposer's key) and the contract answers `NoFault`.
//! - The committer's beacon node lies (fault switch: its duties name the proposer four slots
//!   later), so the committer posts a lookahead naming the wrong validator in the opted-in slot.
//!   `based slash lookahead` proves it wrong: the epoch is voided (every slot falls back to open
//!   posting), the poster key's collateral drops by the chain spec's `lookaheadSlash` and the
//!   contester is paid `contesterReward`.

use alloy_primitives::{Address, B256, U256};
use alloy_provider::Provider;
use alloy_sol_types::SolCall;
use based_contracts::Lookahead;
use based_registry::Registry;
use based_tests::{TestNet, WAIT, based_bin, eyre, provider, wait_for};
use std::process::Command;

/// Dev account that contests (paid the reward).
const CONTESTER_KEY: usize = 5;

async fn call<C: SolCall>(l1: &impl Provider, to: Address, c: C) -> eyre::Result<C::Return> {
    use alloy_network::TransactionBuilder;
    let tx = alloy_rpc_types_eth::TransactionRequest::default()
        .with_to(to)
        .with_input(alloy_primitives::Bytes::from(c.abi_encode()));
    Ok(C::abi_decode_returns(&l1.call(tx).await?)?)
}

async fn current_epoch(
    l1: &impl Provider,
    clock: &based_lookahead::SlotClock,
) -> eyre::Result<u64> {
    let head = l1.get_block_by_number(alloy_eips::BlockNumberOrTag::Latest).await?;
    let now = head.map(|b| b.header.timestamp).unwrap_or_default();
    Ok(clock.epoch_of(clock.slot_at(now)))
}

/// `based slash lookahead` with the contester's key; returns (success, stdout + stderr).
fn contest(
    net: &TestNet,
    lookahead: Address,
    slot: u64,
    dry_run: bool,
) -> eyre::Result<(bool, String)> {
    let mut cmd = Command::new(based_bin()?);
    cmd.args(["slash", "--l1.rpc-url", &net.l1_url(), "lookahead", "--slot", &slot.to_string()])
        .args(["--lookahead", &lookahead.to_string(), "--l1.beacon-url", &net.beacon_url()])
        .env("BASED_SLASH_KEY", based_devnet::DEV_KEYS[CONTESTER_KEY]);
    if dry_run {
        cmd.arg("--dry-run");
    }
    let out = cmd.output()?;
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Ok((out.status.success(), text))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_lookahead_is_contested_and_its_poster_slashed() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let net = TestNet::start().await?;
    let l1 = provider(&net.l1_url())?;
    let lookahead = net.devnet.sequencing.lookahead.ok_or_else(|| eyre::eyre!("not opt-in"))?;
    let registry = net.devnet.sequencing.registry.ok_or_else(|| eyre::eyre!("no registry"))?;
    let clock = net.devnet.clock;
    let spe = clock.slots_per_epoch();
    let committer = net.devnet.committer;
    let seq = net.devnet.chain.sequencing().clone();
    let validators = seq.devnet_validators.clone().expect("devnet validators");
    let count = validators.count;
    let key_of = |index: u64| -> eyre::Result<B256> {
        let pubkey = based_devnet::based_beacon::server::validator_pubkey(
            based_devnet::based_beacon::DevBeaconConfig::default().validator_seed,
            index,
        )
        .ok_or_else(|| eyre::eyre!("key {index}"))?;
        Ok(based_lookahead::pubkey_hash_of_compressed(&pubkey)?)
    };
    // The opted-in slot of an epoch: the one whose true proposer is opted in, while the proposer
    // four slots later (what the lying duties name) is another opted-in validator.
    let opted_slot = |epoch: u64| -> Option<u64> {
        (epoch * spe..(epoch + 1) * spe).find(|s| {
            validators.opted_in.contains(&(s % count))
                && validators.opted_in.contains(&((s + 4) % count))
        })
    };

    // 1. An honest epoch, already running (its previous epoch's blocks have children): the
    //    evidence is found and the contract says `NoFault`.
    let honest = wait_for("an honestly posted epoch in progress", WAIT, || {
        let l1 = l1.clone();
        async move {
            let e = current_epoch(&l1, &clock).await?;
            let rec =
                call(&l1, lookahead, Lookahead::epochRecordCall { epoch: U256::from(e) }).await?;
            Ok((e >= 2 && rec.poster == committer && opted_slot(e).is_some()).then_some(e))
        }
    })
    .await?;
    let slot = opted_slot(honest).expect("opted-in slot");
    let (ok, text) = contest(&net, lookahead, slot, true)?;
    assert!(!ok, "an honest lookahead must not be contestable: {text}");
    assert!(text.contains("NoFault"), "expected NoFault: {text}");
    // The dry run built real evidence: the proven proposer is the slot's true one.
    let (ok, _) = contest(&net, lookahead, slot, true)?;
    assert!(!ok);

    // 2. The committer's beacon node lies from now on; wait for an epoch posted from its duties.
    net.devnet.beacon.set_duty_shift(4);
    let at_fault = current_epoch(&l1, &clock).await?;
    let wrong = wait_for("a lookahead posted from the lying duties", WAIT, || {
        let l1 = l1.clone();
        async move {
            let e = at_fault + 2;
            let rec =
                call(&l1, lookahead, Lookahead::epochRecordCall { epoch: U256::from(e) }).await?;
            Ok((rec.poster == committer).then_some(e))
        }
    })
    .await?;
    net.devnet.beacon.set_duty_shift(0);
    let slot = opted_slot(wrong).expect("opted-in slot");
    let posted = call(&l1, lookahead, Lookahead::slotKeyCall { slot: U256::from(slot) }).await?;
    assert_eq!(posted, key_of((slot + 4) % count)?, "the posted entry follows the lying duties");
    assert_ne!(posted, key_of(slot % count)?);
    let rec = call(&l1, lookahead, Lookahead::epochRecordCall { epoch: U256::from(wrong) }).await?;
    let poster_key = rec.posterPubkeyHash;
    assert!(!rec.contested);

    // 3. Once the wrong epoch runs (the last blocks of the one before have children), contest it.
    wait_for("the contested epoch to start", WAIT, || {
        let l1 = l1.clone();
        async move { Ok((current_epoch(&l1, &clock).await? >= wrong).then_some(())) }
    })
    .await?;
    let contester = based_devnet::dev_signer(CONTESTER_KEY).expect("dev key").address();
    let before_collateral =
        call(&l1, registry, Registry::getOperatorCall { pubkeyHash: poster_key }).await?.collateral;
    let before_balance = l1.get_balance(contester).await?;
    let (ok, text) = contest(&net, lookahead, slot, false)?;
    assert!(ok, "contest failed: {text}");
    assert!(text.contains("contested in L1 transaction"), "{text}");

    // 4. The epoch is void, the poster key slashed, the contester paid.
    let rec = call(&l1, lookahead, Lookahead::epochRecordCall { epoch: U256::from(wrong) }).await?;
    assert!(rec.contested, "epoch {wrong} must be marked contested");
    assert_eq!(rec.slotMask, U256::ZERO);
    let preconfer =
        call(&l1, lookahead, Lookahead::preconferAtCall { slot: U256::from(slot) }).await?;
    assert_eq!(preconfer.committer, Address::ZERO, "a voided epoch falls back to open posting");
    let after_collateral =
        call(&l1, registry, Registry::getOperatorCall { pubkeyHash: poster_key }).await?.collateral;
    assert_eq!(
        before_collateral - after_collateral,
        seq.lookahead_slash.min(before_collateral),
        "the poster key loses lookaheadSlash"
    );
    let after_balance = l1.get_balance(contester).await?;
    // Paid the reward, minus the contest's gas (well under 0.01 ether on anvil).
    let gained = after_balance.saturating_sub(before_balance);
    assert!(
        gained + U256::from(10u64).pow(U256::from(16u64)) > seq.contester_reward
            && gained <= seq.contester_reward,
        "contester gained {gained}, reward {}",
        seq.contester_reward
    );
    // A second contest of the same epoch is refused.
    let (ok, text) = contest(&net, lookahead, slot, true)?;
    assert!(!ok && text.contains("AlreadyContested"), "{text}");
    net.stop().await;
    Ok(())
}
