//! JSON shapes of the beacon API subset used here (ethereum/beacon-APIs). Integers are decimal
//! strings; roots, hashes, commitments and blobs are `0x` hex. Only the fields this crate reads are
//! modelled on the client side; unknown fields are ignored.

use alloy_primitives::{B256, Bytes};
use serde::{Deserialize, Deserializer, Serializer};
use std::collections::HashMap;

/// The number `key` of a `/eth/v1/config/spec` answer (clients write decimal strings; a JSON
/// number is taken too), or why it is not one.
pub fn spec_number(spec: &HashMap<String, serde_json::Value>, key: &str) -> Result<u64, String> {
    let value = spec.get(key).ok_or_else(|| format!("spec has no {key}"))?;
    match value {
        serde_json::Value::String(s) => s.parse().ok(),
        other => other.as_u64(),
    }
    .ok_or_else(|| format!("bad {key}: {value}"))
}

/// Serde for `u64` as a decimal string (`"12"`); plain JSON numbers are accepted when reading.
pub mod quoted_u64 {
    use super::*;

    /// Writes `value` as a decimal string.
    pub fn serialize<S: Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&value.to_string())
    }

    /// Reads a decimal string or a JSON number.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Quoted {
            Str(String),
            Num(u64),
        }
        match Quoted::deserialize(d)? {
            Quoted::Str(s) => s.parse().map_err(serde::de::Error::custom),
            Quoted::Num(n) => Ok(n),
        }
    }
}

/// `{"data": T, ...}`: the envelope of every beacon API answer.
#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    /// The payload.
    pub data: T,
}

/// The error body of a beacon API answer: `{"code": 404, "message": "NOT_FOUND: ..."}`.
#[derive(Debug, Deserialize)]
pub struct ApiError {
    /// HTTP status code repeated in the body.
    pub code: u16,
    /// Human-readable reason.
    pub message: String,
}

/// `GET /eth/v1/beacon/genesis` → `data`.
#[derive(Debug, Deserialize)]
pub struct GenesisData {
    /// Unix time of slot 0.
    #[serde(with = "quoted_u64")]
    pub genesis_time: u64,
}

/// `GET /eth/v1/beacon/headers/{block_id}` → `data`.
#[derive(Debug, Deserialize)]
pub struct HeaderData {
    /// The beacon block root.
    pub root: B256,
    /// The signed header.
    pub header: SignedHeader,
}

/// A signed beacon block header (only the message is read).
#[derive(Debug, Deserialize)]
pub struct SignedHeader {
    /// The header.
    pub message: HeaderMessage,
}

/// The fields of a beacon block header this crate reads.
#[derive(Debug, Deserialize)]
pub struct HeaderMessage {
    /// The slot.
    #[serde(with = "quoted_u64")]
    pub slot: u64,
}

/// `GET /eth/v2/beacon/blocks/{block_id}` → `data`.
#[derive(Debug, Deserialize)]
pub struct SignedBlock {
    /// The block.
    pub message: BlockMessage,
}

/// The fields of a beacon block this crate reads.
#[derive(Debug, Deserialize)]
pub struct BlockMessage {
    /// The slot.
    #[serde(with = "quoted_u64")]
    pub slot: u64,
    /// The body.
    pub body: BlockBody,
}

/// The fields of a beacon block body this crate reads.
#[derive(Debug, Deserialize)]
pub struct BlockBody {
    /// The execution payload (absent before the merge).
    #[serde(default)]
    pub execution_payload: Option<PayloadRef>,
}

/// The fields of an execution payload this crate reads.
#[derive(Debug, Deserialize)]
pub struct PayloadRef {
    /// The execution block hash.
    pub block_hash: B256,
    /// The execution block number.
    #[serde(with = "quoted_u64")]
    pub block_number: u64,
}

/// One element of `GET /eth/v1/beacon/blob_sidecars/{block_id}` → `data`.
#[derive(Debug, Deserialize)]
pub struct SidecarData {
    /// Blob index in the block.
    #[serde(with = "quoted_u64")]
    pub index: u64,
    /// The blob (131072 bytes).
    pub blob: Bytes,
    /// KZG commitment (48 bytes).
    pub kzg_commitment: Bytes,
    /// KZG proof (48 bytes).
    pub kzg_proof: Bytes,
}

/// One entry of `GET /eth/v1/validator/duties/proposer/{epoch}` → `data[]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProposerDuty {
    /// The proposer's BLS public key (48-byte compressed).
    pub pubkey: Bytes,
    /// The proposer's validator index.
    #[serde(with = "quoted_u64")]
    pub validator_index: u64,
    /// The slot.
    #[serde(with = "quoted_u64")]
    pub slot: u64,
}

/// A full beacon block header message (`GET /eth/v1/beacon/headers/{block_id}` →
/// `data.header.message`).
#[derive(Debug, Clone, Deserialize)]
pub struct FullHeaderMessage {
    /// The slot.
    #[serde(with = "quoted_u64")]
    pub slot: u64,
    /// The proposer's validator index.
    #[serde(with = "quoted_u64")]
    pub proposer_index: u64,
    /// The parent block root.
    pub parent_root: B256,
    /// The post-state root.
    pub state_root: B256,
    /// The body root.
    pub body_root: B256,
}

/// `GET /eth/v1/beacon/headers/{block_id}` → `data`, every header field read.
#[derive(Debug, Clone, Deserialize)]
pub struct FullHeaderData {
    /// The beacon block root.
    pub root: B256,
    /// The signed header.
    pub header: FullSignedHeader,
}

/// A signed header with its full message.
#[derive(Debug, Clone, Deserialize)]
pub struct FullSignedHeader {
    /// The header.
    pub message: FullHeaderMessage,
}

/// `GET /eth/v2/beacon/blocks/{block_id}` → `data.message`, read for a block's parent root and its
/// execution payload's timestamp (the EIP-4788 key of its parent's root).
#[derive(Debug, Clone, Deserialize)]
pub struct ChildBlock {
    /// The block.
    pub message: ChildBlockMessage,
}

/// See [`ChildBlock`].
#[derive(Debug, Clone, Deserialize)]
pub struct ChildBlockMessage {
    /// The slot.
    #[serde(with = "quoted_u64")]
    pub slot: u64,
    /// The parent block root.
    pub parent_root: B256,
    /// The body.
    pub body: ChildBlockBody,
}

/// See [`ChildBlock`].
#[derive(Debug, Clone, Deserialize)]
pub struct ChildBlockBody {
    /// The execution payload.
    pub execution_payload: ChildPayload,
}

/// See [`ChildBlock`].
#[derive(Debug, Clone, Deserialize)]
pub struct ChildPayload {
    /// The execution block's timestamp.
    #[serde(with = "quoted_u64")]
    pub timestamp: u64,
}
