//! An insider floods: one participant, with its real TLS key, sends the others the largest
//! frames it may, without end, for instances that never start and as task starts. Each node
//! keeps at most that peer's budgets of its bytes and drops the rest; the other peers lose
//! nothing, signatures are answered as usual, and the process's memory stays bounded.

mod cluster;

use cluster::Cluster;
use node::frame::FrameKind;
use node::mesh::{Inbox, Mesh, MeshSettings, PeerInfo};
use node::router::{Budgets, Place};
use primitives::{ParticipantId, SignatureScheme};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the flooder hears: nothing it acts on.
struct Deaf;

impl Inbox for Deaf {
    fn deliver(&self, _: ParticipantId, _: FrameKind, _: Vec<u8>) {}
}

/// The test process's resident memory, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// Sends max-size protocol frames for fresh instance ids and task starts of both sizes to
/// every peer, as fast as the connections take them, until `stop`.
async fn flood(
    mesh: Arc<Mesh>,
    peers: Vec<ParticipantId>,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let mut frame = vec![mpc::WIRE_VERSION];
        frame.extend_from_slice(&mpc::InstanceId::derive(&n.to_be_bytes()).0);
        frame.resize(mpc::MAX_MESSAGE_BYTES, 0xAB);
        let mut took = false;
        for p in &peers {
            took |= mesh.send(*p, FrameKind::Protocol, frame.clone());
            took |= mesh.send(*p, FrameKind::Start, vec![0xCD; mpc::MAX_MESSAGE_BYTES]);
            took |= mesh.send(*p, FrameKind::Start, vec![0xEF; 900]);
        }
        if took {
            sent.fetch_add(1, Ordering::Relaxed);
        } else {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flooding_insider_pins_only_its_budget_and_others_sign_as_usual() {
    cluster::init_logs();
    let mut c = Cluster::new(5, 3).await;
    c.add_domains(&[SignatureScheme::Ed25519]).await;
    let domain = c.state().domains[0].clone();
    let bad = 4;
    let bad_id = c.participant_id(bad);
    c.stop(bad).await;
    let honest: Vec<usize> = (0..bad).collect();
    let honest_ids: Vec<ParticipantId> = honest.iter().map(|i| c.participant_id(*i)).collect();
    c.sign_and_verify(&domain, ("before", 4, 2), Duration::from_secs(60))
        .await;
    let before = rss();

    // The insider: its own key, a mesh that dials every honest node, and no listener (so
    // it never counts as alive and is never chosen to sign).
    let settings = MeshSettings {
        max_queued: 4,
        ..MeshSettings::default()
    };
    let flooder = Mesh::new(c.members[bad].tls_key(), settings, Arc::new(Deaf));
    let peers: BTreeMap<_, _> = honest
        .iter()
        .zip(&honest_ids)
        .map(|(i, p)| {
            let m = &c.members[*i];
            let key = m.tls_key().public_key().key_bytes().try_into().unwrap();
            (*p, PeerInfo::from_url(&m.url(), key))
        })
        .collect();
    flooder.set_peers(peers);
    let (stop, sent) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let task = tokio::spawn(flood(
        flooder.clone(),
        honest_ids.clone(),
        stop.clone(),
        sent.clone(),
    ));

    c.sign_and_verify(&domain, ("during", 8, 4), Duration::from_secs(120))
        .await;
    let mut peak = rss();
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        peak = peak.max(rss());
    }
    stop.store(true, Ordering::Relaxed);
    task.await.unwrap();
    flooder.shutdown();

    let budgets = Budgets::default();
    let mut cut = 0;
    for i in &honest {
        let node = c.members[*i].node();
        for place in Place::ALL {
            let s = node.router_standing(bad_id, place);
            assert!(s.held <= budgets.of(place), "node {i}, {place:?}: {s:?}");
            cut += s.dropped;
            for p in honest_ids.iter().filter(|p| **p != c.participant_id(*i)) {
                let s = node.router_standing(*p, place);
                assert_eq!(
                    s.dropped, 0,
                    "node {i} dropped honest {p}'s {place:?}: {s:?}"
                );
            }
        }
    }
    let frames = sent.load(Ordering::Relaxed);
    assert!(frames > 50, "the flood ran: {frames} rounds");
    assert!(cut > 0, "the flood was cut");
    // Four nodes, each holding at most the flooder's budgets, plus the flooder's own queues
    // and every connection's frame buffer: far below what the flood sent.
    let grown = peak.saturating_sub(before);
    let bound = 4 * (budgets.early + budgets.live + budgets.starts) as u64 + (256 << 20);
    eprintln!(
        "flood: {frames} rounds of 1 MiB frames, {cut} dropped; memory grew {} MiB (bound {} MiB)",
        grown >> 20,
        bound >> 20
    );
    assert!(grown < bound, "memory grew by {grown} bytes");
    c.shutdown().await;
}
