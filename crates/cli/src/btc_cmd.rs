//! `chainsig btc send`: a Bitcoin payment from the account's derived P2WPKH or P2TR address,
//! one network signature per input, all requested at once.
//!
//! UTXOs come from `--utxo txid:vout:sats` (repeatable) or an Esplora API; the fee rate from
//! `--fee-rate` or the API. Everything is checked before anything is signed: addresses and
//! their network, amounts, dust, and whether the UTXOs cover payment and fee. The raw
//! transaction is printed (hex), and broadcast through the API unless `--no-send`.

use client::address::BitcoinNetwork;
use client::btc::{self, BtcError, Esplora, Spend, SpendKind, Utxo};

use crate::sign_cmd::{domain_and_key, sign_inputs, Requester};
use crate::Failure;

#[derive(clap::Subcommand)]
pub enum BtcCommand {
    /// Pay from the derived address.
    Send(SendArgs),
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Kind {
    /// Native segwit v0, signed by a Secp256k1 (ECDSA) domain.
    P2wpkh,
    /// Taproot key path, signed by a Bip340 domain.
    P2tr,
}

#[derive(clap::Args)]
pub struct SendArgs {
    #[command(flatten)]
    requester: Requester,
    /// Which of the derived key's addresses pays.
    #[arg(long, value_enum, default_value = "p2wpkh")]
    kind: Kind,
    /// The domain that signs (default: the contract's first of the kind's scheme).
    #[arg(long)]
    domain: Option<u64>,
    /// The Bitcoin network: mainnet, testnet or regtest (--network is the NEAR network).
    #[arg(long, default_value = "mainnet")]
    btc_network: BitcoinNetwork,
    /// The recipient's address (on --btc-network).
    #[arg(long)]
    to: String,
    /// The amount in BTC, as a decimal (up to 8 places).
    #[arg(long, required_unless_present = "sats", conflicts_with = "sats")]
    amount: Option<String>,
    /// The amount in satoshis.
    #[arg(long)]
    sats: Option<u64>,
    /// An output of the derived address to spend: txid:vout:satoshis (repeatable).
    #[arg(long)]
    utxo: Vec<String>,
    /// Fee rate in sat/vB (default: the Esplora API's estimate for 6 blocks).
    #[arg(long)]
    fee_rate: Option<u64>,
    /// An Esplora-compatible API: UTXOs, fee estimate, broadcast.
    #[arg(long)]
    esplora: Option<String>,
    /// With --esplora: sign but do not broadcast.
    #[arg(long)]
    no_send: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: BtcCommand) -> Result<(), Failure> {
    match cmd {
        BtcCommand::Send(args) => send(args),
    }
}

pub(crate) fn btc_failure(e: BtcError) -> Failure {
    match e {
        BtcError::SignatureCount { .. } | BtcError::BadSignature { .. } => Failure::failed(e),
        BtcError::Utxo(_)
        | BtcError::Network { .. }
        | BtcError::Address(_)
        | BtcError::Dust { .. }
        | BtcError::NoUtxos
        | BtcError::InsufficientFunds { .. }
        | BtcError::FeeRate
        | BtcError::Money { .. } => Failure::usage(e),
    }
}

fn send(args: SendArgs) -> Result<(), Failure> {
    let to = btc::parse_address(&args.to, args.btc_network).map_err(btc_failure)?;
    let amount = match (&args.amount, args.sats) {
        (Some(a), _) => bitcoin::Amount::from_str_in(a, bitcoin::Denomination::Bitcoin)
            .map_err(|e| Failure::usage(format!("--amount {a:?} is not an amount of BTC: {e}")))?,
        (None, Some(s)) => bitcoin::Amount::from_sat(s),
        (None, None) => return Err(Failure::usage("give --amount or --sats")),
    };
    let given: Vec<Utxo> = args
        .utxo
        .iter()
        .map(|u| u.parse().map_err(btc_failure))
        .collect::<Result<_, _>>()?;
    let esplora = args.esplora.as_deref().map(Esplora::new);
    if esplora.is_none() && (given.is_empty() || args.fee_rate.is_none()) {
        return Err(Failure::usage(
            "without --esplora, give --utxo and --fee-rate",
        ));
    }
    let kind = match args.kind {
        Kind::P2wpkh => SpendKind::P2wpkh,
        Kind::P2tr => SpendKind::P2tr,
    };
    let signer = args.requester.signer()?;
    let path = args.requester.path.clone();
    crate::runtime()?.block_on(async {
        let (domain, derived) = domain_and_key(&signer, args.domain, kind.scheme(), &path).await?;
        let key = *client::address::secp256k1_of(&derived, "a Bitcoin address")
            .map_err(Failure::usage)?;
        let mut spend = Spend {
            kind,
            key,
            network: args.btc_network,
            utxos: given,
            to,
            amount,
            fee_rate: args.fee_rate.unwrap_or(0),
        };
        let from = spend.from_address();
        if let Some(api) = &esplora {
            if spend.utxos.is_empty() {
                spend.utxos = api.utxos(&from).await.map_err(Failure::failed)?;
            }
            if args.fee_rate.is_none() {
                spend.fee_rate = api.fee_rate(6).await.map_err(Failure::failed)?;
            }
        }
        let unsigned = spend.build().map_err(btc_failure)?;
        let signatures = sign_inputs(
            &signer,
            &domain,
            &path,
            &from.to_string(),
            &unsigned.sighashes(),
        )
        .await?;
        let tx = unsigned.assemble(&signatures).map_err(btc_failure)?;
        let raw = bitcoin::consensus::encode::serialize_hex(&tx);
        let txid = tx.compute_txid().to_string();
        let mut sent = false;
        if let (Some(api), false) = (&esplora, args.no_send) {
            eprintln!("broadcasting {txid}...");
            api.broadcast(&tx).await.map_err(Failure::failed)?;
            sent = true;
        }
        if args.json {
            let out = serde_json::json!({
                "from": from.to_string(),
                "to": args.to,
                "amount_sats": amount.to_sat(),
                "fee_sats": unsigned.fee.to_sat(),
                "inputs": tx.input.len(),
                "txid": txid,
                "raw": raw,
                "broadcast": sent,
            });
            println!("{out}");
        } else {
            println!("{:<10} {from}", "from");
            println!("{:<10} {}", "to", args.to);
            println!(
                "{:<10} {} sat (fee {} sat)",
                "amount",
                amount.to_sat(),
                unsigned.fee.to_sat()
            );
            println!("{:<10} {txid}", "txid");
            println!("{:<10} {raw}", "raw");
            if sent {
                println!("{:<10} broadcast", "status");
            }
        }
        Ok(())
    })
}
