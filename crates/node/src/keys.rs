//! A domain's key share whatever its scheme, and the encodings the store keeps.
//!
//! The node handles four schemes (docs/design.md §7, §7.5) through one type so that following the
//! contract, stockpiling and signing are written once; what differs per scheme is confined to
//! the `match`es here and in [`crate::service::protocols`].

use mpc::frost::{Bip340, Ed25519, Scheme};
use primitives::{NearPublicKey, SignatureScheme};
use serde::de::DeserializeOwned;
use serde::Serialize;
use zeroize::Zeroizing;

/// This node's share of one domain's root key.
pub enum DomainKey {
    Ecdsa(mpc::ecdsa::KeyShare),
    /// The same kind of share, for a domain whose presignatures are made without triples
    /// (honest majority, docs/design.md §7.5).
    V2Ecdsa(mpc::ecdsa::KeyShare),
    Ed25519(mpc::frost::KeyShare<Ed25519>),
    Bip340(mpc::frost::KeyShare<Bip340>),
}

/// A stored secret that does not decode: the store opened it, so it was written by another
/// version or for another scheme.
#[derive(Debug, thiserror::Error)]
#[error("stored {what} does not decode: {reason}")]
pub struct DecodeError {
    pub what: &'static str,
    pub reason: String,
}

/// Encodes a secret for the store; the buffer is zeroized when dropped.
pub fn encode_secret<T: Serialize>(value: &T) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(postcard::to_stdvec(value).expect("secrets serialize"))
}

/// Decodes a secret the store returned.
pub fn decode_secret<T: DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T, DecodeError> {
    postcard::from_bytes(bytes).map_err(|e| DecodeError {
        what,
        reason: e.to_string(),
    })
}

impl DomainKey {
    pub fn scheme(&self) -> SignatureScheme {
        match self {
            Self::Ecdsa(_) => SignatureScheme::Secp256k1,
            Self::V2Ecdsa(_) => SignatureScheme::V2Secp256k1,
            Self::Ed25519(_) => SignatureScheme::Ed25519,
            Self::Bip340(_) => SignatureScheme::Bip340,
        }
    }

    /// The domain's root public key, as the contract lists it.
    pub fn public_key(&self) -> NearPublicKey {
        match self {
            Self::Ecdsa(k) | Self::V2Ecdsa(k) => NearPublicKey::Secp256k1(k.public_key()),
            Self::Ed25519(k) => Ed25519::near_public_key(&k.verifying_key()),
            Self::Bip340(k) => Bip340::near_public_key(&k.verifying_key()),
        }
    }

    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        match self {
            Self::Ecdsa(k) | Self::V2Ecdsa(k) => encode_secret(k),
            Self::Ed25519(k) => encode_secret(k),
            Self::Bip340(k) => encode_secret(k),
        }
    }

    pub fn decode(scheme: SignatureScheme, bytes: &[u8]) -> Result<Self, DecodeError> {
        const WHAT: &str = "key share";
        Ok(match scheme {
            SignatureScheme::Secp256k1 => Self::Ecdsa(decode_secret(WHAT, bytes)?),
            SignatureScheme::V2Secp256k1 => Self::V2Ecdsa(decode_secret(WHAT, bytes)?),
            SignatureScheme::Ed25519 => Self::Ed25519(decode_secret(WHAT, bytes)?),
            SignatureScheme::Bip340 => Self::Bip340(decode_secret(WHAT, bytes)?),
        })
    }
}

impl std::fmt::Debug for DomainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DomainKey")
            .field("scheme", &self.scheme())
            .field("public_key", &self.public_key().to_string())
            .finish_non_exhaustive()
    }
}
