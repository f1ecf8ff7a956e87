//! `chainsig derive`: the derived key of (account, path) under a root key, and its addresses.

use primitives::address::{self, BitcoinNetwork};
use primitives::derivation::derive_public_key;
use primitives::NearPublicKey;
use serde::Serialize;
use std::collections::BTreeMap;

use crate::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// The domain's root public key, as NEAR prints it (`secp256k1:…` or `ed25519:…`).
    #[arg(long, required_unless_present = "rpc", conflicts_with = "rpc")]
    root_key: Option<NearPublicKey>,
    /// Read the root key from the signer contract through this NEAR JSON-RPC endpoint.
    #[arg(long)]
    rpc: Option<String>,
    /// The signer contract's account (with --rpc).
    #[arg(long, default_value = crate::devnet_cmd::CONTRACT_ID)]
    contract_id: String,
    /// The domain whose root key to read (with --rpc).
    #[arg(long, default_value_t = 0)]
    domain: u64,
    /// The NEAR account that will request signatures (the contract's predecessor).
    #[arg(long)]
    account: String,
    /// The derivation path, any string (e.g. `ethereum-1`).
    #[arg(long)]
    path: String,
    /// Print Bitcoin testnet addresses instead of mainnet ones.
    #[arg(long)]
    testnet: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Output {
    public_key: NearPublicKey,
    addresses: BTreeMap<&'static str, String>,
}

pub fn run(args: Args) -> Result<(), Failure> {
    if args.account.is_empty() {
        return Err(Failure::usage("--account must not be empty"));
    }
    let root = match (&args.root_key, &args.rpc) {
        (Some(root), _) => *root,
        (None, Some(rpc)) => {
            let rpc = chain::NearRpc::read_only(rpc, &args.contract_id).map_err(Failure::usage)?;
            crate::runtime()?
                .block_on(crate::sign_cmd::domain(&rpc, args.domain))?
                .1
        }
        (None, None) => return Err(Failure::usage("give --root-key or --rpc")),
    };
    let derived = derive_public_key(&root, &args.account, &args.path).map_err(Failure::usage)?;
    let out = Output {
        public_key: derived,
        addresses: addresses(&derived, args.testnet),
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&out).expect("plain data serializes")
        );
    } else {
        println!("{:<12} {}", "public key", out.public_key);
        for (name, addr) in &out.addresses {
            println!("{name:<12} {addr}");
        }
    }
    Ok(())
}

fn addresses(key: &NearPublicKey, testnet: bool) -> BTreeMap<&'static str, String> {
    let mut out = BTreeMap::new();
    match key {
        NearPublicKey::Secp256k1(p) => {
            let net = if testnet {
                BitcoinNetwork::Testnet
            } else {
                BitcoinNetwork::Mainnet
            };
            out.insert("evm", address::evm_address(p));
            out.insert("btc_p2pkh", address::btc_p2pkh(p, net));
            out.insert("btc_p2wpkh", address::btc_p2wpkh(p, net));
        }
        NearPublicKey::Ed25519(p) => {
            out.insert("solana", address::ed25519::solana_address(p));
            out.insert("near_implicit", address::ed25519::near_implicit_account(p));
        }
    }
    out
}
