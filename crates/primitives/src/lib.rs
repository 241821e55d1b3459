//! Consensus types of the `based` rollup: L2 block manifests and batches.
//!
//! A **batch** is what one L1 proposal carries in its blobs (see `docs/protocol.md` §3): the L2 chain
//! id and an ordered list of **block manifests**. A manifest holds everything the proposer chooses for
//! one L2 block (timestamp, fee recipient, gas limit, L1 anchor, ordered EIP-2718 transactions);
//! everything else in the L2 header follows from execution.
//!
//! Encoding is RLP (alloy-rlp). Invariants:
//! - [`Batch::decode_strict`] is the consensus decoder: canonical RLP only, no trailing bytes, the
//!   structural limits [`MAX_MANIFESTS_PER_BATCH`] and [`MAX_TXS_PER_BATCH`] are enforced *while*
//!   decoding (no allocation beyond the input and the limits), and it never panics.
//! - `decode_strict(encode(b)) == b` for every batch within the limits, and
//!   `encode(decode_strict(x)) == x` for every accepted `x` (the encoding is canonical).
//! - Transactions are opaque byte strings here; their validity is contextual (protocol §4.4).
#![cfg_attr(
    not(test),
    deny(
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

use alloy_primitives::{Address, B256, Bytes};
use alloy_rlp::{Decodable, Encodable, Header, RlpDecodable, RlpEncodable};
use serde::{Deserialize, Serialize};

#[cfg(any(test, feature = "test-utils"))]
pub mod test_utils;

/// Maximum number of block manifests in one batch (protocol §2).
pub const MAX_MANIFESTS_PER_BATCH: usize = 1024;
/// Maximum number of transactions summed over all manifests of one batch (protocol §2).
pub const MAX_TXS_PER_BATCH: usize = 32_768;
/// Minimum gas limit of a kept manifest (protocol §4.3).
pub const MIN_L2_GAS_LIMIT: u64 = 5_000;
/// Maximum gas limit of a kept manifest (protocol §4.3).
pub const MAX_L2_GAS_LIMIT: u64 = 60_000_000;

/// The L1 block an L2 block anchors to (protocol §4.3).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    Serialize,
    Deserialize,
    RlpEncodable,
    RlpDecodable,
)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct L1Anchor {
    /// L1 block number.
    pub number: u64,
    /// L1 block hash; must be the canonical L1 block at `number`.
    pub hash: B256,
}

/// The proposer-chosen content of one L2 block.
///
/// RLP: `[timestamp, fee_recipient, gas_limit, [anchor.number, anchor.hash], [tx0, tx1, ...]]`
/// where each `txN` is an RLP byte string holding the EIP-2718 encoding of the transaction.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize, RlpEncodable, RlpDecodable,
)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[serde(rename_all = "camelCase")]
pub struct BlockManifest {
    /// L2 block timestamp (seconds).
    pub timestamp: u64,
    /// Fee recipient (coinbase) of the L2 block.
    pub fee_recipient: Address,
    /// Gas limit of the L2 block.
    pub gas_limit: u64,
    /// L1 anchor block.
    pub anchor: L1Anchor,
    /// Ordered transactions, each its raw EIP-2718 encoding (legacy: the RLP list).
    pub transactions: Vec<Bytes>,
}

/// An ordered list of L2 block manifests proposed in one L1 transaction.
///
/// RLP: `[chain_id, [manifest0, manifest1, ...]]`. The payload version (format and compression)
/// is not part of the batch: it is the first byte of the blob payload (protocol §3.2).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize, RlpEncodable, RlpDecodable,
)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[serde(rename_all = "camelCase")]
pub struct Batch {
    /// L2 chain id the batch is meant for; a batch for another chain is skipped (protocol §4.2).
    pub chain_id: u64,
    /// Ordered block manifests.
    pub manifests: Vec<BlockManifest>,
}

/// Why bytes are not a valid batch encoding. Always a data error: the batch is skipped (§4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BatchDecodeError {
    /// Malformed or non-canonical RLP, or a field of the wrong size.
    #[error("invalid batch RLP: {0}")]
    Rlp(alloy_rlp::Error),
    /// A list contains more items than its type defines.
    #[error("unexpected extra items in an RLP list")]
    ExtraListItems,
    /// Bytes follow the top-level batch list.
    #[error("{0} trailing bytes after the batch")]
    TrailingBytes(usize),
    /// The batch has no manifests.
    #[error("batch has no manifests")]
    Empty,
    /// More than [`MAX_MANIFESTS_PER_BATCH`] manifests.
    #[error("more than {MAX_MANIFESTS_PER_BATCH} manifests")]
    TooManyManifests,
    /// More than [`MAX_TXS_PER_BATCH`] transactions.
    #[error("more than {MAX_TXS_PER_BATCH} transactions")]
    TooManyTransactions,
}

impl From<alloy_rlp::Error> for BatchDecodeError {
    fn from(e: alloy_rlp::Error) -> Self {
        Self::Rlp(e)
    }
}

impl Batch {
    /// Canonical RLP encoding of the batch.
    pub fn encode_rlp(&self) -> Vec<u8> {
        alloy_rlp::encode(self)
    }

    /// Total number of transactions over all manifests (saturating).
    pub fn transaction_count(&self) -> usize {
        self.manifests.iter().fold(0usize, |n, m| n.saturating_add(m.transactions.len()))
    }

    /// Checks the structural limits that [`Batch::decode_strict`] enforces (for encoders).
    pub fn check_limits(&self) -> Result<(), BatchDecodeError> {
        if self.manifests.is_empty() {
            return Err(BatchDecodeError::Empty);
        }
        if self.manifests.len() > MAX_MANIFESTS_PER_BATCH {
            return Err(BatchDecodeError::TooManyManifests);
        }
        if self.transaction_count() > MAX_TXS_PER_BATCH {
            return Err(BatchDecodeError::TooManyTransactions);
        }
        Ok(())
    }

    /// Consensus decoder (protocol §3.1): exactly one canonical RLP batch, nothing after it,
    /// at least one manifest, limits enforced while decoding. Never panics.
    pub fn decode_strict(bytes: &[u8]) -> Result<Self, BatchDecodeError> {
        let mut buf = bytes;
        let mut payload = Header::decode_bytes(&mut buf, true)?;
        if !buf.is_empty() {
            return Err(BatchDecodeError::TrailingBytes(buf.len()));
        }
        let chain_id = u64::decode(&mut payload)?;
        let mut list = Header::decode_bytes(&mut payload, true)?;
        if !payload.is_empty() {
            return Err(BatchDecodeError::ExtraListItems);
        }
        let mut manifests = Vec::new();
        let mut tx_count = 0usize;
        while !list.is_empty() {
            if manifests.len() >= MAX_MANIFESTS_PER_BATCH {
                return Err(BatchDecodeError::TooManyManifests);
            }
            manifests.push(decode_manifest(&mut list, &mut tx_count)?);
        }
        if manifests.is_empty() {
            return Err(BatchDecodeError::Empty);
        }
        Ok(Self { chain_id, manifests })
    }
}

/// Decodes one manifest, counting its transactions into `tx_count` and failing as soon as the
/// batch-wide limit is exceeded.
fn decode_manifest(
    buf: &mut &[u8],
    tx_count: &mut usize,
) -> Result<BlockManifest, BatchDecodeError> {
    let mut p = Header::decode_bytes(buf, true)?;
    let timestamp = u64::decode(&mut p)?;
    let fee_recipient = Address::decode(&mut p)?;
    let gas_limit = u64::decode(&mut p)?;
    let anchor = {
        let mut a = Header::decode_bytes(&mut p, true)?;
        let number = u64::decode(&mut a)?;
        let hash = B256::decode(&mut a)?;
        if !a.is_empty() {
            return Err(BatchDecodeError::ExtraListItems);
        }
        L1Anchor { number, hash }
    };
    let mut txs_rlp = Header::decode_bytes(&mut p, true)?;
    if !p.is_empty() {
        return Err(BatchDecodeError::ExtraListItems);
    }
    let mut transactions = Vec::new();
    while !txs_rlp.is_empty() {
        *tx_count = tx_count.saturating_add(1);
        if *tx_count > MAX_TXS_PER_BATCH {
            return Err(BatchDecodeError::TooManyTransactions);
        }
        transactions.push(Bytes::decode(&mut txs_rlp)?);
    }
    Ok(BlockManifest { timestamp, fee_recipient, gas_limit, anchor, transactions })
}

impl BlockManifest {
    /// Length of the manifest's RLP encoding.
    pub fn rlp_length(&self) -> usize {
        self.length()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, b256, hex};
    use proptest::prelude::*;

    fn arb_manifest() -> impl Strategy<Value = BlockManifest> {
        (
            any::<u64>(),
            any::<[u8; 20]>(),
            any::<u64>(),
            any::<u64>(),
            any::<[u8; 32]>(),
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..8),
        )
            .prop_map(|(timestamp, fr, gas_limit, n, h, txs)| BlockManifest {
                timestamp,
                fee_recipient: Address::from(fr),
                gas_limit,
                anchor: L1Anchor { number: n, hash: B256::from(h) },
                transactions: txs.into_iter().map(Bytes::from).collect(),
            })
    }

    fn arb_batch() -> impl Strategy<Value = Batch> {
        (any::<u64>(), proptest::collection::vec(arb_manifest(), 1..6))
            .prop_map(|(chain_id, manifests)| Batch { chain_id, manifests })
    }

    proptest! {
        #[test]
        fn manifest_roundtrip(m in arb_manifest()) {
            let enc = alloy_rlp::encode(&m);
            prop_assert_eq!(enc.len(), m.rlp_length());
            let dec = BlockManifest::decode(&mut enc.as_slice()).unwrap();
            prop_assert_eq!(&dec, &m);
            let mut count = 0;
            let strict = decode_manifest(&mut enc.as_slice(), &mut count).unwrap();
            prop_assert_eq!(&strict, &m);
            prop_assert_eq!(count, m.transactions.len());
        }

        #[test]
        fn batch_roundtrip(b in arb_batch()) {
            let enc = b.encode_rlp();
            prop_assert_eq!(&Batch::decode_strict(&enc).unwrap(), &b);
            prop_assert_eq!(Batch::decode(&mut enc.as_slice()).unwrap(), b);
        }

        #[test]
        fn strict_accepts_only_canonical(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            // Never panics; whatever it accepts re-encodes to exactly the input.
            if let Ok(b) = Batch::decode_strict(&bytes) {
                prop_assert_eq!(b.encode_rlp(), bytes);
            }
        }

        #[test]
        fn trailing_bytes_rejected(b in arb_batch(), extra in proptest::collection::vec(any::<u8>(), 1..8)) {
            let mut enc = b.encode_rlp();
            enc.extend_from_slice(&extra);
            prop_assert_eq!(Batch::decode_strict(&enc), Err(BatchDecodeError::TrailingBytes(extra.len())));
        }

        #[test]
        fn truncation_rejected(b in arb_batch(), cut in 1usize..64) {
            let enc = b.encode_rlp();
            let cut = cut.min(enc.len());
            prop_assert!(Batch::decode_strict(&enc[..enc.len() - cut]).is_err());
        }
    }

    fn sample_batch() -> Batch {
        Batch {
            chain_id: 4242,
            manifests: vec![
                BlockManifest {
                    timestamp: 1_700_000_000,
                    fee_recipient: address!("0x00000000000000000000000000000000000000fe"),
                    gas_limit: 30_000_000,
                    anchor: L1Anchor {
                        number: 100,
                        hash: b256!(
                            "0x1111111111111111111111111111111111111111111111111111111111111111"
                        ),
                    },
                    transactions: vec![Bytes::from_static(&[0x02, 0xc0]), Bytes::new()],
                },
                BlockManifest {
                    timestamp: 1_700_000_002,
                    fee_recipient: Address::ZERO,
                    gas_limit: 0,
                    anchor: L1Anchor { number: 0, hash: B256::ZERO },
                    transactions: vec![],
                },
            ],
        }
    }

    /// Golden vector: pins the batch RLP layout (protocol §3.1).
    #[test]
    fn golden_batch_rlp() {
        let golden = include_str!("../testdata/batch_rlp_golden.hex").trim();
        let b = sample_batch();
        assert_eq!(hex::encode(b.encode_rlp()), golden);
        assert_eq!(Batch::decode_strict(&hex::decode(golden).unwrap()).unwrap(), b);
        let json = serde_json::to_value(&b).unwrap();
        assert_eq!(json["chainId"], 4242);
        assert_eq!(
            json["manifests"][0]["feeRecipient"],
            "0x00000000000000000000000000000000000000fe"
        );
        let back: Batch = serde_json::from_value(json).unwrap();
        assert_eq!(back, b);
    }

    #[test]
    fn limits_enforced() {
        let empty = Batch { chain_id: 1, manifests: vec![] };
        assert_eq!(Batch::decode_strict(&empty.encode_rlp()), Err(BatchDecodeError::Empty));
        assert_eq!(empty.check_limits(), Err(BatchDecodeError::Empty));

        let m = BlockManifest::default();
        let many = Batch { chain_id: 1, manifests: vec![m; MAX_MANIFESTS_PER_BATCH + 1] };
        assert_eq!(many.check_limits(), Err(BatchDecodeError::TooManyManifests));
        assert_eq!(
            Batch::decode_strict(&many.encode_rlp()),
            Err(BatchDecodeError::TooManyManifests)
        );
        let ok = Batch {
            chain_id: 1,
            manifests: vec![BlockManifest::default(); MAX_MANIFESTS_PER_BATCH],
        };
        assert!(Batch::decode_strict(&ok.encode_rlp()).is_ok());

        let txs = BlockManifest {
            transactions: vec![Bytes::new(); MAX_TXS_PER_BATCH / 2 + 1],
            ..Default::default()
        };
        let too_many_txs = Batch { chain_id: 1, manifests: vec![txs.clone(), txs] };
        assert_eq!(too_many_txs.check_limits(), Err(BatchDecodeError::TooManyTransactions));
        assert_eq!(
            Batch::decode_strict(&too_many_txs.encode_rlp()),
            Err(BatchDecodeError::TooManyTransactions)
        );
    }

    #[test]
    fn non_canonical_rejected() {
        // chain id 1 encoded with a leading zero byte: 0x82 0x00 0x01.
        let bad = hex!("c5820001c1c0");
        assert!(Batch::decode_strict(&bad).is_err());
        // extra item in the batch list.
        let mut payload = alloy_rlp::encode(1u64);
        payload.extend(alloy_rlp::encode(vec![BlockManifest::default()]));
        payload.push(0x80);
        let mut extra = Vec::new();
        Header { list: true, payload_length: payload.len() }.encode(&mut extra);
        extra.extend(payload);
        assert_eq!(Batch::decode_strict(&extra), Err(BatchDecodeError::ExtraListItems));
    }
}
