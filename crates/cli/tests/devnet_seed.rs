//! `chainsig devnet --seed`: a seeded devnet (3 nodes, threshold 2, the four domains, master
//! keys dealt from the seed, contract started with `init_running`) signs on every domain; its
//! funded accounts and its registrar work; after `rm -rf` of its directory the same seed
//! makes the same devnet again — same accounts and keys, same master keys, same derived
//! addresses, signatures that verify — and another seed makes another. A seed is refused on
//! a directory made with another seed or none.

mod common;

use common::Devnet;
use node::identity::NearKey;
use primitives::response::SignatureResponse;
use primitives::SignatureScheme;
use std::path::Path;
use std::time::{Duration, Instant};

const NEAR: u128 = client::near::YOCTO_PER_NEAR;

/// 3 nodes at threshold 2 (2t − 1 = 3, so the V2Secp256k1 domain too), ready with a small
/// stock: each domain signs once here.
fn start(dir: &Path, port: u16, seed: &str) -> (Devnet, serde_json::Value) {
    let extra = ["--nodes", "3", "--threshold", "2", "--seed", seed];
    common::start_stocked(dir, port, 100, 2, &extra)
}

fn interrupt(devnet: &mut Devnet) {
    let status = common::signal_and_wait(&mut devnet.0, "-INT", Duration::from_secs(60));
    assert!(status.success(), "devnet exited with {status}");
}

/// The user's derived address on each domain for one path, as `chainsig address --rpc`
/// reads the root keys from the contract.
fn derived_addresses(ready: &serde_json::Value) -> Vec<String> {
    [
        ("0", "evm"),
        ("1", "solana"),
        ("2", "btc_p2tr"),
        ("3", "evm"),
    ]
    .iter()
    .map(|(domain, name)| common::devnet_address(ready, "seeded", &["--domain", domain], name))
    .collect()
}

/// One request per domain from `account` (its key given), each answer verified
/// independently under the domain's root key.
async fn sign_each_domain(ready: &serde_json::Value, account: &str, key: &NearKey, tag: &str) {
    let rpc = chain::NearRpc::new(
        ready["rpc_url"].as_str().unwrap(),
        ready["contract_id"].as_str().unwrap(),
        account,
        key.signing_key().clone(),
    )
    .unwrap();
    for d in ready["domains"].as_array().unwrap() {
        let domain = d["domain_id"].as_u64().unwrap();
        let scheme: SignatureScheme = serde_json::from_value(d["scheme"].clone()).unwrap();
        let root: primitives::NearPublicKey = d["public_key"].as_str().unwrap().parse().unwrap();
        let path = format!("{tag}-{domain}");
        let request = testkit::sign_request(domain, scheme, &path, 3);
        let args = serde_json::to_vec(&serde_json::json!({ "request": request })).unwrap();
        let value = tokio::time::timeout(Duration::from_secs(120), rpc.call("sign", args, 1))
            .await
            .expect("answered in time")
            .unwrap_or_else(|e| panic!("{scheme:?} {path}: {e}"));
        let response: SignatureResponse = serde_json::from_slice(&value).unwrap();
        let payload = testkit::payload_bytes(scheme, 3);
        testkit::verify_independently(&root, account, &path, &payload, &response)
            .unwrap_or_else(|e| panic!("{scheme:?} {path}: {e}"));
    }
}

fn key_of(account: &serde_json::Value) -> NearKey {
    let key = NearKey::from_private_key(account["private_key"].as_str().unwrap()).unwrap();
    let (in_file, id) = NearKey::read(Path::new(account["key_file"].as_str().unwrap())).unwrap();
    assert_eq!(
        in_file.public_key(),
        key.public_key(),
        "the file holds the listed key"
    );
    assert_eq!(id.as_deref(), account["account_id"].as_str());
    assert_eq!(account["public_key"], key.public_key().to_string());
    key
}

/// `signer` creates the top-level account `name` with 5 NEAR and a key, as near-api-js's
/// `createAccount` batches it.
async fn create_top_level(
    rpc_url: &str,
    signer: &str,
    key: &NearKey,
    name: &str,
) -> Result<Vec<u8>, chain::ChainError> {
    use ed25519_dalek::Signer;
    use near_crypto::{ED25519PublicKey, PublicKey};
    use near_primitives::account::AccessKey;
    use near_primitives::transaction::{
        Action, AddKeyAction, CreateAccountAction, Transaction, TransactionV0, TransferAction,
    };
    use near_primitives::types::Balance;
    let rpc = chain::NearRpc::read_only(rpc_url, "signer.devnet").unwrap();
    let public = key.signing_key().verifying_key().to_bytes();
    let (nonce, block_hash) = rpc.access_key(signer, public).await.unwrap();
    let new_key = NearKey::generate().signing_key().verifying_key().to_bytes();
    let tx = Transaction::V0(TransactionV0 {
        signer_id: signer.parse().unwrap(),
        public_key: PublicKey::ED25519(ED25519PublicKey(public)),
        nonce: nonce + 1,
        receiver_id: name.parse().unwrap(),
        block_hash,
        actions: vec![
            Action::CreateAccount(CreateAccountAction {}),
            Action::Transfer(TransferAction {
                deposit: Balance::from_yoctonear(5 * NEAR),
            }),
            Action::AddKey(Box::new(AddKeyAction {
                public_key: PublicKey::ED25519(ED25519PublicKey(new_key)),
                access_key: AccessKey::full_access(),
            })),
        ],
    });
    let signature = key
        .signing_key()
        .sign(&client::near::signing_hash(&tx))
        .to_bytes();
    let signed = client::near::assemble(tx, public, signature).unwrap();
    rpc.broadcast(signed).await
}

/// The registrar creates a top-level account; the user cannot (NEAR's rule).
async fn registrar_creates_top_level_accounts(ready: &serde_json::Value) {
    let rpc = ready["rpc_url"].as_str().unwrap();
    let registrar = &ready["registrar"];
    assert_eq!(registrar["account_id"], "registrar");
    let (key, _) = NearKey::read(Path::new(registrar["key_file"].as_str().unwrap())).unwrap();
    assert_eq!(common::near_balance(rpc, "toplevel").await, None);
    create_top_level(rpc, "registrar", &key, "toplevel")
        .await
        .unwrap();
    assert_eq!(common::near_balance(rpc, "toplevel").await, Some(5 * NEAR));

    let user = key_of(&ready["accounts"][0]);
    let refused = create_top_level(rpc, "user.devnet", &user, "mine")
        .await
        .expect_err("only the registrar creates top-level accounts");
    let refused = refused.to_string();
    assert!(
        refused.contains("can only be created by") && refused.contains("\"registrar\""),
        "{refused}"
    );
    assert_eq!(common::near_balance(rpc, "mine").await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_makes_the_same_devnet_after_rm_rf() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    let port = common::free_port().port();
    let (mut devnet, first) = start(&dir, port, "seed-one");
    let first_ready = started.elapsed();
    assert_eq!(first["seeded"], true);
    let schemes: Vec<&str> = first["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["scheme"].as_str().unwrap())
        .collect();
    assert_eq!(schemes, ["Secp256k1", "Ed25519", "Bip340", "V2Secp256k1"]);
    let accounts = first["accounts"].as_array().unwrap();
    let ids: Vec<&str> = accounts
        .iter()
        .map(|a| a["account_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "user.devnet",
            "user1.devnet",
            "user2.devnet",
            "user3.devnet"
        ]
    );
    for a in accounts {
        key_of(a);
        let balance = common::near_balance(
            first["rpc_url"].as_str().unwrap(),
            a["account_id"].as_str().unwrap(),
        );
        assert_eq!(balance.await, Some(1000 * NEAR), "{a}");
    }
    let addresses = derived_addresses(&first);
    // The user signs on every domain, and so does a second funded account, with its key.
    sign_each_domain(&first, "user.devnet", &key_of(&accounts[0]), "first").await;
    sign_each_domain(&first, "user2.devnet", &key_of(&accounts[2]), "first").await;
    registrar_creates_top_level_accounts(&first).await;
    interrupt(&mut devnet);

    // Another seed on this directory is refused, before anything starts.
    let (code, out, err) = common::chainsig(&[
        "devnet",
        "--seed",
        "seed-two",
        "--rpc-port",
        &port.to_string(),
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        out.is_empty() && err.contains("made with another seed"),
        "{err}"
    );

    // Gone, and made again from the same seed: the same devnet.
    std::fs::remove_dir_all(&dir).unwrap();
    let again_started = Instant::now();
    let (mut devnet, again) = start(&dir, port, "seed-one");
    let again_ready = again_started.elapsed();
    for field in ["domains", "accounts", "registrar", "user"] {
        assert_eq!(again[field], first[field], "{field}");
    }
    assert_eq!(derived_addresses(&again), addresses);
    let user = key_of(&again["accounts"][0]);
    sign_each_domain(&again, "user.devnet", &user, "again").await;
    interrupt(&mut devnet);

    // Another seed, another devnet: other accounts' keys, master keys and addresses.
    let (mut devnet, other) = start(&tmp.path().join("other"), port, "seed-two");
    for (a, b) in first["domains"]
        .as_array()
        .unwrap()
        .iter()
        .zip(other["domains"].as_array().unwrap())
    {
        assert_eq!(a["scheme"], b["scheme"]);
        assert_ne!(a["public_key"], b["public_key"]);
    }
    for (a, b) in accounts.iter().zip(other["accounts"].as_array().unwrap()) {
        assert_eq!(a["account_id"], b["account_id"]);
        assert_ne!(a["public_key"], b["public_key"]);
    }
    let other_addresses = derived_addresses(&other);
    for (a, b) in addresses.iter().zip(&other_addresses) {
        assert_ne!(a, b);
    }
    sign_each_domain(
        &other,
        "user.devnet",
        &key_of(&other["accounts"][0]),
        "other",
    )
    .await;
    interrupt(&mut devnet);
    eprintln!(
        "seeded devnet: ready in {first_ready:?}, again after rm -rf in {again_ready:?}; \
         whole test {:?}",
        started.elapsed()
    );
}

#[test]
fn a_seed_is_refused_on_a_devnet_made_without_one() {
    let tmp = tempfile::tempdir().unwrap();
    // A devnet.json as a devnet made without a seed (or before seeds) writes it.
    let layout = serde_json::json!({"nodes": 3, "threshold": 2, "rpc_port": 3030,
        "block_ms": 100, "node_accounts": ["node0.devnet", "node1.devnet", "node2.devnet"]});
    std::fs::write(tmp.path().join("devnet.json"), layout.to_string()).unwrap();
    let (code, out, err) = common::chainsig(&[
        "devnet",
        "--seed",
        "any",
        "--dir",
        tmp.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        out.is_empty() && err.contains("made with no seed (random keys)"),
        "{err}"
    );
    assert!(err.contains("Remove the directory"), "{err}");
    let (code, _, err) = common::chainsig(&["devnet", "--seed", "", "--dir", "x"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--seed must be 1 to 256 bytes"), "{err}");
}
