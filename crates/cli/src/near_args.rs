//! Where the signer contract is and who asks it: the NEAR side of every command line.
//!
//! `--network devnet|testnet|mainnet` picks the RPC endpoint and the signer contract — the
//! local devnet's, or NEAR's production signer (`v1.signer-prod.testnet`, `v1.signer`) — and
//! `--rpc` / `--contract-id` override either. Each common option also reads an environment
//! variable (`CHAINSIG_NETWORK`, `CHAINSIG_RPC`, `CHAINSIG_CONTRACT_ID`, `CHAINSIG_ACCOUNT`,
//! `CHAINSIG_KEY_FILE`), so a shell set up for one network stays set up.
//!
//! The requesting account's key is found as near-cli finds it: `--key-file` when given, else
//! the private key in `CHAINSIG_PRIVATE_KEY`, else near-cli's keychain,
//! `~/.near-credentials/<network>/<account>.json` (or the one key file in near-cli-rs's
//! `~/.near-credentials/<network>/<account>/` directory). A private key is never printed: errors
//! name where a key was looked for, not what it holds.

use node::identity::NearKey;
use std::path::{Path, PathBuf};

use crate::Failure;

/// The environment variable a private key may come in (`ed25519:` + base58, as near-cli
/// writes it). Not a clap option: clap would show its value in `--help`.
pub const PRIVATE_KEY_ENV: &str = "CHAINSIG_PRIVATE_KEY";

/// A NEAR network and its signer contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Network {
    /// The local devnet `chainsig devnet` starts.
    Devnet,
    /// NEAR testnet and its production signer `v1.signer-prod.testnet`.
    Testnet,
    /// NEAR mainnet and its production signer `v1.signer`.
    Mainnet,
}

impl Network {
    /// The name near-cli files this network's credentials under.
    pub fn name(self) -> &'static str {
        match self {
            Self::Devnet => "devnet",
            Self::Testnet => "testnet",
            Self::Mainnet => "mainnet",
        }
    }

    /// The JSON-RPC endpoint used unless `--rpc` says otherwise.
    pub fn rpc(self) -> &'static str {
        match self {
            Self::Devnet => "http://127.0.0.1:3030",
            Self::Testnet => "https://rpc.testnet.near.org",
            Self::Mainnet => "https://rpc.mainnet.near.org",
        }
    }

    /// The signer contract used unless `--contract-id` says otherwise.
    pub fn contract_id(self) -> &'static str {
        match self {
            Self::Devnet => crate::devnet_cmd::CONTRACT_ID,
            Self::Testnet => "v1.signer-prod.testnet",
            Self::Mainnet => "v1.signer",
        }
    }
}

/// Where the signer contract is: shared by the commands that talk to it.
#[derive(clap::Args, Clone, Debug)]
pub struct Contract {
    /// The NEAR network: its RPC endpoint and signer contract are the defaults of --rpc and
    /// --contract-id.
    #[arg(long, value_enum, env = "CHAINSIG_NETWORK", default_value = "devnet")]
    pub network: Network,
    /// The chain's JSON-RPC endpoint [default: the network's: http://127.0.0.1:3030,
    /// https://rpc.testnet.near.org, https://rpc.mainnet.near.org].
    #[arg(long, env = "CHAINSIG_RPC")]
    rpc: Option<String>,
    /// The signer contract's account [default: the network's: signer.devnet,
    /// v1.signer-prod.testnet, v1.signer].
    #[arg(long, env = "CHAINSIG_CONTRACT_ID")]
    contract_id: Option<String>,
}

impl Contract {
    pub fn rpc(&self) -> &str {
        self.rpc.as_deref().unwrap_or(self.network.rpc())
    }

    pub fn contract_id(&self) -> &str {
        self.contract_id
            .as_deref()
            .unwrap_or(self.network.contract_id())
    }

    /// A client for the contract's views.
    pub fn read_only(&self) -> Result<chain::NearRpc, Failure> {
        chain::NearRpc::read_only(self.rpc(), self.contract_id()).map_err(Failure::usage)
    }
}

/// The account that sends transactions, and how to find its key.
#[derive(clap::Args, Clone, Debug)]
pub struct Account {
    /// The account that asks (and pays the 1 yoctoNEAR deposit).
    #[arg(long, env = "CHAINSIG_ACCOUNT")]
    pub account: String,
    /// Its key, in near-cli's JSON format [default: the private key in $CHAINSIG_PRIVATE_KEY,
    /// else ~/.near-credentials/NETWORK/ACCOUNT.json as near-cli keeps it].
    #[arg(long, env = "CHAINSIG_KEY_FILE")]
    pub key_file: Option<PathBuf>,
}

impl Account {
    /// The account's key on `network`, found as the module doc says.
    pub fn key(&self, network: Network) -> Result<NearKey, Failure> {
        find_key(
            &self.account,
            self.key_file.as_deref(),
            std::env::var(PRIVATE_KEY_ENV)
                .ok()
                .map(zeroize::Zeroizing::new),
            std::env::var_os("HOME").map(PathBuf::from).as_deref(),
            network,
        )
    }

    /// A client that sends as this account to `contract`.
    pub fn rpc(&self, contract: &Contract) -> Result<chain::NearRpc, Failure> {
        let key = self.key(contract.network)?;
        chain::NearRpc::new(
            contract.rpc(),
            contract.contract_id(),
            &self.account,
            key.signing_key().clone(),
        )
        .map_err(Failure::usage)
    }
}

/// The key of `account`: from `key_file`, else `private_key`, else near-cli's keychain under
/// `home`. Each source is taken whole or refused with a reason; none is silently skipped.
pub fn find_key(
    account: &str,
    key_file: Option<&Path>,
    private_key: Option<zeroize::Zeroizing<String>>,
    home: Option<&Path>,
    network: Network,
) -> Result<NearKey, Failure> {
    if let Some(path) = key_file {
        return read_for(path, account);
    }
    if let Some(text) = private_key {
        return NearKey::from_private_key(&text)
            .map_err(|why| Failure::usage(format!("${PRIVATE_KEY_ENV}: {why}")));
    }
    let Some(home) = home else {
        return Err(no_key(account, None));
    };
    let dir = home.join(".near-credentials").join(network.name());
    let file = dir.join(format!("{account}.json"));
    if file.exists() {
        return read_for(&file, account);
    }
    // near-cli-rs keeps one file per key: `<account>/<key type>_<base58 key>.json`.
    let keys_dir = dir.join(account);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&keys_dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    match files.as_slice() {
        [] => Err(no_key(account, Some(&file))),
        [only] => read_for(only, account),
        many => Err(Failure::usage(format!(
            "{} holds {} keys for {account}; choose one with --key-file: {}",
            keys_dir.display(),
            many.len(),
            many.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Reads a key file, refusing one written for another account.
fn read_for(path: &Path, account: &str) -> Result<NearKey, Failure> {
    let (key, owner) = NearKey::read(path).map_err(Failure::usage)?;
    match owner {
        Some(owner) if owner != account => Err(Failure::usage(format!(
            "{} is the key of {owner}, not of {account}",
            path.display()
        ))),
        _ => Ok(key),
    }
}

fn no_key(account: &str, looked: Option<&Path>) -> Failure {
    let looked = match looked {
        Some(p) => format!(" (no {} either)", p.display()),
        None => " ($HOME is not set)".to_owned(),
    };
    Failure::usage(format!(
        "no key for {account}: give --key-file, set CHAINSIG_KEY_FILE or {PRIVATE_KEY_ENV}, or \
         keep it where near-cli does{looked}"
    ))
}

#[cfg(test)]
mod tests;
