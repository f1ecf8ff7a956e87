//! What the chain did: admitted transactions and executed receipts, by id and by block height.
//!
//! Transactions are indexed by the height that includes them (for `chunk`) and executed
//! receipts by the height that ran them, in execution order (for publishing blocks). Both
//! indexes are rebuilt from the records when the chain is loaded. History is never pruned:
//! `tx` must answer for any transaction the chain admitted.

use near_primitives::hash::CryptoHash;
use near_primitives::types::AccountId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// How a receipt ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReceiptResult {
    Value(Vec<u8>),
    /// NEAR's error for the receipt (an `ActionError`), as JSON.
    Failed(String),
    /// The value is another receipt's (`promise_return`).
    Forward(CryptoHash),
}

impl ReceiptResult {
    /// The `ActionError` a `Failed` result holds. The ledger wrote it, but it is read back
    /// from the store, so bytes the ledger did not write (a damaged store) give an error that
    /// says so instead of a panic.
    pub fn action_error(json: &str) -> near_primitives::errors::ActionError {
        use near_primitives::errors::{ActionError, ActionErrorKind, FunctionCallError};
        serde_json::from_str(json).unwrap_or_else(|e| ActionError {
            index: None,
            kind: ActionErrorKind::FunctionCallError(FunctionCallError::ExecutionError(format!(
                "the devnet's stored error is unreadable ({e}): {json}"
            ))),
        })
    }
}

/// What one executed receipt did, for `tx` outcomes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Executed {
    pub id: CryptoHash,
    pub executor: AccountId,
    pub block_height: u64,
    /// Its place in its block's execution order.
    pub index: u32,
    pub logs: Vec<String>,
    pub new_receipts: Vec<CryptoHash>,
    pub gas_burnt: u64,
    pub result: ReceiptResult,
}

/// A transaction the chain admitted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRecord {
    /// The borsh `SignedTransaction`.
    pub signed: Vec<u8>,
    pub included_at: u64,
    pub receipt: CryptoHash,
    /// Every receipt it led to, in creation order.
    pub receipts: Vec<CryptoHash>,
}

/// Transactions and executed receipts, with their indexes by height.
#[derive(Default)]
pub struct History {
    txs: HashMap<CryptoHash, TxRecord>,
    executed: HashMap<CryptoHash, Executed>,
    txs_by_height: BTreeMap<u64, Vec<CryptoHash>>,
    executed_by_height: BTreeMap<u64, Vec<CryptoHash>>,
}

impl History {
    /// Rebuilds history and its indexes from saved records.
    pub fn restore(
        txs: impl IntoIterator<Item = (CryptoHash, TxRecord)>,
        executed: impl IntoIterator<Item = Executed>,
    ) -> Self {
        let mut history = Self::default();
        for (hash, tx) in txs {
            history.add_tx(hash, tx);
        }
        let mut by_height: BTreeMap<u64, Vec<(u32, CryptoHash)>> = BTreeMap::new();
        for e in executed {
            by_height
                .entry(e.block_height)
                .or_default()
                .push((e.index, e.id));
            history.executed.insert(e.id, e);
        }
        for (height, mut ids) in by_height {
            ids.sort();
            history
                .executed_by_height
                .insert(height, ids.into_iter().map(|(_, id)| id).collect());
        }
        history
    }

    pub fn tx(&self, hash: &CryptoHash) -> Option<&TxRecord> {
        self.txs.get(hash)
    }

    pub fn executed(&self, id: &CryptoHash) -> Option<&Executed> {
        self.executed.get(id)
    }

    pub fn add_tx(&mut self, hash: CryptoHash, tx: TxRecord) {
        let hashes = self.txs_by_height.entry(tx.included_at).or_default();
        if let Err(at) = hashes.binary_search(&hash) {
            hashes.insert(at, hash);
        }
        self.txs.insert(hash, tx);
    }

    /// Adds receipts a transaction led to; returns whether the transaction is known.
    pub fn extend_tx(&mut self, hash: &CryptoHash, receipts: &[CryptoHash]) -> bool {
        match self.txs.get_mut(hash) {
            Some(tx) => {
                tx.receipts.extend_from_slice(receipts);
                true
            }
            None => false,
        }
    }

    /// Records an executed receipt, after those already run in its block; its `index` is set
    /// here.
    pub fn add_executed(&mut self, mut e: Executed) {
        let ids = self.executed_by_height.entry(e.block_height).or_default();
        e.index = u32::try_from(ids.len()).unwrap_or(u32::MAX);
        ids.push(e.id);
        self.executed.insert(e.id, e);
    }

    /// The transactions included at `height`, by hash.
    pub fn txs_at(&self, height: u64) -> &[CryptoHash] {
        self.txs_by_height.get(&height).map_or(&[], Vec::as_slice)
    }

    /// The receipts executed at `height`, in execution order.
    pub fn executed_at(&self, height: u64) -> &[CryptoHash] {
        self.executed_by_height
            .get(&height)
            .map_or(&[], Vec::as_slice)
    }

    /// A receipt's result, following forwards: `Err` names the receipt the chain still waits
    /// for (the receipt itself or one it forwards to).
    pub fn resolve(&self, id: &CryptoHash) -> Result<Result<Vec<u8>, String>, CryptoHash> {
        let mut id = *id;
        // A forward chain is acyclic (a receipt forwards to one it created); the bound is
        // defensive.
        for _ in 0..1024 {
            match &self.executed.get(&id).ok_or(id)?.result {
                ReceiptResult::Value(v) => return Ok(Ok(v.clone())),
                ReceiptResult::Failed(e) => return Ok(Err(e.clone())),
                ReceiptResult::Forward(next) => id = *next,
            }
        }
        Err(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use near_primitives::errors::{ActionErrorKind, FunctionCallError};

    #[test]
    fn a_stored_error_reads_back_and_a_damaged_one_says_so() {
        let error = near_primitives::errors::ActionError {
            index: Some(0),
            kind: ActionErrorKind::FunctionCallError(FunctionCallError::ExecutionError(
                "Smart contract panicked: no".into(),
            )),
        };
        let json = serde_json::to_string(&error).unwrap();
        assert_eq!(ReceiptResult::action_error(&json), error);
        let damaged = ReceiptResult::action_error("{\"index\": 0, \"ki");
        let ActionErrorKind::FunctionCallError(FunctionCallError::ExecutionError(why)) =
            damaged.kind
        else {
            panic!("{damaged:?}")
        };
        assert!(why.contains("unreadable"), "{why}");
    }
}
