//! The versioned payload and the blob byte stream (protocol §3.2, §3.3).
//!
//! `stream = version (1 byte) || u24be(len(body)) || body || zero padding`; the stream of `n` blobs
//! is exactly `n * USABLE_BYTES_PER_BLOB` bytes. `body` is the batch RLP, compressed as the version
//! byte says.

use crate::{
    DecodeError, DecompressError, EncodeError, MAX_BATCH_BYTES, MAX_BLOBS_PER_BATCH,
    USABLE_BYTES_PER_BLOB,
};
use based_primitives::Batch;
use zstd::zstd_safe::{DCtx, DParameter, InBuffer, OutBuffer};

/// Payload version 0x00: body is the uncompressed batch RLP.
pub const PAYLOAD_VERSION_RAW: u8 = 0x00;
/// Payload version 0x01: body is one zstd frame (RFC 8878) of the batch RLP.
pub const PAYLOAD_VERSION_ZSTD: u8 = 0x01;
/// Bytes of the stream header: version byte and 3-byte big-endian body length.
pub const STREAM_HEADER_BYTES: usize = 4;
/// Largest body that fits in [`MAX_BLOBS_PER_BATCH`] blobs.
pub const MAX_PAYLOAD_BODY_BYTES: usize =
    MAX_BLOBS_PER_BATCH * USABLE_BYTES_PER_BLOB - STREAM_HEADER_BYTES;
/// zstd window log limit for decoding: frames needing a window above `2^23` bytes are invalid.
pub const ZSTD_WINDOW_LOG_MAX: u32 = 23;
/// zstd frame magic number, little-endian on the wire.
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// Default zstd level used by [`encode_payload`] (see docs/benchmarks.md).
pub const DEFAULT_ZSTD_LEVEL: i32 = 19;

/// Number of blobs needed for a body of `body_len` bytes.
pub const fn blobs_for_body(body_len: usize) -> usize {
    (body_len.saturating_add(STREAM_HEADER_BYTES)).div_ceil(USABLE_BYTES_PER_BLOB)
}

/// Encodes `batch` into its payload (the stream without padding) using zstd at `level`
/// (falls back to the raw version when compression does not shrink the batch).
pub fn encode_payload(batch: &Batch, level: i32) -> Result<Vec<u8>, EncodeError> {
    batch.check_limits().map_err(EncodeError::Limits)?;
    let rlp = batch.encode_rlp();
    if rlp.len() > MAX_BATCH_BYTES {
        return Err(EncodeError::BatchTooLarge { len: rlp.len() });
    }
    let compressed = compress_zstd(&rlp, level)?;
    let (version, body) = if compressed.len() < rlp.len() {
        (PAYLOAD_VERSION_ZSTD, compressed)
    } else {
        (PAYLOAD_VERSION_RAW, rlp)
    };
    payload_from_body(version, &body)
}

/// Builds `version || u24be(len) || body`.
pub fn payload_from_body(version: u8, body: &[u8]) -> Result<Vec<u8>, EncodeError> {
    if body.len() > MAX_PAYLOAD_BODY_BYTES {
        return Err(EncodeError::PayloadTooLarge { len: body.len(), max: MAX_PAYLOAD_BODY_BYTES });
    }
    let len = u32::try_from(body.len()).map_err(|_| EncodeError::PayloadTooLarge {
        len: body.len(),
        max: MAX_PAYLOAD_BODY_BYTES,
    })?;
    let [_, a, b, c] = len.to_be_bytes();
    let mut out = Vec::with_capacity(body.len().saturating_add(STREAM_HEADER_BYTES));
    out.extend_from_slice(&[version, a, b, c]);
    out.extend_from_slice(body);
    Ok(out)
}

/// Compresses with zstd into a single frame (content size recorded, no checksum, no dictionary).
pub fn compress_zstd(data: &[u8], level: i32) -> Result<Vec<u8>, EncodeError> {
    let mut c =
        zstd::bulk::Compressor::new(level).map_err(|e| EncodeError::Compression(e.to_string()))?;
    c.set_parameter(zstd::zstd_safe::CParameter::WindowLog(ZSTD_WINDOW_LOG_MAX))
        .map_err(|e| EncodeError::Compression(e.to_string()))?;
    c.compress(data).map_err(|e| EncodeError::Compression(e.to_string()))
}

/// Decodes a blob stream of `stream.len() / USABLE_BYTES_PER_BLOB` blobs (protocol §3.6 steps 4-9).
pub fn decode_stream(stream: &[u8]) -> Result<Batch, DecodeError> {
    let Some((header, rest)) = stream.split_first_chunk::<STREAM_HEADER_BYTES>() else {
        return Err(DecodeError::NoBlobs);
    };
    let [version, a, b, c] = *header;
    let len = usize::try_from(u32::from_be_bytes([0, a, b, c])).unwrap_or(usize::MAX);
    if version != PAYLOAD_VERSION_RAW && version != PAYLOAD_VERSION_ZSTD {
        return Err(DecodeError::UnknownVersion(version));
    }
    if len == 0 {
        return Err(DecodeError::EmptyPayload);
    }
    let Some((body, padding)) = rest.split_at_checked(len) else {
        return Err(DecodeError::PayloadLengthOutOfRange { len, capacity: rest.len() });
    };
    let blobs = stream.len().div_ceil(USABLE_BYTES_PER_BLOB);
    crate::packing::check_blob_count(blobs)?;
    let needed = blobs_for_body(len);
    if blobs != needed {
        return Err(DecodeError::NonMinimalBlobCount { blobs, needed });
    }
    if let Some(pos) = padding.iter().position(|&b| b != 0) {
        return Err(DecodeError::NonZeroPadding {
            offset: pos.saturating_add(len).saturating_add(STREAM_HEADER_BYTES),
        });
    }
    decode_body(version, body)
}

/// Decodes an exact payload `version || u24be(len) || body` (no padding allowed).
pub fn decode_payload(payload: &[u8]) -> Result<Batch, DecodeError> {
    let Some((header, body)) = payload.split_first_chunk::<STREAM_HEADER_BYTES>() else {
        return Err(DecodeError::PayloadLengthOutOfRange { len: 0, capacity: 0 });
    };
    let [version, a, b, c] = *header;
    let len = usize::try_from(u32::from_be_bytes([0, a, b, c])).unwrap_or(usize::MAX);
    if version != PAYLOAD_VERSION_RAW && version != PAYLOAD_VERSION_ZSTD {
        return Err(DecodeError::UnknownVersion(version));
    }
    if len == 0 {
        return Err(DecodeError::EmptyPayload);
    }
    if len != body.len() || len > MAX_PAYLOAD_BODY_BYTES {
        return Err(DecodeError::PayloadLengthOutOfRange { len, capacity: body.len() });
    }
    decode_body(version, body)
}

fn decode_body(version: u8, body: &[u8]) -> Result<Batch, DecodeError> {
    let rlp;
    let bytes = match version {
        PAYLOAD_VERSION_RAW => body,
        _ => {
            rlp = decompress_zstd(body, MAX_BATCH_BYTES).map_err(DecodeError::Decompress)?;
            rlp.as_slice()
        }
    };
    if bytes.len() > MAX_BATCH_BYTES {
        return Err(DecodeError::Decompress(DecompressError::TooLarge { max: MAX_BATCH_BYTES }));
    }
    Batch::decode_strict(bytes).map_err(DecodeError::Batch)
}

/// Strict zstd decoding (protocol §3.3): `input` must be exactly one zstd frame (no skippable,
/// legacy or dictionary frames, no trailing bytes), needing a window of at most 2^23 bytes and
/// decompressing to at most `max` bytes. Memory use is bounded by `max` plus the zstd context,
/// whatever the frame header claims.
pub fn decompress_zstd(input: &[u8], max: usize) -> Result<Vec<u8>, DecompressError> {
    if input.get(..4) != Some(&ZSTD_MAGIC[..]) {
        return Err(DecompressError::NotAZstdFrame);
    }
    let mut dctx = DCtx::try_create().ok_or(DecompressError::Internal("zstd context"))?;
    dctx.set_parameter(DParameter::WindowLogMax(ZSTD_WINDOW_LOG_MAX))
        .map_err(|c| DecompressError::Internal(zstd::zstd_safe::get_error_name(c)))?;
    // Frames with a dictionary id are rejected by zstd itself: no dictionary is loaded.
    let mut src = InBuffer::around(input);
    let mut out: Vec<u8> = Vec::new();
    let limit = max.saturating_add(1);
    loop {
        if out.len() == out.capacity() {
            if out.len() >= limit {
                return Err(DecompressError::TooLarge { max });
            }
            // Grow geometrically from 64 KiB, never past `max + 1`.
            let want = out.capacity().max(64 * 1024).min(limit.saturating_sub(out.len()));
            out.reserve_exact(want);
        }
        let before = (src.pos(), out.len());
        let hint = {
            let pos = out.len();
            let mut dst = OutBuffer::around_pos(&mut out, pos);
            let r = dctx.decompress_stream(&mut dst, &mut src);
            r.map_err(|c| DecompressError::Corrupt(zstd::zstd_safe::get_error_name(c)))?
        };
        if out.len() > max {
            return Err(DecompressError::TooLarge { max });
        }
        if hint == 0 {
            break;
        }
        if (src.pos(), out.len()) == before && out.len() < out.capacity() {
            // No progress with room left in the output: the input ended mid-frame.
            return Err(DecompressError::Truncated);
        }
    }
    let consumed = src.pos();
    if consumed != input.len() {
        return Err(DecompressError::TrailingData { bytes: input.len().saturating_sub(consumed) });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use based_primitives::{BlockManifest, test_utils::realistic_batch};

    #[test]
    fn zstd_strictness() {
        let data = vec![42u8; 10_000];
        let c = compress_zstd(&data, 3).unwrap();
        assert_eq!(decompress_zstd(&c, 10_000).unwrap(), data);
        assert_eq!(decompress_zstd(&c, 9_999), Err(DecompressError::TooLarge { max: 9_999 }));
        let mut trailing = c.clone();
        trailing.push(0);
        assert_eq!(
            decompress_zstd(&trailing, 10_000),
            Err(DecompressError::TrailingData { bytes: 1 })
        );
        // Two concatenated frames: the second is trailing data.
        let mut two = c.clone();
        two.extend_from_slice(&c);
        assert!(matches!(decompress_zstd(&two, 20_000), Err(DecompressError::TrailingData { .. })));
        assert_eq!(decompress_zstd(&c[..c.len() - 1], 10_000), Err(DecompressError::Truncated));
        // Skippable frame magic 0x184D2A50 is not a zstd frame.
        let skippable = [0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0];
        assert_eq!(decompress_zstd(&skippable, 10), Err(DecompressError::NotAZstdFrame));
        assert_eq!(decompress_zstd(&[], 10), Err(DecompressError::NotAZstdFrame));
        // A frame that declares a huge content size but is garbage.
        let mut bogus = ZSTD_MAGIC.to_vec();
        bogus.extend_from_slice(&[0xe4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3]);
        assert!(decompress_zstd(&bogus, 1 << 20).is_err());
    }

    #[test]
    fn zstd_dictionary_frames_rejected() {
        let batch = realistic_batch(9, 10, 60);
        let samples: Vec<Vec<u8>> = batch
            .manifests
            .iter()
            .flat_map(|m| m.transactions.iter().map(|t| t.to_vec()))
            .collect();
        let dict = zstd::dict::from_samples(&samples, 8 * 1024).unwrap();
        let rlp = realistic_batch(10, 1, 20).encode_rlp();
        let frame =
            zstd::bulk::Compressor::with_dictionary(3, &dict).unwrap().compress(&rlp).unwrap();
        // The frame names a dictionary id: invalid without that dictionary.
        assert!(matches!(
            decompress_zstd(&frame, MAX_BATCH_BYTES),
            Err(DecompressError::Corrupt(_))
        ));
    }

    #[test]
    fn zstd_window_limit() {
        // A frame compressed with a 2^24 window over > 2^23 bytes of input is rejected.
        let data: Vec<u8> =
            (0..(9u32 << 20)).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        let mut c = zstd::bulk::Compressor::new(1).unwrap();
        c.set_parameter(zstd::zstd_safe::CParameter::WindowLog(24)).unwrap();
        let frame = c.compress(&data).unwrap();
        assert!(matches!(decompress_zstd(&frame, usize::MAX), Err(DecompressError::Corrupt(_))));
    }

    #[test]
    fn payload_roundtrip_and_header() {
        let batch = realistic_batch(1, 2, 10);
        let payload = encode_payload(&batch, 3).unwrap();
        assert_eq!(payload[0], PAYLOAD_VERSION_ZSTD);
        let len = u32::from_be_bytes([0, payload[1], payload[2], payload[3]]) as usize;
        assert_eq!(len, payload.len() - 4);
        assert_eq!(decode_payload(&payload).unwrap(), batch);

        let raw = payload_from_body(PAYLOAD_VERSION_RAW, &batch.encode_rlp()).unwrap();
        assert_eq!(decode_payload(&raw).unwrap(), batch);

        let mut bad_version = payload.clone();
        bad_version[0] = 2;
        assert_eq!(decode_payload(&bad_version), Err(DecodeError::UnknownVersion(2)));
        let mut extra = payload;
        extra.push(0);
        assert!(matches!(decode_payload(&extra), Err(DecodeError::PayloadLengthOutOfRange { .. })));
    }

    #[test]
    fn incompressible_falls_back_to_raw() {
        let mut rng = based_primitives::test_utils::SplitMix64::new(5);
        let batch = Batch {
            chain_id: rng.next_u64(),
            manifests: vec![BlockManifest {
                timestamp: rng.next_u64(),
                fee_recipient: rng.address(),
                gas_limit: rng.next_u64(),
                anchor: based_primitives::L1Anchor { number: rng.next_u64(), hash: rng.b256() },
                transactions: vec![rng.b256().to_vec().into(), rng.b256().to_vec().into()],
            }],
        };
        let payload = encode_payload(&batch, 19).unwrap();
        assert_eq!(payload[0], PAYLOAD_VERSION_RAW);
        assert_eq!(decode_payload(&payload).unwrap(), batch);
    }

    #[test]
    fn decompression_bomb_is_capped() {
        // 9 MiB of zeros compresses to a tiny frame; it must be rejected without decoding it all.
        let data = vec![0u8; 9 << 20];
        let frame = compress_zstd(&data, 3).unwrap();
        assert!(frame.len() < 2_000);
        let body = payload_from_body(PAYLOAD_VERSION_ZSTD, &frame).unwrap();
        assert_eq!(
            decode_payload(&body),
            Err(DecodeError::Decompress(DecompressError::TooLarge { max: MAX_BATCH_BYTES }))
        );
    }
}
