//! Raft against Multi-Paxos on the Raft benchmark's workload, in one run:
//! five servers, 50 ms heartbeats, 1-10 ms uniform latency, 32 clients
//! (about 1,000 operations per simulated second), every check judged
//! (linearizability included), no faults.
//!
//! Run: `cargo bench --bench consensus [-- --secs N] [--runs N] [--only P]`. For each
//! seed it runs Raft then Multi-Paxos (the two sides interleaved, so the
//! box's noise falls on both) and prints each run's simulated seconds per
//! CPU second (user + system, `/proc/self/stat`) and per wall second,
//! events and messages per simulated second, then each side's median and
//! range and Multi-Paxos's median ratio to Raft's. `--secs` sets the
//! simulated fault phase (60 s), `--runs` the seeds (5); `--only raft` or
//! `--only paxos` runs one side (to profile it). Results go in
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

fn scenario(protocol: &str, secs: u64) -> Scenario {
    let text = format!(
        r#"
name = "{protocol}-bench"
protocol = "{protocol}"
nodes = 5
duration = "{secs}s"

[{protocol}]
heartbeat = "50ms"

[network]
latency = {{ dist = "uniform", min = "1ms", max = "10ms" }}

[workload]
clients = 32
interval = "5ms"
timeout = "1s"

[checks]
settle = "1s"
"#
    );
    Scenario::parse(&text, "consensus-bench").unwrap_or_else(|e| panic!("{e}"))
}

/// One run: (simulated s per CPU s, per wall s).
fn measure(protocol: &str, scenario: &Scenario, seed: u64) -> (f64, f64) {
    let (wall0, cpu0) = (Instant::now(), cpu_seconds());
    let options = RunOptions {
        skip_history: true,
        ..RunOptions::default()
    };
    let result = run(scenario, seed, options);
    let (wall, cpu) = (wall0.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
    assert!(result.violations.is_empty(), "{:?}", result.violations);
    assert!(result.undecided.is_empty(), "{:?}", result.undecided);
    let sim = result.sim_time.as_nanos() as f64 / 1e9;
    let ops = result.metrics["ops_invoked"].as_u64().unwrap_or(0) as f64;
    println!(
        "{protocol} seed {seed}: {:.0} sim s / CPU s, {:.0} sim s / wall s, {:.0} events and {:.0} messages / sim s, {:.1} messages / op",
        sim / cpu,
        sim / wall,
        result.events as f64 / sim,
        result.net.sent as f64 / sim,
        result.net.sent as f64 / ops.max(1.0),
    );
    (sim / cpu, sim / wall)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs = option(&args, "--secs", 60);
    let runs = option(&args, "--runs", 5);
    let (raft, paxos) = (scenario("raft", secs), scenario("paxos", secs));
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str);
    if let Some(side) = only {
        let scenario = if side == "raft" { &raft } else { &paxos };
        for seed in 0..runs {
            measure(side, scenario, seed);
        }
        return;
    }
    let (mut raft_cpu, mut paxos_cpu, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for seed in 0..runs {
        let r = measure("raft", &raft, seed);
        let p = measure("paxos", &paxos, seed);
        raft_cpu.push(r.0);
        paxos_cpu.push(p.0);
        ratios.push(100.0 * p.0 / r.0);
    }
    summary("raft: simulated seconds per CPU second", raft_cpu);
    summary("paxos: simulated seconds per CPU second", paxos_cpu);
    summary("paxos / raft, per seed (%)", ratios);
}
