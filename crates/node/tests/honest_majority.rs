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

    c.sign_and_verify(domain, ("fast", 40, 5), Duration::from_secs(300))
        .await;

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
