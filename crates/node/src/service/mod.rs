//! The running node: it follows the contract, keeps stockpiles and answers requests.
//!
//! Five loops share one [`Shared`] state:
//! - **follow** ([`follow`]) reads the contract's state: the mesh's peer list, the current
//!   network and this node's key shares for it, key generation and resharing when the
//!   contract asks for them, the switch to a new epoch, candidate registration; it wakes when
//!   the indexer sees the contract's state change, and polls slowly besides;
//! - **index** ([`index`]) follows the chain block by block into the [`Indexer`], which owns
//!   the pending requests;
//! - **lead** ([`signing`]) starts the signatures this node leads, as soon as a block brings a
//!   request and again when a leader's turn passes;
//! - **precompute** ([`precompute`]) tops up the items this node owns in its [`Stockpile`];
//! - **starts** dispatches the tasks peers start ([`task::Task`]) to the follower side of
//!   [`precompute`] and [`signing`].
//!
//! Every protocol instance runs as its own tokio task through [`crate::driver::drive`].
//! Precomputation holds permits: of one semaphore for the instances this node starts (at most
//! `max_concurrent_protocols / n` at once), and of one per peer for the instances that peer
//! starts here, never fewer than the peer may start (see [`stockpile::PeerPermits`]). Signing
//! holds none, so it is never starved by precomputation.

mod error;
mod follow;
pub mod index;
pub mod network;
mod precompute;
pub mod protocols;
mod signing;
mod stockpile;
pub mod task;

use chain::{BlockSource, Chain};
use mpc::Instance;
use primitives::{NearPublicKey, ParticipantId};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::driver::{drive, Drive, DriveError, Liveness, Steps};
use crate::identity::NearKey;
use crate::indexer::{Indexer, IndexerStatus};
use crate::mesh::{Mesh, MeshSettings};
use crate::metrics::Metrics;
use crate::router::{Place, Router, RouterLimits, Standing};
use crate::store::Store;
use network::Network;
use protocols::Lane;
use stockpile::Stockpile;

pub(crate) use error::{ClaimError, JobError};

/// How much to keep ready and how long to wait.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Triples this node owns, per ECDSA domain (presignatures are made from them).
    pub triples: usize,
    /// Presignatures this node owns, per ECDSA domain.
    pub presignatures: usize,
    /// Nonce commitments this node owns, per FROST domain.
    pub nonces: usize,
    /// Precomputation instances a node runs at once, its own and its peers' together: each
    /// node starts at most this divided by the network's size; each peer may have up to half
    /// of this running here.
    pub max_concurrent_protocols: usize,
    /// How often the contract's state is read besides when a block shows it changed.
    pub poll: Duration,
    pub keygen_timeout: Duration,
    pub precompute_timeout: Duration,
    pub sign_timeout: Duration,
    /// How long the next leader in order waits for the previous one (docs/design.md §2).
    pub failover: Duration,
    pub mesh: MeshSettings,
    pub router: RouterLimits,
    /// Deliberate misbehaviour, for tests only (empty without the `fault-injection` feature).
    pub faults: crate::faults::Faults,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            triples: 64,
            presignatures: 32,
            nonces: 32,
            max_concurrent_protocols: 32,
            poll: Duration::from_secs(1),
            keygen_timeout: Duration::from_secs(120),
            precompute_timeout: Duration::from_secs(60),
            sign_timeout: Duration::from_secs(15),
            failover: Duration::from_secs(10),
            mesh: MeshSettings::default(),
            router: RouterLimits::default(),
            faults: crate::faults::Faults::default(),
        }
    }
}

/// Everything a node is made of.
pub struct NodeParts {
    pub account_id: String,
    /// The URL peers dial, as registered in the contract.
    pub public_url: String,
    pub tls_key: NearKey,
    pub p2p_listener: TcpListener,
    pub store: Store,
    pub chain: Arc<dyn Chain>,
    /// Where the node follows the chain's blocks (NEAR RPC, NEAR Lake, the in-process chain).
    pub blocks: Arc<dyn BlockSource>,
    pub settings: Settings,
}

/// Why the node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error("cannot start the threads for heavy protocol steps: {0}")]
    Workers(std::io::Error),
}

/// State every loop and job shares.
pub(crate) struct Shared {
    pub account: String,
    pub public_url: String,
    pub tls_public_key: NearPublicKey,
    pub settings: Settings,
    pub store: Arc<Store>,
    pub chain: Arc<dyn Chain>,
    pub blocks: Arc<dyn BlockSource>,
    pub mesh: Arc<Mesh>,
    pub router: Arc<Router>,
    pub network: RwLock<Option<Arc<Network>>>,
    pub indexer: Indexer,
    /// Wakes the lead loop: a block brought requests.
    pub lead_wake: tokio::sync::Notify,
    /// Precomputed items, their permits and counts.
    pub stockpile: Arc<Stockpile>,
    /// The threads heavy protocol steps run on.
    pub workers: crate::workers::Pools,
    pub metrics: Metrics,
    pub stop: watch::Sender<bool>,
    /// Every job (protocol instance, key event, signature): aborted together at shutdown.
    pub jobs: Mutex<tokio::task::JoinSet<()>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Critical sections here are map updates that cannot be left half-done.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn network(&self) -> Option<Arc<Network>> {
        self.network
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Runs one key event's instance to its output over the mesh, timing it for the metrics.
    pub async fn run<T: Send + 'static>(
        &self,
        what: protocols::ProtocolKind,
        instance: Instance<T>,
        limit: Duration,
    ) -> Result<T, JobError> {
        let registration = self
            .router
            .register(instance.id())
            .ok_or(JobError::Duplicate(instance.id()))?;
        self.run_registered(what, instance, registration, limit, Liveness::Patient)
            .await
    }

    /// [`Shared::run`] for an instance whose inbox was registered before its task start went
    /// out.
    pub async fn run_registered<T: Send + 'static>(
        &self,
        what: protocols::ProtocolKind,
        instance: Instance<T>,
        registration: crate::router::Registration,
        limit: Duration,
        liveness: Liveness,
    ) -> Result<T, JobError> {
        let started = Instant::now();
        let mut stop = self.stop.subscribe();
        let tamper = self.settings.faults.tamper(what);
        let result = tokio::select! {
            r = drive(instance, registration, &self.mesh, Drive {
                limit,
                liveness,
                steps: match what.lane() {
                    Lane::Inline => Steps::Inline,
                    Lane::Keys => Steps::On(&self.workers.keys),
                    Lane::Precompute => Steps::On(&self.workers.precompute),
                },
                tamper,
            }) => r,
            _ = stop.changed() => Err(DriveError::Cancelled),
        };
        self.metrics
            .protocol_finished(what.name(), started.elapsed(), result.is_ok());
        Ok(result?)
    }

    /// Sends a task start to every other member of its set.
    pub fn announce(&self, me: ParticipantId, task: &task::Task) {
        let bytes = task.encode();
        for p in task.participants().iter().filter(|p| **p != me) {
            self.mesh
                .send(*p, crate::frame::FrameKind::Start, bytes.clone());
        }
    }

    /// Tells every peer that this node leads `request` (it has taken the item), so that a
    /// peer whose failover turn comes meanwhile does not spend another on it.
    pub fn announce_leading(&self, request: &contract::RequestId) {
        for p in self.mesh.peers() {
            self.mesh
                .send(p, crate::frame::FrameKind::Leading, request.0.to_vec());
        }
    }

    /// Runs a job in the background, in the node's tracing span, until it ends or the node
    /// stops.
    pub fn spawn_job(&self, job: impl std::future::Future<Output = ()> + Send + 'static) {
        use tracing::Instrument;
        let mut jobs = lock(&self.jobs);
        while jobs.try_join_next().is_some() {}
        if !self.stopping() {
            jobs.spawn(job.in_current_span());
        }
    }

    /// Updates the per-peer metrics: liveness from the mesh, held bytes from the router.
    pub fn report_peers(&self) {
        let alive = self.mesh.alive();
        self.metrics.set_peers(
            self.mesh
                .peers()
                .into_iter()
                .map(|p| (p.0, alive.contains(&p))),
        );
        self.metrics.set_router(&self.router.standings());
    }

    /// Tells the starter of `task` that this node will not take part, so that it gives up
    /// at once rather than at its timeout.
    pub fn refuse(&self, to: ParticipantId, task: &task::Task, reason: &str) {
        for id in task.instances() {
            let payload = [&id.0[..], reason.as_bytes()].concat();
            self.mesh
                .send(to, crate::frame::FrameKind::Refusal, payload);
        }
    }

    pub fn stopping(&self) -> bool {
        *self.stop.borrow()
    }
}

/// A running node.
pub struct Node {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

/// A cheap, cloneable view of a running node, for its HTTP endpoints.
#[derive(Clone)]
pub struct NodeHandle(Arc<Shared>);

/// `/public_data`: what an operator hands others to add this node to a network.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PublicData {
    pub account_id: String,
    pub participant_id: Option<ParticipantId>,
    pub tls_public_key: NearPublicKey,
    pub p2p_url: String,
}

impl NodeHandle {
    pub fn status(&self) -> Status {
        status_of(&self.0)
    }

    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// The Prometheus exposition, with gauges read fresh.
    pub fn render_metrics(&self) -> String {
        self.0.report_peers();
        let status = status_of(&self.0);
        self.0.metrics.set_health(
            status.healthy,
            status.store_error.is_none(),
            status.pending_requests,
        );
        self.0.metrics.render()
    }

    pub fn public_data(&self) -> PublicData {
        PublicData {
            account_id: self.0.account.clone(),
            participant_id: self.0.network().and_then(|n| n.me),
            tls_public_key: self.0.tls_public_key,
            p2p_url: self.0.public_url.clone(),
        }
    }
}

/// How many blocks a node may trail the chain's head and still call itself healthy.
pub const HEALTHY_LAG: u64 = 10;

fn status_of(shared: &Shared) -> Status {
    let network = shared.network();
    let alive = shared.mesh.alive();
    let indexer = shared.indexer.status();
    let store_error = shared.store.write_failure();
    Status {
        healthy: indexer.error.is_none()
            && indexer.lag.is_some_and(|l| l <= HEALTHY_LAG)
            && store_error.is_none(),
        store_error,
        account_id: shared.account.clone(),
        participant: network.as_ref().and_then(|n| n.me),
        epoch: network.as_ref().map(|n| n.epoch),
        domains_with_keys: network
            .as_ref()
            .map(|n| n.keys.keys().map(|d| d.0).collect())
            .unwrap_or_default(),
        peers_alive: alive.into_iter().collect(),
        pending_requests: shared.indexer.len(),
        indexer,
        stock: shared.metrics.stock_levels(),
    }
}

impl Node {
    /// Starts the node's loops and its mesh.
    pub fn start(parts: NodeParts) -> Result<Self, StartError> {
        let NodeParts {
            account_id,
            public_url,
            tls_key,
            p2p_listener,
            store,
            chain,
            blocks,
            settings,
        } = parts;
        let store = Arc::new(store);
        let span = tracing::info_span!("node", account = %account_id);
        let _entered = span.enter();
        let (router, starts) = Router::new(settings.router.clone());
        let tls_public_key = tls_key.public_key();
        let mesh = Mesh::new(tls_key, settings.mesh.clone(), router.clone());
        let workers = crate::workers::Pools::for_this_machine().map_err(StartError::Workers)?;
        let accept = mesh.serve(p2p_listener)?;
        let shared = Arc::new(Shared {
            workers,
            account: account_id,
            public_url,
            tls_public_key,
            stockpile: Arc::new(Stockpile::new(
                store.clone(),
                settings.max_concurrent_protocols,
            )),
            settings,
            store,
            chain,
            blocks,
            mesh,
            router,
            network: RwLock::new(None),
            indexer: Indexer::default(),
            lead_wake: tokio::sync::Notify::new(),
            metrics: Metrics::default(),
            stop: watch::channel(false).0,
            jobs: Mutex::new(tokio::task::JoinSet::new()),
        });
        info!(account = %shared.account, "node starting");
        let tasks = vec![
            accept,
            crate::spawn(follow::run(shared.clone())),
            crate::spawn(index::run(shared.clone())),
            crate::spawn(signing::lead_loop(shared.clone())),
            crate::spawn(precompute::run(shared.clone())),
            crate::spawn(dispatch_starts(shared.clone(), starts)),
        ];
        Ok(Self { shared, tasks })
    }

    /// What the node knows now, for health checks and tests.
    pub fn status(&self) -> Status {
        status_of(&self.shared)
    }

    pub fn handle(&self) -> NodeHandle {
        NodeHandle(self.shared.clone())
    }

    /// What `peer` has waiting in this node's router, in `place`.
    pub fn router_standing(&self, peer: ParticipantId, place: Place) -> Standing {
        self.shared.router.standing(peer, place)
    }

    /// The node's store (read-only uses: tests, `/metrics`).
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// Stops every loop and protocol: in-flight instances end at once (their items were
    /// consumed before they started, so nothing can be reused), connections close, and the
    /// store is released when the node is dropped.
    pub async fn shutdown(self) {
        self.shared.stop.send_replace(true);
        self.shared.mesh.shutdown();
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
        let mut jobs = std::mem::take(&mut *lock(&self.shared.jobs));
        jobs.abort_all();
        while jobs.join_next().await.is_some() {}
        // Aborted jobs have dropped their state; the HTTP server may still hold a handle for
        // a moment. The store's file lock goes with the last one.
        for _ in 0..100 {
            if Arc::strong_count(&self.shared) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if Arc::strong_count(&self.shared) > 1 {
            warn!("some jobs were still finishing at shutdown");
        }
        info!(account = %self.shared.account, "node stopped");
    }
}

/// A snapshot of the node's view.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Status {
    /// Whether the node follows the chain (its block source answers and it is at most
    /// [`HEALTHY_LAG`] blocks behind the head) and its store writes.
    pub healthy: bool,
    /// Why the store cannot write, while it cannot: the node then takes no items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_error: Option<String>,
    pub account_id: String,
    pub participant: Option<ParticipantId>,
    pub epoch: Option<u64>,
    pub domains_with_keys: Vec<u64>,
    pub peers_alive: Vec<ParticipantId>,
    pub pending_requests: usize,
    /// How far the node has followed the chain.
    pub indexer: IndexerStatus,
    /// Precomputed material this node owns, per domain and kind.
    pub stock: Vec<crate::metrics::StockLevel>,
}

/// This node as a member of the current network: what most jobs need at hand.
#[derive(Clone)]
pub(crate) struct Member {
    pub shared: Arc<Shared>,
    pub network: Arc<Network>,
    pub me: ParticipantId,
}

impl Member {
    /// `None` while the node knows no network, or is not in it.
    pub fn of(shared: &Arc<Shared>) -> Option<Self> {
        let network = shared.network()?;
        let me = network.me?;
        Some(Self {
            shared: shared.clone(),
            network,
            me,
        })
    }
}

async fn dispatch_starts(
    shared: Arc<Shared>,
    mut starts: tokio::sync::mpsc::UnboundedReceiver<crate::router::ControlDelivery>,
) {
    while let Some(start) = starts.recv().await {
        let (from, bytes) = match start.open() {
            (from, crate::router::Control::Start(bytes)) => (from, bytes),
            (from, crate::router::Control::Leading(id)) => {
                shared.indexer.note_leader(&contract::RequestId(id), from);
                continue;
            }
        };
        let task = match task::Task::decode(&bytes) {
            Ok(t) => t,
            Err(e) => {
                warn!(peer = %from, error = %e, "refused a task start");
                continue;
            }
        };
        let Some(member) = Member::of(&shared) else {
            continue;
        };
        if let Err(e) = task.check(from, &member.network) {
            warn!(peer = %from, task = task.kind(), error = %e, "refused a task start");
            shared.refuse(from, &task, &e.to_string());
            continue;
        }
        Arc::clone(&shared).spawn_job(async move {
            let (kind, refusal) = (task.kind(), task.clone());
            let result = match task.split() {
                Ok(stock) => precompute::follow(&member, from, stock).await,
                Err(sign) => signing::follow(&member, from, sign).await,
            };
            let Err(e) = result else { return };
            let shared = &member.shared;
            if let JobError::Claim { why, .. } = &e {
                shared.metrics.claim_refused(why.name());
            }
            shared.refuse(from, &refusal, &e.to_string());
            if shared.stopping() || e.outlived_epoch() {
                tracing::debug!(peer = %from, task = kind, error = %e, "task ended")
            } else if e.is_transient() {
                info!(peer = %from, task = kind, error = %e, "task not joined or failed")
            } else {
                warn!(peer = %from, task = kind, error = %e, "task failed")
            }
        });
    }
}
