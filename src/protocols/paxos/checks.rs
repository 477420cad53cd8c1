//! Multi-Paxos's checks, judged on the ghost record of every acceptor's
//! promises and accepts (notes; they never change the run) and on the
//! client history at the end:
//!
//! - `paxos.agreement` (always): never two values chosen for one slot. A
//!   value is chosen when a majority accepted it in one ballot (the ghost
//!   record counts); two values accepted in one (slot, ballot), two values
//!   chosen in one slot, learners learning different values, or a learner
//!   learning a value no majority accepted are each a violation. The
//!   record keeps only the slots some server has not compacted into a
//!   snapshot (snapshots are synced, and an acceptor never accepts below
//!   its own): an accept in a slot every server compacted is a violation
//!   too.
//! - `paxos.validity` (always): only no-ops and commands some client sent
//!   are learned.
//! - `paxos.promises` (always): an acceptor's promise never goes back, in
//!   a life or across crashes, and it never accepts below it.
//! - `paxos.linearizable` (at end): the client history against a
//!   sequential key-value store.
//! - `paxos.liveness` (eventually): after the liveness phase, every client
//!   operation answered, and a leader in office at the end or elected
//!   during the phase (a server that times out at the last moment does
//!   not fail the run; an election that never ends does).

use super::slots::NodeSet;
use super::{Ballot, CmdId, Msg, Note, PaxosNode, Slot};
use crate::process::{CheckInfo, EndState, Invariants, NodeId, Undecided, Violation};
use crate::protocols::lincheck::{judge_kv, kv_check_history, Judgement};
use crate::time::{SimDuration, SimTime};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};

/// Every check Multi-Paxos reports.
pub const CHECKS: &[CheckInfo] = &[
    CheckInfo::always("paxos.agreement"),
    CheckInfo::always("paxos.validity"),
    CheckInfo::always("paxos.promises"),
    CheckInfo::at_end("paxos.linearizable"),
    CheckInfo::eventually("paxos.liveness"),
];

/// The checks of one run.
#[derive(Debug)]
pub struct PaxosChecks {
    servers: usize,
    liveness_start: SimTime,
    liveness_bound: SimDuration,
    /// Per client session, the highest command number sent (a session
    /// numbers its commands 1, 2, ...: every one up to it was sent).
    requested: BTreeMap<u64, u64>,
    /// Per acceptor (by node id): the highest ballot it promised or
    /// accepted in, over all its lives.
    promised: Vec<Ballot>,
    /// Per slot from `first` (slots count up from 0: a deque, not a map):
    /// what was accepted and chosen. Slots every server has compacted into
    /// a snapshot are dropped from the front, so the record stays as long
    /// as the servers' logs, not the run.
    slots: VecDeque<SlotRecord>,
    /// The first slot `slots` holds.
    first: Slot,
    /// Per server: the first slot not in the latest snapshot it took
    /// (synced, so it survives crashes; one installed from another server
    /// is not stored, and does not count).
    bases: Vec<Slot>,
    /// Slots dropped from the record that were chosen, and that were
    /// learned as no-ops (for the metrics).
    dropped: (u64, u64),
    elections: u64,
    snapshots: u64,
    /// Snapshots installed by new leaders, and by learners.
    installed: (u64, u64),
    /// When the last leader was elected.
    last_elected: Option<SimTime>,
    max_round: u64,
    linearizability: Judgement,
}

impl PaxosChecks {
    /// Checks for `servers` servers; the liveness phase begins at
    /// `liveness_start`, and a leader must be in office within
    /// `liveness_bound` of it.
    pub fn new(servers: usize, liveness_start: SimTime, liveness_bound: SimDuration) -> Self {
        PaxosChecks {
            servers,
            liveness_start,
            liveness_bound,
            requested: BTreeMap::new(),
            promised: vec![Ballot::default(); servers],
            slots: VecDeque::new(),
            first: 0,
            bases: vec![0; servers],
            dropped: (0, 0),
            elections: 0,
            snapshots: 0,
            installed: (0, 0),
            last_elected: None,
            max_round: 0,
            linearizability: Judgement::skipped(),
        }
    }

    /// An acceptor reached `ballot` by an `act` (promised, accepted in):
    /// it must not be below its promise, else a violation of `kind`.
    fn promise(
        &mut self,
        at: SimTime,
        node: NodeId,
        ballot: Ballot,
        (act, kind): (&str, &str),
    ) -> Result<(), Violation> {
        self.max_round = self.max_round.max(ballot.round);
        let before = &mut self.promised[node.index()];
        if ballot < *before {
            let message = format!(
                "acceptor {} {act} ballot {ballot:?} after promising {:?}",
                node.0, *before
            );
            return Err(Violation::new("paxos.promises", at, message).with_kind(kind));
        }
        *before = ballot;
        Ok(())
    }

    fn accepted(
        &mut self,
        at: SimTime,
        node: NodeId,
        slot: Slot,
        ballot: Ballot,
        cmd: CmdId,
    ) -> Result<(), Violation> {
        self.promise(at, node, ballot, ("accepted in", "accepted-below-promise"))?;
        let majority = self.servers / 2 + 1;
        let Some(record) = self.slot_mut(slot) else {
            let message = format!(
                "acceptor {} accepted {} in slot {slot}, which every server had compacted into a snapshot",
                node.0,
                name(cmd)
            );
            return Err(Violation::new("paxos.agreement", at, message)
                .with_kind("accepted-in-compacted-slot"));
        };
        let (_, value, by) = record.ballot(ballot, cmd);
        if *value != cmd {
            let message = format!(
                "slot {slot}: {} and {} both accepted in ballot {ballot:?}",
                name(*value),
                name(cmd)
            );
            return Err(
                Violation::new("paxos.agreement", at, message).with_kind("two-values-one-ballot")
            );
        }
        by.insert(node);
        if by.len() < majority {
            return Ok(());
        }
        match record.chosen.replace(cmd) {
            Some(before) if before != cmd => {
                let message = format!(
                    "slot {slot}: {} chosen (a majority accepted it in ballot {ballot:?}) after {} was",
                    name(cmd),
                    name(before)
                );
                Err(Violation::new("paxos.agreement", at, message).with_kind("two-values-chosen"))
            }
            _ => Ok(()),
        }
    }

    fn learned(
        &mut self,
        at: SimTime,
        node: NodeId,
        slot: Slot,
        cmd: CmdId,
    ) -> Result<(), Violation> {
        let violation = |kind: &str, message: String| {
            Err(Violation::new("paxos.agreement", at, message).with_kind(kind))
        };
        // Every learner after the first must learn the same value (checked
        // below), so validity is judged once per slot.
        let first_learner = self
            .slot_mut(slot)
            .is_some_and(|record| record.learned.is_none());
        if let (true, Some((session, seq))) = (first_learner, cmd) {
            let sent = self
                .requested
                .get(&session)
                .is_some_and(|&max| (1..=max).contains(&seq));
            if !sent {
                let message = format!(
                    "server {} learned command {seq} of session {session} in slot {slot}, which no client sent",
                    node.0
                );
                return Err(Violation::new("paxos.validity", at, message));
            }
        }
        // A learner told a slot every server compacted learns nothing new:
        // its store already holds the slot through its snapshot.
        let Some(record) = self.slot_mut(slot) else {
            return Ok(());
        };
        match record.chosen {
            Some(chosen) if chosen != cmd => {
                return violation(
                    "learned-other-value",
                    format!(
                        "server {} learned {} in slot {slot}, where {} was chosen",
                        node.0,
                        name(cmd),
                        name(chosen)
                    ),
                )
            }
            None => {
                return violation(
                    "learned-without-majority",
                    format!(
                        "server {} learned {} in slot {slot}, which no majority accepted",
                        node.0,
                        name(cmd)
                    ),
                )
            }
            Some(_) => {}
        }
        match record.learned.replace(cmd) {
            Some(before) if before != cmd => violation(
                "learners-disagree",
                format!(
                    "server {} learned {} in slot {slot}, another learned {}",
                    node.0,
                    name(cmd),
                    name(before)
                ),
            ),
            _ => Ok(()),
        }
    }

    /// Slot `slot`'s record.
    /// `None` if every server compacted it.
    fn slot_mut(&mut self, slot: Slot) -> Option<&mut SlotRecord> {
        assert!(slot < 1 << 40, "slot {slot}: a run's slots count up from 0");
        let at = usize::try_from(slot.checked_sub(self.first)?).ok()?;
        if at >= self.slots.len() {
            self.slots.resize_with(at + 1, SlotRecord::default);
        }
        Some(&mut self.slots[at])
    }

    /// Server `node`'s snapshot now covers the slots before `slot`: drops
    /// the records of the slots every server has compacted.
    fn compacted(&mut self, node: NodeId, slot: Slot) {
        let base = &mut self.bases[node.index()];
        *base = (*base).max(slot);
        let everywhere = self.bases.iter().copied().min().unwrap_or(0);
        while self.first < everywhere {
            let Some(record) = self.slots.pop_front() else {
                self.first = everywhere;
                break;
            };
            self.dropped.0 += u64::from(record.chosen.is_some());
            self.dropped.1 += u64::from(matches!(record.learned, Some(None)));
            self.first += 1;
        }
    }

    fn liveness(&self, end: &EndState<'_, PaxosNode>) -> Vec<Violation> {
        if end.time <= self.liveness_start + self.liveness_bound {
            return Vec::new();
        }
        let mut found = Vec::new();
        let leads = end.nodes[..end.servers]
            .iter()
            .filter_map(|n| n.and_then(PaxosNode::server))
            .any(|s| s.leading().is_some());
        let elected = self.last_elected.is_some_and(|t| t > self.liveness_start);
        if !leads && !elected {
            let message = format!(
                "no leader elected in the liveness phase ({} long, from {}) and none in office at the end",
                end.time.saturating_since(self.liveness_start),
                self.liveness_start
            );
            found.push(Violation::new("paxos.liveness", end.time, message).with_kind("no-leader"));
        }
        let waiting: Vec<String> = (end.servers..end.nodes.len())
            .filter_map(|i| {
                let op = end.nodes[i].and_then(PaxosNode::client)?.pending()?;
                Some(format!("{} ({op:?})", NodeId(i as u32).name(end.servers)))
            })
            .collect();
        if !waiting.is_empty() {
            let message = format!(
                "client operations still without an outcome after the liveness phase: {}",
                waiting.join(", ")
            );
            found.push(
                Violation::new("paxos.liveness", end.time, message)
                    .with_kind("operation-without-outcome"),
            );
        }
        found
    }
}

/// The ghost record of one slot.
#[derive(Debug, Default)]
struct SlotRecord {
    /// Per ballot: the value accepted and who accepted it. Most slots see
    /// one ballot: the first is held inline (no allocation per slot), any
    /// later in `more_ballots`.
    first_ballot: Option<(Ballot, CmdId, NodeSet)>,
    more_ballots: Vec<(Ballot, CmdId, NodeSet)>,
    /// The value a majority accepted in one ballot.
    chosen: Option<CmdId>,
    /// The value learners learned.
    learned: Option<CmdId>,
}

impl SlotRecord {
    /// The record of `ballot`, begun with `cmd` if there is none yet.
    fn ballot(&mut self, ballot: Ballot, cmd: CmdId) -> &mut (Ballot, CmdId, NodeSet) {
        let first = self
            .first_ballot
            .get_or_insert_with(|| (ballot, cmd, NodeSet::default()));
        if first.0 == ballot {
            return first;
        }
        let at = match self.more_ballots.iter().position(|(b, _, _)| *b == ballot) {
            Some(at) => at,
            None => {
                self.more_ballots.push((ballot, cmd, NodeSet::default()));
                self.more_ballots.len() - 1
            }
        };
        &mut self.more_ballots[at]
    }
}

/// A command's name in messages.
fn name(cmd: CmdId) -> String {
    match cmd {
        None => "a no-op".into(),
        Some((session, seq)) => format!("command {seq} of session {session}"),
    }
}

impl Invariants<PaxosNode> for PaxosChecks {
    fn names(&self) -> &'static [CheckInfo] {
        CHECKS
    }

    fn on_send(&mut self, _from: NodeId, _to: NodeId, msg: &Msg) {
        if let Msg::Request { session, seq, .. } = msg {
            let max = self.requested.entry(*session).or_insert(0);
            *max = (*max).max(*seq);
        }
    }

    fn on_note(&mut self, at: SimTime, node: NodeId, note: &Note) -> Result<(), Violation> {
        match *note {
            Note::Promised { ballot } => {
                self.promise(at, node, ballot, ("promised", "promise-went-back"))
            }
            Note::Accepted { slot, ballot, cmd } => self.accepted(at, node, slot, ballot, cmd),
            Note::Learned { slot, cmd } => self.learned(at, node, slot, cmd),
            Note::Snapshotted { slot } => {
                self.snapshots += 1;
                self.compacted(node, slot);
                Ok(())
            }
            Note::Installed { leader, .. } => {
                if leader {
                    self.installed.0 += 1;
                } else {
                    self.installed.1 += 1;
                }
                Ok(())
            }
            Note::Elected { .. } => {
                self.elections += 1;
                self.last_elected = Some(at);
                Ok(())
            }
        }
    }

    fn at_end(&mut self, end: &EndState<'_, PaxosNode>) -> Vec<Violation> {
        let mut found = Vec::new();
        if end.is_enabled("paxos.linearizable") {
            let history = kv_check_history(end.history);
            self.linearizability = judge_kv("paxos.linearizable", &history, end.budget, end.time);
            found.extend(self.linearizability.violation());
        }
        if end.completed {
            found.extend(self.liveness(end));
        }
        found
    }

    fn undecided(&self) -> Vec<Undecided> {
        self.linearizability.undecided().into_iter().collect()
    }

    fn metrics(&self) -> BTreeMap<String, Value> {
        let mut metrics = self.linearizability.metrics("paxos_linearizability");
        let noops = self.dropped.1
            + self
                .slots
                .iter()
                .filter(|r| matches!(r.learned, Some(None)))
                .count() as u64;
        let chosen =
            self.dropped.0 + self.slots.iter().filter(|r| r.chosen.is_some()).count() as u64;
        metrics.extend([
            ("paxos_elections".to_string(), json!(self.elections)),
            ("paxos_max_round".to_string(), json!(self.max_round)),
            ("paxos_chosen".to_string(), json!(chosen)),
            ("paxos_noops".to_string(), json!(noops)),
            ("paxos_snapshots_taken".to_string(), json!(self.snapshots)),
            (
                "paxos_snapshots_installed_by_leaders".to_string(),
                json!(self.installed.0),
            ),
            (
                "paxos_snapshots_installed_by_learners".to_string(),
                json!(self.installed.1),
            ),
        ]);
        metrics
    }
}
