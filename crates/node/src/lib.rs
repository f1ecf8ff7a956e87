//! The MPC node (docs/design.md §2, §8): a [`service::Node`] follows the signer contract through
//! a [`chain::Chain`] and its requests block by block through its [`indexer`], talks to its peers over the [`mesh`] (mutually authenticated TLS,
//! [`tls`], carrying [`frame`]s, routed to protocol instances by the [`router`] and run by the
//! [`driver`]), keeps its key shares and stockpiles in the encrypted [`store`], and reports
//! through [`metrics`] and its [`http`] endpoints. Its [`identity`] and [`config`] live in its data dir.

pub mod config;
pub mod driver;
pub mod faults;
pub mod frame;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod http;
pub mod identity;
pub mod indexer;
pub mod keys;
pub mod mesh;
pub mod metrics;
pub mod ports;
pub mod router;
pub mod service;
pub mod store;
pub mod tls;
pub mod workers;

/// `tokio::spawn` that keeps the caller's tracing span, so every log line of a node's tasks
/// names the node (several nodes share one process in tests and the devnet).
pub(crate) fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    use tracing::Instrument;
    tokio::spawn(future.in_current_span())
}
