//! The host a contract's wasm calls into while it runs: NEAR VM's [`External`] over one
//! account's storage, recording the receipts, yields and resumes a call asks for.
//!
//! The VM (near-vm-runner) meters gas, checks limits and decodes every host call; this side
//! only keeps state. Reads go through the receipt's write overlay ([`Scope`]) to the account's
//! committed storage, and writes go to the overlay only: the chain commits the overlay if the
//! receipt succeeds and drops it if it fails, so a failed receipt changes nothing, as on NEAR.
//! Nothing is copied per call. Data ids (which are also yield ids) are derived from the
//! receipt being executed and a counter, so they are unique across the chain's whole history.
//!
//! `promise_yield_resume` succeeds for a yield of this account that is still open (the chain
//! answers from its index) or that this receipt created, once per yield and receipt.
//!
//! Promise batches may hold every action the devnet runs (function calls, with their gas
//! weights, transfers, account creation and deletion, deploys, keys); a call's unused gas is
//! shared among its weighted function calls when it ends ([`Host::distribute_gas`]).
//!
//! Caveats: storage reads and writes are not charged per trie node touched (NEAR charges
//! those through the access tracker; the devnet's gas is therefore a little lower); staking,
//! global contracts, state init, gas keys and yields with caller-chosen ids are recorded as
//! unsupported and fail the call after it returns.

use near_crypto::PublicKey;
use near_primitives_core::account::{AccessKey, AccessKeyPermission, FunctionCallPermission};
use near_primitives_core::hash::{hash, CryptoHash, YieldId};
use near_primitives_core::types::{AccountId, Balance, Gas, GasWeight, Nonce, NonceIndex};
use near_primitives_core::universal_state_init::{
    DecodeMode, RawStateInit, StateInitError, UniversalStateInitCounts,
};
use near_vm_runner::logic::types::{
    ActionIndex, GlobalContractDeployMode, GlobalContractIdentifier, ReceiptIndex,
};
use near_vm_runner::logic::{External, HostError, StorageAccessTracker, VMLogicError, ValuePtr};
use std::collections::{BTreeMap, BTreeSet};

use crate::storage::Overlay;

type Result<T, E = VMLogicError> = std::result::Result<T, E>;

pub use crate::actions::ActionSpec;

/// A receipt the running call created (by promise index).
#[derive(Clone, Debug)]
pub struct NewReceipt {
    pub receiver: AccountId,
    /// Promise indices (into this call's receipts) whose results it waits for.
    pub depends_on: Vec<ReceiptIndex>,
    /// Set for a yield: the data id its resumption (or timeout) delivers.
    pub yield_data_id: Option<CryptoHash>,
    pub actions: Vec<ActionSpec>,
    pub refund_to: Option<AccountId>,
    /// Who sends it, when not the account whose call created it (the system, for the balance
    /// a deleted account leaves its beneficiary).
    pub predecessor: Option<AccountId>,
}

/// A function call scheduled with a gas weight: which receipt and action, and the weight.
#[derive(Clone, Copy, Debug)]
pub struct Weighted {
    pub receipt: ReceiptIndex,
    pub action: usize,
    pub weight: u64,
}

/// What the calls of one receipt share: its uncommitted writes and the yields it created or
/// resumed.
#[derive(Debug, Default)]
pub struct Scope {
    pub overlay: Overlay,
    created_yields: BTreeSet<CryptoHash>,
    resumed: BTreeSet<CryptoHash>,
}

/// One call's host: the account's storage and what the call asked the chain to do.
pub struct Host<'a> {
    committed: &'a BTreeMap<Vec<u8>, Vec<u8>>,
    scope: &'a mut Scope,
    current: AccountId,
    /// The id of the receipt being executed: seeds data ids.
    seed: CryptoHash,
    data_count: u64,
    /// Whether a data id is a yield of this account still open (from the chain's index).
    open_yield: &'a (dyn Fn(&CryptoHash) -> bool + Sync),
    pub receipts: Vec<NewReceipt>,
    pub resumes: Vec<(CryptoHash, Vec<u8>)>,
    /// Function calls that share the call's unused gas, by weight.
    pub weights: Vec<Weighted>,
    pub unsupported: Option<&'static str>,
}

impl<'a> Host<'a> {
    pub fn new(
        committed: &'a BTreeMap<Vec<u8>, Vec<u8>>,
        scope: &'a mut Scope,
        current: AccountId,
        seed: CryptoHash,
        open_yield: &'a (dyn Fn(&CryptoHash) -> bool + Sync),
    ) -> Self {
        Self {
            committed,
            scope,
            current,
            seed,
            data_count: 0,
            open_yield,
            receipts: vec![],
            resumes: vec![],
            weights: vec![],
            unsupported: None,
        }
    }

    /// A key's value as this receipt sees it: its own writes first.
    fn get(&self, key: &[u8]) -> Option<&[u8]> {
        match self.scope.overlay.get(key) {
            Some(value) => value.as_deref(),
            None => self.committed.get(key).map(Vec::as_slice),
        }
    }

    fn receipt(&mut self, index: ReceiptIndex) -> Option<&mut NewReceipt> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.receipts.get_mut(i))
    }

    /// Appends an action to a receipt; returns its index in the receipt.
    fn push_action(&mut self, index: ReceiptIndex, action: ActionSpec) -> usize {
        match self.receipt(index) {
            Some(r) => {
                r.actions.push(action);
                r.actions.len() - 1
            }
            // The VM validates promise indices before calling us; this is defensive only.
            None => {
                self.unsupported = Some("an action on an unknown promise");
                0
            }
        }
    }

    /// Shares `unused` gas among the function calls scheduled with a weight, as nearcore
    /// does: each gets its share rounded down, the last one also the remainder. Returns the
    /// gas given (all of `unused`, or none when no call has a weight).
    pub fn distribute_gas(&mut self, unused: u64) -> u64 {
        let total: u128 = self.weights.iter().map(|w| u128::from(w.weight)).sum();
        if total == 0 {
            return 0;
        }
        let mut given = 0u64;
        let weights = std::mem::take(&mut self.weights);
        for (i, w) in weights.iter().enumerate() {
            let share = if i + 1 == weights.len() {
                unused.saturating_sub(given)
            } else {
                (u128::from(unused) * u128::from(w.weight) / total) as u64
            };
            given += share;
            let action = self
                .receipt(w.receipt)
                .and_then(|r| r.actions.get_mut(w.action));
            if let Some(ActionSpec::FunctionCall { gas, .. }) = action {
                *gas = gas.saturating_add(share);
            }
        }
        given
    }

    fn unsupported(&mut self, what: &'static str) {
        self.unsupported.get_or_insert(what);
    }
}

struct Value(Vec<u8>);

impl ValuePtr for Value {
    fn len(&self) -> u32 {
        u32::try_from(self.0.len()).unwrap_or(u32::MAX)
    }

    fn deref(&self, _: &mut dyn StorageAccessTracker) -> Result<Vec<u8>> {
        Ok(self.0.clone())
    }
}

impl External for Host<'_> {
    fn storage_set(
        &mut self,
        _: &mut dyn StorageAccessTracker,
        key: &[u8],
        value: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        let old = self.get(key).map(<[u8]>::to_vec);
        self.scope
            .overlay
            .insert(key.to_vec(), Some(value.to_vec()));
        Ok(old)
    }

    fn storage_get<'b>(
        &'b self,
        _: &mut dyn StorageAccessTracker,
        key: &[u8],
    ) -> Result<Option<Box<dyn ValuePtr + 'b>>> {
        Ok(self
            .get(key)
            .map(|v| Box::new(Value(v.to_vec())) as Box<dyn ValuePtr>))
    }

    fn storage_remove(
        &mut self,
        _: &mut dyn StorageAccessTracker,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        // As NEAR's trie update does, the removal is recorded even for an absent key.
        let old = self.get(key).map(<[u8]>::to_vec);
        self.scope.overlay.insert(key.to_vec(), None);
        Ok(old)
    }

    fn storage_has_key(&mut self, _: &mut dyn StorageAccessTracker, key: &[u8]) -> Result<bool> {
        Ok(self.get(key).is_some())
    }

    fn generate_data_id(&mut self) -> CryptoHash {
        let mut bytes = self.seed.as_ref().to_vec();
        bytes.extend_from_slice(&self.data_count.to_le_bytes());
        self.data_count += 1;
        hash(&bytes)
    }

    fn get_recorded_storage_size(&self) -> usize {
        0
    }

    fn storage_proof_size_before_receipt(&self) -> usize {
        0
    }

    fn validator_stake(&self, _: &AccountId) -> Result<Option<Balance>> {
        Ok(None)
    }

    fn validator_total_stake(&self) -> Result<Balance> {
        Ok(Balance::ZERO)
    }

    fn chain_id(&self) -> String {
        crate::CHAIN_ID.to_owned()
    }

    fn create_action_receipt(
        &mut self,
        receipt_indices: Vec<ReceiptIndex>,
        receiver_id: AccountId,
    ) -> Result<ReceiptIndex> {
        self.receipts.push(NewReceipt {
            receiver: receiver_id,
            depends_on: receipt_indices,
            yield_data_id: None,
            actions: vec![],
            refund_to: None,
            predecessor: None,
        });
        Ok(self.receipts.len() as u64 - 1)
    }

    fn create_promise_yield_receipt(
        &mut self,
        receiver_id: AccountId,
    ) -> Result<(ReceiptIndex, CryptoHash)> {
        let data_id = self.generate_data_id();
        self.receipts.push(NewReceipt {
            receiver: receiver_id,
            depends_on: vec![],
            yield_data_id: Some(data_id),
            actions: vec![],
            refund_to: None,
            predecessor: None,
        });
        self.scope.created_yields.insert(data_id);
        Ok((self.receipts.len() as u64 - 1, data_id))
    }

    fn create_promise_yield_receipt_with_id(
        &mut self,
        _: AccountId,
        _: YieldId,
    ) -> Result<Option<(ReceiptIndex, CryptoHash)>> {
        self.unsupported("yields with caller-chosen ids");
        // Any error aborts the call; the chain reports the `unsupported` reason instead.
        Err(HostError::ProhibitedInView {
            method_name: "promise_yield_create_with_id (not supported by the devnet)".into(),
        }
        .into())
    }

    fn submit_promise_resume_data(&mut self, data_id: CryptoHash, data: Vec<u8>) -> Result<bool> {
        let known = self.scope.created_yields.contains(&data_id) || (self.open_yield)(&data_id);
        if !known || !self.scope.resumed.insert(data_id) {
            return Ok(false);
        }
        self.resumes.push((data_id, data));
        Ok(true)
    }

    fn submit_promise_resume_data_with_yield_id(&mut self, _: YieldId, _: Vec<u8>) -> Result<bool> {
        self.unsupported("resumes by caller-chosen yield id");
        Ok(false)
    }

    fn append_action_create_account(&mut self, receipt_index: ReceiptIndex) {
        self.push_action(receipt_index, ActionSpec::CreateAccount);
    }

    fn append_action_deploy_contract(&mut self, receipt_index: ReceiptIndex, code: Vec<u8>) {
        self.push_action(receipt_index, ActionSpec::DeployContract { code });
    }

    fn append_action_deploy_global_contract(
        &mut self,
        _: ReceiptIndex,
        _: Vec<u8>,
        _: GlobalContractDeployMode,
    ) {
        self.unsupported("global contracts");
    }

    fn append_action_use_global_contract(&mut self, _: ReceiptIndex, _: GlobalContractIdentifier) {
        self.unsupported("global contracts");
    }

    fn append_action_deterministic_state_init(
        &mut self,
        _: ReceiptIndex,
        _: GlobalContractIdentifier,
        _: Balance,
    ) -> ActionIndex {
        self.unsupported("state init");
        0
    }

    fn set_deterministic_state_init_data_entry(
        &mut self,
        _: ReceiptIndex,
        _: ActionIndex,
        _: Vec<u8>,
        _: Vec<u8>,
    ) -> Result<()> {
        self.unsupported("state init");
        Ok(())
    }

    fn check_state_init(&self, _: &RawStateInit) -> Result<(), StateInitError> {
        Ok(())
    }

    fn state_init_send_counts(&self, _: &RawStateInit, _: DecodeMode) -> UniversalStateInitCounts {
        UniversalStateInitCounts::default()
    }

    fn append_action_universal_state_init(&mut self, _: ReceiptIndex, _: RawStateInit, _: Balance) {
        self.unsupported("state init");
    }

    fn append_action_function_call_weight(
        &mut self,
        receipt_index: ReceiptIndex,
        method_name: Vec<u8>,
        args: Vec<u8>,
        attached_deposit: Balance,
        prepaid_gas: Gas,
        gas_weight: GasWeight,
    ) -> Result<()> {
        let method = String::from_utf8(method_name).map_err(|_| HostError::BadUTF8)?;
        let action = self.push_action(
            receipt_index,
            ActionSpec::FunctionCall {
                method,
                args,
                deposit: attached_deposit.as_yoctonear(),
                gas: prepaid_gas.as_gas(),
            },
        );
        // The call's unused gas is shared among these when it ends (`distribute_gas`).
        if gas_weight.0 > 0 {
            self.weights.push(Weighted {
                receipt: receipt_index,
                action,
                weight: gas_weight.0,
            });
        }
        Ok(())
    }

    fn append_action_transfer(&mut self, receipt_index: ReceiptIndex, deposit: Balance) {
        self.push_action(
            receipt_index,
            ActionSpec::Transfer {
                deposit: deposit.as_yoctonear(),
            },
        );
    }

    fn append_action_transfer_to_gas_key(&mut self, _: ReceiptIndex, _: PublicKey, _: Balance) {
        self.unsupported("gas keys");
    }

    fn append_action_add_gas_key_with_full_access(
        &mut self,
        _: ReceiptIndex,
        _: PublicKey,
        _: NonceIndex,
    ) {
        self.unsupported("gas keys");
    }

    fn append_action_add_gas_key_with_function_call(
        &mut self,
        _: ReceiptIndex,
        _: PublicKey,
        _: NonceIndex,
        _: Option<Balance>,
        _: AccountId,
        _: Vec<Vec<u8>>,
    ) -> Result<()> {
        self.unsupported("gas keys");
        Ok(())
    }

    fn append_action_stake(&mut self, _: ReceiptIndex, _: Balance, _: PublicKey) {
        self.unsupported("staking");
    }

    fn append_action_add_key_with_full_access(
        &mut self,
        receipt_index: ReceiptIndex,
        public_key: PublicKey,
        nonce: Nonce,
    ) {
        let access_key = AccessKey {
            nonce,
            permission: AccessKeyPermission::FullAccess,
        };
        self.push_action(
            receipt_index,
            ActionSpec::AddKey {
                public_key,
                access_key,
            },
        );
    }

    fn append_action_add_key_with_function_call(
        &mut self,
        receipt_index: ReceiptIndex,
        public_key: PublicKey,
        nonce: Nonce,
        allowance: Option<Balance>,
        receiver_id: AccountId,
        method_names: Vec<Vec<u8>>,
    ) -> Result<()> {
        let method_names = method_names
            .into_iter()
            .map(|name| String::from_utf8(name).map_err(|_| HostError::InvalidMethodName))
            .collect::<Result<Vec<_>, _>>()?;
        let access_key = AccessKey {
            nonce,
            permission: AccessKeyPermission::FunctionCall(FunctionCallPermission {
                allowance,
                receiver_id: receiver_id.into(),
                method_names,
            }),
        };
        self.push_action(
            receipt_index,
            ActionSpec::AddKey {
                public_key,
                access_key,
            },
        );
        Ok(())
    }

    fn append_action_delete_key(&mut self, receipt_index: ReceiptIndex, public_key: PublicKey) {
        self.push_action(receipt_index, ActionSpec::DeleteKey { public_key });
    }

    fn append_action_delete_account(
        &mut self,
        receipt_index: ReceiptIndex,
        beneficiary: AccountId,
    ) {
        self.push_action(receipt_index, ActionSpec::DeleteAccount { beneficiary });
    }

    fn get_receipt_receiver(&self, receipt_index: ReceiptIndex) -> &AccountId {
        // The VM asks only for indices it handed out; the fallback is defensive.
        usize::try_from(receipt_index)
            .ok()
            .and_then(|i| self.receipts.get(i))
            .map_or(&self.current, |r| &r.receiver)
    }

    fn set_refund_to(&mut self, receipt_index: ReceiptIndex, refund_to: AccountId) {
        if let Some(r) = self.receipt(receipt_index) {
            r.refund_to = Some(refund_to);
        }
    }

    fn post_quantum_keys_enabled(&self) -> bool {
        false
    }
}
