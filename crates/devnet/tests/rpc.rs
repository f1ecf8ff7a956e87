//! The devnet running the signer contract's real wasm, driven over JSON-RPC by NEAR's own
//! client: set up by transactions, a `sign` resumed by a `respond`, a `sign` that times out
//! after 200 blocks (deposit kept, excess refunded), NEAR-shaped refusals that change nothing,
//! and a restart from the data dir.

use chain::rpc::{sign, CALL_GAS};
use chain::{BlockSource, Call, Chain, ChainError, DataChange, NearRpc, RpcBlocks};
use contract::storage::{decode_request, key_kind, KeyKind};
use contract::views::PendingRequestView;
use contract::RequestId;
use devnet::{Devnet, Genesis, GenesisAccount, NEAR};
use ed25519_dalek::SigningKey;
use near_jsonrpc_client::{methods, JsonRpcClient};
use near_jsonrpc_primitives::types::query::QueryResponseKind;
use near_jsonrpc_primitives::types::transactions::RpcTransactionError;
use near_primitives::hash::CryptoHash;
use near_primitives::transaction::{Action, FunctionCallAction, Transaction, TransactionV0};
use near_primitives::types::{Balance, BlockReference, Finality};
use near_primitives::views::{FinalExecutionStatus, QueryRequest, TxExecutionStatus};
use primitives::response::SignatureResponse;
use primitives::{DomainId, SignatureScheme};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use testkit::Keys;

const NODES: [&str; 3] = ["n0.test", "n1.test", "n2.test"];
const CONTRACT: &str = "signer.test";
const ALICE: usize = 3;
const BLOCK: Duration = Duration::from_millis(10);

struct Net {
    url: String,
    devnet: Arc<Devnet>,
    keys: Vec<(String, SigningKey)>,
    server: tokio::task::JoinHandle<()>,
    blocks: tokio::task::JoinHandle<()>,
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn near_key(k: &SigningKey) -> near_crypto::PublicKey {
    near_crypto::PublicKey::ED25519(near_crypto::ED25519PublicKey(k.verifying_key().to_bytes()))
}

fn accounts() -> Vec<(String, SigningKey)> {
    NODES
        .iter()
        .chain(&["alice.test", CONTRACT])
        .enumerate()
        .map(|(i, a)| (a.to_string(), key(i as u8 + 1)))
        .collect()
}

fn genesis() -> Result<Genesis, String> {
    let accounts = accounts()
        .into_iter()
        .map(|(account, k)| GenesisAccount {
            account_id: account.parse().unwrap(),
            balance: 100 * NEAR,
            keys: vec![near_key(&k)],
            wasm: (account == CONTRACT).then(testkit::signer_wasm),
        })
        .collect();
    Ok(Genesis {
        accounts,
        seed: [7; 32],
    })
}

/// Opens (or reopens) the chain in `dir` and serves it.
async fn start(dir: &Path) -> Net {
    // A stopped devnet's last block may still hold the database for a moment.
    let mut tries = 0;
    let devnet = loop {
        match Devnet::open(dir, genesis, BLOCK) {
            Ok((d, _)) => break d,
            Err(e) if tries < 50 => {
                tries += 1;
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("{e}"),
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = devnet.router();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let blocks = tokio::spawn({
        let d = devnet.clone();
        async move {
            let e = d.produce_blocks().await;
            panic!("blocks stopped: {e}");
        }
    });
    Net {
        url,
        devnet,
        keys: accounts(),
        server,
        blocks,
    }
}

impl Net {
    fn client(&self, i: usize) -> NearRpc {
        let (account, key) = &self.keys[i];
        NearRpc::new(&self.url, CONTRACT, account, key.clone()).unwrap()
    }

    async fn stop(self) {
        self.server.abort();
        self.blocks.abort();
        let _ = self.server.await;
        let _ = self.blocks.await;
    }

    fn balance(&self, account: &str) -> u128 {
        self.devnet.ledger().accounts[&account
            .parse::<near_primitives::types::AccountId>()
            .unwrap()]
            .balance
    }
}

/// The contract initialized by its own account, one Secp256k1 domain whose key the tests hold.
async fn set_up(net: &Net) {
    let root = Keys::new(5).public(SignatureScheme::Secp256k1);
    let participants = NODES
        .iter()
        .map(|a| chain::InitParticipant {
            account_id: a.to_string(),
            url: format!("https://{a}"),
            tls_public_key: root,
        })
        .collect();
    let init = Call::Init {
        participants,
        threshold: 2,
        config: None,
    };
    net.client(4).submit(init).await.unwrap();
    for i in 0..3 {
        let add = Call::VoteAddDomains {
            schemes: vec![SignatureScheme::Secp256k1],
            epoch: 0,
        };
        net.client(i).submit(add).await.unwrap();
    }
    net.client(0)
        .submit(Call::StartKeygenInstance { epoch: 0 })
        .await
        .unwrap();
    for i in 0..3 {
        let vote = Call::VotePk {
            domain_id: DomainId(0),
            public_key: root,
            epoch: 0,
        };
        net.client(i).submit(vote).await.unwrap();
    }
}

/// A node's view of the pending requests, learned as a node learns them: following the chain's
/// final blocks over RPC (`block` + `EXPERIMENTAL_changes`) and reading each block's request
/// records.
struct Follower {
    source: RpcBlocks,
    after: u64,
    pending: BTreeMap<RequestId, PendingRequestView>,
}

impl Follower {
    fn new(url: &str) -> Self {
        Self {
            source: RpcBlocks::new(url, CONTRACT, Duration::from_millis(10)).unwrap(),
            after: 0,
            pending: BTreeMap::new(),
        }
    }

    /// Reads every block produced so far; the pending requests after them.
    async fn catch_up(&mut self) -> Vec<PendingRequestView> {
        let next = self.source.next_heights(self.after, 10_000).await.unwrap();
        for height in next.heights {
            let block = self.source.changes(height).await.unwrap();
            for change in block.changes {
                let KeyKind::Request(id) = key_kind(change.key()) else {
                    continue;
                };
                match change {
                    DataChange::Write { value, .. } => {
                        let record = decode_request(&value).unwrap();
                        self.pending.insert(id, PendingRequestView::from(&record));
                    }
                    DataChange::Remove { .. } => {
                        self.pending.remove(&id);
                    }
                }
            }
            self.after = height;
        }
        self.pending.values().cloned().collect()
    }

    /// Follows blocks until `n` requests are pending.
    async fn until_pending(&mut self, n: usize) -> Vec<PendingRequestView> {
        for _ in 0..500 {
            let pending = self.catch_up().await;
            if pending.len() == n {
                return pending;
            }
        }
        panic!("never {n} pending: {:?}", self.pending.keys())
    }
}

async fn pending_count(rpc: &NearRpc) -> u64 {
    let load: serde_json::Value = rpc
        .view("system_load", serde_json::json!({}))
        .await
        .unwrap();
    load["pending_requests"].as_u64().unwrap()
}

fn sign_args(path: &str, fill: u8) -> Vec<u8> {
    let request = testkit::sign_request(0, SignatureScheme::Secp256k1, path, fill);
    serde_json::to_vec(&serde_json::json!({ "request": request })).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wasm_contract_signs_through_yield_and_resume_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let net = start(dir.path()).await;
    set_up(&net).await;
    let n0 = net.client(0);
    let state = n0.state().await.unwrap();
    assert_eq!(state.state, contract::views::Phase::Running);
    assert_eq!(state.domains.len(), 1);

    // Three `sign`s from one account are in flight at once; a node answers each.
    let alice = Arc::new(net.client(ALICE));
    let mut waiting = vec![];
    for i in 1..=3u8 {
        let alice = alice.clone();
        waiting.push((
            i,
            tokio::spawn(async move { alice.call("sign", sign_args("p", i), 1).await }),
        ));
    }
    let mut follower = Follower::new(&net.url);
    let pending = follower.until_pending(3).await;
    for r in &pending {
        assert_eq!(r.predecessor.0, "alice.test");
        let msg = r.payload.as_bytes().to_vec();
        let response = Keys::new(5).sign(SignatureScheme::Secp256k1, "alice.test", "p", &msg);
        n0.submit(Call::Respond {
            request_id: r.request_id,
            response,
        })
        .await
        .unwrap();
    }
    for (i, w) in waiting {
        let value = w.await.unwrap().unwrap();
        let answer: SignatureResponse = serde_json::from_slice(&value).unwrap();
        let root = Keys::new(5).public(SignatureScheme::Secp256k1);
        testkit::verify_independently(&root, "alice.test", "p", &[i; 32], &answer).unwrap();
    }

    // The contract's refusals come back as the contract's message.
    let err = n0
        .submit(Call::VoteJoin {
            candidate: "nobody.test".into(),
            epoch: 0,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ChainError::Rejected(m) if m.contains("not a registered candidate")),
        "{err}"
    );

    // NEAR's block and status views parse with NEAR's client.
    let client = JsonRpcClient::connect(&net.url);
    let status = client
        .call(methods::status::RpcStatusRequest)
        .await
        .unwrap();
    assert_eq!(status.chain_id, devnet::CHAIN_ID);
    let block = client
        .call(methods::block::RpcBlockRequest {
            block_reference: BlockReference::Finality(Finality::Final),
        })
        .await
        .unwrap();
    assert!(block.header.height >= status.sync_info.latest_block_height);
    client
        .call(methods::gas_price::RpcGasPriceRequest { block_id: None })
        .await
        .unwrap();
    let height_before = block.header.height;
    net.stop().await;

    // Reopened from its directory: the same contract state, keys, nonces; it goes on.
    let net = start(dir.path()).await;
    let n0 = net.client(0);
    assert_eq!(n0.state().await.unwrap(), state);
    assert!(net.devnet.ledger().height >= height_before);
    let alice = net.client(ALICE);
    let asked = tokio::spawn(async move { alice.call("sign", sign_args("after", 9), 1).await });
    // A node that was following before the restart goes on from where it was.
    follower.source = RpcBlocks::new(&net.url, CONTRACT, Duration::from_millis(10)).unwrap();
    let r = follower.until_pending(1).await.remove(0);
    let response = Keys::new(5).sign(SignatureScheme::Secp256k1, "alice.test", "after", &[9; 32]);
    n0.submit(Call::Respond {
        request_id: r.request_id,
        response: response.clone(),
    })
    .await
    .unwrap();
    let value = asked.await.unwrap().unwrap();
    assert_eq!(
        serde_json::from_slice::<SignatureResponse>(&value).unwrap(),
        response
    );
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_sign_times_out_after_200_blocks_keeping_only_the_deposit() {
    let dir = tempfile::tempdir().unwrap();
    let net = start(dir.path()).await;
    set_up(&net).await;
    let client = JsonRpcClient::connect(&net.url);
    let (account, k) = &net.keys[ALICE];
    let before = (net.balance(account), net.balance(CONTRACT));
    let tx = Transaction::V0(TransactionV0 {
        signer_id: account.parse().unwrap(),
        public_key: near_key(k),
        nonce: 1,
        receiver_id: CONTRACT.parse().unwrap(),
        block_hash: CryptoHash::default(),
        actions: vec![Action::FunctionCall(Box::new(FunctionCallAction {
            method_name: "sign".into(),
            args: sign_args("late", 1),
            gas: near_primitives::gas::Gas::from_gas(CALL_GAS),
            deposit: Balance::from_yoctonear(1000),
        }))],
    });
    let sent_at = net.devnet.ledger().height;
    // broadcast_tx_commit waits for the outcome, as on NEAR.
    let outcome = client
        .call(methods::broadcast_tx_commit::RpcBroadcastTxCommitRequest {
            signed_transaction: sign(k, tx),
        })
        .await
        .unwrap();
    let waited = net.devnet.ledger().height - sent_at;
    assert!(
        (200..230).contains(&waited),
        "answered after {waited} blocks"
    );
    let FinalExecutionStatus::Failure(failure) = &outcome.status else {
        panic!("expected a failure, got {:?}", outcome.status);
    };
    let json = serde_json::to_value(failure).unwrap();
    let message = json["ActionError"]["kind"]["FunctionCallError"]["ExecutionError"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.starts_with("Smart contract panicked:") && message.contains("timed out"),
        "{json}"
    );
    // Gas and fees are reported (the transaction's send fees, each receipt's execution fees
    // and gas); the excess deposit came back at once and the 1 yoctoNEAR stays: the signer
    // paid exactly what was burnt, the rest of the prepaid gas came back.
    let sent = outcome
        .transaction_outcome
        .outcome
        .tokens_burnt
        .as_yoctonear();
    assert!(sent > 0);
    let burnt: u128 = sent
        + outcome
            .receipts_outcome
            .iter()
            .map(|r| r.outcome.tokens_burnt.as_yoctonear())
            .sum::<u128>();
    let mut contract_runs = outcome
        .receipts_outcome
        .iter()
        .filter(|r| r.outcome.executor_id.as_str() == CONTRACT);
    assert!(contract_runs.clone().count() >= 2, "sign and its callback");
    assert!(contract_runs.all(|r| r.outcome.gas_burnt.as_gas() > 0));
    let after = (net.balance(account), net.balance(CONTRACT));
    assert_eq!(after.0, before.0 - 1 - burnt);
    assert_eq!(after.1, before.1 + 1);
    // Nothing is left pending.
    assert_eq!(pending_count(&net.client(0)).await, 0);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_transactions_are_refused_in_nears_shape_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let net = start(dir.path()).await;
    set_up(&net).await;
    let client = JsonRpcClient::connect(&net.url);
    let (account, k) = net.keys[ALICE].clone();
    let tx = |nonce: u64, signer: &str, receiver: &str, deposit: u128| {
        Transaction::V0(TransactionV0 {
            signer_id: signer.parse().unwrap(),
            public_key: near_key(&k),
            nonce,
            receiver_id: receiver.parse().unwrap(),
            block_hash: CryptoHash::default(),
            actions: vec![Action::FunctionCall(Box::new(FunctionCallAction {
                method_name: "sign".into(),
                args: sign_args("bad", nonce as u8),
                gas: near_primitives::gas::Gas::from_gas(CALL_GAS),
                deposit: Balance::from_yoctonear(deposit),
            }))],
        })
    };
    let send = |signed| {
        client.call(methods::send_tx::RpcSendTransactionRequest {
            signed_transaction: signed,
            wait_until: TxExecutionStatus::None,
        })
    };
    let invalid = |e: near_jsonrpc_client::errors::JsonRpcError<RpcTransactionError>| {
        let refused = matches!(
            e.handler_error(),
            Some(RpcTransactionError::InvalidTransaction { .. })
        );
        assert!(refused, "{e:?}");
    };
    let balance = net.balance(&account);
    // Signed by another key; from an account the chain does not know; a key it does not have.
    invalid(
        send(sign(&key(99), tx(1, &account, CONTRACT, 1)))
            .await
            .unwrap_err(),
    );
    invalid(
        send(sign(&k, tx(1, "ghost.test", CONTRACT, 1)))
            .await
            .unwrap_err(),
    );
    // More deposit than the account holds.
    invalid(
        send(sign(&k, tx(1, &account, CONTRACT, 1000 * NEAR)))
            .await
            .unwrap_err(),
    );
    // A good one (no deposit: the contract refuses it), then its nonce again, then an older one.
    let response = client
        .call(methods::send_tx::RpcSendTransactionRequest {
            signed_transaction: sign(&k, tx(5, &account, CONTRACT, 0)),
            wait_until: TxExecutionStatus::ExecutedOptimistic,
        })
        .await
        .unwrap();
    let outcome = response.final_execution_outcome.unwrap().into_outcome();
    let FinalExecutionStatus::Failure(e) = outcome.status else {
        panic!("a sign without deposit ran: {:?}", outcome.status);
    };
    assert!(
        format!("{e}").contains("attach at least 1 yoctoNEAR"),
        "{e}"
    );
    invalid(
        send(sign(&k, tx(5, &account, CONTRACT, 1)))
            .await
            .unwrap_err(),
    );
    invalid(
        send(sign(&k, tx(4, &account, CONTRACT, 1)))
            .await
            .unwrap_err(),
    );
    // A receiver that does not exist: admitted, then fails as NEAR fails it.
    let response = client
        .call(methods::send_tx::RpcSendTransactionRequest {
            signed_transaction: sign(&k, tx(6, &account, "elsewhere.test", 0)),
            wait_until: TxExecutionStatus::ExecutedOptimistic,
        })
        .await
        .unwrap();
    let outcome = response.final_execution_outcome.unwrap().into_outcome();
    let json = serde_json::to_value(&outcome.status).unwrap();
    assert_eq!(
        json["Failure"]["ActionError"]["kind"]["AccountDoesNotExist"]["account_id"],
        "elsewhere.test",
        "{json}"
    );
    // Nothing refused ran: no request is pending, only gas was spent, the key's nonce is 6.
    assert_eq!(pending_count(&net.client(0)).await, 0);
    assert!(net.balance(&account) <= balance);
    assert!(balance - net.balance(&account) < NEAR / 100);
    let key_view = client
        .call(methods::query::RpcQueryRequest {
            block_reference: BlockReference::Finality(Finality::Final),
            request: QueryRequest::ViewAccessKey {
                account_id: account.parse().unwrap(),
                public_key: near_key(&k),
            },
        })
        .await
        .unwrap();
    let QueryResponseKind::AccessKey(ak) = key_view.kind else {
        panic!("not an access key");
    };
    assert_eq!(ak.nonce, 6);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_json_rpc_errors() {
    let dir = tempfile::tempdir().unwrap();
    let net = start(dir.path()).await;
    let http = reqwest::Client::new();
    let post = |body: &'static str| {
        http.post(&net.url)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    async fn json(r: reqwest::Response) -> serde_json::Value {
        r.json().await.unwrap()
    }
    let v = json(post("{not json").await.unwrap()).await;
    assert_eq!(v["error"]["code"], -32700, "{v}");
    let v = json(
        post(r#"{"jsonrpc":"2.0","id":1,"method":"frobnicate","params":[]}"#)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["error"]["code"], -32601, "{v}");
    assert_eq!(v["id"], 1);
    let v = json(
        post(r#"{"jsonrpc":"2.0","id":2,"method":"broadcast_tx_commit","params":["!!!"]}"#)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["error"]["name"], "REQUEST_VALIDATION_ERROR", "{v}");
    let v = json(post(r#"{"jsonrpc":"2.0","id":3,"method":"query","params":{"request_type":"call_function","finality":"final","account_id":"other.test","method_name":"state","args_base64":""}}"#).await.unwrap()).await;
    assert_eq!(v["error"]["cause"]["name"], "UNKNOWN_ACCOUNT", "{v}");
    // The uninitialized contract says so in `state`, and its other views fail in the
    // contract, as NEAR reports it.
    let state: contract::views::StateView = net.client(0).state().await.unwrap();
    assert_eq!(state.state, contract::views::Phase::NotInitialized);
    let v = json(post(r#"{"jsonrpc":"2.0","id":4,"method":"query","params":{"request_type":"call_function","finality":"final","account_id":"signer.test","method_name":"public_key","args_base64":"e30="}}"#).await.unwrap()).await;
    assert_eq!(
        v["error"]["cause"]["name"], "CONTRACT_EXECUTION_ERROR",
        "{v}"
    );
    assert!(v.to_string().contains("not initialized"), "{v}");
    let v = json(post(r#"{"jsonrpc":"2.0","id":5,"method":"tx","params":{"tx_hash":"11111111111111111111111111111111","sender_account_id":"alice.test"}}"#).await.unwrap()).await;
    assert_eq!(v["error"]["cause"]["name"], "UNKNOWN_TRANSACTION", "{v}");
    net.stop().await;
}

/// A client reuses the access key's nonce and block hash between calls instead of asking the
/// RPC node before each one; when another process sends with the same key, the next call is
/// refused for its nonce, reads the key afresh and goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_sharing_a_key_recover_from_each_others_nonces() {
    let dir = tempfile::tempdir().unwrap();
    let net = start(dir.path()).await;
    set_up(&net).await;
    let (a, b) = (net.client(ALICE), net.client(ALICE));
    for _ in 0..3 {
        for client in [&a, &b] {
            let sent = client.send("state", b"{}".to_vec(), 0).await.unwrap();
            client.outcome(sent).await.unwrap();
        }
    }
    net.stop().await;
}

/// Two holders of one key sending at once (a node answering requests, its operator's
/// `chainsig contract`): while one keeps transactions coming, the other's nonce, read from the
/// last final block, is taken again and again; it still gets its calls through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_goes_through_while_another_holder_of_the_key_keeps_sending() {
    let dir = tempfile::tempdir().unwrap();
    let net = start(dir.path()).await;
    set_up(&net).await;
    let node = std::sync::Arc::new(net.client(ALICE));
    let operator = net.client(ALICE);
    let busy = {
        let node = node.clone();
        tokio::spawn(async move {
            loop {
                // The node's own sends recover by themselves; only the operator's are checked.
                let _ = node.send("state", b"{}".to_vec(), 0).await;
                tokio::task::yield_now().await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..5 {
        operator.call("state", b"{}".to_vec(), 0).await.unwrap();
    }
    busy.abort();
    net.stop().await;
}

/// An app developer's flow, as near-api-js's `createAccount` / `deployContract` send it: one
/// batch creates a sub-account, funds it, adds a full-access and a function-call key and
/// deploys code; the RPC views show the keys with their permissions, the code and the
/// account's size; the function-call key is refused for a transfer and another account's
/// sub-account cannot be created, both in nearcore's JSON shapes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sub_account_with_keys_and_code_is_created_and_viewed_in_nears_shape() {
    use near_primitives::account::{AccessKey, AccessKeyPermission, FunctionCallPermission};
    use near_primitives::errors::{ActionErrorKind, InvalidAccessKeyError, InvalidTxError};
    use near_primitives::transaction::{
        AddKeyAction, CreateAccountAction, DeployContractAction, TransferAction,
    };
    use near_primitives::views::AccessKeyPermissionView;
    let dir = tempfile::tempdir().unwrap();
    let net = start(dir.path()).await;
    let client = JsonRpcClient::connect(&net.url);
    let (alice, k) = net.keys[ALICE].clone();
    let app = format!("app.{alice}");
    let (full, limited) = (key(50), key(51));
    let code = testkit::signer_wasm();
    let permission = FunctionCallPermission {
        allowance: Some(Balance::from_yoctonear(NEAR)),
        receiver_id: CONTRACT.into(),
        method_names: vec!["state".into()],
    };
    let tx = |signer: &str, k: &SigningKey, nonce: u64, receiver: &str, actions| {
        sign(
            k,
            Transaction::V0(TransactionV0 {
                signer_id: signer.parse().unwrap(),
                public_key: near_key(k),
                nonce,
                receiver_id: receiver.parse().unwrap(),
                block_hash: CryptoHash::default(),
                actions,
            }),
        )
    };
    let batch = vec![
        Action::CreateAccount(CreateAccountAction {}),
        // The signer contract's ~700 kB need ~7 NEAR of storage stake: 10 NEAR covers them.
        Action::Transfer(TransferAction {
            deposit: Balance::from_yoctonear(10 * NEAR),
        }),
        Action::AddKey(Box::new(AddKeyAction {
            public_key: near_key(&full),
            access_key: AccessKey::full_access(),
        })),
        Action::AddKey(Box::new(AddKeyAction {
            public_key: near_key(&limited),
            access_key: AccessKey {
                nonce: 0,
                permission: AccessKeyPermission::FunctionCall(permission.clone()),
            },
        })),
        Action::DeployContract(DeployContractAction { code: code.clone() }),
    ];
    let send = |signed| {
        client.call(methods::send_tx::RpcSendTransactionRequest {
            signed_transaction: signed,
            wait_until: TxExecutionStatus::ExecutedOptimistic,
        })
    };
    let outcome = send(tx(&alice, &k, 1, &app, batch)).await.unwrap();
    let outcome = outcome.final_execution_outcome.unwrap().into_outcome();
    assert!(
        matches!(outcome.status, FinalExecutionStatus::SuccessValue(_)),
        "{:?}",
        outcome.status
    );
    let query = |request| {
        client.call(methods::query::RpcQueryRequest {
            block_reference: BlockReference::Finality(Finality::Final),
            request,
        })
    };
    let account_id: near_primitives::types::AccountId = app.parse().unwrap();
    let QueryResponseKind::ViewAccount(view) = query(QueryRequest::ViewAccount {
        account_id: account_id.clone(),
    })
    .await
    .unwrap()
    .kind
    else {
        panic!("not an account");
    };
    assert_eq!(view.amount.as_yoctonear(), 10 * NEAR);
    assert_eq!(view.code_hash, CryptoHash::hash_bytes(&code));
    let limited_key = AccessKey {
        nonce: 0,
        permission: AccessKeyPermission::FunctionCall(permission.clone()),
    };
    let key_bytes = |k: &AccessKey| borsh::object_length(k).unwrap() as u64 + 33 + 40;
    let expected =
        100 + code.len() as u64 + key_bytes(&AccessKey::full_access()) + key_bytes(&limited_key);
    assert_eq!(view.storage_usage, expected);
    let QueryResponseKind::ViewCode(view) = query(QueryRequest::ViewCode {
        account_id: account_id.clone(),
    })
    .await
    .unwrap()
    .kind
    else {
        panic!("not code");
    };
    assert_eq!(view.code, code);
    let QueryResponseKind::AccessKey(view) = query(QueryRequest::ViewAccessKey {
        account_id: account_id.clone(),
        public_key: near_key(&limited),
    })
    .await
    .unwrap()
    .kind
    else {
        panic!("not an access key");
    };
    assert_eq!(
        view.permission,
        AccessKeyPermissionView::FunctionCall {
            allowance: Some(Balance::from_yoctonear(NEAR)),
            receiver_id: CONTRACT.into(),
            method_names: vec!["state".into()],
        }
    );
    let QueryResponseKind::AccessKeyList(list) = query(QueryRequest::ViewAccessKeyList {
        account_id: account_id.clone(),
        after_key: None,
        limit: None,
    })
    .await
    .unwrap()
    .kind
    else {
        panic!("not a key list");
    };
    assert_eq!(list.keys.len(), 2);
    // The function-call key may not sign a transfer: refused as nearcore refuses it.
    let nonce = view.nonce + 1;
    let transfer = vec![Action::Transfer(TransferAction {
        deposit: Balance::from_yoctonear(1),
    })];
    let e = send(tx(&app, &limited, nonce, &alice, transfer))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e.handler_error(),
            Some(RpcTransactionError::InvalidTransaction {
                context: InvalidTxError::InvalidAccessKeyError(
                    InvalidAccessKeyError::RequiresFullAccess
                )
            })
        ),
        "{e:?}"
    );
    // Another account's sub-account is not the app's to create.
    let other = format!("x.{}", NODES[0]);
    let create = vec![Action::CreateAccount(CreateAccountAction {})];
    let outcome = send(tx(&app, &full, nonce, &other, create)).await.unwrap();
    let outcome = outcome.final_execution_outcome.unwrap().into_outcome();
    let FinalExecutionStatus::Failure(failure) = outcome.status else {
        panic!("created another's sub-account");
    };
    let near_primitives::errors::TxExecutionError::ActionError(e) = failure else {
        panic!("{failure:?}");
    };
    assert!(
        matches!(e.kind, ActionErrorKind::CreateAccountNotAllowed { .. }),
        "{e:?}"
    );
    net.stop().await;
}
