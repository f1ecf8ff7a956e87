//! Routes what peers send to the protocol instances running here, by instance id.
//!
//! A peer may start sending for an instance before this node has started it (it saw the
//! contract's state change first, or its task start arrived after its first message): such
//! messages wait, bounded in age, and are handed over when the instance registers. Messages
//! for instances that never start here expire; messages for an instance that has ended here
//! (a slower peer's last round) are dropped at once for as long. Expiry walks a queue in
//! arrival order, so a flood of ids costs each message O(1), not a scan. Task starts
//! (`FrameKind::Start`) and lead notices (`FrameKind::Leading`) go to one queue the node's
//! scheduler reads.
//!
//! Everything kept here is charged to the peer that sent it, in bytes, against that peer's
//! budget for the place it waits ([`budget`]): a peer that floods loses its own messages,
//! never another's.

use mpc::{instance_id_of, InstanceId};
use primitives::ParticipantId;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::frame::FrameKind;
use crate::mesh::Inbox;

pub mod budget;

pub use budget::{Budgets, Place, Standing};
use budget::{Charge, Ledger};

/// What reaches a running instance from one peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inbound {
    /// A protocol message, enveloped.
    Protocol(Vec<u8>),
    /// The peer will not take part, and why.
    Refused(String),
}

/// Something a peer sent, waiting in a queue; its bytes stay charged to the peer until it is
/// taken apart.
#[derive(Debug)]
pub struct Delivery<T> {
    pub from: ParticipantId,
    pub body: T,
    charge: Charge,
}

impl<T> Delivery<T> {
    /// Who sent it and what, its charge given back.
    pub fn open(self) -> (ParticipantId, T) {
        drop(self.charge);
        (self.from, self.body)
    }
}

/// What the node's scheduler reads from a peer, beside protocol messages.
#[derive(Debug, PartialEq, Eq)]
pub enum Control {
    /// A task start, still encoded.
    Start(Vec<u8>),
    /// The peer leads this signature request.
    Leading([u8; 32]),
}

/// A task start or lead notice from a peer.
pub type ControlDelivery = Delivery<Control>;

/// The longest refusal reason kept.
const MAX_REASON: usize = 256;

/// Bounds on what the router holds.
#[derive(Clone, Debug)]
pub struct RouterLimits {
    /// How long a message for an instance not started here is kept.
    pub early_ttl: Duration,
    /// Bytes each peer may have waiting here, per place.
    pub budgets: Budgets,
}

impl Default for RouterLimits {
    fn default() -> Self {
        Self {
            early_ttl: Duration::from_secs(15),
            budgets: Budgets::default(),
        }
    }
}

struct Early {
    since: Instant,
    messages: Vec<Delivery<Vec<u8>>>,
}

#[derive(Default)]
struct Inner {
    live: HashMap<InstanceId, mpsc::UnboundedSender<Delivery<Inbound>>>,
    early: HashMap<InstanceId, Early>,
    early_count: usize,
    /// Instances that ended here, and when.
    finished: HashMap<InstanceId, Instant>,
    /// When each early buffer or finished mark was made, oldest first.
    expiry: VecDeque<(Instant, InstanceId)>,
}

pub struct Router {
    inner: Mutex<Inner>,
    early_ttl: Duration,
    ledger: Ledger,
    // Unbounded: what waits in it is bounded by each peer's `starts` budget instead, so that
    // one peer's flood cannot fill a shared queue.
    starts: mpsc::UnboundedSender<ControlDelivery>,
}

/// A running instance's inbox; dropping it unregisters the instance.
pub struct Registration {
    pub id: InstanceId,
    pub rx: mpsc::UnboundedReceiver<Delivery<Inbound>>,
    router: Arc<Router>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut inner = self.router.lock();
        inner.live.remove(&self.id);
        let now = Instant::now();
        inner.finished.insert(self.id, now);
        inner.expiry.push_back((now, self.id));
    }
}

impl Router {
    /// The router and the queue of task starts it fills.
    pub fn new(limits: RouterLimits) -> (Arc<Self>, mpsc::UnboundedReceiver<ControlDelivery>) {
        let (starts, rx) = mpsc::unbounded_channel();
        let router = Arc::new(Self {
            inner: Mutex::default(),
            early_ttl: limits.early_ttl,
            ledger: Ledger::new(limits.budgets),
            starts,
        });
        (router, rx)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts routing `id`'s messages to the returned inbox, beginning with any that arrived
    /// early. `None` if `id` is already registered (an instance id is used once).
    pub fn register(self: &Arc<Self>, id: InstanceId) -> Option<Registration> {
        let mut inner = self.lock();
        if inner.live.contains_key(&id) {
            return None;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        if let Some(early) = inner.early.remove(&id) {
            inner.early_count -= early.messages.len();
            for message in early.messages {
                let (from, bytes) = message.open();
                self.forward(&tx, from, Inbound::Protocol(bytes));
            }
        }
        inner.live.insert(id, tx);
        Some(Registration {
            id,
            rx,
            router: Arc::clone(self),
        })
    }

    /// Charges `from` for `inbound` in a running instance's queue and queues it there.
    fn forward(
        &self,
        tx: &mpsc::UnboundedSender<Delivery<Inbound>>,
        from: ParticipantId,
        body: Inbound,
    ) {
        let size = match &body {
            Inbound::Protocol(b) => b.len(),
            Inbound::Refused(r) => r.len(),
        };
        let Some(charge) = self.charge(from, Place::Live, size) else {
            return;
        };
        let _ = tx.send(Delivery { from, body, charge });
    }

    /// How many messages wait for instances not started here.
    pub fn early_count(&self) -> usize {
        self.lock().early_count
    }

    /// What `peer` has waiting here in `place`, and how much of it was dropped.
    pub fn standing(&self, peer: ParticipantId, place: Place) -> Standing {
        self.ledger.standing(peer, place)
    }

    /// Every peer's standing, per place ([`Place::ALL`] order), expired messages let go.
    pub fn standings(&self) -> Vec<(ParticipantId, [Standing; 3])> {
        self.expire(&mut self.lock());
        self.ledger.all()
    }

    fn route(&self, from: ParticipantId, bytes: Vec<u8>) {
        let id = match instance_id_of(&bytes) {
            Ok(id) => id,
            Err(e) => {
                warn!(peer = %from, error = %e, "dropping an unroutable protocol message");
                return;
            }
        };
        let mut inner = self.lock();
        if let Some(tx) = inner.live.get(&id) {
            self.forward(tx, from, Inbound::Protocol(bytes));
            return;
        }
        self.expire(&mut inner);
        if inner.finished.contains_key(&id) {
            return;
        }
        let Some(charge) = self.charge(from, Place::Early, bytes.len()) else {
            return;
        };
        inner.early_count += 1;
        let Inner { early, expiry, .. } = &mut *inner;
        let buffer = early.entry(id).or_insert_with(|| {
            let since = Instant::now();
            expiry.push_back((since, id));
            Early {
                since,
                messages: vec![],
            }
        });
        buffer.messages.push(Delivery {
            from,
            body: bytes,
            charge,
        });
    }

    /// Charges `from` for `bytes` in `place`; `None` (logged now and then, counted always)
    /// when that would take it over its budget there.
    fn charge(&self, from: ParticipantId, place: Place, bytes: usize) -> Option<Charge> {
        let charged = self.ledger.charge(from, place, bytes);
        if charged.is_none() {
            // A flood would otherwise be a flood of log lines: the 1st, 2nd, 4th, 8th… drop.
            let dropped = self.ledger.standing(from, place).dropped;
            if dropped.is_power_of_two() {
                warn!(peer = %from, place = place.name(), dropped, "the peer is over its budget; dropping its messages");
            }
        }
        charged
    }

    /// Drops what waited longer than the TTL for an instance that never started here, and
    /// forgets instances that ended that long ago.
    fn expire(&self, inner: &mut Inner) {
        let now = Instant::now();
        let mut expired = 0;
        while let Some(&(at, id)) = inner.expiry.front() {
            if now.duration_since(at) < self.early_ttl {
                break;
            }
            inner.expiry.pop_front();
            // Each mark names the buffer or the ending it was made with; a newer one under
            // the same id has its own mark further on.
            if inner.early.get(&id).is_some_and(|e| e.since == at) {
                expired += inner.early.remove(&id).map_or(0, |e| e.messages.len());
            }
            if inner.finished.get(&id) == Some(&at) {
                inner.finished.remove(&id);
            }
        }
        inner.early_count -= expired;
        if expired > 0 {
            debug!(
                expired,
                "dropped messages for instances that never started here"
            );
        }
    }

    /// A peer's refusal reaches the instance it names, if it runs here; otherwise it is moot.
    fn refused(&self, from: ParticipantId, payload: &[u8]) {
        let Some((id, reason)) = payload.split_first_chunk::<32>() else {
            warn!(peer = %from, "dropping a malformed refusal");
            return;
        };
        let reason = String::from_utf8_lossy(&reason[..reason.len().min(MAX_REASON)]).into_owned();
        if let Some(tx) = self.lock().live.get(&InstanceId(*id)) {
            self.forward(tx, from, Inbound::Refused(reason));
        }
    }

    fn start(&self, from: ParticipantId, payload: Vec<u8>) {
        self.control(from, payload.len(), Control::Start(payload));
    }

    fn leading(&self, from: ParticipantId, payload: &[u8]) {
        let Ok(id) = <[u8; 32]>::try_from(payload) else {
            debug!(peer = %from, len = payload.len(), "dropped a malformed lead notice");
            return;
        };
        self.control(from, id.len(), Control::Leading(id));
    }

    fn control(&self, from: ParticipantId, len: usize, body: Control) {
        let Some(charge) = self.charge(from, Place::Starts, len) else {
            return;
        };
        let _ = self.starts.send(Delivery { from, body, charge });
    }
}

impl Inbox for Router {
    fn deliver(&self, from: ParticipantId, kind: FrameKind, payload: Vec<u8>) {
        match kind {
            FrameKind::Protocol => self.route(from, payload),
            FrameKind::Start => self.start(from, payload),
            FrameKind::Refusal => self.refused(from, &payload),
            FrameKind::Leading => self.leading(from, &payload),
            FrameKind::Heartbeat => {}
        }
    }

    /// Every running instance hears that `peer` is gone, as a refusal from it: those the peer
    /// takes part in end now (the driver acts on a refusal from a member only) instead of at
    /// their timeout, and their leaders try again with another signer set.
    fn peer_lost(&self, peer: ParticipantId) {
        let inner = self.lock();
        for tx in inner.live.values() {
            self.forward(tx, peer, Inbound::Refused(PEER_LOST.to_owned()));
        }
        if !inner.live.is_empty() {
            debug!(%peer, instances = inner.live.len(), "the peer's connection ended; its instances told");
        }
    }
}

/// The refusal an instance hears when a member's connection ends.
pub const PEER_LOST: &str = "the connection to the peer ended";

#[cfg(test)]
mod tests;
