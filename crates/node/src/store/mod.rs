//! The node's store: key shares and stockpiled secrets (triples, presignatures, nonces) in an
//! embedded ACID database (redb), each sealed with XChaCha20-Poly1305.
//!
//! Every sealed value binds, as associated data, the table, the record's key and its public
//! tag (epoch, owner, participant set), so a record copied under another key, epoch or set
//! fails to open. A wrong store key, a flipped byte or a truncated value is an error, never
//! garbage.
//!
//! The single-use rule (docs/design.md §7.4) lives here and only here: [`Store::take_item`]
//! removes the item and records its id as consumed **in one committed transaction** before it
//! returns the secret, so no message derived from an item can leave the node before the store
//! has forgotten it — a crash at any point cannot make it usable twice. Consumed ids are kept
//! (32 bytes each) so that an id can never be stocked again; [`Store::prune_consumed`] drops
//! those of past epochs, whose items can no longer be valid anywhere.
//!
//! Stocking and taking items, the writes of every signature, go through a group commit
//! ([`batch`]): what several jobs ask at once is written in one transaction, each answered
//! only once it committed.
//!
//! Every write is durable when it returns but one: stocking a new item
//! ([`Store::put_item`]) is committed without waiting for the disk. A crash may lose such an
//! item, which is safe (an item lost is never used; its peers' copies go unused and are
//! dropped with their epoch), and the next durable commit — the take that would spend it —
//! makes it durable with itself. This halves the disk flushes per signature. Writes run
//! through [`blocking`], so a flush never stalls the async runtime's worker threads, which
//! carry every peer connection and heartbeat.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use primitives::{DomainId, ParticipantId};
use rand_core::{OsRng, RngCore};
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};
use serde::{Deserialize, Serialize};
use std::path::Path;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The store's file in a node's directory.
pub const FILE: &str = "store.redb";

const KEY_SHARES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("key_shares");
const STOCK: TableDefinition<&[u8], &[u8]> = TableDefinition::new("stock");
const CONSUMED: TableDefinition<&[u8], u64> = TableDefinition::new("consumed");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// The meta entry [`Store::probe`] rewrites.
const PROBE: &str = "probe";

const NONCE_LEN: usize = 24;

/// Meta entry: the only epoch whose items may be stocked (set by the last epoch switch).
const STOCK_EPOCH: &str = "stock_epoch";

fn stock_epoch(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Option<u64>, StoreError> {
    Ok(match meta.get(STOCK_EPOCH)? {
        Some(v) => Some(u64::from_be_bytes(
            v.value()
                .try_into()
                .map_err(|_| StoreError::Malformed("stock epoch".into()))?,
        )),
        None => None,
    })
}

/// Meta entry: the threshold of the epoch stock is kept for (set with [`STOCK_EPOCH`]).
const STOCK_THRESHOLD: &str = "stock_threshold";

fn stock_threshold(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Option<usize>, StoreError> {
    Ok(match meta.get(STOCK_THRESHOLD)? {
        Some(v) => Some(u64::from_be_bytes(
            v.value()
                .try_into()
                .map_err(|_| StoreError::Malformed("stock threshold".into()))?,
        ) as usize),
        None => None,
    })
}

/// The epoch stock switches to, as [`Store::switch_stock_epoch`] needs it.
#[derive(Clone, Debug)]
pub struct NextEpoch {
    pub threshold: usize,
    pub participants: std::collections::BTreeSet<ParticipantId>,
}

/// What an epoch switch did to the stock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Switched {
    pub dropped: usize,
    /// Triples kept for the new epoch.
    pub carried: usize,
}

/// Why the store refused.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(String),
    #[error("{0} cannot be opened: wrong store key, or the data was corrupted")]
    Unsealable(String),
    #[error("{0} is malformed in the database")]
    Malformed(String),
    #[error("item {0} was already consumed; it can never be used or stocked again")]
    AlreadyConsumed(String),
    #[error("item {0} is already in stock")]
    AlreadyStocked(String),
    #[error("no item {0} in stock")]
    Missing(String),
    #[error("item of epoch {got} refused: stock is kept for epoch {current} only")]
    StaleEpoch { got: u64, current: u64 },
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.to_string())
            }
        }
    )*};
}
db_err!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

/// Runs `f`, which may wait on the disk, where it does not hold up other tasks: on a
/// multi-threaded tokio runtime the worker hands its other tasks off first
/// (`block_in_place`); anywhere else (no runtime, a current-thread runtime, a blocking-pool
/// thread) it just runs.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// The 32-byte key the store seals with, from the node's config or environment.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct StoreKey([u8; 32]);

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey(<redacted>)")
    }
}

impl StoreKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// From 64 hex characters.
    pub fn from_hex(s: &str) -> Result<Self, String> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(s.trim(), &mut bytes[..])
            .map_err(|e| format!("store key must be 64 hex characters: {e}"))?;
        Ok(Self(*bytes))
    }

    /// As 64 hex characters, for the key file.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        let mut b = [0u8; 32];
        OsRng.fill_bytes(&mut b);
        Self(b)
    }
}

/// What is stockpiled. Serialized (in `/health`) and displayed as `triple`, `presignature`,
/// `nonces`, the names the metrics' `kind` label uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum Kind {
    Triple = 1,
    Presignature = 2,
    Nonces = 3,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Triple => "triple",
            Self::Presignature => "presignature",
            Self::Nonces => "nonces",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The public part of a stocked item: who may use it, made in which epoch by which set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemTag {
    pub epoch: u64,
    /// The one participant that may spend it (its leader).
    pub owner: ParticipantId,
    pub participants: Vec<ParticipantId>,
}

/// A 32-byte item id (the protocol instance id that made it).
pub type ItemId = [u8; 32];

/// The node's database.
pub struct Store {
    db: Database,
    cipher: XChaCha20Poly1305,
    batch: batch::Batcher,
    health: health::Health,
}

fn event_marker(event: &[u8; 32]) -> String {
    format!("key_event/{}", hex::encode(event))
}

fn share_key(domain: DomainId, epoch: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&domain.0.to_be_bytes());
    k[8..].copy_from_slice(&epoch.to_be_bytes());
    k
}

fn stock_key(kind: Kind, domain: DomainId, id: &ItemId) -> [u8; 41] {
    let mut k = [0u8; 41];
    k[0] = kind as u8;
    k[1..9].copy_from_slice(&domain.0.to_be_bytes());
    k[9..].copy_from_slice(id);
    k
}

fn stock_prefix(kind: Kind, domain: DomainId) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = kind as u8;
    k[1..].copy_from_slice(&domain.0.to_be_bytes());
    k
}

impl Store {
    /// Opens (or creates) the store at `path`, sealing with `key`.
    pub fn open(path: &Path, key: &StoreKey) -> Result<Self, StoreError> {
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        for t in [KEY_SHARES, STOCK] {
            txn.open_table(t)?;
        }
        txn.open_table(CONSUMED)?;
        txn.open_table(META)?;
        txn.commit()?;
        Ok(Self {
            db,
            cipher: XChaCha20Poly1305::new((&key.0).into()),
            batch: batch::Batcher::default(),
            health: health::Health::default(),
        })
    }

    /// One write transaction, committed with `durability`, off the async workers.
    fn write<T>(
        &self,
        durability: Durability,
        f: impl FnOnce(&WriteTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        blocking(|| {
            let result = (|| {
                let mut txn = self.begin_write()?;
                txn.set_durability(durability)?;
                let out = f(&txn)?;
                txn.commit()?;
                Ok(out)
            })();
            self.health.record(&result);
            result
        })
    }

    /// A write transaction, unless writes are failing on purpose (fault-injection builds).
    fn begin_write(&self) -> Result<WriteTransaction, StoreError> {
        if let Some(e) = self.health.injected() {
            return Err(e);
        }
        Ok(self.db.begin_write()?)
    }

    /// The database error of the last write, while writes fail (see [`health`]).
    pub fn write_failure(&self) -> Option<String> {
        self.health.failure()
    }

    /// A small durable write, to learn whether the store writes again.
    pub fn probe(&self) -> Result<(), StoreError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.write(Durability::Immediate, |txn| {
            txn.open_table(META)?
                .insert(PROBE, now.to_be_bytes().as_slice())?;
            Ok(())
        })
    }

    /// Makes every write fail as a full disk would, or stops doing so.
    #[cfg(feature = "fault-injection")]
    pub fn inject_write_failures(&self, on: bool) {
        self.health
            .injected
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    fn seal(&self, table: &str, key: &[u8], tag: &[u8], secret: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let aad = [table.as_bytes(), key, tag].concat();
        let sealed = self
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: secret,
                    aad: &aad,
                },
            )
            .expect("XChaCha20-Poly1305 seals any length we store");
        [&nonce[..], &sealed].concat()
    }

    fn open_sealed(
        &self,
        table: &str,
        key: &[u8],
        tag: &[u8],
        value: &[u8],
        what: impl Fn() -> String,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        if value.len() < NONCE_LEN {
            return Err(StoreError::Malformed(what()));
        }
        let (nonce, sealed) = value.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("split at NONCE_LEN");
        let aad = [table.as_bytes(), key, tag].concat();
        self.cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| StoreError::Unsealable(what()))
    }

    /// Stores this node's share of a domain's key for an epoch (replacing any).
    pub fn put_key_share(
        &self,
        domain: DomainId,
        epoch: u64,
        secret: &[u8],
    ) -> Result<(), StoreError> {
        let key = share_key(domain, epoch);
        let value = self.seal("key_shares", &key, &[], secret);
        self.write(Durability::Immediate, |txn| {
            txn.open_table(KEY_SHARES)?.insert(&key[..], &value[..])?;
            Ok(())
        })
    }

    /// Stores the share a key event (key generation or resharing attempt `event`) produced
    /// and records the event as done, in one transaction: after a crash the node knows
    /// whether this very attempt already gave it its share.
    pub fn put_key_share_for_event(
        &self,
        domain: DomainId,
        epoch: u64,
        secret: &[u8],
        event: &[u8; 32],
    ) -> Result<(), StoreError> {
        let key = share_key(domain, epoch);
        let value = self.seal("key_shares", &key, &[], secret);
        let marker = event_marker(event);
        self.write(Durability::Immediate, |txn| {
            txn.open_table(KEY_SHARES)?.insert(&key[..], &value[..])?;
            txn.open_table(META)?.insert(marker.as_str(), &[1u8][..])?;
            Ok(())
        })
    }

    /// Whether [`Store::put_key_share_for_event`] completed for `event`.
    pub fn event_done(&self, event: &[u8; 32]) -> Result<bool, StoreError> {
        Ok(self.meta(&event_marker(event))?.is_some())
    }

    /// This node's share of a domain's key for an epoch.
    pub fn key_share(
        &self,
        domain: DomainId,
        epoch: u64,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        let key = share_key(domain, epoch);
        let txn = self.db.begin_read()?;
        let table = txn.open_table(KEY_SHARES)?;
        let Some(value) = table.get(&key[..])? else {
            return Ok(None);
        };
        let what = || format!("key share of domain {domain} epoch {epoch}");
        self.open_sealed("key_shares", &key, &[], value.value(), what)
            .map(Some)
    }

    /// Deletes every key share of epochs before `epoch` (after a reshare is confirmed, or all
    /// of them when this node has left: pass `u64::MAX`). Returns how many were deleted.
    pub fn delete_key_shares_before(&self, epoch: u64) -> Result<usize, StoreError> {
        self.write(Durability::Immediate, |txn| {
            let mut table = txn.open_table(KEY_SHARES)?;
            let mut removed = 0;
            table.retain(|k, _| {
                let keep = k.len() == 16
                    && u64::from_be_bytes(k[8..].try_into().expect("8 bytes")) >= epoch;
                removed += usize::from(!keep);
                keep
            })?;
            Ok(removed)
        })
    }

    /// Stocks an item. Refused if the id was ever consumed, or is in stock already.
    pub fn put_item(
        &self,
        kind: Kind,
        domain: DomainId,
        id: &ItemId,
        tag: &ItemTag,
        secret: &[u8],
    ) -> Result<(), StoreError> {
        let key = stock_key(kind, domain, id);
        let tag_bytes = postcard::to_stdvec(tag).expect("tags serialize");
        let sealed = self.seal("stock", &key, &tag_bytes, secret);
        let mut value = (tag_bytes.len() as u32).to_be_bytes().to_vec();
        value.extend_from_slice(&tag_bytes);
        value.extend_from_slice(&sealed);
        let op = batch::Op::Put {
            id: *id,
            key,
            epoch: tag.epoch,
            value,
        };
        self.batched(op).map(|_| ())
    }

    /// [`Store::put_item`]'s checks and write, inside a (group) transaction: refused without
    /// writing anything, or written.
    fn put_in(
        txn: &WriteTransaction,
        id: &ItemId,
        key: &[u8],
        epoch: u64,
        value: &[u8],
    ) -> Result<(), StoreError> {
        // An instance that finishes after an epoch switch must not bring its epoch's items
        // back: they were all dropped, and the set that made them may be gone.
        if let Some(current) = stock_epoch(&txn.open_table(META)?)? {
            if epoch != current {
                return Err(StoreError::StaleEpoch {
                    got: epoch,
                    current,
                });
            }
        }
        if txn.open_table(CONSUMED)?.get(&id[..])?.is_some() {
            return Err(StoreError::AlreadyConsumed(hex::encode(id)));
        }
        let mut stock = txn.open_table(STOCK)?;
        if stock.get(key)?.is_some() {
            return Err(StoreError::AlreadyStocked(hex::encode(id)));
        }
        stock.insert(key, value)?;
        Ok(())
    }

    /// A stored item's tag, its bytes and the sealed secret, borrowed from the stored value
    /// (listing the stock copies no secrets).
    pub(crate) fn parts<'v>(
        value: &'v [u8],
        id: &ItemId,
    ) -> Result<(ItemTag, &'v [u8], &'v [u8]), StoreError> {
        let malformed = || StoreError::Malformed(format!("item {}", hex::encode(id)));
        let len = value
            .get(..4)
            .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")) as usize)
            .ok_or_else(malformed)?;
        let tag_bytes = value.get(4..4 + len).ok_or_else(malformed)?;
        let tag: ItemTag = postcard::from_bytes(tag_bytes).map_err(|_| malformed())?;
        Ok((tag, tag_bytes, &value[4 + len..]))
    }

    /// Takes an item out of stock for use: removes it and marks its id consumed in one
    /// committed transaction, and only then returns the secret.
    pub fn take_item(
        &self,
        kind: Kind,
        domain: DomainId,
        id: &ItemId,
    ) -> Result<(ItemTag, Zeroizing<Vec<u8>>), StoreError> {
        let op = batch::Op::Take {
            id: *id,
            key: stock_key(kind, domain, id),
        };
        match self.batched(op)? {
            batch::Done::Taken(tag, secret) => Ok((tag, secret)),
            batch::Done::Stocked => Err(StoreError::Db("a take was answered as a put".into())),
        }
    }

    /// [`Store::take_item`]'s checks and writes, inside a (group) transaction: refused
    /// without writing anything, or the item removed and its id consumed.
    fn take_in(
        &self,
        txn: &WriteTransaction,
        id: &ItemId,
        key: &[u8],
    ) -> Result<(ItemTag, Zeroizing<Vec<u8>>), StoreError> {
        let mut consumed = txn.open_table(CONSUMED)?;
        if consumed.get(&id[..])?.is_some() {
            return Err(StoreError::AlreadyConsumed(hex::encode(id)));
        }
        let mut stock = txn.open_table(STOCK)?;
        let value = stock
            .get(key)?
            .map(|v| v.value().to_vec())
            .ok_or_else(|| StoreError::Missing(hex::encode(id)))?;
        let (tag, tag_bytes, sealed) = Self::parts(&value, id)?;
        let what = || format!("item {}", hex::encode(id));
        let secret = self.open_sealed("stock", key, tag_bytes, sealed, what)?;
        stock.remove(key)?;
        consumed.insert(&id[..], tag.epoch)?;
        Ok((tag, secret))
    }

    /// Ids and tags of the stocked items of a kind and domain (no secrets).
    pub fn items(
        &self,
        kind: Kind,
        domain: DomainId,
    ) -> Result<Vec<(ItemId, ItemTag)>, StoreError> {
        let prefix = stock_prefix(kind, domain);
        let txn = self.db.begin_read()?;
        let table = txn.open_table(STOCK)?;
        let mut out = vec![];
        for entry in table.range(&prefix[..]..)? {
            let (k, v) = entry?;
            let k = k.value();
            if !k.starts_with(&prefix) {
                break;
            }
            let id: ItemId = k[9..]
                .try_into()
                .map_err(|_| StoreError::Malformed("stock key".into()))?;
            out.push((id, Self::parts(v.value(), &id)?.0));
        }
        Ok(out)
    }

    /// The tag of one stocked item, if it is in stock.
    pub fn item_tag(
        &self,
        kind: Kind,
        domain: DomainId,
        id: &ItemId,
    ) -> Result<Option<ItemTag>, StoreError> {
        let key = stock_key(kind, domain, id);
        let txn = self.db.begin_read()?;
        let table = txn.open_table(STOCK)?;
        let Some(value) = table.get(&key[..])? else {
            return Ok(None);
        };
        Ok(Some(Self::parts(value.value(), id)?.0))
    }

    /// Whether an id was ever consumed.
    pub fn is_consumed(&self, id: &ItemId) -> Result<bool, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(CONSUMED)?.get(&id[..])?.is_some())
    }

    /// Switches the stock to `epoch` (at each reshare or refresh: docs/design.md §8.5): from
    /// then on only items of `epoch` are stocked (`u64::MAX`: none, for a node that left).
    /// Items of other epochs are dropped and marked consumed — except the Beaver triples of the
    /// epoch just ended that `next` (the new epoch's participants and threshold) may keep:
    /// those whose every holder is a participant of the new epoch, when the threshold has not
    /// changed. A triple is made without any key share, so a new sharing of the keys does not
    /// touch it, and no one outside the new set holds a share of it; it is re-tagged to `epoch`
    /// (and resealed, the tag being bound to the sealed secret). Presignatures and nonces,
    /// made with the old shares or for the old set, always go.
    pub fn switch_stock_epoch(
        &self,
        epoch: u64,
        next: Option<&NextEpoch>,
    ) -> Result<Switched, StoreError> {
        self.write(Durability::Immediate, |txn| {
            let mut meta = txn.open_table(META)?;
            let carry_from = match (stock_epoch(&meta)?, stock_threshold(&meta)?, next) {
                (Some(from), Some(t), Some(next)) if from != epoch && t == next.threshold => {
                    Some(from)
                }
                _ => None,
            };
            let mut stock = txn.open_table(STOCK)?;
            let (mut stale, mut keep) = (vec![], vec![]);
            for entry in stock.iter()? {
                let (k, v) = entry?;
                let id: ItemId = k.value()[9..]
                    .try_into()
                    .map_err(|_| StoreError::Malformed("stock key".into()))?;
                let (tag, tag_bytes, sealed) = Self::parts(v.value(), &id)?;
                if tag.epoch == epoch {
                    continue;
                }
                let carried = carry_from == Some(tag.epoch)
                    && k.value()[0] == Kind::Triple as u8
                    && next.is_some_and(|n| {
                        tag.participants.iter().all(|p| n.participants.contains(p))
                    });
                if carried {
                    let what = || format!("item {}", hex::encode(id));
                    let secret = self.open_sealed("stock", k.value(), tag_bytes, sealed, what)?;
                    let tag = ItemTag { epoch, ..tag };
                    let tag_bytes = postcard::to_stdvec(&tag).expect("tags serialize");
                    let mut value = (tag_bytes.len() as u32).to_be_bytes().to_vec();
                    value.extend_from_slice(&tag_bytes);
                    value.extend_from_slice(&self.seal("stock", k.value(), &tag_bytes, &secret));
                    keep.push((k.value().to_vec(), value));
                } else {
                    stale.push((k.value().to_vec(), id, tag.epoch));
                }
            }
            let mut consumed = txn.open_table(CONSUMED)?;
            for (k, id, e) in &stale {
                stock.remove(&k[..])?;
                consumed.insert(&id[..], *e)?;
            }
            for (k, value) in &keep {
                stock.insert(&k[..], &value[..])?;
            }
            meta.insert(STOCK_EPOCH, &epoch.to_be_bytes()[..])?;
            match next {
                Some(n) => meta.insert(STOCK_THRESHOLD, &(n.threshold as u64).to_be_bytes()[..])?,
                None => meta.remove(STOCK_THRESHOLD)?,
            };
            Ok(Switched {
                dropped: stale.len(),
                carried: keep.len(),
            })
        })
    }

    /// Forgets consumed ids of epochs before `epoch`.
    pub fn prune_consumed(&self, epoch: u64) -> Result<(), StoreError> {
        self.write(Durability::Immediate, |txn| {
            txn.open_table(CONSUMED)?.retain(|_, e| e >= epoch)?;
            Ok(())
        })
    }

    /// Small non-secret state (e.g. the indexer's cursor).
    pub fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.write(Durability::Immediate, |txn| {
            txn.open_table(META)?.insert(name, value)?;
            Ok(())
        })
    }

    pub fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(META)?.get(name)?.map(|v| v.value().to_vec()))
    }
}

mod batch;
mod health;
mod index;
pub use index::{IndexState, INDEX_CURSOR};

#[cfg(test)]
mod tests;
