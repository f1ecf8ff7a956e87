//! `chainsig near send`: NEAR from the account's derived ed25519 implicit account, the
//! transaction signed by the network's Ed25519 domain ([`client::near`]). The implicit
//! account exists once something was sent to it (its id is the derived key in hex:
//! `chainsig address` prints it as `near_implicit`).

use client::near::{self, NearTxError};
use primitives::SignatureScheme;

use crate::sign_cmd::{domain_and_key, failure, Requester};
use crate::Failure;

#[derive(clap::Subcommand)]
pub enum NearCommand {
    /// Send NEAR from the derived implicit account.
    Send(SendArgs),
}

#[derive(clap::Args)]
pub struct SendArgs {
    #[command(flatten)]
    requester: Requester,
    /// The Ed25519 domain that signs (default: the contract's first).
    #[arg(long)]
    domain: Option<u64>,
    /// The receiving NEAR account.
    #[arg(long)]
    to: String,
    /// The amount in NEAR, as a decimal (e.g. `0.5`).
    #[arg(long)]
    amount: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: NearCommand) -> Result<(), Failure> {
    match cmd {
        NearCommand::Send(args) => send(args),
    }
}

fn near_failure(e: NearTxError) -> Failure {
    match e {
        NearTxError::Account(..) | NearTxError::Amount(_) => Failure::usage(e),
        NearTxError::BadSignature => Failure::failed(e),
    }
}

fn send(args: SendArgs) -> Result<(), Failure> {
    let deposit = near::parse_near(&args.amount).map_err(near_failure)?;
    let signer = args.requester.signer()?;
    let path = &args.requester.path;
    let rpc = args.requester.contract.read_only()?;
    crate::runtime()?.block_on(async {
        let (domain, derived) =
            domain_and_key(&signer, args.domain, SignatureScheme::Ed25519, path).await?;
        let point = client::address::ed25519_of(&derived, "a NEAR implicit account")
            .map_err(Failure::usage)?;
        // The same account `chainsig address` prints as `near_implicit`.
        let from = client::address::near_implicit(point);
        let key = point.compress().to_bytes();
        let (nonce, block_hash) = rpc.access_key(&from, key).await.map_err(|e| match e {
            chain::ChainError::Rejected(_) => Failure::failed(format!(
                "{e} (send something to {from} first: a transfer to an implicit account \
                 creates it)"
            )),
            other => Failure::failed(other),
        })?;
        let tx = near::transfer(&from, key, nonce + 1, &args.to, block_hash, deposit)
            .map_err(near_failure)?;
        eprintln!("asking the network to sign a NEAR transaction from {from} (path {path:?})...");
        let signed = signer
            .sign(&domain, path, &near::signing_hash(&tx))
            .await
            .map_err(failure)?;
        let primitives::response::SignatureResponse::Ed25519 { signature } = signed.response else {
            return Err(Failure::failed(
                "an Ed25519 domain answered with another scheme",
            ));
        };
        let signed_tx = near::assemble(tx, key, signature).map_err(near_failure)?;
        let hash = signed_tx.get_hash().to_string();
        eprintln!("sending {hash}...");
        rpc.broadcast(signed_tx)
            .await
            .map_err(|e| Failure::failed(format!("transaction {hash}: {e}")))?;
        if args.json {
            println!(
                "{}",
                serde_json::json!({
                    "from": from,
                    "to": args.to,
                    "amount_yocto": deposit.to_string(),
                    "hash": hash,
                })
            );
        } else {
            println!("{:<8} {from}", "from");
            println!("{:<8} {}", "to", args.to);
            println!("{:<8} {} NEAR", "amount", args.amount);
            println!("{:<8} {hash} (executed)", "hash");
        }
        Ok(())
    })
}
