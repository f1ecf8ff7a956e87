//! The devnet's data dir: the ledger in one redb file, written after every block.
//!
//! The state proper (height, accounts with their storage, waiting receipts) is one record,
//! rewritten when it changed; history (transactions, executed receipts) is one record per
//! entry, written once as it appears; contract code is kept by hash. Each block's writes are
//! one redb transaction, so a crash leaves the chain at the last whole block: admitted
//! transactions not yet in a written block are lost, as transactions not yet included are on
//! any chain.

use near_primitives::hash::CryptoHash;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;

use crate::ledger::{Executed, Ledger, TxRecord};
use crate::vm::Code;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const CODE: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("code");
const TXS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("txs");
const EXECUTED: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("executed");

const STATE_KEY: &str = "state";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the chain database: {0}")]
    Db(String),
    #[error("the chain database holds a record that does not decode: {0}")]
    Corrupt(String),
}

fn dberr<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Db(e.to_string())
}

pub struct Store {
    db: Database,
}

impl Store {
    /// Opens (or creates) `dir/chain.redb`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(dberr)?;
        let db = Database::create(dir.join("chain.redb")).map_err(dberr)?;
        let w = db.begin_write().map_err(dberr)?;
        {
            w.open_table(META).map_err(dberr)?;
            w.open_table(CODE).map_err(dberr)?;
            w.open_table(TXS).map_err(dberr)?;
            w.open_table(EXECUTED).map_err(dberr)?;
        }
        w.commit().map_err(dberr)?;
        Ok(Self { db })
    }

    /// The saved ledger, if there is one.
    pub fn load(&self) -> Result<Option<Ledger>, StoreError> {
        let r = self.db.begin_read().map_err(dberr)?;
        let meta = r.open_table(META).map_err(dberr)?;
        let Some(state) = meta.get(STATE_KEY).map_err(dberr)? else {
            return Ok(None);
        };
        let mut ledger: Ledger = postcard::from_bytes(state.value())
            .map_err(|e| StoreError::Corrupt(format!("state: {e}")))?;
        for entry in r.open_table(CODE).map_err(dberr)?.iter().map_err(dberr)? {
            let (_, wasm) = entry.map_err(dberr)?;
            let code = Code::new(wasm.value().to_vec());
            ledger.codes.insert(code.hash(), code);
        }
        for entry in r.open_table(TXS).map_err(dberr)?.iter().map_err(dberr)? {
            let (k, v) = entry.map_err(dberr)?;
            let tx: TxRecord = postcard::from_bytes(v.value())
                .map_err(|e| StoreError::Corrupt(format!("transaction: {e}")))?;
            ledger.txs.insert(CryptoHash(*k.value()), tx);
        }
        for entry in r
            .open_table(EXECUTED)
            .map_err(dberr)?
            .iter()
            .map_err(dberr)?
        {
            let (k, v) = entry.map_err(dberr)?;
            let e: Executed = postcard::from_bytes(v.value())
                .map_err(|e| StoreError::Corrupt(format!("receipt outcome: {e}")))?;
            ledger.executed.insert(CryptoHash(*k.value()), e);
        }
        Ok(Some(ledger))
    }

    /// Writes what changed since the last save, in one transaction.
    pub fn save(&self, ledger: &mut Ledger) -> Result<(), StoreError> {
        let dirty = std::mem::take(&mut ledger.dirty);
        if !dirty.state && dirty.txs.is_empty() && dirty.executed.is_empty() {
            return Ok(());
        }
        let w = self.db.begin_write().map_err(dberr)?;
        {
            if dirty.state {
                let state = postcard::to_allocvec(&*ledger).map_err(dberr)?;
                w.open_table(META)
                    .map_err(dberr)?
                    .insert(STATE_KEY, state.as_slice())
                    .map_err(dberr)?;
                let mut code = w.open_table(CODE).map_err(dberr)?;
                for (hash, c) in &ledger.codes {
                    if code.get(&hash.0).map_err(dberr)?.is_none() {
                        code.insert(&hash.0, c.wasm()).map_err(dberr)?;
                    }
                }
            }
            let mut txs = w.open_table(TXS).map_err(dberr)?;
            for hash in &dirty.txs {
                if let Some(tx) = ledger.txs.get(hash) {
                    let bytes = postcard::to_allocvec(tx).map_err(dberr)?;
                    txs.insert(&hash.0, bytes.as_slice()).map_err(dberr)?;
                }
            }
            let mut executed = w.open_table(EXECUTED).map_err(dberr)?;
            for id in &dirty.executed {
                if let Some(e) = ledger.executed.get(id) {
                    let bytes = postcard::to_allocvec(e).map_err(dberr)?;
                    executed.insert(&id.0, bytes.as_slice()).map_err(dberr)?;
                }
            }
        }
        w.commit().map_err(dberr)
    }
}
