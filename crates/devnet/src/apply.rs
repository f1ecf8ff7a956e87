//! Running one receipt's actions against its receiver, with nearcore's semantics
//! (`apply_action` in nearcore's runtime), without changing the ledger: the result is either
//! the receiver as the receipt leaves it ([`Done`], which the ledger commits whole) or the
//! receipt's failure (an `ActionError` naming the failing action), which changes nothing.
//!
//! For each action, in order, as nearcore checks it:
//! - the receiver must exist, except for `CreateAccount` (which it must not, and which may not
//!   name an implicit account) and for a `Transfer` alone to an absent ed25519 implicit account
//!   (which creates it, with the key its name spells);
//! - deploys, keys and deletion are for the account itself: the actor (the predecessor, or the
//!   account once `CreateAccount` made it) must be the receiver (`ActorNoPermission`);
//! - `CreateAccount`: a sub-account only by its parent (`CreateAccountNotAllowed`), a top-level
//!   one only by the registrar (`CreateAccountOnlyByRegistrar`; with NEAR's current parameters
//!   no top-level name is short enough for anyone else);
//! - keys: adding one that exists or deleting one that does not fails; an added key's nonce
//!   starts at (height − 1) × 10⁶, as NEAR's, whatever the action says;
//! - `DeleteAccount` (last in its batch) sends the balance to the beneficiary in a new receipt
//!   from `system` (lost if the beneficiary does not exist, as on NEAR), and fails for an
//!   account holding more than 10 kB besides its code (`DeleteAccountWithLargeState`);
//! - a function call runs in NEAR's VM over the receipt's storage overlay; its unused gas goes
//!   to the calls it scheduled with a weight; the receipts it created are checked against the
//!   protocol's limits (`NewReceiptValidationError`).
//!
//! Each action burns its execution fee ([`crate::fees`]) before it is checked, and the receipt
//! its base fee, as on NEAR (a receipt from `system`, a refund, burns nothing).
//!
//! After the last action, the receiver (unless the receipt deleted it) must hold NEAR's
//! storage stake for the bytes it now occupies, its code, keys and records: 10¹⁹ yoctoNEAR a
//! byte (the runtime config's `storage_amount_per_byte`), nothing for a zero-balance account
//! of at most 770 bytes. Otherwise the receipt fails with `LackBalanceForState` and the
//! shortfall, undoing all its actions, as nearcore's `apply_action_receipt` does.
//!
//! Caveats: ETH and deterministic implicit accounts are not created by a transfer (it fails with
//! `AccountDoesNotExist`).

use near_crypto::PublicKey;
use near_primitives::account::{AccessKey, AccessKeyPermission, Account as NearAccount};
use near_primitives::errors::{
    ActionErrorKind, CompilationError, FunctionCallError, ReceiptValidationError,
};
use near_primitives::hash::CryptoHash;
use near_primitives::types::{AccountId, Balance};
use near_vm_runner::logic::ReturnData;
use std::collections::BTreeMap;

use crate::actions::{self, ActionSpec};
use crate::history::ReceiptResult;
use crate::host::{Host, NewReceipt, Scope};
use crate::ledger::{failed, failed_receipt, hash_of, Ledger};
use crate::receipts::Receipt;
use crate::storage::{self, Account};
use crate::vm::{CallInput, Code};

/// The receiver as a receipt's actions leave it.
pub struct Receiver {
    /// Whether it exists now.
    pub exists: bool,
    /// Whether this receipt deleted it.
    pub deleted: bool,
    pub balance: u128,
    pub keys: BTreeMap<PublicKey, AccessKey>,
    pub code_hash: Option<CryptoHash>,
    /// Code this receipt deployed.
    pub deployed: Option<Code>,
}

impl Receiver {
    fn new(committed: Option<&Account>) -> Self {
        Self {
            exists: committed.is_some(),
            deleted: false,
            balance: committed.map_or(0, |a| a.balance),
            keys: committed.map(|a| a.keys.clone()).unwrap_or_default(),
            code_hash: committed.and_then(|a| a.code_hash),
            deployed: None,
        }
    }
}

/// What a successful receipt leaves to commit.
pub struct Done {
    pub value: ReturnData,
    pub receipts: Vec<NewReceipt>,
    pub resumes: Vec<(CryptoHash, Vec<u8>)>,
    pub overlay: storage::Overlay,
    pub receiver: Receiver,
}

/// A receipt's run: its result, logs and gas (burnt; and used: burnt plus what it gave the
/// receipts it created, which is what its signer is not refunded).
pub struct Ran {
    pub result: Result<Done, ReceiptResult>,
    pub logs: Vec<String>,
    pub gas_burnt: u64,
    pub gas_used: u64,
}

fn execution_error(message: String) -> ActionErrorKind {
    ActionErrorKind::FunctionCallError(FunctionCallError::ExecutionError(message))
}

/// One receipt's run in progress.
struct Run<'l> {
    ledger: &'l Ledger,
    r: &'l Receipt,
    inputs: &'l [Option<Vec<u8>>],
    /// The receiver's committed storage (empty when it did not exist).
    base: &'l Account,
    receiver: Receiver,
    actor: AccountId,
    scope: Scope,
    value: ReturnData,
    receipts: Vec<NewReceipt>,
    resumes: Vec<(CryptoHash, Vec<u8>)>,
    logs: Vec<String>,
    gas_burnt: u64,
    gas_used: u64,
}

impl Ledger {
    /// Runs a receipt's actions over a copy of the receiver's account and a write overlay on
    /// its storage; nothing in the ledger changes.
    pub(crate) fn run_actions(&self, r: &Receipt, inputs: &[Option<Vec<u8>>]) -> Ran {
        let empty = Account::default();
        let committed = self.accounts.get(&r.receiver);
        let mut run = Run {
            ledger: self,
            r,
            inputs,
            base: committed.unwrap_or(&empty),
            receiver: Receiver::new(committed),
            actor: r.predecessor.clone(),
            scope: Scope::default(),
            value: ReturnData::None,
            receipts: vec![],
            resumes: vec![],
            logs: vec![],
            gas_burnt: 0,
            gas_used: 0,
        };
        if !r.predecessor.is_system() {
            run.gas_burnt = self.vm.fees().receipt_exec();
            run.gas_used = run.gas_burnt;
        }
        let mut result = Ok(());
        for (index, action) in r.actions.iter().enumerate() {
            if let Err(kind) = run.action(index, action) {
                result = Err(failed(kind, index));
                break;
            }
        }
        if result.is_ok() {
            result = run.check_storage_stake();
        }
        let Run {
            scope,
            value,
            receipts,
            resumes,
            logs,
            gas_burnt,
            gas_used,
            receiver,
            ..
        } = run;
        Ran {
            result: result.map(|()| Done {
                value,
                receipts,
                resumes,
                overlay: scope.overlay,
                receiver,
            }),
            logs,
            gas_burnt,
            // (For a failed receipt the ledger counts `gas_burnt` instead: its new receipts
            // are dropped.)
            gas_used,
        }
    }
}

impl Run<'_> {
    fn action(&mut self, index: usize, action: &ActionSpec) -> Result<(), ActionErrorKind> {
        // Burnt before anything is checked, as nearcore does (refunds are free).
        if !self.r.predecessor.is_system() {
            let fee = self.ledger.vm.fees().exec(action, &self.r.receiver);
            self.gas_burnt = self.gas_burnt.saturating_add(fee);
            self.gas_used = self.gas_used.saturating_add(fee);
        }
        self.check_existence(action)?;
        self.check_actor(action)?;
        self.value = ReturnData::None;
        let height = self.ledger.height;
        match action {
            ActionSpec::CreateAccount => self.create_account()?,
            ActionSpec::Transfer { deposit } => {
                if !self.receiver.exists {
                    self.create_implicit_account();
                }
                self.receiver.balance = self.receiver.balance.saturating_add(*deposit);
            }
            ActionSpec::FunctionCall {
                method,
                args,
                deposit,
                gas,
            } => self.function_call(index, method, args, *deposit, *gas)?,
            ActionSpec::DeployContract { code } => {
                let code = Code::new(code.clone());
                self.receiver.code_hash = Some(code.hash());
                self.receiver.deployed = Some(code);
            }
            ActionSpec::AddKey {
                public_key,
                access_key,
            } => {
                if self.receiver.keys.contains_key(public_key) {
                    return Err(ActionErrorKind::AddKeyAlreadyExists {
                        account_id: self.r.receiver.clone(),
                        public_key: Box::new(public_key.clone()),
                    });
                }
                // A new key's nonces start past any a deleted key of the same account used.
                let access_key = AccessKey {
                    nonce: height.saturating_sub(1) * AccessKey::ACCESS_KEY_NONCE_RANGE_MULTIPLIER,
                    permission: access_key.permission.clone(),
                };
                self.receiver.keys.insert(public_key.clone(), access_key);
            }
            ActionSpec::DeleteKey { public_key } => {
                if self.receiver.keys.remove(public_key).is_none() {
                    return Err(ActionErrorKind::DeleteKeyDoesNotExist {
                        account_id: self.r.receiver.clone(),
                        public_key: Box::new(public_key.clone()),
                    });
                }
            }
            ActionSpec::DeleteAccount { beneficiary } => self.delete_account(beneficiary)?,
        }
        Ok(())
    }

    /// nearcore's `check_account_existence`.
    fn check_existence(&self, action: &ActionSpec) -> Result<(), ActionErrorKind> {
        let account_id = &self.r.receiver;
        let absent = || ActionErrorKind::AccountDoesNotExist {
            account_id: account_id.clone(),
        };
        match action {
            ActionSpec::CreateAccount if self.receiver.exists => {
                Err(ActionErrorKind::AccountAlreadyExists {
                    account_id: account_id.clone(),
                })
            }
            // An implicit account is created only by a transfer, so that nobody but the holder
            // of the key its name spells can ever act for it.
            ActionSpec::CreateAccount if account_id.get_account_type().is_implicit() => {
                Err(ActionErrorKind::OnlyImplicitAccountCreationAllowed {
                    account_id: account_id.clone(),
                })
            }
            ActionSpec::CreateAccount => Ok(()),
            ActionSpec::Transfer { .. } if !self.receiver.exists => {
                // Alone in its receipt, and not a refund (refunds never create accounts).
                let eligible = self.r.actions.len() == 1 && !self.r.predecessor.is_system();
                if eligible && PublicKey::from_near_implicit_account(account_id).is_ok() {
                    Ok(())
                } else {
                    Err(absent())
                }
            }
            _ if !self.receiver.exists => Err(absent()),
            _ => Ok(()),
        }
    }

    /// nearcore's `check_actor_permissions`.
    fn check_actor(&self, action: &ActionSpec) -> Result<(), ActionErrorKind> {
        let own = matches!(
            action,
            ActionSpec::DeployContract { .. }
                | ActionSpec::AddKey { .. }
                | ActionSpec::DeleteKey { .. }
                | ActionSpec::DeleteAccount { .. }
        );
        if own && self.actor != self.r.receiver {
            return Err(ActionErrorKind::ActorNoPermission {
                account_id: self.r.receiver.clone(),
                actor_id: self.actor.clone(),
            });
        }
        Ok(())
    }

    /// nearcore's `action_create_account`.
    fn create_account(&mut self) -> Result<(), ActionErrorKind> {
        let account_id = &self.r.receiver;
        let predecessor = &self.r.predecessor;
        let rules = self.ledger.vm.account_creation();
        if account_id.is_top_level() {
            let short = account_id.len() < usize::from(rules.min_allowed_top_level_account_length);
            if short && predecessor != &rules.registrar_account_id {
                return Err(ActionErrorKind::CreateAccountOnlyByRegistrar {
                    account_id: account_id.clone(),
                    registrar_account_id: rules.registrar_account_id.clone(),
                    predecessor_id: predecessor.clone(),
                });
            }
        } else if !account_id.is_sub_account_of(predecessor) {
            return Err(ActionErrorKind::CreateAccountNotAllowed {
                account_id: account_id.clone(),
                predecessor_id: predecessor.clone(),
            });
        }
        self.actor = account_id.clone();
        self.receiver = Receiver::new(None);
        self.receiver.exists = true;
        Ok(())
    }

    /// A transfer alone to an absent ed25519 implicit account creates it, with the key its
    /// name spells for full access. NEAR starts that key's nonce at (height − 1) × 10⁶, so
    /// that transactions signed for an earlier incarnation of the account cannot be replayed.
    fn create_implicit_account(&mut self) {
        let Ok(key) = PublicKey::from_near_implicit_account(&self.r.receiver) else {
            // check_existence admitted only such accounts.
            return;
        };
        let nonce =
            self.ledger.height.saturating_sub(1) * AccessKey::ACCESS_KEY_NONCE_RANGE_MULTIPLIER;
        self.receiver = Receiver::new(None);
        self.receiver.exists = true;
        self.receiver.keys.insert(
            key,
            AccessKey {
                nonce,
                permission: AccessKeyPermission::FullAccess,
            },
        );
    }

    fn code(&self) -> Option<&Code> {
        let hash = self.receiver.code_hash?;
        match &self.receiver.deployed {
            Some(code) if code.hash() == hash => Some(code),
            _ => self.ledger.codes.get(&hash),
        }
    }

    /// Bytes the receiver occupies now, as NEAR counts them.
    fn storage_usage(&self) -> u64 {
        let code_len = self.code().map_or(0, |c| c.wasm().len());
        let bytes = self.base.storage_bytes_with(&self.scope.overlay);
        storage::storage_usage(code_len, bytes, &self.receiver.keys)
    }

    /// nearcore's check after a receipt's actions (`apply_action_receipt`): the receiver, if
    /// it still exists, must hold the storage stake for what it now occupies, or the receipt
    /// fails with `LackBalanceForState` (naming no action: `index` is `None`, as NEAR's) and
    /// everything it did is undone, its deposits refunded.
    fn check_storage_stake(&self) -> Result<(), ReceiptResult> {
        if !self.receiver.exists {
            return Ok(());
        }
        let shortfall = self
            .ledger
            .storage_stake_shortfall(self.storage_usage(), self.receiver.balance);
        match shortfall {
            None => Ok(()),
            Some(amount) => Err(failed_receipt(ActionErrorKind::LackBalanceForState {
                account_id: self.r.receiver.clone(),
                amount: Balance::from_yoctonear(amount),
            })),
        }
    }

    /// nearcore's `action_delete_account`.
    fn delete_account(&mut self, beneficiary: &AccountId) -> Result<(), ActionErrorKind> {
        let code_len = self.code().map_or(0, |c| c.wasm().len()) as u64;
        if self.storage_usage() - code_len > NearAccount::MAX_ACCOUNT_DELETION_STORAGE_USAGE {
            return Err(ActionErrorKind::DeleteAccountWithLargeState {
                account_id: self.r.receiver.clone(),
            });
        }
        if self.receiver.balance > 0 {
            self.receipts.push(NewReceipt {
                receiver: beneficiary.clone(),
                depends_on: vec![],
                yield_data_id: None,
                actions: vec![ActionSpec::Transfer {
                    deposit: self.receiver.balance,
                }],
                refund_to: None,
                predecessor: Some("system".parse().expect("a valid account id")),
            });
        }
        self.receiver = Receiver::new(None);
        self.receiver.deleted = true;
        self.actor = self.r.predecessor.clone();
        Ok(())
    }

    fn function_call(
        &mut self,
        index: usize,
        method: &str,
        args: &[u8],
        deposit: u128,
        gas: u64,
    ) -> Result<(), ActionErrorKind> {
        let ledger = self.ledger;
        let r = self.r;
        let Some(code) = self.code() else {
            return Err(ActionErrorKind::FunctionCallError(
                FunctionCallError::CompilationError(CompilationError::CodeDoesNotExist {
                    account_id: r.receiver.clone(),
                }),
            ));
        };
        let height = ledger.height;
        let input = CallInput {
            current: &r.receiver,
            signer: &r.signer,
            signer_key: borsh::to_vec(&r.signer_key).expect("keys serialize"),
            predecessor: &r.predecessor,
            method,
            args,
            promise_results: self.inputs.to_vec(),
            block_height: height,
            block_timestamp_ns: ledger.block_timestamp_ns(height),
            random_seed: ledger.random_seed(height),
            // The VM adds the attached deposit to this itself.
            balance: self.receiver.balance,
            storage_usage: self.storage_usage(),
            deposit,
            gas,
            view: false,
        };
        // Distinct per action, so data ids are unique across the receipt.
        let seed = hash_of(&[r.id.as_ref(), &(index as u64).to_le_bytes()]);
        let pending = &ledger.pending;
        let open_yield = |id: &CryptoHash| pending.is_open_yield(id, &r.receiver, height);
        // The code is the committed one or this receipt's deploy: copy the handle (cheap) so
        // the host may borrow the scope mutably.
        let code = code.clone();
        let mut host = Host::new(
            self.base.storage(),
            &mut self.scope,
            r.receiver.clone(),
            seed,
            &open_yield,
        );
        let outcome = ledger.vm.run(&code, &input, &mut host);
        self.gas_burnt = self.gas_burnt.saturating_add(outcome.burnt_gas);
        self.logs.extend(outcome.logs);
        // First: an unsupported host call also aborts the VM, with a less telling error.
        if let Some(what) = host.unsupported {
            return Err(execution_error(format!(
                "the devnet does not support {what}"
            )));
        }
        if let Some(e) = outcome.error {
            return Err(execution_error(e));
        }
        // Used: burnt, and given to the receipts it created (their gas and execution fees),
        // with its unused gas when some of them have a weight.
        let shared = host.distribute_gas(gas.saturating_sub(outcome.used_gas));
        self.gas_used = self
            .gas_used
            .saturating_add(outcome.used_gas)
            .saturating_add(shared);
        for nr in &host.receipts {
            actions::validate(ledger.vm.limits(), &nr.actions).map_err(|e| {
                ActionErrorKind::NewReceiptValidationError(
                    ReceiptValidationError::ActionsValidation(e),
                )
            })?;
        }
        self.receiver.balance = outcome.balance;
        // Promise indices are per call: shift this call's into the receipt's list.
        let offset = self.receipts.len() as u64;
        for mut nr in host.receipts {
            nr.depends_on.iter_mut().for_each(|i| *i += offset);
            self.receipts.push(nr);
        }
        self.resumes.extend(host.resumes);
        self.value = match outcome.return_data {
            ReturnData::ReceiptIndex(i) => ReturnData::ReceiptIndex(i + offset),
            other => other,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests;
