//! `chainsig sign`: a real `sign` transaction from the user's account, and its answer.
//!
//! The domain's scheme is read from the contract, so the payload is sent in the form that
//! domain takes (`Ecdsa` hash or `Eddsa` message); the printed result is the contract's JSON
//! (DESIGN §4.3) with the key it verifies under, derived from the contract's root key.

use chain::NearRpc;
use contract::views::StateView;
use node::identity::NearKey;
use primitives::derivation::derive_public_key;
use primitives::response::SignatureResponse;
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

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    contract: Contract,
    /// The account that asks (and pays the 1 yoctoNEAR deposit).
    #[arg(long)]
    account: String,
    /// Its key, in near-cli's JSON format.
    #[arg(long)]
    key_file: PathBuf,
    /// The derivation path.
    #[arg(long)]
    path: String,
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

/// The domain's scheme and root key, read from the contract.
pub async fn domain(
    rpc: &NearRpc,
    domain: u64,
) -> Result<(SignatureScheme, NearPublicKey), Failure> {
    let state: StateView = rpc
        .view("state", serde_json::json!({}))
        .await
        .map_err(|e| Failure::failed(format!("reading the contract's state: {e}")))?;
    let d = state
        .domains
        .iter()
        .find(|d| d.id.0 == domain)
        .ok_or_else(|| {
            let known: Vec<String> = state
                .domains
                .iter()
                .map(|d| format!("{} ({:?})", d.id.0, d.scheme))
                .collect();
            Failure::usage(format!(
                "the contract has no domain {domain}; it has: {}",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ))
        })?;
    Ok((d.scheme, d.public_key))
}

/// `sign`'s arguments for a payload on a domain of `scheme`.
pub fn sign_args(scheme: SignatureScheme, domain: u64, path: &str, payload: &[u8]) -> Vec<u8> {
    let kind = match scheme {
        SignatureScheme::Secp256k1 => "Ecdsa",
        _ => "Eddsa",
    };
    let hex = hex::encode(payload);
    serde_json::json!({"request": {"path": path, "payload_v2": {kind: hex}, "domain_id": domain}})
        .to_string()
        .into_bytes()
}

pub fn run(args: Args) -> Result<(), Failure> {
    let payload = hex::decode(args.payload.strip_prefix("0x").unwrap_or(&args.payload))
        .ok()
        .ok_or_else(|| Failure::usage("--payload must be hex (an even number of 0-9a-f)"))?;
    let (key, _) = NearKey::read(&args.key_file).map_err(Failure::usage)?;
    let rpc = NearRpc::new(
        &args.contract.rpc,
        &args.contract.contract_id,
        &args.account,
        key.signing_key().clone(),
    )
    .map_err(Failure::usage)?;
    crate::runtime()?.block_on(async {
        let (scheme, root) = domain(&rpc, args.domain).await?;
        let derived =
            derive_public_key(&root, &args.account, &args.path).map_err(Failure::usage)?;
        let value = rpc
            .call(
                "sign",
                sign_args(scheme, args.domain, &args.path, &payload),
                1,
            )
            .await
            .map_err(|e| Failure::failed(format!("sign: {e}")))?;
        let response: SignatureResponse = serde_json::from_slice(&value).map_err(|e| {
            Failure::failed(format!("the contract answered something unexpected: {e}"))
        })?;
        if args.json {
            let out = serde_json::json!({
                "domain_id": args.domain,
                "scheme": scheme,
                "public_key": derived,
                "signature": response,
            });
            println!("{out}");
        } else {
            println!("{:<12} {} ({scheme:?})", "domain", args.domain);
            println!("{:<12} {derived}", "public key");
            println!(
                "{:<12} {}",
                "signature",
                serde_json::to_string(&response).expect("responses serialize")
            );
        }
        Ok(())
    })
}
