//! The payment's bytes against xrpl.js: the fixture below is what `Wallet.sign` (xrpl 4.4.3,
//! ripple-binary-codec and ripple-keypairs) produced for the same key and fields. Both sides
//! sign deterministically (RFC 6979) with low `s`, so the whole signed blob must match.

use super::*;
use k256::ecdsa::SigningKey;

const SENDER: &str = "rEMKGZuv1rjuFjKzsyjHsh5tnLY5KL3NUk";
const RECIPIENT: &str = "rLPtn99zERbyGWiKx5QMnmuvycdJRxEtej";
const SIGNING_DATA: &str = "53545800120000220000000024000000072E0000002A201B000003E861400000000016E36068400000000000000C73210362C0A046DACCE86DDD0343C6D3C7C79C2208BA0D9C9CF24A6D046D21D21F90F781149D695474A303AC6D74D1796D3752F07895918BD28314D4BE2C5D68D07E784173AEEAAE745E36E76BB23A";
const BLOB: &str = "120000220000000024000000072E0000002A201B000003E861400000000016E36068400000000000000C73210362C0A046DACCE86DDD0343C6D3C7C79C2208BA0D9C9CF24A6D046D21D21F90F7744630440220304AF88C7C32A433EAA9005F20641DF743A5A1CD16667E9BCD36F9CA302F8891022026A42D70715F2FF8A57B1E2A539DB1542ED6F0081972161C6A47F9C4AA09CD5781149D695474A303AC6D74D1796D3752F07895918BD28314D4BE2C5D68D07E784173AEEAAE745E36E76BB23A";
const HASH: &str = "0C7710EAF6794450BA00C1179036147D015211F9F171BF4BF442BDBF8BCA8E59";

fn key(fill: u8) -> SigningKey {
    SigningKey::from_slice(&[fill; 32]).unwrap()
}

fn payment() -> XrpPayment {
    XrpPayment {
        key: *key(5).verifying_key().as_affine(),
        destination: parse_address(RECIPIENT).unwrap(),
        destination_tag: Some(42),
        drops: parse_xrp("1.5").unwrap(),
        fee_drops: 12,
        sequence: 7,
        last_ledger_sequence: Some(1000),
        network_id: None,
    }
}

#[test]
fn addresses_round_trip_and_match_the_key() {
    let p = payment();
    assert_eq!(crate::address::xrp(&p.key), SENDER);
    assert_eq!(parse_address(SENDER).unwrap(), p.account());
    let recipient = key(6);
    assert_eq!(
        crate::address::xrp(recipient.verifying_key().as_affine()),
        RECIPIENT
    );
    for bad in [
        "",
        "rEMKGZuv1rjuFjKzsyjHsh5tnLY5KL3NUj",
        "XVLhHMPHU98es4dbozjVtdWzVrDjtV5fdx1mHp98tDMoQXb",
    ] {
        assert!(
            matches!(parse_address(bad), Err(XrpError::Address(_))),
            "{bad}"
        );
    }
}

#[test]
fn amounts_of_xrp() {
    assert_eq!(parse_xrp("1").unwrap(), DROPS_PER_XRP);
    assert_eq!(parse_xrp("0.000001").unwrap(), 1);
    for bad in ["0", "0.0000001", "-1", "1e6", ""] {
        assert!(parse_xrp(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_signing_data_and_signed_blob_match_xrpl_js() {
    let p = payment();
    let data = hex::decode(SIGNING_DATA).unwrap();
    assert_eq!(p.signing_hash().unwrap(), sha512_half(&[&data]));
    let digest = p.signing_hash().unwrap();
    let answer = SignatureResponse::Secp256k1(testkit::ecdsa_sign(&key(5), &digest));
    let signed = p.assemble(&answer).unwrap();
    assert_eq!(hex::encode_upper(&signed.blob), BLOB);
    assert_eq!(signed.id(), HASH);
}

#[test]
fn a_signature_of_something_else_or_by_another_key_is_refused() {
    let p = payment();
    let digest = p.signing_hash().unwrap();
    let by_other = SignatureResponse::Secp256k1(testkit::ecdsa_sign(&key(6), &digest));
    let of_other = SignatureResponse::Secp256k1(testkit::ecdsa_sign(&key(5), &[1; 32]));
    for answer in [by_other, of_other] {
        assert!(matches!(
            p.assemble(&answer),
            Err(XrpError::Signature(EcdsaError::DoesNotVerify))
        ));
    }
}

#[test]
fn impossible_payments_are_refused_before_signing() {
    let mut to_self = payment();
    to_self.destination = to_self.account();
    assert!(matches!(to_self.signing_hash(), Err(XrpError::ToSelf)));
    let mut too_much = payment();
    too_much.drops = codec::MAX_DROPS + 1;
    assert!(matches!(
        too_much.signing_hash(),
        Err(XrpError::TooLarge { .. })
    ));
}
