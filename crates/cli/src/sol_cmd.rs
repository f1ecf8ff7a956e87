//! `chainsig sol send`: a SOL transfer from the account's derived Solana address, signed by
//! the network's Ed25519 domain.
//!
//! The recipient, amount and blockhash are checked before anything is asked of the network;
//! with `--sol-rpc` the blockhash is fetched, the sender's balance checked, and the signed
//! transaction sent and confirmed (unless `--no-send`); without it the transaction is printed
//! (base64, as `sendTransaction` takes it).

use base64::Engine;
use client::solana::{self, SolRpc, SolTransfer, SolanaError};
use primitives::response::SignatureResponse;
use primitives::SignatureScheme;
use std::time::Duration;

use crate::sign_cmd::{domain_and_key, failure, Requester};
use crate::Failure;

#[derive(clap::Subcommand)]
pub enum SolCommand {
    /// Send SOL from the derived address.
    Send(SendArgs),
}

#[derive(clap::Args)]
pub struct SendArgs {
    #[command(flatten)]
    requester: Requester,
    /// The Ed25519 domain that signs (default: the contract's first).
    #[arg(long)]
    domain: Option<u64>,
    /// The recipient's address (base58).
    #[arg(long)]
    to: String,
    /// The amount in SOL, as a decimal (up to 9 places).
    #[arg(
        long,
        required_unless_present = "lamports",
        conflicts_with = "lamports"
    )]
    amount: Option<String>,
    /// The amount in lamports.
    #[arg(long)]
    lamports: Option<u64>,
    /// A recent blockhash (base58); fetched from --sol-rpc when not given.
    #[arg(long)]
    blockhash: Option<String>,
    /// A Solana JSON-RPC endpoint: blockhash, balance check, broadcast, confirmation.
    #[arg(long)]
    sol_rpc: Option<String>,
    /// With --sol-rpc: sign but do not send.
    #[arg(long)]
    no_send: bool,
    /// How long to wait for confirmation, in seconds.
    #[arg(long, default_value_t = 60)]
    confirm_timeout: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: SolCommand) -> Result<(), Failure> {
    match cmd {
        SolCommand::Send(args) => send(args),
    }
}

/// SOL as a decimal with at most 9 places, in lamports.
pub fn parse_sol(text: &str) -> Result<u64, Failure> {
    client::amount::parse_decimal(text, 9)
        .and_then(|v| u64::try_from(v).ok())
        .ok_or_else(|| {
            Failure::usage(format!(
                "--amount {text:?} is not an amount of SOL (e.g. 0.25)"
            ))
        })
}

/// What the user asked for wrong exits 2; what went wrong after (the RPC, the chain) exits 1.
fn sol_failure(e: SolanaError) -> Failure {
    match e {
        SolanaError::Address { .. }
        | SolanaError::Blockhash { .. }
        | SolanaError::SelfTransfer
        | SolanaError::Zero
        | SolanaError::InsufficientFunds { .. } => Failure::usage(e),
        SolanaError::Rpc(_) | SolanaError::Failed { .. } | SolanaError::NotConfirmed { .. } => {
            Failure::failed(e)
        }
    }
}

fn send(args: SendArgs) -> Result<(), Failure> {
    let to = solana::parse_address("--to", &args.to).map_err(sol_failure)?;
    let lamports = match (&args.amount, args.lamports) {
        (Some(a), _) => parse_sol(a)?,
        (None, Some(l)) => l,
        (None, None) => return Err(Failure::usage("give --amount or --lamports")),
    };
    let blockhash = args
        .blockhash
        .as_deref()
        .map(solana::parse_blockhash)
        .transpose()
        .map_err(sol_failure)?;
    let rpc = args.sol_rpc.as_deref().map(SolRpc::new);
    if rpc.is_none() && blockhash.is_none() {
        return Err(Failure::usage("without --sol-rpc, give --blockhash"));
    }
    let signer = args.requester.signer()?;
    let path = args.requester.path.clone();
    crate::runtime()?.block_on(async {
        let (domain, key) =
            domain_and_key(&signer, args.domain, SignatureScheme::Ed25519, &path).await?;
        let from_point =
            client::address::ed25519_of(&key, "a Solana address").map_err(Failure::usage)?;
        let from = from_point.compress().to_bytes();
        let recent_blockhash = match (blockhash, &rpc) {
            (Some(b), _) => b,
            (None, Some(rpc)) => rpc.latest_blockhash().await.map_err(sol_failure)?,
            (None, None) => unreachable!("checked above"),
        };
        let tx = SolTransfer {
            from,
            to,
            lamports,
            recent_blockhash,
        };
        tx.check().map_err(sol_failure)?;
        if let Some(rpc) = &rpc {
            rpc.check_funds(&tx).await.map_err(sol_failure)?;
        }
        let from_text = client::address::solana(from_point);
        eprintln!("asking the network to sign a transfer from {from_text} (path {path:?})...");
        let signed = signer
            .sign(&domain, &path, &tx.message())
            .await
            .map_err(failure)?;
        let SignatureResponse::Ed25519 { signature } = signed.response else {
            return Err(Failure::failed(
                "an Ed25519 domain answered with another scheme",
            ));
        };
        let signed_tx = tx.assemble(signature);
        let mut sent = false;
        if let (Some(rpc), false) = (&rpc, args.no_send) {
            eprintln!("sending {} to {}...", signed_tx.id(), rpc.rpc().url());
            rpc.send(&signed_tx).await.map_err(sol_failure)?;
            rpc.confirm(&signed_tx.id(), Duration::from_secs(args.confirm_timeout))
                .await
                .map_err(sol_failure)?;
            sent = true;
        }
        let wire = base64::engine::general_purpose::STANDARD.encode(&signed_tx.wire);
        if args.json {
            let out = serde_json::json!({
                "from": from_text,
                "to": args.to,
                "lamports": lamports,
                "blockhash": bs58::encode(recent_blockhash).into_string(),
                "signature": signed_tx.id(),
                "transaction_base64": wire,
                "confirmed": sent,
            });
            println!("{out}");
        } else {
            println!("{:<10} {from_text}", "from");
            println!("{:<10} {}", "to", args.to);
            println!("{:<10} {lamports} lamports", "amount");
            println!("{:<10} {}", "signature", signed_tx.id());
            println!("{:<10} {wire}", "raw");
            if sent {
                println!("{:<10} confirmed", "status");
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::parse_sol;

    #[test]
    fn sol_amounts() {
        assert_eq!(parse_sol("1").ok(), Some(1_000_000_000));
        assert_eq!(parse_sol("0.25").ok(), Some(250_000_000));
        assert_eq!(parse_sol(".5").ok(), Some(500_000_000));
        assert_eq!(parse_sol("0.000000001").ok(), Some(1));
        for bad in [
            "",
            ".",
            "-1",
            "1e3",
            "0.0000000001",
            "abc",
            "99999999999999999999",
        ] {
            assert!(parse_sol(bad).is_err(), "{bad}");
        }
    }
}
