//! Gas of the signer contract's hot calls — `sign`, `respond` and the yield callback — with
//! 0, 100 and 1,000 requests already pending, each of the largest payload allowed (a 1,232-byte
//! Ed25519 message). The contract keeps each request under its own key, so the figures should
//! be flat; the old single-value layout made them grow with the queue until the callback ran
//! out of its 10 Tgas.
//!
//! Runs the real wasm (`target/signer.wasm`, built by `scripts/build-contract.sh`) under NEAR's
//! VM in the devnet's ledger, in process. Also prints the wall time of the block that ran each
//! call (executing it and persisting the block to the devnet's redb), for the chain's cost
//! per signature; that grows a little with the state's size, as any B-tree store does. Gas is NEAR's as the VM meters it; the devnet does not charge the per-trie-
//! node costs NEAR adds for storage reads, which grow only with the log of the state's size.
//!
//! `cargo bench -p devnet --bench gas` (add `-- --pending 0,100,1000 --repeat 5` to change).

use chain::rpc::sign;
use devnet::{Devnet, Genesis, GenesisAccount, NEAR};
use ed25519_dalek::SigningKey;
use near_primitives::gas::Gas;
use near_primitives::hash::CryptoHash;
use near_primitives::transaction::{Action, FunctionCallAction, Transaction, TransactionV0};
use near_primitives::types::{AccountId, Balance};
use primitives::SignatureScheme;
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::Keys;

const CONTRACT: &str = "signer.bench";
const USER: &str = "user.bench";
const NODES: [&str; 3] = ["n0.bench", "n1.bench", "n2.bench"];
const MESSAGE: usize = 1232;
const TGAS: f64 = 1e12;

struct Chain {
    devnet: Arc<Devnet>,
    keys: Vec<(AccountId, SigningKey, u64)>,
    _dir: tempfile::TempDir,
}

fn key(i: u8) -> SigningKey {
    SigningKey::from_bytes(&[i + 1; 32])
}

fn near_key(k: &SigningKey) -> near_crypto::PublicKey {
    near_crypto::PublicKey::ED25519(near_crypto::ED25519PublicKey(k.verifying_key().to_bytes()))
}

impl Chain {
    fn new() -> Self {
        let wasm = std::fs::read(testkit::signer_wasm_path())
            .expect("target/signer.wasm: run ./scripts/build-contract.sh first");
        let names: Vec<&str> = NODES.iter().copied().chain([USER, CONTRACT]).collect();
        let keys: Vec<(AccountId, SigningKey, u64)> = names
            .iter()
            .enumerate()
            .map(|(i, a)| (a.parse().unwrap(), key(i as u8), 0))
            .collect();
        let genesis = Genesis {
            accounts: keys
                .iter()
                .map(|(a, k, _)| GenesisAccount {
                    account_id: a.clone(),
                    balance: 1_000_000 * NEAR,
                    keys: vec![near_key(k)],
                    wasm: (a.as_str() == CONTRACT).then(|| wasm.clone()),
                })
                .collect(),
            seed: [3; 32],
        };
        let dir = tempfile::tempdir().unwrap();
        let (devnet, _) =
            Devnet::open(dir.path(), || Ok(genesis), Duration::from_millis(100)).unwrap();
        Self {
            devnet,
            keys,
            _dir: dir,
        }
    }

    /// Admits a call (it runs in the next block); its transaction hash.
    fn send(
        &mut self,
        who: &str,
        method: &str,
        args: serde_json::Value,
        deposit: u128,
    ) -> CryptoHash {
        let (account, key, nonce) = self
            .keys
            .iter_mut()
            .find(|(a, _, _)| a.as_str() == who)
            .unwrap();
        *nonce += 1;
        let tx = Transaction::V0(TransactionV0 {
            signer_id: account.clone(),
            public_key: near_key(key),
            nonce: *nonce,
            receiver_id: CONTRACT.parse().unwrap(),
            block_hash: CryptoHash::default(),
            actions: vec![Action::FunctionCall(Box::new(FunctionCallAction {
                method_name: method.into(),
                args: args.to_string().into_bytes(),
                gas: Gas::from_gas(300_000_000_000_000),
                deposit: Balance::from_yoctonear(deposit),
            }))],
        });
        self.devnet.ledger().admit(sign(key, tx)).unwrap()
    }

    /// Produces a block; how long it took.
    fn block(&self) -> Duration {
        let t = Instant::now();
        self.devnet.produce_block().unwrap();
        t.elapsed()
    }

    /// The gas the transaction's first receipt burnt, once it ran.
    fn gas(&self, tx: &CryptoHash) -> u64 {
        let ledger = self.devnet.ledger();
        let record = ledger.history.tx(tx).unwrap();
        ledger.history.executed(&record.receipt).unwrap().gas_burnt
    }

    /// The receipts the transaction led to that have run, in order, with their gas.
    fn receipts(&self, tx: &CryptoHash) -> Vec<(CryptoHash, u64)> {
        let ledger = self.devnet.ledger();
        let record = ledger.history.tx(tx).unwrap();
        record
            .receipts
            .iter()
            .filter_map(|id| ledger.history.executed(id).map(|e| (*id, e.gas_burnt)))
            .collect()
    }

    fn ok(&self, tx: &CryptoHash) {
        let status = self.devnet.ledger().tx_status(tx);
        assert!(
            !matches!(status, Some(devnet::ledger::TxStatus::Failed(_))),
            "{status:?}"
        );
    }
}

fn sign_args(domain: u64, path: &str, fill: u8) -> serde_json::Value {
    serde_json::json!({"request": {
        "path": path,
        "payload_v2": {"Eddsa": hex::encode(vec![fill; MESSAGE])},
        "domain_id": domain,
    }})
}

fn request_id(path: &str, fill: u8) -> contract::RequestId {
    let args: primitives::request::SignArgs =
        serde_json::from_value(sign_args(0, path, fill)).unwrap();
    contract::request_id(
        &contract::AccountId(USER.into()),
        &args.request.normalize().unwrap(),
    )
}

/// The domains the bench's network has, in id order (the queue is filled on domain 0).
const SCHEMES: [SignatureScheme; 4] = [
    SignatureScheme::Ed25519,
    SignatureScheme::Secp256k1,
    SignatureScheme::Bip340,
    SignatureScheme::V2Secp256k1,
];

/// A running network with a domain per scheme (Ed25519 is id 0), whose roots the bench knows.
fn network(keys: &Keys) -> Chain {
    let mut c = Chain::new();
    let participants: Vec<serde_json::Value> = NODES
        .iter()
        .map(|a| serde_json::json!({"account_id": a, "url": format!("https://{a}:1"), "tls_public_key": keys.public(SignatureScheme::Ed25519)}))
        .collect();
    let init = c.send(
        CONTRACT,
        "init",
        serde_json::json!({"participants": participants, "threshold": 2, "config": null}),
        0,
    );
    c.block();
    c.ok(&init);
    let schemes: Vec<String> = SCHEMES.iter().map(|s| format!("{s:?}")).collect();
    for n in NODES {
        c.send(
            n,
            "vote_add_domains",
            serde_json::json!({"schemes": schemes, "epoch": 0}),
            0,
        );
    }
    c.block();
    c.send(
        NODES[0],
        "start_keygen_instance",
        serde_json::json!({"epoch": 0}),
        0,
    );
    c.block();
    for (domain, scheme) in SCHEMES.iter().enumerate() {
        for n in NODES {
            let vote = serde_json::json!({"domain_id": domain, "public_key": keys.public(*scheme), "epoch": 0});
            c.send(n, "vote_pk", vote, 0);
        }
        c.block();
    }
    c
}

/// Gas of `respond` on each domain (nothing else pending): what verifying an answer costs
/// per scheme (derivation and verification through host functions, docs/design.md §5).
fn respond_by_scheme(keys: &Keys) -> Vec<(SignatureScheme, u64)> {
    let mut c = network(keys);
    let mut out = vec![];
    for (domain, scheme) in SCHEMES.iter().enumerate() {
        let path = format!("by-scheme-{domain}");
        let request = testkit::sign_request(domain as u64, *scheme, &path, 7);
        let asked = c.send(USER, "sign", serde_json::json!({ "request": request }), 1);
        c.block();
        c.ok(&asked);
        let args: primitives::request::SignArgs =
            serde_json::from_value(serde_json::json!({ "request": request })).unwrap();
        let id = contract::request_id(
            &contract::AccountId(USER.into()),
            &args.request.normalize().unwrap(),
        );
        let payload = testkit::payload_bytes(*scheme, 7);
        let signature = keys.sign(*scheme, USER, &path, &payload);
        let answer = c.send(
            NODES[1],
            "respond",
            serde_json::json!({"request_id": id, "response": signature}),
            0,
        );
        c.block();
        c.ok(&answer);
        out.push((*scheme, c.gas(&answer)));
        c.block();
    }
    out
}

struct Row {
    pending: usize,
    sign: u64,
    respond: u64,
    callback: u64,
    cpu: [Duration; 3],
}

fn measure(keys: &Keys, pending: usize) -> Row {
    let mut c = network(keys);
    for i in 0..pending {
        c.send(
            USER,
            "sign",
            sign_args(0, &format!("filler-{i}"), (i % 250) as u8),
            1,
        );
    }
    c.block();
    let load: serde_json::Value = serde_json::from_slice(
        &c.devnet
            .ledger()
            .view(&CONTRACT.parse().unwrap(), "system_load", b"{}")
            .unwrap()
            .0,
    )
    .unwrap();
    assert_eq!(load["pending_requests"], pending as u64, "{load}");

    let asked = c.send(USER, "sign", sign_args(0, "measured", 251), 1);
    let sign_cpu = c.block();
    let sign = c.gas(&asked);
    let message = vec![251u8; MESSAGE];
    let signature = keys.sign(SignatureScheme::Ed25519, USER, "measured", &message);
    let id = request_id("measured", 251);
    let answer = c.send(
        NODES[1],
        "respond",
        serde_json::json!({"request_id": id, "response": signature}),
        0,
    );
    let respond_cpu = c.block();
    c.ok(&answer);
    let respond = c.gas(&answer);
    let callback_cpu = c.block();
    c.ok(&asked);
    let receipts = c.receipts(&asked);
    let callback = receipts.last().expect("the callback ran").1;
    assert!(receipts.len() >= 2, "{receipts:?}");
    Row {
        pending,
        sign,
        respond,
        callback,
        cpu: [sign_cpu, respond_cpu, callback_cpu],
    }
}

fn main() {
    let mut pending = vec![0, 100, 1000];
    let mut repeat = 3;
    let args: Vec<String> = std::env::args().collect();
    for w in args.windows(2) {
        match w[0].as_str() {
            "--pending" => pending = w[1].split(',').map(|p| p.parse().unwrap()).collect(),
            "--repeat" => repeat = w[1].parse().unwrap(),
            _ => {}
        }
    }
    let keys = Keys::new(9);
    println!("signer contract gas (Tgas), and the wall time of the block that ran the call here (ms, median of {repeat}), by requests already pending");
    println!(
        "| pending | sign | respond | callback | sign block | respond block | callback block |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut rows = vec![];
    for p in &pending {
        let mut runs: Vec<Row> = (0..repeat).map(|_| measure(&keys, *p)).collect();
        let median = |f: &dyn Fn(&Row) -> Duration, runs: &mut Vec<Row>| {
            let mut v: Vec<Duration> = runs.iter().map(f).collect();
            v.sort();
            v[v.len() / 2]
        };
        let cpu = [
            median(&|r: &Row| r.cpu[0], &mut runs),
            median(&|r: &Row| r.cpu[1], &mut runs),
            median(&|r: &Row| r.cpu[2], &mut runs),
        ];
        let r = &runs[0];
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "| {} | {:.3} | {:.3} | {:.3} | {:.2} | {:.2} | {:.2} |",
            r.pending,
            r.sign as f64 / TGAS,
            r.respond as f64 / TGAS,
            r.callback as f64 / TGAS,
            ms(cpu[0]),
            ms(cpu[1]),
            ms(cpu[2]),
        );
        rows.push((r.sign, r.respond, r.callback));
    }
    let spread = |f: &dyn Fn(&(u64, u64, u64)) -> u64| {
        let v: Vec<u64> = rows.iter().map(f).collect();
        let (lo, hi) = (*v.iter().min().unwrap(), *v.iter().max().unwrap());
        (hi - lo) as f64 / lo as f64 * 100.0
    };
    println!("respond gas by domain (Tgas, nothing else pending)");
    for (scheme, gas) in respond_by_scheme(&keys) {
        println!("| {scheme:?} | {:.3} |", gas as f64 / TGAS);
    }
    // The VM's fixed cost per call: a view that does next to nothing.
    let c = network(&keys);
    let contract: AccountId = CONTRACT.parse().unwrap();
    let n = 2000;
    let t = Instant::now();
    for _ in 0..n {
        c.devnet.ledger().view(&contract, "version", b"").unwrap();
    }
    println!(
        "a trivial call (the `version` view) takes {:.0} µs of CPU here: the VM's cost per call",
        t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
    );
    println!(
        "spread (max − min) / min: sign {:.2} %, respond {:.2} %, callback {:.2} %",
        spread(&|r| r.0),
        spread(&|r| r.1),
        spread(&|r| r.2)
    );
}
