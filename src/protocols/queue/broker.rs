//! The broker: it stores each sent message on disk, delivers ready
//! messages to consumers that poll, hides a delivered message for the
//! visibility timeout, deletes it when acknowledged, makes it ready again
//! when the timeout passes first or the consumer gives it back (a nack),
//! and dead-letters it after `max_deliveries` deliveries.
//!
//! Invariant: a stored message is ready or in flight, never both; what is
//! in flight has exactly one live receipt.

use super::{Msg, MsgId, Note, QueueNode, QueueOptions, Stored, Timer};
use crate::process::{Ctx, Disk, DiskKey, NodeId};
use crate::time::SimDuration;
use std::collections::{BTreeMap, VecDeque};

type BCtx<'a, 'b> = &'a mut Ctx<'b, QueueNode>;

/// Stored messages on disk: (value, deliveries) by message id.
const MESSAGES: &str = "messages";

/// The broker's incarnation counter on disk (key 0).
const META: &str = "meta";

/// How often a broker that does not sync each message flushes its writes.
pub const FLUSH_EVERY: SimDuration = SimDuration::from_millis(200);

/// The broker.
#[derive(Debug)]
pub struct Broker {
    visibility: SimDuration,
    max_deliveries: u32,
    sync: bool,
    /// Ids and receipts: this incarnation's number in the high bits.
    next: u64,
    /// Every stored message: its value and deliveries so far.
    messages: BTreeMap<MsgId, (u64, u32)>,
    /// Ready to deliver, in the order they became ready.
    ready: VecDeque<MsgId>,
    /// Delivered and not yet acknowledged: the live receipt of each.
    in_flight: BTreeMap<MsgId, u64>,
}

impl Broker {
    /// A broker with nothing loaded (its start reads the disk).
    pub fn new(options: &QueueOptions) -> Self {
        Broker {
            visibility: options.visibility_timeout,
            max_deliveries: options.max_deliveries,
            sync: options.sync,
            next: 0,
            messages: BTreeMap::new(),
            ready: VecDeque::new(),
            in_flight: BTreeMap::new(),
        }
    }

    /// At each start: the stored messages, every one ready (what was in
    /// flight before a crash is delivered again).
    pub(super) fn start(&mut self, ctx: BCtx, disk: &Disk<Stored>) {
        // Counted on disk, so no two incarnations share ids: a new id can
        // never overwrite a message stored by an earlier one.
        let incarnation = disk.get(DiskKey::new(META, 0)).map_or(0, |m| m.0) + 1;
        ctx.write(DiskKey::new(META, 0), (incarnation, 0));
        ctx.sync();
        self.next = incarnation << 32;
        self.messages = disk.scan(MESSAGES).map(|(id, &m)| (id, m)).collect();
        self.ready = self.messages.keys().copied().collect();
        self.in_flight.clear();
        if !self.sync {
            ctx.set_timer(FLUSH_EVERY, Timer::Flush);
        }
    }

    fn fresh(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    pub(super) fn message(&mut self, ctx: BCtx, from: NodeId, msg: Msg) {
        match msg {
            Msg::Put { op, value } => {
                let id = self.fresh();
                self.messages.insert(id, (value, 0));
                self.ready.push_back(id);
                ctx.write(DiskKey::new(MESSAGES, id), (value, 0));
                if self.sync {
                    ctx.sync();
                }
                ctx.send(from, Msg::PutOk { op });
            }
            Msg::Receive => {
                let answer = self.deliver(ctx).unwrap_or(Msg::Empty);
                ctx.send(from, answer);
            }
            Msg::Nack { id, receipt } if self.in_flight.get(&id) == Some(&receipt) => {
                self.in_flight.remove(&id);
                self.ready.push_back(id);
            }
            Msg::Ack { id, receipt } if self.in_flight.get(&id) == Some(&receipt) => {
                self.in_flight.remove(&id);
                self.messages.remove(&id);
                ctx.delete(DiskKey::new(MESSAGES, id));
                if self.sync {
                    ctx.sync();
                }
            }
            _ => {}
        }
        self.assert_consistent();
    }

    /// The next ready message, delivered (dead-lettering on the way those
    /// delivered `max_deliveries` times already); `None` if none is ready.
    fn deliver(&mut self, ctx: BCtx) -> Option<Msg> {
        while let Some(id) = self.ready.pop_front() {
            let Some(&(value, deliveries)) = self.messages.get(&id) else {
                continue;
            };
            if self.max_deliveries > 0 && deliveries >= self.max_deliveries {
                self.dead_letter(ctx, id, value);
                continue;
            }
            let delivery = deliveries + 1;
            self.messages.insert(id, (value, delivery));
            ctx.write(DiskKey::new(MESSAGES, id), (value, delivery));
            let receipt = self.fresh();
            self.in_flight.insert(id, receipt);
            ctx.set_timer(self.visibility, Timer::Visible { id, receipt });
            ctx.note(Note::Delivered { value, delivery });
            return Some(Msg::Deliver { id, value, receipt });
        }
        None
    }

    fn dead_letter(&mut self, ctx: BCtx, id: MsgId, value: u64) {
        self.messages.remove(&id);
        ctx.delete(DiskKey::new(MESSAGES, id));
        ctx.sync();
        ctx.note(Note::DeadLettered { value });
    }

    pub(super) fn timer(&mut self, ctx: BCtx, timer: Timer) {
        match timer {
            Timer::Visible { id, receipt } if self.in_flight.get(&id) == Some(&receipt) => {
                self.in_flight.remove(&id);
                self.ready.push_back(id);
            }
            Timer::Flush => {
                ctx.sync();
                ctx.set_timer(FLUSH_EVERY, Timer::Flush);
            }
            _ => {}
        }
        self.assert_consistent();
    }

    fn assert_consistent(&self) {
        assert!(
            self.in_flight
                .keys()
                .all(|id| self.messages.contains_key(id)),
            "a message in flight that is not stored"
        );
    }

    /// The values of the messages stored (ready or in flight).
    pub fn stored_values(&self) -> impl Iterator<Item = u64> + '_ {
        self.messages.values().map(|&(value, _)| value)
    }
}
