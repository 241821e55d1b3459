//! Runner for Ethereum `BlockchainTests` JSON fixtures (ethereum/tests format) against `based`'s
//! strict execution mode and store.
//!
//! For every test with a supported `network`: the `pre` state is written into a fresh in-memory
//! store as genesis (the genesis header is decoded from `genesisRLP`, its hash checked against
//! `genesisBlockHeader.hash` and its state root against the `pre` state), each block `rlp` is decoded
//! and imported in strict mode (valid blocks: header hash, state root, receipts root checked; blocks
//! with `expectException` must be rejected and leave the head unchanged), and finally `postState`
//! (or `postStateHash`) and `lastblockhash` are compared with the store.
//!
//! A run cannot pass vacuously: it must execute (pass or fail, not `Unsupported`) at least the
//! number of tests that `expected.txt` gives for the fixture set it ran (`full`: an explicit fixture
//! directory, as `make conformance` passes; `subset`: the ValidBlocks/InvalidBlocks subset of
//! unoptimised `cargo test` runs), else it fails; see [`check_count`]. `BASED_CONFORMANCE_MIN_TESTS`
//! overrides the minimum (e.g. to run one file); it is never below 1, so an empty or missing
//! fixture directory always fails.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::{Path, PathBuf},
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use alloy_consensus::{Block, Header, TxEnvelope};
use alloy_genesis::GenesisAccount;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_rlp::Decodable;
use based_evm::{ForkSpec, spec_id_from_network};
use based_storage::Store;
use revm::DatabaseRef;
use serde::Deserialize;

/// Chain id of the Ethereum fixtures.
pub const FIXTURE_CHAIN_ID: u64 = 1;

/// Outcome of one test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// All checks passed.
    Pass,
    /// The network is not supported by the strict mode (not counted as a failure).
    Unsupported(String),
    /// A check failed.
    Fail(String),
}

/// Result of one test.
#[derive(Debug, Clone)]
pub struct TestResult {
    /// Fixture file.
    pub file: PathBuf,
    /// Test name (key in the file).
    pub name: String,
    /// `network` of the test.
    pub network: String,
    /// Outcome.
    pub outcome: Outcome,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fixture {
    network: String,
    #[serde(rename = "genesisRLP")]
    genesis_rlp: Bytes,
    genesis_block_header: FixtureHeader,
    pre: BTreeMap<Address, GenesisAccount>,
    blocks: Vec<FixtureBlock>,
    post_state: Option<BTreeMap<Address, GenesisAccount>>,
    post_state_hash: Option<B256>,
    lastblockhash: B256,
}

#[derive(Debug, Deserialize)]
struct FixtureHeader {
    hash: B256,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FixtureBlock {
    rlp: Bytes,
    expect_exception: Option<String>,
    block_header: Option<FixtureBlockHeader>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FixtureBlockHeader {
    hash: B256,
    state_root: B256,
    receipt_trie: B256,
}

fn fail(msg: impl Into<String>) -> Outcome {
    Outcome::Fail(msg.into())
}

/// Runs one test.
fn run_test(fixture: &Fixture) -> Outcome {
    let Some(spec_id) = spec_id_from_network(&fixture.network) else {
        return Outcome::Unsupported(fixture.network.clone());
    };
    let fork = ForkSpec::ethereum(spec_id);
    match run_supported(fixture, &fork) {
        Ok(()) => Outcome::Pass,
        Err(msg) => Outcome::Fail(msg),
    }
}

fn run_supported(fixture: &Fixture, fork: &ForkSpec) -> Result<(), String> {
    let genesis = Block::<TxEnvelope>::decode(&mut fixture.genesis_rlp.as_ref())
        .map_err(|e| format!("genesis RLP: {e}"))?;
    let genesis_hash = genesis.header.hash_slow();
    if genesis_hash != fixture.genesis_block_header.hash {
        return Err(format!(
            "genesis hash {genesis_hash} != {}",
            fixture.genesis_block_header.hash
        ));
    }
    let store = Store::open_in_memory().map_err(|e| e.to_string())?;
    store.init_genesis(&genesis.header, &fixture.pre).map_err(|e| format!("genesis: {e}"))?;

    // Every block imported so far (by hash), to re-import side-chain paths on a head switch.
    let mut known: HashMap<B256, Block<TxEnvelope>> = HashMap::new();
    known.insert(genesis_hash, genesis);
    for (i, fb) in fixture.blocks.iter().enumerate() {
        let head_before = store.head().map_err(|e| e.to_string())?.ok_or("no head")?.hash;
        let result = match decode_block(&fb.rlp) {
            Ok(block) => {
                let parent = block.header.parent_hash;
                let switched = if parent == head_before {
                    Ok(())
                } else {
                    switch_head(&store, fork, &known, parent)
                };
                match switched {
                    Ok(()) => based_engine::import_strict(&store, fork, FIXTURE_CHAIN_ID, &block)
                        .inspect(|hash| {
                            known.insert(*hash, block);
                        })
                        .map_err(|e| (e.is_invalid_block(), e.to_string())),
                    Err(e) => Err((true, format!("unknown parent: {e}"))),
                }
            }
            Err(e) => Err((true, format!("rlp: {e}"))),
        };
        if result.is_err() {
            // A rejected block leaves the chain where it was.
            let head_now = store.head().map_err(|e| e.to_string())?.ok_or("no head")?.hash;
            if head_now != head_before {
                switch_head(&store, fork, &known, head_before)?;
            }
        }
        match (&fb.expect_exception, result) {
            (Some(_), Err((true, _))) => {
                let head_after = store.head().map_err(|e| e.to_string())?.map(|h| h.hash);
                if head_after != Some(head_before) {
                    return Err(format!("block {i}: rejected block moved the head"));
                }
            }
            (Some(ex), Err((false, e))) => {
                return Err(format!("block {i}: expected {ex}, got infrastructure error {e}"));
            }
            (Some(ex), Ok(hash)) => {
                return Err(format!("block {i} ({hash}): accepted, expected {ex}"));
            }
            (None, Err((_, e))) => return Err(format!("block {i}: rejected valid block: {e}")),
            (None, Ok(hash)) => {
                if let Some(h) = &fb.block_header {
                    if h.hash != hash {
                        return Err(format!("block {i}: hash {hash} != {}", h.hash));
                    }
                    let stored = store
                        .header_by_hash(hash)
                        .map_err(|e| e.to_string())?
                        .ok_or_else(|| format!("block {i}: not stored"))?;
                    if stored.state_root != h.state_root || stored.receipts_root != h.receipt_trie {
                        return Err(format!("block {i}: state/receipts root mismatch"));
                    }
                }
            }
        }
    }

    let head = store.head().map_err(|e| e.to_string())?.ok_or("no head")?;
    if head.hash != fixture.lastblockhash {
        return Err(format!("last block {} != {}", head.hash, fixture.lastblockhash));
    }
    let head_header: Header =
        store.header_by_hash(head.hash).map_err(|e| e.to_string())?.ok_or("head header missing")?;
    if let Some(root) = fixture.post_state_hash
        && root != head_header.state_root
    {
        return Err(format!(
            "post state hash {root} != head state root {}",
            head_header.state_root
        ));
    }
    if let Some(post) = &fixture.post_state {
        let root = based_chainspec::genesis_state_root(post);
        if root != head_header.state_root {
            return Err(format!(
                "postState root {root} != head state root {}",
                head_header.state_root
            ));
        }
        check_post_state(&store, post)?;
    }
    Ok(())
}

/// Makes `target` (a known block) the head: unwinds to the last canonical ancestor and re-imports the
/// side-chain path (post-merge fork choice in fixtures: the last imported valid block is the head).
fn switch_head(
    store: &Store,
    fork: &ForkSpec,
    known: &HashMap<B256, Block<TxEnvelope>>,
    target: B256,
) -> Result<(), String> {
    let mut path = Vec::new();
    let mut hash = target;
    loop {
        let block = known.get(&hash).ok_or_else(|| format!("block {hash} unknown"))?;
        let number = block.header.number;
        if store.block_hash(number).map_err(|e| e.to_string())? == Some(hash) {
            store.unwind_to(number).map_err(|e| e.to_string())?;
            break;
        }
        path.push(block);
        hash = block.header.parent_hash;
    }
    for block in path.into_iter().rev() {
        based_engine::import_strict(store, fork, FIXTURE_CHAIN_ID, block)
            .map_err(|e| format!("re-importing {}: {e}", block.header.number))?;
    }
    Ok(())
}

fn decode_block(rlp: &Bytes) -> Result<Block<TxEnvelope>, String> {
    let mut buf = rlp.as_ref();
    let block = Block::<TxEnvelope>::decode(&mut buf).map_err(|e| e.to_string())?;
    if !buf.is_empty() {
        return Err("trailing bytes after block".into());
    }
    Ok(block)
}

fn check_post_state(store: &Store, post: &BTreeMap<Address, GenesisAccount>) -> Result<(), String> {
    let reader = store.latest().map_err(|e| e.to_string())?;
    for (address, want) in post {
        let info = reader
            .basic_ref(*address)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("account {address} missing"))?;
        if info.balance != want.balance {
            return Err(format!("{address}: balance {} != {}", info.balance, want.balance));
        }
        if info.nonce != want.nonce.unwrap_or_default() {
            return Err(format!("{address}: nonce {} != {:?}", info.nonce, want.nonce));
        }
        let want_code = want.code.clone().unwrap_or_default();
        if info.code_hash != keccak256(&want_code)
            && !(want_code.is_empty() && info.code_hash == revm::primitives::KECCAK_EMPTY)
        {
            return Err(format!("{address}: code hash mismatch"));
        }
        for (slot, value) in want.storage.iter().flatten() {
            let got = reader
                .storage_ref(*address, U256::from_be_bytes(slot.0))
                .map_err(|e| e.to_string())?;
            if got != U256::from_be_bytes(value.0) {
                return Err(format!("{address}: storage {slot} = {got}, expected {value}"));
            }
        }
    }
    Ok(())
}

/// Runs every test of one fixture file.
pub fn run_file(path: &Path) -> Vec<TestResult> {
    let parsed: Result<BTreeMap<String, Fixture>, String> = std::fs::read(path)
        .map_err(|e| e.to_string())
        .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()));
    match parsed {
        Ok(tests) => tests
            .into_iter()
            .map(|(name, fixture)| TestResult {
                file: path.to_owned(),
                name,
                network: fixture.network.clone(),
                outcome: run_test(&fixture),
            })
            .collect(),
        Err(e) => vec![TestResult {
            file: path.to_owned(),
            name: "<file>".into(),
            network: "?".into(),
            outcome: fail(format!("cannot parse fixture file: {e}")),
        }],
    }
}

/// All `*.json` files under `dir`, sorted.
pub fn fixture_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Runs all fixture files under `dir` on `threads` worker threads.
pub fn run_dir(dir: &Path, threads: usize) -> std::io::Result<Vec<TestResult>> {
    let files = fixture_files(dir)?;
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = files.get(i) else { break };
                    let r = run_file(file);
                    if let Ok(mut all) = results.lock() {
                        all.extend(r);
                    }
                }
            });
        }
    });
    let mut all = results.into_inner().unwrap_or_default();
    all.sort_by(|a, b| (&a.file, &a.name).cmp(&(&b.file, &b.name)));
    Ok(all)
}

/// Which fixture set a run covers, selecting its minimum in `expected.txt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixtureSet {
    /// The whole fixture directory (given explicitly: argument or `$BASED_FIXTURES`).
    Full,
    /// The ValidBlocks/InvalidBlocks subset of unoptimised runs without an explicit directory.
    Subset,
}

/// Minimum numbers of executed tests per fixture set, from `expected.txt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedCounts {
    /// Minimum for [`FixtureSet::Full`].
    pub full: usize,
    /// Minimum for [`FixtureSet::Subset`].
    pub subset: usize,
}

impl ExpectedCounts {
    /// The minimum for `set`.
    pub const fn minimum(&self, set: FixtureSet) -> usize {
        match set {
            FixtureSet::Full => self.full,
            FixtureSet::Subset => self.subset,
        }
    }
}

/// Parses an expected-count file: `full <n>` and `subset <n>` lines (`#` comments), both required.
pub fn parse_expected(text: &str) -> Result<ExpectedCounts, String> {
    let (mut full, mut subset) = (None, None);
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(key), Some(value), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!("expected `<set> <count>`, got `{line}`"));
        };
        let value: usize = value.parse().map_err(|e| format!("count in `{line}`: {e}"))?;
        match key {
            "full" => full = Some(value),
            "subset" => subset = Some(value),
            other => return Err(format!("unknown fixture set `{other}`")),
        }
    }
    Ok(ExpectedCounts {
        full: full.ok_or("no `full` count")?,
        subset: subset.ok_or("no `subset` count")?,
    })
}

/// Number of tests that were executed (passed or failed; `Unsupported` ones were not).
pub fn executed_count(results: &[TestResult]) -> usize {
    results.iter().filter(|r| !matches!(r.outcome, Outcome::Unsupported(_))).count()
}

/// The count gate: a run that executed fewer than `minimum` tests (never less than 1) fails, so an
/// empty, missing or truncated fixture directory cannot report success.
pub fn check_count(executed: usize, minimum: usize) -> Result<(), String> {
    let minimum = minimum.max(1);
    if executed < minimum {
        return Err(format!(
            "executed {executed} tests, expected at least {minimum} (fixture directory empty, \
             incomplete or of unsupported forks?)"
        ));
    }
    Ok(())
}

/// Test names listed in an exclusion file (`name  # reason` per line; `#` comments).
pub fn load_exclusions(path: &Path) -> HashSet<String> {
    std::fs::read_to_string(path)
        .map(|s| {
            s.lines()
                .map(|l| l.split('#').next().unwrap_or("").trim().to_owned())
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/basefeeExample.json")
    }

    #[test]
    fn example_fixture_passes() {
        let results = run_file(&testdata());
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].outcome, Outcome::Pass);
        assert_eq!(results[0].network, "Cancun");
    }

    #[test]
    fn tampered_fixture_fails() {
        let json = std::fs::read_to_string(testdata()).unwrap();
        let mut tests: BTreeMap<String, Fixture> = serde_json::from_str(&json).unwrap();
        let fixture = tests.values_mut().next().unwrap();
        fixture.lastblockhash = B256::repeat_byte(7);
        assert!(matches!(run_test(fixture), Outcome::Fail(_)));
        fixture.network = "Frontier".into();
        assert!(matches!(run_test(fixture), Outcome::Unsupported(_)));
    }

    #[test]
    fn empty_fixture_directory_fails_the_count_gate() {
        let dir = std::env::temp_dir().join(format!("based-empty-fixtures-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let results = run_dir(&dir, 2).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(results.is_empty());
        assert_eq!(executed_count(&results), 0);
        // Even a minimum of 0 (e.g. a misconfigured override) means "at least one".
        assert!(check_count(executed_count(&results), 0).is_err());
        assert!(check_count(executed_count(&results), 181).is_err());
    }

    #[test]
    fn count_gate_ignores_unsupported_tests_and_accepts_enough() {
        let mut results = run_file(&testdata());
        assert_eq!(executed_count(&results), 1);
        assert!(check_count(1, 1).is_ok());
        assert!(check_count(1, 2).is_err());
        results[0].outcome = Outcome::Unsupported("Frontier".into());
        assert_eq!(executed_count(&results), 0);
        assert!(check_count(executed_count(&results), 1).is_err());
    }

    #[test]
    fn expected_file_parses_and_is_present() {
        let counts = parse_expected("# c\nfull 4696  # all\n\nsubset 181\n").unwrap();
        assert_eq!(counts, ExpectedCounts { full: 4696, subset: 181 });
        assert_eq!(counts.minimum(FixtureSet::Subset), 181);
        assert!(parse_expected("full 1\n").is_err());
        assert!(parse_expected("full x\nsubset 1\n").is_err());
        assert!(parse_expected("all 1\nsubset 1\n").is_err());
        let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("expected.txt");
        let shipped = parse_expected(&std::fs::read_to_string(file).unwrap()).unwrap();
        assert!(shipped.full >= shipped.subset && shipped.subset > 0);
    }

    #[test]
    fn exclusions_parse_names_and_ignore_comments() {
        let path = std::env::temp_dir().join(format!("based-excl-{}", std::process::id()));
        std::fs::write(&path, "# header\nfoo_Cancun  # reason\n\nbar\n").unwrap();
        let set = load_exclusions(&path);
        let _ = std::fs::remove_file(&path);
        assert_eq!(set.len(), 2);
        assert!(set.contains("foo_Cancun") && set.contains("bar"));
    }
}
