//! `chainsig devnet --with evm,solana,bitcoin`: the foreign chains an app developer sends to,
//! run by the devnet beside its own chain and nodes — anvil (Ethereum's dev node), a Solana
//! JSON-RPC over litesvm (Solana's runtime), and `chainsig-btc-regtest` (a regtest chain
//! whose blocks Bitcoin Core's validation engine accepts, with an Esplora API).
//!
//! Each is a child process in its own directory under the devnet's (`evm/`, `solana/`,
//! `bitcoin/`, with its log), started before the devnet's chain and stopped after it. Their
//! ports are chosen once and kept in `devnet.json`, so the URLs survive a restart. Once the
//! network's keys exist, the user's derived addresses are funded on each — the EVM address
//! under `ethereum-1`, the Solana address under `solana-1`, the P2WPKH and P2TR addresses
//! under `bitcoin-1` — so that `chainsig eth|sol|btc send` work with only the ready line's URLs.
//!
//! What persists: anvil dumps its state to `evm/state.json` when stopped and loads it again;
//! the regtest chain keeps its blocks; the litesvm bank lives in memory and starts empty (the
//! user is funded again). Anvil, Node.js and litesvm come from `./scripts/test-tools.sh`;
//! `chainsig-btc-regtest` is a separate binary (it links Bitcoin Core's C++ engine, which
//! `chainsig` does not), looked for next to this one.

use contract::views::StateView;
use primitives::SignatureScheme;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::Failure;

/// A foreign chain the devnet can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum ForeignChain {
    /// anvil: an Ethereum dev node (chain id 31337).
    Evm,
    /// A Solana JSON-RPC whose bank is litesvm.
    Solana,
    /// A Bitcoin regtest chain checked by Bitcoin Core's validation, with an Esplora API.
    Bitcoin,
}

impl ForeignChain {
    pub fn name(self) -> &'static str {
        match self {
            Self::Evm => "evm",
            Self::Solana => "solana",
            Self::Bitcoin => "bitcoin",
        }
    }

    /// The derivation path whose addresses the devnet funds.
    pub fn path(self) -> &'static str {
        match self {
            Self::Evm => "ethereum-1",
            Self::Solana => "solana-1",
            Self::Bitcoin => "bitcoin-1",
        }
    }
}

/// anvil's chain id.
pub const EVM_CHAIN_ID: u64 = 31337;
const WEI_PER_ETH: u128 = 1_000_000_000_000_000_000;
/// What the user's EVM address holds after funding: 100 ETH.
const FUND_WEI: u128 = 100 * WEI_PER_ETH;
/// What the user's Solana address holds after funding: 100 SOL.
const FUND_LAMPORTS: u64 = 100_000_000_000;
/// What each of the user's Bitcoin addresses holds after funding: 10 BTC.
const FUND_SATS: u64 = 1_000_000_000;

/// The foreign chains' ports, kept in `devnet.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignPorts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evm: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solana: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitcoin: Option<u16>,
}

impl ForeignPorts {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    pub fn get(&self, chain: ForeignChain) -> Option<u16> {
        match chain {
            ForeignChain::Evm => self.evm,
            ForeignChain::Solana => self.solana,
            ForeignChain::Bitcoin => self.bitcoin,
        }
    }

    pub fn set(&mut self, chain: ForeignChain, port: u16) {
        let slot = match chain {
            ForeignChain::Evm => &mut self.evm,
            ForeignChain::Solana => &mut self.solana,
            ForeignChain::Bitcoin => &mut self.bitcoin,
        };
        *slot = Some(port);
    }
}

/// How to start one foreign chain.
pub struct Launch {
    pub chain: ForeignChain,
    /// The process's name in messages.
    pub name: &'static str,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Its directory (log and pid file).
    pub dir: PathBuf,
    pub log: PathBuf,
    pub url: String,
}

/// Where the test tools (anvil, litesvm) are looked for: `--tools-dir`, else
/// `$CARGO_TARGET_DIR/test-tools`, the `test-tools` beside this binary's target directory,
/// and `target/test-tools`.
fn tools_dirs(given: Option<&Path>) -> Vec<PathBuf> {
    if let Some(dir) = given {
        return vec![dir.to_owned()];
    }
    let mut dirs = vec![];
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        dirs.push(PathBuf::from(target).join("test-tools"));
    }
    if let Some(target) = own_dir().as_deref().and_then(Path::parent) {
        dirs.push(target.join("test-tools"));
    }
    dirs.push(PathBuf::from("target/test-tools"));
    dirs
}

/// The directory this binary is in.
fn own_dir() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_owned))
}

/// `name` on `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn missing(what: &str, dirs: &[PathBuf]) -> Failure {
    let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    Failure::failed(format!(
        "{what} not found (looked in {}); install the chains' tools with ./scripts/test-tools.sh, \
         or give --tools-dir",
        looked.join(", ")
    ))
}

/// The launches of `chains`, every program found before anything starts.
pub fn plan(
    chains: &[ForeignChain],
    ports: &ForeignPorts,
    dir: &Path,
    tools_dir: Option<&Path>,
    btc_block_ms: u64,
) -> Result<Vec<Launch>, Failure> {
    let tools = tools_dirs(tools_dir);
    chains
        .iter()
        .map(|&chain| {
            let port = ports
                .get(chain)
                .ok_or_else(|| Failure::failed(format!("no port recorded for {}", chain.name())))?;
            match chain {
                ForeignChain::Evm => anvil(dir, &tools, port),
                ForeignChain::Solana => litesvm(dir, &tools, port),
                ForeignChain::Bitcoin => regtest(dir, port, btc_block_ms),
            }
        })
        .collect()
}

fn anvil(dir: &Path, tools: &[PathBuf], port: u16) -> Result<Launch, Failure> {
    const IN_TOOLS: &str = "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";
    let program = tools
        .iter()
        .map(|d| d.join(IN_TOOLS))
        .find(|p| p.is_file())
        .or_else(|| on_path("anvil"))
        .ok_or_else(|| missing("anvil (Ethereum's dev node, for --with evm)", tools))?;
    let dir = dir.join("evm");
    let args = vec![
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
        "--chain-id".into(),
        EVM_CHAIN_ID.to_string(),
        // Loaded if there, written when anvil stops: balances survive a restart.
        "--state".into(),
        dir.join("state.json").to_string_lossy().into_owned(),
    ];
    Ok(Launch {
        chain: ForeignChain::Evm,
        name: "anvil",
        program,
        args,
        log: dir.join("anvil.log"),
        dir,
        url: format!("http://127.0.0.1:{port}"),
    })
}

/// The litesvm JSON-RPC script, written into the devnet's directory at each start.
const LITESVM_RPC: &str = include_str!("../assets/litesvm-rpc.cjs");

fn litesvm(dir: &Path, tools: &[PathBuf], port: u16) -> Result<Launch, Failure> {
    let node = on_path("node").ok_or_else(|| {
        Failure::failed(
            "node (Node.js, which runs the Solana RPC for --with solana) is not on PATH; \
             install it with ./scripts/test-tools.sh",
        )
    })?;
    let tools_dir = tools
        .iter()
        .find(|d| d.join("node_modules/litesvm/package.json").is_file())
        .ok_or_else(|| missing("litesvm (Solana's runtime, for --with solana)", tools))?;
    let dir = dir.join("solana");
    let script = dir.join("litesvm-rpc.cjs");
    Ok(Launch {
        chain: ForeignChain::Solana,
        name: "the Solana RPC",
        program: node,
        args: vec![
            script.to_string_lossy().into_owned(),
            tools_dir.to_string_lossy().into_owned(),
            port.to_string(),
        ],
        log: dir.join("litesvm.log"),
        dir,
        url: format!("http://127.0.0.1:{port}"),
    })
}

/// The regtest binary's name; cargo puts it next to `chainsig`.
pub const REGTEST_BIN: &str = "chainsig-btc-regtest";

fn regtest(dir: &Path, port: u16, block_ms: u64) -> Result<Launch, Failure> {
    let own = own_dir().ok_or_else(|| Failure::failed("cannot find this program's directory"))?;
    let program = own.join(REGTEST_BIN);
    if !program.is_file() {
        let release = if own.ends_with("release") {
            " --release"
        } else {
            ""
        };
        return Err(Failure::failed(format!(
            "{REGTEST_BIN} (the Bitcoin regtest chain, for --with bitcoin) is not next to \
             chainsig in {}; build it with: cargo build{release} -p btc-regtest",
            own.display()
        )));
    }
    let dir = dir.join("bitcoin");
    Ok(Launch {
        chain: ForeignChain::Bitcoin,
        name: "the Bitcoin regtest chain",
        program,
        args: vec![
            "--dir".into(),
            dir.join("chain").to_string_lossy().into_owned(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--block-ms".into(),
            block_ms.to_string(),
        ],
        log: dir.join("regtest.log"),
        dir,
        url: format!("http://127.0.0.1:{port}"),
    })
}

/// Creates the launch's directory and what it needs in it.
pub fn prepare(launch: &Launch) -> Result<(), Failure> {
    let io = |p: &Path, e: std::io::Error| Failure::failed(format!("{}: {e}", p.display()));
    std::fs::create_dir_all(&launch.dir).map_err(|e| io(&launch.dir, e))?;
    if launch.chain == ForeignChain::Solana {
        let script = launch.dir.join("litesvm-rpc.cjs");
        std::fs::write(&script, LITESVM_RPC).map_err(|e| io(&script, e))?;
    }
    Ok(())
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client with a timeout builds")
}

/// Whether the chain answers yet.
pub async fn answers(launch: &Launch) -> bool {
    match launch.chain {
        ForeignChain::Evm => rpc(&launch.url, "eth_chainId", serde_json::json!([]))
            .await
            .is_ok(),
        ForeignChain::Solana => rpc(&launch.url, "getLatestBlockhash", serde_json::json!([]))
            .await
            .is_ok(),
        ForeignChain::Bitcoin => get_text(&format!("{}/blocks/tip/height", launch.url))
            .await
            .is_ok(),
    }
}

async fn rpc(
    url: &str,
    method: &str,
    params: serde_json::Value,
) -> Result<serde_json::Value, Failure> {
    client::jsonrpc::JsonRpc::new(url)
        .call(method, params)
        .await
        .map_err(Failure::failed)
}

async fn get_text(url: &str) -> Result<String, Failure> {
    let failed = |e: String| Failure::failed(format!("{url}: {e}"));
    let response = http()
        .get(url)
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| failed(e.to_string()))?;
    if !status.is_success() {
        return Err(failed(format!("HTTP {status}: {}", text.trim())));
    }
    Ok(text)
}

async fn get_json(url: &str) -> Result<serde_json::Value, Failure> {
    let text = get_text(url).await?;
    serde_json::from_str(&text).map_err(|e| Failure::failed(format!("{url}: {e}")))
}

/// A funded chain, as the ready line shows it.
pub struct Funded {
    pub chain: ForeignChain,
    pub url: String,
    /// (name, address) of each funded address.
    pub addresses: Vec<(&'static str, String)>,
}

impl Funded {
    pub fn json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({ "path": self.chain.path() });
        match self.chain {
            ForeignChain::Evm => {
                v["rpc_url"] = self.url.clone().into();
                v["chain_id"] = EVM_CHAIN_ID.into();
                v["balance_wei"] = FUND_WEI.to_string().into();
            }
            ForeignChain::Solana => {
                v["rpc_url"] = self.url.clone().into();
                v["balance_lamports"] = FUND_LAMPORTS.into();
            }
            ForeignChain::Bitcoin => {
                v["esplora_url"] = self.url.clone().into();
                v["network"] = "regtest".into();
                v["balance_sats"] = FUND_SATS.into();
            }
        }
        for (name, address) in &self.addresses {
            v[*name] = address.clone().into();
        }
        v
    }

    /// One line of the plain ready line.
    pub fn line(&self) -> String {
        let addresses: Vec<String> = self
            .addresses
            .iter()
            .map(|(n, a)| format!("{n} {a}"))
            .collect();
        let (what, funds) = match self.chain {
            ForeignChain::Evm => (format!("anvil (chain {EVM_CHAIN_ID})"), "100 ETH"),
            ForeignChain::Solana => ("litesvm".to_owned(), "100 SOL"),
            ForeignChain::Bitcoin => ("regtest, Esplora".to_owned(), "10 BTC each"),
        };
        format!(
            "{} {what} {}: {} under --path {} ({funds})",
            self.chain.name(),
            self.url,
            addresses.join(", "),
            self.chain.path()
        )
    }

    /// A command that sends from the funded address.
    pub fn try_command(&self, near_rpc: &str, key_file: &Path) -> String {
        let who = format!(
            "--rpc {near_rpc} --account {} --key-file {} --path {}",
            crate::devnet_cmd::USER_ID,
            key_file.display(),
            self.chain.path()
        );
        match self.chain {
            ForeignChain::Evm => format!(
                "chainsig eth send --eth-rpc {} {who} --to 0x1111111111111111111111111111111111111111 --value 0.1",
                self.url
            ),
            ForeignChain::Solana => format!(
                "chainsig sol send --sol-rpc {} {who} --to 11111111111111111111111111111112 --amount 0.1",
                self.url
            ),
            ForeignChain::Bitcoin => format!(
                "chainsig btc send --esplora {} --btc-network regtest {who} --to {} --amount 0.1",
                self.url, BTC_TRY_RECIPIENT
            ),
        }
    }
}

/// A regtest address to pay in the suggested command (BIP173's P2WPKH example).
const BTC_TRY_RECIPIENT: &str = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";

/// The user's address `name` under `chain`'s path, derived from the first domain of `scheme`
/// as `chainsig address` derives it.
fn user_address(
    state: &StateView,
    scheme: SignatureScheme,
    chain: ForeignChain,
    name: &'static str,
) -> Result<(&'static str, String), Failure> {
    let domain = state
        .domains
        .iter()
        .find(|d| d.scheme == scheme)
        .ok_or_else(|| Failure::failed(format!("the devnet has no {scheme} domain")))?;
    let options = client::address::AddressOptions {
        bitcoin: client::address::BitcoinNetwork::Regtest,
        cosmos_prefix: "cosmos".into(),
    };
    let addresses = crate::address_cmd::derived_addresses(
        &domain.public_key,
        scheme,
        crate::devnet_cmd::USER_ID,
        chain.path(),
        &options,
    )?;
    let address = addresses
        .get(name)
        .cloned()
        .ok_or_else(|| Failure::failed(format!("no {name} address for {scheme}")))?;
    let short = name.trim_start_matches("btc_");
    Ok((short, address))
}

/// Funds the user's addresses on the launched chain (topped up to the amount: a restart does
/// not add more).
pub async fn fund(launch: &Launch, state: &StateView) -> Result<Funded, Failure> {
    let addresses = match launch.chain {
        ForeignChain::Evm => {
            let a = user_address(state, SignatureScheme::Secp256k1, launch.chain, "evm")?;
            fund_evm(&launch.url, &a.1).await?;
            vec![("address", a.1)]
        }
        ForeignChain::Solana => {
            let a = user_address(state, SignatureScheme::Ed25519, launch.chain, "solana")?;
            fund_solana(&launch.url, &a.1).await?;
            vec![("address", a.1)]
        }
        ForeignChain::Bitcoin => {
            let p2wpkh = user_address(
                state,
                SignatureScheme::Secp256k1,
                launch.chain,
                "btc_p2wpkh",
            )?;
            let p2tr = user_address(state, SignatureScheme::Bip340, launch.chain, "btc_p2tr")?;
            fund_bitcoin(&launch.url, &[&p2wpkh.1, &p2tr.1]).await?;
            vec![p2wpkh, p2tr]
        }
    };
    Ok(Funded {
        chain: launch.chain,
        url: launch.url.clone(),
        addresses,
    })
}

fn hex_quantity(v: &serde_json::Value) -> Option<u128> {
    u128::from_str_radix(v.as_str()?.trim_start_matches("0x"), 16).ok()
}

async fn fund_evm(url: &str, address: &str) -> Result<(), Failure> {
    let balance = rpc(
        url,
        "eth_getBalance",
        serde_json::json!([address, "latest"]),
    )
    .await?;
    if hex_quantity(&balance).unwrap_or(0) < FUND_WEI {
        let amount = format!("{FUND_WEI:#x}");
        rpc(
            url,
            "anvil_setBalance",
            serde_json::json!([address, amount]),
        )
        .await?;
    }
    Ok(())
}

async fn fund_solana(url: &str, address: &str) -> Result<(), Failure> {
    let balance = rpc(url, "getBalance", serde_json::json!([address])).await?;
    let have = balance["value"].as_u64().unwrap_or(0);
    if have < FUND_LAMPORTS {
        let airdrop = serde_json::json!([address, FUND_LAMPORTS - have]);
        rpc(url, "requestAirdrop", airdrop).await?;
    }
    Ok(())
}

/// Tops each address up from the regtest faucet and waits until the payments are mined
/// (`btc send` spends confirmed outputs only).
async fn fund_bitcoin(url: &str, addresses: &[&str]) -> Result<(), Failure> {
    let mut payments = vec![];
    for address in addresses {
        let info = get_json(&format!("{url}/address/{address}")).await?;
        let stats = &info["chain_stats"];
        let funded = stats["funded_txo_sum"].as_u64().unwrap_or(0);
        let confirmed = funded.saturating_sub(stats["spent_txo_sum"].as_u64().unwrap_or(0));
        if confirmed >= FUND_SATS {
            continue;
        }
        let body = serde_json::json!({"address": address, "sats": FUND_SATS - confirmed});
        let faucet = format!("{url}/regtest/faucet");
        let response = http()
            .post(&faucet)
            .json(&body)
            .send()
            .await
            .map_err(|e| Failure::failed(format!("{faucet}: {e}")))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(Failure::failed(format!("{faucet}: HTTP {status}: {text}")));
        }
        let paid: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Failure::failed(format!("{faucet}: {e}: {text}")))?;
        let txid = paid["txid"].as_str().unwrap_or_default().to_owned();
        payments.push(txid);
    }
    for txid in payments {
        wait_confirmed(url, &txid).await?;
    }
    Ok(())
}

async fn wait_confirmed(url: &str, txid: &str) -> Result<(), Failure> {
    let until = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let status = get_json(&format!("{url}/tx/{txid}/status")).await?;
        if status["confirmed"] == true {
            return Ok(());
        }
        if std::time::Instant::now() > until {
            return Err(Failure::failed(format!(
                "the faucet's payment {txid} was not mined in 60 s"
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_kept_per_chain_and_absent_ones_not_written() {
        let mut ports = ForeignPorts::default();
        assert!(ports.is_empty());
        assert_eq!(serde_json::to_string(&ports).unwrap(), "{}");
        ports.set(ForeignChain::Bitcoin, 4000);
        assert_eq!(ports.get(ForeignChain::Bitcoin), Some(4000));
        assert_eq!(ports.get(ForeignChain::Evm), None);
        let text = serde_json::to_string(&ports).unwrap();
        assert_eq!(text, r#"{"bitcoin":4000}"#);
        let back: ForeignPorts = serde_json::from_str(&text).unwrap();
        assert_eq!(back, ports);
    }

    #[test]
    fn a_missing_tool_names_the_script_that_installs_it() {
        let dir = tempfile::tempdir().unwrap();
        let ports = ForeignPorts {
            evm: Some(1),
            solana: Some(2),
            bitcoin: Some(3),
        };
        let empty = dir.path().join("no-tools");
        let Err(e) = plan(&[ForeignChain::Evm], &ports, dir.path(), Some(&empty), 1000) else {
            // anvil on PATH is found there; nothing to check then.
            assert!(on_path("anvil").is_some());
            return;
        };
        assert!(
            e.message.contains("./scripts/test-tools.sh"),
            "{}",
            e.message
        );
        assert!(e.message.contains("anvil"), "{}", e.message);
        if on_path("node").is_some() {
            let Err(e) = plan(
                &[ForeignChain::Solana],
                &ports,
                dir.path(),
                Some(&empty),
                1000,
            ) else {
                panic!("litesvm found in an empty directory");
            };
            assert!(
                e.message.contains("./scripts/test-tools.sh"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn a_missing_regtest_binary_names_the_command_that_builds_it() {
        // Unit tests run from target/debug/deps, where cargo puts no binary of that name.
        let dir = tempfile::tempdir().unwrap();
        let ports = ForeignPorts {
            bitcoin: Some(3),
            ..ForeignPorts::default()
        };
        let Err(e) = plan(&[ForeignChain::Bitcoin], &ports, dir.path(), None, 1000) else {
            panic!("{REGTEST_BIN} found beside the test binary");
        };
        assert!(
            e.message.contains("cargo build -p btc-regtest"),
            "{}",
            e.message
        );
    }

    #[test]
    fn the_ready_line_entries_carry_url_path_and_addresses() {
        let funded = Funded {
            chain: ForeignChain::Bitcoin,
            url: "http://127.0.0.1:5".into(),
            addresses: vec![("p2wpkh", "bcrt1q...".into()), ("p2tr", "bcrt1p...".into())],
        };
        let v = funded.json();
        assert_eq!(v["esplora_url"], "http://127.0.0.1:5");
        assert_eq!(v["network"], "regtest");
        assert_eq!(v["path"], "bitcoin-1");
        assert_eq!(v["p2tr"], "bcrt1p...");
        assert!(funded.line().contains("http://127.0.0.1:5"));
        let cmd = funded.try_command("http://127.0.0.1:3030", Path::new("k.json"));
        assert!(
            cmd.starts_with("chainsig btc send --esplora http://127.0.0.1:5 --btc-network regtest")
        );
    }
}
