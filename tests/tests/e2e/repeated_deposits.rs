//! Several deposits to one L2 address credited by the same L2 block are all credited (protocol
//! §5.2): three deposits to `A` in one L1 block and two to `B` in consecutive L1 blocks, with no
//! proposal in between, land in one L2 block whose balances are the sums.

use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, Bytes, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::SolCall;
use based_contracts::Inbox;
use based_tests::{TestNet, eyre, provider, send_transfer, wait_for_receipt, wallet_provider};

const GWEI: u64 = 1_000_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_deposits_to_one_address_are_all_credited() -> eyre::Result<()> {
    let _serial = based_tests::serial();
    let net = TestNet::start().await?;
    let l2 = net.l2_url();
    let l1 = wallet_provider(&net.l1_url(), 6)?;
    let inbox = net.devnet.inbox;
    let deposit = |to: Address, gwei: u64| {
        TransactionRequest::default()
            .with_to(inbox)
            .with_value(U256::from(gwei * GWEI))
            .with_input(Bytes::from(Inbox::depositCall { to }.abi_encode()))
    };
    let a = Address::repeat_byte(0xa1);
    let b = Address::repeat_byte(0xb2);

    // Stop interval mining so the L1 blocks are exactly the ones mined below.
    net.devnet.anvil.rpc("evm_setIntervalMining", "[0]")?;
    // A: 1, 2 and 4 gwei in one L1 block.
    let mut pending = Vec::new();
    for gwei in [1, 2, 4] {
        pending.push(l1.send_transaction(deposit(a, gwei)).await?);
    }
    net.devnet.anvil.rpc("anvil_mine", "[\"0x1\", \"0x1\"]")?;
    let mut a_blocks = Vec::new();
    for p in pending {
        let r = p.get_receipt().await?;
        assert!(r.status(), "deposit to A reverted");
        a_blocks.push(r.block_number.unwrap_or_default());
    }
    assert!(
        a_blocks.iter().all(|n| *n == a_blocks[0]),
        "A's deposits in one L1 block: {a_blocks:?}"
    );
    // B: 8 and 16 gwei in two consecutive L1 blocks.
    let mut b_blocks = Vec::new();
    for gwei in [8, 16] {
        let p = l1.send_transaction(deposit(b, gwei)).await?;
        net.devnet.anvil.rpc("anvil_mine", "[\"0x1\", \"0x1\"]")?;
        let r = p.get_receipt().await?;
        assert!(r.status(), "deposit to B reverted");
        b_blocks.push(r.block_number.unwrap_or_default());
    }
    assert_eq!(b_blocks[1], b_blocks[0] + 1, "B's deposits in consecutive L1 blocks");
    net.devnet.anvil.rpc("evm_setIntervalMining", "[1]")?;

    // Nothing was proposed meanwhile (the pool was empty); one transfer triggers the proposal
    // whose first L2 block credits all five deposits.
    let hash = send_transfer(&l2, 8, Address::repeat_byte(0x88), U256::from(1)).await?;
    assert!(wait_for_receipt(&l2, hash).await?.status());

    let p = provider(&l2)?;
    assert_eq!(p.get_balance(a).await?, U256::from(7 * GWEI), "A: 1 + 2 + 4 gwei");
    assert_eq!(p.get_balance(b).await?, U256::from(24 * GWEI), "B: 8 + 16 gwei");

    // The scenario is only meaningful if the repeated deposits share an L2 block: find the block
    // whose withdrawals (deposits) credit A and check it credits all of A's and B's.
    let head = p.get_block_number().await?;
    let mut crediting = None;
    for n in 1..=head {
        let block =
            p.get_block_by_number(n.into()).await?.ok_or_else(|| eyre::eyre!("block {n}"))?;
        let withdrawals = block.withdrawals.map(|w| w.into_inner()).unwrap_or_default();
        if withdrawals.iter().any(|w| w.address == a) {
            crediting = Some(withdrawals);
            break;
        }
    }
    let withdrawals = crediting.ok_or_else(|| eyre::eyre!("no L2 block credits A"))?;
    let amounts = |to: Address| -> Vec<u64> {
        withdrawals.iter().filter(|w| w.address == to).map(|w| w.amount).collect()
    };
    assert_eq!(amounts(a), vec![1, 2, 4], "A's deposits in one L2 block");
    assert_eq!(amounts(b), vec![8, 16], "B's deposits in the same L2 block");

    net.stop().await;
    Ok(())
}
