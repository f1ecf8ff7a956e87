//! What the contract reads back from its own storage, as a fuzz target (`fuzz/`) and the
//! replay of its corpus in `cargo test`. The input's records are written under the root key,
//! the pending count, the candidates and request keys of a [`MemStorage`]; the contract is then
//! loaded as the wasm binding loads it and asked every view and a few calls. Corrupt storage
//! must give an error (`CorruptState`, `StateLayout`), never a panic.

use crate::storage::{self, MemStorage, Storage};
use crate::types::{AccountId, Ctx, RequestId};
use crate::{Contract, NativeCrypto};

/// `[key kind: u8][len: u8][bytes]…` records, then the contract loaded and used.
pub fn stored(data: &[u8]) {
    let mut store = MemStorage::default();
    let mut rest = data;
    let mut ids = vec![];
    while let Some((&kind, tail)) = rest.split_first() {
        let Some((&len, tail)) = tail.split_first() else {
            break;
        };
        let (value, tail) = tail.split_at(usize::from(len).min(tail.len()));
        rest = tail;
        let id = RequestId([kind; 32]);
        let key = match kind % 5 {
            0 => storage::STATE_KEY.to_vec(),
            1 => storage::PENDING_KEY.to_vec(),
            2 => storage::CANDIDATES_KEY.to_vec(),
            3 => {
                ids.push(id);
                storage::request_key(&id)
            }
            _ => value.iter().take(8).copied().collect(),
        };
        store.write(&key, value);
    }
    let _ = storage::decode_request(data);
    let Some(root) = store.read(storage::STATE_KEY) else {
        return;
    };
    let Ok(root) = storage::decode_root(&root) else {
        return;
    };
    let mut c = Contract::from_parts(root, store);
    let _ = c.state_view();
    let _ = c.system_load();
    let _ = c.public_key(None);
    let _ = c.pending_count();
    for id in &ids {
        let _ = c.pending_request(id);
        let ctx = Ctx {
            current_account: AccountId("signer.test".into()),
            predecessor: AccountId("n0.test".into()),
            deposit: 0,
            block_height: 10,
            random_seed: [1; 32],
            prepaid_gas: 300_000_000_000_000,
        };
        let response = primitives::response::SignatureResponse::Ed25519 { signature: [0; 64] };
        let _ = c.respond(&ctx, &NativeCrypto, *id, &response);
    }
}

#[cfg(test)]
mod tests {
    /// Every input the fuzzers kept, run again (CI runs this on stable).
    #[test]
    fn the_fuzz_corpus_replays() {
        testkit::replay_fuzz_corpus("contract_stored", super::stored);
    }
}
