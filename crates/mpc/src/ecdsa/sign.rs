//! The ECDSA signing round, under a derived key, with the presignature rerandomized.
//!
//! docs/design.md §7.3, after Groth and Shoup ("On the security of ECDSA with additive key
//! derivation and presignatures", EUROCRYPT 2022): a presignature made before the request is
//! known must not sign under an additive derivation as is. Every party computes the same
//! public δ with HKDF-SHA256 over (root key, tweak ε, payload, R, signer set, request
//! entropy) — the entropy is fixed only after the request was accepted (the block's random
//! seed), so nobody can aim a presignature at a payload — and transforms its share:
//!
//! ```text
//! R' = δ·R        kᵢ' = δ⁻¹·kᵢ        σᵢ' = δ⁻¹·(σᵢ + ε·kᵢ)
//! ```
//!
//! Then `Σλᵢkᵢ' = δ⁻¹k` with `R' = (δ⁻¹k)⁻¹·G`, and `Σλᵢσᵢ' = δ⁻¹k·(x + ε)`: a presignature
//! for the derived key `x + ε`. Each party broadcasts `sᵢ = λᵢ(h·kᵢ' + r·σᵢ')` with
//! `r = x(R') mod n` to the coordinator (the node that leads the request), which sums,
//! normalizes to low s, verifies the signature under the derived key and computes the
//! recovery id. One round; the coordinator alone outputs the signature, as in FROST: the
//! others would only repeat its sum and its verification.

use hkdf::Hkdf;
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use k256::elliptic_curve::bigint::U512;
use k256::elliptic_curve::ops::{MulByGenerator, Reduce};
use k256::elliptic_curve::point::AffineCoordinates;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::elliptic_curve::PrimeField;
use k256::{AffinePoint, ProjectivePoint, Scalar};
use primitives::response::EcdsaSignature;
use sha2::Sha256;
use std::collections::{BTreeMap, BTreeSet};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::lagrange;
use super::types::Presignature;
use crate::protocol::{check_participants, InitError, Participant, ProtocolError};
use crate::rounds::{Driver, Out, Rounds, Step};
use crate::wire::{Instance, InstanceId};

const KDF_SALT: &[u8] = b"chainsig ecdsa presignature rerandomization v1";

/// What a signature is for, as every signer must agree on it.
#[derive(Clone, Copy, Debug)]
pub struct SigningInput {
    /// The domain's root public key.
    pub root_public_key: AffinePoint,
    /// The derivation tweak ε of (predecessor, path) (docs/design.md §4.1).
    pub tweak: Scalar,
    /// The payload: the 32-byte hash, as a scalar.
    pub msg_hash: Scalar,
    /// Public randomness fixed after the request was accepted (the block's random seed).
    pub entropy: [u8; 32],
    /// The signer that receives the shares and outputs the signature.
    pub coordinator: Participant,
}

impl SigningInput {
    /// The key the signature verifies under: `root + ε·G`.
    pub fn derived_public_key(&self) -> AffinePoint {
        (ProjectivePoint::from(self.root_public_key)
            + ProjectivePoint::mul_by_generator(&self.tweak))
        .to_affine()
    }
}

/// A presignature share after rerandomization and tweaking.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct Rerandomized {
    #[zeroize(skip)]
    pub(crate) big_r: AffinePoint,
    pub(crate) k: Scalar,
    pub(crate) sigma: Scalar,
}

/// δ: the public rerandomizer every signer derives alike.
pub(crate) fn delta(
    input: &SigningInput,
    big_r: &AffinePoint,
    signers: &[Participant],
) -> Result<Scalar, ProtocolError> {
    let mut ikm = Vec::with_capacity(33 * 2 + 32 * 2 + 4 * signers.len());
    ikm.extend_from_slice(input.root_public_key.to_encoded_point(true).as_bytes());
    ikm.extend_from_slice(&input.tweak.to_repr());
    ikm.extend_from_slice(&input.msg_hash.to_repr());
    ikm.extend_from_slice(big_r.to_encoded_point(true).as_bytes());
    for p in signers {
        ikm.extend_from_slice(&p.0.to_be_bytes());
    }
    let hk = Hkdf::<Sha256>::new(Some(KDF_SALT), &ikm);
    let mut wide = [0u8; 64];
    hk.expand(&input.entropy, &mut wide)
        .expect("64 bytes is a valid HKDF-SHA256 length");
    let d = <Scalar as Reduce<U512>>::reduce_bytes(&wide.into());
    if bool::from(d.is_zero()) {
        return Err(ProtocolError::Failed("rerandomizer is zero".into()));
    }
    Ok(d)
}

/// Applies δ and ε to one party's presignature share.
pub(crate) fn rerandomize(
    presignature: &Presignature,
    input: &SigningInput,
) -> Result<Rerandomized, ProtocolError> {
    let d = delta(input, &presignature.big_r, &presignature.participants)?;
    let d_inv = Option::<Scalar>::from(d.invert()).expect("δ is non-zero");
    Ok(Rerandomized {
        big_r: (ProjectivePoint::from(presignature.big_r) * d).to_affine(),
        k: d_inv * presignature.k,
        sigma: d_inv * (presignature.sigma + input.tweak * presignature.k),
    })
}

/// Signs `input.msg_hash` under the derived key with one presignature, consumed. The signer
/// set must be exactly the presignature's. Only the coordinator outputs the signature
/// (`Some`); the others finish with `None` once their share is sent.
pub fn sign(
    id: InstanceId,
    participants: &[Participant],
    me: Participant,
    presignature: Presignature,
    input: SigningInput,
) -> Result<Instance<Option<EcdsaSignature>>, InitError> {
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
    let verifying_key = if me == input.coordinator {
        let derived = input.derived_public_key();
        Some(
            VerifyingKey::from_affine(derived)
                .map_err(|_| InitError::new("derived key is the point at infinity"))?,
        )
    } else {
        None
    };
    let share = rerandomize(&presignature, &input).map_err(InitError::new)?;
    drop(presignature);
    let round = SignRound::new(&sorted, me, &input, verifying_key, share);
    Ok(Instance::new(
        id,
        me,
        &sorted,
        Box::new(Driver::new(round, me)),
    ))
}

pub(crate) struct SignRound {
    signers: BTreeSet<Participant>,
    lambda: Scalar,
    msg_hash: Scalar,
    /// The derived key, at the coordinator alone (`None` elsewhere).
    verifying_key: Option<VerifyingKey>,
    coordinator: Participant,
    share: Rerandomized,
}

impl SignRound {
    pub(crate) fn new(
        signers: &[Participant],
        me: Participant,
        input: &SigningInput,
        verifying_key: Option<VerifyingKey>,
        share: Rerandomized,
    ) -> Self {
        Self {
            lambda: lagrange(signers, me),
            signers: signers.iter().copied().collect(),
            msg_hash: input.msg_hash,
            verifying_key,
            coordinator: input.coordinator,
            share,
        }
    }

    /// This party's signature share, as it goes on the wire (tests combine them by hand).
    #[cfg(test)]
    pub(crate) fn share_bytes(&self) -> Vec<u8> {
        let s: [u8; 32] = self.my_s().to_repr().into();
        crate::rounds::encode(0, &s)
    }

    fn r(&self) -> Scalar {
        <Scalar as Reduce<k256::U256>>::reduce_bytes(&self.share.big_r.x())
    }

    fn my_s(&self) -> Scalar {
        self.lambda * (self.msg_hash * self.share.k + self.r() * self.share.sigma)
    }
}

impl Rounds for SignRound {
    type Output = Option<EcdsaSignature>;
    const ROUNDS: u8 = 1;

    fn start(&mut self) -> Result<Vec<Out>, ProtocolError> {
        if self.verifying_key.is_some() {
            return Ok(vec![]);
        }
        let s: [u8; 32] = self.my_s().to_repr().into();
        Ok(vec![Out::To(
            self.coordinator,
            crate::rounds::encode(0, &s),
        )])
    }

    fn senders(&self, _round: u8) -> BTreeSet<Participant> {
        if self.verifying_key.is_some() {
            self.signers.clone()
        } else {
            BTreeSet::new()
        }
    }

    fn finish_round(
        &mut self,
        _round: u8,
        messages: BTreeMap<Participant, Vec<u8>>,
    ) -> Result<Step<Option<EcdsaSignature>>, ProtocolError> {
        let Some(verifying_key) = &self.verifying_key else {
            return Ok(Step::Done(None));
        };
        let mut s = self.my_s();
        for (from, body) in messages {
            let bytes: [u8; 32] = crate::rounds::decode(from, &body)?;
            let s_j = Option::<Scalar>::from(Scalar::from_repr(bytes.into()))
                .ok_or_else(|| ProtocolError::malformed(from, "signature share is not a scalar"))?;
            s += s_j;
        }
        let sig = Signature::from_scalars(self.r(), s)
            .map_err(|_| ProtocolError::Failed("signature shares sum to zero".into()))?;
        let normalized = sig.normalize_s();
        let sig = normalized.unwrap_or(sig);
        if verifying_key
            .verify_prehash(&self.msg_hash.to_repr(), &sig)
            .is_err()
        {
            return Err(ProtocolError::Failed(
                "signature shares do not combine to a valid signature (a share or the \
                 presignature was wrong; neither presignature kind can tell whose)"
                    .into(),
            ));
        }
        // Negating s negates the nonce point the signature effectively uses.
        let big_r = if normalized.is_some() {
            (-ProjectivePoint::from(self.share.big_r)).to_affine()
        } else {
            self.share.big_r
        };
        let x_overflows = self.r().to_repr() != big_r.x();
        let recovery_id = RecoveryId::new(big_r.y_is_odd().into(), x_overflows);
        Ok(Step::Done(Some(EcdsaSignature {
            big_r,
            s: *sig.s(),
            recovery_id: recovery_id.to_byte(),
        })))
    }
}
