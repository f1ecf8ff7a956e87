//! Test-only helpers shared by the contract, chain and node tests.
//!
//! [`Keys`] holds known root secrets for the three schemes and signs exactly as the MPC network
//! would under a derived key (root + ε), so tests get real signatures without running the
//! threshold protocols. Never use these keys outside tests.

use ed25519_dalek::hazmat::{raw_sign, ExpandedSecretKey};
use k256::ecdsa::signature::hazmat::PrehashSigner;
use primitives::derivation::{ed25519_tweak, secp256k1_tweak};
use primitives::response::{EcdsaSignature, SignatureResponse};
use primitives::{NearPublicKey, SignatureScheme};

/// Every scheme, in the order devnets add their domains.
pub const SCHEMES: [SignatureScheme; 3] = [
    SignatureScheme::Secp256k1,
    SignatureScheme::Ed25519,
    SignatureScheme::Bip340,
];

/// Known root secrets, one per scheme.
pub struct Keys {
    secp: k256::Scalar,
    ed: curve25519_dalek::Scalar,
    bip: k256::Scalar,
}

impl Keys {
    /// Distinct, deterministic keys for each seed.
    pub fn new(seed: u64) -> Self {
        Self {
            secp: k256::Scalar::from(seed * 7 + 1),
            ed: curve25519_dalek::Scalar::from(seed * 11 + 2),
            bip: k256::Scalar::from(seed * 13 + 3),
        }
    }

    /// The root public key of a scheme's domain.
    pub fn public(&self, scheme: SignatureScheme) -> NearPublicKey {
        let secp = |x: k256::Scalar| {
            NearPublicKey::Secp256k1((k256::ProjectivePoint::GENERATOR * x).to_affine())
        };
        match scheme {
            SignatureScheme::Secp256k1 => secp(self.secp),
            SignatureScheme::Bip340 => secp(self.bip),
            SignatureScheme::Ed25519 => NearPublicKey::Ed25519(
                curve25519_dalek::constants::ED25519_BASEPOINT_POINT * self.ed,
            ),
        }
    }

    /// The signature the network would return for `message` from `predecessor` under `path`.
    pub fn sign(
        &self,
        scheme: SignatureScheme,
        predecessor: &str,
        path: &str,
        message: &[u8],
    ) -> SignatureResponse {
        match scheme {
            SignatureScheme::Secp256k1 => {
                let d = self.secp + secp256k1_tweak(predecessor, path).expect("tweak in range");
                let key = k256::ecdsa::SigningKey::from_bytes(&d.to_bytes()).expect("non-zero");
                let (sig, rec): (k256::ecdsa::Signature, k256::ecdsa::RecoveryId) =
                    key.sign_prehash(message).expect("32-byte hash");
                let mut sec1 = [0u8; 33];
                sec1[0] = 2 + u8::from(rec.is_y_odd());
                sec1[1..].copy_from_slice(&sig.r().to_bytes());
                let Ok(NearPublicKey::Secp256k1(big_r)) = NearPublicKey::secp256k1_from_sec1(&sec1)
                else {
                    panic!("R is a curve point")
                };
                SignatureResponse::Secp256k1(EcdsaSignature {
                    big_r,
                    s: *sig.s(),
                    recovery_id: rec.to_byte(),
                })
            }
            SignatureScheme::Ed25519 => {
                let esk = ExpandedSecretKey {
                    scalar: self.ed + ed25519_tweak(predecessor, path),
                    hash_prefix: [9; 32],
                };
                let vk = ed25519_dalek::VerifyingKey::from(&esk);
                SignatureResponse::Ed25519 {
                    signature: raw_sign::<sha2::Sha512>(&esk, message, &vk).to_bytes(),
                }
            }
            SignatureScheme::Bip340 => {
                let d = self.bip + secp256k1_tweak(predecessor, path).expect("tweak in range");
                let key = k256::schnorr::SigningKey::from_bytes(&d.to_bytes()).expect("non-zero");
                SignatureResponse::Bip340 {
                    signature: key.sign_raw(message, &[5; 32]).expect("signs").to_bytes(),
                }
            }
        }
    }
}

/// A payload fit for a scheme: a 32-byte hash for ECDSA, a 40-byte message for Schnorr.
pub fn payload_bytes(scheme: SignatureScheme, fill: u8) -> Vec<u8> {
    match scheme {
        SignatureScheme::Secp256k1 => vec![fill; 32],
        _ => vec![fill; 40],
    }
}

/// The `request` object of `sign` for that payload, in the new form.
pub fn sign_request(
    domain: u64,
    scheme: SignatureScheme,
    path: &str,
    fill: u8,
) -> serde_json::Value {
    let kind = if scheme == SignatureScheme::Secp256k1 {
        "Ecdsa"
    } else {
        "Eddsa"
    };
    serde_json::json!({
        "path": path,
        "payload_v2": {kind: hex::encode(payload_bytes(scheme, fill))},
        "domain_id": domain
    })
}
