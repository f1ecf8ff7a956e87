//! Published vectors of each chain, and properties every encoding must keep.

use super::*;
use proptest::prelude::*;

fn key(sec1_hex: &str) -> AffinePoint {
    match NearPublicKey::secp256k1_from_sec1(&hex::decode(sec1_hex).unwrap()).unwrap() {
        NearPublicKey::Secp256k1(p) => p,
        NearPublicKey::Ed25519(_) => unreachable!(),
    }
}

/// The public key of the secret key 1.
fn generator() -> AffinePoint {
    AffinePoint::GENERATOR
}

#[test]
fn eip55_vectors() {
    // EIP-55's own examples: the checksum survives a round trip through bytes.
    for addr in [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ] {
        let bytes: [u8; 20] = hex::decode(&addr[2..]).unwrap().try_into().unwrap();
        assert_eq!(EvmAddress::from(bytes).to_string(), addr);
    }
    assert_eq!(
        evm(&generator()).to_string(),
        "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
    );
}

#[test]
fn bip173_p2wpkh_and_legacy_vectors() {
    // BIP173's P2WPKH example is the key of secret 1; its P2PKH forms are well known.
    let g = generator();
    let cases = [
        (
            BitcoinNetwork::Mainnet,
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        ),
        (
            BitcoinNetwork::Testnet,
            "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx",
        ),
    ];
    for (net, expected) in cases {
        assert_eq!(bitcoin_p2wpkh(&g, net).to_string(), expected);
    }
    assert!(bitcoin_p2wpkh(&g, BitcoinNetwork::Regtest)
        .to_string()
        .starts_with("bcrt1q"));
    assert_eq!(
        bitcoin_p2pkh(&g, BitcoinNetwork::Mainnet).to_string(),
        "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH"
    );
    assert_eq!(
        bitcoin_p2pkh(&g, BitcoinNetwork::Testnet).to_string(),
        "mrCDrCybB6J1vRfbwM5hemdJz73FwDBC8r"
    );
}

#[test]
fn bip86_p2tr_vector() {
    // BIP86's first receiving address (m/86'/0'/0'/0/0 of the "abandon … about" seed):
    // internal key cc8a…c115, output key a608…684c.
    let internal = key("03cc8a4bc64d897bddc5fbc2f670f7a8ba0b386779106cf1223c6fc5d7cd6fc115");
    let address = bitcoin_p2tr(&internal, BitcoinNetwork::Mainnet);
    assert_eq!(
        address.to_string(),
        "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr"
    );
    assert_eq!(
        hex::encode(address.script_pubkey().as_bytes()),
        "5120a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c"
    );
}

#[test]
fn dogecoin_vectors() {
    // mrtnetwork/blockchain_utils' compressed-key P2PKH vectors with Dogecoin's version 0x1e.
    for (key_hex, expected) in [
        (
            "0339e96876afb67763a77c0d0b7f7d8b3659a17fd56a56e09c71cae6fc5ac8883e",
            "DRq8DVXBXNHTPyBctM1Wdx39wUxU47Fwyt",
        ),
        (
            "02ce43889af64bfd96d3800b11212faccab6b4ef71bf45a250a59ac3e948ee6e42",
            "DNZp4h1dMXjif7L8GQa5KwYnnkv9DnLC8Y",
        ),
    ] {
        assert_eq!(dogecoin_p2pkh(&key(key_hex)), expected);
    }
}

#[test]
fn xrp_genesis_account_vector() {
    // The XRP Ledger's genesis account (master seed snoPBrXtMeMyMHUVTgbuqAfg1SUTb).
    let k = key("0330E7FC9D56BB25D6893BA3F317AE5BCF33B3291BD63DB32654A313222F7FD020");
    assert_eq!(xrp(&k), "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh");
}

#[test]
fn cosmos_vector_and_prefixes() {
    // Trust Wallet core's Cosmos address test.
    let k = key("0257286ec3f37d33557bbbaa000b27744ac9023aa9967cae75a181d1ff91fa9dc5");
    assert_eq!(
        cosmos(&k, "cosmos").unwrap(),
        "cosmos1hsk6jryyqjfhp5dhc55tc9jtckygx0eph6dd02"
    );
    assert!(cosmos(&k, "osmo").unwrap().starts_with("osmo1"));
    let long = "a".repeat(84);
    for bad in ["", "Cosmos", "cos mos", "é", &long] {
        assert_eq!(
            cosmos(&k, bad),
            Err(AddressError::Prefix(bad.to_owned())),
            "{bad:?}"
        );
    }
    assert!(cosmos(&k, &"a".repeat(83)).is_ok());
}

#[test]
fn ed25519_forms() {
    let k: NearPublicKey = "ed25519:6vSEtQxrQj6txUMh33WC4ERyCWmNMRTdufDWAaDY3Un2"
        .parse()
        .unwrap();
    let p = k.as_ed25519().unwrap();
    assert_eq!(solana(p), "6vSEtQxrQj6txUMh33WC4ERyCWmNMRTdufDWAaDY3Un2");
    assert_eq!(
        hex::decode(near_implicit(p)).unwrap(),
        bs58::decode("6vSEtQxrQj6txUMh33WC4ERyCWmNMRTdufDWAaDY3Un2")
            .into_vec()
            .unwrap()
    );
    let all = addresses(&k, SignatureScheme::Ed25519, &AddressOptions::default()).unwrap();
    assert_eq!(
        all.keys().copied().collect::<Vec<_>>(),
        ["near_implicit", "solana"]
    );
}

#[test]
fn wrong_curve_is_named() {
    let k: NearPublicKey = "ed25519:6vSEtQxrQj6txUMh33WC4ERyCWmNMRTdufDWAaDY3Un2"
        .parse()
        .unwrap();
    let e = secp256k1_of(&k, "an EVM address").unwrap_err().to_string();
    assert!(
        e.contains("ed25519") && e.contains("EVM") && e.contains("secp256k1"),
        "{e}"
    );
}

#[test]
fn each_scheme_offers_what_it_can_sign_for() {
    let k = NearPublicKey::Secp256k1(generator());
    let options = AddressOptions::default();
    let names = |scheme| -> Vec<&str> {
        addresses(&k, scheme, &options)
            .unwrap()
            .keys()
            .copied()
            .collect()
    };
    assert_eq!(
        names(SignatureScheme::Secp256k1),
        [
            "btc_p2pkh",
            "btc_p2wpkh",
            "cosmos",
            "doge_p2pkh",
            "evm",
            "xrp"
        ]
    );
    assert_eq!(names(SignatureScheme::Bip340), ["btc_p2tr"]);
    let e = addresses(&k, SignatureScheme::Ed25519, &options).unwrap_err();
    assert!(e.to_string().contains("Ed25519 domain"), "{e}");
}

#[test]
fn p2tr_commits_to_the_key_bip340_signatures_verify_under() {
    // rust-bitcoin (libsecp256k1's tweak) and primitives::taproot (what the contract checks
    // signatures against) agree on the output key.
    for secret in [1u64, 2, 3, 0xdead_beef] {
        let p = (k256::ProjectivePoint::GENERATOR * k256::Scalar::from(secret)).to_affine();
        let address = bitcoin_p2tr(&p, BitcoinNetwork::Mainnet);
        let program = address.witness_program().unwrap();
        assert_eq!(
            program.program().as_bytes(),
            primitives::taproot::output_key_x(&p).unwrap()
        );
    }
}

#[test]
fn networks_parse() {
    assert_eq!(
        "regtest".parse::<BitcoinNetwork>(),
        Ok(BitcoinNetwork::Regtest)
    );
    assert!("litecoin".parse::<BitcoinNetwork>().is_err());
}

proptest! {
    /// Every address of a key decodes back to that key's hash (or key), on every network.
    #[test]
    fn addresses_decode_to_the_key(secret in 1u64..u64::MAX) {
        let p = (k256::ProjectivePoint::GENERATOR * k256::Scalar::from(secret)).to_affine();
        let h = hash160(&p);
        for net in [BitcoinNetwork::Mainnet, BitcoinNetwork::Testnet, BitcoinNetwork::Regtest] {
            for a in [bitcoin_p2pkh(&p, net), bitcoin_p2wpkh(&p, net), bitcoin_p2tr(&p, net)] {
                let back: bitcoin::Address<_> = a.to_string().parse().unwrap();
                let back = back.require_network(net.to_bitcoin()).unwrap();
                prop_assert_eq!(back, a);
            }
        }
        let doge = bs58::decode(dogecoin_p2pkh(&p)).with_check(Some(0x1e)).into_vec().unwrap();
        prop_assert_eq!(&doge[1..], &h[..]);
        let ripple = bs58::decode(xrp(&p))
            .with_alphabet(bs58::Alphabet::RIPPLE)
            .with_check(Some(0))
            .into_vec()
            .unwrap();
        prop_assert_eq!(&ripple[1..], &h[..]);
        let (hrp, data) = bech32::decode(&cosmos(&p, "cosmos").unwrap()).unwrap();
        prop_assert_eq!(hrp.as_str(), "cosmos");
        prop_assert_eq!(data, h.to_vec());
        let evm_text = evm(&p).to_string();
        prop_assert_eq!(evm_text.parse::<EvmAddress>().unwrap(), evm(&p));
    }
}
