//! The devnet with its nodes following NEAR Lake: the chain publishes every block to an S3 API
//! on loopback (s3s-fs, started here) in NEAR Lake's layout, and the nodes read their requests
//! from there instead of from the chain's RPC. Requests on every domain are answered; then the
//! S3 server goes away: the nodes say so in `/health` (503, the error named), requests sent
//! meanwhile wait, and once S3 is back they are answered — nothing skipped.

mod common;

use primitives::response::SignatureResponse;
use primitives::SignatureScheme;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::s3::{S3Server, ACCESS_KEY, SECRET_KEY};

type Asked = Vec<(
    SignatureScheme,
    primitives::NearPublicKey,
    String,
    u8,
    tokio::task::JoinHandle<Result<Vec<u8>, chain::ChainError>>,
)>;

fn ask(ready: &serde_json::Value, user: &Arc<chain::NearRpc>, tag: &str) -> Asked {
    let mut asked = vec![];
    for d in ready["domains"].as_array().unwrap() {
        let domain = d["domain_id"].as_u64().unwrap();
        let scheme: SignatureScheme = serde_json::from_value(d["scheme"].clone()).unwrap();
        let root = d["public_key"].as_str().unwrap().parse().unwrap();
        for i in 0..3u8 {
            let path = format!("{tag}-{domain}-{i}");
            let request = testkit::sign_request(domain, scheme, &path, i + 1);
            let args = serde_json::to_vec(&serde_json::json!({ "request": request })).unwrap();
            let user = user.clone();
            let waiting = tokio::spawn(async move { user.call("sign", args, 1).await });
            asked.push((scheme, root, path, i + 1, waiting));
        }
    }
    asked
}

async fn check(ready: &serde_json::Value, asked: Asked) {
    let account = ready["user"]["account_id"].as_str().unwrap();
    for (scheme, root, path, fill, waiting) in asked {
        let value = tokio::time::timeout(Duration::from_secs(120), waiting)
            .await
            .expect("answered in time")
            .unwrap()
            .unwrap_or_else(|e| panic!("{scheme:?} {path}: {e}"));
        let response: SignatureResponse = serde_json::from_slice(&value).unwrap();
        testkit::verify_independently(
            &root,
            account,
            &path,
            &testkit::payload_bytes(scheme, fill),
            &response,
        )
        .unwrap_or_else(|e| panic!("{scheme:?} {path}: {e}"));
    }
}

/// Every node's `/health`: (HTTP status, JSON).
async fn health(dir: &Path) -> Vec<(u16, serde_json::Value)> {
    let mut out = vec![];
    for i in 0.. {
        let node_dir = dir.join(format!("node{i}"));
        if !node_dir.exists() {
            break;
        }
        let config = node::config::NodeConfig::load(&node_dir, |_| None).unwrap();
        let response = reqwest::get(format!("http://{}/health", config.http.listen))
            .await
            .unwrap();
        let code = response.status().as_u16();
        out.push((code, response.json().await.unwrap()));
    }
    out
}

async fn until(what: &str, limit: Duration, mut f: impl AsyncFnMut() -> bool) {
    let end = Instant::now() + limit;
    while !f().await {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_follow_the_chain_through_near_lake_and_ride_out_an_s3_outage() {
    let tmp = tempfile::tempdir().unwrap();
    let s3_root = tmp.path().join("s3");
    let s3 = S3Server::start(&s3_root, "127.0.0.1:0".parse().unwrap(), "blocks").await;
    let s3_addr = s3.addr;
    // The devnet's children inherit the credentials.
    std::env::set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
    let dir = tmp.path().join("devnet");
    let port = common::free_port().port();
    let endpoint = s3.endpoint();
    let (devnet, ready) = common::start_at(
        &dir,
        port,
        250,
        // 250 ms blocks: 200 blocks (a request's life) are 50 s. At the devnet's 100 ms the
        // chain made blocks faster than it could publish them to this file-backed S3
        // server, which the four followers share on two cores: the lake fell 10–20 s behind
        // the chain and requests timed out before any node saw them.
        &["--lake-endpoint", &endpoint, "--lake-bucket", "blocks"],
    );
    for (code, h) in health(&dir).await {
        assert_eq!(code, 200, "{h}");
        assert!(
            h["indexer"]["source"]
                .as_str()
                .unwrap()
                .contains("NEAR Lake"),
            "{h}"
        );
    }
    let user = Arc::new(common::user(&ready));
    check(&ready, ask(&ready, &user, "lake")).await;

    // S3 goes away: every node reports it, and what is asked meanwhile waits.
    s3.stop();
    until(
        "every node to report the lake down",
        Duration::from_secs(30),
        async || {
            health(&dir).await.iter().all(|(code, h)| {
                *code == 503
                    && h["indexer"]["error"]
                        .as_str()
                        .is_some_and(|e| e.contains("unreachable"))
            })
        },
    )
    .await;
    let during = ask(&ready, &user, "outage");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        during.iter().all(|a| !a.4.is_finished()),
        "nothing answered without the lake"
    );

    // Back on the same port with the same data: the nodes catch up, skipping nothing.
    let _s3 = S3Server::start(&s3_root, s3_addr, "blocks").await;
    check(&ready, during).await;
    until(
        "every node healthy again",
        Duration::from_secs(30),
        async || health(&dir).await.iter().all(|(code, _)| *code == 200),
    )
    .await;
    drop(devnet);
}
