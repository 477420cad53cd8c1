//! `faultline explore`: a seed sweep with progress, a grouped summary,
//! replay commands, a determinism self-check, and shard/merge support.

use super::{EXIT_BAD_INPUT, EXIT_OK, EXIT_UNKNOWN, EXIT_VIOLATION};
use crate::explore::{self, ExploreOptions, ExploreReport, SeedOutcome, SeedRange, Shard};
use crate::run::{self, RunOptions};
use crate::scenario::Scenario;
use crate::sim::TraceRecord;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Arguments of `faultline explore`.
#[derive(Args, Debug)]
pub struct ExploreArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// Seeds to run: `A..B`, `A..=B`, or `N` for `0..N`.
    #[arg(long, default_value = "0..1000")]
    pub seeds: SeedRange,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Stop starting new seeds after the first violation.
    #[arg(long)]
    pub fail_fast: bool,
    /// Give each seed its own fault mix, drawn within the scenario's [swarm] ranges.
    #[arg(long)]
    pub swarm: bool,
    /// Shrink the first failing seed of each check into a scenario file (in --out, or here).
    #[arg(long)]
    pub shrink: bool,
    /// Run only shard I of N (`I/N`); combine shard reports with `faultline merge`.
    #[arg(long)]
    pub shard: Option<Shard>,
    /// Rerun every failing seed and a sample of passing ones, and compare trace hashes.
    #[arg(long)]
    pub verify: bool,
    /// Print one JSON object instead of the human summary.
    #[arg(long)]
    pub json: bool,
    /// Write the report (explore.json) into this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Exit 0 when no seed failed but some had a check that could not be
    /// decided within its budget (by default such a sweep exits 3).
    #[arg(long)]
    pub allow_undecided: bool,
    /// Coverage-guided search: mutate the fault schedules of runs that
    /// reached new behaviour instead of drawing every seed afresh (the
    /// seed range sets the number of runs and the search's seed).
    #[arg(long)]
    pub guided: bool,
}

/// Runs `faultline explore` and returns its exit code.
pub fn run(args: ExploreArgs, registry: &crate::protocols::Registry) -> i32 {
    let scenario = match super::load_scenario(&args.scenario, args.swarm, registry) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if args.jobs == Some(0) {
        eprintln!("error: --jobs must be at least 1");
        return EXIT_BAD_INPUT;
    }
    if args.guided {
        return super::guided::run(&args, &scenario);
    }
    let seeds = explore::shard_seeds(args.seeds, args.shard);
    let options = ExploreOptions {
        jobs: args.jobs,
        fail_fast: args.fail_fast,
        swarm: args.swarm,
    };
    #[allow(clippy::disallowed_methods)] // wall time of the sweep, for runs/s; outside any run
    let started = Instant::now();
    let outcomes = match sweep(&scenario, &seeds, options) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: cannot start {:?} worker threads: {e}", args.jobs);
            return EXIT_BAD_INPUT;
        }
    };
    let wall_s = started.elapsed().as_secs_f64();
    let report = ExploreReport::new(&scenario, args.seeds, args.shard, &outcomes);
    let mismatches = if args.verify {
        verify(&scenario, &outcomes)
    } else {
        Vec::new()
    };
    let jobs = args.jobs.unwrap_or_else(rayon::current_num_threads);
    let mut value = json!(report);
    value["jobs"] = json!(jobs);
    value["wall_time_s"] = json!(wall_s);
    value["runs_per_sec"] = json!(report.seeds_run as f64 / wall_s.max(1e-9));
    value["events_per_sec"] = json!(report.events as f64 / wall_s.max(1e-9));
    if args.verify {
        value["verify"] =
            json!({ "seeds_rerun": verify_sample(&outcomes).len(), "mismatches": mismatches });
    }
    if let Some(dir) = &args.out {
        let written = std::fs::create_dir_all(dir)
            .and_then(|_| std::fs::write(dir.join("explore.json"), format!("{value:#}\n")));
        if let Err(e) = written {
            eprintln!(
                "error: cannot write {}: {e}",
                dir.join("explore.json").display()
            );
            return EXIT_BAD_INPUT;
        }
    }
    if args.shrink {
        value["shrunk"] = shrink_failures(
            &scenario,
            &report,
            args.swarm,
            args.out.as_deref(),
            args.json,
        );
    }
    if args.json {
        println!("{value}");
    } else {
        print!("{}", human(&report, jobs, wall_s));
        print_verify(args.verify, &outcomes, &mismatches);
    }
    if !mismatches.is_empty() {
        return EXIT_VIOLATION;
    }
    match report.verdict.as_str() {
        "pass" => EXIT_OK,
        "undecided" if args.allow_undecided => EXIT_OK,
        "undecided" => EXIT_UNKNOWN,
        _ => EXIT_VIOLATION,
    }
}

/// The sweep, with a progress bar when stdout is a terminal and silence otherwise.
fn sweep(
    scenario: &Scenario,
    seeds: &[u64],
    options: ExploreOptions,
) -> Result<Vec<SeedOutcome>, rayon::ThreadPoolBuildError> {
    if !std::io::stdout().is_terminal() {
        return explore::explore(scenario, seeds, options, &|_| {});
    }
    let bar = ProgressBar::new(seeds.len() as u64);
    let style =
        ProgressStyle::with_template("{bar:40} {pos}/{len} seeds  {msg}  {per_sec}  ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    let failures = AtomicU64::new(0);
    let undecided = AtomicU64::new(0);
    let result = explore::explore(scenario, seeds, options, &|outcome| {
        if outcome.check.is_some() {
            failures.fetch_add(1, Ordering::Relaxed);
        }
        if outcome.undecided_check.is_some() {
            undecided.fetch_add(1, Ordering::Relaxed);
        }
        let (f, u) = (
            failures.load(Ordering::Relaxed),
            undecided.load(Ordering::Relaxed),
        );
        if f + u > 0 {
            bar.set_message(format!("{f} failing, {u} undecided"));
        }
        bar.inc(1);
    });
    bar.finish_and_clear();
    result
}

/// One block per check: how many seeds, the first, its replay command,
/// and its swarm mix (and, with `why`, its message).
fn groups(
    by_check: &std::collections::BTreeMap<String, crate::explore::CheckFailures>,
    seeds: &[crate::explore::Failure],
    why: bool,
) -> String {
    let mut out = String::new();
    for (check, f) in by_check {
        out += &format!("  {check:<28} {} seeds, first {}\n", f.count, f.first_seed);
        out += &format!("  {:<28} replay: {}\n", "", f.replay);
        let first = seeds.iter().find(|x| x.seed == f.first_seed);
        if let Some(mix) = first.and_then(|x| x.swarm.as_ref()) {
            out += &format!("  {:<28} swarm mix: {mix}\n", "");
        }
        if let Some(first) = first.filter(|_| why) {
            out += &format!("  {:<28} why: {}\n", "", first.message);
        }
    }
    out
}

fn human(report: &ExploreReport, jobs: usize, wall_s: f64) -> String {
    let mut out = String::new();
    let shard = report
        .shards
        .iter()
        .map(|s| format!(" shard {s}"))
        .collect::<String>();
    out += &format!("explore     {} ({})\n", report.scenario, report.file);
    out += &format!(
        "seeds       {}{shard}: {} run, {jobs} jobs\n",
        report.seeds, report.seeds_run
    );
    out += &format!(
        "failures    {} seeds, {} checks\n",
        report.failures.len(),
        report.by_check.len()
    );
    out += &groups(&report.by_check, &report.failures, false);
    if !report.undecided.is_empty() {
        out += &format!(
            "undecided   {} seeds, {} checks (no violation, but a check ran out of budget)\n",
            report.undecided.len(),
            report.by_check_undecided.len()
        );
        out += &groups(&report.by_check_undecided, &report.undecided, true);
    }
    let rate = report.seeds_run as f64 / wall_s.max(1e-9);
    let events = report.events as f64 / wall_s.max(1e-9);
    out += &format!(
        "throughput  {rate:.1} runs/s, {:.2}M events/s ({wall_s:.2}s wall)\n",
        events / 1e6
    );
    let verdict = match (report.verdict.as_str(), report.expect.as_str()) {
        ("pass", "pass") => "PASS: every seed held every check".to_string(),
        ("pass", expect) => format!("PASS: the expected {expect} was found"),
        ("undecided", _) => {
            "UNDECIDED: no seed failed, but some had a check that could not be decided (replay commands above)".to_string()
        }
        (_, "pass") => "FAIL: some seeds violated a check (replay commands above)".to_string(),
        (_, expect) => format!("FAIL: expected a {expect}, which no seed showed"),
    };
    out += &format!("verdict     {verdict}\n");
    out
}

// ----- determinism self-check --------------------------------------------------------

/// Every failing seed and up to 20 evenly spread passing ones.
fn verify_sample(outcomes: &[SeedOutcome]) -> Vec<&SeedOutcome> {
    let passing: Vec<&SeedOutcome> = outcomes.iter().filter(|o| o.check.is_none()).collect();
    let step = passing.len().div_ceil(20).max(1);
    outcomes
        .iter()
        .filter(|o| o.check.is_some())
        .chain(passing.into_iter().step_by(step))
        .collect()
}

/// Reruns the sample twice with full traces; a hash that differs from the
/// sweep's is reported with the first event where the two reruns diverge.
fn verify(scenario: &Scenario, outcomes: &[SeedOutcome]) -> Vec<serde_json::Value> {
    use rayon::prelude::*;
    verify_sample(outcomes)
        .par_iter()
        .filter_map(|o| {
            let options = RunOptions {
                record_trace: true,
                swarm: o.swarm.is_some(),
                skip_history: true,
            };
            let a = run::run(scenario, o.seed, options);
            let b = run::run(scenario, o.seed, options);
            if a.trace_hash == o.trace_hash && b.trace_hash == o.trace_hash {
                return None;
            }
            let first = first_difference(&a.trace, &b.trace);
            Some(json!({
                "seed": o.seed,
                "check": "engine.determinism",
                "sweep_hash": o.trace_hash,
                "rerun_hashes": [a.trace_hash, b.trace_hash],
                "first_difference": first,
                "replay": crate::report::replay_command(scenario, o.seed, o.swarm.is_some()),
            }))
        })
        .collect()
}

fn first_difference(a: &[TraceRecord], b: &[TraceRecord]) -> String {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => format!("event {i}: {:?} vs {:?}", a[i], b[i]),
        None if a.len() != b.len() => {
            format!("one rerun has {} events, the other {}", a.len(), b.len())
        }
        None => "the two reruns agree with each other but not with the sweep's run".into(),
    }
}

fn print_verify(enabled: bool, outcomes: &[SeedOutcome], mismatches: &[serde_json::Value]) {
    if !enabled {
        return;
    }
    let n = verify_sample(outcomes).len();
    if mismatches.is_empty() {
        println!("verify      {n} seeds rerun twice: every trace hash matched");
        return;
    }
    println!(
        "verify      NONDETERMINISM in {} of {n} seeds rerun (a bug in faultline or the protocol):",
        mismatches.len()
    );
    for m in mismatches {
        println!("  seed {}: {}", m["seed"], m["first_difference"]);
    }
}

/// Shrinks the first failing seed of each check; prints a line per check
/// (unless `quiet`) and returns what was written, for the JSON report.
fn shrink_failures(
    scenario: &Scenario,
    report: &ExploreReport,
    swarm: bool,
    dir: Option<&std::path::Path>,
    quiet: bool,
) -> serde_json::Value {
    let mut written = Vec::new();
    for (check, f) in &report.by_check {
        let name = format!("{}-seed-{}-shrunk.toml", scenario.name, f.first_seed);
        let out = dir.map_or_else(|| PathBuf::from(&name), |d| d.join(&name));
        match super::shrink::shrink_to_file(scenario, f.first_seed, swarm, 500, &out) {
            Ok(s) => {
                if !quiet {
                    println!("shrunk      {} -> {}", s.summary(), out.display());
                }
                written.push(json!({"check": check, "seed": f.first_seed, "file": out.display().to_string(), "summary": s.summary()}));
            }
            Err(e) => {
                eprintln!(
                    "warning: could not shrink seed {} ({check}): {e}",
                    f.first_seed
                );
                written.push(json!({"check": check, "seed": f.first_seed, "error": e}));
            }
        }
    }
    serde_json::Value::Array(written)
}
