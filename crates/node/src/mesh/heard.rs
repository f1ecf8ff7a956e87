//! What this node has heard from each peer, and the proof that each peer reads what this node
//! sends.
//!
//! A peer that writes heartbeats but never reads ours would look alive by its heartbeats
//! alone, while every frame sent to it waits in a socket buffer (loopback buffers hold
//! megabytes, so a write timeout alone takes long to notice it). So every heartbeat carries a
//! fresh random token and echoes the newest token read from the peer's own heartbeats;
//! connections run one way each, so the echo of a token sent on our connection comes back on
//! the peer's. A peer is alive only while it echoes a token sent within
//! [`super::MeshSettings::dead_after`]: it cannot guess a random 64-bit token without reading
//! it, and it reads the frames before a heartbeat in order, since they share one stream.
//! The echo's window is longer than the read window ([`super::MeshSettings::read_timeout`],
//! 10 s by default): an echo takes a round trip and a heartbeat period, which a loaded
//! machine can stretch past 3 s, and a peer that flapped between alive and dead would stall
//! signing more than a deaf peer noticed after 10 s.

use primitives::ParticipantId;
use rand_core::{OsRng, RngCore};
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// The tokens this node remembers per peer: with heartbeats every 500 ms, the last 32 s.
const REMEMBERED: usize = 64;

/// A heartbeat's payload: this node's token, then the newest token it read from the peer.
pub(super) const PAYLOAD: usize = 16;

#[derive(Default)]
pub(crate) struct Heard {
    peers: BTreeMap<ParticipantId, Peer>,
}

#[derive(Default)]
struct Peer {
    /// When a frame from the peer was last read.
    read_at: Option<Instant>,
    /// The newest token read in the peer's heartbeats (0 before any).
    their_token: u64,
    /// Our recent tokens to the peer and when each was sent.
    sent: VecDeque<(u64, Instant)>,
    /// When the newest of our tokens the peer has echoed was sent.
    echoed_at: Option<Instant>,
}

impl Heard {
    /// The payload of the next heartbeat to `to`, remembered as sent now.
    pub(super) fn heartbeat_to(&mut self, to: ParticipantId, now: Instant) -> [u8; PAYLOAD] {
        let peer = self.peers.entry(to).or_default();
        let token = OsRng.next_u64().max(1);
        if peer.sent.len() == REMEMBERED {
            peer.sent.pop_front();
        }
        peer.sent.push_back((token, now));
        let mut payload = [0u8; PAYLOAD];
        payload[..8].copy_from_slice(&token.to_be_bytes());
        payload[8..].copy_from_slice(&peer.their_token.to_be_bytes());
        payload
    }

    /// A frame from `from` was read now; `heartbeat` is its payload if it was a heartbeat.
    pub(crate) fn read(&mut self, from: ParticipantId, heartbeat: Option<&[u8]>, now: Instant) {
        let peer = self.peers.entry(from).or_default();
        peer.read_at = Some(now);
        let Some(payload) = heartbeat.and_then(|p| <[u8; PAYLOAD]>::try_from(p).ok()) else {
            // The acceptor's greeting is empty, and so is nothing else a peer of this version
            // sends; anything else proves nothing.
            return;
        };
        let token = |at: usize| u64::from_be_bytes(payload[at..at + 8].try_into().expect("8"));
        peer.their_token = token(0);
        let echoed = token(8);
        if let Some((_, sent_at)) = peer.sent.iter().find(|(t, _)| *t == echoed) {
            peer.echoed_at = peer.echoed_at.max(Some(*sent_at));
        }
    }

    /// Whether `p` has been read from within `read`, and has echoed one of our tokens sent
    /// within `echo`.
    pub(super) fn is_fresh(
        &self,
        p: ParticipantId,
        now: Instant,
        (read, echo): (Duration, Duration),
    ) -> bool {
        let within = |t: Option<Instant>, w: Duration| t.is_some_and(|t| now.duration_since(t) < w);
        self.peers
            .get(&p)
            .is_some_and(|peer| within(peer.read_at, read) && within(peer.echoed_at, echo))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ParticipantId = ParticipantId(1);
    const WINDOW: (Duration, Duration) = (Duration::from_secs(3), Duration::from_secs(10));

    #[test]
    fn a_peer_that_echoes_our_token_is_fresh() {
        let (mut us, mut them) = (Heard::default(), Heard::default());
        let now = Instant::now();
        // We write to them; they read it and write back with our token echoed.
        let ours = us.heartbeat_to(A, now);
        them.read(A, Some(&ours), now);
        let theirs = them.heartbeat_to(A, now);
        us.read(A, Some(&theirs), now);
        assert!(us.is_fresh(A, now, WINDOW));
        assert!(us.is_fresh(A, now + WINDOW.0 / 2, WINDOW));
        assert!(
            !us.is_fresh(A, now + WINDOW.0, WINDOW),
            "nothing read for too long"
        );
        // Read from again, but no echo of a token sent in the last 10 s: deaf.
        us.read(A, None, now + WINDOW.1);
        assert!(!us.is_fresh(A, now + WINDOW.1, WINDOW), "no recent echo");
        assert!(
            !us.is_fresh(ParticipantId(2), now, WINDOW),
            "never heard of"
        );
    }

    #[test]
    fn heartbeats_without_our_token_prove_nothing() {
        let mut us = Heard::default();
        let now = Instant::now();
        let _ = us.heartbeat_to(A, now);
        // A deaf peer: it writes, but echoes no token it read (it read none).
        let mut guess = [0u8; PAYLOAD];
        for n in 0..100u64 {
            guess[8..].copy_from_slice(&n.to_be_bytes());
            us.read(A, Some(&guess), now);
        }
        us.read(A, Some(&[]), now);
        us.read(A, None, now);
        assert!(!us.is_fresh(A, now, WINDOW));
    }

    #[test]
    fn only_the_last_tokens_are_remembered() {
        let (mut us, mut them) = (Heard::default(), Heard::default());
        let start = Instant::now();
        let first = us.heartbeat_to(A, start);
        for i in 1..=REMEMBERED as u64 {
            let _ = us.heartbeat_to(A, start + Duration::from_millis(i));
        }
        // Echoing a forgotten token proves nothing.
        them.read(A, Some(&first), start);
        let late = them.heartbeat_to(A, start);
        us.read(A, Some(&late), start);
        assert!(!us.is_fresh(A, start, WINDOW));
    }
}
