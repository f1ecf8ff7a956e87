//! The indexer against a block source that fails, and across a restart: whatever the source
//! does, no request is skipped, and a restarted node resumes from its cursor.

mod cluster;

use cluster::{Cluster, DOWN, HEALTHY, MALFORMED};
use node::service::index::CURSOR;
use node::store::Store;
use primitives::SignatureScheme;
use std::time::Duration;

async fn ask_and_check(c: &Cluster, tag: &str, n: u8) {
    let domain = c.state().domains[0].clone();
    let tickets: Vec<_> = (0..n)
        .map(|i| {
            c.request(
                "app.test",
                domain.id.0,
                domain.scheme,
                &format!("{tag}-{i}"),
                i + 1,
            )
        })
        .collect();
    let answers = c.answers(&tickets, Duration::from_secs(60)).await;
    for (i, a) in answers.iter().enumerate() {
        let payload = testkit::payload_bytes(domain.scheme, i as u8 + 1);
        testkit::verify_independently(
            &domain.public_key,
            "app.test",
            &format!("{tag}-{i}"),
            &payload,
            a,
        )
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_source_is_reported_retried_and_caught_up_skipping_nothing() {
    cluster::init_logs();
    let c = Cluster::new(3, 2).await;
    c.add_domains(&[SignatureScheme::Ed25519]).await;
    ask_and_check(&c, "before", 2).await;

    for (fault, says) in [(DOWN, "unreachable"), (MALFORMED, "malformed")] {
        c.set_fault(fault);
        c.wait(
            "every node reporting the failure",
            Duration::from_secs(10),
            |c| {
                c.statuses().iter().all(|s| {
                    !s.healthy && s.indexer.error.as_deref().is_some_and(|e| e.contains(says))
                })
            },
        )
        .await;
    }
    // Requests arrive while no node can read the chain: none is answered meanwhile.
    let domain = c.state().domains[0].clone();
    let tickets: Vec<_> = (0..4u8)
        .map(|i| {
            c.request(
                "app.test",
                domain.id.0,
                domain.scheme,
                &format!("during-{i}"),
                i + 1,
            )
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    {
        let chain = c.chain.lock().unwrap();
        assert!(tickets.iter().all(|t| chain.result(*t).is_none()));
    }
    let stuck_at: Vec<u64> = c
        .statuses()
        .iter()
        .map(|s| s.indexer.height.unwrap())
        .collect();

    c.set_fault(HEALTHY);
    let answers = c.answers(&tickets, Duration::from_secs(60)).await;
    for (i, a) in answers.iter().enumerate() {
        let payload = testkit::payload_bytes(domain.scheme, i as u8 + 1);
        testkit::verify_independently(
            &domain.public_key,
            "app.test",
            &format!("during-{i}"),
            &payload,
            a,
        )
        .unwrap();
    }
    c.wait("every node healthy again", Duration::from_secs(10), |c| {
        c.statuses()
            .iter()
            .all(|s| s.healthy && s.indexer.error.is_none())
    })
    .await;
    for (s, before) in c.statuses().iter().zip(stuck_at) {
        assert!(s.indexer.height.unwrap() > before, "{s:?}");
    }
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_node_resumes_from_its_cursor_and_leads_nothing_already_answered() {
    cluster::init_logs();
    let mut c = Cluster::new(3, 2).await;
    c.add_domains(&[SignatureScheme::Ed25519]).await;
    ask_and_check(&c, "before", 3).await;

    c.stop(0).await;
    let cursor = {
        let m = &c.members[0];
        let store = Store::open(&m.store_path(), &m.store_key).unwrap();
        let bytes = store.meta(CURSOR).unwrap().expect("a cursor was kept");
        u64::from_be_bytes(bytes.try_into().unwrap())
    };
    assert!(cursor > 0);
    // Answered by the other two while node 0 is away.
    ask_and_check(&c, "away", 4).await;

    c.start(0).await;
    c.wait("node 0 caught up", Duration::from_secs(20), |c| {
        let s = c.members[0].node().status();
        s.healthy && s.indexer.lag == Some(0)
    })
    .await;
    let status = c.members[0].node().status();
    assert_eq!(
        status.indexer.started_after,
        Some(cursor),
        "resumed from its cursor"
    );
    assert_eq!(
        status.pending_requests, 0,
        "what was answered meanwhile is not pending"
    );
    // New requests are answered, node 0 leading its share; nobody led an answered one.
    ask_and_check(&c, "after", 6).await;
    let failed = c.members[0]
        .node()
        .handle()
        .render_metrics()
        .lines()
        .any(|l| l.starts_with("chainsig_requests_total{outcome=\"failed\"}"));
    assert!(!failed, "node 0 led no request that was already answered");
    c.shutdown().await;
}

/// A request the node saw before it stopped, still pending when it restarts: the node resumes
/// from its cursor *with* it (the cursor is saved with the pending set), and it is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_pending_across_a_restart_is_remembered_from_the_saved_state() {
    cluster::init_logs();
    let mut c = Cluster::new(3, 2).await;
    c.add_domains(&[SignatureScheme::Ed25519]).await;
    ask_and_check(&c, "before", 1).await;

    // Without a second signer nothing is answered: the request stays pending.
    c.stop(1).await;
    c.stop(2).await;
    let domain = c.state().domains[0].clone();
    let ticket = c.request("app.test", domain.id.0, domain.scheme, "kept", 1);
    c.wait("node 0 to see it", Duration::from_secs(10), |c| {
        c.members[0].node().status().pending_requests == 1
    })
    .await;
    c.stop(0).await;
    let cursor = {
        let m = &c.members[0];
        let store = Store::open(&m.store_path(), &m.store_key).unwrap();
        let state = store.index_state().unwrap().expect("a state was saved");
        assert_eq!(state.pending.len(), 1, "saved with its pending request");
        state.cursor
    };

    c.start(0).await;
    c.wait("node 0 following again", Duration::from_secs(10), |c| {
        c.members[0].node().status().indexer.height > Some(cursor)
    })
    .await;
    let status = c.members[0].node().status();
    assert_eq!(
        status.indexer.started_after,
        Some(cursor),
        "resumed from its cursor"
    );
    assert_eq!(
        status.pending_requests, 1,
        "knowing the request pending there"
    );

    c.start(1).await;
    c.start(2).await;
    let answers = c.answers(&[ticket], Duration::from_secs(30)).await;
    let payload = testkit::payload_bytes(domain.scheme, 1);
    testkit::verify_independently(
        &domain.public_key,
        "app.test",
        "kept",
        &payload,
        &answers[0],
    )
    .unwrap();
    c.shutdown().await;
}
