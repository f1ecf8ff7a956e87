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

/// An initialized signer with one Secp256k1 domain whose root secret the test knows.
fn signer() -> Signer {
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
    let mut s = Signer::init(participants, 2, None);
    for a in NODES {
        call(a, 0, 2);
        s.vote_add_domains(vec![SignatureScheme::Secp256k1], 0);
    }
    call(NODES[0], 0, 3);
    s.start_keygen_instance(0);
    for a in NODES {
        call(a, 0, 4);
        s.vote_pk(DomainId(0), root_key(), 0);
    }
    s
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

/// Signs as `user.near`; the pending request's id and the yield key (the only yield: key 0+).
fn pending_one(s: &Signer) -> RequestId {
    let page = s.pending_requests(None, None);
    assert_eq!(page.requests.len(), 1);
    page.requests[0].request_id
}

#[test]
fn sign_then_respond_resumes_the_caller_with_nears_json() {
    let mut s = signer();
    call("user.near", 1, 10);
    s.sign(args("ethereum-1", 7));
    assert!(get_logs().iter().any(|l| l.starts_with("EVENT_JSON:")));
    let id = pending_one(&s);
    assert_eq!(
        s.pending_requests(None, None).requests[0].entropy,
        hex_of(&[10; 32])
    );

    let response = signature("user.near", "ethereum-1", 7);
    call("bob.near", 0, 11);
    s.respond(id, response.clone());
    assert!(s.pending_requests(None, None).requests.is_empty());
    assert!(get_logs().iter().any(|l| l.contains("accepted")));

    // The resumed callback returns the signature to the caller, in DESIGN §4.3's JSON.
    call("signer.test", 0, 12);
    let YieldOutcome::Signature(returned) = s.resolve_yield(id, 0, Ok(response.clone())) else {
        panic!("a resumed yield returns the signature")
    };
    s.on_signature(id, 0, Ok(response)); // the host path runs without failing
    let json: serde_json::Value = serde_json::from_str(&returned).unwrap();
    assert_eq!(json["scheme"], "Secp256k1");
    let r = json["big_r"]["affine_point"].as_str().unwrap();
    assert_eq!(r.len(), 66);
    assert_eq!(
        r,
        r.to_uppercase(),
        "upper-case hex, as NEAR's signer writes it"
    );
    assert_eq!(json["s"]["scalar"].as_str().unwrap().len(), 64);
    assert!(json["recovery_id"].as_u64().unwrap() <= 1);
}

#[test]
fn excess_deposit_is_refunded() {
    let mut s = signer();
    call("user.near", 5, 10);
    s.sign(args("p", 1));
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
    let mut s = signer();
    call("user.near", 1, 10);
    s.sign(args("p", 2));
    let id = pending_one(&s);
    call("signer.test", 0, 210);
    s.on_signature(id, 0, Err(PromiseError::Failed));
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
        s.pending_requests(None, None).requests.is_empty(),
        "the request left the queue"
    );
    assert_eq!(s.system_load().pending_requests, 0);
}

#[test]
#[should_panic(expected = "signature request has timed out")]
fn the_timeout_promise_fails_with_the_timeout_error() {
    let s = signer();
    call("signer.test", 0, 210);
    s.fail_on_timeout();
}

#[test]
#[should_panic(expected = "mallory.near is not a participant")]
fn outsiders_cannot_respond() {
    let mut s = signer();
    call("user.near", 1, 10);
    s.sign(args("p", 3));
    let id = pending_one(&s);
    call("mallory.near", 0, 11);
    s.respond(id, signature("user.near", "p", 3));
}

#[test]
#[should_panic(expected = "signature does not verify under the derived key")]
fn a_wrong_signature_is_refused() {
    let mut s = signer();
    call("user.near", 1, 10);
    s.sign(args("p", 3));
    let id = pending_one(&s);
    call("alice.near", 0, 11);
    s.respond(id, signature("user.near", "other-path", 3));
}

#[test]
#[should_panic(expected = "attach at least 1 yoctoNEAR")]
fn sign_needs_a_deposit() {
    let mut s = signer();
    call("user.near", 0, 10);
    s.sign(args("p", 4));
}

#[test]
fn views_read_the_core() {
    let s = signer();
    call("anyone.near", 0, 5);
    assert_eq!(s.public_key(None), root_key());
    assert_eq!(s.latest_key_version(None), 0);
    assert_eq!(s.state().state, "Running");
    assert_eq!(s.config().request_timeout_blocks, 200);
    assert_eq!(s.version(), env!("CARGO_PKG_VERSION"));
    let derived = s.derived_public_key("p".into(), "user.near".into(), None);
    assert_eq!(
        derived,
        primitives::derivation::derive_public_key(&root_key(), "user.near", "p").unwrap()
    );
}
