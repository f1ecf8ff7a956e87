//! `chainsig address` (alias `derive`): the keys an account signs with under a path, one per
//! domain, and the addresses on foreign chains each domain can sign for (docs/design.md §4.1–4.2).

use client::address::{AddressOptions, BitcoinNetwork};
use primitives::derivation::derive_public_key;
use primitives::{NearPublicKey, SignatureScheme};
use serde::Serialize;
use std::collections::BTreeMap;

use crate::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// The domain's root public key, as NEAR prints it (`secp256k1:…` or `ed25519:…`);
    /// without it, every domain's root key is read from the signer contract.
    #[arg(long)]
    root_key: Option<NearPublicKey>,
    /// Where the signer contract is (without --root-key).
    #[command(flatten)]
    contract: crate::near_args::Contract,
    /// Only this domain (default: every domain of the contract).
    #[arg(long, conflicts_with = "root_key")]
    domain: Option<u64>,
    /// Only domains of this scheme; with --root-key, the scheme of that root key's domain
    /// (default: secp256k1 for a secp256k1 key, ed25519 for an ed25519 key).
    #[arg(long, value_enum)]
    scheme: Option<Scheme>,
    /// The NEAR account that will request signatures (the contract's predecessor).
    #[arg(long)]
    account: String,
    /// The derivation path, any string (e.g. `ethereum-1`).
    #[arg(long)]
    path: String,
    /// Bitcoin addresses for this Bitcoin network: mainnet, testnet or regtest (--network is
    /// the NEAR network).
    #[arg(long, default_value = "mainnet")]
    btc_network: BitcoinNetwork,
    /// The bech32 prefix of the Cosmos chain (cosmos, osmo, ...).
    #[arg(long, default_value = "cosmos")]
    cosmos_prefix: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// A domain's signature scheme, as the command line names it.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Scheme {
    /// ECDSA: EVM, Bitcoin P2PKH/P2WPKH, Dogecoin, XRP, Cosmos.
    Secp256k1,
    /// Schnorr (Taproot): Bitcoin P2TR.
    Bip340,
    /// EdDSA: Solana, NEAR implicit accounts.
    Ed25519,
    /// ECDSA with honest-majority presignatures: as secp256k1.
    V2Secp256k1,
}

impl From<Scheme> for SignatureScheme {
    fn from(s: Scheme) -> Self {
        match s {
            Scheme::Secp256k1 => Self::Secp256k1,
            Scheme::Bip340 => Self::Bip340,
            Scheme::Ed25519 => Self::Ed25519,
            Scheme::V2Secp256k1 => Self::V2Secp256k1,
        }
    }
}

#[derive(Serialize)]
struct Output {
    account: String,
    path: String,
    keys: Vec<DerivedKey>,
}

/// One domain's key for the account and path, and the addresses that domain signs for.
#[derive(Serialize)]
struct DerivedKey {
    #[serde(skip_serializing_if = "Option::is_none")]
    domain_id: Option<u64>,
    scheme: SignatureScheme,
    public_key: NearPublicKey,
    addresses: BTreeMap<&'static str, String>,
}

/// The addresses a domain of `scheme` with master key `root` signs for, for `account` under
/// `path` (what `chainsig address` prints per domain; the devnet funds some of them).
pub(crate) fn derived_addresses(
    root: &NearPublicKey,
    scheme: SignatureScheme,
    account: &str,
    path: &str,
    options: &AddressOptions,
) -> Result<BTreeMap<&'static str, String>, Failure> {
    derive(root, scheme, account, path, options).map(|(_, addresses)| addresses)
}

/// The derived key and its addresses.
fn derive(
    root: &NearPublicKey,
    scheme: SignatureScheme,
    account: &str,
    path: &str,
    options: &AddressOptions,
) -> Result<(NearPublicKey, BTreeMap<&'static str, String>), Failure> {
    let key = derive_public_key(root, account, path).map_err(Failure::usage)?;
    let addresses = client::address::addresses(&key, scheme, options).map_err(Failure::usage)?;
    Ok((key, addresses))
}

pub fn run(args: Args) -> Result<(), Failure> {
    if args.account.is_empty() {
        return Err(Failure::usage("--account must not be empty"));
    }
    let options = AddressOptions {
        bitcoin: args.btc_network,
        cosmos_prefix: args.cosmos_prefix.clone(),
    };
    let scheme = args.scheme.map(SignatureScheme::from);
    // (domain id, scheme, root key) of every domain to show.
    let roots: Vec<(Option<u64>, SignatureScheme, NearPublicKey)> = match &args.root_key {
        Some(root) => {
            let scheme = scheme.unwrap_or(match root {
                NearPublicKey::Secp256k1(_) => SignatureScheme::Secp256k1,
                NearPublicKey::Ed25519(_) => SignatureScheme::Ed25519,
            });
            vec![(None, scheme, *root)]
        }
        None => {
            let rpc = args.contract.read_only()?;
            let signer = client::Signer::new(rpc, &args.account);
            let domains = crate::runtime()?.block_on(async {
                if args.domain.is_some() || scheme.is_some() {
                    signer.domain(args.domain, scheme).await.map(|d| vec![d])
                } else {
                    signer.domains().await
                }
            });
            let domains = domains.map_err(crate::sign_cmd::failure)?;
            if domains.is_empty() {
                return Err(Failure::failed(format!(
                    "{} has no domains yet: its network has not generated a key",
                    args.contract.contract_id()
                )));
            }
            domains
                .into_iter()
                .map(|d| (Some(d.id), d.scheme, d.root))
                .collect()
        }
    };
    let mut keys = Vec::with_capacity(roots.len());
    for (domain_id, scheme, root) in roots {
        let (public_key, addresses) = derive(&root, scheme, &args.account, &args.path, &options)?;
        keys.push(DerivedKey {
            domain_id,
            scheme,
            public_key,
            addresses,
        });
    }
    let out = Output {
        account: args.account,
        path: args.path,
        keys,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&out).expect("plain data serializes")
        );
    } else {
        for key in &out.keys {
            let domain = key.domain_id.map(|d| format!(" domain {d}"));
            println!(
                "{}{}: {}",
                key.scheme,
                domain.unwrap_or_default(),
                key.public_key
            );
            for (name, addr) in &key.addresses {
                println!("  {name:<13} {addr}");
            }
        }
    }
    Ok(())
}
