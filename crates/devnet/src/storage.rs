//! Accounts' committed state and how a receipt's storage writes reach it: every receipt
//! writes into an [`Overlay`] over the account's committed storage, committed whole when the
//! receipt succeeds and dropped when it fails; each committed write or removal is logged per
//! block with its cause, for `EXPERIMENTAL_changes`.
//!
//! An account's storage usage is kept as a running count (NEAR's: key + value + 40 bytes per
//! record), so asking for it never walks the storage.
//!
//! Caveats: as on NEAR, a receipt's log entries are one per key it touched, with the key's
//! final value at the end of the receipt (a key written then removed by one receipt logs one
//! deletion, even if it did not exist before), in key order within the receipt; receipts'
//! entries follow each other in execution order (nearcore's RPC lists a block's changes
//! grouped by key instead; both keep every key's own changes in order).

use near_crypto::PublicKey;
use near_primitives::account::AccessKey;
use near_primitives::hash::CryptoHash;
use near_primitives::types::AccountId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Bytes NEAR counts for every storage record besides its key and value.
pub const RECORD_OVERHEAD: u64 = 40;
/// Bytes NEAR counts for an account itself.
pub const ACCOUNT_OVERHEAD: u64 = 100;
/// Bytes NEAR counts for an ed25519 full-access key (33 for the key, 9 for the access key,
/// 40 for the record); [`key_bytes`] counts any key.
pub const ACCESS_KEY_BYTES: u64 = 82;

/// An account occupying at most this many bytes needs no balance for its storage: NEP-448's
/// zero-balance accounts, nearcore's `ZERO_BALANCE_ACCOUNT_STORAGE_LIMIT` (room for the
/// account and a few keys, so that an account can be created without funding it).
pub const ZERO_BALANCE_ACCOUNT_STORAGE_LIMIT: u64 = 770;

/// Blocks whose state changes are kept (in memory and on disk). Nodes replay at most a few
/// hundred blocks after a restart (they resume from the block their own store last saw, and
/// a yield lives 200 blocks), so 10 000 blocks (~17 minutes at 100 ms) leaves a wide margin
/// while bounding what a long benchmark accumulates.
pub const CHANGES_WINDOW: u64 = 10_000;

/// A receipt's uncommitted writes: `None` is a removal.
pub type Overlay = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

fn record_bytes(key: &[u8], value: &[u8]) -> u64 {
    (key.len() + value.len()) as u64 + RECORD_OVERHEAD
}

/// Bytes NEAR counts for an access key: the borsh forms of the public key and the access key,
/// plus the record overhead.
pub fn key_bytes(public_key: &PublicKey, access_key: &AccessKey) -> u64 {
    let len = |v: Result<usize, std::io::Error>| v.unwrap_or_default() as u64;
    len(borsh::object_length(public_key)) + len(borsh::object_length(access_key)) + RECORD_OVERHEAD
}

#[derive(Clone, Debug, Default)]
pub struct Account {
    pub balance: u128,
    /// Access keys: nonce and permission.
    pub keys: BTreeMap<PublicKey, AccessKey>,
    pub code_hash: Option<CryptoHash>,
    storage: BTreeMap<Vec<u8>, Vec<u8>>,
    /// NEAR's count of the storage records' bytes, kept as they change.
    storage_bytes: u64,
}

impl Account {
    /// The committed storage.
    pub fn storage(&self) -> &BTreeMap<Vec<u8>, Vec<u8>> {
        &self.storage
    }

    /// The records' bytes as NEAR counts them (key + value + 40 per record).
    pub fn storage_bytes(&self) -> u64 {
        self.storage_bytes
    }

    /// Bytes the account occupies, as NEAR counts them (100 per account, 40 per record, each
    /// key's borsh bytes, plus the code).
    pub fn storage_usage(&self, code_len: usize) -> u64 {
        storage_usage(code_len, self.storage_bytes, &self.keys)
    }

    /// Writes one record, keeping the count; returns the value it replaced.
    pub fn storage_set(&mut self, key: Vec<u8>, value: Vec<u8>) -> Option<Vec<u8>> {
        self.storage_bytes += record_bytes(&key, &value);
        let old = self.storage.insert(key.clone(), value);
        if let Some(old) = &old {
            self.storage_bytes -= record_bytes(&key, old);
        }
        old
    }

    /// Removes one record, keeping the count; returns its value.
    pub fn storage_remove(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        let old = self.storage.remove(key);
        if let Some(old) = &old {
            self.storage_bytes -= record_bytes(key, old);
        }
        old
    }

    /// What the records' byte count becomes once `overlay` is committed, without committing.
    pub fn storage_bytes_with(&self, overlay: &Overlay) -> u64 {
        let mut bytes = self.storage_bytes;
        for (key, value) in overlay {
            if let Some(old) = self.storage.get(key) {
                bytes -= record_bytes(key, old);
            }
            if let Some(new) = value {
                bytes += record_bytes(key, new);
            }
        }
        bytes
    }

    /// Commits `overlay`, in key order, calling `each` for every write and removal.
    pub fn commit(&mut self, overlay: Overlay, mut each: impl FnMut(&[u8], Option<&[u8]>)) {
        for (key, value) in overlay {
            each(&key, value.as_deref());
            match value {
                Some(value) => {
                    self.storage_set(key, value);
                }
                None => {
                    self.storage_remove(&key);
                }
            }
        }
    }
}

/// Bytes an account with this code, records' bytes and keys occupies, as NEAR counts them.
pub fn storage_usage(
    code_len: usize,
    storage_bytes: u64,
    keys: &BTreeMap<PublicKey, AccessKey>,
) -> u64 {
    let keys: u64 = keys.iter().map(|(k, a)| key_bytes(k, a)).sum();
    ACCOUNT_OVERHEAD + code_len as u64 + storage_bytes + keys
}

/// nearcore's `check_storage_stake` (runtime/runtime/src/verifier.rs): `None` when `balance`
/// covers `storage_usage` bytes at `per_byte` yoctoNEAR each, or when the account is a
/// zero-balance one ([`ZERO_BALANCE_ACCOUNT_STORAGE_LIMIT`]); otherwise the shortfall, what
/// the account lacks (required − balance), which NEAR reports as `LackBalanceForState`'s
/// `amount`. (NEAR counts `amount + locked`; the devnet has no staking, so nothing is locked.)
pub fn storage_stake_shortfall(storage_usage: u64, balance: u128, per_byte: u128) -> Option<u128> {
    // u64::MAX × 10¹⁹ still fits a u128; saturating keeps a bad `per_byte` from panicking.
    let required = per_byte.saturating_mul(u128::from(storage_usage));
    if balance >= required || storage_usage <= ZERO_BALANCE_ACCOUNT_STORAGE_LIMIT {
        None
    } else {
        Some(required - balance)
    }
}

/// One committed storage write (`value: Some`) or removal (`None`), with the receipt that
/// made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    pub account_id: AccountId,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
    pub cause: CryptoHash,
}

/// The state changes of the last [`CHANGES_WINDOW`] blocks, by height.
#[derive(Default)]
pub struct ChangeLog {
    blocks: VecDeque<(u64, Vec<StateChange>)>,
    /// The first height still answered (older ones are pruned).
    first: u64,
}

impl ChangeLog {
    /// Starts the log of a new block at `height`; returns the heights it pruned.
    pub fn start_block(&mut self, height: u64) -> Vec<u64> {
        self.blocks.push_back((height, vec![]));
        let first = height.saturating_sub(CHANGES_WINDOW - 1).max(1);
        let mut pruned = vec![];
        while self.blocks.front().is_some_and(|(h, _)| *h < first) {
            if let Some((h, _)) = self.blocks.pop_front() {
                pruned.push(h);
            }
        }
        self.first = self.first.max(first);
        pruned
    }

    /// Appends a change to the newest block.
    pub fn push(&mut self, change: StateChange) {
        if let Some((_, changes)) = self.blocks.back_mut() {
            changes.push(change);
        }
    }

    /// The changes of block `height`, in execution order; `None` when the log does not
    /// cover that height (pruned, or not produced yet).
    pub fn block(&self, height: u64) -> Option<&[StateChange]> {
        if height < self.first {
            return None;
        }
        // Heights are consecutive once the log has started.
        let (front, _) = self.blocks.front()?;
        let index = usize::try_from(height.checked_sub(*front)?).ok()?;
        match self.blocks.get(index) {
            Some((h, changes)) if *h == height => Some(changes),
            _ => None,
        }
    }

    /// The first height the log answers for.
    pub fn first(&self) -> u64 {
        self.first
    }

    /// Rebuilds the log of blocks `first..=head` from the saved blocks with changes.
    pub fn restore(head: u64, saved: BTreeMap<u64, Vec<StateChange>>) -> Self {
        let first = head.saturating_sub(CHANGES_WINDOW - 1).max(1);
        let mut log = Self {
            blocks: VecDeque::new(),
            first,
        };
        let mut saved = saved;
        for h in first..=head {
            log.blocks
                .push_back((h, saved.remove(&h).unwrap_or_default()));
        }
        log
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recount(a: &Account) -> u64 {
        a.storage()
            .iter()
            .map(|(k, v)| (k.len() + v.len()) as u64 + RECORD_OVERHEAD)
            .sum()
    }

    #[test]
    fn storage_usage_equals_a_full_recount_after_writes_and_removes() {
        let mut a = Account::default();
        a.keys.insert(
            PublicKey::empty(near_crypto::KeyType::ED25519),
            AccessKey::full_access(),
        );
        let mut state = 7u64;
        for i in 0..500u64 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let key = vec![(state >> 60) as u8; 1 + (state >> 56) as usize % 5];
            let value = vec![1u8; (state >> 40) as usize % 50];
            if i % 3 == 0 {
                a.storage_remove(&key);
            } else if i % 7 == 0 {
                let mut overlay = Overlay::new();
                overlay.insert(key.clone(), Some(value.clone()));
                overlay.insert(vec![9, 9], None);
                let expected = a.storage_bytes_with(&overlay);
                a.commit(overlay, |_, _| {});
                assert_eq!(a.storage_bytes(), expected);
            } else {
                a.storage_set(key, value);
            }
            assert_eq!(a.storage_bytes(), recount(&a));
        }
        assert!(!a.storage().is_empty());
        assert_eq!(
            a.storage_usage(1000),
            100 + 1000 + recount(&a) + ACCESS_KEY_BYTES
        );
    }

    #[test]
    fn the_storage_stake_shortfall_is_what_the_balance_lacks_beyond_770_bytes() {
        let per_byte = 10u128.pow(19);
        // Zero-balance accounts: up to 770 bytes, nothing is needed.
        assert_eq!(storage_stake_shortfall(770, 0, per_byte), None);
        assert_eq!(storage_stake_shortfall(0, 0, per_byte), None);
        // Beyond, every byte counts, the first 770 too.
        assert_eq!(
            storage_stake_shortfall(771, 0, per_byte),
            Some(771 * per_byte)
        );
        assert_eq!(storage_stake_shortfall(771, 771 * per_byte, per_byte), None);
        assert_eq!(
            storage_stake_shortfall(1000, 990 * per_byte, per_byte),
            Some(10 * per_byte)
        );
        // No overflow, whatever the usage.
        assert_eq!(storage_stake_shortfall(u64::MAX, u128::MAX, per_byte), None);
    }

    #[test]
    fn the_change_log_keeps_a_window_of_blocks() {
        let mut log = ChangeLog::default();
        let change = |h: u64| StateChange {
            account_id: "a.test".parse().unwrap(),
            key: h.to_be_bytes().to_vec(),
            value: None,
            cause: CryptoHash::default(),
        };
        let mut pruned = vec![];
        for h in 2..=CHANGES_WINDOW + 5 {
            pruned.extend(log.start_block(h));
            log.push(change(h));
        }
        assert_eq!(pruned, vec![2, 3, 4, 5]);
        assert_eq!(log.first(), 6);
        assert!(log.block(5).is_none());
        assert_eq!(log.block(6), Some(&[change(6)][..]));
        assert_eq!(
            log.block(CHANGES_WINDOW + 5),
            Some(&[change(CHANGES_WINDOW + 5)][..])
        );
        assert!(log.block(CHANGES_WINDOW + 6).is_none());
        let head = CHANGES_WINDOW + 5;
        let saved = (6..=head).map(|h| (h, vec![change(h)])).collect();
        let restored = ChangeLog::restore(head, saved);
        for h in [5, 6, 100, head, head + 1] {
            assert_eq!(restored.block(h), log.block(h), "height {h}");
        }
    }
}
