//! `sign`, `respond`, the yield callback: every success and every refusal.

use primitives::request::SignArgs;
use primitives::SignatureScheme;

use super::*;

#[test]
fn sign_queues_refunds_and_logs() {
    let (mut c, _) = ready();
    let mut cx = ctx("user.near", 20);
    cx.deposit = 5;
    let mut y = 0;
    let (Waiter { id, .. }, effects) = sign_as_host(
        &mut c,
        &cx,
        sign_args(0, SignatureScheme::Secp256k1, "eth-1", 1),
        &mut y,
    )
    .unwrap();
    assert_eq!(effects[1], Effect::Refund(account("user.near"), 4));
    assert!(
        matches!(&effects[2], Effect::Log(l) if l.starts_with("EVENT_JSON:") && l.contains(&id.to_string()))
    );
    let pending = c.request(&id).unwrap().unwrap();
    assert_eq!(
        pending.entropy, [20; 32],
        "the block's random seed is the request's entropy"
    );
    assert_eq!(pending.created_at, 20);
    assert_eq!(pending.yields.len(), 1);
}

#[test]
fn identical_requests_share_one_answer() {
    let (mut c, keys) = ready();
    let mut y = 0;
    let args = || sign_args(0, SignatureScheme::Secp256k1, "eth-1", 1);
    let (w1, _) = sign_as_host(&mut c, &ctx("user.near", 20), args(), &mut y).unwrap();
    let (w2, effects) = sign_as_host(&mut c, &ctx("user.near", 21), args(), &mut y).unwrap();
    let (id1, id2) = (w1.id, w2.id);
    assert_eq!(id1, id2);
    assert_eq!(
        effects,
        vec![Effect::Yield(id1, w2.key)],
        "no second queue entry, no second event"
    );
    assert_eq!(c.system_load().unwrap().pending_requests, 1);
    // Another account's identical payload is another request.
    let (w3, _) = sign_as_host(&mut c, &ctx("other.near", 21), args(), &mut y).unwrap();
    assert_ne!(id1, w3.id);

    let sig = keys.sign(SignatureScheme::Secp256k1, "user.near", "eth-1", &[1; 32]);
    let effects = c
        .respond(&ctx("bob.near", 22), &TestCrypto, id1, &sig)
        .unwrap();
    let json = serde_json::to_string(&sig).unwrap();
    assert_eq!(
        effects[0],
        Effect::Resume(vec![w1.yield_id, w2.yield_id], json.clone())
    );
    assert_eq!(
        c.on_yield_resolved(id1, w1.key, Some(json.clone())),
        YieldOutcome::Signature(json)
    );
    assert!(c.request(&id1).unwrap().is_none());
}

#[test]
fn sign_refusals_change_nothing() {
    let (c, _) = ready();
    let mut small = c.clone();
    small.root.config.max_pending_requests = 1;
    let mut y = 0;
    sign_as_host(
        &mut small,
        &ctx("u.near", 20),
        sign_args(0, SignatureScheme::Secp256k1, "a", 1),
        &mut y,
    )
    .unwrap();
    let bad_payload: SignArgs = serde_json::from_value(serde_json::json!({"request": {
        "path": "p", "payload_v2": {"Ecdsa": "00".repeat(32)}, "domain_id": 0}}))
    .unwrap();
    let mut no_deposit = ctx("u.near", 20);
    no_deposit.deposit = 0;
    let long_path = "x".repeat(257);
    let mut little_gas = ctx("u.near", 20);
    little_gas.prepaid_gas = SIGN_MIN_GAS - 1;
    let cases: Vec<(&str, Contract, Ctx, SignArgs, ContractError)> = vec![
        (
            "no deposit",
            c.clone(),
            no_deposit,
            sign_args(0, SignatureScheme::Secp256k1, "p", 1),
            ContractError::NoDeposit,
        ),
        (
            "too little gas",
            c.clone(),
            little_gas,
            sign_args(0, SignatureScheme::Secp256k1, "p", 1),
            ContractError::InsufficientGas {
                attached: SIGN_MIN_GAS - 1,
                required: SIGN_MIN_GAS,
            },
        ),
        (
            "zero payload",
            c.clone(),
            ctx("u.near", 20),
            bad_payload,
            ContractError::InvalidRequest(
                "ECDSA payload must be a non-zero integer below the secp256k1 group order".into(),
            ),
        ),
        (
            "long path",
            c.clone(),
            ctx("u.near", 20),
            sign_args(0, SignatureScheme::Secp256k1, &long_path, 1),
            ContractError::PathTooLong(257, 256),
        ),
        (
            "unknown domain",
            c.clone(),
            ctx("u.near", 20),
            sign_args(9, SignatureScheme::Secp256k1, "p", 1),
            ContractError::UnknownDomain(DomainId(9)),
        ),
        (
            "eddsa payload on ecdsa domain",
            c.clone(),
            ctx("u.near", 20),
            sign_args(0, SignatureScheme::Ed25519, "p", 1),
            ContractError::InvalidRequest(
                "a Eddsa payload cannot be signed by a Secp256k1 domain".into(),
            ),
        ),
        (
            "ecdsa payload on ed25519 domain",
            c.clone(),
            ctx("u.near", 20),
            sign_args(1, SignatureScheme::Secp256k1, "p", 1),
            ContractError::InvalidRequest(
                "a Ecdsa payload cannot be signed by a Ed25519 domain".into(),
            ),
        ),
        (
            "overloaded",
            small.clone(),
            ctx("u.near", 20),
            sign_args(0, SignatureScheme::Secp256k1, "b", 2),
            ContractError::Overloaded(1),
        ),
        (
            "not initialized",
            Contract::default(),
            ctx("u.near", 20),
            sign_args(0, SignatureScheme::Secp256k1, "p", 1),
            ContractError::NotInitialized,
        ),
    ];
    for (name, mut contract, cx, args, want) in cases {
        let before = contract.clone();
        assert_eq!(contract.sign(&cx, args).unwrap_err(), want, "{name}");
        assert_eq!(contract, before, "{name}: state changed");
    }
}

#[test]
fn respond_verifies_every_scheme() {
    let (mut c, keys) = ready();
    let mut y = 0;
    for (domain, scheme) in SCHEMES.iter().enumerate() {
        let (
            Waiter {
                id, yield_id: yid, ..
            },
            _,
        ) = sign_as_host(
            &mut c,
            &ctx("app.near", 30),
            sign_args(domain as u64, *scheme, "p/1", 7),
            &mut y,
        )
        .unwrap();
        let msg = payload_bytes(*scheme, 7);
        // A signature by the right key for another path is refused; the request stays.
        let wrong = keys.sign(*scheme, "app.near", "p/2", &msg);
        let before = c.clone();
        let err = c
            .respond(&ctx("alice.near", 31), &TestCrypto, id, &wrong)
            .unwrap_err();
        assert!(
            matches!(err, ContractError::InvalidSignature(_)),
            "{scheme}: {err}"
        );
        assert_eq!(c, before);
        // The right one resumes the caller with the docs/design.md §4.3 JSON.
        let right = keys.sign(*scheme, "app.near", "p/1", &msg);
        let effects = c
            .respond(&ctx("alice.near", 31), &TestCrypto, id, &right)
            .unwrap();
        assert_eq!(
            effects[0],
            Effect::Resume(vec![yid], serde_json::to_string(&right).unwrap())
        );
        assert!(c.request(&id).unwrap().is_none());
    }
}

#[test]
fn bip340_signatures_must_verify_under_the_taproot_output_key() {
    let (mut c, keys) = ready();
    let mut y = 0;
    let domain = SCHEMES
        .iter()
        .position(|s| *s == SignatureScheme::Bip340)
        .unwrap() as u64;
    let (Waiter { id, .. }, _) = sign_as_host(
        &mut c,
        &ctx("app.near", 30),
        sign_args(domain, SignatureScheme::Bip340, "btc", 7),
        &mut y,
    )
    .unwrap();
    // A valid BIP340 signature under the derived key itself (the Taproot internal key) cannot
    // spend its P2TR output, so the contract refuses it.
    let d = keys.derived_secp256k1_secret(SignatureScheme::Bip340, "app.near", "btc");
    let internal = k256::schnorr::SigningKey::from_bytes(&d.to_bytes()).unwrap();
    let msg = payload_bytes(SignatureScheme::Bip340, 7);
    let under_internal = SignatureResponse::Bip340 {
        signature: internal.sign_raw(&msg, &[1; 32]).unwrap().to_bytes(),
    };
    let before = c.clone();
    let err = c
        .respond(&ctx("alice.near", 31), &TestCrypto, id, &under_internal)
        .unwrap_err();
    assert_eq!(
        err,
        ContractError::InvalidSignature("BIP340 verification failed".into())
    );
    assert_eq!(c, before);
    let right = keys.sign(SignatureScheme::Bip340, "app.near", "btc", &msg);
    c.respond(&ctx("alice.near", 31), &TestCrypto, id, &right)
        .unwrap();
}

#[test]
fn respond_refusals_change_nothing() {
    let (mut c, keys) = ready();
    let mut y = 0;
    let (Waiter { id, .. }, _) = sign_as_host(
        &mut c,
        &ctx("app.near", 30),
        sign_args(1, SignatureScheme::Ed25519, "p", 3),
        &mut y,
    )
    .unwrap();
    let good = keys.sign(
        SignatureScheme::Ed25519,
        "app.near",
        "p",
        &payload_bytes(SignatureScheme::Ed25519, 3),
    );
    let ecdsa = keys.sign(SignatureScheme::Secp256k1, "app.near", "p", &[3; 32]);
    let cases = [
        (
            "outsider",
            ctx("mallory.near", 31),
            id,
            good.clone(),
            ContractError::NotParticipant("mallory.near".into()),
        ),
        (
            "unknown request",
            ctx("bob.near", 31),
            RequestId([1; 32]),
            good.clone(),
            ContractError::UnknownRequest(RequestId([1; 32]).to_string()),
        ),
        (
            "other scheme",
            ctx("bob.near", 31),
            id,
            ecdsa,
            ContractError::InvalidSignature("response scheme does not match the domain's".into()),
        ),
    ];
    for (name, cx, rid, response, want) in cases {
        let before = c.clone();
        assert_eq!(
            c.respond(&cx, &TestCrypto, rid, &response).unwrap_err(),
            want,
            "{name}"
        );
        assert_eq!(c, before, "{name}");
    }
    // A high-s ECDSA signature is refused (NEAR's malleability rule).
    let (Waiter { id, .. }, _) = sign_as_host(
        &mut c,
        &ctx("app.near", 30),
        sign_args(0, SignatureScheme::Secp256k1, "p", 4),
        &mut y,
    )
    .unwrap();
    let SignatureResponse::Secp256k1(mut sig) =
        keys.sign(SignatureScheme::Secp256k1, "app.near", "p", &[4; 32])
    else {
        unreachable!()
    };
    sig.s = -sig.s;
    sig.recovery_id ^= 1;
    assert!(c
        .respond(
            &ctx("bob.near", 31),
            &TestCrypto,
            id,
            &SignatureResponse::Secp256k1(sig)
        )
        .is_err());
}

#[test]
fn timeout_leaves_the_queue() {
    let (mut c, _) = ready();
    let mut y = 0;
    let args = || sign_args(0, SignatureScheme::Secp256k1, "p", 5);
    let (w1, _) = sign_as_host(&mut c, &ctx("u.near", 40), args(), &mut y).unwrap();
    let (w2, _) = sign_as_host(&mut c, &ctx("u.near", 41), args(), &mut y).unwrap();
    // The first caller's yield times out: the second still waits.
    let id = w1.id;
    assert_eq!(
        c.on_yield_resolved(id, w1.key, None),
        YieldOutcome::TimedOut
    );
    let left: Vec<u64> = c
        .request(&id)
        .unwrap()
        .unwrap()
        .yields
        .iter()
        .map(|w| w.key)
        .collect();
    assert_eq!(left, vec![w2.key]);
    assert_eq!(
        c.on_yield_resolved(id, w2.key, None),
        YieldOutcome::TimedOut
    );
    assert!(c.request(&id).unwrap().is_none());
    assert_eq!(c.system_load().unwrap().pending_requests, 0);
    // A late callback for a request already gone is harmless.
    assert_eq!(
        c.on_yield_resolved(id, w2.key, None),
        YieldOutcome::TimedOut
    );
}

#[test]
fn legacy_arguments_sign_on_domain_zero() {
    let (mut c, keys) = ready();
    let args: SignArgs = serde_json::from_value(serde_json::json!({"request": {
        "path": "legacy", "payload": vec![9u8; 32], "key_version": 0}}))
    .unwrap();
    let mut y = 0;
    let (Waiter { id, .. }, _) = sign_as_host(&mut c, &ctx("old.near", 50), args, &mut y).unwrap();
    let sig = keys.sign(SignatureScheme::Secp256k1, "old.near", "legacy", &[9; 32]);
    assert!(c
        .respond(&ctx("carol.near", 51), &TestCrypto, id, &sig)
        .is_ok());
}

#[test]
fn identical_callers_are_bounded() {
    let (mut c, _) = ready();
    let mut y = 0;
    let args = || sign_args(1, SignatureScheme::Ed25519, "p", 9);
    for _ in 0..MAX_WAITING {
        sign_as_host(&mut c, &ctx("u.near", 40), args(), &mut y).unwrap();
    }
    let before = c.clone();
    assert_eq!(
        c.sign(&ctx("u.near", 41), args()).unwrap_err(),
        ContractError::TooManyWaiting(MAX_WAITING)
    );
    assert_eq!(c, before);
    assert!(ContractError::TooManyWaiting(MAX_WAITING).is_retryable());
}

/// Storage that counts what a call touches.
#[derive(Default, Clone)]
struct Counting {
    inner: MemStorage,
    reads: std::cell::Cell<usize>,
    read_bytes: std::cell::Cell<usize>,
    writes: usize,
    written_bytes: usize,
}

impl Storage for Counting {
    fn read(&self, key: &[u8]) -> Option<Vec<u8>> {
        let v = self.inner.read(key);
        self.reads.set(self.reads.get() + 1);
        self.read_bytes
            .set(self.read_bytes.get() + v.as_ref().map_or(0, Vec::len));
        v
    }
    fn write(&mut self, key: &[u8], value: &[u8]) {
        self.writes += 1;
        self.written_bytes += value.len();
        self.inner.write(key, value);
    }
    fn remove(&mut self, key: &[u8]) {
        self.writes += 1;
        self.inner.remove(key);
    }
}

/// What `sign`, `respond` and a timeout read and write, with `others` requests pending.
fn touched(others: usize) -> Vec<(usize, usize, usize, usize)> {
    let (c, keys) = ready();
    let (root, store) = c.into_parts();
    let mut c = Contract::from_parts(
        root,
        Counting {
            inner: store,
            ..Default::default()
        },
    );
    c.root.config.max_pending_requests = 10_000;
    let mut y = 0u64;
    let mut sign = |c: &mut Contract<Counting>, path: &str, at: u64| {
        let effects = c
            .sign(
                &ctx("u.near", at),
                sign_args(1, SignatureScheme::Ed25519, path, 1),
            )
            .unwrap();
        let Effect::Yield(id, key) = effects[0] else {
            panic!()
        };
        y += 1;
        let mut yid = [0; 32];
        yid[..8].copy_from_slice(&y.to_be_bytes());
        c.yielded(id, key, YieldId(yid)).unwrap();
        (id, key)
    };
    for i in 0..others {
        sign(&mut c, &format!("other-{i}"), 30);
    }
    let mut out = vec![];
    let mut measure = |c: &mut Contract<Counting>, f: &mut dyn FnMut(&mut Contract<Counting>)| {
        c.store.reads.set(0);
        c.store.read_bytes.set(0);
        (c.store.writes, c.store.written_bytes) = (0, 0);
        f(c);
        out.push((
            c.store.reads.get(),
            c.store.read_bytes.get(),
            c.store.writes,
            c.store.written_bytes,
        ));
    };
    let mut request = None;
    measure(&mut c, &mut |c| request = Some(sign(c, "mine", 40)));
    let (id, _) = request.unwrap();
    let msg = payload_bytes(SignatureScheme::Ed25519, 1);
    let sig = keys.sign(SignatureScheme::Ed25519, "u.near", "mine", &msg);
    measure(&mut c, &mut |c| {
        c.respond(&ctx("bob.near", 41), &TestCrypto, id, &sig)
            .unwrap();
    });
    let (id, key) = sign(&mut c, "late", 42);
    measure(&mut c, &mut |c| {
        c.on_yield_resolved(id, key, None);
    });
    out
}

#[test]
fn a_call_touches_the_same_storage_however_many_requests_wait() {
    // (With none pending, the count itself is absent: one pending is the base line.)
    let one = touched(1);
    assert_eq!(touched(300), one, "sign, respond, timeout");
}
