//! examples/btc-vault on the devnet with the real MPC nodes and the Bitcoin regtest chain: the
//! vault's deposit address (derived in the contract) is funded by the regtest faucet, the
//! owner lists the UTXO for a NEAR price, an underpaid buy is refused, a paid buy returns the
//! spend the contract built and had signed, which Bitcoin Core's validation accepts and the
//! chain mines; the beneficiary gets the price, and a second buy is refused. Reports the gas
//! of listing (a key derivation in wasm) and of a release.
//!
//! Needs `./scripts/build-contract.sh` (the example's wasm), `./scripts/test-tools.sh`
//! (anvil) and `cargo build -p btc-regtest`, all done by `./scripts/test.sh`.

mod common;

use client::account::FunctionCall;
use client::address::BitcoinNetwork;
use common::examples::{self, Chains};
use common::outcome::{self, tgas};
use primitives::NearPublicKey;
use serde_json::{json, Value};
use std::time::Instant;

const OWNER: &str = "user.devnet";
const BUYER: &str = "user2.devnet";
const BENEFICIARY: &str = "user3.devnet";
const PATH: &str = "deposit/alice.devnet";
const NEAR: u128 = 1_000_000_000_000_000_000_000_000;
const DEPOSIT_SATS: u64 = 1_000_000;
const FEE_SATS: u64 = 2_000;
/// Where the buyer wants the Bitcoin: a regtest P2WPKH address.
const DESTINATION: &str = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";

fn secret_of(ready: &Value, account: &str) -> String {
    ready["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account_id"] == account)
        .unwrap_or_else(|| panic!("{account} is not listed"))["private_key"]
        .as_str()
        .unwrap()
        .to_owned()
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_release_is_mined_and_bad_buys_are_refused() {
    let started = Instant::now();
    examples::example_wasm("example-btc-vault");
    let tmp = tempfile::tempdir().unwrap();
    let (_devnet, ready) = examples::start_with_chains(&tmp.path().join("devnet"), 2);
    eprintln!("devnet ready in {:.1} s", started.elapsed().as_secs_f64());
    let chains = Chains::from_ready(&ready);
    let rpc_url = ready["rpc_url"].as_str().unwrap();
    let signer_id = ready["contract_id"].as_str().unwrap();
    let domain = &ready["domains"][0];
    assert_eq!(domain["scheme"], "Secp256k1");
    let root_text = domain["public_key"].as_str().unwrap();
    let root: NearPublicKey = root_text.parse().unwrap();

    let owner = examples::funded(&ready, OWNER);
    let init = FunctionCall::new(
        "new",
        json!({"signer_contract": signer_id, "root_public_key": root_text,
               "network": "regtest", "owner": OWNER}),
    );
    let vault =
        examples::deploy_example(&owner, "vault", 20, "example-btc-vault", Some(init)).await;
    let vault_id = vault.id().to_owned();

    // The deposit address the contract computes is the one the network's key derivation gives.
    let shown = owner
        .view(&vault_id, "deposit_address", json!({ "path": PATH }))
        .await
        .unwrap();
    let NearPublicKey::Secp256k1(key) =
        primitives::derivation::derive_public_key(&root, &vault_id, PATH).unwrap()
    else {
        panic!("domain 0 is not secp256k1");
    };
    let address = client::address::bitcoin_p2wpkh(&key, BitcoinNetwork::Regtest);
    assert_eq!(shown["address"], address.to_string());

    let funding = chains.fund_btc(&address, DEPOSIT_SATS).await;
    let utxos = chains.esplora.utxos(&address).await.unwrap();
    assert_eq!(utxos.len(), 1, "{utxos:?}");
    assert_eq!(utxos[0].outpoint.txid.to_string(), funding);
    assert_eq!(utxos[0].value.to_sat(), DEPOSIT_SATS);
    let vout = utxos[0].outpoint.vout;
    eprintln!(
        "deposit {funding}:{vout} mined, {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The owner lists it for 2 NEAR, paid to the beneficiary.
    let price = 2 * NEAR;
    let list = FunctionCall::new(
        "list_utxo",
        json!({"txid": funding, "vout": vout, "amount_sats": DEPOSIT_SATS, "path": PATH,
               "price": price.to_string(), "beneficiary": BENEFICIARY}),
    );
    let listed = outcome::call(rpc_url, OWNER, &secret_of(&ready, OWNER), &vault_id, list).await;
    let view = listed.result().unwrap();
    assert_eq!(view["status"], "listed");
    assert_eq!(view["address"], address.to_string());
    eprintln!(
        "list_utxo (derives the key in wasm): {:.2} TGas",
        tgas(listed.gas_on(&vault_id)[0])
    );

    let buyer_key = secret_of(&ready, BUYER);
    let buy = |deposit: u128| {
        FunctionCall::new(
            "buy",
            json!({"txid": funding, "vout": vout, "destination": DESTINATION,
                   "fee_sats": FEE_SATS}),
        )
        .deposit(deposit)
    };
    let listing = || async {
        owner
            .view(&vault_id, "listing", json!({"txid": funding, "vout": vout}))
            .await
            .unwrap()
    };

    // Underpaid: refused, nothing changes, and NEAR returns the attached deposit of a failed
    // call: the buyer pays only the gas its outcomes report as burnt.
    let buyer_before = common::near_balance(rpc_url, BUYER).await.unwrap();
    let short = outcome::call(rpc_url, BUYER, &buyer_key, &vault_id, buy(price - 1)).await;
    let e = short
        .result()
        .expect_err("an underpaid buy must be refused");
    assert!(e.contains("is below the price"), "{e}");
    assert_eq!(listing().await["status"], "listed");
    assert_eq!(
        buyer_before - common::near_balance(rpc_url, BUYER).await.unwrap(),
        short.tokens_burnt,
        "the underpaid deposit must come back"
    );

    // Paid (with 0.5 NEAR too much, refunded): the vault returns the signed spend.
    let before = common::near_balance(rpc_url, BENEFICIARY).await.unwrap();
    let paid = outcome::call(rpc_url, BUYER, &buyer_key, &vault_id, buy(price + NEAR / 2)).await;
    let release = paid
        .result()
        .unwrap_or_else(|e| panic!("the paid buy failed: {e}"));
    let vault_gas = paid.gas_on(&vault_id);
    eprintln!(
        "buy: {:.2} TGas on the vault, callback {:.2} TGas, whole transaction {:.2} TGas; {:.1} s",
        tgas(vault_gas[0]),
        tgas(*vault_gas.last().unwrap()),
        tgas(paid.receipts.iter().map(|r| r.gas_burnt).sum()),
        started.elapsed().as_secs_f64()
    );
    let bytes = hex::decode(release["tx_hex"].as_str().unwrap()).unwrap();
    let tx: bitcoin::Transaction = bitcoin::consensus::deserialize(&bytes).unwrap();
    assert_eq!(tx.input.len(), 1);
    assert_eq!(tx.input[0].previous_output, utxos[0].outpoint);
    assert_eq!(tx.output[0].value.to_sat(), DEPOSIT_SATS - FEE_SATS);
    assert_eq!(release["public_key"], shown["public_key"]);
    // Bitcoin Core's validation checks the witness before the mempool takes it; then it is
    // mined.
    let (txid, height) = chains.send_btc(&tx).await;
    assert_eq!(txid, release["txid"]);
    let destination = client::btc::parse_address(DESTINATION, BitcoinNetwork::Regtest).unwrap();
    let received = chains.esplora.utxos(&destination).await.unwrap();
    assert!(
        received
            .iter()
            .any(|u| u.outpoint.txid.to_string() == txid
                && u.value.to_sat() == DEPOSIT_SATS - FEE_SATS),
        "{received:?}"
    );
    eprintln!(
        "release {txid} mined at height {height}, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The beneficiary got exactly the price; the listing is released for good.
    let after = common::near_balance(rpc_url, BENEFICIARY).await.unwrap();
    assert_eq!(after - before, price);
    let l = listing().await;
    assert_eq!(l["status"], "released");
    assert_eq!(l["buyer"], BUYER);
    assert_eq!(l["spend_txid"], txid);

    // A second buy of the same UTXO is refused.
    let twice = outcome::call(rpc_url, BUYER, &buyer_key, &vault_id, buy(price)).await;
    let e = twice
        .result()
        .expect_err("a second release must be refused");
    assert!(e.contains("was already released"), "{e}");
    eprintln!("test wall time {:.1} s", started.elapsed().as_secs_f64());
}
