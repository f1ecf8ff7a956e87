use super::*;
use tokio::io::AsyncWriteExt;

#[derive(Default)]
struct Collect(
    Mutex<Vec<(ParticipantId, FrameKind, Vec<u8>)>>,
    Mutex<Vec<ParticipantId>>,
);

impl Inbox for Collect {
    fn deliver(&self, from: ParticipantId, kind: FrameKind, payload: Vec<u8>) {
        lock(&self.0).push((from, kind, payload));
    }

    fn peer_lost(&self, peer: ParticipantId) {
        lock(&self.1).push(peer);
    }
}

impl Collect {
    fn got(&self) -> Vec<(ParticipantId, FrameKind, Vec<u8>)> {
        lock(&self.0).clone()
    }

    fn lost(&self) -> Vec<ParticipantId> {
        lock(&self.1).clone()
    }
}

fn fast() -> MeshSettings {
    MeshSettings {
        heartbeat: Duration::from_millis(50),
        dead_after: Duration::from_millis(400),
        ..MeshSettings::default()
    }
}

struct Peer {
    mesh: Arc<Mesh>,
    inbox: Arc<Collect>,
    info: PeerInfo,
    key: NearKey,
}

async fn peer() -> Peer {
    let key = NearKey::generate();
    let inbox = Arc::new(Collect::default());
    let mesh = Mesh::new(key.clone(), fast(), inbox.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let info = PeerInfo {
        addr: listener.local_addr().unwrap().to_string(),
        tls_key: key_bytes(&key),
    };
    mesh.serve(listener).unwrap();
    Peer {
        mesh,
        inbox,
        info,
        key,
    }
}

fn key_bytes(key: &NearKey) -> [u8; 32] {
    key.public_key().key_bytes().try_into().unwrap()
}

async fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

/// A raw TLS connection to `to`, authenticated with `key`.
async fn dial(
    key: &NearKey,
    to: &PeerInfo,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let config = tls::client_config(key, to.tls_key).unwrap();
    let tcp = TcpStream::connect(&to.addr).await?;
    let name = rustls::pki_types::ServerName::try_from(tls::PEER_NAME).unwrap();
    let mut stream = TlsConnector::from(config).connect(name, tcp).await?;
    // An accepted dialer is greeted with a heartbeat; a refused one learns it here.
    match read_frame(&mut stream, Duration::from_secs(2)).await {
        Ok((FrameKind::Heartbeat, _)) => Ok(stream),
        other => Err(std::io::Error::other(format!("not accepted: {other:?}"))),
    }
}

#[tokio::test]
async fn registered_peers_exchange_frames_and_see_each_other_alive() {
    let (a, b) = (peer().await, peer().await);
    let (pa, pb) = (ParticipantId(0), ParticipantId(1));
    a.mesh.set_peers([(pb, b.info.clone())].into());
    b.mesh.set_peers([(pa, a.info.clone())].into());
    eventually("liveness", || {
        a.mesh.alive().contains(&pb) && b.mesh.alive().contains(&pa)
    })
    .await;
    assert!(a.mesh.send(pb, FrameKind::Protocol, b"to b".to_vec()));
    assert!(b.mesh.send(pa, FrameKind::Start, b"to a".to_vec()));
    eventually("delivery", || {
        b.inbox.got() == vec![(pa, FrameKind::Protocol, b"to b".to_vec())]
            && a.inbox.got() == vec![(pb, FrameKind::Start, b"to a".to_vec())]
    })
    .await;
    assert!(!a.mesh.send(ParticipantId(9), FrameKind::Protocol, vec![]));

    assert!(a.inbox.lost().is_empty() && b.inbox.lost().is_empty());

    // B goes away: A sees it dead — and hears at once that B's connection ended, so that its
    // instances with B need not wait for their timeouts — and alive again once B is back (A
    // redials).
    b.mesh.shutdown();
    eventually("A told that B's connection ended", || {
        a.inbox.lost() == vec![pb]
    })
    .await;
    eventually("death", || !a.mesh.alive().contains(&pb)).await;
    let b2 = Mesh::new(b.key.clone(), fast(), b.inbox.clone());
    b2.serve(TcpListener::bind(&b.info.addr).await.unwrap())
        .unwrap();
    b2.set_peers([(pa, a.info.clone())].into());
    eventually("revival", || a.mesh.alive().contains(&pb)).await;
}

#[tokio::test]
async fn an_unregistered_key_is_refused() {
    let b = peer().await;
    b.mesh
        .set_peers([(ParticipantId(0), peer().await.info)].into());
    let intruder = NearKey::generate();
    assert!(dial(&intruder, &b.info).await.is_err());
    // Dialing B expecting another key fails on our side too.
    let mut wrong = b.info.clone();
    wrong.tls_key = key_bytes(&intruder);
    assert!(dial(&b.key, &wrong).await.is_err());
    assert!(b.inbox.got().is_empty());
}

#[tokio::test]
async fn a_bad_frame_closes_only_its_connection() {
    let (a, b) = (peer().await, peer().await);
    let m = NearKey::generate();
    let (pa, pb, pm) = (ParticipantId(0), ParticipantId(1), ParticipantId(2));
    let m_info = PeerInfo {
        addr: "127.0.0.1:1".into(),
        tls_key: key_bytes(&m),
    };
    b.mesh
        .set_peers([(pa, a.info.clone()), (pm, m_info)].into());
    a.mesh.set_peers([(pb, b.info.clone())].into());
    eventually("a up", || b.mesh.alive().contains(&pa)).await;

    for bad in [
        (u32::MAX.to_be_bytes().to_vec(), "oversized"),
        (vec![0, 0, 0, 2, 77, 0], "unknown kind"),
        (vec![0, 0, 0, 0], "empty"),
    ] {
        let mut s = dial(&m, &b.info).await.expect("m is registered");
        write_frame(&mut s, FrameKind::Protocol, b"fine")
            .await
            .unwrap();
        s.write_all(&bad.0).await.unwrap();
        s.flush().await.unwrap();
        let mut byte = [0u8; 1];
        let closed = tokio::time::timeout(Duration::from_secs(2), s.read(&mut byte)).await;
        assert!(
            matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
            "{}: connection not closed",
            bad.1
        );
    }
    eventually("m's good frames", || {
        b.inbox
            .got()
            .iter()
            .filter(|(p, _, body)| *p == pm && body == b"fine")
            .count()
            == 3
    })
    .await;
    // A's connection is untouched.
    assert!(a.mesh.send(pb, FrameKind::Protocol, b"still here".to_vec()));
    eventually("a's frame", || {
        b.inbox
            .got()
            .contains(&(pa, FrameKind::Protocol, b"still here".to_vec()))
    })
    .await;
    assert!(b.mesh.alive().contains(&pa));
}

#[tokio::test]
async fn a_peer_removed_from_the_set_is_disconnected() {
    let (a, b) = (peer().await, peer().await);
    let (pa, pb) = (ParticipantId(0), ParticipantId(1));
    a.mesh.set_peers([(pb, b.info.clone())].into());
    b.mesh.set_peers([(pa, a.info.clone())].into());
    eventually("up", || b.mesh.alive().contains(&pa)).await;
    b.mesh.set_peers(BTreeMap::new());
    a.mesh.send(pb, FrameKind::Protocol, b"after".to_vec());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(b.inbox.got().is_empty(), "nothing from a removed peer");
    assert!(b.mesh.alive().is_empty());
}

#[test]
fn urls_become_addresses() {
    let k = [1; 32];
    assert_eq!(
        PeerInfo::from_url("https://127.0.0.1:4100", k).addr,
        "127.0.0.1:4100"
    );
    assert_eq!(
        PeerInfo::from_url("https://node.example:443/", k).addr,
        "node.example:443"
    );
    assert_eq!(PeerInfo::from_url("10.0.0.1:1", k).addr, "10.0.0.1:1");
}

/// A participant that completes TLS handshakes and greets, as a node does, but never reads
/// what it is sent. It holds every connection it accepted; how many it accepted is returned.
async fn deaf_listener(
    key: &NearKey,
    dialer: (ParticipantId, &NearKey),
) -> (PeerInfo, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let info = PeerInfo {
        addr: listener.local_addr().unwrap().to_string(),
        tls_key: key_bytes(key),
    };
    let keys: PeerKeys = Arc::new(std::sync::RwLock::new(
        [(dialer.0, key_bytes(dialer.1))].into(),
    ));
    let acceptor = TlsAcceptor::from(tls::server_config(key, keys).unwrap());
    let accepted = Arc::new(Mutex::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            let Ok(mut stream) = acceptor.accept(tcp).await else {
                continue;
            };
            if write_frame(&mut stream, FrameKind::Heartbeat, &[])
                .await
                .is_ok()
            {
                *lock(&count) += 1;
                held.push(stream);
            }
        }
    });
    (info, accepted)
}

#[tokio::test]
async fn a_peer_that_writes_heartbeats_but_never_reads_is_not_alive() {
    let settings = MeshSettings {
        write_timeout: Duration::from_millis(300),
        ..fast()
    };
    let inbox = Arc::new(Collect::default());
    let b_key = NearKey::generate();
    let b = Mesh::new(b_key.clone(), settings, inbox.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b_info = PeerInfo {
        addr: listener.local_addr().unwrap().to_string(),
        tls_key: key_bytes(&b_key),
    };
    b.serve(listener).unwrap();
    let (pa, pb) = (ParticipantId(0), ParticipantId(1));
    let a_key = NearKey::generate();
    let (a_info, accepted) = deaf_listener(&a_key, (pb, &b_key)).await;
    b.set_peers([(pa, a_info)].into());

    // A dials B and writes a heartbeat every 50 ms, with guessed echoes (it reads nothing).
    let mut to_b = dial(&a_key, &b_info).await.unwrap();
    eventually("B's connection to A", || *lock(&accepted) >= 1).await;
    for n in 0..30u64 {
        let mut payload = [0u8; 16];
        payload[..8].copy_from_slice(&(n + 1).to_be_bytes());
        payload[8..].copy_from_slice(&n.to_be_bytes());
        write_frame(&mut to_b, FrameKind::Heartbeat, &payload)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!b.alive().contains(&pa), "a deaf peer counted alive");
    }
    // B did hear A: it is only the proof of reading that is missing.
    write_frame(&mut to_b, FrameKind::Protocol, b"heard")
        .await
        .unwrap();
    eventually("delivery", || !inbox.got().is_empty()).await;

    // Frames to A fill the socket buffers; the write times out and B redials instead of
    // waiting on A forever.
    let big = vec![7u8; mpc::MAX_MESSAGE_BYTES];
    for _ in 0..64 {
        b.send(pa, FrameKind::Protocol, big.clone());
    }
    eventually("a redial after the write timed out", || {
        *lock(&accepted) >= 2
    })
    .await;
}

/// Strangers that open connections and never finish a handshake hold at most
/// `max_handshakes_per_ip` of them (here all come from 127.0.0.1); more are closed at once,
/// and once theirs time out a participant connects as usual.
#[tokio::test]
async fn handshakes_in_progress_are_capped() {
    let key = NearKey::generate();
    let settings = MeshSettings {
        max_handshakes: 3,
        max_handshakes_per_ip: 2,
        handshake_timeout: Duration::from_secs(2),
        ..fast()
    };
    let b = Mesh::new(key.clone(), settings, Arc::new(Collect::default()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let info = PeerInfo {
        addr: listener.local_addr().unwrap().to_string(),
        tls_key: key_bytes(&key),
    };
    b.serve(listener).unwrap();
    let m = NearKey::generate();
    b.set_peers(
        [(
            ParticipantId(2),
            PeerInfo {
                addr: "127.0.0.1:1".into(),
                tls_key: key_bytes(&m),
            },
        )]
        .into(),
    );
    let mut silent = vec![];
    for _ in 0..2 {
        silent.push(TcpStream::connect(&info.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut third = TcpStream::connect(&info.addr).await.unwrap();
    let mut byte = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_millis(300), third.read(&mut byte)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "over the cap: closed at once, got {closed:?}"
    );
    assert!(
        dial(&m, &info).await.is_err(),
        "no room while the cap is taken"
    );
    // The silent ones time out and give their room back.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(dial(&m, &info).await.is_ok());
}

/// A participant that connects again replaces its older connection: it never holds two
/// readers here.
#[tokio::test]
async fn a_participant_has_one_connection_at_a_time() {
    let b = peer().await;
    let m = NearKey::generate();
    let pm = ParticipantId(2);
    let m_info = PeerInfo {
        addr: "127.0.0.1:1".into(),
        tls_key: key_bytes(&m),
    };
    b.mesh.set_peers([(pm, m_info)].into());
    let mut first = dial(&m, &b.info).await.unwrap();
    let mut second = dial(&m, &b.info).await.unwrap();
    let mut byte = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(2), first.read(&mut byte)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "the older connection is closed, got {closed:?}"
    );
    let _ = write_frame(&mut first, FrameKind::Protocol, b"old").await;
    write_frame(&mut second, FrameKind::Protocol, b"new")
        .await
        .unwrap();
    eventually("the newer connection's frame", || {
        b.inbox.got() == vec![(pm, FrameKind::Protocol, b"new".to_vec())]
    })
    .await;
}
