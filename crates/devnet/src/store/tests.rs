use super::*;
use crate::testing::{admit, genesis, id, ledger, stored, ALICE, BOB, CONTRACT, IDLE};
use crate::Devnet;
use std::time::Duration;

/// An account: id, balance, keys with nonces, storage bytes, storage.
type AccountSnapshot = (
    AccountId,
    u128,
    Vec<(PublicKey, near_primitives::account::AccessKey)>,
    u64,
    Vec<(Vec<u8>, Vec<u8>)>,
);

/// Everything a reopened chain must have kept.
#[derive(Debug, PartialEq)]
struct Snapshot {
    height: u64,
    accounts: Vec<AccountSnapshot>,
    pending: Vec<Receipt>,
    changes: Vec<(u64, Vec<StateChange>)>,
    txs: Vec<(u64, Vec<CryptoHash>)>,
    executed: Vec<(u64, Vec<Executed>)>,
}

fn snapshot(l: &Ledger) -> Snapshot {
    let heights = 1..=l.height;
    Snapshot {
        height: l.height,
        accounts: l
            .accounts
            .iter()
            .map(|(id, a)| {
                (
                    id.clone(),
                    a.balance,
                    a.keys.iter().map(|(k, n)| (k.clone(), n.clone())).collect(),
                    a.storage_bytes(),
                    a.storage().clone().into_iter().collect(),
                )
            })
            .collect(),
        pending: l.pending.iter().cloned().collect(),
        changes: heights
            .clone()
            .map(|h| (h, l.changes.block(h).unwrap_or_default().to_vec()))
            .collect(),
        txs: heights
            .clone()
            .map(|h| (h, l.history.txs_at(h).to_vec()))
            .collect(),
        executed: heights
            .map(|h| {
                let ids = l.history.executed_at(h);
                (
                    h,
                    ids.iter()
                        .map(|id| l.history.executed(id).unwrap().clone())
                        .collect(),
                )
            })
            .collect(),
    }
}

#[test]
fn a_saved_chain_reopens_with_the_same_state_receipts_changes_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let interval = Duration::from_millis(100);
    let before = {
        let (devnet, created) = Devnet::open(dir.path(), genesis, interval).unwrap();
        assert!(created);
        {
            let mut l = devnet.ledger();
            admit(
                &mut l,
                ALICE,
                &[("put", b"a"), ("put", b"b"), ("yield", b"")],
            );
            admit(&mut l, BOB, &[("put", b"c")]);
        }
        devnet.produce_block().unwrap();
        {
            let mut l = devnet.ledger();
            admit(&mut l, BOB, &[("del", b"a")]);
            // Admitted, not yet in a block: saved with the next one.
            admit(&mut l, ALICE, &[("put", b"d")]);
        }
        devnet.produce_block().unwrap();
        devnet.produce_block().unwrap();
        admit(&mut devnet.ledger(), BOB, &[("put", b"e")]);
        devnet.produce_block().unwrap();
        let l = devnet.ledger();
        assert_eq!(l.pending.len(), 1, "the yield's callback waits");
        snapshot(&l)
    };
    let (devnet, created) = Devnet::open(dir.path(), genesis, interval).unwrap();
    assert!(!created);
    let mut l = devnet.ledger();
    assert_eq!(snapshot(&l), before);
    // The indexes were rebuilt: the yield can still be resumed.
    admit(&mut l, BOB, &[("resume", b"x")]);
    l.produce_block();
    l.produce_block();
    assert_eq!(stored(&l, b"cb"), Some(vec![1]));
}

#[test]
fn a_block_writes_only_the_records_it_changed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut l = ledger();
    let stats = store.save(&mut l).unwrap();
    assert_eq!(stats.written["accounts"], 5);
    assert_eq!(stats.written["code"], 1);
    admit(&mut l, ALICE, &[("put", b"k"), ("put", b"l")]);
    l.produce_block();
    let stats = store.save(&mut l).unwrap();
    let expected: BTreeMap<&str, usize> = [
        ("meta", 1),
        // Alice (nonce, gas) and the contract (storage); not Bob or the idle account.
        ("accounts", 2),
        ("storage", 2),
        ("txs", 1),
        ("executed", 1),
        ("changes", 1),
    ]
    .into();
    assert_eq!(stats.written, expected);
    assert!(stats.removed.is_empty());
    // Nothing happened: only the height.
    l.produce_block();
    let stats = store.save(&mut l).unwrap();
    assert_eq!(stats.written, [("meta", 1)].into());
    // A removal deletes one record; the yield's waiting receipt is written, then deleted.
    admit(&mut l, BOB, &[("del", b"k"), ("yield", b"")]);
    l.produce_block();
    let stats = store.save(&mut l).unwrap();
    assert_eq!(stats.written["storage"], 1);
    assert_eq!(stats.written["receipts"], 1);
    assert_eq!(stats.removed["storage"], 1);
    assert!(!l.dirty.accounts.contains(&id(IDLE)));
    admit(&mut l, ALICE, &[("resume", b"p")]);
    l.produce_block();
    assert_eq!(
        store.save(&mut l).unwrap().written["receipts"],
        1,
        "resumed"
    );
    l.produce_block();
    assert_eq!(store.save(&mut l).unwrap().removed["receipts"], 1, "ran");
    let loaded = store.load().unwrap().unwrap();
    assert_eq!(snapshot(&loaded), snapshot(&l));
    assert_eq!(stored(&loaded, b"l"), Some(b"l".to_vec()));
    assert_eq!(stored(&loaded, b"k"), None);
    assert_eq!(
        loaded.accounts[&id(CONTRACT)].storage().len(),
        3,
        "l, y, cb"
    );
}

#[test]
fn pruned_blocks_changes_are_deleted_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut l = ledger();
    admit(&mut l, ALICE, &[("put", b"k")]);
    l.produce_block();
    let written = l.height;
    store.save(&mut l).unwrap();
    for _ in 0..crate::storage::CHANGES_WINDOW {
        l.produce_block();
    }
    let stats = store.save(&mut l).unwrap();
    assert_eq!(stats.removed["changes"], 1);
    let loaded = store.load().unwrap().unwrap();
    assert_eq!(loaded.changes.block(written), None);
    assert_eq!(loaded.changes.block(written + 1), Some(&[][..]));
    assert_eq!(loaded.changes.first(), written + 1);
}

#[test]
fn a_data_dir_of_the_old_layout_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::create(dir.path().join("chain.redb")).unwrap();
        let w = db.begin_write().unwrap();
        w.open_table(META)
            .unwrap()
            .insert("state", [1u8, 2, 3].as_slice())
            .unwrap();
        w.commit().unwrap();
    }
    let error = match Store::open(dir.path()) {
        Err(e) => e,
        Ok(_) => panic!("the old layout was opened"),
    };
    assert!(matches!(&error, StoreError::Layout { dir: d, .. } if d == dir.path()));
    let message = error.to_string();
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    assert!(message.contains("remove that directory"), "{message}");
    assert!(message.contains("--dir"), "{message}");
    assert!(
        !message.contains("corrupt") && !message.contains("decode"),
        "{message}"
    );
    // Through the devnet, too, without touching the genesis.
    let opened = Devnet::open(
        dir.path(),
        || panic!("no genesis"),
        Duration::from_millis(10),
    );
    assert!(matches!(
        opened,
        Err(crate::DevnetError::Store(StoreError::Layout { .. }))
    ));
}

#[test]
fn a_fresh_store_records_its_layout() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    let store = Store::open(dir.path()).unwrap();
    assert!(store.load().unwrap().is_none());
    let r = store.db.begin_read().unwrap();
    let meta = r.open_table(META).unwrap();
    assert_eq!(
        meta.get(LAYOUT_KEY).unwrap().unwrap().value(),
        LAYOUT.to_le_bytes()
    );
}

#[test]
fn created_accounts_keys_with_permissions_and_deletions_survive_a_restart() {
    use crate::testing::{run, secret, signed, wasm, SUB, SUB_FC};
    use near_primitives::account::AccessKeyPermission;
    use near_primitives::transaction::{
        Action, CreateAccountAction, DeleteAccountAction, FunctionCallAction, TransferAction,
    };
    let dir = tempfile::tempdir().unwrap();
    let interval = Duration::from_millis(100);
    let doomed = "doomed.alice.test";
    let call = |method: &str, args: Vec<u8>| {
        Action::FunctionCall(Box::new(FunctionCallAction {
            method_name: method.into(),
            args,
            gas: near_primitives::gas::Gas::from_teragas(100),
            deposit: near_primitives::types::Balance::ZERO,
        }))
    };
    let before = {
        let (devnet, _) = Devnet::open(dir.path(), genesis, interval).unwrap();
        {
            let mut l = devnet.ledger();
            // The contract creates SUB with its code, keys and a record.
            let tx = signed(
                &l,
                ALICE,
                &secret(ALICE),
                CONTRACT,
                vec![call("spawn", wasm())],
            );
            run(&mut l, tx).unwrap();
            // Alice creates an account with a record, then deletes it.
            let create = vec![
                Action::CreateAccount(CreateAccountAction {}),
                Action::Transfer(TransferAction {
                    deposit: near_primitives::types::Balance::from_yoctonear(crate::NEAR),
                }),
                Action::DeployContract(near_primitives::transaction::DeployContractAction {
                    code: wasm(),
                }),
                call("put", b"gone".to_vec()),
                Action::AddKey(Box::new(near_primitives::transaction::AddKeyAction {
                    public_key: crate::testing::public(doomed),
                    access_key: near_primitives::account::AccessKey::full_access(),
                })),
            ];
            let tx = signed(&l, ALICE, &secret(ALICE), doomed, create);
            run(&mut l, tx).unwrap();
        }
        devnet.produce_block().unwrap();
        {
            let mut l = devnet.ledger();
            assert!(l.accounts[&id(doomed)]
                .storage()
                .contains_key(b"gone".as_slice()));
            let delete = Action::DeleteAccount(DeleteAccountAction {
                beneficiary_id: id(BOB),
            });
            // Only the account deletes itself.
            let tx = signed(&l, doomed, &secret(doomed), doomed, vec![delete]);
            assert_eq!(
                run(&mut l, tx).unwrap(),
                crate::ledger::TxStatus::Value(vec![])
            );
            assert!(!l.accounts.contains_key(&id(doomed)));
        }
        devnet.produce_block().unwrap();
        let l = devnet.ledger();
        (snapshot(&l), l.accounts[&id(SUB)].code_hash)
    };
    let (devnet, created) = Devnet::open(dir.path(), genesis, interval).unwrap();
    assert!(!created);
    let l = devnet.ledger();
    assert_eq!((snapshot(&l), l.accounts[&id(SUB)].code_hash), before);
    assert!(matches!(
        l.accounts[&id(SUB)].keys[&crate::testing::public(SUB_FC)].permission,
        AccessKeyPermission::FunctionCall(_)
    ));
    assert!(!l.accounts.contains_key(&id(doomed)));
    // No record of the deleted account is left in the database.
    let r = devnet.store.db.begin_read().unwrap();
    assert!(r
        .open_table(ACCOUNTS)
        .unwrap()
        .get(doomed)
        .unwrap()
        .is_none());
    let prefix = [doomed.as_bytes(), &[0]].concat();
    let storage = r.open_table(STORAGE).unwrap();
    let left = storage
        .iter()
        .unwrap()
        .filter(|e| e.as_ref().unwrap().0.value().starts_with(&prefix))
        .count();
    assert_eq!(left, 0);
}

#[test]
fn a_data_dir_of_layout_2_is_refused_and_names_its_layout() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::create(dir.path().join("chain.redb")).unwrap();
        let w = db.begin_write().unwrap();
        w.open_table(META)
            .unwrap()
            .insert(LAYOUT_KEY, 2u32.to_le_bytes().as_slice())
            .unwrap();
        w.commit().unwrap();
    }
    let error = match Store::open(dir.path()) {
        Err(e) => e,
        Ok(_) => panic!("layout 2 was opened"),
    };
    let message = error.to_string();
    assert!(message.contains("data layout 2"), "{message}");
    assert!(message.contains("remove that directory"), "{message}");
}
