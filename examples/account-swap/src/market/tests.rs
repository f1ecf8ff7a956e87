use super::*;
use proptest::prelude::*;

const SELLER: &str = "seller.near";
const BUYER: &str = "buyer.near";
const OTHER: &str = "other.near";

/// The seller owns "btc", the buyer "eth".
fn market() -> Market {
    let mut m = Market::default();
    m.claim(SELLER, "btc").unwrap();
    m.claim(BUYER, "eth").unwrap();
    m
}

fn owner(m: &Market, path: &str) -> String {
    m.claim_of(path).unwrap().owner.clone()
}

#[test]
fn a_path_is_claimed_once_and_within_the_signers_length() {
    let mut m = market();
    assert_eq!(
        m.claim(OTHER, "btc"),
        Err(MarketError::Claimed {
            path: "btc".into(),
            owner: SELLER.into()
        })
    );
    assert_eq!(m.claim(OTHER, ""), Err(MarketError::PathLength(0)));
    let long = "x".repeat(MAX_PATH_LEN + 1);
    assert_eq!(m.claim(OTHER, &long), Err(MarketError::PathLength(257)));
    m.claim(OTHER, &long[1..]).unwrap();
    assert_eq!(m.paths_of(SELLER).collect::<Vec<_>>(), ["btc"]);
}

#[test]
fn an_accepted_offer_swaps_both_owners_and_only_the_new_owners_sign() {
    let mut m = market();
    let id = m.open_offer(SELLER, "btc", "eth").unwrap();
    let offer = m.accept(BUYER, id).unwrap();
    assert_eq!((offer.give.as_str(), offer.want.as_str()), ("btc", "eth"));
    assert_eq!(owner(&m, "btc"), BUYER);
    assert_eq!(owner(&m, "eth"), SELLER);
    assert!(m.offer(id).is_none());
    assert_eq!(m.claim_of("btc").unwrap().offer, None);
    m.begin_sign(BUYER, "btc").unwrap();
    m.begin_sign(SELLER, "eth").unwrap();
    for (who, path, now) in [(SELLER, "btc", BUYER), (BUYER, "eth", SELLER)] {
        assert_eq!(
            m.begin_sign(who, path),
            Err(MarketError::NotOwner {
                caller: who.into(),
                path: path.into(),
                owner: now.into()
            })
        );
    }
    // An accepted offer is gone.
    assert_eq!(m.accept(BUYER, id), Err(MarketError::NoOffer(id)));
}

#[test]
fn an_offered_path_is_locked_until_withdrawn() {
    let mut m = market();
    let id = m.open_offer(SELLER, "btc", "eth").unwrap();
    let locked = Err(MarketError::Locked {
        path: "btc".into(),
        offer: id,
    });
    assert_eq!(m.begin_sign(SELLER, "btc"), locked);
    assert_eq!(m.open_offer(SELLER, "btc", "eth").map(|_| ()), locked);
    // Nor can the seller trade it away by accepting an offer that wants it.
    m.claim(OTHER, "sol").unwrap();
    let wants_btc = m.open_offer(OTHER, "sol", "btc").unwrap();
    assert_eq!(m.accept(SELLER, wants_btc).map(|_| ()), locked);
    // Only the seller withdraws; then the path signs again and nothing swaps.
    assert_eq!(
        m.withdraw(BUYER, id),
        Err(MarketError::NotSeller {
            id,
            seller: SELLER.into()
        })
    );
    m.withdraw(SELLER, id).unwrap();
    m.begin_sign(SELLER, "btc").unwrap();
    assert_eq!(m.accept(BUYER, id), Err(MarketError::NoOffer(id)));
    assert_eq!(owner(&m, "btc"), SELLER);
}

#[test]
fn paths_with_signatures_in_flight_do_not_change_hands() {
    let mut m = market();
    m.begin_sign(SELLER, "btc").unwrap();
    let busy = |path: &str| MarketError::Signing {
        path: path.into(),
        count: 1,
    };
    assert_eq!(m.open_offer(SELLER, "btc", "eth"), Err(busy("btc")));
    m.end_sign("btc");
    let id = m.open_offer(SELLER, "btc", "eth").unwrap();
    // The buyer asked for a signature on what it gives: no acceptance until it is answered.
    m.begin_sign(BUYER, "eth").unwrap();
    assert_eq!(m.accept(BUYER, id).map(|_| ()), Err(busy("eth")));
    m.end_sign("eth");
    m.accept(BUYER, id).unwrap();
    // In flight is bounded.
    for _ in 0..MAX_SIGNING {
        m.begin_sign(BUYER, "btc").unwrap();
    }
    assert_eq!(
        m.begin_sign(BUYER, "btc"),
        Err(MarketError::TooManySignings { path: "btc".into() })
    );
}

#[test]
fn offers_must_name_the_sellers_path_and_someone_elses() {
    let mut m = market();
    assert_eq!(
        m.open_offer(BUYER, "btc", "eth").map(|_| ()),
        Err(MarketError::NotOwner {
            caller: BUYER.into(),
            path: "btc".into(),
            owner: SELLER.into()
        })
    );
    assert_eq!(
        m.open_offer(SELLER, "btc", "nowhere"),
        Err(MarketError::Unclaimed("nowhere".into()))
    );
    assert_eq!(
        m.open_offer(SELLER, "btc", "btc"),
        Err(MarketError::SamePath("btc".into()))
    );
    m.claim(SELLER, "doge").unwrap();
    assert_eq!(
        m.open_offer(SELLER, "btc", "doge"),
        Err(MarketError::WantsOwn {
            caller: SELLER.into(),
            path: "doge".into()
        })
    );
    let id = m.open_offer(SELLER, "btc", "eth").unwrap();
    assert_eq!(m.accept(SELLER, id), Err(MarketError::OwnOffer(id)));
    assert_eq!(
        m.accept(OTHER, id).map(|_| ()),
        Err(MarketError::NotOwner {
            caller: OTHER.into(),
            path: "eth".into(),
            owner: BUYER.into()
        })
    );
    assert_eq!(m.accept(BUYER, 99), Err(MarketError::NoOffer(99)));
}

#[test]
fn payloads_are_hex_of_the_signers_lengths() {
    check_payload(true, &"ab".repeat(32)).unwrap();
    check_payload(false, &"AB".repeat(32)).unwrap();
    check_payload(false, &"00".repeat(1232)).unwrap();
    assert!(matches!(
        check_payload(true, &"ab".repeat(33)),
        Err(MarketError::PayloadLength { len: 33, .. })
    ));
    assert!(matches!(
        check_payload(false, &"ab".repeat(31)),
        Err(MarketError::PayloadLength { len: 31, .. })
    ));
    assert!(matches!(
        check_payload(true, "zz"),
        Err(MarketError::PayloadHex(_))
    ));
    assert!(matches!(
        check_payload(true, "abc"),
        Err(MarketError::PayloadHex(_))
    ));
}

#[test]
fn the_state_round_trips_through_borsh() {
    let mut m = market();
    m.open_offer(SELLER, "btc", "eth").unwrap();
    m.begin_sign(BUYER, "eth").unwrap();
    let bytes = borsh::to_vec(&m).unwrap();
    assert_eq!(Market::try_from_slice(&bytes).unwrap(), m);
}

/// One call of the marketplace, by one of three accounts on one of four paths.
#[derive(Debug, Clone)]
enum Op {
    Claim(usize, usize),
    Offer(usize, usize, usize),
    Withdraw(usize, u64),
    Accept(usize, u64),
    BeginSign(usize, usize),
    EndSign(usize),
}

const WHO: [&str; 3] = [SELLER, BUYER, OTHER];
const PATHS: [&str; 4] = ["a", "b", "c", "d"];

/// Weighted towards offers and acceptances, on few offer ids: the interesting sequences (an
/// acceptance of a path that is itself offered, or has requests in flight) must come up.
fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..3usize, 0..4usize).prop_map(|(w, p)| Op::Claim(w, p)),
        4 => (0..3usize, 0..4usize, 0..4usize).prop_map(|(w, g, x)| Op::Offer(w, g, x)),
        1 => (0..3usize, 0..4u64).prop_map(|(w, id)| Op::Withdraw(w, id)),
        4 => (0..3usize, 0..4u64).prop_map(|(w, id)| Op::Accept(w, id)),
        2 => (0..3usize, 0..4usize).prop_map(|(w, p)| Op::BeginSign(w, p)),
        1 => (0..4usize).prop_map(Op::EndSign),
    ]
}

/// What must hold after every call, whatever the sequence.
fn check_invariants(m: &Market) {
    for offer in m.offers() {
        let give = m
            .claim_of(&offer.give)
            .expect("an offer gives a claimed path");
        assert_eq!(give.owner, offer.seller, "{offer:?}");
        assert_eq!(give.offer, Some(offer.id), "{offer:?}");
        assert_eq!(give.signing, 0, "an offered path has nothing in flight");
        assert!(m.claim_of(&offer.want).is_some());
    }
    for path in PATHS {
        if let Some(Claim {
            offer: Some(id), ..
        }) = m.claim_of(path)
        {
            assert_eq!(m.offer(*id).map(|o| o.give.as_str()), Some(path));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]
    #[test]
    fn any_sequence_keeps_offers_locked_and_swaps_atomic(
        owners in prop::collection::vec(0..3usize, PATHS.len()),
        ops in prop::collection::vec(op(), 1..40),
    ) {
        // Every path claimed at first (by random owners), so most calls are about trading.
        let mut m = Market::default();
        for (path, w) in PATHS.iter().zip(owners) {
            m.claim(WHO[w], path).unwrap();
        }
        for op in ops {
            let before = m.clone();
            let owners = |m: &Market| PATHS.map(|p| m.claim_of(p).map(|c| c.owner.clone()));
            match op {
                Op::Claim(w, p) => { let _ = m.claim(WHO[w], PATHS[p]); }
                Op::Offer(w, g, x) => { let _ = m.open_offer(WHO[w], PATHS[g], PATHS[x]); }
                Op::Withdraw(w, id) => { let _ = m.withdraw(WHO[w], id); }
                Op::Accept(w, id) => {
                    let offer = before.offer(id).cloned();
                    match m.accept(WHO[w], id) {
                        Ok(done) => {
                            // Exactly the two paths changed owners, crosswise.
                            let offer = offer.expect("accepted an open offer");
                            prop_assert_eq!(&done, &offer);
                            // Neither path had a signature in flight or another open offer.
                            for path in [&offer.give, &offer.want] {
                                let c = before.claim_of(path).unwrap();
                                prop_assert_eq!(c.signing, 0);
                                prop_assert!(c.offer.is_none() || c.offer == Some(id));
                            }
                            prop_assert_eq!(&m.claim_of(&offer.give).unwrap().owner, WHO[w]);
                            prop_assert_eq!(&m.claim_of(&offer.want).unwrap().owner, &offer.seller);
                            let (a, b) = (owners(&before), owners(&m));
                            let changed = PATHS.iter().zip(a.iter().zip(&b)).filter(|(_, (x, y))| x != y).count();
                            prop_assert_eq!(changed, 2);
                        }
                        Err(_) => prop_assert_eq!(&m, &before, "a refused acceptance changes nothing"),
                    }
                }
                Op::BeginSign(w, p) => {
                    let claim = before.claim_of(PATHS[p]).cloned();
                    let allowed = claim.as_ref().is_some_and(|c| c.owner == WHO[w] && c.offer.is_none() && c.signing < MAX_SIGNING);
                    prop_assert_eq!(m.begin_sign(WHO[w], PATHS[p]).is_ok(), allowed);
                }
                Op::EndSign(p) => m.end_sign(PATHS[p]),
            }
            // Owners change only by acceptance.
            if !matches!(op, Op::Accept(..) | Op::Claim(..)) {
                prop_assert_eq!(owners(&m), owners(&before));
            }
            check_invariants(&m);
        }
    }
}
