//! examples/oauth-signer on the devnet with the real MPC nodes and anvil: a token from a test
//! issuer (its RSA key made here) has the contract sign an EIP-1559 transfer from the token
//! subject's derived address, which anvil mines with status success; an expired, a tampered,
//! a wrong-audience, an `alg: none` and a reused token are refused by the contract; after the
//! owner rotates to a 4096-bit key, old-key tokens are refused and new ones work, and then to
//! a P-256 key, whose ES256 tokens work while RS256 ones are refused. Reports the
//! gas each step burns on NEAR's VM (an RS256 verification included).
//!
//! Needs `./scripts/build-contract.sh` (the example's wasm), `./scripts/test-tools.sh`
//! (anvil) and `cargo build -p btc-regtest`, all done by `./scripts/test.sh`.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use client::account::FunctionCall;
use client::evm::{EvmTx, TRANSFER_GAS};
use common::examples::{self, Chains};
use common::outcome::{self, tgas};
use primitives::response::SignatureResponse;
use primitives::NearPublicKey;
use rsa::sha2::{Digest, Sha256};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use serde_json::{json, Value};
use std::time::Instant;

const ISSUER: &str = "https://login.example.com";
const AUDIENCE: &str = "chainsig-wallet";
const SUBJECT: &str = "user-8d2f";
const CALLER: &str = "user1.devnet";
const ETH: u128 = 1_000_000_000_000_000_000;

/// The test's OpenID provider: an RSA key and the tokens it signs.
struct Issuer(RsaPrivateKey);

impl Issuer {
    fn jwk(&self) -> Value {
        let public = self.0.to_public_key();
        json!({"kty": "RSA", "kid": "k1", "alg": "RS256",
               "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
               "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be())})
    }

    fn mint_with(&self, header: Value, claims: &Value) -> String {
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let digest = Sha256::digest(signed.as_bytes());
        let sig = self.0.sign(Pkcs1v15Sign::new::<Sha256>(), &digest).unwrap();
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    fn mint(&self, claims: &Value) -> String {
        self.mint_with(json!({"alg": "RS256", "typ": "JWT", "kid": "k1"}), claims)
    }
}

/// The devnet's latest block time (Unix seconds): the contract judges `exp` and `nbf` by it,
/// and it can lag the wall clock on a loaded machine.
async fn chain_now(rpc_url: &str) -> u64 {
    let block = common::near_rpc(rpc_url, "block", json!({"finality": "final"})).await;
    let ns = block["result"]["header"]["timestamp"]
        .as_u64()
        .unwrap_or_else(|| panic!("no block time: {block}"));
    ns / 1_000_000_000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_token_moves_ether_and_bad_tokens_are_refused() {
    let started = Instant::now();
    examples::example_wasm("example-oauth-signer");
    let issuer = Issuer(RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let (_devnet, ready) = examples::start_with_chains(&tmp.path().join("devnet"), 2);
    eprintln!("devnet ready in {:.1} s", started.elapsed().as_secs_f64());
    let chains = Chains::from_ready(&ready);
    let rpc_url = ready["rpc_url"].as_str().unwrap();
    let signer_id = ready["contract_id"].as_str().unwrap();
    let domain = &ready["domains"][0];
    assert_eq!(domain["scheme"], "Secp256k1");
    let root: NearPublicKey = domain["public_key"].as_str().unwrap().parse().unwrap();
    let caller_key = ready["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account_id"] == CALLER)
        .unwrap()["private_key"]
        .as_str()
        .unwrap()
        .to_owned();

    let owner = examples::funded(&ready, "user.devnet");
    let init = FunctionCall::new(
        "new",
        json!({"issuer": ISSUER, "audience": AUDIENCE, "key": issuer.jwk(),
               "signer_contract": signer_id}),
    );
    let app =
        examples::deploy_example(&owner, "oauth", 20, "example-oauth-signer", Some(init)).await;
    let app_id = app.id().to_owned();
    let path = owner
        .view(&app_id, "subject_path", json!({"sub": SUBJECT}))
        .await
        .unwrap();
    assert_eq!(path, format!("oauth/{ISSUER}/{SUBJECT}"));

    // The subject's Ethereum address: the key the signer derives for the app and the path.
    let NearPublicKey::Secp256k1(key) =
        primitives::derivation::derive_public_key(&root, &app_id, path.as_str().unwrap()).unwrap()
    else {
        panic!("domain 0 is not secp256k1");
    };
    let from = client::address::evm(&key);
    chains.fund_eth(from, 5 * ETH).await;
    let recipient = alloy_primitives::Address::repeat_byte(0x33);
    let tx = EvmTx {
        chain_id: chains.eth_chain_id,
        nonce: chains.eth.nonce(from).await.unwrap(),
        to: recipient,
        value: alloy_primitives::U256::from(ETH),
        data: Default::default(),
        gas_limit: TRANSFER_GAS,
        fees: chains.eth.eip1559_fees().await.unwrap(),
    };
    let payload = hex::encode(tx.signing_hash());

    // Tokens are dated by the chain's clock, as the contract reads it.
    let now = chain_now(rpc_url).await;
    let claims = |jti: &str| {
        json!({"iss": ISSUER, "aud": AUDIENCE, "sub": SUBJECT, "iat": now, "nbf": now - 60,
               "exp": now + 3600, "jti": jti, "chainsig_payload": {"Ecdsa": payload}})
    };
    let sign = |token: String| FunctionCall::new("sign", json!({ "token": token })).deposit(1);
    let send = |token: String| outcome::call(rpc_url, CALLER, &caller_key, &app_id, sign(token));

    let token = issuer.mint(&claims("transfer-1"));
    let signed = send(token.clone()).await;
    let answer = signed
        .result()
        .unwrap_or_else(|e| panic!("the valid token was refused: {e}"));
    let SignatureResponse::Secp256k1(ecdsa) = serde_json::from_value(answer.clone()).unwrap()
    else {
        panic!("not an ECDSA answer: {answer}");
    };
    let eth_tx = tx.assemble(&ecdsa, from).unwrap();
    let receipt = chains.send_eth(&eth_tx).await;
    assert!(receipt.succeeded(), "{receipt:?}");
    assert_eq!(
        chains.eth.balance(recipient).await.unwrap(),
        alloy_primitives::U256::from(ETH)
    );
    let app_gas = signed.gas_on(&app_id);
    eprintln!(
        "valid token: ether moved in {} ({:.1} s); gas: sign on the app {:.2} TGas, its \
         callback {:.2} TGas, signer {:?} TGas, whole transaction {:.2} TGas",
        eth_tx.hash,
        started.elapsed().as_secs_f64(),
        tgas(app_gas[0]),
        tgas(*app_gas.last().unwrap()),
        signed
            .gas_on(signer_id)
            .iter()
            .map(|g| format!("{:.2}", tgas(*g)))
            .collect::<Vec<_>>(),
        tgas(signed.receipts.iter().map(|r| r.gas_burnt).sum()),
    );

    // Refusals, each with the contract's own message. The expired token passes the signature
    // check first (claims are read only from a signed token): its gas is a verification's.
    let refused = |o: &outcome::Outcome, what: &str| {
        let e = o
            .result()
            .expect_err(&format!("the {what} token should be refused"));
        eprintln!(
            "{what} token refused ({:.2} TGas on the app): {}",
            tgas(o.gas_on(&app_id)[0]),
            e.chars().take(160).collect::<String>()
        );
        e
    };
    let reused = send(token.clone()).await;
    assert!(refused(&reused, "reused").contains("token was already used"));

    let mut old = claims("expired-1");
    old["exp"] = json!(now - 600);
    let expired = send(issuer.mint(&old)).await;
    assert!(refused(&expired, "expired").contains("token expired at"));

    let mut wrong = claims("aud-1");
    wrong["aud"] = json!("another-app");
    let wrong_aud = send(issuer.mint(&wrong)).await;
    assert!(refused(&wrong_aud, "wrong-audience")
        .contains("token audience does not include the configured audience"));

    // Tampered: the claims swapped for others (another subject) under the original signature.
    let parts: Vec<&str> = token.split('.').collect();
    let mut theirs = claims("transfer-2");
    theirs["sub"] = json!("someone-else");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(theirs.to_string()),
        parts[2]
    );
    let tampered = send(forged).await;
    assert!(refused(&tampered, "tampered")
        .contains("token signature does not verify under the issuer's key"));

    let none = issuer.mint_with(json!({"alg": "none"}), &claims("none-1"));
    let alg_none = send(none).await;
    assert!(refused(&alg_none, "alg-none").contains("token alg \"none\" is not accepted"));

    // Nothing refused was recorded: a fresh token for the same subject still works.
    let again = send(issuer.mint(&claims("transfer-3"))).await;
    assert!(again.result().is_ok(), "{:?}", again.result());

    // The issuer rotates to a 4096-bit key: the owner (the app account, which ran `new`)
    // installs it; tokens of the old key are refused, the new key's work.
    let next = Issuer(RsaPrivateKey::new(&mut rand::thread_rng(), 4096).unwrap());
    app.call(
        &app_id,
        FunctionCall::new("rotate_key", json!({"key": next.jwk()})),
    )
    .await
    .unwrap();
    let stale = send(issuer.mint(&claims("transfer-4"))).await;
    assert!(refused(&stale, "old-key").contains("token signature does not verify"));
    let rotated = send(next.mint(&claims("transfer-5"))).await;
    assert!(rotated.result().is_ok(), "{:?}", rotated.result());
    eprintln!(
        "4096-bit key: sign on the app {:.2} TGas",
        tgas(rotated.gas_on(&app_id)[0])
    );

    // Then to a P-256 key: ES256 tokens (JWS `r ‖ s` signatures) sign, RS256 ones are refused.
    let ec = p256::ecdsa::SigningKey::random(&mut rand::thread_rng());
    let point = ec.verifying_key().to_encoded_point(false);
    let ec_jwk = json!({"kty": "EC", "crv": "P-256", "kid": "ec1", "alg": "ES256",
        "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
        "y": URL_SAFE_NO_PAD.encode(point.y().unwrap())});
    app.call(
        &app_id,
        FunctionCall::new("rotate_key", json!({ "key": ec_jwk })),
    )
    .await
    .unwrap();
    let rsa_again = send(next.mint(&claims("transfer-6"))).await;
    assert!(refused(&rsa_again, "RS256-after-EC")
        .contains("token alg \"RS256\" is not accepted: the issuer's key verifies only ES256"));
    let signed_part = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "typ": "JWT", "kid": "ec1"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims("transfer-7").to_string())
    );
    let sig: p256::ecdsa::Signature =
        p256::ecdsa::signature::Signer::sign(&ec, signed_part.as_bytes());
    let es256 = send(format!(
        "{signed_part}.{}",
        URL_SAFE_NO_PAD.encode(sig.to_bytes())
    ))
    .await;
    assert!(es256.result().is_ok(), "{:?}", es256.result());
    eprintln!(
        "ES256 (P-256) key: sign on the app {:.2} TGas",
        tgas(es256.gas_on(&app_id)[0])
    );
    eprintln!("test wall time {:.1} s", started.elapsed().as_secs_f64());
}
