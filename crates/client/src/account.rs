//! Acting as a NEAR account against any NEAR RPC — the devnet or NEAR itself: create a
//! sub-account with a balance and a key, deploy a contract (optionally initializing it in the
//! same transaction), call any method of any contract with a deposit and gas and get its JSON
//! result or NEAR's error, and call views.
//!
//! Transactions are signed, sent and followed by [`chain::NearRpc`] (ed25519 over the SHA-256
//! of the borsh transaction, nonces kept in order per client, the outcome followed until it
//! has executed), so this module only says which actions to send.
//!
//! ```no_run
//! # async fn demo() -> Result<(), client::account::AccountError> {
//! use client::account::{Account, FunctionCall};
//! let me = Account::from_secret_key("http://127.0.0.1:3030", "user1.devnet", "ed25519:…")?;
//! let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
//! let app = me.create_sub_account("app.user1.devnet", 10 * client::near::YOCTO_PER_NEAR, &key).await?;
//! let wasm = std::fs::read("app.wasm").unwrap();
//! app.deploy(wasm, Some(FunctionCall::new("new", serde_json::json!({})))).await?;
//! let answer = me.call("app.user1.devnet", FunctionCall::new("hello", serde_json::json!({}))).await?;
//! # Ok(()) }
//! ```

use chain::{ChainError, NearRpc};
use ed25519_dalek::SigningKey;
use near_crypto::{ED25519PublicKey, PublicKey};
use near_primitives::account::AccessKey;
use near_primitives::gas::Gas;
use near_primitives::transaction::{
    Action, AddKeyAction, CreateAccountAction, DeployContractAction, FunctionCallAction,
    TransferAction,
};
use near_primitives::types::Balance;

/// The most gas one transaction may attach on NEAR (300 TGas).
pub const MAX_GAS: u64 = 300_000_000_000_000;

/// Why an account action could not be done.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0:?} is not a NEAR account id: {1}")]
    AccountId(String, String),
    #[error("not an ed25519 NEAR private key (ed25519:<base58 of 64 or 32 bytes>): {0}")]
    Key(String),
    #[error("gas {0} is not within 1..={MAX_GAS} (NEAR's 300 TGas per transaction)")]
    Gas(u64),
    /// NEAR refused the transaction or its execution failed (a contract's panic message is in
    /// the text, as NEAR reports it: `Smart contract panicked: …`).
    #[error("NEAR: {0}")]
    Failed(String),
    /// Nothing was decided: the RPC could not be reached or did not answer in time.
    #[error("the RPC is unavailable: {0}")]
    Unavailable(String),
    #[error("{method} returned something that is not JSON: {reason}")]
    NotJson { method: String, reason: String },
}

impl From<ChainError> for AccountError {
    fn from(e: ChainError) -> Self {
        match e {
            ChainError::Rejected(m) => Self::Failed(m),
            ChainError::Unavailable(m) | ChainError::Disagree(m) => Self::Unavailable(m),
        }
    }
}

/// A function call: method, JSON arguments, deposit (yoctoNEAR) and gas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionCall {
    pub method: String,
    pub args: serde_json::Value,
    pub deposit: u128,
    pub gas: u64,
}

impl FunctionCall {
    /// `method` with `args`, no deposit and [`MAX_GAS`] (unused gas is refunded).
    pub fn new(method: &str, args: serde_json::Value) -> Self {
        Self {
            method: method.to_owned(),
            args,
            deposit: 0,
            gas: MAX_GAS,
        }
    }

    /// With `yocto` yoctoNEAR attached.
    pub fn deposit(mut self, yocto: u128) -> Self {
        self.deposit = yocto;
        self
    }

    /// With `gas` attached instead of [`MAX_GAS`].
    pub fn gas(mut self, gas: u64) -> Self {
        self.gas = gas;
        self
    }

    /// The NEAR action; refuses gas NEAR would refuse.
    pub fn action(&self) -> Result<Action, AccountError> {
        if !(1..=MAX_GAS).contains(&self.gas) {
            return Err(AccountError::Gas(self.gas));
        }
        Ok(Action::FunctionCall(Box::new(FunctionCallAction {
            method_name: self.method.clone(),
            args: serde_json::to_vec(&self.args).expect("JSON values serialize"),
            gas: Gas::from_gas(self.gas),
            deposit: Balance::from_yoctonear(self.deposit),
        })))
    }
}

/// The actions that create an account with `deposit` yoctoNEAR and `key` as its full-access
/// key (what near-cli and near-api-js send for `create-account`).
pub fn create_account_actions(deposit: u128, key: &ed25519_dalek::VerifyingKey) -> Vec<Action> {
    vec![
        Action::CreateAccount(CreateAccountAction {}),
        Action::Transfer(TransferAction {
            deposit: Balance::from_yoctonear(deposit),
        }),
        Action::AddKey(Box::new(AddKeyAction {
            public_key: PublicKey::ED25519(ED25519PublicKey(key.to_bytes())),
            access_key: AccessKey::full_access(),
        })),
    ]
}

/// The actions that deploy `wasm` and, when given, call `init` in the same transaction (so
/// that nobody can initialize the contract in between).
pub fn deploy_actions(
    wasm: Vec<u8>,
    init: Option<&FunctionCall>,
) -> Result<Vec<Action>, AccountError> {
    let mut actions = vec![Action::DeployContract(DeployContractAction { code: wasm })];
    if let Some(init) = init {
        actions.push(init.action()?);
    }
    Ok(actions)
}

/// A function call's result value as JSON; no value at all is `null` (a method that returns
/// nothing).
pub fn json_result(method: &str, value: &[u8]) -> Result<serde_json::Value, AccountError> {
    if value.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_slice(value).map_err(|e| AccountError::NotJson {
        method: method.to_owned(),
        reason: e.to_string(),
    })
}

/// An ed25519 signing key from a NEAR private key string (`ed25519:` + base58 of the 64-byte
/// secret ‖ public form near-cli writes, or of the 32-byte secret alone).
pub fn parse_secret_key(text: &str) -> Result<SigningKey, AccountError> {
    let bad = |reason: &str| AccountError::Key(reason.to_owned());
    let data = text
        .strip_prefix("ed25519:")
        .ok_or_else(|| bad("it does not start with ed25519:"))?;
    let bytes = bs58::decode(data)
        .into_vec()
        .map_err(|_| bad("not base58"))?;
    let seed: [u8; 32] = match bytes.len() {
        32 | 64 => bytes[..32].try_into().expect("32 bytes"),
        n => return Err(bad(&format!("{n} bytes, not 64 or 32"))),
    };
    let key = SigningKey::from_bytes(&seed);
    if bytes.len() == 64 && bytes[32..] != key.verifying_key().to_bytes() {
        return Err(bad("its public half does not match its secret half"));
    }
    Ok(key)
}

/// One NEAR account, with a full-access ed25519 key, on one RPC endpoint.
pub struct Account {
    rpc_url: String,
    id: String,
    key: SigningKey,
    rpc: NearRpc,
}

impl Account {
    /// Acts as `account_id` with `key` at `rpc_url`.
    pub fn new(rpc_url: &str, account_id: &str, key: SigningKey) -> Result<Self, AccountError> {
        // The client's "contract" is the account itself: every call here names its receiver.
        let rpc = NearRpc::new(rpc_url, account_id, account_id, key.clone())
            .map_err(|e| AccountError::AccountId(account_id.to_owned(), e.to_string()))?;
        Ok(Self {
            rpc_url: rpc_url.to_owned(),
            id: account_id.to_owned(),
            key,
            rpc,
        })
    }

    /// [`Account::new`] with the key as a NEAR private key string ([`parse_secret_key`]).
    pub fn from_secret_key(
        rpc_url: &str,
        account_id: &str,
        secret: &str,
    ) -> Result<Self, AccountError> {
        Self::new(rpc_url, account_id, parse_secret_key(secret)?)
    }

    /// The account id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The RPC endpoint.
    pub fn rpc_url(&self) -> &str {
        &self.rpc_url
    }

    /// The account's key, `ed25519:<base58>` as NEAR writes public keys.
    pub fn public_key(&self) -> String {
        PublicKey::ED25519(ED25519PublicKey(self.key.verifying_key().to_bytes())).to_string()
    }

    /// The RPC client this account sends with (e.g. for `chain::NearRpc::transfer`).
    pub fn rpc(&self) -> &NearRpc {
        &self.rpc
    }

    /// Creates `new_id` (a sub-account of this one, `name.<this account>`: NEAR lets only the
    /// registrar create others) with `deposit` yoctoNEAR and `key` as its full-access key, and
    /// returns it as an [`Account`] on the same RPC.
    pub async fn create_sub_account(
        &self,
        new_id: &str,
        deposit: u128,
        key: &SigningKey,
    ) -> Result<Account, AccountError> {
        let created = Account::new(&self.rpc_url, new_id, key.clone())?;
        let actions = create_account_actions(deposit, &key.verifying_key());
        self.rpc.execute(new_id, actions).await?;
        Ok(created)
    }

    /// Deploys `wasm` to this account, calling `init` in the same transaction when given;
    /// returns `init`'s JSON result (`null` without one).
    pub async fn deploy(
        &self,
        wasm: Vec<u8>,
        init: Option<FunctionCall>,
    ) -> Result<serde_json::Value, AccountError> {
        let actions = deploy_actions(wasm, init.as_ref())?;
        let value = self.rpc.execute(&self.id, actions).await?;
        let method = init.map_or_else(|| "deploy".to_owned(), |i| i.method);
        json_result(&method, &value)
    }

    /// Calls `call.method` of `contract` as this account and waits until it (and every
    /// promise it returned) has executed: its JSON result, or NEAR's error
    /// ([`AccountError::Failed`] carries a contract's panic message).
    pub async fn call(
        &self,
        contract: &str,
        call: FunctionCall,
    ) -> Result<serde_json::Value, AccountError> {
        let value = self.rpc.execute(contract, vec![call.action()?]).await?;
        json_result(&call.method, &value)
    }

    /// Calls the view `method` of `contract` with JSON `args` (at final finality).
    pub async fn view(
        &self,
        contract: &str,
        method: &str,
        args: serde_json::Value,
    ) -> Result<serde_json::Value, AccountError> {
        Ok(self.rpc.view_on(contract, method, args).await?)
    }

    /// Sends `amount` yoctoNEAR to `receiver`.
    pub async fn transfer(&self, receiver: &str, amount: u128) -> Result<(), AccountError> {
        Ok(self.rpc.transfer(receiver, amount).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[3; 32])
    }

    #[test]
    fn secret_keys_parse_in_both_forms_and_refuse_garbage() {
        let k = key();
        let mut full = k.to_bytes().to_vec();
        full.extend(k.verifying_key().to_bytes());
        let long = format!("ed25519:{}", bs58::encode(&full).into_string());
        let short = format!("ed25519:{}", bs58::encode(k.to_bytes()).into_string());
        assert_eq!(parse_secret_key(&long).unwrap().to_bytes(), k.to_bytes());
        assert_eq!(parse_secret_key(&short).unwrap().to_bytes(), k.to_bytes());
        // near_crypto reads the same text as the same key.
        let theirs: near_crypto::SecretKey = long.parse().unwrap();
        let ours = Account::new(
            "http://127.0.0.1:1",
            "a.near",
            parse_secret_key(&long).unwrap(),
        );
        assert_eq!(ours.unwrap().public_key(), theirs.public_key().to_string());

        full[40] ^= 1;
        let mismatched = format!("ed25519:{}", bs58::encode(&full).into_string());
        for bad in [
            "secp256k1:abc".to_owned(),
            "ed25519:0OIl".to_owned(),
            "ed25519:abc".to_owned(),
            mismatched,
        ] {
            assert!(
                matches!(parse_secret_key(&bad), Err(AccountError::Key(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn calls_carry_method_args_deposit_and_gas_within_nears_bounds() {
        let call = FunctionCall::new("sign", serde_json::json!({"a": 1}))
            .deposit(1)
            .gas(150_000_000_000_000);
        let Action::FunctionCall(f) = call.action().unwrap() else {
            panic!("not a function call");
        };
        assert_eq!(f.method_name, "sign");
        assert_eq!(f.args, br#"{"a":1}"#);
        assert_eq!(f.deposit, Balance::from_yoctonear(1));
        assert_eq!(f.gas, Gas::from_gas(150_000_000_000_000));
        for gas in [0, MAX_GAS + 1] {
            let e = FunctionCall::new("m", serde_json::json!({}))
                .gas(gas)
                .action();
            assert!(matches!(e, Err(AccountError::Gas(g)) if g == gas));
        }
    }

    #[test]
    fn account_creation_and_deploy_are_the_batches_near_expects() {
        let actions = create_account_actions(5, &key().verifying_key());
        assert!(matches!(
            actions.as_slice(),
            [Action::CreateAccount(_), Action::Transfer(t), Action::AddKey(k)]
                if t.deposit == Balance::from_yoctonear(5)
                && k.access_key == AccessKey::full_access()
                && k.public_key == PublicKey::ED25519(ED25519PublicKey(key().verifying_key().to_bytes()))
        ));
        let init = FunctionCall::new("new", serde_json::json!({}));
        let deploy = deploy_actions(vec![0, 97, 115, 109], Some(&init)).unwrap();
        assert!(matches!(
            deploy.as_slice(),
            [Action::DeployContract(d), Action::FunctionCall(f)]
                if d.code == [0, 97, 115, 109] && f.method_name == "new"
        ));
        assert_eq!(deploy_actions(vec![1], None).unwrap().len(), 1);
    }

    #[test]
    fn results_are_json_or_null_and_errors_keep_nears_text() {
        assert_eq!(json_result("m", b"").unwrap(), serde_json::Value::Null);
        assert_eq!(json_result("m", b"{\"x\":2}").unwrap()["x"], 2);
        assert!(matches!(
            json_result("m", b"\x01"),
            Err(AccountError::NotJson { .. })
        ));
        let e: AccountError = ChainError::Rejected("Smart contract panicked: no".into()).into();
        assert_eq!(e.to_string(), "NEAR: Smart contract panicked: no");
        let e: AccountError = ChainError::Unavailable("timeout".into()).into();
        assert!(matches!(e, AccountError::Unavailable(_)));
        assert!(matches!(
            Account::new("http://127.0.0.1:1", "Not An Id", key()),
            Err(AccountError::AccountId(..))
        ));
    }
}
