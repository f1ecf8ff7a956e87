use super::*;
use axum::routing::{get, post};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start(limits: Limits) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let app = axum::Router::new()
        .route("/", get(|| async { "hello" }))
        .route("/echo", post(|body: String| async move { body }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(600)).await;
                "late"
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, app, limits, async move {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// What the server sends back on `s` until it closes, or `None` if it stays open past
/// `within`.
async fn until_closed(s: &mut TcpStream, within: Duration) -> Option<String> {
    let mut out = vec![];
    let read = tokio::time::timeout(within, s.read_to_end(&mut out)).await;
    read.ok()
        .map(|_| String::from_utf8_lossy(&out).into_owned())
}

async fn get_root(addr: std::net::SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    until_closed(&mut s, Duration::from_secs(5)).await.unwrap()
}

fn quick() -> Limits {
    Limits {
        max_connections: 3,
        header_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(300),
    }
}

#[tokio::test]
async fn answers_within_bounds() {
    let (addr, _stop) = start(quick()).await;
    assert!(get_root(addr).await.ends_with("hello"));
}

#[tokio::test]
async fn connections_over_the_cap_are_closed_and_room_comes_back() {
    let (addr, _stop) = start(quick()).await;
    let mut idle = vec![];
    for _ in 0..3 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let closed = until_closed(&mut extra, Duration::from_millis(200)).await;
    assert_eq!(closed.as_deref(), Some(""), "closed without an answer");
    // The idle ones send no headers: they are closed and their room given back.
    for s in &mut idle {
        assert!(until_closed(s, Duration::from_secs(2)).await.is_some());
    }
    assert!(get_root(addr).await.ends_with("hello"));
}

#[tokio::test]
async fn headers_sent_slowly_close_the_connection() {
    let (addr, _stop) = start(quick()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost:").await.unwrap();
    let answer = until_closed(&mut s, Duration::from_secs(2)).await;
    assert!(answer.is_some(), "closed within the header timeout");
    assert!(!answer.unwrap().contains("hello"));
}

#[tokio::test]
async fn a_body_sent_slowly_is_refused() {
    let (addr, _stop) = start(quick()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        .await
        .unwrap();
    let answer = until_closed(&mut s, Duration::from_secs(2)).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("did not arrive in time"), "{answer}");
}

#[tokio::test]
async fn shutdown_stops_accepting() {
    let (addr, stop) = start(quick()).await;
    assert!(get_root(addr).await.ends_with("hello"));
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn a_slow_answer_is_the_apps_business() {
    let (addr, _stop) = start(quick()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = until_closed(&mut s, Duration::from_secs(5)).await.unwrap();
    assert!(answer.ends_with("late"), "{answer}");
}
