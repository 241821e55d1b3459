//! L2 block execution (protocol section 5).

use std::fmt::Debug;

use alloy_consensus::{
    EMPTY_OMMER_ROOT_HASH, Header, ReceiptEnvelope, Sealed, Transaction, TxEnvelope, TxReceipt,
    proofs::{calculate_receipt_root, calculate_transaction_root, calculate_withdrawals_root},
    transaction::SignerRecoverable,
};
use alloy_eips::{
    Decodable2718,
    eip1559::{BaseFeeParams, INITIAL_BASE_FEE},
    eip4788::SYSTEM_ADDRESS,
    eip4895::Withdrawal,
    eip7685::EMPTY_REQUESTS_HASH,
};
use alloy_evm::{
    Evm, EvmEnv, EvmFactory, FromRecoveredTx,
    block::SystemCaller,
    eth::{
        EthEvmFactory,
        receipt_builder::{AlloyReceiptBuilder, ReceiptBuilder, ReceiptBuilderCtx},
    },
};
use alloy_primitives::{Address, B256, Bloom, Bytes, U256, keccak256};
use based_chainspec::L1_ANCHOR_ADDRESS;
use based_primitives::L1Anchor;
use revm::{
    DatabaseCommit, DatabaseRef,
    context::{
        BlockEnv, CfgEnv, TxEnv,
        result::{EVMError, InvalidTransaction},
    },
    context_interface::block::BlobExcessGasAndPrice,
    database::{State, states::bundle_state::BundleRetention},
    database_interface::{DBErrorMarker, DatabaseCommitExt, WrapDatabaseRef},
    inspector::NoOpInspector,
    primitives::hardfork::SpecId,
};

use crate::{ExecError, ExecutedBlock, ForkSpec, SkipReason, SkippedTx};

/// Minimum L2 block gas limit (protocol section 4.3, `MIN_L2_GAS_LIMIT`; defined once in
/// [`based_chainspec::limits`], shared with the derivation).
pub const L2_MIN_GAS_LIMIT: u64 = based_chainspec::limits::MIN_L2_GAS_LIMIT;

/// Maximum number of deposits credited in one L2 block (protocol section 6.2,
/// `MAX_DEPOSITS_PER_BLOCK`; defined once in [`based_chainspec::limits`]).
pub const L2_BLOCK_MAX_DEPOSITS: usize = based_chainspec::limits::MAX_DEPOSITS_PER_BLOCK;

const GWEI: u128 = 1_000_000_000;

/// An L1 deposit credited on L2 (carried in the block's `withdrawals` list, EIP-4895 shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Deposit {
    /// Deposit id (sequence number of the `Deposited` event); becomes the withdrawal `index`.
    pub id: u64,
    /// Credited L2 account.
    pub to: Address,
    /// Amount in gwei.
    pub amount_gwei: u64,
}

impl Deposit {
    /// The EIP-4895 withdrawal carrying this deposit (`validator_index` is always 0).
    pub const fn to_withdrawal(&self) -> Withdrawal {
        Withdrawal {
            index: self.id,
            validator_index: 0,
            address: self.to,
            amount: self.amount_gwei,
        }
    }
}

/// The balance credits of a block's deposits (protocol section 5.2): one entry per distinct
/// address, in the order of its first deposit, holding the sum in wei of all its deposits.
///
/// Every deposit counts, however often its address repeats: the result is what crediting the
/// deposits one by one in list order gives. The sum saturates at `u128::MAX` wei (unreachable: at
/// most [`L2_BLOCK_MAX_DEPOSITS`] deposits of at most `u64::MAX` gwei each stay below 2^103 wei), and
/// the account balance saturates at `2^256 - 1` when credited.
///
/// Each address must appear once in a list applied with revm's `increment_balances`, which reads
/// every account before it writes any (a repeated address would keep only its last credit).
pub fn deposit_credits(deposits: &[Deposit]) -> Vec<(Address, u128)> {
    let mut credits: Vec<(Address, u128)> = Vec::with_capacity(deposits.len());
    let mut position: alloy_primitives::map::AddressHashMap<usize> =
        alloy_primitives::map::AddressHashMap::default();
    for deposit in deposits {
        let wei = u128::from(deposit.amount_gwei).saturating_mul(GWEI);
        match position.get(&deposit.to).and_then(|&i| credits.get_mut(i)) {
            Some((_, total)) => *total = total.saturating_add(wei),
            None => {
                position.insert(deposit.to, credits.len());
                credits.push((deposit.to, wei));
            }
        }
    }
    credits
}

/// Everything needed to execute one derived L2 block.
#[derive(Debug, Clone)]
pub struct BlockInput {
    /// The parent header (sealed with its hash).
    pub parent: SealedHeader,
    /// Block timestamp (must be > parent timestamp).
    pub timestamp: u64,
    /// Fee recipient (coinbase).
    pub fee_recipient: Address,
    /// Gas limit (must be within [`gas_limit_bounds`]).
    pub gas_limit: u64,
    /// L1 anchor block.
    pub anchor: L1Anchor,
    /// Deposits credited before anything else (at most [`L2_BLOCK_MAX_DEPOSITS`]).
    pub deposits: Vec<Deposit>,
    /// Raw EIP-2718 transactions in order.
    pub transactions: Vec<Bytes>,
}

/// Maximum L2 block gas limit (protocol section 4.3, `MAX_L2_GAS_LIMIT`; defined once in
/// [`based_chainspec::limits`]).
pub const L2_MAX_GAS_LIMIT: u64 = based_chainspec::limits::MAX_L2_GAS_LIMIT;

/// Inclusive range of L2 gas limits (protocol section 4.3 rule 7): `[L2_MIN_GAS_LIMIT,
/// L2_MAX_GAS_LIMIT]`, independent of the parent. (Unlike Ethereum, a block may change the gas limit by
/// any amount within the range; the EIP-1559 base fee still moves at most 12.5% per block.)
pub const fn gas_limit_bounds() -> (u64, u64) {
    (L2_MIN_GAS_LIMIT, L2_MAX_GAS_LIMIT)
}

/// `prevrandao` (header `mix_hash`) of an L2 block: `keccak256(anchor.hash || u64be(number))`.
/// Deterministic and committed by L1, but NOT unbiasable randomness (the proposer picks the anchor).
pub fn l2_prevrandao(anchor: &L1Anchor, number: u64) -> B256 {
    let mut buf = [0u8; 40];
    let (h, n) = buf.split_at_mut(32);
    h.copy_from_slice(anchor.hash.as_slice());
    n.copy_from_slice(&number.to_be_bytes());
    keccak256(buf)
}

/// Calldata of the anchor system call: `u256be(anchor.number) || anchor.hash` (64 bytes).
pub fn anchor_calldata(anchor: &L1Anchor) -> Bytes {
    let mut buf = [0u8; 64];
    let (n, h) = buf.split_at_mut(32);
    n.copy_from_slice(&U256::from(anchor.number).to_be_bytes::<32>());
    h.copy_from_slice(anchor.hash.as_slice());
    Bytes::copy_from_slice(&buf)
}

/// A header sealed with its hash.
pub type SealedHeader = Sealed<Header>;

pub(crate) type StateOf<DB> = State<WrapDatabaseRef<DB>>;

pub(crate) fn evm_env(spec: SpecId, chain_id: u64, header: &Header) -> EvmEnv {
    let mut cfg_env = CfgEnv::new_with_spec(spec).with_chain_id(chain_id);
    cfg_env.tx_chain_id_check = true;
    let block_env = BlockEnv {
        number: U256::from(header.number),
        beneficiary: header.beneficiary,
        timestamp: U256::from(header.timestamp),
        gas_limit: header.gas_limit,
        basefee: header.base_fee_per_gas.unwrap_or_default(),
        difficulty: header.difficulty,
        prevrandao: Some(header.mix_hash),
        blob_excess_gas_and_price: header
            .excess_blob_gas
            .map(|excess| BlobExcessGasAndPrice::new_with_spec(excess, spec)),
        ..Default::default()
    };
    EvmEnv { cfg_env, block_env }
}

pub(crate) fn db_err(e: impl std::fmt::Display) -> ExecError {
    ExecError::Database(e.to_string())
}

pub(crate) fn map_invalid(
    e: &InvalidTransaction,
    tx: &TxEnvelope,
    account_nonce: Option<u64>,
) -> SkipReason {
    match e {
        InvalidTransaction::InvalidChainId | InvalidTransaction::MissingChainId => {
            SkipReason::WrongChainId
        }
        InvalidTransaction::NonceTooHigh { tx, state }
        | InvalidTransaction::NonceTooLow { tx, state } => {
            SkipReason::BadNonce { tx: *tx, account: *state }
        }
        InvalidTransaction::LackOfFundForMaxFee { .. }
        | InvalidTransaction::OverflowPaymentInTransaction => SkipReason::InsufficientFunds,
        InvalidTransaction::GasPriceLessThanBasefee => SkipReason::FeeCapBelowBaseFee,
        InvalidTransaction::PriorityFeeGreaterThanMaxFee => SkipReason::PriorityFeeAboveFeeCap,
        InvalidTransaction::CallGasCostMoreThanGasLimit { .. }
        | InvalidTransaction::GasFloorMoreThanGasLimit { .. } => SkipReason::IntrinsicGasTooLow,
        InvalidTransaction::RejectCallerWithCode => SkipReason::SenderHasCode,
        InvalidTransaction::CreateInitCodeSizeLimit => SkipReason::InitCodeTooLarge,
        InvalidTransaction::CallerGasLimitMoreThanBlock => {
            SkipReason::GasLimitExceedsBlock { tx_gas_limit: tx.gas_limit(), available: 0 }
        }
        other => {
            let _ = account_nonce;
            SkipReason::Other(other.to_string())
        }
    }
}

/// Builds the receipt of an executed transaction.
pub(crate) fn build_receipt<E: Evm>(
    evm: &E,
    tx: &TxEnvelope,
    result: revm::context::result::ExecutionResult<E::HaltReason>,
    state: &revm::state::EvmState,
    cumulative_gas_used: u64,
) -> ReceiptEnvelope {
    AlloyReceiptBuilder::default().build_receipt(ReceiptBuilderCtx {
        tx_type: tx.tx_type(),
        evm,
        result,
        state,
        cumulative_gas_used,
    })
}

pub(crate) fn logs_bloom(receipts: &[ReceiptEnvelope]) -> Bloom {
    let mut bloom = Bloom::ZERO;
    for r in receipts {
        bloom.accrue_bloom(&r.bloom());
    }
    bloom
}

/// A raw transaction after the checks that need no state (protocol section 5.4, rules 1-3):
/// decoded, not a blob transaction, sender recovered. Produced by [`recover_transactions`].
pub type RecoveredTx = Result<(TxEnvelope, Address), SkipReason>;

/// Decodes every raw transaction and recovers its sender, in parallel on the rayon pool.
///
/// The result is in input order and does not depend on the number of threads. Signature recovery
/// is the dominant per-transaction cost of a block, so callers that import many blocks run this
/// for later blocks while earlier ones execute (see `based-engine`).
pub fn recover_transactions(raw: &[Bytes]) -> Vec<RecoveredTx> {
    use rayon::prelude::*;
    raw.par_iter().map(|raw| recover_transaction(raw)).collect()
}

/// [`recover_transactions`] for one transaction.
pub fn recover_transaction(raw: &[u8]) -> RecoveredTx {
    let tx = TxEnvelope::decode_2718_exact(raw).map_err(|_| SkipReason::Undecodable)?;
    if tx.is_eip4844() {
        return Err(SkipReason::BlobTransaction);
    }
    let sender = tx.recover_signer().map_err(|_| SkipReason::InvalidSignature)?;
    Ok((tx, sender))
}

/// Executes an L2 block on top of `db` (the parent state) under Prague rules.
///
/// Returns the header with `state_root = B256::ZERO` (the caller computes it from `bundle`).
pub fn execute_l2_block<DB>(
    chain_id: u64,
    db: DB,
    input: &BlockInput,
) -> Result<ExecutedBlock, ExecError>
where
    DB: DatabaseRef + Debug,
    DB::Error: DBErrorMarker,
{
    let recovered = recover_transactions(&input.transactions);
    execute_l2_block_recovered(chain_id, db, input, recovered)
}

/// [`execute_l2_block`] with the transactions already passed through [`recover_transactions`]
/// (`recovered[i]` belongs to `input.transactions[i]`).
pub fn execute_l2_block_recovered<DB>(
    chain_id: u64,
    db: DB,
    input: &BlockInput,
    recovered: Vec<RecoveredTx>,
) -> Result<ExecutedBlock, ExecError>
where
    DB: DatabaseRef + Debug,
    DB::Error: DBErrorMarker,
{
    if recovered.len() != input.transactions.len() {
        return Err(ExecError::Input(format!(
            "{} recovered transactions for {} inputs",
            recovered.len(),
            input.transactions.len()
        )));
    }
    let mut executor = L2BlockExecutor::new(chain_id, db, input)?;
    let mut skipped = Vec::new();
    for (index, (raw, recovered)) in input.transactions.iter().zip(recovered).enumerate() {
        if let TxOutcome::Skipped(reason) = executor.execute(recovered)? {
            skipped.push(SkippedTx { index, hash: keccak256(raw), reason });
        }
    }
    Ok(executor.finish(skipped))
}

/// The EVM an [`L2BlockExecutor`] runs.
type L2Evm<DB> = <EthEvmFactory as EvmFactory>::Evm<StateOf<DB>, NoOpInspector>;

/// What happened to one transaction offered to an [`L2BlockExecutor`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxOutcome {
    /// Included at `index` in the block (its receipt is [`L2BlockExecutor::receipts`]`[index]`);
    /// `gas_used` after refunds. Included also when its execution reverted or halted (status 0).
    Included {
        /// Position in the block's included transactions.
        index: usize,
        /// Gas the transaction used.
        gas_used: u64,
    },
    /// Invalid at this position (protocol §5.4): not in the block, no state change, no gas.
    Skipped(SkipReason),
}

/// Executes one L2 block a transaction at a time: the single implementation of protocol §5.2
/// behind [`execute_l2_block`], also used to keep a node's preconfirmed (pending) block.
///
/// [`Self::new`] checks the block input (§5.6) and runs everything before the transactions
/// (deposits, the anchor, EIP-2935 and EIP-4788 system calls); [`Self::execute`] applies the skip
/// rules (§5.4) to one transaction and, if it is valid, executes and commits it;
/// [`Self::finish`] assembles the block. Execution is deterministic: the same input gives the
/// same block whether its transactions are offered at once or one by one.
pub struct L2BlockExecutor<DB>
where
    DB: DatabaseRef + Debug,
    DB::Error: DBErrorMarker,
{
    chain_id: u64,
    evm: L2Evm<DB>,
    header: Header,
    withdrawals: Vec<Withdrawal>,
    transactions: Vec<TxEnvelope>,
    senders: Vec<Address>,
    receipts: Vec<ReceiptEnvelope>,
    cumulative_gas_used: u64,
}

impl<DB> Debug for L2BlockExecutor<DB>
where
    DB: DatabaseRef + Debug,
    DB::Error: DBErrorMarker,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L2BlockExecutor")
            .field("number", &self.header.number)
            .field("transactions", &self.transactions.len())
            .field("gas_used", &self.cumulative_gas_used)
            .finish_non_exhaustive()
    }
}

impl<DB> L2BlockExecutor<DB>
where
    DB: DatabaseRef + Debug,
    DB::Error: DBErrorMarker,
{
    /// Starts block `input.parent.number + 1` on `db` (the parent state): checks the input and
    /// runs the pre-transaction steps. `input.transactions` is ignored (offer them to
    /// [`Self::execute`]).
    pub fn new(chain_id: u64, db: DB, input: &BlockInput) -> Result<Self, ExecError> {
        let parent = &input.parent;
        let number = parent
            .number
            .checked_add(1)
            .ok_or_else(|| ExecError::Input("block number overflow".into()))?;
        if input.timestamp <= parent.timestamp {
            return Err(ExecError::Input(format!(
                "timestamp {} not above parent timestamp {}",
                input.timestamp, parent.timestamp
            )));
        }
        let (lo, hi) = gas_limit_bounds();
        if input.gas_limit < lo || input.gas_limit > hi {
            return Err(ExecError::Input(format!(
                "gas limit {} outside [{lo}, {hi}]",
                input.gas_limit
            )));
        }
        if input.deposits.len() > L2_BLOCK_MAX_DEPOSITS {
            return Err(ExecError::Input(format!(
                "{} deposits > {L2_BLOCK_MAX_DEPOSITS}",
                input.deposits.len()
            )));
        }
        let base_fee =
            parent.next_block_base_fee(BaseFeeParams::ethereum()).unwrap_or(INITIAL_BASE_FEE);
        let withdrawals: Vec<Withdrawal> =
            input.deposits.iter().map(Deposit::to_withdrawal).collect();

        let header = Header {
            parent_hash: parent.hash(),
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: input.fee_recipient,
            state_root: B256::ZERO,
            transactions_root: B256::ZERO,
            receipts_root: B256::ZERO,
            logs_bloom: Bloom::ZERO,
            difficulty: U256::ZERO,
            number,
            gas_limit: input.gas_limit,
            gas_used: 0,
            timestamp: input.timestamp,
            extra_data: Bytes::new(),
            mix_hash: l2_prevrandao(&input.anchor, number),
            nonce: Default::default(),
            base_fee_per_gas: Some(base_fee),
            withdrawals_root: Some(calculate_withdrawals_root(&withdrawals)),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            parent_beacon_block_root: Some(input.anchor.hash),
            requests_hash: Some(EMPTY_REQUESTS_HASH),
            block_access_list_hash: None,
            slot_number: None,
        };

        let state: StateOf<DB> =
            State::builder().with_database_ref(db).with_bundle_update().build();
        let mut evm =
            EthEvmFactory::default().create_evm(state, evm_env(SpecId::PRAGUE, chain_id, &header));

        // 1. Deposits: plain balance increments before anything else. `increment_balances` reads
        // every account before it writes any, so a repeated address must be summed first (§5.2).
        evm.db_mut().increment_balances(deposit_credits(&input.deposits)).map_err(db_err)?;

        // 2. L1 anchor system call.
        let res = evm
            .transact_system_call(SYSTEM_ADDRESS, L1_ANCHOR_ADDRESS, anchor_calldata(&input.anchor))
            .map_err(|e| ExecError::SystemCall(format!("anchor: {e}")))?;
        if !res.result.is_success() {
            return Err(ExecError::SystemCall(format!("anchor call failed: {:?}", res.result)));
        }
        evm.db_mut().commit(res.state);

        // 3. EIP-2935 (parent hash) and EIP-4788 (beacon root := anchor hash) system calls.
        let mut system = SystemCaller::new(ForkSpec::new(SpecId::PRAGUE, None));
        system
            .apply_blockhashes_contract_call(parent.hash(), &mut evm)
            .map_err(|e| ExecError::SystemCall(e.to_string()))?;
        system
            .apply_beacon_root_contract_call(Some(input.anchor.hash), &mut evm)
            .map_err(|e| ExecError::SystemCall(e.to_string()))?;

        Ok(Self {
            chain_id,
            evm,
            header,
            withdrawals,
            transactions: Vec::new(),
            senders: Vec::new(),
            receipts: Vec::new(),
            cumulative_gas_used: 0,
        })
    }

    /// Step 4 of §5.2: offers the next transaction ([`recover_transaction`]'s result): skipped
    /// if invalid at this position (§5.4), else executed and committed. Only database failures
    /// are errors.
    pub fn execute(&mut self, recovered: RecoveredTx) -> Result<TxOutcome, ExecError> {
        let (tx, sender) = match recovered {
            Ok(ok) => ok,
            Err(reason) => return Ok(TxOutcome::Skipped(reason)),
        };
        if tx.chain_id().is_some_and(|id| id != self.chain_id) {
            return Ok(TxOutcome::Skipped(SkipReason::WrongChainId));
        }
        let available = self.gas_available();
        if tx.gas_limit() > available {
            return Ok(TxOutcome::Skipped(SkipReason::GasLimitExceedsBlock {
                tx_gas_limit: tx.gas_limit(),
                available,
            }));
        }
        match self.evm.transact(TxEnv::from_recovered_tx(&tx, sender)) {
            Ok(out) => {
                let gas_used = out.result.tx_gas_used();
                self.cumulative_gas_used = self.cumulative_gas_used.saturating_add(gas_used);
                let receipt =
                    build_receipt(&self.evm, &tx, out.result, &out.state, self.cumulative_gas_used);
                self.evm.db_mut().commit(out.state);
                let index = self.transactions.len();
                self.receipts.push(receipt);
                self.transactions.push(tx);
                self.senders.push(sender);
                Ok(TxOutcome::Included { index, gas_used })
            }
            Err(EVMError::Transaction(e)) => {
                tracing::debug!(target: "based::evm", tx = %tx.tx_hash(), error = %e, "skipping invalid transaction");
                Ok(TxOutcome::Skipped(map_invalid(&e, &tx, None)))
            }
            Err(EVMError::Database(e)) => Err(db_err(e)),
            Err(e) => Ok(TxOutcome::Skipped(SkipReason::Other(e.to_string()))),
        }
    }

    /// Gas left for transactions in the block (`gas_limit - gas used by included ones`).
    pub const fn gas_available(&self) -> u64 {
        self.header.gas_limit.saturating_sub(self.cumulative_gas_used)
    }

    /// The header so far: number, parent, timestamp, gas limit, base fee, `prevrandao`, beacon
    /// root, withdrawals root. `gas_used`, the roots and the bloom are filled by [`Self::finish`].
    pub const fn header(&self) -> &Header {
        &self.header
    }

    /// Gas used by the included transactions so far.
    pub const fn gas_used(&self) -> u64 {
        self.cumulative_gas_used
    }

    /// The included transactions so far, in order.
    pub fn transactions(&self) -> &[TxEnvelope] {
        &self.transactions
    }

    /// Their recovered senders.
    pub fn senders(&self) -> &[Address] {
        &self.senders
    }

    /// Their receipts.
    pub fn receipts(&self) -> &[ReceiptEnvelope] {
        &self.receipts
    }

    /// The state after everything executed so far: reads fall through to the parent state for
    /// what the block has not touched (revm's `State` implements `DatabaseRef`).
    pub fn state(&self) -> &State<WrapDatabaseRef<DB>> {
        self.evm.db()
    }

    /// Assembles the block: header with gas used, transaction and receipt roots and bloom
    /// (`state_root` zero: the caller computes it from `bundle`), the state changes with reverts,
    /// and `skipped` (the caller's record of what [`Self::execute`] left out).
    pub fn finish(self, skipped: Vec<SkippedTx>) -> ExecutedBlock {
        let Self {
            evm,
            mut header,
            withdrawals,
            transactions,
            senders,
            receipts,
            cumulative_gas_used,
            ..
        } = self;
        let mut state = evm.into_db();
        state.merge_transitions(BundleRetention::Reverts);
        let bundle = state.take_bundle();

        header.gas_used = cumulative_gas_used;
        header.transactions_root = calculate_transaction_root(&transactions);
        header.receipts_root = calculate_receipt_root(&receipts);
        header.logs_bloom = logs_bloom(&receipts);

        ExecutedBlock { header, transactions, senders, receipts, withdrawals, skipped, bundle }
    }
}
