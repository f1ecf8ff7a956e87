//! The vault's rules and its Bitcoin transactions. Pure: no NEAR host calls, so every rule is
//! unit-tested natively.
//!
//! Scheme: each deposit address is the P2WPKH address (BIP141) of the key the chain-signatures
//! network derives for this contract's account and a path (design §4.1: `root + ε·G`, ε from
//! SHA3-256 of the account and path). The vault computes the key itself from the network's
//! root public key, so it knows what it controls without asking anyone. A listed UTXO is
//! released by a transaction the vault builds: version 2, no lock time, the one input (RBF
//! signalled), one output paying `amount − fee` to the buyer's address. Its BIP143 sighash
//! (`SIGHASH_ALL`) is the payload of the Secp256k1 `sign` request; the signer's answer becomes
//! the witness `[DER(r, low-s) ‖ 0x01, compressed key]`.
//!
//! Listing lifecycle: `Listed` → (`buy`, paid) `Pending` → (signature) `Released`, or back to
//! `Listed` when the signature request fails. A `Pending` or `Released` listing refuses every
//! further buy, so a UTXO is never signed away twice.
//!
//! Caveats: the vault trusts its owner to list only outputs that exist at the stated value on
//! the chain (a contract cannot see Bitcoin; a wrong value gives a transaction the chain
//! refuses, and BIP143 commits to the value, so it cannot be used to overspend); the fee is the
//! buyer's choice within bounds; nothing stops the chain from reorganising the deposit away.

use bitcoin::hashes::Hash;
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::transaction::Version;
use bitcoin::{
    absolute::LockTime, Address, Amount, CompressedPublicKey, Network, OutPoint, ScriptBuf,
    Sequence, Transaction, TxIn, TxOut, Txid, Witness,
};
use core::str::FromStr;
use primitives::derivation::{derive_secp256k1, secp256k1_tweak};
use primitives::response::EcdsaSignature;
use primitives::NearPublicKey;

/// The signer's limit on a path's length (design §4.3).
pub const MAX_PATH_LEN: usize = 256;
/// The lowest fee rate Bitcoin Core relays (sat/vB).
pub const MIN_FEE_RATE: u64 = 1;
/// Above this a fee is a typo: bounded so a buyer cannot give the UTXO to miners by mistake.
pub const MAX_FEE_RATE: u64 = 10_000;

/// Why a call is refused. Every message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error("network must be bitcoin, testnet, signet or regtest, not {0:?}")]
    Network(String),
    #[error("root public key must be a secp256k1 key (\"secp256k1:…\"): {0}")]
    RootKey(String),
    #[error("path must be 1 to {MAX_PATH_LEN} bytes")]
    Path,
    #[error("key derivation failed: {0}")]
    Derive(String),
    #[error("txid must be 64 hex characters")]
    Txid,
    #[error("amount must be 1 satoshi to 21 million BTC")]
    Amount,
    #[error("price must be at least 1 yoctoNEAR")]
    Price,
    #[error("UTXO {0} is already listed")]
    AlreadyListed(String),
    #[error("UTXO {0} is not listed")]
    Unknown(String),
    #[error("UTXO {0} is being released to another buyer")]
    Pending(String),
    #[error("UTXO {0} was already released")]
    Released(String),
    #[error("payment of {attached} yoctoNEAR is below the price {price}")]
    Underpaid { attached: u128, price: u128 },
    #[error("destination {0:?} is not a Bitcoin address")]
    Destination(String),
    #[error("destination {address:?} is not a {network} address")]
    DestinationNetwork { address: String, network: Network },
    #[error("fee must be {min} to {max} satoshis for this transaction ({vbytes} vB at {MIN_FEE_RATE} to {MAX_FEE_RATE} sat/vB)")]
    Fee { min: u64, max: u64, vbytes: u64 },
    #[error("after the fee, the output ({value} sat) would be below the dust limit {dust} sat")]
    Dust { value: u64, dust: u64 },
    #[error("the signer's answer is not a usable secp256k1 signature: {0}")]
    Signature(String),
}

/// Parses a network name as Bitcoin Core spells it.
pub fn parse_network(name: &str) -> Result<Network, VaultError> {
    match name {
        "bitcoin" | "mainnet" => Ok(Network::Bitcoin),
        "testnet" => Ok(Network::Testnet),
        "signet" => Ok(Network::Signet),
        "regtest" => Ok(Network::Regtest),
        _ => Err(VaultError::Network(name.to_owned())),
    }
}

/// Parses the network's root key (the signer's `public_key` view for the Secp256k1 domain).
pub fn parse_root_key(text: &str) -> Result<NearPublicKey, VaultError> {
    let key = NearPublicKey::from_str(text).map_err(|e| VaultError::RootKey(e.to_string()))?;
    match key {
        NearPublicKey::Secp256k1(_) => Ok(key),
        NearPublicKey::Ed25519(_) => Err(VaultError::RootKey("it is an ed25519 key".into())),
    }
}

pub fn check_path(path: &str) -> Result<(), VaultError> {
    if path.is_empty() || path.len() > MAX_PATH_LEN {
        return Err(VaultError::Path);
    }
    Ok(())
}

/// The key the network signs with for `account` under `path`, compressed.
pub fn derive_key(
    root: &NearPublicKey,
    account: &str,
    path: &str,
) -> Result<CompressedPublicKey, VaultError> {
    check_path(path)?;
    let NearPublicKey::Secp256k1(root) = root else {
        return Err(VaultError::RootKey("not secp256k1".into()));
    };
    let derive = |e: &dyn core::fmt::Display| VaultError::Derive(e.to_string());
    let tweak = secp256k1_tweak(account, path).map_err(|e| derive(&e))?;
    let point = derive_secp256k1(root, &tweak).map_err(|e| derive(&e))?;
    let sec1 = NearPublicKey::Secp256k1(point)
        .sec1_compressed()
        .ok_or_else(|| derive(&"no compressed form"))?;
    CompressedPublicKey::from_slice(&sec1).map_err(|e| derive(&e))
}

/// The deposit address of a key.
pub fn p2wpkh_address(key: &CompressedPublicKey, network: Network) -> Address {
    Address::p2wpkh(key, network)
}

pub fn parse_outpoint(txid: &str, vout: u32) -> Result<OutPoint, VaultError> {
    if txid.len() != 64 {
        return Err(VaultError::Txid);
    }
    let txid = Txid::from_str(txid).map_err(|_| VaultError::Txid)?;
    Ok(OutPoint { txid, vout })
}

/// Parses the buyer's address and checks its network; any standard output type is accepted.
pub fn parse_destination(text: &str, network: Network) -> Result<ScriptBuf, VaultError> {
    let unchecked: Address<bitcoin::address::NetworkUnchecked> = text
        .parse()
        .map_err(|_| VaultError::Destination(text.to_owned()))?;
    let address =
        unchecked
            .require_network(network)
            .map_err(|_| VaultError::DestinationNetwork {
                address: text.to_owned(),
                network,
            })?;
    Ok(address.script_pubkey())
}

/// Where a listing is in its life.
#[derive(Debug, Clone, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
#[borsh(crate = "borsh")]
pub enum Status {
    Listed,
    /// Paid; the signature is requested.
    Pending {
        buyer: String,
        paid: u128,
    },
    Released {
        buyer: String,
        spend_txid: String,
    },
}

/// A UTXO the vault holds and offers.
#[derive(Debug, Clone, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
#[borsh(crate = "borsh")]
pub struct Listing {
    /// Display-order txid (as explorers and Esplora show it).
    pub txid: String,
    pub vout: u32,
    pub amount_sats: u64,
    pub path: String,
    /// The derived key holding it, compressed (33 bytes).
    pub public_key: [u8; 33],
    pub price: u128,
    /// Who receives the price.
    pub beneficiary: String,
    pub status: Status,
}

/// The transaction a paid buy releases, before its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub tx: Transaction,
    /// BIP143 sighash of the input: the payload of the sign request.
    pub sighash: [u8; 32],
    /// How much the buyer's payment exceeded the price: refunded at once.
    pub refund: u128,
}

impl Listing {
    /// A new listing, checked.
    pub fn new(
        outpoint: OutPoint,
        amount_sats: u64,
        path: &str,
        public_key: CompressedPublicKey,
        price: u128,
        beneficiary: &str,
    ) -> Result<Self, VaultError> {
        check_path(path)?;
        if amount_sats == 0 || Amount::from_sat(amount_sats) > Amount::MAX_MONEY {
            return Err(VaultError::Amount);
        }
        if price == 0 {
            return Err(VaultError::Price);
        }
        Ok(Self {
            txid: outpoint.txid.to_string(),
            vout: outpoint.vout,
            amount_sats,
            path: path.to_owned(),
            public_key: public_key.to_bytes(),
            price,
            beneficiary: beneficiary.to_owned(),
            status: Status::Listed,
        })
    }

    fn id(&self) -> String {
        format!("{}:{}", self.txid, self.vout)
    }

    fn key(&self) -> Result<CompressedPublicKey, VaultError> {
        CompressedPublicKey::from_slice(&self.public_key)
            .map_err(|e| VaultError::Derive(e.to_string()))
    }

    fn outpoint(&self) -> Result<OutPoint, VaultError> {
        parse_outpoint(&self.txid, self.vout)
    }

    /// The scriptPubKey the UTXO is locked with.
    pub fn script_pubkey(&self) -> Result<ScriptBuf, VaultError> {
        Ok(ScriptBuf::new_p2wpkh(&self.key()?.wpubkey_hash()))
    }

    /// A buy paying `attached` for delivery to `destination` with `fee_sats`: checks every
    /// rule, builds the spend, and marks the listing `Pending` for `buyer`. Nothing changes
    /// when it is refused.
    pub fn begin_release(
        &mut self,
        buyer: &str,
        attached: u128,
        destination: &ScriptBuf,
        fee_sats: u64,
    ) -> Result<Release, VaultError> {
        match &self.status {
            Status::Listed => {}
            Status::Pending { .. } => return Err(VaultError::Pending(self.id())),
            Status::Released { .. } => return Err(VaultError::Released(self.id())),
        }
        if attached < self.price {
            return Err(VaultError::Underpaid {
                attached,
                price: self.price,
            });
        }
        let tx = self.unsigned_tx(destination, fee_sats)?;
        let sighash = SighashCache::new(&tx)
            .p2wpkh_signature_hash(
                0,
                &self.script_pubkey()?,
                Amount::from_sat(self.amount_sats),
                EcdsaSighashType::All,
            )
            .map_err(|e| VaultError::Signature(e.to_string()))?
            .to_byte_array();
        self.status = Status::Pending {
            buyer: buyer.to_owned(),
            paid: self.price,
        };
        Ok(Release {
            tx,
            sighash,
            refund: attached - self.price,
        })
    }

    /// The spend, before its witness.
    pub fn unsigned_tx(
        &self,
        destination: &ScriptBuf,
        fee_sats: u64,
    ) -> Result<Transaction, VaultError> {
        // Non-witness: version, counts, lock time (10) + input (41) + output (9 + script);
        // witness ≈ 2 + 73 + 34 + marker/flag, a quarter each: 28 vB.
        let vbytes = 10 + 41 + 9 + destination.len() as u64 + 28;
        let (min, max) = (vbytes * MIN_FEE_RATE, vbytes * MAX_FEE_RATE);
        if !(min..=max).contains(&fee_sats) {
            return Err(VaultError::Fee { min, max, vbytes });
        }
        let value = self.amount_sats.saturating_sub(fee_sats);
        let dust = destination.minimal_non_dust().to_sat();
        if value < dust {
            return Err(VaultError::Dust { value, dust });
        }
        Ok(Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: self.outpoint()?,
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: Witness::new(),
            }],
            output: vec![TxOut {
                value: Amount::from_sat(value),
                script_pubkey: destination.clone(),
            }],
        })
    }

    /// The signature arrived: the listing is released for good. Returns the signed spend.
    pub fn complete(
        &mut self,
        mut tx: Transaction,
        signature: &EcdsaSignature,
    ) -> Result<Transaction, VaultError> {
        let Status::Pending { buyer, .. } = &self.status else {
            return Err(VaultError::Unknown(self.id()));
        };
        let buyer = buyer.clone();
        let witness = witness(&self.key()?, signature)?;
        tx.input[0].witness = witness;
        self.status = Status::Released {
            buyer,
            spend_txid: tx.compute_txid().to_string(),
        };
        Ok(tx)
    }

    /// The signature request failed: offered again. Returns the buyer and payment to refund.
    pub fn abort(&mut self) -> Option<(String, u128)> {
        let Status::Pending { buyer, paid } = &self.status else {
            return None;
        };
        let out = (buyer.clone(), *paid);
        self.status = Status::Listed;
        Some(out)
    }
}

/// The P2WPKH witness for `signature` by `key`. Bitcoin refuses high-s signatures (BIP146's
/// LOW_S is policy), so s is normalized; that is the same signature to the curve.
pub fn witness(
    key: &CompressedPublicKey,
    signature: &EcdsaSignature,
) -> Result<Witness, VaultError> {
    let mut sig = bitcoin::secp256k1::ecdsa::Signature::from_compact(&signature.to_bytes())
        .map_err(|e| VaultError::Signature(e.to_string()))?;
    sig.normalize_s();
    let sig = bitcoin::ecdsa::Signature {
        signature: sig,
        sighash_type: EcdsaSighashType::All,
    };
    Ok(Witness::p2wpkh(&sig, &key.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::consensus::encode::serialize_hex;
    use k256::ecdsa::signature::hazmat::PrehashVerifier;
    use k256::ecdsa::{SigningKey, VerifyingKey};
    use k256::elliptic_curve::point::DecompressPoint;
    use k256::elliptic_curve::sec1::ToEncodedPoint;

    const ACCOUNT: &str = "vault.devnet";
    const TXID: &str = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b";

    fn root_secret() -> k256::Scalar {
        *SigningKey::from_bytes(&[7u8; 32].into())
            .unwrap()
            .as_nonzero_scalar()
            .as_ref()
    }

    fn root() -> NearPublicKey {
        NearPublicKey::Secp256k1((k256::ProjectivePoint::GENERATOR * root_secret()).to_affine())
    }

    /// The derived secret: what the network's shares add up to for this account and path.
    fn derived_secret(path: &str) -> SigningKey {
        let eps = secp256k1_tweak(ACCOUNT, path).unwrap();
        SigningKey::from_bytes(&(root_secret() + eps).to_bytes()).unwrap()
    }

    /// Signs as the network would, answering in the signer's JSON form.
    fn network_sign(path: &str, sighash: &[u8; 32]) -> EcdsaSignature {
        let (sig, recid) = derived_secret(path)
            .sign_prehash_recoverable(sighash)
            .unwrap();
        // Make it high-s half of the time to exercise normalization.
        let (r, s) = sig.split_scalars();
        let s = if sighash[0] & 1 == 1 { -*s } else { *s };
        // Only x(R) enters Bitcoin's signature; R's parity does not matter here.
        let _ = recid;
        let big_r = k256::AffinePoint::decompress(&r.to_bytes(), 0u8.into()).unwrap();
        let json = serde_json::json!({"scheme": "Secp256k1",
            "big_r": {"affine_point": hex::encode(big_r.to_encoded_point(true).as_bytes())},
            "s": {"scalar": hex::encode(s.to_bytes())}, "recovery_id": 0});
        match serde_json::from_value(json).unwrap() {
            primitives::response::SignatureResponse::Secp256k1(s) => s,
            _ => unreachable!(),
        }
    }

    fn listing(path: &str) -> Listing {
        let key = derive_key(&root(), ACCOUNT, path).unwrap();
        Listing::new(
            parse_outpoint(TXID, 1).unwrap(),
            100_000,
            path,
            key,
            5,
            "owner.devnet",
        )
        .unwrap()
    }

    fn dest() -> ScriptBuf {
        parse_destination(
            "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
            Network::Regtest,
        )
        .unwrap()
    }

    #[test]
    fn derived_addresses_match_the_network_key_derivation() {
        let key = derive_key(&root(), ACCOUNT, "deposit/alice").unwrap();
        let expected = derived_secret("deposit/alice")
            .verifying_key()
            .to_encoded_point(true);
        assert_eq!(key.to_bytes().as_slice(), expected.as_bytes());
        let a = p2wpkh_address(&key, Network::Regtest).to_string();
        assert!(a.starts_with("bcrt1q"), "{a}");
        assert_ne!(key, derive_key(&root(), ACCOUNT, "deposit/bob").unwrap());
        assert_ne!(
            key,
            derive_key(&root(), "other.devnet", "deposit/alice").unwrap()
        );
        assert_eq!(derive_key(&root(), ACCOUNT, ""), Err(VaultError::Path));
    }

    #[test]
    fn a_paid_release_is_a_valid_spend_and_happens_once() {
        let mut l = listing("deposit/alice");
        let r = l.begin_release("bob.devnet", 7, &dest(), 500).unwrap();
        assert_eq!(r.refund, 2);
        assert_eq!(r.tx.output[0].value.to_sat(), 99_500);
        assert_eq!(r.tx.input[0].previous_output.txid.to_string(), TXID);
        assert!(
            matches!(l.status, Status::Pending { ref buyer, paid: 5 } if buyer == "bob.devnet")
        );
        // A second buy while pending, and after release, is refused.
        assert!(matches!(
            l.begin_release("eve", 5, &dest(), 500),
            Err(VaultError::Pending(_))
        ));

        let sig = network_sign("deposit/alice", &r.sighash);
        let tx = l.complete(r.tx.clone(), &sig).unwrap();
        assert!(matches!(l.status, Status::Released { .. }));
        assert!(matches!(
            l.begin_release("eve", 5, &dest(), 500),
            Err(VaultError::Released(_))
        ));

        // The witness: a low-s DER signature with SIGHASH_ALL over the BIP143 sighash, and the
        // key whose hash the spent output commits to.
        let w: Vec<&[u8]> = tx.input[0].witness.iter().collect();
        assert_eq!(w.len(), 2);
        assert_eq!(*w[0].last().unwrap(), 0x01);
        let der = k256::ecdsa::Signature::from_der(&w[0][..w[0].len() - 1]).unwrap();
        assert!(der.normalize_s().is_none(), "s must be low");
        let vk = VerifyingKey::from_sec1_bytes(w[1]).unwrap();
        vk.verify_prehash(&r.sighash, &der).unwrap();
        assert_eq!(w[1], l.public_key.as_slice());
        // Recomputing the sighash from the signed transaction gives the same payload.
        let again = SighashCache::new(&tx)
            .p2wpkh_signature_hash(
                0,
                &l.script_pubkey().unwrap(),
                Amount::from_sat(100_000),
                EcdsaSighashType::All,
            )
            .unwrap();
        assert_eq!(again.to_byte_array(), r.sighash);
        assert!(serialize_hex(&tx).starts_with("020000000001"));
    }

    #[test]
    fn refused_buys_change_nothing() {
        let mut l = listing("deposit/alice");
        let before = l.clone();
        assert_eq!(
            l.begin_release("bob", 4, &dest(), 500),
            Err(VaultError::Underpaid {
                attached: 4,
                price: 5
            })
        );
        assert!(matches!(
            l.begin_release("bob", 5, &dest(), 10),
            Err(VaultError::Fee { .. })
        ));
        assert!(matches!(
            l.begin_release("bob", 5, &dest(), 99_900),
            Err(VaultError::Dust { value: 100, .. })
        ));
        assert_eq!(l, before);
        // A failed request returns the listing to sale and names the refund.
        l.begin_release("bob", 9, &dest(), 500).unwrap();
        assert_eq!(l.abort(), Some(("bob".into(), 5)));
        assert_eq!(l.status, Status::Listed);
        assert_eq!(l.abort(), None);
    }

    #[test]
    fn inputs_are_checked() {
        assert!(matches!(
            parse_destination(
                "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
                Network::Regtest
            ),
            Err(VaultError::DestinationNetwork { .. })
        ));
        assert!(matches!(
            parse_destination("nope", Network::Regtest),
            Err(VaultError::Destination(_))
        ));
        assert_eq!(parse_outpoint("abcd", 0), Err(VaultError::Txid));
        assert_eq!(parse_outpoint(&"zz".repeat(32), 0), Err(VaultError::Txid));
        assert!(matches!(parse_network("regtest"), Ok(Network::Regtest)));
        assert!(parse_network("litecoin").is_err());
        assert!(parse_root_key("ed25519:6vSEtQxrQj6txUMh33WC4ERyCWmNMRTdufDWAaDY3Un2").is_err());
        assert!(parse_root_key("secp256k1:xyz").is_err());
        assert_eq!(parse_root_key(&root().to_string()).unwrap(), root());
        let key = derive_key(&root(), ACCOUNT, "p").unwrap();
        let op = parse_outpoint(TXID, 0).unwrap();
        assert_eq!(
            Listing::new(op, 0, "p", key, 1, "o"),
            Err(VaultError::Amount)
        );
        assert_eq!(
            Listing::new(op, 1, "p", key, 0, "o"),
            Err(VaultError::Price)
        );
        assert_eq!(
            Listing::new(op, 1, &"x".repeat(257), key, 1, "o"),
            Err(VaultError::Path)
        );
    }
}
