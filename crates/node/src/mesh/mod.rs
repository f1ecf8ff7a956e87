//! The peer-to-peer mesh: one mutually authenticated TLS 1.3 connection in each direction
//! between every pair of participants (docs/design.md §8.2).
//!
//! Each node *dials* every peer and writes its frames on that connection; it *accepts* the
//! peers' connections and reads theirs. One direction per connection keeps each side's code a
//! single loop and makes reconnection local: a dialer that loses its connection redials with
//! exponential backoff while its outgoing queue (bounded) waits.
//!
//! Authentication is [`crate::tls`]'s: the dialer accepts only the TLS key the contract lists
//! for the peer it meant to reach; the acceptor accepts only keys of the current participant
//! set, and the participant a connection speaks for is the one whose key it presented. A
//! connection whose participant leaves the set is closed at its next frame.
//!
//! Liveness: dialers send a heartbeat every [`MeshSettings::heartbeat`]; a peer is *alive*
//! while our connection to it is up, we have read a frame from it within
//! [`MeshSettings::dead_after`], and it has shown within [`MeshSettings::read_timeout`] that
//! it reads ours (its heartbeats echo a random token from one of ours, [`heard`]). A write that does not finish
//! within [`MeshSettings::write_timeout`] drops the connection. The scheduler asks
//! [`Mesh::alive`] before choosing signers.
//!
//! Every read is bounded in size and time ([`crate::frame`]); a bad frame (oversized, unknown
//! kind, truncated, silent too long) closes that connection only. At most
//! [`MeshSettings::max_handshakes`] incoming connections may be in their handshake at once
//! ([`MeshSettings::max_handshakes_per_ip`] from one address), and a participant has at most
//! one accepted connection: a newer one closes the older.

use primitives::ParticipantId;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tracing::{debug, info, warn};

use crate::frame::{encode_frame, read_frame, write_frame, write_frames, FrameError, FrameKind};
use crate::identity::NearKey;
use crate::tls::{self, PeerKeys};

pub(crate) mod heard;
#[cfg(test)]
mod tests;

use heard::Heard;

type ServerStream = tokio_rustls::server::TlsStream<TcpStream>;

/// Where a peer listens and which TLS key it must present, as the contract lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    /// `host:port` to dial.
    pub addr: String,
    pub tls_key: [u8; 32],
}

impl PeerInfo {
    /// From a participant's registered URL (`https://host:port`, or bare `host:port`).
    pub fn from_url(url: &str, tls_key: [u8; 32]) -> Self {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("tcp://"))
            .unwrap_or(url);
        let addr = rest.trim_end_matches('/').to_owned();
        Self { addr, tls_key }
    }
}

/// Where the mesh hands what peers send: protocol messages and task starts.
pub trait Inbox: Send + Sync + 'static {
    fn deliver(&self, from: ParticipantId, kind: FrameKind, payload: Vec<u8>);

    /// The connection `peer` sends on ended — it closed, failed, went silent past the read
    /// timeout, or a newer connection of the peer replaced it. Whatever the peer had in
    /// flight may be lost with it (a crashed peer has lost its whole state), so an instance
    /// waiting for the peer would wait for nothing until its timeout.
    fn peer_lost(&self, _peer: ParticipantId) {}
}

/// Timing and bounds of the mesh.
#[derive(Clone, Debug)]
pub struct MeshSettings {
    pub heartbeat: Duration,
    /// A peer we have not heard from for this long counts as down.
    pub dead_after: Duration,
    /// A connection that sends no frame (not even a heartbeat) for this long is closed.
    pub read_timeout: Duration,
    /// A frame the peer does not take in this long closes our connection to it.
    pub write_timeout: Duration,
    pub handshake_timeout: Duration,
    pub max_backoff: Duration,
    /// Frames waiting for one peer beyond this are dropped (the protocols they belong to time
    /// out and are retried).
    pub max_queued: usize,
    /// Incoming connections still in their TLS handshake at once; more are closed at once
    /// (honest peers redial with backoff). Bounds what strangers can make this node compute
    /// and hold before they prove who they are.
    pub max_handshakes: usize,
    /// The same, from one IP address: one stranger cannot take every handshake slot and
    /// lock the peers out.
    pub max_handshakes_per_ip: usize,
}

impl Default for MeshSettings {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_millis(500),
            dead_after: Duration::from_secs(3),
            read_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(5),
            max_backoff: Duration::from_secs(2),
            max_queued: 4096,
            max_handshakes: 32,
            max_handshakes_per_ip: 8,
        }
    }
}

struct Link {
    info: PeerInfo,
    outbox: mpsc::Sender<(FrameKind, Vec<u8>)>,
    connected: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

/// What a dialer shares with the mesh: whether it is connected, and what was heard (for the
/// tokens its heartbeats carry).
struct DialState {
    connected: Arc<AtomicBool>,
    heard: Arc<Mutex<Heard>>,
}

impl Link {
    fn state(connected: &Arc<AtomicBool>, heard: &Arc<Mutex<Heard>>) -> DialState {
        DialState {
            connected: Arc::clone(connected),
            heard: Arc::clone(heard),
        }
    }
}

/// The mesh of one node.
pub struct Mesh {
    key: Arc<NearKey>,
    settings: MeshSettings,
    peer_keys: PeerKeys,
    links: Mutex<BTreeMap<ParticipantId, Link>>,
    heard: Arc<Mutex<Heard>>,
    inbox: Arc<dyn Inbox>,
    /// The connection each participant reads from, newest only.
    readers: Readers,
    shutdown: watch::Sender<bool>,
}

/// One accepted connection per participant: a newer one (the peer redialed) closes the
/// older, so that a participant can hold at most one reader and its frame buffer here.
#[derive(Default)]
struct Readers {
    current: Mutex<BTreeMap<ParticipantId, (u64, Arc<tokio::sync::Notify>)>>,
    /// Never reused, so that an old reader's exit cannot remove a newer one's entry.
    next: std::sync::atomic::AtomicU64,
}

impl Readers {
    /// Makes a new connection `from`'s reader; the previous one is told to close.
    fn replace(&self, from: ParticipantId) -> (u64, Arc<tokio::sync::Notify>) {
        let generation = self.next.fetch_add(1, Ordering::Relaxed);
        let mut readers = lock(&self.current);
        let closed = Arc::new(tokio::sync::Notify::new());
        if let Some((_, old)) = readers.insert(from, (generation, closed.clone())) {
            // `notify_one` keeps a permit, so an older reader not waiting yet still sees it.
            old.notify_one();
        }
        (generation, closed)
    }

    fn remove(&self, from: ParticipantId, generation: u64) {
        let mut readers = lock(&self.current);
        if readers.get(&from).is_some_and(|(g, _)| *g == generation) {
            readers.remove(&from);
        }
    }
}

/// Handshakes in progress, in all and per IP address.
struct Handshakes {
    all: Arc<tokio::sync::Semaphore>,
    per_ip: Mutex<BTreeMap<std::net::IpAddr, usize>>,
    max_per_ip: usize,
}

/// One handshake's room, given back when dropped.
struct HandshakeRoom {
    _all: tokio::sync::OwnedSemaphorePermit,
    ip: std::net::IpAddr,
    handshakes: Arc<Handshakes>,
}

impl Handshakes {
    fn new(settings: &MeshSettings) -> Self {
        Self {
            all: Arc::new(tokio::sync::Semaphore::new(settings.max_handshakes)),
            per_ip: Mutex::default(),
            max_per_ip: settings.max_handshakes_per_ip,
        }
    }

    fn begin(this: &Arc<Self>, ip: std::net::IpAddr) -> Option<HandshakeRoom> {
        let mut per_ip = lock(&this.per_ip);
        let n = per_ip.entry(ip).or_default();
        if *n >= this.max_per_ip {
            return None;
        }
        let all = Arc::clone(&this.all).try_acquire_owned().ok()?;
        *n += 1;
        Some(HandshakeRoom {
            _all: all,
            ip,
            handshakes: Arc::clone(this),
        })
    }
}

impl Drop for HandshakeRoom {
    fn drop(&mut self) {
        let mut per_ip = lock(&self.handshakes.per_ip);
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every critical section here is a few map operations that cannot leave a map half-done.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Mesh {
    pub fn new(key: NearKey, settings: MeshSettings, inbox: Arc<dyn Inbox>) -> Arc<Self> {
        Arc::new(Self {
            key: Arc::new(key),
            settings,
            peer_keys: PeerKeys::default(),
            links: Mutex::new(BTreeMap::new()),
            heard: Arc::new(Mutex::new(Heard::default())),
            inbox,
            readers: Readers::default(),
            shutdown: watch::channel(false).0,
        })
    }

    /// Accepts peers on `listener` until [`Mesh::shutdown`].
    pub fn serve(self: &Arc<Self>, listener: TcpListener) -> Result<JoinHandle<()>, tls::TlsError> {
        let acceptor = TlsAcceptor::from(tls::server_config(&self.key, self.peer_keys.clone())?);
        let mesh = Arc::clone(self);
        let mut stop = self.shutdown.subscribe();
        let handshakes = Arc::new(Handshakes::new(&self.settings));
        Ok(crate::spawn(async move {
            loop {
                let (tcp, addr) = tokio::select! {
                    r = listener.accept() => match r {
                        Ok(c) => c,
                        Err(e) => {
                            warn!(error = %e, "accepting a peer connection failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    },
                    _ = stop.changed() => return,
                };
                let Some(permit) = Handshakes::begin(&handshakes, addr.ip()) else {
                    debug!(%addr, "too many handshakes at once; closing a connection");
                    continue;
                };
                let mesh = Arc::clone(&mesh);
                let acceptor = acceptor.clone();
                let stop = mesh.shutdown.subscribe();
                crate::spawn(async move {
                    let Some((stream, from, key)) = mesh.handshake(acceptor, tcp, addr).await
                    else {
                        return;
                    };
                    drop(permit);
                    mesh.read_loop(stream, from, key, stop).await
                });
            }
        }))
    }

    /// The TLS handshake and greeting of an incoming connection: the participant it speaks
    /// for and that participant's key, or `None` (logged) if it is refused.
    async fn handshake(
        &self,
        acceptor: TlsAcceptor,
        tcp: TcpStream,
        addr: std::net::SocketAddr,
    ) -> Option<(ServerStream, ParticipantId, [u8; 32])> {
        let handshake = tokio::time::timeout(self.settings.handshake_timeout, acceptor.accept(tcp));
        let mut stream = match handshake.await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                warn!(%addr, error = %e, "refused a peer connection");
                return None;
            }
            Err(_) => {
                warn!(%addr, "refused a peer connection: no TLS handshake in time");
                return None;
            }
        };
        let key = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|c| tls::key_of(c).ok());
        let Some((from, key)) =
            key.and_then(|k| Some((tls::participant_with_key(&self.peer_keys, k)?, k)))
        else {
            warn!(%addr, "refused a peer connection: its key is no participant's");
            return None;
        };
        // The dialer sends nothing until it reads this: with TLS 1.3 a client learns that its
        // certificate was refused only after its handshake "succeeded", and frames written in
        // between would be lost.
        let greeting = write_frame(&mut stream, FrameKind::Heartbeat, &[]);
        match tokio::time::timeout(self.settings.write_timeout, greeting).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                debug!(%addr, peer = %from, error = %e, "peer left during the greeting");
                return None;
            }
            Err(_) => {
                debug!(%addr, peer = %from, "peer did not take the greeting in time");
                return None;
            }
        }
        debug!(%addr, peer = %from, "peer connected");
        Some((stream, from, key))
    }

    /// Reads `from`'s frames until the connection fails, a newer connection of the same
    /// participant replaces it, or the mesh stops.
    async fn read_loop(
        &self,
        mut stream: ServerStream,
        from: ParticipantId,
        key: [u8; 32],
        mut stop: watch::Receiver<bool>,
    ) {
        let (generation, superseded) = self.readers.replace(from);
        loop {
            let frame = tokio::select! {
                f = read_frame(&mut stream, self.settings.read_timeout) => f,
                _ = superseded.notified() => {
                    debug!(peer = %from, "the peer connected again; closing its older connection");
                    // A peer that dials again either restarted or lost frames with its old
                    // connection: what it had in flight is gone either way.
                    self.inbox.peer_lost(from);
                    return;
                }
                _ = stop.changed() => {
                    self.readers.remove(from, generation);
                    return;
                }
            };
            let (kind, payload) = match frame {
                Ok(f) => f,
                Err(FrameError::Closed) => {
                    debug!(peer = %from, "the peer closed its connection");
                    break;
                }
                Err(e) => {
                    warn!(peer = %from, error = %e, "closing the peer's connection");
                    break;
                }
            };
            // The participant set may have changed since the handshake.
            if self.registered_key(from) != Some(key) {
                info!(peer = %from, "closing the connection of a peer no longer registered");
                break;
            }
            let heartbeat = (kind == FrameKind::Heartbeat).then_some(payload.as_slice());
            lock(&self.heard).read(from, heartbeat, Instant::now());
            if kind != FrameKind::Heartbeat {
                self.inbox.deliver(from, kind, payload);
            }
        }
        self.readers.remove(from, generation);
        self.inbox.peer_lost(from);
    }

    fn registered_key(&self, p: ParticipantId) -> Option<[u8; 32]> {
        let keys = self.peer_keys.read().unwrap_or_else(|e| e.into_inner());
        keys.get(&p).copied()
    }

    /// Makes the mesh connect exactly to `peers` (this node excluded), as the contract lists
    /// them now. Links to peers whose address or key changed are rebuilt; others are kept.
    pub fn set_peers(self: &Arc<Self>, peers: BTreeMap<ParticipantId, PeerInfo>) {
        {
            let mut keys = self.peer_keys.write().unwrap_or_else(|e| e.into_inner());
            *keys = peers.iter().map(|(p, i)| (*p, i.tls_key)).collect();
        }
        let mut links = lock(&self.links);
        links.retain(|p, link| {
            let keep = peers.get(p) == Some(&link.info);
            if !keep {
                link.task.abort();
            }
            keep
        });
        for (p, info) in peers {
            if links.contains_key(&p) {
                continue;
            }
            let (tx, rx) = mpsc::channel(self.settings.max_queued);
            let connected = Arc::new(AtomicBool::new(false));
            let task = crate::spawn(dial_loop(
                Arc::clone(&self.key),
                self.settings.clone(),
                p,
                info.clone(),
                rx,
                Link::state(&connected, &self.heard),
                self.shutdown.subscribe(),
            ));
            links.insert(
                p,
                Link {
                    info,
                    outbox: tx,
                    connected,
                    task,
                },
            );
        }
    }

    /// Queues a frame for `to`. False if `to` is not a peer or its queue is full.
    pub fn send(&self, to: ParticipantId, kind: FrameKind, payload: Vec<u8>) -> bool {
        let links = lock(&self.links);
        let Some(link) = links.get(&to) else {
            return false;
        };
        match link.outbox.try_send((kind, payload)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                warn!(peer = %to, "outgoing queue full; dropping a frame");
                false
            }
            // The link is being torn down (peer removed, or shutting down).
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// The peers that are up now (this node not included).
    pub fn alive(&self) -> BTreeSet<ParticipantId> {
        let now = Instant::now();
        let windows = (self.settings.dead_after, self.settings.read_timeout);
        let heard = lock(&self.heard);
        lock(&self.links)
            .iter()
            .filter(|(p, link)| {
                link.connected.load(Ordering::Relaxed) && heard.is_fresh(**p, now, windows)
            })
            .map(|(p, _)| *p)
            .collect()
    }

    /// The peers the mesh is configured for, alive or not.
    pub fn peers(&self) -> BTreeSet<ParticipantId> {
        lock(&self.links).keys().copied().collect()
    }

    /// Stops accepting, closes every connection and stops dialing.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
        for link in lock(&self.links).values() {
            link.task.abort();
        }
    }
}

async fn dial_loop(
    key: Arc<NearKey>,
    settings: MeshSettings,
    peer: ParticipantId,
    info: PeerInfo,
    mut outbox: mpsc::Receiver<(FrameKind, Vec<u8>)>,
    state: DialState,
    mut stop: watch::Receiver<bool>,
) {
    let DialState { connected, heard } = state;
    let config = match tls::client_config(&key, info.tls_key) {
        Ok(c) => c,
        Err(e) => {
            warn!(%peer, error = %e, "cannot set up TLS to the peer");
            return;
        }
    };
    let connector = TlsConnector::from(config);
    let name = rustls::pki_types::ServerName::try_from(tls::PEER_NAME).expect("a valid DNS name");
    let mut backoff = Duration::from_millis(50);
    loop {
        let attempt = async {
            let tcp = TcpStream::connect(&info.addr).await?;
            tcp.set_nodelay(true)?;
            let mut stream = connector.connect(name.clone(), tcp).await?;
            // The acceptor's greeting: it has checked our key against the contract's list.
            match read_frame(&mut stream, settings.handshake_timeout).await {
                Ok((FrameKind::Heartbeat, _)) => Ok(stream),
                Ok(_) => Err(std::io::Error::other("unexpected greeting")),
                Err(e) => Err(std::io::Error::other(format!("not accepted: {e}"))),
            }
        };
        match tokio::time::timeout(settings.handshake_timeout, attempt).await {
            Ok(Ok(stream)) => {
                debug!(%peer, addr = %info.addr, "connected to peer");
                backoff = Duration::from_millis(50);
                connected.store(true, Ordering::Relaxed);
                let to = Peer {
                    id: peer,
                    heard: &heard,
                };
                let reason = write_loop(stream, &mut outbox, to, &settings, &mut stop).await;
                connected.store(false, Ordering::Relaxed);
                match reason {
                    None => return,
                    Some(e) => info!(%peer, error = %e, "lost the connection to peer; redialing"),
                }
            }
            Ok(Err(e)) => debug!(%peer, addr = %info.addr, error = %e, "dialing peer failed"),
            Err(_) => debug!(%peer, addr = %info.addr, "dialing peer timed out"),
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return,
        }
        backoff = (backoff * 2).min(settings.max_backoff);
    }
}

/// Adds one frame to a write. A frame no peer may read (over the size limit) is dropped with
/// a warning, alone: the frames around it still go, and the connection stays up.
fn add_frame(batch: &mut Vec<u8>, to: ParticipantId, kind: FrameKind, payload: &[u8]) {
    if let Err(e) = encode_frame(batch, kind, payload) {
        warn!(peer = %to, ?kind, error = %e, "dropped a frame no peer may read");
    }
}

/// A write loop stops adding queued frames to one write past this many bytes.
const BATCH_BYTES: usize = 256 * 1024;

/// The peer a write loop writes to.
struct Peer<'a> {
    id: ParticipantId,
    heard: &'a Mutex<Heard>,
}

/// Writes queued frames and heartbeats until the connection fails (`Some(reason)`) or the
/// mesh stops (`None`).
async fn write_loop(
    stream: tokio_rustls::client::TlsStream<TcpStream>,
    outbox: &mut mpsc::Receiver<(FrameKind, Vec<u8>)>,
    to: Peer<'_>,
    settings: &MeshSettings,
    stop: &mut watch::Receiver<bool>,
) -> Option<String> {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut beat = tokio::time::interval(settings.heartbeat);
    let mut byte = [0u8; 1];
    let mut batch = Vec::new();
    loop {
        let (kind, payload) = tokio::select! {
            frame = outbox.recv() => match frame {
                Some(frame) => frame,
                None => return None,
            },
            _ = beat.tick() => {
                let payload = lock(to.heard).heartbeat_to(to.id, Instant::now());
                (FrameKind::Heartbeat, payload.to_vec())
            }
            // Past its greeting, the peer never writes on our connection: a read returns
            // only when it closes.
            r = rd.read(&mut byte) => return Some(match r {
                Ok(_) => "the peer closed the connection".into(),
                Err(e) => e.to_string(),
            }),
            _ = stop.changed() => return None,
        };
        // Whatever else is queued already goes out in the same write: under load, one TLS
        // record and one system call carry many frames instead of one each.
        if batch.capacity() > 4 * BATCH_BYTES {
            batch = Vec::new(); // one huge frame once does not pin its size for good
        }
        batch.clear();
        add_frame(&mut batch, to.id, kind, &payload);
        while batch.len() < BATCH_BYTES {
            let Ok((kind, payload)) = outbox.try_recv() else {
                break;
            };
            add_frame(&mut batch, to.id, kind, &payload);
        }
        if batch.is_empty() {
            continue;
        }
        // A peer that stops reading must not hold this loop (and the frames queued behind
        // it) for longer than the write timeout.
        let write = write_frames(&mut wr, &batch);
        match tokio::time::timeout(settings.write_timeout, write).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Some(e.to_string()),
            Err(_) => return Some("a write to the peer timed out".into()),
        }
    }
}
