//! The `debug_` namespace: `debug_traceTransaction`, `debug_traceCall`,
//! `debug_traceBlockByNumber`, `debug_traceBlockByHash` (execution in [`crate::trace`]).
//!
//! Every trace is an expensive request: it waits for one of the
//! [`crate::RpcConfig::max_concurrent_calls`] slots like `eth_call`, runs on the blocking pool
//! and is bounded by the call timeout (all transactions of the request together, re-executed
//! ones included; a tracer's `timeout` option can only shorten it), the struct-log cap
//! ([`crate::RpcConfig::max_struct_logs`]) and the response size cap
//! ([`crate::RpcConfig::max_response_body_size`], checked against an estimate of what the trace
//! records while it runs). `debug_traceCall` also has the gas cap of `eth_call`.

use alloy_primitives::B256;
use alloy_rpc_types_eth::{BlockId, BlockNumberOrTag, TransactionRequest};
use alloy_rpc_types_trace::geth::{
    GethDebugTracingCallOptions, GethDebugTracingOptions, GethTrace, TraceResult,
};
use jsonrpsee::core::{RpcResult, async_trait};

use crate::{
    api::DebugApiServer,
    backend::SealedHeader,
    error::{self, RpcError},
    eth::EthHandler,
    evm::Deadline,
    trace::{self, Select, TraceLimits, Tracer},
};

impl EthHandler {
    /// The tracer the options ask for, under this node's limits; its deadline starts now.
    fn tracer(&self, options: Option<GethDebugTracingOptions>) -> error::RpcResult<Tracer> {
        let config = &self.deps.config;
        Tracer::new(
            options.unwrap_or_default(),
            TraceLimits {
                max_struct_logs: config.max_struct_logs,
                max_bytes: u64::from(config.max_response_body_size),
                deadline: Deadline::start(config.call_timeout),
            },
        )
    }

    /// Traces the selected transactions of canonical block `header` on its replayed start state.
    fn trace_block(
        &self,
        header: &SealedHeader,
        select: Select,
        tracer: Tracer,
    ) -> error::RpcResult<Vec<TraceResult>> {
        let chain = &self.deps.chain;
        let chain_id = self.deps.config.chain_id;
        let number = header.header.number;
        let body = chain.body(number)?;
        let start = chain.block_start_state(chain_id, number, header.hash)?;
        // The body and the start state come from separate reads: serve them only if the block
        // is still the canonical one they were read for.
        if !self.still_canonical(header)? {
            return Err(RpcError::HeaderNotFound);
        }
        let (Some(body), Some(start)) = (body, start) else {
            return Err(RpcError::StateUnavailable(number));
        };
        trace::trace_block(start, &header.header, header.hash, &body, chain_id, select, tracer)
    }

    fn trace_transaction(
        &self,
        hash: B256,
        options: Option<GethDebugTracingOptions>,
    ) -> error::RpcResult<GethTrace> {
        let tracer = self.tracer(options)?;
        let chain = &self.deps.chain;
        let location =
            chain.transaction_by_hash(hash)?.ok_or(RpcError::TransactionNotFound(hash))?;
        let header = chain
            .header_by_hash(location.block_hash)?
            .ok_or(RpcError::TransactionNotFound(hash))?;
        let index = usize::try_from(location.index).unwrap_or(usize::MAX);
        let traces = self.trace_block(&header, Select::Index(index), tracer)?;
        match traces.into_iter().next() {
            Some(TraceResult::Success { result, tx_hash }) if tx_hash == Some(hash) => Ok(result),
            _ => Err(RpcError::TransactionNotFound(hash)),
        }
    }

    fn trace_block_by_header(
        &self,
        header: Option<SealedHeader>,
        options: Option<GethDebugTracingOptions>,
    ) -> error::RpcResult<Vec<TraceResult>> {
        let tracer = self.tracer(options)?;
        let header = header.ok_or(RpcError::HeaderNotFound)?;
        self.trace_block(&header, Select::All, tracer)
    }
}

#[async_trait]
impl DebugApiServer for EthHandler {
    async fn trace_transaction(
        &self,
        hash: B256,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<GethTrace> {
        self.run_expensive(move |this| this.trace_transaction(hash, options))
            .await
            .map_err(Into::into)
    }

    async fn trace_call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        options: Option<GethDebugTracingCallOptions>,
    ) -> RpcResult<GethTrace> {
        let GethDebugTracingCallOptions {
            tracing_options,
            state_overrides,
            block_overrides,
            tx_index,
        } = options.unwrap_or_default();
        if state_overrides.is_some() || block_overrides.is_some() || tx_index.is_some() {
            return Err(RpcError::InvalidParams(
                "stateOverrides, blockOverrides and txIndex are not supported".into(),
            )
            .into());
        }
        let params = self.call_params();
        self.run_expensive(move |this| {
            let tracer = this.tracer(Some(tracing_options))?;
            let (header, state) = this.state_at(block)?;
            trace::trace_call(state, &header.header, request, params, tracer)
        })
        .await
        .map_err(Into::into)
    }

    async fn trace_block_by_number(
        &self,
        block: BlockNumberOrTag,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>> {
        // The pending block has no replayable start state here: `pending` traces the head.
        let block = match block {
            BlockNumberOrTag::Pending => BlockNumberOrTag::Latest,
            other => other,
        };
        self.run_expensive(move |this| {
            let header = this.header_by_tag(block)?;
            this.trace_block_by_header(header, options)
        })
        .await
        .map_err(Into::into)
    }

    async fn trace_block_by_hash(
        &self,
        hash: B256,
        options: Option<GethDebugTracingOptions>,
    ) -> RpcResult<Vec<TraceResult>> {
        self.run_expensive(move |this| {
            let header = this.deps.chain.header_by_hash(hash)?;
            this.trace_block_by_header(header, options)
        })
        .await
        .map_err(Into::into)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Tracing through the JSON-RPC module over the in-memory test chain. The helpers are shared
    //! with the access-list and txpool tests.

    use std::sync::Arc;

    use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TypedTransaction};
    use alloy_eips::eip2930::AccessList;
    use alloy_primitives::{Address, B256, Bytes, TxKind, U256, b256, hex};
    use alloy_signer::SignerSync;
    use alloy_signer_local::PrivateKeySigner;
    use alloy_sol_types::{Revert, SolError};
    use jsonrpsee::RpcModule;
    use revm::{bytecode::Bytecode, state::AccountInfo};
    use serde_json::{Value, json};

    use crate::{
        RpcConfig, RpcDeps, rpc_module,
        test_utils::{MemoryChain, MockBased, MockForwarder, TEST_CHAIN_ID},
    };

    /// anvil's first dev key.
    pub(crate) const DEV_KEY: B256 =
        b256!("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");

    /// `PUSH1 1 PUSH1 2 ADD STOP`.
    pub(crate) const ADD: Address = Address::repeat_byte(0xad);
    /// Reverts with `Error("nope")`.
    pub(crate) const REVERTER: Address = Address::repeat_byte(0xb0);
    /// Returns 42.
    pub(crate) const ANSWER: Address = Address::repeat_byte(0xc0);
    /// CALLs [`REVERTER`], STATICCALLs [`ANSWER`], then stops.
    pub(crate) const CALLER: Address = Address::repeat_byte(0xa0);
    /// As [`CALLER`], then reverts with empty data.
    pub(crate) const CALLER_REVERTS: Address = Address::repeat_byte(0xa1);
    /// Increments slot 0 and returns the new value.
    pub(crate) const COUNTER: Address = Address::repeat_byte(0xcc);
    /// `JUMPDEST PUSH0 JUMP`: loops until out of gas.
    pub(crate) const LOOP: Address = Address::repeat_byte(0x11);
    /// Reads slot 7, CALLs [`READER`], stops.
    pub(crate) const TOUCHER: Address = Address::repeat_byte(0xd0);
    /// Reads slot 9, stops.
    pub(crate) const READER: Address = Address::repeat_byte(0xe0);
    /// `MLOAD` at 1,000,000 (1 MB of memory), then stops.
    pub(crate) const BIG_MEMORY: Address = Address::repeat_byte(0x33);

    pub(crate) fn dev() -> Address {
        PrivateKeySigner::from_bytes(&DEV_KEY).unwrap().address()
    }

    fn contract(code: Vec<u8>) -> AccountInfo {
        let code = Bytecode::new_raw(code.into());
        AccountInfo { code_hash: code.hash_slow(), code: Some(code), ..Default::default() }
    }

    /// `CALL(gas, to, 0, 0, 0, 0, 0) POP`.
    fn call_code(to: Address) -> Vec<u8> {
        let mut code = hex!("60006000600060006000").to_vec();
        code.push(0x73);
        code.extend_from_slice(to.as_slice());
        code.extend_from_slice(&hex!("5af150"));
        code
    }

    fn reverter_code() -> Vec<u8> {
        let payload = Revert::from("nope").abi_encode();
        assert_eq!(payload.len(), 100);
        let mut code = hex!("6064600c60003960646000fd").to_vec();
        code.extend_from_slice(&payload);
        code
    }

    fn caller_code(revert: bool) -> Vec<u8> {
        let mut code = call_code(REVERTER);
        // STATICCALL(gas, ANSWER, 0, 0, 0, 32) POP
        code.extend_from_slice(&hex!("6020600060006000"));
        code.push(0x73);
        code.extend_from_slice(ANSWER.as_slice());
        code.extend_from_slice(&hex!("5afa50"));
        code.extend_from_slice(if revert { &hex!("60006000fd")[..] } else { &[0x00][..] });
        code
    }

    pub(crate) fn alloc() -> Vec<(Address, AccountInfo)> {
        let mut toucher = hex!("60075450").to_vec();
        toucher.extend_from_slice(&call_code(READER));
        toucher.push(0x00);
        vec![
            (dev(), AccountInfo { balance: U256::from(10u128.pow(21)), ..Default::default() }),
            (ADD, contract(hex!("600160020100").to_vec())),
            (REVERTER, contract(reverter_code())),
            (ANSWER, contract(hex!("602a60005260206000f3").to_vec())),
            (CALLER, contract(caller_code(false))),
            (CALLER_REVERTS, contract(caller_code(true))),
            (COUNTER, contract(hex!("5f546001018060005560005260205ff3").to_vec())),
            (LOOP, contract(hex!("5b5f56").to_vec())),
            (TOUCHER, contract(toucher)),
            (READER, contract(hex!("6009545000").to_vec())),
            (BIG_MEMORY, contract(hex!("620f4240515000").to_vec())),
        ]
    }

    pub(crate) fn sign(tx: impl Into<TypedTransaction>) -> TxEnvelope {
        let signer = PrivateKeySigner::from_bytes(&DEV_KEY).unwrap();
        let typed: TypedTransaction = tx.into();
        let sig = signer.sign_hash_sync(&typed.signature_hash()).unwrap();
        typed.into_signed(sig).into()
    }

    pub(crate) fn call_tx(nonce: u64, to: Address, access_list: AccessList) -> TxEnvelope {
        sign(TxEip1559 {
            chain_id: TEST_CHAIN_ID,
            nonce,
            gas_limit: 500_000,
            max_fee_per_gas: 10_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(to),
            value: U256::ZERO,
            access_list,
            input: Bytes::new(),
        })
    }

    /// A module over `chain` with `config` tweaks; the backend is returned for txpool tests.
    pub(crate) fn module_with(
        chain: &MemoryChain,
        config: impl FnOnce(&mut RpcConfig),
    ) -> (RpcModule<()>, Arc<MockBased>) {
        let based = Arc::new(MockBased::default());
        let mut cfg = RpcConfig::new(TEST_CHAIN_ID);
        config(&mut cfg);
        let deps = RpcDeps {
            chain: Arc::new(chain.clone()),
            based: based.clone(),
            forwarder: Arc::new(MockForwarder::default()),
            events: Default::default(),
            config: cfg,
        };
        (rpc_module(deps).unwrap(), based)
    }

    /// Calls `method`; `Err((code, message))` for a JSON-RPC error.
    pub(crate) async fn rpc(
        module: &RpcModule<()>,
        method: &str,
        params: Value,
    ) -> Result<Value, (i64, String)> {
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (response, _) = module.raw_json_request(&request.to_string(), 1).await.unwrap();
        let response: Value = serde_json::from_str(response.get()).unwrap();
        match response.get("error") {
            Some(err) => Err((
                err["code"].as_i64().unwrap(),
                err["message"].as_str().unwrap_or_default().to_string(),
            )),
            None => Ok(response["result"].clone()),
        }
    }

    fn call(to: Address) -> Value {
        json!({"from": dev(), "to": to, "gas": "0x186a0"})
    }

    /// A hex quantity as a number.
    pub(crate) fn quantity(v: &Value) -> u64 {
        u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    }

    fn word(n: u8) -> String {
        format!("0x{}{n:02x}", "00".repeat(31))
    }

    fn call_tracer() -> Value {
        json!({"tracer": "callTracer"})
    }

    #[tokio::test]
    async fn call_tracer_shows_the_nested_reverted_call() {
        let chain = MemoryChain::new(alloc());
        let ok = call_tx(0, CALLER, AccessList::default());
        let failing = call_tx(1, CALLER_REVERTS, AccessList::default());
        let mined = chain.mine(vec![ok.clone(), failing.clone()]);
        assert!(mined.skipped.is_empty(), "{:?}", mined.skipped);
        let (module, _) = module_with(&chain, |_| {});
        let receipts = rpc(&module, "eth_getBlockReceipts", json!(["0x1"])).await.unwrap();

        let trace = rpc(&module, "debug_traceTransaction", json!([ok.tx_hash(), call_tracer()]))
            .await
            .unwrap();
        assert_eq!(trace["type"], "CALL");
        assert_eq!(trace["from"], json!(dev()));
        assert_eq!(trace["to"], json!(CALLER));
        assert_eq!(trace["value"], "0x0");
        assert_eq!(trace["gas"], "0x7a120");
        assert_eq!(trace["gasUsed"], receipts[0]["gasUsed"]);
        assert!(trace.get("error").is_none(), "{trace}");
        let calls = trace["calls"].as_array().unwrap();
        assert_eq!(calls.len(), 2, "{trace}");
        assert_eq!(calls[0]["type"], "CALL");
        assert_eq!(calls[0]["from"], json!(CALLER));
        assert_eq!(calls[0]["to"], json!(REVERTER));
        assert_eq!(calls[0]["error"], "execution reverted");
        assert_eq!(calls[0]["revertReason"], "nope");
        assert_eq!(calls[0]["output"], json!(Bytes::from(Revert::from("nope").abi_encode())));
        assert!(calls[0].get("calls").is_none());
        assert_eq!(calls[1]["type"], "STATICCALL");
        assert_eq!(calls[1]["to"], json!(ANSWER));
        assert_eq!(calls[1]["output"], word(42));
        assert!(calls[1].get("error").is_none());

        // The failing transaction: the top call carries the revert.
        let trace =
            rpc(&module, "debug_traceTransaction", json!([failing.tx_hash(), call_tracer()]))
                .await
                .unwrap();
        assert_eq!(trace["error"], "execution reverted");
        let used = quantity(&receipts[1]["cumulativeGasUsed"])
            - quantity(&receipts[0]["cumulativeGasUsed"]);
        assert_eq!(quantity(&trace["gasUsed"]), used);
        assert_eq!(trace["calls"].as_array().unwrap().len(), 2);

        // onlyTopCall drops the sub-calls.
        let only_top = json!({"tracer": "callTracer", "tracerConfig": {"onlyTopCall": true}});
        let trace =
            rpc(&module, "debug_traceTransaction", json!([ok.tx_hash(), only_top])).await.unwrap();
        assert!(trace.get("calls").is_none(), "{trace}");
        assert_eq!(trace["to"], json!(CALLER));

        // debug_traceCall of the same call on the block's parent state: the same tree.
        let traced = rpc(&module, "debug_traceCall", json!([call(CALLER), "0x0", call_tracer()]))
            .await
            .unwrap();
        assert_eq!(traced["calls"][0]["revertReason"], "nope");
        assert_eq!(traced["calls"][1]["output"], word(42));
    }

    #[tokio::test]
    async fn struct_logger_records_each_instruction_with_its_gas() {
        let chain = MemoryChain::new(alloc());
        let (module, _) = module_with(&chain, |_| {});
        let trace = rpc(&module, "debug_traceCall", json!([call(ADD), "latest"])).await.unwrap();
        assert_eq!(trace["failed"], false);
        assert_eq!(trace["gas"], 21_009);
        let logs = trace["structLogs"].as_array().unwrap();
        let ops: Vec<&str> = logs.iter().map(|l| l["op"].as_str().unwrap()).collect();
        assert_eq!(ops, ["PUSH1", "PUSH1", "ADD", "STOP"]);
        let pcs: Vec<u64> = logs.iter().map(|l| l["pc"].as_u64().unwrap()).collect();
        assert_eq!(pcs, [0, 2, 4, 5]);
        let gas: Vec<u64> = logs.iter().map(|l| l["gas"].as_u64().unwrap()).collect();
        assert_eq!(gas, [79_000, 78_997, 78_994, 78_991]);
        let costs: Vec<u64> = logs.iter().map(|l| l["gasCost"].as_u64().unwrap()).collect();
        assert_eq!(costs, [3, 3, 3, 0]);
        assert!(logs.iter().all(|l| l["depth"] == 1));
        let stacks: Vec<Value> = logs.iter().map(|l| l["stack"].clone()).collect();
        assert_eq!(stacks, [json!([]), json!(["0x1"]), json!(["0x1", "0x2"]), json!(["0x3"])]);
        assert!(logs.iter().all(|l| l.get("memory").is_none()));

        // disableStack drops the stacks; enableMemory adds memory.
        let opts = json!({"disableStack": true, "enableMemory": true});
        let trace =
            rpc(&module, "debug_traceCall", json!([call(ADD), "latest", opts])).await.unwrap();
        let logs = trace["structLogs"].as_array().unwrap();
        assert_eq!(logs.len(), 4);
        assert!(logs.iter().all(|l| l.get("stack").is_none()), "{trace}");

        // A storage write shows in `storage` (not disabled by default).
        let trace =
            rpc(&module, "debug_traceCall", json!([call(COUNTER), "latest"])).await.unwrap();
        let sstore =
            trace["structLogs"].as_array().unwrap().iter().find(|l| l["op"] == "SSTORE").unwrap();
        assert_eq!(sstore["storage"], json!({ word(0): word(1) }));
        assert_eq!(sstore["gasCost"], 20_000);
        assert_eq!(trace["returnValue"].as_str().unwrap().trim_start_matches("0x"), &word(1)[2..]);
    }

    #[tokio::test]
    async fn a_transaction_is_traced_after_the_ones_before_it_in_its_block() {
        let chain = MemoryChain::new(alloc());
        chain.mine(vec![call_tx(0, COUNTER, AccessList::default())]);
        let first = call_tx(1, COUNTER, AccessList::default());
        let second = call_tx(2, COUNTER, AccessList::default());
        let block = chain.mine(vec![first.clone(), second.clone()]);
        assert!(block.skipped.is_empty());
        let (module, _) = module_with(&chain, |_| {});

        // Block 1 left the counter at 1: block 2's transactions return 2 and 3.
        for (tx, value) in [(&first, 2), (&second, 3)] {
            let trace =
                rpc(&module, "debug_traceTransaction", json!([tx.tx_hash(), call_tracer()]))
                    .await
                    .unwrap();
            assert_eq!(trace["output"], word(value), "{trace}");
        }

        let by_number =
            rpc(&module, "debug_traceBlockByNumber", json!(["0x2", call_tracer()])).await.unwrap();
        let results = by_number.as_array().unwrap();
        assert_eq!(results.len(), 2);
        assert_eq!(results[0]["txHash"], json!(first.tx_hash()));
        assert_eq!(results[0]["result"]["output"], word(2));
        assert_eq!(results[1]["txHash"], json!(second.tx_hash()));
        assert_eq!(results[1]["result"]["output"], word(3));
        let by_hash =
            rpc(&module, "debug_traceBlockByHash", json!([block.header.hash, call_tracer()]))
                .await
                .unwrap();
        assert_eq!(by_hash, by_number);
        // `latest` is block 2; the struct logger is the default tracer.
        let latest = rpc(&module, "debug_traceBlockByNumber", json!(["latest"])).await.unwrap();
        assert_eq!(
            latest[1]["result"]["returnValue"].as_str().unwrap().trim_start_matches("0x"),
            &word(3)[2..]
        );
        // Genesis has no transactions.
        assert_eq!(
            rpc(&module, "debug_traceBlockByNumber", json!(["0x0"])).await.unwrap(),
            json!([])
        );

        let unknown = B256::repeat_byte(0x99);
        let err = rpc(&module, "debug_traceTransaction", json!([unknown])).await.unwrap_err();
        assert_eq!(err, (-32000, format!("transaction {unknown} not found")));
        let err = rpc(&module, "debug_traceBlockByNumber", json!(["0x9"])).await.unwrap_err();
        assert_eq!(err, (-32000, "header not found".to_string()));
    }

    #[tokio::test]
    async fn struct_logs_past_the_limit_are_refused() {
        let chain = MemoryChain::new(alloc());
        let (module, _) = module_with(&chain, |c| c.max_struct_logs = 3);
        let err = rpc(&module, "debug_traceCall", json!([call(ADD)])).await.unwrap_err();
        assert_eq!(err.0, -32005);
        assert!(err.1.starts_with("trace exceeds 3 struct logs"), "{}", err.1);
        // The client's `limit` records fewer: accepted.
        let trace = rpc(&module, "debug_traceCall", json!([call(ADD), "latest", {"limit": 2}]))
            .await
            .unwrap();
        assert_eq!(trace["structLogs"].as_array().unwrap().len(), 2);
        assert_eq!(trace["gas"], 21_009);
        // Other tracers record no struct logs.
        rpc(&module, "debug_traceCall", json!([call(ADD), "latest", call_tracer()])).await.unwrap();

        let (module, _) = module_with(&chain, |c| c.max_struct_logs = 4);
        let trace = rpc(&module, "debug_traceCall", json!([call(ADD)])).await.unwrap();
        assert_eq!(trace["structLogs"].as_array().unwrap().len(), 4);

        // The limit covers a whole block (two transactions of 4 struct logs each).
        chain.mine(vec![
            call_tx(0, ADD, AccessList::default()),
            call_tx(1, ADD, AccessList::default()),
        ]);
        let err = rpc(&module, "debug_traceBlockByNumber", json!(["0x1"])).await.unwrap_err();
        assert_eq!(err.0, -32005, "{}", err.1);
        let (module, _) = module_with(&chain, |c| c.max_struct_logs = 8);
        let traces = rpc(&module, "debug_traceBlockByNumber", json!(["0x1"])).await.unwrap();
        assert_eq!(traces[1]["result"]["structLogs"].as_array().unwrap().len(), 4);
    }

    #[tokio::test]
    async fn traces_recording_more_than_a_response_may_hold_are_refused() {
        let chain = MemoryChain::new(alloc());
        let (module, _) = module_with(&chain, |c| c.max_response_body_size = 100_000);
        let big = json!({"from": dev(), "to": BIG_MEMORY, "gas": "0x1c9c380"});
        // Without memory the trace is small.
        let trace = rpc(&module, "debug_traceCall", json!([big.clone()])).await.unwrap();
        assert_eq!(trace["failed"], false, "{trace}");
        // With memory every step after the MLOAD copies 1 MB.
        let err = rpc(&module, "debug_traceCall", json!([big, "latest", {"enableMemory": true}]))
            .await
            .unwrap_err();
        assert_eq!(err.0, -32005);
        assert!(
            err.1.starts_with("trace exceeds the response size limit (100000 bytes)"),
            "{}",
            err.1
        );
    }

    #[tokio::test]
    async fn traces_are_aborted_at_the_call_timeout() {
        let chain = MemoryChain::new(alloc());
        chain.mine(vec![sign(TxEip1559 {
            chain_id: TEST_CHAIN_ID,
            nonce: 0,
            gas_limit: 20_000_000,
            max_fee_per_gas: 10_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(LOOP),
            value: U256::ZERO,
            access_list: AccessList::default(),
            input: Bytes::new(),
        })]);
        let (module, _) =
            module_with(&chain, |c| c.call_timeout = std::time::Duration::from_millis(20));
        let endless = json!({"from": dev(), "to": LOOP});
        let err = rpc(&module, "debug_traceCall", json!([endless, "latest", call_tracer()]))
            .await
            .unwrap_err();
        assert_eq!(err, (-32000, "execution aborted (timeout = 20ms)".to_string()));
        let err = rpc(&module, "debug_traceBlockByNumber", json!(["0x1", call_tracer()]))
            .await
            .unwrap_err();
        assert_eq!(err, (-32000, "execution aborted (timeout = 20ms)".to_string()));

        // A tracer `timeout` shortens the node's, never lengthens it.
        let (module, _) = module_with(&chain, |_| {});
        let opts = json!({"tracer": "callTracer", "timeout": "5ms"});
        let err =
            rpc(&module, "debug_traceCall", json!([endless, "latest", opts])).await.unwrap_err();
        assert_eq!(err, (-32000, "execution aborted (timeout = 5ms)".to_string()));
    }

    #[tokio::test]
    async fn traces_and_access_lists_take_a_call_slot() {
        let chain = MemoryChain::new(alloc());
        let (module, _) = module_with(&chain, |c| {
            c.max_concurrent_calls = 1;
            c.call_queue_timeout = std::time::Duration::from_millis(50);
            c.call_timeout = std::time::Duration::from_millis(500);
        });
        let endless = json!({"from": dev(), "to": LOOP});
        let busy = async {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let access_list = rpc(&module, "eth_createAccessList", json!([call(ADD)])).await;
            let trace = rpc(&module, "debug_traceCall", json!([call(ADD)])).await;
            (access_list, trace)
        };
        let (running, (access_list, trace)) = tokio::join!(
            rpc(&module, "debug_traceCall", json!([endless, "latest", call_tracer()])),
            busy
        );
        assert_eq!(running.unwrap_err(), (-32000, "execution aborted (timeout = 500ms)".into()));
        for refused in [access_list, trace] {
            let (code, message) = refused.unwrap_err();
            assert_eq!(code, -32005);
            assert!(message.starts_with("server busy: 1 expensive requests"), "{message}");
        }
        // The slot is free again.
        rpc(&module, "debug_traceCall", json!([call(ADD)])).await.unwrap();
    }

    #[tokio::test]
    async fn unsupported_options_are_refused() {
        let chain = MemoryChain::new(alloc());
        let (module, _) = module_with(&chain, |_| {});
        for opts in [
            json!({"tracer": "muxTracer"}),
            json!({"tracer": "{ result: function() { return 1; } }"}),
            json!({"tracer": "callTracer", "timeout": "soon"}),
            json!({"stateOverrides": {}}),
        ] {
            let err = rpc(&module, "debug_traceCall", json!([call(ADD), "latest", opts]))
                .await
                .unwrap_err();
            assert_eq!(err.0, -32602, "{opts}: {}", err.1);
        }
        // The other built-in tracers work.
        for tracer in ["prestateTracer", "4byteTracer", "noopTracer", "flatCallTracer"] {
            let opts = json!({"tracer": tracer});
            rpc(&module, "debug_traceCall", json!([call(CALLER), "latest", opts])).await.unwrap();
        }
    }

    #[test]
    fn go_durations() {
        use std::time::Duration;

        use crate::trace::parse_go_duration as p;
        assert_eq!(p("5s"), Some(Duration::from_secs(5)));
        assert_eq!(p("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(p("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(p("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(p("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(p("10us"), Some(Duration::from_micros(10)));
        assert_eq!(p("0"), Some(Duration::ZERO));
        for bad in ["", "5", "s", "5x", "-1s", "1..2s"] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }
}
