//! The sink: the database consumers apply records to. Committing with the
//! effect (`commit = "with-effect"`), it stores each partition's position
//! in the same durable write as the batch's effect and applies a record
//! below the stored position no more: exactly-once effects, as a
//! transactional consumer gets them.

use super::{CommitWhen, LogNode, LogOptions, Msg, Note, Offset, Partition, Stored};
use crate::process::{Ctx, Disk, DiskKey, NodeId};
use std::collections::BTreeMap;

/// Positions stored with the effects, by partition.
const POSITIONS: &str = "positions";

/// The sink.
#[derive(Debug)]
pub struct Sink {
    with_effect: bool,
    positions: BTreeMap<Partition, Offset>,
}

impl Sink {
    /// A sink with nothing loaded (its start reads the disk).
    pub fn new(options: &LogOptions) -> Self {
        Sink {
            with_effect: options.commit == CommitWhen::WithEffect,
            positions: BTreeMap::new(),
        }
    }

    pub(super) fn start(&mut self, disk: &Disk<Stored>) {
        self.positions = disk
            .scan(POSITIONS)
            .filter_map(|(p, s)| match s {
                Stored::Number(n) => Some((p as Partition, *n)),
                _ => None,
            })
            .collect();
    }

    pub(super) fn message(&mut self, ctx: &mut Ctx<'_, LogNode>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Apply {
                partition,
                offset,
                values,
            } => {
                let end = offset + values.len() as Offset;
                self.apply(ctx, partition, offset, &values);
                ctx.send(
                    from,
                    Msg::Applied {
                        partition,
                        offset: end,
                    },
                );
            }
            Msg::FetchPositions(partitions) => {
                let positions = partitions
                    .into_iter()
                    .map(|p| (p, self.positions.get(&p).copied().unwrap_or(0)))
                    .collect();
                ctx.send(from, Msg::Positions(positions));
            }
            _ => {}
        }
    }

    /// Applies `values`, the records from `offset` of `partition` (those
    /// below the stored position are skipped when committing with the
    /// effect), in one durable write.
    fn apply(
        &mut self,
        ctx: &mut Ctx<'_, LogNode>,
        partition: Partition,
        offset: Offset,
        values: &[u64],
    ) {
        let end = offset + values.len() as Offset;
        let skip = if self.with_effect {
            let position = self.positions.get(&partition).copied().unwrap_or(0);
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
        if self.with_effect {
            self.positions.insert(partition, end);
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
}
