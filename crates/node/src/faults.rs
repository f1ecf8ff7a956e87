//! Deliberate misbehaviour, for tests that need a hostile member in a real network.
//!
//! Compiled in only with the `fault-injection` feature (the node's own integration tests turn
//! it on); without it [`Faults`] is empty and every hook is the identity, so a production
//! build has no switch that makes a node lie. Nothing in the node's config file reaches it.

use crate::service::protocols::ProtocolKind;

/// What this node does wrong on purpose.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Flip a bit of every signature share this node sends: the share still decodes, but the
    /// set's signature no longer verifies.
    #[cfg(feature = "fault-injection")]
    pub corrupt_signature_shares: bool,
}

/// A change made to every message an instance sends.
pub type Tamper = fn(&mut [u8]);

impl Faults {
    /// The tamper hook for an instance of `protocol`, if any.
    pub fn tamper(&self, protocol: ProtocolKind) -> Option<Tamper> {
        #[cfg(feature = "fault-injection")]
        if self.corrupt_signature_shares && protocol == ProtocolKind::Sign {
            return Some(flip_last_bit);
        }
        let _ = protocol;
        None
    }
}

/// A share is the message's last field (a big-endian secp256k1 scalar, or a little-endian
/// Ed25519 / BIP-340 one): its lowest or a high bit flips, and it stays a valid scalar, or is
/// caught as malformed, either way a wrong share.
#[cfg(feature = "fault-injection")]
fn flip_last_bit(bytes: &mut [u8]) {
    if let Some(last) = bytes.last_mut() {
        *last ^= 1;
    }
}
