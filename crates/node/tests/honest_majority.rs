//! A V2Secp256k1 domain (docs/design.md §7.5) on a 5-node, threshold-3 network over real TLS: its key
//! comes from the ECDSA DKG, its presignatures from 2t − 1 = 5 signers without any triple, and
//! every answer verifies independently.

mod cluster;

use cluster::Cluster;
use node::store::Kind;
use primitives::SignatureScheme;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_nodes_sign_with_honest_majority_presignatures() {
    cluster::init_logs();
    let c = Cluster::new(5, 3).await;
    c.add_domains(&[SignatureScheme::V2Secp256k1]).await;
    let state = c.state();
    let domain = &state.domains[0];
    assert_eq!(domain.scheme, SignatureScheme::V2Secp256k1);

    const REQUESTS: usize = 40;
    let mut asked = vec![];
    for i in 0..REQUESTS {
        let (who, path) = (format!("user{}.test", i % 5), format!("fast-{i}"));
        let fill = (i + 1) as u8;
        let ticket = c.request(&who, domain.id.0, domain.scheme, &path, fill);
        asked.push((who, path, fill, ticket));
    }
    let tickets: Vec<_> = asked.iter().map(|a| a.3).collect();
    let answers = c.answers(&tickets, Duration::from_secs(300)).await;
    for ((who, path, fill, _), answer) in asked.iter().zip(&answers) {
        let payload = testkit::payload_bytes(domain.scheme, *fill);
        testkit::verify_independently(&domain.public_key, who, path, &payload, answer)
            .unwrap_or_else(|e| panic!("request {path} from {who}: {e}"));
    }

    // No node ever made a triple for this domain: its stock is presignatures alone.
    for status in c.statuses() {
        let stock = &status.stock;
        assert!(stock.iter().all(|s| s.kind != Kind::Triple), "{stock:?}");
        assert!(
            stock.iter().any(|s| s.kind == Kind::Presignature),
            "{stock:?}"
        );
    }
    c.shutdown().await;
}
