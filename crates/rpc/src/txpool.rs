//! The `txpool_` namespace (`txpool_status`, `txpool_content`, `txpool_contentFrom`,
//! `txpool_inspect`).
//!
//! The node keeps no transaction pool: `eth_sendRawTransaction` checks a transaction and
//! forwards it to the proposer, whose pool this node does not see. What the node does hold that
//! is not in a block yet is its pending block: the preconfirmed transactions, executed in order on
//! the head (`based_preconfirm`, the `pending` tag). Those are reported as `pending` (executable,
//! in nonce order per sender); `queued` (transactions waiting for a nonce gap) is always empty.
//! Without a pending block (no preconfirmations, or a node that keeps no preconfirmed state) the
//! answers are geth's for an empty pool: `{"pending":"0x0","queued":"0x0"}` and
//! `{"pending":{},"queued":{}}`. Nothing is made up.

use std::collections::BTreeMap;

use alloy_consensus::{Transaction as _, transaction::Recovered};
use alloy_primitives::Address;
use alloy_rpc_types_eth::Transaction;
use alloy_rpc_types_txpool::{
    TxpoolContent, TxpoolContentFrom, TxpoolInspect, TxpoolInspectSummary, TxpoolStatus,
};
use jsonrpsee::core::{RpcResult, async_trait};

use crate::{api::TxpoolApiServer, error, eth::EthHandler};

/// One pending transaction as the pool namespace reports it: no block fields (it is in no
/// block yet).
fn pool_transaction(tx: alloy_consensus::TxEnvelope, sender: Address) -> Transaction {
    Transaction {
        inner: Recovered::new_unchecked(tx, sender),
        block_hash: None,
        block_number: None,
        transaction_index: None,
        block_timestamp: None,
        effective_gas_price: None,
    }
}

impl EthHandler {
    /// The pending block's transactions with their senders, in block order (empty without one).
    fn pool(&self) -> error::RpcResult<Vec<(alloy_consensus::TxEnvelope, Address)>> {
        Ok(self
            .pending()?
            .map(|p| {
                p.body.transactions.iter().cloned().zip(p.body.senders.iter().copied()).collect()
            })
            .unwrap_or_default())
    }
}

#[async_trait]
impl TxpoolApiServer for EthHandler {
    async fn txpool_status(&self) -> RpcResult<TxpoolStatus> {
        let pending = self.pool()?.len() as u64;
        Ok(TxpoolStatus { pending, queued: 0 })
    }

    async fn txpool_content(&self) -> RpcResult<TxpoolContent> {
        let mut pending: BTreeMap<Address, BTreeMap<String, Transaction>> = BTreeMap::new();
        for (tx, sender) in self.pool()? {
            let nonce = tx.nonce().to_string();
            pending.entry(sender).or_default().insert(nonce, pool_transaction(tx, sender));
        }
        Ok(TxpoolContent { pending, queued: BTreeMap::new() })
    }

    async fn txpool_content_from(&self, from: Address) -> RpcResult<TxpoolContentFrom> {
        let pending = self
            .pool()?
            .into_iter()
            .filter(|(_, sender)| *sender == from)
            .map(|(tx, sender)| (tx.nonce().to_string(), pool_transaction(tx, sender)))
            .collect();
        Ok(TxpoolContentFrom { pending, queued: BTreeMap::new() })
    }

    async fn txpool_inspect(&self) -> RpcResult<TxpoolInspect> {
        let mut pending: BTreeMap<Address, BTreeMap<String, TxpoolInspectSummary>> =
            BTreeMap::new();
        for (tx, sender) in self.pool()? {
            let nonce = tx.nonce().to_string();
            pending.entry(sender).or_default().insert(nonce, TxpoolInspectSummary::from_tx(tx));
        }
        Ok(TxpoolInspect { pending, queued: BTreeMap::new() })
    }
}

#[cfg(test)]
mod tests {
    use alloy_eips::{eip2718::Encodable2718, eip2930::AccessList};
    use alloy_primitives::Address;
    use alloy_rpc_types_txpool::TxpoolInspect;
    use serde_json::json;

    use crate::{
        PreconfBackend,
        debug::tests::{ADD, COUNTER, call_tx, dev, module_with, rpc},
        test_utils::MemoryChain,
    };

    #[tokio::test]
    async fn txpool_reports_the_pending_block_and_an_empty_pool_without_one() {
        let chain = MemoryChain::new(crate::debug::tests::alloc());
        let (module, based) = module_with(&chain, |_| {});
        let empty = json!({"pending": {}, "queued": {}});
        assert_eq!(
            rpc(&module, "txpool_status", json!([])).await.unwrap(),
            json!({"pending": "0x0", "queued": "0x0"})
        );
        assert_eq!(rpc(&module, "txpool_content", json!([])).await.unwrap(), empty);
        assert_eq!(rpc(&module, "txpool_inspect", json!([])).await.unwrap(), empty);
        assert_eq!(rpc(&module, "txpool_contentFrom", json!([dev()])).await.unwrap(), empty);

        based.preconf.attach(chain.clone());
        let first = call_tx(0, ADD, AccessList::default());
        let second = call_tx(1, COUNTER, AccessList::default());
        for tx in [&first, &second] {
            based.preconf.preconfirm(tx.encoded_2718().into(), 1, None).unwrap();
        }

        assert_eq!(
            rpc(&module, "txpool_status", json!([])).await.unwrap(),
            json!({"pending": "0x2", "queued": "0x0"})
        );
        let content = rpc(&module, "txpool_content", json!([])).await.unwrap();
        let sender = dev().to_checksum(None);
        let mine = &content["pending"][&sender];
        assert_eq!(mine["0"]["hash"], json!(first.tx_hash()));
        assert_eq!(mine["1"]["hash"], json!(second.tx_hash()));
        assert_eq!(mine["0"]["blockNumber"], json!(null));
        assert_eq!(mine["0"]["from"], json!(dev()));
        assert_eq!(content["queued"], json!({}));
        let from = rpc(&module, "txpool_contentFrom", json!([dev()])).await.unwrap();
        assert_eq!(from["pending"]["1"]["hash"], json!(second.tx_hash()));
        let other =
            rpc(&module, "txpool_contentFrom", json!([Address::repeat_byte(9)])).await.unwrap();
        assert_eq!(other, empty);

        let inspect = rpc(&module, "txpool_inspect", json!([])).await.unwrap();
        let text = inspect["pending"][&sender]["0"].as_str().unwrap();
        assert_eq!(
            text.to_lowercase(),
            format!("{ADD}: 0 wei + 500000 gas × 10000000000 wei").to_lowercase()
        );
        let parsed: TxpoolInspect = serde_json::from_value(inspect).unwrap();
        assert_eq!(parsed.pending[&dev()]["1"].to, Some(COUNTER));

        // Once the transactions are in a block they leave the pool.
        chain.mine(vec![first, second]);
        based.preconf.rebuild();
        assert_eq!(
            rpc(&module, "txpool_status", json!([])).await.unwrap(),
            json!({"pending": "0x0", "queued": "0x0"})
        );
    }

    /// `based_preconfirm` reports a transaction to pending-transaction filters once, when it
    /// enters the pending block, not again when the same transaction is preconfirmed again.
    #[tokio::test]
    async fn preconfirm_announces_a_new_pending_transaction_once() {
        let chain = MemoryChain::new(crate::debug::tests::alloc());
        let (module, based) = module_with(&chain, |_| {});
        based.preconf.attach(chain.clone());
        let filter = rpc(&module, "eth_newPendingTransactionFilter", json!([])).await.unwrap();
        let first = call_tx(0, ADD, AccessList::default());
        let second = call_tx(1, COUNTER, AccessList::default());
        let raw =
            |tx: &alloy_consensus::TxEnvelope| alloy_primitives::Bytes::from(tx.encoded_2718());
        for tx in [&first, &first, &second] {
            let answer = rpc(&module, "based_preconfirm", json!([raw(tx), "0x1"])).await.unwrap();
            assert_eq!(answer["txHash"], json!(tx.tx_hash()));
        }
        let changes = rpc(&module, "eth_getFilterChanges", json!([filter])).await.unwrap();
        assert_eq!(changes, json!([first.tx_hash(), second.tx_hash()]));
        // Preconfirmed again later: nothing new.
        rpc(&module, "based_preconfirm", json!([raw(&second), "0x1"])).await.unwrap();
        let changes = rpc(&module, "eth_getFilterChanges", json!([filter])).await.unwrap();
        assert_eq!(changes, json!([]));
    }
}
