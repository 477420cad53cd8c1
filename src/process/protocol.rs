//! A protocol bundle: the process, its workload and its checks under one
//! name (after Maelstrom's workloads). The engine runs any [`Protocol`].

use super::{NodeId, Process};
use crate::history::History;
use crate::rng::SimRng;
use crate::time::SimTime;
use serde::Serialize;
use std::collections::BTreeMap;

/// Operation type of a protocol's process.
pub type OpOf<P> = <<P as Protocol>::Node as Process>::Op;
/// Result type of a protocol's process.
pub type ResOf<P> = <<P as Protocol>::Node as Process>::Res;

/// How an operation appears in an exported history (Jepsen-shaped).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OpFields {
    /// The function, e.g. `"read"`, `"write"`, `"broadcast"`.
    pub f: String,
    /// The key, for partitioned models.
    pub key: Option<String>,
    /// The argument (on invoke) or the result (on completion).
    pub value: serde_json::Value,
}

/// Everything a simulation needs to know about one protocol.
pub trait Protocol {
    /// The process every simulated node runs (servers and clients alike).
    type Node: Process;
    /// The protocol's invariant checks.
    type Invariants: Invariants<Self::Node>;

    /// Number of server nodes; they are processes `0..server_count()`.
    fn server_count(&self) -> usize;

    /// Number of processes: the servers, then any client processes.
    fn process_count(&self) -> usize {
        self.server_count()
    }

    /// A fresh process for `id`: at time 0 and after every restart.
    fn new_process(&self, id: NodeId) -> Self::Node;

    /// The next operation of workload client `client`, and the process it
    /// goes to. Draw only from `rng` (the workload stream).
    fn next_op(&mut self, client: usize, rng: &mut SimRng) -> (NodeId, OpOf<Self>);

    /// Fresh invariant checks for one run.
    fn invariants(&self) -> Self::Invariants;

    /// The servers that carry `tag` now (`node = "tag:behind"`), judged
    /// from every live server's state (`servers[i]` is server `i`, `None`
    /// while it is down): tags say what no one node can say of itself,
    /// such as "its log is behind the cluster's commit index". The
    /// default tags no one; list a protocol's tags in its registry entry.
    fn tagged(&self, tag: &str, servers: &[Option<&Self::Node>]) -> Vec<NodeId> {
        let _ = (tag, servers);
        Vec::new()
    }

    /// How an operation is written into a history file. The default writes
    /// `f = "op"` and the operation's `Debug` text as its value; override it
    /// to give the function, key and a structured value (every built-in
    /// protocol does, and linearizability checks need it).
    fn op_fields(&self, op: &OpOf<Self>) -> OpFields {
        OpFields {
            f: "op".into(),
            key: None,
            value: serde_json::Value::String(format!("{op:?}")),
        }
    }

    /// The value a completed operation carries in a history file (Jepsen's
    /// convention: the value written for writes, the value read for reads).
    /// The default is the result's `Debug` text.
    fn result_value(&self, op: &OpOf<Self>, res: &ResOf<Self>) -> serde_json::Value {
        let _ = op;
        serde_json::Value::String(format!("{res:?}"))
    }
}

/// When a check is judged, and so what kind of property it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    /// A safety property judged as the run goes (from notes): its first
    /// violation stops the run at once.
    Always,
    /// A safety property judged over the whole run at its end (e.g. the
    /// history's linearizability, no acknowledged write lost).
    AtEnd,
    /// A liveness property: something must eventually happen, judged after
    /// the liveness phase (with every fault repaired).
    Eventually,
    /// A bound of the run itself (events, pending events, history), not a
    /// property of the protocol.
    Bound,
}

impl CheckKind {
    /// `always`, `at-end`, `eventually` or `bound`.
    pub fn name(self) -> &'static str {
        match self {
            CheckKind::Always => "always",
            CheckKind::AtEnd => "at-end",
            CheckKind::Eventually => "eventually",
            CheckKind::Bound => "bound",
        }
    }

    /// Whether its failure means no progress (liveness) rather than a wrong
    /// result (safety).
    pub fn is_liveness(self) -> bool {
        self == CheckKind::Eventually
    }
}

/// A check a protocol (or the engine) reports: its name and its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CheckInfo {
    /// The name, e.g. `"raft.election-safety"`.
    pub name: &'static str,
    /// When it is judged.
    pub kind: CheckKind,
}

impl CheckInfo {
    /// A safety check judged as the run goes.
    pub const fn always(name: &'static str) -> Self {
        CheckInfo {
            name,
            kind: CheckKind::Always,
        }
    }

    /// A safety check judged at the end of the run.
    pub const fn at_end(name: &'static str) -> Self {
        CheckInfo {
            name,
            kind: CheckKind::AtEnd,
        }
    }

    /// A liveness check judged after the liveness phase.
    pub const fn eventually(name: &'static str) -> Self {
        CheckInfo {
            name,
            kind: CheckKind::Eventually,
        }
    }

    /// A bound of the run.
    pub const fn bound(name: &'static str) -> Self {
        CheckInfo {
            name,
            kind: CheckKind::Bound,
        }
    }
}

/// A broken property: the check's name, what happened, and when.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Violation {
    /// The check, e.g. `"broadcast.delivery"`.
    pub check: String,
    /// What was observed, naming the nodes, terms, values involved.
    pub message: String,
    /// When it was detected (the end of the run for end checks).
    #[serde(rename = "time_ns", serialize_with = "as_nanos")]
    pub time: SimTime,
    /// Structured detail for reports (e.g. a linearizability counterexample).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    /// Which of its properties a check that bundles several found broken
    /// (`saga.outcome`: `took-effect-twice`, `compensated-twice`, ...), so
    /// `shrink` and `explore --guided` keep the same bug, not only the same
    /// check name. `None` for single-property checks.
    /// In JSON `failure_kind` (`kind` there says when the check is judged).
    #[serde(rename = "failure_kind", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

fn as_nanos<S: serde::Serializer>(t: &SimTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(t.as_nanos())
}

impl Violation {
    /// A violation of `check` at `time`.
    pub fn new(check: &str, time: SimTime, message: impl Into<String>) -> Self {
        Violation {
            check: check.to_string(),
            message: message.into(),
            time,
            data: None,
            kind: None,
        }
    }

    /// The same violation, naming which property of its check broke.
    pub fn with_kind(mut self, kind: &str) -> Self {
        self.kind = Some(kind.to_string());
        self
    }

    /// `check`, or `check/kind` when it has a kind: what a failure is
    /// de-duplicated and shrunk by.
    pub fn identity(&self) -> String {
        match &self.kind {
            Some(kind) => format!("{}/{kind}", self.check),
            None => self.check.clone(),
        }
    }

    /// This violation with structured detail attached.
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }
}

/// A check that could not be decided within its budget: which check, and
/// why (the bound it hit and how far it got). A run with one does not pass.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Undecided {
    /// The check, e.g. `"raft.linearizable"`.
    pub check: String,
    /// Which bound was hit and how far the check got, in words.
    pub reason: String,
    /// Structured detail (e.g. the checker's budget and progress).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// The budget of end-of-run checks that search (linearizability): work
/// counted deterministically, never wall time, so a verdict depends on the
/// scenario and seed alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckBudget {
    /// Search steps (see `check::CheckOptions::steps_max`).
    pub steps: u64,
    /// Bytes the checker's structures may hold.
    pub memory_bytes: usize,
}

impl Default for CheckBudget {
    fn default() -> Self {
        CheckBudget {
            steps: crate::check::DEFAULT_STEPS,
            // Enough to decide, from unique writes, any history within the
            // default `max_history_ops` (about 700 bytes counted per op).
            memory_bytes: 1 << 30,
        }
    }
}

impl CheckBudget {
    /// The checker's options under this budget: sequential, no deadline.
    pub fn options(&self) -> crate::check::CheckOptions {
        crate::check::CheckOptions {
            steps_max: Some(self.steps),
            memory_bytes_max: self.memory_bytes,
            threads: 1,
            deadline: None,
            ..crate::check::CheckOptions::default()
        }
    }
}

/// A change in a node's life, told to the checks as it happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// The node crashed: its volatile state is gone.
    Crashed,
    /// The node restarted from its disk.
    Restarted,
}

/// What the end-of-run checks may inspect.
pub struct EndState<'a, P: Process> {
    /// The end of the run.
    pub time: SimTime,
    /// Every process by id; `None` for one that is down at the end.
    pub nodes: Vec<Option<&'a P>>,
    /// Number of server nodes (the first entries of `nodes`).
    pub servers: usize,
    /// Every client operation.
    pub history: &'a History<P::Op, P::Res>,
    /// Whether the run reached its planned end (not stopped early by a
    /// violation or a bound); liveness checks only mean something then.
    pub completed: bool,
    /// The budget of checks that search.
    pub budget: CheckBudget,
    /// The checks that may fail the run (`None`: all); a check left out
    /// may skip expensive work.
    pub enabled_checks: Option<&'a [String]>,
}

impl<P: Process> EndState<'_, P> {
    /// Whether `check` can fail the run (so is worth computing).
    pub fn is_enabled(&self, check: &str) -> bool {
        self.enabled_checks
            .is_none_or(|list| list.iter().any(|c| c == check))
    }
}

/// The properties of a protocol, checked as the run goes and at its end.
pub trait Invariants<P: Process> {
    /// Every check this type can report, with its kind.
    fn names(&self) -> &'static [CheckInfo];

    /// A node noted `note` at true time `at`. An `Err` stops the run at once.
    fn on_note(&mut self, at: SimTime, node: NodeId, note: &P::Note) -> Result<(), Violation>;

    /// Node `from` sent `msg` to `to` (before the network decides its fate).
    /// For metrics such as messages by type; it cannot fail the run.
    fn on_send(&mut self, from: NodeId, to: NodeId, msg: &P::Msg) {
        let _ = (from, to, msg);
    }

    /// A node crashed or restarted.
    fn on_lifecycle(&mut self, at: SimTime, node: NodeId, event: Lifecycle) {
        let _ = (at, node, event);
    }

    /// Checks that need the whole run (eventual delivery, liveness).
    fn at_end(&mut self, end: &EndState<'_, P>) -> Vec<Violation>;

    /// Checks that `at_end` could not decide within their budget, with
    /// why. Asked once, after `at_end`.
    fn undecided(&self) -> Vec<Undecided> {
        Vec::new()
    }

    /// Protocol metrics for the run summary.
    fn metrics(&self) -> BTreeMap<String, serde_json::Value> {
        BTreeMap::new()
    }

    /// Spans of time worth drawing per node (e.g. 2PC's in-doubt periods),
    /// for the run report's interval chart.
    fn intervals(&self) -> Vec<Interval> {
        Vec::new()
    }
}

/// A span of time a node spent in some protocol state, for the reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Interval {
    /// The node.
    pub node: u32,
    /// When the span began (true time, ns).
    pub start_ns: u64,
    /// When it ended (the end of the run if it never did).
    pub end_ns: u64,
    /// What it was, e.g. `in doubt (tx 17)`.
    pub label: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_kind_is_its_own_json_key_and_part_of_the_identity() {
        let v =
            Violation::new("saga.outcome", SimTime::ZERO, "twice").with_kind("took-effect-twice");
        let json = serde_json::to_value(&v).unwrap_or_default();
        assert_eq!(json["failure_kind"], "took-effect-twice");
        assert!(
            json.get("kind").is_none(),
            "kind says when a check is judged"
        );
        assert_eq!(v.identity(), "saga.outcome/took-effect-twice");
        assert_eq!(Violation::new("x.y", SimTime::ZERO, "m").identity(), "x.y");
    }
}
