//! nearcore's views of the devnet's blocks, chunks and outcomes: what the RPC answers and what
//! the NEAR Lake publisher writes, built the same way for both.

use near_crypto::{KeyType, Signature};
use near_primitives::hash::CryptoHash;
use near_primitives::transaction::SignedTransaction;
use near_primitives::types::{Balance, ShardId};
use near_primitives::views::{
    BlockHeaderView, BlockView, ChunkHeaderView, ExecutionMetadataView, ExecutionOutcomeView,
    ExecutionOutcomeWithIdView, ExecutionStatusView, FinalExecutionOutcomeView,
    FinalExecutionStatus, SignedTransactionView, StateChangeCauseView, StateChangeValueView,
    StateChangeWithCauseView,
};

use crate::history::{Executed, ReceiptResult, TxRecord};
use crate::ledger::{Ledger, TxStatus, GAS_PRICE};
use crate::storage::StateChange;

/// The account named as every block's and chunk's author.
pub const AUTHOR: &str = "devnet";

/// Block `height` as `block` answers it.
pub fn block(ledger: &Ledger, height: u64) -> BlockView {
    BlockView {
        author: AUTHOR.parse().expect("a valid account id"),
        header: header(ledger, height),
        chunks: vec![chunk_header(ledger, height)],
    }
}

pub fn header(ledger: &Ledger, height: u64) -> BlockHeaderView {
    let ts = ledger.block_timestamp_ns(height);
    BlockHeaderView {
        height,
        prev_height: height.checked_sub(1),
        hash: ledger.block_hash(height),
        prev_hash: ledger.block_hash(height.saturating_sub(1)),
        timestamp: ts,
        timestamp_nanosec: ts,
        random_value: CryptoHash(ledger.random_seed(height)),
        chunks_included: 1,
        chunk_mask: vec![true],
        gas_price: Balance::from_yoctonear(GAS_PRICE),
        block_ordinal: Some(height),
        total_supply: Balance::from_yoctonear(ledger.accounts.values().map(|a| a.balance).sum()),
        last_final_block: ledger.block_hash(height),
        last_ds_final_block: ledger.block_hash(height),
        signature: Signature::empty(KeyType::ED25519),
        latest_protocol_version: near_primitives::version::PROTOCOL_VERSION,
        ..BlockHeaderView::default()
    }
}

pub fn chunk_header(ledger: &Ledger, height: u64) -> ChunkHeaderView {
    ChunkHeaderView {
        chunk_hash: near_primitives::hash::hash(ledger.block_hash(height).as_ref()),
        prev_block_hash: ledger.block_hash(height.saturating_sub(1)),
        outcome_root: CryptoHash::default(),
        prev_state_root: CryptoHash::default(),
        encoded_merkle_root: CryptoHash::default(),
        encoded_length: 0,
        height_created: height,
        height_included: height,
        shard_id: ShardId::new(0),
        gas_used: near_primitives::gas::Gas::from_gas(0),
        gas_limit: near_primitives::gas::Gas::from_gas(1_000_000_000_000_000),
        rent_paid: Balance::ZERO,
        validator_reward: Balance::ZERO,
        balance_burnt: Balance::ZERO,
        outgoing_receipts_root: CryptoHash::default(),
        tx_root: CryptoHash::default(),
        validator_proposals: vec![],
        congestion_info: None,
        bandwidth_requests: None,
        proposed_split: None,
        signature: Signature::empty(KeyType::ED25519),
    }
}

/// The transactions included in block `height`, by hash, with their records.
pub fn transactions(
    ledger: &Ledger,
    height: u64,
) -> Vec<(CryptoHash, &TxRecord, SignedTransaction)> {
    ledger
        .history
        .txs_at(height)
        .iter()
        .filter_map(|h| {
            let record = ledger.history.tx(h)?;
            let tx: SignedTransaction = borsh::from_slice(&record.signed).ok()?;
            Some((*h, record, tx))
        })
        .collect()
}

fn metadata() -> ExecutionMetadataView {
    ExecutionMetadataView {
        version: 1,
        gas_profile: None,
        ..Default::default()
    }
}

/// A transaction's own outcome: its conversion into its first receipt, burning its send fees.
pub fn transaction_outcome(
    ledger: &Ledger,
    hash: CryptoHash,
    record: &TxRecord,
    tx: &SignedTransaction,
) -> ExecutionOutcomeWithIdView {
    // Its send fees (an admitted transaction's actions all convert).
    let actions: Vec<_> = tx
        .transaction
        .actions()
        .iter()
        .filter_map(|a| crate::actions::ActionSpec::from_action(a).ok())
        .collect();
    let t = &tx.transaction;
    let gas_burnt = ledger.tx_gas_burnt(t.signer_id(), t.receiver_id(), &actions);
    ExecutionOutcomeWithIdView {
        proof: vec![],
        block_hash: ledger.block_hash(record.included_at),
        id: hash,
        outcome: ExecutionOutcomeView {
            logs: vec![],
            receipt_ids: vec![record.receipt],
            gas_burnt: near_primitives::gas::Gas::from_gas(gas_burnt),
            tokens_burnt: Balance::from_yoctonear(u128::from(gas_burnt) * GAS_PRICE),
            executor_id: tx.transaction.signer_id().clone(),
            status: ExecutionStatusView::SuccessReceiptId(record.receipt),
            metadata: metadata(),
        },
    }
}

/// An executed receipt's outcome.
pub fn receipt_outcome(ledger: &Ledger, e: &Executed) -> ExecutionOutcomeWithIdView {
    ExecutionOutcomeWithIdView {
        proof: vec![],
        block_hash: ledger.block_hash(e.block_height),
        id: e.id,
        outcome: ExecutionOutcomeView {
            logs: e.logs.clone(),
            receipt_ids: e.new_receipts.clone(),
            gas_burnt: near_primitives::gas::Gas::from_gas(e.gas_burnt),
            tokens_burnt: Balance::from_yoctonear(u128::from(e.gas_burnt) * GAS_PRICE),
            executor_id: e.executor.clone(),
            status: match &e.result {
                ReceiptResult::Value(v) => ExecutionStatusView::SuccessValue(v.clone()),
                ReceiptResult::Forward(id) => ExecutionStatusView::SuccessReceiptId(*id),
                ReceiptResult::Failed(err) => ExecutionStatusView::Failure(
                    near_primitives::errors::TxExecutionError::ActionError(
                        crate::history::ReceiptResult::action_error(err),
                    ),
                ),
            },
            metadata: metadata(),
        },
    }
}

/// The transaction's whole outcome as NEAR reports it, once it has one.
pub fn final_outcome(ledger: &Ledger, hash: &CryptoHash) -> Option<FinalExecutionOutcomeView> {
    let record = ledger.history.tx(hash)?;
    let status = match ledger.tx_status(hash)? {
        TxStatus::Pending => return None,
        TxStatus::Value(v) => FinalExecutionStatus::SuccessValue(v),
        TxStatus::Failed(e) => FinalExecutionStatus::Failure(e),
    };
    let tx: SignedTransaction = borsh::from_slice(&record.signed).ok()?;
    let receipts_outcome = record
        .receipts
        .iter()
        .filter_map(|id| ledger.history.executed(id))
        .map(|e| receipt_outcome(ledger, e))
        .collect();
    Some(FinalExecutionOutcomeView {
        status,
        transaction_outcome: transaction_outcome(ledger, *hash, record, &tx),
        transaction: SignedTransactionView::from(tx),
        receipts_outcome,
    })
}

/// A storage write or removal as nearcore reports it: a data update or deletion caused by
/// processing the receipt that committed it.
pub fn state_change(change: &StateChange) -> StateChangeWithCauseView {
    let account_id = change.account_id.clone();
    let key = change.key.clone().into();
    StateChangeWithCauseView {
        cause: StateChangeCauseView::ReceiptProcessing {
            receipt_hash: change.cause,
        },
        value: match &change.value {
            Some(value) => StateChangeValueView::DataUpdate {
                account_id,
                key,
                value: value.clone().into(),
            },
            None => StateChangeValueView::DataDeletion { account_id, key },
        },
    }
}
