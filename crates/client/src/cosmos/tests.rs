//! The transaction's bytes against CosmJS: the fixture below is what `DirectSecp256k1Wallet`
//! (@cosmjs/proto-signing 0.39) produced for the same key and fields, body and auth info
//! encoded by its `Registry` and `makeAuthInfoBytes`. Both sides sign SHA-256 of the sign doc
//! deterministically (RFC 6979) with low `s`, so the whole `TxRaw` must match.

use super::*;
use k256::ecdsa::SigningKey;

const SENDER: &str = "cosmos1n454ga9rqwkx6ax309knw5hs0z2erz7j5frdmq";
const RECIPIENT: &str = "cosmos16jlzchtg6pl8sstn4m42uaz7xmnkhv36nxnw6u";
const BODY: &str = "0a90010a1c2f636f736d6f732e62616e6b2e763162657461312e4d736753656e6412700a2d636f736d6f73316e3435346761397271776b783661783330396b6e77356873307a3265727a376a356672646d71122d636f736d6f7331366a6c7a6368746736706c387373746e346d343275617a37786d6e6b687633366e786e7736751a100a057561746f6d1207313530303030301208636861696e736967";
const AUTH_INFO: &str = "0a500a460a1f2f636f736d6f732e63727970746f2e736563703235366b312e5075624b657912230a210362c0a046dacce86ddd0343c6d3c7c79c2208ba0d9c9cf24a6d046d21d21f90f712040a020801180312130a0d0a057561746f6d12043530303010c09a0c";
const SIGNATURE: &str = "9f5ac78b3036dc20789795dee4d8207af22c425856eeb61452d26bf1e3a861f0721fb98ccec7be66254b2d0b69b2937ce9e064657a28c1d1627f25d205a46b98";
const HASH: &str = "1488A0EB0C76A5A142FF0443313A690CBC53D34FC29F5149904876A438A8C3D9";

fn key(fill: u8) -> SigningKey {
    SigningKey::from_slice(&[fill; 32]).unwrap()
}

fn send() -> CosmosSend {
    CosmosSend {
        key: *key(5).verifying_key().as_affine(),
        prefix: "cosmos".into(),
        to: RECIPIENT.into(),
        amount: 1_500_000,
        denom: "uatom".into(),
        fee: 5000,
        gas_limit: 200_000,
        memo: "chainsig".into(),
        chain_id: "cosmoshub-4".into(),
        account_number: 77,
        sequence: 3,
    }
}

#[test]
fn the_body_auth_info_and_signed_tx_match_cosmjs() {
    let s = send();
    assert_eq!(s.from().unwrap(), SENDER);
    let (body, auth) = s.parts().unwrap();
    assert_eq!(hex::encode(body), BODY);
    assert_eq!(hex::encode(auth), AUTH_INFO);
    let digest = s.signing_hash().unwrap();
    let answer = SignatureResponse::Secp256k1(testkit::ecdsa_sign(&key(5), &digest));
    let signed = s.assemble(&answer).unwrap();
    let raw = proto::TxRaw::decode(signed.tx_bytes.as_slice()).unwrap();
    assert_eq!(hex::encode(&raw.signatures[0]), SIGNATURE);
    assert_eq!(signed.id(), HASH);
}

#[test]
fn the_chain_id_and_account_number_are_signed() {
    let digest = send().signing_hash().unwrap();
    let mut other_chain = send();
    other_chain.chain_id = "osmosis-1".into();
    let mut other_account = send();
    other_account.account_number = 78;
    for s in [other_chain, other_account] {
        assert_ne!(s.signing_hash().unwrap(), digest);
    }
    let of_other = SignatureResponse::Secp256k1(testkit::ecdsa_sign(&key(5), &[1; 32]));
    assert!(matches!(
        send().assemble(&of_other),
        Err(CosmosError::Signature(EcdsaError::DoesNotVerify))
    ));
}

#[test]
fn what_a_node_would_refuse_is_refused_before_signing() {
    type Change = fn(&mut CosmosSend);
    type Expect = fn(&CosmosError) -> bool;
    let cases: [(&str, Change, Expect); 6] = [
        (
            "recipient of another chain",
            |s| s.to = crate::address::cosmos(key(6).verifying_key().as_affine(), "osmo").unwrap(),
            |e| matches!(e, CosmosError::Address { .. }),
        ),
        (
            "recipient with bech32m's checksum",
            |s| {
                let hrp = bech32::Hrp::parse("cosmos").unwrap();
                s.to = bech32::encode::<bech32::Bech32m>(hrp, &[7; 20]).unwrap();
            },
            |e| matches!(e, CosmosError::Address { .. }),
        ),
        (
            "bad denom",
            |s| s.denom = "1atom".into(),
            |e| matches!(e, CosmosError::Denom(_)),
        ),
        (
            "zero amount",
            |s| s.amount = 0,
            |e| matches!(e, CosmosError::Amount(_)),
        ),
        (
            "long memo",
            |s| s.memo = "m".repeat(MAX_MEMO + 1),
            |e| matches!(e, CosmosError::Memo(_)),
        ),
        (
            "no chain id",
            |s| s.chain_id.clear(),
            |e| matches!(e, CosmosError::ChainId),
        ),
    ];
    for (what, change, expect) in cases {
        let mut s = send();
        change(&mut s);
        let refused = s.signing_hash().unwrap_err();
        assert!(expect(&refused), "{what}: {refused}");
    }
    // The same account with bech32's checksum is fine.
    let hrp = bech32::Hrp::parse("cosmos").unwrap();
    let mut ok = send();
    ok.to = bech32::encode::<bech32::Bech32>(hrp, &[7; 20]).unwrap();
    assert!(ok.signing_hash().is_ok());
}

#[test]
fn amounts_and_denominations() {
    assert_eq!(parse_amount("1500000").unwrap(), 1_500_000);
    for bad in ["0", "1.5", "1.", "-1", "", "1e6"] {
        assert!(parse_amount(bad).is_err(), "{bad}");
    }
    for good in [
        "uatom",
        "ibc/27394FB092D2ECCD56123C74F36E4C1F926001CEADA9CA97EA622B25F41E5EB2",
        "factory/osmo1x/foo",
    ] {
        assert!(check_denom(good).is_ok(), "{good}");
    }
    for bad in ["ua", "1atom", "u atom", ""] {
        assert!(check_denom(bad).is_err(), "{bad}");
    }
}
