//! Nodes that follow the chain through two sources act only on what both report. One source
//! lies: it rewrites a user's `sign` request in the block that carries it so that the request
//! appears to come from another account (whose derived key the liar wants a signature under).
//! Alone, that source would hand every node a well-formed request from the victim; checked
//! against an honest source, the nodes stop at that block, say why in `/health`, and sign
//! nothing until the sources agree again, and then sign what the user really asked.

mod cluster;

use async_trait::async_trait;
use chain::agree::AgreeingBlocks;
use chain::{BlockChanges, BlockSource, DataChange, Heights, LocalClient, SourceError};
use cluster::Cluster;
use contract::storage::{key_kind, KeyKind, RequestRecord};
use primitives::SignatureScheme;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const VICTIM: &str = "victim.test";

/// A source that, while `lie` is set, makes every request written look like the victim's.
struct Lying {
    inner: LocalClient,
    lie: Arc<AtomicBool>,
}

fn forge(change: DataChange) -> DataChange {
    let DataChange::Write { key, value } = change else {
        return change;
    };
    if !matches!(key_kind(&key), KeyKind::Request(_)) {
        return DataChange::Write { key, value };
    }
    let mut request = contract::storage::decode_request(&value).unwrap();
    request.predecessor = contract::AccountId(VICTIM.into());
    let value = borsh::to_vec(&RequestRecord::V1(request)).unwrap();
    DataChange::Write { key, value }
}

#[async_trait]
impl BlockSource for Lying {
    fn describe(&self) -> String {
        "a lying RPC".into()
    }
    async fn head(&self) -> Result<u64, SourceError> {
        self.inner.head().await
    }
    async fn next_heights(&self, after: u64, limit: usize) -> Result<Heights, SourceError> {
        self.inner.next_heights(after, limit).await
    }
    async fn changes(&self, height: u64) -> Result<BlockChanges, SourceError> {
        let mut block = self.inner.changes(height).await?;
        if self.lie.load(Ordering::Relaxed) {
            block.changes = block.changes.into_iter().map(forge).collect();
        }
        Ok(block)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lying_source_checked_against_an_honest_one_gets_nothing_signed() {
    cluster::init_logs();
    let mut c = Cluster::new(4, 3).await;
    c.add_domains(&[SignatureScheme::Ed25519]).await;
    let domain = c.state().domains[0].clone();
    let lie = Arc::new(AtomicBool::new(false));
    for i in 0..c.members.len() {
        c.stop(i).await;
        let account = c.members[i].account.clone();
        let honest = Arc::new(LocalClient::new(c.chain.clone(), account.clone()));
        let liar = Arc::new(Lying {
            inner: LocalClient::new(c.chain.clone(), account),
            lie: lie.clone(),
        });
        c.members[i].blocks = Some(Arc::new(AgreeingBlocks::new(honest, vec![liar])));
        c.start(i).await;
    }
    c.sign_and_verify(&domain, ("agreed", 3, 2), Duration::from_secs(60))
        .await;

    lie.store(true, Ordering::Relaxed);
    let from = c.chain.lock().unwrap().final_height();
    let ticket = c.request("alice.test", domain.id.0, domain.scheme, "wallet", 9);
    c.wait(
        "every node to stop at the forged block",
        Duration::from_secs(20),
        |c| {
            c.statuses().iter().all(|s| {
                !s.healthy
                    && s.indexer
                        .error
                        .as_deref()
                        .is_some_and(|e| e.contains("disagree"))
            })
        },
    )
    .await;
    // What the liar serves is a well-formed request, from the victim.
    let liar = Lying {
        inner: LocalClient::new(c.chain.clone(), "anyone.test"),
        lie: lie.clone(),
    };
    let head = c.chain.lock().unwrap().final_height();
    let mut forged = vec![];
    for h in from + 1..=head {
        let block = liar.changes(h).await.unwrap();
        forged.extend(
            node::indexer::fold(&block.changes)
                .requests
                .into_values()
                .flatten(),
        );
    }
    assert!(
        forged.iter().any(|r| r.predecessor.0 == VICTIM),
        "{forged:?}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        c.chain.lock().unwrap().result(ticket).is_none(),
        "nothing is signed while the sources disagree"
    );
    let s = &c.statuses()[0];
    let why = s.indexer.error.clone().unwrap();
    assert!(
        why.contains("the in-process chain and a lying RPC"),
        "{why}"
    );

    // The liar stops lying: the nodes read on, and sign what alice asked, as alice's.
    lie.store(false, Ordering::Relaxed);
    let answer = c.answers(&[ticket], Duration::from_secs(60)).await;
    let payload = testkit::payload_bytes(domain.scheme, 9);
    testkit::verify_independently(
        &domain.public_key,
        "alice.test",
        "wallet",
        &payload,
        &answer[0],
    )
    .unwrap();
    c.shutdown().await;
}
