//! The replicated log: simulated seconds per wall second and per CPU
//! second for the issue's size: 3 brokers, 6 partitions replicated three
//! ways, `acks = "all"`, about 5,000 produces per simulated second (120
//! closed-loop producers), two consumers applying every record (100 µs of work each), 120
//! simulated seconds, every check judged.
//!
//! Run: `cargo bench --bench log [-- --secs N] [--runs N]`. `--secs` sets
//! the simulated length (120), `--runs` the seeds (3). Prints, per run,
//! simulated seconds per wall second and per CPU second (user + system,
//! from `/proc/self/stat`), produces and events per simulated second, then
//! the median and range of each rate. Results go in reports/BENCHMARKS.md.
#![allow(clippy::disallowed_methods)] // wall-clock timing is the point of a benchmark

mod common;
use common::{cpu_seconds, option, summary};
use faultline::run::{run, RunOptions};
use faultline::scenario::Scenario;
use std::time::Instant;

/// The allocator the `faultline` binary uses (cli/Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn scenario(secs: u64) -> Scenario {
    let text = format!(
        r#"
name = "log-bench"
protocol = "log"
nodes = 7
duration = "{secs}s"
max_events = 2000000000
max_pending_events = 8000000
max_history_ops = 2000000

[network]
latency = {{ dist = "uniform", min = "1ms", max = "3ms" }}

[workload]
clients = 120
interval = "10ms"
timeout = "3s"

[log]
brokers = 3
partitions = 6
acks = "all"
processing = "100us"
"#
    );
    Scenario::parse(&text, "log-bench").unwrap_or_else(|e| panic!("{e}"))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs = option(&args, "--secs", 120);
    let runs = option(&args, "--runs", 3);
    let scenario = scenario(secs);
    let (mut per_wall, mut per_cpu) = (Vec::new(), Vec::new());
    for seed in 0..runs {
        let (wall0, cpu0) = (Instant::now(), cpu_seconds());
        let options = RunOptions {
            skip_history: true,
            ..RunOptions::default()
        };
        let result = run(&scenario, seed, options);
        let (wall, cpu) = (wall0.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
        assert!(result.violations.is_empty(), "{:?}", result.violations);
        let sim = result.sim_time.as_nanos() as f64 / 1e9;
        let produces = result.metrics["log_acknowledged"].as_u64().unwrap_or(0) as f64;
        println!(
            "seed {seed}: {:.0} sim s / wall s, {:.0} sim s / CPU s, {:.0} produces and {:.0} events / sim s, wall {wall:.2} s, CPU {cpu:.2} s",
            sim / wall,
            sim / cpu,
            produces / sim,
            result.events as f64 / sim,
        );
        per_wall.push(sim / wall);
        per_cpu.push(sim / cpu);
    }
    summary("simulated seconds per wall second", per_wall);
    summary("simulated seconds per CPU second", per_cpu);
}
