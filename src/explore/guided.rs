//! Coverage-guided exploration (`explore --guided`), AFL-style: keep a
//! corpus of fault schedules that reached new behaviour and mutate them
//! (add, drop, move, stretch or retarget a fault episode, a crash right
//! after a send among the episodes it adds, or draw new
//! network and workload randomness), instead of drawing every run afresh.
//! Behaviour is the run's coverage ([`crate::sim::coverage`]): a run that
//! shows a feature no earlier run showed joins the corpus.
//!
//! Every run is an explicit schedule: the first runs are the scenario's
//! own seeds with their random faults written out (as `shrink` writes
//! them), and each mutant is a schedule again, so any run can be written
//! out as a scenario file and replayed with one command, with the same
//! trace hash. The search is deterministic for a master seed: candidates
//! are drawn in batches of a fixed size from a stream of that seed and run
//! in parallel, and their results are taken in batch order, so the thread
//! count changes nothing.

use super::shrink::{episodes, materialize, without};
use crate::process::NodeId;
use crate::rng::{SimRng, Stream};
use crate::run;
use crate::scenario::{write::derived_toml, Scenario};
use crate::sim::{FaultAction, NodeRef, RunResult, Shape, SimConfig, TimedFault};
use crate::time::SimTime;
use rayon::prelude::*;
use std::collections::BTreeSet;

/// Candidates drawn and run together; fixed, so results do not depend on
/// the number of threads.
pub const BATCH: usize = 16;

/// Options of a guided search.
#[derive(Clone, Copy, Debug)]
pub struct GuidedOptions {
    /// Runs in all.
    pub runs: u64,
    /// The search's own seed; the first runs use the scenario's seeds
    /// `master_seed`, `master_seed + 1`, ...
    pub master_seed: u64,
    /// How many of the first runs are fresh seeds rather than mutants.
    pub fresh: u64,
    /// Draw each fresh seed's fault mix from the scenario's `[swarm]` ranges.
    pub swarm: bool,
    /// Stop after the batch in which the first failure was found (the
    /// same batch whatever the thread count).
    pub fail_fast: bool,
}

impl GuidedOptions {
    /// `runs` runs from `master_seed`, the first two batches fresh (the
    /// scenario's own seeds seed the corpus; mutants do the rest: with
    /// 100 fresh runs instead, the planted bugs that only mutants find
    /// from calm scenarios were mostly found 20 to 80 runs later,
    /// benches/find_bugs.sh in reports/BENCHMARKS.md).
    pub fn new(runs: u64, master_seed: u64, swarm: bool) -> Self {
        GuidedOptions {
            runs,
            master_seed,
            fresh: (2 * BATCH as u64).min(runs),
            swarm,
            fail_fast: false,
        }
    }
}

/// The first run that failed a check.
#[derive(Clone, Debug)]
pub struct GuidedFailure {
    /// The check, with its kind when it has one (`check/kind`).
    pub check: String,
    /// Its message.
    pub message: String,
    /// Which run found it (from 0).
    pub run: u64,
    /// The run's configuration: an explicit schedule, ready to write out.
    pub config: SimConfig,
    /// Its trace hash.
    pub trace_hash: String,
}

/// What a guided search found.
#[derive(Clone, Debug, Default)]
pub struct GuidedReport {
    /// Runs made.
    pub runs: u64,
    /// Distinct behaviour features seen.
    pub coverage: usize,
    /// Schedules kept because they reached new behaviour.
    pub corpus: usize,
    /// Runs that failed (any check).
    pub failing_runs: u64,
    /// The first failure of each check (and kind), in the order found.
    pub failures: Vec<GuidedFailure>,
    /// Coverage after each batch: (runs so far, features so far).
    pub growth: Vec<(u64, usize)>,
}

/// One schedule of the corpus.
struct Entry {
    config: SimConfig,
}

/// The guided search's state.
struct Search<'a> {
    scenario: &'a Scenario,
    options: GuidedOptions,
    rng: SimRng,
    seen: BTreeSet<u64>,
    corpus: Vec<Entry>,
    /// Names for new partitions and named faults.
    next_name: u64,
    report: GuidedReport,
}

/// Runs a guided search of `scenario`; `on_batch` is told the report after
/// each batch (for progress display).
pub fn guided(
    scenario: &Scenario,
    options: GuidedOptions,
    on_batch: &mut dyn FnMut(&GuidedReport),
) -> GuidedReport {
    let mut search = Search {
        scenario,
        options,
        rng: SimRng::new(options.master_seed, Stream::Guided),
        seen: BTreeSet::new(),
        corpus: Vec::new(),
        next_name: 0,
        report: GuidedReport::default(),
    };
    while search.report.runs < options.runs {
        let first = search.report.runs;
        let count = (options.runs - first).min(BATCH as u64);
        let candidates: Vec<SimConfig> = (first..first + count)
            .map(|i| search.candidate(i))
            .collect();
        let results: Vec<RunResult> = candidates
            .par_iter()
            .map(|config| run::run_config(scenario, config.clone()))
            .collect();
        for (i, (config, result)) in candidates.into_iter().zip(results).enumerate() {
            search.take(first + i as u64, config, &result);
        }
        search.report.runs = first + count;
        search
            .report
            .growth
            .push((search.report.runs, search.seen.len()));
        on_batch(&search.report);
    }
    search.report.coverage = search.seen.len();
    search.report.corpus = search.corpus.len();
    search.report
}

impl Search<'_> {
    /// Run `i`'s configuration: a fresh seed's, or a mutant of the corpus.
    fn candidate(&mut self, i: u64) -> SimConfig {
        let mut config = if i < self.options.fresh || self.corpus.is_empty() {
            self.fresh(self.options.master_seed.wrapping_add(i))
        } else {
            let pick = self.pick();
            let parent = self.corpus[pick].config.clone();
            let mut config = parent.clone();
            let ops = 1 + self.rng.below(3);
            for _ in 0..ops {
                self.mutate(&mut config);
            }
            // Every run must be a scenario a user could write (so a failure
            // can be written out and replayed); a mutant that is not (say,
            // a restart left without its crash) becomes a reseeded parent.
            if !self.writable(&config) {
                config = parent;
                config.seed = self.rng.next_u64();
            }
            config
        };
        config.coverage = true;
        config.export_history = false;
        config.record_trace = false;
        config
    }

    /// Whether `config` written out as a scenario file reads back.
    fn writable(&self, config: &SimConfig) -> bool {
        let text = derived_toml(self.scenario, config, "guided", "");
        self.scenario.reparse(&text, "guided").is_ok()
    }

    /// Seed `seed` of the scenario with its random faults written out.
    fn fresh(&self, seed: u64) -> SimConfig {
        let mut config = match self.scenario.swarm_config(seed) {
            Some((config, _)) if self.options.swarm => config,
            _ => self.scenario.config(seed),
        };
        materialize(&mut config, self.scenario.nodes);
        config
    }

    /// A corpus entry, favouring the newest half of the time.
    fn pick(&mut self) -> usize {
        let n = self.corpus.len();
        let recent = n.min(32);
        if self.rng.chance(0.5) {
            n - 1 - self.rng.index(recent)
        } else {
            self.rng.index(n)
        }
    }

    /// Keeps what run `i` found.
    fn take(&mut self, i: u64, config: SimConfig, result: &RunResult) {
        let before = self.seen.len();
        self.seen.extend(result.coverage.iter().copied());
        let failed = !result.violations.is_empty();
        if failed {
            self.report.failing_runs += 1;
            if let Some(v) = result.violations.first() {
                let identity = v.identity();
                if !self.report.failures.iter().any(|f| f.check == identity) {
                    self.report.failures.push(GuidedFailure {
                        check: identity,
                        message: v.message.clone(),
                        run: i,
                        config: config.clone(),
                        trace_hash: result.trace_hash.clone(),
                    });
                }
            }
        }
        if self.seen.len() > before && !failed {
            self.corpus.push(Entry { config });
        }
    }

    // ----- mutations ----------------------------------------------------------------

    fn mutate(&mut self, config: &mut SimConfig) {
        let eps = episodes(&config.faults);
        match self.rng.below(6) {
            0 | 1 => self.add_episode(config),
            2 if !eps.is_empty() => {
                let drop = &eps[self.rng.index(eps.len())];
                *config = without(config, drop);
            }
            3 if !eps.is_empty() => {
                let ep = eps[self.rng.index(eps.len())].clone();
                self.shift(config, &ep);
            }
            4 if !eps.is_empty() => {
                let ep = eps[self.rng.index(eps.len())].clone();
                self.stretch(config, &ep);
            }
            5 if !eps.is_empty() => {
                let ep = eps[self.rng.index(eps.len())].clone();
                self.retarget(config, &ep);
            }
            _ => config.seed = self.rng.next_u64(),
        }
        config.faults.sort_by_key(|f| f.at);
    }

    fn end(config: &SimConfig) -> SimTime {
        SimTime::ZERO + config.duration
    }

    /// A node to hit: a server by index, or (when the protocol has roles)
    /// by role, remembered under `name` so the repair finds it again.
    fn target(&mut self, name: &str) -> NodeRef {
        let roles = self.scenario.protocol.roles();
        if !roles.is_empty() && self.rng.chance(0.5) {
            let role = roles[self.rng.index(roles.len())];
            return NodeRef::Named {
                name: name.to_string(),
                of: Box::new(NodeRef::Role(role.to_string())),
            };
        }
        NodeRef::Id(NodeId(self.rng.below(self.scenario.nodes as u64) as u32))
    }

    /// Adds a fault and its repair at a random time.
    fn add_episode(&mut self, config: &mut SimConfig) {
        let end = Self::end(config).as_nanos();
        if end < 2_000_000 {
            return;
        }
        let at = self.rng.between(0, end - 1_000_000);
        let longest = (end / 2).clamp(50_000_000, 5_000_000_000);
        let mut length = self.rng.between(50_000_000, longest);
        self.next_name += 1;
        let name = format!("g{}", self.next_name);
        let node = self.target(&name);
        let undo_node = match &node {
            NodeRef::Named { name, .. } => NodeRef::HitBy(name.clone()),
            other => other.clone(),
        };
        let (start, undo) = match self.rng.below(6) {
            0 => (
                FaultAction::Crash(node),
                FaultAction::Restart(Some(undo_node)),
            ),
            5 => {
                // A crash right after the node's next send of a kind (any
                // kind for a protocol that names none), back after a
                // log-uniform 100 us .. 1 s: the window of every
                // replied-before-it-was-durable bug.
                let kinds = self
                    .scenario
                    .registry
                    .find(self.scenario.protocol.name())
                    .map_or(&[][..], |e| e.message_kinds());
                let kind = (!kinds.is_empty()).then(|| kinds[self.rng.index(kinds.len())]);
                let (lo, hi) = crate::sim::CrashAfterSend::DOWN_DEFAULT;
                length = self.rng.log_uniform(lo.as_nanos(), hi.as_nanos());
                let start = FaultAction::CrashAfterSend {
                    node,
                    kind: kind.map(str::to_string),
                };
                (start, FaultAction::Restart(Some(undo_node)))
            }
            1 => (
                FaultAction::Pause(node),
                FaultAction::Resume(Some(undo_node)),
            ),
            2 => {
                let skew = 500_000_000u64;
                let offset_ns = self.rng.between(0, 2 * skew) as i64 - skew as i64;
                let start = FaultAction::Clock {
                    node,
                    offset_ns,
                    drift_ppm: 0,
                };
                let undo = FaultAction::Clock {
                    node: undo_node,
                    offset_ns: 0,
                    drift_ppm: 0,
                };
                (start, undo)
            }
            kind => {
                let shape = match kind {
                    3 => Shape::Isolate(strip_name(node)),
                    _ => Shape::Split(None),
                };
                let start = FaultAction::Partition {
                    name: name.clone(),
                    shape,
                    one_way: self.rng.chance(0.2),
                };
                (start, FaultAction::Heal(Some(name)))
            }
        };
        let start_at = SimTime::from_nanos(at);
        config.faults.push(TimedFault {
            at: start_at,
            action: start,
        });
        let undo_at = at.saturating_add(length);
        if undo_at < end {
            config.faults.push(TimedFault {
                at: SimTime::from_nanos(undo_at),
                action: undo,
            });
        }
    }

    /// Moves an episode by up to a quarter of the run either way.
    fn shift(&mut self, config: &mut SimConfig, ep: &[usize]) {
        let end = Self::end(config).as_nanos();
        let span = end / 4;
        let delta = self.rng.between(0, 2 * span) as i64 - span as i64;
        let moved: Vec<u64> = ep
            .iter()
            .map(|&i| config.faults[i].at.as_nanos().saturating_add_signed(delta))
            .collect();
        if moved.iter().all(|&t| t < end) {
            for (&i, t) in ep.iter().zip(moved) {
                config.faults[i].at = SimTime::from_nanos(t);
            }
        }
    }

    /// Makes an episode between half and twice as long.
    fn stretch(&mut self, config: &mut SimConfig, ep: &[usize]) {
        let [start, undo] = ep[..] else { return };
        let (a, b) = (config.faults[start].at, config.faults[undo].at);
        let length = b.saturating_since(a).as_nanos();
        let factor = 0.5 + 1.5 * self.rng.unit();
        let new = ((length as f64 * factor) as u64).max(1_000_000);
        let t = a.as_nanos().saturating_add(new);
        if t < Self::end(config).as_nanos() {
            config.faults[undo].at = SimTime::from_nanos(t);
        }
    }

    /// Points an episode at another server: its fault and its repair, when
    /// they name their node by index (a node named by role or by the fault
    /// that hit it keeps its meaning).
    fn retarget(&mut self, config: &mut SimConfig, ep: &[usize]) {
        let node = NodeId(self.rng.below(self.scenario.nodes as u64) as u32);
        let old = match &config.faults[ep[0]].action {
            FaultAction::Crash(NodeRef::Id(n))
            | FaultAction::Pause(NodeRef::Id(n))
            | FaultAction::CrashAfterSend {
                node: NodeRef::Id(n),
                ..
            } => *n,
            FaultAction::Partition {
                shape: Shape::Isolate(NodeRef::Id(n)),
                ..
            } => *n,
            _ => return,
        };
        for &i in ep {
            match &mut config.faults[i].action {
                FaultAction::Crash(NodeRef::Id(n))
                | FaultAction::Pause(NodeRef::Id(n))
                | FaultAction::CrashAfterSend {
                    node: NodeRef::Id(n),
                    ..
                }
                | FaultAction::Restart(Some(NodeRef::Id(n)))
                | FaultAction::Resume(Some(NodeRef::Id(n)))
                    if *n == old =>
                {
                    *n = node
                }
                FaultAction::Partition {
                    shape: Shape::Isolate(NodeRef::Id(n)),
                    ..
                } if *n == old => *n = node,
                _ => {}
            }
        }
    }
}

/// A partition shape takes the node itself, not a name for it.
fn strip_name(node: NodeRef) -> NodeRef {
    match node {
        NodeRef::Named { of, .. } => *of,
        other => other,
    }
}
