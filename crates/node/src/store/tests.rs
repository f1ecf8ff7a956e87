use super::*;
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// A fresh directory (removed when dropped) and the store file inside it.
struct TempDir(tempfile::TempDir);

impl TempDir {
    fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    fn db(&self) -> PathBuf {
        self.0.path().join("node.redb")
    }
}

fn tag(epoch: u64) -> ItemTag {
    ItemTag {
        epoch,
        owner: ParticipantId(1),
        participants: vec![ParticipantId(0), ParticipantId(1), ParticipantId(3)],
    }
}

const D: DomainId = DomainId(0);

#[test]
fn key_shares_survive_restarts_and_need_the_key() {
    let dir = TempDir::new();
    let key = StoreKey::generate();
    {
        let s = Store::open(&dir.db(), &key).unwrap();
        s.put_key_share(D, 0, b"share for epoch 0").unwrap();
        s.put_key_share(D, 1, b"share for epoch 1").unwrap();
        s.put_key_share(DomainId(2), 1, b"other domain").unwrap();
    }
    let s = Store::open(&dir.db(), &key).unwrap();
    assert_eq!(
        s.key_share(D, 1).unwrap().unwrap().as_slice(),
        b"share for epoch 1"
    );
    assert!(s.key_share(D, 7).unwrap().is_none());
    assert_eq!(s.delete_key_shares_before(1).unwrap(), 1);
    assert!(s.key_share(D, 0).unwrap().is_none());
    assert!(s.key_share(DomainId(2), 1).unwrap().is_some());
    drop(s);
    let wrong = Store::open(&dir.db(), &StoreKey::generate()).unwrap();
    assert!(matches!(
        wrong.key_share(D, 1),
        Err(StoreError::Unsealable(_))
    ));
}

#[test]
fn items_are_used_once_even_across_restarts() {
    let dir = TempDir::new();
    let key = StoreKey::generate();
    let s = Store::open(&dir.db(), &key).unwrap();
    let (a, b) = ([1u8; 32], [2u8; 32]);
    s.put_item(Kind::Presignature, D, &a, &tag(4), b"presig a")
        .unwrap();
    s.put_item(Kind::Presignature, D, &b, &tag(4), b"presig b")
        .unwrap();
    s.put_item(Kind::Triple, D, &[3; 32], &tag(4), b"triple")
        .unwrap();
    assert!(matches!(
        s.put_item(Kind::Presignature, D, &a, &tag(4), b"again"),
        Err(StoreError::AlreadyStocked(_))
    ));
    let listed: Vec<ItemId> = s
        .items(Kind::Presignature, D)
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(listed, vec![a, b], "only this kind and domain");

    let (t, secret) = s.take_item(Kind::Presignature, D, &a).unwrap();
    assert_eq!((t, secret.as_slice()), (tag(4), &b"presig a"[..]));
    assert!(matches!(
        s.take_item(Kind::Presignature, D, &a),
        Err(StoreError::AlreadyConsumed(_))
    ));

    // A crash right after the take: the restarted node still refuses the item.
    drop(s);
    let s = Store::open(&dir.db(), &key).unwrap();
    assert!(s.is_consumed(&a).unwrap());
    assert!(matches!(
        s.take_item(Kind::Presignature, D, &a),
        Err(StoreError::AlreadyConsumed(_))
    ));
    assert!(matches!(
        s.put_item(Kind::Presignature, D, &a, &tag(4), b"restocked"),
        Err(StoreError::AlreadyConsumed(_))
    ));
    assert_eq!(
        s.take_item(Kind::Presignature, D, &b).unwrap().1.as_slice(),
        b"presig b"
    );
    assert!(matches!(
        s.take_item(Kind::Presignature, D, &[9; 32]),
        Err(StoreError::Missing(_))
    ));
}

/// Stocking is committed without a flush (module docs): a crash may lose an unspent item, but
/// never a take, and a take makes every item stocked before it durable with it. The crash is
/// the file as it is on disk while the store is still open, copied and opened elsewhere.
#[test]
fn a_crash_loses_at_most_unspent_items_never_a_take() {
    let dir = TempDir::new();
    let key = StoreKey::generate();
    let s = Store::open(&dir.db(), &key).unwrap();
    let (a, b, c) = ([1u8; 32], [2u8; 32], [3u8; 32]);
    s.put_item(Kind::Presignature, D, &a, &tag(0), b"a")
        .unwrap();
    s.put_item(Kind::Presignature, D, &b, &tag(0), b"b")
        .unwrap();
    s.take_item(Kind::Presignature, D, &a).unwrap();
    s.put_item(Kind::Presignature, D, &c, &tag(0), b"c")
        .unwrap();
    let image = dir.0.path().join("crashed.redb");
    std::fs::copy(dir.db(), &image).unwrap();

    let after = Store::open(&image, &key).unwrap();
    assert!(after.is_consumed(&a).unwrap(), "the take was durable");
    assert!(matches!(
        after.put_item(Kind::Presignature, D, &a, &tag(0), b"a again"),
        Err(StoreError::AlreadyConsumed(_))
    ));
    assert_eq!(
        after
            .take_item(Kind::Presignature, D, &b)
            .unwrap()
            .1
            .as_slice(),
        b"b",
        "stocked before a durable take, so durable with it"
    );
    // c may or may not have survived; either way it is not consumed, and usable once at most.
    assert!(!after.is_consumed(&c).unwrap());
    if after.item_tag(Kind::Presignature, D, &c).unwrap().is_some() {
        after.take_item(Kind::Presignature, D, &c).unwrap();
        assert!(after.take_item(Kind::Presignature, D, &c).is_err());
    }
}

/// Rewrites a raw stock value, as disk corruption or an attacker with the file would.
fn rewrite_stock(s: &Store, key: &[u8], f: impl FnOnce(&mut Vec<u8>)) {
    let txn = s.db.begin_write().unwrap();
    {
        let mut t = txn.open_table(STOCK).unwrap();
        let mut v = t.get(key).unwrap().unwrap().value().to_vec();
        f(&mut v);
        t.insert(key, &v[..]).unwrap();
    }
    txn.commit().unwrap();
}

#[test]
fn tampered_items_fail_and_stay_unconsumed() {
    let dir = TempDir::new();
    let s = Store::open(&dir.db(), &StoreKey::generate()).unwrap();
    let id = [5u8; 32];
    s.put_item(Kind::Nonces, D, &id, &tag(1), b"nonces")
        .unwrap();
    let key = stock_key(Kind::Nonces, D, &id);
    rewrite_stock(&s, &key, |v| *v.last_mut().unwrap() ^= 1);
    assert!(matches!(
        s.take_item(Kind::Nonces, D, &id),
        Err(StoreError::Unsealable(_))
    ));
    assert!(
        !s.is_consumed(&id).unwrap(),
        "a failed take consumes nothing"
    );

    // A tag rewritten to another epoch no longer opens either: the tag is authenticated.
    let id2 = [6u8; 32];
    s.put_item(Kind::Nonces, D, &id2, &tag(1), b"nonces")
        .unwrap();
    let key2 = stock_key(Kind::Nonces, D, &id2);
    let mut forged = tag(1);
    forged.epoch = 2;
    let forged_bytes = postcard::to_stdvec(&forged).unwrap();
    rewrite_stock(&s, &key2, |v| {
        let len = u32::from_be_bytes(v[..4].try_into().unwrap()) as usize;
        assert_eq!(len, forged_bytes.len());
        v[4..4 + len].copy_from_slice(&forged_bytes);
    });
    assert!(matches!(
        s.take_item(Kind::Nonces, D, &id2),
        Err(StoreError::Unsealable(_))
    ));

    // Truncated garbage is reported, not a panic.
    rewrite_stock(&s, &key2, |v| v.truncate(3));
    assert!(matches!(
        s.take_item(Kind::Nonces, D, &id2),
        Err(StoreError::Malformed(_))
    ));
}

#[test]
fn a_record_moved_to_another_id_does_not_open() {
    let dir = TempDir::new();
    let s = Store::open(&dir.db(), &StoreKey::generate()).unwrap();
    let (a, b) = ([7u8; 32], [8u8; 32]);
    s.put_item(Kind::Triple, D, &a, &tag(1), b"secret a")
        .unwrap();
    s.put_item(Kind::Triple, D, &b, &tag(1), b"secret b")
        .unwrap();
    let value_a = {
        let txn = s.db.begin_read().unwrap();
        let t = txn.open_table(STOCK).unwrap();
        t.get(&stock_key(Kind::Triple, D, &a)[..])
            .unwrap()
            .unwrap()
            .value()
            .to_vec()
    };
    rewrite_stock(&s, &stock_key(Kind::Triple, D, &b), |v| *v = value_a);
    assert!(matches!(
        s.take_item(Kind::Triple, D, &b),
        Err(StoreError::Unsealable(_))
    ));
}

#[test]
fn resharing_drops_old_stock() {
    let dir = TempDir::new();
    let s = Store::open(&dir.db(), &StoreKey::generate()).unwrap();
    s.put_item(Kind::Presignature, D, &[1; 32], &tag(3), b"old")
        .unwrap();
    s.put_item(Kind::Triple, DomainId(1), &[2; 32], &tag(3), b"old")
        .unwrap();
    s.put_item(Kind::Presignature, D, &[3; 32], &tag(4), b"new")
        .unwrap();
    assert_eq!(s.switch_stock_epoch(4, None).unwrap().dropped, 2);
    assert_eq!(s.items(Kind::Presignature, D).unwrap().len(), 1);
    assert!(
        s.is_consumed(&[1; 32]).unwrap(),
        "dropped items can never come back"
    );
    s.prune_consumed(4).unwrap();
    assert!(!s.is_consumed(&[1; 32]).unwrap());
    // A late instance of the old epoch cannot bring its items back, even with pruned ids.
    assert!(matches!(
        s.put_item(Kind::Presignature, D, &[1; 32], &tag(3), b"late"),
        Err(StoreError::StaleEpoch { got: 3, current: 4 })
    ));
    s.put_item(Kind::Presignature, D, &[5; 32], &tag(4), b"current")
        .unwrap();
    // A node that left stocks nothing at all.
    assert_eq!(s.switch_stock_epoch(u64::MAX, None).unwrap().dropped, 2);
    assert!(s
        .put_item(Kind::Presignature, D, &[6; 32], &tag(4), b"x")
        .is_err());
}

/// The next epoch's set: participants `ids` at `threshold`.
fn next(threshold: usize, ids: &[u32]) -> NextEpoch {
    NextEpoch {
        threshold,
        participants: ids.iter().map(|&i| ParticipantId(i)).collect(),
    }
}

/// An item of `epoch` held by `ids`, the first owning it.
fn holders(epoch: u64, ids: &[u32]) -> ItemTag {
    ItemTag {
        epoch,
        owner: ParticipantId(ids[0]),
        participants: ids.iter().map(|&i| ParticipantId(i)).collect(),
    }
}

#[test]
fn triples_whose_holders_all_stay_survive_a_switch_at_the_same_threshold() {
    let dir = TempDir::new();
    let s = Store::open(&dir.db(), &StoreKey::generate()).unwrap();
    // Epoch 0 at threshold 3 among 0..=4.
    s.switch_stock_epoch(0, Some(&next(3, &[0, 1, 2, 3, 4])))
        .unwrap();
    s.put_item(
        Kind::Triple,
        D,
        &[1; 32],
        &holders(0, &[0, 1, 2]),
        b"t-stays",
    )
    .unwrap();
    s.put_item(
        Kind::Triple,
        D,
        &[2; 32],
        &holders(0, &[0, 1, 4]),
        b"t-leaver",
    )
    .unwrap();
    s.put_item(
        Kind::Presignature,
        D,
        &[3; 32],
        &holders(0, &[0, 1, 2]),
        b"presig",
    )
    .unwrap();
    s.put_item(
        Kind::Nonces,
        D,
        &[4; 32],
        &holders(0, &[0, 1, 2]),
        b"nonces",
    )
    .unwrap();

    // Epoch 1: 4 leaves, 5 joins, threshold unchanged. Only the triple whose holders all stay
    // is kept, re-tagged (and still opens: it was resealed under its new tag).
    let switched = s
        .switch_stock_epoch(1, Some(&next(3, &[0, 1, 2, 3, 5])))
        .unwrap();
    assert_eq!(
        switched,
        Switched {
            dropped: 3,
            carried: 1
        }
    );
    let kept = s.items(Kind::Triple, D).unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].1.epoch, 1);
    let (tag, secret) = s.take_item(Kind::Triple, D, &[1; 32]).unwrap();
    assert_eq!((tag.epoch, &secret[..]), (1, &b"t-stays"[..]));
    for dropped in [[2; 32], [3; 32], [4; 32]] {
        assert!(s.is_consumed(&dropped).unwrap());
    }

    // Epoch 2 at another threshold: nothing is kept.
    s.put_item(Kind::Triple, D, &[5; 32], &holders(1, &[0, 1, 2]), b"t")
        .unwrap();
    let switched = s
        .switch_stock_epoch(2, Some(&next(2, &[0, 1, 2, 3, 5])))
        .unwrap();
    assert_eq!(
        switched,
        Switched {
            dropped: 1,
            carried: 0
        }
    );
    // Nor without a known set (a node that left).
    s.put_item(Kind::Triple, D, &[6; 32], &holders(2, &[0, 1, 2]), b"t")
        .unwrap();
    assert_eq!(s.switch_stock_epoch(3, None).unwrap().carried, 0);
}

#[test]
fn meta_and_store_keys() {
    let dir = TempDir::new();
    let s = Store::open(&dir.db(), &StoreKey::from_hex(&"ab".repeat(32)).unwrap()).unwrap();
    s.put_meta("cursor", &7u64.to_be_bytes()).unwrap();
    assert_eq!(s.meta("cursor").unwrap().unwrap(), 7u64.to_be_bytes());
    assert!(s.meta("none").unwrap().is_none());
    assert!(StoreKey::from_hex("abcd").is_err());
    assert!(StoreKey::from_hex(&"zz".repeat(32)).is_err());
}

#[derive(Debug, Clone)]
enum Op {
    Put(u8),
    Take(u8),
    Restart,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Against a model: an id is taken at most once, whatever the order of puts, takes and
    /// restarts.
    #[test]
    fn never_twice(ops in proptest::collection::vec(prop_oneof![
        (0u8..6).prop_map(Op::Put), (0u8..6).prop_map(Op::Take), Just(Op::Restart)], 1..40)) {
        let dir = TempDir::new();
        let key = StoreKey::generate();
        let mut s = Some(Store::open(&dir.db(), &key).unwrap());
        let (mut stocked, mut used) = (BTreeSet::new(), BTreeSet::new());
        for op in ops {
            let store = s.as_ref().unwrap();
            match op {
                Op::Put(i) => {
                    let r = store.put_item(Kind::Presignature, D, &[i; 32], &tag(0), &[i]);
                    prop_assert_eq!(r.is_ok(), !stocked.contains(&i) && !used.contains(&i));
                    if r.is_ok() { stocked.insert(i); }
                }
                Op::Take(i) => {
                    let r = store.take_item(Kind::Presignature, D, &[i; 32]);
                    prop_assert_eq!(r.is_ok(), stocked.contains(&i));
                    if let Ok((_, secret)) = r {
                        prop_assert_eq!(secret.as_slice(), &[i][..]);
                        prop_assert!(used.insert(i), "taken twice");
                        stocked.remove(&i);
                    }
                }
                Op::Restart => {
                    drop(s.take()); // close the file before reopening it
                    s = Some(Store::open(&dir.db(), &key).unwrap());
                }
            }
        }
    }
}

#[test]
fn a_key_event_share_and_its_marker_land_together() {
    let dir = TempDir::new();
    let key = StoreKey::generate();
    let event = [9u8; 32];
    {
        let s = Store::open(&dir.db(), &key).unwrap();
        assert!(!s.event_done(&event).unwrap());
        s.put_key_share_for_event(D, 2, b"share", &event).unwrap();
    }
    let s = Store::open(&dir.db(), &key).unwrap();
    assert!(s.event_done(&event).unwrap());
    assert!(!s.event_done(&[8u8; 32]).unwrap());
    assert_eq!(&s.key_share(D, 2).unwrap().unwrap()[..], b"share");
}

/// Many writers at once share group commits; each still gets exactly its own answer, and an
/// item raced for by several is taken by one of them only.
#[test]
fn concurrent_takes_and_puts_are_grouped_and_each_answered_alone() {
    let dir = TempDir::new();
    let s = std::sync::Arc::new(Store::open(&dir.db(), &StoreKey::generate()).unwrap());
    for i in 0..64u8 {
        s.put_item(Kind::Nonces, D, &[i; 32], &tag(0), &[i; 5])
            .unwrap();
    }
    let threads: Vec<_> = (0..8u8)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                let mut mine = vec![];
                for i in (0..64u8).filter(|i| i % 8 == t) {
                    let (_, secret) = s.take_item(Kind::Nonces, D, &[i; 32]).unwrap();
                    assert_eq!(&secret[..], &[i; 5], "a writer got another's secret");
                    mine.push(i);
                    // Puts ride in the same groups as takes.
                    let fresh = [100 + i; 32];
                    s.put_item(Kind::Nonces, D, &fresh, &tag(0), b"new")
                        .unwrap();
                }
                // Everyone races for the same item: one wins.
                let race = s.take_item(Kind::Nonces, D, &[200; 32]);
                (mine, race.is_ok())
            })
        })
        .collect();
    // Stocked while the others run: taken by exactly one of the racers, or by none if they
    // all came first (then they all saw it missing).
    s.put_item(Kind::Nonces, D, &[200; 32], &tag(0), b"contested")
        .unwrap();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let taken: BTreeSet<u8> = results.iter().flat_map(|(m, _)| m.clone()).collect();
    assert_eq!(taken.len(), 64);
    let winners = results.iter().filter(|(_, won)| *won).count();
    let left = s.items(Kind::Nonces, D).unwrap();
    assert!(winners <= 1, "{winners} writers took one item");
    assert_eq!(
        left.len(),
        64 + 1 - winners,
        "the 64 new items, and the contested one unless taken"
    );
    for i in 0..64u8 {
        assert!(s.is_consumed(&[i; 32]).unwrap());
    }
}

#[test]
fn triples_carry_over_switch_after_switch() {
    let dir = TempDir::new();
    let s = Store::open(&dir.db(), &StoreKey::generate()).unwrap();
    s.switch_stock_epoch(0, Some(&next(3, &[0, 1, 2, 3])))
        .unwrap();
    s.put_item(Kind::Triple, D, &[1; 32], &holders(0, &[0, 1, 2]), b"a")
        .unwrap();
    // A join: kept.
    let joined = s
        .switch_stock_epoch(1, Some(&next(3, &[0, 1, 2, 3, 4])))
        .unwrap();
    assert_eq!(joined.carried, 1);
    s.put_item(Kind::Triple, D, &[2; 32], &holders(1, &[2, 3, 4]), b"b")
        .unwrap();
    // A leave of 0: the triple made in epoch 1 without 0 stays, the carried one with 0 goes.
    let left = s
        .switch_stock_epoch(2, Some(&next(3, &[1, 2, 3, 4])))
        .unwrap();
    assert_eq!(
        left,
        Switched {
            dropped: 1,
            carried: 1
        }
    );
}
