//! Protocol costs with all parties in one process (total CPU across parties), as in docs/design.md §10:
//! DKG, one Beaver triple among the t signers, presign, sign; fast (honest-majority)
//! presign and sign among 2t − 1 signers (docs/design.md §7.5); FROST nonces + sign.
//!
//! `cargo bench -p mpc` (add `-- <filter>` to run a subset).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use k256::elliptic_curve::PrimeField;
use mpc::ecdsa::{self, SigningInput};
use mpc::frost::{self, Bip340, Ed25519, Scheme};
use mpc::runner::run;
use mpc::{InstanceId, Participant};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

const SIZES: [(u32, usize); 3] = [(3, 2), (5, 3), (7, 4)];

fn new_id() -> InstanceId {
    static N: AtomicU64 = AtomicU64::new(0);
    InstanceId::derive(&N.fetch_add(1, Ordering::Relaxed).to_be_bytes())
}

fn parties(n: u32) -> Vec<Participant> {
    (0..n).map(Participant).collect()
}

fn ecdsa_keys(ps: &[Participant], t: usize) -> BTreeMap<Participant, ecdsa::KeyShare> {
    let id = new_id();
    run(ps
        .iter()
        .map(|&p| ecdsa::keygen(id, ps, p, t).unwrap())
        .collect())
    .unwrap()
}

fn triples(signers: &[Participant], t: usize) -> BTreeMap<Participant, ecdsa::Triple> {
    let id = new_id();
    run(signers
        .iter()
        .map(|&p| ecdsa::generate_triple(id, signers, p, t).unwrap())
        .collect())
    .unwrap()
}

type Triples = BTreeMap<Participant, ecdsa::Triple>;

fn presign_from(
    signers: &[Participant],
    t: usize,
    keys: &BTreeMap<Participant, ecdsa::KeyShare>,
    (mut t0, mut t1): (Triples, Triples),
) -> BTreeMap<Participant, ecdsa::Presignature> {
    let id = new_id();
    run(signers
        .iter()
        .map(|p| {
            let pair = (t0.remove(p).unwrap(), t1.remove(p).unwrap());
            ecdsa::presign(id, signers, *p, t, pair, &keys[p]).unwrap()
        })
        .collect())
    .unwrap()
}

fn signing_input(root: k256::AffinePoint) -> SigningInput {
    SigningInput {
        root_public_key: root,
        tweak: primitives::derivation::secp256k1_tweak("bench.near", "p").unwrap(),
        msg_hash: k256::Scalar::from_repr([7u8; 32].into()).unwrap(),
        entropy: [1; 32],
        // Every signer set below starts at participant 0.
        coordinator: Participant(0),
    }
}

/// The signing round among `signers`, each consuming its presignature.
fn sign_all(
    signers: &[Participant],
    mut presigs: BTreeMap<Participant, ecdsa::Presignature>,
    input: SigningInput,
) -> BTreeMap<Participant, Option<primitives::response::EcdsaSignature>> {
    let id = new_id();
    run(signers
        .iter()
        .map(|p| ecdsa::sign(id, signers, *p, presigs.remove(p).unwrap(), input).unwrap())
        .collect())
    .unwrap()
}

fn bench_ecdsa(c: &mut Criterion) {
    for (n, t) in SIZES {
        let all = parties(n);
        let signers = all[..t].to_vec();
        let mut g = c.benchmark_group(format!("ecdsa n={n} t={t}"));
        g.sample_size(10);
        g.bench_function("dkg", |b| b.iter(|| ecdsa_keys(&all, t)));
        g.bench_function("triple among t", |b| b.iter(|| triples(&signers, t)));

        let keys = ecdsa_keys(&all, t);
        g.bench_function("presign", |b| {
            b.iter_batched(
                || (triples(&signers, t), triples(&signers, t)),
                |pairs| presign_from(&signers, t, &keys, pairs),
                BatchSize::PerIteration,
            )
        });
        let root = keys[&all[0]].public_key();
        let input = signing_input(root);
        g.bench_function("sign", |b| {
            b.iter_batched(
                || {
                    let pairs = (triples(&signers, t), triples(&signers, t));
                    presign_from(&signers, t, &keys, pairs)
                },
                |presigs| sign_all(&signers, presigs, input),
                BatchSize::PerIteration,
            )
        });
        g.finish();
    }
}

fn fast_presignatures(
    signers: &[Participant],
    t: usize,
    keys: &BTreeMap<Participant, ecdsa::KeyShare>,
) -> BTreeMap<Participant, ecdsa::Presignature> {
    let id = new_id();
    run(signers
        .iter()
        .map(|p| ecdsa::fast_presign(id, signers, *p, t, &keys[p]).unwrap())
        .collect())
    .unwrap()
}

fn bench_fast_ecdsa(c: &mut Criterion) {
    for (n, t) in SIZES {
        let all = parties(n);
        let signers = all[..2 * t - 1].to_vec();
        let mut g = c.benchmark_group(format!("ecdsa-fast n={n} t={t}"));
        g.sample_size(20);
        let keys = ecdsa_keys(&all, t);
        g.bench_function("presign among 2t-1", |b| {
            b.iter(|| fast_presignatures(&signers, t, &keys))
        });
        let input = signing_input(keys[&all[0]].public_key());
        g.bench_function("sign among 2t-1", |b| {
            b.iter_batched(
                || fast_presignatures(&signers, t, &keys),
                |presigs| sign_all(&signers, presigs, input),
                BatchSize::PerIteration,
            )
        });
        g.finish();
    }
}

fn bench_frost_scheme<C: Scheme>(c: &mut Criterion, name: &str) {
    for (n, t) in SIZES {
        let all = parties(n);
        let signers = all[..t].to_vec();
        let mut g = c.benchmark_group(format!("{name} n={n} t={t}"));
        g.sample_size(20);
        let dkg = || {
            let id = new_id();
            run(all
                .iter()
                .map(|&p| frost::keygen::<C>(id, &all, p, t).unwrap())
                .collect())
            .unwrap()
        };
        g.bench_function("dkg", |b| b.iter(dkg));
        let keys = dkg();
        let tweak = C::tweak("bench.near", "p").unwrap();
        g.bench_function("nonces + sign", |b| {
            b.iter(|| {
                let id = new_id();
                let mut pre = run(signers
                    .iter()
                    .map(|p| frost::presign::<C>(id, &signers, *p, &keys[p]).unwrap())
                    .collect())
                .unwrap();
                let id = new_id();
                run(signers
                    .iter()
                    .map(|p| {
                        let input = frost::SigningInput {
                            tweak,
                            message: &[9; 32],
                            coordinator: signers[0],
                        };
                        frost::sign::<C>(id, &signers, *p, &keys[p], pre.remove(p).unwrap(), input)
                            .unwrap()
                    })
                    .collect())
                .unwrap()
            })
        });
        g.finish();
    }
}

fn bench_frost(c: &mut Criterion) {
    bench_frost_scheme::<Ed25519>(c, "frost-ed25519");
    bench_frost_scheme::<Bip340>(c, "frost-bip340");
}

criterion_group!(benches, bench_ecdsa, bench_fast_ecdsa, bench_frost);
criterion_main!(benches);
