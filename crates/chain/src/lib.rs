//! How nodes and clients talk to the chain (DESIGN §3).
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
//! - [`NativeCrypto`] (from `contract`): NEAR's `ecrecover` and `ed25519_verify` for native
//!   hosts.

mod call;
mod client;
mod local;
pub mod rpc;

pub use call::Call;
pub use client::{Chain, ChainError, LocalClient, SharedChain};
pub use contract::InitParticipant;
pub use contract::NativeCrypto;
pub use local::{LocalChain, SignTicket, TxError};
pub use rpc::NearRpc;
