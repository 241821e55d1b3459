use alloy_consensus::{Transaction, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, B256, Bytes};
use alloy_sol_types::SolValue;
use serde::{Deserialize, Serialize};

use crate::{CommitmentError, CommitmentRequest, sol};

/// Commitment type of an inclusion commitment: "the transaction in the payload is included in the
/// block of the payload's slot".
pub const INCLUSION_COMMITMENT_TYPE: u64 = 1;

/// Payload of an inclusion request and commitment: `abi.encode((uint64 slot, bytes signed_tx))`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InclusionPayload {
    /// Slot whose block includes the transaction.
    pub slot: u64,
    /// EIP-2718 encoded signed transaction.
    pub signed_tx: Bytes,
}

impl InclusionPayload {
    /// `abi.encode((slot, signed_tx))`.
    pub fn abi_encode(&self) -> Vec<u8> {
        sol::InclusionPayload { slot: self.slot, signedTx: self.signed_tx.clone() }.abi_encode()
    }

    /// Decodes [`Self::abi_encode`]'s output; refuses malformed and non-canonical bytes.
    pub fn abi_decode(data: &[u8]) -> Result<Self, CommitmentError> {
        let sol: sol::InclusionPayload = sol::decode_canonical(data)?;
        Ok(Self { slot: sol.slot, signed_tx: sol.signedTx })
    }

    /// The inclusion request for this payload, enforced by `slasher`.
    pub fn into_request(self, slasher: Address) -> CommitmentRequest {
        CommitmentRequest {
            commitment_type: INCLUSION_COMMITMENT_TYPE,
            payload: self.abi_encode().into(),
            slasher,
        }
    }

    /// Decodes the signed transaction and recovers its sender.
    pub fn decode_tx(&self) -> Result<InclusionTx, CommitmentError> {
        let tx =
            TxEnvelope::decode_2718_exact(&self.signed_tx).map_err(CommitmentError::Transaction)?;
        let sender = tx.recover_signer().map_err(CommitmentError::TransactionSigner)?;
        Ok(InclusionTx { slot: self.slot, sender, nonce: tx.nonce(), tx_hash: *tx.tx_hash(), tx })
    }
}

/// A decoded inclusion request: the slot and the signed transaction with its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionTx {
    /// Slot whose block includes the transaction.
    pub slot: u64,
    /// Recovered sender.
    pub sender: Address,
    /// Transaction nonce.
    pub nonce: u64,
    /// Transaction hash.
    pub tx_hash: B256,
    /// The transaction.
    pub tx: TxEnvelope,
}

impl InclusionTx {
    /// Decodes an inclusion request: type 1, canonical payload, valid signed transaction.
    pub fn from_request(request: &CommitmentRequest) -> Result<Self, CommitmentError> {
        if request.commitment_type != INCLUSION_COMMITMENT_TYPE {
            return Err(CommitmentError::UnexpectedType {
                found: request.commitment_type,
                expected: INCLUSION_COMMITMENT_TYPE,
            });
        }
        InclusionPayload::abi_decode(&request.payload)?.decode_tx()
    }

    /// A per-slot key of the promise made about this transaction: `slot (8 bytes BE) || sender ||
    /// nonce (8 bytes BE)`. Two different transactions for one key would be equivocation. (The
    /// gateway uses a stronger key, `sender || nonce` over all slots, with the slot in the value:
    /// `based_gateway::service::conflict_key`.)
    pub fn conflict_key(&self) -> [u8; 36] {
        let mut key = [0u8; 36];
        let (slot, rest) = key.split_at_mut(8);
        let (sender, nonce) = rest.split_at_mut(20);
        slot.copy_from_slice(&self.slot.to_be_bytes());
        sender.copy_from_slice(self.sender.as_slice());
        nonce.copy_from_slice(&self.nonce.to_be_bytes());
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{SignableTransaction, TxEip1559};
    use alloy_eips::eip2718::Encodable2718;
    use alloy_primitives::{TxKind, U256, address, b256, keccak256};
    use alloy_signer::SignerSync;
    use alloy_signer_local::PrivateKeySigner;
    use proptest::prelude::*;

    fn transfer(signer: &PrivateKeySigner, nonce: u64) -> Bytes {
        let tx = TxEip1559 {
            chain_id: 31337,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: 2_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(address!("0x000000000000000000000000000000000000dEaD")),
            value: U256::from(1u64),
            access_list: Default::default(),
            input: Bytes::new(),
        };
        let sig = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
        TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
    }

    /// Vector from eth-fabric's reference gateway tests.
    #[test]
    fn reference_gateway_vector() {
        let payload = InclusionPayload { slot: 12345, signed_tx: Bytes::new() };
        assert_eq!(
            keccak256(payload.abi_encode()),
            b256!("0ccee42883ae08bce4f8725891b2e9cc65a260876b55b23d4b7d94d60fad8211")
        );
    }

    #[test]
    fn decodes_signed_transfer() {
        let signer = PrivateKeySigner::random();
        let raw = transfer(&signer, 7);
        let request =
            InclusionPayload { slot: 42, signed_tx: raw.clone() }.into_request(Address::ZERO);
        let tx = InclusionTx::from_request(&request).unwrap();
        assert_eq!(tx.sender, signer.address());
        assert_eq!(tx.nonce, 7);
        assert_eq!(tx.slot, 42);
        assert_eq!(tx.tx_hash, keccak256(&raw));
        let key = tx.conflict_key();
        assert_eq!(&key[..8], &42u64.to_be_bytes());
        assert_eq!(&key[8..28], signer.address().as_slice());
        assert_eq!(&key[28..], &7u64.to_be_bytes());
    }

    #[test]
    fn typed_errors() {
        let bad_type =
            CommitmentRequest { commitment_type: 2, payload: Bytes::new(), slasher: Address::ZERO };
        assert!(matches!(
            InclusionTx::from_request(&bad_type),
            Err(CommitmentError::UnexpectedType { found: 2, expected: 1 })
        ));
        let bad_payload = CommitmentRequest {
            commitment_type: 1,
            payload: Bytes::from_static(b"xx"),
            slasher: Address::ZERO,
        };
        assert!(matches!(InclusionTx::from_request(&bad_payload), Err(CommitmentError::Abi(_))));
        let bad_tx = InclusionPayload { slot: 1, signed_tx: Bytes::from_static(&[2, 0xc0]) }
            .into_request(Address::ZERO);
        assert!(matches!(InclusionTx::from_request(&bad_tx), Err(CommitmentError::Transaction(_))));
    }

    proptest! {
        #[test]
        fn payload_round_trip(slot in any::<u64>(), tx in proptest::collection::vec(any::<u8>(), 0..300)) {
            let payload = InclusionPayload { slot, signed_tx: tx.into() };
            prop_assert_eq!(InclusionPayload::abi_decode(&payload.abi_encode()).unwrap(), payload);
        }

        #[test]
        fn decode_tx_never_panics(slot in any::<u64>(), tx in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = InclusionPayload { slot, signed_tx: tx.into() }.decode_tx();
        }
    }
}
