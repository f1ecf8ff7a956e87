//! A whole network in one process: a [`LocalChain`] producing blocks, and nodes that talk to
//! each other over real TLS on loopback, each with its own data dir and store.

#![allow(dead_code)]

use chain::{
    BlockChanges, BlockSource, Call, Heights, LocalChain, LocalClient, SharedChain, SignTicket,
    SourceError,
};
use contract::views::{DomainView, StateView};
use contract::{Config, InitParticipant};
use node::identity::NearKey;
use node::mesh::MeshSettings;
use node::service::{Node, NodeParts, Settings, Status};
use node::store::{Store, StoreKey};
use primitives::response::SignatureResponse;
use primitives::SignatureScheme;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub const BLOCK_TIME: Duration = Duration::from_millis(100);

/// Settings that keep tests quick: small stock, fast polls, fast failure detection.
pub fn settings() -> Settings {
    Settings {
        triples: 4,
        presignatures: 4,
        nonces: 6,
        max_concurrent_protocols: 8,
        poll: Duration::from_millis(50),
        keygen_timeout: Duration::from_secs(60),
        precompute_timeout: Duration::from_secs(60),
        sign_timeout: Duration::from_secs(10),
        failover: Duration::from_secs(2),
        mesh: MeshSettings {
            heartbeat: Duration::from_millis(200),
            dead_after: Duration::from_millis(1500),
            ..MeshSettings::default()
        },
        ..Settings::default()
    }
}

pub struct Member {
    pub account: String,
    /// Settings of this node alone, instead of the cluster's.
    pub settings: Option<Settings>,
    pub dir: TempDir,
    pub addr: SocketAddr,
    pub store_key: StoreKey,
    /// This node's block source instead of the cluster's (for the next start).
    pub blocks: Option<Arc<dyn BlockSource>>,
    pub node: Option<Node>,
}

impl Member {
    fn new(account: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        NearKey::generate()
            .write(&dir.path().join("tls_key.json"), None)
            .unwrap();
        // The node binds it when it starts.
        let port = node::ports::free_loopback_port().unwrap();
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        Self {
            account: account.to_owned(),
            settings: None,
            dir,
            addr,
            store_key: StoreKey::generate(),
            blocks: None,
            node: None,
        }
    }

    pub fn tls_key(&self) -> NearKey {
        NearKey::read(&self.dir.path().join("tls_key.json"))
            .unwrap()
            .0
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn store_path(&self) -> std::path::PathBuf {
        self.dir.path().join("store.redb")
    }

    pub fn node(&self) -> &Node {
        self.node.as_ref().expect("node is running")
    }
}

/// How the nodes' block source behaves: [`HEALTHY`], [`DOWN`] or [`MALFORMED`].
pub type Fault = Arc<AtomicU8>;
pub const HEALTHY: u8 = 0;
pub const DOWN: u8 = 1;
pub const MALFORMED: u8 = 2;

/// The in-process chain's block source, which a test can make fail: unreachable, or
/// answering what does not parse.
pub struct Flaky {
    inner: LocalClient,
    fault: Fault,
}

impl Flaky {
    fn check(&self) -> Result<(), SourceError> {
        match self.fault.load(Ordering::Relaxed) {
            DOWN => Err(SourceError::Unreachable("connection refused (test)".into())),
            MALFORMED => Err(SourceError::Malformed(
                "expected value at line 1 (test)".into(),
            )),
            _ => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl BlockSource for Flaky {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    async fn head(&self) -> Result<u64, SourceError> {
        self.check()?;
        self.inner.head().await
    }

    async fn next_heights(&self, after: u64, limit: usize) -> Result<Heights, SourceError> {
        self.check()?;
        self.inner.next_heights(after, limit).await
    }

    async fn changes(&self, height: u64) -> Result<BlockChanges, SourceError> {
        self.check()?;
        self.inner.changes(height).await
    }
}

pub struct Cluster {
    pub chain: SharedChain,
    pub members: Vec<Member>,
    pub settings: Settings,
    /// Every node's block source fails while this says so.
    pub fault: Fault,
    producer: JoinHandle<()>,
}

impl Cluster {
    /// `n` nodes, all running, the contract initialized with them at `threshold`.
    pub async fn new(n: usize, threshold: u64) -> Self {
        Self::with_settings(n, threshold, settings()).await
    }

    /// [`Cluster::new`] with other node settings.
    pub async fn with_settings(n: usize, threshold: u64, settings: Settings) -> Self {
        let chain: SharedChain = Arc::new(Mutex::new(LocalChain::new("signer.test", [7; 32])));
        let members: Vec<Member> = (0..n)
            .map(|i| Member::new(&format!("node{i}.test")))
            .collect();
        let participants = members
            .iter()
            .map(|m| InitParticipant {
                account_id: m.account.clone(),
                url: m.url(),
                tls_public_key: m.tls_key().public_key(),
            })
            .collect();
        let config = Config {
            // Room for a whole test's requests to be answered while stock is being made.
            request_timeout_blocks: 5000,
            ..Config::default()
        };
        chain
            .lock()
            .unwrap()
            .call(
                "signer.test",
                0,
                Call::Init {
                    participants,
                    threshold,
                    config: Some(config),
                },
            )
            .unwrap();
        let producer = {
            let chain = chain.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(BLOCK_TIME).await;
                    chain.lock().unwrap().produce_block();
                }
            })
        };
        let mut cluster = Self {
            chain,
            members,
            settings,
            fault: Arc::new(AtomicU8::new(HEALTHY)),
            producer,
        };
        for i in 0..n {
            cluster.start(i).await;
        }
        cluster
    }

    /// A node not in the contract (it registers itself as a candidate once running).
    pub async fn add_member(&mut self, account: &str) -> usize {
        self.members.push(Member::new(account));
        let i = self.members.len() - 1;
        self.start(i).await;
        i
    }

    pub async fn start(&mut self, i: usize) {
        let m = &mut self.members[i];
        let listener = TcpListener::bind(m.addr).await.unwrap();
        let store = Store::open(&m.store_path(), &m.store_key).unwrap();
        let parts = NodeParts {
            account_id: m.account.clone(),
            public_url: m.url(),
            tls_key: m.tls_key(),
            p2p_listener: listener,
            store,
            chain: Arc::new(LocalClient::new(self.chain.clone(), m.account.clone())),
            blocks: m.blocks.clone().unwrap_or_else(|| {
                Arc::new(Flaky {
                    inner: LocalClient::new(self.chain.clone(), m.account.clone()),
                    fault: self.fault.clone(),
                })
            }),
            settings: m.settings.clone().unwrap_or_else(|| self.settings.clone()),
        };
        m.node = Some(Node::start(parts).unwrap());
    }

    pub async fn stop(&mut self, i: usize) {
        if let Some(node) = self.members[i].node.take() {
            node.shutdown().await;
        }
    }

    /// Makes every node's block source fail (or heal).
    pub fn set_fault(&self, fault: u8) {
        self.fault.store(fault, Ordering::Relaxed);
    }

    pub fn call(&self, who: &str, call: Call) -> Result<Option<SignTicket>, chain::TxError> {
        let deposit = match call {
            Call::Sign { .. } => 1,
            _ => call.deposit(),
        };
        self.chain.lock().unwrap().call(who, deposit, call)
    }

    pub fn state(&self) -> StateView {
        self.chain
            .lock()
            .unwrap()
            .contract()
            .unwrap()
            .state_view()
            .unwrap()
    }

    /// The participant id the contract gave member `i`.
    pub fn participant_id(&self, i: usize) -> primitives::ParticipantId {
        let state = self.state();
        let me = state
            .participants
            .iter()
            .find(|p| p.account_id.0 == self.members[i].account);
        me.expect("member i is a participant").id
    }

    pub fn statuses(&self) -> Vec<Status> {
        self.members
            .iter()
            .filter_map(|m| m.node.as_ref().map(|n| n.status()))
            .collect()
    }

    /// Waits until `done` holds, or fails the test saying what it waited for.
    pub async fn wait(&self, what: &str, limit: Duration, done: impl Fn(&Self) -> bool) {
        let until = Instant::now() + limit;
        while !done(self) {
            if Instant::now() > until {
                panic!(
                    "timed out after {limit:?} waiting for {what}\nstate: {:?}\nnodes: {:#?}",
                    self.state(),
                    self.statuses()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every participant votes to add these domains; returns once they have keys.
    pub async fn add_domains(&self, schemes: &[SignatureScheme]) {
        let state = self.state();
        let before = state.domains.len();
        for p in &state.participants {
            let call = Call::VoteAddDomains {
                schemes: schemes.to_vec(),
                epoch: state.epoch.unwrap(),
            };
            self.call(&p.account_id.0, call).unwrap();
        }
        self.wait("key generation", Duration::from_secs(120), |c| {
            let s = c.state();
            s.state == contract::views::Phase::Running && s.domains.len() == before + schemes.len()
        })
        .await;
        let n = before + schemes.len();
        self.wait("nodes loading their shares", Duration::from_secs(10), |c| {
            c.statuses()
                .iter()
                .all(|s| s.participant.is_none() || s.domains_with_keys.len() == n)
        })
        .await;
    }

    /// Sends a `sign` request from `who`; the ticket its answer will come under.
    pub fn request(
        &self,
        who: &str,
        domain: u64,
        scheme: SignatureScheme,
        path: &str,
        fill: u8,
    ) -> SignTicket {
        let request =
            serde_json::from_value(testkit::sign_request(domain, scheme, path, fill)).unwrap();
        self.call(who, Call::Sign { request })
            .unwrap()
            .expect("sign yields")
    }

    /// Asks `count` signatures of `domain` (from `user{i % users}.test`, paths `{label}-{i}`)
    /// and checks every answer with a verifier independent of the nodes' (testkit).
    pub async fn sign_and_verify(
        &self,
        domain: &DomainView,
        (label, count, users): (&str, usize, usize),
        limit: Duration,
    ) {
        let asked: Vec<_> = (0..count)
            .map(|i| {
                let (who, path) = (format!("user{}.test", i % users), format!("{label}-{i}"));
                let fill = (i + 1) as u8;
                let ticket = self.request(&who, domain.id.0, domain.scheme, &path, fill);
                (who, path, fill, ticket)
            })
            .collect();
        let tickets: Vec<_> = asked.iter().map(|a| a.3).collect();
        let answers = self.answers(&tickets, limit).await;
        for ((who, path, fill, _), answer) in asked.iter().zip(&answers) {
            let payload = testkit::payload_bytes(domain.scheme, *fill);
            testkit::verify_independently(&domain.public_key, who, path, &payload, answer)
                .unwrap_or_else(|e| panic!("request {path} from {who}: {e}"));
        }
    }

    /// Waits for every ticket's answer.
    pub async fn answers(&self, tickets: &[SignTicket], limit: Duration) -> Vec<SignatureResponse> {
        self.wait("answers", limit, |c| {
            let chain = c.chain.lock().unwrap();
            tickets.iter().all(|t| chain.result(*t).is_some())
        })
        .await;
        let chain = self.chain.lock().unwrap();
        tickets
            .iter()
            .map(|t| {
                chain
                    .result(*t)
                    .unwrap()
                    .clone()
                    .expect("answered, not timed out")
            })
            .collect()
    }

    pub async fn shutdown(mut self) {
        for i in 0..self.members.len() {
            self.stop(i).await;
        }
        self.producer.abort();
    }
}

/// Logs for a failing test: `RUST_LOG=node=debug cargo test …`.
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// A plain HTTP/1.1 GET: (status code, body).
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let code = head.split(' ').nth(1).unwrap().parse().unwrap();
    (code, body.to_owned())
}
