//! Codec benchmarks (docs/benchmarks.md, "Blob codec"): encode/decode throughput, per-blob KZG
//! costs, and decode+verify of a 6-blob batch next to the bare c-kzg batch verification of the
//! same blobs (the floor).
//!
//! `cargo bench -p based-blob --bench codec -- --warm-up-time 1 --measurement-time 3`
#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used)]

use based_blob::{
    Batch, DEFAULT_ZSTD_LEVEL, MAX_BLOBS_PER_BATCH, decode_batch_from_blobs,
    decode_batch_from_sidecar, decode_batch_unverified, decode_payload, encode_batch_to_blobs,
    encode_payload, kzg,
};
use based_primitives::test_utils::{BatchGenerator, DEVNET_CHAIN_ID};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

/// A realistic batch that fills exactly `MAX_BLOBS_PER_BATCH` blobs at the default level.
fn six_blob_batch() -> Batch {
    let mut batch = BatchGenerator::new(6, DEVNET_CHAIN_ID).batch(60, 150);
    loop {
        let n = encode_batch_to_blobs(&batch, DEFAULT_ZSTD_LEVEL)
            .map(|b| b.len())
            .unwrap_or(usize::MAX);
        if n <= MAX_BLOBS_PER_BATCH {
            assert_eq!(n, MAX_BLOBS_PER_BATCH, "batch shrank below six blobs");
            return batch;
        }
        batch.manifests.pop();
    }
}

fn codec(c: &mut Criterion) {
    let batch = six_blob_batch();
    let rlp_len = batch.encode_rlp().len() as u64;
    let payload = encode_payload(&batch, DEFAULT_ZSTD_LEVEL).unwrap();
    let enc = based_blob::encode_batch(&batch).unwrap();
    let sc = &enc.sidecar;
    println!(
        "\nsix-blob batch: {} manifests, {} txs, rlp {} bytes, payload {} bytes, ratio {:.3}, {} blobs",
        batch.manifests.len(),
        batch.transaction_count(),
        rlp_len,
        payload.len(),
        rlp_len as f64 / payload.len() as f64,
        sc.blobs.len()
    );

    let mut g = c.benchmark_group("codec");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(rlp_len));
    g.bench_function("encode_payload_zstd19", |b| {
        b.iter(|| encode_payload(black_box(&batch), DEFAULT_ZSTD_LEVEL).unwrap())
    });
    let rlp = batch.encode_rlp();
    g.bench_function("compress_zstd3_only", |b| {
        b.iter(|| based_blob::payload::compress_zstd(black_box(&rlp), 3).unwrap())
    });
    g.bench_function("decode_payload", |b| b.iter(|| decode_payload(black_box(&payload)).unwrap()));
    g.bench_function("decode_blobs_unverified", |b| {
        b.iter(|| decode_batch_unverified(black_box(&sc.blobs)).unwrap())
    });
    g.bench_function("encode_batch_with_kzg", |b| {
        b.iter(|| based_blob::encode_batch(black_box(&batch)).unwrap())
    });
    g.finish();

    let settings = kzg::kzg_settings();
    let blob0 = c_kzg::Blob::new(sc.blobs[0].0);
    let comm0 = c_kzg::Bytes48::new(sc.commitments[0].0);
    let proof0 = c_kzg::Bytes48::new(sc.proofs[0].0);
    let mut g = c.benchmark_group("kzg_per_blob");
    g.sample_size(10);
    g.bench_function("commitment", |b| {
        b.iter(|| settings.blob_to_kzg_commitment(black_box(&blob0)).unwrap())
    });
    g.bench_function("proof", |b| {
        b.iter(|| settings.compute_blob_kzg_proof(black_box(&blob0), &comm0).unwrap())
    });
    g.bench_function("verify", |b| {
        b.iter(|| {
            assert!(settings.verify_blob_kzg_proof(black_box(&blob0), &comm0, &proof0).unwrap())
        })
    });
    g.finish();

    let blobs: Vec<c_kzg::Blob> = sc.blobs.iter().map(|b| c_kzg::Blob::new(b.0)).collect();
    let comms: Vec<c_kzg::Bytes48> =
        sc.commitments.iter().map(|c| c_kzg::Bytes48::new(c.0)).collect();
    let proofs: Vec<c_kzg::Bytes48> = sc.proofs.iter().map(|c| c_kzg::Bytes48::new(c.0)).collect();
    let mut g = c.benchmark_group("six_blobs");
    g.sample_size(10);
    g.bench_function("floor_ckzg_verify_batch", |b| {
        b.iter(|| {
            assert!(
                settings.verify_blob_kzg_proof_batch(black_box(&blobs), &comms, &proofs).unwrap()
            )
        })
    });
    g.bench_function("decompress_and_decode_payload", |b| {
        b.iter(|| decode_payload(black_box(&payload)).unwrap())
    });
    g.bench_function("decode_from_sidecar_verified", |b| {
        b.iter(|| {
            decode_batch_from_sidecar(
                black_box(&sc.blobs),
                &sc.commitments,
                &sc.proofs,
                &enc.versioned_hashes,
            )
            .unwrap()
        })
    });
    g.bench_function("decode_from_blobs_recommit", |b| {
        b.iter(|| decode_batch_from_blobs(black_box(&sc.blobs), &enc.versioned_hashes).unwrap())
    });
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
