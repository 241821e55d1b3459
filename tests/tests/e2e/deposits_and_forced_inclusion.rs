//! ETH deposited into the L1 Inbox is credited on L2, and a transaction queued for forced
//! inclusion on L1 appears on L2 once its window has passed, even though the proposer never saw it.

use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, Bytes, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::SolCall;
use based_contracts::Inbox;
use based_tests::{
    TestNet, eyre, provider, send_transfer, sign_l2_transfer, wait_for_receipt, wallet_provider,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposit_and_forced_inclusion_arrive_on_l2() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let net = TestNet::start().await?;
    let l2 = net.l2_url();
    let l1 = wallet_provider(&net.l1_url(), 6)?;
    let inbox = net.devnet.inbox;

    // Deposit 2 ETH to a fresh L2 address.
    let to = Address::repeat_byte(0xd0);
    let amount = U256::from(2_000_000_000_000_000_000u128);
    let deposit = TransactionRequest::default()
        .with_to(inbox)
        .with_value(amount)
        .with_input(Bytes::from(Inbox::depositCall { to }.abi_encode()));
    let r = l1.send_transaction(deposit).await?.get_receipt().await?;
    assert!(r.status(), "deposit reverted on L1");

    // Queue a forced-inclusion transaction (signed for L2 by dev account 7, never sent to the proposer).
    let forced_to = Address::repeat_byte(0xf0);
    let (raw, forced_hash) = sign_l2_transfer(7, 0, forced_to, U256::from(4242))?;
    let force = TransactionRequest::default()
        .with_to(inbox)
        .with_value(based_contracts::FORCED_INCLUSION_FEE)
        .with_input(Bytes::from(Inbox::forceIncludeCall { signedTx: raw }.abi_encode()));
    let r = l1.send_transaction(force).await?.get_receipt().await?;
    assert!(r.status(), "forceInclude reverted on L1");

    // Let the forced-inclusion window pass, then trigger a proposal with an ordinary transfer.
    net.devnet.anvil.rpc("anvil_mine", "[\"0x21\", \"0x1\"]")?;
    let hash = send_transfer(&l2, 8, Address::repeat_byte(0x88), U256::from(1)).await?;
    let receipt = wait_for_receipt(&l2, hash).await?;
    assert!(receipt.status());

    let p = provider(&l2)?;
    assert_eq!(p.get_balance(to).await?, amount, "deposit not credited");
    let forced = wait_for_receipt(&l2, forced_hash).await?;
    assert!(forced.status(), "forced transaction failed");
    assert_eq!(p.get_balance(forced_to).await?, U256::from(4242));
    // Forced transactions come first in the block that carries them (spec §7.3/§7.4: the due
    // forced transactions are prepended to the first kept block of the proposal).
    assert!(forced.block_number <= receipt.block_number);
    assert_eq!(forced.transaction_index, Some(0), "forced transaction not first in its L2 block");
    if forced.block_number == receipt.block_number {
        assert!(receipt.transaction_index > Some(0), "ordinary transfer ahead of the forced one");
    }

    net.stop().await;
    Ok(())
}
