//! `chainsig devnet`: a whole network on this machine, ready to sign.
//!
//! The chain (`chainsig chain`) and every node (`chainsig node run`) are separate processes
//! with their own data dirs under `--dir`, talking over loopback: the nodes to each other over
//! mutually authenticated TLS, everyone to the chain over NEAR JSON-RPC. On first start it
//! writes the genesis (the signer contract's wasm deployed on `signer.devnet`, funded node and
//! user accounts), initializes the contract with the nodes by a real transaction, has every
//! node vote for the Secp256k1, Ed25519 and Bip340 domains, waits for their key generation
//! and for stock, and prints one ready line. Started again on the same dir it resumes: same
//! chain, same keys. Ctrl-C (or SIGTERM) stops every process cleanly. With `--with`, it also
//! runs foreign chains (anvil, a litesvm Solana RPC, a Bitcoin regtest chain) and funds the
//! user's addresses on them ([`crate::devnet_chains`]).
//!
//! The genesis also funds a few user accounts (listed in the ready line, with their keys) and
//! NEAR's `registrar`, the only account that may create top-level accounts.
//!
//! With `--seed S` every key comes from the seed ([`crate::devnet_seed`]): the accounts', the
//! nodes', and the domains' master keys, which a dealer splits into the nodes' stores
//! (`mpc::dealer`) instead of a key generation; the contract then starts Running with them
//! (`init_running`). The same seed makes the same devnet again after its directory is gone —
//! with no security at all: the seed is every key.

use chain::{Call, Chain, NearRpc};
use contract::views::StateView;
use contract::InitRunningArgs;
use node::identity::{IdentityPaths, NearKey};
use primitives::SignatureScheme;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::devnet_chains::{ForeignChain, ForeignPorts, Funded, Launch};
use crate::devnet_seed::{Keys, Seed};
use crate::Failure;

mod create;
mod procs;
mod ready;

use create::{check_seed, create, participant};
use procs::{check_alive, shut_down, spawn, spawn_program, stop, supervise, OnExit, Output, Proc};
use ready::ready_line;

pub const CONTRACT_ID: &str = "signer.devnet";
pub const USER_ID: &str = "user.devnet";
/// The account NEAR's runtime lets create top-level accounts: nearcore's
/// `registrar_account_id`, `registrar` in every network's parameters (localnet's too, whose
/// genesis tools name it so); the devnet applies the same rule (`devnet::apply`).
pub const REGISTRAR_ID: &str = "registrar";
/// Funded user accounts besides `user.devnet`: `user1.devnet` … `user3.devnet`.
const MORE_USERS: usize = 3;
/// What each user account and the registrar hold at genesis.
const USER_BALANCE: u128 = 1000 * devnet::NEAR;
/// The contract's `init_running` arguments of a seeded devnet, public keys only: written when
/// the devnet is made, sent when its contract is initialized.
const INIT_RUNNING_FILE: &str = "init_running.json";
/// The domains a devnet of `nodes` at `threshold` adds: Secp256k1, Ed25519 and Bip340, and
/// V2Secp256k1 (honest-majority ECDSA) when there are the `2t − 1` nodes it signs with.
fn schemes(nodes: usize, threshold: u64) -> Vec<SignatureScheme> {
    let mut out = vec![
        SignatureScheme::Secp256k1,
        SignatureScheme::Ed25519,
        SignatureScheme::Bip340,
    ];
    if nodes >= SignatureScheme::V2Secp256k1.signers(threshold as usize) {
        out.push(SignatureScheme::V2Secp256k1);
    }
    out
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    /// How many MPC nodes.
    #[arg(long, default_value_t = 4)]
    nodes: usize,
    /// How many nodes must take part in a signature.
    #[arg(long, default_value_t = 3)]
    threshold: u64,
    /// Where the chain and the nodes keep their data; an existing devnet there resumes.
    #[arg(long, default_value = "devnet-data")]
    dir: PathBuf,
    /// Port of the chain's JSON-RPC on 127.0.0.1.
    #[arg(long, default_value_t = 3030)]
    rpc_port: u16,
    /// Milliseconds between blocks (10 to 60000).
    #[arg(long, default_value_t = 100, value_parser = crate::block_ms())]
    block_ms: u64,
    /// The signer contract's wasm (built by scripts/build-contract.sh).
    #[arg(long, default_value = "target/signer.wasm")]
    wasm: PathBuf,
    /// Presignatures (and nonces) each node owns per domain before the devnet is ready.
    #[arg(long, default_value_t = 4)]
    ready_stock: usize,
    /// Print the ready line as one JSON object.
    #[arg(long)]
    json: bool,
    /// Derive every key of a new devnet from this text — accounts, nodes, master keys (dealt,
    /// not generated) — so the same seed makes the same devnet again after its directory is
    /// removed, as anvil's fixed mnemonic does. No security: the seed is every key; devnet
    /// only. An existing devnet resumes only with the seed it was made with.
    #[arg(long)]
    seed: Option<String>,
    /// Also run these foreign chains (comma-separated: evm, solana, bitcoin), fund the user's
    /// derived addresses on them and print their URLs in the ready line.
    #[arg(long, value_enum, value_delimiter = ',')]
    with: Vec<ForeignChain>,
    /// Where anvil and litesvm are installed (default: the test-tools directory that
    /// ./scripts/test-tools.sh fills, beside this binary's target directory).
    #[arg(long)]
    tools_dir: Option<PathBuf>,
    /// Milliseconds between the Bitcoin regtest chain's blocks (with --with bitcoin).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    btc_block_ms: u64,
    /// With --lake-endpoint and --lake-bucket, the chain publishes its blocks there in NEAR
    /// Lake's layout and the nodes follow the chain from there instead of from its RPC.
    #[command(flatten)]
    lake: crate::chain_cmd::LakeArgs,
    #[command(subcommand)]
    action: Option<crate::devnet_members::Action>,
}

/// `devnet.json`: what a resumed devnet needs to know. `devnet add-node` appends to
/// `node_accounts` and `remove-node` to `removed` while the devnet runs; the devnet reads it
/// again every half second and starts or stops node processes to match.
#[derive(Serialize, Deserialize)]
pub(crate) struct Layout {
    /// The nodes the devnet was created with (its domains follow from it, on resume too).
    pub nodes: usize,
    pub threshold: u64,
    pub rpc_port: u16,
    pub block_ms: u64,
    /// Node `i` runs from `node{i}`.
    pub node_accounts: Vec<String>,
    /// Nodes that left the network: their processes are stopped, their directories kept.
    #[serde(default)]
    pub removed: Vec<String>,
    /// The funded user accounts and their key files (relative to the devnet's directory);
    /// empty for a devnet made before there were several, whose user alone is listed.
    #[serde(default)]
    pub accounts: Vec<KeyedAccount>,
    /// The registrar and its key file, when the genesis has one.
    #[serde(default)]
    pub registrar: Option<KeyedAccount>,
    /// The fingerprint of the seed the devnet was made with (`--seed`), if any.
    #[serde(default)]
    pub seed: Option<String>,
    /// Nodes an operator stopped (`devnet stop-node`): still members of the network, their
    /// processes kept down until `devnet start-node`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<String>,
    /// The ports of the foreign chains `--with` ran, chosen the first time each ran.
    #[serde(default, skip_serializing_if = "ForeignPorts::is_empty")]
    pub foreign_ports: ForeignPorts,
}

/// An account whose key the devnet holds.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct KeyedAccount {
    pub account_id: String,
    pub key_file: PathBuf,
}

impl Layout {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("devnet.json")
    }

    pub fn load(dir: &Path) -> Result<Self, Failure> {
        let path = Self::path(dir);
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        serde_json::from_str(&text).map_err(|e| Failure::failed(format!("{}: {e}", path.display())))
    }

    /// Written whole and renamed into place: the running devnet never reads half a file.
    pub fn save(&self, dir: &Path) -> Result<(), Failure> {
        let path = Self::path(dir);
        let tmp = dir.join("devnet.json.tmp");
        std::fs::write(
            &tmp,
            serde_json::to_string_pretty(self).expect("plain data"),
        )
        .map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))
    }

    /// The nodes that have not been removed: their index and account.
    pub fn active(&self) -> impl Iterator<Item = (usize, &String)> {
        self.node_accounts
            .iter()
            .enumerate()
            .filter(|(_, a)| !self.removed.contains(a))
    }

    /// The active nodes whose processes should run: not held down by `devnet stop-node`.
    pub fn to_run(&self) -> impl Iterator<Item = (usize, &String)> {
        self.active().filter(|(_, a)| !self.held.contains(a))
    }

    pub fn rpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.rpc_port)
    }
}

/// The directories of a devnet's nodes (`D/node0`, `D/node1`, ...), in order, without those
/// `devnet remove-node` took out of the network.
pub fn node_dirs(dir: &Path) -> Vec<PathBuf> {
    let all = || {
        (0..)
            .map(|i| dir.join(format!("node{i}")))
            .take_while(|d| d.exists())
            .collect()
    };
    match Layout::load(dir) {
        Ok(layout) => layout
            .active()
            .map(|(i, _)| dir.join(format!("node{i}")))
            .filter(|d| d.exists())
            .collect(),
        Err(_) => all(),
    }
}

/// The HTTP endpoints (`/health`, `/metrics`) of a devnet's nodes, from their configs; a
/// directory with no `node0` is a usage error (a typo must not read as "no nodes").
pub fn node_http_endpoints(dir: &Path) -> Result<Vec<std::net::SocketAddr>, Failure> {
    let dirs = node_dirs(dir);
    if dirs.is_empty() {
        return Err(Failure::usage(format!(
            "{} is not a devnet directory: it has no node0",
            dir.display()
        )));
    }
    dirs.iter()
        .map(|d| {
            node::config::NodeConfig::load(d, |_| None)
                .map(|c| c.http.listen)
                .map_err(Failure::failed)
        })
        .collect()
}

/// Where commands that look at the nodes (`bench`, `status`) find their HTTP endpoints.
#[derive(clap::Args)]
pub struct NodeEndpoints {
    /// A devnet directory: the nodes' HTTP endpoints (and, for `bench`, the user account and
    /// its key) from it.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Nodes' HTTP endpoints (host:port, comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub node_http: Vec<std::net::SocketAddr>,
}

impl NodeEndpoints {
    /// The devnet's nodes (with `--dir`), then those given with `--node-http`.
    pub fn endpoints(&self) -> Result<Vec<std::net::SocketAddr>, Failure> {
        let mut out = match &self.dir {
            Some(dir) => node_http_endpoints(dir)?,
            None => vec![],
        };
        out.extend(self.node_http.iter().copied());
        Ok(out)
    }
}

pub(crate) fn progress(msg: impl std::fmt::Display) {
    use std::io::Write;
    // A closed terminal must not stop the devnet (eprintln! would panic).
    let _ = writeln!(std::io::stderr(), "devnet: {msg}");
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Failure + '_ {
    move |e| Failure::failed(format!("{}: {e}", path.display()))
}

/// A free loopback port not in `taken`: the chain's RPC port is not listening yet when the
/// nodes' ports are chosen, so the OS may offer it, and each port chosen is released at once.
pub(crate) fn free_port(taken: &mut Vec<u16>) -> Result<u16, Failure> {
    for _ in 0..100 {
        let port = node::ports::free_loopback_port()
            .map_err(|e| Failure::failed(format!("no free port: {e}")))?;
        if !taken.contains(&port) {
            taken.push(port);
            return Ok(port);
        }
    }
    Err(Failure::failed("no free port distinct from the ones taken"))
}

pub fn run(args: Args) -> Result<(), Failure> {
    if args.threshold < 2 || args.threshold as usize > args.nodes {
        return Err(Failure::usage(format!(
            "--threshold must be between 2 and --nodes ({}), got {}",
            args.nodes, args.threshold
        )));
    }
    if let Some(action) = args.action {
        return crate::devnet_members::run(action);
    }
    let seed = args.seed.as_deref().map(Seed::new).transpose()?;
    let mut layout = if Layout::path(&args.dir).exists() {
        let layout = Layout::load(&args.dir)?;
        check_seed(&args.dir, &layout, seed.as_ref())?;
        progress(format!(
            "resuming the devnet in {} ({} nodes, threshold {})",
            args.dir.display(),
            layout.active().count(),
            layout.threshold
        ));
        layout
    } else {
        let keys = match seed {
            Some(seed) => Keys::Seeded(seed),
            None => Keys::Random,
        };
        create(&args, &keys)?
    };
    let launches = foreign_launches(&args, &mut layout)?;
    crate::runtime()?.block_on(serve(&args, &layout, &launches))
}

/// The foreign chains `--with` asks for, each program found and each port chosen (and kept
/// in `devnet.json`) before anything starts.
fn foreign_launches(args: &Args, layout: &mut Layout) -> Result<Vec<Launch>, Failure> {
    let mut chains = args.with.clone();
    chains.sort();
    chains.dedup();
    if chains
        .iter()
        .any(|c| layout.foreign_ports.get(*c).is_none())
    {
        let mut taken = ports_in_use(&args.dir, layout);
        for chain in &chains {
            if layout.foreign_ports.get(*chain).is_none() {
                layout.foreign_ports.set(*chain, free_port(&mut taken)?);
            }
        }
        layout.save(&args.dir)?;
    }
    crate::devnet_chains::plan(
        &chains,
        &layout.foreign_ports,
        &args.dir,
        args.tools_dir.as_deref(),
        args.btc_block_ms,
    )
}

/// A foreign chain that exits is restarted only if its state is on disk: anvil and litesvm
/// keep theirs in memory, and a restart would silently drop what was funded on them.
fn foreign_on_exit(chain: ForeignChain) -> OnExit {
    match chain {
        ForeignChain::Bitcoin => OnExit::Restart,
        ForeignChain::Evm | ForeignChain::Solana => OnExit::StopTheDevnet,
    }
}

/// Every port the devnet's processes listen on: the chain's, the nodes' (not listening yet
/// when ports are chosen) and the foreign chains' already chosen.
fn ports_in_use(dir: &Path, layout: &Layout) -> Vec<u16> {
    let mut taken = vec![layout.rpc_port];
    for (i, _) in layout.node_accounts.iter().enumerate() {
        if let Ok(config) = node::config::NodeConfig::load(&dir.join(format!("node{i}")), |_| None)
        {
            taken.extend([config.p2p.listen.port(), config.http.listen.port()]);
        }
    }
    let ports = &layout.foreign_ports;
    taken.extend(
        [ports.evm, ports.solana, ports.bitcoin]
            .into_iter()
            .flatten(),
    );
    taken
}

async fn serve(args: &Args, layout: &Layout, launches: &[Launch]) -> Result<(), Failure> {
    // Ctrl-C is heard from the start: a devnet interrupted while it starts still stops its
    // children (they have their own process group and would otherwise outlive it).
    let mut procs = vec![];
    let stop = tokio::select! {
        signal = crate::node_run::shutdown_signal() => Ok(signal),
        e = run_network(args, layout, launches, &mut procs) => Err(e),
    };
    progress("stopping");
    shut_down(&mut procs).await;
    match stop {
        Ok(signal) => {
            progress(format!("stopped ({signal}); run again to resume"));
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Starts the chain and the nodes, brings the network to ready, then watches it; returns only
/// with the reason it cannot go on.
async fn run_network(
    args: &Args,
    layout: &Layout,
    launches: &[Launch],
    procs: &mut Vec<Proc>,
) -> Failure {
    match start_network(args, layout, launches, procs).await {
        Ok(()) => watch(&args.dir, &node_env(args), procs).await,
        Err(e) => e,
    }
}

async fn start_network(
    args: &Args,
    layout: &Layout,
    launches: &[Launch],
    procs: &mut Vec<Proc>,
) -> Result<(), Failure> {
    let dir = &args.dir;
    // First, so they start while the chain and the nodes do; stopped last.
    for launch in launches {
        crate::devnet_chains::prepare(launch)?;
        let launch_args: Vec<&str> = launch.args.iter().map(String::as_str).collect();
        procs.push(spawn_program(
            launch.name,
            &launch.program,
            &launch_args,
            &[],
            Output::Both,
            foreign_on_exit(launch.chain),
            launch.log.clone(),
        )?);
    }
    let rpc_url = format!("http://127.0.0.1:{}", layout.rpc_port);
    let chain_dir = dir.join("chain");
    let mut chain_args: Vec<String> = [
        "chain",
        "--dir",
        &chain_dir.to_string_lossy(),
        "--listen",
        &format!("127.0.0.1:{}", layout.rpc_port),
        "--block-ms",
        &layout.block_ms.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(lake) = args.lake.config() {
        chain_args.extend([
            "--lake-endpoint".into(),
            lake.endpoint,
            "--lake-bucket".into(),
            lake.bucket,
            "--lake-region".into(),
            lake.region,
        ]);
    }
    let node_env = node_env(args);
    let chain_args: Vec<&str> = chain_args.iter().map(String::as_str).collect();
    procs.push(spawn(
        "the chain",
        &chain_args,
        &[],
        chain_dir.join("chain.log"),
    )?);
    let viewer = NearRpc::read_only(&rpc_url, CONTRACT_ID).map_err(Failure::failed)?;
    let until = Instant::now() + Duration::from_secs(60);
    let mut state: Option<StateView> = loop {
        check_alive(procs)?;
        match viewer.state().await {
            Ok(s) if s.state == contract::views::Phase::NotInitialized => break None,
            Ok(s) => break Some(s),
            Err(chain::ChainError::Rejected(e)) => {
                return Err(Failure::failed(format!("the signer contract's state: {e}")))
            }
            Err(_) if Instant::now() < until => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => return Err(Failure::failed(format!("the chain did not answer: {e}"))),
        }
    };
    progress(format!("chain up at {rpc_url}"));
    if state.is_none() {
        let what = init_contract(dir, layout, &rpc_url).await?;
        state = Some(viewer.state().await.map_err(Failure::failed)?);
        progress(what);
    }
    for (i, _) in layout.to_run() {
        procs.push(spawn_node(dir, i, &node_env)?);
    }
    progress(format!("{} nodes started", layout.to_run().count()));
    let state = state.expect("read above");
    let schemes = schemes(layout.nodes, layout.threshold);
    if state.domains.is_empty() && state.state == contract::views::Phase::Running {
        for (i, account) in layout.node_accounts.iter().enumerate() {
            let key = node_key(dir, i)?;
            let rpc = NearRpc::new(&rpc_url, CONTRACT_ID, account, key).map_err(Failure::failed)?;
            let vote = Call::VoteAddDomains {
                schemes: schemes.clone(),
                epoch: state.epoch.unwrap_or(0),
            };
            rpc.submit(vote)
                .await
                .map_err(|e| Failure::failed(format!("{account} voting for domains: {e}")))?;
        }
        let names: Vec<String> = schemes.iter().map(|s| s.to_string()).collect();
        progress(format!(
            "domains {} voted; key generation running",
            names.join(", ")
        ));
    }
    let state = wait_for_keys(&viewer, procs, schemes.len()).await?;
    let funded = fund_foreign(launches, &state, procs).await?;
    wait_for_stock(layout, dir, args.ready_stock, procs, schemes.len()).await?;
    ready_line(args, layout, &rpc_url, &state, &funded)
}

/// Waits for each foreign chain to answer, then funds the user's addresses on it.
async fn fund_foreign(
    launches: &[Launch],
    state: &StateView,
    procs: &mut [Proc],
) -> Result<Vec<Funded>, Failure> {
    let mut funded = vec![];
    for launch in launches {
        let until = Instant::now() + Duration::from_secs(60);
        while !crate::devnet_chains::answers(launch).await {
            check_alive(procs)?;
            if Instant::now() > until {
                return Err(Failure::failed(format!(
                    "{} did not answer at {} in 60 s; see {}",
                    launch.name,
                    launch.url,
                    launch.log.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let chain = crate::devnet_chains::fund(launch, state).await?;
        progress(format!(
            "{} up at {}; the user's addresses funded",
            launch.name, launch.url
        ));
        funded.push(chain);
    }
    Ok(funded)
}

/// The nodes read the lake the chain writes (with --lake-*), through their config's
/// environment overrides.
fn node_env(args: &Args) -> Vec<(&'static str, String)> {
    match args.lake.config() {
        Some(lake) => vec![
            ("CHAINSIG_INDEXER_SOURCE", "lake".to_owned()),
            ("CHAINSIG_LAKE_ENDPOINT", lake.endpoint),
            ("CHAINSIG_LAKE_BUCKET", lake.bucket),
            ("CHAINSIG_LAKE_REGION", lake.region),
        ],
        None => vec![],
    }
}

/// Node `i`'s process, named `node {i}`.
fn spawn_node(dir: &Path, i: usize, env: &[(&str, String)]) -> Result<Proc, Failure> {
    let node_dir = dir.join(format!("node{i}"));
    spawn(
        &node_name(i),
        &["node", "run", "--dir", &node_dir.to_string_lossy()],
        env,
        node_dir.join("node.log"),
    )
}

fn node_name(i: usize) -> String {
    format!("node {i}")
}

pub(crate) fn node_key(dir: &Path, i: usize) -> Result<ed25519_dalek::SigningKey, Failure> {
    let paths = IdentityPaths::in_dir(&dir.join(format!("node{i}")));
    let (key, _) = NearKey::read(&paths.account_key).map_err(Failure::failed)?;
    Ok(key.signing_key().clone())
}

/// Initializes the contract with the nodes; a seeded devnet's starts Running with its dealt
/// keys (`init_running`), any other's with no domains (`init`).
async fn init_contract(
    dir: &Path,
    layout: &Layout,
    rpc_url: &str,
) -> Result<&'static str, Failure> {
    let running = dir.join(INIT_RUNNING_FILE);
    let (call, what) = if running.exists() {
        let text = std::fs::read_to_string(&running).map_err(io(&running))?;
        let args: InitRunningArgs = serde_json::from_str(&text)
            .map_err(|e| Failure::failed(format!("{}: {e}", running.display())))?;
        (
            Call::InitRunning(args),
            "signer contract started Running with the nodes and the dealt keys",
        )
    } else {
        let participants = layout
            .node_accounts
            .iter()
            .enumerate()
            .map(|(i, account)| participant(dir, i, account))
            .collect::<Result<_, _>>()?;
        let init = Call::Init {
            participants,
            threshold: layout.threshold,
            config: None,
        };
        (init, "signer contract initialized with the nodes")
    };
    let (key, _) = NearKey::read(&dir.join("contract_key.json")).map_err(Failure::failed)?;
    let rpc = NearRpc::new(rpc_url, CONTRACT_ID, CONTRACT_ID, key.signing_key().clone())
        .map_err(Failure::failed)?;
    rpc.submit(call)
        .await
        .map_err(|e| Failure::failed(format!("initializing the signer contract: {e}")))?;
    Ok(what)
}

async fn wait_for_keys(
    viewer: &NearRpc,
    procs: &mut [Proc],
    domains: usize,
) -> Result<StateView, Failure> {
    let until = Instant::now() + Duration::from_secs(300);
    let mut said = usize::MAX;
    loop {
        check_alive(procs)?;
        if let Ok(state) = viewer.state().await {
            if state.state == contract::views::Phase::Running && state.domains.len() >= domains {
                progress(format!(
                    "keys in place for {} domains (epoch {})",
                    state.domains.len(),
                    state.epoch.unwrap_or(0)
                ));
                return Ok(state);
            }
            if state.domains.len() != said {
                said = state.domains.len();
                progress(format!(
                    "key generation: {}/{} domains, contract {}",
                    said, domains, state.state
                ));
            }
        }
        if Instant::now() > until {
            return Err(Failure::failed(
                "key generation did not finish in 5 minutes; see the nodes' node.log",
            ));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Waits until every node owns `want` presignatures (ECDSA domains) and nonces (FROST
/// domains) for each of the `domains`.
async fn wait_for_stock(
    layout: &Layout,
    dir: &Path,
    want: usize,
    procs: &mut [Proc],
    domains: usize,
) -> Result<(), Failure> {
    let mut https = vec![];
    for (i, _) in layout.to_run() {
        let config = node::config::NodeConfig::load(&dir.join(format!("node{i}")), |_| None)
            .map_err(Failure::failed)?;
        https.push(config.http.listen);
    }
    let mut last_report = Instant::now() - Duration::from_secs(10);
    loop {
        check_alive(procs)?;
        let mut lowest = usize::MAX;
        // Ready also means following the chain closely: a node still catching up on blocks
        // would answer late.
        let mut lagging = 0;
        for addr in &https {
            let status = crate::http::get_json::<node::service::Status>(*addr, "/health").await;
            lagging += usize::from(!status.as_ref().is_some_and(|s| s.healthy));
            let own = status.map_or(0, |s| stock_floor(&s.stock, domains));
            lowest = lowest.min(own);
        }
        if lowest >= want && lagging == 0 {
            progress(format!("stock ready: every node owns ≥ {want} per domain"));
            return Ok(());
        }
        if last_report.elapsed() >= Duration::from_secs(2) {
            let behind = match lagging {
                0 => String::new(),
                n => format!("; {n} node(s) not yet healthy (indexer catching up?)"),
            };
            progress(format!(
                "filling stock: {lowest}/{want} per node and domain{behind}"
            ));
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The smallest ready-to-sign stock over the node's domains (presignatures or nonces).
fn stock_floor(stock: &[node::metrics::StockLevel], domains: usize) -> usize {
    let usable: Vec<usize> = stock
        .iter()
        .filter(|s| s.kind != node::store::Kind::Triple)
        .map(|s| s.count)
        .collect();
    if usable.len() < domains {
        return 0;
    }
    usable.into_iter().min().unwrap_or(0)
}

/// Supervises the children ([`procs`]: what exits is restarted) and resolves only when the
/// devnet cannot go on: a crash loop, or a foreign chain whose state was in memory gone.
/// Meanwhile it starts the nodes `devnet add-node` records and stops those `remove-node`
/// records, and stops and starts again the nodes `devnet stop-node` / `start-node` hold.
async fn watch(dir: &Path, env: &[(&str, String)], procs: &mut Vec<Proc>) -> Failure {
    loop {
        // A devnet.json being edited by hand, or a node that fails to start, is reported and
        // tried again; it does not stop the network that runs.
        if let Err(e) = sync_nodes(dir, env, procs).await {
            progress(format!("cannot follow devnet.json: {}", e.message));
        }
        if let Err(e) = supervise(procs) {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Node processes to match `devnet.json`: one for each active node, none for a removed one.
async fn sync_nodes(
    dir: &Path,
    env: &[(&str, String)],
    procs: &mut Vec<Proc>,
) -> Result<(), Failure> {
    let layout = Layout::load(dir)?;
    for (i, account) in layout.node_accounts.iter().enumerate() {
        let name = node_name(i);
        let running = procs.iter().position(|p| p.name == name);
        let why_down = if layout.removed.contains(account) {
            Some("it left the network")
        } else if layout.held.contains(account) {
            Some("held down by `devnet stop-node`")
        } else {
            None
        };
        match (running, why_down) {
            (None, None) => {
                progress(format!("starting node {i} ({account})"));
                procs.push(spawn_node(dir, i, env)?);
            }
            (Some(at), Some(why)) => {
                progress(format!("stopping node {i} ({account}): {why}"));
                let mut gone = procs.remove(at);
                stop(&mut gone).await;
            }
            _ => {}
        }
    }
    Ok(())
}
