//! `faultline resilience`: the service family's experiment. Runs the retry
//! policies under a load spike, the balancing policies around a slow
//! replica and the jitter variants under contention, each over seeds, and
//! writes the results (JSON and Markdown) and the goodput chart into
//! `--out` (default `reports/resilience`).

use super::EXIT_BAD_INPUT;
use crate::report::charts;
use crate::resilience::{self, SPIKE_S};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `faultline resilience`.
#[derive(Args, Debug)]
pub struct ResilienceArgs {
    /// Directory for results.json, results.md and goodput-over-time.svg.
    #[arg(long, default_value = "reports/resilience")]
    pub out: PathBuf,
    /// Seeds per configuration.
    #[arg(long, default_value_t = 20)]
    pub seeds: u64,
}

/// Runs `faultline resilience` and returns its exit code.
pub fn run(args: ResilienceArgs) -> i32 {
    if args.seeds == 0 {
        eprintln!("error: --seeds must be at least 1");
        return EXIT_BAD_INPUT;
    }
    let results = match resilience::experiment(args.seeds) {
        Ok(results) => results,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let command = format!(
        "faultline resilience --seeds {} --out {}",
        args.seeds,
        args.out.display()
    );
    let md = resilience::markdown(&results, &command);
    let series: Vec<(String, Vec<(f64, f64)>)> = results
        .policies
        .iter()
        .map(|p| {
            let points = p
                .goodput
                .iter()
                .enumerate()
                .map(|(w, &g)| (w as f64, g))
                .collect();
            (p.policy.clone(), points)
        })
        .collect();
    let files = [
        (
            "results.json",
            format!(
                "{:#}\n",
                serde_json::json!({ "command": command, "results": results })
            ),
        ),
        ("results.md", md.clone()),
        (
            "goodput-over-time.svg",
            charts::goodput_over_time(&series, SPIKE_S, 1.0),
        ),
    ];
    super::write_experiment(&args.out, &files, &md)
}
