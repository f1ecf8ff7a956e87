//! Checking a network's answer before any caller sees it.
//!
//! `respond` recomputes the derived key from the request (never trusting the responder for
//! it) and verifies the signature: ECDSA by public-key recovery, Ed25519 by verification,
//! both through [`Crypto`] so that on NEAR they cost a host call (`ecrecover`,
//! `ed25519_verify`) instead of curve arithmetic in wasm; BIP340 with k256 in wasm, as NEAR
//! has no host function for it, under the BIP341 output key of the derived key
//! ([`primitives::taproot`]).

use primitives::derivation::derive_public_key;
use primitives::request::Payload;
use primitives::response::SignatureResponse;
use primitives::taproot::output_key_x;
use primitives::{NearPublicKey, SignatureScheme};

use crate::error::ContractError;

/// The signature primitives the host provides.
pub trait Crypto {
    /// NEAR's `ecrecover` with the malleability check on: the 64-byte `X ‖ Y` key that made
    /// `signature` (`r ‖ s`, low s) over `hash` with recovery id `v` (0 or 1), if any.
    fn ecrecover(&self, hash: &[u8; 32], signature: &[u8; 64], v: u8) -> Option<[u8; 64]>;

    /// NEAR's `ed25519_verify`.
    fn ed25519_verify(&self, signature: &[u8; 64], message: &[u8], public_key: &[u8; 32]) -> bool;
}

fn invalid(reason: &str) -> ContractError {
    ContractError::InvalidSignature(reason.to_owned())
}

/// Whether `response` is a valid signature of `payload` under the key `predecessor` derives
/// with `path` from `root`, for a domain of `scheme`.
pub fn verify_response(
    crypto: &dyn Crypto,
    scheme: SignatureScheme,
    root: &NearPublicKey,
    predecessor: &str,
    path: &str,
    payload: &Payload,
    response: &SignatureResponse,
) -> Result<(), ContractError> {
    let derived =
        derive_public_key(root, predecessor, path).map_err(|e| invalid(&e.to_string()))?;
    let message = payload.as_bytes();
    match (scheme, response) {
        (s, SignatureResponse::Secp256k1(sig)) if s.is_ecdsa() => {
            let hash: [u8; 32] = message
                .try_into()
                .map_err(|_| invalid("payload is not 32 bytes"))?;
            if sig.recovery_id > 1 {
                return Err(invalid("recovery id must be 0 or 1"));
            }
            let recovered = crypto
                .ecrecover(&hash, &sig.to_bytes(), sig.recovery_id)
                .ok_or_else(|| invalid("no key recovers from this signature"))?;
            if recovered.as_slice() != derived.key_bytes().as_slice() {
                return Err(invalid("signature recovers a different key"));
            }
            Ok(())
        }
        (SignatureScheme::Ed25519, SignatureResponse::Ed25519 { signature }) => {
            let key: [u8; 32] = derived
                .key_bytes()
                .try_into()
                .map_err(|_| invalid("derived key is not ed25519"))?;
            if crypto.ed25519_verify(signature, message, &key) {
                Ok(())
            } else {
                Err(invalid("ed25519 verification failed"))
            }
        }
        (SignatureScheme::Bip340, SignatureResponse::Bip340 { signature }) => {
            // Under the derived key's Taproot output key, not the derived key itself: a
            // Bip340 signature spends the P2TR output of the derived key (DESIGN §4.2).
            let internal = derived
                .as_secp256k1()
                .ok_or_else(|| invalid("derived key is not secp256k1"))?;
            let output = output_key_x(internal).map_err(|e| invalid(&e.to_string()))?;
            let key = k256::schnorr::VerifyingKey::from_bytes(&output)
                .map_err(|_| invalid("output key has no x-only form"))?;
            let sig = k256::schnorr::Signature::try_from(&signature[..])
                .map_err(|_| invalid("malformed BIP340 signature"))?;
            key.verify_raw(message, &sig)
                .map_err(|_| invalid("BIP340 verification failed"))
        }
        _ => Err(invalid("response scheme does not match the domain's")),
    }
}
