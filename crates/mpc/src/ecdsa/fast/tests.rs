//! Fast presignatures end to end in one process (DKG → fast presign → the common signing
//! round), checked by k256; dealers and openers that cheat; the signer-count rule; masks that
//! never repeat.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use k256::{ProjectivePoint, Scalar};

use super::*;
use crate::ecdsa::tests::{assert_valid, dkg, new_input, sign_all};
use crate::ecdsa::{lagrange, sign};
use crate::runner::{run, run_outcome, run_with, Faults, Tamper};
use crate::testing::{fresh_id, hostile, range, tamper_first_from};
use crate::ProtocolError;

fn presignatures(
    signers: &[Participant],
    t: usize,
    keys: &BTreeMap<Participant, KeyShare>,
) -> BTreeMap<Participant, Presignature> {
    let id = fresh_id();
    run(signers
        .iter()
        .map(|p| fast_presign(id, signers, *p, t, &keys[p]).unwrap())
        .collect())
    .unwrap()
}

#[test]
fn signs_under_derived_keys() {
    for (n, t) in [(3u32, 2usize), (5, 3), (7, 4)] {
        let all = range(n);
        let keys = dkg(&all, t);
        let root = keys[&all[0]].public_key();
        // The last 2t - 1 participants: not a prefix of the ids.
        let signers = all[all.len() - (2 * t - 1)..].to_vec();
        let presigs = presignatures(&signers, t, &keys);
        let r = presigs[&signers[0]].big_r();
        assert!(presigs.values().all(|p| p.big_r() == r), "one R for all");
        let input = new_input(root, "alice.near", "ethereum-1");
        assert_valid(&sign_all(&signers, presigs, input), &input);
    }
}

/// A V2Secp256k1 domain's dealt shares (`crate::dealer`) presign without triples and sign.
#[test]
fn dealt_shares_presign_and_sign() {
    let all = range(5);
    let keys = crate::dealer::ecdsa(&[9; 32], &all, 3).unwrap();
    let root = keys[&all[0]].public_key();
    let presigs = presignatures(&all, 3, &keys);
    let input = new_input(root, "alice.near", "ethereum-1");
    assert_valid(&sign_all(&all, presigs, input), &input);
}

#[test]
fn r_is_the_inverse_nonce_and_sigma_shares_k_times_x() {
    let all = range(5);
    let keys = dkg(&all, 3);
    let presigs = presignatures(&all, 3, &keys);
    let interpolate = |pick: fn(&Presignature) -> Scalar| -> Scalar {
        all.iter()
            .map(|p| lagrange(&all, *p) * pick(&presigs[p]))
            .sum()
    };
    let k = interpolate(|p| p.k);
    let sigma = interpolate(|p| p.sigma);
    let x: Scalar = all[..3]
        .iter()
        .map(|p| lagrange(&all[..3], *p) * keys[p].private_share)
        .sum();
    assert_eq!(
        (ProjectivePoint::GENERATOR * k.invert().unwrap()).to_affine(),
        presigs[&all[0]].big_r()
    );
    assert_eq!(sigma, k * x);
}

#[test]
fn fewer_than_2t_minus_1_signers_cannot_presign_or_sign() {
    let all = range(5);
    let keys = dkg(&all, 3);
    let root = keys[&all[0]].public_key();
    // 4 < 2·3 − 1: refused before anything is sent, though 4 ≥ t.
    let Err(err) = fast_presign(fresh_id(), &all[..4], all[0], 3, &keys[&all[0]]) else {
        panic!("4 signers made a fast presignature for a threshold of 3")
    };
    assert!(err.to_string().contains("2t - 1 = 5"), "{err}");
    // A presignature of 5 signs only with all 5: σ has degree 4.
    let mut presigs = presignatures(&all, 3, &keys);
    let p0 = presigs.remove(&all[0]).unwrap();
    assert!(sign(
        fresh_id(),
        &all[..4],
        all[0],
        p0,
        new_input(root, "a.near", "p")
    )
    .is_err());
}

#[test]
fn a_dealer_whose_share_does_not_open_its_commitment_is_named() {
    let all = range(3);
    let keys = dkg(&all, 2);
    let culprit = Participant(2);
    let id = fresh_id();
    let insts = all
        .iter()
        .map(|p| fast_presign(id, &all, *p, 2, &keys[p]).unwrap())
        .collect();
    // The last byte of a deal is in the blinding of its share of c.
    let outcome = run_outcome(insts, &Faults::default(), Some(tamper_first_from(culprit)));
    assert!(outcome.outputs.is_empty(), "no presignature comes out");
    for p in all.iter().filter(|p| **p != culprit) {
        match &outcome.errors[p] {
            ProtocolError::Misbehaved { culprit: c, reason } => {
                assert_eq!(*c, culprit);
                assert!(reason.contains("share of c"), "{reason}");
            }
            e => panic!("{p}: {e}"),
        }
    }
}

/// The body of a message of `round` (envelope of 33 bytes, then the round number), decoded.
fn body<T: serde::de::DeserializeOwned>(bytes: &[u8], round: u8) -> Option<T> {
    (bytes[33] == round).then(|| postcard::from_bytes(&bytes[34..]).unwrap())
}

/// Rewrites the body of a message of `round` in flight.
fn rewrite<T: serde::de::DeserializeOwned + serde::Serialize>(
    bytes: &mut Vec<u8>,
    round: u8,
    change: impl FnOnce(&mut T),
) {
    if let Some(mut value) = body::<T>(bytes, round) {
        change(&mut value);
        bytes.truncate(34);
        bytes.extend(postcard::to_stdvec(&value).unwrap());
    }
}

/// Rewrites `culprit`'s round-2 message (`Open`) to every peer.
fn tamper_open(culprit: Participant, change: fn(&mut Open)) -> Tamper<'static> {
    Box::new(move |from, _to, bytes| {
        if from == culprit {
            rewrite(bytes, 1, change);
        }
    })
}

fn presign_outcome(
    signers: &[Participant],
    t: usize,
    keys: &BTreeMap<Participant, KeyShare>,
    tamper: Tamper<'static>,
) -> crate::runner::Outcome<Presignature> {
    let id = fresh_id();
    let insts = signers
        .iter()
        .map(|p| fast_presign(id, signers, *p, t, &keys[p]).unwrap())
        .collect();
    run_outcome(insts, &Faults::default(), Some(tamper))
}

/// Every signer but `culprit` aborted naming `culprit`, for a reason containing `why`, and
/// holds no presignature.
fn assert_all_name(
    outcome: &crate::runner::Outcome<Presignature>,
    all: &[Participant],
    culprit: Participant,
    why: &str,
) {
    for p in all.iter().filter(|p| **p != culprit) {
        match outcome.errors.get(p) {
            Some(ProtocolError::Misbehaved { culprit: c, reason }) => {
                assert_eq!(*c, culprit, "{p}");
                assert!(reason.contains(why), "{p}: {reason}");
            }
            e => panic!("{p}: {e:?}"),
        }
        assert!(!outcome.outputs.contains_key(p), "{p} made a presignature");
    }
}

#[test]
fn a_wrong_w_share_is_named_at_presign() {
    let all = range(5);
    let keys = dkg(&all, 3);
    let culprit = Participant(1);
    let outcome = presign_outcome(&all, 3, &keys, tamper_open(culprit, |o| o.w += Scalar::ONE));
    assert_all_name(&outcome, &all, culprit, "proof");
}

#[test]
fn a_tampered_proof_is_named() {
    // A correct w with a proof that does not hold is refused like a wrong w.
    let all = range(5);
    let keys = dkg(&all, 3);
    let culprit = Participant(4);
    let outcome = presign_outcome(
        &all,
        3,
        &keys,
        tamper_open(culprit, |o| {
            let mut bytes = postcard::to_stdvec(&o.proof).unwrap();
            let last = bytes.len() - 1;
            bytes[last] ^= 1; // the last byte of z_τ
            o.proof = postcard::from_bytes(&bytes).unwrap();
        }),
    );
    assert_all_name(&outcome, &all, culprit, "proof");
}

/// The split-view attack (`docs/protocols/fast-ecdsa.md`): the `f` corrupt signers wait
/// for the honest openings, then show each honest receiver its own `w`, all of them points
/// of one degree-`2f` polynomial so that no degree check could tell. Without the proof on
/// `w`, honest signers would hold different `R`, and their signature shares under them
/// would reveal the key once `|S| > 2f + 1`.
fn split_view(t: usize, n: u32) -> crate::runner::Outcome<Presignature> {
    let (f, all) = (t - 1, range(n));
    let keys = dkg(&all, t);
    let (bad, good) = (all[..f].to_vec(), all[f..].to_vec());
    let tamper: Tamper<'static> = Box::new(move |from, to, bytes| {
        if bad.contains(&from) && !bad.contains(&to) {
            let tau = Scalar::from(u64::from(to.0) + 1);
            let shift = good
                .iter()
                .fold(tau, |acc, h| acc * (point(from) - point(*h)));
            rewrite(bytes, 1, |o: &mut Open| o.w += shift);
        }
    });
    presign_outcome(&all, t, &keys, tamper)
}

#[test]
fn the_split_view_attack_is_refused_and_named() {
    // 2f + 2 = 6 signers at t = 3, where the attack would reveal the key: refused outright.
    let all = range(6);
    let keys = dkg(&all, 3);
    let Err(err) = fast_presign(fresh_id(), &all, all[0], 3, &keys[&all[0]]) else {
        panic!("6 signers made a fast presignature for a threshold of 3")
    };
    assert!(err.to_string().contains("exactly 2t - 1 = 5"), "{err}");

    // 2f + 1 = 5 signers: every honest signer aborts and names a corrupt one; no honest signer
    // holds a presignature, so no signature share is ever released under a split R.
    for (t, n) in [(3, 5), (4, 7)] {
        let outcome = split_view(t, n);
        let corrupt = range(n)[..t - 1].to_vec();
        for p in &range(n)[t - 1..] {
            match &outcome.errors[p] {
                ProtocolError::Misbehaved { culprit, .. } => {
                    assert!(corrupt.contains(culprit), "{p} blamed {culprit}")
                }
                e => panic!("{p}: {e}"),
            }
            assert!(!outcome.outputs.contains_key(p));
        }
    }
}

#[test]
fn an_equivocating_dealer_is_caught_by_the_echo() {
    let all = range(3);
    let keys = dkg(&all, 2);
    let culprit = Participant(0);
    // The culprit shows participant 2 other commitments (and matching shares) than the rest.
    let outcome = presign_outcome(
        &all,
        2,
        &keys,
        Box::new(move |from, to, bytes| {
            if from == culprit && to == Participant(2) {
                rewrite(bytes, 0, |deal: &mut Deal| {
                    let a0 = ProjectivePoint::from(deal.commitments.a[0]);
                    deal.commitments.a[0] = (a0 + ProjectivePoint::GENERATOR).into();
                    deal.shares.a += Scalar::ONE;
                });
            }
        }),
    );
    assert!(outcome.outputs.is_empty(), "{:?}", outcome.outputs.keys());
    for p in &all[1..] {
        let err = outcome.errors[p].to_string();
        assert!(err.contains("other commitments"), "{p}: {err}");
    }
}

#[test]
fn masks_and_nonces_never_repeat() {
    let all = range(3);
    let keys = dkg(&all, 2);
    let opened: Arc<Mutex<Vec<Scalar>>> = Arc::default();
    let mut c_shares = BTreeSet::new();
    let mut nonces = BTreeSet::new();
    for _ in 0..40 {
        let seen = opened.clone();
        let id = fresh_id();
        let insts = all
            .iter()
            .map(|p| fast_presign(id, &all, *p, 2, &keys[p]).unwrap())
            .collect();
        let watch: Tamper = Box::new(move |_, _, bytes| {
            if let Some(open) = body::<Open>(bytes, 1) {
                seen.lock().unwrap().push(open.w);
            }
        });
        let presigs = run_with(insts, &Faults::default(), Some(watch)).unwrap();
        for (p, presig) in &presigs {
            // σᵢ − kᵢ·xᵢ is party i's share of the mask c.
            let c = presig.sigma - presig.k * keys[p].private_share;
            assert!(c_shares.insert(c.to_bytes().to_vec()), "a c share repeated");
            assert!(
                nonces.insert(presig.k.to_bytes().to_vec()),
                "a k share repeated"
            );
        }
    }
    let opened = opened.lock().unwrap();
    let distinct: BTreeSet<_> = opened.iter().map(|w| w.to_bytes().to_vec()).collect();
    assert_eq!(distinct.len(), 40 * 3, "every opened w share is fresh");
}

#[test]
fn survives_hostile_delivery() {
    let all = range(5);
    let keys = dkg(&all, 3);
    let root = keys[&all[0]].public_key();
    let id = fresh_id();
    let insts = all
        .iter()
        .map(|p| fast_presign(id, &all, *p, 3, &keys[p]).unwrap())
        .collect();
    let presigs = run_with(insts, &hostile(11), None).unwrap();
    let input = new_input(root, "a.near", "p");
    assert_valid(&sign_all(&all, presigs, input), &input);
}
