//! What the examples' end-to-end tests share: a devnet with anvil and the Bitcoin regtest
//! chain beside it, its funded accounts as [`client::account::Account`]s, an example's wasm
//! deployed under a sub-account, and the foreign chains funded, paid to and mined.
//!
//! The examples' wasm comes from `./scripts/build-contract.sh` (CI runs it before the tests),
//! anvil from `./scripts/test-tools.sh`, `chainsig-btc-regtest` from `cargo build -p
//! btc-regtest`: each missing piece fails the test with the command that provides it.

use client::account::{Account, FunctionCall};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::Devnet;

/// How long a foreign chain gets to mine what a test sent.
const MINED_WITHIN: Duration = Duration::from_secs(60);

/// Starts a devnet (4 nodes, threshold 3, 100 ms blocks) with anvil and the Bitcoin regtest
/// chain (`--with evm,bitcoin`), ready once each node holds `ready_stock` items per domain.
pub fn start_with_chains(dir: &Path, ready_stock: usize) -> (Devnet, Value) {
    let regtest = Path::new(env!("CARGO_BIN_EXE_chainsig")).with_file_name("chainsig-btc-regtest");
    assert!(
        regtest.is_file(),
        "{} is missing; build it first: cargo build -p btc-regtest",
        regtest.display()
    );
    testkit::test_tool("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    let port = super::free_port().port();
    super::start_stocked(dir, port, 100, ready_stock, &["--with", "evm,bitcoin"])
}

/// Where `./scripts/build-contract.sh` puts the example crate `crate_name`'s wasm.
pub fn example_wasm_path(crate_name: &str) -> PathBuf {
    let signer = testkit::signer_wasm_path();
    let target = signer.parent().expect("the target directory");
    target
        .join("examples")
        .join(format!("{}.wasm", crate_name.replace('-', "_")))
}

/// The example's wasm; fails with what to run when it has not been built.
pub fn example_wasm(crate_name: &str) -> Vec<u8> {
    let path = example_wasm_path(crate_name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{} ({e}): the example contract {crate_name} is not built; run \
             ./scripts/build-contract.sh first (it builds the signer and every examples/* \
             crate to wasm)",
            path.display()
        )
    })
}

/// The funded account `account_id` (`user1.devnet` …) of the devnet's ready line, with the
/// private key listed there.
pub fn funded(ready: &Value, account_id: &str) -> Account {
    let listed = ready["accounts"]
        .as_array()
        .expect("the ready line lists the funded accounts")
        .iter()
        .find(|a| a["account_id"] == account_id)
        .unwrap_or_else(|| panic!("{account_id} is not among the funded accounts: {ready}"));
    Account::from_secret_key(
        ready["rpc_url"].as_str().unwrap(),
        account_id,
        listed["private_key"].as_str().unwrap(),
    )
    .unwrap()
}

/// `parent` creates `name.<parent>` with `near` NEAR and a fresh key, and deploys the example
/// `crate_name` there, calling `init` in the same transaction.
pub async fn deploy_example(
    parent: &Account,
    name: &str,
    near: u128,
    crate_name: &str,
    init: Option<FunctionCall>,
) -> Account {
    let wasm = example_wasm(crate_name);
    let id = format!("{name}.{}", parent.id());
    let key = ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    let app = parent
        .create_sub_account(&id, near * client::near::YOCTO_PER_NEAR, &key)
        .await
        .unwrap_or_else(|e| panic!("creating {id}: {e}"));
    app.deploy(wasm, init)
        .await
        .unwrap_or_else(|e| panic!("deploying {crate_name} to {id}: {e}"));
    app
}

/// The foreign chains of a `--with evm,bitcoin` devnet, from its ready line.
pub struct Chains {
    pub esplora_url: String,
    pub esplora: client::btc::Esplora,
    pub eth: client::evm::EthRpc,
    pub eth_chain_id: u64,
    http: reqwest::Client,
}

impl Chains {
    pub fn from_ready(ready: &Value) -> Self {
        let chains = &ready["chains"];
        let esplora_url = chains["bitcoin"]["esplora_url"]
            .as_str()
            .unwrap_or_else(|| panic!("no Bitcoin chain in the ready line: {chains}"));
        let eth_url = chains["evm"]["rpc_url"]
            .as_str()
            .unwrap_or_else(|| panic!("no EVM chain in the ready line: {chains}"));
        Self {
            esplora_url: esplora_url.to_owned(),
            esplora: client::btc::Esplora::new(esplora_url),
            eth: client::evm::EthRpc::new(eth_url),
            eth_chain_id: chains["evm"]["chain_id"].as_u64().unwrap(),
            http: reqwest::Client::new(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.esplora_url);
        let response = self.http.post(&url).json(&body).send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{url}: HTTP {status}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: {e}: {text}"))
    }

    /// Pays `sats` to `address` from the regtest faucet and waits until it is mined; the txid.
    pub async fn fund_btc(&self, address: &bitcoin::Address, sats: u64) -> String {
        let paid = self
            .post(
                "/regtest/faucet",
                serde_json::json!({"address": address.to_string(), "sats": sats}),
            )
            .await;
        let txid = paid["txid"].as_str().expect("the faucet answers a txid");
        self.mined_btc(txid).await;
        txid.to_owned()
    }

    /// Broadcasts a signed spend (Bitcoin Core's validation checks its scripts before the
    /// mempool takes it) and waits until it is mined; the txid and the block's height.
    pub async fn send_btc(&self, tx: &bitcoin::Transaction) -> (String, u64) {
        let txid = self
            .esplora
            .broadcast(tx)
            .await
            .unwrap_or_else(|e| panic!("the regtest chain refused the spend: {e}"));
        assert_eq!(txid, tx.compute_txid().to_string());
        let height = self.mined_btc(&txid).await;
        (txid, height)
    }

    /// Mines a block at once and waits until `txid` is confirmed; its block's height.
    pub async fn mined_btc(&self, txid: &str) -> u64 {
        let until = Instant::now() + MINED_WITHIN;
        let url = format!("{}/tx/{txid}/status", self.esplora_url);
        loop {
            self.post("/regtest/mine", serde_json::json!({"blocks": 1}))
                .await;
            let status: Value = self
                .http
                .get(&url)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if status["confirmed"] == true {
                return status["block_height"].as_u64().unwrap();
            }
            assert!(Instant::now() < until, "{txid} not mined: {status}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Sets `address`'s balance on anvil (`anvil_setBalance`).
    pub async fn fund_eth(&self, address: alloy_primitives::Address, wei: u128) {
        let _: Value = self
            .eth
            .rpc()
            .call(
                "anvil_setBalance",
                serde_json::json!([address, format!("{wei:#x}")]),
            )
            .await
            .unwrap();
        let balance = self.eth.balance(address).await.unwrap();
        assert_eq!(balance, alloy_primitives::U256::from(wei));
    }

    /// Sends a signed transaction and waits for anvil to mine it; its receipt.
    pub async fn send_eth(&self, tx: &client::evm::SignedEvmTx) -> client::evm::Receipt {
        let hash = self
            .eth
            .send_raw(tx)
            .await
            .unwrap_or_else(|e| panic!("anvil refused the transaction: {e}"));
        assert_eq!(hash, tx.hash);
        self.eth.wait_receipt(hash, MINED_WITHIN).await.unwrap()
    }
}
