//! Raft throughput: simulated seconds per wall second.
//!
//! Run: `cargo bench --bench raft` (`-- skipped` for the configuration
//! without the end-of-run linearizability check only). Five servers, 50 ms heartbeats, 1-10 ms
//! uniform latency and a client workload of about 1,000 operations per
//! simulated second (25 clients), with every invariant checked as the run
//! goes and the linearizability check at the end. Prints simulated seconds
//! per wall second (median of 3 runs) with and without the end-of-run
//! linearizability check, and events per simulated second. Results go in
//! reports/BENCHMARKS.md.
#![allow(clippy::disallowed_methods)] // wall-clock timing is the point of a benchmark

use faultline::run::{run, RunOptions};
use faultline::scenario::Scenario;
use std::time::Instant;

const SIM_SECS: u64 = 60;

fn scenario(linearizability_budget_ms: u64) -> Scenario {
    let text = format!(
        r#"
name = "raft-bench"
protocol = "raft"
nodes = 5
duration = "{SIM_SECS}s"

[raft]
heartbeat = "50ms"
linearizability_budget_ms = {linearizability_budget_ms}

[network]
latency = {{ dist = "uniform", min = "1ms", max = "10ms" }}

[workload]
clients = 25
interval = "5ms"
timeout = "1s"

[checks]
settle = "1s"
"#
    );
    match Scenario::parse(&text, "raft-bench") {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

fn measure(label: &str, scenario: &Scenario) {
    let mut rates = Vec::new();
    for seed in 0..3 {
        let start = Instant::now();
        let options = RunOptions {
            skip_history: true,
            ..RunOptions::default()
        };
        let result = run(scenario, seed, options);
        let wall = start.elapsed().as_secs_f64();
        assert!(result.violations.is_empty(), "{:?}", result.violations);
        let sim = result.sim_time.as_nanos() as f64 / 1e9;
        let ops = result.metrics["ops_invoked"].as_u64().unwrap_or(0) as f64 / sim;
        let lin = &result.metrics["raft_linearizability"];
        println!(
            "{label} seed {seed}: {:.0} sim s / wall s, {:.0} events / sim s, {ops:.0} ops / sim s, linearizability {lin}, wall {wall:.3} s",
            sim / wall,
            result.events as f64 / sim,
        );
        rates.push(sim / wall);
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "{label}: median {:.0} simulated seconds per wall second",
        rates[1]
    );
}

/// `cargo bench --bench raft [-- FILTER]`: runs the configurations whose
/// label contains FILTER (all of them without one).
fn main() {
    let filter = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_default();
    let configurations = [
        ("invariants + linearizability (2 s budget)", 2000),
        ("invariants, linearizability skipped (0 ms budget)", 0),
    ];
    for (label, budget_ms) in configurations {
        if label.contains(&filter) {
            measure(label, &scenario(budget_ms));
        }
    }
}
