//! Services under load: simulated seconds per wall second and per CPU
//! second, for the issue's size: 10 replicas, 10,000 requests per second
//! (open-loop, 10 clients), 600 simulated seconds, retries with backoff,
//! every check judged.
//!
//! Run: `cargo bench --bench service [-- --secs N] [--runs N]`. `--secs`
//! sets the simulated length (600), `--runs` the seeds (3). Prints, per
//! run, simulated seconds per wall second and per CPU second (user +
//! system, from `/proc/self/stat`), requests and events per simulated
//! second, then the median and range of each rate. Results go in
//! reports/BENCHMARKS.md.
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
name = "service-bench"
protocol = "service"
nodes = 10
duration = "{secs}s"
max_events = 2000000000
max_pending_events = 8000000

[network]
latency = {{ dist = "uniform", min = "1ms", max = "3ms" }}

[workload]
clients = 10
max_ops = 0

[service]
rate = 10000.0
deadline = "1s"
attempt_timeout = "300ms"

[service.retry]
retries = 2
base = "50ms"
jitter = "full"

[service.server]
concurrency = 16
queue = 100
service_time = {{ dist = "exponential", mean = "10ms" }}
"#
    );
    Scenario::parse(&text, "service-bench").unwrap_or_else(|e| panic!("{e}"))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs = option(&args, "--secs", 600);
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
        let requests = result.metrics["service_requests"].as_u64().unwrap_or(0) as f64;
        println!(
            "seed {seed}: {:.0} sim s / wall s, {:.0} sim s / CPU s, {:.0} requests and {:.0} events / sim s, availability {}, wall {wall:.2} s, CPU {cpu:.2} s",
            sim / wall,
            sim / cpu,
            requests / sim,
            result.events as f64 / sim,
            result.metrics["service_availability"],
        );
        per_wall.push(sim / wall);
        per_cpu.push(sim / cpu);
    }
    summary("simulated seconds per wall second", per_wall);
    summary("simulated seconds per CPU second", per_cpu);
}
