//! A member that sends corrupted signature shares, in a real network over TLS: every
//! signature an honest leader runs with it fails the leader's own verification, which is a
//! warning and a count in `chainsig_signatures_invalid_total` (never a quiet "not ready"), and
//! the request is still answered, by a set without it.

mod cluster;

use cluster::Cluster;
use node::faults::Faults;
use primitives::SignatureScheme;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Every log line of this test binary, to look for the warning.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn corrupted_signature_shares_are_reported_and_another_set_answers() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter("node=warn")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    // Four nodes at threshold 2: V2Secp256k1 signs with sets of 2t − 1 = 3, so every leader
    // but the liar has sets both with and without it.
    let mut c = Cluster::new(4, 2).await;
    let liar = 3;
    c.stop(liar).await;
    c.members[liar].settings = Some(node::service::Settings {
        faults: Faults {
            corrupt_signature_shares: true,
        },
        ..c.settings.clone()
    });
    c.start(liar).await;
    // Items are made only with live peers: were the liar not yet seen alive again when the
    // domain's first stock is made, no set would hold it and nothing could catch it lying.
    c.wait("every node seeing the liar", Duration::from_secs(30), |c| {
        c.statuses().iter().all(|s| s.peers_alive.len() == 3)
    })
    .await;
    c.add_domains(&[SignatureScheme::V2Secp256k1]).await;
    let domain = c.state().domains[0].clone();

    c.sign_and_verify(&domain, ("bad-shares", 16, 4), Duration::from_secs(240))
        .await;

    let invalid: u64 = (0..4)
        .filter(|i| *i != liar)
        .map(|i| c.members[i].node().handle().metrics().signatures_invalid())
        .sum();
    assert!(invalid > 0, "no honest leader noticed the corrupted shares");
    let exposition = c.members[0].node().handle().render_metrics();
    assert!(
        exposition.contains("chainsig_signatures_invalid_total"),
        "{exposition}"
    );
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("WARN") && text.contains("signature invalid; another set will answer"),
        "no warning logged:\n{text}"
    );
    c.shutdown().await;
}
