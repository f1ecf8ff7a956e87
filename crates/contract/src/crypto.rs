//! Checking a network's answer before any caller sees it.
//!
//! `respond` recomputes the derived key from the request (never trusting the responder for
//! it) and verifies the signature: ECDSA by public-key recovery, Ed25519 by verification,
//! BIP340 under the BIP341 output key of the derived key ([`primitives::taproot`]). All of it
//! goes through [`Crypto`], so that on NEAR it costs host calls (`ecrecover`,
//! `ed25519_verify`) instead of curve arithmetic in wasm: NEAR has no host function for
//! secp256k1 point arithmetic or BIP340, but `ecrecover` computes any `a·R + b·G`
//! ([`host_ec`]). Where it cannot (probability ~2⁻¹²⁸ per key), k256 in wasm decides.

use primitives::derivation::{derive_public_key, secp256k1_tweak};
use primitives::request::Payload;
use primitives::response::SignatureResponse;
use primitives::taproot::output_key_x;
use primitives::{NearPublicKey, SignatureScheme};

use crate::error::ContractError;

mod host_ec;

/// The signature primitives the host provides.
pub trait Crypto {
    /// NEAR's `ecrecover`: the 64-byte `X ‖ Y` key that made `signature` (`r ‖ s`; low s
    /// only with `malleability_flag`) over `hash` with recovery id `v` (0 or 1), if any.
    fn ecrecover(
        &self,
        hash: &[u8; 32],
        signature: &[u8; 64],
        v: u8,
        malleability_flag: bool,
    ) -> Option<[u8; 64]>;

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
    let message = payload.as_bytes();
    match (scheme, response, root) {
        (s, SignatureResponse::Secp256k1(sig), NearPublicKey::Secp256k1(_)) if s.is_ecdsa() => {
            let hash: [u8; 32] = message
                .try_into()
                .map_err(|_| invalid("payload is not 32 bytes"))?;
            if sig.recovery_id > 1 {
                return Err(invalid("recovery id must be 0 or 1"));
            }
            let derived = derive_secp256k1(crypto, root, predecessor, path)?;
            let recovered = crypto
                .ecrecover(&hash, &sig.to_bytes(), sig.recovery_id, true)
                .ok_or_else(|| invalid("no key recovers from this signature"))?;
            if recovered != derived {
                return Err(invalid("signature recovers a different key"));
            }
            Ok(())
        }
        (SignatureScheme::Ed25519, SignatureResponse::Ed25519 { signature }, _) => {
            let derived =
                derive_public_key(root, predecessor, path).map_err(|e| invalid(&e.to_string()))?;
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
        (SignatureScheme::Bip340, SignatureResponse::Bip340 { signature }, _) => {
            // Under the derived key's Taproot output key, not the derived key itself: a
            // Bip340 signature spends the P2TR output of the derived key (docs/design.md §4.2).
            let internal = derive_secp256k1(crypto, root, predecessor, path)?;
            let fast = host_ec::taproot_output(crypto, &internal).and_then(|output| {
                let key = output[..32].try_into().expect("32 bytes");
                host_ec::verify_bip340(crypto, &key, message, signature)
            });
            let valid = match fast {
                Some(valid) => valid,
                None => verify_bip340_in_wasm(&internal, message, signature)?,
            };
            if valid {
                Ok(())
            } else {
                Err(invalid("BIP340 verification failed"))
            }
        }
        _ => Err(invalid("response scheme does not match the domain's")),
    }
}

/// `root + ε·G` as `X ‖ Y`, through the host where it can ([`host_ec::derive`]).
fn derive_secp256k1(
    crypto: &dyn Crypto,
    root: &NearPublicKey,
    predecessor: &str,
    path: &str,
) -> Result<[u8; 64], ContractError> {
    let tweak = secp256k1_tweak(predecessor, path).map_err(|e| invalid(&e.to_string()))?;
    let root_xy: [u8; 64] = root
        .key_bytes()
        .try_into()
        .map_err(|_| invalid("root key is not secp256k1"))?;
    if let Some(derived) = host_ec::derive(crypto, &root_xy, &tweak) {
        return Ok(derived);
    }
    let derived =
        derive_public_key(root, predecessor, path).map_err(|e| invalid(&e.to_string()))?;
    derived
        .key_bytes()
        .try_into()
        .map_err(|_| invalid("derived key is not secp256k1"))
}

/// BIP340 under the output key of `internal` (`X ‖ Y`), with k256 in wasm.
fn verify_bip340_in_wasm(
    internal: &[u8; 64],
    message: &[u8],
    signature: &[u8; 64],
) -> Result<bool, ContractError> {
    let mut sec1 = [4u8; 65];
    sec1[1..].copy_from_slice(internal);
    let internal = k256::PublicKey::from_sec1_bytes(&sec1)
        .map_err(|_| invalid("derived key is not on secp256k1"))?;
    let output = output_key_x(internal.as_affine()).map_err(|e| invalid(&e.to_string()))?;
    let key = k256::schnorr::VerifyingKey::from_bytes(&output)
        .map_err(|_| invalid("output key has no x-only form"))?;
    let Ok(sig) = k256::schnorr::Signature::try_from(&signature[..]) else {
        return Ok(false);
    };
    Ok(key.verify_raw(message, &sig).is_ok())
}
