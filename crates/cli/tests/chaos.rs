//! Fault campaign, scenario 1 (issue 18): nodes of a running devnet (5 nodes, t = 3, every
//! domain) killed with `kill -9` over and over while a steady load flows on every domain.
//!
//! Each round picks a random node, freezes it (`kill -STOP`: a peer that holds its
//! connections and answers nothing, the worst kind of slow) for a random 0–3 s, then kills it
//! with `-9`; the devnet's supervisor starts it again from its directory a second later. Then
//! a random 2–5 s pass before the next round, so one node at a time is down and every
//! threshold but V2Secp256k1's (all five nodes) stays met; V2Secp256k1 requests wait for the
//! node to come back. Throughout, `chainsig bench --rate` offers its load on every domain,
//! verifies every answer against its derived key, and counts answers whose nonce commitment
//! R an earlier answer had: an item used twice, which would give the key away.
//!
//! Checked: no request lost, no nonce reused, no node panicked, the devnet still up. The
//! per-domain figures are printed (for docs/reliability.md), not asserted.
//!
//! `chaos_short` runs in CI (45 s, about six kills). The campaign the issue asks for is
//! `cargo test -p cli --test chaos chaos_campaign -- --ignored --nocapture` (`CHAOS_SECONDS`,
//! default 700: over a hundred kills; `CHAOS_RATE` per domain, default 1; `CHAOS_SEED` to
//! replay a run's choices).

mod common;

use rand::{Rng, SeedableRng};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Campaign {
    seconds: u64,
    rate: f64,
    seed: u64,
}

impl Campaign {
    fn from_env(default_seconds: u64) -> Self {
        let var = |name: &str| std::env::var(name).ok();
        Self {
            seconds: var("CHAOS_SECONDS")
                .map(|s| s.parse().expect("CHAOS_SECONDS: seconds"))
                .unwrap_or(default_seconds),
            rate: var("CHAOS_RATE")
                .map(|s| s.parse().expect("CHAOS_RATE: requests a second"))
                .unwrap_or(1.0),
            seed: var("CHAOS_SEED")
                .map(|s| s.parse().expect("CHAOS_SEED: a number"))
                .unwrap_or_else(rand::random),
        }
    }
}

fn pid(dir: &Path) -> Option<u32> {
    std::fs::read_to_string(dir.join("pid"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

fn signal(pid: u32, signal: &str) {
    // The process may have died on its own meanwhile; the supervisor copes either way.
    let _ = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status();
}

/// Waits until the process in `dir` is another than `old` and alive.
fn restarted(dir: &Path, old: u32) {
    let until = Instant::now() + Duration::from_secs(30);
    while pid(dir).is_none_or(|p| p == old || !Path::new(&format!("/proc/{p}")).exists()) {
        assert!(
            Instant::now() < until,
            "{} not restarted in 30 s",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn run(campaign: Campaign) {
    eprintln!(
        "chaos: {} s at {}/s on every domain, seed {} (CHAOS_SEED to replay)",
        campaign.seconds, campaign.rate, campaign.seed
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(campaign.seed);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    let port = common::free_port().port();
    let (mut devnet, ready) = common::start_stocked(&dir, port, 100, 4, &["--nodes", "5"]);
    let load = Command::new(env!("CARGO_BIN_EXE_chainsig"))
        .args(["bench", "--json", "--all-domains", "--rate"])
        .arg(campaign.rate.to_string())
        .arg("--seconds")
        .arg(campaign.seconds.to_string())
        .args(["--rpc", ready["rpc_url"].as_str().unwrap()])
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut kills = 0;
    // Kills stop a few seconds before the load does, so that its last requests can be
    // answered by a whole network.
    while start.elapsed() + Duration::from_secs(10) < Duration::from_secs(campaign.seconds) {
        std::thread::sleep(Duration::from_millis(rng.gen_range(2000..5000)));
        let node = rng.gen_range(0..5);
        let node_dir = dir.join(format!("node{node}"));
        let Some(victim) = pid(&node_dir) else {
            continue;
        };
        signal(victim, "-STOP");
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..3000)));
        signal(victim, "-KILL");
        kills += 1;
        eprintln!(
            "chaos: t={:>5.1}s kill {kills}: node {node}",
            start.elapsed().as_secs_f64()
        );
        restarted(&node_dir, victim);
    }
    let out = load.wait_with_output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    eprintln!(
        "chaos: {kills} kills in {:.0} s",
        start.elapsed().as_secs_f64()
    );
    for d in report["domains"].as_array().unwrap() {
        eprintln!(
            "chaos: domain {} ({}): {} sent, {} answered, {} lost, {} nonce reuses, longest \
             stall {:.1} s, p50 {:.0} ms, p99 {:.0} ms",
            d["domain"],
            d["scheme"],
            d["sent"],
            d["answered"],
            d["failed"],
            d["nonce_reuses"],
            d["longest_stall_s"].as_f64().unwrap(),
            d["latency_ms"]["p50"].as_f64().unwrap(),
            d["latency_ms"]["p99"].as_f64().unwrap(),
        );
    }
    for d in report["domains"].as_array().unwrap() {
        assert_eq!(d["nonce_reuses"], 0, "an item was used twice: {d}");
        assert_eq!(
            d["failed"], 0,
            "requests lost (seed {}): {d}",
            campaign.seed
        );
    }
    assert!(out.status.success());
    assert!(kills > 0);
    for i in 0..5 {
        let log = std::fs::read_to_string(dir.join(format!("node{i}/node.log"))).unwrap();
        assert!(!log.contains("panicked"), "node {i} panicked");
    }
    assert!(
        matches!(devnet.0.try_wait(), Ok(None)),
        "the devnet went down"
    );
}

#[test]
fn chaos_short() {
    run(Campaign::from_env(45));
}

#[test]
#[ignore = "the whole campaign: minutes; run with --ignored"]
fn chaos_campaign() {
    run(Campaign::from_env(700));
}
