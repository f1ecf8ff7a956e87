//! What the indexer keeps across restarts (docs/design.md §6): the last block it applied and
//! the requests pending after it, written together in one transaction per block, so that a
//! restarted node resumes from its cursor with the set it had there.
//!
//! The writes are lazy (redb `Durability::None`): a crash may lose the latest blocks' writes,
//! but never splits a cursor from its set, since every commit carries both; the node then
//! replays from the older cursor, and applying a block twice changes nothing. Requests are
//! public chain data: they are stored as they are, not sealed.

use redb::{Durability, ReadableDatabase, ReadableTable, TableDefinition};

use super::{Store, StoreError, META};

/// Request id → the request as the indexer keeps it (its encoding is the indexer's).
const PENDING: TableDefinition<&[u8], &[u8]> = TableDefinition::new("pending_requests");

/// Meta entry: the last block applied, big-endian. (Nodes before this table kept a bare
/// cursor under `indexer_cursor`, without the set; that entry is ignored, so such a node
/// replays the window once.)
pub const INDEX_CURSOR: &str = "index_cursor";

/// The indexer's saved state: the last block applied and the pending requests' encodings.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct IndexState {
    pub cursor: u64,
    pub pending: Vec<([u8; 32], Vec<u8>)>,
}

impl Store {
    /// The saved state, if a cursor was saved.
    pub fn index_state(&self) -> Result<Option<IndexState>, StoreError> {
        let txn = self.db.begin_read()?;
        let Some(cursor) = txn.open_table(META)?.get(INDEX_CURSOR)? else {
            return Ok(None);
        };
        let cursor = u64::from_be_bytes(
            cursor
                .value()
                .try_into()
                .map_err(|_| StoreError::Malformed("index cursor".into()))?,
        );
        let mut pending = vec![];
        let table = match txn.open_table(PENDING) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => {
                return Ok(Some(IndexState { cursor, pending }))
            }
            Err(e) => return Err(e.into()),
        };
        for entry in table.iter()? {
            let (k, v) = entry?;
            let id = k
                .value()
                .try_into()
                .map_err(|_| StoreError::Malformed("pending request id".into()))?;
            pending.push((id, v.value().to_vec()));
        }
        Ok(Some(IndexState { cursor, pending }))
    }

    /// Moves the cursor to `cursor` with the block's edits to the set: `Some` adds or
    /// replaces a request, `None` removes it.
    pub fn save_index(
        &self,
        cursor: u64,
        edits: &[([u8; 32], Option<Vec<u8>>)],
    ) -> Result<(), StoreError> {
        self.write(Durability::None, |txn| {
            let mut pending = txn.open_table(PENDING)?;
            for (id, value) in edits {
                match value {
                    Some(v) => pending.insert(&id[..], v.as_slice())?,
                    None => pending.remove(&id[..])?,
                };
            }
            txn.open_table(META)?
                .insert(INDEX_CURSOR, &cursor.to_be_bytes()[..])?;
            Ok(())
        })
    }

    /// Forgets the saved state (before replaying the window from scratch).
    pub fn reset_index(&self) -> Result<(), StoreError> {
        self.write(Durability::None, |txn| {
            txn.delete_table(PENDING)?;
            txn.open_table(META)?.remove(INDEX_CURSOR)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreKey;

    #[test]
    fn the_cursor_and_its_set_move_together_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        let key = StoreKey::generate();
        let store = Store::open(&path, &key).unwrap();
        assert_eq!(store.index_state().unwrap(), None);
        store
            .save_index(
                7,
                &[
                    ([1; 32], Some(b"one".to_vec())),
                    ([2; 32], Some(b"two".to_vec())),
                ],
            )
            .unwrap();
        store
            .save_index(9, &[([1; 32], None), ([3; 32], Some(b"three".to_vec()))])
            .unwrap();
        drop(store);
        let store = Store::open(&path, &key).unwrap();
        assert_eq!(
            store.index_state().unwrap(),
            Some(IndexState {
                cursor: 9,
                pending: vec![([2; 32], b"two".to_vec()), ([3; 32], b"three".to_vec())],
            })
        );
        store.reset_index().unwrap();
        assert_eq!(store.index_state().unwrap(), None);
        store.save_index(12, &[]).unwrap();
        assert_eq!(
            store.index_state().unwrap(),
            Some(IndexState {
                cursor: 12,
                pending: vec![]
            })
        );
    }
}
