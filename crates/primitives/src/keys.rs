//! NEAR public-key strings: `secp256k1:` + base58 of the 64-byte uncompressed point without its
//! 0x04 prefix, `ed25519:` + base58 of the 32-byte compressed point (docs/design.md §4.2).
//!
//! Parsing validates the point: a string that parses always names a usable key. Ed25519
//! encodings must be canonical (the y coordinate below p), so that printing a parsed key gives
//! back the very string that was parsed.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use k256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use k256::{AffinePoint, EncodedPoint};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

use crate::ids::Curve;

/// Why a NEAR key string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("public key must start with `secp256k1:` or `ed25519:`")]
    MissingCurvePrefix,
    #[error("unknown key type `{0}` (expected secp256k1 or ed25519)")]
    UnknownCurve(String),
    #[error("public key is not valid base58: {0}")]
    Base58(String),
    #[error("{curve} public key must be {expected} bytes, got {got}")]
    Length {
        curve: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("{0} public key is not a point on the curve")]
    NotOnCurve(&'static str),
    #[error("ed25519 public key is not canonically encoded")]
    NonCanonical,
}

/// A public key as NEAR writes it. Construct through [`FromStr`] or the typed constructors.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum NearPublicKey {
    Secp256k1(AffinePoint),
    Ed25519(EdwardsPoint),
}

impl NearPublicKey {
    /// The curve of this key.
    pub fn curve(&self) -> Curve {
        match self {
            Self::Secp256k1(_) => Curve::Secp256k1,
            Self::Ed25519(_) => Curve::Ed25519,
        }
    }

    /// A secp256k1 key from its 64-byte `X ‖ Y` form.
    pub fn secp256k1_from_xy(xy: &[u8]) -> Result<Self, KeyError> {
        if xy.len() != 64 {
            return Err(KeyError::Length {
                curve: "secp256k1",
                expected: 64,
                got: xy.len(),
            });
        }
        let encoded = EncodedPoint::from_untagged_bytes(xy.into());
        Option::<AffinePoint>::from(AffinePoint::from_encoded_point(&encoded))
            .map(Self::Secp256k1)
            .ok_or(KeyError::NotOnCurve("secp256k1"))
    }

    /// A secp256k1 key from any SEC1 encoding (33-byte compressed or 65-byte uncompressed).
    pub fn secp256k1_from_sec1(bytes: &[u8]) -> Result<Self, KeyError> {
        let encoded =
            EncodedPoint::from_bytes(bytes).map_err(|_| KeyError::NotOnCurve("secp256k1"))?;
        Option::<AffinePoint>::from(AffinePoint::from_encoded_point(&encoded))
            .map(Self::Secp256k1)
            .ok_or(KeyError::NotOnCurve("secp256k1"))
    }

    /// An ed25519 key from its 32-byte compressed form.
    pub fn ed25519_from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Length {
            curve: "ed25519",
            expected: 32,
            got: bytes.len(),
        })?;
        let point = CompressedEdwardsY(arr)
            .decompress()
            .ok_or(KeyError::NotOnCurve("ed25519"))?;
        if point.compress().0 != arr {
            return Err(KeyError::NonCanonical);
        }
        Ok(Self::Ed25519(point))
    }

    /// The key bytes NEAR base58-encodes: 64 bytes for secp256k1, 32 for ed25519.
    pub fn key_bytes(&self) -> Vec<u8> {
        match self {
            Self::Secp256k1(p) => p.to_encoded_point(false).as_bytes()[1..].to_vec(),
            Self::Ed25519(p) => p.compress().0.to_vec(),
        }
    }

    /// The 33-byte SEC1 compressed form of a secp256k1 key.
    pub fn sec1_compressed(&self) -> Option<[u8; 33]> {
        match self {
            Self::Secp256k1(p) => p.to_encoded_point(true).as_bytes().try_into().ok(),
            Self::Ed25519(_) => None,
        }
    }

    /// The secp256k1 point, if this is a secp256k1 key.
    pub fn as_secp256k1(&self) -> Option<&AffinePoint> {
        match self {
            Self::Secp256k1(p) => Some(p),
            Self::Ed25519(_) => None,
        }
    }

    /// The ed25519 point, if this is an ed25519 key.
    pub fn as_ed25519(&self) -> Option<&EdwardsPoint> {
        match self {
            Self::Ed25519(p) => Some(p),
            Self::Secp256k1(_) => None,
        }
    }
}

impl fmt::Display for NearPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match self {
            Self::Secp256k1(_) => "secp256k1",
            Self::Ed25519(_) => "ed25519",
        };
        write!(
            f,
            "{prefix}:{}",
            bs58::encode(self.key_bytes()).into_string()
        )
    }
}

impl fmt::Debug for NearPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NearPublicKey({self})")
    }
}

impl FromStr for NearPublicKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (curve, data) = s.split_once(':').ok_or(KeyError::MissingCurvePrefix)?;
        let bytes = bs58::decode(data)
            .into_vec()
            .map_err(|e| KeyError::Base58(e.to_string()))?;
        match curve {
            "secp256k1" => Self::secp256k1_from_xy(&bytes),
            "ed25519" => Self::ed25519_from_bytes(&bytes),
            other => Err(KeyError::UnknownCurve(other.chars().take(32).collect())),
        }
    }
}

impl Serialize for NearPublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for NearPublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A public key kept as its NEAR bytes (ed25519: the 32-byte compressed point; secp256k1: the
/// 64-byte `X ‖ Y`), checked when it is made from a [`NearPublicKey`] and not when it is read
/// back. It is for a store that wrote the key itself: the signer contract keeps its
/// participants' and domains' keys this way, because checking every key (a point
/// decompression each, in wasm) whenever a call reads the state cost more than the call.
///
/// Printing and serde give the very string of the [`NearPublicKey`] it came from; parsing
/// checks the point. Its borsh form is [`NearPublicKey`]'s.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "borsh",
    derive(borsh::BorshSerialize, borsh::BorshDeserialize)
)]
pub enum RawPublicKey {
    Ed25519([u8; 32]),
    Secp256k1([u8; 64]),
}

impl RawPublicKey {
    pub fn curve(&self) -> Curve {
        match self {
            Self::Secp256k1(_) => Curve::Secp256k1,
            Self::Ed25519(_) => Curve::Ed25519,
        }
    }

    /// The key as a point: decodes (and checks) it.
    pub fn to_key(&self) -> Result<NearPublicKey, KeyError> {
        match self {
            Self::Secp256k1(b) => NearPublicKey::secp256k1_from_xy(b),
            Self::Ed25519(b) => NearPublicKey::ed25519_from_bytes(b),
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Self::Secp256k1(b) => b,
            Self::Ed25519(b) => b,
        }
    }
}

impl From<&NearPublicKey> for RawPublicKey {
    fn from(k: &NearPublicKey) -> Self {
        let bytes = k.key_bytes();
        match k {
            NearPublicKey::Secp256k1(_) => {
                Self::Secp256k1(bytes.try_into().expect("secp256k1 keys are 64 bytes"))
            }
            NearPublicKey::Ed25519(_) => {
                Self::Ed25519(bytes.try_into().expect("ed25519 keys are 32 bytes"))
            }
        }
    }
}

impl From<NearPublicKey> for RawPublicKey {
    fn from(k: NearPublicKey) -> Self {
        Self::from(&k)
    }
}

impl fmt::Display for RawPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match self {
            Self::Secp256k1(_) => "secp256k1",
            Self::Ed25519(_) => "ed25519",
        };
        write!(f, "{prefix}:{}", bs58::encode(self.bytes()).into_string())
    }
}

impl fmt::Debug for RawPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawPublicKey({self})")
    }
}

impl FromStr for RawPublicKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::from(s.parse::<NearPublicKey>()?))
    }
}

impl Serialize for RawPublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RawPublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Borsh: the NEAR key type byte (0 ed25519, 1 secp256k1) and the key bytes, as nearcore
/// encodes public keys.
#[cfg(feature = "borsh")]
mod borsh_impl {
    use super::*;
    use borsh::io::{Error, ErrorKind, Read, Write};

    impl borsh::BorshSerialize for NearPublicKey {
        fn serialize<W: Write>(&self, w: &mut W) -> borsh::io::Result<()> {
            let tag: u8 = match self {
                Self::Ed25519(_) => 0,
                Self::Secp256k1(_) => 1,
            };
            w.write_all(&[tag])?;
            w.write_all(&self.key_bytes())
        }
    }

    impl borsh::BorshDeserialize for NearPublicKey {
        fn deserialize_reader<R: Read>(r: &mut R) -> borsh::io::Result<Self> {
            let mut tag = [0u8; 1];
            r.read_exact(&mut tag)?;
            let invalid = |e: KeyError| Error::new(ErrorKind::InvalidData, e.to_string());
            match tag[0] {
                0 => {
                    let mut b = [0u8; 32];
                    r.read_exact(&mut b)?;
                    Self::ed25519_from_bytes(&b).map_err(invalid)
                }
                1 => {
                    let mut b = [0u8; 64];
                    r.read_exact(&mut b)?;
                    Self::secp256k1_from_xy(&b).map_err(invalid)
                }
                t => Err(Error::new(
                    ErrorKind::InvalidData,
                    format!("unknown key type {t}"),
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECP: &str = "secp256k1:4NfTiv3UsGahebgTaHyD9vF8KYKMBnfd6kh94mK6xv8fGBiJB8TBtFMP5WWXz6B89Ac1fbpzPwAvoyQebemHFwx3";
    const ED: &str = "ed25519:6vSEtQxrQj6txUMh33WC4ERyCWmNMRTdufDWAaDY3Un2";

    #[test]
    fn raw_keys_print_parse_and_encode_as_the_keys_they_hold() {
        for s in [SECP, ED] {
            let k: NearPublicKey = s.parse().unwrap();
            let raw = RawPublicKey::from(&k);
            assert_eq!(raw.to_string(), s);
            assert_eq!(raw.to_key().unwrap(), k);
            assert_eq!(s.parse::<RawPublicKey>().unwrap(), raw);
            assert_eq!(serde_json::to_value(raw).unwrap(), serde_json::json!(s));
            assert_eq!(raw.curve(), k.curve());
            #[cfg(feature = "borsh")]
            assert_eq!(borsh::to_vec(&raw).unwrap(), borsh::to_vec(&k).unwrap());
        }
        // Parsing checks the point (y = 2 is on no ed25519 point); only reading back stored
        // bytes does not.
        let mut y = [0u8; 32];
        y[0] = 2;
        let off = format!("ed25519:{}", bs58::encode(y).into_string());
        assert_eq!(
            off.parse::<RawPublicKey>().unwrap_err(),
            KeyError::NotOnCurve("ed25519")
        );
    }

    #[test]
    fn round_trips_near_strings() {
        for s in [SECP, ED] {
            let k: NearPublicKey = s.parse().unwrap();
            assert_eq!(k.to_string(), s);
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<NearPublicKey>(&json).unwrap(), k);
        }
    }

    #[test]
    fn refuses_malformed_strings() {
        let cases: &[(&str, KeyError)] = &[
            ("4NfTiv3UsGahebgTa", KeyError::MissingCurvePrefix),
            ("rsa:abc", KeyError::UnknownCurve("rsa".into())),
            ("ed25519:0OIl", KeyError::Base58(String::new())),
            (
                "ed25519:2222",
                KeyError::Length {
                    curve: "ed25519",
                    expected: 32,
                    got: 3,
                },
            ),
            (
                "secp256k1:6vSEtQxrQj6txUMh33WC4ERyCWmNMRTdufDWAaDY3Un2",
                KeyError::Length {
                    curve: "secp256k1",
                    expected: 64,
                    got: 32,
                },
            ),
        ];
        for (input, want) in cases {
            let got = input.parse::<NearPublicKey>().unwrap_err();
            match (want, &got) {
                (KeyError::Base58(_), KeyError::Base58(_)) => {}
                _ => assert_eq!(&got, want, "{input}"),
            }
        }
    }

    #[test]
    fn refuses_points_off_the_curve() {
        // x = 0 has no y on secp256k1 (0^3 + 7 = 7 is not a square mod p).
        let s = format!("secp256k1:{}", bs58::encode([0u8; 64]).into_string());
        assert_eq!(
            s.parse::<NearPublicKey>().unwrap_err(),
            KeyError::NotOnCurve("secp256k1")
        );
        // y = 2 is not the y coordinate of any ed25519 point.
        let mut y = [0u8; 32];
        y[0] = 2;
        let s = format!("ed25519:{}", bs58::encode(y).into_string());
        assert_eq!(
            s.parse::<NearPublicKey>().unwrap_err(),
            KeyError::NotOnCurve("ed25519")
        );
    }

    #[test]
    fn refuses_non_canonical_ed25519() {
        // y = p encodes the same point as y = 0, non-canonically.
        let mut p = [0xffu8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        let s = format!("ed25519:{}", bs58::encode(p).into_string());
        assert!(s.parse::<NearPublicKey>().is_err());
    }

    proptest! {
        #[test]
        fn any_secp256k1_point_round_trips(seed in 1u64..u64::MAX) {
            let p = (k256::ProjectivePoint::GENERATOR * k256::Scalar::from(seed)).to_affine();
            let k = NearPublicKey::Secp256k1(p);
            prop_assert_eq!(k.to_string().parse::<NearPublicKey>().unwrap(), k);
            let sec1 = k.sec1_compressed().unwrap();
            prop_assert_eq!(NearPublicKey::secp256k1_from_sec1(&sec1).unwrap(), k);
        }

        #[test]
        fn any_ed25519_point_round_trips(seed in 1u64..u64::MAX) {
            let p = curve25519_dalek::constants::ED25519_BASEPOINT_POINT
                * curve25519_dalek::Scalar::from(seed);
            let k = NearPublicKey::Ed25519(p);
            prop_assert_eq!(k.to_string().parse::<NearPublicKey>().unwrap(), k);
        }

        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC{0,120}") {
            let _ = s.parse::<NearPublicKey>();
        }
    }
}
