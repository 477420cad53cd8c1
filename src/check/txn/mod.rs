//! Transaction isolation checking in the manner of Elle (Kingsbury &
//! Alvaro, VLDB 2020), for Jepsen's list-append and rw-register workloads:
//! read the transactions ([`parse`]), infer each key's version order and
//! the dependency graph with the anomalies that need no cycle ([`graph`]
//! for list-append, [`register`] for rw-register), find and name the
//! cycles ([`cycles`]), and say which consistency models the anomalies
//! rule out. The verdict for the model asked about is
//! held, violated, or undecided when the step budget ran out first.
pub mod cycles;
pub mod graph;
pub mod parse;
pub mod register;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_register;
#[cfg(test)]
mod tests_search;

pub use parse::Workload;

use crate::check::history::History;
use crate::check::{Deadline, Exhausted, ModelError};
use serde::Serialize;

/// A consistency model a history can be checked against, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Consistency {
    /// Adya's PL-2: no G0, G1a, G1b, G1c.
    ReadCommitted,
    /// Snapshot isolation: also no G-single (read skew, lost update's cycle).
    SnapshotIsolation,
    /// Adya's PL-3: also no G2 (no dependency cycle at all).
    Serializable,
    /// Serializable in an order that respects each process's own order of
    /// its transactions (Daudjee & Salem's strong session serializability).
    StrongSessionSerializable,
    /// Serializable in an order that respects real time.
    StrictSerializable,
}

impl Consistency {
    /// Every model, weakest first.
    pub const ALL: [Consistency; 5] = [
        Consistency::ReadCommitted,
        Consistency::SnapshotIsolation,
        Consistency::Serializable,
        Consistency::StrongSessionSerializable,
        Consistency::StrictSerializable,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Consistency::ReadCommitted => "read-committed",
            Consistency::SnapshotIsolation => "snapshot-isolation",
            Consistency::Serializable => "serializable",
            Consistency::StrongSessionSerializable => "strong-session-serializable",
            Consistency::StrictSerializable => "strict-serializable",
        }
    }

    /// The order between transactions, besides their data, it needs.
    fn order(self) -> graph::Order {
        match self {
            Consistency::StrongSessionSerializable => graph::Order::Process,
            Consistency::StrictSerializable => graph::Order::Realtime,
            _ => graph::Order::Data,
        }
    }
}

/// The weakest model an anomaly class rules out (and every stronger one
/// with it): Elle's "anomalies → models" table, for the classes found here.
pub fn weakest_ruled_out(class: &str) -> Consistency {
    if class.ends_with("-realtime") {
        return Consistency::StrictSerializable;
    }
    if class.ends_with("-process") {
        return Consistency::StrongSessionSerializable;
    }
    match class {
        "G-single" | "lost-update" => Consistency::SnapshotIsolation,
        "G2" => Consistency::Serializable,
        // G0, G1a, G1b, G1c, dirty updates (Elle: they imply G1a), and
        // reads no serial order can explain.
        _ => Consistency::ReadCommitted,
    }
}

/// One anomaly: its class, the transactions, and the explanation.
#[derive(Clone, Debug, Serialize)]
pub struct Anomaly {
    /// Elle's class name (`G0`, `G1a`, `G1b`, `G1c`, `dirty-update`,
    /// `G-single`, `G2`,
    /// `*-realtime`, `*-process`, `lost-update`, `internal`, `garbage-read`,
    /// `duplicate-elements`, `incompatible-order`).
    pub class: String,
    /// The transactions, by index and line: for a cycle, in cycle order.
    pub txns: Vec<TxnRef>,
    /// For a cycle, its edges in words ("T3 -ww(x, 4)-> T5"); else what
    /// happened.
    pub explanation: Vec<String>,
    /// For a cycle, its edges (the first from `txns[0]`); empty otherwise.
    pub edges: Vec<EdgeRef>,
}

/// One edge of a cycle, for drawing it.
#[derive(Clone, Debug, Serialize)]
pub struct EdgeRef {
    /// The source transaction's index.
    pub from: usize,
    /// The target transaction's index.
    pub to: usize,
    /// `ww`, `wr`, `rw`, `realtime` or `process`.
    pub dep: &'static str,
    /// The key and value behind it (none for realtime).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The element or value behind it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<i64>,
}

/// A transaction as a report names it.
#[derive(Clone, Debug, Serialize)]
pub struct TxnRef {
    /// Its index among the history's transactions (`T<index>`).
    pub index: usize,
    /// The line of its invocation.
    pub line: usize,
    /// The process that ran it.
    pub process: i64,
    /// Its micro-ops as the history shows them (reads as completed),
    /// e.g. `[:r x [1 2]] [:append y 3]`.
    pub ops: String,
}

/// The three answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TxnVerdict {
    /// No anomaly the model forbids.
    Held,
    /// An anomaly the model forbids was found.
    Violated,
    /// The budget ran out before either.
    Undecided,
}

/// What the check found.
#[derive(Clone, Debug, Serialize)]
pub struct TxnReport {
    /// The model asked about.
    pub consistency: Consistency,
    /// Its verdict.
    pub verdict: TxnVerdict,
    /// Transactions read (committed, unknown, aborted).
    pub transactions: usize,
    /// Every anomaly found (cycles: up to a few examples per class).
    pub anomalies: Vec<Anomaly>,
    /// The models the anomalies rule out, weakest first.
    pub ruled_out: Vec<Consistency>,
    /// Whether the search finished (all classes decided).
    pub complete: bool,
    /// Steps taken, the unit of the budget.
    pub steps: u64,
    /// The bound that left the search unfinished, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<Exhausted>,
}

/// The bounds of one transaction check: deterministic ones (steps, and
/// the graph's memory) and, outside simulated runs, a wall-clock deadline.
#[derive(Clone, Debug)]
pub struct TxnBudget {
    /// Edges looked at by the cycle search.
    pub steps_max: u64,
    /// Bytes the dependency graph's edges may take; past it the check is
    /// undecided (unless an anomaly already decided it).
    pub graph_bytes_max: u64,
    /// A wall-clock limit, for `faultline check --timeout` only.
    pub deadline: Option<Deadline>,
}

impl TxnBudget {
    /// A budget of `steps_max` steps and no other bound.
    pub fn steps(steps_max: u64) -> Self {
        TxnBudget {
            steps_max,
            graph_bytes_max: u64::MAX,
            deadline: None,
        }
    }
}

/// Checks a list-append history against `consistency` within `steps_max`
/// steps (edges looked at).
pub fn check_list_append(
    history: History,
    consistency: Consistency,
    steps_max: u64,
) -> Result<TxnReport, ModelError> {
    check(
        history,
        Workload::ListAppend,
        consistency,
        &TxnBudget::steps(steps_max),
    )
}

/// Checks a history of `workload` transactions against `consistency`
/// within `budget`.
pub fn check(
    history: History,
    workload: Workload,
    consistency: Consistency,
    budget: &TxnBudget,
) -> Result<TxnReport, ModelError> {
    let txns = parse::transactions(history, workload)?;
    check_transactions(&txns, workload, consistency, budget)
}

/// Checks transactions already read (or recorded by a simulated run, see
/// `protocols::txncheck`) against `consistency` within `budget`. An error
/// names a value written twice to one key.
pub fn check_transactions(
    txns: &[parse::Txn],
    workload: Workload,
    consistency: Consistency,
    budget: &TxnBudget,
) -> Result<TxnReport, ModelError> {
    unique_writes(txns, workload)?;
    let order = consistency.order();
    let edge_bytes = std::mem::size_of::<graph::Edge>() as u64;
    // Half the bytes: a growing edge list may briefly hold twice its edges.
    let edges_max = usize::try_from(budget.graph_bytes_max / edge_bytes / 2).unwrap_or(usize::MAX);
    let inferred = match workload {
        Workload::ListAppend => graph::infer(txns, order, edges_max),
        Workload::RwRegister => register::infer(txns, order, edges_max),
    };
    let mut found = cycles::find(
        &inferred.edges,
        txns.len(),
        order.dep(),
        budget.steps_max,
        budget.deadline.as_ref(),
    );
    if inferred.overflowed {
        // A cycle of part of the graph is a cycle of all of it, but a
        // partial graph without one clears nothing.
        found.complete = false;
        found.exhausted = Some(Exhausted::Memory {
            budget_bytes: budget.graph_bytes_max,
        });
    }
    let exhausted = found.exhausted.take();
    let name = |t: usize| TxnRef {
        index: t,
        line: txns[t].line,
        process: txns[t].process,
        ops: show_mops(&txns[t].mops),
    };
    let mut anomalies: Vec<Anomaly> = inferred
        .findings
        .iter()
        .map(|f| Anomaly {
            class: f.class.to_string(),
            txns: f.txns.iter().map(|&t| name(t)).collect(),
            explanation: vec![f.explanation.clone()],
            edges: Vec::new(),
        })
        .collect();
    anomalies.extend(found.cycles.iter().map(|c| {
        Anomaly {
            class: c.class.clone(),
            txns: c.steps.iter().map(|s| name(s.from)).collect(),
            explanation: c
                .steps
                .iter()
                .map(|s| describe_step(s, workload, &inferred.keys))
                .collect(),
            edges: c
                .steps
                .iter()
                .map(|s| EdgeRef {
                    from: s.from,
                    to: s.edge.to,
                    dep: s.edge.dep.name(),
                    key: s.edge.why.map(|(k, _)| inferred.keys[k as usize].clone()),
                    value: s.edge.why.map(|(_, v)| v),
                })
                .collect(),
        }
    }));
    let ruled_out: Vec<Consistency> = Consistency::ALL
        .into_iter()
        .filter(|&m| anomalies.iter().any(|a| weakest_ruled_out(&a.class) <= m))
        .collect();
    let verdict = if ruled_out.contains(&consistency) {
        TxnVerdict::Violated
    } else if found.complete {
        TxnVerdict::Held
    } else {
        TxnVerdict::Undecided
    };
    Ok(TxnReport {
        consistency,
        verdict,
        transactions: txns.len(),
        anomalies,
        ruled_out,
        complete: found.complete,
        steps: found.steps,
        budget: exhausted,
    })
}

/// Micro-ops in the history's own notation.
fn show_mops(mops: &[parse::Mop]) -> String {
    let show = |m: &parse::Mop| match m {
        parse::Mop::Append { key, value } => format!("[:append {key} {value}]"),
        parse::Mop::Write { key, value } => format!("[:w {key} {value}]"),
        parse::Mop::Read { key, list } => match list {
            None => format!("[:r {key} ?]"),
            Some(l) => {
                let items: Vec<String> = l.iter().map(i64::to_string).collect();
                format!("[:r {key} [{}]]", items.join(" "))
            }
        },
        parse::Mop::ReadRegister { key, value } => match value {
            None => format!("[:r {key} ?]"),
            Some(None) => format!("[:r {key} nil]"),
            Some(Some(v)) => format!("[:r {key} {v}]"),
        },
    };
    mops.iter().map(show).collect::<Vec<_>>().join(" ")
}

fn describe_step(step: &cycles::Step, workload: Workload, keys: &[String]) -> String {
    let e = &step.edge;
    let (from, to) = (step.from, e.to);
    let why = e.why.map(|(k, v)| (&keys[k as usize], v));
    let label = match &why {
        Some((key, value)) => format!("-{}({key}, {value})->", e.dep.name()),
        None => format!("-{}->", e.dep.name()),
    };
    let list = workload == Workload::ListAppend;
    let words = match (&why, e.dep) {
        (Some((k, v)), graph::Dep::Ww) if list => {
            format!("T{to} appended {v} to {k} right after T{from}'s append")
        }
        (Some((k, v)), graph::Dep::Ww) => {
            format!("T{to} wrote {v} to {k}, a later version than T{from}'s write")
        }
        (Some((k, v)), graph::Dep::Wr) if list => {
            format!("T{to} read T{from}'s append of {v} to {k}")
        }
        (Some((k, v)), graph::Dep::Wr) => format!("T{to} read T{from}'s write of {v} to {k}"),
        (Some((k, v)), graph::Dep::Rw) if list => {
            format!("T{to} appended {v} to {k}, the next element after what T{from} read")
        }
        (Some((k, v)), graph::Dep::Rw) => {
            format!("T{to} wrote {v} to {k}, a later version than the one T{from} read")
        }
        (_, graph::Dep::Process) => {
            format!("T{to} began after T{from} completed, on the same process")
        }
        _ => format!("T{to} began after T{from} completed"),
    };
    format!("T{from} {label} T{to}: {words}")
}

/// Both workloads need each value written at most once per key: the value
/// names the write a read saw.
fn unique_writes(txns: &[parse::Txn], workload: Workload) -> Result<(), ModelError> {
    let mut seen = std::collections::BTreeMap::new();
    for t in txns {
        for m in &t.mops {
            let Some(value) = m.written() else { continue };
            let key = m.key();
            if let Some(first) = seen.insert((key, value), t.line) {
                let message = match workload {
                    Workload::ListAppend => format!(
                        "list-append needs every element appended once per key: {value} is appended to key {key} on line {first} too"
                    ),
                    Workload::RwRegister => format!(
                        "rw-register needs every value written once per key: {value} is written to key {key} on line {first} too"
                    ),
                };
                return Err(ModelError {
                    line: t.line,
                    message,
                });
            }
        }
    }
    Ok(())
}
