//! `chainsig address` (alias `derive`): the key an account signs with under a path, and its
//! address on every foreign chain the client knows (DESIGN §4.1–4.2).

use client::address::{AddressOptions, BitcoinNetwork};
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

#[derive(Serialize)]
struct Output {
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
    let root = match (&args.root_key, &args.rpc) {
        (Some(root), _) => *root,
        (None, Some(rpc)) => {
            let rpc = chain::NearRpc::read_only(rpc, &args.contract_id).map_err(Failure::usage)?;
            let signer = client::Signer::new(rpc, &args.account);
            crate::runtime()?
                .block_on(signer.domain(Some(args.domain), None))
                .map_err(crate::sign_cmd::failure)?
                .root
        }
        (None, None) => return Err(Failure::usage("give --root-key or --rpc")),
    };
    let derived = derive_public_key(&root, &args.account, &args.path).map_err(Failure::usage)?;
    let out = Output {
        public_key: derived,
        addresses: client::address::addresses(&derived, &options).map_err(Failure::usage)?,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&out).expect("plain data serializes")
        );
    } else {
        println!("{:<13} {}", "public key", out.public_key);
        for (name, addr) in &out.addresses {
            println!("{name:<13} {addr}");
        }
    }
    Ok(())
}
