//! Resharing a FROST key to a new participant set and threshold, the group key unchanged.
//!
//! frost-core 3.0 refreshes shares but cannot add participants, so this is our own protocol,
//! the classic one for Shamir-shared keys (Desmedt–Jajodia redistribution with Feldman
//! commitments):
//!
//! 1. Each *dealer* — an old holder that is also in the new set — takes `sᵢ = λᵢ·xᵢ` (its
//!    Lagrange-weighted share over the dealer set, so `Σ sᵢ = x`), draws a random polynomial
//!    `fᵢ` of degree `t' − 1` with `fᵢ(0) = sᵢ`, and sends each new participant `j` the share
//!    `fᵢ(j)` with the commitment `Cᵢ = (aᵢₖ·G)ₖ` to its coefficients.
//! 2. Each new participant checks `fᵢ(j)·G` against `Cᵢ` (frost's `SecretShare::verify`,
//!    blaming the dealer), and, when it held a share before, that `Cᵢ₀ = λᵢ·Xᵢ` (blaming the
//!    dealer). It then broadcasts a hash of all commitments; everyone compares (a dealer that
//!    showed different commitments to different peers is caught).
//! 3. The new share is `Σᵢ fᵢ(j)`; the new public shares and group key follow from `Σᵢ Cᵢ`,
//!    whose constant term must be the old group key.
//!
//! Refresh is the same protocol with the same set and threshold.

use frost_core::keys::{
    sum_commitments, CoefficientCommitment, KeyPackage, PublicKeyPackage, SecretShare,
    SigningShare, VerifiableSecretSharingCommitment,
};
use frost_core::{
    compute_lagrange_coefficient, Ciphersuite, Field, Group, Identifier, VerifyingKey,
};
use rand_core::OsRng;
use std::collections::{BTreeMap, BTreeSet};
use zeroize::Zeroizing;

use super::{from_frost, identifier, identifiers, KeyShare};
use crate::protocol::{InitError, Participant, ProtocolError, Resharing};
use crate::rounds::digest_of;
use crate::rounds::{decode, encode, Driver, Out, Rounds, Step};
use crate::wire::{Instance, InstanceId};

type Scalar<C> = frost_core::Scalar<C>;

/// Moves the key to a new set and threshold (see [`Resharing`]), the group key unchanged.
/// `share` is this party's old share, `None` for a newcomer.
pub fn reshare<C: super::Scheme>(
    id: InstanceId,
    resharing: Resharing<'_>,
    me: Participant,
    share: Option<KeyShare<C>>,
    group_key: VerifyingKey<C>,
) -> Result<Instance<KeyShare<C>>, InitError> {
    let sets = resharing.check(me)?;
    let dealers = sets.dealers;
    match (&share, dealers.contains(&me)) {
        (None, true) => return Err(InitError::new("an old holder must bring its share")),
        (Some(s), _) if s.verifying_key() != group_key => {
            return Err(InitError::new("key share belongs to another group key"))
        }
        _ => {}
    }
    let old_public = share.as_ref().map(|s| s.public.clone());
    let dealing = match share.filter(|_| dealers.contains(&me)) {
        Some(share) => Some(deal(
            &share,
            me,
            &dealers,
            &sets.new,
            resharing.new_threshold,
        )),
        None => None,
    };
    let round = Reshare {
        me,
        who: identifiers(&sets.new),
        new: sets.new.iter().copied().collect(),
        dealers: dealers.iter().copied().collect(),
        lambdas: dealers
            .iter()
            .map(|d| (*d, lagrange::<C>(&dealers, *d)))
            .collect(),
        new_threshold: resharing.new_threshold as u16,
        group_key,
        old_public,
        dealing,
        received: BTreeMap::new(),
        echo: [0; 32],
    };
    Ok(Instance::new(
        id,
        me,
        &sets.new,
        Box::new(Driver::new(round, me)),
    ))
}

/// New shares of the same key for the same participants and threshold.
pub fn refresh<C: super::Scheme>(
    id: InstanceId,
    participants: &[Participant],
    threshold: usize,
    me: Participant,
    share: KeyShare<C>,
) -> Result<Instance<KeyShare<C>>, InitError> {
    let group_key = share.verifying_key();
    let resharing = Resharing::refresh(participants, threshold);
    reshare(id, resharing, me, Some(share), group_key)
}

fn lagrange<C: Ciphersuite>(set: &[Participant], me: Participant) -> Scalar<C> {
    let ids: BTreeSet<Identifier<C>> = set.iter().map(|p| identifier(*p)).collect();
    compute_lagrange_coefficient(&ids, None, identifier(me)).expect("me is in the set")
}

/// This dealer's shares for every new participant, one commitment for all.
fn deal<C: Ciphersuite>(
    share: &KeyShare<C>,
    me: Participant,
    dealers: &[Participant],
    new: &[Participant],
    new_threshold: usize,
) -> BTreeMap<Participant, SecretShare<C>> {
    let secret = lagrange::<C>(dealers, me) * share.key_package.signing_share().to_scalar();
    let mut coefficients = Zeroizing::new(vec![SigningShare::<C>::new(secret)]);
    for _ in 1..new_threshold {
        coefficients.push(SigningShare::new(<C::Group as Group>::Field::random(
            &mut OsRng,
        )));
    }
    let commitment = VerifiableSecretSharingCommitment::<C>::new(
        coefficients
            .iter()
            .map(|a| CoefficientCommitment::new(C::Group::generator() * a.to_scalar()))
            .collect(),
    );
    let mut out = BTreeMap::new();
    for &p in new {
        let x = identifier::<C>(p).to_scalar();
        // Horner's rule, highest coefficient first.
        let mut value = <C::Group as Group>::Field::zero();
        for a in coefficients.iter().rev() {
            value = value * x + a.to_scalar();
        }
        out.insert(
            p,
            SecretShare::new(identifier(p), SigningShare::new(value), commitment.clone()),
        );
    }
    out
}

struct Reshare<C: Ciphersuite> {
    me: Participant,
    who: BTreeMap<Identifier<C>, Participant>,
    new: BTreeSet<Participant>,
    dealers: BTreeSet<Participant>,
    lambdas: BTreeMap<Participant, Scalar<C>>,
    new_threshold: u16,
    group_key: VerifyingKey<C>,
    old_public: Option<PublicKeyPackage<C>>,
    /// What this party deals, if it deals.
    dealing: Option<BTreeMap<Participant, SecretShare<C>>>,
    /// Verified shares dealt to us, by dealer.
    received: BTreeMap<Participant, SecretShare<C>>,
    echo: [u8; 32],
}

impl<C: Ciphersuite> Reshare<C> {
    fn accept(&mut self, dealer: Participant, share: SecretShare<C>) -> Result<(), ProtocolError> {
        let blame = |why: &str| ProtocolError::misbehaved(dealer, why);
        if *share.identifier() != identifier::<C>(self.me) {
            return Err(blame("dealt a share for someone else"));
        }
        let coefficients = share.commitment().coefficients();
        if coefficients.len() != usize::from(self.new_threshold) {
            return Err(blame("committed to a polynomial of the wrong degree"));
        }
        share
            .verify()
            .map_err(|_| blame("dealt a share that does not match its commitment"))?;
        // An old holder knows the dealer's public share: the constant term must be λᵢ·Xᵢ.
        if let Some(public) = &self.old_public {
            let expected = public
                .verifying_shares()
                .get(&identifier(dealer))
                .map(|x| x.to_element() * self.lambdas[&dealer]);
            if expected != Some(coefficients[0].value()) {
                return Err(blame("dealt something other than its share of the key"));
            }
        }
        self.received.insert(dealer, share);
        Ok(())
    }
}

impl<C: super::Scheme> Rounds for Reshare<C> {
    type Output = KeyShare<C>;
    const ROUNDS: u8 = 2;

    fn start(&mut self) -> Result<Vec<Out>, ProtocolError> {
        let Some(dealing) = self.dealing.take() else {
            return Ok(vec![]);
        };
        let mut out = vec![];
        for (to, share) in dealing {
            if to == self.me {
                self.received.insert(to, share);
            } else {
                out.push(Out::To(to, encode(0, &share)));
            }
        }
        Ok(out)
    }

    fn senders(&self, round: u8) -> BTreeSet<Participant> {
        if round == 0 {
            self.dealers.clone()
        } else {
            self.new.clone()
        }
    }

    fn finish_round(
        &mut self,
        round: u8,
        messages: BTreeMap<Participant, Vec<u8>>,
    ) -> Result<Step<KeyShare<C>>, ProtocolError> {
        if round == 0 {
            for (dealer, body) in messages {
                let share: SecretShare<C> = decode(dealer, &body)?;
                self.accept(dealer, share)?;
            }
            self.echo = digest_of(self.received.values().map(|s| s.commitment()));
            return Ok(Step::Next(vec![Out::All(encode(1, &self.echo))]));
        }
        for (from, body) in messages {
            let echo: [u8; 32] = decode(from, &body)?;
            if echo != self.echo {
                return Err(ProtocolError::misbehaved(
                    from,
                    "saw different dealer commitments than we did",
                ));
            }
        }
        let commitments: Vec<&VerifiableSecretSharingCommitment<C>> =
            self.received.values().map(|s| s.commitment()).collect();
        let summed = sum_commitments(&commitments).map_err(|e| from_frost(e, &self.who))?;
        let ids: BTreeSet<Identifier<C>> = self.who.keys().copied().collect();
        let public = PublicKeyPackage::from_commitment(&ids, &summed)
            .map_err(|e| from_frost(e, &self.who))?;
        if *public.verifying_key() != self.group_key {
            return Err(ProtocolError::Failed(
                "dealt shares do not add up to the group key".into(),
            ));
        }
        let mut sum = <C::Group as Group>::Field::zero();
        for share in self.received.values() {
            sum = sum + share.signing_share().to_scalar();
        }
        let me = identifier::<C>(self.me);
        let verifying_share = public.verifying_shares()[&me];
        let key_package = KeyPackage::new(
            me,
            SigningShare::new(sum),
            verifying_share,
            self.group_key,
            self.new_threshold,
        );
        Ok(Step::Done(KeyShare {
            key_package,
            public,
        }))
    }
}
