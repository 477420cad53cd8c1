//! The CAP experiment's numbers, asserted qualitatively across seeds: under
//! a majority/minority split with clients on both sides, the eventually
//! consistent store answers more requests than the quorum store, Raft and
//! Multi-Paxos and is not linearizable, while they stay linearizable (and
//! leave the minority side unserved).

use faultline::cap::{measure, StoreSpec, SHAPES};
use faultline::protocols::Registry;

mod common;

/// The stores of the built-in protocols that take part in the experiment.
fn stores() -> Vec<StoreSpec> {
    Registry::builtin().cap_stores()
}

fn store(name: &str) -> StoreSpec {
    stores()
        .into_iter()
        .find(|s| s.name.starts_with(name))
        .unwrap_or_else(|| panic!("no store {name}"))
}

fn shape(name: &str) -> &'static faultline::cap::ShapeSpec {
    SHAPES
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no shape {name}"))
}

#[test]
fn under_a_split_the_ap_store_answers_more_and_the_cp_store_stays_linearizable() {
    for seed in 0..4 {
        let quorum =
            measure(&store("quorum"), shape("split"), 4, seed).unwrap_or_else(|e| panic!("{e}"));
        let eventual =
            measure(&store("eventual"), shape("split"), 4, seed).unwrap_or_else(|e| panic!("{e}"));
        let (q, e) = (
            quorum.availability_during.unwrap_or(1.0),
            eventual.availability_during.unwrap_or(0.0),
        );
        assert!(
            e > q,
            "seed {seed}: eventual {e} should answer more than quorum {q} during the split"
        );
        assert!(
            q < 0.8,
            "seed {seed}: the minority side (2 of 5 clients) must be refused, got {q}"
        );
        assert_eq!(quorum.linearizability, "linearizable", "seed {seed}");
        assert_eq!(eventual.linearizability, "illegal", "seed {seed}");
        assert_eq!(
            quorum.stale_reads,
            Some(0),
            "seed {seed}: a linearizable store has no stale reads"
        );
        assert!(eventual.stale_reads.is_some_and(|n| n > 0), "seed {seed}");
    }
}

#[test]
fn without_partitions_both_stores_answer_everything() {
    for s in ["quorum", "eventual"] {
        let row = measure(&store(s), shape("none"), 0, 1).unwrap_or_else(|e| panic!("{e}"));
        assert!(row.availability > 0.99, "{s}: {}", row.availability);
    }
}

#[test]
fn a_bridge_keeps_a_majority_for_everyone() {
    let quorum = measure(&store("quorum"), shape("bridge"), 4, 2).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        quorum.availability_during.unwrap_or(0.0) > 0.99,
        "the bridge node lets both halves reach 3 of 5 replicas"
    );
    assert_eq!(quorum.linearizability, "linearizable");
}

#[test]
fn raft_and_paxos_stay_linearizable_and_serve_only_the_majority_under_a_split() {
    for name in ["raft", "multi-paxos"] {
        for seed in 0..3 {
            let cp =
                measure(&store(name), shape("split"), 4, seed).unwrap_or_else(|e| panic!("{e}"));
            let eventual = measure(&store("eventual"), shape("split"), 4, seed)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(cp.linearizability, "linearizable", "{name} seed {seed}");
            let r = cp.availability_during.unwrap_or(1.0);
            assert!(
                r < 0.8,
                "{name} seed {seed}: the minority clients cannot reach a leader, got {r}"
            );
            assert!(
                eventual.availability_during.unwrap_or(0.0) > r,
                "{name} seed {seed}"
            );
        }
    }
}

/// Regression: availability over time counted each request at its
/// invocation, so a request sent just before the partition and cut off by
/// it made the curve dip before the partition began. Counted when its
/// outcome is known, nothing can be refused before the cut, and a CP
/// store's minority clients are refused within the partition's first
/// second.
#[test]
fn availability_over_time_is_full_before_the_partition_begins() {
    let (start_s, _) = faultline::cap::partition_window(4);
    for store in &stores() {
        for seed in 0..3 {
            let series =
                faultline::cap::availability_over_time(store, shape("split"), 4, seed, 1000)
                    .unwrap_or_else(|e| panic!("{e}"));
            for (t, share) in series.iter().filter(|(t, _)| t + 1.0 <= start_s) {
                assert!(
                    *share == 1.0,
                    "{} seed {seed}: {share} available in the second from {t}s, before the partition at {start_s}s",
                    store.name
                );
            }
            if !store.name.contains("CP") {
                continue;
            }
            let first = series.iter().find(|(t, _)| *t == start_s).map(|p| p.1);
            assert!(
                first.is_some_and(|s| s < 1.0),
                "{} seed {seed}: the partition's first second shows no refusal ({first:?})",
                store.name
            );
        }
    }
}

#[test]
fn the_registry_lists_the_four_stores_in_order() {
    let names: Vec<&str> = stores().iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "quorum (CP)",
            "eventual (AP)",
            "raft (CP)",
            "multi-paxos (CP)"
        ]
    );
}

/// `faultline consensus` through the binary: it writes its results and
/// charts, every store ran every condition, and bad arguments are exit 2.
#[test]
fn the_consensus_command_writes_its_report_and_refuses_zero_seeds() {
    let dir = common::temp_dir("consensus");
    let out = dir.display().to_string();
    let run = common::faultline(&[
        "consensus",
        "--seeds",
        "2",
        "--fault-secs",
        "2",
        "--out",
        &out,
    ]);
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    for file in [
        "results.json",
        "results.md",
        "availability.svg",
        "latency-and-recovery.svg",
    ] {
        assert!(dir.join(file).exists(), "{file} not written");
    }
    let text = std::fs::read_to_string(dir.join("results.json")).expect("results.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let summary = json["summary"].as_array().expect("a summary");
    // Four stores, each calm, across a leader crash and under four shapes.
    assert_eq!(summary.len(), 4 * 6);
    for s in summary {
        assert_eq!(s["runs"], 2, "{s}");
        assert_eq!(s["linearizable_share"], 1.0, "{s}");
    }
    let bad = common::faultline(&["consensus", "--seeds", "0", "--out", &out]);
    assert_eq!(bad.status.code(), Some(2));
}
