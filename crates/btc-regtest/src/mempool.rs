//! Transactions accepted but not yet mined, in the order they came: a transaction can only
//! follow the ones whose outputs it spends, so that order is also a valid order in a block.
//!
//! The checks a transaction passes to get here are [`crate::chain::Chain::submit`]'s; this is
//! only the bookkeeping (what is spent, what is still unspent, what conflicts).

use bitcoin::{Amount, OutPoint, ScriptBuf, Transaction, TxOut, Txid};
use std::collections::{HashMap, HashSet};

/// An accepted transaction with what it spends and pays in fees.
#[derive(Clone, Debug)]
pub struct Entry {
    pub tx: Transaction,
    pub txid: Txid,
    pub prevouts: Vec<TxOut>,
    pub fee: Amount,
}

impl Entry {
    pub fn vsize(&self) -> u64 {
        self.tx.vsize() as u64
    }
}

#[derive(Default)]
pub struct Mempool {
    entries: Vec<Entry>,
    /// Every outpoint an entry spends, and which entry.
    spent: HashMap<OutPoint, Txid>,
}

impl Mempool {
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, txid: &Txid) -> Option<&Entry> {
        self.entries.iter().find(|e| e.txid == *txid)
    }

    /// The output `outpoint` names if an entry created it.
    pub fn output(&self, outpoint: &OutPoint) -> Option<&TxOut> {
        self.get(&outpoint.txid)
            .and_then(|e| e.tx.output.get(outpoint.vout as usize))
    }

    /// The entry that spends `outpoint`, if any.
    pub fn spender(&self, outpoint: &OutPoint) -> Option<Txid> {
        self.spent.get(outpoint).copied()
    }

    pub fn add(&mut self, entry: Entry) {
        for input in &entry.tx.input {
            self.spent.insert(input.previous_output, entry.txid);
        }
        self.entries.push(entry);
    }

    /// Keeps the entries `keep` accepts, and those only while what they spend still exists:
    /// an entry whose parent went is dropped too. Returns the txids dropped.
    pub fn retain(
        &mut self,
        mut keep: impl FnMut(&Entry) -> bool,
        confirmed_unspent: impl Fn(&OutPoint) -> bool,
    ) -> Vec<Txid> {
        let mut kept: Vec<Entry> = Vec::with_capacity(self.entries.len());
        let mut dropped = vec![];
        let mut kept_ids = HashSet::new();
        for entry in std::mem::take(&mut self.entries) {
            let inputs_exist = entry.tx.input.iter().all(|i| {
                let op = i.previous_output;
                confirmed_unspent(&op) || kept_ids.contains(&op.txid)
            });
            if inputs_exist && keep(&entry) {
                kept_ids.insert(entry.txid);
                kept.push(entry);
            } else {
                dropped.push(entry.txid);
            }
        }
        self.spent.clear();
        for entry in kept {
            self.add(entry);
        }
        dropped
    }

    /// The unspent outputs entries pay to `script`.
    pub fn outputs_to<'a>(
        &'a self,
        script: &'a ScriptBuf,
    ) -> impl Iterator<Item = (OutPoint, &'a TxOut)> + 'a {
        self.entries.iter().flat_map(move |e| {
            e.tx.output
                .iter()
                .enumerate()
                .filter(move |(_, o)| o.script_pubkey == *script)
                .map(move |(vout, o)| (OutPoint::new(e.txid, vout as u32), o))
                .filter(|(op, _)| !self.spent.contains_key(op))
        })
    }

    /// The entries touching `script` (paying to it or spending from it), oldest first.
    pub fn touching<'a>(&'a self, script: &'a ScriptBuf) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries.iter().filter(move |e| {
            e.prevouts.iter().any(|o| o.script_pubkey == *script)
                || e.tx.output.iter().any(|o| o.script_pubkey == *script)
        })
    }
}
