//! A producer: it sends each workload value to its partition's leader,
//! retries on a refusal or a timeout (after looking the leader up again)
//! until `give_up`, and answers the workload with the offset the leader
//! acknowledged. With `idempotent_producer` it numbers its sends per
//! partition, and a leader drops a retried send it already has; without,
//! a retry of a send whose acknowledgement was lost appends it twice.
//!
//! A send gives up as failed only when no attempt may have been appended
//! (every one refused before it reached the log); otherwise it is left
//! unanswered, of unknown outcome.

use super::Timer;
use super::{Acks, Layout, LogNode, LogOptions, Msg, Partition, Produce, ProduceError, Produced};
use crate::process::{Ctx, NodeId, RequestId, TimerId};
use crate::time::SimDuration;
use std::collections::BTreeMap;

type PCtx<'a, 'b> = &'a mut Ctx<'b, LogNode>;

/// How long a producer waits before retrying a refused send.
pub const RETRY_BACKOFF: SimDuration = SimDuration::from_millis(20);

/// A send not yet answered.
#[derive(Clone, Copy, Debug)]
struct Pending {
    req: RequestId,
    op: Produce,
    seq: u64,
    /// The event time: when the workload asked for the send (a retry
    /// keeps it).
    time_ns: u64,
    attempt: u32,
    /// An attempt is out, unanswered.
    in_flight: bool,
    /// Some attempt may be in the log (it timed out, or was appended and
    /// then refused).
    maybe_appended: bool,
    give_up: TimerId,
}

/// A producer.
#[derive(Debug)]
pub struct Producer {
    acks: Acks,
    idempotent: bool,
    request_timeout: SimDuration,
    give_up: SimDuration,
    brokers: usize,
    controller: NodeId,
    /// The idempotent producer's id (never 0), and the operation ids' high
    /// bits.
    session: u64,
    next_op: u64,
    seqs: BTreeMap<Partition, u64>,
    leaders: Vec<Option<u32>>,
    pending: BTreeMap<u64, Pending>,
}

impl Producer {
    /// A producer with nothing pending.
    pub fn new(options: &LogOptions, layout: Layout) -> Self {
        Producer {
            acks: options.acks,
            idempotent: options.idempotent_producer,
            request_timeout: options.request_timeout,
            give_up: options.give_up,
            brokers: layout.brokers,
            controller: layout.controller(),
            session: 0,
            next_op: 0,
            seqs: BTreeMap::new(),
            leaders: vec![None; options.partitions as usize],
            pending: BTreeMap::new(),
        }
    }

    pub(super) fn start(&mut self, ctx: PCtx) {
        self.session = ctx.rng().below(1 << 31) + 1;
        ctx.send(self.controller, Msg::Metadata);
        if self.acks == Acks::None {
            // No answer ever says a leader is gone (a real client would
            // see its connection fail): look leaders up periodically.
            ctx.set_timer(self.request_timeout, Timer::RefreshLeaders);
        }
    }

    pub(super) fn send(&mut self, ctx: PCtx, req: RequestId, op: Produce) {
        let id = (self.session << 32) | (self.next_op & 0xffff_ffff);
        self.next_op += 1;
        let seq = self.seqs.entry(op.partition).or_insert(0);
        *seq += 1;
        let seq = *seq;
        if self.acks == Acks::None {
            // Fire and forget, to the leader as last heard (or the
            // preferred one).
            let p = op.partition;
            let to = self.leaders[p as usize].unwrap_or((p as usize % self.brokers) as u32);
            let now = ctx.now().as_nanos();
            ctx.send(NodeId(to), self.produce_msg(id, op, seq, now));
            return ctx.reply_ok(req, Produced::Unconfirmed);
        }
        let give_up = ctx.set_timer(self.give_up, Timer::GiveUp { op: id });
        let pending = Pending {
            req,
            op,
            seq,
            time_ns: ctx.now().as_nanos(),
            attempt: 0,
            in_flight: false,
            maybe_appended: false,
            give_up,
        };
        self.pending.insert(id, pending);
        self.attempt(ctx, id);
    }

    fn produce_msg(&self, id: u64, op: Produce, seq: u64, time_ns: u64) -> Msg {
        Msg::Produce {
            req: id,
            partition: op.partition,
            value: op.value,
            producer: if self.idempotent { self.session } else { 0 },
            seq,
            time_ns,
            acks: self.acks,
        }
    }

    /// Sends `id` to its partition's leader, or, with none known, asks
    /// who leads and tries again after a backoff.
    fn attempt(&mut self, ctx: PCtx, id: u64) {
        let Some(p) = self.pending.get(&id).copied() else {
            return;
        };
        let leader = self.leaders[p.op.partition as usize];
        let attempt = p.attempt + 1;
        let in_flight = leader.is_some();
        match leader {
            Some(l) => {
                ctx.send(NodeId(l), self.produce_msg(id, p.op, p.seq, p.time_ns));
                ctx.set_timer(self.request_timeout, Timer::Attempt { op: id, attempt });
            }
            None => {
                ctx.send(self.controller, Msg::Metadata);
                ctx.set_timer(RETRY_BACKOFF, Timer::Attempt { op: id, attempt });
            }
        }
        let entry = self.pending.get_mut(&id).expect("pending");
        entry.attempt = attempt;
        entry.in_flight = in_flight;
    }

    pub(super) fn message(&mut self, ctx: PCtx, msg: Msg) {
        match msg {
            Msg::Leaders(leaders) if leaders.len() == self.leaders.len() => {
                self.leaders = leaders;
            }
            Msg::ProduceOk { req, offset } => {
                if let Some(p) = self.pending.remove(&req) {
                    ctx.cancel_timer(p.give_up);
                    ctx.reply_ok(p.req, Produced::At(offset));
                }
            }
            Msg::ProduceRefused { req, error } => self.refused(ctx, req, error),
            _ => {}
        }
    }

    /// A refusal: look the leader up again and retry after a backoff.
    fn refused(&mut self, ctx: PCtx, id: u64, error: ProduceError) {
        let Some(p) = self.pending.get_mut(&id) else {
            return;
        };
        if !p.in_flight {
            return;
        }
        p.in_flight = false;
        p.attempt += 1;
        match error {
            ProduceError::NotLeader => {
                self.leaders[p.op.partition as usize] = None;
                ctx.send(self.controller, Msg::Metadata);
            }
            ProduceError::NotEnoughReplicas => {}
            ProduceError::NotEnoughReplicasAfterAppend => p.maybe_appended = true,
        }
        let attempt = p.attempt;
        ctx.set_timer(RETRY_BACKOFF, Timer::Attempt { op: id, attempt });
    }

    pub(super) fn timer(&mut self, ctx: PCtx, timer: Timer) {
        match timer {
            Timer::Attempt { op, attempt } => {
                let Some(p) = self.pending.get_mut(&op) else {
                    return;
                };
                if p.attempt != attempt {
                    return;
                }
                if p.in_flight {
                    // Unanswered: it may be in the log; the leader may be
                    // gone.
                    p.maybe_appended = true;
                    self.leaders[p.op.partition as usize] = None;
                }
                self.attempt(ctx, op);
            }
            Timer::RefreshLeaders => {
                ctx.send(self.controller, Msg::Metadata);
                ctx.set_timer(self.request_timeout, Timer::RefreshLeaders);
            }
            Timer::GiveUp { op } => {
                let Some(p) = self.pending.remove(&op) else {
                    return;
                };
                if !p.maybe_appended && !p.in_flight {
                    ctx.reply_fail(p.req, Produced::Refused);
                }
            }
            _ => {}
        }
    }
}
