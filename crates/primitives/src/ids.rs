//! Identifiers shared by every component.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A participant of the MPC network, as numbered by the signer contract.
///
/// Threshold protocols evaluate secret-sharing polynomials at `id + 1`, so that id 0 is a valid
/// participant; every scheme uses the same evaluation point for the same participant, which is
/// what lets key shares move between protocols (docs/design.md §7.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "borsh",
    derive(borsh::BorshSerialize, borsh::BorshDeserialize)
)]
#[serde(transparent)]
pub struct ParticipantId(pub u32);

impl fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u32> for ParticipantId {
    fn from(v: u32) -> Self {
        Self(v)
    }
}

/// A signing domain of the contract: one master key of one scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "borsh",
    derive(borsh::BorshSerialize, borsh::BorshDeserialize)
)]
#[serde(transparent)]
pub struct DomainId(pub u64);

impl fmt::Display for DomainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The signature scheme of a domain, with the names NEAR's signer uses in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "borsh",
    derive(borsh::BorshSerialize, borsh::BorshDeserialize)
)]
pub enum SignatureScheme {
    /// ECDSA over secp256k1 (Ethereum, Bitcoin legacy/segwit v0, ...).
    Secp256k1,
    /// EdDSA over Curve25519 (Solana, NEAR, ...).
    Ed25519,
    /// BIP340 Schnorr over secp256k1 (Bitcoin Taproot).
    Bip340,
    /// ECDSA over secp256k1 whose presignatures are made without triples under an honest
    /// majority (docs/design.md §7.5; NEAR's signer names this kind the same). Requests, responses and
    /// keys are exactly those of `Secp256k1`.
    V2Secp256k1,
}

impl SignatureScheme {
    /// The curve a root key of this scheme lives on.
    pub fn curve(self) -> Curve {
        match self {
            Self::Secp256k1 | Self::Bip340 | Self::V2Secp256k1 => Curve::Secp256k1,
            Self::Ed25519 => Curve::Ed25519,
        }
    }

    /// Whether signatures are ECDSA (the `Ecdsa` payload, the `Secp256k1` response).
    pub fn is_ecdsa(self) -> bool {
        matches!(self, Self::Secp256k1 | Self::V2Secp256k1)
    }

    /// How many participants sign together (and make the precomputed items a signature
    /// spends) at threshold `t`: `t`, except honest-majority ECDSA, which needs `2t − 1`
    /// online. A network with fewer participants cannot hold a domain of this scheme.
    pub fn signers(self, threshold: usize) -> usize {
        match self {
            Self::V2Secp256k1 => (2 * threshold).saturating_sub(1),
            _ => threshold,
        }
    }
}

impl fmt::Display for SignatureScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Secp256k1 => "Secp256k1",
            Self::Ed25519 => "Ed25519",
            Self::Bip340 => "Bip340",
            Self::V2Secp256k1 => "V2Secp256k1",
        })
    }
}

/// The two curves keys live on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    Secp256k1,
    Ed25519,
}
