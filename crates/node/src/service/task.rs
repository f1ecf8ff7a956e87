//! What a participant asks of others when it starts a protocol it leads, and the checks a
//! follower makes before joining (pure: no I/O, tested apart).
//!
//! Precomputed items have one owner, the participant that started them and the only one
//! that may spend them (docs/design.md §8.5). A follower joins an instance only if the sender is the
//! owner it claims, the signer set is exactly as many current participants as the domain's
//! scheme signs with (`threshold`, or `2t − 1` for V2Secp256k1) including both, the epoch is
//! the current one and the domain's scheme fits the task. Whether the named
//! items exist, belong to that owner and set, and whether a request is really pending, the
//! scheduler checks against the store and the chain.

use contract::RequestId;
use mpc::InstanceId;
use primitives::{DomainId, ParticipantId, SignatureScheme};
use serde::{Deserialize, Serialize};

use super::network::Network;

/// Who runs a task: the domain, the epoch and the signer set (sorted), common to every kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub domain: DomainId,
    pub epoch: u64,
    pub participants: Vec<ParticipantId>,
}

/// Two Beaver triples (ECDSA), made by the set for a later presignature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriplesTask {
    pub run: Run,
    pub ids: [InstanceId; 2],
}

/// An ECDSA presignature from two triples the same set made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresignTask {
    pub run: Run,
    pub id: InstanceId,
    pub triples: [InstanceId; 2],
}

/// One item from one instance: an ECDSA presignature made without triples (V2Secp256k1
/// domains, `2t − 1` signers), or FROST nonce commitments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemTask {
    pub run: Run,
    pub id: InstanceId,
}

/// A signature for a pending request, spending one item (presignature or nonces).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignTask {
    pub run: Run,
    pub item: InstanceId,
    pub request: RequestId,
}

/// A task start, as the leader sends it in a `Start` frame. (Postcard lays a nested struct out
/// as its fields in order, so these bytes are those of the flat variants before them.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Task {
    Triples(TriplesTask),
    Presign(PresignTask),
    FastPresign(ItemTask),
    Nonces(ItemTask),
    Sign(SignTask),
}

/// A task that makes items: every kind but a signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StockTask {
    Triples(TriplesTask),
    Presign(PresignTask),
    FastPresign(ItemTask),
    Nonces(ItemTask),
}

impl From<StockTask> for Task {
    fn from(t: StockTask) -> Self {
        match t {
            StockTask::Triples(t) => Self::Triples(t),
            StockTask::Presign(t) => Self::Presign(t),
            StockTask::FastPresign(t) => Self::FastPresign(t),
            StockTask::Nonces(t) => Self::Nonces(t),
        }
    }
}

/// Who runs this side of a task: the node that started it (and owns what it makes), or a
/// follower that joined at the owner's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Leader,
    Follower { owner: ParticipantId },
}

impl Role {
    /// The owner of what the task makes, `me` being this node.
    pub fn owner(self, me: ParticipantId) -> ParticipantId {
        match self {
            Self::Leader => me,
            Self::Follower { owner } => owner,
        }
    }
}

/// Why a follower refuses a task.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    #[error("task start does not decode: {0}")]
    Malformed(String),
    #[error("task is for epoch {got}, the current epoch is {current}")]
    Epoch { got: u64, current: u64 },
    #[error("domain {0} is not an active domain")]
    Domain(DomainId),
    #[error("a {0:?} task does not fit a {1} domain")]
    Scheme(&'static str, SignatureScheme),
    #[error("signer set {0:?} is not {1} distinct current participants in order")]
    Set(Vec<ParticipantId>, usize),
    #[error("the sender or this node is not in the signer set")]
    NotMember,
    #[error("this node is not a participant")]
    NotParticipant,
    #[error("instance ids repeat")]
    RepeatedIds,
}

impl Task {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("tasks serialize")
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, TaskError> {
        postcard::from_bytes(bytes).map_err(|e| TaskError::Malformed(e.to_string()))
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Triples(_) => "triples",
            Self::Presign(_) => "presign",
            Self::FastPresign(_) => "fast-presign",
            Self::Nonces(_) => "nonces",
            Self::Sign(_) => "sign",
        }
    }

    /// A signature, or a task that makes items.
    pub fn split(self) -> Result<StockTask, SignTask> {
        match self {
            Self::Triples(t) => Ok(StockTask::Triples(t)),
            Self::Presign(t) => Ok(StockTask::Presign(t)),
            Self::FastPresign(t) => Ok(StockTask::FastPresign(t)),
            Self::Nonces(t) => Ok(StockTask::Nonces(t)),
            Self::Sign(t) => Err(t),
        }
    }

    pub fn run(&self) -> &Run {
        match self {
            Self::Triples(TriplesTask { run, .. })
            | Self::Presign(PresignTask { run, .. })
            | Self::FastPresign(ItemTask { run, .. })
            | Self::Nonces(ItemTask { run, .. })
            | Self::Sign(SignTask { run, .. }) => run,
        }
    }

    pub fn domain(&self) -> DomainId {
        self.run().domain
    }

    pub fn participants(&self) -> &[ParticipantId] {
        &self.run().participants
    }

    /// The protocol instances the task runs.
    pub fn instances(&self) -> Vec<InstanceId> {
        match self {
            Self::Triples(t) => t.ids.to_vec(),
            Self::Presign(PresignTask { id, .. })
            | Self::FastPresign(ItemTask { id, .. })
            | Self::Nonces(ItemTask { id, .. }) => vec![*id],
            Self::Sign(t) => vec![sign_instance_id(&t.request, &t.item)],
        }
    }

    /// The follower's checks of a task `from` sent, against the network it knows.
    pub fn check(&self, from: ParticipantId, network: &Network) -> Result<(), TaskError> {
        let me = network.me.ok_or(TaskError::NotParticipant)?;
        let epoch = self.run().epoch;
        if epoch != network.epoch {
            return Err(TaskError::Epoch {
                got: epoch,
                current: network.epoch,
            });
        }
        let scheme = network
            .domains
            .get(&self.domain())
            .map(|d| d.scheme)
            .ok_or(TaskError::Domain(self.domain()))?;
        let fits = match self {
            Self::Triples(_) | Self::Presign(_) => scheme == SignatureScheme::Secp256k1,
            Self::FastPresign(_) => scheme == SignatureScheme::V2Secp256k1,
            Self::Nonces(_) => !scheme.is_ecdsa(),
            Self::Sign(_) => true,
        };
        if !fits {
            return Err(TaskError::Scheme(self.kind(), scheme));
        }
        let set = self.participants();
        let ordered = set.windows(2).all(|w| w[0] < w[1]);
        let current = set.iter().all(|p| network.participants.contains_key(p));
        let size = scheme.signers(network.threshold);
        if !ordered || !current || set.len() != size {
            return Err(TaskError::Set(set.to_vec(), size));
        }
        if !set.contains(&from) || !set.contains(&me) || from == me {
            return Err(TaskError::NotMember);
        }
        if let Self::Triples(TriplesTask { ids, .. })
        | Self::Presign(PresignTask { triples: ids, .. }) = self
        {
            if ids[0] == ids[1] {
                return Err(TaskError::RepeatedIds);
            }
        }
        Ok(())
    }
}

/// The instance a signature runs as: fixed by the request and the item it spends, so that
/// both cannot be combined twice.
pub fn sign_instance_id(request: &RequestId, item: &InstanceId) -> InstanceId {
    InstanceId::derive(&[b"sign".as_slice(), &request.0, &item.0].concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::network::tests::network;

    fn run(domain: u64, set: &[u32]) -> Run {
        Run {
            domain: DomainId(domain),
            epoch: 3,
            participants: set.iter().map(|p| ParticipantId(*p)).collect(),
        }
    }

    fn triples(set: &[u32]) -> Task {
        Task::Triples(TriplesTask {
            run: run(0, set),
            ids: [InstanceId::derive(b"a"), InstanceId::derive(b"b")],
        })
    }

    #[test]
    fn a_sound_task_passes() {
        let net = network(ParticipantId(1));
        triples(&[0, 1, 2]).check(ParticipantId(0), &net).unwrap();
        let t = triples(&[0, 1, 2]);
        assert_eq!(Task::decode(&t.encode()).unwrap(), t);
    }

    /// Nested structs encode as their fields in order: these are the bytes the flat variants
    /// of the previous release sent, so mixed versions still understand each other's starts.
    #[test]
    fn a_task_encodes_as_its_fields_in_order() {
        let t = Task::Sign(SignTask {
            run: run(1, &[0, 2]),
            item: InstanceId([9; 32]),
            request: RequestId([4; 32]),
        });
        let mut flat = vec![4, 1, 3, 2, 0, 2];
        flat.extend([9; 32]);
        // A request id travels as its 64 hex digits, as in the contract's JSON.
        flat.push(64);
        flat.extend(hex::encode([4; 32]).bytes());
        assert_eq!(t.encode(), flat);
    }

    #[test]
    fn unsound_tasks_are_refused() {
        let net = network(ParticipantId(1));
        let p = ParticipantId;
        let err = |t: Task, from: u32| t.check(p(from), &net).unwrap_err();
        assert!(matches!(err(triples(&[0, 1, 2]), 3), TaskError::NotMember));
        assert!(matches!(err(triples(&[0, 2, 3]), 0), TaskError::NotMember));
        assert!(matches!(err(triples(&[0, 1, 2]), 1), TaskError::NotMember));
        assert!(matches!(err(triples(&[1, 0, 2]), 0), TaskError::Set(..)));
        assert!(matches!(err(triples(&[0, 1]), 0), TaskError::Set(..)));
        assert!(matches!(err(triples(&[0, 1, 9]), 0), TaskError::Set(..)));
        assert!(matches!(err(triples(&[0, 1, 1]), 0), TaskError::Set(..)));
        let mut stale = triples(&[0, 1, 2]);
        if let Task::Triples(t) = &mut stale {
            t.run.epoch = 2;
        }
        assert!(matches!(err(stale, 0), TaskError::Epoch { .. }));
        let mut same = triples(&[0, 1, 2]);
        if let Task::Triples(t) = &mut same {
            t.ids[1] = t.ids[0];
        }
        assert!(matches!(err(same, 0), TaskError::RepeatedIds));
        let nonces_on_ecdsa = Task::Nonces(ItemTask {
            run: run(0, &[0, 1, 2]),
            id: InstanceId::derive(b"n"),
        });
        assert!(matches!(err(nonces_on_ecdsa, 0), TaskError::Scheme(..)));
        let unknown_domain = Task::Nonces(ItemTask {
            run: run(7, &[0, 1, 2]),
            id: InstanceId::derive(b"n"),
        });
        assert!(matches!(err(unknown_domain, 0), TaskError::Domain(_)));
        assert!(matches!(
            Task::decode(b"\xff\xff"),
            Err(TaskError::Malformed(_))
        ));
        let (item, request) = (InstanceId::derive(b"i"), RequestId([4; 32]));
        let sign = Task::Sign(SignTask {
            run: run(0, &[0, 1, 2]),
            item,
            request,
        });
        assert_eq!(sign.instances(), vec![sign_instance_id(&request, &item)]);
        assert_eq!(triples(&[0, 1, 2]).instances().len(), 2);
    }

    #[test]
    fn v2_domains_take_fast_presignatures_among_2t_minus_1() {
        // Threshold 2 over 4 participants; domain 2 is V2Secp256k1, so its sets have 3.
        let mut net = network(ParticipantId(1));
        net.threshold = 2;
        let v2 = net.domains[&DomainId(0)].clone();
        net.domains.insert(
            DomainId(2),
            super::super::network::Domain {
                scheme: SignatureScheme::V2Secp256k1,
                ..v2
            },
        );
        let p = ParticipantId;
        let fast = |domain: u64, set: &[u32]| {
            Task::FastPresign(ItemTask {
                run: run(domain, set),
                id: InstanceId::derive(b"f"),
            })
        };
        let sign = |domain: u64, set: &[u32]| {
            Task::Sign(SignTask {
                run: run(domain, set),
                item: InstanceId::derive(b"i"),
                request: RequestId([4; 32]),
            })
        };
        fast(2, &[0, 1, 3]).check(p(0), &net).unwrap();
        sign(2, &[0, 1, 3]).check(p(3), &net).unwrap();
        let err = |t: Task| t.check(p(0), &net).unwrap_err();
        assert!(matches!(err(fast(2, &[0, 1])), TaskError::Set(_, 3)));
        assert!(matches!(err(sign(2, &[0, 1])), TaskError::Set(_, 3)));
        assert!(matches!(err(fast(0, &[0, 1])), TaskError::Scheme(..)));
        let mut triples_on_v2 = triples(&[0, 1, 3]);
        if let Task::Triples(t) = &mut triples_on_v2 {
            t.run.domain = DomainId(2);
        }
        assert!(matches!(err(triples_on_v2), TaskError::Scheme(..)));
        // The plain ECDSA domain keeps sets of t.
        sign(0, &[0, 1]).check(p(0), &net).unwrap();
    }
}
