//! The MPC node (DESIGN §2, §5, §6). So far: [`store`], the encrypted, crash-safe store of
//! key shares and precomputed material.

pub mod store;
