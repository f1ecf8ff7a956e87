//! The contract core, method by method, without a host.

mod lifecycle;
mod membership;
mod signing;
mod views;

use ed25519_dalek::hazmat::{raw_sign, ExpandedSecretKey};
use k256::ecdsa::signature::hazmat::PrehashSigner;
use primitives::derivation::{ed25519_tweak, secp256k1_tweak};
use primitives::response::{EcdsaSignature, SignatureResponse};
use primitives::{DomainId, NearPublicKey, SignatureScheme};

use crate::*;

/// The host's signature primitives, done with k256 and ed25519-dalek.
pub(crate) struct TestCrypto;

impl Crypto for TestCrypto {
    fn ecrecover(&self, hash: &[u8; 32], signature: &[u8; 64], v: u8) -> Option<[u8; 64]> {
        let sig = k256::ecdsa::Signature::from_slice(signature).ok()?;
        if sig.normalize_s().is_some() {
            return None; // NEAR's malleability check
        }
        let id = k256::ecdsa::RecoveryId::from_byte(v)?;
        let key = k256::ecdsa::VerifyingKey::recover_from_prehash(hash, &sig, id).ok()?;
        key.to_encoded_point(false).as_bytes()[1..].try_into().ok()
    }

    fn ed25519_verify(&self, signature: &[u8; 64], message: &[u8], public_key: &[u8; 32]) -> bool {
        let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(public_key) else {
            return false;
        };
        key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
            .is_ok()
    }
}

/// Root secrets the test network "holds": real keys, so signatures are real.
pub(crate) struct Keys {
    secp: k256::Scalar,
    ed: curve25519_dalek::Scalar,
    bip: k256::Scalar,
}

impl Keys {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            secp: k256::Scalar::from(seed * 7 + 1),
            ed: curve25519_dalek::Scalar::from(seed * 11 + 2),
            bip: k256::Scalar::from(seed * 13 + 3),
        }
    }

    pub(crate) fn public(&self, scheme: SignatureScheme) -> NearPublicKey {
        match scheme {
            SignatureScheme::Secp256k1 => {
                NearPublicKey::Secp256k1((k256::ProjectivePoint::GENERATOR * self.secp).to_affine())
            }
            SignatureScheme::Bip340 => {
                NearPublicKey::Secp256k1((k256::ProjectivePoint::GENERATOR * self.bip).to_affine())
            }
            SignatureScheme::Ed25519 => NearPublicKey::Ed25519(
                curve25519_dalek::constants::ED25519_BASEPOINT_POINT * self.ed,
            ),
        }
    }

    /// The signature the network would produce for this request.
    pub(crate) fn sign(
        &self,
        scheme: SignatureScheme,
        predecessor: &str,
        path: &str,
        message: &[u8],
    ) -> SignatureResponse {
        match scheme {
            SignatureScheme::Secp256k1 => {
                let d = self.secp + secp256k1_tweak(predecessor, path).unwrap();
                let key = k256::ecdsa::SigningKey::from_bytes(&d.to_bytes()).unwrap();
                let (sig, rec): (k256::ecdsa::Signature, k256::ecdsa::RecoveryId) =
                    key.sign_prehash(message).unwrap();
                let x = sig.r().to_bytes();
                let mut sec1 = [0u8; 33];
                sec1[0] = if rec.is_y_odd() { 3 } else { 2 };
                sec1[1..].copy_from_slice(&x);
                let Ok(NearPublicKey::Secp256k1(big_r)) = NearPublicKey::secp256k1_from_sec1(&sec1)
                else {
                    panic!("R decodes")
                };
                SignatureResponse::Secp256k1(EcdsaSignature {
                    big_r,
                    s: *sig.s(),
                    recovery_id: rec.to_byte(),
                })
            }
            SignatureScheme::Ed25519 => {
                let d = self.ed + ed25519_tweak(predecessor, path);
                let esk = ExpandedSecretKey {
                    scalar: d,
                    hash_prefix: [9; 32],
                };
                let vk = ed25519_dalek::VerifyingKey::from(&esk);
                SignatureResponse::Ed25519 {
                    signature: raw_sign::<sha2::Sha512>(&esk, message, &vk).to_bytes(),
                }
            }
            SignatureScheme::Bip340 => {
                let d = self.bip + secp256k1_tweak(predecessor, path).unwrap();
                let key = k256::schnorr::SigningKey::from_bytes(&d.to_bytes()).unwrap();
                SignatureResponse::Bip340 {
                    signature: key.sign_raw(message, &[5; 32]).unwrap().to_bytes(),
                }
            }
        }
    }
}

pub(crate) fn account(name: &str) -> AccountId {
    AccountId(name.to_owned())
}

pub(crate) fn ctx(who: &str, height: u64) -> Ctx {
    Ctx {
        predecessor: account(who),
        deposit: 1,
        block_height: height,
        random_seed: [height as u8; 32],
        prepaid_gas: 300_000_000_000_000,
    }
}

pub(crate) fn info(n: u8) -> ParticipantInfo {
    let key = curve25519_dalek::constants::ED25519_BASEPOINT_POINT
        * curve25519_dalek::Scalar::from(u64::from(n) + 100);
    ParticipantInfo {
        url: format!("https://node{n}.example:3000"),
        tls_public_key: NearPublicKey::Ed25519(key),
    }
}

pub(crate) const NODES: [&str; 3] = ["alice.near", "bob.near", "carol.near"];

/// Three participants, threshold 2, no domains.
pub(crate) fn network() -> Contract {
    let ps = NODES
        .iter()
        .enumerate()
        .map(|(i, a)| (account(a), info(i as u8)))
        .collect();
    Contract::init(ps, 2, None).unwrap()
}

pub(crate) const SCHEMES: [SignatureScheme; 3] = [
    SignatureScheme::Secp256k1,
    SignatureScheme::Ed25519,
    SignatureScheme::Bip340,
];

/// Adds the three domains (ids 0, 1, 2) with `keys`, through the votes.
pub(crate) fn add_domains(c: &mut Contract, keys: &Keys, height: u64) {
    let epoch = c.state_view().epoch.unwrap();
    let voters: Vec<String> = c
        .state_view()
        .participants
        .iter()
        .map(|p| p.account_id.0.clone())
        .collect();
    let first = c.state_view().domains.len() as u64;
    for v in &voters {
        c.vote_add_domains(&ctx(v, height), &SCHEMES, epoch)
            .unwrap();
    }
    c.start_keygen_instance(&ctx(&voters[0], height), epoch)
        .unwrap();
    for (i, scheme) in SCHEMES.iter().enumerate() {
        for v in &voters {
            c.vote_pk(
                &ctx(v, height + 1),
                DomainId(first + i as u64),
                keys.public(*scheme),
                epoch,
            )
            .unwrap();
        }
    }
    assert_eq!(c.state_view().state, "Running");
}

/// `sign` arguments for a domain, with a payload fit for its scheme.
pub(crate) fn sign_args(
    domain: u64,
    scheme: SignatureScheme,
    path: &str,
    msg: u8,
) -> primitives::request::SignArgs {
    let payload = match scheme {
        SignatureScheme::Secp256k1 => serde_json::json!({"Ecdsa": hex::encode([msg; 32])}),
        _ => serde_json::json!({"Eddsa": hex::encode([msg; 40])}),
    };
    serde_json::from_value(serde_json::json!({
        "request": {"path": path, "payload_v2": payload, "domain_id": domain}
    }))
    .unwrap()
}

/// The payload bytes `sign_args` puts in.
pub(crate) fn payload_bytes(scheme: SignatureScheme, msg: u8) -> Vec<u8> {
    match scheme {
        SignatureScheme::Secp256k1 => vec![msg; 32],
        _ => vec![msg; 40],
    }
}

/// A caller waiting in a test: the request, the yield key, the host's yield id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Waiter {
    pub id: RequestId,
    pub key: u64,
    pub yield_id: YieldId,
}

/// Runs `sign` as the host would: the yield gets an id derived from a counter.
pub(crate) fn sign_as_host(
    c: &mut Contract,
    ctx: &Ctx,
    args: primitives::request::SignArgs,
    next_yield: &mut u8,
) -> Result<(Waiter, Vec<Effect>), ContractError> {
    let effects = c.sign(ctx, args)?;
    let Some(Effect::Yield(id, key)) = effects.first().cloned() else {
        panic!("sign yields first: {effects:?}")
    };
    let yield_id = YieldId([*next_yield; 32]);
    *next_yield += 1;
    c.yielded(id, key, yield_id).unwrap();
    Ok((Waiter { id, key, yield_id }, effects))
}
