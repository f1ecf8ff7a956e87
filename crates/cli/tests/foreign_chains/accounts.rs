//! The account-based ledgers without a node that runs offline here: the XRP Ledger and the
//! Cosmos SDK. The devnet signs; the chain's own client library — xrpl.js (ripple-binary-codec
//! and ripple-keypairs) and CosmJS — decodes what `chainsig xrp send` / `chainsig cosmos send`
//! printed, rebuilds the signed bytes itself and verifies the signature under the key the
//! transaction carries, whose address must be the sender's. A changed field or another chain
//! id must not verify.

use crate::common::{self, args, chainsig, requester};

pub fn xrp(ready: &serde_json::Value) {
    testkit::test_tool("node_modules/xrpl/package.json");
    let from = common::devnet_address(ready, "xrp-1", &[], "xrp");
    let recipient = "rLPtn99zERbyGWiKx5QMnmuvycdJRxEtej";
    let send = |extra: &[&str]| {
        let mut a = args(&["xrp", "send", "--json", "--to", recipient]);
        a.extend(requester(ready, "xrp-1"));
        a.extend(args(extra));
        chainsig(&a)
    };
    // Wrong input fails before anything is signed.
    let (code, _, err) = send(&["--amount", "1"]);
    assert!(code == 2 && err.contains("--sequence"), "{err}");
    let (code, _, err) = send(&["--amount", "1.0000001", "--sequence", "1"]);
    assert!(code == 2 && err.contains("not an amount of XRP"), "{err}");

    let (code, out, err) = send(&[
        "--amount",
        "1.25",
        "--destination-tag",
        "7",
        "--sequence",
        "5",
        "--fee",
        "12",
        "--last-ledger-sequence",
        "900",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let blob = v["tx_blob"].as_str().unwrap();
    let found = common::node_check("xrpl-check.cjs", &[blob]);
    for verdict in [
        "signature_valid",
        "canonical",
        "key_is_account",
        "low_s",
        "valid_model",
    ] {
        assert_eq!(found[verdict], true, "{verdict}: {found}");
    }
    let tx = &found["tx"];
    assert_eq!(tx["TransactionType"], "Payment");
    assert_eq!(tx["Account"].as_str().unwrap(), from);
    assert_eq!(tx["Destination"], recipient);
    assert_eq!(tx["Amount"], "1250000");
    assert_eq!(tx["Fee"], "12");
    assert_eq!(tx["DestinationTag"], 7);
    assert_eq!(tx["Sequence"], 5);
    assert_eq!(tx["LastLedgerSequence"], 900);
    assert_eq!(found["hash"], v["hash"]);

    // One drop more in the Amount field (header 0x61, 0x40… | 1 250 000): no longer signed.
    let amount = "6140000000001312D0";
    assert!(blob.contains(amount));
    let tampered = blob.replace(amount, "6140000000001312D1");
    let found = common::node_check("xrpl-check.cjs", &[&tampered]);
    assert_eq!(found["signature_valid"], false, "{found}");
}

pub fn cosmos(ready: &serde_json::Value) {
    testkit::test_tool("node_modules/@cosmjs/proto-signing/package.json");
    let from = common::devnet_address(ready, "cosmos-1", &[], "cosmos");
    let recipient = "cosmos16jlzchtg6pl8sstn4m42uaz7xmnkhv36nxnw6u";
    let send = |to: &str, extra: &[&str]| {
        let mut a = args(&["cosmos", "send", "--json", "--to", to]);
        a.extend(requester(ready, "cosmos-1"));
        a.extend(args(extra));
        chainsig(&a)
    };
    let (code, _, err) = send(recipient, &["--amount", "10", "--chain-id", "cosmoshub-4"]);
    assert!(code == 2 && err.contains("--account-number"), "{err}");
    let offline = ["--chain-id", "cosmoshub-4", "--account-number", "12"];
    // The same account on Osmosis: a valid address, of another chain.
    let osmo = "osmo16jlzchtg6pl8sstn4m42uaz7xmnkhv36maq7vw";
    let (code, _, err) = send(
        osmo,
        &[&["--amount", "10", "--sequence", "0"], &offline[..]].concat(),
    );
    assert!(code == 2 && err.contains("cosmos… account"), "{err}");

    let (code, out, err) = send(
        recipient,
        &[
            &[
                "--amount",
                "1500000",
                "--sequence",
                "4",
                "--memo",
                "chain signatures",
            ],
            &offline[..],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let tx = v["tx_bytes_base64"].as_str().unwrap();
    let found = common::node_check("cosmjs-check.cjs", &[tx, "cosmoshub-4", "12", "cosmos"]);
    assert_eq!(found["signature_valid"], true, "{found}");
    assert_eq!(found["low_s"], true, "{found}");
    assert_eq!(found["type_url"], "/cosmos.bank.v1beta1.MsgSend");
    assert_eq!(found["signer_address"].as_str().unwrap(), from);
    assert_eq!(found["from_address"].as_str().unwrap(), from);
    assert_eq!(found["to_address"], recipient);
    assert_eq!(
        found["amount"],
        serde_json::json!([{"denom": "uatom", "amount": "1500000"}])
    );
    assert_eq!(found["memo"], "chain signatures");
    assert_eq!(found["sequence"], "4");
    assert_eq!(found["hash"], v["txhash"]);

    // The chain id and account number are signed: on another chain, or as another account,
    // the same bytes do not verify.
    for (chain, account) in [("theta-testnet-001", "12"), ("cosmoshub-4", "13")] {
        let found = common::node_check("cosmjs-check.cjs", &[tx, chain, account, "cosmos"]);
        assert_eq!(
            found["signature_valid"], false,
            "{chain} {account}: {found}"
        );
    }
}
