//! Four `chainsig node run` processes, each with its own data dir, talk over real TLS and to
//! a devnet chain (the contract's wasm) over NEAR JSON-RPC: the operators vote the domains in
//! with `chainsig contract` (refusals come back before sending, with the contract's reason),
//! and the nodes generate keys for every scheme, answer requests
//! (checked by an independent verifier), survive one of them being killed and restarted,
//! serve /health, and exit cleanly on SIGTERM.

mod common;

use chain::{Call, Chain, NearRpc};
use devnet::{Devnet, Genesis, GenesisAccount, NEAR};
use primitives::response::SignatureResponse;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::SCHEMES;

const NODES: usize = 4;

struct Proc(Child, std::path::PathBuf);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

async fn http_get(addr: SocketAddr, path: &str) -> String {
    http_get_maybe(addr, path).await.unwrap()
}

async fn http_get_maybe(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    Ok(out)
}

fn spawn_node(dir: &std::path::Path) -> Proc {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("node.log"))
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_chainsig"))
        .args(["node", "run", "--dir", dir.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Proc(child, dir.join("node.log"))
}

/// `n` requests per domain from the user, all in flight at once, each answer verified.
async fn sign_all(user: &Arc<NearRpc>, state: &contract::views::StateView, tag: &str, n: u8) {
    let mut asked = vec![];
    for d in &state.domains {
        for i in 0..n {
            let path = format!("{tag}-{i}");
            let request = testkit::sign_request(d.id.0, d.scheme, &path, i + 1);
            let args = serde_json::to_vec(&serde_json::json!({ "request": request })).unwrap();
            let user = user.clone();
            let waiting = tokio::spawn(async move { user.call("sign", args, 1).await });
            asked.push((d.clone(), path, i + 1, waiting));
        }
    }
    for (d, path, fill, waiting) in asked {
        let value = tokio::time::timeout(Duration::from_secs(180), waiting)
            .await
            .expect("answered in time")
            .unwrap()
            .unwrap_or_else(|e| panic!("{} {path}: {e}", d.scheme));
        let response: SignatureResponse = serde_json::from_slice(&value).unwrap();
        let payload = testkit::payload_bytes(d.scheme, fill);
        testkit::verify_independently(&d.public_key, "alice.test", &path, &payload, &response)
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_processes_generate_keys_and_sign() {
    let tmp = tempfile::tempdir().unwrap();
    let rpc_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rpc_url = format!("http://{}", rpc_listener.local_addr().unwrap());

    // Operators initialize their nodes.
    let mut nodes = vec![];
    for i in 0..NODES {
        let dir = tmp.path().join(format!("node{i}"));
        let (p2p, http) = (common::free_port(), common::free_port());
        let account = format!("node{i}.test");
        let public = common::chainsig_json(&[
            "node",
            "init",
            "--dir",
            dir.to_str().unwrap(),
            "--account",
            &account,
            "--p2p-listen",
            &p2p.to_string(),
            "--http-listen",
            &http.to_string(),
            "--rpc-url",
            &rpc_url,
            "--contract-id",
            "signer.test",
            "--json",
        ]);
        nodes.push((dir, account, p2p, http, public));
    }

    // The chain runs the contract's wasm; the contract's account initializes it with them.
    let alice = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let owner = ed25519_dalek::SigningKey::from_bytes(&[43; 32]);
    let near_key = |k: &ed25519_dalek::SigningKey| {
        near_crypto::PublicKey::ED25519(near_crypto::ED25519PublicKey(k.verifying_key().to_bytes()))
    };
    let mut accounts = vec![
        GenesisAccount {
            account_id: "signer.test".parse().unwrap(),
            balance: 100 * NEAR,
            keys: vec![near_key(&owner)],
            wasm: Some(testkit::signer_wasm()),
        },
        GenesisAccount {
            account_id: "alice.test".parse().unwrap(),
            balance: 100 * NEAR,
            keys: vec![near_key(&alice)],
            wasm: None,
        },
    ];
    for (_, account, _, _, public) in &nodes {
        accounts.push(GenesisAccount {
            account_id: account.parse().unwrap(),
            balance: 100 * NEAR,
            keys: vec![public["account_public_key"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()],
            wasm: None,
        });
    }
    let genesis = Genesis {
        accounts,
        seed: [3; 32],
    };
    let (devnet, _) = Devnet::open(
        &tmp.path().join("chain"),
        || Ok(genesis),
        Duration::from_millis(100),
    )
    .unwrap();
    let app = devnet.router();
    tokio::spawn(async move { axum_serve(rpc_listener, app).await });
    tokio::spawn(devnet.clone().produce_blocks());
    let participants = nodes
        .iter()
        .map(|(_, account, p2p, _, public)| chain::InitParticipant {
            account_id: account.clone(),
            url: format!("https://{p2p}"),
            tls_public_key: public["tls_public_key"].as_str().unwrap().parse().unwrap(),
        })
        .collect();
    let init = Call::Init {
        participants,
        threshold: 3,
        config: None,
    };
    let viewer = NearRpc::new(&rpc_url, "signer.test", "signer.test", owner).unwrap();
    viewer.submit(init).await.unwrap();

    // Each node is its own process.
    let mut procs: Vec<Proc> = nodes.iter().map(|(dir, ..)| spawn_node(dir)).collect();

    // The operators vote the domains in with `chainsig contract`, each from its node's
    // directory; what the contract would refuse is refused before anything is sent.
    operators_vote_the_domains_in(&nodes).await;
    let until = Instant::now() + Duration::from_secs(120);
    let state = loop {
        let state = viewer.state().await.unwrap();
        if state.state == contract::views::Phase::Running && state.domains.len() == 3 {
            break state;
        }
        if Instant::now() > until {
            for p in &procs {
                eprintln!(
                    "--- {}\n{}",
                    p.1.display(),
                    std::fs::read_to_string(&p.1).unwrap_or_default()
                );
            }
            panic!("no keys: {state:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // A user signs through JSON-RPC, several requests in flight.
    let user = Arc::new(NearRpc::new(&rpc_url, "signer.test", "alice.test", alice).unwrap());
    sign_all(&user, &state, "first", 4).await;

    // Node 3 is killed outright: the other three still make a threshold.
    procs[3].0.kill().unwrap();
    procs[3].0.wait().unwrap();
    sign_all(&user, &state, "after-kill", 2).await;

    // Restarted from its directory, it comes back with its shares and signs again.
    procs[3] = spawn_node(&nodes[3].0);
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let health = http_get_maybe(nodes[3].3, "/health")
            .await
            .unwrap_or_default();
        if health.contains("\"domains_with_keys\":[0,1,2]")
            && health.contains("\"peers_alive\":[0,1,2]")
        {
            break;
        }
        assert!(Instant::now() < until, "node 3 did not come back: {health}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    sign_all(&user, &state, "after-restart", 4).await;

    let health = http_get(nodes[2].3, "/health").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains("\"account_id\":\"node2.test\""), "{health}");

    for p in &mut procs {
        let status = common::signal_and_wait(&mut p.0, "-TERM", Duration::from_secs(20));
        assert!(
            status.success(),
            "exit {status:?}:\n{}",
            std::fs::read_to_string(&p.1).unwrap()
        );
        let log = std::fs::read_to_string(&p.1).unwrap();
        assert!(
            log.contains("shutting down") && log.contains("node stopped"),
            "{log}"
        );
    }
}

/// `chainsig contract ...` with a node's directory, off the runtime's threads (the devnet
/// produces blocks on them while the command waits for its transaction).
async fn contract_cmd(dir: &std::path::Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = common::args(&["contract"]);
    args.extend(common::args(extra));
    args.extend(common::args(&["--node-dir", dir.to_str().unwrap()]));
    tokio::task::spawn_blocking(move || common::chainsig(&args))
        .await
        .unwrap()
}

type NodeInfo = (
    std::path::PathBuf,
    String,
    SocketAddr,
    SocketAddr,
    serde_json::Value,
);

async fn operators_vote_the_domains_in(nodes: &[NodeInfo]) {
    let node0 = &nodes[0].0;
    let (code, out, err) = contract_cmd(node0, &["state"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("phase        Running, epoch 0, threshold 3"),
        "{out}"
    );
    assert_eq!(out.matches("participant  node").count(), NODES, "{out}");

    let schemes: Vec<String> = SCHEMES
        .iter()
        .map(|s| s.to_string().to_lowercase())
        .collect();
    let mut add = vec!["vote-add-domains", "--json"];
    add.extend(schemes.iter().map(String::as_str));
    // Refused with the contract's reason, nothing sent: a vote in the wrong phase, for a
    // non-candidate, against a non-participant, for another epoch, for parameters it forbids.
    for (vote, reason) in [
        (vec!["vote-abort"], "not allowed in the Running state"),
        (
            vec!["vote-join", "nobody.test"],
            "nobody.test is not a registered candidate",
        ),
        (
            vec!["vote-leave", "alice.test"],
            "alice.test is not a participant",
        ),
        (
            [&add[..], &["--epoch", "4"]].concat(),
            "the current epoch is 0",
        ),
        (
            vec![
                "vote-new-parameters",
                "--participants",
                "node0.test,node1.test",
                "--threshold",
                "3",
            ],
            "threshold 3 must be at least 2 and at most the 2 participants",
        ),
    ] {
        let (code, _, err) = contract_cmd(node0, &vote).await;
        assert!(
            code == 2 && err.contains("would refuse") && err.contains(reason),
            "{vote:?}: {err}"
        );
    }

    let (code, out, err) = contract_cmd(node0, &add).await;
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["method"], "vote_add_domains");
    assert_eq!(v["account"], "node0.test");
    assert_eq!(v["phase"], "Running");
    // The same vote again: the contract says it has it.
    let (code, _, err) = contract_cmd(node0, &add).await;
    assert!(
        code == 2 && err.contains("node0.test has already cast this vote"),
        "{err}"
    );
    let (_, out, _) = contract_cmd(node0, &["state"]).await;
    assert!(
        out.contains("votes        add domains: backed by node0.test"),
        "{out}"
    );

    for (dir, ..) in &nodes[1..] {
        let (code, _, err) = contract_cmd(dir, &add).await;
        assert_eq!(code, 0, "{err}");
    }
}

async fn axum_serve(listener: tokio::net::TcpListener, app: axum::Router) {
    let _ = axum::serve(listener, app).await;
}
