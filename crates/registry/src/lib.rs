//! The validator opt-in `Registry` (spec: `docs/registry.md`): Rust bindings of
//! `contracts/src/Registry.sol` and the BLS12-381 side of registration.
//!
//! - [`Registry`] are the `sol!` bindings generated from the committed artifact
//!   `contracts/out/Registry.json` (`make contracts`; `make check-contracts` fails when stale), and
//!   [`registry_creation_code`] builds the deployment bytecode for a [`RegistryConfig`]
//!   ([`registry_creation_code_with`] also sets the commitment slasher of `slashCommitment`).
//! - [`bls`] holds keys and signatures ([`BlsSecretKey`], [`BlsPublicKey`], [`BlsSignature`], backed by
//!   `blst`), their EIP-2537 byte layouts, the registration message and the pubkey identity
//!   ([`pubkey_hash`]).
//!
//! Invariants:
//! - Signatures use the DST [`DST`] (Ethereum's consensus ciphersuite), hash to G2 per RFC 9380, exactly as
//!   `BLS.hashToG2` does on L1 with the EIP-2537 precompiles.
//! - [`registration_message`] produces the same 128 bytes as `Registry.registrationMessage(owner)`.
//! - A key's identity is `keccak256` of its 128-byte EIP-2537 encoding, on both sides.
//! - No function panics on bad input: malformed encodings are [`RegistryError`]s.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

pub mod bls;
pub mod client;

pub use bls::{
    BlsPublicKey, BlsSecretKey, BlsSignature, DST, G1_ENCODED_LEN, G2_ENCODED_LEN,
    REGISTRATION_DOMAIN, pubkey_hash, registration_message,
};
pub use client::{ClientError, OnChainConfig, RegistryClient, ValidatorStatus};

use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::SolConstructor;

#[allow(missing_docs, unreachable_pub, clippy::all)]
mod bindings {
    alloy_sol_types::sol!(
        #[sol(all_derives)]
        Registry,
        "../../contracts/out/Registry.json"
    );
}

/// `BLS` points and `ISlasher` structs (`slashCommitment`) as the `Registry` ABI names them.
pub use bindings::{BLS, ISlasher, Registry};

/// Errors of this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// An encoded point or key has the wrong length.
    #[error("invalid length: expected {expected} bytes, got {got}")]
    InvalidLength {
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// The 16 padding bytes in front of an EIP-2537 Fp element are not zero.
    #[error("non-zero padding in an EIP-2537 field element")]
    NonZeroPadding,
    /// The point at infinity where a proper point is required.
    #[error("point at infinity")]
    Infinity,
    /// `blst` rejected the input (not on the curve, not in the subgroup, bad scalar, ...).
    #[error("bls: {0}")]
    Bls(String),
}

/// Deployment parameters of the `Registry` (its constructor's `Config`). Times are in seconds of L1
/// block timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryConfig {
    /// Minimum collateral in wei for registering and for having commit rights.
    pub min_collateral: U256,
    /// Seconds after `optIn` until the committer is effective; at least 1 (the contract refuses 0).
    pub opt_in_delay: u64,
    /// Seconds after `optOut` / `unregister` until the committer stops being effective; at least 1.
    pub opt_out_delay: u64,
    /// Seconds after `unregister` until `claimCollateral`; must be `>= opt_out_delay`.
    pub unregistration_delay: u64,
    /// The only caller of `Registry.slash` (zero = slashing disabled): the `Lookahead`, whose
    /// contest slashes a wrong lookahead's poster; deploy with its precomputed CREATE address.
    pub slasher: Address,
}

impl RegistryConfig {
    /// Short windows for the local devnet (2 s L1 blocks): 1 ether, opt-in/out after 2 "epochs" of
    /// 32 such blocks (128 s), claim after 256 s.
    pub const fn devnet() -> Self {
        Self {
            min_collateral: U256::from_limbs([1_000_000_000_000_000_000, 0, 0, 0]),
            opt_in_delay: 128,
            opt_out_delay: 128,
            unregistration_delay: 256,
            slasher: Address::ZERO,
        }
    }

    /// The ABI value of the constructor argument, commitment slashing disabled
    /// (`commitmentSlasher = 0`).
    pub fn to_sol(&self) -> Registry::Config {
        self.to_sol_with(Address::ZERO)
    }

    /// The ABI value of the constructor argument with `commitment_slasher` as the `ISlasher` of
    /// `slashCommitment` (zero = disabled; the `PreconfSlasher` in opt-in mode).
    pub fn to_sol_with(&self, commitment_slasher: Address) -> Registry::Config {
        Registry::Config {
            minCollateral: self.min_collateral,
            optInDelay: self.opt_in_delay,
            optOutDelay: self.opt_out_delay,
            unregistrationDelay: self.unregistration_delay,
            slasher: self.slasher,
            commitmentSlasher: commitment_slasher,
        }
    }
}

/// Creation bytecode of `Registry` with its constructor argument appended (deploy with a plain
/// contract-creation transaction); commitment slashing disabled.
pub fn registry_creation_code(config: &RegistryConfig) -> Bytes {
    registry_creation_code_with(config, Address::ZERO)
}

/// Creation bytecode of `Registry` whose `slashCommitment` is judged by `commitment_slasher` (an
/// `ISlasher`, e.g. the `PreconfSlasher`; zero = disabled). Kept apart from [`RegistryConfig`] so
/// existing struct literals keep compiling.
pub fn registry_creation_code_with(config: &RegistryConfig, commitment_slasher: Address) -> Bytes {
    let args =
        Registry::constructorCall { config: config.to_sol_with(commitment_slasher) }.abi_encode();
    let mut code = Registry::BYTECODE.to_vec();
    code.extend_from_slice(&args);
    tracing::debug!(target: "registry", len = code.len(), "registry creation code");
    Bytes::from(code)
}

/// Runtime bytecode of `Registry` (note: immutables are zero in it; it is not usable for a genesis
/// allocation as is).
pub fn registry_runtime_code() -> Bytes {
    Registry::DEPLOYED_BYTECODE.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_code_appends_config() {
        let cfg = RegistryConfig::devnet();
        let code = registry_creation_code(&cfg);
        assert_eq!(code.len(), Registry::BYTECODE.len() + 6 * 32);
        assert!(code.starts_with(&Registry::BYTECODE));
        // minCollateral is the first word after the bytecode.
        let word = &code[Registry::BYTECODE.len()..Registry::BYTECODE.len() + 32];
        assert_eq!(U256::from_be_slice(word), cfg.min_collateral);
        // commitmentSlasher is the last word.
        let slasher = Address::repeat_byte(0x5a);
        let code = registry_creation_code_with(&cfg, slasher);
        assert_eq!(&code[code.len() - 20..], slasher.as_slice());
        assert_eq!(&registry_creation_code(&cfg)[code.len() - 32..], &[0u8; 32]);
    }

    #[test]
    fn devnet_min_collateral_is_one_ether() {
        assert_eq!(
            RegistryConfig::devnet().min_collateral,
            U256::from(10u64).pow(U256::from(18u64))
        );
    }
}
