//! What the gateway signs recovers on L1, in Solidity, to its committer: `CommitmentVerifier`
//! (contracts/src) computes `keccak256(abi.encode(commitment))` and `ecrecover`s it, as URC's
//! `slashCommitment` does; it also computes the same `request_hash`.

use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, B256, Bytes, address, bytes};
use alloy_provider::{Provider, ProviderBuilder};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use based_anvil::{Anvil, AnvilOptions, DEV_KEYS};
use based_commitments::{Commitment, InclusionPayload};
use based_gateway::CommitterKey;

#[allow(missing_docs, clippy::all)]
mod bindings {
    alloy_sol_types::sol!(CommitmentVerifier, "../../contracts/out/CommitmentVerifier.json");
}
use bindings::CommitmentVerifier;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_signature_recovers_in_solidity() {
    let anvil = Anvil::spawn(&AnvilOptions::default()).expect("anvil (run `make tools`)");
    let deployer: PrivateKeySigner = DEV_KEYS[0].parse().unwrap();
    let l1 = ProviderBuilder::new()
        .wallet(EthereumWallet::from(deployer))
        .connect_http(anvil.endpoint().parse().unwrap());
    let tx = TransactionRequest::default().with_deploy_code(CommitmentVerifier::BYTECODE.clone());
    let verifier = l1.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    let verifier = verifier.contract_address.unwrap();
    let call = |input: Vec<u8>| {
        let l1 = l1.clone();
        async move {
            let tx = TransactionRequest::default().with_to(verifier).with_input(Bytes::from(input));
            l1.call(tx).await
        }
    };

    let request = InclusionPayload {
        slot: 123_456,
        signed_tx: bytes!("02f86b827a690184773594008504a817c80082520894000000000000000000000000000000000000dead880de0b6b3a764000080c001a0"),
    }
    .into_request(address!("0x00000000000000000000000000000000005a5e00"));
    let commitment = Commitment::for_request(&request);
    for seed in 1u8..=5 {
        // Both signers the gateway can use: libsecp256k1 (benchmarks) and alloy's (keystores).
        let key = CommitterKey::from_bytes(&B256::repeat_byte(seed)).unwrap();
        let signed = commitment.clone().sign(&key).unwrap();
        let sol_commitment = CommitmentVerifier::Commitment {
            commitmentType: commitment.commitment_type,
            payload: commitment.payload.clone(),
            requestHash: commitment.request_hash,
            slasher: commitment.slasher,
        };
        let out = call(
            CommitmentVerifier::recoverCall {
                commitment: sol_commitment.clone(),
                signature: Bytes::copy_from_slice(&signed.signature_bytes()),
            }
            .abi_encode(),
        )
        .await
        .unwrap();
        let recovered = CommitmentVerifier::recoverCall::abi_decode_returns(&out).unwrap();
        assert_eq!(recovered, key.address());
        let out = call(CommitmentVerifier::digestCall { commitment: sol_commitment }.abi_encode())
            .await
            .unwrap();
        assert_eq!(
            CommitmentVerifier::digestCall::abi_decode_returns(&out).unwrap(),
            commitment.digest()
        );
    }
    let out = call(
        CommitmentVerifier::requestHashCall {
            request: CommitmentVerifier::CommitmentRequest {
                commitmentType: request.commitment_type,
                payload: request.payload.clone(),
                slasher: request.slasher,
            },
        }
        .abi_encode(),
    )
    .await
    .unwrap();
    assert_eq!(
        CommitmentVerifier::requestHashCall::abi_decode_returns(&out).unwrap(),
        request.request_hash()
    );
    // A signature over another commitment recovers to someone else.
    let key = CommitterKey::from_bytes(&B256::repeat_byte(9)).unwrap();
    let mut other = commitment.clone();
    other.payload = Bytes::from_static(b"other");
    let signed = other.sign(&key).unwrap();
    let out = call(
        CommitmentVerifier::recoverCall {
            commitment: CommitmentVerifier::Commitment {
                commitmentType: commitment.commitment_type,
                payload: commitment.payload.clone(),
                requestHash: commitment.request_hash,
                slasher: commitment.slasher,
            },
            signature: Bytes::copy_from_slice(&signed.signature_bytes()),
        }
        .abi_encode(),
    )
    .await;
    if let Ok(out) = out {
        let recovered: Address = CommitmentVerifier::recoverCall::abi_decode_returns(&out).unwrap();
        assert_ne!(recovered, key.address());
    }
}
