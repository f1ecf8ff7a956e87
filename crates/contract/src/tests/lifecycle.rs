//! The whole life of a network in one test: init with 3 → Secp256k1, Ed25519 and Bip340
//! domains → keys voted → requests signed → a 4th joins and one leaves through resharing →
//! the epoch advances → signing still verifies under the same public keys.

use primitives::SignatureScheme;

use super::*;

fn sign_everything(c: &mut Contract, keys: &Keys, responder: &str, height: u64, y: &mut u8) {
    for (domain, scheme) in SCHEMES.iter().enumerate() {
        let path = format!("path-{height}");
        let (
            Waiter {
                id, yield_id: yid, ..
            },
            _,
        ) = sign_as_host(
            c,
            &ctx("app.near", height),
            sign_args(domain as u64, *scheme, &path, 3),
            y,
        )
        .unwrap();
        let sig = keys.sign(*scheme, "app.near", &path, &payload_bytes(*scheme, 3));
        let effects = c
            .respond(&ctx(responder, height + 1), &TestCrypto, id, &sig)
            .unwrap();
        assert_eq!(
            effects[0],
            Effect::Resume(vec![yid], serde_json::to_string(&sig).unwrap())
        );
    }
}

#[test]
fn a_network_lives_its_life() {
    let mut c = network();
    let keys = Keys::new(42);
    add_domains(&mut c, &keys, 1);
    let roots: Vec<NearPublicKey> = SCHEMES.iter().map(|s| keys.public(*s)).collect();
    let mut y = 0;
    sign_everything(&mut c, &keys, "carol.near", 10, &mut y);

    // dave joins.
    c.register_candidate(&candidate_ctx("dave.near", 20), info(3))
        .unwrap();
    c.vote_join(&ctx("alice.near", 21), &account("dave.near"), 0)
        .unwrap();
    c.vote_join(&ctx("bob.near", 21), &account("dave.near"), 0)
        .unwrap();
    // The old network keeps signing during the resharing.
    sign_everything(&mut c, &keys, "bob.near", 22, &mut y);
    c.start_reshare_instance(&ctx("alice.near", 23), 0).unwrap();
    for a in ["alice.near", "bob.near", "carol.near", "dave.near"] {
        c.vote_reshared(&ctx(a, 24), 0).unwrap();
    }
    assert_eq!(c.state_view().unwrap().epoch, Some(1));

    // alice leaves.
    for a in ["bob.near", "dave.near"] {
        c.vote_leave(&ctx(a, 30), &account("alice.near"), 1)
            .unwrap();
    }
    c.start_reshare_instance(&ctx("dave.near", 31), 1).unwrap();
    for a in ["bob.near", "carol.near", "dave.near"] {
        c.vote_reshared(&ctx(a, 32), 1).unwrap();
    }
    let view = c.state_view().unwrap();
    assert_eq!((view.state, view.epoch), (Phase::Running, Some(2)));
    let members: Vec<&str> = view
        .participants
        .iter()
        .map(|p| p.account_id.0.as_str())
        .collect();
    assert_eq!(members, ["bob.near", "carol.near", "dave.near"]);

    // Same keys; the newcomer answers; the leaver may no longer.
    let now: Vec<NearPublicKey> = view.domains.iter().map(|d| d.public_key).collect();
    assert_eq!(now, roots);
    sign_everything(&mut c, &keys, "dave.near", 40, &mut y);
    let (Waiter { id, .. }, _) = sign_as_host(
        &mut c,
        &ctx("app.near", 50),
        sign_args(0, SignatureScheme::Secp256k1, "x", 8),
        &mut y,
    )
    .unwrap();
    let sig = keys.sign(SignatureScheme::Secp256k1, "app.near", "x", &[8; 32]);
    assert_eq!(
        c.respond(&ctx("alice.near", 51), &TestCrypto, id, &sig)
            .unwrap_err(),
        ContractError::NotParticipant("alice.near".into())
    );
}
