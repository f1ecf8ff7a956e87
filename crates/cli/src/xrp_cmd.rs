//! `chainsig xrp send`: an XRP payment from the account's derived classic address, one
//! network signature (Secp256k1 domain) over the payment's SHA-512Half signing hash
//! ([`client::xrp`]).
//!
//! With `--xrpl-rpc` the sequence, fee and current ledger come from rippled and the signed
//! blob is submitted (unless `--no-send`); without it `--sequence` is needed and the blob is
//! printed for any rippled's `submit`.

use client::xrp::{self, XrpError, XrpPayment, XrplRpc, VALID_LEDGERS};
use primitives::SignatureScheme;

use crate::sign_cmd::{domain_and_key, failure, Requester};
use crate::Failure;

#[derive(clap::Subcommand)]
pub enum XrpCommand {
    /// Pay XRP from the derived classic address.
    Send(SendArgs),
}

#[derive(clap::Args)]
pub struct SendArgs {
    #[command(flatten)]
    requester: Requester,
    /// The Secp256k1 domain that signs (default: the contract's first).
    #[arg(long)]
    domain: Option<u64>,
    /// The recipient's classic address (r…).
    #[arg(long)]
    to: String,
    /// The recipient's destination tag (exchanges name the customer with it).
    #[arg(long)]
    destination_tag: Option<u32>,
    /// The amount in XRP, as a decimal (up to 6 places).
    #[arg(long)]
    amount: String,
    /// A rippled JSON-RPC endpoint: sequence, fee and ledger read from it, the payment submitted.
    #[arg(long, env = "CHAINSIG_XRPL_RPC")]
    xrpl_rpc: Option<String>,
    /// The sender's next sequence number (read from --xrpl-rpc when not given).
    #[arg(long)]
    sequence: Option<u32>,
    /// The fee in drops (default: the server's open-ledger fee, or 10 without a server).
    #[arg(long)]
    fee: Option<u64>,
    /// The last ledger that may include the payment (default: the server's current + 20).
    #[arg(long)]
    last_ledger_sequence: Option<u32>,
    /// The chain's network id, only for chains whose id is above 1024.
    #[arg(long)]
    network_id: Option<u32>,
    /// With --xrpl-rpc: sign but do not submit.
    #[arg(long)]
    no_send: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: XrpCommand) -> Result<(), Failure> {
    match cmd {
        XrpCommand::Send(args) => send(args),
    }
}

/// What the user asked for wrong exits 2; what went wrong after (the server, the ledger) exits 1.
fn xrp_failure(e: XrpError) -> Failure {
    match e {
        XrpError::Address(_)
        | XrpError::Amount(_)
        | XrpError::TooLarge { .. }
        | XrpError::ToSelf
        | XrpError::NotFunded(_) => Failure::usage(e),
        XrpError::Signature(_)
        | XrpError::Transport { .. }
        | XrpError::Server { .. }
        | XrpError::Decode { .. } => Failure::failed(e),
    }
}

const NEEDS_SEQUENCE: &str = "without --xrpl-rpc, give --sequence";

/// The sequence, fee and last ledger: given, else from the server, else the defaults.
async fn ledger_fields(
    args: &SendArgs,
    rpc: Option<&XrplRpc>,
    from: &str,
) -> Result<(u32, u64, Option<u32>), Failure> {
    let Some(rpc) = rpc else {
        let sequence = args
            .sequence
            .ok_or_else(|| Failure::usage(NEEDS_SEQUENCE))?;
        return Ok((
            sequence,
            args.fee.unwrap_or(xrp::BASE_FEE_DROPS),
            args.last_ledger_sequence,
        ));
    };
    let sequence = match args.sequence {
        Some(s) => s,
        None => rpc.sequence(from).await.map_err(xrp_failure)?,
    };
    let (fee, ledger) = rpc.fee_and_ledger().await.map_err(xrp_failure)?;
    if args.fee.is_none() && fee > xrp::MAX_SERVER_FEE_DROPS {
        return Err(Failure::failed(format!(
            "the server asks a fee of {fee} drops, above {} (2 XRP); give --fee to pay it",
            xrp::MAX_SERVER_FEE_DROPS
        )));
    }
    let last = args
        .last_ledger_sequence
        .unwrap_or(ledger.saturating_add(VALID_LEDGERS));
    Ok((sequence, args.fee.unwrap_or(fee), Some(last)))
}

fn send(args: SendArgs) -> Result<(), Failure> {
    let destination = xrp::parse_address(&args.to).map_err(xrp_failure)?;
    let drops = xrp::parse_xrp(&args.amount).map_err(xrp_failure)?;
    if args.xrpl_rpc.is_none() && args.sequence.is_none() {
        return Err(Failure::usage(NEEDS_SEQUENCE));
    }
    let rpc = args.xrpl_rpc.as_deref().map(XrplRpc::new);
    let signer = args.requester.signer()?;
    let path = args.requester.path.clone();
    crate::runtime()?.block_on(async {
        let (domain, derived) =
            domain_and_key(&signer, args.domain, SignatureScheme::Secp256k1, &path).await?;
        let key =
            *client::address::secp256k1_of(&derived, "an XRP address").map_err(Failure::usage)?;
        let from = client::address::xrp(&key);
        let (sequence, fee_drops, last_ledger_sequence) =
            ledger_fields(&args, rpc.as_ref(), &from).await?;
        let payment = XrpPayment {
            key,
            destination,
            destination_tag: args.destination_tag,
            drops,
            fee_drops,
            sequence,
            last_ledger_sequence,
            network_id: args.network_id,
        };
        let digest = payment.signing_hash().map_err(xrp_failure)?;
        eprintln!("asking the network to sign a payment from {from} (path {path:?})...");
        let signed = signer
            .sign(&domain, &path, &digest)
            .await
            .map_err(failure)?;
        let tx = payment.assemble(&signed.response).map_err(xrp_failure)?;
        let submitted = match (&rpc, args.no_send) {
            (Some(rpc), false) => {
                eprintln!("submitting {}...", tx.id());
                let verdict = rpc.submit(&tx.blob).await.map_err(xrp_failure)?;
                if !verdict.accepted() {
                    return Err(Failure::failed(format!(
                        "the server refused {}: {} ({})",
                        tx.id(),
                        verdict.engine_result,
                        verdict.message
                    )));
                }
                Some(verdict.engine_result)
            }
            _ => None,
        };
        let blob = hex::encode_upper(&tx.blob);
        if args.json {
            let out = serde_json::json!({
                "from": from,
                "to": args.to,
                "destination_tag": args.destination_tag,
                "drops": drops,
                "fee_drops": fee_drops,
                "sequence": sequence,
                "last_ledger_sequence": last_ledger_sequence,
                "hash": tx.id(),
                "tx_blob": blob,
                "engine_result": submitted,
            });
            println!("{out}");
        } else {
            println!("{:<8} {from}", "from");
            println!("{:<8} {}", "to", args.to);
            println!("{:<8} {drops} drops (fee {fee_drops} drops)", "amount");
            println!("{:<8} {}", "hash", tx.id());
            println!("{:<8} {blob}", "blob");
            if let Some(result) = submitted {
                println!("{:<8} submitted: {result}", "status");
            }
        }
        Ok(())
    })
}
