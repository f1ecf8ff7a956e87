//! The devnet's chain state and its rules: accounts with access keys and balances,
//! transactions turned into receipts, receipts executed block by block ([`crate::apply`]:
//! function calls in NEAR's VM, transfers, account creation and deletion, deploys, keys),
//! promises and yields resolved as NEAR resolves them.
//!
//! Execution follows NEAR's receipt model, on one shard:
//! - a transaction is checked when it arrives, as nearcore checks it (its actions within the
//!   protocol's limits, signature, access key and what a function-call key may sign, nonce,
//!   balance and allowance, the storage stake the signer must keep; a refused one changes
//!   nothing); its deposits, its send fees
//!   (burnt) and its prepaid gas and execution fees ([`crate::fees`]) are taken from the
//!   signer (and the key's allowance), and it becomes one receipt executed in the next block;
//! - a receipt runs when everything it waits for has resolved: other receipts' results
//!   (following `promise_return` forwards) or a yield's data; a yield not resumed within the
//!   protocol's `yield_timeout_length_in_blocks` (200) resolves as failed;
//! - receipts a block creates run in a later block, so a `sign` answers a few blocks after the
//!   `respond` that resumed it, as on NEAR; a block runs its ready receipts in creation order;
//! - a receipt's actions are atomic: they run over a copy of the receiver's account and an
//!   overlay over its committed storage ([`crate::host::Scope`]), committed when every action
//!   succeeded and dropped otherwise, with its new receipts and resumes; a failed receipt's
//!   deposits are refunded (except a refund's: those tokens are lost, as on NEAR);
//! - when a receipt has run, the gas it was given (with its execution fees) and neither burnt
//!   nor passed on to the receipts it created is refunded to the signer (and its key's
//!   allowance), at once rather than by a refund receipt.
//!
//! Work per block is proportional to what the block does: the waiting receipts are indexed
//! ([`crate::receipts`]), storage usage is a running count ([`crate::storage`]), and every
//! committed storage write is logged per block with its receipt ([`crate::storage::ChangeLog`]).
//! What changed since the last save is tracked in [`Dirty`] for the store.
//!
//! An account must hold NEAR's storage stake for the bytes it occupies (zero-balance accounts
//! of at most 770 bytes excepted): a transaction that would leave its signer short is refused,
//! a receipt that would leave its receiver short fails and is undone ([`crate::apply`]).
//!
//! Caveats: one shard, no validators (nothing is staked or locked); gas is priced at a fixed
//! [`GAS_PRICE`] (NEAR's minimum; no price changes between blocks); refunds are not receipts
//! (they are immediate, and free).

use near_primitives::account::{AccessKey, AccessKeyPermission};
use near_primitives::errors::{
    ActionError, ActionErrorKind, FunctionCallError, InvalidAccessKeyError, InvalidTxError,
    TxExecutionError,
};
use near_primitives::hash::{hash, CryptoHash};
use near_primitives::transaction::SignedTransaction;
use near_primitives::types::{AccountId, Balance};
use near_vm_runner::logic::ReturnData;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::actions::{self, ActionSpec};
use crate::apply::Done;
use crate::history::{Executed, History, ReceiptResult, TxRecord};
use crate::host::{Host, NewReceipt, Scope};
use crate::receipts::{Dep, Input, Pending, Receipt};
use crate::storage::{self, Account, ChangeLog, StateChange};
use crate::vm::{CallInput, Code, Vm};

/// yoctoNEAR per unit of gas (NEAR's minimum gas price).
pub const GAS_PRICE: u128 = 100_000_000;

/// Where a transaction stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxStatus {
    Pending,
    Value(Vec<u8>),
    Failed(TxExecutionError),
}

/// How far a transaction's receipts have run, in the terms of nearcore's `wait_until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Execution {
    /// A receipt other than a refund has yet to run.
    Running,
    /// Every receipt but refunds has run (nearcore's `EXECUTED`). Refunds are the receipts
    /// from `system`: here a deleted account's balance on its way to the beneficiary (gas and
    /// deposit refunds are immediate).
    Executed,
    /// Every receipt has run (nearcore's `FINAL`: blocks are final when they exist).
    Final,
}

/// Everything the chain knows.
pub struct Ledger {
    pub height: u64,
    pub seed: [u8; 32],
    /// Unix time (ns) of genesis; block `h` is `h` intervals later.
    pub genesis_time_ns: u64,
    pub block_interval_ns: u64,
    pub accounts: BTreeMap<AccountId, Account>,
    /// Receipts waiting to run.
    pub pending: Pending,
    pub history: History,
    /// Storage writes of recent blocks.
    pub changes: ChangeLog,
    pub codes: HashMap<CryptoHash, Code>,
    pub vm: Vm,
    /// What changed since the last save: what the store must write.
    pub dirty: Dirty,
}

impl Default for Ledger {
    fn default() -> Self {
        let vm = Vm::default();
        Self {
            height: 0,
            seed: [0; 32],
            genesis_time_ns: 0,
            block_interval_ns: 0,
            accounts: BTreeMap::new(),
            pending: Pending::new(vm.yield_timeout_blocks()),
            history: History::default(),
            changes: ChangeLog::default(),
            codes: HashMap::new(),
            vm,
            dirty: Dirty::default(),
        }
    }
}

/// What changed since the last save; each set names records to write (or delete, when the
/// ledger no longer holds them).
#[derive(Default)]
pub struct Dirty {
    /// Height, seed, times.
    pub meta: bool,
    pub accounts: BTreeSet<AccountId>,
    pub storage: BTreeSet<(AccountId, Vec<u8>)>,
    pub receipts: BTreeSet<CryptoHash>,
    pub codes: BTreeSet<CryptoHash>,
    pub txs: BTreeSet<CryptoHash>,
    pub executed: BTreeSet<CryptoHash>,
    /// Blocks whose change log is to be written.
    pub changes: BTreeSet<u64>,
    /// Blocks whose change log is to be deleted.
    pub pruned: BTreeSet<u64>,
}

pub(crate) fn failed(kind: ActionErrorKind, index: usize) -> ReceiptResult {
    let error = ActionError {
        index: Some(index as u64),
        kind,
    };
    ReceiptResult::Failed(serde_json::to_string(&error).expect("errors serialize"))
}

/// A receipt's failure that no one action caused (`index: None`), as NEAR reports a receiver
/// short of its storage stake.
pub(crate) fn failed_receipt(kind: ActionErrorKind) -> ReceiptResult {
    let error = ActionError { index: None, kind };
    ReceiptResult::Failed(serde_json::to_string(&error).expect("errors serialize"))
}

impl Ledger {
    /// What `balance` lacks to cover `storage_usage` bytes at the protocol's price, `None`
    /// when nothing ([`storage::storage_stake_shortfall`]: zero-balance accounts need nothing).
    pub fn storage_stake_shortfall(&self, storage_usage: u64, balance: u128) -> Option<u128> {
        let per_byte = self.vm.runtime_config().storage_amount_per_byte();
        storage::storage_stake_shortfall(storage_usage, balance, per_byte.as_yoctonear())
    }

    /// Bytes a committed account occupies, with its code.
    pub fn storage_usage(&self, account: &Account) -> u64 {
        let code = account.code_hash.and_then(|h| self.codes.get(&h));
        account.storage_usage(code.map_or(0, |c| c.wasm().len()))
    }

    /// The random seed of block `height`.
    pub fn random_seed(&self, height: u64) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.seed);
        h.update(height.to_be_bytes());
        h.finalize().into()
    }

    pub fn block_hash(&self, height: u64) -> CryptoHash {
        hash(
            &[
                b"chainsig devnet block".as_slice(),
                &self.seed,
                &height.to_be_bytes(),
            ]
            .concat(),
        )
    }

    pub fn block_timestamp_ns(&self, height: u64) -> u64 {
        self.genesis_time_ns + height * self.block_interval_ns
    }

    /// An account, to change: it is saved with the next block.
    fn account_mut(&mut self, id: &AccountId) -> Option<&mut Account> {
        let account = self.accounts.get_mut(id)?;
        self.dirty.accounts.insert(id.clone());
        Some(account)
    }

    /// Deploys `wasm` on `account` (genesis only).
    pub fn deploy(&mut self, account: &AccountId, wasm: Vec<u8>) -> Result<(), String> {
        let code = Code::new(wasm);
        let a = self
            .account_mut(account)
            .ok_or_else(|| format!("no account {account}"))?;
        a.code_hash = Some(code.hash());
        self.dirty.codes.insert(code.hash());
        self.codes.insert(code.hash(), code);
        Ok(())
    }

    /// Checks a transaction and admits it: its receipt runs in the next block. A refused
    /// transaction changes nothing.
    ///
    /// As nearcore: the actions within the protocol's limits, the signer and its key, the
    /// signature, the nonce (above the key's, below (height + 1) × 10⁶), the balance for the
    /// deposits and the prepaid gas, a function-call key's allowance for the same, the
    /// storage stake of the signer once charged (`LackBalanceForState` with the shortfall)
    /// and what the key may sign. The signer pays deposits and gas now; unused gas is refunded when
    /// each receipt has run.
    pub fn admit(&mut self, tx: SignedTransaction) -> Result<CryptoHash, InvalidTxError> {
        let (hash, _) = tx.transaction.get_hash_and_size();
        if self.history.tx(&hash).is_some() {
            // NEAR answers a resubmission with the original's outcome.
            return Ok(hash);
        }
        let signer = tx.transaction.signer_id().clone();
        let public_key = tx.transaction.public_key().clone();
        let receiver = tx.transaction.receiver_id().clone();
        let actions = actions::from_transaction(self.vm.limits(), tx.transaction.actions())
            .map_err(InvalidTxError::ActionsValidation)?;
        let account =
            self.accounts
                .get(&signer)
                .ok_or_else(|| InvalidTxError::SignerDoesNotExist {
                    signer_id: signer.clone(),
                })?;
        let key_error = InvalidTxError::InvalidAccessKeyError;
        let mut access_key = account.keys.get(&public_key).cloned().ok_or_else(|| {
            key_error(InvalidAccessKeyError::AccessKeyNotFound {
                account_id: signer.clone(),
                public_key: Box::new(public_key.clone()),
            })
        })?;
        if !tx.signature.verify(hash.as_ref(), &public_key) {
            return Err(InvalidTxError::InvalidSignature);
        }
        let tx_nonce = tx.transaction.nonce().nonce();
        if tx_nonce <= access_key.nonce {
            return Err(InvalidTxError::InvalidNonce {
                tx_nonce,
                ak_nonce: access_key.nonce,
            });
        }
        // Bounded by the height of the block that will include it.
        let upper_bound =
            (self.height + 1).saturating_mul(AccessKey::ACCESS_KEY_NONCE_RANGE_MULTIPLIER);
        if tx_nonce >= upper_bound {
            return Err(InvalidTxError::NonceTooLarge {
                tx_nonce,
                upper_bound,
            });
        }
        // Its send fees are burnt now; its execution fees and gas are prepaid.
        let gas = self
            .tx_gas_burnt(&signer, &receiver, &actions)
            .saturating_add(self.vm.fees().total_exec(&actions, &receiver))
            .saturating_add(total_gas(&actions));
        let cost = actions.iter().fold(u128::from(gas) * GAS_PRICE, |sum, a| {
            sum.saturating_add(a.deposit())
        });
        let yocto = Balance::from_yoctonear;
        if account.balance < cost {
            return Err(InvalidTxError::NotEnoughBalance {
                signer_id: signer.clone(),
                balance: yocto(account.balance),
                cost: yocto(cost),
            });
        }
        if let AccessKeyPermission::FunctionCall(permission) = &mut access_key.permission {
            if let Some(allowance) = &mut permission.allowance {
                *allowance = allowance.checked_sub(yocto(cost)).ok_or_else(|| {
                    key_error(InvalidAccessKeyError::NotEnoughAllowance {
                        account_id: signer.clone(),
                        public_key: Box::new(public_key.clone()),
                        allowance: *allowance,
                        cost: yocto(cost),
                    })
                })?;
            }
        }
        // What the signer keeps must still cover its storage (nearcore's
        // `verify_and_charge_tx_ephemeral`: after the allowance, before what the key may sign).
        let usage = self.storage_usage(account);
        if let Some(amount) = self.storage_stake_shortfall(usage, account.balance - cost) {
            return Err(InvalidTxError::LackBalanceForState {
                signer_id: signer.clone(),
                amount: yocto(amount),
            });
        }
        if let AccessKeyPermission::FunctionCall(permission) = &access_key.permission {
            actions::function_call_key_allows(permission, &receiver, &actions)
                .map_err(key_error)?;
        }
        access_key.nonce = tx_nonce;
        if let Some(account) = self.account_mut(&signer) {
            account.balance -= cost;
            account.keys.insert(public_key.clone(), access_key);
        }
        let receipt_id = hash_of(&[b"receipt".as_slice(), hash.as_ref()]);
        let seq = self.pending.new_seq();
        self.queue(Receipt {
            id: receipt_id,
            seq,
            tx: hash,
            predecessor: signer.clone(),
            signer: signer.clone(),
            signer_key: public_key,
            receiver,
            refund_to: signer,
            actions,
            deps: vec![],
        });
        self.history.add_tx(
            hash,
            TxRecord {
                signed: borsh::to_vec(&tx).expect("transactions serialize"),
                included_at: self.height + 1,
                receipt: receipt_id,
                receipts: vec![receipt_id],
            },
        );
        self.dirty.txs.insert(hash);
        Ok(hash)
    }

    /// The gas a transaction burns when it is admitted: its receipt's send fees.
    pub fn tx_gas_burnt(
        &self,
        signer: &AccountId,
        receiver: &AccountId,
        actions: &[ActionSpec],
    ) -> u64 {
        self.vm.fees().send(signer == receiver, actions, receiver)
    }

    fn queue(&mut self, r: Receipt) {
        self.dirty.receipts.insert(r.id);
        self.pending.push(r);
    }

    /// A receipt's result, following forwards; `None` while it (or what it forwards to) has
    /// not run.
    pub fn final_result(&self, id: &CryptoHash) -> Option<Result<Vec<u8>, String>> {
        self.history.resolve(id).ok()
    }

    pub fn tx_status(&self, hash: &CryptoHash) -> Option<TxStatus> {
        let record = self.history.tx(hash)?;
        Some(match self.final_result(&record.receipt) {
            None => TxStatus::Pending,
            Some(Ok(v)) => TxStatus::Value(v),
            Some(Err(e)) => TxStatus::Failed(TxExecutionError::ActionError(
                crate::history::ReceiptResult::action_error(&e),
            )),
        })
    }

    /// How far the receipts of transaction `hash` have run: all of them count, those whose
    /// result it returns and those it only started, as nearcore waits for them.
    pub fn tx_execution(&self, hash: &CryptoHash) -> Option<Execution> {
        let record = self.history.tx(hash)?;
        let mut execution = Execution::Final;
        for id in &record.receipts {
            if self.history.executed(id).is_some() {
                continue;
            }
            match self.pending.get(id) {
                Some(r) if r.predecessor.is_system() => execution = Execution::Executed,
                Some(_) => return Some(Execution::Running),
                // Neither run nor waiting: nothing will run it.
                None => {}
            }
        }
        Some(execution)
    }

    /// Produces the next block: every receipt whose inputs are ready runs, in creation order.
    pub fn produce_block(&mut self) {
        self.height += 1;
        let height = self.height;
        self.dirty.meta = true;
        let pruned = self.changes.start_block(height);
        self.dirty.pruned.extend(pruned);
        self.dirty.changes.insert(height);
        let timeout = self.vm.yield_timeout_blocks();
        let history = &self.history;
        let ready = self.pending.take_ready(height, |dep| match dep {
            Dep::Receipt(id) => match history.resolve(id) {
                Ok(result) => Input::Ready(result.ok()),
                Err(waiting) => Input::Receipt(waiting),
            },
            Dep::Yield {
                data: Some(data), ..
            } => Input::Ready(Some(data.clone())),
            Dep::Yield { created, .. } if height >= created + timeout => Input::Ready(None),
            Dep::Yield { .. } => Input::Yield,
        });
        for (receipt, inputs) in ready {
            self.dirty.receipts.insert(receipt.id);
            self.execute(receipt, inputs);
        }
    }

    fn execute(&mut self, r: Receipt, inputs: Vec<Option<Vec<u8>>>) {
        let deposits = r
            .actions
            .iter()
            .fold(0u128, |sum, a| sum.saturating_add(a.deposit()));
        // Its gas and execution fees, prepaid by its sender (refunds are free).
        let mut prepaid = total_gas(&r.actions);
        if !r.predecessor.is_system() {
            prepaid = prepaid.saturating_add(self.vm.fees().total_exec(&r.actions, &r.receiver));
        }
        let ran = self.run_actions(&r, &inputs);
        let (result, new, gas_used) = match ran.result {
            Ok(done) => {
                let (result, new) = self.commit(&r, done);
                (result, new, ran.gas_used)
            }
            Err(e) => (e, vec![], ran.gas_burnt),
        };
        // Refunds are not refunded again: a failed one's tokens are lost, as on NEAR.
        let failed = matches!(result, ReceiptResult::Failed(_));
        if failed && deposits > 0 && !r.predecessor.is_system() {
            if let Some(a) = self.account_mut(&r.refund_to) {
                a.balance = a.balance.saturating_add(deposits);
            }
        }
        self.refund_gas(&r, prepaid.saturating_sub(gas_used));
        self.history.add_executed(Executed {
            id: r.id,
            executor: r.receiver.clone(),
            block_height: self.height,
            index: 0,
            logs: ran.logs,
            new_receipts: new.clone(),
            gas_burnt: ran.gas_burnt,
            result,
        });
        self.dirty.executed.insert(r.id);
        self.pending.ran(&r.id);
        if self.history.extend_tx(&r.tx, &new) {
            self.dirty.txs.insert(r.tx);
        }
    }

    /// Gives the signer back the price of the gas a receipt was given and did not use, and
    /// its key's allowance too (nearcore's gas refund and `try_refund_allowance`).
    fn refund_gas(&mut self, r: &Receipt, unused: u64) {
        let refund = u128::from(unused) * GAS_PRICE;
        if refund == 0 {
            return;
        }
        let Some(signer) = self.account_mut(&r.signer) else {
            return;
        };
        signer.balance = signer.balance.saturating_add(refund);
        let key = signer.keys.get_mut(&r.signer_key);
        if let Some(AccessKeyPermission::FunctionCall(p)) = key.map(|k| &mut k.permission) {
            if let Some(allowance) = &mut p.allowance {
                *allowance = allowance.saturating_add(Balance::from_yoctonear(refund));
            }
        }
    }

    /// Commits a successful receipt: the receiver as it left it (created, changed or
    /// deleted), its storage writes (logged), new code, new receipts and resumes. Returns its
    /// result and new receipts' ids.
    fn commit(&mut self, r: &Receipt, done: Done) -> (ReceiptResult, Vec<CryptoHash>) {
        let receiver = done.receiver;
        self.dirty.accounts.insert(r.receiver.clone());
        if receiver.deleted {
            self.remove_account(r);
        } else if receiver.exists {
            if let Some(code) = receiver.deployed {
                self.dirty.codes.insert(code.hash());
                self.codes.insert(code.hash(), code);
            }
            let account = self.accounts.entry(r.receiver.clone()).or_default();
            account.balance = receiver.balance;
            account.keys = receiver.keys;
            account.code_hash = receiver.code_hash;
            let (changes, dirty) = (&mut self.changes, &mut self.dirty);
            account.commit(done.overlay, |key, value| {
                changes.push(StateChange {
                    account_id: r.receiver.clone(),
                    key: key.to_vec(),
                    value: value.map(<[u8]>::to_vec),
                    cause: r.id,
                });
                dirty.storage.insert((r.receiver.clone(), key.to_vec()));
            });
        }
        // Spawned first: a yield this receipt created may be resumed by it too.
        let ids = self.spawn(r, done.receipts);
        for (data_id, data) in done.resumes {
            if let Some(waiting) = self.pending.resume(&data_id, data) {
                self.dirty.receipts.insert(waiting);
            }
        }
        let result = match done.value {
            ReturnData::Value(v) => ReceiptResult::Value(v),
            ReturnData::None => ReceiptResult::Value(vec![]),
            ReturnData::ReceiptIndex(i) => match ids.get(i as usize) {
                Some(id) => ReceiptResult::Forward(*id),
                None => failed(
                    ActionErrorKind::FunctionCallError(FunctionCallError::ExecutionError(
                        "bad promise index".into(),
                    )),
                    0,
                ),
            },
        };
        (result, ids)
    }

    /// Removes a deleted account, and its storage record by record (each logged as a
    /// deletion, as nearcore reports a deleted account's data).
    fn remove_account(&mut self, r: &Receipt) {
        let Some(account) = self.accounts.remove(&r.receiver) else {
            return;
        };
        for key in account.storage().keys() {
            self.changes.push(StateChange {
                account_id: r.receiver.clone(),
                key: key.clone(),
                value: None,
                cause: r.id,
            });
            self.dirty.storage.insert((r.receiver.clone(), key.clone()));
        }
    }

    /// Queues the receipts a call created; returns their ids, by promise index.
    fn spawn(&mut self, parent: &Receipt, receipts: Vec<NewReceipt>) -> Vec<CryptoHash> {
        let ids: Vec<CryptoHash> = (0..receipts.len())
            .map(|i| hash_of(&[parent.id.as_ref(), b"new", &(i as u64).to_le_bytes()]))
            .collect();
        for (nr, id) in receipts.into_iter().zip(&ids) {
            let mut deps: Vec<Dep> = nr
                .depends_on
                .iter()
                .filter_map(|j| ids.get(*j as usize).map(|id| Dep::Receipt(*id)))
                .collect();
            if let Some(data_id) = nr.yield_data_id {
                deps.push(Dep::Yield {
                    data_id,
                    created: self.height,
                    data: None,
                });
            }
            let seq = self.pending.new_seq();
            self.queue(Receipt {
                id: *id,
                seq,
                tx: parent.tx,
                predecessor: nr.predecessor.unwrap_or_else(|| parent.receiver.clone()),
                signer: parent.signer.clone(),
                signer_key: parent.signer_key.clone(),
                refund_to: nr.refund_to.unwrap_or_else(|| parent.receiver.clone()),
                receiver: nr.receiver,
                actions: nr.actions,
                deps,
            });
        }
        ids
    }

    /// Calls a view method: read-only, over the committed storage (not copied); nothing
    /// persists.
    pub fn view(
        &self,
        account: &AccountId,
        method: &str,
        args: &[u8],
    ) -> Result<(Vec<u8>, Vec<String>), ViewError> {
        let a = self
            .accounts
            .get(account)
            .ok_or(ViewError::UnknownAccount)?;
        let code = a
            .code_hash
            .and_then(|h| self.codes.get(&h))
            .ok_or(ViewError::NoContractCode)?;
        let input = CallInput {
            current: account,
            signer: account,
            signer_key: vec![],
            predecessor: account,
            method,
            args,
            promise_results: vec![],
            block_height: self.height,
            block_timestamp_ns: self.block_timestamp_ns(self.height),
            random_seed: self.random_seed(self.height),
            balance: a.balance,
            storage_usage: a.storage_usage(code.wasm().len()),
            deposit: 0,
            gas: 0,
            view: true,
        };
        let mut scope = Scope::default();
        let mut host = Host::new(
            a.storage(),
            &mut scope,
            account.clone(),
            CryptoHash::default(),
            &|_| false,
        );
        let outcome = self.vm.run(code, &input, &mut host);
        if let Some(e) = outcome.error {
            return Err(ViewError::Execution(e));
        }
        let value = match outcome.return_data {
            ReturnData::Value(v) => v,
            _ => vec![],
        };
        Ok((value, outcome.logs))
    }
}

/// Why a view failed.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error("account does not exist")]
    UnknownAccount,
    #[error("the account has no contract")]
    NoContractCode,
    #[error("{0}")]
    Execution(String),
}

/// The gas a receipt's function calls bring.
fn total_gas(actions: &[ActionSpec]) -> u64 {
    actions
        .iter()
        .fold(0, |sum, a| sum.saturating_add(a.prepaid_gas()))
}

pub(crate) fn hash_of(parts: &[&[u8]]) -> CryptoHash {
    hash(&parts.concat())
}

#[cfg(test)]
mod tests;
