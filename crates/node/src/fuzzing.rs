//! What peers, the chain and the disk hand a node, as fuzz targets (`fuzz/`) and the replay of
//! their corpus in `cargo test`.
//!
//! - [`frames`]: a byte stream from peers, cut into frames by [`crate::frame::read_frame`] and
//!   delivered to a [`Router`] under small per-peer budgets, with two instances running and
//!   task starts decoded as the scheduler decodes them. Whatever arrives, the router holds
//!   no peer's bytes beyond its budget, and once every queue is drained nothing stays
//!   charged.
//! - [`stored`]: every parser of bytes the node reads back from its store: the stored item's
//!   framing, each kind of secret, key shares of every scheme, the indexer's saved requests,
//!   and the contract storage changes a block source reports (folded by the indexer).

use primitives::{ParticipantId, SignatureScheme};
use std::time::Duration;

use crate::frame::{read_frame, FrameKind};
use crate::mesh::Inbox;
use crate::router::{Budgets, Place, Router, RouterLimits};

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
}

const BUDGETS: Budgets = Budgets {
    early: 1 << 16,
    live: 1 << 16,
    starts: 1 << 12,
};

/// `[peer: u8][frame]…`, frames as the wire carries them, into a router.
pub fn frames(data: &[u8]) {
    RUNTIME.with(|rt| rt.block_on(route(data)));
}

async fn route(mut data: &[u8]) {
    let limits = RouterLimits {
        budgets: BUDGETS,
        ..RouterLimits::default()
    };
    let (router, mut starts) = Router::new(limits);
    // Instance ids a fuzzer can hit: all zeros and all ones.
    let mut running =
        [[0u8; 32], [1u8; 32]].map(|id| router.register(mpc::InstanceId(id)).expect("new"));
    let mut heard = crate::mesh::heard::Heard::default();
    while let Some((&peer, rest)) = data.split_first() {
        let mut stream = rest;
        let Ok((kind, payload)) = read_frame(&mut stream, Duration::from_secs(1)).await else {
            break;
        };
        data = stream;
        let from = ParticipantId(u32::from(peer % 4));
        if kind == FrameKind::Heartbeat {
            heard.read(from, Some(&payload), std::time::Instant::now());
        }
        router.deliver(from, kind, payload);
        for p in 0..4 {
            for place in Place::ALL {
                let held = router.standing(ParticipantId(p), place).held;
                assert!(
                    held <= BUDGETS.of(place),
                    "peer {p} holds {held} in {place:?}"
                );
            }
        }
    }
    for r in &mut running {
        while let Ok(d) = r.rx.try_recv() {
            let _ = d.open();
        }
    }
    while let Ok(start) = starts.try_recv() {
        let (_, crate::router::Control::Start(bytes)) = start.open() else {
            continue;
        };
        if let Ok(task) = crate::service::task::Task::decode(&bytes) {
            let _ = (task.kind(), task.instances(), task.participants().len());
            let _ = task.split();
        }
    }
    for p in 0..4 {
        for place in [Place::Live, Place::Starts] {
            let held = router.standing(ParticipantId(p), place).held;
            assert_eq!(
                held, 0,
                "peer {p} still charged {held} in {place:?} with its queue empty"
            );
        }
    }
}

/// `[what: u8][bytes]`: one of the node's stored-bytes parsers on `bytes`.
pub fn stored(data: &[u8]) {
    let Some((&what, bytes)) = data.split_first() else {
        return;
    };
    use crate::keys::{decode_secret, DomainKey};
    use mpc::frost::{Bip340, Ed25519};
    match what % 12 {
        0 => drop(crate::store::Store::parts(bytes, &[0; 32])),
        1 => drop(decode_secret::<mpc::ecdsa::Triple>("triple", bytes)),
        2 => drop(decode_secret::<mpc::ecdsa::Presignature>(
            "presignature",
            bytes,
        )),
        3 => drop(decode_secret::<mpc::frost::Presignature<Ed25519>>(
            "nonces", bytes,
        )),
        4 => drop(decode_secret::<mpc::frost::Presignature<Bip340>>(
            "nonces", bytes,
        )),
        5..=8 => {
            let scheme = [
                SignatureScheme::Secp256k1,
                SignatureScheme::V2Secp256k1,
                SignatureScheme::Ed25519,
                SignatureScheme::Bip340,
            ][usize::from(what % 12 - 5)];
            if let Ok(key) = DomainKey::decode(scheme, bytes) {
                // What the node does with a share it loaded: compare its key to the contract's.
                let _ = key.public_key().to_string();
            }
        }
        9 => {
            // The indexer's saved state: 64-byte records, the i-th under id [i; 32].
            let pending = bytes
                .chunks(64)
                .enumerate()
                .map(|(i, chunk)| ([i as u8; 32], chunk.to_vec()))
                .collect();
            let state = crate::store::IndexState { cursor: 7, pending };
            let _ = crate::service::index::decode_saved(state);
        }
        _ => {
            // A block's contract storage changes, as a source reports them.
            let changes = bytes
                .split(|b| *b == 0xff)
                .map(|part| {
                    let (key, value) = part.split_at(part.len().min(34));
                    match value.first() {
                        Some(0) => chain::DataChange::Remove { key: key.to_vec() },
                        _ => chain::DataChange::Write {
                            key: key.to_vec(),
                            value: value.to_vec(),
                        },
                    }
                })
                .collect::<Vec<_>>();
            let block = chain::BlockChanges { height: 1, changes };
            let _ = crate::indexer::Indexer::default().apply(&block);
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every input the fuzzers kept, run again (CI runs this on stable).
    #[test]
    fn the_fuzz_corpus_replays() {
        testkit::replay_fuzz_corpus("node_frames", super::frames);
        testkit::replay_fuzz_corpus("node_stored", super::stored);
    }
}
