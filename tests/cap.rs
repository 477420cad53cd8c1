//! The CAP experiment's numbers, asserted qualitatively across seeds: under
//! a majority/minority split with clients on both sides, the eventually
//! consistent store answers more requests than the quorum store and Raft
//! and is not linearizable, while the quorum store and Raft stay
//! linearizable (and leave the minority side unserved).

use faultline::cap::{measure, SHAPES, STORES};

fn store(name: &str) -> &'static faultline::cap::StoreSpec {
    STORES
        .iter()
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
            measure(store("quorum"), shape("split"), 4, seed).unwrap_or_else(|e| panic!("{e}"));
        let eventual =
            measure(store("eventual"), shape("split"), 4, seed).unwrap_or_else(|e| panic!("{e}"));
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
        let row = measure(store(s), shape("none"), 0, 1).unwrap_or_else(|e| panic!("{e}"));
        assert!(row.availability > 0.99, "{s}: {}", row.availability);
    }
}

#[test]
fn a_bridge_keeps_a_majority_for_everyone() {
    let quorum = measure(store("quorum"), shape("bridge"), 4, 2).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        quorum.availability_during.unwrap_or(0.0) > 0.99,
        "the bridge node lets both halves reach 3 of 5 replicas"
    );
    assert_eq!(quorum.linearizability, "linearizable");
}

#[test]
fn raft_stays_linearizable_and_serves_only_the_majority_under_a_split() {
    for seed in 0..3 {
        let raft =
            measure(store("raft"), shape("split"), 4, seed).unwrap_or_else(|e| panic!("{e}"));
        let eventual =
            measure(store("eventual"), shape("split"), 4, seed).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(raft.linearizability, "linearizable", "seed {seed}");
        let r = raft.availability_during.unwrap_or(1.0);
        assert!(
            r < 0.8,
            "seed {seed}: Raft's minority clients cannot reach a leader, got {r}"
        );
        assert!(
            eventual.availability_during.unwrap_or(0.0) > r,
            "seed {seed}"
        );
    }
}
