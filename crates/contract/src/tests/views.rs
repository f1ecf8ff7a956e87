//! The JSON of every view and every result, pinned by snapshots (`src/tests/snapshots/`), so
//! the wire format cannot drift from docs/design.md §4.3 unnoticed.

use insta::assert_json_snapshot;
use primitives::SignatureScheme;

use crate::views::StateView;

use super::*;

#[test]
fn state_in_every_protocol_state() {
    assert_json_snapshot!(
        "state_not_initialized",
        Contract::<MemStorage>::default().state_json().unwrap()
    );
    let (mut c, _) = ready();
    c.register_candidate(&candidate_ctx("dave.near", 11), info(3))
        .unwrap();
    assert_json_snapshot!("state_running", c.state_json().unwrap());
    read_back_as_viewed(&c);

    // One vote of each kind, none passed yet: a whole-set proposal and new domains appear as
    // NEAR's signer shows them, join and leave votes in this contract's own fields.
    let mut voting = c.clone();
    let with_dave: Vec<_> = ["alice.near", "bob.near", "carol.near", "dave.near"]
        .iter()
        .map(|a| account(a))
        .collect();
    voting
        .vote_new_parameters(&ctx("alice.near", 12), &with_dave, 3, 0)
        .unwrap();
    voting
        .vote_add_domains(&ctx("bob.near", 12), &[SignatureScheme::Ed25519], 0)
        .unwrap();
    voting
        .vote_join(&ctx("carol.near", 12), &account("dave.near"), 0)
        .unwrap();
    voting
        .vote_leave(&ctx("carol.near", 12), &account("alice.near"), 0)
        .unwrap();
    assert_json_snapshot!("state_running_with_votes", voting.state_json().unwrap());
    read_back_as_viewed(&voting);

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
    assert_json_snapshot!("state_initializing", init.state_json().unwrap());
    read_back_as_viewed(&init);

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
    assert_json_snapshot!("state_resharing", reshare.state_json().unwrap());
    read_back_as_viewed(&reshare);
}

/// The `state` JSON read back (as a node reads it over RPC) is the view the contract gives an
/// in-process reader.
fn read_back_as_viewed(c: &Contract<MemStorage>) {
    let json = serde_json::to_vec(&c.state_json().unwrap()).unwrap();
    let read: StateView = serde_json::from_slice(&json).unwrap();
    assert_eq!(read, c.state_view().unwrap());
}

#[test]
fn small_views() {
    let (c, _) = ready();
    assert_json_snapshot!("config", c.config_view());
    assert_json_snapshot!("system_load", c.system_load().unwrap());
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
        Contract::<MemStorage>::default()
            .latest_key_version(None)
            .unwrap_err(),
        ContractError::NotInitialized
    );
}

#[test]
fn derived_public_key_matches_nears_vector() {
    // NEAR testnet's root key and derived key (docs/design.md §4.1), through the contract's view.
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
fn a_pending_request_and_its_stored_record() {
    let (mut c, _) = ready();
    let mut y = 0;
    let (w, _) = sign_as_host(
        &mut c,
        &ctx("u.near", 20),
        sign_args(0, SignatureScheme::Secp256k1, "p", 1),
        &mut y,
    )
    .unwrap();
    let view = c.pending_request(&w.id).unwrap().unwrap();
    assert_json_snapshot!("pending_request", view);
    // What an indexer reads from the block's changes decodes to the same request.
    let bytes = c.storage().read(&storage::request_key(&w.id)).unwrap();
    let record = storage::decode_request(&bytes).unwrap();
    assert_eq!(crate::views::PendingRequestView::from(&record), view);
    assert_eq!(
        storage::key_kind(&storage::request_key(&w.id)),
        storage::KeyKind::Request(w.id)
    );
    assert_eq!(
        storage::key_kind(storage::STATE_KEY),
        storage::KeyKind::Root
    );
    assert_eq!(c.pending_request(&RequestId([7; 32])).unwrap(), None);
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
