//! ECDSA end to end in one process: DKG → triples → presign → sign under derived keys, checked
//! by k256's verifier and public-key recovery; reshare, refresh, faults and misbehaviour.

use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::VerifyingKey;
use k256::elliptic_curve::PrimeField;
use k256::{AffinePoint, ProjectivePoint, Scalar};
use primitives::response::{EcdsaSignature, SignatureResponse};
use rand_core::{OsRng, RngCore};
use static_assertions::{assert_impl_all, assert_not_impl_any};
use std::collections::{BTreeMap, BTreeSet};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::sign::delta;
use super::*;
use crate::runner::{run, run_outcome, Faults, Tamper};
use crate::testing::{fresh_id, hostile, ids, range, tamper_first_from};
use crate::{Participant, ProtocolError, Resharing};

assert_not_impl_any!(KeyShare: Clone);
assert_not_impl_any!(Triple: Clone);
assert_not_impl_any!(Presignature: Clone);
assert_impl_all!(KeyShare: ZeroizeOnDrop, Send);
assert_impl_all!(Triple: ZeroizeOnDrop, Send);
assert_impl_all!(Presignature: ZeroizeOnDrop, Send);

pub(crate) fn dkg(ps: &[Participant], t: usize) -> BTreeMap<Participant, KeyShare> {
    let id = fresh_id();
    run(ps.iter().map(|&p| keygen(id, ps, p, t).unwrap()).collect()).unwrap()
}

fn triples(signers: &[Participant], t: usize) -> BTreeMap<Participant, Triple> {
    let id = fresh_id();
    run(signers
        .iter()
        .map(|&p| generate_triple(id, signers, p, t).unwrap())
        .collect())
    .unwrap()
}

fn presignatures(
    signers: &[Participant],
    t: usize,
    keys: &BTreeMap<Participant, KeyShare>,
) -> BTreeMap<Participant, Presignature> {
    let mut t0 = triples(signers, t);
    let mut t1 = triples(signers, t);
    let id = fresh_id();
    run(signers
        .iter()
        .map(|p| {
            let pair = (t0.remove(p).unwrap(), t1.remove(p).unwrap());
            presign(id, signers, *p, t, pair, &keys[p]).unwrap()
        })
        .collect())
    .unwrap()
}

pub(crate) fn new_input(root: AffinePoint, account: &str, path: &str) -> SigningInput {
    let mut h = [0u8; 32];
    OsRng.fill_bytes(&mut h);
    h[0] &= 0x7f; // below n
    let mut entropy = [0u8; 32];
    OsRng.fill_bytes(&mut entropy);
    SigningInput {
        root_public_key: root,
        tweak: primitives::derivation::secp256k1_tweak(account, path).unwrap(),
        msg_hash: Option::from(Scalar::from_repr(h.into())).unwrap(),
        entropy,
        // `sign_all` makes the set's first signer the coordinator; other tests say whom.
        coordinator: Participant(0),
    }
}

pub(crate) fn sign_all(
    signers: &[Participant],
    mut presigs: BTreeMap<Participant, Presignature>,
    input: SigningInput,
) -> EcdsaSignature {
    let id = fresh_id();
    let input = SigningInput {
        coordinator: signers[0],
        ..input
    };
    let mut out = run(signers
        .iter()
        .map(|p| sign(id, signers, *p, presigs.remove(p).unwrap(), input).unwrap())
        .collect())
    .unwrap();
    let signature = out
        .remove(&signers[0])
        .unwrap()
        .expect("the coordinator signs");
    assert!(
        out.values().all(Option::is_none),
        "only the coordinator signs"
    );
    signature
}

/// The independent check: k256's verifier, and public-key recovery from (r, s, v).
pub(crate) fn assert_valid(sig: &EcdsaSignature, input: &SigningInput) {
    let derived = input.derived_public_key();
    let vk = VerifyingKey::from_affine(derived).unwrap();
    let k256_sig = sig.to_k256().unwrap();
    let prehash = input.msg_hash.to_repr();
    vk.verify_prehash(&prehash, &k256_sig)
        .expect("verifies under the derived key");
    assert!(k256_sig.normalize_s().is_none(), "s is low");
    let recovered =
        VerifyingKey::recover_from_prehash(&prehash, &k256_sig, sig.k256_recovery_id().unwrap())
            .unwrap();
    assert_eq!(recovered, vk, "recovery id recovers the derived key");
    let mut other = prehash;
    other[31] ^= 1;
    assert!(
        vk.verify_prehash(&other, &k256_sig).is_err(),
        "the verifier does check"
    );
    // R and s are what the JSON carries; what parses back verifies too.
    let json = serde_json::to_string(&SignatureResponse::Secp256k1(*sig)).unwrap();
    let SignatureResponse::Secp256k1(back) = serde_json::from_str(&json).unwrap() else {
        panic!("scheme changed")
    };
    assert_eq!(back, *sig);
}

fn reconstruct(shares: &BTreeMap<Participant, KeyShare>, subset: &[Participant]) -> Scalar {
    subset
        .iter()
        .map(|p| lagrange(subset, *p) * shares[p].private_share)
        .sum()
}

#[test]
fn signs_under_derived_keys() {
    for (n, t) in [(3u32, 2usize), (5, 3), (7, 5)] {
        let all = range(n);
        let keys = dkg(&all, t);
        let root = keys[&all[0]].public_key();
        assert!(keys.values().all(|k| k.public_key() == root));
        // The last t participants sign: a set that is not a prefix of the ids.
        let signers = all[all.len() - t..].to_vec();
        let input = new_input(root, "alice.near", "ethereum-1");
        let sig = sign_all(&signers, presignatures(&signers, t, &keys), input);
        assert_valid(&sig, &input);
        // More than t can sign too.
        if n as usize > t {
            let signers = all[..t + 1].to_vec();
            let input = new_input(root, "bob.near", "bitcoin-1");
            let sig = sign_all(&signers, presignatures(&signers, t, &keys), input);
            assert_valid(&sig, &input);
        }
    }
}

/// Shares a dealer made from a seed (`crate::dealer`) are a DKG's in everything but who
/// knew the key: any t reconstruct the key, the set presigns with triples and signs, and the
/// same seed deals the same shares.
#[test]
fn dealt_shares_sign_as_generated_ones_do() {
    for (n, t) in [(3u32, 2usize), (5, 3)] {
        let all = range(n);
        let keys = crate::dealer::ecdsa(&[7; 32], &all, t).unwrap();
        let root = keys[&all[0]].public_key();
        assert!(keys.values().all(|k| k.public_key() == root));
        for subset in [&all[..t], &all[n as usize - t..]] {
            let secret = reconstruct(&keys, subset);
            assert_eq!((ProjectivePoint::GENERATOR * secret).to_affine(), root);
        }
        let below = reconstruct(&keys, &all[..t - 1]);
        assert_ne!((ProjectivePoint::GENERATOR * below).to_affine(), root);
        let signers = all[all.len() - t..].to_vec();
        let input = new_input(root, "alice.near", "ethereum-1");
        let sig = sign_all(&signers, presignatures(&signers, t, &keys), input);
        assert_valid(&sig, &input);

        let again = crate::dealer::ecdsa(&[7; 32], &all, t).unwrap();
        let bytes = |k: &KeyShare| postcard::to_stdvec(k).unwrap();
        assert!(all.iter().all(|p| bytes(&again[p]) == bytes(&keys[p])));
        let other = crate::dealer::ecdsa(&[8; 32], &all, t).unwrap();
        assert_ne!(
            other[&all[0]].public_key(),
            root,
            "another seed, another key"
        );
    }
    for (set, t) in [
        (range(3), 1),
        (range(3), 4),
        (ids(&[1, 1, 2]), 2),
        (range(1), 2),
    ] {
        assert!(
            crate::dealer::ecdsa(&[7; 32], &set, t).is_err(),
            "{set:?} t={t}"
        );
    }
}

#[test]
fn reshare_keeps_the_key_and_refresh_changes_every_share() {
    let old = range(3);
    let keys = dkg(&old, 2);
    let root = keys[&old[0]].public_key();
    let secret = reconstruct(&keys, &old[..2]);
    assert_eq!((ProjectivePoint::GENERATOR * secret).to_affine(), root);

    // Drop 0, add 3 and 4, raise the threshold from 2 to 3.
    let new = ids(&[1, 2, 3, 4]);
    let id = fresh_id();
    let mut old_keys = keys;
    let reshared = run(new
        .iter()
        .map(|&p| {
            reshare(
                id,
                Resharing {
                    old: &old,
                    old_threshold: 2,
                    new: &new,
                    new_threshold: 3,
                },
                p,
                old_keys.remove(&p),
                root,
            )
            .unwrap()
        })
        .collect())
    .unwrap();
    assert!(reshared.values().all(|k| k.public_key() == root));
    assert_eq!(reconstruct(&reshared, &ids(&[2, 3, 4])), secret);
    // Two shares no longer suffice.
    assert_ne!(reconstruct(&reshared, &ids(&[3, 4])), secret);

    let signers = ids(&[1, 3, 4]);
    let input = new_input(root, "carol.near", "ethereum-7");
    assert_valid(
        &sign_all(&signers, presignatures(&signers, 3, &reshared), input),
        &input,
    );

    // Refresh: same key, same set, every share different.
    let before: BTreeMap<Participant, Scalar> = reshared
        .iter()
        .map(|(p, k)| (*p, k.private_share))
        .collect();
    let id = fresh_id();
    let mut shares = reshared;
    let refreshed = run(new
        .iter()
        .map(|&p| refresh(id, &new, 3, p, shares.remove(&p).unwrap()).unwrap())
        .collect())
    .unwrap();
    for (p, k) in &refreshed {
        assert_eq!(k.public_key(), root);
        assert_ne!(k.private_share, before[p], "share of {p} changed");
    }
    assert_eq!(reconstruct(&refreshed, &ids(&[1, 2, 4])), secret);
    let signers = ids(&[2, 3, 4]);
    let input = new_input(root, "carol.near", "ethereum-8");
    assert_valid(
        &sign_all(&signers, presignatures(&signers, 3, &refreshed), input),
        &input,
    );
}

/// A copy of a presignature share: only tests may do this, to show what reuse would give.
fn duplicate(p: &Presignature) -> Presignature {
    Presignature {
        big_r: p.big_r,
        k: p.k,
        sigma: p.sigma,
        participants: p.participants.clone(),
    }
}

#[test]
fn rerandomization_gives_fresh_nonces() {
    let all = range(3);
    let keys = dkg(&all, 2);
    let root = keys[&all[0]].public_key();
    let signers = all[..2].to_vec();
    let presigs = presignatures(&signers, 2, &keys);
    let copy: BTreeMap<_, _> = presigs.iter().map(|(p, s)| (*p, duplicate(s))).collect();
    let original_r = presigs[&signers[0]].big_r();

    let a = new_input(root, "alice.near", "p");
    let mut b = a;
    b.entropy[0] ^= 1;
    let sig_a = sign_all(&signers, presigs, a);
    let sig_b = sign_all(&signers, copy, b);
    assert_valid(&sig_a, &a);
    assert_valid(&sig_b, &b);
    let x = |r: &AffinePoint| r.to_encoded_point(true).as_bytes()[1..].to_vec();
    assert_ne!(x(&sig_a.big_r), x(&sig_b.big_r));
    assert_ne!(
        x(&sig_a.big_r),
        x(&original_r),
        "the raw presignature R is never used"
    );
}

#[test]
fn delta_depends_on_every_input() {
    let root = (ProjectivePoint::GENERATOR * Scalar::from(9u64)).to_affine();
    let r = (ProjectivePoint::GENERATOR * Scalar::from(11u64)).to_affine();
    let base = SigningInput {
        root_public_key: root,
        tweak: Scalar::from(3u64),
        msg_hash: Scalar::from(4u64),
        entropy: [5; 32],
        coordinator: Participant(0),
    };
    let signers = ids(&[0, 1]);
    let d = delta(&base, &r, &signers).unwrap();
    let mut variants = vec![];
    let mut v = base;
    v.root_public_key = r;
    variants.push(delta(&v, &r, &signers).unwrap());
    let mut v = base;
    v.tweak = Scalar::from(33u64);
    variants.push(delta(&v, &r, &signers).unwrap());
    let mut v = base;
    v.msg_hash = Scalar::from(44u64);
    variants.push(delta(&v, &r, &signers).unwrap());
    let mut v = base;
    v.entropy = [6; 32];
    variants.push(delta(&v, &r, &signers).unwrap());
    variants.push(delta(&base, &root, &signers).unwrap());
    variants.push(delta(&base, &r, &ids(&[0, 2])).unwrap());
    assert!(variants.iter().all(|x| *x != d));
    assert_eq!(delta(&base, &r, &signers).unwrap(), d, "deterministic");
}

#[test]
fn fewer_than_t_cannot_sign() {
    let all = range(5);
    let keys = dkg(&all, 3);
    let root = keys[&all[0]].public_key();
    // Two parties cannot even start making material for a threshold of 3.
    assert!(generate_triple(fresh_id(), &all[..2], all[0], 3).is_err());

    let signers = all[..3].to_vec();
    let mut presigs = presignatures(&signers, 3, &keys);
    // A strict subset of the presignature's signers is refused.
    let p0 = presigs.remove(&signers[0]).unwrap();
    assert!(sign(
        fresh_id(),
        &signers[..2],
        signers[0],
        p0,
        new_input(root, "a.near", "p")
    )
    .is_err());

    // With one signer silent, the coordinator never finishes.
    let id = fresh_id();
    let input = SigningInput {
        coordinator: signers[2],
        ..new_input(root, "a.near", "p")
    };
    let insts = signers[1..]
        .iter()
        .map(|p| sign(id, &signers, *p, presigs.remove(p).unwrap(), input).unwrap())
        .collect();
    let faults = Faults {
        silent: BTreeSet::from([signers[1]]),
        ..Faults::default()
    };
    let outcome = run_outcome(insts, &faults, None);
    assert!(outcome.stalled);
    assert!(outcome.errors.is_empty());
    assert!(
        !outcome.outputs.contains_key(&signers[2]),
        "the coordinator got no signature"
    );
}

#[test]
fn tampered_keygen_message_names_its_sender() {
    let ps = range(3);
    let culprit = Participant(1);
    let id = fresh_id();
    let insts = ps.iter().map(|&p| keygen(id, &ps, p, 2).unwrap()).collect();
    let outcome = run_outcome(insts, &Faults::default(), Some(tamper_first_from(culprit)));
    assert!(outcome.outputs.is_empty(), "no key share comes out");
    for p in ps.iter().filter(|p| **p != culprit) {
        let err = &outcome.errors[p];
        assert_eq!(err.culprit(), Some(culprit), "{p}: {err}");
    }
}

#[test]
fn malformed_messages_name_their_sender() {
    let ps = range(3);
    let culprit = Participant(2);
    let id = fresh_id();
    let insts = ps.iter().map(|&p| keygen(id, &ps, p, 2).unwrap()).collect();
    let garbage: Tamper = Box::new(move |from, _, bytes| {
        if from == culprit {
            bytes.truncate(33 + 28);
            bytes.push(0xc1); // never valid MessagePack
        }
    });
    let outcome = run_outcome(insts, &Faults::default(), Some(garbage));
    for p in ps.iter().filter(|p| **p != culprit) {
        assert!(
            matches!(&outcome.errors[p], ProtocolError::Malformed { from, .. } if *from == culprit),
            "{p}: {:?}",
            outcome.errors.get(p)
        );
    }
}

#[test]
fn tampered_signature_share_gives_no_wrong_signature() {
    let all = range(3);
    let keys = dkg(&all, 2);
    let root = keys[&all[0]].public_key();
    let signers = all.clone();
    let mut presigs = presignatures(&signers, 2, &keys);
    let input = SigningInput {
        coordinator: signers[1],
        ..new_input(root, "mallory.near", "p")
    };
    let id = fresh_id();
    let insts = signers
        .iter()
        .map(|p| sign(id, &signers, *p, presigs.remove(p).unwrap(), input).unwrap())
        .collect();
    let outcome = run_outcome(
        insts,
        &Faults::default(),
        Some(tamper_first_from(Participant(0))),
    );
    // The coordinator's own verification fails, naming nobody; nothing wrong comes out.
    assert!(
        matches!(outcome.errors[&signers[1]], ProtocolError::Failed(_)),
        "{:?}",
        outcome.errors
    );
    assert!(outcome.outputs.values().all(Option::is_none));
}

#[test]
fn survives_hostile_delivery() {
    let ps = range(4);
    let faults = hostile(7);
    let id = fresh_id();
    let insts = ps.iter().map(|&p| keygen(id, &ps, p, 3).unwrap()).collect();
    let keys = crate::runner::run_with(insts, &faults, None).unwrap();
    let root = keys[&ps[0]].public_key();
    let signers = ps[..3].to_vec();
    let mut presigs = presignatures(&signers, 3, &keys);
    let input = new_input(root, "a.near", "p");
    let id = fresh_id();
    let insts = signers
        .iter()
        .map(|p| sign(id, &signers, *p, presigs.remove(p).unwrap(), input).unwrap())
        .collect();
    let out = crate::runner::run_with(insts, &faults, None).unwrap();
    assert_valid(out[&signers[0]].as_ref().unwrap(), &input);
}

#[test]
fn secrets_zeroize_and_stay_out_of_debug() {
    let mut p = Presignature {
        big_r: AffinePoint::GENERATOR,
        k: Scalar::from(5u64),
        sigma: Scalar::from(6u64),
        participants: ids(&[0, 1]),
    };
    let shown = format!("{p:?}");
    assert!(!shown.contains("k:") && !shown.contains("sigma"), "{shown}");
    p.zeroize();
    assert_eq!((p.k, p.sigma), (Scalar::ZERO, Scalar::ZERO));
}

#[test]
fn constructors_refuse_bad_parameters() {
    let ps = range(3);
    let id = fresh_id();
    assert!(keygen(id, &ps, Participant(9), 2).is_err(), "me not in set");
    assert!(keygen(id, &ps, ps[0], 1).is_err(), "threshold below 2");
    assert!(keygen(id, &ps, ps[0], 4).is_err(), "threshold above n");
    assert!(
        keygen(id, &ids(&[0, 0, 1]), ps[0], 2).is_err(),
        "duplicates"
    );
    assert!(
        keygen(id, &ids(&[0, 70000]), ps[0], 2).is_err(),
        "id too large"
    );
    // Reshare needs old_threshold old holders among the new set.
    let keys = dkg(&ps, 2);
    let root = keys[&ps[0]].public_key();
    let new = ids(&[2, 5, 6]);
    assert!(reshare(
        id,
        Resharing {
            old: &ps,
            old_threshold: 2,
            new: &new,
            new_threshold: 2
        },
        Participant(5),
        None,
        root
    )
    .is_err());
}

use k256::elliptic_curve::sec1::ToEncodedPoint;

mod algebra {
    //! The rerandomization algebra of docs/design.md §7.3 on locally dealt shares, for many random
    //! keys, nonces, tweaks and signer sets: fast enough to run hundreds of cases.
    use super::*;
    use crate::rounds::{Rounds, Step};
    use proptest::prelude::*;

    fn poly_eval(coeffs: &[Scalar], x: Scalar) -> Scalar {
        coeffs.iter().rev().fold(Scalar::ZERO, |acc, c| acc * x + c)
    }

    fn scalar(seed: u64) -> Scalar {
        Scalar::from(seed) * Scalar::from(0x9e37_79b9_7f4a_7c15u64) + Scalar::ONE
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn rerandomized_shares_sign_under_the_derived_key(
            x in 1u64.., k in 1u64.., eps in any::<u64>(), h in 1u64.., e in any::<[u8; 32]>(),
            t in 2usize..5, extra in 0usize..3, offset in 0u32..5,
        ) {
            let (x, k, eps, h) = (scalar(x), scalar(k), scalar(eps), scalar(h));
            let signers: Vec<Participant> = (offset..offset + (t + extra) as u32).map(Participant).collect();
            let sigma = k * x;
            let kp: Vec<Scalar> = std::iter::once(k).chain((1..t).map(|i| scalar(i as u64 * 31))).collect();
            let sp: Vec<Scalar> = std::iter::once(sigma).chain((1..t).map(|i| scalar(i as u64 * 17))).collect();
            let big_r = (ProjectivePoint::GENERATOR * k.invert().unwrap()).to_affine();
            let input = SigningInput {
                root_public_key: (ProjectivePoint::GENERATOR * x).to_affine(),
                tweak: eps,
                msg_hash: h,
                entropy: e,
                coordinator: signers[0],
            };
            let mut s = Scalar::ZERO;
            let mut rounds = vec![];
            for p in &signers {
                let pre = Presignature {
                    big_r,
                    k: poly_eval(&kp, point(*p)),
                    sigma: poly_eval(&sp, point(*p)),
                    participants: signers.clone(),
                };
                let share = super::super::sign::rerandomize(&pre, &input).unwrap();
                let vk = (*p == input.coordinator)
                    .then(|| VerifyingKey::from_affine(input.derived_public_key()).unwrap());
                let round = super::super::sign::SignRound::new(&signers, *p, &input, vk, share);
                let m = round.share_bytes();
                let bytes: [u8; 32] = crate::rounds::decode(*p, &m[1..]).unwrap();
                s += Option::<Scalar>::from(Scalar::from_repr(bytes.into())).unwrap();
                rounds.push(round);
            }
            // The combined s is a valid signature under root + ε with the rerandomized R.
            let mut first = rounds.remove(0);
            let msgs = signers[1..].iter().zip(rounds.iter()).map(|(p, r)| {
                (*p, r.share_bytes()[1..].to_vec())
            }).collect();
            let Step::Done(Some(sig)) = first.finish_round(0, msgs).unwrap() else { unreachable!() };
            prop_assert!(sig.s == s || sig.s == -s, "s is the sum of the shares, up to low-s normalization");
            assert_valid(&sig, &input);
        }
    }
}
