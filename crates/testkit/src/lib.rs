//! Test-only helpers shared by the contract, chain and node tests.
//!
//! [`Keys`] holds known root secrets for the three schemes and signs exactly as the MPC network
//! would under a derived key (root + ε), so tests get real signatures without running the
//! threshold protocols. Never use these keys outside tests.

use ed25519_dalek::hazmat::{raw_sign, ExpandedSecretKey};
use k256::ecdsa::signature::hazmat::PrehashSigner;
use primitives::derivation::{ed25519_tweak, secp256k1_tweak};
use primitives::response::{EcdsaSignature, SignatureResponse};
use primitives::{NearPublicKey, SignatureScheme};

/// Every scheme, in the order devnets add their domains.
pub const SCHEMES: [SignatureScheme; 3] = [
    SignatureScheme::Secp256k1,
    SignatureScheme::Ed25519,
    SignatureScheme::Bip340,
];

/// Known root secrets, one per scheme.
pub struct Keys {
    secp: k256::Scalar,
    ed: curve25519_dalek::Scalar,
    bip: k256::Scalar,
    v2: k256::Scalar,
}

impl Keys {
    /// Distinct, deterministic keys for each seed.
    pub fn new(seed: u64) -> Self {
        Self {
            secp: k256::Scalar::from(seed * 7 + 1),
            ed: curve25519_dalek::Scalar::from(seed * 11 + 2),
            bip: k256::Scalar::from(seed * 13 + 3),
            v2: k256::Scalar::from(seed * 17 + 4),
        }
    }

    /// The root public key of a scheme's domain.
    pub fn public(&self, scheme: SignatureScheme) -> NearPublicKey {
        let secp = |x: k256::Scalar| {
            NearPublicKey::Secp256k1((k256::ProjectivePoint::GENERATOR * x).to_affine())
        };
        match scheme {
            SignatureScheme::Secp256k1 => secp(self.secp),
            SignatureScheme::Bip340 => secp(self.bip),
            SignatureScheme::V2Secp256k1 => secp(self.v2),
            SignatureScheme::Ed25519 => NearPublicKey::Ed25519(
                curve25519_dalek::constants::ED25519_BASEPOINT_POINT * self.ed,
            ),
        }
    }

    /// The secret of the key `predecessor` derives under `path` on a secp256k1 domain
    /// (root + ε; for Bip340 before the Taproot tweak).
    pub fn derived_secp256k1_secret(
        &self,
        scheme: SignatureScheme,
        predecessor: &str,
        path: &str,
    ) -> k256::Scalar {
        let root = match scheme {
            SignatureScheme::Secp256k1 => self.secp,
            SignatureScheme::Bip340 => self.bip,
            SignatureScheme::V2Secp256k1 => self.v2,
            SignatureScheme::Ed25519 => panic!("Ed25519 is not a secp256k1 scheme"),
        };
        root + secp256k1_tweak(predecessor, path).expect("tweak in range")
    }

    /// The signature the network would return for `message` from `predecessor` under `path`.
    pub fn sign(
        &self,
        scheme: SignatureScheme,
        predecessor: &str,
        path: &str,
        message: &[u8],
    ) -> SignatureResponse {
        match scheme {
            SignatureScheme::Secp256k1 | SignatureScheme::V2Secp256k1 => {
                let d = self.derived_secp256k1_secret(scheme, predecessor, path);
                let key = k256::ecdsa::SigningKey::from_bytes(&d.to_bytes()).expect("non-zero");
                SignatureResponse::Secp256k1(ecdsa_sign(&key, message))
            }
            SignatureScheme::Ed25519 => {
                let esk = ExpandedSecretKey {
                    scalar: self.ed + ed25519_tweak(predecessor, path),
                    hash_prefix: [9; 32],
                };
                let vk = ed25519_dalek::VerifyingKey::from(&esk);
                SignatureResponse::Ed25519 {
                    signature: raw_sign::<sha2::Sha512>(&esk, message, &vk).to_bytes(),
                }
            }
            SignatureScheme::Bip340 => {
                // Under the derived key's Taproot output key (primitives::taproot).
                let d = self.derived_secp256k1_secret(scheme, predecessor, path);
                let q = primitives::taproot::output_secret(&d).expect("tweak in range");
                let key = k256::schnorr::SigningKey::from_bytes(&q.to_bytes()).expect("non-zero");
                SignatureResponse::Bip340 {
                    signature: key.sign_raw(message, &[5; 32]).expect("signs").to_bytes(),
                }
            }
        }
    }
}

/// The ECDSA signature of a 32-byte `hash` by `key`, in the form the network returns (whole R
/// point, s, recovery id).
pub fn ecdsa_sign(key: &k256::ecdsa::SigningKey, hash: &[u8]) -> EcdsaSignature {
    let (sig, rec): (k256::ecdsa::Signature, k256::ecdsa::RecoveryId) =
        key.sign_prehash(hash).expect("32-byte hash");
    let mut sec1 = [0u8; 33];
    sec1[0] = 2 + u8::from(rec.is_y_odd());
    sec1[1..].copy_from_slice(&sig.r().to_bytes());
    let Ok(NearPublicKey::Secp256k1(big_r)) = NearPublicKey::secp256k1_from_sec1(&sec1) else {
        panic!("R is a curve point")
    };
    EcdsaSignature {
        big_r,
        s: *sig.s(),
        recovery_id: rec.to_byte(),
    }
}

/// A payload fit for a scheme: a 32-byte hash for ECDSA, a 40-byte message for Schnorr.
pub fn payload_bytes(scheme: SignatureScheme, fill: u8) -> Vec<u8> {
    if scheme.is_ecdsa() {
        vec![fill; 32]
    } else {
        vec![fill; 40]
    }
}

/// The `request` object of `sign` for that payload, in the new form.
pub fn sign_request(
    domain: u64,
    scheme: SignatureScheme,
    path: &str,
    fill: u8,
) -> serde_json::Value {
    let kind = if scheme.is_ecdsa() { "Ecdsa" } else { "Eddsa" };
    serde_json::json!({
        "path": path,
        "payload_v2": {kind: hex::encode(payload_bytes(scheme, fill))},
        "domain_id": domain
    })
}

/// Checks a signature the network returned with libraries other than the ones that made it
/// ([`primitives::verify`]: k256's ECDSA recovery, ed25519-dalek's strict verifier, k256's
/// BIP340 verifier under the Taproot output key), under the key derived from `root` for
/// (`account`, `path`).
pub fn verify_independently(
    root: &NearPublicKey,
    account: &str,
    path: &str,
    payload: &[u8],
    response: &SignatureResponse,
) -> Result<(), String> {
    primitives::verify::verify_signature(root, account, path, payload, response)
        .map_err(|e| e.to_string())
}

/// The signer contract's wasm as `scripts/build-contract.sh` leaves it (`target/signer.wasm`,
/// or `$CARGO_TARGET_DIR/signer.wasm`): what the devnet tests deploy. Panics with the command
/// to run when it is missing, so a test never passes without the real artifact.
pub fn signer_wasm() -> Vec<u8> {
    let path = signer_wasm_path();
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build the contract first: ./scripts/build-contract.sh",
            path.display()
        )
    })
}

/// Where [`signer_wasm`] reads from.
pub fn signer_wasm_path() -> std::path::PathBuf {
    target_dir().join("signer.wasm")
}

/// The workspace's target directory (`$CARGO_TARGET_DIR` if set).
fn target_dir() -> std::path::PathBuf {
    std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// Where `scripts/test-tools.sh` installs the chains' own software (anvil, litesvm).
pub fn test_tools_dir() -> std::path::PathBuf {
    target_dir().join("test-tools")
}

/// A file under [`test_tools_dir`]. Panics with the command to run when it is missing, so a
/// test that needs a chain's software never passes without it.
pub fn test_tool(relative: &str) -> std::path::PathBuf {
    let path = test_tools_dir().join(relative);
    assert!(
        path.exists(),
        "{} is missing; install the test tools first: ./scripts/test-tools.sh",
        path.display()
    );
    path
}

/// An S3 API on loopback, for NEAR Lake tests: s3s-fs (buckets are directories under a root)
/// behind SigV4 with one key pair, served over a real socket.
#[cfg(feature = "s3")]
pub mod s3 {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto::Builder;
    use std::net::SocketAddr;
    use std::path::Path;

    pub const ACCESS_KEY: &str = "chainsig-test";
    pub const SECRET_KEY: &str = "chainsig-test-secret";

    /// A running server; dropping it (or [`S3Server::stop`]) closes the port and every
    /// connection, as a crashed S3 would.
    pub struct S3Server {
        pub addr: SocketAddr,
        task: tokio::task::JoinHandle<()>,
    }

    impl S3Server {
        /// Serves `root` on `addr` (port 0: any), with `bucket` created if missing.
        pub async fn start(root: &Path, addr: SocketAddr, bucket: &str) -> Self {
            std::fs::create_dir_all(root.join(bucket)).unwrap();
            let fs = s3s_fs::FileSystem::new(root).unwrap();
            let mut builder = s3s::service::S3ServiceBuilder::new(fs);
            builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
            let service = builder.build();
            let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
            let addr = listener.local_addr().unwrap();
            let task = tokio::spawn(async move {
                // Owned here: aborting the server aborts its connections too.
                let mut connections = tokio::task::JoinSet::new();
                loop {
                    let Ok((socket, _)) = listener.accept().await else {
                        continue;
                    };
                    // As real S3 does: without it, a response written in two segments
                    // waits on the client's delayed ACK (~40 ms per object).
                    let _ = socket.set_nodelay(true);
                    let service = service.clone();
                    connections.spawn(async move {
                        let _ = Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(socket), service)
                            .await;
                    });
                    while connections.try_join_next().is_some() {}
                }
            });
            Self { addr, task }
        }

        pub fn endpoint(&self) -> String {
            format!("http://{}", self.addr)
        }

        pub fn stop(self) {}
    }

    impl Drop for S3Server {
        fn drop(&mut self) {
            self.task.abort();
        }
    }
}

/// Runs `run` on every input the fuzzers kept for `target` (`fuzz/corpus/<target>`, see
/// `fuzz/README.md`), so that CI replays them on stable and a crash once found stays fixed.
/// Fails if the corpus is missing or nearly empty: a replay of nothing would pass forever.
pub fn replay_fuzz_corpus(target: &str, run: impl Fn(&[u8])) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut ran = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let input = std::fs::read(&path).unwrap();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&input)));
        if caught.is_err() {
            panic!("{target}: {} fails", path.display());
        }
        ran += 1;
    }
    assert!(
        ran >= 10,
        "{target}: only {ran} inputs in {}",
        dir.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_independent_verifier_accepts_good_and_refuses_bad_signatures() {
        let keys = Keys::new(1);
        for scheme in SCHEMES {
            let root = keys.public(scheme);
            let payload = payload_bytes(scheme, 9);
            let sig = keys.sign(scheme, "alice.near", "p", &payload);
            verify_independently(&root, "alice.near", "p", &payload, &sig).unwrap();
            assert!(verify_independently(&root, "alice.near", "q", &payload, &sig).is_err());
            assert!(verify_independently(&root, "bob.near", "p", &payload, &sig).is_err());
        }
    }
}
