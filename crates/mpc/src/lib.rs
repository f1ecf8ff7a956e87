//! The threshold protocols of chain signatures, each a sans-IO state machine.
//!
//! Every protocol — key generation, resharing, refresh, precomputation, signing, for every
//! scheme — is driven through one interface, [`Instance`]: feed it the bytes peers sent
//! ([`Instance::message`]) and poll it ([`Instance::poke`]) for what to do next (send to all,
//! send to one, wait, or done with an output). Nothing here opens a socket, spawns a task or
//! touches a disk; the node does that, and the in-process [`runner`] does it for tests and
//! benches.
//!
//! | scheme | module | library | protocols |
//! |---|---|---|---|
//! | Secp256k1 ECDSA | [`ecdsa`] | cait-sith 0.8 | DKG, reshare, refresh, Beaver triples, presign; our own rerandomized 1-round sign |
//! | Secp256k1 ECDSA, honest majority | [`ecdsa::fast_presign`] | our own (DJNPO 2020) | presign without triples among 2t − 1; the same sign |
//! | Ed25519 | [`frost`] with [`frost::Ed25519`] | frost-ed25519 3.0 | DKG; our own reshare/refresh; nonce precompute; tweaked sign |
//! | BIP340 | [`frost`] with [`frost::Bip340`] | frost-secp256k1-tr 3.0 | as Ed25519, with BIP340's even-Y rule |
//!
//! [`dealer`] splits a master secret from a seed into the shares these protocols use, for
//! devnets only (no threshold security: the dealer knows the key).
//!
//! Every participant is evaluated at `id + 1` in every scheme, so shares of one key agree on
//! their Lagrange coefficients whichever protocol reads them (docs/design.md §7.5).
//!
//! Secret material (key shares, triples, presignatures, nonces) is zeroized on drop, has no
//! `Clone`, and is consumed by value by the protocol that uses it: using a presignature twice
//! does not type-check. Its `Debug` output never shows secrets.

pub mod cost;
pub mod dealer;
pub mod ecdsa;
pub mod frost;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
mod protocol;
mod rounds;
pub mod runner;
#[cfg(test)]
mod testing;
mod wire;

pub use protocol::{Action, InitError, Participant, Protocol, ProtocolError, Resharing};
pub use wire::{instance_id_of, Instance, InstanceId, WireError, MAX_MESSAGE_BYTES, WIRE_VERSION};
