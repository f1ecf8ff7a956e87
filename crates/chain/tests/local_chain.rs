//! The in-process chain end to end: init, a domain, sign → respond → result in the next
//! block, the 200-block timeout, shared answers, refusals.

use chain::{Call, LocalChain, TxError};
use contract::ContractError;
use primitives::response::SignatureResponse;
use primitives::{DomainId, NearPublicKey, SignatureScheme};
use testkit::Keys;

const NODES: [&str; 3] = ["n0.near", "n1.near", "n2.near"];

fn root() -> NearPublicKey {
    Keys::new(5).public(SignatureScheme::Secp256k1)
}

fn chain() -> LocalChain {
    let mut c = LocalChain::new("signer.near", [7; 32]);
    let participants = NODES
        .iter()
        .map(|a| chain::InitParticipant {
            account_id: a.to_string(),
            url: format!("https://{a}"),
            tls_public_key: root(),
        })
        .collect();
    c.call(
        "signer.near",
        0,
        Call::Init {
            participants,
            threshold: 2,
            config: None,
        },
    )
    .unwrap();
    for a in NODES {
        c.call(
            a,
            0,
            Call::VoteAddDomains {
                schemes: vec![SignatureScheme::Secp256k1],
                epoch: 0,
            },
        )
        .unwrap();
    }
    c.call(NODES[0], 0, Call::StartKeygenInstance { epoch: 0 })
        .unwrap();
    for a in NODES {
        c.call(
            a,
            0,
            Call::VotePk {
                domain_id: DomainId(0),
                public_key: root(),
                epoch: 0,
            },
        )
        .unwrap();
    }
    c
}

fn sign_call(path: &str, msg: u8) -> Call {
    let request = testkit::sign_request(0, SignatureScheme::Secp256k1, path, msg);
    Call::from_parts(
        "sign",
        &serde_json::to_vec(&serde_json::json!({ "request": request })).unwrap(),
    )
    .unwrap()
}

fn request_id(account: &str, path: &str, msg: u8) -> contract::RequestId {
    let request = testkit::sign_request(0, SignatureScheme::Secp256k1, path, msg);
    let args: primitives::request::SignRequestArgs = serde_json::from_value(request).unwrap();
    contract::request_id(
        &contract::AccountId(account.into()),
        &args.normalize().unwrap(),
    )
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn signature(account: &str, path: &str, msg: u8) -> SignatureResponse {
    Keys::new(5).sign(SignatureScheme::Secp256k1, account, path, &[msg; 32])
}

#[test]
fn sign_respond_and_the_answer_arrives_next_block() {
    let mut c = chain();
    let t1 = c.call("app.near", 1, sign_call("p", 1)).unwrap().unwrap();
    let t2 = c.call("app.near", 1, sign_call("p", 1)).unwrap().unwrap();
    assert_eq!(
        c.contract().unwrap().pending_count().unwrap(),
        1,
        "identical requests are one request"
    );
    let id = request_id("app.near", "p", 1);
    let req = c.contract().unwrap().pending_request(&id).unwrap().unwrap();
    assert_eq!(
        req.entropy,
        hex_of(&c.random_seed()),
        "entropy is the block's random seed"
    );

    let sig = signature("app.near", "p", 1);
    c.call(
        NODES[1],
        0,
        Call::Respond {
            request_id: req.request_id,
            response: sig.clone(),
        },
    )
    .unwrap();
    assert!(c.result(t1).is_none(), "callbacks run in a later block");
    c.produce_block();
    assert_eq!(c.result(t1), Some(&Ok(sig.clone())));
    assert_eq!(c.result(t2), Some(&Ok(sig)));
}

#[test]
fn unanswered_requests_time_out_after_200_blocks() {
    let mut c = chain();
    let t = c.call("app.near", 1, sign_call("p", 2)).unwrap().unwrap();
    for _ in 0..199 {
        c.produce_block();
    }
    assert!(c.result(t).is_none(), "still waiting at 199 blocks");
    c.produce_block();
    assert_eq!(
        c.result(t),
        Some(&Err(TxError::Contract(ContractError::Timeout)))
    );
    assert_eq!(c.contract().unwrap().pending_count().unwrap(), 0);
}

#[test]
fn refused_calls_change_nothing() {
    let mut c = chain();
    c.call("app.near", 1, sign_call("p", 3)).unwrap();
    let id = request_id("app.near", "p", 3);
    let before = c.contract().unwrap().clone();
    let bad = [
        (
            "outsider",
            "eve.near",
            Call::Respond {
                request_id: id,
                response: signature("app.near", "p", 3),
            },
        ),
        (
            "wrong signature",
            NODES[0],
            Call::Respond {
                request_id: id,
                response: signature("app.near", "q", 3),
            },
        ),
        ("stale vote", NODES[0], Call::VoteAbort { epoch: 9 }),
    ];
    for (name, who, call) in bad {
        assert!(c.call(who, 0, call).is_err(), "{name}");
        assert_eq!(c.contract().unwrap(), &before, "{name}");
    }
    assert_eq!(
        c.call("app.near", 0, sign_call("p", 4)).unwrap_err(),
        TxError::Contract(ContractError::NoDeposit)
    );
    assert_eq!(
        c.call(
            "x.near",
            0,
            Call::Init {
                participants: vec![],
                threshold: 2,
                config: None
            }
        )
        .unwrap_err(),
        TxError::Contract(ContractError::AlreadyInitialized)
    );
}

#[test]
fn only_the_contract_account_initializes() {
    let mut c = LocalChain::new("signer.near", [1; 32]);
    let init = || Call::Init {
        participants: NODES
            .iter()
            .map(|a| chain::InitParticipant {
                account_id: a.to_string(),
                url: format!("https://{a}"),
                tls_public_key: root(),
            })
            .collect(),
        threshold: 2,
        config: None,
    };
    assert_eq!(
        c.call("eve.near", 0, init()).unwrap_err(),
        TxError::Contract(ContractError::NotContractAccount("signer.near".into()))
    );
    c.call("signer.near", 0, init()).unwrap();
}

/// `init_running` with the running chain's own `state()`: a second chain starts where the
/// first is, and signs at once; only its contract account may, and only once.
#[test]
fn init_running_starts_a_chain_where_another_runs() {
    let first = chain();
    let contract::views::near_state::ProtocolContractState::Running(running) =
        first.contract().unwrap().state_json().unwrap()
    else {
        panic!("the first chain runs")
    };
    let call = || Call::InitRunning(contract::InitRunningArgs::from_state(running.clone(), None));
    let mut c = LocalChain::new("signer.near", [2; 32]);
    assert_eq!(
        c.call("eve.near", 0, call()).unwrap_err(),
        TxError::Contract(ContractError::NotContractAccount("signer.near".into()))
    );
    c.call("signer.near", 0, call()).unwrap();
    assert_eq!(
        c.call("signer.near", 0, call()).unwrap_err(),
        TxError::Contract(ContractError::AlreadyInitialized)
    );
    let t = c
        .call("app.near", 1, sign_call("moved", 4))
        .unwrap()
        .unwrap();
    let id = request_id("app.near", "moved", 4);
    let sig = signature("app.near", "moved", 4);
    let respond = Call::Respond {
        request_id: id,
        response: sig.clone(),
    };
    c.call(NODES[2], 0, respond).unwrap();
    c.produce_block();
    assert_eq!(c.result(t), Some(&Ok(sig)));
}

#[test]
fn each_complete_block_reports_the_contracts_storage_changes() {
    use chain::DataChange;
    use contract::storage::{key_kind, KeyKind};
    let mut c = chain();
    c.produce_block();
    let setup = c.final_height();
    assert!(
        c.changes(setup)
            .iter()
            .any(|ch| key_kind(ch.key()) == KeyKind::Root),
        "init and the votes wrote the root"
    );
    c.call("app.near", 1, sign_call("p", 1)).unwrap();
    let id = request_id("app.near", "p", 1);
    let signed_at = c.height();
    assert!(c.changes(signed_at).is_empty(), "not complete yet");
    c.produce_block();
    let kinds: Vec<KeyKind> = c
        .changes(signed_at)
        .iter()
        .map(|ch| key_kind(ch.key()))
        .collect();
    assert!(kinds.contains(&KeyKind::Request(id)));
    assert!(
        !kinds.contains(&KeyKind::Root),
        "a sign leaves the root alone: {kinds:?}"
    );
    c.call(
        NODES[0],
        0,
        Call::Respond {
            request_id: id,
            response: signature("app.near", "p", 1),
        },
    )
    .unwrap();
    let answered_at = c.height();
    c.produce_block();
    assert!(c.changes(answered_at).iter().any(
        |ch| matches!(ch, DataChange::Remove { key } if key_kind(key) == KeyKind::Request(id))
    ));
}

#[test]
fn block_seeds_differ() {
    let mut c = LocalChain::new("signer.near", [1; 32]);
    let a = c.random_seed();
    c.produce_block();
    assert_ne!(a, c.random_seed());
    assert_eq!(c.height(), 2);
}
