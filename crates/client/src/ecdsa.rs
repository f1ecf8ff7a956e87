//! The network's ECDSA answers in the form account-based chains accept: `(r, s)` with `s` in
//! the lower half of the group order (the XRP Ledger and the Cosmos SDK refuse the high-`s`
//! twin as malleable; either verifies mathematically), checked under the derived key before
//! it is placed in a transaction. Chains differ only in the encoding (DER for XRP, 64-byte
//! `r ‖ s` for Cosmos), which the caller picks from the returned k256 signature.

use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{Signature, VerifyingKey};
use k256::AffinePoint;
use primitives::response::SignatureResponse;

/// Why an answer cannot go into a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EcdsaError {
    #[error("the network answered with a {0} signature, not ECDSA")]
    NotEcdsa(&'static str),
    #[error("the network's ECDSA signature is malformed")]
    Malformed,
    #[error("the network's ECDSA signature does not verify under the derived key")]
    DoesNotVerify,
}

/// `response` as a low-`s` signature of `digest` under `key`, verified.
pub fn low_s(
    response: &SignatureResponse,
    digest: &[u8; 32],
    key: &AffinePoint,
) -> Result<Signature, EcdsaError> {
    let SignatureResponse::Secp256k1(sig) = response else {
        return Err(EcdsaError::NotEcdsa(response.kind()));
    };
    let sig = sig.to_k256().map_err(|_| EcdsaError::Malformed)?;
    let sig = sig.normalize_s().unwrap_or(sig);
    let key = VerifyingKey::from_affine(*key).map_err(|_| EcdsaError::Malformed)?;
    key.verify_prehash(digest, &sig)
        .map_err(|_| EcdsaError::DoesNotVerify)?;
    Ok(sig)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::ecdsa::SigningKey;

    /// A network-shaped answer for `digest`, with the high-`s` twin when `high` is set (the
    /// same `r`; the nonce point's sign does not matter here).
    fn answer(signing: &SigningKey, digest: &[u8; 32], high: bool) -> SignatureResponse {
        let mut sig = testkit::ecdsa_sign(signing, digest);
        if high {
            sig.s = -sig.s;
        }
        SignatureResponse::Secp256k1(sig)
    }

    #[test]
    fn answers_come_out_low_s_and_checked() {
        let signing = SigningKey::from_slice(&[5; 32]).unwrap();
        let key = *signing.verifying_key().as_affine();
        let digest = [9u8; 32];
        for high in [false, true] {
            let sig = low_s(&answer(&signing, &digest, high), &digest, &key).unwrap();
            assert!(sig.normalize_s().is_none(), "s is already low");
        }
        let other = [8u8; 32];
        assert_eq!(
            low_s(&answer(&signing, &digest, false), &other, &key),
            Err(EcdsaError::DoesNotVerify)
        );
        let ed = SignatureResponse::Ed25519 { signature: [0; 64] };
        assert!(matches!(
            low_s(&ed, &digest, &key),
            Err(EcdsaError::NotEcdsa(_))
        ));
    }
}
