//! The committer's signer: what signs `keccak256(abi.encode(commitment))`.
//!
//! - [`CommitSigner`]: the gateway's signing abstraction, async so a remote signer fits. Every
//!   in-process [`SignerSync`] key is one (a blanket impl); [`crate::RemoteSigner`] is the other.
//! - [`CommitterKey`]: a fast in-process key (libsecp256k1). Produces the same deterministic
//!   (RFC 6979), low-`s` signatures as alloy's `PrivateKeySigner` (k256), at about a third of the
//!   cost, which matters at thousands of commitments per second.

use alloy_primitives::{Address, B256, ChainId, Signature, U256};
use alloy_signer::SignerSync;
use secp256k1::{Message, SECP256K1, SecretKey};
use std::future::Future;

/// Why a digest got no signature. Any of these means **no** commitment: the gateway rolls the
/// admission back (docs/protocol.md §10.2 rule 7) and answers an internal error.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    /// The in-process key failed.
    #[error("local key: {0}")]
    Local(String),
    /// The remote signer could not be reached, or did not answer within the timeout.
    #[error("remote signer unreachable: {0}")]
    Unreachable(String),
    /// The remote signer answered with an error status (401: JWT refused; 404: unknown proxy
    /// key; 429: rate-limited after JWT failures; ...).
    #[error("remote signer refused (HTTP {status}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The signer's error body.
        message: String,
    },
    /// The remote signer's answer is not a well-formed signature response for this request.
    #[error("remote signer answered garbage: {0}")]
    BadResponse(String),
    /// The signature does not recover to the committer (the proxy key) over the commitment digest.
    #[error("remote signature recovers to {recovered}, not the committer {expected}{hint}")]
    WrongSigner {
        /// Address recovered over the digest.
        recovered: Address,
        /// The committer (proxy) address.
        expected: Address,
        /// What the signer signed instead, when it can be told (e.g. Commit-Boost's signing root).
        hint: String,
    },
    /// A configuration error (bad URL, JWT secret, ...).
    #[error("remote signer configuration: {0}")]
    Config(String),
}

/// Signs commitment digests for the gateway: a 32-byte prehash in, a 65-byte recoverable ECDSA
/// signature out, recovering to the committer address over exactly that digest (so
/// `SignedCommitment::verify(committer)` and Solidity's `ecrecover` both hold).
///
/// In-process keys ([`SignerSync`], e.g. [`CommitterKey`] or alloy's `PrivateKeySigner`) sign
/// at once; [`crate::RemoteSigner`] asks a signer service over HTTP.
pub trait CommitSigner: Send + Sync + 'static {
    /// Signs `digest` (already hashed: no EIP-191 prefix, no further hashing).
    fn sign_digest(
        &self,
        digest: B256,
    ) -> impl Future<Output = Result<Signature, SignerError>> + Send;
}

impl<T: SignerSync<Signature> + Send + Sync + 'static> CommitSigner for T {
    fn sign_digest(
        &self,
        digest: B256,
    ) -> impl Future<Output = Result<Signature, SignerError>> + Send {
        std::future::ready(
            self.sign_hash_sync(&digest).map_err(|e| SignerError::Local(e.to_string())),
        )
    }
}

/// Errors creating a [`CommitterKey`].
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The bytes are not a valid secp256k1 secret key (zero or not below the curve order).
    #[error("invalid secp256k1 secret key")]
    InvalidKey,
}

/// The gateway's committer key (the `committer` address the slasher and URC check).
pub struct CommitterKey {
    secret: SecretKey,
    address: Address,
}

impl std::fmt::Debug for CommitterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitterKey").field("address", &self.address).finish_non_exhaustive()
    }
}

impl CommitterKey {
    /// A key from its 32 secret bytes.
    pub fn from_bytes(bytes: &B256) -> Result<Self, KeyError> {
        let secret = SecretKey::from_byte_array(bytes.0).map_err(|_| KeyError::InvalidKey)?;
        let public = secret.public_key(SECP256K1).serialize_uncompressed();
        let address = Address::from_raw_public_key(public.get(1..).ok_or(KeyError::InvalidKey)?);
        Ok(Self { secret, address })
    }

    /// The committer address.
    pub fn address(&self) -> Address {
        self.address
    }
}

impl SignerSync<Signature> for CommitterKey {
    fn sign_hash_sync(&self, hash: &B256) -> alloy_signer::Result<Signature> {
        let signature =
            SECP256K1.sign_ecdsa_recoverable(Message::from_digest(hash.0), &self.secret);
        let (recovery_id, compact) = signature.serialize_compact();
        let (r, s) = compact.split_at(32);
        let y_parity = i32::from(recovery_id) & 1 == 1;
        Ok(Signature::new(U256::from_be_slice(r), U256::from_be_slice(s), y_parity))
    }

    fn chain_id_sync(&self) -> Option<ChainId> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::keccak256;
    use alloy_signer_local::PrivateKeySigner;

    #[test]
    fn same_signatures_as_private_key_signer() {
        for seed in 1u64..50 {
            let secret = keccak256(seed.to_be_bytes());
            let ours = CommitterKey::from_bytes(&secret).unwrap();
            let reference = PrivateKeySigner::from_bytes(&secret).unwrap();
            assert_eq!(ours.address(), reference.address());
            for i in 0..20u64 {
                let digest = keccak256((seed * 1000 + i).to_be_bytes());
                let sig = ours.sign_hash_sync(&digest).unwrap();
                assert_eq!(sig, reference.sign_hash_sync(&digest).unwrap());
                assert_eq!(sig.recover_address_from_prehash(&digest).unwrap(), ours.address());
            }
        }
    }

    #[test]
    fn invalid_keys_are_refused() {
        assert!(CommitterKey::from_bytes(&B256::ZERO).is_err());
        assert!(CommitterKey::from_bytes(&B256::repeat_byte(0xff)).is_err());
    }
}
