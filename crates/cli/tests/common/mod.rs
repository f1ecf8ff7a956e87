//! Helpers the process tests share.

#![allow(dead_code)] // each test binary uses a part

pub mod examples;
pub mod outcome;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Runs the `chainsig` binary to completion: (exit code, stdout, stderr).
pub fn chainsig<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_chainsig"))
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Runs the `chainsig` binary with `HOME` and the `CHAINSIG_*` variables as given (any others
/// of the test's own environment removed): (exit code, stdout, stderr).
pub fn chainsig_env<S: AsRef<std::ffi::OsStr>>(
    args: &[S],
    home: &Path,
    vars: &[(&str, &str)],
) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chainsig"));
    for (name, _) in std::env::vars() {
        if name.starts_with("CHAINSIG_") {
            command.env_remove(name);
        }
    }
    let out = command
        .args(args)
        .env("HOME", home)
        .envs(vars.iter().copied())
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The devnet's user, as `chainsig` arguments.
#[allow(dead_code)] // not every test binary uses every helper
pub fn requester(ready: &serde_json::Value, path: &str) -> Vec<String> {
    [
        "--rpc",
        ready["rpc_url"].as_str().unwrap(),
        "--account",
        ready["user"]["account_id"].as_str().unwrap(),
        "--key-file",
        ready["user"]["key_file"].as_str().unwrap(),
        "--path",
        path,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Owned arguments, as the shared runner and `requester` take them.
#[allow(dead_code)]
pub fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Runs the binary, which must succeed, and parses its JSON output.
#[allow(dead_code)] // not every test binary uses every helper
pub fn chainsig_json<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> serde_json::Value {
    let (code, out, err) = chainsig(args);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The devnet user's `name` address (`evm`, `solana`, `btc_p2wpkh`, ...) under `path`, as
/// `chainsig address --rpc` reads it from the contract; `extra` adds arguments (`--domain`,
/// `--network`).
pub fn devnet_address(ready: &serde_json::Value, path: &str, extra: &[&str], name: &str) -> String {
    let rpc = ready["rpc_url"].as_str().unwrap();
    let account = ready["user"]["account_id"].as_str().unwrap();
    let mut args = vec![
        "address",
        "--json",
        "--rpc",
        rpc,
        "--account",
        account,
        "--path",
        path,
    ];
    args.extend(extra);
    let v = chainsig_json(&args);
    // One entry per domain; each address name belongs to one scheme's domain.
    v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|k| k["addresses"][name].as_str())
        .unwrap_or_else(|| panic!("no {name} address: {v}"))
        .to_owned()
}

/// A loopback address nothing listens on right now, outside the ephemeral port range (see
/// `node::ports`).
pub fn free_port() -> SocketAddr {
    let port = node::ports::free_loopback_port().expect("a free loopback port");
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Sends `signal` (e.g. `-TERM`, `-INT`) and waits up to `within` for the process to exit.
pub fn signal_and_wait(child: &mut Child, signal: &str, within: Duration) -> ExitStatus {
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap()
        .success());
    let until = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < until,
            "no exit within {within:?} of {signal}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `chainsig devnet` process, stopped gracefully when dropped.
pub struct Devnet(pub Child);

impl Drop for Devnet {
    /// Even when a test fails: SIGTERM, so that the devnet stops its chain and nodes (SIGKILL
    /// would orphan them); SIGKILL only if it does not stop.
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let pid = self.0.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let until = std::time::Instant::now() + Duration::from_secs(30);
            while std::time::Instant::now() < until {
                if let Ok(Some(_)) = self.0.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the devnet and returns it with its ready line.
pub fn start(dir: &Path, port: u16) -> (Devnet, serde_json::Value) {
    start_with(dir, port, &[])
}

/// [`start`] with more arguments (`--nodes 5`, ...).
pub fn start_with(dir: &Path, port: u16, extra: &[&str]) -> (Devnet, serde_json::Value) {
    // 100 ms blocks: a request's yield lasts 200 blocks = 20 s, and the stock covers a burst
    // of 50 ECDSA requests, so a busy 2-core machine makes no request time out.
    start_at(dir, port, 100, extra)
}

/// [`start_with`] at another block time.
pub fn start_at(
    dir: &Path,
    port: u16,
    block_ms: u64,
    extra: &[&str],
) -> (Devnet, serde_json::Value) {
    start_stocked(dir, port, block_ms, 12, extra)
}

/// [`start_at`] ready once each node owns `ready_stock` items per domain (a test that signs
/// once needs few).
pub fn start_stocked(
    dir: &Path,
    port: u16,
    block_ms: u64,
    ready_stock: usize,
    extra: &[&str],
) -> (Devnet, serde_json::Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chainsig"))
        .args(["devnet", "--json", "--ready-stock"])
        .arg(ready_stock.to_string())
        .arg("--block-ms")
        .arg(block_ms.to_string())
        .arg("--rpc-port")
        .arg(port.to_string())
        .arg("--dir")
        .arg(dir)
        .arg("--wasm")
        .arg(testkit::signer_wasm_path())
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let devnet = Devnet(child);
    let ready = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    (devnet, ready)
}

/// The pids of a devnet's node processes (each leaves one in its directory).
pub fn node_pids(dir: &Path) -> Vec<String> {
    (0..)
        .map(|i| dir.join(format!("node{i}")))
        .take_while(|d| d.exists())
        .map(|d| {
            std::fs::read_to_string(d.join("pid"))
                .unwrap()
                .trim()
                .to_owned()
        })
        .collect()
}

/// Sends `signal` (`-STOP`, `-CONT`, ...) to each pid.
pub fn signal_all(pids: &[String], signal: &str) {
    for pid in pids {
        assert!(Command::new("kill")
            .args([signal, pid])
            .status()
            .unwrap()
            .success());
    }
}

/// One NEAR JSON-RPC call (`method` with `params`) to `rpc`: its whole answer.
pub async fn near_rpc(rpc: &str, method: &str, params: serde_json::Value) -> serde_json::Value {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    reqwest::Client::new()
        .post(rpc)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The balance of a NEAR account, in yoctoNEAR (`None` if it does not exist).
pub async fn near_balance(rpc: &str, account: &str) -> Option<u128> {
    let params = serde_json::json!({"request_type": "view_account", "finality": "final",
        "account_id": account});
    let v = near_rpc(rpc, "query", params).await;
    v["result"]["amount"].as_str().map(|a| a.parse().unwrap())
}

/// A NEAR RPC client acting as the devnet's user account, from the devnet's ready line.
pub fn user(ready: &serde_json::Value) -> chain::NearRpc {
    let key_file = ready["user"]["key_file"].as_str().unwrap();
    let (key, account) = node::identity::NearKey::read(Path::new(key_file)).unwrap();
    assert_eq!(account.as_deref(), ready["user"]["account_id"].as_str());
    chain::NearRpc::new(
        ready["rpc_url"].as_str().unwrap(),
        ready["contract_id"].as_str().unwrap(),
        ready["user"]["account_id"].as_str().unwrap(),
        key.signing_key().clone(),
    )
    .unwrap()
}

/// Runs one of `tests/support/*-check.cjs` (a chain's own library checking what `chainsig`
/// printed) with the test tools' directory first, and parses the JSON it prints.
#[allow(dead_code)] // not every test binary uses every helper
pub fn node_check(script: &str, extra: &[&str]) -> serde_json::Value {
    let support = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support");
    let out = Command::new("node")
        .arg(support.join(script))
        .arg(testkit::test_tools_dir())
        .args(extra)
        .output()
        .expect("node runs (./scripts/test-tools.sh installs it)");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
