//! Every shipped 2PC scenario ends as its `[checks] expect` says across a
//! sweep of seeds, the crash scenarios hit the protocol moment their file
//! describes, and the deliberate bug `commit-on-first-yes` is caught.

use faultline::run::{run, RunOptions};
use faultline::scenario::Scenario;
mod common;

use common::{metric, scenario_path, sweep};

const SEEDS: u64 = 20;

fn patched(file: &str, section: &str, line: &str) -> Scenario {
    let path = scenario_path(file);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let text = if text.contains(section) {
        text.replace(section, &format!("{section}\n{line}"))
    } else {
        format!("{text}\n{section}\n{line}\n")
    };
    Scenario::parse(&text, file).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn calm_commits_most_and_blocks_briefly() {
    for r in sweep("2pc-calm.toml", SEEDS) {
        assert!(metric(&r, "commits") > 10 * metric(&r, "aborts").max(1) / 2);
        assert!(
            metric(&r, "blocking_ns_max") < 200_000_000,
            "seed {}",
            r.seed
        );
    }
}

#[test]
fn vote_no_aborts_everything_it_touches() {
    for r in sweep("2pc-vote-no.toml", SEEDS) {
        assert!(
            metric(&r, "aborts") > metric(&r, "commits"),
            "seed {}",
            r.seed
        );
        assert!(metric(&r, "commits") > 0);
    }
}

/// The crash lands after both PREPAREDs and before any decision: the first
/// transaction is never decided by the coordinator, and the participants
/// stay in doubt about as long as the coordinator is down (3 s).
#[test]
fn coordinator_crash_before_decision_blocks_then_presumes_abort() {
    for r in sweep("2pc-coordinator-crash-before-decision.toml", SEEDS) {
        assert!(
            metric(&r, "undecided_by_coordinator") >= 1,
            "seed {}",
            r.seed
        );
        let blocking = metric(&r, "blocking_ns_max");
        assert!(
            (2_900_000_000..3_400_000_000).contains(&blocking),
            "seed {} blocked {blocking} ns",
            r.seed
        );
        assert!(
            r.history.iter().any(|l| l.outcome_name() == "info"),
            "the first transfer's outcome is unknown to its client"
        );
    }
}

/// COMMIT reaches node 1 only; node 2 blocks until the coordinator is back.
#[test]
fn coordinator_crash_after_commit_blocks_the_participant_left_out() {
    for r in sweep("2pc-coordinator-crash-after-commit.toml", SEEDS) {
        assert!(metric(&r, "commits") >= 1);
        assert_eq!(
            metric(&r, "coordinator_crashes_mid_commit"),
            1,
            "seed {}",
            r.seed
        );
        let blocking = metric(&r, "blocking_ns_max");
        assert!(
            (2_900_000_000..3_400_000_000).contains(&blocking),
            "seed {} blocked {blocking} ns",
            r.seed
        );
    }
}

/// With cooperative termination node 2 learns COMMIT from node 1 instead.
#[test]
fn cooperative_termination_ends_the_blocking_early() {
    let scenario = {
        let path = scenario_path("2pc-coordinator-crash-after-commit.toml");
        let text = std::fs::read_to_string(path)
            .unwrap_or_default()
            .replace("cooperative = false", "cooperative = true");
        Scenario::parse(&text, "cooperative").unwrap_or_else(|e| panic!("{e}"))
    };
    for seed in 0..SEEDS {
        let r = run(&scenario, seed, RunOptions::default());
        assert!(r.violations.is_empty(), "{:?}", r.violations);
        assert!(metric(&r, "blocking_ns_max") < 500_000_000, "seed {seed}");
    }
}

#[test]
fn participant_crash_after_prepared_recovers_in_doubt() {
    for r in sweep("2pc-participant-crash-prepared.toml", SEEDS) {
        let blocking = metric(&r, "blocking_ns_max");
        assert!(
            blocking >= 1_900_000_000,
            "seed {} blocked only {blocking} ns",
            r.seed
        );
        assert!(metric(&r, "commits") >= 1);
    }
}

#[test]
fn lossy_network_with_crashes() {
    for r in sweep("2pc-lossy.toml", 8) {
        assert!(metric(&r, "commits") > 0, "seed {}", r.seed);
    }
}

/// Mutation check: committing on the first yes vote is caught, fast.
#[test]
fn commit_on_first_yes_is_caught() {
    let scenario = patched("2pc-calm.toml", "[twopc]", "bug = \"commit-on-first-yes\"");
    for seed in 0..5 {
        let r = run(&scenario, seed, RunOptions::default());
        assert!(
            r.violations
                .iter()
                .any(|v| v.check == "twopc.unanimous-commit"),
            "seed {seed}: {:?}",
            r.violations
        );
    }
}

/// The ACID side of the ACID vs BASE pair: 2PC blocks under both faults.
#[test]
fn acid_side_of_the_comparison() {
    for file in ["acid-2pc-partition.toml", "acid-2pc-coordinator-crash.toml"] {
        for r in sweep(file, 8) {
            assert!(metric(&r, "blocking_ns_max") > 0, "{file} seed {}", r.seed);
        }
    }
}

/// Strict two-phase locking is strictly serializable: on 500 seeds of
/// transfers and audits over a faulty network, `twopc.serializable` holds
/// (the sweep fails on any violation) and judged real work.
#[test]
fn audits_and_transfers_are_strictly_serializable_on_500_seeds() {
    for r in sweep("2pc-audits.toml", 500) {
        assert_eq!(r.metrics["isolation"], "held", "seed {}", r.seed);
        assert!(metric(&r, "isolation_steps") > 0, "seed {}", r.seed);
    }
}

/// The planted isolation bugs each fail `twopc.serializable` with the
/// anomaly they cause, within 1,000 seeds, while the bank's own checks
/// (atomicity, conservation) hold.
#[test]
fn planted_isolation_bugs_are_named_anomalies() {
    for (bug, anomaly) in [
        ("release-locks-at-prepare", "lost-update"),
        ("dirty-audits", "G1a"),
    ] {
        let scenario = patched("2pc-audits.toml", "[twopc]", &format!("bug = \"{bug}\""));
        let caught = (0..1000).find_map(|seed| {
            let r = run(&scenario, seed, RunOptions::default());
            let v = r
                .violations
                .iter()
                .find(|v| v.check == "twopc.serializable")?;
            Some((seed, v.kind.clone(), r.violations.len()))
        });
        let Some((seed, kind, violations)) = caught else {
            panic!("{bug}: not caught in 1,000 seeds")
        };
        assert_eq!(kind.as_deref(), Some(anomaly), "{bug} seed {seed}");
        assert_eq!(
            violations, 1,
            "{bug} seed {seed}: only the isolation check fails"
        );
    }
}
