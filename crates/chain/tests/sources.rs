//! The block sources against what can go wrong with them: an RPC endpoint that answers
//! nonsense or fails, a NEAR Lake bucket (a real S3 API on loopback) with missing and broken
//! objects or gone entirely. Each failure is a typed error the indexer retries; what parses is
//! read exactly.

use chain::lake::{block_key, shard_key, Credentials, LakeBlocks, LakeClient, LakeConfig};
use chain::{BlockSource, DataChange, RpcBlocks, SourceError};
use near_indexer_primitives::views::{
    StateChangeCauseView, StateChangeValueView, StateChangeWithCauseView,
};
use near_indexer_primitives::{IndexerShard, StreamerMessage};
use std::time::Duration;
use testkit::s3::{S3Server, ACCESS_KEY, SECRET_KEY};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONTRACT: &str = "signer.test";

/// A server that answers every request with `status` and `body`.
async fn answering(status: &'static str, body: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(reply.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn an_rpc_endpoint_that_fails_gives_typed_errors() {
    let idle = Duration::from_millis(10);
    let garbage = RpcBlocks::new(&answering("200 OK", "{not json").await, CONTRACT, idle).unwrap();
    assert!(matches!(
        garbage.head().await,
        Err(SourceError::Malformed(_))
    ));
    let wrong = r#"{"jsonrpc":"2.0","id":"x","result":{"header":7}}"#;
    let wrong = RpcBlocks::new(&answering("200 OK", wrong).await, CONTRACT, idle).unwrap();
    assert!(matches!(
        wrong.changes(5).await,
        Err(SourceError::Malformed(_))
    ));
    let failing = RpcBlocks::new(
        &answering("500 Internal Server Error", "").await,
        CONTRACT,
        idle,
    )
    .unwrap();
    assert!(matches!(
        failing.head().await,
        Err(SourceError::Unreachable(_))
    ));
    let port = node_free_port();
    let down = RpcBlocks::new(&format!("http://127.0.0.1:{port}"), CONTRACT, idle).unwrap();
    let e = down.next_heights(0, 10).await.unwrap_err();
    assert!(matches!(e, SourceError::Unreachable(_)), "{e}");
    assert_eq!(e.kind(), "unreachable");
}

fn node_free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn lake(server: &S3Server, credentials: Option<Credentials>) -> LakeClient {
    let config = LakeConfig {
        endpoint: server.endpoint(),
        bucket: "blocks".into(),
        region: "us-east-1".into(),
        requester_pays: false,
    };
    LakeClient::new(&config, credentials).unwrap()
}

fn credentials() -> Option<Credentials> {
    Some(Credentials::new(ACCESS_KEY, SECRET_KEY))
}

/// A block's objects with one write of `key` on the contract (and one of another account).
fn message(height: u64, key: &[u8]) -> StreamerMessage {
    let block = serde_json::json!({
        "author": "devnet",
        "header": serde_json::to_value(near_primitives::views::BlockHeaderView {
            height,
            ..Default::default()
        }).unwrap(),
        "chunks": [serde_json::to_value(chunk(height)).unwrap()],
    });
    let change = |account: &str| StateChangeWithCauseView {
        cause: StateChangeCauseView::ReceiptProcessing {
            receipt_hash: Default::default(),
        },
        value: StateChangeValueView::DataUpdate {
            account_id: account.parse().unwrap(),
            key: key.to_vec().into(),
            value: vec![height as u8].into(),
        },
    };
    StreamerMessage {
        block: serde_json::from_value(block).unwrap(),
        shards: vec![IndexerShard {
            shard_id: near_primitives::types::ShardId::new(0),
            chunk: None,
            receipt_execution_outcomes: vec![],
            state_changes: vec![change(CONTRACT), change("other.test")],
        }],
    }
}

fn chunk(height: u64) -> near_primitives::views::ChunkHeaderView {
    let json = serde_json::json!({
        "chunk_hash": "11111111111111111111111111111111", "prev_block_hash": "11111111111111111111111111111111",
        "outcome_root": "11111111111111111111111111111111", "prev_state_root": "11111111111111111111111111111111",
        "encoded_merkle_root": "11111111111111111111111111111111", "encoded_length": 0,
        "height_created": height, "height_included": height, "shard_id": 0, "gas_used": 0,
        "gas_limit": 0, "rent_paid": "0", "validator_reward": "0", "balance_burnt": "0",
        "outgoing_receipts_root": "11111111111111111111111111111111", "tx_root": "11111111111111111111111111111111",
        "validator_proposals": [], "signature": "ed25519:1111111111111111111111111111111111111111111111111111111111111111",
    });
    serde_json::from_value(json).unwrap()
}

async fn put(client: &LakeClient, height: u64, m: &StreamerMessage) {
    let shard = serde_json::to_vec(&m.shards[0]).unwrap();
    client.put(&shard_key(height, 0), shard).await.unwrap();
    let block = serde_json::to_vec(&m.block).unwrap();
    client.put(&block_key(height), block).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lake_is_read_block_by_block_and_its_failures_are_typed() {
    let root = tempfile::tempdir().unwrap();
    let server = S3Server::start(root.path(), "127.0.0.1:0".parse().unwrap(), "blocks").await;
    let writer = lake(&server, credentials());
    for h in [3u64, 4, 7] {
        put(&writer, h, &message(h, b"r/key")).await;
    }
    let source = LakeBlocks::new(
        lake(&server, credentials()),
        CONTRACT,
        Duration::from_millis(10),
    )
    .unwrap();
    assert_eq!(source.head().await.unwrap(), 7);
    let next = source.next_heights(3, 10).await.unwrap();
    assert_eq!(
        next.heights,
        [4, 7],
        "only heights with blocks, after the cursor"
    );
    let block = source.changes(7).await.unwrap();
    assert_eq!(
        block.changes,
        [DataChange::Write {
            key: b"r/key".to_vec(),
            value: vec![7]
        }],
        "the contract's changes only"
    );
    assert_eq!(
        source.next_heights(7, 10).await.unwrap().heights,
        Vec::<u64>::new()
    );

    // A block listed whose block.json is not there yet, and one whose shard does not parse.
    writer
        .put(
            &shard_key(8, 0),
            serde_json::to_vec(&message(8, b"k").shards[0]).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        source.next_heights(7, 10).await.unwrap().heights,
        Vec::<u64>::new(),
        "caught up, a height counts once its block.json is there"
    );
    assert!(matches!(
        source.changes(8).await,
        Err(SourceError::Unreachable(_))
    ));
    put(&writer, 9, &message(9, b"k")).await;
    assert_eq!(
        source.next_heights(7, 10).await.unwrap().heights,
        [8, 9],
        "a block after the next one: listed, nothing skipped"
    );
    put(&writer, 10, &message(10, b"k")).await;
    assert_eq!(source.next_heights(9, 10).await.unwrap().heights, [10]);
    assert_eq!(
        source.changes(10).await.unwrap().changes,
        [DataChange::Write {
            key: b"k".to_vec(),
            value: vec![10]
        }]
    );
    writer
        .put(&shard_key(9, 0), b"{broken".to_vec())
        .await
        .unwrap();
    let e = source.changes(9).await.unwrap_err();
    assert!(
        matches!(&e, SourceError::Malformed(m) if m.contains("shard_0.json")),
        "{e}"
    );

    // Wrong credentials, then the server gone: unreachable, never "no blocks".
    let stranger = LakeBlocks::new(
        lake(&server, Some(Credentials::new("nobody", "wrong"))),
        CONTRACT,
        Duration::from_millis(10),
    )
    .unwrap();
    assert!(matches!(
        stranger.next_heights(0, 10).await,
        Err(SourceError::Unreachable(_))
    ));
    server.stop();
    assert!(matches!(
        source.next_heights(0, 10).await,
        Err(SourceError::Unreachable(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lake_is_listed_range_by_range_across_gaps() {
    let root = tempfile::tempdir().unwrap();
    let server = S3Server::start(root.path(), "127.0.0.1:0".parse().unwrap(), "blocks").await;
    let writer = lake(&server, credentials());
    let heights = [998u64, 999, 1001, 2500, 5000];
    for h in heights {
        put(&writer, h, &message(h, b"r/key")).await;
    }
    let source = LakeBlocks::new(
        lake(&server, credentials()),
        CONTRACT,
        Duration::from_millis(10),
    )
    .unwrap();
    assert_eq!(source.head().await.unwrap(), 5000);
    let mut seen = vec![];
    let mut cursor = 0;
    for _ in 0..10 {
        let next = source.next_heights(cursor, 64).await.unwrap();
        assert_eq!(next.head, 5000);
        if let Some(last) = next.heights.last() {
            cursor = *last;
        }
        seen.extend(next.heights);
    }
    assert_eq!(
        seen, heights,
        "every height once, in order, across ranges and gaps"
    );
}

/// A reader that believes it is at the head probes one height at a time. When every probe
/// finds the next block already there it is behind without knowing it: within three probes it
/// lists, learns the head (so its lag shows) and takes the rest in one batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_keeps_finding_the_next_block_lists_to_learn_the_head() {
    let root = tempfile::tempdir().unwrap();
    let server = S3Server::start(root.path(), "127.0.0.1:0".parse().unwrap(), "blocks").await;
    let writer = lake(&server, credentials());
    for h in 1..=20u64 {
        put(&writer, h, &message(h, b"r/key")).await;
    }
    // Never asked for the head: it knows only what its probes find.
    let source = LakeBlocks::new(
        lake(&server, credentials()),
        CONTRACT,
        Duration::from_millis(10),
    )
    .unwrap();
    let mut cursor = 0;
    let mut batches = vec![];
    while cursor < 20 {
        let next = source.next_heights(cursor, 64).await.unwrap();
        batches.push((next.heights.len(), next.head));
        cursor = *next.heights.last().unwrap();
    }
    assert_eq!(
        batches,
        [(1, 1), (1, 2), (18, 20)],
        "two probes, then a listing of the rest with the true head"
    );
}
