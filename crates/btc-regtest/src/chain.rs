//! The regtest chain: Bitcoin Core's validation engine (bitcoinkernel) stores the blocks and
//! judges each one; a block is served only once the kernel made it the tip.
//!
//! Transactions enter a mempool after the checks Bitcoin Core's mempool makes that matter on
//! a devnet: context-free consensus checks (the kernel's), inputs that exist and are not spent
//! by another mempool entry, coinbase maturity, value, finality, size, and every input's
//! script verified by the kernel under all consensus rules (segwit, taproot). Mining then puts
//! the mempool in a block and submits it; should the kernel still refuse it (a rule the
//! mempool does not check, such as a BIP68 relative lock), the transactions are tried one block
//! each and those refused are dropped — an invalid transaction never reaches the tip.
//!
//! The kernel keeps the chain on disk; [`Chain::open`] on the same directory resumes it and
//! rebuilds the [`Index`] from the stored blocks. The mempool is not kept.

use bitcoin::hashes::Hash;
use bitcoin::{Amount, Block, BlockHash, OutPoint, ScriptBuf, Transaction, TxOut, Txid};
use bitcoinkernel::prelude::*;
use bitcoinkernel::{
    BlockValidationResult, BlockValidationStateRef, ChainType, ChainstateManager, Context,
    ContextBuilder, KernelError, PrecomputedTransactionData, ScriptPubkey, TxCheckResult,
    ValidationMode,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use crate::block::{self, COINBASE_MATURITY};
use crate::index::{Index, IndexError};
use crate::mempool::{Entry, Mempool};

/// The largest transaction the mempool takes (Bitcoin Core's standardness limit).
pub const MAX_TX_WEIGHT: u64 = 400_000;
/// A block's weight limit less room for its coinbase.
const MAX_BLOCK_TXS_WEIGHT: u64 = 4_000_000 - 8_000;

/// Why the chain could not be opened or extended.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("{path}: {reason}")]
    Dir { path: PathBuf, reason: String },
    #[error("Bitcoin Core's validation engine: {0}")]
    Kernel(String),
    #[error("a stored block does not decode: {0}")]
    Stored(String),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("block {height} was refused by Bitcoin Core's validation ({reason})")]
    Rejected { height: u32, reason: String },
}

fn kernel(e: KernelError) -> ChainError {
    ChainError::Kernel(e.to_string())
}

/// Why a transaction was not accepted, with Bitcoin Core's reject reason in the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxRejected {
    #[error("coinbase")]
    Coinbase,
    #[error("txn-already-in-mempool")]
    InMempool,
    #[error("txn-already-known (confirmed)")]
    Confirmed,
    #[error("tx-size: weight {0} over {MAX_TX_WEIGHT}")]
    TooLarge(u64),
    #[error("the validation engine cannot read it: {0}")]
    Malformed(String),
    #[error("bad-txns (Bitcoin Core's context-free checks: {0})")]
    Consensus(String),
    #[error("bad-txns-inputs-missingorspent: {0} is not an unspent output")]
    MissingInput(OutPoint),
    #[error("txn-mempool-conflict: {outpoint} is already spent by {spender}")]
    Conflict { outpoint: OutPoint, spender: Txid },
    #[error("bad-txns-premature-spend-of-coinbase: {0} needs 100 confirmations")]
    ImmatureCoinbase(OutPoint),
    #[error("bad-txns-in-belowout: inputs {inputs}, outputs {outputs}")]
    InBelowOut { inputs: Amount, outputs: Amount },
    #[error("non-final: its lock time is not reached")]
    NonFinal,
    #[error("mandatory-script-verify-flag-failed (input {input}: {reason})")]
    Script { input: usize, reason: String },
}

impl TxRejected {
    /// Bitcoin Core's RPC error code for the refusal (what Esplora's backends pass on).
    pub fn rpc_code(&self) -> i32 {
        match self {
            Self::Confirmed => -27,
            Self::MissingInput(_) => -25,
            Self::Malformed(_) => -22,
            _ => -26,
        }
    }
}

/// What one round of mining did.
#[derive(Debug)]
pub struct Mined {
    /// The new tip.
    pub height: u32,
    pub hash: BlockHash,
    /// The mempool transactions now confirmed.
    pub confirmed: Vec<Txid>,
    /// Those the validation engine refused in a block, dropped from the mempool, and why.
    pub dropped: Vec<(Txid, String)>,
}

pub struct Chain {
    // Dropped before the context it was made with (fields drop in order).
    chainman: ChainstateManager,
    _context: Context,
    /// The validation engine's verdict on the last block it refused.
    refusal: Arc<Mutex<Option<BlockValidationResult>>>,
    index: Index,
    mempool: Mempool,
}

impl Chain {
    /// Opens the chain kept in `dir` (created if new: genesis only), and indexes it.
    pub fn open(dir: &Path) -> Result<Self, ChainError> {
        let refusal = Arc::new(Mutex::new(None));
        let sink = Arc::clone(&refusal);
        let context = ContextBuilder::new()
            .chain_type(ChainType::Regtest)
            .with_block_checked_validation(
                move |_: bitcoinkernel::Block, state: BlockValidationStateRef<'_>| {
                    if state.mode() != ValidationMode::Valid {
                        *sink.lock().unwrap_or_else(PoisonError::into_inner) = Some(state.result());
                    }
                },
            )
            .build()
            .map_err(kernel)?;
        let (data, blocks) = (dir.join("chainstate"), dir.join("blocks"));
        let chainman =
            ChainstateManager::new(&context, utf8(&data)?, utf8(&blocks)?).map_err(|e| {
                ChainError::Kernel(format!("{e} (is {} a chain's directory?)", dir.display()))
            })?;
        let mut chain = Self {
            chainman,
            _context: context,
            refusal,
            index: Index::default(),
            mempool: Mempool::default(),
        };
        chain.reindex()?;
        Ok(chain)
    }

    /// Indexes every block of the kernel's active chain, from genesis.
    fn reindex(&mut self) -> Result<(), ChainError> {
        let height = self.chainman.active_chain().height();
        for h in 0..=height.max(0) as usize {
            let raw = {
                let active = self.chainman.active_chain();
                let entry = active
                    .at_height(h)
                    .ok_or_else(|| ChainError::Stored(format!("no block at height {h}")))?;
                let block = self.chainman.read_block_data(&entry).map_err(kernel)?;
                block.consensus_encode().map_err(kernel)?
            };
            let block: Block = bitcoin::consensus::deserialize(&raw)
                .map_err(|e| ChainError::Stored(format!("height {h}: {e}")))?;
            self.index.connect(&block)?;
        }
        Ok(())
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    pub fn mempool(&self) -> &Mempool {
        &self.mempool
    }

    /// The tip's height.
    pub fn height(&self) -> u32 {
        self.index.tip_height().unwrap_or(0)
    }

    /// Checks `tx` and adds it to the mempool (see the module's docs for the checks).
    pub fn submit(&mut self, tx: Transaction) -> Result<Txid, TxRejected> {
        let txid = tx.compute_txid();
        if tx.is_coinbase() {
            return Err(TxRejected::Coinbase);
        }
        if self.mempool.get(&txid).is_some() {
            return Err(TxRejected::InMempool);
        }
        if self.index.tx(&txid).is_some() {
            return Err(TxRejected::Confirmed);
        }
        let weight = tx.weight().to_wu();
        if weight > MAX_TX_WEIGHT {
            return Err(TxRejected::TooLarge(weight));
        }
        let raw = bitcoin::consensus::serialize(&tx);
        let checked = bitcoinkernel::Transaction::new(&raw)
            .map_err(|e| TxRejected::Malformed(e.to_string()))?;
        if let TxCheckResult::Invalid(reason) = checked.check() {
            return Err(TxRejected::Consensus(format!("{reason:?}")));
        }
        let next = self.height() + 1;
        let prevouts = self.prevouts(&tx, next)?;
        let fee = fee(&tx, &prevouts)?;
        self.check_final(&tx, next)?;
        verify_scripts(&checked, &prevouts)?;
        self.mempool.add(Entry {
            tx,
            txid,
            prevouts,
            fee,
        });
        Ok(txid)
    }

    /// The outputs `tx` spends, for a block at `next`: unspent, confirmed or from the mempool,
    /// not spent by another entry, coinbases mature.
    fn prevouts(&self, tx: &Transaction, next: u32) -> Result<Vec<TxOut>, TxRejected> {
        tx.input
            .iter()
            .map(|input| {
                let outpoint = input.previous_output;
                if let Some(spender) = self.mempool.spender(&outpoint) {
                    return Err(TxRejected::Conflict { outpoint, spender });
                }
                if let Some(coin) = self.index.coin(&outpoint) {
                    if coin.coinbase && next - coin.height < COINBASE_MATURITY {
                        return Err(TxRejected::ImmatureCoinbase(outpoint));
                    }
                    return Ok(coin.output.clone());
                }
                self.mempool
                    .output(&outpoint)
                    .cloned()
                    .ok_or(TxRejected::MissingInput(outpoint))
            })
            .collect()
    }

    /// Its absolute lock time is reached by the next block (BIP113: by median time past).
    fn check_final(&self, tx: &Transaction, next: u32) -> Result<(), TxRejected> {
        use bitcoin::absolute::{Height, Time};
        let height = Height::from_consensus(next).map_err(|_| TxRejected::NonFinal)?;
        let time = Time::from_consensus(self.index.median_time_past())
            .map_err(|_| TxRejected::NonFinal)?;
        if tx.is_absolute_timelock_satisfied(height, time) {
            Ok(())
        } else {
            Err(TxRejected::NonFinal)
        }
    }

    /// Mines one block with the mempool (as much as fits) paying `to`; see the module's docs
    /// for what happens when the validation engine refuses it.
    pub fn mine(&mut self, to: &ScriptBuf) -> Result<Mined, ChainError> {
        let batch = self.template();
        let fees = batch.iter().map(|e| e.fee).sum();
        let txs: Vec<Transaction> = batch.iter().map(|e| e.tx.clone()).collect();
        match self.build(to, fees, txs) {
            Ok(hash) => {
                self.settle_mempool(&[]);
                Ok(Mined {
                    height: self.height(),
                    hash,
                    confirmed: batch.iter().map(|e| e.txid).collect(),
                    dropped: vec![],
                })
            }
            Err(ChainError::Rejected { reason, .. }) if !batch.is_empty() => {
                tracing::warn!(%reason, txs = batch.len(), "block refused; mining its transactions one by one");
                self.mine_one_by_one(to, batch)
            }
            Err(e) => Err(e),
        }
    }

    /// One block per transaction: those refused are dropped, with their descendants.
    fn mine_one_by_one(&mut self, to: &ScriptBuf, batch: Vec<Entry>) -> Result<Mined, ChainError> {
        let (mut confirmed, mut dropped) = (vec![], vec![]);
        let mut last = None;
        for entry in batch {
            let inputs_exist = entry
                .tx
                .input
                .iter()
                .all(|i| self.index.coin(&i.previous_output).is_some());
            if !inputs_exist {
                dropped.push((entry.txid, "a transaction it spends was dropped".to_owned()));
                continue;
            }
            match self.build(to, entry.fee, vec![entry.tx.clone()]) {
                Ok(hash) => {
                    confirmed.push(entry.txid);
                    last = Some(hash);
                }
                Err(ChainError::Rejected { reason, .. }) => {
                    tracing::warn!(txid = %entry.txid, %reason, "transaction refused in a block; dropped");
                    dropped.push((entry.txid, reason));
                }
                Err(e) => return Err(e),
            }
        }
        let hash = match last {
            Some(hash) => hash,
            None => self.build(to, Amount::ZERO, vec![])?,
        };
        let gone: Vec<Txid> = dropped.iter().map(|(t, _)| *t).collect();
        self.settle_mempool(&gone);
        Ok(Mined {
            height: self.height(),
            hash,
            confirmed,
            dropped,
        })
    }

    /// Mines a block with exactly `txs` (after the coinbase paying `to`), bypassing the
    /// mempool's checks — Bitcoin Core's `generateblock`. The validation engine still judges
    /// it: `Err(Rejected)` and the tip unchanged if any transaction is invalid.
    pub fn generate_block(
        &mut self,
        to: &ScriptBuf,
        txs: Vec<Transaction>,
    ) -> Result<BlockHash, ChainError> {
        let hash = self.build(to, Amount::ZERO, txs)?;
        self.settle_mempool(&[]);
        Ok(hash)
    }

    /// The mempool's oldest entries that fit in a block (stopping at the first that does not,
    /// so no child comes without its parent).
    fn template(&self) -> Vec<Entry> {
        let mut weight = 0;
        self.mempool
            .entries()
            .iter()
            .take_while(|e| {
                weight += e.tx.weight().to_wu();
                weight <= MAX_BLOCK_TXS_WEIGHT
            })
            .cloned()
            .collect()
    }

    /// After blocks: drops from the mempool what they confirmed, what `refused`, and what now
    /// spends an output that no longer exists.
    fn settle_mempool(&mut self, refused: &[Txid]) {
        let index = &self.index;
        self.mempool.retain(
            |e| index.tx(&e.txid).is_none() && !refused.contains(&e.txid),
            |op| index.coin(op).is_some(),
        );
    }

    /// Builds the next block and has the validation engine connect it.
    fn build(
        &mut self,
        to: &ScriptBuf,
        fees: Amount,
        txs: Vec<Transaction>,
    ) -> Result<BlockHash, ChainError> {
        let tip = self
            .index
            .tip()
            .ok_or_else(|| ChainError::Stored("no genesis block".into()))?;
        let block = block::mine(
            tip.hash,
            self.next_time(),
            tip.height + 1,
            to.clone(),
            fees,
            txs,
        );
        self.connect(block)
    }

    /// Submits `block`; indexes it once the validation engine made it the tip.
    pub fn connect(&mut self, block: Block) -> Result<BlockHash, ChainError> {
        let height = self.height() + 1;
        let raw = bitcoin::consensus::serialize(&block);
        let checked = bitcoinkernel::Block::new(&raw).map_err(kernel)?;
        *self.refusal.lock().unwrap_or_else(PoisonError::into_inner) = None;
        // "Accepted" only means stored: a block whose scripts fail is stored and never
        // connected. Only the tip tells.
        let _ = self.chainman.process_block(&checked);
        let hash = block.block_hash();
        if self.kernel_tip() != hash {
            let verdict = self
                .refusal
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            let reason = verdict.map_or("not connected".to_owned(), |r| format!("{r:?}"));
            return Err(ChainError::Rejected { height, reason });
        }
        self.index.connect(&block)?;
        Ok(hash)
    }

    fn kernel_tip(&self) -> BlockHash {
        let tip = self.chainman.active_chain().tip();
        BlockHash::from_byte_array(tip.block_hash().to_bytes())
    }

    /// A new block's time: now, unless that is not after the median time past.
    fn next_time(&self) -> u32 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        u32::try_from(now)
            .unwrap_or(u32::MAX)
            .max(self.index.median_time_past().saturating_add(1))
    }

    /// The outputs paying `script` a transaction may spend now: confirmed (mature, not spent
    /// by the mempool) and the mempool's unspent ones.
    pub fn spendable(&self, script: &ScriptBuf) -> Vec<(OutPoint, TxOut)> {
        let next = self.height() + 1;
        let mut out: Vec<(OutPoint, TxOut)> = self
            .index
            .script(script)
            .into_iter()
            .flat_map(|s| s.utxos.iter())
            .filter(|op| self.mempool.spender(op).is_none())
            .filter_map(|op| {
                let coin = self.index.coin(op)?;
                let mature = !coin.coinbase || next - coin.height >= COINBASE_MATURITY;
                mature.then(|| (*op, coin.output.clone()))
            })
            .collect();
        out.extend(
            self.mempool
                .outputs_to(script)
                .map(|(op, o)| (op, o.clone())),
        );
        out
    }
}

/// Inputs minus outputs, refused when negative.
fn fee(tx: &Transaction, prevouts: &[TxOut]) -> Result<Amount, TxRejected> {
    let inputs = checked_sum(prevouts);
    let outputs = checked_sum(&tx.output);
    match (inputs, outputs) {
        (Some(inputs), Some(outputs)) if inputs >= outputs => Ok(inputs - outputs),
        (Some(inputs), Some(outputs)) => Err(TxRejected::InBelowOut { inputs, outputs }),
        _ => Err(TxRejected::Consensus("value out of range".into())),
    }
}

/// The outputs' total, `None` past what an amount holds.
fn checked_sum(outputs: &[TxOut]) -> Option<Amount> {
    outputs
        .iter()
        .try_fold(Amount::ZERO, |sum, o| sum.checked_add(o.value))
}

/// Every input's script, verified by the validation engine under all consensus rules.
fn verify_scripts(tx: &bitcoinkernel::Transaction, prevouts: &[TxOut]) -> Result<(), TxRejected> {
    let malformed = |e: KernelError| TxRejected::Malformed(e.to_string());
    let scripts: Vec<ScriptPubkey> = prevouts
        .iter()
        .map(|o| ScriptPubkey::new(o.script_pubkey.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(malformed)?;
    let spent: Vec<bitcoinkernel::TxOut> = scripts
        .iter()
        .zip(prevouts)
        .map(|(s, o)| bitcoinkernel::TxOut::new(s, sats(o.value)))
        .collect();
    let data = PrecomputedTransactionData::new(tx, &spent).map_err(malformed)?;
    for (input, (script, output)) in scripts.iter().zip(prevouts).enumerate() {
        bitcoinkernel::verify(script, Some(sats(output.value)), tx, input, None, &data).map_err(
            |e| TxRejected::Script {
                input,
                reason: e.to_string(),
            },
        )?;
    }
    Ok(())
}

/// An amount as the validation engine takes it (every valid amount fits).
fn sats(amount: Amount) -> i64 {
    i64::try_from(amount.to_sat()).unwrap_or(i64::MAX)
}

fn utf8(path: &Path) -> Result<&str, ChainError> {
    path.to_str().ok_or_else(|| ChainError::Dir {
        path: path.to_owned(),
        reason: "not UTF-8; the validation engine needs a UTF-8 path".into(),
    })
}
