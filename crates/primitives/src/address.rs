//! Foreign-chain addresses of a secp256k1 key (DESIGN §4.2).
//!
//! - EVM: the last 20 bytes of keccak256(X ‖ Y), shown with the EIP-55 mixed-case checksum;
//! - Bitcoin P2PKH: base58check(version ‖ RIPEMD160(SHA256(compressed key)));
//! - Bitcoin P2WPKH: bech32 segwit v0 of the same 20-byte hash.

use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::AffinePoint;
use ripemd::Ripemd160;
use sha2::{Digest, Sha256};
use sha3::Keccak256;

/// Which Bitcoin network an address is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitcoinNetwork {
    Mainnet,
    Testnet,
    Regtest,
}

impl BitcoinNetwork {
    fn p2pkh_version(self) -> u8 {
        match self {
            Self::Mainnet => 0x00,
            Self::Testnet | Self::Regtest => 0x6f,
        }
    }

    fn hrp(self) -> bech32::Hrp {
        match self {
            Self::Mainnet => bech32::hrp::BC,
            Self::Testnet => bech32::hrp::TB,
            Self::Regtest => bech32::hrp::BCRT,
        }
    }
}

/// The 20-byte EVM address of a key.
pub fn evm_address_bytes(pk: &AffinePoint) -> [u8; 20] {
    let encoded = pk.to_encoded_point(false);
    let hash = Keccak256::digest(&encoded.as_bytes()[1..]);
    hash[12..].try_into().expect("20 bytes")
}

/// An EVM address with its EIP-55 checksum, `0x`-prefixed.
pub fn eip55(address: &[u8; 20]) -> String {
    let lower = hex::encode(address);
    let hash = Keccak256::digest(lower.as_bytes());
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for (i, c) in lower.chars().enumerate() {
        let nibble = (hash[i / 2] >> (4 * (1 - i % 2))) & 0xf;
        out.push(if nibble >= 8 {
            c.to_ascii_uppercase()
        } else {
            c
        });
    }
    out
}

/// The EIP-55 EVM address of a key.
pub fn evm_address(pk: &AffinePoint) -> String {
    eip55(&evm_address_bytes(pk))
}

/// RIPEMD160(SHA256(compressed key)): the hash P2PKH and P2WPKH commit to.
pub fn hash160(pk: &AffinePoint) -> [u8; 20] {
    let sha = Sha256::digest(pk.to_encoded_point(true).as_bytes());
    Ripemd160::digest(sha).into()
}

/// Legacy pay-to-public-key-hash address.
pub fn btc_p2pkh(pk: &AffinePoint, network: BitcoinNetwork) -> String {
    bs58::encode(hash160(pk))
        .with_check_version(network.p2pkh_version())
        .into_string()
}

/// Native segwit v0 pay-to-witness-public-key-hash address.
pub fn btc_p2wpkh(pk: &AffinePoint, network: BitcoinNetwork) -> String {
    bech32::segwit::encode_v0(network.hrp(), &hash160(pk)).expect("20-byte program is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_one() -> AffinePoint {
        k256::AffinePoint::GENERATOR
    }

    #[test]
    fn eip55_vectors() {
        // From EIP-55 itself.
        for addr in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            let bytes: [u8; 20] = hex::decode(&addr[2..]).unwrap().try_into().unwrap();
            assert_eq!(eip55(&bytes), addr);
        }
    }

    #[test]
    fn addresses_of_private_key_one() {
        // The well-known addresses of the secret key 1.
        let pk = key_one();
        assert_eq!(
            evm_address(&pk),
            "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
        );
        assert_eq!(
            btc_p2pkh(&pk, BitcoinNetwork::Mainnet),
            "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH"
        );
        assert_eq!(
            btc_p2pkh(&pk, BitcoinNetwork::Testnet),
            "mrCDrCybB6J1vRfbwM5hemdJz73FwDBC8r"
        );
        // BIP173's P2WPKH example is this very key.
        assert_eq!(
            btc_p2wpkh(&pk, BitcoinNetwork::Mainnet),
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
        );
        assert_eq!(
            btc_p2wpkh(&pk, BitcoinNetwork::Testnet),
            "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"
        );
    }
}

/// Addresses of an ed25519 key: Solana shows it in base58, a NEAR implicit account in hex.
pub mod ed25519 {
    use curve25519_dalek::EdwardsPoint;

    /// The Solana address (base58 of the 32-byte key).
    pub fn solana_address(pk: &EdwardsPoint) -> String {
        bs58::encode(pk.compress().as_bytes()).into_string()
    }

    /// The NEAR implicit account id (lower-case hex of the 32-byte key).
    pub fn near_implicit_account(pk: &EdwardsPoint) -> String {
        hex::encode(pk.compress().as_bytes())
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::NearPublicKey;

        #[test]
        fn solana_and_near_forms() {
            let k: NearPublicKey = "ed25519:6vSEtQxrQj6txUMh33WC4ERyCWmNMRTdufDWAaDY3Un2"
                .parse()
                .unwrap();
            let p = k.as_ed25519().unwrap();
            assert_eq!(
                solana_address(p),
                "6vSEtQxrQj6txUMh33WC4ERyCWmNMRTdufDWAaDY3Un2"
            );
            assert_eq!(near_implicit_account(p).len(), 64);
            assert_eq!(
                hex::decode(near_implicit_account(p)).unwrap(),
                bs58::decode("6vSEtQxrQj6txUMh33WC4ERyCWmNMRTdufDWAaDY3Un2")
                    .into_vec()
                    .unwrap()
            );
        }
    }
}
