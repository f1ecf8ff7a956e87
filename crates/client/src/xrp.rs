//! XRP payments from a derived key's classic address, signed by the network.
//!
//! The XRP Ledger signs a transaction over SHA-512Half (the first 32 bytes of SHA-512) of the
//! prefix `STX\0` and the transaction's canonical binary serialization without its signature
//! ([`codec`]); a secp256k1 account puts the 33-byte compressed key in `SigningPubKey` and a
//! DER signature with low `s` in `TxnSignature` (rippled refuses the high-`s` twin). The
//! transaction's id is SHA-512Half of `TXN\0` and the signed blob. The account is
//! RIPEMD-160(SHA-256(key)), shown as base58check with the ledger's own alphabet (`r…`).
//!
//! Only payments of XRP are built here (no issued currencies, paths or memos); an X-address is
//! not accepted — give the classic address and `destination_tag`. `network_id` is for chains
//! whose id is above 1024 (mainnet, testnet and devnet must leave it out).
//!
//! [`XrplRpc`] reads an account's next sequence, the current fee and ledger index, and submits
//! the blob, over rippled's JSON-RPC.

pub mod codec;
mod rpc;

use k256::AffinePoint;
use primitives::response::SignatureResponse;
use sha2::{Digest, Sha512};

use crate::address::compressed;
use crate::ecdsa::{self, EcdsaError};
use codec::{Field, MAX_DROPS};
pub use rpc::{Submitted, XrplRpc};

/// Drops (the ledger's unit) in one XRP.
pub const DROPS_PER_XRP: u64 = 1_000_000;
/// The reference fee of a plain transaction, in drops, when no server says otherwise.
pub const BASE_FEE_DROPS: u64 = 10;
/// The most fee a server may set for a payment without the user saying so (xrpl.js's
/// `maxFeeXRP`, 2 XRP): an overloaded or hostile server must not burn the balance as fee.
pub const MAX_SERVER_FEE_DROPS: u64 = 2 * DROPS_PER_XRP;
/// How many ledgers (about 4 s each) a signed payment stays valid by default.
pub const VALID_LEDGERS: u32 = 20;
/// The Payment transaction type.
const PAYMENT: u16 = 0;
/// `STX\0`: the prefix of a single-signed transaction's signing data.
const SIGNING_PREFIX: [u8; 4] = *b"STX\0";
/// `TXN\0`: the prefix of a signed transaction's id.
const ID_PREFIX: [u8; 4] = *b"TXN\0";

/// Why an XRP payment cannot be made or sent.
#[derive(Debug, thiserror::Error)]
pub enum XrpError {
    #[error("{0:?} is not a classic XRP Ledger address (r…; give an X-address as its classic address and --destination-tag)")]
    Address(String),
    #[error("{0:?} is not an amount of XRP (a decimal with at most 6 places, above zero)")]
    Amount(String),
    #[error("{what} of {drops} drops is more XRP than exists")]
    TooLarge { what: &'static str, drops: u64 },
    #[error("a payment to the sending account itself is refused by the ledger")]
    ToSelf,
    #[error(transparent)]
    Signature(#[from] EcdsaError),
    #[error("{url}: {reason}")]
    Transport { url: String, reason: String },
    #[error("{method}: the server refused ({error}): {message}")]
    Server {
        method: String,
        error: String,
        message: String,
    },
    #[error("{method}: unexpected answer: {reason}")]
    Decode { method: String, reason: String },
    #[error("{0} is not on the ledger yet: an account exists once it has received the reserve (1 XRP on mainnet)")]
    NotFunded(String),
}

/// The 20-byte account id of a classic address.
pub fn parse_address(text: &str) -> Result<[u8; 20], XrpError> {
    let bad = || XrpError::Address(text.to_owned());
    let bytes = bs58::decode(text)
        .with_alphabet(bs58::Alphabet::RIPPLE)
        .with_check(Some(0))
        .into_vec()
        .map_err(|_| bad())?;
    // The decoded bytes keep the version byte in front of the 20-byte account id.
    bytes
        .get(1..)
        .and_then(|id| <[u8; 20]>::try_from(id).ok())
        .ok_or_else(bad)
}

/// An XRP amount in drops, from a decimal like `1.5`.
pub fn parse_xrp(text: &str) -> Result<u64, XrpError> {
    crate::amount::parse_decimal(text, 6)
        .and_then(|d| u64::try_from(d).ok())
        .filter(|&d| d > 0)
        .ok_or_else(|| XrpError::Amount(text.to_owned()))
}

/// SHA-512Half: the XRP Ledger's hash.
fn sha512_half(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha512::new();
    for p in parts {
        h.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(&h.finalize()[..32]);
    out
}

/// A payment of XRP from the account of `key`.
#[derive(Debug, Clone)]
pub struct XrpPayment {
    pub key: AffinePoint,
    pub destination: [u8; 20],
    pub destination_tag: Option<u32>,
    pub drops: u64,
    pub fee_drops: u64,
    /// The sending account's next sequence number.
    pub sequence: u32,
    /// The last ledger in which the payment may be applied; after it, it never will be.
    pub last_ledger_sequence: Option<u32>,
    pub network_id: Option<u32>,
}

/// A signed payment: the blob rippled's `submit` takes and its transaction id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedXrp {
    pub blob: Vec<u8>,
    pub hash: [u8; 32],
}

impl SignedXrp {
    /// The id as the ledger shows it (upper-case hex).
    pub fn id(&self) -> String {
        hex::encode_upper(self.hash)
    }
}

impl XrpPayment {
    /// The sending account's id.
    pub fn account(&self) -> [u8; 20] {
        crate::address::hash160(&self.key)
    }

    fn check(&self) -> Result<(), XrpError> {
        for (what, drops) in [("the amount", self.drops), ("the fee", self.fee_drops)] {
            if drops > MAX_DROPS {
                return Err(XrpError::TooLarge { what, drops });
            }
        }
        if self.destination == self.account() {
            return Err(XrpError::ToSelf);
        }
        Ok(())
    }

    /// Every field but the signature.
    fn fields(&self) -> Vec<Field> {
        use codec::*;
        let mut fields = vec![
            Field::uint16(TRANSACTION_TYPE, PAYMENT),
            Field::uint32(FLAGS, 0),
            Field::uint32(SEQUENCE, self.sequence),
            Field::drops(AMOUNT_FIELD, self.drops),
            Field::drops(FEE, self.fee_drops),
            Field::blob(SIGNING_PUB_KEY, &compressed(&self.key)),
            Field::account(ACCOUNT, &self.account()),
            Field::account(DESTINATION, &self.destination),
        ];
        let optional = [
            (DESTINATION_TAG, self.destination_tag),
            (LAST_LEDGER_SEQUENCE, self.last_ledger_sequence),
            (NETWORK_ID, self.network_id),
        ];
        fields.extend(
            optional
                .into_iter()
                .filter_map(|(id, v)| v.map(|v| Field::uint32(id, v))),
        );
        fields
    }

    /// The 32-byte digest the network signs.
    pub fn signing_hash(&self) -> Result<[u8; 32], XrpError> {
        self.check()?;
        Ok(sha512_half(&[
            &SIGNING_PREFIX,
            &codec::serialize(&self.fields()),
        ]))
    }

    /// The signed blob, after checking `signature` under the key (and making its `s` low).
    pub fn assemble(&self, signature: &SignatureResponse) -> Result<SignedXrp, XrpError> {
        let digest = self.signing_hash()?;
        let sig = ecdsa::low_s(signature, &digest, &self.key)?;
        let mut fields = self.fields();
        fields.push(Field::blob(codec::TXN_SIGNATURE, sig.to_der().as_bytes()));
        let blob = codec::serialize(&fields);
        let hash = sha512_half(&[&ID_PREFIX, &blob]);
        Ok(SignedXrp { blob, hash })
    }
}

#[cfg(test)]
mod tests;
