//! Real TLS over loopback TCP: registered peers talk; anyone else is refused.

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

fn raw(key: &NearKey) -> [u8; 32] {
    key.signing_key().verifying_key().to_bytes()
}

/// Serves one connection: on success, says which participant connected and echoes a line.
async fn serve_once(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    peers: PeerKeys,
) -> Result<Option<ParticipantId>, String> {
    let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
    let mut tls = TlsAcceptor::from(config)
        .accept(tcp)
        .await
        .map_err(|e| e.to_string())?;
    let who = peer_participant(tls.get_ref().1.peer_certificates(), &peers);
    let mut buf = [0u8; 4];
    tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
    tls.write_all(&buf).await.map_err(|e| e.to_string())?;
    tls.shutdown().await.map_err(|e| e.to_string())?;
    Ok(who)
}

async fn dial(addr: std::net::SocketAddr, config: Arc<ClientConfig>) -> Result<[u8; 4], String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from(PEER_NAME).expect("valid name");
    let mut tls = TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(b"ping").await.map_err(|e| e.to_string())?;
    let mut buf = [0u8; 4];
    tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
    Ok(buf)
}

struct Setup {
    server_key: NearKey,
    peers: PeerKeys,
    listener: TcpListener,
}

async fn setup(registered: &[(u32, &NearKey)]) -> Setup {
    let peers: PeerKeys = Arc::new(RwLock::new(
        registered
            .iter()
            .map(|(id, k)| (ParticipantId(*id), raw(k)))
            .collect(),
    ));
    Setup {
        server_key: NearKey::generate(),
        peers,
        listener: TcpListener::bind("127.0.0.1:0").await.unwrap(),
    }
}

#[tokio::test]
async fn registered_peers_talk_and_are_identified() {
    let client_key = NearKey::generate();
    let s = setup(&[(7, &client_key)]).await;
    let addr = s.listener.local_addr().unwrap();
    let server = tokio::spawn(serve_once(
        s.listener,
        server_config(&s.server_key, s.peers.clone()).unwrap(),
        s.peers.clone(),
    ));
    let echoed = dial(
        addr,
        client_config(&client_key, raw(&s.server_key)).unwrap(),
    )
    .await;
    assert_eq!(echoed.unwrap(), *b"ping");
    assert_eq!(server.await.unwrap().unwrap(), Some(ParticipantId(7)));
}

#[tokio::test]
async fn an_unregistered_client_is_refused() {
    let registered = NearKey::generate();
    let intruder = NearKey::generate();
    let s = setup(&[(1, &registered)]).await;
    let addr = s.listener.local_addr().unwrap();
    let server = tokio::spawn(serve_once(
        s.listener,
        server_config(&s.server_key, s.peers.clone()).unwrap(),
        s.peers.clone(),
    ));
    let client = dial(addr, client_config(&intruder, raw(&s.server_key)).unwrap()).await;
    assert!(client.is_err(), "the intruder gets nothing back");
    let err = server.await.unwrap().unwrap_err();
    assert!(err.contains("no participant has registered"), "{err}");
}

#[tokio::test]
async fn a_server_with_another_key_is_refused() {
    let client_key = NearKey::generate();
    let s = setup(&[(2, &client_key)]).await;
    let addr = s.listener.local_addr().unwrap();
    let server = tokio::spawn(serve_once(
        s.listener,
        server_config(&s.server_key, s.peers.clone()).unwrap(),
        s.peers.clone(),
    ));
    // The client expects some other key at this address.
    let expected = raw(&NearKey::generate());
    let err = dial(addr, client_config(&client_key, expected).unwrap())
        .await
        .unwrap_err();
    assert!(err.contains("other than the one registered"), "{err}");
    assert!(server.await.unwrap().is_err());
}

#[tokio::test]
async fn a_peer_removed_from_the_set_is_refused_next_time() {
    let client_key = NearKey::generate();
    let s = setup(&[(3, &client_key)]).await;
    s.peers.write().unwrap().clear(); // the contract's new epoch no longer lists it
    let addr = s.listener.local_addr().unwrap();
    let server = tokio::spawn(serve_once(
        s.listener,
        server_config(&s.server_key, s.peers.clone()).unwrap(),
        s.peers.clone(),
    ));
    assert!(dial(
        addr,
        client_config(&client_key, raw(&s.server_key)).unwrap()
    )
    .await
    .is_err());
    assert!(server.await.unwrap().is_err());
}

#[test]
fn certificates_carry_the_node_key() {
    let key = NearKey::generate();
    let (cert, _) = certificate(&key).unwrap();
    assert_eq!(key_of(&cert).unwrap(), raw(&key));
    assert!(key_of(&CertificateDer::from(vec![0u8; 10])).is_err());
}
