use super::*;
use contract::storage::{request_key, RequestRecord, CANDIDATES_KEY, PENDING_KEY, STATE_KEY};
use contract::{AccountId, PendingRequest};
use primitives::request::Payload;
use primitives::{DomainId, ParticipantId};

fn record(n: u8) -> PendingRequest {
    PendingRequest {
        id: RequestId([n; 32]),
        predecessor: AccountId("app.near".into()),
        path: format!("path-{n}"),
        payload: Payload::Ecdsa(vec![n; 32]),
        domain_id: DomainId(0),
        entropy: [9; 32],
        created_at: 10,
        next_key: 1,
        yields: vec![],
    }
}

fn write(n: u8) -> DataChange {
    DataChange::Write {
        key: request_key(&RequestId([n; 32])),
        value: borsh::to_vec(&RequestRecord::V1(record(n))).unwrap(),
    }
}

fn remove(n: u8) -> DataChange {
    DataChange::Remove {
        key: request_key(&RequestId([n; 32])),
    }
}

fn block(height: u64, changes: Vec<DataChange>) -> BlockChanges {
    BlockChanges { height, changes }
}

#[test]
fn a_block_folds_to_each_requests_last_change() {
    let folded = fold(&[write(1), write(2), remove(2), remove(3), write(3)]);
    let state: Vec<(u8, bool)> = folded
        .requests
        .iter()
        .map(|(id, v)| (id.0[0], v.is_some()))
        .collect();
    assert_eq!(state, [(1, true), (2, false), (3, true)]);
    assert_eq!(
        folded.requests[&RequestId([1; 32])].as_ref().unwrap().path,
        "path-1"
    );
    assert!(!folded.state_changed);
    assert!(folded.malformed.is_empty());
}

#[test]
fn root_and_candidates_wake_the_follower_the_count_does_not() {
    let w = |key: &[u8]| DataChange::Write {
        key: key.to_vec(),
        value: vec![1],
    };
    assert!(!fold(&[w(PENDING_KEY), w(b"other")]).state_changed);
    assert!(fold(&[w(STATE_KEY)]).state_changed);
    assert!(
        fold(&[DataChange::Remove {
            key: CANDIDATES_KEY.to_vec()
        }])
        .state_changed
    );
}

#[test]
fn records_that_do_not_decode_are_reported_and_never_pending() {
    let mut bad = write(4);
    if let DataChange::Write { value, .. } = &mut bad {
        value.truncate(value.len() - 1);
    }
    let mut elsewhere = write(5);
    if let DataChange::Write { key, .. } = &mut elsewhere {
        *key = request_key(&RequestId([6; 32]));
    }
    let folded = fold(&[write(6), bad, elsewhere]);
    let ids: Vec<u8> = folded.malformed.iter().map(|(id, _)| id.0[0]).collect();
    assert_eq!(ids, [4, 6]);
    assert!(folded.requests.values().all(Option::is_none));
}

#[test]
fn applying_blocks_tracks_the_pending_set_and_its_height() {
    let indexer = Indexer::default();
    let (a, _) = indexer.apply(&block(5, vec![write(1), write(2)]));
    assert_eq!((a.added, a.removed), (2, 0));
    // A rewrite (another caller joined) is not a new request.
    let (a, _) = indexer.apply(&block(6, vec![write(1), remove(2)]));
    assert_eq!((a.added, a.removed), (0, 1));
    assert_eq!(indexer.height(), 6);
    assert_eq!(indexer.len(), 1);
    assert!(indexer.get(&RequestId([1; 32])).is_some());
    // Removing what was never seen (answered before this node started) counts nothing.
    let (a, _) = indexer.apply(&block(7, vec![remove(9)]));
    assert_eq!((a.added, a.removed), (0, 0));
    assert!(a.closed.is_empty());
}

#[test]
fn a_closed_request_is_answered_or_timed_out_by_its_age_in_blocks() {
    // The records say created_at 10.
    let indexer = Indexer::default();
    indexer.apply(&block(10, vec![write(1), write(2)]));
    let (a, _) = indexer.apply(&block(12, vec![remove(1)]));
    assert_eq!(a.closed.len(), 1);
    assert_eq!(a.closed[0].blocks, 2);
    assert!(!a.closed[0].timed_out(200));
    let (a, _) = indexer.apply(&block(210, vec![remove(2)]));
    assert_eq!(a.closed[0].blocks, 200);
    assert!(a.closed[0].timed_out(200));
    assert!(!a.closed[0].timed_out(201));
}

#[test]
fn replaying_a_history_from_any_point_in_the_window_gives_the_same_set() {
    // Requests come and go over 30 blocks; every replay that starts before the oldest
    // still-pending request's write ends with the same set.
    let history: Vec<BlockChanges> = (0..30u8)
        .map(|h| {
            let mut changes = vec![write(h)];
            if h >= 3 {
                changes.push(remove(h - 3));
            }
            block(u64::from(h) + 1, changes)
        })
        .collect();
    let end = |from: usize| {
        let indexer = Indexer::default();
        for b in &history[from..] {
            indexer.apply(b);
        }
        let ids: Vec<RequestId> = indexer.pending().keys().copied().collect();
        ids
    };
    let full = end(0);
    assert_eq!(full.len(), 3);
    for from in 1..=27 {
        assert_eq!(end(from), full, "replay from block {}", from + 1);
    }
}

#[test]
fn lag_and_catching_up() {
    let indexer = Indexer::default();
    assert!(!indexer.caught_up(2), "nothing read yet");
    indexer.report("test", Some(100), None);
    indexer.apply(&block(90, vec![]));
    assert_eq!(indexer.status().lag, Some(10));
    assert!(!indexer.caught_up(2));
    indexer.apply(&block(99, vec![]));
    assert!(indexer.caught_up(2));
    indexer.report("test", None, Some("down".into()));
    assert_eq!(indexer.status().error.as_deref(), Some("down"));
    assert_eq!(indexer.status().head, Some(100), "the last head is kept");
}

#[tokio::test]
async fn a_waiter_wakes_when_the_request_arrives() {
    let indexer = std::sync::Arc::new(Indexer::default());
    let waiter = {
        let indexer = indexer.clone();
        tokio::spawn(async move {
            indexer
                .wait_for(&RequestId([3; 32]), Duration::from_secs(10))
                .await
        })
    };
    tokio::task::yield_now().await;
    indexer.apply(&block(1, vec![write(1)]));
    indexer.apply(&block(2, vec![write(3)]));
    let got = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("woken by the block, long before its limit")
        .unwrap();
    assert_eq!(got.unwrap().path, "path-3");
    assert_eq!(
        indexer
            .wait_for(&RequestId([8; 32]), Duration::from_millis(50))
            .await,
        None
    );
}

#[test]
fn the_replay_window_outlasts_any_request() {
    assert_eq!(replay_window(200), 450);
    assert_eq!(
        replay_window(10),
        450,
        "NEAR's yields last 200 blocks whatever the config says"
    );
    assert_eq!(replay_window(5000), 10_050);
}

/// A peer's lead notice holds a pending request back from this node for `hold` after the
/// first notice that counts; later notices, from the same peer or others, do not extend it,
/// this node's own do not count, nor do peers whose turn has not come, and a notice for a
/// request not seen is dropped.
#[test]
fn lead_notices_hold_a_request_once() {
    let indexer = Indexer::default();
    let (me, peer, other, early) = (
        ParticipantId(0),
        ParticipantId(1),
        ParticipantId(2),
        ParticipantId(3),
    );
    let id = RequestId([1; 32]);
    indexer.note_leader(&id, peer);
    indexer.apply(&block(5, vec![write(1)]));
    let hold = Duration::from_secs(5);
    let now = Instant::now();
    let held = |at: Instant, who: ParticipantId| {
        indexer.pending()[&id].led_elsewhere(who, at, hold, |p| p != early)
    };
    assert!(!held(now, me), "dropped: not seen then");
    indexer.note_leader(&id, me);
    assert!(!held(now, me), "its own notice");
    indexer.note_leader(&id, early);
    assert!(!held(now, me), "a peer whose turn has not come");
    indexer.note_leader(&id, peer);
    let first = indexer.pending()[&id].led_by[2].1;
    indexer.note_leader(&id, peer);
    indexer.note_leader(&id, other);
    {
        let pending = indexer.pending();
        let seen = &pending[&id];
        assert_eq!(seen.led_by.len(), 4, "one entry per peer");
        assert_eq!(
            seen.led_by[2],
            (peer, first),
            "a repeat does not renew the hold"
        );
    }
    assert!(held(first, me));
    assert!(
        held(first + hold / 2, other),
        "another peer's notice holds it too"
    );
    assert!(
        !held(first + hold, me),
        "the hold ends, whoever else announced later"
    );
}
