//! `EXPERIMENTAL_changes` and `EXPERIMENTAL_changes_in_block`, from the ledger's per-block log
//! of storage changes, with nearcore's request and response types.
//!
//! - `EXPERIMENTAL_changes` with `changes_type: "data_changes"` (`block_id` or `finality`,
//!   `account_ids`, `key_prefix_base64`) answers that block's writes (`data_update`) and
//!   removals (`data_deletion`) of those accounts under that prefix, in execution order, each
//!   caused by `receipt_processing` of the receipt that committed it.
//! - `EXPERIMENTAL_changes_in_block` answers which accounts' data changed in the block
//!   (`data_touched`, by account id).
//!
//! Caveats: only contract data is logged: account, access-key and code changes are neither
//! answered (other `changes_type`s get an error saying so) nor listed as touched. Blocks older
//! than the log's window ([`CHANGES_WINDOW`](crate::storage::CHANGES_WINDOW)) answer
//! `UNKNOWN_BLOCK`, as a node without that block would.

use near_jsonrpc_primitives::errors::RpcError;
use near_jsonrpc_primitives::types::changes::{
    RpcStateChangesInBlockByTypeRequest, RpcStateChangesInBlockByTypeResponse,
    RpcStateChangesInBlockRequest, RpcStateChangesInBlockResponse,
};
use near_primitives::types::AccountId;
use near_primitives::views::{StateChangeKindView, StateChangesRequestView};
use serde_json::Value;
use std::collections::BTreeSet;

use super::{height_of_reference, to_json, unknown_block};
use crate::ledger::Ledger;
use crate::views;

/// `EXPERIMENTAL_changes`.
pub(super) fn data_changes(ledger: &Ledger, params: Value) -> Result<Value, RpcError> {
    let request: RpcStateChangesInBlockByTypeRequest =
        serde_json::from_value(params).map_err(|e| RpcError::parse_error(e.to_string()))?;
    let StateChangesRequestView::DataChanges {
        account_ids,
        key_prefix,
    } = request.state_changes_request
    else {
        return Err(RpcError::new_internal_error(
            None,
            "the devnet answers only data_changes (contract storage) in EXPERIMENTAL_changes"
                .into(),
        ));
    };
    let height = height_of_reference(ledger, &request.block_reference)?;
    let log = ledger.changes.block(height).ok_or_else(unknown_block)?;
    let accounts: BTreeSet<&AccountId> = account_ids.iter().collect();
    let changes = log
        .iter()
        .filter(|c| accounts.contains(&c.account_id) && c.key.starts_with(&key_prefix))
        .map(views::state_change)
        .collect();
    Ok(to_json(RpcStateChangesInBlockResponse {
        block_hash: ledger.block_hash(height),
        changes,
    }))
}

/// `EXPERIMENTAL_changes_in_block`.
pub(super) fn changes_in_block(ledger: &Ledger, params: Value) -> Result<Value, RpcError> {
    let request: RpcStateChangesInBlockRequest =
        serde_json::from_value(params).map_err(|e| RpcError::parse_error(e.to_string()))?;
    let height = height_of_reference(ledger, &request.block_reference)?;
    let log = ledger.changes.block(height).ok_or_else(unknown_block)?;
    let touched: BTreeSet<&AccountId> = log.iter().map(|c| &c.account_id).collect();
    Ok(to_json(RpcStateChangesInBlockByTypeResponse {
        block_hash: ledger.block_hash(height),
        changes: touched
            .into_iter()
            .map(|account_id| StateChangeKindView::DataTouched {
                account_id: account_id.clone(),
            })
            .collect(),
    }))
}
