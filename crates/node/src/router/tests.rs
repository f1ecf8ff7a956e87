use super::*;

fn msg(id: &InstanceId, body: &[u8]) -> Vec<u8> {
    let mut m = vec![mpc::WIRE_VERSION];
    m.extend_from_slice(&id.0);
    m.extend_from_slice(body);
    m
}

async fn next(reg: &mut Registration) -> (ParticipantId, Inbound) {
    reg.rx.recv().await.unwrap().open()
}

#[tokio::test]
async fn early_messages_wait_for_their_instance() {
    let (router, _starts) = Router::new(RouterLimits::default());
    let id = InstanceId::derive(b"a");
    let p = ParticipantId(1);
    router.deliver(p, FrameKind::Protocol, msg(&id, b"1"));
    router.deliver(p, FrameKind::Protocol, msg(&id, b"2"));
    assert_eq!(router.early_count(), 2);
    let mut reg = router.register(id).unwrap();
    assert!(router.register(id).is_none(), "an id registers once");
    assert_eq!(router.early_count(), 0);
    assert_eq!(
        router.standing(p, Place::Early).held,
        0,
        "moved, not held twice"
    );
    router.deliver(p, FrameKind::Protocol, msg(&id, b"3"));
    for want in [b"1", b"2", b"3"] {
        let (from, Inbound::Protocol(bytes)) = next(&mut reg).await else {
            panic!("a protocol message")
        };
        assert_eq!((from, &bytes[33..]), (p, &want[..]));
    }
    assert_eq!(
        router.standing(p, Place::Live).held,
        0,
        "taken out: given back"
    );
    let refusal = [&id.0[..], b"no such item"].concat();
    router.deliver(p, FrameKind::Refusal, refusal);
    assert_eq!(
        next(&mut reg).await,
        (p, Inbound::Refused("no such item".into()))
    );
    router.deliver(p, FrameKind::Refusal, b"short".to_vec());
    drop(reg);
    router.deliver(p, FrameKind::Protocol, msg(&id, b"4"));
    assert_eq!(
        router.early_count(),
        0,
        "ended here: late messages are dropped"
    );
    assert_eq!(router.standing(p, Place::Early).held, 0);
}

#[tokio::test]
async fn a_lost_peer_is_a_refusal_from_it_in_every_running_instance() {
    let (router, _starts) = Router::new(RouterLimits::default());
    let (p, q) = (ParticipantId(1), ParticipantId(2));
    let mut one = router.register(InstanceId::derive(b"one")).unwrap();
    let mut two = router.register(InstanceId::derive(b"two")).unwrap();
    router.peer_lost(p);
    for reg in [&mut one, &mut two] {
        assert_eq!(next(reg).await, (p, Inbound::Refused(PEER_LOST.into())));
    }
    // Nothing from anyone else, and nothing kept for instances that are not running.
    router.peer_lost(q);
    drop(two);
    assert_eq!(
        next(&mut one).await,
        (q, Inbound::Refused(PEER_LOST.into()))
    );
    assert!(one.rx.try_recv().is_err());
    assert_eq!(router.early_count(), 0);
}

#[tokio::test]
async fn early_messages_are_bounded_and_expire() {
    let limits = RouterLimits {
        early_ttl: Duration::from_millis(50),
        budgets: Budgets {
            early: 3 * (33 + budget::OVERHEAD),
            ..Budgets::default()
        },
    };
    let (router, _starts) = Router::new(limits);
    let p = ParticipantId(1);
    for i in 0..10u8 {
        router.deliver(p, FrameKind::Protocol, msg(&InstanceId::derive(&[i]), b""));
    }
    assert_eq!(router.early_count(), 3);
    assert_eq!(router.standing(p, Place::Early).dropped, 7);
    router.deliver(p, FrameKind::Protocol, b"garbage".to_vec());
    assert_eq!(router.early_count(), 3, "unroutable bytes are dropped");
    tokio::time::sleep(Duration::from_millis(80)).await;
    router.deliver(
        p,
        FrameKind::Protocol,
        msg(&InstanceId::derive(b"new"), b""),
    );
    assert_eq!(router.early_count(), 1, "old ones expired");
    assert_eq!(router.standing(p, Place::Early).held, 33 + budget::OVERHEAD);
    // An ended instance is forgotten after as long: its id buffers again.
    let ended = InstanceId::derive(b"ended");
    drop(router.register(ended).unwrap());
    router.deliver(p, FrameKind::Protocol, msg(&ended, b"late"));
    assert_eq!(router.early_count(), 1, "dropped while the end is recent");
    tokio::time::sleep(Duration::from_millis(80)).await;
    router.deliver(p, FrameKind::Protocol, msg(&ended, b"much later"));
    assert_eq!(
        router.early_count(),
        1,
        "the old one expired, the new one waits"
    );
}

#[tokio::test]
async fn starts_go_to_the_scheduler() {
    let (router, mut starts) = Router::new(RouterLimits::default());
    router.deliver(ParticipantId(2), FrameKind::Start, b"task".to_vec());
    assert_eq!(
        starts.recv().await.unwrap().open(),
        (ParticipantId(2), Control::Start(b"task".to_vec()))
    );
}

/// A lead notice is a request id: it goes to the scheduler with its sender, charged like a
/// start; anything else under that kind is dropped.
#[tokio::test]
async fn lead_notices_go_to_the_scheduler_and_malformed_ones_nowhere() {
    let (router, mut starts) = Router::new(RouterLimits::default());
    let peer = ParticipantId(3);
    router.deliver(peer, FrameKind::Leading, vec![9; 31]);
    router.deliver(peer, FrameKind::Leading, vec![9; 33]);
    router.deliver(peer, FrameKind::Leading, vec![]);
    router.deliver(peer, FrameKind::Leading, vec![7; 32]);
    let d = starts.recv().await.unwrap();
    assert!(router.standing(peer, Place::Starts).held > 0);
    assert_eq!(d.open(), (peer, Control::Leading([7; 32])));
    assert_eq!(router.standing(peer, Place::Starts).held, 0);
    assert!(
        starts.try_recv().is_err(),
        "only the well-formed notice arrives"
    );
}

/// One peer sends the largest messages it may, without end, into every place; another
/// peer's messages still arrive, and what the flooder pins stays within its budgets.
#[tokio::test]
async fn a_flooding_peer_loses_only_its_own_messages() {
    let budgets = Budgets {
        early: 4 << 20,
        live: 4 << 20,
        starts: 1 << 20,
    };
    let (router, mut starts) = Router::new(RouterLimits {
        budgets,
        ..RouterLimits::default()
    });
    let (flooder, honest) = (ParticipantId(6), ParticipantId(1));
    let id = InstanceId::derive(b"running");
    let mut reg = router.register(id).unwrap();
    let filler = vec![7u8; mpc::MAX_MESSAGE_BYTES - 33];
    for i in 0..40u32 {
        router.deliver(flooder, FrameKind::Protocol, msg(&id, &filler));
        let unknown = InstanceId::derive(&i.to_be_bytes());
        router.deliver(flooder, FrameKind::Protocol, msg(&unknown, &filler));
        router.deliver(flooder, FrameKind::Start, vec![1; mpc::MAX_MESSAGE_BYTES]);
        router.deliver(flooder, FrameKind::Start, vec![1; 1000]);
        router.deliver(flooder, FrameKind::Leading, vec![2; 32]);
    }
    for place in Place::ALL {
        let s = router.standing(flooder, place);
        assert!(s.held <= budgets.of(place), "{place:?}: {s:?}");
        assert!(s.dropped > 0, "{place:?}: the flood was cut");
    }
    // The honest peer's messages, in every place, all arrive.
    let early = InstanceId::derive(b"later");
    router.deliver(honest, FrameKind::Protocol, msg(&early, b"early"));
    router.deliver(honest, FrameKind::Protocol, msg(&id, b"live"));
    router.deliver(honest, FrameKind::Start, b"start".to_vec());
    for place in Place::ALL {
        assert_eq!(router.standing(honest, place).dropped, 0);
    }
    let mut got = vec![];
    while let Ok(d) = reg.rx.try_recv() {
        got.push(d.open());
    }
    assert_eq!(got.iter().filter(|(from, _)| *from == honest).count(), 1);
    assert_eq!(router.standing(flooder, Place::Live).held, 0, "taken out");
    let mut later = router.register(early).unwrap();
    assert_eq!(next(&mut later).await.0, honest);
    let mut from_honest = 0;
    while let Ok(d) = starts.try_recv() {
        from_honest += usize::from(d.open().0 == honest);
    }
    assert_eq!(from_honest, 1);
}
