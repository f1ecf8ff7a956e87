//! ECDSA presignatures without triples, for an honest majority of the signers: Damgård,
//! Jakobsen, Nielsen, Pagter, Østergaard, "Fast Threshold ECDSA with Honest Majority" (SCN
//! 2020 / JCS 2022), as docs/design.md §7.5 and `docs/protocols/fast-ecdsa.md` describe it.
//!
//! Signer set `S` with exactly `|S| = 2f + 1` where `f = t − 1` is the key's sharing degree.
//! Two rounds:
//!
//! 1. every signer deals `[k]`, `[a]` (degree `f`) and `[b]₂`, `[c]₂` (degree `2f`, zero
//!    constant) to every other signer, with Pedersen commitments (`G`, `H`) for `k`, `b`, `c` and
//!    Feldman commitments for `a`, in one private message per recipient;
//! 2. every signer checks its shares against the commitments (naming a dealer whose share
//!    does not open them) and publishes `wᵢ = aᵢkᵢ + bᵢ`, a digest of the commitments it saw,
//!    and a proof that `wᵢ` is `aᵢkᵢ + bᵢ` of its committed shares ([`proof`]).
//!
//! Then, locally: equal digests (or abort), each `wⱼ` against its proof (or name `j`),
//! `w = Σλⱼwⱼ = a·k`, `w ≠ 0`, `R = w⁻¹·W = k⁻¹·G` with `W = a·G` the constant term of the
//! commitments to `a`, and the share `(R, kᵢ, σᵢ = kᵢxᵢ + cᵢ)`. The output is the same [`Presignature`] the OT path
//! makes and is signed by the same round ([`super::sign`]); its `σ` has degree `2f`, so the
//! signature needs every signer of `S`.
//!
//! Every honest signer that finishes holds the same `R`: the echo makes the commitments
//! common, and the proof makes each `wⱼ` the one they fix, whoever receives it. Without the
//! proof, `f` colluders could show honest signers different `wⱼ` (round 2 is point to
//! point), and with more than `2f + 1` signers the honest signature shares made under
//! different `R` would reveal the key (the split-view attack NEAR's audit found in its
//! implementation of the same paper); the signer count is fixed at `2f + 1` as well.

use k256::elliptic_curve::ops::MulByGenerator;
use k256::elliptic_curve::Field;
use k256::{ProjectivePoint, Scalar};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::curve::{mul_small, pedersen, wide_batch, Wide};
use super::types::{KeyShare, Presignature};
use super::{lagrange, point};
use crate::protocol::{check_participants, InitError, Participant, ProtocolError};
use crate::rounds::{decode, digest_of, encode, Driver, Out, Rounds, Step};
use crate::wire::{Instance, InstanceId};
use proof::{Proof, Statement};

/// A random polynomial; coefficient `i` multiplies `X^(i + skip)`, so a zero-constant
/// polynomial simply has no constant coefficient.
#[derive(Zeroize, ZeroizeOnDrop)]
struct Poly {
    coefficients: Vec<Scalar>,
    #[zeroize(skip)]
    skip: u32,
}

impl Poly {
    fn random(degree: usize, zero_constant: bool) -> Self {
        let skip = u32::from(zero_constant);
        let count = degree + 1 - skip as usize;
        Self {
            coefficients: (0..count).map(|_| Scalar::random(&mut OsRng)).collect(),
            skip,
        }
    }

    fn eval(&self, x: Scalar) -> Scalar {
        let horner = self
            .coefficients
            .iter()
            .rev()
            .fold(Scalar::ZERO, |acc, c| acc * x + c);
        if self.skip == 1 {
            horner * x
        } else {
            horner
        }
    }
}

/// A dealer's public commitments, coefficient by coefficient (zero-constant polynomials
/// start at `X¹`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Commitments {
    k: Vec<Wide>,
    a: Vec<Wide>,
    b: Vec<Wide>,
    c: Vec<Wide>,
}

/// One dealer's polynomials evaluated at one recipient (with the Pedersen blindings).
#[derive(Clone, Default, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct Shares {
    k: Scalar,
    k_blind: Scalar,
    a: Scalar,
    b: Scalar,
    b_blind: Scalar,
    c: Scalar,
    c_blind: Scalar,
}

impl Shares {
    fn add(&mut self, o: &Shares) {
        self.k += o.k;
        self.k_blind += o.k_blind;
        self.a += o.a;
        self.b += o.b;
        self.b_blind += o.b_blind;
        self.c += o.c;
        self.c_blind += o.c_blind;
    }

    /// Which polynomial, if any, these shares at `x` fail to open.
    fn mismatch(&self, c: &Commitments, x: u64) -> Option<&'static str> {
        [
            ("k", pedersen(&self.k, &self.k_blind), eval(&c.k, x, 0)),
            (
                "a",
                ProjectivePoint::mul_by_generator(&self.a),
                eval(&c.a, x, 0),
            ),
            ("b", pedersen(&self.b, &self.b_blind), eval(&c.b, x, 1)),
            ("c", pedersen(&self.c, &self.c_blind), eval(&c.c, x, 1)),
        ]
        .into_iter()
        .find(|(_, share, committed)| share != committed)
        .map(|(name, _, _)| name)
    }
}

/// `Σ Cₘ·x^(m + skip)`: a committed polynomial evaluated in the exponent at the evaluation
/// point `x` (a participant's `id + 1`, a small public integer).
fn eval(points: &[Wide], x: u64, skip: u32) -> ProjectivePoint {
    let horner = points
        .iter()
        .rev()
        .fold(ProjectivePoint::IDENTITY, |acc, c| mul_small(acc, x) + c.0);
    if skip == 1 {
        mul_small(horner, x)
    } else {
        horner
    }
}

/// The evaluation point of `p` as an integer (the scalar is [`point`]).
fn x_of(p: Participant) -> u64 {
    u64::from(p.0) + 1
}

/// The message of round 1 to one recipient.
#[derive(Serialize, Deserialize)]
struct Deal {
    commitments: Commitments,
    shares: Shares,
}

/// The message of round 2, to all.
#[derive(Serialize, Deserialize)]
struct Open {
    w: Scalar,
    echo: [u8; 32],
    /// That `w` is `a·k + b` of the committed shares ([`proof`]).
    proof: Proof,
}

/// Makes a presignature without triples among `participants`: exactly `2t − 1` of them for a
/// key of threshold `t`, each of whom must take part in the signature it makes.
///
/// Exactly: with `2t ≤ |S| ≤ 3(t − 1)` signers, `t − 1` colluders who could show honest
/// signers different `w` would learn the key from one signing attempt (the split-view attack,
/// `docs/protocols/fast-ecdsa.md`); the proof on `w` stops that, and the count keeps the
/// protocol in the setting its analysis covers.
pub fn fast_presign(
    id: InstanceId,
    participants: &[Participant],
    me: Participant,
    threshold: usize,
    key: &KeyShare,
) -> Result<Instance<Presignature>, InitError> {
    let sorted = check_participants(participants, me, Some(threshold))?;
    let needed = 2 * threshold - 1;
    if sorted.len() != needed {
        return Err(InitError::new(format!(
            "fast presignatures need exactly 2t - 1 = {needed} signers for a threshold of \
             {threshold}, got {}",
            sorted.len()
        )));
    }
    let f = threshold - 1;
    let polys = [
        Poly::random(f, false),
        Poly::random(f, false),
        Poly::random(f, false),
        Poly::random(2 * f, true),
        Poly::random(2 * f, true),
        Poly::random(2 * f, true),
        Poly::random(2 * f, true),
    ];
    let round = FastPresign {
        id,
        me,
        signers: sorted.clone(),
        degree: f,
        key_share: Zeroizing::new(key.private_share),
        own: commitments_of(&polys),
        polys,
        mine: Shares::default(),
        commitments: BTreeMap::new(),
        total: None,
        echo: [0; 32],
    };
    Ok(Instance::new(
        id,
        me,
        &sorted,
        Box::new(Driver::new(round, me)),
    ))
}

struct FastPresign {
    id: InstanceId,
    me: Participant,
    signers: Vec<Participant>,
    degree: usize,
    key_share: Zeroizing<Scalar>,
    /// `k, k', a, b, b', c, c'` of this dealer.
    polys: [Poly; 7],
    /// This dealer's commitments to `polys`.
    own: Commitments,
    /// The sum of every dealer's shares for this party.
    mine: Shares,
    commitments: BTreeMap<Participant, Commitments>,
    /// The coefficient-wise sum of all dealers' commitments, once round 1 is in.
    total: Option<Commitments>,
    /// The digest of every dealer's commitments, once round 1 is in: what round 2 echoes.
    echo: [u8; 32],
}

/// A dealer's commitments to its polynomials `k, k', a, b, b', c, c'`, normalized in one batch.
fn commitments_of(polys: &[Poly; 7]) -> Commitments {
    let [k, k_blind, a, b, b_blind, c, c_blind] = polys;
    let pedersen = |v: &Poly, r: &Poly| -> Vec<ProjectivePoint> {
        v.coefficients
            .iter()
            .zip(&r.coefficients)
            .map(|(v, r)| pedersen(v, r))
            .collect()
    };
    let a: Vec<ProjectivePoint> = a
        .coefficients
        .iter()
        .map(ProjectivePoint::mul_by_generator)
        .collect();
    Commitments::from_flat([
        pedersen(k, k_blind),
        a,
        pedersen(b, b_blind),
        pedersen(c, c_blind),
    ])
}

impl Commitments {
    /// Normalizes four vectors of points (`k, a, b, c`) with one inversion.
    fn from_flat(parts: [Vec<ProjectivePoint>; 4]) -> Self {
        let lens = parts.each_ref().map(Vec::len);
        let mut flat = wide_batch(&parts.concat()).into_iter();
        let [k, a, b, c] = lens.map(|n| flat.by_ref().take(n).collect());
        Self { k, a, b, c }
    }
}

impl FastPresign {
    fn shares_for(&self, p: Participant) -> Shares {
        let x = point(p);
        let [k, k_blind, a, b, b_blind, c, c_blind] = &self.polys;
        Shares {
            k: k.eval(x),
            k_blind: k_blind.eval(x),
            a: a.eval(x),
            b: b.eval(x),
            b_blind: b_blind.eval(x),
            c: c.eval(x),
            c_blind: c_blind.eval(x),
        }
    }

    fn well_formed(&self, c: &Commitments) -> bool {
        let f = self.degree;
        c.k.len() == f + 1 && c.a.len() == f + 1 && c.b.len() == 2 * f && c.c.len() == 2 * f
    }

    /// The coefficient-wise sum of every dealer's commitments.
    fn total_commitments(&self) -> Commitments {
        let sum = |pick: fn(&Commitments) -> &Vec<Wide>, len: usize| {
            (0..len)
                .map(|m| {
                    self.commitments
                        .values()
                        .fold(ProjectivePoint::IDENTITY, |acc, c| acc + pick(c)[m].0)
                })
                .collect()
        };
        let f = self.degree;
        Commitments::from_flat([
            sum(|c| &c.k, f + 1),
            sum(|c| &c.a, f + 1),
            sum(|c| &c.b, 2 * f),
            sum(|c| &c.c, 2 * f),
        ])
    }

    /// Round 1 is in: sum and check the shares, publish `Wᵢ`, `wᵢ` and the echo.
    fn open(
        &mut self,
        messages: BTreeMap<Participant, Vec<u8>>,
    ) -> Result<Vec<Out>, ProtocolError> {
        let mut dealt = BTreeMap::new();
        dealt.insert(self.me, self.shares_for(self.me));
        self.commitments.insert(self.me, self.own.clone());
        for (from, body) in messages {
            let deal: Deal = decode(from, &body)?;
            if !self.well_formed(&deal.commitments) {
                return Err(ProtocolError::malformed(
                    from,
                    "commitments of the wrong degree",
                ));
            }
            self.commitments.insert(from, deal.commitments);
            dealt.insert(from, deal.shares.clone());
        }
        let x = x_of(self.me);
        for shares in dealt.values() {
            self.mine.add(shares);
        }
        let total = self.total.insert(self.total_commitments());
        if self.mine.mismatch(total, x).is_some() {
            // Rare: find whose share it was, dealer by dealer.
            for (dealer, shares) in &dealt {
                if let Some(poly) = shares.mismatch(&self.commitments[dealer], x) {
                    return Err(ProtocolError::misbehaved(
                        *dealer,
                        format!("dealt a share of {poly} that does not open its commitment"),
                    ));
                }
            }
            return Err(ProtocolError::Failed(
                "shares do not open the commitments".into(),
            ));
        }
        self.echo = digest_of(self.commitments.values());
        let w = self.mine.a * self.mine.k + self.mine.b;
        let m = &self.mine;
        let tau = Zeroizing::new(m.a * m.k_blind + m.b_blind);
        let statement = self.statement(self.me, w);
        let proof = proof::prove(&statement, &m.a, &tau, (&m.k, &m.k_blind));
        let open = Open {
            w,
            echo: self.echo,
            proof,
        };
        Ok(vec![Out::All(encode(1, &open))])
    }

    /// What signer `j`'s proof on its opening `w` is about.
    fn statement(&self, j: Participant, w: Scalar) -> Statement<'_> {
        Statement {
            id: &self.id,
            j,
            echo: &self.echo,
            w,
        }
    }

    /// Round 2 is in: the checks, `R`, and this party's presignature share.
    fn finish(
        &mut self,
        messages: BTreeMap<Participant, Vec<u8>>,
    ) -> Result<Presignature, ProtocolError> {
        let total = self.total.as_ref().expect("set when round 1 finished");
        let mut opens = BTreeMap::new();
        for (from, body) in messages {
            let open: Open = decode(from, &body)?;
            if open.echo != self.echo {
                return Err(ProtocolError::Failed(format!(
                    "participant {from} saw other commitments than this party: a dealer \
                     equivocated, or {from} lies"
                )));
            }
            opens.insert(from, open);
        }
        let statements = || {
            opens
                .iter()
                .map(|(j, o)| (self.statement(*j, o.w), &o.proof))
        };
        if !proof::verify_all(total, statements()) {
            // Rare: find whose proof it was, one by one.
            let culprit = statements()
                .find(|(s, p)| !proof::verify(total, *s, p))
                .map(|(s, _)| s.j);
            return Err(match culprit {
                Some(j) => ProtocolError::misbehaved(
                    j,
                    "opened a w share that its proof does not tie to the commitments",
                ),
                None => ProtocolError::Failed("the proofs on the w shares fail together".into()),
            });
        }
        let mut opened: BTreeMap<Participant, Scalar> =
            opens.iter().map(|(j, o)| (*j, o.w)).collect();
        opened.insert(self.me, self.mine.a * self.mine.k + self.mine.b);
        let w = interpolate(&opened);
        let w_inv = Option::<Scalar>::from(w.invert())
            .ok_or_else(|| ProtocolError::Failed("w = a·k is zero".into()))?;
        let big_w = ProjectivePoint::from(total.a[0]);
        Ok(Presignature {
            big_r: (big_w * w_inv).to_affine(),
            k: self.mine.k,
            sigma: self.mine.k * *self.key_share + self.mine.c,
            participants: self.signers.clone(),
        })
    }
}

/// The constant of the polynomial through the points `values` (keyed by participant,
/// evaluated at `id + 1`): `2f + 1` points of a polynomial of degree `2f`.
fn interpolate(values: &BTreeMap<Participant, Scalar>) -> Scalar {
    let set: Vec<Participant> = values.keys().copied().collect();
    set.iter().map(|p| lagrange(&set, *p) * values[p]).sum()
}

impl Rounds for FastPresign {
    type Output = Presignature;
    const ROUNDS: u8 = 2;

    fn start(&mut self) -> Result<Vec<Out>, ProtocolError> {
        let commitments = &self.own;
        Ok(self
            .signers
            .iter()
            .filter(|p| **p != self.me)
            .map(|p| {
                let deal = Deal {
                    commitments: commitments.clone(),
                    shares: self.shares_for(*p),
                };
                Out::To(*p, encode(0, &deal))
            })
            .collect())
    }

    fn senders(&self, _round: u8) -> BTreeSet<Participant> {
        self.signers.iter().copied().collect()
    }

    fn finish_round(
        &mut self,
        round: u8,
        messages: BTreeMap<Participant, Vec<u8>>,
    ) -> Result<Step<Presignature>, ProtocolError> {
        match round {
            0 => Ok(Step::Next(self.open(messages)?)),
            _ => Ok(Step::Done(self.finish(messages)?)),
        }
    }
}

mod proof;
#[cfg(test)]
mod tests;
