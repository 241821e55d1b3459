//! Field-element packing: the byte stream <-> EIP-4844 blobs (protocol §3.4).
//!
//! Each blob is 1024 groups of 4 field elements (128 bytes) carrying 127 stream bytes:
//! `d[0..124]` go to bytes 1..32 of the four field elements (31 bytes each, in order) and the
//! 24 bits of `d[124..127]` (big-endian) go to the low 6 bits of byte 0 of the four field
//! elements, most significant 6 bits first. The top two bits of every field element are zero, so
//! every field element is `< 2^254 < r` (canonical) and a blob carries exactly 254 bits per field
//! element: 130048 bytes.

use crate::{BYTES_PER_BLOB, DecodeError, MAX_BLOBS_PER_BATCH, USABLE_BYTES_PER_BLOB};
use alloy_eips::eip4844::Blob;

/// Stream bytes per 4-field-element group.
const GROUP_DATA: usize = 127;
/// Blob bytes per 4-field-element group.
const GROUP_BLOB: usize = 128;
/// Shift of the 6 bits stored in byte 0 of field element k of a group.
const SHIFTS: [u32; 4] = [18, 12, 6, 0];

/// Packs `data` (at most [`USABLE_BYTES_PER_BLOB`] bytes, zero-padded) into one blob.
/// Bytes beyond the capacity are ignored (callers split the stream first).
pub fn pack_blob(data: &[u8]) -> Blob {
    let mut full = [0u8; USABLE_BYTES_PER_BLOB];
    let n = data.len().min(USABLE_BYTES_PER_BLOB);
    if let (Some(dst), Some(src)) = (full.get_mut(..n), data.get(..n)) {
        dst.copy_from_slice(src);
    }
    let mut blob = Blob::ZERO;
    for (out, group) in blob.0.chunks_exact_mut(GROUP_BLOB).zip(full.chunks_exact(GROUP_DATA)) {
        let Some((body, tail)) = group.split_first_chunk::<124>() else { continue };
        let Some(tail) = tail.first_chunk::<3>() else { continue };
        let x = u32::from_be_bytes([0, tail[0], tail[1], tail[2]]);
        for ((fe, src), shift) in out.chunks_exact_mut(32).zip(body.chunks_exact(31)).zip(SHIFTS) {
            if let Some((first, rest)) = fe.split_first_mut() {
                // Truncation intended: only the low 6 bits are kept.
                *first = (x.wrapping_shr(shift) & 0x3f) as u8;
                rest.copy_from_slice(src);
            }
        }
    }
    blob
}

/// Unpacks one blob, appending its [`USABLE_BYTES_PER_BLOB`] stream bytes to `out`.
/// Fails on the first field element whose top two bits are not zero (`blob_index` is reported).
pub fn unpack_blob(blob: &Blob, blob_index: usize, out: &mut Vec<u8>) -> Result<(), DecodeError> {
    out.reserve(USABLE_BYTES_PER_BLOB);
    for (g, group) in blob.0.chunks_exact(GROUP_BLOB).enumerate() {
        let mut x = 0u32;
        for (k, (fe, shift)) in group.chunks_exact(32).zip(SHIFTS).enumerate() {
            let Some((&first, rest)) = fe.split_first() else { continue };
            if first & 0xc0 != 0 {
                return Err(DecodeError::NonCanonicalFieldElement {
                    blob: blob_index,
                    index: g.saturating_mul(4).saturating_add(k),
                });
            }
            x |= u32::from(first).wrapping_shl(shift);
            out.extend_from_slice(rest);
        }
        let [_, a, b, c] = x.to_be_bytes();
        out.extend_from_slice(&[a, b, c]);
    }
    Ok(())
}

/// Splits a stream into blobs: `ceil(len / USABLE_BYTES_PER_BLOB)` blobs (at least one).
pub fn stream_to_blobs(stream: &[u8]) -> Vec<Blob> {
    if stream.is_empty() {
        return vec![pack_blob(&[])];
    }
    stream.chunks(USABLE_BYTES_PER_BLOB).map(pack_blob).collect()
}

/// Unpacks 1..=[`MAX_BLOBS_PER_BATCH`] blobs into their concatenated stream
/// (`blobs.len() * USABLE_BYTES_PER_BLOB` bytes).
pub fn blobs_to_stream(blobs: &[Blob]) -> Result<Vec<u8>, DecodeError> {
    check_blob_count(blobs.len())?;
    let mut out = Vec::with_capacity(blobs.len().saturating_mul(USABLE_BYTES_PER_BLOB));
    for (i, blob) in blobs.iter().enumerate() {
        unpack_blob(blob, i, &mut out)?;
    }
    Ok(out)
}

/// Rejects 0 or more than [`MAX_BLOBS_PER_BATCH`] blobs (a data error).
pub const fn check_blob_count(count: usize) -> Result<(), DecodeError> {
    if count == 0 {
        return Err(DecodeError::NoBlobs);
    }
    if count > MAX_BLOBS_PER_BATCH {
        return Err(DecodeError::TooManyBlobs { count });
    }
    Ok(())
}

const _: () =
    assert!(BYTES_PER_BLOB == 1024 * GROUP_BLOB && USABLE_BYTES_PER_BLOB == 1024 * GROUP_DATA);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn blob_roundtrip(data in proptest::collection::vec(any::<u8>(), 0..USABLE_BYTES_PER_BLOB)) {
            let blob = pack_blob(&data);
            // Every field element is canonical: top two bits of byte 0 are zero.
            prop_assert!(blob.0.chunks_exact(32).all(|fe| fe[0] & 0xc0 == 0));
            let mut out = Vec::new();
            unpack_blob(&blob, 0, &mut out).unwrap();
            prop_assert_eq!(out.len(), USABLE_BYTES_PER_BLOB);
            prop_assert_eq!(&out[..data.len()], &data[..]);
            prop_assert!(out[data.len()..].iter().all(|&b| b == 0));
        }

        #[test]
        fn unpack_pack_is_identity(seed in any::<u64>()) {
            // A random canonical blob unpacks and re-packs to itself.
            let mut blob = Blob::ZERO;
            let mut s = seed;
            for b in blob.0.iter_mut() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                *b = (s >> 56) as u8;
            }
            for fe in blob.0.chunks_exact_mut(32) { fe[0] &= 0x3f; }
            let mut out = Vec::new();
            unpack_blob(&blob, 0, &mut out).unwrap();
            prop_assert_eq!(pack_blob(&out), blob);
        }

        #[test]
        fn non_canonical_detected(fe in 0usize..4096, bit in 6u8..8) {
            let mut blob = pack_blob(&[1, 2, 3]);
            blob.0[fe * 32] |= 1 << bit;
            let err = unpack_blob(&blob, 3, &mut Vec::new()).unwrap_err();
            prop_assert_eq!(err, DecodeError::NonCanonicalFieldElement { blob: 3, index: fe });
        }
    }

    #[test]
    fn layout_is_byte_exact() {
        // d[0..124] -> FE bytes 1..32; d[124..127] -> low 6 bits of FE byte 0.
        let data: Vec<u8> = (0..127u8).collect();
        let blob = pack_blob(&data);
        assert_eq!(&blob.0[1..32], &data[0..31]);
        assert_eq!(&blob.0[33..64], &data[31..62]);
        assert_eq!(&blob.0[97..128], &data[93..124]);
        let x = u32::from_be_bytes([0, 124, 125, 126]);
        assert_eq!(blob.0[0], ((x >> 18) & 0x3f) as u8);
        assert_eq!(blob.0[32], ((x >> 12) & 0x3f) as u8);
        assert_eq!(blob.0[64], ((x >> 6) & 0x3f) as u8);
        assert_eq!(blob.0[96], (x & 0x3f) as u8);
        assert!(blob.0[128..].iter().all(|&b| b == 0));
    }

    #[test]
    fn stream_split() {
        assert_eq!(stream_to_blobs(&[]).len(), 1);
        assert_eq!(stream_to_blobs(&vec![7; USABLE_BYTES_PER_BLOB]).len(), 1);
        let blobs = stream_to_blobs(&vec![7; USABLE_BYTES_PER_BLOB + 1]);
        assert_eq!(blobs.len(), 2);
        let stream = blobs_to_stream(&blobs).unwrap();
        assert_eq!(stream.len(), 2 * USABLE_BYTES_PER_BLOB);
        assert!(stream[..=USABLE_BYTES_PER_BLOB].iter().all(|&b| b == 7));
        assert!(stream[USABLE_BYTES_PER_BLOB + 1..].iter().all(|&b| b == 0));
        assert_eq!(blobs_to_stream(&[]), Err(DecodeError::NoBlobs));
        let seven = vec![Blob::ZERO; MAX_BLOBS_PER_BATCH + 1];
        assert_eq!(blobs_to_stream(&seven), Err(DecodeError::TooManyBlobs { count: 7 }));
    }
}
