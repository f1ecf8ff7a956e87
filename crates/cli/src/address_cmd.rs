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
    /// The domain's root public key, as NEAR prints it (`secp256k1:…` or `ed25519:…`).
    #[arg(long, required_unless_present = "rpc", conflicts_with = "rpc")]
    root_key: Option<NearPublicKey>,
    /// Read the root keys from the signer contract through this NEAR JSON-RPC endpoint.
    #[arg(long)]
    rpc: Option<String>,
    /// The signer contract's account (with --rpc).
    #[arg(long, default_value = crate::devnet_cmd::CONTRACT_ID)]
    contract_id: String,
    /// Only this domain (with --rpc; default: every domain of the contract).
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
    /// Bitcoin addresses for this network: mainnet, testnet or regtest.
    #[arg(long, default_value = "mainnet")]
    network: BitcoinNetwork,
    /// Short for --network testnet.
    #[arg(long, conflicts_with = "network")]
    testnet: bool,
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

pub fn run(args: Args) -> Result<(), Failure> {
    if args.account.is_empty() {
        return Err(Failure::usage("--account must not be empty"));
    }
    let options = AddressOptions {
        bitcoin: if args.testnet {
            BitcoinNetwork::Testnet
        } else {
            args.network
        },
        cosmos_prefix: args.cosmos_prefix.clone(),
    };
    let scheme = args.scheme.map(SignatureScheme::from);
    // (domain id, scheme, root key) of every domain to show.
    let roots: Vec<(Option<u64>, SignatureScheme, NearPublicKey)> =
        match (&args.root_key, &args.rpc) {
            (Some(root), _) => {
                let scheme = scheme.unwrap_or(match root {
                    NearPublicKey::Secp256k1(_) => SignatureScheme::Secp256k1,
                    NearPublicKey::Ed25519(_) => SignatureScheme::Ed25519,
                });
                vec![(None, scheme, *root)]
            }
            (None, Some(rpc)) => {
                let rpc =
                    chain::NearRpc::read_only(rpc, &args.contract_id).map_err(Failure::usage)?;
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
                        args.contract_id
                    )));
                }
                domains
                    .into_iter()
                    .map(|d| (Some(d.id), d.scheme, d.root))
                    .collect()
            }
            (None, None) => return Err(Failure::usage("give --root-key or --rpc")),
        };
    let mut keys = Vec::with_capacity(roots.len());
    for (domain_id, scheme, root) in roots {
        let public_key =
            derive_public_key(&root, &args.account, &args.path).map_err(Failure::usage)?;
        keys.push(DerivedKey {
            domain_id,
            scheme,
            public_key,
            addresses: client::address::addresses(&public_key, scheme, &options)
                .map_err(Failure::usage)?,
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
