//! The one interface every protocol implements, and its errors.

pub use primitives::ParticipantId as Participant;

/// What a protocol asks its driver to do next.
#[derive(Debug)]
pub enum Action<T> {
    /// Nothing until another message arrives.
    Wait,
    /// Send these bytes to every other participant.
    SendMany(Vec<u8>),
    /// Send these bytes to one participant only (over an authenticated, encrypted channel).
    SendPrivate(Participant, Vec<u8>),
    /// Finished, with this output. The protocol does nothing more after this.
    Return(T),
}

/// One party's side of a protocol, at the level of payload bytes (the [`crate::Instance`]
/// wrapper adds and checks the wire envelope).
pub trait Protocol: Send {
    type Output;

    /// A message from a peer. A bad message is refused with an error naming the sender and
    /// leaves the state as it was; the caller decides whether to abort.
    fn message(&mut self, from: Participant, payload: &[u8]) -> Result<(), ProtocolError>;

    /// The next action. Call until it returns [`Action::Wait`] or [`Action::Return`].
    fn poke(&mut self) -> Result<Action<Self::Output>, ProtocolError>;
}

/// Why a protocol failed or refused a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("participant {from} sent a malformed message: {reason}")]
    Malformed { from: Participant, reason: String },
    #[error("participant {from} sent a {size}-byte message; the limit is {limit}")]
    Oversized {
        from: Participant,
        size: usize,
        limit: usize,
    },
    #[error("participant {from} is not part of this protocol instance")]
    UnknownSender { from: Participant },
    #[error("participant {from} sent more than {limit} messages in one instance")]
    Flooding { from: Participant, limit: usize },
    #[error("participant {culprit} misbehaved: {reason}")]
    Misbehaved {
        culprit: Participant,
        reason: String,
    },
    /// A check failed that no single sender can be blamed for (e.g. a cait-sith signature
    /// that does not verify: that scheme has no identifiable abort).
    #[error("protocol failed: {0}")]
    Failed(String),
}

impl ProtocolError {
    /// The participant this error blames, if it blames one.
    pub fn culprit(&self) -> Option<Participant> {
        match self {
            Self::Malformed { from, .. }
            | Self::Oversized { from, .. }
            | Self::UnknownSender { from }
            | Self::Flooding { from, .. } => Some(*from),
            Self::Misbehaved { culprit, .. } => Some(*culprit),
            Self::Failed(_) => None,
        }
    }

    pub(crate) fn malformed(from: Participant, reason: impl std::fmt::Display) -> Self {
        Self::Malformed {
            from,
            reason: reason.to_string(),
        }
    }

    pub(crate) fn misbehaved(culprit: Participant, reason: impl std::fmt::Display) -> Self {
        Self::Misbehaved {
            culprit,
            reason: reason.to_string(),
        }
    }
}

/// Parameters a protocol cannot start with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad protocol parameters: {0}")]
pub struct InitError(pub String);

impl InitError {
    pub(crate) fn new(reason: impl std::fmt::Display) -> Self {
        Self(reason.to_string())
    }
}

/// Checks shared by every protocol's constructor: at least two distinct participants, `me`
/// among them, ids that every scheme can evaluate at `id + 1`, and `2 <= threshold <= n`
/// where a threshold applies. Returns the participants sorted.
pub(crate) fn check_participants(
    participants: &[Participant],
    me: Participant,
    threshold: Option<usize>,
) -> Result<Vec<Participant>, InitError> {
    let sorted = check_set(participants, threshold)?;
    if !sorted.contains(&me) {
        return Err(InitError::new(format!(
            "participant {me} is not in the list"
        )));
    }
    Ok(sorted)
}

/// [`check_participants`] for a set `me` need not belong to (the old set of a reshare).
pub(crate) fn check_set(
    participants: &[Participant],
    threshold: Option<usize>,
) -> Result<Vec<Participant>, InitError> {
    let mut sorted = participants.to_vec();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != participants.len() {
        return Err(InitError::new("participant list has duplicates"));
    }
    if sorted.len() < 2 {
        return Err(InitError::new("a protocol needs at least 2 participants"));
    }
    if let Some(p) = sorted.iter().find(|p| p.0 >= u32::from(u16::MAX)) {
        return Err(InitError::new(format!(
            "participant id {p} is too large (ids must be below {})",
            u16::MAX
        )));
    }
    if let Some(t) = threshold {
        if t < 2 || t > sorted.len() {
            return Err(InitError::new(format!(
                "threshold {t} must be at least 2 and at most the {} participants",
                sorted.len()
            )));
        }
    }
    Ok(sorted)
}

/// A change of participant set and threshold, as the contract decides it. The protocol runs
/// among `new`; the members of `old` that are also in `new` deal the key, so at least
/// `old_threshold` of them must be.
#[derive(Clone, Copy, Debug)]
pub struct Resharing<'a> {
    pub old: &'a [Participant],
    pub old_threshold: usize,
    pub new: &'a [Participant],
    pub new_threshold: usize,
}

/// A [`Resharing`] that passed its checks, sets sorted.
pub(crate) struct CheckedResharing {
    pub(crate) old: Vec<Participant>,
    pub(crate) new: Vec<Participant>,
    /// `old ∩ new`: who deals.
    pub(crate) dealers: Vec<Participant>,
}

impl<'a> Resharing<'a> {
    /// Same set, same threshold: new shares of the same key.
    pub fn refresh(participants: &'a [Participant], threshold: usize) -> Self {
        Self {
            old: participants,
            old_threshold: threshold,
            new: participants,
            new_threshold: threshold,
        }
    }

    pub(crate) fn check(&self, me: Participant) -> Result<CheckedResharing, InitError> {
        let new = check_participants(self.new, me, Some(self.new_threshold))?;
        let old = check_set(self.old, Some(self.old_threshold))?;
        let dealers: Vec<Participant> = old.iter().copied().filter(|p| new.contains(p)).collect();
        if dealers.len() < self.old_threshold {
            return Err(InitError::new(format!(
                "only {} old holders are in the new set; {} are needed to reshare",
                dealers.len(),
                self.old_threshold
            )));
        }
        Ok(CheckedResharing { old, new, dealers })
    }
}
