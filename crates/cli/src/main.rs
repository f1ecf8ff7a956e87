//! `chainsig`: the project's one binary.
//!
//! Errors print as one line on stderr. Bad arguments exit with code 2 (as usage errors do
//! everywhere), failures of the work itself with code 1.

mod derive;
mod node_cmd;
mod node_run;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "chainsig",
    version,
    about = "Chain signatures: derive, sign, run nodes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Derive the public key and foreign addresses an account signs with under a path.
    Derive(derive::Args),
    /// Operate an MPC node.
    #[command(subcommand)]
    Node(node_cmd::NodeCommand),
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
            let text = e.to_string();
            let line = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("{}", line.trim());
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Derive(args) => derive::run(args),
        Command::Node(cmd) => node_cmd::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
