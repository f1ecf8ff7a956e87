//! Membership and keys: init, candidates, votes, key generation and resharing (docs/design.md §4.4).
//!
//! ```text
//! NotInitialized ──init──► Running(no domains)
//! NotInitialized ──init_running──► Running(domains with their keys)   (crate::init_running)
//! Running ──vote_add_domains (all participants)──► Initializing ──vote_pk (all agree)──► Running
//! Running ──vote_join / vote_leave / vote_new_parameters (threshold)──► Resharing
//! Resharing ──vote_reshared (all new participants)──► Running(epoch+1)
//! Initializing / Resharing ──timeout or vote_abort──► previous Running state
//! ```
//!
//! Votes carry the epoch they are for; a vote for another epoch is stale and refused. Each
//! participant backs a proposal once. No change may leave fewer participants than the
//! threshold (or than `2t − 1` while a V2Secp256k1 domain exists, which signs with that many),
//! a threshold below 2 or above the participant count, or fewer old participants in the new
//! set than the old threshold (they deal the key).

use primitives::{DomainId, NearPublicKey, RawPublicKey, SignatureScheme};
use std::collections::{BTreeMap, BTreeSet};

use crate::error::ContractError;
use crate::state::{
    Contract, Initializing, KeyEvent, ProtocolState, Resharing, Root, Running, Votes,
};
use crate::storage::{self, Candidates, Storage, CANDIDATES_KEY};
use crate::types::{
    AccountId, Candidate, Config, Ctx, DomainConfig, Effect, ParticipantInfo, Participants,
};

type Result<T> = std::result::Result<T, ContractError>;

/// Whether `n` participants at `threshold` can hold domains of `schemes`: at least 2 of them,
/// `2 ≤ threshold ≤ n`, and as many as each scheme's signer sets need (`2t − 1` for
/// honest-majority ECDSA).
pub(crate) fn check_threshold(
    n: usize,
    threshold: u64,
    schemes: impl IntoIterator<Item = SignatureScheme>,
) -> Result<()> {
    if n < 2 {
        return Err(ContractError::InvalidParameters(format!(
            "a network needs at least 2 participants, not {n}"
        )));
    }
    if threshold < 2 || threshold > n as u64 {
        return Err(ContractError::InvalidParameters(format!(
            "threshold {threshold} must be at least 2 and at most the {n} participants"
        )));
    }
    for scheme in schemes {
        let needed = scheme.signers(threshold as usize);
        if n < needed {
            return Err(ContractError::InvalidParameters(format!(
                "a {scheme} domain signs with {needed} participants at threshold {threshold}; \
                 the network would have {n}"
            )));
        }
    }
    Ok(())
}

/// The schemes of a running network's domains.
fn schemes(running: &Running) -> Vec<SignatureScheme> {
    running.domains.iter().map(|(d, _)| d.scheme).collect()
}

fn check_epoch(running: &Running, epoch: u64) -> Result<()> {
    if epoch != running.epoch {
        return Err(ContractError::StaleEpoch {
            got: epoch,
            current: running.epoch,
        });
    }
    Ok(())
}

fn check_participant(running: &Running, who: &AccountId) -> Result<()> {
    if !running.participants.contains(who) {
        return Err(ContractError::NotParticipant(who.to_string()));
    }
    Ok(())
}

/// Records `voter`'s vote for `proposal`; the number of backers afterwards.
fn vote<K: Ord + Clone>(
    votes: &mut BTreeMap<K, BTreeSet<AccountId>>,
    proposal: &K,
    voter: &AccountId,
) -> Result<usize> {
    let backers = votes.entry(proposal.clone()).or_default();
    if !backers.insert(voter.clone()) {
        return Err(ContractError::AlreadyVoted(voter.to_string()));
    }
    Ok(backers.len())
}

/// [`vote`] where each voter backs one proposal at a time: a new vote withdraws the voter's
/// earlier one, so the open proposals never outnumber the participants.
fn vote_once<K: Ord + Clone>(
    votes: &mut BTreeMap<K, BTreeSet<AccountId>>,
    proposal: &K,
    voter: &AccountId,
) -> Result<usize> {
    if votes.get(proposal).is_some_and(|b| b.contains(voter)) {
        return Err(ContractError::AlreadyVoted(voter.to_string()));
    }
    votes.retain(|_, backers| {
        backers.remove(voter);
        !backers.is_empty()
    });
    vote(votes, proposal, voter)
}

/// What a candidate locks to register: it pays for the entry's storage, and comes back when
/// the account joins or withdraws.
pub const CANDIDATE_DEPOSIT: u128 = 100_000_000_000_000_000_000_000; // 0.1 NEAR
/// The most candidates registered at once.
pub const MAX_CANDIDATES: usize = 64;

impl<S: Storage + Default> Contract<S> {
    /// `init` as a transaction calls it: only the contract account itself may (so nobody can
    /// initialize a contract between its deployment and its owner's call; deploy and init in
    /// one transaction).
    pub fn init_by(
        ctx: &Ctx,
        participants: Vec<(AccountId, ParticipantInfo)>,
        threshold: u64,
        config: Option<Config>,
    ) -> Result<Self> {
        if ctx.predecessor != ctx.current_account {
            return Err(ContractError::NotContractAccount(
                ctx.current_account.to_string(),
            ));
        }
        Self::init(participants, threshold, config)
    }

    /// Starts the contract with its first participants and no domains.
    pub fn init(
        participants: Vec<(AccountId, ParticipantInfo)>,
        threshold: u64,
        config: Option<Config>,
    ) -> Result<Self> {
        let mut set = Participants::default();
        for (account, info) in participants {
            if set.contains(&account) {
                return Err(ContractError::InvalidParameters(format!(
                    "{account} is listed twice"
                )));
            }
            set.add(account, info);
        }
        check_threshold(set.len(), threshold, [])?;
        let root = Root {
            config: config.unwrap_or_default(),
            protocol: ProtocolState::Running(Running {
                epoch: 0,
                participants: set,
                threshold,
                domains: vec![],
                next_domain_id: 0,
                votes: Votes::default(),
            }),
        };
        Ok(Self::from_parts(root, S::default()))
    }
}

impl<S: Storage> Contract<S> {
    pub(crate) fn candidates(&self) -> Result<Candidates> {
        Ok(storage::load(&self.store, CANDIDATES_KEY, "candidates")?.unwrap_or_default())
    }

    fn save_candidates(&mut self, candidates: &Candidates) {
        if candidates.is_empty() {
            self.store.remove(CANDIDATES_KEY);
        } else {
            storage::save(&mut self.store, CANDIDATES_KEY, candidates);
        }
    }

    fn running_mut(&mut self) -> Result<&mut Running> {
        match &mut self.root.protocol {
            ProtocolState::Running(r) => Ok(r),
            other => Err(ContractError::WrongState(other.name())),
        }
    }

    /// An account offers itself to join: how to reach it, which TLS key it will present. A
    /// first registration locks [`CANDIDATE_DEPOSIT`] (the excess goes back at once); a
    /// registration again updates the entry and refunds the whole attachment.
    pub fn register_candidate(&mut self, ctx: &Ctx, info: ParticipantInfo) -> Result<Vec<Effect>> {
        let running = self.signing_network()?;
        if running.participants.contains(&ctx.predecessor) {
            return Err(ContractError::AlreadyParticipant(
                ctx.predecessor.to_string(),
            ));
        }
        if info.url.is_empty() || info.url.len() > 256 {
            return Err(ContractError::InvalidParameters(
                "url must be 1..=256 bytes".into(),
            ));
        }
        let mut candidates = self.candidates()?;
        let (deposit, refund) = match candidates.get(&ctx.predecessor) {
            Some(existing) => (existing.deposit, ctx.deposit),
            None if ctx.deposit < CANDIDATE_DEPOSIT => {
                return Err(ContractError::CandidateDeposit {
                    attached: ctx.deposit,
                    required: CANDIDATE_DEPOSIT,
                })
            }
            None if candidates.len() >= MAX_CANDIDATES => {
                return Err(ContractError::CandidatesFull(MAX_CANDIDATES))
            }
            None => (CANDIDATE_DEPOSIT, ctx.deposit - CANDIDATE_DEPOSIT),
        };
        candidates.insert(ctx.predecessor.clone(), Candidate { info, deposit });
        self.save_candidates(&candidates);
        Ok(refund_effect(&ctx.predecessor, refund))
    }

    /// A candidate takes its registration back, and its deposit with it.
    pub fn withdraw_candidate(&mut self, ctx: &Ctx) -> Result<Vec<Effect>> {
        let mut candidates = self.candidates()?;
        let gone = candidates
            .remove(&ctx.predecessor)
            .ok_or_else(|| ContractError::NotCandidate(ctx.predecessor.to_string()))?;
        self.save_candidates(&candidates);
        Ok(refund_effect(&ctx.predecessor, gone.deposit))
    }

    /// A participant backs adding a registered candidate.
    pub fn vote_join(&mut self, ctx: &Ctx, candidate: &AccountId, epoch: u64) -> Result<()> {
        let info = self
            .candidates()?
            .remove(candidate)
            .map(|c| c.info)
            .ok_or_else(|| ContractError::NotCandidate(candidate.to_string()))?;
        let running = self.running_mut()?;
        check_participant(running, &ctx.predecessor)?;
        check_epoch(running, epoch)?;
        if running.participants.contains(candidate) {
            return Err(ContractError::AlreadyParticipant(candidate.to_string()));
        }
        let backers = vote(&mut running.votes.join, candidate, &ctx.predecessor)?;
        if backers as u64 >= running.threshold {
            let mut new = running.participants.clone();
            new.add(candidate.clone(), info);
            let threshold = running.threshold;
            self.start_resharing(new, threshold);
        }
        Ok(())
    }

    /// A participant backs removing a participant.
    pub fn vote_leave(&mut self, ctx: &Ctx, leaver: &AccountId, epoch: u64) -> Result<()> {
        let running = self.running_mut()?;
        check_participant(running, &ctx.predecessor)?;
        check_epoch(running, epoch)?;
        check_participant(running, leaver)?;
        let mut new = running.participants.clone();
        new.members.remove(leaver);
        check_threshold(new.len(), running.threshold, schemes(running))?;
        let backers = vote(&mut running.votes.leave, leaver, &ctx.predecessor)?;
        if backers as u64 >= running.threshold {
            let threshold = running.threshold;
            self.start_resharing(new, threshold);
        }
        Ok(())
    }

    /// A participant backs a whole new participant set and threshold.
    pub fn vote_new_parameters(
        &mut self,
        ctx: &Ctx,
        accounts: &[AccountId],
        threshold: u64,
        epoch: u64,
    ) -> Result<()> {
        let candidates = self.candidates()?;
        let running = self.running_mut()?;
        check_participant(running, &ctx.predecessor)?;
        check_epoch(running, epoch)?;
        let mut sorted = accounts.to_vec();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != accounts.len() {
            return Err(ContractError::InvalidParameters(
                "an account is listed twice".into(),
            ));
        }
        check_threshold(sorted.len(), threshold, schemes(running))?;
        let new = proposed_participants(&running.participants, &candidates, &sorted)?;
        let staying = new
            .accounts()
            .filter(|a| running.participants.contains(a))
            .count();
        if (staying as u64) < running.threshold {
            return Err(ContractError::InvalidParameters(format!(
                "only {staying} current participants stay; {} are needed to hand the keys over",
                running.threshold
            )));
        }
        if new == running.participants && threshold == running.threshold {
            return Err(ContractError::InvalidParameters(
                "nothing would change".into(),
            ));
        }
        let backers = vote_once(
            &mut running.votes.parameters,
            &(sorted, threshold),
            &ctx.predecessor,
        )?;
        if backers as u64 >= running.threshold {
            self.start_resharing(new, threshold);
        }
        Ok(())
    }

    fn start_resharing(&mut self, new_participants: Participants, new_threshold: u64) {
        let ProtocolState::Running(mut previous) = std::mem::take(&mut self.root.protocol) else {
            unreachable!("only called from Running")
        };
        previous.votes = Votes::default();
        self.root.protocol = ProtocolState::Resharing(Resharing {
            previous,
            new_participants,
            new_threshold,
            event: KeyEvent::default(),
            reshared: BTreeSet::new(),
        });
    }

    /// A participant backs adding domains of these schemes; all must agree.
    pub fn vote_add_domains(
        &mut self,
        ctx: &Ctx,
        schemes: &[SignatureScheme],
        epoch: u64,
    ) -> Result<()> {
        let running = self.running_mut()?;
        check_participant(running, &ctx.predecessor)?;
        check_epoch(running, epoch)?;
        if schemes.is_empty() || schemes.len() > 16 {
            return Err(ContractError::InvalidParameters(
                "propose between 1 and 16 domains".into(),
            ));
        }
        check_threshold(
            running.participants.len(),
            running.threshold,
            schemes.iter().copied(),
        )?;
        let backers = vote_once(
            &mut running.votes.add_domains,
            &schemes.to_vec(),
            &ctx.predecessor,
        )?;
        if backers == running.participants.len() {
            let ProtocolState::Running(mut previous) = std::mem::take(&mut self.root.protocol)
            else {
                unreachable!("checked above")
            };
            previous.votes = Votes::default();
            let first = previous.next_domain_id;
            let domains = schemes
                .iter()
                .zip(first..)
                .map(|(scheme, id)| DomainConfig {
                    id: DomainId(id),
                    scheme: *scheme,
                })
                .collect();
            self.root.protocol = ProtocolState::Initializing(Initializing {
                previous,
                domains,
                event: KeyEvent::default(),
                pk_votes: BTreeMap::new(),
            });
        }
        Ok(())
    }

    /// A participant marks the key generation instance as started (the block budget runs from
    /// here). Calling it again is harmless.
    pub fn start_keygen_instance(&mut self, ctx: &Ctx, epoch: u64) -> Result<()> {
        let ProtocolState::Initializing(init) = &mut self.root.protocol else {
            return Err(ContractError::WrongState(self.root.protocol.name()));
        };
        check_participant(&init.previous, &ctx.predecessor)?;
        check_epoch(&init.previous, epoch)?;
        init.event.started_at.get_or_insert(ctx.block_height);
        Ok(())
    }

    /// A participant reports the key the DKG produced for a new domain. When every participant
    /// has reported the same key for every new domain, the domains become active.
    pub fn vote_pk(
        &mut self,
        ctx: &Ctx,
        domain_id: DomainId,
        public_key: NearPublicKey,
        epoch: u64,
    ) -> Result<()> {
        let ProtocolState::Initializing(init) = &mut self.root.protocol else {
            return Err(ContractError::WrongState(self.root.protocol.name()));
        };
        check_participant(&init.previous, &ctx.predecessor)?;
        check_epoch(&init.previous, epoch)?;
        if init.event.started_at.is_none() {
            return Err(ContractError::InstanceNotStarted);
        }
        let domain = init
            .domains
            .iter()
            .find(|d| d.id == domain_id)
            .ok_or(ContractError::UnknownDomain(domain_id))?;
        if domain.scheme.curve() != public_key.curve() {
            return Err(ContractError::InvalidParameters(format!(
                "a {} domain needs a {:?} key",
                domain.scheme,
                domain.scheme.curve()
            )));
        }
        let votes = init.pk_votes.entry(domain_id).or_default();
        if votes.contains_key(&ctx.predecessor) {
            return Err(ContractError::AlreadyVoted(ctx.predecessor.to_string()));
        }
        votes.insert(ctx.predecessor.clone(), public_key.into());
        let n = init.previous.participants.len();
        let agreed: Option<Vec<(DomainConfig, RawPublicKey)>> = init
            .domains
            .iter()
            .map(|d| {
                let votes = init.pk_votes.get(&d.id)?;
                let first = *votes.values().next()?;
                (votes.len() == n && votes.values().all(|k| *k == first))
                    .then(|| (d.clone(), first))
            })
            .collect();
        if let Some(keys) = agreed {
            let ProtocolState::Initializing(init) = std::mem::take(&mut self.root.protocol) else {
                unreachable!("checked above")
            };
            let mut running = init.previous;
            running.next_domain_id += keys.len() as u64;
            running.domains.extend(keys);
            self.root.protocol = ProtocolState::Running(running);
        }
        Ok(())
    }

    /// A participant (old or new) marks the resharing instance as started.
    pub fn start_reshare_instance(&mut self, ctx: &Ctx, epoch: u64) -> Result<()> {
        let ProtocolState::Resharing(r) = &mut self.root.protocol else {
            return Err(ContractError::WrongState(self.root.protocol.name()));
        };
        if !r.previous.participants.contains(&ctx.predecessor)
            && !r.new_participants.contains(&ctx.predecessor)
        {
            return Err(ContractError::NotParticipant(ctx.predecessor.to_string()));
        }
        check_epoch(&r.previous, epoch)?;
        r.event.started_at.get_or_insert(ctx.block_height);
        Ok(())
    }

    /// A new participant reports it holds its new shares. When all have, the new epoch begins
    /// and the newcomers' candidate deposits go back to them.
    pub fn vote_reshared(&mut self, ctx: &Ctx, epoch: u64) -> Result<Vec<Effect>> {
        let mut candidates = self.candidates()?;
        let ProtocolState::Resharing(r) = &mut self.root.protocol else {
            return Err(ContractError::WrongState(self.root.protocol.name()));
        };
        if !r.new_participants.contains(&ctx.predecessor) {
            return Err(ContractError::NotParticipant(ctx.predecessor.to_string()));
        }
        check_epoch(&r.previous, epoch)?;
        if r.event.started_at.is_none() {
            return Err(ContractError::InstanceNotStarted);
        }
        if !r.reshared.insert(ctx.predecessor.clone()) {
            return Err(ContractError::AlreadyVoted(ctx.predecessor.to_string()));
        }
        if r.reshared.len() < r.new_participants.len() {
            return Ok(vec![]);
        }
        let ProtocolState::Resharing(r) = std::mem::take(&mut self.root.protocol) else {
            unreachable!("checked above")
        };
        let mut effects = vec![];
        for account in r.new_participants.accounts() {
            if let Some(joined) = candidates.remove(account) {
                effects.extend(refund_effect(account, joined.deposit));
            }
        }
        self.save_candidates(&candidates);
        self.root.protocol = ProtocolState::Running(Running {
            epoch: r.previous.epoch + 1,
            participants: r.new_participants,
            threshold: r.new_threshold,
            domains: r.previous.domains,
            next_domain_id: r.previous.next_domain_id,
            votes: Votes::default(),
        });
        Ok(effects)
    }

    /// A participant backs abandoning the key event in progress. It ends at once when the
    /// instance has overrun its block budget, or when a threshold of participants back it.
    pub fn vote_abort(&mut self, ctx: &Ctx, epoch: u64) -> Result<Vec<Effect>> {
        let timeout = self.root.config.key_event_timeout_blocks;
        let (previous, event, may_vote) = match &mut self.root.protocol {
            ProtocolState::Initializing(i) => {
                let may = i.previous.participants.contains(&ctx.predecessor);
                (&i.previous, &mut i.event, may)
            }
            ProtocolState::Resharing(r) => {
                let may = r.previous.participants.contains(&ctx.predecessor)
                    || r.new_participants.contains(&ctx.predecessor);
                (&r.previous, &mut r.event, may)
            }
            other => return Err(ContractError::WrongState(other.name())),
        };
        if !may_vote {
            return Err(ContractError::NotParticipant(ctx.predecessor.to_string()));
        }
        check_epoch(previous, epoch)?;
        let overrun = event
            .started_at
            .is_some_and(|s| ctx.block_height >= s.saturating_add(timeout));
        if !overrun {
            if event.abort_votes.contains(&ctx.predecessor) {
                return Err(ContractError::AlreadyVoted(ctx.predecessor.to_string()));
            }
            event.abort_votes.insert(ctx.predecessor.clone());
            if (event.abort_votes.len() as u64) < previous.threshold {
                return Ok(vec![]);
            }
        }
        let previous = match std::mem::take(&mut self.root.protocol) {
            ProtocolState::Initializing(i) => i.previous,
            ProtocolState::Resharing(r) => r.previous,
            _ => unreachable!("checked above"),
        };
        self.root.protocol = ProtocolState::Running(previous);
        Ok(vec![Effect::Log(format!(
            "key event of epoch {epoch} aborted; the previous state is restored"
        ))])
    }
}

fn refund_effect(to: &AccountId, amount: u128) -> Vec<Effect> {
    if amount == 0 {
        return vec![];
    }
    vec![Effect::Refund(to.clone(), amount)]
}

/// The participant set a `vote_new_parameters` for `sorted` (accounts in order, no repeats)
/// would make: members keep their ids, newcomers — who must be candidates — take the next free
/// ids in account order. The `state` view shows open proposals the same way.
pub(crate) fn proposed_participants(
    current: &Participants,
    candidates: &Candidates,
    sorted: &[AccountId],
) -> Result<Participants> {
    let mut new = Participants {
        members: BTreeMap::new(),
        next_id: current.next_id,
    };
    for account in sorted {
        match current.members.get(account) {
            Some(entry) => {
                new.members.insert(account.clone(), entry.clone());
            }
            None => {
                let candidate = candidates
                    .get(account)
                    .ok_or_else(|| ContractError::NotCandidate(account.to_string()))?;
                new.add(account.clone(), candidate.info.clone());
            }
        }
    }
    Ok(new)
}
