//! Conversions from stored consensus objects to the alloy RPC response types.

use alloy_consensus::{ReceiptEnvelope, Transaction as _, TxEnvelope, transaction::Recovered};
use alloy_primitives::{Address, B256, TxKind, U256};
use alloy_rlp::Encodable;
use alloy_rpc_types_eth::{
    Block, BlockTransactions, Header as RpcHeader, Log, Transaction, TransactionInfo,
    TransactionReceipt,
};

use crate::backend::{BlockBody, SealedHeader};

/// Builds the RPC block (with full transactions or only hashes). `size` is the RLP length of the
/// whole block, as geth reports it. Full transactions carry `tx_block_hash` (the block's hash, or
/// `None` for the pending block, whose hash is provisional).
pub(crate) fn rpc_block(
    sealed: &SealedHeader,
    body: BlockBody,
    full: bool,
    tx_block_hash: Option<B256>,
) -> Block {
    let BlockBody { transactions, senders, withdrawals } = body;
    let consensus_body =
        alloy_consensus::BlockBody { transactions, ommers: Vec::new(), withdrawals };
    let block = alloy_consensus::Block { header: sealed.header.clone(), body: consensus_body };
    let size = block.length();
    let alloy_consensus::Block { header, body } = block;

    let txs = if full {
        let base_fee = header.base_fee_per_gas;
        BlockTransactions::Full(
            body.transactions
                .into_iter()
                .zip(senders)
                .enumerate()
                .map(|(index, (tx, sender))| {
                    rpc_transaction(
                        tx,
                        sender,
                        TxMeta {
                            block_hash: tx_block_hash,
                            block_number: header.number,
                            index: index as u64,
                            base_fee,
                            timestamp: header.timestamp,
                        },
                    )
                })
                .collect(),
        )
    } else {
        BlockTransactions::Hashes(body.transactions.iter().map(|tx| *tx.tx_hash()).collect())
    };

    let rpc_header = RpcHeader {
        hash: sealed.hash,
        inner: header,
        total_difficulty: None,
        size: Some(U256::from(size)),
    };
    Block {
        header: rpc_header,
        uncles: Vec::new(),
        transactions: txs,
        withdrawals: body.withdrawals,
    }
}

/// Position of a transaction in a block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TxMeta {
    /// `None` for a pending transaction.
    pub(crate) block_hash: Option<B256>,
    pub(crate) block_number: u64,
    pub(crate) index: u64,
    pub(crate) base_fee: Option<u64>,
    /// The block's timestamp (`blockTimestamp`, as geth and reth answer since execution-apis
    /// added it).
    pub(crate) timestamp: u64,
}

/// Builds the RPC transaction of an included transaction.
pub(crate) fn rpc_transaction(tx: TxEnvelope, sender: Address, meta: TxMeta) -> Transaction {
    let info = TransactionInfo {
        hash: Some(*tx.tx_hash()),
        index: Some(meta.index),
        block_hash: meta.block_hash,
        block_number: Some(meta.block_number),
        base_fee: meta.base_fee,
        block_timestamp: Some(meta.timestamp),
    };
    Transaction::from_transaction(Recovered::new_unchecked(tx, sender), info)
}

/// Builds the RPC receipts of all transactions of a block.
///
/// `gasUsed` is the difference of consecutive cumulative gas values, `logIndex` counts logs across
/// the whole block, `contractAddress` is `CREATE(sender, nonce)` for creations. Receipts and logs
/// carry `block_hash` (`None` for the pending block).
pub(crate) fn rpc_receipts(
    sealed: &SealedHeader,
    block_hash: Option<B256>,
    body: &BlockBody,
    receipts: Vec<ReceiptEnvelope>,
) -> Vec<TransactionReceipt> {
    let header = &sealed.header;
    let mut out = Vec::with_capacity(receipts.len());
    let mut prev_cumulative = 0u64;
    let mut log_index = 0u64;
    for (index, ((receipt, tx), sender)) in
        receipts.into_iter().zip(&body.transactions).zip(&body.senders).enumerate()
    {
        let cumulative = receipt.cumulative_gas_used();
        let gas_used = cumulative.saturating_sub(prev_cumulative);
        prev_cumulative = cumulative;
        let tx_hash = *tx.tx_hash();
        let inner = receipt.map_logs(|log| {
            let rpc_log = Log {
                inner: log,
                block_hash,
                block_number: Some(header.number),
                block_timestamp: Some(header.timestamp),
                transaction_hash: Some(tx_hash),
                transaction_index: Some(index as u64),
                log_index: Some(log_index),
                removed: false,
            };
            log_index += 1;
            rpc_log
        });
        let (to, contract_address) = match tx.kind() {
            TxKind::Call(to) => (Some(to), None),
            TxKind::Create => (None, Some(sender.create(tx.nonce()))),
        };
        out.push(TransactionReceipt {
            inner,
            transaction_hash: tx_hash,
            transaction_index: Some(index as u64),
            block_hash,
            block_number: Some(header.number),
            gas_used,
            effective_gas_price: tx.effective_gas_price(header.base_fee_per_gas),
            blob_gas_used: None,
            blob_gas_price: None,
            from: *sender,
            to,
            contract_address,
        });
    }
    out
}
