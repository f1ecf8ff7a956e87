//! NEAR's action fees, from the protocol's runtime config (near-parameters), as nearcore
//! charges them: sending a receipt burns its send fees (a transaction's, when it is admitted;
//! a contract's, inside the VM), and running it burns its execution fees, which its sender
//! prepaid. Each fee depends on the action and its size (code, method name and arguments, a
//! key's method names); a transfer to an implicit account also pays for the account it may
//! create; sending to oneself is cheaper ("sir").
//!
//! Refunds (the balance of a deleted account, sent by `system`) are free, as on NEAR.

use near_parameters::vm::Config;
use near_parameters::{
    transfer_exec_fee, transfer_send_fee, ActionCosts, Fee, ParameterCost, RuntimeFeesConfig,
};
use near_primitives::account::AccessKeyPermission;
use near_primitives::types::AccountId;
use std::sync::Arc;

use crate::actions::ActionSpec;

/// The fees of the protocol version the devnet runs.
pub struct Fees {
    config: Arc<RuntimeFeesConfig>,
    eth_implicit_accounts: bool,
    universal_accounts: bool,
}

impl Fees {
    pub fn new(config: Arc<RuntimeFeesConfig>, wasm: &Config) -> Self {
        Self {
            config,
            eth_implicit_accounts: wasm.eth_implicit_accounts,
            universal_accounts: wasm.universal_accounts,
        }
    }

    /// Gas burnt to send a receipt of `actions` to `receiver` (`sir`: the sender is the
    /// receiver).
    pub fn send(&self, sir: bool, actions: &[ActionSpec], receiver: &AccountId) -> u64 {
        let base = self.gas(ActionCosts::new_action_receipt, |f| f.send_fee(sir));
        actions.iter().fold(base, |sum, action| {
            let fee = self.action(
                action,
                receiver,
                |f| f.send_fee(sir),
                |kind| {
                    transfer_send_fee(
                        &self.config,
                        sir,
                        self.eth_implicit_accounts,
                        self.universal_accounts,
                        kind,
                    )
                },
            );
            sum.saturating_add(fee)
        })
    }

    /// Gas burnt when a receipt starts (its sender prepaid it).
    pub fn receipt_exec(&self) -> u64 {
        self.gas(ActionCosts::new_action_receipt, Fee::exec_fee)
    }

    /// Gas burnt when `action` runs (its sender prepaid it).
    pub fn exec(&self, action: &ActionSpec, receiver: &AccountId) -> u64 {
        self.action(action, receiver, Fee::exec_fee, |kind| {
            transfer_exec_fee(
                &self.config,
                self.eth_implicit_accounts,
                self.universal_accounts,
                kind,
            )
        })
    }

    /// Everything a receipt of `actions` burns when it runs and all its actions run.
    pub fn total_exec(&self, actions: &[ActionSpec], receiver: &AccountId) -> u64 {
        actions.iter().fold(self.receipt_exec(), |sum, a| {
            sum.saturating_add(self.exec(a, receiver))
        })
    }

    fn gas(&self, cost: ActionCosts, part: impl Fn(&Fee) -> ParameterCost) -> u64 {
        part(self.config.fee(cost)).gas.as_gas()
    }

    /// One action's fee: a base and, for some, a fee per byte.
    fn action(
        &self,
        action: &ActionSpec,
        receiver: &AccountId,
        part: impl Fn(&Fee) -> ParameterCost,
        transfer: impl Fn(near_primitives::account::id::AccountType) -> ParameterCost,
    ) -> u64 {
        let fee = |cost| self.gas(cost, &part);
        let per_byte = |base, byte, bytes: usize| {
            fee(base).saturating_add(fee(byte).saturating_mul(bytes as u64))
        };
        match action {
            ActionSpec::CreateAccount => fee(ActionCosts::create_account),
            ActionSpec::DeployContract { code } => per_byte(
                ActionCosts::deploy_contract_base,
                ActionCosts::deploy_contract_byte,
                code.len(),
            ),
            ActionSpec::FunctionCall { method, args, .. } => per_byte(
                ActionCosts::function_call_base,
                ActionCosts::function_call_byte,
                method.len() + args.len(),
            ),
            ActionSpec::Transfer { .. } => transfer(receiver.get_account_type()).gas.as_gas(),
            ActionSpec::AddKey { access_key, .. } => match &access_key.permission {
                AccessKeyPermission::FunctionCall(p) => per_byte(
                    ActionCosts::add_function_call_key_base,
                    ActionCosts::add_function_call_key_byte,
                    // Each name counts with a terminating byte.
                    p.method_names.iter().map(|m| m.len() + 1).sum(),
                ),
                _ => fee(ActionCosts::add_full_access_key),
            },
            ActionSpec::DeleteKey { .. } => fee(ActionCosts::delete_key),
            ActionSpec::DeleteAccount { .. } => fee(ActionCosts::delete_account),
        }
    }
}
