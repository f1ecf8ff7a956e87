//! `chainsig devnet --with evm,solana,bitcoin`: the devnet runs anvil, the litesvm Solana RPC
//! and the Bitcoin regtest chain beside its own, funds the user's derived addresses, and
//! prints their URLs in the ready line; `chainsig eth|sol|btc send` given only those URLs are
//! accepted (anvil mines, litesvm lands, Bitcoin Core's validation connects the block). The
//! children stop with the devnet.
//!
//! Needs `./scripts/test-tools.sh` and `cargo build -p btc-regtest` (both done by
//! `./scripts/test.sh`).

mod common;

use common::{args, chainsig_json, requester};
use std::path::Path;
use std::time::{Duration, Instant};

fn rpc(url: &str, method: &str, params: serde_json::Value) -> serde_json::Value {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let client = reqwest::blocking::Client::new();
    client.post(url).json(&body).send().unwrap().json().unwrap()
}

fn get_json(url: &str) -> serde_json::Value {
    reqwest::blocking::get(url).unwrap().json().unwrap()
}

/// Waits until the regtest chain has mined `txid`; its block height.
fn mined(esplora: &str, txid: &str) -> u64 {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let status = get_json(&format!("{esplora}/tx/{txid}/status"));
        if status["confirmed"] == true {
            return status["block_height"].as_u64().unwrap();
        }
        assert!(Instant::now() < until, "{txid} not mined: {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether the process `pid` still runs.
fn alive(pid: &str) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn devnet_with_foreign_chains_funds_the_user_and_sends_are_accepted() {
    let regtest = Path::new(env!("CARGO_BIN_EXE_chainsig")).with_file_name("chainsig-btc-regtest");
    assert!(
        regtest.is_file(),
        "{} is missing; build it first: cargo build -p btc-regtest",
        regtest.display()
    );
    testkit::test_tool("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    testkit::test_tool("node_modules/litesvm/package.json");
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("devnet");
    let port = common::free_port().port();
    let (devnet, ready) = common::start_with(&dir, port, &["--with", "evm,solana,bitcoin"]);
    eprintln!(
        "devnet --with evm,solana,bitcoin ready in {:?}",
        started.elapsed()
    );
    let chains = &ready["chains"];

    // Ethereum: the funded address pays, anvil mines it.
    let evm = &chains["evm"];
    let eth_rpc = evm["rpc_url"].as_str().unwrap();
    assert_eq!(evm["chain_id"], 31337);
    let from = evm["address"].as_str().unwrap();
    assert_eq!(
        from,
        common::devnet_address(&ready, "ethereum-1", &[], "evm")
    );
    let recipient = "0x1111111111111111111111111111111111111111";
    let mut a = args(&[
        "eth",
        "send",
        "--json",
        "--eth-rpc",
        eth_rpc,
        "--to",
        recipient,
    ]);
    a.extend(args(&["--value", "0.5"]));
    a.extend(requester(&ready, "ethereum-1"));
    let sent = chainsig_json(&a);
    assert_eq!(sent["receipt"]["status"], "success", "{sent}");
    let receipt = rpc(
        eth_rpc,
        "eth_getTransactionReceipt",
        serde_json::json!([sent["hash"]]),
    );
    assert_eq!(receipt["result"]["status"], "0x1", "{receipt}");
    let balance = rpc(
        eth_rpc,
        "eth_getBalance",
        serde_json::json!([recipient, "latest"]),
    );
    assert_eq!(balance["result"], "0x6f05b59d3b20000", "0.5 ETH");

    // Solana: the funded address pays, litesvm lands it.
    let sol = &chains["solana"];
    let sol_rpc = sol["rpc_url"].as_str().unwrap();
    assert_eq!(
        sol["address"].as_str().unwrap(),
        common::devnet_address(&ready, "solana-1", &[], "solana")
    );
    let payee = bs58::encode([7u8; 32]).into_string();
    let mut a = args(&[
        "sol",
        "send",
        "--json",
        "--sol-rpc",
        sol_rpc,
        "--to",
        &payee,
    ]);
    a.extend(args(&["--amount", "0.5"]));
    a.extend(requester(&ready, "solana-1"));
    let sent = chainsig_json(&a);
    assert_eq!(sent["confirmed"], true, "{sent}");
    let balance = rpc(sol_rpc, "getBalance", serde_json::json!([payee]));
    assert_eq!(balance["result"]["value"], 500_000_000u64);

    // Bitcoin: both funded addresses pay through the Esplora API; the regtest chain mines
    // them (each block accepted by Bitcoin Core's validation).
    let btc = &chains["bitcoin"];
    let esplora = btc["esplora_url"].as_str().unwrap();
    let payee = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
    for (kind, name) in [("p2wpkh", "btc_p2wpkh"), ("p2tr", "btc_p2tr")] {
        let address = btc[kind].as_str().unwrap();
        let derived =
            common::devnet_address(&ready, "bitcoin-1", &["--btc-network", "regtest"], name);
        assert_eq!(address, derived, "{kind}");
        let utxos = get_json(&format!("{esplora}/address/{address}/utxo"));
        assert_eq!(utxos[0]["value"], 1_000_000_000u64, "{kind}: {utxos}");
        let mut a = args(&[
            "btc",
            "send",
            "--json",
            "--esplora",
            esplora,
            "--btc-network",
            "regtest",
        ]);
        a.extend(args(&["--kind", kind, "--to", payee, "--amount", "0.25"]));
        a.extend(requester(&ready, "bitcoin-1"));
        let sent = chainsig_json(&a);
        assert_eq!(sent["broadcast"], true, "{sent}");
        assert_eq!(sent["from"], address);
        let txid = sent["txid"].as_str().unwrap();
        let height = mined(esplora, txid);
        let hash = reqwest::blocking::get(format!("{esplora}/block-height/{height}"))
            .unwrap()
            .text()
            .unwrap();
        let txids = get_json(&format!("{esplora}/block/{hash}/txids"));
        assert!(
            txids.as_array().unwrap().iter().any(|t| t == txid),
            "{txids}"
        );
    }
    let paid = get_json(&format!("{esplora}/address/{payee}"));
    assert_eq!(paid["chain_stats"]["funded_txo_sum"], 50_000_000u64);

    // The children stop with the devnet.
    let pids = ["evm", "solana", "bitcoin"].map(|d| {
        let pid = std::fs::read_to_string(dir.join(d).join("pid")).unwrap();
        pid.trim().to_owned()
    });
    assert!(pids.iter().all(|p| alive(p)), "{pids:?}");
    drop(devnet);
    for pid in &pids {
        assert!(!alive(pid), "{pid} still runs after the devnet stopped");
    }
    eprintln!("test wall time {:?}", started.elapsed());
}
