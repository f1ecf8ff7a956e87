use super::*;
use zeroize::Zeroizing;

fn keychain(home: &Path, network: &str) -> PathBuf {
    let dir = home.join(".near-credentials").join(network);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn secret(key: &NearKey) -> Zeroizing<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.json");
    key.write(&path, None).unwrap();
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    Zeroizing::new(file["private_key"].as_str().unwrap().to_owned())
}

#[test]
fn presets_name_the_production_signers() {
    assert_eq!(Network::Testnet.contract_id(), "v1.signer-prod.testnet");
    assert_eq!(Network::Mainnet.contract_id(), "v1.signer");
    assert_eq!(Network::Devnet.contract_id(), "signer.devnet");
    assert_eq!(Network::Devnet.rpc(), "http://127.0.0.1:3030");
}

#[test]
fn a_key_file_comes_first_then_the_environment_then_the_keychain() {
    let home = tempfile::tempdir().unwrap();
    let dir = keychain(home.path(), "testnet");
    let (file_key, env_key, chain_key) = (
        NearKey::generate(),
        NearKey::generate(),
        NearKey::generate(),
    );
    let file = home.path().join("mine.json");
    file_key.write(&file, Some("alice.testnet")).unwrap();
    chain_key
        .write(&dir.join("alice.testnet.json"), Some("alice.testnet"))
        .unwrap();
    let found = |key_file: Option<&Path>, private: Option<Zeroizing<String>>| {
        find_key(
            "alice.testnet",
            key_file,
            private,
            Some(home.path()),
            Network::Testnet,
        )
        .map(|k| k.public_key())
        .map_err(|f| f.message)
    };
    assert_eq!(
        found(Some(&file), Some(secret(&env_key))),
        Ok(file_key.public_key())
    );
    assert_eq!(
        found(None, Some(secret(&env_key))),
        Ok(env_key.public_key())
    );
    assert_eq!(found(None, None), Ok(chain_key.public_key()));
}

#[test]
fn the_keychain_is_per_network_and_per_account() {
    let home = tempfile::tempdir().unwrap();
    let key = NearKey::generate();
    key.write(
        &keychain(home.path(), "testnet").join("alice.testnet.json"),
        Some("alice.testnet"),
    )
    .unwrap();
    let on = |account: &str, network| {
        find_key(account, None, None, Some(home.path()), network).map_err(|f| f.message)
    };
    assert!(on("alice.testnet", Network::Testnet).is_ok());
    let err = on("alice.testnet", Network::Mainnet).err().unwrap();
    assert!(err.contains("no key for alice.testnet"), "{err}");
    assert!(
        err.contains(".near-credentials/mainnet/alice.testnet.json"),
        "{err}"
    );
    assert!(err.contains("CHAINSIG_PRIVATE_KEY"), "{err}");
    assert!(on("bob.testnet", Network::Testnet).is_err());
}

#[test]
fn near_cli_rs_keeps_one_file_per_key_in_a_directory() {
    let home = tempfile::tempdir().unwrap();
    let dir = keychain(home.path(), "testnet").join("alice.testnet");
    std::fs::create_dir_all(&dir).unwrap();
    let first = NearKey::generate();
    let name = |k: &NearKey| format!("{}.json", k.public_key().to_string().replace(':', "_"));
    first
        .write(&dir.join(name(&first)), Some("alice.testnet"))
        .unwrap();
    let found = find_key(
        "alice.testnet",
        None,
        None,
        Some(home.path()),
        Network::Testnet,
    );
    assert_eq!(found.map(|k| k.public_key()).ok(), Some(first.public_key()));

    let second = NearKey::generate();
    second
        .write(&dir.join(name(&second)), Some("alice.testnet"))
        .unwrap();
    let err = find_key(
        "alice.testnet",
        None,
        None,
        Some(home.path()),
        Network::Testnet,
    )
    .err()
    .unwrap()
    .message;
    assert!(
        err.contains("holds 2 keys") && err.contains("--key-file"),
        "{err}"
    );
}

#[test]
fn a_key_of_another_account_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("k.json");
    NearKey::generate()
        .write(&file, Some("bob.testnet"))
        .unwrap();
    let err = find_key("alice.testnet", Some(&file), None, None, Network::Testnet)
        .err()
        .unwrap();
    assert_eq!(err.code, 2);
    assert!(
        err.message
            .contains("key of bob.testnet, not of alice.testnet"),
        "{}",
        err.message
    );
}

#[test]
fn a_bad_private_key_in_the_environment_is_named_not_echoed() {
    for bad in ["ed25519:0OIl", "secp256k1:abc", "ed25519:2222"] {
        let err = find_key(
            "alice.testnet",
            None,
            Some(Zeroizing::new(bad.to_owned())),
            None,
            Network::Testnet,
        )
        .err()
        .unwrap();
        assert!(
            err.message.starts_with("$CHAINSIG_PRIVATE_KEY: "),
            "{}",
            err.message
        );
        assert!(!err.message.contains(bad), "{}", err.message);
    }
}

#[test]
fn no_home_and_no_key_says_how_to_give_one() {
    let err = find_key("alice.testnet", None, None, None, Network::Testnet)
        .err()
        .unwrap();
    assert!(err.message.contains("$HOME is not set"), "{}", err.message);
}
