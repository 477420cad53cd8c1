//! Multi-Paxos's checks, judged on the ghost record of every acceptor's
//! promises and accepts (notes; they never change the run) and on the
//! client history at the end:
//!
//! - `paxos.agreement` (always): never two values chosen for one slot. A
//!   value is chosen when a majority accepted it in one ballot (the ghost
//!   record counts); two values accepted in one (slot, ballot), two values
//!   chosen in one slot, learners learning different values, or a learner
//!   learning a value no majority accepted are each a violation.
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

use super::{Ballot, CmdId, Msg, Note, PaxosNode, Slot};
use crate::process::{CheckInfo, EndState, Invariants, NodeId, Undecided, Violation};
use crate::protocols::lincheck::{judge_kv, kv_check_history, Judgement};
use crate::time::{SimDuration, SimTime};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

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
    /// Commands clients sent, as (session, seq).
    requested: BTreeSet<(u64, u64)>,
    /// Per acceptor: the highest ballot it promised or accepted in, over
    /// all its lives.
    promised: BTreeMap<NodeId, Ballot>,
    /// Per (slot, ballot): the value accepted and who accepted it.
    accepts: BTreeMap<(Slot, Ballot), (CmdId, BTreeSet<NodeId>)>,
    /// Per slot: the value a majority accepted.
    chosen: BTreeMap<Slot, CmdId>,
    /// Per slot: the value learners learned.
    learned: BTreeMap<Slot, CmdId>,
    elections: u64,
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
            requested: BTreeSet::new(),
            promised: BTreeMap::new(),
            accepts: BTreeMap::new(),
            chosen: BTreeMap::new(),
            learned: BTreeMap::new(),
            elections: 0,
            last_elected: None,
            max_round: 0,
            linearizability: Judgement::skipped(),
        }
    }

    /// An acceptor reached `ballot`: it must not be below its promise.
    fn promise(
        &mut self,
        at: SimTime,
        node: NodeId,
        ballot: Ballot,
        kind: &str,
    ) -> Result<(), Violation> {
        self.max_round = self.max_round.max(ballot.round);
        let before = self.promised.entry(node).or_default();
        if ballot < *before {
            let message = format!(
                "acceptor {} {} ballot {ballot:?} after promising {:?}",
                node.0,
                if kind == "promise-went-back" {
                    "promised"
                } else {
                    "accepted in"
                },
                *before
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
        self.promise(at, node, ballot, "accepted-below-promise")?;
        let majority = self.servers / 2 + 1;
        let (value, by) = self
            .accepts
            .entry((slot, ballot))
            .or_insert_with(|| (cmd, BTreeSet::new()));
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
        match self.chosen.insert(slot, cmd) {
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
        if let Some((session, seq)) = cmd {
            if !self.requested.contains(&(session, seq)) {
                let message = format!(
                    "server {} learned command {seq} of session {session} in slot {slot}, which no client sent",
                    node.0
                );
                return Err(Violation::new("paxos.validity", at, message));
            }
        }
        match self.chosen.get(&slot) {
            Some(&chosen) if chosen != cmd => {
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
        match self.learned.insert(slot, cmd) {
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
            self.requested.insert((*session, *seq));
        }
    }

    fn on_note(&mut self, at: SimTime, node: NodeId, note: &Note) -> Result<(), Violation> {
        match *note {
            Note::Promised { ballot } => self.promise(at, node, ballot, "promise-went-back"),
            Note::Accepted { slot, ballot, cmd } => self.accepted(at, node, slot, ballot, cmd),
            Note::Learned { slot, cmd } => self.learned(at, node, slot, cmd),
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
        let noops = self.learned.values().filter(|c| c.is_none()).count();
        metrics.extend([
            ("paxos_elections".to_string(), json!(self.elections)),
            ("paxos_max_round".to_string(), json!(self.max_round)),
            ("paxos_chosen".to_string(), json!(self.chosen.len())),
            ("paxos_noops".to_string(), json!(noops)),
        ]);
        metrics
    }
}
