//! A member whose store cannot write (a full disk, injected in the store itself): it reports
//! itself unhealthy with the store's error and takes no items, the other members answer every
//! request, and once the store writes again the node is healthy by itself.

mod cluster;

use cluster::Cluster;
use primitives::SignatureScheme;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_that_cannot_write_makes_its_node_unhealthy_and_the_others_answer() {
    cluster::init_logs();
    let c = Cluster::new(4, 2).await;
    c.add_domains(&[SignatureScheme::Ed25519]).await;
    let domain = c.state().domains[0].clone();
    let sick = 3;
    let status = |c: &Cluster| c.members[sick].node().status();
    assert!(status(&c).healthy, "{:?}", status(&c));
    // Items of its own in stock, so that leading would mean taking one.
    c.wait("the sick node's stock", Duration::from_secs(60), |c| {
        status(c).stock.iter().map(|s| s.count).sum::<usize>() >= 4
    })
    .await;

    // The disk fills up. The node finds out at its next write (here a probe, as its
    // precompute loop would make); from then on it is unhealthy and says why.
    let store = c.members[sick].node().store();
    store.inject_write_failures(true);
    assert!(store.probe().is_err());
    let s = status(&c);
    assert!(!s.healthy, "{s:?}");
    let reported = s.store_error.unwrap();
    assert!(reported.contains("no space left"), "{reported}");

    // It does not even try to lead (each try would fail at the durable take, and burn one
    // of its items), though it holds items: the others answer every request.
    let tries = |c: &Cluster| {
        let handle = c.members[sick].node().handle();
        handle.metrics().requests_served() + handle.metrics().requests_failed()
    };
    let before = tries(&c);
    c.sign_and_verify(&domain, ("full-disk", 12, 3), Duration::from_secs(120))
        .await;
    assert_eq!(tries(&c), before, "a node that cannot write tried to lead");
    assert!(!status(&c).healthy);

    // Space is freed: the probe finds out, and the node is healthy again.
    c.members[sick].node().store().inject_write_failures(false);
    c.wait("the node to recover", Duration::from_secs(30), |c| {
        let s = status(c);
        s.healthy && s.store_error.is_none()
    })
    .await;
    c.shutdown().await;
}
