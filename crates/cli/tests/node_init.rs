//! `chainsig node init` as an operator runs it.

mod common;

use common::chainsig;

#[test]
fn init_writes_a_usable_node_directory_once() {
    let dir = std::env::temp_dir().join(format!("chainsig-node-init-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.to_str().unwrap();
    let (code, stdout, stderr) = chainsig(&[
        "node",
        "init",
        "--dir",
        d,
        "--account",
        "node0.test",
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["account_id"], "node0.test");
    assert!(v["tls_public_key"]
        .as_str()
        .unwrap()
        .starts_with("ed25519:"));

    // What it wrote is what the node reads.
    let config = node::config::NodeConfig::load(&dir, |_| None).unwrap();
    assert_eq!(config.account_id, "node0.test");
    config.store_key(&dir, |_| None).unwrap();
    let paths = node::identity::IdentityPaths::in_dir(&dir);
    let (tls, _) = node::identity::NearKey::read(&paths.tls_key).unwrap();
    assert_eq!(
        tls.public_key().to_string(),
        v["tls_public_key"].as_str().unwrap()
    );
    let (_, account) = node::identity::NearKey::read(&paths.account_key).unwrap();
    assert_eq!(account.as_deref(), Some("node0.test"));
    // No secret is printed.
    assert!(!stdout.contains("private"));

    // A second init refuses, in one line, with exit code 1, and changes nothing.
    let before = std::fs::read(&paths.tls_key).unwrap();
    let (code, _, stderr) = chainsig(&["node", "init", "--dir", d, "--account", "node0.test"]);
    assert_eq!(code, 1);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert_eq!(std::fs::read(&paths.tls_key).unwrap(), before);

    let (code, _, stderr) = chainsig(&[
        "node",
        "init",
        "--dir",
        d,
        "--account",
        "x",
        "--p2p-listen",
        "nowhere",
    ]);
    assert_eq!(code, 2, "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_refuses_a_broken_directory_in_one_line() {
    let tmp = std::env::temp_dir().join(format!("chainsig-node-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let d = tmp.to_str().unwrap();
    // No directory at all.
    let (code, _, stderr) = chainsig(&["node", "run", "--dir", d]);
    assert_eq!(code, 1);
    assert!(stderr.contains("config.toml"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");

    let (code, _, stderr) = chainsig(&["node", "init", "--dir", d, "--account", "n.test"]);
    assert_eq!(code, 0, "{stderr}");
    let config = tmp.join("config.toml");
    let good = std::fs::read_to_string(&config).unwrap();
    // An unknown key in the config names itself.
    std::fs::write(&config, format!("{good}\nsurprise = 1\n")).unwrap();
    let (code, _, stderr) = chainsig(&["node", "run", "--dir", d]);
    assert_eq!(code, 1);
    assert!(stderr.contains("surprise"), "{stderr}");
    std::fs::write(&config, &good).unwrap();
    // A store key that does not parse.
    let store_key = tmp.join("store.key");
    let key = std::fs::read(&store_key).unwrap();
    std::fs::write(&store_key, "not hex").unwrap();
    let (code, _, stderr) = chainsig(&["node", "run", "--dir", d]);
    assert_eq!(code, 1);
    assert!(stderr.contains("store"), "{stderr}");
    std::fs::write(&store_key, key).unwrap();
    // Key files others may read.
    #[cfg(unix)]
    for file in ["store.key", "account_key.json", "tls_key.json"] {
        use std::os::unix::fs::PermissionsExt;
        let path = tmp.join(file);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (code, _, stderr) = chainsig(&["node", "run", "--dir", d]);
        assert_eq!(code, 1, "{file}: {stderr}");
        assert!(
            stderr.contains(file) && stderr.contains("chmod 600"),
            "{stderr}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // The p2p port taken by someone else.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chainsig"))
        .args(["node", "run", "--dir", d])
        .env("CHAINSIG_P2P_LISTEN", &port)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen for peers on {port}")),
        "{stderr}"
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn absurd_block_times_are_refused_as_usage_errors() {
    for (command, ms) in [
        ("chain", "0"),
        ("chain", "100000000"),
        ("devnet", "5"),
        ("devnet", "61000"),
    ] {
        let (code, _, stderr) = chainsig(&[command, "--block-ms", ms]);
        assert_eq!(code, 2, "{command} --block-ms {ms}: {stderr}");
        assert!(
            stderr.contains("--block-ms") && stderr.contains("10..=60000"),
            "{stderr}"
        );
    }
}

#[test]
fn log_format_json_writes_one_object_per_line() {
    use std::io::{BufRead, BufReader};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let d = dir.to_str().unwrap();
    let (p2p, http) = (common::free_port(), common::free_port());
    // Nothing listens at the RPC endpoint: the node starts, logs, and keeps retrying.
    let rpc = format!("http://{}", common::free_port());
    let (code, _, stderr) = chainsig(&[
        "node",
        "init",
        "--dir",
        d,
        "--account",
        "node0.test",
        "--p2p-listen",
        &p2p.to_string(),
        "--http-listen",
        &http.to_string(),
        "--rpc-url",
        &rpc,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_chainsig"))
        .args(["node", "run", "--dir", d, "--log-format", "json"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = vec![];
    while seen.len() < 2 {
        let Some(Ok(line)) = lines.next() else { break };
        seen.push(line);
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for line in &seen {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["timestamp"].is_string(), "{line}");
        assert!(v["level"].is_string(), "{line}");
        assert!(v["message"].is_string(), "{line}");
    }
}
