//! Following the chain block by block: what a node's indexer reads (docs/design.md,
//! "Indexer").
//!
//! The signer contract keeps each pending request under its own storage key
//! ([`contract::storage`]), so the requests of a block are the contract's storage changes in
//! that block: a write is a new or updated request, a removal one that was answered or timed
//! out. A [`BlockSource`] hands out, for each final block, the contract's storage changes in
//! it ([`BlockChanges`]); the work per block is proportional to what happened in it, never to
//! how many requests wait.
//!
//! Sources: [`RpcBlocks`] reads NEAR JSON-RPC (`block` for the final head, and
//! `EXPERIMENTAL_changes` with `data_changes` for a block's changes: methods NEAR's public RPC
//! serves, so a node follows testnet unchanged); [`crate::lake::LakeBlocks`] reads NEAR Lake's
//! S3 layout; the in-process chain implements the trait for node tests.
//!
//! Caveats: a source reports a key's changes in order, but not necessarily the order of changes
//! across keys (NEAR's RPC groups them by key), so a reader folds each key to its last change.
//! Only final blocks are reported, so nothing reported is ever reverted.

use async_trait::async_trait;
use near_jsonrpc_client::errors::JsonRpcError;
use near_jsonrpc_client::{methods, JsonRpcClient};
use near_primitives::types::{AccountId, BlockId, BlockReference, Finality};
use near_primitives::views::{StateChangeValueView, StateChangesRequestView};
use std::time::Duration;

/// One change to the contract's storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataChange {
    Write { key: Vec<u8>, value: Vec<u8> },
    Remove { key: Vec<u8> },
}

impl DataChange {
    pub fn key(&self) -> &[u8] {
        match self {
            Self::Write { key, .. } | Self::Remove { key } => key,
        }
    }
}

/// The contract's storage changes in one final block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockChanges {
    pub height: u64,
    pub changes: Vec<DataChange>,
}

/// Final heights to read, and the newest final height the source knows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Heights {
    pub heights: Vec<u64>,
    pub head: u64,
}

impl Heights {
    /// The heights after `after` up to `head`, at most `limit` of them.
    pub fn up_to(after: u64, head: u64, limit: usize) -> Self {
        Self {
            heights: (after + 1..=head.min(after.saturating_add(limit as u64))).collect(),
            head,
        }
    }
}

/// Why a source could not answer. Every kind is worth retrying: the indexer waits and asks
/// again, and skips nothing meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The source could not be reached or gave up (connection refused, timeout, server error).
    #[error("the block source is unreachable: {0}")]
    Unreachable(String),
    /// The source answered something that does not parse as what was asked for.
    #[error("the block source answered something malformed: {0}")]
    Malformed(String),
    /// Sources that must agree do not ([`crate::agree`]): nothing is acted on until they do.
    #[error("the block sources disagree: {0}")]
    Disagree(String),
}

impl SourceError {
    /// A short name of the kind, for metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unreachable(_) => "unreachable",
            Self::Malformed(_) => "malformed",
            Self::Disagree(_) => "disagree",
        }
    }
}

/// Where a node learns what happened on the chain.
#[async_trait]
pub trait BlockSource: Send + Sync {
    /// What the source is, for logs and `/health` (no secrets).
    fn describe(&self) -> String;

    /// The newest final block height the source can serve.
    async fn head(&self) -> Result<u64, SourceError>;

    /// Heights of final blocks after `after`, ascending, at most `limit`, and the head they
    /// were read against. When there are none yet it waits a while (about a block) for one,
    /// and may then return an empty list.
    async fn next_heights(&self, after: u64, limit: usize) -> Result<Heights, SourceError>;

    /// The contract's storage changes in the final block at `height` (one that
    /// [`BlockSource::next_heights`] listed).
    async fn changes(&self, height: u64) -> Result<BlockChanges, SourceError>;
}

/// Turns NEAR's state-change views into the contract's data changes.
pub fn data_changes<'a>(
    contract: &'a AccountId,
    views: impl IntoIterator<Item = StateChangeValueView> + 'a,
) -> impl Iterator<Item = DataChange> + 'a {
    views.into_iter().filter_map(move |v| match v {
        StateChangeValueView::DataUpdate {
            account_id,
            key,
            value,
        } if &account_id == contract => Some(DataChange::Write {
            key: key.to_vec(),
            value: value.to_vec(),
        }),
        StateChangeValueView::DataDeletion { account_id, key } if &account_id == contract => {
            Some(DataChange::Remove { key: key.to_vec() })
        }
        _ => None,
    })
}

/// [`BlockSource`] over NEAR JSON-RPC.
pub struct RpcBlocks {
    client: JsonRpcClient,
    url: String,
    contract: AccountId,
    /// How long to wait before asking again when the next block is not there yet. The
    /// devnet holds a request for the next block until it exists, so this rarely applies
    /// there; NEAR's RPC answers at once.
    idle: Duration,
}

fn unreachable_err(e: impl std::fmt::Display) -> SourceError {
    SourceError::Unreachable(e.to_string())
}

/// Whether a `block` error says the block does not exist (never produced at that height, or
/// not yet): nearcore's `UNKNOWN_BLOCK`.
fn no_block(e: &JsonRpcError<methods::block::RpcBlockError>) -> bool {
    matches!(
        e.handler_error(),
        Some(methods::block::RpcBlockError::UnknownBlock { .. })
    )
}

fn no_changes_block(e: &JsonRpcError<methods::EXPERIMENTAL_changes::RpcStateChangesError>) -> bool {
    matches!(
        e.handler_error(),
        Some(methods::EXPERIMENTAL_changes::RpcStateChangesError::UnknownBlock { .. })
    )
}

/// An answer that was received but does not parse is malformed; anything else is the source
/// being unreachable or failing.
fn classify<E: std::fmt::Debug + std::fmt::Display>(e: JsonRpcError<E>) -> SourceError {
    use near_jsonrpc_client::errors::{JsonRpcTransportRecvError as Recv, RpcTransportError};
    match &e {
        JsonRpcError::TransportError(RpcTransportError::RecvError(
            Recv::UnexpectedServerResponse(_)
            | Recv::PayloadParseError(_)
            | Recv::ResponseParseError(_),
        )) => SourceError::Malformed(e.to_string()),
        _ => unreachable_err(e),
    }
}

impl RpcBlocks {
    pub fn new(rpc_url: &str, contract_id: &str, idle: Duration) -> Result<Self, SourceError> {
        let contract = contract_id
            .parse()
            .map_err(|e| SourceError::Malformed(format!("contract id {contract_id:?}: {e}")))?;
        Ok(Self {
            client: JsonRpcClient::connect(rpc_url),
            url: rpc_url.to_owned(),
            contract,
            idle,
        })
    }

    async fn block_exists(&self, height: u64) -> Result<bool, SourceError> {
        let request = methods::block::RpcBlockRequest {
            block_reference: BlockReference::BlockId(BlockId::Height(height)),
        };
        match self.client.call(request).await {
            Ok(_) => Ok(true),
            Err(e) if no_block(&e) => Ok(false),
            Err(e) => Err(classify(e)),
        }
    }
}

#[async_trait]
impl BlockSource for RpcBlocks {
    fn describe(&self) -> String {
        format!("NEAR RPC {}", self.url)
    }

    async fn head(&self) -> Result<u64, SourceError> {
        let request = methods::block::RpcBlockRequest {
            block_reference: BlockReference::Finality(Finality::Final),
        };
        let block = self.client.call(request).await.map_err(classify)?;
        Ok(block.header.height)
    }

    async fn next_heights(&self, after: u64, limit: usize) -> Result<Heights, SourceError> {
        let head = self.head().await?;
        if head > after {
            return Ok(Heights::up_to(after, head, limit));
        }
        // Not there yet: ask for the next block itself (the devnet answers when it is
        // produced), then look at the final head again.
        if !self.block_exists(after + 1).await? {
            tokio::time::sleep(self.idle).await;
        }
        Ok(Heights::up_to(after, self.head().await?, limit))
    }

    async fn changes(&self, height: u64) -> Result<BlockChanges, SourceError> {
        let request = methods::EXPERIMENTAL_changes::RpcStateChangesInBlockByTypeRequest {
            block_reference: BlockReference::BlockId(BlockId::Height(height)),
            state_changes_request: StateChangesRequestView::DataChanges {
                account_ids: vec![self.contract.clone()],
                key_prefix: near_primitives::types::StoreKey::from(vec![]),
            },
        };
        match self.client.call(request).await {
            Ok(response) => Ok(BlockChanges {
                height,
                changes: data_changes(
                    &self.contract,
                    response.changes.into_iter().map(|c| c.value),
                )
                .collect(),
            }),
            // A final height without a block: nothing happened there (NEAR skips heights).
            Err(e) if no_changes_block(&e) && !self.block_exists(height).await? => {
                Ok(BlockChanges {
                    height,
                    changes: vec![],
                })
            }
            Err(e) => Err(classify(e)),
        }
    }
}
