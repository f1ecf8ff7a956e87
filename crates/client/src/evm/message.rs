//! What an Ethereum account signs besides transactions, and the hashes a Secp256k1 domain
//! signs for it:
//!
//! - EIP-191 version 0x45 ("personal_sign"): `keccak256("\x19Ethereum Signed Message:\n" ‖
//!   len ‖ message)`;
//! - EIP-712 typed data, in the JSON `eth_signTypedData_v4` takes (`types`, `primaryType`,
//!   `domain`, `message`): `keccak256("\x19\x01" ‖ domainSeparator ‖ hashStruct(message))`,
//!   computed by alloy-dyn-abi.
//!
//! The answer becomes the 65-byte `r ‖ s ‖ v` (v = 27 + parity) wallets return, after it
//! recovers the signer's address ([`signed_by`](super::signed_by)).

use alloy_dyn_abi::TypedData;
use alloy_primitives::{Address, B256};
use primitives::response::EcdsaSignature;

use super::{signed_by, EvmError};

/// The EIP-191 (personal message) hash of `message`.
pub fn personal_hash(message: &[u8]) -> B256 {
    alloy_primitives::eip191_hash_message(message)
}

/// The EIP-712 signing hash of typed data given as `eth_signTypedData_v4` JSON.
pub fn typed_data_hash(json: &str) -> Result<B256, MessageError> {
    let typed: TypedData =
        serde_json::from_str(json).map_err(|e| MessageError::TypedData(e.to_string()))?;
    typed
        .eip712_signing_hash()
        .map_err(|e| MessageError::TypedData(e.to_string()))
}

/// The signature a wallet would return (`r ‖ s ‖ v`, v = 27 or 28), if `signature` of `hash`
/// recovers `from`.
pub fn wallet_signature(
    signature: &EcdsaSignature,
    hash: &B256,
    from: Address,
) -> Result<[u8; 65], EvmError> {
    Ok(signed_by(signature, hash, from)?.as_bytes())
}

/// Why a message cannot be hashed.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("not EIP-712 typed data: {0}")]
    TypedData(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_hash_is_eip191s() {
        // keccak256("\x19Ethereum Signed Message:\n5hello"), as every wallet computes it.
        assert_eq!(
            hex::encode(personal_hash(b"hello")),
            "50b2c43fd39106bafbba0da34fc430e1f91e3c96ea2acee2bc34119f92b37750"
        );
    }

    /// EIP-712's own example (the `Mail` from Cow to Bob), with the signing hash the EIP gives.
    pub const MAIL: &str = r#"{
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"}
            ],
            "Person": [
                {"name": "name", "type": "string"},
                {"name": "wallet", "type": "address"}
            ],
            "Mail": [
                {"name": "from", "type": "Person"},
                {"name": "to", "type": "Person"},
                {"name": "contents", "type": "string"}
            ]
        },
        "primaryType": "Mail",
        "domain": {
            "name": "Ether Mail",
            "version": "1",
            "chainId": 1,
            "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"
        },
        "message": {
            "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
            "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
            "contents": "Hello, Bob!"
        }
    }"#;

    #[test]
    fn typed_data_hash_is_eip712s() {
        assert_eq!(
            hex::encode(typed_data_hash(MAIL).unwrap()),
            "be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2"
        );
        let err = typed_data_hash(r#"{"types": {}}"#).unwrap_err();
        assert!(
            err.to_string().starts_with("not EIP-712 typed data"),
            "{err}"
        );
    }
}
