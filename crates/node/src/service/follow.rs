//! Following the contract (docs/design.md §2, §4.4): the contract is the only source of membership
//! and keys; this loop turns its state into the node's.
//!
//! - The mesh connects to the current participants and, during a resharing, the new ones.
//! - `Running` (or the network a key event started from): the node's [`Network`] with its key
//!   shares for the epoch. When a new epoch is confirmed, stock of other epochs is dropped and
//!   older key shares deleted; a node that is no longer a participant deletes all of its
//!   shares and stock.
//! - `Initializing`: every participant runs key generation for each new domain, stores its
//!   share, then votes the public key.
//! - `Resharing`: every new participant runs the reshare of each domain (old holders deal),
//!   stores its new share under the next epoch, then votes `vote_reshared`.
//! - A node that is neither participant nor candidate registers as a candidate.
//!
//! Key events are identified by the epoch and the block their instance started at, so an
//! aborted attempt and its retry never share instance ids.

use chain::Call;
use contract::views::{ParticipantView, StateView};
use mpc::{InstanceId, Resharing};
use primitives::{DomainId, ParticipantId};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{debug, error, info, warn};

use super::network::{Domain, Network};
use super::protocols::ProtocolKind;
use super::{protocols, JobError, Shared};
use crate::keys::DomainKey;
use crate::mesh::PeerInfo;
use crate::store::{NextEpoch, Switched};

/// What the loop remembers between polls.
#[derive(Default)]
struct Memory {
    /// Key events this node has started work for.
    started: HashSet<InstanceId>,
    /// When this node last submitted a one-off call (start instance, register), by kind.
    submitted: BTreeMap<&'static str, Instant>,
    /// The epoch whose cleanup has been done.
    cleaned: Option<(u64, bool)>,
    was_participant: bool,
}

pub(super) async fn run(shared: Arc<Shared>) {
    let mut memory = Memory::default();
    let mut stop = shared.stop.subscribe();
    loop {
        match shared.chain.state().await {
            Ok(state) => step(&shared, &state, &mut memory).await,
            Err(e) => warn!(error = %e, "cannot read the contract's state"),
        }
        shared.report_peers();
        tokio::select! {
            _ = shared.indexer.state_changed() => {}
            _ = tokio::time::sleep(shared.settings.poll) => {}
            _ = stop.changed() => return,
        }
    }
}

fn key_event_id(kind: &str, epoch: u64, started_at: u64, domain: Option<DomainId>) -> InstanceId {
    let mut label = format!("{kind}/{epoch}/{started_at}").into_bytes();
    if let Some(d) = domain {
        label.extend_from_slice(format!("/{}", d.0).as_bytes());
    }
    InstanceId::derive(&label)
}

fn ids(views: &[ParticipantView]) -> Vec<ParticipantId> {
    views.iter().map(|p| p.id).collect()
}

async fn step(shared: &Arc<Shared>, state: &StateView, memory: &mut Memory) {
    let account = shared.account.as_str();
    let find = |views: &[ParticipantView]| {
        views
            .iter()
            .find(|p| p.account_id.0 == account)
            .map(|p| p.id)
    };
    let me_now = find(&state.participants);
    let me_next = state.resharing.as_ref().and_then(|r| find(&r.participants));
    update_mesh(shared, state, me_now.or(me_next));
    update_network(shared, state, me_now);
    clean_up_after_switch(shared, state, me_now, memory);
    if let Some(me) = me_now {
        on_initializing(shared, state, me, memory).await;
    }
    if let Some(me) = me_next {
        on_resharing(shared, state, me_now, me, memory).await;
    }
    if me_now.is_some() || me_next.is_some() {
        remember_participation(shared, memory);
    } else {
        offer_candidacy(shared, state, memory).await;
    }
}

/// Key generation for the domains being added: started once, then this node's share of each
/// domain it has not voted for yet.
async fn on_initializing(
    shared: &Arc<Shared>,
    state: &StateView,
    me: ParticipantId,
    memory: &mut Memory,
) {
    let Some(init) = &state.initializing else {
        return;
    };
    let epoch = state.epoch.unwrap_or_default();
    let Some(at) = init.started_at else {
        let call = Call::StartKeygenInstance { epoch };
        submit_once(shared, memory, "start_keygen", call).await;
        return;
    };
    let account = shared.account.as_str();
    for d in &init.domains {
        let voted = init
            .voted
            .iter()
            .any(|(id, who)| *id == d.id && who.iter().any(|a| a.0 == account));
        let id = key_event_id("keygen", epoch, at, Some(d.id));
        if voted || !memory.started.insert(id) {
            continue;
        }
        let participants = ids(&state.participants);
        let threshold = state.threshold.unwrap_or_default() as usize;
        let (shared, scheme, domain) = (shared.clone(), d.scheme, d.id);
        Arc::clone(&shared).spawn_job(async move {
            let r = keygen(
                &shared,
                id,
                scheme,
                domain,
                epoch,
                participants,
                me,
                threshold,
            )
            .await;
            if let Err(e) = r {
                error!(domain = domain.0, error = %e, "key generation failed");
                abort_key_event(&shared, epoch).await;
            }
        });
    }
}

/// A resharing this node takes part in as `me` of the new set (`me_old` of the old one, if
/// it was in it): started once, then run once per attempt.
async fn on_resharing(
    shared: &Arc<Shared>,
    state: &StateView,
    me_old: Option<ParticipantId>,
    me: ParticipantId,
    memory: &mut Memory,
) {
    let Some(r) = &state.resharing else {
        return;
    };
    let epoch = state.epoch.unwrap_or_default();
    let Some(at) = r.started_at else {
        let call = Call::StartReshareInstance { epoch };
        submit_once(shared, memory, "start_reshare", call).await;
        return;
    };
    let done = r.reshared.iter().any(|a| a.0 == shared.account);
    let id = key_event_id("reshare", epoch, at, None);
    if done || !memory.started.insert(id) {
        return;
    }
    let (shared, state) = (shared.clone(), state.clone());
    Arc::clone(&shared).spawn_job(async move {
        if let Err(e) = reshare(&shared, &state, at, me_old, me).await {
            error!(error = %e, "resharing failed");
            abort_key_event(&shared, epoch).await;
        }
    });
}

/// A node in neither set offers itself once, as a candidate: one that has been a participant
/// and left stays out until its operator registers it again.
async fn offer_candidacy(shared: &Arc<Shared>, state: &StateView, memory: &mut Memory) {
    let known = state
        .candidates
        .iter()
        .any(|c| c.account_id.0 == shared.account);
    if !known && state.epoch.is_some() && !was_participant(shared, memory) {
        let call = Call::RegisterCandidate {
            url: shared.public_url.clone(),
            tls_public_key: shared.tls_public_key,
        };
        submit_once(shared, memory, "register_candidate", call).await;
    }
}

/// Once per confirmed epoch (and per participation in it): stock of other epochs goes, and
/// older key shares; a node that left keeps nothing. A step of its own, so that refreshing
/// the network view never deletes anything.
fn clean_up_after_switch(
    shared: &Shared,
    state: &StateView,
    me: Option<ParticipantId>,
    memory: &mut Memory,
) {
    let Some(epoch) = state.epoch else {
        return;
    };
    if state.state == contract::views::Phase::Running
        && memory.cleaned != Some((epoch, me.is_some()))
    {
        memory.cleaned = Some((epoch, me.is_some()));
        let next = me.map(|_| NextEpoch {
            threshold: state.threshold.unwrap_or_default() as usize,
            participants: ids(&state.participants).into_iter().collect(),
        });
        cleanup(shared, epoch, next.as_ref());
    }
}

/// Meta entry: this node has been a participant (so it does not offer itself again).
const WAS_PARTICIPANT: &str = "was_participant";

fn was_participant(shared: &Shared, memory: &mut Memory) -> bool {
    if memory.was_participant {
        return true;
    }
    memory.was_participant = matches!(shared.store.meta(WAS_PARTICIPANT), Ok(Some(_)));
    memory.was_participant
}

fn remember_participation(shared: &Shared, memory: &mut Memory) {
    if !was_participant(shared, memory) {
        match shared.store.put_meta(WAS_PARTICIPANT, b"1") {
            Ok(()) => memory.was_participant = true,
            Err(e) => warn!(error = %e, "cannot record participation"),
        }
    }
}

/// Backs abandoning the key event this node could not finish: the contract ends it when a
/// threshold agrees or its block budget is spent, and the network goes on as before it.
async fn abort_key_event(shared: &Shared, epoch: u64) {
    match shared.chain.submit(Call::VoteAbort { epoch }).await {
        Ok(()) => info!(epoch, "voted to abort the key event"),
        Err(e) => debug!(epoch, error = %e, "abort vote not taken"),
    }
}

/// Submits a call that only needs to land once, at most every few seconds.
async fn submit_once(shared: &Shared, memory: &mut Memory, what: &'static str, call: Call) {
    let now = Instant::now();
    if memory
        .submitted
        .get(what)
        .is_some_and(|t| now.duration_since(*t) < Duration::from_secs(3))
    {
        return;
    }
    memory.submitted.insert(what, now);
    match shared.chain.submit(call).await {
        Ok(()) => info!(call = what, "submitted"),
        Err(e) => debug!(call = what, error = %e, "call not taken"),
    }
}

fn update_mesh(shared: &Arc<Shared>, state: &StateView, me: Option<ParticipantId>) {
    let mut peers = BTreeMap::new();
    // Outsiders (candidates, leavers) have no one to talk to: peers would refuse them.
    if me.is_none() {
        shared.mesh.set_peers(peers);
        return;
    }
    let next = state.resharing.iter().flat_map(|r| r.participants.iter());
    for p in state.participants.iter().chain(next) {
        if Some(p.id) == me {
            continue;
        }
        match <[u8; 32]>::try_from(p.tls_public_key.key_bytes().as_slice()) {
            Ok(key) if p.tls_public_key.as_ed25519().is_some() => {
                peers.insert(p.id, PeerInfo::from_url(&p.url, key));
            }
            _ => warn!(peer = %p.id, "participant's TLS key is not ed25519; not connecting"),
        }
    }
    shared.mesh.set_peers(peers);
}

fn update_network(shared: &Shared, state: &StateView, me: Option<ParticipantId>) {
    let Some(epoch) = state.epoch else {
        return;
    };
    let fresh = Network {
        epoch,
        me,
        threshold: state.threshold.unwrap_or_default() as usize,
        participants: state
            .participants
            .iter()
            .map(|p| (p.id, p.account_id.0.clone()))
            .collect(),
        domains: state
            .domains
            .iter()
            .map(|d| {
                let domain = Domain {
                    scheme: d.scheme,
                    public_key: d.public_key,
                };
                (d.id, domain)
            })
            .collect(),
        keys: BTreeMap::new(),
    };
    let current = shared.network();
    let complete = current
        .as_ref()
        .is_some_and(|n| n.same_as(&fresh) && (me.is_none() || n.keys.len() == n.domains.len()));
    if complete {
        return;
    }
    let mut fresh = fresh;
    if me.is_some() {
        for (id, d) in &fresh.domains {
            match load_key(shared, *id, epoch, d) {
                Ok(Some(k)) => {
                    fresh.keys.insert(*id, Arc::new(k));
                }
                Ok(None) => {}
                Err(e) => error!(domain = id.0, epoch, error = %e, "key share unusable"),
            }
        }
    }
    if current
        .as_ref()
        .is_none_or(|n| !n.same_as(&fresh) || n.keys.len() != fresh.keys.len())
    {
        info!(
            epoch,
            participant = ?me,
            domains = fresh.domains.len(),
            keys = fresh.keys.len(),
            "network updated"
        );
    }
    *shared.network.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(fresh));
}

fn load_key(
    shared: &Shared,
    domain: DomainId,
    epoch: u64,
    expect: &Domain,
) -> Result<Option<DomainKey>, JobError> {
    let Some(bytes) = shared.store.key_share(domain, epoch)? else {
        return Ok(None);
    };
    let key = DomainKey::decode(expect.scheme, &bytes).map_err(protocols::BuildError::from)?;
    if key.public_key() != expect.public_key {
        return Err(JobError::KeyMismatch {
            stored: key.public_key().to_string(),
            expected: expect.public_key.to_string(),
        });
    }
    Ok(Some(key))
}

/// A confirmed epoch: stock of other epochs goes (but the triples the new participant set
/// may keep), and shares of older ones; a node that left (`next` is `None`) keeps nothing.
fn cleanup(shared: &Shared, epoch: u64, next: Option<&NextEpoch>) {
    let participant = next.is_some();
    let keep_from = if participant { epoch } else { u64::MAX };
    let result = (|| {
        let switched = shared.stockpile.switch_epoch(keep_from, next)?;
        let deleted = shared.store.delete_key_shares_before(keep_from)?;
        // Ids consumed in the epoch just ended are kept one epoch more: peers may hold carried
        // triples whose id this node spent, and a claim on one must be refused as spent.
        shared.store.prune_consumed(epoch.saturating_sub(1))?;
        Ok::<_, crate::store::StoreError>((switched, deleted))
    })();
    match result {
        Ok((
            Switched {
                dropped: 0,
                carried: 0,
            },
            0,
        )) => {}
        Ok((switched, deleted)) => info!(
            epoch,
            dropped = switched.dropped,
            carried = switched.carried,
            deleted,
            participant,
            "epoch cleanup"
        ),
        Err(e) => error!(epoch, error = %e, "epoch cleanup failed"),
    }
}

#[allow(clippy::too_many_arguments)]
async fn keygen(
    shared: &Shared,
    id: InstanceId,
    scheme: primitives::SignatureScheme,
    domain: DomainId,
    epoch: u64,
    participants: Vec<ParticipantId>,
    me: ParticipantId,
    threshold: usize,
) -> Result<(), JobError> {
    let public_key = if shared.store.event_done(&id.0)? {
        // A restart after this attempt gave us our share: vote what we have.
        let bytes = shared
            .store
            .key_share(domain, epoch)?
            .ok_or(JobError::EventShareMissing)?;
        DomainKey::decode(scheme, &bytes)
            .map_err(protocols::BuildError::from)?
            .public_key()
    } else {
        info!(domain = domain.0, %scheme, "key generation starting");
        let instance = protocols::keygen(scheme, id, &participants, me, threshold)?;
        let key = shared
            .run(
                ProtocolKind::Keygen,
                instance,
                shared.settings.keygen_timeout,
            )
            .await?;
        shared
            .store
            .put_key_share_for_event(domain, epoch, &key.encode(), &id.0)?;
        key.public_key()
    };
    info!(domain = domain.0, %public_key, "key generated; voting");
    shared
        .chain
        .submit(Call::VotePk {
            domain_id: domain,
            public_key,
            epoch,
        })
        .await?;
    Ok(())
}

async fn reshare(
    shared: &Shared,
    state: &StateView,
    started_at: u64,
    me_old: Option<ParticipantId>,
    me: ParticipantId,
) -> Result<(), JobError> {
    let r = state.resharing.as_ref().expect("called while resharing");
    let epoch = state.epoch.unwrap_or_default();
    let old = ids(&state.participants);
    let new = ids(&r.participants);
    let resharing = Resharing {
        old: &old,
        old_threshold: state.threshold.unwrap_or_default() as usize,
        new: &new,
        new_threshold: r.threshold as usize,
    };
    info!(epoch, ?old, ?new, "resharing starting");
    // One domain after another: every new participant goes in the same (id) order, and
    // messages of a domain a peer reaches first wait in the router.
    for d in &state.domains {
        let share = match me_old {
            Some(_) => shared
                .store
                .key_share(d.id, epoch)?
                .map(|b| DomainKey::decode(d.scheme, &b))
                .transpose()
                .map_err(protocols::BuildError::from)?,
            None => None,
        };
        let id = key_event_id("reshare", epoch, started_at, Some(d.id));
        if shared.store.event_done(&id.0)? {
            // Done before a restart: this attempt already gave us the new share.
            continue;
        }
        let instance = protocols::reshare(d.scheme, id, resharing, me, share, &d.public_key)?;
        let key = shared
            .run(
                ProtocolKind::Reshare,
                instance,
                shared.settings.keygen_timeout,
            )
            .await?;
        if key.public_key() != d.public_key {
            return Err(JobError::KeyMismatch {
                stored: key.public_key().to_string(),
                expected: d.public_key.to_string(),
            });
        }
        shared
            .store
            .put_key_share_for_event(d.id, epoch + 1, &key.encode(), &id.0)?;
    }
    info!(epoch, "reshared; voting");
    shared.chain.submit(Call::VoteReshared { epoch }).await?;
    Ok(())
}
