//! The binding under near-sdk's unit-testing host: who may call what, the promises `sign`
//! makes (the signer's `sign` with 1 yoctoNEAR, then `on_signed`), and the callback's two
//! outcomes. The host never runs promises, so the callback is called directly with the
//! promise result it would get.

use near_sdk::mock::MockAction;
use near_sdk::test_utils::{get_created_receipts, VMContextBuilder};
use near_sdk::{testing_env, Gas, NearToken, PromiseResult};

use super::*;

const MARKET: &str = "market.near";
const SIGNER: &str = "signer.near";
const SELLER: &str = "seller.near";
const BUYER: &str = "buyer.near";

fn context(who: &str, deposit: u128) -> VMContextBuilder {
    let mut b = VMContextBuilder::new();
    b.current_account_id(MARKET.parse().unwrap())
        .predecessor_account_id(who.parse().unwrap())
        .signer_account_id(who.parse().unwrap())
        .attached_deposit(NearToken::from_yoctonear(deposit))
        .prepaid_gas(Gas::from_tgas(300));
    b
}

fn as_caller(who: &str, deposit: u128) {
    testing_env!(context(who, deposit).build());
}

/// The market with the seller owning "btc-1" and the buyer "eth-1".
fn market() -> AccountSwap {
    as_caller(MARKET, 0);
    let mut m = AccountSwap::new(SIGNER.parse().unwrap());
    as_caller(SELLER, 0);
    m.claim("btc-1".into());
    as_caller(BUYER, 0);
    m.claim("eth-1".into());
    m
}

fn request(path: &str) -> SignRequest {
    SignRequest {
        path: path.into(),
        payload_v2: Payload::Ecdsa("11".repeat(32)),
        domain_id: Some(0),
    }
}

/// Runs `f`, which must panic with a message containing `expected`.
fn refused(expected: &str, f: impl FnOnce()) {
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .expect_err("the call must be refused");
    let text = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
        // The mocked host reports the contract's panic in Debug form: quotes escaped.
        .replace("\\\"", "\"");
    assert!(
        text.contains(expected),
        "{text:?} does not say {expected:?}"
    );
}

#[test]
fn sign_forwards_the_signers_request_then_calls_back() {
    let mut m = market();
    as_caller(SELLER, 1);
    m.sign(request("btc-1"));
    let receipts = get_created_receipts();
    assert_eq!(receipts.len(), 2, "{receipts:?}");
    assert_eq!(receipts[0].receiver_id.as_str(), SIGNER);
    let MockAction::FunctionCallWeight {
        method_name,
        args,
        attached_deposit,
        prepaid_gas,
        ..
    } = &receipts[0].actions[0]
    else {
        panic!("not a function call: {:?}", receipts[0].actions);
    };
    assert_eq!(method_name, b"sign");
    assert_eq!(*attached_deposit, NearToken::from_yoctonear(1));
    assert_eq!(*prepaid_gas, SIGN_GAS);
    let args: serde_json::Value = serde_json::from_slice(args).unwrap();
    assert_eq!(
        args,
        serde_json::json!({"request": {"path": "btc-1",
            "payload_v2": {"Ecdsa": "11".repeat(32)}, "domain_id": 0}})
    );
    assert_eq!(receipts[1].receiver_id.as_str(), MARKET);
    assert!(matches!(
        &receipts[1].actions[0],
        MockAction::FunctionCallWeight { method_name, .. } if method_name == b"on_signed"
    ));
    assert_eq!(m.get_claim("btc-1".into()).unwrap().signing, 1);
}

#[test]
fn the_callback_returns_the_answer_or_fails_after_its_bookkeeping() {
    let mut m = market();
    as_caller(SELLER, 1);
    m.sign(request("btc-1"));
    m.sign(request("btc-1"));
    let answer = br#"{"scheme":"Secp256k1"}"#.to_vec();
    for succeeded in [true, false] {
        let result = if succeeded {
            PromiseResult::Successful(answer.clone())
        } else {
            PromiseResult::Failed
        };
        testing_env!(
            context(MARKET, 0).build(),
            near_sdk::test_vm_config(),
            near_sdk::RuntimeFeesConfig::test(),
            Default::default(),
            vec![result],
        );
        m.on_signed("btc-1".into());
        let receipts = get_created_receipts();
        match succeeded {
            // The answer is the transaction's result; nothing else is scheduled.
            true => assert!(receipts.is_empty(), "{receipts:?}"),
            false => assert!(matches!(
                &receipts[0].actions[0],
                MockAction::FunctionCallWeight { method_name, .. } if method_name == b"fail_sign"
            )),
        }
    }
    assert_eq!(m.get_claim("btc-1".into()).unwrap().signing, 0);
    refused("did not sign for path \"btc-1\"", || {
        m.fail_sign("btc-1".into())
    });
    // Only as a callback.
    as_caller(MARKET, 0);
    refused("only as the callback", || m.on_signed("btc-1".into()));
}

#[test]
fn only_the_owner_of_an_unoffered_path_gets_signatures() {
    let mut m = market();
    as_caller(BUYER, 1);
    refused(
        "buyer.near does not own path \"btc-1\"; seller.near does",
        || m.sign(request("btc-1")),
    );
    as_caller(SELLER, 0);
    let id = m.offer("btc-1".into(), "eth-1".into());
    as_caller(SELLER, 1);
    refused("is offered in offer 0", || m.sign(request("btc-1")));
    as_caller(BUYER, 0);
    let offer = m.accept(id);
    assert_eq!(offer.seller, SELLER);
    assert_eq!(m.get_claim("btc-1".into()).unwrap().owner, BUYER);
    assert_eq!(m.paths_of(SELLER.into()), ["eth-1"]);
    as_caller(BUYER, 1);
    m.sign(request("btc-1"));
    as_caller(SELLER, 1);
    refused("does not own path \"btc-1\"", || m.sign(request("btc-1")));
    m.sign(request("eth-1"));
}

#[test]
fn sign_wants_one_yocto_enough_gas_and_a_sound_payload() {
    let mut m = market();
    for deposit in [0, 2] {
        as_caller(SELLER, deposit);
        refused("attach exactly 1 yoctoNEAR", || m.sign(request("btc-1")));
    }
    testing_env!(context(SELLER, 1).prepaid_gas(Gas::from_tgas(60)).build());
    refused("attach at least", || m.sign(request("btc-1")));
    as_caller(SELLER, 1);
    let mut bad = request("btc-1");
    bad.payload_v2 = Payload::Ecdsa("11".repeat(31));
    refused("must be 32 bytes, not 31", || m.sign(bad));
    assert!(get_created_receipts().is_empty());
    assert_eq!(m.get_claim("btc-1".into()).unwrap().signing, 0);
}

#[test]
fn views_show_claims_and_offers() {
    let mut m = market();
    assert_eq!(m.signer_id().as_str(), SIGNER);
    assert!(m.get_claim("nobody".into()).is_none());
    as_caller(SELLER, 0);
    let id = m.offer("btc-1".into(), "eth-1".into());
    assert_eq!(m.get_claim("btc-1".into()).unwrap().offer, Some(id));
    assert_eq!(m.get_offers().len(), 1);
    assert_eq!(m.get_offer(id).unwrap().want, "eth-1");
    let back = m.withdraw(id);
    assert_eq!(back.id, id);
    assert!(m.get_offers().is_empty());
}
