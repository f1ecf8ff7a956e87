//! The MPC node (DESIGN §2, §5, §6): a [`service::Node`] follows the signer contract through
//! a [`chain::Chain`], talks to its peers over the [`mesh`] (mutually authenticated TLS,
//! [`tls`], carrying [`frame`]s, routed to protocol instances by the [`router`] and run by the
//! [`driver`]), keeps its key shares and stockpiles in the encrypted [`store`], and reports
//! through [`metrics`]. Its [`identity`] and [`config`] live in its data dir.

pub mod config;
pub mod driver;
pub mod frame;
pub mod identity;
pub mod keys;
pub mod mesh;
pub mod metrics;
pub mod router;
pub mod service;
pub mod store;
pub mod tls;
