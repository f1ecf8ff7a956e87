//! The signer contract's queue at its cap, on the devnet: the real wasm under NEAR's VM, real
//! node processes. With the nodes stopped (SIGSTOP), maximum-size Ed25519 requests (1,232-byte
//! messages) fill the queue to its cap of 1,024; one more is refused as overloaded; the nodes
//! resume (SIGCONT) and every caller receives its signature, verified independently.
//!
//! Under the old layout (the whole queue in one value) the yield callback ran out of its gas
//! from about 75 such requests and callers never got their answers.

mod common;

use chain::{ChainError, NearRpc};
use primitives::response::SignatureResponse;
use std::sync::Arc;
use std::time::Duration;

const CAP: usize = 1024;
const MESSAGE: usize = 1232;

fn message(i: usize) -> Vec<u8> {
    let mut m = vec![(i % 251) as u8; MESSAGE];
    m[..8].copy_from_slice(&(i as u64).to_be_bytes());
    m
}

fn sign_args(domain: u64, i: usize) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"request": {
        "path": format!("cap-{i}"),
        "payload_v2": {"Eddsa": hex::encode(message(i))},
        "domain_id": domain,
    }}))
    .unwrap()
}

async fn pending(user: &NearRpc) -> u64 {
    let load: serde_json::Value = user
        .view("system_load", serde_json::json!({}))
        .await
        .unwrap();
    load["pending_requests"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_of_the_largest_requests_is_answered_to_every_caller() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    let port = common::free_port().port();
    // 500 ms blocks: a yield lasts 200 blocks = 100 s, room to fill the queue and answer it.
    let (devnet, ready) = common::start_at(&dir, port, 500, &["--nodes", "4"]);
    let ed25519 = ready["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["scheme"] == "Ed25519")
        .unwrap();
    let domain = ed25519["domain_id"].as_u64().unwrap();
    let root: primitives::NearPublicKey = ed25519["public_key"].as_str().unwrap().parse().unwrap();
    let account = ready["user"]["account_id"].as_str().unwrap().to_owned();
    let user = Arc::new(common::user(&ready));

    let nodes = common::node_pids(&dir);
    common::signal_all(&nodes, "-STOP");
    let mut sent = Vec::with_capacity(CAP);
    for i in 0..CAP {
        sent.push(user.send("sign", sign_args(domain, i), 1).await.unwrap());
    }
    // Every request is in the queue once its block is produced.
    for _ in 0..20 {
        if pending(&user).await == CAP as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(pending(&user).await, CAP as u64);
    // `chainsig status` shows the full queue, and the stopped nodes as unreachable without
    // hanging on them.
    let rpc = ready["rpc_url"].as_str().unwrap().to_owned();
    let status = status_json(&dir, &rpc).await;
    assert_eq!(status["load"]["pending_requests"], CAP as u64, "{status}");
    let shown = status["nodes"].as_array().unwrap();
    assert_eq!(shown.len(), 4, "{status}");
    assert!(shown.iter().all(|n| n["status"].is_null()), "{status}");
    let refused = user.call("sign", sign_args(domain, CAP), 1).await;
    assert!(
        matches!(&refused, Err(ChainError::Rejected(e)) if e.contains("overloaded")),
        "{refused:?}"
    );

    common::signal_all(&nodes, "-CONT");
    let waiting = Arc::new(tokio::sync::Semaphore::new(32));
    let mut answers = tokio::task::JoinSet::new();
    for (i, tx) in sent.into_iter().enumerate() {
        let (user, waiting) = (user.clone(), waiting.clone());
        answers.spawn(async move {
            let _slot = waiting.acquire().await.unwrap();
            (i, user.outcome(tx).await)
        });
    }
    let mut answered = 0;
    while let Some(joined) = answers.join_next().await {
        let (i, outcome) = joined.unwrap();
        let value = outcome.unwrap_or_else(|e| panic!("caller {i} got no signature: {e}"));
        let response: SignatureResponse = serde_json::from_slice(&value).unwrap();
        assert!(matches!(response, SignatureResponse::Ed25519 { .. }));
        testkit::verify_independently(&root, &account, &format!("cap-{i}"), &message(i), &response)
            .unwrap_or_else(|e| panic!("caller {i}: {e}"));
        answered += 1;
    }
    assert_eq!(answered, CAP);
    assert_eq!(pending(&user).await, 0);
    let status = status_json(&dir, &rpc).await;
    assert_eq!(status["phase"], "Running", "{status}");
    // The contract's own JSON, in the shape NEAR's signer writes it.
    let running = &status["state"]["Running"];
    assert_eq!(
        running["keyset"]["domains"].as_array().unwrap().len(),
        3,
        "{status}"
    );
    let protocols: Vec<&str> = running["domains"]["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["protocol"].as_str().unwrap())
        .collect();
    assert_eq!(protocols, ["CaitSith", "Frost", "FrostBip340"], "{status}");
    assert_eq!(status["load"]["pending_requests"], 0, "{status}");
    for node in status["nodes"].as_array().unwrap() {
        assert_eq!(node["status"]["healthy"], true, "{status}");
    }
    let text = tokio::task::spawn_blocking(move || {
        let d = dir.to_str().unwrap().to_owned();
        common::chainsig(&["status", "--dir", &d, "--rpc", &rpc])
    })
    .await
    .unwrap();
    assert_eq!(text.0, 0, "{}", text.2);
    assert!(
        text.1.contains("Running") && text.1.contains("0 pending"),
        "{}",
        text.1
    );
    let healthy = text.1.lines().filter(|l| l.contains(" yes ")).count();
    assert_eq!(healthy, 4, "{}", text.1);
    drop(devnet);
}

/// `chainsig status --json` for the devnet in `dir`.
async fn status_json(dir: &std::path::Path, rpc: &str) -> serde_json::Value {
    let (d, rpc) = (dir.to_str().unwrap().to_owned(), rpc.to_owned());
    tokio::task::spawn_blocking(move || {
        common::chainsig_json(&["status", "--dir", &d, "--rpc", &rpc, "--json"])
    })
    .await
    .unwrap()
}
