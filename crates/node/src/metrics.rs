//! The node's Prometheus metrics (`/metrics`): stock per domain and kind, protocol durations
//! and outcomes, requests served and failed, peers alive, the indexer's height, the chain's
//! head, the lag between them and the block source's failures.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;

use primitives::ParticipantId;

use crate::router::{Place, Standing};
use crate::store::Kind;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProtocolLabels {
    protocol: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StockLabels {
    domain: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeerLabels {
    peer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeerPlaceLabels {
    peer: String,
    place: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WhyLabels {
    why: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

fn duration_histogram() -> Histogram {
    // 1 ms … ~65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

pub struct Metrics {
    registry: Registry,
    durations: Family<ProtocolLabels, Histogram>,
    protocols: Family<ProtocolLabels, Counter>,
    requests: Family<OutcomeLabels, Counter>,
    stock: Family<StockLabels, Gauge>,
    peers_alive: Gauge,
    peer_alive: Family<PeerLabels, Gauge>,
    indexer_height: Gauge,
    chain_head: Gauge,
    indexer_lag: Gauge,
    indexer_errors: Family<KindLabels, Counter>,
    signatures_invalid: Counter,
    peer_held: Family<PeerPlaceLabels, Gauge>,
    claims_refused: Family<WhyLabels, Counter>,
    peer_dropped: Family<PeerPlaceLabels, Counter>,
    life: Lifecycle,
    /// The stock gauges' values, readable (a gauge family cannot be listed).
    stock_levels: std::sync::Mutex<std::collections::BTreeMap<(u64, Kind), usize>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("chainsig");
        let durations = Family::<ProtocolLabels, Histogram>::new_with_constructor(
            duration_histogram as fn() -> Histogram,
        );
        let protocols = Family::<ProtocolLabels, Counter>::default();
        let requests = Family::<OutcomeLabels, Counter>::default();
        let stock = Family::<StockLabels, Gauge>::default();
        let peers_alive = Gauge::default();
        let peer_alive = Family::<PeerLabels, Gauge>::default();
        registry.register(
            "protocol_duration_seconds",
            "Time a protocol instance took, by protocol and outcome",
            durations.clone(),
        );
        registry.register(
            "protocols",
            "Protocol instances finished, by protocol and outcome",
            protocols.clone(),
        );
        registry.register(
            "requests",
            "Signature requests this node led, by outcome (served, failed)",
            requests.clone(),
        );
        registry.register(
            "stock",
            "Precomputed items this node holds for the current epoch, by domain and kind",
            stock.clone(),
        );
        registry.register(
            "peers_alive",
            "Peers connected and heard from",
            peers_alive.clone(),
        );
        registry.register(
            "peer_alive",
            "Per peer (participant id): 1 while connected and heard from, else 0",
            peer_alive.clone(),
        );
        let indexer_height = Gauge::default();
        let chain_head = Gauge::default();
        let indexer_lag = Gauge::default();
        let indexer_errors = Family::<KindLabels, Counter>::default();
        registry.register(
            "indexer_height",
            "The last block the indexer applied",
            indexer_height.clone(),
        );
        registry.register(
            "chain_head_height",
            "The newest final block the block source reported",
            chain_head.clone(),
        );
        registry.register(
            "indexer_lag_blocks",
            "Blocks between the chain head and the indexer",
            indexer_lag.clone(),
        );
        registry.register(
            "indexer_errors",
            "Failed reads of the block source, by kind (unreachable, malformed)",
            indexer_errors.clone(),
        );
        let signatures_invalid = Counter::default();
        registry.register(
            "signatures_invalid",
            "Signatures this node led whose signer set's shares did not make a valid signature \
             (a member sent a wrong share, or an item was wrong); never expected",
            signatures_invalid.clone(),
        );
        let peer_held = Family::<PeerPlaceLabels, Gauge>::default();
        let peer_dropped = Family::<PeerPlaceLabels, Counter>::default();
        registry.register(
            "peer_held_bytes",
            "Bytes a peer's messages take here while they wait, by peer and place (early, \
             live, starts); each is bounded by the peer's budget for that place",
            peer_held.clone(),
        );
        registry.register(
            "peer_dropped_messages",
            "Messages from a peer dropped because they would have taken it over its budget, \
             by peer and place",
            peer_dropped.clone(),
        );
        let claims_refused = Family::<WhyLabels, Counter>::default();
        registry.register(
            "claims_refused",
            "Items peers asked this node to spend that it refused, by why (not_in_stock, spent: \
             already spent here, so the claimant's store may be an old copy; not_owners)",
            claims_refused.clone(),
        );
        let life = Lifecycle::register(&mut registry);
        Self {
            registry,
            life,
            claims_refused,
            peer_held,
            peer_dropped,
            durations,
            protocols,
            requests,
            stock,
            peers_alive,
            peer_alive,
            indexer_height,
            chain_head,
            indexer_lag,
            indexer_errors,
            signatures_invalid,
            stock_levels: Default::default(),
        }
    }
}

/// How requests end as this node sees them, and whether the node is fit to serve.
struct Lifecycle {
    closed: Family<OutcomeLabels, Counter>,
    latency: Histogram,
    pending: Gauge,
    healthy: Gauge,
    store_writable: Gauge,
}

impl Lifecycle {
    fn register(registry: &mut Registry) -> Self {
        let life = Self {
            closed: Family::default(),
            // 50 ms … ~14 min: a request may wait its 200 blocks.
            latency: Histogram::new(exponential_buckets(0.05, 2.0, 15)),
            pending: Gauge::default(),
            healthy: Gauge::default(),
            store_writable: Gauge::default(),
        };
        registry.register(
            "requests_closed",
            "Requests the chain closed, by outcome: answered (by any node) or timed_out (no \
             answer within the contract's request_timeout_blocks)",
            life.closed.clone(),
        );
        registry.register(
            "request_latency_seconds",
            "From the block that brought a request to the block that answered it, as this \
             node read them (measured from when it first saw the request)",
            life.latency.clone(),
        );
        registry.register(
            "pending_requests",
            "Requests pending in the contract, as this node's indexer holds them",
            life.pending.clone(),
        );
        registry.register(
            "healthy",
            "1 while the node follows the chain (block source answers, at most 10 blocks \
             behind) and its store writes; else 0",
            life.healthy.clone(),
        );
        registry.register(
            "store_writable",
            "1 while the node's store accepts writes; else 0 (the node then takes no items)",
            life.store_writable.clone(),
        );
        life
    }
}

impl Metrics {
    /// A request left the contract: answered after `waited` (as this node saw it), or
    /// timed out.
    pub fn request_closed(&self, answered: bool, waited: Duration) {
        let outcome = if answered { "answered" } else { "timed_out" }.to_owned();
        self.life
            .closed
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
        if answered {
            self.life.latency.observe(waited.as_secs_f64());
        }
    }

    /// What `/health` says, for scrapers: healthy, store writable, requests pending.
    pub fn set_health(&self, healthy: bool, store_writable: bool, pending: usize) {
        self.life.healthy.set(i64::from(healthy));
        self.life.store_writable.set(i64::from(store_writable));
        self.life.pending.set(pending as i64);
    }

    pub fn protocol_finished(&self, protocol: &str, took: Duration, ok: bool) {
        let labels = ProtocolLabels {
            protocol: protocol.to_owned(),
            outcome: if ok { "ok" } else { "failed" }.to_owned(),
        };
        self.durations
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        self.protocols.get_or_create(&labels).inc();
    }

    pub fn request(&self, served: bool) {
        let outcome = if served { "served" } else { "failed" }.to_owned();
        self.requests
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    pub fn requests_served(&self) -> u64 {
        self.requests_with("served")
    }

    /// Attempts to lead a request that failed (not counting "no item yet").
    pub fn requests_failed(&self) -> u64 {
        self.requests_with("failed")
    }

    fn requests_with(&self, outcome: &str) -> u64 {
        let outcome = outcome.to_owned();
        self.requests
            .get_or_create(&OutcomeLabels { outcome })
            .get()
    }

    /// A signature this node led came out invalid.
    pub fn signature_invalid(&self) {
        self.signatures_invalid.inc();
    }

    pub fn signatures_invalid(&self) -> u64 {
        self.signatures_invalid.get()
    }

    pub fn set_stock(&self, domain: u64, kind: Kind, count: usize) {
        let labels = StockLabels {
            domain: domain.to_string(),
            kind: kind.name().to_owned(),
        };
        self.stock.get_or_create(&labels).set(count as i64);
        self.stock_levels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((domain, kind), count);
    }

    /// Stock this node owns, per domain and kind.
    pub fn stock_levels(&self) -> Vec<StockLevel> {
        let levels = self.stock_levels.lock().unwrap_or_else(|e| e.into_inner());
        levels
            .iter()
            .map(|((domain, kind), count)| StockLevel {
                domain: *domain,
                kind: *kind,
                count: *count,
            })
            .collect()
    }

    /// Liveness of every configured peer.
    pub fn set_peers(&self, peers: impl IntoIterator<Item = (u32, bool)>) {
        self.peer_alive.clear();
        let mut alive = 0;
        for (peer, up) in peers {
            alive += i64::from(up);
            let labels = PeerLabels {
                peer: peer.to_string(),
            };
            self.peer_alive.get_or_create(&labels).set(i64::from(up));
        }
        self.peers_alive.set(alive);
    }

    /// A peer's claim on an item was refused, for `why`.
    pub fn claim_refused(&self, why: &str) {
        let why = why.to_owned();
        self.claims_refused.get_or_create(&WhyLabels { why }).inc();
    }

    /// Claims refused so far for `why`.
    pub fn claims_refused(&self, why: &str) -> u64 {
        let why = why.to_owned();
        self.claims_refused.get_or_create(&WhyLabels { why }).get()
    }

    /// What each peer has waiting in the router, and what of its was dropped.
    pub fn set_router(&self, standings: &[(ParticipantId, [Standing; 3])]) {
        for (peer, places) in standings {
            for (place, standing) in Place::ALL.iter().zip(places) {
                let labels = PeerPlaceLabels {
                    peer: peer.0.to_string(),
                    place: place.name().to_owned(),
                };
                self.peer_held
                    .get_or_create(&labels)
                    .set(i64::try_from(standing.held).unwrap_or(i64::MAX));
                let dropped = self.peer_dropped.get_or_create(&labels);
                dropped.inc_by(standing.dropped.saturating_sub(dropped.get()));
            }
        }
    }

    /// Where the indexer is against the chain's head.
    pub fn set_indexer(&self, height: u64, head: u64) {
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.indexer_height.set(gauge(height));
        self.chain_head.set(gauge(head));
        self.indexer_lag.set(gauge(head.saturating_sub(height)));
    }

    pub fn indexer_error(&self, kind: &str) {
        self.indexer_errors
            .get_or_create(&KindLabels {
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// One stock gauge: how many items of `kind` this node owns for `domain`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StockLevel {
    pub domain: u64,
    pub kind: Kind,
    pub count: usize,
}

#[cfg(test)]
mod tests;
