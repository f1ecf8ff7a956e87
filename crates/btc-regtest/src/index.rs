//! What the Esplora API answers from: every block of the active chain, every transaction with
//! the outputs it spent, the unspent outputs, and per script its history and totals.
//!
//! Bitcoin Core's validation engine keeps the blocks and the UTXO set but answers no question
//! by address, so this index is kept beside it: built from the kernel's block files on start
//! and extended with each block the kernel connects. Only this service mines, so the chain
//! never reorganizes and blocks are only ever appended.

use bitcoin::{Block, BlockHash, OutPoint, ScriptBuf, Transaction, TxOut, Txid};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

/// A connected block, without its transactions (those are in the index by txid).
pub struct BlockMeta {
    pub hash: BlockHash,
    pub header: bitcoin::block::Header,
    pub height: u32,
    pub txids: Vec<Txid>,
    pub size: usize,
    pub weight: u64,
}

/// A confirmed transaction, the block it is in and the outputs its inputs spent (none for a
/// coinbase).
pub struct TxMeta {
    pub tx: Transaction,
    pub height: u32,
    pub prevouts: Vec<TxOut>,
}

/// An unspent confirmed output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coin {
    pub output: TxOut,
    pub height: u32,
    pub coinbase: bool,
}

/// Esplora's per-address totals (`chain_stats`, `mempool_stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub funded_txo_count: u64,
    pub funded_txo_sum: u64,
    pub spent_txo_count: u64,
    pub spent_txo_sum: u64,
    pub tx_count: u64,
}

/// One script's confirmed history (in chain order), unspent outputs and totals.
#[derive(Default)]
pub struct ScriptEntry {
    pub history: Vec<Txid>,
    pub utxos: BTreeSet<OutPoint>,
    pub stats: Stats,
}

/// Why a block could not be indexed: the index and the kernel disagree, which only a bug or
/// a damaged data directory causes.
#[derive(Debug, thiserror::Error)]
#[error("block {height}: input {outpoint} spends no known unspent output")]
pub struct IndexError {
    pub height: u32,
    pub outpoint: OutPoint,
}

#[derive(Default)]
pub struct Index {
    blocks: Vec<BlockMeta>,
    heights: HashMap<BlockHash, u32>,
    txs: HashMap<Txid, TxMeta>,
    utxos: HashMap<OutPoint, Coin>,
    spent_by: HashMap<OutPoint, (Txid, u32)>,
    scripts: HashMap<ScriptBuf, ScriptEntry>,
}

impl Index {
    /// Appends the next block (height = blocks so far). Genesis's coinbase is not spendable
    /// (Bitcoin Core never adds it to the UTXO set), nor are OP_RETURN outputs.
    pub fn connect(&mut self, block: &Block) -> Result<(), IndexError> {
        let height = self.blocks.len() as u32;
        let mut txids = Vec::with_capacity(block.txdata.len());
        for tx in &block.txdata {
            let txid = tx.compute_txid();
            let prevouts = self.spend_inputs(tx, txid, height)?;
            if height > 0 {
                self.add_outputs(tx, txid, height);
            }
            self.txs.insert(
                txid,
                TxMeta {
                    tx: tx.clone(),
                    height,
                    prevouts,
                },
            );
            txids.push(txid);
        }
        let hash = block.block_hash();
        self.heights.insert(hash, height);
        self.blocks.push(BlockMeta {
            hash,
            header: block.header,
            height,
            txids,
            size: block.total_size(),
            weight: block.weight().to_wu(),
        });
        Ok(())
    }

    /// Removes what `tx` spends from the unspent outputs; returns those outputs.
    fn spend_inputs(
        &mut self,
        tx: &Transaction,
        txid: Txid,
        height: u32,
    ) -> Result<Vec<TxOut>, IndexError> {
        if tx.is_coinbase() {
            return Ok(vec![]);
        }
        let mut prevouts = Vec::with_capacity(tx.input.len());
        for (vin, input) in tx.input.iter().enumerate() {
            let outpoint = input.previous_output;
            let coin = self
                .utxos
                .remove(&outpoint)
                .ok_or(IndexError { height, outpoint })?;
            self.spent_by.insert(outpoint, (txid, vin as u32));
            let entry = self
                .scripts
                .entry(coin.output.script_pubkey.clone())
                .or_default();
            entry.utxos.remove(&outpoint);
            entry.stats.spent_txo_count += 1;
            entry.stats.spent_txo_sum += coin.output.value.to_sat();
            note_tx(entry, txid);
            prevouts.push(coin.output);
        }
        Ok(prevouts)
    }

    fn add_outputs(&mut self, tx: &Transaction, txid: Txid, height: u32) {
        for (vout, output) in tx.output.iter().enumerate() {
            if output.script_pubkey.is_op_return() {
                continue;
            }
            let outpoint = OutPoint::new(txid, vout as u32);
            let entry = self
                .scripts
                .entry(output.script_pubkey.clone())
                .or_default();
            entry.utxos.insert(outpoint);
            entry.stats.funded_txo_count += 1;
            entry.stats.funded_txo_sum += output.value.to_sat();
            note_tx(entry, txid);
            self.utxos.insert(
                outpoint,
                Coin {
                    output: output.clone(),
                    height,
                    coinbase: tx.is_coinbase(),
                },
            );
        }
    }

    /// The height of the tip (0: only genesis); `None` before genesis is indexed.
    pub fn tip_height(&self) -> Option<u32> {
        self.blocks.last().map(|b| b.height)
    }

    pub fn tip(&self) -> Option<&BlockMeta> {
        self.blocks.last()
    }

    pub fn block_at(&self, height: u32) -> Option<&BlockMeta> {
        self.blocks.get(height as usize)
    }

    pub fn block(&self, hash: &BlockHash) -> Option<&BlockMeta> {
        self.heights.get(hash).and_then(|h| self.block_at(*h))
    }

    pub fn tx(&self, txid: &Txid) -> Option<&TxMeta> {
        self.txs.get(txid)
    }

    pub fn coin(&self, outpoint: &OutPoint) -> Option<&Coin> {
        self.utxos.get(outpoint)
    }

    /// The confirmed input that spent `outpoint`: (txid, input index).
    pub fn spender(&self, outpoint: &OutPoint) -> Option<(Txid, u32)> {
        self.spent_by.get(outpoint).copied()
    }

    pub fn script(&self, script: &ScriptBuf) -> Option<&ScriptEntry> {
        self.scripts.get(script)
    }

    /// The median of the last 11 blocks' times: a new block's time must exceed it (BIP113).
    pub fn median_time_past(&self) -> u32 {
        let start = self
            .blocks
            .len()
            .saturating_sub(crate::block::MEDIAN_TIME_SPAN);
        let mut times: Vec<u32> = self.blocks[start..].iter().map(|b| b.header.time).collect();
        times.sort_unstable();
        times.get(times.len() / 2).copied().unwrap_or(0)
    }
}

/// Records `txid` in a script's history once (a transaction may touch it several times).
fn note_tx(entry: &mut ScriptEntry, txid: Txid) {
    if entry.history.last() != Some(&txid) {
        entry.history.push(txid);
        entry.stats.tx_count += 1;
    }
}
