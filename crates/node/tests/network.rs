//! A 4-node, threshold-3 network over real TLS on loopback: key generation for every scheme,
//! then 100 requests per domain, each answer checked by an independent verifier.

mod cluster;

use cluster::Cluster;
use std::time::Duration;
use testkit::SCHEMES;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_nodes_generate_keys_and_answer_every_scheme() {
    cluster::init_logs();
    let c = Cluster::new(4, 3).await;
    c.add_domains(&SCHEMES).await;
    let state = c.state();
    assert_eq!(state.domains.len(), 3);
    for s in c.statuses() {
        assert_eq!(s.domains_with_keys, vec![0, 1, 2], "{s:?}");
    }

    const PER_DOMAIN: usize = 100;
    let mut asked = vec![];
    for d in &state.domains {
        for i in 0..PER_DOMAIN {
            let (who, path) = (format!("user{}.test", i % 7), format!("path-{i}"));
            let fill = (i + 1) as u8;
            let ticket = c.request(&who, d.id.0, d.scheme, &path, fill);
            asked.push((d.clone(), who, path, fill, ticket));
        }
    }
    let tickets: Vec<_> = asked.iter().map(|a| a.4).collect();
    let answers = c.answers(&tickets, Duration::from_secs(600)).await;
    for ((d, who, path, fill, _), answer) in asked.iter().zip(&answers) {
        let payload = testkit::payload_bytes(d.scheme, *fill);
        testkit::verify_independently(&d.public_key, who, path, &payload, answer)
            .unwrap_or_else(|e| panic!("{} request {path} from {who}: {e}", d.scheme));
    }
    let served: u64 = c
        .members
        .iter()
        .map(|m| m.node().handle().metrics().requests_served())
        .sum();
    assert_eq!(
        served,
        (PER_DOMAIN * 3) as u64,
        "each request was answered once"
    );

    // The operator's view of node 0, over HTTP.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = c.members[0].node().handle();
    tokio::spawn(node::http::serve(listener, handle, std::future::pending()));
    let (code, health) = cluster::http_get(addr, "/health").await;
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(code, 200);
    assert_eq!(health["account_id"], "node0.test");
    assert_eq!(health["domains_with_keys"], serde_json::json!([0, 1, 2]));
    assert_eq!(health["peers_alive"].as_array().unwrap().len(), 3);
    let (code, public) = cluster::http_get(addr, "/public_data").await;
    let public: serde_json::Value = serde_json::from_str(&public).unwrap();
    assert_eq!(code, 200);
    assert_eq!(public["participant_id"], 0);
    assert_eq!(public["p2p_url"], c.members[0].url());
    assert_eq!(
        public["tls_public_key"],
        c.members[0].tls_key().public_key().to_string()
    );
    let (code, metrics) = cluster::http_get(addr, "/metrics").await;
    assert_eq!(code, 200);
    for needle in [
        "chainsig_requests_total{outcome=\"served\"}",
        "chainsig_stock{domain=\"0\",kind=\"presignature\"}",
        "chainsig_stock{domain=\"1\",kind=\"nonces\"}",
        "chainsig_protocol_duration_seconds_bucket{",
        "chainsig_peers_alive 3",
        "chainsig_peer_alive{peer=\"3\"} 1",
    ] {
        assert!(
            metrics.contains(needle),
            "/metrics lacks {needle}:\n{metrics}"
        );
    }
    assert_eq!(cluster::http_get(addr, "/nothing").await.0, 404);
    c.shutdown().await;
}
