//! NEAR's key derivation, bit for bit (docs/design.md §4.1).
//!
//! ```text
//! h = SHA3-256("near-mpc-recovery v0.1.0 epsilon derivation:" ‖ predecessor ‖ "," ‖ path)
//! secp256k1: ε = h as a big-endian integer, refused when ≥ n;  derived = root + ε·G
//! ed25519:   ε = h as a little-endian integer, reduced mod ℓ;  derived = root + ε·B
//! ```
//!
//! The same tweak ε is what the threshold protocols add inside signing (to every key share for
//! FROST, to every σ share through k for ECDSA presignatures), so that nobody ever reconstructs
//! the derived secret.

use k256::elliptic_curve::group::prime::PrimeCurveAffine;
use k256::elliptic_curve::PrimeField;
use sha3::{Digest, Sha3_256};

use crate::ids::Curve;
use crate::keys::NearPublicKey;

/// Hashed in front of every derivation message.
pub const DERIVATION_PREFIX: &str = "near-mpc-recovery v0.1.0 epsilon derivation:";

/// Why a key could not be derived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeriveError {
    /// Probability 2^-128: the hash is not a valid secp256k1 scalar. NEAR refuses it too.
    #[error("derivation hash is not a valid secp256k1 scalar; choose another path")]
    TweakOutOfRange,
    /// Probability 2^-256: root + ε·G is the point at infinity.
    #[error("derived key is the point at infinity; choose another path")]
    Identity,
}

/// The tweak ε for one (predecessor, path) pair, on either curve.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Tweak {
    Secp256k1(k256::Scalar),
    Ed25519(curve25519_dalek::Scalar),
}

/// SHA3-256 of the derivation message.
pub fn derivation_hash(predecessor: &str, path: &str) -> [u8; 32] {
    let mut hasher = Sha3_256::new();
    hasher.update(DERIVATION_PREFIX.as_bytes());
    hasher.update(predecessor.as_bytes());
    hasher.update(b",");
    hasher.update(path.as_bytes());
    hasher.finalize().into()
}

/// ε on secp256k1: the hash read big-endian, which must be below the group order.
pub fn secp256k1_tweak(predecessor: &str, path: &str) -> Result<k256::Scalar, DeriveError> {
    let h = derivation_hash(predecessor, path);
    Option::from(k256::Scalar::from_repr(h.into())).ok_or(DeriveError::TweakOutOfRange)
}

/// ε on ed25519: the hash read little-endian and reduced mod ℓ.
pub fn ed25519_tweak(predecessor: &str, path: &str) -> curve25519_dalek::Scalar {
    curve25519_dalek::Scalar::from_bytes_mod_order(derivation_hash(predecessor, path))
}

/// ε for the given curve.
pub fn tweak(curve: Curve, predecessor: &str, path: &str) -> Result<Tweak, DeriveError> {
    Ok(match curve {
        Curve::Secp256k1 => Tweak::Secp256k1(secp256k1_tweak(predecessor, path)?),
        Curve::Ed25519 => Tweak::Ed25519(ed25519_tweak(predecessor, path)),
    })
}

/// `root + ε·G` on secp256k1.
pub fn derive_secp256k1(
    root: &k256::AffinePoint,
    tweak: &k256::Scalar,
) -> Result<k256::AffinePoint, DeriveError> {
    let derived =
        (k256::ProjectivePoint::from(*root) + k256::ProjectivePoint::GENERATOR * tweak).to_affine();
    if bool::from(derived.is_identity()) {
        return Err(DeriveError::Identity);
    }
    Ok(derived)
}

/// `root + ε·B` on ed25519. `ε·B` uses the base point's precomputed table (a static: several
/// times fewer operations than a variable-base multiplication, which matters in the
/// contract's wasm, where every operation costs gas).
pub fn derive_ed25519(
    root: &curve25519_dalek::EdwardsPoint,
    tweak: &curve25519_dalek::Scalar,
) -> curve25519_dalek::EdwardsPoint {
    root + curve25519_dalek::EdwardsPoint::mul_base(tweak)
}

/// The key `predecessor` signs with under `path`, given the domain's root key.
pub fn derive_public_key(
    root: &NearPublicKey,
    predecessor: &str,
    path: &str,
) -> Result<NearPublicKey, DeriveError> {
    Ok(match root {
        NearPublicKey::Secp256k1(p) => {
            NearPublicKey::Secp256k1(derive_secp256k1(p, &secp256k1_tweak(predecessor, path)?)?)
        }
        NearPublicKey::Ed25519(p) => {
            NearPublicKey::Ed25519(derive_ed25519(p, &ed25519_tweak(predecessor, path)))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
    use proptest::prelude::*;

    // Captured from NEAR's public testnet signer (docs/design.md §4.1).
    const SECP_ROOT: &str = "secp256k1:4NfTiv3UsGahebgTaHyD9vF8KYKMBnfd6kh94mK6xv8fGBiJB8TBtFMP5WWXz6B89Ac1fbpzPwAvoyQebemHFwx3";
    const SECP_DERIVED: &str = "secp256k1:3b3GS4kaAPvzxFUEYKiMvXeuBzttMZosggT3iAAbyZzAfQc1Dn4eLrDshNGGeKZyfSK7xegjPSq553NXHisMLiyA";
    const ED_ROOT: &str = "ed25519:6vSEtQxrQj6txUMh33WC4ERyCWmNMRTdufDWAaDY3Un2";
    const ED_DERIVED: &str = "ed25519:49KFz8zeqrPcaSKqLCXtY79zW98ZW6Nd7W8vSsC7FdKJ";

    #[test]
    fn hash_vector() {
        let mut h = Sha3_256::new();
        h.update(format!("{DERIVATION_PREFIX}dwefqwg,frwewegwegweg"));
        assert_eq!(
            hex::encode(h.finalize()),
            "ad2d6fc1f445a1b43830415e7e6e3d03cd077673047848a085f130c24f53ee00"
        );
        assert_eq!(
            hex::encode(derivation_hash("dwefqwg", "frwewegwegweg")),
            "ad2d6fc1f445a1b43830415e7e6e3d03cd077673047848a085f130c24f53ee00"
        );
    }

    #[test]
    fn near_testnet_vectors() {
        for (root, derived) in [(SECP_ROOT, SECP_DERIVED), (ED_ROOT, ED_DERIVED)] {
            let root: NearPublicKey = root.parse().unwrap();
            let got = derive_public_key(&root, "derivation-test.testnet", "unit-test").unwrap();
            assert_eq!(got.to_string(), derived);
        }
    }

    #[test]
    fn different_accounts_and_paths_differ() {
        let root: NearPublicKey = SECP_ROOT.parse().unwrap();
        let a = derive_public_key(&root, "alice.near", "ethereum-1").unwrap();
        let b = derive_public_key(&root, "bob.near", "ethereum-1").unwrap();
        let c = derive_public_key(&root, "alice.near", "ethereum-2").unwrap();
        assert_ne!(a, b);
        assert_ne!(a, c);
        // The separator is part of the message: ("a,b", "c") and ("a", "b,c") collide by
        // design in NEAR's scheme; account ids cannot contain a comma, so this is harmless.
        assert_eq!(derivation_hash("a,b", "c"), derivation_hash("a", "b,c"));
    }

    proptest! {
        #[test]
        fn derived_key_is_root_plus_tweak_times_generator(
            account in "[a-z0-9_.-]{2,64}", path in "\\PC{0,64}", seed in 1u64..u64::MAX
        ) {
            // With a known root secret the derived secret is root + ε: check both curves.
            let x = k256::Scalar::from(seed);
            let root = (k256::ProjectivePoint::GENERATOR * x).to_affine();
            let eps = secp256k1_tweak(&account, &path).unwrap();
            let derived = derive_secp256k1(&root, &eps).unwrap();
            prop_assert_eq!(derived, (k256::ProjectivePoint::GENERATOR * (x + eps)).to_affine());

            let y = curve25519_dalek::Scalar::from(seed);
            let root = ED25519_BASEPOINT_POINT * y;
            let eps = ed25519_tweak(&account, &path);
            prop_assert_eq!(derive_ed25519(&root, &eps), ED25519_BASEPOINT_POINT * (y + eps));
        }
    }
}
