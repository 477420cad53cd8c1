//! A Multi-Paxos server: acceptor, learner and proposer in one process.
//!
//! Invariants (asserted as it runs): every accepted ballot is at most the
//! promised one; the applied prefix is known chosen; a leader's ballot is
//! its own and at most the one it promised. That the promise never goes
//! back, across restarts too (it is synced before any promise or accept is
//! answered), is judged by the checks, which see every life.

use super::slots::{NodeSet, Pending, SlotLog};
use super::{Ballot, Cmd, Msg, Note, PaxosNode, PaxosOptions, Slot, Stored, Timer};
use crate::process::{Ctx, Disk, DiskKey, NodeId};
use crate::protocols::raft::kv::Kv;
use crate::protocols::raft::kv::KvRes;
use crate::protocols::raft::messages::Answer;
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

type PCtx<'a, 'b> = &'a mut Ctx<'b, PaxosNode>;

/// The acceptor's promised ballot on disk.
const PROMISED: DiskKey = DiskKey::single("promised");
/// The acceptor's accepted values on disk, by slot.
const ACCEPTED: &str = "accepted";
/// The latest snapshot on disk.
const SNAPSHOT: DiskKey = DiskKey::single("snapshot");

/// What the proposer is doing.
#[derive(Debug)]
enum Phase {
    /// Following whoever leads (or waiting to try).
    Follower,
    /// Asking whether a majority would promise `ballot` before promising
    /// anything (like Raft's PreVote): acceptors that hear a leader say
    /// no, so a server that merely lost a few heartbeats deposes no one.
    Probing { ballot: Ballot, yes: BTreeSet<u32> },
    /// Phase 1 in `ballot`, for every slot from `from`: the promises so far.
    Preparing {
        ballot: Ballot,
        from: Slot,
        promises: BTreeMap<u32, Vec<(Slot, Ballot, Cmd)>>,
        /// The latest snapshot a promise carried.
        snapshot: Option<(Slot, Rc<Kv>)>,
    },
    /// Leading in `ballot`.
    Leading(Leading),
}

/// What a leader has sent one follower.
#[derive(Debug)]
struct Pipe {
    /// Every slot below this was sent.
    next: Slot,
    /// Every slot below this was accepted (sending resumes here after a
    /// lost batch).
    acked: Slot,
    /// When the batch in flight went out, if one is (one at a time, like
    /// Raft's AppendEntries: what accumulates meanwhile goes in the next).
    in_flight: Option<SimTime>,
}

/// A leader's state.
#[derive(Debug)]
struct Leading {
    ballot: Ballot,
    /// The next free slot.
    next: Slot,
    /// Per follower, what it was sent.
    pipes: BTreeMap<u32, Pipe>,
    /// Proposed, not yet chosen: the value and who accepted it.
    proposals: Pending<(Cmd, NodeSet)>,
    /// The client and command each slot's proposal came from, to answer
    /// once the slot is applied (if the command was chosen there).
    clients: Pending<(NodeId, u64, u64)>,
}

/// A Multi-Paxos server.
#[derive(Debug)]
pub struct Replica {
    options: PaxosOptions,
    me: NodeId,
    servers: usize,
    /// Acceptor: the highest ballot promised (durable).
    promised: Ballot,
    /// Acceptor: the latest (ballot, value) accepted per slot (durable).
    accepted: SlotLog<(Ballot, Cmd)>,
    /// Learner: the values known chosen.
    chosen: SlotLog<Cmd>,
    /// Learner: every slot below this is applied.
    applied: Slot,
    kv: Kv,
    /// This server's latest snapshot: its first slot not in it (accepted
    /// and chosen values before were dropped), and the store then.
    base: Slot,
    snapshot: Option<Rc<Kv>>,
    phase: Phase,
    /// The highest round of any ballot seen.
    max_round: u64,
    /// The leader last heard from, if any.
    leader: Option<NodeId>,
    /// When this server last heard a leader or a proposer (or began
    /// waiting).
    heard: SimTime,
    /// When this server last heard a leader (an accept or a heartbeat of
    /// a ballot at least its promise), if ever.
    leader_heard: Option<SimTime>,
    /// How long to hear nothing before trying to lead.
    timeout: SimDuration,
    /// Phase 1 attempts preempted in a row (the backoff grows with them).
    preemptions: u32,
    /// A preempted proposer tries again no sooner than this.
    backoff_until: SimTime,
}

impl Replica {
    /// Server `me` of `servers`, before its first start.
    pub fn new(options: PaxosOptions, me: NodeId, servers: usize) -> Self {
        Replica {
            timeout: options.election_min,
            options,
            me,
            servers,
            promised: Ballot::default(),
            accepted: SlotLog::default(),
            chosen: SlotLog::default(),
            applied: 0,
            kv: Kv::default(),
            base: 0,
            snapshot: None,
            phase: Phase::Follower,
            max_round: 0,
            leader: None,
            heard: SimTime::ZERO,
            leader_heard: None,
            preemptions: 0,
            backoff_until: SimTime::ZERO,
        }
    }

    /// The role a scenario's faults may target.
    pub fn role(&self) -> &'static str {
        match self.phase {
            Phase::Follower => "follower",
            Phase::Probing { .. } | Phase::Preparing { .. } => "candidate",
            Phase::Leading(_) => "leader",
        }
    }

    /// The ballot this server leads in, if it does.
    pub fn leading(&self) -> Option<Ballot> {
        match &self.phase {
            Phase::Leading(l) => Some(l.ballot),
            _ => None,
        }
    }

    fn majority(&self) -> usize {
        self.servers / 2 + 1
    }

    /// At each start: the acceptor's state as the disk holds it; the
    /// learner starts empty and learns the chosen values again.
    pub fn start(&mut self, ctx: PCtx, disk: &Disk<Stored>) {
        if let Some(Stored::Promised(b)) = disk.get(PROMISED) {
            self.promised = *b;
        }
        if let Some(Stored::Snapshot(slot, kv)) = disk.get(SNAPSHOT) {
            self.kv = Kv::clone(kv);
            self.snapshot = Some(Rc::new(Kv::clone(kv)));
            (self.base, self.applied) = (*slot, *slot);
            self.chosen.drop_before(*slot);
        }
        self.accepted = disk
            .scan(ACCEPTED)
            .filter_map(|(slot, s)| match s {
                Stored::Accepted(b, cmd) => Some((slot, (*b, cmd.clone()))),
                _ => None,
            })
            .collect();
        self.accepted.drop_before(self.base);
        self.max_round = self
            .accepted
            .values()
            .map(|(b, _)| b.round)
            .chain([self.promised.round])
            .max()
            .unwrap_or(0);
        self.wait_for_leader(ctx);
        ctx.set_timer(self.options.heartbeat, Timer::Tick);
        self.assert_invariants();
    }

    /// Follows, hearing nothing yet: tries to lead after a fresh timeout.
    fn wait_for_leader(&mut self, ctx: PCtx) {
        self.phase = Phase::Follower;
        self.heard = ctx.now();
        self.timeout = if self.options.backoff {
            between(ctx, self.options.election_min, self.options.election_max)
        } else {
            self.options.election_min
        };
    }

    /// A timer fired.
    pub fn on_timer(&mut self, ctx: PCtx, timer: Timer) {
        if timer != Timer::Tick {
            return;
        }
        ctx.set_timer(self.options.heartbeat, Timer::Tick);
        match &self.phase {
            Phase::Leading(_) => self.leader_tick(ctx),
            Phase::Preparing { ballot, from, .. } => {
                let msg = Msg::Prepare {
                    ballot: *ballot,
                    from: *from,
                };
                ctx.broadcast(msg);
            }
            Phase::Follower | Phase::Probing { .. } => {
                let now = ctx.now();
                if now.saturating_since(self.heard) >= self.timeout && now >= self.backoff_until {
                    self.probe(ctx);
                }
            }
        }
        self.assert_invariants();
    }

    /// A leader, each heartbeat: a batch unanswered for a heartbeat is
    /// taken as lost and sent again; a follower with nothing to accept
    /// gets a heartbeat (with the chosen prefix).
    fn leader_tick(&mut self, ctx: PCtx) {
        let now = ctx.now();
        let heartbeat = self.options.heartbeat;
        let Phase::Leading(l) = &mut self.phase else {
            return;
        };
        for pipe in l.pipes.values_mut() {
            if pipe
                .in_flight
                .is_some_and(|at| now.saturating_since(at) >= heartbeat)
            {
                pipe.in_flight = None;
                pipe.next = pipe.acked;
            }
        }
        let ballot = l.ballot;
        for f in followers(self.me, self.servers) {
            if !self.send_batch(ctx, f) {
                let chosen = self.chosen_for(f);
                ctx.send(NodeId(f), Msg::Heartbeat { ballot, chosen });
            }
        }
    }

    /// The chosen prefix a leader tells follower `f`: only as far as it
    /// sent `f` (the rest `f` gets in its next batches; a slot it lacks
    /// below this, chosen before this ballot, it asks for).
    fn chosen_for(&self, f: u32) -> Slot {
        match &self.phase {
            Phase::Leading(l) => l
                .pipes
                .get(&f)
                .map_or(self.applied, |p| p.next.min(self.applied)),
            _ => self.applied,
        }
    }

    /// Sends follower `f` the next batch of proposals unless one is in
    /// flight; whether a batch is (now) in flight.
    fn send_batch(&mut self, ctx: PCtx, f: u32) -> bool {
        let now = ctx.now();
        let chosen = self.applied;
        let Phase::Leading(l) = &mut self.phase else {
            return false;
        };
        let Some(pipe) = l.pipes.get_mut(&f) else {
            return false;
        };
        if pipe.in_flight.is_some() {
            return true;
        }
        // Slots before the leader's snapshot are not sent: the follower
        // learns them from the snapshot.
        pipe.next = pipe.next.max(self.base);
        pipe.acked = pipe.acked.max(self.base);
        // Consecutive slots from the pipe's next, each proposed or chosen
        // (a takeover proposes its slots one by one).
        let last = l.next.min(pipe.next + self.options.batch_max as Slot);
        let entries: Vec<(Slot, Cmd)> = (pipe.next..last)
            .map_while(|s| {
                let value = l.proposals.get(s).map(|(c, _)| c).or(self.chosen.get(&s));
                value.map(|c| (s, c.clone()))
            })
            .collect();
        let Some(&(last_sent, _)) = entries.last() else {
            return false;
        };
        let end = last_sent + 1;
        pipe.next = end;
        pipe.in_flight = Some(now);
        let ballot = l.ballot;
        ctx.send(
            NodeId(f),
            Msg::Accept {
                ballot,
                entries,
                chosen: chosen.min(end),
            },
        );
        true
    }

    /// A message arrived.
    pub fn on_message(&mut self, ctx: PCtx, from: NodeId, msg: Msg) {
        match msg {
            Msg::Request { session, seq, op } => self.request(ctx, from, session, seq, op),
            Msg::Probe { ballot } => self.on_probe(ctx, from, ballot),
            Msg::ProbeOk { ballot } => self.on_probe_ok(ctx, from, ballot),
            Msg::Prepare { ballot, from: slot } => self.on_prepare(ctx, from, ballot, slot),
            Msg::Promise {
                ballot,
                accepted,
                snapshot,
            } => self.on_promise(ctx, from, ballot, accepted, snapshot),
            Msg::Snapshot { slot, kv } => self.install(ctx, slot, &kv, false),
            Msg::Accept {
                ballot,
                entries,
                chosen,
            } => self.on_accept(ctx, from, ballot, entries, chosen),
            Msg::Accepted { ballot, slots } => self.on_accepted(ctx, from, ballot, slots),
            Msg::Nack { promised } => self.on_nack(ctx, promised),
            Msg::Heartbeat { ballot, chosen } => self.on_heartbeat(ctx, from, ballot, chosen),
            Msg::Learn { from: slot } => self.on_learn(ctx, from, slot),
            Msg::Chosen { entries } => {
                for (slot, cmd) in entries {
                    self.learn(ctx, slot, cmd);
                }
            }
            Msg::Response { .. } => {}
        }
        self.assert_invariants();
    }

    /// The ballot this server proposes in, if it is preparing or leading.
    fn own_ballot(&self) -> Option<Ballot> {
        match &self.phase {
            Phase::Follower | Phase::Probing { .. } => None,
            Phase::Preparing { ballot, .. } => Some(*ballot),
            Phase::Leading(l) => Some(l.ballot),
        }
    }

    /// Someone else proposes in `ballot` (`leads`: a leader, by its
    /// accept or heartbeat; else a prepare). A proposer with a lower ballot
    /// steps down and the wait for a leader starts over; without
    /// `backoff` a proposer steps down only for a leader, and learns it
    /// was preempted from the acceptors' refusals (dueling proposers).
    fn heard_ballot(&mut self, ctx: PCtx, ballot: Ballot, leads: bool) {
        self.max_round = self.max_round.max(ballot.round);
        let defers = leads || self.options.backoff;
        if defers && self.own_ballot().is_some_and(|own| own < ballot) {
            self.wait_for_leader(ctx);
        }
        if self.own_ballot().is_none() && ballot >= self.promised {
            self.heard = ctx.now();
            if leads {
                self.leader_heard = Some(ctx.now());
                if matches!(self.phase, Phase::Probing { .. }) {
                    self.phase = Phase::Follower;
                }
            }
        }
    }

    // Acceptor.

    /// Promises `ballot` if it is at least the promised one (again, for a
    /// repeated prepare); syncs before the caller answers.
    fn promise(&mut self, ctx: PCtx, ballot: Ballot) -> bool {
        if ballot < self.promised {
            return false;
        }
        if ballot > self.promised {
            self.promised = ballot;
            ctx.write(PROMISED, Stored::Promised(ballot));
            ctx.sync();
        }
        ctx.note(Note::Promised { ballot });
        true
    }

    /// What this acceptor accepted from `from` on.
    fn accepted_from(&self, from: Slot) -> Vec<(Slot, Ballot, Cmd)> {
        self.accepted
            .range_from(from)
            .map(|(s, (b, c))| (s, *b, c.clone()))
            .collect()
    }

    /// Accepts each (slot, value) in `ballot` unless it promised a
    /// higher one; written and synced (once) before the caller answers.
    fn accept(&mut self, ctx: PCtx, ballot: Ballot, mut entries: Vec<(Slot, Cmd)>) -> bool {
        if ballot < self.promised {
            return false;
        }
        if ballot > self.promised {
            self.promised = ballot;
            ctx.write(PROMISED, Stored::Promised(ballot));
        }
        // A slot below the snapshot is chosen and compacted: a leader's
        // resent batch may still carry it. Nothing to accept there (the
        // reply still acknowledges the batch).
        let base = self.base;
        entries.retain(|(s, _)| *s >= base);
        for (slot, cmd) in &entries {
            let value = Stored::Accepted(ballot, cmd.clone());
            ctx.write(DiskKey::new(ACCEPTED, *slot), value);
        }
        ctx.sync();
        assert!(
            ballot <= self.promised,
            "server {}: accepting in {ballot:?} above its promise {:?}",
            self.me.0,
            self.promised
        );
        for (slot, cmd) in entries {
            let id = cmd.id();
            self.accepted.insert(slot, (ballot, cmd));
            ctx.note(Note::Accepted {
                slot,
                ballot,
                cmd: id,
            });
        }
        true
    }

    /// Whether this server follows a leader it heard within the shortest
    /// election timeout, other than `from`: then it ignores `from`'s
    /// probes and prepares (the leader stickiness of Raft's PreVote, or a
    /// lease), so that a server that merely missed a few heartbeats cannot
    /// depose a working leader. Always safe: it only promises less.
    fn sticks_to_leader(&self, ctx: PCtx, from: NodeId) -> bool {
        if !self.options.probe {
            return false;
        }
        let recent = self
            .leader_heard
            .is_some_and(|t| ctx.now().saturating_since(t) < self.options.election_min);
        recent && self.own_ballot().is_none() && Some(from) != self.leader
    }

    fn on_probe(&mut self, ctx: PCtx, from: NodeId, ballot: Ballot) {
        if ballot > self.promised && !self.sticks_to_leader(ctx, from) {
            ctx.send(from, Msg::ProbeOk { ballot });
        }
    }

    fn on_prepare(&mut self, ctx: PCtx, from: NodeId, ballot: Ballot, slot: Slot) {
        if self.sticks_to_leader(ctx, from) {
            return;
        }
        self.heard_ballot(ctx, ballot, false);
        if self.promise(ctx, ballot) {
            let accepted = self.accepted_from(slot);
            let snapshot = match &self.snapshot {
                Some(kv) if slot < self.base => Some((self.base, Rc::clone(kv))),
                _ => None,
            };
            let msg = Msg::Promise {
                ballot,
                accepted,
                snapshot,
            };
            ctx.send(from, msg);
        } else {
            let promised = self.promised;
            ctx.send(from, Msg::Nack { promised });
        }
    }

    fn on_accept(
        &mut self,
        ctx: PCtx,
        from: NodeId,
        ballot: Ballot,
        entries: Vec<(Slot, Cmd)>,
        chosen: Slot,
    ) {
        self.heard_ballot(ctx, ballot, true);
        let slots: Vec<Slot> = entries.iter().map(|(s, _)| *s).collect();
        if !self.accept(ctx, ballot, entries) {
            let promised = self.promised;
            return ctx.send(from, Msg::Nack { promised });
        }
        self.leader = Some(from);
        if !ctx.buggify("paxos.drop-accepted-reply") {
            ctx.send(from, Msg::Accepted { ballot, slots });
        }
        self.learn_chosen(ctx, from, ballot, chosen);
    }

    /// The leader of `ballot` says every slot below `chosen` is chosen:
    /// a slot whose value this acceptor accepted in that ballot is learned
    /// from it; at the first other, the learner asks the leader.
    fn learn_chosen(&mut self, ctx: PCtx, leader: NodeId, ballot: Ballot, chosen: Slot) {
        while self.applied < chosen {
            let slot = self.applied;
            let known = match (self.chosen.get(&slot), self.accepted.get(&slot)) {
                (Some(cmd), _) => cmd.clone(),
                (None, Some((b, cmd))) if *b == ballot => cmd.clone(),
                _ => return ctx.send(leader, Msg::Learn { from: slot }),
            };
            self.learn(ctx, slot, known);
        }
    }

    // Proposer.

    /// Before phase 1: asks whether a majority would promise a ballot
    /// above every one seen, promising nothing yet.
    fn probe(&mut self, ctx: PCtx) {
        if !self.options.probe {
            self.heard = ctx.now();
            return self.prepare(ctx);
        }
        let ballot = Ballot {
            round: self.max_round.max(self.promised.round) + 1,
            node: self.me.0,
        };
        self.heard = ctx.now();
        self.phase = Phase::Probing {
            ballot,
            yes: BTreeSet::from([self.me.0]),
        };
        if ctx.buggify("paxos.skip-probe") {
            return self.prepare(ctx);
        }
        ctx.broadcast(Msg::Probe { ballot });
        self.maybe_prepare(ctx);
    }

    fn on_probe_ok(&mut self, ctx: PCtx, from: NodeId, ballot: Ballot) {
        if let Phase::Probing { ballot: own, yes } = &mut self.phase {
            if *own == ballot {
                yes.insert(from.0);
            }
        }
        self.maybe_prepare(ctx);
    }

    /// With a majority saying yes to the probe: phase 1.
    fn maybe_prepare(&mut self, ctx: PCtx) {
        let majority = self.majority();
        if let Phase::Probing { yes, .. } = &self.phase {
            if yes.len() >= majority {
                self.prepare(ctx);
            }
        }
    }

    /// Phase 1: a ballot above every one seen, promised to itself first.
    fn prepare(&mut self, ctx: PCtx) {
        self.max_round = self.max_round.max(self.promised.round) + 1;
        let ballot = Ballot {
            round: self.max_round,
            node: self.me.0,
        };
        let from = self.applied;
        assert!(
            self.promise(ctx, ballot),
            "server {}: a fresh ballot {ballot:?} below its promise {:?}",
            self.me.0,
            self.promised
        );
        let mut promises = BTreeMap::new();
        promises.insert(self.me.0, self.accepted_from(from));
        self.phase = Phase::Preparing {
            ballot,
            from,
            promises,
            snapshot: None,
        };
        self.leader = None;
        ctx.broadcast(Msg::Prepare { ballot, from });
        self.maybe_lead(ctx);
    }

    fn on_promise(
        &mut self,
        ctx: PCtx,
        from: NodeId,
        ballot: Ballot,
        accepted: Vec<(Slot, Ballot, Cmd)>,
        snapshot: Option<(Slot, Rc<Kv>)>,
    ) {
        let Phase::Preparing {
            ballot: own,
            promises,
            snapshot: latest,
            ..
        } = &mut self.phase
        else {
            return;
        };
        if *own != ballot {
            return;
        }
        promises.insert(from.0, accepted);
        if let Some((slot, kv)) = snapshot {
            if latest.as_ref().is_none_or(|(s, _)| slot > *s) {
                *latest = Some((slot, kv));
            }
        }
        self.maybe_lead(ctx);
    }

    /// With a majority of promises: lead, re-proposing in each slot the
    /// value of the highest ballot reported, no-ops in the gaps.
    fn maybe_lead(&mut self, ctx: PCtx) {
        let Phase::Preparing {
            ballot,
            from,
            promises,
            snapshot,
        } = &self.phase
        else {
            return;
        };
        if promises.len() < self.majority() {
            return;
        }
        let (ballot, from) = (*ballot, *from);
        // Behind an acceptor's snapshot: install it first; the slots it
        // holds are chosen and applied.
        if let Some((slot, kv)) = snapshot.clone() {
            self.install(ctx, slot, &kv, true);
        }
        let from = from.max(self.applied);
        let Phase::Preparing { promises, .. } = &self.phase else {
            return;
        };
        let mut highest: BTreeMap<Slot, (Ballot, Cmd)> = BTreeMap::new();
        for (slot, b, cmd) in promises.values().flatten().filter(|(s, _, _)| *s >= from) {
            let replace = highest.get(slot).is_none_or(|(hb, _)| b > hb);
            if replace {
                highest.insert(*slot, (*b, cmd.clone()));
            }
        }
        let end = highest.keys().next_back().map_or(from, |&s| s + 1);
        let pipes = ctx
            .peers()
            .map(|p| {
                let pipe = Pipe {
                    next: from,
                    acked: from,
                    in_flight: None,
                };
                (p.0, pipe)
            })
            .collect();
        self.phase = Phase::Leading(Leading {
            ballot,
            next: end.max(from),
            pipes,
            proposals: Pending::starting_at(from),
            clients: Pending::starting_at(from),
        });
        self.preemptions = 0;
        self.leader = Some(self.me);
        ctx.note(Note::Elected { ballot });
        let takeover: Vec<(Slot, Cmd)> = (from..end)
            .map(|slot| {
                let cmd = match (self.chosen.get(&slot), highest.remove(&slot)) {
                    (Some(chosen), _) => chosen.clone(),
                    (None, Some((_, cmd))) => cmd,
                    (None, None) => Cmd::Noop,
                };
                (slot, cmd)
            })
            .collect();
        self.propose(ctx, takeover);
        self.leader_tick(ctx);
    }

    /// Phase 2 for each (slot, value): accepted by the leader's own
    /// acceptor (one sync), then sent to each follower with no batch in
    /// flight (the others get them in their next batch).
    fn propose(&mut self, ctx: PCtx, entries: Vec<(Slot, Cmd)>) {
        let Phase::Leading(l) = &self.phase else {
            return;
        };
        let ballot = l.ballot;
        if !self.accept(ctx, ballot, entries.clone()) {
            // Its own acceptor promised a higher ballot: preempted.
            let promised = self.promised;
            return self.on_nack(ctx, promised);
        }
        let Phase::Leading(l) = &mut self.phase else {
            return;
        };
        let slots: Vec<Slot> = entries.iter().map(|(s, _)| *s).collect();
        for (slot, cmd) in entries {
            l.proposals.push(slot, (cmd, NodeSet::of(self.me)));
        }
        for f in followers(self.me, self.servers) {
            self.send_batch(ctx, f);
        }
        for slot in slots {
            self.maybe_chosen(ctx, slot);
        }
    }

    fn on_accepted(&mut self, ctx: PCtx, from: NodeId, ballot: Ballot, slots: Vec<Slot>) {
        let Phase::Leading(l) = &mut self.phase else {
            return;
        };
        if l.ballot != ballot {
            return;
        }
        if let (Some(pipe), Some(&first), Some(&last)) =
            (l.pipes.get_mut(&from.0), slots.first(), slots.last())
        {
            // Only the answer to the latest batch ends the wait (a late
            // answer to one sent again must not let a batch be skipped),
            // and `acked` only grows without gaps.
            if last + 1 == pipe.next {
                pipe.in_flight = None;
            }
            if first <= pipe.acked {
                pipe.acked = pipe.acked.max(last + 1);
            }
        }
        for &slot in &slots {
            if let Some((_, acks)) = l.proposals.get_mut(slot) {
                acks.insert(from);
            }
        }
        for slot in slots {
            self.maybe_chosen(ctx, slot);
        }
        self.send_batch(ctx, from.0);
    }

    /// A proposal a majority accepted is chosen: the leader learns it, and
    /// tells the followers with its next batch or heartbeat.
    fn maybe_chosen(&mut self, ctx: PCtx, slot: Slot) {
        let majority = self.majority();
        let Phase::Leading(l) = &mut self.phase else {
            return;
        };
        if l.proposals
            .get(slot)
            .is_none_or(|(_, acks)| acks.len() < majority)
        {
            return;
        }
        let Some((cmd, _)) = l.proposals.remove(slot) else {
            return;
        };
        self.learn(ctx, slot, cmd);
    }

    /// An acceptor refused: it promised `promised`. A proposer with a
    /// lower ballot is preempted: without `backoff` it starts phase 1
    /// again at once, with it waits a random time that doubles with each
    /// preemption in a row.
    fn on_nack(&mut self, ctx: PCtx, promised: Ballot) {
        self.max_round = self.max_round.max(promised.round);
        if self.own_ballot().is_none_or(|own| own >= promised) {
            return;
        }
        self.preemptions += 1;
        if !self.options.backoff {
            return self.prepare(ctx);
        }
        self.wait_for_leader(ctx);
        let doublings = self.preemptions.min(6);
        let most = SimDuration::from_nanos(self.options.election_max.as_nanos() << doublings);
        self.backoff_until = ctx.now() + between(ctx, SimDuration::ZERO, most);
    }

    fn on_heartbeat(&mut self, ctx: PCtx, from: NodeId, ballot: Ballot, chosen: Slot) {
        if ballot < self.promised {
            let promised = self.promised;
            return ctx.send(from, Msg::Nack { promised });
        }
        self.heard_ballot(ctx, ballot, true);
        self.leader = Some(from);
        self.learn_chosen(ctx, from, ballot, chosen);
    }

    fn on_learn(&mut self, ctx: PCtx, from: NodeId, slot: Slot) {
        if let Some(kv) = self.snapshot.as_ref().filter(|_| slot < self.base) {
            let msg = Msg::Snapshot {
                slot: self.base,
                kv: Rc::clone(kv),
            };
            return ctx.send(from, msg);
        }
        let entries: Vec<(Slot, Cmd)> = self
            .chosen
            .range_from(slot)
            .take(self.options.batch_max)
            .map(|(s, c)| (s, c.clone()))
            .collect();
        if !entries.is_empty() {
            ctx.send(from, Msg::Chosen { entries });
        }
    }

    /// A client's command: the leader proposes it in the next slot; any
    /// other server points to the leader it knows.
    fn request(
        &mut self,
        ctx: PCtx,
        client: NodeId,
        session: u64,
        seq: u64,
        op: std::rc::Rc<crate::protocols::raft::kv::KvOp>,
    ) {
        let Phase::Leading(l) = &mut self.phase else {
            let hint = self.leader.filter(|&l| l != self.me);
            let outcome = Answer::NotLeader { hint };
            return ctx.send(client, Msg::Response { seq, outcome });
        };
        let slot = l.next;
        l.next += 1;
        l.clients.push(slot, (client, session, seq));
        self.propose(ctx, vec![(slot, Cmd::Op { session, seq, op })]);
    }

    // Learner.

    /// `cmd` is chosen in `slot`: applied once every slot before it is.
    fn learn(&mut self, ctx: PCtx, slot: Slot, cmd: Cmd) {
        if slot < self.applied || self.chosen.contains_key(&slot) {
            return;
        }
        ctx.note(Note::Learned {
            slot,
            cmd: cmd.id(),
        });
        self.chosen.insert(slot, cmd);
        while let Some(cmd) = self.chosen.get(&self.applied) {
            let slot = self.applied;
            let res = match cmd {
                Cmd::Noop => None,
                Cmd::Op { session, seq, op } => {
                    Some((*session, *seq, self.kv.apply(*session, *seq, op)))
                }
            };
            self.applied += 1;
            self.answer(ctx, slot, res);
        }
        self.maybe_snapshot(ctx);
    }

    /// Every `snapshot_every` applied slots: the store is written and
    /// synced as a snapshot, and the accepted and chosen values before it
    /// dropped (on disk too). A prepare or a learner asking about them
    /// gets the snapshot.
    fn maybe_snapshot(&mut self, ctx: PCtx) {
        let every = self.options.snapshot_every;
        let due = every > 0 && self.applied - self.base >= every;
        let early = every > 0 && self.applied > self.base && ctx.buggify("paxos.snapshot-early");
        if !due && !early {
            return;
        }
        let slot = self.applied;
        ctx.write(SNAPSHOT, Stored::Snapshot(slot, Box::new(self.kv.clone())));
        ctx.delete_range(ACCEPTED, 0, slot - 1);
        ctx.sync();
        self.accepted.drop_before(slot);
        self.chosen.drop_before(slot);
        self.base = slot;
        self.snapshot = Some(Rc::new(self.kv.clone()));
        ctx.note(Note::Snapshotted { slot });
    }

    /// A snapshot of the store as of `slot`, from another server: taken
    /// if it is ahead of what this learner applied (by a new `leader`, or
    /// a learner).
    fn install(&mut self, ctx: PCtx, slot: Slot, kv: &Kv, leader: bool) {
        if slot <= self.applied {
            return;
        }
        ctx.note(Note::Installed { slot, leader });
        self.kv = kv.clone();
        self.applied = slot;
        self.chosen.drop_before(slot);
    }

    /// The leader answers the client whose command it proposed in `slot`,
    /// if that command is the one chosen there.
    fn answer(&mut self, ctx: PCtx, slot: Slot, res: Option<(u64, u64, KvRes)>) {
        let Phase::Leading(l) = &mut self.phase else {
            return;
        };
        let Some((client, session, seq)) = l.clients.remove(slot) else {
            return;
        };
        if let Some((s, q, res)) = res {
            if (s, q) == (session, seq) {
                let outcome = Answer::Applied(res);
                ctx.send(client, Msg::Response { seq, outcome });
            }
        }
    }

    fn assert_invariants(&self) {
        assert!(
            self.base <= self.applied,
            "server {}: a snapshot at slot {} past the applied {}",
            self.me.0,
            self.base,
            self.applied
        );
        if let Phase::Leading(l) = &self.phase {
            assert!(
                l.ballot.node == self.me.0 && l.ballot <= self.promised,
                "server {}: leading in {:?}, promised {:?}",
                self.me.0,
                l.ballot,
                self.promised
            );
        }
    }
}

/// Every server but `me` of `servers`: a leader's followers.
fn followers(me: NodeId, servers: usize) -> impl Iterator<Item = u32> {
    (0..servers as u32).filter(move |&f| f != me.0)
}

/// A random duration in `lo..=hi`, from this node's stream.
fn between(ctx: PCtx, lo: SimDuration, hi: SimDuration) -> SimDuration {
    SimDuration::from_nanos(ctx.rng().between(lo.as_nanos(), hi.as_nanos()))
}
