//! `chainsig node run --dir D`: the node as a service.
//!
//! Reads `D/config.toml` (with `CHAINSIG_…` overrides), the identity files and the store key,
//! opens the encrypted store, connects to the chain over NEAR JSON-RPC, follows its blocks
//! through the configured source (NEAR RPC or NEAR Lake) — both checked against every
//! `chain.cross_check_rpc_urls` endpoint when there are any — and runs the node with
//! its HTTP endpoints until SIGTERM or Ctrl-C; then it stops every protocol, closes its
//! connections and releases the store before exiting 0. Logs go to stderr (`RUST_LOG` filters,
//! `info` by default) and never contain secrets.

use chain::agree::{AgreeingBlocks, AgreeingChain};
use chain::lake::{self, LakeBlocks, LakeClient, LakeConfig};
use chain::{BlockSource, Chain, ChainError, NearRpc, RpcBlocks};
use node::config::NodeConfig;
use node::identity::{IdentityPaths, NearKey};
use node::service::{Node, NodeParts, Settings};
use node::store::Store;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpListener;
use tracing::info;

use crate::Failure;

pub fn run(dir: &Path) -> Result<(), Failure> {
    let env = |k: &str| std::env::var(k).ok();
    let config = NodeConfig::load(dir, env).map_err(Failure::failed)?;
    let store_key = config.store_key(dir, env).map_err(Failure::failed)?;
    let paths = IdentityPaths::in_dir(dir);
    let (tls_key, _) = NearKey::read_private(&paths.tls_key).map_err(Failure::failed)?;
    let (account_key, _) = NearKey::read_private(&paths.account_key).map_err(Failure::failed)?;
    crate::init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::failed(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(serve(dir, config, store_key, tls_key, account_key))
}

/// How long a source that has no new block waits before asking again (NEAR's blocks come
/// about every second; the devnet answers a request for the next block when it exists).
const SOURCE_IDLE: std::time::Duration = std::time::Duration::from_millis(200);

/// The block source the config names, checked against every cross-check endpoint.
fn block_source(config: &NodeConfig) -> Result<Arc<dyn BlockSource>, chain::SourceError> {
    let contract = &config.chain.contract_id;
    let first = primary_blocks(config)?;
    if config.chain.cross_check_rpc_urls.is_empty() {
        return Ok(first);
    }
    let mut others: Vec<Arc<dyn BlockSource>> = vec![];
    for url in &config.chain.cross_check_rpc_urls {
        others.push(Arc::new(RpcBlocks::new(url, contract, SOURCE_IDLE)?));
    }
    Ok(Arc::new(AgreeingBlocks::new(first, others)))
}

/// The source the indexer section names.
fn primary_blocks(config: &NodeConfig) -> Result<Arc<dyn BlockSource>, chain::SourceError> {
    let contract = &config.chain.contract_id;
    Ok(
        match config
            .indexer
            .lake()
            .map_err(chain::SourceError::Malformed)?
        {
            None => Arc::new(RpcBlocks::new(
                &config.chain.rpc_url,
                contract,
                SOURCE_IDLE,
            )?),
            Some(lake) => {
                let settings = LakeConfig {
                    endpoint: lake.endpoint,
                    bucket: lake.bucket,
                    region: lake.region,
                    requester_pays: lake.requester_pays,
                };
                let client = LakeClient::new(&settings, lake::credentials_from_env())?;
                Arc::new(LakeBlocks::new(client, contract, SOURCE_IDLE)?)
            }
        },
    )
}

/// The chain at `chain.rpc_url`, its views checked against every cross-check endpoint.
fn chain_of(config: &NodeConfig, account_key: &NearKey) -> Result<Arc<dyn Chain>, ChainError> {
    let rpc = |url: &str| -> Result<Arc<dyn Chain>, ChainError> {
        let key = account_key.signing_key().clone();
        let near = NearRpc::new(url, &config.chain.contract_id, &config.account_id, key)?;
        Ok(Arc::new(near))
    };
    let first = rpc(&config.chain.rpc_url)?;
    if config.chain.cross_check_rpc_urls.is_empty() {
        return Ok(first);
    }
    let others = config.chain.cross_check_rpc_urls.iter().map(|u| rpc(u));
    Ok(Arc::new(AgreeingChain::new(
        first,
        others.collect::<Result<_, _>>()?,
    )))
}

async fn serve(
    dir: &Path,
    config: NodeConfig,
    store_key: node::store::StoreKey,
    tls_key: NearKey,
    account_key: NearKey,
) -> Result<(), Failure> {
    let chain =
        chain_of(&config, &account_key).map_err(|e| Failure::failed(format!("chain: {e}")))?;
    let blocks = block_source(&config).map_err(|e| Failure::failed(format!("indexer: {e}")))?;
    let store_path = dir.join(node::store::FILE);
    let store = Store::open(&store_path, &store_key)
        .map_err(|e| Failure::failed(format!("{}: {e}", store_path.display())))?;
    let bind = |what: &'static str, addr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|e| Failure::failed(format!("cannot listen for {what} on {addr}: {e}")))
    };
    let p2p = bind("peers", config.p2p.listen).await?;
    let http = bind("HTTP", config.http.listen).await?;
    let stock = &config.stock;
    let settings = Settings {
        triples: stock.triples as usize,
        presignatures: stock.presignatures as usize,
        nonces: stock.nonces as usize,
        max_concurrent_protocols: stock.max_concurrent_protocols as usize,
        ..Settings::default()
    };
    let node = Node::start(NodeParts {
        account_id: config.account_id.clone(),
        public_url: config.p2p.public_url.clone(),
        tls_key,
        p2p_listener: p2p,
        store,
        chain,
        blocks,
        settings,
    })
    .map_err(Failure::failed)?;
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let http_task = tokio::spawn(node::http::serve(http, node.handle(), async move {
        let _ = http_stopped.await;
    }));
    info!(
        p2p = %config.p2p.listen,
        http = %config.http.listen,
        rpc = %config.chain.rpc_url,
        "node running"
    );
    let signal = shutdown_signal().await;
    info!(signal, "shutting down");
    let _ = stop_http.send(());
    let _ = http_task.await;
    node.shutdown().await;
    Ok(())
}

/// Waits for SIGTERM or SIGINT (Ctrl-C); names the one that came.
pub(crate) async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = tokio::signal::ctrl_c() => "SIGINT",
            };
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    "SIGINT"
}
