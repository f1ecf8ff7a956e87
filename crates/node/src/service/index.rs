//! The loop that feeds the [`Indexer`](crate::indexer::Indexer): block after block from the
//! node's [`chain::BlockSource`], from the cursor in its store.
//!
//! A block is applied whole before the cursor moves past it, and the cursor is written after
//! each block (lazily: a crash replays a few blocks, and applying a block twice changes
//! nothing). A source that fails — down, lagging, answering malformed JSON or objects that do
//! not parse — is reported in the log, `/health` and `/metrics`, and asked again with backoff
//! for the same block, so nothing is skipped.

use chain::{BlockSource, SourceError};
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

use super::Shared;
use crate::indexer::replay_window;

/// The store's meta record holding the last block applied (big-endian u64).
pub const CURSOR: &str = "indexer_cursor";
/// Heights asked for at once.
const BATCH: usize = 64;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Retries `f` with backoff until it succeeds or the node stops (`None`), reporting each
/// failure once per kind change.
async fn persist<T, F, Fut>(shared: &Shared, source: &dyn BlockSource, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SourceError>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut stop = shared.stop.subscribe();
    loop {
        match f().await {
            Ok(v) => {
                if shared.indexer.status().error.is_some() {
                    info!(source = %source.describe(), "block source answers again");
                    shared.indexer.report(&source.describe(), None, None);
                }
                return Some(v);
            }
            Err(e) => {
                let new = shared.indexer.status().error.as_deref() != Some(&e.to_string());
                if new {
                    warn!(source = %source.describe(), error = %e, "block source failed; retrying");
                }
                shared.metrics.indexer_error(e.kind());
                shared
                    .indexer
                    .report(&source.describe(), None, Some(e.to_string()));
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return None,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn stored_cursor(shared: &Shared) -> Option<u64> {
    match shared.store.meta(CURSOR) {
        Ok(Some(b)) => b.try_into().ok().map(u64::from_be_bytes),
        Ok(None) => None,
        Err(e) => {
            warn!(error = %e, "cannot read the indexer's cursor; replaying the window");
            None
        }
    }
}

/// Where to start: the stored cursor, unless it is older than the replay window (then the
/// window's start, which holds every request that can still be pending).
async fn start(shared: &Shared, source: &dyn BlockSource) -> Option<u64> {
    let timeout = match shared.chain.config().await {
        Ok(c) => c.request_timeout_blocks,
        Err(e) => {
            warn!(error = %e, "cannot read the contract's config; assuming NEAR's 200 blocks");
            200
        }
    };
    let head = persist(shared, source, || source.head()).await?;
    shared.indexer.report(&source.describe(), Some(head), None);
    let earliest = head.saturating_sub(replay_window(timeout));
    let from = match stored_cursor(shared) {
        Some(c) if c >= earliest => c,
        Some(c) => {
            info!(
                cursor = c,
                from = earliest,
                "the cursor is older than any pending request"
            );
            earliest
        }
        None => earliest,
    };
    info!(source = %source.describe(), after = from, head, "indexer starting");
    shared.indexer.starting_after(from);
    Some(from)
}

pub(crate) async fn run(shared: Arc<Shared>) {
    let source = shared.blocks.clone();
    let source = source.as_ref();
    let Some(mut cursor) = start(&shared, source).await else {
        return;
    };
    loop {
        let Some(next) = persist(&shared, source, || source.next_heights(cursor, BATCH)).await
        else {
            return;
        };
        shared
            .indexer
            .report(&source.describe(), Some(next.head), None);
        for height in next.heights {
            let Some(block) = persist(&shared, source, || source.changes(height)).await else {
                return;
            };
            let (applied, malformed) = shared.indexer.apply(&block);
            for (id, e) in malformed {
                warn!(request = %id, height, error = %e, "a request record does not decode");
            }
            cursor = height;
            if let Err(e) = shared.store.put_meta_lazily(CURSOR, &cursor.to_be_bytes()) {
                warn!(error = %e, "cannot store the indexer's cursor");
            }
            if applied.added > 0 {
                shared.lead_wake.notify_one();
            }
        }
        let status = shared.indexer.status();
        shared
            .metrics
            .set_indexer(status.height.unwrap_or(0), status.head.unwrap_or(0));
    }
}
