//! Bitcoin Core's own validation accepts what the devnet signs: a regtest chain mined here
//! (rust-bitcoin) and validated by `bitcoinkernel`, a coinbase paying the derived P2WPKH
//! address, and `chainsig btc send` spending it. A block with the spend becomes the tip; the
//! same block with a tampered signature does not.

mod common;

use bitcoin::blockdata::block::{Header, Version as BlockVersion};
use bitcoin::blockdata::script::Builder;
use bitcoin::hashes::Hash;
use bitcoin::{
    Amount, Block, BlockHash, CompactTarget, OutPoint, ScriptBuf, Sequence, Transaction, TxIn,
    TxMerkleNode, TxOut, Witness,
};
use bitcoinkernel::{ChainType, ChainstateManager, ContextBuilder};
use common::chainsig;

/// A coinbase at `height` paying 50 BTC to `to`; with a witness commitment when asked.
fn coinbase(height: u32, to: ScriptBuf) -> Transaction {
    Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig: Builder::new()
                .push_int(height as i64)
                .push_int(0)
                .into_script(),
            sequence: Sequence::MAX,
            witness: Witness::from_slice(&[[0u8; 32]]),
        }],
        output: vec![TxOut {
            value: Amount::from_btc(50.0).unwrap(),
            script_pubkey: to,
        }],
    }
}

/// A block on `prev` with `txs` after a coinbase, its witness commitment and proof of work.
fn mine(prev: BlockHash, time: u32, height: u32, to: ScriptBuf, txs: Vec<Transaction>) -> Block {
    let mut txdata = vec![coinbase(height, to)];
    txdata.extend(txs);
    let mut block = Block {
        header: Header {
            version: BlockVersion::from_consensus(0x2000_0000),
            prev_blockhash: prev,
            merkle_root: TxMerkleNode::all_zeros(),
            time,
            bits: CompactTarget::from_consensus(0x207f_ffff),
            nonce: 0,
        },
        txdata,
    };
    let witness_root = block.witness_root().unwrap();
    let commitment = Block::compute_witness_commitment(&witness_root, &[0u8; 32]);
    let mut script = vec![0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];
    script.extend_from_slice(commitment.as_byte_array());
    block.txdata[0].output.push(TxOut {
        value: Amount::ZERO,
        script_pubkey: ScriptBuf::from_bytes(script),
    });
    block.header.merkle_root = block.compute_merkle_root().unwrap();
    let target = block.header.target();
    while block.header.validate_pow(target).is_err() {
        block.header.nonce += 1;
    }
    block
}

fn submit(chainman: &ChainstateManager, block: &Block) -> i32 {
    let raw = bitcoin::consensus::serialize(block);
    let _ = chainman.process_block(&bitcoinkernel::Block::new(&raw).unwrap());
    // process_block may call an invalid block new: only the tip tells.
    chainman.active_chain().height()
}

#[test]
fn bitcoin_core_accepts_a_devnet_signed_p2wpkh_spend() {
    let tmp = tempfile::tempdir().unwrap();
    let port = common::free_port().port();
    let (devnet, ready) = common::start(&tmp.path().join("devnet"), port);
    let rpc = ready["rpc_url"].as_str().unwrap();
    let from: bitcoin::Address<_> =
        common::devnet_address(&ready, "bitcoin-1", &["--network", "regtest"], "btc_p2wpkh")
            .parse()
            .unwrap();
    let from = from.require_network(bitcoin::Network::Regtest).unwrap();

    let kernel_dir = tmp.path().join("kernel");
    let ctx = ContextBuilder::new()
        .chain_type(ChainType::Regtest)
        .build()
        .unwrap();
    let chainman = ChainstateManager::new(
        &ctx,
        kernel_dir.join("data").to_str().unwrap(),
        kernel_dir.join("blocks").to_str().unwrap(),
    )
    .unwrap();
    let genesis = bitcoin::constants::genesis_block(bitcoin::Network::Regtest);
    let (mut prev, mut time) = (genesis.block_hash(), genesis.header.time);
    let burn = ScriptBuf::new_op_return([0u8; 4]);
    // Block 1 pays the derived address; 100 more make its coinbase spendable.
    let funding = mine(prev, time + 1, 1, from.script_pubkey(), vec![]);
    assert_eq!(submit(&chainman, &funding), 1);
    let funding_txid = funding.txdata[0].compute_txid();
    prev = funding.block_hash();
    time += 1;
    for h in 2..=101 {
        time += 1;
        let b = mine(prev, time, h, burn.clone(), vec![]);
        assert_eq!(submit(&chainman, &b), h as i32);
        prev = b.block_hash();
    }

    let recipient = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
    let utxo = format!("{funding_txid}:0:5000000000");
    let mut args = vec![
        "btc",
        "send",
        "--json",
        "--network",
        "regtest",
        "--to",
        recipient,
        "--amount",
        "1.5",
        "--fee-rate",
        "2",
        "--utxo",
        &utxo,
        "--rpc",
        rpc,
        "--account",
        "user.devnet",
        "--path",
        "bitcoin-1",
    ];
    let key_file = ready["user"]["key_file"].as_str().unwrap();
    args.extend(["--key-file", key_file]);
    let (code, out, err) = chainsig(&args);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let spend: Transaction =
        bitcoin::consensus::encode::deserialize_hex(v["raw"].as_str().unwrap()).unwrap();
    assert_eq!(spend.compute_txid().to_string(), v["txid"]);

    // Tampered: one byte of the DER signature flipped. Bitcoin Core refuses the block.
    let mut tampered = spend.clone();
    let mut sig = tampered.input[0].witness.nth(0).unwrap().to_vec();
    sig[10] ^= 1;
    let key = tampered.input[0].witness.nth(1).unwrap().to_vec();
    tampered.input[0].witness = Witness::from_slice(&[sig, key]);
    time += 1;
    let bad = mine(prev, time, 102, burn.clone(), vec![tampered]);
    assert_eq!(
        submit(&chainman, &bad),
        101,
        "a tampered spend was accepted"
    );
    // Intact: the block becomes the tip.
    let good = mine(prev, time, 102, burn, vec![spend]);
    assert_eq!(
        submit(&chainman, &good),
        102,
        "the devnet-signed spend was refused"
    );
    drop(devnet);
}
