//! NEAR transactions from a derived account: the network's Ed25519 domain signs for the
//! ed25519 implicit account its derived key names (the account id is the key's 64 hex digits;
//! a transfer to it creates it, as NEAR does).
//!
//! A transaction is signed over the SHA-256 of its borsh encoding ([`signing_hash`]); the
//! domain's answer for that 32-byte message becomes the transaction's signature in
//! [`assemble`], which checks it under the derived key first.

use ed25519_dalek::{Signature as DalekSignature, Verifier, VerifyingKey};
use near_crypto::{ED25519PublicKey, PublicKey, Signature};
use near_primitives::hash::CryptoHash;
use near_primitives::transaction::{
    Action, SignedTransaction, Transaction, TransactionV0, TransferAction,
};
use near_primitives::types::{AccountId, Balance};

/// yoctoNEAR per NEAR.
pub const YOCTO_PER_NEAR: u128 = 1_000_000_000_000_000_000_000_000;

/// Why a NEAR transaction cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum NearTxError {
    #[error("{0:?} is not a NEAR account id: {1}")]
    Account(String, String),
    #[error("{0:?} is not an amount of NEAR (a decimal with at most 24 places)")]
    Amount(String),
    #[error("the network's signature does not verify under the derived key")]
    BadSignature,
}

/// A NEAR amount in yoctoNEAR, from a decimal like `1.5` (at most 24 places).
pub fn parse_near(text: &str) -> Result<u128, NearTxError> {
    crate::amount::parse_decimal(text, 24).ok_or_else(|| NearTxError::Amount(text.to_owned()))
}

fn account_id(text: &str) -> Result<AccountId, NearTxError> {
    text.parse()
        .map_err(|e: near_primitives::account::id::ParseAccountError| {
            NearTxError::Account(text.to_owned(), e.to_string())
        })
}

/// A transfer of `deposit` yoctoNEAR from `signer` (the implicit account of `key`, for a
/// derived key) to `receiver`, with the access key's next nonce and a recent block hash.
pub fn transfer(
    signer: &str,
    key: [u8; 32],
    nonce: u64,
    receiver: &str,
    block_hash: CryptoHash,
    deposit: u128,
) -> Result<Transaction, NearTxError> {
    Ok(Transaction::V0(TransactionV0 {
        signer_id: account_id(signer)?,
        public_key: PublicKey::ED25519(ED25519PublicKey(key)),
        nonce,
        receiver_id: account_id(receiver)?,
        block_hash,
        actions: vec![Action::Transfer(TransferAction {
            deposit: Balance::from_yoctonear(deposit),
        })],
    }))
}

/// What the signer signs: the SHA-256 of the transaction's borsh encoding.
pub fn signing_hash(tx: &Transaction) -> [u8; 32] {
    tx.get_hash_and_size().0 .0
}

/// The signed transaction, if `signature` verifies under `key` over its [`signing_hash`].
pub fn assemble(
    tx: Transaction,
    key: [u8; 32],
    signature: [u8; 64],
) -> Result<SignedTransaction, NearTxError> {
    let verifying = VerifyingKey::from_bytes(&key).map_err(|_| NearTxError::BadSignature)?;
    let sig = DalekSignature::from_bytes(&signature);
    verifying
        .verify(&signing_hash(&tx), &sig)
        .map_err(|_| NearTxError::BadSignature)?;
    Ok(SignedTransaction::new(Signature::ED25519(sig), tx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn amounts_of_near() {
        assert_eq!(parse_near("1").unwrap(), YOCTO_PER_NEAR);
        assert_eq!(parse_near("0.5").unwrap(), YOCTO_PER_NEAR / 2);
        assert_eq!(parse_near(".5").unwrap(), YOCTO_PER_NEAR / 2);
        assert_eq!(parse_near("0.000000000000000000000001").unwrap(), 1);
        for bad in [
            "",
            ".",
            "-1",
            "1e3",
            "0.0000000000000000000000001",
            "9".repeat(40).as_str(),
        ] {
            assert!(parse_near(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_transfer_is_signed_over_its_hash_and_checked() {
        let signing = SigningKey::from_bytes(&[7; 32]);
        let key = signing.verifying_key().to_bytes();
        let implicit = hex::encode(key);
        let tx = transfer(&implicit, key, 5, "bob.near", CryptoHash::default(), 10).unwrap();
        let Transaction::V0(v0) = &tx else {
            unreachable!()
        };
        assert_eq!(v0.signer_id.as_str(), hex::encode(key));
        let signature = signing.sign(&signing_hash(&tx)).to_bytes();
        let signed = assemble(tx.clone(), key, signature).unwrap();
        assert_eq!(signed.get_hash(), CryptoHash(signing_hash(&tx)));
        let mut wrong = signature;
        wrong[0] ^= 1;
        assert!(assemble(tx, key, wrong).is_err());
        assert!(transfer(
            &implicit,
            key,
            5,
            "Not An Account",
            CryptoHash::default(),
            1
        )
        .is_err());
    }
}
