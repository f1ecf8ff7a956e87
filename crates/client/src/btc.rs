//! Bitcoin spends from a derived key, signed by the network (rust-bitcoin's types and
//! sighashes).
//!
//! A [`Spend`] pays `amount` to one address from the derived key's outputs, largest first,
//! with a fee of `fee rate × estimated vsize` and the change back to the sender when it is not
//! dust. Two kinds of sender:
//! - P2WPKH (BIP141/143): each input's BIP143 sighash is the payload of a Secp256k1 `sign`
//!   request; the witness is `[DER(r, s) ‖ SIGHASH_ALL, compressed key]`.
//! - P2TR key path (BIP341): each input's BIP341 sighash (`SIGHASH_DEFAULT`, all prevouts
//!   committed) is the payload of a Bip340 request; the witness is the 64-byte signature. The
//!   signature must verify under the output key (the derived key tweaked by BIP86's rule).
//!
//! Every signature is checked against its sighash and key before it goes into a witness.

use bitcoin::hashes::Hash;
use bitcoin::key::{Secp256k1, TapTweak};
use bitcoin::sighash::{EcdsaSighashType, Prevouts, SighashCache, TapSighashType};
use bitcoin::transaction::Version;
use bitcoin::{
    absolute::LockTime, Address, Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut,
    Txid, Witness,
};
use k256::AffinePoint;
use primitives::response::SignatureResponse;
use primitives::SignatureScheme;
use std::str::FromStr;

use crate::address::{bitcoin_key, bitcoin_p2tr, bitcoin_p2wpkh, x_only, BitcoinNetwork};

/// Why a spend cannot be built or assembled.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BtcError {
    #[error("{0:?} is not a UTXO: write it txid:vout:satoshis")]
    Utxo(String),
    #[error("{address} is not a {network} address")]
    Network {
        address: String,
        network: BitcoinNetwork,
    },
    #[error("{0:?} is not a Bitcoin address")]
    Address(String),
    #[error("{amount} is below the dust limit {dust} of the recipient's output")]
    Dust { amount: Amount, dust: Amount },
    #[error("no UTXOs to spend")]
    NoUtxos,
    #[error("insufficient UTXOs: they hold {have}, the payment and its fee need {need}")]
    InsufficientFunds { have: Amount, need: Amount },
    #[error("fee rate must be 1 to {MAX_FEE_RATE} sat/vB")]
    FeeRate,
    #[error("{what} ({amount}) is more than the 21 million BTC that can exist")]
    Money { what: &'static str, amount: Amount },
    #[error("{given} signatures for {inputs} inputs")]
    SignatureCount { given: usize, inputs: usize },
    #[error("input {input}: {reason}")]
    BadSignature { input: usize, reason: String },
}

/// A fee rate far above any a network has needed: anything higher is a typo, and bounding it
/// keeps every fee computation far from overflow.
pub const MAX_FEE_RATE: u64 = 100_000;

/// How the sender's outputs are locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendKind {
    P2wpkh,
    P2tr,
}

impl SpendKind {
    /// The signature scheme of the domain that signs this kind of input.
    pub fn scheme(self) -> SignatureScheme {
        match self {
            Self::P2wpkh => SignatureScheme::Secp256k1,
            Self::P2tr => SignatureScheme::Bip340,
        }
    }

    /// Virtual bytes one input of this kind adds, with its witness.
    fn input_vbytes(self) -> u64 {
        match self {
            // 41 bytes outpoint/script/sequence ×4 + witness (1 + 73 + 1 + 33 + count) ≈ 272 WU.
            Self::P2wpkh => 68,
            // 41 × 4 + witness (1 + 1 + 64) = 230 WU.
            Self::P2tr => 58,
        }
    }
}

/// An output the sender can spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utxo {
    pub outpoint: OutPoint,
    pub value: Amount,
}

impl FromStr for Utxo {
    type Err = BtcError;
    /// `txid:vout:satoshis`.
    fn from_str(s: &str) -> Result<Self, BtcError> {
        let bad = || BtcError::Utxo(s.to_owned());
        let mut parts = s.split(':');
        let (Some(txid), Some(vout), Some(sats), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        Ok(Self {
            outpoint: OutPoint {
                txid: Txid::from_str(txid).map_err(|_| bad())?,
                vout: vout.parse().map_err(|_| bad())?,
            },
            value: Amount::from_sat(sats.parse().map_err(|_| bad())?),
        })
    }
}

/// Parses an address and checks it belongs to `network`.
pub fn parse_address(text: &str, network: BitcoinNetwork) -> Result<Address, BtcError> {
    let unchecked: Address<bitcoin::address::NetworkUnchecked> = text
        .parse()
        .map_err(|_| BtcError::Address(text.to_owned()))?;
    unchecked
        .require_network(network.to_bitcoin())
        .map_err(|_| BtcError::Network {
            address: text.to_owned(),
            network,
        })
}

/// A payment from the derived key `key`.
#[derive(Debug, Clone)]
pub struct Spend {
    pub kind: SpendKind,
    pub key: AffinePoint,
    pub network: BitcoinNetwork,
    pub utxos: Vec<Utxo>,
    pub to: Address,
    pub amount: Amount,
    /// Satoshis per virtual byte.
    pub fee_rate: u64,
}

/// A built transaction waiting for one signature per input.
#[derive(Debug, Clone)]
pub struct UnsignedSpend {
    pub kind: SpendKind,
    pub key: AffinePoint,
    pub tx: Transaction,
    pub prevouts: Vec<TxOut>,
    pub fee: Amount,
}

impl Spend {
    /// The sender's address (where the UTXOs are, and where change goes).
    pub fn from_address(&self) -> Address {
        match self.kind {
            SpendKind::P2wpkh => bitcoin_p2wpkh(&self.key, self.network),
            SpendKind::P2tr => bitcoin_p2tr(&self.key, self.network),
        }
    }

    /// Selects inputs (largest first), sets the fee and the change.
    pub fn build(&self) -> Result<UnsignedSpend, BtcError> {
        if !(1..=MAX_FEE_RATE).contains(&self.fee_rate) {
            return Err(BtcError::FeeRate);
        }
        if self.utxos.is_empty() {
            return Err(BtcError::NoUtxos);
        }
        // Bounded inputs keep the sums below: no amount over 21M BTC, rates bounded above.
        let money = |what, amount: Amount| {
            (amount <= Amount::MAX_MONEY)
                .then_some(())
                .ok_or(BtcError::Money { what, amount })
        };
        money("the amount", self.amount)?;
        for u in &self.utxos {
            money("a UTXO's value", u.value)?;
        }
        let pay_script = self.to.script_pubkey();
        let dust = pay_script.minimal_non_dust();
        if self.amount < dust {
            return Err(BtcError::Dust {
                amount: self.amount,
                dust,
            });
        }
        let change_script = self.from_address().script_pubkey();
        let out_vbytes = |script: &ScriptBuf| 8 + 1 + script.len() as u64;
        // version, locktime, counts; the segwit marker and flag are half a vbyte.
        let base = 11 + out_vbytes(&pay_script);
        let change_out = out_vbytes(&change_script);
        let inputs = self.kind.input_vbytes();
        let fee = |n: usize, change: bool| {
            let vbytes = base + n as u64 * inputs + if change { change_out } else { 0 };
            Amount::from_sat(vbytes * self.fee_rate)
        };
        let picked = select(
            &self.utxos,
            self.amount,
            fee,
            change_script.minimal_non_dust(),
        )?;
        let mut output = vec![TxOut {
            value: self.amount,
            script_pubkey: pay_script,
        }];
        if let Some(change) = picked.change {
            output.push(TxOut {
                value: change,
                script_pubkey: change_script.clone(),
            });
        }
        let (chosen, fee) = (picked.chosen, picked.fee);
        let tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: chosen
                .iter()
                .map(|u| TxIn {
                    previous_output: u.outpoint,
                    script_sig: ScriptBuf::new(),
                    sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                    witness: Witness::new(),
                })
                .collect(),
            output,
        };
        let prevouts = chosen
            .iter()
            .map(|u| TxOut {
                value: u.value,
                script_pubkey: change_script.clone(),
            })
            .collect();
        Ok(UnsignedSpend {
            kind: self.kind,
            key: self.key,
            tx,
            prevouts,
            fee,
        })
    }
}

impl UnsignedSpend {
    /// One sighash per input: the payloads to sign, in input order.
    pub fn sighashes(&self) -> Vec<[u8; 32]> {
        let mut cache = SighashCache::new(&self.tx);
        (0..self.tx.input.len())
            .map(|i| match self.kind {
                SpendKind::P2wpkh => cache
                    .p2wpkh_signature_hash(
                        i,
                        &self.prevouts[i].script_pubkey,
                        self.prevouts[i].value,
                        EcdsaSighashType::All,
                    )
                    .expect("inputs are P2WPKH by construction")
                    .to_byte_array(),
                SpendKind::P2tr => cache
                    .taproot_key_spend_signature_hash(
                        i,
                        &Prevouts::All(&self.prevouts),
                        TapSighashType::Default,
                    )
                    .expect("one prevout per input by construction")
                    .to_byte_array(),
            })
            .collect()
    }

    /// The signed transaction, if every signature verifies for its input.
    pub fn assemble(&self, signatures: &[SignatureResponse]) -> Result<Transaction, BtcError> {
        check_count(signatures.len(), self.tx.input.len())?;
        let secp = Secp256k1::verification_only();
        let mut tx = self.tx.clone();
        for (i, (sighash, response)) in self.sighashes().into_iter().zip(signatures).enumerate() {
            let bad = |reason: &str| BtcError::BadSignature {
                input: i,
                reason: reason.to_owned(),
            };
            let message = bitcoin::secp256k1::Message::from_digest(sighash);
            tx.input[i].witness = match (self.kind, response) {
                (SpendKind::P2wpkh, SignatureResponse::Secp256k1(sig)) => {
                    let key = bitcoin_key(&self.key);
                    let signature = checked_ecdsa(&secp, sighash, sig, &key).map_err(bad)?;
                    Witness::p2wpkh(&signature, &key.0)
                }
                (SpendKind::P2tr, SignatureResponse::Bip340 { signature }) => {
                    let signature = bitcoin::secp256k1::schnorr::Signature::from_slice(signature)
                        .map_err(|_| bad("malformed BIP340 signature"))?;
                    let (output_key, _) = x_only(&self.key).tap_tweak(&secp, None);
                    secp.verify_schnorr(&signature, &message, &output_key.to_x_only_public_key())
                        .map_err(|_| bad("the signature does not verify under the output key"))?;
                    Witness::p2tr_key_spend(&bitcoin::taproot::Signature {
                        signature,
                        sighash_type: TapSighashType::Default,
                    })
                }
                _ => return Err(bad("the signature's scheme does not fit the input")),
            };
        }
        Ok(tx)
    }
}

/// What coin selection chose: inputs, fee, and the change if there is any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selection {
    pub chosen: Vec<Utxo>,
    pub fee: Amount,
    pub change: Option<Amount>,
}

/// Coin selection, for Bitcoin and Dogecoin alike: UTXOs largest first until they pay `amount`
/// and the fee of that many inputs (`fee(inputs, with_change)`); a change output only when
/// what is left after its own fee is not `dust` (else the rest goes to the fee).
pub(crate) fn select(
    utxos: &[Utxo],
    amount: Amount,
    fee: impl Fn(usize, bool) -> Amount,
    dust: Amount,
) -> Result<Selection, BtcError> {
    let mut sorted = utxos.to_vec();
    sorted.sort_by_key(|u| std::cmp::Reverse(u.value));
    let too_much = |what| BtcError::Money {
        what,
        amount: Amount::MAX,
    };
    let (mut chosen, mut have, mut need) = (vec![], Amount::ZERO, amount);
    for utxo in sorted {
        chosen.push(utxo);
        have = have
            .checked_add(utxo.value)
            .ok_or_else(|| too_much("the UTXOs' total"))?;
        need = amount
            .checked_add(fee(chosen.len(), false))
            .ok_or_else(|| too_much("the amount and its fee"))?;
        if have >= need {
            break;
        }
    }
    if have < need {
        return Err(BtcError::InsufficientFunds { have, need });
    }
    let with_change = amount
        .checked_add(fee(chosen.len(), true))
        .ok_or_else(|| too_much("the amount and its fee"))?;
    let change = (have >= with_change && have - with_change >= dust).then(|| have - with_change);
    Ok(Selection {
        chosen,
        fee: if change.is_some() {
            with_change - amount
        } else {
            have - amount
        },
        change,
    })
}

/// Errors unless there is one signature per input.
pub(crate) fn check_count(given: usize, inputs: usize) -> Result<(), BtcError> {
    if given == inputs {
        Ok(())
    } else {
        Err(BtcError::SignatureCount { given, inputs })
    }
}

/// The network's ECDSA answer for `sighash` as a low-s `SIGHASH_ALL` signature, if it verifies
/// under `key`: what a P2WPKH witness (Bitcoin) and a P2PKH scriptSig (Dogecoin) carry.
pub(crate) fn checked_ecdsa(
    secp: &Secp256k1<bitcoin::secp256k1::VerifyOnly>,
    sighash: [u8; 32],
    sig: &primitives::response::EcdsaSignature,
    key: &bitcoin::CompressedPublicKey,
) -> Result<bitcoin::ecdsa::Signature, &'static str> {
    let mut signature = bitcoin::secp256k1::ecdsa::Signature::from_compact(&sig.to_bytes())
        .map_err(|_| "malformed ECDSA signature")?;
    signature.normalize_s();
    let message = bitcoin::secp256k1::Message::from_digest(sighash);
    secp.verify_ecdsa(&message, &signature, &key.0)
        .map_err(|_| "the ECDSA signature does not verify")?;
    Ok(bitcoin::ecdsa::Signature::sighash_all(signature))
}

#[cfg(test)]
mod tests;

/// An Esplora-compatible HTTP API (Blockstream's, mempool.space's, or electrs'): the UTXOs of
/// an address, fee estimates, and broadcast.
#[derive(Clone)]
pub struct Esplora {
    http: reqwest::Client,
    base: String,
}

/// Why an Esplora call failed.
#[derive(Debug, thiserror::Error)]
pub enum EsploraError {
    #[error("{url}: {reason}")]
    Http { url: String, reason: String },
    #[error("{url} answered something unexpected: {reason}")]
    Decode { url: String, reason: String },
}

impl Esplora {
    pub fn new(base: &str) -> Self {
        Self {
            http: crate::jsonrpc::http_client(),
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// Sends `request` (to `url`) and returns the URL and the body of a successful answer.
    async fn text(
        url: String,
        request: reqwest::RequestBuilder,
    ) -> Result<(String, String), EsploraError> {
        let http = |reason: String| EsploraError::Http {
            url: url.clone(),
            reason,
        };
        let response = request.send().await.map_err(|e| http(e.to_string()))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| http(e.to_string()))?;
        if !status.is_success() {
            return Err(http(format!("HTTP {status}: {}", text.trim())));
        }
        Ok((url, text))
    }

    async fn get_text(&self, path: &str) -> Result<(String, String), EsploraError> {
        let url = format!("{}{path}", self.base);
        let request = self.http.get(&url);
        Self::text(url, request).await
    }

    /// The confirmed outputs of `address`.
    pub async fn utxos(&self, address: &Address) -> Result<Vec<Utxo>, EsploraError> {
        #[derive(serde::Deserialize)]
        struct Status {
            confirmed: bool,
        }
        #[derive(serde::Deserialize)]
        struct Entry {
            txid: String,
            vout: u32,
            value: u64,
            status: Status,
        }
        let (url, text) = self.get_text(&format!("/address/{address}/utxo")).await?;
        let decode = |reason: String| EsploraError::Decode {
            url: url.clone(),
            reason,
        };
        let entries: Vec<Entry> = serde_json::from_str(&text).map_err(|e| decode(e.to_string()))?;
        entries
            .into_iter()
            .filter(|e| e.status.confirmed)
            .map(|e| {
                Ok(Utxo {
                    outpoint: OutPoint {
                        txid: Txid::from_str(&e.txid).map_err(|x| decode(x.to_string()))?,
                        vout: e.vout,
                    },
                    value: Amount::from_sat(e.value),
                })
            })
            .collect()
    }

    /// The fee rate (sat/vB, rounded up) estimated to confirm within `blocks` blocks.
    pub async fn fee_rate(&self, blocks: u32) -> Result<u64, EsploraError> {
        let (url, text) = self.get_text("/fee-estimates").await?;
        let estimates: std::collections::BTreeMap<String, f64> = serde_json::from_str(&text)
            .map_err(|e| EsploraError::Decode {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        // The estimate for the smallest target at or above `blocks`, else the slowest one.
        let mut targets: Vec<(u32, f64)> = estimates
            .iter()
            .filter_map(|(k, v)| Some((k.parse().ok()?, *v)))
            .collect();
        targets.sort_by_key(|(k, _)| *k);
        let rate = targets
            .iter()
            .find(|(k, _)| *k >= blocks)
            .or(targets.last())
            .map(|(_, v)| *v)
            .ok_or_else(|| EsploraError::Decode {
                url,
                reason: "no fee estimates".into(),
            })?;
        Ok((rate.ceil() as u64).max(1))
    }

    /// Broadcasts a signed transaction; returns its txid as the API reports it.
    pub async fn broadcast(&self, tx: &Transaction) -> Result<String, EsploraError> {
        let url = format!("{}/tx", self.base);
        let request = self
            .http
            .post(&url)
            .body(bitcoin::consensus::encode::serialize_hex(tx));
        let (_, text) = Self::text(url, request).await?;
        Ok(text.trim().to_owned())
    }
}
