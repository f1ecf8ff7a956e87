//! Refilling the stockpile (docs/design.md §5): the loop that starts what this node's items
//! lack, and both sides — owner and follower — of every precomputation.
//!
//! Each domain's [`Recipe`] says what it makes. Every item is stored by every member of its
//! set, tagged with epoch, owner and set; only the owner spends it. The loop starts what the
//! targets lack right away, as far as permits allow, one start per domain in turn, and looks
//! again whenever an item is spent or a precomputation ends, not only at its poll. (Starting
//! one item per poll capped a 5-node V2Secp256k1 network at ~25 presignatures/s whatever the
//! CPU could do.) Only items whose whole set is alive count toward a target: while a peer is
//! down, the items it shares are unusable and the rest of the network makes new ones.
//!
//! The owner takes triples out of the store (consumed, durably) before the presignature's
//! start goes out; followers check the owner's claim against their own tags before taking
//! theirs. A failed instance loses its items, never reuses them.

use mpc::InstanceId;
use primitives::{DomainId, ParticipantId};
use rand_core::{OsRng, RngCore};
use std::sync::Arc;
use tracing::{debug, warn};

use super::network::{choose_signers, Network};
use super::protocols::{self, Item, ProtocolKind, Secret};
use super::stockpile::{find_triple_pair, OwnStart, Recipe, Usable};
use super::task::{ItemTask, PresignTask, Role, Run, StockTask, Task, TriplesTask};
use super::{JobError, Member, Shared};
use crate::driver::Liveness;
use crate::router::Registration;
use crate::store::{ItemTag, Kind};

fn fresh_id() -> InstanceId {
    let mut id = [0u8; 32];
    OsRng.fill_bytes(&mut id);
    InstanceId(id)
}

pub(super) async fn run(shared: Arc<Shared>) {
    let mut turn = 0usize;
    let mut stop = shared.stop.subscribe();
    loop {
        // While the store cannot write, nothing is started; a durable probe at each poll
        // finds out when it can again.
        let writable = shared.store.write_failure().is_none() || shared.store.probe().is_ok();
        if let Some(member) = Member::of(&shared).filter(|_| writable) {
            // Passes of one start per domain until a pass starts nothing: a deficit is filled
            // as fast as permits allow, not one item per poll, and domains in deficit share
            // the permits in turn (the first in line rotates).
            let mut active: Vec<DomainId> = member.network.keys.keys().copied().collect();
            if !active.is_empty() {
                let first = turn % active.len();
                active.rotate_left(first);
            }
            while !active.is_empty() {
                active.retain(|domain| {
                    top_up(&member, *domain, &mut turn).unwrap_or_else(|e| {
                        warn!(domain = domain.0, error = %e, "stockpiling failed");
                        false
                    })
                });
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(shared.settings.poll) => {}
            _ = shared.stockpile.woken() => {}
            _ = stop.changed() => return,
        }
    }
}

/// Starts at most one precomputation for `domain` if its stock lacks items; whether it did.
fn top_up(m: &Member, domain: DomainId, turn: &mut usize) -> Result<bool, JobError> {
    let key = &m.network.keys[&domain];
    let alive = m.shared.mesh.alive();
    let usable = Usable {
        me: m.me,
        epoch: m.network.epoch,
        alive: &alive,
    };
    let stockpile = &m.shared.stockpile;
    let settings = &m.shared.settings;
    let n = m.network.participants.len();
    let short = |kind: Kind, target: usize| -> Result<bool, JobError> {
        let now = stockpile.usable(kind, domain, usable)?;
        m.shared.metrics.set_stock(domain.0, kind, now);
        Ok(now + stockpile.in_flight(domain, kind) < target)
    };
    let run = |participants| Run {
        domain,
        epoch: m.network.epoch,
        participants,
    };
    let size = key.scheme().signers(m.network.threshold);
    let recipe = Recipe::of(key);
    if recipe == Recipe::TriplesThenPresign {
        let mut started = false;
        let presignatures = short(Kind::Presignature, recipe.target(settings))?;
        let triples = short(Kind::Triple, settings.triples)?;
        stockpile.wants(domain, presignatures || triples);
        if presignatures
            && stockpile.peek(Kind::Triple, domain, |items| {
                find_triple_pair(items, usable).is_some()
            })?
        {
            if let Some(start) = stockpile.start_own(domain, (Kind::Presignature, 1), n) {
                if let Some(pair) = stockpile.take_triple_pair(domain, usable)? {
                    let task = PresignTask {
                        run: run(pair.set),
                        id: fresh_id(),
                        triples: pair.ids.map(InstanceId),
                    };
                    spawn_own(m, StockTask::Presign(task), Some(pair.secrets), start);
                    started = true;
                }
            }
        }
        if triples {
            started |= start_one(m, domain, turn, (Kind::Triple, 2), size, |set| {
                Some(StockTask::Triples(TriplesTask {
                    run: run(set),
                    ids: [fresh_id(), fresh_id()],
                }))
            });
        }
        return Ok(started);
    }
    let kind = recipe.spends();
    let lacking = short(kind, recipe.target(settings))?;
    stockpile.wants(domain, lacking);
    if !lacking {
        return Ok(false);
    }
    let make = |set| ItemTask {
        run: run(set),
        id: fresh_id(),
    };
    Ok(start_one(m, domain, turn, (kind, 1), size, |set| {
        recipe.one_step(make(set))
    }))
}

/// Starts one precomputation this node owns, with the next signer set of `size` live
/// participants — if there is one, and a permit. Whether it started.
fn start_one(
    m: &Member,
    domain: DomainId,
    turn: &mut usize,
    made: (Kind, usize),
    size: usize,
    task: impl FnOnce(Vec<ParticipantId>) -> Option<StockTask>,
) -> bool {
    let alive = m.shared.mesh.alive();
    let Some(set) = choose_signers(m.me, &alive, &m.network.participants, size, *turn) else {
        return false;
    };
    let Some(task) = task(set) else {
        return false;
    };
    let n = m.network.participants.len();
    let Some(start) = m.shared.stockpile.start_own(domain, made, n) else {
        return false;
    };
    *turn += 1;
    spawn_own(m, task, None, start);
    true
}

/// Runs a precomputation this node owns in the background; `start` (its permit and counts)
/// is given back when it ends, which wakes the refill loop.
fn spawn_own(m: &Member, task: StockTask, triples: Option<(Secret, Secret)>, start: OwnStart) {
    let m = m.clone();
    Arc::clone(&m.shared).spawn_job(async move {
        let what = Task::from(task.clone()).kind();
        let result = run_task(&m, Role::Leader, task, triples).await;
        drop(start);
        match result {
            Ok(()) => debug!(job = what, "stocked"),
            Err(e) if e.outlived_epoch() => {
                debug!(job = what, error = %e, "precomputation outlived its epoch")
            }
            Err(e) if !m.shared.stopping() => {
                warn!(job = what, error = %e, "precomputation failed")
            }
            Err(_) => {}
        }
    });
}

/// The follower side: joins a precomputation a peer started (already checked by
/// [`Task::check`]), holding one of that peer's permits.
pub(super) async fn follow(
    m: &Member,
    from: ParticipantId,
    task: StockTask,
) -> Result<(), JobError> {
    let _permit = m.shared.stockpile.peer_permit(from).await?;
    let triples = match &task {
        StockTask::Presign(t) => {
            let (domain, stockpile) = (t.run.domain, &m.shared.stockpile);
            // Both checked before either is taken: a wrong claim spends nothing.
            for id in &t.triples {
                let (set, epoch) = (&t.run.participants, m.network.epoch);
                stockpile
                    .check_claim(Kind::Triple, domain, &id.0, from, set, epoch)
                    .await?;
            }
            let [a, b] = &t.triples;
            Some((
                stockpile.take_claimed(Kind::Triple, domain, &a.0)?.bytes,
                stockpile.take_claimed(Kind::Triple, domain, &b.0)?.bytes,
            ))
        }
        _ => None,
    };
    run_task(m, Role::Follower { owner: from }, task, triples).await
}

/// Runs one precomputation as its owner (announcing it) or a follower, and stocks what it
/// makes. `triples` are the two a presignature spends, already taken.
async fn run_task(
    m: &Member,
    role: Role,
    task: StockTask,
    triples: Option<(Secret, Secret)>,
) -> Result<(), JobError> {
    let instances = Task::from(task.clone()).instances();
    let registrations = instances
        .iter()
        .map(|id| {
            m.shared
                .router
                .register(*id)
                .ok_or(JobError::Duplicate(*id))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if role == Role::Leader {
        m.shared.announce(m.me, &Task::from(task.clone()));
    }
    let tag = |run: &Run| ItemTag {
        epoch: m.network.epoch,
        owner: role.owner(m.me),
        participants: run.participants.clone(),
    };
    let mut registrations = registrations.into_iter();
    let mut next = || registrations.next().ok_or(JobError::ShuttingDown);
    match task {
        StockTask::Triples(t) => {
            let (ra, rb) = (next()?, next()?);
            let (a, b) = tokio::join!(
                triple(m, &t.run, t.ids[0], ra),
                triple(m, &t.run, t.ids[1], rb)
            );
            let (a, b) = (a?, b?);
            let stockpile = &m.shared.stockpile;
            for (id, bytes) in [(t.ids[0], a), (t.ids[1], b)] {
                let item = Item { bytes, ready: None };
                stockpile.put(Kind::Triple, t.run.domain, &id.0, &tag(&t.run), item)?;
            }
        }
        StockTask::Presign(t) => {
            let key = key_of(&m.network, t.run.domain)?;
            let (a, b) = triples.ok_or(JobError::ShuttingDown)?;
            let instance = protocols::presign(key, t.id, &t.run.participants, m.me, (&a, &b))?;
            drop((a, b));
            let out = precompute(m, ProtocolKind::Presign, instance, next()?).await?;
            let tag = tag(&t.run);
            m.shared
                .stockpile
                .put(Kind::Presignature, t.run.domain, &t.id.0, &tag, out)?;
        }
        StockTask::FastPresign(t) | StockTask::Nonces(t) => {
            let key = key_of(&m.network, t.run.domain)?;
            let set = &t.run.participants;
            let (kind, what, instance) = match Recipe::of(key) {
                Recipe::FastPresign => (
                    Kind::Presignature,
                    ProtocolKind::FastPresign,
                    protocols::fast_presign(key, t.id, set, m.me, m.network.threshold)?,
                ),
                _ => (
                    Kind::Nonces,
                    ProtocolKind::Nonces,
                    protocols::nonces(key, t.id, set, m.me)?,
                ),
            };
            let out = precompute(m, what, instance, next()?).await?;
            let tag = tag(&t.run);
            m.shared
                .stockpile
                .put(kind, t.run.domain, &t.id.0, &tag, out)?;
        }
    }
    Ok(())
}

async fn triple(
    m: &Member,
    run: &Run,
    id: InstanceId,
    registration: Registration,
) -> Result<Secret, JobError> {
    let instance = protocols::triple(id, &run.participants, m.me, m.network.threshold)?;
    precompute(m, ProtocolKind::Triple, instance, registration).await
}

async fn precompute<T: Send + 'static>(
    m: &Member,
    what: ProtocolKind,
    instance: mpc::Instance<T>,
    registration: Registration,
) -> Result<T, JobError> {
    let limit = m.shared.settings.precompute_timeout;
    m.shared
        .run_registered(what, instance, registration, limit, Liveness::FailFast)
        .await
}

fn key_of(network: &Network, domain: DomainId) -> Result<&Arc<crate::keys::DomainKey>, JobError> {
    network
        .keys
        .get(&domain)
        .ok_or(JobError::NoKeyShare(domain))
}
