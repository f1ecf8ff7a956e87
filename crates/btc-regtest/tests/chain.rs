//! The chain as a library: Bitcoin Core's validation engine decides what is mined, the
//! mempool refuses what it would refuse, and a restarted chain is the same chain.

use bitcoin::secp256k1::{Secp256k1, SecretKey, SignOnly};
use bitcoin::{
    absolute, Address, Amount, CompressedPublicKey, Network, OutPoint, ScriptBuf, Sequence,
    Transaction, TxIn, TxOut, Txid, Witness,
};
use btc_regtest::faucet::sign_p2wpkh;
use btc_regtest::service::INITIAL_BLOCKS;
use btc_regtest::{Chain, ChainError, Service, TxRejected};

/// A P2WPKH key the test spends with.
struct Wallet {
    secp: Secp256k1<SignOnly>,
    key: SecretKey,
    address: Address,
}

impl Wallet {
    fn new(seed: u8) -> Self {
        let secp = Secp256k1::signing_only();
        let key = SecretKey::from_slice(&[seed; 32]).unwrap();
        let public = CompressedPublicKey(key.public_key(&secp));
        let address = Address::p2wpkh(&public, Network::Regtest);
        Self { secp, key, address }
    }

    fn script(&self) -> ScriptBuf {
        self.address.script_pubkey()
    }

    /// A signed spend of `coins` paying `outputs`.
    fn spend(&self, coins: &[(OutPoint, TxOut)], outputs: Vec<TxOut>) -> Transaction {
        let mut tx = Transaction {
            version: bitcoin::transaction::Version::TWO,
            lock_time: absolute::LockTime::ZERO,
            input: coins
                .iter()
                .map(|(op, _)| TxIn {
                    previous_output: *op,
                    script_sig: ScriptBuf::new(),
                    sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                    witness: Witness::new(),
                })
                .collect(),
            output: outputs,
        };
        let spent: Vec<TxOut> = coins.iter().map(|(_, o)| o.clone()).collect();
        sign_p2wpkh(&self.secp, &self.key, &mut tx, &spent).unwrap();
        tx
    }
}

fn pay(to: &ScriptBuf, sats: u64) -> TxOut {
    TxOut {
        value: Amount::from_sat(sats),
        script_pubkey: to.clone(),
    }
}

/// The output `txid:vout` of a transaction the chain knows (confirmed).
fn coin(chain: &Chain, txid: Txid, vout: u32) -> (OutPoint, TxOut) {
    let op = OutPoint::new(txid, vout);
    (op, chain.index().coin(&op).expect("unspent").output.clone())
}

/// The same transaction with one byte of its first input's signature flipped.
fn tampered(tx: &Transaction) -> Transaction {
    let mut bad = tx.clone();
    let mut items: Vec<Vec<u8>> = bad.input[0].witness.iter().map(<[u8]>::to_vec).collect();
    items[0][10] ^= 1;
    bad.input[0].witness = Witness::from_slice(&items);
    bad
}

/// A prepared chain (faucet funded) and a wallet holding one confirmed 1 BTC output.
fn funded(dir: &std::path::Path) -> (Service, Wallet, (OutPoint, TxOut)) {
    let service = Service::new(Chain::open(dir).unwrap());
    assert_eq!(service.chain().height(), 0, "a new chain is genesis only");
    service.prepare().unwrap();
    assert_eq!(service.chain().height(), INITIAL_BLOCKS);
    let wallet = Wallet::new(7);
    let txid = service
        .pay(wallet.script(), Amount::from_int_btc(1))
        .unwrap();
    assert!(service.chain().mempool().get(&txid).is_some());
    let mined = service.mine(1, None).unwrap();
    assert_eq!(mined[0].confirmed, vec![txid]);
    let utxo = coin(&service.chain(), txid, 0);
    assert_eq!(utxo.1.value, Amount::from_int_btc(1));
    (service, wallet, utxo)
}

#[test]
fn a_valid_spend_is_mined_and_its_outputs_listed() {
    let dir = tempfile::tempdir().unwrap();
    let (service, wallet, utxo) = funded(dir.path());
    let other = Wallet::new(8);
    let spend = wallet.spend(
        std::slice::from_ref(&utxo),
        vec![
            pay(&other.script(), 40_000_000),
            pay(&wallet.script(), 59_990_000),
        ],
    );
    let mut chain = service.chain();
    let txid = chain.submit(spend.clone()).unwrap();
    assert_eq!(
        chain.mempool().get(&txid).unwrap().fee,
        Amount::from_sat(10_000)
    );
    // A child spending the unconfirmed change is taken too, and mined after its parent.
    let change = (OutPoint::new(txid, 1), spend.output[1].clone());
    let child = wallet.spend(&[change], vec![pay(&other.script(), 59_980_000)]);
    let child_id = chain.submit(child).unwrap();
    let height = chain.height();
    let mined = chain.mine(&ScriptBuf::new_op_return([0u8; 4])).unwrap();
    assert_eq!(mined.height, height + 1);
    assert_eq!(mined.confirmed, vec![txid, child_id]);
    assert!(chain.mempool().is_empty());
    let index = chain.index();
    assert_eq!(index.tx(&txid).unwrap().height, height + 1);
    let theirs = index.script(&other.script()).unwrap();
    assert_eq!(theirs.utxos.len(), 2);
    assert_eq!(theirs.stats.funded_txo_sum, 40_000_000 + 59_980_000);
    assert_eq!(index.spender(&utxo.0), Some((txid, 0)));
    assert!(index.coin(&utxo.0).is_none(), "spent");
    // The fees went to the coinbase.
    let block = index.block_at(height + 1).unwrap();
    let coinbase = &index.tx(&block.txids[0]).unwrap().tx;
    let subsidy = btc_regtest::block::subsidy(height + 1);
    assert_eq!(coinbase.output[0].value, subsidy + Amount::from_sat(20_000));
}

#[test]
fn the_mempool_refuses_what_bitcoin_core_would() {
    let dir = tempfile::tempdir().unwrap();
    let (service, wallet, utxo) = funded(dir.path());
    let other = Wallet::new(8);
    let to_other = |sats| vec![pay(&other.script(), sats)];
    let good = wallet.spend(std::slice::from_ref(&utxo), to_other(99_000_000));
    let mut chain = service.chain();

    // A flipped signature: the validation engine's script check fails.
    let refused = chain.submit(tampered(&good)).unwrap_err();
    assert!(
        matches!(refused, TxRejected::Script { input: 0, .. }),
        "{refused}"
    );
    assert!(refused
        .to_string()
        .starts_with("mandatory-script-verify-flag-failed"));
    // Signed by another key.
    let forged = other.spend(std::slice::from_ref(&utxo), to_other(99_000_000));
    assert!(matches!(
        chain.submit(forged),
        Err(TxRejected::Script { .. })
    ));
    // More out than in.
    let greedy = wallet.spend(std::slice::from_ref(&utxo), to_other(100_000_001));
    assert!(matches!(
        chain.submit(greedy),
        Err(TxRejected::InBelowOut { .. })
    ));
    // An output nobody created.
    let nowhere = (OutPoint::new(utxo.0.txid, 7), utxo.1.clone());
    let missing = wallet.spend(&[nowhere], to_other(1000));
    assert_eq!(
        chain.submit(missing),
        Err(TxRejected::MissingInput(OutPoint::new(utxo.0.txid, 7)))
    );
    // A lock time 100 blocks ahead.
    let mut late = good.clone();
    late.lock_time = absolute::LockTime::from_height(chain.height() + 100).unwrap();
    let late = {
        let mut tx = late;
        tx.input[0].witness = Witness::new();
        sign_p2wpkh(
            &wallet.secp,
            &wallet.key,
            &mut tx,
            std::slice::from_ref(&utxo.1),
        )
        .unwrap();
        tx
    };
    assert_eq!(chain.submit(late), Err(TxRejected::NonFinal));

    // The good one, then a double spend of the same output, then the same again.
    let txid = chain.submit(good.clone()).unwrap();
    let double = wallet.spend(std::slice::from_ref(&utxo), to_other(98_000_000));
    assert_eq!(
        chain.submit(double),
        Err(TxRejected::Conflict {
            outpoint: utxo.0,
            spender: txid
        })
    );
    assert_eq!(chain.submit(good.clone()), Err(TxRejected::InMempool));
    chain.mine(&wallet.script()).unwrap();
    assert_eq!(chain.submit(good), Err(TxRejected::Confirmed));

    // A coinbase one block old is not spendable yet.
    let tip = chain.index().tip().unwrap();
    let fresh = coin(&chain, tip.txids[0], 0);
    let early = wallet.spend(std::slice::from_ref(&fresh), to_other(1_000_000));
    assert_eq!(
        chain.submit(early),
        Err(TxRejected::ImmatureCoinbase(fresh.0))
    );
}

#[test]
fn a_block_with_an_invalid_transaction_never_becomes_the_tip() {
    let dir = tempfile::tempdir().unwrap();
    let (service, wallet, utxo) = funded(dir.path());
    let spend = wallet.spend(
        std::slice::from_ref(&utxo),
        vec![pay(&Wallet::new(9).script(), 99_000_000)],
    );
    let mut chain = service.chain();
    let height = chain.height();
    let tip = chain.index().tip().unwrap().hash;
    let burn = ScriptBuf::new_op_return([0u8; 4]);
    let refused = chain.generate_block(&burn, vec![tampered(&spend)]);
    assert!(
        matches!(refused, Err(ChainError::Rejected { .. })),
        "{refused:?}"
    );
    assert_eq!(chain.height(), height);
    assert_eq!(chain.index().tip().unwrap().hash, tip);
    // The same spend intact: the block is the tip.
    let hash = chain.generate_block(&burn, vec![spend.clone()]).unwrap();
    assert_eq!(chain.height(), height + 1);
    assert_eq!(chain.index().tip().unwrap().hash, hash);
    assert!(chain.index().tx(&spend.compute_txid()).is_some());
}

#[test]
fn mining_drops_a_transaction_the_block_rules_refuse_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (service, wallet, utxo) = funded(dir.path());
    let other = Wallet::new(8);
    // A second confirmed output of the wallet's, for a transaction that is valid.
    let second = service
        .pay(wallet.script(), Amount::from_int_btc(2))
        .unwrap();
    service.mine(1, None).unwrap();
    let mut chain = service.chain();
    let second = coin(&chain, second, 0);
    // A relative lock (BIP68) of 50 blocks on a two-block-old output: the mempool does not
    // check relative locks, the block rules do.
    let mut locked = wallet.spend(
        std::slice::from_ref(&utxo),
        vec![pay(&other.script(), 99_000_000)],
    );
    locked.input[0].sequence = Sequence::from_height(50);
    locked.input[0].witness = Witness::new();
    sign_p2wpkh(
        &wallet.secp,
        &wallet.key,
        &mut locked,
        std::slice::from_ref(&utxo.1),
    )
    .unwrap();
    let locked_id = chain.submit(locked).unwrap();
    let valid = wallet.spend(&[second], vec![pay(&other.script(), 199_000_000)]);
    let valid_id = chain.submit(valid).unwrap();
    let height = chain.height();
    let mined = chain.mine(&wallet.script()).unwrap();
    assert_eq!(mined.confirmed, vec![valid_id]);
    assert_eq!(mined.dropped.len(), 1);
    assert_eq!(mined.dropped[0].0, locked_id);
    assert!(chain.index().tx(&locked_id).is_none());
    assert!(chain.index().tx(&valid_id).is_some());
    assert!(chain.mempool().is_empty());
    assert_eq!(chain.height(), height + 1);
}

#[test]
fn a_restarted_chain_is_the_same_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (height, tip, utxo) = {
        let (service, _wallet, utxo) = funded(dir.path());
        let chain = service.chain();
        (chain.height(), chain.index().tip().unwrap().hash, utxo)
    };
    let chain = Chain::open(dir.path()).unwrap();
    assert_eq!(chain.height(), height);
    assert_eq!(chain.index().tip().unwrap().hash, tip);
    assert_eq!(chain.index().coin(&utxo.0).unwrap().output, utxo.1);
    let service = Service::new(chain);
    // Already prepared: no blocks added; mining goes on from the tip.
    service.prepare().unwrap();
    assert_eq!(service.chain().height(), height);
    service.mine(1, None).unwrap();
    assert_eq!(service.chain().height(), height + 1);
}
