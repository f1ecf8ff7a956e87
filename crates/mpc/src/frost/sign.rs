//! FROST nonce precomputation ("presignatures") and signing under a derived key.

use frost_core::keys::{KeyPackage, PublicKeyPackage, SigningShare, VerifyingShare};
use frost_core::round1::{self, SigningCommitments};
use frost_core::round2::{self, SignatureShare};
use frost_core::{
    aggregate, Ciphersuite, Element, Identifier, Scalar, Signature, SigningPackage, VerifyingKey,
};
use rand_core::OsRng;
use std::collections::{BTreeMap, BTreeSet};

use super::{from_frost, identifier, identifiers, KeyShare, Presignature};
use crate::protocol::{check_participants, InitError, Participant, ProtocolError};
use crate::rounds::{decode, encode, Driver, Out, Rounds, Step};
use crate::wire::{Instance, InstanceId};

/// FROST round one ahead of time, among the signer set `participants` (at least the key's
/// threshold).
pub fn presign<C: super::Scheme>(
    id: InstanceId,
    participants: &[Participant],
    me: Participant,
    key: &KeyShare<C>,
) -> Result<Instance<Presignature<C>>, InitError> {
    let sorted = check_participants(participants, me, None)?;
    if sorted.len() < usize::from(key.threshold()) {
        return Err(InitError::new(format!(
            "{} signers cannot sign for a threshold of {}",
            sorted.len(),
            key.threshold()
        )));
    }
    let (nonces, commitments) = round1::commit(key.key_package.signing_share(), &mut OsRng);
    let commit = Commit {
        me,
        signers: sorted.clone(),
        nonces: Some(nonces),
        commitments,
    };
    Ok(Instance::new(
        id,
        me,
        &sorted,
        Box::new(Driver::new(commit, me)),
    ))
}

struct Commit<C: Ciphersuite> {
    me: Participant,
    signers: Vec<Participant>,
    nonces: Option<round1::SigningNonces<C>>,
    commitments: SigningCommitments<C>,
}

impl<C: Ciphersuite> Rounds for Commit<C> {
    type Output = Presignature<C>;
    const ROUNDS: u8 = 1;

    fn start(&mut self) -> Result<Vec<Out>, ProtocolError> {
        Ok(vec![Out::All(encode(0, &self.commitments))])
    }

    fn senders(&self, _round: u8) -> BTreeSet<Participant> {
        self.signers.iter().copied().collect()
    }

    fn finish_round(
        &mut self,
        _round: u8,
        messages: BTreeMap<Participant, Vec<u8>>,
    ) -> Result<Step<Presignature<C>>, ProtocolError> {
        let mut commitments = BTreeMap::new();
        commitments.insert(identifier(self.me), self.commitments);
        for (from, body) in messages {
            commitments.insert(
                identifier(from),
                decode::<SigningCommitments<C>>(from, &body)?,
            );
        }
        Ok(Step::Done(Presignature {
            nonces: self.nonces.take().expect("one round"),
            commitments,
            participants: self.signers.clone(),
        }))
    }
}

/// This party's key package shifted by the derivation tweak ε (`shift = ε·G`): its share of
/// `x + ε`.
pub(crate) fn tweaked_key_package<C: Ciphersuite>(
    key: &KeyShare<C>,
    tweak: Scalar<C>,
    shift: Element<C>,
) -> KeyPackage<C> {
    let kp = &key.key_package;
    KeyPackage::new(
        *kp.identifier(),
        SigningShare::new(kp.signing_share().to_scalar() + tweak),
        VerifyingShare::new(kp.verifying_share().to_element() + shift),
        VerifyingKey::new(kp.verifying_key().to_element() + shift),
        *kp.min_signers(),
    )
}

/// Every public share and the group key shifted by `shift = ε·G`: what checks a signature
/// under the derived key (the coordinator's alone).
pub(crate) fn tweaked_public<C: Ciphersuite>(
    key: &KeyShare<C>,
    shift: Element<C>,
) -> PublicKeyPackage<C> {
    let shares = key
        .public
        .verifying_shares()
        .iter()
        .map(|(id, vs)| (*id, VerifyingShare::new(vs.to_element() + shift)))
        .collect();
    let group_key = VerifyingKey::new(key.public.verifying_key().to_element() + shift);
    PublicKeyPackage::new(shares, group_key, key.public.min_signers())
}

/// What one FROST signature signs, under which derived key, and who assembles it.
pub struct SigningInput<'a, C: Ciphersuite> {
    /// The derivation tweak of (predecessor, path).
    pub tweak: Scalar<C>,
    pub message: &'a [u8],
    /// The one signer that receives the shares, checks them and outputs the signature (the
    /// leader that submits it); the others send their share to it and output nothing.
    pub coordinator: Participant,
}

/// Signs `input.message` under the key derived with `input.tweak`, consuming one
/// presignature. The signer set must be exactly the presignature's. Only the coordinator
/// outputs the signature (`Some`): checking it costs a verification, which the others would
/// spend for nothing, and their shares travel to it alone.
pub fn sign<C: super::Scheme>(
    id: InstanceId,
    participants: &[Participant],
    me: Participant,
    key: &KeyShare<C>,
    presignature: Presignature<C>,
    input: SigningInput<'_, C>,
) -> Result<Instance<Option<Signature<C>>>, InitError> {
    let sorted = check_participants(participants, me, None)?;
    if sorted != presignature.participants {
        return Err(InitError::new(format!(
            "presignature belongs to signers {:?}, not {:?}",
            presignature.participants, sorted
        )));
    }
    if !sorted.contains(&input.coordinator) {
        return Err(InitError::new(format!(
            "coordinator {} is not a signer",
            input.coordinator
        )));
    }
    let shift = C::mul_base(&input.tweak);
    let key_package = C::signing_key_package(tweaked_key_package(key, input.tweak, shift));
    // Only the coordinator checks shares and the signature; the others never need the
    // public shares (for BIP340 tweaking them costs a scalar multiplication).
    let public = (me == input.coordinator).then(|| C::signing_public(tweaked_public(key, shift)));
    let signing_package = SigningPackage::new(presignature.commitments.clone(), input.message);
    let my_share = round2::sign(&signing_package, &presignature.nonces, &key_package)
        .map_err(InitError::new)?;
    drop(presignature);
    let round = SignRound {
        me,
        coordinator: input.coordinator,
        who: identifiers(&sorted),
        signers: sorted.iter().copied().collect(),
        signing_package,
        public,
        my_share,
    };
    Ok(Instance::new(
        id,
        me,
        &sorted,
        Box::new(Driver::new(round, me)),
    ))
}

struct SignRound<C: Ciphersuite> {
    me: Participant,
    coordinator: Participant,
    who: BTreeMap<Identifier<C>, Participant>,
    signers: BTreeSet<Participant>,
    signing_package: SigningPackage<C>,
    /// The public shares under the signing key, at the coordinator alone.
    public: Option<PublicKeyPackage<C>>,
    my_share: SignatureShare<C>,
}

impl<C: Ciphersuite> Rounds for SignRound<C> {
    type Output = Option<Signature<C>>;
    const ROUNDS: u8 = 1;

    fn start(&mut self) -> Result<Vec<Out>, ProtocolError> {
        if self.public.is_some() {
            return Ok(vec![]);
        }
        let share = encode(0, &self.my_share.serialize());
        Ok(vec![Out::To(self.coordinator, share)])
    }

    fn senders(&self, _round: u8) -> BTreeSet<Participant> {
        if self.public.is_some() {
            self.signers.clone()
        } else {
            BTreeSet::new()
        }
    }

    fn finish_round(
        &mut self,
        _round: u8,
        messages: BTreeMap<Participant, Vec<u8>>,
    ) -> Result<Step<Option<Signature<C>>>, ProtocolError> {
        let Some(public) = &self.public else {
            return Ok(Step::Done(None));
        };
        let mut shares = BTreeMap::new();
        shares.insert(identifier(self.me), self.my_share);
        for (from, body) in messages {
            let bytes: Vec<u8> = decode(from, &body)?;
            let share = SignatureShare::deserialize(&bytes)
                .map_err(|e| ProtocolError::malformed(from, e))?;
            shares.insert(identifier(from), share);
        }
        // aggregate verifies the signature; when it does not verify it checks each share and
        // names the culprit, or fails with InvalidSignature: it never returns a bad signature.
        let signature = aggregate(&self.signing_package, &shares, public)
            .map_err(|e| from_frost(e, &self.who))?;
        Ok(Step::Done(Some(signature)))
    }
}
