//! `chainsig contract`: the signer contract's membership and governance calls as an operator
//! casts them — `vote-join`, `vote-leave`, `vote-new-parameters`, `vote-add-domains`,
//! `vote-abort` — and its `state`.
//!
//! A vote is signed with a node's account key (`--node-dir`: its `config.toml` names the
//! account, RPC and contract, `account_key.json` holds the key) or with an account's key found
//! as near-cli keeps it (`--account`, `--key-file`). The epoch defaults to the contract's
//! current one. Before anything is sent the call is tried on a copy of the contract's state
//! with the contract's own rules ([`chain::dry_run`]): what the contract would refuse is refused
//! here, with the contract's reason and exit code 2, and nothing is paid. `--unchecked` skips
//! that (for a contract whose state is not in this project's layout).

use chain::{Call, ChainError, NearRpc};
use contract::views::{ParticipantView, StateView};
use primitives::SignatureScheme;
use serde_json::json;
use std::path::PathBuf;

use crate::near_args::{Account, Contract};
use crate::Failure;

#[derive(clap::Subcommand)]
pub enum ContractCommand {
    /// The contract's state: phase, epoch, participants, domains, candidates, open votes.
    State(StateArgs),
    /// Back a registered candidate's joining the network.
    VoteJoin {
        /// The candidate's account.
        candidate: String,
        #[command(flatten)]
        vote: VoteArgs,
    },
    /// Back a participant's leaving the network.
    VoteLeave {
        /// The participant's account.
        participant: String,
        #[command(flatten)]
        vote: VoteArgs,
    },
    /// Back a whole new participant set and threshold.
    VoteNewParameters {
        /// The new participants (current ones and registered candidates), comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        participants: Vec<String>,
        /// The new threshold.
        #[arg(long)]
        threshold: u64,
        #[command(flatten)]
        vote: VoteArgs,
    },
    /// Back adding domains (one per scheme named: Secp256k1, Ed25519, Bip340, V2Secp256k1).
    VoteAddDomains {
        /// The schemes of the new domains, in order.
        #[arg(required = true, value_parser = parse_scheme)]
        schemes: Vec<SignatureScheme>,
        #[command(flatten)]
        vote: VoteArgs,
    },
    /// Back aborting the running key generation or resharing.
    VoteAbort {
        #[command(flatten)]
        vote: VoteArgs,
    },
}

/// Who calls, and where.
#[derive(clap::Args)]
pub struct Caller {
    /// A node's directory: the account, RPC and contract of its config.toml and the key in its
    /// account_key.json.
    #[arg(long)]
    node_dir: Option<PathBuf>,
    #[command(flatten)]
    contract: Contract,
    /// The calling account (without --node-dir).
    #[arg(long, env = "CHAINSIG_ACCOUNT")]
    account: Option<String>,
    /// Its key, in near-cli's JSON format [default: as near-cli finds it].
    #[arg(long, env = "CHAINSIG_KEY_FILE")]
    key_file: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct VoteArgs {
    #[command(flatten)]
    caller: Caller,
    /// The epoch the vote is for [default: the contract's current one].
    #[arg(long)]
    epoch: Option<u64>,
    /// Send without trying the call on a copy of the contract's state first.
    #[arg(long)]
    unchecked: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct StateArgs {
    /// A node's directory: the RPC and contract of its config.toml.
    #[arg(long)]
    node_dir: Option<PathBuf>,
    #[command(flatten)]
    contract: Contract,
    /// Print the contract's own JSON (NEAR's production shape) with the phase.
    #[arg(long)]
    json: bool,
}

const SCHEMES: [SignatureScheme; 4] = [
    SignatureScheme::Secp256k1,
    SignatureScheme::Ed25519,
    SignatureScheme::Bip340,
    SignatureScheme::V2Secp256k1,
];

/// A scheme by its name, in any case.
fn parse_scheme(name: &str) -> Result<SignatureScheme, String> {
    SCHEMES
        .into_iter()
        .find(|s| s.to_string().eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            let names: Vec<String> = SCHEMES.iter().map(|s| s.to_string()).collect();
            format!("{name:?} is not a scheme ({})", names.join(", "))
        })
}

/// A node directory's account, RPC and contract.
fn node_config(dir: &std::path::Path) -> Result<node::config::NodeConfig, Failure> {
    node::config::NodeConfig::load(dir, |name| std::env::var(name).ok()).map_err(Failure::usage)
}

impl Caller {
    /// A client that sends as the caller.
    fn rpc(&self) -> Result<NearRpc, Failure> {
        if let Some(dir) = &self.node_dir {
            let config = node_config(dir)?;
            let paths = node::identity::IdentityPaths::in_dir(dir);
            let (key, _) = node::identity::NearKey::read_private(&paths.account_key)
                .map_err(Failure::usage)?;
            return NearRpc::new(
                &config.chain.rpc_url,
                &config.chain.contract_id,
                &config.account_id,
                key.signing_key().clone(),
            )
            .map_err(Failure::usage);
        }
        let Some(account) = &self.account else {
            return Err(Failure::usage("give --node-dir, or --account and its key"));
        };
        Account {
            account: account.clone(),
            key_file: self.key_file.clone(),
        }
        .rpc(&self.contract)
    }
}

pub fn run(cmd: ContractCommand) -> Result<(), Failure> {
    let (vote, call) = match cmd {
        ContractCommand::State(args) => return state(args),
        ContractCommand::VoteJoin { candidate, vote } => (vote, Proposal::Join(candidate)),
        ContractCommand::VoteLeave { participant, vote } => (vote, Proposal::Leave(participant)),
        ContractCommand::VoteNewParameters {
            participants,
            threshold,
            vote,
        } => (vote, Proposal::Parameters(participants, threshold)),
        ContractCommand::VoteAddDomains { schemes, vote } => (vote, Proposal::Domains(schemes)),
        ContractCommand::VoteAbort { vote } => (vote, Proposal::Abort),
    };
    cast(vote, call)
}

/// What a vote backs, before its epoch is known.
enum Proposal {
    Join(String),
    Leave(String),
    Parameters(Vec<String>, u64),
    Domains(Vec<SignatureScheme>),
    Abort,
}

impl Proposal {
    fn call(self, epoch: u64) -> Call {
        match self {
            Self::Join(candidate) => Call::VoteJoin { candidate, epoch },
            Self::Leave(participant) => Call::VoteLeave { participant, epoch },
            Self::Parameters(participants, threshold) => Call::VoteNewParameters {
                participants,
                threshold,
                epoch,
            },
            Self::Domains(schemes) => Call::VoteAddDomains { schemes, epoch },
            Self::Abort => Call::VoteAbort { epoch },
        }
    }
}

/// A refusal by the contract is the caller's to fix (exit 2); an unreachable chain is not.
fn chain_failure(what: &str, e: ChainError) -> Failure {
    match e {
        ChainError::Rejected(why) => Failure::usage(format!("{what}: {why}")),
        other => Failure::failed(format!("{what}: {other}")),
    }
}

fn cast(args: VoteArgs, proposal: Proposal) -> Result<(), Failure> {
    let rpc = args.caller.rpc()?;
    crate::runtime()?.block_on(async {
        let epoch = match args.epoch {
            Some(e) => e,
            None => current_epoch(&rpc).await?,
        };
        let call = proposal.call(epoch);
        let method = call.method_name();
        if !args.unchecked {
            rpc.dry_run(&call)
                .await
                .map_err(|e| chain_failure(&format!("the contract would refuse {method}"), e))?;
        }
        eprintln!("sending {method} as {}...", chain::Chain::account_id(&rpc));
        rpc.submit_with(&call, call.deposit())
            .await
            .map_err(|e| chain_failure(&format!("{method} failed"), e))?;
        let after: StateView = chain::Chain::state(&rpc)
            .await
            .map_err(|e| Failure::failed(format!("reading the contract's state: {e}")))?;
        if args.json {
            let args_json: serde_json::Value =
                serde_json::from_slice(&call.args_json()).unwrap_or_default();
            println!(
                "{}",
                json!({
                    "account": chain::Chain::account_id(&rpc),
                    "method": method,
                    "args": args_json,
                    "phase": after.state,
                    "epoch": after.epoch,
                })
            );
        } else {
            println!(
                "{method} accepted; the contract is {:?} (epoch {})",
                after.state,
                after.epoch.map_or("-".into(), |e| e.to_string())
            );
        }
        Ok(())
    })
}

/// The epoch of the running participant set (the one a vote names, also while keys are being
/// generated or reshared).
async fn current_epoch(rpc: &NearRpc) -> Result<u64, Failure> {
    let state = chain::Chain::state(rpc)
        .await
        .map_err(|e| Failure::failed(format!("reading the contract's state: {e}")))?;
    state
        .epoch
        .ok_or_else(|| Failure::usage("the contract is not initialized: no epoch to vote in"))
}

fn state(args: StateArgs) -> Result<(), Failure> {
    let rpc = match &args.node_dir {
        Some(dir) => {
            let config = node_config(dir)?;
            NearRpc::read_only(&config.chain.rpc_url, &config.chain.contract_id)
                .map_err(Failure::usage)?
        }
        None => args.contract.read_only()?,
    };
    crate::runtime()?.block_on(async {
        let (raw, state) = crate::status_cmd::read_state(&rpc).await?;
        if args.json {
            println!("{}", json!({"phase": state.state, "state": raw}));
        } else {
            print_state(&state, &raw);
        }
        Ok(())
    })
}

/// The state as an operator reads it: who is in, what keys there are, what is being voted.
fn print_state(state: &StateView, raw: &serde_json::Value) {
    let dash = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
    println!(
        "phase        {:?}, epoch {}, threshold {}",
        state.state,
        dash(state.epoch),
        dash(state.threshold)
    );
    for p in &state.participants {
        println!("participant  {:<24} {}", p.account_id.0, p.url);
    }
    for c in &state.candidates {
        println!("candidate    {:<24} {}", c.account_id.0, c.url);
    }
    for d in &state.domains {
        println!(
            "domain       {:<3} {:<12} {}",
            d.id,
            d.scheme.to_string(),
            d.public_key
        );
    }
    if let Some(i) = &state.initializing {
        let ids: Vec<String> = i.domains.iter().map(|d| d.id.to_string()).collect();
        println!(
            "generating   domains {} (started at {})",
            ids.join(", "),
            dash(i.started_at)
        );
    }
    if let Some(r) = &state.resharing {
        let to: Vec<&str> = r
            .participants
            .iter()
            .map(|p| p.account_id.0.as_str())
            .collect();
        println!(
            "resharing    to {} at threshold {} ({} of them done)",
            to.join(", "),
            r.threshold,
            r.reshared.len()
        );
    }
    for (name, votes) in open_votes(raw, &state.participants) {
        println!("votes        {name}: backed by {votes}");
    }
}

/// The open proposals of a running contract and who backs them, from its JSON: `join_votes`
/// and `leave_votes` map an account to its backers; `parameters_votes` and
/// `add_domains_votes` map each backer to its proposal (NEAR's production shape), the latter by
/// participant id, named here by `participants`.
fn open_votes(raw: &serde_json::Value, participants: &[ParticipantView]) -> Vec<(String, String)> {
    let running = &raw["Running"];
    let account_of = |id: &str| {
        participants
            .iter()
            .find(|p| p.id.to_string() == id)
            .map_or(id.to_owned(), |p| p.account_id.0.clone())
    };
    let names = |v: &serde_json::Value| -> Vec<String> {
        match v {
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str())
                .map(str::to_owned)
                .collect(),
            serde_json::Value::Object(o) => o.keys().cloned().collect(),
            _ => vec![],
        }
    };
    let mut out = vec![];
    for (key, what) in [("join_votes", "join"), ("leave_votes", "leave")] {
        for (account, backers) in running[key].as_object().into_iter().flatten() {
            out.push((format!("{what} {account}"), names(backers).join(", ")));
        }
    }
    for (key, what) in [
        ("parameters_votes", "new parameters"),
        ("add_domains_votes", "add domains"),
    ] {
        let backers: Vec<String> = names(&running[key]["proposal_by_account"])
            .iter()
            .map(|b| account_of(b))
            .collect();
        if !backers.is_empty() {
            out.push((what.to_owned(), backers.join(", ")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_votes_name_their_backers() {
        let raw = json!({"Running": {
            "join_votes": {"dave.near": ["n0.near", "n1.near"]},
            "leave_votes": {},
            "parameters_votes": {"proposal_by_account": {}},
            "add_domains_votes": {"proposal_by_account": {"2": [{"id": 3}]}}}});
        let n2 = ParticipantView {
            account_id: contract::AccountId("n2.near".into()),
            id: primitives::ParticipantId(2),
            url: "https://n2".into(),
            tls_public_key: testkit::Keys::new(1).public(SignatureScheme::Ed25519),
        };
        assert_eq!(
            open_votes(&raw, &[n2]),
            [
                ("join dave.near".to_owned(), "n0.near, n1.near".to_owned()),
                ("add domains".to_owned(), "n2.near".to_owned())
            ]
        );
        assert!(open_votes(&json!("NotInitialized"), &[]).is_empty());
    }

    #[test]
    fn schemes_by_name_in_any_case() {
        assert_eq!(parse_scheme("ed25519"), Ok(SignatureScheme::Ed25519));
        assert_eq!(
            parse_scheme("V2Secp256k1"),
            Ok(SignatureScheme::V2Secp256k1)
        );
        let err = parse_scheme("rsa").unwrap_err();
        assert!(
            err.contains("Secp256k1, Ed25519, Bip340, V2Secp256k1"),
            "{err}"
        );
    }
}
