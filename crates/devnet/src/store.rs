//! The devnet's data dir: the ledger in one redb file, per key, written after every block.
//!
//! Tables (data layout 3, recorded in `meta` as `layout`):
//! - `meta`: `layout`, and `chain` (height, seed, genesis time, block interval);
//! - `accounts`: account id → balance, access keys (nonce and permission), code hash, storage
//!   byte count;
//! - `storage`: account id + 0x00 + storage key → value (NEAR account ids never hold 0x00);
//! - `receipts`: receipt id → a receipt waiting to run (with its creation sequence number);
//! - `code` (by hash), `txs` (by hash), `executed` (by receipt id): written once each;
//! - `changes`: block height → that block's storage writes, for the last
//!   [`CHANGES_WINDOW`](crate::storage::CHANGES_WINDOW) blocks.
//!
//! Each save writes only the records [`Dirty`](crate::ledger::Dirty) names, in one redb
//! transaction, so a block costs what it changed, and a crash leaves the chain at the last
//! whole block: admitted transactions not yet in a written block are lost, as transactions not
//! yet included are on any chain. Loading reads everything back into memory and rebuilds the
//! indexes (receipts, yields, transactions and receipts by height).
//!
//! Caveats: a data dir written by an older devnet is refused with [`StoreError::Layout`]:
//! there is no migration. Layout 1 kept the whole state in one record; layout 2 kept keys as
//! full-access nonces only, and its transactions were not charged for their gas in advance
//! (their waiting receipts would be refunded gas nobody paid).
//! Code is kept by hash and never removed, even when no account uses it any more.

use near_crypto::PublicKey;
use near_primitives::account::AccessKey;
use near_primitives::hash::CryptoHash;
use near_primitives::types::AccountId;
use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition, TableError, WriteTransaction,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::history::{Executed, History, TxRecord};
use crate::ledger::{Dirty, Ledger};
use crate::receipts::{Pending, Receipt};
use crate::storage::{Account, ChangeLog, StateChange, CHANGES_WINDOW};
use crate::vm::Code;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");
const STORAGE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("storage");
const RECEIPTS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("receipts");
const CODE: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("code");
const TXS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("txs");
const EXECUTED: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("executed");
const CHANGES: TableDefinition<u64, &[u8]> = TableDefinition::new("changes");

/// The data layout this devnet reads and writes.
pub const LAYOUT: u32 = 3;
const LAYOUT_KEY: &str = "layout";
const CHAIN_KEY: &str = "chain";
/// The single record of the first layout.
const OLD_STATE_KEY: &str = "state";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the chain database: {0}")]
    Db(String),
    #[error("the chain database holds a record that does not decode: {0}")]
    Corrupt(String),
    #[error(
        "{} holds a chain written by another devnet version ({found}; this one reads data \
         layout {LAYOUT}): remove that directory to start a new chain, or use another --dir",
        dir.display()
    )]
    Layout { dir: PathBuf, found: String },
}

fn dberr<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Db(e.to_string())
}

fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &str) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_allocvec(value).map_err(dberr)
}

#[derive(Serialize, Deserialize)]
struct ChainMeta {
    height: u64,
    seed: [u8; 32],
    genesis_time_ns: u64,
    block_interval_ns: u64,
}

#[derive(Serialize, Deserialize)]
struct AccountRecord {
    balance: u128,
    keys: Vec<(PublicKey, AccessKey)>,
    code_hash: Option<CryptoHash>,
    storage_bytes: u64,
}

fn storage_key(account: &AccountId, key: &[u8]) -> Vec<u8> {
    [account.as_bytes(), &[0], key].concat()
}

/// How many records a save wrote and removed, by table.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SaveStats {
    pub written: BTreeMap<&'static str, usize>,
    pub removed: BTreeMap<&'static str, usize>,
}

impl SaveStats {
    fn wrote(&mut self, table: &'static str) {
        *self.written.entry(table).or_default() += 1;
    }

    fn removed(&mut self, table: &'static str) {
        *self.removed.entry(table).or_default() += 1;
    }
}

pub struct Store {
    db: Database,
    dir: PathBuf,
}

impl Store {
    /// Opens (or creates) `dir/chain.redb`; refuses one of another data layout.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(dberr)?;
        let db = Database::create(dir.join("chain.redb")).map_err(dberr)?;
        Self::with_db(db, dir)
    }

    /// The store over an open database (`dir` only names it in errors).
    fn with_db(db: Database, dir: &Path) -> Result<Self, StoreError> {
        let store = Self {
            db,
            dir: dir.to_path_buf(),
        };
        let fresh = store.check_layout()?;
        let w = store.db.begin_write().map_err(dberr)?;
        {
            let mut meta = w.open_table(META).map_err(dberr)?;
            if fresh {
                meta.insert(LAYOUT_KEY, LAYOUT.to_le_bytes().as_slice())
                    .map_err(dberr)?;
            }
            w.open_table(ACCOUNTS).map_err(dberr)?;
            w.open_table(STORAGE).map_err(dberr)?;
            w.open_table(RECEIPTS).map_err(dberr)?;
            w.open_table(CODE).map_err(dberr)?;
            w.open_table(TXS).map_err(dberr)?;
            w.open_table(EXECUTED).map_err(dberr)?;
            w.open_table(CHANGES).map_err(dberr)?;
        }
        w.commit().map_err(dberr)?;
        Ok(store)
    }

    /// Whether the database is fresh (no chain yet); an error if it holds another layout.
    fn check_layout(&self) -> Result<bool, StoreError> {
        let r = self.db.begin_read().map_err(dberr)?;
        let meta = match r.open_table(META) {
            Ok(meta) => meta,
            Err(TableError::TableDoesNotExist(_)) => return Ok(true),
            Err(e) => return Err(dberr(e)),
        };
        let layout = |found: String| StoreError::Layout {
            dir: self.dir.clone(),
            found,
        };
        match meta.get(LAYOUT_KEY).map_err(dberr)? {
            Some(v) if v.value() == LAYOUT.to_le_bytes() => Ok(false),
            Some(v) => Err(layout(match <[u8; 4]>::try_from(v.value()) {
                Ok(n) => format!("data layout {}", u32::from_le_bytes(n)),
                Err(_) => "an unreadable data layout".into(),
            })),
            None if meta.get(OLD_STATE_KEY).map_err(dberr)?.is_some() => Err(layout(
                "the first data layout, the whole state in one record".into(),
            )),
            None if meta.is_empty().map_err(dberr)? => Ok(true),
            None => Err(layout("no data layout recorded".into())),
        }
    }

    /// The saved ledger, if there is one.
    pub fn load(&self) -> Result<Option<Ledger>, StoreError> {
        let r = self.db.begin_read().map_err(dberr)?;
        let meta = r.open_table(META).map_err(dberr)?;
        let Some(chain) = meta.get(CHAIN_KEY).map_err(dberr)? else {
            return Ok(None);
        };
        let chain: ChainMeta = decode(chain.value(), "chain metadata")?;
        let mut ledger = Ledger {
            height: chain.height,
            seed: chain.seed,
            genesis_time_ns: chain.genesis_time_ns,
            block_interval_ns: chain.block_interval_ns,
            ..Ledger::default()
        };
        load_accounts(&r, &mut ledger)?;
        for entry in r.open_table(CODE).map_err(dberr)?.iter().map_err(dberr)? {
            let (_, wasm) = entry.map_err(dberr)?;
            let code = Code::new(wasm.value().to_vec());
            ledger.codes.insert(code.hash(), code);
        }
        let mut receipts = vec![];
        for entry in r
            .open_table(RECEIPTS)
            .map_err(dberr)?
            .iter()
            .map_err(dberr)?
        {
            let (_, v) = entry.map_err(dberr)?;
            receipts.push(decode::<Receipt>(v.value(), "waiting receipt")?);
        }
        ledger.pending = Pending::restore(ledger.vm.yield_timeout_blocks(), receipts);
        ledger.history = load_history(&r)?;
        let first = chain.height.saturating_sub(CHANGES_WINDOW - 1);
        let mut changes = BTreeMap::new();
        let table = r.open_table(CHANGES).map_err(dberr)?;
        for entry in table.range(first..=chain.height).map_err(dberr)? {
            let (h, v) = entry.map_err(dberr)?;
            changes.insert(h.value(), decode(v.value(), "state changes")?);
        }
        ledger.changes = ChangeLog::restore(chain.height, changes);
        Ok(Some(ledger))
    }

    /// Writes what changed since the last save, in one transaction.
    pub fn save(&self, ledger: &mut Ledger) -> Result<SaveStats, StoreError> {
        let dirty = std::mem::take(&mut ledger.dirty);
        let mut stats = SaveStats::default();
        let w = self.db.begin_write().map_err(dberr)?;
        if dirty.meta {
            let chain = encode(&ChainMeta {
                height: ledger.height,
                seed: ledger.seed,
                genesis_time_ns: ledger.genesis_time_ns,
                block_interval_ns: ledger.block_interval_ns,
            })?;
            w.open_table(META)
                .map_err(dberr)?
                .insert(CHAIN_KEY, chain.as_slice())
                .map_err(dberr)?;
            stats.wrote("meta");
        }
        save_state(&w, ledger, &dirty, &mut stats)?;
        save_history(&w, ledger, &dirty, &mut stats)?;
        save_changes(&w, ledger, &dirty, &mut stats)?;
        w.commit().map_err(dberr)?;
        Ok(stats)
    }
}

fn load_accounts(r: &ReadTransaction, ledger: &mut Ledger) -> Result<(), StoreError> {
    let mut counts = BTreeMap::new();
    for entry in r
        .open_table(ACCOUNTS)
        .map_err(dberr)?
        .iter()
        .map_err(dberr)?
    {
        let (id, v) = entry.map_err(dberr)?;
        let id: AccountId = id
            .value()
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("account id: {e}")))?;
        let record: AccountRecord = decode(v.value(), "account")?;
        let mut account = Account::default();
        account.balance = record.balance;
        account.keys = record.keys.into_iter().collect();
        account.code_hash = record.code_hash;
        counts.insert(id.clone(), record.storage_bytes);
        ledger.accounts.insert(id, account);
    }
    for entry in r
        .open_table(STORAGE)
        .map_err(dberr)?
        .iter()
        .map_err(dberr)?
    {
        let (k, v) = entry.map_err(dberr)?;
        let k = k.value();
        let account = k.iter().position(|b| *b == 0).and_then(|split| {
            let id: AccountId = std::str::from_utf8(&k[..split]).ok()?.parse().ok()?;
            Some((ledger.accounts.get_mut(&id)?, &k[split + 1..]))
        });
        let Some((account, key)) = account else {
            return Err(StoreError::Corrupt("a storage record of no account".into()));
        };
        account.storage_set(key.to_vec(), v.value().to_vec());
    }
    for (id, bytes) in counts {
        if ledger.accounts[&id].storage_bytes() != bytes {
            return Err(StoreError::Corrupt(format!(
                "{id}'s storage does not add up to its recorded size"
            )));
        }
    }
    Ok(())
}

fn load_history(r: &ReadTransaction) -> Result<History, StoreError> {
    let mut txs = vec![];
    for entry in r.open_table(TXS).map_err(dberr)?.iter().map_err(dberr)? {
        let (k, v) = entry.map_err(dberr)?;
        txs.push((CryptoHash(*k.value()), decode(v.value(), "transaction")?));
    }
    let mut executed = vec![];
    for entry in r
        .open_table(EXECUTED)
        .map_err(dberr)?
        .iter()
        .map_err(dberr)?
    {
        let (_, v) = entry.map_err(dberr)?;
        executed.push(decode::<Executed>(v.value(), "receipt outcome")?);
    }
    Ok(History::restore(txs, executed))
}

/// Accounts, storage records, waiting receipts and code.
fn save_state(
    w: &WriteTransaction,
    ledger: &Ledger,
    dirty: &Dirty,
    stats: &mut SaveStats,
) -> Result<(), StoreError> {
    let mut accounts = w.open_table(ACCOUNTS).map_err(dberr)?;
    for id in &dirty.accounts {
        if let Some(a) = ledger.accounts.get(id) {
            let record = encode(&AccountRecord {
                balance: a.balance,
                keys: a.keys.iter().map(|(k, a)| (k.clone(), a.clone())).collect(),
                code_hash: a.code_hash,
                storage_bytes: a.storage_bytes(),
            })?;
            accounts
                .insert(id.as_str(), record.as_slice())
                .map_err(dberr)?;
            stats.wrote("accounts");
        } else if accounts.remove(id.as_str()).map_err(dberr)?.is_some() {
            // Deleted (its storage records are dirty too, and removed below).
            stats.removed("accounts");
        }
    }
    let mut storage = w.open_table(STORAGE).map_err(dberr)?;
    for (id, key) in &dirty.storage {
        let value = ledger.accounts.get(id).and_then(|a| a.storage().get(key));
        let k = storage_key(id, key);
        match value {
            Some(v) => {
                storage.insert(k.as_slice(), v.as_slice()).map_err(dberr)?;
                stats.wrote("storage");
            }
            None => {
                storage.remove(k.as_slice()).map_err(dberr)?;
                stats.removed("storage");
            }
        }
    }
    let mut receipts = w.open_table(RECEIPTS).map_err(dberr)?;
    for id in &dirty.receipts {
        match ledger.pending.get(id) {
            Some(r) => {
                receipts
                    .insert(&id.0, encode(r)?.as_slice())
                    .map_err(dberr)?;
                stats.wrote("receipts");
            }
            None => {
                if receipts.remove(&id.0).map_err(dberr)?.is_some() {
                    stats.removed("receipts");
                }
            }
        }
    }
    let mut code = w.open_table(CODE).map_err(dberr)?;
    for hash in &dirty.codes {
        if let Some(c) = ledger.codes.get(hash) {
            code.insert(&hash.0, c.wasm()).map_err(dberr)?;
            stats.wrote("code");
        }
    }
    Ok(())
}

/// Transactions and executed receipts.
fn save_history(
    w: &WriteTransaction,
    ledger: &Ledger,
    dirty: &Dirty,
    stats: &mut SaveStats,
) -> Result<(), StoreError> {
    let mut txs = w.open_table(TXS).map_err(dberr)?;
    for hash in &dirty.txs {
        if let Some(tx) = ledger.history.tx(hash) {
            txs.insert(&hash.0, encode::<TxRecord>(tx)?.as_slice())
                .map_err(dberr)?;
            stats.wrote("txs");
        }
    }
    let mut executed = w.open_table(EXECUTED).map_err(dberr)?;
    for id in &dirty.executed {
        if let Some(e) = ledger.history.executed(id) {
            executed
                .insert(&id.0, encode(e)?.as_slice())
                .map_err(dberr)?;
            stats.wrote("executed");
        }
    }
    Ok(())
}

/// Blocks' state changes: new blocks written (when they changed anything), pruned ones
/// deleted.
fn save_changes(
    w: &WriteTransaction,
    ledger: &Ledger,
    dirty: &Dirty,
    stats: &mut SaveStats,
) -> Result<(), StoreError> {
    let mut table = w.open_table(CHANGES).map_err(dberr)?;
    for height in &dirty.changes {
        match ledger.changes.block(*height) {
            Some(changes) if !changes.is_empty() => {
                let bytes = encode::<&[StateChange]>(&changes)?;
                table.insert(*height, bytes.as_slice()).map_err(dberr)?;
                stats.wrote("changes");
            }
            _ => {}
        }
    }
    for height in &dirty.pruned {
        if table.remove(*height).map_err(dberr)?.is_some() {
            stats.removed("changes");
        }
    }
    Ok(())
}

#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
#[cfg(test)]
mod tests;
