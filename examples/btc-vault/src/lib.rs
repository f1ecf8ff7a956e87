//! Example: DeFi on Bitcoin. A NEAR contract that holds Bitcoin in addresses it derives and
//! releases a UTXO only under its own rule: to whoever pays the UTXO's price in NEAR.
//!
//! The owner lists a UTXO that sits on one of the vault's deposit addresses (`txid`, `vout`,
//! amount, the path whose key holds it) with a price in yoctoNEAR. A buyer calls `buy` with the
//! payment attached, a destination address and a fee; the vault builds the spending
//! transaction itself, marks the UTXO pending (no second buyer), asks the signer to sign the
//! input's BIP143 sighash under the UTXO's path, and, when the signature comes back, marks the
//! UTXO released, pays the price to the listing's beneficiary and returns the signed
//! transaction, ready to broadcast. If the signature request fails, the UTXO is offered again
//! and the buyer refunded. A refused buy (short payment, unknown or released UTXO, bad address
//! or fee) panics with the reason, and NEAR returns the attached deposit.
//!
//! The rules live in [`vault`] (pure, unit-tested); this binding reads the call context,
//! stores listings, and makes the cross-contract calls. The callback's failure path raises its
//! error in a separate promise (`fail`) so its state changes and refund are kept.

pub mod vault;

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::Network;
use near_sdk::json_types::U128;
use near_sdk::{env, near, AccountId, Gas, GasWeight, NearToken, PanicOnDefault};
use primitives::response::SignatureResponse;
use primitives::NearPublicKey;
use vault::{Listing, Status, VaultError};

const SIGN_GAS: Gas = Gas::from_tgas(20);
const CALLBACK_GAS: Gas = Gas::from_tgas(20);
const FAIL_GAS: Gas = Gas::from_tgas(3);
/// Enough for building the spend, `sign` and the callback; checked first for a clear message.
pub const MIN_GAS: Gas = Gas::from_tgas(80);
/// A signature answer is ~200 bytes; a longer one is not the signer's.
const MAX_ANSWER_LEN: usize = 4096;
const SIGN_DEPOSIT: NearToken = NearToken::from_yoctonear(1);
const LISTING_PREFIX: &[u8] = b"utxo:";

#[near(contract_state)]
#[derive(PanicOnDefault)]
pub struct BtcVault {
    owner: AccountId,
    signer_contract: AccountId,
    /// The Secp256k1 domain's root key, `secp256k1:…`.
    root_public_key: String,
    domain_id: u64,
    /// Bitcoin Core's name of the network.
    network: String,
}

/// A listing as views and calls show it.
#[near(serializers = [json])]
pub struct ListingView {
    pub txid: String,
    pub vout: u32,
    pub amount_sats: u64,
    pub path: String,
    pub address: String,
    pub price: U128,
    pub beneficiary: String,
    /// `listed`, `pending` or `released`.
    pub status: String,
    pub buyer: Option<String>,
    pub spend_txid: Option<String>,
}

/// What a completed `buy` returns: everything needed to broadcast and check the spend.
#[near(serializers = [json])]
pub struct ReleaseView {
    /// The spend's txid.
    pub txid: String,
    /// The signed transaction, consensus-encoded: POST it to an Esplora `/tx` or
    /// `sendrawtransaction`.
    pub tx_hex: String,
    /// The BIP143 sighash that was signed.
    pub sighash: String,
    /// The key that signed (compressed, hex): the spent output's P2WPKH key.
    pub public_key: String,
    /// The signer's answer, as it came.
    pub signature: serde_json::Value,
}

#[near(serializers = [json])]
pub struct DepositAddress {
    pub path: String,
    pub address: String,
    pub public_key: String,
}

fn or_panic<T>(r: Result<T, VaultError>) -> T {
    r.unwrap_or_else(|e| env::panic_str(&e.to_string()))
}

fn listing_key(txid: &str, vout: u32) -> Vec<u8> {
    // The parsed txid's display form, so `AB…` and `ab…` name the same UTXO.
    let op = or_panic(vault::parse_outpoint(txid, vout));
    [LISTING_PREFIX, op.to_string().as_bytes()].concat()
}

fn load(txid: &str, vout: u32) -> Listing {
    env::storage_read(&listing_key(txid, vout))
        .map(|b| {
            borsh::from_slice(&b).unwrap_or_else(|_| env::panic_str("a listing is unreadable"))
        })
        .unwrap_or_else(|| {
            env::panic_str(&VaultError::Unknown(format!("{txid}:{vout}")).to_string())
        })
}

fn save(l: &Listing) {
    env::storage_write(
        &listing_key(&l.txid, l.vout),
        &borsh::to_vec(l).expect("listings serialize"),
    );
}

fn transfer(to: &str, amount: u128) {
    if amount == 0 {
        return;
    }
    let to: AccountId = to
        .parse()
        .unwrap_or_else(|_| env::panic_str("invalid account id"));
    let p = env::promise_batch_create(&to);
    env::promise_batch_action_transfer(p, NearToken::from_yoctonear(amount));
}

impl BtcVault {
    fn network(&self) -> Network {
        or_panic(vault::parse_network(&self.network))
    }

    fn root(&self) -> NearPublicKey {
        or_panic(vault::parse_root_key(&self.root_public_key))
    }

    fn view(&self, l: &Listing) -> ListingView {
        let key = bitcoin::CompressedPublicKey::from_slice(&l.public_key)
            .unwrap_or_else(|_| env::panic_str("a listing's key is unreadable"));
        let (status, buyer, spend_txid) = match &l.status {
            Status::Listed => ("listed", None, None),
            Status::Pending { buyer, .. } => ("pending", Some(buyer.clone()), None),
            Status::Released { buyer, spend_txid } => {
                ("released", Some(buyer.clone()), Some(spend_txid.clone()))
            }
        };
        ListingView {
            txid: l.txid.clone(),
            vout: l.vout,
            amount_sats: l.amount_sats,
            path: l.path.clone(),
            address: vault::p2wpkh_address(&key, self.network()).to_string(),
            price: U128(l.price),
            beneficiary: l.beneficiary.clone(),
            status: status.into(),
            buyer,
            spend_txid,
        }
    }
}

#[near]
impl BtcVault {
    /// `root_public_key` is the signer's `public_key({domain_id})` for its Secp256k1 domain
    /// `domain_id` (default 0); `network` is `bitcoin`, `testnet`, `signet` or `regtest`.
    #[init]
    pub fn new(
        signer_contract: AccountId,
        root_public_key: String,
        network: String,
        domain_id: Option<u64>,
        owner: Option<AccountId>,
    ) -> Self {
        or_panic(vault::parse_root_key(&root_public_key));
        or_panic(vault::parse_network(&network));
        Self {
            owner: owner.unwrap_or_else(env::predecessor_account_id),
            signer_contract,
            root_public_key,
            domain_id: domain_id.unwrap_or(0),
            network,
        }
    }

    /// The vault's deposit address for `path` (e.g. `deposit/<depositor>`): P2WPKH of the key
    /// the network derives for this contract and the path.
    pub fn deposit_address(&self, path: String) -> DepositAddress {
        let key = or_panic(vault::derive_key(
            &self.root(),
            env::current_account_id().as_str(),
            &path,
        ));
        DepositAddress {
            address: vault::p2wpkh_address(&key, self.network()).to_string(),
            public_key: hex::encode(key.to_bytes()),
            path,
        }
    }

    /// Offers a UTXO held by the deposit address of `path` for `price` yoctoNEAR, paid to
    /// `beneficiary` (default: the owner). Owner only: the contract cannot see Bitcoin, so it
    /// trusts the owner that the output exists with this amount.
    pub fn list_utxo(
        &mut self,
        txid: String,
        vout: u32,
        amount_sats: u64,
        path: String,
        price: U128,
        beneficiary: Option<AccountId>,
    ) -> ListingView {
        if env::predecessor_account_id() != self.owner {
            env::panic_str("only the owner may list UTXOs");
        }
        let key = listing_key(&txid, vout);
        if env::storage_has_key(&key) {
            env::panic_str(&VaultError::AlreadyListed(format!("{txid}:{vout}")).to_string());
        }
        let public_key = or_panic(vault::derive_key(
            &self.root(),
            env::current_account_id().as_str(),
            &path,
        ));
        let beneficiary = beneficiary.unwrap_or_else(|| self.owner.clone());
        let l = or_panic(Listing::new(
            or_panic(vault::parse_outpoint(&txid, vout)),
            amount_sats,
            &path,
            public_key,
            price.0,
            beneficiary.as_str(),
        ));
        save(&l);
        self.view(&l)
    }

    pub fn listing(&self, txid: String, vout: u32) -> Option<ListingView> {
        env::storage_read(&listing_key(&txid, vout)).map(|b| {
            let l: Listing =
                borsh::from_slice(&b).unwrap_or_else(|_| env::panic_str("a listing is unreadable"));
            self.view(&l)
        })
    }

    /// Buys a listed UTXO: attach at least its price (the excess is refunded) and 80 TGas.
    /// `destination` is a Bitcoin address of the vault's network, `fee_sats` the miners' fee
    /// taken from the UTXO. Returns a [`ReleaseView`] once the signature is there.
    #[payable]
    pub fn buy(&mut self, txid: String, vout: u32, destination: String, fee_sats: u64) {
        if env::prepaid_gas() < MIN_GAS {
            env::panic_str("attach at least 80 TGas");
        }
        let mut l = load(&txid, vout);
        let dest = or_panic(vault::parse_destination(&destination, self.network()));
        let buyer = env::predecessor_account_id();
        let attached = env::attached_deposit().as_yoctonear();
        let release = or_panic(l.begin_release(buyer.as_str(), attached, &dest, fee_sats));
        save(&l);
        transfer(buyer.as_str(), release.refund);
        env::log_str(&format!(
            "btc-vault: {}:{} pending for {buyer}, sighash {}",
            l.txid,
            l.vout,
            hex::encode(release.sighash)
        ));

        let args = serde_json::json!({"request": {
            "path": l.path,
            "payload_v2": {"Ecdsa": hex::encode(release.sighash)},
            "domain_id": self.domain_id,
        }});
        // The vault pays the signer's 1 yoctoNEAR from its own balance: the price is held
        // whole for the beneficiary.
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
        let cb_args = serde_json::json!({
            "txid": l.txid, "vout": l.vout,
            "unsigned_tx": serialize_hex(&release.tx),
        });
        env::promise_batch_action_function_call_weight(
            callback,
            "on_signed",
            cb_args.to_string().as_bytes(),
            NearToken::from_yoctonear(0),
            CALLBACK_GAS,
            GasWeight(0),
        );
        env::promise_return(callback);
    }

    /// `buy`'s callback: completes or aborts the release.
    #[private]
    pub fn on_signed(&mut self, txid: String, vout: u32, unsigned_tx: String) {
        let mut l = load(&txid, vout);
        let answer = match env::promise_result_checked(0, MAX_ANSWER_LEN) {
            Ok(a) => a,
            Err(_) => {
                if let Some((buyer, paid)) = l.abort() {
                    save(&l);
                    transfer(&buyer, paid);
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
                return;
            }
        };
        // The signer verified its signature before answering; a malformed answer would be a
        // signer bug, and panicking leaves the listing pending for the owner to look at.
        let signature: serde_json::Value = serde_json::from_slice(&answer)
            .unwrap_or_else(|_| env::panic_str("the signer's answer is not JSON"));
        let SignatureResponse::Secp256k1(ecdsa) = serde_json::from_value(signature.clone())
            .unwrap_or_else(|e| env::panic_str(&VaultError::Signature(e.to_string()).to_string()))
        else {
            env::panic_str("the signer answered with a non-ECDSA signature");
        };
        let tx: bitcoin::Transaction = hex::decode(&unsigned_tx)
            .ok()
            .and_then(|b| bitcoin::consensus::deserialize(&b).ok())
            .unwrap_or_else(|| env::panic_str("unsigned_tx is not a transaction"));
        let sighash = bitcoin::sighash::SighashCache::new(&tx)
            .p2wpkh_signature_hash(
                0,
                &or_panic(l.script_pubkey()),
                bitcoin::Amount::from_sat(l.amount_sats),
                bitcoin::EcdsaSighashType::All,
            )
            .unwrap_or_else(|e| env::panic_str(&e.to_string()));
        let Status::Pending { paid, .. } = l.status else {
            env::panic_str("the listing is not pending");
        };
        let signed = or_panic(l.complete(tx, &ecdsa));
        save(&l);
        transfer(&l.beneficiary, paid);
        let out = ReleaseView {
            txid: signed.compute_txid().to_string(),
            tx_hex: serialize_hex(&signed),
            sighash: hex::encode(bitcoin::hashes::Hash::to_byte_array(sighash)),
            public_key: hex::encode(l.public_key),
            signature,
        };
        env::log_str(&format!(
            "btc-vault: {txid}:{vout} released in {}",
            out.txid
        ));
        env::value_return(serde_json::to_vec(&out).expect("views serialize"));
    }

    /// Fails: how `on_signed` reports a failed request without reverting the refund.
    #[private]
    pub fn fail(&self) {
        env::panic_str(
            "the signature request failed: the buyer was refunded, the UTXO is listed again",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use near_sdk::mock::MockAction;
    use near_sdk::test_utils::{get_created_receipts, VMContextBuilder};
    use near_sdk::testing_env;
    use near_sdk::PromiseResult;

    const ROOT: &str = "secp256k1:4NfTiv3UsGahebgTaHyD9vF8KYKMBnfd6kh94mK6xv8fGBiJB8TBtFMP5WWXz6B89Ac1fbpzPwAvoyQebemHFwx3";
    const TXID: &str = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b";
    const DEST: &str = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";

    fn ctx(predecessor: &str, deposit: u128) {
        let mut b = VMContextBuilder::new();
        b.current_account_id("vault.devnet".parse().unwrap())
            .predecessor_account_id(predecessor.parse().unwrap())
            .attached_deposit(NearToken::from_yoctonear(deposit))
            .prepaid_gas(Gas::from_tgas(300));
        testing_env!(b.build());
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

    fn vault() -> BtcVault {
        ctx("owner.devnet", 0);
        let mut v = BtcVault::new(
            "signer.devnet".parse().unwrap(),
            ROOT.into(),
            "regtest".into(),
            None,
            None,
        );
        let l = v.list_utxo(
            TXID.into(),
            0,
            50_000,
            "deposit/alice".into(),
            U128(10),
            None,
        );
        assert_eq!(l.address, v.deposit_address("deposit/alice".into()).address);
        assert_eq!(l.status, "listed");
        v
    }

    #[test]
    fn buy_requests_the_sighash_and_holds_the_listing() {
        let mut v = vault();
        ctx("bob.devnet", 12);
        v.buy(TXID.into(), 0, DEST.into(), 1_000);
        let a = actions();
        assert_eq!(
            (a[0].0.as_str(), a[0].1.as_str(), a[0].3),
            ("bob.devnet", "transfer", 2)
        );
        assert_eq!(
            (a[1].0.as_str(), a[1].1.as_str(), a[1].3),
            ("signer.devnet", "sign", 1)
        );
        let args: serde_json::Value = serde_json::from_str(&a[1].2).unwrap();
        assert_eq!(args["request"]["path"], "deposit/alice");
        assert_eq!(
            args["request"]["payload_v2"]["Ecdsa"]
                .as_str()
                .unwrap()
                .len(),
            64
        );
        assert_eq!(a[2].1, "on_signed");
        assert_eq!(v.listing(TXID.into(), 0).unwrap().status, "pending");
        ctx("eve.devnet", 100);
        assert!(panics(|| v.buy(TXID.into(), 0, DEST.into(), 1_000)).contains("being released"));
    }

    #[test]
    fn refusals() {
        let mut v = vault();
        ctx("alice.devnet", 0);
        assert!(
            panics(|| v.list_utxo(TXID.into(), 1, 1, "p".into(), U128(1), None)).contains("owner")
        );
        ctx("owner.devnet", 0);
        assert!(
            panics(|| v.list_utxo(TXID.into(), 0, 1, "p".into(), U128(1), None))
                .contains("already listed")
        );
        ctx("bob.devnet", 9);
        assert!(panics(|| v.buy(TXID.into(), 0, DEST.into(), 1_000)).contains("below the price"));
        assert!(panics(|| v.buy(TXID.into(), 7, DEST.into(), 1_000)).contains("not listed"));
        assert!(panics(|| v.buy(
            TXID.into(),
            0,
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4".into(),
            1_000
        ))
        .contains("regtest"));
        ctx("bob.devnet", 10);
        assert!(panics(|| v.buy(TXID.into(), 0, DEST.into(), 1)).contains("fee"));
        assert_eq!(v.listing(TXID.into(), 0).unwrap().status, "listed");
    }

    #[test]
    fn a_failed_request_relists_and_refunds() {
        let mut v = vault();
        ctx("bob.devnet", 10);
        v.buy(TXID.into(), 0, DEST.into(), 1_000);
        let mut b = VMContextBuilder::new();
        b.current_account_id("vault.devnet".parse().unwrap())
            .predecessor_account_id("vault.devnet".parse().unwrap());
        testing_env!(
            b.build(),
            near_sdk::test_vm_config(),
            near_sdk::RuntimeFeesConfig::test(),
            Default::default(),
            vec![PromiseResult::Failed],
        );
        v.on_signed(TXID.into(), 0, "00".into());
        assert_eq!(v.listing(TXID.into(), 0).unwrap().status, "listed");
        let a = actions();
        assert!(
            a.iter()
                .any(|a| a.0 == "bob.devnet" && a.1 == "transfer" && a.3 == 10),
            "{a:?}"
        );
        assert!(a.iter().any(|a| a.1 == "fail"), "{a:?}");
    }
}
