//! The devnet behind NEAR's JSON-RPC, driven by NEAR's own client: views, signed function
//! calls, a `sign` that waits for its answer, and NEAR-shaped refusals that change nothing.

use chain::devnet::Devnet;
use chain::rpc::{sign, CALL_GAS};
use chain::{Call, Chain, ChainError, LocalChain, NearRpc};
use ed25519_dalek::SigningKey;
use near_jsonrpc_client::{methods, JsonRpcClient};
use near_jsonrpc_primitives::types::transactions::RpcTransactionError;
use near_primitives::hash::CryptoHash;
use near_primitives::transaction::{Action, FunctionCallAction, Transaction, TransactionV0};
use near_primitives::types::Balance;
use near_primitives::views::TxExecutionStatus;
use primitives::response::SignatureResponse;
use primitives::{DomainId, SignatureScheme};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::Keys;

const NODES: [&str; 3] = ["n0.test", "n1.test", "n2.test"];

struct Net {
    url: String,
    devnet: Arc<Devnet>,
    keys: Vec<(String, SigningKey)>,
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

async fn devnet() -> Net {
    let root = Keys::new(5).public(SignatureScheme::Secp256k1);
    let mut c = LocalChain::new([1; 32]);
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
    c.call("signer.test", 0, init).unwrap();
    for a in NODES {
        let add = Call::VoteAddDomains {
            schemes: vec![SignatureScheme::Secp256k1],
            epoch: 0,
        };
        c.call(a, 0, add).unwrap();
    }
    c.call(NODES[0], 0, Call::StartKeygenInstance { epoch: 0 })
        .unwrap();
    for a in NODES {
        let vote = Call::VotePk {
            domain_id: DomainId(0),
            public_key: root,
            epoch: 0,
        };
        c.call(a, 0, vote).unwrap();
    }
    let devnet = Devnet::new(
        Arc::new(Mutex::new(c)),
        "signer.test",
        Duration::from_millis(20),
    )
    .unwrap();
    let mut keys = vec![];
    for (i, account) in NODES.iter().chain(&["alice.test"]).enumerate() {
        let k = key(i as u8 + 1);
        devnet
            .add_key(account, k.verifying_key().to_bytes())
            .unwrap();
        keys.push((account.to_string(), k));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = devnet.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    tokio::spawn(devnet.clone().produce_blocks());
    Net { url, devnet, keys }
}

impl Net {
    fn client(&self, i: usize) -> NearRpc {
        let (account, key) = &self.keys[i];
        NearRpc::new(&self.url, "signer.test", account, key.clone()).unwrap()
    }
}

#[tokio::test]
async fn views_calls_and_a_sign_that_waits_for_its_answer() {
    let net = devnet().await;
    let n0 = net.client(0);
    let state = n0.state().await.unwrap();
    assert_eq!(state.state, "Running");
    assert_eq!(state.domains.len(), 1);
    assert_eq!(n0.account_id(), "n0.test");

    // Three `sign`s from one account are in flight at once: each waits for its answer, none
    // waits for the others.
    let alice = Arc::new(net.client(3));
    let mut waiting = vec![];
    for i in 1..=3u8 {
        let request = testkit::sign_request(0, SignatureScheme::Secp256k1, "p", i);
        let args = serde_json::to_vec(&serde_json::json!({ "request": request })).unwrap();
        let alice = alice.clone();
        waiting.push((
            i,
            tokio::spawn(async move { alice.call("sign", args, 1).await }),
        ));
    }
    let pending = loop {
        let page = n0.pending_requests(None, 10).await.unwrap();
        if page.requests.len() == 3 {
            break page.requests;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for r in &pending {
        assert_eq!(r.predecessor.0, "alice.test");
        let msg = r.payload.as_bytes().to_vec();
        let response = Keys::new(5).sign(SignatureScheme::Secp256k1, "alice.test", "p", &msg);
        let respond = Call::Respond {
            request_id: r.request_id,
            response,
        };
        n0.submit(respond).await.unwrap();
    }
    for (i, w) in waiting {
        let value = w.await.unwrap().unwrap();
        let answer: SignatureResponse = serde_json::from_slice(&value).unwrap();
        let expected = Keys::new(5).sign(SignatureScheme::Secp256k1, "alice.test", "p", &[i; 32]);
        assert_eq!(answer, expected);
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
    let err = n0
        .view::<serde_json::Value>("no_such_view", serde_json::json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, ChainError::Rejected(_)), "{err}");
}

#[tokio::test]
async fn bad_transactions_are_refused_in_nears_shape_and_change_nothing() {
    let net = devnet().await;
    let client = JsonRpcClient::connect(&net.url);
    let (account, k) = &net.keys[0];
    let tx = |nonce: u64, signer: &str, receiver: &str| {
        Transaction::V0(TransactionV0 {
            signer_id: signer.parse().unwrap(),
            public_key: near_crypto::PublicKey::ED25519(near_crypto::ED25519PublicKey(
                k.verifying_key().to_bytes(),
            )),
            nonce,
            receiver_id: receiver.parse().unwrap(),
            block_hash: CryptoHash::default(),
            actions: vec![Action::FunctionCall(Box::new(FunctionCallAction {
                method_name: "vote_abort".into(),
                args: br#"{"epoch": 0}"#.to_vec(),
                gas: near_primitives::gas::Gas::from_gas(CALL_GAS),
                deposit: Balance::from_yoctonear(0),
            }))],
        })
    };
    let send = |signed| {
        client.call(methods::send_tx::RpcSendTransactionRequest {
            signed_transaction: signed,
            wait_until: TxExecutionStatus::ExecutedOptimistic,
        })
    };
    let invalid = |e: near_jsonrpc_client::errors::JsonRpcError<RpcTransactionError>| {
        matches!(
            e.handler_error(),
            Some(RpcTransactionError::InvalidTransaction { .. })
        )
    };
    // Signed by another key.
    let forged = sign(&key(99), tx(1, account, "signer.test"));
    assert!(invalid(send(forged).await.unwrap_err()));
    // An account the chain does not know.
    assert!(invalid(
        send(sign(k, tx(1, "ghost.test", "signer.test")))
            .await
            .unwrap_err()
    ));
    // A receiver the devnet does not host.
    assert!(invalid(
        send(sign(k, tx(1, account, "elsewhere.test")))
            .await
            .unwrap_err()
    ));
    // A good one, then its nonce again.
    let good = send(sign(k, tx(5, account, "signer.test"))).await.unwrap();
    assert!(good.final_execution_outcome.is_some());
    assert!(invalid(
        send(sign(k, tx(5, account, "signer.test")))
            .await
            .unwrap_err()
    ));
    assert!(invalid(
        send(sign(k, tx(4, account, "signer.test")))
            .await
            .unwrap_err()
    ));
    // Nothing of the refused ones ran: the next nonce is still 6.
    send(sign(k, tx(6, account, "signer.test"))).await.unwrap();
    let _ = &net.devnet;
}

#[tokio::test]
async fn malformed_requests_get_json_rpc_errors() {
    let net = devnet().await;
    let http = reqwest::Client::new();
    let post = |body: &'static str| {
        http.post(&net.url)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let err = |v: serde_json::Value| v["error"].clone();
    let v: serde_json::Value = post("{not json").await.unwrap().json().await.unwrap();
    assert_eq!(err(v)["code"], -32700);
    let v: serde_json::Value =
        post(r#"{"jsonrpc":"2.0","id":1,"method":"frobnicate","params":[]}"#)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(err(v.clone())["code"], -32601, "{v}");
    assert_eq!(v["id"], 1);
    let v: serde_json::Value =
        post(r#"{"jsonrpc":"2.0","id":2,"method":"broadcast_tx_commit","params":["!!!"]}"#)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert!(v["error"].is_object(), "{v}");
    let v: serde_json::Value = post(r#"{"jsonrpc":"2.0","id":3,"method":"query","params":{"request_type":"call_function","finality":"final","account_id":"other.test","method_name":"state","args_base64":""}}"#)
        .await.unwrap().json().await.unwrap();
    assert_eq!(v["error"]["cause"]["name"], "UNKNOWN_ACCOUNT", "{v}");
}
