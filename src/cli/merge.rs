//! `faultline merge`: combines the `explore --json` reports of the shards
//! of one sweep into the report of the whole sweep.

use super::{EXIT_BAD_INPUT, EXIT_OK, EXIT_VIOLATION};
use clap::Args;
use faultline::explore::ExploreReport;
use std::path::PathBuf;

/// Arguments of `faultline merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Shard reports (`explore --json` output or `explore.json`).
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    /// Print one JSON object instead of the human summary.
    #[arg(long)]
    pub json: bool,
}

/// Runs `faultline merge` and returns its exit code.
pub fn run(args: MergeArgs) -> i32 {
    let mut reports = Vec::new();
    for path in &args.reports {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {}: cannot read: {e}", path.display());
                return EXIT_BAD_INPUT;
            }
        };
        match serde_json::from_str::<ExploreReport>(&text) {
            Ok(r) => reports.push(r),
            Err(e) => {
                eprintln!(
                    "error: {}:{}:{}: expected an `explore --json` report: {e}",
                    path.display(),
                    e.line(),
                    e.column()
                );
                return EXIT_BAD_INPUT;
            }
        }
    }
    let merged = match ExploreReport::merge(reports) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    if args.json {
        println!("{}", serde_json::json!(merged));
    } else {
        println!(
            "merged      {} ({}), seeds {}: {} run",
            merged.scenario, merged.file, merged.seeds, merged.seeds_run
        );
        if !merged.shards.is_empty() {
            let have: Vec<String> = merged.shards.iter().map(|s| s.to_string()).collect();
            println!("incomplete  only shards {} are here", have.join(", "));
        }
        println!("failures    {} seeds", merged.failures.len());
        for (check, f) in &merged.by_check {
            println!(
                "  {check:<28} {} seeds, first {}: {}",
                f.count, f.first_seed, f.replay
            );
        }
        println!("verdict     {}", merged.verdict.to_uppercase());
    }
    if merged.verdict == "pass" {
        EXIT_OK
    } else {
        EXIT_VIOLATION
    }
}
