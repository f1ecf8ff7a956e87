//! Cosmos SDK bank sends from a derived key's account, signed by the network.
//!
//! A transaction is a `TxBody` (one `MsgSend` and a memo) and an `AuthInfo` (the signer's
//! compressed secp256k1 key, `SIGN_MODE_DIRECT`, its sequence; the fee and gas limit), each
//! protobuf-encoded ([`proto`]). `SIGN_MODE_DIRECT` signs SHA-256 of the `SignDoc` — those two
//! byte strings with the chain id and the account number — and the signature goes into
//! `TxRaw` as 64 bytes `r ‖ s` with low `s` (the SDK refuses the high-`s` twin). The account is
//! bech32 of RIPEMD-160(SHA-256(key)) with the chain's prefix; the transaction hash is
//! SHA-256 of the `TxRaw` bytes.
//!
//! The account number and sequence come from the chain (`CosmosRest::account`) or the caller;
//! the fee is a fixed amount of the same denomination as the payment for a given gas limit.
//! Amino JSON signing (Ledger-era wallets) is not offered: every SDK chain accepts DIRECT.

pub mod proto;
mod rest;

use k256::AffinePoint;
use primitives::response::SignatureResponse;
use prost::Message;
use sha2::{Digest, Sha256};

use crate::address::compressed;
use crate::ecdsa::{self, EcdsaError};
pub use rest::{Broadcast, CosmosRest};

/// The SDK's default memo limit (`MaxMemoCharacters`).
pub const MAX_MEMO: usize = 256;

/// Why a Cosmos send cannot be made or sent.
#[derive(Debug, thiserror::Error)]
pub enum CosmosError {
    #[error("{address:?} is not a {prefix}… account address")]
    Address { address: String, prefix: String },
    #[error(transparent)]
    Prefix(#[from] crate::address::AddressError),
    #[error("{0:?} is not a denomination (a letter, then 2 to 127 of letters, digits, / : . _ -)")]
    Denom(String),
    #[error("{0:?} is not an amount in base units (a whole number above zero)")]
    Amount(String),
    #[error("the memo is {0} bytes; chains accept at most {MAX_MEMO} by default")]
    Memo(usize),
    #[error("a chain id is needed (give --chain-id, or --rest to read it from the node)")]
    ChainId,
    #[error(transparent)]
    Signature(#[from] EcdsaError),
    #[error("{url}: {reason}")]
    Transport { url: String, reason: String },
    #[error("{what}: the node refused: {message}")]
    Server { what: &'static str, message: String },
    #[error("{what}: unexpected answer: {reason}")]
    Decode { what: &'static str, reason: String },
    #[error("{0} is not on the chain yet: an account exists once it has received funds")]
    NotFunded(String),
}

/// An amount in base units (`uatom`), from a whole number above zero.
pub fn parse_amount(text: &str) -> Result<u128, CosmosError> {
    crate::amount::parse_decimal(text, 0)
        .filter(|&a| a > 0 && !text.contains('.'))
        .ok_or_else(|| CosmosError::Amount(text.to_owned()))
}

/// Checks a denomination against the SDK's rule (`[a-zA-Z][a-zA-Z0-9/:._-]{2,127}`).
pub fn check_denom(denom: &str) -> Result<(), CosmosError> {
    let mut chars = denom.chars();
    let first = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest = chars.all(|c| c.is_ascii_alphanumeric() || "/:._-".contains(c));
    if first && rest && (3..=128).contains(&denom.len()) {
        Ok(())
    } else {
        Err(CosmosError::Denom(denom.to_owned()))
    }
}

/// Checks that `address` is an account of the chain with bech32 `prefix` (a 20-byte account
/// or a 32-byte module / interchain account).
pub fn check_address(address: &str, prefix: &str) -> Result<(), CosmosError> {
    let bad = || CosmosError::Address {
        address: address.to_owned(),
        prefix: prefix.to_owned(),
    };
    // bech32 only: the SDK refuses an address with bech32m's checksum.
    let parsed = bech32::primitives::decode::CheckedHrpstring::new::<bech32::Bech32>(address)
        .map_err(|_| bad())?;
    let len = parsed.byte_iter().len();
    if parsed.hrp().as_str() != prefix || ![20, 32].contains(&len) {
        return Err(bad());
    }
    Ok(())
}

/// A bank send of `amount` `denom` from the account of `key`.
#[derive(Debug, Clone)]
pub struct CosmosSend {
    pub key: AffinePoint,
    /// The chain's bech32 account prefix (`cosmos`, `osmo`, …).
    pub prefix: String,
    pub to: String,
    pub amount: u128,
    pub denom: String,
    /// The fee, in `denom`.
    pub fee: u128,
    pub gas_limit: u64,
    pub memo: String,
    pub chain_id: String,
    pub account_number: u64,
    pub sequence: u64,
}

/// A signed send: the `TxRaw` bytes a node broadcasts, and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCosmos {
    pub tx_bytes: Vec<u8>,
    pub hash: [u8; 32],
}

impl SignedCosmos {
    /// The hash as explorers show it (upper-case hex).
    pub fn id(&self) -> String {
        hex::encode_upper(self.hash)
    }
}

fn any(type_url: &str, message: &impl Message) -> proto::Any {
    proto::Any {
        type_url: type_url.to_owned(),
        value: message.encode_to_vec(),
    }
}

impl CosmosSend {
    /// The sending account's address.
    pub fn from(&self) -> Result<String, CosmosError> {
        Ok(crate::address::cosmos(&self.key, &self.prefix)?)
    }

    fn coin(&self, amount: u128) -> proto::Coin {
        proto::Coin {
            denom: self.denom.clone(),
            amount: amount.to_string(),
        }
    }

    /// The body and auth-info bytes, after checking every field a node would refuse.
    fn parts(&self) -> Result<(Vec<u8>, Vec<u8>), CosmosError> {
        let from = self.from()?;
        check_address(&self.to, &self.prefix)?;
        check_denom(&self.denom)?;
        if self.amount == 0 {
            return Err(CosmosError::Amount("0".into()));
        }
        if self.memo.len() > MAX_MEMO {
            return Err(CosmosError::Memo(self.memo.len()));
        }
        if self.chain_id.is_empty() {
            return Err(CosmosError::ChainId);
        }
        let send = proto::MsgSend {
            from_address: from,
            to_address: self.to.clone(),
            amount: vec![self.coin(self.amount)],
        };
        let body = proto::TxBody {
            messages: vec![any("/cosmos.bank.v1beta1.MsgSend", &send)],
            memo: self.memo.clone(),
        };
        let key = proto::PubKey {
            key: compressed(&self.key).to_vec(),
        };
        let auth = proto::AuthInfo {
            signer_infos: vec![proto::SignerInfo {
                public_key: Some(any("/cosmos.crypto.secp256k1.PubKey", &key)),
                mode_info: Some(proto::ModeInfo {
                    single: Some(proto::Single {
                        mode: proto::SIGN_MODE_DIRECT,
                    }),
                }),
                sequence: self.sequence,
            }],
            fee: Some(proto::Fee {
                amount: (self.fee > 0)
                    .then(|| self.coin(self.fee))
                    .into_iter()
                    .collect(),
                gas_limit: self.gas_limit,
            }),
        };
        Ok((body.encode_to_vec(), auth.encode_to_vec()))
    }

    /// The 32-byte digest the network signs: SHA-256 of the `SignDoc`.
    pub fn signing_hash(&self) -> Result<[u8; 32], CosmosError> {
        let (body, auth_info) = self.parts()?;
        Ok(self.digest(&body, &auth_info))
    }

    fn digest(&self, body_bytes: &[u8], auth_info_bytes: &[u8]) -> [u8; 32] {
        let doc = proto::SignDoc {
            body_bytes: body_bytes.to_vec(),
            auth_info_bytes: auth_info_bytes.to_vec(),
            chain_id: self.chain_id.clone(),
            account_number: self.account_number,
        };
        Sha256::digest(doc.encode_to_vec()).into()
    }

    /// The signed transaction, after checking `signature` under the key (and making its `s`
    /// low).
    pub fn assemble(&self, signature: &SignatureResponse) -> Result<SignedCosmos, CosmosError> {
        let (body_bytes, auth_info_bytes) = self.parts()?;
        let digest = self.digest(&body_bytes, &auth_info_bytes);
        let sig = ecdsa::low_s(signature, &digest, &self.key)?;
        let tx_bytes = proto::TxRaw {
            body_bytes,
            auth_info_bytes,
            signatures: vec![sig.to_bytes().to_vec()],
        }
        .encode_to_vec();
        let hash = Sha256::digest(&tx_bytes).into();
        Ok(SignedCosmos { tx_bytes, hash })
    }
}

#[cfg(test)]
mod tests;
