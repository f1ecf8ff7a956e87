//! `chainsig devnet stop-node` / `start-node`: a node taken down and brought back by its
//! operator, without leaving the network.
//!
//! The running devnet supervises its nodes and restarts one that exits (a crash, a `kill
//! -9`), so stopping a node for a while — maintenance, or a fault test that wants a node
//! down for longer than a crash lasts — has to be asked for: `stop-node` records the node as
//! held in `devnet.json`, the devnet stops its process (SIGTERM, as a service manager would)
//! and keeps it down, and `start-node` releases it. The contract still lists the node: while
//! it is down the others sign without it as long as a threshold of them is up, and a
//! resharing that needs it waits for it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::devnet_cmd::{progress, Layout};
use crate::devnet_members::find;
use crate::Failure;

#[derive(clap::Args)]
pub struct Held {
    /// The node: its index (`3` or `node3`) or its account.
    node: String,
    /// The running devnet's directory.
    #[arg(long, default_value = "devnet-data")]
    dir: PathBuf,
    /// How long to wait for the node to stop or to answer again, in seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Print one JSON object when done.
    #[arg(long)]
    json: bool,
}

pub async fn stop_node(h: &Held) -> Result<(), Failure> {
    let mut layout = Layout::load(&h.dir)?;
    let (i, account) = find(&layout, &h.node)?;
    if layout.held.contains(&account) {
        return Err(Failure::usage(format!(
            "node {i} ({account}) is already stopped"
        )));
    }
    let node_dir = h.dir.join(format!("node{i}"));
    let pid = crate::cpu::pid_in(&node_dir);
    layout.held.push(account.clone());
    layout.save(&h.dir)?;
    progress(format!(
        "node {i} ({account}) held down; waiting for its process to stop"
    ));
    wait(h, "its process to stop", || {
        pid.is_none_or(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
    })
    .await?;
    report(h, "stopped", i, &account)
}

pub async fn start_node(h: &Held) -> Result<(), Failure> {
    let mut layout = Layout::load(&h.dir)?;
    let (i, account) = find(&layout, &h.node)?;
    if !layout.held.contains(&account) {
        return Err(Failure::usage(format!(
            "node {i} ({account}) was not stopped with `devnet stop-node`"
        )));
    }
    layout.held.retain(|a| *a != account);
    layout.save(&h.dir)?;
    let node_dir = h.dir.join(format!("node{i}"));
    let http = node::config::NodeConfig::load(&node_dir, |_| None)
        .map_err(Failure::failed)?
        .http
        .listen;
    progress(format!(
        "node {i} ({account}) released; waiting for it to answer"
    ));
    let until = Instant::now() + Duration::from_secs(h.timeout);
    loop {
        let status = crate::http::get_json::<node::service::Status>(http, "/health").await;
        if status.is_some() {
            return report(h, "started", i, &account);
        }
        if Instant::now() > until {
            return Err(Failure::failed(format!(
                "node {i} did not answer at {http} within {} s; see {}",
                h.timeout,
                node_dir.join("node.log").display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn wait(h: &Held, what: &str, done: impl Fn() -> bool) -> Result<(), Failure> {
    let until = Instant::now() + Duration::from_secs(h.timeout);
    while !done() {
        if Instant::now() > until {
            return Err(Failure::failed(format!(
                "waited {} s for {what}; is `chainsig devnet` running on {}?",
                h.timeout,
                h.dir.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

fn report(h: &Held, what: &str, i: usize, account: &str) -> Result<(), Failure> {
    if h.json {
        println!(
            "{}",
            serde_json::json!({ what: account, "node": i, "dir": h.dir.join(format!("node{i}")) })
        );
    } else {
        println!("node {i} ({account}) {what}");
    }
    Ok(())
}
