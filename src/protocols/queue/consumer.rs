//! The queue's other processes: consumers, which poll the broker and
//! process what it delivers by applying it to the sink; the sink, which
//! applies each message durably (once per key when idempotent); and
//! producers, which send the workload's values.

use super::{AckWhen, Msg, MsgId, Note, QueueNode, QueueOptions, Send, Sent, Stored, Timer};
use super::{BROKER, SINK};
use crate::process::{Ctx, Disk, DiskKey, RequestId, TimerId};
use crate::time::SimDuration;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

type QCtx<'a, 'b> = &'a mut Ctx<'b, QueueNode>;

/// A delivery a consumer holds.
#[derive(Clone, Copy, Debug)]
struct Delivery {
    id: MsgId,
    value: u64,
    receipt: u64,
}

/// A consumer.
#[derive(Debug)]
pub struct Consumer {
    poll_interval: SimDuration,
    processing: SimDuration,
    apply_timeout: SimDuration,
    ack: AckWhen,
    error_rate: f64,
    poison_every: u64,
    /// Deliveries received and not yet processed.
    waiting: VecDeque<Delivery>,
    /// The delivery being processed, and its apply timeout once applying.
    current: Option<(Delivery, Option<TimerId>)>,
}

impl Consumer {
    /// A consumer holding nothing.
    pub fn new(options: &QueueOptions) -> Self {
        Consumer {
            poll_interval: options.poll_interval,
            processing: options.processing,
            apply_timeout: options.visibility_timeout,
            ack: options.ack,
            error_rate: options.error_rate,
            poison_every: options.poison_every,
            waiting: VecDeque::new(),
            current: None,
        }
    }

    /// Polls first at a random point of the interval (consumers out of step).
    pub(super) fn start(&mut self, ctx: QCtx) {
        let first = ctx.rng().between(0, self.poll_interval.as_nanos());
        ctx.set_timer(SimDuration::from_nanos(first), Timer::Poll);
    }

    fn idle(&self) -> bool {
        self.current.is_none() && self.waiting.is_empty()
    }

    pub(super) fn message(&mut self, ctx: QCtx, msg: Msg) {
        match msg {
            Msg::Deliver { id, value, receipt } => {
                if self.ack == AckWhen::Before {
                    ctx.send(BROKER, Msg::Ack { id, receipt });
                }
                self.waiting.push_back(Delivery { id, value, receipt });
                self.next(ctx);
            }
            Msg::Applied { value } => {
                let Some((d, Some(timeout))) = self.current else {
                    return;
                };
                if d.value != value {
                    return;
                }
                ctx.cancel_timer(timeout);
                if self.ack == AckWhen::After {
                    let ack = Msg::Ack {
                        id: d.id,
                        receipt: d.receipt,
                    };
                    ctx.send(BROKER, ack);
                }
                self.current = None;
                self.next(ctx);
            }
            _ => {}
        }
    }

    /// Starts on the next waiting delivery, or asks for one when idle.
    fn next(&mut self, ctx: QCtx) {
        if self.current.is_some() {
            return;
        }
        match self.waiting.pop_front() {
            Some(d) => {
                self.current = Some((d, None));
                ctx.set_timer(self.processing, Timer::Processed);
            }
            None => ctx.send(BROKER, Msg::Receive),
        }
    }

    /// Whether processing `value` fails this time.
    fn fails(&self, ctx: QCtx, value: u64) -> bool {
        let poison = self.poison_every > 0 && value % self.poison_every == 0;
        poison || (self.error_rate > 0.0 && ctx.rng().chance(self.error_rate))
    }

    /// Processing `d` failed: give it back to the broker (unless it was
    /// acknowledged on arrival) and go on.
    fn give_back(&mut self, ctx: QCtx, d: Delivery) {
        if self.ack == AckWhen::After {
            let nack = Msg::Nack {
                id: d.id,
                receipt: d.receipt,
            };
            ctx.send(BROKER, nack);
        }
        self.current = None;
        self.next(ctx);
    }

    pub(super) fn timer(&mut self, ctx: QCtx, timer: Timer) {
        match timer {
            Timer::Poll => {
                if self.idle() {
                    ctx.send(BROKER, Msg::Receive);
                }
                ctx.set_timer(self.poll_interval, Timer::Poll);
            }
            Timer::Processed => {
                if let Some((d, None)) = self.current {
                    if self.fails(ctx, d.value) {
                        return self.give_back(ctx, d);
                    }
                    ctx.send(SINK, Msg::Apply { value: d.value });
                    let value = d.value;
                    let timeout = ctx.set_timer(self.apply_timeout, Timer::ApplyTimeout { value });
                    self.current = Some((d, Some(timeout)));
                }
            }
            // No answer: drop the delivery; the broker delivers it again
            // once its visibility timeout passes.
            Timer::ApplyTimeout { value }
                if self.current.is_some_and(|(d, _)| d.value == value) =>
            {
                self.current = None;
                self.next(ctx);
            }
            _ => {}
        }
    }
}

/// Applied keys on the sink's disk.
const APPLIED: &str = "applied";

/// The sink: the database consumers apply messages to.
#[derive(Debug)]
pub struct Sink {
    idempotent: bool,
    /// Every value applied (durably).
    applied: BTreeSet<u64>,
}

impl Sink {
    /// A sink with nothing loaded (its start reads the disk).
    pub fn new(options: &QueueOptions) -> Self {
        Sink {
            idempotent: options.idempotent,
            applied: BTreeSet::new(),
        }
    }

    pub(super) fn start(&mut self, disk: &Disk<Stored>) {
        self.applied = disk.scan(APPLIED).map(|(k, _)| k).collect();
    }

    pub(super) fn message(&mut self, ctx: QCtx, from: crate::process::NodeId, msg: Msg) {
        let Msg::Apply { value } = msg else {
            return;
        };
        if self.idempotent && self.applied.contains(&value) {
            ctx.note(Note::Deduplicated { value });
        } else {
            // The effect and its key in one durable write.
            self.applied.insert(value);
            ctx.write(DiskKey::new(APPLIED, value), (value, 0));
            ctx.sync();
            ctx.note(Note::Applied { value });
        }
        ctx.send(from, Msg::Applied { value });
    }
}

/// A producer.
#[derive(Debug)]
pub struct Producer {
    give_up: SimDuration,
    session: u64,
    next: u64,
    pending: BTreeMap<u64, (RequestId, TimerId)>,
}

impl Producer {
    /// A producer with nothing pending.
    pub fn new(options: &QueueOptions) -> Self {
        Producer {
            give_up: options.give_up,
            session: 0,
            next: 0,
            pending: BTreeMap::new(),
        }
    }

    pub(super) fn start(&mut self, ctx: QCtx) {
        self.session = ctx.rng().below(1 << 31);
    }

    pub(super) fn send(&mut self, ctx: QCtx, req: RequestId, op: Send) {
        let id = (self.session << 32) | (self.next & 0xffff_ffff);
        self.next += 1;
        let timer = ctx.set_timer(self.give_up, Timer::GiveUp { op: id });
        self.pending.insert(id, (req, timer));
        ctx.send(
            BROKER,
            Msg::Put {
                op: id,
                value: op.value,
            },
        );
    }

    pub(super) fn message(&mut self, ctx: QCtx, msg: Msg) {
        if let Msg::PutOk { op } = msg {
            if let Some((req, timer)) = self.pending.remove(&op) {
                ctx.cancel_timer(timer);
                ctx.reply_ok(req, Sent::Stored);
            }
        }
    }

    /// A send unanswered for `give_up` is forgotten without a reply: it
    /// may or may not be stored, so the engine's `[workload] timeout`
    /// records it as of unknown outcome, never as failed.
    pub(super) fn timer(&mut self, timer: Timer) {
        if let Timer::GiveUp { op } = timer {
            self.pending.remove(&op);
        }
    }
}
