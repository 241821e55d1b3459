//! Inbox contract behaviour on anvil: propose in a blob tx, deposits, forced inclusion, reverts.

use crate::common::*;
use alloy_network::{TransactionBuilder, TransactionBuilder4844};
use alloy_primitives::{Address, Bytes, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::{SolCall, SolError, SolEvent};
use based_anvil::contract::revert_selector;
use based_contracts::{
    DEPOSIT_UNIT, FORCED_INCLUSION_FEE, Inbox, InboxEvent, MAX_DEPOSIT, MAX_FORCED_TX_SIZE,
};

async fn read_u256(p: &alloy_provider::DynProvider, inbox: Address, input: Vec<u8>) -> U256 {
    let out = p
        .call(TransactionRequest::default().with_to(inbox).with_input(Bytes::from(input)))
        .await
        .unwrap();
    U256::from_be_slice(&out)
}

#[tokio::test]
async fn inbox_contract_behaviour() {
    let anvil = Anvil::spawn(&[]).unwrap();
    let p = wallet_provider(&anvil, 0);
    let inbox = deploy_inbox(&p).await;
    let accounts = p.get_accounts().await.unwrap();
    let me = accounts[0];
    // The helper's dev keys are anvil's first accounts.
    for (i, key) in DEV_KEYS.iter().enumerate() {
        let signer: alloy_signer_local::PrivateKeySigner = key.parse().unwrap();
        assert_eq!(signer.address(), accounts[i], "dev key {i}");
    }

    // Constants agree with the Rust mirror.
    assert_eq!(
        read_u256(&p, inbox, Inbox::FORCED_INCLUSION_FEECall {}.abi_encode()).await,
        FORCED_INCLUSION_FEE
    );
    assert_eq!(
        read_u256(&p, inbox, Inbox::MAX_FORCED_TX_SIZECall {}.abi_encode()).await,
        U256::from(MAX_FORCED_TX_SIZE)
    );
    assert_eq!(read_u256(&p, inbox, Inbox::DEPOSIT_UNITCall {}.abi_encode()).await, DEPOSIT_UNIT);
    assert_eq!(read_u256(&p, inbox, Inbox::MAX_DEPOSITCall {}.abi_encode()).await, MAX_DEPOSIT);
    // Deployed runtime code is the committed artifact's.
    assert_eq!(p.get_code_at(inbox).await.unwrap(), based_contracts::inbox_runtime_code());

    // propose in a real blob tx with two blobs.
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let sc = sidecar(&data);
    let hashes: Vec<_> = sc.versioned_hashes().collect();
    assert_eq!(hashes.len(), 2);
    let receipt = propose(&p, inbox, sc).await;
    assert!(receipt.status());
    let logs = receipt.inner.logs();
    assert_eq!(logs.len(), 1);
    let ev = InboxEvent::decode(inbox, &logs[0].inner).unwrap().unwrap();
    let InboxEvent::Proposed(prop) = ev else { panic!("expected Proposed, got {ev:?}") };
    assert_eq!((prop.id, prop.proposer, prop.blob_hashes), (U256::ZERO, me, hashes));
    // Second proposal gets id 1.
    let receipt = propose(&p, inbox, sidecar(b"second")).await;
    let ev = Inbox::Proposed::decode_log(&receipt.inner.logs()[0].inner).unwrap();
    assert_eq!(ev.id, U256::from(1));
    assert_eq!(ev.blobHashes.len(), 1);
    assert_eq!(
        read_u256(&p, inbox, Inbox::nextProposalIdCall {}.abi_encode()).await,
        U256::from(2)
    );

    // propose without blobs reverts.
    let call = TransactionRequest::default()
        .with_from(me)
        .with_to(inbox)
        .with_input(Bytes::from(Inbox::proposeCall {}.abi_encode()));
    assert_eq!(revert_selector(&p, call).await, Inbox::NoBlobs::SELECTOR);

    // proposePromised without blobs: Proposed (no blob hashes) then Promised with the transactions,
    // the record stored with the Merkle root of their hashes; bad lists revert.
    let promised: Vec<Bytes> = (1..=3u8).map(|i| Bytes::from(vec![0x02, i, i])).collect();
    let call = TransactionRequest::default()
        .with_from(me)
        .with_to(inbox)
        .with_gas_limit(1_000_000)
        .with_input(Bytes::from(Inbox::proposePromisedCall { txs: promised.clone() }.abi_encode()));
    let receipt = p.send_transaction(call).await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status());
    let logs = receipt.inner.logs();
    assert_eq!(logs.len(), 2);
    let Some(InboxEvent::Proposed(prop)) = InboxEvent::decode(inbox, &logs[0].inner).unwrap()
    else {
        panic!("expected Proposed first")
    };
    assert_eq!((prop.id, prop.proposer), (U256::from(2), me));
    assert!(prop.blob_hashes.is_empty());
    let Some(InboxEvent::Promised(pr)) = InboxEvent::decode(inbox, &logs[1].inner).unwrap() else {
        panic!("expected Promised second")
    };
    assert_eq!((pr.id, pr.txs.clone()), (U256::from(2), promised.clone()));
    let leaves: Vec<_> = promised.iter().map(alloy_primitives::keccak256).collect();
    let l01 = alloy_primitives::keccak256([leaves[0].as_slice(), leaves[1].as_slice()].concat());
    let l2z = alloy_primitives::keccak256([leaves[2].as_slice(), &[0u8; 32]].concat());
    let root = alloy_primitives::keccak256([l01.as_slice(), l2z.as_slice()].concat());
    assert_eq!(pr.root, root, "root: pairs hashed level by level, odd node paired with zero");
    let out = p
        .call(
            TransactionRequest::default().with_to(inbox).with_input(Bytes::from(
                Inbox::promisedRecordCall { id: U256::from(2) }.abi_encode(),
            )),
        )
        .await
        .unwrap();
    let rec = Inbox::promisedRecordCall::abi_decode_returns(&out).unwrap();
    let block = p.get_block_by_number(receipt.block_number.unwrap().into()).await.unwrap().unwrap();
    assert_eq!((rec.root, rec.timestamp, rec.count), (root, block.header.timestamp, 3));
    for bad in [vec![], vec![Bytes::new()], vec![Bytes::from(vec![1u8; 131_073])]] {
        let call = TransactionRequest::default()
            .with_from(me)
            .with_to(inbox)
            .with_gas_limit(20_000_000)
            .with_input(Bytes::from(Inbox::proposePromisedCall { txs: bad }.abi_encode()));
        assert_eq!(revert_selector(&p, call).await, Inbox::InvalidPromisedTxs::SELECTOR);
    }

    // Deposits: ids 0, 1; event fields.
    let to = Address::repeat_byte(0x42);
    for (i, gwei) in [1u64, 5_000_000_000].into_iter().enumerate() {
        let amount = U256::from(gwei) * DEPOSIT_UNIT;
        let receipt = deposit(&p, inbox, to, amount).await;
        assert!(receipt.status());
        let ev = Inbox::Deposited::decode_log(&receipt.inner.logs()[0].inner).unwrap();
        assert_eq!((ev.id, ev.from, ev.to, ev.amount), (U256::from(i), me, to, amount));
    }
    // Bad deposit amounts revert: zero, not a gwei multiple, above MAX_DEPOSIT (needs a huge balance).
    let _: serde_json::Value =
        p.raw_request("anvil_setBalance".into(), (me, U256::from(1u8) << 200)).await.unwrap();
    for value in [U256::ZERO, DEPOSIT_UNIT + U256::from(1), MAX_DEPOSIT + DEPOSIT_UNIT] {
        let call = TransactionRequest::default()
            .with_from(me)
            .with_to(inbox)
            .with_value(value)
            .with_input(Bytes::from(Inbox::depositCall { to }.abi_encode()));
        assert_eq!(
            revert_selector(&p, call).await,
            Inbox::InvalidDepositAmount::SELECTOR,
            "value {value}"
        );
    }

    // Forced inclusion: fee and size caps.
    let tx_bytes = Bytes::from(vec![0x02; MAX_FORCED_TX_SIZE]);
    let receipt = force_include(&p, inbox, tx_bytes.clone(), FORCED_INCLUSION_FEE).await;
    assert!(receipt.status());
    let ev = Inbox::ForcedInclusionQueued::decode_log(&receipt.inner.logs()[0].inner).unwrap();
    assert_eq!((ev.id, ev.sender, ev.signedTx.clone()), (U256::ZERO, me, tx_bytes));
    let fi = |bytes: Bytes, fee: U256| {
        TransactionRequest::default()
            .with_from(me)
            .with_to(inbox)
            .with_value(fee)
            .with_input(Bytes::from(Inbox::forceIncludeCall { signedTx: bytes }.abi_encode()))
    };
    assert_eq!(
        revert_selector(&p, fi(Bytes::from(vec![1]), FORCED_INCLUSION_FEE - U256::from(1))).await,
        Inbox::InsufficientFee::SELECTOR
    );
    assert_eq!(
        revert_selector(&p, fi(Bytes::from(vec![1; MAX_FORCED_TX_SIZE + 1]), FORCED_INCLUSION_FEE))
            .await,
        Inbox::InvalidTxSize::SELECTOR
    );
    assert_eq!(
        revert_selector(&p, fi(Bytes::new(), FORCED_INCLUSION_FEE)).await,
        Inbox::InvalidTxSize::SELECTOR
    );

    // A blob tx whose call reverts (propose is fine, but deposit with blobs and a bad amount is not).
    let bad = TransactionRequest::default()
        .with_to(inbox)
        .with_input(Bytes::from(Inbox::depositCall { to }.abi_encode()))
        .with_max_fee_per_blob_gas(10_000_000_000)
        .with_gas_limit(200_000)
        .with_blob_sidecar_4844(sidecar(b"x"));
    let receipt = p.send_transaction(bad).await.unwrap().get_receipt().await.unwrap();
    assert!(!receipt.status());
    assert!(receipt.inner.logs().is_empty());
}
