//! FROST end to end in one process for Ed25519 and BIP340: DKG → nonces → sign under derived
//! keys, checked by verifiers independent of frost (ed25519-dalek's `verify_strict`, k256's
//! BIP340); reshare, refresh, faults and misbehaviour.

use static_assertions::{assert_impl_all, assert_not_impl_any};
use std::collections::{BTreeMap, BTreeSet};
use testkit::verify_independently;
use zeroize::ZeroizeOnDrop;

use super::*;
use crate::runner::{run, run_outcome, run_with, Faults, Tamper};
use crate::testing::{fresh_id, hostile, ids, range, tamper_first_from};
use crate::{Participant, ProtocolError, Resharing};

assert_not_impl_any!(KeyShare<Ed25519>: Clone);
assert_not_impl_any!(Presignature<Ed25519>: Clone);
assert_not_impl_any!(KeyShare<Bip340>: Clone);
assert_not_impl_any!(Presignature<Bip340>: Clone);
assert_impl_all!(KeyShare<Ed25519>: ZeroizeOnDrop, Send);
assert_impl_all!(Presignature<Bip340>: ZeroizeOnDrop, Send);

fn dkg<C: Scheme>(ps: &[Participant], t: usize) -> BTreeMap<Participant, KeyShare<C>> {
    let id = fresh_id();
    run(ps
        .iter()
        .map(|&p| keygen::<C>(id, ps, p, t).unwrap())
        .collect())
    .unwrap()
}

fn presigs<C: Scheme>(
    signers: &[Participant],
    keys: &BTreeMap<Participant, KeyShare<C>>,
) -> BTreeMap<Participant, Presignature<C>> {
    let id = fresh_id();
    run(signers
        .iter()
        .map(|p| presign::<C>(id, signers, *p, &keys[p]).unwrap())
        .collect())
    .unwrap()
}

fn sign_instances<C: Scheme>(
    signers: &[Participant],
    keys: &BTreeMap<Participant, KeyShare<C>>,
    account: &str,
    path: &str,
    msg: &[u8],
) -> Vec<crate::Instance<Option<frost_core::Signature<C>>>> {
    let mut pre = presigs(signers, keys);
    let tweak = C::tweak(account, path).unwrap();
    let id = fresh_id();
    signers
        .iter()
        .map(|p| {
            let input = SigningInput {
                tweak,
                message: msg,
                coordinator: signers[0],
            };
            sign::<C>(id, signers, *p, &keys[p], pre.remove(p).unwrap(), input).unwrap()
        })
        .collect()
}

/// Signs and checks the signature with a verifier that is not frost, under the key
/// `primitives` derives (the one the contract and clients compute).
fn sign_and_verify<C: Scheme>(
    signers: &[Participant],
    keys: &BTreeMap<Participant, KeyShare<C>>,
    account: &str,
    msg: &[u8],
) {
    let out = run(sign_instances(signers, keys, account, "path-1", msg)).unwrap();
    // The coordinator (the first signer) alone outputs the signature.
    let first = out[&signers[0]].as_ref().expect("the coordinator signs");
    assert!(out.iter().all(|(p, s)| s.is_some() == (*p == signers[0])));
    let group_key = keys.values().next().unwrap().verifying_key();
    let root = C::near_public_key(&group_key);
    assert_eq!(
        C::verifying_key(&root),
        Some(group_key),
        "NEAR form round trip"
    );
    verify_independently(&root, account, "path-1", msg, &C::response(first)).unwrap();
    // The same signature is worthless for another path: the verifiers do check.
    assert!(
        verify_independently(&root, account, "path-2", msg, &C::response(first)).is_err(),
        "a signature must not verify under another derived key"
    );
}

fn signs_under_derived_keys<C: Scheme>() {
    for (n, t) in [(3u32, 2usize), (5, 3), (7, 5)] {
        let all = range(n);
        let keys = dkg::<C>(&all, t);
        let signers = all[all.len() - t..].to_vec();
        sign_and_verify(&signers, &keys, "alice.near", &[7u8; 32]);
        sign_and_verify(
            &all[..t],
            &keys,
            "bob.near",
            b"a longer message: a whole serialized transaction to sign, not a hash",
        );
    }
}

#[test]
fn ed25519_signs_under_derived_keys() {
    signs_under_derived_keys::<Ed25519>();
}

#[test]
fn bip340_signs_under_derived_keys() {
    signs_under_derived_keys::<Bip340>();
}

/// Shares a dealer made from a seed (`crate::dealer`) sign as a DKG's do, for any t of n;
/// the same seed deals the same shares, another seed another key.
fn dealt_shares_sign<C: Scheme>() {
    for (n, t) in [(3u32, 2usize), (5, 3)] {
        let all = range(n);
        let keys = crate::dealer::frost::<C>(&[5; 32], &all, t).unwrap();
        let group_key = keys[&all[0]].verifying_key();
        assert!(keys
            .values()
            .all(|k| k.verifying_key() == group_key && k.threshold() == t as u16));
        sign_and_verify(&all[all.len() - t..], &keys, "alice.near", &[7u8; 32]);
        sign_and_verify(
            &all[..t],
            &keys,
            "bob.near",
            b"a whole transaction, not a hash",
        );

        let again = crate::dealer::frost::<C>(&[5; 32], &all, t).unwrap();
        let bytes = |k: &KeyShare<C>| postcard::to_stdvec(k).unwrap();
        assert!(all.iter().all(|p| bytes(&again[p]) == bytes(&keys[p])));
        let other = crate::dealer::frost::<C>(&[6; 32], &all, t).unwrap();
        assert_ne!(other[&all[0]].verifying_key(), group_key);
    }
    assert!(crate::dealer::frost::<C>(&[5; 32], &range(3), 1).is_err());
    assert!(crate::dealer::frost::<C>(&[5; 32], &ids(&[2, 2, 3]), 2).is_err());
}

#[test]
fn ed25519_dealt_shares_sign() {
    dealt_shares_sign::<Ed25519>();
}

#[test]
fn bip340_dealt_shares_sign() {
    dealt_shares_sign::<Bip340>();
}

fn share_scalar<C: Scheme>(k: &KeyShare<C>) -> Vec<u8> {
    k.key_package.signing_share().serialize()
}

fn reshare_and_refresh<C: Scheme>() {
    let old = range(3);
    let keys = dkg::<C>(&old, 2);
    let group_key = keys[&old[0]].verifying_key();

    // Drop 0, add 3 and 4, raise the threshold from 2 to 3.
    let new = ids(&[1, 2, 3, 4]);
    let id = fresh_id();
    let mut old_keys = keys;
    let reshared = run(new
        .iter()
        .map(|&p| {
            reshare::<C>(
                id,
                Resharing {
                    old: &old,
                    old_threshold: 2,
                    new: &new,
                    new_threshold: 3,
                },
                p,
                old_keys.remove(&p),
                group_key,
            )
            .unwrap()
        })
        .collect())
    .unwrap();
    assert!(reshared
        .values()
        .all(|k| k.verifying_key() == group_key && k.threshold() == 3));
    sign_and_verify(&ids(&[1, 3, 4]), &reshared, "carol.near", &[1u8; 32]);
    // Two signers are no longer enough.
    assert!(presign::<C>(
        fresh_id(),
        &ids(&[3, 4]),
        Participant(3),
        &reshared[&Participant(3)]
    )
    .is_err());

    let before: BTreeMap<_, _> = reshared
        .iter()
        .map(|(p, k)| (*p, share_scalar(k)))
        .collect();
    let id = fresh_id();
    let mut shares = reshared;
    let refreshed = run(new
        .iter()
        .map(|&p| refresh::<C>(id, &new, 3, p, shares.remove(&p).unwrap()).unwrap())
        .collect())
    .unwrap();
    for (p, k) in &refreshed {
        assert_eq!(k.verifying_key(), group_key);
        assert_ne!(share_scalar(k), before[p], "share of {p} changed");
    }
    sign_and_verify(&ids(&[2, 3, 4]), &refreshed, "carol.near", &[2u8; 32]);
}

#[test]
fn ed25519_reshare_and_refresh() {
    reshare_and_refresh::<Ed25519>();
}

#[test]
fn bip340_reshare_and_refresh() {
    reshare_and_refresh::<Bip340>();
}

#[test]
fn key_shares_survive_serialization() {
    let all = range(3);
    let keys = dkg::<Bip340>(&all, 2);
    let restored: BTreeMap<_, KeyShare<Bip340>> = keys
        .iter()
        .map(|(p, k)| {
            (
                *p,
                postcard::from_bytes(&postcard::to_stdvec(k).unwrap()).unwrap(),
            )
        })
        .collect();
    sign_and_verify(&all[1..], &restored, "dave.near", &[3u8; 32]);
}

#[test]
fn fewer_than_t_cannot_sign() {
    let all = range(5);
    let keys = dkg::<Ed25519>(&all, 3);
    assert!(presign::<Ed25519>(fresh_id(), &all[..2], all[0], &keys[&all[0]]).is_err());
    // A signer falls silent: the coordinator never gets a signature.
    let signers = all[..3].to_vec();
    let insts = sign_instances(&signers, &keys, "a.near", "p", &[0u8; 32]);
    let faults = Faults {
        silent: BTreeSet::from([signers[1]]),
        ..Faults::default()
    };
    let outcome = run_outcome(insts, &faults, None);
    assert!(outcome.stalled);
    assert!(!outcome.outputs.contains_key(&signers[0]));
    assert!(outcome.outputs.values().all(Option::is_none));
}

fn assert_blamed<T>(
    outcome: &crate::runner::Outcome<T>,
    culprit: Participant,
    honest: &[Participant],
) {
    for p in honest.iter().filter(|p| **p != culprit) {
        let err = outcome
            .errors
            .get(p)
            .unwrap_or_else(|| panic!("{p} did not fail"));
        assert_eq!(err.culprit(), Some(culprit), "{p}: {err}");
        assert!(!outcome.outputs.contains_key(p));
    }
}

fn tampering_is_blamed<C: Scheme>() {
    let all = range(3);
    let culprit = Participant(1);
    // Key generation.
    let id = fresh_id();
    let insts = all
        .iter()
        .map(|&p| keygen::<C>(id, &all, p, 2).unwrap())
        .collect();
    assert_blamed(
        &run_outcome(insts, &Faults::default(), Some(tamper_first_from(culprit))),
        culprit,
        &all,
    );
    // Signing.
    let keys = dkg::<C>(&all, 2);
    let insts = sign_instances(
        &keys.keys().copied().collect::<Vec<_>>(),
        &keys,
        "m.near",
        "p",
        &[9u8; 32],
    );
    // Only the coordinator (participant 0) receives shares, so only it can blame.
    assert_blamed(
        &run_outcome(insts, &Faults::default(), Some(tamper_first_from(culprit))),
        culprit,
        &all[..1],
    );
    // Resharing: a dealer's share that does not match its commitment.
    let group_key = keys[&all[0]].verifying_key();
    let id = fresh_id();
    let mut keys = keys;
    let insts = all
        .iter()
        .map(|&p| {
            reshare::<C>(
                id,
                Resharing::refresh(&all, 2),
                p,
                keys.remove(&p),
                group_key,
            )
            .unwrap()
        })
        .collect();
    assert_blamed(
        &run_outcome(insts, &Faults::default(), Some(tamper_first_from(culprit))),
        culprit,
        &all,
    );
}

#[test]
fn ed25519_tampering_is_blamed() {
    tampering_is_blamed::<Ed25519>();
}

#[test]
fn bip340_tampering_is_blamed() {
    tampering_is_blamed::<Bip340>();
}

#[test]
fn garbage_is_blamed() {
    let all = range(3);
    let keys = dkg::<Ed25519>(&all, 2);
    let culprit = Participant(2);
    // Garbage instead of a signature share.
    let insts = sign_instances(&all, &keys, "m.near", "p", &[9u8; 32]);
    let garbage: Tamper = Box::new(move |from, _, bytes| {
        if from == culprit {
            bytes.truncate(33);
            bytes.extend([0, 0xff, 0xff, 0xff]);
        }
    });
    let outcome = run_outcome(insts, &Faults::default(), Some(garbage));
    // The coordinator, participant 0, is the one that receives it.
    for p in &all[..1] {
        assert!(
            matches!(&outcome.errors[p], ProtocolError::Malformed { from, .. } if *from == culprit)
        );
    }
}

#[test]
fn survives_hostile_delivery() {
    let ps = range(4);
    let faults = hostile(11);
    let id = fresh_id();
    let insts = ps
        .iter()
        .map(|&p| keygen::<Ed25519>(id, &ps, p, 3).unwrap())
        .collect();
    let keys = run_with(insts, &faults, None).unwrap();
    let insts = sign_instances(&ps[1..], &keys, "a.near", "p", &[5u8; 32]);
    let out = run_with(insts, &faults, None).unwrap();
    let root = Ed25519::near_public_key(&keys[&ps[0]].verifying_key());
    verify_independently(
        &root,
        "a.near",
        "p",
        &[5u8; 32],
        &Ed25519::response(out[&ps[1]].as_ref().expect("the coordinator signs")),
    )
    .unwrap();
}

fn mul_base_is_scalar_times_generator<C: Scheme>() {
    use frost_core::{Field, Group};
    let mut s = <<C::Group as Group>::Field as Field>::one();
    for _ in 0..5 {
        s = s + s + <<C::Group as Group>::Field as Field>::one();
        assert!(C::mul_base(&s) == C::Group::generator() * s);
    }
    let random = <<C::Group as Group>::Field as Field>::random(&mut rand_core::OsRng);
    assert!(C::mul_base(&random) == C::Group::generator() * random);
}

#[test]
fn the_generator_tables_agree_with_generic_multiplication() {
    mul_base_is_scalar_times_generator::<Ed25519>();
    mul_base_is_scalar_times_generator::<Bip340>();
}
