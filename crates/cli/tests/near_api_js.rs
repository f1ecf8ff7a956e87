//! near-api-js, NEAR's JavaScript client as published on npm, drives the devnet unchanged
//! (tests/support/near-api-js.cjs, installed by ./scripts/test-tools.sh):
//! - on the chain alone (`chainsig chain`: no MPC nodes, nothing here needs a signature),
//!   accounts, keys, transfers, implicit accounts, a deploy, calls, refusals and deletions;
//! - on a whole devnet, a contract it deploys calls the signer contract's `sign` and returns
//!   the signature through its callback; the signature is checked here, independently, under
//!   the key derived for that contract's account.
//!
//! The contract is tests/support/near-api-js-app.wat, assembled with the `wat` crate.

mod common;

use primitives::response::SignatureResponse;
use primitives::SignatureScheme;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The devnet's user account (what `chainsig devnet` names it too).
const USER: &str = "user.devnet";

fn support(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(file)
}

/// The app contract, assembled into `dir`.
fn app_wasm(dir: &Path) -> PathBuf {
    let wasm = wat::parse_file(support("near-api-js-app.wat")).expect("the app contract assembles");
    let path = dir.join("app.wasm");
    std::fs::write(&path, wasm).unwrap();
    path
}

/// Runs the near-api-js script with `config`; fails with everything it printed unless it
/// succeeds, and returns the JSON it printed last.
fn near_api_js(config: serde_json::Value) -> serde_json::Value {
    testkit::test_tool("node_modules/near-api-js/package.json");
    let started = Instant::now();
    let out = Command::new("node")
        .arg(support("near-api-js.cjs"))
        .arg(testkit::test_tools_dir())
        .arg(config.to_string())
        .output()
        .expect("node runs (./scripts/test-tools.sh installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "near-api-js.cjs {}: {}\n{stderr}{stdout}",
        config["mode"],
        out.status
    );
    eprintln!(
        "{stderr}near-api-js.cjs {}: {:.1} s",
        config["mode"],
        started.elapsed().as_secs_f64()
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// The devnet chain alone (`chainsig chain`) with one funded user and its key.
fn start_chain(dir: &Path, port: u16, user_key: &near_crypto::SecretKey) -> common::Devnet {
    std::fs::create_dir_all(dir).unwrap();
    let genesis = serde_json::json!({
        "seed": hex::encode([7u8; 32]),
        "accounts": [{
            "account_id": USER,
            "balance": (1000 * 10u128.pow(24)).to_string(),
            "public_keys": [user_key.public_key().to_string()],
        }],
    });
    std::fs::write(dir.join("genesis.json"), genesis.to_string()).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_chainsig"))
        .args(["chain", "--block-ms", "100", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let chain = common::Devnet(child);
    // Ready once its RPC answers.
    let client = reqwest::blocking::Client::new();
    let until = Instant::now() + Duration::from_secs(60);
    let status = serde_json::json!({"jsonrpc": "2.0", "id": 0, "method": "status", "params": []});
    while client
        .post(format!("http://127.0.0.1:{port}"))
        .json(&status)
        .send()
        .is_err()
    {
        assert!(Instant::now() < until, "the chain's RPC never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
    chain
}

#[test]
fn near_api_js_manages_accounts_keys_and_contracts_on_the_chain() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let key = near_crypto::SecretKey::from_random(near_crypto::KeyType::ED25519);
    let port = common::free_port().port();
    let _chain = start_chain(&tmp.path().join("chain"), port, &key);
    let out = near_api_js(serde_json::json!({
        "mode": "lifecycle",
        "rpc_url": format!("http://127.0.0.1:{port}"),
        "account_id": USER,
        "private_key": key.to_string(),
        "wasm": app_wasm(tmp.path()),
    }));
    assert_eq!(out["app_id"], "app.user.devnet");
    eprintln!(
        "lifecycle on the chain: {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn a_contract_deployed_with_near_api_js_signs_through_a_cross_contract_call() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let port = common::free_port().port();
    // The smallest devnet the tests run (4 nodes, threshold 3), stocked for a few signatures.
    let (_devnet, ready) = common::start_stocked(&tmp.path().join("devnet"), port, 100, 2, &[]);
    eprintln!("devnet ready in {:.1} s", started.elapsed().as_secs_f64());
    // The app contract calls the signer by this name.
    assert_eq!(ready["contract_id"], "signer.devnet");
    assert_eq!(ready["user"]["account_id"], USER);
    let key_file: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ready["user"]["key_file"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let domain = &ready["domains"][0];
    let scheme: SignatureScheme = serde_json::from_value(domain["scheme"].clone()).unwrap();
    let path = "near-api-js";
    let request = testkit::sign_request(domain["domain_id"].as_u64().unwrap(), scheme, path, 9);

    let out = near_api_js(serde_json::json!({
        "mode": "sign",
        "rpc_url": ready["rpc_url"],
        "account_id": USER,
        "private_key": key_file["private_key"],
        "wasm": app_wasm(tmp.path()),
        "request": request,
    }));

    // Signed under the key derived for the contract's account, the caller of `sign`.
    let app = out["app_id"].as_str().unwrap();
    assert_eq!(app, "signing-app.user.devnet");
    let response: SignatureResponse = serde_json::from_value(out["signature"].clone())
        .unwrap_or_else(|e| panic!("{e}: {}", out["signature"]));
    let root: primitives::NearPublicKey = domain["public_key"].as_str().unwrap().parse().unwrap();
    let payload = testkit::payload_bytes(scheme, 9);
    testkit::verify_independently(&root, app, path, &payload, &response).unwrap();
    eprintln!(
        "cross-contract sign with near-api-js: {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}
