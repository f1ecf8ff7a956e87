//! `chainsig doge send`: a Dogecoin payment from the account's derived P2PKH address, one
//! network signature (Secp256k1 domain, legacy SIGHASH_ALL digest) per input, all requested at
//! once ([`client::doge`]). The raw transaction is printed for any Dogecoin node's
//! `sendrawtransaction`.

use client::btc::Utxo;
use client::doge::{self, DogeNetwork, DogeSpend, KOINU_PER_DOGE};
use primitives::SignatureScheme;

use crate::btc_cmd::btc_failure;
use crate::sign_cmd::{domain_and_key, sign_inputs, Requester};
use crate::Failure;

#[derive(clap::Subcommand)]
pub enum DogeCommand {
    /// Pay from the derived P2PKH address.
    Send(SendArgs),
}

#[derive(clap::Args)]
pub struct SendArgs {
    #[command(flatten)]
    requester: Requester,
    /// The Secp256k1 domain that signs (default: the contract's first).
    #[arg(long)]
    domain: Option<u64>,
    /// The Dogecoin network: mainnet or testnet (--network is the NEAR network).
    #[arg(long, default_value = "mainnet")]
    doge_network: DogeNetwork,
    /// The recipient's P2PKH address.
    #[arg(long)]
    to: String,
    /// The amount in DOGE, as a decimal (up to 8 places).
    #[arg(long)]
    amount: String,
    /// An output of the derived address to spend: txid:vout:koinu (repeatable).
    #[arg(long, required = true)]
    utxo: Vec<String>,
    /// Fee in koinu per kilobyte (default: Dogecoin Core's recommended 0.01 DOGE/kB).
    #[arg(long, default_value_t = KOINU_PER_DOGE / 100)]
    fee_per_kb: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: DogeCommand) -> Result<(), Failure> {
    match cmd {
        DogeCommand::Send(args) => send(args),
    }
}

fn send(args: SendArgs) -> Result<(), Failure> {
    let amount = bitcoin::Amount::from_str_in(&args.amount, bitcoin::Denomination::Bitcoin)
        .map_err(|e| {
            Failure::usage(format!(
                "--amount {:?} is not an amount of DOGE: {e}",
                args.amount
            ))
        })?
        .to_sat();
    let to = doge::script_of(&args.to, args.doge_network).map_err(btc_failure)?;
    let utxos: Vec<Utxo> = args
        .utxo
        .iter()
        .map(|u| u.parse().map_err(btc_failure))
        .collect::<Result<_, _>>()?;
    let signer = args.requester.signer()?;
    let path = &args.requester.path;
    crate::runtime()?.block_on(async {
        let (domain, derived) =
            domain_and_key(&signer, args.domain, SignatureScheme::Secp256k1, path).await?;
        let key = *client::address::secp256k1_of(&derived, "a Dogecoin address")
            .map_err(Failure::usage)?;
        let from = doge::address(&key, args.doge_network);
        let spend = DogeSpend {
            key,
            utxos,
            to,
            amount,
            fee_per_kb: args.fee_per_kb,
        };
        let unsigned = spend.build().map_err(btc_failure)?;
        let signatures = sign_inputs(&signer, &domain, path, &from, &unsigned.sighashes()).await?;
        let tx = unsigned.assemble(&signatures).map_err(btc_failure)?;
        let raw = bitcoin::consensus::encode::serialize_hex(&tx);
        let txid = tx.compute_txid().to_string();
        if args.json {
            println!(
                "{}",
                serde_json::json!({
                    "from": from,
                    "to": args.to,
                    "amount_koinu": amount,
                    "fee_koinu": unsigned.fee,
                    "inputs": tx.input.len(),
                    "txid": txid,
                    "raw": raw,
                })
            );
        } else {
            println!("{:<8} {from}", "from");
            println!("{:<8} {}", "to", args.to);
            println!(
                "{:<8} {amount} koinu (fee {} koinu)",
                "amount", unsigned.fee
            );
            println!("{:<8} {txid}", "txid");
            println!("{:<8} {raw}", "raw");
        }
        Ok(())
    })
}
