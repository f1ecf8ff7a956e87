//! The signing pipeline (docs/design.md §2): for each request the [`Indexer`](crate::indexer::Indexer)
//! holds, the participants in [`leader_order`] take turns leading (the first live one at once,
//! as soon as the block that brought the request is read; the next after the failover time
//! without an answer). The leader spends one item it owns whose whole set is alive, runs the
//! one-round signature with that set, verifies the result under the derived key as the
//! contract will, and submits `respond`. A node starts only as many attempts as it owns usable
//! items, on its oldest requests, and tells its peers which request it leads (a lead notice),
//! so that a failover does not spend a second item on it (docs/design.md §8.4).
//!
//! A request is never dropped while it is pending: the indexer holds it until a block shows
//! it answered or timed out, and a restarted node resumes from its cursor. One this node
//! answered, or that the contract says is pending no more, is not led again meanwhile (with
//! a block source a few seconds behind, leaders spent an item per second on refusals). Nobody leads while
//! its indexer is still reading old blocks. A request is never answered with two signatures:
//! the contract resumes the caller with the first verified `respond` and refuses later ones.

use chain::Call;
use contract::RequestId;
use primitives::{DomainId, ParticipantId};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

use super::network::{leader_order, my_turn, Network};
use super::protocols::ProtocolKind;
use super::stockpile::{Recipe, Usable};
use super::task::{sign_instance_id, Run, SignTask, Task};
use super::{protocols, JobError, Member, Shared};
use crate::driver::Liveness;
use crate::indexer::{Attempt, Seen};
use crate::keys::DomainKey;
use contract::views::PendingRequestView;

/// How long a failed attempt waits before this node tries to lead the request again.
const RETRY: Duration = Duration::from_secs(1);
/// How long a follower waits for its own indexer to see a request a leader names.
const SEE_REQUEST: Duration = Duration::from_secs(5);

/// How often leading is reconsidered without a new block: a failed attempt's retry, a
/// leader's turn passing to the next.
const RECHECK: Duration = Duration::from_millis(250);
/// The shortest time between two passes over the pending requests.
const MIN_PASS_GAP: Duration = Duration::from_millis(20);
/// Blocks an indexer may trail the head and still lead.
const LEAD_SLACK: u64 = 2;

pub(super) async fn lead_loop(shared: Arc<Shared>) {
    let mut stop = shared.stop.subscribe();
    let mut stocked = shared.stockpile.stocked();
    loop {
        stocked.borrow_and_update();
        lead_due(&shared);
        // Items are stocked many times a second under load: passes come at most this often.
        tokio::select! {
            _ = tokio::time::sleep(MIN_PASS_GAP) => {}
            _ = stop.changed() => return,
        }
        tokio::select! {
            _ = shared.lead_wake.notified() => {}
            _ = stocked.changed() => {}
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
    // A store that cannot write cannot take an item durably: the next node in line leads.
    if shared.store.write_failure().is_some() {
        return;
    }
    let alive = shared.mesh.alive();
    let pass = Pass {
        me,
        epoch: network.epoch,
        participants: &network.participants,
        alive: &alive,
        now: Instant::now(),
        failover: shared.settings.failover,
    };
    // Counted before the pending set is locked: the first count after an epoch switch reads
    // the store.
    let mut budgets = item_budgets(shared, &network, me, &alive);
    let choice = pass.choose(&mut shared.indexer.pending(), &mut budgets);
    shared.stockpile.starving(choice.starving);
    for (id, avoid) in choice.lead {
        let (shared, network) = (shared.clone(), network.clone());
        Arc::clone(&shared).spawn_job(async move {
            let result = lead(&shared, &network, me, id, &avoid).await;
            let failed_set = report(&shared, id, &result);
            if let Some(seen) = shared.indexer.pending().get_mut(&id) {
                seen.attempt = after_attempt(&result, !avoid.is_empty());
                seen.failed_sets.extend(failed_set);
            }
        });
    }
}

/// What a pass chose: the requests to lead now (each with the signer sets it avoids), and the
/// domains with requests left waiting for want of an item (their refill comes first).
#[derive(Default)]
struct Choice {
    lead: Vec<(RequestId, Vec<Vec<ParticipantId>>)>,
    starving: BTreeSet<DomainId>,
}

/// One pass over the pending requests: who this node is and what it sees now.
struct Pass<'a> {
    me: ParticipantId,
    epoch: u64,
    participants: &'a std::collections::BTreeMap<ParticipantId, String>,
    alive: &'a BTreeSet<ParticipantId>,
    now: Instant,
    failover: Duration,
}

impl Pass<'_> {
    /// The requests to lead now, each with the signer sets it avoids, marked running.
    /// `budgets` holds, per domain this node has a key for, the items it could spend: only
    /// that many attempts start, on the oldest requests, and the younger ones keep their
    /// place for the next item without an attempt. (Every request used to be tried, and one
    /// that found no item sat out a 1 s retry, so the next item went to whichever request's
    /// retry happened to be due: service in random order, and a tail of requests that waited
    /// out the contract's timeout while younger ones were answered — docs/design.md §10.)
    fn choose(
        &self,
        pending: &mut BTreeMap<RequestId, Seen>,
        budgets: &mut HashMap<DomainId, usize>,
    ) -> Choice {
        let (me, now, failover) = (self.me, self.now, self.failover);
        // Oldest first: when items are short they go to the requests that have waited
        // longest, not to those whose ids sort first (which starved requests with
        // late-sorting ids past their timeout under load).
        let mut by_age: Vec<(Instant, RequestId)> =
            pending.iter().map(|(id, s)| (s.first_seen, *id)).collect();
        by_age.sort_unstable();
        let mut chosen = Choice::default();
        for (_, id) in by_age {
            let Some(seen) = pending.get_mut(&id) else {
                continue;
            };
            let busy = match seen.attempt {
                Some(Attempt::Running | Attempt::Answered) => true,
                Some(Attempt::EndedAt(at)) => now.duration_since(at) < RETRY,
                None => false,
            };
            let domain = seen.view.domain_id;
            if busy || !budgets.contains_key(&domain) {
                continue;
            }
            if seen.order.as_ref().is_none_or(|(e, _)| *e != self.epoch) {
                let order = leader_order(&id, self.participants.keys().copied());
                seen.order = Some((self.epoch, order));
            }
            let order = seen.order.as_ref().map_or(&[][..], |(_, o)| &o[..]);
            let waited = now.duration_since(seen.first_seen);
            if !my_turn(order, self.alive, me, waited, failover) {
                continue;
            }
            // A peer whose turn has come leads it: its answer is on the way, and leading too
            // would spend an item on a refusal. One hold of half the failover time per
            // request: peers that announce and never answer delay it no more than a leader
            // that does not start.
            let turn_came = |p| my_turn(order, self.alive, p, waited, failover);
            if seen.led_elsewhere(me, now, failover / 2, turn_came) {
                continue;
            }
            // A request that avoids some sets (a signature of theirs came out invalid) may
            // find none of the counted items usable: it is tried without being counted, and
            // waits the retry pause when it finds nothing (see [`after_attempt`]), so it
            // neither spins nor starves younger ones.
            if seen.failed_sets.is_empty() {
                match budgets.get_mut(&domain) {
                    Some(left) if *left > 0 => *left -= 1,
                    _ => {
                        chosen.starving.insert(domain);
                        continue;
                    }
                }
            }
            debug!(request = %id, waited_ms = waited.as_millis() as u64, "leading");
            seen.attempt = Some(Attempt::Running);
            chosen.lead.push((id, seen.failed_sets.clone()));
        }
        chosen
    }
}

/// Where a request stands after this node's attempt to lead it.
fn after_attempt(result: &Result<(), JobError>, avoids_sets: bool) -> Option<Attempt> {
    match result {
        _ if answered(result) => Some(Attempt::Answered),
        // Nothing was spent or sent (another attempt took the item counted for this one):
        // the request keeps its place for the next item.
        Err(JobError::NoUsableItem { .. }) if !avoids_sets => None,
        _ => Some(Attempt::EndedAt(Instant::now())),
    }
}

/// Per domain, how many items this node owns and could spend now; a domain whose count
/// cannot be read gets no limit (its attempt meets the store's error and reports it).
fn item_budgets(
    shared: &Shared,
    network: &Network,
    me: ParticipantId,
    alive: &BTreeSet<ParticipantId>,
) -> HashMap<DomainId, usize> {
    let usable = Usable {
        me,
        epoch: network.epoch,
        alive,
    };
    network
        .keys
        .iter()
        .map(|(domain, key)| {
            let kind = Recipe::of(key).spends();
            let count = shared.stockpile.usable(kind, *domain, usable);
            (*domain, count.unwrap_or(usize::MAX))
        })
        .collect()
}

/// Whether the request needs no more leading: this node's `respond` went through, or the
/// contract says nothing is pending under that id (another node answered it, or it timed out)
/// — the indexer sees the block that closed it later, and leading again would spend an item
/// for a refusal.
fn answered(result: &Result<(), JobError>) -> bool {
    match result {
        Ok(()) => true,
        Err(JobError::Chain(chain::ChainError::Rejected(m))) => contract::says_not_pending(m),
        Err(_) => false,
    }
}

/// Logs and counts how an attempt to lead `request` ended; returns the signer set to avoid
/// next time, if its signature was invalid.
fn report(
    shared: &Shared,
    request: RequestId,
    result: &Result<(), JobError>,
) -> Option<Vec<ParticipantId>> {
    let e = match result {
        Ok(()) => {
            shared.metrics.request(true);
            return None;
        }
        Err(_) if answered(result) => {
            debug!(request = %request, "already answered; this node's indexer will see it");
            return None;
        }
        Err(e) => e,
    };
    if let JobError::NoUsableItem { .. } | JobError::NoLongerPending(_) = e {
        debug!(request = %request, error = %e, "cannot lead yet");
        return None;
    }
    shared.metrics.request(false);
    if shared.stopping() {
        return None;
    }
    if let JobError::InvalidSignature { set, .. } = e {
        shared.metrics.signature_invalid();
        warn!(request = %request, error = %e, "signature invalid; another set will answer");
        return Some(set.clone());
    }
    if e.is_transient() {
        info!(request = %request, error = %e, "signing attempt failed; retrying");
    } else {
        warn!(request = %request, error = %e, "signing failed");
    }
    None
}

async fn lead(
    shared: &Shared,
    network: &Network,
    me: ParticipantId,
    request: RequestId,
    avoid: &[Vec<ParticipantId>],
) -> Result<(), JobError> {
    let view = shared
        .indexer
        .get(&request)
        .ok_or(JobError::NoLongerPending(request))?;
    let domain = view.domain_id;
    let key = network
        .keys
        .get(&domain)
        .ok_or(JobError::NoKeyShare(domain))?;
    let kind = Recipe::of(key).spends();
    let alive = shared.mesh.alive();
    let usable = Usable {
        me,
        epoch: network.epoch,
        alive: &alive,
    };
    // Consumed, durably, before anything derived from it leaves the node.
    let (item, set, secret) = shared
        .stockpile
        .take_owned(kind, domain, usable, avoid)?
        .ok_or(JobError::NoUsableItem { domain, kind })?;
    shared.announce_leading(&request);
    let id = sign_instance_id(&request, &mpc::InstanceId(item));
    let registration = shared.router.register(id).ok_or(JobError::Duplicate(id))?;
    let task = Task::Sign(SignTask {
        run: Run {
            domain,
            epoch: network.epoch,
            participants: set.clone(),
        },
        item: mpc::InstanceId(item),
        request,
    });
    shared.announce(me, &task);
    let signers = Signers {
        set: &set,
        me,
        leader: me,
    };
    let invalid = |reason: String| JobError::InvalidSignature {
        set: set.clone(),
        culprit: None,
        reason,
    };
    let response = run_sign(shared, key, signers, secret, &view, registration)
        .await?
        .ok_or_else(|| invalid("the leader assembled no signature".into()))?;
    // No second check here with the contract's own rule: the protocol has just verified the
    // signature under the derived key (FROST's aggregate, the ECDSA coordinator's verify),
    // and the contract's derivation is property-tested against the one the protocols use
    // (contract::crypto::host_ec's tests). The re-check cost ~0.7 ms of CPU per BIP340
    // signature, a tenth of a node's time under load; the contract still refuses anything
    // that does not verify.
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
    m: &Member,
    from: ParticipantId,
    task: SignTask,
) -> Result<(), JobError> {
    let SignTask { run, item, request } = task;
    let domain = run.domain;
    let key = m
        .network
        .keys
        .get(&domain)
        .ok_or(JobError::NoKeyShare(domain))?;
    let view = m
        .shared
        .indexer
        .wait_for(&request, SEE_REQUEST)
        .await
        .ok_or(JobError::RequestNotSeen(request))?;
    if view.domain_id != domain {
        return Err(JobError::WrongDomain {
            request,
            claimed: domain,
            actual: view.domain_id,
        });
    }
    let kind = Recipe::of(key).spends();
    let (stockpile, set) = (&m.shared.stockpile, &run.participants);
    stockpile
        .check_claim(kind, domain, &item.0, from, set, m.network.epoch)
        .await?;
    let id = sign_instance_id(&request, &item);
    let registration = m
        .shared
        .router
        .register(id)
        .ok_or(JobError::Duplicate(id))?;
    let secret = stockpile.take_claimed(kind, domain, &item.0)?;
    let signers = Signers {
        set,
        me: m.me,
        leader: from,
    };
    run_sign(&m.shared, key, signers, secret, &view, registration).await?;
    Ok(())
}

/// Who signs: the set, this node, and the leader that assembles and submits the signature.
struct Signers<'a> {
    set: &'a [ParticipantId],
    me: ParticipantId,
    leader: ParticipantId,
}

/// Runs one signature — the leader's and every follower's side alike — spending `item`. The
/// leader's result is the signature; a follower's may be `None`.
async fn run_sign(
    shared: &Shared,
    key: &DomainKey,
    signers: Signers<'_>,
    item: protocols::Item,
    view: &PendingRequestView,
    registration: crate::router::Registration,
) -> Result<Option<primitives::response::SignatureResponse>, JobError> {
    let Signers { set, me, leader } = signers;
    let instance = protocols::sign(key, registration.id, set, me, leader, item, view)?;
    let limit = shared.settings.sign_timeout;
    shared
        .run_registered(
            ProtocolKind::Sign,
            instance,
            registration,
            limit,
            Liveness::FailFast,
        )
        .await
        .map_err(|e| e.in_signature(set))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Kind;

    const ME: ParticipantId = ParticipantId(0);
    const PEER: ParticipantId = ParticipantId(1);

    /// Request `n` of `domain`, first seen `age` before `now`.
    fn request(n: u8, domain: u64, age: Duration, now: Instant) -> (RequestId, Seen) {
        let id = RequestId([n; 32]);
        let view = PendingRequestView {
            request_id: id,
            predecessor: contract::AccountId("app.near".into()),
            path: String::new(),
            payload: primitives::request::Payload::Ecdsa(vec![n; 32]),
            domain_id: DomainId(domain),
            entropy: String::new(),
            created_at: 1,
        };
        let seen = Seen {
            view,
            first_seen: now - age,
            attempt: None,
            failed_sets: vec![],
            led_by: vec![],
            order: None,
        };
        (id, seen)
    }

    fn chosen(pass: &Pass, pending: &mut BTreeMap<RequestId, Seen>, items: usize) -> Vec<u8> {
        let mut budgets = HashMap::from([(DomainId(0), items)]);
        let ids = pass.choose(pending, &mut budgets).lead;
        ids.iter().map(|(id, _)| id.0[0]).collect()
    }

    /// A pass of a node alone in its network (every turn is its own), failover 1 s.
    fn alone<'a>(
        participants: &'a BTreeMap<ParticipantId, String>,
        alive: &'a BTreeSet<ParticipantId>,
        now: Instant,
    ) -> Pass<'a> {
        Pass {
            me: ME,
            epoch: 1,
            participants,
            alive,
            now,
            failover: Duration::from_secs(1),
        }
    }

    #[test]
    fn items_go_to_the_oldest_requests_and_the_rest_keep_their_place() {
        let now = Instant::now();
        let participants = BTreeMap::from([(ME, "me".to_owned())]);
        let alive = BTreeSet::new();
        let pass = alone(&participants, &alive, now);
        let s = Duration::from_secs(1);
        let mut pending = BTreeMap::from([
            request(1, 0, 3 * s, now),
            request(2, 0, s, now),
            request(3, 0, 2 * s, now),
            // No key for this domain here: never led.
            request(4, 9, 9 * s, now),
        ]);
        assert_eq!(
            chosen(&pass, &mut pending, 2),
            vec![1, 3],
            "two items, oldest first"
        );
        assert_eq!(pending[&RequestId([1; 32])].attempt, Some(Attempt::Running));
        assert_eq!(
            pending[&RequestId([2; 32])].attempt,
            None,
            "no attempt, no pause"
        );
        assert_eq!(
            chosen(&pass, &mut pending, 0),
            Vec::<u8>::new(),
            "no item, no attempt"
        );
        assert_eq!(
            chosen(&pass, &mut pending, 5),
            vec![2],
            "its turn at the next item"
        );
    }

    #[test]
    fn a_domain_whose_requests_wait_for_items_is_starving() {
        let now = Instant::now();
        let participants = BTreeMap::from([(ME, "me".to_owned())]);
        let alive = BTreeSet::new();
        let pass = alone(&participants, &alive, now);
        let s = Duration::from_secs(1);
        let starving = |pending: &mut BTreeMap<RequestId, Seen>, items| {
            let mut budgets = HashMap::from([(DomainId(0), items), (DomainId(1), 0)]);
            pass.choose(pending, &mut budgets).starving
        };
        let mut pending = BTreeMap::from([request(1, 0, 2 * s, now), request(2, 0, s, now)]);
        assert_eq!(starving(&mut pending, 1), BTreeSet::from([DomainId(0)]));
        // Both led now (one running, one given the next item): none waits.
        assert_eq!(starving(&mut pending, 1), BTreeSet::new());
        // A domain without requests is not starving, however empty its stock.
        let mut idle = BTreeMap::from([request(3, 0, s, now)]);
        assert_eq!(starving(&mut idle, 1), BTreeSet::new());
    }

    #[test]
    fn a_request_that_avoids_sets_is_tried_without_taking_the_count() {
        let now = Instant::now();
        let participants = BTreeMap::from([(ME, "me".to_owned())]);
        let alive = BTreeSet::new();
        let pass = alone(&participants, &alive, now);
        let s = Duration::from_secs(1);
        let (id, mut avoiding) = request(1, 0, 2 * s, now);
        avoiding.failed_sets.push(vec![ME, PEER]);
        let mut pending = BTreeMap::from([(id, avoiding), request(2, 0, s, now)]);
        assert_eq!(chosen(&pass, &mut pending, 1), vec![1, 2]);
    }

    #[test]
    fn a_peer_whose_turn_came_holds_a_request_it_leads_for_half_the_failover() {
        let now = Instant::now();
        let participants = BTreeMap::from([(ME, "me".to_owned()), (PEER, "peer".to_owned())]);
        let alive = BTreeSet::from([PEER]);
        // Waited past the failover: both turns have come, whoever is first in order.
        let pass = alone(&participants, &alive, now);
        let (id, mut seen) = request(1, 0, Duration::from_secs(5), now);
        seen.led_by.push((PEER, now - Duration::from_millis(100)));
        let mut pending = BTreeMap::from([(id, seen)]);
        assert_eq!(chosen(&pass, &mut pending, 1), Vec::<u8>::new(), "held");
        let later = Pass {
            now: now + Duration::from_millis(500),
            ..alone(&participants, &alive, now)
        };
        assert_eq!(chosen(&later, &mut pending, 1), vec![1], "the hold ran out");
    }

    #[test]
    fn finding_no_item_is_no_attempt_unless_the_request_avoids_sets() {
        let none = Err(JobError::NoUsableItem {
            domain: DomainId(0),
            kind: Kind::Nonces,
        });
        assert_eq!(after_attempt(&none, false), None);
        assert!(matches!(
            after_attempt(&none, true),
            Some(Attempt::EndedAt(_))
        ));
        assert_eq!(after_attempt(&Ok(()), false), Some(Attempt::Answered));
        let failed = Err(JobError::Chain(chain::ChainError::Unavailable(
            "down".into(),
        )));
        assert!(matches!(
            after_attempt(&failed, false),
            Some(Attempt::EndedAt(_))
        ));
    }

    #[test]
    fn a_request_the_contract_no_longer_holds_is_not_led_again() {
        let id = "ab".repeat(32);
        let refused = |m: String| Err(JobError::Chain(chain::ChainError::Rejected(m)));
        assert!(answered(&Ok(())));
        // As NEAR relays the contract's refusal of a late `respond`.
        assert!(answered(&refused(format!(
            "Action #0: ExecutionError(\"Smart contract panicked: {}\")",
            contract::ContractError::UnknownRequest(id.clone())
        ))));
        assert!(!answered(&refused(
            "Action #0: ExecutionError(\"Smart contract panicked: signature does not verify\")"
                .into()
        )));
        assert!(!answered(&Err(JobError::Chain(
            chain::ChainError::Unavailable("timeout".into())
        ))));
        assert!(!answered(&Err(JobError::NoLongerPending(RequestId(
            [1; 32]
        )))));
    }
}
