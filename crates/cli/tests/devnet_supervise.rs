//! The devnet supervises its children as a service manager would: a node killed with `kill
//! -9` and the chain killed the same way are started again from their directories and the
//! network signs again, without the devnet going down; a node an operator stops with `devnet
//! stop-node` stays down (the others sign without it, t = 2 of 3) until `devnet start-node`.

mod common;

use primitives::response::SignatureResponse;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// One Ed25519 signature (the fastest domain), verified under the ready line's root key.
fn signs(ready: &serde_json::Value, tag: &str) {
    let domain = ready["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["scheme"] == "Ed25519")
        .expect("an Ed25519 domain");
    let id = domain["domain_id"].to_string();
    let mut sign = common::args(&["sign", "--json", "--domain", &id]);
    sign.extend(common::args(&["--payload", &"ab".repeat(32)]));
    sign.extend(common::requester(ready, tag));
    let printed = common::chainsig_json(&sign);
    let response: SignatureResponse = serde_json::from_value(printed["signature"].clone()).unwrap();
    let root = domain["public_key"].as_str().unwrap().parse().unwrap();
    let account = ready["user"]["account_id"].as_str().unwrap();
    testkit::verify_independently(&root, account, tag, &[0xab; 32], &response)
        .unwrap_or_else(|e| panic!("{tag}: {e:?}"));
}

fn pid(dir: &Path) -> Option<u32> {
    std::fs::read_to_string(dir.join("pid"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn kill_9(pid: u32) {
    let status = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits until the process whose pid `dir` holds is another than `old`, and alive.
fn restarted(dir: &Path, old: u32) -> u32 {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(new) = pid(dir).filter(|p| *p != old && alive(*p)) {
            return new;
        }
        assert!(
            Instant::now() < until,
            "{} was not restarted",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn held(dir: &Path, command: &str, node: &str) -> serde_json::Value {
    common::chainsig_json(&[
        "devnet",
        command,
        node,
        "--dir",
        dir.to_str().unwrap(),
        "--json",
    ])
}

#[test]
fn crashed_processes_come_back_and_a_stopped_node_stays_down_until_started() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    let port = common::free_port().port();
    let (mut devnet, ready) =
        common::start_stocked(&dir, port, 100, 4, &["--nodes", "3", "--threshold", "2"]);
    signs(&ready, "before");

    let node1 = dir.join("node1");
    let old = pid(&node1).expect("node1's pid");
    kill_9(old);
    restarted(&node1, old);
    signs(&ready, "after node1 was killed");

    let chain = dir.join("chain");
    let old = pid(&chain).expect("the chain's pid");
    kill_9(old);
    restarted(&chain, old);
    signs(&ready, "after the chain was killed");

    let node2 = dir.join("node2");
    let running = pid(&node2).expect("node2's pid");
    let stopped = held(&dir, "stop-node", "node2");
    assert_eq!(stopped["stopped"], "node2.devnet", "{stopped}");
    assert!(!alive(running), "stop-node returned before node2 stopped");
    let again = common::chainsig(&["devnet", "stop-node", "2", "--dir", dir.to_str().unwrap()]);
    assert_eq!(
        again.0, 2,
        "stopping a stopped node is a usage error: {again:?}"
    );
    signs(&ready, "with node2 stopped");
    // Held down: not restarted although supervision runs every half second.
    assert!(
        pid(&node2).is_none_or(|p| p == running || !alive(p)),
        "node2 came back on its own"
    );

    let started = held(&dir, "start-node", "2");
    assert_eq!(started["started"], "node2.devnet", "{started}");
    let back = pid(&node2).expect("node2's pid");
    assert!(back != running && alive(back));
    signs(&ready, "with node2 started again");

    assert!(
        matches!(devnet.0.try_wait(), Ok(None)),
        "the devnet went down"
    );
}
