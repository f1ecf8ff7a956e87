//! examples/account-swap on the devnet with the real MPC nodes, anvil and the Bitcoin regtest
//! chain: a seller and a buyer swap control of a funded Bitcoin address and a funded Ethereum
//! address through the marketplace contract, with no transaction on either chain; then the
//! buyer spends the Bitcoin (a P2WPKH spend signed through the contract, accepted by Bitcoin
//! Core's validation and mined) and the seller moves the Ether (mined by anvil with status
//! success), while the former owners are refused by the contract.
//!
//! Needs `./scripts/build-contract.sh` (the example's wasm), `./scripts/test-tools.sh`
//! (anvil) and `cargo build -p btc-regtest`, all done by `./scripts/test.sh`.

mod common;

use client::account::{Account, AccountError, FunctionCall};
use client::address::BitcoinNetwork;
use client::btc::{Spend, SpendKind};
use client::evm::{EvmTx, Fees, TRANSFER_GAS};
use common::examples::{self, Chains};
use primitives::response::SignatureResponse;
use primitives::NearPublicKey;
use serde_json::json;
use std::time::Instant;

const SELLER: &str = "user1.devnet";
const BUYER: &str = "user2.devnet";
/// The paths each side claims: the seller's holds Bitcoin, the buyer's Ether.
const BTC_PATH: &str = "btc-1";
const ETH_PATH: &str = "eth-1";
/// Domain 0 of every devnet is Secp256k1: it signs both a P2WPKH input and an EVM transaction.
const DOMAIN: u64 = 0;
const ETH: u128 = 1_000_000_000_000_000_000;

/// The marketplace's `sign` for `payload` (a 32-byte hash) on `path`, as `who`.
async fn sign_through(
    who: &Account,
    market: &str,
    path: &str,
    payload: [u8; 32],
) -> Result<SignatureResponse, AccountError> {
    let request = json!({"request": {"path": path, "payload_v2": {"Ecdsa": hex::encode(payload)},
        "domain_id": DOMAIN}});
    let answer = who
        .call(market, FunctionCall::new("sign", request).deposit(1))
        .await?;
    Ok(serde_json::from_value(answer.clone()).unwrap_or_else(|e| panic!("{e}: {answer}")))
}

/// The key the signer derives for (the marketplace, `path`): what the path's addresses are.
fn derived(root: &NearPublicKey, market: &str, path: &str) -> k256::AffinePoint {
    match primitives::derivation::derive_public_key(root, market, path).unwrap() {
        NearPublicKey::Secp256k1(point) => point,
        other => panic!("domain {DOMAIN} is not Secp256k1: {other:?}"),
    }
}

/// The contract's refusal, as NEAR reports it (`ExecutionError("Smart contract panicked:
/// …")`, the message in Debug form: its quotes escaped, undone here).
fn refusal(result: Result<SignatureResponse, AccountError>) -> String {
    match result {
        Err(AccountError::Failed(text)) => {
            assert!(text.contains("Smart contract panicked"), "{text}");
            text.replace("\\\"", "\"")
        }
        other => panic!("the contract should have refused: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buyer_and_seller_swap_a_bitcoin_and_an_ethereum_address_and_each_spends() {
    let started = Instant::now();
    // Before anything starts: without the example's wasm the test says how to build it.
    examples::example_wasm("example-account-swap");
    let tmp = tempfile::tempdir().unwrap();
    let (_devnet, ready) = examples::start_with_chains(&tmp.path().join("devnet"), 2);
    eprintln!("devnet ready in {:.1} s", started.elapsed().as_secs_f64());
    let chains = Chains::from_ready(&ready);
    let signer_id = ready["contract_id"].as_str().unwrap();
    let domain = &ready["domains"][DOMAIN as usize];
    assert_eq!(domain["scheme"], "Secp256k1");
    let root: NearPublicKey = domain["public_key"].as_str().unwrap().parse().unwrap();

    // The marketplace, under a sub-account of the devnet's user.
    let owner = examples::funded(&ready, "user.devnet");
    let init = FunctionCall::new("new", json!({ "signer_id": signer_id }));
    let market =
        examples::deploy_example(&owner, "market", 20, "example-account-swap", Some(init)).await;
    let market_id = market.id().to_owned();
    assert_eq!(
        owner
            .view(&market_id, "signer_id", json!({}))
            .await
            .unwrap(),
        signer_id
    );
    let seller = examples::funded(&ready, SELLER);
    let buyer = examples::funded(&ready, BUYER);

    // Each claims a path; what its key holds is funded on its chain.
    for (who, path) in [(&seller, BTC_PATH), (&buyer, ETH_PATH)] {
        let claim = FunctionCall::new("claim", json!({ "path": path }));
        who.call(&market_id, claim).await.unwrap();
    }
    let taken = seller
        .call(
            &market_id,
            FunctionCall::new("claim", json!({"path": ETH_PATH})),
        )
        .await
        .unwrap_err();
    assert!(
        taken
            .to_string()
            .contains("already claimed by user2.devnet"),
        "{taken}"
    );
    let btc_key = derived(&root, &market_id, BTC_PATH);
    let btc_address = client::address::bitcoin_p2wpkh(&btc_key, BitcoinNetwork::Regtest);
    let funding = chains.fund_btc(&btc_address, 50_000_000).await;
    let eth_key = derived(&root, &market_id, ETH_PATH);
    let eth_address = client::address::evm(&eth_key);
    chains.fund_eth(eth_address, 5 * ETH).await;
    // The signer contract derives the same key for the marketplace.
    let view = json!({"path": BTC_PATH, "predecessor": market_id, "domain_id": DOMAIN});
    let from_contract = owner
        .view(signer_id, "derived_public_key", view)
        .await
        .unwrap();
    assert_eq!(from_contract, NearPublicKey::Secp256k1(btc_key).to_string());

    // The seller offers its Bitcoin path for the buyer's Ethereum path: locked while open.
    let offer = FunctionCall::new("offer", json!({"give": BTC_PATH, "want": ETH_PATH}));
    let offer_id = seller.call(&market_id, offer).await.unwrap();
    let locked = refusal(sign_through(&seller, &market_id, BTC_PATH, [7; 32]).await);
    assert!(locked.contains("is offered in offer 0"), "{locked}");
    let accept = FunctionCall::new("accept", json!({ "offer_id": offer_id }));
    let swapped = buyer.call(&market_id, accept).await.unwrap();
    assert_eq!(swapped["seller"], SELLER);
    let claim = |path: &str| json!({ "path": path });
    let btc_claim = owner
        .view(&market_id, "get_claim", claim(BTC_PATH))
        .await
        .unwrap();
    assert_eq!(btc_claim["owner"], BUYER);
    let eth_claim = owner
        .view(&market_id, "get_claim", claim(ETH_PATH))
        .await
        .unwrap();
    assert_eq!(eth_claim["owner"], SELLER);
    eprintln!("swapped at {:.1} s", started.elapsed().as_secs_f64());

    // The buyer spends the Bitcoin: a P2WPKH spend of the funded output, signed through the
    // marketplace, checked by Bitcoin Core's validation and mined.
    let utxos = chains.esplora.utxos(&btc_address).await.unwrap();
    assert_eq!(utxos.len(), 1, "{utxos:?}");
    assert_eq!(utxos[0].outpoint.txid.to_string(), funding);
    let payee = client::btc::parse_address(
        "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
        BitcoinNetwork::Regtest,
    )
    .unwrap();
    let spend = Spend {
        kind: SpendKind::P2wpkh,
        key: btc_key,
        network: BitcoinNetwork::Regtest,
        utxos,
        to: payee.clone(),
        amount: bitcoin::Amount::from_sat(30_000_000),
        fee_rate: 2,
    }
    .build()
    .unwrap();
    let mut signatures = vec![];
    for sighash in spend.sighashes() {
        let signature = sign_through(&buyer, &market_id, BTC_PATH, sighash).await;
        signatures.push(signature.unwrap());
    }
    let tx = spend.assemble(&signatures).unwrap();
    let (txid, height) = chains.send_btc(&tx).await;
    let paid = chains.esplora.utxos(&payee).await.unwrap();
    assert!(
        paid.iter()
            .any(|u| u.outpoint.txid.to_string() == txid && u.value.to_sat() == 30_000_000),
        "{paid:?}"
    );
    eprintln!(
        "buyer's Bitcoin spend {txid} mined at height {height}, {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The seller moves the Ether: an EIP-1559 transfer signed through the marketplace.
    let recipient = alloy_primitives::Address::repeat_byte(0x22);
    let tx = EvmTx {
        chain_id: chains.eth_chain_id,
        nonce: chains.eth.nonce(eth_address).await.unwrap(),
        to: recipient,
        value: alloy_primitives::U256::from(ETH),
        data: Default::default(),
        gas_limit: TRANSFER_GAS,
        fees: chains.eth.eip1559_fees().await.unwrap(),
    };
    assert!(matches!(tx.fees, Fees::Eip1559 { .. }));
    let signature = sign_through(&seller, &market_id, ETH_PATH, tx.signing_hash())
        .await
        .unwrap();
    let SignatureResponse::Secp256k1(ecdsa) = signature else {
        panic!("an ECDSA domain answered {signature:?}");
    };
    let signed = tx.assemble(&ecdsa, eth_address).unwrap();
    let receipt = chains.send_eth(&signed).await;
    assert!(receipt.succeeded(), "{receipt:?}");
    let balance = chains.eth.balance(recipient).await.unwrap();
    assert_eq!(balance, alloy_primitives::U256::from(ETH));
    eprintln!(
        "seller's Ether transfer {} mined, {:.1} s",
        signed.hash,
        started.elapsed().as_secs_f64()
    );

    // The former owners are refused by the contract, with its error.
    let old_btc = refusal(sign_through(&seller, &market_id, BTC_PATH, [8; 32]).await);
    assert!(
        old_btc.contains("user1.devnet does not own path \"btc-1\"; user2.devnet does"),
        "{old_btc}"
    );
    let old_eth = refusal(sign_through(&buyer, &market_id, ETH_PATH, [9; 32]).await);
    assert!(
        old_eth.contains("user2.devnet does not own path \"eth-1\"; user1.devnet does"),
        "{old_eth}"
    );
    // A request the signer contract refuses (this payload is no secp256k1 scalar: ≥ n) fails
    // for the owner with the marketplace's error, after its callback's bookkeeping.
    let failed = refusal(sign_through(&seller, &market_id, ETH_PATH, [0xff; 32]).await);
    assert!(
        failed.contains("the signer contract did not sign for path \"eth-1\""),
        "{failed}"
    );
    // Nothing is left in flight.
    for path in [BTC_PATH, ETH_PATH] {
        let c = owner
            .view(&market_id, "get_claim", claim(path))
            .await
            .unwrap();
        assert_eq!(c["signing"], 0, "{c}");
    }
    eprintln!("test wall time {:.1} s", started.elapsed().as_secs_f64());
}
