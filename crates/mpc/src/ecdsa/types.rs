//! The secret material of ECDSA: key shares, triples, presignatures.
//!
//! None of these is `Clone`; all are zeroized on drop; `Debug` shows only public parts. They
//! serialize (serde) so that the node can store them encrypted.

use k256::{AffinePoint, Scalar};
use serde::{Deserialize, Serialize};
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::protocol::Participant;

/// This party's share of a domain's root key.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct KeyShare {
    pub(crate) private_share: Scalar,
    #[zeroize(skip)]
    pub(crate) public_key: AffinePoint,
}

impl KeyShare {
    /// The root public key all shares belong to.
    pub fn public_key(&self) -> AffinePoint {
        self.public_key
    }
}

impl fmt::Debug for KeyShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyShare")
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

/// The public part of a Beaver triple: commitments `A = a·G, B = b·G, C = c·G`, and who holds
/// shares of it at which threshold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriplePublic {
    pub big_a: AffinePoint,
    pub big_b: AffinePoint,
    pub big_c: AffinePoint,
    pub participants: Vec<Participant>,
    pub threshold: usize,
}

/// This party's share of a Beaver triple `(a, b, c = a·b)`. Used by exactly one presignature.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Triple {
    pub(crate) a: Scalar,
    pub(crate) b: Scalar,
    pub(crate) c: Scalar,
    #[zeroize(skip)]
    pub(crate) public: TriplePublic,
}

impl Triple {
    pub fn public(&self) -> &TriplePublic {
        &self.public
    }
}

impl fmt::Debug for Triple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Triple")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// This party's share of a presignature: `R = k⁻¹·G`, its share of `k` and of `σ = k·x`.
/// Signs exactly one payload.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Presignature {
    #[zeroize(skip)]
    pub(crate) big_r: AffinePoint,
    pub(crate) k: Scalar,
    pub(crate) sigma: Scalar,
    #[zeroize(skip)]
    pub(crate) participants: Vec<Participant>,
}

impl Presignature {
    /// The (not yet rerandomized) nonce point.
    pub fn big_r(&self) -> AffinePoint {
        self.big_r
    }

    /// The signer set that made it; only this set can sign with it.
    pub fn participants(&self) -> &[Participant] {
        &self.participants
    }
}

impl fmt::Debug for Presignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presignature")
            .field("big_r", &self.big_r)
            .field("participants", &self.participants)
            .finish_non_exhaustive()
    }
}
