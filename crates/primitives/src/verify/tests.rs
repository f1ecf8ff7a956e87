//! Signatures made here with known secrets (root + ε, as the network signs) must verify, and
//! every way of spoiling one must be refused with its reason.

use super::*;
use crate::derivation::{ed25519_tweak, secp256k1_tweak};
use crate::response::EcdsaSignature;
use ed25519_dalek::hazmat::{raw_sign, ExpandedSecretKey};
use k256::{ProjectivePoint, Scalar};
use proptest::prelude::*;

const ROOT: u64 = 0x5eed;

fn secp_root() -> NearPublicKey {
    NearPublicKey::Secp256k1((ProjectivePoint::GENERATOR * Scalar::from(ROOT)).to_affine())
}

fn ed_root() -> NearPublicKey {
    NearPublicKey::Ed25519(
        curve25519_dalek::constants::ED25519_BASEPOINT_POINT * curve25519_dalek::Scalar::from(ROOT),
    )
}

fn secp_secret(who: &str, path: &str) -> Scalar {
    Scalar::from(ROOT) + secp256k1_tweak(who, path).unwrap()
}

fn ecdsa(who: &str, path: &str, hash: &[u8; 32]) -> EcdsaSignature {
    let key = k256::ecdsa::SigningKey::from_bytes(&secp_secret(who, path).to_bytes()).unwrap();
    let (sig, id) = key.sign_prehash_recoverable(hash).unwrap();
    let mut sec1 = [0u8; 33];
    sec1[0] = 2 + u8::from(id.is_y_odd());
    sec1[1..].copy_from_slice(&sig.r().to_bytes());
    EcdsaSignature {
        big_r: *NearPublicKey::secp256k1_from_sec1(&sec1)
            .unwrap()
            .as_secp256k1()
            .unwrap(),
        s: *sig.s(),
        recovery_id: id.to_byte(),
    }
}

fn ed25519(who: &str, path: &str, message: &[u8]) -> SignatureResponse {
    let esk = ExpandedSecretKey {
        scalar: curve25519_dalek::Scalar::from(ROOT) + ed25519_tweak(who, path),
        hash_prefix: [3; 32],
    };
    let vk = ed25519_dalek::VerifyingKey::from(&esk);
    SignatureResponse::Ed25519 {
        signature: raw_sign::<sha2::Sha512>(&esk, message, &vk).to_bytes(),
    }
}

/// Under the Taproot output key, or (`tweaked == false`) wrongly under the internal key.
fn bip340(who: &str, path: &str, message: &[u8], tweaked: bool) -> SignatureResponse {
    let d = secp_secret(who, path);
    let d = if tweaked {
        crate::taproot::output_secret(&d).unwrap()
    } else {
        d
    };
    let key = k256::schnorr::SigningKey::from_bytes(&d.to_bytes()).unwrap();
    SignatureResponse::Bip340 {
        signature: key.sign_raw(message, &[1; 32]).unwrap().to_bytes(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn what_the_network_would_sign_verifies_and_nothing_else(
        path in "[a-z0-9,/-]{0,24}",
        hash in any::<[u8; 32]>(),
        message in proptest::collection::vec(any::<u8>(), 32..200),
    ) {
        prop_assume!(secp256k1_tweak("alice.near", &path).is_ok());
        let (secp, ed) = (secp_root(), ed_root());
        let sig = SignatureResponse::Secp256k1(ecdsa("alice.near", &path, &hash));
        prop_assert_eq!(verify_signature(&secp, "alice.near", &path, &hash, &sig), Ok(()));
        let eds = ed25519("alice.near", &path, &message);
        prop_assert_eq!(verify_signature(&ed, "alice.near", &path, &message, &eds), Ok(()));
        let bip = bip340("alice.near", &path, &message, true);
        prop_assert_eq!(verify_signature(&secp, "alice.near", &path, &message, &bip), Ok(()));

        // Another account, another path or another message: refused, whatever the scheme.
        let other = format!("{path}x");
        for (root, signed, sig) in [(&secp, &hash[..], &sig), (&ed, &message[..], &eds), (&secp, &message[..], &bip)] {
            prop_assert_eq!(
                verify_signature(root, "bob.near", &path, signed, sig),
                Err(VerifyError::DoesNotVerify)
            );
            prop_assert_eq!(
                verify_signature(root, "alice.near", &other, signed, sig),
                Err(VerifyError::DoesNotVerify)
            );
            let mut tampered = signed.to_vec();
            tampered[0] ^= 1;
            prop_assert_eq!(
                verify_signature(root, "alice.near", &path, &tampered, sig),
                Err(VerifyError::DoesNotVerify)
            );
        }
    }
}

#[test]
fn an_ecdsa_answer_must_recover_the_key_in_its_low_form() {
    let (root, hash) = (secp_root(), [7u8; 32]);
    let good = ecdsa("alice.near", "eth-1", &hash);
    let check = |sig: EcdsaSignature| {
        verify_signature(
            &root,
            "alice.near",
            "eth-1",
            &hash,
            &SignatureResponse::Secp256k1(sig),
        )
    };
    assert_eq!(check(good), Ok(()));
    // The other recovery id recovers another key: an Ethereum transaction would come from
    // an address nobody funded.
    let flipped = EcdsaSignature {
        recovery_id: good.recovery_id ^ 1,
        ..good
    };
    assert_eq!(check(flipped), Err(VerifyError::DoesNotVerify));
    for id in [2, 3, 27] {
        let odd = EcdsaSignature {
            recovery_id: id,
            ..good
        };
        assert_eq!(check(odd), Err(VerifyError::RecoveryId(id)));
    }
    // (R, s) and (−R, −s) sign the same hash; only the low s is accepted.
    let high = EcdsaSignature {
        big_r: (-ProjectivePoint::from(good.big_r)).to_affine(),
        s: -good.s,
        recovery_id: good.recovery_id ^ 1,
    };
    assert_eq!(check(high), Err(VerifyError::HighS));
    assert_eq!(
        verify_signature(
            &root,
            "alice.near",
            "eth-1",
            &[7; 33],
            &SignatureResponse::Secp256k1(good)
        ),
        Err(VerifyError::NotAHash(33))
    );
}

#[test]
fn a_bip340_answer_counts_only_under_the_taproot_output_key() {
    let message = b"a key-path spend's sighash, or any message at all";
    let untweaked = bip340("alice.near", "btc-1", message, false);
    assert_eq!(
        verify_signature(&secp_root(), "alice.near", "btc-1", message, &untweaked),
        Err(VerifyError::DoesNotVerify)
    );
}

#[test]
fn a_signature_of_one_curve_under_a_key_of_the_other_is_refused() {
    let eds = ed25519("alice.near", "p", b"m");
    assert_eq!(
        verify_signature(&secp_root(), "alice.near", "p", b"m", &eds),
        Err(VerifyError::KeyMismatch {
            response: "Ed25519",
            key: crate::ids::Curve::Secp256k1
        })
    );
    let bip = bip340("alice.near", "p", b"m", true);
    assert!(matches!(
        verify_signature(&ed_root(), "alice.near", "p", b"m", &bip),
        Err(VerifyError::KeyMismatch { .. })
    ));
}
