//! The ready line: what a devnet prints once it signs — the RPC, the contract and its
//! domains, the funded accounts (with their keys, as anvil lists its accounts) and the
//! foreign chains `--with` runs — as text or as one JSON object.

use contract::views::StateView;
use node::identity::NearKey;
use std::path::{Path, PathBuf};

use super::{Args, KeyedAccount, Layout, CONTRACT_ID, USER_ID};
use crate::devnet_chains::Funded;
use crate::Failure;

/// A funded account as the ready line lists it: its key read back from its file.
struct Listed {
    account_id: String,
    key_file: PathBuf,
    key: NearKey,
}

/// The devnet's funded user accounts (the user alone for a devnet made before there were
/// several) and its registrar, with their keys.
fn listed_accounts(dir: &Path, layout: &Layout) -> Result<(Vec<Listed>, Option<Listed>), Failure> {
    let read = |a: &KeyedAccount| {
        let path = dir.join(&a.key_file);
        let key_file = std::fs::canonicalize(&path).unwrap_or(path);
        let (key, _) = NearKey::read(&key_file).map_err(Failure::failed)?;
        Ok::<_, Failure>(Listed {
            account_id: a.account_id.clone(),
            key_file,
            key,
        })
    };
    let user = KeyedAccount {
        account_id: USER_ID.into(),
        key_file: "user_key.json".into(),
    };
    let accounts = match layout.accounts.as_slice() {
        [] => std::slice::from_ref(&user),
        all => all,
    };
    let users = accounts.iter().map(read).collect::<Result<_, _>>()?;
    let registrar = layout.registrar.as_ref().map(read).transpose()?;
    Ok((users, registrar))
}

pub(super) fn ready_line(
    args: &Args,
    layout: &Layout,
    rpc_url: &str,
    state: &StateView,
    funded: &[Funded],
) -> Result<(), Failure> {
    let key_file = args.dir.join("user_key.json");
    let key_file = std::fs::canonicalize(&key_file).unwrap_or(key_file);
    let (accounts, registrar) = listed_accounts(&args.dir, layout)?;
    let domains: Vec<serde_json::Value> = state
        .domains
        .iter()
        .map(|d| {
            serde_json::json!({
                "domain_id": d.id.0,
                "scheme": d.scheme,
                "public_key": d.public_key,
            })
        })
        .collect();
    if args.json {
        // As anvil lists its accounts: each with its private key, devnet keys all.
        let listed: Vec<serde_json::Value> = accounts
            .iter()
            .map(|a| {
                serde_json::json!({
                    "account_id": a.account_id,
                    "public_key": a.key.public_key(),
                    "private_key": a.key.private_key_string().as_str(),
                    "key_file": a.key_file,
                })
            })
            .collect();
        let registrar = registrar
            .map(|r| serde_json::json!({"account_id": r.account_id, "key_file": r.key_file}));
        let mut line = serde_json::json!({
            "rpc_url": rpc_url,
            "contract_id": CONTRACT_ID,
            "domains": domains,
            "user": {"account_id": USER_ID, "key_file": key_file},
            "accounts": listed,
            "registrar": registrar,
            "seeded": layout.seed.is_some(),
        });
        if !funded.is_empty() {
            let chains: serde_json::Map<String, serde_json::Value> = funded
                .iter()
                .map(|f| (f.chain.name().to_owned(), f.json()))
                .collect();
            line["chains"] = chains.into();
        }
        println!("{line}");
    } else {
        println!("devnet ready: rpc {rpc_url}, contract {CONTRACT_ID}");
        for d in &state.domains {
            println!("  domain {} {:?}: {}", d.id.0, d.scheme, d.public_key);
        }
        println!("  user {USER_ID}, key file {}", key_file.display());
        println!("  funded accounts (1000 NEAR each at genesis):");
        for a in &accounts {
            println!(
                "    {:<14} {}  key file {}",
                a.account_id,
                a.key.public_key(),
                a.key_file.display()
            );
        }
        if let Some(r) = &registrar {
            println!(
                "  {} (creates top-level accounts), key file {}",
                r.account_id,
                r.key_file.display()
            );
        }
        if layout.seed.is_some() {
            println!("  every key derived from --seed: a devnet for development, no security");
        }
        for chain in funded {
            println!("  {}", chain.line());
        }
        println!(
            "try: chainsig sign --rpc {rpc_url} --account {USER_ID} --key-file {} --path demo \
             --payload {}",
            key_file.display(),
            "11".repeat(32)
        );
        for chain in funded {
            println!("try: {}", chain.try_command(rpc_url, &key_file));
        }
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    Ok(())
}
