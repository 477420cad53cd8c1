//! The consensus experiment: the CAP experiment's stores that elect a
//! leader (Raft, Multi-Paxos), compared like for like.
//!
//! Every store runs the CAP experiment's set-up ([`crate::cap::scenario`]:
//! 5 servers, 5 clients, half gets and half puts on two keys) under three
//! kinds of condition, each on seeds `0..seeds`:
//!
//! - **calm**: no fault. Latency p50/p99 and messages per completed
//!   operation (every message sent, clients' included).
//! - **leader crash**: the leader at the partition's start crashes and is
//!   restarted when the partition would end. Recovery is the time from
//!   the crash to the first request answered ok among those sent after it
//!   (a request sent before may still be answered from what the old leader
//!   committed; one sent after needs a new leader).
//! - **each partition shape** of the CAP experiment: availability during
//!   the partition and the elections it caused. A bridge (one server
//!   reaches both halves) is where the two differ most.

use crate::cap::{self, ShapeSpec, StoreSpec, PARTITION_AT_S, SHAPES};
use crate::experiment::{mean, median, number};
use crate::run::{run, RunOptions};
use crate::sim::{FaultAction, FaultEffect, NodeRef, RunResult, TimedFault};
use crate::time::{SimDuration, SimTime};
use rayon::prelude::*;
use serde::Serialize;
use std::fmt::Write;

/// The condition a run was under.
#[derive(Clone, Copy, Debug)]
pub enum Condition {
    /// No fault.
    Calm,
    /// The leader crashes at the partition's start and restarts at its end.
    LeaderCrash,
    /// A partition of this shape.
    Partition(&'static ShapeSpec),
}

impl Condition {
    /// Every condition, in the report's order.
    pub fn all() -> Vec<Condition> {
        let mut all = vec![Condition::Calm, Condition::LeaderCrash];
        all.extend(
            SHAPES
                .iter()
                .filter(|s| !s.groups.is_empty())
                .map(Condition::Partition),
        );
        all
    }

    /// Its name in the results.
    pub fn name(&self) -> &'static str {
        match self {
            Condition::Calm => "calm",
            Condition::LeaderCrash => "leader-crash",
            Condition::Partition(shape) => shape.name,
        }
    }
}

/// What one run measured.
#[derive(Clone, Debug, Serialize)]
pub struct ConsensusRow {
    /// The store.
    pub store: String,
    /// The condition ([`Condition::name`]).
    pub condition: String,
    /// The seed.
    pub seed: u64,
    /// Share of requests answered ok in time, over the run (client-weighted,
    /// as in the CAP experiment).
    pub availability: f64,
    /// The same for requests made while the fault lasted (none when calm).
    pub availability_during: Option<f64>,
    /// Median latency of answered requests (ms).
    pub latency_p50_ms: Option<f64>,
    /// 99th percentile latency of answered requests (ms).
    pub latency_p99_ms: Option<f64>,
    /// Messages sent (servers' and clients') per operation answered ok.
    pub messages_per_op: Option<f64>,
    /// Times a server became leader while the fault lasted (the whole run
    /// when calm).
    pub elections: u64,
    /// For a leader crash: ms from the crash to the first request sent
    /// after it that was answered ok (`None`: none was, or no leader was
    /// found to crash).
    pub recovery_ms: Option<f64>,
    /// For a leader crash: ms from the crash until a server became leader
    /// (`None`: none did, or no leader was found to crash).
    pub new_leader_ms: Option<f64>,
    /// The linearizability verdict of the whole history.
    pub linearizability: String,
    /// The run's trace hash.
    pub trace_hash: String,
}

/// The experiment's parameters.
#[derive(Clone, Debug)]
pub struct ConsensusPlan {
    /// The stores compared: the CAP experiment's stores that elect a leader.
    pub stores: Vec<StoreSpec>,
    /// How long a partition or a crashed leader lasts, in seconds.
    pub fault_s: u64,
    /// Seeds per store and condition.
    pub seeds: u64,
}

/// The scenario of one run: the CAP experiment's, with the condition's fault.
fn scenario(
    store: &StoreSpec,
    condition: Condition,
    fault_s: u64,
    seed: u64,
) -> crate::scenario::Scenario {
    let calm = &SHAPES[0];
    match condition {
        Condition::Calm => cap::scenario(store, calm, fault_s, seed),
        Condition::Partition(shape) => cap::scenario(store, shape, fault_s, seed),
        Condition::LeaderCrash => {
            let mut scenario = cap::scenario(store, calm, fault_s, seed);
            let at = |s: u64| SimTime::ZERO + SimDuration::from_secs(s);
            scenario.config.faults = vec![
                TimedFault {
                    at: at(PARTITION_AT_S),
                    action: FaultAction::Crash(NodeRef::Named {
                        name: "old-leader".into(),
                        of: Box::new(NodeRef::Role("leader".into())),
                    }),
                },
                TimedFault {
                    at: at(PARTITION_AT_S + fault_s),
                    action: FaultAction::Restart(Some(NodeRef::HitBy("old-leader".into()))),
                },
            ];
            scenario
        }
    }
}

/// Runs one store under one condition for one seed.
pub fn measure(store: &StoreSpec, condition: Condition, fault_s: u64, seed: u64) -> ConsensusRow {
    let scenario = scenario(store, condition, fault_s, seed);
    let result = run(&scenario, seed, RunOptions::default());
    let shape = match condition {
        Condition::Partition(shape) => shape,
        Condition::Calm | Condition::LeaderCrash => &SHAPES[0],
    };
    let base = cap::row(store, shape, fault_s, &result);
    let ns = |s: u64| s * 1_000_000_000;
    let window = match condition {
        Condition::Calm => (0, result.sim_time.as_nanos()),
        _ => (ns(PARTITION_AT_S), ns(PARTITION_AT_S + fault_s)),
    };
    let availability_during = match condition {
        Condition::Calm => None,
        Condition::Partition(_) => base.availability_during,
        Condition::LeaderCrash => cap::availability_between(&result.history, window),
    };
    let (ok, sent) = (number(&result, "ops_ok"), number(&result, "messages_sent"));
    ConsensusRow {
        store: store.name.into(),
        condition: condition.name().into(),
        seed,
        availability: base.availability,
        availability_during,
        latency_p50_ms: base.latency_p50_ms,
        latency_p99_ms: base.latency_p99_ms,
        messages_per_op: (ok > 0.0).then(|| sent / ok),
        elections: elections_between(&result, window),
        recovery_ms: match condition {
            Condition::LeaderCrash => recovery_ns(&result).map(|n| n as f64 / 1e6),
            _ => None,
        },
        new_leader_ms: match condition {
            Condition::LeaderCrash => new_leader_ns(&result).map(|n| n as f64 / 1e6),
            _ => None,
        },
        linearizability: base.linearizability,
        trace_hash: base.trace_hash,
    }
}

/// Times a server became leader in `lo..hi` (ns).
fn elections_between(result: &RunResult, (lo, hi): (u64, u64)) -> u64 {
    result
        .roles
        .iter()
        .filter(|c| c.time_ns >= lo && c.time_ns < hi && c.role.as_deref() == Some("leader"))
        .count() as u64
}

/// When the first crash happened (`None`: nothing crashed).
fn crash_ns(result: &RunResult) -> Option<u64> {
    result.faults.iter().find_map(|f| match &f.effect {
        FaultEffect::Crashed { nodes } if !nodes.is_empty() => Some(f.time_ns),
        _ => None,
    })
}

/// The time from the first crash until a server became leader (`None`:
/// nothing crashed, or no server did).
fn new_leader_ns(result: &RunResult) -> Option<u64> {
    let crash = crash_ns(result)?;
    result
        .roles
        .iter()
        .find(|c| c.time_ns >= crash && c.role.as_deref() == Some("leader"))
        .map(|c| c.time_ns - crash)
}

/// The time from the first crash to the first ok answer to a request sent
/// at or after it (`None`: nothing crashed, or no such answer).
fn recovery_ns(result: &RunResult) -> Option<u64> {
    let crash = crash_ns(result)?;
    result
        .history
        .iter()
        .filter(|o| o.invoked_ns >= crash && o.outcome_name() == "ok")
        .filter_map(|o| o.completed_ns)
        .min()
        .map(|t| t - crash)
}

/// Runs every store under every condition and seed (in parallel), in a
/// fixed order.
pub fn experiment(plan: &ConsensusPlan) -> Vec<ConsensusRow> {
    let mut configs = Vec::new();
    for store in &plan.stores {
        for condition in Condition::all() {
            for seed in 0..plan.seeds {
                configs.push((store, condition, seed));
            }
        }
    }
    configs
        .par_iter()
        .map(|(store, condition, seed)| measure(store, *condition, plan.fault_s, *seed))
        .collect()
}

/// One store under one condition, over its seeds.
#[derive(Clone, Debug, Serialize)]
pub struct ConsensusSummary {
    /// The store.
    pub store: String,
    /// The condition.
    pub condition: String,
    /// Runs summarized.
    pub runs: usize,
    /// Mean availability while the fault lasted (overall when calm).
    pub availability_during: f64,
    /// Mean availability over the run.
    pub availability: f64,
    /// Median over runs of the median latency (ms).
    pub latency_p50_ms: f64,
    /// Median over runs of the p99 latency (ms).
    pub latency_p99_ms: f64,
    /// Mean messages per operation answered ok.
    pub messages_per_op: f64,
    /// Mean elections while the fault lasted.
    pub elections: f64,
    /// Median recovery time after a leader crash (ms).
    pub recovery_p50_ms: Option<f64>,
    /// Longest recovery time after a leader crash (ms).
    pub recovery_max_ms: Option<f64>,
    /// Median time from a leader crash until a server became leader (ms).
    pub new_leader_p50_ms: Option<f64>,
    /// Runs in which no request sent after the crash was answered.
    pub unrecovered_runs: usize,
    /// Share of runs whose history was linearizable.
    pub linearizable_share: f64,
}

/// Summarizes the rows per store (in the order of `stores`) and condition.
pub fn summarize(rows: &[ConsensusRow], stores: &[StoreSpec]) -> Vec<ConsensusSummary> {
    let mut out = Vec::new();
    for store in stores {
        for condition in Condition::all() {
            let group: Vec<&ConsensusRow> = rows
                .iter()
                .filter(|r| r.store == store.name && r.condition == condition.name())
                .collect();
            if group.is_empty() {
                continue;
            }
            let values = |f: &dyn Fn(&ConsensusRow) -> Option<f64>| -> Vec<f64> {
                group.iter().filter_map(|r| f(r)).collect()
            };
            let recoveries = values(&|r| r.recovery_ms);
            let crash = matches!(condition, Condition::LeaderCrash);
            out.push(ConsensusSummary {
                store: store.name.into(),
                condition: condition.name().into(),
                runs: group.len(),
                availability_during: mean(
                    group
                        .iter()
                        .map(|r| r.availability_during.unwrap_or(r.availability)),
                ),
                availability: mean(group.iter().map(|r| r.availability)),
                latency_p50_ms: median(values(&|r| r.latency_p50_ms)),
                latency_p99_ms: median(values(&|r| r.latency_p99_ms)),
                messages_per_op: mean(values(&|r| r.messages_per_op).into_iter()),
                elections: mean(group.iter().map(|r| r.elections as f64)),
                recovery_p50_ms: (crash && !recoveries.is_empty())
                    .then(|| median(recoveries.clone())),
                recovery_max_ms: recoveries.iter().copied().reduce(f64::max),
                new_leader_p50_ms: Some(values(&|r| r.new_leader_ms))
                    .filter(|v| !v.is_empty())
                    .map(median),
                unrecovered_runs: if crash {
                    group.len() - recoveries.len()
                } else {
                    0
                },
                linearizable_share: mean(
                    group
                        .iter()
                        .map(|r| f64::from(u8::from(r.linearizability == "linearizable"))),
                ),
            });
        }
    }
    out
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.0} ms"))
}

/// The summary as Markdown: calm costs, leader-crash recovery, and
/// availability per partition shape.
pub fn markdown(summary: &[ConsensusSummary], fault_s: u64, command: &str) -> String {
    let mut md = String::from("# Raft vs Multi-Paxos: the consensus experiment\n\n");
    let _ = writeln!(md, "Regenerate with `{command}`. The CAP experiment's set-up (five servers, five clients each starting at its own server and looking for the leader, two keys, half gets and half puts, 1-5 ms links, 1 s client timeout); faults start at {PARTITION_AT_S} s and last {fault_s} s. Medians are over runs.\n");
    let of = |condition: &'static str| summary.iter().filter(move |s| s.condition == condition);
    md += "## Calm\n\n| store | runs | latency p50 | latency p99 | messages per operation | elections | linearizable runs |\n|---|---:|---:|---:|---:|---:|---:|\n";
    for s in of("calm") {
        let _ = writeln!(
            md,
            "| {} | {} | {:.1} ms | {:.1} ms | {:.2} | {:.1} | {:.0}% |",
            s.store,
            s.runs,
            s.latency_p50_ms,
            s.latency_p99_ms,
            s.messages_per_op,
            s.elections,
            s.linearizable_share * 100.0
        );
    }
    md += "\n## Leader crash\n\nThe leader crashes; a new leader is in office some time later, and recovery is the time from the crash to the first answer to a request sent after it (clients resend every 200 ms, so recovery comes in steps of it).\n\n| store | runs | new leader p50 | recovery p50 | recovery max | runs not recovered | available while it is down | elections while it is down | linearizable runs |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for s in of("leader-crash") {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {:.1}% | {:.1} | {:.0}% |",
            s.store,
            s.runs,
            ms(s.new_leader_p50_ms),
            ms(s.recovery_p50_ms),
            ms(s.recovery_max_ms),
            s.unrecovered_runs,
            s.availability_during * 100.0,
            s.elections,
            s.linearizable_share * 100.0
        );
    }
    md += "\n## Partitions\n\nThe CAP experiment's shapes: `isolate` cuts server 0 off, `split` cuts servers 0-1 off, `one-way` drops only server 0's messages out, `bridge` leaves server 2 reaching both halves {0, 1} and {3, 4}.\n\n| store | partition | runs | available during partition | elections during partition | available overall | latency p99 | linearizable runs |\n|---|---|---:|---:|---:|---:|---:|---:|\n";
    for s in summary
        .iter()
        .filter(|s| s.condition != "calm" && s.condition != "leader-crash")
    {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.1}% | {:.1} | {:.1}% | {:.1} ms | {:.0}% |",
            s.store,
            s.condition,
            s.runs,
            s.availability_during * 100.0,
            s.elections,
            s.availability * 100.0,
            s.latency_p99_ms,
            s.linearizable_share * 100.0
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::Registry;

    fn stores() -> Vec<StoreSpec> {
        Registry::builtin().consensus_stores()
    }

    #[test]
    fn raft_and_paxos_run_with_and_without_their_guard() {
        let names: Vec<&str> = stores().iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "raft",
                "raft, no PreVote/CheckQuorum",
                "multi-paxos",
                "multi-paxos, no probe"
            ]
        );
    }

    #[test]
    fn a_crashed_leader_is_replaced_and_requests_after_it_are_answered() {
        for store in stores() {
            let row = measure(&store, Condition::LeaderCrash, 3, 1);
            let recovery = row.recovery_ms.expect("a request after the crash answered");
            // A new leader needs at least an election timeout (150 ms for
            // both) and, with a 1 s client timeout, answers within 3 s.
            assert!((100.0..3000.0).contains(&recovery), "{row:?}");
            assert!(row.elections >= 1, "{row:?}");
            assert_eq!(row.linearizability, "linearizable", "{row:?}");
        }
    }

    #[test]
    fn a_calm_run_elects_at_the_start_and_counts_its_messages() {
        for store in stores() {
            let row = measure(&store, Condition::Calm, 3, 2);
            // Two servers may time out together at the start; the higher
            // ballot wins and leads from then on.
            assert!((1..=2).contains(&row.elections), "{row:?}");
            let per_op = row.messages_per_op.expect("operations answered");
            // A client's request and answer, and at least an accept and its
            // reply from a majority of the other four.
            assert!((2.0..20.0).contains(&per_op), "{row:?}");
            assert!(row.recovery_ms.is_none() && row.availability_during.is_none());
        }
    }

    #[test]
    fn a_bridge_moves_leadership_back_and_forth_only_in_unguarded_paxos() {
        let bridge = SHAPES
            .iter()
            .find(|s| s.name == "bridge")
            .expect("a bridge");
        let elections: Vec<(&str, u64)> = stores()
            .iter()
            .map(|store| {
                let row = measure(store, Condition::Partition(bridge), 5, 0);
                assert_eq!(row.linearizability, "linearizable", "{row:?}");
                (store.name, row.elections)
            })
            .collect();
        // Guarded, the first leader keeps leading; Raft unguarded moves
        // leadership once or twice (a candidate needs an up-to-date log,
        // so the far half cannot win); Paxos unguarded lets either half
        // win phase 1 through the bridge, over and over.
        assert_eq!(elections[0].1, 0, "{elections:?}");
        assert_eq!(elections[2].1, 0, "{elections:?}");
        assert!(elections[1].1 <= 3, "{elections:?}");
        assert!(elections[3].1 >= 5, "{elections:?}");
    }

    #[test]
    fn summaries_take_medians_and_count_unrecovered_runs() {
        let row = |seed, recovery_ms| ConsensusRow {
            store: "raft".into(),
            condition: "leader-crash".into(),
            seed,
            availability: 0.9,
            availability_during: Some(0.5),
            latency_p50_ms: Some(10.0),
            latency_p99_ms: Some(30.0),
            messages_per_op: Some(4.0),
            elections: 1,
            recovery_ms,
            new_leader_ms: None,
            linearizability: "linearizable".into(),
            trace_hash: String::new(),
        };
        let rows = [row(0, Some(300.0)), row(1, Some(500.0)), row(2, None)];
        let summary = summarize(&rows, &stores());
        assert_eq!(summary.len(), 1);
        let s = &summary[0];
        assert_eq!((s.runs, s.unrecovered_runs), (3, 1));
        assert_eq!(s.recovery_p50_ms, Some(500.0));
        assert_eq!(s.recovery_max_ms, Some(500.0));
        assert!((s.availability_during - 0.5).abs() < 1e-9);
        let md = markdown(&summary, 3, "faultline consensus");
        assert!(
            md.contains("| raft | 3 | - | 500 ms | 500 ms | 1 |"),
            "{md}"
        );
    }
}
