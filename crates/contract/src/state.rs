//! The contract's whole state, and its versioned borsh layout.

use borsh::{BorshDeserialize, BorshSerialize};
use primitives::{DomainId, NearPublicKey, SignatureScheme};
use std::collections::{BTreeMap, BTreeSet};

use crate::error::ContractError;
use crate::types::{AccountId, Config, DomainConfig, ParticipantInfo, Participants};

pub use crate::requests::Requests;

/// The stored form: a version tag, then that version's layout. A new version adds a variant
/// and a migration from the previous one.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub enum VersionedState {
    V1(Contract),
}

impl VersionedState {
    pub fn into_current(self) -> Contract {
        match self {
            Self::V1(c) => c,
        }
    }
}

/// The signer contract.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct Contract {
    pub(crate) config: Config,
    pub(crate) protocol: ProtocolState,
    /// Accounts that registered to join, with how to reach them.
    pub(crate) candidates: BTreeMap<AccountId, ParticipantInfo>,
    pub(crate) requests: Requests,
}

/// DESIGN §4.4.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq, Default)]
pub enum ProtocolState {
    #[default]
    NotInitialized,
    Running(Running),
    Initializing(Initializing),
    Resharing(Resharing),
}

impl ProtocolState {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::NotInitialized => "NotInitialized",
            Self::Running(_) => "Running",
            Self::Initializing(_) => "Initializing",
            Self::Resharing(_) => "Resharing",
        }
    }
}

/// A stable network: who signs, at what threshold, with which keys.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Running {
    pub epoch: u64,
    pub participants: Participants,
    pub threshold: u64,
    /// Domains with their root keys, in id order.
    pub domains: Vec<(DomainConfig, NearPublicKey)>,
    pub next_domain_id: u64,
    pub votes: Votes,
}

/// Open proposals and who backs them. Cleared at every transition.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct Votes {
    pub join: BTreeMap<AccountId, BTreeSet<AccountId>>,
    pub leave: BTreeMap<AccountId, BTreeSet<AccountId>>,
    pub parameters: BTreeMap<(Vec<AccountId>, u64), BTreeSet<AccountId>>,
    pub add_domains: BTreeMap<Vec<SignatureScheme>, BTreeSet<AccountId>>,
}

/// One key generation or resharing attempt.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct KeyEvent {
    /// Block at which a participant started the instance.
    pub started_at: Option<u64>,
    pub abort_votes: BTreeSet<AccountId>,
}

/// New domains' keys being generated; the previous network keeps signing meanwhile.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Initializing {
    pub previous: Running,
    pub domains: Vec<DomainConfig>,
    pub event: KeyEvent,
    pub pk_votes: BTreeMap<DomainId, BTreeMap<AccountId, NearPublicKey>>,
}

/// Keys moving to a new participant set; the previous network keeps signing meanwhile.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Resharing {
    pub previous: Running,
    pub new_participants: Participants,
    pub new_threshold: u64,
    pub event: KeyEvent,
    pub reshared: BTreeSet<AccountId>,
}

impl Contract {
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The network that signs now: the Running state, or the one a key event started from.
    pub(crate) fn signing_network(&self) -> Result<&Running, ContractError> {
        match &self.protocol {
            ProtocolState::NotInitialized => Err(ContractError::NotInitialized),
            ProtocolState::Running(r) => Ok(r),
            ProtocolState::Initializing(i) => Ok(&i.previous),
            ProtocolState::Resharing(r) => Ok(&r.previous),
        }
    }

    /// A domain that has a key, with its scheme and key.
    pub(crate) fn active_domain(
        &self,
        id: DomainId,
    ) -> Result<(SignatureScheme, NearPublicKey), ContractError> {
        self.signing_network()?
            .domains
            .iter()
            .find(|(d, _)| d.id == id)
            .map(|(d, k)| (d.scheme, *k))
            .ok_or(ContractError::UnknownDomain(id))
    }
}
