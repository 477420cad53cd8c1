//! Checks and CAP metrics of the stores, judged on the whole run:
//!
//! * `store.linearizable`: the client history against the key-value model
//!   (the checker in [`crate::check`], partitioned by key, bounded by the
//!   run's deterministic check budget; a budget overrun makes the check
//!   undecided, never a pass). The violation carries the counterexample
//!   for the HTML report.
//! * `store.convergence` (eventual store only): after the liveness phase
//!   every replica holds the same value for every key.
//! * metrics: `stale_reads` (a read that returned a value older than a write
//!   that completed before the read began and could not have been
//!   overwritten since), `acked_writes_lost` (keys whose final value is not
//!   the value of their last acknowledged write, when that write was the
//!   last of all writes to the key in real time), and `lincheck`.

use super::{Op, Record, StoreNode};
use crate::history::{History, Outcome};
use crate::process::{CheckInfo, EndState, Invariants, NodeId, Undecided, Violation};
use crate::protocols::lincheck::{judge_kv, Judgement};
use crate::time::SimTime;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The stores' checks.
pub struct StoreChecks {
    replicas: usize,
    eventual: bool,
    metrics: BTreeMap<String, Value>,
    linearizability: Judgement,
}

impl StoreChecks {
    /// Checks for a store of `replicas` replicas (`eventual`: check convergence).
    pub fn new(replicas: usize, eventual: bool) -> Self {
        StoreChecks {
            replicas,
            eventual,
            metrics: BTreeMap::new(),
            linearizability: Judgement::skipped(),
        }
    }
}

/// Check names.
pub const CHECKS: &[CheckInfo] = &[
    CheckInfo::at_end("store.linearizable"),
    CheckInfo::eventually("store.convergence"),
];

type StoreHistory = History<Op, String>;

impl Invariants<StoreNode> for StoreChecks {
    fn names(&self) -> &'static [CheckInfo] {
        CHECKS
    }

    fn on_note(
        &mut self,
        _at: SimTime,
        _node: NodeId,
        _note: &super::Note,
    ) -> Result<(), Violation> {
        Ok(())
    }

    fn at_end(&mut self, end: &EndState<'_, StoreNode>) -> Vec<Violation> {
        let mut violations = Vec::new();
        let finals = final_values(end, self.replicas);
        self.metrics
            .insert("stale_reads".into(), json!(stale_reads(end.history)));
        self.metrics.insert(
            "acked_writes_lost".into(),
            json!(acked_writes_lost(end.history, &finals)),
        );
        if end.is_enabled("store.linearizable") {
            let history = check_history(end.history);
            self.linearizability = judge_kv("store.linearizable", &history, end.budget, end.time);
            violations.extend(self.linearizability.violation());
        }
        self.metrics
            .extend(self.linearizability.metrics("lincheck"));
        if self.eventual {
            if let Some(message) = divergence(end, self.replicas) {
                violations.push(Violation::new("store.convergence", end.time, message));
            }
        }
        violations
    }

    fn undecided(&self) -> Vec<Undecided> {
        self.linearizability.undecided().into_iter().collect()
    }

    fn metrics(&self) -> BTreeMap<String, Value> {
        self.metrics.clone()
    }
}

fn records(node: Option<&StoreNode>) -> Option<&BTreeMap<String, Record>> {
    match node? {
        StoreNode::Quorum(r) => Some(r.records()),
        StoreNode::Eventual(r) => Some(r.records()),
        StoreNode::Client(_) => None,
    }
}

/// Each key's newest value over all replicas at the end.
fn final_values(end: &EndState<'_, StoreNode>, replicas: usize) -> BTreeMap<String, String> {
    let mut newest: BTreeMap<String, Record> = BTreeMap::new();
    for node in end.nodes.iter().take(replicas) {
        for (k, rec) in records(*node).into_iter().flatten() {
            if newest.get(k).is_none_or(|(s, _)| rec.0 > *s) {
                newest.insert(k.clone(), rec.clone());
            }
        }
    }
    newest.into_iter().map(|(k, (_, v))| (k, v)).collect()
}

fn divergence(end: &EndState<'_, StoreNode>, replicas: usize) -> Option<String> {
    let first = records(end.nodes.first().copied().flatten());
    for (i, node) in end.nodes.iter().enumerate().take(replicas).skip(1) {
        if records(*node) != first {
            return Some(format!(
                "after the liveness phase n{i} and n0 still hold different data"
            ));
        }
    }
    None
}

/// A write that did not definitely fail: its value, when it was invoked,
/// when it completed (`u64::MAX`: never known), and whether it was
/// acknowledged.
#[derive(Clone, Copy)]
struct Write<'a> {
    value: &'a str,
    invoked: u64,
    completed: u64,
    acked: bool,
}

/// Every key's writes, gathered in one pass (so the metrics cost
/// O(n log n), not a scan of the history per read).
fn writes_by_key(history: &StoreHistory) -> BTreeMap<&str, Vec<Write<'_>>> {
    let mut by_key: BTreeMap<&str, Vec<Write<'_>>> = BTreeMap::new();
    for o in &history.ops {
        let (Op::Put(k, v), acked) = (&o.op, matches!(o.outcome, Outcome::Ok(_))) else {
            continue;
        };
        if matches!(o.outcome, Outcome::Fail(_)) {
            continue;
        }
        by_key.entry(k.as_str()).or_default().push(Write {
            value: v,
            invoked: o.invoked.as_nanos(),
            completed: match (acked, o.completed) {
                (true, Some(c)) => c.as_nanos(),
                _ => u64::MAX,
            },
            acked,
        });
    }
    by_key
}

/// Reads that returned a value older than a write completed before they
/// began: the value read could not have been current at any point of the
/// read (every write of it ended before the latest completed write began).
pub fn stale_reads(history: &StoreHistory) -> usize {
    let by_key = writes_by_key(history);
    // Per key: acknowledged writes by completion time, and writes by value.
    let mut done: BTreeMap<&str, Vec<(u64, u64)>> = BTreeMap::new();
    let mut by_value: BTreeMap<(&str, &str), Vec<Write<'_>>> = BTreeMap::new();
    for (key, writes) in &by_key {
        let mut acked: Vec<(u64, u64)> = writes
            .iter()
            .filter(|w| w.acked)
            .map(|w| (w.completed, w.invoked))
            .collect();
        acked.sort_unstable();
        done.insert(key, acked);
        for w in writes {
            by_value.entry((key, w.value)).or_default().push(*w);
        }
    }
    let mut stale = 0;
    for o in &history.ops {
        let (Op::Get(key), Outcome::Ok(value)) = (&o.op, &o.outcome) else {
            continue;
        };
        let start = o.invoked.as_nanos();
        let end = o.completed.map_or(u64::MAX, |c| c.as_nanos());
        let Some(acked) = done.get(key.as_str()) else {
            continue;
        };
        // The write that completed last before the read began.
        let before = acked.partition_point(|(completed, _)| *completed < start);
        let Some(&(_, latest_invoked)) = before.checked_sub(1).map(|i| &acked[i]) else {
            continue;
        };
        let possible = by_value
            .get(&(key.as_str(), value.as_str()))
            .is_some_and(|ws| {
                ws.iter()
                    .any(|w| w.invoked < end && w.completed > latest_invoked)
            });
        if !possible {
            stale += 1;
        }
    }
    stale
}

/// Keys whose final value lost their last acknowledged write.
pub fn acked_writes_lost(history: &StoreHistory, finals: &BTreeMap<String, String>) -> usize {
    writes_by_key(history)
        .into_iter()
        .filter(|(key, writes)| {
            let Some(last) = writes.iter().filter(|w| w.acked).max_by_key(|w| w.invoked) else {
                return false;
            };
            let alone = writes
                .iter()
                .all(|w| std::ptr::eq(w.value, last.value) || w.completed < last.invoked);
            alone && finals.get(*key).map(String::as_str) != Some(last.value)
        })
        .count()
}

/// The history as the linearizability checker reads it.
fn check_history(history: &StoreHistory) -> crate::check::History {
    use crate::check::value::Value as V;
    history.to_check_history(
        |op| match op {
            Op::Get(k) => ("get", Some(k.clone()), V::Nil),
            Op::Put(k, v) => ("put", Some(k.clone()), V::Str(v.clone())),
        },
        |op, value, input| match op {
            Op::Get(_) => V::Str(value.clone()),
            Op::Put(..) => input.clone(),
        },
    )
}
