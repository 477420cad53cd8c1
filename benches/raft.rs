//! Raft throughput: simulated seconds per wall second.
//!
//! Run: `cargo bench --bench raft [-- FILTER] [--secs N] [--runs N]`.
//! Five servers, 50 ms heartbeats, 1-10 ms uniform latency and a client
//! workload of about 1,000 operations per simulated second (32 clients),
//! with every invariant checked as the run goes. Configurations:
//!
//! * `linearizability`: also the end-of-run linearizability check (the
//!   default budget; the workload's unique values let it decide directly);
//! * `invariants`: the run-time invariants only (the check left out of
//!   `[checks] enabled`);
//! * `pipelined`: invariants only, with `pipeline = true` (every entry sent
//!   to every follower at once, so many more messages per operation).
//!
//! FILTER runs the configurations whose name contains it. `--secs` sets the
//! simulated fault phase (60 s), `--runs` the seeds per configuration (3).
//! Prints, per run, simulated seconds per wall second, events and client
//! operations per simulated second, then the median. Results go in
//! reports/BENCHMARKS.md.
#![allow(clippy::disallowed_methods)] // wall-clock timing is the point of a benchmark

mod common;
use common::option;
use faultline::run::{run, RunOptions};
use faultline::scenario::Scenario;
use std::time::Instant;

/// The allocator the `faultline` binary uses (cli/Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One benchmarked configuration.
struct Config {
    name: &'static str,
    /// Run the end-of-run linearizability check (else it is left out of
    /// `[checks] enabled`, and only the run-time invariants are judged).
    linearizability: bool,
    pipeline: bool,
}

const CONFIGS: [Config; 3] = [
    Config {
        name: "linearizability",
        linearizability: true,
        pipeline: false,
    },
    Config {
        name: "invariants",
        linearizability: false,
        pipeline: false,
    },
    Config {
        name: "pipelined",
        linearizability: false,
        pipeline: true,
    },
];

/// Every Raft check but linearizability.
const INVARIANTS: &str = r#"enabled = ["raft.election-safety", "raft.leader-append-only", "raft.log-matching", "raft.leader-completeness", "raft.state-machine-safety", "raft.acked-write-lost", "raft.liveness", "engine.max-events", "engine.max-pending", "engine.max-history", "engine.panic"]"#;

fn scenario(config: &Config, secs: u64) -> Scenario {
    let text = format!(
        r#"
name = "raft-bench"
protocol = "raft"
nodes = 5
duration = "{secs}s"

[raft]
heartbeat = "50ms"
pipeline = {}

[network]
latency = {{ dist = "uniform", min = "1ms", max = "10ms" }}

[workload]
clients = 32
interval = "5ms"
timeout = "1s"

[checks]
settle = "1s"
{}
"#,
        config.pipeline,
        if config.linearizability {
            ""
        } else {
            INVARIANTS
        }
    );
    match Scenario::parse(&text, "raft-bench") {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

fn measure(name: &str, scenario: &Scenario, runs: u64) {
    let mut rates = Vec::new();
    for seed in 0..runs {
        let start = Instant::now();
        let options = RunOptions {
            skip_history: true,
            ..RunOptions::default()
        };
        let result = run(scenario, seed, options);
        let wall = start.elapsed().as_secs_f64();
        assert!(result.violations.is_empty(), "{:?}", result.violations);
        assert!(result.undecided.is_empty(), "{:?}", result.undecided);
        let sim = result.sim_time.as_nanos() as f64 / 1e9;
        let ops = result.metrics["ops_invoked"].as_u64().unwrap_or(0) as f64 / sim;
        let lin = &result.metrics["raft_linearizability"];
        println!(
            "{name} seed {seed}: {:.0} sim s / wall s, {:.0} events / sim s, {ops:.0} ops / sim s, linearizability {lin}, wall {wall:.3} s",
            sim / wall,
            result.events as f64 / sim,
        );
        rates.push(sim / wall);
    }
    rates.sort_by(f64::total_cmp);
    if let Some(median) = rates.get(rates.len() / 2) {
        println!("{name}: median {median:.0} simulated seconds per wall second");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs = option(&args, "--secs", 60);
    let runs = option(&args, "--runs", 3);
    let mut filter = String::new();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--secs" | "--runs" => i += 1,
            a if !a.starts_with('-') => filter = a.to_string(),
            _ => {}
        }
        i += 1;
    }
    for config in CONFIGS.iter().filter(|c| c.name.contains(&filter)) {
        measure(config.name, &scenario(config, secs), runs);
    }
}
