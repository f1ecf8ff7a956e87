//! NEAR's actions as the devnet carries them in receipts ([`ActionSpec`]), and the checks
//! nearcore makes before a transaction is admitted: which actions exist on the devnet, the
//! protocol's limits on a batch (nearcore's `validate_actions`), and what a function-call
//! access key may sign (nearcore's `verify_and_charge_tx_ephemeral`).
//!
//! The same limits are checked on the receipts a contract creates, as nearcore checks new
//! receipts (a failure there is the call's `NewReceiptValidationError`).
//!
//! Caveats: staking, delegate (meta) transactions, global contracts, deterministic state init
//! and gas keys are refused with `UnsupportedProtocolFeature`.

use near_parameters::vm::LimitConfig;
use near_primitives::account::{AccessKey, AccessKeyPermission, FunctionCallPermission};
use near_primitives::errors::{ActionsValidationError, InvalidAccessKeyError};
use near_primitives::gas::Gas;
use near_primitives::transaction::Action;
use near_primitives::types::AccountId;
use serde::{Deserialize, Serialize};

use near_crypto::PublicKey;

/// One action of a receipt.
///
/// Saved with waiting receipts (postcard numbers variants in order): new variants go last.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionSpec {
    FunctionCall {
        method: String,
        args: Vec<u8>,
        deposit: u128,
        gas: u64,
    },
    Transfer {
        deposit: u128,
    },
    CreateAccount,
    DeployContract {
        code: Vec<u8>,
    },
    AddKey {
        public_key: PublicKey,
        access_key: AccessKey,
    },
    DeleteKey {
        public_key: PublicKey,
    },
    DeleteAccount {
        beneficiary: AccountId,
    },
}

impl ActionSpec {
    /// The tokens the action carries to its receiver.
    pub fn deposit(&self) -> u128 {
        match self {
            Self::FunctionCall { deposit, .. } | Self::Transfer { deposit } => *deposit,
            _ => 0,
        }
    }

    /// The gas the action brings for its execution (function calls only: the devnet charges
    /// no per-action fees).
    pub fn prepaid_gas(&self) -> u64 {
        match self {
            Self::FunctionCall { gas, .. } => *gas,
            _ => 0,
        }
    }

    /// A transaction's action as the devnet runs it; the ones it does not run are refused as
    /// a protocol feature it lacks.
    pub fn from_action(action: &Action) -> Result<Self, ActionsValidationError> {
        Ok(match action {
            Action::FunctionCall(f) => Self::FunctionCall {
                method: f.method_name.clone(),
                args: f.args.clone(),
                deposit: f.deposit.as_yoctonear(),
                gas: f.gas.as_gas(),
            },
            Action::Transfer(t) => Self::Transfer {
                deposit: t.deposit.as_yoctonear(),
            },
            Action::CreateAccount(_) => Self::CreateAccount,
            Action::DeployContract(d) => Self::DeployContract {
                code: d.code.clone(),
            },
            Action::AddKey(a) => match a.access_key.permission {
                AccessKeyPermission::FullAccess | AccessKeyPermission::FunctionCall(_) => {
                    Self::AddKey {
                        public_key: a.public_key.clone(),
                        access_key: a.access_key.clone(),
                    }
                }
                _ => return Err(unsupported("gas keys")),
            },
            Action::DeleteKey(d) => Self::DeleteKey {
                public_key: d.public_key.clone(),
            },
            Action::DeleteAccount(d) => Self::DeleteAccount {
                beneficiary: d.beneficiary_id.clone(),
            },
            Action::Stake(_) => return Err(unsupported("Stake actions")),
            Action::Delegate(_) | Action::DelegateV2(_) => {
                return Err(unsupported("delegate actions (meta transactions)"))
            }
            Action::DeployGlobalContract(_) | Action::UseGlobalContract(_) => {
                return Err(unsupported("global contracts"))
            }
            Action::DeterministicStateInit(_) | Action::UniversalStateInit(_) => {
                return Err(unsupported("state init"))
            }
            Action::TransferToGasKey(_) | Action::WithdrawFromGasKey(_) => {
                return Err(unsupported("gas keys"))
            }
        })
    }
}

fn unsupported(what: &str) -> ActionsValidationError {
    ActionsValidationError::UnsupportedProtocolFeature {
        protocol_feature: format!("{what} (not supported by the devnet)"),
        version: near_primitives::version::PROTOCOL_VERSION,
    }
}

/// A transaction's actions as receipt actions, checked against the protocol's limits.
pub fn from_transaction(
    limits: &LimitConfig,
    actions: &[Action],
) -> Result<Vec<ActionSpec>, ActionsValidationError> {
    let specs = actions
        .iter()
        .map(ActionSpec::from_action)
        .collect::<Result<Vec<_>, _>>()?;
    validate(limits, &specs)?;
    Ok(specs)
}

/// nearcore's `validate_actions`: the batch's size and number of deploys, a delete only last,
/// each action's limits (a call's gas and method name among them), and the batch's total gas.
pub fn validate(
    limits: &LimitConfig,
    actions: &[ActionSpec],
) -> Result<(), ActionsValidationError> {
    if actions.len() as u64 > limits.max_actions_per_receipt {
        return Err(ActionsValidationError::TotalNumberOfActionsExceeded {
            total_number_of_actions: actions.len() as u64,
            limit: limits.max_actions_per_receipt,
        });
    }
    let deploys = actions
        .iter()
        .filter(|a| matches!(a, ActionSpec::DeployContract { .. }))
        .count() as u64;
    if deploys > limits.max_deploy_actions_per_receipt {
        return Err(ActionsValidationError::TotalNumberOfDeployActionsExceeded {
            number_of_deploy_actions: deploys,
            limit: limits.max_deploy_actions_per_receipt,
        });
    }
    let mut total_gas: u64 = 0;
    for (i, action) in actions.iter().enumerate() {
        if matches!(action, ActionSpec::DeleteAccount { .. }) && i + 1 < actions.len() {
            return Err(ActionsValidationError::DeleteActionMustBeFinal);
        }
        validate_one(limits, action)?;
        total_gas = total_gas
            .checked_add(action.prepaid_gas())
            .ok_or(ActionsValidationError::IntegerOverflow)?;
    }
    if total_gas > limits.max_total_prepaid_gas.as_gas() {
        return Err(ActionsValidationError::TotalPrepaidGasExceeded {
            total_prepaid_gas: Gas::from_gas(total_gas),
            limit: limits.max_total_prepaid_gas,
        });
    }
    Ok(())
}

fn validate_one(limits: &LimitConfig, action: &ActionSpec) -> Result<(), ActionsValidationError> {
    match action {
        ActionSpec::FunctionCall {
            method, args, gas, ..
        } => {
            if *gas == 0 {
                return Err(ActionsValidationError::FunctionCallZeroAttachedGas);
            }
            if method.is_empty() {
                return Err(ActionsValidationError::FunctionCallEmptyMethodName);
            }
            if method.len() as u64 > limits.max_length_method_name {
                return Err(
                    ActionsValidationError::FunctionCallMethodNameLengthExceeded {
                        length: method.len() as u64,
                        limit: limits.max_length_method_name,
                    },
                );
            }
            if args.len() as u64 > limits.max_arguments_length {
                return Err(
                    ActionsValidationError::FunctionCallArgumentsLengthExceeded {
                        length: args.len() as u64,
                        limit: limits.max_arguments_length,
                    },
                );
            }
        }
        ActionSpec::DeployContract { code } if code.len() as u64 > limits.max_contract_size => {
            return Err(ActionsValidationError::ContractSizeExceeded {
                size: code.len() as u64,
                limit: limits.max_contract_size,
            });
        }
        ActionSpec::AddKey { access_key, .. } => {
            if let AccessKeyPermission::FunctionCall(p) = &access_key.permission {
                validate_permission(limits, p)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A function-call key's receiver must be an account id, and its method names within limits.
fn validate_permission(
    limits: &LimitConfig,
    p: &FunctionCallPermission,
) -> Result<(), ActionsValidationError> {
    if p.receiver_id.parse::<AccountId>().is_err() {
        // nearcore reports at most twice the longest account id.
        let mut end = p.receiver_id.len().min(2 * AccountId::MAX_LEN);
        while !p.receiver_id.is_char_boundary(end) {
            end -= 1;
        }
        return Err(ActionsValidationError::InvalidAccountId {
            account_id: p.receiver_id[..end].to_owned(),
        });
    }
    let mut total: u64 = 0;
    for name in &p.method_names {
        let length = name.len() as u64;
        if length > limits.max_length_method_name {
            return Err(ActionsValidationError::AddKeyMethodNameLengthExceeded {
                length,
                limit: limits.max_length_method_name,
            });
        }
        // Each name counts with a terminating byte.
        total += length + 1;
    }
    if total > limits.max_number_bytes_method_names {
        return Err(
            ActionsValidationError::AddKeyMethodNamesNumberOfBytesExceeded {
                total_number_of_bytes: total,
                limit: limits.max_number_bytes_method_names,
            },
        );
    }
    Ok(())
}

/// What a function-call access key may sign, as nearcore checks it: exactly one function call,
/// without deposit, to the key's receiver, and to one of its methods (any when it lists none).
pub fn function_call_key_allows(
    permission: &FunctionCallPermission,
    receiver: &AccountId,
    actions: &[ActionSpec],
) -> Result<(), InvalidAccessKeyError> {
    let [ActionSpec::FunctionCall {
        method, deposit, ..
    }] = actions
    else {
        return Err(InvalidAccessKeyError::RequiresFullAccess);
    };
    if *deposit > 0 {
        return Err(InvalidAccessKeyError::DepositWithFunctionCall);
    }
    if receiver.as_str() != permission.receiver_id {
        return Err(InvalidAccessKeyError::ReceiverMismatch {
            tx_receiver: receiver.clone(),
            ak_receiver: permission.receiver_id.clone(),
        });
    }
    if !permission.method_names.is_empty() && !permission.method_names.contains(method) {
        return Err(InvalidAccessKeyError::MethodNameMismatch {
            method_name: method.clone(),
        });
    }
    Ok(())
}
