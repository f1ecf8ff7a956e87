use super::*;
use crate::testing::{admit, id, ledger, public, secret, stored, ALICE, BOB, CONTRACT};
use crate::NEAR;
use near_primitives::transaction::{Action, Transaction, TransactionV0};
use near_primitives::types::Balance;

fn status(ledger: &Ledger, tx: &CryptoHash) -> TxStatus {
    ledger.tx_status(tx).expect("a known transaction")
}

#[test]
fn the_test_contract_writes_and_removes() {
    let mut l = ledger();
    let (tx, _) = admit(
        &mut l,
        ALICE,
        &[("put", b"k1"), ("put", b"k2"), ("del", b"k1")],
    );
    l.produce_block();
    assert_eq!(status(&l, &tx), TxStatus::Value(vec![]));
    assert_eq!(stored(&l, b"k1"), None);
    assert_eq!(stored(&l, b"k2"), Some(b"k2".to_vec()));
}

#[test]
fn a_failing_receipt_changes_neither_storage_nor_the_change_log() {
    let mut l = ledger();
    admit(&mut l, ALICE, &[("put", b"kept")]);
    l.produce_block();
    let contract = l.accounts[&id(CONTRACT)].clone();
    let (tx, _) = admit(
        &mut l,
        BOB,
        &[("put", b"a"), ("del", b"kept"), ("put_fail", b"b")],
    );
    l.produce_block();
    assert!(matches!(status(&l, &tx), TxStatus::Failed(_)));
    let after = &l.accounts[&id(CONTRACT)];
    assert_eq!(after.storage(), contract.storage());
    assert_eq!(after.storage_bytes(), contract.storage_bytes());
    assert_eq!(after.balance, contract.balance);
    assert_eq!(l.changes.block(l.height), Some(&[][..]));
    assert!(!l.dirty.storage.contains(&(id(CONTRACT), b"a".to_vec())));
    // A later receipt sees the committed state only.
    let (tx, _) = admit(&mut l, BOB, &[("put", b"c")]);
    l.produce_block();
    assert_eq!(status(&l, &tx), TxStatus::Value(vec![]));
    assert_eq!(stored(&l, b"a"), None);
    assert_eq!(stored(&l, b"kept"), Some(b"kept".to_vec()));
}

#[test]
fn a_blocks_change_log_lists_each_receipts_writes_and_removals_in_order() {
    let mut l = ledger();
    admit(&mut l, ALICE, &[("put", b"old")]);
    l.produce_block();
    let (_, first) = admit(&mut l, ALICE, &[("put", b"b"), ("put", b"a")]);
    let (_, second) = admit(
        &mut l,
        BOB,
        &[("del", b"old"), ("put", b"c"), ("del", b"a")],
    );
    l.produce_block();
    let change = |key: &[u8], value: Option<&[u8]>, cause| StateChange {
        account_id: id(CONTRACT),
        key: key.to_vec(),
        value: value.map(<[u8]>::to_vec),
        cause,
    };
    let expected = [
        // Within a receipt: one entry per key, its final value, in key order (as NEAR).
        change(b"a", Some(b"a"), first),
        change(b"b", Some(b"b"), first),
        change(b"a", None, second),
        change(b"c", Some(b"c"), second),
        change(b"old", None, second),
    ];
    assert_eq!(l.changes.block(l.height), Some(&expected[..]));
    assert_eq!(l.history.executed_at(l.height), &[first, second]);
    let account = &l.accounts[&id(CONTRACT)];
    let recount: u64 = account
        .storage()
        .iter()
        .map(|(k, v)| (k.len() + v.len()) as u64 + 40)
        .sum();
    assert_eq!(account.storage_bytes(), recount);
}

#[test]
fn the_change_log_is_pruned_after_its_window() {
    let mut l = ledger();
    admit(&mut l, ALICE, &[("put", b"k")]);
    l.produce_block();
    let written = l.height;
    assert_eq!(l.changes.block(written).map(<[_]>::len), Some(1));
    for _ in 0..crate::storage::CHANGES_WINDOW - 1 {
        l.produce_block();
    }
    assert_eq!(l.changes.block(written).map(<[_]>::len), Some(1));
    l.produce_block();
    assert_eq!(l.changes.block(written), None);
    assert!(l.dirty.pruned.contains(&written));
}

#[test]
fn a_yield_is_resumed_through_the_index_and_its_callback_runs_after() {
    let mut l = ledger();
    admit(&mut l, ALICE, &[("yield", b"")]);
    l.produce_block();
    let created = l.height;
    assert_eq!(l.pending.len(), 1);
    let data_id = CryptoHash(stored(&l, b"y").unwrap().try_into().unwrap());
    assert!(l.pending.is_open_yield(&data_id, &id(CONTRACT), l.height));
    assert!(!l.pending.is_open_yield(&data_id, &id(ALICE), l.height));
    l.produce_block();
    let (tx, _) = admit(&mut l, BOB, &[("resume", b"payload")]);
    l.produce_block();
    assert_eq!(status(&l, &tx), TxStatus::Value(vec![]));
    assert!(!l.pending.is_open_yield(&data_id, &id(CONTRACT), l.height));
    assert_eq!(
        stored(&l, b"cb"),
        None,
        "the callback runs in a later block"
    );
    l.produce_block();
    assert_eq!(stored(&l, b"cb"), Some(vec![1]));
    assert!(l.pending.is_empty());
    assert!(l.height < created + 200);
    // A second resume of the same yield is refused.
    let (tx, _) = admit(&mut l, BOB, &[("resume", b"again")]);
    l.produce_block();
    assert!(matches!(status(&l, &tx), TxStatus::Failed(_)));
}

#[test]
fn an_unresumed_yield_fails_exactly_200_blocks_after_it_was_created() {
    let mut l = ledger();
    admit(&mut l, ALICE, &[("yield", b"")]);
    l.produce_block();
    let created = l.height;
    while l.height < created + 199 {
        l.produce_block();
    }
    assert_eq!(stored(&l, b"cb"), None);
    assert_eq!(l.pending.len(), 1);
    let data_id = CryptoHash(stored(&l, b"y").unwrap().try_into().unwrap());
    // Still open in the last block of its lifetime...
    assert!(l.pending.is_open_yield(&data_id, &id(CONTRACT), l.height));
    let (tx, _) = admit(&mut l, BOB, &[("resume", b"late")]);
    // ... but a resume sent now runs in block created + 200, when it has timed out.
    l.produce_block();
    assert_eq!(l.height, created + 200);
    assert!(matches!(status(&l, &tx), TxStatus::Failed(_)));
    assert_eq!(
        stored(&l, b"cb"),
        Some(vec![2]),
        "the callback ran with a failure"
    );
    assert!(l.pending.is_empty());
}

/// A receipt built by hand: `deps` and a `put` of `key`.
fn receipt(l: &mut Ledger, n: u8, key: &[u8], deps: Vec<Dep>) -> Receipt {
    Receipt {
        id: CryptoHash([n; 32]),
        seq: l.pending.new_seq(),
        tx: CryptoHash::default(),
        predecessor: id(ALICE),
        signer: id(ALICE),
        signer_key: crate::testing::public(ALICE),
        receiver: id(CONTRACT),
        refund_to: id(ALICE),
        actions: vec![ActionSpec::FunctionCall {
            method: "put".into(),
            args: key.to_vec(),
            deposit: 0,
            gas: 10_000_000_000_000,
        }],
        deps,
    }
}

#[test]
fn a_receipt_waiting_for_a_forwarded_result_runs_after_the_end_of_the_chain() {
    let mut l = ledger();
    // `x` ran and forwarded its value to `y`, which has not run; `z` waits for `x`.
    let x = CryptoHash([1; 32]);
    l.history.add_executed(Executed {
        id: x,
        executor: id(CONTRACT),
        block_height: 1,
        index: 0,
        logs: vec![],
        new_receipts: vec![],
        gas_burnt: 0,
        result: ReceiptResult::Forward(CryptoHash([2; 32])),
    });
    let z = receipt(&mut l, 3, b"z", vec![Dep::Receipt(x)]);
    l.pending.push(z);
    let y = receipt(&mut l, 2, b"y", vec![]);
    l.pending.push(y);
    l.produce_block();
    assert_eq!(stored(&l, b"y"), Some(b"y".to_vec()));
    assert_eq!(stored(&l, b"z"), None);
    l.produce_block();
    assert_eq!(stored(&l, b"z"), Some(b"z".to_vec()));
    assert!(l.pending.is_empty());
}

#[test]
fn ready_receipts_run_in_creation_order() {
    let mut l = ledger();
    let late = receipt(&mut l, 9, b"k", vec![]);
    let early = receipt(&mut l, 8, b"k", vec![]);
    // Pushed in the other order; `late` was created first.
    l.pending.push(early.clone());
    l.pending.push(late.clone());
    l.produce_block();
    assert_eq!(l.history.executed_at(l.height), &[late.id, early.id]);
}

/// A transfer of `deposit` from `signer` (with `key`, next `nonce`) to `to`.
fn transfer(
    signer: &str,
    key: &near_crypto::SecretKey,
    nonce: u64,
    to: &str,
    deposit: u128,
) -> SignedTransaction {
    let tx = Transaction::V0(TransactionV0 {
        signer_id: id(signer),
        public_key: key.public_key(),
        nonce,
        receiver_id: id(to),
        block_hash: CryptoHash::default(),
        actions: vec![Action::Transfer(
            near_primitives::transaction::TransferAction {
                deposit: Balance::from_yoctonear(deposit),
            },
        )],
    });
    let signature = key.sign(tx.get_hash_and_size().0.as_ref());
    SignedTransaction::new(signature, tx)
}

#[test]
fn a_transfer_to_an_implicit_account_creates_it_with_its_key() {
    let mut l = ledger();
    let key = near_crypto::SecretKey::from_seed(near_crypto::KeyType::ED25519, "implicit");
    let near_crypto::PublicKey::ED25519(pk) = key.public_key() else {
        unreachable!()
    };
    let implicit = hex::encode(pk.0);
    let alice_nonce = l.accounts[&id(ALICE)].keys[&public(ALICE)].nonce + 1;
    l.admit(transfer(
        ALICE,
        &secret(ALICE),
        alice_nonce,
        &implicit,
        5 * NEAR,
    ))
    .unwrap();
    l.produce_block();
    let created = &l.accounts[&id(&implicit)];
    assert_eq!(created.balance, 5 * NEAR);
    let nonce = created.keys[&key.public_key()].nonce;
    assert_eq!(nonce, (l.height - 1) * 1_000_000);
    // Its key signs for it: a transfer back is admitted and runs.
    let back = l
        .admit(transfer(&implicit, &key, nonce + 1, BOB, NEAR))
        .unwrap();
    l.produce_block();
    let fees = crate::testing::burnt(&l, &back);
    assert!(fees > 0);
    assert_eq!(l.accounts[&id(&implicit)].balance, 4 * NEAR - fees);
    // A named account that does not exist is not created by a transfer.
    l.admit(transfer(
        ALICE,
        &secret(ALICE),
        alice_nonce + 1,
        "nobody.test",
        NEAR,
    ))
    .unwrap();
    l.produce_block();
    assert!(!l.accounts.contains_key(&id("nobody.test")));
}
