//! The signing pipeline (DESIGN §2): for each request the [`Indexer`](crate::indexer::Indexer)
//! holds, the participants in [`leader_order`] take turns leading (the first live one at once,
//! as soon as the block that brought the request is read; the next after the failover time
//! without an answer). The leader spends one item it owns whose whole set is alive, runs the
//! one-round signature with that set, verifies the result under the derived key as the
//! contract will, and submits `respond`.
//!
//! A request is never dropped while it is pending: the indexer holds it until a block shows
//! it answered or timed out, and a restarted node resumes from its cursor. Nobody leads while
//! its indexer is still reading old blocks. A request is never answered with two signatures:
//! the contract resumes the caller with the first verified `respond` and refuses later ones.

use chain::{Call, NativeCrypto};
use contract::RequestId;
use primitives::ParticipantId;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

use super::network::{leader_order, my_turn, Network};
use super::stock::{check_tag, set_alive, signing_kind};
use super::task::{sign_instance_id, Task};
use super::{protocols, JobError, Shared};
use crate::driver::Liveness;
use crate::keys::DomainKey;
use crate::store::StoreError;
use contract::views::PendingRequestView;

/// How long a failed attempt waits before this node tries to lead the request again.
const RETRY: Duration = Duration::from_secs(1);
/// How long a follower waits for its own indexer to see a request a leader names.
const SEE_REQUEST: Duration = Duration::from_secs(5);

/// How often leading is reconsidered without a new block: a failed attempt's retry, a
/// leader's turn passing to the next.
const RECHECK: Duration = Duration::from_millis(250);
/// Blocks an indexer may trail the head and still lead.
const LEAD_SLACK: u64 = 2;

pub(super) async fn lead_loop(shared: Arc<Shared>) {
    let mut stop = shared.stop.subscribe();
    loop {
        lead_due(&shared);
        tokio::select! {
            _ = shared.lead_wake.notified() => {}
            _ = tokio::time::sleep(RECHECK) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Starts the signatures this node should lead now.
fn lead_due(shared: &Arc<Shared>) {
    let Some(network) = shared.network() else {
        return;
    };
    let Some(me) = network.me else {
        return;
    };
    // Still reading older blocks: what looks pending may be answered already.
    if !shared.indexer.caught_up(LEAD_SLACK) {
        return;
    }
    let alive = shared.mesh.alive();
    let now = Instant::now();
    let mut pending = shared.indexer.pending();
    for (id, seen) in pending.iter_mut() {
        let busy = match seen.attempt {
            Some((_, true)) => true,
            Some((at, false)) => now.duration_since(at) < RETRY,
            None => false,
        };
        if busy || !network.keys.contains_key(&seen.view.domain_id) {
            continue;
        }
        let order = leader_order(id, network.participants.keys().copied());
        let waited = now.duration_since(seen.first_seen);
        if !my_turn(&order, &alive, me, waited, shared.settings.failover) {
            continue;
        }
        seen.attempt = Some((now, true));
        let (shared, network, id) = (shared.clone(), network.clone(), *id);
        Arc::clone(&shared).spawn_job(async move {
            let result = lead(&shared, &network, me, id).await;
            match &result {
                Ok(()) => shared.metrics.request(true),
                Err(JobError::Refused(why)) => debug!(request = %id, why, "cannot lead yet"),
                Err(e) => {
                    shared.metrics.request(false);
                    if !shared.stopping() {
                        warn!(request = %id, error = %e, "signing failed");
                    }
                }
            }
            if let Some(seen) = shared.indexer.pending().get_mut(&id) {
                seen.attempt = Some((Instant::now(), false));
            }
        });
    }
}

async fn lead(
    shared: &Shared,
    network: &Network,
    me: ParticipantId,
    request: RequestId,
) -> Result<(), JobError> {
    let view = shared
        .indexer
        .get(&request)
        .ok_or_else(|| JobError::Refused("no longer pending".into()))?;
    let domain = view.domain_id;
    let key = network
        .keys
        .get(&domain)
        .ok_or_else(|| JobError::Refused("no key share for the domain".into()))?;
    let kind = signing_kind(key);
    let alive = shared.mesh.alive();
    // Consumed, durably, before anything derived from it leaves the node. Another signature
    // this node leads may take a listed item first: then the next one is tried.
    let mut taken = None;
    for (id, tag) in super::stock::owned(shared, network, me, kind, domain)? {
        if !set_alive(&tag.participants, me, &alive) {
            continue;
        }
        match shared.store.take_item(kind, domain, &id) {
            Ok((_, secret)) => {
                shared.stock_wake.notify_one();
                taken = Some((id, tag.participants, secret));
                break;
            }
            Err(StoreError::AlreadyConsumed(_) | StoreError::Missing(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let (item, set, secret) =
        taken.ok_or_else(|| JobError::Refused("no usable precomputed item yet".into()))?;
    let id = sign_instance_id(&request, &mpc::InstanceId(item));
    let registration = shared.router.register(id).ok_or(JobError::Duplicate(id))?;
    let task = Task::Sign {
        domain,
        epoch: network.epoch,
        participants: set.clone(),
        item: mpc::InstanceId(item),
        request,
    };
    shared.announce(me, &task);
    let response = run_sign(shared, key, &set, me, secret, &view, registration).await?;
    let d = &network.domains[&domain];
    contract::verify_response(
        &NativeCrypto,
        d.scheme,
        &d.public_key,
        &view.predecessor.0,
        &view.path,
        &view.payload,
        &response,
    )
    .map_err(|e| JobError::Refused(format!("our own signature does not verify: {e}")))?;
    shared
        .chain
        .submit(Call::Respond {
            request_id: request,
            response,
        })
        .await?;
    info!(request = %request, domain = domain.0, "request answered");
    Ok(())
}

/// The follower side of a signature a peer leads (its task already checked by
/// [`Task::check`]): only for a request this node sees pending itself, spending the item the
/// leader owns with this node.
pub(super) async fn follow(
    shared: &Shared,
    from: ParticipantId,
    network: Arc<Network>,
    task: Task,
) -> Result<(), JobError> {
    let Task::Sign {
        domain,
        ref participants,
        item,
        request,
        ..
    } = task
    else {
        return Err(JobError::Refused("not a sign task".into()));
    };
    let me = network
        .me
        .ok_or_else(|| JobError::Refused("not a participant".into()))?;
    let key = network
        .keys
        .get(&domain)
        .ok_or_else(|| JobError::Refused("no key share for the domain".into()))?;
    let view = shared
        .indexer
        .wait_for(&request, SEE_REQUEST)
        .await
        .ok_or_else(|| {
            JobError::Refused(format!("request {request} is not pending on the chain"))
        })?;
    if view.domain_id != domain {
        return Err(JobError::Refused(
            "the request is for another domain".into(),
        ));
    }
    let kind = signing_kind(key);
    check_tag(shared, &network, kind, domain, &item.0, from, participants).await?;
    let id = sign_instance_id(&request, &item);
    let registration = shared.router.register(id).ok_or(JobError::Duplicate(id))?;
    let (_, secret) = shared.store.take_item(kind, domain, &item.0)?;
    run_sign(shared, key, participants, me, secret, &view, registration).await?;
    Ok(())
}

/// Runs one signature — the leader's and every follower's side alike — spending `item`.
async fn run_sign(
    shared: &Shared,
    key: &DomainKey,
    set: &[ParticipantId],
    me: ParticipantId,
    item: protocols::Secret,
    view: &PendingRequestView,
    registration: crate::router::Registration,
) -> Result<primitives::response::SignatureResponse, JobError> {
    let instance = protocols::sign(key, registration.id, set, me, &item, view)?;
    drop(item);
    let limit = shared.settings.sign_timeout;
    shared
        .run_registered("sign", instance, registration, limit, Liveness::FailFast)
        .await
}
