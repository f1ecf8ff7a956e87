//! The whole loop against the chains' own software: a devnet signs, `chainsig eth send` /
//! `chainsig sol send` assemble and broadcast, and anvil (Ethereum's dev node) and litesvm
//! (Solana's runtime, behind a loopback JSON-RPC) accept the results — and refuse a tampered
//! one; `chainsig xrp send` / `chainsig cosmos send` are checked by xrpl.js and CosmJS
//! (`foreign_chains/accounts.rs`). Wrong inputs fail before anything is signed or sent.
//!
//! Needs `./scripts/test-tools.sh` (run by `./scripts/test.sh`).

#[path = "foreign_chains/accounts.rs"]
mod accounts;
mod common;

use common::{args, chainsig, requester};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed when dropped (anvil, the litesvm RPC).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One JSON-RPC call; the whole reply.
fn rpc(url: &str, method: &str, params: serde_json::Value) -> serde_json::Value {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let client = reqwest::blocking::Client::new();
    client.post(url).json(&body).send().unwrap().json().unwrap()
}

fn wait_for_rpc(url: &str, method: &str) {
    let until = Instant::now() + Duration::from_secs(30);
    let client = reqwest::blocking::Client::new();
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": []});
    while client.post(url).json(&body).send().is_err() {
        assert!(Instant::now() < until, "{url} never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn hex_u128(v: &serde_json::Value) -> u128 {
    u128::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

const ETHER: u128 = 1_000_000_000_000_000_000;

fn ethereum(ready: &serde_json::Value) {
    let anvil_bin = testkit::test_tool("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    let port = common::free_port().port();
    let _anvil = Killed(
        Command::new(anvil_bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--chain-id", "31337", "--silent"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}");
    wait_for_rpc(&url, "eth_chainId");

    // The sender's address, as `chainsig address --rpc` reads it from the contract.
    let from = common::devnet_address(ready, "ethereum-1", &[], "evm");
    let funded = format!("{:#x}", 10 * ETHER);
    rpc(&url, "anvil_setBalance", serde_json::json!([from, funded]));
    let recipient = "0x1111111111111111111111111111111111111111";

    let send = |extra: &[&str]| {
        let mut a = args(&[
            "eth",
            "send",
            "--json",
            "--eth-rpc",
            &url,
            "--to",
            recipient,
        ]);
        a.extend(requester(ready, "ethereum-1"));
        a.extend(args(extra));
        chainsig(&a)
    };
    // Wrong inputs: nothing is signed, nothing sent.
    for (extra, needle) in [
        (&["--value", "1000"][..], "insufficient funds"),
        (&["--value", "0.1", "--chain-id", "1"], "serves chain 31337"),
        (&["--value", "one"], "not an amount"),
        (&["--value", "0.1", "--gas-limit", "100"], "gas limit"),
        (
            &["--gas-price", "1000000000"],
            "--gas-price is for --legacy",
        ),
        (&["--max-fee-per-gas", "1000000000"], "give both"),
        (
            &["--legacy", "--max-priority-fee-per-gas", "1"],
            "are for EIP-1559",
        ),
    ] {
        let (code, out, err) = send(extra);
        assert_eq!(code, 2, "{extra:?}: {err}");
        assert!(out.is_empty() && err.contains(needle), "{extra:?}: {err}");
    }
    let (code, _, err) = chainsig(&{
        let mut a = args(&[
            "eth",
            "send",
            "--to",
            "0x1234",
            "--chain-id",
            "1",
            "--nonce",
            "0",
        ]);
        a.extend(requester(ready, "ethereum-1"));
        a
    });
    assert!(code == 2 && err.contains("not an EVM address"), "{err}");
    let nonce = rpc(
        &url,
        "eth_getTransactionCount",
        serde_json::json!([from, "latest"]),
    );
    assert_eq!(
        hex_u128(&nonce["result"]),
        0,
        "a refused send changed the nonce"
    );

    // Legacy (EIP-155) and EIP-1559 transfers, signed through the devnet, with the fees read
    // from the node or given.
    let gwei = |n: u64| (n * 1_000_000_000).to_string();
    let (five, three, two) = (gwei(5), gwei(3), gwei(2));
    for (extra, kind) in [
        (&["--value", "0.5", "--legacy"][..], "legacy"),
        (&["--value", "0.25"], "eip1559"),
        (
            &["--value", "0", "--legacy", "--gas-price", &five],
            "legacy",
        ),
        (
            &[
                "--value",
                "0",
                "--max-fee-per-gas",
                &three,
                "--max-priority-fee-per-gas",
                &two,
            ],
            "eip1559",
        ),
    ] {
        let (code, out, err) = send(extra);
        assert_eq!(code, 0, "{kind}: {err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["type"], kind);
        assert_eq!(v["from"].as_str().unwrap(), from);
        assert_eq!(v["receipt"]["status"], "success", "{v}");
        let receipt = rpc(
            &url,
            "eth_getTransactionReceipt",
            serde_json::json!([v["hash"]]),
        );
        assert_eq!(receipt["result"]["status"], "0x1");
        let tx = rpc(
            &url,
            "eth_getTransactionByHash",
            serde_json::json!([v["hash"]]),
        );
        let expected_type = if kind == "legacy" { "0x0" } else { "0x2" };
        assert_eq!(tx["result"]["type"], expected_type);
        // Fees given on the command line are the ones signed.
        for (flag, field) in [
            ("--gas-price", "gasPrice"),
            ("--max-fee-per-gas", "maxFeePerGas"),
            ("--max-priority-fee-per-gas", "maxPriorityFeePerGas"),
        ] {
            if let Some(i) = extra.iter().position(|a| *a == flag) {
                let given: u128 = extra[i + 1].parse().unwrap();
                assert_eq!(hex_u128(&tx["result"][field]), given, "{kind} {field}");
            }
        }
        assert_eq!(
            tx["result"]["from"].as_str().unwrap().to_lowercase(),
            from.to_lowercase()
        );
    }
    let balance = rpc(
        &url,
        "eth_getBalance",
        serde_json::json!([recipient, "latest"]),
    );
    assert_eq!(hex_u128(&balance["result"]), ETHER * 3 / 4);

    messages_recover_on_chain(ready, &url, &from);
    calls_by_signature(ready, &url, &from);
}

/// The signer an Ethereum node's ecrecover precompile (address 0x01) finds for `hash` and a
/// 65-byte `r ‖ s ‖ v` signature: what a contract verifying it would see.
fn ecrecover(url: &str, hash: &str, signature: &str) -> String {
    let sig = hex::decode(signature.trim_start_matches("0x")).unwrap();
    assert_eq!(sig.len(), 65);
    let input = format!(
        "0x{}{:0>64x}{}{}",
        hash.trim_start_matches("0x"),
        sig[64],
        hex::encode(&sig[..32]),
        hex::encode(&sig[32..64])
    );
    let out = rpc(
        url,
        "eth_call",
        serde_json::json!([{"to": "0x0000000000000000000000000000000000000001", "data": input}, "latest"]),
    );
    let word = out["result"]
        .as_str()
        .unwrap()
        .trim_start_matches("0x")
        .to_owned();
    format!("0x{}", &word[24..])
}

/// `eth sign-message` (EIP-191) and `eth sign-typed-data` (EIP-712): the printed signatures
/// recover the derived address through anvil's ecrecover; the typed data's hash is EIP-712's
/// own example's.
fn messages_recover_on_chain(ready: &serde_json::Value, url: &str, from: &str) {
    let sign = |extra: &[&str]| {
        let mut a = args(&["eth"]);
        a.extend(args(extra));
        a.push("--json".into());
        a.extend(requester(ready, "ethereum-1"));
        common::chainsig_json(&a)
    };
    let v = sign(&["sign-message", "--message", "hello from chainsig"]);
    assert_eq!(v["address"].as_str().unwrap(), from);
    let expected = alloy_primitives::eip191_hash_message(b"hello from chainsig");
    assert_eq!(v["hash"], expected.to_string());
    let recovered = ecrecover(
        url,
        v["hash"].as_str().unwrap(),
        v["signature"].as_str().unwrap(),
    );
    assert_eq!(recovered.to_lowercase(), from.to_lowercase());
    let hex_form = sign(&["sign-message", "--hex", &hex::encode("hello from chainsig")]);
    assert_eq!(hex_form["hash"], v["hash"]);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mail.json");
    std::fs::write(&file, MAIL).unwrap();
    let v = sign(&["sign-typed-data", "--file", file.to_str().unwrap()]);
    assert_eq!(
        v["hash"],
        "0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2"
    );
    let recovered = ecrecover(
        url,
        v["hash"].as_str().unwrap(),
        v["signature"].as_str().unwrap(),
    );
    assert_eq!(recovered.to_lowercase(), from.to_lowercase());
    std::fs::write(&file, r#"{"types": {}}"#).unwrap();
    let mut a = args(&["eth", "sign-typed-data", "--file", file.to_str().unwrap()]);
    a.extend(requester(ready, "ethereum-1"));
    let (code, out, err) = chainsig(&a);
    assert!(
        code == 2 && out.is_empty() && err.contains("not EIP-712 typed data"),
        "{err}"
    );
}

/// EIP-712's example: the `Mail` from Cow to Bob.
const MAIL: &str = r#"{"types": {"EIP712Domain": [{"name": "name", "type": "string"},
  {"name": "version", "type": "string"}, {"name": "chainId", "type": "uint256"},
  {"name": "verifyingContract", "type": "address"}],
  "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
  "Mail": [{"name": "from", "type": "Person"}, {"name": "to", "type": "Person"},
  {"name": "contents", "type": "string"}]},
  "primaryType": "Mail",
  "domain": {"name": "Ether Mail", "version": "1", "chainId": 1,
  "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"},
  "message": {"from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
  "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
  "contents": "Hello, Bob!"}}"#;

/// Deploys `init` code from anvil's first (unlocked) account; the new contract's address.
fn deploy(url: &str, init: &str) -> String {
    let deployer = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
    let sent = rpc(
        url,
        "eth_sendTransaction",
        serde_json::json!([{"from": deployer, "data": init, "gas": "0x100000"}]),
    );
    let hash = sent["result"].clone();
    let receipt = rpc(url, "eth_getTransactionReceipt", serde_json::json!([hash]));
    receipt["result"]["contractAddress"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The creation code of `support/Token.sol`, compiled by solc-js (Solidity's compiler).
fn token_bytecode() -> String {
    testkit::test_tool("node_modules/solc/soljson.js");
    let support = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support");
    let out = Command::new("node")
        .arg(support.join("compile-sol.cjs"))
        .arg(testkit::test_tools_dir())
        .arg(support.join("Token.sol"))
        .output()
        .expect("node runs (./scripts/test-tools.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A 32-byte ABI word of an address.
fn word(address: &str) -> String {
    format!("{:0>64}", address.trim_start_matches("0x").to_lowercase())
}

/// `balanceOf(who)` on `token`, read with `eth_call`.
fn token_balance(url: &str, token: &str, who: &str) -> u128 {
    let out = rpc(
        url,
        "eth_call",
        serde_json::json!([{"to": token, "data": format!("0x70a08231{}", word(who))}, "latest"]),
    );
    hex_u128(&out["result"])
}

/// An ERC-20 transfer by `eth send --sig "transfer(address,uint256)" TO AMOUNT`: the tokens
/// move from the derived address (the token, compiled by solc, was minted to it). Asking for
/// more than the balance is refused before anything is signed: `eth_call` runs it first and
/// the token's revert reason is the error.
fn calls_by_signature(ready: &serde_json::Value, url: &str, from: &str) {
    let supply = 1_000_000u128;
    let token = deploy(
        url,
        &format!("0x{}{}{:064x}", token_bytecode(), word(from), supply),
    );
    assert_eq!(token_balance(url, &token, from), supply);
    let recipient = "0x2222222222222222222222222222222222222222";
    let transfer = |amount: &str| {
        let mut a = args(&[
            "eth",
            "send",
            "--json",
            "--eth-rpc",
            url,
            "--to",
            &token,
            "--sig",
            "transfer(address,uint256)",
            recipient,
            amount,
        ]);
        a.extend(requester(ready, "ethereum-1"));
        chainsig(&a)
    };
    let nonce = |who: &str| {
        hex_u128(
            &rpc(
                url,
                "eth_getTransactionCount",
                serde_json::json!([who, "latest"]),
            )["result"],
        )
    };
    let before = nonce(from);
    let (code, out, err) = transfer("2000000");
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty() && err.contains("would revert"), "{err}");
    assert!(
        err.contains("insufficient balance"),
        "the token's reason: {err}"
    );
    assert!(
        !err.contains("asking the network"),
        "nothing is signed: {err}"
    );
    assert_eq!(nonce(from), before);

    let (code, out, err) = transfer("1000");
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["receipt"]["status"], "success", "{v}");
    let tx = rpc(
        url,
        "eth_getTransactionByHash",
        serde_json::json!([v["hash"]]),
    );
    assert_eq!(
        tx["result"]["input"],
        format!("0xa9059cbb{}{:064x}", word(recipient), 1000)
    );
    assert_eq!(token_balance(url, &token, recipient), 1000);
    assert_eq!(token_balance(url, &token, from), supply - 1000);
}

fn solana(ready: &serde_json::Value) {
    let tools = testkit::test_tools_dir();
    testkit::test_tool("node_modules/litesvm-linux-x64-gnu/litesvm.linux-x64-gnu.node");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/litesvm-rpc.cjs");
    let mut child = Command::new("node")
        .arg(script)
        .arg(&tools)
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs (./scripts/test-tools.sh installs it)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _svm = Killed(child);
    let port = serde_json::from_str::<serde_json::Value>(&line).unwrap()["port"]
        .as_u64()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");

    let from = common::devnet_address(ready, "solana-1", &["--domain", "1"], "solana");
    let recipient = bs58::encode([7u8; 32]).into_string();
    let send = |extra: &[&str]| {
        let mut a = args(&[
            "sol",
            "send",
            "--json",
            "--sol-rpc",
            &url,
            "--to",
            &recipient,
        ]);
        a.extend(requester(ready, "solana-1"));
        a.extend(args(extra));
        chainsig(&a)
    };
    // Unfunded: refused before signing.
    let (code, _, err) = send(&["--amount", "0.5"]);
    assert!(code == 2 && err.contains("insufficient funds"), "{err}");
    let (code, _, err) = send(&["--amount", "1.0000000001"]);
    assert!(code == 2 && err.contains("not an amount"), "{err}");
    let airdrop = rpc(
        &url,
        "requestAirdrop",
        serde_json::json!([from, 2_000_000_000u64]),
    );
    assert!(airdrop.get("error").is_none(), "{airdrop}");

    // Signed through the devnet and accepted by Solana's runtime.
    let (code, out, err) = send(&["--amount", "0.5"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["confirmed"], true);
    assert_eq!(v["from"].as_str().unwrap(), from);
    let balance = rpc(&url, "getBalance", serde_json::json!([recipient]));
    assert_eq!(balance["result"]["value"], 500_000_000u64);

    // Another transfer, signed but not sent: tampered, litesvm refuses it; intact, it lands.
    let (code, out, err) = send(&["--lamports", "1000000", "--no-send"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["confirmed"], false);
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let wire = b64
        .decode(v["transaction_base64"].as_str().unwrap())
        .unwrap();
    let mut tampered = wire.clone();
    tampered[10] ^= 1; // inside the signature
    let refused = rpc(
        &url,
        "sendTransaction",
        serde_json::json!([b64.encode(&tampered), {"encoding": "base64"}]),
    );
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("Signature"), "{refused}");
    let accepted = rpc(
        &url,
        "sendTransaction",
        serde_json::json!([b64.encode(&wire), {"encoding": "base64"}]),
    );
    assert_eq!(accepted["result"], v["signature"], "{accepted}");
    let balance = rpc(&url, "getBalance", serde_json::json!([recipient]));
    assert_eq!(balance["result"]["value"], 501_000_000u64);
}

#[test]
fn transactions_signed_by_the_devnet_are_accepted_by_the_chains_software() {
    let tmp = tempfile::tempdir().unwrap();
    let port = common::free_port().port();
    let (devnet, ready) = common::start(&tmp.path().join("devnet"), port);
    ethereum(&ready);
    solana(&ready);
    accounts::xrp(&ready);
    accounts::cosmos(&ready);
    drop(devnet);
}
