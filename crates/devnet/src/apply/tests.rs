//! Each action's success and its refusals, as nearcore has them: at admission
//! (`InvalidTxError`) or when the receipt runs (`ActionError` naming the failing action).

use near_primitives::account::{AccessKey, AccessKeyPermission, FunctionCallPermission};
use near_primitives::errors::{
    ActionError, ActionErrorKind, ActionsValidationError, InvalidAccessKeyError, InvalidTxError,
    TxExecutionError,
};
use near_primitives::hash::CryptoHash;
use near_primitives::transaction::{
    Action, AddKeyAction, CreateAccountAction, DeleteAccountAction, DeleteKeyAction,
    DeployContractAction, FunctionCallAction, StakeAction, TransferAction,
};
use near_primitives::types::{AccountId, Balance};

use crate::ledger::{Ledger, TxStatus, GAS_PRICE};
use crate::testing::{
    burnt, code_of_len, id, ledger, public, run, secret, signed, wasm, ALICE, BOB, CONTRACT,
    REGISTRAR, SUB, SUB_ALLOWANCE, SUB_BALANCE, SUB_FC, SUB_FULL,
};
use crate::NEAR;

const NEW: &str = "x.alice.test";
const CALL_TGAS: u64 = 100;

fn create() -> Action {
    Action::CreateAccount(CreateAccountAction {})
}

fn transfer(deposit: u128) -> Action {
    Action::Transfer(TransferAction {
        deposit: Balance::from_yoctonear(deposit),
    })
}

fn add_key(seed: &str, access_key: AccessKey) -> Action {
    Action::AddKey(Box::new(AddKeyAction {
        public_key: public(seed),
        access_key,
    }))
}

fn delete_key(seed: &str) -> Action {
    Action::DeleteKey(Box::new(DeleteKeyAction {
        public_key: public(seed),
    }))
}

fn deploy() -> Action {
    Action::DeployContract(DeployContractAction { code: wasm() })
}

fn call(method: &str, args: &[u8], deposit: u128) -> Action {
    Action::FunctionCall(Box::new(FunctionCallAction {
        method_name: method.into(),
        args: args.to_vec(),
        gas: near_primitives::gas::Gas::from_teragas(CALL_TGAS),
        deposit: Balance::from_yoctonear(deposit),
    }))
}

fn delete_account(beneficiary: &str) -> Action {
    Action::DeleteAccount(DeleteAccountAction {
        beneficiary_id: id(beneficiary),
    })
}

/// A key for calls to `receiver`'s `methods` (any when empty).
fn function_call_key(receiver: &str, methods: &[&str], allowance: Option<u128>) -> AccessKey {
    AccessKey {
        nonce: 0,
        permission: AccessKeyPermission::FunctionCall(FunctionCallPermission {
            allowance: allowance.map(Balance::from_yoctonear),
            receiver_id: receiver.into(),
            method_names: methods.iter().map(|m| m.to_string()).collect(),
        }),
    }
}

/// `signer` sends `actions` to `receiver`, signed with its own key.
fn send(l: &mut Ledger, signer: &str, receiver: &str, actions: Vec<Action>) -> TxStatus {
    sent(l, signer, receiver, actions).0
}

/// As [`send`], with the tokens the transaction burnt (its fees and gas).
fn sent(l: &mut Ledger, signer: &str, receiver: &str, actions: Vec<Action>) -> (TxStatus, u128) {
    let tx = signed(l, signer, &secret(signer), receiver, actions);
    let hash = tx.get_hash();
    let status = run(l, tx).expect("admitted");
    (status, burnt(l, &hash))
}

fn action_error(status: TxStatus) -> ActionError {
    match status {
        TxStatus::Failed(TxExecutionError::ActionError(e)) => e,
        other => panic!("expected an action error, got {other:?}"),
    }
}

fn balance(l: &Ledger, account: &str) -> u128 {
    l.accounts[&id(account)].balance
}

/// Alice creates `x.alice.test` with 10 NEAR, a key of its own and the test contract.
fn create_sub_account(l: &mut Ledger) -> (TxStatus, u128) {
    let batch = vec![
        create(),
        transfer(10 * NEAR),
        add_key(NEW, AccessKey::full_access()),
        deploy(),
    ];
    sent(l, ALICE, NEW, batch)
}

#[test]
fn a_sub_account_is_created_funded_keyed_and_deployed_in_one_batch_then_called() {
    let mut l = ledger();
    let before = balance(&l, ALICE);
    let (status, burnt) = create_sub_account(&mut l);
    assert_eq!(status, TxStatus::Value(vec![]));
    let created = &l.accounts[&id(NEW)];
    assert_eq!(created.balance, 10 * NEAR);
    // The deposit and the fees: NEAR's send and execution fees of each action (the deploy's
    // by the byte), all burnt, none refunded.
    assert!(burnt > 0);
    assert_eq!(before - balance(&l, ALICE), 10 * NEAR + burnt);
    // The receipt ran no code: it burnt its actions' execution fees.
    let ran = (1..=l.height)
        .flat_map(|h| l.history.executed_at(h))
        .filter_map(|r| l.history.executed(r))
        .find(|e| e.executor == id(NEW))
        .expect("the receipt ran");
    assert!(ran.gas_burnt > 0);
    let code = crate::vm::Code::new(wasm());
    assert_eq!(created.code_hash, Some(code.hash()));
    assert!(l.codes.contains_key(&code.hash()));
    let key = &created.keys[&public(NEW)];
    assert_eq!(key.permission, AccessKeyPermission::FullAccess);
    assert!(
        key.nonce > 0
            && key
                .nonce
                .is_multiple_of(AccessKey::ACCESS_KEY_NONCE_RANGE_MULTIPLIER)
    );
    // 100 for the account, 82 for the key, the code.
    assert_eq!(
        created.storage_usage(wasm().len()),
        182 + wasm().len() as u64
    );
    // Its own key signs a call to its own contract.
    let tx = signed(&l, NEW, &secret(NEW), NEW, vec![call("put", b"k", 0)]);
    assert_eq!(run(&mut l, tx).unwrap(), TxStatus::Value(vec![]));
    assert_eq!(
        l.accounts[&id(NEW)].storage().get(b"k".as_slice()),
        Some(&b"k".to_vec())
    );
}

#[test]
fn a_sub_account_is_created_only_by_its_parent_and_only_once() {
    let mut l = ledger();
    let before = balance(&l, BOB);
    let (status, burnt) = sent(&mut l, BOB, NEW, vec![create(), transfer(NEAR)]);
    let e = action_error(status);
    assert_eq!(e.index, Some(0));
    assert!(
        matches!(&e.kind, ActionErrorKind::CreateAccountNotAllowed { account_id, predecessor_id }
            if account_id == &id(NEW) && predecessor_id == &id(BOB)),
        "{e:?}"
    );
    assert!(!l.accounts.contains_key(&id(NEW)));
    assert_eq!(balance(&l, BOB), before - burnt, "the deposit came back");
    assert_eq!(create_sub_account(&mut l).0, TxStatus::Value(vec![]));
    let alice = balance(&l, ALICE);
    let (status, burnt) = create_sub_account(&mut l);
    let e = action_error(status);
    assert!(
        matches!(e.kind, ActionErrorKind::AccountAlreadyExists { .. }),
        "{e:?}"
    );
    assert_eq!(l.accounts[&id(NEW)].balance, 10 * NEAR);
    assert_eq!(balance(&l, ALICE), alice - burnt, "the 10 NEAR came back");
}

#[test]
fn a_top_level_account_is_created_only_by_the_registrar() {
    let mut l = ledger();
    let e = action_error(send(&mut l, ALICE, "toplevel", vec![create()]));
    assert!(
        matches!(&e.kind, ActionErrorKind::CreateAccountOnlyByRegistrar { registrar_account_id, .. }
            if registrar_account_id == &id(REGISTRAR)),
        "{e:?}"
    );
    let batch = vec![create(), transfer(NEAR)];
    assert_eq!(
        send(&mut l, REGISTRAR, "toplevel", batch),
        TxStatus::Value(vec![])
    );
    assert_eq!(balance(&l, "toplevel"), NEAR);
}

#[test]
fn an_implicit_account_is_created_by_a_lone_transfer_only() {
    let mut l = ledger();
    let implicit = hex::encode(&borsh::to_vec(&public("implicit")).unwrap()[1..]);
    let alice = balance(&l, ALICE);
    let (status, burnt) = sent(&mut l, ALICE, &implicit, vec![create(), transfer(NEAR)]);
    let e = action_error(status);
    assert!(
        matches!(
            e.kind,
            ActionErrorKind::OnlyImplicitAccountCreationAllowed { .. }
        ),
        "{e:?}"
    );
    assert_eq!(balance(&l, ALICE), alice - burnt, "the deposit came back");
    let alice = balance(&l, ALICE);
    let batch = vec![transfer(NEAR), transfer(NEAR)];
    let (status, burnt) = sent(&mut l, ALICE, &implicit, batch);
    let e = action_error(status);
    assert!(
        matches!(e.kind, ActionErrorKind::AccountDoesNotExist { .. }),
        "{e:?}"
    );
    assert_eq!(balance(&l, ALICE), alice - burnt, "both deposits came back");
    assert_eq!(
        send(&mut l, ALICE, &implicit, vec![transfer(NEAR)]),
        TxStatus::Value(vec![])
    );
    assert_eq!(balance(&l, &implicit), NEAR);
}

#[test]
fn keys_are_added_and_deleted_by_their_account_only() {
    let mut l = ledger();
    let fc = function_call_key(CONTRACT, &["put"], Some(NEAR));
    assert_eq!(
        send(&mut l, ALICE, ALICE, vec![add_key("fc", fc.clone())]),
        TxStatus::Value(vec![])
    );
    let stored = &l.accounts[&id(ALICE)].keys[&public("fc")];
    assert_eq!(stored.permission, fc.permission);
    // Adding it again, deleting a key the account lacks, or touching another's keys fails.
    let e = action_error(send(&mut l, ALICE, ALICE, vec![add_key("fc", fc.clone())]));
    assert!(
        matches!(e.kind, ActionErrorKind::AddKeyAlreadyExists { .. }),
        "{e:?}"
    );
    let e = action_error(send(&mut l, ALICE, ALICE, vec![delete_key("missing")]));
    assert!(
        matches!(e.kind, ActionErrorKind::DeleteKeyDoesNotExist { .. }),
        "{e:?}"
    );
    let e = action_error(send(&mut l, BOB, ALICE, vec![delete_key("fc")]));
    assert!(
        matches!(&e.kind, ActionErrorKind::ActorNoPermission { actor_id, .. } if actor_id == &id(BOB)),
        "{e:?}"
    );
    assert_eq!(
        send(&mut l, ALICE, ALICE, vec![delete_key("fc")]),
        TxStatus::Value(vec![])
    );
    assert!(!l.accounts[&id(ALICE)].keys.contains_key(&public("fc")));
    // A deleted key signs nothing.
    let tx = signed(
        &l,
        ALICE,
        &secret("fc"),
        CONTRACT,
        vec![call("put", b"k", 0)],
    );
    assert!(matches!(
        l.admit(tx),
        Err(InvalidTxError::InvalidAccessKeyError(
            InvalidAccessKeyError::AccessKeyNotFound { .. }
        ))
    ));
}

#[test]
fn a_function_call_key_signs_one_call_without_deposit_to_its_receiver_and_methods() {
    let mut l = ledger();
    let allowance = 3 * u128::from(CALL_TGAS) * 1_000_000_000_000 * GAS_PRICE / 2;
    let fc = function_call_key(CONTRACT, &["put"], Some(allowance));
    send(&mut l, ALICE, ALICE, vec![add_key("fc", fc)]);
    let key = secret("fc");
    let refused = |l: &mut Ledger, receiver: &str, actions: Vec<Action>| {
        let before = l.accounts[&id(ALICE)].clone();
        let tx = signed(l, ALICE, &key, receiver, actions);
        let e = l.admit(tx).expect_err("refused");
        let after = &l.accounts[&id(ALICE)];
        assert_eq!((after.balance, &after.keys), (before.balance, &before.keys));
        match e {
            InvalidTxError::InvalidAccessKeyError(e) => e,
            other => panic!("{other:?}"),
        }
    };
    let e = refused(&mut l, BOB, vec![transfer(1)]);
    assert_eq!(e, InvalidAccessKeyError::RequiresFullAccess);
    // (Allowance is checked first, as nearcore does: this batch costs no more than a call.)
    let e = refused(&mut l, CONTRACT, vec![call("put", b"a", 0), transfer(0)]);
    assert_eq!(e, InvalidAccessKeyError::RequiresFullAccess);
    let e = refused(&mut l, CONTRACT, vec![call("put", b"a", 1)]);
    assert_eq!(e, InvalidAccessKeyError::DepositWithFunctionCall);
    let e = refused(&mut l, CONTRACT, vec![call("del", b"a", 0)]);
    assert_eq!(
        e,
        InvalidAccessKeyError::MethodNameMismatch {
            method_name: "del".into()
        }
    );
    let e = refused(&mut l, BOB, vec![call("put", b"a", 0)]);
    assert_eq!(
        e,
        InvalidAccessKeyError::ReceiverMismatch {
            tx_receiver: id(BOB),
            ak_receiver: CONTRACT.into()
        }
    );
    // Allowed: charged its prepaid gas, refunded what it did not burn.
    let tx = signed(&l, ALICE, &key, CONTRACT, vec![call("put", b"a", 0)]);
    let hash = l.admit(tx).unwrap();
    let allowance_of = |l: &Ledger| {
        let key = &l.accounts[&id(ALICE)].keys[&public("fc")];
        let AccessKeyPermission::FunctionCall(p) = &key.permission else {
            panic!("not a function-call key");
        };
        p.allowance.unwrap().as_yoctonear()
    };
    // Its prepaid gas and its fees (a few Tgas).
    let prepaid = u128::from(CALL_TGAS) * 1_000_000_000_000 * GAS_PRICE;
    let charged = allowance - allowance_of(&l);
    assert!(charged > prepaid && charged < prepaid + 10_000_000_000_000 * GAS_PRICE);
    // Until it has run, what is left does not cover a second call's prepaid gas.
    let e = refused(&mut l, CONTRACT, vec![call("put", b"b", 0)]);
    assert!(
        matches!(e, InvalidAccessKeyError::NotEnoughAllowance { .. }),
        "{e:?}"
    );
    l.produce_block();
    assert_eq!(l.tx_status(&hash), Some(TxStatus::Value(vec![])));
    assert_eq!(allowance_of(&l), allowance - burnt(&l, &hash));
}

#[test]
fn a_deployed_contract_is_called_and_only_the_account_deploys_to_itself() {
    let mut l = ledger();
    let e = action_error(send(&mut l, BOB, ALICE, vec![deploy()]));
    assert!(
        matches!(e.kind, ActionErrorKind::ActorNoPermission { .. }),
        "{e:?}"
    );
    assert_eq!(l.accounts[&id(ALICE)].code_hash, None);
    let batch = vec![deploy(), call("put", b"a", 0)];
    assert_eq!(send(&mut l, ALICE, ALICE, batch), TxStatus::Value(vec![]));
    assert_eq!(
        l.accounts[&id(ALICE)].storage().get(b"a".as_slice()),
        Some(&b"a".to_vec())
    );
}

#[test]
fn a_deleted_account_sends_its_balance_to_the_beneficiary_and_leaves_nothing() {
    let mut l = ledger();
    create_sub_account(&mut l);
    let tx = signed(&l, NEW, &secret(NEW), NEW, vec![call("put", b"k", 0)]);
    run(&mut l, tx).unwrap();
    let left = balance(&l, NEW);
    let bob = balance(&l, BOB);
    // The account pays for its own deletion; the beneficiary gets the rest.
    let (status, fees) = sent(&mut l, NEW, NEW, vec![delete_account(BOB)]);
    assert_eq!(status, TxStatus::Value(vec![]));
    assert!(!l.accounts.contains_key(&id(NEW)));
    assert_eq!(balance(&l, BOB), bob + left - fees);
    // Its storage is gone, each record logged as a deletion.
    let deleted = (1..=l.height)
        .filter_map(|h| l.changes.block(h))
        .flatten()
        .any(|c| c.account_id == id(NEW) && c.key == b"k" && c.value.is_none());
    assert!(deleted);
    // Someone else's account is not theirs to delete; and a delete comes last.
    let e = action_error(send(&mut l, BOB, ALICE, vec![delete_account(BOB)]));
    assert!(
        matches!(e.kind, ActionErrorKind::ActorNoPermission { .. }),
        "{e:?}"
    );
    let tx = signed(
        &l,
        ALICE,
        &secret(ALICE),
        ALICE,
        vec![delete_account(BOB), transfer(1)],
    );
    assert_eq!(
        l.admit(tx),
        Err(InvalidTxError::ActionsValidation(
            ActionsValidationError::DeleteActionMustBeFinal
        ))
    );
}

#[test]
fn actions_the_devnet_lacks_are_refused_at_admission() {
    let mut l = ledger();
    let stake = Action::Stake(Box::new(StakeAction {
        stake: Balance::from_yoctonear(NEAR),
        public_key: public(ALICE),
    }));
    let tx = signed(&l, ALICE, &secret(ALICE), ALICE, vec![stake]);
    assert!(matches!(
        l.admit(tx),
        Err(InvalidTxError::ActionsValidation(
            ActionsValidationError::UnsupportedProtocolFeature { .. }
        ))
    ));
    let zero_gas = Action::FunctionCall(Box::new(FunctionCallAction {
        method_name: "put".into(),
        args: vec![],
        gas: near_primitives::gas::Gas::from_gas(0),
        deposit: Balance::ZERO,
    }));
    let tx = signed(&l, ALICE, &secret(ALICE), CONTRACT, vec![zero_gas]);
    assert_eq!(
        l.admit(tx),
        Err(InvalidTxError::ActionsValidation(
            ActionsValidationError::FunctionCallZeroAttachedGas
        ))
    );
    let tx = signed(&l, ALICE, &secret(ALICE), CONTRACT, vec![call("", b"", 0)]);
    assert_eq!(
        l.admit(tx),
        Err(InvalidTxError::ActionsValidation(
            ActionsValidationError::FunctionCallEmptyMethodName
        ))
    );
    let deploys = vec![deploy(); 11];
    let tx = signed(&l, ALICE, &secret(ALICE), ALICE, deploys);
    assert_eq!(
        l.admit(tx),
        Err(InvalidTxError::ActionsValidation(
            ActionsValidationError::TotalNumberOfDeployActionsExceeded {
                number_of_deploy_actions: 11,
                limit: 10,
            }
        ))
    );
}

#[test]
fn a_contract_creates_keys_and_deploys_to_a_sub_account_through_a_promise_batch() {
    let mut l = ledger();
    let contract = balance(&l, CONTRACT);
    let alice = balance(&l, ALICE);
    let args = wasm();
    let (status, burnt) = sent(&mut l, ALICE, CONTRACT, vec![call("spawn", &args, 0)]);
    assert_eq!(status, TxStatus::Value(vec![]));
    // Alice paid what was burnt, no more and no less: the gas shared by weight is neither
    // refunded twice nor lost.
    assert_eq!(balance(&l, ALICE), alice - burnt);
    let sub = &l.accounts[&id(SUB)];
    assert_eq!(sub.code_hash, Some(crate::vm::Code::new(wasm()).hash()));
    assert_eq!(sub.balance, SUB_BALANCE);
    assert_eq!(balance(&l, CONTRACT), contract - SUB_BALANCE);
    assert_eq!(
        sub.keys[&public(SUB_FULL)].permission,
        AccessKeyPermission::FullAccess
    );
    let fc = function_call_key(CONTRACT, &["put"], Some(SUB_ALLOWANCE));
    assert_eq!(sub.keys[&public(SUB_FC)].permission, fc.permission);
    // The call scheduled with no gas and weight 1 ran on the gas `spawn` left.
    assert_eq!(sub.storage().get(b"w".as_slice()), Some(&b"w".to_vec()));
    // The sub-account deletes itself; Alice gets its balance.
    let alice = balance(&l, ALICE);
    let (status, burnt) = sent(&mut l, ALICE, SUB, vec![call("delete_self", b"", 0)]);
    assert_eq!(status, TxStatus::Value(vec![]));
    l.produce_block();
    assert!(!l.accounts.contains_key(&id(SUB)));
    assert_eq!(balance(&l, ALICE), alice - burnt + SUB_BALANCE);
}

// Storage staking: nearcore's `check_storage_stake`, on the receiver after a receipt's actions
// (`apply_action_receipt`) and on the signer at admission (`verify_and_charge_tx_ephemeral`).

/// NEAR's storage price: 10¹⁹ yoctoNEAR a byte (1 NEAR per 100 kB).
const PER_BYTE: u128 = 10_000_000_000_000_000_000;
/// What an account with one full-access ed25519 key occupies: 100 for the account, 82 for
/// the key.
const KEYED: u64 = crate::storage::ACCOUNT_OVERHEAD + crate::storage::ACCESS_KEY_BYTES;

fn deploy_code(code: Vec<u8>) -> Action {
    Action::DeployContract(DeployContractAction { code })
}

/// Admits a transaction, returns its hash and the signer's balance once charged (what the
/// receipt's storage check sees when the signer is the receiver), then runs it.
fn charged_then_run(
    l: &mut Ledger,
    signer: &str,
    receiver: &str,
    actions: Vec<Action>,
) -> (TxStatus, CryptoHash, u128) {
    let tx = signed(l, signer, &secret(signer), receiver, actions);
    let hash = l.admit(tx).expect("admitted");
    let charged = balance(l, signer);
    for _ in 0..3 {
        l.produce_block();
    }
    (l.tx_status(&hash).expect("admitted"), hash, charged)
}

fn lack_balance_for_state(status: TxStatus) -> (AccountId, u128) {
    let e = action_error(status);
    // NEAR names no action: the receipt as a whole left its receiver short.
    assert_eq!(e.index, None, "{e:?}");
    match e.kind {
        ActionErrorKind::LackBalanceForState { account_id, amount } => {
            (account_id, amount.as_yoctonear())
        }
        other => panic!("expected LackBalanceForState, got {other:?}"),
    }
}

#[test]
fn the_storage_price_is_nears() {
    let l = ledger();
    let per_byte = l.vm.runtime_config().storage_amount_per_byte();
    assert_eq!(per_byte.as_yoctonear(), PER_BYTE);
}

#[test]
fn a_deploy_too_large_for_the_balance_fails_and_leaves_the_account_as_it_was() {
    let mut l = ledger();
    let batch = vec![
        create(),
        transfer(NEAR / 10),
        add_key(NEW, AccessKey::full_access()),
    ];
    assert_eq!(send(&mut l, ALICE, NEW, batch), TxStatus::Value(vec![]));
    assert_eq!(l.accounts[&id(NEW)].storage_usage(0), KEYED);
    // 20 kB of code need 0.2 NEAR; the account has 0.1 NEAR, less the deploy's fees.
    let code = code_of_len(20_000);
    let before = balance(&l, NEW);
    let (status, hash, charged) =
        charged_then_run(&mut l, NEW, NEW, vec![deploy_code(code.clone())]);
    let (account_id, amount) = lack_balance_for_state(status);
    assert_eq!(account_id, id(NEW));
    // The shortfall, not the whole stake: what the account lacked with the code deployed.
    assert_eq!(amount, u128::from(KEYED + 20_000) * PER_BYTE - charged);
    let after = &l.accounts[&id(NEW)];
    assert_eq!(after.code_hash, None, "the deploy was undone");
    assert!(!l
        .codes
        .contains_key(&crate::vm::Code::new(code.clone()).hash()));
    assert_eq!(after.storage_usage(0), KEYED);
    assert_eq!(
        after.balance,
        before - burnt(&l, &hash),
        "only the fees are gone"
    );
    // Funded, the same deploy succeeds.
    assert_eq!(
        send(&mut l, ALICE, NEW, vec![transfer(NEAR)]),
        TxStatus::Value(vec![])
    );
    assert_eq!(
        send(&mut l, NEW, NEW, vec![deploy_code(code.clone())]),
        TxStatus::Value(vec![])
    );
    assert_eq!(
        l.accounts[&id(NEW)].code_hash,
        Some(crate::vm::Code::new(code).hash())
    );
}

#[test]
fn a_transfer_that_would_leave_the_signer_short_of_its_storage_stake_is_refused() {
    let mut l = ledger();
    // 1 NEAR, a key and 20 kB of code: its storage stake is 0.20182 NEAR.
    let batch = vec![
        create(),
        transfer(NEAR),
        add_key(NEW, AccessKey::full_access()),
        deploy_code(code_of_len(20_000)),
    ];
    assert_eq!(send(&mut l, ALICE, NEW, batch), TxStatus::Value(vec![]));
    let stake = u128::from(KEYED + 20_000) * PER_BYTE;
    let before = l.accounts[&id(NEW)].clone();
    // Sending 0.9 NEAR would leave it under 0.1 NEAR: refused at admission, as nearcore
    // refuses it, with the shortfall once charged (the deposit and the prepaid fees).
    let actions = vec![transfer(NEAR * 9 / 10)];
    let specs = crate::actions::from_transaction(l.vm.limits(), &actions).unwrap();
    let gas = l
        .tx_gas_burnt(&id(NEW), &id(BOB), &specs)
        .saturating_add(l.vm.fees().total_exec(&specs, &id(BOB)));
    let cost = NEAR * 9 / 10 + u128::from(gas) * GAS_PRICE;
    let tx = signed(&l, NEW, &secret(NEW), BOB, actions);
    assert_eq!(
        l.admit(tx),
        Err(InvalidTxError::LackBalanceForState {
            signer_id: id(NEW),
            amount: Balance::from_yoctonear(stake - (before.balance - cost)),
        })
    );
    let after = &l.accounts[&id(NEW)];
    assert_eq!((after.balance, &after.keys), (before.balance, &before.keys));
    // 0.7 NEAR leaves it ~0.3 NEAR: enough.
    let bob = balance(&l, BOB);
    let (status, fees) = sent(&mut l, NEW, BOB, vec![transfer(NEAR * 7 / 10)]);
    assert_eq!(status, TxStatus::Value(vec![]));
    assert_eq!(balance(&l, BOB), bob + NEAR * 7 / 10);
    assert_eq!(balance(&l, NEW), before.balance - NEAR * 7 / 10 - fees);
    assert!(balance(&l, NEW) >= stake);
}

#[test]
fn a_zero_balance_account_needs_nothing_up_to_770_bytes() {
    let mut l = ledger();
    let limit = crate::storage::ZERO_BALANCE_ACCOUNT_STORAGE_LIMIT;
    assert_eq!(limit, 770);
    // An account with a key and no balance at all.
    let batch = vec![create(), add_key(NEW, AccessKey::full_access())];
    assert_eq!(send(&mut l, ALICE, NEW, batch), TxStatus::Value(vec![]));
    assert_eq!(balance(&l, NEW), 0);
    // Code up to the limit: still nothing needed.
    let at_limit = code_of_len((limit - KEYED) as usize);
    let batch = vec![
        create(),
        add_key(NEW, AccessKey::full_access()),
        deploy_code(at_limit),
    ];
    assert_eq!(
        send(&mut l, ALICE, "y.alice.test", batch),
        TxStatus::Value(vec![])
    );
    let y = &l.accounts[&id("y.alice.test")];
    assert_eq!(l.storage_usage(y), limit);
    assert_eq!(y.balance, 0);
    // One byte more and the account owes the stake for every byte: its creation is undone.
    let alice = balance(&l, ALICE);
    let batch = vec![
        create(),
        transfer(1),
        add_key(NEW, AccessKey::full_access()),
        deploy_code(code_of_len((limit - KEYED + 1) as usize)),
    ];
    let (status, burnt) = sent(&mut l, ALICE, "w.alice.test", batch);
    let (account_id, amount) = lack_balance_for_state(status);
    assert_eq!(account_id, id("w.alice.test"));
    assert_eq!(amount, u128::from(limit + 1) * PER_BYTE - 1);
    assert!(!l.accounts.contains_key(&id("w.alice.test")));
    assert_eq!(balance(&l, ALICE), alice - burnt, "the deposit came back");
}

#[test]
fn a_call_that_grows_state_beyond_the_balance_fails_and_its_writes_are_undone() {
    let mut l = ledger();
    // The test contract with room for 1000 bytes of records.
    let code = wasm().len() as u64;
    let funded = u128::from(KEYED + code + 1000) * PER_BYTE;
    let batch = vec![
        create(),
        transfer(funded),
        add_key(NEW, AccessKey::full_access()),
        deploy(),
    ];
    assert_eq!(send(&mut l, ALICE, NEW, batch), TxStatus::Value(vec![]));
    // A 100-byte record (key and value: 240 bytes with NEAR's 40) fits.
    let small = vec![b's'; 100];
    assert_eq!(
        send(&mut l, ALICE, NEW, vec![call("put", &small, 0)]),
        TxStatus::Value(vec![])
    );
    let before = l.accounts[&id(NEW)].clone();
    assert_eq!(l.storage_usage(&before), KEYED + code + 240);
    // A 1000-byte one (2040 bytes) does not, even with the call's deposit (100 bytes' worth).
    let alice = balance(&l, ALICE);
    let deposit = 100 * PER_BYTE;
    let big = vec![b'b'; 1000];
    let (status, burnt) = sent(&mut l, ALICE, NEW, vec![call("put", &big, deposit)]);
    let (account_id, amount) = lack_balance_for_state(status);
    assert_eq!(account_id, id(NEW));
    assert_eq!(
        amount,
        u128::from(KEYED + code + 240 + 2040) * PER_BYTE - funded - deposit
    );
    let after = &l.accounts[&id(NEW)];
    assert_eq!(
        after.storage().get(big.as_slice()),
        None,
        "the write was undone"
    );
    assert_eq!(after.storage(), before.storage());
    assert_eq!(l.storage_usage(after), l.storage_usage(&before));
    assert_eq!(after.balance, funded);
    assert_eq!(balance(&l, ALICE), alice - burnt, "the deposit came back");
    // Nothing of it reached the change log.
    let logged = (1..=l.height)
        .filter_map(|h| l.changes.block(h))
        .flatten()
        .any(|c| c.key == big);
    assert!(!logged);
}

#[test]
fn a_genesis_account_short_of_its_storage_stake_is_refused() {
    let account = |balance| crate::GenesisAccount {
        account_id: id(ALICE),
        balance,
        keys: vec![public(ALICE)],
        wasm: Some(code_of_len(20_000)),
    };
    let genesis = |balance| crate::Genesis {
        accounts: vec![account(balance)],
        seed: [1; 32],
    };
    let interval = std::time::Duration::from_millis(100);
    let stake = u128::from(KEYED + 20_000) * PER_BYTE;
    let e = crate::Devnet::genesis(genesis(stake - 1), interval)
        .err()
        .expect("refused");
    let message = e.to_string();
    assert!(
        message.contains(ALICE) && message.contains("needs 1 yoctoNEAR more"),
        "{message}"
    );
    assert!(crate::Devnet::genesis(genesis(stake), interval).is_ok());
}
