//! Chain-signature primitives shared by the contract, the MPC node, the client and the CLI.
//!
//! Everything here is pure and small enough to build for `wasm32-unknown-unknown`: the signer
//! contract links it. It holds:
//!
//! - [`ids`]: participant and domain ids, signature schemes;
//! - [`derivation`]: NEAR's key derivation (docs/design.md §4.1), bit for bit;
//! - [`keys`]: NEAR public-key strings (`secp256k1:` / `ed25519:` + base58);
//! - [`request`] and [`response`]: the JSON of the signer contract's `sign` (docs/design.md §4.3);
//! - [`taproot`]: the BIP341 key-path output key Bip340 signatures verify under;
//! - `verify` (feature `verify`, not in the contract's wasm): a returned signature checked with
//!   the libraries the foreign chains verify with.

pub mod derivation;
pub mod ids;
pub mod keys;
pub mod request;
pub mod response;
pub mod taproot;
#[cfg(feature = "verify")]
pub mod verify;

pub use derivation::DeriveError;
pub use ids::{DomainId, ParticipantId, SignatureScheme};
pub use keys::{KeyError, NearPublicKey, RawPublicKey};
