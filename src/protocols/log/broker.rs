//! A broker: the replicas of the partitions it hosts, its heartbeat to
//! the controller (which answers with the partitions' states), and the
//! routing of produce, fetch and poll requests to the right replica.

use super::replica::{ReplicaConfig, LOG};
use super::{Layout, LogNode, LogOptions, Msg, Partition, Replica, Stored, Timer};
use crate::process::{Ctx, Disk, DiskKey, NodeId};
use crate::time::SimDuration;
use std::collections::BTreeMap;

type BCtx<'a, 'b> = &'a mut Ctx<'b, LogNode>;

/// The broker's incarnation counter on disk.
const META: &str = "meta";

/// How often a broker that does not sync each record flushes its writes.
pub const FLUSH_EVERY: SimDuration = SimDuration::from_millis(200);

/// A broker.
#[derive(Debug)]
pub struct Broker {
    me: u32,
    controller: NodeId,
    config: ReplicaConfig,
    heartbeat: SimDuration,
    isr_check: SimDuration,
    sync: bool,
    /// The partitions it hosts, by number (the replica set is fixed).
    hosted: Vec<Partition>,
    incarnation: u64,
    replicas: BTreeMap<Partition, Replica>,
}

impl Broker {
    /// Broker `id`, with nothing loaded (its start reads the disk).
    pub fn new(options: &LogOptions, layout: Layout, id: NodeId) -> Self {
        let me = id.index() as u32;
        let hosted = (0..options.partitions)
            .filter(|&p| options.replicas(p).contains(&me))
            .collect();
        Broker {
            me,
            controller: layout.controller(),
            config: ReplicaConfig::new(options),
            heartbeat: options.heartbeat,
            isr_check: SimDuration::from_nanos(options.replica_lag_max.as_nanos() / 4),
            sync: options.sync,
            hosted,
            incarnation: 0,
            replicas: BTreeMap::new(),
        }
    }

    /// At each start: a new incarnation, the logs as the disk holds them,
    /// and a first heartbeat (the controller's answer says who leads).
    pub(super) fn start(&mut self, ctx: BCtx, disk: &Disk<Stored>) {
        let last = match disk.get(DiskKey::single(META)) {
            Some(Stored::Number(n)) => *n,
            _ => 0,
        };
        self.incarnation = last + 1;
        ctx.write(DiskKey::single(META), Stored::Number(self.incarnation));
        ctx.sync();
        self.replicas = self
            .hosted
            .iter()
            .map(|&p| {
                let log = log_on_disk(disk, p);
                (
                    p,
                    Replica::new(p, self.me, self.config, log, self.incarnation),
                )
            })
            .collect();
        self.send_heartbeat(ctx);
        ctx.set_timer(self.heartbeat, Timer::Heartbeat);
        ctx.set_timer(self.isr_check, Timer::IsrCheck);
        if !self.sync {
            ctx.set_timer(FLUSH_EVERY, Timer::Flush);
        }
    }

    fn send_heartbeat(&self, ctx: BCtx) {
        let msg = Msg::Heartbeat {
            incarnation: self.incarnation,
        };
        ctx.send(self.controller, msg);
    }

    pub(super) fn message(&mut self, ctx: BCtx, from: NodeId, msg: Msg) {
        match msg {
            Msg::States(states) => {
                for (p, state) in states {
                    if let Some(r) = self.replicas.get_mut(&p) {
                        r.adopt(ctx, state);
                    }
                }
            }
            Msg::Produce {
                req,
                partition,
                value,
                producer,
                seq,
                time_ns,
                acks,
            } => match self.replicas.get_mut(&partition) {
                Some(r) => {
                    let entry = super::Entry {
                        epoch: 0,
                        value,
                        producer,
                        seq,
                        time_ns,
                    };
                    r.produce(ctx, from, req, entry, acks)
                }
                None => {
                    let error = super::ProduceError::NotLeader;
                    ctx.send(from, Msg::ProduceRefused { req, error });
                }
            },
            Msg::Fetch {
                partition,
                epoch,
                offset,
                last_epoch,
                seq,
            } => {
                if let Some(r) = self.replicas.get_mut(&partition) {
                    r.fetch(ctx, from, epoch, offset, last_epoch, seq);
                }
            }
            Msg::Fetched {
                partition,
                seq,
                offset,
                entries,
                hw,
            } => {
                if let Some(r) = self.replicas.get_mut(&partition) {
                    r.fetched(ctx, seq, offset, entries, hw);
                }
            }
            Msg::Diverging {
                partition,
                seq,
                epoch,
                end,
            } => {
                if let Some(r) = self.replicas.get_mut(&partition) {
                    r.diverging(ctx, seq, epoch, end);
                }
            }
            Msg::FetchRefused { partition, seq } => {
                if let Some(r) = self.replicas.get_mut(&partition) {
                    r.fetch_refused(ctx, seq);
                }
            }
            Msg::Poll {
                partition,
                offset,
                seq,
            } => match self.replicas.get(&partition) {
                Some(r) => r.poll(ctx, from, offset, seq),
                None => {
                    let error = super::PollError::NotLeader;
                    ctx.send(
                        from,
                        Msg::PollRefused {
                            partition,
                            seq,
                            error,
                        },
                    );
                }
            },
            _ => {}
        }
    }

    pub(super) fn timer(&mut self, ctx: BCtx, timer: Timer) {
        match timer {
            Timer::Heartbeat => {
                self.send_heartbeat(ctx);
                ctx.set_timer(self.heartbeat, Timer::Heartbeat);
            }
            Timer::IsrCheck => {
                for r in self.replicas.values_mut() {
                    r.isr_check(ctx);
                }
                ctx.set_timer(self.isr_check, Timer::IsrCheck);
            }
            Timer::Fetch { partition, seq } => {
                if let Some(r) = self.replicas.get_mut(&partition) {
                    r.fetch_timer(ctx, seq);
                }
            }
            Timer::Flush => {
                ctx.sync();
                ctx.set_timer(FLUSH_EVERY, Timer::Flush);
            }
            _ => {}
        }
    }

    /// The replica of `partition`, if this broker hosts it.
    pub fn replica(&self, partition: Partition) -> Option<&Replica> {
        self.replicas.get(&partition)
    }
}

/// Partition `p`'s records as `disk` holds them, in offset order.
fn log_on_disk(disk: &Disk<Stored>, p: Partition) -> Vec<super::Entry> {
    let mut log = Vec::new();
    for (offset, stored) in disk.scan_part(LOG, p) {
        let Stored::Entry(e) = stored else {
            continue;
        };
        assert_eq!(
            log.len() as u64,
            offset,
            "a hole in partition {p}'s log on disk"
        );
        log.push(*e);
    }
    log
}
