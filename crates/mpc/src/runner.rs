//! Drives n parties of one protocol in one process, with in-memory delivery.
//!
//! Tests and benches use it. [`Faults`] makes delivery hostile: messages dropped, duplicated,
//! delayed and reordered, parties that fall silent, and a hook that tampers with bytes in
//! flight. Randomness comes from a seed, so a failing schedule can be replayed.

use std::collections::{BTreeMap, BTreeSet};

use crate::protocol::{Action, Participant, ProtocolError};
use crate::wire::Instance;

/// Hostile delivery. The default delivers everything once, in order.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    pub seed: u64,
    /// Probability that a message is lost.
    pub drop: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
    /// Deliver ready messages in random order instead of sending order.
    pub reorder: bool,
    /// Hold each message back for up to this many delivery rounds.
    pub max_delay: u64,
    /// Parties whose messages never arrive (crashed or partitioned).
    pub silent: BTreeSet<Participant>,
}

/// Rewrites a message in flight: `(from, to, bytes)`.
pub type Tamper<'a> = Box<dyn FnMut(Participant, Participant, &mut Vec<u8>) + 'a>;

/// Why a run ended without every output.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("participant {at} failed: {error}")]
    Protocol {
        at: Participant,
        error: ProtocolError,
    },
    #[error("no message left to deliver; finished: {finished:?}")]
    Stalled { finished: Vec<Participant> },
}

impl RunError {
    /// The protocol error, if the run ended on one.
    pub fn protocol_error(&self) -> Option<&ProtocolError> {
        match self {
            Self::Protocol { error, .. } => Some(error),
            Self::Stalled { .. } => None,
        }
    }
}

struct InFlight {
    from: Participant,
    to: Participant,
    bytes: Vec<u8>,
    ready_at: u64,
}

/// SplitMix64: enough randomness for scheduling, and no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

/// Runs every party to completion with faithful delivery.
pub fn run<T>(parties: Vec<Instance<T>>) -> Result<BTreeMap<Participant, T>, RunError> {
    run_with(parties, &Faults::default(), None)
}

/// Runs every party to completion under `faults`, passing each message through `tamper`;
/// fails with the first error (by participant) if any party fails.
pub fn run_with<T>(
    parties: Vec<Instance<T>>,
    faults: &Faults,
    tamper: Option<Tamper<'_>>,
) -> Result<BTreeMap<Participant, T>, RunError> {
    let outcome = run_outcome(parties, faults, tamper);
    if let Some((&at, error)) = outcome.errors.iter().next() {
        return Err(RunError::Protocol {
            at,
            error: error.clone(),
        });
    }
    if outcome.stalled {
        return Err(RunError::Stalled {
            finished: outcome.outputs.keys().copied().collect(),
        });
    }
    Ok(outcome.outputs)
}

/// What became of every party.
pub struct Outcome<T> {
    pub outputs: BTreeMap<Participant, T>,
    /// Parties that failed, with their error; they take no further part.
    pub errors: BTreeMap<Participant, ProtocolError>,
    /// Whether the run ended with parties still waiting for messages that never came.
    pub stalled: bool,
}

/// Runs until every party has an output or an error, or nothing is left to deliver.
pub fn run_outcome<T>(
    parties: Vec<Instance<T>>,
    faults: &Faults,
    mut tamper: Option<Tamper<'_>>,
) -> Outcome<T> {
    let mut rng = Rng(faults.seed);
    let mut parties: BTreeMap<Participant, Instance<T>> =
        parties.into_iter().map(|p| (p.me(), p)).collect();
    let mut outputs = BTreeMap::new();
    let mut errors = BTreeMap::new();
    let mut in_flight: Vec<InFlight> = Vec::new();
    let mut now = 0u64;

    loop {
        for (&me, party) in parties.iter_mut() {
            if outputs.contains_key(&me) || errors.contains_key(&me) {
                continue;
            }
            loop {
                let action = match party.poke() {
                    Ok(a) => a,
                    Err(e) => {
                        errors.insert(me, e);
                        break;
                    }
                };
                let mut send = |to: Participant, bytes: Vec<u8>| {
                    if faults.silent.contains(&me) {
                        return;
                    }
                    let ready_at = now + rng.below(faults.max_delay + 1);
                    in_flight.push(InFlight {
                        from: me,
                        to,
                        bytes,
                        ready_at,
                    });
                };
                match action {
                    Action::Wait => break,
                    Action::SendMany(bytes) => {
                        for &to in party.peers() {
                            send(to, bytes.clone());
                        }
                    }
                    Action::SendPrivate(to, bytes) => send(to, bytes),
                    Action::Return(out) => {
                        outputs.insert(me, out);
                        break;
                    }
                }
            }
        }
        if outputs.len() + errors.len() == parties.len() || in_flight.is_empty() {
            let stalled = outputs.len() + errors.len() < parties.len();
            return Outcome {
                outputs,
                errors,
                stalled,
            };
        }
        // Deliver everything ready now, in sending order or shuffled.
        now = now.max(in_flight.iter().map(|m| m.ready_at).min().unwrap_or(now));
        let (mut ready, later): (Vec<_>, Vec<_>) =
            in_flight.drain(..).partition(|m| m.ready_at <= now);
        in_flight = later;
        if faults.reorder {
            for i in (1..ready.len()).rev() {
                let j = rng.below(i as u64 + 1) as usize;
                ready.swap(i, j);
            }
        }
        for mut m in ready {
            let done = |p: &Participant| outputs.contains_key(p) || errors.contains_key(p);
            if rng.chance(faults.drop) || done(&m.to) {
                continue;
            }
            if let Some(t) = tamper.as_mut() {
                t(m.from, m.to, &mut m.bytes);
            }
            let copies = if rng.chance(faults.duplicate) { 2 } else { 1 };
            // A party absent from the run is down: its messages are lost.
            let Some(party) = parties.get_mut(&m.to) else {
                continue;
            };
            for _ in 0..copies {
                if let Err(e) = party.message(m.from, &m.bytes) {
                    errors.insert(m.to, e);
                    break;
                }
            }
        }
        now += 1;
    }
}
