//! Many seeds of one scenario, in parallel across cores (rayon), each run
//! still single-threaded and deterministic. The outcome of every seed, and
//! so the report, is the same whatever the number of jobs: results are kept
//! in seed order, never in completion order.
//!
//! Sharding splits a seed range across machines: shard `I/N` runs the seeds
//! whose offset from the start of the range is `I` modulo `N`, and
//! [`ExploreReport::merge`] puts shard reports back together into exactly
//! the unsharded report.

pub mod guided;
pub mod shrink;

use crate::report::replay_command;
use crate::run::{self, RunOptions};
use crate::scenario::{Expect, Scenario};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};

/// A half-open range of seeds, written `A..B`, `A..=B` or `N` (= `0..N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedRange {
    /// First seed.
    pub start: u64,
    /// One past the last seed.
    pub end: u64,
}

/// Why a seed range or shard did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(String);

impl FromStr for SeedRange {
    type Err = ParseError;
    fn from_str(text: &str) -> Result<Self, ParseError> {
        let bad = || {
            ParseError(format!(
                "expected seeds like 0..1000, 5..=9 or 1000, found {text:?}"
            ))
        };
        let num = |s: &str| s.trim().parse::<u64>().map_err(|_| bad());
        let (start, end) = if let Some((a, b)) = text.split_once("..=") {
            (num(a)?, num(b)?.checked_add(1).ok_or_else(bad)?)
        } else if let Some((a, b)) = text.split_once("..") {
            (num(a)?, num(b)?)
        } else {
            (0, num(text)?)
        };
        if start >= end {
            return Err(ParseError(format!(
                "the seed range {text:?} is empty: expected start < end"
            )));
        }
        Ok(SeedRange { start, end })
    }
}

impl fmt::Display for SeedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// One shard of a sweep: `index` of `count`, written `I/N` with `I < N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

impl FromStr for Shard {
    type Err = ParseError;
    fn from_str(text: &str) -> Result<Self, ParseError> {
        let bad = || {
            ParseError(format!(
                "expected a shard like 0/4 (index/count, index < count), found {text:?}"
            ))
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index = i.trim().parse::<u64>().map_err(|_| bad())?;
        let count = n.trim().parse::<u64>().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The seeds of `range` that belong to `shard` (all of them without one).
pub fn shard_seeds(range: SeedRange, shard: Option<Shard>) -> Vec<u64> {
    match shard {
        None => (range.start..range.end).collect(),
        Some(s) => (range.start..range.end)
            .filter(|seed| (seed - range.start) % s.count == s.index)
            .collect(),
    }
}

/// How one seed ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedOutcome {
    /// The seed.
    pub seed: u64,
    /// The first violated check, if any.
    pub check: Option<String>,
    /// Its message.
    pub message: Option<String>,
    /// The run's trace hash.
    pub trace_hash: String,
    /// Events processed.
    pub events: u64,
    /// The swarm fault mix the seed drew, if swarm testing was on.
    pub swarm: Option<String>,
    /// With no violation: the first check that could not be decided.
    #[serde(default)]
    pub undecided_check: Option<String>,
    /// Why it could not be decided.
    #[serde(default)]
    pub undecided_reason: Option<String>,
}

/// Options of a sweep.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExploreOptions {
    /// Worker threads (`None`: one per core).
    pub jobs: Option<usize>,
    /// Stop starting new seeds after the first violation. The set of seeds
    /// run then depends on scheduling; the failures found are still real.
    pub fail_fast: bool,
    /// Give each seed its own fault mix from the scenario's `[swarm]` ranges.
    pub swarm: bool,
}

/// Runs one seed.
pub fn run_seed(scenario: &Scenario, seed: u64, swarm: bool) -> SeedOutcome {
    let options = RunOptions {
        swarm,
        skip_history: true,
        ..RunOptions::default()
    };
    let result = run::run(scenario, seed, options);
    let first = result.violations.first();
    let undecided = result.undecided.first().filter(|_| first.is_none());
    SeedOutcome {
        seed,
        check: first.map(|v| v.check.clone()),
        message: first.map(|v| v.message.clone()),
        trace_hash: result.trace_hash,
        events: result.events,
        swarm: result.swarm,
        undecided_check: undecided.map(|u| u.check.clone()),
        undecided_reason: undecided.map(|u| u.reason.clone()),
    }
}

/// Runs every seed in `seeds` and returns their outcomes in seed order.
/// `on_done` is called as each seed finishes (from worker threads), for
/// progress display.
pub fn explore(
    scenario: &Scenario,
    seeds: &[u64],
    options: ExploreOptions,
    on_done: &(dyn Fn(&SeedOutcome) + Sync),
) -> Result<Vec<SeedOutcome>, rayon::ThreadPoolBuildError> {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(jobs) = options.jobs {
        builder = builder.num_threads(jobs);
    }
    let pool = builder.build()?;
    let stop = AtomicBool::new(false);
    let outcomes: Vec<Option<SeedOutcome>> = pool.install(|| {
        seeds
            .par_iter()
            .map(|&seed| {
                if options.fail_fast && stop.load(Ordering::Relaxed) {
                    return None;
                }
                let outcome = run_seed(scenario, seed, options.swarm);
                if outcome.check.is_some() {
                    stop.store(true, Ordering::Relaxed);
                }
                on_done(&outcome);
                Some(outcome)
            })
            .collect()
    });
    Ok(outcomes.into_iter().flatten().collect())
}

/// A seed on which a check failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// The check that failed first.
    pub check: String,
    /// What it said.
    pub message: String,
    /// The command that replays it.
    pub replay: String,
    /// The swarm fault mix it ran with, if any.
    pub swarm: Option<String>,
    /// The run's trace hash: its replay must print the same.
    pub trace_hash: String,
}

/// The failures of one check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckFailures {
    /// How many seeds failed it.
    pub count: u64,
    /// The lowest such seed.
    pub first_seed: u64,
    /// The command that replays the lowest one.
    pub replay: String,
}

/// The result of a sweep, as `explore --json` prints it and `merge` reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExploreReport {
    /// The scenario's name.
    pub scenario: String,
    /// The scenario file.
    pub file: String,
    /// The whole seed range of the sweep.
    pub seeds: SeedRange,
    /// The shard this report covers (`None`: all of it, or a merge of every shard).
    pub shards: Vec<Shard>,
    /// Seeds run.
    pub seeds_run: u64,
    /// Events over every seed.
    pub events: u64,
    /// `"pass"` when the sweep ended as the scenario expects, `"fail"` when
    /// it did not, `"undecided"` when nothing failed but some seeds had a
    /// check that could not be decided within its budget.
    pub verdict: String,
    /// What the scenario expects: `"pass"` or `"violation"` (of a check).
    pub expect: String,
    /// Every seed on which a check failed, in seed order.
    pub failures: Vec<Failure>,
    /// Failures grouped by check, with the first failing seed of each.
    pub by_check: BTreeMap<String, CheckFailures>,
    /// Seeds with no violation but a check left undecided, in seed order
    /// (`message` says why).
    #[serde(default)]
    pub undecided: Vec<Failure>,
    /// Undecided seeds grouped by check, with the first seed of each.
    #[serde(default)]
    pub by_check_undecided: BTreeMap<String, CheckFailures>,
}

impl ExploreReport {
    /// The report of a sweep of `range` (or one shard of it) from its outcomes.
    pub fn new(
        scenario: &Scenario,
        range: SeedRange,
        shard: Option<Shard>,
        outcomes: &[SeedOutcome],
    ) -> Self {
        let failure = |o: &SeedOutcome, check: &Option<String>, message: &Option<String>| {
            Some(Failure {
                seed: o.seed,
                check: check.clone()?,
                message: message.clone().unwrap_or_default(),
                replay: replay_command(scenario, o.seed, o.swarm.is_some()),
                swarm: o.swarm.clone(),
                trace_hash: o.trace_hash.clone(),
            })
        };
        let failures: Vec<Failure> = outcomes
            .iter()
            .filter_map(|o| failure(o, &o.check, &o.message))
            .collect();
        let undecided: Vec<Failure> = outcomes
            .iter()
            .filter_map(|o| failure(o, &o.undecided_check, &o.undecided_reason))
            .collect();
        let mut report = ExploreReport {
            scenario: scenario.name.clone(),
            file: scenario.file.clone(),
            seeds: range,
            shards: shard.into_iter().collect(),
            seeds_run: outcomes.len() as u64,
            events: outcomes.iter().map(|o| o.events).sum(),
            verdict: String::new(),
            expect: expect_text(&scenario.expect),
            failures,
            by_check: BTreeMap::new(),
            undecided,
            by_check_undecided: BTreeMap::new(),
        };
        report.summarize();
        report
    }

    /// Regroups failures and undecided seeds by check and recomputes the
    /// verdict.
    fn summarize(&mut self) {
        self.failures.sort_by_key(|f| f.seed);
        self.undecided.sort_by_key(|f| f.seed);
        self.by_check = group(&self.failures);
        self.by_check_undecided = group(&self.undecided);
        let expected = self
            .expect
            .strip_prefix("violation")
            .map(|of| of.trim_start_matches(" of "));
        let (happened, open) = match expected {
            None => (self.failures.is_empty(), !self.undecided.is_empty()),
            Some("") => (!self.failures.is_empty(), !self.undecided.is_empty()),
            Some(check) => (
                self.by_check.contains_key(check),
                self.by_check_undecided.contains_key(check),
            ),
        };
        self.verdict = match (happened, open, expected) {
            // expect = "pass": a failure fails; an undecided seed leaves it open.
            (false, _, None) => "fail",
            (true, true, None) => "undecided",
            (true, false, None) => "pass",
            // expect = "violation": one seed showing it is enough.
            (true, _, Some(_)) => "pass",
            (false, true, Some(_)) => "undecided",
            (false, false, Some(_)) => "fail",
        }
        .into();
    }

    /// The shards of the sweep that this (merged) report lacks; empty when
    /// it covers the whole sweep.
    pub fn missing_shards(&self) -> Vec<Shard> {
        let Some(count) = self.shards.first().map(|s| s.count) else {
            return Vec::new();
        };
        (0..count)
            .map(|index| Shard { index, count })
            .filter(|s| !self.shards.contains(s))
            .collect()
    }

    /// Combines shard reports of one sweep into the report of the whole (or
    /// of the shards present: see [`ExploreReport::missing_shards`]). Fails
    /// with a plain message when the reports are of different sweeps, when
    /// a shard appears twice, or when shard counts differ.
    pub fn merge(reports: Vec<ExploreReport>) -> Result<ExploreReport, String> {
        let mut iter = reports.into_iter();
        let mut merged = iter.next().ok_or("nothing to merge")?;
        for r in iter {
            if r.shards.is_empty() || merged.shards.is_empty() {
                return Err(format!(
                    "a report of the whole sweep ({} seeds {}) cannot be merged with others: merge only the reports of `explore --shard I/N` runs",
                    r.scenario, r.seeds
                ));
            }
            if (r.scenario.as_str(), r.seeds, r.expect.as_str())
                != (
                    merged.scenario.as_str(),
                    merged.seeds,
                    merged.expect.as_str(),
                )
            {
                return Err(format!(
                    "cannot merge a report of {} seeds {} with one of {} seeds {}",
                    r.scenario, r.seeds, merged.scenario, merged.seeds
                ));
            }
            if let Some(twice) = r.shards.iter().find(|s| merged.shards.contains(s)) {
                return Err(format!("shard {twice} appears twice"));
            }
            let count = merged.shards[0].count;
            if let Some(other) = r.shards.iter().find(|s| s.count != count) {
                return Err(format!(
                    "shard {other} is of a sweep cut into {} shards, the others into {count}",
                    other.count
                ));
            }
            merged.shards.extend(r.shards);
            merged.seeds_run += r.seeds_run;
            merged.events += r.events;
            merged.failures.extend(r.failures);
            merged.undecided.extend(r.undecided);
        }
        merged.shards.sort_by_key(|s| (s.count, s.index));
        if let Some(count) = merged.shards.first().map(|s| s.count) {
            if merged.shards.len() as u64 == count && merged.shards.iter().all(|s| s.count == count)
            {
                merged.shards.clear(); // every shard is here: this is the whole sweep
            }
        }
        merged.summarize();
        Ok(merged)
    }
}

/// Seeds grouped by check, with the first seed and its replay command.
fn group(failures: &[Failure]) -> BTreeMap<String, CheckFailures> {
    let mut by_check: BTreeMap<String, CheckFailures> = BTreeMap::new();
    for f in failures {
        by_check
            .entry(f.check.clone())
            .or_insert(CheckFailures {
                count: 0,
                first_seed: f.seed,
                replay: f.replay.clone(),
            })
            .count += 1;
    }
    by_check
}

/// `pass`, `violation` or `violation of CHECK`, as reports write what a
/// scenario expects.
pub fn expect_text(expect: &Expect) -> String {
    match expect {
        Expect::Pass => "pass".into(),
        Expect::Violation(None) => "violation".into(),
        Expect::Violation(Some(check)) => format!("violation of {check}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ranges_and_shards_parse() {
        assert_eq!("0..10".parse(), Ok(SeedRange { start: 0, end: 10 }));
        assert_eq!("5..=9".parse(), Ok(SeedRange { start: 5, end: 10 }));
        assert_eq!("100".parse(), Ok(SeedRange { start: 0, end: 100 }));
        for bad in ["", "a..b", "10..5", "3..3", "1..2..3", "-1..4"] {
            assert!(bad.parse::<SeedRange>().is_err(), "{bad}");
        }
        assert_eq!("1/4".parse(), Ok(Shard { index: 1, count: 4 }));
        for bad in ["4/4", "1/0", "x/2", "1"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_partition_the_range() {
        let range = SeedRange { start: 3, end: 103 };
        let mut all: Vec<u64> = (0..7)
            .flat_map(|i| shard_seeds(range, Some(Shard { index: i, count: 7 })))
            .collect();
        all.sort();
        assert_eq!(all, shard_seeds(range, None));
    }
}
