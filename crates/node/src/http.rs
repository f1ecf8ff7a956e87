//! The node's HTTP endpoints, on their own port (never the p2p one):
//! - `GET /health`: the node's [`Status`](crate::service::Status) as JSON: 200 while it is
//!   healthy, 503 while it cannot follow the chain (its block source fails, or it trails the
//!   head by more than a few blocks);
//! - `GET /metrics`: the Prometheus text exposition;
//! - `GET /public_data`: account, participant id, TLS public key and p2p URL, as JSON.
//!
//! Nothing here is secret and nothing here changes the node.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;

use crate::service::NodeHandle;

/// The endpoints' router.
pub fn router(node: NodeHandle) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/public_data", get(public_data))
        .with_state(node)
}

/// Serves the endpoints on `listener` until `shutdown` resolves, within [`httpd`]'s bounds on
/// connections and header and body time.
pub async fn serve(
    listener: TcpListener,
    node: NodeHandle,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    httpd::serve(listener, router(node), httpd::Limits::default(), shutdown).await
}

async fn health(State(node): State<NodeHandle>) -> impl IntoResponse {
    let status = node.status();
    let code = if status.healthy {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(status))
}

async fn metrics(State(node): State<NodeHandle>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        node.render_metrics(),
    )
}

async fn public_data(State(node): State<NodeHandle>) -> impl IntoResponse {
    Json(node.public_data())
}
