//! The queue checker, after Jepsen's total-queue checker: given every
//! value producers tried to enqueue (and which of those the queue
//! acknowledged) and every value consumers dequeued, it names the
//! anomalies of a queue that is meant to deliver each acknowledged value:
//!
//! - **lost**: acknowledged, never dequeued;
//! - **unexpected**: dequeued, never enqueued by anyone;
//! - **duplicated**: dequeued more than once (allowed at-least-once,
//!   a violation when exactly-once is claimed);
//! - **recovered**: dequeued though its enqueue's outcome was unknown or
//!   failed (not an anomaly: the enqueue took effect after all).
//!
//! [`tally`] works on plain values, for the simulator's own queue checks;
//! [`check`] reads a recorded history (`enqueue`/`send`,
//! `dequeue`/`receive`, `drain`: `docs/histories.md`).

use super::history::{History, Op};
use super::value::Value;
use super::ModelError;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The most values of each class a report lists.
pub const LISTED_MAX: usize = 20;

/// What a queue history shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Values producers tried to enqueue.
    pub attempted: usize,
    /// Values the queue acknowledged.
    pub acknowledged: usize,
    /// Distinct values dequeued.
    pub delivered: usize,
    /// Acknowledged values never dequeued (the first [`LISTED_MAX`]).
    pub lost: Vec<i64>,
    /// How many were lost.
    pub lost_count: usize,
    /// Dequeued values never enqueued (the first [`LISTED_MAX`]).
    pub unexpected: Vec<i64>,
    /// How many were unexpected.
    pub unexpected_count: usize,
    /// Values dequeued more than once, with how often (the first
    /// [`LISTED_MAX`]).
    pub duplicated: Vec<(i64, u32)>,
    /// How many values were dequeued more than once.
    pub duplicated_count: usize,
    /// Dequeued values whose enqueue's outcome was unknown or failed.
    pub recovered: usize,
}

impl Tally {
    /// Whether the queue kept its promise: nothing lost or unexpected,
    /// and with `exactly_once` nothing duplicated.
    pub fn holds(&self, exactly_once: bool) -> bool {
        self.lost_count == 0
            && self.unexpected_count == 0
            && (!exactly_once || self.duplicated_count == 0)
    }
}

/// Tallies `enqueued` (each value tried, and whether the queue
/// acknowledged it) against `dequeued` (each value taken, as often as it
/// was taken).
pub fn tally(
    enqueued: impl IntoIterator<Item = (i64, bool)>,
    dequeued: impl IntoIterator<Item = i64>,
) -> Tally {
    let mut attempted = BTreeSet::new();
    let mut acknowledged = BTreeSet::new();
    for (value, ok) in enqueued {
        attempted.insert(value);
        if ok {
            acknowledged.insert(value);
        }
    }
    let mut times: BTreeMap<i64, u32> = BTreeMap::new();
    for value in dequeued {
        *times.entry(value).or_insert(0) += 1;
    }
    let lost: Vec<i64> = acknowledged
        .iter()
        .copied()
        .filter(|v| !times.contains_key(v))
        .collect();
    let unexpected: Vec<i64> = times
        .keys()
        .copied()
        .filter(|v| !attempted.contains(v))
        .collect();
    let duplicated: Vec<(i64, u32)> = times
        .iter()
        .filter(|(_, &n)| n > 1)
        .map(|(&v, &n)| (v, n))
        .collect();
    let recovered = times
        .keys()
        .filter(|v| attempted.contains(v) && !acknowledged.contains(v))
        .count();
    Tally {
        attempted: attempted.len(),
        acknowledged: acknowledged.len(),
        delivered: times.len(),
        lost_count: lost.len(),
        lost: lost.into_iter().take(LISTED_MAX).collect(),
        unexpected_count: unexpected.len(),
        unexpected: unexpected.into_iter().take(LISTED_MAX).collect(),
        duplicated_count: duplicated.len(),
        duplicated: duplicated.into_iter().take(LISTED_MAX).collect(),
        recovered,
    }
}

/// The first `shown` of `count` values (`listed` holds the first of them),
/// and how many more: `1, 2, 3 and 17 more`.
pub fn values_text(listed: &[i64], count: usize, shown: usize) -> String {
    let first: Vec<String> = listed.iter().take(shown).map(i64::to_string).collect();
    match count.saturating_sub(first.len()) {
        0 => first.join(", "),
        more => format!("{} and {more} more", first.join(", ")),
    }
}

/// What an op of a queue history is.
enum QueueOp {
    Enqueue,
    Dequeue,
    Drain,
}

fn kind(op: &Op) -> Result<QueueOp, ModelError> {
    match op.f.as_str() {
        "enqueue" | "send" => Ok(QueueOp::Enqueue),
        "dequeue" | "receive" => Ok(QueueOp::Dequeue),
        "drain" => Ok(QueueOp::Drain),
        other => Err(ModelError {
            line: op.call_line,
            message: format!(
                "a queue history has enqueue (or send), dequeue (or receive) and drain ops, not {other:?}"
            ),
        }),
    }
}

fn integer(value: &Value, op: &Op, what: &str) -> Result<i64, ModelError> {
    match value {
        Value::Int(v) => Ok(*v),
        other => Err(ModelError {
            line: op.call_line,
            message: format!("expected an integer {what}, found {other}"),
        }),
    }
}

/// Checks a recorded queue history: every enqueue invoked is attempted
/// (its `value`), an `:ok` one acknowledged; an `:ok` dequeue took the
/// value it returned (nil: the queue was empty), an `:ok` drain every
/// value of the list it returned; dequeues of unknown outcome took
/// nothing known.
pub fn check(history: &History) -> Result<Tally, ModelError> {
    let mut enqueued = Vec::new();
    let mut dequeued = Vec::new();
    for op in &history.aborted {
        if let QueueOp::Enqueue = kind(op)? {
            enqueued.push((integer(&op.input, op, "enqueue value")?, false));
        }
    }
    for op in &history.ops {
        match kind(op)? {
            QueueOp::Enqueue => {
                let value = integer(&op.input, op, "enqueue value")?;
                enqueued.push((value, op.is_completed()));
            }
            QueueOp::Dequeue => match &op.output {
                None | Some(Value::Nil) => {}
                Some(v) => dequeued.push(integer(v, op, "dequeued value")?),
            },
            QueueOp::Drain => match &op.output {
                None | Some(Value::Nil) => {}
                Some(Value::List(values)) => {
                    for v in values {
                        dequeued.push(integer(v, op, "drained value")?);
                    }
                }
                Some(other) => {
                    return Err(ModelError {
                        line: op.call_line,
                        message: format!("expected a drain to return a list, found {other}"),
                    })
                }
            },
        }
    }
    Ok(tally(enqueued, dequeued))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_anomaly_class_is_named_and_a_clean_history_has_none() {
        let clean = tally([(1, true), (2, true)], [2, 1]);
        assert!(clean.holds(true));
        assert_eq!(
            (clean.attempted, clean.acknowledged, clean.delivered),
            (2, 2, 2)
        );
        let t = tally(
            [(1, true), (2, true), (3, false), (4, true)],
            [1, 1, 3, 9, 4],
        );
        assert_eq!(t.lost, [2]);
        assert_eq!(t.unexpected, [9]);
        assert_eq!(t.duplicated, [(1, 2)]);
        assert_eq!(
            t.recovered, 1,
            "3's enqueue was not acknowledged, yet it came out"
        );
        assert!(!t.holds(false));
        let dup_only = tally([(1, true)], [1, 1]);
        assert!(dup_only.holds(false), "at-least-once allows it");
        assert!(!dup_only.holds(true), "exactly-once does not");
    }

    #[test]
    fn long_lists_are_cut_and_counted() {
        let t = tally((0..100).map(|v| (v, true)), std::iter::empty());
        assert_eq!(t.lost.len(), LISTED_MAX);
        assert_eq!(t.lost_count, 100);
    }
}
