//! NEAR's JSON-RPC over the devnet's ledger (docs/design.md §4.5), with nearcore's own types, so
//! NEAR's clients parse the answers and errors unchanged.
//!
//! Methods: `status`, `block` (by finality, height or hash), `chunk`, `gas_price` (these
//! three also with nearcore's positional `[id]`), `EXPERIMENTAL_protocol_config` (see
//! [`protocol`]), `query` (`view_account`, `view_access_key`, `view_access_key_list`,
//! `view_code`, `call_function`, `view_state`), `send_tx` (with `wait_until`),
//! `broadcast_tx_commit`, `broadcast_tx_async`, `tx`, `EXPERIMENTAL_tx_status`,
//! `EXPERIMENTAL_changes` (`data_changes` only) and `EXPERIMENTAL_changes_in_block` (data
//! touches only) — see [`changes`]. A refused transaction gets an `InvalidTransaction` error and
//! changes nothing; a bad body gets a parse error; an unknown method `METHOD_NOT_FOUND`.
//!
//! A transaction's status is nearcore's: `INCLUDED` once in a block, `EXECUTED` (what
//! `EXECUTED_OPTIMISTIC` waits for) once every receipt it led to but refunds has run — those
//! whose result it returns and those it only started —, `FINAL` once refunds too (a deleted
//! account's balance reaching its beneficiary); blocks are final when they exist. Its outcome
//! comes with `EXECUTED` and `FINAL`.
//!
//! Waiting is driven by the chain's head announcements, never by polling: a transaction
//! awaited to some status is checked again at each new block; `block`, `chunk` and the two
//! `EXPERIMENTAL_changes*` asked by `block_id` for exactly the next height (head + 1) wait for
//! that block up to [`LONG_POLL_BLOCKS`] block intervals (a long poll: followers learn of a
//! block the moment it exists) and then answer, or answer `UNKNOWN_BLOCK` as NEAR's own RPC
//! does at once. Heights beyond head + 1 answer `UNKNOWN_BLOCK` at once.

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use near_crypto::{KeyType, PublicKeyHandle};
use near_jsonrpc_primitives::errors::RpcError;
use near_jsonrpc_primitives::types::query::{
    QueryResponseKind, RpcQueryError, RpcQueryRequest, RpcQueryResponse,
};
use near_jsonrpc_primitives::types::transactions::RpcTransactionError;
use near_primitives::errors::FunctionCallError;
use near_primitives::hash::CryptoHash;
use near_primitives::transaction::SignedTransaction;
use near_primitives::types::{AccountId, Balance, BlockId, BlockReference, Finality};
use near_primitives::views::{
    AccessKeyInfoView, AccessKeyList, AccessKeyView, AccountView, CallResult, ContractCodeView,
    FinalExecutionOutcomeView, QueryRequest, SignedTransactionView, StateItem, TxExecutionStatus,
    ViewStateResult,
};
use serde_json::Value;
use std::sync::Arc;

use crate::ledger::{Execution, Ledger, ViewError, GAS_PRICE};
use crate::views::{self, chunk_header, final_outcome, AUTHOR};
use crate::Devnet;

mod changes;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
mod protocol;
#[cfg(test)]
mod tests;

/// How many block intervals a request for the next block waits for it.
pub const LONG_POLL_BLOCKS: u32 = 3;

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
            let key = account.keys.get(&public_key).cloned().ok_or_else(|| {
                handler_error(RpcQueryError::UnknownAccessKey {
                    public_key: public_key.clone(),
                    block_height,
                    block_hash,
                })
            })?;
            QueryResponseKind::AccessKey(AccessKeyView::from(key))
        }
        QueryRequest::ViewAccessKeyList {
            account_id,
            after_key,
            limit,
        } => {
            let account = ledger
                .accounts
                .get(&account_id)
                .ok_or_else(|| unknown(&account_id))?;
            QueryResponseKind::AccessKeyList(access_key_list(account, after_key, limit))
        }
        QueryRequest::ViewCode { account_id } => {
            let account = ledger
                .accounts
                .get(&account_id)
                .ok_or_else(|| unknown(&account_id))?;
            let code = account.code_hash.and_then(|h| ledger.codes.get(&h));
            let Some(code) = code else {
                return Err(handler_error(RpcQueryError::NoContractCode {
                    contract_account_id: account_id,
                    block_height,
                    block_hash,
                }));
            };
            QueryResponseKind::ViewCode(ContractCodeView {
                code: code.wasm().to_vec(),
                hash: code.hash(),
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
        QueryRequest::ViewState {
            account_id,
            prefix,
            after_key,
            limit,
            ..
        } => {
            let a = ledger
                .accounts
                .get(&account_id)
                .ok_or_else(|| unknown(&account_id))?;
            let after = after_key.as_ref().map(|k| k.as_slice());
            let listing = view_state(a.storage(), &prefix, after, limit);
            match listing {
                Some(result) => QueryResponseKind::ViewState(result),
                None => {
                    return Err(handler_error(RpcQueryError::TooLargeContractState {
                        contract_account_id: account_id,
                        block_height,
                        block_hash,
                    }))
                }
            }
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

/// An account's access keys in nearcore's (trie) order, by key handle: those after
/// `after_key` (when given; it need not be a key of the account, as nearcore seeks past it),
/// at most `limit` of them (with `last_key` set when more remain).
fn access_key_list(
    account: &crate::storage::Account,
    after_key: Option<PublicKeyHandle>,
    limit: Option<std::num::NonZeroU32>,
) -> AccessKeyList {
    let mut sorted: Vec<_> = account
        .keys
        .iter()
        .map(|(public_key, key)| (PublicKeyHandle::from(public_key), public_key, key))
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut keys = sorted
        .into_iter()
        .filter(|(handle, ..)| after_key.as_ref().is_none_or(|after| handle > after))
        .peekable();
    let limit = limit.map_or(usize::MAX, |l| l.get() as usize);
    let mut list = AccessKeyList {
        keys: vec![],
        last_key: None,
    };
    while let Some((handle, public_key, key)) = keys.next() {
        list.keys.push(AccessKeyInfoView::new(
            public_key,
            AccessKeyView::from(key.clone()),
        ));
        if list.keys.len() == limit && keys.peek().is_some() {
            list.last_key = Some(handle);
            break;
        }
    }
    list
}

/// The bytes of keys and values nearcore's RPC lists at most in one unpaged `view_state`
/// (`trie_viewer_state_size_limit`, 50 kB).
const VIEW_STATE_LIMIT: usize = 50_000;

/// The records of `storage` under `prefix` after `after_key`, as nearcore lists them: at most
/// `limit` records (with `last_key` set when more remain); unpaged, all of them — `None` when
/// the account's whole storage is over [`VIEW_STATE_LIMIT`], whatever the prefix, as nearcore
/// refuses it.
fn view_state(
    storage: &std::collections::BTreeMap<Vec<u8>, Vec<u8>>,
    prefix: &[u8],
    after_key: Option<&[u8]>,
    limit: Option<std::num::NonZeroU32>,
) -> Option<ViewStateResult> {
    use std::ops::Bound;
    let whole: usize = storage.iter().map(|(k, v)| k.len() + v.len()).sum();
    if limit.is_none() && whole > VIEW_STATE_LIMIT {
        return None;
    }
    let start = match after_key {
        Some(k) => Bound::Excluded(k.to_vec()),
        None => Bound::Included(prefix.to_vec()),
    };
    let mut records = storage
        .range((start, Bound::Unbounded))
        .take_while(|(k, _)| k.starts_with(prefix));
    let mut values = vec![];
    for (k, v) in records.by_ref() {
        if limit.is_some_and(|l| values.len() as u64 >= u64::from(l.get())) {
            let last_key = values.last().map(|i: &StateItem| i.key.clone());
            return Some(ViewStateResult {
                values,
                proof: vec![],
                last_key,
            });
        }
        values.push(StateItem {
            key: k.clone().into(),
            value: v.clone().into(),
        });
    }
    Some(ViewStateResult {
        values,
        proof: vec![],
        last_key: None,
    })
}

/// nearcore's answer for a block it does not have.
fn unknown_block() -> RpcError {
    RpcError::new_internal_or_handler_error(
        Some(Value::String("DB Not Found Error: block".into())),
        serde_json::json!({"name": "UNKNOWN_BLOCK", "info": {}}),
    )
}

/// The height a `block` / `chunk` request names.
fn height_of(ledger: &Ledger, params: &Value) -> Result<u64, RpcError> {
    let reference = match params.get("block_id").filter(|id| !id.is_null()) {
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
    height_of_reference(ledger, &reference)
}

/// The height a block reference names: every finality is the head (blocks are final at once).
fn height_of_reference(ledger: &Ledger, reference: &BlockReference) -> Result<u64, RpcError> {
    match reference {
        BlockReference::BlockId(BlockId::Height(h)) if (1..=ledger.height).contains(h) => Ok(*h),
        BlockReference::BlockId(BlockId::Hash(hash)) => (1..=ledger.height)
            .rev()
            .find(|h| ledger.block_hash(*h) == *hash)
            .ok_or_else(unknown_block),
        BlockReference::BlockId(_) => Err(unknown_block()),
        _ => Ok(ledger.height),
    }
}

fn block(ledger: &Ledger, params: &Value) -> Result<Value, RpcError> {
    let height = height_of(ledger, params)?;
    Ok(to_json(views::block(ledger, height)))
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
    // By hash, as the index keeps them.
    let transactions: Vec<SignedTransactionView> = views::transactions(ledger, height)
        .into_iter()
        .map(|(_, _, tx)| SignedTransactionView::from(tx))
        .collect();
    Ok(serde_json::json!({
        "author": AUTHOR,
        "header": chunk_header(ledger, height),
        "transactions": transactions,
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

fn signed_tx(base64: &str) -> Result<SignedTransaction, RpcError> {
    use near_primitives::serialize::from_base64;
    let bytes = from_base64(base64)
        .map_err(|e| RpcError::parse_error(format!("signed transaction is not base64: {e}")))?;
    borsh::from_slice(&bytes)
        .map_err(|e| RpcError::parse_error(format!("signed transaction does not decode: {e}")))
}

/// Where a transaction stands, as `wait_until` and `final_execution_status` name it, and its
/// outcome once it has executed.
struct TxState {
    status: TxExecutionStatus,
    outcome: Option<FinalExecutionOutcomeView>,
}

impl TxState {
    /// `None` for a transaction the chain does not know. Blocks are final when they exist, so
    /// no status is only optimistic.
    fn of(ledger: &Ledger, hash: &CryptoHash) -> Option<Self> {
        let record = ledger.history.tx(hash)?;
        let included = record.included_at <= ledger.height;
        let outcome = final_outcome(ledger, hash);
        let status = match (ledger.tx_execution(hash)?, &outcome) {
            (Execution::Final, Some(_)) => TxExecutionStatus::Final,
            (Execution::Executed, Some(_)) => TxExecutionStatus::Executed,
            _ if included => TxExecutionStatus::Included,
            _ => TxExecutionStatus::None,
        };
        let executed = matches!(
            status,
            TxExecutionStatus::Executed | TxExecutionStatus::Final
        );
        Some(Self {
            status,
            outcome: outcome.filter(|_| executed),
        })
    }

    /// Whether it has reached `until`.
    fn reached(&self, until: &TxExecutionStatus) -> bool {
        use TxExecutionStatus as S;
        let rank = |s: &S| match s {
            S::None => 0,
            S::Included | S::IncludedFinal => 1,
            S::ExecutedOptimistic | S::Executed => 2,
            S::Final => 3,
        };
        rank(&self.status) >= rank(until)
    }
}

/// The `{final_execution_status, ...outcome}` body of `send_tx` and `tx`.
fn transaction_response(state: TxState, receipts: bool) -> Value {
    let TxState { status, outcome } = state;
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
    /// timeout error), and answers as `tx` does. It looks again at each new block.
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
        let mut heads = self.heads();
        loop {
            // Seen before looking: a block produced after the look wakes the wait below.
            heads.borrow_and_update();
            let (state, height) = {
                let ledger = self.ledger();
                (TxState::of(&ledger, &hash), ledger.height)
            };
            let Some(state) = state else {
                return Err(RpcTransactionError::UnknownTransaction {
                    requested_transaction_hash: hash,
                }
                .into());
            };
            if state.reached(&until) {
                return Ok(transaction_response(state, receipts));
            }
            if height > last_block || tokio::time::Instant::now() >= wall_deadline {
                return Err(RpcTransactionError::TimeoutError(None).into());
            }
            match tokio::time::timeout_at(wall_deadline, heads.changed()).await {
                // A new block, or the wall deadline (checked above on the next turn).
                Ok(Ok(())) | Err(_) => {}
                // No more blocks will come (the chain is shutting down).
                Ok(Err(_)) => return Err(RpcTransactionError::TimeoutError(None).into()),
            }
        }
    }

    /// A long poll: if `params` ask by `block_id` for the height right after the head, waits
    /// for that block, up to [`LONG_POLL_BLOCKS`] block intervals.
    async fn await_next_block(&self, params: &Value) {
        let Some(height) = params.get("block_id").and_then(Value::as_u64) else {
            return;
        };
        let head = *self.heads().borrow();
        if height == head + 1 {
            let limit = self.block_interval() * LONG_POLL_BLOCKS;
            self.wait_for_height(height, limit).await;
        }
    }
}

/// nearcore's positional form of a one-parameter request (`block [id]`, `chunk [hash]`,
/// `gas_price [id or null]`, as near-api-js sends the last two) as its named form; a `null`
/// id names no block (the head).
fn positional(params: Value, name: &str) -> Value {
    match params {
        Value::Array(mut items) if items.len() == 1 => match items.remove(0) {
            Value::Null => serde_json::json!({}),
            id => serde_json::json!({ name: id }),
        },
        other => other,
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
        "block" => {
            let params = positional(params, "block_id");
            devnet.await_next_block(&params).await;
            block(&devnet.ledger(), &params)
        }
        "chunk" => {
            let params = positional(params, "chunk_id");
            devnet.await_next_block(&params).await;
            chunk(&devnet.ledger(), &params)
        }
        "EXPERIMENTAL_changes" => {
            devnet.await_next_block(&params).await;
            changes::data_changes(&devnet.ledger(), params)
        }
        "EXPERIMENTAL_changes_in_block" => {
            devnet.await_next_block(&params).await;
            changes::changes_in_block(&devnet.ledger(), params)
        }
        "gas_price" => {
            height_of(&devnet.ledger(), &positional(params, "block_id"))?;
            Ok(serde_json::json!({"gas_price": GAS_PRICE.to_string()}))
        }
        "EXPERIMENTAL_protocol_config" => protocol::protocol_config(&devnet.ledger(), &params),
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
            // nearcore's `send_tx` at its default `wait_until`.
            let mut v = devnet
                .await_tx(hash, TxExecutionStatus::ExecutedOptimistic, false)
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
    Json(answer(&devnet, &body).await)
}

/// The JSON-RPC answer to a request body, whatever it holds.
pub async fn answer(devnet: &Arc<Devnet>, body: &[u8]) -> Value {
    let request: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return reply(Value::Null, Err(RpcError::parse_error(e.to_string()))),
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = request.get("method").and_then(Value::as_str) else {
        return reply(id, Err(RpcError::parse_error("no method".into())));
    };
    let params = request.get("params").cloned().unwrap_or(Value::Null);
    reply(id, dispatch(devnet, method, params).await)
}

fn reply(id: Value, result: Result<Value, RpcError>) -> Value {
    match result {
        Ok(result) => serde_json::json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(error) => serde_json::json!({"jsonrpc": "2.0", "id": id, "error": error}),
    }
}
