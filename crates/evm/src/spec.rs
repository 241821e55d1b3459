//! Fork configuration: a single [`SpecId`] active from genesis.

use alloy_eips::eip6110::MAINNET_DEPOSIT_CONTRACT_ADDRESS;
use alloy_evm::eth::spec::EthExecutorSpec;
use alloy_hardforks::{EthereumHardfork, EthereumHardforks, ForkCondition};
use alloy_primitives::Address;
use revm::primitives::hardfork::SpecId;

/// A chain on which one fork (and all earlier ones) is active from genesis.
///
/// The L2 uses `ForkSpec::new(SpecId::PRAGUE, None)`; strict mode uses the fixture's `network` and the
/// mainnet EIP-6110 deposit contract address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForkSpec {
    /// The active spec.
    pub spec: SpecId,
    /// EIP-6110 deposit contract (strict Prague mode only).
    pub deposit_contract: Option<Address>,
}

impl ForkSpec {
    /// Creates a spec with `spec` active from genesis.
    pub const fn new(spec: SpecId, deposit_contract: Option<Address>) -> Self {
        Self { spec, deposit_contract }
    }

    /// The Ethereum flavour used for fixtures (mainnet deposit contract).
    pub const fn ethereum(spec: SpecId) -> Self {
        Self { spec, deposit_contract: Some(MAINNET_DEPOSIT_CONTRACT_ADDRESS) }
    }
}

fn fork_spec_id(fork: EthereumHardfork) -> Option<SpecId> {
    Some(match fork {
        EthereumHardfork::Frontier => SpecId::FRONTIER,
        EthereumHardfork::Homestead => SpecId::HOMESTEAD,
        EthereumHardfork::Tangerine => SpecId::TANGERINE,
        EthereumHardfork::SpuriousDragon => SpecId::SPURIOUS_DRAGON,
        EthereumHardfork::Byzantium => SpecId::BYZANTIUM,
        EthereumHardfork::Constantinople | EthereumHardfork::Petersburg => SpecId::PETERSBURG,
        EthereumHardfork::Istanbul => SpecId::ISTANBUL,
        EthereumHardfork::Berlin => SpecId::BERLIN,
        EthereumHardfork::London => SpecId::LONDON,
        EthereumHardfork::Paris => SpecId::MERGE,
        EthereumHardfork::Shanghai => SpecId::SHANGHAI,
        EthereumHardfork::Cancun => SpecId::CANCUN,
        EthereumHardfork::Prague => SpecId::PRAGUE,
        EthereumHardfork::Osaka => SpecId::OSAKA,
        // DAO, blob-parameter-only forks and later forks are never active here.
        _ => return None,
    })
}

impl EthereumHardforks for ForkSpec {
    fn ethereum_fork_activation(&self, fork: EthereumHardfork) -> ForkCondition {
        match fork_spec_id(fork) {
            Some(id) if self.spec.is_enabled_in(id) => {
                if self.spec.is_enabled_in(SpecId::SHANGHAI) && id >= SpecId::SHANGHAI {
                    ForkCondition::Timestamp(0)
                } else {
                    ForkCondition::Block(0)
                }
            }
            _ => ForkCondition::Never,
        }
    }
}

impl EthExecutorSpec for ForkSpec {
    fn deposit_contract_address(&self) -> Option<Address> {
        self.deposit_contract
    }
}

/// Maps a BlockchainTests `network` name to a spec. Only post-merge single-fork networks are
/// supported (`Paris`/`Merge`, `Shanghai`, `Cancun`, `Prague`); others return `None`.
pub fn spec_id_from_network(network: &str) -> Option<SpecId> {
    Some(match network {
        "Merge" | "Paris" => SpecId::MERGE,
        "Shanghai" => SpecId::SHANGHAI,
        "Cancun" => SpecId::CANCUN,
        "Prague" => SpecId::PRAGUE,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_follows_spec() {
        let s = ForkSpec::new(SpecId::CANCUN, None);
        assert!(s.is_cancun_active_at_timestamp(0));
        assert!(!s.is_prague_active_at_timestamp(u64::MAX));
        assert!(s.is_paris_active_at_block(0));
        assert!(s.is_london_active_at_block(0));
        assert_eq!(s.ethereum_fork_activation(EthereumHardfork::Dao), ForkCondition::Never);
        assert_eq!(spec_id_from_network("Cancun"), Some(SpecId::CANCUN));
        assert_eq!(spec_id_from_network("Frontier"), None);
    }
}
