//! A node's store restored from an earlier copy (a backup, a snapshot rolled back): the node
//! believes it still holds items it has spent since. It tries to lead with them; every peer
//! that spent them refuses at once and says why (`claims_refused_total{why="spent"}`), no
//! item is used twice, and every request is still answered with a valid signature.

mod cluster;

use cluster::Cluster;
use node::store::{Kind, Store};
use primitives::{DomainId, ParticipantId, SignatureScheme};
use std::collections::BTreeSet;
use std::time::Duration;

type Stock = BTreeSet<(Kind, u64, [u8; 32], ParticipantId)>;

/// Every item in `store`: kind, domain, id, owner.
fn stock(store: &Store) -> Stock {
    let mut out = BTreeSet::new();
    for kind in [Kind::Triple, Kind::Presignature, Kind::Nonces] {
        for d in 0..2 {
            for (id, tag) in store.items(kind, DomainId(d)).unwrap() {
                out.insert((kind, d, id, tag.owner));
            }
        }
    }
    out
}

fn spent_refusals(c: &Cluster) -> u64 {
    c.members
        .iter()
        .filter_map(|m| m.node.as_ref())
        .map(|n| n.handle().metrics().claims_refused("spent"))
        .sum()
}

/// Asks and verifies rounds of signatures in every domain until `done` holds (ten rounds at
/// most).
async fn sign_until(c: &Cluster, label: &str, done: impl Fn(&Cluster) -> bool) {
    for round in 1..=10 {
        if done(c) {
            return;
        }
        for d in &c.state().domains {
            let label = format!("{label}-{round}");
            c.sign_and_verify(d, (&label, 6, 3), Duration::from_secs(120))
                .await;
        }
    }
    assert!(
        done(c),
        "{label}: not reached after ten rounds of signatures"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_restored_from_an_old_store_cannot_spend_an_item_twice() {
    cluster::init_logs();
    let mut c = Cluster::new(4, 3).await;
    c.add_domains(&[SignatureScheme::Secp256k1, SignatureScheme::Ed25519])
        .await;
    let node = 1;
    let me = c.participant_id(node);
    let owned = |s: &Stock| s.iter().filter(|i| i.3 == me).count();
    c.wait("node 1's own stock", Duration::from_secs(120), |c| {
        owned(&stock(c.members[node].node().store())) >= 6
    })
    .await;

    // The backup: a copy of the store file while the node is stopped.
    c.stop(node).await;
    let path = c.members[node].store_path();
    let backup = path.with_extension("backup");
    std::fs::copy(&path, &backup).unwrap();
    let old = stock(&Store::open(&path, &c.members[node].store_key).unwrap());
    c.start(node).await;

    // The node works on; items of the backup are spent, some of them its own.
    let spent = |c: &Cluster| -> Stock {
        let store = c.members[node].node().store();
        old.iter()
            .filter(|i| store.is_consumed(&i.2).unwrap())
            .cloned()
            .collect()
    };
    sign_until(&c, "spend", |c| owned(&spent(c)) >= 2).await;
    let stale = spent(&c);

    // The disk is restored from the backup.
    c.stop(node).await;
    std::fs::copy(&backup, &path).unwrap();
    c.start(node).await;
    let restored = stock(c.members[node].node().store());
    assert!(
        stale.iter().all(|i| restored.contains(i)),
        "the restored store holds the spent items again"
    );

    // It leads again, and tries its stale items first or later: each is refused by the
    // peers that spent it, and each request is answered by a fresh item.
    let before = spent_refusals(&c);
    sign_until(&c, "after", |c| spent_refusals(c) > before).await;
    // Their owners spent them before anyone else could: no owner still holds one (a member
    // that is not the owner may keep an unused share of an item whose instance failed;
    // nobody can start an instance with it).
    for p in c.state().participants.iter().filter(|p| p.id != me) {
        let m = c
            .members
            .iter()
            .find(|m| m.account == p.account_id.0)
            .unwrap();
        let s = stock(m.node().store());
        assert!(
            stale.iter().filter(|i| i.3 == p.id).all(|i| !s.contains(i)),
            "{} holds an item it owns that was spent",
            m.account
        );
    }
    for i in 0..c.members.len() {
        let invalid = c.members[i].node().handle().metrics().signatures_invalid();
        assert_eq!(invalid, 0, "node {i} led an invalid signature");
    }
    eprintln!(
        "rollback: {} stale items ({} node 1's own), {} claims refused as spent",
        stale.len(),
        owned(&stale),
        spent_refusals(&c) - before
    );
    c.shutdown().await;
}
