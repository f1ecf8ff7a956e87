//! Receipts waiting to run, indexed so that a block looks only at the receipts something
//! happened to: new ones, those whose awaited receipt ran, those whose yield was resumed or
//! timed out.
//!
//! - Every receipt has a creation sequence number; a block runs its ready receipts in that
//!   order, so execution is deterministic and equal to the order they were created in.
//! - Open yields are indexed by data id (receiver, creation height, waiting receipt): a
//!   resume is a lookup, and so is `promise_yield_resume`'s "is this one of mine, still open".
//! - Yields are also indexed by the height they time out at (creation + 200 blocks): block
//!   `h` fails exactly the yields created at `h - 200` or before that are still open.
//! - A receipt waiting for another receipt's result is filed under the receipt it waits for
//!   (the end of the `promise_return` forward chain) and checked again when that one runs.
//!
//! Nothing here persists by itself: the store saves receipts by id (with their sequence
//! number) and [`Pending::restore`] rebuilds the indexes, marking every receipt to be checked
//! at the next block.

use near_crypto::PublicKey;
use near_primitives::hash::CryptoHash;
use near_primitives::types::AccountId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::host::ActionSpec;

/// What a receipt waits for before it runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dep {
    Receipt(CryptoHash),
    Yield {
        data_id: CryptoHash,
        created: u64,
        data: Option<Vec<u8>>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub id: CryptoHash,
    /// Creation order: receipts run in it.
    pub seq: u64,
    pub tx: CryptoHash,
    pub predecessor: AccountId,
    pub signer: AccountId,
    pub signer_key: PublicKey,
    pub receiver: AccountId,
    pub refund_to: AccountId,
    pub actions: Vec<ActionSpec>,
    pub deps: Vec<Dep>,
}

/// A yield still waiting for its resume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenYield {
    pub receiver: AccountId,
    pub created: u64,
    /// The sequence number of the receipt waiting for it.
    pub seq: u64,
}

/// Where one of a receipt's inputs stands.
pub enum Input {
    Ready(Option<Vec<u8>>),
    /// Waits for this receipt to run.
    Receipt(CryptoHash),
    /// Waits for a yield (indexed when the receipt was queued).
    Yield,
}

/// The receipts waiting to run, with their indexes.
#[derive(Default)]
pub struct Pending {
    receipts: BTreeMap<u64, Receipt>,
    seq_of: HashMap<CryptoHash, u64>,
    next_seq: u64,
    yields: HashMap<CryptoHash, OpenYield>,
    /// Data ids by the height their yield times out at (resumed ones are skipped lazily).
    timeouts: BTreeMap<u64, Vec<CryptoHash>>,
    /// Receipts waiting for a receipt's result, by the receipt.
    waiters: HashMap<CryptoHash, BTreeSet<u64>>,
    /// Receipts to check at the next block.
    candidates: BTreeSet<u64>,
    timeout_blocks: u64,
}

impl Pending {
    pub fn new(timeout_blocks: u64) -> Self {
        Self {
            timeout_blocks,
            ..Self::default()
        }
    }

    /// Rebuilds the queue and its indexes from saved receipts; every one is checked at the
    /// next block.
    pub fn restore(timeout_blocks: u64, receipts: impl IntoIterator<Item = Receipt>) -> Self {
        let mut pending = Self::new(timeout_blocks);
        for r in receipts {
            pending.next_seq = pending.next_seq.max(r.seq + 1);
            pending.push(r);
        }
        pending
    }

    pub fn len(&self) -> usize {
        self.receipts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.receipts.is_empty()
    }

    pub fn get(&self, id: &CryptoHash) -> Option<&Receipt> {
        self.receipts.get(self.seq_of.get(id)?)
    }

    /// The receipts in creation order.
    pub fn iter(&self) -> impl Iterator<Item = &Receipt> {
        self.receipts.values()
    }

    /// A new receipt's sequence number.
    pub fn new_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Queues a receipt (its `seq` from [`Pending::new_seq`]); it is checked at the next
    /// block.
    pub fn push(&mut self, r: Receipt) {
        for dep in &r.deps {
            if let Dep::Yield {
                data_id,
                created,
                data: None,
            } = dep
            {
                self.yields.insert(
                    *data_id,
                    OpenYield {
                        receiver: r.receiver.clone(),
                        created: *created,
                        seq: r.seq,
                    },
                );
                self.timeouts
                    .entry(created + self.timeout_blocks)
                    .or_default()
                    .push(*data_id);
            }
        }
        self.candidates.insert(r.seq);
        self.seq_of.insert(r.id, r.seq);
        self.receipts.insert(r.seq, r);
    }

    /// Whether `data_id` is a yield of `account` still open at `height`.
    pub fn is_open_yield(&self, data_id: &CryptoHash, account: &AccountId, height: u64) -> bool {
        self.yields
            .get(data_id)
            .is_some_and(|y| &y.receiver == account && height < y.created + self.timeout_blocks)
    }

    /// Delivers a resume's data to its yield; returns the waiting receipt's id (`None` if the
    /// yield is not open).
    pub fn resume(&mut self, data_id: &CryptoHash, data: Vec<u8>) -> Option<CryptoHash> {
        let y = self.yields.remove(data_id)?;
        let r = self.receipts.get_mut(&y.seq)?;
        for dep in &mut r.deps {
            if let Dep::Yield {
                data_id: id,
                data: slot @ None,
                ..
            } = dep
            {
                if id == data_id {
                    *slot = Some(data);
                    self.candidates.insert(y.seq);
                    return Some(r.id);
                }
            }
        }
        None
    }

    /// A receipt ran: those waiting for it are checked at the next block.
    pub fn ran(&mut self, id: &CryptoHash) {
        if let Some(waiting) = self.waiters.remove(id) {
            self.candidates.extend(waiting);
        }
    }

    /// Takes, in creation order, the receipts ready to run in block `height`, with their
    /// inputs; `input` says where one input stands. Yields timing out at `height` are closed
    /// first.
    pub fn take_ready(
        &mut self,
        height: u64,
        input: impl Fn(&Dep) -> Input,
    ) -> Vec<(Receipt, Vec<Option<Vec<u8>>>)> {
        let due: Vec<u64> = self.timeouts.range(..=height).map(|(h, _)| *h).collect();
        for h in due {
            for data_id in self.timeouts.remove(&h).unwrap_or_default() {
                if let Some(y) = self.yields.remove(&data_id) {
                    self.candidates.insert(y.seq);
                }
            }
        }
        let mut ready = vec![];
        for seq in std::mem::take(&mut self.candidates) {
            let Some(r) = self.receipts.get(&seq) else {
                continue;
            };
            let mut inputs = vec![];
            let mut waiting = false;
            for dep in &r.deps {
                match input(dep) {
                    Input::Ready(v) => inputs.push(v),
                    Input::Receipt(id) => {
                        waiting = true;
                        self.waiters.entry(id).or_default().insert(seq);
                    }
                    // Indexed already: its resume or timeout puts the receipt back.
                    Input::Yield => waiting = true,
                }
            }
            if !waiting {
                if let Some(r) = self.receipts.remove(&seq) {
                    self.seq_of.remove(&r.id);
                    ready.push((r, inputs));
                }
            }
        }
        ready
    }
}
