//! The node's HTTP endpoints, on their own port (never the p2p one):
//! - `GET /health`: 200 with the node's [`Status`](crate::service::Status) as JSON while it runs;
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

/// Serves the endpoints on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    node: NodeHandle,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(node))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn health(State(node): State<NodeHandle>) -> impl IntoResponse {
    Json(node.status())
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
