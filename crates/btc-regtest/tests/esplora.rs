//! `chainsig-btc-regtest` as a process, through its Esplora API: the faucet funds an address,
//! a spend broadcast with `POST /tx` is mined and shows up where wallets look, an invalid one
//! is refused with Bitcoin Core's reason, malformed requests get 400 (and the service goes on),
//! and a restart on the same directory serves the same chain.

use bitcoin::secp256k1::{Secp256k1, SecretKey};
use bitcoin::{
    Address, Amount, CompressedPublicKey, Network, OutPoint, ScriptBuf, Sequence, Transaction,
    TxIn, TxOut, Txid, Witness,
};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// The service, stopped with SIGTERM when dropped.
struct Regtest {
    child: Child,
    url: String,
}

impl Regtest {
    fn start(dir: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chainsig-btc-regtest"))
            .args(["--listen", "127.0.0.1:0", "--block-ms", "200", "--dir"])
            .arg(dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        let url = ready["esplora_url"].as_str().unwrap().to_owned();
        Self { child, url }
    }

    fn get(&self, path: &str) -> (u16, String) {
        let response = reqwest::blocking::get(format!("{}{path}", self.url)).unwrap();
        (response.status().as_u16(), response.text().unwrap())
    }

    fn get_json(&self, path: &str) -> serde_json::Value {
        let (status, text) = self.get(path);
        assert_eq!(status, 200, "{path}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    fn post(&self, path: &str, body: &str) -> (u16, String) {
        let client = reqwest::blocking::Client::new();
        let response = client
            .post(format!("{}{path}", self.url))
            .body(body.to_owned())
            .send()
            .unwrap();
        (response.status().as_u16(), response.text().unwrap())
    }

    fn wait_confirmed(&self, txid: &str) -> u64 {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let status = self.get_json(&format!("/tx/{txid}/status"));
            if status["confirmed"] == true {
                return status["block_height"].as_u64().unwrap();
            }
            assert!(Instant::now() < until, "{txid} not mined");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM; the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < until, "no exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Regtest {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn esplora_serves_funds_mines_and_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let service = Regtest::start(dir.path());
    let (_, height) = service.get("/blocks/tip/height");
    assert!(height.parse::<u32>().unwrap() >= 110, "{height}");
    let fees = service.get_json("/fee-estimates");
    assert_eq!(fees["6"], 1.0);

    malformed_requests_get_400(&service);

    // A key of the test's own, funded by the faucet.
    let secp = Secp256k1::signing_only();
    let key = SecretKey::from_slice(&[3u8; 32]).unwrap();
    let address = Address::p2wpkh(
        &CompressedPublicKey(key.public_key(&secp)),
        Network::Regtest,
    );
    let body = serde_json::json!({"address": address.to_string(), "sats": 50_000_000});
    let (status, paid) = service.post("/regtest/faucet", &body.to_string());
    assert_eq!(status, 200, "{paid}");
    let paid: serde_json::Value = serde_json::from_str(&paid).unwrap();
    let funding = paid["txid"].as_str().unwrap().to_owned();
    let unconfirmed = service.get_json(&format!("/address/{address}/utxo"));
    assert_eq!(
        unconfirmed[0]["status"]["confirmed"], false,
        "{unconfirmed}"
    );
    service.wait_confirmed(&funding);
    let utxos = service.get_json(&format!("/address/{address}/utxo"));
    assert_eq!(utxos.as_array().unwrap().len(), 1, "{utxos}");
    assert_eq!(utxos[0]["txid"], funding.as_str());
    assert_eq!(utxos[0]["value"], 50_000_000);
    assert_eq!(utxos[0]["status"]["confirmed"], true);
    let info = service.get_json(&format!("/address/{address}"));
    assert_eq!(info["chain_stats"]["funded_txo_sum"], 50_000_000);

    // A spend of it: tampered, refused with Bitcoin Core's reason; intact, mined.
    let vout = utxos[0]["vout"].as_u64().unwrap() as u32;
    let outpoint = OutPoint::new(Txid::from_str(&funding).unwrap(), vout);
    let spent = TxOut {
        value: Amount::from_sat(50_000_000),
        script_pubkey: address.script_pubkey(),
    };
    let recipient = ScriptBuf::new_p2wpkh(
        &CompressedPublicKey(SecretKey::from_slice(&[4u8; 32]).unwrap().public_key(&secp))
            .wpubkey_hash(),
    );
    let mut spend = Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: outpoint,
            script_sig: ScriptBuf::new(),
            sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: Amount::from_sat(49_990_000),
            script_pubkey: recipient,
        }],
    };
    btc_regtest::faucet::sign_p2wpkh(&secp, &key, &mut spend, &[spent]).unwrap();
    let mut bad = spend.clone();
    let mut items: Vec<Vec<u8>> = bad.input[0].witness.iter().map(<[u8]>::to_vec).collect();
    items[0][10] ^= 1;
    bad.input[0].witness = Witness::from_slice(&items);
    let (status, refused) = service.post("/tx", &bitcoin::consensus::encode::serialize_hex(&bad));
    assert_eq!(status, 400);
    assert!(
        refused.contains("mandatory-script-verify-flag-failed"),
        "{refused}"
    );
    let (status, txid) = service.post("/tx", &bitcoin::consensus::encode::serialize_hex(&spend));
    assert_eq!(status, 200, "{txid}");
    assert_eq!(txid, spend.compute_txid().to_string());
    let mined_at = service.wait_confirmed(&txid);
    let tx = service.get_json(&format!("/tx/{txid}"));
    assert_eq!(tx["fee"], 10_000);
    assert_eq!(
        tx["vin"][0]["prevout"]["scriptpubkey_address"],
        address.to_string()
    );
    assert_eq!(tx["vout"][0]["scriptpubkey_type"], "v0_p2wpkh");
    assert_eq!(tx["status"]["block_height"], mined_at);
    let outspend = service.get_json(&format!("/tx/{funding}/outspend/{vout}"));
    assert_eq!(outspend["spent"], true);
    assert_eq!(outspend["txid"], txid.as_str());
    assert_eq!(
        service.get_json(&format!("/address/{address}/utxo")),
        serde_json::json!([])
    );
    let history = service.get_json(&format!("/address/{address}/txs"));
    assert_eq!(history[0]["txid"], txid.as_str(), "newest first");
    assert_eq!(history[1]["txid"], funding.as_str());
    let hash = service.get(&format!("/block-height/{mined_at}")).1;
    let txids = service.get_json(&format!("/block/{hash}/txids"));
    assert_eq!(txids[1], txid.as_str());

    // Mine on demand; then stop, and start again on the same directory.
    let (status, mined) = service.post("/regtest/mine", r#"{"blocks": 3}"#);
    assert_eq!(status, 200, "{mined}");
    let (_, tip) = service.get("/blocks/tip/hash");
    let tip_height: u64 = service.get("/blocks/tip/height").1.parse().unwrap();
    assert!(service.stop().success(), "a clean stop");
    let again = Regtest::start(dir.path());
    let resumed: u64 = again.get("/blocks/tip/height").1.parse().unwrap();
    assert!(resumed >= tip_height, "{resumed} < {tip_height}");
    assert_eq!(again.get(&format!("/block-height/{tip_height}")).1, tip);
    assert_eq!(again.wait_confirmed(&txid), mined_at);
    assert_eq!(again.get_json(&format!("/tx/{txid}"))["fee"], 10_000);
}

fn malformed_requests_get_400(service: &Regtest) {
    let mainnet = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
    for path in [
        "/tx/nothex".to_owned(),
        "/tx/00/status".to_owned(),
        "/block/xyz".to_owned(),
        "/block-height/-1".to_owned(),
        "/blocks/abc".to_owned(),
        "/address/nonsense/utxo".to_owned(),
        format!("/address/{mainnet}/utxo"),
        format!("/address/{mainnet}"),
        format!("/tx/{}/outspend/x", "11".repeat(32)),
    ] {
        assert_eq!(service.get(&path).0, 400, "{path}");
    }
    let unknown = "11".repeat(32);
    assert_eq!(service.get(&format!("/tx/{unknown}")).0, 404);
    assert_eq!(service.get("/block-height/99999999").0, 404);
    let regtest = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
    for (path, body) in [
        ("/tx", "zz"),
        ("/tx", "0200000000"),
        ("/tx", ""),
        ("/regtest/faucet", "{"),
        ("/regtest/faucet", r#"{"address": "x", "sats": 1000}"#),
        ("/regtest/faucet", r#"{"sats": 1000}"#),
        ("/regtest/mine", r#"{"blocks": 0}"#),
        ("/regtest/mine", r#"{"blocks": 5000}"#),
        ("/regtest/mine", r#"{"blocks": "two"}"#),
    ] {
        let (status, text) = service.post(path, body);
        assert_eq!(status, 400, "{path} {body}: {text}");
    }
    let dust = serde_json::json!({"address": regtest, "sats": 1}).to_string();
    assert_eq!(service.post("/regtest/faucet", &dust).0, 400);
    let huge = serde_json::json!({"address": regtest, "sats": u64::MAX}).to_string();
    assert_eq!(service.post("/regtest/faucet", &huge).0, 400);
    // Still serving.
    assert_eq!(service.get("/blocks/tip/height").0, 200);
}
