//! A consumer of the group: it heartbeats to the group coordinator (the
//! controller), which assigns it partitions (`p % n == i` among the `n`
//! live consumers, a new generation whenever one joins or leaves: a
//! crashed consumer's partitions move to the others once its session
//! lapses), polls each in turn from its leader from the committed position,
//! processes the batch it gets, applies it to the sink, and commits:
//! after the batch (at-least-once), before processing it (at-most-once),
//! or never itself when the sink stores the position with the effect.
//!
//! A restart loses the positions it held; it starts again from what the
//! controller (or the sink) has committed.

use super::{CommitWhen, Layout, LogNode, LogOptions, Msg, Note, Offset, Partition, PollError};
use super::{Stored, Timer};
use crate::process::{Ctx, Disk, DiskKey, NodeId, TimerId};
use crate::time::SimDuration;
use std::collections::BTreeMap;

type KCtx<'a, 'b> = &'a mut Ctx<'b, LogNode>;

/// The consumer's incarnation counter on disk.
const META: &str = "meta";

/// A poll, an apply or a request for positions unanswered this long is
/// given up (and the leader looked up again).
pub const REQUEST_TIMEOUT: SimDuration = SimDuration::from_millis(200);

/// The batch a consumer is working on.
#[derive(Clone, Debug)]
struct Batch {
    partition: Partition,
    offset: Offset,
    values: Vec<u64>,
    times: Vec<u64>,
    /// Set once the batch is sent to the sink.
    applying: Option<TimerId>,
}

/// A consumer.
#[derive(Debug)]
pub struct Consumer {
    commit: CommitWhen,
    processing: SimDuration,
    fetch_wait: SimDuration,
    /// How long the sink may take to answer a batch (with a projection it
    /// answers at its next snapshot).
    apply_timeout: SimDuration,
    controller: NodeId,
    sink: NodeId,
    heartbeat: SimDuration,
    /// The group generation of the assignment, and its partitions.
    generation: u64,
    owned: Vec<Partition>,
    /// Node id, incarnation and seeks: who polled, in notes. A seek back
    /// to the sink's position starts a new reader for the order checks,
    /// as Jepsen's checker treats a consumer reassigned.
    id: u64,
    /// Positions by partition, once the committed ones have come.
    positions: Option<BTreeMap<Partition, Offset>>,
    leaders: Vec<Option<u32>>,
    /// The next owned partition to poll, and how many polls in a row
    /// found nothing (after a whole round of them, it waits).
    turn: usize,
    empty_in_row: usize,
    /// The poll in flight or the wait (answers to others are stale).
    poll_seq: u64,
    /// Whether `poll_seq` is a poll sent (not a wait).
    polling: bool,
    batch: Option<Batch>,
}

impl Consumer {
    /// Consumer `index` of the group.
    pub fn new(options: &LogOptions, layout: Layout) -> Self {
        Consumer {
            commit: options.commit,
            processing: options.processing,
            fetch_wait: options.fetch_wait,
            apply_timeout: if options.projection {
                REQUEST_TIMEOUT + options.snapshot_every
            } else {
                REQUEST_TIMEOUT
            },
            controller: layout.controller(),
            sink: layout.sink(),
            heartbeat: options.heartbeat,
            generation: 0,
            owned: Vec::new(),
            id: 0,
            positions: None,
            leaders: vec![None; options.partitions as usize],
            turn: 0,
            empty_in_row: 0,
            poll_seq: 0,
            polling: false,
            batch: None,
        }
    }

    /// Where committed positions are kept.
    fn position_keeper(&self) -> NodeId {
        match self.commit {
            CommitWhen::WithEffect => self.sink,
            _ => self.controller,
        }
    }

    pub(super) fn start(&mut self, ctx: KCtx, disk: &Disk<Stored>) {
        let last = match disk.get(DiskKey::single(META)) {
            Some(Stored::Number(n)) => *n,
            _ => 0,
        };
        ctx.write(DiskKey::single(META), Stored::Number(last + 1));
        ctx.sync();
        self.id = ((ctx.me().index() as u64) << 40) | ((last + 1) << 20);
        self.poll_seq = (last + 1) << 32;
        ctx.send(self.controller, Msg::GroupHeartbeat);
        ctx.set_timer(self.heartbeat, Timer::GroupHeartbeat);
    }

    /// The coordinator's word: in a new generation with other partitions,
    /// drop what it was doing and start them from their committed
    /// positions (a new reader for the order checks).
    fn assigned(&mut self, ctx: KCtx, generation: u64, partitions: Vec<Partition>) {
        if generation <= self.generation {
            return;
        }
        self.generation = generation;
        if partitions == self.owned {
            return;
        }
        if let Some(timer) = self.batch.take().and_then(|b| b.applying) {
            ctx.cancel_timer(timer);
        }
        self.owned = partitions;
        self.positions = None;
        self.poll_seq += 1;
        self.polling = false;
        self.id += 1;
        if !self.owned.is_empty() {
            ctx.send(self.controller, Msg::Metadata);
            self.ask_positions(ctx);
        }
    }

    fn ask_positions(&self, ctx: KCtx) {
        ctx.send(
            self.position_keeper(),
            Msg::FetchPositions(self.owned.clone()),
        );
        ctx.set_timer(REQUEST_TIMEOUT, Timer::Positions);
    }

    pub(super) fn message(&mut self, ctx: KCtx, msg: Msg) {
        match msg {
            // Positions of the partitions owned now (not of an earlier
            // assignment's).
            Msg::Positions(list)
                if self.positions.is_none()
                    && list.iter().map(|(p, _)| *p).eq(self.owned.iter().copied()) =>
            {
                self.positions = Some(list.into_iter().collect());
                self.poll_next(ctx);
            }
            Msg::Leaders(leaders) if leaders.len() == self.leaders.len() => {
                self.leaders = leaders;
            }
            Msg::Assignment {
                generation,
                partitions,
            } => self.assigned(ctx, generation, partitions),
            Msg::Records {
                partition,
                seq,
                offset,
                values,
                times,
            } if seq == self.poll_seq && self.position(partition) == Some(offset) => {
                // A copy of this answer (the network duplicates) is stale.
                self.poll_seq += 1;
                self.polling = false;
                self.records(ctx, partition, offset, values, times);
            }
            Msg::PollRefused {
                partition,
                seq,
                error,
            } if seq == self.poll_seq && self.polling => match error {
                PollError::NotLeader => {
                    self.leaders[partition as usize] = None;
                    self.wait(ctx);
                }
                PollError::OutOfRange(reset) => {
                    self.polling = false;
                    if let Some(positions) = &mut self.positions {
                        positions.insert(partition, reset);
                    }
                    self.poll_next(ctx);
                }
            },
            Msg::Applied { partition, offset } => self.applied(ctx, partition, offset),
            _ => {}
        }
    }

    fn position(&self, p: Partition) -> Option<Offset> {
        self.positions
            .as_ref()
            .map(|ps| ps.get(&p).copied().unwrap_or(0))
    }

    /// Polls the next owned partition from its leader (or asks who leads
    /// it, and waits).
    fn poll_next(&mut self, ctx: KCtx) {
        if self.batch.is_some() || self.owned.is_empty() {
            return;
        }
        let Some(positions) = &self.positions else {
            return;
        };
        let p = self.owned[self.turn % self.owned.len()];
        self.turn += 1;
        let Some(leader) = self.leaders[p as usize] else {
            ctx.send(self.controller, Msg::Metadata);
            return self.wait(ctx);
        };
        self.poll_seq += 1;
        let offset = positions.get(&p).copied().unwrap_or(0);
        let seq = self.poll_seq;
        self.polling = true;
        ctx.send(
            NodeId(leader),
            Msg::Poll {
                partition: p,
                offset,
                seq,
            },
        );
        ctx.set_timer(REQUEST_TIMEOUT, Timer::Poll { seq });
    }

    /// Polls again after `fetch_wait` (answers to the poll in flight, if
    /// any, are dropped).
    fn wait(&mut self, ctx: KCtx) {
        self.poll_seq += 1;
        self.polling = false;
        let seq = self.poll_seq;
        ctx.set_timer(self.fetch_wait, Timer::Poll { seq });
    }

    fn records(
        &mut self,
        ctx: KCtx,
        partition: Partition,
        offset: Offset,
        values: Vec<u64>,
        times: Vec<u64>,
    ) {
        if values.is_empty() {
            self.empty_in_row += 1;
            if self.empty_in_row >= self.owned.len() {
                self.empty_in_row = 0;
                return self.wait(ctx);
            }
            return self.poll_next(ctx);
        }
        self.empty_in_row = 0;
        for (i, &value) in values.iter().enumerate() {
            ctx.note(Note::Polled {
                consumer: self.id,
                partition,
                offset: offset + i as Offset,
                value,
            });
        }
        let end = offset + values.len() as Offset;
        if self.commit == CommitWhen::Before {
            ctx.send(
                self.controller,
                Msg::Commit {
                    generation: self.generation,
                    partition,
                    offset: end,
                },
            );
        }
        let work = SimDuration::from_nanos(self.processing.as_nanos() * values.len() as u64);
        self.batch = Some(Batch {
            partition,
            offset,
            values,
            times,
            applying: None,
        });
        ctx.set_timer(work, Timer::Processed);
    }

    fn send_apply(&mut self, ctx: KCtx) {
        let Some(b) = &mut self.batch else {
            return;
        };
        let msg = Msg::Apply {
            partition: b.partition,
            offset: b.offset,
            values: b.values.clone(),
            times: b.times.clone(),
        };
        ctx.send(self.sink, msg);
        let offset = b.offset;
        b.applying = Some(ctx.set_timer(self.apply_timeout, Timer::ApplyTimeout { offset }));
    }

    /// The sink's answer: applied up to `position`. Committing with the
    /// effect, the consumer takes the sink's position even when it is
    /// short of the batch's end (the sink went back to a snapshot): it goes
    /// back for what the sink lacks.
    fn applied(&mut self, ctx: KCtx, partition: Partition, position: Offset) {
        let Some(b) = &self.batch else {
            return;
        };
        let end = b.offset + b.values.len() as Offset;
        // Committing with the effect the sink's position is the truth,
        // ahead of the batch or behind it.
        let with_effect = self.commit == CommitWhen::WithEffect;
        if b.partition != partition || b.applying.is_none() || (position != end && !with_effect) {
            return;
        }
        if let Some(timer) = b.applying {
            ctx.cancel_timer(timer);
        }
        self.batch = None;
        if position < end {
            self.id += 1;
        }
        if let Some(positions) = &mut self.positions {
            positions.insert(partition, position);
        }
        if self.commit == CommitWhen::After {
            ctx.send(
                self.controller,
                Msg::Commit {
                    generation: self.generation,
                    partition,
                    offset: end,
                },
            );
        }
        self.poll_next(ctx);
    }

    pub(super) fn timer(&mut self, ctx: KCtx, timer: Timer) {
        match timer {
            Timer::Positions if self.positions.is_none() && !self.owned.is_empty() => {
                self.ask_positions(ctx)
            }
            Timer::GroupHeartbeat => {
                ctx.send(self.controller, Msg::GroupHeartbeat);
                ctx.set_timer(self.heartbeat, Timer::GroupHeartbeat);
            }
            Timer::Poll { seq } if seq == self.poll_seq => {
                if std::mem::replace(&mut self.polling, false) {
                    // Unanswered: perhaps the leader is gone; ask.
                    ctx.send(self.controller, Msg::Metadata);
                }
                self.poll_next(ctx);
            }
            Timer::Processed if self.batch.as_ref().is_some_and(|b| b.applying.is_none()) => {
                self.send_apply(ctx);
            }
            Timer::ApplyTimeout { offset }
                if self.batch.as_ref().is_some_and(|b| b.offset == offset) =>
            {
                self.send_apply(ctx);
            }
            _ => {}
        }
    }
}
