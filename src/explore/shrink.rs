//! Shrinking a failing run to its essence: the smallest scenario we can
//! find in a bounded number of runs on which the *same* check still fails.
//!
//! The random faults are first written out as a timed schedule (the nemesis
//! draws its schedule before a run, so this changes nothing), then, in a
//! fixed order: whole fault episodes (a fault and its repair) are dropped,
//! ddmin-style in halves, quarters, ... single episodes; repairs are
//! dropped where the fault may last until the liveness phase repairs it;
//! the remaining episodes are shortened; clients, operations and the duration are cut;
//! loss and duplication are set to zero; single episodes are dropped again,
//! trying a few neighbouring seeds; all of it repeats while a pass helps
//! (loss and duplication are tried at zero first too). Every candidate is
//! written out as a scenario file and validated before it is run, so every
//! step keeps a scenario a user could have written. The same input always
//! shrinks to the same output: nothing here depends on anything but the runs.

use crate::process::NodeId;
use crate::run::run_config;
use crate::scenario::{write::derived_toml, Scenario};
use crate::sim::{
    nemesis, CrashAfterSendRecord, FaultAction, NemesisConfig, NodeRef, SimConfig, TimedFault,
};
use crate::time::{SimDuration, SimTime};

/// The result of shrinking one failing seed.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The check that fails, before and after, with its kind when it has
    /// one (`saga.outcome/took-effect-twice`).
    pub check: String,
    /// The minimized engine configuration.
    pub config: SimConfig,
    /// The minimized scenario as a standalone TOML file.
    pub toml: String,
    /// Faults (after writing out random ones) before and after.
    pub faults: (usize, usize),
    /// Client operations invoked before and after.
    pub operations: (usize, usize),
    /// Fault-phase duration before and after.
    pub duration: (SimDuration, SimDuration),
    /// Runs spent.
    pub runs: u32,
}

impl Shrunk {
    /// One line: what got smaller.
    pub fn summary(&self) -> String {
        format!(
            "{}: faults {} -> {}, operations {} -> {}, duration {} -> {} ({} runs)",
            self.check,
            self.faults.0,
            self.faults.1,
            self.operations.0,
            self.operations.1,
            self.duration.0,
            self.duration.1,
            self.runs
        )
    }
}

/// Why a seed could not be shrunk.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShrinkError {
    /// The seed holds every check: nothing to shrink.
    #[error("seed {0} violates no check: nothing to shrink")]
    NotFailing(u64),
    /// The written-out scenario did not reproduce the failure (a bug in faultline).
    #[error(
        "the minimized scenario does not reproduce {0}: please report this as a bug in faultline"
    )]
    NotReproduced(String),
}

struct Shrinker<'a> {
    scenario: &'a Scenario,
    check: String,
    runs: u32,
    max_runs: u32,
}

impl Shrinker<'_> {
    /// Whether `config` is a valid scenario on which the check still fails.
    fn fails(&mut self, config: &SimConfig) -> bool {
        if self.runs >= self.max_runs {
            return false;
        }
        let text = derived_toml(self.scenario, config, "candidate", "");
        if self.scenario.reparse(&text, "candidate").is_err() {
            return false;
        }
        self.runs += 1;
        let result = run_config(self.scenario, config.clone());
        result.violations.iter().any(|v| v.identity() == self.check)
    }

    /// Drops episodes, largest chunks first, keeping each drop that still fails.
    fn drop_episodes(&mut self, config: &mut SimConfig) {
        let mut chunk = episodes(&config.faults).len().div_ceil(2).max(1);
        loop {
            let mut start = 0;
            while start < episodes(&config.faults).len() {
                let eps = episodes(&config.faults);
                let end = (start + chunk).min(eps.len());
                let removed: Vec<usize> = eps[start..end].iter().flatten().copied().collect();
                let candidate = without(config, &removed);
                if self.fails(&candidate) {
                    *config = candidate;
                } else {
                    start = end;
                }
            }
            if chunk == 1 {
                break;
            }
            chunk = chunk.div_ceil(2);
        }
    }

    /// Drops single episodes whose removal passes on this seed, trying a
    /// few other seeds for the rest of the run: without the episode, the
    /// random draws after it (loss, latency, the workload) all shift, and
    /// the failure often needs only a different draw, not the episode.
    /// The seeds tried are a fixed function of the run's, so shrinking
    /// stays deterministic.
    fn drop_episodes_reseeded(&mut self, config: &mut SimConfig) {
        const OTHER_SEEDS: u64 = 3;
        let mut i = 0;
        while let Some(removed) = episodes(&config.faults).get(i) {
            let without_it = without(config, removed);
            let found = (1..=OTHER_SEEDS)
                .map(|k| SimConfig {
                    // Scenario files hold seeds up to i64::MAX.
                    seed: config.seed.wrapping_add(k) & i64::MAX as u64,
                    ..without_it.clone()
                })
                .find(|candidate| self.fails(candidate));
            match found {
                Some(candidate) => *config = candidate,
                None => i += 1,
            }
        }
    }

    /// Drops the repair of each episode whose fault, left to last until
    /// the liveness phase repairs everything (a skewed clock stays
    /// skewed: the liveness phase leaves clocks alone), still fails: an
    /// unhealed partition or a node that stays down is one fault event
    /// instead of two, and often all a failure needed was the fault, not
    /// its end.
    fn drop_repairs(&mut self, config: &mut SimConfig) {
        let mut i = 0;
        while let Some(episode) = episodes(&config.faults).get(i) {
            if let [_, repair] = episode[..] {
                let candidate = without(config, &[repair]);
                if self.fails(&candidate) {
                    *config = candidate;
                    // The episodes regroup around the change: look at
                    // this position again (each success removes a fault,
                    // so this ends).
                    continue;
                }
            }
            i += 1;
        }
    }

    /// Moves each episode's repair halfway towards its start, a few times.
    fn shorten_episodes(&mut self, config: &mut SimConfig) {
        for _ in 0..4 {
            for ep in episodes(&config.faults) {
                let [start, end] = ep[..] else { continue };
                let (a, b) = (config.faults[start].at, config.faults[end].at);
                let mut candidate = config.clone();
                let half = SimDuration::from_nanos(b.saturating_since(a).as_nanos() / 2);
                candidate.faults[end].at = a + half.max(SimDuration::from_millis(1));
                candidate.faults.sort_by_key(|f| f.at);
                if candidate.faults != config.faults && self.fails(&candidate) {
                    *config = candidate;
                }
            }
        }
    }

    fn shrink_workload(&mut self, config: &mut SimConfig, ops: usize) {
        while config.workload.clients > 1 {
            let mut candidate = config.clone();
            candidate.workload.clients /= 2;
            if !self.fails(&candidate) {
                break;
            }
            *config = candidate;
        }
        let mut max_ops = ops as u64;
        while max_ops > 1 {
            let mut candidate = config.clone();
            candidate.workload.max_ops = Some(max_ops / 2);
            if !self.fails(&candidate) {
                break;
            }
            max_ops /= 2;
            *config = candidate;
        }
    }

    fn shrink_duration(&mut self, config: &mut SimConfig) {
        loop {
            let mut candidate = config.clone();
            candidate.duration = SimDuration::from_nanos(config.duration.as_nanos() / 2);
            let end = SimTime::ZERO + candidate.duration;
            let late: Vec<usize> = (0..candidate.faults.len())
                .filter(|&i| candidate.faults[i].at >= end)
                .collect();
            candidate = without(&candidate, &late);
            candidate.duration = SimDuration::from_nanos(config.duration.as_nanos() / 2);
            if candidate.duration < SimDuration::from_millis(10) || !self.fails(&candidate) {
                break;
            }
            *config = candidate;
        }
    }

    /// Rounds fault times to 100 ms, or failing that to 1 ms, for a readable file.
    fn round_times(&mut self, config: &mut SimConfig) {
        for grain in [100_000_000u64, 1_000_000] {
            let mut candidate = config.clone();
            for f in &mut candidate.faults {
                let ns = f.at.as_nanos();
                f.at = SimTime::from_nanos((ns + grain / 2) / grain * grain);
            }
            candidate.faults.sort_by_key(|f| f.at);
            if candidate.faults == config.faults || self.fails(&candidate) {
                *config = candidate;
                return;
            }
        }
    }

    /// Turns off crashes after sends, if the failure does without them.
    fn drop_crash_after_send(&mut self, config: &mut SimConfig) {
        if config.crash_after_send.is_none() {
            return;
        }
        let mut candidate = config.clone();
        candidate.crash_after_send = None;
        if self.fails(&candidate) {
            *config = candidate;
        }
    }

    fn calm_network(&mut self, config: &mut SimConfig) {
        for field in 0..2 {
            let mut candidate = config.clone();
            let link = &mut candidate.network.default;
            let p = if field == 0 {
                &mut link.loss
            } else {
                &mut link.duplicate
            };
            if *p == 0.0 {
                continue;
            }
            *p = 0.0;
            if self.fails(&candidate) {
                *config = candidate;
            }
        }
    }
}

/// Shrinks `seed` of `scenario` (with its swarm mix when `swarm`), spending
/// at most `max_runs` runs.
pub fn shrink(
    scenario: &Scenario,
    seed: u64,
    swarm: bool,
    max_runs: u32,
) -> Result<Shrunk, ShrinkError> {
    let mut config = match scenario.swarm_config(seed) {
        Some((config, _)) if swarm => config,
        _ => scenario.config(seed),
    };
    let first = run_config(scenario, config.clone());
    // The same bug, not only the same check: `check/kind` for checks that
    // bundle several properties.
    let check = first
        .violations
        .first()
        .map(|v| v.identity())
        .ok_or(ShrinkError::NotFailing(seed))?;
    let ops_before = first.history.len();
    materialize(&mut config, scenario.nodes);
    let mut s = Shrinker {
        scenario,
        check: check.clone(),
        runs: 1,
        max_runs,
    };
    // Crashes after sends, written out one by one, shrink like any other
    // fault; the setting stays if the failure needs its draws.
    if config.crash_after_send.is_some() {
        let kinds = scenario
            .registry
            .find(scenario.protocol.name())
            .map_or(&[][..], |e| e.message_kinds());
        let candidate = write_out_crashes(&config, &first.crashes_after_send, kinds);
        if s.fails(&candidate) {
            config = candidate;
        }
    }
    let faults_before = config.faults.len();
    // A calm network first: with no loss to draw, dropping an episode
    // changes less of what follows it.
    s.calm_network(&mut config);
    // Each pass can open the way for another (a shorter run lets an episode
    // go, a dropped episode lets the network calm): repeat while one helps.
    loop {
        let before = config.clone();
        s.drop_episodes(&mut config);
        s.drop_repairs(&mut config);
        s.shorten_episodes(&mut config);
        s.shrink_workload(&mut config, ops_before);
        s.shrink_duration(&mut config);
        s.calm_network(&mut config);
        s.drop_crash_after_send(&mut config);
        s.drop_episodes_reseeded(&mut config);
        if config == before || s.runs >= s.max_runs {
            break;
        }
    }
    s.round_times(&mut config);
    let program = scenario.registry.program_name();
    let header = format!(
        "Shrunk by `{program} shrink` from {} seed {seed}{}.\nIt fails {check} when run with: {program} run <this file>",
        scenario.file,
        if swarm { " (with its swarm mix)" } else { "" }
    );
    let name = format!("{}-seed-{seed}-shrunk", scenario.name);
    let toml = derived_toml(scenario, &config, &name, &header);
    let after = reproduce(scenario, &toml, &check)?;
    Ok(Shrunk {
        faults: (faults_before, config.faults.len()),
        operations: (ops_before, after),
        duration: (scenario.config.duration, config.duration),
        runs: s.runs + 1,
        check,
        config,
        toml,
    })
}

/// Runs the written scenario as a user would; returns its operation count.
fn reproduce(scenario: &Scenario, toml: &str, check: &str) -> Result<usize, ShrinkError> {
    let again = scenario
        .reparse(toml, "shrunk")
        .map_err(|_| ShrinkError::NotReproduced(check.into()))?;
    let result = run_config(&again, again.config(again.default_seed));
    if !result.violations.iter().any(|v| v.identity() == check) {
        return Err(ShrinkError::NotReproduced(check.into()));
    }
    Ok(result.history.len())
}

/// Writes the nemesis schedule (and the lasting and repeated faults) out
/// as timed faults and turns the nemesis off. A repair the nemesis drew
/// for after the fault phase is dropped: a scenario cannot hold a fault
/// there, and the liveness phase heals, restarts and resumes everything
/// anyway (a clock it would have set right stays skewed; the shrunk
/// scenario is run again, so the failure is still checked).
pub(crate) fn materialize(config: &mut SimConfig, servers: usize) {
    let until = SimTime::ZERO + config.duration;
    config.faults.extend(
        nemesis::schedule(&config.nemesis, config.seed, servers, until)
            .into_iter()
            .filter(|f| f.at < until),
    );
    config.faults.sort_by_key(|f| f.at);
    config.nemesis = NemesisConfig::default();
}

/// `config` with the crashes its `crash_after_send` drew (in the run
/// `drawn` comes from) written out as armed crashes at the same moments,
/// each with its restart, and the setting turned off. A kind the protocol
/// does not name (`kinds`: it names none) is written as any kind.
pub fn write_out_crashes(
    config: &SimConfig,
    drawn: &[CrashAfterSendRecord],
    kinds: &[&str],
) -> SimConfig {
    let mut c = config.clone();
    let until = SimTime::ZERO + c.duration;
    for d in drawn {
        let at = SimTime::from_nanos(d.time_ns);
        let node = NodeRef::Id(NodeId(d.node));
        c.faults.push(TimedFault {
            at,
            action: FaultAction::CrashAfterSend {
                node: node.clone(),
                kind: kinds.contains(&d.kind).then(|| d.kind.to_string()),
            },
        });
        let back = at + SimDuration::from_nanos(d.down_ns);
        if back < until {
            c.faults.push(TimedFault {
                at: back,
                action: FaultAction::Restart(Some(node)),
            });
        }
    }
    // An armed crash goes first among faults at its moment: the crash it
    // stands for may have come in a resume's handlers.
    c.faults.sort_by_key(|f| {
        (
            f.at,
            !matches!(f.action, FaultAction::CrashAfterSend { .. }),
        )
    });
    c.crash_after_send = None;
    c
}

/// `config` without the faults at `indices`.
pub(crate) fn without(config: &SimConfig, indices: &[usize]) -> SimConfig {
    let mut c = config.clone();
    c.faults = config
        .faults
        .iter()
        .enumerate()
        .filter(|(i, _)| !indices.contains(i))
        .map(|(_, f)| f.clone())
        .collect();
    c
}

/// Groups fault indices into episodes: a fault with the repair that ends it
/// (a partition and the heal of its name, a crash or pause of a node and
/// the next restart or resume of it), or a single fault.
pub(crate) fn episodes(faults: &[TimedFault]) -> Vec<Vec<usize>> {
    let mut used = vec![false; faults.len()];
    let mut out = Vec::new();
    for i in 0..faults.len() {
        if used[i] {
            continue;
        }
        used[i] = true;
        let partner =
            (i + 1..faults.len()).find(|&j| !used[j] && ends(&faults[i].action, &faults[j].action));
        match partner {
            Some(j) => {
                used[j] = true;
                out.push(vec![i, j]);
            }
            None => out.push(vec![i]),
        }
    }
    out
}

fn ends(start: &FaultAction, end: &FaultAction) -> bool {
    let same = |a: &NodeRef, b: &Option<NodeRef>| match (a, b) {
        // A repeated or lasting fault's undo names the node it hit.
        (NodeRef::Named { name, .. }, Some(NodeRef::HitBy(hit))) => name == hit,
        _ => b.as_ref() == Some(a),
    };
    match (start, end) {
        (FaultAction::Partition { name, .. }, FaultAction::Heal(Some(n))) => name == n,
        (FaultAction::Crash(a), FaultAction::Restart(b))
        | (FaultAction::CrashAfterSend { node: a, .. }, FaultAction::Restart(b)) => same(a, b),
        (FaultAction::Pause(a), FaultAction::Resume(b)) => same(a, b),
        (
            FaultAction::Clock { node: a, .. },
            FaultAction::Clock {
                node: b,
                offset_ns: 0,
                drift_ppm: 0,
            },
        ) => same(a, &Some(b.clone())),
        _ => false,
    }
}
