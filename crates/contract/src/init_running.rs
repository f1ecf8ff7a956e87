//! `init_running`: a contract that starts already Running, with domains and their root keys.
//!
//! NEAR's production signer (near/mpc) has this method to move a running MPC network to a new
//! contract: the new one starts where the old one was — its domains, their keys, the
//! participants and threshold — without a key generation. Its arguments are the pieces of
//! the old contract's `state()` ([`crate::views::near_state`]): `domains` and
//! `next_domain_id` from its registry, the `keyset`, the `parameters`, and an optional
//! `init_config` (this contract's [`Config`]). This contract takes the same shape, so the
//! `Running` part of one contract's `state()` starts another, ours or production's.
//!
//! The devnet uses it too: a seeded devnet deals its master keys itself and starts its
//! contract Running with their public halves (docs/design.md §4.5).
//!
//! Like `init`, only the contract account may call it, once. Everything is checked before
//! the state exists: participants (distinct accounts and ids, ids below `next_id`, a usable
//! url), domains (ids increasing and below `next_domain_id`, a scheme this contract signs
//! with, a reconstruction threshold equal to the network's when given), the keyset (exactly
//! the domains, in order, each key on its scheme's curve) and the threshold rule every other
//! transition keeps.

use primitives::{DomainId, NearPublicKey, RawPublicKey, SignatureScheme};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use crate::error::ContractError;
use crate::protocol::check_threshold;
use crate::state::{Contract, ProtocolState, Root, Running, Votes};
use crate::storage::Storage;
use crate::types::{Config, Ctx, DomainConfig, ParticipantInfo, Participants};
use crate::views::near_state::{
    DomainConfigJson, KeyForDomain, Keyset, ParticipantsJson, PublicKeyExtended,
    RunningContractState, ThresholdParameters,
};

type Result<T> = std::result::Result<T, ContractError>;

/// `init_running`'s arguments, as NEAR's signer takes them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitRunningArgs {
    pub domains: Vec<DomainConfigJson>,
    pub next_domain_id: u64,
    pub keyset: Keyset,
    pub parameters: ThresholdParameters,
    #[serde(default)]
    pub init_config: Option<Config>,
}

impl InitRunningArgs {
    /// The arguments that start a contract where `running` (a `state()`'s `Running` part,
    /// this contract's or NEAR's) is; its votes and candidates are not carried over.
    pub fn from_state(running: RunningContractState, init_config: Option<Config>) -> Self {
        Self {
            domains: running.domains.domains,
            next_domain_id: running.domains.next_domain_id,
            keyset: running.keyset,
            parameters: running.parameters,
            init_config,
        }
    }
}

fn invalid(reason: impl Into<String>) -> ContractError {
    ContractError::InvalidParameters(reason.into())
}

impl<S: Storage + Default> Contract<S> {
    /// `init_running` as a transaction calls it: only the contract account itself may.
    pub fn init_running_by(ctx: &Ctx, args: InitRunningArgs) -> Result<Self> {
        if ctx.predecessor != ctx.current_account {
            return Err(ContractError::NotContractAccount(
                ctx.current_account.to_string(),
            ));
        }
        Self::init_running(args)
    }

    /// Starts the contract Running at the keyset's epoch, with these domains and keys.
    pub fn init_running(args: InitRunningArgs) -> Result<Self> {
        let InitRunningArgs {
            domains,
            next_domain_id,
            keyset,
            parameters,
            init_config,
        } = args;
        let threshold = parameters.threshold;
        let participants = participants(parameters.participants)?;
        // The set and threshold first, the domains' own rules after.
        check_threshold(participants.len(), threshold, [])?;
        let domains = domains_with_keys(domains, next_domain_id, keyset.domains, threshold)?;
        check_threshold(
            participants.len(),
            threshold,
            domains.iter().map(|(d, _)| d.scheme),
        )?;
        let root = Root {
            config: init_config.unwrap_or_default(),
            protocol: ProtocolState::Running(Running {
                epoch: keyset.epoch_id,
                participants,
                threshold,
                domains,
                next_domain_id,
                votes: Votes::default(),
            }),
        };
        Ok(Self::from_parts(root, S::default()))
    }
}

/// The participant set `parameters.participants` lists, with its ids kept.
fn participants(json: ParticipantsJson) -> Result<Participants> {
    let mut members = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for (account, id, info) in json.participants {
        if id.0 >= json.next_id {
            return Err(invalid(format!(
                "{account} has id {id}, not below next_id {}",
                json.next_id
            )));
        }
        if !ids.insert(id) {
            return Err(invalid(format!("participant id {id} is given twice")));
        }
        if info.url.is_empty() || info.url.len() > 256 {
            return Err(invalid(format!("{account}: url must be 1..=256 bytes")));
        }
        let info = ParticipantInfo {
            url: info.url,
            tls_public_key: info.tls_public_key.into(),
        };
        if members.insert(account.clone(), (id, info)).is_some() {
            return Err(invalid(format!("{account} is listed twice")));
        }
    }
    Ok(Participants {
        members,
        next_id: json.next_id,
    })
}

/// Each domain with its key from the keyset, which must name exactly these domains in order.
fn domains_with_keys(
    domains: Vec<DomainConfigJson>,
    next_domain_id: u64,
    keys: Vec<KeyForDomain>,
    threshold: u64,
) -> Result<Vec<(DomainConfig, RawPublicKey)>> {
    if domains.len() != keys.len() {
        return Err(invalid(format!(
            "the keyset has {} keys for {} domains; it must name exactly the domains",
            keys.len(),
            domains.len()
        )));
    }
    let mut out: Vec<(DomainConfig, RawPublicKey)> = Vec::with_capacity(domains.len());
    for (domain, key) in domains.into_iter().zip(keys) {
        let id = domain.id;
        if key.domain_id != id {
            return Err(invalid(format!(
                "the keyset names domain {} where the domains have {id}; it must name \
                 exactly the domains, in order",
                key.domain_id
            )));
        }
        if out.last().is_some_and(|(last, _)| last.id >= id) || id.0 >= next_domain_id {
            return Err(invalid(format!(
                "domain ids must increase and stay below next_domain_id {next_domain_id}; \
                 domain {id} does not"
            )));
        }
        let scheme = domain_scheme(&domain, threshold)?;
        let public_key = domain_key(id, scheme, &key.key)?;
        out.push((DomainConfig { id, scheme }, public_key.into()));
    }
    Ok(out)
}

/// The scheme this contract signs a domain with, if it can, at the network's threshold.
fn domain_scheme(domain: &DomainConfigJson, threshold: u64) -> Result<SignatureScheme> {
    let id = domain.id;
    let scheme = domain.signing_scheme().ok_or_else(|| {
        invalid(format!(
            "domain {id} is not one this contract signs with (its protocol, scheme or purpose)"
        ))
    })?;
    match domain.reconstruction_threshold {
        Some(t) if t != threshold => Err(invalid(format!(
            "domain {id} has reconstruction threshold {t}; this contract signs every domain \
             at the network's threshold {threshold}"
        ))),
        _ => Ok(scheme),
    }
}

/// A domain's root key, which must be on its scheme's curve (and, for an Ed25519 key given
/// with its point's bytes too, agree with them).
fn domain_key(
    id: DomainId,
    scheme: SignatureScheme,
    key: &PublicKeyExtended,
) -> Result<NearPublicKey> {
    let near_key = key
        .near_key()
        .ok_or_else(|| invalid(format!("domain {id}: a {scheme} domain needs a NEAR key")))?;
    if near_key.curve() != scheme.curve() {
        return Err(invalid(format!(
            "domain {id}: a {scheme} domain needs a {:?} key",
            scheme.curve()
        )));
    }
    if let PublicKeyExtended::Ed25519 {
        edwards_point: Some(point),
        ..
    } = key
    {
        if near_key.key_bytes() != point.as_slice() {
            return Err(invalid(format!(
                "domain {id}: edwards_point is not the key's point"
            )));
        }
    }
    Ok(near_key)
}
