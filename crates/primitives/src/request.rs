//! Arguments of the signer contract's `sign` (docs/design.md §4.3), in both forms NEAR accepts:
//!
//! ```json
//! {"request": {"path": "ethereum-1", "payload_v2": {"Ecdsa": "<64 hex>"}, "domain_id": 0}}
//! {"request": {"path": "ethereum-1", "payload": [32 bytes], "key_version": 0}}
//! ```
//!
//! [`SignRequestArgs::normalize`] turns either form into one [`SignRequest`]; the scheme check
//! ([`Payload::check_for`]) needs the domain's scheme, which only the contract knows.
//! Schnorr domains (Ed25519, and this project's Bip340) take the message itself in the `Eddsa`
//! form; ECDSA domains take a 32-byte hash that must be a valid non-zero secp256k1 scalar.

use k256::elliptic_curve::PrimeField;
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::ids::{DomainId, SignatureScheme};

/// Smallest and largest message a Schnorr domain signs (NEAR's bounds).
pub const EDDSA_PAYLOAD_MIN: usize = 32;
pub const EDDSA_PAYLOAD_MAX: usize = 1232;

/// Why `sign` arguments were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("request has neither `payload_v2` nor `payload`")]
    MissingPayload,
    #[error("request has both `payload_v2` and the legacy `payload`; give one")]
    BothPayloads,
    #[error("request has neither `domain_id` nor `key_version`")]
    MissingDomain,
    #[error("request has both `domain_id` and the legacy `key_version`; give one")]
    BothDomains,
    #[error("ECDSA payload must be 32 bytes, got {0}")]
    EcdsaLength(usize),
    #[error("ECDSA payload must be a non-zero integer below the secp256k1 group order")]
    EcdsaNotScalar,
    #[error("EdDSA payload must be {EDDSA_PAYLOAD_MIN}..={EDDSA_PAYLOAD_MAX} bytes, got {0}")]
    EddsaLength(usize),
    #[error("a {payload} payload cannot be signed by a {scheme} domain")]
    SchemeMismatch {
        payload: &'static str,
        scheme: SignatureScheme,
    },
}

/// The `{"request": ...}` wrapper of `sign`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignArgs {
    pub request: SignRequestArgs,
}

/// `sign`'s request as it arrives: new or legacy form, not yet checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignRequestArgs {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_v2: Option<Payload>,
    /// Legacy: a 32-byte ECDSA hash as a JSON array of numbers.
    #[serde(default, rename = "payload", skip_serializing_if = "Option::is_none")]
    pub legacy_payload: Option<[u8; 32]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<DomainId>,
    /// Legacy: key version `k` means domain `k` (so 0 is the first ECDSA domain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_version: Option<u32>,
}

/// A request in its one normalized form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(
    feature = "borsh",
    derive(borsh::BorshSerialize, borsh::BorshDeserialize)
)]
pub struct SignRequest {
    pub path: String,
    pub payload: Payload,
    pub domain_id: DomainId,
}

impl SignRequestArgs {
    /// One form, one payload, one domain; payload bytes checked as far as they can be without
    /// knowing the domain's scheme.
    pub fn normalize(self) -> Result<SignRequest, RequestError> {
        let payload = match (self.payload_v2, self.legacy_payload) {
            (Some(p), None) => p,
            (None, Some(bytes)) => Payload::Ecdsa(bytes.to_vec()),
            (None, None) => return Err(RequestError::MissingPayload),
            (Some(_), Some(_)) => return Err(RequestError::BothPayloads),
        };
        let domain_id = match (self.domain_id, self.key_version) {
            (Some(d), None) => d,
            (None, Some(v)) => DomainId(v.into()),
            (None, None) => return Err(RequestError::MissingDomain),
            (Some(_), Some(_)) => return Err(RequestError::BothDomains),
        };
        payload.check_shape()?;
        Ok(SignRequest {
            path: self.path,
            payload,
            domain_id,
        })
    }
}

/// What to sign: a hash for ECDSA, the message itself for Schnorr schemes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(
    feature = "borsh",
    derive(borsh::BorshSerialize, borsh::BorshDeserialize)
)]
pub enum Payload {
    Ecdsa(#[serde(with = "hex_bytes")] Vec<u8>),
    Eddsa(#[serde(with = "hex_bytes")] Vec<u8>),
}

impl Payload {
    /// The payload bytes, whatever the form.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Ecdsa(b) | Self::Eddsa(b) => b,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Ecdsa(_) => "Ecdsa",
            Self::Eddsa(_) => "Eddsa",
        }
    }

    /// Length and range rules that hold whatever the domain.
    pub fn check_shape(&self) -> Result<(), RequestError> {
        match self {
            Self::Ecdsa(b) => ecdsa_scalar(b).map(|_| ()),
            Self::Eddsa(b) if (EDDSA_PAYLOAD_MIN..=EDDSA_PAYLOAD_MAX).contains(&b.len()) => Ok(()),
            Self::Eddsa(b) => Err(RequestError::EddsaLength(b.len())),
        }
    }

    /// Whether a domain of `scheme` can sign this payload.
    pub fn check_for(&self, scheme: SignatureScheme) -> Result<(), RequestError> {
        self.check_shape()?;
        match (self, scheme) {
            (Self::Ecdsa(_), s) if s.is_ecdsa() => Ok(()),
            (Self::Eddsa(_), SignatureScheme::Ed25519 | SignatureScheme::Bip340) => Ok(()),
            _ => Err(RequestError::SchemeMismatch {
                payload: self.kind(),
                scheme,
            }),
        }
    }

    /// The ECDSA hash as a scalar, for an `Ecdsa` payload.
    pub fn ecdsa_scalar(&self) -> Result<k256::Scalar, RequestError> {
        match self {
            Self::Ecdsa(b) => ecdsa_scalar(b),
            Self::Eddsa(_) => Err(RequestError::SchemeMismatch {
                payload: "Eddsa",
                scheme: SignatureScheme::Secp256k1,
            }),
        }
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.kind(), hex::encode(self.as_bytes()))
    }
}

/// A 32-byte big-endian hash as a non-zero scalar below n.
pub fn ecdsa_scalar(bytes: &[u8]) -> Result<k256::Scalar, RequestError> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| RequestError::EcdsaLength(bytes.len()))?;
    let scalar: Option<k256::Scalar> = k256::Scalar::from_repr(arr.into()).into();
    match scalar {
        Some(s) if !bool::from(s.is_zero()) => Ok(s),
        _ => Err(RequestError::EcdsaNotScalar),
    }
}

/// Hex strings for byte payloads: lower case out, either case in.
pub(crate) mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<SignRequest, String> {
        let args: SignArgs = serde_json::from_value(v).map_err(|e| e.to_string())?;
        args.request.normalize().map_err(|e| e.to_string())
    }

    const HASH: &str = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";

    #[test]
    fn new_and_legacy_forms_agree() {
        let new = parse(json!({"request": {"path": "ethereum-1",
            "payload_v2": {"Ecdsa": HASH}, "domain_id": 0}}))
        .unwrap();
        let bytes = hex::decode(HASH).unwrap();
        let legacy = parse(json!({"request": {"path": "ethereum-1",
            "payload": bytes, "key_version": 0}}))
        .unwrap();
        assert_eq!(new, legacy);
        assert_eq!(new.domain_id, DomainId(0));
        // Upper-case hex is accepted too.
        let upper = parse(json!({"request": {"path": "ethereum-1",
            "payload_v2": {"Ecdsa": HASH.to_uppercase()}, "domain_id": 0}}))
        .unwrap();
        assert_eq!(upper, new);
    }

    #[test]
    fn refusals() {
        let n = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
        let zero = "00".repeat(32);
        let cases = [
            (json!({"request": {"path": "p", "domain_id": 0}}), "neither"),
            (
                json!({"request": {"path": "p", "payload_v2": {"Ecdsa": HASH},
                "payload": vec![0u8; 32], "domain_id": 0}}),
                "both",
            ),
            (
                json!({"request": {"path": "p", "payload_v2": {"Ecdsa": HASH}}}),
                "neither",
            ),
            (
                json!({"request": {"path": "p", "payload_v2": {"Ecdsa": HASH},
                "domain_id": 0, "key_version": 0}}),
                "both",
            ),
            (
                json!({"request": {"path": "p", "payload_v2": {"Ecdsa": n}, "domain_id": 0}}),
                "group order",
            ),
            (
                json!({"request": {"path": "p", "payload_v2": {"Ecdsa": zero}, "domain_id": 0}}),
                "non-zero",
            ),
            (
                json!({"request": {"path": "p", "payload_v2": {"Ecdsa": "abcd"}, "domain_id": 0}}),
                "32 bytes",
            ),
            (
                json!({"request": {"path": "p", "payload_v2": {"Eddsa": "ab"}, "domain_id": 0}}),
                "32..=1232",
            ),
            (
                json!({"request": {"path": "p", "payload_v2": {"Eddsa": "ab".repeat(1233)},
                "domain_id": 0}}),
                "32..=1232",
            ),
            (
                json!({"request": {"path": "p", "payload_v2": {"Ecdsa": "zz"}, "domain_id": 0}}),
                "Invalid character",
            ),
            (
                json!({"request": {"path": "p", "payload_v2": {"Rsa": HASH}, "domain_id": 0}}),
                "unknown variant",
            ),
            (
                json!({"request": {"path": "p", "payload_v2": {"Ecdsa": HASH}, "domain_id": 0,
                "extra": 1}}),
                "unknown field",
            ),
        ];
        for (input, want) in cases {
            let err = parse(input.clone()).unwrap_err();
            assert!(err.contains(want), "{input}: {err}");
        }
    }

    #[test]
    fn scheme_checks() {
        let ecdsa = Payload::Ecdsa(hex::decode(HASH).unwrap());
        let eddsa = Payload::Eddsa(vec![7; 40]);
        assert!(ecdsa.check_for(SignatureScheme::Secp256k1).is_ok());
        assert!(ecdsa.check_for(SignatureScheme::V2Secp256k1).is_ok());
        assert!(eddsa.check_for(SignatureScheme::V2Secp256k1).is_err());
        assert!(ecdsa.check_for(SignatureScheme::Ed25519).is_err());
        assert!(ecdsa.check_for(SignatureScheme::Bip340).is_err());
        assert!(eddsa.check_for(SignatureScheme::Ed25519).is_ok());
        assert!(eddsa.check_for(SignatureScheme::Bip340).is_ok());
        assert!(eddsa.check_for(SignatureScheme::Secp256k1).is_err());
    }

    #[test]
    fn serializes_as_near_does() {
        let req = SignArgs {
            request: SignRequestArgs {
                path: "ethereum-1".into(),
                payload_v2: Some(Payload::Ecdsa(hex::decode(HASH).unwrap())),
                legacy_payload: None,
                domain_id: Some(DomainId(0)),
                key_version: None,
            },
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"request": {"path": "ethereum-1", "payload_v2": {"Ecdsa": HASH},
                "domain_id": 0}})
        );
    }

    proptest! {
        #[test]
        fn json_round_trip(path in "\\PC{0,40}", bytes in proptest::collection::vec(any::<u8>(), 32..200),
                           domain in 0u64..10, ecdsa in any::<bool>()) {
            let payload = if ecdsa { Payload::Ecdsa(bytes[..32].to_vec()) } else { Payload::Eddsa(bytes) };
            let args = SignArgs { request: SignRequestArgs {
                path, payload_v2: Some(payload), legacy_payload: None,
                domain_id: Some(DomainId(domain)), key_version: None } };
            let json = serde_json::to_string(&args).unwrap();
            prop_assert_eq!(serde_json::from_str::<SignArgs>(&json).unwrap(), args);
        }

        #[test]
        fn arbitrary_json_never_panics(s in "\\PC{0,200}") {
            if let Ok(a) = serde_json::from_str::<SignArgs>(&s) { let _ = a.request.normalize(); }
        }
    }
}
