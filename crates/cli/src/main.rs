//! `chainsig`: the project's one binary.
//!
//! Arguments clap refuses print clap's whole message (what is wrong, the usage line, the
//! missing arguments, a suggestion for a typo); a command that needs a subcommand prints its
//! help when given none. Other errors print as one line on stderr. Bad arguments exit with
//! code 2 (as usage errors do everywhere), failures of the work itself with code 1.

mod address_cmd;
mod bench_cmd;
mod bench_steady;
mod btc_cmd;
mod chain_cmd;
mod contract_cmd;
mod cosmos_cmd;
mod cpu;
mod devnet_chains;
mod devnet_cmd;
mod devnet_hold;
mod devnet_members;
mod devnet_seed;
mod doge_cmd;
mod eth_cmd;
mod eth_sign_cmd;
mod http;
mod near_args;
mod near_cmd;
mod node_cmd;
mod node_run;
mod plot;
mod sign_cmd;
mod sol_cmd;
mod status_cmd;
mod xrp_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "chainsig",
    version,
    about = "Chain signatures: derive, sign, run nodes",
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How long-running commands (node run, chain, devnet's processes) write their logs:
    /// text, or one JSON object per line for log collectors.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "CHAINSIG_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: LogFormat,
}

/// The form of log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    pub fn name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
        }
    }
}

/// The log format the command line chose, for [`init_logging`] and the processes a devnet
/// starts.
static LOG_FORMAT: std::sync::OnceLock<LogFormat> = std::sync::OnceLock::new();

pub fn log_format() -> LogFormat {
    LOG_FORMAT.get().copied().unwrap_or(LogFormat::Text)
}

#[derive(Subcommand)]
enum Command {
    /// Start a whole local network: the chain and the MPC nodes, keys generated, ready to sign.
    Devnet(devnet_cmd::Args),
    /// Ask the signer contract for a signature with a real transaction.
    Sign(sign_cmd::Args),
    /// The public key an account signs with under a path, and its foreign addresses.
    #[command(alias = "derive")]
    Address(address_cmd::Args),
    /// Ethereum and other EVM chains: transactions signed by the network.
    #[command(subcommand, arg_required_else_help = true)]
    Eth(eth_cmd::EthCommand),
    /// Bitcoin: P2WPKH and P2TR payments signed by the network.
    #[command(subcommand, arg_required_else_help = true)]
    Btc(btc_cmd::BtcCommand),
    /// Dogecoin: P2PKH payments signed by the network.
    #[command(subcommand, arg_required_else_help = true)]
    Doge(doge_cmd::DogeCommand),
    /// XRP Ledger: XRP payments signed by the network.
    #[command(subcommand, arg_required_else_help = true)]
    Xrp(xrp_cmd::XrpCommand),
    /// Cosmos SDK chains: bank sends signed by the network.
    #[command(subcommand, arg_required_else_help = true)]
    Cosmos(cosmos_cmd::CosmosCommand),
    /// Solana: SOL transfers signed by the network.
    #[command(subcommand, arg_required_else_help = true)]
    Sol(sol_cmd::SolCommand),
    /// NEAR: transfers from the derived implicit account, signed by the network.
    #[command(subcommand, arg_required_else_help = true)]
    Near(near_cmd::NearCommand),
    /// Measure signing throughput and latency against a running network.
    Bench(bench_cmd::Args),
    /// The network in one view: the contract's state and pending requests, each node's health
    /// and stock.
    Status(status_cmd::Args),
    /// The signer contract's membership and governance votes (tried first, refused with the
    /// contract's reason), and its state.
    #[command(subcommand, arg_required_else_help = true)]
    Contract(contract_cmd::ContractCommand),
    /// Run the devnet chain alone (what `devnet` starts as its own process).
    Chain(chain_cmd::Args),
    /// Operate an MPC node.
    #[command(subcommand, arg_required_else_help = true)]
    Node(node_cmd::NodeCommand),
    /// Print a completion script for a shell, e.g.
    /// `chainsig completions bash > ~/.local/share/bash-completion/completions/chainsig`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// A failure to report: the message and the process exit code.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    /// The work itself failed (a file exists, a disk error...): exit code 1.
    pub fn failed(message: impl std::fmt::Display) -> Self {
        Self {
            code: 1,
            message: message.to_string(),
        }
    }

    /// Bad input from the command line: exit code 2.
    pub fn usage(message: impl std::fmt::Display) -> Self {
        Self {
            code: 2,
            message: message.to_string(),
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version: print as clap does, succeed.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // All of it: the missing arguments' names, the usage line and any "a similar
            // subcommand exists" are below the first line. Help shown for a bare command
            // goes to stderr too, as a usage error.
            let _ = e.print();
            return ExitCode::from(2);
        }
    };
    let _ = LOG_FORMAT.set(cli.log_format);
    let result = match cli.command {
        Command::Devnet(args) => devnet_cmd::run(args),
        Command::Sign(args) => sign_cmd::run(args),
        Command::Address(args) => address_cmd::run(args),
        Command::Eth(cmd) => eth_cmd::run(cmd),
        Command::Btc(cmd) => btc_cmd::run(cmd),
        Command::Doge(cmd) => doge_cmd::run(cmd),
        Command::Xrp(cmd) => xrp_cmd::run(cmd),
        Command::Cosmos(cmd) => cosmos_cmd::run(cmd),
        Command::Sol(cmd) => sol_cmd::run(cmd),
        Command::Near(cmd) => near_cmd::run(cmd),
        Command::Bench(args) => bench_cmd::run(args),
        Command::Status(args) => status_cmd::run(args),
        Command::Contract(cmd) => contract_cmd::run(cmd),
        Command::Chain(args) => chain_cmd::run(args),
        Command::Node(cmd) => node_cmd::run(cmd),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "chainsig",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

/// `--block-ms`: 10 ms to 60 s between blocks. Faster blocks than that only burn CPU; slower
/// ones make every request's 200-block yield outlast any client.
pub fn block_ms() -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(10..=60_000)
}

/// Logs to stderr, `RUST_LOG` filtering (`info` by default), as text or JSON lines
/// (`--log-format`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match log_format() {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
}

/// A multi-threaded tokio runtime, or the failure to make one.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::failed(format!("cannot start the runtime: {e}")))
}

#[cfg(test)]
mod tests {
    /// clap's own consistency checks over every subcommand: two options under one name (the
    /// NEAR `--network` and a Bitcoin one, say), defaults that do not parse, bad groups.
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
