//! Tracing and access lists on revm: the execution behind `debug_traceTransaction`,
//! `debug_traceCall`, `debug_traceBlockByNumber` / `debug_traceBlockByHash` and
//! `eth_createAccessList`.
//!
//! - Tracers are revm-inspectors' [`DebugInspector`] (the geth tracers reth serves): the default
//!   struct logger, `callTracer`, `flatCallTracer`, `prestateTracer`, `4byteTracer` and
//!   `noopTracer`. JavaScript, `muxTracer` and `erc7562Tracer` are refused (`-32602`).
//! - Every traced execution runs inside a [`Guard`] that enforces the request's limits while it
//!   runs: the wall-clock deadline (checked every [`DEADLINE_CHECK_STEPS`] instructions and at
//!   every new frame, as for `eth_call`), the number of struct logs recorded
//!   ([`TraceLimits::max_struct_logs`]) and an estimate of the bytes recorded (stack and memory
//!   copies of struct logs, call inputs, logs: [`TraceLimits::max_bytes`]). Past a limit every frame
//!   halts at its next instruction and the request answers an error: a trace never grows past its
//!   budget, whatever the transaction does.
//! - A transaction of a block is traced on the block's start state
//!   ([`block_start_state`](crate::ChainProvider::block_start_state)) after re-executing the
//!   transactions before it, so it sees exactly the state it saw when the block was built.
//! - `eth_createAccessList` runs revm-inspectors' [`AccessListInspector`] and reruns the call with
//!   the list it found until the list no longer changes (geth's algorithm); `gasUsed` is the gas of
//!   the run that used the final list, so a transaction sent with that list uses that gas.

use alloy_consensus::{Header, TxEnvelope};
use alloy_eips::eip2930::{AccessList, AccessListResult};
use alloy_evm::FromRecoveredTx;
use alloy_primitives::{Address, B256, U256};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_rpc_types_trace::geth::{
    GethDebugBuiltInTracerType, GethDebugTracerType, GethDebugTracingOptions,
    GethDefaultTracingOptions, GethTrace, TraceResult,
};
use revm::{
    DatabaseCommit, Inspector,
    context::{BlockEnv, CfgEnv, TxEnv, result::ExecutionResult},
    context_interface::result::{HaltReason, ResultAndState},
    database::CacheDB,
    database_interface::DatabaseRef,
    inspector::NoOpInspector,
    interpreter::{
        CallInputs, CallOutcome, CreateInputs, CreateOutcome, InstructionResult, Interpreter,
        interpreter_types::{MemoryTr, ReturnData},
    },
    primitives::{Log, hardfork::SpecId},
};
use revm_inspectors::{
    access_list::AccessListInspector,
    tracing::{DebugInspector, TransactionContext},
};

use crate::{
    backend::BlockBody,
    error::{RpcError, RpcResult},
    evm::{self, CallParams, DEADLINE_CHECK_STEPS, Deadline},
};

/// Bytes charged per recorded struct log besides its stack and memory copies: about what
/// revm-inspectors keeps per step in memory (its JSON is at least ~60 bytes).
const STEP_BYTES: u64 = 256;
/// Bytes charged per call frame besides its input.
const FRAME_BYTES: u64 = 256;
/// Bytes charged per emitted log besides its data and topics.
const LOG_BYTES: u64 = 64;
/// Most runs of the `eth_createAccessList` search (it normally settles in two).
const MAX_ACCESS_LIST_ROUNDS: usize = 16;

/// The limits one trace request runs under.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TraceLimits {
    /// Most struct logs recorded, all transactions of the request together.
    pub(crate) max_struct_logs: u64,
    /// Most bytes recorded (estimate), all transactions of the request together.
    pub(crate) max_bytes: u64,
    /// The request's wall-clock deadline.
    pub(crate) deadline: Deadline,
}

/// What the chosen tracer records, for the budget.
#[derive(Debug, Clone, Copy, Default)]
struct Recording {
    /// The struct logger: one record per executed instruction.
    steps: bool,
    /// Struct logs carry the stack.
    stack: bool,
    /// Struct logs carry the memory.
    memory: bool,
    /// Struct logs carry the return data buffer.
    return_data: bool,
    /// The client's `limit`: struct logs recorded per transaction at most.
    per_tx_limit: Option<u64>,
}

impl Recording {
    fn struct_logs(config: &GethDefaultTracingOptions) -> Self {
        Self {
            steps: true,
            stack: !config.disable_stack.unwrap_or_default(),
            memory: config.is_memory_enabled(),
            return_data: config.is_return_data_enabled(),
            per_tx_limit: config.limit.filter(|limit| *limit != 0),
        }
    }
}

/// Which limit stopped a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exceeded {
    StructLogs,
    Bytes,
}

/// The running account of one request's recording.
#[derive(Debug)]
struct Budget {
    recording: Recording,
    max_struct_logs: u64,
    max_bytes: u64,
    struct_logs: u64,
    tx_struct_logs: u64,
    bytes: u64,
    exceeded: Option<Exceeded>,
}

impl Budget {
    const fn new(recording: Recording, max_struct_logs: u64, max_bytes: u64) -> Self {
        Self {
            recording,
            max_struct_logs,
            max_bytes,
            struct_logs: 0,
            tx_struct_logs: 0,
            bytes: 0,
            exceeded: None,
        }
    }

    /// No recording, no limit (re-executing the transactions before the traced one).
    fn unlimited() -> Self {
        Self::new(Recording::default(), 0, 0)
    }

    const fn limited(&self) -> bool {
        self.max_bytes != 0
    }

    fn charge_bytes(&mut self, bytes: u64) -> bool {
        if !self.limited() {
            return true;
        }
        self.bytes = self.bytes.saturating_add(bytes);
        if self.bytes > self.max_bytes {
            self.exceeded.get_or_insert(Exceeded::Bytes);
            return false;
        }
        true
    }

    /// Charges the struct log the tracer is about to record for this instruction.
    fn charge_step(&mut self, interp: &Interpreter) -> bool {
        let rec = self.recording;
        if !rec.steps || rec.per_tx_limit.is_some_and(|limit| self.tx_struct_logs >= limit) {
            return true;
        }
        self.tx_struct_logs += 1;
        self.struct_logs += 1;
        if self.struct_logs > self.max_struct_logs {
            self.exceeded.get_or_insert(Exceeded::StructLogs);
            return false;
        }
        let stack = if rec.stack { interp.stack.len() as u64 * 32 } else { 0 };
        let memory = if rec.memory { interp.memory.size() as u64 } else { 0 };
        let return_data =
            if rec.return_data { interp.return_data.buffer().len() as u64 } else { 0 };
        self.charge_bytes(STEP_BYTES + stack + memory + return_data)
    }
}

/// Wraps an inspector with the request's limits (see the module docs). Once the deadline has
/// passed or the budget is spent, every frame halts at its next instruction and the wrapped
/// inspector sees no more instructions; [`Self::check`] then names the limit.
#[derive(Debug)]
pub(crate) struct Guard<I> {
    inner: I,
    deadline: Deadline,
    clock: u32,
    expired: bool,
    budget: Budget,
    /// Whether the inner inspector saw this instruction's `step` (its `step_end` must follow).
    stepped: bool,
}

impl<I> Guard<I> {
    const fn new(inner: I, deadline: Deadline, budget: Budget) -> Self {
        Self { inner, deadline, clock: 0, expired: false, budget, stepped: false }
    }

    /// Whether execution must stop here; looks at the clock every [`DEADLINE_CHECK_STEPS`] calls
    /// (every call when `force`).
    fn stopped(&mut self, force: bool) -> bool {
        if !self.expired {
            self.clock = self.clock.wrapping_add(1);
            if force || self.clock.is_multiple_of(DEADLINE_CHECK_STEPS) {
                self.expired = self.deadline.passed();
            }
        }
        self.expired || self.budget.exceeded.is_some()
    }

    /// The limit that stopped execution, as the request's error.
    fn check(&self, limits: Option<&TraceLimits>) -> RpcResult<()> {
        if self.expired {
            return Err(RpcError::Timeout(self.deadline.timeout()));
        }
        match (self.budget.exceeded, limits) {
            (Some(Exceeded::StructLogs), Some(l)) => {
                Err(RpcError::TooManyStructLogs(l.max_struct_logs))
            }
            (Some(Exceeded::Bytes), Some(l)) => Err(RpcError::TraceTooLarge(l.max_bytes)),
            _ => Ok(()),
        }
    }
}

impl<CTX, I: Inspector<CTX>> Inspector<CTX> for Guard<I> {
    fn initialize_interp(&mut self, interp: &mut Interpreter, context: &mut CTX) {
        if self.stopped(true) {
            interp.halt(InstructionResult::OutOfGas);
            return;
        }
        self.inner.initialize_interp(interp, context);
    }

    fn step(&mut self, interp: &mut Interpreter, context: &mut CTX) {
        self.stepped = false;
        if self.stopped(false) || !self.budget.charge_step(interp) {
            interp.halt(InstructionResult::OutOfGas);
            return;
        }
        self.inner.step(interp, context);
        self.stepped = true;
    }

    fn step_end(&mut self, interp: &mut Interpreter, context: &mut CTX) {
        if std::mem::take(&mut self.stepped) {
            self.inner.step_end(interp, context);
        }
    }

    fn log(&mut self, context: &mut CTX, log: Log) {
        let size = LOG_BYTES + log.data.data.len() as u64 + 32 * log.topics().len() as u64;
        self.budget.charge_bytes(size);
        self.inner.log(context, log);
    }

    fn log_full(&mut self, interp: &mut Interpreter, context: &mut CTX, log: Log) {
        let size = LOG_BYTES + log.data.data.len() as u64 + 32 * log.topics().len() as u64;
        self.budget.charge_bytes(size);
        self.inner.log_full(interp, context, log);
    }

    // Frames always reach the inner inspector, so its frame bookkeeping stays paired; a frame
    // started past a limit halts at its first instruction.
    fn call(&mut self, context: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        self.budget.charge_bytes(FRAME_BYTES + inputs.input.len() as u64);
        self.inner.call(context, inputs)
    }

    fn call_end(&mut self, context: &mut CTX, inputs: &CallInputs, outcome: &mut CallOutcome) {
        self.inner.call_end(context, inputs, outcome);
    }

    fn create(&mut self, context: &mut CTX, inputs: &mut CreateInputs) -> Option<CreateOutcome> {
        self.budget.charge_bytes(FRAME_BYTES + inputs.init_code().len() as u64);
        self.inner.create(context, inputs)
    }

    fn create_end(
        &mut self,
        context: &mut CTX,
        inputs: &CreateInputs,
        outcome: &mut CreateOutcome,
    ) {
        self.inner.create_end(context, inputs, outcome);
    }

    fn selfdestruct(&mut self, contract: Address, target: Address, value: U256) {
        self.inner.selfdestruct(contract, target, value);
    }
}

/// A tracer chosen by the request's options, with the limits it runs under.
pub(crate) struct Tracer {
    guard: Guard<DebugInspector>,
    limits: TraceLimits,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl Tracer {
    /// Checks the options (tracer, its config, `timeout`) and builds the tracer. The deadline is
    /// the sooner of `limits.deadline` and the client's `timeout`.
    pub(crate) fn new(opts: GethDebugTracingOptions, mut limits: TraceLimits) -> RpcResult<Self> {
        if let Some(timeout) = opts.timeout.as_deref() {
            let asked = parse_go_duration(timeout).ok_or_else(|| {
                RpcError::InvalidParams(format!("invalid tracer timeout {timeout:?}"))
            })?;
            if asked < limits.deadline.timeout() {
                limits.deadline = Deadline::start(asked);
            }
        }
        let tracer = opts.tracer.as_ref().filter(|t| !t.as_str().is_empty());
        let recording = match tracer {
            None => Recording::struct_logs(&opts.config),
            Some(GethDebugTracerType::BuiltInTracer(
                GethDebugBuiltInTracerType::CallTracer
                | GethDebugBuiltInTracerType::FlatCallTracer
                | GethDebugBuiltInTracerType::PreStateTracer
                | GethDebugBuiltInTracerType::FourByteTracer
                | GethDebugBuiltInTracerType::NoopTracer,
            )) => Recording::default(),
            Some(GethDebugTracerType::JsTracer(_)) => {
                return Err(RpcError::InvalidParams(
                    "JavaScript tracers are not supported; use callTracer, prestateTracer, \
                     4byteTracer, flatCallTracer, noopTracer or the struct logger"
                        .into(),
                ));
            }
            Some(other) => {
                return Err(RpcError::InvalidParams(format!(
                    "tracer {} is not supported; use callTracer, prestateTracer, 4byteTracer, \
                     flatCallTracer, noopTracer or the struct logger",
                    other.as_str()
                )));
            }
        };
        let inspector =
            DebugInspector::new(opts).map_err(|e| RpcError::InvalidParams(e.to_string()))?;
        let budget = Budget::new(recording, limits.max_struct_logs, limits.max_bytes.max(1));
        Ok(Self { guard: Guard::new(inspector, limits.deadline, budget), limits })
    }

    /// The request's deadline.
    pub(crate) const fn deadline(&self) -> Deadline {
        self.limits.deadline
    }

    /// Traces `tx` on `db` (not committed: the changes are returned with the trace).
    fn trace<DB: DatabaseRef>(
        &mut self,
        db: &mut CacheDB<DB>,
        block: &BlockEnv,
        cfg: &CfgEnv,
        tx: TxEnv,
        context: Option<TransactionContext>,
    ) -> RpcResult<(GethTrace, ResultAndState<HaltReason>)> {
        if self.limits.deadline.passed() {
            return Err(RpcError::Timeout(self.limits.deadline.timeout()));
        }
        self.guard
            .inner
            .fuse()
            .map_err(|e| RpcError::Internal(format!("tracer reset failed: {e}")))?;
        self.guard.budget.tx_struct_logs = 0;
        let res = evm::inspect_tx(db, block, cfg, tx.clone(), &mut self.guard);
        self.guard.check(Some(&self.limits))?;
        let res = res?;
        let trace = self
            .guard
            .inner
            .get_result(context, &tx, block, &res, db)
            .map_err(|e| RpcError::Internal(format!("building the trace failed: {e}")))?;
        Ok((trace, res))
    }
}

/// `debug_traceCall`: traces `req` (with `eth_call` semantics) on `db`, the state after `header`.
pub(crate) fn trace_call<DB: DatabaseRef>(
    db: DB,
    header: &Header,
    req: TransactionRequest,
    params: CallParams,
    mut tracer: Tracer,
) -> RpcResult<GethTrace> {
    let prepared = evm::prepare_tx(req, &db, params)?;
    let cfg = evm::cfg(params, prepared.fees_set);
    let block = evm::block_env(header);
    let mut cache = CacheDB::new(db);
    tracer.trace(&mut cache, &block, &cfg, prepared.tx, None).map(|(trace, _)| trace)
}

/// Which transactions of a block to trace.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Select {
    /// Every transaction (`debug_traceBlockBy*`).
    All,
    /// Only the one at this index; the ones before it are re-executed untraced.
    Index(usize),
}

/// The environment a canonical block's transactions were executed in.
fn block_cfg(chain_id: u64) -> CfgEnv {
    let mut cfg = CfgEnv::new_with_spec(SpecId::PRAGUE);
    cfg.chain_id = chain_id;
    cfg
}

/// Replays the transactions of block (`header`, `hash`) on `start` (its start state) and traces
/// the selected ones, in order.
pub(crate) fn trace_block<DB: DatabaseRef>(
    start: DB,
    header: &Header,
    hash: B256,
    body: &BlockBody,
    chain_id: u64,
    select: Select,
    mut tracer: Tracer,
) -> RpcResult<Vec<TraceResult>> {
    let block = evm::block_env(header);
    let cfg = block_cfg(chain_id);
    let deadline = tracer.deadline();
    let mut db = CacheDB::new(start);
    let last = match select {
        Select::All => body.transactions.len(),
        Select::Index(i) => i.saturating_add(1).min(body.transactions.len()),
    };
    let mut out = Vec::new();
    for (index, (tx, sender)) in body.transactions.iter().zip(&body.senders).take(last).enumerate()
    {
        let tx_env = tx_env(tx, *sender);
        let traced = match select {
            Select::All => true,
            Select::Index(i) => i == index,
        };
        let tx_hash = *tx.tx_hash();
        let state = if traced {
            let context = TransactionContext::default()
                .with_block_hash(hash)
                .with_tx_index(index)
                .with_tx_hash(tx_hash);
            let (trace, res) = tracer
                .trace(&mut db, &block, &cfg, tx_env, Some(context))
                .map_err(|e| replay_error(e, header.number, index))?;
            out.push(TraceResult::Success { result: trace, tx_hash: Some(tx_hash) });
            res.state
        } else {
            let mut guard = Guard::new(NoOpInspector, deadline, Budget::unlimited());
            let res = evm::inspect_tx(&mut db, &block, &cfg, tx_env, &mut guard);
            guard.check(None)?;
            res.map_err(|e| replay_error(e, header.number, index))?.state
        };
        db.commit(state);
    }
    Ok(out)
}

/// The revm transaction of a block's transaction, as the block executor builds it.
fn tx_env(tx: &TxEnvelope, sender: Address) -> TxEnv {
    TxEnv::from_recovered_tx(tx, sender)
}

/// A transaction of a canonical block that does not execute on its replayed state means the
/// replay is not the block (an internal error), unless a request limit stopped it.
fn replay_error(err: RpcError, number: u64, index: usize) -> RpcError {
    match err {
        RpcError::InvalidTransaction(msg) => RpcError::Internal(format!(
            "replaying block {number}: transaction {index} is invalid on the replayed state: {msg}"
        )),
        other => other,
    }
}

/// `eth_createAccessList`: the accounts and storage slots `req` touches, and the gas it uses
/// with that list. As in geth, the sender, the recipient and the precompiles are not listed for
/// being accessed (they are warm anyway), but every storage slot read or written is listed with
/// its account, the recipient's included. A call that reverts or halts still answers its list,
/// with `error` set.
pub(crate) fn create_access_list<DB: DatabaseRef>(
    db: DB,
    header: &Header,
    req: TransactionRequest,
    params: CallParams,
) -> RpcResult<AccessListResult> {
    let deadline = Deadline::start(params.timeout);
    let prepared = evm::prepare_tx(req, &db, params)?;
    let cfg = evm::cfg(params, prepared.fees_set);
    let block = evm::block_env(header);
    let mut tx = prepared.tx;
    if tx.tx_type == 0 {
        // A legacy request: the list applies as in an EIP-2930 transaction.
        tx.tx_type = 1;
    }
    let mut list: AccessList = tx.access_list.clone();
    for _ in 0..MAX_ACCESS_LIST_ROUNDS {
        if deadline.passed() {
            return Err(RpcError::Timeout(deadline.timeout()));
        }
        tx.access_list = list.clone();
        let mut guard =
            Guard::new(AccessListInspector::new(list.clone()), deadline, Budget::unlimited());
        let mut cache = CacheDB::new(&db);
        let res = evm::inspect_tx(&mut cache, &block, &cfg, tx.clone(), &mut guard);
        guard.check(None)?;
        let res = res?;
        let found = guard.inner.into_access_list();
        if found == list {
            let gas_used = U256::from(res.result.tx_gas_used());
            let error = match res.result {
                ExecutionResult::Success { .. } => None,
                ExecutionResult::Revert { output, .. } => {
                    Some(RpcError::Reverted { output }.to_string())
                }
                ExecutionResult::Halt { reason, .. } => Some(evm::halt_message(&reason)),
            };
            return Ok(AccessListResult { access_list: list, gas_used, error });
        }
        list = found;
    }
    Err(RpcError::Internal(format!(
        "the access list did not settle after {MAX_ACCESS_LIST_ROUNDS} runs"
    )))
}

/// Parses a Go duration (`"5s"`, `"300ms"`, `"1m30s"`, `"1.5s"`), as geth's tracer `timeout`.
pub(crate) fn parse_go_duration(s: &str) -> Option<std::time::Duration> {
    const UNITS: [(&str, f64); 8] = [
        ("ns", 1e-9),
        ("us", 1e-6),
        ("µs", 1e-6),
        ("μs", 1e-6),
        ("ms", 1e-3),
        ("s", 1.0),
        ("m", 60.0),
        ("h", 3600.0),
    ];
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    if rest == "0" {
        return Some(std::time::Duration::ZERO);
    }
    let mut secs = 0f64;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let (number, tail) = rest.split_at(digits);
        let value: f64 = number.parse().ok()?;
        // Longest unit first: "ms" before "m".
        let (unit, scale) = UNITS
            .iter()
            .filter(|(unit, _)| tail.starts_with(unit))
            .max_by_key(|(unit, _)| unit.len())?;
        secs += value * scale;
        rest = &tail[unit.len()..];
    }
    std::time::Duration::try_from_secs_f64(secs).ok()
}

#[cfg(test)]
mod tests {
    use alloy_eips::eip2930::{AccessList, AccessListItem, AccessListResult};
    use alloy_primitives::{B256, U256};
    use serde_json::json;

    use crate::{
        debug::tests::{
            READER, REVERTER, TOUCHER, alloc, call_tx, dev, module_with, quantity, rpc,
        },
        test_utils::MemoryChain,
    };

    fn sorted(mut list: AccessList) -> Vec<AccessListItem> {
        list.0.sort_by_key(|item| item.address);
        list.0
    }

    #[tokio::test]
    async fn access_list_holds_the_touched_slots_and_the_gas_a_transaction_with_it_uses() {
        let chain = MemoryChain::new(alloc());
        let (module, _) = module_with(&chain, |_| {});
        let request = json!({"from": dev(), "to": TOUCHER});
        let answer =
            rpc(&module, "eth_createAccessList", json!([request, "latest"])).await.unwrap();
        assert!(answer.get("error").is_none(), "{answer}");
        let result: AccessListResult = serde_json::from_value(answer).unwrap();
        // The callee's slot and the account it calls with its slot; the sender is left out.
        assert_eq!(
            sorted(result.access_list.clone()),
            sorted(AccessList(vec![
                AccessListItem { address: TOUCHER, storage_keys: vec![B256::from(U256::from(7))] },
                AccessListItem { address: READER, storage_keys: vec![B256::from(U256::from(9))] },
            ]))
        );

        // A transaction sent with the list uses exactly `gasUsed`. (As with geth, the recipient
        // is listed with its slot, so this list costs 2,100 more than none: 2,400 for the already
        // warm recipient, 100 saved on each of its slot, the called account and that account's
        // slot.)
        let with = call_tx(0, TOUCHER, result.access_list.clone());
        let without = call_tx(1, TOUCHER, AccessList::default());
        let mined = chain.mine(vec![with.clone(), without.clone()]);
        assert!(mined.skipped.is_empty(), "{:?}", mined.skipped);
        let receipt =
            rpc(&module, "eth_getTransactionReceipt", json!([with.tx_hash()])).await.unwrap();
        assert_eq!(U256::from(quantity(&receipt["gasUsed"])), result.gas_used);
        let plain =
            rpc(&module, "eth_getTransactionReceipt", json!([without.tx_hash()])).await.unwrap();
        assert_eq!(quantity(&plain["gasUsed"]) + 2_100, quantity(&receipt["gasUsed"]));

        // A request that brings the list gets the same answer.
        let request = json!({"from": dev(), "to": TOUCHER, "accessList": result.access_list});
        let again = rpc(&module, "eth_createAccessList", json!([request])).await.unwrap();
        let again: AccessListResult = serde_json::from_value(again).unwrap();
        assert_eq!(again.gas_used, result.gas_used);
        assert_eq!(sorted(again.access_list), sorted(result.access_list));
    }

    #[tokio::test]
    async fn access_list_of_a_reverting_call_carries_the_error() {
        let chain = MemoryChain::new(alloc());
        let (module, _) =
            module_with(&chain, |c| c.call_timeout = std::time::Duration::from_secs(5));
        let request = json!({"from": dev(), "to": REVERTER});
        let answer = rpc(&module, "eth_createAccessList", json!([request])).await.unwrap();
        assert_eq!(answer["error"], "execution reverted: nope");
        assert_eq!(answer["accessList"], json!([]));
        assert!(quantity(&answer["gasUsed"]) > 21_000);

        // An invalid request is an error, not a result.
        let request = json!({"from": dev(), "to": REVERTER, "gas": "0x1"});
        let err = rpc(&module, "eth_createAccessList", json!([request])).await.unwrap_err();
        assert_eq!(err, (-32000, "intrinsic gas too low".to_string()));
    }
}
