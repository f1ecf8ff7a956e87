//! Read-only methods and the JSON they return. Snapshot tests pin every shape.

pub mod near_state;
mod state;

use primitives::derivation::derive_public_key;
use primitives::request::Payload;
use primitives::{DomainId, NearPublicKey, ParticipantId, RawPublicKey, SignatureScheme};
use serde::{Deserialize, Serialize};

use crate::error::ContractError;
use crate::state::Contract;
use crate::storage::Storage;
use crate::types::{AccountId, Config, DomainConfig, PendingRequest, RequestId};

/// The contract's version, as `version()` reports it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantView {
    pub account_id: AccountId,
    pub id: ParticipantId,
    pub url: String,
    pub tls_public_key: NearPublicKey,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainView {
    pub id: DomainId,
    pub scheme: SignatureScheme,
    pub public_key: NearPublicKey,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitializingView {
    pub domains: Vec<DomainConfig>,
    pub started_at: Option<u64>,
    /// Who has reported a key, per new domain.
    pub voted: Vec<(DomainId, Vec<AccountId>)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResharingView {
    pub participants: Vec<ParticipantView>,
    pub threshold: u64,
    pub started_at: Option<u64>,
    pub reshared: Vec<AccountId>,
}

/// Where the contract's protocol is: serialized as its name (`"Running"` …), as NEAR's signer
/// reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    NotInitialized,
    Running,
    Initializing,
    Resharing,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Self::NotInitialized => "NotInitialized",
            Self::Running => "Running",
            Self::Initializing => "Initializing",
            Self::Resharing => "Resharing",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `state()` as nodes and clients act on it: where the protocol is, and the network that signs
/// now. Read from the `state` JSON ([`near_state::ProtocolContractState`], this contract's or
/// NEAR's production signer's); it is not itself written anywhere.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "near_state::ProtocolContractState")]
pub struct StateView {
    pub state: Phase,
    pub epoch: Option<u64>,
    pub threshold: Option<u64>,
    pub participants: Vec<ParticipantView>,
    pub domains: Vec<DomainView>,
    pub initializing: Option<InitializingView>,
    pub resharing: Option<ResharingView>,
    pub candidates: Vec<ParticipantView>,
}

/// `system_load()`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemLoad {
    pub pending_requests: u64,
    pub capacity: u64,
}

/// One pending request: `pending_request({request_id})`, and what a node's indexer makes of
/// a request record it reads from a block's changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRequestView {
    pub request_id: RequestId,
    pub predecessor: AccountId,
    pub path: String,
    pub payload: Payload,
    pub domain_id: DomainId,
    /// Hex of the block random seed at acceptance: the signers' public entropy.
    pub entropy: String,
    pub created_at: u64,
}

impl From<&PendingRequest> for PendingRequestView {
    fn from(r: &PendingRequest) -> Self {
        Self {
            request_id: r.id,
            predecessor: r.predecessor.clone(),
            path: r.path.clone(),
            payload: r.payload.clone(),
            domain_id: r.domain_id,
            entropy: hex::encode(r.entropy),
            created_at: r.created_at,
        }
    }
}

/// A stored key as a view shows it (stored keys were checked when they came in).
fn key(raw: &RawPublicKey) -> Result<NearPublicKey, ContractError> {
    raw.to_key()
        .map_err(|e| ContractError::CorruptState(format!("stored key {raw}: {e}")))
}

impl<S: Storage> Contract<S> {
    pub fn version(&self) -> &'static str {
        VERSION
    }

    pub fn config_view(&self) -> Config {
        self.root.config.clone()
    }

    pub fn system_load(&self) -> Result<SystemLoad, ContractError> {
        Ok(SystemLoad {
            pending_requests: u64::from(self.pending_count()?),
            capacity: u64::from(self.root.config.max_pending_requests),
        })
    }

    /// `pending_request({request_id})`: the request if it is pending.
    pub fn pending_request(
        &self,
        id: &RequestId,
    ) -> Result<Option<PendingRequestView>, ContractError> {
        Ok(self.request(id)?.as_ref().map(PendingRequestView::from))
    }

    /// The root key of a domain (domain 0 when none is given, as NEAR's signer does).
    pub fn public_key(&self, domain_id: Option<DomainId>) -> Result<NearPublicKey, ContractError> {
        key(&self.active_domain(domain_id.unwrap_or(DomainId(0)))?.1)
    }

    /// The key `predecessor` signs with under `path` in a domain.
    pub fn derived_public_key(
        &self,
        path: &str,
        predecessor: &AccountId,
        domain_id: Option<DomainId>,
    ) -> Result<NearPublicKey, ContractError> {
        let root = self.public_key(domain_id)?;
        derive_public_key(&root, &predecessor.0, path)
            .map_err(|e| ContractError::InvalidParameters(e.to_string()))
    }

    /// The newest domain of a scheme (Secp256k1 when none is given): NEAR's "key version".
    pub fn latest_key_version(
        &self,
        scheme: Option<SignatureScheme>,
    ) -> Result<u64, ContractError> {
        let scheme = scheme.unwrap_or(SignatureScheme::Secp256k1);
        self.signing_network()?
            .domains
            .iter()
            .rev()
            .find(|(d, _)| d.scheme == scheme)
            .map(|(d, _)| d.id.0)
            .ok_or(ContractError::NoDomainForScheme(scheme))
    }
}
