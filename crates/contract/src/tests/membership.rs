//! init, candidates, votes, key events: every transition of docs/design.md §4.4 and every refusal.

use super::*;
use crate::state::ProtocolState;

fn refused(
    c: &mut Contract,
    name: &str,
    f: impl FnOnce(&mut Contract) -> Result<(), ContractError>,
    want: ContractError,
) {
    let before = c.clone();
    assert_eq!(f(c).unwrap_err(), want, "{name}");
    assert_eq!(*c, before, "{name}: a refused call changed the state");
}

#[test]
fn init_checks_its_parameters() {
    let two = vec![(account("a.near"), info(0)), (account("b.near"), info(1))];
    assert!(Contract::<MemStorage>::init(two.clone(), 2, None).is_ok());
    let cases = [
        ("one participant", vec![(account("a.near"), info(0))], 2),
        ("threshold 1", two.clone(), 1),
        ("threshold above n", two.clone(), 3),
        (
            "duplicate",
            vec![(account("a.near"), info(0)), (account("a.near"), info(1))],
            2,
        ),
    ];
    for (name, ps, t) in cases {
        assert!(
            matches!(
                Contract::<MemStorage>::init(ps, t, None),
                Err(ContractError::InvalidParameters(_))
            ),
            "{name}"
        );
    }
    let c = network();
    let view = c.state_view().unwrap();
    assert_eq!(view.state, Phase::Running);
    assert_eq!((view.epoch, view.threshold), (Some(0), Some(2)));
    let ids: Vec<u32> = view.participants.iter().map(|p| p.id.0).collect();
    assert_eq!(ids, [0, 1, 2]);
}

#[test]
fn join_through_resharing() {
    let mut c = network();
    refused(
        &mut c,
        "unregistered",
        |c| c.vote_join(&ctx("alice.near", 1), &account("dave.near"), 0),
        ContractError::NotCandidate("dave.near".into()),
    );
    c.register_candidate(&candidate_ctx("dave.near", 1), info(3))
        .unwrap();
    refused(
        &mut c,
        "participant registers",
        |c| {
            c.register_candidate(&candidate_ctx("bob.near", 1), info(9))
                .map(drop)
        },
        ContractError::AlreadyParticipant("bob.near".into()),
    );
    refused(
        &mut c,
        "outsider votes",
        |c| c.vote_join(&ctx("eve.near", 1), &account("dave.near"), 0),
        ContractError::NotParticipant("eve.near".into()),
    );
    refused(
        &mut c,
        "stale epoch",
        |c| c.vote_join(&ctx("alice.near", 1), &account("dave.near"), 7),
        ContractError::StaleEpoch { got: 7, current: 0 },
    );
    c.vote_join(&ctx("alice.near", 1), &account("dave.near"), 0)
        .unwrap();
    refused(
        &mut c,
        "double vote",
        |c| c.vote_join(&ctx("alice.near", 2), &account("dave.near"), 0),
        ContractError::AlreadyVoted("alice.near".into()),
    );
    assert_eq!(
        c.state_view().unwrap().state,
        Phase::Running,
        "one vote is below the threshold"
    );
    c.vote_join(&ctx("bob.near", 2), &account("dave.near"), 0)
        .unwrap();
    let view = c.state_view().unwrap();
    assert_eq!(view.state, Phase::Resharing);
    let new = view.resharing.unwrap();
    assert_eq!(new.participants.len(), 4);
    assert_eq!(
        new.participants
            .iter()
            .find(|p| p.account_id.0 == "dave.near")
            .unwrap()
            .id
            .0,
        3
    );

    refused(
        &mut c,
        "reshared before start",
        |c| c.vote_reshared(&ctx("dave.near", 3), 0).map(drop),
        ContractError::InstanceNotStarted,
    );
    c.start_reshare_instance(&ctx("dave.near", 3), 0).unwrap();
    for a in ["alice.near", "bob.near", "carol.near"] {
        c.vote_reshared(&ctx(a, 4), 0).unwrap();
    }
    refused(
        &mut c,
        "reshared twice",
        |c| c.vote_reshared(&ctx("bob.near", 4), 0).map(drop),
        ContractError::AlreadyVoted("bob.near".into()),
    );
    refused(
        &mut c,
        "old-only cannot report",
        |c| c.vote_reshared(&ctx("eve.near", 4), 0).map(drop),
        ContractError::NotParticipant("eve.near".into()),
    );
    c.vote_reshared(&ctx("dave.near", 4), 0).unwrap();
    let view = c.state_view().unwrap();
    assert_eq!((view.state, view.epoch), (Phase::Running, Some(1)));
    assert_eq!(view.participants.len(), 4);
    assert!(
        view.candidates.is_empty(),
        "a joined candidate is no longer a candidate"
    );
}

#[test]
fn leave_and_new_parameters_respect_the_threshold() {
    let mut c = network();
    // Leaving 2 of 3 at threshold 2 is fine once; a 2-node network cannot lose another.
    c.vote_leave(&ctx("alice.near", 1), &account("carol.near"), 0)
        .unwrap();
    c.vote_leave(&ctx("bob.near", 1), &account("carol.near"), 0)
        .unwrap();
    assert_eq!(c.state_view().unwrap().state, Phase::Resharing);
    refused(
        &mut c,
        "vote in resharing",
        |c| c.vote_leave(&ctx("alice.near", 1), &account("bob.near"), 0),
        ContractError::WrongState("Resharing"),
    );
    c.start_reshare_instance(&ctx("alice.near", 2), 0).unwrap();
    c.vote_reshared(&ctx("alice.near", 3), 0).unwrap();
    c.vote_reshared(&ctx("bob.near", 3), 0).unwrap();
    assert_eq!(c.state_view().unwrap().participants.len(), 2);
    refused(
        &mut c,
        "below threshold",
        |c| c.vote_leave(&ctx("alice.near", 4), &account("bob.near"), 1),
        ContractError::InvalidParameters("a network needs at least 2 participants, not 1".into()),
    );

    let mut c = network();
    c.register_candidate(&candidate_ctx("dave.near", 1), info(3))
        .unwrap();
    let all = |names: &[&str]| names.iter().map(|n| account(n)).collect::<Vec<_>>();
    refused(
        &mut c,
        "threshold 1",
        |c| {
            c.vote_new_parameters(
                &ctx("alice.near", 1),
                &all(&["alice.near", "bob.near"]),
                1,
                0,
            )
        },
        ContractError::InvalidParameters(
            "threshold 1 must be at least 2 and at most the 2 participants".into(),
        ),
    );
    refused(
        &mut c,
        "too few stay",
        |c| {
            c.vote_new_parameters(
                &ctx("alice.near", 1),
                &all(&["alice.near", "dave.near"]),
                2,
                0,
            )
        },
        ContractError::InvalidParameters(
            "only 1 current participants stay; 2 are needed to hand the keys over".into(),
        ),
    );
    refused(
        &mut c,
        "unknown account",
        |c| {
            c.vote_new_parameters(
                &ctx("alice.near", 1),
                &all(&["alice.near", "bob.near", "zed.near"]),
                2,
                0,
            )
        },
        ContractError::NotCandidate("zed.near".into()),
    );
    refused(
        &mut c,
        "no change",
        |c| c.vote_new_parameters(&ctx("alice.near", 1), &all(&NODES), 2, 0),
        ContractError::InvalidParameters("nothing would change".into()),
    );
    let params = all(&["bob.near", "carol.near", "dave.near", "alice.near"]);
    c.vote_new_parameters(&ctx("alice.near", 1), &params, 3, 0)
        .unwrap();
    c.vote_new_parameters(&ctx("carol.near", 1), &params, 3, 0)
        .unwrap();
    let r = c.state_view().unwrap().resharing.unwrap();
    assert_eq!((r.participants.len(), r.threshold), (4, 3));
}

#[test]
fn adding_domains_needs_everyone_and_one_key() {
    let mut c = network();
    let keys = Keys::new(3);
    for a in &NODES[..2] {
        c.vote_add_domains(&ctx(a, 1), &SCHEMES, 0).unwrap();
    }
    assert_eq!(
        c.state_view().unwrap().state,
        Phase::Running,
        "all participants must agree"
    );
    refused(
        &mut c,
        "empty proposal",
        |c| c.vote_add_domains(&ctx("carol.near", 1), &[], 0),
        ContractError::InvalidParameters("propose between 1 and 16 domains".into()),
    );
    c.vote_add_domains(&ctx("carol.near", 1), &SCHEMES, 0)
        .unwrap();
    assert_eq!(c.state_view().unwrap().state, Phase::Initializing);
    refused(
        &mut c,
        "pk before start",
        |c| {
            c.vote_pk(
                &ctx("alice.near", 2),
                DomainId(0),
                keys.public(SignatureScheme::Secp256k1),
                0,
            )
        },
        ContractError::InstanceNotStarted,
    );
    c.start_keygen_instance(&ctx("alice.near", 2), 0).unwrap();
    refused(
        &mut c,
        "wrong curve",
        |c| {
            c.vote_pk(
                &ctx("alice.near", 2),
                DomainId(1),
                keys.public(SignatureScheme::Secp256k1),
                0,
            )
        },
        ContractError::InvalidParameters("a Ed25519 domain needs a Ed25519 key".into()),
    );
    refused(
        &mut c,
        "unknown domain",
        |c| {
            c.vote_pk(
                &ctx("alice.near", 2),
                DomainId(5),
                keys.public(SignatureScheme::Secp256k1),
                0,
            )
        },
        ContractError::UnknownDomain(DomainId(5)),
    );
    // One participant reports another key for domain 0: the domains never activate.
    let other = Keys::new(4).public(SignatureScheme::Secp256k1);
    for (i, a) in NODES.iter().enumerate() {
        let k = if i == 2 {
            other
        } else {
            keys.public(SignatureScheme::Secp256k1)
        };
        c.vote_pk(&ctx(a, 3), DomainId(0), k, 0).unwrap();
        c.vote_pk(
            &ctx(a, 3),
            DomainId(1),
            keys.public(SignatureScheme::Ed25519),
            0,
        )
        .unwrap();
        c.vote_pk(
            &ctx(a, 3),
            DomainId(2),
            keys.public(SignatureScheme::Bip340),
            0,
        )
        .unwrap();
    }
    assert_eq!(c.state_view().unwrap().state, Phase::Initializing);
    refused(
        &mut c,
        "second pk vote",
        |c| {
            c.vote_pk(
                &ctx("carol.near", 3),
                DomainId(0),
                keys.public(SignatureScheme::Secp256k1),
                0,
            )
        },
        ContractError::AlreadyVoted("carol.near".into()),
    );
    // Meanwhile nothing is signable on the new domains.
    assert_eq!(
        c.public_key(Some(DomainId(0))).unwrap_err(),
        ContractError::UnknownDomain(DomainId(0))
    );
}

#[test]
fn abort_restores_the_previous_state() {
    let base = network();
    let mut c = base.clone();
    for a in NODES {
        c.vote_add_domains(&ctx(a, 1), &[SignatureScheme::Ed25519], 0)
            .unwrap();
    }
    // Before the block budget runs out, a threshold of votes aborts.
    assert_eq!(c.vote_abort(&ctx("alice.near", 2), 0).unwrap(), vec![]);
    refused(
        &mut c,
        "abort twice",
        |c| c.vote_abort(&ctx("alice.near", 2), 0).map(drop),
        ContractError::AlreadyVoted("alice.near".into()),
    );
    refused(
        &mut c,
        "outsider abort",
        |c| c.vote_abort(&ctx("eve.near", 2), 0).map(drop),
        ContractError::NotParticipant("eve.near".into()),
    );
    assert!(!c.vote_abort(&ctx("bob.near", 2), 0).unwrap().is_empty());
    assert_eq!(c, base, "the previous Running state, votes cleared");

    // After the block budget, one vote suffices.
    let mut c = base.clone();
    c.vote_leave(&ctx("alice.near", 1), &account("carol.near"), 0)
        .unwrap();
    c.vote_leave(&ctx("bob.near", 1), &account("carol.near"), 0)
        .unwrap();
    c.start_reshare_instance(&ctx("alice.near", 10), 0).unwrap();
    let budget = c.root.config.key_event_timeout_blocks;
    c.vote_abort(&ctx("carol.near", 10 + budget - 1), 0)
        .unwrap();
    assert_eq!(
        c.state_view().unwrap().state,
        Phase::Resharing,
        "one vote before the budget is spent"
    );
    c.vote_abort(&ctx("bob.near", 10 + budget), 0).unwrap();
    assert_eq!(c, base);
    refused(
        &mut c,
        "nothing to abort",
        |c| c.vote_abort(&ctx("bob.near", 1), 0).map(drop),
        ContractError::WrongState("Running"),
    );
}

#[test]
fn the_root_survives_its_layout_and_old_layouts_are_named() {
    let mut c = network();
    add_domains(&mut c, &Keys::new(5), 1);
    c.register_candidate(&candidate_ctx("dave.near", 3), info(3))
        .unwrap();
    let bytes = storage::encode_root(c.root());
    assert_eq!(bytes[0], 1, "layout tag first");
    assert_eq!(&storage::decode_root(&bytes).unwrap(), c.root());
    // Layout 1 (everything in one value, tag 0) is refused by name, not misread.
    let mut old = bytes.clone();
    old[0] = 0;
    assert_eq!(
        storage::decode_root(&old).unwrap_err(),
        ContractError::StateLayout { found: 1 }
    );
    assert!(matches!(
        storage::decode_root(&bytes[..bytes.len() - 1]),
        Err(ContractError::CorruptState(_))
    ));
    assert!(matches!(
        storage::decode_root(&[]),
        Err(ContractError::CorruptState(_))
    ));
}

#[test]
fn only_the_contract_account_initializes() {
    let ps = || vec![(account("a.near"), info(0)), (account("b.near"), info(1))];
    let err = Contract::<MemStorage>::init_by(&ctx("eve.near", 1), ps(), 2, None).unwrap_err();
    assert_eq!(err, ContractError::NotContractAccount(CONTRACT.into()));
    assert!(Contract::<MemStorage>::init_by(&ctx(CONTRACT, 1), ps(), 2, None).is_ok());
}

#[test]
fn candidates_pay_for_their_entry_and_get_it_back() {
    let mut c = network();
    let mut short = candidate_ctx("dave.near", 1);
    short.deposit = CANDIDATE_DEPOSIT - 1;
    refused(
        &mut c,
        "too little deposit",
        |c| c.register_candidate(&short, info(3)).map(drop),
        ContractError::CandidateDeposit {
            attached: CANDIDATE_DEPOSIT - 1,
            required: CANDIDATE_DEPOSIT,
        },
    );
    let mut generous = candidate_ctx("dave.near", 1);
    generous.deposit = CANDIDATE_DEPOSIT + 5;
    assert_eq!(
        c.register_candidate(&generous, info(3)).unwrap(),
        vec![Effect::Refund(account("dave.near"), 5)],
        "only the deposit is kept"
    );
    // Registering again updates the entry and keeps nothing more.
    assert_eq!(
        c.register_candidate(&candidate_ctx("dave.near", 2), info(4))
            .unwrap(),
        vec![Effect::Refund(account("dave.near"), CANDIDATE_DEPOSIT)]
    );
    assert_eq!(
        c.state_view().unwrap().candidates[0].url,
        info(4).url,
        "the new url"
    );
    assert_eq!(
        c.withdraw_candidate(&ctx("dave.near", 3)).unwrap(),
        vec![Effect::Refund(account("dave.near"), CANDIDATE_DEPOSIT)]
    );
    assert!(c.state_view().unwrap().candidates.is_empty());
    refused(
        &mut c,
        "withdraw twice",
        |c| c.withdraw_candidate(&ctx("dave.near", 3)).map(drop),
        ContractError::NotCandidate("dave.near".into()),
    );

    // A joining candidate's deposit goes back when the new epoch begins.
    c.register_candidate(&candidate_ctx("dave.near", 4), info(3))
        .unwrap();
    for a in ["alice.near", "bob.near"] {
        c.vote_join(&ctx(a, 5), &account("dave.near"), 0).unwrap();
    }
    c.start_reshare_instance(&ctx("alice.near", 6), 0).unwrap();
    for a in ["alice.near", "bob.near", "carol.near"] {
        assert_eq!(c.vote_reshared(&ctx(a, 7), 0).unwrap(), vec![]);
    }
    assert_eq!(
        c.vote_reshared(&ctx("dave.near", 7), 0).unwrap(),
        vec![Effect::Refund(account("dave.near"), CANDIDATE_DEPOSIT)]
    );
}

#[test]
fn candidates_are_bounded() {
    let mut c = network();
    for i in 0..MAX_CANDIDATES {
        c.register_candidate(&candidate_ctx(&format!("c{i}.near"), 1), info(3))
            .unwrap();
    }
    refused(
        &mut c,
        "full",
        |c| {
            c.register_candidate(&candidate_ctx("late.near", 1), info(3))
                .map(drop)
        },
        ContractError::CandidatesFull(MAX_CANDIDATES),
    );
    c.withdraw_candidate(&ctx("c0.near", 2)).unwrap();
    c.register_candidate(&candidate_ctx("late.near", 2), info(3))
        .unwrap();
}

#[test]
fn a_participant_backs_one_proposal_at_a_time() {
    let mut c = network();
    let all = |names: &[&str]| names.iter().map(|n| account(n)).collect::<Vec<_>>();
    // Alice proposes threshold 3, then changes her mind to a smaller set: her first vote goes.
    c.vote_new_parameters(
        &ctx("alice.near", 1),
        &all(&["alice.near", "bob.near", "carol.near"]),
        3,
        0,
    )
    .unwrap();
    for t in [2u64, 3] {
        let _ = c.vote_new_parameters(&ctx("alice.near", 1), &all(&NODES), t, 0);
    }
    let ProtocolState::Running(r) = &c.root.protocol else {
        panic!("still running")
    };
    assert_eq!(r.votes.parameters.len(), 1, "{:?}", r.votes.parameters);
    for schemes in [
        &[SignatureScheme::Ed25519][..],
        &[SignatureScheme::Secp256k1],
        &[SignatureScheme::Bip340],
    ] {
        c.vote_add_domains(&ctx("alice.near", 1), schemes, 0)
            .unwrap();
    }
    let ProtocolState::Running(r) = &c.root.protocol else {
        panic!("still running")
    };
    assert_eq!(r.votes.add_domains.len(), 1);
    // Backing the same proposal twice is still refused.
    refused(
        &mut c,
        "same vote",
        |c| c.vote_add_domains(&ctx("alice.near", 1), &[SignatureScheme::Bip340], 0),
        ContractError::AlreadyVoted("alice.near".into()),
    );
}

#[test]
fn v2_secp256k1_domains_need_2t_minus_1_participants() {
    let v2 = [SignatureScheme::V2Secp256k1];
    // Three participants at threshold 3: 2t − 1 = 5 > 3, refused before any vote counts.
    let ps = NODES
        .iter()
        .enumerate()
        .map(|(i, a)| (account(a), info(i as u8)))
        .collect();
    let mut strict = Contract::<MemStorage>::init(ps, 3, None).unwrap();
    refused(
        &mut strict,
        "too few for 2t - 1",
        |c| c.vote_add_domains(&ctx("alice.near", 1), &v2, 0),
        ContractError::InvalidParameters(
            "a V2Secp256k1 domain signs with 5 participants at threshold 3; the network would \
             have 3"
                .into(),
        ),
    );

    // Three at threshold 2: 2t − 1 = 3, accepted; the domain's key and JSON are secp256k1's.
    let mut c = network();
    for a in NODES {
        c.vote_add_domains(&ctx(a, 1), &v2, 0).unwrap();
    }
    c.start_keygen_instance(&ctx("alice.near", 2), 0).unwrap();
    let keys = Keys::new(5);
    for a in NODES {
        c.vote_pk(
            &ctx(a, 3),
            DomainId(0),
            keys.public(SignatureScheme::V2Secp256k1),
            0,
        )
        .unwrap();
    }
    assert_eq!(
        c.state_view().unwrap().domains[0].scheme,
        SignatureScheme::V2Secp256k1
    );
    let state = serde_json::to_value(c.state_json().unwrap()).unwrap();
    let domain = &state["Running"]["domains"]["domains"][0];
    assert_eq!(domain["protocol"], "DamgardEtAl", "{state}");
    assert_eq!(domain["scheme"], "V2Secp256k1", "{state}");
    // While it exists, the network cannot shrink below 2t − 1 or raise t past (n + 1) / 2.
    refused(
        &mut c,
        "leave below 2t - 1",
        |c| c.vote_leave(&ctx("alice.near", 4), &account("carol.near"), 0),
        ContractError::InvalidParameters(
            "a V2Secp256k1 domain signs with 3 participants at threshold 2; the network would \
             have 2"
                .into(),
        ),
    );
    refused(
        &mut c,
        "threshold past (n + 1) / 2",
        |c| {
            let nodes: Vec<_> = NODES.iter().map(|n| account(n)).collect();
            c.vote_new_parameters(&ctx("alice.near", 4), &nodes, 3, 0)
        },
        ContractError::InvalidParameters(
            "a V2Secp256k1 domain signs with 5 participants at threshold 3; the network would \
             have 3"
                .into(),
        ),
    );
}
