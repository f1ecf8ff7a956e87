//! NEAR's signature host functions, natively: what a native host of the contract provides
//! (the in-process chain, tests). Built with the `native` feature, and for this crate's tests.

use crate::Crypto;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};

/// `ecrecover` (with NEAR's malleability check) and `ed25519_verify`, on k256 and
/// ed25519-dalek.
#[derive(Clone, Copy, Debug, Default)]
pub struct NativeCrypto;

impl Crypto for NativeCrypto {
    fn ecrecover(&self, hash: &[u8; 32], signature: &[u8; 64], v: u8) -> Option<[u8; 64]> {
        let sig = Signature::from_slice(signature).ok()?;
        if sig.normalize_s().is_some() {
            return None; // high s: refused, as NEAR's malleability flag does
        }
        let key = VerifyingKey::recover_from_prehash(hash, &sig, RecoveryId::from_byte(v)?).ok()?;
        key.to_encoded_point(false).as_bytes()[1..].try_into().ok()
    }

    fn ed25519_verify(&self, signature: &[u8; 64], message: &[u8], public_key: &[u8; 32]) -> bool {
        ed25519_dalek::VerifyingKey::from_bytes(public_key)
            .and_then(|k| {
                k.verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
            })
            .is_ok()
    }
}
