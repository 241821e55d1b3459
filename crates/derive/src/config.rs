//! Derivation parameters (protocol §2, §6, §7).
//!
//! Nothing here is a source of truth: the per-chain windows come from the chain spec
//! ([`DeriveConfig::from_spec`], `config.based.derivation`) and the protocol-wide limits from
//! [`based_chainspec::limits`], which the executor (`based-evm`) uses too.

use based_chainspec::ChainSpec;

pub use based_chainspec::limits::{MAX_DEPOSITS_PER_BLOCK, MAX_L2_GAS_LIMIT, MIN_L2_GAS_LIMIT};

/// Consensus parameters of the derivation. Every node of a chain must use the same values: build
/// them with [`DeriveConfig::from_spec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeriveConfig {
    /// L2 chain id; batches naming another chain are skipped.
    pub l2_chain_id: u64,
    /// `MAX_ANCHOR_AGE` (protocol §4.3 rule 4). Must be >= 1.
    pub max_anchor_age: u64,
    /// `FORCED_INCLUSION_WINDOW` (protocol §6.3).
    pub forced_inclusion_window: u64,
    /// See [`MAX_DEPOSITS_PER_BLOCK`].
    pub max_deposits_per_block: usize,
    /// See [`MIN_L2_GAS_LIMIT`].
    pub min_gas_limit: u64,
    /// See [`MAX_L2_GAS_LIMIT`].
    pub max_gas_limit: u64,
}

impl DeriveConfig {
    /// The parameters of the chain `spec` (its chain id and `config.based.derivation` windows, the
    /// protocol limits). The spec was validated at load, so the result passes
    /// [`DeriveConfig::validate`].
    pub fn from_spec(spec: &ChainSpec) -> Self {
        let d = spec.derivation();
        Self {
            l2_chain_id: spec.chain_id(),
            max_anchor_age: d.max_anchor_age,
            forced_inclusion_window: d.forced_inclusion_window,
            max_deposits_per_block: MAX_DEPOSITS_PER_BLOCK,
            min_gas_limit: MIN_L2_GAS_LIMIT,
            max_gas_limit: MAX_L2_GAS_LIMIT,
        }
    }

    /// Devnet windows (`chain-specs/devnet.json`: `maxAnchorAge` 64, `forcedInclusionWindow` 32)
    /// for the given L2 chain id; for tests and benchmarks that need no spec.
    pub const fn devnet(l2_chain_id: u64) -> Self {
        Self {
            l2_chain_id,
            max_anchor_age: 64,
            forced_inclusion_window: 32,
            max_deposits_per_block: MAX_DEPOSITS_PER_BLOCK,
            min_gas_limit: MIN_L2_GAS_LIMIT,
            max_gas_limit: MAX_L2_GAS_LIMIT,
        }
    }

    /// Checks the parameters are usable (non-zero windows and caps, ordered gas bounds).
    pub const fn validate(&self) -> Result<(), &'static str> {
        if self.max_anchor_age == 0 {
            return Err("max_anchor_age must be >= 1");
        }
        if self.min_gas_limit > self.max_gas_limit {
            return Err("min_gas_limit > max_gas_limit");
        }
        if self.max_deposits_per_block == 0 {
            return Err("max_deposits_per_block must be >= 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_spec_takes_the_spec_windows() {
        let spec = ChainSpec::devnet().unwrap();
        let cfg = DeriveConfig::from_spec(&spec);
        assert_eq!(cfg, DeriveConfig::devnet(spec.chain_id()));
        cfg.validate().unwrap();
        let mut json: serde_json::Value =
            serde_json::from_str(based_chainspec::DEVNET_GENESIS_JSON).unwrap();
        json["config"]["based"]["derivation"]["maxAnchorAge"] = 7.into();
        json["config"]["based"]["derivation"]["forcedInclusionWindow"] = 3.into();
        let other = ChainSpec::from_json(&json.to_string()).unwrap();
        let cfg = DeriveConfig::from_spec(&other);
        assert_eq!((cfg.max_anchor_age, cfg.forced_inclusion_window), (7, 3));
    }
}
