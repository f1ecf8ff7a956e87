//! The signing network as this node sees it (the contract's current epoch, with this node's
//! key shares), and the pure scheduling rules on it: who leads a request, who signs with whom.

use contract::RequestId;
use primitives::{DomainId, NearPublicKey, ParticipantId, SignatureScheme};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use crate::keys::DomainKey;

/// One active domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Domain {
    pub scheme: SignatureScheme,
    pub public_key: NearPublicKey,
}

/// The network that signs now.
#[derive(Clone, Debug)]
pub struct Network {
    pub epoch: u64,
    /// This node's id, if it is a participant.
    pub me: Option<ParticipantId>,
    pub threshold: usize,
    /// Participant → account.
    pub participants: BTreeMap<ParticipantId, String>,
    pub domains: BTreeMap<DomainId, Domain>,
    /// This node's shares of the domains' keys in this epoch.
    pub keys: BTreeMap<DomainId, Arc<DomainKey>>,
}

impl Network {
    /// Whether the contract-side facts (not the shares held) are the same.
    pub fn same_as(&self, other: &Network) -> bool {
        self.epoch == other.epoch
            && self.me == other.me
            && self.threshold == other.threshold
            && self.participants == other.participants
            && self.domains == other.domains
    }
}

/// Every participant, in the order they lead `request`: a hash of the request id and the
/// participant id, so the order is fixed, spreads requests evenly and needs no coordination.
pub fn leader_order(
    request: &RequestId,
    participants: impl IntoIterator<Item = ParticipantId>,
) -> Vec<ParticipantId> {
    let mut ranked: Vec<([u8; 32], ParticipantId)> = participants
        .into_iter()
        .map(|p| {
            let h = Sha256::new()
                .chain_update(b"chainsig leader")
                .chain_update(request.0)
                .chain_update(p.0.to_be_bytes())
                .finalize();
            (h.into(), p)
        })
        .collect();
    ranked.sort();
    ranked.into_iter().map(|(_, p)| p).collect()
}

/// Whether `me` should lead `request` now: the first live participant in
/// [`leader_order`] leads at once; the k-th live one takes over after `k · failover` without
/// an answer, so a leader that died (or whose presignature set broke) is replaced in turn.
pub fn my_turn(
    order: &[ParticipantId],
    alive: &BTreeSet<ParticipantId>,
    me: ParticipantId,
    waited: Duration,
    failover: Duration,
) -> bool {
    let live: Vec<&ParticipantId> = order
        .iter()
        .filter(|p| **p == me || alive.contains(p))
        .collect();
    match live.iter().position(|p| **p == me) {
        Some(k) => waited >= failover * k as u32,
        None => false,
    }
}

/// A signer set of `size` for a new item `me` will own (`size` is the threshold, or `2t − 1`
/// for V2Secp256k1): `me` and `size − 1` live peers, rotated by `turn` so that items spread
/// over the network. `None` if too few peers are alive.
pub fn choose_signers(
    me: ParticipantId,
    alive: &BTreeSet<ParticipantId>,
    participants: &BTreeMap<ParticipantId, String>,
    size: usize,
    turn: usize,
) -> Option<Vec<ParticipantId>> {
    let others: Vec<ParticipantId> = participants
        .keys()
        .copied()
        .filter(|p| *p != me && alive.contains(p))
        .collect();
    let need = size.checked_sub(1)?;
    if others.len() < need {
        return None;
    }
    let mut set: Vec<ParticipantId> = (0..need)
        .map(|i| others[(turn + i) % others.len()])
        .collect();
    set.push(me);
    set.sort();
    Some(set)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Participants 0..=3 at threshold 3, epoch 3; domain 0 is ECDSA, domain 1 Ed25519.
    pub(crate) fn network(me: ParticipantId) -> Network {
        let domain = |scheme, pk: &str| Domain {
            scheme,
            public_key: pk.parse().unwrap(),
        };
        Network {
            epoch: 3,
            me: Some(me),
            threshold: 3,
            participants: (0..4).map(|i| (ParticipantId(i), format!("n{i}"))).collect(),
            domains: [
                (DomainId(0), domain(SignatureScheme::Secp256k1, "secp256k1:4NfTiv3UsGahebgTaHyD9vF8KYKMBnfd6kh94mK6xv8fGBiJB8TBtFMP5WWXz6B89Ac1fbpzPwAvoyQebemHFwx3")),
                (DomainId(1), domain(SignatureScheme::Ed25519, "ed25519:6vSEtQxrQj6txUMh33WC4ERyCWmNMRTdufDWAaDY3Un2")),
            ]
            .into(),
            keys: BTreeMap::new(),
        }
    }

    fn ids(n: u32) -> Vec<ParticipantId> {
        (0..n).map(ParticipantId).collect()
    }

    proptest! {
        #[test]
        fn exactly_one_live_node_leads_at_first(req in any::<[u8; 32]>(), dead in any::<u8>()) {
            let order = leader_order(&RequestId(req), ids(5));
            let alive: BTreeSet<_> = ids(5).into_iter().filter(|p| dead & (1 << p.0) == 0).collect();
            let leaders = alive.iter().filter(|me| {
                let others: BTreeSet<_> = alive.iter().copied().filter(|p| p != *me).collect();
                my_turn(&order, &others, **me, Duration::ZERO, Duration::from_secs(5))
            }).count();
            prop_assert_eq!(leaders, usize::from(!alive.is_empty()));
        }
    }

    #[test]
    fn the_next_node_takes_over_after_the_failover_time() {
        let order = leader_order(&RequestId([7; 32]), ids(4));
        let f = Duration::from_secs(5);
        let everyone: BTreeSet<_> = ids(4).into_iter().collect();
        let second = order[1];
        assert!(!my_turn(&order, &everyone, second, f / 2, f));
        assert!(my_turn(&order, &everyone, second, f, f));
        // With the first leader seen dead, the second leads at once.
        let without_first: BTreeSet<_> = everyone
            .iter()
            .copied()
            .filter(|p| *p != order[0])
            .collect();
        assert!(my_turn(&order, &without_first, second, Duration::ZERO, f));
        assert_eq!(order.len(), 4);
        assert_ne!(order, leader_order(&RequestId([8; 32]), ids(4)));
    }

    #[test]
    fn signer_sets_rotate_over_live_peers() {
        let net = network(ParticipantId(1));
        let alive: BTreeSet<_> = [0, 2, 3].map(ParticipantId).into();
        let sets: BTreeSet<Vec<ParticipantId>> = (0..3)
            .map(|turn| {
                choose_signers(ParticipantId(1), &alive, &net.participants, 3, turn).unwrap()
            })
            .collect();
        assert_eq!(sets.len(), 3, "{sets:?}");
        for s in &sets {
            assert!(
                s.contains(&ParticipantId(1)) && s.len() == 3 && s.windows(2).all(|w| w[0] < w[1])
            );
        }
        let one_alive: BTreeSet<_> = [ParticipantId(0)].into();
        assert_eq!(
            choose_signers(ParticipantId(1), &one_alive, &net.participants, 3, 0),
            None
        );
    }
}
