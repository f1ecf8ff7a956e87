//! `chainsig cosmos send`: a bank send from the account's derived Cosmos SDK address, one
//! network signature (Secp256k1 domain) over SHA-256 of the `SIGN_MODE_DIRECT` sign doc
//! ([`client::cosmos`]).
//!
//! With `--rest` the account number, sequence and chain id come from the node's REST gateway
//! and the transaction is broadcast (unless `--no-send`); without it `--chain-id`,
//! `--account-number` and `--sequence` are needed and the transaction is printed (base64, as
//! the REST broadcast takes it).

use base64::Engine;
use client::cosmos::{self, CosmosError, CosmosRest, CosmosSend};
use primitives::SignatureScheme;

use crate::sign_cmd::{domain_and_key, failure, Requester};
use crate::Failure;

#[derive(clap::Subcommand)]
pub enum CosmosCommand {
    /// Send coins from the derived account (bank MsgSend).
    Send(SendArgs),
}

#[derive(clap::Args)]
pub struct SendArgs {
    #[command(flatten)]
    requester: Requester,
    /// The Secp256k1 domain that signs (default: the contract's first).
    #[arg(long)]
    domain: Option<u64>,
    /// The recipient's address, with the chain's prefix.
    #[arg(long)]
    to: String,
    /// The amount in base units of --denom (1000000 uatom is 1 ATOM).
    #[arg(long)]
    amount: String,
    /// The denomination of the amount and the fee.
    #[arg(long, default_value = "uatom")]
    denom: String,
    /// The chain's bech32 account prefix.
    #[arg(long, default_value = "cosmos")]
    prefix: String,
    /// A node's REST gateway (http://host:1317): account, chain id, broadcast.
    #[arg(long, env = "CHAINSIG_COSMOS_REST")]
    rest: Option<String>,
    /// The chain id (read from --rest when not given).
    #[arg(long)]
    chain_id: Option<String>,
    /// The sender's account number (read from --rest when not given).
    #[arg(long)]
    account_number: Option<u64>,
    /// The sender's sequence (read from --rest when not given).
    #[arg(long)]
    sequence: Option<u64>,
    /// The fee in base units of --denom.
    #[arg(long, default_value = "5000")]
    fee: String,
    /// The gas limit.
    #[arg(long, default_value_t = 200_000)]
    gas: u64,
    /// A memo (exchanges name the customer with it).
    #[arg(long, default_value = "")]
    memo: String,
    /// With --rest: sign but do not broadcast.
    #[arg(long)]
    no_send: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: CosmosCommand) -> Result<(), Failure> {
    match cmd {
        CosmosCommand::Send(args) => send(args),
    }
}

/// What the user asked for wrong exits 2; what went wrong after (the node, the chain) exits 1.
fn cosmos_failure(e: CosmosError) -> Failure {
    match e {
        CosmosError::Signature(_)
        | CosmosError::Transport { .. }
        | CosmosError::Server { .. }
        | CosmosError::Decode { .. } => Failure::failed(e),
        _ => Failure::usage(e),
    }
}

const OFFLINE_NEEDS: &str = "without --rest, give --chain-id, --account-number and --sequence";

/// The chain id, account number and sequence: given, else read from the node.
async fn chain_fields(
    args: &SendArgs,
    rest: Option<&CosmosRest>,
    from: &str,
) -> Result<(String, u64, u64), Failure> {
    let chain_id = match (&args.chain_id, rest) {
        (Some(id), _) => id.clone(),
        (None, Some(rest)) => rest.chain_id().await.map_err(cosmos_failure)?,
        (None, None) => return Err(Failure::usage(OFFLINE_NEEDS)),
    };
    let (account_number, sequence) = match (args.account_number, args.sequence, rest) {
        (Some(n), Some(s), _) => (n, s),
        (n, s, Some(rest)) => {
            let (chain_n, chain_s) = rest.account(from).await.map_err(cosmos_failure)?;
            (n.unwrap_or(chain_n), s.unwrap_or(chain_s))
        }
        (_, _, None) => return Err(Failure::usage(OFFLINE_NEEDS)),
    };
    Ok((chain_id, account_number, sequence))
}

fn send(args: SendArgs) -> Result<(), Failure> {
    let amount = cosmos::parse_amount(&args.amount).map_err(cosmos_failure)?;
    let fee = match args.fee.as_str() {
        "0" => 0,
        f => cosmos::parse_amount(f).map_err(cosmos_failure)?,
    };
    cosmos::check_denom(&args.denom).map_err(cosmos_failure)?;
    cosmos::check_address(&args.to, &args.prefix).map_err(cosmos_failure)?;
    let offline_complete =
        args.chain_id.is_some() && args.account_number.is_some() && args.sequence.is_some();
    if args.rest.is_none() && !offline_complete {
        return Err(Failure::usage(OFFLINE_NEEDS));
    }
    let rest = args.rest.as_deref().map(CosmosRest::new);
    let signer = args.requester.signer()?;
    let path = args.requester.path.clone();
    crate::runtime()?.block_on(async {
        let (domain, derived) =
            domain_and_key(&signer, args.domain, SignatureScheme::Secp256k1, &path).await?;
        let key =
            *client::address::secp256k1_of(&derived, "a Cosmos address").map_err(Failure::usage)?;
        let from = client::address::cosmos(&key, &args.prefix).map_err(Failure::usage)?;
        let (chain_id, account_number, sequence) =
            chain_fields(&args, rest.as_ref(), &from).await?;
        let tx = CosmosSend {
            key,
            prefix: args.prefix.clone(),
            to: args.to.clone(),
            amount,
            denom: args.denom.clone(),
            fee,
            gas_limit: args.gas,
            memo: args.memo.clone(),
            chain_id,
            account_number,
            sequence,
        };
        let digest = tx.signing_hash().map_err(cosmos_failure)?;
        eprintln!("asking the network to sign a send from {from} (path {path:?})...");
        let signed = signer
            .sign(&domain, &path, &digest)
            .await
            .map_err(failure)?;
        let signed_tx = tx.assemble(&signed.response).map_err(cosmos_failure)?;
        let broadcast = match (&rest, args.no_send) {
            (Some(rest), false) => {
                eprintln!("broadcasting {}...", signed_tx.id());
                let verdict = rest
                    .broadcast(&signed_tx.tx_bytes)
                    .await
                    .map_err(cosmos_failure)?;
                if verdict.code != 0 {
                    return Err(Failure::failed(format!(
                        "the node refused {} (code {}): {}",
                        verdict.txhash, verdict.code, verdict.raw_log
                    )));
                }
                true
            }
            _ => false,
        };
        let tx_base64 = base64::engine::general_purpose::STANDARD.encode(&signed_tx.tx_bytes);
        if args.json {
            let out = serde_json::json!({
                "from": from,
                "to": args.to,
                "amount": amount.to_string(),
                "denom": args.denom,
                "fee": fee.to_string(),
                "gas": args.gas,
                "chain_id": tx.chain_id,
                "account_number": account_number,
                "sequence": sequence,
                "txhash": signed_tx.id(),
                "tx_bytes_base64": tx_base64,
                "broadcast": broadcast,
            });
            println!("{out}");
        } else {
            println!("{:<8} {from}", "from");
            println!("{:<8} {}", "to", args.to);
            println!(
                "{:<8} {amount}{} (fee {fee}{})",
                "amount", args.denom, args.denom
            );
            println!("{:<8} {}", "txhash", signed_tx.id());
            println!("{:<8} {tx_base64}", "tx");
            if broadcast {
                println!("{:<8} in the mempool (CheckTx passed)", "status");
            }
        }
        Ok(())
    })
}
