//! JSON form of the commitment signature: `0x`-prefixed hex of the 65 bytes `r || s || v`,
//! `v ∈ {27, 28}` (the form in the spec's examples and the one `ECDSA.recover` takes).

use alloy_primitives::{Bytes, Signature};
use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

/// Parses 65 bytes `r || s || v` with `v ∈ {27, 28}`.
pub(crate) fn from_rsv(bytes: &[u8]) -> Result<Signature, alloy_primitives::SignatureError> {
    let raw: &[u8; 65] = bytes
        .try_into()
        .map_err(|_| alloy_primitives::SignatureError::FromBytes("expected exactly 65 bytes"))?;
    let [.., v] = raw;
    if *v != 27 && *v != 28 {
        return Err(alloy_primitives::SignatureError::InvalidParity(u64::from(*v)));
    }
    Signature::from_raw_array(raw)
}

pub(crate) fn serialize<S: Serializer>(sig: &Signature, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&alloy_primitives::hex::encode_prefixed(sig.as_bytes()))
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Signature, D::Error> {
    let bytes = Bytes::deserialize(deserializer)?;
    from_rsv(&bytes).map_err(D::Error::custom)
}
