//! A new devnet's directory: the genesis (contract, nodes', users' and the registrar's
//! accounts), each node's directory and keys, and — seeded — the domains' master keys dealt
//! into the nodes' stores with the contract's `init_running` arguments beside them.

use chain::InitParticipant;
use contract::views::near_state::{
    DomainConfigJson, KeyForDomain, Keyset, ParticipantInfoJson, ParticipantsJson,
    PublicKeyExtended, ThresholdParameters,
};
use contract::InitRunningArgs;
use node::identity::{IdentityPaths, NearKey};
use primitives::{DomainId, ParticipantId};
use std::path::Path;

use super::{
    free_port, io, progress, schemes, Args, KeyedAccount, Layout, CONTRACT_ID, INIT_RUNNING_FILE,
    MORE_USERS, REGISTRAR_ID, USER_BALANCE, USER_ID,
};
use crate::chain_cmd::{GenesisFile, GenesisFileAccount};
use crate::devnet_chains::ForeignPorts;
use crate::devnet_seed::{Keys, Seed};
use crate::Failure;

/// A `--seed` resumes only the devnet that seed made: another seed's devnet (or a random
/// one) has other keys, and would silently not be what the seed promises.
pub(super) fn check_seed(dir: &Path, layout: &Layout, seed: Option<&Seed>) -> Result<(), Failure> {
    let Some(seed) = seed else {
        return Ok(());
    };
    let made_with = match &layout.seed {
        Some(fingerprint) if *fingerprint == seed.fingerprint() => return Ok(()),
        Some(_) => "another seed",
        None => "no seed (random keys)",
    };
    Err(Failure::usage(format!(
        "{} holds a devnet made with {made_with}; --seed recreates only the devnet it made. \
         Remove the directory to make this seed's devnet, or leave --seed out to resume \
         this one",
        dir.display()
    )))
}

/// Writes a new devnet's genesis, node dirs and key files; seeded, it deals the domains'
/// master keys into the nodes' stores too.
pub(super) fn create(args: &Args, keys: &Keys) -> Result<Layout, Failure> {
    let wasm = std::fs::read(&args.wasm).map_err(|e| {
        Failure::failed(format!(
            "cannot read the signer contract's wasm at {}: {e} (build it with \
             ./scripts/build-contract.sh, or pass --wasm)",
            args.wasm.display()
        ))
    })?;
    progress(format!(
        "creating a devnet in {}: {} nodes, threshold {}{}",
        args.dir.display(),
        args.nodes,
        args.threshold,
        if keys.seed().is_some() {
            ", every key from --seed (devnet only: the seed gives every key)"
        } else {
            ""
        }
    ));
    let chain_dir = args.dir.join("chain");
    std::fs::create_dir_all(&chain_dir).map_err(io(&chain_dir))?;
    let mut genesis = vec![];
    let node_accounts = create_nodes(args, keys, &mut genesis)?;
    let contract_key = keys.account("contract");
    let contract_key_path = args.dir.join("contract_key.json");
    contract_key
        .write(&contract_key_path, Some(CONTRACT_ID))
        .map_err(Failure::failed)?;
    std::fs::write(chain_dir.join("signer.wasm"), &wasm).map_err(io(&chain_dir))?;
    // The contract pays NEAR's storage stake (10^19 yoctoNEAR a byte, 1 NEAR per 100 kB) for
    // everything it holds: its code (~700 kB: ~7 NEAR) and its state, which grows under load
    // to `max_pending_requests` (1024) pending request records, a few hundred bytes each and
    // at worst ~2.5 kB (a 256-byte path, a 1232-byte EdDSA payload, 16 waiting callers): at
    // most ~2.6 MB, ~26 NEAR, besides the participants and keys. `sign` takes 1 yoctoNEAR, so
    // callers pay none of it. 100 NEAR covers the worst case with ~65 NEAR to spare, so no
    // `sign` or `respond` fails with `LackBalanceForState` (and the devnet refuses a genesis
    // that does not cover the code).
    genesis.push(GenesisFileAccount {
        account_id: CONTRACT_ID.into(),
        balance: (100 * devnet::NEAR).to_string(),
        public_keys: vec![contract_key.public_key().to_string()],
        wasm: Some("signer.wasm".into()),
    });
    let mut accounts = vec![keyed_account(
        &args.dir,
        keys.account("user"),
        USER_ID,
        "user_key.json",
        &mut genesis,
    )?];
    for k in 1..=MORE_USERS {
        accounts.push(keyed_account(
            &args.dir,
            keys.account(&format!("user{k}")),
            &format!("user{k}.devnet"),
            &format!("user{k}_key.json"),
            &mut genesis,
        )?);
    }
    let registrar = keyed_account(
        &args.dir,
        keys.account("registrar"),
        REGISTRAR_ID,
        "registrar_key.json",
        &mut genesis,
    )?;
    let genesis = GenesisFile {
        seed: hex::encode(keys.genesis()),
        accounts: genesis,
    };
    let genesis_path = chain_dir.join("genesis.json");
    std::fs::write(
        &genesis_path,
        serde_json::to_string_pretty(&genesis).expect("plain data"),
    )
    .map_err(io(&genesis_path))?;
    let layout = Layout {
        nodes: args.nodes,
        threshold: args.threshold,
        rpc_port: args.rpc_port,
        block_ms: args.block_ms,
        node_accounts,
        removed: vec![],
        held: vec![],
        accounts,
        registrar: Some(registrar),
        seed: keys.seed().map(Seed::fingerprint),
        foreign_ports: ForeignPorts::default(),
    };
    if let Some(seed) = keys.seed() {
        deal_master_keys(&args.dir, seed, &layout)?;
    }
    layout.save(&args.dir)?;
    Ok(layout)
}

/// The node directories `node0` … with their keys, each node's account funded in `genesis`.
fn create_nodes(
    args: &Args,
    keys: &Keys,
    genesis: &mut Vec<GenesisFileAccount>,
) -> Result<Vec<String>, Failure> {
    let rpc_url = format!("http://127.0.0.1:{}", args.rpc_port);
    let mut node_accounts = vec![];
    let mut taken = vec![args.rpc_port];
    for i in 0..args.nodes {
        let dir = args.dir.join(format!("node{i}"));
        let account = format!("node{i}.devnet");
        let p2p = format!("127.0.0.1:{}", free_port(&mut taken)?);
        let http = format!("127.0.0.1:{}", free_port(&mut taken)?);
        let public = crate::node_cmd::init_dir(
            &dir,
            node::identity::NewAccount::Named(&account),
            p2p.parse().expect("an address"),
            http.parse().expect("an address"),
            &rpc_url,
            CONTRACT_ID,
            keys.node(i),
        )?;
        genesis.push(GenesisFileAccount {
            account_id: account.clone(),
            balance: (100 * devnet::NEAR).to_string(),
            public_keys: vec![public.account_public_key.to_string()],
            wasm: None,
        });
        node_accounts.push(account);
    }
    Ok(node_accounts)
}

/// An account funded in `genesis` whose key the devnet writes to `file` in `dir` (near-cli's
/// format).
fn keyed_account(
    dir: &Path,
    key: NearKey,
    account_id: &str,
    file: &str,
    genesis: &mut Vec<GenesisFileAccount>,
) -> Result<KeyedAccount, Failure> {
    key.write(&dir.join(file), Some(account_id))
        .map_err(Failure::failed)?;
    genesis.push(GenesisFileAccount {
        account_id: account_id.to_owned(),
        balance: USER_BALANCE.to_string(),
        public_keys: vec![key.public_key().to_string()],
        wasm: None,
    });
    Ok(KeyedAccount {
        account_id: account_id.to_owned(),
        key_file: file.into(),
    })
}

/// Deals each domain's master key from the seed (`mpc::dealer`) into every node's store,
/// under epoch 0 as a key generation leaves it, and writes the contract's `init_running`
/// arguments with the public keys. The shares go from here to the stores only.
fn deal_master_keys(dir: &Path, seed: &Seed, layout: &Layout) -> Result<(), Failure> {
    let schemes = schemes(layout.nodes, layout.threshold);
    let ids: Vec<ParticipantId> = (0..layout.nodes as u32).map(ParticipantId).collect();
    let stores = (0..layout.nodes)
        .map(|i| open_store(dir, i))
        .collect::<Result<Vec<_>, _>>()?;
    let mut keyset = vec![];
    for (i, scheme) in schemes.iter().enumerate() {
        let id = DomainId(i as u64);
        let dealt = |e: &dyn std::fmt::Display| {
            Failure::failed(format!("dealing domain {i}'s {scheme} key: {e}"))
        };
        let master = seed.master_key(id, *scheme);
        let shares = node::keys::deal(*scheme, &master, &ids, layout.threshold as usize)
            .map_err(|e| dealt(&e))?;
        for (p, share) in &shares {
            let store = stores
                .get(p.0 as usize)
                .ok_or_else(|| dealt(&"no such node"))?;
            store
                .put_key_share(id, 0, &share.encode())
                .map_err(|e| dealt(&e))?;
        }
        let public = shares
            .values()
            .next()
            .ok_or_else(|| dealt(&"no shares"))?
            .public_key();
        keyset.push(KeyForDomain {
            domain_id: id,
            key: PublicKeyExtended::new(public),
            attempt: 0,
        });
    }
    let mut participants = vec![];
    for (i, account) in layout.node_accounts.iter().enumerate() {
        let p = participant(dir, i, account)?;
        let info = ParticipantInfoJson {
            url: p.url,
            tls_public_key: p.tls_public_key,
        };
        participants.push((contract::AccountId(p.account_id), ids[i], info));
    }
    let args = InitRunningArgs {
        domains: schemes
            .iter()
            .enumerate()
            .map(|(i, s)| DomainConfigJson::new(DomainId(i as u64), *s, layout.threshold))
            .collect(),
        next_domain_id: schemes.len() as u64,
        keyset: Keyset {
            epoch_id: 0,
            domains: keyset,
        },
        parameters: ThresholdParameters {
            participants: ParticipantsJson {
                next_id: layout.nodes as u32,
                participants,
            },
            threshold: layout.threshold,
        },
        init_config: None,
    };
    let path = dir.join(INIT_RUNNING_FILE);
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&args).expect("plain data"),
    )
    .map_err(io(&path))?;
    progress(format!(
        "dealt the master keys of {} domains from the seed into the nodes' stores",
        schemes.len()
    ));
    Ok(())
}

/// Node `i`'s store, opened with its key, as the node opens it.
fn open_store(dir: &Path, i: usize) -> Result<node::store::Store, Failure> {
    let node_dir = dir.join(format!("node{i}"));
    let config = node::config::NodeConfig::load(&node_dir, |_| None).map_err(Failure::failed)?;
    let key = config
        .store_key(&node_dir, |_| None)
        .map_err(Failure::failed)?;
    let path = node_dir.join(node::store::FILE);
    node::store::Store::open(&path, &key)
        .map_err(|e| Failure::failed(format!("{}: {e}", path.display())))
}

/// How the contract lists node `i`: its account, url and TLS key.
pub(super) fn participant(dir: &Path, i: usize, account: &str) -> Result<InitParticipant, Failure> {
    let node_dir = dir.join(format!("node{i}"));
    let config = node::config::NodeConfig::load(&node_dir, |_| None).map_err(Failure::failed)?;
    let paths = IdentityPaths::in_dir(&node_dir);
    let (tls, _) = NearKey::read(&paths.tls_key).map_err(Failure::failed)?;
    Ok(InitParticipant {
        account_id: account.to_owned(),
        url: config.p2p.public_url,
        tls_public_key: tls.public_key(),
    })
}
