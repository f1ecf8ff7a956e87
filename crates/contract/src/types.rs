//! The contract's data: call context, effects, participants, domains, requests, config.

use borsh::{BorshDeserialize, BorshSerialize};
use primitives::request::Payload;
use primitives::{DomainId, NearPublicKey, ParticipantId, RawPublicKey, SignatureScheme};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A NEAR account id. The binding hands over ids NEAR has validated; the core only compares.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    BorshSerialize,
    BorshDeserialize,
)]
#[serde(transparent)]
pub struct AccountId(pub String);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for AccountId {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// Everything a method may know about the call and the chain.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The contract's own account.
    pub current_account: AccountId,
    pub predecessor: AccountId,
    /// Attached deposit, in yoctoNEAR.
    pub deposit: u128,
    pub block_height: u64,
    pub random_seed: [u8; 32],
    pub prepaid_gas: u64,
}

/// A yield the host created for a request (NEAR's data id), to resume it later.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct YieldId(pub [u8; 32]);

/// Identifies a request: SHA-256 over its predecessor, path, payload and domain, so identical
/// requests have the same id (and share one answer).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct RequestId(pub [u8; 32]);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({self})")
    }
}

impl Serialize for RequestId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RequestId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        let bytes = hex::decode(&s).map_err(serde::de::Error::custom)?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("request id must be 32 bytes of hex"))?;
        Ok(Self(arr))
    }
}

/// What the host must do after a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Create a yield for this request whose callback names this key, make it the call's
    /// result, and report its data id back with [`crate::Contract::yielded`]. (The callback's
    /// arguments are fixed before the data id exists, hence a key of our own.)
    Yield(RequestId, u64),
    /// Resume these yields with this JSON value (the callback returns it to the caller).
    Resume(Vec<YieldId>, String),
    /// Send this many yoctoNEAR back.
    Refund(AccountId, u128),
    /// Write a log line (NEP-297 events start with `EVENT_JSON:`).
    Log(String),
}

/// Limits an operator may tune; JSON of the `config()` view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, BorshSerialize, BorshDeserialize)]
pub struct Config {
    /// A request not answered in this many blocks fails with a timeout (NEAR's yield limit).
    pub request_timeout_blocks: u64,
    /// Pending requests beyond this are refused as "overloaded".
    pub max_pending_requests: u32,
    /// Longest derivation path, in bytes.
    pub max_path_len: u32,
    /// A key generation or resharing attempt that takes longer can be aborted.
    pub key_event_timeout_blocks: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            request_timeout_blocks: 200,
            max_pending_requests: 1024,
            max_path_len: 256,
            key_event_timeout_blocks: 300,
        }
    }
}

/// An account that registered to join, and the deposit it keeps locked until it joins or
/// withdraws (it pays for the storage its entry takes).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Candidate {
    pub info: ParticipantInfo,
    pub deposit: u128,
}

/// How to reach a participant and how to recognise it (docs/design.md §8.2: the TLS key is the only one
/// a peer's certificate may carry).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, BorshSerialize, BorshDeserialize)]
pub struct ParticipantInfo {
    pub url: String,
    /// Kept as bytes (checked when it came in as a [`NearPublicKey`]), so that reading the
    /// state decodes no points.
    pub tls_public_key: RawPublicKey,
}

/// A participant as `init` takes it: `{"account_id", "url", "tls_public_key"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitParticipant {
    pub account_id: String,
    pub url: String,
    pub tls_public_key: NearPublicKey,
}

impl From<InitParticipant> for (AccountId, ParticipantInfo) {
    fn from(p: InitParticipant) -> Self {
        let info = ParticipantInfo {
            url: p.url,
            tls_public_key: p.tls_public_key.into(),
        };
        (AccountId(p.account_id), info)
    }
}

/// The participant set of an epoch: account → (id, info). Ids are stable across epochs.
#[derive(Clone, Debug, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
pub struct Participants {
    pub(crate) members: BTreeMap<AccountId, (ParticipantId, ParticipantInfo)>,
    /// The id the next newcomer gets.
    pub(crate) next_id: u32,
}

impl Participants {
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn contains(&self, account: &AccountId) -> bool {
        self.members.contains_key(account)
    }

    pub fn id_of(&self, account: &AccountId) -> Option<ParticipantId> {
        self.members.get(account).map(|(id, _)| *id)
    }

    pub fn accounts(&self) -> impl Iterator<Item = &AccountId> {
        self.members.keys()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&AccountId, &ParticipantId, &ParticipantInfo)> {
        self.members.iter().map(|(a, (id, info))| (a, id, info))
    }

    /// Adds a newcomer with the next free id.
    pub(crate) fn add(&mut self, account: AccountId, info: ParticipantInfo) {
        let id = ParticipantId(self.next_id);
        self.next_id += 1;
        self.members.insert(account, (id, info));
    }
}

/// A signing domain: one master key of one scheme.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, BorshSerialize, BorshDeserialize)]
pub struct DomainConfig {
    pub id: DomainId,
    pub scheme: SignatureScheme,
}

/// A request waiting for the network's answer, as stored under its own key.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct PendingRequest {
    pub id: RequestId,
    pub predecessor: AccountId,
    pub path: String,
    pub payload: Payload,
    pub domain_id: DomainId,
    /// The block's random seed when the request was accepted: public entropy the signers
    /// rerandomize with (docs/design.md §7.3), fixed only after the request was in.
    pub entropy: [u8; 32],
    pub created_at: u64,
    /// The key the next caller waiting for this request gets.
    pub next_key: u64,
    /// Every caller waiting for this answer (at most [`crate::MAX_WAITING`]).
    pub yields: Vec<Waiting>,
}

/// One caller waiting for an answer: the key its callback names, and the host's yield.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Waiting {
    pub key: u64,
    pub yield_id: Option<YieldId>,
}
