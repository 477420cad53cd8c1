//! Checks and CAP metrics of the stores, judged on the whole run:
//!
//! * `store.linearizable`: the client history against the key-value model
//!   (the checker in [`crate::check`], partitioned by key, bounded in time
//!   and memory; "unknown" is reported as a metric, never as a pass or fail).
//!   The violation carries the counterexample for the HTML report.
//! * `store.convergence` (eventual store only): after the liveness phase
//!   every replica holds the same value for every key.
//! * metrics: `stale_reads` (a read that returned a value older than a write
//!   that completed before the read began and could not have been
//!   overwritten since), `acked_writes_lost` (keys whose final value is not
//!   the value of their last acknowledged write, when that write was the
//!   last of all writes to the key in real time), and `lincheck`.

use super::{Op, Record, StoreNode};
use crate::check::{self, CheckOptions, ModelKind, Verdict};
use crate::history::{History, Outcome};
use crate::process::{EndState, Invariants, NodeId, Violation};
use crate::time::SimTime;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// The stores' checks.
pub struct StoreChecks {
    replicas: usize,
    eventual: bool,
    metrics: BTreeMap<String, Value>,
}

impl StoreChecks {
    /// Checks for a store of `replicas` replicas (`eventual`: check convergence).
    pub fn new(replicas: usize, eventual: bool) -> Self {
        StoreChecks {
            replicas,
            eventual,
            metrics: BTreeMap::new(),
        }
    }
}

/// Check names.
pub const CHECKS: &[&str] = &["store.linearizable", "store.convergence"];

type StoreHistory = History<Op, String>;

impl Invariants<StoreNode> for StoreChecks {
    fn names(&self) -> &'static [&'static str] {
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
        match linearizability(end.history) {
            Ok(None) => {
                self.metrics
                    .insert("lincheck".into(), json!("linearizable"));
            }
            Ok(Some((message, data))) => {
                self.metrics.insert("lincheck".into(), json!("illegal"));
                violations
                    .push(Violation::new("store.linearizable", end.time, message).with_data(data));
            }
            Err(reason) => {
                self.metrics
                    .insert("lincheck".into(), json!(format!("unknown: {reason}")));
            }
        }
        if self.eventual {
            if let Some(message) = divergence(end, self.replicas) {
                violations.push(Violation::new("store.convergence", end.time, message));
            }
        }
        violations
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

/// Writes to a key that did not definitely fail: (value, invoked, completed-or-never).
fn writes_of<'a>(history: &'a StoreHistory, key: &str) -> Vec<(&'a str, u64, u64, bool)> {
    history
        .ops
        .iter()
        .filter_map(|o| match (&o.op, &o.outcome) {
            (Op::Put(k, v), Outcome::Ok(_)) if k == key => Some((
                v.as_str(),
                o.invoked.as_nanos(),
                o.completed.map_or(u64::MAX, |c| c.as_nanos()),
                true,
            )),
            (Op::Put(k, v), Outcome::Unknown) if k == key => {
                Some((v.as_str(), o.invoked.as_nanos(), u64::MAX, false))
            }
            _ => None,
        })
        .collect()
}

/// Reads that returned a value older than a write completed before they began.
pub fn stale_reads(history: &StoreHistory) -> usize {
    let mut stale = 0;
    for o in &history.ops {
        let (Op::Get(key), Outcome::Ok(value)) = (&o.op, &o.outcome) else {
            continue;
        };
        let (start, done) = (
            o.invoked.as_nanos(),
            o.completed.map_or(u64::MAX, |c| c.as_nanos()),
        );
        let writes = writes_of(history, key);
        let Some(latest) = writes
            .iter()
            .filter(|w| w.3 && w.2 < start)
            .max_by_key(|w| w.2)
        else {
            continue;
        };
        let possible = writes
            .iter()
            .any(|w| w.0 == value && w.1 < done && w.2 > latest.1);
        if !possible {
            stale += 1;
        }
    }
    stale
}

/// Keys whose final value lost their last acknowledged write.
pub fn acked_writes_lost(history: &StoreHistory, finals: &BTreeMap<String, String>) -> usize {
    let mut keys: Vec<&str> = history.ops.iter().map(|o| o.op.key()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|key| {
            let writes = writes_of(history, key);
            let Some(last) = writes.iter().filter(|w| w.3).max_by_key(|w| w.1) else {
                return false;
            };
            let alone = writes
                .iter()
                .all(|w| std::ptr::eq(w.0, last.0) || w.2 < last.1);
            alone && finals.get(*key).map(String::as_str) != Some(last.0)
        })
        .count()
}

/// `Ok(None)` linearizable, `Ok(Some(message, counterexample))` not, `Err` unknown.
fn linearizability(history: &StoreHistory) -> Result<Option<(String, Value)>, String> {
    use check::value::Value as V;
    let h = history.to_check_history(
        |op| match op {
            Op::Get(k) => ("get", Some(k.clone()), V::Nil),
            Op::Put(k, v) => ("put", Some(k.clone()), V::Str(v.clone())),
        },
        |op, value, input| match op {
            Op::Get(_) => V::Str(value.clone()),
            Op::Put(..) => input.clone(),
        },
    );
    let options = CheckOptions {
        timeout: Duration::from_secs(10),
        memory_bytes_max: 512 << 20,
        threads: 1,
    };
    let report = check::check_history(ModelKind::Kv, &h, &options).map_err(|e| e.to_string())?;
    match report.verdict {
        Verdict::Linearizable => Ok(None),
        Verdict::Illegal(cex) => {
            let key = cex.key.clone().unwrap_or_default();
            let message = format!("the history is not linearizable on key {key:?}: {} operations cannot follow the longest linearizable prefix of {}", cex.cannot_place.len(), cex.prefix.len());
            Ok(Some((
                message,
                serde_json::to_value(&*cex).unwrap_or(Value::Null),
            )))
        }
        Verdict::Unknown(reason) => Err(format!("{reason:?}")),
    }
}
