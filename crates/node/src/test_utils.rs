//! Helpers for tests and benchmarks of the preconfirmed state (feature `test-utils`).

use crate::preconf::{ChainPosition, Preconfirmations};
use alloy_primitives::{Address, B256, U256};
use based_primitives::L1Anchor;
use based_rpc::PreconfBackend as _;
use based_storage::Store;

/// Error building [`funded_preconf`]'s store.
pub type SetupError = Box<dyn std::error::Error + Send + Sync>;

/// An in-memory store at the devnet genesis with chain id `chain_id`, the largest L2 block gas
/// limit ([`based_primitives::MAX_L2_GAS_LIMIT`]: 2,857 transfers fit one block) and `balance`
/// wei for each of `accounts`, and the preconfirmed state on it, rebased on that genesis (its
/// pending block started).
pub fn funded_preconf(
    chain_id: u64,
    accounts: impl IntoIterator<Item = Address>,
    balance: U256,
) -> Result<(Store, Preconfirmations), SetupError> {
    let mut spec: serde_json::Value =
        serde_json::from_str(&based_chainspec::ChainSpec::load("devnet")?.to_json()?)?;
    spec["config"]["chainId"] = chain_id.into();
    spec["gasLimit"] = format!("{:#x}", based_primitives::MAX_L2_GAS_LIMIT).into();
    let alloc = spec["alloc"].as_object_mut().ok_or("the devnet spec has no alloc")?;
    for account in accounts {
        alloc.insert(format!("{account:#x}"), serde_json::json!({ "balance": balance }));
    }
    let spec = based_chainspec::ChainSpec::from_json(&spec.to_string())?;
    let store = Store::open_in_memory()?;
    based_engine::init_genesis(&store, &spec)?;
    let preconf = Preconfirmations::new(store.clone(), chain_id);
    preconf.rebase(ChainPosition {
        l2_head: 0,
        anchor: L1Anchor { number: 0, hash: B256::ZERO },
        l1_number: 0,
        l1_timestamp: 0,
    });
    preconf.pending_block().ok_or("no pending block on the genesis")?;
    Ok((store, preconf))
}
