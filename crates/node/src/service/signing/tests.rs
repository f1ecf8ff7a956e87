//! Which pending requests a leader tries, and in what order.

use super::*;
use primitives::request::Payload;
use std::time::Duration;

/// A request of `domain` first seen `age_ms` before `now`, with `attempt`.
fn seen(
    n: u8,
    domain: u64,
    now: Instant,
    age_ms: u64,
    attempt: Option<Attempt>,
) -> (RequestId, Seen) {
    // Ids sort against age: the oldest has the largest id, as a hash may well give it.
    let id = RequestId([255 - n; 32]);
    let view = PendingRequestView {
        request_id: id,
        predecessor: contract::AccountId("alice.test".to_owned()),
        path: format!("p{n}"),
        payload: Payload::Eddsa(vec![n; 32]),
        domain_id: DomainId(domain),
        entropy: String::new(),
        created_at: 0,
    };
    (
        id,
        Seen {
            view,
            first_seen: now - Duration::from_millis(age_ms),
            attempt,
            failed_sets: vec![],
        },
    )
}

fn ids(ns: &[u8]) -> Vec<RequestId> {
    ns.iter().map(|n| RequestId([255 - n; 32])).collect()
}

#[test]
fn the_oldest_requests_come_first_whatever_their_ids() {
    let now = Instant::now() + Duration::from_secs(60);
    let pending: BTreeMap<_, _> = [
        seen(0, 1, now, 5000, None),
        seen(1, 1, now, 3000, None),
        seen(2, 1, now, 4000, None),
        seen(3, 1, now, 100, None),
    ]
    .into();
    assert_eq!(due(&pending, now, |_| true), ids(&[0, 2, 1, 3]));
    // Domains this node holds no key for are never tried.
    assert_eq!(due(&pending, now, |d| d != DomainId(1)), vec![]);
}

#[test]
fn a_request_waiting_for_an_item_holds_back_younger_ones_of_its_domain_only() {
    let now = Instant::now() + Duration::from_secs(60);
    let just = Some(Attempt::NoItemAt(now - Duration::from_millis(10)));
    let pending: BTreeMap<_, _> = [
        seen(0, 1, now, 5000, Some(Attempt::Running)),
        seen(1, 1, now, 4000, just),
        seen(2, 1, now, 3000, None),
        seen(3, 2, now, 2000, None),
        seen(4, 1, now, 100, None),
    ]
    .into();
    // 0 runs, 1 waits for an item, so 2 and 4 (younger, same domain) wait too; 3 is another
    // domain's.
    assert_eq!(due(&pending, now, |_| true), ids(&[3]));
    // Once its short pause is over, 1 goes first again, then the younger ones.
    let later = now + RECHECK;
    assert_eq!(due(&pending, later, |_| true), ids(&[1, 2, 3, 4]));
}

#[test]
fn a_failed_attempt_waits_out_its_retry_without_holding_others_back() {
    let now = Instant::now() + Duration::from_secs(60);
    let failed = Some(Attempt::EndedAt(now - Duration::from_millis(10)));
    let pending: BTreeMap<_, _> =
        [seen(0, 1, now, 5000, failed), seen(1, 1, now, 3000, None)].into();
    assert_eq!(due(&pending, now, |_| true), ids(&[1]));
    assert_eq!(due(&pending, now + RETRY, |_| true), ids(&[0, 1]));
}
