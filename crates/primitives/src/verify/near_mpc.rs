//! Answers of NEAR's production signer, read and checked here: its `public_key` and
//! `derived_public_key` results must be what this crate derives, its `sign` arguments must parse
//! as this crate's request, and its `sign` results must verify.
//!
//! The fixtures in `near_mpc/` were written by near/mpc's own types at its 3.14.0 release (the
//! contract on `v1.signer` and `v1.signer-prod.testnet`) from test root keys: real signatures,
//! invented accounts.

use super::*;
use crate::request::{Payload, SignArgs};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

/// `(method, args, result)` of each view call in `public_key.json`.
fn views() -> Vec<(String, serde_json::Value, NearPublicKey)> {
    json(include_str!("near_mpc/public_key.json"))
        .as_array()
        .unwrap()
        .iter()
        .map(|call| {
            (
                call["method"].as_str().unwrap().to_owned(),
                call["args"].clone(),
                call["result"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

/// The root key of `domain`, as production's `public_key` returned it.
fn root(domain: u64) -> NearPublicKey {
    views()
        .into_iter()
        .find(|(m, a, _)| m == "public_key" && a["domain_id"] == domain)
        .unwrap()
        .2
}

#[test]
fn derived_keys_are_productions() {
    let mut checked = 0;
    for (method, args, result) in views() {
        if method != "derived_public_key" {
            continue;
        }
        let domain = args["domain_id"].as_u64().unwrap();
        let derived = derive_public_key(
            &root(domain),
            args["predecessor"].as_str().unwrap(),
            args["path"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(derived, result, "{args}");
        checked += 1;
    }
    assert_eq!(checked, 2, "one derivation per curve");
}

#[test]
fn productions_signatures_verify_and_spoiled_ones_do_not() {
    for (args, answer) in [
        (
            include_str!("near_mpc/sign_args_secp256k1.json"),
            include_str!("near_mpc/sign_secp256k1.json"),
        ),
        (
            include_str!("near_mpc/sign_args_ed25519.json"),
            include_str!("near_mpc/sign_ed25519.json"),
        ),
    ] {
        let request = serde_json::from_str::<SignArgs>(args)
            .unwrap()
            .request
            .normalize()
            .unwrap();
        let response: SignatureResponse = serde_json::from_str(answer).unwrap();
        let message = match &request.payload {
            Payload::Ecdsa(b) | Payload::Eddsa(b) => b.clone(),
        };
        let root = root(request.domain_id.0);
        verify_signature(&root, "alice.near", &request.path, &message, &response)
            .unwrap_or_else(|e| panic!("{answer}: {e}"));
        // Another account's key, another path: refused.
        assert!(verify_signature(&root, "bob.near", &request.path, &message, &response).is_err());
        assert!(verify_signature(&root, "alice.near", "other", &message, &response).is_err());
        // Written back, the answer is the same JSON (the client hands it on as it came).
        assert_eq!(serde_json::to_value(&response).unwrap(), json(answer));
    }
}
