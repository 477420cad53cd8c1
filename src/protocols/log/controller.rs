//! The controller: the durable record of every partition's leader, epoch
//! and ISR, the brokers' sessions, and the consumer group's committed
//! positions (Kafka's group coordinator, here on the same node).
//!
//! A broker silent for `session_timeout`, or back with a new incarnation
//! (it restarted, and may have lost what it had not synced), leaves every
//! ISR it is in (unless it is the last member: Kafka keeps the last one,
//! so that its return brings the partition back without loss), and its
//! leaderships pass to a live in-sync replica; with none, the partition
//! goes offline, or, with `unclean_leader_election`, to any live replica,
//! whose log becomes the truth. A broker heard from again takes up an
//! offline partition it may lead.
//!
//! As group coordinator it hears consumers' heartbeats, assigns the
//! partitions among the live ones, starts a new generation when one joins
//! or leaves (and at each restart), and refuses commits of older
//! generations.
//!
//! Invariant: a partition's leader, if any, is in its ISR, and the ISR is
//! a non-empty subset of the partition's replicas; every change is
//! synced before anyone hears of it.

use super::{LogNode, LogOptions, Msg, Note, Offset, Partition, PartitionState, Stored, Timer};
use crate::process::{Ctx, Disk, DiskKey, NodeId};
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

type CCtx<'a, 'b> = &'a mut Ctx<'b, LogNode>;

/// Partition states on disk, by partition.
const PARTITIONS: &str = "partitions";
/// Brokers' last incarnations on disk, by broker.
const INCARNATIONS: &str = "incarnations";
/// Committed positions on disk, by partition.
const POSITIONS: &str = "positions";
/// The consumer group's generation on disk.
const GENERATION: &str = "generation";

/// A consumer's session with the group coordinator.
#[derive(Clone, Copy, Debug)]
struct Member {
    node: NodeId,
    last_heard: SimTime,
    alive: bool,
}

/// A broker's session as the controller sees it.
#[derive(Clone, Copy, Debug)]
struct Session {
    incarnation: u64,
    last_heard: SimTime,
    alive: bool,
}

/// The controller.
#[derive(Debug)]
pub struct Controller {
    replicas: Vec<Vec<u32>>,
    unclean: bool,
    session_timeout: SimDuration,
    sweep_every: SimDuration,
    rebalance_every: SimDuration,
    next_rebalance: SimTime,
    states: Vec<PartitionState>,
    sessions: Vec<Session>,
    positions: BTreeMap<Partition, Offset>,
    /// The consumer group: every consumer, and the generation (bumped when
    /// one joins or leaves; counted on disk, so a restart bumps it too).
    members: Vec<Member>,
    generation: u64,
}

impl Controller {
    /// A controller with nothing loaded (its start reads the disk).
    pub fn new(options: &LogOptions, layout: super::Layout) -> Self {
        let members = (layout.first_consumer()..layout.servers)
            .map(|i| Member {
                node: NodeId(i as u32),
                last_heard: SimTime::ZERO,
                alive: true,
            })
            .collect();
        Controller {
            replicas: (0..options.partitions)
                .map(|p| options.replicas(p))
                .collect(),
            unclean: options.unclean_leader_election,
            session_timeout: options.session_timeout,
            sweep_every: options.heartbeat,
            rebalance_every: options.leader_rebalance,
            next_rebalance: SimTime::ZERO,
            states: Vec::new(),
            sessions: Vec::new(),
            positions: BTreeMap::new(),
            members,
            generation: 0,
        }
    }

    /// At each start: the states as synced (the first start makes each
    /// partition's preferred replica its leader, every replica in sync),
    /// and every broker given a fresh session.
    pub(super) fn start(&mut self, ctx: CCtx, disk: &Disk<Stored>) {
        let stored: BTreeMap<u64, PartitionState> = disk
            .scan(PARTITIONS)
            .filter_map(|(p, s)| match s {
                Stored::State(s) => Some((p, (**s).clone())),
                _ => None,
            })
            .collect();
        self.states = (0..self.replicas.len() as u64)
            .map(|p| match stored.get(&p) {
                Some(s) => s.clone(),
                None => self.first_state(p as usize),
            })
            .collect();
        if stored.is_empty() {
            for p in 0..self.states.len() {
                self.persist(ctx, p);
            }
            ctx.sync();
        }
        let brokers = self.replicas.iter().flatten().max().map_or(0, |&b| b + 1);
        let now = ctx.now();
        self.sessions = (0..u64::from(brokers))
            .map(|b| Session {
                incarnation: match disk.get(DiskKey::new(INCARNATIONS, b)) {
                    Some(Stored::Number(n)) => *n,
                    _ => 0,
                },
                last_heard: now,
                alive: true,
            })
            .collect();
        self.positions = disk
            .scan(POSITIONS)
            .filter_map(|(p, s)| match s {
                Stored::Number(n) => Some((p as Partition, *n)),
                _ => None,
            })
            .collect();
        for m in &mut self.members {
            m.last_heard = now;
            m.alive = true;
        }
        let generation = match disk.get(DiskKey::single(GENERATION)) {
            Some(Stored::Number(n)) => *n,
            _ => 0,
        };
        self.set_generation(ctx, generation + 1);
        self.next_rebalance = now + self.rebalance_every;
        ctx.set_timer(self.sweep_every, Timer::Sweep);
    }

    fn first_state(&self, p: usize) -> PartitionState {
        let mut isr = self.replicas[p].clone();
        isr.sort_unstable();
        PartitionState {
            leader: Some(self.replicas[p][0]),
            epoch: 1,
            isr,
            version: 1,
        }
    }

    fn persist(&self, ctx: CCtx, p: usize) {
        let state = &self.states[p];
        if let Some(leader) = state.leader {
            assert!(
                state.isr.contains(&leader),
                "partition {p}: leader outside the ISR"
            );
        }
        assert!(!state.isr.is_empty(), "partition {p}: an empty ISR");
        ctx.write(
            DiskKey::new(PARTITIONS, p as u64),
            Stored::State(Box::new(state.clone())),
        );
    }

    pub(super) fn message(&mut self, ctx: CCtx, from: NodeId, msg: Msg) {
        match msg {
            Msg::Heartbeat { incarnation } => self.heartbeat(ctx, from.index() as u32, incarnation),
            Msg::AlterIsr {
                partition,
                epoch,
                version,
                isr,
            } => self.alter_isr(ctx, from, partition, (epoch, version), isr),
            Msg::Metadata => {
                let leaders = self.states.iter().map(|s| s.leader).collect();
                ctx.send(from, Msg::Leaders(leaders));
            }
            Msg::FetchPositions(partitions) => {
                let positions = partitions
                    .into_iter()
                    .map(|p| (p, self.positions.get(&p).copied().unwrap_or(0)))
                    .collect();
                ctx.send(from, Msg::Positions(positions));
            }
            // Positions only go forward: a commit delayed in the network
            // must not take a consumer back.
            Msg::Commit {
                generation,
                partition,
                offset,
            } => {
                let known = self.positions.get(&partition).copied().unwrap_or(0);
                if offset > known && generation == self.generation {
                    self.positions.insert(partition, offset);
                    let key = DiskKey::new(POSITIONS, u64::from(partition));
                    ctx.write(key, Stored::Number(offset));
                    ctx.sync();
                }
            }
            Msg::GroupHeartbeat => self.group_heartbeat(ctx, from),
            _ => {}
        }
    }

    fn set_generation(&mut self, ctx: CCtx, generation: u64) {
        self.generation = generation;
        ctx.note(Note::Regrouped);
        ctx.write(DiskKey::single(GENERATION), Stored::Number(generation));
        ctx.sync();
    }

    /// A consumer is alive: (re)joined if it had left, and told its
    /// partitions: partition `p` goes to the `p % n`-th of the `n` live
    /// consumers.
    fn group_heartbeat(&mut self, ctx: CCtx, from: NodeId) {
        let now = ctx.now();
        let Some(i) = self.members.iter().position(|m| m.node == from) else {
            return;
        };
        self.members[i].last_heard = now;
        if !self.members[i].alive {
            self.members[i].alive = true;
            self.set_generation(ctx, self.generation + 1);
        }
        let live: Vec<NodeId> = self
            .members
            .iter()
            .filter(|m| m.alive)
            .map(|m| m.node)
            .collect();
        let mine = live
            .iter()
            .position(|&n| n == from)
            .expect("just marked alive");
        let partitions = (0..self.states.len() as Partition)
            .filter(|p| *p as usize % live.len() == mine)
            .collect();
        let msg = Msg::Assignment {
            generation: self.generation,
            partitions,
        };
        ctx.send(from, msg);
    }

    fn heartbeat(&mut self, ctx: CCtx, b: u32, incarnation: u64) {
        let Some(session) = self.sessions.get(b as usize).copied() else {
            return;
        };
        if session.incarnation != incarnation {
            if session.incarnation != 0 && session.alive {
                // It restarted since we last heard: it failed.
                self.failed(ctx, b);
            }
            ctx.write(
                DiskKey::new(INCARNATIONS, u64::from(b)),
                Stored::Number(incarnation),
            );
            ctx.sync();
        }
        let s = &mut self.sessions[b as usize];
        s.incarnation = incarnation;
        s.last_heard = ctx.now();
        if !s.alive {
            s.alive = true;
            self.revived(ctx, b);
        }
        let states = self
            .replicas
            .iter()
            .enumerate()
            .filter(|(_, r)| r.contains(&b))
            .map(|(p, _)| (p as Partition, self.states[p].clone()))
            .collect();
        ctx.send(NodeId(b), Msg::States(states));
    }

    /// Broker `b` is gone (silent, or restarted): out of every ISR where
    /// it is not the last member, its leaderships moved.
    fn failed(&mut self, ctx: CCtx, b: u32) {
        self.sessions[b as usize].alive = false;
        let mut changed = false;
        for p in 0..self.states.len() {
            let s = &mut self.states[p];
            let leads = s.leader == Some(b);
            // The last member of an ISR stays in it (its return brings the
            // partition back): nothing changes unless it also leads.
            let leaves_isr = s.isr.contains(&b) && s.isr.len() > 1;
            if !leads && !leaves_isr {
                continue;
            }
            if leaves_isr {
                s.isr.retain(|&r| r != b);
            }
            s.version += 1;
            if s.leader == Some(b) {
                self.elect(ctx, p);
            }
            self.persist(ctx, p);
            changed = true;
        }
        if changed {
            ctx.sync();
        }
    }

    /// Broker `b` is back: it takes up offline partitions it may lead.
    fn revived(&mut self, ctx: CCtx, b: u32) {
        let mut changed = false;
        for p in 0..self.states.len() {
            let s = &self.states[p];
            let eligible = s.isr.contains(&b) || (self.unclean && self.replicas[p].contains(&b));
            if s.leader.is_none() && eligible {
                self.states[p].version += 1;
                self.elect(ctx, p);
                self.persist(ctx, p);
                changed = true;
            }
        }
        if changed {
            ctx.sync();
        }
    }

    /// A new leader for `p`: a live in-sync replica, else (unclean) any
    /// live replica, else none.
    fn elect(&mut self, ctx: CCtx, p: usize) {
        let alive = |b: &u32| self.sessions.get(*b as usize).is_some_and(|s| s.alive);
        let s = &self.states[p];
        let clean = self.replicas[p]
            .iter()
            .copied()
            .find(|b| s.isr.contains(b) && alive(b));
        let unclean = || self.replicas[p].iter().copied().find(|b| alive(b));
        let (leader, was_unclean) = match clean {
            Some(b) => (Some(b), false),
            None if self.unclean => (unclean(), true),
            None => (None, false),
        };
        let s = &mut self.states[p];
        s.epoch += 1;
        s.leader = leader;
        if let (Some(b), true) = (leader, was_unclean) {
            s.isr = vec![b];
        }
        ctx.note(Note::Elected {
            partition: p as Partition,
            epoch: s.epoch,
            leader,
            unclean: was_unclean && leader.is_some(),
        });
    }

    fn alter_isr(
        &mut self,
        ctx: CCtx,
        from: NodeId,
        p: Partition,
        based_on: (u64, u64),
        mut isr: Vec<u32>,
    ) {
        let Some(s) = self.states.get(p as usize) else {
            return;
        };
        let leader = from.index() as u32;
        isr.sort_unstable();
        isr.dedup();
        let acceptable = s.leader == Some(leader)
            && (s.epoch, s.version) == based_on
            && isr.contains(&leader)
            && isr.iter().all(|b| self.replicas[p as usize].contains(b));
        if acceptable {
            let s = &mut self.states[p as usize];
            s.isr = isr;
            s.version += 1;
            self.persist(ctx, p as usize);
            ctx.sync();
        }
        let state = self.states[p as usize].clone();
        ctx.send(from, Msg::States(vec![(p, state)]));
    }

    pub(super) fn timer(&mut self, ctx: CCtx, timer: Timer) {
        if let Timer::Sweep = timer {
            let now = ctx.now();
            for b in 0..self.sessions.len() {
                let s = self.sessions[b];
                if s.alive && now.saturating_since(s.last_heard) > self.session_timeout {
                    self.failed(ctx, b as u32);
                }
            }
            let lapsed = self
                .members
                .iter_mut()
                .filter(|m| m.alive && now.saturating_since(m.last_heard) > self.session_timeout)
                .map(|m| m.alive = false)
                .count();
            if lapsed > 0 {
                self.set_generation(ctx, self.generation + 1);
            }
            if self.rebalance_every > SimDuration::ZERO && now >= self.next_rebalance {
                self.next_rebalance = now + self.rebalance_every;
                self.rebalance(ctx);
            }
            ctx.set_timer(self.sweep_every, Timer::Sweep);
        }
    }

    /// Preferred-leader election: each partition whose preferred replica
    /// (its first) is alive, in sync and not leading is handed back to it
    /// (with `acks = 1`, what the old leader acknowledged and the
    /// preferred one lacks is lost here as in any leader change).
    fn rebalance(&mut self, ctx: CCtx) {
        let mut changed = false;
        for p in 0..self.states.len() {
            let preferred = self.replicas[p][0];
            let s = &self.states[p];
            let alive = self.sessions[preferred as usize].alive;
            if s.leader == Some(preferred) || !alive || !s.isr.contains(&preferred) {
                continue;
            }
            let s = &mut self.states[p];
            s.epoch += 1;
            s.version += 1;
            s.leader = Some(preferred);
            ctx.note(Note::Elected {
                partition: p as Partition,
                epoch: s.epoch,
                leader: Some(preferred),
                unclean: false,
            });
            self.persist(ctx, p);
            changed = true;
        }
        if changed {
            ctx.sync();
        }
    }

    /// Every partition's state.
    pub fn states(&self) -> &[PartitionState] {
        &self.states
    }
}
