//! A Bitcoin regtest chain for the devnet and the tests (`chainsig-btc-regtest`): every block
//! is accepted as the tip by Bitcoin Core's own validation engine (the `bitcoinkernel` crate)
//! before anything is served from it, transactions are checked by that engine's script
//! verification before they enter the mempool, a block is mined every interval with the
//! mempool, and an Esplora HTTP API serves it — what `chainsig btc send --esplora` and common
//! wallets use — plus a devnet faucet that no real network has.
//!
//! - [`block`]: how blocks are built (coinbase, witness commitment, proof of work);
//! - [`chain`]: the kernel, the mempool's checks, mining;
//! - [`index`], [`mempool`]: what the API answers from;
//! - [`faucet`]: the devnet's coins;
//! - [`esplora`]: the HTTP API; [`service`]: the miner and the server together.
//!
//! Its own crate and binary: the kernel is a large C++ build that `chainsig` does not link;
//! `chainsig devnet --with bitcoin` runs this binary as a child process.

pub mod block;
pub mod chain;
pub mod esplora;
pub mod faucet;
pub mod index;
pub mod mempool;
pub mod service;

pub use chain::{Chain, ChainError, TxRejected};
pub use service::Service;
