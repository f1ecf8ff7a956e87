//! [`Chain`] over NEAR's JSON-RPC (near-jsonrpc-client): the same code reads and calls the
//! signer contract on the devnet and on NEAR testnet or mainnet.
//!
//! Views are `query` / `call_function` at final finality. Calls are function-call
//! transactions signed with the account's ed25519 key (over the SHA-256 of the borsh
//! transaction, as NEAR signs), admitted one at a time per client so that nonces stay in
//! order (`send_tx` without waiting), then followed with `tx` until executed, so that many
//! calls (e.g. `sign`s waiting for their signatures) can be in flight at once. A refused transaction or a failed receipt is
//! [`ChainError::Rejected`]; anything that may go through on a retry (transport errors,
//! timeouts, a lagging node) is [`ChainError::Unavailable`].

use async_trait::async_trait;
use contract::views::StateView;
use contract::ContractError;
use ed25519_dalek::{Signer, SigningKey};
use near_crypto::{ED25519PublicKey, PublicKey, Signature};
use near_jsonrpc_client::{methods, JsonRpcClient};
use near_jsonrpc_primitives::types::query::QueryResponseKind;
use near_primitives::gas::Gas;
use near_primitives::hash::CryptoHash;
use near_primitives::transaction::{
    Action, FunctionCallAction, SignedTransaction, Transaction, TransactionV0,
};
use near_primitives::types::{AccountId, Balance, BlockReference, Finality, FunctionArgs};
use near_primitives::views::{
    ActionView, FinalExecutionOutcomeView, FinalExecutionStatus, QueryRequest, TxExecutionStatus,
};
use serde::de::DeserializeOwned;

use crate::call::Call;
use crate::client::{Chain, ChainError};

/// Gas attached to every call: NEAR's per-transaction maximum, so no contract method runs out.
pub const CALL_GAS: u64 = 300_000_000_000_000;

/// How long a call waits for its transaction's outcome: longer than a `sign`'s 200 blocks on
/// NEAR (about 4 minutes at mainnet's block time).
const WAIT_LIMIT: std::time::Duration = std::time::Duration::from_secs(600);

/// One account's connection to the signer contract over NEAR JSON-RPC.
pub struct NearRpc {
    client: JsonRpcClient,
    contract_id: AccountId,
    account_id: AccountId,
    account: String,
    /// `None` for a read-only client.
    key: Option<SigningKey>,
    public_key: PublicKey,
    /// Held while a transaction is built and admitted: nonces go out in order. Holds what
    /// the next transaction is built on, since a final-finality access key view lags behind
    /// our own sends and asking for it before every call costs the RPC node a query.
    sending: tokio::sync::Mutex<Option<KeyState>>,
}

/// The access key's nonce as this client last used it, and a recent block hash.
#[derive(Clone, Copy)]
struct KeyState {
    nonce: u64,
    block_hash: CryptoHash,
    fetched: std::time::Instant,
}

/// How long a fetched block hash is used for new transactions. NEAR accepts a transaction
/// whose block hash is at most a validity period old (86,400 blocks on mainnet, about a
/// day); this is far inside it, and bounds how long a nonce advanced elsewhere (another
/// process with the same key) keeps refusing our sends before the state is read afresh.
const KEY_STATE_TTL: std::time::Duration = std::time::Duration::from_secs(30);

fn unavailable(e: impl std::fmt::Display) -> ChainError {
    ChainError::Unavailable(e.to_string())
}

fn account(id: &str) -> Result<AccountId, ChainError> {
    id.parse()
        .map_err(|e| ChainError::Rejected(format!("{id:?} is not a NEAR account id: {e}")))
}

impl NearRpc {
    /// A client for `contract_id` at `rpc_url`, calling as `account_id` with `key`.
    pub fn new(
        rpc_url: &str,
        contract_id: &str,
        account_id: &str,
        key: SigningKey,
    ) -> Result<Self, ChainError> {
        let public_key = PublicKey::ED25519(ED25519PublicKey(key.verifying_key().to_bytes()));
        Ok(Self {
            client: JsonRpcClient::connect(rpc_url),
            contract_id: account(contract_id)?,
            account_id: account(account_id)?,
            account: account_id.to_owned(),
            key: Some(key),
            public_key,
            sending: tokio::sync::Mutex::new(None),
        })
    }

    /// A client that only reads the contract (views); its calls are refused.
    pub fn read_only(rpc_url: &str, contract_id: &str) -> Result<Self, ChainError> {
        Ok(Self {
            client: JsonRpcClient::connect(rpc_url),
            contract_id: account(contract_id)?,
            account_id: account(contract_id)?,
            account: contract_id.to_owned(),
            key: None,
            public_key: PublicKey::empty(near_crypto::KeyType::ED25519),
            sending: tokio::sync::Mutex::new(None),
        })
    }

    /// Calls a view method of the contract with JSON arguments.
    pub async fn view<T: DeserializeOwned>(
        &self,
        method: &str,
        args: serde_json::Value,
    ) -> Result<T, ChainError> {
        self.view_of(self.contract_id.clone(), method, args).await
    }

    /// Calls a view method of any contract, `contract`, with JSON arguments.
    pub async fn view_on<T: DeserializeOwned>(
        &self,
        contract: &str,
        method: &str,
        args: serde_json::Value,
    ) -> Result<T, ChainError> {
        self.view_of(account(contract)?, method, args).await
    }

    async fn view_of<T: DeserializeOwned>(
        &self,
        contract: AccountId,
        method: &str,
        args: serde_json::Value,
    ) -> Result<T, ChainError> {
        let request = methods::query::RpcQueryRequest {
            block_reference: BlockReference::Finality(Finality::Final),
            request: QueryRequest::CallFunction {
                account_id: contract,
                method_name: method.to_owned(),
                args: FunctionArgs::from(serde_json::to_vec(&args).expect("JSON values serialize")),
            },
        };
        let response = self.client.call(request).await.map_err(refused)?;
        let QueryResponseKind::CallResult(result) = response.kind else {
            return Err(unavailable("the RPC answered a view with something else"));
        };
        serde_json::from_slice(&result.result)
            .map_err(|e| unavailable(format!("view {method} returned unexpected JSON: {e}")))
    }

    /// At most `limit` of the contract's records under `prefix` at `block` (a final block when
    /// `None`), and the height they were read at. nearcore refuses an unpaged listing of an
    /// account holding more than 50 kB whatever the prefix, so callers page.
    pub async fn view_state(
        &self,
        prefix: &[u8],
        block: Option<u64>,
        limit: std::num::NonZeroU32,
    ) -> Result<(Vec<(Vec<u8>, Vec<u8>)>, u64), ChainError> {
        let request = methods::query::RpcQueryRequest {
            block_reference: match block {
                Some(h) => BlockReference::BlockId(near_primitives::types::BlockId::Height(h)),
                None => BlockReference::Finality(Finality::Final),
            },
            request: QueryRequest::ViewState {
                account_id: self.contract_id.clone(),
                prefix: prefix.to_vec().into(),
                after_key: None,
                limit: Some(limit),
                include_proof: false,
            },
        };
        let response = self.client.call(request).await.map_err(refused)?;
        let QueryResponseKind::ViewState(result) = response.kind else {
            return Err(unavailable(
                "the RPC answered view_state with something else",
            ));
        };
        let records = result
            .values
            .into_iter()
            .map(|item| (item.key.into(), item.value.into()))
            .collect();
        Ok((records, response.block_height))
    }

    /// The records a dry run needs ([`crate::dry_run::Snapshot`]), all read at one final block.
    pub async fn snapshot(&self) -> Result<crate::dry_run::Snapshot, ChainError> {
        // Each key is whole and no other key starts with it: one record each.
        const ONE: std::num::NonZeroU32 = std::num::NonZeroU32::MIN;
        let [state_key, candidates_key] = crate::dry_run::Snapshot::KEYS;
        let (records, height) = self.view_state(state_key, None, ONE).await?;
        let exact = |records: Vec<(Vec<u8>, Vec<u8>)>, key: &[u8]| {
            records.into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
        };
        let state = exact(records, state_key);
        let (records, _) = self.view_state(candidates_key, Some(height), ONE).await?;
        Ok(crate::dry_run::Snapshot {
            state,
            candidates: exact(records, candidates_key),
            height,
        })
    }

    /// Tries `call` as this account on a snapshot of the contract: the contract's refusal, if
    /// it would refuse ([`crate::dry_run`]).
    pub async fn dry_run(&self, call: &Call) -> Result<(), ChainError> {
        // A snapshot that cannot be read is no refusal by the contract.
        let snapshot = self.snapshot().await.map_err(|e| {
            unavailable(format!("reading the contract's state to try the call: {e}"))
        })?;
        match snapshot.dry_run(self.contract_id.as_str(), &self.account, call.clone()) {
            Ok(_) => Ok(()),
            // Not a refusal: this is not a state the contract's rules can be tried on here.
            Err(e @ (ContractError::StateLayout { .. } | ContractError::CorruptState(_))) => {
                Err(unavailable(format!(
                    "the contract's state cannot be tried here ({e}); it may not be this \
                     project's contract"
                )))
            }
            Err(e) => Err(ChainError::Rejected(e.to_string())),
        }
    }

    /// Sends a typed contract call with `deposit` attached and waits until it has executed;
    /// returns its result value (a `sign`'s signature).
    pub async fn submit_with(&self, call: &Call, deposit: u128) -> Result<Vec<u8>, ChainError> {
        self.call(call.method_name(), call.args_json(), deposit)
            .await
    }

    /// Sends one function call as this account and waits until it has executed; returns its
    /// result value.
    pub async fn call(
        &self,
        method: &str,
        args: Vec<u8>,
        deposit: u128,
    ) -> Result<Vec<u8>, ChainError> {
        let tx_hash = self.send(method, args, deposit).await?;
        self.outcome(tx_hash).await
    }

    /// Sends one function call as this account; returns once the chain has admitted it, with
    /// the transaction's hash ([`NearRpc::outcome`] waits for its result).
    pub async fn send(
        &self,
        method: &str,
        args: Vec<u8>,
        deposit: u128,
    ) -> Result<CryptoHash, ChainError> {
        let call = Action::FunctionCall(Box::new(FunctionCallAction {
            method_name: method.to_owned(),
            args,
            gas: Gas::from_gas(CALL_GAS),
            deposit: Balance::from_yoctonear(deposit),
        }));
        self.send_actions(self.contract_id.clone(), vec![call])
            .await
    }

    /// Sends `amount` yoctoNEAR from this account to `receiver` (a transfer to an implicit
    /// account that does not exist yet creates it) and waits until it has executed.
    pub async fn transfer(&self, receiver: &str, amount: u128) -> Result<(), ChainError> {
        let transfer = Action::Transfer(near_primitives::transaction::TransferAction {
            deposit: Balance::from_yoctonear(amount),
        });
        let tx_hash = self
            .send_actions(account(receiver)?, vec![transfer])
            .await?;
        self.outcome(tx_hash).await.map(|_| ())
    }

    /// Sends one transaction of any `actions` (create an account, deploy, call any contract
    /// with any gas …) to `receiver` as this account and waits until it has executed; returns
    /// its result value (the last action's, for a function call).
    pub async fn execute(
        &self,
        receiver: &str,
        actions: Vec<Action>,
    ) -> Result<Vec<u8>, ChainError> {
        let tx_hash = self.send_actions(account(receiver)?, actions).await?;
        self.outcome(tx_hash).await
    }

    /// Sends `actions` to `receiver` as this account; returns once the chain has admitted the
    /// transaction, with its hash.
    async fn send_actions(
        &self,
        receiver: AccountId,
        actions: Vec<Action>,
    ) -> Result<CryptoHash, ChainError> {
        let Some(signing_key) = &self.key else {
            return Err(ChainError::Rejected(
                "a read-only client sends no transactions".into(),
            ));
        };
        let mut state = self.sending.lock().await;
        let fresh = |s: &KeyState| s.fetched.elapsed() < KEY_STATE_TTL;
        let mut known = match *state {
            Some(s) if fresh(&s) => s,
            last => self.key_state(last.map(|s| s.nonce)).await?,
        };
        let mut retries = 0;
        loop {
            let nonce = known.nonce + 1;
            let tx = Transaction::V0(TransactionV0 {
                signer_id: self.account_id.clone(),
                public_key: self.public_key.clone(),
                nonce,
                receiver_id: receiver.clone(),
                block_hash: known.block_hash,
                actions: actions.clone(),
            });
            let signed = sign(signing_key, tx);
            let tx_hash = signed.get_hash();
            // Admitted (or refused) first, with the lock held so nonces arrive in order; then
            // the wait for execution (a `sign` waits for its signature) runs without it.
            let admit = methods::send_tx::RpcSendTransactionRequest {
                signed_transaction: signed,
                wait_until: TxExecutionStatus::None,
            };
            match self.client.call(admit).await {
                Ok(_) => {
                    *state = Some(KeyState { nonce, ..known });
                    return Ok(tx_hash);
                }
                // Refused as a transaction (a nonce used elsewhere, an old block hash): read
                // the key afresh and try again. Another holder of the key that keeps sending
                // (a node, beside its operator's commands) has nonces in flight that no final
                // block shows yet, so after the first retry each one starts further ahead:
                // NEAR takes any nonce above the key's.
                Err(e) if retries < SEND_RETRIES && refused_as_transaction(&e) => {
                    *state = None;
                    known = self.key_state(Some(nonce - 1)).await?;
                    known.nonce += NONCE_STRIDE * retries;
                    retries += 1;
                }
                Err(e) => {
                    *state = None;
                    return Err(refused(e));
                }
            }
        }
    }

    /// The access key's nonce (never below `at_least`, our own last use) and a recent block
    /// hash, read from the chain.
    async fn key_state(&self, at_least: Option<u64>) -> Result<KeyState, ChainError> {
        let (nonce, block_hash) = self
            .view_access_key(self.account_id.clone(), self.public_key.clone())
            .await?;
        Ok(KeyState {
            nonce: nonce.max(at_least.unwrap_or(0)),
            block_hash,
            fetched: std::time::Instant::now(),
        })
    }

    /// An access key's nonce and the final block it was read at.
    async fn view_access_key(
        &self,
        account_id: AccountId,
        public_key: PublicKey,
    ) -> Result<(u64, CryptoHash), ChainError> {
        let request = methods::query::RpcQueryRequest {
            block_reference: BlockReference::Finality(Finality::Final),
            request: QueryRequest::ViewAccessKey {
                account_id: account_id.clone(),
                public_key,
            },
        };
        let response = self
            .client
            .call(request)
            .await
            .map_err(|e| match e.handler_error() {
                Some(h) => ChainError::Rejected(format!("access key of {account_id}: {h}")),
                None => unavailable(e),
            })?;
        let QueryResponseKind::AccessKey(key) = response.kind else {
            return Err(unavailable(
                "the RPC answered an access key query with something else",
            ));
        };
        Ok((key.nonce, response.block_hash))
    }

    /// Waits until a transaction this account sent has executed; returns its result value (a
    /// `sign`'s signature) or how it failed.
    pub async fn outcome(&self, tx_hash: CryptoHash) -> Result<Vec<u8>, ChainError> {
        result_of(self.executed(tx_hash).await?.status)
    }

    /// An earlier function call of this account, found by its transaction's hash (base58, as
    /// NEAR prints it): what it called, and how it ended once it has executed — so a client
    /// that gave up waiting can collect an answer without sending (and paying) again.
    pub async fn earlier_call(&self, tx_hash: &str) -> Result<EarlierCall, ChainError> {
        let hash: CryptoHash = tx_hash.parse().map_err(|_| {
            ChainError::Rejected(format!("{tx_hash:?} is not a transaction hash (base58)"))
        })?;
        let outcome = self.executed(hash).await?;
        let call = outcome
            .transaction
            .actions
            .into_iter()
            .find_map(|a| match a {
                ActionView::FunctionCall {
                    method_name, args, ..
                } => Some((method_name, args.to_vec())),
                _ => None,
            });
        let Some((method, args)) = call else {
            return Err(ChainError::Rejected(format!(
                "transaction {tx_hash} calls no contract method"
            )));
        };
        Ok(EarlierCall {
            receiver: outcome.transaction.receiver_id.to_string(),
            method,
            args,
            result: result_of(outcome.status),
        })
    }

    /// The nonce of `account`'s access `key` and a recent final block's hash: what a
    /// transaction signed elsewhere (by the network, for a derived account) is built on.
    pub async fn access_key(
        &self,
        account_id: &str,
        key: [u8; 32],
    ) -> Result<(u64, CryptoHash), ChainError> {
        self.view_access_key(
            account(account_id)?,
            PublicKey::ED25519(ED25519PublicKey(key)),
        )
        .await
    }

    /// Sends a transaction signed elsewhere and waits until it has executed; its result value.
    pub async fn broadcast(&self, signed: SignedTransaction) -> Result<Vec<u8>, ChainError> {
        let request = methods::send_tx::RpcSendTransactionRequest {
            signed_transaction: signed,
            wait_until: TxExecutionStatus::ExecutedOptimistic,
        };
        let response = self.client.call(request).await.map_err(refused)?;
        let outcome = response
            .final_execution_outcome
            .ok_or_else(|| unavailable("the transaction has no outcome yet"))?
            .into_outcome();
        result_of(outcome.status)
    }

    /// Follows a transaction of this account until it has executed.
    async fn executed(&self, tx_hash: CryptoHash) -> Result<FinalExecutionOutcomeView, ChainError> {
        let status = || methods::tx::RpcTransactionStatusRequest {
            transaction_info: methods::tx::TransactionInfo::TransactionId {
                tx_hash,
                sender_account_id: self.account_id.clone(),
            },
            wait_until: TxExecutionStatus::ExecutedOptimistic,
        };
        // NEAR's RPC gives up on a wait after some seconds while a `sign` may wait 200 blocks
        // for its answer: a timeout means "ask again", up to a bound.
        let until = tokio::time::Instant::now() + WAIT_LIMIT;
        let response = loop {
            match self.client.call(status()).await {
                Err(e)
                    if matches!(
                        e.handler_error(),
                        Some(methods::tx::RpcTransactionError::TimeoutError(_))
                    ) && tokio::time::Instant::now() < until =>
                {
                    continue
                }
                other => break other.map_err(refused)?,
            }
        };
        Ok(response
            .final_execution_outcome
            .ok_or_else(|| unavailable("the transaction has no outcome yet"))?
            .into_outcome())
    }
}

/// A function call found by its transaction's hash ([`NearRpc::earlier_call`]).
#[derive(Debug)]
pub struct EarlierCall {
    /// The account called.
    pub receiver: String,
    pub method: String,
    /// Its JSON arguments, as sent.
    pub args: Vec<u8>,
    /// Its result value, or how it failed.
    pub result: Result<Vec<u8>, ChainError>,
}

/// A finished transaction's result value, or how it failed.
fn result_of(status: FinalExecutionStatus) -> Result<Vec<u8>, ChainError> {
    match status {
        FinalExecutionStatus::SuccessValue(v) => Ok(v),
        FinalExecutionStatus::Failure(e) => Err(ChainError::Rejected(e.to_string())),
        other => Err(unavailable(format!(
            "the transaction did not finish: {other:?}"
        ))),
    }
}

/// How many times a transaction refused for its nonce or block hash is built again.
const SEND_RETRIES: u64 = 4;
/// How far past the key's nonce each retry after the first starts (times the retry).
const NONCE_STRIDE: u64 = 16;

/// Whether the RPC refused the transaction itself (its nonce, its block hash …) rather
/// than failing to run it or to answer.
fn refused_as_transaction(
    e: &near_jsonrpc_client::errors::JsonRpcError<methods::send_tx::RpcTransactionError>,
) -> bool {
    matches!(
        e.handler_error(),
        Some(methods::send_tx::RpcTransactionError::InvalidTransaction { .. })
    )
}

/// An RPC failure as a [`ChainError`]: what the node refused (its handler's error) is
/// `Rejected`, anything else (transport, timeouts, nonsense) `Unavailable`.
fn refused<E: std::fmt::Display + std::fmt::Debug>(
    e: near_jsonrpc_client::errors::JsonRpcError<E>,
) -> ChainError {
    match e.handler_error() {
        Some(h) => ChainError::Rejected(h.to_string()),
        None => unavailable(e),
    }
}

/// Signs a transaction as NEAR does: ed25519 over the SHA-256 of its borsh encoding.
pub fn sign(key: &SigningKey, transaction: Transaction) -> SignedTransaction {
    let (hash, _) = transaction.get_hash_and_size();
    let signature = key.sign(hash.as_ref());
    SignedTransaction::new(Signature::ED25519(signature), transaction)
}

#[async_trait]
impl Chain for NearRpc {
    fn account_id(&self) -> &str {
        &self.account
    }

    async fn state(&self) -> Result<StateView, ChainError> {
        self.view("state", serde_json::json!({})).await
    }

    async fn config(&self) -> Result<contract::Config, ChainError> {
        self.view("config", serde_json::json!({})).await
    }

    async fn submit(&self, call: Call) -> Result<(), ChainError> {
        self.submit_with(&call, call.deposit()).await.map(|_| ())
    }
}
