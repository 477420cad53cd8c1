//! ACID vs BASE, measured: the same bank transfers (same seeds, same
//! workload stream, same shards) under the same fault schedule, once with
//! two-phase commit and once as sagas, for a partition and for a crash of
//! node 0 (the coordinator / the orchestrator). Prints a Markdown table of
//! means over the seeds.
//!
//! ```sh
//! cargo run --release --example acid_vs_base            # seeds 0..20
//! cargo run --release --example acid_vs_base -- 100     # seeds 0..100
//! ```

use faultline::run::{run, RunOptions};
use faultline::scenario::Scenario;
use faultline::sim::RunResult;
use std::path::Path;

/// The scenario pairs: (fault, ACID file, BASE file).
const PAIRS: &[(&str, &str, &str)] = &[
    (
        "partition",
        "acid-2pc-partition.toml",
        "base-saga-partition.toml",
    ),
    (
        "coordinator crash",
        "acid-2pc-coordinator-crash.toml",
        "base-saga-coordinator-crash.toml",
    ),
];

fn metric(r: &RunResult, key: &str) -> f64 {
    r.metrics.get(key).and_then(|v| v.as_f64()).unwrap_or(0.0)
}

/// Means over `seeds` of one scenario: one table row.
fn row(file: &str, seeds: u64) -> Result<Vec<String>, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    let scenario = Scenario::load(&path).map_err(|e| e.to_string())?;
    let secs = scenario.config.duration.as_secs_f64();
    let mut sums = [0.0f64; 8];
    let mut violations = 0;
    for seed in 0..seeds {
        let r = run(&scenario, seed, RunOptions::default());
        violations += r.violations.len();
        let invoked = metric(&r, "ops_invoked").max(1.0);
        let answered = metric(&r, "ops_ok") + metric(&r, "ops_fail");
        let values = [
            metric(&r, "ops_ok") / secs,
            metric(&r, "op_latency_ns_p50") / 1e6,
            metric(&r, "op_latency_ns_p99") / 1e6,
            100.0 * answered / invoked,
            metric(&r, "blocking_ns_max") / 1e6,
            metric(&r, "blocking_ns_total") / 1e6,
            metric(&r, "anomalies"),
            100.0 * metric(&r, "ops_ok") / invoked,
        ];
        for (s, v) in sums.iter_mut().zip(values) {
            *s += v;
        }
    }
    let n = seeds.max(1) as f64;
    let twopc = scenario.protocol.name() == "twopc";
    let mean = |i: usize| sums[i] / n;
    Ok(vec![
        if twopc { "2PC (ACID)" } else { "saga (BASE)" }.to_string(),
        format!("{:.1}", mean(0)),
        format!("{:.1}", mean(1)),
        format!("{:.1}", mean(2)),
        format!("{:.1}%", mean(3)),
        format!("{:.1}%", mean(7)),
        if twopc {
            format!("{:.0} / {:.0}", mean(4), mean(5))
        } else {
            "n/a".into()
        },
        if twopc {
            "none (locked)".into()
        } else {
            format!("{:.1}", mean(6))
        },
        violations.to_string(),
    ])
}

fn main() {
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    println!("Means over seeds 0..{seeds}; 10 s of faults + 5 s settle, 4 clients, 3 shards.\n");
    println!("| fault | protocol | throughput (ok/s) | latency p50 (ms) | latency p99 (ms) | availability (answered) | succeeded | blocking max / total (ms) | anomalies | violations |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (fault, acid, base) in PAIRS {
        for file in [acid, base] {
            match row(file, seeds) {
                Ok(cells) => println!("| {fault} | {} |", cells.join(" | ")),
                Err(e) => {
                    eprintln!("error: {e}");
                    std::process::exit(2);
                }
            }
        }
    }
}
