//! BIP143's published sighash, input selection and change, and assembly with signatures made
//! by a local key the way the network makes them.

use super::*;
use bitcoin::consensus::encode::deserialize_hex;

fn secret(n: u64) -> k256::SecretKey {
    let mut bytes = [0u8; 32];
    bytes[24..].copy_from_slice(&n.to_be_bytes());
    k256::SecretKey::from_slice(&bytes).unwrap()
}

fn spend(kind: SpendKind, utxos: &[u64], amount: u64) -> Spend {
    let key = *secret(7).public_key().as_affine();
    Spend {
        kind,
        key,
        network: BitcoinNetwork::Regtest,
        utxos: utxos
            .iter()
            .enumerate()
            .map(|(i, v)| Utxo {
                outpoint: OutPoint {
                    txid: Txid::from_byte_array([(i % 255) as u8 + 1; 32]),
                    vout: i as u32,
                },
                value: Amount::from_sat(*v),
            })
            .collect(),
        to: bitcoin_p2wpkh(secret(9).public_key().as_affine(), BitcoinNetwork::Regtest),
        amount: Amount::from_sat(amount),
        fee_rate: 2,
    }
}

#[test]
fn bip143_native_p2wpkh_sighash() {
    // BIP143's "Native P2WPKH" example: input 1 spends 6 BTC from
    // 00141d0f172a0ecb48aee1be1f2687d2963ae33f71a1.
    let tx: Transaction = deserialize_hex("0100000002fff7f7881a8099afa6940d42d1e7f6362bec38171ea3edf433541db4e4ad969f0000000000eeffffffef51e1b804cc89d182d279655c3aa89e815b1b309fe287d9b2b55d57b90ec68a0100000000ffffffff02202cb206000000001976a9148280b37df378db99f66f85c95a783a76ac7a6d5988ac9093510d000000001976a9143bde42dbee7e4dbe6a21b2d50ce2f0167faa815988ac11000000").unwrap();
    let p2wpkh = ScriptBuf::from_hex("00141d0f172a0ecb48aee1be1f2687d2963ae33f71a1").unwrap();
    let unsigned = UnsignedSpend {
        kind: SpendKind::P2wpkh,
        key: AffinePoint::GENERATOR,
        tx,
        // Input 0's prevout does not enter input 1's BIP143 digest.
        prevouts: vec![
            TxOut {
                value: Amount::from_sat(625_000_000),
                script_pubkey: p2wpkh.clone(),
            },
            TxOut {
                value: Amount::from_sat(600_000_000),
                script_pubkey: p2wpkh,
            },
        ],
        fee: Amount::ZERO,
    };
    assert_eq!(
        hex::encode(unsigned.sighashes()[1]),
        "c37af31116d1b27caf68aae9e3ac82f1477929014d5b917657d0eb49478cb670"
    );
}

#[test]
fn selection_fee_and_change() {
    let s = spend(SpendKind::P2wpkh, &[10_000, 50_000, 20_000], 30_000);
    let u = s.build().unwrap();
    // The largest UTXO alone pays: one input, payment + change.
    assert_eq!(u.tx.input.len(), 1);
    assert_eq!(u.tx.input[0].previous_output.vout, 1);
    assert_eq!(u.tx.output.len(), 2);
    assert_eq!(u.tx.output[0].value, Amount::from_sat(30_000));
    assert_eq!(
        u.tx.output[1].script_pubkey,
        s.from_address().script_pubkey()
    );
    let total_out: Amount = u.tx.output.iter().map(|o| o.value).sum();
    assert_eq!(total_out + u.fee, Amount::from_sat(50_000));
    // 11 + 31 (payment) + 68 (input) + 31 (change) vbytes at 2 sat/vB.
    assert_eq!(u.fee, Amount::from_sat(2 * (11 + 31 + 68 + 31)));
    // Two inputs when one is not enough; change below dust goes to the fee.
    let u = spend(SpendKind::P2wpkh, &[10_000, 20_000], 29_500)
        .build()
        .unwrap();
    assert_eq!(u.tx.input.len(), 2);
    assert_eq!(u.tx.output.len(), 1);
    assert_eq!(u.fee, Amount::from_sat(500));
}

#[test]
fn refusals() {
    assert!(matches!(
        spend(SpendKind::P2wpkh, &[10_000], 20_000).build(),
        Err(BtcError::InsufficientFunds { .. })
    ));
    assert_eq!(
        spend(SpendKind::P2wpkh, &[], 1_000).build().unwrap_err(),
        BtcError::NoUtxos
    );
    assert!(matches!(
        spend(SpendKind::P2wpkh, &[10_000], 100).build(),
        Err(BtcError::Dust { .. })
    ));
    for rate in [0, MAX_FEE_RATE + 1, u64::MAX] {
        let mut s = spend(SpendKind::P2wpkh, &[10_000], 5_000);
        s.fee_rate = rate;
        assert_eq!(s.build().unwrap_err(), BtcError::FeeRate);
    }
    // Absurd amounts are refused, not overflowed.
    assert!(matches!(
        spend(SpendKind::P2wpkh, &[10_000], u64::MAX).build(),
        Err(BtcError::Money { .. })
    ));
    assert!(matches!(
        spend(SpendKind::P2wpkh, &[u64::MAX], 5_000).build(),
        Err(BtcError::Money { .. })
    ));
    let max = Amount::MAX_MONEY.to_sat();
    // The most that can exist still works.
    let mut s = spend(SpendKind::P2wpkh, &[max, max], max);
    s.fee_rate = MAX_FEE_RATE;
    assert!(s.build().is_ok());
    assert!(matches!(
        parse_address(
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
            BitcoinNetwork::Regtest
        ),
        Err(BtcError::Network { .. })
    ));
    assert!(parse_address(
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        BitcoinNetwork::Mainnet
    )
    .is_ok());
    assert!(matches!(
        parse_address("nope", BitcoinNetwork::Mainnet),
        Err(BtcError::Address(_))
    ));
    for bad in [
        "",
        "00:1",
        "zz:1:5",
        &format!("{}:x:5", "00".repeat(32)),
        &format!("{}:1:5:6", "00".repeat(32)),
    ] {
        assert!(bad.parse::<Utxo>().is_err(), "{bad}");
    }
    let u: Utxo = format!("{}:3:1234", "11".repeat(32)).parse().unwrap();
    assert_eq!((u.outpoint.vout, u.value), (3, Amount::from_sat(1234)));
}

/// An ECDSA answer as the network returns it, from a local key.
fn ecdsa(secret: &k256::SecretKey, hash: [u8; 32]) -> SignatureResponse {
    SignatureResponse::Secp256k1(testkit::ecdsa_sign(&secret.into(), &hash))
}

#[test]
fn p2wpkh_assembly_checks_every_signature() {
    let u = spend(SpendKind::P2wpkh, &[10_000, 20_000], 25_000)
        .build()
        .unwrap();
    let sighashes = u.sighashes();
    assert_eq!(sighashes.len(), 2);
    let good: Vec<_> = sighashes.iter().map(|h| ecdsa(&secret(7), *h)).collect();
    let tx = u.assemble(&good).unwrap();
    for input in &tx.input {
        assert_eq!(input.witness.len(), 2);
        assert_eq!(
            input.witness.nth(1).unwrap(),
            &bitcoin_key(&u.key).to_bytes()[..]
        );
        assert_eq!(*input.witness.nth(0).unwrap().last().unwrap(), 0x01);
    }
    // Another key's signature, a swapped pair, a missing one: refused.
    let wrong: Vec<_> = sighashes.iter().map(|h| ecdsa(&secret(8), *h)).collect();
    assert!(matches!(
        u.assemble(&wrong),
        Err(BtcError::BadSignature { input: 0, .. })
    ));
    let swapped = vec![good[1].clone(), good[0].clone()];
    assert!(u.assemble(&swapped).is_err());
    assert!(matches!(
        u.assemble(&good[..1]),
        Err(BtcError::SignatureCount { .. })
    ));
}

#[test]
fn p2tr_assembly_needs_the_output_keys_signature() {
    let u = spend(SpendKind::P2tr, &[40_000], 25_000).build().unwrap();
    let hash = u.sighashes()[0];
    let secp = Secp256k1::new();
    let keypair = bitcoin::key::Keypair::from_seckey_slice(&secp, &secret(7).to_bytes()).unwrap();
    let sign = |kp: &bitcoin::key::Keypair| {
        let sig =
            secp.sign_schnorr_no_aux_rand(&bitcoin::secp256k1::Message::from_digest(hash), kp);
        SignatureResponse::Bip340 {
            signature: sig.serialize(),
        }
    };
    // Under the BIP86-tweaked key: accepted, witness is the bare 64 bytes.
    let tweaked = keypair.tap_tweak(&secp, None).to_keypair();
    let tx = u.assemble(&[sign(&tweaked)]).unwrap();
    assert_eq!(tx.input[0].witness.len(), 1);
    assert_eq!(tx.input[0].witness.nth(0).unwrap().len(), 64);
    // Under the derived key itself: refused.
    assert!(matches!(
        u.assemble(&[sign(&keypair)]),
        Err(BtcError::BadSignature { .. })
    ));
}

/// The network's answer for one input of `kind`, from the local key `secret(7)`: ECDSA under
/// the key, BIP340 under its Taproot output key.
fn answer(kind: SpendKind, hash: [u8; 32]) -> SignatureResponse {
    match kind {
        SpendKind::P2wpkh => ecdsa(&secret(7), hash),
        SpendKind::P2tr => {
            let secp = Secp256k1::new();
            let keypair =
                bitcoin::key::Keypair::from_seckey_slice(&secp, &secret(7).to_bytes()).unwrap();
            let tweaked = keypair.tap_tweak(&secp, None).to_keypair();
            let message = bitcoin::secp256k1::Message::from_digest(hash);
            SignatureResponse::Bip340 {
                signature: secp
                    .sign_schnorr_no_aux_rand(&message, &tweaked)
                    .serialize(),
            }
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(48))]

    /// Any spend that builds assembles into a transaction that survives serialization, pays
    /// exactly the amount, keeps every satoshi (inputs = outputs + fee), pays at least the
    /// fee rate on its real size, and sends change, if any, back to the sender.
    #[test]
    fn spends_round_trip_and_keep_every_satoshi(
        taproot in proptest::bool::ANY,
        utxos in proptest::collection::vec(1_000u64..5_000_000, 1..5),
        amount in 546u64..4_000_000,
        fee_rate in 1u64..50,
    ) {
        let kind = if taproot { SpendKind::P2tr } else { SpendKind::P2wpkh };
        let mut s = spend(kind, &utxos, amount);
        s.fee_rate = fee_rate;
        let from = s.from_address();
        let built = s.build();
        // Not enough money for amount + fee: nothing to check beyond the refusal.
        proptest::prop_assume!(built.is_ok());
        let u = built.unwrap();
        let answers: Vec<_> = u.sighashes().into_iter().map(|h| answer(kind, h)).collect();
        let tx = u.assemble(&answers).unwrap();
        let back: Transaction =
            deserialize_hex(&bitcoin::consensus::encode::serialize_hex(&tx)).unwrap();
        proptest::prop_assert_eq!(&back, &tx);
        proptest::prop_assert_eq!(tx.output[0].value, Amount::from_sat(amount));
        let spent: u64 = u.prevouts.iter().map(|o| o.value.to_sat()).sum();
        let paid: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
        proptest::prop_assert_eq!(spent, paid + u.fee.to_sat());
        proptest::prop_assert!(u.fee.to_sat() >= fee_rate * tx.vsize() as u64);
        for change in &tx.output[1..] {
            proptest::prop_assert_eq!(&change.script_pubkey, &from.script_pubkey());
        }
    }
}
