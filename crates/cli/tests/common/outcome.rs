//! A function call sent over raw NEAR JSON-RPC with its whole outcome kept: the result, and the
//! gas each receipt burnt (what `client::account::Account::call` does not show), so the
//! examples' tests can report what a contract method costs on NEAR's VM.

use base64::Engine;
use client::account::FunctionCall;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// One receipt's execution: who ran it, the gas it burnt, its logs.
#[derive(Debug, Clone)]
pub struct ReceiptGas {
    pub executor: String,
    pub gas_burnt: u64,
    pub logs: Vec<String>,
}

/// A finished transaction.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub tx_hash: String,
    /// nearcore's `status`: `{"SuccessValue": "<base64>"}` or `{"Failure": …}`.
    pub status: Value,
    pub receipts: Vec<ReceiptGas>,
    /// yoctoNEAR burnt by the transaction and all its receipts: what its signer paid for gas.
    pub tokens_burnt: u128,
}

impl Outcome {
    /// The call's JSON result, or the failure as text (`Smart contract panicked: <message>`
    /// for a contract's panic).
    pub fn result(&self) -> Result<Value, String> {
        match self.status.get("SuccessValue").and_then(Value::as_str) {
            Some(b64) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap();
                if bytes.is_empty() {
                    return Ok(Value::Null);
                }
                Ok(serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                    panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes))
                }))
            }
            // A contract's panic is nearcore's `ExecutionError` text; anything else as JSON.
            None => Err(
                self.status["Failure"]["ActionError"]["kind"]["FunctionCallError"]
                    ["ExecutionError"]
                    .as_str()
                    .map_or_else(|| self.status.to_string(), str::to_owned),
            ),
        }
    }

    /// Gas burnt by the receipts `executor` ran (its first, or all of them).
    pub fn gas_on(&self, executor: &str) -> Vec<u64> {
        self.receipts
            .iter()
            .filter(|r| r.executor == executor)
            .map(|r| r.gas_burnt)
            .collect()
    }
}

async fn rpc(http: &reqwest::Client, url: &str, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": "t", "method": method, "params": params});
    http.post(url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Sends `call` to `receiver` as `account_id` (with its `ed25519:` secret key) and waits until
/// it and its promises have executed.
pub async fn call(
    rpc_url: &str,
    account_id: &str,
    secret_key: &str,
    receiver: &str,
    call: FunctionCall,
) -> Outcome {
    let http = reqwest::Client::new();
    let key = client::account::parse_secret_key(secret_key).unwrap();
    let public_key = client::account::Account::new(rpc_url, account_id, key.clone())
        .unwrap()
        .public_key();
    let access = rpc(
        &http,
        rpc_url,
        "query",
        json!({"request_type": "view_access_key", "finality": "final",
               "account_id": account_id, "public_key": public_key}),
    )
    .await;
    let nonce = access["result"]["nonce"]
        .as_u64()
        .unwrap_or_else(|| panic!("access key of {account_id}: {access}"));
    let block_hash = access["result"]["block_hash"].as_str().unwrap();
    let tx = near_primitives::transaction::Transaction::V0(
        near_primitives::transaction::TransactionV0 {
            signer_id: account_id.parse().unwrap(),
            public_key: public_key.parse().unwrap(),
            nonce: nonce + 1,
            receiver_id: receiver.parse().unwrap(),
            block_hash: block_hash.parse().unwrap(),
            actions: vec![call.action().unwrap()],
        },
    );
    let signed = chain::rpc::sign(&key, tx);
    let bytes = borsh::to_vec(&signed).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let sent = rpc(&http, rpc_url, "broadcast_tx_async", json!([b64])).await;
    let tx_hash = sent["result"]
        .as_str()
        .unwrap_or_else(|| panic!("the devnet refused the transaction: {sent}"))
        .to_owned();
    // A `sign` waits for the network's answer; the RPC's own waits time out sooner.
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let status = rpc(
            &http,
            rpc_url,
            "tx",
            json!({"tx_hash": tx_hash, "sender_account_id": account_id,
                   "wait_until": "EXECUTED_OPTIMISTIC"}),
        )
        .await;
        if let Some(result) = status.get("result") {
            let receipts = result["receipts_outcome"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| ReceiptGas {
                    executor: r["outcome"]["executor_id"].as_str().unwrap().to_owned(),
                    gas_burnt: r["outcome"]["gas_burnt"].as_u64().unwrap(),
                    logs: serde_json::from_value(r["outcome"]["logs"].clone()).unwrap(),
                })
                .collect();
            let burnt = |o: &Value| -> u128 {
                o["outcome"]["tokens_burnt"]
                    .as_str()
                    .unwrap()
                    .parse::<u128>()
                    .unwrap()
            };
            let tokens_burnt = burnt(&result["transaction_outcome"])
                + result["receipts_outcome"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(burnt)
                    .sum::<u128>();
            return Outcome {
                tx_hash,
                status: result["status"].clone(),
                receipts,
                tokens_burnt,
            };
        }
        assert!(Instant::now() < until, "{tx_hash} not executed: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// TGas, for reports.
pub fn tgas(gas: u64) -> f64 {
    gas as f64 / 1e12
}
