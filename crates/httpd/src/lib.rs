//! Serves an axum app over HTTP/1.1 within bounds a public endpoint needs (docs/design.md §8.8):
//!
//! - at most [`Limits::max_connections`] connections at once; one more is closed as soon as
//!   it is accepted, so a flood of idle sockets cannot exhaust file descriptors or memory;
//! - a request's headers must arrive whole within [`Limits::header_timeout`] (hyper's
//!   `header_read_timeout`, which also closes a kept-alive connection that sends nothing);
//! - a request's body must arrive whole within [`Limits::body_timeout`] of its headers, or
//!   the app sees a failed body (axum answers 400), so a body sent a byte a minute holds
//!   nothing long. What the app then takes to answer is its own business (the devnet's RPC
//!   long-polls for blocks and outcomes).
//!
//! `axum::serve` offers none of these. Request bodies are bounded by the app itself (axum's
//! default body limit, 2 MiB).

use axum::body::Body;
use axum::http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_service::Service;
use tracing::{debug, warn};

/// Bounds on what callers can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 512,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
        }
    }
}

/// How long open connections get to finish once `shutdown` resolves.
const DRAIN: Duration = Duration::from_secs(5);

/// Serves `app` on `listener` within `limits` until `shutdown` resolves, then stops
/// listening, lets open connections finish for a few seconds and closes the rest.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut open = tokio::task::JoinSet::<()>::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of descriptors, or the peer left before accept: not fatal.
                    warn!(error = %e, "accepting an HTTP connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            debug!("too many HTTP connections; closing a new one");
            continue;
        };
        // Small answers leave at once rather than waiting on the caller's delayed ACK.
        let _ = tcp.set_nodelay(true);
        let service = Bounded {
            app: app.clone(),
            timeout: limits.body_timeout,
        };
        let conn = http.serve_connection(TokioIo::new(tcp), service);
        let conn = graceful.watch(conn);
        while open.try_join_next().is_some() {}
        open.spawn(async move {
            if let Err(e) = conn.await {
                debug!(error = %e, "HTTP connection ended");
            }
            drop(permit);
        });
    }
    // No new connections while the open ones finish; what is still open after the drain is
    // cut, so that nothing the app holds outlives this call.
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        debug!("some HTTP connections were still open at shutdown; closing them");
    }
    open.shutdown().await;
    Ok(())
}

/// The app, each request's body within a time limit.
#[derive(Clone)]
struct Bounded {
    app: axum::Router,
    timeout: Duration,
}

impl hyper::service::Service<Request<Incoming>> for Bounded {
    type Response = Response<Body>;
    type Error = std::convert::Infallible;
    type Future = <axum::Router as Service<Request<Body>>>::Future;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let deadline = Box::pin(tokio::time::sleep(self.timeout));
        let request = request.map(|inner| Body::new(Timed { inner, deadline }));
        self.app.clone().call(request)
    }
}

/// A request body that fails if it has not arrived whole by its deadline.
struct Timed {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

/// The body did not arrive in time.
#[derive(Debug)]
struct BodyTimeout;

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyTimeout {}

impl http_body::Body for Timed {
    type Data = axum::body::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyTimeout.into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests;
