//! Whether the store can still write.
//!
//! A write that fails in the database itself (a full disk, an I/O error) is remembered until a
//! write succeeds again. While it is, the node reports itself unhealthy and takes no items:
//! it neither leads signatures nor starts precomputations (docs/design.md §8.6), instead of
//! failing request after request with the same error. The precompute loop probes with a
//! small durable write at each poll, so a node recovers by itself once space is freed.

use std::sync::Mutex;
use tracing::{info, warn};

use super::StoreError;

#[derive(Default)]
pub(super) struct Health {
    /// The last database error of a write, until a write succeeds again.
    failure: Mutex<Option<String>>,
    /// Makes every write fail as a full disk would (fault-injection builds only).
    #[cfg(feature = "fault-injection")]
    pub(super) injected: std::sync::atomic::AtomicBool,
}

impl Health {
    /// Notes how a write ended. Refusals (already consumed, not in stock …) wrote nothing
    /// and say nothing about the disk.
    pub(super) fn record<T>(&self, result: &Result<T, StoreError>) {
        let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Err(StoreError::Db(e)) => {
                if failure.is_none() {
                    warn!(error = %e, "the store cannot write; this node takes no items until it can");
                }
                *failure = Some(e.clone());
            }
            Ok(_) => {
                if failure.take().is_some() {
                    info!("the store writes again");
                }
            }
            Err(_) => {}
        }
    }

    pub(super) fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The error an injected failure gives, or `None`.
    pub(super) fn injected(&self) -> Option<StoreError> {
        #[cfg(feature = "fault-injection")]
        if self.injected.load(std::sync::atomic::Ordering::Relaxed) {
            return Some(StoreError::Db(
                "injected write failure: no space left on device".into(),
            ));
        }
        None
    }
}
