use alloy_primitives::{Address, SignatureError};

/// Errors of the commitment types: decoding, signing and verification.
#[derive(Debug, thiserror::Error)]
pub enum CommitmentError {
    /// The bytes are not a valid ABI encoding of the expected type.
    #[error("ABI decoding failed: {0}")]
    Abi(#[from] alloy_sol_types::Error),
    /// The bytes decode, but are not the canonical encoding of the decoded value.
    #[error("non-canonical ABI encoding")]
    NonCanonical,
    /// The request is of another commitment type than the operation expects.
    #[error("unexpected commitment type {found}, expected {expected}")]
    UnexpectedType {
        /// Type found in the request.
        found: u64,
        /// Type the operation expects.
        expected: u64,
    },
    /// `signed_tx` is not a valid EIP-2718 transaction.
    #[error("invalid signed transaction: {0}")]
    Transaction(alloy_eips::eip2718::Eip2718Error),
    /// The transaction's sender cannot be recovered from its signature.
    #[error("cannot recover the transaction sender: {0}")]
    TransactionSigner(alloy_consensus::crypto::RecoveryError),
    /// The signer failed to sign the commitment digest.
    #[error("signing failed: {0}")]
    Sign(Box<alloy_signer::Error>),
    /// The commitment signature is malformed or does not recover to a key.
    #[error("invalid commitment signature: {0}")]
    Signature(#[from] SignatureError),
    /// The signature's `s` is in the upper half of the curve order (refused by OpenZeppelin's
    /// `ECDSA.recover`, so a slasher could not use it).
    #[error("commitment signature has a high s value")]
    HighS,
    /// The signature recovers to another address than the expected committer.
    #[error("commitment signed by {recovered}, expected {expected}")]
    WrongSigner {
        /// Address recovered from the signature.
        recovered: Address,
        /// Expected committer.
        expected: Address,
    },
}

impl From<alloy_signer::Error> for CommitmentError {
    fn from(err: alloy_signer::Error) -> Self {
        Self::Sign(Box::new(err))
    }
}
