//! Adversarial input to every protocol, round after round, for the fuzz targets in `fuzz/`
//! and the replay of their corpus in `cargo test`.
//!
//! A fuzz input runs one protocol among three parties (threshold two) with the in-process
//! [`runner`](crate::runner). Its first bytes choose the protocol, the adversary and the
//! delivery schedule; the rest is a script that rewrites each message the adversary sends: most
//! pass untouched, so the protocol reaches its later rounds, and the others have bytes flipped,
//! are cut short, have their body replaced or grown. Honest parties must then either finish or
//! fail with an error — never panic — and what they finish with must be consistent: the same
//! public key after key generation, the same `R` after a presignature (the split-view attack's
//! target, `docs/protocols/fast-ecdsa.md`).
//!
//! Inputs that protocols consume (key shares, triples, presignatures) are made once per
//! process and handed out as fresh copies decoded from their serialized form.

use arbitrary::Unstructured;
use k256::elliptic_curve::PrimeField;
use serde::{de::DeserializeOwned, Serialize};
use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::frost::{self, Bip340, Ed25519, Scheme};
use crate::runner::{run, run_outcome, Faults, Outcome};
use crate::{ecdsa, Instance, InstanceId, Participant};

const N: u32 = 3;
const T: usize = 2;

fn all() -> Vec<Participant> {
    (0..N).map(Participant).collect()
}

/// The fuzz input, read front to back (arbitrary's reader); past its end every read is zero
/// ("leave it alone").
struct Script<'a>(Unstructured<'a>);

impl Script<'_> {
    fn byte(&mut self) -> u8 {
        self.0.arbitrary().unwrap_or(0)
    }

    fn u16(&mut self) -> usize {
        usize::from(u16::from_be_bytes([self.byte(), self.byte()]))
    }

    /// One of `from` (not empty).
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[usize::from(self.byte()) % from.len()]
    }

    /// Up to `n` bytes: fewer once the input runs out.
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.0.len());
        self.0.bytes(n).map(<[u8]>::to_vec).unwrap_or_default()
    }

    /// Rewrites one message the adversary sends.
    fn mutate(&mut self, bytes: &mut Vec<u8>) {
        const ENVELOPE: usize = 33;
        match self.byte() % 10 {
            // Untouched, most of the time: later rounds must be reached.
            0..=4 => {}
            5 if !bytes.is_empty() => {
                let at = self.u16() % bytes.len();
                bytes[at] ^= self.byte() | 1;
            }
            6 => {
                let at = self.u16() % (bytes.len() + 1);
                bytes.truncate(at);
            }
            7 => {
                bytes.truncate(ENVELOPE.min(bytes.len()));
                let len = usize::from(self.byte());
                bytes.extend(self.bytes(len));
            }
            8 => {
                let len = usize::from(self.byte());
                bytes.extend(self.bytes(len));
            }
            _ => {
                // Another message's worth of bytes in place of this one's body, at its size.
                let at = self.u16() % (bytes.len() + 1);
                let tail = self.bytes(bytes.len() - at);
                bytes.truncate(at);
                bytes.extend(tail);
            }
        }
    }
}

/// Runs `parties` with `adversary`'s messages rewritten by `script`, under a schedule drawn
/// from the script too. Returns what the honest parties ended with.
fn attack<T>(
    parties: Vec<Instance<T>>,
    adversary: Participant,
    script: &mut Script<'_>,
) -> Outcome<T> {
    let schedule = script.byte();
    let faults = Faults {
        seed: u64::from(script.byte()),
        duplicate: if schedule & 1 == 1 { 0.2 } else { 0.0 },
        reorder: schedule & 2 == 2,
        max_delay: u64::from(schedule >> 6),
        ..Faults::default()
    };
    let mut outcome = {
        let tamper = Box::new(|from: Participant, _to: Participant, bytes: &mut Vec<u8>| {
            if from == adversary {
                script.mutate(bytes);
            }
        });
        run_outcome(parties, &faults, Some(tamper))
    };
    outcome.outputs.remove(&adversary);
    outcome
}

/// Every honest output maps to the same value.
fn agree<T, V: PartialEq + std::fmt::Debug>(outcome: &Outcome<T>, what: &str, f: impl Fn(&T) -> V) {
    let mut values = outcome.outputs.values().map(f);
    if let Some(first) = values.next() {
        for v in values {
            assert_eq!(first, v, "honest parties disagree on {what}");
        }
    }
}

fn fresh<T: DeserializeOwned>(bytes: &[u8]) -> T {
    postcard::from_bytes(bytes).expect("made here")
}

/// Everyone's copy of something, serialized.
type Stored = BTreeMap<Participant, Vec<u8>>;

/// Fresh copies of everyone's `T`.
fn fresh_all<T: DeserializeOwned>(stored: &Stored) -> BTreeMap<Participant, T> {
    stored.iter().map(|(p, b)| (*p, fresh(b))).collect()
}

fn stored<T: Serialize>(outputs: BTreeMap<Participant, T>) -> BTreeMap<Participant, Vec<u8>> {
    outputs
        .into_iter()
        .map(|(p, v)| (p, postcard::to_allocvec(&v).expect("serializes")))
        .collect()
}

fn id(script: &mut Script<'_>) -> InstanceId {
    InstanceId::derive(&[script.byte()])
}

/// What signing needs, made once: keys of every scheme and presignatures of both ECDSA kinds
/// among participants 0 and 1 (0..3 for the honest-majority kind).
struct Made {
    ecdsa_keys: BTreeMap<Participant, Vec<u8>>,
    triples: [BTreeMap<Participant, Vec<u8>>; 2],
    ot_presigs: BTreeMap<Participant, Vec<u8>>,
    fast_presigs: BTreeMap<Participant, Vec<u8>>,
    ed_keys: BTreeMap<Participant, Vec<u8>>,
    ed_presigs: BTreeMap<Participant, Vec<u8>>,
    bip_keys: BTreeMap<Participant, Vec<u8>>,
    bip_presigs: BTreeMap<Participant, Vec<u8>>,
}

fn signers() -> Vec<Participant> {
    all()[..T].to_vec()
}

fn made() -> &'static Made {
    static MADE: OnceLock<Made> = OnceLock::new();
    MADE.get_or_init(|| {
        let all = all();
        let signers = signers();
        let keys = run(all
            .iter()
            .map(|p| ecdsa::keygen(InstanceId::derive(b"k"), &all, *p, T).unwrap())
            .collect())
        .unwrap();
        let triple = |tag: &[u8]| {
            let id = InstanceId::derive(tag);
            run(signers
                .iter()
                .map(|p| ecdsa::generate_triple(id, &signers, *p, T).unwrap())
                .collect())
            .unwrap()
        };
        let triples = [triple(b"t0"), triple(b"t1")];
        let triples = triples.map(stored);
        let ot_presigs = run(signers
            .iter()
            .map(|p| {
                let pair = (fresh(&triples[0][p]), fresh(&triples[1][p]));
                ecdsa::presign(InstanceId::derive(b"p"), &signers, *p, T, pair, &keys[p]).unwrap()
            })
            .collect())
        .unwrap();
        let fast_presigs = run(all
            .iter()
            .map(|p| ecdsa::fast_presign(InstanceId::derive(b"f"), &all, *p, T, &keys[p]).unwrap())
            .collect())
        .unwrap();
        let (ed_keys, ed_presigs) = frost_made::<Ed25519>(&all, &signers);
        let (bip_keys, bip_presigs) = frost_made::<Bip340>(&all, &signers);
        Made {
            ecdsa_keys: stored(keys),
            triples,
            ot_presigs: stored(ot_presigs),
            fast_presigs: stored(fast_presigs),
            ed_keys,
            ed_presigs,
            bip_keys,
            bip_presigs,
        }
    })
}

fn frost_made<C: Scheme>(all: &[Participant], signers: &[Participant]) -> (Stored, Stored) {
    let keys = run(all
        .iter()
        .map(|p| frost::keygen::<C>(InstanceId::derive(b"fk"), all, *p, T).unwrap())
        .collect())
    .unwrap();
    let presigs = run(signers
        .iter()
        .map(|p| frost::presign::<C>(InstanceId::derive(b"fp"), signers, *p, &keys[p]).unwrap())
        .collect())
    .unwrap();
    (stored(keys), stored(presigs))
}

/// The signing round of every scheme, from made presignatures.
pub fn signing(data: &[u8]) {
    let mut s = Script(Unstructured::new(data));
    let made = made();
    let choice = s.byte();
    match choice % 4 {
        0 => ecdsa_sign(&mut s, &made.ot_presigs, &signers()),
        1 => ecdsa_sign(&mut s, &made.fast_presigs, &all()),
        2 => frost_sign::<Ed25519>(&mut s, &made.ed_keys, &made.ed_presigs),
        _ => frost_sign::<Bip340>(&mut s, &made.bip_keys, &made.bip_presigs),
    }
}

fn ecdsa_sign(s: &mut Script<'_>, presigs: &Stored, signers: &[Participant]) {
    let adversary = s.pick(signers);
    let root = fresh::<ecdsa::KeyShare>(&made().ecdsa_keys[&signers[0]]).public_key();
    let hash: [u8; 32] = std::array::from_fn(|_| s.byte());
    let input = ecdsa::SigningInput {
        root_public_key: root,
        tweak: primitives::derivation::secp256k1_tweak("fuzz.near", "p").expect("a tweak"),
        msg_hash: Option::from(k256::Scalar::from_repr(hash.into())).unwrap_or(k256::Scalar::ONE),
        entropy: [s.byte(); 32],
        coordinator: s.pick(signers),
    };
    let id = id(s);
    let parties = signers
        .iter()
        .map(|p| ecdsa::sign(id, signers, *p, fresh(&presigs[p]), input).unwrap())
        .collect();
    only_the_coordinator_outputs(&attack(parties, adversary, s), input.coordinator);
}

fn frost_sign<C: Scheme>(s: &mut Script<'_>, keys: &Stored, presigs: &Stored) {
    let signers = signers();
    let adversary = s.pick(&signers);
    let message = s.bytes(32);
    let coordinator = s.pick(&signers);
    let tweak = C::tweak("fuzz.near", "p").expect("a tweak");
    let id = id(s);
    let keys: BTreeMap<Participant, frost::KeyShare<C>> = fresh_all(keys);
    let parties = signers
        .iter()
        .map(|p| {
            let input = frost::SigningInput {
                tweak,
                message: &message,
                coordinator,
            };
            frost::sign::<C>(id, &signers, *p, &keys[p], fresh(&presigs[p]), input).unwrap()
        })
        .collect();
    only_the_coordinator_outputs(&attack(parties, adversary, s), coordinator);
}

/// A signing round's honest outputs: the signature at the coordinator, nothing elsewhere.
fn only_the_coordinator_outputs<S>(outcome: &Outcome<Option<S>>, coordinator: Participant) {
    for (p, out) in &outcome.outputs {
        assert_eq!(
            out.is_some(),
            *p == coordinator,
            "only the coordinator outputs"
        );
    }
}

/// Precomputation: the honest-majority presignature, the OT-based one from made triples, FROST
/// nonces. (Beaver triples, a hundred times costlier, are [`triples`].)
pub fn precompute(data: &[u8]) {
    let mut s = Script(Unstructured::new(data));
    let made = made();
    let choice = s.byte();
    let all = all();
    let signers = signers();
    match choice % 8 {
        0..=2 => {
            let adversary = s.pick(&all);
            let id = id(&mut s);
            let keys: BTreeMap<Participant, ecdsa::KeyShare> = fresh_all(&made.ecdsa_keys);
            let parties = all
                .iter()
                .map(|p| ecdsa::fast_presign(id, &all, *p, T, &keys[p]).unwrap())
                .collect();
            let outcome = attack(parties, adversary, &mut s);
            agree(&outcome, "R", ecdsa::Presignature::big_r);
        }
        3 | 4 => {
            let adversary = s.pick(&signers);
            let id = id(&mut s);
            let keys: BTreeMap<Participant, ecdsa::KeyShare> = fresh_all(&made.ecdsa_keys);
            let parties = signers
                .iter()
                .map(|p| {
                    let pair = (fresh(&made.triples[0][p]), fresh(&made.triples[1][p]));
                    ecdsa::presign(id, &signers, *p, T, pair, &keys[p]).unwrap()
                })
                .collect();
            let outcome = attack(parties, adversary, &mut s);
            agree(&outcome, "R", ecdsa::Presignature::big_r);
        }
        5 | 6 => frost_presign::<Ed25519>(&mut s, &made.ed_keys),
        _ => frost_presign::<Bip340>(&mut s, &made.bip_keys),
    }
}

/// A Beaver triple among the two signers (OT extension; the costly precomputation).
pub fn triples(data: &[u8]) {
    let mut s = Script(Unstructured::new(data));
    let signers = signers();
    let adversary = s.pick(&signers);
    let id = id(&mut s);
    let parties = signers
        .iter()
        .map(|p| ecdsa::generate_triple(id, &signers, *p, T).unwrap())
        .collect();
    let outcome = attack(parties, adversary, &mut s);
    agree(&outcome, "the triple's public part", |t: &ecdsa::Triple| {
        postcard::to_allocvec(t.public()).expect("serializes")
    });
}

fn frost_presign<C: Scheme>(s: &mut Script<'_>, keys: &Stored) {
    let signers = signers();
    let adversary = s.pick(&signers);
    let id = id(s);
    let keys: BTreeMap<Participant, frost::KeyShare<C>> = fresh_all(keys);
    let parties = signers
        .iter()
        .map(|p| frost::presign::<C>(id, &signers, *p, &keys[p]).unwrap())
        .collect();
    let outcome = attack(parties, adversary, s);
    agree(&outcome, "the signer set", |p: &frost::Presignature<C>| {
        p.participants().to_vec()
    });
}

/// Key events: generation, resharing to another set, refresh, for both key kinds.
pub fn keys(data: &[u8]) {
    let mut s = Script(Unstructured::new(data));
    let made = made();
    let choice = s.byte();
    let all = all();
    let adversary = Participant(u32::from(s.byte()) % (N + 1));
    let id = id(&mut s);
    // Resharing moves the key from {0, 1, 2} to {0, 1, 3}.
    let new: Vec<Participant> = [0, 1, 3].map(Participant).to_vec();
    let resharing = crate::Resharing {
        old: &all,
        old_threshold: T,
        new: &new,
        new_threshold: T,
    };
    match choice % 6 {
        0 => {
            let parties = all
                .iter()
                .map(|p| ecdsa::keygen(id, &all, *p, T).unwrap())
                .collect();
            agree(
                &attack(parties, adversary, &mut s),
                "the key",
                ecdsa::KeyShare::public_key,
            );
        }
        1 | 2 => {
            let mut keys: BTreeMap<Participant, ecdsa::KeyShare> = fresh_all(&made.ecdsa_keys);
            let root = keys[&all[0]].public_key();
            let parties = if choice % 6 == 1 {
                new.iter()
                    .map(|p| ecdsa::reshare(id, resharing, *p, keys.remove(p), root).unwrap())
                    .collect()
            } else {
                all.iter()
                    .map(|p| ecdsa::refresh(id, &all, T, *p, keys.remove(p).unwrap()).unwrap())
                    .collect()
            };
            let outcome = attack(parties, adversary, &mut s);
            agree(&outcome, "the key", ecdsa::KeyShare::public_key);
            assert!(
                outcome.outputs.values().all(|k| k.public_key() == root),
                "the key changed"
            );
        }
        3 => frost_keys::<Ed25519>(&mut s, id, adversary, None),
        4 => frost_keys::<Ed25519>(&mut s, id, adversary, Some((&made.ed_keys, resharing))),
        _ => frost_keys::<Bip340>(
            &mut s,
            id,
            adversary,
            Some((&made.bip_keys, crate::Resharing::refresh(&all, T))),
        ),
    }
}

fn frost_keys<C: Scheme>(
    s: &mut Script<'_>,
    id: InstanceId,
    adversary: Participant,
    from: Option<(&Stored, crate::Resharing<'_>)>,
) {
    let all = all();
    let Some((keys, resharing)) = from else {
        let parties = all
            .iter()
            .map(|p| frost::keygen::<C>(id, &all, *p, T).unwrap())
            .collect();
        agree(
            &attack(parties, adversary, s),
            "the key",
            frost::KeyShare::<C>::verifying_key,
        );
        return;
    };
    let mut keys: BTreeMap<Participant, frost::KeyShare<C>> = fresh_all(keys);
    let root = keys[&all[0]].verifying_key();
    let parties = resharing
        .new
        .iter()
        .map(|p| frost::reshare::<C>(id, resharing, *p, keys.remove(p), root).unwrap())
        .collect();
    let outcome = attack(parties, adversary, s);
    assert!(
        outcome.outputs.values().all(|k| k.verifying_key() == root),
        "the key changed"
    );
}

#[cfg(test)]
mod tests {
    /// Every input the fuzzers kept, run again (CI runs this on stable).
    #[test]
    fn the_fuzz_corpus_replays() {
        testkit::replay_fuzz_corpus("mpc_signing", super::signing);
        testkit::replay_fuzz_corpus("mpc_precompute", super::precompute);
        testkit::replay_fuzz_corpus("mpc_triples", super::triples);
        testkit::replay_fuzz_corpus("mpc_keys", super::keys);
    }
}
