//! `chainsig node init` as an operator runs it.

use std::process::Command;

fn chainsig(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_chainsig"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

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
