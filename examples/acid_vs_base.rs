//! ACID vs BASE, measured: the same bank transfers (same seeds, same
//! workload stream, same shards) under the same fault schedule, once with
//! two-phase commit and once as sagas, for a partition and for a crash of
//! node 0 (the coordinator / the orchestrator); and the sagas again with
//! the semantic lock. Prints a Markdown table of means over the seeds,
//! with the isolation anomalies the transaction checker found in each
//! (the share of runs showing each class).
//!
//! ```sh
//! cargo run --release --example acid_vs_base            # seeds 0..20
//! cargo run --release --example acid_vs_base -- 100     # seeds 0..100
//! ```

use faultline::run::{run, RunOptions};
use faultline::scenario::Scenario;
use faultline::sim::RunResult;
use std::collections::BTreeMap;
use std::path::Path;

/// The rows: (fault, scenario file, saga options added to the file).
const ROWS: &[(&str, &str, Option<&str>)] = &[
    ("partition", "acid-2pc-partition.toml", None),
    ("partition", "base-saga-partition.toml", None),
    (
        "partition",
        "base-saga-partition.toml",
        Some("semantic_lock = true"),
    ),
    ("coordinator crash", "acid-2pc-coordinator-crash.toml", None),
    (
        "coordinator crash",
        "base-saga-coordinator-crash.toml",
        None,
    ),
    (
        "coordinator crash",
        "base-saga-coordinator-crash.toml",
        Some("semantic_lock = true"),
    ),
];

fn metric(r: &RunResult, key: &str) -> f64 {
    r.metrics.get(key).and_then(|v| v.as_f64()).unwrap_or(0.0)
}

/// Means over `seeds` of one scenario (with `saga_options` added to its
/// `[saga]` section): one table row.
fn row(file: &str, saga_options: Option<&str>, seeds: u64) -> Result<Vec<String>, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    let mut text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    if let Some(extra) = saga_options {
        text = text.replacen("[saga]", &format!("[saga]\n{extra}"), 1);
    }
    let scenario = Scenario::parse(&text, file).map_err(|e| e.to_string())?;
    let secs = scenario.config.duration.as_secs_f64();
    let mut sums = [0.0f64; 8];
    let mut violations = 0;
    // Runs showing each anomaly class.
    let mut classes: BTreeMap<String, u64> = BTreeMap::new();
    for seed in 0..seeds {
        let r = run(&scenario, seed, RunOptions::default());
        violations += r.violations.len();
        if let Some(found) = r
            .metrics
            .get("isolation_anomalies")
            .and_then(|v| v.as_object())
        {
            for class in found.keys() {
                *classes.entry(class.clone()).or_default() += 1;
            }
        }
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
    let shown: Vec<String> = classes
        .iter()
        .map(|(class, runs)| format!("{class} {:.0}%", 100.0 * *runs as f64 / n))
        .collect();
    let label = match (twopc, saga_options) {
        (true, _) => "2PC (ACID)",
        (false, None) => "saga (BASE)",
        (false, Some(_)) => "saga + semantic lock",
    };
    Ok(vec![
        label.to_string(),
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
        if shown.is_empty() {
            "none".into()
        } else {
            shown.join(", ")
        },
        format!("{:.1}", mean(6)),
        violations.to_string(),
    ])
}

fn main() {
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    println!("Means over seeds 0..{seeds}; 10 s of faults + 5 s settle, 4 clients, 3 shards.\n");
    println!("| fault | protocol | throughput (ok/s) | latency p50 (ms) | latency p99 (ms) | availability (answered) | succeeded | blocking max / total (ms) | anomaly classes (runs showing) | aborted reads (G1a) per run | violations |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (fault, file, saga_options) in ROWS {
        match row(file, *saga_options, seeds) {
            Ok(cells) => println!("| {fault} | {} |", cells.join(" | ")),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        }
    }
}
