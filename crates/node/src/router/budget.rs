//! What the router holds on each peer's behalf, in bytes, and the budgets that bound it.
//!
//! Every message a peer sends is charged to that peer in the place it waits: the early buffer
//! (its instance has not started here), a running instance's queue, or the queue of task
//! starts. A charge is taken before the message is kept and given back when the message is
//! taken out of its queue (the [`Charge`] is dropped). A message that would take its sender
//! over the budget of its place is dropped: a peer that floods loses its own messages, never
//! another's, and the memory all peers together can pin here is the sum of their budgets.
//!
//! A charge counts the message's bytes plus [`OVERHEAD`], so that a flood of empty messages
//! is bounded too.

use primitives::ParticipantId;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// What one kept message costs beyond its bytes: its queue slot and sender, and for a message
/// that opens an early buffer the buffer's map entry and expiry mark (together under 256
/// bytes), so that the budget bounds what the message really pins.
pub const OVERHEAD: usize = 256;

/// Where a message waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// For an instance not started here yet.
    Early = 0,
    /// In a running instance's queue.
    Live = 1,
    /// In the queue of task starts.
    Starts = 2,
}

impl Place {
    pub const ALL: [Place; 3] = [Place::Early, Place::Live, Place::Starts];

    pub fn name(self) -> &'static str {
        match self {
            Place::Early => "early",
            Place::Live => "live",
            Place::Starts => "starts",
        }
    }
}

/// Bytes one peer may have waiting here, per place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budgets {
    pub early: usize,
    pub live: usize,
    pub starts: usize,
}

impl Default for Budgets {
    fn default() -> Self {
        // A protocol message is at most 1 MiB (`mpc::MAX_MESSAGE_BYTES`) and usually a few
        // KiB; task starts are under 1 KiB. Each budget holds many times an honest peer's
        // share of the node's concurrent instances.
        Self {
            early: 16 << 20,
            live: 32 << 20,
            starts: 1 << 20,
        }
    }
}

impl Budgets {
    pub fn of(&self, place: Place) -> usize {
        match place {
            Place::Early => self.early,
            Place::Live => self.live,
            Place::Starts => self.starts,
        }
    }
}

#[derive(Default)]
struct Account {
    held: [AtomicUsize; 3],
    dropped: [AtomicU64; 3],
}

/// A peer's bytes in one place, given back when dropped.
pub struct Charge {
    account: Arc<Account>,
    place: Place,
    amount: usize,
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.account.held[self.place as usize].fetch_sub(self.amount, Ordering::AcqRel);
    }
}

impl std::fmt::Debug for Charge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Charge({} bytes, {})", self.amount, self.place.name())
    }
}

/// A peer's standing in one place: bytes waiting now and messages dropped so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Standing {
    pub held: usize,
    pub dropped: u64,
}

/// Every peer's account.
pub struct Ledger {
    budgets: Budgets,
    accounts: Mutex<HashMap<ParticipantId, Arc<Account>>>,
}

impl Ledger {
    pub fn new(budgets: Budgets) -> Self {
        Self {
            budgets,
            accounts: Mutex::default(),
        }
    }

    fn account(&self, peer: ParticipantId) -> Arc<Account> {
        let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(accounts.entry(peer).or_default())
    }

    /// Charges `peer` for keeping `bytes` bytes in `place`; `None` (and the drop counted)
    /// if that would take it over its budget there.
    pub fn charge(&self, peer: ParticipantId, place: Place, bytes: usize) -> Option<Charge> {
        let account = self.account(peer);
        let amount = bytes.saturating_add(OVERHEAD);
        let budget = self.budgets.of(place);
        let held = &account.held[place as usize];
        let fits = held.fetch_update(Ordering::AcqRel, Ordering::Acquire, |h| {
            h.checked_add(amount).filter(|total| *total <= budget)
        });
        if fits.is_err() {
            account.dropped[place as usize].fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(Charge {
            account,
            place,
            amount,
        })
    }

    /// `peer`'s standing in `place`.
    pub fn standing(&self, peer: ParticipantId, place: Place) -> Standing {
        let account = self.account(peer);
        Standing {
            held: account.held[place as usize].load(Ordering::Acquire),
            dropped: account.dropped[place as usize].load(Ordering::Relaxed),
        }
    }

    /// Every peer that has sent anything, and its standing in each place.
    pub fn all(&self) -> Vec<(ParticipantId, [Standing; 3])> {
        let peers: Vec<_> = {
            let accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
            accounts.keys().copied().collect()
        };
        let mut out: Vec<_> = peers
            .into_iter()
            .map(|p| (p, Place::ALL.map(|place| self.standing(p, place))))
            .collect();
        out.sort_by_key(|(p, _)| *p);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_are_bounded_per_peer_and_place_and_given_back() {
        let ledger = Ledger::new(Budgets {
            early: 1000 + OVERHEAD,
            live: 500 + OVERHEAD,
            starts: 100 + OVERHEAD,
        });
        let (a, b) = (ParticipantId(1), ParticipantId(2));
        let first = ledger.charge(a, Place::Early, 800).unwrap();
        assert!(ledger.charge(a, Place::Early, 200).is_none(), "over budget");
        assert!(
            ledger.charge(b, Place::Early, 800).is_some(),
            "another peer's budget"
        );
        assert!(
            ledger.charge(a, Place::Live, 400).is_some(),
            "another place's budget"
        );
        assert_eq!(
            ledger.standing(a, Place::Early),
            Standing {
                held: 800 + OVERHEAD,
                dropped: 1
            }
        );
        drop(first);
        assert_eq!(ledger.standing(a, Place::Early).held, 0);
        assert!(ledger.charge(a, Place::Early, 800).is_some(), "given back");
        assert!(
            ledger.charge(a, Place::Starts, usize::MAX).is_none(),
            "no overflow"
        );
        assert!(
            ledger.charge(a, Place::Starts, 100).is_some(),
            "exactly the budget fits"
        );
    }
}
