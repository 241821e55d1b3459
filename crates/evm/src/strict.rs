//! Strict Ethereum mode (post-merge forks) for conformance fixtures: invalid transaction or header
//! field => invalid block.

use std::fmt::Debug;

use alloy_consensus::{
    Block, EMPTY_OMMER_ROOT_HASH, Header, Transaction, TxEnvelope,
    proofs::{calculate_receipt_root, calculate_transaction_root, calculate_withdrawals_root},
    transaction::SignerRecoverable,
};
use alloy_eips::{
    eip1559::BaseFeeParams, eip4844::DATA_GAS_PER_BLOB, eip7685::Requests, eip7840::BlobParams,
};
use alloy_evm::{
    Evm, EvmFactory, FromRecoveredTx,
    block::{SystemCaller, state_changes::post_block_withdrawals_balance_increments},
    eth::{EthEvmFactory, eip6110},
};
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::{B256, Bloom};
use revm::{
    DatabaseCommit, DatabaseRef,
    context::{TxEnv, result::EVMError},
    database::{State, states::bundle_state::BundleRetention},
    database_interface::{DBErrorMarker, DatabaseCommitExt},
    primitives::hardfork::SpecId,
};

use crate::{
    ExecutedBlock, ForkSpec, SealedHeader,
    l2::{StateOf, build_receipt, evm_env, logs_bloom},
};

/// Maximum gas limit (EIP-1985 style cap used by Ethereum clients).
const MAX_GAS_LIMIT: u64 = 0x7fff_ffff_ffff_ffff;
const MIN_GAS_LIMIT: u64 = 5000;
const MAX_EXTRA_DATA: usize = 32;

/// Why a block is invalid in strict mode (or execution failed).
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// A header field is inconsistent with the parent or the fork rules.
    #[error("invalid header: {0}")]
    Header(String),
    /// The body does not match the header commitments.
    #[error("invalid body: {0}")]
    Body(String),
    /// A transaction is invalid at its position.
    #[error("invalid transaction {index}: {reason}")]
    Transaction {
        /// Index of the transaction in the block.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// An EIP-4844 transaction is in its network form (with the blob sidecar: blobs, commitments,
    /// proofs). EIP-4844 allows only the canonical form (`TransactionType || rlp(fields)`, no
    /// sidecar) in a block body; the network form exists only on the wire between peers.
    #[error(
        "transaction {index}: EIP-4844 transaction with blob sidecar (network form) in a block body"
    )]
    BlobSidecarInBody {
        /// Index of the transaction in the block.
        index: usize,
    },
    /// Post-execution results differ from the header.
    #[error("post-execution mismatch: {0}")]
    PostExecution(String),
    /// The state database failed (not a validity verdict).
    #[error("database error: {0}")]
    Database(String),
}

fn header_err(msg: impl Into<String>) -> BlockError {
    BlockError::Header(msg.into())
}

/// Checks `header` against its `parent` under post-merge rules of `spec`.
pub fn validate_header_against_parent(
    spec: &ForkSpec,
    parent: &SealedHeader,
    header: &Header,
) -> Result<(), BlockError> {
    if header.parent_hash != parent.hash() {
        return Err(header_err("parent hash mismatch"));
    }
    if Some(header.number) != parent.number.checked_add(1) {
        return Err(header_err("block number is not parent + 1"));
    }
    if header.timestamp <= parent.timestamp {
        return Err(header_err("timestamp not greater than parent"));
    }
    if header.gas_limit > MAX_GAS_LIMIT || header.gas_limit < MIN_GAS_LIMIT {
        return Err(header_err("gas limit out of absolute bounds"));
    }
    if header.gas_limit.abs_diff(parent.gas_limit) >= parent.gas_limit / 1024 {
        return Err(header_err("gas limit changed too much"));
    }
    if header.gas_used > header.gas_limit {
        return Err(header_err("gas used above gas limit"));
    }
    if header.extra_data.len() > MAX_EXTRA_DATA {
        return Err(header_err("extra data too long"));
    }
    if !header.difficulty.is_zero() {
        return Err(header_err("non-zero difficulty after the merge"));
    }
    if !header.nonce.is_zero() {
        return Err(header_err("non-zero nonce after the merge"));
    }
    if header.ommers_hash != EMPTY_OMMER_ROOT_HASH {
        return Err(header_err("ommers hash is not the empty list hash"));
    }
    let expected_base_fee = parent
        .next_block_base_fee(BaseFeeParams::ethereum())
        .ok_or_else(|| header_err("parent has no base fee"))?;
    if header.base_fee_per_gas != Some(expected_base_fee) {
        return Err(header_err(format!(
            "base fee {:?}, expected {expected_base_fee}",
            header.base_fee_per_gas
        )));
    }
    let shanghai = spec.spec.is_enabled_in(SpecId::SHANGHAI);
    if header.withdrawals_root.is_some() != shanghai {
        return Err(header_err("withdrawals root presence does not match the fork"));
    }
    let cancun = spec.spec.is_enabled_in(SpecId::CANCUN);
    if header.blob_gas_used.is_some() != cancun
        || header.excess_blob_gas.is_some() != cancun
        || header.parent_beacon_block_root.is_some() != cancun
    {
        return Err(header_err("blob gas / beacon root presence does not match the fork"));
    }
    if let Some(params) = blob_params(spec.spec) {
        let expected = params.next_block_excess_blob_gas_osaka(
            parent.excess_blob_gas.unwrap_or_default(),
            parent.blob_gas_used.unwrap_or_default(),
            parent.base_fee_per_gas.unwrap_or_default(),
        );
        if header.excess_blob_gas != Some(expected) {
            return Err(header_err("excess blob gas mismatch"));
        }
        let used = header.blob_gas_used.unwrap_or_default();
        if used > params.max_blob_gas_per_block() || !used.is_multiple_of(DATA_GAS_PER_BLOB) {
            return Err(header_err("blob gas used above the block maximum or not a blob multiple"));
        }
    }
    let prague = spec.spec.is_enabled_in(SpecId::PRAGUE);
    if header.requests_hash.is_some() != prague {
        return Err(header_err("requests hash presence does not match the fork"));
    }
    if header.block_access_list_hash.is_some() || header.slot_number.is_some() {
        return Err(header_err("header fields of unsupported forks present"));
    }
    Ok(())
}

fn blob_params(spec: SpecId) -> Option<BlobParams> {
    if spec.is_enabled_in(SpecId::PRAGUE) {
        Some(BlobParams::prague())
    } else if spec.is_enabled_in(SpecId::CANCUN) {
        Some(BlobParams::cancun())
    } else {
        None
    }
}

/// True for an EIP-4844 transaction decoded in its network form (with the blob sidecar).
fn has_blob_sidecar(tx: &TxEnvelope) -> bool {
    matches!(tx, TxEnvelope::Eip4844(signed) if signed.tx().as_with_sidecar().is_some())
}

/// Validates and executes a full block in strict Ethereum mode on top of `db` (the parent state).
///
/// The returned header is the block's own header; the caller must still compare its state root with
/// the root computed from the returned bundle.
pub fn execute_strict_block<DB>(
    spec: &ForkSpec,
    chain_id: u64,
    db: DB,
    parent: &SealedHeader,
    block: &Block<TxEnvelope>,
) -> Result<ExecutedBlock, BlockError>
where
    DB: DatabaseRef + Debug,
    DB::Error: DBErrorMarker,
{
    let header = &block.header;
    validate_header_against_parent(spec, parent, header)?;

    // Only the canonical EIP-4844 form may appear in a body (checked first: the transactions root of
    // a network-form body is computed over the sidecar too, so it would fail for a vaguer reason).
    if let Some(index) = block.body.transactions.iter().position(has_blob_sidecar) {
        return Err(BlockError::BlobSidecarInBody { index });
    }

    // Body vs header commitments.
    if !block.body.ommers.is_empty() {
        return Err(BlockError::Body("ommers after the merge".into()));
    }
    if calculate_transaction_root(&block.body.transactions) != header.transactions_root {
        return Err(BlockError::Body("transactions root mismatch".into()));
    }
    match (&block.body.withdrawals, header.withdrawals_root) {
        (Some(w), Some(root)) if calculate_withdrawals_root(w) == root => {}
        (None, None) => {}
        _ => return Err(BlockError::Body("withdrawals do not match the withdrawals root".into())),
    }
    let mut blob_gas_used = 0u64;
    for (index, tx) in block.body.transactions.iter().enumerate() {
        if tx.is_eip4844() && !spec.spec.is_enabled_in(SpecId::CANCUN) {
            return Err(BlockError::Transaction { index, reason: "blob tx before Cancun".into() });
        }
        blob_gas_used = blob_gas_used.saturating_add(tx.blob_gas_used().unwrap_or_default());
    }
    if spec.spec.is_enabled_in(SpecId::CANCUN) && header.blob_gas_used != Some(blob_gas_used) {
        return Err(BlockError::Body("blob gas used mismatch".into()));
    }

    let mut senders = Vec::with_capacity(block.body.transactions.len());
    for (index, tx) in block.body.transactions.iter().enumerate() {
        let sender = tx
            .recover_signer()
            .map_err(|e| BlockError::Transaction { index, reason: format!("signature: {e}") })?;
        senders.push(sender);
    }

    let state: StateOf<DB> = State::builder().with_database_ref(db).with_bundle_update().build();
    let mut evm = EthEvmFactory::default().create_evm(state, evm_env(spec.spec, chain_id, header));
    let mut system = SystemCaller::new(*spec);
    system
        .apply_blockhashes_contract_call(header.parent_hash, &mut evm)
        .map_err(|e| BlockError::PostExecution(format!("EIP-2935 call: {e}")))?;
    system
        .apply_beacon_root_contract_call(header.parent_beacon_block_root, &mut evm)
        .map_err(|e| BlockError::PostExecution(format!("EIP-4788 call: {e}")))?;

    let mut receipts = Vec::with_capacity(block.body.transactions.len());
    let mut cumulative_gas_used = 0u64;
    for (index, (tx, sender)) in block.body.transactions.iter().zip(&senders).enumerate() {
        let available = header.gas_limit.saturating_sub(cumulative_gas_used);
        if tx.gas_limit() > available {
            return Err(BlockError::Transaction {
                index,
                reason: "gas limit above remaining block gas".into(),
            });
        }
        match evm.transact(TxEnv::from_recovered_tx(tx, *sender)) {
            Ok(out) => {
                cumulative_gas_used = cumulative_gas_used.saturating_add(out.result.tx_gas_used());
                let receipt = build_receipt(&evm, tx, out.result, &out.state, cumulative_gas_used);
                evm.db_mut().commit(out.state);
                receipts.push(receipt);
            }
            Err(EVMError::Database(e)) => return Err(BlockError::Database(e.to_string())),
            Err(e) => return Err(BlockError::Transaction { index, reason: e.to_string() }),
        }
    }

    // Post-block: requests (Prague), then withdrawals (Shanghai).
    if spec.is_prague_active_at_timestamp(header.timestamp) {
        let mut requests = Requests::default();
        let deposits = eip6110::parse_deposits_from_receipts(spec, &receipts)
            .map_err(|e| BlockError::PostExecution(format!("deposit requests: {e}")))?;
        if !deposits.is_empty() {
            requests.push_request_with_type(eip6110::DEPOSIT_REQUEST_TYPE, deposits);
        }
        system
            .append_post_execution_changes(&mut evm, &mut requests)
            .map_err(|e| BlockError::PostExecution(format!("requests: {e}")))?;
        if header.requests_hash != Some(requests.requests_hash()) {
            return Err(BlockError::PostExecution("requests hash mismatch".into()));
        }
    }
    let withdrawals = block.body.withdrawals.clone().map(|w| w.into_inner()).unwrap_or_default();
    let increments =
        post_block_withdrawals_balance_increments(spec, header.timestamp, &withdrawals);
    evm.db_mut().increment_balances(increments).map_err(|e| BlockError::Database(e.to_string()))?;

    if cumulative_gas_used != header.gas_used {
        return Err(BlockError::PostExecution(format!(
            "gas used {cumulative_gas_used}, header says {}",
            header.gas_used
        )));
    }
    if calculate_receipt_root(&receipts) != header.receipts_root {
        return Err(BlockError::PostExecution("receipts root mismatch".into()));
    }
    let bloom: Bloom = logs_bloom(&receipts);
    if bloom != header.logs_bloom {
        return Err(BlockError::PostExecution("logs bloom mismatch".into()));
    }

    let mut state = evm.into_db();
    state.merge_transitions(BundleRetention::Reverts);
    let bundle = state.take_bundle();
    let _: B256 = header.state_root;
    Ok(ExecutedBlock {
        header: header.clone(),
        transactions: block.body.transactions.clone(),
        senders,
        receipts,
        withdrawals,
        skipped: Vec::new(),
        bundle,
    })
}
