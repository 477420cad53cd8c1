//! `faultline explore --guided`: a coverage-guided search instead of a
//! sweep of seeds (see [`crate::explore::guided`]). The seed range sets the
//! number of runs and the search's own seed (its start); each check's
//! first failure is written out as a scenario file, replayable with one
//! `faultline run`.

use super::explore::ExploreArgs;
use super::{EXIT_BAD_INPUT, EXIT_OK, EXIT_VIOLATION};
use crate::explore::guided::{self, GuidedFailure, GuidedOptions, GuidedReport};
use crate::scenario::{write::derived_toml, Expect, Scenario};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

/// Runs the guided search `args` asks for on `scenario`; the exit code.
pub fn run(args: &ExploreArgs, scenario: &Scenario) -> i32 {
    for (set, flag) in [
        (args.shard.is_some(), "--shard"),
        (args.shrink, "--shrink"),
        (args.verify, "--verify"),
    ] {
        if set {
            eprintln!("error: {flag} does not apply with --guided: every failure is written out as a scenario file (shrink it with faultline shrink FILE)");
            return EXIT_BAD_INPUT;
        }
    }
    let runs = args.seeds.end.saturating_sub(args.seeds.start);
    let options = GuidedOptions {
        fail_fast: args.fail_fast,
        ..GuidedOptions::new(runs, args.seeds.start, args.swarm)
    };
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(jobs) = args.jobs {
        builder = builder.num_threads(jobs);
    }
    let pool = match builder.build() {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("error: cannot start {:?} worker threads: {e}", args.jobs);
            return EXIT_BAD_INPUT;
        }
    };
    #[allow(clippy::disallowed_methods)] // wall time of the search, for runs/s; outside any run
    let started = Instant::now();
    let report = pool.install(|| search(scenario, options));
    let wall_s = started.elapsed().as_secs_f64();
    let mut written = Vec::new();
    for failure in &report.failures {
        match write_failure(scenario, args, failure) {
            Ok(file) => written.push(file),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_BAD_INPUT;
            }
        }
    }
    let pass = verdict(scenario, &report);
    let jobs = args.jobs.unwrap_or_else(rayon::current_num_threads);
    let value = json!({
        "scenario": scenario.name,
        "file": args.scenario.display().to_string(),
        "guided": true,
        "seeds": args.seeds,
        "runs": report.runs,
        "coverage": report.coverage,
        "corpus": report.corpus,
        "failing_runs": report.failing_runs,
        "failures": report.failures.iter().zip(&written).map(|(f, file)| json!({
            "check": f.check,
            "message": f.message,
            "run": f.run,
            "seed": f.config.seed,
            "trace_hash": f.trace_hash,
            "file": file.display().to_string(),
            "replay": format!("faultline run {}", file.display()),
        })).collect::<Vec<_>>(),
        "growth": report.growth,
        "expect": crate::explore::expect_text(&scenario.expect),
        "verdict": if pass { "pass" } else { "fail" },
        "jobs": jobs,
        "wall_time_s": wall_s,
        "runs_per_sec": report.runs as f64 / wall_s.max(1e-9),
    });
    if let Some(dir) = &args.out {
        let path = dir.join("explore.json");
        if let Err(e) = std::fs::write(&path, format!("{value:#}\n")) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return EXIT_BAD_INPUT;
        }
    }
    if args.json {
        println!("{value}");
    } else {
        print!("{}", human(scenario, args, &report, &written, wall_s, pass));
    }
    if pass {
        EXIT_OK
    } else {
        EXIT_VIOLATION
    }
}

/// The search, with a progress line on a terminal.
fn search(scenario: &Scenario, options: GuidedOptions) -> GuidedReport {
    if !std::io::stdout().is_terminal() {
        return guided::guided(scenario, options, &mut |_| {});
    }
    let bar = ProgressBar::new(options.runs);
    let style = ProgressStyle::with_template("{bar:40} {pos}/{len} runs  {msg}  {per_sec}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    let report = guided::guided(scenario, options, &mut |r| {
        bar.set_position(r.runs);
        let coverage = r.growth.last().map_or(0, |g| g.1);
        bar.set_message(format!(
            "coverage {coverage}, {} failing runs",
            r.failing_runs
        ));
    });
    bar.finish_and_clear();
    report
}

/// Whether the search ended as the scenario expects.
fn verdict(scenario: &Scenario, report: &GuidedReport) -> bool {
    match &scenario.expect {
        Expect::Pass => report.failures.is_empty(),
        Expect::Violation(None) => !report.failures.is_empty(),
        Expect::Violation(Some(check)) => report
            .failures
            .iter()
            .any(|f| f.check.split('/').next() == Some(check.as_str())),
    }
}

/// Writes `failure`'s run as a scenario file (in `--out`, or here).
fn write_failure(
    scenario: &Scenario,
    args: &ExploreArgs,
    failure: &GuidedFailure,
) -> Result<PathBuf, String> {
    let name = format!(
        "{}-guided-{}",
        scenario.name,
        failure.check.replace(['.', '/'], "-")
    );
    let file = format!("{name}.toml");
    let path = args
        .out
        .as_ref()
        .map_or_else(|| PathBuf::from(&file), |d| d.join(&file));
    let why = failure.message.lines().next().unwrap_or("");
    let header = format!(
        "Found by faultline explore {} --guided --seeds {}..{} (run {}):\n{}: {why}\nReplay: faultline run {}",
        args.scenario.display(),
        args.seeds.start,
        args.seeds.end,
        failure.run,
        failure.check,
        path.display()
    );
    let text = derived_toml(scenario, &failure.config, &name, &header);
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

fn human(
    scenario: &Scenario,
    args: &ExploreArgs,
    report: &GuidedReport,
    written: &[PathBuf],
    wall_s: f64,
    pass: bool,
) -> String {
    let mut out = format!(
        "explore     {} ({}), guided\n",
        scenario.name,
        args.scenario.display()
    );
    out += &format!(
        "runs        {} (seeds {}..{}): coverage {} features, corpus {} schedules\n",
        report.runs, args.seeds.start, args.seeds.end, report.coverage, report.corpus
    );
    out += &format!(
        "failures    {} runs, {} checks\n",
        report.failing_runs,
        report.failures.len()
    );
    for (f, file) in report.failures.iter().zip(written) {
        out += &format!("  {:<28} first in run {}\n", f.check, f.run);
        out += &format!("  {:<28} replay: faultline run {}\n", "", file.display());
        out += &format!(
            "  {:<28} why: {}\n",
            "",
            f.message.lines().next().unwrap_or("")
        );
    }
    out += &format!(
        "throughput  {:.1} runs/s ({wall_s:.2}s wall)\n",
        report.runs as f64 / wall_s.max(1e-9)
    );
    let verdict = match (pass, &scenario.expect) {
        (true, Expect::Pass) => "PASS: no run violated a check".to_string(),
        (true, _) => "PASS: the expected violation was found".to_string(),
        (false, Expect::Pass) => {
            "FAIL: some runs violated a check (replay commands above)".to_string()
        }
        (false, _) => "FAIL: the expected violation was not found".to_string(),
    };
    out += &format!("verdict     {verdict}\n");
    out
}
