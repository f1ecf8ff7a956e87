//! Threshold Schnorr signatures with FROST (RFC 9591) for Ed25519 and BIP340.
//!
//! One generic implementation over frost-core's `Ciphersuite` serves both schemes; [`Scheme`]
//! holds the few scheme-specific conversions (to NEAR key strings, the derivation tweak, the
//! response JSON).
//!
//! - [`keygen`]: frost-core's Pedersen DKG (RFC 9591 appendix C), three parts, with an echo
//!   check: every round-2 message carries a hash of all round-1 broadcasts its sender saw, so a
//!   participant who sent different round-1 packages to different peers is caught.
//! - [`reshare`] / [`refresh`]: our own protocol, since frost-core 3.0 cannot add parties.
//!   Each old holder that stays deals `λᵢ·xᵢ` with a fresh Feldman-committed Shamir sharing of
//!   the new degree to the new set; recipients check their share against the commitment, echo
//!   a hash of all commitments, and sum. The group key must come out unchanged.
//! - [`presign`]: FROST round one (nonce commitments) done ahead of time: a "presignature" is
//!   this party's nonces and every signer's commitments. Single use, consumed by [`sign`].
//! - [`sign`]: FROST round two under the *derived* key: the tweak ε is added to every share
//!   (Shamir shares of `x + ε` are the shares of `x` plus ε, since Lagrange coefficients sum
//!   to one) and `ε·G` to every public share and the group key. For BIP340 the shares are
//!   then tweaked once more to the derived key's Taproot output key (BIP341 key path, no
//!   script tree; `primitives::taproot`), so the signature spends its P2TR output; the
//!   ciphersuite negates key and shares where BIP340 needs an even Y.
//!
//! Caveat for BIP340: frost-secp256k1-tr's DKG adds an unspendable BIP341 tweak to the key it
//! outputs; that tweaked key *is* the domain's root key, and reshare preserves it as is.

mod dkg;
mod reshare;
mod sign;

pub use dkg::keygen;
pub use frost_ed25519::Ed25519Sha512 as Ed25519;
pub use frost_secp256k1_tr::Secp256K1Sha256TR as Bip340;
pub use reshare::{refresh, reshare};
pub use sign::{presign, sign, SigningInput};

use frost_core::keys::{KeyPackage, PublicKeyPackage};
use frost_core::round1::{SigningCommitments, SigningNonces};
use frost_core::{Ciphersuite, Element, Identifier, Scalar, Signature, VerifyingKey};
use primitives::derivation::DeriveError;
use primitives::response::SignatureResponse;
use primitives::{NearPublicKey, SignatureScheme};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use zeroize::ZeroizeOnDrop;

use crate::protocol::{Participant, ProtocolError};

/// What differs between the FROST schemes chain signatures use.
pub trait Scheme: Ciphersuite + Send + Sync + 'static {
    const SCHEME: SignatureScheme;

    /// The group key as NEAR writes public keys.
    fn near_public_key(key: &VerifyingKey<Self>) -> NearPublicKey;

    /// The group key a NEAR public key names, if it is one of this scheme's.
    fn verifying_key(key: &NearPublicKey) -> Option<VerifyingKey<Self>>;

    /// The derivation tweak ε of (predecessor, path) on this scheme's curve (docs/design.md §4.1).
    fn tweak(predecessor: &str, path: &str) -> Result<Scalar<Self>, DeriveError>;

    /// A signature as the contract returns it.
    fn response(signature: &Signature<Self>) -> SignatureResponse;

    /// `s·G` from the curve library's precomputed generator table (a few times faster than
    /// `generator() * s`, which frost-core's generic `Group` offers).
    fn mul_base(s: &Scalar<Self>) -> Element<Self>;

    /// 64 uniform bytes reduced into the scalar field (a dealer's secret from a seed:
    /// [`crate::dealer`]); the bias is below 2⁻¹²⁸ on both curves.
    fn scalar_from_wide(bytes: &[u8; 64]) -> Scalar<Self>;

    /// The key package that signs, from the derived key's: the derived key itself, except
    /// where the scheme signs under a key computed from it (BIP340: the Taproot output key).
    fn signing_key_package(key_package: KeyPackage<Self>) -> KeyPackage<Self> {
        key_package
    }

    /// The public shares that check a signature, transformed as the key package is.
    fn signing_public(public: PublicKeyPackage<Self>) -> PublicKeyPackage<Self> {
        public
    }
}

fn signature_bytes<C: Ciphersuite>(signature: &Signature<C>) -> [u8; 64] {
    signature
        .serialize()
        .ok()
        .and_then(|v| v.try_into().ok())
        .expect("Ed25519 and BIP340 signatures serialize to 64 bytes")
}

impl Scheme for Ed25519 {
    const SCHEME: SignatureScheme = SignatureScheme::Ed25519;

    fn near_public_key(key: &VerifyingKey<Self>) -> NearPublicKey {
        let bytes = key.serialize().expect("a group key serializes");
        NearPublicKey::ed25519_from_bytes(&bytes).expect("a group key is a curve point")
    }

    fn verifying_key(key: &NearPublicKey) -> Option<VerifyingKey<Self>> {
        key.as_ed25519()?;
        VerifyingKey::deserialize(&key.key_bytes()).ok()
    }

    fn tweak(predecessor: &str, path: &str) -> Result<Scalar<Self>, DeriveError> {
        Ok(primitives::derivation::ed25519_tweak(predecessor, path))
    }

    fn response(signature: &Signature<Self>) -> SignatureResponse {
        SignatureResponse::Ed25519 {
            signature: signature_bytes(signature),
        }
    }

    fn mul_base(s: &Scalar<Self>) -> Element<Self> {
        curve25519_dalek::EdwardsPoint::mul_base(s)
    }

    fn scalar_from_wide(bytes: &[u8; 64]) -> Scalar<Self> {
        curve25519_dalek::Scalar::from_bytes_mod_order_wide(bytes)
    }
}

impl Scheme for Bip340 {
    const SCHEME: SignatureScheme = SignatureScheme::Bip340;

    fn near_public_key(key: &VerifyingKey<Self>) -> NearPublicKey {
        let bytes = key.serialize().expect("a group key serializes");
        NearPublicKey::secp256k1_from_sec1(&bytes).expect("a group key is a curve point")
    }

    fn verifying_key(key: &NearPublicKey) -> Option<VerifyingKey<Self>> {
        VerifyingKey::deserialize(&key.sec1_compressed()?).ok()
    }

    fn tweak(predecessor: &str, path: &str) -> Result<Scalar<Self>, DeriveError> {
        primitives::derivation::secp256k1_tweak(predecessor, path)
    }

    fn response(signature: &Signature<Self>) -> SignatureResponse {
        SignatureResponse::Bip340 {
            signature: signature_bytes(signature),
        }
    }

    fn mul_base(s: &Scalar<Self>) -> Element<Self> {
        use k256::elliptic_curve::ops::MulByGenerator;
        k256::ProjectivePoint::mul_by_generator(s)
    }

    fn scalar_from_wide(bytes: &[u8; 64]) -> Scalar<Self> {
        use k256::elliptic_curve::bigint::U512;
        use k256::elliptic_curve::ops::Reduce;
        <k256::Scalar as Reduce<U512>>::reduce(U512::from_be_slice(bytes))
    }

    /// BIP341 key path with no script tree (`primitives::taproot`): frost-secp256k1-tr's
    /// `Tweak` negates the shares when the derived key has an odd Y and adds
    /// `H_TapTweak(x(P))` to them, and `·G` of it to every public share and the group key.
    fn signing_key_package(key_package: KeyPackage<Self>) -> KeyPackage<Self> {
        use frost_secp256k1_tr::keys::Tweak;
        key_package.tweak::<&[u8]>(None)
    }

    fn signing_public(public: PublicKeyPackage<Self>) -> PublicKeyPackage<Self> {
        use frost_secp256k1_tr::keys::Tweak;
        public.tweak::<&[u8]>(None)
    }
}

/// This party's share of a domain's root key, and everyone's public shares.
#[derive(Serialize, Deserialize)]
#[serde(bound = "C: Ciphersuite")]
pub struct KeyShare<C: Ciphersuite> {
    pub(crate) key_package: KeyPackage<C>,
    pub(crate) public: PublicKeyPackage<C>,
}

// The signing share lives in the KeyPackage, which zeroizes itself on drop.
impl<C: Ciphersuite> ZeroizeOnDrop for KeyShare<C> {}

impl<C: Ciphersuite> KeyShare<C> {
    /// The root key of the domain.
    pub fn verifying_key(&self) -> VerifyingKey<C> {
        *self.public.verifying_key()
    }

    /// Every participant's public share and the group key.
    pub fn public(&self) -> &PublicKeyPackage<C> {
        &self.public
    }

    /// How many signers a signature needs.
    pub fn threshold(&self) -> u16 {
        *self.key_package.min_signers()
    }
}

impl<C: Ciphersuite> fmt::Debug for KeyShare<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyShare")
            .field("verifying_key", &self.public.verifying_key())
            .finish_non_exhaustive()
    }
}

/// Precomputed FROST round one: this party's nonces and every signer's commitments. Signs
/// exactly one message.
#[derive(Serialize, Deserialize)]
#[serde(bound = "C: Ciphersuite")]
pub struct Presignature<C: Ciphersuite> {
    pub(crate) nonces: SigningNonces<C>,
    pub(crate) commitments: BTreeMap<Identifier<C>, SigningCommitments<C>>,
    pub(crate) participants: Vec<Participant>,
}

// The nonces zeroize themselves on drop; commitments are public.
impl<C: Ciphersuite> ZeroizeOnDrop for Presignature<C> {}

impl<C: Ciphersuite> Presignature<C> {
    /// The signer set that made it; only this set can sign with it.
    pub fn participants(&self) -> &[Participant] {
        &self.participants
    }
}

impl<C: Ciphersuite> fmt::Debug for Presignature<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presignature")
            .field("participants", &self.participants)
            .finish_non_exhaustive()
    }
}

/// A participant's FROST identifier: `id + 1` (constructors check ids are below u16::MAX).
pub(crate) fn identifier<C: Ciphersuite>(p: Participant) -> Identifier<C> {
    let x = u16::try_from(p.0 + 1).expect("participant ids are checked to fit");
    Identifier::try_from(x).expect("non-zero")
}

/// Who is who, to turn frost's blame into participants.
pub(crate) fn identifiers<C: Ciphersuite>(
    ps: &[Participant],
) -> BTreeMap<Identifier<C>, Participant> {
    ps.iter().map(|p| (identifier::<C>(*p), *p)).collect()
}

/// A frost error as ours, blaming whom frost blames.
pub(crate) fn from_frost<C: Ciphersuite>(
    e: frost_core::Error<C>,
    who: &BTreeMap<Identifier<C>, Participant>,
) -> ProtocolError {
    match e.culprits().first().and_then(|id| who.get(id)) {
        Some(&culprit) => ProtocolError::misbehaved(culprit, e),
        None => ProtocolError::Failed(e.to_string()),
    }
}

#[cfg(test)]
mod tests;
