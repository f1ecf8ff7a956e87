//! The key a Bip340 domain's signatures verify under: the BIP341 key-path output key of the
//! derived key, with no script tree (BIP86).
//!
//! ```text
//! P = the derived key (docs/design.md §4.1), taken with an even Y (BIP340 lift_x of its X)
//! t = SHA256(SHA256("TapTweak") ‖ SHA256("TapTweak") ‖ x(P)) as an integer; refused when ≥ n
//! Q = P + t·G;  signatures verify under x(Q), the key a P2TR output commits to
//! ```
//!
//! So a Bip340 signature spends the P2TR output of the derived key by key path, which is the
//! point of the domain. `derived_public_key` still names P (the internal key, from which
//! wallets compute the address); the signing network adds `t` inside FROST exactly as it adds
//! ε (frost-secp256k1-tr's `Tweak`), and the contract checks signatures under `Q`.
//!
//! Caveat: a Bip340 signature therefore does *not* verify under `x(P)`. Uses of BIP340 outside
//! Taproot (e.g. Nostr) must publish `x(Q)` as their key; this module computes it.

use k256::elliptic_curve::point::AffineCoordinates;
use k256::elliptic_curve::PrimeField;
use k256::{AffinePoint, ProjectivePoint, Scalar};
use sha2::{Digest, Sha256};

use crate::derivation::DeriveError;

/// `t = H_TapTweak(x(P))` for a key path with no script tree.
pub fn tap_tweak(internal: &AffinePoint) -> Result<Scalar, DeriveError> {
    let tag = Sha256::digest(b"TapTweak");
    let hash: [u8; 32] = Sha256::new()
        .chain_update(tag)
        .chain_update(tag)
        .chain_update(internal.x())
        .finalize()
        .into();
    Option::from(Scalar::from_repr(hash.into())).ok_or(DeriveError::TweakOutOfRange)
}

/// `Q = lift_x(x(P)) + t·G`: the output key, with whichever Y it has (only its X is used).
pub fn output_key(internal: &AffinePoint) -> Result<AffinePoint, DeriveError> {
    let t = tap_tweak(internal)?;
    let even = if bool::from(internal.y_is_odd()) {
        -ProjectivePoint::from(*internal)
    } else {
        ProjectivePoint::from(*internal)
    };
    let q = (even + ProjectivePoint::GENERATOR * t).to_affine();
    if q == AffinePoint::IDENTITY {
        return Err(DeriveError::Identity);
    }
    Ok(q)
}

/// The secret of `Q` from the secret `d` of `P = d·G`: `±d + t`, with `d` negated when `P`
/// has an odd Y (what the signing network computes on its shares). For tests and local keys.
pub fn output_secret(d: &Scalar) -> Result<Scalar, DeriveError> {
    let internal = (ProjectivePoint::GENERATOR * d).to_affine();
    let even = if bool::from(internal.y_is_odd()) {
        -*d
    } else {
        *d
    };
    Ok(even + tap_tweak(&internal)?)
}

/// `x(Q)`, the 32 bytes a P2TR output and a BIP340 verifier take.
pub fn output_key_x(internal: &AffinePoint) -> Result<[u8; 32], DeriveError> {
    Ok(output_key(internal)?.x().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::elliptic_curve::sec1::FromEncodedPoint;
    use k256::EncodedPoint;
    use proptest::prelude::*;

    fn lift_x(hex_x: &str) -> AffinePoint {
        let mut sec1 = vec![2u8];
        sec1.extend(hex::decode(hex_x).unwrap());
        let encoded = EncodedPoint::from_bytes(&sec1).unwrap();
        AffinePoint::from_encoded_point(&encoded).unwrap()
    }

    /// BIP86's test vectors: internal key → output key of the first three receive addresses
    /// of its account 0 (m/86'/0'/0'/0/0, /0/1) and the first change address (/1/0).
    #[test]
    fn bip86_vectors() {
        for (internal, output) in [
            (
                "cc8a4bc64d897bddc5fbc2f670f7a8ba0b386779106cf1223c6fc5d7cd6fc115",
                "a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c",
            ),
            (
                "83dfe85a3151d2517290da461fe2815591ef69f2b18a2ce63f01697a8b313145",
                "a82f29944d65b86ae6b5e5cc75e294ead6c59391a1edc5e016e3498c67fc7bbb",
            ),
            (
                "399f1b2f4393f29a18c937859c5dd8a77350103157eb880f02e8c08214277cef",
                "882d74e5d0572d5a816cef0041a96b6c1de832f6f9676d9605c44d5e9a97d3dc",
            ),
        ] {
            assert_eq!(
                hex::encode(output_key_x(&lift_x(internal)).unwrap()),
                output
            );
        }
    }

    proptest! {
        /// The secret for `Q` is `±d + t` (negated when `d·G` has an odd Y): what the
        /// signing network computes from its shares.
        #[test]
        fn output_key_matches_the_tweaked_secret(seed in any::<[u8; 32]>()) {
            let d = Option::<Scalar>::from(Scalar::from_repr(seed.into())).unwrap_or(Scalar::ONE);
            prop_assume!(d != Scalar::ZERO);
            let p = (ProjectivePoint::GENERATOR * d).to_affine();
            let q = (ProjectivePoint::GENERATOR * output_secret(&d).unwrap()).to_affine();
            prop_assert_eq!(q.x(), output_key(&p).unwrap().x());
            // P and −P have the same X, hence the same output key.
            let neg = (-ProjectivePoint::from(p)).to_affine();
            prop_assert_eq!(output_key_x(&neg).unwrap(), output_key_x(&p).unwrap());
        }
    }
}
