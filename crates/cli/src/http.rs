//! A node's HTTP endpoints, read by the devnet and the bench.

use std::net::SocketAddr;

/// GETs `path` from `addr` and decodes the JSON body; `None` if the node does not answer.
pub async fn get_json<T: serde::de::DeserializeOwned>(addr: SocketAddr, path: &str) -> Option<T> {
    let url = format!("http://{addr}{path}");
    let response = reqwest::get(url).await.ok()?;
    response.json().await.ok()
}
