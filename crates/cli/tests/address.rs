//! The `address` command (alias `derive`) as a user runs it: the real binary, its output and
//! exit codes.

mod common;

use common::chainsig;

const ROOT: &str = "secp256k1:4NfTiv3UsGahebgTaHyD9vF8KYKMBnfd6kh94mK6xv8fGBiJB8TBtFMP5WWXz6B89Ac1fbpzPwAvoyQebemHFwx3";

#[test]
fn derives_near_testnet_vector_as_json() {
    let (code, stdout, _) = chainsig(&[
        "derive",
        "--root-key",
        ROOT,
        "--account",
        "derivation-test.testnet",
        "--path",
        "unit-test",
        "--json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["account"], "derivation-test.testnet");
    assert_eq!(v["keys"].as_array().unwrap().len(), 1);
    let k = &v["keys"][0];
    assert_eq!(k["scheme"], "Secp256k1");
    assert_eq!(
        k["public_key"],
        "secp256k1:3b3GS4kaAPvzxFUEYKiMvXeuBzttMZosggT3iAAbyZzAfQc1Dn4eLrDshNGGeKZyfSK7xegjPSq553NXHisMLiyA"
    );
    let evm = k["addresses"]["evm"].as_str().unwrap();
    assert!(evm.starts_with("0x") && evm.len() == 42);
    assert!(k["addresses"]["btc_p2wpkh"]
        .as_str()
        .unwrap()
        .starts_with("bc1q"));
    assert!(k["addresses"]["btc_p2pkh"]
        .as_str()
        .unwrap()
        .starts_with('1'));
    // An ECDSA domain cannot sign a Taproot key path: no P2TR address is offered.
    assert!(k["addresses"].get("btc_p2tr").is_none(), "{v}");
}

#[test]
fn btc_testnet_and_text_output() {
    let (code, stdout, _) = chainsig(&[
        "derive",
        "--root-key",
        ROOT,
        "--account",
        "alice.testnet",
        "--path",
        "bitcoin-1",
        "--btc-network",
        "testnet",
    ]);
    assert_eq!(code, 0);
    assert!(stdout.contains("  btc_p2wpkh    tb1q"), "{stdout}");
    assert!(stdout
        .lines()
        .next()
        .unwrap()
        .starts_with("Secp256k1: secp256k1:"));
}

#[test]
fn ed25519_root_gives_solana_and_near_forms() {
    let (code, stdout, _) = chainsig(&[
        "derive",
        "--root-key",
        "ed25519:6vSEtQxrQj6txUMh33WC4ERyCWmNMRTdufDWAaDY3Un2",
        "--account",
        "derivation-test.testnet",
        "--path",
        "unit-test",
        "--json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["keys"][0]["scheme"], "Ed25519");
    assert_eq!(
        v["keys"][0]["public_key"],
        "ed25519:49KFz8zeqrPcaSKqLCXtY79zW98ZW6Nd7W8vSsC7FdKJ"
    );
    assert_eq!(
        v["keys"][0]["addresses"]["solana"],
        "49KFz8zeqrPcaSKqLCXtY79zW98ZW6Nd7W8vSsC7FdKJ"
    );
}

#[test]
fn every_chain_on_regtest_with_a_cosmos_prefix() {
    let (code, stdout, stderr) = chainsig(&[
        "address",
        "--root-key",
        ROOT,
        "--account",
        "alice.testnet",
        "--path",
        "bitcoin-1",
        "--btc-network",
        "regtest",
        "--cosmos-prefix",
        "osmo",
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let a = &v["keys"][0]["addresses"];
    for (name, prefix) in [
        ("btc_p2pkh", "m"),
        ("btc_p2wpkh", "bcrt1q"),
        ("doge_p2pkh", "D"),
        ("xrp", "r"),
        ("cosmos", "osmo1"),
        ("evm", "0x"),
    ] {
        let value = a[name]
            .as_str()
            .unwrap_or_else(|| panic!("{name} missing: {v}"));
        assert!(value.starts_with(prefix), "{name}: {value}");
    }
}

#[test]
fn a_bip340_root_gives_the_taproot_address() {
    let (code, stdout, stderr) = chainsig(&[
        "address",
        "--root-key",
        ROOT,
        "--scheme",
        "bip340",
        "--account",
        "alice.testnet",
        "--path",
        "bitcoin-1",
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let k = &v["keys"][0];
    assert_eq!(k["scheme"], "Bip340");
    let addresses = k["addresses"].as_object().unwrap();
    assert_eq!(addresses.len(), 1, "{v}");
    assert!(addresses["btc_p2tr"].as_str().unwrap().starts_with("bc1p"));
}

#[test]
fn bad_values_are_named_on_the_first_line_and_exit_2() {
    for args in [
        vec![
            "derive",
            "--root-key",
            "secp256k1:xyz0",
            "--account",
            "a",
            "--path",
            "p",
        ],
        vec![
            "derive",
            "--root-key",
            "rsa:abc",
            "--account",
            "a",
            "--path",
            "p",
        ],
        vec!["derive", "--root-key", ROOT, "--account", "", "--path", "p"],
        vec!["status", "--dir", "/nonexistent-devnet"],
        vec![
            "address",
            "--root-key",
            ROOT,
            "--account",
            "a",
            "--path",
            "p",
            "--btc-network",
            "litecoin",
        ],
        vec![
            "address",
            "--root-key",
            ROOT,
            "--account",
            "a",
            "--path",
            "p",
            "--cosmos-prefix",
            "Bad Prefix",
        ],
        vec![
            "address",
            "--root-key",
            "ed25519:6vSEtQxrQj6txUMh33WC4ERyCWmNMRTdufDWAaDY3Un2",
            "--scheme",
            "bip340",
            "--account",
            "a",
            "--path",
            "p",
        ],
    ] {
        let (code, stdout, stderr) = chainsig(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty());
        // Our own checks print one line; a value clap's parser refuses adds clap's pointer to
        // --help below it.
        let lines: Vec<&str> = stderr.trim_end().lines().collect();
        assert!(lines[0].starts_with("error: "), "{args:?}: {stderr}");
        assert!(lines[0].len() > "error: ".len() + 10, "{args:?}: {stderr}");
        assert!(
            lines.len() == 1 || lines[1..] == ["", "For more information, try '--help'."],
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn what_clap_refuses_is_explained_whole_and_exits_2() {
    // A missing argument: named, with the usage line.
    let (code, stdout, stderr) = chainsig(&["derive", "--root-key", ROOT, "--account", "a"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("--path <PATH>"), "{stderr}");
    assert!(stderr.contains("Usage: chainsig address"), "{stderr}");
    // A typo: the subcommand it resembles.
    let (code, _, stderr) = chainsig(&["adress"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("similar") && stderr.contains("address"),
        "{stderr}"
    );
    let (code, _, stderr) = chainsig(&["frobnicate"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("Usage: chainsig"), "{stderr}");
    // A command that needs a subcommand shows its help, as a usage error.
    for (args, lists) in [
        (vec![], "devnet"),
        (vec!["eth"], "send"),
        (vec!["node"], "init"),
        (vec!["btc"], "send"),
    ] {
        let (code, stdout, stderr) = chainsig(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}");
        assert!(stderr.contains("Commands:"), "{args:?}: {stderr}");
        assert!(stderr.contains(lists), "{args:?}: {stderr}");
    }
}

#[test]
fn network_presets_pick_the_rpc_and_environment_variables_set_options() {
    // Nothing answers on this machine's network: the error names the endpoint the preset
    // chose (or the one the environment set).
    let home = tempfile::tempdir().unwrap();
    let derive = ["derive", "--account", "a.testnet", "--path", "p"];
    let mut args = derive.to_vec();
    args.extend(["--network", "testnet"]);
    let (code, _, stderr) = common::chainsig_env(&args, home.path(), &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("rpc.testnet.near.org"), "{stderr}");
    let (code, _, stderr) =
        common::chainsig_env(&derive, home.path(), &[("CHAINSIG_NETWORK", "mainnet")]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("rpc.mainnet.near.org"), "{stderr}");
    let (code, _, stderr) = common::chainsig_env(
        &derive,
        home.path(),
        &[
            ("CHAINSIG_NETWORK", "mainnet"),
            ("CHAINSIG_RPC", "http://127.0.0.1:9"),
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("127.0.0.1:9"), "{stderr}");
    // A network clap does not know is a usage error, from the environment too.
    let (code, _, stderr) =
        common::chainsig_env(&derive, home.path(), &[("CHAINSIG_NETWORK", "betanet")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("betanet") && stderr.contains("testnet"),
        "{stderr}"
    );
}
