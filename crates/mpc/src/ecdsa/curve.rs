//! Curve arithmetic the honest-majority presignature ([`super::fast`]) spends its time in,
//! made cheap without skipping a check.
//!
//! - [`FixedBase`]: `k·P` for a point `P` known in advance (the Pedersen generator `H`), from a
//!   table of `d·16ⁱ·P` for every 4-bit window `i` and digit `d`: 64 mixed additions and no
//!   doublings, against ~256 doublings and ~50 additions for a variable-base multiplication.
//!   The digit's entry is picked by a constant-time scan of its whole row (the scalars are
//!   secret shares and blindings), as k256's own generator table does; `k·G` itself uses that
//!   table ([`MulByGenerator`]).
//! - [`pedersen`]: `v·G + r·H`, with k256's generator table for `G` and [`mul_h`] for the
//!   Pedersen generator `H` ([`generator_h`]).
//! - [`Wide`]: a point on the wire in SEC1's uncompressed form. A compressed point costs its
//!   receiver a square root to recover `y`; the uncompressed one costs a check of the curve
//!   equation, which k256 still performs on every point it decodes, so nothing off the curve is
//!   ever accepted.
//!
//! - [`msm_vartime`]: `Σ sᵢ·Pᵢ` in variable time (Straus' shared doublings, width-5 NAF
//!   digits, tables of odd multiples normalized to affine in one batch), for checks whose
//!   every input is public — the proofs on opened `w` ([`super::fast`]). k256's
//!   `lincomb_ext` is constant-time and spends ~65 % more on the same sum.
//!
//! Caveats: a table takes ~90 KB and ~1 ms to build, once per process. Reading a whole row
//! per window (the price of constant time) grows with the window's width, which is why the
//! windows are 4 bits and not 8.

use k256::elliptic_curve::group::Group;
use k256::elliptic_curve::ops::MulByGenerator;
use k256::elliptic_curve::point::DecompressPoint;
use k256::elliptic_curve::sec1::{EncodedPoint, FromEncodedPoint, ToEncodedPoint};
use k256::elliptic_curve::subtle::{ConditionallySelectable, ConstantTimeEq};
use k256::elliptic_curve::BatchNormalize;
use k256::{AffinePoint, ProjectivePoint, Scalar, Secp256k1};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// Digits per window (4 bits) and windows per 256-bit scalar.
const DIGITS: usize = 16;
const WINDOWS: usize = 64;

/// Precomputed multiples of one point for fixed-base multiplication.
pub(crate) struct FixedBase {
    /// `rows[i][d] = d·16ⁱ·P` (`rows[i][0]` is the identity).
    rows: Vec<[AffinePoint; DIGITS]>,
}

impl FixedBase {
    pub(crate) fn new(p: ProjectivePoint) -> Self {
        let mut rows = Vec::with_capacity(WINDOWS);
        let mut base = p;
        for _ in 0..WINDOWS {
            // Multiples 1..=15; the identity is put in front after normalizing, because a
            // batch inversion cannot take its zero z-coordinate.
            let mut multiples = [base; DIGITS - 1];
            for d in 1..DIGITS - 1 {
                multiples[d] = multiples[d - 1] + base;
            }
            let affine = ProjectivePoint::batch_normalize(&multiples);
            let mut row = [AffinePoint::IDENTITY; DIGITS];
            row[1..].copy_from_slice(&affine);
            rows.push(row);
            base = multiples[DIGITS - 2] + base;
        }
        Self { rows }
    }

    /// `k·P`, in time independent of `k`.
    pub(crate) fn mul(&self, k: &Scalar) -> ProjectivePoint {
        let bytes = k.to_bytes();
        let mut acc = ProjectivePoint::IDENTITY;
        for (i, row) in self.rows.iter().enumerate() {
            // Windows run from the least significant nibble; the bytes are big-endian.
            let byte = bytes[31 - i / 2];
            let digit = if i % 2 == 0 { byte & 0x0f } else { byte >> 4 };
            let mut pick = AffinePoint::IDENTITY;
            for (d, entry) in row.iter().enumerate() {
                pick.conditional_assign(entry, (d as u8).ct_eq(&digit));
            }
            acc += &pick;
        }
        acc
    }
}

/// Hashed (with a counter) to the x-coordinate of the Pedersen generator `H`.
const H_LABEL: &[u8] = b"chainsig fast-ecdsa pedersen generator H v1";

/// The second generator of the Pedersen commitments: the first `x = SHA256(label ‖ i)` that
/// is on the curve, with even `y`. Nobody knows its discrete logarithm to `G`.
pub(crate) fn generator_h() -> ProjectivePoint {
    static H: OnceLock<ProjectivePoint> = OnceLock::new();
    *H.get_or_init(|| {
        (0u32..)
            .find_map(|i| {
                let x = Sha256::new()
                    .chain_update(H_LABEL)
                    .chain_update(i.to_be_bytes())
                    .finalize();
                Option::<AffinePoint>::from(AffinePoint::decompress(&x, 0u8.into()))
            })
            .map(ProjectivePoint::from)
            .expect("half of all x-coordinates are on the curve")
    })
}

/// `r·H` from the fixed-base table of [`generator_h`] (built at first use), in time
/// independent of `r`.
pub(crate) fn mul_h(r: &Scalar) -> ProjectivePoint {
    static TABLE: OnceLock<FixedBase> = OnceLock::new();
    TABLE.get_or_init(|| FixedBase::new(generator_h())).mul(r)
}

/// `v·G + r·H`: a Pedersen commitment to `v` with blinding `r`.
pub(crate) fn pedersen(v: &Scalar, r: &Scalar) -> ProjectivePoint {
    ProjectivePoint::mul_by_generator(v) + mul_h(r)
}

/// `p·x` for a small public integer `x` by double-and-add: a few doublings instead of a
/// full 256-bit scalar multiplication, which is what makes checking commitments cheap.
pub(crate) fn mul_small(p: ProjectivePoint, x: u64) -> ProjectivePoint {
    let mut acc = ProjectivePoint::IDENTITY;
    for bit in (0..u64::BITS - x.leading_zeros()).rev() {
        acc = acc.double();
        if (x >> bit) & 1 == 1 {
            acc += p;
        }
    }
    acc
}

/// Width of the NAF digits of [`msm_vartime`]: odd digits in `[-15, 15]`, 8 table entries.
const NAF_WIDTH: u32 = 5;

/// The width-5 non-adjacent form of `s`, least significant digit first.
fn naf(s: &Scalar) -> [i8; 257] {
    let bytes = s.to_bytes();
    // Little-endian 64-bit limbs of s (< n < 2²⁵⁶, so adding 15 cannot overflow).
    let mut k = [0u64; 4];
    for (i, limb) in k.iter_mut().enumerate() {
        let at = 32 - 8 * (i + 1);
        *limb = u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    }
    let mut digits = [0i8; 257];
    let window = 1u64 << NAF_WIDTH;
    for digit in digits.iter_mut() {
        if k == [0; 4] {
            break;
        }
        if k[0] & 1 == 1 {
            let m = (k[0] & (window - 1)) as i64;
            let d = if m >= (window / 2) as i64 {
                m - window as i64
            } else {
                m
            };
            *digit = d as i8;
            if d > 0 {
                sub_small(&mut k, d as u64);
            } else {
                add_small(&mut k, (-d) as u64);
            }
        }
        // k >>= 1
        for i in 0..4 {
            let carry = if i < 3 { k[i + 1] << 63 } else { 0 };
            k[i] = (k[i] >> 1) | carry;
        }
    }
    digits
}

fn add_small(k: &mut [u64; 4], v: u64) {
    let mut carry = v;
    for limb in k.iter_mut() {
        let (sum, overflow) = limb.overflowing_add(carry);
        *limb = sum;
        carry = u64::from(overflow);
    }
}

fn sub_small(k: &mut [u64; 4], v: u64) {
    let mut borrow = v;
    for limb in k.iter_mut() {
        let (diff, underflow) = limb.overflowing_sub(borrow);
        *limb = diff;
        borrow = u64::from(underflow);
    }
}

/// `Σ sᵢ·Pᵢ`, in time that depends on the scalars: only for public inputs.
pub(crate) fn msm_vartime(terms: &[(ProjectivePoint, Scalar)]) -> ProjectivePoint {
    // The identity adds nothing; leaving it out keeps every table entry finite (the group's
    // order is prime and far above 15, so no odd multiple of another point is the identity).
    let terms: Vec<&(ProjectivePoint, Scalar)> = terms
        .iter()
        .filter(|(p, _)| !bool::from(p.is_identity()))
        .collect();
    let entries = 1usize << (NAF_WIDTH - 2);
    let mut odd = Vec::with_capacity(terms.len() * entries);
    for (p, _) in &terms {
        let twice = p.double();
        let mut m = *p;
        for _ in 0..entries {
            odd.push(m);
            m += twice;
        }
    }
    let tables: Vec<AffinePoint> = wide_batch(&odd).into_iter().map(|w| w.0).collect();
    let digits: Vec<[i8; 257]> = terms.iter().map(|(_, s)| naf(s)).collect();
    let top = digits
        .iter()
        .filter_map(|d| d.iter().rposition(|x| *x != 0))
        .max();
    let mut acc = ProjectivePoint::IDENTITY;
    let Some(top) = top else { return acc };
    for i in (0..=top).rev() {
        acc = acc.double();
        for (d, table) in digits.iter().zip(tables.chunks(entries)) {
            let digit = d[i];
            if digit > 0 {
                acc += &table[(digit >> 1) as usize];
            } else if digit < 0 {
                acc -= &table[((-digit) >> 1) as usize];
            }
        }
    }
    acc
}

/// A point that travels uncompressed (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Wide(pub AffinePoint);

impl From<ProjectivePoint> for Wide {
    fn from(p: ProjectivePoint) -> Self {
        Self(p.to_affine())
    }
}

impl From<Wide> for ProjectivePoint {
    fn from(w: Wide) -> Self {
        ProjectivePoint::from(w.0)
    }
}

/// Normalizes a batch with one field inversion instead of one per point.
///
/// k256's batch normalization panics on an empty batch and on a point at infinity whose z
/// is an unreduced zero, which sums of points a peer chose can produce (a dealer may pick its
/// commitments after seeing the others'). Such points are set aside and come back as the
/// identity, as `to_affine` would return them.
pub(crate) fn wide_batch(points: &[ProjectivePoint]) -> Vec<Wide> {
    let infinite = |p: &ProjectivePoint| bool::from(p.is_identity());
    let finite: Vec<ProjectivePoint> = points.iter().filter(|p| !infinite(p)).copied().collect();
    let mut affine = if finite.is_empty() {
        Vec::new()
    } else {
        ProjectivePoint::batch_normalize(finite.as_slice())
    }
    .into_iter();
    points
        .iter()
        .map(|p| match infinite(p) {
            true => Wide(AffinePoint::IDENTITY),
            false => Wide(affine.next().expect("one affine point per finite point")),
        })
        .collect()
}

impl Serialize for Wide {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0.to_encoded_point(false).as_bytes())
    }
}

impl<'de> Deserialize<'de> for Wide {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let bytes = <&[u8]>::deserialize(d)?;
        let encoded = EncodedPoint::<Secp256k1>::from_bytes(bytes).map_err(D::Error::custom)?;
        if encoded.is_compressed() || encoded.is_compact() {
            return Err(D::Error::custom("expected an uncompressed point"));
        }
        // Checks the curve equation (or the identity's one-byte form).
        Option::<AffinePoint>::from(AffinePoint::from_encoded_point(&encoded))
            .map(Wide)
            .ok_or_else(|| D::Error::custom("not a point on secp256k1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::elliptic_curve::Field;
    use proptest::prelude::*;
    use rand_core::OsRng;

    #[test]
    fn the_pedersen_generator_is_fixed_and_independent_of_g() {
        let h = generator_h();
        assert_eq!(h, generator_h());
        assert_ne!(h, ProjectivePoint::GENERATOR);
        assert_ne!(h, ProjectivePoint::IDENTITY);
    }

    #[test]
    fn fixed_base_matches_variable_base_at_the_edges() {
        let h = generator_h();
        for k in [Scalar::ZERO, Scalar::ONE, -Scalar::ONE, Scalar::from(16u64)] {
            assert_eq!(mul_h(&k), h * k);
        }
    }

    #[test]
    fn small_multiples_match_scalar_multiplication() {
        let p = ProjectivePoint::GENERATOR * Scalar::from(12345u64);
        for x in [0u64, 1, 2, 3, 7, 8, 255, 65_536, u64::from(u32::MAX)] {
            assert_eq!(mul_small(p, x), p * Scalar::from(x), "{x}");
        }
    }

    proptest! {
        #[test]
        fn fixed_base_matches_variable_base(bytes in any::<[u8; 32]>()) {
            use k256::elliptic_curve::ops::Reduce;
            let k = <Scalar as Reduce<k256::U256>>::reduce_bytes(&bytes.into());
            prop_assert_eq!(mul_h(&k), generator_h() * k);
        }

        #[test]
        fn msm_vartime_matches_the_constant_time_sum(n in 0usize..6) {
            use k256::elliptic_curve::ops::LinearCombinationExt;
            let terms: Vec<(ProjectivePoint, Scalar)> = (0..n)
                .map(|_| (ProjectivePoint::GENERATOR * Scalar::random(&mut OsRng), Scalar::random(&mut OsRng)))
                .collect();
            prop_assert_eq!(msm_vartime(&terms), ProjectivePoint::lincomb_ext(terms.as_slice()));
        }

        #[test]
        fn mul_small_matches_scalar_multiplication(x in 0u64..10_000) {
            let p = ProjectivePoint::GENERATOR * Scalar::from(7u64);
            prop_assert_eq!(mul_small(p, x), p * Scalar::from(x));
        }
    }

    #[test]
    fn msm_vartime_at_the_edges() {
        let p = ProjectivePoint::GENERATOR * Scalar::from(3u64);
        let q = ProjectivePoint::GENERATOR * Scalar::from(11u64);
        for s in [
            Scalar::ZERO,
            Scalar::ONE,
            -Scalar::ONE,
            Scalar::from(15u64),
            Scalar::from(16u64),
            -Scalar::from(16u64),
        ] {
            assert_eq!(msm_vartime(&[(p, s)]), p * s);
            assert_eq!(msm_vartime(&[(p, s), (q, -s)]), p * s - q * s);
        }
        assert_eq!(
            msm_vartime(&[(ProjectivePoint::IDENTITY, Scalar::ONE)]),
            ProjectivePoint::IDENTITY
        );
        assert_eq!(msm_vartime(&[]), ProjectivePoint::IDENTITY);
    }

    #[test]
    fn batches_with_points_at_infinity_normalize() {
        // P − P through the addition formulas: the identity with an unreduced zero z.
        let p = ProjectivePoint::GENERATOR * Scalar::random(&mut OsRng);
        let q = ProjectivePoint::GENERATOR * Scalar::random(&mut OsRng);
        let sum = [p, q, -p]
            .iter()
            .fold(ProjectivePoint::IDENTITY, |acc, x| acc + x)
            - q;
        assert!(bool::from(sum.is_identity()));
        let batch = wide_batch(&[p, sum, q, ProjectivePoint::IDENTITY]);
        let infinity = Wide(AffinePoint::IDENTITY);
        assert_eq!(
            batch,
            vec![Wide::from(p), infinity, Wide::from(q), infinity]
        );
        assert!(wide_batch(&[]).is_empty());
        assert_eq!(wide_batch(&[sum]), vec![infinity]);
        // And through the multi-scalar sum.
        assert_eq!(msm_vartime(&[(sum, Scalar::ONE), (q, Scalar::ONE)]), q);
    }

    #[test]
    fn wide_points_round_trip_and_refuse_what_is_not_on_the_curve() {
        let p = Wide::from(ProjectivePoint::GENERATOR * Scalar::random(&mut OsRng));
        let bytes = postcard::to_stdvec(&p).unwrap();
        assert_eq!(postcard::from_bytes::<Wide>(&bytes).unwrap(), p);
        let identity = Wide(AffinePoint::IDENTITY);
        let bytes = postcard::to_stdvec(&identity).unwrap();
        assert_eq!(postcard::from_bytes::<Wide>(&bytes).unwrap(), identity);

        let mut off_curve = postcard::to_stdvec(&p).unwrap();
        let last = off_curve.len() - 1;
        off_curve[last] ^= 1;
        assert!(postcard::from_bytes::<Wide>(&off_curve).is_err());

        let compressed = p.0.to_encoded_point(true);
        // Postcard writes a byte vector as `Wide` writes its bytes: a length, then the bytes.
        let bytes = postcard::to_stdvec(&compressed.as_bytes().to_vec()).unwrap();
        assert!(postcard::from_bytes::<Wide>(&bytes).is_err());
    }
}
