//! `chainsig devnet add-node` / `remove-node`: the membership of a running devnet changed the
//! way an operator of a real network changes it — through the contract's votes.
//!
//! `add-node` creates the new node's directory (its account is the implicit account of its new
//! key, funded by the devnet's user with a transfer, which creates it), records it in
//! `devnet.json` — the running devnet starts the process, and the node registers itself as a
//! candidate — then has the current participants vote it in (each vote tried first on a copy
//! of the contract's state, as `chainsig contract` does) and waits, with progress, until the
//! contract runs the next epoch with it. `remove-node` has the other participants vote the
//! node out, waits for the next epoch without it, then records it as removed: the devnet
//! stops its process and keeps its directory.

use chain::{Call, Chain, ChainError, NearRpc};
use contract::views::{Phase, StateView};
use node::identity::{NearKey, NewAccount};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::devnet_cmd::{free_port, node_key, progress, Layout, CONTRACT_ID, USER_ID};
use crate::Failure;

/// What the devnet's user gives a new node: the candidate deposit (0.1 NEAR) and its gas.
const NODE_FUNDS: u128 = 10 * devnet::NEAR;

// The variants are the subcommands' names (`add-node`, `stop-node`, ...), as people type them.
#[allow(clippy::enum_variant_names)]
#[derive(clap::Subcommand)]
pub enum Action {
    /// Add a node to the running devnet: a new directory and account, the process started by
    /// the devnet, the participants' votes, and the wait until the next epoch runs with it.
    AddNode(Common),
    /// Remove a node from the running devnet: the others vote it out, the next epoch runs
    /// without it, and the devnet stops its process (its directory stays).
    RemoveNode {
        /// The node: its index (`3` or `node3`) or its account.
        node: String,
        #[command(flatten)]
        common: Common,
    },
    /// Stop a node's process and keep it down (it stays a member of the network), as an
    /// operator stops a node for maintenance; `start-node` starts it again.
    StopNode(crate::devnet_hold::Held),
    /// Start a node `stop-node` held down.
    StartNode(crate::devnet_hold::Held),
}

#[derive(clap::Args)]
pub struct Common {
    /// The running devnet's directory.
    #[arg(long, default_value = "devnet-data")]
    dir: PathBuf,
    /// How long to wait for each step (the candidate, the new epoch), in seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Print one JSON object when done.
    #[arg(long)]
    json: bool,
}

pub fn run(action: Action) -> Result<(), Failure> {
    crate::runtime()?.block_on(async {
        match action {
            Action::AddNode(common) => add_node(&common).await,
            Action::RemoveNode { node, common } => remove_node(&common, &node).await,
            Action::StopNode(held) => crate::devnet_hold::stop_node(&held).await,
            Action::StartNode(held) => crate::devnet_hold::start_node(&held).await,
        }
    })
}

/// The contract's state, which must be Running for a membership change to start.
async fn running(viewer: &NearRpc) -> Result<StateView, Failure> {
    let state = viewer.state().await.map_err(|e| {
        Failure::failed(format!(
            "the devnet's chain does not answer ({e}); is `chainsig devnet` running?"
        ))
    })?;
    if state.state != Phase::Running {
        return Err(Failure::usage(format!(
            "the contract is {:?}: wait until it runs again (chainsig contract state)",
            state.state
        )));
    }
    Ok(state)
}

async fn add_node(c: &Common) -> Result<(), Failure> {
    let layout = Layout::load(&c.dir)?;
    let rpc_url = layout.rpc_url();
    let viewer = NearRpc::read_only(&rpc_url, CONTRACT_ID).map_err(Failure::failed)?;
    let before = running(&viewer).await?;
    let i = layout.node_accounts.len();
    let dir = c.dir.join(format!("node{i}"));
    let mut taken = vec![layout.rpc_port];
    let addr = |p: u16| std::net::SocketAddr::from(([127, 0, 0, 1], p));
    let (p2p, http) = (free_port(&mut taken)?, free_port(&mut taken)?);
    let public = crate::node_cmd::init_dir(
        &dir,
        NewAccount::Implicit,
        addr(p2p),
        addr(http),
        &rpc_url,
        CONTRACT_ID,
        // Random even on a seeded devnet: the seed is not kept, and a node added later is
        // not part of what the seed recreates.
        node::identity::NodeKeys::generate(),
    )?;
    let account = public.account_id;
    progress(format!("node {i}: account {account} in {}", dir.display()));
    fund(&c.dir, &rpc_url, &account).await?;
    // Reread now: another add or remove may have been recorded meanwhile.
    let mut layout = Layout::load(&c.dir)?;
    layout.node_accounts.push(account.clone());
    layout.save(&c.dir)?;
    progress(format!(
        "node {i} recorded; the devnet starts it and it registers as a candidate"
    ));
    let timeout = Duration::from_secs(c.timeout);
    wait_until(&viewer, timeout, "the candidate", |s| {
        s.candidates.iter().any(|p| p.account_id.0 == account)
    })
    .await
    .map_err(|e| {
        Failure::failed(format!(
            "{} (is `chainsig devnet` running on {}? see {})",
            e.message,
            c.dir.display(),
            dir.join("node.log").display()
        ))
    })?;
    let join = |epoch| Call::VoteJoin {
        candidate: account.clone(),
        epoch,
    };
    vote(&c.dir, &layout, &viewer, None, join).await?;
    let epoch = before.epoch.unwrap_or(0) + 1;
    let after = next_epoch(&viewer, epoch, timeout, |s| has(s, &account)).await?;
    report(c, "added", i, &account, &after)
}

async fn remove_node(c: &Common, node: &str) -> Result<(), Failure> {
    let layout = Layout::load(&c.dir)?;
    let viewer = NearRpc::read_only(&layout.rpc_url(), CONTRACT_ID).map_err(Failure::failed)?;
    let before = running(&viewer).await?;
    let (i, account) = find(&layout, node)?;
    if !has(&before, &account) {
        return Err(Failure::usage(format!("{account} is not a participant")));
    }
    let leave = |epoch| Call::VoteLeave {
        participant: account.clone(),
        epoch,
    };
    vote(&c.dir, &layout, &viewer, Some(&account), leave).await?;
    let epoch = before.epoch.unwrap_or(0) + 1;
    let timeout = Duration::from_secs(c.timeout);
    let after = next_epoch(&viewer, epoch, timeout, |s| !has(s, &account)).await?;
    let mut layout = Layout::load(&c.dir)?;
    layout.removed.push(account.clone());
    layout.save(&c.dir)?;
    progress(format!(
        "node {i} left the network; the devnet stops its process"
    ));
    report(c, "removed", i, &account, &after)
}

/// A node of the layout by index (`3`, `node3`) or account.
pub(crate) fn find(layout: &Layout, node: &str) -> Result<(usize, String), Failure> {
    let index = node
        .strip_prefix("node")
        .unwrap_or(node)
        .parse::<usize>()
        .ok();
    layout
        .active()
        .find(|(i, a)| Some(*i) == index || a.as_str() == node)
        .map(|(i, a)| (i, a.clone()))
        .ok_or_else(|| Failure::usage(format!("{node:?} is not an active node of this devnet")))
}

fn has(state: &StateView, account: &str) -> bool {
    state.participants.iter().any(|p| p.account_id.0 == account)
}

/// The devnet's user sends [`NODE_FUNDS`] to `to` (an implicit account: the transfer creates
/// it). The user may be busy sending requests meanwhile (a bench): the client's nonce
/// handling copes with another holder of the key.
async fn fund(dir: &Path, rpc_url: &str, to: &str) -> Result<(), Failure> {
    let (key, _) = NearKey::read(&dir.join("user_key.json")).map_err(Failure::failed)?;
    let user = NearRpc::new(rpc_url, CONTRACT_ID, USER_ID, key.signing_key().clone())
        .map_err(Failure::failed)?;
    user.transfer(to, NODE_FUNDS)
        .await
        .map_err(|e| Failure::failed(format!("funding {to}: {e}")))
}

/// The active participants other than `except` vote for `make(epoch)`, one by one, until the
/// contract starts the change (it leaves Running). Each vote is tried first.
async fn vote(
    dir: &Path,
    layout: &Layout,
    viewer: &NearRpc,
    except: Option<&str>,
    make: impl Fn(u64) -> Call,
) -> Result<(), Failure> {
    let state = running(viewer).await?;
    let epoch = state.epoch.unwrap_or(0);
    for (i, account) in layout.active() {
        if Some(account.as_str()) == except || !has(&state, account) {
            continue;
        }
        let rpc = NearRpc::new(&layout.rpc_url(), CONTRACT_ID, account, node_key(dir, i)?)
            .map_err(Failure::failed)?;
        let call = make(epoch);
        let method = call.method_name();
        let refused = |e: ChainError| Failure::failed(format!("{account}'s {method}: {e}"));
        rpc.dry_run(&call).await.map_err(refused)?;
        rpc.submit(call).await.map_err(refused)?;
        progress(format!("{account} voted ({method})"));
        let now = viewer.state().await.map_err(Failure::failed)?;
        if now.state != Phase::Running {
            progress(format!("the contract is {:?}", now.state));
            return Ok(());
        }
    }
    Err(Failure::failed(
        "every active participant voted and the contract did not start the change",
    ))
}

/// Waits until the contract runs `epoch` (or later) and `done` holds, telling how the
/// resharing goes.
async fn next_epoch(
    viewer: &NearRpc,
    epoch: u64,
    timeout: Duration,
    done: impl Fn(&StateView) -> bool,
) -> Result<StateView, Failure> {
    let what = format!("epoch {epoch}");
    wait_until(viewer, timeout, &what, |s| {
        s.state == Phase::Running && s.epoch.is_some_and(|e| e >= epoch) && done(s)
    })
    .await
    .map_err(|e| {
        Failure::failed(format!(
            "{}; a stuck resharing can be abandoned with `chainsig contract vote-abort`",
            e.message
        ))
    })
}

/// Polls the contract's state until `ready`, with a progress line every 2 s.
async fn wait_until(
    viewer: &NearRpc,
    timeout: Duration,
    what: &str,
    ready: impl Fn(&StateView) -> bool,
) -> Result<StateView, Failure> {
    let until = Instant::now() + timeout;
    let mut told = Instant::now();
    loop {
        if let Ok(state) = viewer.state().await {
            if ready(&state) {
                return Ok(state);
            }
            if told.elapsed() >= Duration::from_secs(2) {
                told = Instant::now();
                let detail = match &state.resharing {
                    Some(r) => format!(
                        "resharing: {}/{} nodes done",
                        r.reshared.len(),
                        r.participants.len()
                    ),
                    None => format!("contract {:?}", state.state),
                };
                progress(format!("waiting for {what}: {detail}"));
            }
        }
        if Instant::now() > until {
            return Err(Failure::failed(format!(
                "{what} did not come within {} s",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn report(
    c: &Common,
    what: &str,
    i: usize,
    account: &str,
    state: &StateView,
) -> Result<(), Failure> {
    let participants: Vec<&str> = state
        .participants
        .iter()
        .map(|p| p.account_id.0.as_str())
        .collect();
    let epoch = state.epoch.unwrap_or(0);
    if c.json {
        println!(
            "{}",
            serde_json::json!({
                what: account,
                "node": i,
                "dir": c.dir.join(format!("node{i}")),
                "epoch": epoch,
                "threshold": state.threshold,
                "participants": participants,
            })
        );
    } else {
        println!(
            "node {i} ({account}) {what}; epoch {epoch} runs with {} participants: {}",
            participants.len(),
            participants.join(", ")
        );
    }
    Ok(())
}
