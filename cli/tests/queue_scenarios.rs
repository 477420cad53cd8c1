//! The queue scenarios end as their `expect` says across a sweep of seeds
//! (CI runs 1,000 each) and show what their stories promise: crashing
//! consumers apply a message twice unless the sink deduplicates,
//! acknowledging before processing loses messages, and a broker that does
//! not sync before acknowledging loses them in a crash, one that does not.

mod common;

use common::{load, metric, sweep};
use faultline::run::{run, RunOptions};
use faultline::scenario::Scenario;

const SEEDS: u64 = 8;

#[test]
fn with_nothing_going_wrong_every_message_takes_effect_once() {
    for r in sweep("queue-calm.toml", SEEDS) {
        assert!(
            r.metrics.contains_key("queue_acknowledged"),
            "judged at the end"
        );
        assert_eq!(metric(&r, "queue_lost"), 0);
        assert_eq!(metric(&r, "queue_duplicates"), 0);
        assert_eq!(metric(&r, "queue_redeliveries"), 0, "seed {}", r.seed);
        assert_eq!(
            metric(&r, "queue_applied"),
            metric(&r, "queue_acknowledged"),
            "seed {}",
            r.seed
        );
    }
}

#[test]
fn crashing_consumers_apply_twice_unless_the_sink_deduplicates() {
    for r in sweep("queue-consumer-crashes.toml", SEEDS) {
        assert!(
            r.violations.iter().any(|v| v.check == "queue.duplicates"),
            "seed {}: {:?}",
            r.seed,
            r.violations
        );
    }
    let (mut redelivered, mut skipped) = (0, 0);
    for r in sweep("queue-idempotent-consumer.toml", SEEDS) {
        assert_eq!(metric(&r, "queue_duplicates"), 0, "seed {}", r.seed);
        assert_eq!(metric(&r, "queue_lost"), 0, "seed {}", r.seed);
        redelivered += metric(&r, "queue_redeliveries");
        skipped += metric(&r, "queue_deduplicated");
    }
    assert!(
        redelivered > 0 && skipped > 0,
        "{redelivered} redeliveries, {skipped} skipped"
    );
}

#[test]
fn acknowledging_before_processing_loses_what_a_crash_interrupts() {
    for r in sweep("queue-ack-before-processing.toml", SEEDS) {
        assert!(metric(&r, "queue_lost") > 0, "seed {}", r.seed);
        assert_eq!(
            metric(&r, "queue_duplicates"),
            0,
            "acknowledged on arrival, nothing takes effect twice: seed {}",
            r.seed
        );
    }
}

#[test]
fn a_broker_that_syncs_loses_nothing_in_a_crash_and_one_that_does_not_does() {
    let mut redelivered = 0;
    for r in sweep("queue-broker-crash.toml", SEEDS) {
        assert_eq!(metric(&r, "queue_lost"), 0, "seed {}", r.seed);
        redelivered += metric(&r, "queue_redeliveries");
    }
    assert!(redelivered > 0, "what was in flight is delivered again");
    let lazy = load("queue-broker-no-sync.toml");
    let losing = (0..SEEDS)
        .filter(|&seed| {
            let r = run(&lazy, seed, RunOptions::default());
            r.violations.iter().any(|v| v.check == "queue.lost")
        })
        .count();
    assert!(
        losing >= 6,
        "{losing} of {SEEDS} seeds lost acknowledged sends"
    );
}

#[test]
fn a_queue_needs_a_broker_a_sink_a_consumer_and_a_producer() {
    let text = common::scenario_text("queue-calm.toml");
    let few = text.replace("nodes = 5", "nodes = 2");
    let err = Scenario::parse(&few, "few.toml")
        .err()
        .map(|e| e.to_string());
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("at least 3 nodes")),
        "{err:?}"
    );
    let silent = text.replace("clients = 4", "clients = 0");
    let err = Scenario::parse(&silent, "silent.toml")
        .err()
        .map(|e| e.to_string());
    assert!(
        err.as_deref().is_some_and(|e| e.contains("producers")),
        "{err:?}"
    );
}

#[test]
fn a_poison_message_loops_forever_unless_it_is_dead_lettered() {
    for r in sweep("queue-poison-loop.toml", SEEDS) {
        assert!(metric(&r, "queue_still_queued") > 0, "seed {}", r.seed);
        assert_eq!(
            metric(&r, "queue_lost"),
            0,
            "queued is not lost: seed {}",
            r.seed
        );
        assert!(
            metric(&r, "queue_redeliveries") > 1000,
            "seed {}: a redelivery storm",
            r.seed
        );
    }
    for r in sweep("queue-dead-letter.toml", SEEDS) {
        assert!(metric(&r, "queue_dead_lettered") > 0, "seed {}", r.seed);
        assert_eq!(metric(&r, "queue_lost"), 0, "seed {}", r.seed);
    }
}
