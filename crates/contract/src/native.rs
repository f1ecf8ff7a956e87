//! NEAR's signature host functions, natively: what a native host of the contract provides
//! (the in-process chain, tests). Built with the `native` feature, and for this crate's tests.

use crate::Crypto;
use k256::elliptic_curve::group::{Group, GroupEncoding};
use k256::elliptic_curve::ops::Reduce;
use k256::elliptic_curve::scalar::IsHigh;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::elliptic_curve::PrimeField;
use k256::{AffinePoint, ProjectivePoint, Scalar, U256};

/// `ecrecover` (with NEAR's optional malleability check) and `ed25519_verify`, on k256 and
/// ed25519-dalek.
#[derive(Clone, Copy, Debug, Default)]
pub struct NativeCrypto;

impl Crypto for NativeCrypto {
    fn ecrecover(
        &self,
        hash: &[u8; 32],
        signature: &[u8; 64],
        v: u8,
        malleability_flag: bool,
    ) -> Option<[u8; 64]> {
        // Recovery as libsecp256k1 computes it, `r⁻¹·(s·R − z·G)`, with nothing checked
        // beyond what NEAR checks (k256's own `recover_from_prehash` also verifies the
        // signature, which refuses the high s NEAR accepts without the flag).
        let scalar = |b: &[u8]| {
            Option::<Scalar>::from(Scalar::from_repr(<[u8; 32]>::try_from(b).ok()?.into()))
                .filter(|s| !bool::from(s.is_zero()))
        };
        let (r, s) = (scalar(&signature[..32])?, scalar(&signature[32..])?);
        if malleability_flag && bool::from(s.is_high()) {
            return None;
        }
        if v > 1 {
            return None; // R's X is r + n: never needed here
        }
        let mut compressed = [0u8; 33];
        compressed[0] = 2 + v;
        compressed[1..].copy_from_slice(&signature[..32]);
        let big_r = Option::<AffinePoint>::from(AffinePoint::from_bytes(&compressed.into()))?;
        let z = <Scalar as Reduce<U256>>::reduce_bytes(&(*hash).into());
        let r_inv = Option::<Scalar>::from(r.invert())?;
        let q = (ProjectivePoint::from(big_r) * s - ProjectivePoint::GENERATOR * z) * r_inv;
        if bool::from(q.is_identity()) {
            return None;
        }
        q.to_affine().to_encoded_point(false).as_bytes()[1..]
            .try_into()
            .ok()
    }

    fn ed25519_verify(&self, signature: &[u8; 64], message: &[u8], public_key: &[u8; 32]) -> bool {
        ed25519_dalek::VerifyingKey::from_bytes(public_key)
            .and_then(|k| {
                k.verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
            })
            .is_ok()
    }
}
