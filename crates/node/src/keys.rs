//! A domain's key share whatever its scheme, and the encodings the store keeps.
//!
//! The node handles four schemes (docs/design.md §7, §7.5) through one type so that following the
//! contract, stockpiling and signing are written once; what differs per scheme is confined to
//! the `match`es here and in [`crate::service::protocols`].

use mpc::frost::{Bip340, Ed25519, Scheme};
use primitives::{NearPublicKey, ParticipantId, SignatureScheme};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;
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

/// Every participant's share of one domain's master key, dealt from `seed` by
/// [`mpc::dealer`] instead of generated: for devnets only (whoever has the seed has the key),
/// where the same seed must give the same keys (docs/design.md §4.5).
pub fn deal(
    scheme: SignatureScheme,
    seed: &[u8; 32],
    participants: &[ParticipantId],
    threshold: usize,
) -> Result<BTreeMap<ParticipantId, DomainKey>, mpc::InitError> {
    fn each<T>(
        shares: BTreeMap<ParticipantId, T>,
        wrap: fn(T) -> DomainKey,
    ) -> BTreeMap<ParticipantId, DomainKey> {
        shares.into_iter().map(|(p, k)| (p, wrap(k))).collect()
    }
    let (n, t) = (participants, threshold);
    Ok(match scheme {
        SignatureScheme::Secp256k1 => each(mpc::dealer::ecdsa(seed, n, t)?, DomainKey::Ecdsa),
        SignatureScheme::V2Secp256k1 => each(mpc::dealer::ecdsa(seed, n, t)?, DomainKey::V2Ecdsa),
        SignatureScheme::Ed25519 => each(
            mpc::dealer::frost::<Ed25519>(seed, n, t)?,
            DomainKey::Ed25519,
        ),
        SignatureScheme::Bip340 => {
            each(mpc::dealer::frost::<Bip340>(seed, n, t)?, DomainKey::Bip340)
        }
    })
}

impl std::fmt::Debug for DomainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DomainKey")
            .field("scheme", &self.scheme())
            .field("public_key", &self.public_key().to_string())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dealt shares are the scheme's own: stored and read back as the node reads a
    /// generated share, all naming one key, the same for the same seed.
    #[test]
    fn dealt_shares_are_stored_as_generated_ones() {
        let ps: Vec<ParticipantId> = (0..3).map(ParticipantId).collect();
        for scheme in [
            SignatureScheme::Secp256k1,
            SignatureScheme::Ed25519,
            SignatureScheme::Bip340,
            SignatureScheme::V2Secp256k1,
        ] {
            let keys = deal(scheme, &[4; 32], &ps, 2).unwrap();
            let root = keys[&ps[0]].public_key();
            assert_eq!(root.curve(), scheme.curve());
            for key in keys.values() {
                assert_eq!(key.scheme(), scheme);
                let back = DomainKey::decode(scheme, &key.encode()).unwrap();
                assert_eq!(back.public_key(), root);
            }
            let again = deal(scheme, &[4; 32], &ps, 2).unwrap();
            assert_eq!(again[&ps[2]].encode(), keys[&ps[2]].encode());
            assert!(!format!("{:?}", keys[&ps[0]]).contains("share"));
        }
        assert!(deal(SignatureScheme::Bip340, &[4; 32], &ps, 4).is_err());
    }
}
