//! `chainsig status`: the network in one view.
//!
//! The contract's phase, epoch, threshold, participants and domains and its pending requests
//! (`state` and `system_load`, views any RPC serves), and, for each node whose HTTP endpoint it
//! knows (`--dir` of a devnet, or `--node-http`), its health, how far it follows the chain,
//! the peers it hears and the items it owns (its `/health`). A node that does not answer within
//! two seconds is shown as unreachable; the rest of the view still prints.

use contract::views::{StateView, SystemLoad};
use node::service::Status;
use serde_json::json;
use std::net::SocketAddr;
use std::time::Duration;

use crate::Failure;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    contract: crate::near_args::Contract,
    #[command(flatten)]
    nodes: crate::devnet_cmd::NodeEndpoints,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// How long one node's `/health` may take: a stopped node must not hold up the view.
const NODE_TIMEOUT: Duration = Duration::from_secs(2);

pub fn run(args: Args) -> Result<(), Failure> {
    let nodes = args.nodes.endpoints()?;
    let rpc = args.contract.read_only()?;
    crate::runtime()?.block_on(async {
        let (raw, state) = read_state(&rpc).await?;
        let load: SystemLoad = rpc
            .view("system_load", json!({}))
            .await
            .map_err(|e| Failure::failed(format!("reading the contract's load: {e}")))?;
        let mut health = Vec::with_capacity(nodes.len());
        for addr in &nodes {
            let answer = tokio::time::timeout(
                NODE_TIMEOUT,
                crate::http::get_json::<Status>(*addr, "/health"),
            )
            .await
            .ok()
            .flatten();
            health.push((*addr, answer));
        }
        if args.json {
            print_json(&args, &state, raw, &load, &health);
        } else {
            print_text(&args, &state, &load, &health);
        }
        Ok(())
    })
}

/// The contract's `state` as it wrote it (NEAR's production shape, for --json) and as read.
pub async fn read_state(rpc: &chain::NearRpc) -> Result<(serde_json::Value, StateView), Failure> {
    let raw: serde_json::Value = rpc
        .view("state", json!({}))
        .await
        .map_err(|e| Failure::failed(format!("reading the contract's state: {e}")))?;
    let state = serde_json::from_value(raw.clone())
        .map_err(|e| Failure::failed(format!("the contract's state is not a signer's: {e}")))?;
    Ok((raw, state))
}

fn print_json(
    args: &Args,
    state: &StateView,
    raw: serde_json::Value,
    load: &SystemLoad,
    health: &[(SocketAddr, Option<Status>)],
) {
    let nodes: Vec<serde_json::Value> = health
        .iter()
        .map(|(addr, status)| json!({"http": addr.to_string(), "status": status}))
        .collect();
    let out = json!({
        "rpc": args.contract.rpc(),
        "contract_id": args.contract.contract_id(),
        "phase": state.state,
        "state": raw,
        "load": load,
        "nodes": nodes,
    });
    println!("{out}");
}

fn print_text(
    args: &Args,
    state: &StateView,
    load: &SystemLoad,
    health: &[(SocketAddr, Option<Status>)],
) {
    let or_dash = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
    println!(
        "contract  {} at {}: {:?}, epoch {}, threshold {}, {} participants{}",
        args.contract.contract_id(),
        args.contract.rpc(),
        state.state,
        or_dash(state.epoch),
        or_dash(state.threshold),
        state.participants.len(),
        if state.candidates.is_empty() {
            String::new()
        } else {
            format!(", {} candidates", state.candidates.len())
        }
    );
    for d in &state.domains {
        println!("domain    {} {:?} {}", d.id, d.scheme, d.public_key);
    }
    println!(
        "requests  {} pending (room for {})",
        load.pending_requests, load.capacity
    );
    if health.is_empty() {
        println!("nodes     (give --dir or --node-http to see them)");
        return;
    }
    println!("nodes     http                   account              healthy  height/head  peers  pending  stock (domain:items)");
    for (addr, status) in health {
        let Some(s) = status else {
            println!("          {addr:<22} unreachable");
            continue;
        };
        let stock: Vec<String> = s
            .stock
            .iter()
            .filter(|l| l.kind != node::store::Kind::Triple)
            .map(|l| format!("{}:{}", l.domain, l.count))
            .collect();
        println!(
            "          {:<22} {:<20} {:<8} {:>5}/{:<5}  {:>5}  {:>7}  {}",
            addr.to_string(),
            s.account_id,
            if s.healthy { "yes" } else { "NO" },
            or_dash(s.indexer.height),
            or_dash(s.indexer.head),
            s.peers_alive.len(),
            s.pending_requests,
            stock.join(" ")
        );
    }
}
