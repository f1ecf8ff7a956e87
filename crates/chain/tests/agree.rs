//! Chains that must agree: the contract's views are answered only when every source shows the
//! same, and calls go through the first source alone.

use chain::agree::AgreeingChain;
use chain::{Call, Chain, ChainError, LocalChain, LocalClient, SharedChain};
use primitives::SignatureScheme;
use std::sync::{Arc, Mutex};
use testkit::Keys;

/// A chain whose contract lists three nodes, the first at `first_url`.
fn chain(first_url: &str) -> SharedChain {
    let mut c = LocalChain::new("signer.near", [7; 32]);
    let participants = ["n0.near", "n1.near", "n2.near"]
        .iter()
        .enumerate()
        .map(|(i, a)| chain::InitParticipant {
            account_id: a.to_string(),
            url: if i == 0 {
                first_url.to_owned()
            } else {
                format!("https://{a}")
            },
            tls_public_key: Keys::new(5).public(SignatureScheme::Ed25519),
        })
        .collect();
    let init = Call::Init {
        participants,
        threshold: 2,
        config: None,
    };
    c.call("signer.near", 0, init).unwrap();
    Arc::new(Mutex::new(c))
}

fn client(c: &SharedChain) -> Arc<dyn Chain> {
    Arc::new(LocalClient::new(c.clone(), "n1.near"))
}

#[tokio::test]
async fn views_are_answered_only_when_every_source_agrees() {
    let (honest, twin) = (chain("https://n0.near"), chain("https://n0.near"));
    let agreeing = AgreeingChain::new(client(&honest), vec![client(&twin)]);
    let state = agreeing.state().await.unwrap();
    assert_eq!(state.participants[0].url, "https://n0.near");
    assert_eq!(
        agreeing.config().await.unwrap(),
        client(&honest).config().await.unwrap()
    );
    assert_eq!(agreeing.account_id(), "n1.near");

    // A source that points node 0's peers elsewhere is not believed.
    let liar = chain("https://evil.example");
    let checked = AgreeingChain::new(client(&honest), vec![client(&twin), client(&liar)]);
    match checked.state().await {
        Err(e @ ChainError::Disagree(_)) => {
            let why = e.to_string();
            assert!(
                why.contains("disagree on state()") && why.contains("source 3"),
                "{why}"
            )
        }
        other => panic!("{other:?}"),
    }

    // Calls go through the first chain only: the last vote for a domain lands there and not
    // on the twin, and from then on the two disagree.
    let vote = || Call::VoteAddDomains {
        schemes: vec![SignatureScheme::Ed25519],
        epoch: 0,
    };
    for other in ["n0.near", "n2.near"] {
        honest.lock().unwrap().call(other, 0, vote()).unwrap();
    }
    agreeing.submit(vote()).await.unwrap();
    assert_ne!(
        client(&honest).state().await.unwrap(),
        client(&twin).state().await.unwrap()
    );
    assert!(agreeing.state().await.is_err());
}
