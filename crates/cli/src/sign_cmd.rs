//! `chainsig sign`: a real `sign` transaction from the user's account, and its answer.
//!
//! The domain's scheme is read from the contract, so the payload is sent in the form that
//! domain takes (`Ecdsa` hash or `Eddsa` message); the answer is verified against the derived
//! key before it is printed (docs/design.md §4.3 JSON, with the key it verifies under).
//!
//! [`Requester`] holds the arguments every command that asks for signatures shares (`sign`,
//! `eth send`, `sol send`, `btc send`).

use client::{Domain, SignError, Signer};
use primitives::{NearPublicKey, SignatureScheme};

use crate::near_args::{Account, Contract};
use crate::Failure;

/// Who asks for signatures, where, and under which key.
#[derive(clap::Args)]
pub struct Requester {
    #[command(flatten)]
    pub contract: Contract,
    #[command(flatten)]
    pub account: Account,
    /// The derivation path.
    #[arg(long)]
    pub path: String,
}

impl Requester {
    /// A signer for this account (its key is found now, so a missing or bad one fails first).
    pub fn signer(&self) -> Result<Signer, Failure> {
        let rpc = self.account.rpc(&self.contract)?;
        Ok(Signer::new(rpc, &self.account.account))
    }
}

/// A signing failure as the CLI reports it: what the user got wrong is a usage error.
pub fn failure(e: SignError) -> Failure {
    match e {
        SignError::NoDomain { .. }
        | SignError::Payload(_)
        | SignError::Derive(_)
        | SignError::NotASign(_) => Failure::usage(e),
        _ => Failure::failed(e),
    }
}

/// A failure while waiting for an answer the chain may still give: says how to collect it
/// later without paying again.
fn resumable(e: SignError, sent: &client::Sent) -> Failure {
    match e {
        SignError::Chain(chain::ChainError::Unavailable(_)) => Failure::failed(format!(
            "{e}; the request may still be answered: chainsig sign --resume {} --account ...",
            sent.tx_hash
        )),
        e => failure(e),
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
    contract: Contract,
    #[command(flatten)]
    account: Account,
    /// The derivation path.
    #[arg(long, required_unless_present = "resume")]
    path: Option<String>,
    /// What to sign, in hex: a 32-byte hash for Secp256k1, the message for Ed25519 / Bip340.
    #[arg(long, required_unless_present = "resume")]
    payload: Option<String>,
    /// The domain (see the contract's `state`); 0 is the first Secp256k1 domain.
    #[arg(long, default_value_t = 0)]
    domain: u64,
    /// Collect the answer to an earlier `sign` transaction of this account, by the hash
    /// printed when it was sent, instead of sending (and paying for) a new one.
    #[arg(long, value_name = "TX_HASH", conflicts_with_all = ["path", "payload", "domain"])]
    resume: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// One signature per input of a UTXO spend from `from`, all requested at once (a 10-input
/// spend waits about as long as a one-input one), with a progress line as each is answered.
pub async fn sign_inputs(
    signer: &Signer,
    domain: &Domain,
    path: &str,
    from: &str,
    sighashes: &[[u8; 32]],
) -> Result<Vec<primitives::response::SignatureResponse>, Failure> {
    let total = sighashes.len();
    eprintln!("asking the network to sign {total} input(s) from {from} (path {path:?})...");
    signer
        .sign_all(domain, path, sighashes, |n| {
            eprintln!("  {n}/{total} signed")
        })
        .await
        .map_err(failure)
}

/// Reads hex with or without `0x`, naming the argument when it is not hex.
pub fn hex_arg(name: &str, value: &str) -> Result<Vec<u8>, Failure> {
    hex::decode(value.strip_prefix("0x").unwrap_or(value))
        .map_err(|_| Failure::usage(format!("{name} must be hex (an even number of 0-9a-f)")))
}

pub fn run(args: Args) -> Result<(), Failure> {
    let payload = match &args.payload {
        Some(hex) => Some(hex_arg("--payload", hex)?),
        None => None,
    };
    if let Some(hash) = &args.resume {
        if bs58::decode(hash).into_vec().map(|b| b.len()) != Ok(32) {
            return Err(Failure::usage(
                "--resume takes a transaction hash: 32 bytes in base58, as NEAR prints it",
            ));
        }
    }
    let rpc = args.account.rpc(&args.contract)?;
    let signer = Signer::new(rpc, &args.account.account);
    crate::runtime()?.block_on(async {
        let (sent, signed) = match (&args.resume, &args.path, payload) {
            (Some(tx_hash), _, _) => signer.resume(tx_hash).await.map_err(failure)?,
            (None, Some(path), Some(payload)) => {
                let domain = signer
                    .domain(Some(args.domain), None)
                    .await
                    .map_err(failure)?;
                let sent = signer
                    .submit(&domain, path, &payload)
                    .await
                    .map_err(failure)?;
                eprintln!(
                    "sent sign transaction {}; waiting for the network's answer",
                    sent.tx_hash
                );
                let signed = signer
                    .answer(&sent)
                    .await
                    .map_err(|e| resumable(e, &sent))?;
                (sent, signed)
            }
            _ => return Err(Failure::usage("give --path and --payload, or --resume")),
        };
        let domain = &sent.domain;
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
                "domain_id": domain.id,
                "scheme": domain.scheme,
                "path": sent.path,
                "transaction": sent.tx_hash,
                "public_key": signed.derived_key,
                "signature": signed.response,
            });
            if let Some(key) = &output_key {
                out["taproot_output_key"] = key.as_str().into();
            }
            println!("{out}");
        } else {
            println!("{:<12} {}", "transaction", sent.tx_hash);
            println!("{:<12} {} ({:?})", "domain", domain.id, domain.scheme);
            println!("{:<12} {:?}", "path", sent.path);
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
