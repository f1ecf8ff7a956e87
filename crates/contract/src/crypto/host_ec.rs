//! Secp256k1 point arithmetic through NEAR's `ecrecover` host function, so that `respond` on a
//! Secp256k1, V2Secp256k1 or Bip340 domain does no curve arithmetic in wasm.
//!
//! ECDSA public-key recovery computes, for a signature `(r, s)` with recovery id `v` over the
//! hash `z`, the point `r⁻¹·(s·R − z·G)` where `R` is the curve point with X = `r` and the Y
//! parity `v`. Any point `R` whose X is below the group order `n` is such a point, so choosing
//! `s = a·r` and `z = −b·r` (mod `n`) makes recovery return the linear combination
//! `a·R + b·G`. This is the trick Ethereum contracts use to verify Schnorr signatures with
//! `ecrecover`; NEAR's `ecrecover` returns the whole point (`X ‖ Y`), not a hash of it, so
//! no comparison is lost. The malleability check is off for these calls (`s` is whatever the
//! combination needs).
//!
//! Caveats: a point whose X is `≥ n` (probability about 2⁻¹²⁸) cannot be passed as `r`, and
//! recovery refuses `a = 0` (then `s = 0`) and a result at infinity. [`combine`] then returns
//! `None` and callers compute the same thing in wasm with k256: these paths only ever save gas,
//! never decide differently.

use k256::elliptic_curve::ops::Reduce;
use k256::elliptic_curve::PrimeField;
use k256::{Scalar, U256};
use sha2::{Digest, Sha256};

use super::Crypto;

/// A point as NEAR's host functions return it: `X ‖ Y`, each 32 bytes big-endian.
pub type Xy = [u8; 64];

fn x_of(p: &Xy) -> [u8; 32] {
    p[..32].try_into().expect("32 bytes")
}

fn y_is_odd(p: &Xy) -> bool {
    p[63] & 1 == 1
}

/// `a·R + b·G`, where `R` is the point with X = `x` and Y parity `odd`; `None` where
/// recovery cannot express it (see the module's caveats).
pub fn combine(crypto: &dyn Crypto, x: &[u8; 32], odd: bool, a: &Scalar, b: &Scalar) -> Option<Xy> {
    let r = Option::<Scalar>::from(Scalar::from_repr((*x).into()))?;
    if bool::from(r.is_zero()) {
        return None;
    }
    let s = a * &r;
    let z = -(b * &r);
    let mut signature = [0u8; 64];
    signature[..32].copy_from_slice(x);
    signature[32..].copy_from_slice(&s.to_bytes());
    crypto.ecrecover(&z.to_bytes().into(), &signature, u8::from(odd), false)
}

/// The derived key `root + ε·G` (docs/design.md §4.1).
pub fn derive(crypto: &dyn Crypto, root: &Xy, tweak: &Scalar) -> Option<Xy> {
    combine(crypto, &x_of(root), y_is_odd(root), &Scalar::ONE, tweak)
}

/// The BIP341 output key `lift_x(x(P)) + t·G` of the internal key `P` (no script tree).
pub fn taproot_output(crypto: &dyn Crypto, internal: &Xy) -> Option<Xy> {
    let x = x_of(internal);
    let tag = Sha256::digest(b"TapTweak");
    let t: [u8; 32] = Sha256::new()
        .chain_update(tag)
        .chain_update(tag)
        .chain_update(x)
        .finalize()
        .into();
    let t = Option::<Scalar>::from(Scalar::from_repr(t.into()))?;
    combine(crypto, &x, false, &Scalar::ONE, &t)
}

/// BIP340 verification of `signature` (`r ‖ s`) over `message` under the x-only key `key`:
/// `Some(valid)`, or `None` where recovery cannot express `s·G − e·P`.
pub fn verify_bip340(
    crypto: &dyn Crypto,
    key: &[u8; 32],
    message: &[u8],
    signature: &[u8; 64],
) -> Option<bool> {
    let r: [u8; 32] = signature[..32].try_into().expect("32 bytes");
    let Some(s) = Option::<Scalar>::from(Scalar::from_repr(
        <[u8; 32]>::try_from(&signature[32..])
            .expect("32 bytes")
            .into(),
    )) else {
        return Some(false); // s ≥ n
    };
    let tag = Sha256::digest(b"BIP0340/challenge");
    let e: [u8; 32] = Sha256::new()
        .chain_update(tag)
        .chain_update(tag)
        .chain_update(r)
        .chain_update(key)
        .chain_update(message)
        .finalize()
        .into();
    let e = <Scalar as Reduce<U256>>::reduce_bytes(&e.into());
    // R = s·G − e·P, with P = lift_x(key) (even Y); valid iff R has even Y and X = r.
    let point = combine(crypto, key, false, &-e, &s)?;
    Some(!y_is_odd(&point) && x_of(&point) == r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::NativeCrypto;
    use k256::elliptic_curve::sec1::ToEncodedPoint;
    use k256::{AffinePoint, ProjectivePoint};
    use proptest::prelude::*;

    fn scalar(seed: [u8; 32]) -> Scalar {
        <Scalar as Reduce<U256>>::reduce_bytes(&seed.into())
    }

    fn xy(p: &AffinePoint) -> Xy {
        p.to_encoded_point(false).as_bytes()[1..]
            .try_into()
            .unwrap()
    }

    proptest! {
        /// `root + ε·G` through recovery equals k256's.
        #[test]
        fn derivation_matches_k256(root in any::<[u8; 32]>(), tweak in any::<[u8; 32]>()) {
            let (d, t) = (scalar(root), scalar(tweak));
            prop_assume!(!bool::from(d.is_zero()));
            let root = (ProjectivePoint::GENERATOR * d).to_affine();
            let expected = primitives::derivation::derive_secp256k1(&root, &t).unwrap();
            prop_assert_eq!(derive(&NativeCrypto, &xy(&root), &t), Some(xy(&expected)));
        }

        /// The Taproot output key through recovery equals primitives' (whatever P's Y parity).
        #[test]
        fn taproot_output_matches(seed in any::<[u8; 32]>()) {
            let d = scalar(seed);
            prop_assume!(!bool::from(d.is_zero()));
            let internal = (ProjectivePoint::GENERATOR * d).to_affine();
            let expected = primitives::taproot::output_key_x(&internal).unwrap();
            let got = taproot_output(&NativeCrypto, &xy(&internal)).unwrap();
            prop_assert_eq!(&got[..32], &expected[..]);
        }

        /// Recovery-based BIP340 verification agrees with k256's on valid signatures and on
        /// every kind of corruption.
        #[test]
        fn bip340_matches_k256(
            seed in any::<[u8; 32]>(),
            message in proptest::collection::vec(any::<u8>(), 0..200),
            flip in 0usize..200,
        ) {
            let d = scalar(seed);
            prop_assume!(!bool::from(d.is_zero()));
            let signer = k256::schnorr::SigningKey::from_bytes(&d.to_bytes()).unwrap();
            let key: [u8; 32] = signer.verifying_key().to_bytes().into();
            let signature: [u8; 64] = signer.sign_raw(&message, &[7; 32]).unwrap().to_bytes();
            prop_assert_eq!(verify_bip340(&NativeCrypto, &key, &message, &signature), Some(true));

            // Corrupt one byte of r, s, the key or the message.
            let (mut sig, mut k, mut m) = (signature, key, message.clone());
            match flip % 4 {
                0 => sig[flip % 32] ^= 1,
                1 => sig[32 + flip % 32] ^= 0x80,
                2 => k[flip % 32] ^= 1,
                _ => m.push(flip as u8),
            }
            let expected = k256::schnorr::VerifyingKey::from_bytes(&k)
                .ok()
                .zip(k256::schnorr::Signature::try_from(&sig[..]).ok())
                .is_some_and(|(vk, s)| vk.verify_raw(&m, &s).is_ok());
            prop_assert!(!expected);
            // Where recovery can express it, the answer is the same; where it cannot (the
            // key is not on the curve), the caller falls back to k256.
            if let Some(got) = verify_bip340(&NativeCrypto, &k, &m, &sig) {
                prop_assert_eq!(got, expected);
            }
        }
    }

    #[test]
    fn an_x_at_or_above_the_order_is_left_to_wasm() {
        let x = [0xff; 32];
        assert_eq!(
            combine(&NativeCrypto, &x, false, &Scalar::ONE, &Scalar::ONE),
            None
        );
    }
}
