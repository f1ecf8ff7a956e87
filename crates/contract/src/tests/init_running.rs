//! `init_running`: a contract started where another one's `state()` is — same domains, keys,
//! participants (ids kept) and epoch — signs as that one did; what it cannot hold is refused.

use primitives::{DomainId, ParticipantId, SignatureScheme};

use super::*;
use crate::views::near_state::{
    DomainConfigJson, KeyForDomain as KeyForDomainJson, ParticipantInfoJson, Protocol,
    ProtocolContractState, PublicKeyExtended,
};

/// The `init_running` arguments of the test network with its three domains.
fn args_of(c: &Contract) -> InitRunningArgs {
    let ProtocolContractState::Running(running) = c.state_json().unwrap() else {
        panic!("the test network runs")
    };
    InitRunningArgs::from_state(running, None)
}

fn started(args: InitRunningArgs) -> Result<Contract, ContractError> {
    Contract::<MemStorage>::init_running_by(&ctx(CONTRACT, 1), args)
}

#[test]
fn a_running_state_starts_another_contract_as_it_is() {
    let (old, keys) = ready();
    let mut new = started(args_of(&old)).unwrap();
    assert_eq!(new.root(), old.root(), "the same network, not a new one");
    assert_eq!(new.state_json().unwrap(), old.state_json().unwrap());
    // It signs at once, with the same keys: nothing to generate.
    let mut y = 0;
    for (domain, scheme) in SCHEMES.iter().enumerate() {
        let args = sign_args(domain as u64, *scheme, "moved", 9);
        let (w, _) = sign_as_host(&mut new, &ctx("app.near", 20), args, &mut y).unwrap();
        let sig = keys.sign(*scheme, "app.near", "moved", &payload_bytes(*scheme, 9));
        let effects = new
            .respond(&ctx("bob.near", 21), &TestCrypto, w.id, &sig)
            .unwrap();
        assert!(matches!(&effects[0], Effect::Resume(ids, _) if ids == &vec![w.yield_id]));
    }
    // And it goes on from there: a domain added later gets the next id.
    let epoch = new.state_view().unwrap().epoch.unwrap();
    assert_eq!(epoch, 0);
    for v in NODES {
        new.vote_add_domains(&ctx(v, 30), &[SignatureScheme::Ed25519], epoch)
            .unwrap();
    }
    let view = new.state_view().unwrap();
    assert_eq!(view.initializing.unwrap().domains[0].id, DomainId(3));
}

#[test]
fn the_epoch_ids_and_config_are_kept() {
    let (old, _) = ready();
    let mut args = args_of(&old);
    args.keyset.epoch_id = 7;
    // Ids with a gap, as after members left: kept, and the next newcomer gets next_id.
    args.parameters.participants.participants[2].1 = ParticipantId(5);
    args.parameters.participants.next_id = 6;
    let config = Config {
        request_timeout_blocks: 100,
        ..Config::default()
    };
    args.init_config = Some(config.clone());
    let c = started(args).unwrap();
    let view = c.state_view().unwrap();
    assert_eq!(view.epoch, Some(7));
    let ids: Vec<u32> = view.participants.iter().map(|p| p.id.0).collect();
    assert_eq!(ids, [0, 1, 5]);
    assert_eq!(c.config(), &config);
}

#[test]
fn only_the_contract_account_starts_it() {
    let (old, _) = ready();
    let refused =
        Contract::<MemStorage>::init_running_by(&ctx("eve.near", 1), args_of(&old)).unwrap_err();
    assert!(
        matches!(refused, ContractError::NotContractAccount(ref a) if a == CONTRACT),
        "{refused}"
    );
}

/// Each change makes valid arguments invalid, with the message's telling part.
#[test]
fn what_it_cannot_hold_is_refused() {
    let (old, keys) = ready();
    let ed_key = PublicKeyExtended::new(keys.public(SignatureScheme::Ed25519));
    let v2_key = PublicKeyExtended::new(keys.public(SignatureScheme::V2Secp256k1));
    let v2 = move |a: &mut InitRunningArgs| {
        a.domains.push(DomainConfigJson::new(
            DomainId(3),
            SignatureScheme::V2Secp256k1,
            a.parameters.threshold,
        ));
        a.keyset.domains.push(KeyForDomainJson {
            domain_id: DomainId(3),
            key: v2_key.clone(),
            attempt: 0,
        });
        a.next_domain_id = 4;
    };
    let v2_case = v2.clone();
    type Change = Box<dyn Fn(&mut InitRunningArgs)>;
    let cases: Vec<(&str, Change)> = vec![
        (
            "at most the 3 participants",
            Box::new(|a| a.parameters.threshold = 4),
        ),
        ("at least 2", Box::new(|a| a.parameters.threshold = 1)),
        (
            "alice.near is listed twice",
            Box::new(|a| {
                let mut again = a.parameters.participants.participants[0].clone();
                again.1 = ParticipantId(3);
                a.parameters.participants.participants.push(again);
                a.parameters.participants.next_id = 4;
            }),
        ),
        (
            "participant id 0 is given twice",
            Box::new(|a| a.parameters.participants.participants[1].1 = ParticipantId(0)),
        ),
        (
            "not below next_id 2",
            Box::new(|a| a.parameters.participants.next_id = 2),
        ),
        (
            "url must be 1..=256 bytes",
            Box::new(|a| {
                a.parameters.participants.participants[0].2 = ParticipantInfoJson {
                    url: String::new(),
                    tls_public_key: a.parameters.participants.participants[0].2.tls_public_key,
                }
            }),
        ),
        (
            "2 keys for 3 domains",
            Box::new(|a| {
                a.keyset.domains.pop();
            }),
        ),
        (
            "names domain 1 where the domains have 0",
            Box::new(|a| a.keyset.domains.swap(0, 1)),
        ),
        ("below next_domain_id 2", Box::new(|a| a.next_domain_id = 2)),
        (
            "ids must increase",
            Box::new(|a| {
                a.domains.swap(0, 1);
                a.keyset.domains.swap(0, 1);
            }),
        ),
        (
            "a Secp256k1 domain needs a Secp256k1 key",
            Box::new(move |a| a.keyset.domains[0].key = ed_key.clone()),
        ),
        (
            "domain 0 is not one this contract signs with",
            Box::new(|a| {
                a.domains[0].protocol = Some(Protocol::ConfidentialKeyDerivation);
                a.domains[0].scheme = None;
            }),
        ),
        (
            "reconstruction threshold 3",
            Box::new(|a| a.domains[1].reconstruction_threshold = Some(3)),
        ),
        (
            "edwards_point is not the key's point",
            Box::new(|a| {
                if let PublicKeyExtended::Ed25519 { edwards_point, .. } =
                    &mut a.keyset.domains[1].key
                {
                    *edwards_point = Some([1; 32]);
                }
            }),
        ),
        (
            "a V2Secp256k1 domain signs with 5 participants at threshold 3",
            Box::new(move |a| {
                v2_case(a);
                a.parameters.threshold = 3;
                for d in &mut a.domains {
                    d.reconstruction_threshold = Some(3);
                }
            }),
        ),
    ];
    for (expected, change) in cases {
        let mut args = args_of(&old);
        change(&mut args);
        let refused = started(args).expect_err(expected);
        assert!(
            matches!(refused, ContractError::InvalidParameters(_))
                && refused.to_string().contains(expected),
            "{expected}: {refused}"
        );
    }
    // The V2Secp256k1 domain itself is fine where 2t − 1 participants are.
    let mut args = args_of(&old);
    v2(&mut args);
    let c = started(args).unwrap();
    assert_eq!(c.state_view().unwrap().domains.len(), 4);
}

/// The arguments as NEAR's current signer writes its state: domains by protocol and purpose
/// (no scheme), Ed25519 keys with their point's bytes, attempts counted.
#[test]
fn arguments_in_nears_own_shape_are_read() {
    let keys = Keys::new(3);
    let secp = keys.public(SignatureScheme::Secp256k1);
    let ed = keys.public(SignatureScheme::Ed25519);
    let tls: Vec<String> = (0..3u64)
        .map(|n| {
            let point = curve25519_dalek::constants::ED25519_BASEPOINT_POINT
                * curve25519_dalek::Scalar::from(n + 200);
            NearPublicKey::Ed25519(point).to_string()
        })
        .collect();
    let json = serde_json::json!({
        "domains": [
            {"id": 0, "protocol": "CaitSith", "reconstruction_threshold": 2, "purpose": "Sign"},
            {"id": 2, "protocol": "Frost", "reconstruction_threshold": 2, "purpose": "Sign"}
        ],
        "next_domain_id": 4,
        "keyset": {"epoch_id": 12, "domains": [
            {"domain_id": 0, "attempt": 1, "key": {"Secp256k1": {"near_public_key": secp.to_string()}}},
            {"domain_id": 2, "attempt": 3, "key": {"Ed25519": {
                "near_public_key_compressed": ed.to_string(),
                "edwards_point": ed.key_bytes()}}}
        ]},
        "parameters": {"threshold": 2, "participants": {"next_id": 9, "participants": [
            ["n1.near", 1, {"url": "https://n1.example", "tls_public_key": tls[0]}],
            ["n4.near", 4, {"url": "https://n4.example", "tls_public_key": tls[1]}],
            ["n8.near", 8, {"url": "https://n8.example", "tls_public_key": tls[2]}]
        ]}}
    });
    let args: InitRunningArgs = serde_json::from_value(json).unwrap();
    let c = started(args).unwrap();
    let view = c.state_view().unwrap();
    assert_eq!(view.epoch, Some(12));
    let domains: Vec<(u64, SignatureScheme, NearPublicKey)> = view
        .domains
        .iter()
        .map(|d| (d.id.0, d.scheme, d.public_key))
        .collect();
    assert_eq!(
        domains,
        [
            (0, SignatureScheme::Secp256k1, secp),
            (2, SignatureScheme::Ed25519, ed)
        ]
    );
    let ids: Vec<(String, u32)> = view
        .participants
        .iter()
        .map(|p| (p.account_id.0.clone(), p.id.0))
        .collect();
    assert_eq!(
        ids,
        [
            ("n1.near".to_owned(), 1),
            ("n4.near".to_owned(), 4),
            ("n8.near".to_owned(), 8)
        ]
    );
    assert_eq!(c.public_key(Some(DomainId(2))).unwrap(), ed);
}
