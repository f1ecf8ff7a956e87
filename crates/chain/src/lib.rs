//! How nodes and clients talk to the chain (docs/design.md §3).
//!
//! - [`Call`]: every state-changing method of the signer contract as data — the method name
//!   and JSON arguments a NEAR function call carries, so the same value goes to the in-process
//!   chain, the devnet or NEAR itself.
//! - [`LocalChain`]: an in-process chain that hosts the contract core directly: blocks with
//!   random seeds, the yields `sign` creates, their resumption by `respond`, and NEAR's
//!   200-block yield timeout. Node tests run whole networks against it.
//! - [`Chain`]: what nodes need from a chain, one trait for every chain; [`LocalClient`]
//!   implements it over a shared [`LocalChain`].
//! - [`NearRpc`]: the same trait over NEAR's JSON-RPC, for the devnet (crate `devnet`, which
//!   runs the contract's wasm) and NEAR itself.
//! - [`BlockSource`]: the chain followed block by block — the contract's storage changes in
//!   each final block — over NEAR RPC ([`RpcBlocks`]), NEAR Lake ([`lake::LakeBlocks`]) or
//!   the in-process chain.
//! - [`dry_run`]: a call tried on a copy of the contract's state before it is sent, refused
//!   with the contract's own error.
//! - [`agree`]: several independent sources as one, acted on only where they all agree, so
//!   that no single RPC endpoint can make a node sign what the chain never asked.
//! - [`NativeCrypto`] (from `contract`): NEAR's `ecrecover` and `ed25519_verify` for native
//!   hosts.

pub mod agree;
pub mod blocks;
mod call;
mod client;
pub mod dry_run;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod lake;
mod local;
pub mod rpc;

pub use blocks::{BlockChanges, BlockSource, DataChange, Heights, RpcBlocks, SourceError};
pub use call::Call;
pub use client::{Chain, ChainError, LocalClient, SharedChain};
pub use contract::InitParticipant;
pub use contract::NativeCrypto;
pub use local::{LocalChain, LoggedStorage, SignTicket, TxError};
pub use rpc::{EarlierCall, NearRpc};
