//! The log scenarios end as their `expect` says across a sweep of seeds
//! (CI runs 1,000 each) and show what their stories promise: `acks = 1`
//! loses acknowledged writes on a leader change and `acks = "all"` does
//! not; an unclean election loses them and a clean one waits; consumers
//! committing before processing skip records, after it apply some twice,
//! with the effect neither; a producer without idempotence writes a
//! retried send twice; an event-sourced projection rebuilt from its
//! snapshot is the log's fold, unless consumers replay apart from it.

mod common;

use common::{metric, sweep};
use faultline::sim::RunResult;

const SEEDS: u64 = 6;

fn violated(r: &RunResult, check: &str) -> bool {
    r.violations.iter().any(|v| v.check == check)
}

#[test]
fn with_nothing_going_wrong_every_send_is_committed_and_applied_once() {
    for r in sweep("log-calm.toml", SEEDS) {
        let acked = metric(&r, "log_acknowledged");
        assert!(acked > 0, "seed {}", r.seed);
        assert_eq!(metric(&r, "log_records"), acked, "seed {}", r.seed);
        assert_eq!(metric(&r, "log_applied"), acked, "seed {}", r.seed);
        assert_eq!(metric(&r, "log_elections"), 0, "seed {}", r.seed);
    }
}

#[test]
fn acks_1_loses_acknowledged_writes_to_a_leader_change_and_acks_all_does_not() {
    for r in sweep("log-acks-1-leader-crash.toml", SEEDS) {
        assert!(
            violated(&r, "log.lost"),
            "seed {}: {:?}",
            r.seed,
            r.violations
        );
        assert!(
            metric(&r, "log_truncated") > 0,
            "the old leader cut its log"
        );
    }
    for r in sweep("log-acks-all-leader-crash.toml", SEEDS) {
        assert!(metric(&r, "log_elections") > 0, "seed {}", r.seed);
        assert_eq!(metric(&r, "log_truncated_committed"), 0, "seed {}", r.seed);
    }
}

#[test]
fn an_unclean_election_loses_writes_and_a_clean_one_waits_for_the_last_in_sync_replica() {
    for r in sweep("log-unclean-election.toml", SEEDS) {
        assert!(metric(&r, "log_unclean_elections") > 0, "seed {}", r.seed);
        assert!(violated(&r, "log.lost"), "seed {}", r.seed);
        let inconsistent = r
            .violations
            .iter()
            .any(|v| v.kind.as_deref() == Some("inconsistent-offsets"));
        assert!(inconsistent, "consumers read other values at those offsets");
    }
    for r in sweep("log-clean-election-waits.toml", SEEDS) {
        assert_eq!(metric(&r, "log_unclean_elections"), 0);
        assert_eq!(metric(&r, "log_lost"), 0);
    }
}

#[test]
fn committing_before_skips_after_duplicates_and_with_the_effect_neither() {
    let skipped: u64 = sweep("log-consumer-commit-before.toml", SEEDS)
        .iter()
        .map(|r| metric(r, "log_skipped"))
        .sum();
    assert!(skipped > 0);
    for r in sweep("log-consumer-commit-after.toml", SEEDS) {
        assert!(violated(&r, "log.duplicate-effects"), "seed {}", r.seed);
    }
    let mut deduplicated = 0;
    for r in sweep("log-exactly-once.toml", SEEDS) {
        assert_eq!(metric(&r, "log_duplicate_effects"), 0, "seed {}", r.seed);
        assert_eq!(metric(&r, "log_duplicate_writes"), 0, "seed {}", r.seed);
        deduplicated += metric(&r, "log_deduplicated");
    }
    assert!(deduplicated > 0, "the sink skipped batches applied before");
}

#[test]
fn a_producer_without_idempotence_appends_a_retried_send_twice() {
    for r in sweep("log-producer-retries.toml", SEEDS) {
        assert!(violated(&r, "log.duplicate-effects"), "seed {}", r.seed);
    }
}

#[test]
fn a_projection_rebuilt_from_its_snapshot_is_the_logs_fold_unless_consumers_replay_apart() {
    let mut rewound = 0;
    for r in sweep("log-event-sourcing.toml", SEEDS) {
        assert_eq!(metric(&r, "log_duplicate_effects"), 0, "seed {}", r.seed);
        assert!(
            r.faults
                .iter()
                .any(|f| format!("{f:?}").contains("crash n4")),
            "the sink crashed"
        );
        rewound += metric(&r, "log_deduplicated");
    }
    assert!(rewound > 0, "consumers replayed what the sink already had");
    for r in sweep("log-event-sourcing-double-count.toml", SEEDS) {
        assert!(
            violated(&r, "log.projection"),
            "seed {}: {:?}",
            r.seed,
            r.violations
        );
    }
}

#[test]
fn windows_count_late_events_or_drop_them_exactly_once_unless_consumers_replay_apart() {
    let (mut late, mut dropped) = (0, 0);
    for r in sweep("stream-windows-late-events.toml", SEEDS) {
        let events = metric(&r, "log_window_events");
        assert!(events > 0, "seed {}", r.seed);
        assert_eq!(
            metric(&r, "log_window_counted") + metric(&r, "log_window_dropped"),
            events,
            "seed {}",
            r.seed
        );
        late += metric(&r, "log_window_late");
        dropped += metric(&r, "log_window_dropped");
    }
    assert!(late > 0 && dropped > 0, "{late} late, {dropped} dropped");
    for r in sweep("stream-windows-at-least-once.toml", SEEDS) {
        assert!(
            violated(&r, "log.windows"),
            "seed {}: {:?}",
            r.seed,
            r.violations
        );
    }
}

#[test]
fn a_crashing_controller_stalls_leadership_changes_but_loses_nothing() {
    for r in sweep("log-controller-crash.toml", SEEDS) {
        assert!(
            r.faults
                .iter()
                .any(|f| format!("{f:?}").contains("crash n3")),
            "seed {}: the controller crashed",
            r.seed
        );
        assert!(metric(&r, "log_elections") > 0, "seed {}", r.seed);
        assert_eq!(metric(&r, "log_lost"), 0, "seed {}", r.seed);
    }
}

#[test]
fn a_crashed_consumers_partitions_move_to_the_other_until_it_rejoins() {
    for r in sweep("log-consumer-failover.toml", SEEDS) {
        assert!(
            metric(&r, "log_group_generations") >= 3,
            "seed {}: the start, its lapse, its return",
            r.seed
        );
        assert_eq!(metric(&r, "log_skipped"), 0, "seed {}", r.seed);
    }
}
