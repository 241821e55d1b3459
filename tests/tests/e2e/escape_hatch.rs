//! A censoring preconfer cannot halt the chain: the opted-in committer goes silent while a user
//! queues a transaction for forced inclusion on L1. A stranger's proposal is refused in the
//! preconfer's slots until the `Inbox`'s escape hatch opens (no proposal for `maxProposalGap`
//! blocks, or the forced transaction overdue), then lands even in a preconfer's slot; the
//! stranger's proposals carry the forced transaction to L2 while the preconfer stays silent.

use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, Bytes, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::SolCall;
use based_contracts::Inbox;
use based_tests::{
    TestNet, WAIT, empty_batch_sidecar, eyre, preconfer_committer, propose_blob, provider,
    send_transfer, sign_l2_transfer, wait_for, wait_for_receipt, wallet_provider,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn censoring_preconfer_is_bypassed_through_the_escape_hatch() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let net = TestNet::start().await?;
    let l1_url = net.l1_url();
    let l2 = net.l2_url();
    let l1 = provider(&l1_url)?;
    let inbox = net.devnet.inbox;
    let lookahead = net.devnet.sequencing.lookahead.ok_or_else(|| eyre::eyre!("not opt-in"))?;
    let clock = net.devnet.clock;
    let committer = net.devnet.committer;
    let hatch_open = || {
        let l1 = l1.clone();
        async move {
            let tx = TransactionRequest::default()
                .with_to(inbox)
                .with_input(Bytes::from(Inbox::escapeHatchOpenCall {}.abi_encode()));
            eyre::Ok(Inbox::escapeHatchOpenCall::abi_decode_returns(&l1.call(tx).await?)?)
        }
    };
    // The slot the next L1 block falls in, and its preconfer's committer.
    let next_slot_owner = || {
        let l1 = l1.clone();
        let l1_url = l1_url.clone();
        async move {
            let head = l1
                .get_block_by_number(alloy_eips::BlockNumberOrTag::Latest)
                .await?
                .ok_or_else(|| eyre::eyre!("no head"))?;
            let slot = clock.slot_at(head.header.timestamp + clock.seconds_per_slot());
            eyre::Ok((slot, preconfer_committer(&l1_url, lookahead, slot).await?))
        }
    };

    // Wait until the committer owns slots (a lookahead is posted for the current epoch).
    wait_for("a slot of the committer", WAIT, || async {
        let (_, owner) = next_slot_owner().await?;
        Ok((owner == committer).then_some(()))
    })
    .await?;

    // The preconfer posts once (so the proposal-gap trigger is shut), then goes silent; a user
    // queues a forced transaction.
    let hash = send_transfer(&l2, 5, Address::repeat_byte(0x5e), U256::from(5)).await?;
    wait_for_receipt(&l2, hash).await?;
    net.devnet.proposer.set_paused(true);
    eyre::ensure!(!hatch_open().await?, "escape hatch open right after a proposal");
    let forced_to = Address::repeat_byte(0xe5);
    let (raw, forced_hash) = sign_l2_transfer(6, 0, forced_to, U256::from(777))?;
    let force = TransactionRequest::default()
        .with_to(inbox)
        .with_value(based_contracts::FORCED_INCLUSION_FEE)
        .with_input(Bytes::from(Inbox::forceIncludeCall { signedTx: raw }.abi_encode()));
    let r = wallet_provider(&l1_url, 6)?.send_transaction(force).await?.get_receipt().await?;
    assert!(r.status(), "forceInclude reverted");

    // A stranger tries only when the next slot is the committer's: refused while the hatch is shut,
    // accepted once it is open.
    let (mut refused, mut bypassed) = (0, None);
    let deadline = tokio::time::Instant::now() + WAIT;
    while bypassed.is_none() {
        eyre::ensure!(
            tokio::time::Instant::now() < deadline,
            "the hatch never let the stranger in"
        );
        let (_, owner) = next_slot_owner().await?;
        if owner != committer {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            continue;
        }
        let open_before = hatch_open().await?;
        let r = propose_blob(&l1_url, inbox, 7, empty_batch_sidecar(&l1_url).await?).await?;
        let block = l1.get_block_by_number(r.block_number.unwrap().into()).await?.unwrap();
        let slot = clock.slot_at(block.header.timestamp);
        let owner = preconfer_committer(&l1_url, lookahead, slot).await?;
        if owner != committer {
            continue; // landed a slot later, in an open slot: not evidence either way
        }
        if r.status() {
            assert!(
                open_before || hatch_open().await?,
                "landed in the preconfer's slot {slot} with the hatch shut"
            );
            bypassed = Some(slot);
        } else {
            assert!(!open_before, "refused in slot {slot} although the hatch was open");
            refused += 1;
        }
    }
    assert!(refused > 0, "the stranger was never refused: posting rights not enforced");

    // The forced transaction reaches L2 through the stranger's proposals (it is included by the
    // first proposal after its inclusion window; the preconfer is still silent).
    let l2p = provider(&l2)?;
    let deadline = tokio::time::Instant::now() + WAIT;
    let receipt = loop {
        if let Some(r) = l2p.get_transaction_receipt(forced_hash).await? {
            break r;
        }
        eyre::ensure!(tokio::time::Instant::now() < deadline, "forced transaction never on L2");
        let _ = propose_blob(&l1_url, inbox, 7, empty_batch_sidecar(&l1_url).await?).await?;
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    };
    assert!(receipt.status());
    let _ = wait_for_receipt(&l2, forced_hash).await?;
    assert_eq!(provider(&l2)?.get_balance(forced_to).await?, U256::from(777));

    net.devnet.proposer.set_paused(false);
    net.stop().await;
    Ok(())
}
