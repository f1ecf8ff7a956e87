//! The signer contract's rules, as a pure state machine (docs/design.md §4.3–4.4).
//!
//! Every method is a function of the state, an explicit call context ([`Ctx`]: predecessor,
//! deposit, block height, block random seed, prepaid gas) and its arguments; it returns a
//! result and [`Effect`]s (create a yield for a request, resume yields with a value, refund,
//! log). No host calls happen here, so every rule is tested without a host; the near-sdk
//! binding (crate `contract-wasm`) maps the context from `env` and carries the effects out
//! with `promise_yield_create`, `promise_yield_resume` and transfers. Signature checks go
//! through [`Crypto`], which the binding implements with NEAR's cheap host functions
//! (`ecrecover`, `ed25519_verify`).
//!
//! A refused call returns an error and changes nothing: every method validates fully before
//! its first mutation.
//!
//! State is split by key ([`storage`]): a small root every call reads (behind a layout tag, so
//! a later version can tell and migrate it), and one record per pending request, so no call
//! costs more because others wait. The host hands the core its account's [`Storage`].

mod crypto;
mod error;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
mod init_running;
#[cfg(any(test, feature = "native"))]
mod native;
mod protocol;
mod requests;
mod state;
pub mod storage;
mod types;
pub mod views;

pub use crypto::{verify_response, Crypto};
pub use error::says_not_pending;
pub use error::ContractError;
pub use init_running::InitRunningArgs;
#[cfg(any(test, feature = "native"))]
pub use native::NativeCrypto;
pub use protocol::{CANDIDATE_DEPOSIT, MAX_CANDIDATES};
pub use requests::{request_id, YieldOutcome, MAX_WAITING, SIGN_MIN_GAS};
pub use state::{Contract, Root};
pub use storage::{MemStorage, Storage};
pub use types::*;

#[cfg(test)]
mod tests;
