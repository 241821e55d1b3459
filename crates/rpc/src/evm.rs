//! `eth_call` and `eth_estimateGas` on revm.
//!
//! Calls run with Prague rules, the L2 chain id and a block environment taken from the target
//! header. Like geth: nonce checks are skipped; when the request names no fee the base-fee and
//! balance checks are skipped too (gas price 0); the gas limit defaults to and is capped by the
//! configured gas cap; the block gas limit is raised to the call's gas limit if lower.
//!
//! Every execution runs under a wall-clock deadline ([`CallParams::timeout`]): an inspector
//! looks at the clock every [`DEADLINE_CHECK_STEPS`] instructions and, once it has passed, halts
//! every frame, so a call that would loop for long stops within microseconds of the deadline and
//! frees its thread (geth cancels its EVM the same way); the request answers
//! [`RpcError::Timeout`].

use std::time::{Duration, Instant};

use alloy_consensus::Header;
use alloy_eips::eip7702::SignedAuthorization;
use alloy_primitives::{Bytes, TxKind, U256};
use alloy_rpc_types_eth::TransactionRequest;
use revm::{
    Context, InspectEvm, Inspector, MainBuilder, MainContext,
    context::{BlockEnv, CfgEnv, TxEnv, result::ExecutionResult},
    context_interface::result::{EVMError, HaltReason, InvalidTransaction, ResultAndState},
    database::CacheDB,
    database_interface::DatabaseRef,
    interpreter::{InstructionResult, Interpreter, InterpreterTypes},
    primitives::{KECCAK_EMPTY, hardfork::SpecId},
};

use crate::error::{RpcError, RpcResult};

/// geth's message for a gas limit below the intrinsic (or EIP-7623 floor) gas.
const INTRINSIC_GAS_TOO_LOW: &str = "intrinsic gas too low";

/// Gas of a plain value transfer.
const TRANSFER_GAS: u64 = 21_000;

/// How many instructions run between two looks at the clock (a look costs about as much as a
/// few dozen cheap instructions).
pub(crate) const DEADLINE_CHECK_STEPS: u32 = 1024;

/// Parameters shared by every simulated call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallParams {
    pub(crate) chain_id: u64,
    pub(crate) gas_cap: u64,
    /// Wall-clock budget of the whole request (every probe of an estimate together).
    pub(crate) timeout: Duration,
}

/// The revm context every RPC execution runs in (changes land in a discarded [`CacheDB`]).
pub(crate) type EvmContext<'a, DB> = revm::handler::MainnetContext<&'a mut CacheDB<DB>>;

/// The wall-clock deadline of one request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    /// `None`: the timeout is too large to represent (no deadline).
    at: Option<Instant>,
    timeout: Duration,
}

impl Deadline {
    pub(crate) fn start(timeout: Duration) -> Self {
        Self { at: Instant::now().checked_add(timeout), timeout }
    }

    /// The request's budget (what [`RpcError::Timeout`] reports).
    pub(crate) const fn timeout(&self) -> Duration {
        self.timeout
    }

    pub(crate) fn passed(&self) -> bool {
        self.at.is_some_and(|at| Instant::now() >= at)
    }
}

/// Inspector that halts execution once the deadline has passed: it checks the clock every
/// [`DEADLINE_CHECK_STEPS`] instructions and at every new frame; after expiry every frame halts
/// at its next instruction, so the transaction unwinds at once.
#[derive(Debug)]
struct DeadlineInspector {
    deadline: Deadline,
    steps: u32,
    expired: bool,
}

impl DeadlineInspector {
    const fn new(deadline: Deadline) -> Self {
        Self { deadline, steps: 0, expired: false }
    }

    fn check<IT: InterpreterTypes>(&mut self, interp: &mut Interpreter<IT>, force: bool) {
        if !self.expired {
            self.steps = self.steps.wrapping_add(1);
            if !force && !self.steps.is_multiple_of(DEADLINE_CHECK_STEPS) {
                return;
            }
            self.expired = self.deadline.passed();
        }
        if self.expired {
            interp.halt(InstructionResult::OutOfGas);
        }
    }
}

impl<CTX, IT: InterpreterTypes> Inspector<CTX, IT> for DeadlineInspector {
    fn initialize_interp(&mut self, interp: &mut Interpreter<IT>, _context: &mut CTX) {
        self.check(interp, true);
    }

    fn step(&mut self, interp: &mut Interpreter<IT>, _context: &mut CTX) {
        self.check(interp, false);
    }
}

/// The block environment of a call executed "at" `header`.
pub(crate) fn block_env(header: &Header) -> BlockEnv {
    BlockEnv {
        number: U256::from(header.number),
        beneficiary: header.beneficiary,
        timestamp: U256::from(header.timestamp),
        gas_limit: header.gas_limit,
        basefee: header.base_fee_per_gas.unwrap_or_default(),
        difficulty: header.difficulty,
        prevrandao: Some(header.mix_hash),
        // Blob transactions are not valid on the L2; keep the blob fee defined for BLOBBASEFEE.
        blob_excess_gas_and_price: Some(
            revm::context_interface::block::BlobExcessGasAndPrice::new(
                header.excess_blob_gas.unwrap_or_default(),
                revm::primitives::eip4844::BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE,
            ),
        ),
        slot_num: 0,
    }
}

/// A call request turned into a revm transaction.
#[derive(Debug, Clone)]
pub(crate) struct PreparedTx {
    pub(crate) tx: TxEnv,
    /// Whether the request named a fee (then balance and base fee are checked).
    pub(crate) fees_set: bool,
}

/// Turns a call request into a revm transaction with `eth_call` semantics (default sender zero,
/// nonce from the state, gas defaulting to and capped by the gas cap).
pub(crate) fn prepare_tx<DB: DatabaseRef>(
    req: TransactionRequest,
    db: &DB,
    params: CallParams,
) -> RpcResult<PreparedTx> {
    if req.blob_versioned_hashes.as_ref().is_some_and(|h| !h.is_empty())
        || req.max_fee_per_blob_gas.is_some()
        || req.transaction_type == Some(3)
    {
        return Err(RpcError::TxTypeNotSupported);
    }
    if let Some(chain_id) = req.chain_id
        && chain_id != params.chain_id
    {
        return Err(RpcError::InvalidChainId { expected: params.chain_id, got: Some(chain_id) });
    }
    if req.gas_price.is_some()
        && (req.max_fee_per_gas.is_some() || req.max_priority_fee_per_gas.is_some())
    {
        return Err(RpcError::InvalidParams(
            "both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified".into(),
        ));
    }
    let caller = req.from.unwrap_or_default();
    let input = req
        .input
        .clone()
        .try_into_unique_input()
        .map_err(|e| RpcError::InvalidParams(e.to_string()))?
        .unwrap_or_default();
    let nonce = match req.nonce {
        Some(n) => n,
        None => db
            .basic_ref(caller)
            .map_err(|e| RpcError::Internal(e.to_string()))?
            .map(|a| a.nonce)
            .unwrap_or_default(),
    };
    let gas_limit = req.gas.unwrap_or(params.gas_cap).min(params.gas_cap);
    let authorizations: Vec<SignedAuthorization> =
        req.authorization_list.clone().unwrap_or_default();

    let (tx_type, gas_price, priority_fee, fees_set) = if !authorizations.is_empty()
        || req.transaction_type == Some(4)
    {
        let max_fee = req.max_fee_per_gas.or(req.gas_price).unwrap_or_default();
        (4u8, max_fee, Some(req.max_priority_fee_per_gas.unwrap_or_default()), max_fee != 0)
    } else if req.max_fee_per_gas.is_some()
        || req.max_priority_fee_per_gas.is_some()
        || req.transaction_type == Some(2)
    {
        let max_fee = req.max_fee_per_gas.unwrap_or_default();
        let tip = req.max_priority_fee_per_gas.unwrap_or_default();
        // A tip without a fee cap: cap it at the tip so the request stays self consistent.
        let max_fee = if max_fee == 0 { tip } else { max_fee };
        (2u8, max_fee, Some(tip), max_fee != 0)
    } else {
        let price = req.gas_price.unwrap_or_default();
        let ty = if req.access_list.is_some() || req.transaction_type == Some(1) { 1 } else { 0 };
        (ty, price, None, price != 0)
    };

    let mut tx = TxEnv {
        tx_type,
        caller,
        gas_limit,
        gas_price,
        kind: req.to.unwrap_or(TxKind::Create),
        value: req.value.unwrap_or_default(),
        data: input,
        nonce,
        chain_id: Some(params.chain_id),
        access_list: req.access_list.unwrap_or_default(),
        gas_priority_fee: priority_fee,
        blob_hashes: Vec::new(),
        max_fee_per_blob_gas: 0,
        authorization_list: Vec::new(),
    };
    if tx_type == 4 {
        if tx.kind.is_create() {
            return Err(RpcError::InvalidParams("EIP-7702 transaction requires `to`".into()));
        }
        tx.set_signed_authorization(authorizations);
    }
    Ok(PreparedTx { tx, fees_set })
}

/// The configuration of a simulated call: nonce checks off, fee and balance checks only when the
/// request names a fee, EIP-3607 off.
pub(crate) fn cfg(params: CallParams, fees_set: bool) -> CfgEnv {
    let mut cfg = CfgEnv::new_with_spec(SpecId::PRAGUE);
    cfg.chain_id = params.chain_id;
    cfg.tx_chain_id_check = false;
    cfg.disable_nonce_check = true;
    cfg.disable_base_fee = !fees_set;
    cfg.disable_balance_check = !fees_set;
    // Calls may come from an address with code (a contract, a 7702-delegated account), as on
    // geth and reth: EIP-3607 protects signed transactions, not simulations.
    cfg.disable_eip3607 = true;
    cfg
}

/// Executes `tx` once on top of `db` (changes are discarded), aborted at `deadline`.
fn transact<DB: DatabaseRef>(
    db: &mut CacheDB<DB>,
    block: &BlockEnv,
    cfg: &CfgEnv,
    tx: TxEnv,
    deadline: Deadline,
) -> RpcResult<ExecutionResult<HaltReason>> {
    if deadline.passed() {
        return Err(RpcError::Timeout(deadline.timeout));
    }
    let mut inspector = DeadlineInspector::new(deadline);
    let res = inspect_tx(db, block, cfg, tx, &mut inspector);
    if inspector.expired {
        return Err(RpcError::Timeout(deadline.timeout));
    }
    res.map(|res| res.result)
}

/// Executes `tx` once on top of `db` with `inspector`, without committing: the state changes are
/// returned. The block gas limit is raised to the transaction's if lower (as for calls).
pub(crate) fn inspect_tx<'a, DB, I>(
    db: &'a mut CacheDB<DB>,
    block: &BlockEnv,
    cfg: &CfgEnv,
    tx: TxEnv,
    inspector: I,
) -> RpcResult<ResultAndState<HaltReason>>
where
    DB: DatabaseRef,
    I: Inspector<EvmContext<'a, DB>>,
{
    let mut block = block.clone();
    block.gas_limit = block.gas_limit.max(tx.gas_limit);
    let mut evm = Context::mainnet()
        .with_db(db)
        .with_block(block)
        .with_cfg(cfg.clone())
        .build_mainnet_with_inspector(inspector);
    match evm.inspect_tx(tx) {
        Ok(res) => Ok(res),
        Err(EVMError::Transaction(err)) => Err(invalid_tx(err)),
        Err(EVMError::Header(err)) => Err(RpcError::InvalidTransaction(err.to_string())),
        Err(EVMError::Database(err)) => Err(RpcError::Internal(err.to_string())),
        Err(EVMError::Custom(err)) => Err(RpcError::Internal(err)),
        Err(EVMError::CustomAny(err)) => Err(RpcError::Internal(err.to_string())),
    }
}

fn invalid_tx(err: InvalidTransaction) -> RpcError {
    let msg = match err {
        InvalidTransaction::LackOfFundForMaxFee { .. } => {
            "insufficient funds for gas * price + value".to_string()
        }
        InvalidTransaction::GasPriceLessThanBasefee => {
            "max fee per gas less than block base fee".to_string()
        }
        InvalidTransaction::CallGasCostMoreThanGasLimit { .. }
        | InvalidTransaction::GasFloorMoreThanGasLimit { .. } => INTRINSIC_GAS_TOO_LOW.to_string(),
        other => other.to_string(),
    };
    RpcError::InvalidTransaction(msg)
}

/// geth's wording of an exceptional halt (`out of gas`, ...).
pub(crate) fn halt_message(reason: &HaltReason) -> String {
    match reason {
        HaltReason::OutOfGas(_) => "out of gas".to_string(),
        other => format!("execution halted: {other:?}"),
    }
}

/// `eth_call`: returns the output of a successful call, or the revert/halt as an error.
pub(crate) fn call<DB: DatabaseRef>(
    db: DB,
    header: &Header,
    req: TransactionRequest,
    params: CallParams,
) -> RpcResult<Bytes> {
    let deadline = Deadline::start(params.timeout);
    let prepared = prepare_tx(req, &db, params)?;
    let mut cache = CacheDB::new(db);
    let block = block_env(header);
    let cfg = cfg(params, prepared.fees_set);
    match transact(&mut cache, &block, &cfg, prepared.tx, deadline)? {
        ExecutionResult::Success { output, .. } => Ok(output.into_data()),
        ExecutionResult::Revert { output, .. } => Err(RpcError::Reverted { output }),
        ExecutionResult::Halt { reason, .. } => Err(RpcError::Halted(halt_message(&reason))),
    }
}

/// Outcome of one estimation probe.
enum Probe {
    Ok {
        gas_used: u64,
        refunded: u64,
    },
    /// Failed for lack of gas (halt or out-of-gas-like revert); try higher.
    TooLow,
    /// Failed for another reason at the maximum: report it.
    Failed(RpcError),
}

/// What every probe of one estimate shares.
struct ProbeEnv<'a> {
    block: &'a BlockEnv,
    cfg: &'a CfgEnv,
    tx: &'a TxEnv,
    deadline: Deadline,
}

fn probe<DB: DatabaseRef>(
    cache: &mut CacheDB<DB>,
    env: &ProbeEnv<'_>,
    gas: u64,
) -> RpcResult<Probe> {
    let mut tx = env.tx.clone();
    tx.gas_limit = gas;
    match transact(cache, env.block, env.cfg, tx, env.deadline) {
        Ok(ExecutionResult::Success { gas, .. }) => {
            Ok(Probe::Ok { gas_used: gas.tx_gas_used(), refunded: gas.final_refunded() })
        }
        Ok(ExecutionResult::Revert { output, .. }) => {
            // With too little gas a callee may run out of gas and the caller revert, so during
            // the search any failure means "try higher"; at the upper bound it is reported.
            Ok(Probe::Failed(RpcError::Reverted { output }))
        }
        Ok(ExecutionResult::Halt { reason, .. }) => match reason {
            HaltReason::OutOfGas(_) | HaltReason::InvalidFEOpcode => Ok(Probe::TooLow),
            other => Ok(Probe::Failed(RpcError::Halted(halt_message(&other)))),
        },
        Err(RpcError::InvalidTransaction(msg)) if msg == INTRINSIC_GAS_TOO_LOW => Ok(Probe::TooLow),
        Err(err) => Err(err),
    }
}

/// `eth_estimateGas`: the smallest gas limit (binary search) with which the call succeeds.
pub(crate) fn estimate_gas<DB: DatabaseRef>(
    db: DB,
    header: &Header,
    req: TransactionRequest,
    params: CallParams,
) -> RpcResult<u64> {
    let deadline = Deadline::start(params.timeout);
    let requested_gas = req.gas;
    let prepared = prepare_tx(req, &db, params)?;
    let tx = prepared.tx;
    let block = block_env(header);
    let cfg = cfg(params, prepared.fees_set);
    let env = ProbeEnv { block: &block, cfg: &cfg, tx: &tx, deadline };

    // Upper bound: requested gas, else the block gas limit; never above the cap.
    let mut hi = requested_gas.unwrap_or(header.gas_limit.max(TRANSFER_GAS)).min(params.gas_cap);

    // Fee-paying requests are also bounded by what the sender can afford.
    if prepared.fees_set {
        let balance = db
            .basic_ref(tx.caller)
            .map_err(|e| RpcError::Internal(e.to_string()))?
            .map(|a| a.balance)
            .unwrap_or_default();
        if balance < tx.value {
            return Err(RpcError::InvalidTransaction("insufficient funds for transfer".into()));
        }
        let available = balance - tx.value;
        let allowance = available / U256::from(tx.gas_price.max(1));
        let allowance = u64::try_from(allowance).unwrap_or(u64::MAX);
        hi = hi.min(allowance);
    }

    // Plain transfer to an account without code: 21000, like geth.
    if let TxKind::Call(to) = tx.kind
        && tx.data.is_empty()
        && tx.authorization_list.is_empty()
        && tx.access_list.is_empty()
        && hi >= TRANSFER_GAS
    {
        let code_hash = db
            .basic_ref(to)
            .map_err(|e| RpcError::Internal(e.to_string()))?
            .map(|a| a.code_hash)
            .unwrap_or(KECCAK_EMPTY);
        if code_hash == KECCAK_EMPTY {
            let mut cache = CacheDB::new(&db);
            if let Probe::Ok { .. } = probe(&mut cache, &env, TRANSFER_GAS)? {
                return Ok(TRANSFER_GAS);
            }
        }
    }

    let mut cache = CacheDB::new(db);
    // Run at the upper bound first: if it fails there, report why.
    let (gas_used, refunded) = match probe(&mut cache, &env, hi)? {
        Probe::Ok { gas_used, refunded } => (gas_used, refunded),
        Probe::TooLow => return Err(RpcError::GasRequiredExceedsAllowance(hi)),
        Probe::Failed(err) => return Err(err),
    };

    // The answer lies in (gas_used - 1, hi]. Try the optimistic guess first (covers the common
    // case where the 63/64 rule or refunds need a little more than `gas_used`).
    let mut lo = gas_used.saturating_sub(1);
    let optimistic =
        (gas_used.saturating_add(refunded).saturating_add(2_300)).saturating_mul(64) / 63;
    if optimistic < hi {
        match probe(&mut cache, &env, optimistic)? {
            Probe::Ok { .. } => hi = optimistic,
            _ => lo = optimistic,
        }
    }
    while lo.saturating_add(1) < hi {
        let mid = lo + (hi - lo) / 2;
        match probe(&mut cache, &env, mid)? {
            Probe::Ok { .. } => hi = mid,
            Probe::TooLow | Probe::Failed(_) => lo = mid,
        }
    }
    Ok(hi)
}
