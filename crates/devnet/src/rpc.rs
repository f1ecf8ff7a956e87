//! NEAR's JSON-RPC over the devnet's ledger (DESIGN §4.5), with nearcore's own types, so
//! NEAR's clients parse the answers and errors unchanged.
//!
//! Methods: `status`, `block` (by finality, height or hash), `chunk`, `gas_price`, `query`
//! (`view_account`, `view_access_key`, `call_function`), `send_tx` (with `wait_until`),
//! `broadcast_tx_commit`, `broadcast_tx_async`, `tx`, `EXPERIMENTAL_tx_status`. A refused
//! transaction gets an `InvalidTransaction` error and changes nothing; a bad body gets a parse
//! error; an unknown method `METHOD_NOT_FOUND`.

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use near_crypto::{KeyType, Signature};
use near_jsonrpc_primitives::errors::RpcError;
use near_jsonrpc_primitives::types::query::{
    QueryResponseKind, RpcQueryError, RpcQueryRequest, RpcQueryResponse,
};
use near_jsonrpc_primitives::types::transactions::RpcTransactionError;
use near_primitives::errors::FunctionCallError;
use near_primitives::hash::CryptoHash;
use near_primitives::transaction::SignedTransaction;
use near_primitives::types::{AccountId, Balance, BlockId, BlockReference, Finality, ShardId};
use near_primitives::views::{
    AccessKeyPermissionView, AccessKeyView, AccountView, BlockHeaderView, BlockView, CallResult,
    ChunkHeaderView, ExecutionMetadataView, ExecutionOutcomeView, ExecutionOutcomeWithIdView,
    ExecutionStatusView, FinalExecutionOutcomeView, FinalExecutionStatus, QueryRequest,
    SignedTransactionView, TxExecutionStatus,
};
use serde_json::Value;
use std::sync::Arc;

use crate::ledger::{Ledger, ReceiptResult, TxStatus, ViewError, GAS_PRICE};
use crate::Devnet;

const AUTHOR: &str = "devnet";

impl Devnet {
    /// The JSON-RPC endpoint (`POST /`).
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/", post(handle))
            .with_state(self.clone())
    }
}

fn handler_error<E: serde::Serialize + std::fmt::Display>(e: E) -> RpcError {
    RpcError::new_internal_or_handler_error(
        Some(Value::String(e.to_string())),
        serde_json::to_value(e).expect("errors serialize"),
    )
}

fn to_json<T: serde::Serialize>(v: T) -> Value {
    serde_json::to_value(v).expect("views serialize")
}

fn query(ledger: &Ledger, params: Value) -> Result<Value, RpcError> {
    let request: RpcQueryRequest =
        serde_json::from_value(params).map_err(|e| RpcError::parse_error(e.to_string()))?;
    let block_height = ledger.height;
    let block_hash = ledger.block_hash(block_height);
    let unknown = |account_id: &AccountId| {
        handler_error(RpcQueryError::UnknownAccount {
            requested_account_id: account_id.clone(),
            block_height,
            block_hash,
        })
    };
    let kind = match request.request {
        QueryRequest::CallFunction {
            account_id,
            method_name,
            args,
        } => match ledger.view(&account_id, &method_name, args.as_ref()) {
            Ok((result, logs)) => QueryResponseKind::CallResult(CallResult { result, logs }),
            Err(ViewError::UnknownAccount) => return Err(unknown(&account_id)),
            Err(ViewError::NoContractCode) => {
                return Err(handler_error(RpcQueryError::NoContractCode {
                    contract_account_id: account_id,
                    block_height,
                    block_hash,
                }))
            }
            Err(ViewError::Execution(e)) => {
                return Err(handler_error(RpcQueryError::ContractExecutionError {
                    vm_error: e.clone(),
                    error: FunctionCallError::ExecutionError(e),
                    block_height,
                    block_hash,
                }))
            }
        },
        QueryRequest::ViewAccessKey {
            account_id,
            public_key,
        } => {
            let account = ledger
                .accounts
                .get(&account_id)
                .ok_or_else(|| unknown(&account_id))?;
            let nonce = account.keys.get(&public_key).copied().ok_or_else(|| {
                handler_error(RpcQueryError::UnknownAccessKey {
                    public_key: public_key.clone(),
                    block_height,
                    block_hash,
                })
            })?;
            QueryResponseKind::AccessKey(AccessKeyView {
                nonce,
                permission: AccessKeyPermissionView::FullAccess,
            })
        }
        QueryRequest::ViewAccount { account_id } => {
            let a = ledger
                .accounts
                .get(&account_id)
                .ok_or_else(|| unknown(&account_id))?;
            let code = a.code_hash.and_then(|h| ledger.codes.get(&h));
            QueryResponseKind::ViewAccount(AccountView {
                amount: Balance::from_yoctonear(a.balance),
                locked: Balance::ZERO,
                code_hash: a.code_hash.unwrap_or_default(),
                storage_usage: a.storage_usage(code.map_or(0, |c| c.wasm().len())),
                storage_paid_at: 0,
                global_contract_hash: None,
                global_contract_account_id: None,
                state: Default::default(),
                bootstrap_nonce: None,
            })
        }
        other => {
            return Err(RpcError::new_internal_error(
                None,
                format!("the devnet does not answer {other:?} queries"),
            ));
        }
    };
    Ok(to_json(RpcQueryResponse {
        kind,
        block_height,
        block_hash,
    }))
}

fn header(ledger: &Ledger, height: u64) -> BlockHeaderView {
    let ts = ledger.block_timestamp_ns(height);
    BlockHeaderView {
        height,
        prev_height: height.checked_sub(1),
        hash: ledger.block_hash(height),
        prev_hash: ledger.block_hash(height.saturating_sub(1)),
        timestamp: ts,
        timestamp_nanosec: ts,
        random_value: CryptoHash(ledger.random_seed(height)),
        chunks_included: 1,
        chunk_mask: vec![true],
        gas_price: Balance::from_yoctonear(GAS_PRICE),
        block_ordinal: Some(height),
        total_supply: Balance::from_yoctonear(ledger.accounts.values().map(|a| a.balance).sum()),
        last_final_block: ledger.block_hash(height),
        last_ds_final_block: ledger.block_hash(height),
        signature: Signature::empty(KeyType::ED25519),
        latest_protocol_version: near_primitives::version::PROTOCOL_VERSION,
        ..BlockHeaderView::default()
    }
}

fn chunk_header(ledger: &Ledger, height: u64) -> ChunkHeaderView {
    ChunkHeaderView {
        chunk_hash: near_primitives::hash::hash(ledger.block_hash(height).as_ref()),
        prev_block_hash: ledger.block_hash(height.saturating_sub(1)),
        outcome_root: CryptoHash::default(),
        prev_state_root: CryptoHash::default(),
        encoded_merkle_root: CryptoHash::default(),
        encoded_length: 0,
        height_created: height,
        height_included: height,
        shard_id: ShardId::new(0),
        gas_used: near_primitives::gas::Gas::from_gas(0),
        gas_limit: near_primitives::gas::Gas::from_gas(1_000_000_000_000_000),
        rent_paid: Balance::ZERO,
        validator_reward: Balance::ZERO,
        balance_burnt: Balance::ZERO,
        outgoing_receipts_root: CryptoHash::default(),
        tx_root: CryptoHash::default(),
        validator_proposals: vec![],
        congestion_info: None,
        bandwidth_requests: None,
        proposed_split: None,
        signature: Signature::empty(KeyType::ED25519),
    }
}

/// The height a `block` / `chunk` request names.
fn height_of(ledger: &Ledger, params: &Value) -> Result<u64, RpcError> {
    let not_found = || {
        RpcError::new_internal_or_handler_error(
            Some(Value::String("DB Not Found Error: block".into())),
            serde_json::json!({"name": "UNKNOWN_BLOCK", "info": {}}),
        )
    };
    let reference = match params.get("block_id") {
        Some(id) => BlockReference::BlockId(
            serde_json::from_value(id.clone()).map_err(|e| RpcError::parse_error(e.to_string()))?,
        ),
        None => match params.get("finality") {
            Some(f) => BlockReference::Finality(
                serde_json::from_value(f.clone())
                    .map_err(|e| RpcError::parse_error(e.to_string()))?,
            ),
            None => BlockReference::Finality(Finality::Final),
        },
    };
    match reference {
        BlockReference::BlockId(BlockId::Height(h)) if (1..=ledger.height).contains(&h) => Ok(h),
        BlockReference::BlockId(BlockId::Hash(hash)) => (1..=ledger.height)
            .rev()
            .find(|h| ledger.block_hash(*h) == hash)
            .ok_or_else(not_found),
        BlockReference::BlockId(_) => Err(not_found()),
        _ => Ok(ledger.height),
    }
}

fn block(ledger: &Ledger, params: &Value) -> Result<Value, RpcError> {
    let height = height_of(ledger, params)?;
    Ok(to_json(BlockView {
        author: AUTHOR.parse().expect("a valid account id"),
        header: header(ledger, height),
        chunks: vec![chunk_header(ledger, height)],
    }))
}

fn chunk(ledger: &Ledger, params: &Value) -> Result<Value, RpcError> {
    let height = if let Some(id) = params.get("chunk_id") {
        let id: CryptoHash =
            serde_json::from_value(id.clone()).map_err(|e| RpcError::parse_error(e.to_string()))?;
        (1..=ledger.height)
            .rev()
            .find(|h| chunk_header(ledger, *h).chunk_hash == id)
            .ok_or_else(|| {
                RpcError::new_internal_or_handler_error(
                    Some(Value::String(format!("Chunk Missing: {id}"))),
                    serde_json::json!({"name": "UNKNOWN_CHUNK", "info": {"chunk_hash": id}}),
                )
            })?
    } else {
        height_of(ledger, params)?
    };
    let mut transactions: Vec<(&CryptoHash, SignedTransactionView)> = ledger
        .txs
        .iter()
        .filter(|(_, t)| t.included_at == height)
        .filter_map(|(h, t)| {
            let tx: SignedTransaction = borsh::from_slice(&t.signed).ok()?;
            Some((h, SignedTransactionView::from(tx)))
        })
        .collect();
    transactions.sort_by_key(|(h, _)| **h);
    Ok(serde_json::json!({
        "author": AUTHOR,
        "header": chunk_header(ledger, height),
        "transactions": transactions.into_iter().map(|(_, t)| t).collect::<Vec<_>>(),
        "receipts": [],
    }))
}

fn status(ledger: &Ledger) -> Value {
    let h = ledger.height;
    let time = |height: u64| {
        let ns = ledger.block_timestamp_ns(height) as i128;
        near_time::Utc::from_unix_timestamp_nanos(ns).unwrap_or(near_time::Utc::UNIX_EPOCH)
    };
    to_json(near_primitives::views::StatusResponse {
        version: near_primitives::version::Version {
            version: env!("CARGO_PKG_VERSION").into(),
            build: "chainsig-devnet".into(),
            commit: String::new(),
            rustc_version: String::new(),
        },
        chain_id: crate::CHAIN_ID.into(),
        protocol_version: near_primitives::version::PROTOCOL_VERSION,
        latest_protocol_version: near_primitives::version::PROTOCOL_VERSION,
        rpc_addr: None,
        validators: vec![],
        sync_info: near_primitives::views::StatusSyncInfo {
            latest_block_hash: ledger.block_hash(h),
            latest_block_height: h,
            latest_state_root: CryptoHash::default(),
            latest_block_time: time(h),
            syncing: false,
            earliest_block_hash: Some(ledger.block_hash(1)),
            earliest_block_height: Some(1),
            earliest_block_time: Some(time(1)),
            epoch_id: None,
            epoch_start_height: None,
        },
        validator_account_id: None,
        validator_public_key: None,
        node_public_key: near_crypto::PublicKey::empty(KeyType::ED25519),
        node_key: None,
        uptime_sec: 0,
        genesis_hash: ledger.block_hash(1),
        detailed_debug_status: None,
    })
}

/// The transaction's outcome as NEAR reports it, once it has one.
fn final_outcome(ledger: &Ledger, hash: &CryptoHash) -> Option<FinalExecutionOutcomeView> {
    let record = ledger.txs.get(hash)?;
    let status = match ledger.tx_status(hash)? {
        TxStatus::Pending => return None,
        TxStatus::Value(v) => FinalExecutionStatus::SuccessValue(v),
        TxStatus::Failed(e) => FinalExecutionStatus::Failure(e),
    };
    let tx: SignedTransaction = borsh::from_slice(&record.signed).ok()?;
    let signer = tx.transaction.signer_id().clone();
    let metadata = ExecutionMetadataView {
        version: 1,
        gas_profile: None,
        ..Default::default()
    };
    let transaction_outcome = ExecutionOutcomeWithIdView {
        proof: vec![],
        block_hash: ledger.block_hash(record.included_at),
        id: *hash,
        outcome: ExecutionOutcomeView {
            logs: vec![],
            receipt_ids: vec![record.receipt],
            gas_burnt: near_primitives::gas::Gas::from_gas(0),
            tokens_burnt: Balance::ZERO,
            executor_id: signer,
            status: ExecutionStatusView::SuccessReceiptId(record.receipt),
            metadata: metadata.clone(),
        },
    };
    let receipts_outcome = record
        .receipts
        .iter()
        .filter_map(|id| ledger.executed.get(id))
        .map(|e| ExecutionOutcomeWithIdView {
            proof: vec![],
            block_hash: ledger.block_hash(e.block_height),
            id: e.id,
            outcome: ExecutionOutcomeView {
                logs: e.logs.clone(),
                receipt_ids: e.new_receipts.clone(),
                gas_burnt: near_primitives::gas::Gas::from_gas(e.gas_burnt),
                tokens_burnt: Balance::from_yoctonear(u128::from(e.gas_burnt) * GAS_PRICE),
                executor_id: e.executor.clone(),
                status: match &e.result {
                    ReceiptResult::Value(v) => ExecutionStatusView::SuccessValue(v.clone()),
                    ReceiptResult::Forward(id) => ExecutionStatusView::SuccessReceiptId(*id),
                    ReceiptResult::Failed(err) => ExecutionStatusView::Failure(
                        near_primitives::errors::TxExecutionError::ActionError(
                            serde_json::from_str(err).expect("the ledger wrote this error"),
                        ),
                    ),
                },
                metadata: metadata.clone(),
            },
        })
        .collect();
    Some(FinalExecutionOutcomeView {
        status,
        transaction: SignedTransactionView::from(tx),
        transaction_outcome,
        receipts_outcome,
    })
}

fn signed_tx(base64: &str) -> Result<SignedTransaction, RpcError> {
    use near_primitives::serialize::from_base64;
    let bytes = from_base64(base64)
        .map_err(|e| RpcError::parse_error(format!("signed transaction is not base64: {e}")))?;
    borsh::from_slice(&bytes)
        .map_err(|e| RpcError::parse_error(format!("signed transaction does not decode: {e}")))
}

/// The `{final_execution_status, ...outcome}` body of `send_tx` and `tx`.
fn transaction_response(
    included: bool,
    outcome: Option<FinalExecutionOutcomeView>,
    receipts: bool,
) -> Value {
    let status = match (&outcome, included) {
        (Some(_), _) => TxExecutionStatus::Final,
        (None, true) => TxExecutionStatus::Included,
        (None, false) => TxExecutionStatus::None,
    };
    let mut response = serde_json::json!({ "final_execution_status": status });
    if let Some(outcome) = outcome {
        if let (Value::Object(r), Value::Object(b)) = (&mut response, to_json(outcome)) {
            r.extend(b);
            if receipts {
                r.insert("receipts".into(), Value::Array(vec![]));
            }
        }
    }
    response
}

fn wait_until(params: &Value) -> Result<TxExecutionStatus, RpcError> {
    match params.get("wait_until") {
        None | Some(Value::Null) => Ok(TxExecutionStatus::ExecutedOptimistic),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| RpcError::parse_error(format!("wait_until: {e}"))),
    }
}

impl Devnet {
    fn submit(&self, tx: SignedTransaction) -> Result<CryptoHash, RpcError> {
        self.ledger()
            .admit(tx)
            .map_err(|context| RpcTransactionError::InvalidTransaction { context }.into())
    }

    /// Waits until the transaction reaches `until` (or a yield's lifetime passes: then NEAR's
    /// timeout error), and answers as `tx` does.
    async fn await_tx(
        &self,
        hash: CryptoHash,
        until: TxExecutionStatus,
        receipts: bool,
    ) -> Result<Value, RpcError> {
        // The deadline is in blocks, not seconds: a busy machine produces blocks late, and a
        // `sign` must get its answer or its own timeout, never the RPC's.
        let (last_block, wall_limit) = {
            let ledger = self.ledger();
            let blocks = ledger.vm.yield_timeout_blocks() + 20;
            (
                ledger.height + blocks,
                self.block_interval() * (10 * blocks) as u32,
            )
        };
        let wall_deadline = tokio::time::Instant::now() + wall_limit;
        loop {
            let (known, included, outcome) = {
                let ledger = self.ledger();
                let record = ledger.txs.get(&hash);
                (
                    record.is_some(),
                    record.is_some_and(|r| r.included_at <= ledger.height),
                    final_outcome(&ledger, &hash),
                )
            };
            if !known {
                return Err(RpcTransactionError::UnknownTransaction {
                    requested_transaction_hash: hash,
                }
                .into());
            }
            let done = match until {
                TxExecutionStatus::None => true,
                TxExecutionStatus::Included => included,
                _ => outcome.is_some(),
            };
            if done {
                return Ok(transaction_response(included, outcome, receipts));
            }
            if self.ledger().height > last_block || tokio::time::Instant::now() >= wall_deadline {
                return Err(RpcTransactionError::TimeoutError(None).into());
            }
            tokio::time::sleep(self.block_interval() / 2).await;
        }
    }
}

async fn dispatch(devnet: &Arc<Devnet>, method: &str, params: Value) -> Result<Value, RpcError> {
    let missing = |what: &str| RpcError::parse_error(format!("{method} needs {what}"));
    let tx_b64 = |params: &Value| -> Result<SignedTransaction, RpcError> {
        let b64 = params
            .get("signed_tx_base64")
            .or_else(|| params.get(0))
            .and_then(Value::as_str)
            .ok_or_else(|| missing("signed_tx_base64"))?;
        signed_tx(b64)
    };
    match method {
        "status" => Ok(status(&devnet.ledger())),
        "block" => block(&devnet.ledger(), &params),
        "chunk" => chunk(&devnet.ledger(), &params),
        "gas_price" => Ok(serde_json::json!({"gas_price": GAS_PRICE.to_string()})),
        "query" => {
            let devnet = devnet.clone();
            // Views run wasm: keep them off the async workers.
            tokio::task::spawn_blocking(move || query(&devnet.ledger(), params))
                .await
                .map_err(|e| RpcError::new_internal_error(None, e.to_string()))?
        }
        "send_tx" => {
            let until = wait_until(&params)?;
            let hash = devnet.submit(tx_b64(&params)?)?;
            devnet.await_tx(hash, until, false).await
        }
        "broadcast_tx_commit" => {
            let hash = devnet.submit(tx_b64(&params)?)?;
            let mut v = devnet
                .await_tx(hash, TxExecutionStatus::Final, false)
                .await?;
            if let Value::Object(o) = &mut v {
                o.remove("final_execution_status");
            }
            Ok(v)
        }
        "broadcast_tx_async" => {
            let hash = devnet.submit(tx_b64(&params)?)?;
            Ok(to_json(hash))
        }
        "tx" | "EXPERIMENTAL_tx_status" => {
            let hash: CryptoHash = params
                .get("tx_hash")
                .or_else(|| params.get(0))
                .cloned()
                .and_then(|v| serde_json::from_value(v).ok())
                .ok_or_else(|| missing("tx_hash"))?;
            let until = wait_until(&params)?;
            devnet
                .await_tx(hash, until, method == "EXPERIMENTAL_tx_status")
                .await
        }
        other => Err(RpcError::method_not_found(other.to_owned())),
    }
}

async fn handle(State(devnet): State<Arc<Devnet>>, body: Bytes) -> Json<Value> {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return Json(reply(
                Value::Null,
                Err(RpcError::parse_error(e.to_string())),
            ))
        }
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = request.get("method").and_then(Value::as_str) else {
        return Json(reply(id, Err(RpcError::parse_error("no method".into()))));
    };
    let params = request.get("params").cloned().unwrap_or(Value::Null);
    Json(reply(id, dispatch(&devnet, method, params).await))
}

fn reply(id: Value, result: Result<Value, RpcError>) -> Value {
    match result {
        Ok(result) => serde_json::json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(error) => serde_json::json!({"jsonrpc": "2.0", "id": id, "error": error}),
    }
}
