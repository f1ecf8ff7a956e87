use super::*;
use crate::store::StoreKey;
use std::time::Duration;

fn p(i: u32) -> ParticipantId {
    ParticipantId(i)
}

fn stockpile(max: usize) -> (tempfile::TempDir, Arc<Stockpile>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store.redb"), &StoreKey::generate()).unwrap();
    (dir, Arc::new(Stockpile::new(Arc::new(store), max)))
}

fn tag(owner: u32, set: &[u32]) -> ItemTag {
    ItemTag {
        epoch: 1,
        owner: p(owner),
        participants: set.iter().map(|i| p(*i)).collect(),
    }
}

const D: DomainId = DomainId(7);

fn item(bytes: &[u8]) -> Item {
    Item {
        bytes: zeroize::Zeroizing::new(bytes.to_vec()),
        ready: None,
    }
}

/// Whether `acquire` completes without waiting: a zero timeout polls it exactly once.
async fn at_once(permits: &PeerPermits, peer: u32) -> Option<OwnedSemaphorePermit> {
    tokio::time::timeout(Duration::ZERO, permits.acquire(p(peer)))
        .await
        .ok()
        .map(|r| r.unwrap())
}

#[tokio::test]
async fn one_peer_using_all_its_permits_never_holds_up_another() {
    let permits = PeerPermits::for_max(4);
    assert_eq!(permits.each, 2);
    let held = [at_once(&permits, 1).await, at_once(&permits, 1).await];
    assert!(held.iter().all(Option::is_some));
    assert!(
        at_once(&permits, 1).await.is_none(),
        "peer 1 is at its share"
    );
    assert!(
        at_once(&permits, 2).await.is_some(),
        "peer 2 still has its own"
    );
    drop(held);
    assert!(
        at_once(&permits, 1).await.is_some(),
        "released permits come back"
    );
}

/// How many precomputations a node of a network of `n` may start at once.
fn starts(max: usize, n: usize) -> usize {
    let permits = Arc::new(Semaphore::new(max.max(1)));
    let mut held = vec![];
    while let Some(p) = take_share(&permits, max, n) {
        held.push(p);
    }
    held.len()
}

#[test]
fn a_node_starts_max_over_n_and_never_more_than_a_peer_admits() {
    assert_eq!(starts(32, 5), 6);
    assert_eq!(starts(32, 2), 16);
    assert_eq!(starts(8, 5), 1);
    assert_eq!(starts(32, 40), 1, "a large network still makes progress");
    assert_eq!(starts(1, 3), 1);
    // No leader ever needs more follower slots than a peer grants it: no circle of waits.
    for max in [1, 2, 7, 8, 32, 64] {
        for n in 2..=40 {
            assert!(
                starts(max, n) <= PeerPermits::for_max(max).each,
                "max {max}, n {n}"
            );
        }
    }
}

#[test]
fn a_slow_domain_never_holds_the_slots_a_fast_one_needs() {
    // 30 permits over a network of 5: 6 starts of our own at once.
    let (_dir, s) = stockpile(30);
    let slow = DomainId(0);
    let fast = DomainId(1);
    // Alone in need, a domain may use every slot.
    s.wants(slow, true);
    let alone: Vec<_> = (0..10)
        .filter_map(|_| s.start_own(slow, (Kind::Triple, 2), 5))
        .collect();
    assert_eq!(alone.len(), 6);
    assert_eq!(s.in_flight(slow, Kind::Triple), 12);
    drop(alone);
    assert_eq!(s.in_flight(slow, Kind::Triple), 0, "counts come back");
    // Two in need: each stops at its half, whoever asks first.
    s.wants(fast, true);
    let mut held = vec![];
    while let Some(start) = s.start_own(slow, (Kind::Triple, 2), 5) {
        held.push(start);
    }
    assert_eq!(held.len(), 3, "the slow domain stops at its share");
    let fast_starts: Vec<_> = (0..10)
        .filter_map(|_| s.start_own(fast, (Kind::Nonces, 1), 5))
        .collect();
    assert_eq!(fast_starts.len(), 3, "the fast domain still gets its share");
    s.wants(fast, false);
    drop(fast_starts);
    assert_eq!(fair_share(1, 4), 1, "every domain can always start one");
}

#[test]
fn a_starving_domain_takes_the_slots_the_others_can_spare() {
    let (ot, v2, ed, bip) = (DomainId(0), DomainId(1), DomainId(2), DomainId(3));
    let all = BTreeSet::from([ot, v2, ed, bip]);
    let none = BTreeSet::new();
    // Nobody starving: even shares (after an epoch switch, one slot of six each).
    assert_eq!(share_of(6, v2, &all, &none), 1);
    assert_eq!(share_of(6, v2, &BTreeSet::from([ot, v2]), &none), 3);
    // V2 starving: it has every slot, the others start nothing new.
    let v2_starving = BTreeSet::from([v2]);
    assert_eq!(share_of(6, v2, &all, &v2_starving), 6);
    assert_eq!(share_of(6, ot, &all, &v2_starving), 0);
    // Two starving share them; starving without wanting is no claim.
    let two = BTreeSet::from([v2, ed]);
    assert_eq!(share_of(6, v2, &all, &two), 3);
    assert_eq!(share_of(6, v2, &BTreeSet::from([ot, v2]), &two), 6);
    // A starving domain always has one, however many and few the slots.
    assert_eq!(share_of(1, v2, &all, &all), 1);
}

#[test]
fn starving_domains_get_their_share_from_start_own() {
    // 30 permits over a network of 5: 6 starts of our own at once.
    let (_dir, s) = stockpile(30);
    let (slow, fast) = (DomainId(0), DomainId(1));
    s.wants(slow, true);
    s.wants(fast, true);
    s.starving(BTreeSet::from([fast]));
    assert!(
        s.start_own(slow, (Kind::Triple, 2), 5).is_none(),
        "nothing new while another domain's requests wait"
    );
    let fast_starts: Vec<_> = (0..10)
        .filter_map(|_| s.start_own(fast, (Kind::Presignature, 1), 5))
        .collect();
    assert_eq!(fast_starts.len(), 6, "the starving domain has them all");
    drop(fast_starts);
    s.starving(BTreeSet::new());
    assert!(
        s.start_own(slow, (Kind::Triple, 2), 5).is_some(),
        "and back"
    );
}

#[test]
fn only_usable_own_items_are_counted_and_taken() {
    let (_dir, s) = stockpile(8);
    // Stocked before the index is first read, and after: both are seen.
    s.store
        .put_item(Kind::Nonces, D, &[1; 32], &tag(0, &[0, 1, 2]), b"a")
        .unwrap();
    let alive: BTreeSet<_> = [p(1), p(2)].into();
    let usable = Usable {
        me: p(0),
        epoch: 1,
        alive: &alive,
    };
    assert_eq!(s.usable(Kind::Nonces, D, usable).unwrap(), 1);
    s.put(Kind::Nonces, D, &[2; 32], &tag(0, &[0, 1, 3]), item(b"b"))
        .unwrap();
    s.put(Kind::Nonces, D, &[3; 32], &tag(1, &[0, 1, 2]), item(b"c"))
        .unwrap();
    // Peer 3 is down: its item is ours but not usable; peer 1's item is not ours.
    assert_eq!(s.usable(Kind::Nonces, D, usable).unwrap(), 1);
    let all_up: BTreeSet<_> = [p(1), p(2), p(3)].into();
    let once_3_is_up = Usable {
        alive: &all_up,
        ..usable
    };
    assert_eq!(s.usable(Kind::Nonces, D, once_3_is_up).unwrap(), 2);
    let avoid = vec![vec![p(0), p(1), p(2)]];
    assert!(s
        .take_owned(Kind::Nonces, D, usable, &avoid)
        .unwrap()
        .is_none());
    let (id, set, secret) = s.take_owned(Kind::Nonces, D, usable, &[]).unwrap().unwrap();
    assert_eq!(
        (id, set, &secret.bytes[..]),
        ([1; 32], vec![p(0), p(1), p(2)], &b"a"[..])
    );
    assert!(s.store.is_consumed(&[1; 32]).unwrap());
    assert!(s
        .take_owned(Kind::Nonces, D, usable, &[])
        .unwrap()
        .is_none());
    assert_eq!(s.usable(Kind::Nonces, D, usable).unwrap(), 0);
}

#[test]
fn a_pair_of_triples_comes_from_one_set() {
    let (_dir, s) = stockpile(8);
    let alive: BTreeSet<_> = [p(1), p(2), p(3)].into();
    let usable = Usable {
        me: p(0),
        epoch: 1,
        alive: &alive,
    };
    s.put(Kind::Triple, D, &[1; 32], &tag(0, &[0, 1]), item(b"1"))
        .unwrap();
    s.put(Kind::Triple, D, &[2; 32], &tag(0, &[0, 2]), item(b"2"))
        .unwrap();
    assert!(s.take_triple_pair(D, usable).unwrap().is_none());
    s.put(Kind::Triple, D, &[3; 32], &tag(0, &[0, 2]), item(b"3"))
        .unwrap();
    let pair = s.take_triple_pair(D, usable).unwrap().unwrap();
    assert_eq!(pair.set, vec![p(0), p(2)]);
    assert_eq!(pair.ids, [[2; 32], [3; 32]]);
    assert_eq!(
        (&pair.secrets.0[..], &pair.secrets.1[..]),
        (&b"2"[..], &b"3"[..])
    );
    assert_eq!(s.usable(Kind::Triple, D, usable).unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_waits_for_its_copy_and_checks_the_owners_claim() {
    let (_dir, s) = stockpile(8);
    let set = [p(0), p(1)];
    // The copy arrives a moment after the claim: the check waits for it, not a poll.
    let late = s.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        late.put(Kind::Nonces, D, &[5; 32], &tag(0, &[0, 1]), item(b"n"))
            .unwrap();
    });
    s.check_claim(Kind::Nonces, D, &[5; 32], p(0), &set, 1)
        .await
        .unwrap();
    // Someone else's claim on it is refused, and so is one of another set or epoch.
    let refused = |r: Result<(), JobError>, want: ClaimError| match r {
        Err(JobError::Claim { why, .. }) => assert_eq!(why, want),
        other => panic!("{other:?}"),
    };
    refused(
        s.check_claim(Kind::Nonces, D, &[5; 32], p(1), &set, 1)
            .await,
        ClaimError::NotOwners,
    );
    refused(
        s.check_claim(Kind::Nonces, D, &[5; 32], p(0), &set, 2)
            .await,
        ClaimError::NotOwners,
    );
    assert_eq!(
        &s.take_claimed(Kind::Nonces, D, &[5; 32]).unwrap().bytes[..],
        b"n"
    );
    // Spent: a second claim is refused at once, without waiting out the grace.
    refused(
        s.check_claim(Kind::Nonces, D, &[5; 32], p(0), &set, 1)
            .await,
        ClaimError::Spent,
    );
    assert!(s.take_claimed(Kind::Nonces, D, &[5; 32]).is_err());
}

#[test]
fn dropping_other_epochs_empties_the_index_too() {
    let (_dir, s) = stockpile(8);
    let alive: BTreeSet<_> = [p(1)].into();
    let usable = Usable {
        me: p(0),
        epoch: 1,
        alive: &alive,
    };
    s.put(Kind::Nonces, D, &[1; 32], &tag(0, &[0, 1]), item(b"a"))
        .unwrap();
    assert_eq!(s.usable(Kind::Nonces, D, usable).unwrap(), 1);
    assert_eq!(s.switch_epoch(2, None).unwrap().dropped, 1);
    assert_eq!(s.usable(Kind::Nonces, D, usable).unwrap(), 0);
    assert!(s
        .take_owned(Kind::Nonces, D, usable, &[])
        .unwrap()
        .is_none());
}
