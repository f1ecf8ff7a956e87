//! The marketplace's rules, with no NEAR in them: who owns which derived path, offers to swap
//! one path for another, their atomic acceptance, and when a path may be signed for.
//!
//! A path here is a derivation path of the signer contract, requested by the marketplace's
//! account: its key is derived from (marketplace account, path), so only the marketplace can
//! have it sign, and it does so only for the path's current owner. Owning a path thus means
//! controlling whatever its addresses hold on any chain (a Bitcoin UTXO, an Ethereum balance):
//! swapping owners trades those assets without a transaction on either chain.
//!
//! Rules:
//! - anyone claims an unclaimed path and becomes its owner (paths are never released);
//! - an owner offers its path `give` for another account's path `want`; while the offer is
//!   open, `give` is locked: nobody can have it signed for, offer it again, or trade it away —
//!   otherwise the seller could move the assets out right up to the swap;
//! - a path with signature requests in flight cannot be offered or given in an acceptance
//!   either (a signature requested before the swap would reach its old owner after it);
//! - the owner of `want` accepts: both owners change at once, and only if both paths are
//!   still owned as the offer says (`give` by the seller and locked by this offer, `want` by
//!   the acceptor, unlocked, nothing in flight), else the acceptance is refused;
//! - the seller may withdraw an open offer, which unlocks `give`.
//!
//! Caveats: the marketplace cannot see the foreign chains. It guarantees who can get *new*
//! signatures, not what the addresses hold: a signature obtained before an offer (even long
//! before) can still be broadcast after the swap, and nothing checks that the addresses hold
//! what a seller claims. A buyer must look at the chains (a spend signed earlier would spend
//! the same UTXO, or use the same Ethereum nonce, as anything it does later) — or a real
//! marketplace would prove balances on-chain (a light client or an oracle) and escrow them
//! for some blocks before an offer opens. State is kept whole (fine for an example; a
//! marketplace at scale would keep each claim under its own storage key and charge storage).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The longest path the signer contract accepts (its `max_path_len`).
pub const MAX_PATH_LEN: usize = 256;
/// Signature requests one path may have in flight at once.
pub const MAX_SIGNING: u32 = 16;
/// An `Ecdsa` payload is a 32-byte hash; an `Eddsa` one the message, 32 to 1232 bytes (the
/// signer contract's bounds, checked here so that a bad request is refused with a clear
/// message before anything is forwarded).
pub const ECDSA_PAYLOAD_LEN: usize = 32;
pub const EDDSA_PAYLOAD_LEN: std::ops::RangeInclusive<usize> = 32..=1232;

/// Who owns a path, and what holds it.
#[derive(BorshSerialize, BorshDeserialize, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub owner: String,
    /// The open offer that gives this path away, if any: no signatures while it is open.
    pub offer: Option<u64>,
    /// Signature requests forwarded for this path and not answered yet.
    pub signing: u32,
}

/// An open offer: `seller` gives path `give` for path `want`.
#[derive(BorshSerialize, BorshDeserialize, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub id: u64,
    pub seller: String,
    pub give: String,
    pub want: String,
}

/// Why the marketplace refuses a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarketError {
    #[error("a path must be 1 to {MAX_PATH_LEN} bytes, not {0}")]
    PathLength(usize),
    #[error("path {path:?} is already claimed by {owner}")]
    Claimed { path: String, owner: String },
    #[error("path {0:?} is not claimed")]
    Unclaimed(String),
    #[error("{caller} does not own path {path:?}; {owner} does")]
    NotOwner {
        caller: String,
        path: String,
        owner: String,
    },
    #[error("path {path:?} is offered in offer {offer}: it is locked until the offer is withdrawn or accepted")]
    Locked { path: String, offer: u64 },
    #[error("path {path:?} has {count} signature request(s) in flight; try again once they are answered")]
    Signing { path: String, count: u32 },
    #[error("path {path:?} already has {MAX_SIGNING} signature requests in flight")]
    TooManySignings { path: String },
    #[error("an offer must want another path than the one it gives ({0:?})")]
    SamePath(String),
    #[error("{caller} already owns path {path:?}")]
    WantsOwn { caller: String, path: String },
    #[error("there is no open offer {0}")]
    NoOffer(u64),
    #[error("only the seller {seller} may withdraw offer {id}")]
    NotSeller { id: u64, seller: String },
    #[error("offer {0} is the caller's own")]
    OwnOffer(u64),
    #[error("offer {id} no longer holds: {reason}")]
    Stale { id: u64, reason: String },
    #[error("an {scheme} payload must be {expected} bytes, not {len}")]
    PayloadLength {
        scheme: &'static str,
        expected: String,
        len: usize,
    },
    #[error("the payload is not hex: {0}")]
    PayloadHex(String),
}

/// The marketplace's whole state.
#[derive(BorshSerialize, BorshDeserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct Market {
    claims: BTreeMap<String, Claim>,
    offers: BTreeMap<u64, Offer>,
    next_offer: u64,
}

fn check_path(path: &str) -> Result<(), MarketError> {
    if path.is_empty() || path.len() > MAX_PATH_LEN {
        return Err(MarketError::PathLength(path.len()));
    }
    Ok(())
}

impl Market {
    pub fn claim_of(&self, path: &str) -> Option<&Claim> {
        self.claims.get(path)
    }

    pub fn offer(&self, id: u64) -> Option<&Offer> {
        self.offers.get(&id)
    }

    /// The open offers, oldest first.
    pub fn offers(&self) -> impl Iterator<Item = &Offer> {
        self.offers.values()
    }

    /// The paths `owner` owns.
    pub fn paths_of<'a>(&'a self, owner: &'a str) -> impl Iterator<Item = &'a str> {
        self.claims
            .iter()
            .filter(move |(_, c)| c.owner == owner)
            .map(|(p, _)| p.as_str())
    }

    /// The claim of `path` if `caller` owns it.
    fn owned(&self, caller: &str, path: &str) -> Result<&Claim, MarketError> {
        let claim = self
            .claims
            .get(path)
            .ok_or_else(|| MarketError::Unclaimed(path.to_owned()))?;
        if claim.owner != caller {
            return Err(MarketError::NotOwner {
                caller: caller.to_owned(),
                path: path.to_owned(),
                owner: claim.owner.clone(),
            });
        }
        Ok(claim)
    }

    /// `caller`'s path, free to change hands: not offered, nothing in flight.
    fn tradable(&self, caller: &str, path: &str) -> Result<&Claim, MarketError> {
        let claim = self.owned(caller, path)?;
        if let Some(offer) = claim.offer {
            return Err(MarketError::Locked {
                path: path.to_owned(),
                offer,
            });
        }
        if claim.signing > 0 {
            return Err(MarketError::Signing {
                path: path.to_owned(),
                count: claim.signing,
            });
        }
        Ok(claim)
    }

    fn claim_mut(&mut self, path: &str) -> &mut Claim {
        self.claims.get_mut(path).expect("checked to exist")
    }

    /// `caller` becomes the owner of the unclaimed `path`.
    pub fn claim(&mut self, caller: &str, path: &str) -> Result<(), MarketError> {
        check_path(path)?;
        if let Some(c) = self.claims.get(path) {
            return Err(MarketError::Claimed {
                path: path.to_owned(),
                owner: c.owner.clone(),
            });
        }
        let claim = Claim {
            owner: caller.to_owned(),
            offer: None,
            signing: 0,
        };
        self.claims.insert(path.to_owned(), claim);
        Ok(())
    }

    /// `caller` offers its path `give` for `want` (another account's path); `give` is locked
    /// until the offer is withdrawn or accepted. The offer's id.
    pub fn open_offer(&mut self, caller: &str, give: &str, want: &str) -> Result<u64, MarketError> {
        check_path(give)?;
        check_path(want)?;
        if give == want {
            return Err(MarketError::SamePath(give.to_owned()));
        }
        self.tradable(caller, give)?;
        let wanted = self
            .claims
            .get(want)
            .ok_or_else(|| MarketError::Unclaimed(want.to_owned()))?;
        if wanted.owner == caller {
            return Err(MarketError::WantsOwn {
                caller: caller.to_owned(),
                path: want.to_owned(),
            });
        }
        let id = self.next_offer;
        self.next_offer += 1;
        self.claim_mut(give).offer = Some(id);
        let offer = Offer {
            id,
            seller: caller.to_owned(),
            give: give.to_owned(),
            want: want.to_owned(),
        };
        self.offers.insert(id, offer);
        Ok(id)
    }

    /// The seller takes offer `id` back; its path is unlocked.
    pub fn withdraw(&mut self, caller: &str, id: u64) -> Result<Offer, MarketError> {
        let offer = self.offers.get(&id).ok_or(MarketError::NoOffer(id))?;
        if offer.seller != caller {
            return Err(MarketError::NotSeller {
                id,
                seller: offer.seller.clone(),
            });
        }
        let offer = self.offers.remove(&id).expect("just found");
        self.claim_mut(&offer.give).offer = None;
        Ok(offer)
    }

    /// The owner of the wanted path accepts offer `id`: the two paths change owners at once.
    pub fn accept(&mut self, caller: &str, id: u64) -> Result<Offer, MarketError> {
        let offer = self
            .offers
            .get(&id)
            .ok_or(MarketError::NoOffer(id))?
            .clone();
        if offer.seller == caller {
            return Err(MarketError::OwnOffer(id));
        }
        self.tradable(caller, &offer.want)?;
        // The lock keeps this true; checked anyway, as the swap's one precondition.
        match self.claims.get(&offer.give) {
            Some(c) if c.owner == offer.seller && c.offer == Some(id) && c.signing == 0 => {}
            other => {
                return Err(MarketError::Stale {
                    id,
                    reason: format!("path {:?} is now {other:?}", offer.give),
                })
            }
        }
        self.offers.remove(&id);
        let give = self.claim_mut(&offer.give);
        give.owner = caller.to_owned();
        give.offer = None;
        self.claim_mut(&offer.want).owner = offer.seller.clone();
        Ok(offer)
    }

    /// Before forwarding a signature request for `path`: `caller` must own it and it must not
    /// be offered; it then counts as in flight until [`Market::end_sign`].
    pub fn begin_sign(&mut self, caller: &str, path: &str) -> Result<(), MarketError> {
        let claim = self.owned(caller, path)?;
        if let Some(offer) = claim.offer {
            return Err(MarketError::Locked {
                path: path.to_owned(),
                offer,
            });
        }
        if claim.signing >= MAX_SIGNING {
            return Err(MarketError::TooManySignings {
                path: path.to_owned(),
            });
        }
        self.claim_mut(path).signing += 1;
        Ok(())
    }

    /// A request for `path` was answered (or failed): one fewer in flight.
    pub fn end_sign(&mut self, path: &str) {
        if let Some(c) = self.claims.get_mut(path) {
            c.signing = c.signing.saturating_sub(1);
        }
    }
}

/// Checks a hex payload's length for its form (`Ecdsa` or `Eddsa`).
pub fn check_payload(ecdsa: bool, hex: &str) -> Result<(), MarketError> {
    if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(MarketError::PayloadHex(hex.chars().take(80).collect()));
    }
    let len = hex.len() / 2;
    let (scheme, ok, expected) = if ecdsa {
        (
            "Ecdsa",
            len == ECDSA_PAYLOAD_LEN,
            ECDSA_PAYLOAD_LEN.to_string(),
        )
    } else {
        let r = EDDSA_PAYLOAD_LEN;
        (
            "Eddsa",
            r.contains(&len),
            format!("{} to {}", r.start(), r.end()),
        )
    };
    if !ok {
        return Err(MarketError::PayloadLength {
            scheme,
            expected,
            len,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
