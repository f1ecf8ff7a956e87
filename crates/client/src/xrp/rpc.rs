//! rippled's JSON-RPC (not JSON-RPC 2.0: `{"method", "params": [{…}]}` in, `{"result": {…,
//! "status"}}` out, errors inside `result`): what a sender needs — its next sequence, the
//! current fee and ledger, and `submit`.

use serde_json::{json, Value};

use super::XrpError;

/// One rippled (or Clio) JSON-RPC endpoint.
#[derive(Clone)]
pub struct XrplRpc {
    http: reqwest::Client,
    url: String,
}

/// What `submit` said of a blob: its preliminary result code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub engine_result: String,
    pub message: String,
}

impl Submitted {
    /// Whether the server took the payment for the ledger: applied (`tes…`) or queued / to be
    /// retried by the server (`ter…`). `tec…` claims the fee without paying; `tem`, `tef`,
    /// `tel` never reach a ledger.
    pub fn accepted(&self) -> bool {
        self.engine_result.starts_with("tes") || self.engine_result.starts_with("ter")
    }
}

impl XrplRpc {
    pub fn new(url: &str) -> Self {
        Self {
            http: crate::jsonrpc::http_client(),
            url: url.to_owned(),
        }
    }

    async fn call(&self, method: &str, params: Value) -> Result<Value, XrpError> {
        let request = self
            .http
            .post(&self.url)
            .json(&json!({"method": method, "params": [params]}));
        let (_, value) =
            crate::jsonrpc::exchange(request)
                .await
                .map_err(|reason| XrpError::Transport {
                    url: self.url.clone(),
                    reason,
                })?;
        result_of(method, value)
    }

    /// The next sequence number of `account` (a classic address), in the current ledger.
    pub async fn sequence(&self, account: &str) -> Result<u32, XrpError> {
        let params = json!({"account": account, "ledger_index": "current"});
        sequence_of(account, self.call("account_info", params).await)
    }

    /// The fee (drops) a transaction needs to get into the open ledger now, and that ledger's
    /// index.
    pub async fn fee_and_ledger(&self) -> Result<(u64, u32), XrpError> {
        fee_of(self.call("fee", json!({})).await?)
    }

    /// Submits a signed blob; the server's preliminary verdict.
    pub async fn submit(&self, blob: &[u8]) -> Result<Submitted, XrpError> {
        let params = json!({"tx_blob": hex::encode_upper(blob)});
        submitted_of(self.call("submit", params).await?)
    }
}

fn decode(method: &str, reason: impl Into<String>) -> XrpError {
    XrpError::Decode {
        method: method.to_owned(),
        reason: reason.into(),
    }
}

/// The `result` of an answer, or the error rippled put inside it.
fn result_of(method: &str, answer: Value) -> Result<Value, XrpError> {
    let Some(result) = answer.get("result").cloned() else {
        return Err(XrpError::Decode {
            method: method.to_owned(),
            reason: format!(
                "no result in {}",
                answer.to_string().chars().take(200).collect::<String>()
            ),
        });
    };
    if result["status"] == "error" || result.get("error").is_some() {
        let field = |k: &str| result[k].as_str().unwrap_or_default().to_owned();
        return Err(XrpError::Server {
            method: method.to_owned(),
            error: field("error"),
            message: field("error_message"),
        });
    }
    Ok(result)
}

fn sequence_of(account: &str, result: Result<Value, XrpError>) -> Result<u32, XrpError> {
    let result = match result {
        Err(XrpError::Server { error, .. }) if error == "actNotFound" => {
            return Err(XrpError::NotFunded(account.to_owned()))
        }
        other => other?,
    };
    result["account_data"]["Sequence"]
        .as_u64()
        .and_then(|s| u32::try_from(s).ok())
        .ok_or_else(|| decode("account_info", "no account_data.Sequence"))
}

fn fee_of(result: Value) -> Result<(u64, u32), XrpError> {
    let fee = result["drops"]["open_ledger_fee"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| decode("fee", "no drops.open_ledger_fee"))?;
    let ledger = result["ledger_current_index"]
        .as_u64()
        .and_then(|l| u32::try_from(l).ok())
        .ok_or_else(|| decode("fee", "no ledger_current_index"))?;
    Ok((fee, ledger))
}

fn submitted_of(result: Value) -> Result<Submitted, XrpError> {
    let field = |k: &str| {
        result[k]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| decode("submit", format!("no {k}")))
    };
    Ok(Submitted {
        engine_result: field("engine_result")?,
        message: field("engine_result_message")?,
    })
}

/// Answers in the shapes rippled's API reference documents for `account_info`, `fee` and
/// `submit` (trimmed to the fields read).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_and_errors_named() {
        let info = json!({"result": {"account_data": {"Account": "r…", "Balance": "999999988",
            "Sequence": 5}, "ledger_current_index": 4, "status": "success"}});
        assert_eq!(
            sequence_of("r…", result_of("account_info", info)).unwrap(),
            5
        );
        let missing = json!({"result": {"account": "rX", "error": "actNotFound", "error_code": 19,
            "error_message": "Account not found.", "status": "error"}});
        assert!(matches!(
            sequence_of("rX", result_of("account_info", missing)),
            Err(XrpError::NotFunded(a)) if a == "rX"
        ));
        let fee = json!({"result": {"current_ledger_size": "14", "drops": {"base_fee": "10",
            "median_fee": "11000", "minimum_fee": "10", "open_ledger_fee": "10"},
            "ledger_current_index": 26575101, "status": "success"}});
        assert_eq!(
            fee_of(result_of("fee", fee).unwrap()).unwrap(),
            (10, 26575101)
        );
        let submit = json!({"result": {"engine_result": "tesSUCCESS", "engine_result_code": 0,
            "engine_result_message": "The transaction was applied.", "status": "success"}});
        let verdict = submitted_of(result_of("submit", submit).unwrap()).unwrap();
        assert!(verdict.accepted());
        let refused = json!({"result": {"engine_result": "temREDUNDANT",
            "engine_result_message": "Sends same currency to self.", "status": "success"}});
        assert!(!submitted_of(result_of("submit", refused).unwrap())
            .unwrap()
            .accepted());
        let broken = json!({"result": {"error": "invalidParams", "error_message": "Missing field",
            "status": "error"}});
        let err = result_of("submit", broken).unwrap_err();
        assert!(err.to_string().contains("invalidParams"), "{err}");
        assert!(fee_of(json!({"drops": {}})).is_err());
    }
}
