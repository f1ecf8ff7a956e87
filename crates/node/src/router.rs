//! Routes what peers send to the protocol instances running here, by instance id.
//!
//! A peer may start sending for an instance before this node has started it (it saw the
//! contract's state change first, or its task start arrived after its first message): such
//! messages wait, bounded in number and age, and are handed over when the instance registers.
//! Messages for instances that never start here expire. Task starts (`FrameKind::Start`) go
//! to one queue the node's scheduler reads.

use mpc::{instance_id_of, InstanceId};
use primitives::ParticipantId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::frame::FrameKind;
use crate::mesh::Inbox;

/// What a peer sent: who, and the bytes.
pub type Message = (ParticipantId, Vec<u8>);

/// What reaches a running instance from one peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inbound {
    /// A protocol message, enveloped.
    Protocol(Vec<u8>),
    /// The peer will not take part, and why.
    Refused(String),
}

/// The longest refusal reason kept.
const MAX_REASON: usize = 256;

/// Bounds on what the router holds.
#[derive(Clone, Debug)]
pub struct RouterLimits {
    /// Messages kept for instances not started here yet, in total.
    pub max_early: usize,
    /// How long such a message is kept.
    pub early_ttl: Duration,
    /// Messages queued for one running instance.
    pub instance_queue: usize,
    /// Task starts queued for the scheduler.
    pub start_queue: usize,
}

impl Default for RouterLimits {
    fn default() -> Self {
        Self {
            max_early: 8192,
            early_ttl: Duration::from_secs(15),
            instance_queue: 4096,
            start_queue: 4096,
        }
    }
}

struct Early {
    since: Instant,
    messages: Vec<Message>,
}

#[derive(Default)]
struct Inner {
    live: HashMap<InstanceId, mpsc::Sender<(ParticipantId, Inbound)>>,
    early: HashMap<InstanceId, Early>,
    early_count: usize,
}

pub struct Router {
    inner: Mutex<Inner>,
    limits: RouterLimits,
    starts: mpsc::Sender<Message>,
}

/// A running instance's inbox; dropping it unregisters the instance.
pub struct Registration {
    pub id: InstanceId,
    pub rx: mpsc::Receiver<(ParticipantId, Inbound)>,
    router: Arc<Router>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.router.lock().live.remove(&self.id);
    }
}

impl Router {
    /// The router and the queue of task starts it fills.
    pub fn new(limits: RouterLimits) -> (Arc<Self>, mpsc::Receiver<Message>) {
        let (starts, rx) = mpsc::channel(limits.start_queue);
        let router = Arc::new(Self {
            inner: Mutex::default(),
            limits,
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
        let (tx, rx) = mpsc::channel(self.limits.instance_queue);
        if let Some(early) = inner.early.remove(&id) {
            inner.early_count -= early.messages.len();
            for (from, bytes) in early.messages {
                let _ = tx.try_send((from, Inbound::Protocol(bytes)));
            }
        }
        inner.live.insert(id, tx);
        Some(Registration {
            id,
            rx,
            router: Arc::clone(self),
        })
    }

    /// How many messages wait for instances not started here.
    pub fn early_count(&self) -> usize {
        self.lock().early_count
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
            if tx.try_send((from, Inbound::Protocol(bytes))).is_err() {
                warn!(peer = %from, instance = %id, "instance queue full; dropping a message");
            }
            return;
        }
        let now = Instant::now();
        let ttl = self.limits.early_ttl;
        let before = inner.early.len();
        let mut expired = 0;
        inner.early.retain(|_, e| {
            let keep = now.duration_since(e.since) < ttl;
            if !keep {
                expired += e.messages.len();
            }
            keep
        });
        inner.early_count -= expired;
        if inner.early.len() < before {
            debug!(
                expired,
                "dropped messages for instances that never started here"
            );
        }
        if inner.early_count >= self.limits.max_early {
            warn!(peer = %from, instance = %id, "too many messages for unknown instances; dropping");
            return;
        }
        inner.early_count += 1;
        inner
            .early
            .entry(id)
            .or_insert_with(|| Early {
                since: now,
                messages: vec![],
            })
            .messages
            .push((from, bytes));
    }
}

impl Router {
    /// A peer's refusal reaches the instance it names, if it runs here; otherwise it is moot.
    fn refused(&self, from: ParticipantId, payload: &[u8]) {
        let Some((id, reason)) = payload.split_first_chunk::<32>() else {
            warn!(peer = %from, "dropping a malformed refusal");
            return;
        };
        let reason = String::from_utf8_lossy(&reason[..reason.len().min(MAX_REASON)]).into_owned();
        if let Some(tx) = self.lock().live.get(&InstanceId(*id)) {
            let _ = tx.try_send((from, Inbound::Refused(reason)));
        }
    }
}

impl Inbox for Router {
    fn deliver(&self, from: ParticipantId, kind: FrameKind, payload: Vec<u8>) {
        match kind {
            FrameKind::Protocol => self.route(from, payload),
            FrameKind::Start => {
                if self.starts.try_send((from, payload)).is_err() {
                    warn!(peer = %from, "task start queue full; dropping a start");
                }
            }
            FrameKind::Refusal => self.refused(from, &payload),
            FrameKind::Heartbeat => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &InstanceId, body: &[u8]) -> Vec<u8> {
        let mut m = vec![mpc::WIRE_VERSION];
        m.extend_from_slice(&id.0);
        m.extend_from_slice(body);
        m
    }

    #[tokio::test]
    async fn early_messages_wait_for_their_instance() {
        let (router, _starts) = Router::new(RouterLimits::default());
        let id = InstanceId::derive(b"a");
        let p = ParticipantId(1);
        router.deliver(p, FrameKind::Protocol, msg(&id, b"1"));
        router.deliver(p, FrameKind::Protocol, msg(&id, b"2"));
        assert_eq!(router.early_count(), 2);
        let mut reg = router.register(id).unwrap();
        assert!(router.register(id).is_none(), "an id registers once");
        assert_eq!(router.early_count(), 0);
        router.deliver(p, FrameKind::Protocol, msg(&id, b"3"));
        for want in [b"1", b"2", b"3"] {
            let (from, Inbound::Protocol(bytes)) = reg.rx.recv().await.unwrap() else {
                panic!("a protocol message")
            };
            assert_eq!((from, &bytes[33..]), (p, &want[..]));
        }
        let refusal = [&id.0[..], b"no such item"].concat();
        router.deliver(p, FrameKind::Refusal, refusal);
        assert_eq!(
            reg.rx.recv().await.unwrap(),
            (p, Inbound::Refused("no such item".into()))
        );
        router.deliver(p, FrameKind::Refusal, b"short".to_vec());
        drop(reg);
        router.deliver(p, FrameKind::Protocol, msg(&id, b"4"));
        assert_eq!(router.early_count(), 1, "unregistered: buffered again");
    }

    #[tokio::test]
    async fn early_messages_are_bounded_and_expire() {
        let limits = RouterLimits {
            max_early: 3,
            early_ttl: Duration::from_millis(50),
            ..RouterLimits::default()
        };
        let (router, _starts) = Router::new(limits);
        let p = ParticipantId(1);
        for i in 0..10u8 {
            router.deliver(p, FrameKind::Protocol, msg(&InstanceId::derive(&[i]), b""));
        }
        assert_eq!(router.early_count(), 3);
        router.deliver(p, FrameKind::Protocol, b"garbage".to_vec());
        assert_eq!(router.early_count(), 3, "unroutable bytes are dropped");
        tokio::time::sleep(Duration::from_millis(80)).await;
        router.deliver(
            p,
            FrameKind::Protocol,
            msg(&InstanceId::derive(b"new"), b""),
        );
        assert_eq!(router.early_count(), 1, "old ones expired");
    }

    #[tokio::test]
    async fn starts_go_to_the_scheduler() {
        let (router, mut starts) = Router::new(RouterLimits::default());
        router.deliver(ParticipantId(2), FrameKind::Start, b"task".to_vec());
        assert_eq!(
            starts.recv().await.unwrap(),
            (ParticipantId(2), b"task".to_vec())
        );
    }
}
