//! `faultline cap`: the CAP experiment. Runs every store under every
//! partition shape, duration and seed, and writes the results (JSON and a
//! Markdown table) and two charts into `--out` (default `reports/cap`).

use super::EXIT_BAD_INPUT;
use crate::cap::{self, CapPlan, SHAPES};
use crate::protocols::Registry;
use crate::report::charts;
use clap::Args;
use std::path::PathBuf;

/// The width of a bucket of the availability-over-time chart.
const BUCKET_MS: u64 = 1000;

/// Arguments of `faultline cap`.
#[derive(Args, Debug)]
pub struct CapArgs {
    /// Directory for results.json, results.md and the charts.
    #[arg(long, default_value = "reports/cap")]
    pub out: PathBuf,
    /// Seeds per configuration.
    #[arg(long, default_value_t = 3)]
    pub seeds: u64,
    /// Partition durations in seconds, comma-separated.
    #[arg(long, default_value = "2,5,10", value_delimiter = ',')]
    pub durations: Vec<u64>,
}

/// Runs `faultline cap` over the stores of `registry` that take part and
/// returns its exit code.
pub fn run(args: CapArgs, registry: &Registry) -> i32 {
    if args.seeds == 0 || args.durations.is_empty() || args.durations.contains(&0) {
        eprintln!("error: --seeds and every --durations value must be at least 1");
        return EXIT_BAD_INPUT;
    }
    let plan = CapPlan {
        stores: registry.cap_stores(),
        durations_s: args.durations.clone(),
        seeds: args.seeds,
    };
    let rows = match cap::experiment(&plan) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let summary = cap::summarize(&rows, &plan.stores);
    let durations: Vec<String> = args.durations.iter().map(u64::to_string).collect();
    let command = format!(
        "faultline cap --seeds {} --durations {} --out {}",
        args.seeds,
        durations.join(","),
        args.out.display()
    );
    let md = cap::markdown(&summary, &command);
    let points: Vec<(String, String, f64, f64)> = summary
        .iter()
        .map(|s| {
            (
                s.store.clone(),
                s.shape.clone(),
                s.availability_during,
                s.linearizable_share,
            )
        })
        .collect();
    let shapes: Vec<&str> = SHAPES.iter().map(|s| s.name).collect();
    let longest = args.durations.iter().copied().max().unwrap_or(5);
    let split = SHAPES
        .iter()
        .find(|s| s.name == "split")
        .unwrap_or(&SHAPES[0]);
    let mut series = Vec::new();
    for store in &plan.stores {
        match cap::availability_over_time(store, split, longest, 0, BUCKET_MS) {
            Ok(s) => series.push((store.name.to_string(), s)),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_BAD_INPUT;
            }
        }
    }
    let files = [
        super::results_json(&command, &summary, &rows),
        ("results.md", md.clone()),
        (
            "availability-vs-consistency.svg",
            charts::cap_tradeoff(&points, &shapes),
        ),
        (
            "availability-over-time.svg",
            charts::availability_over_time(
                &series,
                cap::partition_window(longest),
                BUCKET_MS as f64 / 1e3,
            ),
        ),
    ];
    super::write_experiment(&args.out, &files, &md)
}
