//! The client side of chain signatures: derive → build → sign → assemble → broadcast.
//!
//! - [`account`]: acting as a NEAR account on any RPC: create sub-accounts, deploy contracts,
//!   call any contract's methods with deposit and gas, views;
//! - [`address`]: the foreign addresses of a derived key (EVM, Bitcoin, Dogecoin, XRP, Cosmos,
//!   Solana, NEAR implicit accounts), docs/design.md §4.2;
//! - [`signer`]: `sign` requests to the signer contract over NEAR RPC, each answer verified
//!   against the derived key before it is used;
//! - [`btc`]: Bitcoin P2WPKH and P2TR key-path spends: selection, fee, change, sighashes, witnesses;
//! - [`doge`]: Dogecoin P2PKH payments (legacy sighash and scriptSig);
//! - [`evm`]: legacy and EIP-1559 transactions, and the Ethereum JSON-RPC a sender needs;
//! - [`solana`]: SOL transfers (legacy transactions) and the Solana JSON-RPC a sender needs;
//! - [`near`]: NEAR transfers from a derived ed25519 implicit account;
//! - [`xrp`]: XRP Ledger payments (its binary codec, signing hash and JSON-RPC);
//! - [`cosmos`]: Cosmos SDK bank sends (protobuf `SIGN_MODE_DIRECT`) and the REST a sender needs;
//! - [`ecdsa`]: the network's ECDSA answers as low-`s` signatures, checked under the key;
//! - [`amount`]: decimal amounts in a chain's base units;
//! - [`jsonrpc`]: the JSON-RPC 2.0 caller the foreign chains' clients share.
//!
//! Everything the `chainsig` CLI does with foreign chains is a call into this crate first.

pub mod account;
pub mod address;
pub mod amount;
pub mod btc;
pub mod cosmos;
pub mod doge;
pub mod ecdsa;
pub mod evm;
pub mod jsonrpc;
pub mod near;
pub mod signer;
pub mod solana;
pub mod xrp;

pub use signer::{Domain, Sent, SignError, Signed, Signer};
