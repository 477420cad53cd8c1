//! Runs a scenario for one seed and judges the result against what the
//! scenario expects: every check ends held, violated or undecided, and the
//! run passes, fails or is undecided.

use crate::process::CheckKind;
use crate::scenario::{Expect, Scenario};
use crate::sim::{EndReason, Progress, RunResult, SimConfig};
use serde::Serialize;

/// Options of one run beyond the seed.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// Keep every event for reports.
    pub record_trace: bool,
    /// Apply the seed's swarm fault mix (a scenario without `[swarm]` runs as is).
    pub swarm: bool,
    /// Leave the JSON history out of the result (sweeps need only verdicts).
    pub skip_history: bool,
}

/// Runs `scenario` with `seed`.
pub fn run(scenario: &Scenario, seed: u64, options: RunOptions) -> RunResult {
    run_observed(scenario, seed, options, None)
}

/// Runs `scenario` with `seed`, telling `progress` how far it got.
pub fn run_observed(
    scenario: &Scenario,
    seed: u64,
    options: RunOptions,
    progress: Option<Progress>,
) -> RunResult {
    let (mut config, mix) = match scenario.swarm_config(seed) {
        Some((config, mix)) if options.swarm => (config, Some(mix)),
        _ => (scenario.config(seed), None),
    };
    config.record_trace = options.record_trace;
    config.export_history = !options.skip_history;
    let mut result = run_config_observed(scenario, config, progress);
    result.swarm = mix;
    result
}

/// Runs `scenario`'s protocol under an explicit engine configuration (the
/// scenario's own, or one derived from it, e.g. while shrinking).
pub fn run_config(scenario: &Scenario, config: SimConfig) -> RunResult {
    run_config_observed(scenario, config, None)
}

fn run_config_observed(
    scenario: &Scenario,
    config: SimConfig,
    progress: Option<Progress>,
) -> RunResult {
    let setup = scenario.setup(&config);
    scenario.protocol.run(&setup, config, progress)
}

/// How a run ended, judged against what its scenario expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunVerdict {
    /// Every check held (`expect = "pass"`), or the expected violation
    /// happened.
    Pass,
    /// A check was violated (`expect = "pass"`), or the expected violation
    /// definitely did not happen.
    Fail,
    /// Nothing failed, but a check that could change the answer was not
    /// decided within its budget.
    Undecided,
}

impl RunVerdict {
    /// `pass`, `fail` or `undecided`, as the JSON summary writes it.
    pub fn name(self) -> &'static str {
        match self {
            RunVerdict::Pass => "pass",
            RunVerdict::Fail => "fail",
            RunVerdict::Undecided => "undecided",
        }
    }
}

/// The run's verdict: for `expect = "pass"`, a violation fails it and an
/// undecided check leaves it undecided; for `expect = "violation"` (of a
/// check, or of any), the violation passes it, and an undecided check
/// (that check, or any) leaves it undecided rather than failed.
pub fn verdict(scenario: &Scenario, result: &RunResult) -> RunVerdict {
    let undecided = |check: Option<&String>| {
        result
            .undecided
            .iter()
            .any(|u| check.is_none_or(|c| &u.check == c))
    };
    let (happened, open) = match &scenario.expect {
        Expect::Pass => {
            return match (result.violations.is_empty(), result.undecided.is_empty()) {
                (false, _) => RunVerdict::Fail,
                (true, false) => RunVerdict::Undecided,
                (true, true) => RunVerdict::Pass,
            }
        }
        Expect::Violation(None) => (!result.violations.is_empty(), undecided(None)),
        Expect::Violation(Some(check)) => (
            result.violations.iter().any(|v| &v.check == check),
            undecided(Some(check)),
        ),
    };
    match (happened, open) {
        (true, _) => RunVerdict::Pass,
        (false, true) => RunVerdict::Undecided,
        (false, false) => RunVerdict::Fail,
    }
}

/// Whether the first violation of a failed run is of a liveness check (the
/// protocol stopped making progress) rather than a safety one.
pub fn failed_liveness(scenario: &Scenario, result: &RunResult) -> bool {
    let Some(first) = result.violations.first() else {
        return false;
    };
    scenario
        .protocol
        .checks()
        .iter()
        .any(|c| c.name == first.check && c.kind.is_liveness())
}

/// Whether a run ended as the scenario expects (its verdict is `Pass`).
pub fn as_expected(scenario: &Scenario, result: &RunResult) -> bool {
    verdict(scenario, result) == RunVerdict::Pass
}

/// What became of one check in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// It held.
    Held,
    /// It was violated.
    Violated,
    /// It was not decided: its budget ran out, or the run stopped before
    /// it could be judged.
    Undecided,
    /// The scenario's `[checks] enabled` leaves it out: it cannot fail the run.
    Disabled,
}

/// One check of a run: its name, status and, unless it held, why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckRow {
    /// The check, e.g. `raft.linearizable`.
    pub name: &'static str,
    /// When it is judged: `always`, `at-end`, `eventually` (liveness) or
    /// `bound`.
    pub kind: CheckKind,
    /// What became of it.
    pub status: CheckStatus,
    /// The violation's message, or why it is undecided (`None` when it held).
    pub reason: Option<String>,
    /// When it was violated (ns), if it was.
    pub time_ns: Option<u64>,
    /// Which of its properties broke, for a check that bundles several
    /// (`Violation::kind`); left out of the JSON otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_kind: Option<String>,
}

/// Every check of the scenario's protocol and the engine, with its status.
pub fn check_rows(scenario: &Scenario, result: &RunResult) -> Vec<CheckRow> {
    let stopped = result.end_reason != EndReason::Completed;
    let enabled = |name: &str| {
        scenario
            .config
            .enabled_checks
            .as_ref()
            .is_none_or(|e| e.iter().any(|c| c == name))
    };
    scenario
        .protocol
        .checks()
        .iter()
        .chain(crate::protocols::engine_checks(scenario.config.quiescent))
        .map(|check| {
            let name = check.name;
            let row = |status, reason, time_ns| CheckRow {
                name,
                kind: check.kind,
                status,
                reason,
                time_ns,
                failure_kind: None,
            };
            if let Some(v) = result.violations.iter().find(|v| v.check == name) {
                let at = Some(v.time.as_nanos());
                let mut violated = row(CheckStatus::Violated, Some(v.message.clone()), at);
                violated.failure_kind = v.kind.clone();
                return violated;
            }
            if let Some(u) = result.undecided.iter().find(|u| u.check == name) {
                return row(CheckStatus::Undecided, Some(u.reason.clone()), None);
            }
            if !enabled(name) {
                return row(CheckStatus::Disabled, None, None);
            }
            if stopped && check.kind != CheckKind::Bound {
                let why = format!(
                    "not reached: the run stopped early at {} ({})",
                    result.sim_time,
                    end_reason_text(result.end_reason)
                );
                return row(CheckStatus::Undecided, Some(why), None);
            }
            row(CheckStatus::Held, None, None)
        })
        .collect()
}

fn end_reason_text(reason: EndReason) -> &'static str {
    match reason {
        EndReason::Completed => "completed",
        EndReason::Violation => "a check was violated",
        EndReason::EventLimit => "max_events",
        EndReason::PendingLimit => "max_pending_events",
        EndReason::HistoryLimit => "max_history_ops",
        EndReason::Panic => "a panic",
    }
}
