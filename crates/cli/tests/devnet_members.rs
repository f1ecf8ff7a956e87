//! Membership changed on a running devnet with the commands an operator runs: `chainsig devnet
//! add-node` (a new directory and implicit account, the process started by the devnet, the
//! participants' votes, the resharing) and `remove-node` (the others vote it out, the devnet
//! stops its process), while a steady load (`chainsig bench --rate`) flows on every domain. The
//! network holds every domain the devnet makes at 5 nodes, V2Secp256k1 included; no request of
//! the load is lost, and each domain signs before, between and after under the same root keys
//! (checked by an independent verifier). The load's longest stall per domain is printed — a
//! figure for the README, not an assertion.

mod common;

use primitives::response::SignatureResponse;
use std::path::Path;
use std::time::{Duration, Instant};

/// One `chainsig sign` per domain of the ready line, each verified under the ready line's
/// root key: the keys have not changed.
fn sign_every_domain(ready: &serde_json::Value, tag: &str) {
    let account = ready["user"]["account_id"].as_str().unwrap();
    for domain in ready["domains"].as_array().unwrap() {
        let scheme = domain["scheme"].as_str().unwrap();
        let len = if scheme.contains("Secp256k1") { 32 } else { 40 };
        let id = domain["domain_id"].to_string();
        let mut sign = common::args(&["sign", "--json", "--payload", &"cd".repeat(len)]);
        sign.extend(common::args(&["--domain", &id]));
        sign.extend(common::requester(ready, tag));
        let printed = common::chainsig_json(&sign);
        let root = domain["public_key"].as_str().unwrap().parse().unwrap();
        let response: SignatureResponse =
            serde_json::from_value(printed["signature"].clone()).unwrap();
        testkit::verify_independently(&root, account, tag, &vec![0xcd; len], &response)
            .unwrap_or_else(|e| panic!("{tag}, domain {id} ({scheme}): {e:?}"));
    }
}

fn members(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = common::args(&["devnet"]);
    args.extend(common::args(extra));
    args.extend(common::args(&["--dir", dir.to_str().unwrap(), "--json"]));
    common::chainsig_json(&args)
}

fn accounts(v: &serde_json::Value) -> Vec<&str> {
    v["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect()
}

#[test]
fn nodes_join_and_leave_by_command_and_the_keys_stay() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    let port = common::free_port().port();
    let (devnet, ready) = common::start_with(&dir, port, &["--nodes", "5"]);
    let schemes: Vec<&str> = ready["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["scheme"].as_str().unwrap())
        .collect();
    assert!(schemes.contains(&"V2Secp256k1"), "{schemes:?}");
    sign_every_domain(&ready, "before");

    // One request a second on every domain, open loop, through both changes.
    let rpc = ready["rpc_url"].as_str().unwrap();
    let mut load = std::process::Command::new(env!("CARGO_BIN_EXE_chainsig"))
        .args([
            "bench",
            "--json",
            "--rate",
            "1",
            "--all-domains",
            "--seconds",
            "75",
        ])
        .args(["--rpc", rpc, "--dir", dir.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(10));

    let added = members(&dir, &["add-node"]);
    let newcomer = added["added"].as_str().unwrap().to_owned();
    assert_eq!(newcomer.len(), 64, "an implicit account: {added}");
    assert_eq!(added["node"], 5);
    assert_eq!(added["epoch"], 1);
    assert_eq!(accounts(&added).len(), 6);
    assert!(accounts(&added).contains(&newcomer.as_str()));
    sign_every_domain(&ready, "joined");

    let removed = members(&dir, &["remove-node", "node0"]);
    assert_eq!(removed["removed"], "node0.devnet");
    assert_eq!(removed["epoch"], 2);
    assert_eq!(accounts(&removed).len(), 5);
    assert!(!accounts(&removed).contains(&"node0.devnet"));
    sign_every_domain(&ready, "left");

    // The devnet stops the node that left (its pid file goes with its process).
    let until = Instant::now() + Duration::from_secs(30);
    while dir.join("node0/pid").exists() {
        assert!(Instant::now() < until, "node 0 still runs");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The load ran through both changes (it is still running: it covered the leave too),
    // and nothing was lost.
    assert!(
        load.try_wait().unwrap().is_none(),
        "the load ended before the leave"
    );
    let out = load.wait_with_output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    for d in report["domains"].as_array().unwrap() {
        eprintln!(
            "load through a join and a leave: domain {} ({}): {}/{} answered, longest stall {:.2} s",
            d["domain"], d["scheme"], d["answered"], d["sent"], d["longest_stall_s"].as_f64().unwrap()
        );
        assert_eq!(d["failed"], 0, "{d}");
        assert_eq!(d["answered"], d["sent"], "{d}");
    }
    assert!(out.status.success());

    // `status` shows the five nodes of the network, all answering; not the one that left.
    let rpc = ready["rpc_url"].as_str().unwrap();
    let status = common::chainsig_json(&[
        "status",
        "--json",
        "--rpc",
        rpc,
        "--dir",
        dir.to_str().unwrap(),
    ]);
    let nodes = status["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 5, "{status}");
    assert!(nodes.iter().all(|n| !n["status"].is_null()), "{status}");

    // A node that is not there any more is refused before anything happens.
    let mut again = common::args(&["devnet", "remove-node", "node0", "--dir"]);
    again.push(dir.to_str().unwrap().to_owned());
    let (code, _, err) = common::chainsig(&again);
    assert!(code == 2 && err.contains("not an active node"), "{err}");
    drop(devnet);
}
