//! `faultline shrink`: minimize a failing seed into a small standalone
//! scenario file that still fails the same check.

use super::{EXIT_BAD_INPUT, EXIT_OK};
use crate::explore::shrink::{shrink, ShrinkError, Shrunk};
use crate::scenario::Scenario;
use clap::Args;
use std::path::{Path, PathBuf};

/// Arguments of `faultline shrink`.
#[derive(Args, Debug)]
pub struct ShrinkArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// The failing seed.
    #[arg(long)]
    pub seed: u64,
    /// Where to write the minimized scenario (default: <scenario>-seed-<N>-shrunk.toml here).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Shrink the seed's swarm fault mix (as `explore --swarm` ran it).
    #[arg(long)]
    pub swarm: bool,
    /// Most runs to spend.
    #[arg(long, default_value_t = 500)]
    pub max_runs: u32,
}

/// Runs `faultline shrink` and returns its exit code.
pub fn run(args: ShrinkArgs, registry: &crate::protocols::Registry) -> i32 {
    let scenario = match super::load_scenario(&args.scenario, args.swarm, registry) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let out = args.out.unwrap_or_else(|| {
        PathBuf::from(format!("{}-seed-{}-shrunk.toml", scenario.name, args.seed))
    });
    match shrink_to_file(&scenario, args.seed, args.swarm, args.max_runs, &out) {
        Ok(shrunk) => {
            println!("shrunk      {}", shrunk.summary());
            println!("wrote       {}", out.display());
            println!("reproduce   faultline run {}", out.display());
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_BAD_INPUT
        }
    }
}

/// Shrinks one seed and writes the result to `out`.
pub fn shrink_to_file(
    scenario: &Scenario,
    seed: u64,
    swarm: bool,
    max_runs: u32,
    out: &Path,
) -> Result<Shrunk, String> {
    let shrunk = shrink(scenario, seed, swarm, max_runs).map_err(|e: ShrinkError| e.to_string())?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(out, &shrunk.toml)
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    Ok(shrunk)
}
