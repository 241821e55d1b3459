//! Compression comparison on realistic generated batches (docs/benchmarks.md, "Blob codec").
//!
//! Prints the compression ratio of every candidate (zlib, brotli, zstd at several levels, zstd
//! with a trained dictionary) and measures encode/decode throughput with criterion
//! (throughput is reported against the *uncompressed* RLP size).
//!
//! `cargo bench -p based-blob --bench compression -- --warm-up-time 1 --measurement-time 3`
#![allow(missing_docs, clippy::print_stdout, clippy::unwrap_used)]

use based_primitives::test_utils::{BatchGenerator, DEVNET_CHAIN_ID};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::{
    hint::black_box,
    io::{Read, Write},
};

#[derive(Clone, Copy, Debug)]
enum Algo {
    Zlib(u32),
    Brotli(u32),
    Zstd(i32),
    ZstdDict(i32),
}

impl Algo {
    fn name(self) -> String {
        match self {
            Self::Zlib(l) => format!("zlib-{l}"),
            Self::Brotli(l) => format!("brotli-{l}"),
            Self::Zstd(l) => format!("zstd-{l}"),
            Self::ZstdDict(l) => format!("zstd-dict-{l}"),
        }
    }

    fn compress(self, data: &[u8], dict: &[u8]) -> Vec<u8> {
        match self {
            Self::Zlib(l) => {
                let mut e =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(l));
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Self::Brotli(q) => {
                let mut out = Vec::new();
                {
                    let mut w = brotli::CompressorWriter::new(&mut out, 4096, q, 22);
                    w.write_all(data).unwrap();
                }
                out
            }
            Self::Zstd(l) => zstd::bulk::compress(data, l).unwrap(),
            Self::ZstdDict(l) => {
                zstd::bulk::Compressor::with_dictionary(l, dict).unwrap().compress(data).unwrap()
            }
        }
    }

    fn decompress(self, data: &[u8], dict: &[u8], size: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(size);
        match self {
            Self::Zlib(_) => {
                flate2::read::ZlibDecoder::new(data).read_to_end(&mut out).unwrap();
            }
            Self::Brotli(_) => {
                brotli::Decompressor::new(data, 4096).read_to_end(&mut out).unwrap();
            }
            Self::Zstd(_) => out = zstd::bulk::decompress(data, size).unwrap(),
            Self::ZstdDict(_) => {
                out = zstd::bulk::Decompressor::with_dictionary(dict)
                    .unwrap()
                    .decompress(data, size)
                    .unwrap()
            }
        }
        out
    }
}

const ALGOS: [Algo; 13] = [
    Algo::Zlib(6),
    Algo::Zlib(9),
    Algo::Brotli(5),
    Algo::Brotli(9),
    Algo::Brotli(11),
    Algo::Zstd(3),
    Algo::Zstd(9),
    Algo::Zstd(15),
    Algo::Zstd(19),
    Algo::Zstd(22),
    Algo::ZstdDict(3),
    Algo::ZstdDict(19),
    Algo::ZstdDict(22),
];

fn datasets() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("small-1x50", BatchGenerator::new(1, DEVNET_CHAIN_ID).batch(1, 50).encode_rlp()),
        ("medium-6x150", BatchGenerator::new(2, DEVNET_CHAIN_ID).batch(6, 150).encode_rlp()),
        ("large-30x150", BatchGenerator::new(3, DEVNET_CHAIN_ID).batch(30, 150).encode_rlp()),
    ]
}

/// A dictionary trained on transactions of an independent seed (what a deployment would ship).
fn train_dict() -> Vec<u8> {
    let batch = BatchGenerator::new(99, DEVNET_CHAIN_ID).batch(20, 100);
    let samples: Vec<Vec<u8>> =
        batch.manifests.iter().flat_map(|m| m.transactions.iter().map(|t| t.to_vec())).collect();
    zstd::dict::from_samples(&samples, 16 * 1024).unwrap()
}

fn compression(c: &mut Criterion) {
    let dict = train_dict();
    let data = datasets();
    println!("\n| dataset | raw RLP bytes | algorithm | compressed bytes | ratio |");
    println!("| --- | ---: | --- | ---: | ---: |");
    for (name, raw) in &data {
        for algo in ALGOS {
            let comp = algo.compress(raw, &dict);
            assert_eq!(&algo.decompress(&comp, &dict, raw.len()), raw);
            println!(
                "| {name} | {} | {} | {} | {:.3} |",
                raw.len(),
                algo.name(),
                comp.len(),
                raw.len() as f64 / comp.len() as f64
            );
        }
    }
    // Throughput on the medium dataset (about one blob compressed).
    let (_, raw) = &data[1];
    let mut g = c.benchmark_group("compression/medium-6x150");
    g.throughput(Throughput::Bytes(raw.len() as u64));
    g.sample_size(10);
    for algo in ALGOS {
        let comp = algo.compress(raw, &dict);
        g.bench_with_input(BenchmarkId::new("encode", algo.name()), raw, |b, raw| {
            b.iter(|| algo.compress(black_box(raw), &dict))
        });
        g.bench_with_input(BenchmarkId::new("decode", algo.name()), &comp, |b, comp| {
            b.iter(|| algo.decompress(black_box(comp), &dict, raw.len()))
        });
    }
    g.finish();
}

criterion_group!(benches, compression);
criterion_main!(benches);
