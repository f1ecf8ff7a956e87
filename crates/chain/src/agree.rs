//! Several independent views of the chain, acted on only where they all agree
//! (docs/design.md §6, "Sources that must agree").
//!
//! A node that follows one RPC endpoint believes whatever that endpoint says: an endpoint that
//! invents or rewrites a `sign` request in a block makes the node sign a payload nobody asked
//! for, and since the node submits its `respond` through the same endpoint, the endpoint's
//! operator gets the signature. When most operators use the same public endpoint, that is
//! enough to get a threshold of signers. [`AgreeingBlocks`] asks every source for each block
//! and hands a block on only when all of them report the same storage changes;
//! [`AgreeingChain`] does the same for the contract's `state()` and `config()` views.
//! Calls are submitted through the first chain alone: the contract checks every call, so a
//! submission needs no second opinion.
//!
//! Caveats: the first block source chooses which heights to read, and the others are asked
//! for the same heights, so the others must be RPC endpoints (which report a skipped height as
//! empty) or sources with the first's height semantics. Agreement means agreement of every
//! source: one source down or lagging stops the node (it reports why, and is unhealthy)
//! rather than letting the others' word suffice. Sources that read the contract at slightly
//! different heights disagree for a moment; the callers retry.

use async_trait::async_trait;
use contract::views::StateView;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::blocks::{BlockChanges, BlockSource, DataChange, Heights, SourceError};
use crate::call::Call;
use crate::client::{Chain, ChainError};

/// A view being read from one chain (what `async_trait` methods return).
type Reading<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, ChainError>> + Send + 'a>>;

/// Each key's last change in a block: what the block did, whatever order a source listed
/// changes to different keys in.
fn outcome(changes: &BlockChanges) -> BTreeMap<&[u8], Option<&[u8]>> {
    changes
        .changes
        .iter()
        .map(|c| match c {
            DataChange::Write { key, value } => (&key[..], Some(&value[..])),
            DataChange::Remove { key } => (&key[..], None),
        })
        .collect()
}

/// Where two blocks' outcomes differ, for the error: how many keys, and the first.
fn difference(a: &BlockChanges, b: &BlockChanges) -> Option<String> {
    let (a, b) = (outcome(a), outcome(b));
    let keys: std::collections::BTreeSet<_> = a.keys().chain(b.keys()).collect();
    let differing: Vec<_> = keys
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .collect();
    let first = differing.first()?;
    let show = |k: &[u8]| hex::encode(&k[..k.len().min(40)]);
    Some(format!(
        "{} storage key(s) differ, first {}",
        differing.len(),
        show(first)
    ))
}

/// Views of the chain that must agree: the first leads (it lists heights, it takes calls),
/// the others check.
pub struct Agreeing<S: ?Sized> {
    first: Arc<S>,
    others: Vec<Arc<S>>,
}

impl<S: ?Sized> Agreeing<S> {
    pub fn new(first: Arc<S>, others: Vec<Arc<S>>) -> Self {
        Self { first, others }
    }
}

/// Block sources that must all report the same changes; the first lists the heights.
pub type AgreeingBlocks = Agreeing<dyn BlockSource>;

/// Chains whose `state()` and `config()` must agree; calls go through the first.
pub type AgreeingChain = Agreeing<dyn Chain>;

#[async_trait]
impl BlockSource for Agreeing<dyn BlockSource> {
    fn describe(&self) -> String {
        let others: Vec<_> = self.others.iter().map(|s| s.describe()).collect();
        if others.is_empty() {
            return self.first.describe();
        }
        format!(
            "{}, checked against {}",
            self.first.describe(),
            others.join(" and ")
        )
    }

    /// The lowest head: a block is read only once every source has it.
    async fn head(&self) -> Result<u64, SourceError> {
        let mut head = self.first.head().await?;
        for s in &self.others {
            head = head.min(s.head().await?);
        }
        Ok(head)
    }

    async fn next_heights(&self, after: u64, limit: usize) -> Result<Heights, SourceError> {
        let mut listed = self.first.next_heights(after, limit).await?;
        for s in &self.others {
            // A source with nothing past `after` yet is waited for as the first was (about a
            // block), not polled in a loop.
            let head = match s.head().await? {
                h if h > after => h,
                _ => s.next_heights(after, limit).await?.head,
            };
            listed.head = listed.head.min(head);
        }
        let head = listed.head;
        listed.heights.retain(|h| *h <= head);
        Ok(listed)
    }

    async fn changes(&self, height: u64) -> Result<BlockChanges, SourceError> {
        let agreed = self.first.changes(height).await?;
        for s in &self.others {
            let other = s.changes(height).await?;
            if let Some(diff) = difference(&agreed, &other) {
                return Err(SourceError::Disagree(format!(
                    "at block {height}, {} and {}: {diff}",
                    self.first.describe(),
                    s.describe()
                )));
            }
        }
        Ok(agreed)
    }
}

impl Agreeing<dyn Chain> {
    async fn agreed<T: PartialEq>(
        &self,
        what: &str,
        read: impl for<'a> Fn(&'a dyn Chain) -> Reading<'a, T>,
    ) -> Result<T, ChainError> {
        let agreed = read(self.first.as_ref()).await?;
        for (i, c) in self.others.iter().enumerate() {
            if read(c.as_ref()).await? != agreed {
                return Err(ChainError::Disagree(format!(
                    "{what}: the first source and source {}",
                    i + 2
                )));
            }
        }
        Ok(agreed)
    }
}

#[async_trait]
impl Chain for Agreeing<dyn Chain> {
    fn account_id(&self) -> &str {
        self.first.account_id()
    }

    async fn state(&self) -> Result<StateView, ChainError> {
        self.agreed("state()", |c| c.state()).await
    }

    async fn config(&self) -> Result<contract::Config, ChainError> {
        self.agreed("config()", |c| c.config()).await
    }

    async fn submit(&self, call: Call) -> Result<(), ChainError> {
        self.first.submit(call).await
    }
}

#[cfg(test)]
mod tests;
