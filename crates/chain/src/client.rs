//! What a node (or any client) needs from the chain, as one trait: read the contract's state
//! and its pending requests, and submit calls as one account.
//!
//! The in-process [`LocalClient`] implements it over a shared [`LocalChain`]; the devnet and
//! NEAR itself implement it over JSON-RPC. Everything above the trait — the node's indexer,
//! its contract follower, its signing pipeline — is the same code against either.
//!
//! The indexer needs no cursor of its own to survive a restart: the contract keeps every
//! request until it is answered or times out, so a node that starts reads the whole pending
//! queue ([`Chain::pending_requests`] from cursor `None`) and misses nothing; an answered
//! request leaves the queue, so nothing is served twice.

use async_trait::async_trait;
use contract::views::{PendingPage, StateView};
use std::sync::{Arc, Mutex};

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

    /// One page of the contract's pending requests, from `cursor` (a `seq`) on.
    async fn pending_requests(
        &self,
        cursor: Option<u64>,
        limit: u32,
    ) -> Result<PendingPage, ChainError>;

    /// Submits a call from this account (no deposit) and waits until it has executed.
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
        Ok(self.lock().contract()?.state_view())
    }

    async fn pending_requests(
        &self,
        cursor: Option<u64>,
        limit: u32,
    ) -> Result<PendingPage, ChainError> {
        Ok(self
            .lock()
            .contract()?
            .pending_requests(cursor, Some(limit)))
    }

    async fn submit(&self, call: Call) -> Result<(), ChainError> {
        self.lock().call(&self.account, 0, call)?;
        Ok(())
    }
}
