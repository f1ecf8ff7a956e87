//! The proof that an opened `wⱼ` is the one the commitments fix, so that every honest signer
//! computes the same `w` (and `R`) or names whoever opened a wrong one.
//!
//! Signer `j` opens `wⱼ = aⱼkⱼ + bⱼ` in round 2, one copy per receiver. The summed commitments
//! evaluated at `xⱼ = j + 1` give every signer the same `Wⱼ = aⱼ·G` (Feldman, for `a`),
//! `Kⱼ = kⱼ·G + k'ⱼ·H` and `Bⱼ = bⱼ·G + b'ⱼ·H` (Pedersen): the echo made the commitments
//! common, so nobody needs `Wⱼ` sent. Then
//!
//! ```text
//! Bⱼ − wⱼ·G = −aⱼ·Kⱼ + (aⱼk'ⱼ + b'ⱼ)·H
//! ```
//!
//! and `j` proves knowledge of `α = aⱼ`, `τ = aⱼk'ⱼ + b'ⱼ` with `Wⱼ = α·G` and
//! `Bⱼ − wⱼ·G = −α·Kⱼ + τ·H`: a Schnorr proof of a linear relation (Maurer's unified sigma
//! protocol), made non-interactive with Fiat–Shamir over the instance id, `j`, the echo digest
//! (which fixes the commitments, hence `Wⱼ`, `Kⱼ` and `Bⱼ`), `wⱼ` and the proof's commitments
//! `T₁`, `T₂`. A second `w'ⱼ ≠ wⱼ` with a valid proof would open the Pedersen commitment
//! `Bⱼ + α·Kⱼ` two ways and so reveal `log_G H`; a corrupt signer cannot show different honest
//! signers different `wⱼ` (the split-view attack on this protocol, `docs/protocols/fast-ecdsa.md`)
//! without being named.
//!
//! Verification of all of a round's proofs is batched (Bellare, Garay, Rabin, "Fast batch
//! verification for modular exponentiation and digital signatures", EUROCRYPT 1998, the
//! small-exponents test): both equations of every proof, each times a fresh random 128-bit
//! weight, summed into one multi-scalar multiplication (variable-time: nothing in it is
//! secret). `Wⱼ`, `Kⱼ` and `Bⱼ` are never computed: their terms are folded into the
//! coefficients of the commitment points they are sums of, so the sum has `2` points per proof
//! plus one per commitment coefficient, and the weights make the `T` terms half-length. A sum
//! that is not the identity is then checked proof by proof to name the sender; a bad proof
//! passes the batch with probability about 2⁻¹²⁸.

use k256::elliptic_curve::ops::{MulByGenerator, Reduce};
use k256::elliptic_curve::{Field, PrimeField};
use k256::{ProjectivePoint, Scalar, U256};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{x_of, Commitments};
use crate::ecdsa::curve::{msm_vartime, mul_h, wide_batch, Wide};
use crate::protocol::Participant;
use crate::wire::InstanceId;

const LABEL: &[u8] = b"chainsig fast-ecdsa w opening proof v2";

/// What signer `j`'s proof is about; with the commitments the echo names, every input is
/// public to all signers.
#[derive(Clone, Copy)]
pub(super) struct Statement<'a> {
    pub id: &'a InstanceId,
    pub j: Participant,
    /// The digest of every dealer's commitments, as every signer saw them.
    pub echo: &'a [u8; 32],
    /// `wⱼ`, as opened.
    pub w: Scalar,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Proof {
    t1: Wide,
    t2: Wide,
    z_alpha: Scalar,
    z_tau: Scalar,
}

/// The Fiat–Shamir challenge.
fn challenge(s: &Statement<'_>, t1: &Wide, t2: &Wide) -> Scalar {
    let point = |p: &Wide| {
        use k256::elliptic_curve::sec1::ToEncodedPoint;
        p.0.to_encoded_point(false)
    };
    let digest = Sha256::new()
        .chain_update(LABEL)
        .chain_update(s.id.0)
        .chain_update(s.j.0.to_be_bytes())
        .chain_update(s.echo)
        .chain_update(s.w.to_repr())
        .chain_update(point(t1))
        .chain_update(point(t2))
        .finalize();
    <Scalar as Reduce<U256>>::reduce_bytes(&digest)
}

/// Proves `s` with the witnesses `α = aⱼ` and `τ = aⱼk'ⱼ + b'ⱼ`; `(k, k_blind)` open `Kⱼ`,
/// which lets the prover compute `−ρ·Kⱼ` from the two fixed-base tables.
pub(super) fn prove(
    s: &Statement<'_>,
    alpha: &Scalar,
    tau: &Scalar,
    (k, k_blind): (&Scalar, &Scalar),
) -> Proof {
    let rho_alpha = Zeroizing::new(Scalar::random(&mut OsRng));
    let rho_tau = Zeroizing::new(Scalar::random(&mut OsRng));
    // −ρα·Kⱼ + ρτ·H = (−ρα·kⱼ)·G + (ρτ − ρα·k'ⱼ)·H
    let g_part = Zeroizing::new(-(*rho_alpha * k));
    let h_part = Zeroizing::new(*rho_tau - *rho_alpha * k_blind);
    let [t1, t2] = <[Wide; 2]>::try_from(wide_batch(&[
        ProjectivePoint::mul_by_generator(&*rho_alpha),
        ProjectivePoint::mul_by_generator(&*g_part) + mul_h(&h_part),
    ]))
    .expect("two points in, two out");
    let e = challenge(s, &t1, &t2);
    Proof {
        z_alpha: *rho_alpha + e * alpha,
        z_tau: *rho_tau + e * tau,
        t1,
        t2,
    }
}

/// A random 128-bit weight (the small-exponents test needs no more).
fn weight() -> Scalar {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes[16..]);
    <Scalar as Reduce<U256>>::reduce_bytes(&bytes.into())
}

/// `Σ_m coefficient·x^(m + skip)·Cₘ`, added into `into` coefficient by coefficient.
fn fold(into: &mut [Scalar], x: u64, skip: u32, coefficient: Scalar) {
    let x = Scalar::from(x);
    let mut power = if skip == 1 { x } else { Scalar::ONE };
    for slot in into {
        *slot += coefficient * power;
        power *= x;
    }
}

/// Whether every proof holds against the summed commitments `committed` (see the module doc
/// for the batching): the sum over proofs of
/// `u·(z_α·G − T₁ − e·Wⱼ) + v·(−z_α·Kⱼ + z_τ·H − T₂ − e·Bⱼ + e·wⱼ·G)` is the identity.
pub(super) fn verify_all<'a>(
    committed: &Commitments,
    proofs: impl IntoIterator<Item = (Statement<'a>, &'a Proof)>,
) -> bool {
    let mut points = Vec::new();
    let (mut g, mut h) = (Scalar::ZERO, Scalar::ZERO);
    let mut on_a = vec![Scalar::ZERO; committed.a.len()];
    let mut on_k = vec![Scalar::ZERO; committed.k.len()];
    let mut on_b = vec![Scalar::ZERO; committed.b.len()];
    for (s, p) in proofs {
        let e = challenge(&s, &p.t1, &p.t2);
        let (u, v) = (weight(), weight());
        let x = x_of(s.j);
        // −u·T₁ as u·(−T₁): negating the point keeps the scalar 128 bits long.
        points.push((-ProjectivePoint::from(p.t1), u));
        points.push((-ProjectivePoint::from(p.t2), v));
        fold(&mut on_a, x, 0, -(u * e));
        fold(&mut on_k, x, 0, -(v * p.z_alpha));
        fold(&mut on_b, x, 1, -(v * e));
        g += u * p.z_alpha + v * e * s.w;
        h += v * p.z_tau;
    }
    for (coefficients, weights) in [
        (&committed.a, on_a),
        (&committed.k, on_k),
        (&committed.b, on_b),
    ] {
        points.extend(
            coefficients
                .iter()
                .map(|c| ProjectivePoint::from(*c))
                .zip(weights),
        );
    }
    // Every input is public (the weights are this verifier's, drawn after the proofs
    // arrived), so the sum may take variable time.
    let sum = msm_vartime(&points) + ProjectivePoint::mul_by_generator(&g) + mul_h(&h);
    sum == ProjectivePoint::IDENTITY
}

/// Whether one proof holds.
pub(super) fn verify(committed: &Commitments, statement: Statement<'_>, proof: &Proof) -> bool {
    verify_all(committed, [(statement, proof)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecdsa::curve::pedersen;

    /// Summed commitments of degree-0 `a` and `k` and a degree-1, zero-constant `b`
    /// (`b(X) = β·X`), with every signer's witnesses, built the way the protocol builds them.
    struct Case {
        id: InstanceId,
        echo: [u8; 32],
        committed: Commitments,
        a: Scalar,
        k: Scalar,
        k_blind: Scalar,
        beta: Scalar,
        beta_blind: Scalar,
    }

    impl Case {
        fn new() -> Self {
            let r = || Scalar::random(&mut OsRng);
            let (a, k, k_blind, beta, beta_blind) = (r(), r(), r(), r(), r());
            Self {
                id: InstanceId([7; 32]),
                echo: [9; 32],
                committed: Commitments {
                    k: vec![pedersen(&k, &k_blind).into()],
                    a: vec![ProjectivePoint::mul_by_generator(&a).into()],
                    b: vec![pedersen(&beta, &beta_blind).into()],
                    c: vec![],
                },
                a,
                k,
                k_blind,
                beta,
                beta_blind,
            }
        }

        /// Signer `j`'s honest opening.
        fn w(&self, j: u32) -> Scalar {
            self.a * self.k + self.beta * Scalar::from(x_of(Participant(j)))
        }

        fn statement(&self, j: u32) -> Statement<'_> {
            Statement {
                id: &self.id,
                j: Participant(j),
                echo: &self.echo,
                w: self.w(j),
            }
        }

        fn prove(&self, s: &Statement<'_>) -> Proof {
            let x = Scalar::from(x_of(s.j));
            let tau = self.a * self.k_blind + self.beta_blind * x;
            prove(s, &self.a, &tau, (&self.k, &self.k_blind))
        }

        fn verify(&self, s: Statement<'_>, p: &Proof) -> bool {
            verify(&self.committed, s, p)
        }
    }

    #[test]
    fn honest_openings_verify_alone_and_in_a_batch() {
        let c = Case::new();
        let statements: Vec<Statement<'_>> = (0..5).map(|j| c.statement(j)).collect();
        let proofs: Vec<Proof> = statements.iter().map(|s| c.prove(s)).collect();
        for (s, p) in statements.iter().zip(&proofs) {
            assert!(c.verify(*s, p));
        }
        assert!(verify_all(
            &c.committed,
            statements.iter().copied().zip(&proofs)
        ));
    }

    #[test]
    fn another_w_or_another_context_fails() {
        let c = Case::new();
        let proof = c.prove(&c.statement(1));
        let mut s = c.statement(1);
        s.w += Scalar::ONE;
        assert!(!c.verify(s, &proof), "a different w");
        let s = Statement {
            j: Participant(2),
            ..c.statement(1)
        };
        assert!(!c.verify(s, &proof), "another signer's index");
        let echo = [8; 32];
        let s = Statement {
            echo: &echo,
            ..c.statement(1)
        };
        assert!(!c.verify(s, &proof), "another echo");
        let id = InstanceId([6; 32]);
        let s = Statement {
            id: &id,
            ..c.statement(1)
        };
        assert!(!c.verify(s, &proof), "another instance");
        let other = Case::new();
        assert!(
            !verify(&other.committed, c.statement(1), &proof),
            "other commitments"
        );
    }

    #[test]
    fn a_tampered_proof_fails_and_spoils_its_batch() {
        let c = Case::new();
        let good = c.prove(&c.statement(2));
        for field in 0..4 {
            let mut bad = c.prove(&c.statement(1));
            match field {
                0 => bad.z_alpha += Scalar::ONE,
                1 => bad.z_tau += Scalar::ONE,
                2 => {
                    bad.t1 = Wide::from(ProjectivePoint::from(bad.t1) + ProjectivePoint::GENERATOR)
                }
                _ => {
                    bad.t2 = Wide::from(ProjectivePoint::from(bad.t2) + ProjectivePoint::GENERATOR)
                }
            }
            assert!(!c.verify(c.statement(1), &bad), "field {field}");
            assert!(!verify_all(
                &c.committed,
                [(c.statement(1), &bad), (c.statement(2), &good)]
            ));
        }
    }

    #[test]
    fn a_wrong_witness_cannot_prove_a_wrong_w() {
        // The opener adds δ to w and knows nothing that makes the statement true.
        let c = Case::new();
        let mut s = c.statement(1);
        s.w += Scalar::from(5u64);
        let proof = c.prove(&s);
        assert!(!c.verify(s, &proof));
    }

    #[test]
    fn folding_matches_evaluating_in_the_exponent() {
        // The batch never computes Wⱼ, Kⱼ, Bⱼ; folding a coefficient into the commitment
        // points must equal weighting the evaluation.
        let points: Vec<Wide> = (1..=4u64)
            .map(|i| ProjectivePoint::mul_by_generator(&Scalar::from(i * 1000 + 7)).into())
            .collect();
        let weight = Scalar::random(&mut OsRng);
        for (x, skip) in [(1, 0), (3, 0), (5, 1), (2, 1)] {
            let mut on = vec![Scalar::ZERO; points.len()];
            fold(&mut on, x, skip, weight);
            let folded: ProjectivePoint = points
                .iter()
                .zip(&on)
                .map(|(p, s)| ProjectivePoint::from(*p) * s)
                .sum();
            assert_eq!(folded, super::super::eval(&points, x, skip) * weight);
        }
    }
}
