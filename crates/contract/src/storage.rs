//! What the contract keeps in storage, key by key (docs/design.md, "Contract storage").
//!
//! A call reads only the keys it needs, so its gas does not grow with the number of pending
//! requests or candidates:
//!
//! | key | value | read by |
//! |---|---|---|
//! | `STATE` | layout tag, then [`Root`]: config, protocol state (participants, domains, votes) | every call |
//! | `pending` | `u32`: how many requests are pending | `sign`, `respond`, timeouts, `system_load` |
//! | `candidates` | the registered candidates with their deposits | membership calls, `state()` |
//! | `r/` + request id | [`RequestRecord`]: one pending request and its waiting callers | calls on that request |
//!
//! The request keys are also how the nodes learn of requests: NEAR reports every write and
//! removal under a key prefix per block (`EXPERIMENTAL_changes` with `data_changes`, and the
//! `state_changes` of NEAR Lake's shard files), so a node follows the chain block by block and
//! decodes each record with [`decode_request`]. A write is a new or updated request, a
//! removal one that was answered or timed out.
//!
//! The host provides [`Storage`]: NEAR's `storage_*` functions in the wasm binding, a map
//! ([`MemStorage`]) for tests and the in-process chain.

use borsh::{BorshDeserialize, BorshSerialize};
use std::collections::BTreeMap;

use crate::error::ContractError;
use crate::state::Root;
use crate::types::{PendingRequest, RequestId};

/// Key-value storage of the contract's account.
pub trait Storage {
    fn read(&self, key: &[u8]) -> Option<Vec<u8>>;
    fn write(&mut self, key: &[u8], value: &[u8]);
    fn remove(&mut self, key: &[u8]);
}

/// Storage in memory: tests and the in-process chain.
pub type MemStorage = BTreeMap<Vec<u8>, Vec<u8>>;

impl Storage for MemStorage {
    fn read(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.get(key).cloned()
    }

    fn write(&mut self, key: &[u8], value: &[u8]) {
        self.insert(key.to_vec(), value.to_vec());
    }

    fn remove(&mut self, key: &[u8]) {
        BTreeMap::remove(self, key);
    }
}

/// The root value's key (near-sdk's convention, so NEAR's tools find it).
pub const STATE_KEY: &[u8] = b"STATE";
pub const PENDING_KEY: &[u8] = b"pending";
pub const CANDIDATES_KEY: &[u8] = b"candidates";
/// Every pending request lives under this prefix followed by its 32-byte id.
pub const REQUEST_PREFIX: &[u8] = b"r/";

/// The root's first byte names its layout (this code writes layout 2). Layout 1 was one
/// borsh value holding everything, requests included; it is recognised only to be refused
/// with a clear error.
const LAYOUT_1_TAG: u8 = 0;
const LAYOUT_2_TAG: u8 = 1;

pub fn request_key(id: &RequestId) -> Vec<u8> {
    [REQUEST_PREFIX, &id.0].concat()
}

/// What a key of the contract's storage holds, for a reader of its changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Root,
    Candidates,
    PendingCount,
    Request(RequestId),
    Other,
}

impl KeyKind {
    /// Whether a change to it changes the `state()` view (membership, keys, candidates).
    pub fn in_state_view(self) -> bool {
        matches!(self, Self::Root | Self::Candidates)
    }
}

pub fn key_kind(key: &[u8]) -> KeyKind {
    match key {
        STATE_KEY => return KeyKind::Root,
        CANDIDATES_KEY => return KeyKind::Candidates,
        PENDING_KEY => return KeyKind::PendingCount,
        _ => {}
    }
    match key
        .strip_prefix(REQUEST_PREFIX)
        .and_then(|id| <[u8; 32]>::try_from(id).ok())
    {
        Some(id) => KeyKind::Request(RequestId(id)),
        None => KeyKind::Other,
    }
}

/// A stored request, behind a version tag so a later layout can still read it.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub enum RequestRecord {
    V1(PendingRequest),
}

impl RequestRecord {
    /// The request, whichever version stored it.
    pub fn into_request(self) -> PendingRequest {
        match self {
            Self::V1(r) => r,
        }
    }
}

/// Why stored bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored {what} does not decode: {reason}")]
pub struct DecodeError {
    pub what: &'static str,
    pub reason: String,
}

fn decode<T: BorshDeserialize>(what: &'static str, bytes: &[u8]) -> Result<T, DecodeError> {
    borsh::from_slice(bytes).map_err(|e| DecodeError {
        what,
        reason: e.to_string(),
    })
}

/// A request record's value, as written under [`request_key`].
pub fn decode_request(bytes: &[u8]) -> Result<PendingRequest, DecodeError> {
    decode::<RequestRecord>("request", bytes).map(RequestRecord::into_request)
}

pub(crate) fn encode_request(request: &PendingRequest) -> Vec<u8> {
    borsh::to_vec(&RequestRecord::V1(request.clone())).expect("records serialize")
}

/// The root's stored form: the layout tag, then the layout.
pub fn encode_root(root: &Root) -> Vec<u8> {
    let mut out = vec![LAYOUT_2_TAG];
    borsh::to_writer(&mut out, root).expect("the root serializes");
    out
}

/// Reads the root; a root of another layout is refused with a clear error.
pub fn decode_root(bytes: &[u8]) -> Result<Root, ContractError> {
    match bytes.split_first() {
        Some((&LAYOUT_2_TAG, rest)) => {
            decode("contract state", rest).map_err(|e| ContractError::CorruptState(e.to_string()))
        }
        Some((&LAYOUT_1_TAG, _)) => Err(ContractError::StateLayout { found: 1 }),
        Some((tag, _)) => Err(ContractError::StateLayout {
            found: u32::from(*tag) + 1,
        }),
        None => Err(ContractError::CorruptState("the state is empty".into())),
    }
}

/// Typed access to the records of one storage.
pub(crate) fn load<T: BorshDeserialize>(
    store: &impl Storage,
    key: &[u8],
    what: &'static str,
) -> Result<Option<T>, ContractError> {
    store
        .read(key)
        .map(|b| decode(what, &b))
        .transpose()
        .map_err(|e| ContractError::CorruptState(e.to_string()))
}

pub(crate) fn save<T: BorshSerialize>(store: &mut impl Storage, key: &[u8], value: &T) {
    store.write(key, &borsh::to_vec(value).expect("records serialize"));
}

pub(crate) fn load_request(
    store: &impl Storage,
    id: &RequestId,
) -> Result<Option<PendingRequest>, ContractError> {
    Ok(load::<RequestRecord>(store, &request_key(id), "request")?.map(RequestRecord::into_request))
}

pub(crate) fn save_request(store: &mut impl Storage, request: &PendingRequest) {
    store.write(&request_key(&request.id), &encode_request(request));
}

/// Candidates in id order.
pub(crate) type Candidates = BTreeMap<crate::types::AccountId, crate::types::Candidate>;
