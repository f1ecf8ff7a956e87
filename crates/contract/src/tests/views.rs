//! The JSON of every view and every result, pinned by snapshots (`src/tests/snapshots/`), so
//! the wire format cannot drift from DESIGN §4.3 unnoticed.

use insta::assert_json_snapshot;
use primitives::SignatureScheme;

use super::*;

#[test]
fn state_in_every_protocol_state() {
    assert_json_snapshot!("state_not_initialized", Contract::default().state_view());
    let (mut c, _) = ready();
    c.register_candidate(&ctx("dave.near", 11), info(3))
        .unwrap();
    assert_json_snapshot!("state_running", c.state_view());

    let mut init = c.clone();
    for a in NODES {
        init.vote_add_domains(&ctx(a, 12), &[SignatureScheme::Ed25519], 0)
            .unwrap();
    }
    init.start_keygen_instance(&ctx("bob.near", 13), 0).unwrap();
    init.vote_pk(
        &ctx("bob.near", 14),
        DomainId(3),
        Keys::new(2).public(SignatureScheme::Ed25519),
        0,
    )
    .unwrap();
    assert_json_snapshot!("state_initializing", init.state_view());

    let mut reshare = c.clone();
    reshare
        .vote_join(&ctx("alice.near", 12), &account("dave.near"), 0)
        .unwrap();
    reshare
        .vote_join(&ctx("carol.near", 12), &account("dave.near"), 0)
        .unwrap();
    reshare
        .start_reshare_instance(&ctx("dave.near", 13), 0)
        .unwrap();
    reshare.vote_reshared(&ctx("dave.near", 14), 0).unwrap();
    assert_json_snapshot!("state_resharing", reshare.state_view());
}

#[test]
fn small_views() {
    let (c, _) = ready();
    assert_json_snapshot!("config", c.config_view());
    assert_json_snapshot!("system_load", c.system_load());
    assert_json_snapshot!("public_key_default", c.public_key(None).unwrap());
    assert_json_snapshot!(
        "public_key_domain_1",
        c.public_key(Some(DomainId(1))).unwrap()
    );
    assert_json_snapshot!(
        "derived_public_key",
        c.derived_public_key("ethereum-1", &account("alice.near"), None)
            .unwrap()
    );
    let versions: Vec<u64> = SCHEMES
        .iter()
        .map(|s| c.latest_key_version(Some(*s)).unwrap())
        .collect();
    assert_eq!(versions, [0, 1, 2]);
    assert_eq!(c.latest_key_version(None).unwrap(), 0);
    assert_eq!(c.version(), env!("CARGO_PKG_VERSION"));
    assert_eq!(
        Contract::default().latest_key_version(None).unwrap_err(),
        ContractError::NotInitialized
    );
}

#[test]
fn derived_public_key_matches_nears_vector() {
    // NEAR testnet's root key and derived key (DESIGN §4.1), through the contract's view.
    let mut c = network();
    let root: NearPublicKey = "secp256k1:4NfTiv3UsGahebgTaHyD9vF8KYKMBnfd6kh94mK6xv8fGBiJB8TBtFMP5WWXz6B89Ac1fbpzPwAvoyQebemHFwx3".parse().unwrap();
    for a in NODES {
        c.vote_add_domains(&ctx(a, 1), &[SignatureScheme::Secp256k1], 0)
            .unwrap();
    }
    c.start_keygen_instance(&ctx("alice.near", 1), 0).unwrap();
    for a in NODES {
        c.vote_pk(&ctx(a, 2), DomainId(0), root, 0).unwrap();
    }
    let derived = c
        .derived_public_key(
            "unit-test",
            &account("derivation-test.testnet"),
            Some(DomainId(0)),
        )
        .unwrap();
    assert_eq!(
        derived.to_string(),
        "secp256k1:3b3GS4kaAPvzxFUEYKiMvXeuBzttMZosggT3iAAbyZzAfQc1Dn4eLrDshNGGeKZyfSK7xegjPSq553NXHisMLiyA"
    );
}

#[test]
fn pending_requests_page_with_a_cursor() {
    let (mut c, _) = ready();
    let mut y = 0;
    for i in 0..5u8 {
        sign_as_host(
            &mut c,
            &ctx("u.near", 20 + u64::from(i)),
            sign_args(0, SignatureScheme::Secp256k1, "p", i + 1),
            &mut y,
        )
        .unwrap();
    }
    let first = c.pending_requests(None, Some(2));
    assert_json_snapshot!("pending_page_1", first);
    let second = c.pending_requests(first.next_cursor, Some(2));
    let third = c.pending_requests(second.next_cursor, Some(2));
    let seqs: Vec<u64> = [&first, &second, &third]
        .iter()
        .flat_map(|p| p.requests.iter().map(|r| r.seq))
        .collect();
    assert_eq!(seqs, [0, 1, 2, 3, 4], "every request once, in order");
    assert_eq!(third.next_cursor, None);
    assert_eq!(
        c.pending_requests(None, Some(0)).requests.len(),
        1,
        "limit is at least 1"
    );
}

#[test]
fn sign_results_per_scheme() {
    let (mut c, keys) = ready();
    let mut y = 0;
    for (domain, scheme) in SCHEMES.iter().enumerate() {
        let (Waiter { id, .. }, _) = sign_as_host(
            &mut c,
            &ctx("app.near", 30),
            sign_args(domain as u64, *scheme, "p", 1),
            &mut y,
        )
        .unwrap();
        let sig = keys.sign(*scheme, "app.near", "p", &payload_bytes(*scheme, 1));
        let effects = c
            .respond(&ctx("alice.near", 31), &TestCrypto, id, &sig)
            .unwrap();
        let Effect::Resume(_, json) = &effects[0] else {
            unreachable!()
        };
        // The typed value, not a serde_json::Value: its key order would depend on whether some
        // dependency enabled serde_json's preserve_order.
        let value: SignatureResponse = serde_json::from_str(json).unwrap();
        assert_eq!(&value, &sig);
        if *scheme == SignatureScheme::Bip340 {
            // k256's BIP340 signing is deterministic given the aux bytes: snapshot-stable.
            assert_json_snapshot!("sign_result_bip340", value);
        } else if *scheme == SignatureScheme::Secp256k1 {
            assert_json_snapshot!("sign_result_secp256k1", value);
        } else {
            assert_json_snapshot!("sign_result_ed25519", value);
        }
    }
}
