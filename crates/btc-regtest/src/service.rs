//! The running service: the chain behind a lock, its faucet, a miner that mines a block every
//! interval (with the mempool), and the HTTP API ([`crate::esplora`]) until shutdown.

use bitcoin::{Amount, ScriptBuf, Txid};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::block::COINBASE_MATURITY;
use crate::chain::{Chain, ChainError, Mined};
use crate::faucet::{Faucet, FaucetError};

/// Blocks a new chain starts with, all paying the faucet: ten coinbases are mature at once.
pub const INITIAL_BLOCKS: u32 = COINBASE_MATURITY + 10;
/// The most blocks one `POST /regtest/mine` mines.
pub const MAX_MINE: u32 = 1000;

pub struct Service {
    chain: Mutex<Chain>,
    faucet: Faucet,
}

impl Service {
    pub fn new(chain: Chain) -> Self {
        Self {
            chain: Mutex::new(chain),
            faucet: Faucet::new(),
        }
    }

    /// The chain, locked. A panic while it was held would be a bug; the chain's own state
    /// is only ever changed after the validation engine accepted a block, so it stays usable.
    pub fn chain(&self) -> MutexGuard<'_, Chain> {
        self.chain.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn faucet(&self) -> &Faucet {
        &self.faucet
    }

    /// Mines `blocks` blocks paying `to` (the faucet when `None`).
    pub fn mine(&self, blocks: u32, to: Option<ScriptBuf>) -> Result<Vec<Mined>, ChainError> {
        let to = to.unwrap_or_else(|| self.faucet.script_pubkey());
        let mut chain = self.chain();
        (0..blocks).map(|_| chain.mine(&to)).collect()
    }

    /// A new chain's first blocks, so that the faucet has mature coins.
    pub fn prepare(&self) -> Result<(), ChainError> {
        let height = self.chain().height();
        if height < INITIAL_BLOCKS {
            self.mine(INITIAL_BLOCKS - height, None)?;
        }
        Ok(())
    }

    /// The faucet pays `amount` to `to`.
    pub fn pay(&self, to: ScriptBuf, amount: Amount) -> Result<Txid, FaucetError> {
        self.faucet.pay(&mut self.chain(), to, amount)
    }
}

/// Serves the API on `listener` and mines a block every `block_interval` until `shutdown`
/// resolves; returns once both have stopped (the chain is then no longer in use).
pub async fn run(
    service: Arc<Service>,
    listener: tokio::net::TcpListener,
    block_interval: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let miner = tokio::spawn(mine_every(Arc::clone(&service), block_interval, stopped));
    let app = crate::esplora::router(service);
    let served = httpd::serve(listener, app, httpd::Limits::default(), shutdown).await;
    let _ = stop.send(true);
    let _ = miner.await;
    served
}

/// The miner: one block per interval, each with the mempool, until told to stop (a block
/// being mined is finished first).
async fn mine_every(
    service: Arc<Service>,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => return,
        }
        let service = Arc::clone(&service);
        let mined = tokio::task::spawn_blocking(move || service.mine(1, None)).await;
        match mined {
            Ok(Ok(blocks)) => {
                for b in blocks.iter().filter(|b| !b.confirmed.is_empty()) {
                    tracing::info!(height = b.height, hash = %b.hash, txs = b.confirmed.len(), "mined");
                }
            }
            Ok(Err(e)) => tracing::error!("mining failed: {e}"),
            Err(e) => tracing::error!("the miner stopped: {e}"),
        }
    }
}
