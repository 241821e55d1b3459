//! L2 chain specification for `based`.
//!
//! A chain spec is an alloy [`Genesis`] JSON (geth format). It is loaded by name (`devnet` is embedded
//! from `chain-specs/devnet.json`) or from a file path. The L2 runs Prague rules from genesis, so a spec
//! is rejected unless every fork up to and including Prague is active at genesis.
//!
//! The spec is the **only** source of consensus parameters: besides the genesis, its `config.based`
//! section names the L1 (chain id, `Inbox` address, derivation start block; [`rollup`]), the
//! derivation windows (`MAX_ANCHOR_AGE`, `FORCED_INCLUSION_WINDOW`) and the posting rights
//! ([`sequencing`]). Protocol-wide limits are defined once in [`limits`]. Everything is validated
//! at load; a rule that is broken gives a [`ChainSpecError`] naming the field, never a panic.
//!
//! Invariants:
//! - the genesis header carries every Prague field (base fee, withdrawals root, blob gas fields,
//!   parent beacon block root, requests hash), so its hash matches what any Prague client computes;
//! - the genesis state root is computed from scratch with alloy-trie's `HashBuilder` over the sorted
//!   `keccak256(address)` keys (and `keccak256(slot)` keys for storage), zero storage values omitted.
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

use std::{collections::BTreeMap, path::Path};

use alloy_consensus::{
    EMPTY_OMMER_ROOT_HASH, EMPTY_ROOT_HASH, Header, constants::KECCAK_EMPTY,
    proofs::calculate_withdrawals_root,
};
use alloy_eips::{eip1559::INITIAL_BASE_FEE, eip7685::EMPTY_REQUESTS_HASH};
use alloy_genesis::{Genesis, GenesisAccount};
use alloy_primitives::{Address, B256, BlockNumber, Bytes, U256, address, keccak256};
use alloy_trie::{HashBuilder, Nibbles, TrieAccount};

pub mod rollup;
pub mod sequencing;

pub use alloy_genesis;
pub use rollup::{
    DerivationParams, L1Params, MAX_ANCHOR_AGE_LIMIT, MAX_FORCED_INCLUSION_WINDOW, Rollup,
    RollupError, limits,
};
pub use sequencing::{DevnetValidators, Fallback, Sequencing, SequencingError, SequencingMode};

/// The embedded devnet genesis (`chain-specs/devnet.json`).
pub const DEVNET_GENESIS_JSON: &str = include_str!("../../../chain-specs/devnet.json");

/// L2 devnet chain id.
pub const DEVNET_CHAIN_ID: u64 = 4242;

/// Address of the L1 anchor predeploy (see `docs/protocol.md` section 5).
pub const L1_ANCHOR_ADDRESS: Address = address!("0x4242000000000000000000000000000000000001");

/// Size of the L1 anchor ring buffer (slots `0..RING` hold hashes, `RING..2*RING` the numbers).
pub const L1_ANCHOR_RING_SIZE: u64 = 8191;

/// Storage slot of the L1 anchor predeploy holding the latest anchored L1 block number.
pub const L1_ANCHOR_LATEST_SLOT: u64 = 2 * L1_ANCHOR_RING_SIZE;

/// Runtime bytecode of the L1 anchor predeploy (hand-assembled, see `chain-specs/README.md`).
pub const L1_ANCHOR_CODE: &str = "3373fffffffffffffffffffffffffffffffffffffffe1461006457361561004b576020361415610060575f35611fff810680611fff015482141561006057548015610060575f5260205ff35b613ffe54805f52611fff90065460205260405ff35b5f5ffd5b6040361415610060575f3580613ffe55611fff81066020358155611fff015500";

/// Errors loading or validating a chain spec.
#[derive(Debug, thiserror::Error)]
pub enum ChainSpecError {
    /// The file could not be read.
    #[error("reading chain spec {path}: {source}")]
    Io {
        /// Path that was read.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The JSON is not a valid genesis.
    #[error("parsing genesis JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A fork up to Prague is not active at genesis.
    #[error("fork {0} must be active at genesis (the L2 runs Prague rules from genesis)")]
    ForkNotAtGenesis(&'static str),
    /// The chain id is zero.
    #[error("chain id must be non-zero")]
    ZeroChainId,
    /// The `alloc` names one account twice (e.g. in different letter cases); a JSON parser would
    /// silently keep only the last entry.
    #[error("genesis alloc lists account {0} more than once")]
    DuplicateAlloc(Address),
    /// The `config.based` section is malformed (unknown key, wrong type).
    #[error("config.based: {0}")]
    BasedSection(serde_json::Error),
    /// The `config.based.sequencing` section breaks a rule.
    #[error(transparent)]
    Sequencing(#[from] SequencingError),
    /// The `config.based.l1` or `config.based.derivation` section is missing or breaks a rule.
    #[error(transparent)]
    Rollup(#[from] RollupError),
    /// The genesis gas limit is outside the L2 bounds (protocol §4.3 rule 7).
    #[error(
        "gasLimit {0} is outside {min}..={max} (protocol §4.3 rule 7)",
        min = limits::MIN_L2_GAS_LIMIT,
        max = limits::MAX_L2_GAS_LIMIT
    )]
    GasLimit(u64),
    /// The genesis block number is not zero (derivation starts the L2 at block 0).
    #[error("number must be 0 (the L2 starts at block 0), got {0}")]
    GenesisNumber(u64),
    /// The genesis base fee does not fit 64 bits.
    #[error("baseFeePerGas must fit 64 bits")]
    BaseFee,
}

/// The chain spec's own section, `config.based` (everything that is not geth genesis).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BasedSection {
    /// The L1 (required).
    #[serde(default)]
    l1: Option<L1Params>,
    /// Derivation windows (required).
    #[serde(default)]
    derivation: Option<DerivationParams>,
    /// Posting rights (absent: permissionless).
    #[serde(default)]
    sequencing: Option<Sequencing>,
}

/// Fails if the genesis JSON's `alloc` object names one address twice. JSON objects keep only the
/// last of repeated keys when parsed into a map, and `0xAb..` and `0xab..` are different keys for the
/// same account, so a repeated account would silently lose all but its last entry.
fn check_alloc_unique(json: &str) -> Result<(), ChainSpecError> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

    /// The keys of a JSON object, in order, with their values skipped.
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((key, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                        keys.push(key);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(V)
        }
    }
    #[derive(serde::Deserialize)]
    struct AllocOnly {
        #[serde(default)]
        alloc: Option<Keys>,
    }

    let parsed: AllocOnly = serde_json::from_str(json)?;
    let mut seen = std::collections::HashSet::new();
    for key in parsed.alloc.map(|k| k.0).unwrap_or_default() {
        // Keys that are not addresses were already rejected by the `Genesis` parse.
        if let Ok(address) = key.parse::<Address>()
            && !seen.insert(address)
        {
            return Err(ChainSpecError::DuplicateAlloc(address));
        }
    }
    Ok(())
}

/// The hardfork the L2 runs (from genesis). Only Prague is supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hardfork {
    /// Ethereum Prague rules (revm `SpecId::PRAGUE`).
    Prague,
}

/// A loaded, validated L2 chain specification.
#[derive(Debug, Clone)]
pub struct ChainSpec {
    genesis: Genesis,
    genesis_header: Header,
    genesis_hash: B256,
    rollup: Rollup,
    sequencing: Sequencing,
}

impl ChainSpec {
    /// Loads a spec by name (`devnet`) or, otherwise, from a file path.
    pub fn load(name_or_path: &str) -> Result<Self, ChainSpecError> {
        match name_or_path {
            "devnet" => Self::from_json(DEVNET_GENESIS_JSON),
            path => {
                let json = std::fs::read_to_string(Path::new(path))
                    .map_err(|source| ChainSpecError::Io { path: path.to_owned(), source })?;
                Self::from_json(&json)
            }
        }
    }

    /// The embedded devnet spec.
    pub fn devnet() -> Result<Self, ChainSpecError> {
        Self::from_json(DEVNET_GENESIS_JSON)
    }

    /// Parses and validates a genesis JSON.
    pub fn from_json(json: &str) -> Result<Self, ChainSpecError> {
        let genesis: Genesis = serde_json::from_str(json)?;
        check_alloc_unique(json)?;
        Self::from_genesis(genesis)
    }

    /// Validates a parsed genesis and computes its header.
    pub fn from_genesis(genesis: Genesis) -> Result<Self, ChainSpecError> {
        let c = &genesis.config;
        if c.chain_id == 0 {
            return Err(ChainSpecError::ZeroChainId);
        }
        let blocks: [(&'static str, Option<u64>); 9] = [
            ("homestead", c.homestead_block),
            ("eip150", c.eip150_block),
            ("eip155", c.eip155_block),
            ("eip158", c.eip158_block),
            ("byzantium", c.byzantium_block),
            ("constantinople", c.constantinople_block),
            ("petersburg", c.petersburg_block),
            ("istanbul", c.istanbul_block),
            ("berlin", c.berlin_block),
        ];
        for (name, at) in blocks {
            if at != Some(0) {
                return Err(ChainSpecError::ForkNotAtGenesis(name));
            }
        }
        if c.london_block != Some(0) {
            return Err(ChainSpecError::ForkNotAtGenesis("london"));
        }
        let times: [(&'static str, Option<u64>); 3] =
            [("shanghai", c.shanghai_time), ("cancun", c.cancun_time), ("prague", c.prague_time)];
        for (name, at) in times {
            if !matches!(at, Some(t) if t <= genesis.timestamp) {
                return Err(ChainSpecError::ForkNotAtGenesis(name));
            }
        }
        let based: BasedSection = match c.extra_fields.get("based") {
            Some(v) => serde_json::from_value(v.clone()).map_err(ChainSpecError::BasedSection)?,
            None => BasedSection::default(),
        };
        let sequencing = based.sequencing.unwrap_or_default();
        sequencing.validate()?;
        let rollup = Rollup {
            l1: based.l1.ok_or(RollupError::Missing("l1"))?,
            derivation: based.derivation.ok_or(RollupError::Missing("derivation"))?,
        };
        rollup.validate(c.chain_id)?;
        if !(limits::MIN_L2_GAS_LIMIT..=limits::MAX_L2_GAS_LIMIT).contains(&genesis.gas_limit) {
            return Err(ChainSpecError::GasLimit(genesis.gas_limit));
        }
        if let Some(number) = genesis.number.filter(|n| *n != 0) {
            return Err(ChainSpecError::GenesisNumber(number));
        }
        if genesis.base_fee_per_gas.is_some_and(|b| u64::try_from(b).is_err()) {
            return Err(ChainSpecError::BaseFee);
        }
        let genesis_header = genesis_header(&genesis);
        let genesis_hash = genesis_header.hash_slow();
        Ok(Self { genesis, genesis_header, genesis_hash, rollup, sequencing })
    }

    /// The L2 chain id.
    pub fn chain_id(&self) -> u64 {
        self.genesis.config.chain_id
    }

    /// The hardfork active at every block.
    pub fn hardfork(&self) -> Hardfork {
        Hardfork::Prague
    }

    /// The parsed genesis.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// Genesis accounts.
    pub fn alloc(&self) -> &BTreeMap<Address, GenesisAccount> {
        &self.genesis.alloc
    }

    /// The genesis header (state root included).
    pub fn genesis_header(&self) -> &Header {
        &self.genesis_header
    }

    /// Hash of the genesis header.
    pub fn genesis_hash(&self) -> B256 {
        self.genesis_hash
    }

    /// Who may post batches (`config.based.sequencing`; permissionless if absent).
    pub fn sequencing(&self) -> &Sequencing {
        &self.sequencing
    }

    /// This spec with another sequencing section (validated), e.g. a devnet run in another mode.
    pub fn with_sequencing(mut self, sequencing: Sequencing) -> Result<Self, ChainSpecError> {
        sequencing.validate()?;
        self.sequencing = sequencing;
        Ok(self)
    }

    /// The L1 and derivation parameters (`config.based.l1`, `config.based.derivation`).
    pub const fn rollup(&self) -> &Rollup {
        &self.rollup
    }

    /// The L1 the chain derives from (`config.based.l1`).
    pub const fn l1(&self) -> &L1Params {
        &self.rollup.l1
    }

    /// The derivation windows (`config.based.derivation`).
    pub const fn derivation(&self) -> &DerivationParams {
        &self.rollup.derivation
    }

    /// This spec with another L1 section (validated). For a devnet that deploys its `Inbox` at run
    /// time and hands the resulting spec to its nodes ([`ChainSpec::to_json`]); the genesis (and
    /// its hash) is unchanged.
    pub fn with_l1(mut self, l1: L1Params) -> Result<Self, ChainSpecError> {
        let rollup = Rollup { l1, ..self.rollup };
        rollup.validate(self.chain_id())?;
        self.rollup = rollup;
        Ok(self)
    }

    /// The spec as a chain spec JSON file that [`ChainSpec::from_json`] loads back to an equal spec
    /// (same genesis hash, same `config.based` sections).
    pub fn to_json(&self) -> Result<String, ChainSpecError> {
        let based = BasedSection {
            l1: Some(self.rollup.l1),
            derivation: Some(self.rollup.derivation),
            sequencing: Some(self.sequencing.clone()),
        };
        let mut genesis = self.genesis.clone();
        genesis.config.extra_fields.insert("based".into(), serde_json::to_value(based)?);
        Ok(serde_json::to_string_pretty(&genesis)?)
    }
}

/// Builds the Prague genesis header of `genesis` (state root computed from the alloc).
///
/// Base fee: the JSON's `baseFeePerGas`, else 1 gwei (EIP-1559 initial base fee). Withdrawals root: the
/// empty-trie root. Blob gas used / excess: the JSON's values or zero. Parent beacon block root: zero
/// (EIP-4788 genesis rule). Requests hash: the hash of the empty request list (EIP-7685).
pub fn genesis_header(genesis: &Genesis) -> Header {
    Header {
        parent_hash: genesis.parent_hash.unwrap_or_default(),
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: genesis.coinbase,
        state_root: genesis_state_root(&genesis.alloc),
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        logs_bloom: Default::default(),
        difficulty: genesis.difficulty,
        number: genesis.number.unwrap_or_default(),
        gas_limit: genesis.gas_limit,
        gas_used: 0,
        timestamp: genesis.timestamp,
        extra_data: genesis.extra_data.clone(),
        mix_hash: genesis.mix_hash,
        nonce: genesis.nonce.into(),
        // `ChainSpec::from_genesis` refuses a base fee above 64 bits; saturating is unreachable.
        base_fee_per_gas: Some(
            genesis
                .base_fee_per_gas
                .map_or(INITIAL_BASE_FEE, |b| u64::try_from(b).unwrap_or(u64::MAX)),
        ),
        withdrawals_root: Some(calculate_withdrawals_root(&[])),
        blob_gas_used: Some(genesis.blob_gas_used.unwrap_or_default()),
        excess_blob_gas: Some(genesis.excess_blob_gas.unwrap_or_default()),
        parent_beacon_block_root: Some(B256::ZERO),
        requests_hash: Some(EMPTY_REQUESTS_HASH),
        block_access_list_hash: None,
        slot_number: None,
    }
}

/// Computes the storage root of one account's storage (zero values omitted) with `HashBuilder`.
pub fn storage_root<'a>(storage: impl IntoIterator<Item = (&'a B256, &'a B256)>) -> B256 {
    let mut leaves: Vec<(B256, U256)> = storage
        .into_iter()
        .map(|(slot, value)| (keccak256(slot), U256::from_be_bytes(value.0)))
        .filter(|(_, v)| !v.is_zero())
        .collect();
    leaves.sort_unstable_by_key(|(k, _)| *k);
    let mut hb = HashBuilder::default();
    let mut buf = Vec::new();
    for (key, value) in leaves {
        buf.clear();
        alloy_rlp::Encodable::encode(&value, &mut buf);
        hb.add_leaf(Nibbles::unpack(key), &buf);
    }
    hb.root()
}

/// One account's trie leaf (nonce, balance, storage root, code hash) for a genesis account.
pub fn trie_account(account: &GenesisAccount) -> TrieAccount {
    let storage_root = account.storage.as_ref().map_or(EMPTY_ROOT_HASH, storage_root);
    let code_hash = match &account.code {
        Some(code) if !code.is_empty() => keccak256(code),
        _ => KECCAK_EMPTY,
    };
    TrieAccount {
        nonce: account.nonce.unwrap_or_default(),
        balance: account.balance,
        storage_root,
        code_hash,
    }
}

/// Computes the state root of a genesis alloc from scratch with `HashBuilder`.
pub fn genesis_state_root(alloc: &BTreeMap<Address, GenesisAccount>) -> B256 {
    let mut leaves: Vec<(B256, TrieAccount)> = alloc
        .iter()
        .map(|(address, account)| (keccak256(address), trie_account(account)))
        .collect();
    leaves.sort_unstable_by_key(|(k, _)| *k);
    let mut hb = HashBuilder::default();
    let mut buf = Vec::new();
    for (key, account) in leaves {
        buf.clear();
        alloy_rlp::Encodable::encode(&account, &mut buf);
        hb.add_leaf(Nibbles::unpack(key), &buf);
    }
    hb.root()
}

/// Genesis block number type re-export for callers.
pub type GenesisNumber = BlockNumber;

/// Decodes the hex bytecode of the L1 anchor predeploy.
pub fn l1_anchor_code() -> Bytes {
    // The constant is valid hex (checked by a test); an empty result would be caught by that test.
    Bytes::from(alloy_primitives::hex::decode(L1_ANCHOR_CODE).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    use alloy_eips::{eip2935::HISTORY_STORAGE_ADDRESS, eip4788::BEACON_ROOTS_ADDRESS};
    use alloy_primitives::b256;

    #[test]
    fn alloc_listing_an_account_twice_is_rejected() {
        let mut json: serde_json::Value = serde_json::from_str(DEVNET_GENESIS_JSON).unwrap();
        let alloc = json["alloc"].as_object_mut().unwrap();
        let first = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
        let account = alloc[first].clone();
        let address: Address = first.parse().unwrap();
        // The same account again, spelled in lower case: a distinct JSON key.
        let lower = format!("{address:#x}");
        assert_ne!(lower, first);
        alloc.insert(lower, account);
        let err = ChainSpec::from_json(&json.to_string()).unwrap_err();
        assert!(matches!(err, ChainSpecError::DuplicateAlloc(a) if a == address), "{err}");
        // The untouched devnet spec loads.
        ChainSpec::from_json(DEVNET_GENESIS_JSON).unwrap();
    }

    const ANVIL: [&str; 10] = [
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
        "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
        "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
        "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
        "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
        "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
        "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
        "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
    ];

    #[test]
    fn devnet_loads_with_prague_and_accounts() {
        let spec = ChainSpec::load("devnet").unwrap();
        assert_eq!(spec.chain_id(), DEVNET_CHAIN_ID);
        assert_eq!(spec.hardfork(), Hardfork::Prague);
        for a in ANVIL {
            // Checksummed parsing catches typos in the list.
            let addr = Address::parse_checksummed(a, None).unwrap();
            let acct = spec.alloc().get(&addr).unwrap();
            assert_eq!(acct.balance, U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18)));
        }
        let anchor = spec.alloc().get(&L1_ANCHOR_ADDRESS).unwrap();
        assert_eq!(anchor.code.as_ref().unwrap(), &l1_anchor_code());
        assert_eq!(
            spec.alloc().get(&BEACON_ROOTS_ADDRESS).unwrap().code.as_ref().unwrap(),
            &alloy_eips::eip4788::BEACON_ROOTS_CODE
        );
        assert_eq!(
            spec.alloc().get(&HISTORY_STORAGE_ADDRESS).unwrap().code.as_ref().unwrap(),
            &alloy_eips::eip2935::HISTORY_STORAGE_CODE
        );
        let h = spec.genesis_header();
        assert_eq!(h.base_fee_per_gas, Some(INITIAL_BASE_FEE));
        assert_eq!(h.withdrawals_root, Some(EMPTY_ROOT_HASH));
        assert_eq!(h.requests_hash, Some(EMPTY_REQUESTS_HASH));
        assert_eq!(h.blob_gas_used, Some(0));
        assert_eq!(h.excess_blob_gas, Some(0));
        assert_eq!(h.parent_beacon_block_root, Some(B256::ZERO));
        assert_eq!(spec.genesis_hash(), h.hash_slow());
    }

    #[test]
    fn devnet_runs_opt_in_and_bad_sections_are_refused() {
        let spec = ChainSpec::devnet().unwrap();
        let seq = spec.sequencing();
        assert_eq!(seq.mode, SequencingMode::OptIn);
        let v = seq.devnet_validators.as_ref().unwrap();
        assert!(!v.opted_in.is_empty() && v.opted_in.len() < v.registered.len());

        let with = |based: &str| {
            let json = DEVNET_GENESIS_JSON.replacen(
                "\"based\": {",
                &format!("\"based\": {based}, \"unused\": {{"),
                1,
            );
            ChainSpec::from_json(&json)
        };
        // Unknown key in the section, a rule broken, an unknown mode.
        assert!(matches!(with("{\"sequencin\": {}}"), Err(ChainSpecError::BasedSection(_))));
        assert!(matches!(
            with("{\"sequencing\": {\"mode\": \"opt-in\", \"slotsPerEpoch\": 0}}"),
            Err(ChainSpecError::Sequencing(SequencingError::SlotsPerEpoch(0)))
        ));
        assert!(matches!(
            with("{\"sequencing\": {\"mode\": \"sequencer\"}}"),
            Err(ChainSpecError::BasedSection(_))
        ));
        // Without a sequencing section: permissionless, same genesis hash (the section is not
        // genesis).
        let l1 = r#""l1": {"chainId": 1, "inboxAddress": "0x0101010101010101010101010101010101010101", "startBlock": 0}"#;
        let derivation = r#""derivation": {"maxAnchorAge": 64, "forcedInclusionWindow": 32}"#;
        let plain = with(&format!("{{{l1}, {derivation}}}")).unwrap();
        assert_eq!(plain.sequencing().mode, SequencingMode::Permissionless);
        assert_eq!(plain.genesis_hash(), spec.genesis_hash());
        // The L1 and derivation sections are required.
        assert!(matches!(
            with(&format!("{{{derivation}}}")),
            Err(ChainSpecError::Rollup(RollupError::Missing("l1")))
        ));
        assert!(matches!(
            with(&format!("{{{l1}}}")),
            Err(ChainSpecError::Rollup(RollupError::Missing("derivation")))
        ));
    }

    #[test]
    fn devnet_names_its_l1_and_windows() {
        let spec = ChainSpec::devnet().unwrap();
        assert_eq!(spec.l1().chain_id, 31337);
        assert_eq!(spec.l1().inbox_address, address!("0x5FbDB2315678afecb367f032d93F642f64180aa3"));
        assert_eq!(spec.l1().start_block, 0);
        assert_eq!(
            *spec.derivation(),
            DerivationParams { max_anchor_age: 64, forced_inclusion_window: 32 }
        );
    }

    /// Every rule of the spec gives a typed error whose message names the field.
    #[test]
    fn broken_rules_are_refused_naming_the_field() {
        let edit = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut json: serde_json::Value = serde_json::from_str(DEVNET_GENESIS_JSON).unwrap();
            f(&mut json);
            ChainSpec::from_json(&json.to_string()).unwrap_err()
        };
        let cases: Vec<(ChainSpecError, &str)> = vec![
            (edit(&|j| j["gasLimit"] = "0x1000".into()), "gasLimit 4096"),
            (edit(&|j| j["gasLimit"] = "0x3938701".into()), "gasLimit 60000001"),
            (edit(&|j| j["number"] = "0x5".into()), "number must be 0"),
            (edit(&|j| j["config"]["based"]["l1"]["chainId"] = 0.into()), "l1.chainId"),
            (edit(&|j| j["config"]["based"]["l1"]["chainId"] = 4242.into()), "l1.chainId (4242)"),
            (
                edit(&|j| {
                    j["config"]["based"]["l1"]["inboxAddress"] =
                        "0x0000000000000000000000000000000000000000".into()
                }),
                "l1.inboxAddress",
            ),
            (
                edit(&|j| j["config"]["based"]["derivation"]["maxAnchorAge"] = 0.into()),
                "derivation.maxAnchorAge",
            ),
            (
                edit(&|j| j["config"]["based"]["derivation"]["forcedInclusionWindow"] = 0.into()),
                "derivation.forcedInclusionWindow",
            ),
            (
                edit(&|j| {
                    j["config"]["based"]["l1"].as_object_mut().unwrap().remove("startBlock");
                }),
                "startBlock",
            ),
            (
                edit(&|j| {
                    j["config"]["based"].as_object_mut().unwrap().remove("derivation");
                }),
                "config.based.derivation is missing",
            ),
        ];
        for (err, field) in cases {
            assert!(err.to_string().contains(field), "{err} does not name {field}");
        }
    }

    #[test]
    fn to_json_round_trips() {
        let spec = ChainSpec::devnet()
            .unwrap()
            .with_l1(L1Params {
                chain_id: 7,
                inbox_address: Address::repeat_byte(9),
                start_block: 123,
            })
            .unwrap();
        let back = ChainSpec::from_json(&spec.to_json().unwrap()).unwrap();
        assert_eq!(back.genesis_hash(), spec.genesis_hash());
        assert_eq!(back.genesis_hash(), ChainSpec::devnet().unwrap().genesis_hash());
        assert_eq!(back.rollup(), spec.rollup());
        assert_eq!(back.l1().start_block, 123);
        assert_eq!(back.sequencing(), spec.sequencing());
        // `with_l1` validates.
        assert!(matches!(
            ChainSpec::devnet().unwrap().with_l1(L1Params { chain_id: 4242, ..*spec.l1() }),
            Err(ChainSpecError::Rollup(RollupError::SameChainId(4242)))
        ));
    }

    #[test]
    fn anchor_code_is_valid_hex() {
        assert_eq!(l1_anchor_code().len(), L1_ANCHOR_CODE.len() / 2);
    }

    #[test]
    fn state_root_matches_alloy_trie_reference() {
        let spec = ChainSpec::devnet().unwrap();
        let reference = alloy_trie::root::state_root_unhashed(
            spec.alloc().iter().map(|(a, acct)| (*a, trie_account(acct))),
        );
        assert_eq!(spec.genesis_header().state_root, reference);
    }

    /// Known value: the genesis of the ethereum/tests fixture
    /// `ValidBlocks/bcExample/basefeeExample.json` (Cancun), whose `pre` and header are copied into
    /// `testdata/basefee_example_genesis.json`.
    #[test]
    fn genesis_state_root_and_hash_match_fixture() {
        let json = include_str!("../testdata/basefee_example_genesis.json");
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let alloc: BTreeMap<Address, GenesisAccount> =
            serde_json::from_value(v["pre"].clone()).unwrap();
        let want_root: B256 =
            serde_json::from_value(v["genesisBlockHeader"]["stateRoot"].clone()).unwrap();
        assert_eq!(genesis_state_root(&alloc), want_root);
        assert_ne!(
            want_root,
            b256!("0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
        );
    }

    #[test]
    fn rejects_pre_prague_spec() {
        let mut g: Genesis = serde_json::from_str(DEVNET_GENESIS_JSON).unwrap();
        g.config.prague_time = None;
        assert!(matches!(
            ChainSpec::from_genesis(g),
            Err(ChainSpecError::ForkNotAtGenesis("prague"))
        ));
    }

    #[test]
    fn storage_root_skips_zero_values() {
        let a = B256::with_last_byte(1);
        let zero = B256::ZERO;
        let one = B256::with_last_byte(1);
        assert_eq!(storage_root([(&a, &zero)]), EMPTY_ROOT_HASH);
        let root = storage_root([(&a, &one)]);
        assert_eq!(root, alloy_trie::root::storage_root_unhashed([(a, U256::from(1))]));
    }
}
