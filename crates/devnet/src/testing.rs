//! Test helpers: a tiny contract, assembled here byte by byte (no wasm toolchain needed), a
//! genesis with it, and signed calls.
//!
//! The contract's methods (storage keys and values are the call's input):
//! - `put`: writes input → input; `del`: removes input; `put_fail`: `put`, then panics;
//! - `yield`: creates a yield whose callback is `cb`, keeping its data id under `y`;
//! - `resume`: resumes the yield under `y` with the input as payload, panics if refused;
//! - `cb`: writes the yield's promise status under `cb` (1 resumed, 2 failed: timed out);
//! - `spawn`: one promise batch to [`SUB`]: create it, give it 10 NEAR, deploy the input as
//!   its code, add [`SUB_FULL`] for full access and [`SUB_FC`] for `put` on the contract with
//!   a 1 NEAR allowance, and call its `put` with `w` and no gas but weight 1 (it runs only
//!   with a share of the call's unused gas);
//! - `delete_self`: deletes [`SUB`] (run it there), its balance going to Alice.

use near_crypto::{KeyType, PublicKey, SecretKey};
use near_primitives::hash::CryptoHash;
use near_primitives::transaction::{
    Action, FunctionCallAction, SignedTransaction, Transaction, TransactionV0,
};
use near_primitives::types::{AccountId, Balance};

use crate::ledger::Ledger;
use crate::{Genesis, GenesisAccount, NEAR};

pub const CONTRACT: &str = "contract.test";
pub const ALICE: &str = "alice.test";
pub const BOB: &str = "bob.test";
/// An account no test touches.
pub const IDLE: &str = "idle.test";
/// The account that may create top-level accounts (NEAR's `registrar`).
pub const REGISTRAR: &str = "registrar";
/// The sub-account the contract's `spawn` creates.
pub const SUB: &str = "sub.contract.test";
/// The keys `spawn` gives [`SUB`] (seeds of [`secret`]).
pub const SUB_FULL: &str = "sub-full";
pub const SUB_FC: &str = "sub-fc";
/// What `spawn` gives [`SUB`], and the allowance of [`SUB_FC`].
pub const SUB_BALANCE: u128 = 10 * NEAR;
pub const SUB_ALLOWANCE: u128 = NEAR;

fn uleb(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn sleb(mut v: i64, out: &mut Vec<u8>) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if (v == 0 && byte & 0x40 == 0) || (v == -1 && byte & 0x40 != 0) {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn section(id: u8, items: Vec<Vec<u8>>, out: &mut Vec<u8>) {
    let mut body = vec![];
    uleb(items.len() as u64, &mut body);
    body.extend(items.concat());
    out.push(id);
    uleb(body.len() as u64, out);
    out.extend(body);
}

fn name(s: &str) -> Vec<u8> {
    name_bytes(s.as_bytes())
}

/// Bytes with their length first (a wasm vector).
fn name_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    uleb(bytes.len() as u64, &mut out);
    out.extend(bytes);
    out
}

/// One instruction sequence.
#[derive(Default)]
struct Code(Vec<u8>);

impl Code {
    fn i64(mut self, v: i64) -> Self {
        self.0.push(0x42);
        sleb(v, &mut self.0);
        self
    }
    fn i32(mut self, v: i32) -> Self {
        self.0.push(0x41);
        sleb(i64::from(v), &mut self.0);
        self
    }
    fn call(mut self, f: u32) -> Self {
        self.0.push(0x10);
        uleb(u64::from(f), &mut self.0);
        self
    }
    fn op(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }
    fn body(self) -> Vec<u8> {
        let mut body = vec![0x00]; // no locals
        body.extend(self.0);
        body.push(0x0b);
        let mut out = vec![];
        uleb(body.len() as u64, &mut out);
        out.extend(body);
        out
    }
}

// Imported host functions, by index.
const INPUT: u32 = 0;
const REGISTER_LEN: u32 = 1;
const READ_REGISTER: u32 = 2;
const STORAGE_WRITE: u32 = 3;
const STORAGE_REMOVE: u32 = 4;
const PANIC: u32 = 5;
const YIELD_CREATE: u32 = 6;
const YIELD_RESUME: u32 = 7;
const STORAGE_READ: u32 = 8;
const PROMISE_RESULT: u32 = 9;
const BATCH_CREATE: u32 = 10;
const CREATE_ACCOUNT: u32 = 11;
const DEPLOY: u32 = 12;
const TRANSFER: u32 = 13;
const ADD_FULL_KEY: u32 = 14;
const ADD_FC_KEY: u32 = 15;
const DELETE_ACCOUNT: u32 = 16;
const CALL_WEIGHT: u32 = 17;
const PUT: u32 = 18;
const DROP: &[u8] = &[0x1a];
/// Where the input is copied to.
const INPUT_PTR: i64 = 1024;
/// Where a data id is copied to.
const ID_PTR: i64 = 64;
/// The second data segment: what `spawn` and `delete_self` need, at these offsets.
const DATA: i64 = 256;
const SUB_PTR: i64 = DATA;
const AMOUNT_PTR: i64 = DATA + 32;
/// Sixteen zero bytes (never written).
const ZERO_PTR: i64 = DATA + 64;
const FULL_KEY_PTR: i64 = DATA + 96;
const FC_KEY_PTR: i64 = DATA + 144;
const RECEIVER_PTR: i64 = DATA + 192;
const METHOD_PTR: i64 = DATA + 224;
const ARG_PTR: i64 = DATA + 232;
const BENEFICIARY_PTR: i64 = DATA + 240;
const ALLOWANCE_PTR: i64 = DATA + 256;

/// The second data segment's bytes.
fn spawn_data() -> Vec<u8> {
    let mut data = vec![0u8; 272];
    let mut put = |at: i64, bytes: &[u8]| {
        let at = (at - DATA) as usize;
        data[at..at + bytes.len()].copy_from_slice(bytes);
    };
    put(SUB_PTR, SUB.as_bytes());
    put(AMOUNT_PTR, &SUB_BALANCE.to_le_bytes());
    put(
        FULL_KEY_PTR,
        &borsh::to_vec(&public(SUB_FULL)).expect("keys serialize"),
    );
    put(
        FC_KEY_PTR,
        &borsh::to_vec(&public(SUB_FC)).expect("keys serialize"),
    );
    put(RECEIVER_PTR, CONTRACT.as_bytes());
    put(METHOD_PTR, b"put");
    put(ARG_PTR, b"w");
    put(BENEFICIARY_PTR, ALICE.as_bytes());
    put(ALLOWANCE_PTR, &SUB_ALLOWANCE.to_le_bytes());
    data
}

fn read_input() -> Code {
    Code::default()
        .i64(0)
        .call(INPUT)
        .i64(0)
        .i64(INPUT_PTR)
        .call(READ_REGISTER)
}

fn input_len(code: Code) -> Code {
    code.i64(0).call(REGISTER_LEN)
}

/// The test contract's wasm.
pub fn wasm() -> Vec<u8> {
    let i = 0x7e; // i64
    let func = |params: &[u8], results: &[u8]| {
        let mut t = vec![0x60];
        uleb(params.len() as u64, &mut t);
        t.extend(params);
        uleb(results.len() as u64, &mut t);
        t.extend(results);
        t
    };
    let types = vec![
        func(&[i], &[]),        // 0
        func(&[i], &[i]),       // 1
        func(&[i, i], &[]),     // 2
        func(&[i; 5], &[i]),    // 3
        func(&[i; 3], &[i]),    // 4
        func(&[], &[]),         // 5
        func(&[i; 7], &[i]),    // 6
        func(&[i; 4], &[0x7f]), // 7
        func(&[i, i], &[i]),    // 8
        func(&[i; 3], &[]),     // 9
        func(&[i; 4], &[]),     // 10
        func(&[i; 9], &[]),     // 11
        func(&[i; 8], &[]),     // 12
    ];
    let imports = [
        ("input", 0),
        ("register_len", 1),
        ("read_register", 2),
        ("storage_write", 3),
        ("storage_remove", 4),
        ("panic", 5),
        ("promise_yield_create", 6),
        ("promise_yield_resume", 7),
        ("storage_read", 4),
        ("promise_result", 8),
        ("promise_batch_create", 8),
        ("promise_batch_action_create_account", 0),
        ("promise_batch_action_deploy_contract", 9),
        ("promise_batch_action_transfer", 2),
        ("promise_batch_action_add_key_with_full_access", 10),
        ("promise_batch_action_add_key_with_function_call", 11),
        ("promise_batch_action_delete_account", 9),
        ("promise_batch_action_function_call_weight", 12),
    ]
    .iter()
    .map(|(f, t)| [name("env"), name(f), vec![0x00, *t]].concat())
    .collect();
    let put = input_len(input_len(read_input()).i64(INPUT_PTR))
        .i64(INPUT_PTR)
        .i64(5)
        .call(STORAGE_WRITE)
        .op(DROP);
    let del = input_len(read_input())
        .i64(INPUT_PTR)
        .i64(5)
        .call(STORAGE_REMOVE)
        .op(DROP);
    let put_fail = Code::default().call(PUT).call(PANIC);
    // "y" at 0, "cb" at 2 (the data segment).
    let yield_ = Code::default()
        .i64(2)
        .i64(2)
        .i64(0)
        .i64(0)
        .i64(10_000_000_000_000)
        .i64(0)
        .i64(1)
        .call(YIELD_CREATE)
        .op(DROP)
        .i64(1)
        .i64(ID_PTR)
        .call(READ_REGISTER)
        .i64(1)
        .i64(0)
        .i64(32)
        .i64(ID_PTR)
        .i64(5)
        .call(STORAGE_WRITE)
        .op(DROP);
    let resume = input_len(
        read_input()
            .i64(1)
            .i64(0)
            .i64(3)
            .call(STORAGE_READ)
            .op(DROP)
            .i64(3)
            .i64(ID_PTR)
            .call(READ_REGISTER)
            .i64(32)
            .i64(ID_PTR),
    )
    .i64(INPUT_PTR)
    .call(YIELD_RESUME)
    .op(&[0x45, 0x04, 0x40]) // i32.eqz, if
    .call(PANIC)
    .op(&[0x0b]); // end
    let cb = Code::default()
        .i32(200)
        .i64(0)
        .i64(0)
        .call(PROMISE_RESULT)
        .op(&[0x3c, 0x00, 0x00]) // i64.store8
        .i64(2)
        .i64(2)
        .i64(1)
        .i64(200)
        .i64(5)
        .call(STORAGE_WRITE)
        .op(DROP);
    // The batch is this call's first promise: index 0.
    let spawn = input_len(
        read_input()
            .i64(SUB.len() as i64)
            .i64(SUB_PTR)
            .call(BATCH_CREATE)
            .op(DROP)
            .i64(0)
            .call(CREATE_ACCOUNT)
            .i64(0)
            .i64(AMOUNT_PTR)
            .call(TRANSFER)
            .i64(0),
    )
    .i64(INPUT_PTR)
    .call(DEPLOY)
    .i64(0)
    .i64(33)
    .i64(FULL_KEY_PTR)
    .i64(0)
    .call(ADD_FULL_KEY)
    .i64(0)
    .i64(33)
    .i64(FC_KEY_PTR)
    .i64(0)
    .i64(ALLOWANCE_PTR)
    .i64(CONTRACT.len() as i64)
    .i64(RECEIVER_PTR)
    .i64(3)
    .i64(METHOD_PTR)
    .call(ADD_FC_KEY)
    .i64(0)
    .i64(3)
    .i64(METHOD_PTR)
    .i64(1)
    .i64(ARG_PTR)
    .i64(ZERO_PTR)
    .i64(0)
    .i64(1)
    .call(CALL_WEIGHT);
    let delete_self = Code::default()
        .i64(SUB.len() as i64)
        .i64(SUB_PTR)
        .call(BATCH_CREATE)
        .op(DROP)
        .i64(0)
        .i64(ALICE.len() as i64)
        .i64(BENEFICIARY_PTR)
        .call(DELETE_ACCOUNT);
    let exports = [
        "put",
        "del",
        "put_fail",
        "yield",
        "resume",
        "cb",
        "spawn",
        "delete_self",
    ];
    let mut out = b"\0asm\x01\0\0\0".to_vec();
    section(1, types, &mut out);
    section(2, imports, &mut out);
    section(3, exports.iter().map(|_| vec![5]).collect(), &mut out);
    section(5, vec![vec![0x00, 0x01]], &mut out);
    section(
        7,
        exports
            .iter()
            .enumerate()
            .map(|(n, e)| {
                let mut x = name(e);
                x.push(0x00);
                uleb(u64::from(PUT) + n as u64, &mut x);
                x
            })
            .collect(),
        &mut out,
    );
    let bodies = [put, del, put_fail, yield_, resume, cb, spawn, delete_self];
    section(10, bodies.into_iter().map(Code::body).collect(), &mut out);
    let mut data = vec![0x00, 0x41, 0x00, 0x0b];
    data.extend(name("y\0cb"));
    let mut second = vec![0x00, 0x41];
    sleb(DATA, &mut second);
    second.push(0x0b);
    second.extend(name_bytes(&spawn_data()));
    section(11, vec![data, second], &mut out);
    out
}

/// A module of exactly `len` bytes (at least 16, and not one a section size's extra length
/// byte skips): no functions, a custom section as padding. NEAR counts a contract's bytes
/// as its account's storage, so this is code of a chosen storage cost.
pub fn code_of_len(len: usize) -> Vec<u8> {
    let header = b"\0asm\x01\0\0\0";
    for padding in 0..len {
        let mut body = name("pad");
        body.resize(body.len() + padding, 0);
        let mut out = header.to_vec();
        out.push(0); // a custom section
        uleb(body.len() as u64, &mut out);
        out.extend(body);
        if out.len() == len {
            return out;
        }
        if out.len() > len {
            break;
        }
    }
    panic!("no module of {len} bytes: pick another length");
}

pub fn id(s: &str) -> AccountId {
    s.parse().expect("a valid test account id")
}

pub fn secret(account: &str) -> SecretKey {
    SecretKey::from_seed(KeyType::ED25519, account)
}

pub fn public(account: &str) -> PublicKey {
    secret(account).public_key()
}

/// Alice, Bob, an idle account and the registrar with 100 NEAR each, and the contract.
pub fn genesis() -> Result<Genesis, String> {
    let accounts = [ALICE, BOB, IDLE, CONTRACT, REGISTRAR]
        .into_iter()
        .map(|a| GenesisAccount {
            account_id: id(a),
            balance: 100 * NEAR,
            keys: vec![public(a)],
            wasm: (a == CONTRACT).then(wasm),
        })
        .collect();
    Ok(Genesis {
        accounts,
        seed: [3; 32],
    })
}

/// A ledger at genesis (height 1), not saved anywhere.
pub fn ledger() -> Ledger {
    let genesis = genesis().expect("the test genesis");
    crate::Devnet::genesis(genesis, std::time::Duration::from_millis(100))
        .expect("the test genesis is valid")
}

/// A transaction from `signer` calling the contract's `methods` (name, input) in order.
pub fn call(ledger: &Ledger, signer: &str, methods: &[(&str, &[u8])]) -> SignedTransaction {
    let nonce = ledger.accounts[&id(signer)].keys[&public(signer)].nonce + 1;
    let tx = Transaction::V0(TransactionV0 {
        signer_id: id(signer),
        public_key: public(signer),
        nonce,
        receiver_id: id(CONTRACT),
        block_hash: CryptoHash::default(),
        actions: methods
            .iter()
            .map(|(m, args)| {
                Action::FunctionCall(Box::new(FunctionCallAction {
                    method_name: (*m).into(),
                    args: args.to_vec(),
                    gas: near_primitives::gas::Gas::from_teragas(100),
                    deposit: Balance::ZERO,
                }))
            })
            .collect(),
    });
    let signature = secret(signer).sign(tx.get_hash_and_size().0.as_ref());
    SignedTransaction::new(signature, tx)
}

/// Admits a call; returns its transaction hash and first receipt's id.
pub fn admit(
    ledger: &mut Ledger,
    signer: &str,
    methods: &[(&str, &[u8])],
) -> (CryptoHash, CryptoHash) {
    let tx = call(ledger, signer, methods);
    let hash = ledger.admit(tx).expect("the call is admitted");
    (hash, ledger.history.tx(&hash).expect("admitted").receipt)
}

/// The contract's committed value under `key`.
pub fn stored(ledger: &Ledger, key: &[u8]) -> Option<Vec<u8>> {
    ledger.accounts[&id(CONTRACT)].storage().get(key).cloned()
}

/// A transaction of `actions` from `signer` to `receiver`, signed with `key` at its next
/// nonce.
pub fn signed(
    ledger: &Ledger,
    signer: &str,
    key: &SecretKey,
    receiver: &str,
    actions: Vec<Action>,
) -> SignedTransaction {
    let nonce = ledger.accounts[&id(signer)]
        .keys
        .get(&key.public_key())
        .map_or(0, |k| k.nonce)
        + 1;
    let tx = Transaction::V0(TransactionV0 {
        signer_id: id(signer),
        public_key: key.public_key(),
        nonce,
        receiver_id: id(receiver),
        block_hash: CryptoHash::default(),
        actions,
    });
    let signature = key.sign(tx.get_hash_and_size().0.as_ref());
    SignedTransaction::new(signature, tx)
}

/// Admits a transaction and produces blocks until it has an outcome (at most 5), then one
/// more so that the receipts it created have run too.
pub fn run(
    ledger: &mut Ledger,
    tx: SignedTransaction,
) -> Result<crate::ledger::TxStatus, near_primitives::errors::InvalidTxError> {
    let hash = ledger.admit(tx)?;
    for _ in 0..5 {
        ledger.produce_block();
        let status = ledger.tx_status(&hash).expect("an admitted transaction");
        if status != crate::ledger::TxStatus::Pending {
            ledger.produce_block();
            return Ok(status);
        }
    }
    Ok(crate::ledger::TxStatus::Pending)
}

/// The tokens a transaction burnt, all told (its own outcome and its receipts').
pub fn burnt(ledger: &Ledger, tx: &CryptoHash) -> u128 {
    let outcome = crate::views::final_outcome(ledger, tx).expect("a finished transaction");
    let own = outcome
        .transaction_outcome
        .outcome
        .tokens_burnt
        .as_yoctonear();
    let receipts = outcome.receipts_outcome.iter();
    own + receipts
        .map(|r| r.outcome.tokens_burnt.as_yoctonear())
        .sum::<u128>()
}
