//! The node's configuration: `config.toml` in its data dir, every value overridable by an
//! environment variable (`CHAINSIG_…`, listed in the file's comments). Unknown keys, bad
//! addresses and missing values are errors that name the field.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::store::StoreKey;

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0}: {1}")]
    Parse(PathBuf, String),
    #[error("environment variable {0}: {1}")]
    Env(&'static str, String),
    #[error("store key: {0}")]
    StoreKey(String),
    #[error("{0}: {1}")]
    Invalid(PathBuf, String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    pub account_id: String,
    pub store_key_file: PathBuf,
    pub p2p: P2pConfig,
    pub http: HttpConfig,
    pub chain: ChainConfig,
    /// Absent in files written before there was a choice: the RPC source.
    #[serde(default)]
    pub indexer: IndexerConfig,
    pub stock: StockConfig,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct P2pConfig {
    pub listen: SocketAddr,
    pub public_url: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub listen: SocketAddr,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    pub rpc_url: String,
    pub contract_id: String,
    /// Further NEAR RPC endpoints, run by others than `rpc_url`'s operator: blocks and the
    /// contract's views are acted on only when all of them agree (chain::agree).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cross_check_rpc_urls: Vec<String>,
}

impl ChainConfig {
    /// Each cross-check endpoint is an http(s) URL, and no endpoint is listed twice (the
    /// main one included): a second look at the same endpoint checks nothing.
    fn check_cross_check(&self) -> Result<(), String> {
        let same = |u: &str| u.trim_end_matches('/').to_ascii_lowercase();
        let mut seen = std::collections::BTreeSet::from([same(&self.rpc_url)]);
        for u in &self.cross_check_rpc_urls {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(format!(
                    "chain.cross_check_rpc_urls: {u:?} is not an http(s) URL"
                ));
            }
            if !seen.insert(same(u)) {
                return Err(format!(
                    "chain.cross_check_rpc_urls: {u:?} is listed twice (or is chain.rpc_url): \
                     every endpoint must be another"
                ));
            }
        }
        Ok(())
    }
}

/// Where the node follows the chain's blocks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct IndexerConfig {
    #[serde(default)]
    pub source: BlockSourceKind,
    pub lake_endpoint: Option<String>,
    pub lake_bucket: Option<String>,
    pub lake_region: Option<String>,
    #[serde(default)]
    pub lake_requester_pays: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BlockSourceKind {
    /// NEAR JSON-RPC at `chain.rpc_url`: `block` and `EXPERIMENTAL_changes`.
    #[default]
    Rpc,
    /// NEAR Lake's S3 layout.
    Lake,
}

impl std::str::FromStr for BlockSourceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rpc" => Ok(Self::Rpc),
            "lake" => Ok(Self::Lake),
            other => Err(format!("{other:?} is not a block source (rpc or lake)")),
        }
    }
}

/// A lake's whereabouts, once checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LakeSettings {
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub requester_pays: bool,
}

impl IndexerConfig {
    /// The lake to read, when the source is one; an error names what is missing.
    pub fn lake(&self) -> Result<Option<LakeSettings>, String> {
        if self.source != BlockSourceKind::Lake {
            return Ok(None);
        }
        let need = |v: &Option<String>, name: &str| {
            v.clone()
                .ok_or_else(|| format!("indexer.source is \"lake\" but indexer.{name} is not set"))
        };
        Ok(Some(LakeSettings {
            endpoint: need(&self.lake_endpoint, "lake_endpoint")?,
            bucket: need(&self.lake_bucket, "lake_bucket")?,
            region: self
                .lake_region
                .clone()
                .unwrap_or_else(|| "us-east-1".to_owned()),
            requester_pays: self.lake_requester_pays,
        }))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockConfig {
    pub triples: u32,
    pub presignatures: u32,
    pub nonces: u32,
    pub max_concurrent_protocols: u32,
}

/// Values `node init` fills in.
pub struct InitValues<'a> {
    pub account_id: &'a str,
    pub p2p_listen: SocketAddr,
    pub http_listen: SocketAddr,
    pub rpc_url: &'a str,
    pub contract_id: &'a str,
}

/// The commented `config.toml` that `node init` writes.
pub fn template(v: &InitValues<'_>) -> String {
    format!(
        r#"# chainsig node configuration.
# Every value can be overridden by the environment variable named beside it.

# The NEAR account this node answers and votes with (CHAINSIG_ACCOUNT_ID).
account_id = "{account}"
# File, relative to this directory, holding the 64-hex-character key that seals the node's
# secrets at rest. CHAINSIG_STORE_KEY, when set, is the key itself and wins over the file.
store_key_file = "store.key"

[p2p]
# Where this node accepts mutually authenticated TLS connections (CHAINSIG_P2P_LISTEN).
listen = "{p2p}"
# The address peers dial, as registered in the contract (CHAINSIG_P2P_PUBLIC_URL).
public_url = "https://{p2p}"

[http]
# /health, /metrics and /public_data (CHAINSIG_HTTP_LISTEN).
listen = "{http}"

[chain]
# NEAR JSON-RPC endpoint (CHAINSIG_RPC_URL) and the signer contract's account
# (CHAINSIG_CONTRACT_ID).
rpc_url = "{rpc}"
contract_id = "{contract}"
# Independent NEAR RPC endpoints that must agree with the above on every block this node reads
# and on the contract's state, or it acts on nothing (CHAINSIG_CROSS_CHECK_RPC_URLS, comma-
# separated). One endpoint alone can invent a request and collect the signature; use ones run
# by different operators (docs/testnet.md).
# cross_check_rpc_urls = ["https://rpc.testnet.fastnear.com"]

[indexer]
# Where the node follows the chain block by block (CHAINSIG_INDEXER_SOURCE): "rpc" reads
# chain.rpc_url (NEAR JSON-RPC's `block` and `EXPERIMENTAL_changes`, which NEAR's public RPC
# serves); "lake" reads blocks in NEAR Lake's S3 layout from the bucket below, signing with
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY when set.
source = "rpc"
# lake_endpoint = "https://s3.eu-central-1.amazonaws.com"   (CHAINSIG_LAKE_ENDPOINT)
# lake_bucket = "near-lake-data-testnet"                     (CHAINSIG_LAKE_BUCKET)
# lake_region = "eu-central-1"                               (CHAINSIG_LAKE_REGION)
# lake_requester_pays = true                                 (NEAR's own buckets)

[stock]
# Precomputed material this node keeps ready, per domain.
triples = 64
presignatures = 32
nonces = 32
# Precomputations running at once here, own and peers' together: this node starts this divided
# by the network's size. Signing always has room beyond precomputation.
max_concurrent_protocols = 32
"#,
        account = v.account_id,
        p2p = v.p2p_listen,
        http = v.http_listen,
        rpc = v.rpc_url,
        contract = v.contract_id,
    )
}

impl NodeConfig {
    /// Reads `dir/config.toml`, then applies overrides from `env` (a lookup, so tests need not
    /// touch the process environment).
    pub fn load(dir: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let path = dir.join("config.toml");
        let text =
            std::fs::read_to_string(&path).map_err(|e| ConfigError::Read(path.clone(), e))?;
        let mut config: NodeConfig =
            toml::from_str(&text).map_err(|e| ConfigError::Parse(path.clone(), e.to_string()))?;
        config.apply_env(env)?;
        config
            .indexer
            .lake()
            .map_err(|e| ConfigError::Invalid(path.clone(), e))?;
        config
            .chain
            .check_cross_check()
            .map_err(|why| ConfigError::Invalid(path, why))?;
        Ok(config)
    }

    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let addr = |name: &'static str, v: String| {
            v.parse::<SocketAddr>()
                .map_err(|e| ConfigError::Env(name, format!("{v:?} is not host:port ({e})")))
        };
        if let Some(v) = env("CHAINSIG_ACCOUNT_ID") {
            self.account_id = v;
        }
        if let Some(v) = env("CHAINSIG_P2P_LISTEN") {
            self.p2p.listen = addr("CHAINSIG_P2P_LISTEN", v)?;
        }
        if let Some(v) = env("CHAINSIG_P2P_PUBLIC_URL") {
            self.p2p.public_url = v;
        }
        if let Some(v) = env("CHAINSIG_HTTP_LISTEN") {
            self.http.listen = addr("CHAINSIG_HTTP_LISTEN", v)?;
        }
        if let Some(v) = env("CHAINSIG_RPC_URL") {
            self.chain.rpc_url = v;
        }
        if let Some(v) = env("CHAINSIG_CONTRACT_ID") {
            self.chain.contract_id = v;
        }
        if let Some(v) = env("CHAINSIG_CROSS_CHECK_RPC_URLS") {
            self.chain.cross_check_rpc_urls = v
                .split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(v) = env("CHAINSIG_INDEXER_SOURCE") {
            self.indexer.source = v
                .parse()
                .map_err(|e| ConfigError::Env("CHAINSIG_INDEXER_SOURCE", e))?;
        }
        let lake = [
            ("CHAINSIG_LAKE_ENDPOINT", &mut self.indexer.lake_endpoint),
            ("CHAINSIG_LAKE_BUCKET", &mut self.indexer.lake_bucket),
            ("CHAINSIG_LAKE_REGION", &mut self.indexer.lake_region),
        ];
        for (name, field) in lake {
            if let Some(v) = env(name) {
                *field = Some(v);
            }
        }
        Ok(())
    }

    /// The store key: `CHAINSIG_STORE_KEY` when set, else the key file.
    pub fn store_key(
        &self,
        dir: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<StoreKey, ConfigError> {
        if let Some(v) = env("CHAINSIG_STORE_KEY") {
            return StoreKey::from_hex(&v).map_err(|e| ConfigError::Env("CHAINSIG_STORE_KEY", e));
        }
        let path = dir.join(&self.store_key_file);
        crate::identity::check_private(&path).map_err(|e| ConfigError::StoreKey(e.to_string()))?;
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(&path).map_err(|e| ConfigError::Read(path.clone(), e))?,
        );
        StoreKey::from_hex(&text)
            .map_err(|e| ConfigError::StoreKey(format!("{}: {e}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> InitValues<'static> {
        InitValues {
            account_id: "node0.test",
            p2p_listen: "127.0.0.1:4100".parse().unwrap(),
            http_listen: "127.0.0.1:4200".parse().unwrap(),
            rpc_url: "http://127.0.0.1:3030",
            contract_id: "signer.test",
        }
    }

    fn dir_with(config: &str) -> (PathBuf, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        (dir.path().to_owned(), dir)
    }

    #[test]
    fn the_template_parses_to_its_values() {
        let (dir, _c) = dir_with(&template(&values()));
        let c = NodeConfig::load(&dir, |_| None).unwrap();
        assert_eq!(c.account_id, "node0.test");
        assert_eq!(c.p2p.listen.port(), 4100);
        assert_eq!(c.p2p.public_url, "https://127.0.0.1:4100");
        assert_eq!(c.chain.contract_id, "signer.test");
        assert_eq!(c.indexer.source, BlockSourceKind::Rpc);
        assert_eq!(c.stock.presignatures, 32);
    }

    #[test]
    fn a_lake_source_needs_its_bucket() {
        let (dir, _c) = dir_with(&template(&values()));
        let lake = |k: &str| match k {
            "CHAINSIG_INDEXER_SOURCE" => Some("lake".to_owned()),
            "CHAINSIG_LAKE_ENDPOINT" => Some("http://127.0.0.1:9000".to_owned()),
            _ => None,
        };
        let err = NodeConfig::load(&dir, lake).unwrap_err().to_string();
        assert!(err.contains("lake_bucket"), "{err}");
        let full = |k: &str| match k {
            "CHAINSIG_LAKE_BUCKET" => Some("blocks".to_owned()),
            other => lake(other),
        };
        let c = NodeConfig::load(&dir, full).unwrap();
        let settings = c.indexer.lake().unwrap().unwrap();
        assert_eq!(
            (settings.bucket.as_str(), settings.region.as_str()),
            ("blocks", "us-east-1")
        );
        let bad = |k: &str| (k == "CHAINSIG_INDEXER_SOURCE").then(|| "ftp".to_owned());
        let err = NodeConfig::load(&dir, bad).unwrap_err().to_string();
        assert!(err.contains("rpc or lake"), "{err}");
        // A file from before the choice existed reads as the RPC source.
        let old = template(&values());
        let start = old.find("[indexer]").unwrap();
        let end = old.find("[stock]").unwrap();
        let (dir, _c) = dir_with(&format!("{}{}", &old[..start], &old[end..]));
        assert_eq!(
            NodeConfig::load(&dir, |_| None).unwrap().indexer.source,
            BlockSourceKind::Rpc
        );
    }

    #[test]
    fn environment_overrides_the_file() {
        let (dir, _c) = dir_with(&template(&values()));
        let env = |k: &str| match k {
            "CHAINSIG_P2P_LISTEN" => Some("0.0.0.0:5000".to_owned()),
            "CHAINSIG_CONTRACT_ID" => Some("v2.signer.test".to_owned()),
            "CHAINSIG_STORE_KEY" => Some("11".repeat(32)),
            "CHAINSIG_CROSS_CHECK_RPC_URLS" => {
                Some("https://a.example, http://b.example:3030,".into())
            }
            _ => None,
        };
        let c = NodeConfig::load(&dir, env).unwrap();
        assert_eq!(
            c.chain.cross_check_rpc_urls,
            ["https://a.example", "http://b.example:3030"]
        );
        assert_eq!(c.p2p.listen.to_string(), "0.0.0.0:5000");
        assert_eq!(c.chain.contract_id, "v2.signer.test");
        assert_eq!(c.store_key(&dir, env).unwrap().to_hex(), "11".repeat(32));
        let bad = |k: &str| (k == "CHAINSIG_HTTP_LISTEN").then(|| "nowhere".to_owned());
        let err = NodeConfig::load(&dir, bad).unwrap_err().to_string();
        assert!(
            err.contains("CHAINSIG_HTTP_LISTEN") && err.contains("nowhere"),
            "{err}"
        );
    }

    #[test]
    fn bad_files_name_the_problem() {
        let good = template(&values());
        let cases = [
            (
                good.replace("listen = \"127.0.0.1:4100\"", "listen = \"not an address\""),
                "listen",
            ),
            (good.replace("triples = 64", "triples = -1"), "triples"),
            (format!("{good}\nsurprise = 1\n"), "surprise"),
            (
                good.replace("account_id = \"node0.test\"\n", ""),
                "account_id",
            ),
            ("this is not toml".to_owned(), "config.toml"),
            (
                good.replace(
                    "# cross_check_rpc_urls = [\"https://rpc.testnet.fastnear.com\"]",
                    "cross_check_rpc_urls = [\"http://127.0.0.1:3030/\"]",
                ),
                "listed twice",
            ),
            (
                good.replace(
                    "# cross_check_rpc_urls = [\"https://rpc.testnet.fastnear.com\"]",
                    "cross_check_rpc_urls = [\"rpc.example\"]",
                ),
                "cross_check_rpc_urls",
            ),
        ];
        for (text, needle) in cases {
            let (dir, _c) = dir_with(&text);
            let err = NodeConfig::load(&dir, |_| None).unwrap_err().to_string();
            assert!(err.contains(needle), "{needle}: {err}");
        }
        let (dir, _c) = dir_with(&good);
        let err = NodeConfig::load(&dir, |_| None)
            .unwrap()
            .store_key(&dir, |_| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("store.key"), "{err}");
    }
}
