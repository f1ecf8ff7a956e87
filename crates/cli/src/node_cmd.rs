//! `chainsig node …`: set up and run an MPC node.

use node::config::{template, InitValues};
use node::identity;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::Failure;

#[derive(clap::Subcommand)]
pub enum NodeCommand {
    /// Write a fresh identity (TLS key, account key, store key) and a commented config.toml
    /// into a new node directory.
    Init(InitArgs),
    /// Run the node in a directory `node init` made, until SIGTERM or Ctrl-C.
    Run(RunArgs),
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// The node's data directory.
    #[arg(long)]
    dir: PathBuf,
}

#[derive(clap::Args)]
pub struct InitArgs {
    /// The node's data directory (created if missing; must not hold a node already).
    #[arg(long)]
    dir: PathBuf,
    /// The NEAR account the node will answer and vote with.
    #[arg(long)]
    account: String,
    /// Where to accept peers' TLS connections.
    #[arg(long, default_value = "127.0.0.1:4100")]
    p2p_listen: SocketAddr,
    /// Where to serve /health, /metrics and /public_data.
    #[arg(long, default_value = "127.0.0.1:4200")]
    http_listen: SocketAddr,
    /// The NEAR JSON-RPC endpoint.
    #[arg(long, default_value = "http://127.0.0.1:3030")]
    rpc_url: String,
    /// The signer contract's account.
    #[arg(long, default_value = "signer.test")]
    contract_id: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: NodeCommand) -> Result<(), Failure> {
    match cmd {
        NodeCommand::Init(args) => init(args),
        NodeCommand::Run(args) => crate::node_run::run(&args.dir),
    }
}

fn init(args: InitArgs) -> Result<(), Failure> {
    if args.account.is_empty() || args.account.len() > 64 {
        return Err(Failure::usage(
            "--account must be a NEAR account id (1..=64 characters)",
        ));
    }
    let config_path = args.dir.join("config.toml");
    let public = init_dir(
        &args.dir,
        identity::NewAccount::Named(&args.account),
        args.p2p_listen,
        args.http_listen,
        &args.rpc_url,
        &args.contract_id,
        identity::NodeKeys::generate(),
    )?;
    if args.json {
        let out = serde_json::json!({
            "dir": args.dir,
            "config": config_path,
            "account_id": public.account_id,
            "account_public_key": public.account_public_key,
            "tls_public_key": public.tls_public_key,
        });
        println!("{out}");
    } else {
        println!("node initialized in {}", args.dir.display());
        println!("{:<20} {}", "account", public.account_id);
        println!("{:<20} {}", "account public key", public.account_public_key);
        println!("{:<20} {}", "tls public key", public.tls_public_key);
        println!("{:<20} {}", "config", config_path.display());
    }
    Ok(())
}

/// Creates a node directory with `keys` as its identity, and a config; refuses one that
/// holds a node.
pub fn init_dir(
    dir: &Path,
    account: identity::NewAccount<'_>,
    p2p_listen: SocketAddr,
    http_listen: SocketAddr,
    rpc_url: &str,
    contract_id: &str,
    keys: identity::NodeKeys,
) -> Result<identity::PublicIdentity, Failure> {
    let config_path = dir.join("config.toml");
    if config_path.exists() {
        return Err(Failure::failed(format!(
            "{} already exists; this directory holds a node already",
            config_path.display()
        )));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::failed(format!("cannot create {}: {e}", dir.display())))?;
    let public = identity::create_with(dir, account, keys).map_err(Failure::failed)?;
    let config = template(&InitValues {
        account_id: &public.account_id,
        p2p_listen,
        http_listen,
        rpc_url,
        contract_id,
    });
    std::fs::write(&config_path, config)
        .map_err(|e| Failure::failed(format!("cannot write {}: {e}", config_path.display())))?;
    Ok(public)
}
