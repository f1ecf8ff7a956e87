//! The indexer: the node's view of the contract's pending requests, kept by following the
//! chain block by block (docs/design.md, "Indexer").
//!
//! Every pending request is a record under its own key in the contract's storage, so a block's
//! storage changes say exactly which requests arrived (a write) and which were answered or
//! timed out (a removal). [`fold`] turns one block's changes into those events, purely; an
//! [`Indexer`] applies them to the set of pending requests it owns, remembers the height it
//! has applied, and wakes whoever waits on it: the signing scheduler (a new request), a
//! follower that a leader named a request it has not seen yet, the contract follower (the
//! contract's root or candidates changed).
//!
//! The loop that feeds it (`service::index`) keeps its cursor in the node's store and resumes
//! from it after a restart. A node with no cursor, or one older than the replay window, starts
//! [`replay_window`] blocks back from the head: a request is written at most its timeout before
//! its yield resolves, so every request still pending was written within that window, and
//! replaying it reconstructs the set exactly.

use chain::{BlockChanges, DataChange};
use contract::storage::{decode_request, key_kind, DecodeError, KeyKind};
use contract::views::PendingRequestView;
use contract::RequestId;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

use crate::service::lock;

/// NEAR's yield timeout: a `sign` waits at most this many blocks on NEAR, whatever the
/// contract's config says.
pub const NEAR_YIELD_TIMEOUT_BLOCKS: u64 = 200;

/// How far back a node with no usable cursor starts: past any request's whole life (the
/// longer of the contract's `request_timeout_blocks` and NEAR's yield timeout), with margin
/// for callbacks that run late.
pub fn replay_window(request_timeout_blocks: u64) -> u64 {
    request_timeout_blocks
        .max(NEAR_YIELD_TIMEOUT_BLOCKS)
        .saturating_mul(2)
        .saturating_add(50)
}

/// What one block did to the pending requests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Folded {
    /// Per request, its state at the end of the block: pending (with its record) or gone.
    pub requests: BTreeMap<RequestId, Option<PendingRequestView>>,
    /// The contract's `state()` view changed (root or candidates written).
    pub state_changed: bool,
    /// Request records that do not decode, by key: reported, never acted on.
    pub malformed: Vec<(RequestId, DecodeError)>,
}

/// Folds a block's storage changes to each key's last one (a source orders a key's own changes,
/// not necessarily changes across keys).
pub fn fold(changes: &[DataChange]) -> Folded {
    let mut out = Folded::default();
    for change in changes {
        match (key_kind(change.key()), change) {
            (KeyKind::Request(id), DataChange::Write { value, .. }) => {
                match decode_request(value) {
                    Ok(record) if record.id == id => {
                        out.requests
                            .insert(id, Some(PendingRequestView::from(&record)));
                    }
                    Ok(record) => {
                        out.requests.insert(id, None);
                        out.malformed.push((
                            id,
                            DecodeError {
                                what: "request",
                                reason: format!(
                                    "stored under the key of another id ({})",
                                    record.id
                                ),
                            },
                        ));
                    }
                    Err(e) => {
                        out.requests.insert(id, None);
                        out.malformed.push((id, e));
                    }
                }
            }
            (KeyKind::Request(id), DataChange::Remove { .. }) => {
                out.requests.insert(id, None);
            }
            (kind, _) if kind.in_state_view() => out.state_changed = true,
            _ => {}
        }
    }
    out
}

/// A pending request as this node knows it.
pub struct Seen {
    pub view: PendingRequestView,
    pub first_seen: Instant,
    /// This node's last attempt to lead it, if any.
    pub attempt: Option<Attempt>,
    /// Signer sets whose signature for this request came out invalid: this node does not lead
    /// it with them again (another set answers).
    pub failed_sets: Vec<Vec<primitives::ParticipantId>>,
    /// Peers that said they lead it, each with when its first notice came (a peer's later
    /// notices are not counted: one peer cannot hold a request back for ever).
    pub led_by: Vec<(primitives::ParticipantId, Instant)>,
    /// Its leader order under one epoch's participants, kept: leading is reconsidered up to
    /// 50 times a second, and each order is n SHA-256 hashes (with a thousand requests
    /// pending, 5,000–6,000 hashes a pass; estimated, not measured).
    pub order: Option<(u64, Vec<primitives::ParticipantId>)>,
}

impl Seen {
    /// Whether a peer other than `me` said it leads this request, and the hold that started
    /// with the first such notice from a peer `counts` (one whose own turn has come) has not
    /// run out. One hold per request, whoever sends notices and when: peers cannot chain
    /// their holds into a request's timeout.
    pub fn led_elsewhere(
        &self,
        me: primitives::ParticipantId,
        now: Instant,
        hold: Duration,
        counts: impl Fn(primitives::ParticipantId) -> bool,
    ) -> bool {
        self.led_by
            .iter()
            .filter(|(p, _)| *p != me && counts(*p))
            .map(|(_, at)| *at)
            .min()
            .is_some_and(|first| now.saturating_duration_since(first) < hold)
    }
}

/// Where this node's attempt to lead a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    Running,
    /// Ended without an answer at this instant; tried again after a pause.
    EndedAt(Instant),
    /// No longer pending (answered by this node or another, or timed out — the contract says
    /// so): not led again while the block that shows it closed is on its way.
    Answered,
}

/// What applying a block changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub added: usize,
    pub removed: usize,
    pub state_changed: bool,
    /// The requests this block closed (answered or timed out).
    pub closed: Vec<Closed>,
}

/// A request the chain no longer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed {
    /// The request.
    pub id: RequestId,
    /// Blocks from the one that accepted it to the one that closed it.
    pub blocks: u64,
    /// Since this node first saw it.
    pub waited: Duration,
}

impl Closed {
    /// Whether it ran out of time rather than being answered: the contract closes a request
    /// unanswered once `request_timeout_blocks` have passed, and cannot answer it after.
    pub fn timed_out(&self, request_timeout_blocks: u64) -> bool {
        self.blocks >= request_timeout_blocks
    }
}

/// Where the indexer stands, for `/health`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IndexerStatus {
    /// The block source, e.g. `NEAR RPC http://…`.
    pub source: String,
    /// The block this run of the node started after: its stored cursor, or the start of the
    /// replay window.
    pub started_after: Option<u64>,
    /// The last block applied.
    pub height: Option<u64>,
    /// The newest final block the source reported.
    pub head: Option<u64>,
    /// Blocks between them.
    pub lag: Option<u64>,
    /// The source's last failure, until it answers again.
    pub error: Option<String>,
}

/// The pending requests and the height they are current at.
pub struct Indexer {
    pending: Mutex<BTreeMap<RequestId, Seen>>,
    height: watch::Sender<u64>,
    state_changed: Notify,
    status: Mutex<IndexerStatus>,
}

impl Default for Indexer {
    fn default() -> Self {
        Self {
            pending: Mutex::new(BTreeMap::new()),
            height: watch::channel(0).0,
            state_changed: Notify::new(),
            status: Mutex::new(IndexerStatus::default()),
        }
    }
}

impl Indexer {
    /// Applies one block: its requests arrive or leave; waiters wake.
    pub fn apply(&self, block: &BlockChanges) -> (Applied, Vec<(RequestId, DecodeError)>) {
        self.apply_folded(block.height, fold(&block.changes))
    }

    /// Starts from a saved state: the requests pending after block `height`.
    pub fn restore(&self, height: u64, pending: Vec<PendingRequestView>) {
        let requests = pending
            .into_iter()
            .map(|v| (v.request_id, Some(v)))
            .collect();
        let folded = Folded {
            requests,
            ..Folded::default()
        };
        self.apply_folded(height, folded);
    }

    /// [`Self::apply`] for a block already folded (whose edits the caller also saves).
    pub fn apply_folded(
        &self,
        height: u64,
        folded: Folded,
    ) -> (Applied, Vec<(RequestId, DecodeError)>) {
        let mut applied = Applied {
            state_changed: folded.state_changed,
            ..Applied::default()
        };
        {
            let mut pending = lock(&self.pending);
            for (id, state) in folded.requests {
                match state {
                    Some(view) => {
                        if let Some(seen) = pending.get_mut(&id) {
                            seen.view = view;
                        } else {
                            pending.insert(
                                id,
                                Seen {
                                    view,
                                    first_seen: Instant::now(),
                                    attempt: None,
                                    failed_sets: Vec::new(),
                                    led_by: Vec::new(),
                                    order: None,
                                },
                            );
                            applied.added += 1;
                        }
                    }
                    None => {
                        if let Some(seen) = pending.remove(&id) {
                            applied.removed += 1;
                            applied.closed.push(Closed {
                                id,
                                blocks: height.saturating_sub(seen.view.created_at),
                                waited: seen.first_seen.elapsed(),
                            });
                        }
                    }
                }
            }
        }
        {
            let mut status = lock(&self.status);
            status.height = Some(height);
            status.lag = status.head.map(|h| h.saturating_sub(height));
        }
        if folded.state_changed {
            self.state_changed.notify_one();
        }
        self.height.send_replace(height);
        (applied, folded.malformed)
    }

    /// The last block applied (0 before the first).
    pub fn height(&self) -> u64 {
        *self.height.borrow()
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.height.subscribe()
    }

    /// Resolves when the contract's `state()` view may have changed.
    pub async fn state_changed(&self) {
        self.state_changed.notified().await
    }

    /// The pending requests, locked (for the signing scheduler).
    pub fn pending(&self) -> std::sync::MutexGuard<'_, BTreeMap<RequestId, Seen>> {
        lock(&self.pending)
    }

    /// Notes that `peer` leads `id`: its first notice for a request this node sees pending
    /// (one for a request not seen yet is dropped: this node is behind and will not lead it
    /// before its own turn).
    pub fn note_leader(&self, id: &RequestId, peer: primitives::ParticipantId) {
        if let Some(seen) = lock(&self.pending).get_mut(id) {
            if !seen.led_by.iter().any(|(p, _)| *p == peer) {
                seen.led_by.push((peer, Instant::now()));
            }
        }
    }

    pub fn get(&self, id: &RequestId) -> Option<PendingRequestView> {
        lock(&self.pending).get(id).map(|s| s.view.clone())
    }

    pub fn len(&self) -> usize {
        lock(&self.pending).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A request as soon as a block shows it pending, or `None` after `limit`.
    pub async fn wait_for(&self, id: &RequestId, limit: Duration) -> Option<PendingRequestView> {
        let mut blocks = self.subscribe();
        let until = tokio::time::Instant::now() + limit;
        loop {
            if let Some(view) = self.get(id) {
                return Some(view);
            }
            match tokio::time::timeout_at(until, blocks.changed()).await {
                Ok(Ok(())) => {}
                _ => return self.get(id),
            }
        }
    }

    pub fn status(&self) -> IndexerStatus {
        lock(&self.status).clone()
    }

    /// Records what the source said of the head, or how it failed.
    pub fn report(&self, source: &str, head: Option<u64>, error: Option<String>) {
        let mut status = lock(&self.status);
        status.source = source.to_owned();
        if let Some(h) = head {
            status.head = Some(h);
            status.lag = status.height.map(|at| h.saturating_sub(at));
        }
        status.error = error;
    }

    /// Records where this run started reading.
    pub fn starting_after(&self, height: u64) {
        lock(&self.status).started_after = Some(height);
    }

    /// Whether the indexer is within `slack` blocks of the head: before that, requests it
    /// holds may already be answered in blocks it has not read, so nobody should lead them.
    pub fn caught_up(&self, slack: u64) -> bool {
        lock(&self.status).lag.is_some_and(|lag| lag <= slack)
    }
}

#[cfg(test)]
mod tests;
