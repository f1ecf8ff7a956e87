//! What a node (or any client) needs from the chain, as one trait: read the contract's state
//! and its pending requests, and submit calls as one account.
//!
//! The in-process [`LocalClient`] implements it over a shared [`LocalChain`]; the devnet and
//! NEAR itself implement it over JSON-RPC. Everything above the trait — the node's contract
//! follower, its signing pipeline — is the same code against either. Requests reach a node
//! through a [`BlockSource`] instead, which [`LocalClient`] implements too.

use async_trait::async_trait;
use contract::views::StateView;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::blocks::{BlockChanges, BlockSource, Heights, SourceError};
use crate::call::Call;
use crate::local::{LocalChain, TxError};

/// Why the chain could not be read or a call did not go through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The contract refused the call; the message is the contract's.
    #[error("the contract refused the call: {0}")]
    Rejected(String),
    /// The chain could not be reached or answered nonsense; the call may be retried.
    #[error("chain unavailable: {0}")]
    Unavailable(String),
    /// Sources that must agree ([`crate::agree`]) do not: nothing is acted on until they do,
    /// and an operator should find out which one is wrong.
    #[error("the chain sources disagree on {0}")]
    Disagree(String),
}

impl From<TxError> for ChainError {
    fn from(e: TxError) -> Self {
        Self::Rejected(e.to_string())
    }
}

/// The chain, as seen by one account.
#[async_trait]
pub trait Chain: Send + Sync {
    /// The account calls are submitted as.
    fn account_id(&self) -> &str;

    /// The contract's `state()` view.
    async fn state(&self) -> Result<StateView, ChainError>;

    /// The contract's `config()` view.
    async fn config(&self) -> Result<contract::Config, ChainError>;

    /// Submits a call from this account (with [`Call::deposit`]) and waits until it has
    /// executed.
    async fn submit(&self, call: Call) -> Result<(), ChainError>;
}

/// A [`LocalChain`] shared by everyone that talks to it.
pub type SharedChain = Arc<Mutex<LocalChain>>;

/// One account's view of a [`SharedChain`].
#[derive(Clone)]
pub struct LocalClient {
    chain: SharedChain,
    account: String,
}

impl LocalClient {
    pub fn new(chain: SharedChain, account: impl Into<String>) -> Self {
        Self {
            chain,
            account: account.into(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LocalChain> {
        // A panic while holding the lock cannot leave the chain half-updated: every call
        // either applies all its effects or fails before changing anything.
        self.chain.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Chain for LocalClient {
    fn account_id(&self) -> &str {
        &self.account
    }

    async fn state(&self) -> Result<StateView, ChainError> {
        Ok(self
            .lock()
            .contract()?
            .state_view()
            .map_err(TxError::from)?)
    }

    async fn config(&self) -> Result<contract::Config, ChainError> {
        Ok(self.lock().contract()?.config_view())
    }

    async fn submit(&self, call: Call) -> Result<(), ChainError> {
        let deposit = call.deposit();
        self.lock().call(&self.account, deposit, call)?;
        Ok(())
    }
}

#[async_trait]
impl BlockSource for LocalClient {
    fn describe(&self) -> String {
        "the in-process chain".into()
    }

    async fn head(&self) -> Result<u64, SourceError> {
        Ok(self.lock().final_height())
    }

    async fn next_heights(&self, after: u64, limit: usize) -> Result<Heights, SourceError> {
        let mut complete = self.lock().subscribe();
        // Waits for a block (a second at most), then lists what is complete.
        let _ =
            tokio::time::timeout(Duration::from_secs(1), complete.wait_for(|h| *h > after)).await;
        let head = self.lock().final_height();
        Ok(Heights::up_to(after, head, limit))
    }

    async fn changes(&self, height: u64) -> Result<BlockChanges, SourceError> {
        Ok(BlockChanges {
            height,
            changes: self.lock().changes(height),
        })
    }
}
