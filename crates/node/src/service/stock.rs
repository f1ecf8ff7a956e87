//! Stockpiles (DESIGN §5): precomputed items this node owns, per domain of the current epoch.
//!
//! ECDSA: Beaver triples are made in pairs among a signer set of exactly `threshold`
//! participants (this node and `threshold − 1` live peers, rotating), then two triples of one
//! set become a presignature for that set. V2Secp256k1 (honest majority): presignatures made
//! directly by a set of `2t − 1`, no triples. FROST: nonce commitments, made by a set of `t`.
//! Every item is stored by every member, tagged with epoch, owner and set; only the owner
//! spends it, as leader of a signature (see [`super::signing`]).
//!
//! The loop starts what the targets lack right away, as far as permits allow, one start per
//! domain in turn so that domains share the permits; it looks again whenever an item is
//! spent or a precomputation ends, not only at its poll. (Starting one item per poll capped
//! a 5-node V2Secp256k1 network at ~25 presignatures/s whatever the CPU could do.)
//!
//! The owner takes triples out of the store (consumed, durably) before the presignature's
//! start goes out; followers check the owner's claim against their own tags before taking
//! theirs. A failed instance loses its items, never reuses them.

use mpc::InstanceId;
use primitives::{DomainId, ParticipantId};
use rand_core::{OsRng, RngCore};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{debug, warn};

use super::network::{choose_signers, Network};
use super::protocols::{self, Secret};
use super::task::Task;
use super::{lock, JobError, Shared};
use crate::driver::Liveness;
use crate::keys::DomainKey;
use crate::store::{ItemId, ItemTag, Kind};

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Triple => "triple",
        Kind::Presignature => "presignature",
        Kind::Nonces => "nonces",
    }
}

/// The kind of item a signature of this domain spends.
pub(super) fn signing_kind(key: &DomainKey) -> Kind {
    match key {
        DomainKey::Ecdsa(_) | DomainKey::V2Ecdsa(_) => Kind::Presignature,
        DomainKey::Ed25519(_) | DomainKey::Bip340(_) => Kind::Nonces,
    }
}

fn fresh_id() -> InstanceId {
    let mut id = [0u8; 32];
    OsRng.fill_bytes(&mut id);
    InstanceId(id)
}

/// Items being made, by domain and kind, so that one poll does not start what the previous
/// one already started.
#[derive(Clone, Default)]
struct InFlight(Arc<Mutex<HashMap<(DomainId, u8), usize>>>);

struct InFlightGuard(InFlight, DomainId, Kind, usize);

impl InFlight {
    fn count(&self, domain: DomainId, kind: Kind) -> usize {
        lock(&self.0)
            .get(&(domain, kind as u8))
            .copied()
            .unwrap_or(0)
    }

    fn add(&self, domain: DomainId, kind: Kind, n: usize) -> InFlightGuard {
        *lock(&self.0).entry((domain, kind as u8)).or_default() += n;
        InFlightGuard(self.clone(), domain, kind, n)
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if let Some(c) = lock(&self.0 .0).get_mut(&(self.1, self.2 as u8)) {
            *c = c.saturating_sub(self.3);
        }
    }
}

pub(super) async fn run(shared: Arc<Shared>) {
    let in_flight = InFlight::default();
    let mut turn = 0usize;
    let mut stop = shared.stop.subscribe();
    loop {
        if let Some(network) = shared.network() {
            if let Some(me) = network.me {
                // Passes of one start per domain until a pass starts nothing: a deficit is
                // filled as fast as permits allow, not one item per poll, and domains in
                // deficit share the permits in turn (the first in line rotates).
                let mut active: Vec<DomainId> = network.keys.keys().copied().collect();
                if !active.is_empty() {
                    let first = turn % active.len();
                    active.rotate_left(first);
                }
                while !active.is_empty() {
                    active.retain(|domain| {
                        top_up(&shared, &network, me, *domain, &in_flight, &mut turn)
                            .unwrap_or_else(|e| {
                                warn!(domain = domain.0, error = %e, "stockpiling failed");
                                false
                            })
                    });
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(shared.settings.poll) => {}
            _ = shared.stock_wake.notified() => {}
            _ = stop.changed() => return,
        }
    }
}

/// This node's items of a kind in the current epoch.
pub(super) fn owned(
    shared: &Shared,
    network: &Network,
    me: ParticipantId,
    kind: Kind,
    domain: DomainId,
) -> Result<Vec<(ItemId, ItemTag)>, JobError> {
    Ok(shared
        .store
        .items(kind, domain)?
        .into_iter()
        .filter(|(_, t)| t.owner == me && t.epoch == network.epoch)
        .collect())
}

/// Whether every member of `set` but `me` is alive.
pub(super) fn set_alive(
    set: &[ParticipantId],
    me: ParticipantId,
    alive: &BTreeSet<ParticipantId>,
) -> bool {
    set.iter().all(|p| *p == me || alive.contains(p))
}

fn top_up(
    shared: &Arc<Shared>,
    network: &Arc<Network>,
    me: ParticipantId,
    domain: DomainId,
    in_flight: &InFlight,
    turn: &mut usize,
) -> Result<bool, JobError> {
    let key = &network.keys[&domain];
    let size = key.scheme().signers(network.threshold);
    let alive = shared.mesh.alive();
    let s = &shared.settings;
    let permit = || own_permit(shared, network.participants.len());
    // Only items whose whole set is up count toward a target: while a peer is down, the
    // items it shares are unusable and the rest of the network makes new ones without it.
    let usable = |items: &[(ItemId, ItemTag)]| {
        items
            .iter()
            .filter(|(_, t)| set_alive(&t.participants, me, &alive))
            .count()
    };
    let mut started = false;
    if let DomainKey::Ecdsa(_) = **key {
        let triples = owned(shared, network, me, Kind::Triple, domain)?;
        let presignatures = owned(shared, network, me, Kind::Presignature, domain)?;
        shared.metrics.set_stock(domain.0, "triple", triples.len());
        shared
            .metrics
            .set_stock(domain.0, "presignature", presignatures.len());
        if usable(&presignatures) + in_flight.count(domain, Kind::Presignature) < s.presignatures {
            let mut by_set: BTreeMap<&[ParticipantId], Vec<ItemId>> = BTreeMap::new();
            for (id, tag) in &triples {
                by_set.entry(&tag.participants).or_default().push(*id);
            }
            let pair = by_set
                .into_iter()
                .find(|(set, ids)| ids.len() >= 2 && set_alive(set, me, &alive));
            if let (Some((set, ids)), Some(permit)) = (pair, permit()) {
                let set = set.to_vec();
                // Taken (consumed, durably) before anything derived from them can leave.
                let a = shared.store.take_item(Kind::Triple, domain, &ids[0])?.1;
                let b = shared.store.take_item(Kind::Triple, domain, &ids[1])?.1;
                let guard = in_flight.add(domain, Kind::Presignature, 1);
                let (shared, network) = (shared.clone(), network.clone());
                let triples = [InstanceId(ids[0]), InstanceId(ids[1])];
                Arc::clone(&shared).spawn_job(async move {
                    let r =
                        lead_presign(&shared, &network, me, domain, set, triples, (a, b), permit)
                            .await;
                    finished(&shared, "presign", r, guard);
                });
                started = true;
            }
        }
        if usable(&triples) + in_flight.count(domain, Kind::Triple) < s.triples {
            started |= start_owned(
                shared,
                network,
                me,
                &alive,
                in_flight,
                turn,
                (Kind::Triple, 2),
                size,
                |set| Task::Triples {
                    domain,
                    epoch: network.epoch,
                    participants: set,
                    ids: [fresh_id(), fresh_id()],
                },
            );
        }
    } else {
        // One run makes one item: FROST nonces, or for a V2Secp256k1 domain a presignature
        // straight from the key shares, without triples (DESIGN §8).
        let fast = matches!(**key, DomainKey::V2Ecdsa(_));
        let (kind, target) = if fast {
            (Kind::Presignature, s.presignatures)
        } else {
            (Kind::Nonces, s.nonces)
        };
        let items = owned(shared, network, me, kind, domain)?;
        shared
            .metrics
            .set_stock(domain.0, kind_name(kind), items.len());
        if usable(&items) + in_flight.count(domain, kind) < target {
            started |= start_owned(
                shared,
                network,
                me,
                &alive,
                in_flight,
                turn,
                (kind, 1),
                size,
                |participants| {
                    let (epoch, id) = (network.epoch, fresh_id());
                    if fast {
                        Task::FastPresign {
                            domain,
                            epoch,
                            participants,
                            id,
                        }
                    } else {
                        Task::Nonces {
                            domain,
                            epoch,
                            participants,
                            id,
                        }
                    }
                },
            );
        }
    }
    Ok(started)
}

/// Starts one precomputation this node owns, making `made.1` items of kind `made.0`, with the
/// next signer set of `size` live participants — if there is one, and a permit. Whether it
/// started.
#[allow(clippy::too_many_arguments)]
fn start_owned(
    shared: &Arc<Shared>,
    network: &Arc<Network>,
    me: ParticipantId,
    alive: &BTreeSet<ParticipantId>,
    in_flight: &InFlight,
    turn: &mut usize,
    made: (Kind, usize),
    size: usize,
    task: impl FnOnce(Vec<ParticipantId>) -> Task,
) -> bool {
    let set = choose_signers(me, alive, &network.participants, size, *turn);
    let Some(set) = set else { return false };
    let Some(permit) = own_permit(shared, network.participants.len()) else {
        return false;
    };
    *turn += 1;
    let task = task(set);
    let guard = in_flight.add(task.domain(), made.0, made.1);
    let (shared, network) = (shared.clone(), network.clone());
    Arc::clone(&shared).spawn_job(async move {
        let what = task.kind();
        let r = run_task(&shared, &network, me, me, task, true, permit).await;
        finished(&shared, what, r, guard);
    });
    true
}

/// A permit to start one precomputation here: `n` of the node's `max_concurrent_protocols`,
/// `n` being the network's size. Each node then starts at most `max / n` at once, so the
/// instances any one node runs — its own and those it follows for its peers — stay near
/// `max` (an honest network's worth), not `n` times it. Without this, a 5-node devnet filling
/// its stock at start-up overran the peers' outgoing queues and lost triples to timeouts.
fn own_permit(shared: &Shared, n: usize) -> Option<OwnedSemaphorePermit> {
    let max = shared.settings.max_concurrent_protocols;
    take_share(&shared.own_permits, max, n)
}

/// One `n`-th of `permits` (which hold `max`, at least 1): at most `max / n` at once, and
/// always at least one.
fn take_share(permits: &Arc<Semaphore>, max: usize, n: usize) -> Option<OwnedSemaphorePermit> {
    let weight = u32::try_from(n.clamp(1, max.max(1))).unwrap_or(u32::MAX);
    permits.clone().try_acquire_many_owned(weight).ok()
}

/// Ends a precomputation this node started: its items no longer count as in flight, and
/// the stock loop looks again at once (its permit is free, its items may be in).
fn finished(shared: &Shared, what: &str, result: Result<(), JobError>, in_flight: InFlightGuard) {
    drop(in_flight);
    shared.stock_wake.notify_one();
    match result {
        Ok(()) => debug!(job = what, "stocked"),
        // The epoch changed under it: expected at every switch.
        Err(e) if e.outlived_epoch() => {
            debug!(job = what, error = %e, "precomputation outlived its epoch")
        }
        Err(e) if !shared.stopping() => warn!(job = what, error = %e, "precomputation failed"),
        Err(_) => {}
    }
}

#[allow(clippy::too_many_arguments)]
async fn lead_presign(
    shared: &Shared,
    network: &Network,
    me: ParticipantId,
    domain: DomainId,
    set: Vec<ParticipantId>,
    triples: [InstanceId; 2],
    secrets: (Secret, Secret),
    permit: OwnedSemaphorePermit,
) -> Result<(), JobError> {
    let task = Task::Presign {
        domain,
        epoch: network.epoch,
        participants: set,
        id: fresh_id(),
        triples,
    };
    presign(shared, network, me, me, task, secrets, true).await?;
    drop(permit);
    Ok(())
}

/// The follower side: joins a precomputation a peer started (already checked by
/// [`Task::check`]).
pub(super) async fn follow(
    shared: &Shared,
    from: ParticipantId,
    network: Arc<Network>,
    task: Task,
) -> Result<(), JobError> {
    let me = network
        .me
        .ok_or_else(|| JobError::Refused("not a participant".into()))?;
    let permit = shared.peer_permits.acquire(from).await?;
    if let Task::Presign {
        domain,
        triples,
        participants,
        ..
    } = &task
    {
        let mut secrets = vec![];
        for t in triples {
            check_tag(
                shared,
                &network,
                Kind::Triple,
                *domain,
                &t.0,
                from,
                participants,
            )
            .await?;
        }
        for t in triples {
            secrets.push(shared.store.take_item(Kind::Triple, *domain, &t.0)?.1);
        }
        let b = secrets.pop().expect("two triples");
        let a = secrets.pop().expect("two triples");
        presign(shared, &network, me, from, task, (a, b), false).await?;
        drop(permit);
        return Ok(());
    }
    run_task(shared, &network, me, from, task, false, permit).await
}

/// How long a follower waits for its own copy of an item the owner names: the owner may
/// store its copy, and move on to use it, a moment before this node has stored its own.
const ITEM_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Checks that a stocked item exists and is `owner`'s, made by `set` in this epoch.
pub(super) async fn check_tag(
    shared: &Shared,
    network: &Network,
    kind: Kind,
    domain: DomainId,
    id: &ItemId,
    owner: ParticipantId,
    set: &[ParticipantId],
) -> Result<(), JobError> {
    let until = tokio::time::Instant::now() + ITEM_GRACE;
    let mut tag = shared.store.item_tag(kind, domain, id)?;
    while tag.is_none() && tokio::time::Instant::now() < until && !shared.store.is_consumed(id)? {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        tag = shared.store.item_tag(kind, domain, id)?;
    }
    match tag {
        Some(tag)
            if tag.owner == owner && tag.participants == set && tag.epoch == network.epoch =>
        {
            Ok(())
        }
        Some(_) => Err(JobError::Refused(format!(
            "{} {} is not {owner}'s for this set and epoch",
            kind_name(kind),
            InstanceId(*id)
        ))),
        None => Err(JobError::Refused(format!(
            "no {} {} in stock",
            kind_name(kind),
            InstanceId(*id)
        ))),
    }
}

fn key_of(network: &Network, domain: DomainId) -> Result<&Arc<DomainKey>, JobError> {
    network
        .keys
        .get(&domain)
        .ok_or_else(|| JobError::Refused(format!("no key share for domain {domain}")))
}

/// Runs a triples, fast-presign or nonces task, as its owner (`owner == me`, announcing it)
/// or a follower, and stores what it makes.
async fn run_task(
    shared: &Shared,
    network: &Network,
    me: ParticipantId,
    owner: ParticipantId,
    task: Task,
    announce: bool,
    permit: OwnedSemaphorePermit,
) -> Result<(), JobError> {
    let key = key_of(network, task.domain())?;
    let set = task.participants().to_vec();
    let tag = ItemTag {
        epoch: network.epoch,
        owner,
        participants: set.clone(),
    };
    let limit = shared.settings.precompute_timeout;
    let domain = task.domain();
    match &task {
        Task::Triples { ids, .. } => {
            let regs = register_all(shared, ids)?;
            if announce {
                shared.announce(me, &task);
            }
            let t = network.threshold;
            let [ra, rb] = regs;
            let (a, b) = tokio::join!(
                async {
                    shared
                        .run_registered(
                            "triple",
                            protocols::triple(ids[0], &set, me, t)?,
                            ra,
                            limit,
                            Liveness::FailFast,
                        )
                        .await
                },
                async {
                    shared
                        .run_registered(
                            "triple",
                            protocols::triple(ids[1], &set, me, t)?,
                            rb,
                            limit,
                            Liveness::FailFast,
                        )
                        .await
                },
            );
            let (a, b) = (a?, b?);
            shared
                .store
                .put_item(Kind::Triple, domain, &ids[0].0, &tag, &a)?;
            shared
                .store
                .put_item(Kind::Triple, domain, &ids[1].0, &tag, &b)?;
        }
        // One instance, one item: a presignature without triples, or FROST nonces.
        Task::FastPresign { id, .. } | Task::Nonces { id, .. } => {
            let [reg] = register_all(shared, &[*id])?;
            if announce {
                shared.announce(me, &task);
            }
            let (kind, instance) = match task {
                Task::FastPresign { .. } => (
                    Kind::Presignature,
                    protocols::fast_presign(key, *id, &set, me, network.threshold)?,
                ),
                _ => (Kind::Nonces, protocols::nonces(key, *id, &set, me)?),
            };
            let out = shared
                .run_registered(task.kind(), instance, reg, limit, Liveness::FailFast)
                .await?;
            shared.store.put_item(kind, domain, &id.0, &tag, &out)?;
        }
        Task::Presign { .. } | Task::Sign { .. } => {
            return Err(JobError::Refused("not a stock task".into()));
        }
    }
    drop(permit);
    Ok(())
}

async fn presign(
    shared: &Shared,
    network: &Network,
    me: ParticipantId,
    owner: ParticipantId,
    task: Task,
    triples: (Secret, Secret),
    announce: bool,
) -> Result<(), JobError> {
    let Task::Presign {
        domain,
        id,
        ref participants,
        ..
    } = task
    else {
        return Err(JobError::Refused("not a presign task".into()));
    };
    let key = key_of(network, domain)?;
    let [reg] = register_all(shared, &[id])?;
    if announce {
        shared.announce(me, &task);
    }
    let instance = protocols::presign(key, id, participants, me, (&triples.0, &triples.1))?;
    drop(triples);
    let limit = shared.settings.precompute_timeout;
    let out = shared
        .run_registered("presign", instance, reg, limit, Liveness::FailFast)
        .await?;
    let tag = ItemTag {
        epoch: network.epoch,
        owner,
        participants: participants.clone(),
    };
    shared
        .store
        .put_item(Kind::Presignature, domain, &id.0, &tag, &out)?;
    Ok(())
}

fn register_all<const N: usize>(
    shared: &Shared,
    ids: &[InstanceId; N],
) -> Result<[crate::router::Registration; N], JobError> {
    let regs: Vec<_> = ids
        .iter()
        .map(|id| shared.router.register(*id).ok_or(JobError::Duplicate(*id)))
        .collect::<Result<_, _>>()?;
    Ok(regs
        .try_into()
        .unwrap_or_else(|_| unreachable!("one registration per id")))
}

#[cfg(test)]
mod tests {
    use super::take_share;
    use crate::service::PeerPermits;
    use std::sync::Arc;
    use tokio::sync::Semaphore;

    /// How many precomputations a node of a network of `n` may start at once.
    fn starts(max: usize, n: usize) -> usize {
        let permits = Arc::new(Semaphore::new(max.max(1)));
        let mut held = vec![];
        while let Some(p) = take_share(&permits, max, n) {
            held.push(p);
        }
        held.len()
    }

    #[test]
    fn a_node_starts_max_over_n_and_never_more_than_a_peer_admits() {
        assert_eq!(starts(32, 5), 6);
        assert_eq!(starts(32, 2), 16);
        assert_eq!(starts(8, 5), 1);
        assert_eq!(starts(32, 40), 1, "a large network still makes progress");
        assert_eq!(starts(1, 3), 1);
        // No leader ever needs more follower slots than a peer grants it: no circle of waits.
        for max in [1, 2, 7, 8, 32, 64] {
            for n in 2..=40 {
                assert!(
                    starts(max, n) <= PeerPermits::for_max(max).each,
                    "max {max}, n {n}"
                );
            }
        }
    }
}
