//! `chainsig chain --dir D`: the devnet chain as a process.
//!
//! On first start it creates the chain from `D/genesis.json` (written by `chainsig devnet`,
//! or by hand); afterwards it resumes from `D/chain.redb`. It serves NEAR's JSON-RPC on
//! `--listen` and produces a block every `--block-ms` until SIGTERM or Ctrl-C.

use devnet::{Devnet, Genesis, GenesisAccount};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tracing::{error, info};

use crate::Failure;

#[derive(clap::Args)]
pub struct Args {
    /// The chain's data directory (holds genesis.json at first, then chain.redb).
    #[arg(long)]
    pub dir: PathBuf,
    /// Where to serve JSON-RPC.
    #[arg(long, default_value = "127.0.0.1:3030")]
    pub listen: SocketAddr,
    /// Milliseconds between blocks (10 to 60000).
    #[arg(long, default_value_t = 100, value_parser = crate::block_ms())]
    pub block_ms: u64,
    #[command(flatten)]
    pub lake: LakeArgs,
}

/// Where to publish blocks in NEAR Lake's layout (credentials: `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct LakeArgs {
    /// An S3 endpoint to publish every block to, as NEAR Lake lays it out.
    #[arg(long, requires = "lake_bucket")]
    pub lake_endpoint: Option<String>,
    /// The bucket (it must exist).
    #[arg(long, requires = "lake_endpoint")]
    pub lake_bucket: Option<String>,
    /// The bucket's region.
    #[arg(long, default_value = "us-east-1")]
    pub lake_region: String,
}

impl LakeArgs {
    /// The lake to publish to or read from, if one was given.
    pub fn config(&self) -> Option<chain::lake::LakeConfig> {
        Some(chain::lake::LakeConfig {
            endpoint: self.lake_endpoint.clone()?,
            bucket: self.lake_bucket.clone()?,
            region: self.lake_region.clone(),
            requester_pays: false,
        })
    }
}

/// `genesis.json`: the accounts the chain starts with.
#[derive(Serialize, Deserialize)]
pub struct GenesisFile {
    /// 64 hex characters: the seed of every block's randomness.
    pub seed: String,
    pub accounts: Vec<GenesisFileAccount>,
}

#[derive(Serialize, Deserialize)]
pub struct GenesisFileAccount {
    pub account_id: String,
    /// yoctoNEAR, as a decimal string.
    pub balance: String,
    pub public_keys: Vec<String>,
    /// A wasm file (relative to the chain's directory) to deploy on the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wasm: Option<PathBuf>,
}

fn read_genesis(dir: &Path) -> Result<Genesis, String> {
    let path = dir.join("genesis.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: {e} (a new chain starts from its genesis)",
            path.display()
        )
    })?;
    let file: GenesisFile =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let seed: [u8; 32] = hex::decode(&file.seed)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("{}: seed must be 64 hex characters", path.display()))?;
    let mut accounts = vec![];
    for a in file.accounts {
        let bad = |what: &str| format!("{}: account {}: {what}", path.display(), a.account_id);
        let wasm = match &a.wasm {
            Some(w) => Some(
                std::fs::read(dir.join(w))
                    .map_err(|e| bad(&format!("wasm {}: {e}", w.display())))?,
            ),
            None => None,
        };
        accounts.push(GenesisAccount {
            account_id: a.account_id.parse().map_err(|e| bad(&format!("{e}")))?,
            balance: a
                .balance
                .parse()
                .map_err(|e| bad(&format!("balance: {e}")))?,
            keys: a
                .public_keys
                .iter()
                .map(|k| k.parse())
                .collect::<Result<_, _>>()
                .map_err(|e| bad(&format!("public key: {e}")))?,
            wasm,
        });
    }
    Ok(Genesis { accounts, seed })
}

pub fn run(args: Args) -> Result<(), Failure> {
    crate::init_logging();
    let interval = Duration::from_millis(args.block_ms);
    let genesis = || read_genesis(&args.dir);
    let (devnet, created) = Devnet::open(&args.dir, genesis, interval).map_err(Failure::failed)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::failed(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| Failure::failed(format!("cannot listen on {}: {e}", args.listen)))?;
        let height = devnet.ledger().height;
        info!(
            rpc = %format!("http://{}", args.listen),
            height,
            created,
            block_ms = args.block_ms,
            "chain running"
        );
        let app = devnet.router();
        let limits = httpd::Limits {
            max_connections: connection_budget(MAX_CONNECTIONS),
            ..httpd::Limits::default()
        };
        let server = tokio::spawn(httpd::serve(listener, app, limits, std::future::pending()));
        let blocks = tokio::spawn(devnet.clone().produce_blocks());
        let lake = match args.lake.config() {
            Some(config) => {
                let client =
                    chain::lake::LakeClient::new(&config, chain::lake::credentials_from_env())
                        .map_err(|e| Failure::usage(format!("--lake-endpoint: {e}")))?;
                Some(tokio::spawn(devnet::lake::publish(devnet.clone(), client)))
            }
            None => None,
        };
        tokio::select! {
            signal = crate::node_run::shutdown_signal() => {
                info!(signal, "shutting down");
            }
            e = blocks => {
                let e = e.map_err(|e| Failure::failed(format!("block production: {e}")))?;
                error!(error = %e, "block production stopped");
                return Err(Failure::failed(e));
            }
        }
        server.abort();
        if let Some(lake) = lake {
            lake.abort();
        }
        Ok(())
    })
}

/// Connections the chain's RPC serves at once. A waiting `sign` holds one (it long-polls for
/// its outcome), so an open-loop load holds rate × latency of them: `bench --rate 62` on the
/// V2Secp256k1 domain held ~560 and lost its requests beyond the public endpoint's 512.
const MAX_CONNECTIONS: usize = 4096;
/// Descriptors kept for everything else the chain opens (its store, logs, the lake).
const SPARE_FILES: u64 = 256;

/// `want` connections, or as many as the open-file limit allows once raised as far as the
/// hard limit lets it (a soft limit of 1024 is common).
fn connection_budget(want: usize) -> usize {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let need = want as u64 + SPARE_FILES;
    let soft = limit.current.unwrap_or(u64::MAX);
    let soft = if soft >= need {
        soft
    } else {
        let raised = limit.maximum.map_or(need, |hard| hard.min(need));
        let set = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(raised),
                maximum: limit.maximum,
            },
        );
        if set.is_ok() {
            raised
        } else {
            soft
        }
    };
    let budget = soft.saturating_sub(SPARE_FILES).clamp(1, want as u64) as usize;
    if budget < want {
        tracing::warn!(
            budget,
            want,
            "the open-file limit allows fewer RPC connections than wanted"
        );
    }
    budget
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_budget_stays_within_the_open_file_limit() {
        use rustix::process::{getrlimit, Resource};
        // Small enough for any limit: granted whole.
        assert_eq!(connection_budget(16), 16);
        // Whatever is asked, never more than the (possibly raised) soft limit leaves spare.
        let budget = connection_budget(1 << 30);
        let soft = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
        assert!(budget >= 1);
        assert!(
            budget as u64 <= soft.saturating_sub(SPARE_FILES).max(1),
            "{budget} of {soft}"
        );
    }
}
