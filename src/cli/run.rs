//! `faultline run`: one scenario, one seed, a summary and an exit code.

use super::{EXIT_BAD_INPUT, EXIT_OK, EXIT_VIOLATION};
use clap::Args;
use faultline::report::{self, WallTime};
use faultline::run::{as_expected, RunOptions};
use faultline::scenario::Scenario;
use faultline::sim::RunResult;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments of `faultline run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// The seed (default: the scenario's `seed`, or 0).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write summary.json and history.jsonl into this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one JSON object instead of the human summary.
    #[arg(long)]
    pub json: bool,
    /// Print nothing but failures.
    #[arg(long)]
    pub quiet: bool,
    /// Apply the seed's swarm fault mix (as `explore --swarm` ran it).
    #[arg(long)]
    pub swarm: bool,
}

/// Runs `faultline run` and returns its exit code.
pub fn run(args: RunArgs) -> i32 {
    let scenario = match Scenario::load(&args.scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    if args.swarm && scenario.swarm.is_none() {
        eprintln!("error: {}: --swarm needs a [swarm] section with the ranges to draw from (see docs/scenarios.md)", scenario.file);
        return EXIT_BAD_INPUT;
    }
    let seed = args.seed.unwrap_or(scenario.default_seed);
    #[allow(clippy::disallowed_methods)]
    // wall time of the whole run, for the user; outside the simulated world
    let started = Instant::now();
    let options = RunOptions {
        swarm: args.swarm,
        ..RunOptions::default()
    };
    let result = faultline::run::run(&scenario, seed, options);
    let wall = WallTime {
        seconds: started.elapsed().as_secs_f64(),
    };
    let ok = as_expected(&scenario, &result);
    if let Some(dir) = &args.out {
        if let Err(e) = write_outputs(dir, &scenario, &result, wall) {
            eprintln!("error: cannot write outputs to {}: {e}", dir.display());
            return EXIT_BAD_INPUT;
        }
    }
    if args.json {
        println!("{}", report::summary_json(&scenario, &result, wall));
    } else if !args.quiet || !ok {
        print!("{}", report::human_summary(&scenario, &result, wall));
    }
    if ok {
        EXIT_OK
    } else {
        EXIT_VIOLATION
    }
}

fn write_outputs(
    dir: &Path,
    scenario: &Scenario,
    result: &RunResult,
    wall: WallTime,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let summary = report::summary_json(scenario, result, wall);
    std::fs::write(dir.join("summary.json"), format!("{summary:#}\n"))?;
    let mut history = std::io::BufWriter::new(std::fs::File::create(dir.join("history.jsonl"))?);
    for line in &result.history {
        writeln!(history, "{line}")?;
    }
    history.flush()
}
