//! Blocks as a regtest miner makes them: a BIP34 coinbase, the BIP141 witness commitment, and
//! proof of work at regtest's fixed target (a couple of hashes).
//!
//! Pure construction: whether a block is valid is for Bitcoin Core's validation to say
//! ([`crate::chain::Chain`] submits every block to it).

use bitcoin::blockdata::block::{Header, Version as BlockVersion};
use bitcoin::blockdata::script::Builder;
use bitcoin::hashes::Hash;
use bitcoin::{
    Amount, Block, BlockHash, CompactTarget, OutPoint, ScriptBuf, Sequence, Transaction, TxIn,
    TxMerkleNode, TxOut, Witness,
};

/// Regtest's proof-of-work limit, which it never retargets from.
pub const REGTEST_BITS: u32 = 0x207f_ffff;
/// Blocks before a coinbase output may be spent (a spend needs `tip + 1 − height ≥ 100`).
pub const COINBASE_MATURITY: u32 = 100;
/// Regtest halves the subsidy every 150 blocks (mainnet: 210,000).
pub const HALVING_INTERVAL: u32 = 150;
/// Blocks the median time past is taken over.
pub const MEDIAN_TIME_SPAN: usize = 11;

/// The block subsidy at `height` on regtest: 50 BTC, halved every 150 blocks.
pub fn subsidy(height: u32) -> Amount {
    let halvings = height / HALVING_INTERVAL;
    if halvings >= 64 {
        return Amount::ZERO;
    }
    Amount::from_sat(Amount::from_int_btc(50).to_sat() >> halvings)
}

/// A coinbase at `height` paying `value` to `to`: its scriptSig starts with the height
/// (BIP34), its witness holds the reserved value the witness commitment commits to.
pub fn coinbase(height: u32, to: ScriptBuf, value: Amount) -> Transaction {
    Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            // The trailing 0 keeps the scriptSig at least 2 bytes for heights 1–16 (OP_1..16).
            script_sig: Builder::new()
                .push_int(i64::from(height))
                .push_int(0)
                .into_script(),
            sequence: Sequence::MAX,
            witness: Witness::from_slice(&[[0u8; 32]]),
        }],
        output: vec![TxOut {
            value,
            script_pubkey: to,
        }],
    }
}

/// A block on `prev` at `height` and `time`: a coinbase paying the subsidy plus `fees` to
/// `to`, then `txs` in the order given, with its witness commitment and proof of work.
pub fn mine(
    prev: BlockHash,
    time: u32,
    height: u32,
    to: ScriptBuf,
    fees: Amount,
    txs: Vec<Transaction>,
) -> Block {
    let value = subsidy(height)
        .checked_add(fees)
        .unwrap_or(Amount::MAX_MONEY);
    let mut txdata = vec![coinbase(height, to, value)];
    txdata.extend(txs);
    let mut block = Block {
        header: Header {
            version: BlockVersion::from_consensus(0x2000_0000),
            prev_blockhash: prev,
            merkle_root: TxMerkleNode::all_zeros(),
            time,
            bits: CompactTarget::from_consensus(REGTEST_BITS),
            nonce: 0,
        },
        txdata,
    };
    // Both roots exist for a block with a coinbase, which this one always has.
    let witness_root = block.witness_root().expect("a block with a coinbase");
    let commitment = Block::compute_witness_commitment(&witness_root, &[0u8; 32]);
    // OP_RETURN, push 36: the BIP141 header aa21a9ed and the commitment.
    let mut script = vec![0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];
    script.extend_from_slice(commitment.as_byte_array());
    block.txdata[0].output.push(TxOut {
        value: Amount::ZERO,
        script_pubkey: ScriptBuf::from_bytes(script),
    });
    block.header.merkle_root = block
        .compute_merkle_root()
        .expect("a block with a coinbase");
    let target = block.header.target();
    // At regtest's target one hash in two succeeds; a new time gives new nonces if ever needed.
    while block.header.validate_pow(target).is_err() {
        block.header.nonce = block.header.nonce.wrapping_add(1);
        if block.header.nonce == 0 {
            block.header.time = block.header.time.wrapping_add(1);
        }
    }
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subsidy_halves_every_150_blocks_and_ends() {
        assert_eq!(subsidy(0), Amount::from_int_btc(50));
        assert_eq!(subsidy(149), Amount::from_int_btc(50));
        assert_eq!(subsidy(150), Amount::from_int_btc(25));
        assert_eq!(subsidy(300), Amount::from_sat(1_250_000_000));
        assert_eq!(subsidy(150 * 64), Amount::ZERO);
        assert_eq!(subsidy(u32::MAX), Amount::ZERO);
    }

    #[test]
    fn a_mined_block_commits_to_its_witnesses_and_meets_its_target() {
        let genesis = bitcoin::constants::genesis_block(bitcoin::Network::Regtest);
        let to = ScriptBuf::new_op_return([1u8; 4]);
        // Height 300 (a data push; heights up to 16 are OP_1..OP_16, as Bitcoin Core writes
        // them, which rust-bitcoin's BIP34 reader does not take).
        let block = mine(
            genesis.block_hash(),
            genesis.header.time + 1,
            300,
            to,
            Amount::from_sat(7),
            vec![],
        );
        assert!(block.check_witness_commitment());
        assert!(block.check_merkle_root());
        assert!(block.header.validate_pow(block.header.target()).is_ok());
        assert_eq!(
            block.txdata[0].output[0].value,
            Amount::from_sat(1_250_000_007)
        );
        assert_eq!(block.bip34_block_height(), Ok(300));
        let low = coinbase(1, ScriptBuf::new(), Amount::ZERO);
        assert_eq!(
            low.input[0].script_sig.as_bytes(),
            [0x51, 0x00],
            "OP_1 OP_0"
        );
    }
}
