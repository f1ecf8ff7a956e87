//! `chainsig eth sign-message` and `eth sign-typed-data`: what a wallet's `personal_sign`
//! (EIP-191) and `eth_signTypedData_v4` (EIP-712) return, signed by the network under the
//! account's derived key: the hash goes to a Secp256k1 domain, and the answer is printed as
//! the 65-byte `r ‖ s ‖ v` once it recovers the derived address.

use alloy_primitives::B256;
use client::evm::message;
use primitives::response::SignatureResponse;
use primitives::SignatureScheme;
use std::path::PathBuf;

use crate::eth_cmd::evm_failure;
use crate::sign_cmd::{domain_and_key, failure, hex_arg, Requester};
use crate::Failure;

#[derive(clap::Args)]
pub struct MessageArgs {
    #[command(flatten)]
    requester: Requester,
    /// The Secp256k1 domain that signs (default: the contract's first).
    #[arg(long)]
    domain: Option<u64>,
    /// The message, as text.
    #[arg(long, required_unless_present = "hex", conflicts_with = "hex")]
    message: Option<String>,
    /// The message, as hex bytes.
    #[arg(long)]
    hex: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct TypedDataArgs {
    #[command(flatten)]
    requester: Requester,
    /// The Secp256k1 domain that signs (default: the contract's first).
    #[arg(long)]
    domain: Option<u64>,
    /// The typed data: a JSON file with `types`, `primaryType`, `domain` and `message`.
    #[arg(long)]
    file: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn sign_message(args: MessageArgs) -> Result<(), Failure> {
    let bytes = match (&args.message, &args.hex) {
        (Some(text), _) => text.as_bytes().to_vec(),
        (None, Some(hex)) => hex_arg("--hex", hex)?,
        (None, None) => return Err(Failure::usage("give --message or --hex")),
    };
    sign(
        &args.requester,
        args.domain,
        message::personal_hash(&bytes),
        "eip191",
        args.json,
    )
}

pub fn sign_typed_data(args: TypedDataArgs) -> Result<(), Failure> {
    let json = std::fs::read_to_string(&args.file)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", args.file.display())))?;
    let hash = message::typed_data_hash(&json).map_err(Failure::usage)?;
    sign(&args.requester, args.domain, hash, "eip712", args.json)
}

/// Has the network sign `hash` under the derived key and prints the wallet signature.
fn sign(
    requester: &Requester,
    domain: Option<u64>,
    hash: B256,
    kind: &str,
    json: bool,
) -> Result<(), Failure> {
    let signer = requester.signer()?;
    let path = &requester.path;
    crate::runtime()?.block_on(async {
        let (domain, key) =
            domain_and_key(&signer, domain, SignatureScheme::Secp256k1, path).await?;
        let from = client::address::evm(
            client::address::secp256k1_of(&key, "an EVM address").map_err(Failure::usage)?,
        );
        eprintln!("asking the network to sign an {kind} hash for {from} (path {path:?})...");
        let signed = signer
            .sign(&domain, path, hash.as_slice())
            .await
            .map_err(failure)?;
        let SignatureResponse::Secp256k1(sig) = &signed.response else {
            return Err(Failure::failed(
                "a Secp256k1 domain answered with another scheme",
            ));
        };
        let signature = message::wallet_signature(sig, &hash, from).map_err(evm_failure)?;
        let signature = format!("0x{}", hex::encode(signature));
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "kind": kind,
                    "address": from.to_string(),
                    "hash": hash.to_string(),
                    "signature": signature,
                })
            );
        } else {
            println!("{:<10} {from}", "address");
            println!("{:<10} {hash} ({kind})", "hash");
            println!("{:<10} {signature}", "signature");
        }
        Ok(())
    })
}
