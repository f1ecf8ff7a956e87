//! The devnet's stored bytes, as a fuzz target (`fuzz/`) and the replay of its corpus in
//! `cargo test`: records from the input are written into every table of an in-memory store,
//! which is then loaded as a restart would load it; also the two other parsers of stored
//! bytes, a receipt's stored error and a stored signed transaction. Whatever the bytes, the
//! load answers a ledger or an error, never a panic.

use arbitrary::Unstructured;
use redb::backends::InMemoryBackend;
use std::path::Path;

use super::*;

/// The input, read front to back (arbitrary's reader); past its end every read is zero.
struct Script<'a>(Unstructured<'a>);

impl<'a> Script<'a> {
    fn byte(&mut self) -> u8 {
        self.0.arbitrary().unwrap_or(0)
    }

    /// A chunk of up to 4095 bytes, its length read first.
    fn chunk(&mut self) -> &'a [u8] {
        let n = usize::from(self.byte()) << 4 | usize::from(self.byte() >> 4);
        self.0.bytes(n.min(self.0.len())).unwrap_or_default()
    }
}

fn key32(bytes: &[u8]) -> [u8; 32] {
    std::array::from_fn(|i| bytes.get(i).copied().unwrap_or(0))
}

/// `[mode: u8]…`: mode 0 a receipt's stored error, 1 a stored transaction, else records
/// `[table: u8][key][value]…` loaded as a whole chain.
pub fn stored(data: &[u8]) {
    let mut s = Script(Unstructured::new(data));
    use near_primitives::transaction::SignedTransaction;
    match s.byte() % 4 {
        0 => {
            let text = String::from_utf8_lossy(s.0.take_rest());
            drop(crate::history::ReceiptResult::action_error(&text))
        }
        1 => drop(borsh::from_slice::<SignedTransaction>(s.0.take_rest())),
        _ => load(&mut s),
    }
}

fn load(s: &mut Script<'_>) {
    let db = redb::Builder::new()
        .create_with_backend(InMemoryBackend::new())
        .expect("an in-memory database");
    let store = Store::with_db(db, Path::new("fuzz")).expect("a fresh store opens");
    let w = store.db.begin_write().expect("a write");
    {
        let mut meta = w.open_table(META).expect("meta");
        let mut accounts = w.open_table(ACCOUNTS).expect("accounts");
        let mut storage = w.open_table(STORAGE).expect("storage");
        let mut receipts = w.open_table(RECEIPTS).expect("receipts");
        let mut code = w.open_table(CODE).expect("code");
        let mut txs = w.open_table(TXS).expect("txs");
        let mut executed = w.open_table(EXECUTED).expect("executed");
        let mut changes = w.open_table(CHANGES).expect("changes");
        while !s.0.is_empty() {
            let table = s.byte();
            let key = s.chunk();
            let value = s.chunk();
            let text = String::from_utf8_lossy(key);
            let done = match table % 9 {
                0 => meta.insert(CHAIN_KEY, value).map(drop),
                1 => meta.insert(text.as_ref(), value).map(drop),
                2 => accounts.insert(text.as_ref(), value).map(drop),
                3 => storage.insert(key, value).map(drop),
                4 => receipts.insert(&key32(key), value).map(drop),
                5 => code.insert(&key32(key), value).map(drop),
                6 => txs.insert(&key32(key), value).map(drop),
                7 => executed.insert(&key32(key), value).map(drop),
                _ => changes
                    .insert(u64::from(table) << 8 | u64::from(s.byte()), value)
                    .map(drop),
            };
            done.expect("an in-memory insert");
        }
    }
    w.commit().expect("an in-memory commit");
    let _ = store.check_layout();
    let _ = store.load();
}

#[cfg(test)]
mod tests {
    /// Every input the fuzzers kept, run again (CI runs this on stable).
    #[test]
    fn the_fuzz_corpus_replays() {
        testkit::replay_fuzz_corpus("devnet_stored", super::stored);
    }
}
