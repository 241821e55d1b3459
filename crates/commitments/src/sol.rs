//! Solidity ABI forms of the commitment types.
//!
//! Field order and types are what `abi.encode` sees on the Solidity side; names are only cosmetic.
//! `SolValue::abi_encode` of one of these structs equals Solidity's `abi.encode(value)` (for these
//! dynamic structs: a leading `0x20` offset word, then the tuple).
#![allow(missing_docs)]

alloy_sol_types::sol! {
    /// `CommitmentRequest { uint64 commitmentType; bytes payload; address slasher; }`.
    #[derive(Debug, PartialEq, Eq)]
    struct CommitmentRequest {
        uint64 commitmentType;
        bytes payload;
        address slasher;
    }

    /// `Commitment { uint64 commitmentType; bytes payload; bytes32 requestHash; address slasher; }`.
    #[derive(Debug, PartialEq, Eq)]
    struct Commitment {
        uint64 commitmentType;
        bytes payload;
        bytes32 requestHash;
        address slasher;
    }

    /// Inclusion payload `(uint64 slot, bytes signedTx)`.
    #[derive(Debug, PartialEq, Eq)]
    struct InclusionPayload {
        uint64 slot;
        bytes signedTx;
    }
}

/// Decodes `data` as `T` and refuses encodings that do not round-trip byte for byte.
pub(crate) fn decode_canonical<T>(data: &[u8]) -> Result<T, crate::CommitmentError>
where
    T: alloy_sol_types::SolValue
        + From<<<T as alloy_sol_types::SolValue>::SolType as alloy_sol_types::SolType>::RustType>,
{
    let value = T::abi_decode(data)?;
    if value.abi_encode() != data {
        return Err(crate::CommitmentError::NonCanonical);
    }
    Ok(value)
}
