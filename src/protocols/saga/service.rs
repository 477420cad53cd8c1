//! A saga service node: performs steps and compensations on its own state
//! (counters such as stock or balances, and records such as orders).
//!
//! Invariants kept:
//! * Exactly once per idempotency key `(saga, step, kind)`: the first
//!   request decides the answer, which is synced with its effect before it
//!   is sent; a duplicate gets the stored answer and changes nothing.
//! * A compensation that arrives before its step (or for a step that never
//!   took effect) leaves a tombstone: the step, if it arrives later, is
//!   refused, so nothing is ever left uncompensated.
//! * A forward step never takes a counter below zero. With a semantic
//!   lock, a counter with another saga's pending change refuses (retry
//!   later) until that saga is finalized or compensated.
//! * A restart rebuilds the state from the disk alone.

use super::msg::{Action, Kind, Msg, Note, Reply, SagaId, Step, Stored};
use super::{SagaNode, SagaOptions};
use crate::process::{Ctx, Disk, DiskKey, NodeId};
use std::collections::{BTreeMap, BTreeSet};

const IDEM: &str = "idem";
const COUNTER: &str = "counter";
const PENDING: &str = "pending";
const RECORD: &str = "record";

type Key = (SagaId, u32, Kind);

/// A service's state.
#[derive(Debug)]
pub struct Service {
    options: SagaOptions,
    /// Answer and effect per idempotency key.
    idem: BTreeMap<Key, (Reply, bool)>,
    /// The counters written so far; every other key holds its opening value.
    counters: BTreeMap<u64, i64>,
    /// The counters at the start of the run.
    opening: super::Opening,
    /// Semantic locks: saga → the counter it changed and has not finalized.
    pending: BTreeMap<SagaId, u64>,
    /// Live records.
    records: BTreeSet<SagaId>,
}

impl Service {
    /// A fresh service holding its `opening` counters.
    pub fn new(options: SagaOptions, opening: super::Opening) -> Self {
        Service {
            options,
            idem: BTreeMap::new(),
            counters: BTreeMap::new(),
            opening,
            pending: BTreeMap::new(),
            records: BTreeSet::new(),
        }
    }

    /// Rebuilds the state from the disk.
    pub fn start(&mut self, disk: &Disk<Stored>) {
        for (_, r) in disk.scan(IDEM) {
            if let Stored::Idem {
                saga,
                step,
                kind,
                reply,
                effect,
            } = r
            {
                self.idem.insert((*saga, *step, *kind), (*reply, *effect));
            }
        }
        for (key, r) in disk.scan(COUNTER) {
            if let Stored::Counter(v) = r {
                self.counters.insert(key, *v);
            }
        }
        for (saga, r) in disk.scan(PENDING) {
            if let Stored::Pending(key) = r {
                self.pending.insert(saga, *key);
            }
        }
        self.records = disk.scan(RECORD).map(|(saga, _)| saga).collect();
    }

    /// Handles a request from the orchestrator.
    pub fn message(&mut self, ctx: &mut Ctx<'_, SagaNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Request {
                saga,
                step,
                kind,
                what,
            } => {
                let reply = self.request(ctx, (saga, step, kind), what);
                ctx.send(
                    from,
                    Msg::Response {
                        saga,
                        step,
                        kind,
                        reply,
                    },
                );
            }
            Msg::Finalize { saga } => {
                if self.pending.remove(&saga).is_some() {
                    ctx.delete(DiskKey::new(PENDING, saga));
                    ctx.sync();
                }
                ctx.send(from, Msg::Finalized { saga });
            }
            Msg::Response { .. } | Msg::Finalized { .. } => {}
        }
    }

    fn request(&mut self, ctx: &mut Ctx<'_, SagaNode>, key: Key, what: Step) -> Reply {
        if let Some(&(reply, _)) = self.idem.get(&key) {
            return reply;
        }
        if self.unavailable(ctx) {
            return Reply::Retry;
        }
        let (reply, effect) = match key.2 {
            Kind::Do => self.perform(ctx, key, what),
            Kind::Undo => self.undo(ctx, key, what),
        };
        if reply == Reply::Retry {
            return reply;
        }
        self.remember(ctx, key, what, (reply, effect));
        reply
    }

    fn unavailable(&self, ctx: &mut Ctx<'_, SagaNode>) -> bool {
        let o = &self.options;
        let now = ctx.now().as_nanos();
        let down = o.unavailable_service == Some(ctx.me().0)
            && (o.unavailable_from.as_nanos()..o.unavailable_until.as_nanos()).contains(&now);
        down || ctx.rng().chance(o.transient_failure_probability)
    }

    /// The answer and effect of a forward step.
    fn perform(
        &mut self,
        ctx: &mut Ctx<'_, SagaNode>,
        (saga, step, _): Key,
        what: Step,
    ) -> (Reply, bool) {
        if self.idem.contains_key(&(saga, step, Kind::Undo)) {
            return (Reply::Failed, false); // tombstone: compensated before it arrived
        }
        match what.action {
            Action::Check | Action::Notify => (Reply::Done, true),
            Action::Record => {
                self.records.insert(saga);
                ctx.write(DiskKey::new(RECORD, saga), Stored::Record);
                (Reply::Done, true)
            }
            Action::Adjust { key, delta } => self.adjust(ctx, saga, what.name, key, delta),
        }
    }

    fn adjust(
        &mut self,
        ctx: &mut Ctx<'_, SagaNode>,
        saga: SagaId,
        name: &str,
        key: u64,
        delta: i64,
    ) -> (Reply, bool) {
        if self.options.semantic_lock && self.pending.iter().any(|(&s, &k)| k == key && s != saga) {
            return (Reply::Retry, false);
        }
        ctx.note(Note::Read { saga, key });
        let value = self.counter(key);
        let declined =
            name == "charge" && ctx.rng().chance(self.options.payment_failure_probability);
        if value + delta < 0 || declined {
            return (Reply::Failed, false);
        }
        self.set_counter(ctx, key, value + delta);
        if self.options.semantic_lock {
            self.pending.insert(saga, key);
            ctx.write(DiskKey::new(PENDING, saga), Stored::Pending(key));
        }
        (Reply::Done, true)
    }

    fn set_counter(&mut self, ctx: &mut Ctx<'_, SagaNode>, key: u64, value: i64) {
        self.counters.insert(key, value);
        ctx.write(DiskKey::new(COUNTER, key), Stored::Counter(value));
    }

    /// A compensation: undo the step if it took effect, else leave a tombstone.
    fn undo(
        &mut self,
        ctx: &mut Ctx<'_, SagaNode>,
        (saga, step, _): Key,
        what: Step,
    ) -> (Reply, bool) {
        let done = self
            .idem
            .get(&(saga, step, Kind::Do))
            .is_some_and(|&(_, effect)| effect);
        if !done {
            return (Reply::Done, false); // a tombstone (noted once synced)
        }
        match what.action {
            Action::Adjust { key, delta } => {
                let value = self.counter(key);
                self.set_counter(ctx, key, value - delta);
                if self.pending.remove(&saga).is_some() {
                    ctx.delete(DiskKey::new(PENDING, saga));
                }
            }
            Action::Record => {
                self.records.remove(&saga);
                ctx.delete(DiskKey::new(RECORD, saga));
            }
            Action::Check | Action::Notify => {}
        }
        (Reply::Done, true)
    }

    /// Syncs the answer with its effect, then notes the effect (a step
    /// done, undone, or a tombstone): only what a sync made durable.
    fn remember(
        &mut self,
        ctx: &mut Ctx<'_, SagaNode>,
        key: Key,
        what: Step,
        (reply, effect): (Reply, bool),
    ) {
        let (saga, step, kind) = key;
        let index = self.idem.len() as u64;
        self.idem.insert(key, (reply, effect));
        ctx.write(
            DiskKey::new(IDEM, index),
            Stored::Idem {
                saga,
                step,
                kind,
                reply,
                effect,
            },
        );
        ctx.sync();
        if kind == Kind::Undo {
            ctx.note(match effect {
                true => Note::Undone { saga, step },
                false => Note::Tombstone { saga, step },
            });
        }
        if kind == Kind::Do && effect {
            let (key, delta) = match what.action {
                Action::Adjust { key, delta } => (Some(key), delta),
                _ => (None, 0),
            };
            ctx.note(Note::Effect {
                saga,
                step,
                key,
                delta,
            });
        }
    }

    /// The counter `key` now.
    pub fn counter(&self, key: u64) -> i64 {
        self.counters
            .get(&key)
            .copied()
            .unwrap_or_else(|| self.opening.of(key))
    }

    /// The counters written so far (every other key holds its opening value).
    pub fn written(&self) -> &BTreeMap<u64, i64> {
        &self.counters
    }

    /// The counters at the start of the run.
    pub fn opening(&self) -> &super::Opening {
        &self.opening
    }
}
