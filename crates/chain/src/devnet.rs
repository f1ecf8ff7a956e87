//! The devnet's chain behind NEAR's JSON-RPC: what separate node processes and clients talk to.
//!
//! It hosts the contract core through [`LocalChain`] and speaks, with NEAR's own types and
//! JSON shapes, the part of the RPC that [`crate::NearRpc`] uses: `query` (`call_function`,
//! `view_access_key`) and `send_tx` / `broadcast_tx_commit`. Transactions are NEAR's borsh
//! `SignedTransaction`, checked against the accounts' access keys (signature, nonce) before
//! anything runs; a refused transaction changes nothing. A `sign` call returns once its
//! yield resolves (signature or timeout), as on NEAR.
//!
//! Caveats, for the devnet issue to lift: the contract runs natively (the same core the wasm
//! binds), not as wasm under NEAR's VM; accounts have keys but no balances; state lives in
//! memory; transactions are executed as they arrive rather than included in blocks.

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use near_crypto::PublicKey;
use near_jsonrpc_primitives::errors::RpcError;
use near_jsonrpc_primitives::types::query::{
    QueryResponseKind, RpcQueryError, RpcQueryRequest, RpcQueryResponse,
};
use near_jsonrpc_primitives::types::transactions::RpcTransactionError;
use near_primitives::errors::{
    ActionError, ActionErrorKind, FunctionCallError, InvalidAccessKeyError, InvalidTxError,
    TxExecutionError,
};
use near_primitives::hash::CryptoHash;
use near_primitives::transaction::{Action, SignedTransaction};
use near_primitives::types::{AccountId, Balance};
use near_primitives::views::{
    AccessKeyPermissionView, AccessKeyView, CallResult, ExecutionMetadataView,
    ExecutionOutcomeView, ExecutionOutcomeWithIdView, ExecutionStatusView,
    FinalExecutionOutcomeView, FinalExecutionOutcomeViewEnum, FinalExecutionStatus, QueryRequest,
    SignedTransactionView, TxExecutionStatus,
};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::call::Call;
use crate::client::SharedChain;
use crate::local::LocalChain;

/// The chain and its accounts, shared by the RPC handlers and the block producer.
pub struct Devnet {
    chain: SharedChain,
    contract_id: AccountId,
    /// Account → its access keys (all full access) and their nonces.
    keys: Mutex<BTreeMap<AccountId, BTreeMap<PublicKey, u64>>>,
    /// Admitted transactions by hash: `None` while running, then their outcome.
    outcomes: Mutex<HashMap<CryptoHash, Option<FinalExecutionOutcomeView>>>,
    block_interval: Duration,
}

fn block_hash(height: u64) -> CryptoHash {
    CryptoHash::hash_bytes(&[b"chainsig devnet block".as_slice(), &height.to_be_bytes()].concat())
}

impl Devnet {
    /// A devnet over `chain`, hosting the signer contract at `contract_id`.
    pub fn new(
        chain: SharedChain,
        contract_id: &str,
        block_interval: Duration,
    ) -> Result<Arc<Self>, String> {
        Ok(Arc::new(Self {
            chain,
            contract_id: contract_id
                .parse()
                .map_err(|e| format!("contract id: {e}"))?,
            keys: Mutex::new(BTreeMap::new()),
            outcomes: Mutex::new(HashMap::new()),
            block_interval,
        }))
    }

    /// Creates `account` (if new) with a full-access ed25519 key.
    pub fn add_key(&self, account: &str, public_key: [u8; 32]) -> Result<(), String> {
        let account: AccountId = account.parse().map_err(|e| format!("{account}: {e}"))?;
        let key = PublicKey::ED25519(near_crypto::ED25519PublicKey(public_key));
        self.lock_keys()
            .entry(account)
            .or_default()
            .entry(key)
            .or_insert(0);
        Ok(())
    }

    fn lock_keys(
        &self,
    ) -> std::sync::MutexGuard<'_, BTreeMap<AccountId, BTreeMap<PublicKey, u64>>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_chain(&self) -> std::sync::MutexGuard<'_, LocalChain> {
        self.chain.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Produces a block every interval, forever.
    pub async fn produce_blocks(self: Arc<Self>) {
        loop {
            tokio::time::sleep(self.block_interval).await;
            self.lock_chain().produce_block();
        }
    }

    /// The JSON-RPC endpoint (`POST /`).
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/", post(handle))
            .with_state(self.clone())
    }

    fn head(&self) -> (u64, CryptoHash) {
        let h = self.lock_chain().height();
        (h, block_hash(h))
    }

    fn query(&self, params: Value) -> Result<Value, RpcError> {
        let request: RpcQueryRequest =
            serde_json::from_value(params).map_err(|e| RpcError::parse_error(e.to_string()))?;
        let (block_height, block_hash) = self.head();
        let handler = |e: RpcQueryError| {
            RpcError::new_internal_or_handler_error(
                Some(Value::String(e.to_string())),
                serde_json::to_value(e).expect("errors serialize"),
            )
        };
        let kind = match request.request {
            QueryRequest::CallFunction {
                account_id,
                method_name,
                args,
            } => {
                if account_id != self.contract_id {
                    return Err(handler(RpcQueryError::UnknownAccount {
                        requested_account_id: account_id,
                        block_height,
                        block_hash,
                    }));
                }
                let result = self
                    .lock_chain()
                    .view(&method_name, args.as_ref())
                    .map_err(|e| {
                        handler(RpcQueryError::ContractExecutionError {
                            error: FunctionCallError::ExecutionError(e.clone()),
                            vm_error: e,
                            block_height,
                            block_hash,
                        })
                    })?;
                QueryResponseKind::CallResult(CallResult {
                    result,
                    logs: vec![],
                })
            }
            QueryRequest::ViewAccessKey {
                account_id,
                public_key,
            } => {
                let keys = self.lock_keys();
                let nonce = keys
                    .get(&account_id)
                    .and_then(|k| k.get(&public_key))
                    .copied();
                let Some(nonce) = nonce else {
                    return Err(handler(RpcQueryError::UnknownAccessKey {
                        public_key,
                        block_height,
                        block_hash,
                    }));
                };
                QueryResponseKind::AccessKey(AccessKeyView {
                    nonce,
                    permission: AccessKeyPermissionView::FullAccess,
                })
            }
            other => {
                return Err(RpcError::new_internal_error(
                    None,
                    format!("the devnet does not answer {other:?} queries"),
                ));
            }
        };
        let response = RpcQueryResponse {
            kind,
            block_height,
            block_hash,
        };
        Ok(serde_json::to_value(response).expect("views serialize"))
    }

    /// Checks a transaction against the access keys and takes its nonce: nothing runs unless
    /// this passes, and a refused transaction changes nothing.
    fn admit(&self, tx: &SignedTransaction) -> Result<(), InvalidTxError> {
        let (hash, _) = tx.transaction.get_hash_and_size();
        let mut keys = self.lock_keys();
        let signer = tx.transaction.signer_id();
        let account = keys
            .get_mut(signer)
            .ok_or_else(|| InvalidTxError::SignerDoesNotExist {
                signer_id: signer.clone(),
            })?;
        let public_key = tx.transaction.public_key();
        let nonce = account.get_mut(public_key).ok_or_else(|| {
            InvalidTxError::InvalidAccessKeyError(InvalidAccessKeyError::AccessKeyNotFound {
                account_id: signer.clone(),
                public_key: Box::new(public_key.clone()),
            })
        })?;
        if !tx.signature.verify(hash.as_ref(), public_key) {
            return Err(InvalidTxError::InvalidSignature);
        }
        let tx_nonce = tx.transaction.nonce().nonce();
        if tx_nonce <= *nonce {
            return Err(InvalidTxError::InvalidNonce {
                tx_nonce,
                ak_nonce: *nonce,
            });
        }
        if tx.transaction.receiver_id() != &self.contract_id {
            return Err(InvalidTxError::InvalidReceiverId {
                receiver_id: tx.transaction.receiver_id().to_string(),
            });
        }
        *nonce = tx_nonce;
        Ok(())
    }

    /// Admits a transaction (or refuses it, changing nothing) and runs it in the background;
    /// its outcome is kept under its hash for `tx`.
    fn submit(self: &Arc<Self>, tx: SignedTransaction) -> Result<CryptoHash, RpcError> {
        self.admit(&tx).map_err(|context| {
            RpcError::from(RpcTransactionError::InvalidTransaction { context })
        })?;
        let hash = tx.get_hash();
        self.lock_outcomes().insert(hash, None);
        let devnet = self.clone();
        tokio::spawn(async move {
            let outcome = devnet.execute(tx).await;
            devnet.lock_outcomes().insert(hash, Some(outcome));
        });
        Ok(hash)
    }

    fn lock_outcomes(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<CryptoHash, Option<FinalExecutionOutcomeView>>> {
        self.outcomes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The outcome of an admitted transaction, waiting for it unless `wait` is false.
    async fn outcome_of(
        &self,
        hash: CryptoHash,
        wait: bool,
    ) -> Result<Option<FinalExecutionOutcomeView>, RpcError> {
        let until = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            match self.lock_outcomes().get(&hash) {
                None => {
                    let unknown = RpcTransactionError::UnknownTransaction {
                        requested_transaction_hash: hash,
                    };
                    return Err(unknown.into());
                }
                Some(Some(outcome)) => return Ok(Some(outcome.clone())),
                Some(None) if !wait => return Ok(None),
                Some(None) => {}
            }
            if tokio::time::Instant::now() >= until {
                return Err(RpcTransactionError::TimeoutError(None).into());
            }
            tokio::time::sleep(self.block_interval / 2).await;
        }
    }

    async fn execute(&self, tx: SignedTransaction) -> FinalExecutionOutcomeView {
        let signer = tx.transaction.signer_id().to_string();
        let failure = |message: String| {
            FinalExecutionStatus::Failure(TxExecutionError::ActionError(ActionError {
                index: Some(0),
                kind: ActionErrorKind::FunctionCallError(FunctionCallError::ExecutionError(
                    message,
                )),
            }))
        };
        let mut status = FinalExecutionStatus::SuccessValue(vec![]);
        for action in tx.transaction.actions() {
            let Action::FunctionCall(call) = action else {
                status = failure("the devnet runs function calls only".into());
                break;
            };
            let parsed = match Call::from_parts(&call.method_name, &call.args) {
                Ok(c) => c,
                Err(e) => {
                    status = failure(format!(
                        "Smart contract panicked: cannot parse the arguments of {}: {e}",
                        call.method_name
                    ));
                    break;
                }
            };
            let ticket = self
                .lock_chain()
                .call(&signer, call.deposit.as_yoctonear(), parsed);
            status = match ticket {
                Err(e) => failure(format!("Smart contract panicked: {e}")),
                Ok(None) => FinalExecutionStatus::SuccessValue(b"null".to_vec()),
                Ok(Some(ticket)) => loop {
                    // `sign` answers when its yield resolves, as broadcast_tx_commit does on NEAR.
                    if let Some(result) = self.lock_chain().result(ticket) {
                        break match result {
                            Ok(sig) => FinalExecutionStatus::SuccessValue(
                                serde_json::to_vec(sig).expect("responses serialize"),
                            ),
                            Err(e) => failure(format!("Smart contract panicked: {e}")),
                        };
                    }
                    tokio::time::sleep(self.block_interval / 2).await;
                },
            };
            if matches!(status, FinalExecutionStatus::Failure(_)) {
                break;
            }
        }
        self.outcome(tx, status)
    }

    fn outcome(
        &self,
        tx: SignedTransaction,
        status: FinalExecutionStatus,
    ) -> FinalExecutionOutcomeView {
        let (_, block_hash) = self.head();
        let tx_hash = tx.get_hash();
        let receipt_id =
            CryptoHash::hash_bytes(&[b"receipt".as_slice(), tx_hash.as_ref()].concat());
        let outcome = |executor: &AccountId, status| ExecutionOutcomeView {
            logs: vec![],
            receipt_ids: vec![],
            gas_burnt: near_primitives::gas::Gas::from_gas(0),
            tokens_burnt: Balance::from_yoctonear(0),
            executor_id: executor.clone(),
            status,
            metadata: ExecutionMetadataView {
                version: 1,
                gas_profile: None,
                ..Default::default()
            },
        };
        let receipt_status = match &status {
            FinalExecutionStatus::Failure(e) => ExecutionStatusView::Failure(e.clone()),
            FinalExecutionStatus::SuccessValue(v) => ExecutionStatusView::SuccessValue(v.clone()),
            _ => ExecutionStatusView::Unknown,
        };
        let mut transaction_outcome = outcome(
            tx.transaction.signer_id(),
            ExecutionStatusView::SuccessReceiptId(receipt_id),
        );
        transaction_outcome.receipt_ids = vec![receipt_id];
        FinalExecutionOutcomeView {
            status,
            transaction_outcome: ExecutionOutcomeWithIdView {
                proof: vec![],
                block_hash,
                id: tx_hash,
                outcome: transaction_outcome,
            },
            receipts_outcome: vec![ExecutionOutcomeWithIdView {
                proof: vec![],
                block_hash,
                id: receipt_id,
                outcome: outcome(&self.contract_id, receipt_status),
            }],
            transaction: SignedTransactionView::from(tx),
        }
    }
}

fn signed_tx(base64: &str) -> Result<SignedTransaction, RpcError> {
    use near_primitives::serialize::from_base64;
    let bytes = from_base64(base64)
        .map_err(|e| RpcError::parse_error(format!("signed transaction is not base64: {e}")))?;
    borsh::from_slice(&bytes)
        .map_err(|e| RpcError::parse_error(format!("signed transaction does not decode: {e}")))
}

/// The `{final_execution_status, ...outcome}` body of `send_tx` and `tx`.
fn transaction_response(outcome: Option<FinalExecutionOutcomeView>) -> Value {
    let status = if outcome.is_some() {
        TxExecutionStatus::Final
    } else {
        TxExecutionStatus::None
    };
    let mut response = serde_json::json!({ "final_execution_status": status });
    if let Some(outcome) = outcome {
        let body = serde_json::to_value(FinalExecutionOutcomeViewEnum::FinalExecutionOutcome(
            outcome,
        ))
        .expect("views serialize");
        if let (Value::Object(r), Value::Object(b)) = (&mut response, body) {
            r.extend(b);
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

fn waits(status: TxExecutionStatus) -> bool {
    !matches!(
        status,
        TxExecutionStatus::None | TxExecutionStatus::Included
    )
}

async fn dispatch(devnet: &Arc<Devnet>, method: &str, params: Value) -> Result<Value, RpcError> {
    let missing = |what: &str| RpcError::parse_error(format!("{method} needs {what}"));
    match method {
        "query" => devnet.query(params),
        "send_tx" => {
            let b64 = params
                .get("signed_tx_base64")
                .and_then(Value::as_str)
                .ok_or_else(|| missing("signed_tx_base64"))?;
            let wait = waits(wait_until(&params)?);
            let hash = devnet.submit(signed_tx(b64)?)?;
            Ok(transaction_response(devnet.outcome_of(hash, wait).await?))
        }
        "broadcast_tx_commit" => {
            let b64 = params
                .get(0)
                .and_then(Value::as_str)
                .ok_or_else(|| missing("[signed_tx_base64]"))?;
            let hash = devnet.submit(signed_tx(b64)?)?;
            let outcome = devnet.outcome_of(hash, true).await?;
            Ok(serde_json::to_value(outcome).expect("views serialize"))
        }
        "tx" => {
            let hash: CryptoHash = params
                .get("tx_hash")
                .cloned()
                .and_then(|v| serde_json::from_value(v).ok())
                .ok_or_else(|| missing("tx_hash"))?;
            let wait = waits(wait_until(&params)?);
            Ok(transaction_response(devnet.outcome_of(hash, wait).await?))
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
