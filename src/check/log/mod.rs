//! The log checker, after Jepsen's Kafka checker: given producers' sends
//! (with the offsets the log acknowledged) and consumers' polls (each
//! record's offset and value), in each process's own order, it names the
//! anomalies of a partitioned log, each a partition's total order broken:
//!
//! - **lost write**: an acknowledged send never polled, though polls read
//!   past its offset;
//! - **unseen**: an acknowledged send never polled at all (nothing read
//!   past it: a history should end with consumers reading everything);
//! - **duplicate**: one value at two offsets of a partition;
//! - **inconsistent offsets**: two values at one offset;
//! - **poll skip**: a process's consecutive polls of a partition jumped
//!   over offsets that hold records;
//! - **nonmonotonic poll**: a process polled an offset at or below one it
//!   polled before;
//! - **nonmonotonic send**: a process's acknowledged sends to a partition
//!   got offsets that did not increase.
//!
//! [`Observations`] takes records one at a time (the simulator's `log`
//! protocol feeds it as its consumers poll); [`check`] reads a recorded
//! history (`send` and `poll` ops: `docs/histories.md`).

mod column;

use super::history::{History, Op};
use super::value::Value;
use super::ModelError;
use column::Column;
use serde::Serialize;
use std::collections::BTreeMap;

/// The most examples a report lists of each class.
pub const EXAMPLES_MAX: usize = 10;

/// A partition (Jepsen's key).
pub type Key = u64;

/// Two of a process's records of a partition, one after the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    /// The process.
    pub process: i64,
    /// The partition.
    pub key: Key,
    /// The earlier offset.
    pub from: u64,
    /// The later offset.
    pub to: u64,
}

/// An acknowledged send: where the log put it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Write {
    /// The partition.
    pub key: Key,
    /// The acknowledged offset, if the acknowledgement said.
    pub offset: Option<u64>,
    /// The value.
    pub value: i64,
}

/// A value at more than one offset, or an offset with more than one value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Clash {
    /// The partition.
    pub key: Key,
    /// The offsets (one, for inconsistent offsets).
    pub offsets: Vec<u64>,
    /// The values (one, for a duplicate).
    pub values: Vec<i64>,
}

/// A poll skip: the step and (the first few of) the offsets it skipped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skip {
    /// The step.
    #[serde(flatten)]
    pub step: Step,
    /// Offsets between them that hold records.
    pub skipped: Vec<u64>,
}

/// One anomaly class: how many, and the first examples.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Class<T> {
    /// How many were found.
    pub count: usize,
    /// The first [`EXAMPLES_MAX`].
    pub examples: Vec<T>,
}

impl<T> Class<T> {
    fn of(all: impl IntoIterator<Item = T>) -> Self {
        let mut count = 0;
        let mut examples = Vec::new();
        for item in all {
            count += 1;
            if examples.len() < EXAMPLES_MAX {
                examples.push(item);
            }
        }
        Class { count, examples }
    }
}

/// What a log history shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogReport {
    /// Sends the log acknowledged.
    pub acknowledged: usize,
    /// Distinct records polled.
    pub polled: usize,
    /// Acknowledged, never polled, though later offsets were.
    pub lost_writes: Class<Write>,
    /// Acknowledged, never polled, nothing polled past them.
    pub unseen: Class<Write>,
    /// Values at two or more offsets of a partition.
    pub duplicates: Class<Clash>,
    /// Offsets holding two or more values.
    pub inconsistent_offsets: Class<Clash>,
    /// Polls that jumped over records.
    pub poll_skips: Class<Skip>,
    /// Polls that went back (or stood still).
    pub nonmonotonic_polls: Class<Step>,
    /// Acknowledged sends whose offsets went back (or stood still).
    pub nonmonotonic_sends: Class<Step>,
}

impl LogReport {
    /// Whether the log kept its order and lost nothing: no class found but
    /// duplicates, which only `exactly_once` rules out.
    pub fn holds(&self, exactly_once: bool) -> bool {
        self.classes()
            .iter()
            .all(|(name, count)| *count == 0 || (*name == "duplicate" && !exactly_once))
    }

    /// Each class's name (Jepsen's, singular) and count.
    pub fn classes(&self) -> [(&'static str, usize); 7] {
        [
            ("lost-write", self.lost_writes.count),
            ("unseen", self.unseen.count),
            ("duplicate", self.duplicates.count),
            ("inconsistent-offsets", self.inconsistent_offsets.count),
            ("poll-skip", self.poll_skips.count),
            ("nonmonotonic-poll", self.nonmonotonic_polls.count),
            ("nonmonotonic-send", self.nonmonotonic_sends.count),
        ]
    }
}

/// Records as they come: sends acknowledged and records polled.
#[derive(Clone, Debug, Default)]
pub struct Observations {
    /// The first value seen at each offset of each partition (by
    /// acknowledgements and polls).
    at: BTreeMap<Key, Column>,
    /// Other values seen at an offset (rare: kept apart, so the common
    /// case costs no allocation per record).
    others: BTreeMap<(Key, u64), Vec<i64>>,
    /// Every (partition, value) polled, as polled: sorted and deduplicated
    /// by [`Observations::report`] (a push per record, not a tree insert).
    polled: Vec<(Key, i64)>,
    /// The highest offset polled of each partition.
    highest_polled: BTreeMap<Key, u64>,
    acknowledged: Vec<Write>,
    last_poll: BTreeMap<(i64, Key), u64>,
    last_send: BTreeMap<(i64, Key), u64>,
    /// Polls that jumped ahead by more than one: skips if records lie
    /// between (known only once everything is seen).
    jumps: Vec<Step>,
    nonmonotonic_polls: Vec<Step>,
    nonmonotonic_sends: Vec<Step>,
}

impl Observations {
    /// No records yet.
    pub fn new() -> Self {
        Observations::default()
    }

    /// Makes room for `sends` more acknowledged sends (a run's checks
    /// feed them all at once, at the end).
    pub fn reserve_sends(&mut self, sends: usize) {
        self.acknowledged.reserve(sends);
    }

    fn saw(&mut self, key: Key, offset: u64, value: i64) {
        let first = self
            .at
            .entry(key)
            .or_default()
            .first_or_insert(offset, value);
        if first != value {
            let others = self.others.entry((key, offset)).or_default();
            if !others.contains(&value) {
                others.push(value);
            }
        }
    }

    /// `process`'s send of `value` to `key` was acknowledged, at `offset`
    /// if the acknowledgement said.
    pub fn send(&mut self, process: i64, key: Key, offset: Option<u64>, value: i64) {
        self.acknowledged.push(Write { key, offset, value });
        let Some(offset) = offset else {
            return;
        };
        self.saw(key, offset, value);
        if let Some(from) = self.last_send.insert((process, key), offset) {
            if offset <= from {
                let step = Step {
                    process,
                    key,
                    from,
                    to: offset,
                };
                self.nonmonotonic_sends.push(step);
            }
        }
    }

    /// `process` polled `value` at `offset` of `key`.
    pub fn poll(&mut self, process: i64, key: Key, offset: u64, value: i64) {
        self.saw(key, offset, value);
        self.polled.push((key, value));
        let highest = self.highest_polled.entry(key).or_insert(offset);
        *highest = (*highest).max(offset);
        if let Some(from) = self.last_poll.insert((process, key), offset) {
            let step = Step {
                process,
                key,
                from,
                to: offset,
            };
            if offset <= from {
                self.nonmonotonic_polls.push(step);
            } else if offset > from + 1 {
                self.jumps.push(step);
            }
        }
    }

    /// The anomalies, judged on everything seen so far.
    pub fn report(&mut self) -> LogReport {
        self.polled.sort_unstable();
        self.polled.dedup();
        let never_polled = |w: &&Write| self.polled.binary_search(&(w.key, w.value)).is_err();
        let passed = |w: &Write| {
            let highest = self.highest_polled.get(&w.key);
            matches!((w.offset, highest), (Some(o), Some(&h)) if h > o)
        };
        let unpolled: Vec<Write> = self
            .acknowledged
            .iter()
            .filter(never_polled)
            .copied()
            .collect();
        let skips = self.jumps.iter().filter_map(|step| {
            let skipped: Vec<u64> = self
                .at
                .get(&step.key)
                .into_iter()
                .flat_map(|column| column.offsets_in(step.from + 1, step.to))
                .take(EXAMPLES_MAX)
                .collect();
            (!skipped.is_empty()).then_some(Skip {
                step: *step,
                skipped,
            })
        });
        LogReport {
            acknowledged: self.acknowledged.len(),
            polled: self.polled.len(),
            lost_writes: Class::of(unpolled.iter().copied().filter(|w| passed(w))),
            unseen: Class::of(unpolled.iter().copied().filter(|w| !passed(w))),
            duplicates: Class::of(self.duplicates()),
            inconsistent_offsets: Class::of(self.others.iter().map(|(&(key, offset), others)| {
                let first = self.at[&key].get(offset);
                let mut values: Vec<i64> = first.into_iter().collect();
                values.extend(others);
                Clash {
                    key,
                    offsets: vec![offset],
                    values,
                }
            })),
            poll_skips: Class::of(skips),
            nonmonotonic_polls: Class::of(self.nonmonotonic_polls.iter().copied()),
            nonmonotonic_sends: Class::of(self.nonmonotonic_sends.iter().copied()),
        }
    }

    /// Values at two or more offsets of a partition, by partition and
    /// value. One sorted list of (partition, value, offset), not a map of
    /// lists: a run keeps hundreds of thousands of records.
    fn duplicates(&self) -> Vec<Clash> {
        let others = self
            .others
            .iter()
            .flat_map(|(&(key, offset), values)| values.iter().map(move |&v| (key, v, offset)));
        let mut seen: Vec<(Key, i64, u64)> = self
            .at
            .iter()
            .flat_map(|(&key, column)| column.iter().map(move |(offset, v)| (key, v, offset)))
            .chain(others)
            .collect();
        seen.sort_unstable();
        seen.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1))
            .filter(|run| run.len() > 1)
            .map(|run| Clash {
                key: run[0].0,
                offsets: run.iter().map(|&(_, _, offset)| offset).collect(),
                values: vec![run[0].1],
            })
            .collect()
    }
}

fn error(op: &Op, message: String) -> ModelError {
    ModelError {
        line: op.call_line,
        message,
    }
}

/// An error in what an op returned: on its completion's line.
fn output_error(op: &Op, message: String) -> ModelError {
    ModelError {
        line: op.return_line.unwrap_or(op.call_line),
        message,
    }
}

fn integer(value: &Value, op: &Op, what: &str) -> Result<i64, ModelError> {
    match value {
        Value::Int(v) => Ok(*v),
        other => Err(output_error(
            op,
            format!("expected an integer {what}, found {other}"),
        )),
    }
}

fn offset(value: &Value, op: &Op) -> Result<u64, ModelError> {
    match value {
        Value::Int(v) if *v >= 0 => Ok(*v as u64),
        other => Err(output_error(
            op,
            format!("expected an offset (an integer of at least 0), found {other}"),
        )),
    }
}

fn key(op: &Op) -> Result<Key, ModelError> {
    let Some(k) = &op.key else {
        return Err(error(
            op,
            format!("expected a key (the partition) on a {} op", op.f),
        ));
    };
    k.parse().map_err(|_| {
        error(
            op,
            format!("expected a key that is an integer of at least 0 (the partition), found {k:?}"),
        )
    })
}

/// `[offset, value]`.
fn pair(value: &Value, op: &Op) -> Result<(u64, i64), ModelError> {
    match value {
        Value::List(items) if items.len() == 2 => {
            Ok((offset(&items[0], op)?, integer(&items[1], op, "value")?))
        }
        other => Err(output_error(
            op,
            format!("expected [offset, value], found {other}"),
        )),
    }
}

/// Checks a recorded log history: an `:ok` send acknowledged its value,
/// at the offset its completion gives (`[offset, value]`, or the value
/// alone when the log said no offset); an `:ok` poll read the
/// `[offset, value]` pairs of its list, in order. Sends and polls that
/// failed or whose outcome is unknown tell nothing.
pub fn check(history: &History) -> Result<LogReport, ModelError> {
    let mut seen = Observations::new();
    for op in history.aborted.iter().chain(&history.ops) {
        if op.f != "send" && op.f != "poll" {
            return Err(error(
                op,
                format!("a log history has send and poll ops, not {:?}", op.f),
            ));
        }
    }
    for op in &history.ops {
        let Some(output) = &op.output else {
            continue;
        };
        let k = key(op)?;
        if op.f == "send" {
            match output {
                Value::List(_) => {
                    let (o, v) = pair(output, op)?;
                    seen.send(op.process, k, Some(o), v);
                }
                other => seen.send(op.process, k, None, integer(other, op, "sent value")?),
            }
            continue;
        }
        match output {
            Value::Nil => {}
            Value::List(records) => {
                for r in records {
                    let (o, v) = pair(r, op)?;
                    seen.poll(op.process, k, o, v);
                }
            }
            other => {
                return Err(output_error(
                    op,
                    format!("expected a poll to return a list of [offset, value], found {other}"),
                ))
            }
        }
    }
    Ok(seen.report())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clean history: two producers, one consumer reading everything.
    fn clean() -> Observations {
        let mut o = Observations::new();
        o.send(0, 1, Some(0), 10);
        o.send(1, 1, Some(1), 11);
        o.send(0, 1, Some(2), 12);
        for (offset, value) in [(0, 10), (1, 11), (2, 12)] {
            o.poll(5, 1, offset, value);
        }
        o
    }

    #[test]
    fn a_clean_history_has_no_anomaly() {
        let r = clean().report();
        assert!(r.holds(true), "{r:?}");
        assert_eq!((r.acknowledged, r.polled), (3, 3));
    }

    #[test]
    fn an_acknowledged_send_never_polled_is_lost_below_what_was_read_and_unseen_above() {
        let mut o = clean();
        o.send(0, 1, Some(1), 99); // same offset as 11: and never read
        o.send(0, 1, Some(7), 70);
        let r = o.report();
        assert_eq!(r.lost_writes.count, 1);
        assert_eq!(r.lost_writes.examples[0].value, 99);
        assert_eq!(r.unseen.count, 1);
        assert_eq!(r.unseen.examples[0].value, 70);
        assert_eq!(r.inconsistent_offsets.count, 1, "offset 1 holds 11 and 99");
        assert_eq!(r.inconsistent_offsets.examples[0].values, [11, 99]);
        assert!(!r.holds(false));
    }

    #[test]
    fn a_value_at_two_offsets_is_a_duplicate_a_violation_only_for_exactly_once() {
        let mut o = clean();
        o.poll(5, 1, 3, 11);
        let r = o.report();
        assert_eq!(r.duplicates.count, 1);
        assert_eq!(r.duplicates.examples[0].offsets, [1, 3]);
        assert!(r.holds(false));
        assert!(!r.holds(true));
    }

    #[test]
    fn jumping_over_records_is_a_skip_and_going_back_is_nonmonotonic() {
        let mut o = clean();
        o.poll(6, 1, 0, 10);
        o.poll(6, 1, 2, 12); // skips 1
        o.poll(6, 1, 2, 12); // again: stands still
        o.poll(7, 1, 0, 10);
        o.poll(7, 1, 5, 15); // jumps over 1 to 4: 1 and 2 hold records
        let r = o.report();
        assert_eq!(r.poll_skips.count, 2);
        assert_eq!(r.poll_skips.examples[0].skipped, [1]);
        assert_eq!(r.poll_skips.examples[1].skipped, [1, 2]);
        assert_eq!(r.nonmonotonic_polls.count, 1);
        let mut empty_gap = Observations::new();
        empty_gap.poll(1, 0, 0, 1);
        empty_gap.poll(1, 0, 5, 2);
        assert_eq!(
            empty_gap.report().poll_skips.count,
            0,
            "nothing known in between"
        );
    }

    #[test]
    fn sends_whose_offsets_go_back_are_nonmonotonic() {
        let mut o = clean();
        o.send(1, 1, Some(0), 13);
        let r = o.report();
        assert_eq!(r.nonmonotonic_sends.count, 1);
        assert_eq!(
            r.nonmonotonic_sends.examples[0],
            Step {
                process: 1,
                key: 1,
                from: 1,
                to: 0
            }
        );
    }

    #[test]
    fn long_classes_are_counted_and_cut() {
        let mut o = Observations::new();
        for v in 0..30 {
            o.send(0, 0, Some(v as u64), v);
        }
        let r = o.report();
        assert_eq!(r.unseen.count, 30);
        assert_eq!(r.unseen.examples.len(), EXAMPLES_MAX);
    }
}
