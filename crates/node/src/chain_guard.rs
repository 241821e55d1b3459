//! The chain a data directory belongs to.
//!
//! The genesis hash alone does not name a chain: two chain specs with the same genesis but another
//! `Inbox`, start block or derivation window derive different L2 chains. At first start the node
//! records the chain spec's consensus parameters in the store (meta key `chain/params`, JSON); at
//! every later start it refuses a chain spec whose parameters differ, naming the field, instead of
//! silently deriving another chain on top of the stored one. A store written before this record
//! existed gets it at its next start.

use based_chainspec::ChainSpec;
use based_storage::{Store, StoreError};
use serde::{Deserialize, Serialize};

const KEY: &[u8] = b"chain/params";

/// The consensus parameters a store was created with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainParams {
    /// Genesis block hash.
    pub genesis_hash: alloy_primitives::B256,
    /// L2 chain id.
    pub chain_id: u64,
    /// `config.based.l1.chainId`.
    pub l1_chain_id: u64,
    /// `config.based.l1.inboxAddress`.
    pub inbox_address: alloy_primitives::Address,
    /// `config.based.l1.startBlock`.
    pub start_block: u64,
    /// `config.based.derivation.maxAnchorAge`.
    pub max_anchor_age: u64,
    /// `config.based.derivation.forcedInclusionWindow`.
    pub forced_inclusion_window: u64,
}

impl ChainParams {
    /// The parameters of `spec`.
    pub fn of(spec: &ChainSpec) -> Self {
        Self {
            genesis_hash: spec.genesis_hash(),
            chain_id: spec.chain_id(),
            l1_chain_id: spec.l1().chain_id,
            inbox_address: spec.l1().inbox_address,
            start_block: spec.l1().start_block,
            max_anchor_age: spec.derivation().max_anchor_age,
            forced_inclusion_window: spec.derivation().forced_inclusion_window,
        }
    }

    /// The first field that differs from `other`, as `(name, self, other)`.
    fn first_difference(&self, other: &Self) -> Option<(&'static str, String, String)> {
        let pairs: [(&'static str, String, String); 7] = [
            ("genesis hash", self.genesis_hash.to_string(), other.genesis_hash.to_string()),
            ("chainId", self.chain_id.to_string(), other.chain_id.to_string()),
            (
                "config.based.l1.chainId",
                self.l1_chain_id.to_string(),
                other.l1_chain_id.to_string(),
            ),
            (
                "config.based.l1.inboxAddress",
                self.inbox_address.to_string(),
                other.inbox_address.to_string(),
            ),
            (
                "config.based.l1.startBlock",
                self.start_block.to_string(),
                other.start_block.to_string(),
            ),
            (
                "config.based.derivation.maxAnchorAge",
                self.max_anchor_age.to_string(),
                other.max_anchor_age.to_string(),
            ),
            (
                "config.based.derivation.forcedInclusionWindow",
                self.forced_inclusion_window.to_string(),
                other.forced_inclusion_window.to_string(),
            ),
        ];
        pairs.into_iter().find(|(_, a, b)| a != b)
    }
}

/// Why a store cannot be used with a chain spec.
#[derive(Debug, thiserror::Error)]
pub enum ChainGuardError {
    /// The store belongs to another chain.
    #[error(
        "this data directory holds another chain: its {field} is {stored}, the chain spec says \
         {given}; start with the chain spec it was created with, or a new --datadir"
    )]
    OtherChain {
        /// The first differing parameter.
        field: &'static str,
        /// The store's value.
        stored: String,
        /// The chain spec's value.
        given: String,
    },
    /// The stored record does not decode.
    #[error("the store's chain record is corrupt: {0}")]
    Corrupt(String),
    /// Store failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Records `spec`'s parameters in a store that has none, or checks them against the record.
pub fn check_or_record(store: &Store, spec: &ChainSpec) -> Result<(), ChainGuardError> {
    let given = ChainParams::of(spec);
    match store.get_meta(KEY)? {
        None => {
            let json =
                serde_json::to_vec(&given).map_err(|e| ChainGuardError::Corrupt(e.to_string()))?;
            store.put_meta(KEY, &json)?;
            Ok(())
        }
        Some(raw) => {
            let stored: ChainParams = serde_json::from_slice(&raw)
                .map_err(|e| ChainGuardError::Corrupt(e.to_string()))?;
            match stored.first_difference(&given) {
                None => Ok(()),
                Some((field, stored, given)) => {
                    Err(ChainGuardError::OtherChain { field, stored, given })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_refuses_another_chain_spec_naming_the_field() {
        let store = Store::open_in_memory().unwrap();
        let spec = ChainSpec::devnet().unwrap();
        check_or_record(&store, &spec).unwrap();
        // Same spec again: fine.
        check_or_record(&store, &spec).unwrap();
        // Another Inbox, same genesis: refused, naming the field.
        let mut l1 = *spec.l1();
        l1.inbox_address = alloy_primitives::Address::repeat_byte(0x42);
        let other = spec.clone().with_l1(l1).unwrap();
        assert_eq!(other.genesis_hash(), spec.genesis_hash());
        let err = check_or_record(&store, &other).unwrap_err().to_string();
        assert!(err.contains("config.based.l1.inboxAddress"), "{err}");
        assert!(err.contains("0x4242"), "{err}");
        // Another start block.
        let mut l1 = *spec.l1();
        l1.start_block = l1.start_block.saturating_add(1);
        let other = spec.clone().with_l1(l1).unwrap();
        let err = check_or_record(&store, &other).unwrap_err().to_string();
        assert!(err.contains("config.based.l1.startBlock"), "{err}");
        // A corrupt record is an error, not a silent rewrite.
        store.put_meta(KEY, b"not json").unwrap();
        assert!(matches!(check_or_record(&store, &spec), Err(ChainGuardError::Corrupt(_))));
    }
}
