//! JSON shapes of the beacon API subset used here (ethereum/beacon-APIs). Integers are decimal
//! strings; roots, hashes, commitments and blobs are `0x` hex. Only the fields this crate reads are
//! modelled on the client side; unknown fields are ignored.

use alloy_primitives::{B256, Bytes};
use serde::{Deserialize, Deserializer, Serializer};

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

/// One validator record as the beacon API writes it (`.../validators` → `data[].validator`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct ValidatorJson {
    /// Compressed BLS key (48 bytes).
    pub pubkey: Bytes,
    /// Withdrawal credentials.
    pub withdrawal_credentials: B256,
    /// Effective balance (gwei).
    #[serde(with = "quoted_u64")]
    pub effective_balance: u64,
    /// Slashed.
    pub slashed: bool,
    /// Activation eligibility epoch.
    #[serde(with = "quoted_u64")]
    pub activation_eligibility_epoch: u64,
    /// Activation epoch.
    #[serde(with = "quoted_u64")]
    pub activation_epoch: u64,
    /// Exit epoch.
    #[serde(with = "quoted_u64")]
    pub exit_epoch: u64,
    /// Withdrawable epoch.
    #[serde(with = "quoted_u64")]
    pub withdrawable_epoch: u64,
}

/// **Devnet-only**: `GET /based/devnet/v1/states/{block_id}/proof_inputs` → `data`: the parts of a
/// block's post-state a lookahead contest proves (`validators`, `proposer_lookahead`) and the roots
/// of its other fields ([`crate::ssz::StateProver`] rebuilds the state root from them, so the answer
/// is checked against the header's `state_root`, never trusted). Real consensus clients serve the
/// whole state instead (`GET /eth/v2/debug/beacon/states/{state_id}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct StateProofInputs {
    /// The state's slot.
    #[serde(with = "quoted_u64")]
    pub slot: u64,
    /// Its root.
    pub state_root: B256,
    /// `SLOTS_PER_EPOCH`.
    #[serde(with = "quoted_u64")]
    pub slots_per_epoch: u64,
    /// The 38 field roots (those of `validators` and `proposer_lookahead` included).
    pub field_roots: Vec<B256>,
    /// `proposer_lookahead` (the state's epoch, then the next).
    #[serde(with = "quoted_u64_vec")]
    pub proposer_lookahead: Vec<u64>,
    /// `validators`.
    pub validators: Vec<ValidatorJson>,
}

/// Serde for `Vec<u64>` as decimal strings.
pub mod quoted_u64_vec {
    use super::*;

    /// Writes the values as decimal strings.
    pub fn serialize<S: Serializer>(values: &[u64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(values.iter().map(u64::to_string))
    }

    /// Reads decimal strings.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        let raw = Vec::<String>::deserialize(d)?;
        raw.iter().map(|s| s.parse().map_err(serde::de::Error::custom)).collect()
    }
}
