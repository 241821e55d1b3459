//! Stable-toolchain fuzz harness for every codec decoder (`make fuzz`).
//!
//! cargo-fuzz needs nightly and libFuzzer; this is a bounded mutation loop instead: a corpus of
//! valid encodings (realistic generated batches, `arbitrary`-built batches) is mutated (bit flips,
//! byte overwrites, inserts, deletes, truncation, splicing, length-field tweaks) and fed to each
//! decoder. Properties checked besides "never panics":
//! - `Batch::decode_strict`: anything accepted re-encodes to exactly the input (canonical).
//! - `decode_payload`: anything accepted has a canonical batch within the limits.
//! - `decompress_zstd`: output never exceeds the cap.
//! - blobs: anything accepted re-encodes (raw version) or decodes identically after re-packing.
//!
//! Usage: `cargo run --release -p based-blob --example fuzz -- [seconds-per-target] [seed]`.
//! Exit code 1 and the failing input (hex) in `target/fuzz-failures/` on a property violation.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used, clippy::indexing_slicing)]

use arbitrary::{Arbitrary, Unstructured};
use based_blob::{
    Batch, Blob, USABLE_BYTES_PER_BLOB, decode_batch_unverified, decode_payload, decode_stream,
    packing, payload,
};
use based_primitives::test_utils::{SplitMix64, realistic_batch};
use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    time::{Duration, Instant},
};

type Target = fn(&[u8]) -> Result<(), String>;

fn t_batch_rlp(data: &[u8]) -> Result<(), String> {
    if let Ok(b) = Batch::decode_strict(data) {
        if b.encode_rlp() != data {
            return Err("accepted non-canonical batch RLP".into());
        }
        b.check_limits().map_err(|e| format!("accepted batch violating limits: {e}"))?;
    }
    Ok(())
}

fn t_payload(data: &[u8]) -> Result<(), String> {
    if let Ok(b) = decode_payload(data) {
        b.check_limits().map_err(|e| format!("accepted batch violating limits: {e}"))?;
        if data.first() == Some(&based_blob::PAYLOAD_VERSION_RAW) && data[4..] != b.encode_rlp()[..]
        {
            return Err("raw payload accepted with non-canonical body".into());
        }
    }
    Ok(())
}

fn t_zstd(data: &[u8]) -> Result<(), String> {
    const CAP: usize = 1 << 16;
    if let Ok(out) = payload::decompress_zstd(data, CAP)
        && out.len() > CAP
    {
        return Err("decompressed beyond the cap".into());
    }
    Ok(())
}

fn t_stream(data: &[u8]) -> Result<(), String> {
    // Interpret the input as the start of a one- or two-blob stream.
    let blobs = if data.len() > USABLE_BYTES_PER_BLOB { 2 } else { 1 };
    let mut stream = data.to_vec();
    stream.resize(blobs * USABLE_BYTES_PER_BLOB, 0);
    if let Ok(b) = decode_stream(&stream) {
        b.check_limits().map_err(|e| e.to_string())?;
        // Re-packing the stream into blobs must decode to the same batch.
        let again = decode_batch_unverified(&packing::stream_to_blobs(&stream))
            .map_err(|e| e.to_string())?;
        if again != b {
            return Err("stream and blob decoding disagree".into());
        }
    }
    Ok(())
}

fn t_blob(data: &[u8]) -> Result<(), String> {
    // Raw blob bytes (field elements possibly non-canonical): first 128 KiB of the input.
    let mut blob = Blob::ZERO;
    let n = data.len().min(blob.0.len());
    blob.0[..n].copy_from_slice(&data[..n]);
    if let Ok(b) = decode_batch_unverified(&[blob]) {
        b.check_limits().map_err(|e| e.to_string())?;
        let mut stream = Vec::new();
        packing::unpack_blob(&blob, 0, &mut stream).map_err(|e| e.to_string())?;
        if packing::pack_blob(&stream) != blob {
            return Err("accepted blob does not re-pack to itself".into());
        }
    }
    Ok(())
}

/// Seeds: valid encodings in every shape the targets understand.
fn corpus(seed: u64) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, (blocks, txs)) in [(1, 1), (1, 5), (3, 20)].into_iter().enumerate() {
        let b = realistic_batch(seed.wrapping_add(i as u64), blocks, txs);
        out.push(b.encode_rlp());
        out.push(based_blob::encode_payload(&b, 3).unwrap());
        out.push(
            payload::payload_from_body(based_blob::PAYLOAD_VERSION_RAW, &b.encode_rlp()).unwrap(),
        );
        out.push(payload::compress_zstd(&b.encode_rlp(), 3).unwrap());
        out.push(
            packing::pack_blob(&based_blob::encode_payload(&b, 3).unwrap()).0[..4096].to_vec(),
        );
    }
    let mut rng = SplitMix64::new(seed);
    for _ in 0..32 {
        let raw: Vec<u8> = (0..2048).map(|_| rng.next_u64() as u8).collect();
        if let Ok(mut b) = Batch::arbitrary(&mut Unstructured::new(&raw)) {
            if b.manifests.is_empty() {
                b.manifests.push(Default::default());
            }
            out.push(b.encode_rlp());
            if let Ok(p) = based_blob::encode_payload(&b, 1) {
                out.push(p);
            }
        }
    }
    out
}

fn mutate(rng: &mut SplitMix64, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut d = input.to_vec();
    let rounds = 1 + rng.range(0, 4);
    for _ in 0..rounds {
        let len = d.len() as u64;
        match rng.range(0, 9) {
            0 if len > 0 => {
                let i = rng.range(0, len) as usize;
                d[i] ^= 1 << rng.range(0, 8);
            }
            1 if len > 0 => {
                let i = rng.range(0, len) as usize;
                d[i] = [0x00, 0xff, 0x7f, 0x80, 0xc0, 0xf7, 0xf8, 0xb7, 0xb8]
                    [rng.range(0, 9) as usize];
            }
            2 => {
                let i = rng.range(0, len + 1) as usize;
                d.insert(i, rng.next_u64() as u8);
            }
            3 if len > 0 => {
                let i = rng.range(0, len) as usize;
                let n = (rng.range(1, 16) as usize).min(d.len() - i);
                d.drain(i..i + n);
            }
            4 if len > 0 => d.truncate(rng.range(0, len) as usize),
            5 => {
                let other = &corpus[rng.range(0, corpus.len() as u64) as usize];
                if !other.is_empty() {
                    let a = rng.range(0, other.len() as u64) as usize;
                    let b = rng.range(a as u64, other.len() as u64 + 1) as usize;
                    let at = rng.range(0, len + 1) as usize;
                    d.splice(at..at, other[a..b].iter().copied());
                }
            }
            6 if len >= 4 => {
                // Length-field tweak: payload header or an RLP length byte.
                let i = rng.range(1, 4) as usize;
                d[i] = d[i].wrapping_add(rng.range(0, 3) as u8).wrapping_sub(1);
            }
            7 if len > 0 => {
                let i = rng.range(0, len) as usize;
                let n = (rng.range(1, 64) as usize).min(d.len() - i);
                for b in &mut d[i..i + n] {
                    *b = rng.next_u64() as u8;
                }
            }
            _ => {
                let extra = rng.range(1, 8) as usize;
                d.extend((0..extra).map(|_| rng.next_u64() as u8));
            }
        }
    }
    d
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(60);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
            as u64
    });
    std::panic::set_hook(Box::new(|_| {}));
    let targets: [(&str, Target); 5] = [
        ("batch_rlp", t_batch_rlp),
        ("payload", t_payload),
        ("zstd", t_zstd),
        ("stream", t_stream),
        ("blob", t_blob),
    ];
    let corpus = corpus(seed);
    println!("fuzz: seed {seed}, {seconds} s per target, corpus {} inputs", corpus.len());
    let mut failed = false;
    for (ti, (name, target)) in targets.iter().enumerate() {
        let mut rng = SplitMix64::new(seed ^ (ti as u64).wrapping_mul(0x9e37_79b9));
        let mut pool = corpus.clone();
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let (mut runs, mut accepted) = (0u64, 0u64);
        while Instant::now() < deadline {
            let base = &pool[rng.range(0, pool.len() as u64) as usize];
            let input = mutate(&mut rng, base, &corpus);
            let res = catch_unwind(AssertUnwindSafe(|| target(&input)));
            runs += 1;
            let err = match res {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e),
                Err(_) => Some("panic".to_string()),
            };
            if let Some(e) = err {
                let dir = std::path::Path::new("target/fuzz-failures");
                let _ = std::fs::create_dir_all(dir);
                let file = dir.join(format!("{name}-{seed}-{runs}.hex"));
                let _ = std::fs::write(&file, hex::encode(&input));
                eprintln!("fuzz: {name}: {e}; input saved to {}", file.display());
                failed = true;
                break;
            }
            // Keep inputs that some decoder accepts as new mutation bases (cheap guidance).
            if decode_payload(&input).is_ok() || Batch::decode_strict(&input).is_ok() {
                accepted += 1;
                if pool.len() < 4096 {
                    pool.push(input);
                }
            }
        }
        println!(
            "fuzz: {name}: {runs} runs, {accepted} mutants kept as valid payload/batch seeds, ok={}",
            !failed
        );
        if failed {
            break;
        }
    }
    if failed {
        std::process::exit(1);
    }
}
