//! Foreign-chain addresses of a derived key (docs/design.md §4.2), each chain's own encoding.
//!
//! Of a secp256k1 key:
//! - EVM: the last 20 bytes of keccak256(X ‖ Y), shown with the EIP-55 checksum (alloy);
//! - Bitcoin P2PKH, P2WPKH (BIP173) and P2TR (BIP341/BIP350 key-path only: the output key is
//!   the derived key tweaked by `H_TapTweak(x)`, no script tree, as BIP86 does) — rust-bitcoin;
//! - Dogecoin P2PKH: base58check with version 0x1e;
//! - XRP classic address: base58check with version 0 in the Ripple alphabet;
//! - Cosmos: bech32 (not bech32m) with a chain's prefix; all three commit to
//!   RIPEMD160(SHA256(compressed key)).
//!
//! Of an ed25519 key: Solana (base58 of the key) and NEAR implicit accounts (its hex).
//!
//! [`addresses`] offers each address only for the domain scheme that can sign for it: P2TR
//! for Bip340 domains (whose signatures verify under exactly that output key,
//! `primitives::taproot`), the others for Secp256k1 (ECDSA) and Ed25519.

use alloy_primitives::Address as EvmAddress;
use bitcoin::key::{CompressedPublicKey, Secp256k1, XOnlyPublicKey};
use curve25519_dalek::EdwardsPoint;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::AffinePoint;
use primitives::{NearPublicKey, SignatureScheme};
use ripemd::Ripemd160;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Why an address could not be made or read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    #[error("{0:?} is not a usable bech32 prefix (1 to 83 lower-case ASCII characters)")]
    Prefix(String),
    #[error("{key} is a {curve} key; {what} needs a {needed} key")]
    WrongCurve {
        key: String,
        curve: &'static str,
        what: &'static str,
        needed: &'static str,
    },
    #[error("{network:?} is not a Bitcoin network (mainnet, testnet, regtest)")]
    Network { network: String },
}

/// Which Bitcoin network an address is for (signet shares testnet's encodings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BitcoinNetwork {
    Mainnet,
    Testnet,
    Regtest,
}

impl BitcoinNetwork {
    /// rust-bitcoin's name for it.
    pub fn to_bitcoin(self) -> bitcoin::Network {
        match self {
            Self::Mainnet => bitcoin::Network::Bitcoin,
            Self::Testnet => bitcoin::Network::Testnet,
            Self::Regtest => bitcoin::Network::Regtest,
        }
    }
}

impl FromStr for BitcoinNetwork {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, AddressError> {
        match s {
            "mainnet" | "bitcoin" | "main" => Ok(Self::Mainnet),
            "testnet" | "test" | "signet" => Ok(Self::Testnet),
            "regtest" => Ok(Self::Regtest),
            _ => Err(AddressError::Network {
                network: s.to_owned(),
            }),
        }
    }
}

impl fmt::Display for BitcoinNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Mainnet => "mainnet",
            Self::Testnet => "testnet",
            Self::Regtest => "regtest",
        })
    }
}

/// The 33-byte compressed SEC1 form of a key.
pub fn compressed(pk: &AffinePoint) -> [u8; 33] {
    pk.to_encoded_point(true)
        .as_bytes()
        .try_into()
        .expect("a compressed point is 33 bytes")
}

/// RIPEMD160(SHA256(compressed key)): what P2PKH, P2WPKH, XRP and Cosmos commit to.
pub fn hash160(pk: &AffinePoint) -> [u8; 20] {
    Ripemd160::digest(Sha256::digest(compressed(pk))).into()
}

/// The key as rust-bitcoin holds it.
pub fn bitcoin_key(pk: &AffinePoint) -> CompressedPublicKey {
    CompressedPublicKey::from_slice(&compressed(pk)).expect("a k256 point is a valid key")
}

/// The EVM address of a key; its `Display` is the EIP-55 checksummed form.
pub fn evm(pk: &AffinePoint) -> EvmAddress {
    let uncompressed = pk.to_encoded_point(false);
    EvmAddress::from_raw_public_key(&uncompressed.as_bytes()[1..])
}

/// Legacy pay-to-public-key-hash address.
pub fn bitcoin_p2pkh(pk: &AffinePoint, network: BitcoinNetwork) -> bitcoin::Address {
    bitcoin::Address::p2pkh(bitcoin_key(pk), network.to_bitcoin())
}

/// Native segwit v0 pay-to-witness-public-key-hash address.
pub fn bitcoin_p2wpkh(pk: &AffinePoint, network: BitcoinNetwork) -> bitcoin::Address {
    bitcoin::Address::p2wpkh(&bitcoin_key(pk), network.to_bitcoin())
}

/// The x-only form of a key: the BIP341 internal key of its P2TR output.
pub fn x_only(pk: &AffinePoint) -> XOnlyPublicKey {
    XOnlyPublicKey::from(bitcoin_key(pk).0)
}

/// Taproot address whose internal key is `pk`, with no script tree (BIP86's construction):
/// the output key is `lift_x(pk) + H_TapTweak(x(pk))·G`, spent by a key-path signature.
pub fn bitcoin_p2tr(pk: &AffinePoint, network: BitcoinNetwork) -> bitcoin::Address {
    let secp = Secp256k1::verification_only();
    bitcoin::Address::p2tr(&secp, x_only(pk), None, network.to_bitcoin())
}

/// Dogecoin's pay-to-public-key-hash address (mainnet, version 0x1e: starts with `D`).
pub fn dogecoin_p2pkh(pk: &AffinePoint) -> String {
    crate::doge::address(pk, crate::doge::DogeNetwork::Mainnet)
}

/// The XRP Ledger's classic address (starts with `r`).
pub fn xrp(pk: &AffinePoint) -> String {
    bs58::encode(hash160(pk))
        .with_alphabet(bs58::Alphabet::RIPPLE)
        .with_check_version(0)
        .into_string()
}

/// A Cosmos SDK account address with the chain's bech32 prefix (`cosmos`, `osmo`, ...).
pub fn cosmos(pk: &AffinePoint, prefix: &str) -> Result<String, AddressError> {
    let hrp = bech32::Hrp::parse(prefix)
        .ok()
        .filter(|h| h.as_str() == prefix && !prefix.chars().any(|c| c.is_ascii_uppercase()))
        .ok_or_else(|| AddressError::Prefix(prefix.to_owned()))?;
    bech32::encode::<bech32::Bech32>(hrp, &hash160(pk))
        .map_err(|_| AddressError::Prefix(prefix.to_owned()))
}

/// The Solana address of an ed25519 key (base58 of its 32 bytes).
pub fn solana(pk: &EdwardsPoint) -> String {
    bs58::encode(pk.compress().as_bytes()).into_string()
}

/// The NEAR implicit account of an ed25519 key (lower-case hex of its 32 bytes).
pub fn near_implicit(pk: &EdwardsPoint) -> String {
    hex::encode(pk.compress().as_bytes())
}

/// What `addresses` prints for chains with choices.
#[derive(Debug, Clone)]
pub struct AddressOptions {
    pub bitcoin: BitcoinNetwork,
    pub cosmos_prefix: String,
}

impl Default for AddressOptions {
    fn default() -> Self {
        Self {
            bitcoin: BitcoinNetwork::Mainnet,
            cosmos_prefix: "cosmos".into(),
        }
    }
}

/// Every address a domain of `scheme` can sign for with `key`, by name (`evm`,
/// `btc_p2wpkh`, `solana`, ...): ECDSA (Secp256k1) signs for EVM, Bitcoin P2PKH/P2WPKH,
/// Dogecoin, XRP and Cosmos; Bip340 for Bitcoin P2TR (key path); Ed25519 for Solana and NEAR
/// implicit accounts. An address is never offered by a domain that cannot spend from it.
pub fn addresses(
    key: &NearPublicKey,
    scheme: SignatureScheme,
    options: &AddressOptions,
) -> Result<BTreeMap<&'static str, String>, AddressError> {
    let mut out = BTreeMap::new();
    let net = options.bitcoin;
    match scheme {
        SignatureScheme::Secp256k1 | SignatureScheme::V2Secp256k1 => {
            let p = secp256k1_of(key, "a Secp256k1 domain")?;
            out.insert("evm", evm(p).to_string());
            out.insert("btc_p2pkh", bitcoin_p2pkh(p, net).to_string());
            out.insert("btc_p2wpkh", bitcoin_p2wpkh(p, net).to_string());
            out.insert("doge_p2pkh", dogecoin_p2pkh(p));
            out.insert("xrp", xrp(p));
            out.insert("cosmos", cosmos(p, &options.cosmos_prefix)?);
        }
        SignatureScheme::Bip340 => {
            let p = secp256k1_of(key, "a Bip340 domain")?;
            out.insert("btc_p2tr", bitcoin_p2tr(p, net).to_string());
        }
        SignatureScheme::Ed25519 => {
            let p = ed25519_of(key, "an Ed25519 domain")?;
            out.insert("solana", solana(p));
            out.insert("near_implicit", near_implicit(p));
        }
    }
    Ok(out)
}

/// The secp256k1 point of a key, or an error naming what needed it.
pub fn secp256k1_of<'k>(
    key: &'k NearPublicKey,
    what: &'static str,
) -> Result<&'k AffinePoint, AddressError> {
    key.as_secp256k1().ok_or_else(|| AddressError::WrongCurve {
        key: key.to_string(),
        curve: "ed25519",
        what,
        needed: "secp256k1",
    })
}

/// The ed25519 point of a key, or an error naming what needed it.
pub fn ed25519_of<'k>(
    key: &'k NearPublicKey,
    what: &'static str,
) -> Result<&'k EdwardsPoint, AddressError> {
    key.as_ed25519().ok_or_else(|| AddressError::WrongCurve {
        key: key.to_string(),
        curve: "secp256k1",
        what,
        needed: "ed25519",
    })
}

#[cfg(test)]
mod tests;
