//! Checking a signature the network returned, with the libraries the foreign chains verify with
//! (built with the `verify` feature; the contract's wasm leaves it out).
//!
//! The contract checks every answer with its own rule before resuming the caller
//! (`contract::verify_response`, made of NEAR's host functions). Clients and tests check again,
//! independently of that rule and of the protocols that made the signature:
//!
//! - ECDSA (both secp256k1 ECDSA domains): `s` must be low (the form Bitcoin relays and the
//!   contract accepts), and the key k256 recovers from `(R, s, recovery id)` must be the derived
//!   key, as Ethereum's `ecrecover` would recover it (recovery verifies the signature too);
//! - Ed25519: ed25519-dalek's strict verification under the derived key;
//! - BIP340: k256's Schnorr verification (messages of any length, as BIP340 allows) under the
//!   derived key's Taproot output key ([`crate::taproot`], docs/design.md §4.2), the key a
//!   key-path spend is checked against.
//!
//! Natively these are several times cheaper than the contract's rule, which builds every point
//! operation out of `ecrecover` calls (~1 ms per BIP340 signature): `chainsig bench` verifies
//! hundreds of answers a second on the machine it measures.

use crate::derivation::derive_public_key;
use crate::response::SignatureResponse;
use crate::NearPublicKey;
use k256::ecdsa::VerifyingKey;
use k256::elliptic_curve::scalar::IsHigh;

/// Why a signature is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot derive the key: {0}")]
    Derive(#[from] crate::DeriveError),
    #[error("a {response} signature cannot be under a {key:?} key")]
    KeyMismatch {
        response: &'static str,
        key: crate::ids::Curve,
    },
    #[error("ECDSA signs a 32-byte hash, not {0} bytes")]
    NotAHash(usize),
    #[error("s is high: chains and the contract accept only the low form")]
    HighS,
    #[error("the recovery id must be 0 or 1, not {0}")]
    RecoveryId(u8),
    #[error("the signature is malformed: {0}")]
    Malformed(String),
    #[error("the signature does not verify under the derived key")]
    DoesNotVerify,
}

/// Whether `response` signs `message` under the key `predecessor` derives for `path` from
/// `root` (for ECDSA, `message` is the 32-byte hash).
pub fn verify_signature(
    root: &NearPublicKey,
    predecessor: &str,
    path: &str,
    message: &[u8],
    response: &SignatureResponse,
) -> Result<(), VerifyError> {
    let derived = derive_public_key(root, predecessor, path)?;
    match (response, &derived) {
        (SignatureResponse::Secp256k1(sig), NearPublicKey::Secp256k1(key)) => {
            let hash: &[u8; 32] = message
                .try_into()
                .map_err(|_| VerifyError::NotAHash(message.len()))?;
            if bool::from(sig.s.is_high()) {
                return Err(VerifyError::HighS);
            }
            let id = sig
                .k256_recovery_id()
                .filter(|id| !id.is_x_reduced())
                .ok_or(VerifyError::RecoveryId(sig.recovery_id))?;
            let signature = sig
                .to_k256()
                .map_err(|e| VerifyError::Malformed(e.to_string()))?;
            let recovered = VerifyingKey::recover_from_prehash(hash, &signature, id)
                .map_err(|_| VerifyError::DoesNotVerify)?;
            if recovered.as_affine() != key {
                return Err(VerifyError::DoesNotVerify);
            }
            Ok(())
        }
        (SignatureResponse::Ed25519 { signature }, NearPublicKey::Ed25519(key)) => {
            let key = ed25519_dalek::VerifyingKey::from_bytes(&key.compress().0)
                .map_err(|e| VerifyError::Malformed(e.to_string()))?;
            key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
                .map_err(|_| VerifyError::DoesNotVerify)
        }
        (SignatureResponse::Bip340 { signature }, NearPublicKey::Secp256k1(internal)) => {
            let output = crate::taproot::output_key_x(internal)?;
            let output = k256::schnorr::VerifyingKey::from_bytes(&output)
                .map_err(|e| VerifyError::Malformed(e.to_string()))?;
            let signature = k256::schnorr::Signature::try_from(signature.as_slice())
                .map_err(|e| VerifyError::Malformed(e.to_string()))?;
            output
                .verify_raw(message, &signature)
                .map_err(|_| VerifyError::DoesNotVerify)
        }
        (response, key) => Err(VerifyError::KeyMismatch {
            response: response.kind(),
            key: key.curve(),
        }),
    }
}

#[cfg(test)]
mod near_mpc;
#[cfg(test)]
mod tests;
