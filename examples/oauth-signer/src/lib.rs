//! Example: OAuth-controlled blockchain accounts. A NEAR contract that requests a chain
//! signature for whoever presents a valid JWT from a configured OpenID/OAuth issuer.
//!
//! Each subject (`sub`) of the issuer gets its own derived key, under the path
//! `oauth/<iss>/<sub>` of this contract's account: a user who can log in with the issuer
//! controls an address on every chain without holding any key. The token says what is signed
//! (its `chainsig_payload` claim), so a token moves exactly what the issuer approved, once.
//!
//! The rules live in [`jwt`] (pure, unit-tested); this binding only reads the call context,
//! records used tokens, and makes the cross-contract `sign` call (1 yoctoNEAR attached, as the
//! signer requires) with a callback that returns the signer's answer unchanged.
//!
//! If the signature request fails (the network did not answer in time), the callback forgets
//! the token's use so the holder can retry while it is still valid, and then fails the call:
//! the forgetting is kept because the failure is raised in a separate promise (`fail`), as a
//! panic in the callback itself would revert it.
//!
//! Storage: each used token keeps 41 bytes (its replay key and expiry) forever; see README's
//! caveats.

pub mod jwt;

use jwt::{Jwk, Policy};
use near_sdk::{env, near, AccountId, Gas, GasWeight, NearToken, PanicOnDefault};

/// Gas for the signer's `sign` (its own work and the yield); unused gas of this call is added
/// to it by weight.
const SIGN_GAS: Gas = Gas::from_tgas(20);
const CALLBACK_GAS: Gas = Gas::from_tgas(10);
const FAIL_GAS: Gas = Gas::from_tgas(3);
/// Below this a call cannot verify a token and still give `sign` and the callback their share;
/// refusing early gives a clear message instead of an out-of-gas failure halfway. Measured on
/// NEAR's VM: `sign` burns ~19 TGas with a 2048-bit issuer key, ~64 TGas with a 4096-bit one.
pub const MIN_GAS: Gas = Gas::from_tgas(100);
/// The signer's minimum deposit, forwarded with `sign`.
/// A signature answer is ~200 bytes; a longer one is not the signer's.
const MAX_ANSWER_LEN: usize = 4096;
const SIGN_DEPOSIT: NearToken = NearToken::from_yoctonear(1);
const USED_PREFIX: &[u8] = b"used:";

#[near(contract_state)]
#[derive(PanicOnDefault)]
pub struct OauthSigner {
    owner: AccountId,
    signer_contract: AccountId,
    issuer: String,
    audience: String,
    key: Jwk,
}

/// `config()`'s answer.
#[near(serializers = [json])]
pub struct ConfigView {
    pub owner: AccountId,
    pub signer_contract: AccountId,
    pub issuer: String,
    pub audience: String,
    pub key: Jwk,
}

fn used_key(replay_key: &[u8; 32]) -> Vec<u8> {
    [USED_PREFIX, replay_key.as_slice()].concat()
}

fn now_seconds() -> u64 {
    env::block_timestamp() / 1_000_000_000
}

#[near]
impl OauthSigner {
    /// `owner` (default: the caller) may rotate the issuer's key. The issuer and audience are
    /// fixed: derivation paths depend on the issuer, so changing it would move every user's
    /// addresses.
    #[init]
    pub fn new(
        issuer: String,
        audience: String,
        key: Jwk,
        signer_contract: AccountId,
        owner: Option<AccountId>,
    ) -> Self {
        if issuer.is_empty() || audience.is_empty() {
            env::panic_str("issuer and audience must not be empty");
        }
        if let Err(e) = Policy::new(&issuer, &audience, &key) {
            env::panic_str(&e.to_string());
        }
        Self {
            owner: owner.unwrap_or_else(env::predecessor_account_id),
            signer_contract,
            issuer,
            audience,
            key,
        }
    }

    /// Replaces the issuer's key (issuers rotate their signing keys). Owner only.
    pub fn rotate_key(&mut self, key: Jwk) {
        if env::predecessor_account_id() != self.owner {
            env::panic_str("only the owner may rotate the key");
        }
        if let Err(e) = key.to_key() {
            env::panic_str(&e.to_string());
        }
        env::log_str(&format!("issuer key rotated to kid {:?}", key.kid));
        self.key = key;
    }

    pub fn config(&self) -> ConfigView {
        ConfigView {
            owner: self.owner.clone(),
            signer_contract: self.signer_contract.clone(),
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            key: self.key.clone(),
        }
    }

    /// The derivation path of a subject (with this contract's account id, it gives the
    /// subject's key through the signer's `derived_public_key`).
    pub fn subject_path(&self, sub: String) -> String {
        jwt::subject_path(&self.issuer, &sub)
    }

    /// Whether the token with this replay key (hex, as `sign` logs it) was used.
    pub fn is_used(&self, replay_key: String) -> bool {
        let Some(k) = hex::decode(&replay_key)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
        else {
            env::panic_str("replay_key must be 32 bytes of hex");
        };
        env::storage_has_key(&used_key(&k))
    }

    /// Verifies `token` and asks the signer to sign its payload under its subject's path. Needs
    /// at least 1 yoctoNEAR (forwarded to the signer; anything above is refunded) and
    /// [`MIN_GAS`]. The result is the signer's answer (design §4.3).
    #[payable]
    pub fn sign(&mut self, token: String) {
        let deposit = env::attached_deposit();
        if deposit < SIGN_DEPOSIT {
            env::panic_str("attach at least 1 yoctoNEAR: the signer requires it");
        }
        if env::prepaid_gas() < MIN_GAS {
            env::panic_str("attach at least 100 TGas (300 recommended)");
        }
        let policy = Policy::new(&self.issuer, &self.audience, &self.key)
            .unwrap_or_else(|e| env::panic_str(&e.to_string()));
        let caller = env::predecessor_account_id();
        let grant = jwt::verify(&policy, &token, now_seconds(), caller.as_str())
            .unwrap_or_else(|e| env::panic_str(&e.to_string()));
        let key = used_key(&grant.replay_key);
        if env::storage_has_key(&key) {
            env::panic_str("token was already used");
        }
        env::storage_write(&key, &grant.exp.to_le_bytes());
        let replay_hex = hex::encode(grant.replay_key);
        // The subject and path are not secret (anyone can compute them from the issuer's user
        // id); the token itself is never logged.
        env::log_str(&format!(
            "oauth sign: sub {:?} path {:?} replay_key {replay_hex}",
            grant.sub, grant.path
        ));

        let refund = deposit.saturating_sub(SIGN_DEPOSIT);
        if !refund.is_zero() {
            let p = env::promise_batch_create(&caller);
            env::promise_batch_action_transfer(p, refund);
        }
        let args = serde_json::json!({"request": {
            "path": grant.path,
            "payload_v2": grant.payload,
            "domain_id": grant.domain_id,
        }});
        let sign = env::promise_batch_create(&self.signer_contract);
        env::promise_batch_action_function_call_weight(
            sign,
            "sign",
            args.to_string().as_bytes(),
            SIGN_DEPOSIT,
            SIGN_GAS,
            GasWeight(1),
        );
        let callback = env::promise_batch_then(sign, &env::current_account_id());
        env::promise_batch_action_function_call_weight(
            callback,
            "on_signed",
            serde_json::json!({"replay_key": replay_hex})
                .to_string()
                .as_bytes(),
            NearToken::from_yoctonear(0),
            CALLBACK_GAS,
            GasWeight(0),
        );
        env::promise_return(callback);
    }

    /// `sign`'s callback: returns the signer's answer as it came, or, when the request failed,
    /// forgets the token's use and fails the call.
    #[private]
    pub fn on_signed(&mut self, replay_key: String) {
        match env::promise_result_checked(0, MAX_ANSWER_LEN) {
            Ok(answer) => env::value_return(&answer),
            Err(_) => {
                if let Some(k) = hex::decode(&replay_key)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                {
                    env::storage_remove(&used_key(&k));
                }
                let p = env::promise_batch_create(&env::current_account_id());
                env::promise_batch_action_function_call(
                    p,
                    "fail",
                    b"{}",
                    NearToken::from_yoctonear(0),
                    FAIL_GAS,
                );
                env::promise_return(p);
            }
        }
    }

    /// Fails: how `on_signed` reports a failed request without reverting its cleanup.
    #[private]
    pub fn fail(&self) {
        env::panic_str("the signature request failed (the token may be used again)");
    }
}

#[cfg(test)]
mod tests {
    use super::jwt::test_issuer::Issuer;
    use super::*;
    use near_sdk::mock::MockAction;
    use near_sdk::test_utils::{get_created_receipts, get_logs, VMContextBuilder};
    use near_sdk::testing_env;
    use near_sdk::PromiseResult;
    use serde_json::json;

    const ISS: &str = "https://issuer.example";
    const AUD: &str = "dapp";

    fn context(predecessor: &str, deposit: u128, now_s: u64) -> VMContextBuilder {
        let mut b = VMContextBuilder::new();
        b.current_account_id("oauth.devnet".parse().unwrap())
            .predecessor_account_id(predecessor.parse().unwrap())
            .attached_deposit(NearToken::from_yoctonear(deposit))
            .prepaid_gas(Gas::from_tgas(300))
            .block_timestamp(now_s * 1_000_000_000);
        b
    }

    fn setup(issuer: &Issuer) -> OauthSigner {
        testing_env!(context("owner.devnet", 0, 1000).build());
        OauthSigner::new(
            ISS.into(),
            AUD.into(),
            issuer.jwk(),
            "signer.devnet".parse().unwrap(),
            None,
        )
    }

    fn token(issuer: &Issuer, jti: &str) -> String {
        issuer.mint(&json!({
            "iss": ISS, "aud": AUD, "sub": "u1", "exp": 2000, "jti": jti,
            "chainsig_payload": {"Ecdsa": "22".repeat(32)}
        }))
    }

    /// The function calls and transfers the last call made: (receiver, method or "transfer",
    /// arguments, deposit).
    fn actions() -> Vec<(String, String, String, u128)> {
        get_created_receipts()
            .into_iter()
            .flat_map(|r| {
                let to = r.receiver_id.to_string();
                r.actions.into_iter().filter_map(move |a| match a {
                    MockAction::FunctionCallWeight {
                        method_name,
                        args,
                        attached_deposit,
                        ..
                    } => Some((
                        to.clone(),
                        String::from_utf8(method_name).unwrap(),
                        String::from_utf8(args).unwrap(),
                        attached_deposit.as_yoctonear(),
                    )),
                    MockAction::Transfer { deposit, .. } => Some((
                        to.clone(),
                        "transfer".into(),
                        String::new(),
                        deposit.as_yoctonear(),
                    )),
                    _ => None,
                })
            })
            .collect()
    }

    fn panics<R>(f: impl FnOnce() -> R) -> String {
        let e = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
            .err()
            .expect("call should fail");
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    }

    #[test]
    fn binding_rules() {
        let issuer = Issuer::new(2048);
        let mut c = setup(&issuer);

        testing_env!(context("alice.devnet", 5, 1000).build());
        c.sign(token(&issuer, "a"));
        let a = actions();
        assert_eq!(a.len(), 3, "{a:?}");
        assert_eq!(
            (a[0].0.as_str(), a[0].1.as_str(), a[0].3),
            ("alice.devnet", "transfer", 4)
        );
        assert_eq!(
            (a[1].0.as_str(), a[1].1.as_str(), a[1].3),
            ("signer.devnet", "sign", 1)
        );
        let args: serde_json::Value = serde_json::from_str(&a[1].2).unwrap();
        assert_eq!(
            args,
            json!({"request": {"path": "oauth/https://issuer.example/u1",
                "payload_v2": {"Ecdsa": "22".repeat(32)}, "domain_id": 0}})
        );
        assert_eq!(
            (a[2].0.as_str(), a[2].1.as_str()),
            ("oauth.devnet", "on_signed")
        );
        assert!(get_logs()[0].contains("replay_key"));

        testing_env!(context("alice.devnet", 1, 1000).build());
        assert!(panics(|| c.sign(token(&issuer, "a"))).contains("already used"));
        testing_env!(context("alice.devnet", 0, 1000).build());
        assert!(panics(|| c.sign(token(&issuer, "b"))).contains("1 yoctoNEAR"));
        testing_env!(context("alice.devnet", 1, 2000).build());
        assert!(panics(|| c.sign(token(&issuer, "c"))).contains("expired"));
        testing_env!(context("alice.devnet", 1, 1000)
            .prepaid_gas(Gas::from_tgas(99))
            .build());
        assert!(panics(|| c.sign(token(&issuer, "c"))).contains("100 TGas"));

        // Only the owner rotates; a rotated key refuses the old issuer's tokens.
        let next = Issuer::new(2048);
        testing_env!(context("alice.devnet", 0, 1000).build());
        assert!(panics(|| c.rotate_key(next.jwk())).contains("owner"));
        testing_env!(context("owner.devnet", 0, 1000).build());
        c.rotate_key(next.jwk());
        testing_env!(context("alice.devnet", 1, 1000).build());
        let mut other_kid = Issuer::new(2048);
        other_kid.kid = Some("k2".into());
        assert!(panics(|| c.sign(token(&other_kid, "d"))).contains("kid"));
        assert!(panics(|| c.sign(token(&issuer, "d"))).contains("signature"));
        c.sign(token(&next, "d"));
    }

    #[test]
    fn a_failed_request_frees_the_token() {
        let issuer = Issuer::new(2048);
        let mut c = setup(&issuer);
        testing_env!(context("alice.devnet", 1, 1000).build());
        c.sign(token(&issuer, "a"));
        let replay = get_logs()[0].rsplit(' ').next().unwrap().to_owned();
        assert!(c.is_used(replay.clone()));
        testing_env!(
            context("oauth.devnet", 0, 1000).build(),
            near_sdk::test_vm_config(),
            near_sdk::RuntimeFeesConfig::test(),
            Default::default(),
            vec![PromiseResult::Failed],
        );
        c.on_signed(replay.clone());
        assert!(!c.is_used(replay));
        assert!(actions().iter().any(|a| a.1 == "fail"));
    }
}
