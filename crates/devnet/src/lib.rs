//! The devnet: a local NEAR-like chain that runs the signer contract's wasm — the artifact one
//! deploys on NEAR — under NEAR's own VM, and serves NEAR's JSON-RPC to nodes and clients.
//!
//! - [`vm`]: near-vm-runner (wasmtime) with the protocol's current limits and fees.
//! - [`host`]: the host functions' state side — storage, receipts, yields, resumes.
//! - [`ledger`]: accounts, keys, balances, transactions → receipts → outcomes, blocks with
//!   random seeds, yield timeouts (200 blocks); pure apart from the VM.
//! - [`store`]: the ledger persisted in redb, one transaction per block.
//! - [`rpc`]: `status`, `block`, `chunk`, `gas_price`, `query`, `send_tx`,
//!   `broadcast_tx_commit` / `_async`, `tx`, `EXPERIMENTAL_tx_status`, with NEAR's shapes.
//!
//! [`Devnet`] ties them together: it opens (or creates from a [`Genesis`]) the chain in a data
//! dir, produces blocks at a fixed interval and answers RPC.

pub mod host;
pub mod ledger;
pub mod rpc;
pub mod store;
pub mod vm;

use ledger::Ledger;
use near_crypto::PublicKey;
use near_primitives::types::AccountId;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use store::{Store, StoreError};

/// The chain id the devnet reports (`env::chain_id`, `status`).
pub const CHAIN_ID: &str = "chainsig-devnet";

/// One NEAR, in yoctoNEAR.
pub const NEAR: u128 = 10u128.pow(24);

/// The chain's first state: accounts, their keys and balances, and deployed code.
#[derive(Clone, Debug, Default)]
pub struct Genesis {
    pub accounts: Vec<GenesisAccount>,
    /// The chain's randomness: every block's seed derives from it.
    pub seed: [u8; 32],
}

#[derive(Clone, Debug)]
pub struct GenesisAccount {
    pub account_id: AccountId,
    pub balance: u128,
    pub keys: Vec<PublicKey>,
    pub wasm: Option<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("genesis: {0}")]
    Genesis(String),
}

/// A running chain: the ledger, its store, and its block interval.
pub struct Devnet {
    ledger: Mutex<Ledger>,
    store: Store,
    block_interval: Duration,
}

impl Devnet {
    /// Opens the chain in `dir`, or creates it from `genesis` if `dir` holds none. Returns
    /// whether it was created.
    pub fn open(
        dir: &Path,
        genesis: impl FnOnce() -> Result<Genesis, String>,
        block_interval: Duration,
    ) -> Result<(Arc<Self>, bool), DevnetError> {
        let store = Store::open(dir)?;
        let (mut ledger, created) = match store.load()? {
            Some(ledger) => (ledger, false),
            None => {
                let genesis = genesis().map_err(DevnetError::Genesis)?;
                (Self::genesis(genesis, block_interval)?, true)
            }
        };
        ledger.block_interval_ns = block_interval.as_nanos() as u64;
        ledger.vm = vm::Vm::with_cache_dir(dir).map_err(|e| {
            StoreError::Db(format!(
                "the compiled-contract cache in {}: {e}",
                dir.display()
            ))
        })?;
        store.save(&mut ledger)?;
        let devnet = Arc::new(Self {
            ledger: Mutex::new(ledger),
            store,
            block_interval,
        });
        Ok((devnet, created))
    }

    fn genesis(genesis: Genesis, block_interval: Duration) -> Result<Ledger, DevnetError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let mut ledger = Ledger {
            height: 1,
            seed: genesis.seed,
            genesis_time_ns: now.as_nanos() as u64,
            block_interval_ns: block_interval.as_nanos() as u64,
            ..Ledger::default()
        };
        for a in genesis.accounts {
            let account = ledger::Account {
                balance: a.balance,
                keys: a.keys.into_iter().map(|k| (k, 0)).collect(),
                ..Default::default()
            };
            if ledger
                .accounts
                .insert(a.account_id.clone(), account)
                .is_some()
            {
                return Err(DevnetError::Genesis(format!(
                    "{} is listed twice",
                    a.account_id
                )));
            }
            if let Some(wasm) = a.wasm {
                ledger
                    .deploy(&a.account_id, wasm)
                    .map_err(DevnetError::Genesis)?;
            }
        }
        ledger.dirty.state = true;
        Ok(ledger)
    }

    /// The ledger, locked. A panic while it was held (a bug) leaves it usable: every change
    /// to it is made whole or not at all.
    pub fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn block_interval(&self) -> Duration {
        self.block_interval
    }

    /// Produces one block and saves it.
    pub fn produce_block(&self) -> Result<(), StoreError> {
        let mut ledger = self.ledger();
        ledger.produce_block();
        self.store.save(&mut ledger)
    }

    /// Produces a block every interval until the store fails (the error is returned).
    pub async fn produce_blocks(self: Arc<Self>) -> StoreError {
        let mut tick = tokio::time::interval(self.block_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let devnet = self.clone();
            // Blocks run wasm: keep them off the async workers.
            match tokio::task::spawn_blocking(move || devnet.produce_block()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return e,
                Err(e) => return StoreError::Db(format!("block production stopped: {e}")),
            }
        }
    }
}
