//! `chainsig sign`: a real `sign` transaction from the user's account, and its answer.
//!
//! The domain's scheme is read from the contract, so the payload is sent in the form that
//! domain takes (`Ecdsa` hash or `Eddsa` message); the answer is verified against the derived
//! key before it is printed (docs/design.md §4.3 JSON, with the key it verifies under).
//!
//! [`Requester`] holds the arguments every command that asks for signatures shares (`sign`,
//! `eth send`, `sol send`, `btc send`).

use chain::NearRpc;
use client::{Domain, SignError, Signer};
use node::identity::NearKey;
use primitives::{NearPublicKey, SignatureScheme};
use std::path::PathBuf;

use crate::Failure;

/// Where the signer contract is: shared by the commands that talk to it.
#[derive(clap::Args)]
pub struct Contract {
    /// The chain's JSON-RPC endpoint.
    #[arg(long, default_value = "http://127.0.0.1:3030")]
    pub rpc: String,
    /// The signer contract's account.
    #[arg(long, default_value = crate::devnet_cmd::CONTRACT_ID)]
    pub contract_id: String,
}

/// Who asks for signatures, and under which key.
#[derive(clap::Args)]
pub struct Requester {
    #[command(flatten)]
    pub contract: Contract,
    /// The account that asks (and pays the 1 yoctoNEAR deposit).
    #[arg(long)]
    pub account: String,
    /// Its key, in near-cli's JSON format.
    #[arg(long)]
    pub key_file: PathBuf,
    /// The derivation path.
    #[arg(long)]
    pub path: String,
}

impl Requester {
    /// A signer for this account (the key file is read now, so a bad one fails first).
    pub fn signer(&self) -> Result<Signer, Failure> {
        let (key, _) = NearKey::read(&self.key_file).map_err(Failure::usage)?;
        let rpc = NearRpc::new(
            &self.contract.rpc,
            &self.contract.contract_id,
            &self.account,
            key.signing_key().clone(),
        )
        .map_err(Failure::usage)?;
        Ok(Signer::new(rpc, &self.account))
    }
}

/// A signing failure as the CLI reports it: what the user got wrong is a usage error.
pub fn failure(e: SignError) -> Failure {
    match e {
        SignError::NoDomain { .. } | SignError::Payload(_) | SignError::Derive(_) => {
            Failure::usage(e)
        }
        _ => Failure::failed(e),
    }
}

/// The domain of `scheme` (`id` when given, else the contract's first) and the account's
/// derived key on it under `path`. Either kind of ECDSA domain (Secp256k1, V2Secp256k1) serves
/// where ECDSA is needed, when named by `id`.
pub async fn domain_and_key(
    signer: &Signer,
    id: Option<u64>,
    scheme: SignatureScheme,
    path: &str,
) -> Result<(Domain, NearPublicKey), Failure> {
    let domain = match id {
        Some(id) => {
            let domain = signer.domain(Some(id), None).await.map_err(failure)?;
            if domain.scheme != scheme && !(domain.scheme.is_ecdsa() && scheme.is_ecdsa()) {
                return Err(Failure::usage(format!(
                    "domain {id} is a {} domain; this needs {scheme}",
                    domain.scheme
                )));
            }
            domain
        }
        None => signer.domain(None, Some(scheme)).await.map_err(failure)?,
    };
    let key = signer.derived_key(&domain, path).map_err(failure)?;
    Ok((domain, key))
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    requester: Requester,
    /// What to sign, in hex: a 32-byte hash for Secp256k1, the message for Ed25519 / Bip340.
    #[arg(long)]
    payload: String,
    /// The domain (see the contract's `state`); 0 is the first Secp256k1 domain.
    #[arg(long, default_value_t = 0)]
    domain: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Reads hex with or without `0x`, naming the argument when it is not hex.
pub fn hex_arg(name: &str, value: &str) -> Result<Vec<u8>, Failure> {
    hex::decode(value.strip_prefix("0x").unwrap_or(value))
        .map_err(|_| Failure::usage(format!("{name} must be hex (an even number of 0-9a-f)")))
}

pub fn run(args: Args) -> Result<(), Failure> {
    let payload = hex_arg("--payload", &args.payload)?;
    let signer = args.requester.signer()?;
    let path = &args.requester.path;
    crate::runtime()?.block_on(async {
        let domain = signer
            .domain(Some(args.domain), None)
            .await
            .map_err(failure)?;
        let signed = signer
            .sign(&domain, path, &payload)
            .await
            .map_err(failure)?;
        // A Bip340 signature verifies under the derived key's Taproot output key: print the
        // x-only key a verifier needs.
        let output_key = match (domain.scheme, signed.derived_key.as_secp256k1()) {
            (SignatureScheme::Bip340, Some(p)) => {
                primitives::taproot::output_key_x(p).ok().map(hex::encode)
            }
            _ => None,
        };
        if args.json {
            let mut out = serde_json::json!({
                "domain_id": args.domain,
                "scheme": domain.scheme,
                "public_key": signed.derived_key,
                "signature": signed.response,
            });
            if let Some(key) = &output_key {
                out["taproot_output_key"] = key.as_str().into();
            }
            println!("{out}");
        } else {
            println!("{:<12} {} ({:?})", "domain", args.domain, domain.scheme);
            println!("{:<12} {}", "public key", signed.derived_key);
            if let Some(key) = &output_key {
                println!(
                    "{:<12} {key} (x-only; the signature verifies under it)",
                    "output key"
                );
            }
            println!(
                "{:<12} {}",
                "signature",
                serde_json::to_string(&signed.response).expect("responses serialize")
            );
        }
        Ok(())
    })
}
