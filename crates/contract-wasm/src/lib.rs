//! The signer contract on NEAR: a thin near-sdk binding around the pure `contract` core.
//!
//! Each method reads the call context from `env`, runs the core, and carries out the effects:
//! `Yield` → `promise_yield_create` (the caller's result becomes the callback's), `Resume` →
//! `promise_yield_resume`, `Refund` → a transfer, `Log` → `log_str`. A refused call panics
//! with the core's error message, which reverts everything, as NEAR does with any panic.
//!
//! Timeouts follow NEAR's own signer: the yield callback cleans the request up and then fails
//! through a second promise (`fail_on_timeout`), so that the cleanup is kept while the caller
//! still sees an error.
//!
//! Promises are made with the low-level `env::promise_batch_*` calls, not near-sdk's `Promise`
//! type: that type links every promise action the SDK knows, so the wasm would import host
//! functions only the newest protocol versions have, and older runtimes would refuse it.
//!
//! Build: `cargo build -p contract-wasm --target wasm32-unknown-unknown --profile wasm`.

use contract::views::{PendingPage, StateView, SystemLoad};
use contract::{
    AccountId, Config, Contract, ContractError, Crypto, Ctx, Effect, InitParticipant,
    ParticipantInfo, RequestId, VersionedState, YieldId, YieldOutcome,
};
use near_sdk::{env, near, Gas, GasWeight, NearToken, PanicOnDefault, PromiseError};
use primitives::request::{SignArgs, SignRequestArgs};
use primitives::response::SignatureResponse;
use primitives::{DomainId, NearPublicKey, SignatureScheme};

/// Gas reserved for the yield callback.
const CALLBACK_GAS: Gas = Gas::from_tgas(10);
/// Gas for the promise that turns a timeout into the caller's error.
const FAIL_GAS: Gas = Gas::from_tgas(3);
const DATA_ID_REGISTER: u64 = 0;

#[near(contract_state)]
#[derive(PanicOnDefault)]
pub struct Signer {
    state: VersionedState,
}

fn ctx() -> Ctx {
    Ctx {
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

/// NEAR's host functions: far cheaper than curve arithmetic in wasm.
struct HostCrypto;

impl Crypto for HostCrypto {
    fn ecrecover(&self, hash: &[u8; 32], signature: &[u8; 64], v: u8) -> Option<[u8; 64]> {
        env::ecrecover(hash, signature, v, true)
    }

    fn ed25519_verify(&self, signature: &[u8; 64], message: &[u8], public_key: &[u8; 32]) -> bool {
        env::ed25519_verify(signature, message, public_key)
    }
}

impl Signer {
    fn core(&self) -> &Contract {
        let VersionedState::V1(c) = &self.state;
        c
    }

    fn core_mut(&mut self) -> &mut Contract {
        let VersionedState::V1(c) = &mut self.state;
        c
    }

    /// What the yield callback returns: the signature's JSON, or a timeout after cleanup.
    fn resolve_yield(
        &mut self,
        request_id: RequestId,
        key: u64,
        signature: Result<SignatureResponse, PromiseError>,
    ) -> YieldOutcome {
        let resumed = signature
            .ok()
            .map(|s| serde_json::to_string(&s).expect("responses serialize"));
        self.core_mut().on_yield_resolved(request_id, key, resumed)
    }

    fn apply(&mut self, effects: Vec<Effect>) {
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
                    or_panic(self.core_mut().yielded(request_id, key, YieldId(data_id)));
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
}

#[near]
impl Signer {
    /// Starts the network with its first participants (DESIGN §4.4).
    #[init]
    pub fn init(
        participants: Vec<InitParticipant>,
        threshold: u64,
        config: Option<Config>,
    ) -> Self {
        let participants = participants.into_iter().map(Into::into).collect();
        Self {
            state: VersionedState::V1(or_panic(Contract::init(participants, threshold, config))),
        }
    }

    /// Requests a signature; the call's result is the signature (or a timeout error).
    #[payable]
    pub fn sign(&mut self, request: SignRequestArgs) {
        let effects = or_panic(self.core_mut().sign(&ctx(), SignArgs { request }));
        self.apply(effects);
    }

    /// A participant answers a pending request.
    pub fn respond(&mut self, request_id: RequestId, response: SignatureResponse) {
        let effects = or_panic(
            self.core_mut()
                .respond(&ctx(), &HostCrypto, request_id, &response),
        );
        self.apply(effects);
    }

    /// The yield callback: resumed with a signature (returned to the caller as its JSON), or
    /// timed out (the caller's result becomes `fail_on_timeout`'s failure).
    #[private]
    pub fn on_signature(
        &mut self,
        request_id: RequestId,
        key: u64,
        #[callback_result] signature: Result<SignatureResponse, PromiseError>,
    ) {
        match self.resolve_yield(request_id, key, signature) {
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
    pub fn fail_on_timeout(&self) {
        env::panic_str(&ContractError::Timeout.to_string());
    }

    pub fn register_candidate(&mut self, url: String, tls_public_key: NearPublicKey) {
        let info = ParticipantInfo {
            url,
            tls_public_key,
        };
        or_panic(self.core_mut().register_candidate(&ctx(), info));
    }

    pub fn vote_join(&mut self, candidate: String, epoch: u64) {
        or_panic(
            self.core_mut()
                .vote_join(&ctx(), &AccountId(candidate), epoch),
        );
    }

    pub fn vote_leave(&mut self, participant: String, epoch: u64) {
        or_panic(
            self.core_mut()
                .vote_leave(&ctx(), &AccountId(participant), epoch),
        );
    }

    pub fn vote_new_parameters(&mut self, participants: Vec<String>, threshold: u64, epoch: u64) {
        let accounts: Vec<AccountId> = participants.into_iter().map(AccountId).collect();
        or_panic(
            self.core_mut()
                .vote_new_parameters(&ctx(), &accounts, threshold, epoch),
        );
    }

    pub fn vote_add_domains(&mut self, schemes: Vec<SignatureScheme>, epoch: u64) {
        or_panic(self.core_mut().vote_add_domains(&ctx(), &schemes, epoch));
    }

    pub fn start_keygen_instance(&mut self, epoch: u64) {
        or_panic(self.core_mut().start_keygen_instance(&ctx(), epoch));
    }

    pub fn vote_pk(&mut self, domain_id: DomainId, public_key: NearPublicKey, epoch: u64) {
        or_panic(
            self.core_mut()
                .vote_pk(&ctx(), domain_id, public_key, epoch),
        );
    }

    pub fn start_reshare_instance(&mut self, epoch: u64) {
        or_panic(self.core_mut().start_reshare_instance(&ctx(), epoch));
    }

    pub fn vote_reshared(&mut self, epoch: u64) {
        or_panic(self.core_mut().vote_reshared(&ctx(), epoch));
    }

    pub fn vote_abort(&mut self, epoch: u64) {
        let effects = or_panic(self.core_mut().vote_abort(&ctx(), epoch));
        self.apply(effects);
    }

    pub fn state(&self) -> StateView {
        self.core().state_view()
    }

    pub fn config(&self) -> Config {
        self.core().config_view()
    }

    pub fn version(&self) -> String {
        self.core().version().to_owned()
    }

    pub fn system_load(&self) -> SystemLoad {
        self.core().system_load()
    }

    pub fn public_key(&self, domain_id: Option<DomainId>) -> NearPublicKey {
        or_panic(self.core().public_key(domain_id))
    }

    pub fn derived_public_key(
        &self,
        path: String,
        predecessor: String,
        domain_id: Option<DomainId>,
    ) -> NearPublicKey {
        or_panic(
            self.core()
                .derived_public_key(&path, &AccountId(predecessor), domain_id),
        )
    }

    pub fn latest_key_version(&self, signature_scheme: Option<SignatureScheme>) -> u64 {
        or_panic(self.core().latest_key_version(signature_scheme))
    }

    pub fn pending_requests(&self, cursor: Option<u64>, limit: Option<u32>) -> PendingPage {
        self.core().pending_requests(cursor, limit)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
