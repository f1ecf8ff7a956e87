//! The loop that feeds the [`Indexer`](crate::indexer::Indexer): block after block from the
//! node's [`chain::BlockSource`], from the cursor in its store.
//!
//! A block is applied whole before the cursor moves past it. After each block the cursor and
//! the block's edits to the pending set are saved together (lazily, `store::index`), so a
//! restarted node resumes from its cursor knowing every request still pending there; a crash
//! replays a few blocks, and applying a block twice changes nothing. A node with no saved
//! state, or one older than the replay window, replays the window instead. A source that
//! fails — down, lagging, answering malformed JSON or objects that do not parse — is reported
//! in the log, `/health` and `/metrics`, and asked again with backoff for the same block, so
//! nothing is skipped.

use chain::{BlockSource, SourceError};
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, info, warn};

use super::Shared;
use crate::indexer::{fold, replay_window, Folded};
use contract::views::PendingRequestView;

use futures_util::StreamExt;

pub use crate::store::INDEX_CURSOR as CURSOR;
/// Heights asked for at once.
const BATCH: usize = 64;
/// Blocks read at once.
const PREFETCH: usize = 8;
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

/// The saved cursor with the requests pending there, if usable.
fn saved(shared: &Shared) -> Option<(u64, Vec<PendingRequestView>)> {
    let state = match shared.store.index_state() {
        Ok(state) => state?,
        Err(e) => {
            warn!(error = %e, "cannot read the indexer's saved state; replaying the window");
            return None;
        }
    };
    match decode_saved(state) {
        Ok(saved) => Some(saved),
        Err(id) => {
            warn!(request = %hex::encode(id), "a saved pending request does not decode; replaying the window");
            None
        }
    }
}

/// The saved cursor and the requests pending there, or the id of the first saved request
/// that does not decode (or decodes under another id).
pub(crate) fn decode_saved(
    state: crate::store::IndexState,
) -> Result<(u64, Vec<PendingRequestView>), [u8; 32]> {
    let mut pending = vec![];
    for (id, bytes) in state.pending {
        match serde_json::from_slice::<PendingRequestView>(&bytes) {
            Ok(view) if view.request_id.0 == id => pending.push(view),
            _ => return Err(id),
        }
    }
    Ok((state.cursor, pending))
}

/// Where to start: the saved cursor and set, unless the cursor is older than the replay
/// window (then the window's start, which holds every request that can still be pending);
/// and the contract's request timeout in blocks.
async fn start(shared: &Shared, source: &dyn BlockSource) -> Option<(u64, u64)> {
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
    let from = match saved(shared) {
        Some((cursor, pending)) if cursor >= earliest => {
            info!(
                cursor,
                pending = pending.len(),
                "resuming from the saved cursor"
            );
            shared.indexer.restore(cursor, pending);
            cursor
        }
        other => {
            if let Some((cursor, _)) = other {
                info!(
                    cursor,
                    from = earliest,
                    "the cursor is older than any pending request"
                );
            }
            if let Err(e) = shared.store.reset_index() {
                warn!(error = %e, "cannot clear the indexer's saved state");
            }
            earliest
        }
    };
    info!(source = %source.describe(), after = from, head, "indexer starting");
    shared.indexer.starting_after(from);
    Some((from, timeout))
}

/// Saves `height` as the cursor with the block's edits to the pending set.
fn save(shared: &Shared, height: u64, folded: &Folded) -> Result<(), String> {
    let mut edits = Vec::with_capacity(folded.requests.len());
    for (id, view) in &folded.requests {
        let bytes = match view {
            Some(v) => Some(serde_json::to_vec(v).map_err(|e| format!("request {id}: {e}"))?),
            None => None,
        };
        edits.push((id.0, bytes));
    }
    shared
        .store
        .save_index(height, &edits)
        .map_err(|e| e.to_string())
}

pub(crate) async fn run(shared: Arc<Shared>) {
    let source = shared.blocks.clone();
    let source = source.as_ref();
    let Some((mut cursor, timeout)) = start(&shared, source).await else {
        return;
    };
    let mut saving = true;
    loop {
        let Some(next) = persist(&shared, source, || source.next_heights(cursor, BATCH)).await
        else {
            return;
        };
        shared
            .indexer
            .report(&source.describe(), Some(next.head), None);
        // Several blocks in flight, applied in order: a block is two round trips to NEAR
        // Lake (block and shard), and read one at a time a follower on a busy machine fell
        // behind 100 ms blocks.
        let mut blocks = futures_util::stream::iter(next.heights)
            .map(|height| persist(&shared, source, move || source.changes(height)))
            .buffered(PREFETCH);
        while let Some(block) = blocks.next().await {
            let Some(block) = block else {
                return;
            };
            let height = block.height;
            let folded = fold(&block.changes);
            // Saved before it is applied: applying cannot fail, and a cursor saved later
            // without these edits would lose requests, so a failed save stops saving and a
            // restart replays the window.
            if saving {
                if let Err(e) = save(&shared, height, &folded) {
                    warn!(error = %e, "cannot save the indexer's state; a restart will replay the window");
                    saving = false;
                    let _ = shared.store.reset_index();
                }
            }
            let (applied, malformed) = shared.indexer.apply_folded(height, folded);
            for (id, e) in malformed {
                warn!(request = %id, height, error = %e, "a request record does not decode");
            }
            for closed in &applied.closed {
                debug!(
                    request = %closed.id,
                    blocks = closed.blocks,
                    waited_ms = closed.waited.as_millis() as u64,
                    timed_out = closed.timed_out(timeout),
                    "request closed"
                );
                shared
                    .metrics
                    .request_closed(!closed.timed_out(timeout), closed.waited);
            }
            cursor = height;
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
