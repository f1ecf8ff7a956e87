//! cait-sith's protocols behind [`crate::Protocol`].
//!
//! cait-sith messages are a 28-byte header (channel tag, waitpoint) and a MessagePack body.
//! cait-sith decodes bodies deep inside its executor, where a decoding error no longer knows
//! its sender, and it buffers messages for unknown waitpoints forever. So the adapter checks
//! each incoming payload's structure first (header present, exactly one well-formed
//! MessagePack value) and refuses garbage naming the sender; [`crate::Instance`] bounds the
//! number of messages per sender.
//!
//! Secrets: the shares cait-sith hands back (key shares, triples, presignatures) are copied
//! into this crate's zeroizing types and zeroized where cait-sith left them. Caveat: copies
//! inside cait-sith's own protocol state (its generators hold the inputs and intermediate
//! values) are out of reach without a fork, and are freed without being zeroized.

use cait_sith::protocol::{
    Action as CaitAction, Participant as CaitParticipant, Protocol as CaitProtocol,
    ProtocolError as CaitError,
};
use cait_sith::triples::{TriplePub, TripleShare};
use cait_sith::{KeygenOutput, PresignArguments};
use k256::{AffinePoint, Secp256k1};
use serde::Deserialize;
use zeroize::Zeroize;

use super::types::{KeyShare, Presignature, Triple, TriplePublic};
use crate::protocol::{
    check_participants, Action, InitError, Participant, Protocol, ProtocolError, Resharing,
};
use crate::wire::{Instance, InstanceId};

/// cait-sith's message header: a 20-byte channel tag and an 8-byte waitpoint.
const HEADER_LEN: usize = 28;

struct CaitSith<P, F> {
    inner: P,
    finish: Option<F>,
}

fn adapt<P, F, T>(
    id: InstanceId,
    me: Participant,
    participants: &[Participant],
    inner: P,
    finish: F,
) -> Instance<T>
where
    P: CaitProtocol + Send + 'static,
    F: FnOnce(P::Output) -> T + Send + 'static,
    T: 'static,
{
    let adapter = CaitSith {
        inner,
        finish: Some(finish),
    };
    Instance::new(id, me, participants, Box::new(adapter))
}

impl<P, F, T> Protocol for CaitSith<P, F>
where
    P: CaitProtocol + Send,
    F: FnOnce(P::Output) -> T + Send,
{
    type Output = T;

    fn message(&mut self, from: Participant, payload: &[u8]) -> Result<(), ProtocolError> {
        check_structure(payload).map_err(|reason| ProtocolError::malformed(from, reason))?;
        self.inner
            .message(CaitParticipant::from(from.0), payload.to_vec());
        Ok(())
    }

    fn poke(&mut self) -> Result<Action<T>, ProtocolError> {
        Ok(match self.inner.poke().map_err(from_cait)? {
            CaitAction::Wait => Action::Wait,
            CaitAction::SendMany(m) => Action::SendMany(m),
            CaitAction::SendPrivate(to, m) => Action::SendPrivate(Participant(to.into()), m),
            CaitAction::Return(out) => match self.finish.take() {
                Some(finish) => Action::Return(finish(out)),
                None => Action::Wait,
            },
        })
    }
}

fn check_structure(payload: &[u8]) -> Result<(), String> {
    if payload.len() < HEADER_LEN {
        return Err(format!(
            "{} bytes is shorter than cait-sith's {HEADER_LEN}-byte header",
            payload.len()
        ));
    }
    let body = &payload[HEADER_LEN..];
    let mut cursor = std::io::Cursor::new(body);
    let mut de = rmp_serde::Deserializer::new(&mut cursor);
    serde::de::IgnoredAny::deserialize(&mut de).map_err(|e| format!("bad MessagePack: {e}"))?;
    if cursor.position() as usize != body.len() {
        return Err("trailing bytes after the MessagePack value".into());
    }
    Ok(())
}

/// cait-sith reports blame only inside its error text ("... from Participant(2) ..."); lift
/// it into the typed error so callers can act on it.
fn from_cait(e: CaitError) -> ProtocolError {
    let text = e.to_string();
    match culprit_in(&text) {
        Some(culprit) => ProtocolError::Misbehaved {
            culprit,
            reason: text,
        },
        None => ProtocolError::Failed(text),
    }
}

fn culprit_in(text: &str) -> Option<Participant> {
    let start = text.find("Participant(")? + "Participant(".len();
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok().map(Participant)
}

fn cait_list(ps: &[Participant]) -> Vec<CaitParticipant> {
    ps.iter().map(|p| CaitParticipant::from(p.0)).collect()
}

/// Distributed key generation: a fresh root key, `threshold` of `participants` needed to use
/// it.
pub fn keygen(
    id: InstanceId,
    participants: &[Participant],
    me: Participant,
    threshold: usize,
) -> Result<Instance<KeyShare>, InitError> {
    let sorted = check_participants(participants, me, Some(threshold))?;
    let proto = cait_sith::keygen::<Secp256k1>(&cait_list(&sorted), me.0.into(), threshold)
        .map_err(InitError::new)?;
    Ok(adapt(
        id,
        me,
        &sorted,
        proto,
        |mut o: KeygenOutput<Secp256k1>| {
            let share = KeyShare {
                private_share: o.private_share,
                public_key: o.public_key,
            };
            o.private_share.zeroize();
            share
        },
    ))
}

/// Moves the key to a new set and threshold (see [`Resharing`]), the public key unchanged.
/// `share` is this party's old share, `None` for a newcomer.
pub fn reshare(
    id: InstanceId,
    resharing: Resharing<'_>,
    me: Participant,
    share: Option<KeyShare>,
    public_key: AffinePoint,
) -> Result<Instance<KeyShare>, InitError> {
    let sets = resharing.check(me)?;
    if let Some(s) = &share {
        if s.public_key != public_key {
            return Err(InitError::new("key share belongs to another public key"));
        }
    }
    let my_share = share.as_ref().map(|s| s.private_share);
    let proto = cait_sith::reshare::<Secp256k1>(
        &cait_list(&sets.old),
        resharing.old_threshold,
        &cait_list(&sets.new),
        resharing.new_threshold,
        me.0.into(),
        my_share,
        public_key,
    )
    .map_err(InitError::new)?;
    Ok(adapt(id, me, &sets.new, proto, move |private_share| {
        KeyShare {
            private_share,
            public_key,
        }
    }))
}

/// New shares of the same key for the same participants and threshold: old shares become
/// useless to whoever stole them.
pub fn refresh(
    id: InstanceId,
    participants: &[Participant],
    threshold: usize,
    me: Participant,
    share: KeyShare,
) -> Result<Instance<KeyShare>, InitError> {
    let public_key = share.public_key;
    let resharing = Resharing::refresh(participants, threshold);
    reshare(id, resharing, me, Some(share), public_key)
}

/// One Beaver triple among `participants`, shared with `threshold`: generate it among the
/// signer set of the presignature it will feed.
pub fn generate_triple(
    id: InstanceId,
    participants: &[Participant],
    me: Participant,
    threshold: usize,
) -> Result<Instance<Triple>, InitError> {
    let sorted = check_participants(participants, me, Some(threshold))?;
    let proto = cait_sith::triples::generate_triple::<Secp256k1>(
        &cait_list(&sorted),
        me.0.into(),
        threshold,
    )
    .map_err(InitError::new)?;
    Ok(adapt(
        id,
        me,
        &sorted,
        proto,
        |(mut share, public): (TripleShare<Secp256k1>, TriplePub<Secp256k1>)| {
            let triple = Triple {
                a: share.a,
                b: share.b,
                c: share.c,
                public: TriplePublic {
                    big_a: public.big_a,
                    big_b: public.big_b,
                    big_c: public.big_c,
                    participants: public
                        .participants
                        .iter()
                        .map(|p| Participant((*p).into()))
                        .collect(),
                    threshold: public.threshold,
                },
            };
            for v in [&mut share.a, &mut share.b, &mut share.c] {
                v.zeroize();
            }
            triple
        },
    ))
}

/// A presignature for the signer set `participants`, consuming two triples made by exactly
/// that set.
pub fn presign(
    id: InstanceId,
    participants: &[Participant],
    me: Participant,
    threshold: usize,
    triples: (Triple, Triple),
    key: &KeyShare,
) -> Result<Instance<Presignature>, InitError> {
    let sorted = check_participants(participants, me, Some(threshold))?;
    // cait-sith leaves this check to the caller: a triple is only sound for the set that
    // generated it.
    for t in [&triples.0, &triples.1] {
        let mut made_by = t.public.participants.clone();
        made_by.sort();
        if made_by != sorted || t.public.threshold != threshold {
            return Err(InitError::new(
                "triples were not generated by this signer set at this threshold",
            ));
        }
    }
    if triples.0.public == triples.1.public {
        return Err(InitError::new("the two triples are the same triple"));
    }
    let to_cait = |t: &Triple| {
        let p = &t.public;
        (
            TripleShare::<Secp256k1> {
                a: t.a,
                b: t.b,
                c: t.c,
            },
            TriplePub::<Secp256k1> {
                big_a: p.big_a,
                big_b: p.big_b,
                big_c: p.big_c,
                participants: cait_list(&p.participants),
                threshold: p.threshold,
            },
        )
    };
    let args = PresignArguments {
        triple0: to_cait(&triples.0),
        triple1: to_cait(&triples.1),
        keygen_out: KeygenOutput {
            private_share: key.private_share,
            public_key: key.public_key,
        },
        threshold,
    };
    drop(triples);
    let proto = cait_sith::presign::<Secp256k1>(&cait_list(&sorted), me.0.into(), args)
        .map_err(InitError::new)?;
    let signers = sorted.clone();
    Ok(adapt(
        id,
        me,
        &sorted,
        proto,
        move |mut o: cait_sith::PresignOutput<Secp256k1>| {
            let presignature = Presignature {
                big_r: o.big_r,
                k: o.k,
                sigma: o.sigma,
                participants: signers,
            };
            o.k.zeroize();
            o.sigma.zeroize();
            presignature
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn culprit_is_read_from_cait_sith_errors() {
        assert_eq!(
            culprit_in("commitment from Participant(12) did not match revealed F"),
            Some(Participant(12))
        );
        assert_eq!(culprit_in("received bad private share"), None);
    }

    #[test]
    fn structure_check() {
        let mut ok = vec![0u8; HEADER_LEN];
        ok.extend(rmp_serde::to_vec(&(1u8, "x")).unwrap());
        assert!(check_structure(&ok).is_ok());
        assert!(check_structure(&ok[..10]).is_err());
        let mut trailing = ok.clone();
        trailing.push(0xc1);
        assert!(check_structure(&trailing).is_err());
        let mut garbage = vec![0u8; HEADER_LEN];
        garbage.push(0xc1); // a reserved MessagePack marker
        assert!(check_structure(&garbage).is_err());
    }
}
