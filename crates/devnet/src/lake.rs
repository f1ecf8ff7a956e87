//! Publishing the devnet's blocks to an S3 bucket in NEAR Lake's layout (docs/design.md,
//! "Indexer"): for every block, `<height>/shard_0.json` (an `IndexerShard`: the chunk with its
//! transactions and their outcomes, and the block's state changes) and then
//! `<height>/block.json` (the `BlockView`), the types being near-indexer-primitives'. Nodes
//! configured with `source = "lake"` follow the chain from there.
//!
//! The publisher follows the chain's head in order and never skips a block: a failed upload is
//! logged and retried with backoff until the bucket takes it. It starts at the newest block
//! already in the bucket, published again in case it was cut short (or, in a fresh bucket, at
//! the oldest block whose changes the chain still keeps), so a restart resumes where it was.
//!
//! Caveats: `receipt_execution_outcomes` is empty and the chunk lists no receipts (the ledger
//! keeps receipts' outcomes but not their bodies, which NEAR Lake's receipt views need); state
//! changes are the contract data's only (as the devnet's `EXPERIMENTAL_changes`).

use chain::lake::LakeClient;
use near_indexer_primitives::{
    IndexerChunkView, IndexerExecutionOutcomeWithOptionalReceipt, IndexerShard,
    IndexerTransactionWithOutcome, StreamerMessage,
};
use near_primitives::types::ShardId;
use near_primitives::views::SignedTransactionView;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

use crate::ledger::Ledger;
use crate::storage::CHANGES_WINDOW;
use crate::views::{self, AUTHOR};
use crate::Devnet;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Block `height` as NEAR Lake stores it; `None` if the chain no longer has its changes.
pub fn streamer_message(ledger: &Ledger, height: u64) -> Option<StreamerMessage> {
    if height == 0 || height > ledger.height {
        return None;
    }
    let changes = ledger.changes.block(height)?;
    let transactions = views::transactions(ledger, height)
        .into_iter()
        .map(|(hash, record, tx)| IndexerTransactionWithOutcome {
            outcome: IndexerExecutionOutcomeWithOptionalReceipt {
                execution_outcome: views::transaction_outcome(ledger, hash, record, &tx),
                receipt: None,
            },
            transaction: SignedTransactionView::from(tx),
        })
        .collect();
    let author: near_primitives::types::AccountId = AUTHOR.parse().expect("a valid account id");
    Some(StreamerMessage {
        block: views::block(ledger, height),
        shards: vec![IndexerShard {
            shard_id: ShardId::new(0),
            chunk: Some(IndexerChunkView {
                author,
                header: views::chunk_header(ledger, height),
                transactions,
                receipts: vec![],
                local_receipts: vec![],
                instant_receipts: vec![],
            }),
            receipt_execution_outcomes: vec![],
            state_changes: changes.iter().map(views::state_change).collect(),
        }],
    })
}

/// Uploads one block's objects, shards first, so that a reader who sees `block.json` finds
/// its shards.
async fn upload(client: &LakeClient, height: u64, message: &StreamerMessage) -> Result<(), String> {
    fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
        serde_json::to_vec(v).expect("views serialize")
    }
    for shard in &message.shards {
        let key = chain::lake::shard_key(height, shard.shard_id.into());
        client
            .put(&key, json(shard))
            .await
            .map_err(|e| e.to_string())?;
    }
    client
        .put(&chain::lake::block_key(height), json(&message.block))
        .await
        .map_err(|e| e.to_string())
}

/// The newest block already in the bucket at or after `from`, if any.
async fn newest_published(client: &LakeClient, from: u64) -> Result<Option<u64>, String> {
    let mut newest = None;
    let mut after = from;
    loop {
        let heights = client
            .heights_after(after, 1000)
            .await
            .map_err(|e| e.to_string())?;
        match heights.last() {
            Some(last) => {
                newest = Some(*last);
                after = *last;
            }
            None => return Ok(newest),
        }
    }
}

/// Publishes every block from where the bucket ends, forever (until the task is dropped).
pub async fn publish(devnet: Arc<Devnet>, client: LakeClient) {
    let mut heads = devnet.heads();
    let mut backoff = FIRST_BACKOFF;
    let floor = {
        let ledger = devnet.ledger();
        ledger
            .height
            .saturating_sub(CHANGES_WINDOW)
            .max(ledger.changes.first())
    };
    let mut last = loop {
        match newest_published(&client, floor.saturating_sub(1)).await {
            // The newest height listed is published again: a stop between its shard and its
            // `block.json` would otherwise leave it half there for good (uploads overwrite).
            Ok(newest) => break newest.map_or(floor.saturating_sub(1), |h| h.saturating_sub(1)),
            Err(e) => {
                warn!(lake = client.describe(), error = %e, "cannot list the lake; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    };
    info!(
        lake = client.describe(),
        after = last,
        "publishing blocks to NEAR Lake"
    );
    loop {
        let next = last + 1;
        let message = {
            let ledger = devnet.ledger();
            if next > ledger.height {
                None
            } else {
                Some(streamer_message(&ledger, next))
            }
        };
        match message {
            None => {
                if heads.changed().await.is_err() {
                    return;
                }
            }
            // Its changes are gone: the publisher fell a whole window behind. Skipping is the
            // only way on; say so.
            Some(None) => {
                warn!(
                    height = next,
                    "block no longer kept; not published to the lake"
                );
                last = next;
            }
            Some(Some(message)) => match upload(&client, next, &message).await {
                Ok(()) => {
                    last = next;
                    backoff = FIRST_BACKOFF;
                }
                Err(e) => {
                    warn!(height = next, error = %e, "cannot publish a block to the lake; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{admit, ledger, ALICE, CONTRACT};
    use near_primitives::views::{StateChangeCauseView, StateChangeValueView};

    #[test]
    fn a_block_becomes_near_lakes_objects_with_its_transactions_and_changes() {
        let mut l = ledger();
        let (tx, receipt) = admit(&mut l, ALICE, &[("put", b"k1"), ("del", b"k0")]);
        l.produce_block();
        let message = streamer_message(&l, l.height).expect("a block with changes");
        // What NEAR Lake's readers parse.
        let block: near_primitives::views::BlockView =
            serde_json::from_slice(&serde_json::to_vec(&message.block).unwrap()).unwrap();
        assert_eq!(block.header.height, l.height);
        let shard: IndexerShard =
            serde_json::from_slice(&serde_json::to_vec(&message.shards[0]).unwrap()).unwrap();
        let chunk = shard.chunk.unwrap();
        assert_eq!(chunk.header.height_included, l.height);
        let included: Vec<_> = chunk
            .transactions
            .iter()
            .map(|t| t.transaction.hash)
            .collect();
        assert_eq!(
            included,
            [tx],
            "the transaction, in the block that included it"
        );
        assert!(matches!(
            chunk.transactions[0].outcome.execution_outcome.outcome.status,
            near_primitives::views::ExecutionStatusView::SuccessReceiptId(r) if r == receipt
        ));
        let changes: Vec<(Vec<u8>, bool)> = shard
            .state_changes
            .iter()
            .map(|c| match &c.value {
                StateChangeValueView::DataUpdate {
                    account_id, key, ..
                } => {
                    assert_eq!(account_id.as_str(), CONTRACT);
                    (key.to_vec(), true)
                }
                StateChangeValueView::DataDeletion { key, .. } => (key.to_vec(), false),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(changes, [(b"k0".to_vec(), false), (b"k1".to_vec(), true)]);
        assert!(matches!(
            shard.state_changes[0].cause,
            StateChangeCauseView::ReceiptProcessing { receipt_hash } if receipt_hash == receipt
        ));
        assert!(
            streamer_message(&l, l.height + 1).is_none(),
            "not produced yet"
        );
    }
}
