//! Membership through the contract's votes: a fifth node joins, then one leaves. The keys
//! never change, signing goes on, and the leaver's shares are gone.

mod cluster;

use chain::Call;
use cluster::Cluster;
use node::store::Kind;
use primitives::DomainId;
use std::time::Duration;
use testkit::SCHEMES;

async fn sign_and_check(c: &Cluster, tag: &str, n: usize) {
    let state = c.state();
    let mut asked = vec![];
    for d in &state.domains {
        for i in 0..n {
            let path = format!("{tag}-{i}");
            asked.push((
                d.clone(),
                path.clone(),
                c.request("bob.test", d.id.0, d.scheme, &path, 5),
            ));
        }
    }
    let tickets: Vec<_> = asked.iter().map(|a| a.2).collect();
    let answers = c.answers(&tickets, Duration::from_secs(240)).await;
    for ((d, path, _), a) in asked.iter().zip(&answers) {
        let payload = testkit::payload_bytes(d.scheme, 5);
        testkit::verify_independently(&d.public_key, "bob.test", path, &payload, a).unwrap();
    }
}

fn vote(c: &Cluster, voters: &[&str], call: impl Fn(u64) -> Call) {
    let epoch = c.state().epoch.unwrap();
    for v in voters {
        c.call(v, call(epoch)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_joins_and_another_leaves_without_changing_the_keys() {
    cluster::init_logs();
    let mut c = Cluster::new(4, 3).await;
    c.add_domains(&SCHEMES).await;
    let keys = c.state().domains;
    sign_and_check(&c, "epoch0", 5).await;

    let newcomer = c.add_member("node4.test").await;
    c.wait("the newcomer's candidacy", Duration::from_secs(10), |c| {
        c.state()
            .candidates
            .iter()
            .any(|p| p.account_id.0 == "node4.test")
    })
    .await;
    vote(&c, &["node0.test", "node1.test", "node2.test"], |epoch| {
        Call::VoteJoin {
            candidate: "node4.test".into(),
            epoch,
        }
    });
    c.wait("the join's resharing", Duration::from_secs(120), |c| {
        let s = c.state();
        s.state == contract::views::Phase::Running && s.epoch == Some(1)
    })
    .await;
    let state = c.state();
    assert_eq!(state.participants.len(), 5);
    assert_eq!(state.domains, keys, "public keys unchanged");
    c.wait("the newcomer's shares", Duration::from_secs(10), |c| {
        c.members[newcomer].node().status().domains_with_keys == vec![0, 1, 2]
    })
    .await;
    sign_and_check(&c, "epoch1", 10).await;

    vote(&c, &["node1.test", "node2.test", "node4.test"], |epoch| {
        Call::VoteLeave {
            participant: "node0.test".into(),
            epoch,
        }
    });
    c.wait("the leave's resharing", Duration::from_secs(120), |c| {
        let s = c.state();
        s.state == contract::views::Phase::Running && s.epoch == Some(2)
    })
    .await;
    let state = c.state();
    assert!(state
        .participants
        .iter()
        .all(|p| p.account_id.0 != "node0.test"));
    assert_eq!(state.domains, keys, "public keys unchanged");
    c.wait(
        "the leaver deleting its shares and stock",
        Duration::from_secs(10),
        |c| {
            let store = c.members[0].node().store();
            (0..3).all(|d| {
                (0..3).all(|e| store.key_share(DomainId(d), e).unwrap().is_none())
                    && [Kind::Triple, Kind::Presignature, Kind::Nonces]
                        .iter()
                        .all(|k| store.items(*k, DomainId(d)).unwrap().is_empty())
            })
        },
    )
    .await;
    sign_and_check(&c, "epoch2", 10).await;
    // The leaver does not offer itself again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(c.state().candidates.is_empty());
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resharing_that_cannot_finish_is_aborted_and_signing_goes_on() {
    cluster::init_logs();
    let settings = node::service::Settings {
        keygen_timeout: Duration::from_secs(4),
        ..cluster::settings()
    };
    let c = Cluster::with_settings(4, 3, settings).await;
    c.add_domains(&SCHEMES[..2]).await;
    let keys = c.state().domains;
    // A candidate registers, is voted in, and never runs a node.
    let register = Call::RegisterCandidate {
        url: "https://127.0.0.1:9".into(),
        tls_public_key: node::identity::NearKey::generate().public_key(),
    };
    c.call("ghost.test", register).unwrap();
    vote(&c, &["node0.test", "node1.test", "node2.test"], |epoch| {
        Call::VoteJoin {
            candidate: "ghost.test".into(),
            epoch,
        }
    });
    assert_eq!(c.state().state, contract::views::Phase::Resharing);
    c.wait(
        "the nodes aborting the resharing",
        Duration::from_secs(60),
        |c| c.state().state == contract::views::Phase::Running,
    )
    .await;
    let state = c.state();
    assert_eq!(state.epoch, Some(0));
    assert_eq!(state.participants.len(), 4);
    assert_eq!(state.domains, keys);
    sign_and_check(&c, "after-abort", 5).await;
    c.shutdown().await;
}
