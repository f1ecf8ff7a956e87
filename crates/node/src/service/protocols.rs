//! The protocol instances the node runs, built per scheme and mapped to scheme-free outputs
//! (a [`DomainKey`], an encoded stock item, a [`SignatureResponse`]), so that everything
//! above this module is written once for every scheme.

use contract::views::PendingRequestView;
use k256::elliptic_curve::PrimeField;
use mpc::frost::{Bip340, Ed25519, Scheme};
use mpc::{InitError, Instance, InstanceId, Resharing};
use primitives::request::Payload;
use primitives::response::SignatureResponse;
use primitives::{NearPublicKey, ParticipantId, SignatureScheme};
use zeroize::Zeroizing;

use crate::keys::{decode_secret, encode_secret, DecodeError, DomainKey};

/// The protocols a node runs, as named in logs and in the metrics' `protocol` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolKind {
    Keygen,
    Reshare,
    Triple,
    Presign,
    FastPresign,
    Nonces,
    Sign,
}

impl ProtocolKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Keygen => "keygen",
            Self::Reshare => "reshare",
            Self::Triple => "triple",
            Self::Presign => "presign",
            Self::FastPresign => "fast-presign",
            Self::Nonces => "nonces",
            Self::Sign => "sign",
        }
    }

    /// Where its steps run. Steps that cost well under a millisecond of CPU (FROST nonces,
    /// the honest-majority presignature's steps at ~0.3–0.5 ms each at n=5, any signing
    /// round) run on the async worker: handing them to another thread would cost more than
    /// the step (measured at 15 % of a node's CPU at 170 Ed25519 signatures/s, and at ~10 %
    /// in context switches at 125 V2Secp256k1 signatures/s). Heavy steps go to the node's
    /// heavy-step threads ([`crate::workers`]): OT extensions and multiplications at the
    /// lowest priority, so that heartbeats and signing never wait behind them; key
    /// generation and resharing on their own threads, so that a refill never holds back an
    /// epoch switch.
    pub fn lane(self) -> Lane {
        match self {
            Self::Nonces | Self::FastPresign | Self::Sign => Lane::Inline,
            Self::Keygen | Self::Reshare => Lane::Keys,
            Self::Triple | Self::Presign => Lane::Precompute,
        }
    }
}

/// Where a protocol's steps run (see [`ProtocolKind::lane`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// On the async worker that drives it.
    Inline,
    /// On the key-work threads, at the node's own priority.
    Keys,
    /// On the precomputation threads, at the lowest priority.
    Precompute,
}

/// Why an instance could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Init(#[from] InitError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("{0}")]
    Mismatch(String),
}

fn mismatch(what: impl Into<String>) -> BuildError {
    BuildError::Mismatch(what.into())
}

/// An encoded stock item, zeroized when dropped.
pub type Secret = Zeroizing<Vec<u8>>;

/// An item a signature spends, decoded, as the protocol that made it returned it.
///
/// Decoding a FROST item re-validates every commitment point in it (decompression and a
/// torsion check each, eight per item at `t = 3`): measured at 13 % of a node's CPU at 150
/// Ed25519 signatures/s. The stockpile keeps this form in memory beside the stored bytes and
/// hands it over with the bytes when the item is taken, so that a signature decodes only
/// after a restart. It is secret (the nonces), zeroized when dropped like the bytes.
pub enum Ready {
    Ecdsa(Box<mpc::ecdsa::Presignature>),
    Ed25519(Box<mpc::frost::Presignature<Ed25519>>),
    Bip340(Box<mpc::frost::Presignature<Bip340>>),
}

/// A stock item: its encoding, which the store keeps, and for an item a signature spends its
/// decoded form while this process holds it.
pub struct Item {
    pub bytes: Secret,
    pub ready: Option<Ready>,
}

impl Item {
    fn with(bytes: Secret, ready: Ready) -> Self {
        Self {
            bytes,
            ready: Some(ready),
        }
    }
}

/// How an ECDSA key share is held for a domain of `scheme` (both kinds share DKG and reshare).
fn ecdsa_key(scheme: SignatureScheme) -> fn(mpc::ecdsa::KeyShare) -> DomainKey {
    if scheme == SignatureScheme::V2Secp256k1 {
        DomainKey::V2Ecdsa
    } else {
        DomainKey::Ecdsa
    }
}

/// A fresh root key for a new domain.
pub fn keygen(
    scheme: SignatureScheme,
    id: InstanceId,
    participants: &[ParticipantId],
    me: ParticipantId,
    threshold: usize,
) -> Result<Instance<DomainKey>, BuildError> {
    Ok(match scheme {
        SignatureScheme::Secp256k1 | SignatureScheme::V2Secp256k1 => {
            mpc::ecdsa::keygen(id, participants, me, threshold)?.map(ecdsa_key(scheme))
        }
        SignatureScheme::Ed25519 => {
            mpc::frost::keygen::<Ed25519>(id, participants, me, threshold)?.map(DomainKey::Ed25519)
        }
        SignatureScheme::Bip340 => {
            mpc::frost::keygen::<Bip340>(id, participants, me, threshold)?.map(DomainKey::Bip340)
        }
    })
}

/// The domain's key moved to a new set: `share` is this node's old share (`None` for a
/// newcomer), `root` the domain's public key, which must not change.
pub fn reshare(
    scheme: SignatureScheme,
    id: InstanceId,
    resharing: Resharing<'_>,
    me: ParticipantId,
    share: Option<DomainKey>,
    root: &NearPublicKey,
) -> Result<Instance<DomainKey>, BuildError> {
    let wrong = || mismatch("the key share is of another scheme than its domain");
    if share.as_ref().is_some_and(|k| k.scheme() != scheme) {
        return Err(wrong());
    }
    Ok(match scheme {
        SignatureScheme::Secp256k1 | SignatureScheme::V2Secp256k1 => {
            let share = match share {
                Some(DomainKey::Ecdsa(k) | DomainKey::V2Ecdsa(k)) => Some(k),
                Some(_) => return Err(wrong()),
                None => None,
            };
            let pk = *root
                .as_secp256k1()
                .ok_or_else(|| mismatch("root key is not secp256k1"))?;
            mpc::ecdsa::reshare(id, resharing, me, share, pk)?.map(ecdsa_key(scheme))
        }
        SignatureScheme::Ed25519 => {
            let share = match share {
                Some(DomainKey::Ed25519(k)) => Some(k),
                Some(_) => return Err(wrong()),
                None => None,
            };
            let vk = Ed25519::verifying_key(root).ok_or_else(|| mismatch("bad ed25519 root"))?;
            mpc::frost::reshare(id, resharing, me, share, vk)?.map(DomainKey::Ed25519)
        }
        SignatureScheme::Bip340 => {
            let share = match share {
                Some(DomainKey::Bip340(k)) => Some(k),
                Some(_) => return Err(wrong()),
                None => None,
            };
            let vk = Bip340::verifying_key(root).ok_or_else(|| mismatch("bad BIP340 root"))?;
            mpc::frost::reshare(id, resharing, me, share, vk)?.map(DomainKey::Bip340)
        }
    })
}

/// One Beaver triple among `set` (ECDSA).
pub fn triple(
    id: InstanceId,
    set: &[ParticipantId],
    me: ParticipantId,
    threshold: usize,
) -> Result<Instance<Secret>, BuildError> {
    Ok(mpc::ecdsa::generate_triple(id, set, me, threshold)?.map(|t| encode_secret(&t)))
}

/// An ECDSA presignature from two stored triples.
pub fn presign(
    key: &DomainKey,
    id: InstanceId,
    set: &[ParticipantId],
    me: ParticipantId,
    triples: (&[u8], &[u8]),
) -> Result<Instance<Item>, BuildError> {
    let DomainKey::Ecdsa(key) = key else {
        return Err(mismatch(
            "presignatures from triples are for Secp256k1 domains",
        ));
    };
    let a = decode_secret("triple", triples.0)?;
    let b = decode_secret("triple", triples.1)?;
    let threshold = set.len();
    Ok(mpc::ecdsa::presign(id, set, me, threshold, (a, b), key)?.map(ecdsa_item))
}

fn ecdsa_item(p: mpc::ecdsa::Presignature) -> Item {
    Item::with(encode_secret(&p), Ready::Ecdsa(Box::new(p)))
}

/// An ECDSA presignature without triples, for a V2Secp256k1 domain: `set` has `2t − 1`
/// members.
pub fn fast_presign(
    key: &DomainKey,
    id: InstanceId,
    set: &[ParticipantId],
    me: ParticipantId,
    threshold: usize,
) -> Result<Instance<Item>, BuildError> {
    let DomainKey::V2Ecdsa(key) = key else {
        return Err(mismatch(
            "presignatures without triples are for V2Secp256k1 domains",
        ));
    };
    Ok(mpc::ecdsa::fast_presign(id, set, me, threshold, key)?.map(ecdsa_item))
}

/// FROST nonce commitments for one signature by `set`.
pub fn nonces(
    key: &DomainKey,
    id: InstanceId,
    set: &[ParticipantId],
    me: ParticipantId,
) -> Result<Instance<Item>, BuildError> {
    Ok(match key {
        DomainKey::Ed25519(k) => mpc::frost::presign(id, set, me, k)?
            .map(|p| Item::with(encode_secret(&p), Ready::Ed25519(Box::new(p)))),
        DomainKey::Bip340(k) => mpc::frost::presign(id, set, me, k)?
            .map(|p| Item::with(encode_secret(&p), Ready::Bip340(Box::new(p)))),
        DomainKey::Ecdsa(_) | DomainKey::V2Ecdsa(_) => {
            return Err(mismatch("nonces are for FROST domains"))
        }
    })
}

/// The signature for `request`, spending one item (decoded from its bytes unless it comes
/// ready). `leader` submits it: a FROST signature is assembled by it alone (`None` for the
/// others); an ECDSA one by every signer.
pub fn sign(
    key: &DomainKey,
    id: InstanceId,
    set: &[ParticipantId],
    me: ParticipantId,
    leader: ParticipantId,
    item: Item,
    request: &PendingRequestView,
) -> Result<Instance<Option<SignatureResponse>>, BuildError> {
    let Item {
        bytes: encoded,
        ready,
    } = item;
    let (predecessor, path) = (request.predecessor.0.as_str(), request.path.as_str());
    Ok(match key {
        DomainKey::Ecdsa(k) | DomainKey::V2Ecdsa(k) => {
            let Payload::Ecdsa(bytes) = &request.payload else {
                return Err(mismatch("an ECDSA domain needs an ECDSA payload"));
            };
            let repr: [u8; 32] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| mismatch("ECDSA payload is not 32 bytes"))?;
            let msg_hash = Option::from(k256::Scalar::from_repr(repr.into()))
                .ok_or_else(|| mismatch("ECDSA payload is not a scalar"))?;
            let tweak = primitives::derivation::secp256k1_tweak(predecessor, path)
                .map_err(|e| mismatch(e.to_string()))?;
            let entropy: [u8; 32] = hex::decode(&request.entropy)
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| mismatch("request entropy is not 32 bytes of hex"))?;
            let input = mpc::ecdsa::SigningInput {
                root_public_key: k.public_key(),
                tweak,
                msg_hash,
                entropy,
                coordinator: leader,
            };
            let presignature = match ready {
                Some(Ready::Ecdsa(p)) => *p,
                _ => decode_secret("presignature", &encoded)?,
            };
            mpc::ecdsa::sign(id, set, me, presignature, input)?
                .map(|s| s.map(SignatureResponse::Secp256k1))
        }
        DomainKey::Ed25519(k) => {
            let ready = match ready {
                Some(Ready::Ed25519(p)) => Some(*p),
                _ => None,
            };
            let nonces = Nonces { ready, encoded };
            frost_sign(k, (id, set, me, leader), nonces, request)?
        }
        DomainKey::Bip340(k) => {
            let ready = match ready {
                Some(Ready::Bip340(p)) => Some(*p),
                _ => None,
            };
            let nonces = Nonces { ready, encoded };
            frost_sign(k, (id, set, me, leader), nonces, request)?
        }
    })
}

/// A FROST item to spend: decoded already, or its stored bytes.
struct Nonces<C: Scheme> {
    ready: Option<mpc::frost::Presignature<C>>,
    encoded: Secret,
}

/// A FROST signature of `request` by `who` = (instance, set, this node, leader), under the
/// key derived for the request's predecessor and path.
fn frost_sign<C: Scheme>(
    key: &mpc::frost::KeyShare<C>,
    who: (InstanceId, &[ParticipantId], ParticipantId, ParticipantId),
    nonces: Nonces<C>,
    request: &PendingRequestView,
) -> Result<Instance<Option<SignatureResponse>>, BuildError> {
    let (id, set, me, leader) = who;
    let (predecessor, path) = (request.predecessor.0.as_str(), request.path.as_str());
    let tweak = C::tweak(predecessor, path).map_err(|e| mismatch(e.to_string()))?;
    let nonces = match nonces.ready {
        Some(p) => p,
        None => decode_secret("nonces", &nonces.encoded)?,
    };
    let input = mpc::frost::SigningInput {
        tweak,
        message: request.payload.as_bytes(),
        coordinator: leader,
    };
    Ok(mpc::frost::sign(id, set, me, key, nonces, input)?.map(|s| s.map(|s| C::response(&s))))
}
