//! Running a contract's wasm: NEAR's VM (near-vm-runner, wasmtime backend) with the protocol's
//! current limits and fees; compiled modules cached on disk in the chain's directory and, loaded,
//! in memory (without the in-memory cache every call would deserialize the module again).
//!
//! One call is one [`run`](Vm::run): the VM prepares (validates, instruments for gas) and
//! executes the method against a [`Host`]; the outcome carries the return value, logs, gas and
//! the guest's error if it failed. What the call asked of the chain (receipts, resumes) stays
//! in the host for the chain to act on.

use near_parameters::vm::{Config, LimitConfig};
use near_parameters::{
    AccountCreationConfig, RuntimeConfig, RuntimeConfigStore, RuntimeFeesConfig,
};
use near_primitives_core::account::AccountContract;
use near_primitives_core::config::ViewConfig;
use near_primitives_core::hash::CryptoHash;
use near_primitives_core::types::{AccountId, Balance, Gas};
use near_primitives_core::version::PROTOCOL_VERSION;
use near_vm_runner::logic::types::PromiseResult;
use near_vm_runner::logic::{ReturnData, VMContext};
use near_vm_runner::{
    noop_background_spawner, ContractCode, ContractRuntimeCache, FilesystemContractRuntimeCache,
    MockContractRuntimeCache,
};
use std::rc::Rc;
use std::sync::Arc;

use crate::fees::Fees;
use crate::host::Host;

/// A deployed contract's code, as the VM asks for it (a handle: clones share the code).
#[derive(Clone)]
pub struct Code {
    hash: CryptoHash,
    code: Arc<ContractCode>,
}

impl Code {
    pub fn new(wasm: Vec<u8>) -> Self {
        let code = ContractCode::new(wasm, None);
        Self {
            hash: *code.hash(),
            code: Arc::new(code),
        }
    }

    pub fn hash(&self) -> CryptoHash {
        self.hash
    }

    pub fn wasm(&self) -> &[u8] {
        self.code.code()
    }
}

impl near_vm_runner::Contract for Code {
    fn hash(&self) -> CryptoHash {
        self.hash
    }

    fn get_code(&self) -> Option<Arc<ContractCode>> {
        Some(self.code.clone())
    }
}

/// Who calls what, with what: everything of [`VMContext`] the chain decides.
pub struct CallInput<'a> {
    pub current: &'a AccountId,
    pub signer: &'a AccountId,
    /// The borsh form of the transaction's public key.
    pub signer_key: Vec<u8>,
    pub predecessor: &'a AccountId,
    pub method: &'a str,
    pub args: &'a [u8],
    /// The results of the receipts this one waited for: `None` for a failure (or timeout).
    pub promise_results: Vec<Option<Vec<u8>>>,
    pub block_height: u64,
    pub block_timestamp_ns: u64,
    pub random_seed: [u8; 32],
    pub balance: u128,
    pub storage_usage: u64,
    pub deposit: u128,
    pub gas: u64,
    /// A view: read-only, with the view gas cap.
    pub view: bool,
}

/// How a call ended.
pub struct CallOutcome {
    pub return_data: ReturnData,
    pub logs: Vec<String>,
    pub burnt_gas: u64,
    /// Burnt gas plus the gas the call gave the receipts it created.
    pub used_gas: u64,
    /// The account's balance after the call's outgoing deposits.
    pub balance: u128,
    /// The guest's failure, in NEAR's words (e.g. `Smart contract panicked: …`).
    pub error: Option<String>,
}

/// Blocks per epoch, as NEAR mainnet's (the VM's `epoch_height` counts them).
pub const EPOCH_LENGTH: u64 = 43_200;

/// The VM with NEAR's current protocol configuration.
pub struct Vm {
    /// The protocol's whole runtime configuration, as `EXPERIMENTAL_protocol_config` shows it.
    runtime: Arc<RuntimeConfig>,
    config: Arc<Config>,
    fees: Arc<RuntimeFeesConfig>,
    account_creation: AccountCreationConfig,
    action_fees: Fees,
    cache: Box<dyn ContractRuntimeCache>,
    yield_timeout_blocks: u64,
    view_gas: Gas,
}

impl Default for Vm {
    fn default() -> Self {
        Self::new()
    }
}

impl Vm {
    /// A VM whose compiled modules live in memory only and are loaded anew for every call:
    /// for short-lived uses; a chain uses [`Vm::with_cache_dir`].
    pub fn new() -> Self {
        Self::with_cache(Box::new(MockContractRuntimeCache::default()))
    }

    /// A VM keeping compiled modules in `dir` and the loaded ones in memory.
    pub fn with_cache_dir(dir: &std::path::Path) -> std::io::Result<Self> {
        let cache = FilesystemContractRuntimeCache::with_memory_cache(
            dir,
            None::<&str>,
            "compiled-contracts",
            4,
            None,
            256 << 20,
            noop_background_spawner(),
        )?;
        Ok(Self::with_cache(Box::new(cache)))
    }

    fn with_cache(cache: Box<dyn ContractRuntimeCache>) -> Self {
        let store = RuntimeConfigStore::new(None);
        let runtime = store.get_config(PROTOCOL_VERSION);
        let mut config = Config::clone(&runtime.wasm_config);
        config.vm_kind = config.vm_kind.replace_with_wasmtime_if_unsupported();
        Self {
            runtime: runtime.clone(),
            yield_timeout_blocks: config.limit_config.yield_timeout_length_in_blocks,
            config: Arc::new(config),
            fees: runtime.fees.clone(),
            account_creation: runtime.account_creation_config.clone(),
            action_fees: Fees::new(runtime.fees.clone(), &runtime.wasm_config),
            cache,
            view_gas: Gas::from_teragas(300),
        }
    }

    /// NEAR's runtime configuration at the current protocol version (fees, limits, storage
    /// cost), of which the VM runs the wasm part.
    pub fn runtime_config(&self) -> &RuntimeConfig {
        &self.runtime
    }

    /// The protocol's limits (actions per receipt, contract size, method names...).
    pub fn limits(&self) -> &LimitConfig {
        &self.config.limit_config
    }

    /// NEAR's action fees.
    pub fn fees(&self) -> &Fees {
        &self.action_fees
    }

    /// Who may create top-level accounts: with NEAR's current (mainnet) parameters, only
    /// `registrar` (top-level names shorter than 65 characters, i.e. all of them, are
    /// reserved to it).
    pub fn account_creation(&self) -> &AccountCreationConfig {
        &self.account_creation
    }

    /// Blocks after which an unresumed yield resolves as failed (NEAR: 200).
    pub fn yield_timeout_blocks(&self) -> u64 {
        self.yield_timeout_blocks
    }

    /// Runs `input.method` of `code` against `host`.
    pub fn run(&self, code: &Code, input: &CallInput<'_>, host: &mut Host<'_>) -> CallOutcome {
        let promise_results: Vec<PromiseResult> = input
            .promise_results
            .iter()
            .map(|r| match r {
                Some(v) => PromiseResult::Successful(Rc::from(v.as_slice())),
                None => PromiseResult::Failed,
            })
            .collect();
        let context = VMContext {
            current_account_id: input.current.clone(),
            signer_account_id: input.signer.clone(),
            signer_account_pk: input.signer_key.clone(),
            predecessor_account_id: input.predecessor.clone(),
            refund_to_account_id: input.predecessor.clone(),
            input: Rc::from(input.args),
            promise_results: promise_results.into(),
            block_height: input.block_height,
            block_timestamp: input.block_timestamp_ns,
            epoch_height: input.block_height / EPOCH_LENGTH + 1,
            account_balance: Balance::from_yoctonear(input.balance),
            account_locked_balance: Balance::ZERO,
            storage_usage: input.storage_usage,
            account_contract: AccountContract::Local(code.hash),
            attached_deposit: Balance::from_yoctonear(input.deposit),
            prepaid_gas: Gas::from_gas(input.gas),
            random_seed: input.random_seed.to_vec(),
            view_config: input.view.then_some(ViewConfig {
                max_gas_burnt: self.view_gas,
            }),
            output_data_receivers: vec![],
        };
        let gas_counter = context.make_gas_counter(&self.config);
        let prepared = near_vm_runner::prepare(
            code,
            self.config.clone(),
            Some(self.cache.as_ref()),
            gas_counter,
            input.method,
        );
        match near_vm_runner::run(prepared, host, &context, self.fees.clone()) {
            Ok(outcome) => CallOutcome {
                error: outcome.aborted.as_ref().map(|e| e.to_string()),
                return_data: outcome.return_data,
                logs: outcome.logs,
                burnt_gas: outcome.burnt_gas.as_gas(),
                used_gas: outcome.used_gas.as_gas(),
                balance: outcome.balance.as_yoctonear(),
            },
            // The VM's own failure (not the guest's): reported as the call's failure.
            Err(e) => CallOutcome {
                error: Some(format!("the VM failed: {e:?}")),
                return_data: ReturnData::None,
                logs: vec![],
                burnt_gas: 0,
                used_gas: 0,
                balance: input.balance,
            },
        }
    }
}
