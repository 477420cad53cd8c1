//! `faultline shards`: the placement experiment. Writes results (JSON and
//! Markdown) and two charts into `--out` (default `reports/shards`).

use super::EXIT_BAD_INPUT;
use crate::placement::experiment::{self, ShardsPlan, ShardsSummary, STRATEGIES};
use crate::report::charts::{self, Bars};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `faultline shards`.
#[derive(Args, Debug)]
pub struct ShardsArgs {
    /// Directory for results.json, results.md and the charts.
    #[arg(long, default_value = "reports/shards")]
    pub out: PathBuf,
    /// Keys placed.
    #[arg(long, default_value_t = 100_000)]
    pub keys: u64,
    /// Node counts N, comma-separated (each at least 2).
    #[arg(long, default_value = "4,8,16,64", value_delimiter = ',')]
    pub nodes: Vec<u32>,
    /// Salts (hash seeds) per configuration.
    #[arg(long, default_value_t = 10)]
    pub salts: u64,
}

/// Runs `faultline shards` and returns its exit code.
pub fn run(args: ShardsArgs) -> i32 {
    if args.keys == 0 || args.salts == 0 || args.nodes.is_empty() {
        eprintln!("error: --keys, --salts and --nodes must be at least 1");
        return EXIT_BAD_INPUT;
    }
    if let Some(n) = args.nodes.iter().find(|&&n| !(2..=10_000).contains(&n)) {
        eprintln!("error: --nodes {n}: expected 2 to 10000 nodes (one must be able to leave)");
        return EXIT_BAD_INPUT;
    }
    let plan = ShardsPlan {
        keys: args.keys,
        nodes: args.nodes.clone(),
        salts: args.salts,
    };
    let rows = experiment::experiment(&plan);
    let summary = experiment::summarize(&rows);
    let nodes: Vec<String> = args.nodes.iter().map(u32::to_string).collect();
    let command = format!(
        "faultline shards --keys {} --nodes {} --salts {} --out {}",
        args.keys,
        nodes.join(","),
        args.salts,
        args.out.display()
    );
    let md = experiment::markdown(&summary, &plan, &command);
    let moved = chart(
        &summary,
        &plan,
        "Keys moved when node N joins (ideal: 1 / (N + 1))",
        "share of keys moved",
        |s| s.moved_on_join.mean,
    );
    let imbalance = chart(
        &summary,
        &plan,
        "Load imbalance with N nodes (most keys on a node over the mean; 1 is even)",
        "max / mean keys per node",
        |s| s.imbalance.mean,
    );
    let files = [
        super::results_json(&command, &summary, &rows),
        ("results.md", md.clone()),
        ("moved.svg", moved),
        ("imbalance.svg", imbalance),
    ];
    super::write_experiment(&args.out, &files, &md)
}

/// A bar per N in a group per strategy, of `value`.
fn chart(
    summary: &[ShardsSummary],
    plan: &ShardsPlan,
    caption: &str,
    y_desc: &str,
    value: fn(&ShardsSummary) -> f64,
) -> String {
    let groups: Vec<String> = STRATEGIES.iter().map(ToString::to_string).collect();
    let series: Vec<(String, Vec<Option<f64>>)> = plan
        .nodes
        .iter()
        .map(|&n| {
            let values = groups
                .iter()
                .map(|g| {
                    summary
                        .iter()
                        .find(|s| &s.strategy == g && s.nodes == n)
                        .map(value)
                })
                .collect();
            (format!("N = {n}"), values)
        })
        .collect();
    charts::grouped_bars(&Bars {
        caption,
        y_desc,
        groups: &groups,
        series: &series,
    })
}
