//! The devnet: a local NEAR-like chain that runs the signer contract's wasm — the artifact one
//! deploys on NEAR — under NEAR's own VM, and serves NEAR's JSON-RPC to nodes and clients.
//!
//! - [`vm`]: near-vm-runner (wasmtime) with the protocol's current limits and fees.
//! - [`host`]: the host functions' state side — storage through a receipt's write overlay,
//!   receipts, yields, resumes.
//! - [`storage`]: accounts' committed storage with a running usage count, and the per-block
//!   log of storage changes.
//! - [`receipts`]: the waiting receipts, indexed (open yields, yield timeouts, receipts
//!   waiting for receipts), so a block looks only at receipts something happened to.
//! - [`history`]: transactions and executed receipts, by id and by block height.
//! - [`actions`]: the actions the devnet runs (all of NEAR's common ones: create and delete
//!   accounts, deploy, add and delete keys, transfer, function calls) and nearcore's checks
//!   before admission: the protocol's limits and what a function-call key may sign.
//! - [`apply`]: one receipt's actions run against its receiver with nearcore's semantics and
//!   errors, without changing the ledger until it commits.
//! - [`fees`]: NEAR's action fees (send and execution) from its runtime config.
//! - [`ledger`]: accounts, access keys, balances, transactions → receipts → outcomes, gas
//!   prepaid and refunded, blocks with random seeds, yield timeouts (200 blocks); pure apart
//!   from the VM.
//! - [`store`]: the ledger persisted in redb per key, one transaction per block holding only
//!   what changed.
//! - [`rpc`]: `status`, `block`, `chunk`, `gas_price`, `query` (accounts, access keys with
//!   their permissions, code, state, view calls), `send_tx`,
//!   `broadcast_tx_commit` / `_async`, `tx`, `EXPERIMENTAL_tx_status`, `EXPERIMENTAL_changes`
//!   (data changes), `EXPERIMENTAL_changes_in_block`, `EXPERIMENTAL_protocol_config`, with
//!   NEAR's shapes and transaction statuses; [`views`] builds
//!   nearcore's views of blocks and outcomes for it and for [`lake`].
//! - [`lake`]: publishing each block to an S3 bucket in NEAR Lake's layout, for nodes that
//!   follow the chain through NEAR Lake.
//!
//! [`Devnet`] ties them together: it opens (or creates from a [`Genesis`]) the chain in a data
//! dir, produces blocks at a fixed interval, announces each new head on a watch channel
//! ([`Devnet::heads`]) once the block is saved, and answers RPC.

pub mod actions;
pub mod apply;
pub mod fees;
pub mod history;
pub mod host;
pub mod lake;
pub mod ledger;
pub mod receipts;
pub mod rpc;
pub mod storage;
pub mod store;
pub mod views;
pub mod vm;

#[cfg(test)]
mod testing;

use ledger::Ledger;
use near_crypto::PublicKey;
use near_primitives::types::AccountId;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use store::{Store, StoreError};
use tokio::sync::watch;

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

/// A running chain: the ledger, its store, its block interval, and the head's height.
pub struct Devnet {
    ledger: Mutex<Ledger>,
    store: Store,
    block_interval: Duration,
    head: watch::Sender<u64>,
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
        let (head, _) = watch::channel(ledger.height);
        let devnet = Arc::new(Self {
            ledger: Mutex::new(ledger),
            store,
            block_interval,
            head,
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
            let mut account = storage::Account::default();
            account.balance = a.balance;
            account.keys = a
                .keys
                .into_iter()
                .map(|k| (k, near_primitives::account::AccessKey::full_access()))
                .collect();
            ledger.dirty.accounts.insert(a.account_id.clone());
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
            // Every receipt to an account short of its storage stake would fail with
            // `LackBalanceForState`: say so now rather than at the first call.
            let lack = ledger.accounts.get(&a.account_id).and_then(|account| {
                let usage = ledger.storage_usage(account);
                let lack = ledger.storage_stake_shortfall(usage, account.balance)?;
                Some((usage, lack))
            });
            if let Some((usage, lack)) = lack {
                return Err(DevnetError::Genesis(format!(
                    "{} occupies {usage} bytes and needs {lack} yoctoNEAR more for its storage \
                     stake (NEAR's 10^19 yoctoNEAR a byte)",
                    a.account_id
                )));
            }
        }
        ledger.changes.start_block(1);
        ledger.dirty.meta = true;
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

    /// The head's height, announced once each new block is saved.
    pub fn heads(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }

    /// Produces one block, saves it and announces it.
    pub fn produce_block(&self) -> Result<(), StoreError> {
        let height = {
            let mut ledger = self.ledger();
            ledger.produce_block();
            self.store.save(&mut ledger)?;
            ledger.height
        };
        self.head.send_replace(height);
        Ok(())
    }

    /// Waits until block `height` exists, at most `limit`; returns whether it does.
    pub async fn wait_for_height(&self, height: u64, limit: Duration) -> bool {
        let mut heads = self.heads();
        let arrived = tokio::time::timeout(limit, heads.wait_for(|head| *head >= height))
            .await
            .is_ok_and(|r| r.is_ok());
        arrived
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
