//! The devnet's chain state and its rules: accounts with keys and balances, transactions
//! turned into receipts, receipts executed block by block (function calls in NEAR's VM,
//! transfers), promises and yields resolved as NEAR resolves them.
//!
//! Execution follows NEAR's receipt model, on one shard:
//! - a transaction is checked when it arrives (signature, access key, nonce, balance for its
//!   deposits; a refused one changes nothing), its deposits are taken from the signer, and it
//!   becomes one receipt executed in the next block;
//! - a receipt runs when everything it waits for has resolved: other receipts' results
//!   (following `promise_return` forwards) or a yield's data; a yield not resumed within the
//!   protocol's `yield_timeout_length_in_blocks` (200) resolves as failed;
//! - receipts a block creates run in a later block, so a `sign` answers a few blocks after the
//!   `respond` that resumed it, as on NEAR; a block runs its ready receipts in creation order;
//! - a receipt's actions are atomic: its storage writes go to an overlay over the receiver's
//!   committed storage ([`crate::host::Scope`]), committed when every action succeeded and
//!   dropped otherwise, with its new receipts and resumes; a failed receipt's deposits are
//!   refunded; gas burnt is charged to the signer regardless.
//!
//! Work per block is proportional to what the block does: the waiting receipts are indexed
//! ([`crate::receipts`]), storage usage is a running count ([`crate::storage`]), and every
//! committed storage write is logged per block with its receipt ([`crate::storage::ChangeLog`]).
//! What changed since the last save is tracked in [`Dirty`] for the store.
//!
//! Caveats: one shard, no validators, no storage staking; gas is charged at a fixed price after
//! execution rather than prepaid; keys and deploys happen at genesis only, and the only
//! accounts created later are NEAR's ed25519 implicit accounts, by a transfer to one (as on
//! NEAR: the account named by the 64 hex digits of a key, with that key for full access).

use near_primitives::errors::{
    ActionError, ActionErrorKind, ActionsValidationError, CompilationError, FunctionCallError,
    InvalidAccessKeyError, InvalidTxError, TxExecutionError,
};
use near_primitives::hash::{hash, CryptoHash};
use near_primitives::transaction::{Action, SignedTransaction};
use near_primitives::types::AccountId;
use near_vm_runner::logic::ReturnData;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::history::{Executed, History, ReceiptResult, TxRecord};
use crate::host::{ActionSpec, Host, NewReceipt, Scope};
use crate::receipts::{Dep, Input, Pending, Receipt};
use crate::storage::{Account, ChangeLog, Overlay, StateChange};
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

/// What a successful receipt leaves to commit.
struct Done {
    value: ReturnData,
    receipts: Vec<NewReceipt>,
    resumes: Vec<(CryptoHash, Vec<u8>)>,
    overlay: Overlay,
    balance: u128,
}

fn failed(kind: ActionErrorKind, index: usize) -> ReceiptResult {
    let error = ActionError {
        index: Some(index as u64),
        kind,
    };
    ReceiptResult::Failed(serde_json::to_string(&error).expect("errors serialize"))
}

fn execution_error(message: String) -> ActionErrorKind {
    ActionErrorKind::FunctionCallError(FunctionCallError::ExecutionError(message))
}

/// The key an ed25519 implicit account's id spells: 64 lower-case hex digits.
fn implicit_key(id: &AccountId) -> Option<near_crypto::PublicKey> {
    let text = id.as_str();
    if text.len() != 64 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (i, pair) in text.as_bytes().chunks(2).enumerate() {
        let digit = |c: u8| if c <= b'9' { c - b'0' } else { c - b'a' + 10 };
        bytes[i] = digit(pair[0]) << 4 | digit(pair[1]);
    }
    Some(near_crypto::PublicKey::ED25519(
        near_crypto::ED25519PublicKey(bytes),
    ))
}

/// A transaction's actions as receipt actions, and the deposits they carry.
fn action_specs(tx: &SignedTransaction) -> Result<(Vec<ActionSpec>, u128), InvalidTxError> {
    let mut actions = vec![];
    let mut cost: u128 = 0;
    for action in tx.transaction.actions() {
        let spec = match action {
            Action::FunctionCall(f) => ActionSpec::FunctionCall {
                method: f.method_name.clone(),
                args: f.args.clone(),
                deposit: f.deposit.as_yoctonear(),
                gas: f.gas.as_gas(),
            },
            Action::Transfer(t) => ActionSpec::Transfer {
                deposit: t.deposit.as_yoctonear(),
            },
            other => {
                let name = format!("{other:?}");
                let name = name.split(['(', ' ']).next().unwrap_or("this").to_owned();
                return Err(InvalidTxError::ActionsValidation(
                    ActionsValidationError::UnsupportedProtocolFeature {
                        protocol_feature: format!(
                            "{name} actions (the devnet runs function calls and transfers)"
                        ),
                        version: near_primitives::version::PROTOCOL_VERSION,
                    },
                ));
            }
        };
        cost = cost.saturating_add(spec.deposit());
        actions.push(spec);
    }
    Ok((actions, cost))
}

impl Ledger {
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
    pub fn admit(&mut self, tx: SignedTransaction) -> Result<CryptoHash, InvalidTxError> {
        let (hash, _) = tx.transaction.get_hash_and_size();
        if self.history.tx(&hash).is_some() {
            // NEAR answers a resubmission with the original's outcome.
            return Ok(hash);
        }
        let signer = tx.transaction.signer_id().clone();
        let public_key = tx.transaction.public_key().clone();
        let (actions, cost) = action_specs(&tx)?;
        let account =
            self.accounts
                .get(&signer)
                .ok_or_else(|| InvalidTxError::SignerDoesNotExist {
                    signer_id: signer.clone(),
                })?;
        let ak_nonce = *account.keys.get(&public_key).ok_or_else(|| {
            InvalidTxError::InvalidAccessKeyError(InvalidAccessKeyError::AccessKeyNotFound {
                account_id: signer.clone(),
                public_key: Box::new(public_key.clone()),
            })
        })?;
        if !tx.signature.verify(hash.as_ref(), &public_key) {
            return Err(InvalidTxError::InvalidSignature);
        }
        let tx_nonce = tx.transaction.nonce().nonce();
        if tx_nonce <= ak_nonce {
            return Err(InvalidTxError::InvalidNonce { tx_nonce, ak_nonce });
        }
        if account.balance < cost {
            return Err(InvalidTxError::NotEnoughBalance {
                signer_id: signer.clone(),
                balance: near_primitives::types::Balance::from_yoctonear(account.balance),
                cost: near_primitives::types::Balance::from_yoctonear(cost),
            });
        }
        if let Some(account) = self.account_mut(&signer) {
            account.balance -= cost;
            account.keys.insert(public_key.clone(), tx_nonce);
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
            receiver: tx.transaction.receiver_id().clone(),
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
        self.create_implicit_account(&r);
        let deposits: u128 = r.actions.iter().map(ActionSpec::deposit).sum();
        let mut logs = vec![];
        let mut gas_burnt = 0u64;
        let (result, new) = match self.run_actions(&r, &inputs, deposits, &mut logs, &mut gas_burnt)
        {
            Ok(done) => self.commit(&r, done),
            Err(e) => (e, vec![]),
        };
        if matches!(result, ReceiptResult::Failed(_)) && deposits > 0 {
            if let Some(a) = self.account_mut(&r.refund_to) {
                a.balance = a.balance.saturating_add(deposits);
            }
        }
        if let Some(signer) = self.account_mut(&r.signer) {
            signer.balance = signer
                .balance
                .saturating_sub(u128::from(gas_burnt) * GAS_PRICE);
        }
        self.history.add_executed(Executed {
            id: r.id,
            executor: r.receiver.clone(),
            block_height: self.height,
            index: 0,
            logs,
            new_receipts: new.clone(),
            gas_burnt,
            result,
        });
        self.dirty.executed.insert(r.id);
        self.pending.ran(&r.id);
        if self.history.extend_tx(&r.tx, &new) {
            self.dirty.txs.insert(r.tx);
        }
    }

    /// A transfer to an ed25519 implicit account that does not exist creates it, with the key
    /// its id spells for full access. NEAR starts that key's nonce at (height − 1) × 10⁶, so
    /// that transactions signed for an earlier incarnation of the account cannot be replayed.
    fn create_implicit_account(&mut self, r: &Receipt) {
        let transfers_only = r
            .actions
            .iter()
            .all(|a| matches!(a, ActionSpec::Transfer { .. }));
        if !transfers_only || self.accounts.contains_key(&r.receiver) {
            return;
        }
        let Some(key) = implicit_key(&r.receiver) else {
            return;
        };
        let mut account = Account::default();
        account
            .keys
            .insert(key, self.height.saturating_sub(1) * 1_000_000);
        self.accounts.insert(r.receiver.clone(), account);
        self.dirty.accounts.insert(r.receiver.clone());
    }

    /// Commits a successful receipt: its storage writes (logged), balance, new receipts and
    /// resumes. Returns its result and new receipts' ids.
    fn commit(&mut self, r: &Receipt, done: Done) -> (ReceiptResult, Vec<CryptoHash>) {
        let Some(account) = self.accounts.get_mut(&r.receiver) else {
            // run_actions found the account; defensive only.
            return (failed(execution_error("no receiver".into()), 0), vec![]);
        };
        account.balance = done.balance;
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
        dirty.accounts.insert(r.receiver.clone());
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
                None => failed(execution_error("bad promise index".into()), 0),
            },
        };
        (result, ids)
    }

    /// Runs a receipt's actions over a write overlay on the receiver's storage; an error is
    /// the receipt's failure and leaves the ledger as it was.
    fn run_actions(
        &self,
        r: &Receipt,
        inputs: &[Option<Vec<u8>>],
        deposits: u128,
        logs: &mut Vec<String>,
        gas_burnt: &mut u64,
    ) -> Result<Done, ReceiptResult> {
        let account = self.accounts.get(&r.receiver).ok_or_else(|| {
            failed(
                ActionErrorKind::AccountDoesNotExist {
                    account_id: r.receiver.clone(),
                },
                0,
            )
        })?;
        let mut balance = account.balance.saturating_add(deposits);
        let mut scope = Scope::default();
        let mut value = ReturnData::None;
        let mut receipts = vec![];
        let mut resumes = vec![];
        let height = self.height;
        let pending = &self.pending;
        let open_yield = |id: &CryptoHash| pending.is_open_yield(id, &r.receiver, height);
        for (index, action) in r.actions.iter().enumerate() {
            let ActionSpec::FunctionCall {
                method,
                args,
                deposit,
                gas,
            } = action
            else {
                value = ReturnData::None;
                continue;
            };
            let code = account.code_hash.and_then(|h| self.codes.get(&h));
            let Some(code) = code else {
                return Err(failed(
                    ActionErrorKind::FunctionCallError(FunctionCallError::CompilationError(
                        CompilationError::CodeDoesNotExist {
                            account_id: r.receiver.clone(),
                        },
                    )),
                    index,
                ));
            };
            let storage_usage = account.storage_usage(code.wasm().len()) - account.storage_bytes()
                + account.storage_bytes_with(&scope.overlay);
            let input = CallInput {
                current: &r.receiver,
                signer: &r.signer,
                signer_key: borsh::to_vec(&r.signer_key).expect("keys serialize"),
                predecessor: &r.predecessor,
                method,
                args,
                promise_results: inputs.to_vec(),
                block_height: height,
                block_timestamp_ns: self.block_timestamp_ns(height),
                random_seed: self.random_seed(height),
                // The VM adds the attached deposit to this itself.
                balance: balance.saturating_sub(*deposit),
                storage_usage,
                deposit: *deposit,
                gas: *gas,
                view: false,
            };
            let seed = hash_of(&[r.id.as_ref(), &(index as u64).to_le_bytes()]);
            let mut host = Host::new(
                account.storage(),
                &mut scope,
                r.receiver.clone(),
                seed,
                &open_yield,
            );
            let outcome = self.vm.run(code, &input, &mut host);
            let (new_receipts, new_resumes, unsupported) =
                (host.receipts, host.resumes, host.unsupported);
            *gas_burnt = gas_burnt.saturating_add(outcome.burnt_gas);
            logs.extend(outcome.logs);
            // First: an unsupported host call also aborts the VM, with a less telling error.
            if let Some(what) = unsupported {
                return Err(failed(
                    execution_error(format!("the devnet does not support {what}")),
                    index,
                ));
            }
            if let Some(e) = outcome.error {
                return Err(failed(execution_error(e), index));
            }
            balance = outcome.balance;
            // Promise indices are per call: shift this call's into the receipt's list.
            let offset = receipts.len() as u64;
            for mut nr in new_receipts {
                nr.depends_on.iter_mut().for_each(|i| *i += offset);
                receipts.push(nr);
            }
            resumes.extend(new_resumes);
            value = match outcome.return_data {
                ReturnData::ReceiptIndex(i) => ReturnData::ReceiptIndex(i + offset),
                other => other,
            };
        }
        Ok(Done {
            value,
            receipts,
            resumes,
            overlay: scope.overlay,
            balance,
        })
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
                predecessor: parent.receiver.clone(),
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

fn hash_of(parts: &[&[u8]]) -> CryptoHash {
    hash(&parts.concat())
}

#[cfg(test)]
mod tests;
