//! A driver for the protocols this crate writes itself as fixed rounds (FROST DKG, reshare,
//! nonce precompute and sign; the ECDSA sign round).
//!
//! A [`Rounds`] implementation is pure: it says what to send first, who must speak in each
//! round, and what to do once a round's messages are all in. [`Driver`] turns it into a
//! [`Protocol`]: it buffers messages that arrive early (a peer may be a round ahead), ignores
//! exact duplicates, and refuses a second, different message for the same round from the same
//! sender (equivocation) naming that sender.
//!
//! Payload format: `[round: u8] ‖ body`; bodies are postcard-encoded serde values.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::protocol::{Action, Participant, Protocol, ProtocolError};

/// A message to send.
pub(crate) enum Out {
    All(Vec<u8>),
    To(Participant, Vec<u8>),
}

/// What a finished round leads to.
pub(crate) enum Step<T> {
    Next(Vec<Out>),
    Done(T),
}

/// A protocol of `ROUNDS` rounds, each a set of messages everyone waits for.
pub(crate) trait Rounds: Send {
    type Output;
    const ROUNDS: u8;

    /// Messages of round 0.
    fn start(&mut self) -> Result<Vec<Out>, ProtocolError>;

    /// Who must send to us in `round` (the driver removes us).
    fn senders(&self, round: u8) -> BTreeSet<Participant>;

    /// All messages of `round` are in: the next round's messages, or the output.
    fn finish_round(
        &mut self,
        round: u8,
        messages: BTreeMap<Participant, Vec<u8>>,
    ) -> Result<Step<Self::Output>, ProtocolError>;
}

/// Encodes a round's message body.
pub(crate) fn encode<T: Serialize>(round: u8, body: &T) -> Vec<u8> {
    let mut out = vec![round];
    // Serializing plain data into a Vec cannot fail.
    out.extend(postcard::to_stdvec(body).expect("plain data serializes"));
    out
}

/// SHA-256 over the postcard encodings of `items`, in order: what echo checks compare.
pub(crate) fn digest_of<'a, T: Serialize + 'a>(items: impl IntoIterator<Item = &'a T>) -> [u8; 32] {
    let mut h = Sha256::new();
    for item in items {
        let bytes = postcard::to_stdvec(item).expect("plain data serializes");
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    }
    h.finalize().into()
}

/// Decodes a round's message body, blaming the sender for anything malformed.
pub(crate) fn decode<T: DeserializeOwned>(
    from: Participant,
    body: &[u8],
) -> Result<T, ProtocolError> {
    postcard::from_bytes(body).map_err(|e| ProtocolError::malformed(from, e))
}

enum State {
    NotStarted,
    Running,
    Finished,
    Failed(ProtocolError),
}

/// Runs a [`Rounds`] as a [`Protocol`].
pub(crate) struct Driver<R: Rounds> {
    rounds: R,
    me: Participant,
    round: u8,
    state: State,
    outbox: VecDeque<Out>,
    inbox: BTreeMap<u8, BTreeMap<Participant, Vec<u8>>>,
    /// Digest of every message taken, per (round, sender), to tell duplicates from equivocation.
    seen: BTreeMap<(u8, Participant), [u8; 32]>,
}

impl<R: Rounds> Driver<R> {
    pub(crate) fn new(rounds: R, me: Participant) -> Self {
        Self {
            rounds,
            me,
            round: 0,
            state: State::NotStarted,
            outbox: VecDeque::new(),
            inbox: BTreeMap::new(),
            seen: BTreeMap::new(),
        }
    }

    fn expected(&self, round: u8) -> BTreeSet<Participant> {
        let mut s = self.rounds.senders(round);
        s.remove(&self.me);
        s
    }

    fn step(&mut self) -> Result<Action<R::Output>, ProtocolError> {
        if let State::NotStarted = self.state {
            self.state = State::Running;
            let out = self.rounds.start()?;
            self.outbox.extend(out);
        }
        loop {
            if let Some(out) = self.outbox.pop_front() {
                return Ok(match out {
                    Out::All(m) => Action::SendMany(m),
                    Out::To(p, m) => Action::SendPrivate(p, m),
                });
            }
            if self.round >= R::ROUNDS {
                return Ok(Action::Wait);
            }
            let expected = self.expected(self.round);
            let have = self.inbox.get(&self.round).map_or(0, |m| m.len());
            if have < expected.len() {
                return Ok(Action::Wait);
            }
            let messages = self.inbox.remove(&self.round).unwrap_or_default();
            let round = self.round;
            self.round += 1;
            match self.rounds.finish_round(round, messages)? {
                Step::Next(out) => self.outbox.extend(out),
                Step::Done(output) => {
                    self.state = State::Finished;
                    return Ok(Action::Return(output));
                }
            }
        }
    }
}

impl<R: Rounds> Protocol for Driver<R> {
    type Output = R::Output;

    fn message(&mut self, from: Participant, payload: &[u8]) -> Result<(), ProtocolError> {
        let (&round, body) = payload
            .split_first()
            .ok_or_else(|| ProtocolError::malformed(from, "empty payload"))?;
        if round >= R::ROUNDS {
            return Err(ProtocolError::malformed(
                from,
                format!(
                    "round {round} does not exist (the protocol has {})",
                    R::ROUNDS
                ),
            ));
        }
        if !self.expected(round).contains(&from) {
            return Err(ProtocolError::malformed(
                from,
                format!("sender has nothing to send in round {round}"),
            ));
        }
        let digest: [u8; 32] = Sha256::digest(body).into();
        match self.seen.get(&(round, from)) {
            Some(d) if *d == digest => return Ok(()), // a duplicate delivery: harmless
            Some(_) => {
                return Err(ProtocolError::misbehaved(
                    from,
                    format!("sent two different messages for round {round}"),
                ))
            }
            None => {}
        }
        self.seen.insert((round, from), digest);
        if round >= self.round {
            self.inbox
                .entry(round)
                .or_default()
                .insert(from, body.to_vec());
        }
        Ok(())
    }

    fn poke(&mut self) -> Result<Action<R::Output>, ProtocolError> {
        match &self.state {
            State::Finished => return Ok(Action::Wait),
            State::Failed(e) => return Err(e.clone()),
            _ => {}
        }
        self.step()
            .inspect_err(|e| self.state = State::Failed(e.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two rounds; everyone sends its id in both; the output is the sum of all ids seen.
    struct Sum {
        all: BTreeSet<Participant>,
        total: u32,
    }

    impl Rounds for Sum {
        type Output = u32;
        const ROUNDS: u8 = 2;
        fn start(&mut self) -> Result<Vec<Out>, ProtocolError> {
            Ok(vec![Out::All(encode(0, &1u32))])
        }
        fn senders(&self, _: u8) -> BTreeSet<Participant> {
            self.all.clone()
        }
        fn finish_round(
            &mut self,
            round: u8,
            msgs: BTreeMap<Participant, Vec<u8>>,
        ) -> Result<Step<u32>, ProtocolError> {
            for (from, body) in msgs {
                self.total += decode::<u32>(from, &body)?;
            }
            Ok(if round == 0 {
                Step::Next(vec![Out::All(encode(1, &10u32))])
            } else {
                Step::Done(self.total)
            })
        }
    }

    fn driver() -> Driver<Sum> {
        let all = (0..3).map(Participant).collect();
        Driver::new(Sum { all, total: 0 }, Participant(0))
    }

    #[test]
    fn early_messages_wait_and_duplicates_are_ignored() {
        let mut d = driver();
        let (p1, p2) = (Participant(1), Participant(2));
        // Round-1 messages arrive before round 0 completes.
        d.message(p1, &encode(1, &10u32)).unwrap();
        d.message(p2, &encode(1, &10u32)).unwrap();
        assert!(matches!(d.poke().unwrap(), Action::SendMany(_)));
        assert!(matches!(d.poke().unwrap(), Action::Wait));
        d.message(p1, &encode(0, &1u32)).unwrap();
        d.message(p1, &encode(0, &1u32)).unwrap(); // duplicate delivery
        d.message(p2, &encode(0, &1u32)).unwrap();
        assert!(matches!(d.poke().unwrap(), Action::SendMany(_)));
        assert!(matches!(d.poke().unwrap(), Action::Return(22)));
        assert!(matches!(d.poke().unwrap(), Action::Wait));
    }

    #[test]
    fn refusals_name_the_sender() {
        let mut d = driver();
        let p1 = Participant(1);
        d.message(p1, &encode(0, &1u32)).unwrap();
        let e = d.message(p1, &encode(0, &2u32)).unwrap_err();
        assert!(
            matches!(e, ProtocolError::Misbehaved { culprit, .. } if culprit == p1),
            "{e}"
        );
        assert_eq!(d.message(p1, &[]).unwrap_err().culprit(), Some(p1));
        assert_eq!(
            d.message(p1, &encode(2, &1u32)).unwrap_err().culprit(),
            Some(p1)
        );
        assert_eq!(
            d.message(Participant(0), &encode(0, &1u32))
                .unwrap_err()
                .culprit(),
            Some(Participant(0))
        );
        // A body that does not decode fails the round, naming its sender.
        d.message(Participant(2), &[0, 0xff, 0xff, 0xff, 0xff, 0xff])
            .unwrap();
        let _ = d.poke();
        let e = d.poke().unwrap_err();
        assert_eq!(e.culprit(), Some(Participant(2)), "{e}");
        // And the failure sticks.
        assert!(d.poke().is_err());
    }
}
