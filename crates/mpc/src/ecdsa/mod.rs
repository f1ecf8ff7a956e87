//! Threshold ECDSA on secp256k1, on the published cait-sith crate (v0.8).
//!
//! cait-sith's protocol (Frederiksen-style OT-based Beaver triples, then a presignature that
//! consumes two triples, then a one-round signature) runs here unchanged for DKG, reshare,
//! refresh, triples and presignatures; [`cait`] adapts its interface to [`crate::Protocol`].
//! The signing round is our own ([`sign`]) because chain signatures sign under *derived* keys
//! with *rerandomized* presignatures (docs/design.md §7.3, Groth–Shoup EUROCRYPT 2022), which cait-sith
//! does not do.
//!
//! Caveats, from cait-sith itself: no formal security proof, no audit, and no identifiable
//! abort. A bad message is blamed on its sender when cait-sith's checks name one (commitments,
//! proofs of knowledge in key generation); a failure of a check on combined values (a triple's
//! product, the final signature) names nobody, and the protocol ends with no output.
//!
//! [`fast_presign`] is the second way to make the same [`Presignature`], without triples,
//! when an honest majority of `2t − 1` signers is online (docs/design.md §7.5, module `fast`); the signing
//! round is the same.
//!
//! Thresholds mean what the contract means: `t` parties are needed to sign, and the sharing
//! polynomials have degree `t − 1`. Triples and presignatures are made among the signer set
//! itself (any `|S| ≥ t`), so their cost grows with the signers, not with the whole network.

mod cait;
mod curve;
mod fast;
mod sign;
mod types;

pub use cait::{generate_triple, keygen, presign, refresh, reshare};
pub use fast::fast_presign;
pub use sign::{sign, SigningInput};
pub use types::{KeyShare, Presignature, Triple, TriplePublic};

use k256::Scalar;

use crate::protocol::Participant;

/// The evaluation point of a participant: `id + 1`, as in cait-sith and every other scheme.
pub(crate) fn point(p: Participant) -> Scalar {
    Scalar::from(u64::from(p.0) + 1)
}

/// The Lagrange coefficient at 0 of `me` within `set`.
pub(crate) fn lagrange(set: &[Participant], me: Participant) -> Scalar {
    lagrange_at(set, me, Scalar::ZERO)
}

/// The Lagrange basis polynomial of `me` within `set`, evaluated at `x`.
pub(crate) fn lagrange_at(set: &[Participant], me: Participant, x: Scalar) -> Scalar {
    let xi = point(me);
    let (mut num, mut den) = (Scalar::ONE, Scalar::ONE);
    for &p in set.iter().filter(|p| **p != me) {
        let xj = point(p);
        num *= x - xj;
        den *= xi - xj;
    }
    // Distinct ids make den non-zero; constructors check ids are distinct.
    num * Option::<Scalar>::from(den.invert()).unwrap_or(Scalar::ZERO)
}

#[cfg(test)]
mod tests;
