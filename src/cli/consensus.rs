//! `faultline consensus`: Raft vs Multi-Paxos (every CAP store that elects
//! a leader). Writes results (JSON and Markdown) and two charts into
//! `--out` (default `reports/consensus`).

use super::EXIT_BAD_INPUT;
use crate::consensus::{self, ConsensusPlan, ConsensusSummary};
use crate::protocols::Registry;
use crate::report::charts::{self, Bars};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `faultline consensus`.
#[derive(Args, Debug)]
pub struct ConsensusArgs {
    /// Directory for results.json, results.md and the charts.
    #[arg(long, default_value = "reports/consensus")]
    pub out: PathBuf,
    /// Seeds per store and condition.
    #[arg(long, default_value_t = 20)]
    pub seeds: u64,
    /// How long a partition or a crashed leader lasts, in seconds.
    #[arg(long, default_value_t = 5)]
    pub fault_secs: u64,
}

/// Runs `faultline consensus` over the stores of `registry` that take part
/// in the CAP experiment and elect a leader; returns its exit code.
pub fn run(args: ConsensusArgs, registry: &Registry) -> i32 {
    if args.seeds == 0 || args.fault_secs == 0 {
        eprintln!("error: --seeds and --fault-secs must be at least 1");
        return EXIT_BAD_INPUT;
    }
    let stores = registry.consensus_stores();
    if stores.is_empty() {
        eprintln!("error: no protocol of the CAP experiment elects a leader");
        return EXIT_BAD_INPUT;
    }
    let plan = ConsensusPlan {
        stores,
        fault_s: args.fault_secs,
        seeds: args.seeds,
    };
    let rows = consensus::experiment(&plan);
    let summary = consensus::summarize(&rows, &plan.stores);
    let command = format!(
        "faultline consensus --seeds {} --fault-secs {} --out {}",
        args.seeds,
        args.fault_secs,
        args.out.display()
    );
    let md = consensus::markdown(&summary, args.fault_secs, &command);
    let files = [
        super::results_json(&command, &summary, &rows),
        ("results.md", md.clone()),
        ("availability.svg", availability_chart(&summary, &plan)),
        ("latency-and-recovery.svg", latency_chart(&summary, &plan)),
    ];
    super::write_experiment(&args.out, &files, &md)
}

/// The stores' names, in the plan's order.
fn store_names(plan: &ConsensusPlan) -> Vec<String> {
    plan.stores.iter().map(|s| s.name.to_string()).collect()
}

/// Availability while each fault lasted, a bar per store.
fn availability_chart(summary: &[ConsensusSummary], plan: &ConsensusPlan) -> String {
    let groups: Vec<String> = consensus::Condition::all()
        .iter()
        .filter(|c| !matches!(c, consensus::Condition::Calm))
        .map(|c| c.name().to_string())
        .collect();
    let series: Vec<(String, Vec<Option<f64>>)> = store_names(plan)
        .into_iter()
        .map(|store| {
            let values = groups
                .iter()
                .map(|g| {
                    summary
                        .iter()
                        .find(|s| s.store == store && &s.condition == g)
                        .map(|s| s.availability_during)
                })
                .collect();
            (store, values)
        })
        .collect();
    charts::grouped_bars(&Bars {
        caption: "Availability while the fault lasts (requests answered ok, client-weighted)",
        y_desc: "share answered ok",
        groups: &groups,
        series: &series,
    })
}

/// Calm latency (p50, p99) and recovery after a leader crash (p50, max), in ms.
fn latency_chart(summary: &[ConsensusSummary], plan: &ConsensusPlan) -> String {
    let groups: Vec<String> = ["latency p50", "latency p99", "recovery p50", "recovery max"]
        .map(String::from)
        .to_vec();
    let series: Vec<(String, Vec<Option<f64>>)> = store_names(plan)
        .into_iter()
        .map(|store| {
            let of = |condition: &str| {
                summary
                    .iter()
                    .find(|s| s.store == store && s.condition == condition)
            };
            let calm = of("calm");
            let crash = of("leader-crash");
            let values = vec![
                calm.map(|s| s.latency_p50_ms),
                calm.map(|s| s.latency_p99_ms),
                crash.and_then(|s| s.recovery_p50_ms),
                crash.and_then(|s| s.recovery_max_ms),
            ];
            (store, values)
        })
        .collect();
    charts::grouped_bars(&Bars {
        caption: "Calm latency and recovery after a leader crash",
        y_desc: "ms",
        groups: &groups,
        series: &series,
    })
}
