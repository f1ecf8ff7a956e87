//! `state()` both ways: the contract's state written as NEAR's production JSON
//! ([`near_state`](super::near_state)), and that JSON — this contract's or NEAR's own signer's —
//! read into the [`StateView`] nodes and clients act on.
//!
//! The contract's own [`Contract::state_view`] goes through the JSON's types too, so the view
//! a node reads over RPC and the one an in-process chain hands it cannot differ.

use primitives::{DomainId, ParticipantId, SignatureScheme};
use std::collections::BTreeMap;

use super::near_state::*;
use super::{key, DomainView, InitializingView, ParticipantView, Phase, ResharingView, StateView};
use crate::error::ContractError;
use crate::protocol::proposed_participants;
use crate::state::{Contract, KeyEvent as Event, ProtocolState, Running};
use crate::storage::{Candidates, Storage};
use crate::types::{AccountId, Participants};

type Result<T> = std::result::Result<T, ContractError>;

impl<S: Storage> Contract<S> {
    /// `state()`: the protocol state in the shape NEAR's signer returns it.
    pub fn state_json(&self) -> Result<ProtocolContractState> {
        let candidates = self.candidates()?;
        let timeout = self.root.config.key_event_timeout_blocks;
        Ok(match &self.root.protocol {
            ProtocolState::NotInitialized => ProtocolContractState::NotInitialized,
            ProtocolState::Running(r) => {
                ProtocolContractState::Running(running_json(r, &candidates)?)
            }
            ProtocolState::Initializing(i) => {
                let previous = &i.previous;
                let mut registry = registry(previous);
                for d in &i.domains {
                    registry.domains.push(DomainConfigJson::new(
                        d.id,
                        d.scheme,
                        previous.threshold,
                    ));
                }
                registry.next_domain_id = previous.next_domain_id + i.domains.len() as u64;
                let parameters = parameters(&previous.participants, previous.threshold)?;
                let first = i.domains.first();
                let voted_first = first
                    .and_then(|d| i.pk_votes.get(&d.id))
                    .map(|votes| ids(&previous.participants, votes.keys()))
                    .unwrap_or_default();
                ProtocolContractState::Initializing(InitializingContractState {
                    domains: registry,
                    epoch_id: previous.epoch,
                    generated_keys: keyset(previous)?.domains,
                    generating_key: KeyEvent {
                        epoch_id: previous.epoch,
                        domain: first
                            .map(|d| DomainConfigJson::new(d.id, d.scheme, previous.threshold)),
                        next_attempt_id: u64::from(i.event.started_at.is_some()),
                        instance: instance(&i.event, timeout, voted_first, None),
                        parameters,
                    },
                    cancel_votes: ids(&previous.participants, i.event.abort_votes.iter()),
                    voted: Some(
                        i.domains
                            .iter()
                            .map(|d| {
                                let votes = i.pk_votes.get(&d.id);
                                (
                                    d.id,
                                    votes.into_iter().flat_map(|v| v.keys().cloned()).collect(),
                                )
                            })
                            .collect(),
                    ),
                    candidates: candidates_json(&candidates)?,
                })
            }
            ProtocolState::Resharing(r) => {
                let previous = &r.previous;
                let first = previous.domains.first();
                let first_key = first.map(|(_, k)| key(k)).transpose()?;
                ProtocolContractState::Resharing(ResharingContractState {
                    previous_running_state: running_json(previous, &candidates)?,
                    // Every domain is handed over at once: none is done before all are.
                    reshared_keys: vec![],
                    resharing_key: KeyEvent {
                        epoch_id: previous.epoch + 1,
                        domain: first
                            .map(|(d, _)| DomainConfigJson::new(d.id, d.scheme, r.new_threshold)),
                        parameters: parameters(&r.new_participants, r.new_threshold)?,
                        instance: instance(
                            &r.event,
                            timeout,
                            ids(&r.new_participants, r.reshared.iter()),
                            first_key.map(PublicKeyExtended::new),
                        ),
                        next_attempt_id: u64::from(r.event.started_at.is_some()),
                    },
                    cancellation_requests: r.event.abort_votes.iter().cloned().collect(),
                    per_domain_thresholds: previous
                        .domains
                        .iter()
                        .map(|(d, _)| (d.id, r.new_threshold))
                        .collect(),
                })
            }
        })
    }

    /// `state()` as nodes and clients use it.
    pub fn state_view(&self) -> Result<StateView> {
        Ok(StateView::from(self.state_json()?))
    }
}

fn registry(r: &Running) -> DomainRegistry {
    DomainRegistry {
        domains: r
            .domains
            .iter()
            .map(|(d, _)| DomainConfigJson::new(d.id, d.scheme, r.threshold))
            .collect(),
        next_domain_id: r.next_domain_id,
    }
}

fn keyset(r: &Running) -> Result<Keyset> {
    Ok(Keyset {
        epoch_id: r.epoch,
        domains: r
            .domains
            .iter()
            .map(|(d, k)| {
                Ok(KeyForDomain {
                    domain_id: d.id,
                    key: PublicKeyExtended::new(key(k)?),
                    attempt: 0,
                })
            })
            .collect::<Result<_>>()?,
    })
}

fn parameters(p: &Participants, threshold: u64) -> Result<ThresholdParameters> {
    Ok(ThresholdParameters {
        participants: ParticipantsJson {
            next_id: p.next_id,
            participants: p
                .iter()
                .map(|(account, id, info)| {
                    Ok((
                        account.clone(),
                        *id,
                        ParticipantInfoJson {
                            url: info.url.clone(),
                            tls_public_key: key(&info.tls_public_key)?,
                        },
                    ))
                })
                .collect::<Result<_>>()?,
        },
        threshold,
    })
}

fn running_json(r: &Running, candidates: &Candidates) -> Result<RunningContractState> {
    let mut parameters_votes = ParametersVotes::default();
    for ((accounts, threshold), voters) in &r.votes.parameters {
        // A proposal whose newcomer has since withdrawn cannot pass any more: not shown.
        let Ok(proposed) = proposed_participants(&r.participants, candidates, accounts) else {
            continue;
        };
        let proposal = Proposal {
            parameters: parameters(&proposed, *threshold)?,
            per_domain_thresholds: r.domains.iter().map(|(d, _)| (d.id, *threshold)).collect(),
        };
        for voter in voters {
            parameters_votes
                .proposal_by_account
                .insert(voter.clone(), proposal.clone());
        }
    }
    let mut add_domains_votes = AddDomainsVotes::default();
    for (schemes, voters) in &r.votes.add_domains {
        let domains: Vec<DomainConfigJson> = schemes
            .iter()
            .enumerate()
            .map(|(i, s)| {
                DomainConfigJson::new(DomainId(r.next_domain_id + i as u64), *s, r.threshold)
            })
            .collect();
        for voter in voters.iter().filter_map(|v| r.participants.id_of(v)) {
            add_domains_votes
                .proposal_by_account
                .insert(voter, domains.clone());
        }
    }
    let backers = |votes: &BTreeMap<AccountId, std::collections::BTreeSet<AccountId>>| {
        votes
            .iter()
            .map(|(who, by)| (who.clone(), by.iter().cloned().collect()))
            .collect()
    };
    Ok(RunningContractState {
        domains: registry(r),
        keyset: keyset(r)?,
        parameters: parameters(&r.participants, r.threshold)?,
        parameters_votes,
        add_domains_votes,
        previously_cancelled_resharing_epoch_id: None,
        candidates: candidates_json(candidates)?,
        join_votes: backers(&r.votes.join),
        leave_votes: backers(&r.votes.leave),
    })
}

fn candidates_json(candidates: &Candidates) -> Result<Vec<CandidateJson>> {
    candidates
        .iter()
        .map(|(account, c)| {
            Ok(CandidateJson {
                account_id: account.clone(),
                url: c.info.url.clone(),
                tls_public_key: key(&c.info.tls_public_key)?,
            })
        })
        .collect()
}

/// The participant ids of `accounts` (those that are participants), in order.
fn ids<'a>(p: &Participants, accounts: impl Iterator<Item = &'a AccountId>) -> Vec<ParticipantId> {
    let mut ids: Vec<ParticipantId> = accounts.filter_map(|a| p.id_of(a)).collect();
    ids.sort();
    ids
}

fn instance(
    event: &Event,
    timeout: u64,
    completed: Vec<ParticipantId>,
    public_key: Option<PublicKeyExtended>,
) -> Option<KeyEventInstance> {
    event.started_at.map(|started| KeyEventInstance {
        attempt_id: 0,
        started_in: started,
        expires_on: started + timeout,
        completed,
        public_key,
    })
}

impl From<ProtocolContractState> for StateView {
    fn from(state: ProtocolContractState) -> Self {
        let empty = StateView {
            state: Phase::NotInitialized,
            epoch: None,
            threshold: None,
            participants: vec![],
            domains: vec![],
            initializing: None,
            resharing: None,
            candidates: vec![],
        };
        match state {
            ProtocolContractState::NotInitialized => empty,
            ProtocolContractState::Running(r) => running_view(&r),
            ProtocolContractState::Initializing(i) => {
                let signing = network(
                    i.epoch_id,
                    &i.generating_key.parameters,
                    &i.domains,
                    &i.generated_keys,
                );
                let generated: Vec<DomainId> =
                    i.generated_keys.iter().map(|k| k.domain_id).collect();
                let accounts = accounts_by_id(&i.generating_key.parameters);
                let voted = match i.voted {
                    Some(voted) => voted,
                    // NEAR's signer generates one key at a time: who completed it.
                    None => i
                        .generating_key
                        .domain
                        .iter()
                        .map(|d| {
                            let done = i.generating_key.instance.iter().flat_map(|x| &x.completed);
                            (
                                d.id,
                                done.filter_map(|id| accounts.get(id).cloned()).collect(),
                            )
                        })
                        .collect(),
                };
                StateView {
                    state: Phase::Initializing,
                    initializing: Some(InitializingView {
                        domains: i
                            .domains
                            .domains
                            .iter()
                            .filter(|d| !generated.contains(&d.id))
                            .filter_map(|d| {
                                let scheme = d.signing_scheme()?;
                                Some(crate::types::DomainConfig { id: d.id, scheme })
                            })
                            .collect(),
                        started_at: i.generating_key.instance.as_ref().map(|x| x.started_in),
                        voted,
                    }),
                    candidates: candidates_view(&i.candidates),
                    ..signing
                }
            }
            ProtocolContractState::Resharing(r) => {
                let previous = running_view(&r.previous_running_state);
                let next = &r.resharing_key.parameters;
                let accounts = accounts_by_id(next);
                StateView {
                    state: Phase::Resharing,
                    resharing: Some(ResharingView {
                        participants: participants_view(next),
                        threshold: next.threshold,
                        started_at: r.resharing_key.instance.as_ref().map(|x| x.started_in),
                        reshared: r
                            .resharing_key
                            .instance
                            .iter()
                            .flat_map(|x| &x.completed)
                            .filter_map(|id| accounts.get(id).cloned())
                            .collect(),
                    }),
                    ..previous
                }
            }
        }
    }
}

fn running_view(r: &RunningContractState) -> StateView {
    StateView {
        state: Phase::Running,
        candidates: candidates_view(&r.candidates),
        ..network(
            r.keyset.epoch_id,
            &r.parameters,
            &r.domains,
            &r.keyset.domains,
        )
    }
}

/// The network that signs: its epoch, participants, threshold, and the domains a client can
/// sign with, each with its key (a domain whose key is not of its scheme's curve is left out
/// with the rest).
fn network(
    epoch: u64,
    parameters: &ThresholdParameters,
    registry: &DomainRegistry,
    keys: &[KeyForDomain],
) -> StateView {
    let domains = keys
        .iter()
        .filter_map(|k| {
            let config = registry.domains.iter().find(|d| d.id == k.domain_id)?;
            let scheme = config.signing_scheme()?;
            let public_key = k.key.near_key()?;
            let curve_fits = match scheme {
                SignatureScheme::Ed25519 => public_key.as_ed25519().is_some(),
                _ => public_key.as_secp256k1().is_some(),
            };
            curve_fits.then_some(DomainView {
                id: k.domain_id,
                scheme,
                public_key,
            })
        })
        .collect();
    StateView {
        state: Phase::Running,
        epoch: Some(epoch),
        threshold: Some(parameters.threshold),
        participants: participants_view(parameters),
        domains,
        initializing: None,
        resharing: None,
        candidates: vec![],
    }
}

fn participants_view(p: &ThresholdParameters) -> Vec<ParticipantView> {
    p.participants
        .participants
        .iter()
        .map(|(account, id, info)| ParticipantView {
            account_id: account.clone(),
            id: *id,
            url: info.url.clone(),
            tls_public_key: info.tls_public_key,
        })
        .collect()
}

fn accounts_by_id(p: &ThresholdParameters) -> BTreeMap<ParticipantId, AccountId> {
    p.participants
        .participants
        .iter()
        .map(|(account, id, _)| (*id, account.clone()))
        .collect()
}

fn candidates_view(candidates: &[CandidateJson]) -> Vec<ParticipantView> {
    candidates
        .iter()
        .map(|c| ParticipantView {
            account_id: c.account_id.clone(),
            // Candidates have no id until they join.
            id: ParticipantId(u32::MAX),
            url: c.url.clone(),
            tls_public_key: c.tls_public_key,
        })
        .collect()
}
