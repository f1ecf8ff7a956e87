//! A Cosmos SDK node's REST gateway (the "LCD", gRPC-gateway JSON): the account number and
//! sequence of an account, the chain id, and `BROADCAST_MODE_SYNC` (the node's `CheckTx`
//! verdict, not inclusion in a block).

use base64::Engine;
use serde_json::{json, Value};

use super::CosmosError;

/// One node's REST endpoint (`http://host:1317`).
#[derive(Clone)]
pub struct CosmosRest {
    http: reqwest::Client,
    base: String,
}

/// What the node said of a broadcast transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broadcast {
    pub txhash: String,
    /// 0 when `CheckTx` accepted it into the mempool; otherwise the module's error code.
    pub code: u64,
    pub raw_log: String,
}

/// The object holding `account_number` and `sequence`, wherever the account type nests it
/// (`BaseAccount` at the top, vesting accounts under `base_vesting_account.base_account`).
fn base_account(v: &Value) -> Option<&Value> {
    if v.get("account_number").is_some() {
        return Some(v);
    }
    v.as_object()?.values().find_map(base_account)
}

fn number(v: &Value) -> Option<u64> {
    v.as_str()?.parse().ok()
}

impl CosmosRest {
    pub fn new(base: &str) -> Self {
        Self {
            http: crate::jsonrpc::http_client(),
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// One request; its HTTP status and JSON answer.
    async fn request(
        &self,
        path: &str,
        body: Option<Value>,
    ) -> Result<(reqwest::StatusCode, Value), CosmosError> {
        let url = format!("{}{path}", self.base);
        let request = match body {
            Some(b) => self.http.post(&url).json(&b),
            None => self.http.get(&url),
        };
        crate::jsonrpc::exchange(request)
            .await
            .map_err(|reason| CosmosError::Transport { url, reason })
    }

    fn refused(what: &'static str, answer: &Value) -> CosmosError {
        CosmosError::Server {
            what,
            message: answer["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| answer.to_string()),
        }
    }

    /// The account number and next sequence of `address`.
    pub async fn account(&self, address: &str) -> Result<(u64, u64), CosmosError> {
        const WHAT: &str = "account";
        let (status, answer) = self
            .request(&format!("/cosmos/auth/v1beta1/accounts/{address}"), None)
            .await?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(CosmosError::NotFunded(address.to_owned()));
        }
        if !status.is_success() {
            return Err(Self::refused(WHAT, &answer));
        }
        let decode = |reason: &str| CosmosError::Decode {
            what: WHAT,
            reason: reason.to_owned(),
        };
        let base = base_account(&answer["account"]).ok_or_else(|| decode("no account_number"))?;
        let account_number = number(&base["account_number"])
            .ok_or_else(|| decode("account_number is not a number"))?;
        let sequence =
            number(&base["sequence"]).ok_or_else(|| decode("sequence is not a number"))?;
        Ok((account_number, sequence))
    }

    /// The chain id the node runs (`cosmoshub-4`).
    pub async fn chain_id(&self) -> Result<String, CosmosError> {
        const WHAT: &str = "node_info";
        let (status, answer) = self
            .request("/cosmos/base/tendermint/v1beta1/node_info", None)
            .await?;
        if !status.is_success() {
            return Err(Self::refused(WHAT, &answer));
        }
        answer["default_node_info"]["network"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| CosmosError::Decode {
                what: WHAT,
                reason: "no default_node_info.network".into(),
            })
    }

    /// Broadcasts signed `TxRaw` bytes and returns the node's `CheckTx` verdict.
    pub async fn broadcast(&self, tx_bytes: &[u8]) -> Result<Broadcast, CosmosError> {
        const WHAT: &str = "broadcast";
        let body = json!({
            "tx_bytes": base64::engine::general_purpose::STANDARD.encode(tx_bytes),
            "mode": "BROADCAST_MODE_SYNC",
        });
        let (status, answer) = self.request("/cosmos/tx/v1beta1/txs", Some(body)).await?;
        if !status.is_success() {
            return Err(Self::refused(WHAT, &answer));
        }
        let r = &answer["tx_response"];
        let decode = |reason: &str| CosmosError::Decode {
            what: WHAT,
            reason: reason.to_owned(),
        };
        Ok(Broadcast {
            txhash: r["txhash"]
                .as_str()
                .ok_or_else(|| decode("no tx_response.txhash"))?
                .to_owned(),
            code: r["code"].as_u64().unwrap_or(0),
            raw_log: r["raw_log"].as_str().unwrap_or_default().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_numbers_are_found_in_every_account_type() {
        let base = json!({"@type": "/cosmos.auth.v1beta1.BaseAccount",
            "address": "cosmos1…", "account_number": "77", "sequence": "3"});
        let vesting = json!({"@type": "/cosmos.vesting.v1beta1.ContinuousVestingAccount",
            "base_vesting_account": {"base_account": base.clone(), "original_vesting": []}});
        for account in [&base, &vesting] {
            let found = base_account(account).unwrap();
            assert_eq!(number(&found["account_number"]), Some(77));
            assert_eq!(number(&found["sequence"]), Some(3));
        }
        assert!(base_account(&json!({"address": "x"})).is_none());
    }
}
