//! The binding under near-sdk's unit-testing host: context mapping, yields, refunds, the
//! callback's two outcomes, refusals. (The host records yields but never runs callbacks, so
//! the callback is called directly, as NEAR's own contract tests do.)

use near_sdk::mock::MockAction;
use near_sdk::test_utils::{get_created_receipts, get_logs, VMContextBuilder};
use near_sdk::{testing_env, NearToken, PromiseError};
use testkit::Keys;

use super::*;

const NODES: [&str; 3] = ["alice.near", "bob.near", "carol.near"];

fn call(who: &str, deposit: u128, height: u64) {
    let mut b = VMContextBuilder::new();
    b.current_account_id("signer.test".parse().unwrap())
        .predecessor_account_id(who.parse().unwrap())
        .signer_account_id(who.parse().unwrap())
        .attached_deposit(NearToken::from_yoctonear(deposit))
        .block_height(height)
        .random_seed([height as u8; 32]);
    testing_env!(b.build());
}

fn keys() -> Keys {
    Keys::new(77)
}

fn root_key() -> NearPublicKey {
    keys().public(SignatureScheme::Secp256k1)
}

fn tls_key(i: u64) -> NearPublicKey {
    let k256_point = (k256::ProjectivePoint::GENERATOR * k256::Scalar::from(i + 9)).to_affine();
    // Any valid key works for the contract's bookkeeping; real nodes register ed25519 keys.
    NearPublicKey::Secp256k1(k256_point)
}

/// Initializes the signer with one Secp256k1 domain whose root secret the test knows.
fn signer() {
    call("signer.test", 0, 1);
    let participants = NODES
        .iter()
        .enumerate()
        .map(|(i, a)| InitParticipant {
            account_id: a.to_string(),
            url: format!("https://{a}:3000"),
            tls_public_key: tls_key(i as u64),
        })
        .collect();
    Signer::init(participants, 2, None);
    for a in NODES {
        call(a, 0, 2);
        Signer::vote_add_domains(vec![SignatureScheme::Secp256k1], 0);
    }
    call(NODES[0], 0, 3);
    Signer::start_keygen_instance(0);
    for a in NODES {
        call(a, 0, 4);
        Signer::vote_pk(DomainId(0), root_key(), 0);
    }
}

fn args(path: &str, msg: u8) -> SignRequestArgs {
    serde_json::from_value(testkit::sign_request(
        0,
        SignatureScheme::Secp256k1,
        path,
        msg,
    ))
    .unwrap()
}

fn signature(predecessor: &str, path: &str, msg: u8) -> SignatureResponse {
    keys().sign(SignatureScheme::Secp256k1, predecessor, path, &[msg; 32])
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The id of `user.near`'s request for `args`, checked pending.
fn pending(args: &SignRequestArgs) -> RequestId {
    let request = args.clone().normalize().unwrap();
    let id = contract::request_id(&AccountId("user.near".into()), &request);
    assert!(Signer::pending_request(id).is_some(), "pending");
    id
}

#[test]
fn sign_then_respond_resumes_the_caller_with_nears_json() {
    signer();
    call("user.near", 1, 10);
    Signer::sign(args("ethereum-1", 7));
    assert!(get_logs().iter().any(|l| l.starts_with("EVENT_JSON:")));
    let id = pending(&args("ethereum-1", 7));
    assert_eq!(
        Signer::pending_request(id).unwrap().entropy,
        hex_of(&[10; 32])
    );

    let response = signature("user.near", "ethereum-1", 7);
    call("bob.near", 0, 11);
    Signer::respond(id, response.clone());
    assert!(Signer::pending_request(id).is_none());
    assert!(get_logs().iter().any(|l| l.contains("accepted")));

    // The resumed callback returns the signature to the caller, in docs/design.md §4.3's JSON.
    call("signer.test", 0, 12);
    let YieldOutcome::Signature(returned) = resolve_yield(id, 0, Ok(response.clone())) else {
        panic!("a resumed yield returns the signature")
    };
    Signer::on_signature(id, 0, Ok(response)); // the host path runs without failing
    let json: serde_json::Value = serde_json::from_str(&returned).unwrap();
    assert_eq!(json["scheme"], "Secp256k1");
    let r = json["big_r"]["affine_point"].as_str().unwrap();
    assert_eq!(r.len(), 66);
    assert_eq!(
        r,
        r.to_lowercase(),
        "lower-case hex, as NEAR's signer writes it since 3.6.0"
    );
    assert_eq!(json["s"]["scalar"].as_str().unwrap().len(), 64);
    assert!(json["recovery_id"].as_u64().unwrap() <= 1);
}

#[test]
fn excess_deposit_is_refunded() {
    signer();
    call("user.near", 5, 10);
    Signer::sign(args("p", 1));
    let refunds: Vec<_> = get_created_receipts()
        .into_iter()
        .filter(|r| r.receiver_id.as_str() == "user.near")
        .collect();
    assert_eq!(refunds.len(), 1, "one transfer back to the caller");
    let amounts: Vec<u128> = refunds[0]
        .actions
        .iter()
        .filter_map(|a| match a {
            MockAction::Transfer { deposit, .. } => Some(deposit.as_yoctonear()),
            _ => None,
        })
        .collect();
    assert_eq!(amounts, vec![4], "all but the 1 yoctoNEAR fee goes back");
}

#[test]
fn a_timed_out_yield_cleans_up_and_fails() {
    signer();
    call("user.near", 1, 10);
    Signer::sign(args("p", 2));
    let id = pending(&args("p", 2));
    call("signer.test", 0, 210);
    Signer::on_signature(id, 0, Err(PromiseError::Failed));
    let calls: Vec<String> = get_created_receipts()
        .iter()
        .flat_map(|r| r.actions.iter())
        .filter_map(|a| match a {
            MockAction::FunctionCallWeight { method_name, .. } => {
                Some(String::from_utf8_lossy(method_name).into_owned())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        calls,
        ["fail_on_timeout"],
        "the caller's result becomes the failing call"
    );
    assert!(
        Signer::pending_request(id).is_none(),
        "the request left the queue"
    );
    assert_eq!(Signer::system_load().pending_requests, 0);
}

#[test]
#[should_panic(expected = "signature request has timed out")]
fn the_timeout_promise_fails_with_the_timeout_error() {
    signer();
    call("signer.test", 0, 210);
    Signer::fail_on_timeout();
}

#[test]
#[should_panic(expected = "mallory.near is not a participant")]
fn outsiders_cannot_respond() {
    signer();
    call("user.near", 1, 10);
    Signer::sign(args("p", 3));
    let id = pending(&args("p", 3));
    call("mallory.near", 0, 11);
    Signer::respond(id, signature("user.near", "p", 3));
}

#[test]
#[should_panic(expected = "signature does not verify under the derived key")]
fn a_wrong_signature_is_refused() {
    signer();
    call("user.near", 1, 10);
    Signer::sign(args("p", 3));
    let id = pending(&args("p", 3));
    call("alice.near", 0, 11);
    Signer::respond(id, signature("user.near", "other-path", 3));
}

#[test]
#[should_panic(expected = "attach at least 1 yoctoNEAR")]
fn sign_needs_a_deposit() {
    signer();
    call("user.near", 0, 10);
    Signer::sign(args("p", 4));
}

#[test]
fn views_read_the_core() {
    signer();
    call("anyone.near", 0, 5);
    assert_eq!(Signer::public_key(None), root_key());
    assert_eq!(Signer::latest_key_version(None), 0);
    assert!(matches!(
        Signer::state(),
        contract::views::near_state::ProtocolContractState::Running(_)
    ));
    assert_eq!(Signer::config().request_timeout_blocks, 200);
    assert_eq!(Signer::version(), env!("CARGO_PKG_VERSION"));
    let derived = Signer::derived_public_key("p".into(), "user.near".into(), None);
    assert_eq!(
        derived,
        primitives::derivation::derive_public_key(&root_key(), "user.near", "p").unwrap()
    );
}

#[test]
#[should_panic(expected = "only the contract account signer.test may initialize it")]
fn nobody_else_initializes() {
    call("eve.near", 0, 1);
    Signer::init(vec![], 2, None);
}

#[test]
#[should_panic(expected = "the contract is already initialized")]
fn init_runs_once() {
    signer();
    call("signer.test", 0, 5);
    Signer::init(vec![], 2, None);
}

#[test]
#[should_panic(expected = "the contract state is in layout 1")]
fn a_state_of_the_old_layout_is_refused_by_name() {
    call("signer.test", 0, 1);
    // Layout 1 wrote one borsh value with tag 0 under STATE.
    env::storage_write(STATE_KEY, &[0, 1, 2, 3]);
    call("anyone.near", 0, 2);
    Signer::state();
}

#[test]
#[should_panic(expected = "Method doesn't accept deposit")]
fn votes_take_no_deposit() {
    signer();
    call(NODES[0], 1, 5);
    Signer::vote_abort(0);
}

/// `init_running`'s arguments for the three nodes (ids kept as given) with one Secp256k1
/// domain whose root secret the test knows, in NEAR's JSON.
fn running_args() -> serde_json::Value {
    let participants: Vec<serde_json::Value> = NODES
        .iter()
        .enumerate()
        .map(|(i, a)| {
            serde_json::json!([a, i * 2, {"url": format!("https://{a}:3000"),
                "tls_public_key": tls_key(i as u64)}])
        })
        .collect();
    serde_json::json!({
        "domains": [{"id": 0, "protocol": "CaitSith", "reconstruction_threshold": 2,
                     "purpose": "Sign"}],
        "next_domain_id": 1,
        "keyset": {"epoch_id": 4, "domains": [{"domain_id": 0, "attempt": 0,
                   "key": {"Secp256k1": {"near_public_key": root_key()}}}]},
        "parameters": {"threshold": 2, "participants": {"next_id": 5,
                       "participants": participants}}
    })
}

fn init_running_as(who: &str) {
    call(who, 0, 1);
    let args: InitRunningArgs = serde_json::from_value(running_args()).unwrap();
    Signer::init_running(
        args.domains,
        args.next_domain_id,
        args.keyset,
        args.parameters,
        args.init_config,
    );
}

#[test]
fn init_running_starts_a_network_that_signs_at_once() {
    init_running_as("signer.test");
    call("anyone.near", 0, 2);
    assert_eq!(Signer::public_key(None), root_key());
    let ProtocolContractState::Running(running) = Signer::state() else {
        panic!("started Running")
    };
    assert_eq!(running.keyset.epoch_id, 4);
    let ids: Vec<u32> = running
        .parameters
        .participants
        .participants
        .iter()
        .map(|p| p.1 .0)
        .collect();
    assert_eq!(ids, [0, 2, 4], "participant ids as given");

    call("user.near", 1, 10);
    Signer::sign(args("moved", 5));
    let id = pending(&args("moved", 5));
    call("carol.near", 0, 11);
    Signer::respond(id, signature("user.near", "moved", 5));
    assert!(Signer::pending_request(id).is_none(), "answered");
}

#[test]
#[should_panic(expected = "only the contract account signer.test may initialize it")]
fn nobody_else_starts_it_running() {
    init_running_as("eve.near");
}

#[test]
#[should_panic(expected = "the contract is already initialized")]
fn init_running_runs_on_an_uninitialized_contract_only() {
    signer();
    init_running_as("signer.test");
}
