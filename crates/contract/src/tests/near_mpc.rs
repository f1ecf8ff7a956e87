//! NEAR's production signer's `state` JSON, read as this contract's nodes and clients read it;
//! and this contract's JSON against production's shape.
//!
//! The fixtures in `near_mpc/` are JSON written by near/mpc's own types at its 3.14.0 release
//! (the version on `v1.signer` and `v1.signer-prod.testnet`), with test keys and invented
//! accounts, plus `mainnet_dump.json`, the mainnet state near/mpc keeps as a test asset
//! (`crates/backup-cli/assets/contract_state.json`).

use primitives::{DomainId, NearPublicKey, ParticipantId, SignatureScheme};
use serde_json::{json, Value};

use super::*;
use crate::views::{Phase, StateView};

const RUNNING: &str = include_str!("near_mpc/running.json");
const SECP_ROOT: &str = "secp256k1:3Yzo6eCJUhUqvyphKmPwK4JMyChvyKLwG3vdnarSWinTkwvW2Y5iyesA75iaaWuPzAZ7fKQAFUXcduVX3L7HejBf";
const ED_ROOT: &str = "ed25519:2qxgPyDm1DKxsJK74j9BMGFtNXMmoy2dGUhCUmAE8CtW";

fn view(json: &str) -> StateView {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

fn key(s: &str) -> NearPublicKey {
    s.parse().unwrap()
}

fn domains(v: &StateView) -> Vec<(u64, SignatureScheme, NearPublicKey)> {
    v.domains
        .iter()
        .map(|d| (d.id.0, d.scheme, d.public_key))
        .collect()
}

fn accounts(p: &[crate::views::ParticipantView]) -> Vec<(String, u32)> {
    p.iter().map(|p| (p.account_id.0.clone(), p.id.0)).collect()
}

fn nodes(ids: &[u32]) -> Vec<(String, u32)> {
    ids.iter()
        .map(|i| (format!("mpc-node-{i}.near"), *i))
        .collect()
}

#[test]
fn running_is_read_with_its_domains_keys_and_participants() {
    let v = view(RUNNING);
    assert_eq!(v.state, Phase::Running);
    assert_eq!((v.epoch, v.threshold), (Some(5), Some(2)));
    assert_eq!(accounts(&v.participants), nodes(&[0, 1, 2]));
    assert_eq!(
        v.participants[0].tls_public_key,
        key("ed25519:98ALyJUsir2Wa2CSvunfatyW7MG9o1iQvLi5A2atTSSz")
    );
    assert_eq!(v.participants[0].url, "https://mpc-0.example-operator.com");
    assert_eq!(
        domains(&v),
        [
            (0, SignatureScheme::Secp256k1, key(SECP_ROOT)),
            (1, SignatureScheme::Ed25519, key(ED_ROOT)),
        ]
    );
    assert!(v.initializing.is_none() && v.resharing.is_none() && v.candidates.is_empty());
    // Open votes change nothing a reader acts on.
    assert_eq!(view(include_str!("near_mpc/running_with_votes.json")), v);
}

#[test]
fn resharing_shows_the_network_that_signs_and_the_one_coming() {
    let v = view(include_str!("near_mpc/resharing.json"));
    assert_eq!(v.state, Phase::Resharing);
    assert_eq!((v.epoch, v.threshold), (Some(5), Some(2)));
    assert_eq!(accounts(&v.participants), nodes(&[0, 1, 2]));
    assert_eq!(domains(&v).len(), 2);
    let r = v.resharing.unwrap();
    assert_eq!(accounts(&r.participants), nodes(&[0, 1, 2, 3]));
    assert_eq!(r.threshold, 3);
    assert_eq!(r.started_at, Some(171234560));
    let reshared: Vec<&str> = r.reshared.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(reshared, ["mpc-node-0.near", "mpc-node-2.near"]);
}

#[test]
fn initializing_shows_the_domain_being_generated_and_who_reported_it() {
    let v = view(include_str!("near_mpc/initializing.json"));
    assert_eq!(v.state, Phase::Initializing);
    assert_eq!((v.epoch, v.threshold), (Some(5), Some(2)));
    assert_eq!(
        domains(&v),
        [(0, SignatureScheme::Secp256k1, key(SECP_ROOT))]
    );
    let i = v.initializing.unwrap();
    assert_eq!(
        i.domains,
        [crate::types::DomainConfig {
            id: DomainId(1),
            scheme: SignatureScheme::Ed25519
        }]
    );
    assert_eq!(i.started_at, Some(171230001));
    assert_eq!(i.voted, [(DomainId(1), vec![account("mpc-node-1.near")])]);

    let waiting = view(include_str!("near_mpc/initializing_no_instance.json"))
        .initializing
        .unwrap();
    assert_eq!(waiting.started_at, None);
    assert_eq!(waiting.voted, [(DomainId(1), vec![])]);
}

#[test]
fn not_initialized_is_a_bare_string() {
    let v = view(include_str!("near_mpc/not_initialized.json"));
    assert_eq!(v.state, Phase::NotInitialized);
    assert!(v.epoch.is_none() && v.domains.is_empty() && v.participants.is_empty());
}

#[test]
fn the_mainnet_state_is_read() {
    let v = view(include_str!("near_mpc/mainnet_dump.json"));
    assert_eq!(v.state, Phase::Running);
    assert_eq!((v.epoch, v.threshold), (Some(4), Some(7)));
    assert_eq!(v.participants.len(), 10);
    assert_eq!(
        domains(&v),
        [
            (
                0,
                SignatureScheme::Secp256k1,
                key("secp256k1:3tFRbMqmoa6AAALMrEFAYCEoHcqKxeW38YptwowBVBtXK1vo36HDbUWuR6EZmoK4JcH6HDkNMGGqP1ouV7VZUWya")
            ),
            (
                1,
                SignatureScheme::Ed25519,
                key("ed25519:G9hwngxWNKdmqMCmU1Yt6LPhFpayJeKFxyAV1HqMNLtF")
            ),
        ]
    );
}

/// `running.json` with each domain and participant rewritten by `edit`.
fn edited(edit: impl Fn(&mut Value)) -> StateView {
    let mut v: Value = serde_json::from_str(RUNNING).unwrap();
    edit(&mut v["Running"]);
    serde_json::from_value(v).unwrap()
}

#[test]
fn older_production_shapes_are_read_the_same() {
    let current = view(RUNNING);
    // 3.5–3.8: a domain names its scheme, a participant its `sign_pk`.
    let scheme_and_sign_pk = edited(|r| {
        r["domains"]["domains"] = json!([
            {"id": 0, "scheme": "Secp256k1", "purpose": "Sign"},
            {"id": 1, "scheme": "Ed25519", "purpose": "Sign"},
        ]);
        for p in r["parameters"]["participants"]["participants"]
            .as_array_mut()
            .unwrap()
        {
            let info = p[2].as_object_mut().unwrap();
            let key = info.remove("tls_public_key").unwrap();
            info.insert("sign_pk".into(), key);
        }
    });
    assert_eq!(scheme_and_sign_pk, current);
    // 3.9: `curve`, Ed25519 called Edwards25519.
    let curve = edited(|r| {
        r["domains"]["domains"] = json!([
            {"id": 0, "curve": "Secp256k1", "purpose": "Sign"},
            {"id": 1, "curve": "Edwards25519", "purpose": "Sign"},
        ]);
    });
    assert_eq!(curve, current);
}

#[test]
fn domains_a_client_cannot_sign_with_are_left_out() {
    let v = edited(|r| {
        r["domains"]["domains"]
            .as_array_mut()
            .unwrap()
            .extend([
                json!({"id": 2, "protocol": "ConfidentialKeyDerivation", "reconstruction_threshold": 2, "purpose": "CKD"}),
                json!({"id": 3, "protocol": "CaitSith", "reconstruction_threshold": 2, "purpose": "ForeignTx"}),
                json!({"id": 4, "protocol": "SomethingNew", "reconstruction_threshold": 2, "purpose": "Sign"}),
                // A key of the wrong curve for its protocol.
                json!({"id": 5, "protocol": "Frost", "reconstruction_threshold": 2, "purpose": "Sign"}),
            ]);
        let keys = r["keyset"]["domains"].as_array_mut().unwrap();
        let secp = keys[0]["key"].clone();
        keys.extend([
            json!({"domain_id": 2, "key": {"Bls12381": {"public_key": "bls12381g2:abc"}}, "attempt": 0}),
            json!({"domain_id": 3, "key": secp, "attempt": 0}),
            json!({"domain_id": 4, "key": secp, "attempt": 0}),
            json!({"domain_id": 5, "key": secp, "attempt": 0}),
        ]);
    });
    assert_eq!(domains(&v), domains(&view(RUNNING)));
}

const KEY_KINDS: [&str; 3] = ["Secp256k1", "Ed25519", "Bls12381"];

/// Every field production writes, at the same place and of the same JSON type, in `ours`
/// (which may have more): what a reader written for NEAR's signer needs to find.
fn has_production_shape(production: &Value, ours: &Value, at: &str) {
    match (production, ours) {
        // A key of another curve: an enum's other variant.
        (Value::Object(p), Value::Object(o))
            if p.len() == 1
                && o.len() == 1
                && p.keys().all(|k| KEY_KINDS.contains(&k.as_str()))
                && p.keys().ne(o.keys()) => {}
        (Value::Object(p), Value::Object(o)) => {
            for (k, pv) in p {
                let ov = o
                    .get(k)
                    .unwrap_or_else(|| panic!("{at}.{k} is missing: {ours}"));
                // Maps keyed by account or id: production's may be empty where ours is not.
                if k == "proposal_by_account" {
                    continue;
                }
                has_production_shape(pv, ov, &format!("{at}.{k}"));
            }
        }
        (Value::Array(p), Value::Array(o)) => {
            if let (Some(p), Some(o)) = (p.first(), o.first()) {
                has_production_shape(p, o, &format!("{at}[0]"));
            }
        }
        (Value::Null, _) | (_, Value::Null) => {}
        (p, o) => assert_eq!(
            std::mem::discriminant(p),
            std::mem::discriminant(o),
            "{at}: {p} vs {o}"
        ),
    }
}

#[test]
fn this_contracts_state_has_productions_shape() {
    let (mut c, _) = ready();
    let ours = serde_json::to_value(c.state_json().unwrap()).unwrap();
    has_production_shape(&serde_json::from_str(RUNNING).unwrap(), &ours, "");

    let mut init = c.clone();
    for a in NODES {
        init.vote_add_domains(&ctx(a, 12), &[SignatureScheme::Ed25519], 0)
            .unwrap();
    }
    init.start_keygen_instance(&ctx("bob.near", 13), 0).unwrap();
    let ours = serde_json::to_value(init.state_json().unwrap()).unwrap();
    let production: Value =
        serde_json::from_str(include_str!("near_mpc/initializing.json")).unwrap();
    has_production_shape(&production, &ours, "");

    c.register_candidate(&candidate_ctx("dave.near", 11), info(3))
        .unwrap();
    for a in ["alice.near", "carol.near"] {
        c.vote_join(&ctx(a, 12), &account("dave.near"), 0).unwrap();
    }
    c.start_reshare_instance(&ctx("dave.near", 13), 0).unwrap();
    let ours = serde_json::to_value(c.state_json().unwrap()).unwrap();
    let production: Value = serde_json::from_str(include_str!("near_mpc/resharing.json")).unwrap();
    has_production_shape(&production, &ours, "");
    // And ids are what production's readers key participants by.
    let v = c.state_view().unwrap();
    assert_eq!(v.resharing.unwrap().participants[3].id, ParticipantId(3));
}
