//! `cache.staleness` (at the end): every read is measured against the
//! database's truth. A read that returned version v of a key is stale by
//! how long before the read began the database had committed version
//! v + 1 (0 if it had not). Cache-aside promises staleness at most the TTL
//! (a lost or late delete leaves an entry that expires); a stale fill after
//! a delete (the race leases prevent) goes past it, since the fill comes
//! after the write it misses. The check fails a read more stale than
//! `staleness_bound` (default: the TTL) and names it.
//!
//! `cache.db_load` (at the end, with `max_db_reads_per_s`): the database
//! reads' peak rate over 100 ms windows stays at or under the bound. A
//! stampede on a hot key's expiry goes past it (failure kind
//! `stampede`); leases, with or without coalescing, keep it to one read
//! per expiry.
//!
//! Metrics: reads, hits and the hit ratio, stale reads and the worst
//! staleness, database reads (per window, and their peak rate), fills
//! refused for want of a lease.

use super::node::CacheOptions;
use super::{CacheNode, CacheOp, CacheRes, Note, Version};
use crate::history::Outcome;
use crate::process::{CheckInfo, EndState, Invariants, NodeId, Violation};
use crate::time::{SimDuration, SimTime};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Every check cache-aside reports.
pub const CHECKS: &[CheckInfo] = &[
    CheckInfo::at_end("cache.staleness"),
    CheckInfo::at_end("cache.db_load"),
];

/// The window database reads are counted in for their peak rate.
const DB_WINDOW: SimDuration = SimDuration::from_millis(100);

/// Windows per second.
fn per_second() -> f64 {
    1e9 / DB_WINDOW.as_nanos() as f64
}

/// The checks of one run.
#[derive(Debug)]
pub struct CacheChecks {
    bound: SimDuration,
    max_db_reads_per_s: Option<f64>,
    /// When each version of each key was committed (versions 1, 2, ... in order).
    commits: BTreeMap<u64, Vec<SimTime>>,
    /// Database reads per 100 ms window.
    db_reads: BTreeMap<u64, u64>,
    fills_refused: u64,
    older_refused: u64,
    /// Filled in at the end.
    measured: Measured,
}

#[derive(Debug, Default)]
struct Measured {
    reads: u64,
    hits: u64,
    stale: u64,
    worst: SimDuration,
}

impl CacheChecks {
    /// Checks for a run of `options`.
    pub fn new(options: &CacheOptions) -> Self {
        CacheChecks {
            bound: options.bound(),
            max_db_reads_per_s: options.max_db_reads_per_s,
            commits: BTreeMap::new(),
            db_reads: BTreeMap::new(),
            fills_refused: 0,
            older_refused: 0,
            measured: Measured::default(),
        }
    }

    /// `cache.db_load`: the violation, if database reads peaked above
    /// the bound.
    fn db_load_violation(&self, end: SimTime) -> Option<Violation> {
        let bound = self.max_db_reads_per_s?;
        let (&window, &reads) = self
            .db_reads
            .iter()
            .max_by_key(|(w, n)| (**n, std::cmp::Reverse(**w)))?;
        let rate = reads as f64 * per_second();
        if rate <= bound {
            return None;
        }
        let at = SimTime::ZERO + SimDuration::from_nanos(window * DB_WINDOW.as_nanos());
        let message = format!(
            "the database served {reads} reads in the {DB_WINDOW} from {at} ({rate} per second), above the {bound} per second allowed: a stampede of misses"
        );
        Some(Violation::new("cache.db_load", end, message).with_kind("stampede"))
    }

    /// How stale a read of `key` that began at `invoked` and returned
    /// `version` is: how long before it the next version was committed.
    fn staleness(&self, key: u64, version: Version, invoked: SimTime) -> SimDuration {
        let next = self
            .commits
            .get(&key)
            .and_then(|times| times.get(version as usize).copied());
        match next {
            Some(committed) if committed < invoked => invoked.saturating_since(committed),
            _ => SimDuration::ZERO,
        }
    }

    /// `cache.staleness`: measures every read, and the violation if the
    /// most stale goes past the bound.
    fn staleness_violation(&mut self, end: &EndState<'_, CacheNode>) -> Vec<Violation> {
        let mut m = Measured::default();
        let mut worst_read = None;
        for op in &end.history.ops {
            let (CacheOp::Read { key }, Outcome::Ok(CacheRes::Read { version, hit, .. })) =
                (&op.op, &op.outcome)
            else {
                continue;
            };
            m.reads += 1;
            m.hits += u64::from(*hit);
            let stale = self.staleness(*key, *version, op.invoked);
            if stale > SimDuration::ZERO {
                m.stale += 1;
            }
            if stale > m.worst {
                m.worst = stale;
                worst_read = Some((*key, *version, op.invoked, *hit));
            }
        }
        self.measured = m;
        let worst = self.measured.worst;
        match worst_read {
            Some((key, version, invoked, hit))
                if worst > self.bound && end.is_enabled("cache.staleness") =>
            {
                let message = format!(
                    "a read of key {key} that began at {invoked} returned version {version} from the {}, {worst} after version {} was committed: more stale than the {} bound (a stale fill after a delete lives a whole TTL)",
                    if hit { "cache" } else { "database" },
                    version + 1,
                    self.bound,
                );
                vec![Violation::new("cache.staleness", end.time, message)]
            }
            _ => Vec::new(),
        }
    }
}

impl Invariants<CacheNode> for CacheChecks {
    fn names(&self) -> &'static [CheckInfo] {
        CHECKS
    }

    fn on_note(&mut self, at: SimTime, _node: NodeId, note: &Note) -> Result<(), Violation> {
        match *note {
            Note::Committed { key, version } => {
                let times = self.commits.entry(key).or_default();
                assert_eq!(
                    times.len() as u64 + 1,
                    version,
                    "versions of key {key} committed out of order"
                );
                times.push(at);
            }
            Note::DbRead => {
                *self
                    .db_reads
                    .entry(at.as_nanos() / DB_WINDOW.as_nanos())
                    .or_insert(0) += 1
            }
            Note::FillRefused => self.fills_refused += 1,
            Note::OlderRefused => self.older_refused += 1,
        }
        Ok(())
    }

    fn at_end(&mut self, end: &EndState<'_, CacheNode>) -> Vec<Violation> {
        let mut found = self.staleness_violation(end);
        if end.is_enabled("cache.db_load") {
            found.extend(self.db_load_violation(end.time));
        }
        found
    }

    fn metrics(&self) -> BTreeMap<String, Value> {
        let m = &self.measured;
        let peak = self.db_reads.values().max().copied().unwrap_or(0);
        let mut out = BTreeMap::new();
        let mut put = |k: &str, v: Value| {
            out.insert(format!("cache_{k}"), v);
        };
        put("reads", json!(m.reads));
        put("hits", json!(m.hits));
        if m.reads > 0 {
            put(
                "hit_ratio",
                json!((m.hits as f64 / m.reads as f64 * 1e4).round() / 1e4),
            );
        }
        put("stale_reads", json!(m.stale));
        if m.reads > 0 {
            put(
                "stale_read_rate",
                json!((m.stale as f64 / m.reads as f64 * 1e4).round() / 1e4),
            );
        }
        put("worst_staleness_ns", json!(m.worst.as_nanos()));
        put("db_reads", json!(self.db_reads.values().sum::<u64>()));
        put("db_reads_peak_per_s", json!(peak as f64 * per_second()));
        let last = self.db_reads.keys().next_back().map_or(0, |w| w + 1);
        let per_window: Vec<u64> = (0..last)
            .map(|w| self.db_reads.get(&w).copied().unwrap_or(0))
            .collect();
        put("db_reads_per_window", json!(per_window));
        put("window_ns", json!(DB_WINDOW.as_nanos()));
        put("fills_refused", json!(self.fills_refused));
        put("older_refused", json!(self.older_refused));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(ms)
    }

    #[test]
    fn a_read_is_as_stale_as_the_next_version_is_old_when_it_begins() {
        let mut c = CacheChecks::new(&CacheOptions::default());
        for (ms, version) in [(100, 1), (300, 2)] {
            let note = Note::Committed { key: 4, version };
            assert!(c.on_note(at(ms), NodeId(0), &note).is_ok());
        }
        assert_eq!(c.staleness(4, 2, at(900)), SimDuration::ZERO, "the latest");
        assert_eq!(
            c.staleness(4, 1, at(250)),
            SimDuration::ZERO,
            "version 2 not yet committed"
        );
        assert_eq!(c.staleness(4, 1, at(450)), SimDuration::from_millis(150));
        assert_eq!(c.staleness(4, 0, at(450)), SimDuration::from_millis(350));
        assert_eq!(
            c.staleness(5, 0, at(450)),
            SimDuration::ZERO,
            "a key never written"
        );
        assert!(c.on_note(at(1), NodeId(0), &Note::DbRead).is_ok());
        assert!(c.on_note(at(2), NodeId(0), &Note::DbRead).is_ok());
        assert!(c.on_note(at(150), NodeId(0), &Note::DbRead).is_ok());
        let m = c.metrics();
        assert_eq!(m["cache_db_reads"], 3);
        assert_eq!(
            m["cache_db_reads_peak_per_s"], 20.0,
            "two in one 100 ms window"
        );
    }

    #[test]
    fn database_reads_above_the_rate_allowed_are_a_stampede() {
        let options = CacheOptions {
            max_db_reads_per_s: Some(20.0),
            ..CacheOptions::default()
        };
        let mut c = CacheChecks::new(&options);
        for ms in [1, 2, 150, 310, 320] {
            assert!(c.on_note(at(ms), NodeId(0), &Note::DbRead).is_ok());
        }
        assert!(
            c.db_load_violation(at(1000)).is_none(),
            "two per 100 ms is 20 per second"
        );
        assert!(c.on_note(at(330), NodeId(0), &Note::DbRead).is_ok());
        let v = c
            .db_load_violation(at(1000))
            .unwrap_or_else(|| panic!("three in one window is 30 per second"));
        assert_eq!(v.identity(), "cache.db_load/stampede");
        assert!(
            v.message.contains("3 reads in the 100ms from 300ms"),
            "{}",
            v.message
        );
        assert_eq!(
            c.metrics()["cache_db_reads_per_window"],
            json!([2, 1, 0, 3])
        );
        let unbounded = CacheChecks::new(&CacheOptions::default());
        assert!(unbounded.db_load_violation(at(1000)).is_none());
    }
}
