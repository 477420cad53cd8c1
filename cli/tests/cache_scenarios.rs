//! The cache-aside scenarios end as their `expect` says across a sweep of
//! seeds (CI runs 1,000 each) and show what their stories promise: the
//! race serves a value more stale than the TTL, leases refuse the stale
//! fill, leases and coalescing turn a stampede's burst of database reads
//! into one, and a crashed cache restarts cold without serving a stale fill.

mod common;

use common::{load, metric, scenario_text, sweep};
use faultline::run::{run, RunOptions};
use faultline::scenario::Scenario;

const SEEDS: u64 = 8;

#[test]
fn the_race_serves_a_value_more_stale_than_the_ttl() {
    let scenario = load("cache-race.toml");
    let r = run(&scenario, 1, RunOptions::default());
    let v = r.violations.iter().find(|v| v.check == "cache.staleness");
    let v = v.unwrap_or_else(|| panic!("seed 1 shows the race: {:?}", r.violations));
    assert!(
        v.message.contains("more stale than the 200ms bound"),
        "{}",
        v.message
    );
    assert!(metric(&r, "cache_worst_staleness_ns") > 200_000_000);
}

#[test]
fn leases_refuse_the_stale_fill() {
    let mut refused = 0;
    for r in sweep("cache-leases.toml", SEEDS) {
        assert!(
            metric(&r, "cache_worst_staleness_ns") <= 200_000_000,
            "seed {}",
            r.seed
        );
        refused += metric(&r, "cache_fills_refused");
    }
    assert!(refused > 0, "the race happened and its fill was refused");
}

/// The slowest successful read of a run.
fn slowest_read_ns(r: &faultline::sim::RunResult) -> u64 {
    r.history
        .iter()
        .filter(|op| op.f == "read" && op.outcome_name() == "ok")
        .filter_map(|op| op.latency_ns())
        .max()
        .unwrap_or(0)
}

#[test]
fn leases_and_coalescing_turn_a_stampede_into_one_database_read() {
    let leased = sweep("cache-stampede-leases.toml", SEEDS);
    let coalesced = sweep("cache-stampede-coalesced.toml", SEEDS);
    let stampedes = sweep("cache-stampede.toml", SEEDS);
    for ((burst, leased), coalesced) in stampedes.iter().zip(&leased).zip(&coalesced) {
        assert!(
            burst
                .violations
                .iter()
                .any(|v| v.identity() == "cache.db_load/stampede"),
            "seed {}: {:?}",
            burst.seed,
            burst.violations
        );
        let reads = |r: &faultline::sim::RunResult| metric(r, "cache_db_reads");
        for (name, cured) in [("leases", leased), ("coalescing", coalesced)] {
            assert!(
                reads(cured) * 10 < reads(burst),
                "seed {}: {} database reads with {name}, {} without",
                burst.seed,
                reads(cured),
                reads(burst)
            );
            assert!(
                reads(cured) <= 11,
                "seed {}: about one per expiry over 10 s with {name}, {}",
                burst.seed,
                reads(cured)
            );
            assert_eq!(metric(cured, "cache_stale_reads"), 0, "nothing writes");
        }
        // Held reads are answered with the fill; leased ones poll for it.
        assert!(
            slowest_read_ns(coalesced) < slowest_read_ns(leased),
            "seed {}: slowest read {} ns coalesced, {} ns leased",
            burst.seed,
            slowest_read_ns(coalesced),
            slowest_read_ns(leased)
        );
    }
}

#[test]
fn a_cache_that_crashes_restarts_cold_and_refuses_fills_from_before() {
    let mut refused = 0;
    for r in sweep("cache-crash.toml", SEEDS) {
        assert!(
            metric(&r, "cache_worst_staleness_ns") <= 200_000_000,
            "seed {}",
            r.seed
        );
        assert!(
            r.history.iter().any(|op| op.outcome_name() == "fail"),
            "seed {}: reads sent while the cache is down time out",
            r.seed
        );
        refused += metric(&r, "cache_fills_refused");
    }
    assert!(
        refused > 0,
        "fills were refused (the race's, and those read before a restart)"
    );
}

#[test]
fn update_on_write_has_its_race_and_versioned_sets_fix_both() {
    let r = run(&load("cache-update-race.toml"), 1, RunOptions::default());
    assert!(
        r.violations.iter().any(|v| v.check == "cache.staleness"),
        "{:?}",
        r.violations
    );
    let mut refused = 0;
    for r in sweep("cache-versioned.toml", SEEDS) {
        assert!(
            metric(&r, "cache_worst_staleness_ns") <= 200_000_000,
            "seed {}",
            r.seed
        );
        refused += metric(&r, "cache_older_refused");
    }
    assert!(refused > 0, "the race happened and its fill was refused");
    let update = scenario_text("cache-versioned.toml").replace(
        "versioned = true",
        "versioned = true\non_write = \"update\"",
    );
    let update =
        Scenario::parse(&update, "versioned-update.toml").unwrap_or_else(|e| panic!("{e}"));
    for seed in 0..SEEDS {
        let r = run(&update, seed, RunOptions::default());
        assert!(r.violations.is_empty(), "seed {seed}: {:?}", r.violations);
    }
}
