//! The proof that an opened `wⱼ` is the one the commitments fix, so that every honest signer
//! computes the same `w` (and `R`) or names whoever opened a wrong one.
//!
//! Signer `j` opens `wⱼ = aⱼkⱼ + bⱼ` in round 2, one copy per receiver. The summed commitments
//! evaluated at `j + 1` give every signer the same `Kⱼ = kⱼ·G + k'ⱼ·H` and
//! `Bⱼ = bⱼ·G + b'ⱼ·H` (the echo made the commitments common), and `Wⱼ = aⱼ·G` is checked
//! against the Feldman commitment of `a`. Then
//!
//! ```text
//! Bⱼ − wⱼ·G = −aⱼ·Kⱼ + (aⱼk'ⱼ + b'ⱼ)·H
//! ```
//!
//! and `j` proves knowledge of `α = aⱼ`, `τ = aⱼk'ⱼ + b'ⱼ` with `Wⱼ = α·G` and
//! `Bⱼ − wⱼ·G = −α·Kⱼ + τ·H`: a Schnorr proof of a linear relation (Maurer's unified sigma
//! protocol), made non-interactive with Fiat–Shamir over the instance id, `j`, the echo digest,
//! `Wⱼ`, `wⱼ` and the commitments `T₁`, `T₂`. A second `w'ⱼ ≠ wⱼ` with a valid proof would
//! open the Pedersen commitment `Bⱼ + α·Kⱼ` two ways and so reveal `log_G H`; a corrupt
//! signer cannot show different honest signers different `wⱼ` (the split-view attack on
//! this protocol, `docs/protocols/fast-ecdsa.md`) without being named.
//!
//! Verification of all of a round's proofs is batched: both equations of every proof, each
//! times a fresh random weight, summed into one multi-scalar multiplication (variable-time:
//! nothing in it is secret). A sum that is
//! not the identity is then checked proof by proof to name the sender; a bad proof passes
//! the batch with probability about 2⁻²⁵⁶.

use k256::elliptic_curve::ops::{MulByGenerator, Reduce};
use k256::elliptic_curve::{Field, PrimeField};
use k256::{ProjectivePoint, Scalar, U256};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::ecdsa::curve::{msm_vartime, mul_h, wide_batch, Wide};
use crate::protocol::Participant;
use crate::wire::InstanceId;

const LABEL: &[u8] = b"chainsig fast-ecdsa w opening proof v1";

/// What signer `j`'s proof is about; every input is public to all signers.
#[derive(Clone, Copy)]
pub(super) struct Statement<'a> {
    pub id: &'a InstanceId,
    pub j: Participant,
    pub echo: &'a [u8; 32],
    /// `Wⱼ = aⱼ·G`, as opened.
    pub big_w: &'a Wide,
    /// `wⱼ`, as opened.
    pub w: Scalar,
    /// `Kⱼ`: the commitments to `k` evaluated at `j + 1`.
    pub big_k: ProjectivePoint,
    /// `Bⱼ`: the commitments to `b` evaluated at `j + 1`.
    pub big_b: ProjectivePoint,
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
        .chain_update(point(s.big_w))
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

/// The terms of `weight₁·(z_α·G − T₁ − e·Wⱼ) + weight₂·(−z_α·Kⱼ + z_τ·H − T₂ − e·Bⱼ + e·wⱼ·G)`,
/// which is the identity for a valid proof: the variable-base terms, and the coefficients of
/// `G` and `H` (added up across proofs and multiplied once, from the tables).
struct Terms {
    points: [(ProjectivePoint, Scalar); 5],
    g: Scalar,
    h: Scalar,
}

fn terms(s: &Statement<'_>, p: &Proof, weights: (Scalar, Scalar)) -> Terms {
    let e = challenge(s, &p.t1, &p.t2);
    let (u, v) = weights;
    Terms {
        points: [
            (p.t1.into(), -u),
            ((*s.big_w).into(), -(u * e)),
            (s.big_k, -(v * p.z_alpha)),
            (p.t2.into(), -v),
            (s.big_b, -(v * e)),
        ],
        g: u * p.z_alpha + v * e * s.w,
        h: v * p.z_tau,
    }
}

/// Whether every proof holds (see the module doc for the batching).
pub(super) fn verify_all<'a>(proofs: impl IntoIterator<Item = (Statement<'a>, &'a Proof)>) -> bool {
    let mut points = Vec::new();
    let (mut g, mut h) = (Scalar::ZERO, Scalar::ZERO);
    for (statement, proof) in proofs {
        let weights = (Scalar::random(&mut OsRng), Scalar::random(&mut OsRng));
        let t = terms(&statement, proof, weights);
        points.extend(t.points);
        g += t.g;
        h += t.h;
    }
    // Every input is public (the weights are this verifier's, drawn after the proofs
    // arrived), so the sum may take variable time.
    let sum = msm_vartime(&points) + ProjectivePoint::mul_by_generator(&g) + mul_h(&h);
    sum == ProjectivePoint::IDENTITY
}

/// Whether one proof holds.
pub(super) fn verify(statement: Statement<'_>, proof: &Proof) -> bool {
    verify_all([(statement, proof)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecdsa::curve::pedersen;

    /// A statement with its witnesses, built the way the protocol builds them.
    struct Case {
        id: InstanceId,
        echo: [u8; 32],
        big_w: Wide,
        w: Scalar,
        big_k: ProjectivePoint,
        big_b: ProjectivePoint,
        alpha: Scalar,
        tau: Scalar,
        k: Scalar,
        k_blind: Scalar,
    }

    impl Case {
        fn new() -> Self {
            let r = || Scalar::random(&mut OsRng);
            let (a, k, k_blind, b, b_blind) = (r(), r(), r(), r(), r());
            Self {
                id: InstanceId([7; 32]),
                echo: [9; 32],
                big_w: Wide::from(ProjectivePoint::mul_by_generator(&a)),
                w: a * k + b,
                big_k: pedersen(&k, &k_blind),
                big_b: pedersen(&b, &b_blind),
                alpha: a,
                tau: a * k_blind + b_blind,
                k,
                k_blind,
            }
        }

        fn statement(&self, j: u32) -> Statement<'_> {
            Statement {
                id: &self.id,
                j: Participant(j),
                echo: &self.echo,
                big_w: &self.big_w,
                w: self.w,
                big_k: self.big_k,
                big_b: self.big_b,
            }
        }

        fn prove(&self, j: u32) -> Proof {
            prove(
                &self.statement(j),
                &self.alpha,
                &self.tau,
                (&self.k, &self.k_blind),
            )
        }
    }

    #[test]
    fn an_honest_opening_verifies_alone_and_in_a_batch() {
        let cases: Vec<Case> = (0..4).map(|_| Case::new()).collect();
        let proofs: Vec<Proof> = cases.iter().map(|c| c.prove(1)).collect();
        for (c, p) in cases.iter().zip(&proofs) {
            assert!(verify(c.statement(1), p));
        }
        assert!(verify_all(
            cases.iter().zip(&proofs).map(|(c, p)| (c.statement(1), p))
        ));
    }

    #[test]
    fn another_w_or_another_context_fails() {
        let c = Case::new();
        let proof = c.prove(1);
        let mut s = c.statement(1);
        s.w += Scalar::ONE;
        assert!(!verify(s, &proof), "a different w");
        assert!(!verify(c.statement(2), &proof), "another signer's index");
        let mut other = Case::new();
        other.echo = [8; 32];
        let s = Statement {
            echo: &other.echo,
            ..c.statement(1)
        };
        assert!(!verify(s, &proof), "another echo");
        let id = InstanceId([6; 32]);
        let s = Statement {
            id: &id,
            ..c.statement(1)
        };
        assert!(!verify(s, &proof), "another instance");
    }

    #[test]
    fn a_tampered_proof_fails_and_spoils_its_batch() {
        let (c, d) = (Case::new(), Case::new());
        let good = d.prove(2);
        for field in 0..4 {
            let mut bad = c.prove(1);
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
            assert!(!verify(c.statement(1), &bad), "field {field}");
            assert!(!verify_all([
                (c.statement(1), &bad),
                (d.statement(2), &good)
            ]));
        }
    }

    #[test]
    fn a_wrong_witness_cannot_prove_a_wrong_w() {
        // The opener adds δ to w and knows nothing that makes the statement true.
        let c = Case::new();
        let mut s = c.statement(1);
        s.w += Scalar::from(5u64);
        let proof = prove(&s, &c.alpha, &c.tau, (&c.k, &c.k_blind));
        assert!(!verify(s, &proof));
    }
}
