//! FROST distributed key generation (frost-core's three parts), plus a broadcast echo.

use frost_core::keys::dkg::{part1, part2, part3, round1, round2};
use frost_core::{Ciphersuite, Identifier};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use super::{from_frost, identifier, identifiers, KeyShare};
use crate::protocol::{check_participants, InitError, Participant, ProtocolError};
use crate::rounds::digest_of;
use crate::rounds::{decode, encode, Driver, Out, Rounds, Step};
use crate::wire::{Instance, InstanceId};

/// A fresh root key among `participants`, `threshold` of them needed to sign.
pub fn keygen<C: super::Scheme>(
    id: InstanceId,
    participants: &[Participant],
    me: Participant,
    threshold: usize,
) -> Result<Instance<KeyShare<C>>, InitError> {
    let sorted = check_participants(participants, me, Some(threshold))?;
    let (secret, package) =
        part1::<C, _>(identifier(me), sorted.len() as u16, threshold as u16, OsRng)
            .map_err(InitError::new)?;
    let dkg = Dkg {
        me,
        who: identifiers(&sorted),
        participants: sorted.iter().copied().collect(),
        round1_secret: Some(secret),
        round2_secret: None,
        my_package: package,
        round1: BTreeMap::new(),
        echo: [0; 32],
    };
    Ok(Instance::new(
        id,
        me,
        &sorted,
        Box::new(Driver::new(dkg, me)),
    ))
}

#[derive(Serialize, Deserialize)]
#[serde(bound = "C: Ciphersuite")]
struct Round2Message<C: Ciphersuite> {
    package: round2::Package<C>,
    /// Hash of every round-1 package the sender saw, its own included.
    echo: [u8; 32],
}

struct Dkg<C: Ciphersuite> {
    me: Participant,
    who: BTreeMap<Identifier<C>, Participant>,
    participants: BTreeSet<Participant>,
    round1_secret: Option<round1::SecretPackage<C>>,
    round2_secret: Option<round2::SecretPackage<C>>,
    my_package: round1::Package<C>,
    round1: BTreeMap<Identifier<C>, round1::Package<C>>,
    echo: [u8; 32],
}

impl<C: super::Scheme> Rounds for Dkg<C> {
    type Output = KeyShare<C>;
    const ROUNDS: u8 = 2;

    fn start(&mut self) -> Result<Vec<Out>, ProtocolError> {
        Ok(vec![Out::All(encode(0, &self.my_package))])
    }

    fn senders(&self, _round: u8) -> BTreeSet<Participant> {
        self.participants.clone()
    }

    fn finish_round(
        &mut self,
        round: u8,
        messages: BTreeMap<Participant, Vec<u8>>,
    ) -> Result<Step<KeyShare<C>>, ProtocolError> {
        if round == 0 {
            for (from, body) in messages {
                let package: round1::Package<C> = decode(from, &body)?;
                self.round1.insert(identifier(from), package);
            }
            let mut all = self.round1.clone();
            all.insert(identifier(self.me), self.my_package.clone());
            self.echo = digest_of(all.values());
            let secret = self.round1_secret.take().expect("round 0 runs once");
            let (secret, packages) =
                part2(secret, &self.round1).map_err(|e| from_frost(e, &self.who))?;
            self.round2_secret = Some(secret);
            let out = packages
                .into_iter()
                .map(|(id, package)| {
                    let to = self.who[&id];
                    let msg = Round2Message::<C> {
                        package,
                        echo: self.echo,
                    };
                    Out::To(to, encode(1, &msg))
                })
                .collect();
            return Ok(Step::Next(out));
        }
        let mut round2 = BTreeMap::new();
        for (from, body) in messages {
            let msg: Round2Message<C> = decode(from, &body)?;
            if msg.echo != self.echo {
                return Err(ProtocolError::misbehaved(
                    from,
                    "saw different round-1 broadcasts than we did",
                ));
            }
            round2.insert(identifier(from), msg.package);
        }
        let secret = self.round2_secret.take().expect("round 1 runs once");
        let (key_package, public) =
            part3(&secret, &self.round1, &round2).map_err(|e| from_frost(e, &self.who))?;
        Ok(Step::Done(KeyShare {
            key_package,
            public,
        }))
    }
}
