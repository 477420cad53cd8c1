//! The queue's checks, after Jepsen's queue checkers (the tally is
//! `check::queue`'s, which also reads recorded histories): the producers'
//! history says which sends were acknowledged, the sink's notes which
//! values took effect and how often, the broker's which were delivered and
//! dead-lettered.
//!
//! - `queue.lost` (eventually): a send the broker acknowledged whose value,
//!   after the liveness phase, never took effect, was not dead-lettered and
//!   is no longer stored: gone.
//! - `queue.drained` (eventually): an acknowledged message still stored
//!   after the liveness phase: the consumers could not keep up, or it is
//!   delivered again and again (a poison message with no dead-letter
//!   bound).
//! - `queue.unexpected` (at the end): a value took effect that no producer
//!   ever sent.
//! - `queue.duplicates` (always, when `[queue] exactly_once` claims it): a
//!   value took effect twice. At-least-once delivery allows it; the
//!   metric `queue_duplicates` counts it either way.

use super::Note;
use super::{QueueNode, QueueOptions, Send, Sent};
use crate::check::queue::{tally, values_text};
use crate::history::Outcome;
use crate::process::{CheckInfo, EndState, Invariants, NodeId, Violation};
use crate::time::SimTime;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Every check the queue reports.
pub const CHECKS: &[CheckInfo] = &[
    CheckInfo::eventually("queue.lost"),
    CheckInfo::eventually("queue.drained"),
    CheckInfo::at_end("queue.unexpected"),
    CheckInfo::always("queue.duplicates"),
];

/// The most values a violation's message names.
const NAMED: usize = 5;

/// The checks of one run.
#[derive(Debug)]
pub struct QueueChecks {
    exactly_once: bool,
    /// How many times each value took effect.
    applied: BTreeMap<u64, u32>,
    dead_lettered: BTreeSet<u64>,
    deliveries: u64,
    redeliveries: u64,
    deduplicated: u64,
    /// Filled in at the end (a run stopped early by a violation has none).
    acknowledged: Option<u64>,
    lost: Option<u64>,
    still_queued: Option<u64>,
}

impl QueueChecks {
    /// Checks for a run of `options`.
    pub fn new(options: &QueueOptions) -> Self {
        QueueChecks {
            exactly_once: options.exactly_once,
            applied: BTreeMap::new(),
            dead_lettered: BTreeSet::new(),
            deliveries: 0,
            redeliveries: 0,
            deduplicated: 0,
            acknowledged: None,
            lost: None,
            still_queued: None,
        }
    }

    fn duplicates(&self) -> u64 {
        self.applied
            .values()
            .map(|&n| u64::from(n.saturating_sub(1)))
            .sum()
    }
}

/// A few of `count` values (`listed` holds the first of them), and how
/// many more.
fn named(listed: &[i64], count: usize) -> String {
    values_text(listed, count, NAMED)
}

impl Invariants<QueueNode> for QueueChecks {
    fn names(&self) -> &'static [CheckInfo] {
        CHECKS
    }

    fn on_note(&mut self, at: SimTime, _node: NodeId, note: &Note) -> Result<(), Violation> {
        match *note {
            Note::Delivered { delivery, .. } => {
                self.deliveries += 1;
                self.redeliveries += u64::from(delivery > 1);
            }
            Note::DeadLettered { value } => {
                self.dead_lettered.insert(value);
            }
            Note::Deduplicated { .. } => self.deduplicated += 1,
            Note::Applied { value } => {
                let times = self.applied.entry(value).or_insert(0);
                *times += 1;
                if *times == 2 && self.exactly_once {
                    let message = format!(
                        "value {value} took effect twice: delivered again after its first delivery was applied but not acknowledged, with no deduplication at the sink"
                    );
                    return Err(Violation::new("queue.duplicates", at, message));
                }
            }
        }
        Ok(())
    }

    fn at_end(&mut self, end: &EndState<'_, QueueNode>) -> Vec<Violation> {
        let enqueued = end.history.ops.iter().map(|op| {
            let Send { value } = op.op;
            (
                value as i64,
                matches!(op.outcome, Outcome::Ok(Sent::Stored)),
            )
        });
        // Accounted for: applied at the sink, dead-lettered, or still
        // stored at the broker (reported apart).
        let queued: BTreeSet<u64> = match end.nodes.first() {
            Some(Some(QueueNode::Broker(b))) => b.stored_values().collect(),
            _ => BTreeSet::new(),
        };
        let out = self
            .applied
            .keys()
            .chain(&self.dead_lettered)
            .chain(&queued)
            .map(|&v| v as i64)
            .collect::<BTreeSet<i64>>();
        let t = tally(enqueued, out);
        let acked_queued: Vec<i64> = queued
            .iter()
            .map(|&v| v as i64)
            .filter(|v| !self.applied.contains_key(&(*v as u64)))
            .collect();
        self.acknowledged = Some(t.acknowledged as u64);
        self.lost = Some(t.lost_count as u64);
        self.still_queued = Some(acked_queued.len() as u64);
        let mut found = Vec::new();
        if end.completed && !acked_queued.is_empty() {
            let message = format!(
                "{} messages still queued after the liveness phase, never applied: {} (consumers too slow for the backlog, or a message delivered forever)",
                acked_queued.len(),
                named(&acked_queued, acked_queued.len())
            );
            found.push(Violation::new("queue.drained", end.time, message));
        }
        if end.completed && t.lost_count > 0 {
            let message = format!(
                "{} of {} acknowledged sends never took effect after the liveness phase: {}",
                t.lost_count,
                t.acknowledged,
                named(&t.lost, t.lost_count)
            );
            found.push(Violation::new("queue.lost", end.time, message));
        }
        if t.unexpected_count > 0 {
            let message = format!(
                "values took effect that no producer sent: {}",
                named(&t.unexpected, t.unexpected_count)
            );
            found.push(Violation::new("queue.unexpected", end.time, message));
        }
        found
    }

    fn metrics(&self) -> BTreeMap<String, Value> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: Value| {
            m.insert(format!("queue_{k}"), v);
        };
        if let (Some(acknowledged), Some(lost)) = (self.acknowledged, self.lost) {
            put("acknowledged", json!(acknowledged));
            put("lost", json!(lost));
        }
        if let Some(queued) = self.still_queued {
            put("still_queued", json!(queued));
        }
        put("applied", json!(self.applied.len()));
        put("duplicates", json!(self.duplicates()));
        put("deliveries", json!(self.deliveries));
        put("redeliveries", json!(self.redeliveries));
        put("dead_lettered", json!(self.dead_lettered.len()));
        put("deduplicated", json!(self.deduplicated));
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SimTime {
        SimTime::ZERO + crate::time::SimDuration::from_millis(ms)
    }

    #[test]
    fn a_second_effect_is_a_duplicate_only_when_exactly_once_is_claimed() {
        for claimed in [false, true] {
            let options = QueueOptions {
                exactly_once: claimed,
                ..QueueOptions::default()
            };
            let mut c = QueueChecks::new(&options);
            let applied = Note::Applied { value: 7 };
            assert!(c.on_note(at(1), NodeId(1), &applied).is_ok());
            let again = c.on_note(at(2), NodeId(1), &applied);
            assert_eq!(again.is_err(), claimed);
            assert_eq!(c.metrics()["queue_duplicates"], 1);
        }
    }

    #[test]
    fn deliveries_after_the_first_are_redeliveries() {
        let mut c = QueueChecks::new(&QueueOptions::default());
        for delivery in [1, 2, 1] {
            let note = Note::Delivered { value: 3, delivery };
            assert!(c.on_note(at(1), NodeId(0), &note).is_ok());
        }
        let m = c.metrics();
        assert_eq!(
            (
                m["queue_deliveries"].clone(),
                m["queue_redeliveries"].clone()
            ),
            (json!(3), json!(1))
        );
    }

    #[test]
    fn a_long_list_of_values_is_cut_short() {
        assert_eq!(named(&[1, 2], 2), "1, 2");
        assert_eq!(
            named(&[1, 2, 3, 4, 5, 6, 7], 30),
            "1, 2, 3, 4, 5 and 25 more"
        );
    }
}
