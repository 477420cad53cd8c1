//! The CAP experiment: the same workload under the same partitions against
//! each store, measured for availability, latency and consistency.
//!
//! For every (store, partition shape, partition duration, seed) it builds a
//! scenario as a value (5 replicas, a client attached to each, clients on
//! both sides of every cut), runs it, and measures availability (share of requests
//! answered ok within the client timeout, overall and for requests made
//! during the partition), latency p50/p99, the linearizability verdict of
//! the whole history, stale reads and acknowledged writes lost after the
//! heal. The runs are independent and run in parallel.

use crate::history::Record;
use crate::net::{Latency, LinkConfig, NetworkConfig};
use crate::process::NodeId;
use crate::run::{run, RunOptions};
use crate::scenario::Scenario;
use crate::sim::{FaultAction, RunResult, Shape, SimConfig, TimedFault, WorkloadConfig};
use crate::stats::service;
use crate::time::{SimDuration, SimTime};
use rayon::prelude::*;
use serde::Serialize;
use std::fmt::Write;
use std::sync::Arc;

/// A store under test: a protocol whose registry entry takes part in the
/// experiment ([`crate::protocols::ProtocolDef::cap_store`]).
pub use crate::protocols::registry::CapStore as StoreSpec;

/// A partition shape: its name and its groups (none: no partition).
#[derive(Clone, Debug)]
pub struct ShapeSpec {
    /// Short name.
    pub name: &'static str,
    /// The partition's groups, by process (empty: no partition).
    pub groups: &'static [&'static [u32]],
    /// Whether only the first group's messages to the others are cut.
    pub one_way: bool,
}

/// Servers are 0-4; client c (5-9) is attached to replica c - 5.
pub const SHAPES: &[ShapeSpec] = &[
    ShapeSpec {
        name: "none",
        groups: &[],
        one_way: false,
    },
    ShapeSpec {
        name: "isolate",
        groups: &[&[0, 5], &[1, 2, 3, 4, 6, 7, 8, 9]],
        one_way: false,
    },
    ShapeSpec {
        name: "split",
        groups: &[&[0, 1, 5, 6], &[2, 3, 4, 7, 8, 9]],
        one_way: false,
    },
    ShapeSpec {
        name: "one-way",
        groups: &[&[0, 5], &[1, 2, 3, 4, 6, 7, 8, 9]],
        one_way: true,
    },
    ShapeSpec {
        name: "bridge",
        groups: &[&[0, 1, 5, 6], &[3, 4, 8, 9]],
        one_way: false,
    },
];

/// When the partition starts.
pub const PARTITION_AT_S: u64 = 5;

/// The scenario of one run: 5 replicas, 5 clients (20 ms apart, 1 s
/// timeout), 1-5 ms latency, the partition from 5 s for `partition_s`, and
/// a 3 s liveness phase.
pub fn scenario(store: &StoreSpec, shape: &ShapeSpec, partition_s: u64, seed: u64) -> Scenario {
    let end = PARTITION_AT_S + partition_s;
    let at = |s: u64| SimTime::ZERO + SimDuration::from_secs(s);
    let mut faults = Vec::new();
    if !shape.groups.is_empty() {
        let groups = shape
            .groups
            .iter()
            .map(|g| g.iter().map(|&n| NodeId(n)).collect())
            .collect();
        faults.push(TimedFault {
            at: at(PARTITION_AT_S),
            action: FaultAction::Partition {
                name: "p".into(),
                shape: Shape::Groups(groups),
                one_way: shape.one_way,
            },
        });
        faults.push(TimedFault {
            at: at(end),
            action: FaultAction::Heal(Some("p".into())),
        });
    }
    let config = SimConfig {
        seed,
        duration: SimDuration::from_secs(end + 5),
        settle: SimDuration::from_secs(3),
        network: NetworkConfig {
            default: LinkConfig {
                latency: Latency::Uniform {
                    min: SimDuration::from_millis(1),
                    max: SimDuration::from_millis(5),
                },
                ..LinkConfig::default()
            },
            links: Vec::new(),
            slow: None,
        },
        faults,
        workload: WorkloadConfig {
            clients: 5,
            interval: SimDuration::from_millis(20),
            timeout: SimDuration::from_secs(1),
            ..WorkloadConfig::default()
        },
        ..SimConfig::default()
    };
    Scenario::from_plan("cap", Arc::clone(&store.plan), 5, config)
}

/// Client-weighted share of requests answered ok per `bucket_ms`, for one
/// run: the "availability over time" curve, as (bucket start s, share).
///
/// A request counts in the bucket of its outcome time, when its client
/// learnt how it ended: answered ok, refused, or timed out. Counting a
/// refusal or a timeout when the request was made would put a request cut
/// off by the partition up to a timeout (1 s) before the partition began;
/// successes count at their answer too, so every bucket holds the outcomes
/// its clients saw then. One exception keeps a refused client from
/// vanishing from the bucket in which it only waited: a client that saw no
/// outcome in a bucket counts the request it was still waiting on at the
/// bucket's end, if that request is not answered ok (so a request sent at
/// 5.01 s that times out at 6.01 s leaves its client unserved in the
/// second from 5 s, where it saw nothing, and refused in the next). Buckets
/// with no client in them are left out.
pub fn availability_over_time(
    store: &StoreSpec,
    shape: &ShapeSpec,
    partition_s: u64,
    seed: u64,
    bucket_ms: u64,
) -> Result<Vec<(f64, f64)>, String> {
    let scenario = scenario(store, shape, partition_s, seed);
    let result = run(&scenario, seed, RunOptions::default());
    let ops = &result.history;
    let bucket_ns = bucket_ms * 1_000_000;
    let buckets = (scenario.config.duration.as_nanos() / bucket_ns) as usize;
    Ok((0..buckets)
        .filter_map(|b| {
            let (lo, hi) = (b as u64 * bucket_ns, (b as u64 + 1) * bucket_ns);
            client_availability(&bucket_outcomes(ops, lo, hi)).map(|share| (lo as f64 / 1e9, share))
        })
        .collect())
}

/// The requests that availability in `lo..hi` rests on: those whose
/// outcome came then, and for each client that saw none, the request it
/// was still waiting on at `hi` if that one ended other than ok (see
/// [`availability_over_time`]).
fn bucket_outcomes(ops: &[Record], lo: u64, hi: u64) -> Vec<&Record> {
    let mut group: Vec<&Record> = ops
        .iter()
        .filter(|o| o.completed_ns.is_some_and(|t| t >= lo && t < hi))
        .collect();
    let waiting = ops.iter().filter(|o| {
        o.invoked_ns < hi && o.completed_ns.is_none_or(|t| t >= hi) && o.outcome_name() != "ok"
    });
    for o in waiting {
        if !group.iter().any(|g| g.client == o.client) {
            group.push(o);
        }
    }
    group
}

/// When the partition of every run starts and, for `partition_s`, ends (seconds).
pub fn partition_window(partition_s: u64) -> (f64, f64) {
    (PARTITION_AT_S as f64, (PARTITION_AT_S + partition_s) as f64)
}

/// What one run measured.
#[derive(Clone, Debug, Serialize)]
pub struct CapRow {
    /// The store.
    pub store: String,
    /// The partition shape.
    pub shape: String,
    /// Partition duration in seconds (0 for none).
    pub partition_s: u64,
    /// The seed.
    pub seed: u64,
    /// Share of requests answered ok in time (client-weighted).
    pub availability: f64,
    /// The same, for the requests made during the partition.
    pub availability_during: Option<f64>,
    /// Median latency of answered requests (ms).
    pub latency_p50_ms: Option<f64>,
    /// 99th percentile latency of answered requests (ms).
    pub latency_p99_ms: Option<f64>,
    /// `linearizable`, `illegal`, `unknown` (undecided within the run's
    /// check budget) or `skipped`.
    pub linearizability: String,
    /// Reads that returned a value older than a completed write (`None`:
    /// the store does not measure it; a linearizable history has none).
    pub stale_reads: Option<u64>,
    /// Keys whose last acknowledged write is not their final value (`None`: not measured).
    pub acked_writes_lost: Option<u64>,
    /// The command that reruns it (with the scenario file written beside the results).
    pub trace_hash: String,
}

fn ok_share(ops: &[&Record]) -> Option<f64> {
    (!ops.is_empty())
        .then(|| ops.iter().filter(|o| o.outcome_name() == "ok").count() as f64 / ops.len() as f64)
}

/// Availability weighted by client: the mean over clients of each one's
/// share of requests answered ok. Clients wait for each answer, so a
/// refused client issues fewer requests than a served one; counting
/// requests would let the served side drown out the refused side.
fn client_availability(ops: &[&Record]) -> Option<f64> {
    let mut clients: Vec<usize> = ops.iter().map(|o| o.client).collect();
    clients.sort_unstable();
    clients.dedup();
    let shares: Vec<f64> = clients
        .iter()
        .filter_map(|c| {
            ok_share(
                &ops.iter()
                    .copied()
                    .filter(|o| o.client == *c)
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    (!shares.is_empty()).then(|| shares.iter().sum::<f64>() / shares.len() as f64)
}

/// Client-weighted availability of the requests made in `lo..hi` (ns).
pub fn availability_between(ops: &[Record], (lo, hi): (u64, u64)) -> Option<f64> {
    let made: Vec<&Record> = ops
        .iter()
        .filter(|o| o.invoked_ns >= lo && o.invoked_ns < hi)
        .collect();
    client_availability(&made)
}

/// Runs one configuration.
pub fn measure(
    store: &StoreSpec,
    shape: &ShapeSpec,
    partition_s: u64,
    seed: u64,
) -> Result<CapRow, String> {
    let scenario = scenario(store, shape, partition_s, seed);
    let result = run(&scenario, seed, RunOptions::default());
    Ok(row(store, shape, partition_s, &result))
}

/// What run `result` of `store` under `shape` (for `partition_s`) measured.
pub fn row(store: &StoreSpec, shape: &ShapeSpec, partition_s: u64, result: &RunResult) -> CapRow {
    let seed = result.seed;
    let ops = &result.history;
    let all: Vec<&Record> = ops.iter().collect();
    let window = (
        PARTITION_AT_S * 1_000_000_000,
        (PARTITION_AT_S + partition_s) * 1_000_000_000,
    );
    let answered = service(ops.iter());
    let metric = |k: &str| result.metrics.get(k).and_then(|v| v.as_u64());
    CapRow {
        store: store.name.into(),
        shape: shape.name.into(),
        partition_s: if shape.groups.is_empty() {
            0
        } else {
            partition_s
        },
        seed,
        availability: client_availability(&all).unwrap_or(0.0),
        availability_during: if shape.groups.is_empty() {
            None
        } else {
            availability_between(ops, window)
        },
        latency_p50_ms: answered.p50_ns.map(|n| n as f64 / 1e6),
        latency_p99_ms: answered.p99_ns.map(|n| n as f64 / 1e6),
        linearizability: result
            .metrics
            .get(store.linearizability_metric)
            .and_then(|v| v.as_str())
            .unwrap_or("unknown")
            .to_string(),
        stale_reads: metric("stale_reads"),
        acked_writes_lost: metric("acked_writes_lost"),
        trace_hash: result.trace_hash.clone(),
    }
}

/// The experiment's parameters.
#[derive(Clone, Debug)]
pub struct CapPlan {
    /// The stores compared (`Registry::cap_stores`).
    pub stores: Vec<StoreSpec>,
    /// Partition durations, in seconds.
    pub durations_s: Vec<u64>,
    /// Seeds per configuration.
    pub seeds: u64,
}

/// Runs every configuration (in parallel), in a fixed order.
pub fn experiment(plan: &CapPlan) -> Result<Vec<CapRow>, String> {
    let mut configs = Vec::new();
    for store in &plan.stores {
        for shape in SHAPES {
            let durations: &[u64] = if shape.groups.is_empty() {
                &[0]
            } else {
                &plan.durations_s
            };
            for &d in durations {
                for seed in 0..plan.seeds {
                    configs.push((store, shape, d, seed));
                }
            }
        }
    }
    configs
        .par_iter()
        .map(|(store, shape, d, seed)| measure(store, shape, *d, *seed))
        .collect()
}

/// One line of the summary table: a store under a shape, averaged over durations and seeds.
#[derive(Clone, Debug, Serialize)]
pub struct CapSummary {
    /// The store.
    pub store: String,
    /// The shape.
    pub shape: String,
    /// Runs averaged.
    pub runs: usize,
    /// Mean availability during the partition (overall for `none`).
    pub availability_during: f64,
    /// Mean overall availability.
    pub availability: f64,
    /// Mean p99 latency (ms).
    pub latency_p99_ms: f64,
    /// Share of runs whose history was linearizable.
    pub linearizable_share: f64,
    /// Runs whose linearizability check was undecided (neither counted as
    /// linearizable nor as not).
    pub undecided_runs: usize,
    /// Mean stale reads per run, where measured.
    pub stale_reads: Option<f64>,
    /// Total acknowledged writes lost, where measured.
    pub acked_writes_lost: Option<u64>,
}

/// Averages the rows per store (in the order of `stores`) and shape.
pub fn summarize(rows: &[CapRow], stores: &[StoreSpec]) -> Vec<CapSummary> {
    let mut out = Vec::new();
    for store in stores {
        for shape in SHAPES {
            let group: Vec<&CapRow> = rows
                .iter()
                .filter(|r| r.store == store.name && r.shape == shape.name)
                .collect();
            if group.is_empty() {
                continue;
            }
            let n = group.len() as f64;
            let mean = |f: &dyn Fn(&CapRow) -> f64| group.iter().map(|r| f(r)).sum::<f64>() / n;
            out.push(CapSummary {
                store: store.name.into(),
                shape: shape.name.into(),
                runs: group.len(),
                availability_during: mean(&|r| r.availability_during.unwrap_or(r.availability)),
                availability: mean(&|r| r.availability),
                latency_p99_ms: mean(&|r| r.latency_p99_ms.unwrap_or(0.0)),
                linearizable_share: mean(&|r| {
                    f64::from(u8::from(r.linearizability == "linearizable"))
                }),
                undecided_runs: group
                    .iter()
                    .filter(|r| r.linearizability == "unknown")
                    .count(),
                stale_reads: group
                    .iter()
                    .map(|r| r.stale_reads)
                    .sum::<Option<u64>>()
                    .map(|t| t as f64 / n),
                acked_writes_lost: group.iter().map(|r| r.acked_writes_lost).sum(),
            });
        }
    }
    out
}

/// The summary as a Markdown table.
pub fn markdown(summary: &[CapSummary], command: &str) -> String {
    let mut md = String::from(
        "# CAP experiment: quorum, Raft, Multi-Paxos and eventual stores under partitions\n\n",
    );
    let _ = writeln!(md, "Regenerate with `{command}`. Five replicas and five clients (each store's client c attached to replica c; Raft's and Multi-Paxos's clients look for the leader), clients on both sides of every cut, two keys, half gets and half puts; the partition starts at {PARTITION_AT_S}s; \"-\" means the store does not measure it (for Raft and Multi-Paxos the checker's verdict covers stale reads: a linearizable history has none). Availability is the share of requests answered ok within the 1 s client timeout, averaged over clients (each client waits for its answer, so a refused client makes fewer requests; weighting by client keeps the refused side from being drowned out).\n");
    md += "| store | partition | runs | available during partition | available overall | latency p99 | linearizable runs | stale reads / run | acked writes lost |\n";
    md += "|---|---|---:|---:|---:|---:|---:|---:|---:|\n";
    for s in summary {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.1}% | {:.1}% | {:.1} ms | {:.0}%{} | {} | {} |",
            s.store,
            s.shape,
            s.runs,
            s.availability_during * 100.0,
            s.availability * 100.0,
            s.latency_p99_ms,
            s.linearizable_share * 100.0,
            match s.undecided_runs {
                0 => String::new(),
                n => format!(" ({n} undecided)"),
            },
            s.stale_reads.map_or("-".into(), |r| format!("{r:.1}")),
            s.acked_writes_lost.map_or("-".into(), |n| n.to_string())
        );
    }
    md
}
