//! Bitcoin Core's own validation accepts what the devnet signs: a regtest chain
//! (`btc_regtest::Chain`: blocks built with rust-bitcoin, each connected by `bitcoinkernel`)
//! whose first coinbases pay the derived P2WPKH and P2TR addresses, and `chainsig btc send`
//! spending them (ECDSA by the Secp256k1 domain, Taproot key path by the Bip340 domain). A
//! block with the spends becomes the tip; the same block with either signature tampered does
//! not. A third spend goes through the chain's own Esplora API (UTXOs, fee estimate, broadcast
//! into the mempool, whose scripts the kernel verifies) into the next block. Dogecoin spends
//! pass both Bitcoin Core's interpreter and bitcore-lib-doge's (Dogecoin's rules and addresses).

mod common;

use bitcoin::hashes::Hash;
use bitcoin::{Amount, ScriptBuf, Transaction, Witness};
use btc_regtest::{Chain, ChainError, Service};
use common::{args, chainsig, requester};
use std::sync::Arc;

/// Where every test spend pays (BIP173's regtest P2WPKH example).
const RECIPIENT: &str = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";

/// `chainsig btc send` of 1.5 BTC from the derived address of `kind` (spending `utxo`), as
/// the transaction it prints.
fn send(ready: &serde_json::Value, kind: &str, utxo: &str) -> Transaction {
    let mut a = args(&[
        "btc",
        "send",
        "--json",
        "--kind",
        kind,
        "--btc-network",
        "regtest",
        "--to",
        RECIPIENT,
        "--amount",
        "1.5",
        "--fee-rate",
        "2",
        "--utxo",
        utxo,
    ]);
    a.extend(requester(ready, "bitcoin-1"));
    let (code, out, err) = chainsig(&a);
    assert_eq!(code, 0, "{kind}: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let spend: Transaction =
        bitcoin::consensus::encode::deserialize_hex(v["raw"].as_str().unwrap()).unwrap();
    assert_eq!(spend.compute_txid().to_string(), v["txid"]);
    assert_eq!(spend.output[0].value, Amount::from_btc(1.5).unwrap());
    spend
}

/// The spend with one byte of its input's signature flipped (the witness's first item: the
/// DER signature of P2WPKH, the BIP340 signature of a P2TR key path).
fn tampered(spend: &Transaction) -> Transaction {
    let mut tx = spend.clone();
    let mut items: Vec<Vec<u8>> = tx.input[0].witness.iter().map(<[u8]>::to_vec).collect();
    items[0][10] ^= 1;
    tx.input[0].witness = Witness::from_slice(&items);
    tx
}

#[test]
fn bitcoin_core_accepts_devnet_signed_p2wpkh_and_p2tr_spends() {
    let tmp = tempfile::tempdir().unwrap();
    let port = common::free_port().port();
    let (devnet, ready) = common::start(&tmp.path().join("devnet"), port);
    let address = |kind: &str| {
        let a: bitcoin::Address<_> =
            common::devnet_address(&ready, "bitcoin-1", &["--btc-network", "regtest"], kind)
                .parse()
                .unwrap();
        a.require_network(bitcoin::Network::Regtest).unwrap()
    };
    let (p2wpkh, p2tr) = (address("btc_p2wpkh"), address("btc_p2tr"));

    let service = Arc::new(Service::new(
        Chain::open(&tmp.path().join("regtest")).unwrap(),
    ));
    let burn = ScriptBuf::new_op_return([0u8; 4]);
    // Blocks 1 and 2 pay the derived P2WPKH and P2TR addresses; 99 more make both coinbases
    // spendable at height 102.
    let mut funding = vec![];
    for (height, to) in [(1, &p2wpkh), (2, &p2tr)] {
        let mined = service.mine(1, Some(to.script_pubkey())).unwrap();
        assert_eq!(mined[0].height, height);
        let chain = service.chain();
        let coinbase = chain.index().block_at(height).unwrap().txids[0];
        funding.push(format!("{coinbase}:0:5000000000"));
    }
    service.mine(99, Some(burn.clone())).unwrap();
    assert_eq!(service.chain().height(), 101);

    // Wrong inputs are refused before anything is signed: exit 2, one clear line.
    let mainnet_recipient = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
    let base = |to: &str, sats: &str, utxo: &str| {
        let mut a = args(&[
            "btc",
            "send",
            "--btc-network",
            "regtest",
            "--fee-rate",
            "2",
            "--to",
            to,
            "--sats",
            sats,
            "--utxo",
            utxo,
        ]);
        a.extend(requester(&ready, "bitcoin-1"));
        a
    };
    for (refused, needle) in [
        (
            base(RECIPIENT, "6000000000", &funding[0]),
            "insufficient UTXOs",
        ),
        (
            base(mainnet_recipient, "1000", &funding[0]),
            "not a regtest address",
        ),
        (base(RECIPIENT, "100", &funding[0]), "dust"),
        (base(RECIPIENT, "1000", "nonsense"), "not a UTXO"),
    ] {
        let (code, out, err) = chainsig(&refused);
        assert_eq!(code, 2, "{refused:?}: {err}");
        assert!(out.is_empty() && err.contains(needle), "{refused:?}: {err}");
    }

    let spends = [
        send(&ready, "p2wpkh", &funding[0]),
        send(&ready, "p2tr", &funding[1]),
    ];
    assert_eq!(spends[1].input[0].witness.len(), 1, "a key-path witness");
    // A block with either spend tampered is refused by Bitcoin Core.
    for (i, spend) in spends.iter().enumerate() {
        let mut txs = spends.to_vec();
        txs[i] = tampered(spend);
        let refused = service.chain().generate_block(&burn, txs);
        assert!(
            matches!(refused, Err(ChainError::Rejected { .. })),
            "a tampered spend ({i}) was accepted: {refused:?}"
        );
        assert_eq!(service.chain().height(), 101);
    }
    // Intact: the block becomes the tip.
    service
        .chain()
        .generate_block(&burn, spends.to_vec())
        .expect("the devnet-signed spends were refused");
    assert_eq!(service.chain().height(), 102);

    for (kind, address) in [("p2wpkh", &p2wpkh), ("p2tr", &p2tr)] {
        ten_inputs_verify_by_bitcoin_core(&ready, kind, address);
    }
    dogecoin_inputs_verify_by_the_script_interpreter(&ready);

    // Through the chain's Esplora API: the P2WPKH change just confirmed is found, the fee
    // rate read, the spend broadcast into the mempool (its script verified by the kernel);
    // Bitcoin Core takes the next block with it.
    let change = &spends[0].output[1];
    assert_eq!(
        change.script_pubkey,
        p2wpkh.script_pubkey(),
        "change comes back"
    );
    let esplora = Esplora::start(Arc::clone(&service));
    let mut a = args(&[
        "btc",
        "send",
        "--json",
        "--btc-network",
        "regtest",
        "--to",
        RECIPIENT,
        "--sats",
        "100000000",
        "--esplora",
        &esplora.url,
    ]);
    a.extend(requester(&ready, "bitcoin-1"));
    let v = common::chainsig_json(&a);
    assert_eq!(v["broadcast"], true);
    let sent: Vec<Transaction> = service
        .chain()
        .mempool()
        .entries()
        .iter()
        .map(|e| e.tx.clone())
        .collect();
    assert_eq!(sent.len(), 1);
    let tx = &sent[0];
    assert_eq!(tx.compute_txid().to_string(), v["txid"]);
    assert_eq!(tx.input[0].previous_output.txid, spends[0].compute_txid());
    // The fee follows the 6-block estimate (1 sat/vB on a chain with room in every block).
    let out: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
    let fee = change.value.to_sat() - out;
    assert_eq!(v["fee_sats"], fee);
    assert!(
        fee >= tx.vsize() as u64 && fee < 2 * tx.vsize() as u64,
        "fee {fee}"
    );
    let mined = service.mine(1, Some(burn)).unwrap();
    assert_eq!(mined[0].height, 103);
    assert_eq!(
        mined[0].confirmed,
        vec![tx.compute_txid()],
        "the spend broadcast through Esplora was not mined"
    );
    drop(devnet);
}

/// A spend of ten UTXOs (all ten signatures requested at once): Bitcoin Core's script
/// interpreter accepts every input, and refuses one whose signature is flipped.
fn ten_inputs_verify_by_bitcoin_core(
    ready: &serde_json::Value,
    kind: &str,
    from: &bitcoin::Address,
) {
    let utxos: Vec<String> = (0..10u8)
        .map(|i| {
            let txid = bitcoin::Txid::hash(&[kind.as_bytes(), &[i]].concat());
            format!("{txid}:{i}:10000000")
        })
        .collect();
    let mut a = args(&[
        "btc",
        "send",
        "--json",
        "--kind",
        kind,
        "--btc-network",
        "regtest",
        "--to",
        RECIPIENT,
        "--amount",
        "0.95",
        "--fee-rate",
        "2",
    ]);
    for u in &utxos {
        a.extend(args(&["--utxo", u]));
    }
    a.extend(requester(ready, "bitcoin-1"));
    let started = std::time::Instant::now();
    let (code, out, err) = chainsig(&a);
    assert_eq!(code, 0, "{kind}: {err}");
    eprintln!("{kind}: 10 inputs signed in {:?}", started.elapsed());
    assert!(err.contains("10/10 signed"), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let raw = hex::decode(v["raw"].as_str().unwrap()).unwrap();
    let spend: Transaction = bitcoin::consensus::encode::deserialize(&raw).unwrap();
    assert_eq!(spend.input.len(), 10);
    let script = bitcoinkernel::ScriptPubkey::new(from.script_pubkey().as_bytes()).unwrap();
    let spent: Vec<bitcoinkernel::TxOut> = (0..10)
        .map(|_| bitcoinkernel::TxOut::new(&script, 10_000_000))
        .collect();
    let check = |tx: &Transaction, input: usize| {
        let bytes = bitcoin::consensus::encode::serialize(tx);
        let tx = bitcoinkernel::Transaction::new(&bytes).unwrap();
        let data = bitcoinkernel::PrecomputedTransactionData::new(&tx, &spent).unwrap();
        bitcoinkernel::verify(&script, Some(10_000_000), &tx, input, None, &data)
    };
    for input in 0..10 {
        check(&spend, input).unwrap_or_else(|e| panic!("{kind} input {input}: {e:?}"));
    }
    let mut bad = spend.clone();
    let mut items: Vec<Vec<u8>> = bad.input[7].witness.iter().map(<[u8]>::to_vec).collect();
    items[0][10] ^= 1;
    bad.input[7].witness = Witness::from_slice(&items);
    assert!(
        check(&bad, 7).is_err(),
        "{kind}: a flipped signature passed"
    );
}

/// `chainsig doge send`: a Dogecoin P2PKH payment from three UTXOs, every input's scriptSig
/// accepted by Bitcoin Core's script interpreter under the rules Dogecoin shares with it
/// (P2SH, strict DER, NULLDUMMY, CLTV, CSV; no segwit or taproot), a flipped signature refused.
fn dogecoin_inputs_verify_by_the_script_interpreter(ready: &serde_json::Value) {
    use client::doge::{script_of, DogeNetwork, KOINU_PER_DOGE};
    let from = common::devnet_address(ready, "dogecoin-1", &[], "doge_p2pkh");
    let script = script_of(&from, DogeNetwork::Mainnet).unwrap();
    let recipient = bs58::encode([0x11u8; 20])
        .with_check_version(0x1e)
        .into_string();
    let values = [5, 50, 20].map(|doge| doge * KOINU_PER_DOGE);
    let mut a = args(&[
        "doge", "send", "--json", "--to", &recipient, "--amount", "60",
    ]);
    for (i, value) in values.iter().enumerate() {
        let txid = bitcoin::Txid::hash(&[b"doge".as_slice(), &[i as u8]].concat());
        a.extend(args(&["--utxo", &format!("{txid}:{i}:{value}")]));
    }
    a.extend(requester(ready, "dogecoin-1"));
    let (code, out, err) = chainsig(&a);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["from"], from);
    let spend: Transaction =
        bitcoin::consensus::encode::deserialize_hex(v["raw"].as_str().unwrap()).unwrap();
    // Largest first: the 50 and 20 DOGE outputs pay 60 and the fee.
    assert_eq!(spend.input.len(), 2);
    assert_eq!(
        spend.output[0].script_pubkey,
        script_of(&recipient, DogeNetwork::Mainnet).unwrap()
    );
    let spent_values: Vec<u64> = spend
        .input
        .iter()
        .map(|i| values[i.previous_output.vout as usize])
        .collect();
    let kernel_script = bitcoinkernel::ScriptPubkey::new(script.as_bytes()).unwrap();
    let spent: Vec<bitcoinkernel::TxOut> = spent_values
        .iter()
        .map(|v| bitcoinkernel::TxOut::new(&kernel_script, *v as i64))
        .collect();
    let flags = bitcoinkernel::VERIFY_P2SH
        | bitcoinkernel::VERIFY_DERSIG
        | bitcoinkernel::VERIFY_NULLDUMMY
        | bitcoinkernel::VERIFY_CHECKLOCKTIMEVERIFY
        | bitcoinkernel::VERIFY_CHECKSEQUENCEVERIFY;
    let check = |tx: &Transaction, input: usize| {
        let bytes = bitcoin::consensus::encode::serialize(tx);
        let tx = bitcoinkernel::Transaction::new(&bytes).unwrap();
        let data = bitcoinkernel::PrecomputedTransactionData::new(&tx, &spent).unwrap();
        let amount = Some(spent_values[input] as i64);
        bitcoinkernel::verify(&kernel_script, amount, &tx, input, Some(flags), &data)
    };
    for input in 0..spend.input.len() {
        check(&spend, input).unwrap_or_else(|e| panic!("input {input}: {e:?}"));
    }
    let mut bad = spend.clone();
    let mut script_sig = bad.input[1].script_sig.to_bytes();
    script_sig[10] ^= 1;
    bad.input[1].script_sig = bitcoin::ScriptBuf::from_bytes(script_sig);
    assert!(check(&bad, 1).is_err(), "a flipped signature passed");

    // Dogecoin's own rules, by bitcore-lib-doge's parser and interpreter with Dogecoin Core's
    // standard-policy flags; the tampered spend fails there too.
    let koinu: Vec<String> = spent_values.iter().map(u64::to_string).collect();
    let doge_check = |raw: &str| {
        let mut extra = vec![raw, from.as_str()];
        extra.extend(koinu.iter().map(String::as_str));
        testkit::test_tool("node_modules/bitcore-lib-doge/package.json");
        common::node_check("doge-check.cjs", &extra)
    };
    let found = doge_check(v["raw"].as_str().unwrap());
    assert_eq!(found["from_is_mainnet_address"], true, "{found}");
    assert_eq!(found["sane"], true, "{found}");
    assert_eq!(found["txid"], v["txid"]);
    for input in found["inputs"].as_array().unwrap() {
        assert_eq!(input["valid"], true, "{found}");
    }
    assert_eq!(found["outputs"][0]["address"].as_str().unwrap(), recipient);
    assert_eq!(found["outputs"][0]["koinu"], 60 * KOINU_PER_DOGE);
    assert_eq!(found["outputs"][1]["address"].as_str().unwrap(), from);
    let found = doge_check(&bitcoin::consensus::encode::serialize_hex(&bad));
    assert_eq!(found["inputs"][0]["valid"], true, "{found}");
    assert_eq!(found["inputs"][1]["valid"], false, "{found}");
}

/// The chain's Esplora API (`btc_regtest::esplora`) served on loopback, no miner: the test
/// mines when it means to.
struct Esplora {
    url: String,
    _runtime: tokio::runtime::Runtime,
}

impl Esplora {
    fn start(service: Arc<Service>) -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = btc_regtest::esplora::router(service);
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url,
            _runtime: runtime,
        }
    }
}
