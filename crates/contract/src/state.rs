//! The contract's state: the root every call reads, and the storage beside it.

use borsh::{BorshDeserialize, BorshSerialize};
use primitives::{DomainId, RawPublicKey, SignatureScheme};
use std::collections::{BTreeMap, BTreeSet};

use crate::error::ContractError;
use crate::storage::{MemStorage, Storage};
use crate::types::{AccountId, Config, DomainConfig, Participants};

/// The signer contract: its root value (kept under `STATE`) and its account's storage, where
/// requests, candidates and the pending count live under their own keys
/// ([`crate::storage`]).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Contract<S = MemStorage> {
    pub(crate) root: Root,
    pub(crate) store: S,
}

/// What every call reads: limits and the protocol state. Its size depends only on the
/// participants, domains and their votes, never on requests or candidates.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct Root {
    pub(crate) config: Config,
    pub(crate) protocol: ProtocolState,
}

/// docs/design.md §4.4.
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
        self.phase().name()
    }

    pub(crate) fn phase(&self) -> crate::views::Phase {
        use crate::views::Phase;
        match self {
            Self::NotInitialized => Phase::NotInitialized,
            Self::Running(_) => Phase::Running,
            Self::Initializing(_) => Phase::Initializing,
            Self::Resharing(_) => Phase::Resharing,
        }
    }
}

/// A stable network: who signs, at what threshold, with which keys.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct Running {
    pub epoch: u64,
    pub participants: Participants,
    pub threshold: u64,
    /// Domains with their root keys (as bytes: see [`RawPublicKey`]), in id order.
    pub domains: Vec<(DomainConfig, RawPublicKey)>,
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
    pub pk_votes: BTreeMap<DomainId, BTreeMap<AccountId, RawPublicKey>>,
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

impl<S: Storage> Contract<S> {
    /// A contract whose root was read from its storage (see [`crate::storage::decode_root`]).
    pub fn from_parts(root: Root, store: S) -> Self {
        Self { root, store }
    }

    pub fn root(&self) -> &Root {
        &self.root
    }

    pub fn storage(&self) -> &S {
        &self.store
    }

    pub fn storage_mut(&mut self) -> &mut S {
        &mut self.store
    }

    pub fn into_parts(self) -> (Root, S) {
        (self.root, self.store)
    }

    pub fn config(&self) -> &Config {
        &self.root.config
    }

    /// The network that signs now: the Running state, or the one a key event started from.
    pub(crate) fn signing_network(&self) -> Result<&Running, ContractError> {
        match &self.root.protocol {
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
    ) -> Result<(SignatureScheme, RawPublicKey), ContractError> {
        self.signing_network()?
            .domains
            .iter()
            .find(|(d, _)| d.id == id)
            .map(|(d, k)| (d.scheme, *k))
            .ok_or(ContractError::UnknownDomain(id))
    }
}
