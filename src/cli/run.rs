//! `faultline run`: one scenario, one seed, a summary, a report directory
//! and an exit code.

use super::{EXIT_BAD_INPUT, EXIT_OK, EXIT_UNKNOWN, EXIT_VIOLATION};
use crate::report::{self, WallTime};
use crate::run::{verdict, RunOptions, RunVerdict};
use crate::scenario::Scenario;
use crate::sim::Progress;
use crate::time::{parse_duration, SimDuration, SimTime};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Arguments of `faultline run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// The seed (default: the scenario's `seed`, or 0).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where to write the report (summary.json, history.jsonl, charts,
    /// report.md, index.html, trace.json) [default: reports/<scenario>/<seed>]
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write no report files.
    #[arg(long, conflicts_with = "out")]
    pub no_out: bool,
    /// The time window of the Lamport diagram, e.g. `2s..3s` [default: 1s from the first fault].
    #[arg(long, value_parser = parse_window)]
    pub window: Option<(u64, u64)>,
    /// Print one JSON object instead of the human summary.
    #[arg(long)]
    pub json: bool,
    /// Print nothing but failures.
    #[arg(long)]
    pub quiet: bool,
    /// Apply the seed's swarm fault mix (as `explore --swarm` ran it).
    #[arg(long)]
    pub swarm: bool,
    /// Exit 0 when no check failed but one could not be decided within its
    /// budget (by default such a run exits 3).
    #[arg(long)]
    pub allow_undecided: bool,
}

/// Parses `A..B` (two durations, A < B) into nanoseconds.
fn parse_window(text: &str) -> Result<(u64, u64), String> {
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| format!("expected a window like 2s..3s, found {text:?}"))?;
    let a = parse_duration(a).map_err(|e| e.to_string())?.as_nanos();
    let b = parse_duration(b).map_err(|e| e.to_string())?.as_nanos();
    if a >= b {
        return Err(format!(
            "the window {text:?} is empty: expected start < end"
        ));
    }
    Ok((a, b))
}

/// Checks that the `--window` of the Lamport diagram lies within the run
/// (fault phase and liveness phase), so it cannot silently draw nothing.
fn window_within_run(window: (u64, u64), scenario: &Scenario) -> Result<(), String> {
    let end = scenario.config.duration + scenario.config.settle;
    if window.1 <= end.as_nanos() {
        return Ok(());
    }
    Err(format!(
        "--window {}..{} lies outside the run of {}, which ends at {end} ({} of faults + {} liveness phase)",
        SimDuration::from_nanos(window.0),
        SimDuration::from_nanos(window.1),
        scenario.file,
        scenario.config.duration,
        scenario.config.settle,
    ))
}

/// Runs `faultline run` and returns its exit code.
pub fn run(args: RunArgs, registry: &crate::protocols::Registry) -> i32 {
    let scenario = match super::load_scenario(&args.scenario, args.swarm, registry) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if let Some(window) = args.window {
        if let Err(e) = window_within_run(window, &scenario) {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    }
    let seed = args.seed.unwrap_or(scenario.default_seed);
    let out = match (&args.out, args.no_out) {
        (_, true) => None,
        (Some(dir), false) => Some(dir.clone()),
        (None, false) => Some(
            PathBuf::from("reports")
                .join(&scenario.name)
                .join(seed.to_string()),
        ),
    };
    let options = RunOptions {
        swarm: args.swarm,
        record_trace: out.is_some(),
        skip_history: out.is_none(),
    };
    #[allow(clippy::disallowed_methods)]
    // wall time of the whole run, for the user; outside the simulated world
    let started = Instant::now();
    let bar = progress_bar();
    let progress = bar.clone().map(|bar| track(bar, started));
    let result = crate::run::run_observed(&scenario, seed, options, progress);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let wall = WallTime {
        seconds: started.elapsed().as_secs_f64(),
    };
    let verdict = verdict(&scenario, &result);
    let ok = verdict == RunVerdict::Pass;
    if let Some(dir) = &out {
        if let Err(e) = report::write_run_report(dir, &scenario, &result, wall, args.window) {
            eprintln!("error: cannot write the report to {}: {e}", dir.display());
            return EXIT_BAD_INPUT;
        }
    }
    if args.json {
        println!("{}", report::summary_json(&scenario, &result, wall));
    } else if !args.quiet || !ok {
        let page = out.as_deref().filter(|_| !args.quiet);
        print!("{}", report::human_summary(&scenario, &result, wall, page));
    }
    match verdict {
        RunVerdict::Pass => EXIT_OK,
        RunVerdict::Undecided if args.allow_undecided => EXIT_OK,
        RunVerdict::Undecided => EXIT_UNKNOWN,
        RunVerdict::Fail => EXIT_VIOLATION,
    }
}

/// How long a run goes before its progress bar appears.
const PROGRESS_AFTER: Duration = Duration::from_secs(1);

/// A progress bar over simulated time, hidden for now; `None` when stderr
/// is not a terminal (CI, pipes): then the run stays quiet.
fn progress_bar() -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    let style = ProgressStyle::with_template("{bar:30} {msg}, {elapsed} wall, ETA {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

/// The engine's progress callback: shows the bar once the run has taken
/// `PROGRESS_AFTER` of wall time, then moves it along simulated time.
fn track(bar: ProgressBar, started: Instant) -> Progress {
    let mut shown = false;
    Box::new(move |now: SimTime, end: SimTime| {
        if !shown && started.elapsed() < PROGRESS_AFTER {
            return;
        }
        let secs = |t: SimTime| t.as_nanos() / 1_000_000_000;
        bar.set_length(end.as_nanos() / 1_000_000);
        bar.set_position(now.as_nanos() / 1_000_000);
        bar.set_message(format!("{}s of {}s simulated", secs(now), secs(end)));
        if !shown {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            shown = true;
        }
    })
}
