//! The log's checks. Two sources of truth: the simulator knows each
//! partition's final committed log (its leader's records below the high
//! watermark, after the liveness phase), and the history checker
//! (`check::log`, Jepsen's Kafka checker) judges what producers and
//! consumers saw.
//!
//! - `log.lost` (eventually): an acknowledged send (an offset came back)
//!   that is not in its partition's final committed log.
//! - `log.skipped` (eventually): a record of a final committed log that
//!   never took effect at the sink (a consumer committed past it and
//!   crashed before applying it, or it vanished from under a consumer).
//! - `log.offline` (eventually): a partition with no live leader after the
//!   liveness phase.
//! - `log.duplicate-effects` (always, when `[log] exactly_once` claims
//!   it): a value took effect twice.
//! - `log.duplicate-writes` (at the end, when `exactly_once`): a value at
//!   two offsets of a final committed log (a retried send appended twice).
//! - `log.projection` (eventually, with `[log] projection`): the sink's
//!   live projection, and the one rebuilt from its last snapshot and the
//!   final logs' tail after it, both equal the fold of the final logs.
//! - `log.windows` (eventually, with `[log] window`): every window's
//!   counted and dropped events equal the final logs' events in it.
//! - `log.order` (at the end): the history checker's order classes on
//!   what was acknowledged and polled: `inconsistent-offsets`,
//!   `poll-skip`, `nonmonotonic-poll`, `nonmonotonic-send` (the failure
//!   kind names which).

use super::{Entry, Layout, LogNode, LogOptions, Note, Partition, Produce, Produced, Snapshot};
use super::{Tally, Windows};
use crate::check::log::{LogReport, Observations};
use crate::check::queue::values_text;
use crate::history::Outcome;
use crate::process::{CheckInfo, EndState, Invariants, NodeId, Violation};
use crate::time::SimTime;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Every check the log reports.
pub const CHECKS: &[CheckInfo] = &[
    CheckInfo::eventually("log.lost"),
    CheckInfo::eventually("log.skipped"),
    CheckInfo::eventually("log.offline"),
    CheckInfo::always("log.duplicate-effects"),
    CheckInfo::at_end("log.duplicate-writes"),
    CheckInfo::at_end("log.order"),
    CheckInfo::eventually("log.projection"),
    CheckInfo::eventually("log.windows"),
];

/// The most values a violation's message names.
const NAMED: usize = 5;

/// The checks of one run.
#[derive(Debug)]
pub struct LogChecks {
    exactly_once: bool,
    layout: Layout,
    partitions: Partition,
    /// Polls (as they came) and, at the end, acknowledged sends.
    seen: Observations,
    /// How many times each value took effect, indexed by value (the
    /// workload's values count up from 1: a vector, not a map, for the
    /// hundreds of thousands of a long run).
    applied: Vec<u32>,
    deduplicated: u64,
    elections: u64,
    unclean_elections: u64,
    /// Consumer-group generations begun.
    generations: u64,
    truncated: u64,
    truncated_committed: u64,
    /// Filled in at the end.
    end: Option<EndCounts>,
    /// Filled in at the end, with windows.
    windows: Option<WindowCounts>,
}

/// What the end of the run found.
#[derive(Clone, Debug, Default)]
struct EndCounts {
    acknowledged: u64,
    unconfirmed: u64,
    unconfirmed_missing: u64,
    lost: u64,
    skipped: u64,
    duplicate_writes: u64,
    records: u64,
    report: Option<LogReport>,
}

/// A partition's final committed log (its values), or why there is none.
type FinalLog = Result<Vec<u64>, &'static str>;

/// A partition's final committed records, or why there are none.
type FinalRecords = Result<Vec<Entry>, &'static str>;

impl LogChecks {
    /// Checks for a run of `options`.
    pub fn new(options: &LogOptions, layout: Layout) -> Self {
        LogChecks {
            exactly_once: options.exactly_once,
            layout,
            partitions: options.partitions,
            seen: Observations::new(),
            applied: Vec::new(),
            deduplicated: 0,
            elections: 0,
            unclean_elections: 0,
            generations: 0,
            truncated: 0,
            truncated_committed: 0,
            end: None,
            windows: None,
        }
    }

    fn duplicate_effects(&self) -> u64 {
        self.applied
            .iter()
            .map(|&n| u64::from(n.saturating_sub(1)))
            .sum()
    }

    /// How many times `value` took effect.
    fn times_applied(&self, value: u64) -> u32 {
        usize::try_from(value)
            .ok()
            .and_then(|v| self.applied.get(v))
            .copied()
            .unwrap_or(0)
    }

    /// Each partition's final committed log: its leader's records below
    /// the high watermark, as the controller names the leader.
    fn final_records(&self, end: &EndState<'_, LogNode>) -> Vec<FinalRecords> {
        let controller = end
            .nodes
            .get(self.layout.controller().index())
            .copied()
            .flatten();
        let Some(LogNode::Controller(c)) = controller else {
            return vec![Err("the controller is down"); self.partitions as usize];
        };
        c.states()
            .iter()
            .enumerate()
            .map(|(p, state)| {
                let leader = state.leader.ok_or("no leader")?;
                let Some(Some(LogNode::Broker(b))) = end.nodes.get(leader as usize) else {
                    return Err("its leader is down");
                };
                let replica = b
                    .replica(p as Partition)
                    .ok_or("its leader does not host it")?;
                let hw = replica.hw() as usize;
                Ok(replica.log()[..hw].to_vec())
            })
            .collect()
    }
}

impl LogChecks {
    /// `log.projection`: the sink's live projection and the one its last
    /// snapshot and the final logs' tail rebuild, against the fold of the
    /// final logs. Nothing to judge without a projection, a live sink, or
    /// every partition's final log.
    fn projection_violation(
        &self,
        end: &EndState<'_, LogNode>,
        logs: &[FinalLog],
    ) -> Option<Violation> {
        let Some(Some(LogNode::Sink(sink))) = end.nodes.get(self.layout.sink().index()) else {
            return None;
        };
        let (live, snapshot) = sink.projection()?;
        let logs: Vec<&Vec<u64>> = logs
            .iter()
            .map(|l| l.as_ref().ok())
            .collect::<Option<_>>()?;
        let mut truth = Snapshot::default();
        let mut rebuilt = snapshot.clone();
        for (p, log) in logs.iter().enumerate() {
            let from = snapshot
                .positions
                .get(&(p as Partition))
                .copied()
                .unwrap_or(0) as usize;
            for (offset, &value) in log.iter().enumerate() {
                truth.apply(value);
                if offset >= from {
                    rebuilt.apply(value);
                }
            }
        }
        let differs = |what: &str, got: &Snapshot| {
            (got.balances != truth.balances).then(|| {
                format!(
                    "{what} balances {:?}, the final logs' fold {:?}",
                    got.balances, truth.balances
                )
            })
        };
        let found: Vec<String> = [
            differs("live", live),
            differs("rebuilt from the last snapshot", &rebuilt),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!found.is_empty()).then(|| {
            let message = format!("the projection is not the log's fold: {}", found.join("; "));
            Violation::new("log.projection", end.time, message)
        })
    }
}

impl LogChecks {
    /// `log.windows`: every window's counted and dropped events against
    /// the final logs' events in it (the simulator knows each record's
    /// event time). Nothing to judge without windows, a live sink, or every
    /// partition's final log.
    fn windows_violation(
        &mut self,
        end: &EndState<'_, LogNode>,
        records: &[FinalRecords],
    ) -> Option<Violation> {
        let Some(Some(LogNode::Sink(sink))) = end.nodes.get(self.layout.sink().index()) else {
            return None;
        };
        let (spec, live) = sink.windows()?;
        let records: Vec<&Vec<Entry>> = records
            .iter()
            .map(|l| l.as_ref().ok())
            .collect::<Option<_>>()?;
        let mut truth: std::collections::BTreeMap<u64, u64> = std::collections::BTreeMap::new();
        for e in records.into_iter().flatten() {
            for start in spec.starts(e.time_ns) {
                *truth.entry(start).or_insert(0) += 1;
            }
        }
        self.windows = Some(window_counts(live, &truth));
        let wrong: Vec<String> = truth
            .keys()
            .chain(live.tallies.keys())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter_map(|start| {
                let t = live.tallies.get(start).copied().unwrap_or_default();
                let events = truth.get(start).copied().unwrap_or(0);
                (t.counted + t.dropped != events).then(|| {
                    format!(
                        "window at {} ms: {} counted + {} dropped, {} events",
                        start / 1_000_000,
                        t.counted,
                        t.dropped,
                        events
                    )
                })
            })
            .collect();
        (!wrong.is_empty()).then(|| {
            let shown: Vec<&str> = wrong.iter().take(NAMED).map(String::as_str).collect();
            let message = format!(
                "{} windows do not hold their events (a batch applied twice, or lost from a checkpoint): {}",
                wrong.len(),
                shown.join("; ")
            );
            Violation::new("log.windows", end.time, message)
        })
    }
}

/// The window metrics: windows, events counted and dropped, late updates,
/// and the events in the final logs the windows should hold.
fn window_counts(live: &Windows, truth: &std::collections::BTreeMap<u64, u64>) -> WindowCounts {
    let sum = |f: fn(&Tally) -> u64| live.tallies.values().map(f).sum();
    WindowCounts {
        windows: truth.len().max(live.tallies.len()) as u64,
        counted: sum(|t| t.counted),
        late: sum(|t| t.late),
        dropped: sum(|t| t.dropped),
        events: truth.values().sum(),
    }
}

/// What the windows came to at the end.
#[derive(Clone, Copy, Debug, Default)]
struct WindowCounts {
    windows: u64,
    counted: u64,
    late: u64,
    dropped: u64,
    events: u64,
}

/// A few of `values`, and how many more.
fn named(values: &[u64]) -> String {
    let listed: Vec<i64> = values.iter().take(NAMED).map(|&v| v as i64).collect();
    values_text(&listed, values.len(), NAMED)
}

impl Invariants<LogNode> for LogChecks {
    fn names(&self) -> &'static [CheckInfo] {
        CHECKS
    }

    fn on_note(&mut self, at: SimTime, _node: NodeId, note: &Note) -> Result<(), Violation> {
        match *note {
            Note::Elected { unclean, .. } => {
                self.elections += 1;
                self.unclean_elections += u64::from(unclean);
            }
            Note::Regrouped => self.generations += 1,
            Note::Truncated {
                count, committed, ..
            } => {
                self.truncated += count;
                self.truncated_committed += committed;
            }
            Note::Polled {
                consumer,
                partition,
                offset,
                value,
            } => {
                let key = u64::from(partition);
                self.seen.poll(consumer as i64, key, offset, value as i64);
            }
            Note::Deduplicated => self.deduplicated += 1,
            Note::Applied { value } => {
                assert!(
                    value < 1 << 40,
                    "value {value} applied: the workload's values count up from 1"
                );
                let v = value as usize;
                if v >= self.applied.len() {
                    self.applied.resize(v + 1, 0);
                }
                let times = &mut self.applied[v];
                *times += 1;
                if *times == 2 && self.exactly_once {
                    let message = format!(
                        "value {value} took effect twice: a consumer applied a batch again (it crashed before committing its position, or the record was in the log twice)"
                    );
                    return Err(Violation::new("log.duplicate-effects", at, message));
                }
            }
        }
        Ok(())
    }

    fn at_end(&mut self, end: &EndState<'_, LogNode>) -> Vec<Violation> {
        let mut counts = EndCounts::default();
        let mut acked: Vec<(Partition, u64)> = Vec::with_capacity(end.history.ops.len());
        let mut unconfirmed: Vec<(Partition, u64)> = Vec::new();
        self.seen.reserve_sends(end.history.ops.len());
        for op in &end.history.ops {
            let Produce { partition, value } = op.op;
            match op.outcome {
                Outcome::Ok(Produced::At(offset)) => {
                    let key = u64::from(partition);
                    self.seen
                        .send(op.process as i64, key, Some(offset), value as i64);
                    acked.push((partition, value));
                }
                Outcome::Ok(Produced::Unconfirmed) => unconfirmed.push((partition, value)),
                _ => {}
            }
        }
        let final_records = self.final_records(end);
        let logs: Vec<FinalLog> = final_records
            .iter()
            .map(|l| {
                l.as_ref()
                    .map(|es| es.iter().map(|e| e.value).collect())
                    .map_err(|e| *e)
            })
            .collect();
        // Each partition's values, sorted (searched, not a set per value:
        // a run keeps hundreds of thousands of records).
        let in_log: Vec<Vec<u64>> = logs
            .iter()
            .map(|l| {
                let mut values = l.as_ref().map_or(Vec::new(), Vec::clone);
                values.sort_unstable();
                values
            })
            .collect();
        let missing = |&&(p, v): &&(Partition, u64)| {
            logs[p as usize].is_ok() && in_log[p as usize].binary_search(&v).is_err()
        };
        let lost: Vec<u64> = acked.iter().filter(missing).map(|&(_, v)| v).collect();
        counts.acknowledged = acked.len() as u64;
        counts.unconfirmed = unconfirmed.len() as u64;
        counts.unconfirmed_missing = unconfirmed.iter().filter(missing).count() as u64;
        counts.lost = lost.len() as u64;
        let records: Vec<u64> = logs.iter().flatten().flatten().copied().collect();
        counts.records = records.len() as u64;
        let skipped: Vec<u64> = records
            .iter()
            .copied()
            .filter(|&v| self.times_applied(v) == 0)
            .collect();
        counts.skipped = skipped.len() as u64;
        let twice: Vec<u64> = in_log
            .iter()
            .flat_map(|values| values.windows(2).filter(|w| w[0] == w[1]).map(|w| w[1]))
            .collect();
        counts.duplicate_writes = twice.len() as u64;
        let report = self.seen.report();
        let mut found = Vec::new();
        if end.completed {
            let offline: Vec<String> = logs
                .iter()
                .enumerate()
                .filter_map(|(p, l)| l.as_ref().err().map(|why| format!("{p} ({why})")))
                .collect();
            if !offline.is_empty() {
                let message = format!(
                    "partitions without a live leader after the liveness phase: {}",
                    offline.join(", ")
                );
                found.push(Violation::new("log.offline", end.time, message));
            }
            if !lost.is_empty() {
                let message = format!(
                    "{} of {} acknowledged sends are not in their partition's final log: {}",
                    lost.len(),
                    acked.len(),
                    named(&lost)
                );
                found.push(Violation::new("log.lost", end.time, message));
            }
            if !skipped.is_empty() {
                let message = format!(
                    "{} of {} records in the final logs never took effect at the sink: {}",
                    skipped.len(),
                    records.len(),
                    named(&skipped)
                );
                found.push(Violation::new("log.skipped", end.time, message));
            }
        }
        if self.exactly_once && !twice.is_empty() {
            let message = format!(
                "{} values are twice in a partition's final log (a retried send appended again): {}",
                twice.len(),
                named(&twice)
            );
            found.push(Violation::new("log.duplicate-writes", end.time, message));
        }
        if end.completed {
            found.extend(self.projection_violation(end, &logs));
            found.extend(self.windows_violation(end, &final_records));
        }
        found.extend(order_violations(&report, end.time));
        counts.report = Some(report);
        self.end = Some(counts);
        found
    }

    fn metrics(&self) -> BTreeMap<String, Value> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: Value| {
            m.insert(format!("log_{k}"), v);
        };
        if let Some(c) = &self.end {
            put("acknowledged", json!(c.acknowledged));
            put("unconfirmed", json!(c.unconfirmed));
            put("unconfirmed_missing", json!(c.unconfirmed_missing));
            put("lost", json!(c.lost));
            put("skipped", json!(c.skipped));
            put("records", json!(c.records));
            put("duplicate_writes", json!(c.duplicate_writes));
            if let Some(r) = &c.report {
                for (name, count) in r.classes() {
                    put(&format!("history_{}", name.replace('-', "_")), json!(count));
                }
            }
        }
        if let Some(w) = self.windows {
            put("windows", json!(w.windows));
            put("window_counted", json!(w.counted));
            put("window_late", json!(w.late));
            put("window_dropped", json!(w.dropped));
            put("window_events", json!(w.events));
        }
        put(
            "applied",
            json!(self.applied.iter().filter(|&&n| n > 0).count()),
        );
        put("duplicate_effects", json!(self.duplicate_effects()));
        put("deduplicated", json!(self.deduplicated));
        put("elections", json!(self.elections));
        put("unclean_elections", json!(self.unclean_elections));
        put("group_generations", json!(self.generations));
        put("truncated", json!(self.truncated));
        put("truncated_committed", json!(self.truncated_committed));
        m
    }
}

/// `log.order`'s violations: one per order class the history shows.
fn order_violations(r: &LogReport, at: SimTime) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut add = |kind: &str, count: usize, example: String| {
        if count > 0 {
            let message = format!("{count} {kind}: {example}");
            found.push(Violation::new("log.order", at, message).with_kind(kind));
        }
    };
    if let Some(c) = r.inconsistent_offsets.examples.first() {
        let example = format!(
            "offset {} of partition {} was read or acknowledged as {:?}",
            c.offsets[0], c.key, c.values
        );
        add(
            "inconsistent-offsets",
            r.inconsistent_offsets.count,
            example,
        );
    }
    if let Some(s) = r.poll_skips.examples.first() {
        let example = format!(
            "consumer {:#x} polled offset {} then {} of partition {}, skipping {:?}",
            s.step.process, s.step.from, s.step.to, s.step.key, s.skipped
        );
        add("poll-skip", r.poll_skips.count, example);
    }
    if let Some(s) = r.nonmonotonic_polls.examples.first() {
        let example = format!(
            "consumer {:#x} polled offset {} then {} of partition {}",
            s.process, s.from, s.to, s.key
        );
        add("nonmonotonic-poll", r.nonmonotonic_polls.count, example);
    }
    if let Some(s) = r.nonmonotonic_sends.examples.first() {
        let example = format!(
            "producer process {} was acknowledged offset {} then {} of partition {}",
            s.process, s.from, s.to, s.key
        );
        add("nonmonotonic-send", r.nonmonotonic_sends.count, example);
    }
    found
}
