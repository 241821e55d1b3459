use alloy_primitives::{Address, B256, Bytes, Signature, keccak256};
use alloy_signer::SignerSync;
use alloy_sol_types::SolValue;
use serde::{Deserialize, Serialize};

use crate::{CommitmentError, sol};

/// A request for a commitment, created by a user (spec: `CommitmentRequest`).
///
/// JSON: `{"commitment_type": 1, "payload": "0x…", "slasher": "0x…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CommitmentRequest {
    /// Type of commitment requested (1 = inclusion).
    pub commitment_type: u64,
    /// Opaque input bytes, interpreted according to `commitment_type`.
    pub payload: Bytes,
    /// Slasher contract resolving disputes about the commitment.
    pub slasher: Address,
}

impl CommitmentRequest {
    /// The Solidity form.
    pub fn to_sol(&self) -> sol::CommitmentRequest {
        sol::CommitmentRequest {
            commitmentType: self.commitment_type,
            payload: self.payload.clone(),
            slasher: self.slasher,
        }
    }

    /// `abi.encode(request)`.
    pub fn abi_encode(&self) -> Vec<u8> {
        self.to_sol().abi_encode()
    }

    /// Decodes `abi.encode(request)`; refuses malformed and non-canonical bytes.
    pub fn abi_decode(data: &[u8]) -> Result<Self, CommitmentError> {
        let sol: sol::CommitmentRequest = sol::decode_canonical(data)?;
        Ok(Self { commitment_type: sol.commitmentType, payload: sol.payload, slasher: sol.slasher })
    }

    /// `keccak256(abi.encode(request))`, the hash that binds a [`Commitment`] to this request.
    pub fn request_hash(&self) -> B256 {
        keccak256(self.abi_encode())
    }
}

/// A commitment answering a [`CommitmentRequest`] (spec: `Commitment`).
///
/// JSON: `{"commitment_type": 1, "payload": "0x…", "request_hash": "0x…", "slasher": "0x…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Commitment {
    /// Type of commitment made.
    pub commitment_type: u64,
    /// Opaque payload of the commitment.
    pub payload: Bytes,
    /// Hash of the request this commitment answers ([`CommitmentRequest::request_hash`]).
    pub request_hash: B256,
    /// Slasher contract resolving disputes about the commitment.
    pub slasher: Address,
}

impl Commitment {
    /// The commitment answering `request` one to one: same type, payload and slasher, bound to the
    /// request by its hash (the mapping eth-fabric's reference gateway uses for inclusion).
    pub fn for_request(request: &CommitmentRequest) -> Self {
        Self {
            commitment_type: request.commitment_type,
            payload: request.payload.clone(),
            request_hash: request.request_hash(),
            slasher: request.slasher,
        }
    }

    /// The Solidity form.
    pub fn to_sol(&self) -> sol::Commitment {
        sol::Commitment {
            commitmentType: self.commitment_type,
            payload: self.payload.clone(),
            requestHash: self.request_hash,
            slasher: self.slasher,
        }
    }

    /// `abi.encode(commitment)`.
    pub fn abi_encode(&self) -> Vec<u8> {
        self.to_sol().abi_encode()
    }

    /// Decodes `abi.encode(commitment)`; refuses malformed and non-canonical bytes.
    pub fn abi_decode(data: &[u8]) -> Result<Self, CommitmentError> {
        let sol: sol::Commitment = sol::decode_canonical(data)?;
        Ok(Self {
            commitment_type: sol.commitmentType,
            payload: sol.payload,
            request_hash: sol.requestHash,
            slasher: sol.slasher,
        })
    }

    /// `keccak256(abi.encode(commitment))`: the digest the committer signs and URC's
    /// `slashCommitment` recovers.
    pub fn digest(&self) -> B256 {
        keccak256(self.abi_encode())
    }

    /// Signs [`Self::digest`] with `signer` (the committer key).
    pub fn sign<S>(self, signer: &S) -> Result<SignedCommitment, CommitmentError>
    where
        S: SignerSync<Signature> + ?Sized,
    {
        let signature = signer.sign_hash_sync(&self.digest())?;
        // RFC 6979 signers (k256) already produce low-s; normalise anyway so the result is always
        // acceptable to `ECDSA.recover`.
        Ok(SignedCommitment { commitment: self, signature: signature.normalized_s() })
    }
}

/// A commitment with the committer's ECDSA signature (spec: `SignedCommitment`).
///
/// JSON: `{"commitment": {…}, "signature": "0x" + 65 bytes hex (r, s, v = 27/28)}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SignedCommitment {
    /// The signed commitment.
    pub commitment: Commitment,
    /// Signature over [`Commitment::digest`].
    #[serde(with = "crate::signature")]
    pub signature: Signature,
}

impl SignedCommitment {
    /// The 65 signature bytes `r || s || v` (`v` = 27 or 28), as a Solidity `bytes signature`.
    pub fn signature_bytes(&self) -> [u8; 65] {
        self.signature.as_bytes()
    }

    /// Builds a signed commitment from 65 signature bytes `r || s || v` (`v` = 27 or 28).
    pub fn from_parts(commitment: Commitment, signature: &[u8]) -> Result<Self, CommitmentError> {
        Ok(Self { commitment, signature: crate::signature::from_rsv(signature)? })
    }

    /// The address whose key signed the commitment digest. Refuses high-`s` signatures, as
    /// OpenZeppelin's `ECDSA.recover` does.
    pub fn recover_signer(&self) -> Result<Address, CommitmentError> {
        if self.signature.normalize_s().is_some() {
            return Err(CommitmentError::HighS);
        }
        Ok(self.signature.recover_address_from_prehash(&self.commitment.digest())?)
    }

    /// Checks that `committer` signed this commitment.
    pub fn verify(&self, committer: Address) -> Result<(), CommitmentError> {
        let recovered = self.recover_signer()?;
        if recovered != committer {
            return Err(CommitmentError::WrongSigner { recovered, expected: committer });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, b256, bytes, hex};
    use alloy_signer_local::PrivateKeySigner;
    use proptest::prelude::*;

    /// anvil's first dev key.
    const KEY: B256 = b256!("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");

    fn golden_request() -> CommitmentRequest {
        let payload = crate::InclusionPayload {
            slot: 1000,
            signed_tx: bytes!(
                "02f86b827a690184773594008504a817c80082520894000000000000000000000000000000000000dead880de0b6b3a764000080c001a0"
            ),
        };
        payload.into_request(address!("0x1234567890123456789012345678901234567890"))
    }

    /// Vectors from eth-fabric's reference gateway (`crates/common/src/types/commitments.rs`
    /// tests): an independent implementation of the same `abi.encode`.
    #[test]
    fn reference_gateway_vectors() {
        let request =
            CommitmentRequest { commitment_type: 1, payload: Bytes::new(), slasher: Address::ZERO };
        assert_eq!(
            request.request_hash(),
            b256!("f61a6130b6ebfffcb3738e03fe820e4b883b623ec3ab7657ffbf385b2e94edba")
        );
        let commitment = Commitment {
            commitment_type: 1,
            payload: Bytes::new(),
            request_hash: B256::ZERO,
            slasher: Address::ZERO,
        };
        assert_eq!(
            commitment.digest(),
            b256!("53c39bc1f3870634c4f9a8b63b2e4e3a914acc9da71f4d0093df91eabd9247a9")
        );
    }

    /// The exact `abi.encode(commitment)` layout Solidity produces for a struct with a dynamic
    /// member: offset word, static head, payload offset, then the payload.
    #[test]
    fn commitment_abi_layout() {
        let commitment = Commitment {
            commitment_type: 1,
            payload: bytes!("aabb"),
            request_hash: B256::repeat_byte(0x11),
            slasher: address!("0x00000000000000000000000000000000000000ff"),
        };
        let expected = hex!(
            "0000000000000000000000000000000000000000000000000000000000000020"
            "0000000000000000000000000000000000000000000000000000000000000001"
            "0000000000000000000000000000000000000000000000000000000000000080"
            "1111111111111111111111111111111111111111111111111111111111111111"
            "00000000000000000000000000000000000000000000000000000000000000ff"
            "0000000000000000000000000000000000000000000000000000000000000002"
            "aabb000000000000000000000000000000000000000000000000000000000000"
        );
        assert_eq!(commitment.abi_encode(), expected);
        assert_eq!(Commitment::abi_decode(&expected).unwrap(), commitment);
    }

    #[test]
    fn golden_vector() {
        let signer = PrivateKeySigner::from_bytes(&KEY).unwrap();
        let request = golden_request();
        let commitment = Commitment::for_request(&request);
        let signed = commitment.clone().sign(&signer).unwrap();
        assert_eq!(
            request.request_hash(),
            b256!("99630cf3e06363048a26f1267fceec41a263ce20173e4cb42d948c60d7ad4015"),
            "request_hash"
        );
        assert_eq!(
            commitment.digest(),
            b256!("bee578d972a97e2ed33e9f72c2e7443652b30a9d2b9e4692afec46882339f343"),
            "digest"
        );
        assert_eq!(
            hex::encode_prefixed(signed.signature_bytes()),
            "0xedd136d2c65499ec5da9f6b794b588b36ff375f01082d7d900c8834586a849a92e9410de7e937a41293184168bd22e4bdcbb9722a56726e70ac301d43727fb241c",
            "signature"
        );
        signed.verify(signer.address()).unwrap();
    }

    #[test]
    fn json_matches_spec() {
        let signer = PrivateKeySigner::from_bytes(&KEY).unwrap();
        let request = CommitmentRequest {
            commitment_type: 1,
            payload: bytes!("0102"),
            slasher: address!("0x1234567890123456789012345678901234567890"),
        };
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "commitment_type": 1,
                "payload": "0x0102",
                "slasher": "0x1234567890123456789012345678901234567890",
            })
        );
        let signed = Commitment::for_request(&request).sign(&signer).unwrap();
        let json = serde_json::to_value(&signed).unwrap();
        let object = json.as_object().unwrap();
        assert_eq!(object.len(), 2);
        let commitment = object["commitment"].as_object().unwrap();
        let mut keys: Vec<_> = commitment.keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["commitment_type", "payload", "request_hash", "slasher"]);
        let sig = object["signature"].as_str().unwrap();
        assert_eq!(sig.len(), 2 + 130);
        assert!(sig.ends_with("1b") || sig.ends_with("1c"));
        let back: SignedCommitment = serde_json::from_value(json).unwrap();
        assert_eq!(back, signed);
    }

    #[test]
    fn signature_v_must_be_27_or_28() {
        let signer = PrivateKeySigner::from_bytes(&KEY).unwrap();
        let signed = Commitment::for_request(&golden_request()).sign(&signer).unwrap();
        let mut raw = signed.signature_bytes();
        raw[64] -= 27;
        assert!(SignedCommitment::from_parts(signed.commitment.clone(), &raw).is_err());
        assert!(SignedCommitment::from_parts(signed.commitment.clone(), &raw[..64]).is_err());
        let json = serde_json::json!({
            "commitment": signed.commitment,
            "signature": hex::encode_prefixed(raw),
        });
        assert!(serde_json::from_value::<SignedCommitment>(json).is_err());
    }

    #[test]
    fn verify_rejects_other_signer_tampering_and_high_s() {
        let signer = PrivateKeySigner::from_bytes(&KEY).unwrap();
        let other = PrivateKeySigner::random();
        let signed = Commitment::for_request(&golden_request()).sign(&signer).unwrap();
        assert!(matches!(signed.verify(other.address()), Err(CommitmentError::WrongSigner { .. })));
        let mut tampered = signed.clone();
        tampered.commitment.slasher = Address::ZERO;
        assert!(tampered.verify(signer.address()).is_err());
        // The same point with s' = n - s and the other parity recovers the same key, but is refused.
        let s = signed.signature.s();
        let n = alloy_primitives::U256::from_be_bytes(hex!(
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
        ));
        let high = SignedCommitment {
            commitment: signed.commitment.clone(),
            signature: Signature::new(signed.signature.r(), n - s, !signed.signature.v()),
        };
        assert!(matches!(high.recover_signer(), Err(CommitmentError::HighS)));
    }

    #[test]
    fn non_canonical_encoding_is_refused() {
        let request = golden_request();
        let mut encoded = request.abi_encode();
        // Trailing bytes decode (alloy ignores them) but are not the canonical encoding.
        encoded.extend_from_slice(&[0u8; 32]);
        assert!(matches!(
            CommitmentRequest::abi_decode(&encoded),
            Err(CommitmentError::NonCanonical | CommitmentError::Abi(_))
        ));
    }

    fn arb_request() -> impl Strategy<Value = CommitmentRequest> {
        (any::<u64>(), proptest::collection::vec(any::<u8>(), 0..300), any::<[u8; 20]>()).prop_map(
            |(commitment_type, payload, slasher)| CommitmentRequest {
                commitment_type,
                payload: payload.into(),
                slasher: Address::from(slasher),
            },
        )
    }

    proptest! {
        #[test]
        fn request_round_trip(request in arb_request()) {
            let encoded = request.abi_encode();
            prop_assert_eq!(&CommitmentRequest::abi_decode(&encoded).unwrap(), &request);
            let json = serde_json::to_string(&request).unwrap();
            prop_assert_eq!(serde_json::from_str::<CommitmentRequest>(&json).unwrap(), request);
        }

        #[test]
        fn commitment_round_trip(request in arb_request()) {
            let commitment = Commitment::for_request(&request);
            let encoded = commitment.abi_encode();
            prop_assert_eq!(Commitment::abi_decode(&encoded).unwrap(), commitment);
        }

        #[test]
        fn decoders_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = CommitmentRequest::abi_decode(&data);
            let _ = Commitment::abi_decode(&data);
            let _ = crate::InclusionPayload::abi_decode(&data);
            let _ = SignedCommitment::from_parts(
                Commitment::for_request(&golden_request()),
                &data[..data.len().min(65)],
            );
        }

        #[test]
        fn decoders_never_panic_on_mutated_encodings(
            request in arb_request(),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        ) {
            let mut data = Commitment::for_request(&request).abi_encode();
            for (index, byte) in flips {
                let i = index.index(data.len());
                data[i] ^= byte;
            }
            if let Ok(decoded) = Commitment::abi_decode(&data) {
                prop_assert_eq!(decoded.abi_encode(), data);
            }
        }
    }
}
