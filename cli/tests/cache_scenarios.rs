//! The cache-aside scenarios end as their `expect` says across a sweep of
//! seeds (CI runs 1,000 each) and show what their stories promise: the
//! race serves a value more stale than the TTL, leases refuse the stale
//! fill, and leases turn a stampede's burst of database reads into one.

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

#[test]
fn leases_coalesce_a_stampede() {
    let with_leases = scenario_text("cache-stampede.toml")
        .replace("read_share = 1.0", "read_share = 1.0\nleases = true");
    let leased =
        Scenario::parse(&with_leases, "stampede-leases.toml").unwrap_or_else(|e| panic!("{e}"));
    for r in sweep("cache-stampede.toml", SEEDS) {
        let coalesced = run(&leased, r.seed, RunOptions::default());
        let (burst, one) = (
            metric(&r, "cache_db_reads"),
            metric(&coalesced, "cache_db_reads"),
        );
        assert!(
            one * 10 < burst,
            "seed {}: {one} database reads with leases, {burst} without",
            r.seed
        );
        assert!(
            one <= 11,
            "seed {}: about one per expiry over 10 s, {one}",
            r.seed
        );
        assert_eq!(metric(&r, "cache_stale_reads"), 0, "nothing writes");
    }
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
