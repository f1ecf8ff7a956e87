//! The stockpile: the precomputed items this node holds for the current epoch, and every rule
//! about choosing, claiming and spending them (docs/design.md §5).
//!
//! - **What a domain stocks** is its [`Recipe`], stated once: ECDSA makes Beaver triples in
//!   pairs and turns two of one set into a presignature; V2Secp256k1 makes presignatures
//!   directly among `2t − 1`; FROST domains make nonce commitments.
//! - **Spending** goes through [`Stockpile::take_owned`] (the owner, leading a signature or a
//!   presignature) and [`Stockpile::claim`] (a follower, for the item the owner names). Both
//!   end in [`Store::take_item`], which removes the item and records it consumed in one
//!   durable transaction before the secret is returned: the single-use rule lives there.
//! - **An index in memory** holds every stocked item's public tag (never a secret), loaded
//!   from the store on first use and kept in step with every put and take made through here,
//!   so that choosing an item costs a map walk, not a database scan and a decode per item.
//!   An item the index picks is removed from it first, so two signatures this node leads at
//!   once never race for the same item.
//! - **Permits and counts**: what this node starts holds one `n`-th of its own permits; what
//!   each peer starts here holds one of that peer's ([`PeerPermits`]). Items being made are
//!   counted in flight, per domain and kind, so that a refill does not start what is already
//!   coming; and while several domains lack items, each may hold at most its share of the
//!   permits ([`share_of`]), so that a slow domain (OT triples) never holds the slots a fast
//!   one needs. A domain alone in need may use them all; while a domain is *starving*
//!   (requests this node should lead wait for its items), only starving domains start — after
//!   an epoch switch every domain refills at once, and equal shares left a loaded domain a
//!   sixth of the slots and less of the CPU for minutes while the OT triples refilled
//!   (docs/design.md §8.5).

use primitives::{DomainId, ParticipantId};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};

use super::protocols::{Item, Ready, Secret};
use super::{lock, ClaimError, JobError};
use crate::keys::DomainKey;
use crate::store::{ItemId, ItemTag, Kind, NextEpoch, Store, StoreError, Switched};

/// How a domain's signatures get the items they spend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Recipe {
    /// ECDSA (OT-based): triples in pairs, then a presignature from two triples of one set.
    TriplesThenPresign,
    /// V2Secp256k1: a presignature straight from the key shares, among `2t − 1`.
    FastPresign,
    /// FROST (Ed25519, BIP-340): nonce commitments.
    Nonces,
}

impl Recipe {
    pub fn of(key: &DomainKey) -> Self {
        match key {
            DomainKey::Ecdsa(_) => Self::TriplesThenPresign,
            DomainKey::V2Ecdsa(_) => Self::FastPresign,
            DomainKey::Ed25519(_) | DomainKey::Bip340(_) => Self::Nonces,
        }
    }

    /// How many items a signature spends this node keeps ready.
    pub fn target(self, settings: &super::Settings) -> usize {
        match self {
            Self::TriplesThenPresign | Self::FastPresign => settings.presignatures,
            Self::Nonces => settings.nonces,
        }
    }

    /// The task that makes one item a signature spends, for the recipes that make it in one
    /// instance (`None` for triples then presignature, which takes two steps).
    pub fn one_step(self, task: super::task::ItemTask) -> Option<super::task::StockTask> {
        use super::task::StockTask;
        match self {
            Self::TriplesThenPresign => None,
            Self::FastPresign => Some(StockTask::FastPresign(task)),
            Self::Nonces => Some(StockTask::Nonces(task)),
        }
    }

    /// The kind of item a signature spends.
    pub fn spends(self) -> Kind {
        match self {
            Self::TriplesThenPresign | Self::FastPresign => Kind::Presignature,
            Self::Nonces => Kind::Nonces,
        }
    }
}

/// Whether every member of `set` but `me` is alive.
pub(crate) fn set_alive(
    set: &[ParticipantId],
    me: ParticipantId,
    alive: &BTreeSet<ParticipantId>,
) -> bool {
    set.iter().all(|p| *p == me || alive.contains(p))
}

/// Which of a node's own items are usable now: of the epoch, owned by `me`, with every other
/// member of their set alive.
#[derive(Clone, Copy)]
pub(crate) struct Usable<'a> {
    pub me: ParticipantId,
    pub epoch: u64,
    pub alive: &'a BTreeSet<ParticipantId>,
}

impl Usable<'_> {
    fn admits(&self, tag: &ItemTag) -> bool {
        tag.owner == self.me
            && tag.epoch == self.epoch
            && set_alive(&tag.participants, self.me, self.alive)
    }
}

/// Two usable triples of one set (the first such set in order), for a presignature.
pub(crate) fn find_triple_pair(
    items: &BTreeMap<ItemId, ItemTag>,
    usable: Usable<'_>,
) -> Option<(Vec<ParticipantId>, [ItemId; 2])> {
    let mut by_set: BTreeMap<&[ParticipantId], Vec<ItemId>> = BTreeMap::new();
    for (id, tag) in items.iter().filter(|(_, t)| usable.admits(t)) {
        by_set.entry(&tag.participants).or_default().push(*id);
    }
    let (set, ids) = by_set.into_iter().find(|(_, ids)| ids.len() >= 2)?;
    Some((set.to_vec(), [ids[0], ids[1]]))
}

/// The tags of stocked items, per kind and domain; a kind and domain is present once loaded.
#[derive(Default)]
struct Index(HashMap<(Kind, DomainId), BTreeMap<ItemId, ItemTag>>);

/// How many instances one domain may run of a node's own: its share of `slots`, at least one.
pub(crate) fn fair_share(slots: usize, domains: usize) -> usize {
    (slots / domains.max(1)).max(1)
}

/// How many of a node's own `slots` `domain` may hold, among the domains `wanting` items and
/// those `starving` (requests wait for their items). With none starving, an even share among
/// those wanting (at least one each); otherwise the starving ones share them all (at least one
/// each) and the others start nothing new until no request waits. CPU, not slots, is what a
/// refill runs short of: one OT triple slot per node kept two cores busy while V2Secp256k1
/// requests waited for presignatures that cost a few milliseconds each.
pub(crate) fn share_of(
    slots: usize,
    domain: DomainId,
    wanting: &BTreeSet<DomainId>,
    starving: &BTreeSet<DomainId>,
) -> usize {
    let urgent = |d: &DomainId| wanting.contains(d) && starving.contains(d);
    let urgent_count = wanting.iter().filter(|d| urgent(d)).count();
    if urgent_count == 0 {
        return fair_share(slots, wanting.len());
    }
    if !urgent(&domain) {
        return 0;
    }
    fair_share(slots, urgent_count)
}

/// Decoded items kept in memory at most: above the stock any honest network asks for, so that
/// a peer starting items without end costs this node no more memory than this.
const MAX_READY: usize = 4096;

/// How long a follower waits for its own copy of an item the owner names: the owner may
/// store its copy, and move on to use it, a moment before this node has stored its own.
const ITEM_GRACE: Duration = Duration::from_secs(2);

/// Precomputed items, their permits and their counts (see the module docs).
pub(crate) struct Stockpile {
    store: Arc<Store>,
    index: Mutex<Index>,
    /// Items a signature spends, decoded, by id (see [`Ready`]): at most [`MAX_READY`].
    ready: Mutex<HashMap<ItemId, Ready>>,
    /// Bumped at every item stored: followers waiting for their copy look again.
    stocked: watch::Sender<u64>,
    in_flight: Mutex<HashMap<(DomainId, Kind), usize>>,
    /// Instances this node started and runs, per domain.
    running: Mutex<HashMap<DomainId, usize>>,
    /// The domains whose stock lacks items now.
    wanting: Mutex<BTreeSet<DomainId>>,
    /// The domains with requests this node should lead waiting for an item (the last leading
    /// pass's view): their refill comes first.
    starving: Mutex<BTreeSet<DomainId>>,
    own_permits: Arc<Semaphore>,
    max: usize,
    peer_permits: PeerPermits,
    wake: Notify,
}

/// A precomputation this node started: its permit, its domain's running count and its items
/// in flight, all given back (and the refill loop woken) when it ends.
pub(crate) struct OwnStart {
    stockpile: Arc<Stockpile>,
    domain: DomainId,
    made: (Kind, usize),
    _permit: OwnedSemaphorePermit,
}

impl Drop for OwnStart {
    fn drop(&mut self) {
        let s = &self.stockpile;
        if let Some(c) = lock(&s.running).get_mut(&self.domain) {
            *c = c.saturating_sub(1);
        }
        if let Some(c) = lock(&s.in_flight).get_mut(&(self.domain, self.made.0)) {
            *c = c.saturating_sub(self.made.1);
        }
        s.wake.notify_one();
    }
}

impl Stockpile {
    pub fn new(store: Arc<Store>, max_concurrent_protocols: usize) -> Self {
        let max = max_concurrent_protocols.max(1);
        Self {
            store,
            index: Mutex::new(Index::default()),
            ready: Mutex::new(HashMap::new()),
            stocked: watch::channel(0).0,
            in_flight: Mutex::new(HashMap::new()),
            running: Mutex::new(HashMap::new()),
            wanting: Mutex::new(BTreeSet::new()),
            starving: Mutex::new(BTreeSet::new()),
            own_permits: Arc::new(Semaphore::new(max)),
            max,
            peer_permits: PeerPermits::for_max(max_concurrent_protocols),
            wake: Notify::new(),
        }
    }

    /// Runs `f` on the index of one kind and domain, loading it from the store first if
    /// needed (under the lock, so that no put or take slips between the read and the load).
    fn with_index<T>(
        &self,
        kind: Kind,
        domain: DomainId,
        f: impl FnOnce(&mut BTreeMap<ItemId, ItemTag>) -> T,
    ) -> Result<T, StoreError> {
        let mut index = lock(&self.index);
        let items = match index.0.entry((kind, domain)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(self.store.items(kind, domain)?.into_iter().collect())
            }
        };
        Ok(f(items))
    }

    /// Reads the index of one kind and domain.
    pub fn peek<T>(
        &self,
        kind: Kind,
        domain: DomainId,
        f: impl FnOnce(&BTreeMap<ItemId, ItemTag>) -> T,
    ) -> Result<T, StoreError> {
        self.with_index(kind, domain, |items| f(items))
    }

    /// How many of `kind` this node owns in `domain` and could spend now.
    pub fn usable(
        &self,
        kind: Kind,
        domain: DomainId,
        usable: Usable<'_>,
    ) -> Result<usize, StoreError> {
        self.with_index(kind, domain, |items| {
            items.values().filter(|tag| usable.admits(tag)).count()
        })
    }

    /// Changes whenever an item is stocked: the leading loop wakes on it, so a request waiting
    /// for an item gets the next one as soon as it is made.
    pub fn stocked(&self) -> watch::Receiver<u64> {
        self.stocked.subscribe()
    }

    /// Stocks an item this node helped make.
    pub fn put(
        &self,
        kind: Kind,
        domain: DomainId,
        id: &ItemId,
        tag: &ItemTag,
        item: Item,
    ) -> Result<(), StoreError> {
        self.store.put_item(kind, domain, id, tag, &item.bytes)?;
        if let Some(ready) = item.ready {
            let mut cache = lock(&self.ready);
            if cache.len() < MAX_READY {
                cache.insert(*id, ready);
            }
        }
        let mut index = lock(&self.index);
        if let Some(items) = index.0.get_mut(&(kind, domain)) {
            items.insert(*id, tag.clone());
        }
        drop(index);
        self.stocked.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }

    /// Takes one usable item of this node's, whose set is not in `avoid`, consumed durably:
    /// its id, its set and its secret. `None` if there is none.
    pub fn take_owned(
        &self,
        kind: Kind,
        domain: DomainId,
        usable: Usable<'_>,
        avoid: &[Vec<ParticipantId>],
    ) -> Result<Option<(ItemId, Vec<ParticipantId>, Item)>, JobError> {
        loop {
            let pick = self.with_index(kind, domain, |items| {
                let id = items
                    .iter()
                    .find(|(_, t)| usable.admits(t) && !avoid.contains(&t.participants))
                    .map(|(id, _)| *id)?;
                items.remove(&id).map(|tag| (id, tag))
            })?;
            let Some((id, tag)) = pick else {
                return Ok(None);
            };
            match self.take(kind, domain, &id) {
                Ok(secret) => return Ok(Some((id, tag.participants, secret))),
                // Gone from the store under the index (a bug elsewhere, or a restored
                // backup): never usable, so try the next.
                Err(StoreError::AlreadyConsumed(_) | StoreError::Missing(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Takes two triples of one live set this node owns, for a presignature.
    pub fn take_triple_pair(
        &self,
        domain: DomainId,
        usable: Usable<'_>,
    ) -> Result<Option<TriplePair>, JobError> {
        let pick = self.with_index(Kind::Triple, domain, |items| {
            let (set, ids) = find_triple_pair(items, usable)?;
            for id in &ids {
                items.remove(id);
            }
            Some((set, ids))
        })?;
        let Some((set, ids)) = pick else {
            return Ok(None);
        };
        // Should the second take fail, the first triple is spent for nothing and the second
        // stays in the store unlisted until the index reloads: lost, never reused.
        let a = self.take(Kind::Triple, domain, &ids[0])?;
        let b = self.take(Kind::Triple, domain, &ids[1])?;
        Ok(Some(TriplePair {
            set,
            ids,
            secrets: (a.bytes, b.bytes),
        }))
    }

    /// The follower's check before spending: the item `owner` names is in this node's stock
    /// as `owner`'s, made by `set` in `epoch` (waiting briefly for this node's own copy to be
    /// stored: the owner may have stored its own a moment earlier).
    pub async fn check_claim(
        &self,
        kind: Kind,
        domain: DomainId,
        id: &ItemId,
        owner: ParticipantId,
        set: &[ParticipantId],
        epoch: u64,
    ) -> Result<(), JobError> {
        let claim = |why| JobError::Claim {
            kind,
            item: mpc::InstanceId(*id),
            why,
        };
        let mut stocked = self.stocked.subscribe();
        let until = tokio::time::Instant::now() + ITEM_GRACE;
        let tag = loop {
            stocked.borrow_and_update();
            if let Some(tag) = self.with_index(kind, domain, |items| items.get(id).cloned())? {
                break tag;
            }
            if self.store.is_consumed(id)? {
                return Err(claim(ClaimError::Spent));
            }
            match tokio::time::timeout_at(until, stocked.changed()).await {
                Ok(Ok(())) => {}
                _ => return Err(claim(ClaimError::NotInStock)),
            }
        };
        if tag.owner != owner || tag.participants != set || tag.epoch != epoch {
            return Err(claim(ClaimError::NotOwners));
        }
        Ok(())
    }

    /// Takes an item [`Stockpile::check_claim`] accepted.
    pub fn take_claimed(
        &self,
        kind: Kind,
        domain: DomainId,
        id: &ItemId,
    ) -> Result<Item, JobError> {
        Ok(self.take(kind, domain, id)?)
    }

    /// The one way out of stock: durable in the store, then gone from the index and the
    /// cache of decoded items (handed over with the bytes only once the take is durable).
    fn take(&self, kind: Kind, domain: DomainId, id: &ItemId) -> Result<Item, StoreError> {
        let result = self.store.take_item(kind, domain, id);
        if let Some(items) = lock(&self.index).0.get_mut(&(kind, domain)) {
            items.remove(id);
        }
        let ready = lock(&self.ready).remove(id);
        self.wake.notify_one();
        let (_, bytes) = result?;
        Ok(Item { bytes, ready })
    }

    /// Switches the stock to `epoch`, keeping what `next` allows (see
    /// [`Store::switch_stock_epoch`]); the index reloads from the store.
    pub fn switch_epoch(
        &self,
        epoch: u64,
        next: Option<&NextEpoch>,
    ) -> Result<Switched, StoreError> {
        let mut index = lock(&self.index);
        let dropped = self.store.switch_stock_epoch(epoch, next);
        index.0.clear();
        // Decoded items go too (a carried triple's tag changed); those of `epoch` are rebuilt
        // on a restart anyway, so a clean slate costs one decode each at most.
        lock(&self.ready).clear();
        dropped
    }

    /// Items of `kind` in `domain` being made now.
    pub fn in_flight(&self, domain: DomainId, kind: Kind) -> usize {
        lock(&self.in_flight)
            .get(&(domain, kind))
            .copied()
            .unwrap_or(0)
    }

    /// Records whether `domain` lacks items now: the permits are shared fairly among the
    /// domains that do.
    pub fn wants(&self, domain: DomainId, short: bool) {
        let mut wanting = lock(&self.wanting);
        if short {
            wanting.insert(domain);
        } else {
            wanting.remove(&domain);
        }
    }

    /// Records the domains whose requests wait for an item this node lacks (from a leading
    /// pass); a change wakes the refill loop, so that their refill starts at once.
    pub fn starving(&self, domains: BTreeSet<DomainId>) {
        let mut starving = lock(&self.starving);
        if *starving != domains {
            *starving = domains;
            drop(starving);
            self.wake.notify_one();
        }
    }

    /// A start of this node's own for `domain`, making `made.1` items of kind `made.0`: if a
    /// permit is free (one `n`-th of `max_concurrent_protocols`, `n` the network's size) and
    /// the domain is within its share of them ([`share_of`]).
    pub fn start_own(
        self: &Arc<Self>,
        domain: DomainId,
        made: (Kind, usize),
        n: usize,
    ) -> Option<OwnStart> {
        let s = self;
        let weight = n.clamp(1, s.max);
        let mut wanting = lock(&s.wanting).clone();
        wanting.insert(domain);
        let share = share_of(s.max / weight, domain, &wanting, &lock(&s.starving));
        let mut running = lock(&s.running);
        let mine = running.entry(domain).or_default();
        if *mine >= share {
            return None;
        }
        let permit = take_share(&s.own_permits, s.max, n)?;
        *mine += 1;
        *lock(&s.in_flight).entry((domain, made.0)).or_default() += made.1;
        Some(OwnStart {
            stockpile: self.clone(),
            domain,
            made,
            _permit: permit,
        })
    }

    /// Waits for one of `peer`'s permits, for a precomputation it started here.
    pub async fn peer_permit(&self, peer: ParticipantId) -> Result<OwnedSemaphorePermit, JobError> {
        self.peer_permits.acquire(peer).await
    }

    /// Resolves when an item was spent or a precomputation ended.
    pub async fn woken(&self) {
        self.wake.notified().await
    }
}

/// Two triples of one set, taken for a presignature.
pub(crate) struct TriplePair {
    pub set: Vec<ParticipantId>,
    pub ids: [ItemId; 2],
    pub secrets: (Secret, Secret),
}

/// One `n`-th of `permits` (which hold `max`, at least 1): at most `max / n` at once, and
/// always at least one.
fn take_share(permits: &Arc<Semaphore>, max: usize, n: usize) -> Option<OwnedSemaphorePermit> {
    let weight = u32::try_from(n.clamp(1, max.max(1))).unwrap_or(u32::MAX);
    permits.clone().try_acquire_many_owned(weight).ok()
}

/// Permits for the precomputations peers start here: per peer, half of
/// `max_concurrent_protocols`, at least what a node of a network of two or more starts of its
/// own at once (`max / n`, see [`Stockpile::start_own`]).
///
/// One pool shared by all peers can deadlock a network: every slot of node A held by
/// instances that wait for node B, every slot of B by instances that wait for A. Per peer, an
/// honest leader never waits for a slot (it runs no more than it has permits for), so no such
/// circle forms, while a hostile one is still held to its share.
pub(crate) struct PeerPermits {
    pub(crate) each: usize,
    by_peer: Mutex<BTreeMap<ParticipantId, Arc<Semaphore>>>,
}

impl PeerPermits {
    /// Pools for a node whose `max_concurrent_protocols` is `max`.
    pub(crate) fn for_max(max: usize) -> Self {
        Self {
            each: (max / 2).max(1),
            by_peer: Mutex::new(BTreeMap::new()),
        }
    }

    /// Waits for one of `peer`'s permits.
    pub async fn acquire(&self, peer: ParticipantId) -> Result<OwnedSemaphorePermit, JobError> {
        let pool = lock(&self.by_peer)
            .entry(peer)
            .or_insert_with(|| Arc::new(Semaphore::new(self.each)))
            .clone();
        pool.acquire_owned()
            .await
            .map_err(|_| JobError::ShuttingDown)
    }
}

#[cfg(test)]
mod tests;
