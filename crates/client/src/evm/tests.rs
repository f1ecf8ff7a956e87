//! EIP-155's published vector, and round trips through alloy's decoder.

use super::*;
use alloy_consensus::transaction::SignerRecoverable;
use alloy_eips::eip2718::Decodable2718;
use k256::elliptic_curve::point::DecompressPoint;
use proptest::prelude::*;

/// An `EcdsaSignature` as the network returns it, made from (r, s, parity of R's y).
fn response(r: [u8; 32], s: [u8; 32], odd: bool) -> EcdsaSignature {
    use k256::elliptic_curve::PrimeField;
    EcdsaSignature {
        big_r: k256::AffinePoint::decompress(&r.into(), (odd as u8).into()).unwrap(),
        s: k256::Scalar::from_repr(s.into()).unwrap(),
        recovery_id: odd as u8,
    }
}

fn address_of(key: &k256::ecdsa::SigningKey) -> Address {
    crate::address::evm(key.verifying_key().as_affine())
}

fn eip155_example() -> EvmTx {
    EvmTx {
        chain_id: 1,
        nonce: 9,
        to: Address::repeat_byte(0x35),
        value: U256::from(10u64).pow(U256::from(18)),
        data: Bytes::new(),
        gas_limit: 21_000,
        fees: Fees::Legacy {
            gas_price: 20_000_000_000,
        },
    }
}

#[test]
fn eip155_vector() {
    // EIP-155's example: secret key 0x4646…46, its signing hash and signed transaction.
    let tx = eip155_example();
    assert_eq!(
        hex::encode(tx.signing_hash()),
        "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53"
    );
    let r =
        hex::decode("28ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276").unwrap();
    let s =
        hex::decode("67cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83").unwrap();
    // v = 37 = 35 + 2·1 + 0: R's y is even.
    let sig = response(r.try_into().unwrap(), s.try_into().unwrap(), false);
    let key = k256::ecdsa::SigningKey::from_slice(&[0x46; 32]).unwrap();
    let signed = tx.assemble(&sig, address_of(&key)).unwrap();
    assert_eq!(
        hex::encode(&signed.raw),
        "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"
    );
    // Anyone else's address is refused: nothing leaves that would come from another sender.
    let other = Address::repeat_byte(7);
    assert!(matches!(
        tx.assemble(&sig, other),
        Err(EvmError::WrongSigner { expected, .. }) if expected == other
    ));
    // The wrong parity recovers another key, and is refused too.
    let flipped = EcdsaSignature {
        recovery_id: 1,
        ..sig
    };
    assert!(tx.assemble(&flipped, address_of(&key)).is_err());
}

#[test]
fn bad_transactions_are_named() {
    let mut tx = eip155_example();
    tx.chain_id = 0;
    assert!(matches!(tx.check(), Err(EvmError::ChainId)));
    let mut tx = eip155_example();
    tx.gas_limit = 20_999;
    assert!(matches!(tx.check(), Err(EvmError::GasLimit(20_999))));
    let mut tx = eip155_example();
    tx.fees = Fees::Eip1559 {
        max_fee_per_gas: 1,
        max_priority_fee_per_gas: 2,
    };
    assert!(matches!(tx.check(), Err(EvmError::Fees { .. })));
    let mut tx = eip155_example();
    tx.value = U256::MAX;
    assert!(matches!(tx.check(), Err(EvmError::Overflow)));
    assert!(eip155_example().check().is_ok());
    assert_eq!(
        eip155_example().max_cost().unwrap(),
        U256::from(10u64).pow(U256::from(18)) + U256::from(21_000u64 * 20_000_000_000)
    );
}

proptest! {
    /// Whatever the fields, the raw transaction decodes (alloy's decoder) to the same fields
    /// and recovers to the sender, for both forms.
    #[test]
    fn signed_transactions_round_trip(
        secret in 1u64..u64::MAX,
        chain_id in 1u64..u64::MAX / 4,
        nonce in any::<u64>(),
        to in any::<[u8; 20]>(),
        value in any::<u128>(),
        data in proptest::collection::vec(any::<u8>(), 0..100),
        gas_limit in 21_000u64..30_000_000,
        fee in 1u128..1_000_000_000_000,
        tip in 0u128..1_000_000_000,
        legacy in any::<bool>(),
    ) {
        let key = k256::ecdsa::SigningKey::from_slice(&U256::from(secret).to_be_bytes::<32>()).unwrap();
        let from = address_of(&key);
        let tx = EvmTx {
            chain_id,
            nonce,
            to: Address::from(to),
            value: U256::from(value),
            data: data.into(),
            gas_limit,
            fees: if legacy {
                Fees::Legacy { gas_price: fee }
            } else {
                Fees::Eip1559 { max_fee_per_gas: fee + tip, max_priority_fee_per_gas: tip }
            },
        };
        prop_assert!(tx.check().is_ok());
        let signed = tx.assemble(&testkit::ecdsa_sign(&key, &tx.signing_hash()), from).unwrap();
        let decoded = TxEnvelope::decode_2718(&mut signed.raw.as_slice()).unwrap();
        prop_assert_eq!(*decoded.tx_hash(), signed.hash);
        prop_assert_eq!(decoded.recover_signer().unwrap(), from);
        use alloy_consensus::Transaction;
        prop_assert_eq!(decoded.chain_id(), Some(chain_id));
        prop_assert_eq!(decoded.nonce(), nonce);
        prop_assert_eq!(decoded.to(), Some(Address::from(to)));
        prop_assert_eq!(decoded.value(), U256::from(value));
        prop_assert_eq!(decoded.input(), &tx.data);
        prop_assert_eq!(decoded.gas_limit(), gas_limit);
        prop_assert_eq!(decoded.is_legacy(), legacy);
    }
}
