//! [`ChainProvider`] for the node's store ([`based_storage::Store`]).
//!
//! The store keeps only canonical blocks and serves historical state through change sets, so
//! every block up to the head has state (`latest` uses the cheaper head reader). The start state
//! of a block (for tracing) is its parent's state with the block's pre-transaction steps run
//! again by the block executor itself ([`based_evm::L2BlockExecutor`]).

use std::sync::Arc;

use alloy_consensus::{ReceiptEnvelope, Sealed};
use alloy_primitives::{Address, B256, U256};
use alloy_rpc_types_eth::{EIP1186AccountProofResponse, EIP1186StorageProof};
use based_chainspec::{L1_ANCHOR_ADDRESS, L1_ANCHOR_LATEST_SLOT};
use based_evm::{BlockInput, Deposit, L1Anchor, L2BlockExecutor};
use based_storage::{Store, StoreError};
use revm::{
    database::{BundleState, CacheDB, DbAccount},
    database_interface::DatabaseRef,
    primitives::KECCAK_EMPTY,
};

use crate::backend::{
    BlockBody, ChainProvider, ProviderError, SealedHeader, StateView, StorageKey, TxLocation,
    erase_state,
};

impl From<StoreError> for ProviderError {
    fn from(err: StoreError) -> Self {
        Self::other(err)
    }
}

impl ChainProvider for Store {
    fn head_number(&self) -> Result<u64, ProviderError> {
        Self::head(self)?
            .map(|h| h.number)
            .ok_or_else(|| ProviderError("store has no genesis".into()))
    }

    fn header_by_number(&self, number: u64) -> Result<Option<SealedHeader>, ProviderError> {
        Ok(Self::header_by_number(self, number)?.map(|header| {
            let hash = header.hash_slow();
            SealedHeader { header, hash }
        }))
    }

    fn header_by_hash(&self, hash: B256) -> Result<Option<SealedHeader>, ProviderError> {
        Ok(Self::header_by_hash(self, hash)?.map(|header| SealedHeader { header, hash }))
    }

    fn body(&self, number: u64) -> Result<Option<BlockBody>, ProviderError> {
        Ok(Self::body(self, number)?.map(|b| BlockBody {
            transactions: b.transactions,
            senders: b.senders,
            withdrawals: b.withdrawals,
        }))
    }

    fn receipts(&self, number: u64) -> Result<Option<Vec<ReceiptEnvelope>>, ProviderError> {
        Ok(Self::receipts(self, number)?)
    }

    fn transaction_by_hash(&self, hash: B256) -> Result<Option<TxLocation>, ProviderError> {
        Ok(Self::transaction_by_hash(self, hash)?.map(|t| TxLocation {
            transaction: t.tx,
            sender: t.sender,
            block_number: t.block_number,
            block_hash: t.block_hash,
            index: t.index,
        }))
    }

    fn state_at(&self, number: u64, hash: B256) -> Result<Option<StateView>, ProviderError> {
        // Each reader is one redb read transaction (a snapshot). The block asked for is checked
        // *inside* that snapshot: the reader's own `block_hash_ref(number)` reads the canonical
        // table of the same transaction, and fails when `number` is above the snapshot's head.
        // So the state answered is the post-state of exactly block (`number`, `hash`), even if
        // the head moved or an unwind replaced that block between the caller resolving the
        // header and this call (then: `None`, and the caller resolves again).
        let reader = self.latest()?;
        if reader.head_number() == Some(number) {
            return Ok(snapshot_has(&reader, number, hash).then(|| erase_state(reader)));
        }
        let reader = match Self::state_at(self, number) {
            Ok(reader) => reader,
            Err(StoreError::MissingBlock(_) | StoreError::NoGenesis) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(snapshot_has(&reader, number, hash).then(|| erase_state(reader)))
    }

    fn block_start_state(
        &self,
        chain_id: u64,
        number: u64,
        hash: B256,
    ) -> Result<Option<StateView>, ProviderError> {
        let Some(header) = Self::header_by_hash(self, hash)? else { return Ok(None) };
        if header.number != number {
            return Ok(None);
        }
        let Some(parent_number) = number.checked_sub(1) else {
            // Genesis has no transactions: its start state is its state.
            return ChainProvider::state_at(self, number, hash);
        };
        let Some(parent) = Self::header_by_number(self, parent_number)? else { return Ok(None) };
        if parent.hash_slow() != header.parent_hash {
            return Ok(None);
        }
        let Some(body) = Self::body(self, number)? else { return Ok(None) };

        // The anchor the block was built with: its hash is the header's beacon root (protocol
        // §5.2), its number what the block's anchor call stored in the anchor predeploy (only the
        // system address writes there), read from the block's post-state.
        let Some(anchor_hash) = header.parent_beacon_block_root else {
            return Err(ProviderError(format!("block {number} has no parentBeaconBlockRoot")));
        };
        let post = self.state_at(number)?;
        if !snapshot_has(&post, number, hash) {
            return Ok(None);
        }
        let anchor_number =
            post.storage_ref(L1_ANCHOR_ADDRESS, U256::from(L1_ANCHOR_LATEST_SLOT))?;
        let anchor_number = u64::try_from(anchor_number).map_err(|_| {
            ProviderError(format!("block {number}: anchor number {anchor_number} out of range"))
        })?;
        drop(post);

        let parent_state = Arc::new(self.state_at(parent_number)?);
        if !snapshot_has(&*parent_state, parent_number, header.parent_hash) {
            return Ok(None);
        }
        let input = BlockInput {
            parent: Sealed::new_unchecked(parent, header.parent_hash),
            timestamp: header.timestamp,
            fee_recipient: header.beneficiary,
            gas_limit: header.gas_limit,
            anchor: L1Anchor { number: anchor_number, hash: anchor_hash },
            deposits: body
                .withdrawals
                .iter()
                .flatten()
                .map(|w| Deposit { id: w.index, to: w.address, amount_gwei: w.amount })
                .collect(),
            transactions: Vec::new(),
        };
        let executor = L2BlockExecutor::new(chain_id, Arc::clone(&parent_state), &input)
            .map_err(|e| ProviderError(format!("replaying block {number}: {e}")))?;
        // The executor rebuilt the header fields it derives from the input: they must be the
        // stored block's, else this is not the block's start state.
        let rebuilt = executor.header();
        if rebuilt.mix_hash != header.mix_hash
            || rebuilt.base_fee_per_gas != header.base_fee_per_gas
            || rebuilt.withdrawals_root != header.withdrawals_root
            || rebuilt.parent_beacon_block_root != header.parent_beacon_block_root
        {
            return Err(ProviderError(format!(
                "replaying block {number}: the rebuilt header differs from the stored one"
            )));
        }
        let bundle = executor.finish(Vec::new()).bundle;
        Ok(Some(erase_state(overlay(parent_state, bundle)?)))
    }

    fn proof(
        &self,
        number: u64,
        address: Address,
        keys: &[StorageKey],
    ) -> Result<Option<EIP1186AccountProofResponse>, ProviderError> {
        let slots: Vec<B256> = keys.iter().map(StorageKey::as_b256).collect();
        let proof = self.account_proof(number, address, &slots)?;
        let (nonce, balance, code_hash, storage_hash) = match proof.account {
            Some(a) => (a.nonce, a.balance, a.code_hash, a.storage_root),
            None => (0, Default::default(), KECCAK_EMPTY, alloy_consensus::EMPTY_ROOT_HASH),
        };
        let storage_proof = proof
            .storage
            .into_iter()
            .zip(keys)
            .map(|(p, key)| EIP1186StorageProof {
                key: match key {
                    StorageKey::Hash(h) => (*h).into(),
                    StorageKey::Number(n) => (*n).into(),
                },
                value: p.value,
                proof: p.proof,
            })
            .collect();
        Ok(Some(EIP1186AccountProofResponse {
            address,
            balance,
            code_hash,
            nonce,
            storage_hash,
            account_proof: proof.account_proof,
            storage_proof,
        }))
    }
}

/// `base` with the changes of `bundle` on top: changed accounts, slots and new code answer from
/// the bundle, everything else from `base`. (The pre-transaction steps of a block only credit
/// balances and write slots of existing accounts: no account is destroyed.)
fn overlay<DB: DatabaseRef>(base: DB, bundle: BundleState) -> Result<CacheDB<DB>, ProviderError>
where
    DB::Error: std::fmt::Display,
{
    let mut db = CacheDB::new(base);
    for (hash, code) in bundle.contracts {
        db.cache.contracts.insert(hash, code);
    }
    for (address, account) in bundle.state {
        let Some(info) = account.info else {
            db.cache.accounts.insert(address, DbAccount::new_not_existing());
            continue;
        };
        db.insert_account_info(address, info);
        for (slot, value) in account.storage {
            db.insert_account_storage(address, slot, value.present_value)
                .map_err(ProviderError::other)?;
        }
    }
    Ok(db)
}

/// Whether canonical block `number` is `hash` in `reader`'s snapshot (`false` if `number` is
/// above that snapshot's head).
fn snapshot_has<R: DatabaseRef>(reader: &R, number: u64, hash: B256) -> bool {
    reader.block_hash_ref(number).is_ok_and(|h| h == hash)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use alloy_consensus::{Header, Sealed, TxEip1559};
    use alloy_eips::{eip2718::Encodable2718, eip4895::Withdrawals};
    use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
    use alloy_signer::SignerSync;
    use alloy_signer_local::PrivateKeySigner;
    use based_chainspec::{ChainSpec, L1_ANCHOR_ADDRESS};
    use based_evm::{BlockInput, Deposit, L1Anchor, execute_l2_block};
    use based_storage::{Durability, Store, UnsealedBlock};
    use revm::database_interface::DatabaseRef;
    use serde_json::json;

    use crate::{
        ChainProvider, RpcConfig, RpcDeps,
        debug::tests::{DEV_KEY, quantity, rpc},
        rpc_module,
        test_utils::{MockBased, MockForwarder, TEST_CHAIN_ID},
    };

    fn signed(key: B256, nonce: u64, to: Address, input: Bytes) -> Bytes {
        let signer = PrivateKeySigner::from_bytes(&key).unwrap();
        let tx = TxEip1559 {
            chain_id: TEST_CHAIN_ID,
            nonce,
            gas_limit: 100_000,
            max_fee_per_gas: 100_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(to),
            value: U256::from(1),
            access_list: Default::default(),
            input,
        };
        let sig = signer
            .sign_hash_sync(&alloy_consensus::SignableTransaction::signature_hash(&tx))
            .unwrap();
        let tx: alloy_consensus::TxEnvelope =
            alloy_consensus::SignableTransaction::into_signed(tx, sig).into();
        tx.encoded_2718().into()
    }

    /// A block of the devnet chain whose transactions depend on its pre-transaction steps: one
    /// reads the anchor the block's anchor call recorded, one is sent by an account that only
    /// has funds from the block's deposit. Tracing must replay those steps first.
    #[tokio::test]
    async fn traces_replay_the_deposits_and_the_anchor_before_the_transactions() {
        let spec = ChainSpec::devnet().unwrap();
        assert_eq!(spec.chain_id(), TEST_CHAIN_ID);
        let store = Store::open_in_memory().unwrap();
        let genesis: Header = spec.genesis_header().clone();
        store.init_genesis(&genesis, spec.alloc()).unwrap();

        let fresh_key = B256::repeat_byte(0x42);
        let fresh = PrivateKeySigner::from_bytes(&fresh_key).unwrap().address();
        let anchor = L1Anchor { number: 77, hash: B256::repeat_byte(0x77) };
        let read_anchor = signed(
            DEV_KEY,
            0,
            L1_ANCHOR_ADDRESS,
            Bytes::from(U256::from(anchor.number).to_be_bytes::<32>().to_vec()),
        );
        let from_deposit = signed(fresh_key, 0, Address::repeat_byte(0xee), Bytes::new());
        let input = BlockInput {
            parent: Sealed::new_unchecked(genesis.clone(), genesis.hash_slow()),
            timestamp: genesis.timestamp + 2,
            fee_recipient: Address::repeat_byte(0xfe),
            gas_limit: genesis.gas_limit,
            anchor,
            deposits: vec![Deposit { id: 0, to: fresh, amount_gwei: 1_000_000_000 }],
            transactions: vec![read_anchor, from_deposit],
        };
        let executed = execute_l2_block(TEST_CHAIN_ID, store.latest().unwrap(), &input).unwrap();
        assert!(executed.skipped.is_empty(), "{:?}", executed.skipped);
        let header = executed.header.clone();
        let hashes: Vec<B256> = executed.transactions.iter().map(|t| *t.tx_hash()).collect();
        let block = store
            .seal_and_commit(
                UnsealedBlock {
                    number: header.number,
                    parent_hash: header.parent_hash,
                    transactions: executed.transactions,
                    senders: executed.senders,
                    receipts: executed.receipts,
                    withdrawals: Some(Withdrawals::new(executed.withdrawals)),
                    bundle: executed.bundle,
                    meta: Vec::new(),
                },
                |state_root| Header { state_root, ..header },
                Durability::Immediate,
            )
            .unwrap();

        // The start state has the deposit; the parent state does not.
        let start = store.block_start_state(TEST_CHAIN_ID, 1, block.hash).unwrap().unwrap();
        let balance = |db: &crate::StateView| {
            db.basic_ref(fresh).unwrap().map(|a| a.balance).unwrap_or_default()
        };
        assert_eq!(balance(&start), U256::from(10u128.pow(18)));
        let parent = ChainProvider::state_at(&store, 0, genesis.hash_slow()).unwrap().unwrap();
        assert_eq!(balance(&parent), U256::ZERO);
        // A hash that is not the block's: nothing.
        assert!(store.block_start_state(TEST_CHAIN_ID, 1, B256::ZERO).unwrap().is_none());

        let deps = RpcDeps {
            chain: Arc::new(store.clone()),
            based: Arc::new(MockBased::default()),
            forwarder: Arc::new(MockForwarder::default()),
            events: Default::default(),
            config: RpcConfig::new(TEST_CHAIN_ID),
        };
        let module = rpc_module(deps).unwrap();
        let receipts = rpc(&module, "eth_getBlockReceipts", json!(["0x1"])).await.unwrap();
        assert_eq!(receipts[0]["status"], "0x1");
        let opts = json!({"tracer": "callTracer"});
        let traces =
            rpc(&module, "debug_traceBlockByNumber", json!(["0x1", opts.clone()])).await.unwrap();
        assert_eq!(traces[0]["txHash"], json!(hashes[0]));
        assert_eq!(traces[0]["result"]["to"], json!(L1_ANCHOR_ADDRESS));
        assert_eq!(traces[0]["result"]["output"], json!(anchor.hash));
        assert!(traces[0]["result"].get("error").is_none(), "{traces}");
        assert_eq!(quantity(&traces[0]["result"]["gasUsed"]), quantity(&receipts[0]["gasUsed"]));
        assert_eq!(traces[1]["result"]["from"], json!(fresh));
        assert_eq!(quantity(&traces[1]["result"]["gasUsed"]), quantity(&receipts[1]["gasUsed"]));
        let single =
            rpc(&module, "debug_traceTransaction", json!([hashes[1], opts])).await.unwrap();
        assert_eq!(single, traces[1]["result"]);
    }
}
