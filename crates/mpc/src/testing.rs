//! Helpers the ECDSA and FROST tests share.

use rand_core::{OsRng, RngCore};
use std::collections::BTreeSet;

use crate::runner::{Faults, Tamper};
use crate::{InstanceId, Participant};

pub(crate) fn range(n: u32) -> Vec<Participant> {
    (0..n).map(Participant).collect()
}

pub(crate) fn ids(list: &[u32]) -> Vec<Participant> {
    list.iter().copied().map(Participant).collect()
}

pub(crate) fn fresh_id() -> InstanceId {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    InstanceId(b)
}

/// Duplicates, reorders and delays, but loses nothing.
pub(crate) fn hostile(seed: u64) -> Faults {
    Faults {
        seed,
        duplicate: 0.3,
        reorder: true,
        max_delay: 3,
        ..Faults::default()
    }
}

/// Changes the last byte of the first message `culprit` sends to each peer.
pub(crate) fn tamper_first_from(culprit: Participant) -> Tamper<'static> {
    let mut done = BTreeSet::new();
    Box::new(move |from, to, bytes| {
        if from == culprit && done.insert(to) {
            *bytes.last_mut().unwrap() ^= 0x01;
        }
    })
}
