//! EVM transactions signed by the network: build, hash, assemble (alloy's consensus types).
//!
//! An [`EvmTx`] is a transfer or contract call in one of two forms: legacy with EIP-155
//! replay protection (`v = 35 + 2·chain_id + parity`) or EIP-1559 (type 2, `y_parity`). Its
//! [`signing_hash`](EvmTx::signing_hash) is the 32-byte payload for a Secp256k1 domain; the
//! domain's answer (R, s, recovery id) becomes the transaction's (r, s, parity) in
//! [`assemble`](EvmTx::assemble), which recovers the sender from the assembled signature and
//! refuses to hand out a transaction that would come from anyone but the expected address.
//!
//! [`EthRpc`] is the little of Ethereum's JSON-RPC a sender needs: chain id, nonce, fees,
//! balance, gas estimate, `eth_call`, `eth_sendRawTransaction` and receipts. [`message`]
//! holds what an account signs outside transactions (EIP-191 messages, EIP-712 typed data),
//! [`abi`] call data from a function signature and its arguments.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, Signature, TxKind, B256, U256};
use primitives::response::EcdsaSignature;
use serde::Deserialize;
use std::time::{Duration, Instant};

use crate::jsonrpc::{JsonRpc, RpcError};

/// Gas a plain value transfer costs; no transaction can ask for less.
pub const TRANSFER_GAS: u64 = 21_000;

/// Why a transaction cannot be built, signed or sent.
#[derive(Debug, thiserror::Error)]
pub enum EvmError {
    #[error("chain id must not be 0")]
    ChainId,
    #[error("the RPC serves chain {served}, not chain {asked}")]
    ChainMismatch { asked: u64, served: u64 },
    #[error("gas limit {0} is below the {TRANSFER_GAS} every transaction costs")]
    GasLimit(u64),
    #[error("priority fee {priority} exceeds the max fee {max}")]
    Fees { priority: u128, max: u128 },
    #[error("value plus gas overflows 256 bits")]
    Overflow,
    #[error("insufficient funds: {from} has {have} wei, the transaction may cost {need} wei")]
    InsufficientFunds {
        from: Address,
        have: U256,
        need: U256,
    },
    #[error("the signature recovers {recovered}, not the sender {expected}")]
    WrongSigner {
        expected: Address,
        recovered: Address,
    },
    #[error("the signature does not recover any key: {0}")]
    Unrecoverable(String),
    #[error("{0}")]
    Rpc(#[from] RpcError),
    #[error("transaction {hash} was not mined within {waited:?}")]
    NotMined { hash: B256, waited: Duration },
    #[error("the call would revert ({0}); nothing was signed")]
    Reverted(String),
}

/// How the transaction pays for gas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fees {
    /// A legacy transaction with EIP-155 replay protection.
    Legacy { gas_price: u128 },
    /// A type-2 (EIP-1559) transaction.
    Eip1559 {
        max_fee_per_gas: u128,
        max_priority_fee_per_gas: u128,
    },
}

impl Fees {
    /// The most one unit of gas can cost.
    pub fn cap(&self) -> u128 {
        match *self {
            Self::Legacy { gas_price } => gas_price,
            Self::Eip1559 {
                max_fee_per_gas, ..
            } => max_fee_per_gas,
        }
    }
}

/// A transfer or contract call, before signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvmTx {
    pub chain_id: u64,
    pub nonce: u64,
    pub to: Address,
    pub value: U256,
    pub data: Bytes,
    pub gas_limit: u64,
    pub fees: Fees,
}

/// A signed transaction, ready for `eth_sendRawTransaction`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedEvmTx {
    /// The EIP-2718 encoding (plain RLP for legacy transactions).
    pub raw: Vec<u8>,
    pub hash: B256,
    pub from: Address,
}

enum Unsigned {
    Legacy(TxLegacy),
    Eip1559(TxEip1559),
}

impl EvmTx {
    /// Rules any node would apply before accepting it.
    pub fn check(&self) -> Result<(), EvmError> {
        if self.chain_id == 0 {
            return Err(EvmError::ChainId);
        }
        if self.gas_limit < TRANSFER_GAS {
            return Err(EvmError::GasLimit(self.gas_limit));
        }
        if let Fees::Eip1559 {
            max_fee_per_gas,
            max_priority_fee_per_gas,
        } = self.fees
        {
            if max_priority_fee_per_gas > max_fee_per_gas {
                return Err(EvmError::Fees {
                    priority: max_priority_fee_per_gas,
                    max: max_fee_per_gas,
                });
            }
        }
        self.max_cost().map(|_| ())
    }

    /// Value plus the most the gas can cost: what the sender must hold.
    pub fn max_cost(&self) -> Result<U256, EvmError> {
        U256::from(self.gas_limit)
            .checked_mul(U256::from(self.fees.cap()))
            .and_then(|gas| gas.checked_add(self.value))
            .ok_or(EvmError::Overflow)
    }

    fn unsigned(&self) -> Unsigned {
        let to = TxKind::Call(self.to);
        match self.fees {
            Fees::Legacy { gas_price } => Unsigned::Legacy(TxLegacy {
                chain_id: Some(self.chain_id),
                nonce: self.nonce,
                gas_price,
                gas_limit: self.gas_limit,
                to,
                value: self.value,
                input: self.data.clone(),
            }),
            Fees::Eip1559 {
                max_fee_per_gas,
                max_priority_fee_per_gas,
            } => Unsigned::Eip1559(TxEip1559 {
                chain_id: self.chain_id,
                nonce: self.nonce,
                gas_limit: self.gas_limit,
                max_fee_per_gas,
                max_priority_fee_per_gas,
                to,
                value: self.value,
                access_list: Default::default(),
                input: self.data.clone(),
            }),
        }
    }

    /// The hash the sender signs: the payload of a Secp256k1 `sign` request.
    pub fn signing_hash(&self) -> [u8; 32] {
        match self.unsigned() {
            Unsigned::Legacy(tx) => tx.signature_hash(),
            Unsigned::Eip1559(tx) => tx.signature_hash(),
        }
        .0
    }

    /// The signed transaction, if `signature` is `from`'s signature of [`Self::signing_hash`].
    pub fn assemble(
        &self,
        signature: &EcdsaSignature,
        from: Address,
    ) -> Result<SignedEvmTx, EvmError> {
        let sig = signed_by(signature, &B256::from(self.signing_hash()), from)?;
        let envelope: TxEnvelope = match self.unsigned() {
            Unsigned::Legacy(tx) => tx.into_signed(sig).into(),
            Unsigned::Eip1559(tx) => tx.into_signed(sig).into(),
        };
        Ok(SignedEvmTx {
            raw: envelope.encoded_2718(),
            hash: *envelope.tx_hash(),
            from,
        })
    }
}

/// The Ethereum signature (r, s, parity) of a Secp256k1 domain's answer for `hash`, if it
/// recovers `from`: the check every signature handed out here passes.
pub fn signed_by(
    signature: &EcdsaSignature,
    hash: &B256,
    from: Address,
) -> Result<Signature, EvmError> {
    // Bit 1 of the recovery id (x(R) ≥ n) cannot be expressed in an Ethereum signature; it
    // happens with probability ~2⁻¹²⁸, and recovery below then refuses it.
    let sig =
        Signature::from_bytes_and_parity(&signature.to_bytes(), signature.recovery_id & 1 == 1);
    let recovered = sig
        .recover_address_from_prehash(hash)
        .map_err(|e| EvmError::Unrecoverable(e.to_string()))?;
    if recovered != from {
        return Err(EvmError::WrongSigner {
            expected: from,
            recovered,
        });
    }
    Ok(sig)
}

/// A mined transaction's outcome.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    pub transaction_hash: B256,
    /// 1 for success, 0 for a reverted transaction.
    pub status: alloy_primitives::U64,
    pub block_number: alloy_primitives::U64,
    pub gas_used: alloy_primitives::U64,
}

impl Receipt {
    pub fn succeeded(&self) -> bool {
        self.status == alloy_primitives::U64::from(1)
    }
}

/// An Ethereum JSON-RPC endpoint.
#[derive(Clone)]
pub struct EthRpc(JsonRpc);

impl EthRpc {
    pub fn new(url: &str) -> Self {
        Self(JsonRpc::new(url))
    }

    pub fn rpc(&self) -> &JsonRpc {
        &self.0
    }

    pub async fn chain_id(&self) -> Result<u64, EvmError> {
        let id: alloy_primitives::U64 = self.0.call("eth_chainId", serde_json::json!([])).await?;
        Ok(id.to())
    }

    /// The next nonce of `address`, counting transactions still in the pool.
    pub async fn nonce(&self, address: Address) -> Result<u64, EvmError> {
        let n: alloy_primitives::U64 = self
            .0
            .call(
                "eth_getTransactionCount",
                serde_json::json!([address, "pending"]),
            )
            .await?;
        Ok(n.to())
    }

    pub async fn balance(&self, address: Address) -> Result<U256, EvmError> {
        Ok(self
            .0
            .call("eth_getBalance", serde_json::json!([address, "latest"]))
            .await?)
    }

    pub async fn gas_price(&self) -> Result<u128, EvmError> {
        let p: U256 = self.0.call("eth_gasPrice", serde_json::json!([])).await?;
        Ok(p.saturating_to())
    }

    /// EIP-1559 fees: a priority fee from the node and a cap of twice the latest base fee
    /// plus it, so the transaction stays valid while the base fee rises for a few blocks.
    pub async fn eip1559_fees(&self) -> Result<Fees, EvmError> {
        let priority: U256 = self
            .0
            .call("eth_maxPriorityFeePerGas", serde_json::json!([]))
            .await?;
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Block {
            base_fee_per_gas: Option<U256>,
        }
        let block: Block = self
            .0
            .call("eth_getBlockByNumber", serde_json::json!(["latest", false]))
            .await?;
        let base = block.base_fee_per_gas.unwrap_or_default();
        let priority: u128 = priority.saturating_to();
        let cap = base
            .saturating_to::<u128>()
            .saturating_mul(2)
            .saturating_add(priority);
        Ok(Fees::Eip1559 {
            max_fee_per_gas: cap,
            max_priority_fee_per_gas: priority,
        })
    }

    /// The gas `from` needs to send `value` and `data` to `to`.
    pub async fn estimate_gas(
        &self,
        from: Address,
        to: Address,
        value: U256,
        data: &Bytes,
    ) -> Result<u64, EvmError> {
        let gas: alloy_primitives::U64 = self
            .0
            .call(
                "eth_estimateGas",
                serde_json::json!([{"from": from, "to": to, "value": value, "input": data}]),
            )
            .await?;
        Ok(gas.to())
    }

    /// Runs a call from `from` against the latest state without sending anything
    /// (`eth_call`): what it returns, or [`EvmError::Reverted`] with the node's reason.
    pub async fn simulate(
        &self,
        from: Address,
        to: Address,
        value: U256,
        data: &Bytes,
    ) -> Result<Bytes, EvmError> {
        self.0
            .call(
                "eth_call",
                serde_json::json!([{"from": from, "to": to, "value": value, "input": data}, "latest"]),
            )
            .await
            .map_err(|e| match e {
                // Geth and anvil answer a revert with code 3 ("execution reverted: reason").
                RpcError::Server { code, message, .. }
                    if code == 3 || message.contains("revert") =>
                {
                    EvmError::Reverted(message)
                }
                e => e.into(),
            })
    }

    /// Errors unless `tx.from` can pay for `tx` at its worst.
    pub async fn check_funds(&self, from: Address, tx: &EvmTx) -> Result<(), EvmError> {
        let need = tx.max_cost()?;
        let have = self.balance(from).await?;
        if have < need {
            return Err(EvmError::InsufficientFunds { from, have, need });
        }
        Ok(())
    }

    pub async fn send_raw(&self, tx: &SignedEvmTx) -> Result<B256, EvmError> {
        let raw = Bytes::from(tx.raw.clone());
        Ok(self
            .0
            .call("eth_sendRawTransaction", serde_json::json!([raw]))
            .await?)
    }

    pub async fn receipt(&self, hash: B256) -> Result<Option<Receipt>, EvmError> {
        Ok(self
            .0
            .call("eth_getTransactionReceipt", serde_json::json!([hash]))
            .await?)
    }

    /// Polls for the receipt of `hash` until `timeout`.
    pub async fn wait_receipt(&self, hash: B256, timeout: Duration) -> Result<Receipt, EvmError> {
        let start = Instant::now();
        loop {
            if let Some(r) = self.receipt(hash).await? {
                return Ok(r);
            }
            if start.elapsed() > timeout {
                return Err(EvmError::NotMined {
                    hash,
                    waited: timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

pub mod abi;
pub mod message;

#[cfg(test)]
mod tests;
