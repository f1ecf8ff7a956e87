//! Dogecoin payments from a derived key's P2PKH address, signed by the network.
//!
//! Dogecoin keeps Bitcoin's legacy transaction format and script rules: an input spending a
//! P2PKH output carries `<DER(r, s) ‖ SIGHASH_ALL> <compressed key>` in its scriptSig, and the
//! signed digest is the legacy (pre-segwit) sighash, which rust-bitcoin computes. Addresses are
//! base58check with Dogecoin's version bytes (0x1e mainnet `D…`, 0x71 testnet `n…`). Fees are
//! per kilobyte (Dogecoin Core's recommended 0.01 DOGE/kB by default); an output below 0.01
//! DOGE is dust. Inputs are taken largest first; change goes back to the sender.
//!
//! Every signature is checked against its sighash and key before it goes into a scriptSig.

use bitcoin::blockdata::script::{Builder, PushBytesBuf};
use bitcoin::hashes::Hash;
use bitcoin::key::Secp256k1;
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::transaction::Version;
use bitcoin::{
    absolute::LockTime, Amount, PubkeyHash, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness,
};
use k256::AffinePoint;
use primitives::response::SignatureResponse;

use crate::address::{bitcoin_key, hash160};
use crate::btc::{check_count, checked_ecdsa, select, BtcError, Utxo};

/// koinu (1e-8 DOGE) in one DOGE.
pub const KOINU_PER_DOGE: u64 = 100_000_000;
/// Dogecoin Core's dust limit: 0.01 DOGE.
pub const DUST: u64 = KOINU_PER_DOGE / 100;
/// A legacy P2PKH input with its scriptSig, at most: 41 + 1 + 73 + 1 + 33 bytes.
const INPUT_BYTES: u64 = 149;
/// A P2PKH output: value, script length, 25-byte script.
const OUTPUT_BYTES: u64 = 34;
/// Version, locktime and the two counts.
const BASE_BYTES: u64 = 10;

/// A Dogecoin network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DogeNetwork {
    Mainnet,
    Testnet,
}

impl DogeNetwork {
    fn version(self) -> u8 {
        match self {
            Self::Mainnet => 0x1e,
            Self::Testnet => 0x71,
        }
    }
}

impl std::str::FromStr for DogeNetwork {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mainnet" => Ok(Self::Mainnet),
            "testnet" => Ok(Self::Testnet),
            _ => Err(format!(
                "{s:?} is not a Dogecoin network (mainnet, testnet)"
            )),
        }
    }
}

impl std::fmt::Display for DogeNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Mainnet => "mainnet",
            Self::Testnet => "testnet",
        })
    }
}

/// The P2PKH address of `key` on `network`.
pub fn address(key: &AffinePoint, network: DogeNetwork) -> String {
    bs58::encode(hash160(key))
        .with_check_version(network.version())
        .into_string()
}

/// The locking script of a Dogecoin P2PKH address on `network`.
pub fn script_of(text: &str, network: DogeNetwork) -> Result<ScriptBuf, BtcError> {
    let bytes = bs58::decode(text)
        .with_check(None)
        .into_vec()
        .map_err(|_| BtcError::Address(text.to_owned()))?;
    let (&version, hash) = bytes
        .split_first()
        .ok_or_else(|| BtcError::Address(text.to_owned()))?;
    let hash: [u8; 20] = hash
        .try_into()
        .map_err(|_| BtcError::Address(text.to_owned()))?;
    if version != network.version() {
        return Err(BtcError::Address(format!(
            "{text} (not a Dogecoin {network} P2PKH address)"
        )));
    }
    Ok(ScriptBuf::new_p2pkh(&PubkeyHash::from_byte_array(hash)))
}

/// A payment of `amount` koinu to `to` from `key`'s P2PKH outputs.
#[derive(Debug, Clone)]
pub struct DogeSpend {
    pub key: AffinePoint,
    pub utxos: Vec<Utxo>,
    pub to: ScriptBuf,
    pub amount: u64,
    /// koinu per kilobyte.
    pub fee_per_kb: u64,
}

/// A built Dogecoin transaction waiting for one signature per input.
#[derive(Debug, Clone)]
pub struct UnsignedDoge {
    pub key: AffinePoint,
    pub tx: Transaction,
    pub fee: u64,
}

/// The P2PKH locking script of `key`: where the sender's outputs are, and its change goes.
fn p2pkh_script(key: &AffinePoint) -> ScriptBuf {
    ScriptBuf::new_p2pkh(&PubkeyHash::from_byte_array(hash160(key)))
}

impl DogeSpend {
    /// Selects inputs (largest first), sets the fee and the change.
    pub fn build(&self) -> Result<UnsignedDoge, BtcError> {
        if !(1..=100 * KOINU_PER_DOGE).contains(&self.fee_per_kb) {
            return Err(BtcError::FeeRate);
        }
        if self.utxos.is_empty() {
            return Err(BtcError::NoUtxos);
        }
        let koinu = Amount::from_sat;
        if self.amount < DUST {
            return Err(BtcError::Dust {
                amount: koinu(self.amount),
                dust: koinu(DUST),
            });
        }
        let fee = |inputs: usize, change: bool| {
            let outputs = if change { 2 } else { 1 };
            let bytes = BASE_BYTES + outputs * OUTPUT_BYTES + inputs as u64 * INPUT_BYTES;
            koinu(bytes.div_ceil(1000).saturating_mul(self.fee_per_kb))
        };
        let picked = select(&self.utxos, koinu(self.amount), fee, koinu(DUST))?;
        let mut output = vec![TxOut {
            value: koinu(self.amount),
            script_pubkey: self.to.clone(),
        }];
        if let Some(change) = picked.change {
            output.push(TxOut {
                value: change,
                script_pubkey: p2pkh_script(&self.key),
            });
        }
        let (chosen, fee) = (picked.chosen, picked.fee.to_sat());
        let tx = Transaction {
            version: Version::ONE,
            lock_time: LockTime::ZERO,
            input: chosen
                .iter()
                .map(|u| TxIn {
                    previous_output: u.outpoint,
                    script_sig: ScriptBuf::new(),
                    sequence: Sequence::MAX,
                    witness: Witness::new(),
                })
                .collect(),
            output,
        };
        Ok(UnsignedDoge {
            key: self.key,
            tx,
            fee,
        })
    }
}

impl UnsignedDoge {
    /// One legacy sighash (SIGHASH_ALL) per input: the payloads to sign, in input order.
    pub fn sighashes(&self) -> Vec<[u8; 32]> {
        let cache = SighashCache::new(&self.tx);
        let script = p2pkh_script(&self.key);
        (0..self.tx.input.len())
            .map(|i| {
                cache
                    .legacy_signature_hash(i, &script, EcdsaSighashType::All.to_u32())
                    .expect("an input of this transaction")
                    .to_byte_array()
            })
            .collect()
    }

    /// The signed transaction, if every signature verifies for its input.
    pub fn assemble(&self, signatures: &[SignatureResponse]) -> Result<Transaction, BtcError> {
        check_count(signatures.len(), self.tx.input.len())?;
        let secp = Secp256k1::verification_only();
        let key = bitcoin_key(&self.key);
        let mut tx = self.tx.clone();
        for (i, (sighash, response)) in self.sighashes().into_iter().zip(signatures).enumerate() {
            let bad = |reason: &str| BtcError::BadSignature {
                input: i,
                reason: reason.to_owned(),
            };
            let SignatureResponse::Secp256k1(sig) = response else {
                return Err(bad("not an ECDSA signature"));
            };
            let signature = checked_ecdsa(&secp, sighash, sig, &key).map_err(bad)?;
            let der = signature.serialize();
            let push = |bytes: &[u8]| {
                PushBytesBuf::try_from(bytes.to_vec()).expect("a signature or key fits a push")
            };
            tx.input[i].script_sig = Builder::new()
                .push_slice(push(&der))
                .push_slice(push(&key.to_bytes()))
                .into_script();
        }
        Ok(tx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AffinePoint {
        (k256::ProjectivePoint::GENERATOR * k256::Scalar::from(7u64)).to_affine()
    }

    #[test]
    fn addresses_round_trip_and_keep_to_their_network() {
        // bitcore-lib-doge's address of the private key 0x0505…05 (compressed).
        let secret = k256::SecretKey::from_slice(&[5; 32]).unwrap();
        let known = address(
            &secret.public_key().to_projective().to_affine(),
            DogeNetwork::Mainnet,
        );
        assert_eq!(known, "DKVQopraAReCMjWanZiqaptUxUH1eBxsRc");
        let main = address(&key(), DogeNetwork::Mainnet);
        let script = script_of(&main, DogeNetwork::Mainnet).unwrap();
        assert_eq!(script, p2pkh_script(&key()));
        assert!(script_of(&main, DogeNetwork::Testnet).is_err());
        let test = address(&key(), DogeNetwork::Testnet);
        assert_eq!(script_of(&test, DogeNetwork::Testnet).unwrap(), script);
        assert!(script_of("not-base58!", DogeNetwork::Mainnet).is_err());
    }

    #[test]
    fn a_payment_takes_largest_inputs_first_and_returns_change() {
        let utxo = |i: u8, doge: u64| {
            format!(
                "{}:0:{}",
                bitcoin::Txid::from_byte_array([i; 32]),
                doge * KOINU_PER_DOGE
            )
            .parse()
            .unwrap()
        };
        let spend = DogeSpend {
            key: key(),
            utxos: vec![utxo(1, 5), utxo(2, 50), utxo(3, 20)],
            to: script_of(&address(&key(), DogeNetwork::Mainnet), DogeNetwork::Mainnet).unwrap(),
            amount: 60 * KOINU_PER_DOGE,
            fee_per_kb: KOINU_PER_DOGE / 100,
        };
        let unsigned = spend.build().unwrap();
        assert_eq!(unsigned.tx.input.len(), 2);
        assert_eq!(
            unsigned.fee,
            KOINU_PER_DOGE / 100,
            "under a kilobyte: one kB's fee"
        );
        assert_eq!(
            unsigned.tx.output[1].value.to_sat(),
            10 * KOINU_PER_DOGE - unsigned.fee
        );
        assert_eq!(unsigned.sighashes().len(), 2);
        let too_much = DogeSpend {
            amount: 100 * KOINU_PER_DOGE,
            ..spend.clone()
        };
        assert!(matches!(
            too_much.build(),
            Err(BtcError::InsufficientFunds { .. })
        ));
        let dust = DogeSpend {
            amount: DUST - 1,
            ..spend
        };
        assert!(matches!(dust.build(), Err(BtcError::Dust { .. })));
    }
}
