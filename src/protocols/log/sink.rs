//! The sink: the database consumers apply records to.
//!
//! Committing with the effect (`commit = "with-effect"`), it keeps each
//! partition's position with the effects, applies a record below it no
//! more, and answers a batch that starts past it with the position, so the
//! consumer goes back for what the sink lacks: exactly-once effects, as a
//! transactional consumer gets them.
//!
//! With `projection`, the sink is an event-sourced read model: each record
//! is an event crediting its value to account `value % ACCOUNTS`, and the
//! sink keeps every account's balance. It writes a snapshot (balances and
//! positions, one durable write) every `snapshot_every`; a restart
//! rebuilds the projection from the last snapshot and the log's tail after
//! it. Effects count as taken, and batches are answered, only once a
//! snapshot holds them (a group commit): an answer never runs ahead of what
//! a restart keeps.
//!
//! Invariant: the last snapshot's balances are the fold of the records
//! below its positions (checked at the end against the final logs).

use super::{CommitWhen, LogNode, LogOptions, Msg, Note, Offset, Partition, Stored, Timer};
use super::{WindowSpec, Windows};
use crate::process::{Ctx, Disk, DiskKey, NodeId};
use crate::time::SimDuration;
use std::collections::BTreeMap;

type SCtx<'a, 'b> = &'a mut Ctx<'b, LogNode>;

/// Positions stored with the effects, by partition.
const POSITIONS: &str = "positions";

/// The projection's snapshot (one key: written whole or not at all).
const SNAPSHOT: &str = "snapshot";

/// The projection's accounts: an event's account is its value modulo this.
pub const ACCOUNTS: u64 = 8;

/// A checkpoint's state: where the sink is in each partition, the
/// projection's balances and the windows' tallies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The next offset to apply, by partition.
    pub positions: BTreeMap<Partition, Offset>,
    /// Each account's balance (with a projection).
    pub balances: BTreeMap<u64, u64>,
    /// The windowed counts (with windows).
    pub windows: Windows,
}

impl Snapshot {
    /// Credits the event `value`.
    pub fn apply(&mut self, value: u64) {
        *self.balances.entry(value % ACCOUNTS).or_insert(0) += value;
    }
}

/// The sink.
#[derive(Debug)]
pub struct Sink {
    with_effect: bool,
    projection: bool,
    windows: Option<WindowSpec>,
    /// `Some(interval)` when the sink keeps a projection or windows, and
    /// so checkpoints.
    snapshot_every: Option<SimDuration>,
    /// The live state: positions (and balances, with a projection).
    live: Snapshot,
    /// With a projection: the last snapshot written, and the values
    /// applied since (not yet durable).
    last_snapshot: Snapshot,
    unsaved: Vec<u64>,
    /// With a projection: answers held for the next snapshot (who, the
    /// partition, and the batch's end).
    held: Vec<(NodeId, Partition, Offset)>,
}

impl Sink {
    /// A sink with nothing loaded (its start reads the disk).
    pub fn new(options: &LogOptions) -> Self {
        Sink {
            with_effect: options.commit == CommitWhen::WithEffect,
            projection: options.projection,
            windows: (options.window > SimDuration::ZERO).then(|| {
                WindowSpec::new(
                    options.window,
                    options.slide,
                    options.out_of_orderness,
                    options.allowed_lateness,
                )
            }),
            snapshot_every: (options.projection || options.window > SimDuration::ZERO)
                .then_some(options.snapshot_every),
            live: Snapshot::default(),
            last_snapshot: Snapshot::default(),
            unsaved: Vec::new(),
            held: Vec::new(),
        }
    }

    pub(super) fn start(&mut self, ctx: SCtx, disk: &Disk<Stored>) {
        if let Some(every) = self.snapshot_every {
            if let Some(Stored::Snapshot(s)) = disk.get(DiskKey::single(SNAPSHOT)) {
                self.last_snapshot = (**s).clone();
            }
            self.live = self.last_snapshot.clone();
            ctx.set_timer(every, Timer::Snapshot);
            return;
        }
        self.live.positions = disk
            .scan(POSITIONS)
            .filter_map(|(p, s)| match s {
                Stored::Number(n) => Some((p as Partition, *n)),
                _ => None,
            })
            .collect();
    }

    /// Tells `to` where the sink is in `partition`: its position when
    /// committing with the effect, else the batch's `end`.
    fn answer(&self, ctx: SCtx, to: NodeId, partition: Partition, end: Offset) {
        let offset = if self.with_effect {
            self.position(partition)
        } else {
            end
        };
        ctx.send(to, Msg::Applied { partition, offset });
    }

    fn position(&self, p: Partition) -> Offset {
        self.live.positions.get(&p).copied().unwrap_or(0)
    }

    pub(super) fn message(&mut self, ctx: SCtx, from: NodeId, msg: Msg) {
        match msg {
            Msg::Apply {
                partition,
                offset,
                values,
                times,
            } => {
                let end = if self.with_effect && offset > self.position(partition) {
                    // A gap: the consumer is ahead of what the sink holds
                    // (the sink went back to a snapshot). Send it back.
                    self.position(partition)
                } else {
                    self.apply(ctx, partition, offset, &values, &times);
                    offset + values.len() as Offset
                };
                if self.snapshot_every.is_some() {
                    self.held.push((from, partition, end));
                } else {
                    self.answer(ctx, from, partition, end);
                }
            }
            Msg::FetchPositions(partitions) => {
                // Checkpointing, only what the last snapshot holds: a
                // restarted consumer must not start past what a restart of
                // the sink keeps (nothing would send it back).
                let durable = match self.snapshot_every {
                    Some(_) => &self.last_snapshot,
                    None => &self.live,
                };
                let positions = partitions
                    .into_iter()
                    .map(|p| (p, durable.positions.get(&p).copied().unwrap_or(0)))
                    .collect();
                ctx.send(from, Msg::Positions(positions));
            }
            _ => {}
        }
    }

    /// Applies `values`, the records from `offset` of `partition` (those
    /// below the position are skipped when committing with the effect):
    /// durably at once, or, with a projection, at the next snapshot.
    fn apply(
        &mut self,
        ctx: SCtx,
        partition: Partition,
        offset: Offset,
        values: &[u64],
        times: &[u64],
    ) {
        let end = offset + values.len() as Offset;
        let skip = if self.with_effect {
            let position = self.position(partition);
            position.saturating_sub(offset).min(values.len() as Offset) as usize
        } else {
            0
        };
        for _ in 0..skip {
            ctx.note(Note::Deduplicated);
        }
        if skip == values.len() {
            return;
        }
        let position = self.live.positions.entry(partition).or_insert(0);
        *position = (*position).max(end);
        if self.snapshot_every.is_some() {
            for (&value, &time) in values.iter().zip(times).skip(skip) {
                if self.projection {
                    self.live.apply(value);
                }
                if let Some(spec) = &self.windows {
                    self.live.windows.add(spec, partition, time);
                }
                self.unsaved.push(value);
            }
            return;
        }
        if self.with_effect {
            ctx.write(
                DiskKey::new(POSITIONS, u64::from(partition)),
                Stored::Number(end),
            );
        }
        ctx.sync();
        for &value in &values[skip..] {
            ctx.note(Note::Applied { value });
        }
    }

    /// With a projection: writes a snapshot if anything was applied since
    /// the last; its values take effect now.
    pub(super) fn timer(&mut self, ctx: SCtx, timer: Timer) {
        let (Timer::Snapshot, Some(every)) = (timer, self.snapshot_every) else {
            return;
        };
        if !self.unsaved.is_empty() {
            ctx.write(
                DiskKey::single(SNAPSHOT),
                Stored::Snapshot(Box::new(self.live.clone())),
            );
            ctx.sync();
            self.last_snapshot = self.live.clone();
            for value in std::mem::take(&mut self.unsaved) {
                ctx.note(Note::Applied { value });
            }
        }
        for (to, partition, end) in std::mem::take(&mut self.held) {
            self.answer(ctx, to, partition, end);
        }
        ctx.set_timer(every, Timer::Snapshot);
    }

    /// With a projection: the live state and the last snapshot written.
    pub fn projection(&self) -> Option<(&Snapshot, &Snapshot)> {
        self.projection.then_some((&self.live, &self.last_snapshot))
    }

    /// With windows: how they are cut, and the live tallies.
    pub fn windows(&self) -> Option<(&WindowSpec, &Windows)> {
        self.windows.as_ref().map(|spec| (spec, &self.live.windows))
    }
}
