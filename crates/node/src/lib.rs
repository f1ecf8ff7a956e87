//! The MPC node (DESIGN §2, §5, §6). So far: its [`store`] (encrypted, crash-safe storage of
//! key shares and precomputed material), its [`identity`] (TLS, account and store keys on
//! disk), its [`config`], and [`tls`], the mutually authenticated transport between peers.

pub mod config;
pub mod identity;
pub mod store;
pub mod tls;
