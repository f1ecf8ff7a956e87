//! The wire envelope around every protocol message, and [`Instance`], which checks it.
//!
//! ```text
//! byte 0       version (currently 1)
//! bytes 1..33  instance id: which of the node's many concurrent protocols this is for
//! bytes 33..   the protocol's payload
//! ```
//!
//! A node routes incoming bytes with [`instance_id_of`] before any protocol sees them. The
//! envelope is checked before the payload is: oversized messages, wrong versions, wrong
//! instance ids and senders outside the instance are refused with an error naming the sender.

use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::protocol::{Action, Participant, Protocol, ProtocolError};

/// The envelope version this code writes and accepts.
pub const WIRE_VERSION: u8 = 1;
/// The largest message any protocol sends, envelope included. cait-sith's OT-extension
/// messages for one triple are the largest by far (tens of KiB); this leaves ample room.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// A sender exceeding this many messages in one instance is cut off: cait-sith buffers
/// unexpected messages forever, so unbounded senders would be unbounded memory.
pub const MAX_MESSAGES_PER_SENDER: usize = 512;
const HEADER_LEN: usize = 1 + 32;

/// Identifies one protocol instance among all those a node runs at once.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct InstanceId(pub [u8; 32]);

impl InstanceId {
    /// An id every party computes alike from a description of the instance (its kind, epoch,
    /// domain, counter...): parties agree on ids without talking.
    pub fn derive(label: &[u8]) -> Self {
        Self(Sha256::digest(label).into())
    }
}

impl fmt::Debug for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InstanceId({})", self)
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(&self.0[..8]))
    }
}

/// Why bytes are not a well-formed envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("message of {0} bytes is shorter than the {HEADER_LEN}-byte envelope")]
    Short(usize),
    #[error("unknown envelope version {0} (this node speaks {WIRE_VERSION})")]
    Version(u8),
}

/// The instance a message is for, read from its envelope.
pub fn instance_id_of(bytes: &[u8]) -> Result<InstanceId, WireError> {
    decode(bytes).map(|(id, _)| id)
}

fn decode(bytes: &[u8]) -> Result<(InstanceId, &[u8]), WireError> {
    if bytes.len() < HEADER_LEN {
        return Err(WireError::Short(bytes.len()));
    }
    if bytes[0] != WIRE_VERSION {
        return Err(WireError::Version(bytes[0]));
    }
    let id = InstanceId(bytes[1..HEADER_LEN].try_into().expect("32 bytes"));
    Ok((id, &bytes[HEADER_LEN..]))
}

fn encode(id: &InstanceId, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.push(WIRE_VERSION);
    out.extend_from_slice(&id.0);
    out.extend_from_slice(payload);
    out
}

/// One party's side of one protocol instance, speaking the wire envelope.
pub struct Instance<T> {
    id: InstanceId,
    me: Participant,
    peers: BTreeSet<Participant>,
    received: BTreeMap<Participant, usize>,
    inner: Box<dyn Protocol<Output = T>>,
}

impl<T> Instance<T> {
    pub(crate) fn new(
        id: InstanceId,
        me: Participant,
        participants: &[Participant],
        inner: Box<dyn Protocol<Output = T>>,
    ) -> Self {
        Self {
            id,
            me,
            peers: participants.iter().copied().filter(|p| *p != me).collect(),
            received: BTreeMap::new(),
            inner,
        }
    }

    pub fn id(&self) -> InstanceId {
        self.id
    }

    pub fn me(&self) -> Participant {
        self.me
    }

    /// The other participants of this instance.
    pub fn peers(&self) -> &BTreeSet<Participant> {
        &self.peers
    }

    /// Bytes that arrived from `from`. Refused with an error naming `from` when they are not
    /// a well-formed message for this instance; the instance is unchanged then.
    pub fn message(&mut self, from: Participant, bytes: &[u8]) -> Result<(), ProtocolError> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(ProtocolError::Oversized {
                from,
                size: bytes.len(),
                limit: MAX_MESSAGE_BYTES,
            });
        }
        if !self.peers.contains(&from) {
            return Err(ProtocolError::UnknownSender { from });
        }
        let (id, payload) = decode(bytes).map_err(|e| ProtocolError::malformed(from, e))?;
        if id != self.id {
            return Err(ProtocolError::malformed(
                from,
                format!(
                    "message for instance {id} delivered to instance {}",
                    self.id
                ),
            ));
        }
        let count = self.received.entry(from).or_default();
        if *count >= MAX_MESSAGES_PER_SENDER {
            return Err(ProtocolError::Flooding {
                from,
                limit: MAX_MESSAGES_PER_SENDER,
            });
        }
        self.inner.message(from, payload)?;
        *count += 1;
        Ok(())
    }

    /// The next action, with outgoing payloads wrapped in the envelope.
    pub fn poke(&mut self) -> Result<Action<T>, ProtocolError> {
        Ok(match self.inner.poke()? {
            Action::SendMany(p) => Action::SendMany(encode(&self.id, &p)),
            Action::SendPrivate(to, p) => Action::SendPrivate(to, encode(&self.id, &p)),
            Action::Wait => Action::Wait,
            Action::Return(t) => Action::Return(t),
        })
    }
}

impl<T: 'static> Instance<T> {
    /// The same instance, its output passed through `f` (so a driver can treat instances of
    /// different schemes alike, e.g. every key generation as one output type).
    pub fn map<U: 'static>(self, f: impl FnOnce(T) -> U + Send + 'static) -> Instance<U> {
        Instance {
            id: self.id,
            me: self.me,
            peers: self.peers,
            received: self.received,
            inner: Box::new(Mapped {
                inner: self.inner,
                f: Some(f),
            }),
        }
    }
}

struct Mapped<T, F> {
    inner: Box<dyn Protocol<Output = T>>,
    f: Option<F>,
}

impl<T, U, F: FnOnce(T) -> U + Send> Protocol for Mapped<T, F> {
    type Output = U;

    fn message(&mut self, from: Participant, payload: &[u8]) -> Result<(), ProtocolError> {
        self.inner.message(from, payload)
    }

    fn poke(&mut self) -> Result<Action<U>, ProtocolError> {
        Ok(match self.inner.poke()? {
            Action::Return(t) => match self.f.take() {
                Some(f) => Action::Return(f(t)),
                None => return Err(ProtocolError::Failed("poked after returning".into())),
            },
            Action::Wait => Action::Wait,
            Action::SendMany(p) => Action::SendMany(p),
            Action::SendPrivate(to, p) => Action::SendPrivate(to, p),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    struct Echo;
    impl Protocol for Echo {
        type Output = ();
        fn message(&mut self, _: Participant, _: &[u8]) -> Result<(), ProtocolError> {
            Ok(())
        }
        fn poke(&mut self) -> Result<Action<()>, ProtocolError> {
            Ok(Action::SendMany(b"hi".to_vec()))
        }
    }

    fn instance() -> Instance<()> {
        let ps = [Participant(0), Participant(1)];
        Instance::new(
            InstanceId::derive(b"t"),
            Participant(0),
            &ps,
            Box::new(Echo),
        )
    }

    #[test]
    fn envelope_round_trip_and_refusals() {
        let mut inst = instance();
        let Action::SendMany(bytes) = inst.poke().unwrap() else {
            panic!("expected a broadcast")
        };
        assert_eq!(bytes[0], WIRE_VERSION);
        assert_eq!(instance_id_of(&bytes).unwrap(), inst.id());
        assert_eq!(&bytes[HEADER_LEN..], b"hi");
        let p1 = Participant(1);
        assert!(inst.message(p1, &bytes).is_ok());

        let err = |inst: &mut Instance<()>, from, b: &[u8]| inst.message(from, b).unwrap_err();
        assert_eq!(
            err(&mut inst, Participant(7), &bytes),
            ProtocolError::UnknownSender {
                from: Participant(7)
            }
        );
        assert_eq!(err(&mut inst, p1, &bytes[..5]).culprit(), Some(p1));
        let mut wrong_version = bytes.clone();
        wrong_version[0] = 9;
        assert!(err(&mut inst, p1, &wrong_version)
            .to_string()
            .contains("version 9"));
        let mut wrong_id = bytes.clone();
        wrong_id[1] ^= 1;
        assert!(err(&mut inst, p1, &wrong_id)
            .to_string()
            .contains("delivered to instance"));
        let huge = vec![WIRE_VERSION; MAX_MESSAGE_BYTES + 1];
        assert!(matches!(
            err(&mut inst, p1, &huge),
            ProtocolError::Oversized { .. }
        ));
    }

    #[test]
    fn floods_are_cut_off() {
        let mut inst = instance();
        let Action::SendMany(bytes) = inst.poke().unwrap() else {
            panic!()
        };
        for _ in 0..MAX_MESSAGES_PER_SENDER {
            inst.message(Participant(1), &bytes).unwrap();
        }
        assert!(matches!(
            inst.message(Participant(1), &bytes),
            Err(ProtocolError::Flooding { .. })
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let mut inst = instance();
            let _ = instance_id_of(&bytes);
            let _ = inst.message(Participant(1), &bytes);
        }
    }
}
