//! The signer contract on NEAR: a thin near-sdk binding around the pure `contract` core.
//!
//! Each method reads the call context from `env`, runs the core over the account's storage,
//! and carries out the effects:
//! `Yield` → `promise_yield_create` (the caller's result becomes the callback's), `Resume` →
//! `promise_yield_resume`, `Refund` → a transfer, `Log` → `log_str`. A refused call panics
//! with the core's error message, which reverts everything, as NEAR does with any panic.
//!
//! Timeouts follow NEAR's own signer: the yield callback cleans the request up and then fails
//! through a second promise (`fail_on_timeout`), so that the cleanup is kept while the caller
//! still sees an error.
//!
//! State is read and written by hand, not through near-sdk's `contract_state` (which reads and
//! rewrites one value on every call): the root is decoded from `STATE` with its layout tag, so
//! a state of another layout is refused with a clear error, and written back only when a call
//! changed it; everything else lives under its own key ([`contract::storage`]). Every method is
//! therefore a static function.
//!
//! Promises are made with the low-level `env::promise_batch_*` calls, not near-sdk's `Promise`
//! type: that type links every promise action the SDK knows, so the wasm would import host
//! functions only the newest protocol versions have, and older runtimes would refuse it.
//!
//! Build: `cargo build -p contract-wasm --target wasm32-unknown-unknown --profile wasm`.

use contract::storage::{decode_root, encode_root, STATE_KEY};
use contract::views::near_state::{
    DomainConfigJson, Keyset, ProtocolContractState, ThresholdParameters,
};
use contract::views::{PendingRequestView, SystemLoad};
use contract::{
    AccountId, Config, Contract, ContractError, Crypto, Ctx, Effect, InitParticipant,
    InitRunningArgs, ParticipantInfo, RequestId, Root, Storage, YieldId, YieldOutcome,
};
use near_sdk::{env, near, Gas, GasWeight, NearToken, PromiseError};
use primitives::request::{SignArgs, SignRequestArgs};
use primitives::response::SignatureResponse;
use primitives::{DomainId, NearPublicKey, SignatureScheme};

/// Gas reserved for the yield callback.
const CALLBACK_GAS: Gas = Gas::from_tgas(10);
/// Gas for the promise that turns a timeout into the caller's error.
const FAIL_GAS: Gas = Gas::from_tgas(3);
const DATA_ID_REGISTER: u64 = 0;

/// The contract. It has no fields: its state is the account's storage.
#[near(contract_state)]
#[derive(Default)]
pub struct Signer {}

fn ctx() -> Ctx {
    Ctx {
        current_account: AccountId(env::current_account_id().to_string()),
        predecessor: AccountId(env::predecessor_account_id().to_string()),
        deposit: env::attached_deposit().as_yoctonear(),
        block_height: env::block_height(),
        random_seed: env::random_seed_array(),
        prepaid_gas: env::prepaid_gas().as_gas(),
    }
}

fn or_panic<T>(r: Result<T, ContractError>) -> T {
    r.unwrap_or_else(|e| env::panic_str(&e.to_string()))
}

/// The account's storage, through NEAR's host functions.
#[derive(Default)]
pub struct EnvStorage;

impl Storage for EnvStorage {
    fn read(&self, key: &[u8]) -> Option<Vec<u8>> {
        env::storage_read(key)
    }

    fn write(&mut self, key: &[u8], value: &[u8]) {
        env::storage_write(key, value);
    }

    fn remove(&mut self, key: &[u8]) {
        env::storage_remove(key);
    }
}

/// The contract as stored: an absent root is an uninitialized contract (every call but
/// `init` then fails with the core's "not initialized").
fn load() -> Contract<EnvStorage> {
    let root = match env::storage_read(STATE_KEY) {
        Some(bytes) => or_panic(decode_root(&bytes)),
        None => Root::default(),
    };
    Contract::from_parts(root, EnvStorage)
}

fn read<T>(f: impl FnOnce(&Contract<EnvStorage>) -> Result<T, ContractError>) -> T {
    or_panic(f(&load()))
}

/// Runs a changing call; the root is written back only if the call changed it.
fn write<T>(f: impl FnOnce(&mut Contract<EnvStorage>) -> Result<T, ContractError>) -> T {
    let mut c = load();
    let before = c.root().clone();
    let out = or_panic(f(&mut c));
    if *c.root() != before {
        env::storage_write(STATE_KEY, &encode_root(c.root()));
    }
    out
}

/// A payable call whose result is effects to carry out.
fn act_payable(
    f: impl FnOnce(&mut Contract<EnvStorage>, &Ctx) -> Result<Vec<Effect>, ContractError>,
) {
    let cx = ctx();
    let effects = write(|c| f(c, &cx));
    apply(effects);
}

/// A call that takes no deposit (static methods are views to near-sdk, which would accept
/// one silently), with effects.
fn act(f: impl FnOnce(&mut Contract<EnvStorage>, &Ctx) -> Result<Vec<Effect>, ContractError>) {
    if env::attached_deposit().as_yoctonear() != 0 {
        env::panic_str("Method doesn't accept deposit");
    }
    act_payable(f);
}

/// [`act`] for a call with no effects.
fn vote(f: impl FnOnce(&mut Contract<EnvStorage>, &Ctx) -> Result<(), ContractError>) {
    act(|c, cx| f(c, cx).map(|()| vec![]));
}

/// NEAR's host functions: far cheaper than curve arithmetic in wasm.
struct HostCrypto;

impl Crypto for HostCrypto {
    fn ecrecover(
        &self,
        hash: &[u8; 32],
        signature: &[u8; 64],
        v: u8,
        malleability_flag: bool,
    ) -> Option<[u8; 64]> {
        env::ecrecover(hash, signature, v, malleability_flag)
    }

    fn ed25519_verify(&self, signature: &[u8; 64], message: &[u8], public_key: &[u8; 32]) -> bool {
        env::ed25519_verify(signature, message, public_key)
    }
}

fn apply(effects: Vec<Effect>) {
    for effect in effects {
        match effect {
            Effect::Yield(request_id, key) => {
                let args = serde_json::json!({"request_id": request_id, "key": key});
                let promise = env::promise_yield_create(
                    "on_signature",
                    args.to_string(),
                    CALLBACK_GAS,
                    GasWeight(0),
                    DATA_ID_REGISTER,
                );
                let data_id: [u8; 32] = env::read_register(DATA_ID_REGISTER)
                    .and_then(|d| d.try_into().ok())
                    .unwrap_or_else(|| env::panic_str("yield created no data id"));
                write(|c| c.yielded(request_id, key, YieldId(data_id)));
                env::promise_return(promise);
            }
            Effect::Resume(yields, json) => {
                for y in yields {
                    // False means that caller's yield already timed out: nothing to do.
                    env::promise_yield_resume(&y.0, json.as_bytes());
                }
            }
            Effect::Refund(to, amount) => {
                let to: near_sdk::AccountId =
                    to.0.parse()
                        .unwrap_or_else(|_| env::panic_str("refund to an invalid account"));
                let promise = env::promise_batch_create(&to);
                env::promise_batch_action_transfer(promise, NearToken::from_yoctonear(amount));
            }
            Effect::Log(line) => env::log_str(&line),
        }
    }
}

/// What the yield callback returns: the signature's JSON, or a timeout after cleanup.
fn resolve_yield(
    request_id: RequestId,
    key: u64,
    signature: Result<SignatureResponse, PromiseError>,
) -> YieldOutcome {
    let resumed = signature
        .ok()
        .map(|s| serde_json::to_string(&s).expect("responses serialize"));
    write(|c| Ok(c.on_yield_resolved(request_id, key, resumed)))
}

#[near]
impl Signer {
    /// Starts the network with its first participants (docs/design.md §4.4). Only the contract
    /// account may call it: deploy and initialize in one transaction.
    pub fn init(participants: Vec<InitParticipant>, threshold: u64, config: Option<Config>) {
        if env::storage_has_key(STATE_KEY) {
            or_panic::<()>(Err(ContractError::AlreadyInitialized));
        }
        let participants = participants.into_iter().map(Into::into).collect();
        let c = or_panic(Contract::<EnvStorage>::init_by(
            &ctx(),
            participants,
            threshold,
            config,
        ));
        env::storage_write(STATE_KEY, &encode_root(c.root()));
    }

    /// Starts the contract already Running: NEAR's `init_running`, with its arguments — the
    /// domains, the next domain id, the keyset and the parameters of a running network (what
    /// its `state()` shows) — to move a network to this contract, or to start one whose keys
    /// were made elsewhere (the seeded devnet's). Only the contract account may call it, once.
    pub fn init_running(
        domains: Vec<DomainConfigJson>,
        next_domain_id: u64,
        keyset: Keyset,
        parameters: ThresholdParameters,
        init_config: Option<Config>,
    ) {
        if env::storage_has_key(STATE_KEY) {
            or_panic::<()>(Err(ContractError::AlreadyInitialized));
        }
        let args = InitRunningArgs {
            domains,
            next_domain_id,
            keyset,
            parameters,
            init_config,
        };
        let c = or_panic(Contract::<EnvStorage>::init_running_by(&ctx(), args));
        env::storage_write(STATE_KEY, &encode_root(c.root()));
    }

    /// Requests a signature (payable: at least 1 yoctoNEAR); the call's result is the
    /// signature (or a timeout error).
    pub fn sign(request: SignRequestArgs) {
        act_payable(|c, cx| c.sign(cx, SignArgs { request }));
    }

    /// A participant answers a pending request.
    pub fn respond(request_id: RequestId, response: SignatureResponse) {
        act(|c, cx| c.respond(cx, &HostCrypto, request_id, &response));
    }

    /// The yield callback: resumed with a signature (returned to the caller as its JSON), or
    /// timed out (the caller's result becomes `fail_on_timeout`'s failure).
    #[private]
    pub fn on_signature(
        request_id: RequestId,
        key: u64,
        #[callback_result] signature: Result<SignatureResponse, PromiseError>,
    ) {
        match resolve_yield(request_id, key, signature) {
            YieldOutcome::Signature(json) => env::value_return(json.as_bytes()),
            YieldOutcome::TimedOut => {
                let promise = env::promise_batch_create(&env::current_account_id());
                env::promise_batch_action_function_call_weight(
                    promise,
                    "fail_on_timeout",
                    b"{}",
                    NearToken::from_yoctonear(0),
                    FAIL_GAS,
                    GasWeight(0),
                );
                env::promise_return(promise);
            }
        }
    }

    /// Fails with the timeout error, after `on_signature` has cleaned up.
    #[private]
    pub fn fail_on_timeout() {
        env::panic_str(&ContractError::Timeout.to_string());
    }

    /// Registers the caller as a candidate (attach [`contract::CANDIDATE_DEPOSIT`]).
    pub fn register_candidate(url: String, tls_public_key: NearPublicKey) {
        let info = ParticipantInfo {
            url,
            tls_public_key: tls_public_key.into(),
        };
        act_payable(|c, cx| c.register_candidate(cx, info));
    }

    /// Takes the caller's candidacy back, with its deposit.
    pub fn withdraw_candidate() {
        act(|c, cx| c.withdraw_candidate(cx));
    }

    pub fn vote_join(candidate: String, epoch: u64) {
        vote(|c, cx| c.vote_join(cx, &AccountId(candidate), epoch));
    }

    pub fn vote_leave(participant: String, epoch: u64) {
        vote(|c, cx| c.vote_leave(cx, &AccountId(participant), epoch));
    }

    pub fn vote_new_parameters(participants: Vec<String>, threshold: u64, epoch: u64) {
        let accounts: Vec<AccountId> = participants.into_iter().map(AccountId).collect();
        vote(|c, cx| c.vote_new_parameters(cx, &accounts, threshold, epoch));
    }

    pub fn vote_add_domains(schemes: Vec<SignatureScheme>, epoch: u64) {
        vote(|c, cx| c.vote_add_domains(cx, &schemes, epoch));
    }

    pub fn start_keygen_instance(epoch: u64) {
        vote(|c, cx| c.start_keygen_instance(cx, epoch));
    }

    pub fn vote_pk(domain_id: DomainId, public_key: NearPublicKey, epoch: u64) {
        vote(|c, cx| c.vote_pk(cx, domain_id, public_key, epoch));
    }

    pub fn start_reshare_instance(epoch: u64) {
        vote(|c, cx| c.start_reshare_instance(cx, epoch));
    }

    pub fn vote_reshared(epoch: u64) {
        act(|c, cx| c.vote_reshared(cx, epoch));
    }

    pub fn vote_abort(epoch: u64) {
        act(|c, cx| c.vote_abort(cx, epoch));
    }

    pub fn state() -> ProtocolContractState {
        read(|c| c.state_json())
    }

    pub fn config() -> Config {
        read(|c| Ok(c.config_view()))
    }

    pub fn version() -> String {
        read(|c| Ok(c.version().to_owned()))
    }

    pub fn system_load() -> SystemLoad {
        read(|c| c.system_load())
    }

    pub fn public_key(domain_id: Option<DomainId>) -> NearPublicKey {
        read(|c| c.public_key(domain_id))
    }

    pub fn derived_public_key(
        path: String,
        predecessor: String,
        domain_id: Option<DomainId>,
    ) -> NearPublicKey {
        read(|c| c.derived_public_key(&path, &AccountId(predecessor), domain_id))
    }

    pub fn latest_key_version(signature_scheme: Option<SignatureScheme>) -> u64 {
        read(|c| c.latest_key_version(signature_scheme))
    }

    /// The request with this id, if it is pending.
    pub fn pending_request(request_id: RequestId) -> Option<PendingRequestView> {
        read(|c| c.pending_request(&request_id))
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
