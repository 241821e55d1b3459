//! Where the proposer reads a sender's L2 account (nonce and balance) for the admission rule and
//! for requeueing transactions of orphaned proposals.

use alloy_primitives::Address;
use alloy_provider::Provider;
use based_admission::Account;

/// A source of L2 accounts (the latest L2 block's state).
#[jsonrpsee::core::async_trait]
pub trait AccountSource: Send + Sync + std::fmt::Debug {
    /// The account of `address` (next nonce and balance), or why it could not be read.
    async fn account(&self, address: Address) -> Result<Account, String>;
}

/// Reads accounts from an L2 node's JSON-RPC (`eth_getTransactionCount`, `eth_getBalance` at
/// `latest`).
#[derive(Debug, Clone)]
pub struct L2Accounts<P> {
    provider: P,
}

impl<P> L2Accounts<P> {
    /// Accounts read through `provider`.
    pub const fn new(provider: P) -> Self {
        Self { provider }
    }
}

#[jsonrpsee::core::async_trait]
impl<P: Provider + std::fmt::Debug> AccountSource for L2Accounts<P> {
    async fn account(&self, address: Address) -> Result<Account, String> {
        let nonce =
            self.provider.get_transaction_count(address).await.map_err(|e| e.to_string())?;
        let balance = self.provider.get_balance(address).await.map_err(|e| e.to_string())?;
        Ok(Account { nonce, balance })
    }
}
