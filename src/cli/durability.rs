//! `faultline durability`: the log's experiment. Runs every producer
//! setting under every fault over seeds and writes the results (JSON and
//! Markdown) and the loss-against-latency chart into `--out` (default
//! `reports/durability`).

use super::EXIT_BAD_INPUT;
use crate::durability::{self, FAULTS};
use crate::report::charts::{self, TradeoffAxes};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `faultline durability`.
#[derive(Args, Debug)]
pub struct DurabilityArgs {
    /// Directory for results.json, results.md, loss-vs-latency.svg and
    /// completeness-vs-watermark.svg.
    #[arg(long, default_value = "reports/durability")]
    pub out: PathBuf,
    /// Seeds per setting and fault.
    #[arg(long, default_value_t = 20)]
    pub seeds: u64,
}

/// Runs `faultline durability` and returns its exit code.
pub fn run(args: DurabilityArgs) -> i32 {
    if args.seeds == 0 {
        eprintln!("error: --seeds must be at least 1");
        return EXIT_BAD_INPUT;
    }
    let results = match durability::experiment(args.seeds) {
        Ok(results) => results,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let command = format!(
        "faultline durability --seeds {} --out {}",
        args.seeds,
        args.out.display()
    );
    let md = durability::markdown(&results, &command);
    let points = durability::tradeoff_points(&results);
    let top =
        |f: fn(&(String, String, f64, f64)) -> f64| points.iter().map(f).fold(1.0, f64::max) * 1.1;
    let axes = TradeoffAxes {
        caption: "Durability: produce latency vs acknowledged writes lost",
        x_desc: "produce p99 (ms)",
        y_desc: "lost per 10,000 acknowledged",
        x_range: (0.0, top(|p| p.2)),
        y_range: (-1.0, top(|p| p.3)),
    };
    let faults: Vec<&str> = FAULTS.iter().map(|f| f.0).collect();
    let late = "5% of sends 50 ms to 1 s late";
    let completeness: Vec<(String, String, f64, f64)> = results
        .windows
        .iter()
        .map(|w| {
            (
                "1 s windows".to_string(),
                late.to_string(),
                w.delay_ms as f64,
                w.completeness,
            )
        })
        .collect();
    let window_axes = TradeoffAxes {
        caption: "Windows: completeness against watermark delay",
        x_desc: "watermark delay (ms)",
        y_desc: "share of events counted",
        x_range: (-50.0, 1100.0),
        y_range: (0.95, 1.005),
    };
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
            "loss-vs-latency.svg",
            charts::tradeoff(&axes, &points, &faults),
        ),
        (
            "completeness-vs-watermark.svg",
            charts::tradeoff(&window_axes, &completeness, &[late]),
        ),
    ];
    super::write_experiment(&args.out, &files, &md)
}
