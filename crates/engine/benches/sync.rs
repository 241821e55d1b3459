//! Catch-up sync benchmark: derive + execute + commit a prepared L1 history of full-blob batches.
//!
//! Prepares `BASED_SYNC_L1_BLOCKS` (default 8) L1 blocks, each carrying one proposal whose batch
//! fills the blob budget with L2 blocks of signed ETH transfers (every block at the devnet gas limit),
//! then replays them the way `based node`'s driver handles one L1 notification carrying them:
//! `based_derive::derive_l1_block` for every L1 block (blob decoding with the trusting decoder, as
//! the node uses after `based-l1` verified the blobs), then the L2 blocks through
//! `based_engine::DerivedImporter` (sender recovery running ahead on the rayon pool) into an on-disk
//! store, with the node's durability cadence (`CommitCadence`, durable at least every 5 s and at
//! the end). Reports L2 Mgas/s, the multiple of real time at the L1 blob ceiling (9 blobs per 12 s),
//! the time per phase, and the anchor: sender recovery alone on one core, and the multiple of real
//! time that would allow on all cores. Excludes L1 fetching and KZG verification of blobs.
//! `BASED_SYNC_VERBOSE=1` prints every L2 block's phases.
//!
//! Run: `cargo bench -p based-engine --profile ci --bench sync`

#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

use alloy_consensus::TxEip1559;
use alloy_genesis::GenesisAccount;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use based_chainspec::ChainSpec;
use based_derive::{BlobCodecDecoder, DeriveConfig, derive_l1_block, test_utils::TestL1};
use based_engine::{CommitCadence, DerivedImporter, ImportTimings};
use based_primitives::{
    Batch, BlockManifest,
    test_utils::{sign_eip1559, test_signer},
};
use based_storage::Store;
use std::{sync::Arc, time::Instant};

const SENDERS: u64 = 32;
/// The node's cadence of durable commits (`based_node::driver::DURABLE_EVERY`).
const DURABLE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);
const TRANSFER_GAS: u64 = 21_000;
/// Blob ceiling of L1 (Prague max blobs per block) per 12 s slot.
const BLOBS_PER_SECOND_AT_CEILING: f64 = 9.0 / 12.0;

/// Round-robin senders with their next nonces.
struct Senders<'a> {
    signers: &'a [alloy_signer_local::PrivateKeySigner],
    nonces: Vec<u64>,
    next: usize,
}

impl Senders<'_> {
    /// A signed transfer of a small amount to a fresh address derived from `n`.
    fn transfer(&mut self, chain_id: u64, n: u64) -> Bytes {
        let idx = self.next % self.signers.len();
        self.next += 1;
        let nonce = self.nonces[idx];
        self.nonces[idx] += 1;
        let tx = TxEip1559 {
            chain_id,
            nonce,
            gas_limit: TRANSFER_GAS,
            max_fee_per_gas: 10_000_000_000_000,
            max_priority_fee_per_gas: 1_000_000,
            to: TxKind::Call(Address::from_word(alloy_primitives::keccak256(n.to_be_bytes()))),
            value: U256::from(1 + n % 1000),
            ..Default::default()
        };
        sign_eip1559(&self.signers[idx], tx)
    }

    /// Hands back the nonces of the last `count` transfers.
    fn undo(&mut self, count: usize) {
        for _ in 0..count {
            self.next -= 1;
            let idx = self.next % self.signers.len();
            self.nonces[idx] -= 1;
        }
    }
}

fn main() {
    let l1_blocks: u64 =
        std::env::var("BASED_SYNC_L1_BLOCKS").ok().and_then(|v| v.parse().ok()).unwrap_or(8);
    let signers: Vec<_> = (0..SENDERS).map(|i| test_signer(7, i)).collect();
    let mut genesis = ChainSpec::devnet().expect("devnet spec").genesis().clone();
    for s in &signers {
        genesis.alloc.insert(
            s.address(),
            GenesisAccount::default().with_balance(U256::from(10u128.pow(24))),
        );
    }
    let spec = Arc::new(ChainSpec::from_genesis(genesis).expect("spec"));
    let gas_limit = spec.genesis_header().gas_limit;
    let txs_per_block = gas_limit / TRANSFER_GAS;

    // --- prepare the L1 history ---
    let prep = Instant::now();
    let mut l1 = TestL1::new(spec.genesis_header().timestamp);
    let mut senders = Senders { signers: &signers, nonces: vec![0; signers.len()], next: 0 };
    let mut inputs = Vec::new();
    let mut blobs_total = 0usize;
    let mut l2_timestamp = spec.genesis_header().timestamp;
    let mut tx_counter = 0u64;
    for i in 1..=l1_blocks {
        let anchor = l1.anchor(i - 1);
        let anchor_ts = l1.head.timestamp;
        let mut manifests = Vec::new();
        // Add full L2 blocks while the batch still fits the blob budget.
        loop {
            let ts = l2_timestamp.max(anchor_ts) + 1;
            let txs: Vec<Bytes> = (0..txs_per_block)
                .map(|_| {
                    tx_counter += 1;
                    senders.transfer(spec.chain_id(), tx_counter)
                })
                .collect();
            manifests.push(BlockManifest {
                timestamp: ts,
                fee_recipient: Address::repeat_byte(0xfe),
                gas_limit,
                anchor,
                transactions: txs,
            });
            let batch = Batch { chain_id: spec.chain_id(), manifests: manifests.clone() };
            let fits =
                based_blob::encode_batch_to_blobs(&batch, based_blob::DEFAULT_ZSTD_LEVEL).is_ok();
            if !fits {
                // The last block did not fit: drop it and hand its nonces back to the senders.
                let dropped = manifests.pop().expect("pushed above");
                senders.undo(dropped.transactions.len());
                tx_counter -= dropped.transactions.len() as u64;
                break;
            }
            l2_timestamp = ts;
        }
        let batch = Batch { chain_id: spec.chain_id(), manifests };
        let blobs = based_blob::encode_batch_to_blobs(&batch, based_blob::DEFAULT_ZSTD_LEVEL)
            .expect("fits");
        blobs_total += blobs.len();
        let event = l1.propose_blobs(Address::repeat_byte(0xaa), blobs);
        inputs.push(l1.next_block(vec![event]));
        eprintln!(
            "prepared L1 block {i}/{l1_blocks}: {} L2 blocks, {} txs ({:.1}s)",
            batch.manifests.len(),
            batch.transaction_count(),
            prep.elapsed().as_secs_f64()
        );
    }

    // --- replay: derive + execute + commit, as `based node`'s driver does for a notification
    // carrying these L1 blocks: derive them all (derivation needs no execution results), then
    // import the L2 blocks in order with sender recovery running ahead; each L1 block's last L2
    // block is committed durably, the others deferred. ---
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("db")).expect("store");
    based_engine::init_genesis(&store, &spec).expect("genesis");
    let cfg = DeriveConfig::devnet(spec.chain_id());
    let mut state = l1.genesis_state(spec.genesis_header().timestamp, gas_limit);
    let decoder = BlobCodecDecoder::trusting();
    let (mut gas, mut l2_blocks, mut txs) = (0u64, 0u64, 0u64);
    let mut phases = ImportTimings::default();
    let start = Instant::now();
    let mut derived = Vec::with_capacity(inputs.len());
    for input in &inputs {
        let out = derive_l1_block(&cfg, &state, input, &l1.blobs, &decoder).expect("derive");
        state = out.state.clone();
        derived.push(out.blocks);
    }
    let derive_s = start.elapsed().as_secs_f64();
    let mut importer = DerivedImporter::start(derived.iter().flatten());
    let mut cadence = CommitCadence::new(DURABLE_EVERY);
    let runs = derived.len();
    for (l1_number, blocks) in (1u64..).zip(&derived) {
        for (i, b) in blocks.iter().enumerate() {
            let group_end = i + 1 == blocks.len();
            let durability = cadence.durability(group_end, group_end && l1_number as usize == runs);
            let imported =
                importer.import_next(&store, &spec, b, Vec::new(), durability).expect("import");
            assert!(imported.skipped.is_empty(), "benchmark transactions must all be valid");
            gas += imported.header.inner().gas_used;
            txs += imported.transactions.len() as u64;
            l2_blocks += 1;
            let t = imported.timings;
            if std::env::var_os("BASED_SYNC_VERBOSE").is_some() {
                eprintln!(
                    "  L2 block {}: {:?} recover-wait {:?} execute {:?} root {:?} commit {:?}",
                    b.number, durability, t.recover, t.execute, t.state_root, t.commit
                );
            }
            phases.recover += t.recover;
            phases.execute += t.execute;
            phases.state_root += t.state_root;
            phases.commit += t.commit;
        }
        eprintln!("synced L1 block {l1_number} ({l2_blocks} L2 blocks)");
    }
    let total = start.elapsed().as_secs_f64();

    // --- anchor: sender recovery alone, one core (every node must do this much) ---
    let raw: Vec<&Bytes> = derived.iter().flatten().flat_map(|b| &b.transactions).collect();
    let t = Instant::now();
    for tx in &raw {
        assert!(based_engine::based_evm::recover_transaction(tx).is_ok());
    }
    let recover_one_core = t.elapsed().as_secs_f64();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let blobs_per_s = blobs_total as f64 / total;
    println!(
        "catch-up sync: {l1_blocks} L1 blocks, {blobs_total} blobs, {l2_blocks} L2 blocks, {txs} txs, {:.1} Mgas",
        gas as f64 / 1e6
    );
    println!(
        "  total {total:.2}s: derive {derive_s:.2}s, then per phase: waiting for sender recovery {:.2}s, execute {:.2}s, state root {:.2}s, commit {:.2}s",
        phases.recover.as_secs_f64(),
        phases.execute.as_secs_f64(),
        phases.state_root.as_secs_f64(),
        phases.commit.as_secs_f64()
    );
    println!(
        "  L2 throughput: {:.1} Mgas/s, {:.0} tx/s",
        gas as f64 / 1e6 / total,
        txs as f64 / total
    );
    println!(
        "  blobs: {blobs_per_s:.2}/s = {:.1}x real time at the L1 blob ceiling (9 blobs / 12 s)",
        blobs_per_s / BLOBS_PER_SECOND_AT_CEILING
    );
    let per_sig = recover_one_core / raw.len() as f64;
    let ceiling = blobs_total as f64 / (recover_one_core / cores as f64);
    println!(
        "  anchor: sender recovery alone takes {:.1} µs/tx on one core; with all {cores} cores doing nothing else the ceiling is {:.1}x real time",
        per_sig * 1e6,
        ceiling / BLOBS_PER_SECOND_AT_CEILING
    );
}
