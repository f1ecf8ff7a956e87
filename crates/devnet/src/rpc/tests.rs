use super::*;
use crate::testing::{admit, call, genesis, id, ALICE, BOB, CONTRACT};
use near_jsonrpc_primitives::types::changes::{
    RpcStateChangesInBlockByTypeResponse, RpcStateChangesInBlockResponse,
};
use near_primitives::views::BlockView;
use near_primitives::views::{StateChangeCauseView, StateChangeKindView, StateChangeValueView};
use std::time::{Duration, Instant};

fn open(interval: Duration) -> (tempfile::TempDir, Arc<Devnet>) {
    let dir = tempfile::tempdir().unwrap();
    let (devnet, _) = Devnet::open(dir.path(), genesis, interval).unwrap();
    (dir, devnet)
}

fn b64(bytes: &[u8]) -> String {
    near_primitives::serialize::to_base64(bytes)
}

fn error_name(e: &RpcError) -> Option<String> {
    let v = serde_json::to_value(e).unwrap();
    v.pointer("/cause/name")
        .or_else(|| v.pointer("/data/name"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

#[tokio::test]
async fn experimental_changes_answer_data_changes_in_nears_shape() {
    let (_dir, devnet) = open(Duration::from_millis(100));
    admit(&mut devnet.ledger(), ALICE, &[("put", b"r/1")]);
    devnet.produce_block().unwrap();
    let (_, receipt) = admit(
        &mut devnet.ledger(),
        BOB,
        &[("put", b"r/2"), ("del", b"r/1"), ("put", b"other")],
    );
    devnet.produce_block().unwrap();
    let height = devnet.ledger().height;
    let params = serde_json::json!({
        "block_id": height,
        "changes_type": "data_changes",
        "account_ids": [CONTRACT, ALICE],
        "key_prefix_base64": b64(b"r/"),
    });
    let answer = dispatch(&devnet, "EXPERIMENTAL_changes", params.clone())
        .await
        .unwrap();
    let response: RpcStateChangesInBlockResponse = serde_json::from_value(answer).unwrap();
    assert_eq!(response.block_hash, devnet.ledger().block_hash(height));
    let changes: Vec<_> = response
        .changes
        .into_iter()
        .map(|c| {
            let StateChangeCauseView::ReceiptProcessing { receipt_hash } = c.cause else {
                panic!("cause {:?}", c.cause);
            };
            assert_eq!(receipt_hash, receipt);
            match c.value {
                StateChangeValueView::DataUpdate {
                    account_id,
                    key,
                    value,
                } => (account_id, key.to_vec(), Some(value.to_vec())),
                StateChangeValueView::DataDeletion { account_id, key } => {
                    (account_id, key.to_vec(), None)
                }
                other => panic!("{other:?}"),
            }
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            (id(CONTRACT), b"r/1".to_vec(), None),
            (id(CONTRACT), b"r/2".to_vec(), Some(b"r/2".to_vec())),
        ]
    );
    // By finality: the head; another account: nothing.
    let mut by_finality = params.clone();
    by_finality.as_object_mut().unwrap().remove("block_id");
    by_finality["finality"] = "final".into();
    by_finality["account_ids"] = serde_json::json!([BOB]);
    let answer = dispatch(&devnet, "EXPERIMENTAL_changes", by_finality)
        .await
        .unwrap();
    let response: RpcStateChangesInBlockResponse = serde_json::from_value(answer).unwrap();
    assert_eq!(response.block_hash, devnet.ledger().block_hash(height));
    assert!(response.changes.is_empty());
    // Which accounts' data changed.
    let answer = dispatch(
        &devnet,
        "EXPERIMENTAL_changes_in_block",
        serde_json::json!({ "block_id": height }),
    )
    .await
    .unwrap();
    let response: RpcStateChangesInBlockByTypeResponse = serde_json::from_value(answer).unwrap();
    assert_eq!(
        response.changes,
        vec![StateChangeKindView::DataTouched {
            account_id: id(CONTRACT)
        }]
    );
    // An unknown height.
    let mut unknown = params;
    unknown["block_id"] = (height + 5).into();
    let e = dispatch(&devnet, "EXPERIMENTAL_changes", unknown)
        .await
        .unwrap_err();
    assert_eq!(error_name(&e).as_deref(), Some("UNKNOWN_BLOCK"), "{e:?}");
}

#[tokio::test]
async fn other_changes_types_get_a_clear_error() {
    let (_dir, devnet) = open(Duration::from_millis(100));
    let params = serde_json::json!({
        "finality": "final",
        "changes_type": "account_changes",
        "account_ids": [CONTRACT],
    });
    let e = dispatch(&devnet, "EXPERIMENTAL_changes", params)
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("only data_changes"), "{e:?}");
    let malformed = serde_json::json!({"finality": "final", "changes_type": "data_changes"});
    assert!(dispatch(&devnet, "EXPERIMENTAL_changes", malformed)
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_for_the_next_block_waits_for_it() {
    let interval = Duration::from_millis(200);
    let (_dir, devnet) = open(interval);
    let next = devnet.ledger().height + 1;
    let asked = Instant::now();
    let waiting = tokio::spawn({
        let devnet = devnet.clone();
        async move {
            let block = dispatch(&devnet, "block", serde_json::json!({ "block_id": next })).await;
            (block, asked.elapsed())
        }
    });
    let changes = tokio::spawn({
        let devnet = devnet.clone();
        async move {
            let params = serde_json::json!({
                "block_id": next,
                "changes_type": "data_changes",
                "account_ids": [CONTRACT],
                "key_prefix_base64": "",
            });
            dispatch(&devnet, "EXPERIMENTAL_changes", params).await
        }
    });
    tokio::time::sleep(interval / 4).await;
    assert!(!waiting.is_finished());
    devnet.produce_block().unwrap();
    let (block, elapsed) = waiting.await.unwrap();
    let block: BlockView = serde_json::from_value(block.unwrap()).unwrap();
    assert_eq!(block.header.height, next);
    assert!(
        elapsed < interval,
        "answered when the block came: {elapsed:?}"
    );
    let changes: RpcStateChangesInBlockResponse =
        serde_json::from_value(changes.await.unwrap().unwrap()).unwrap();
    assert_eq!(changes.block_hash, block.header.hash);
}

#[tokio::test]
async fn the_next_block_not_coming_is_an_unknown_block_and_later_ones_are_at_once() {
    let interval = Duration::from_millis(50);
    let (_dir, devnet) = open(interval);
    let head = devnet.ledger().height;
    let asked = Instant::now();
    let e = dispatch(
        &devnet,
        "block",
        serde_json::json!({ "block_id": head + 1 }),
    )
    .await
    .unwrap_err();
    let waited = asked.elapsed();
    assert_eq!(error_name(&e).as_deref(), Some("UNKNOWN_BLOCK"), "{e:?}");
    assert!(waited >= interval * LONG_POLL_BLOCKS, "{waited:?}");
    let asked = Instant::now();
    let e = dispatch(
        &devnet,
        "chunk",
        serde_json::json!({ "block_id": head + 2 }),
    )
    .await
    .unwrap_err();
    assert_eq!(error_name(&e).as_deref(), Some("UNKNOWN_BLOCK"), "{e:?}");
    assert!(asked.elapsed() < interval, "{:?}", asked.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_awaited_transaction_is_answered_at_the_block_that_finishes_it() {
    // Blocks are far apart: the old half-interval sleep would answer seconds late.
    let interval = Duration::from_secs(10);
    let (_dir, devnet) = open(interval);
    let tx = call(&devnet.ledger(), ALICE, &[("put", b"k")]);
    let params = serde_json::json!({
        "signed_tx_base64": b64(&borsh::to_vec(&tx).unwrap()),
        "wait_until": "FINAL",
    });
    let sent = tokio::spawn({
        let devnet = devnet.clone();
        async move { dispatch(&devnet, "send_tx", params).await }
    });
    while devnet.ledger().history.txs_at(2).is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    devnet.produce_block().unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(2), sent)
        .await
        .expect("answered at the block")
        .unwrap()
        .unwrap();
    assert_eq!(answer["final_execution_status"], "FINAL");
    assert_eq!(answer["status"]["SuccessValue"], "");
}

#[test]
fn view_state_lists_a_prefix_in_pages_and_refuses_what_is_too_large() {
    let storage: std::collections::BTreeMap<Vec<u8>, Vec<u8>> = [
        (b"STATE".to_vec(), vec![1; 10]),
        (b"r/1".to_vec(), vec![2]),
        (b"r/2".to_vec(), vec![3]),
        (b"r/3".to_vec(), vec![4]),
        (b"s".to_vec(), vec![5]),
    ]
    .into_iter()
    .collect();
    let keys =
        |r: &ViewStateResult| -> Vec<Vec<u8>> { r.values.iter().map(|i| i.key.to_vec()).collect() };
    let all = view_state(&storage, b"r/", None, None).unwrap();
    assert_eq!(
        keys(&all),
        [b"r/1".to_vec(), b"r/2".to_vec(), b"r/3".to_vec()]
    );
    assert_eq!(all.last_key, None);
    let two = std::num::NonZeroU32::new(2);
    let first = view_state(&storage, b"r/", None, two).unwrap();
    assert_eq!(keys(&first), [b"r/1".to_vec(), b"r/2".to_vec()]);
    let after = first.last_key.clone().unwrap();
    let rest = view_state(&storage, b"r/", Some(&after), two).unwrap();
    assert_eq!(keys(&rest), [b"r/3".to_vec()]);
    assert_eq!(rest.last_key, None);
    assert_eq!(
        keys(&view_state(&storage, b"STATE", None, None).unwrap()),
        [b"STATE".to_vec()]
    );
    let big: std::collections::BTreeMap<Vec<u8>, Vec<u8>> =
        [(b"k".to_vec(), vec![0; VIEW_STATE_LIMIT + 1])]
            .into_iter()
            .collect();
    assert!(view_state(&big, b"", None, None).is_none());
    assert_eq!(view_state(&big, b"", None, two).unwrap().values.len(), 1);
    // As nearcore: over the limit the account cannot be listed unpaged under any prefix, even
    // one whose own records are small; paged, it can.
    let mut crowded = storage.clone();
    crowded.insert(b"r/big".to_vec(), vec![0; VIEW_STATE_LIMIT]);
    assert!(view_state(&crowded, b"STATE", None, None).is_none());
    let one = std::num::NonZeroU32::new(1);
    assert_eq!(
        keys(&view_state(&crowded, b"STATE", None, one).unwrap()),
        [b"STATE".to_vec()]
    );
}

#[test]
fn view_state_answers_in_nears_shape() {
    let (_dir, devnet) = open(Duration::from_millis(100));
    admit(
        &mut devnet.ledger(),
        ALICE,
        &[("put", b"r/1"), ("put", b"other")],
    );
    devnet.produce_block().unwrap();
    let params = serde_json::json!({"request_type": "view_state", "finality": "final",
        "account_id": CONTRACT, "prefix_base64": b64(b"r/")});
    let answer = query(&devnet.ledger(), params).unwrap();
    let values = answer["values"].as_array().unwrap();
    assert_eq!(values.len(), 1, "{answer}");
    assert_eq!(values[0]["key"], b64(b"r/1"));
    let params = serde_json::json!({"request_type": "view_state", "finality": "final",
        "account_id": "nobody.test", "prefix_base64": ""});
    let err = query(&devnet.ledger(), params).unwrap_err();
    assert_eq!(
        error_name(&err).as_deref(),
        Some("UNKNOWN_ACCOUNT"),
        "{err:?}"
    );
}

#[test]
fn access_keys_are_listed_in_trie_order_and_paged_past_any_handle() {
    use near_crypto::{KeyType, SecretKey};
    use near_primitives::account::AccessKey;
    let mut account = crate::storage::Account::default();
    let mut handles = vec![];
    for seed in ["a", "b", "c", "d"] {
        let key = SecretKey::from_seed(KeyType::ED25519, seed).public_key();
        handles.push(PublicKeyHandle::from(&key));
        account.keys.insert(key, AccessKey::full_access());
    }
    handles.sort();
    let listed = |l: &AccessKeyList| -> Vec<PublicKeyHandle> {
        l.keys.iter().map(|k| k.public_key.clone()).collect()
    };
    let two = std::num::NonZeroU32::new(2);
    let first = access_key_list(&account, None, two);
    assert_eq!(listed(&first), handles[..2]);
    assert_eq!(first.last_key.as_ref(), Some(&handles[1]));
    let rest = access_key_list(&account, first.last_key.clone(), two);
    assert_eq!(listed(&rest), handles[2..]);
    assert_eq!(rest.last_key, None, "nothing after the last page");
    // A handle the account does not hold: the keys that sort after it, as nearcore seeks.
    let stranger = (0..)
        .map(|i| {
            let key = SecretKey::from_seed(KeyType::ED25519, &format!("stranger{i}"));
            PublicKeyHandle::from(&key.public_key())
        })
        .find(|h| *h > handles[0] && *h < handles[3])
        .unwrap();
    let after: Vec<_> = handles.iter().filter(|h| **h > stranger).cloned().collect();
    assert!(
        !after.is_empty() && after.len() < handles.len(),
        "a handle among the keys"
    );
    assert_eq!(
        listed(&access_key_list(&account, Some(stranger), None)),
        after
    );
}

#[tokio::test]
async fn the_protocol_config_is_the_runtime_config_the_chain_runs() {
    let (_dir, devnet) = open(Duration::from_millis(100));
    let answer = dispatch(
        &devnet,
        "EXPERIMENTAL_protocol_config",
        serde_json::json!({"finality": "final"}),
    )
    .await
    .unwrap();
    // near-api-js reads the storage cost from it for every balance.
    let storage = devnet
        .ledger()
        .vm
        .runtime_config()
        .storage_amount_per_byte();
    assert_eq!(
        answer["runtime_config"]["storage_amount_per_byte"],
        storage.as_yoctonear().to_string()
    );
    assert_eq!(
        storage.as_yoctonear(),
        10u128.pow(19),
        "NEAR's 1 NEAR per 100 kB"
    );
    let config: near_jsonrpc_primitives::types::config::RpcProtocolConfigResponse =
        serde_json::from_value(answer).unwrap();
    let view = config.config_view;
    assert_eq!(view.chain_id, crate::CHAIN_ID);
    assert_eq!(
        view.protocol_version,
        near_primitives::version::PROTOCOL_VERSION
    );
    assert_eq!(view.min_gas_price.as_yoctonear(), GAS_PRICE);
    assert_eq!(view.max_gas_price.as_yoctonear(), GAS_PRICE);
    assert_eq!(view.shard_layout.num_shards(), 1);
    // By height: one it has, and one it has not.
    let at = |h: u64| {
        dispatch(
            &devnet,
            "EXPERIMENTAL_protocol_config",
            serde_json::json!({"block_id": h}),
        )
    };
    assert!(at(1).await.is_ok());
    let e = at(99).await.unwrap_err();
    assert_eq!(error_name(&e).as_deref(), Some("UNKNOWN_BLOCK"));
}

#[tokio::test]
async fn block_chunk_and_gas_price_take_nearcores_positional_ids() {
    let (_dir, devnet) = open(Duration::from_secs(10));
    devnet.produce_block().unwrap();
    devnet.produce_block().unwrap();
    let block = dispatch(&devnet, "block", serde_json::json!([1]))
        .await
        .unwrap();
    assert_eq!(block["header"]["height"], 1);
    let hash = block["header"]["hash"].clone();
    let by_hash = dispatch(&devnet, "block", serde_json::json!([hash]))
        .await
        .unwrap();
    assert_eq!(by_hash["header"]["height"], 1);
    // near-api-js's viewChunk sends `[chunk hash]`.
    let chunk_hash = block["chunks"][0]["chunk_hash"].clone();
    let chunk = dispatch(&devnet, "chunk", serde_json::json!([chunk_hash]))
        .await
        .unwrap();
    assert_eq!(chunk["header"]["chunk_hash"], chunk_hash);
    assert_eq!(chunk["header"]["height_created"], 1);
    // near-api-js's viewGasPrice sends `[null]` (the head) or `[id]`.
    for params in [
        serde_json::json!([null]),
        serde_json::json!([2]),
        serde_json::json!({"block_id": null}),
    ] {
        let price = dispatch(&devnet, "gas_price", params).await.unwrap();
        assert_eq!(price["gas_price"], GAS_PRICE.to_string());
    }
    let e = dispatch(&devnet, "gas_price", serde_json::json!([99]))
        .await
        .unwrap_err();
    assert_eq!(error_name(&e).as_deref(), Some("UNKNOWN_BLOCK"));
}

/// A deleted account's balance goes to the beneficiary in a refund receipt: `EXECUTED`
/// answers before it has run, `FINAL` after, as nearcore's statuses do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn final_waits_for_the_deleted_accounts_balance_to_reach_the_beneficiary() {
    use crate::testing::{secret, signed};
    let (_dir, devnet) = open(Duration::from_secs(10));
    let balance = |account: &str| devnet.ledger().accounts[&id(account)].balance;
    let alice_before = balance(ALICE);
    let tx = signed(
        &devnet.ledger(),
        BOB,
        &secret(BOB),
        BOB,
        vec![near_primitives::transaction::Action::DeleteAccount(
            near_primitives::transaction::DeleteAccountAction {
                beneficiary_id: id(ALICE),
            },
        )],
    );
    let hash = tx.get_hash();
    let send = serde_json::json!({
        "signed_tx_base64": b64(&borsh::to_vec(&tx).unwrap()),
        "wait_until": "NONE",
    });
    let sent = dispatch(&devnet, "send_tx", send).await.unwrap();
    assert_eq!(sent["final_execution_status"], "NONE");
    assert!(
        sent.get("status").is_none(),
        "no outcome before it runs: {sent}"
    );
    let bob_before = balance(BOB);
    let status = |until: &str| {
        let devnet = devnet.clone();
        let params =
            serde_json::json!({"tx_hash": hash, "sender_account_id": BOB, "wait_until": until});
        tokio::spawn(async move { dispatch(&devnet, "tx", params).await.unwrap() })
    };

    // The deletion runs; the refund to Alice is a receipt of the next block.
    devnet.produce_block().unwrap();
    let executed = status("EXECUTED_OPTIMISTIC").await.unwrap();
    assert_eq!(executed["final_execution_status"], "EXECUTED");
    assert_eq!(executed["status"]["SuccessValue"], "");
    assert_eq!(balance(ALICE), alice_before);
    let final_ = status("FINAL");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !final_.is_finished(),
        "FINAL answered before the refund ran"
    );

    devnet.produce_block().unwrap();
    let final_ = tokio::time::timeout(Duration::from_secs(2), final_)
        .await
        .expect("answered at the block")
        .unwrap();
    assert_eq!(final_["final_execution_status"], "FINAL");
    assert_eq!(final_["receipts_outcome"].as_array().unwrap().len(), 2);
    // Alice got Bob's balance as the deletion left it: its fees were paid at admission.
    assert_eq!(balance(ALICE), alice_before + bob_before);
    assert!(!devnet.ledger().accounts.contains_key(&id(BOB)));
}
