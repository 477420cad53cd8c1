//! The Multi-Paxos scenarios end as their `expect` says across a sweep of
//! seeds (CI runs 1,000 each) and show what their stories promise: one
//! leader on a calm network; takeovers under leader crashes; proposers
//! without backoff dueling forever (nothing chosen) and with it
//! converging; acceptor crashes that lose no promise; learners behind a
//! snapshot catching up from it.

mod common;

use common::{metric, sweep};
use faultline::sim::RunResult;

const SEEDS: u64 = 6;

fn held(r: &RunResult) -> bool {
    r.violations.is_empty()
}

#[test]
fn on_a_calm_network_one_leader_chooses_every_command() {
    for r in sweep("paxos-calm.toml", SEEDS) {
        assert!(held(&r), "seed {}: {:?}", r.seed, r.violations);
        assert_eq!(metric(&r, "paxos_elections"), 1, "seed {}", r.seed);
        assert!(metric(&r, "paxos_chosen") > 100, "seed {}", r.seed);
        assert_eq!(metric(&r, "paxos_noops"), 0, "seed {}", r.seed);
    }
}

#[test]
fn leader_crashes_bring_takeovers_that_keep_every_chosen_value() {
    for r in sweep("paxos-leader-crashes.toml", SEEDS) {
        assert!(held(&r), "seed {}: {:?}", r.seed, r.violations);
        assert!(metric(&r, "paxos_elections") > 5, "seed {}", r.seed);
    }
}

#[test]
fn proposers_without_backoff_duel_forever_and_with_it_one_wins() {
    for r in sweep("paxos-dueling-proposers.toml", SEEDS) {
        let liveness: Vec<_> = r
            .violations
            .iter()
            .filter(|v| v.check == "paxos.liveness")
            .collect();
        assert!(!liveness.is_empty(), "seed {}", r.seed);
        assert!(
            r.violations.iter().all(|v| v.check == "paxos.liveness"),
            "dueling is safe: seed {}: {:?}",
            r.seed,
            r.violations
        );
        assert_eq!(metric(&r, "paxos_chosen"), 0, "seed {}", r.seed);
        assert!(metric(&r, "paxos_max_round") > 20, "seed {}", r.seed);
    }
    for r in sweep("paxos-dueling-backoff.toml", SEEDS) {
        assert!(held(&r), "seed {}: {:?}", r.seed, r.violations);
        assert!(metric(&r, "paxos_chosen") > 0, "seed {}", r.seed);
    }
}

#[test]
fn acceptors_that_crash_keep_their_promises() {
    for r in sweep("paxos-acceptor-crashes.toml", SEEDS) {
        assert!(held(&r), "seed {}: {:?}", r.seed, r.violations);
        assert!(metric(&r, "paxos_chosen") > 0, "seed {}", r.seed);
    }
}

#[test]
fn learners_behind_a_snapshot_catch_up_from_it() {
    for r in sweep("paxos-snapshots.toml", SEEDS) {
        assert!(held(&r), "seed {}: {:?}", r.seed, r.violations);
        assert!(metric(&r, "paxos_snapshots_taken") > 0, "seed {}", r.seed);
        assert!(
            metric(&r, "paxos_snapshots_installed_by_learners") > 0,
            "seed {}",
            r.seed
        );
    }
}

#[test]
fn a_bridge_partition_keeps_the_first_leader() {
    // Servers cut off from the leader probe, and servers that hear it say
    // no: one election in the run, as Raft with PreVote and CheckQuorum.
    for r in sweep("paxos-bridge-partition.toml", SEEDS) {
        assert!(held(&r), "seed {}: {:?}", r.seed, r.violations);
        assert_eq!(metric(&r, "paxos_elections"), 1, "seed {}", r.seed);
    }
}
