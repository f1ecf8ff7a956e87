//! Group commit for the writes every signature makes: stocking an item and taking one.
//!
//! Each is one small transaction, and a commit's cost is mostly fixed (page writes, and for a
//! take the flush to disk): at 150 signatures/s they were a fifth of a node's CPU. So writers
//! queue their operation; whoever finds no commit under way becomes the committer, runs every
//! queued operation in one transaction (durable if any of them must be), commits, and hands
//! each its own answer. The others wait on a condition variable, on blocking threads (see
//! [`super::blocking`]), and one of them commits the next group.
//!
//! Every operation either writes nothing and says why (already consumed, not in stock, of
//! another epoch …) or writes all it writes, so one refusal never spoils the group. An error
//! of the database itself fails every operation of the group: the transaction is dropped
//! uncommitted, nothing of it is written, and no secret is handed out.

use redb::{Durability, WriteTransaction};
use std::collections::HashMap;
use std::sync::{Condvar, Mutex};
use zeroize::Zeroizing;

use super::{blocking, ItemId, ItemTag, Store, StoreError};

/// One queued write.
pub(super) enum Op {
    /// Stock a sealed item (not durable on its own: see the store's docs).
    Put {
        id: ItemId,
        key: [u8; 41],
        epoch: u64,
        value: Vec<u8>,
    },
    /// Take an item out: durable before its secret is returned.
    Take { id: ItemId, key: [u8; 41] },
}

/// What a write did.
pub(super) enum Done {
    Stocked,
    Taken(ItemTag, Zeroizing<Vec<u8>>),
}

type Answer = Result<Done, StoreError>;

#[derive(Default)]
struct Queue {
    waiting: Vec<(u64, Op)>,
    answers: HashMap<u64, Answer>,
    committing: bool,
    next: u64,
}

#[derive(Default)]
pub(super) struct Batcher {
    queue: Mutex<Queue>,
    answered: Condvar,
}

fn lock(m: &Mutex<Queue>) -> std::sync::MutexGuard<'_, Queue> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The committer's duty, done even if committing panicked: the next group may start, and
/// every writer of this group gets an answer (an error, if it got none), so nobody waits for
/// ever.
struct Committing<'a> {
    batcher: &'a Batcher,
    tickets: Vec<u64>,
    answers: Vec<(u64, Answer)>,
}

impl Drop for Committing<'_> {
    fn drop(&mut self) {
        let mut queue = lock(&self.batcher.queue);
        queue.committing = false;
        queue.answers.extend(self.answers.drain(..));
        for t in &self.tickets {
            queue
                .answers
                .entry(*t)
                .or_insert_with(|| Err(StoreError::Db("the group commit failed".into())));
        }
        self.batcher.answered.notify_all();
    }
}

/// Errors of the database itself, which make a transaction unusable; every other error is a
/// refusal that wrote nothing.
fn spoils_the_group(e: &StoreError) -> bool {
    matches!(e, StoreError::Db(_))
}

fn spoils_the_group_answer(a: &Answer) -> bool {
    a.as_ref().err().is_some_and(spoils_the_group)
}

impl Store {
    /// Runs `op` in the next group transaction and returns once that committed.
    pub(super) fn batched(&self, op: Op) -> Answer {
        blocking(|| {
            let mut queue = lock(&self.batch.queue);
            let ticket = queue.next;
            queue.next += 1;
            queue.waiting.push((ticket, op));
            loop {
                if let Some(answer) = queue.answers.remove(&ticket) {
                    return answer;
                }
                if queue.committing {
                    queue = self
                        .batch
                        .answered
                        .wait(queue)
                        .unwrap_or_else(|e| e.into_inner());
                    continue;
                }
                queue.committing = true;
                let group = std::mem::take(&mut queue.waiting);
                drop(queue);
                let mut committing = Committing {
                    batcher: &self.batch,
                    tickets: group.iter().map(|(t, _)| *t).collect(),
                    answers: Vec::new(),
                };
                committing.answers = self.commit_group(group);
                // A database error fails the whole group; without one, the group committed.
                match committing
                    .answers
                    .iter()
                    .find(|(_, a)| spoils_the_group_answer(a))
                {
                    Some((_, failed)) => self.health.record(failed),
                    None => self.health.record(&Ok::<(), StoreError>(())),
                }
                drop(committing);
                queue = lock(&self.batch.queue);
            }
        })
    }

    fn commit_group(&self, group: Vec<(u64, Op)>) -> Vec<(u64, Answer)> {
        let durable = group.iter().any(|(_, op)| matches!(op, Op::Take { .. }));
        let fail_all = |group: &[u64], e: &StoreError| -> Vec<(u64, Answer)> {
            let message = e.to_string();
            group
                .iter()
                .map(|t| (*t, Err(StoreError::Db(message.clone()))))
                .collect()
        };
        let tickets: Vec<u64> = group.iter().map(|(t, _)| *t).collect();
        let txn = match self.begin(durable) {
            Ok(txn) => txn,
            Err(e) => return fail_all(&tickets, &e),
        };
        let mut answers = Vec::with_capacity(group.len());
        for (ticket, op) in group {
            let answer = match op {
                Op::Put {
                    id,
                    key,
                    epoch,
                    value,
                } => Self::put_in(&txn, &id, &key, epoch, &value).map(|()| Done::Stocked),
                Op::Take { id, key } => self
                    .take_in(&txn, &id, &key)
                    .map(|(tag, secret)| Done::Taken(tag, secret)),
            };
            if let Err(e) = &answer {
                if spoils_the_group(e) {
                    return fail_all(&tickets, e);
                }
            }
            answers.push((ticket, answer));
        }
        match txn.commit() {
            Ok(()) => answers,
            Err(e) => fail_all(&tickets, &StoreError::from(e)),
        }
    }

    fn begin(&self, durable: bool) -> Result<WriteTransaction, StoreError> {
        let mut txn = self.begin_write()?;
        txn.set_durability(if durable {
            Durability::Immediate
        } else {
            Durability::None
        })?;
        Ok(txn)
    }
}
