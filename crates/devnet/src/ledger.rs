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
//!   `respond` that resumed it, as on NEAR;
//! - a receipt's actions are atomic: if one fails, its storage writes and new receipts are
//!   dropped and its deposits are refunded; gas burnt is charged to the signer regardless.
//!
//! Caveats: one shard, no validators, no storage staking; gas is charged at a fixed price after
//! execution rather than prepaid; account creation, keys and deploys happen at genesis only.

use near_crypto::PublicKey;
use near_primitives::errors::{
    ActionError, ActionErrorKind, ActionsValidationError, CompilationError, FunctionCallError,
    InvalidAccessKeyError, InvalidTxError, TxExecutionError,
};
use near_primitives::hash::{hash, CryptoHash};
use near_primitives::transaction::{Action, SignedTransaction};
use near_primitives::types::AccountId;
use near_vm_runner::logic::ReturnData;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::host::{ActionSpec, Host};
use crate::vm::{CallInput, Code, Vm};

/// yoctoNEAR per unit of gas (NEAR's minimum gas price).
pub const GAS_PRICE: u128 = 100_000_000;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Account {
    pub balance: u128,
    /// Full-access keys and their nonces.
    pub keys: BTreeMap<PublicKey, u64>,
    pub code_hash: Option<CryptoHash>,
    pub storage: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl Account {
    /// Bytes the account occupies, as NEAR counts them (100 per account, 40 per record).
    pub fn storage_usage(&self, code_len: usize) -> u64 {
        let records: usize = self
            .storage
            .iter()
            .map(|(k, v)| k.len() + v.len() + 40)
            .sum();
        (100 + code_len + records + self.keys.len() * 82) as u64
    }
}

/// What a receipt waits for before it runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Dep {
    Receipt(CryptoHash),
    Yield {
        data_id: CryptoHash,
        created: u64,
        data: Option<Vec<u8>>,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Receipt {
    pub id: CryptoHash,
    pub tx: CryptoHash,
    pub predecessor: AccountId,
    pub signer: AccountId,
    pub signer_key: PublicKey,
    pub receiver: AccountId,
    pub refund_to: AccountId,
    pub actions: Vec<ActionSpec>,
    pub deps: Vec<Dep>,
}

/// How a receipt ended.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ReceiptResult {
    Value(Vec<u8>),
    /// NEAR's error for the receipt (an `ActionError`), as JSON.
    Failed(String),
    /// The value is another receipt's (`promise_return`).
    Forward(CryptoHash),
}

/// What one executed receipt did, for `tx` outcomes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Executed {
    pub id: CryptoHash,
    pub executor: AccountId,
    pub block_height: u64,
    pub logs: Vec<String>,
    pub new_receipts: Vec<CryptoHash>,
    pub gas_burnt: u64,
    pub result: ReceiptResult,
}

/// A transaction the chain admitted.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TxRecord {
    /// The borsh `SignedTransaction`.
    pub signed: Vec<u8>,
    pub included_at: u64,
    pub receipt: CryptoHash,
    /// Every receipt it led to, in creation order.
    pub receipts: Vec<CryptoHash>,
}

/// Where a transaction stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxStatus {
    Pending,
    Value(Vec<u8>),
    Failed(TxExecutionError),
}

/// Everything the chain knows; what persists is this.
#[derive(Default, Serialize, Deserialize)]
pub struct Ledger {
    pub height: u64,
    pub seed: [u8; 32],
    /// Unix time (ns) of genesis; block `h` is `h` intervals later.
    pub genesis_time_ns: u64,
    pub block_interval_ns: u64,
    pub accounts: BTreeMap<AccountId, Account>,
    /// Receipts waiting to run, in creation order.
    pub pending: Vec<Receipt>,
    // History is kept (and persisted) per entry, not with the state above.
    #[serde(skip)]
    pub executed: HashMap<CryptoHash, Executed>,
    #[serde(skip)]
    pub txs: HashMap<CryptoHash, TxRecord>,
    #[serde(skip)]
    pub codes: HashMap<CryptoHash, Code>,
    #[serde(skip)]
    pub vm: Vm,
    /// Keys changed since the last save: what the store must write.
    #[serde(skip)]
    pub dirty: Dirty,
}

/// What changed since the last save.
#[derive(Default)]
pub struct Dirty {
    pub txs: BTreeSet<CryptoHash>,
    pub executed: BTreeSet<CryptoHash>,
    pub state: bool,
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

    /// Deploys `wasm` on `account` (genesis only).
    pub fn deploy(&mut self, account: &AccountId, wasm: Vec<u8>) -> Result<(), String> {
        let code = Code::new(wasm);
        let a = self
            .accounts
            .get_mut(account)
            .ok_or_else(|| format!("no account {account}"))?;
        a.code_hash = Some(code.hash());
        self.codes.insert(code.hash(), code);
        self.dirty.state = true;
        Ok(())
    }

    /// Checks a transaction and admits it: its receipt runs in the next block. A refused
    /// transaction changes nothing.
    pub fn admit(&mut self, tx: SignedTransaction) -> Result<CryptoHash, InvalidTxError> {
        let (hash, _) = tx.transaction.get_hash_and_size();
        if self.txs.contains_key(&hash) {
            // NEAR answers a resubmission with the original's outcome.
            return Ok(hash);
        }
        let signer = tx.transaction.signer_id().clone();
        let public_key = tx.transaction.public_key().clone();
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
        let account = self.accounts.get_mut(&signer).expect("checked above");
        account.balance -= cost;
        account.keys.insert(public_key.clone(), tx_nonce);
        let receipt_id = hash_of(&[b"receipt".as_slice(), hash.as_ref()]);
        self.pending.push(Receipt {
            id: receipt_id,
            tx: hash,
            predecessor: signer.clone(),
            signer: signer.clone(),
            signer_key: public_key,
            receiver: tx.transaction.receiver_id().clone(),
            refund_to: signer,
            actions,
            deps: vec![],
        });
        self.txs.insert(
            hash,
            TxRecord {
                signed: borsh::to_vec(&tx).expect("transactions serialize"),
                included_at: self.height + 1,
                receipt: receipt_id,
                receipts: vec![receipt_id],
            },
        );
        self.dirty.txs.insert(hash);
        self.dirty.state = true;
        Ok(hash)
    }

    /// A receipt's result, following forwards; `None` while it (or what it forwards to) has
    /// not run.
    pub fn final_result(&self, id: &CryptoHash) -> Option<Result<Vec<u8>, String>> {
        let mut id = *id;
        // A forward chain is acyclic (a receipt forwards to one it created); the bound is
        // defensive.
        for _ in 0..1024 {
            match &self.executed.get(&id)?.result {
                ReceiptResult::Value(v) => return Some(Ok(v.clone())),
                ReceiptResult::Failed(e) => return Some(Err(e.clone())),
                ReceiptResult::Forward(next) => id = *next,
            }
        }
        None
    }

    pub fn tx_status(&self, hash: &CryptoHash) -> Option<TxStatus> {
        let record = self.txs.get(hash)?;
        Some(match self.final_result(&record.receipt) {
            None => TxStatus::Pending,
            Some(Ok(v)) => TxStatus::Value(v),
            Some(Err(e)) => TxStatus::Failed(TxExecutionError::ActionError(
                serde_json::from_str(&e).expect("the ledger wrote this error"),
            )),
        })
    }

    fn resolved(&self, dep: &Dep) -> Option<Option<Vec<u8>>> {
        match dep {
            Dep::Receipt(id) => self.final_result(id).map(Result::ok),
            Dep::Yield {
                data: Some(data), ..
            } => Some(Some(data.clone())),
            Dep::Yield { created, .. } => {
                (self.height >= created + self.vm.yield_timeout_blocks()).then_some(None)
            }
        }
    }

    /// Yields of `account` still open for a resume.
    fn open_yields(&self, account: &AccountId) -> BTreeSet<CryptoHash> {
        self.pending
            .iter()
            .filter(|r| &r.receiver == account)
            .flat_map(|r| &r.deps)
            .filter_map(|d| match d {
                Dep::Yield {
                    data_id,
                    data: None,
                    created,
                } if self.height < created + self.vm.yield_timeout_blocks() => Some(*data_id),
                _ => None,
            })
            .collect()
    }

    /// Produces the next block: every receipt whose inputs are ready runs.
    pub fn produce_block(&mut self) {
        self.height += 1;
        self.dirty.state = true;
        let pending = std::mem::take(&mut self.pending);
        let mut waiting = vec![];
        let mut ready = vec![];
        for r in pending {
            match r
                .deps
                .iter()
                .map(|d| self.resolved(d))
                .collect::<Option<Vec<_>>>()
            {
                Some(inputs) => ready.push((r, inputs)),
                None => waiting.push(r),
            }
        }
        self.pending = waiting;
        for (receipt, inputs) in ready {
            self.execute(receipt, inputs);
        }
    }

    fn execute(&mut self, r: Receipt, inputs: Vec<Option<Vec<u8>>>) {
        let height = self.height;
        let deposits: u128 = r.actions.iter().map(ActionSpec::deposit).sum();
        let mut logs = vec![];
        let mut gas_burnt = 0u64;
        let mut new = vec![];
        let result = match self.accounts.get(&r.receiver) {
            None => failed(
                ActionErrorKind::AccountDoesNotExist {
                    account_id: r.receiver.clone(),
                },
                0,
            ),
            Some(account) => {
                let mut working = account.clone();
                working.balance = working.balance.saturating_add(deposits);
                let outcome =
                    self.run_actions(&r, &inputs, &mut working, &mut logs, &mut gas_burnt);
                match outcome {
                    Ok((value, receipts, resumes)) => {
                        self.accounts.insert(r.receiver.clone(), working);
                        for (data_id, data) in resumes {
                            self.resume(&data_id, data);
                        }
                        let ids = self.spawn(&r, receipts);
                        new.clone_from(&ids);
                        match value {
                            ReturnData::Value(v) => ReceiptResult::Value(v),
                            ReturnData::None => ReceiptResult::Value(vec![]),
                            ReturnData::ReceiptIndex(i) => match ids.get(i as usize) {
                                Some(id) => ReceiptResult::Forward(*id),
                                None => failed(execution_error("bad promise index".into()), 0),
                            },
                        }
                    }
                    Err(e) => e,
                }
            }
        };
        if matches!(result, ReceiptResult::Failed(_)) && deposits > 0 {
            if let Some(a) = self.accounts.get_mut(&r.refund_to) {
                a.balance = a.balance.saturating_add(deposits);
            }
        }
        if let Some(signer) = self.accounts.get_mut(&r.signer) {
            signer.balance = signer
                .balance
                .saturating_sub(u128::from(gas_burnt) * GAS_PRICE);
        }
        self.executed.insert(
            r.id,
            Executed {
                id: r.id,
                executor: r.receiver.clone(),
                block_height: height,
                logs,
                new_receipts: new.clone(),
                gas_burnt,
                result,
            },
        );
        self.dirty.executed.insert(r.id);
        if let Some(tx) = self.txs.get_mut(&r.tx) {
            tx.receipts.extend(new);
            self.dirty.txs.insert(r.tx);
        }
    }

    /// Runs a receipt's actions on a working copy of the receiver; an error is the receipt's
    /// failure and leaves the ledger as it was.
    #[allow(clippy::type_complexity)]
    fn run_actions(
        &self,
        r: &Receipt,
        inputs: &[Option<Vec<u8>>],
        working: &mut Account,
        logs: &mut Vec<String>,
        gas_burnt: &mut u64,
    ) -> Result<
        (
            ReturnData,
            Vec<crate::host::NewReceipt>,
            Vec<(CryptoHash, Vec<u8>)>,
        ),
        ReceiptResult,
    > {
        let mut value = ReturnData::None;
        let mut receipts = vec![];
        let mut resumes = vec![];
        let mut open = self.open_yields(&r.receiver);
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
            let code = working.code_hash.and_then(|h| self.codes.get(&h));
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
            let storage_usage = working.storage_usage(code.wasm().len());
            let input = CallInput {
                current: &r.receiver,
                signer: &r.signer,
                signer_key: borsh::to_vec(&r.signer_key).expect("keys serialize"),
                predecessor: &r.predecessor,
                method,
                args,
                promise_results: inputs.to_vec(),
                block_height: self.height,
                block_timestamp_ns: self.block_timestamp_ns(self.height),
                random_seed: self.random_seed(self.height),
                // The VM adds the attached deposit to this itself.
                balance: working.balance.saturating_sub(*deposit),
                storage_usage,
                deposit: *deposit,
                gas: *gas,
                view: false,
            };
            let seed = hash_of(&[r.id.as_ref(), &(index as u64).to_le_bytes()]);
            let mut storage = std::mem::take(&mut working.storage);
            let mut host = Host::new(&mut storage, r.receiver.clone(), seed, open.clone());
            let outcome = self.vm.run(code, &input, &mut host);
            let (new_receipts, new_resumes, unsupported) =
                (host.receipts, host.resumes, host.unsupported);
            working.storage = storage;
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
            working.balance = outcome.balance;
            // Promise indices are per call: shift this call's into the receipt's list.
            let offset = receipts.len() as u64;
            for mut nr in new_receipts {
                nr.depends_on.iter_mut().for_each(|i| *i += offset);
                receipts.push(nr);
            }
            for (id, _) in &new_resumes {
                open.remove(id);
            }
            resumes.extend(new_resumes);
            value = match outcome.return_data {
                ReturnData::ReceiptIndex(i) => ReturnData::ReceiptIndex(i + offset),
                other => other,
            };
        }
        Ok((value, receipts, resumes))
    }

    fn resume(&mut self, data_id: &CryptoHash, data: Vec<u8>) {
        for r in &mut self.pending {
            for d in &mut r.deps {
                if let Dep::Yield {
                    data_id: id,
                    data: slot @ None,
                    ..
                } = d
                {
                    if id == data_id {
                        *slot = Some(data);
                        return;
                    }
                }
            }
        }
    }

    /// Queues the receipts a call created; returns their ids, by promise index.
    fn spawn(
        &mut self,
        parent: &Receipt,
        receipts: Vec<crate::host::NewReceipt>,
    ) -> Vec<CryptoHash> {
        let ids: Vec<CryptoHash> = (0..receipts.len())
            .map(|i| hash_of(&[parent.id.as_ref(), b"new", &(i as u64).to_le_bytes()]))
            .collect();
        for (i, nr) in receipts.into_iter().enumerate() {
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
            self.pending.push(Receipt {
                id: ids[i],
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

    /// Calls a view method: read-only, nothing persists.
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
        let mut storage = a.storage.clone();
        let mut host = Host::new(
            &mut storage,
            account.clone(),
            CryptoHash::default(),
            BTreeSet::new(),
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
