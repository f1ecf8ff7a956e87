//! Account swap: trade blockchain assets without transactions on their chains.
//!
//! A marketplace contract that owns derived keys on behalf of its users. Every key is derived
//! by the signer contract from (this contract's account, a path), so only this contract can
//! request signatures under it, and it does so only for the path's current owner
//! ([`market`] has the rules: claims, offers, atomic acceptance, the lock on offered paths).
//! Whoever owns a path controls what its addresses hold — a Bitcoin UTXO, an Ether balance —
//! so swapping the owners of two paths trades those assets with no Bitcoin or Ethereum
//! transaction at all; the new owner moves them whenever it likes, through [`sign`].
//!
//! [`sign`] takes the signer contract's own arguments (`{"request": {"path", "payload_v2",
//! "domain_id"}}`), checks ownership, forwards them to the signer's `sign` with 1 yoctoNEAR
//! and [`SIGN_GAS`], and returns the signer's answer (the signature JSON) through
//! `on_signed`. As in NEAR's signer, promises are made with the low-level `env` calls: the
//! SDK's `Promise` type links host functions that only the newest protocol versions have.
//!
//! See README.md for the methods, and `crates/cli/tests/example_account_swap.rs` for the
//! end-to-end test on the devnet.
//!
//! [`sign`]: AccountSwap::sign

pub mod market;

use market::{check_payload, Claim, Market, MarketError, Offer};
use near_sdk::{env, near, AccountId, Gas, NearToken, PanicOnDefault};

/// Gas forwarded to the signer's `sign` (it needs 15 TGas; the rest pays its storage and the
/// yield that waits for the network's answer).
pub const SIGN_GAS: Gas = Gas::from_tgas(50);
/// Gas for `on_signed`, including the promise that turns a failure into the caller's error.
pub const CALLBACK_GAS: Gas = Gas::from_tgas(20);
/// Gas `fail_sign` gets.
const FAIL_GAS: Gas = Gas::from_tgas(5);
/// What `sign` itself may burn before it schedules the two promises.
const OWN_GAS: Gas = Gas::from_tgas(15);
/// The longest answer `on_signed` reads from the signer (signatures are ~250 bytes of JSON).
const MAX_ANSWER: usize = 4096;

/// A payload in the signer's JSON: `{"Ecdsa": "<hex>"}` (a 32-byte hash, for Secp256k1
/// domains) or `{"Eddsa": "<hex>"}` (the message, for Ed25519 and Bip340 domains).
#[near(serializers = [json])]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    Ecdsa(String),
    Eddsa(String),
}

/// The signer's `sign` request, as NEAR's signer takes it.
#[near(serializers = [json])]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignRequest {
    pub path: String,
    pub payload_v2: Payload,
    /// The signer's domain (0, its first Secp256k1 domain, when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<u64>,
}

/// A path and its claim, as the views show it.
#[near(serializers = [json])]
pub struct ClaimView {
    pub path: String,
    pub owner: String,
    pub offer: Option<u64>,
    pub signing: u32,
}

#[near(contract_state)]
#[derive(PanicOnDefault)]
pub struct AccountSwap {
    /// The signer contract (`v1.signer` on mainnet, `signer.devnet` on the devnet).
    signer_id: AccountId,
    market: Market,
}

fn or_panic<T>(r: Result<T, MarketError>) -> T {
    r.unwrap_or_else(|e| env::panic_str(&e.to_string()))
}

fn caller() -> String {
    env::predecessor_account_id().to_string()
}

#[near]
impl AccountSwap {
    /// Starts the marketplace, which will ask `signer_id` for its signatures.
    #[init]
    pub fn new(signer_id: AccountId) -> Self {
        Self {
            signer_id,
            market: Market::default(),
        }
    }

    /// The caller becomes the owner of the unclaimed `path`.
    pub fn claim(&mut self, path: String) {
        or_panic(self.market.claim(&caller(), &path));
    }

    /// Offers the caller's path `give` for `want`, another account's path; `give` can no
    /// longer be signed for until the offer is withdrawn or accepted. The offer's id.
    pub fn offer(&mut self, give: String, want: String) -> u64 {
        or_panic(self.market.open_offer(&caller(), &give, &want))
    }

    /// The seller takes its offer back.
    pub fn withdraw(&mut self, offer_id: u64) -> Offer {
        or_panic(self.market.withdraw(&caller(), offer_id))
    }

    /// The owner of the offer's wanted path accepts it: both paths change owners at once.
    pub fn accept(&mut self, offer_id: u64) -> Offer {
        or_panic(self.market.accept(&caller(), offer_id))
    }

    /// Requests a signature under the derived key of (this contract, `request.path`) for the
    /// path's owner, unless the path is offered. Attach exactly 1 yoctoNEAR (forwarded to the
    /// signer) and at least 85 TGas; the result is the signer's answer.
    #[payable]
    pub fn sign(&mut self, request: SignRequest) {
        if env::attached_deposit() != NearToken::from_yoctonear(1) {
            env::panic_str("attach exactly 1 yoctoNEAR: it pays the signer contract");
        }
        let needed = SIGN_GAS
            .saturating_add(CALLBACK_GAS)
            .saturating_add(OWN_GAS);
        if env::prepaid_gas() < needed {
            env::panic_str(&format!("attach at least {needed}"));
        }
        let (ecdsa, hex) = match &request.payload_v2 {
            Payload::Ecdsa(h) => (true, h),
            Payload::Eddsa(h) => (false, h),
        };
        or_panic(check_payload(ecdsa, hex));
        or_panic(self.market.begin_sign(&caller(), &request.path));
        let args = near_sdk::serde_json::json!({ "request": request }).to_string();
        let signed = env::promise_create(
            self.signer_id.clone(),
            "sign",
            args.as_bytes(),
            NearToken::from_yoctonear(1),
            SIGN_GAS,
        );
        let back = near_sdk::serde_json::json!({ "path": request.path }).to_string();
        let answered = env::promise_then(
            signed,
            env::current_account_id(),
            "on_signed",
            back.as_bytes(),
            NearToken::from_yoctonear(0),
            CALLBACK_GAS,
        );
        env::promise_return(answered);
    }

    /// The signer answered (or failed): `path` has one request fewer in flight, and the
    /// caller gets the signature — or, through `fail_sign`, an error (a panic here would
    /// undo the bookkeeping).
    #[private]
    pub fn on_signed(&mut self, path: String) {
        if env::promise_results_count() != 1 {
            env::panic_str("on_signed runs only as the callback of sign");
        }
        self.market.end_sign(&path);
        match env::promise_result_checked(0, MAX_ANSWER) {
            Ok(answer) => env::value_return(&answer),
            Err(_) => {
                let args = near_sdk::serde_json::json!({ "path": path }).to_string();
                let fail = env::promise_batch_create(&env::current_account_id());
                env::promise_batch_action_function_call(
                    fail,
                    "fail_sign",
                    args.as_bytes(),
                    NearToken::from_yoctonear(0),
                    FAIL_GAS,
                );
                env::promise_return(fail);
            }
        }
    }

    /// Fails the caller's `sign`, after `on_signed` has done its bookkeeping.
    #[private]
    pub fn fail_sign(&self, path: String) {
        env::panic_str(&format!(
            "the signer contract did not sign for path {path:?} (refused or timed out)"
        ));
    }

    /// The signer contract this marketplace uses.
    pub fn signer_id(&self) -> AccountId {
        self.signer_id.clone()
    }

    /// Who owns `path`, its open offer and requests in flight; `null` if unclaimed.
    pub fn get_claim(&self, path: String) -> Option<ClaimView> {
        self.market.claim_of(&path).map(|c| view(&path, c))
    }

    /// The paths `owner` owns.
    pub fn paths_of(&self, owner: String) -> Vec<String> {
        self.market.paths_of(&owner).map(str::to_owned).collect()
    }

    pub fn get_offer(&self, offer_id: u64) -> Option<Offer> {
        self.market.offer(offer_id).cloned()
    }

    /// The open offers, oldest first.
    pub fn get_offers(&self) -> Vec<Offer> {
        self.market.offers().cloned().collect()
    }
}

fn view(path: &str, c: &Claim) -> ClaimView {
    ClaimView {
        path: path.to_owned(),
        owner: c.owner.clone(),
        offer: c.offer,
        signing: c.signing,
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
