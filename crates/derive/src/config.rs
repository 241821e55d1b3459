//! Derivation parameters (protocol §2, §6, §7).

/// Maximum age of an L2 block's L1 anchor relative to the proposal's inclusion block (devnet).
pub const MAX_ANCHOR_AGE: u64 = 64;
/// Number of L1 blocks after which a queued forced inclusion is due (devnet).
pub const FORCED_INCLUSION_WINDOW: u64 = 32;
/// Maximum number of deposits credited by one L2 block.
pub const MAX_DEPOSITS_PER_BLOCK: usize = 256;
/// Lowest valid manifest gas limit (protocol §4.3 rule 7).
pub const MIN_L2_GAS_LIMIT: u64 = 5_000;
/// Highest valid manifest gas limit (protocol §4.3 rule 7).
pub const MAX_L2_GAS_LIMIT: u64 = 60_000_000;

/// Consensus parameters of the derivation. Every node of a chain must use the same values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeriveConfig {
    /// L2 chain id; batches naming another chain are skipped.
    pub l2_chain_id: u64,
    /// See [`MAX_ANCHOR_AGE`]. Must be >= 1.
    pub max_anchor_age: u64,
    /// See [`FORCED_INCLUSION_WINDOW`].
    pub forced_inclusion_window: u64,
    /// See [`MAX_DEPOSITS_PER_BLOCK`].
    pub max_deposits_per_block: usize,
    /// See [`MIN_L2_GAS_LIMIT`].
    pub min_gas_limit: u64,
    /// See [`MAX_L2_GAS_LIMIT`].
    pub max_gas_limit: u64,
}

impl DeriveConfig {
    /// Devnet parameters (protocol §2) for the given L2 chain id.
    pub const fn devnet(l2_chain_id: u64) -> Self {
        Self {
            l2_chain_id,
            max_anchor_age: MAX_ANCHOR_AGE,
            forced_inclusion_window: FORCED_INCLUSION_WINDOW,
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
