//! The MPC node (DESIGN §2, §5, §6). So far: its [`store`] (encrypted, crash-safe storage of
//! key shares and precomputed material), its [`identity`] (TLS, account and store keys on
//! disk), its [`config`], and the transport between peers: [`tls`] (mutual authentication
//! against the contract's key list) carrying [`frame`]s.

pub mod config;
pub mod frame;
pub mod identity;
pub mod store;
pub mod tls;
