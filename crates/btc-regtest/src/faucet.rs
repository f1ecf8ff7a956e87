//! The devnet's faucet — not part of Esplora's API, and not of any real network: the chain's
//! miner pays every coinbase to the faucet's P2WPKH address, and [`Faucet::pay`] spends those
//! coins to whoever asks, as an ordinary transaction through the same mempool checks.
//!
//! The faucet's key is fixed and public (derived from a constant): anyone can spend its coins,
//! which on a local regtest chain is the point.

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{Message, Secp256k1, SecretKey, SignOnly};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::{
    Address, Amount, CompressedPublicKey, Network, OutPoint, ScriptBuf, Sequence, Transaction,
    TxIn, TxOut, Txid, Witness,
};
use sha2::{Digest, Sha256};

use crate::chain::{Chain, TxRejected};

/// The fee rate the faucet pays, in sat/vB.
const FEE_RATE: u64 = 2;
/// Outputs below this are dust to Bitcoin Core (a P2TR output's threshold, the highest of
/// the segwit kinds).
pub const DUST: Amount = Amount::from_sat(330);
/// The most inputs one faucet payment gathers.
const MAX_INPUTS: usize = 500;

/// Why the faucet did not pay.
#[derive(Debug, thiserror::Error)]
pub enum FaucetError {
    #[error("{0} is dust (below {DUST})")]
    Dust(Amount),
    #[error("{0} is more than there can ever be")]
    TooMuch(Amount),
    #[error("the faucet has {available} spendable, not {wanted} plus the fee")]
    Empty { available: Amount, wanted: Amount },
    #[error("the faucet's own payment was refused: {0}")]
    Refused(#[from] TxRejected),
    #[error("the faucet cannot sign input {0}")]
    Sign(usize),
}

/// A P2WPKH key that signs the faucet's payments.
pub struct Faucet {
    secp: Secp256k1<SignOnly>,
    key: SecretKey,
    public: CompressedPublicKey,
}

impl Default for Faucet {
    fn default() -> Self {
        Self::new()
    }
}

impl Faucet {
    pub fn new() -> Self {
        let secp = Secp256k1::signing_only();
        let seed: [u8; 32] = Sha256::digest(b"chainsig-btc-regtest faucet").into();
        // A SHA-256 output is a valid secret key but with probability ~2^-128; this one is.
        let key = SecretKey::from_slice(&seed).expect("a valid secret key");
        let public = CompressedPublicKey(key.public_key(&secp));
        Self { secp, key, public }
    }

    pub fn address(&self) -> Address {
        Address::p2wpkh(&self.public, Network::Regtest)
    }

    pub fn script_pubkey(&self) -> ScriptBuf {
        self.address().script_pubkey()
    }

    /// Pays `amount` to `to` from the faucet's spendable coins (largest first), change back to
    /// the faucet; the payment enters the mempool and is mined with the next block.
    pub fn pay(
        &self,
        chain: &mut Chain,
        to: ScriptBuf,
        amount: Amount,
    ) -> Result<Txid, FaucetError> {
        if amount < DUST {
            return Err(FaucetError::Dust(amount));
        }
        if amount > Amount::MAX_MONEY {
            return Err(FaucetError::TooMuch(amount));
        }
        let own = self.script_pubkey();
        let mut coins = chain.spendable(&own);
        coins.sort_by_key(|c| std::cmp::Reverse(c.1.value));
        let (inputs, total) = select(&coins, amount)?;
        let fee = Amount::from_sat(FEE_RATE * vsize_estimate(inputs.len()));
        let mut output = vec![TxOut {
            value: amount,
            script_pubkey: to,
        }];
        let change = total - amount - fee;
        if change >= DUST {
            output.push(TxOut {
                value: change,
                script_pubkey: own.clone(),
            });
        }
        let mut tx = Transaction {
            version: bitcoin::transaction::Version::TWO,
            lock_time: bitcoin::absolute::LockTime::ZERO,
            input: inputs
                .iter()
                .map(|(outpoint, _)| TxIn {
                    previous_output: *outpoint,
                    script_sig: ScriptBuf::new(),
                    sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                    witness: Witness::new(),
                })
                .collect(),
            output,
        };
        let spent: Vec<TxOut> = inputs.into_iter().map(|(_, o)| o).collect();
        sign_p2wpkh(&self.secp, &self.key, &mut tx, &spent)?;
        Ok(chain.submit(tx)?)
    }
}

/// Signs every input of `tx` as a P2WPKH spend of `key`'s address, SIGHASH_ALL; `spent` are
/// the outputs the inputs spend, in order.
pub fn sign_p2wpkh(
    secp: &Secp256k1<SignOnly>,
    key: &SecretKey,
    tx: &mut Transaction,
    spent: &[TxOut],
) -> Result<(), FaucetError> {
    let public = key.public_key(secp);
    let script = ScriptBuf::new_p2wpkh(&CompressedPublicKey(public).wpubkey_hash());
    let mut witnesses = Vec::with_capacity(spent.len());
    let mut cache = SighashCache::new(&*tx);
    for (i, output) in spent.iter().enumerate() {
        let sighash = cache
            .p2wpkh_signature_hash(i, &script, output.value, EcdsaSighashType::All)
            .map_err(|_| FaucetError::Sign(i))?;
        let message = Message::from_digest(sighash.to_byte_array());
        let signature = bitcoin::ecdsa::Signature {
            signature: secp.sign_ecdsa(&message, key),
            sighash_type: EcdsaSighashType::All,
        };
        witnesses.push(Witness::p2wpkh(&signature, &public));
    }
    for (input, witness) in tx.input.iter_mut().zip(witnesses) {
        input.witness = witness;
    }
    Ok(())
}

/// The coins (largest first) that cover `amount` and the fee for that many inputs, and
/// their total.
fn select(
    coins: &[(OutPoint, TxOut)],
    amount: Amount,
) -> Result<(Vec<(OutPoint, TxOut)>, Amount), FaucetError> {
    let mut total = Amount::ZERO;
    for (n, (_, coin)) in coins.iter().take(MAX_INPUTS).enumerate() {
        total = total.checked_add(coin.value).unwrap_or(Amount::MAX);
        let fee = Amount::from_sat(FEE_RATE * vsize_estimate(n + 1));
        if amount
            .checked_add(fee)
            .is_some_and(|needed| total >= needed)
        {
            return Ok((coins[..=n].to_vec(), total));
        }
    }
    Err(FaucetError::Empty {
        available: total,
        wanted: amount,
    })
}

/// An upper bound on the virtual size of a payment with `inputs` P2WPKH inputs and two
/// outputs (a P2TR one counted for the payee, the largest kind).
fn vsize_estimate(inputs: usize) -> u64 {
    11 + 68 * inputs as u64 + 43 + 31
}
