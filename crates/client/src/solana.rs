//! Solana SOL transfers signed by the network's Ed25519 domain.
//!
//! A legacy transaction (Solana's wire format, "Transactions" in its docs): a compact array of
//! 64-byte signatures, then the message — header (required signatures, read-only signed,
//! read-only unsigned), a compact array of account keys, the recent blockhash, and a compact
//! array of instructions (program index, account indices, data). A transfer is one System
//! Program instruction (`u32` LE 2, then lamports as `u64` LE) over the accounts
//! `[from (signer, writable), to (writable)]`. The Ed25519 signature covers the message bytes,
//! so the message itself is the `Eddsa` payload sent to the signer contract.
//!
//! The format is small and fixed; the Solana SDK crates would add hundreds of crates for it.
//! litesvm (Solana's runtime) checks what this module builds in the CLI tests.

use serde::Deserialize;
use std::time::{Duration, Instant};

use crate::jsonrpc::{JsonRpc, RpcError};

/// The System Program's id: 32 zero bytes (`11111111111111111111111111111111`).
pub const SYSTEM_PROGRAM: [u8; 32] = [0; 32];
/// What each signature costs on Solana, in lamports.
pub const FEE_PER_SIGNATURE: u64 = 5_000;
/// The System Program's `Transfer` instruction.
const TRANSFER: u32 = 2;

/// Why a transfer cannot be built or sent.
#[derive(Debug, thiserror::Error)]
pub enum SolanaError {
    #[error("{what} {text:?} is not a Solana address (base58 of 32 bytes)")]
    Address { what: &'static str, text: String },
    #[error("{text:?} is not a blockhash (base58 of 32 bytes)")]
    Blockhash { text: String },
    #[error("the sender and the recipient are the same account")]
    SelfTransfer,
    #[error("nothing to send: the amount is 0 lamports")]
    Zero,
    #[error("insufficient funds: {from} has {have} lamports, the transfer needs {need}")]
    InsufficientFunds { from: String, have: u64, need: u64 },
    #[error("{0}")]
    Rpc(#[from] RpcError),
    #[error("transaction {signature} failed: {error}")]
    Failed { signature: String, error: String },
    #[error("transaction {signature} was not confirmed within {waited:?}")]
    NotConfirmed { signature: String, waited: Duration },
}

/// A base58 32-byte key or hash.
fn base58_32(text: &str) -> Option<[u8; 32]> {
    bs58::decode(text).into_vec().ok()?.try_into().ok()
}

/// Parses a Solana address.
pub fn parse_address(what: &'static str, text: &str) -> Result<[u8; 32], SolanaError> {
    base58_32(text).ok_or_else(|| SolanaError::Address {
        what,
        text: text.to_owned(),
    })
}

/// Parses a recent blockhash.
pub fn parse_blockhash(text: &str) -> Result<[u8; 32], SolanaError> {
    base58_32(text).ok_or_else(|| SolanaError::Blockhash {
        text: text.to_owned(),
    })
}

/// Solana's compact-u16 ("shortvec") length prefix: 7 bits per byte, low bits first.
pub fn shortvec(mut len: u16, out: &mut Vec<u8>) {
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A SOL transfer, before signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SolTransfer {
    pub from: [u8; 32],
    pub to: [u8; 32],
    pub lamports: u64,
    pub recent_blockhash: [u8; 32],
}

/// A signed transaction, as `sendTransaction` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedSolTx {
    pub wire: Vec<u8>,
    pub signature: [u8; 64],
}

impl SignedSolTx {
    /// The transaction id: base58 of its first signature.
    pub fn id(&self) -> String {
        bs58::encode(self.signature).into_string()
    }
}

impl SolTransfer {
    pub fn check(&self) -> Result<(), SolanaError> {
        if self.from == self.to {
            return Err(SolanaError::SelfTransfer);
        }
        if self.lamports == 0 {
            return Err(SolanaError::Zero);
        }
        Ok(())
    }

    /// What the sender must hold: the amount plus the one signature's fee.
    pub fn cost(&self) -> u64 {
        self.lamports.saturating_add(FEE_PER_SIGNATURE)
    }

    /// The message bytes: what the sender's key signs.
    pub fn message(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(150);
        // One signature (from); no read-only signers; one read-only unsigned key (the program).
        m.extend_from_slice(&[1, 0, 1]);
        shortvec(3, &mut m);
        for key in [&self.from, &self.to, &SYSTEM_PROGRAM] {
            m.extend_from_slice(key);
        }
        m.extend_from_slice(&self.recent_blockhash);
        shortvec(1, &mut m);
        m.push(2); // the System Program's index among the keys
        shortvec(2, &mut m);
        m.extend_from_slice(&[0, 1]);
        let mut data = TRANSFER.to_le_bytes().to_vec();
        data.extend_from_slice(&self.lamports.to_le_bytes());
        shortvec(data.len() as u16, &mut m);
        m.extend_from_slice(&data);
        m
    }

    /// The transaction with the sender's signature of [`Self::message`].
    pub fn assemble(&self, signature: [u8; 64]) -> SignedSolTx {
        let mut wire = Vec::with_capacity(1 + 64 + 150);
        shortvec(1, &mut wire);
        wire.extend_from_slice(&signature);
        wire.extend_from_slice(&self.message());
        SignedSolTx { wire, signature }
    }
}

/// A Solana JSON-RPC endpoint.
#[derive(Clone)]
pub struct SolRpc(JsonRpc);

#[derive(Deserialize)]
struct WithContext<T> {
    value: T,
}

impl SolRpc {
    pub fn new(url: &str) -> Self {
        Self(JsonRpc::new(url))
    }

    pub fn rpc(&self) -> &JsonRpc {
        &self.0
    }

    pub async fn latest_blockhash(&self) -> Result<[u8; 32], SolanaError> {
        #[derive(Deserialize)]
        struct Hash {
            blockhash: String,
        }
        let r: WithContext<Hash> = self
            .0
            .call(
                "getLatestBlockhash",
                serde_json::json!([{"commitment": "finalized"}]),
            )
            .await?;
        parse_blockhash(&r.value.blockhash)
    }

    pub async fn balance(&self, address: &[u8; 32]) -> Result<u64, SolanaError> {
        let r: WithContext<u64> = self
            .0
            .call(
                "getBalance",
                serde_json::json!([bs58::encode(address).into_string()]),
            )
            .await?;
        Ok(r.value)
    }

    /// Errors unless the sender can pay for `tx`.
    pub async fn check_funds(&self, tx: &SolTransfer) -> Result<(), SolanaError> {
        let have = self.balance(&tx.from).await?;
        if have < tx.cost() {
            return Err(SolanaError::InsufficientFunds {
                from: bs58::encode(tx.from).into_string(),
                have,
                need: tx.cost(),
            });
        }
        Ok(())
    }

    /// Submits the transaction; returns its id.
    pub async fn send(&self, tx: &SignedSolTx) -> Result<String, SolanaError> {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(&tx.wire);
        Ok(self
            .0
            .call(
                "sendTransaction",
                serde_json::json!([encoded, {"encoding": "base64"}]),
            )
            .await?)
    }

    /// Polls `getSignatureStatuses` until the transaction is confirmed or fails.
    pub async fn confirm(&self, signature: &str, timeout: Duration) -> Result<(), SolanaError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Status {
            err: Option<serde_json::Value>,
            confirmation_status: Option<String>,
        }
        let start = Instant::now();
        loop {
            let r: WithContext<Vec<Option<Status>>> = self
                .0
                .call("getSignatureStatuses", serde_json::json!([[signature]]))
                .await?;
            if let Some(Some(status)) = r.value.into_iter().next() {
                if let Some(error) = status.err {
                    return Err(SolanaError::Failed {
                        signature: signature.to_owned(),
                        error: error.to_string(),
                    });
                }
                if matches!(
                    status.confirmation_status.as_deref(),
                    Some("confirmed" | "finalized")
                ) {
                    return Ok(());
                }
            }
            if start.elapsed() > timeout {
                return Err(SolanaError::NotConfirmed {
                    signature: signature.to_owned(),
                    waited: timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
    }
}

#[cfg(test)]
mod tests;
