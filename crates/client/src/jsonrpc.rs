//! A JSON-RPC 2.0 caller over HTTP, shared by the Ethereum and Solana clients, and the HTTP
//! JSON exchange of rippled's own JSON-RPC and the Cosmos REST client (Esplora shares the HTTP
//! client).

use serde::de::DeserializeOwned;
use std::time::Duration;

/// Why a JSON-RPC call failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("{url}: {reason}")]
    Transport { url: String, reason: String },
    #[error("{method}: the server refused ({code}): {message}")]
    Server {
        method: String,
        code: i64,
        message: String,
    },
    #[error("{method}: unexpected answer: {reason}")]
    Decode { method: String, reason: String },
}

/// One JSON-RPC endpoint.
#[derive(Clone)]
pub struct JsonRpc {
    http: reqwest::Client,
    url: String,
}

/// The HTTP client the chain clients share: every call gives up after 30 s.
pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client with a timeout builds")
}

/// Sends `request` and parses the answer as JSON, whatever the HTTP status (servers put their
/// errors in JSON too); `Err` says why nothing usable came back, for a transport error.
pub(crate) async fn exchange(
    request: reqwest::RequestBuilder,
) -> Result<(reqwest::StatusCode, serde_json::Value), String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let text = response.text().await.map_err(|e| e.to_string())?;
    serde_json::from_str(&text)
        .map(|v| (status, v))
        .map_err(|_| {
            format!(
                "HTTP {status}, not JSON: {}",
                text.chars().take(200).collect::<String>()
            )
        })
}

impl JsonRpc {
    pub fn new(url: &str) -> Self {
        Self {
            http: http_client(),
            url: url.to_owned(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Calls `method` with positional `params` and decodes `result` as `T`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<T, RpcError> {
        let body =
            serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (_, value) = exchange(self.http.post(&self.url).json(&body))
            .await
            .map_err(|reason| RpcError::Transport {
                url: self.url.clone(),
                reason,
            })?;
        let decode = |reason: String| RpcError::Decode {
            method: method.to_owned(),
            reason,
        };
        if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
            return Err(RpcError::Server {
                method: method.to_owned(),
                code: error["code"].as_i64().unwrap_or(0),
                message: error["message"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| error.to_string()),
            });
        }
        let result = value
            .get("result")
            .cloned()
            .ok_or_else(|| decode("no result".into()))?;
        serde_json::from_value(result).map_err(|e| decode(e.to_string()))
    }
}
