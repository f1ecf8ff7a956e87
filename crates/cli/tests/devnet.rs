//! `chainsig devnet` as a user runs it: chain and 5 nodes as separate processes, the
//! contract's wasm on the chain, the four domains (V2Secp256k1 among them, since 5 = 2t − 1);
//! 50 requests per domain through NEAR's JSON-RPC client, each signature
//! checked by an independent verifier; Ctrl-C stops it cleanly and a second start resumes with
//! the same keys.

mod common;

use common::{start_with, Devnet};
use primitives::response::SignatureResponse;
use primitives::SignatureScheme;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

fn interrupt(devnet: &mut Devnet) {
    let status = common::signal_and_wait(&mut devnet.0, "-INT", Duration::from_secs(60));
    assert!(status.success(), "devnet exited with {status}");
}

/// `n` requests per domain, all in flight at once, each answer verified independently.
async fn sign_all(ready: &serde_json::Value, tag: &str, n: u8) {
    let user = Arc::new(common::user(ready));
    let account = ready["user"]["account_id"].as_str().unwrap().to_owned();
    let mut asked = vec![];
    for d in ready["domains"].as_array().unwrap() {
        let domain = d["domain_id"].as_u64().unwrap();
        let scheme: SignatureScheme = serde_json::from_value(d["scheme"].clone()).unwrap();
        let root: primitives::NearPublicKey = d["public_key"].as_str().unwrap().parse().unwrap();
        for i in 0..n {
            let path = format!("{tag}-{i}");
            let request = testkit::sign_request(domain, scheme, &path, i + 1);
            let args = serde_json::to_vec(&serde_json::json!({ "request": request })).unwrap();
            let user = user.clone();
            let waiting = tokio::spawn(async move { user.call("sign", args, 1).await });
            asked.push((scheme, root, path, i + 1, waiting));
        }
    }
    for (scheme, root, path, fill, waiting) in asked {
        let value = tokio::time::timeout(Duration::from_secs(300), waiting)
            .await
            .expect("answered in time")
            .unwrap()
            .unwrap_or_else(|e| panic!("{scheme:?} {path}: {e}"));
        let response: SignatureResponse = serde_json::from_slice(&value).unwrap();
        let payload = testkit::payload_bytes(scheme, fill);
        testkit::verify_independently(&root, &account, &path, &payload, &response)
            .unwrap_or_else(|e| panic!("{scheme:?} {path}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_devnet_signs_for_every_domain_and_resumes_with_the_same_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    let port = common::free_port().port();
    // 5 nodes at threshold 3: 2t − 1 = 5, so the devnet adds a V2Secp256k1 domain too.
    let sizes = ["--nodes", "5", "--threshold", "3"];
    let (mut devnet, ready) = start_with(&dir, port, &sizes);
    assert_eq!(ready["rpc_url"], format!("http://127.0.0.1:{port}"));
    assert_eq!(ready["contract_id"], "signer.devnet");
    let schemes: Vec<&str> = ready["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["scheme"].as_str().unwrap())
        .collect();
    assert_eq!(schemes, ["Secp256k1", "Ed25519", "Bip340", "V2Secp256k1"]);
    // The key file is near-cli's format.
    let key: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ready["user"]["key_file"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    assert!(key["private_key"].as_str().unwrap().starts_with("ed25519:"));
    assert!(key["public_key"].as_str().unwrap().starts_with("ed25519:"));

    sign_all(&ready, "first", 50).await;

    // `chainsig sign` prints the result with the derived key (and, for Bip340, the Taproot
    // output key the signature verifies under).
    let rpc = ready["rpc_url"].as_str().unwrap();
    let account = ready["user"]["account_id"].as_str().unwrap();
    // Schnorr domains sign a 40-byte message, the V2Secp256k1 domain a 32-byte hash.
    for (domain, len) in [("1", 40), ("2", 40), ("3", 32)] {
        let payload = "ab".repeat(len);
        let mut sign = common::args(&["sign", "--json", "--payload", &payload, "--domain", domain]);
        sign.extend(common::requester(&ready, "cli"));
        let printed = common::chainsig_json(&sign);
        let root: primitives::NearPublicKey = ready["domains"][domain.parse::<usize>().unwrap()]
            ["public_key"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let response: SignatureResponse =
            serde_json::from_value(printed["signature"].clone()).unwrap();
        testkit::verify_independently(&root, account, "cli", &vec![0xab; len], &response).unwrap();
        let derived = primitives::derivation::derive_public_key(&root, account, "cli").unwrap();
        assert_eq!(printed["public_key"], derived.to_string());
        let output_key = derived
            .as_secp256k1()
            .filter(|_| printed["scheme"] == "Bip340")
            .map(|p| hex::encode(primitives::taproot::output_key_x(p).unwrap()));
        assert_eq!(
            printed["taproot_output_key"].as_str(),
            output_key.as_deref(),
            "{printed}"
        );
        // `chainsig derive --rpc` reads the root key from the contract and agrees.
        let printed = common::chainsig_json(&[
            "derive",
            "--json",
            "--domain",
            domain,
            "--account",
            account,
            "--path",
            "cli",
            "--rpc",
            rpc,
        ]);
        assert_eq!(printed["keys"][0]["domain_id"].to_string(), domain);
        assert_eq!(printed["keys"][0]["public_key"], derived.to_string());
    }

    // Either kind of ECDSA domain signs an EVM transaction when named; a Schnorr one is refused.
    let eth = |domain: &str| {
        let mut a = common::args(&[
            "eth",
            "send",
            "--json",
            "--to",
            "0x1111111111111111111111111111111111111111",
            "--legacy",
            "--gas-price",
            "1000000000",
            "--chain-id",
            "1",
            "--nonce",
            "0",
            "--domain",
            domain,
        ]);
        a.extend(common::requester(&ready, "eth-v2"));
        common::chainsig(&a)
    };
    let (code, out, err) = eth("3");
    assert_eq!(code, 0, "{err}");
    let sent: serde_json::Value = serde_json::from_str(&out).unwrap();
    let v2_address = common::devnet_address(&ready, "eth-v2", &["--domain", "3"], "evm");
    assert_eq!(
        sent["from"], v2_address,
        "signed under the V2Secp256k1 domain's key"
    );
    let (code, out, err) = eth("1");
    assert_eq!(code, 2, "{err}");
    assert!(
        out.is_empty() && err.contains("domain 1 is a Ed25519 domain"),
        "{err}"
    );

    credentials_and_resume(&ready, tmp.path());
    near_from_a_derived_account(&ready).await;

    interrupt(&mut devnet);

    // Started again on the same directory: same chain, same keys, signing again.
    let (mut devnet, again) = start_with(&dir, port, &sizes);
    assert_eq!(again["domains"], ready["domains"]);
    sign_all(&again, "second", 3).await;
    interrupt(&mut devnet);
}

/// The user's key found where near-cli keeps it and the rest from `CHAINSIG_*` variables; a
/// `sign` collected again by its transaction hash with `--resume`, and a hash that is not one
/// of this account's refused.
fn credentials_and_resume(ready: &serde_json::Value, tmp: &std::path::Path) {
    let home = tmp.join("home");
    let keychain = home.join(".near-credentials/devnet");
    std::fs::create_dir_all(&keychain).unwrap();
    let account = ready["user"]["account_id"].as_str().unwrap();
    std::fs::copy(
        ready["user"]["key_file"].as_str().unwrap(),
        keychain.join(format!("{account}.json")),
    )
    .unwrap();
    let vars = [
        ("CHAINSIG_RPC", ready["rpc_url"].as_str().unwrap()),
        ("CHAINSIG_ACCOUNT", account),
    ];
    let payload = "cd".repeat(32);
    let (code, out, err) = common::chainsig_env(
        &[
            "sign",
            "--json",
            "--path",
            "keychain",
            "--payload",
            &payload,
        ],
        &home,
        &vars,
    );
    assert_eq!(code, 0, "{err}");
    let signed: serde_json::Value = serde_json::from_str(&out).unwrap();
    let tx = signed["transaction"].as_str().unwrap();
    assert!(
        err.contains(&format!("sent sign transaction {tx}")),
        "{err}"
    );
    let root: primitives::NearPublicKey = ready["domains"][0]["public_key"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let response: SignatureResponse = serde_json::from_value(signed["signature"].clone()).unwrap();
    testkit::verify_independently(&root, account, "keychain", &[0xcd; 32], &response).unwrap();

    // The same answer again, from the transaction alone: path, domain and payload read back.
    let (code, out, err) = common::chainsig_env(&["sign", "--json", "--resume", tx], &home, &vars);
    assert_eq!(code, 0, "{err}");
    let resumed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(resumed, signed);

    // A hash no transaction of this account has.
    let unknown = bs58::encode([7u8; 32]).into_string();
    let (code, out, err) = common::chainsig_env(&["sign", "--resume", &unknown], &home, &vars);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty() && err.starts_with("error: "), "{err}");
    // Not a hash at all: a usage error.
    let (code, _, err) = common::chainsig_env(&["sign", "--resume", "0xzz"], &home, &vars);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--resume takes a transaction hash"), "{err}");
    // No key anywhere for another account: says where it looked.
    let (code, _, err) = common::chainsig_env(
        &["sign", "--path", "p", "--payload", &payload],
        &home,
        &[("CHAINSIG_ACCOUNT", "nobody.devnet")],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(".near-credentials/devnet/nobody.devnet.json"),
        "{err}"
    );
}

/// `chainsig near send` from the derived implicit account of path `near-1`: refused while the
/// account does not exist; after the user sends it 2 NEAR (which creates it, as on NEAR) a
/// transaction signed by the network's Ed25519 domain moves 0.5 NEAR back.
async fn near_from_a_derived_account(ready: &serde_json::Value) {
    use ed25519_dalek::Signer;
    const NEAR: u128 = client::near::YOCTO_PER_NEAR;
    let rpc_url = ready["rpc_url"].as_str().unwrap();
    let user = ready["user"]["account_id"].as_str().unwrap();
    let implicit = common::devnet_address(ready, "near-1", &["--domain", "1"], "near_implicit");
    let send = || {
        let mut a = common::args(&["near", "send", "--json", "--to", user, "--amount", "0.5"]);
        a.extend(common::requester(ready, "near-1"));
        common::chainsig(&a)
    };
    let (code, _, err) = send();
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("send something to {implicit} first")),
        "{err}"
    );

    // The user funds it with a transfer signed here with its own key.
    let (key, _) = node::identity::NearKey::read(std::path::Path::new(
        ready["user"]["key_file"].as_str().unwrap(),
    ))
    .unwrap();
    let public = key.signing_key().verifying_key().to_bytes();
    let rpc = chain::NearRpc::read_only(rpc_url, "signer.devnet").unwrap();
    let (nonce, block) = rpc.access_key(user, public).await.unwrap();
    let tx = client::near::transfer(user, public, nonce + 1, &implicit, block, 2 * NEAR).unwrap();
    let signature = key
        .signing_key()
        .sign(&client::near::signing_hash(&tx))
        .to_bytes();
    let signed = client::near::assemble(tx, public, signature).unwrap();
    rpc.broadcast(signed).await.unwrap();
    assert_eq!(
        common::near_balance(rpc_url, &implicit).await.unwrap(),
        2 * NEAR
    );
    let before = common::near_balance(rpc_url, user).await.unwrap();

    let (code, out, err) = send();
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["from"], implicit);
    assert_eq!(v["amount_yocto"], (NEAR / 2).to_string());
    // 0.5 NEAR gone, and the gas of its transaction.
    let left = common::near_balance(rpc_url, &implicit).await.unwrap();
    assert!(left <= 3 * NEAR / 2 && left > 14 * NEAR / 10, "{left}");
    // The user received 0.5 NEAR and paid for the `sign` call it asked the network with.
    let after = common::near_balance(rpc_url, user).await.unwrap();
    assert!(
        after < before + NEAR / 2 && after > before + 49 * NEAR / 100,
        "{before} {after}"
    );
}

#[test]
fn ctrl_c_while_starting_stops_the_chain_and_the_nodes() {
    let tmp = tempfile::tempdir().unwrap();
    let rpc = common::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_chainsig"))
        .args(["devnet", "--rpc-port", &rpc.port().to_string(), "--dir"])
        .arg(tmp.path().join("devnet"))
        .arg("--wasm")
        .arg(testkit::signer_wasm_path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kept open to the end: the devnet reports its stopping on stderr too.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = vec![];
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.contains("nodes started") {
            break;
        }
    }
    let mut devnet = Devnet(child);
    interrupt(&mut devnet);
    // The chain's port is free again: its process is gone, not orphaned.
    std::net::TcpListener::bind(rpc).unwrap_or_else(|e| panic!("{rpc} still taken: {e}\n{seen:?}"));
    for i in 0..4 {
        let config =
            node::config::NodeConfig::load(&tmp.path().join(format!("devnet/node{i}")), |_| None)
                .unwrap();
        std::net::TcpListener::bind(config.p2p.listen).expect("a node is still running");
    }
    drop(lines);
}
