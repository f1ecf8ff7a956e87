//! The result of `sign` (docs/design.md §4.3), one shape per scheme:
//!
//! ```json
//! {"scheme": "Secp256k1", "big_r": {"affine_point": "<66 hex>"}, "s": {"scalar": "<64 hex>"},
//!  "recovery_id": 0}
//! {"scheme": "Ed25519", "signature": [64 bytes]}
//! {"scheme": "Bip340", "signature": "<128 hex>"}
//! ```
//!
//! NEAR's signer writes the secp256k1 hex in lower case since its 3.6.0 release (upper case,
//! k256's serde form, before); we write lower case and accept either. Parsing validates: R must be on the curve, s a scalar below n.

use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::elliptic_curve::PrimeField;
use k256::{AffinePoint, Scalar};
use serde::{Deserialize, Serialize};

use crate::keys::NearPublicKey;

/// A signature as the contract returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scheme")]
pub enum SignatureResponse {
    Secp256k1(EcdsaSignature),
    Ed25519 {
        #[serde(with = "byte_array")]
        signature: [u8; 64],
    },
    Bip340 {
        #[serde(with = "hex64")]
        signature: [u8; 64],
    },
}

impl SignatureResponse {
    /// The name of its form, as its JSON tags it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Secp256k1(_) => "Secp256k1",
            Self::Ed25519 { .. } => "Ed25519",
            Self::Bip340 { .. } => "Bip340",
        }
    }

    /// The x coordinate (ECDSA, BIP-340) or encoding (Ed25519) of the signature's nonce
    /// commitment R. Two signatures of different messages with the same R mean a nonce (a
    /// presignature, a FROST nonce pair) was used twice — which gives away the key — so a
    /// load test or a fault campaign counts repeats of this value across every answer it
    /// gets: a check of the network from the outside, with no access to its stores.
    pub fn nonce_commitment(&self) -> [u8; 32] {
        let bytes = match self {
            Self::Secp256k1(sig) => sig.to_bytes(),
            Self::Ed25519 { signature } | Self::Bip340 { signature } => *signature,
        };
        bytes[..32].try_into().expect("64-byte signatures")
    }
}

/// An ECDSA signature with the whole nonce point, as cait-sith and NEAR return it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "EcdsaWire", into = "EcdsaWire")]
pub struct EcdsaSignature {
    pub big_r: AffinePoint,
    pub s: Scalar,
    /// Bit 0: parity of R's y; bit 1: whether R's x overflowed n.
    pub recovery_id: u8,
}

impl EcdsaSignature {
    /// The 64-byte `r ‖ s` form most chains use.
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        let encoded = self.big_r.to_encoded_point(true);
        out[..32].copy_from_slice(&encoded.as_bytes()[1..]);
        out[32..].copy_from_slice(&self.s.to_repr());
        out
    }

    /// As a k256 signature (r = x(R) mod n), for verification and recovery.
    pub fn to_k256(&self) -> Result<k256::ecdsa::Signature, k256::ecdsa::Error> {
        k256::ecdsa::Signature::from_slice(&self.to_bytes())
    }

    /// The recovery id as k256 wants it.
    pub fn k256_recovery_id(&self) -> Option<k256::ecdsa::RecoveryId> {
        k256::ecdsa::RecoveryId::from_byte(self.recovery_id)
    }
}

#[derive(Serialize, Deserialize)]
struct EcdsaWire {
    big_r: AffinePointWire,
    s: ScalarWire,
    recovery_id: u8,
}

#[derive(Serialize, Deserialize)]
struct AffinePointWire {
    affine_point: String,
}

#[derive(Serialize, Deserialize)]
struct ScalarWire {
    scalar: String,
}

impl From<EcdsaSignature> for EcdsaWire {
    fn from(sig: EcdsaSignature) -> Self {
        Self {
            big_r: AffinePointWire {
                affine_point: hex::encode(sig.big_r.to_encoded_point(true).as_bytes()),
            },
            s: ScalarWire {
                scalar: hex::encode(sig.s.to_repr()),
            },
            recovery_id: sig.recovery_id,
        }
    }
}

impl TryFrom<EcdsaWire> for EcdsaSignature {
    type Error = String;

    fn try_from(w: EcdsaWire) -> Result<Self, String> {
        let r_bytes = hex::decode(&w.big_r.affine_point).map_err(|e| format!("big_r: {e}"))?;
        if r_bytes.len() != 33 {
            return Err(format!(
                "big_r must be a 33-byte compressed point, got {} bytes",
                r_bytes.len()
            ));
        }
        let big_r = match NearPublicKey::secp256k1_from_sec1(&r_bytes) {
            Ok(NearPublicKey::Secp256k1(p)) => p,
            _ => return Err("big_r is not a point on secp256k1".into()),
        };
        let s_bytes: [u8; 32] = hex::decode(&w.s.scalar)
            .map_err(|e| format!("s: {e}"))?
            .try_into()
            .map_err(|_| "s must be 32 bytes".to_string())?;
        let s = Option::<Scalar>::from(Scalar::from_repr(s_bytes.into()))
            .ok_or("s is not below the group order")?;
        if w.recovery_id > 3 {
            return Err(format!("recovery_id must be 0..=3, got {}", w.recovery_id));
        }
        Ok(Self {
            big_r,
            s,
            recovery_id: w.recovery_id,
        })
    }
}

/// `[u8; 64]` as a JSON array of numbers (serde derives arrays only up to 32).
mod byte_array {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(bytes.iter())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let v = Vec::<u8>::deserialize(d)?;
        let len = v.len();
        v.try_into()
            .map_err(|_| serde::de::Error::custom(format!("signature must be 64 bytes, got {len}")))
    }
}

/// `[u8; 64]` as 128 hex characters.
mod hex64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let v = hex::decode(String::deserialize(d)?).map_err(serde::de::Error::custom)?;
        let len = v.len();
        v.try_into()
            .map_err(|_| serde::de::Error::custom(format!("signature must be 64 bytes, got {len}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn sample() -> EcdsaSignature {
        let big_r = (k256::ProjectivePoint::GENERATOR * Scalar::from(5u64)).to_affine();
        EcdsaSignature {
            big_r,
            s: Scalar::from(77u64),
            recovery_id: 1,
        }
    }

    #[test]
    fn secp256k1_shape_is_nears() {
        let v = serde_json::to_value(SignatureResponse::Secp256k1(sample())).unwrap();
        assert_eq!(
            v,
            json!({"scheme": "Secp256k1",
                "big_r": {"affine_point": "022f8bde4d1a07209355b4a7250a5c5128e88b84bddc619ab7cba8d569b240efe4"},
                "s": {"scalar": "000000000000000000000000000000000000000000000000000000000000004d"},
                "recovery_id": 1})
        );
        // Upper case (older NEAR signers) parses to the same signature.
        let upper: SignatureResponse = serde_json::from_str(
            &v.to_string()
                .to_uppercase()
                .replace("SECP256K1", "Secp256k1")
                .replace("SCHEME", "scheme")
                .replace("BIG_R", "big_r")
                .replace("AFFINE_POINT", "affine_point")
                .replace("SCALAR", "scalar")
                .replace("\"S\"", "\"s\"")
                .replace("RECOVERY_ID", "recovery_id"),
        )
        .unwrap();
        assert_eq!(upper, SignatureResponse::Secp256k1(sample()));
    }

    #[test]
    fn schnorr_shapes() {
        let ed = SignatureResponse::Ed25519 { signature: [3; 64] };
        assert_eq!(
            serde_json::to_value(&ed).unwrap(),
            json!({"scheme": "Ed25519", "signature": vec![3u8; 64]})
        );
        let bip = SignatureResponse::Bip340 {
            signature: [0xab; 64],
        };
        assert_eq!(
            serde_json::to_value(&bip).unwrap(),
            json!({"scheme": "Bip340", "signature": "ab".repeat(64)})
        );
    }

    #[test]
    fn the_nonce_commitment_is_r_and_only_r() {
        let sig = sample();
        let x: [u8; 32] = sig.big_r.to_encoded_point(true).as_bytes()[1..]
            .try_into()
            .unwrap();
        assert_eq!(SignatureResponse::Secp256k1(sig).nonce_commitment(), x);
        let other_s = EcdsaSignature {
            s: Scalar::from(78u64),
            ..sig
        };
        assert_eq!(SignatureResponse::Secp256k1(other_s).nonce_commitment(), x);
        let mut bytes = [7u8; 64];
        bytes[32..].fill(9);
        for r in [
            SignatureResponse::Ed25519 { signature: bytes },
            SignatureResponse::Bip340 { signature: bytes },
        ] {
            assert_eq!(r.nonce_commitment(), [7; 32]);
        }
    }

    #[test]
    fn refuses_bad_signatures() {
        let bad = [
            json!({"scheme": "Secp256k1", "big_r": {"affine_point": "02"}, "s": {"scalar": "01"}, "recovery_id": 0}),
            json!({"scheme": "Secp256k1", "big_r": {"affine_point": format!("02{}", "00".repeat(32))},
                "s": {"scalar": "00".repeat(32)}, "recovery_id": 0}),
            json!({"scheme": "Secp256k1",
                "big_r": {"affine_point": "022F8BDE4D1A07209355B4A7250A5C5128E88B84BDDC619AB7CBA8D569B240EFE4"},
                "s": {"scalar": "ff".repeat(32)}, "recovery_id": 0}),
            json!({"scheme": "Secp256k1",
                "big_r": {"affine_point": "022F8BDE4D1A07209355B4A7250A5C5128E88B84BDDC619AB7CBA8D569B240EFE4"},
                "s": {"scalar": "01".repeat(32)}, "recovery_id": 4}),
            json!({"scheme": "Ed25519", "signature": [1, 2, 3]}),
            json!({"scheme": "Bip340", "signature": "abcd"}),
            json!({"scheme": "Rsa", "signature": "abcd"}),
        ];
        for v in bad {
            assert!(
                serde_json::from_value::<SignatureResponse>(v.clone()).is_err(),
                "{v}"
            );
        }
    }

    proptest! {
        #[test]
        fn round_trips(r in 1u64..u64::MAX, s in 1u64..u64::MAX, rec in 0u8..4, bytes in any::<[u8; 32]>()) {
            let big_r = (k256::ProjectivePoint::GENERATOR * Scalar::from(r)).to_affine();
            let mut sig64 = [0u8; 64];
            sig64[..32].copy_from_slice(&bytes);
            for resp in [
                SignatureResponse::Secp256k1(EcdsaSignature { big_r, s: Scalar::from(s), recovery_id: rec }),
                SignatureResponse::Ed25519 { signature: sig64 },
                SignatureResponse::Bip340 { signature: sig64 },
            ] {
                let json = serde_json::to_string(&resp).unwrap();
                prop_assert_eq!(serde_json::from_str::<SignatureResponse>(&json).unwrap(), resp);
            }
        }
    }
}
