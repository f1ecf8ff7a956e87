//! A node stopped and restarted from its data dir rejoins with its key shares and stock, and
//! no precomputed item is ever used twice across the restart.

mod cluster;

use cluster::Cluster;
use node::store::{Kind, Store};
use primitives::DomainId;
use std::collections::BTreeSet;
use std::time::Duration;
use testkit::SCHEMES;

const KINDS: [Kind; 3] = [Kind::Triple, Kind::Presignature, Kind::Nonces];

fn stock(store: &Store) -> BTreeSet<(u8, u64, [u8; 32])> {
    let mut out = BTreeSet::new();
    for kind in KINDS {
        for d in 0..3 {
            for (id, _) in store.items(kind, DomainId(d)).unwrap() {
                out.insert((kind as u8, d, id));
            }
        }
    }
    out
}

type Asked = Vec<(contract::views::DomainView, String, chain::SignTicket)>;

fn ask(c: &Cluster, tag: &str, n: usize) -> Asked {
    let mut asked = vec![];
    for d in &c.state().domains {
        for i in 0..n {
            let path = format!("{tag}-{i}");
            let ticket = c.request("alice.test", d.id.0, d.scheme, &path, 3);
            asked.push((d.clone(), path, ticket));
        }
    }
    asked
}

async fn check(c: &Cluster, asked: Asked) {
    let tickets: Vec<_> = asked.iter().map(|a| a.2).collect();
    let answers = c.answers(&tickets, Duration::from_secs(240)).await;
    for ((d, path, _), a) in asked.iter().zip(&answers) {
        let payload = testkit::payload_bytes(d.scheme, 3);
        testkit::verify_independently(&d.public_key, "alice.test", path, &payload, a).unwrap();
    }
}

async fn sign_batch(c: &Cluster, tag: &str, n: usize) {
    check(c, ask(c, tag, n)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_node_keeps_its_shares_and_never_reuses_an_item() {
    cluster::init_logs();
    let mut c = Cluster::new(4, 3).await;
    c.add_domains(&SCHEMES).await;
    let keys_before = c.state().domains;
    sign_batch(&c, "before", 5).await;
    c.wait("node 1's stock", Duration::from_secs(120), |c| {
        let s = c.members[1].node().store();
        (0..3).all(|d| {
            let kind = if d == 0 {
                Kind::Presignature
            } else {
                Kind::Nonces
            };
            s.items(kind, DomainId(d)).unwrap().len() >= 2
        })
    })
    .await;

    // Node 1 dies with requests in flight, some of which it leads or co-signs: the next
    // leaders take over and the signer sets without it are used.
    let in_flight = ask(&c, "in-flight", 5);
    c.stop(1).await;
    let at_stop = {
        let store = Store::open(&c.members[1].store_path(), &c.members[1].store_key).unwrap();
        let items = stock(&store);
        for (_, _, id) in &items {
            assert!(
                !store.is_consumed(id).unwrap(),
                "an item in stock is never consumed"
            );
        }
        for d in 0..3 {
            assert!(store.key_share(DomainId(d), 0).unwrap().is_some());
        }
        items
    };
    assert!(!at_stop.is_empty());

    // Three of four nodes still make a threshold.
    check(&c, in_flight).await;
    sign_batch(&c, "while-down", 5).await;

    c.start(1).await;
    c.wait(
        "node 1 back with its shares",
        Duration::from_secs(30),
        |c| {
            let s = c.members[1].node().status();
            s.domains_with_keys == vec![0, 1, 2] && s.peers_alive.len() == 3
        },
    )
    .await;
    assert_eq!(
        c.state().domains,
        keys_before,
        "no new key generation happened"
    );
    let served_before = c.members[1].node().handle().metrics().requests_served();
    sign_batch(&c, "after", 20).await;
    assert!(
        c.members[1].node().handle().metrics().requests_served() > served_before,
        "the restarted node leads requests again"
    );

    // Every item node 1 had at the stop is either still in stock or consumed: never both,
    // and a consumed one can never come back.
    let store = c.members[1].node().store();
    let now = stock(store);
    let mut used = 0;
    for item in &at_stop {
        let consumed = store.is_consumed(&item.2).unwrap();
        assert_ne!(consumed, now.contains(item), "item {item:?}");
        used += usize::from(consumed);
    }
    assert!(
        used > 0,
        "some of the pre-restart stock was spent after the restart"
    );
    c.shutdown().await;
}
