//! The `state` view's JSON in the shape NEAR's production signer returns it.
//!
//! near/mpc's contract (3.14, `v1.signer` and `v1.signer-prod.testnet`) answers `state` with
//! `ProtocolContractState`: `"NotInitialized"` or `{"Running" | "Initializing" | "Resharing":
//! {...}}`, domains as `{"id", "protocol", "reconstruction_threshold", "purpose"}`, root keys in
//! a `keyset`, participants as `[account, id, {"url", "tls_public_key"}]` triples. This project's
//! contract answers in the same shape, so tools written for NEAR's signer read it, and the
//! client reads NEAR's answer with the same types ([`StateView`] is made from either).
//!
//! Where the two contracts differ, the JSON says it in fields production does not have (and
//! production's readers ignore):
//! - each domain also carries `scheme` (`Secp256k1`, `Ed25519`, `Bip340`, `V2Secp256k1`), as
//!   production's domains did before 3.9; a Bip340 domain's `protocol` is `FrostBip340`, a name
//!   production does not know;
//! - this contract generates the keys of all new domains at once and reshares all domains at
//!   once: `generating_key` / `resharing_key` show the first of them, `voted` (Initializing)
//!   lists who reported a key for each; attempts are not counted (`attempt_id` 0);
//! - candidates (`candidates`) and join / leave votes (`join_votes`, `leave_votes`) are this
//!   contract's way to change membership; whole-set proposals are production's
//!   `parameters_votes`.
//!
//! Read back, votes are skipped (nothing here acts on them; older production contracts wrote
//! them in another shape) and so are domains this client cannot sign with (a BLS12-381 key,
//! a purpose other than `Sign`, a protocol it does not know).

use primitives::{DomainId, NearPublicKey, ParticipantId, SignatureScheme};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

use crate::types::AccountId;

/// `state()`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProtocolContractState {
    NotInitialized,
    Initializing(InitializingContractState),
    Running(RunningContractState),
    Resharing(ResharingContractState),
}

/// A network that signs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningContractState {
    pub domains: DomainRegistry,
    pub keyset: Keyset,
    pub parameters: ThresholdParameters,
    #[serde(default, deserialize_with = "skipped")]
    pub parameters_votes: ParametersVotes,
    #[serde(default, deserialize_with = "skipped")]
    pub add_domains_votes: AddDomainsVotes,
    #[serde(default)]
    pub previously_cancelled_resharing_epoch_id: Option<u64>,
    /// This contract's: accounts that offered to join.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<CandidateJson>,
    /// This contract's: candidate → the participants who vote it in.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "skipped"
    )]
    pub join_votes: BTreeMap<AccountId, Vec<AccountId>>,
    /// This contract's: participant → the participants who vote it out.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "skipped"
    )]
    pub leave_votes: BTreeMap<AccountId, Vec<AccountId>>,
}

/// New domains' keys being generated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitializingContractState {
    /// Every domain, those with keys and those being generated.
    pub domains: DomainRegistry,
    pub epoch_id: u64,
    pub generated_keys: Vec<KeyForDomain>,
    pub generating_key: KeyEvent,
    #[serde(default)]
    pub cancel_votes: Vec<ParticipantId>,
    /// This contract's: for each domain being generated, who has reported its key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voted: Option<Vec<(DomainId, Vec<AccountId>)>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<CandidateJson>,
}

/// Keys moving to a new participant set while the previous one keeps signing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResharingContractState {
    pub previous_running_state: RunningContractState,
    pub reshared_keys: Vec<KeyForDomain>,
    pub resharing_key: KeyEvent,
    #[serde(default)]
    pub cancellation_requests: Vec<AccountId>,
    #[serde(default)]
    pub per_domain_thresholds: BTreeMap<DomainId, u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainRegistry {
    pub domains: Vec<DomainConfigJson>,
    pub next_domain_id: u64,
}

/// A domain. Production 3.10+ names its protocol; before 3.9 it named its `scheme`, in 3.9 its
/// `curve`; this contract writes both `protocol` and `scheme`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainConfigJson {
    pub id: DomainId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconstruction_threshold: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<Purpose>,
    #[serde(default, alias = "curve", skip_serializing_if = "Option::is_none")]
    pub scheme: Option<SchemeName>,
}

/// The threshold protocol a domain's key runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    /// ECDSA on secp256k1 with triples (cait-sith).
    CaitSith,
    /// ECDSA on secp256k1 with honest-majority presignatures (this project's V2Secp256k1).
    DamgardEtAl,
    /// EdDSA on Ed25519.
    Frost,
    /// BIP340 Schnorr on secp256k1 (this project only).
    FrostBip340,
    /// BLS12-381 key derivation (production only; nothing to sign with here).
    ConfidentialKeyDerivation,
    #[serde(other)]
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Purpose {
    Sign,
    ForeignTx,
    #[serde(rename = "CKD")]
    Ckd,
    #[serde(other)]
    Unknown,
}

/// A domain's scheme as production's older contracts (and this one) name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SchemeName {
    Secp256k1,
    Ed25519,
    /// production 3.9's name of the Ed25519 curve.
    Edwards25519,
    Bip340,
    V2Secp256k1,
    Bls12381,
    #[serde(other)]
    Unknown,
}

impl From<SignatureScheme> for SchemeName {
    fn from(s: SignatureScheme) -> Self {
        match s {
            SignatureScheme::Secp256k1 => Self::Secp256k1,
            SignatureScheme::Ed25519 => Self::Ed25519,
            SignatureScheme::Bip340 => Self::Bip340,
            SignatureScheme::V2Secp256k1 => Self::V2Secp256k1,
        }
    }
}

impl DomainConfigJson {
    /// How this contract writes a domain of `scheme` signing at `threshold`.
    pub fn new(id: DomainId, scheme: SignatureScheme, threshold: u64) -> Self {
        Self {
            id,
            protocol: Some(match scheme {
                SignatureScheme::Secp256k1 => Protocol::CaitSith,
                SignatureScheme::V2Secp256k1 => Protocol::DamgardEtAl,
                SignatureScheme::Ed25519 => Protocol::Frost,
                SignatureScheme::Bip340 => Protocol::FrostBip340,
            }),
            reconstruction_threshold: Some(threshold),
            purpose: Some(Purpose::Sign),
            scheme: Some(scheme.into()),
        }
    }

    /// The scheme a client signs this domain with; `None` for a domain it cannot sign with.
    pub fn signing_scheme(&self) -> Option<SignatureScheme> {
        if self.purpose.is_some_and(|p| p != Purpose::Sign) {
            return None;
        }
        if let Some(scheme) = self.scheme {
            return match scheme {
                SchemeName::Secp256k1 => Some(SignatureScheme::Secp256k1),
                SchemeName::Ed25519 | SchemeName::Edwards25519 => Some(SignatureScheme::Ed25519),
                SchemeName::Bip340 => Some(SignatureScheme::Bip340),
                SchemeName::V2Secp256k1 => Some(SignatureScheme::V2Secp256k1),
                SchemeName::Bls12381 | SchemeName::Unknown => None,
            };
        }
        match self.protocol? {
            Protocol::CaitSith => Some(SignatureScheme::Secp256k1),
            Protocol::DamgardEtAl => Some(SignatureScheme::V2Secp256k1),
            Protocol::Frost => Some(SignatureScheme::Ed25519),
            Protocol::FrostBip340 => Some(SignatureScheme::Bip340),
            Protocol::ConfidentialKeyDerivation | Protocol::Unknown => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keyset {
    pub epoch_id: u64,
    pub domains: Vec<KeyForDomain>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyForDomain {
    pub domain_id: DomainId,
    pub key: PublicKeyExtended,
    #[serde(default)]
    pub attempt: u64,
}

/// A root key with the forms production's nodes use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PublicKeyExtended {
    Secp256k1 {
        near_public_key: NearPublicKey,
    },
    Ed25519 {
        near_public_key_compressed: NearPublicKey,
        /// The same 32 bytes as the key, as numbers.
        #[serde(default)]
        edwards_point: Option<[u8; 32]>,
    },
    /// A BLS12-381 key (`bls12381g2:…`), kept as text: nothing here uses it.
    Bls12381 {
        public_key: String,
    },
}

impl PublicKeyExtended {
    pub fn new(key: NearPublicKey) -> Self {
        match key {
            NearPublicKey::Secp256k1(_) => Self::Secp256k1 {
                near_public_key: key,
            },
            NearPublicKey::Ed25519(_) => Self::Ed25519 {
                near_public_key_compressed: key,
                edwards_point: key.key_bytes().try_into().ok(),
            },
        }
    }

    /// The key, when it is one a NEAR key string can hold.
    pub fn near_key(&self) -> Option<NearPublicKey> {
        match self {
            Self::Secp256k1 { near_public_key } => Some(*near_public_key),
            Self::Ed25519 {
                near_public_key_compressed,
                ..
            } => Some(*near_public_key_compressed),
            Self::Bls12381 { .. } => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThresholdParameters {
    pub participants: ParticipantsJson,
    pub threshold: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantsJson {
    pub next_id: u32,
    pub participants: Vec<(AccountId, ParticipantId, ParticipantInfoJson)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantInfoJson {
    pub url: String,
    /// `sign_pk` before production 3.10.
    #[serde(alias = "sign_pk")]
    pub tls_public_key: NearPublicKey,
}

/// This contract's candidate: an account that offered to join, and how to reach it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateJson {
    pub account_id: AccountId,
    pub url: String,
    pub tls_public_key: NearPublicKey,
}

/// Open whole-set proposals: voter → what it proposes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParametersVotes {
    pub proposal_by_account: BTreeMap<AccountId, Proposal>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub parameters: ThresholdParameters,
    pub per_domain_thresholds: BTreeMap<DomainId, u64>,
}

/// Open proposals to add domains: the voter's participant id → the domains it proposes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddDomainsVotes {
    pub proposal_by_account: BTreeMap<ParticipantId, Vec<DomainConfigJson>>,
}

/// One key generation or resharing: the domain, the participants it runs among, and the
/// attempt under way (`null` until a participant starts it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEvent {
    pub epoch_id: u64,
    pub domain: Option<DomainConfigJson>,
    pub parameters: ThresholdParameters,
    pub instance: Option<KeyEventInstance>,
    #[serde(default)]
    pub next_attempt_id: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEventInstance {
    pub attempt_id: u64,
    /// The block the attempt started in.
    pub started_in: u64,
    /// The block after which it may be aborted.
    pub expires_on: u64,
    /// Who has reported its key (by participant id).
    pub completed: Vec<ParticipantId>,
    pub public_key: Option<PublicKeyExtended>,
}

/// Reads anything there and keeps the default: for parts no reader acts on, whose shape
/// changed between production versions.
fn skipped<'de, D: Deserializer<'de>, T: Default>(d: D) -> Result<T, D::Error> {
    serde::de::IgnoredAny::deserialize(d)?;
    Ok(T::default())
}
