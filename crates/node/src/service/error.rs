//! Why a job — a signature, a precomputation, a key event — ended without its result.
//!
//! One enum for every job, as reth's pool errors do: each variant says what happened, and
//! [`JobError::is_transient`] says whether trying again later may succeed ("no usable item
//! yet", "the request is not in my view yet", a peer down) or whether something is broken and
//! an operator should hear of it (a key share that does not match the contract, a signature
//! our own set produced that does not verify). Callers log and count by that split, never by
//! parsing messages.

use contract::RequestId;
use mpc::{InstanceId, ProtocolError};
use primitives::{DomainId, ParticipantId};

use super::protocols::BuildError;
use crate::driver::DriveError;
use crate::store::{Kind, StoreError};

/// Why a job ended without its result.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JobError {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Drive(#[from] DriveError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Chain(#[from] chain::ChainError),
    #[error("instance {0} is already running")]
    Duplicate(InstanceId),
    #[error("the node is shutting down")]
    ShuttingDown,
    #[error("no key share for domain {0}")]
    NoKeyShare(DomainId),
    #[error("request {0} is no longer pending")]
    NoLongerPending(RequestId),
    #[error("request {0} is not pending in this node's view of the chain")]
    RequestNotSeen(RequestId),
    #[error("request {request} is for domain {actual}, not {claimed}")]
    WrongDomain {
        request: RequestId,
        claimed: DomainId,
        actual: DomainId,
    },
    #[error("no usable {kind} of domain {domain} yet (none owned with its whole set alive)")]
    NoUsableItem { domain: DomainId, kind: Kind },
    #[error("{kind} {item} cannot be spent as claimed: {why}")]
    Claim {
        kind: Kind,
        item: InstanceId,
        why: ClaimError,
    },
    /// The set's shares did not make a signature that verifies: a member sent a wrong share,
    /// or a precomputed item was wrong. Never expected from an honest network.
    #[error("signer set {set:?} produced an invalid signature{}: {reason}", culprit_text(*.culprit))]
    InvalidSignature {
        set: Vec<ParticipantId>,
        culprit: Option<ParticipantId>,
        reason: String,
    },
    #[error("stored key share is for {stored}, the contract lists {expected}")]
    KeyMismatch {
        /// Both keys as text: the enum stays small for the common, cheap errors.
        stored: String,
        expected: String,
    },
    #[error("the key event's share is missing although the event is recorded as done")]
    EventShareMissing,
}

fn culprit_text(culprit: Option<ParticipantId>) -> String {
    culprit
        .map(|p| format!(" (blamed: {p})"))
        .unwrap_or_default()
}

/// Why a follower does not spend the item a leader names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ClaimError {
    #[error("not in this node's stock")]
    NotInStock,
    /// Spent here already: the claimant runs on an older copy of its store (a restored
    /// backup), or misbehaves. Never spent twice (docs/design.md §7.4).
    #[error("already spent here (is the claimant's store an old copy?)")]
    Spent,
    #[error("this node's copy is not the claimed owner's, for this set and epoch")]
    NotOwners,
}

impl ClaimError {
    /// The metric label.
    pub fn name(&self) -> &'static str {
        match self {
            Self::NotInStock => "not_in_stock",
            Self::Spent => "spent",
            Self::NotOwners => "not_owners",
        }
    }
}

impl JobError {
    /// Whether trying again later may succeed without anyone fixing anything: the work was
    /// not ready, raced another, or a peer or the chain was briefly away. Permanent errors are
    /// warnings; transient ones are routine.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::ShuttingDown
            | Self::Duplicate(_)
            | Self::NoLongerPending(_)
            | Self::RequestNotSeen(_)
            | Self::NoUsableItem { .. }
            | Self::NoKeyShare(_) => true,
            Self::Drive(e) => !matches!(e, DriveError::Protocol(_)),
            Self::Chain(e) => matches!(e, chain::ChainError::Unavailable(_)),
            Self::Store(e) => self.outlived_epoch() || matches!(e, StoreError::Missing(_)),
            Self::Build(_)
            | Self::WrongDomain { .. }
            | Self::Claim { .. }
            | Self::InvalidSignature { .. }
            | Self::KeyMismatch { .. }
            | Self::EventShareMissing => false,
        }
    }

    /// The epoch changed under the job: expected at every switch, not worth a warning.
    pub fn outlived_epoch(&self) -> bool {
        matches!(self, Self::Store(StoreError::StaleEpoch { .. }))
    }

    /// A signature job's error, with a protocol failure named for what it means there: the
    /// set's shares do not combine into a valid signature.
    pub fn in_signature(self, set: &[ParticipantId]) -> Self {
        match self {
            Self::Drive(DriveError::Protocol(e)) if blames_the_shares(&e) => {
                Self::InvalidSignature {
                    set: set.to_vec(),
                    culprit: e.culprit(),
                    reason: e.to_string(),
                }
            }
            other => other,
        }
    }
}

/// Whether a signing round's protocol error means a wrong share (rather than, say, a message
/// from outside the set, which the driver ignores anyway).
fn blames_the_shares(e: &ProtocolError) -> bool {
    !matches!(e, ProtocolError::UnknownSender { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routine_errors_are_transient_and_broken_ones_are_not() {
        let domain = DomainId(1);
        assert!(JobError::NoUsableItem {
            domain,
            kind: Kind::Nonces
        }
        .is_transient());
        assert!(JobError::Drive(DriveError::PeerDown(mpc::Participant(2))).is_transient());
        assert!(JobError::Store(StoreError::StaleEpoch { got: 1, current: 2 }).is_transient());
        let bad_share = JobError::Drive(DriveError::Protocol(ProtocolError::Failed(
            "shares do not combine".into(),
        )))
        .in_signature(&[ParticipantId(0), ParticipantId(1)]);
        assert!(matches!(
            bad_share,
            JobError::InvalidSignature { culprit: None, .. }
        ));
        assert!(!bad_share.is_transient());
        let blamed = JobError::Drive(DriveError::Protocol(ProtocolError::Misbehaved {
            culprit: mpc::Participant(3),
            reason: "share does not verify".into(),
        }))
        .in_signature(&[ParticipantId(0), ParticipantId(3)]);
        assert!(blamed.to_string().contains("blamed: 3"), "{blamed}");
        assert!(!JobError::Claim {
            kind: Kind::Presignature,
            item: InstanceId([1; 32]),
            why: ClaimError::NotOwners
        }
        .is_transient());
        // A timeout in a signature stays a timeout: nobody's share was wrong.
        let slow = JobError::Drive(DriveError::Timeout(std::time::Duration::from_secs(1)))
            .in_signature(&[ParticipantId(0)]);
        assert!(matches!(slow, JobError::Drive(_)) && slow.is_transient());
    }
}
